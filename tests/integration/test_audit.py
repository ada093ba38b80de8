"""`hotline audit`, `hotline export` and `hotline verify --file` on a real
session: calls (answers, holds, transfers, an abandon, CSAT) and complaints
(the whole life, reopen and a claim from the queue included) logged through
hotlined, then

- the live audit is clean (exit 0) and its figures are what the session did;
- tampering with the stream in Redis in each of the four ways (modify,
  delete, insert, reorder; Redis only appends, so the stream is rewritten
  with DEL + XADD of the original ids) is named at the right entry (exit 1),
  and a deleted run of entries is a gap with the missing seq range;
- export -> audit of the file gives the same findings and figures as the
  live audit; export --from/--to selects by time; the CSV parses;
- consistency and deadline findings on hand-made entries, chained here with
  hashlib (an implementation independent of the C one);
- the error paths: unwritable output, unreachable Redis, usage.
"""

import csv
import io
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


def setUpModule():
    global H
    H = harness.module_harness("audit")


def hotline(*args, stdout=subprocess.PIPE):
    r = subprocess.run([harness.HOTLINE, *args], stdout=stdout, stderr=subprocess.PIPE,
                       timeout=harness.T(120))
    out = r.stdout.decode("utf-8") if r.stdout is not None else ""
    return r.returncode, out, r.stderr.decode("utf-8", "replace")


def audit_json(*args):
    rc, out, err = hotline("audit", "--json", *args)
    if rc not in (0, 1):
        raise AssertionError(f"hotline audit {args} exited {rc}: {err}")
    return rc, json.loads(out)


def comparable(doc):
    """An audit document without what depends on where and when it ran."""
    doc = json.loads(json.dumps(doc))
    doc["audit"].pop("source")
    doc["audit"].pop("end")
    return doc


def sid_key(sid):
    ms, _, n = sid.partition("-")
    return int(ms), int(n)


