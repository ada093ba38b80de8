"""Lost records: acknowledged entries that Redis lost are written back
into the log by the daemon that acknowledged them, so the audit finds every
loss in the stream itself, even when another daemon has re-used the lost
seq numbers (proto/LOG.md "Lost records", proto/HA.md).

Deterministic, on one Redis without AOF: daemon A logs entries, Redis
snapshots (SAVE), A logs more, Redis is killed and restarts from the
snapshot, so A's later entries are gone.  While A is frozen (SIGSTOP),
daemon B, which never saw them, logs two calls and so re-uses the first two
lost seqs.  A then comes back: it names each lost entry ("lost by Redis"),
appends one lost record per entry, numbers past the highest seq it saw (a
gap for the rest), and `hotline verify` / `hotline audit` report exactly
A's lost entries -- the re-used ones only through the records -- and
nothing else.  Reconnecting again adds no second record.
"""

import json
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
P = "hotline:"
FAST_RECONNECT = {"reconnect_min_ms": 50, "reconnect_max_ms": 200}
LOST_RE = re.compile(r"log: lost by Redis: (calls|complaints) seq (\d+) id (\S+) \((.*)\), acknowledged")


def setUpModule():
    global H
    H = harness.module_harness("lost-records")


def offer(client, call_id, rid):
    reply = client.request("CALL offer " + json.dumps({"call_id": call_id, "queue": "q", "request_id": rid}))
    return harness.parse_ok_json(reply)["id"]


def open_complaint(client, rid):
    reply = client.request("COMPLAINT open " + json.dumps(
        {"customer_id": "C1", "category": "billing", "severity": "high", "summary": "lost " + rid,
         "request_id": rid}))
    return harness.parse_ok_json(reply)["id"]


def lost_records(entries):
    """The items of the lost records in [(id, fields)], with the record's id."""
    out = []
    for sid, f in entries:
        e = json.loads(f["entry"])
        if e.get("event") == "lost":
            out += [dict(item, record=sid, seq_of_record=int(f["seq"]), reported_by=e["reported_by"])
                    for item in e["lost"]]
    return out


