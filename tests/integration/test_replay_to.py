"""hotline replay --to: a realistic session logged through daemon A (Redis
1) is re-driven into daemon B on a fresh Redis 2 through a replay account,
and B's log tells the same story: the same events per call and per
complaint, by the same agents, in the same order, with the same final
states and counts (modulo complaint ids and times).  Running it again logs
nothing (every request is a duplicate); a replay from an export file skips
rejected entries; --speed keeps the order; a replay that starts in the
middle of a complaint's life says so; and only a replay account may
replay."""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_tls  # noqa: E402  (its certificate helpers)

H = None
P = harness.KEY_PREFIX
USERS = harness.DEFAULT_USERS + [("replay1", "replay")]
REPLAY_ENV = {"HOTLINE_USER": "replay1", "HOTLINE_SECRET": "replay1-secret"}

CALL_KEYS = ("event", "agent", "role", "state", "queue", "customer_id", "phone", "tier", "dnis", "to",
             "disposition", "csat", "note")
COMPLAINT_KEYS = ("event", "agent", "role", "state", "customer_id", "phone", "tier", "severity", "category",
                  "summary", "call_id", "level", "owner", "resolution", "note")

CUSTOMERS = [("C1", "Ada", ["+8613800000001"], "gold"), ("C2", "Bo", ["+8613800000002"], "platinum"),
             ("C3", "Cy", ["+8613800000003"], "lead")]


def setUpModule():
    global H
    H = harness.module_harness("replay_to")


def put_customers(redis):
    with redis.client() as r:
        for cid, name, phones, tier in CUSTOMERS:
            harness.put_customer(r, cid, name, phones=phones, tier=tier)


def start_pair(name):
    """A fresh Redis with the customers and a daemon on it."""
    redis = H.start_redis(name=f"redis-{name}")
    put_customers(redis)
    daemon = H.start_daemon(redis.address, name=f"hotlined-{name}", users=harness.make_users(USERS),
                            phone={"default_country": "86"})
    return redis, daemon


def cli_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("HOTLINE_USER", "HOTLINE_SECRET")}
    env.update(extra)
    return env


def replay(source, target, *args, env=None):
    """Run `hotline replay --to target` reading source's log (its config)
    or, when source is a path, that export file.  (status, report, stderr)."""
    src = ["--file", source] if isinstance(source, str) else ["-c", source.config_path]
    cmd = [harness.HOTLINE, "replay", "--to", f"127.0.0.1:{target.port}", *src, "--json", *args]
    r = subprocess.run(cmd, env=cli_env(**(REPLAY_ENV if env is None else env)), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, cwd=H.tmp, timeout=harness.T(120))
    out = r.stdout.decode().strip()
    report = json.loads(out) if out else None
    return r.returncode, report, r.stderr.decode()


def entries(redis, stream):
    with redis.client() as r:
        return [json.loads(f["entry"]) for _, f in harness.read_stream(r, P + "log:" + stream)]


def story(entry, keys):
    return tuple((k, entry[k]) for k in keys if k in entry)


def calls_story(es):
    out = {}
    for e in es:
        out.setdefault(e["call_id"], []).append(story(e, CALL_KEYS))
    return out


def complaints_story(es):
    """Each complaint's events, complaints in the order they were opened
    (ids differ between installations)."""
    order, out = [], {}
    for e in es:
        cid = e["complaint_id"]
        if cid not in out:
            order.append(cid)
        out.setdefault(cid, []).append(story(e, COMPLAINT_KEYS))
    return [out[c] for c in order], order


def call(c, event, **args):
    reply = c.request(f"CALL {event} " + json.dumps(args))
    harness.parse_ok_json(reply)
    return reply


def complaint(c, action, **args):
    return harness.parse_ok_json(c.request(f"COMPLAINT {action} " + json.dumps(args)))


