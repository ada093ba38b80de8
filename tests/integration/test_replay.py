"""hotline replay: the timeline of a call, a customer, a complaint or a time
range, from Redis and from an export file; and hotline replay --rebuild,
which recomputes every projection (proto/LOG.md "Projections") from the
log streams.

A realistic session is logged through a real hotlined first (calls with
holds, transfers and abandons, screen pops linking calls to customers,
complaints through their whole life, queue claims with `next`, a retried
request_id).  The rebuild is then checked against the keys the live daemon
wrote: a type-aware dump of every projection key (hash fields, list items,
sorted-set members and scores, absolute expiry) must come back exactly,
after deleting them all, after rebuilding twice, after corrupting some,
and from an export file."""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

H = None
P = harness.KEY_PREFIX
CALLS = P + "log:calls"
COMPLAINTS = P + "log:complaints"

BUSY_CALLS = 200  # with the rest, more than one of the rebuild's batches of 512 entries
REDIS = None
DAEMON = None
S = {}  # what the session created: call and complaint ids


def call(c, event, **args):
    return harness.parse_ok_json(c.request(f"CALL {event} " + json.dumps(args)))


def complaint(c, action, **args):
    return harness.parse_ok_json(c.request(f"COMPLAINT {action} " + json.dumps(args)))


def pop(c, **args):
    return harness.parse_ok_json(c.request("POP " + json.dumps(args)))


def switch_stream():
    """Let Redis's millisecond clock move on.  Entries of the two streams
    written in the same millisecond get stream ids that do not tell which
    came first, and a customer's recent contacts mix both streams; the
    rebuild orders such a tie calls first (documented in proto/LOG.md).
    The session avoids ties where the order would matter."""
    time.sleep(0.005)


def pipelined(c, lines):
    """Send the lines in chunks without waiting, then check every reply."""
    replies = []
    for i in range(0, len(lines), 100):
        chunk = lines[i:i + 100]
        c.send(("\n".join(chunk) + "\n").encode())
        replies += [c.read_reply() for _ in chunk]
    for line, reply in zip(lines, replies):
        assert reply.startswith("OK"), (line, reply)
    return [harness.parse_ok_json(x) for x in replies]


def log_busy_hour(a1):
    """Enough traffic that the rebuild works in several batches, with calls
    and complaints whose lives span them, and a customer with more contacts
    than the 50 kept."""
    opened = pipelined(a1, ["COMPLAINT open " + json.dumps(
        {"customer_id": "C5", "category": "other", "severity": "low", "summary": f"busy {i}"}) for i in range(30)])
    ids = [f"busy-{i}" for i in range(BUSY_CALLS)]
    pipelined(a1, ["CALL offer " + json.dumps({"call_id": i, "customer_id": "C5", "queue": "mobile"}) for i in ids])
    pipelined(a1, ["CALL answer " + json.dumps({"call_id": i}) for i in ids])
    pipelined(a1, ["CALL end " + json.dumps({"call_id": i, "disposition": "sale"}) for i in ids])
    kids = [o["complaint_id"] for o in opened]
    pipelined(a1, ["COMPLAINT ack " + json.dumps({"complaint_id": k}) for k in kids])
    pipelined(a1, ["COMPLAINT resolve " + json.dumps({"complaint_id": k, "resolution": "done"}) for k in kids[:15]])