def iso_ms(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def call(c, event, **args):
    return harness.parse_ok_json(c.request(f"CALL {event} " + json.dumps(args)))


def complaint(c, action, **args):
    return harness.parse_ok_json(c.request(f"COMPLAINT {action} " + json.dumps(args)))


class Chain:
    """The hash chain of proto/LOG.md, in Python: entries for a stream."""

    def __init__(self):
        self.seq = 0
        self.head = harness.GENESIS

    def fields(self, entry):
        text = json.dumps(entry, separators=(",", ":")) if isinstance(entry, dict) else entry
        self.seq += 1
        h = harness.chain_hash(self.head, str(self.seq), text.encode())
        f = {"seq": str(self.seq), "prev": self.head, "hash": h, "entry": text}
        self.head = h
        return f


def xadd_all(r, key, stream):
    """Write [(id, fields)] with their ids (the stream must not exist)."""
    cmds = []
    for sid, f in stream:
        args = ["XADD", key, sid]
        for k, v in f.items():
            args += [k, v]
        cmds.append(args)
    for reply in r.pipeline(*cmds):
        if isinstance(reply, harness.RedisError):
            raise reply


# --------------------------------------------------------------------------


class AuditTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address, complaints={"reopen_window_h": 48})
        cls.addClassCleanup(cls.daemon.stop)
        with cls.redis.client() as r:
            harness.put_customer(r, "C1", "Wang Fang", ["+8613800000001"], tier="platinum", status="active")
            harness.put_customer(r, "C2", "Li Wei", ["+8613800000002"], tier="gold", status="active")
            harness.put_customer(r, "C3", "Zhao Min", ["+8613800000003"], tier="lead", status="active")
        cls.session()

    @classmethod
    def session(cls):
        a1 = cls.daemon.auth_client("agent1")
        a2 = cls.daemon.auth_client("agent2")
        sup = cls.daemon.auth_client("super1")
        try:
            # A: C1, mobile, held, resolved, CSAT 5 (agent1)
            call(a1, "offer", call_id="A", customer_id="C1", queue="mobile")
            call(a1, "answer", call_id="A")
            call(a1, "hold", call_id="A")
            call(a1, "resume", call_id="A")
            call(a1, "end", call_id="A", disposition="resolved", csat=5)
            # B: C2, billing, answered by agent2, transferred to agent1, CSAT 3
            call(a2, "offer", call_id="B", customer_id="C2", queue="billing")
            call(a2, "answer", call_id="B")
            call(a2, "transfer", call_id="B", to="agent1")
            call(a1, "end", call_id="B", disposition="callback", csat=3)
            # C: abandoned
            call(a1, "offer", call_id="C", customer_id="C3", queue="mobile")
            call(a1, "end", call_id="C", disposition="no_action")
            # D: an unknown caller, no rating
            call(a2, "offer", call_id="D", queue="mobile")
            call(a2, "answer", call_id="D")
            call(a2, "end", call_id="D", disposition="sale")
            # E: C1 calls again (so A did not resolve at first contact), CSAT 4
            call(a1, "offer", call_id="E", customer_id="C1", queue="mobile")
            call(a1, "answer", call_id="E")
            call(a1, "end", call_id="E", disposition="resolved", csat=4)

            k1 = complaint(a1, "open", customer_id="C1", category="billing", severity="high",
                           summary="charged twice", call_id="A")["complaint_id"]
            for conn, action, extra in [(a1, "ack", {}), (a1, "progress", {"note": "called back"}),
                                        (a1, "wait", {}), (a1, "resume", {}), (sup, "escalate", {}),
                                        (a1, "resolve", {"resolution": "refunded"}), (a1, "close", {}),
                                        (a1, "reopen", {}), (a1, "resolve", {"resolution": "refunded twice"}),
                                        (a1, "close", {})]:
                complaint(conn, action, complaint_id=k1, **extra)
            k2 = complaint(a2, "open", customer_id="C2", category="delivery", severity="low",
                           summary="parcel late")["complaint_id"]
            assert complaint(a2, "next")["complaint_id"] == k2
            complaint(a2, "ack", complaint_id=k2)
            k3 = complaint(a1, "open", customer_id="C3", category="quality", severity="critical",
                           summary="broken on arrival")["complaint_id"]
            complaint(a1, "resolve", complaint_id=k3, resolution="replaced")
        finally:
            for c in (a1, a2, sup):
                c.close()

    def streams(self):
        with self.redis.client() as r:
            return harness.read_stream(r, CALLS), harness.read_stream(r, COMPLAINTS)

    # -- the live audit

    def test_clean_audit_and_its_figures(self):
        rc, doc = audit_json("-c", self.daemon.config_path)
        self.assertEqual(rc, 0, doc["findings"])
        self.assertEqual(doc["findings"], [])
        s = doc["summary"]
        calls, complaints = self.streams()
        self.assertTrue(s["clean"])
        self.assertEqual(s["entries"], {"calls": len(calls), "complaints": len(complaints)})
        self.assertEqual(s["streams"]["calls"]["last_seq"], len(calls))
        self.assertEqual(s["streams"]["calls"]["head"], calls[-1][1]["hash"].decode())
        self.assertEqual(s["streams"]["complaints"]["head"], complaints[-1][1]["hash"].decode())

        f = doc["figures"]
        c = f["calls"]
        self.assertEqual((c["offered"], c["answered"], c["abandoned"], c["ended"]), (5, 4, 1, 4))
        self.assertEqual((c["held"], c["transferred"]), (1, 1))
        self.assertAlmostEqual(c["answer_rate"], 0.8)
        self.assertAlmostEqual(c["abandon_rate"], 0.2)
        self.assertEqual(c["csat"]["count"], 3)
        self.assertAlmostEqual(c["csat"]["average"], 4.0)
        self.assertEqual(c["csat"]["distribution"], [0, 0, 1, 1, 1])
        legs = [json.loads(fl["entry"]) for _, fl in calls]
        legs = [e for e in legs if "leg_ms" in e]
        self.assertEqual(len(legs), 5)  # A, B's two legs, D, E
        self.assertAlmostEqual(c["handle_s"], sum(e["leg_ms"] for e in legs) / 1000)
        self.assertAlmostEqual(c["aht_s"], sum(e["leg_ms"] for e in legs) / 1000 / 4)

        ag = f["agents"]
        self.assertEqual(sorted(ag), ["agent1", "agent2"])
        # agent1 answered A and E, handled A, B's second leg and E, ended all
        # three and got their ratings; agent2 answered B and D
        self.assertEqual((ag["agent1"]["answered"], ag["agent1"]["legs"], ag["agent1"]["ended"]), (2, 3, 3))
        self.assertEqual((ag["agent2"]["answered"], ag["agent2"]["legs"], ag["agent2"]["ended"]), (2, 2, 1))
        self.assertEqual(ag["agent1"]["csat_count"], 3)
        self.assertAlmostEqual(ag["agent1"]["csat_average"], 4.0)
        self.assertEqual(ag["agent2"]["csat_count"], 0)
        self.assertIsNone(ag["agent2"]["csat_average"])
        b_legs = [e["leg_ms"] for e in legs if e["call_id"] == "B"]
        d_leg = [e["leg_ms"] for e in legs if e["call_id"] == "D"][0]
        self.assertAlmostEqual(ag["agent2"]["handle_s"], (b_legs[0] + d_leg) / 1000)

        q = f["queues"]
        self.assertEqual((q["mobile"]["offered"], q["mobile"]["answered"], q["mobile"]["abandoned"]), (4, 3, 1))
        self.assertAlmostEqual(q["mobile"]["csat_average"], 4.5)
        self.assertAlmostEqual(q["billing"]["csat_average"], 3.0)
        self.assertAlmostEqual(q["billing"]["answer_rate"], 1.0)

        k = f["complaints"]
        self.assertEqual((k["opened"], k["resolved"], k["closed"], k["reopened"], k["escalated"]), (3, 3, 2, 1, 1))
        self.assertEqual((k["resolved_late"], k["open_overdue"], k["overdue"]), (0, 0, 0))
        self.assertEqual(k["by_tier"]["platinum"]["opened"], 1)
        self.assertEqual(k["by_tier"]["platinum"]["resolved"], 2)
        self.assertEqual(k["by_category"]["delivery"]["opened"], 1)
        self.assertEqual(f["deadlines"]["low"]["gold"]["open_in_time"], 1)
        self.assertEqual(f["deadlines"]["critical"]["lead"]["resolved_in_time"], 1)
        self.assertEqual(f["deadlines"]["high"]["platinum"]["resolved_in_time"], 2)

        fcr = f["first_contact_resolution"]
        # A (resolved) was followed by E from the same customer; B did not
        # resolve; E's seven days are still running; C and D do not count
        self.assertEqual((fcr["repeated"], fcr["not_resolved"], fcr["pending"], fcr["resolved_first"]),
                         (1, 1, 1, 0))
        self.assertAlmostEqual(fcr["rate"], 0.0)

    def test_text_report_and_quiet_stderr(self):
        rc, out, err = hotline("audit", "-c", self.daemon.config_path)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("0 findings", out)
        self.assertIn("offered 5, answered 4 (80.0%), abandoned 1 (20.0%)", out)
        self.assertIn("CSAT 4.00 from 3 ratings", out)
        self.assertEqual(err, "", "no progress display when stderr is not a terminal")

    def test_progress_on_a_terminal(self):
        master, slave = os.openpty()
        try:
            r = subprocess.run([harness.HOTLINE, "audit", "-c", self.daemon.config_path], stdout=subprocess.PIPE,
                               stderr=slave, timeout=harness.T(60))
            os.close(slave)
            slave = None
            shown = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal's other side is closed
                    break
                if not chunk:
                    break
                shown += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(r.returncode, 0)
        # the progress line is cleared at the end, leaving the report alone
        self.assertIn(b"\r\x1b[K", shown)
        self.assertNotIn(b"\x1b", r.stdout)

    def test_verify_live_and_from_a_file(self):
        rc, out, err = hotline("verify", "-c", self.daemon.config_path)
        self.assertEqual(rc, 0, out + err)
        path = H.path("verify.jsonl")
        self.assertEqual(hotline("export", "-c", self.daemon.config_path, "-o", path)[0], 0)
        rc, out, err = hotline("verify", "--file", path, "--json")
        self.assertEqual((rc, out), (0, ""), err)

    # -- export

    def test_export_then_audit_of_the_file_matches_the_live_audit(self):
        path = H.path("session.jsonl")
        rc, out, err = hotline("export", "-c", self.daemon.config_path, "-o", path)
        self.assertEqual(rc, 0, err)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(sorted(os.listdir(H.tmp)).count("session.jsonl"), 1)
        self.assertFalse([n for n in os.listdir(H.tmp) if n.startswith("session.jsonl.tmp")])
        calls, complaints = self.streams()
        lines = [json.loads(x) for x in open(path, encoding="utf-8")]
        self.assertEqual(len(lines), len(calls) + len(complaints))
        # every field as stored, the stream id included, in stream-id order
        stored = {(s, sid): f for s, st in (("calls", calls), ("complaints", complaints)) for sid, f in st}
        self.assertEqual([sid_key(x["id"]) for x in lines], sorted(sid_key(x["id"]) for x in lines))
        for x in lines:
            f = stored[(x["stream"], x["id"])]
            self.assertEqual(set(x) - {"stream", "id"}, set(f))
            for k, v in f.items():
                self.assertEqual(x[k].encode(), v)
        live = audit_json("-c", self.daemon.config_path)
        from_file = audit_json("--file", path)
        self.assertEqual(comparable(live[1]), comparable(from_file[1]))
        self.assertEqual(live[0], from_file[0])
        # the same through a pipe
        with open(path, "rb") as f:
            r = subprocess.run([harness.HOTLINE, "audit", "--json", "--file", "-"], stdin=f,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=harness.T(60))
        self.assertEqual(comparable(json.loads(r.stdout)), comparable(live[1]))

    def test_export_selects_a_time_range(self):
        calls, complaints = self.streams()
        ids = sorted([sid for sid, _ in calls] + [sid for sid, _ in complaints], key=sid_key)
        lo, hi = sid_key(ids[len(ids) // 3]), sid_key(ids[2 * len(ids) // 3])
        want = [i for i in ids if sid_key(i) >= (lo[0], 0) and sid_key(i)[0] <= hi[0]]
        self.assertTrue(0 < len(want) < len(ids))
        rc, out, err = hotline("export", "-c", self.daemon.config_path, "--from", iso_ms(lo[0]), "--to",
                               iso_ms(hi[0]))
        self.assertEqual(rc, 0, err)
        self.assertEqual([json.loads(x)["id"] for x in out.splitlines()], want)
        # whole seconds, and one stream
        rc, out, _ = hotline("export", "calls", "-c", self.daemon.config_path, "--from", "@%d" % (lo[0] // 1000))
        self.assertEqual(rc, 0)
        self.assertEqual([json.loads(x)["id"] for x in out.splitlines()],
                         [sid for sid, _ in calls if sid_key(sid)[0] >= lo[0] // 1000 * 1000])
        # an audit of the range: the chain starts mid-stream, calls and
        # complaints begun before it are taken as they come
        rc, doc = audit_json("-c", self.daemon.config_path, "--from", iso_ms(lo[0]), "--to", iso_ms(hi[0]))
        self.assertEqual(rc, 0, doc["findings"])
        self.assertEqual(sum(doc["summary"]["entries"].values()), len(want))

    def test_csv_export_parses(self):
        rc, out, err = hotline("export", "-c", self.daemon.config_path, "--format", "csv")
        self.assertEqual(rc, 0, err)
        rows = list(csv.DictReader(io.StringIO(out, newline="")))
        calls, complaints = self.streams()
        self.assertEqual(len(rows), len(calls) + len(complaints))
        self.assertEqual(list(rows[0])[:9], ["stream", "id", "seq", "ts", "event", "object_id", "agent", "role",
                                             "state"])
        # ids are per stream: a call and a complaint entry may share one
        stored = {(s, sid): f for s, st in (("calls", calls), ("complaints", complaints)) for sid, f in st}
        for row in rows:
            f = stored[(row["stream"], row["id"])]
            e = json.loads(f["entry"])
            self.assertEqual(row["entry"].encode(), f["entry"])
            self.assertEqual(row["seq"], f["seq"].decode())
            self.assertEqual(row["object_id"], e["call_id" if row["stream"] == "calls" else "complaint_id"])
            self.assertEqual(row["event"], e["event"])
            self.assertEqual(row["csat"], str(e["csat"]) if "csat" in e else "")
            self.assertEqual(row["leg_ms"], str(e["leg_ms"]) if "leg_ms" in e else "")
            self.assertEqual(row["category"], e.get("category", ""))
        self.assertTrue(any(r["disposition"] == "resolved" for r in rows))

    def test_export_errors(self):
        rc, _, err = hotline("export", "-c", self.daemon.config_path, "-o", H.path("no", "such", "dir.jsonl"))
        self.assertEqual(rc, 2)
        self.assertIn("No such file or directory", err)
        with open("/dev/full", "wb") as full:
            r = subprocess.run([harness.HOTLINE, "export", "-c", self.daemon.config_path], stdout=full,
                               stderr=subprocess.PIPE, timeout=harness.T(60))
        self.assertEqual(r.returncode, 2)
        self.assertIn("No space left on device", r.stderr.decode())
        self.assertEqual(hotline("export", "--format", "xml", "-c", self.daemon.config_path)[0], 64)
        self.assertEqual(hotline("export", "nothing", "-c", self.daemon.config_path)[0], 64)
        self.assertEqual(hotline("export", "--from", "yesterday", "-c", self.daemon.config_path)[0], 64)

    def test_audit_errors(self):
        rc, _, err = hotline("audit", "--redis", "127.0.0.1:%d" % harness.free_port())
        self.assertEqual(rc, 2)
        self.assertIn("cannot connect", err)
        rc, _, err = hotline("audit", "--file", H.path("missing.jsonl"))
        self.assertEqual(rc, 2)
        bad = H.path("bad.jsonl")
        with open(bad, "w") as f:
            f.write('{"stream":"calls","id":"1-0","seq":"1"}\nnot an export line\n')
        rc, _, err = hotline("audit", "--file", bad)
        self.assertEqual(rc, 2)
        self.assertIn("bad.jsonl:2:", err)
        self.assertEqual(hotline("audit", "--open-age", "soon")[0], 64)
        self.assertEqual(hotline("audit", "--file", bad, "--redis", "127.0.0.1:1")[0], 64)

    # -- tampering, on a copy of the session's streams under another prefix

    def tampered(self, prefix, change_calls=lambda s: s, xdel=()):
        """Copy both streams to prefix (XADD with their ids, as one would
        rewrite a stream: Redis only appends), the calls stream through
        change_calls([(id, fields)]) -> [(id, fields)], then XDEL the ids
        in xdel from the copy; audit the copy."""
        calls, complaints = self.streams()
        with self.redis.client() as r:
            xadd_all(r, prefix + "log:calls", change_calls([(sid, dict(f)) for sid, f in calls]))
            xadd_all(r, prefix + "log:complaints", complaints)
            if xdel:
                self.assertEqual(r.command("XDEL", prefix + "log:calls", *xdel), len(xdel))
        return audit_json("--redis", self.redis.tcp_address, "--prefix", prefix)

    def integrity(self, doc):
        return [f for f in doc["findings"] if f["check"] == "integrity"]

    def test_modified_entry(self):
        target = {}

        def change(stream):
            for i, (sid, f) in enumerate(stream):
                e = json.loads(f["entry"])
                if e["event"] == "end" and e.get("csat") == 5:
                    e["csat"] = 1
                    f["entry"] = json.dumps(e, separators=(",", ":")).encode()
                    target["id"] = sid
            return stream

        rc, doc = self.tampered("tm:", change)
        self.assertEqual(rc, 1)
        found = self.integrity(doc)
        self.assertEqual([(f["kind"], f["id"]) for f in found], [("modified", target["id"])], found)
        # verify (the same integrity module) agrees
        rc, out, _ = hotline("verify", "calls", "--redis", self.redis.tcp_address, "--prefix", "tm:", "--json")
        self.assertEqual(rc, 1)
        self.assertEqual([json.loads(x)["id"] for x in out.splitlines()], [target["id"]])

    def test_deleted_entry_and_a_deleted_run_are_gaps_with_the_missing_seqs(self):
        calls, _ = self.streams()
        k = len(calls) // 2
        rc, doc = self.tampered("td1:", xdel=[calls[k][0]])
        self.assertEqual(rc, 1)
        found = self.integrity(doc)
        self.assertEqual([(f["kind"], f["id"], f["missing"]) for f in found], [("gap", calls[k + 1][0], [k + 1, k + 1])])
        rc, doc = self.tampered("td3:", xdel=[sid for sid, _ in calls[k:k + 3]])
        found = self.integrity(doc)
        self.assertEqual([(f["kind"], f["id"], f["missing"]) for f in found], [("gap", calls[k + 3][0], [k + 1, k + 3])])
        self.assertIn("seq %d..%d missing" % (k + 1, k + 3), found[0]["detail"])

    def test_inserted_entry(self):
        calls, _ = self.streams()
        # a place where an id fits between two entries
        i = next(i for i in range(3, len(calls) - 1) if sid_key(calls[i][0])[0] < sid_key(calls[i + 1][0])[0])
        ms, n = sid_key(calls[i][0])
        forged_id = "%d-%d" % (ms, n + 1)
        prev = calls[i][1]
        entry = json.dumps({"event": "offer", "call_id": "FORGED", "agent": "agent2", "role": "agent",
                            "ts": json.loads(prev["entry"])["ts"], "queue": "mobile", "state": "offered"},
                           separators=(",", ":"))
        seq = str(int(prev["seq"]) + 1)
        forged = {"seq": seq, "prev": prev["hash"].decode(),
                  "hash": harness.chain_hash(prev["hash"].decode(), seq, entry.encode()), "entry": entry}
        rc, doc = self.tampered("ti:", lambda s: s[:i + 1] + [(forged_id, forged)] + s[i + 1:])
        self.assertEqual(rc, 1)
        found = self.integrity(doc)
        self.assertEqual([(f["kind"], f["id"]) for f in found], [("inserted", forged_id)], found)
        self.assertEqual(found[0]["related"], calls[i + 1][0])

    def test_reordered_entries(self):
        calls, _ = self.streams()
        i = len(calls) // 2

        def swap(stream, a, b):
            ids = [sid for sid, _ in stream]
            fields = [f for _, f in stream]
            fields[a], fields[b] = fields[b], fields[a]
            return list(zip(ids, fields))

        rc, doc = self.tampered("tr1:", lambda s: swap(s, i, i + 1))
        self.assertEqual(rc, 1)
        found = self.integrity(doc)
        self.assertEqual([(f["kind"], f["id"]) for f in found], [("reordered", calls[i][0])], found)
        rc, doc = self.tampered("tr3:", lambda s: swap(s, i, i + 3))
        found = self.integrity(doc)
        self.assertEqual([(f["kind"], f["id"]) for f in found],
                         [("reordered", calls[i][0]), ("reordered", calls[i + 3][0])], found)

    def test_tampered_export_file_gives_the_same_findings(self):
        calls, _ = self.streams()
        k = len(calls) // 3
        rc, live = self.tampered("tx:", xdel=[calls[k][0]])
        path = H.path("tampered.jsonl")
        self.assertEqual(hotline("export", "--redis", self.redis.tcp_address, "--prefix", "tx:", "-o", path)[0], 0)
        rc_file, from_file = audit_json("--file", path)
        self.assertEqual((rc, rc_file), (1, 1))
        self.assertEqual(comparable(live), comparable(from_file))


class HandMadeLogTest(harness.TestCase):
    """Consistency and deadline findings, on entries written here (with the
    chain computed in Python) into a Redis of its own."""

    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.addClassCleanup(cls.redis.stop)
        # Two days ago, on a whole hour: everything here is long over by now.
        cls.T0 = (int(time.time()) // 3600 - 48) * 3600 * 1000

    def at(self, seconds):
        return iso_ms(self.T0 + int(seconds * 1000))

    def call(self, event, cid, t, state, **more):
        return {"event": event, "call_id": cid, "agent": "agent1", "role": "agent", "ts": self.at(t),
                "queue": "mobile", **more, "state": state}

    def write(self, prefix, calls, complaints):
        """Chain and write both streams; ids T0+i ms so the entries come in
        the listed order, calls first.  Returns the ids."""
        ids = {"calls": [], "complaints": []}
        with self.redis.client() as r:
            for name, entries, base in (("calls", calls, 0), ("complaints", complaints, 1000)):
                chain = Chain()
                stream = []
                for i, e in enumerate(entries):
                    sid = "%d-0" % (self.T0 + base + i)
                    stream.append((sid, chain.fields(e)))
                    ids[name].append(sid)
                xadd_all(r, prefix + "log:" + name, stream)
        return ids

    def test_consistency_and_deadline_findings(self):
        calls = [
            self.call("offer", "c1", 0, "offered", customer_id="X"),
            self.call("answer", "c1", 5, "answered"),
            self.call("end", "c1", 300, "ended", disposition="resolved", csat=5, leg_ms=295000),
            self.call("hold", "c1", 360, "held"),                          # 3: after the end
            self.call("answer", "ghost", 420, "answered"),                 # 4: never offered
            self.call("offer", "c2", 480, "offered"),
            self.call("answer", "c2", 450, "answered"),                    # 6: ts goes back
            self.call("offer", "c3", 600, "offered"),                      # 7: left open
            {"event": "end", "call_id": "c2", "agent": "agent1", "role": "agent", "ts": self.at(700),
             "rejected": "conflict: call c2 is ended; cannot end", "spooled": True},  # 8: a notice
            self.call("resume", "c3", 650, "answered"),                    # 9: resume of an offered call
        ]
        complaints = [
            {"event": "open", "complaint_id": "k1", "agent": "agent1", "role": "agent", "ts": self.at(0),
             "customer_id": "X", "tier": "platinum", "severity": "critical", "category": "billing",
             "state": "open", "due": self.at(3600)[:19] + "Z", "level": 0},
            {"event": "resolve", "complaint_id": "k1", "agent": "agent1", "role": "agent", "ts": self.at(7200),
             "state": "resolved", "due": self.at(3600)[:19] + "Z"},        # 1: an hour late
            {"event": "open", "complaint_id": "k2", "agent": "agent1", "role": "agent", "ts": self.at(60),
             "tier": "gold", "severity": "high", "category": "delivery", "state": "open",
             "due": self.at(1800)[:19] + "Z", "level": 0},                 # 2: never resolved
            {"event": "ack", "complaint_id": "k9", "agent": "agent1", "role": "agent", "ts": self.at(90),
             "state": "acknowledged"},                                     # 3: never opened
        ]
        ids = self.write("h1:", calls, complaints)
        rc, doc = audit_json("--redis", self.redis.tcp_address, "--prefix", "h1:")
        self.assertEqual(rc, 1)
        got = {(f["kind"], f["id"]) for f in doc["findings"]}
        c, k = ids["calls"], ids["complaints"]
        expected = {
            ("after_end", c[3]), ("no_offer", c[4]), ("ts_backwards", c[6]), ("rejected", c[8]),
            ("bad_transition", c[9]),
            # still open at the end of the audit (now), long after T0
            ("open_too_long", c[4]), ("open_too_long", c[6]), ("open_too_long", c[9]),
            ("resolved_late", k[1]), ("open_overdue", k[2]), ("no_open", k[3]),
        }
        self.assertEqual(got, expected, doc["findings"])
        by = {(f["kind"], f["id"]): f for f in doc["findings"]}
        self.assertTrue(by[("rejected", c[8])]["notice"])
        self.assertEqual(doc["summary"]["notices"], 1)
        late = by[("resolved_late", k[1])]
        self.assertEqual((late["check"], late["severity"], late["tier"], late["object"]),
                         ("sla", "critical", "platinum", "k1"))
        self.assertIn("1h00m past its deadline", late["detail"])
        self.assertEqual(by[("open_overdue", k[2])]["tier"], "gold")
        self.assertFalse([f for f in doc["findings"] if f["check"] == "integrity"])
        f = doc["figures"]
        self.assertEqual(f["deadlines"]["critical"]["platinum"]["resolved_late"], 1)
        self.assertEqual(f["complaints"]["by_tier"]["gold"]["open_overdue"], 1)
        self.assertEqual(f["complaints"]["by_category"]["billing"]["overdue"], 1)

        # --to before the open calls grew old: they are not findings then
        rc, doc = audit_json("--redis", self.redis.tcp_address, "--prefix", "h1:", "--to", self.at(3000))
        self.assertNotIn("open_too_long", {f["kind"] for f in doc["findings"]})
        # and a shorter --open-age makes them findings again
        rc, doc = audit_json("--redis", self.redis.tcp_address, "--prefix", "h1:", "--to", self.at(3000),
                             "--open-age", "30m")
        self.assertIn(("open_too_long", c[9]), {(f["kind"], f["id"]) for f in doc["findings"]})

        # the export file gives the same (judged at one fixed time in the
        # past, so that the ages in the details agree)
        path = H.path("hand.jsonl")
        self.assertEqual(hotline("export", "--redis", self.redis.tcp_address, "--prefix", "h1:", "-o", path)[0], 0)
        later = self.at(5 * 3600)
        live = audit_json("--redis", self.redis.tcp_address, "--prefix", "h1:", "--to", later)
        self.assertEqual({(f["kind"], f["id"]) for f in live[1]["findings"]}, expected)
        self.assertEqual(comparable(live[1]), comparable(audit_json("--file", path, "--to", later)[1]))

    def test_a_malformed_entry_and_a_clean_hand_made_log(self):
        calls = [
            self.call("offer", "c1", 0, "offered"),
            "not json at all",
            {"event": "answer", "agent": "agent1", "ts": self.at(2), "state": "answered"},  # no call_id
            self.call("end", "c1", 3, "abandoned"),
        ]
        ids = self.write("h2:", calls, [])
        rc, doc = audit_json("--redis", self.redis.tcp_address, "--prefix", "h2:")
        self.assertEqual(rc, 1)
        self.assertEqual({(f["kind"], f["id"]) for f in doc["findings"]},
                         {("malformed_entry", ids["calls"][1]), ("malformed_entry", ids["calls"][2])})
        ids = self.write("h3:", [self.call("offer", "c1", 0, "offered"), self.call("end", "c1", 3, "abandoned")],
                         [])
        rc, out, err = hotline("audit", "--redis", self.redis.tcp_address, "--prefix", "h3:")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("abandoned 1 (100.0%)", out)


if __name__ == "__main__":
    harness.main()