def log_session(daemon):
    """A morning at the desk: answered, held, transferred, abandoned and
    supervised calls; complaints through their whole life."""
    a1 = daemon.auth_client("agent1")
    a2 = daemon.auth_client("agent2")
    sup = daemon.auth_client("super1")
    try:
        call(a1, "offer", call_id="c1", customer_id="C1", queue="mobile", dnis="400-800-1234")
        call(a1, "answer", call_id="c1")
        call(a1, "hold", call_id="c1", note="checking the bill")
        call(a1, "resume", call_id="c1")
        call(a1, "end", call_id="c1", disposition="resolved", csat=5, note="refund issued")

        call(a2, "offer", call_id="c2", phone="138 0000 0002", queue="broadband")
        call(a2, "answer", call_id="c2")
        call(a2, "transfer", call_id="c2", to="agent1", note="billing question")
        call(a1, "hold", call_id="c2")
        call(a1, "resume", call_id="c2")
        call(a1, "end", call_id="c2", disposition="callback", csat=3)

        call(a1, "offer", call_id="c3", phone="13900000009", queue="mobile")
        call(a1, "end", call_id="c3", disposition="no_action")  # abandoned

        # the customer comes from the screen pop
        harness.parse_ok_json(a2.request('POP {"customer_id":"C3","call_id":"c4"}'))
        call(a2, "offer", call_id="c4", queue="mobile")
        call(a2, "answer", call_id="c4")
        call(sup, "hold", call_id="c4", note="supervisor listens in")
        call(sup, "resume", call_id="c4")
        call(a2, "end", call_id="c4", disposition="sale", csat=4)

        call(a2, "offer", call_id="c5", customer_id="C2", queue="vip")
        call(a2, "answer", call_id="c5")  # still in progress

        k1 = complaint(a1, "open", customer_id="C1", category="billing", severity="high",
                       summary="charged twice", call_id="c1")["complaint_id"]
        complaint(a1, "ack", complaint_id=k1, note="calling back")
        complaint(a1, "progress", complaint_id=k1)
        complaint(a1, "wait", complaint_id=k1, note="waiting for the statement")
        complaint(a1, "resume", complaint_id=k1)
        complaint(sup, "escalate", complaint_id=k1)
        complaint(a1, "resolve", complaint_id=k1, resolution="refund of 30.00")
        complaint(a1, "close", complaint_id=k1)
        complaint(sup, "reopen", complaint_id=k1, note="charged again")
        complaint(a2, "ack", complaint_id=k1)
        complaint(a2, "resolve", complaint_id=k1, resolution="second refund")

        k2 = complaint(a2, "open", phone="13800000002", category="delivery", severity="critical",
                       summary="router never arrived")["complaint_id"]
        k3 = complaint(sup, "open", customer_id="C3", category="quality", severity="low",
                       summary="echo on the line", call_id="c4")["complaint_id"]
        # the queue's most urgent: the platinum customer's critical one
        claimed = complaint(a1, "next")
        assert claimed["complaint_id"] == k2, claimed
        complaint(a1, "resolve", complaint_id=k2, resolution="courier resent it")
        complaint(sup, "escalate", complaint_id=k3)
        claimed = complaint(a2, "next")
        assert claimed["complaint_id"] == k3, claimed

        k4 = complaint(a2, "open", customer_id="C2", category="other", severity="medium",
                       summary="rude reply")["complaint_id"]
        complaint(a2, "resolve", complaint_id=k4, resolution="apologised")
    finally:
        for c in (a1, a2, sup):
            c.close()


def state_of(redis, key):
    with redis.client() as r:
        flat = r.command("HGETALL", key)
    return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}


def write_export(redis, path, extra_lines=()):
    """The log as an export file (proto/LOG.md "Export files"), in stream-id
    order, plus hand-written records."""
    rows = []
    with redis.client() as r:
        for stream in ("calls", "complaints"):
            for sid, f in harness.read_stream(r, P + "log:" + stream):
                ms, _, n = sid.partition("-")
                rec = {"stream": stream, "id": sid, **{k: v.decode() for k, v in f.items()}}
                rows.append(((int(ms), int(n)), rec))
    rows.sort(key=lambda row: row[0])
    with open(path, "w") as out:
        for _, rec in rows:
            out.write(json.dumps(rec) + "\n")
        for rec in extra_lines:
            out.write(json.dumps(rec) + "\n")


class ReplayToTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis_a, cls.daemon_a = start_pair("a")
        cls.addClassCleanup(cls.daemon_a.stop)
        log_session(cls.daemon_a)
        cls.redis_b, cls.daemon_b = start_pair("b")
        cls.addClassCleanup(cls.daemon_b.stop)
        cls.first = replay(cls.daemon_a, cls.daemon_b, "--fast")

    def log_daemons(self):
        return [self.daemon_a, self.daemon_b]

    def test_1_same_calls_and_complaints(self):
        status, report, err = self.first
        self.assertEqual(status, 0, err)
        calls_a, calls_b = entries(self.redis_a, "calls"), entries(self.redis_b, "calls")
        comp_a, comp_b = entries(self.redis_a, "complaints"), entries(self.redis_b, "complaints")
        self.assertEqual(report["read"], len(calls_a) + len(comp_a))
        self.assertEqual((report["sent"], report["ok"], report["duplicate"], report["errors"]),
                         (report["read"], report["read"], 0, 0), report)
        self.assertEqual(report["complaints_opened"], 4)
        self.assertTrue(report["complete"])

        self.assertEqual(calls_story(calls_b), calls_story(calls_a))
        story_a, ids_a = complaints_story(comp_a)
        story_b, ids_b = complaints_story(comp_b)
        self.assertEqual(story_b, story_a)
        self.assertEqual(len(set(ids_b)), 4)
        self.assertFalse(set(ids_a) & set(ids_b), "the target gave the complaints ids of its own")
        # every replayed entry says so; the originals do not
        for e in calls_b + comp_b:
            self.assertEqual(e.get("replayed_by"), "replay1", e)
        for e in calls_a + comp_a:
            self.assertNotIn("replayed_by", e)
        # the hash chain of what B logged is intact
        with self.redis_b.client() as r:
            for stream in ("calls", "complaints"):
                self.assertEqual(harness.chain_problems(harness.read_stream(r, P + "log:" + stream)), [])

    def test_2_same_final_states(self):
        for cid in ("c1", "c2", "c3", "c4", "c5"):
            a, b = state_of(self.redis_a, P + "call:" + cid), state_of(self.redis_b, P + "call:" + cid)
            with self.subTest(call=cid):
                for k in ("state", "agent", "customer_id", "phone", "queue", "tier"):
                    self.assertEqual(b.get(k), a.get(k), k)
        self.assertEqual(state_of(self.redis_b, P + "call:c3")["state"], "abandoned")
        _, ids_a = complaints_story(entries(self.redis_a, "complaints"))
        _, ids_b = complaints_story(entries(self.redis_b, "complaints"))
        for ka, kb in zip(ids_a, ids_b):
            a = state_of(self.redis_a, P + "complaint:" + ka)
            b = state_of(self.redis_b, P + "complaint:" + kb)
            with self.subTest(complaint=ka):
                for k in ("state", "customer_id", "tier", "severity", "category", "summary", "level", "owner",
                          "opened_by", "resolution", "reopened", "call_id"):
                    self.assertEqual(b.get(k), a.get(k), k)
        with self.redis_a.client() as ra, self.redis_b.client() as rb:
            for key in ("complaints:open", "complaints:unassigned"):
                self.assertEqual(rb.command("ZCARD", P + key), ra.command("ZCARD", P + key), key)
            self.assertEqual(rb.command("HLEN", P + "calls:open"), ra.command("HLEN", P + "calls:open"))
            for cid, *_ in CUSTOMERS:
                for suffix, cmd in ((":contacts", "LLEN"), (":open_complaints", "HLEN")):
                    key = P + "customer:" + cid + suffix
                    self.assertEqual(rb.command(cmd, key), ra.command(cmd, key), key)

    def test_3_running_again_logs_nothing(self):
        before = (len(entries(self.redis_b, "calls")), len(entries(self.redis_b, "complaints")))
        status, report, err = replay(self.daemon_a, self.daemon_b, "--fast", "--in-flight", "7")
        self.assertEqual(status, 0, err)
        self.assertEqual((report["sent"], report["duplicate"], report["ok"], report["errors"]),
                         (report["read"], report["read"], 0, 0), report)
        # the complaints' new ids were learnt again from the duplicates' replies
        self.assertEqual(report["complaints_opened"], 4)
        self.assertEqual((len(entries(self.redis_b, "calls")), len(entries(self.redis_b, "complaints"))),
                         before)

    def test_4_from_an_export_file(self):
        """An export file replays like the live log; rejected entries and
        events no request makes are skipped and counted; a complaint that
        opened before --from cannot be addressed (counted, exit 1)."""
        redis_c, daemon_c = start_pair("c")
        self.addCleanup(daemon_c.stop)
        path = H.path("export.jsonl")
        write_export(self.redis_a, path, extra_lines=[
            {"stream": "calls", "id": "99999999999999-0", "seq": "999", "prev": "0" * 64, "hash": "0" * 64,
             "entry": json.dumps({"event": "answer", "call_id": "c3", "agent": "agent1", "role": "agent",
                                  "rejected": "conflict: call c3 is abandoned; cannot answer", "spooled": True,
                                  "args": {"call_id": "c3"}})},
            {"stream": "calls", "id": "99999999999999-1", "seq": "1000", "prev": "0" * 64, "hash": "0" * 64,
             "entry": json.dumps({"event": "ring", "call_id": "c9", "agent": "agent1", "role": "agent"})},
        ])
        status, report, err = replay(path, daemon_c, "--fast")
        self.assertEqual(status, 1, err)  # the unknown event is a finding
        self.assertEqual(report["skipped"]["rejected"], 1)
        self.assertEqual(report["skipped"]["unknown_event"], 1)
        self.assertEqual(report["errors"], 0, err)
        self.assertEqual(calls_story(entries(redis_c, "calls")), calls_story(entries(self.redis_a, "calls")))
        self.assertEqual(complaints_story(entries(redis_c, "complaints"))[0],
                         complaints_story(entries(self.redis_a, "complaints"))[0])
        self.assertIn("event 'ring'", err)

        # from the middle of the first complaint's life, into B (which has it all)
        comp_a = entries(self.redis_a, "complaints")
        with self.redis_a.client() as r:
            ids = [sid for sid, _ in harness.read_stream(r, P + "log:complaints")]
        k1 = comp_a[0]["complaint_id"]
        n_k1_after = sum(1 for e in comp_a[3:] if e["complaint_id"] == k1)
        before = len(entries(self.redis_b, "complaints"))
        status, report, err = replay(self.daemon_a, self.daemon_b, "--fast", "--from", ids[3])
        self.assertEqual(status, 1, err)
        self.assertEqual(report["skipped"]["unmapped"], n_k1_after, report)
        self.assertEqual(report["errors"], 0, err)
        self.assertGreater(report["duplicate"], 0)
        self.assertEqual(report["ok"], 0, report)
        self.assertIn("its open is not in this replay", err)
        self.assertEqual(len(entries(self.redis_b, "complaints")), before)

    # The tests run in name order: 1-3 compare B with what A logged in
    # setUpClass; 5 logs one more call on A, which 5b replays again.

    def test_5_speed_keeps_the_order(self):
        """A call with real gaps between its events, replayed alone (--call)
        at twice the speed into a fresh daemon: same events, same order."""
        a1 = self.daemon_a.auth_client("agent1")
        try:
            for event, args in [("offer", {"queue": "mobile", "customer_id": "C1"}), ("answer", {}),
                                ("hold", {}), ("resume", {}), ("end", {"disposition": "resolved", "csat": 2})]:
                call(a1, event, call_id="slow-1", **args)
                time.sleep(0.15)
            k = complaint(a1, "open", customer_id="C1", category="billing", severity="low",
                          summary="about the slow call", call_id="slow-1")["complaint_id"]
            time.sleep(0.15)
            complaint(a1, "resolve", complaint_id=k, resolution="explained")
        finally:
            a1.close()
        redis_d, daemon_d = start_pair("d")
        self.addCleanup(daemon_d.stop)
        status, report, err = replay(self.daemon_a, daemon_d, "--speed", "2", "--call", "slow-1")
        self.assertEqual(status, 0, err)
        self.assertEqual(report["sent"], 7, report)
        self.assertGreater(report["skipped"]["not_selected"], 0)
        got = entries(redis_d, "calls")
        self.assertEqual([e["event"] for e in got], ["offer", "answer", "hold", "resume", "end"])
        self.assertEqual(calls_story(got)["slow-1"], calls_story(entries(self.redis_a, "calls"))["slow-1"])
        self.assertEqual([(e["event"], e["state"]) for e in entries(redis_d, "complaints")],
                         [("open", "open"), ("resolve", "resolved")])

    def test_5b_interrupted_then_run_again(self):
        """Ctrl-C in the middle of a paced replay: the replies in flight are
        awaited, exit 2; the same command run again finishes the job, and
        every event is logged exactly once."""
        redis_e, daemon_e = start_pair("e")
        self.addCleanup(daemon_e.stop)
        cmd = [harness.HOTLINE, "replay", "--to", f"127.0.0.1:{daemon_e.port}", "-c", self.daemon_a.config_path,
               "--call", "slow-1", "--json"]
        # the recorded gaps are 0.15 s: at a tenth of the speed, 1.5 s
        p = subprocess.Popen(cmd + ["--speed", "0.1"], env=cli_env(**REPLAY_ENV), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=H.tmp)
        try:
            harness.wait_until(lambda: entries(redis_e, "calls"), what="the first entry replayed")
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=harness.T(30))
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 2, err)
        self.assertIn("interrupted", err.decode())
        report = json.loads(out)
        self.assertFalse(report["complete"])
        self.assertLess(report["sent"], 7, report)
        self.assertEqual(report["sent"], report["ok"], report)
        status, report, err = replay(self.daemon_a, daemon_e, "--fast", "--call", "slow-1")
        self.assertEqual(status, 0, err)
        self.assertGreater(report["duplicate"], 0, report)
        self.assertEqual(calls_story(entries(redis_e, "calls"))["slow-1"],
                         calls_story(entries(self.redis_a, "calls"))["slow-1"])
        self.assertEqual([e["event"] for e in entries(redis_e, "complaints")], ["open", "resolve"])

    def test_6_only_a_replay_account_replays(self):
        before = len(entries(self.redis_b, "calls"))
        status, report, err = replay(self.daemon_a, self.daemon_b, "--fast",
                                     env={"HOTLINE_USER": "agent1", "HOTLINE_SECRET": "agent1-secret"})
        self.assertEqual(status, 2, err)
        self.assertIn("agent1 is not a replay account", err)
        status, _, err = replay(self.daemon_a, self.daemon_b, "--fast",
                                env={"HOTLINE_USER": "replay1", "HOTLINE_SECRET": "wrong"})
        self.assertEqual(status, 2, err)
        self.assertIn("authentication as replay1 failed", err)
        self.assertEqual(len(entries(self.redis_b, "calls")), before)

        rp = self.connect_auth("replay1", daemon=self.daemon_b)
        self.assertErr(rp.request('POP {"customer_id":"C1"}'), "forbidden")
        self.assertErr(rp.request("TAIL calls"), "forbidden")
        self.assertErr(rp.request("STATS"), "forbidden")
        self.assertErr(rp.request("QUEUE"), "forbidden")
        a1 = self.connect_auth("agent1", daemon=self.daemon_b)
        self.assertErr(a1.request('CALL offer {"call_id":"x-as","queue":"q","as":"agent2"}'), "bad_request",
                       "unknown field 'as'")
        # a replayed claim names its complaint: taken, or a conflict
        k = complaint(a1, "open", customer_id="C3", category="other", severity="low", summary="s")["complaint_id"]
        got = complaint(rp, "next", complaint_id=k, **{"as": "agent9"})
        self.assertEqual((got["complaint_id"], got["owner"]), (k, "agent9"))
        self.assertErr(rp.request("COMPLAINT next " + json.dumps({"complaint_id": k, "as": "agent8"})),
                       "conflict", "claimed")
        self.assertErr(rp.request('COMPLAINT next {"complaint_id":"K-none","as":"agent8"}'), "not_found")


