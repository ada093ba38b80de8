"""Nothing acknowledged is lost.

1. kill -9 redis-server (AOF, appendfsync always) REDIS_KILLS times while
   agents log calls: every write gets an answer, OK (directly or
   "spooled":true) or a definite ERR, never silence; every write answered
   OK is in the stream exactly once, in each agent's order, and the chain
   verifies.
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
import load  # noqa: E402
from harness import T  # noqa: E402

H = None
P = "hotline:"
AOF = ("--appendonly", "yes", "--appendfsync", "always")
REDIS_KILLS = 5


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


class RedisCrashTest(harness.TestCase):
    def test_kill9_redis_five_times_under_load(self):
        redis = H.start_redis(extra_args=AOF)
        self.daemon = H.start_daemon(redis.address, redis={"reconnect_min_ms": 50, "reconnect_max_ms": 200,
                                                           "command_timeout_ms": 1000})
        self.addCleanup(self.daemon.stop)
        stop = threading.Event()
        agents = [load.LoadAgent(lambda: self.daemon.port, name, stop, interval=0.01, max_calls=60)
                  for name in ("agent1", "agent2", "super1")]
        for a in agents:
            a.start()
        for _ in range(REDIS_KILLS):
            time.sleep(0.4)
            redis.kill9()
            time.sleep(0.3)
            redis.restart()
        load.run_agents(agents)
        self.assertEqual([a.error for a in agents], [None] * len(agents))

        # Let the spool drain into the restarted Redis.
        harness.wait_until(lambda: harness.stats(self.connect_auth("super1"))["spool"]["pending"] == 0,
                           timeout=T(30), what="spool drained")
        load.check_logged_once_in_order(self, stream_entries(redis), agents)
        t = load.totals(agents)
        print(f"\n  {t['acked']} writes acknowledged ({t['spooled']} while Redis was down, spooled), "
              f"errors {t['errors']}, all present exactly once and in order", file=sys.stderr)
        self.assertGreater(t["spooled"], 0, "the outages should have made some writes spool")
        # Never silence: every write was answered, OK or a definite ERR.
        self.assertEqual((t["closed"], t["unanswered"]), (0, 0))
        self.assertEqual(set(t["errors"]) - {"unavailable"}, set(), t["errors"])
        harness.figure("redis_kills", REDIS_KILLS, "count")
        harness.figure("redis_kill_writes_acked", t["acked"], "count")
        harness.figure("redis_kill_writes_spooled", t["spooled"], "count")
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