def log_session(d, r):
    """Calls and complaints through the daemon, as agents do them."""
    harness.put_customer(r, "C1", "Wang Fang", phones=["+8613800000001"], tier="platinum", status="active")
    harness.put_customer(r, "C2", "Li Wei", phones=["+8613800000002"], tier="gold", status="active")
    harness.put_customer(r, "C3", "Zhao Min", phones=["+8613800000003"], tier="iron", status="active")
    harness.put_customer(r, "C5", "Sun Li", phones=["+8613800000005"], tier="lead", status="active")
    a1 = d.auth_client("agent1")
    a2 = d.auth_client("agent2")
    sup = d.auth_client("super1")
    try:
        # A: the screen pop links the call before the offer; hold, resume,
        # transfer, the second agent ends it with a rating.
        pop(a1, phone="13800000001", call_id="call-a")
        call(a1, "offer", call_id="call-a", phone="13800000001", queue="mobile")
        call(a1, "answer", call_id="call-a", request_id="r-answer-a")
        call(a1, "hold", call_id="call-a", note="checking the bill")
        call(a1, "resume", call_id="call-a")
        call(a1, "transfer", call_id="call-a", to="agent2")
        call(a2, "end", call_id="call-a", disposition="resolved", csat=5)
        switch_stream()
        # A complaint about call A, through its whole life.
        k1 = complaint(a2, "open", customer_id="C1", call_id="call-a", category="billing", severity="high",
                       summary="charged twice for March")["complaint_id"]
        complaint(a2, "ack", complaint_id=k1)
        complaint(a2, "progress", complaint_id=k1, note="asked billing")
        complaint(a2, "wait", complaint_id=k1)
        complaint(a2, "resume", complaint_id=k1)
        complaint(sup, "escalate", complaint_id=k1)
        complaint(a2, "resolve", complaint_id=k1, resolution="refunded", request_id="r-resolve-k1")
        complaint(a2, "close", complaint_id=k1)
        complaint(a2, "reopen", complaint_id=k1, note="refund never arrived")
        switch_stream()
        # B: abandoned in the queue.
        call(a1, "offer", call_id="call-b", customer_id="C2", queue="broadband")
        call(a1, "end", call_id="call-b", disposition="no_action")
        switch_stream()
        # A complaint opened by phone, claimed from the queue, escalated, resolved.
        k2 = complaint(a1, "open", phone="13800000002", category="delivery", severity="medium",
                       summary="router never came")["complaint_id"]
        # next hands out the most urgent unassigned complaint: K1 (reopened, high) first.
        self_claim = complaint(a2, "next")
        claimed = [self_claim["complaint_id"], complaint(a1, "next")["complaint_id"]]
        complaint(a1, "escalate", complaint_id=k2)
        complaint(a1 if claimed[1] == k2 else a2, "resolve", complaint_id=k2, resolution="sent again")
        switch_stream()
        # C: the screen pop links the call after it was answered.
        call(a1, "offer", call_id="call-c", queue="mobile", phone="13800000001")
        call(a1, "answer", call_id="call-c")
        pop(a1, customer_id="C1", call_id="call-c")
        call(a1, "hold", call_id="call-c")
        call(a1, "end", call_id="call-c", disposition="callback")
        switch_stream()
        log_busy_hour(a1)
        switch_stream()
        # D: still in progress when the session ends (calls:open).
        call(a2, "offer", call_id="call-d", customer_id="C3", queue="mobile")
        call(a2, "answer", call_id="call-d")
        switch_stream()
        k3 = complaint(sup, "open", customer_id="C3", category="quality", severity="low",
                       summary="noise on the line")["complaint_id"]
        k4 = complaint(a1, "open", customer_id="C1", category="technical", severity="critical",
                       summary="no signal at home")["complaint_id"]
        complaint(a1, "resolve", complaint_id=k4, resolution="mast repaired")
        # A retried request: answered from the idempotency record, logged once.
        again = harness.parse_ok_json(a1.request(
            "CALL answer " + json.dumps({"call_id": "call-a", "request_id": "r-answer-a"})))
        assert again.get("duplicate") is True, again
    finally:
        for c in (a1, a2, sup):
            c.close()
    S.update(k1=k1, k2=k2, k3=k3, k4=k4, claimed=claimed)


def setUpModule():
    global H, REDIS, DAEMON
    H = harness.module_harness("replay")
    REDIS = H.start_redis()
    DAEMON = H.start_daemon(REDIS.address, phone={"default_country": "86"},
                            complaints={"reopen_window_h": 168, "escalation_pct": 50})
    with REDIS.client() as r:
        log_session(DAEMON, r)


# --------------------------------------------------------------------------
# Helpers


