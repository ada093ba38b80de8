"""TAIL / UNTAIL, the live tails of the log streams, and QUEUE, the
wallboard view.

Every pushed entry is checked field for field against the stream itself
(XRANGE over the RESP client: `{"id","seq",...entry}`), so "none missing,
none repeated, in order" is exact.  Covered: tailing from `$`, from an id
and from `0` (history longer than one catch-up page), resuming after a
disconnect, a catch-up racing live writes, filters on both streams, bad
arguments, one tail per stream per connection, UNTAIL, other requests on a
tailing connection (replies in order, pushes in between), 30 tailers on
one XREAD connection (Redis CLIENT LIST), backpressure (a supervisor that
never reads gets `* overflow` and resumes from its last_id; agents and a
well-behaved supervisor are unaffected; the daemon's RSS stays bounded),
a Redis kill -9 / restart under a live tail (AOF, appendfsync always), a
Redis restart still LOADING its AOF when the daemon reconnects (slowed by
Redis's key-load-delay), and QUEUE's exact figures for calls in each state
in two queues and open complaints (one made overdue by seeding its due date
in the past).

Every wait is bounded; no timing is asserted except generous per-request
deadlines."""

import json
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
P = getattr(harness, "KEY_PREFIX", "hotline:")
KEYS = {"calls": P + "log:calls", "complaints": P + "log:complaints"}
AOF = ("--appendonly", "yes", "--appendfsync", "always")
# A restart that stays LOADING for about LOADING_KEYS x KEY_LOAD_DELAY_US
# (2.5 s): Redis sleeps that long per key it loads from the AOF's RDB
# preamble, and answers clients (-LOADING) every 1 KiB loaded meanwhile.
LOADING_KEYS = 2500
KEY_LOAD_DELAY_US = 1000
SLOW_LOADING = ("--key-load-delay", str(KEY_LOAD_DELAY_US), "--loading-process-events-interval-bytes", "1024")
STREAM_ID_RE = re.compile(r"^\d+-\d+$")
CUSTOMERS = [("CP", "platinum"), ("CG", "gold"), ("CI", "iron"), ("CL", "lead")]


def setUpModule():
    global H
    H = harness.module_harness("tail")


# --------------------------------------------------------------------------
# Helpers


def call(c, event, **args):
    return c.request(f"CALL {event} " + json.dumps(args))


def call_ok(c, event, **args):
    return harness.parse_ok_json(call(c, event, **args))


def complaint_ok(c, action, **args):
    return harness.parse_ok_json(c.request(f"COMPLAINT {action} " + json.dumps(args)))


def seed_customers(r):
    for cid, tier in CUSTOMERS:
        r.command("HSET", P + "customer:" + cid, "id", cid, "name", "Customer " + cid, "tier", tier,
                  "status", "active")


def xrange_after(redis, stream, after="0-0"):
    """The pushes a tail resuming after `after` must deliver: every entry of
    the stream after that id, as {"id","seq",...entry}, in stream order."""
    start = "-" if after in ("0", "0-0") else "(" + after
    out = []
    with redis.client() as r:
        for sid, flat in r.command("XRANGE", KEYS[stream], start, "+"):
            f = {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}
            body = {"id": sid.decode(), "seq": int(f["seq"])}
            body.update(json.loads(f["entry"]))
            out.append(body)
    return out


def stream_head(redis, stream):
    """The id of the stream's newest entry, "0-0" when it is empty."""
    with redis.client() as r:
        last = r.command("XREVRANGE", KEYS[stream], "+", "-", "COUNT", "1")
    return last[0][0].decode() if last else "0-0"


def matches(filters, entry):
    """The documented filter rule: every key matches, each a string or any
    of an array of strings; an entry without the field does not match."""
    for key, want in filters.items():
        wants = [want] if isinstance(want, str) else want
        if entry.get(key) not in wants:
            return False
    return True


def tail_ok(c, args="calls"):
    """TAIL <args> -> the reply body (AssertionError unless OK)."""
    return c.request_json("TAIL " + args)


def pushes(c, kind):
    """Bodies of every `* kind {...}` line c has received so far."""
    return [harness.parse_push(p, kind) for p in c.pushes if p.startswith(f"* {kind} ")]


