"""The Redis ACL shipped in config/redis-acl.conf.

hotlined logs in as the restricted user `hotlined` on every connection of
every link (CLIENT LIST shows nothing else), and works normally under it:
AUTH, POP, a call's and a complaint's life, TAIL, QUEUE, STATS (with the
persistence settings), idempotent retries, and the spool replayed after a
kill -9 of Redis (both links log in again).  The same user gets NOPERM for
every way to destroy or rewrite the log streams: XDEL, XTRIM, DEL, UNLINK,
EXPIRE and its kin, RENAME, SET, RESTORE, COPY, MOVE, XSETID, XGROUP,
FLUSHALL/FLUSHDB, CONFIG SET, SCRIPT FLUSH, and all of them again from
inside EVAL; the streams are unchanged afterwards.  XADD with MAXLEN/MINID
is the one thing an ACL cannot refuse (it checks commands and keys, not
arguments): that test proves it goes through, and that `hotline verify`
reports the trimmed stream.  `hotline-admin` imports customers and cannot
destroy the log either; `hotlined` cannot write customer records.  The file
as shipped lets nobody in.  A refused login is logged (without the
password), retried, and the link comes up once the ACL is fixed, without a
restart."""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
P = "hotline:"
CALLS = P + "log:calls"
COMPLAINTS = P + "log:complaints"
AOF = ["--appendonly", "yes", "--appendfsync", "always"]
SCRIPT_REFUSED = re.compile(r"NOPERM|The user executing the script can't (run this command|access)")


def setUpModule():
    global H
    H = harness.module_harness("redis-acl")


def login_config(user="hotlined"):
    return {"redis": dict(harness.redis_login(user), reconnect_min_ms=50, reconnect_max_ms=300)}


def as_user(redis, user):
    """A RespClient logged in as user."""
    c = redis.client()
    c.command("AUTH", user, harness.REDIS_PASSWORDS[user])
    return c


def refused(reply):
    return isinstance(reply, harness.RedisError) and str(reply).startswith("NOPERM")


def script_refused(reply):
    return isinstance(reply, harness.RedisError) and SCRIPT_REFUSED.search(str(reply)) is not None


def daemon_clients(r):
    """CLIENT LIST lines of every connection but r's own."""
    me = r.command("CLIENT", "ID")
    lines = r.command("CLIENT", "LIST").decode().splitlines()
    return [l for l in lines if not l.startswith(f"id={me} ")]


def stream_snapshot(r):
    return {k: (r.command("XLEN", k), r.command("XRANGE", k, "-", "+")) for k in (CALLS, COMPLAINTS)}