def hotline(*args, stdin=None):
    """(exit status, stdout, stderr) of the CLI against the session's Redis."""
    r = subprocess.run([harness.HOTLINE, "replay", *args], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=harness.T(60), cwd=H.tmp)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def target():
    # As operators run it: the ACL's hotline-admin, which may rewrite the
    # projections but never remove from the log.
    return ["--redis", REDIS.tcp_address, "--prefix", P, *harness.admin_login_args()]


def log_records():
    """Every stream entry as an export record, in stream-id order (the
    order Redis received them), both streams merged."""
    out = []
    with REDIS.client() as r:
        for stream, key in (("calls", CALLS), ("complaints", COMPLAINTS)):
            for sid, fields in harness.read_stream(r, key):
                rec = {"stream": stream, "id": sid}
                rec.update({k: v.decode() for k, v in fields.items()})
                out.append(rec)
    out.sort(key=lambda rec: tuple(int(x) for x in rec["id"].split("-")) + (rec["stream"] != "calls",))
    return out


def write_export(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")


def entry(rec):
    return json.loads(rec["entry"])


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def is_projection(key):
    """The projection keys of proto/LOG.md (the rebuild's keys)."""
    rest = key[len(P):]
    parts = rest.split(":")
    return (rest in ("calls:open", "complaints:open", "complaints:unassigned")
            or (parts[0] == "call" and len(parts) == 2)
            or (parts[0] == "complaint" and (len(parts) == 2 or (len(parts) == 3 and parts[2] == "history")))
            or (parts[0] == "customer" and len(parts) == 3 and parts[2] in ("contacts", "open_complaints")))


def all_keys(r):
    keys, cursor = [], b"0"
    while True:
        cursor, page = r.command("SCAN", cursor, "COUNT", 1000)
        keys += [k.decode() for k in page]
        if cursor == b"0":
            return sorted(set(keys))


def dump(r, key):
    kind = r.command("TYPE", key)
    if kind == "hash":
        flat = r.command("HGETALL", key)
        value = {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}
    elif kind == "list":
        value = [x.decode() for x in r.command("LRANGE", key, 0, -1)]
    elif kind == "zset":
        flat = r.command("ZRANGE", key, 0, -1, "WITHSCORES")
        value = [(flat[i].decode(), flat[i + 1].decode()) for i in range(0, len(flat), 2)]
    else:
        value = kind
    # Absolute expiry (ms since the epoch; -1 = none): exact, unlike a TTL
    # that ticks between two snapshots.
    return {"type": kind, "value": value, "expires_ms": r.command("PEXPIRETIME", key)}


def snapshot(which=is_projection):
    with REDIS.client() as r:
        return {k: dump(r, k) for k in all_keys(r) if which(k)}


POP_LINK = P + "call:call-z"  # written by a screen pop, not by the log: not the rebuild's to restore


def delete_projections():
    with REDIS.client() as r:
        keys = [k for k in all_keys(r) if is_projection(k) and k != POP_LINK]
        if keys:
            r.command("DEL", *keys)
        return len(keys)


# --------------------------------------------------------------------------


class TimelineTest(harness.TestCase):
    def timeline(self, *args, **kw):
        rc, out, err = hotline(*args, *target(), **kw)
        self.assertEqual(rc, 0, err)
        return out

    def test_call_prints_its_events_in_order_with_its_complaint(self):
        out = self.timeline("--call", "call-a")
        lines = out.splitlines()
        call_lines = [l for l in lines if " calls " in l]
        self.assertEqual([l.split()[2] for l in call_lines],
                         ["offer", "answer", "hold", "resume", "transfer", "end"], out)
        for line in call_lines:
            self.assertEqual(line.split()[3], "call-a")
        # state changes, who, and the fields that matter
        self.assertRegex(call_lines[0], r"agent1 +-> offered .*customer=C1 phone=\+8613800000001 queue=mobile "
                                        r"tier=platinum")
        self.assertRegex(call_lines[1], r"offered -> answered")
        self.assertRegex(call_lines[2], r"answered -> held .*note=\"checking the bill\"")
        self.assertRegex(call_lines[4], r"answered -> answered .*to=agent2 leg=\d+\.\ds")
        self.assertRegex(call_lines[5], r"agent2 +answered -> ended .*disposition=resolved csat=5 leg=")
        # the complaint opened about the call, its whole life, after the end
        k1 = S["k1"]
        comp = [l for l in lines if " complaints " in l]
        self.assertEqual([l.split()[2] for l in comp],
                         ["open", "ack", "progress", "wait", "resume", "escalate", "resolve", "close",
                          "reopen", "assign"], out)
        self.assertTrue(all(l.split()[3] == k1 for l in comp))
        self.assertRegex(comp[0], r"-> open .*call=call-a severity=high category=billing tier=platinum level=0 "
                                  r"due=\S+ summary=\"charged twice for March\"")
        self.assertRegex(comp[5], r"super1 +in_progress -> in_progress +role=supervisor .*level=1")
        self.assertRegex(comp[7], r"resolved -> closed")
        self.assertRegex(comp[8], r"closed -> open .*note=\"refund never arrived\"")
        self.assertLess(lines.index(call_lines[-1]), lines.index(comp[0]))
        # nothing else: not call B's or call C's events, not K2's
        self.assertEqual(len(lines), 16, out)

    def test_json_lines_are_the_log_records(self):
        rc, out, err = hotline("--call", "call-a", "--json", *target())
        self.assertEqual(rc, 0, err)
        got = json_lines(out)
        want = [rec for rec in log_records()
                if (rec["stream"] == "calls" and entry(rec)["call_id"] == "call-a")
                or (rec["stream"] == "complaints" and entry(rec)["complaint_id"] == S["k1"])]
        self.assertEqual(got, want)
        self.assertRegex(err, r"16 of \d+ entries shown")

    def test_customer_merges_calls_and_complaints(self):
        records = log_records()
        # Every call and complaint that names C1 in any of its entries, whole.
        mine = {(rec["stream"], entry(rec).get("call_id") if rec["stream"] == "calls"
                 else entry(rec)["complaint_id"]) for rec in records if entry(rec).get("customer_id") == "C1"}
        want = [rec for rec in records
                if (rec["stream"], entry(rec).get("call_id") if rec["stream"] == "calls"
                    else entry(rec)["complaint_id"]) in mine]
        self.assertEqual({m[1] for m in mine}, {"call-a", "call-c", S["k1"], S["k4"]})
        rc, out, err = hotline("--customer", "C1", "--json", *target())
        self.assertEqual(rc, 0, err)
        self.assertEqual(json_lines(out), want)
        # Call C was linked by a screen pop after its answer: its offer and
        # answer do not name the customer, and are shown all the same.
        c_events = [entry(r)["event"] for r in json_lines(out) if entry(r).get("call_id") == "call-c"
                    and r["stream"] == "calls"]
        self.assertEqual(c_events, ["offer", "answer", "hold", "end"])
        self.assertNotIn("customer_id", entry([r for r in want if entry(r).get("call_id") == "call-c"][0]))
        text = self.timeline("--customer", "C1")
        self.assertEqual(len(text.splitlines()), len(want))
        streams = [l.split()[1] for l in text.splitlines()]
        self.assertIn("calls", streams)
        self.assertIn("complaints", streams)

    def test_complaint_alone(self):
        out = self.timeline("--complaint", S["k2"])
        self.assertEqual([l.split()[2] for l in out.splitlines()],
                         ["open", "assign", "escalate", "resolve"], out)
        self.assertRegex(out.splitlines()[0], r"-> open .*customer=C2 .*severity=medium category=delivery tier=gold")

    def test_export_file_replays_the_same(self):
        path = H.path("export.jsonl")
        write_export(path, log_records())
        for args in (["--customer", "C1"], ["--call", "call-a"], []):
            for fmt in ([], ["--json"]):
                with self.subTest(args=args, fmt=fmt):
                    live = hotline(*args, *fmt, *target())
                    from_file = hotline(*args, *fmt, "--file", path)
                    self.assertEqual(live[0], 0, live[2])
                    self.assertEqual(from_file, live)
        # standard input is read once: a call's linked complaint still follows it
        with open(path, "rb") as f:
            piped = hotline("--call", "call-a", "--json", "--file", "-", stdin=f.read())
        self.assertEqual(piped, hotline("--call", "call-a", "--json", *target()))

    def test_time_range(self):
        records = log_records()
        lo, hi = records[5]["id"], records[12]["id"]
        rc, out, err = hotline("--from", lo, "--until", hi, "--json", *target())
        self.assertEqual(rc, 0, err)
        self.assertEqual(json_lines(out), records[5:13])
        # whole days by date (UTC): everything
        def day(rec):
            return time.strftime("%Y-%m-%d", time.gmtime(int(rec["id"].split("-")[0]) // 1000))
        rc, out, err = hotline("--from", day(records[0]), "--until", day(records[-1]), "--json", *target())
        self.assertEqual((rc, json_lines(out)), (0, records))

    def test_everything_in_order_and_state_changes(self):
        out = self.timeline()
        lines = out.splitlines()
        self.assertEqual(len(lines), len(log_records()))
        ts = [l.split()[0] for l in lines]
        self.assertEqual([l.split()[2] for l in lines if l.split()[3] == "call-b"], ["offer", "end"])
        self.assertRegex([l for l in lines if l.split()[3] == "call-b"][1], r"offered -> abandoned")
        for t in ts:
            self.assertRegex(t, harness.TS_RE)

    def test_usage_and_bad_input(self):
        for args in (["--call", "x", "--customer", "y"], ["--from", "yesterday"], ["--rebuild", "--call", "x"],
                     ["--force"], ["extra"]):
            with self.subTest(args=args):
                rc, _, err = hotline(*args, *target())
                self.assertEqual(rc, 64, err)
        bad = H.path("bad.jsonl")
        with open(bad, "w") as f:
            f.write('{"stream":"calls","id":"1-0","seq":"1","entry":"{\\"event\\":"}\n')
            f.write("not json\n")
        rc, out, err = hotline("--file", bad)
        self.assertEqual(rc, 2, err)
        self.assertIn("bad.jsonl:2", err)
        self.assertIn("calls 1-0: the entry is not a JSON object", err)
        rc, _, err = hotline("--file", H.path("missing.jsonl"))
        self.assertEqual(rc, 2)
        self.assertIn("missing.jsonl", err)


class RebuildTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.live = snapshot()
        cls.idem = snapshot(lambda k: k.startswith(P + "idem:"))
        assert cls.idem, "the session left no idempotency records"
        # A screen pop for a call that was never offered: its link is not
        # in the log; the rebuild keeps it.
        with DAEMON.auth_client("agent1") as a1:
            pop(a1, customer_id="C2", call_id="call-z")
        # While hotlined is connected, the rebuild refuses; --force goes
        # ahead (nothing is being written).
        cls.refused = hotline("--rebuild", *target())
        cls.after_refusal = snapshot()
        cls.forced = hotline("--rebuild", "--force", *target())
        cls.after_force = snapshot()
        DAEMON.stop()

    def rebuild(self, *args):
        rc, out, err = hotline("--rebuild", *args)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "")
        return err

    def assertRebuilt(self, got):
        pop_link = got.pop(POP_LINK, None)
        self.assertEqual(pop_link, {"type": "hash", "value": {"customer_id": "C2", "tier": "gold"},
                                    "expires_ms": -1})
        self.assertEqual(got, self.live)

    def test_live_state_has_every_projection(self):
        keys = set(self.live)
        k1, k2, k3, k4 = S["k1"], S["k2"], S["k3"], S["k4"]
        for k in ["calls:open", "complaints:open", "complaints:unassigned", "call:call-a", "call:call-b",
                  "call:call-c", "call:call-d", f"complaint:{k1}", f"complaint:{k1}:history", f"complaint:{k4}",
                  "customer:C1:contacts", "customer:C1:open_complaints", "customer:C3:open_complaints"]:
            self.assertIn(P + k, keys)
        self.assertGreater(self.live[P + "call:call-a"]["expires_ms"], 0)
        self.assertEqual(self.live[P + "call:call-d"]["expires_ms"], -1)
        self.assertEqual(self.live[P + f"complaint:{k1}"]["value"]["reopened"], "1")
        unassigned = [m for m, _ in self.live[P + "complaints:unassigned"]["value"]]
        self.assertIn(k3, unassigned)
        self.assertNotIn(k1, unassigned)  # claimed with `next` after its reopening
        self.assertEqual(len(unassigned), 16)
        self.assertEqual(len(self.live[P + f"complaint:{k2}:history"]["value"]), 4)
        self.assertEqual(len(self.live[P + "customer:C5:contacts"]["value"]), 50)
        self.assertEqual(len(self.live[P + "customer:C5:open_complaints"]["value"]), 15)
        with REDIS.client() as r:
            self.assertGreater(r.command("XLEN", CALLS) + r.command("XLEN", COMPLAINTS), 512)

    def test_refused_while_hotlined_is_connected(self):
        rc, out, err = self.refused
        self.assertEqual(rc, 2, err)
        self.assertRegex(err, r"a hotlined is connected: hotlined:\S+:\d+ from 127\.0\.0\.1:\d+")
        self.assertIn("refusing", err)
        self.assertRebuilt(dict(self.after_refusal))

    def test_force_beside_an_idle_daemon(self):
        rc, out, err = self.forced
        self.assertEqual(rc, 0, err)
        self.assertRebuilt(dict(self.after_force))

    def test_deleted_projections_come_back_exactly_and_twice(self):
        self.assertGreater(delete_projections(), 10)
        err = self.rebuild(*target())
        self.assertRegex(err, r"\d+ entries replayed \(0 changed nothing, 0 not projected\)")
        self.assertRebuilt(snapshot())
        self.rebuild(*target())
        self.assertRebuilt(snapshot())
        # idempotency records are not projections: untouched
        self.assertEqual(snapshot(lambda k: k.startswith(P + "idem:")), self.idem)

    def test_corrupted_projections_are_repaired(self):
        k1, k3 = S["k1"], S["k3"]
        with REDIS.client() as r:
            r.command("HSET", P + f"complaint:{k1}", "state", "closed", "owner", "mallory")
            r.command("ZADD", P + "complaints:open", "1", "K-BOGUS")
            r.command("ZREM", P + "complaints:unassigned", k3)
            r.command("LPUSH", P + "customer:C1:contacts", '{"kind":"forged"}')
            r.command("HSET", P + "calls:open", "call-ghost", "{}")
            r.command("DEL", P + "call:call-d")
            r.command("PERSIST", P + "call:call-a")
            r.command("HSET", P + "complaint:K-STALE", "state", "open", "v", "3")
            r.command("RPUSH", P + "customer:C9:contacts", '{"kind":"stale"}')
        self.rebuild(*target())
        self.assertRebuilt(snapshot())

    def test_rebuild_from_an_export_file(self):
        path = H.path("rebuild-export.jsonl")
        write_export(path, log_records())
        delete_projections()
        self.rebuild("--file", path, *target())
        self.assertRebuilt(snapshot())

    def test_lock_and_leftovers_of_a_crashed_rebuild(self):
        with REDIS.client() as r:
            r.command("SET", P + "rebuild:lock", "someone-else", "PX", 60000)
            r.command("HSET", P + "call:call-a", "state", "offered")
        rc, _, err = hotline("--rebuild", *target())
        self.assertEqual(rc, 2, err)
        self.assertIn("another rebuild", err)
        with REDIS.client() as r:
            self.assertEqual(r.command("HGET", P + "call:call-a", "state"), b"offered")  # untouched
            r.command("DEL", P + "rebuild:lock")
            # what a rebuild that crashed before its swap leaves behind
            r.command("HSET", P + "rebuild:stage:call:call-junk", "state", "offered", "v", "1")
            r.command("RPUSH", P + "rebuild:stage:customer:C2:contacts", "junk")
        self.rebuild(*target())
        self.assertRebuilt(snapshot())
        with REDIS.client() as r:
            self.assertEqual([k for k in all_keys(r) if k.startswith(P + "rebuild:")], [])
            self.assertEqual(r.command("EXISTS", P + "call:call-junk"), 0)


if __name__ == "__main__":
    harness.main()