def wait_pushes(c, kind, n, timeout=None, stop_on_overflow=True, fail=True):
    """Read lines (bounded) until c has received n `* kind` pushes; return
    the bodies of all of them.  An unexpected `* overflow` fails at once.
    With fail=False, return what arrived by the deadline instead."""
    deadline = time.monotonic() + (T() if timeout is None else timeout)
    prefix = f"* {kind} "
    count = sum(1 for p in c.pushes if p.startswith(prefix))
    overflowed = any(p.startswith("* overflow ") for p in c.pushes)
    while count < n:
        if stop_on_overflow and overflowed:
            raise AssertionError(f"unexpected overflow after {count} of {n} '{kind}' pushes: "
                                 f"{[p for p in c.pushes if p.startswith('* overflow ')]}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if not fail:
                break
            raise AssertionError(f"only {count} of {n} '{kind}' pushes arrived in time; "
                                 f"last: {c.pushes[-2:]!r}")
        try:
            line = c.read_line(min(remaining, 1.0))
        except AssertionError:
            continue  # read timeout: loop, the overall deadline decides
        if line.startswith(prefix):
            count += 1
        elif line.startswith("* overflow "):
            overflowed = True
    return pushes(c, kind)


def log_calls(c, n_calls, tag, queue="mobile", events=("offer", "answer", "hold", "resume", "end"),
              batch=40, **offer):
    """Log n_calls whole calls (pipelined in batches); return the reply ids
    in order."""
    ids = []
    for start in range(0, n_calls, batch):
        lines = []
        for i in range(start, min(n_calls, start + batch)):
            cid = f"{tag}-{i}"
            for ev in events:
                args = {"call_id": cid}
                if ev == "offer":
                    args.update(queue=queue, **offer)
                elif ev == "end":
                    args["disposition"] = "resolved"
                lines.append(f"CALL {ev} " + json.dumps(args))
        c.send(("\n".join(lines) + "\n").encode())
        for _ in lines:
            ids.append(harness.parse_ok_json(c.read_reply())["id"])
    return ids


def retrying_caller(test, c, tag):
    """A function logging one CALL on c, retried with the same request_id
    (bounded) while Redis is in between and the daemon answers
    `ERR unavailable`; it returns the OK body."""
    rid = iter(range(10**6))

    def logged(event, **args):
        args["request_id"] = f"{tag}-{next(rid)}"
        for _ in range(100):
            reply = call(c, event, **args)
            if reply.startswith("OK"):
                return harness.parse_ok_json(reply)
            test.assertErr(reply, "unavailable")
            time.sleep(0.05)
        test.fail(f"CALL {event} {args} never succeeded")

    return logged


def check_gapless(test, got, want, what):
    """got == want, with a readable message on the first difference."""
    got_ids = [g["id"] for g in got]
    test.assertEqual(len(got_ids), len(set(got_ids)), f"{what}: an entry was pushed twice")
    want_ids = [w["id"] for w in want]
    if got_ids != want_ids:
        got_set, want_set = set(got_ids), set(want_ids)
        missing = [i for i in want_ids if i not in got_set]
        extra = [i for i in got_ids if i not in want_set]
        test.fail(f"{what}: {len(got_ids)} pushed, {len(want_ids)} expected; "
                  f"missing {missing[:5]} ({len(missing)}), extra {extra[:5]} ({len(extra)})")
    test.assertEqual(got, want, f"{what}: pushed bodies differ from the stream entries")


def daemon_redis_ports(pid, redis_port):
    """Local ports of the daemon's established TCP connections to Redis
    (its fds' socket inodes looked up in /proc/<pid>/net/tcp)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    ports = set()
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
                    if inode in inodes and state == "01" and int(remote.rsplit(":", 1)[1], 16) == redis_port:
                        ports.add(int(local.rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def redis_clients(redis):
    """CLIENT LIST of everyone but the asking connection: [{field: value}]."""
    with redis.client() as r:
        me = r.command("CLIENT", "ID")
        text = r.command("CLIENT", "LIST").decode()
    out = []
    for line in text.strip().splitlines():
        fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if int(fields["id"]) != me:
            out.append(fields)
    return out


vmrss_kb = harness.vmrss_kb


def rss_bound_kb(pid):
    """The RSS sanity bound: 200 MB, plus ASan's 256 MB quarantine of freed
    memory when the daemon runs with the address sanitizer."""
    return (200 + (400 if harness.has_asan(pid) else 0)) * 1024


def tails_stats(c):
    return harness.stats(c)["tails"]


# --------------------------------------------------------------------------


class TailTest(harness.TestCase):
    """One daemon; tests run one after another, so each compares what it
    received with the stream after its own `from`."""

    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address)
        cls.addClassCleanup(cls.daemon.stop)
        with cls.redis.client() as r:
            seed_customers(r)

    _n = 0

    def tag(self, what="c"):
        TailTest._n += 1
        return f"{what}-{os.getpid()}-{TailTest._n}"

    def test_basic_offer_answer_end_pushed_in_order(self):
        sup = self.connect_auth("super1")
        head = stream_head(self.redis, "calls")
        self.assertEqual(tail_ok(sup, "calls"), {"stream": "calls", "from": head})
        ag = self.connect_auth("agent1")
        cid = self.tag()
        replies = [call_ok(ag, "offer", call_id=cid, queue="mobile", customer_id="CG"),
                   call_ok(ag, "answer", call_id=cid),
                   call_ok(ag, "end", call_id=cid, disposition="resolved", csat=5)]
        got = wait_pushes(sup, "calls", 3)
        want = xrange_after(self.redis, "calls", head)
        self.assertEqual(len(want), 3, "nobody else writes during this test")
        check_gapless(self, got, want, "basic tail")
        for g in got:
            self.assertRegex(g["id"], STREAM_ID_RE)
        self.assertEqual([g["id"] for g in got], [r["id"] for r in replies], "pushed ids are the reply ids")
        self.assertEqual([(g["event"], g["state"], g["call_id"]) for g in got],
                         [("offer", "offered", cid), ("answer", "answered", cid), ("end", "ended", cid)])
        first_seq = 1 if head == "0-0" else xrange_after(self.redis, "calls")[-4]["seq"] + 1
        self.assertEqual([g["seq"] for g in got], [first_seq, first_seq + 1, first_seq + 2])
        for line in sup.pushes:
            self.assertTrue(line.startswith("* calls {"), line)
        self.assertEqual(got[2]["csat"], 5)
        self.assertEqual(got[0]["customer_id"], "CG")
        # nothing else arrives: a PING's reply comes after anything already queued
        self.assertOK(sup.request("PING"))
        self.assertEqual(len(sup.pushes), 3, sup.pushes)
        self.assertEqual(sup.pending(0.2), b"")

    def test_tail_from_zero_replays_the_whole_history(self):
        ag = self.connect_auth("agent2")
        with self.redis.client() as r:
            have = r.command("XLEN", KEYS["calls"])
        if have < 450:  # more than two catch-up pages (200 entries each)
            log_calls(ag, (450 - have) // 5 + 1, self.tag("hist"))
        want = xrange_after(self.redis, "calls", "0-0")
        self.assertGreaterEqual(len(want), 450)
        sup = self.connect_auth("super1")
        self.assertEqual(tail_ok(sup, "calls 0"), {"stream": "calls", "from": "0"})
        got = wait_pushes(sup, "calls", len(want), timeout=T(30))
        check_gapless(self, got, want, "TAIL calls 0")
        self.assertEqual([g["seq"] for g in got], list(range(1, len(want) + 1)))
        # and it goes on live
        ids = log_calls(ag, 1, self.tag("after"), events=("offer",))
        got = wait_pushes(sup, "calls", len(want) + 1)
        self.assertEqual(got[-1]["id"], ids[0])
        self.assertEqual(got[-1]["seq"], len(want) + 1)

    def test_resume_after_disconnect_no_gaps_no_repeats(self):
        ag = self.connect_auth("agent1")
        first = self.connect_auth("super1")
        start = tail_ok(first, "calls")["from"]
        log_calls(ag, 2, self.tag("r1"))  # 10 entries
        got = wait_pushes(first, "calls", 6)
        self.assertEqual(got, xrange_after(self.redis, "calls", start)[:6])
        last_seen = got[5]["id"]
        first.close()  # the wallboard goes away having processed 6 of them

        log_calls(ag, 10, self.tag("r2"))  # 50 more while it is away
        again = self.connect_auth("super1")
        self.assertEqual(tail_ok(again, "calls " + last_seen), {"stream": "calls", "from": last_seen})
        want = xrange_after(self.redis, "calls", last_seen)
        self.assertEqual(len(want), 4 + 50)
        got = wait_pushes(again, "calls", len(want))
        check_gapless(self, got, want, "resumed tail (history)")
        # then live ones, still without a gap
        log_calls(ag, 1, self.tag("r3"))
        want = xrange_after(self.redis, "calls", last_seen)
        got = wait_pushes(again, "calls", len(want))
        check_gapless(self, got, want, "resumed tail (history + live)")
        seqs = [g["seq"] for g in got]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        self.assertOK(again.request("PING"))
        self.assertEqual(len(pushes(again, "calls")), len(want), "nothing pushed twice")

    def test_catch_up_racing_live_writes(self):
        """Tails started (from $ and from older ids) while an agent keeps
        logging: each must get exactly the stream after its own `from`.
        (A tail from $ is one XREVRANGE, then an XRANGE catch-up from there,
        then live from the shared XREAD: an entry appended between the
        catch-up read and going live must not fall between the two.)"""
        ag = self.connect_auth("agent2")
        log_calls(ag, 2, self.tag("pre"))
        older = [w["id"] for w in xrange_after(self.redis, "calls", "0-0")[-10:]]
        done = threading.Event()
        errors = []

        def writer():
            try:
                w = harness.Client(self.daemon.port)
                try:
                    w.auth("agent1")
                    tag = self.tag("race")
                    for i in range(200):
                        cid = f"{tag}-{i}"
                        for ev, extra in (("offer", {"queue": "mobile"}), ("answer", {}),
                                          ("end", {"disposition": "resolved"})):
                            harness.parse_ok_json(call(w, ev, call_id=cid, **extra))
                finally:
                    w.close()
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                errors.append(repr(e))
            finally:
                done.set()

        sups = [self.connect_auth("super1") for _ in range(40)]  # logged in first: AUTH is slow
        th = threading.Thread(target=writer, daemon=True)
        th.start()
        tailers = []
        for i, c in enumerate(sups):
            if done.is_set():
                break
            spec = "calls" if i % 4 else "calls " + older[i % 10]
            tailers.append((c, spec, tail_ok(c, spec)["from"]))
            time.sleep(0.01)
        th.join(T(60))
        self.assertFalse(th.is_alive(), "writer did not finish")
        self.assertEqual(errors, [])
        for n, (c, spec, start) in enumerate(tailers):
            want = xrange_after(self.redis, "calls", start)
            wait_pushes(c, "calls", len(want), timeout=T(5), fail=False)
            self.assertOK(c.request("PING"))
            check_gapless(self, pushes(c, "calls"), want, f"tailer {n} (TAIL {spec} -> from {start})")
        print(f"\n  {len(tailers)} tails started while 600 entries were logged; each got its stream exactly",
              file=sys.stderr)

    def filtered_check(self, stream, tailers, everything):
        """Each (client, filters, from) must have received exactly the
        matching entries after its from, and its position must have moved
        past the filtered-out ones too (UNTAIL's last_id)."""
        last = everything[-1]["id"]
        for c, filters, start in tailers:
            want = [e for e in xrange_after(self.redis, stream, start) if matches(filters, e)]
            self.assertTrue(want, f"test setup: nothing matches {filters}")
            wait_pushes(c, stream, len(want))
            body = c.request_json("UNTAIL " + stream)
            self.assertEqual(body, {"stream": stream, "last_id": last},
                             f"{filters}: the position passes filtered-out entries too")
            check_gapless(self, pushes(c, stream), want, f"filter {filters}")

    def test_filters_on_calls(self):
        a1 = self.connect_auth("agent1")
        a2 = self.connect_auth("agent2")
        sup_all = self.connect_auth("super1")
        start = tail_ok(sup_all, "calls")["from"]
        specs = [
            {"queue": "broadband"},
            {"queue": ["broadband", "fixed"]},
            {"agent": "agent2"},
            {"event": "end"},
            {"queue": "mobile", "event": ["offer", "end"]},  # keys combine with AND
            {"state": "held"},
            {"customer_id": "CP"},
            {"tier": "platinum"},  # calls carry the customer's tier from the offer on
        ]
        tailers = []
        for f in specs:
            c = self.connect_auth("super1")
            body = tail_ok(c, "calls $ " + json.dumps(f))
            self.assertEqual(body["stream"], "calls")
            tailers.append((c, f, body["from"]))
        tag = self.tag("flt")
        log_calls(a1, 3, tag + "-m", queue="mobile")
        log_calls(a1, 2, tag + "-b", queue="broadband", customer_id="CP")
        log_calls(a2, 2, tag + "-f", queue="fixed")
        log_calls(a2, 2, tag + "-m2", queue="mobile", events=("offer", "answer", "end"))
        log_calls(a1, 1, tag + "-x", queue="other", events=("offer",))
        everything = xrange_after(self.redis, "calls", start)
        self.assertEqual(len(everything), 25 + 10 + 6 + 1)
        wait_pushes(sup_all, "calls", len(everything))
        self.filtered_check("calls", tailers, everything)

    def test_filters_on_complaints(self):
        ag = self.connect_auth("agent1")
        sup_all = self.connect_auth("super1")
        start = tail_ok(sup_all, "complaints")["from"]
        specs = [{"severity": ["high", "critical"]}, {"severity": "low"}, {"tier": "platinum"},
                 {"event": "ack", "severity": "high"}, {"customer_id": ["CG", "CL"]}]
        tailers = []
        for f in specs:
            c = self.connect_auth("super1")
            tailers.append((c, f, tail_ok(c, "complaints $ " + json.dumps(f))["from"]))
        opened = []
        for cust, sev in [("CP", "critical"), ("CG", "high"), ("CI", "low"), ("CL", "medium"),
                          ("CP", "low"), ("CI", "high")]:
            opened.append(complaint_ok(ag, "open", customer_id=cust, severity=sev, category="billing",
                                       summary="tail filter test")["complaint_id"])
        complaint_ok(ag, "ack", complaint_id=opened[1])
        complaint_ok(ag, "ack", complaint_id=opened[2])
        complaint_ok(ag, "resolve", complaint_id=opened[5], resolution="done")
        everything = xrange_after(self.redis, "complaints", start)
        self.assertEqual(len(everything), 9)
        wait_pushes(sup_all, "complaints", len(everything))
        self.filtered_check("complaints", tailers, everything)

    def test_bad_arguments(self):
        sup = self.connect_auth("super1")
        before = tails_stats(sup)["subscribers"]
        bad = [
            "TAIL",
            "TAIL orders",
            "TAIL calls abc",
            "TAIL calls 12-",
            "TAIL calls -5",
            "TAIL calls 1-2-3",
            "TAIL calls 12-x",
            "TAIL calls $$",
            'TAIL calls $ {"foo":"x"}',
            'TAIL calls $ {"queue":"mobile","Queue":"x"}',
            'TAIL calls {"call_id":"x"}',
            'TAIL calls $ {"queue":5}',
            'TAIL calls $ {"queue":[]}',
            'TAIL calls $ {"queue":["mobile",7]}',
            'TAIL calls $ {"queue":{"a":"b"}}',
            'TAIL calls $ {"queue":null}',
            'TAIL calls $ ["queue"]',
            'TAIL calls $ {"queue":"mobile"',
            'TAIL complaints 0 {"severity":"high"} extra',
            "UNTAIL",
            "UNTAIL orders",
            "UNTAIL calls complaints",
        ]
        for line in bad:
            with self.subTest(line=line):
                self.assertErr(sup.request(line), "bad_request")
        self.assertErr(sup.request('TAIL calls $ {"foo":"x"}'), "bad_request", r"foo")
        # none of them left a tail behind
        self.assertErr(sup.request("UNTAIL calls"), "not_found")
        self.assertErr(sup.request("UNTAIL complaints"), "not_found")
        self.assertEqual(tails_stats(sup)["subscribers"], before)
        # the connection is fine
        self.assertEqual(tail_ok(sup, 'calls $ {"queue":["mobile"]}')["stream"], "calls")
        self.assertEqual(sup.request_json("UNTAIL calls")["stream"], "calls")

    def test_id_beyond_64_bits_is_bad_request(self):
        """An id Redis cannot take must be refused, not accepted and then
        stuck (XRANGE errors on every retry)."""
        sup = self.connect_auth("super1")
        for spec in ["calls 99999999999999999999999-0", "calls 1-99999999999999999999999",
                     "calls 18446744073709551616"]:
            with self.subTest(spec=spec):
                reply = sup.request("TAIL " + spec)
                if reply.startswith("OK"):
                    sup.request("UNTAIL calls")
                self.assertErr(reply, "bad_request")

    def test_one_tail_per_stream_per_connection_both_streams_allowed(self):
        sup = self.connect_auth("super1")
        ag = self.connect_auth("agent1")
        tail_ok(sup, "calls")
        self.assertErr(sup.request("TAIL calls"), "conflict")
        self.assertErr(sup.request("TAIL calls 0"), "conflict")
        tail_ok(sup, 'complaints $ {"severity":"high"}')
        self.assertErr(sup.request("TAIL complaints"), "conflict")
        cid = self.tag()
        c_id = call_ok(ag, "offer", call_id=cid, queue="mobile")["id"]
        k = complaint_ok(ag, "open", customer_id="CI", severity="high", category="quality", summary="both")
        self.assertEqual(wait_pushes(sup, "calls", 1)[0]["id"], c_id)
        self.assertEqual(wait_pushes(sup, "complaints", 1)[0]["id"], k["id"])
        self.assertEqual(sup.request_json("UNTAIL calls"), {"stream": "calls", "last_id": c_id})
        self.assertErr(sup.request("UNTAIL calls"), "not_found")
        self.assertEqual(tail_ok(sup, "calls " + c_id), {"stream": "calls", "from": c_id})
        self.assertEqual(sup.request_json("UNTAIL complaints"), {"stream": "complaints", "last_id": k["id"]})
        self.assertEqual(sup.request_json("UNTAIL calls")["last_id"], c_id)

    def test_other_requests_on_a_tailing_connection(self):
        sup = self.connect_auth("super1")
        ag = self.connect_auth("agent2")
        start = tail_ok(sup, "calls")["from"]
        mark = len(sup.lines)
        # rounds of pipelined QUEUE STATS PING, each followed by an entry
        # logged and its push awaited: replies and pushes interleave
        tag = self.tag("i0")
        for i in range(10):
            sup.send("QUEUE\nSTATS\nPING\n")
            q, st, ping = sup.read_reply(), sup.read_reply(), sup.read_reply()
            self.assertEqual(set(harness.parse_ok_json(q)), {"calls", "queues", "logged_in", "complaints"})
            self.assertIn("uptime_s", harness.parse_ok_json(st))
            self.assertOK(ping)
            log_calls(ag, 1, f"{tag}-{i}", events=("offer",))
            wait_pushes(sup, "calls", i + 1)
        kinds = ["push" if line.startswith("* ") else "reply" for line in sup.lines[mark:]]
        self.assertEqual(kinds, ["reply", "reply", "reply", "push"] * 10)

        # pipelined requests, some with Redis round trips, while an agent logs
        stop = threading.Event()
        errors = []

        def writer():
            try:
                w = harness.Client(self.daemon.port)
                try:
                    w.auth("agent1")
                    tag = self.tag("i1")
                    for i in range(40):
                        if stop.is_set():
                            break
                        log_calls(w, 1, f"{tag}-{i}", batch=1)
                finally:
                    w.close()
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        th = threading.Thread(target=writer, daemon=True)
        th.start()
        kinds = ["QUEUE", "PING", "STATS", "HELP", "QUEUE", "TAIL calls", "UNTAIL complaints", "PING"] * 12
        sup.send("".join(k + "\n" for k in kinds))
        n_lines_before = len(sup.lines)
        replies = [sup.read_reply(T(20)) for _ in kinds]
        stop.set()
        th.join(T(60))
        self.assertFalse(th.is_alive())
        self.assertEqual(errors, [])
        for k, r in zip(kinds, replies):
            if k == "PING":
                self.assertOK(r)
            elif k == "STATS":
                self.assertIn("uptime_s", harness.parse_ok_json(r))
            elif k == "QUEUE":
                self.assertEqual(set(harness.parse_ok_json(r)), {"calls", "queues", "logged_in", "complaints"})
            elif k == "HELP":
                self.assertIn("TAIL", harness.parse_ok_json(r)["verbs"])
            elif k == "TAIL calls":
                self.assertErr(r, "conflict")
            else:
                self.assertErr(r, "not_found")
        among = sum(line.startswith("* ") for line in sup.lines[n_lines_before:])
        print(f"\n  {len(kinds)} pipelined replies in order; {among} pushes arrived among them",
              file=sys.stderr)
        for line in sup.lines:
            if line.startswith("* "):
                harness.parse_push(line, "calls")
            else:
                harness.check_reply_framing(line)
        want = xrange_after(self.redis, "calls", start)
        wait_pushes(sup, "calls", len(want))
        self.assertOK(sup.request("PING"))
        check_gapless(self, pushes(sup, "calls"), want, "tail on a busy connection")

    def test_agents_forbidden_untail_stops_pushes(self):
        ag = self.connect_auth("agent1")
        self.assertErr(ag.request("TAIL calls"), "forbidden")
        self.assertErr(ag.request("TAIL complaints 0"), "forbidden")
        self.assertErr(ag.request("UNTAIL calls"), "forbidden")
        self.assertErr(ag.request("QUEUE"), "forbidden")
        unauth = self.connect()
        self.assertErr(unauth.request("TAIL calls"), "auth_required")
        admin = self.connect_auth("admin1")
        self.assertEqual(tail_ok(admin, "calls")["stream"], "calls")

        sup = self.connect_auth("super1")
        self.assertErr(sup.request("UNTAIL calls"), "not_found")
        self.assertErr(sup.request("UNTAIL complaints"), "not_found")
        n0 = tails_stats(sup)["subscribers"]
        tail_ok(sup, "calls")
        self.assertEqual(tails_stats(sup)["subscribers"], n0 + 1)
        cid = self.tag()
        first = call_ok(ag, "offer", call_id=cid, queue="mobile")["id"]
        self.assertEqual(wait_pushes(sup, "calls", 1)[0]["id"], first)
        self.assertEqual(sup.request_json("UNTAIL calls"), {"stream": "calls", "last_id": first})
        self.assertEqual(tails_stats(sup)["subscribers"], n0)
        ids = [call_ok(ag, ev, call_id=cid, **extra)["id"]
               for ev, extra in (("answer", {}), ("hold", {}), ("resume", {}))]
        # the admin's tail sees them, so they have been broadcast
        got = wait_pushes(admin, "calls", 4)
        self.assertEqual([g["id"] for g in got], [first] + ids)
        self.assertOK(sup.request("PING"))
        self.assertEqual(len(sup.pushes), 1, f"pushed after UNTAIL: {sup.pushes[1:]}")
        self.assertEqual(sup.pending(0.3), b"")

    def test_pipelined_tail_then_untail(self):
        """TAIL $ needs a Redis round trip to learn where the stream ends;
        an UNTAIL pipelined behind it must not turn the TAIL into an error."""
        sup = self.connect_auth("super1")
        head = stream_head(self.redis, "calls")
        sup.send("TAIL calls\nUNTAIL calls\nPING\n")
        r_tail, r_untail, r_ping = sup.read_reply(), sup.read_reply(), sup.read_reply()
        self.assertOK(r_ping)
        self.assertEqual(r_tail, 'OK {"stream":"calls","from":"%s"}' % head)
        self.assertEqual(harness.parse_ok_json(r_untail), {"stream": "calls", "last_id": head})

    def test_closing_a_tailing_connection_frees_its_tail(self):
        base = self.connect_auth("super1")
        n0 = tails_stats(base)["subscribers"]
        cs = []
        for _ in range(5):
            c = self.connect_auth("super1")
            tail_ok(c, "calls")
            tail_ok(c, "complaints 0")
            cs.append(c)
        # one whose TAIL $ is still waiting for Redis when it goes
        quick = self.connect_auth("super1")
        quick.send("TAIL calls\n")
        quick.close()
        self.assertGreaterEqual(tails_stats(base)["subscribers"], n0 + 10)
        for c in cs:
            c.close()
        harness.wait_until(lambda: tails_stats(base)["subscribers"] == n0, what="tails freed")
        self.assertOK(base.request("PING"))


# --------------------------------------------------------------------------


class ManyTailersTest(harness.TestCase):
    def test_thirty_tailers_one_xread_connection(self):
        redis = H.start_redis()
        self.addCleanup(redis.stop)
        self.daemon = H.start_daemon(redis.address)
        self.addCleanup(self.daemon.stop)
        sup = self.connect_auth("super1")
        harness.wait_until(lambda: len(daemon_redis_ports(self.daemon.pid, redis.port)) == 2,
                           what="main and tail links up")

        def daemon_clients():
            ports = daemon_redis_ports(self.daemon.pid, redis.port)
            clients = redis_clients(redis)
            mine = [c for c in clients if int(c["addr"].rsplit(":", 1)[1]) in ports]
            return ports, clients, mine

        # (a RESP client of ours that just closed may linger for a moment)
        harness.wait_until(lambda: len(daemon_clients()[1]) == 2, what="only the daemon talks to this Redis")
        ports0, clients0, mine0 = daemon_clients()
        self.assertEqual(len(mine0), 2, clients0)

        tailers = []
        for _ in range(30):
            c = self.connect_auth("super1")
            tailers.append((c, tail_ok(c, "calls")["from"]))
        self.assertEqual(tails_stats(sup)["subscribers"], 30)
        ag = self.connect_auth("agent1")
        log_calls(ag, 6, "many")  # 30 entries
        for n, (c, start) in enumerate(tailers):
            want = xrange_after(redis, "calls", start)
            self.assertEqual(len(want), 30)
            wait_pushes(c, "calls", 30)
            self.assertOK(c.request("PING"))
            check_gapless(self, pushes(c, "calls"), want, f"tailer {n}")

        try:
            harness.wait_until(lambda: len(daemon_clients()[1]) == 2, timeout=T(3), what="two Redis clients")
        except AssertionError:
            self.fail(f"Redis clients with 30 tailers: {redis_clients(redis)}")
        ports1, clients1, mine1 = daemon_clients()
        print(f"\n  Redis clients from the daemon with 0 tailers: {len(mine0)}, with 30: {len(mine1)} "
              f"(cmds {sorted(c['cmd'] for c in mine1)})", file=sys.stderr)
        self.assertEqual(len(mine1), 2, clients1)
        self.assertEqual(len(clients1), 2, clients1)
        self.assertEqual(ports1, ports0, "the same two connections, none added for tailers")
        # exactly one of them is the blocking reader
        harness.wait_until(lambda: sum(c["cmd"] == "xread" for c in daemon_clients()[2]) == 1,
                           what="one XREAD connection")
        self.assertGreaterEqual(tails_stats(sup)["pushed"], 30 * 30)
        for c, _ in tailers:
            c.close()
        harness.wait_until(lambda: tails_stats(sup)["subscribers"] == 0, what="all tails freed")
        self.assertEqual(len(daemon_clients()[2]), 2)


# --------------------------------------------------------------------------


class OverflowTest(harness.TestCase):
    MAX_OUTPUT = 65536

    def setUp(self):
        self.redis = H.start_redis()
        self.addCleanup(self.redis.stop)
        self.daemon = H.start_daemon(self.redis.address, limits={"max_output": self.MAX_OUTPUT})
        self.addCleanup(self.daemon.stop)

    def test_slow_supervisor_overflows_agents_and_others_unaffected(self):
        """A supervisor that never reads (tiny SO_RCVBUF) while agents log
        4000 events of ~1.2 kB: the kernel's loopback send buffer (autotuned
        to ~4 MB) takes the first few MB, then the daemon's own backlog for
        it passes max_output/2 and the tail is stopped with * overflow."""
        d = self.daemon
        admin = self.connect_auth("admin1")
        slow = self.connect_auth("super1", rcvbuf=4096)
        slow_from = tail_ok(slow, "calls")["from"]
        base = len(slow.lines)  # what it reads from here on: pushes, then * overflow
        good = self.connect_auth("super1")
        good_from = tail_ok(good, "calls")["from"]
        n_calls, events = 800, ("offer", "answer", "hold", "resume", "end")
        total = n_calls * len(events)
        note = "n" * 1000

        # the well-behaved supervisor reads all the time, in its own thread
        good_state = {"error": None}

        def read_good():
            try:
                wait_pushes(good, "calls", total, timeout=T(180))
            except Exception as e:  # noqa: BLE001 - reported below
                good_state["error"] = repr(e)

        reader = threading.Thread(target=read_good, daemon=True)
        reader.start()

        ag = self.connect_auth("agent1")
        latencies, rss = [], [vmrss_kb(d.pid)]
        for i in range(n_calls):
            cid = f"ovf-{i}"
            for ev in events:
                args = {"call_id": cid, "note": note}
                if ev == "offer":
                    args["queue"] = "mobile"
                elif ev == "end":
                    args["disposition"] = "resolved"
                t0 = time.monotonic()
                reply = ag.request(f"CALL {ev} " + json.dumps(args), timeout=T(5))
                latencies.append(time.monotonic() - t0)
                harness.parse_ok_json(reply)
            if i % 50 == 0:
                rss.append(vmrss_kb(d.pid))
        rss.append(vmrss_kb(d.pid))
        bound = rss_bound_kb(d.pid)
        lat = sorted(latencies)
        print(f"\n  {len(lat)} agent requests with a stalled tail: p50 {lat[len(lat) // 2] * 1000:.2f} ms, "
              f"p99 {lat[len(lat) * 99 // 100] * 1000:.2f} ms, max {lat[-1] * 1000:.2f} ms; "
              f"daemon VmRSS {rss[0] // 1024}..{max(rss) // 1024} MB (bound {bound // 1024} MB)", file=sys.stderr)
        self.assertLess(max(rss), bound, "daemon RSS sanity bound")

        everything = xrange_after(self.redis, "calls", slow_from)
        self.assertEqual(len(everything), total)
        self.assertEqual(good_from, slow_from)

        # the good supervisor got every entry, no overflow
        reader.join(T(180))
        self.assertFalse(reader.is_alive(), "good supervisor's reader still running")
        self.assertIsNone(good_state["error"])
        self.assertOK(good.request("PING"))
        check_gapless(self, pushes(good, "calls"), everything, "well-behaved supervisor")
        self.assertFalse([p for p in good.pushes if p.startswith("* overflow")])

        st = tails_stats(admin)
        self.assertGreaterEqual(st["overflows"], 1)
        self.assertEqual(st["subscribers"], 1, "the slow tail was stopped, the good one goes on")
        d.wait_log(r"tail of calls stopped")

        # the slow one: drain its socket; a gapless prefix, then * overflow
        deadline = time.monotonic() + T(60)
        while True:
            self.assertLess(time.monotonic(), deadline, "no * overflow line")
            self.assertLess(len(slow.lines), base + total + 1, "no * overflow line")
            if slow.read_line(T(10)).startswith("* overflow "):
                break
        ovf_at = len(slow.lines) - 1
        prefix = [harness.parse_push(line, "calls") for line in slow.lines[base:ovf_at]]
        self.assertLess(len(prefix), total, "it overflowed before the end")
        check_gapless(self, prefix, everything[:len(prefix)], "slow supervisor before its overflow")
        ovf = harness.parse_push(slow.lines[ovf_at], "overflow")
        last_id = prefix[-1]["id"] if prefix else slow_from
        self.assertEqual(ovf, {"stream": "calls", "last_id": last_id})
        self.assertOK(slow.request("PING"))
        self.assertEqual(slow.lines[ovf_at + 1:], ["OK"], "nothing pushed after the overflow")
        self.assertErr(slow.request("UNTAIL calls"), "not_found", msg="the tail was stopped")
        print(f"  slow supervisor: {len(prefix)} entries (~{sum(map(len, slow.lines[base:ovf_at])) // 1024} kB), "
              f"then * overflow at {last_id}", file=sys.stderr)

        # Resume from last_id with a reader that keeps up: the rest, no gap,
        # no repeat.  Should it be told to overflow again while catching up,
        # it resumes again (counted and printed; that it should not is
        # test_catch_up_of_a_prompt_reader_does_not_overflow).
        rest = everything[len(prefix):]
        resumer = self.connect_auth("super1")
        got, resumes, pos = [], 0, last_id
        while True:
            self.assertEqual(tail_ok(resumer, "calls " + pos), {"stream": "calls", "from": pos})
            mark = len(resumer.pushes)
            deadline = time.monotonic() + T(30)
            n_new, overflowed = 0, False
            while len(got) + n_new < len(rest) and not overflowed:
                self.assertLess(time.monotonic(), deadline, "resumed tail stalled")
                try:
                    line = resumer.read_line(1.0)
                except AssertionError:
                    continue
                n_new += line.startswith("* calls ")
                overflowed = line.startswith("* overflow ")
            new = resumer.pushes[mark:]
            fresh = [harness.parse_push(p, "calls") for p in new if p.startswith("* calls ")]
            got += fresh
            if not overflowed:
                break
            resumes += 1
            self.assertTrue(fresh, "a resume that delivers nothing makes no progress")
            self.assertLessEqual(resumes, len(rest))
            o = harness.parse_push(new[-1], "overflow")
            self.assertEqual(o, {"stream": "calls", "last_id": got[-1]["id"]})
            pos = o["last_id"]
        self.assertOK(resumer.request("PING"))
        check_gapless(self, got, rest, "slow supervisor resumed from its last_id")
        print(f"  resumed from {last_id}: {len(got)} entries, {resumes} further overflow(s) while catching up",
              file=sys.stderr)
        self.assertGreaterEqual(tails_stats(admin)["overflows"], 1 + resumes)
        self.assertLess(vmrss_kb(d.pid), bound)

    def test_catch_up_of_a_prompt_reader_does_not_overflow(self):
        """A supervisor that reads everything at once must be able to catch
        up from an old id: the backlog is the daemon's own (an XRANGE page
        fed in one go), not the client's."""
        ag = self.connect_auth("agent1")
        log_calls(ag, 200, "cu")  # 1000 entries of ~250 bytes: far above max_output/2 in all
        want = xrange_after(self.redis, "calls", "0-0")
        sup = self.connect_auth("super1")
        tail_ok(sup, "calls 0")
        deadline = time.monotonic() + T(30)
        while len(pushes(sup, "calls")) < len(want):
            if any(p.startswith("* overflow ") for p in sup.pushes):
                break
            self.assertLess(time.monotonic(), deadline, "catch-up stalled")
            try:
                sup.read_line(1.0)
            except AssertionError:
                pass
        ovf = [p for p in sup.pushes if p.startswith("* overflow ")]
        got = pushes(sup, "calls")
        page = sum(len(json.dumps(w, separators=(",", ":"))) + 9 for w in want[:200])
        self.assertEqual(ovf, [], f"a prompt reader overflowed after {len(got)} of {len(want)} entries "
                                 f"(one 200-entry catch-up page is ~{page} bytes; max_output/2 is "
                                 f"{self.MAX_OUTPUT // 2})")
        check_gapless(self, got, want, "catch-up from 0")


# --------------------------------------------------------------------------


class QueueTest(harness.TestCase):
    def test_queue_figures(self):
        redis = H.start_redis()
        self.addCleanup(redis.stop)
        self.daemon = H.start_daemon(redis.address)
        self.addCleanup(self.daemon.stop)
        with redis.client() as r:
            seed_customers(r)
        sup = self.connect_auth("super1")
        a1 = self.connect_auth("agent1")
        a2 = self.connect_auth("agent2")
        self.connect_auth("admin1")  # counted nowhere
        self.connect()               # not logged in

        empty = sup.request_json("QUEUE")
        self.assertEqual(empty, {
            "calls": {"waiting": 0, "in_progress": 0, "on_hold": 0}, "queues": {},
            "logged_in": {"agents": 2, "supervisors": 1},
            "complaints": {"open": 0, "by_severity": {}, "by_tier": {}, "by_state": {}, "overdue": 0,
                           "oldest_open_age_s": None}})
        self.assertErr(sup.request("QUEUE now"), "bad_request")

        def calls(c, queue, tag, steps):
            for i, evs in enumerate(steps):
                cid = f"q-{queue}-{tag}-{i}"
                for ev in evs:
                    args = {"call_id": cid}
                    if ev == "offer":
                        args["queue"] = queue
                    elif ev == "end":
                        args["disposition"] = "resolved"
                    elif ev == "transfer":
                        args["to"] = "agent2"
                    call_ok(c, ev, **args)

        waiting, talking, held = ["offer"], ["offer", "answer"], ["offer", "answer", "hold"]
        ended, abandoned = ["offer", "answer", "end"], ["offer", "end"]
        resumed, moved = ["offer", "answer", "hold", "resume"], ["offer", "answer", "transfer"]
        # mobile: 2 waiting, 3 in progress, 1 on hold
        calls(a1, "mobile", "a", [waiting, waiting, talking, resumed, held, ended, abandoned])
        calls(a1, "mobile", "b", [moved])
        # broadband: 1 waiting, 1 in progress, 2 on hold
        calls(a2, "broadband", "c", [waiting, talking, held, held, ended])

        opened = {}
        for name, cust, sev in [("k1", "CP", "critical"), ("k2", "CG", "high"), ("k3", "CL", "low"),
                                ("k4", "CL", "low"), ("k5", "CI", "medium"), ("k6", "CG", "low")]:
            opened[name] = complaint_ok(a1, "open", customer_id=cust, severity=sev, category="billing",
                                        summary="queue test")["complaint_id"]
        complaint_ok(a1, "ack", complaint_id=opened["k2"])
        complaint_ok(a1, "ack", complaint_id=opened["k3"])
        complaint_ok(a1, "progress", complaint_id=opened["k3"])
        complaint_ok(a1, "resolve", complaint_id=opened["k5"], resolution="fixed")  # no longer open
        complaint_ok(a1, "resolve", complaint_id=opened["k6"], resolution="fixed")
        complaint_ok(a1, "close", complaint_id=opened["k6"])
        # k4 is overdue: opened two hours ago, due an hour ago
        now = int(time.time())
        with redis.client() as r:
            k4 = opened["k4"]
            r.command("HSET", P + "complaint:" + k4, "due", str(now - 3600), "opened_at", str(now - 7200))
            r.command("ZADD", P + "complaints:open", str(now - 3600), k4)

        body = sup.request_json("QUEUE")
        after = int(time.time())
        age = body["complaints"].pop("oldest_open_age_s")
        self.assertEqual(body, {
            "calls": {"waiting": 3, "in_progress": 4, "on_hold": 3},
            "queues": {"mobile": {"waiting": 2, "in_progress": 3, "on_hold": 1},
                       "broadband": {"waiting": 1, "in_progress": 1, "on_hold": 2}},
            "logged_in": {"agents": 2, "supervisors": 1},
            "complaints": {"open": 4,
                           "by_severity": {"critical": 1, "high": 1, "low": 2},
                           "by_tier": {"platinum": 1, "gold": 1, "lead": 2},
                           "by_state": {"open": 2, "acknowledged": 1, "in_progress": 1},
                           "overdue": 1}})
        self.assertIsInstance(age, int)
        self.assertGreaterEqual(age, now - (now - 7200))
        self.assertLessEqual(age, after - (now - 7200) + 1)

        # logged_in follows the connections to this daemon
        extra = [self.connect_auth("agent1") for _ in range(3)] + [self.connect_auth("super1")]
        harness.wait_until(lambda: sup.request_json("QUEUE")["logged_in"] == {"agents": 5, "supervisors": 2},
                           what="logged_in with more connections")
        a2.close()
        for c in extra:
            c.close()
        harness.wait_until(lambda: sup.request_json("QUEUE")["logged_in"] == {"agents": 1, "supervisors": 1},
                           what="logged_in after disconnects")
        # admins may look too
        self.assertEqual(self.connect_auth("admin1").request_json("QUEUE")["calls"]["on_hold"], 3)


# --------------------------------------------------------------------------


class RedisRestartTest(harness.TestCase):
    def test_tail_survives_redis_kill9_and_restart(self):
        redis = H.start_redis(extra_args=AOF)
        self.addCleanup(redis.stop)
        self.daemon = d = H.start_daemon(redis.address, redis={"reconnect_min_ms": 50, "reconnect_max_ms": 200,
                                                               "command_timeout_ms": 1000})
        self.addCleanup(d.stop)
        sup = self.connect_auth("super1")
        start = tail_ok(sup, "calls")["from"]
        ag = self.connect_auth("agent1")
        logged = retrying_caller(self, ag, "rr")

        for ev, extra in (("offer", {"queue": "mobile"}), ("answer", {}), ("end", {"disposition": "resolved"})):
            logged(ev, call_id="before", **extra)
        wait_pushes(sup, "calls", 3)

        for round_ in range(2):
            mark = d.log_mark()
            redis.kill9()
            d.wait_log(r"redis link down: tail", since=mark)
            # a tail started during the outage from a known id is accepted
            # and catches up once Redis is back; TAIL $ needs Redis
            late = self.connect_auth("super1")
            self.assertEqual(tail_ok(late, "calls " + start)["from"], start)
            self.assertErr(late.request("TAIL complaints"), "unavailable")
            # writes during the outage are spooled, replayed when it is back
            spooled = [logged(ev, call_id=f"during-{round_}", **extra)
                       for ev, extra in (("offer", {"queue": "mobile"}), ("answer", {}))]
            self.assertTrue(all(b.get("spooled") for b in spooled), spooled)
            redis.restart()
            d.wait_log(r"redis link up: tail", since=mark)
            harness.wait_until(lambda: harness.stats(sup)["spool"]["pending"] == 0, timeout=T(30),
                               what="spool drained")
            for ev, extra in (("offer", {"queue": "broadband"}), ("answer", {}), ("end", {"disposition": "sale"})):
                logged(ev, call_id=f"after-{round_}", **extra)

            want = xrange_after(redis, "calls", start)
            self.assertEqual(len(want), 3 + (round_ + 1) * 5, [w["call_id"] for w in want])
            for who, c in (("the tail that lived through it", sup), ("a tail started during the outage", late)):
                wait_pushes(c, "calls", len(want), timeout=T(30))
                self.assertOK(c.request("PING"))
                check_gapless(self, pushes(c, "calls"), want, f"round {round_}: {who}")
            late.close()
        self.assertEqual(tails_stats(sup)["subscribers"], 1)


class RedisLoadingTest(harness.TestCase):
    """The daemon reconnects to a restarted Redis that is still loading its
    AOF: its check of where the streams end is answered -LOADING.  The tail
    reader must go on from its own position once loading is over (it used
    to stop until the next reconnect, and the tail got nothing more), its
    refused XREADs are retried with backoff (they used to spin), and the
    check of the acknowledged entries, refused too, is tried again until
    Redis answers (it used to give up, leaving losses unnoticed)."""

    def test_tail_goes_on_after_a_reconnect_answered_loading(self):
        redis = H.start_redis(extra_args=AOF + SLOW_LOADING)
        self.addCleanup(redis.stop)
        with redis.client() as r:
            replies = r.pipeline(*[("SET", f"filler:{i}", "x") for i in range(LOADING_KEYS)])
            self.assertEqual(set(replies), {"OK"})
            # Into the RDB preamble, which key-load-delay slows down key by key.
            r.command("BGREWRITEAOF")
        harness.wait_until(lambda: aof_rewritten(redis), what="the AOF rewrite")
        self.daemon = d = H.start_daemon(redis.address, redis={"reconnect_min_ms": 50, "reconnect_max_ms": 200,
                                                               "command_timeout_ms": 1000})
        self.addCleanup(d.stop)
        sup = self.connect_auth("super1")
        start = tail_ok(sup, "calls")["from"]
        logged = retrying_caller(self, self.connect_auth("agent1"), "ld")
        for ev, extra in (("offer", {"queue": "mobile"}), ("answer", {}), ("end", {"disposition": "resolved"})):
            logged(ev, call_id="before", **extra)
        wait_pushes(sup, "calls", 3)

        mark = d.log_mark()
        redis.stop()
        d.wait_log(r"redis link down: tail", since=mark)
        redis.restart()  # returns once PING is answered: loading is over
        for ev, extra in (("offer", {"queue": "broadband"}), ("answer", {}), ("end", {"disposition": "sale"})):
            logged(ev, call_id="after", **extra)

        want = xrange_after(redis, "calls", start)
        self.assertEqual([w["call_id"] for w in want], ["before"] * 3 + ["after"] * 3)
        wait_pushes(sup, "calls", len(want), timeout=T(15))
        check_gapless(self, pushes(sup, "calls"), want, "after a reconnect answered LOADING")
        self.assertOK(sup.request("PING"))
        # Proof that the reconnect fell in the window (without the fix the
        # reader stops silently, and the wait above fails first).
        self.assertIsNotNone(
            d.find_log(r" warn tail: reading where calls ends failed: LOADING ", since=mark),
            "the daemon did not reconnect while Redis was loading: this test missed the window\n"
            + d.log_tail())
        # The same window for the check of the acknowledged entries (loss.h):
        # refused, it is tried again once Redis has loaded, finds all of
        # them, and the tail reader's refused XREADs were paced, not spun.
        d.wait_log(r"log: looked up the acknowledged entries after Redis had refused to", since=mark)
        text = d.log_text(since=mark)
        self.assertNotIn("lost by Redis", text)
        self.assertLessEqual(text.count("tail: XREAD failed"), 1, "one line per streak of refused XREADs")
        # The journal's SCRIPT LOAD, refused too, was sent again once Redis
        # answered: the appends after the first went back to EVALSHA (each
        # reads its call's state first, on the same connection, so the
        # script is loaded by then) instead of sending the script's text.
        self.assertIsNotNone(d.find_log(r"journal: SCRIPT LOAD failed: LOADING", since=mark))
        with redis.client() as r:
            stats = r.command("INFO", "commandstats").decode()
        evalsha = re.search(r"^cmdstat_evalsha:calls=(\d+)", stats, re.M)
        self.assertIsNotNone(evalsha, stats)
        self.assertGreaterEqual(int(evalsha.group(1)), 2, stats)


def aof_rewritten(redis):
    """True once no AOF rewrite is running or scheduled and the last one
    succeeded (AssertionError if it failed)."""
    with redis.client() as r:
        info = dict(line.split(":", 1) for line in r.command("INFO", "persistence").decode().split("\r\n")
                    if ":" in line)
    if info["aof_rewrite_in_progress"] != "0" or info["aof_rewrite_scheduled"] != "0":
        return False
    assert info["aof_last_bgrewrite_status"] == "ok", info
    return True


if __name__ == "__main__":
    unittest.main(verbosity=2)