class AclDaemonTest(harness.RedisOutageMixin, harness.TestCase):
    """One daemon as hotlined on a Redis with the ACL and AOF."""

    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis(extra_args=AOF, acl=True)
        cls.daemon = H.start_daemon(cls.redis.address, phone={"default_country": "86"}, **login_config())
        cls.addClassCleanup(cls.daemon.stop)
        with cls.redis.client() as r:
            harness.put_customer(r, "CA1", "Acl Customer", phones=["+8613800138001"], accounts=["ACA1"],
                                 tier="gold", status="active")
        cls.seq = 0

    def setUp(self):
        # A previous test may have left Redis down or the link reconnecting.
        if not self.redis.running():
            self.redis.restart()
        sup = self.connect_auth("super1")
        harness.wait_until(lambda: harness.stats(sup)["redis"]["state"] == "up", what="redis link up")

    def new_id(self, tag):
        type(self).seq += 1
        return f"acl-{tag}-{self.seq}"

    def call_life(self, agent):
        cid = self.new_id("call")
        for event, extra in (("offer", {"queue": "q", "phone": "13800138001", "request_id": "r-" + cid}),
                             ("answer", {}), ("hold", {}), ("resume", {}),
                             ("end", {"disposition": "resolved", "csat": 4})):
            body = harness.parse_ok_json(agent.request(f"CALL {event} " + json.dumps({"call_id": cid, **extra})))
            self.assertEqual(body["call_id"], cid)
        # an idempotent retry is answered from Redis, not logged twice
        again = harness.parse_ok_json(agent.request("CALL offer " + json.dumps(
            {"call_id": cid, "queue": "q", "phone": "13800138001", "request_id": "r-" + cid})))
        self.assertIs(again.get("duplicate"), True)
        return cid

    def complaint_life(self, agent):
        """Every event of a complaint's life, escalation by a supervisor included."""
        sup = self.connect_auth("super1")
        body = harness.parse_ok_json(agent.request("COMPLAINT open " + json.dumps(
            {"customer_id": "CA1", "category": "billing", "severity": "high", "summary": "acl test"})))
        kid = body["complaint_id"]
        steps = ((agent, "ack", {}), (agent, "progress", {"note": "looking"}), (agent, "wait", {}),
                 (sup, "escalate", {}), (agent, "resume", {}), (agent, "resolve", {"resolution": "done"}),
                 (sup, "reopen", {}), (agent, "resolve", {"resolution": "done again"}), (agent, "close", {}))
        for who, action, extra in steps:
            harness.parse_ok_json(who.request(f"COMPLAINT {action} " + json.dumps({"complaint_id": kid, **extra})))
        got = harness.parse_ok_json(agent.request("COMPLAINT get " + json.dumps({"complaint_id": kid})))
        self.assertEqual(got["complaint"]["state"], "closed", got)
        self.assertEqual(len(got["history"]), 1 + len(steps))
        return kid

    # ------------------------------------------------------------------ identity
    def test_every_daemon_connection_is_hotlined(self):
        with self.redis.client() as r:
            def both_links():
                lines = daemon_clients(r)
                return lines if len(lines) >= 2 else None
            lines = harness.wait_until(both_links, what="the main and tail links")
            users = sorted(re.search(r" user=(\S+)", l).group(1) for l in lines)
            self.assertEqual(users, ["hotlined"] * len(lines), lines)
        self.assertIsNone(self.daemon.find_log(re.escape(harness.REDIS_PASSWORDS["hotlined"])),
                          "the Redis password appears in the daemon's log")

    # ------------------------------------------------------------ normal work
    def test_daemon_works_normally_under_the_acl(self):
        sup = self.connect_auth("super1")
        self.assertEqual(harness.parse_ok_json(sup.request("TAIL calls"))["stream"], "calls")
        self.assertEqual(harness.parse_ok_json(sup.request("TAIL complaints"))["stream"], "complaints")
        agent = self.connect_auth("agent1")
        pop = harness.parse_ok_json(agent.request('POP {"phone":"+86 138 0013 8001","call_id":"acl-pop-1"}'))
        self.assertEqual(pop["customer"]["id"], "CA1")
        self.assertEqual(harness.parse_ok_json(agent.request('POP {"account":"ACA1"}'))["customer"]["id"], "CA1")
        cid = self.call_life(agent)
        kid = self.complaint_life(agent)
        harness.parse_ok_json(agent.request("COMPLAINT list {}"))
        harness.parse_ok_json(sup.request("QUEUE"))
        persistence = harness.stats(sup)["redis"]["persistence"]
        self.assertEqual(persistence["appendonly"], "yes", "CONFIG GET is allowed to hotlined")

        def tailed():
            while sup.pending(0.05):
                sup.read_line()
            calls = [l for l in sup.pushes if l.startswith("* calls ") and cid in l]
            complaints = [l for l in sup.pushes if l.startswith("* complaints ") and kid in l]
            return (calls, complaints) if len(calls) >= 5 and len(complaints) >= 5 else None
        harness.wait_until(tailed, what="the call and the complaint on the live tails")
        self.assertIsNone(self.daemon.find_log(r"NOPERM|refused an append|refused the login"),
                          "the daemon lacked a permission (fix config/redis-acl.conf)")
        verified = harness.hotline_verify(self.daemon)  # as hotlined, from the daemon's config
        if verified is not None:
            self.assertEqual(verified, (0, []))

    def test_spool_replay_after_a_redis_restart(self):
        agent = self.connect_auth("agent1")
        before = self.new_id("spool")
        harness.parse_ok_json(agent.request("CALL offer " + json.dumps({"call_id": before, "queue": "q"})))
        sup = self.connect_auth("super1")
        harness.parse_ok_json(sup.request("TAIL calls"))
        self.outage()
        reply = agent.request("CALL answer " + json.dumps({"call_id": before}))
        outcome = self.spooled_or_unavailable(reply)
        mark = self.daemon.log_mark()
        self.back()
        # both links logged in again
        self.daemon.wait_log(r"redis link up: main", since=mark)
        self.daemon.wait_log(r"redis link up: tail", since=mark)
        if outcome == "unavailable":
            harness.parse_ok_json(agent.request("CALL answer " + json.dumps({"call_id": before})))

        def logged():
            with self.redis.client() as r:
                got = [(e["event"], e["call_id"]) for e in harness.stream_entries(r, CALLS) if e["call_id"] == before]
            return got if len(got) >= 2 else None
        self.assertEqual(harness.wait_until(logged, what="the spooled answer replayed"),
                         [("offer", before), ("answer", before)])
        def tailed():
            while sup.pending(0.05):
                sup.read_line()
            return any(before in l and '"answer"' in l for l in sup.pushes)
        harness.wait_until(tailed, what="the replayed answer on the live tail (its link logged in again)")
        with self.redis.client() as r:
            lines = daemon_clients(r)
            self.assertTrue(lines and all(" user=hotlined " in l for l in lines), lines)
        self.assertIsNone(self.daemon.find_log(r"NOPERM|refused an append"))

    # ------------------------------------------------------- what it cannot do
    def test_hotlined_cannot_destroy_the_log(self):
        agent = self.connect_auth("agent1")
        self.call_life(agent)
        self.complaint_life(agent)
        with self.redis.client() as admin:
            first = admin.command("XRANGE", CALLS, "-", "+", "COUNT", 1)[0][0].decode()
            admin.command("XGROUP", "CREATE", COMPLAINTS, "acl-group", "$")
            dump = admin.command("DUMP", CALLS)
            admin.command("SET", P + "call:acl-scratch-string", "x")
            before = stream_snapshot(admin)
        attempts = []
        for key in (CALLS, COMPLAINTS):
            attempts += [
                ("XDEL", key, first), ("XTRIM", key, "MAXLEN", 0), ("XTRIM", key, "MINID", "999999999999999"),
                ("DEL", key), ("UNLINK", key), ("EXPIRE", key, 1), ("PEXPIRE", key, 1),
                ("EXPIREAT", key, 1), ("PEXPIREAT", key, 1), ("PERSIST", key),
                ("RENAME", key, P + "call:stolen"), ("RENAMENX", key, P + "call:stolen"),
                ("SET", key, "gone"), ("GETDEL", key), ("RESTORE", key, 0, dump, "REPLACE"),
                ("COPY", P + "call:acl-scratch-string", key, "REPLACE"), ("MOVE", key, 1),
                ("XSETID", key, "99999999999999-0"), ("XGROUP", "DESTROY", key, "acl-group"),
                ("XGROUP", "CREATE", key, "g2", "$"), ("SORT", P + "call:x", "STORE", key),
                ("LPUSH", key, "x"), ("HSET", key, "f", "v"),
            ]
        attempts += [("FLUSHALL",), ("FLUSHDB",), ("SWAPDB", 0, 1), ("CONFIG", "SET", "appendonly", "no"),
                     ("SCRIPT", "FLUSH"), ("FUNCTION", "FLUSH"), ("ACL", "SETUSER", "hotlined", "+@all", "~*"),
                     ("SHUTDOWN", "NOSAVE"), ("MIGRATE", "127.0.0.1", 1, CALLS, 0, 10)]
        scripts = []
        for key in (CALLS, COMPLAINTS):
            for body in ("redis.call('DEL', KEYS[1])", "redis.call('UNLINK', KEYS[1])",
                         f"redis.call('XDEL', KEYS[1], '{first}')", "redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)",
                         "redis.call('EXPIRE', KEYS[1], 1)", "redis.call('RENAME', KEYS[1], KEYS[1] .. 'x')",
                         "redis.call('SET', KEYS[1], 'x')", "redis.call('XSETID', KEYS[1], '99999999999999-0')"):
                scripts.append(("EVAL", body, 1, key))
                # the key smuggled in ARGV instead of KEYS is checked all the same
                scripts.append(("EVAL", body.replace("KEYS[1]", "ARGV[1]"), 0, key))
        with as_user(self.redis, "hotlined") as r:
            replies = r.pipeline(*attempts)
            script_replies = r.pipeline(*scripts)
        not_refused = [(a, rep) for a, rep in zip(attempts, replies) if not refused(rep)]
        self.assertEqual(not_refused, [], "commands hotlined may run against the log")
        not_refused = [(s, rep) for s, rep in zip(scripts, script_replies) if not script_refused(rep)]
        self.assertEqual(not_refused, [], "scripts hotlined may run against the log")
        sys.stderr.write(f"\n[redis-acl] hotlined refused {len(attempts)} destructive commands and "
                         f"{len(scripts)} destructive scripts on the log streams\n")
        with self.redis.client() as admin:
            self.assertEqual(stream_snapshot(admin), before, "the log streams changed")
        verified = harness.hotline_verify(self.daemon)
        if verified is not None:
            self.assertEqual(verified, (0, []))

    def test_hotlined_may_not_write_customer_records(self):
        with as_user(self.redis, "hotlined") as r:
            replies = r.pipeline(("HSET", P + "customer:CA1", "tier", "platinum"), ("DEL", P + "customer:CA1"),
                                 ("SADD", P + "phone:+8613800138001", "evil"), ("SET", P + "account:ACA1", "evil"),
                                 ("HGET", P + "customer:CA1", "tier"))
        self.assertTrue(all(refused(rep) for rep in replies[:4]), replies)
        self.assertEqual(replies[4], b"gold", "reading customer records is allowed")

    def test_hotline_admin_imports_but_cannot_destroy_the_log(self):
        csv = H.path("acl-import.csv")
        with open(csv, "w", encoding="utf-8") as f:
            f.write("id,name,phones,revenue\nCA2,Imported,+8613800138002,10.00\n")
        for user, want_rc in (("hotlined", 2), ("hotline-admin", 0)):
            with self.subTest(user=user):
                p = subprocess.run([harness.HOTLINE, "import", "customers", csv, "-c", self.daemon.config_path,
                                    "--redis-user", user, "--redis-password-file",
                                    harness.redis_password_file(user), "--tiers"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=T(60))
                self.assertEqual(p.returncode, want_rc, p.stderr.decode())
                if want_rc:
                    self.assertIn("NOPERM", p.stderr.decode())
        with self.redis.client() as r:
            self.assertEqual(r.command("HGET", P + "customer:CA2", "name"), b"Imported")
        with as_user(self.redis, "hotline-admin") as r:
            # It may append (hotline import queue-log does, through the chained
            # append script), like hotlined, but never remove.
            replies = r.pipeline(("DEL", CALLS), ("XTRIM", CALLS, "MAXLEN", 0), ("EXPIRE", CALLS, 1),
                                 ("XDEL", CALLS, "1-1"), ("UNLINK", CALLS), ("RENAME", CALLS, P + "x"))
        self.assertTrue(all(refused(rep) for rep in replies), replies)


class AclTrimTest(harness.TestCase):
    """XADD's MAXLEN/MINID: allowed to anyone who may XADD (an ACL cannot
    look at arguments), so it is detected instead: `hotline verify`."""

    def setUp(self):
        self.redis = H.start_redis(acl=True)
        self.addCleanup(self.redis.stop)
        self.daemon = H.start_daemon(self.redis.address, **login_config())
        self.addCleanup(self.daemon.stop)

    def log_calls(self, n, tag="trim"):
        agent = self.connect_auth("agent1")
        for i in range(n):
            harness.parse_ok_json(agent.request("CALL offer " + json.dumps({"call_id": f"{tag}-{i}", "queue": "q"})))

    def verify(self):
        verified = harness.hotline_verify(self.daemon)
        if verified is None:
            self.skipTest("no hotline verify")
        return verified

    def test_xadd_trimming_goes_through_but_verify_reports_it(self):
        self.log_calls(5)
        self.assertEqual(harness.hotline_verify(self.daemon) or (0, []), (0, []))
        with self.redis.client() as admin:
            last_id, fields = harness.read_stream(admin, CALLS)[-1]
        # A careful forger: a well-formed next entry, chained to the last
        # one, trimming everything before it.
        seq = int(fields["seq"]) + 1
        entry = b'{"event":"offer","call_id":"forged"}'
        h = harness.chain_hash(fields["hash"].decode(), str(seq), entry)
        with as_user(self.redis, "hotlined") as r:
            reply = r.pipeline(("XADD", CALLS, "MAXLEN", 1, "*", "seq", seq, "prev", fields["hash"], "hash", h,
                                "entry", entry))[0]
        self.assertNotIsInstance(reply, harness.RedisError,
                                 "Redis now refuses XADD MAXLEN to hotlined: update hotlined(8) and README")
        with self.redis.client() as admin:
            self.assertEqual(admin.command("XLEN", CALLS), 1)
        rc, findings = self.verify()
        self.assertEqual(rc, 1, findings)
        self.assertEqual([(f["stream"], f["problem"]) for f in findings], [("calls", "gap")], findings)

    def test_emptied_stream_and_a_new_chain_are_reported(self):
        """XADD MAXLEN 0 empties the stream; the running daemon says so and
        numbers on from the highest seq it saw (a new chain at seq 6, so
        the removed seqs 1..5 show as a gap); Redis's count of entries ever
        added shows they were added and removed, not skipped."""
        self.log_calls(5)
        with as_user(self.redis, "hotlined") as r:
            reply = r.pipeline(("XADD", CALLS, "MAXLEN", 0, "*", "x", "y"))[0]
        self.assertNotIsInstance(reply, harness.RedisError)
        mark = self.daemon.log_mark()
        self.log_calls(2, tag="after")
        self.daemon.wait_log(r"log stream calls went back from seq 5 to 0", since=mark)
        with self.redis.client() as admin:
            stream = harness.read_stream(admin, CALLS)
        self.assertEqual([f["seq"] for _, f in stream], [b"6", b"7"])
        self.assertEqual([kind for _, kind in harness.chain_problems(stream)], ["gap"],
                         "the new chain links up, after the removed seqs")
        rc, findings = self.verify()
        self.assertEqual(rc, 1, findings)
        self.assertEqual([(f["stream"], f["problem"]) for f in findings],
                         [("calls", "gap"), ("calls", "entries_added")], findings)
        self.assertIn("Redis counts 8 entries ever added to the stream but its last seq is 7", findings[1]["detail"])


class ShippedFileTest(harness.TestCase):
    """The file exactly as shipped: every user off, so nothing gets in until
    the operator sets passwords (hotlined(8))."""

    def test_nobody_gets_in(self):
        redis = H.redis("shipped", acl=False, extra_args=["--aclfile", harness.REDIS_ACL_FILE])
        redis.start()
        self.addCleanup(redis.stop)
        with redis.client() as c:
            replies = c.pipeline(("PING",), ("GET", "x"), ("AUTH", "hotlined", harness.REDIS_PASSWORDS["hotlined"]),
                                 ("AUTH", "hotline-admin", "x"), ("AUTH", "default", "x"), ("AUTH", "nopass"))
        self.assertTrue(str(replies[0]).startswith("NOAUTH"), replies)
        self.assertTrue(str(replies[1]).startswith("NOAUTH"), replies)
        for rep in replies[2:]:
            self.assertTrue(str(rep).startswith("WRONGPASS"), replies)


class LoginRefusedTest(harness.TestCase):
    """A wrong password: logged without the password, retried with backoff,
    and the link comes up once the ACL in Redis is fixed (no restart)."""

    def test_refused_login_is_retried_until_fixed(self):
        redis = H.start_redis(acl=True)
        self.addCleanup(redis.stop)
        wrong = H.path("wrong.pass")
        fd = os.open(wrong, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("not-the-password-Qwzx\n")
        d = H.start_daemon(redis.address, redis={"user": "hotlined", "password_file": wrong,
                                                  "reconnect_min_ms": 50, "reconnect_max_ms": 200})
        self.addCleanup(d.stop)
        self.daemon = d
        d.wait_log(r"redis main: 127\.0\.0\.1:\d+ refused the login as hotlined: WRONGPASS")
        sup = self.connect_auth("super1")
        self.assertNotEqual(harness.stats(sup)["redis"]["state"], "up")
        agent = self.connect_auth("agent1")
        self.assertErr(agent.request('POP {"customer_id":"C1"}'), "unavailable")
        with redis.client() as r:
            r.command("ACL", "SETUSER", "hotlined", ">not-the-password-Qwzx")
        harness.wait_until(lambda: harness.stats(sup)["redis"]["state"] == "up", what="link up after the ACL fix")
        d.wait_log(r"redis link up: tail")
        self.assertEqual(len([l for l in d.log_text().splitlines() if "refused the login" in l and "main" in l]), 1,
                         "a refusal repeated on every retry is logged once")
        self.assertNotIn("not-the-password-Qwzx", d.log_text())


if __name__ == "__main__":
    harness.main()