class ReplayTlsTest(harness.TestCase):
    """--tls and --ca: the replay reaches the daemon's TLS listener and
    checks its certificate."""

    @classmethod
    def setUpClass(cls):
        if test_tls.OPENSSL is None:
            raise unittest.SkipTest("no openssl command to make test certificates")
        d = H.path("pki")
        os.makedirs(d)
        cls.ca = test_tls.make_ca(d, "ca", "replay test CA")
        cls.other_ca = test_tls.make_ca(d, "other-ca", "some other CA")
        cert, key = test_tls.make_server_cert(d, "server", "ca", 0x2001)
        cls.redis_a, cls.daemon_a = start_pair("tls-a")
        cls.addClassCleanup(cls.daemon_a.stop)
        c = cls.daemon_a.auth_client("agent1")
        try:
            call(c, "offer", call_id="t1", customer_id="C2", queue="vip")
            call(c, "answer", call_id="t1")
            call(c, "end", call_id="t1", disposition="sale", csat=5)
        finally:
            c.close()
        cls.redis = H.start_redis(name="redis-tls-b")
        put_customers(cls.redis)
        cls.daemon = H.start_daemon(cls.redis.address, name="hotlined-tls-b", users=harness.make_users(USERS),
                                    tls={"listen": "127.0.0.1:0", "certificate": cert, "key": key})
        cls.addClassCleanup(cls.daemon.stop)
        line = cls.daemon.wait_log(test_tls.TLS_LISTEN_RE)
        cls.tls_port = int(line.rsplit(":", 1)[1].split()[0])

    def run_tls(self, ca):
        cmd = [harness.HOTLINE, "replay", "--to", f"127.0.0.1:{self.tls_port}", "-c", self.daemon_a.config_path,
               "--fast", "--json", "--ca", ca]
        r = subprocess.run(cmd, env=cli_env(**REPLAY_ENV), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           cwd=H.tmp, timeout=harness.T(60))
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def test_replay_over_tls(self):
        status, out, err = self.run_tls(self.other_ca)
        self.assertEqual(status, 2, err)
        self.assertEqual(entries(self.redis, "calls"), [])
        status, out, err = self.run_tls(self.ca)
        self.assertEqual(status, 0, err)
        self.assertEqual(json.loads(out)["ok"], 3)
        self.assertEqual(calls_story(entries(self.redis, "calls")), calls_story(entries(self.redis_a, "calls")))


