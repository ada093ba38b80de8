"""Two hotlined instances on one Redis keep one log: concurrent writers on
both produce one hash chain with contiguous sequence numbers (the append
checks the chain head atomically and a stale head resyncs), a request_id
retried on the other instance is not logged twice, a call offered on one
instance can be transferred to an agent on the other and ended there,
`COMPLAINT next` on both never hands one complaint out twice, and a TAIL
on one instance sees the other's entries, in stream order."""

import json
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


USERS = harness.DEFAULT_USERS + [("agent3", "agent"), ("agent4", "agent")]


def request_ok(c, line):
    return harness.parse_ok_json(c.request(line))


class TwoDaemonsTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        users = harness.make_users(USERS)
        cls.a = H.start_daemon(cls.redis.address, name="hotlined-a", users=users)
        cls.b = H.start_daemon(cls.redis.address, name="hotlined-b", users=users)
        cls.addClassCleanup(cls.a.stop)
        cls.addClassCleanup(cls.b.stop)

    def log_daemons(self):
        return [self.a, self.b]

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

    def test_a_call_transferred_to_an_agent_on_the_other_instance(self):
        a1 = self.connect_auth("agent1", daemon=self.a)
        b2 = self.connect_auth("agent2", daemon=self.b)
        request_ok(a1, 'CALL offer {"call_id":"t1","queue":"q"}')
        request_ok(a1, 'CALL answer {"call_id":"t1"}')
        # Before the transfer the call is agent1's: agent2 on B may not touch it.
        self.assertErr(b2.request('CALL hold {"call_id":"t1"}'), "forbidden")
        self.assertEqual(request_ok(a1, 'CALL transfer {"call_id":"t1","to":"agent2"}')["state"], "answered")
        # Now it is agent2's leg, on the other daemon, and no longer agent1's.
        self.assertEqual(request_ok(b2, 'CALL hold {"call_id":"t1"}')["state"], "held")
        self.assertErr(a1.request('CALL resume {"call_id":"t1"}'), "forbidden")
        self.assertEqual(request_ok(b2, 'CALL resume {"call_id":"t1"}')["state"], "answered")
        self.assertEqual(request_ok(b2, 'CALL end {"call_id":"t1","disposition":"resolved"}')["state"], "ended")
        entries = harness.stream_entries(self.redis.client(), "hotline:log:calls", call_id="t1")
        self.assertEqual([(e["event"], e["agent"]) for e in entries],
                         [("offer", "agent1"), ("answer", "agent1"), ("transfer", "agent1"),
                          ("hold", "agent2"), ("resume", "agent2"), ("end", "agent2")])
        self.assertEqual(entries[2]["to"], "agent2")
        with self.redis.client() as r:
            self.assertEqual(r.command("HGET", "hotline:call:t1", "state"), b"ended")
            self.assertIsNone(r.command("HGET", "hotline:calls:open", "t1"))

    def test_complaint_next_never_hands_one_out_twice_across_instances(self):
        opener = self.connect_auth("agent1", daemon=self.a)
        with self.redis.client() as r:
            r.command("HSET", "hotline:customer:CN1", "id", "CN1", "name", "Next Contention", "tier", "gold")
        opened = set()
        for i in range(40):
            body = request_ok(opener, "COMPLAINT open " + json.dumps(
                {"customer_id": "CN1", "category": "billing", "severity": ["low", "high"][i % 2],
                 "summary": f"contention {i}"}))
            opened.add(body["complaint_id"])
        # One claimed on B before the race, so both instances certainly claim.
        first = request_ok(self.connect_auth("agent3", daemon=self.b), "COMPLAINT next {}")
        self.assertEqual(first["owner"], "agent3")
        claims, errors = {("first", "agent3"): [first["complaint_id"]]}, []

        def claimer(daemon, user):
            try:
                c = harness.Client(daemon.port, timeout=T(10))
                c.auth(user)
                mine = []
                for _ in range(400):  # bounded: more tries than complaints and retries
                    reply = c.request("COMPLAINT next {}")
                    if reply.startswith("ERR conflict "):
                        continue  # lost the race too often (slow runs): ask again, as the reply says
                    body = harness.parse_ok_json(reply)
                    if body == {"complaint": None}:
                        break
                    if body.get("owner") != user:
                        errors.append(f"{user} claimed {body}")
                    mine.append(body["complaint_id"])
                claims[(daemon.name, user)] = mine
                c.close()
            except Exception as e:  # surfaced by the assertion below
                errors.append(repr(e))

        threads = [threading.Thread(target=claimer, args=(d, u))
                   for d, users in ((self.a, ("agent1", "agent2")), (self.b, ("agent3", "agent4")))
                   for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join(T(60))
        self.assertEqual(errors, [])
        every = [k for mine in claims.values() for k in mine]
        ours = [k for k in every if k in opened]
        self.assertEqual(len(ours), len(set(ours)), "a complaint was handed out twice")
        self.assertEqual(set(ours), opened, "every complaint opened was claimed exactly once")
        with self.redis.client() as r:
            for k in opened:
                self.assertIsNone(r.command("ZSCORE", "hotline:complaints:unassigned", k))

    def test_a_tail_on_one_instance_sees_the_others_entries_in_stream_order(self):
        sup = self.connect_auth("super1", daemon=self.a)
        start = request_ok(sup, "TAIL calls")["from"]
        writers = [(self.a, "agent1"), (self.b, "agent2"), (self.b, "agent3")]
        errors = []

        def writer(daemon, user):
            try:
                c = harness.Client(daemon.port, timeout=T(10))
                c.auth(user)
                for i in range(30):
                    reply = c.request(f'CALL offer {{"call_id":"tail-{daemon.name}-{user}-{i}","queue":"q"}}')
                    if not reply.startswith("OK"):
                        errors.append(reply)
                c.close()
            except Exception as e:  # surfaced by the assertion below
                errors.append(repr(e))

        threads = [threading.Thread(target=writer, args=w) for w in writers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(T(60))
        self.assertEqual(errors, [])
        start_id = "-" if start in ("0", "0-0") else "(" + start
        with self.redis.client() as r:
            want = [(sid.decode(), int(dict(zip(f[::2], f[1::2]))[b"seq"]))
                    for sid, f in r.command("XRANGE", "hotline:log:calls", start_id, "+")]
        self.assertGreaterEqual(len(want), 90)
        got = []
        for _ in range(len(want)):  # bounded: one line per entry expected
            line = sup.read_line(timeout=T())
            if line.startswith("* calls "):
                body = harness.parse_push(line, "calls")
                got.append((body["id"], body["seq"]))
        self.assertEqual(got, want, "every entry, from both instances, once, in stream order")
        self.assertIn("hotlined-b", json.dumps([line for line in sup.pushes]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
