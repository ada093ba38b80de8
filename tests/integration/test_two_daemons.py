"""Two hotlined instances on one Redis keep one log: concurrent writers on
both produce one hash chain with contiguous sequence numbers (the append
checks the chain head atomically and a stale head resyncs), a request_id
retried on the other instance is not logged twice, and a call offered on
one instance can be ended on the other."""

import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None


def setUpModule():
    global H
    H = harness.module_harness("two_daemons")


class TwoDaemonsTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.a = H.start_daemon(cls.redis.address, name="hotlined-a")
        cls.b = H.start_daemon(cls.redis.address, name="hotlined-b")
        cls.addClassCleanup(cls.a.stop)
        cls.addClassCleanup(cls.b.stop)

    def test_concurrent_writers_share_one_chain(self):
        errors = []
        per_writer = 80

        def writer(daemon, user, tag):
            try:
                c = harness.Client(daemon.port, timeout=T(10))
                c.auth(user)
                for i in range(per_writer):
                    reply = c.request(f'CALL offer {{"call_id":"{tag}-{i}","queue":"q"}}')
                    if not reply.startswith("OK"):
                        errors.append(reply)
                c.close()
            except Exception as e:  # surfaced by the assertion below
                errors.append(repr(e))

        threads = [threading.Thread(target=writer, args=(d, u, f"{d.name}-{u}"))
                   for d in (self.a, self.b) for u in ("agent1", "agent2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(T(60))
        self.assertEqual(errors, [])
        with self.redis.client() as r:
            entries = r.command("XRANGE", "hotline:log:calls", "-", "+")
        fields = [dict(zip(f[::2], f[1::2])) for _id, f in entries]
        seqs = [int(f[b"seq"]) for f in fields]
        ours = [f for f in fields if b'"call_id":"hotlined-' in f[b"entry"]]
        self.assertEqual(len(ours), 4 * per_writer, "every acknowledged offer is in the stream once")
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "seq must be contiguous across instances")
        res = subprocess.run([harness.HOTLINE, "verify", "calls", "--redis", self.redis.tcp_address],
                             capture_output=True, text=True, timeout=T(30))
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)

    def test_a_call_moves_across_instances_and_request_ids_hold(self):
        ca = self.connect_auth("agent1", daemon=self.a)
        cb = self.connect_auth("agent1", daemon=self.b)
        self.assertIn('"state":"offered"', ca.request('CALL offer {"call_id":"x1","queue":"q"}'))
        self.assertIn('"state":"answered"', cb.request('CALL answer {"call_id":"x1","request_id":"r-x1"}'))
        retry = ca.request('CALL answer {"call_id":"x1","request_id":"r-x1"}')
        self.assertIn('"duplicate":true', retry)
        self.assertIn('"state":"ended"', ca.request('CALL end {"call_id":"x1","disposition":"resolved"}'))


if __name__ == "__main__":
    unittest.main(verbosity=2)
