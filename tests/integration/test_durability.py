"""Nothing acknowledged is lost.

1. kill -9 redis-server (AOF, appendfsync always) while agents log calls:
   every write answered OK (directly or "spooled":true) is in the stream
   exactly once, in each agent's order, and the chain verifies.
2. kill -9 hotlined while its spool holds writes: the restarted daemon logs
   them all, once, in order.
"""

import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
P = "hotline:"
AOF = ("--appendonly", "yes", "--appendfsync", "always")


def setUpModule():
    global H
    H = harness.module_harness("durability")


def stream_entries(redis, stream="calls"):
    """All entries of a log stream as parsed JSON, in stream order."""
    out = []
    with redis.client() as r:
        for _id, fields in r.command("XRANGE", f"{P}log:{stream}", "-", "+"):
            f = dict(zip(fields[::2], fields[1::2]))
            out.append(json.loads(f[b"entry"]))
    return out


def verify_chain(redis):
    res = subprocess.run([harness.HOTLINE, "verify", "--redis", redis.tcp_address], capture_output=True,
                         text=True, timeout=T(30))
    return res.returncode, res.stdout + res.stderr


class Agent(threading.Thread):
    """Logs whole calls (offer, answer, end) with request_ids, reconnecting
    when needed; records which request_ids were acknowledged."""

    def __init__(self, daemon, name, calls, stop):
        super().__init__(daemon=True)
        self.d, self.name, self.calls, self.stop = daemon, name, calls, stop
        self.acked = []      # request_ids answered OK, in order
        self.spooled = 0
        self.errors = {}     # code -> count
        self.silent = 0      # requests that got no answer at all

    def connect(self):
        c = harness.Client(self.d.port, timeout=T(10))
        c.auth(self.name)
        return c

    def send(self, c, line, rid):
        reply = c.request(line)
        if reply.startswith("OK"):
            self.acked.append(rid)
            if '"spooled":true' in reply:
                self.spooled += 1
            return True
        code = reply.split()[1] if reply.startswith("ERR ") else "?"
        self.errors[code] = self.errors.get(code, 0) + 1
        return False

    def run(self):
        c = self.connect()
        for i in range(self.calls):
            if self.stop.is_set():
                break
            call = f"{self.name}-c{i}"
            steps = [("offer", ',"queue":"q1"'), ("answer", ""), ("end", ',"disposition":"resolved"')]
            for event, extra in steps:
                rid = f"{call}-{event}"
                line = f'CALL {event} {{"call_id":"{call}","request_id":"{rid}"{extra}}}'
                for _attempt in range(50):  # bounded retries of one step
                    try:
                        if self.send(c, line, rid):
                            break
                    except (harness.ConnectionClosed, OSError):
                        self.silent += 1
                        c = self.connect()
                    time.sleep(0.05)
            time.sleep(0.01)
        c.close()


class RedisCrashTest(harness.TestCase):
    def test_kill9_redis_five_times_under_load(self):
        redis = H.start_redis(extra_args=AOF)
        self.daemon = H.start_daemon(redis.address, redis={"reconnect_min_ms": 50, "reconnect_max_ms": 200,
                                                           "command_timeout_ms": 1000})
        self.addCleanup(self.daemon.stop)
        stop = threading.Event()
        agents = [Agent(self.daemon, name, 60, stop) for name in ("agent1", "agent2", "super1")]
        for a in agents:
            a.start()
        for _ in range(5):
            time.sleep(0.4)
            redis.kill9()
            time.sleep(0.3)
            redis.restart()
        for a in agents:
            a.join(T(120))
            self.assertFalse(a.is_alive(), "agent did not finish")

        # Let the spool drain into the restarted Redis.
        harness.wait_until(lambda: harness.stats(self.connect_auth("super1"))["spool"]["pending"] == 0,
                           timeout=T(30), what="spool drained")
        entries = stream_entries(redis)
        logged = [e.get("request_id") for e in entries if "rejected" not in e]
        rejected = [e for e in entries if "rejected" in e]
        self.assertEqual(rejected, [], "no write should be refused on replay here")
        for a in agents:
            mine = [rid for rid in logged if rid and rid.startswith(a.name + "-")]
            self.assertEqual(len(mine), len(set(mine)), f"{a.name}: an entry was logged twice")
            self.assertEqual(mine, a.acked, f"{a.name}: acknowledged entries missing or out of order")
        total = sum(len(a.acked) for a in agents)
        spooled = sum(a.spooled for a in agents)
        print(f"\n  {total} writes acknowledged ({spooled} while Redis was down, spooled), "
              f"errors {[a.errors for a in agents]}, all present exactly once and in order", file=sys.stderr)
        self.assertGreater(spooled, 0, "the outages should have made some writes spool")
        rc, out = verify_chain(redis)
        self.assertEqual(rc, 0, out)


class DaemonCrashTest(harness.TestCase):
    def test_kill9_hotlined_with_a_full_spool(self):
        redis = H.start_redis(extra_args=AOF)
        self.daemon = H.start_daemon(redis.address, redis={"reconnect_min_ms": 50, "reconnect_max_ms": 200})
        self.addCleanup(self.daemon.stop)
        c = self.connect_auth("agent1")
        self.assertIn('"state":"offered"', c.request('CALL offer {"call_id":"k1","queue":"q"}'))
        redis.kill9()
        self.daemon.wait_log(r"redis link down")
        acked = []
        for i in range(20):
            reply = c.request(f'CALL offer {{"call_id":"k-{i}","queue":"q","request_id":"r{i}"}}')
            self.assertIn('"spooled":true', reply)
            acked.append(f"r{i}")
        self.daemon.kill9()
        redis.restart()
        self.daemon.start()  # same config, same spool file
        self.daemon.wait_log(r"spool drained: 20 spooled writes logged")
        logged = [e.get("request_id") for e in stream_entries(redis)]
        self.assertEqual([r for r in logged if r], acked)
        rc, out = verify_chain(redis)
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
