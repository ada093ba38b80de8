"""`hotline import queue-log`: a hand-written Asterisk queue_log into the
calls stream of a real Redis (twice: the second import writes nothing; an
overlapping file writes only its new lines), into an export file (its hash
chain checked here with hashlib, independently of chain.c), and into the
stream while hotlined logs calls at the same time (the chain stays one:
`hotline verify` exit 0, seq contiguous).  Also: phone -> customer
resolution, the pathologies noted with FILE:LINE, malformed lines (exit 1),
--dry-run, an unreachable Redis (exit 2) and usage errors (64)."""

import json
import os
import re
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
P = harness.KEY_PREFIX
CALLS = P + "log:calls"
SEEN = P + "import:queue_log"

SUMMARY_RE = re.compile(r"^(\S+): lines (\d+), entries (\d+), written (\d+), duplicates (\d+), "
                        r"malformed (\d+)( \(dry run\))?$", re.M)

# A morning in a small call centre, with every pathology the importer keeps.
QUEUE_LOG = """\
1366720300|NONE|NONE|NONE|QUEUESTART|
1366720301|MANAGER|sales|SIP/8007|ADDMEMBER|
1366720302|NONE|sales|SIP/8007|PAUSE|lunch
1366720303|NONE|sales|SIP/8007|UNPAUSE|
1366720340|1366720340.1|sales|NONE|DID|4008001234
1366720340|1366720340.1|sales|NONE|ENTERQUEUE||13800138000|1
1366720341|1366720340.1|sales|SIP/8008|RINGNOANSWER|15000
1366720356|1366720340.1|sales|SIP/8007|CONNECT|16|1366720341.2|3
1366720456|1366720340.1|sales|SIP/8007|COMPLETECALLER|16|100|1
1366720500|1366720500.3|sales|NONE|ENTERQUEUE||02079460958|1
1366720530|1366720500.3|sales|NONE|ABANDON|1|1|30
1366720600|1366720600.4|sales|NONE|ENTERQUEUE||+442079460958|1
1366720700|1366720700.5|sales|NONE|ENTERQUEUE||13900139000|1
1366720705|1366720700.5|sales|SIP/8009|CONNECT|5|1366720705.9|2
1366720765|1366720700.5|sales|SIP/8009|BLINDTRANSFER|2001|from-internal|5|60|1
1366720800|1366720800.6|sales|NONE|ENTERQUEUE||555|1
1366720805|1366720800.6|sales|SIP/8007|CONNECT|5|1366720805.9|2
1366720900|1366720900.7|sales|SIP/8008|COMPLETEAGENT|10|50|1
"""
ENTRIES = 12  # 5 offers, 3 answers, 3 ends, 1 end of a call first seen mid-way

# Lines 10..18 again, and what happened next to the two calls left open.
OVERLAP = "".join(QUEUE_LOG.splitlines(keepends=True)[9:]) + """\
1366720990|1366720600.4|sales|NONE|EXITWITHTIMEOUT|1|1|390
1366721000|1366720800.6|sales|SIP/8007|COMPLETEAGENT|5|195|2
"""


def setUpModule():
    global H
    H = harness.module_harness("queue_log")


def summary(text):
    m = SUMMARY_RE.search(text)
    if not m:
        raise AssertionError(f"no summary line in {text!r}")
    name, lines, entries, written, dups, malformed, dry = m.groups()
    return {"lines": int(lines), "entries": int(entries), "written": int(written), "duplicates": int(dups),
            "malformed": int(malformed), "dry_run": bool(dry)}


def by_call(entries):
    out = {}
    for e in entries:
        out.setdefault(e["call_id"], []).append(e)
    return out