def cli(daemon, *args):
    r = subprocess.run([harness.HOTLINE, *args, "-c", daemon.config_path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, cwd=daemon.h.tmp, timeout=T(60))
    return r.returncode, r.stdout.decode(), r.stderr.decode()


class LostRecordTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis(acl=True)
        with cls.redis.client() as r:
            harness.put_customer(r, "C1", "Lost Customer", tier="gold")
        cls.a = H.start_daemon(cls.redis.address, name="lost-a", redis=FAST_RECONNECT)
        cls.addClassCleanup(cls.a.stop)

    def log_daemons(self):
        return [d for d in (self.a, getattr(self, "b", None)) if d]

    def test_lost_entries_are_recorded_and_audited_even_when_their_seqs_are_reused(self):
        with self.a.auth_client("agent1") as c:
            for n in range(1, 4):
                offer(c, f"kept-{n}", f"kept-{n}")
            open_complaint(c, "kept-k")
        with self.redis.client() as r:
            self.assertEqual(r.command("SAVE"), "OK")
        lost = {}
        with self.a.auth_client("agent1") as c:
            for n in range(1, 5):
                lost[f"lost-{n}"] = ("calls", offer(c, f"lost-{n}", f"lost-{n}"))
            lost["lost-k"] = ("complaints", open_complaint(c, "lost-k"))

        # Redis loses everything after the snapshot; A is frozen meanwhile,
        # so B, which never saw A's lost entries, writes first.
        mark = self.a.log_mark()
        os.kill(self.a.pid, signal.SIGSTOP)
        try:
            self.redis.kill9()
            self.redis.restart()
            self.b = H.start_daemon(self.redis.address, name="lost-b", redis=FAST_RECONNECT)
            self.addCleanup(self.b.stop)
            with self.b.auth_client("agent2") as c:
                reused = [offer(c, f"b-{n}", f"b-{n}") for n in (1, 2)]
        finally:
            os.kill(self.a.pid, signal.SIGCONT)
        self.a.wait_log(r"acknowledged entries are missing from Redis", since=mark, timeout=T(30))

        # 1. A names each lost entry once, and records each in the log.
        named = [m.groups() for m in LOST_RE.finditer(self.a.log_text(since=mark))]
        self.assertEqual(sorted((s, i) for s, _, i, _ in named), sorted(lost.values()))
        for rid, (_, sid) in lost.items():
            self.assertTrue(any(i == sid and f"request_id {rid}" in what for _, _, i, what in named), rid)
        with self.a.auth_client("super1") as c:
            harness.wait_until(lambda: harness.stats(c)["log"]["calls_lost_recorded"] == 4 and
                               harness.stats(c)["log"]["complaints_lost_recorded"] == 1,
                               what="A recording its losses")
            log = harness.stats(c)["log"]
        self.assertEqual((log["calls_lost"], log["complaints_lost"]), (4, 1))

        with self.redis.client() as r:
            streams = {s: harness.read_stream(r, P + "log:" + s) for s in ("calls", "complaints")}
        for s, entries in streams.items():
            self.assertEqual({kind for _, kind in harness.chain_problems(entries)} - {"gap"}, set(), s)
        calls = streams["calls"]
        seqs = [int(f["seq"]) for _, f in calls]
        # kept 1..3, B's two at 4 and 5 (the seqs of lost-1 and lost-2),
        # then A's records after the highest seq A saw (7): 6 and 7 a gap.
        self.assertEqual(seqs[:5], [1, 2, 3, 4, 5])
        self.assertEqual(seqs[5:], [8, 9, 10, 11])
        self.assertEqual([sid for sid, _ in calls[3:5]], reused)
        items = {s: lost_records(entries) for s, entries in streams.items()}
        self.assertEqual(sorted((s, it["id"]) for s in items for it in items[s]), sorted(lost.values()))
        self.assertEqual([it["seq"] for it in items["calls"]], [4, 5, 6, 7], "in the order acknowledged")
        self.assertEqual([it["seq"] for it in items["complaints"]], [2])
        for s in items:
            for it in items[s]:
                self.assertEqual(it["request_id"], next(r for r, v in lost.items() if v == (s, it["id"])))
                self.assertRegex(it["hash"], r"^[0-9a-f]{16}$")
                self.assertTrue(it["reported_by"].startswith("hotlined:"))
                self.assertIn("by agent1", it["what"])

        # 2. verify: a gap where nobody numbered past (calls 6..7, the
        #    complaint's 2), one
        #    `lost` finding per lost entry (the re-used seqs 4 and 5
        #    included), and nothing else.
        rc, findings = harness.hotline_verify(self.a)
        self.assertEqual(rc, 1)
        self.assertEqual(sorted({f["problem"] for f in findings}), ["gap", "lost"], findings)
        gaps = [f for f in findings if f["problem"] == "gap"]
        self.assertEqual(sorted((f["stream"], f["missing"]) for f in gaps),
                         [("calls", [6, 7]), ("complaints", [2, 2])], gaps)
        named_lost = sorted((f["stream"], f["missing"][0], f["request_id"]) for f in findings
                            if f["problem"] == "lost")
        self.assertEqual(named_lost, sorted((s, it["seq"], it["request_id"]) for s in items for it in items[s]))
        # Every lost seq is either in a gap or named, and every seq named or
        # in a gap was lost: exactly the lost entries.
        audited = {(f["stream"], n) for f in gaps for n in range(f["missing"][0], f["missing"][1] + 1)}
        audited |= {(s, n) for s, n, _ in named_lost}
        self.assertEqual(audited, {("calls", n) for n in (4, 5, 6, 7)} | {("complaints", 2)})

        # 3. The audit agrees, and finds nothing else wrong.
        rc, out, err = cli(self.a, "audit", "--json", *harness.admin_login_args())
        self.assertEqual(rc, 1, err)
        audit = json.loads(out)
        problems = [f for f in audit["findings"] if not f["notice"]]
        self.assertEqual(sorted({(f["check"], f["kind"]) for f in problems}),
                         [("integrity", "gap"), ("integrity", "lost")], problems)
        self.assertEqual(sorted((f["stream"], f["missing"][0], f["request_id"]) for f in problems
                                if f["kind"] == "lost"), named_lost)
        self.assertEqual(audit["summary"]["by_kind"].get("integrity/lost"), 5)

        # 4. Another reconnect records nothing twice.
        before = {s: len(e) for s, e in streams.items()}
        mark = self.a.log_mark()
        with self.redis.client() as r:
            r.command("CLIENT", "KILL", "USER", "hotlined")
        self.a.wait_log(r"redis link up: main", since=mark, timeout=T(30))
        with self.a.auth_client("agent1") as c:
            offer(c, "after", "after")  # the link is up and the journal in sync
        with self.redis.client() as r:
            after = {s: harness.read_stream(r, P + "log:" + s) for s in ("calls", "complaints")}
        self.assertEqual(len(after["calls"]), before["calls"] + 1)
        self.assertEqual(len(after["complaints"]), before["complaints"])
        self.assertEqual(len(lost_records(after["calls"])), 4)


if __name__ == "__main__":
    harness.main()