class ReplaySpoolTest(harness.RedisOutageMixin, harness.TestCase):
    """A replay account's write that waits in the spool while Redis is away
    is logged later still as the recorded agent, marked replayed_by, and a
    retry of it is still a duplicate."""

    @classmethod
    def setUpClass(cls):
        cls.redis, cls.daemon = start_pair("spool")
        cls.addClassCleanup(cls.daemon.stop)

    def test_spooled_replay_write(self):
        rp = self.connect_auth("replay1")
        line = 'CALL offer {"call_id":"sp-1","queue":"q","as":"ghost","as_role":"supervisor","request_id":"rp-x-1"}'
        self.outage()
        kind = self.spooled_or_unavailable(rp.request(line))
        self.back()
        if kind == "spooled":
            harness.wait_until(lambda: entries(self.redis, "calls"), what="the spooled write logged")
        else:
            self.assertOK(rp.request(line))
        self.assertIn('"duplicate":true', rp.request(line))
        got = entries(self.redis, "calls")
        self.assertEqual([(e["call_id"], e["agent"], e["role"], e["replayed_by"]) for e in got],
                         [("sp-1", "ghost", "supervisor", "replay1")])
        with self.redis.client() as r:
            self.assertEqual(r.command("EXISTS", P + "idem:replay1:rp-x-1"), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