def file_chain(path):
    """An export file as [(id, {field: bytes})], ready for harness.chain_problems."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            if o.get("stream") != "calls":
                raise AssertionError(f"stream {o.get('stream')!r} in {line!r}")
            rows.append((o["id"], {k: o[k].encode() for k in ("seq", "prev", "hash", "entry")}))
    return rows


class QueueLogImportTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address, phone={"default_country": "86"})
        cls.addClassCleanup(cls.daemon.stop)

    def setUp(self):
        self.r = self.redis.client()
        self.addCleanup(self.r.close)
        self.r.command("FLUSHALL")
        # Ann's number has one customer; a switchboard number has two (not guessed).
        harness.put_customer(self.r, "c-ann", "Ann", phones=["+8613800138000"])
        harness.put_customer(self.r, "c-b1", "Board 1", phones=["+862079460958"])
        harness.put_customer(self.r, "c-b2", "Board 2", phones=["+862079460958"])

    def write(self, name, text):
        path = H.path(name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def run_import(self, *args, config=True):
        cmd = [harness.HOTLINE, "import", "queue-log", *args]
        if config:
            cmd += ["-c", self.daemon.config_path]
            # Operators import as the ACL's hotline-admin, not as the daemon's user.
            if "--out" not in args and "--dry-run" not in args:
                cmd += harness.admin_login_args()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=H.tmp, timeout=T(120))
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def imported(self):
        return [e for e in harness.stream_entries(self.r, CALLS) if e.get("source") == "queue_log"]

    def assertVerified(self):
        res = harness.hotline_verify(self.daemon, "calls")
        self.assertIsNotNone(res, "hotline verify is missing")
        self.assertEqual(res, (0, []))
        self.assertEqual(harness.chain_problems(harness.read_stream(self.r, CALLS)), [])

    def test_import_then_reimport_writes_nothing(self):
        path = self.write("q.log", QUEUE_LOG)
        rc, out, err = self.run_import(path)
        self.assertEqual(rc, 0, out + err)
        s = summary(out)
        self.assertEqual((s["lines"], s["entries"], s["written"], s["duplicates"], s["malformed"]),
                         (18, ENTRIES, ENTRIES, 0, 0), out)
        self.assertIn("skipped by kind: ADDMEMBER 1, PAUSE 1, QUEUESTART 1, RINGNOANSWER 1, UNPAUSE 1\n", out)
        self.assertIn("left open: 1 waiting in a queue (no exit event), 1 connected (no completion or transfer)",
                      out)
        self.assertIn("calls: first seen mid-call 1,", out)
        self.assertIn(f"{path}:12: note: call ast-1366720600.4 entered queue sales here and has no exit event", err)
        self.assertIn(f"{path}:17: note: call ast-1366720800.6 was connected to SIP/8007 here", err)
        self.assertIn(f"{path}:18: note: call ast-1366720900.7: COMPLETEAGENT with no ENTERQUEUE", err)

        entries = self.imported()
        self.assertEqual(len(entries), ENTRIES)
        calls = by_call(entries)
        ann = calls["ast-1366720340.1"]
        self.assertEqual([e["event"] for e in ann], ["offer", "answer", "end"])
        self.assertEqual([e["state"] for e in ann], ["offered", "answered", "ended"])
        self.assertTrue(all(e.get("customer_id") == "c-ann" for e in ann), ann)
        self.assertEqual(ann[0]["phone"], "+8613800138000")
        self.assertEqual(ann[0]["dnis"], "+864008001234")
        self.assertEqual(ann[0]["ts"], "2013-04-23T12:32:20.000Z")
        self.assertEqual((ann[1]["agent"], ann[1]["role"]), ("SIP/8007", "agent"))
        self.assertEqual((ann[2]["disposition"], ann[2]["leg_ms"]), ("caller_hangup", 100000))
        board = calls["ast-1366720500.3"]
        self.assertNotIn("customer_id", board[0], "two customers share the number: none is guessed")
        self.assertEqual(board[-1]["state"], "abandoned")
        self.assertEqual([e["state"] for e in calls["ast-1366720600.4"]], ["offered"])
        moved = calls["ast-1366720700.5"][-1]
        self.assertEqual((moved["disposition"], moved["to"], moved["leg_ms"]),
                         ("transferred", "2001@from-internal", 60000))
        self.assertEqual([e["state"] for e in calls["ast-1366720900.7"]], ["ended"])
        for e in entries:
            self.assertRegex(e["source_id"], r"^ql-[0-9a-f]{32}$")
            self.assertRegex(e["ts"], harness.TS_RE)
        self.assertEqual(self.r.command("HLEN", SEEN), ENTRIES)
        first_id = harness.read_stream(self.r, CALLS)[0][0]
        self.assertEqual(self.r.command("HGET", SEEN, entries[0]["source_id"]).decode(), first_id)
        self.assertVerified()

        # The same file again: nothing is written, the stream is as it was.
        before = harness.read_stream(self.r, CALLS)
        rc, out, err = self.run_import(path)
        self.assertEqual(rc, 0, out + err)
        s = summary(out)
        self.assertEqual((s["entries"], s["written"], s["duplicates"]), (ENTRIES, 0, ENTRIES), out)
        self.assertEqual(harness.read_stream(self.r, CALLS), before)

        # An overlapping file: only its two new lines are written, and they end the open calls.
        rc, out, err = self.run_import(self.write("q2.log", OVERLAP))
        self.assertEqual(rc, 0, out + err)
        s = summary(out)
        self.assertEqual((s["written"], s["duplicates"]), (2, s["entries"] - 2), out)
        self.assertIn("left open: 0 waiting in a queue (no exit event), 0 connected", out)
        calls = by_call(self.imported())
        self.assertEqual(calls["ast-1366720600.4"][-1]["state"], "abandoned")
        self.assertEqual(calls["ast-1366720600.4"][-1]["disposition"], "timeout")
        self.assertEqual(calls["ast-1366720800.6"][-1]["state"], "ended")
        self.assertEqual(calls["ast-1366720800.6"][-1]["leg_ms"], 195000)
        self.assertEqual(len(self.imported()), ENTRIES + 2)
        self.assertVerified()

    def test_export_file_has_its_own_valid_chain(self):
        path = self.write("q.log", QUEUE_LOG)
        out_path = H.path("calls.jsonl")
        rc, out, err = self.run_import(path, "--out", out_path)
        self.assertEqual(rc, 0, out + err)
        s = summary(out)
        self.assertEqual((s["entries"], s["written"]), (ENTRIES, ENTRIES), out)
        rows = file_chain(out_path)
        self.assertEqual(len(rows), ENTRIES)
        # hashlib, seq 1.. from the genesis prev, prev links, and ids strictly increasing.
        self.assertEqual(harness.chain_problems(rows), [])
        self.assertEqual(rows[0][1]["prev"].decode(), harness.GENESIS)
        self.assertEqual(rows[0][0], "1366720340000-0")
        entries = [json.loads(f["entry"]) for _, f in rows]
        self.assertEqual([e["source"] for e in entries], ["queue_log"] * ENTRIES)
        self.assertNotIn("customer_id", entries[0], "no Redis, no phone index: nothing resolved")
        # Redis was not written to, and no temporary file is left beside the export.
        self.assertEqual(self.r.command("EXISTS", CALLS, SEEN), 0)
        self.assertEqual(sorted(n for n in os.listdir(H.tmp) if n.startswith("calls.jsonl")), ["calls.jsonl"])
        # A tampered copy is caught by the same independent check.
        tampered = rows[:3] + [rows[4], rows[3]] + rows[5:]
        self.assertNotEqual(harness.chain_problems(tampered), [])

        # The same entries go to Redis, customer ids aside.
        rc, out, err = self.run_import(path)
        self.assertEqual(rc, 0, out + err)
        live = self.imported()
        for e in live:
            e.pop("customer_id", None)
        self.assertEqual(live, entries)

    def test_export_to_stdout_keeps_the_summary_apart(self):
        rc, out, err = self.run_import(self.write("q.log", QUEUE_LOG), "--out", "-")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), ENTRIES)
        self.assertTrue(all(json.loads(line)["stream"] == "calls" for line in lines))
        self.assertEqual(summary(err)["written"], ENTRIES)

    def test_malformed_lines_are_reported_and_skipped(self):
        text = QUEUE_LOG.replace("1366720500|1366720500.3|sales|NONE|ENTERQUEUE||02079460958|1",
                                 "yesterday|1366720500.3|sales|NONE|ENTERQUEUE||02079460958|1")
        text += "1366721000|NONE|sales|NONE|ABANDON|1|1|1\n"
        text += "1366721001|1366721001.1|sales|NONE|CONNECT|soon|x|1\n"
        path = self.write("bad.log", text)
        rc, out, err = self.run_import(path)
        self.assertEqual(rc, 1, out + err)
        self.assertIn(f"{path}:10: field 1 (time): 'yesterday' is not Unix seconds", err)
        self.assertIn(f"{path}:19: ABANDON needs the caller's channel uniqueid in field 2", err)
        self.assertIn(f"{path}:20: CONNECT: field 6 (holdtime): 'soon' is not an integer", err)
        s = summary(out)
        self.assertEqual(s["malformed"], 3)
        self.assertEqual(s["lines"], 20)
        # The ABANDON of the call whose ENTERQUEUE was unreadable: first seen mid-call.
        self.assertEqual(len(self.imported()), s["written"])
        self.assertIn(f"{path}:11: note: call ast-1366720500.3: ABANDON with no ENTERQUEUE", err)
        self.assertVerified()

    def test_dry_run_writes_nothing(self):
        rc, out, err = self.run_import(self.write("q.log", QUEUE_LOG), "--dry-run", "--redis",
                                       f"127.0.0.1:{harness.free_port()}")
        self.assertEqual(rc, 0, out + err)
        s = summary(out)
        self.assertTrue(s["dry_run"])
        self.assertEqual((s["entries"], s["written"]), (ENTRIES, 0))
        self.assertEqual(self.r.command("EXISTS", CALLS, SEEN), 0)

    def test_unreachable_redis_and_usage(self):
        path = self.write("q.log", QUEUE_LOG)
        rc, out, err = self.run_import(path, "--redis", f"127.0.0.1:{harness.free_port()}")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("cannot connect to Redis", err)
        self.assertEqual(self.run_import()[0], 64)
        self.assertEqual(self.run_import(path, "--out", "x.jsonl", "--dry-run")[0], 64)
        self.assertEqual(self.run_import(path, "--out", "x.jsonl", "--redis", "127.0.0.1:1")[0], 64)
        rc, out, err = self.run_import(H.path("missing.log"))
        self.assertEqual(rc, 2)
        self.assertIn("cannot open", err)
        rc, out, _ = self.run_import("--help", config=False)
        self.assertEqual(rc, 0)
        self.assertIn("usage: hotline import queue-log FILE", out)

    def test_import_beside_a_daemon_logging_calls(self):
        """The importer and hotlined append to the same stream at once: one chain, nothing lost or doubled."""
        n_calls = 1500
        lines = []
        for i in range(n_calls):
            t = 1366720000 + 10 * i
            uid = f"1366720000.{i}"
            lines.append(f"{t}|{uid}|sales|NONE|ENTERQUEUE||555{i:04d}|1")
            lines.append(f"{t + 2}|{uid}|sales|SIP/80{i % 10}|CONNECT|2|x{i}|1")
            lines.append(f"{t + 9}|{uid}|sales|SIP/80{i % 10}|COMPLETECALLER|2|7|1")
        path = self.write("big.log", "\n".join(lines) + "\n")
        max_per_writer, errors, done_calls = 2000, [], {}
        started, import_done = threading.Barrier(3, timeout=T(10)), threading.Event()

        def writer(user):
            """Log calls until the import is over (at most max_per_writer)."""
            n = 0
            try:
                with harness.Client(self.daemon.port, timeout=T(10)) as c:
                    c.auth(user)
                    started.wait()
                    while n < max_per_writer and (n < 20 or not import_done.is_set()):
                        cid = f"live-{user}-{n}"
                        for verb, body in (("offer", '"queue":"q"'), ("answer", None),
                                           ("end", '"disposition":"resolved"')):
                            args = f'{{"call_id":"{cid}"' + (f",{body}" if body else "") + "}"
                            reply = c.request(f"CALL {verb} {args}")
                            if not reply.startswith("OK"):
                                errors.append(reply)
                        n += 1
            except Exception as e:  # surfaced by the assertion below
                errors.append(repr(e))
            done_calls[user] = n

        threads = [threading.Thread(target=writer, args=(u,)) for u in ("agent1", "agent2")]
        for t in threads:
            t.start()
        started.wait()
        rc, out, err = self.run_import(path)
        import_done.set()
        for t in threads:
            t.join(T(120))
        self.assertEqual(errors, [])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(summary(out)["written"], 3 * n_calls)

        stream = harness.read_stream(self.r, CALLS)
        seqs = [int(f["seq"]) for _, f in stream]
        self.assertEqual(seqs, list(range(1, len(stream) + 1)), "seq must be contiguous across both writers")
        entries = [json.loads(f["entry"]) for _, f in stream]
        ours = [e for e in entries if e.get("source") == "queue_log"]
        live = [e for e in entries if e["call_id"].startswith("live-")]
        self.assertEqual(len(ours), 3 * n_calls)
        self.assertEqual(len({e["source_id"] for e in ours}), 3 * n_calls)
        self.assertEqual(len(live), 3 * sum(done_calls.values()))
        self.assertVerified()
        # How much the two writers interleaved (informative: it depends on timing).
        switches = sum(1 for a, b in zip(entries, entries[1:]) if (a.get("source") == "queue_log") !=
                       (b.get("source") == "queue_log"))
        resent = re.search(r"another writer had moved the stream's head: (\d+)", out).group(1)
        sys.stderr.write(f"[queue_log] importer and daemon entries alternated {switches} times; "
                         f"{resent} appends resent; {len(live)} daemon entries\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
