"""A supervisor that never reads while SLOW_EVENTS events are logged: the
daemon's RSS (VmRSS, sampled throughout) stays within a baseline taken once
every client has logged in, plus one limits.max_output per connection, plus
RSS_SLACK_MB; the slow supervisor gets `* overflow` after a gapless prefix;
another supervisor, reading in a process of its own (tail_reader.py),
receives every event, in order.  FIGURE lines report the figures."""

import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
P = harness.KEY_PREFIX

SLOW_EVENTS = 100_000      # events logged while a supervisor never reads
NOTE_LEN = 120             # bytes of note per event
NOTE_LEN_VALGRIND = 990    # ... under valgrind (the daemon allows 1000)
SLOW_EVENTS_VALGRIND = 6_000  # ... when hotlined runs under valgrind (some 30x slower)
SLOW_MAX_OUTPUT = 1 << 20  # limits.max_output (the default)
RSS_SLACK_MB = 16          # allocator, Redis replies in flight (XREAD pages of 500)


def setUpModule():
    global H
    H = harness.module_harness("slow_reader")


class RssSampler(threading.Thread):
    def __init__(self, pid, stop):
        super().__init__(daemon=True)
        self.pid, self.stop, self.peak = pid, stop, 0

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, harness.vmrss_kb(self.pid))
            time.sleep(0.02)


def publish(c, n_events, tag, batch=50):
    """Log n_events call events (whole calls of 5) on the logged-in client
    c, pipelined in batches.  Under valgrind fewer events are sent, so each
    carries a longer note: the pushes must still outgrow the kernel's socket
    buffers (several MB on loopback) before the daemon's own output cap is
    reached, or the never-reading supervisor would never overflow."""
    note = "x" * (NOTE_LEN_VALGRIND if harness.VALGRIND else NOTE_LEN)
    shapes = ('CALL offer {"call_id":"%s","queue":"mobile","note":"' + note + '"}',
              'CALL answer {"call_id":"%s","note":"' + note + '"}',
              'CALL hold {"call_id":"%s","note":"' + note + '"}',
              'CALL resume {"call_id":"%s","note":"' + note + '"}',
              'CALL end {"call_id":"%s","disposition":"resolved","note":"' + note + '"}')
    for start in range(0, n_events, batch):
        lines = [shapes[i % 5] % f"{tag}-{i // 5}" for i in range(start, min(n_events, start + batch))]
        c.send("\n".join(lines) + "\n")
        for line in lines:
            reply = c.read_reply()
            if not reply.startswith("OK {"):
                raise AssertionError(f"{line} -> {reply}")


class SlowSupervisorTest(harness.TestCase):
    def test_never_reading_supervisor_during_100k_events(self):
        n_events = SLOW_EVENTS_VALGRIND if harness.VALGRIND else SLOW_EVENTS
        redis = H.start_redis()
        self.addCleanup(redis.stop)
        self.daemon = d = H.start_daemon(redis.address, limits={"max_output": SLOW_MAX_OUTPUT})
        self.addCleanup(d.stop)
        slow = self.connect_auth("super1", rcvbuf=4096)
        slow_from = slow.request_json("TAIL calls")["from"]
        base = len(slow.lines)
        # The supervisor that keeps up reads in a process of its own.
        good = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "tail_reader.py"),
                                 str(d.port), "super1", "super1-secret", str(n_events)],
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(good.kill)
        good_tail = good.stdout.readline()
        self.assertEqual(harness.parse_ok_json(good_tail.strip())["from"], slow_from, good_tail)
        publishers = [self.connect_auth(u) for u in ("agent1", "agent2", "super1", "agent1")]
        n_conns = len(publishers) + 2
        # The baseline is taken once everyone has logged in: the password
        # threads keep their Argon2id working memory (19 MiB each) after use.
        time.sleep(0.2)
        baseline_kb = harness.vmrss_kb(d.pid)
        bound_kb = baseline_kb + (n_conns * SLOW_MAX_OUTPUT) // 1024 + RSS_SLACK_MB * 1024

        sampler_stop = threading.Event()
        sampler = RssSampler(d.pid, sampler_stop)
        sampler.start()
        per = n_events // len(publishers)
        errors = []

        def pub(c, tag):
            try:
                publish(c, per, tag)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{tag}: {e!r}")

        t0 = time.monotonic()
        threads = [threading.Thread(target=pub, args=(c, f"s{i}"), daemon=True) for i, c in enumerate(publishers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(T(240))
            self.assertFalse(t.is_alive(), "a publisher did not finish")
        publish_s = time.monotonic() - t0
        self.assertEqual(errors, [])
        try:
            out, _ = good.communicate(timeout=T(240))
        except subprocess.TimeoutExpired:
            self.fail("the reading supervisor did not get every event")
        sampler_stop.set()
        sampler.join(T())
        peak_kb = max(sampler.peak, harness.vmrss_kb(d.pid))
        self.assertEqual(good.returncode, 0, out[-500:])

        # the reading supervisor got every event, in order
        with redis.client() as r:
            ids = [sid.decode() for sid, _ in r.command("XRANGE", P + "log:calls", "(" + slow_from, "+")]
        self.assertEqual(len(ids), n_events)
        self.assertEqual(out.split(), ids)

        # the slow one: a gapless prefix, then * overflow, then nothing more
        lines_seen = 0
        while True:
            self.assertLess(lines_seen, n_events + 1, "no * overflow line")
            line = slow.read_line(T(30))
            lines_seen += 1
            if line.startswith("* overflow "):
                break
        prefix = [harness.parse_push(x, "calls")["id"] for x in slow.lines[base:-1]]
        self.assertEqual(prefix, ids[:len(prefix)])
        self.assertLess(len(prefix), n_events)
        self.assertEqual(harness.parse_push(slow.lines[-1], "overflow"),
                         {"stream": "calls", "last_id": prefix[-1] if prefix else slow_from})
        self.assertOK(slow.request("PING"))
        self.assertEqual(slow.lines[base + len(prefix) + 1:], ["OK"])

        print(f"\n  {n_events} events in {publish_s:.1f} s with a supervisor that never reads: it got "
              f"{len(prefix)} then * overflow; the other got all {n_events} in order; daemon VmRSS "
              f"{baseline_kb // 1024} MB before, peak {peak_kb // 1024} MB (bound {bound_kb // 1024} MB = "
              f"baseline + {n_conns} x max_output + {RSS_SLACK_MB} MB)", file=sys.stderr)
        harness.figure("slow_reader_events", n_events, "count")
        harness.figure("slow_reader_events_per_s", n_events / publish_s, "events/s")
        harness.figure("slow_reader_rss_baseline", baseline_kb / 1024, "MB")
        harness.figure("slow_reader_rss_peak", peak_kb / 1024, "MB")
        harness.figure("slow_reader_rss_bound", bound_kb / 1024, "MB")
        harness.figure("slow_reader_received_before_overflow", len(prefix), "count")
        if harness.rss_is_judged(d.pid):
            self.assertLess(peak_kb, bound_kb)


if __name__ == "__main__":
    harness.main()
