"""POP, the screen pop: lookups by phone, customer id and account; unique,
ambiguous and no match; phone normalisation; dialled-number lines; Redis
down and back.  Customer data is written straight into Redis in the layout
documented in proto/KEYS.md, so this test also pins that layout."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

H = None
P = "hotline:"


def setUpModule():
    global H
    H = harness.module_harness("pop")


def put_customer(r, cid, name, tier="lead", **kw):
    harness.put_customer(r, cid, name, tier=tier, status="active", lifecycle="stability", **kw)


def put_contact(r, cid, when, kind="call", summary="billing question"):
    r.command("LPUSH", P + f"customer:{cid}:contacts",
              json.dumps({"time": when, "kind": kind, "agent": "agent1", "summary": summary}))


class PopTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(
            cls.redis.address,
            phone={"default_country": "86"},
            pop={"recent": 2, "max_candidates": 2},
            lines=[{"dnis": "400-800-1234", "brand": "Acme Mobile", "queue": "mobile"},
                   {"dnis": "+86 10 8888 0000", "brand": "Acme Broadband", "queue": "broadband"}])
        cls.addClassCleanup(cls.daemon.stop)
        r = cls.redis.client()
        put_customer(r, "C1", "Wang Fang", phones=["+8613800138000"], accounts=["AC1001"],
                     tier="platinum", revenue="250000.00", since="2011-03-04", team="key-accounts",
                     notes="prefers email")
        put_contact(r, "C1", "2026-11-01T10:00:00Z", summary="first")
        put_contact(r, "C1", "2026-11-02T10:00:00Z", summary="second")
        put_contact(r, "C1", "2026-11-03T10:00:00Z", summary="third")
        r.command("HSET", P + "customer:C1:open_complaints",
                  "K2", json.dumps({"complaint_id": "K2", "state": "open", "severity": "low",
                                    "due": "2026-12-01T00:00:00Z"}),
                  "K1", json.dumps({"complaint_id": "K1", "state": "acknowledged",
                                    "severity": "high", "due": "2026-11-25T00:00:00Z"}))
        # A household line shared by three customers of different value.
        put_customer(r, "C2", "Li Wei", phones=["+861065529988"], tier="iron")
        put_customer(r, "C3", "Li Na", phones=["+861065529988"], tier="gold")
        put_customer(r, "C4", "Li Qiang", phones=["+861065529988"], tier="iron")
        put_contact(r, "C4", "2026-11-05T08:00:00Z")
        put_contact(r, "C2", "2026-10-05T08:00:00Z")
        r.close()

    def pop(self, c, args):
        return harness.parse_ok_json(c.request("POP " + json.dumps(args)))

    def test_unique_by_phone_with_normalisation(self):
        c = self.connect_auth("agent1")
        for raw in ["+86 138-0013-8000", "13800138000", "0138 0013 8000", "0086 (138) 0013.8000",
                    "+8613800138000"]:
            with self.subTest(raw=raw):
                body = self.pop(c, {"phone": raw})
                self.assertEqual(body["match"], "unique")
                cust = body["customer"]
                self.assertEqual(cust["id"], "C1")
                self.assertEqual(cust["name"], "Wang Fang")
                self.assertEqual(cust["tier"], "platinum")
                self.assertEqual(cust["status"], "active")
                self.assertEqual(cust["lifecycle"], "stability")
                self.assertEqual(cust["phones"], ["+8613800138000"])
                self.assertEqual(cust["accounts"], ["AC1001"])
                self.assertEqual(cust["revenue"], 250000.0)
                self.assertEqual(cust["since"], "2011-03-04")
                # newest first, capped at pop.recent
                self.assertEqual([x["summary"] for x in body["recent"]], ["third", "second"])
                # most urgent deadline first
                self.assertEqual([x["complaint_id"] for x in body["open_complaints"]], ["K1", "K2"])

    def test_by_customer_id_and_account(self):
        c = self.connect_auth("agent2")
        self.assertEqual(self.pop(c, {"customer_id": "C1"})["customer"]["name"], "Wang Fang")
        self.assertEqual(self.pop(c, {"account": "AC1001"})["customer"]["id"], "C1")
        self.assertErr(c.request('POP {"customer_id":"C404"}'), "not_found")
        self.assertErr(c.request('POP {"account":"AC404"}'), "not_found")

    def test_customer_without_contacts_or_complaints(self):
        c = self.connect_auth("agent1")
        body = self.pop(c, {"customer_id": "C3"})
        self.assertEqual(body["match"], "unique")
        self.assertEqual(body["recent"], [])
        self.assertEqual(body["open_complaints"], [])

    def test_ambiguous_shared_number(self):
        c = self.connect_auth("super1")
        body = self.pop(c, {"phone": "(010) 6552-9988"})
        self.assertEqual(body["match"], "ambiguous")
        self.assertEqual(body["phone"], "+861065529988")
        self.assertEqual(body["total"], 3)
        # most valuable first, then most recent contact; capped at max_candidates
        ids = [x["id"] for x in body["candidates"]]
        self.assertEqual(ids, ["C3", "C4"])
        self.assertEqual(body["candidates"][0], {"id": "C3", "name": "Li Na", "tier": "gold",
                                                 "status": "active", "last_contact": None})
        self.assertEqual(body["candidates"][1]["last_contact"], "2026-11-05T08:00:00Z")

    def test_unknown_caller(self):
        c = self.connect_auth("agent1")
        body = self.pop(c, {"phone": "139 0000 0000"})
        self.assertEqual(body, {"match": "none", "phone": "+8613900000000"})

    def test_dialled_number_line(self):
        c = self.connect_auth("agent1")
        body = self.pop(c, {"phone": "13800138000", "dnis": "4008001234"})
        self.assertEqual(body["line"], {"dnis": "+864008001234", "brand": "Acme Mobile",
                                        "queue": "mobile"})
        body = self.pop(c, {"phone": "13900000000", "dnis": "010-8888-0000"})
        self.assertEqual(body["line"]["brand"], "Acme Broadband")
        body = self.pop(c, {"phone": "13800138000", "dnis": "4000000000"})
        self.assertIsNone(body["line"])
        self.assertNotIn("line", self.pop(c, {"phone": "13800138000"}))

    def test_call_id_links_call_to_customer(self):
        c = self.connect_auth("agent1")
        body = self.pop(c, {"phone": "13800138000", "call_id": "call-77"})
        self.assertEqual(body["call_id"], "call-77")
        with self.redis.client() as r:
            self.assertEqual(r.command("HGET", P + "call:call-77", "customer_id"), b"C1")
            # The tier travels with the link, so the call's log entries carry it.
            self.assertEqual(r.command("HGET", P + "call:call-77", "tier"), b"platinum")
        self.assertIn('"state":"offered"', c.request('CALL offer {"call_id":"call-77","queue":"q"}'))
        with self.redis.client() as r:
            _id, fields = r.command("XREVRANGE", P + "log:calls", "+", "-", "COUNT", "1")[0]
            entry = json.loads(dict(zip(fields[::2], fields[1::2]))[b"entry"])
        self.assertEqual((entry["customer_id"], entry["tier"]), ("C1", "platinum"))

    def test_bad_requests(self):
        c = self.connect_auth("agent1")
        cases = [
            ('POP', "exactly one"),
            ('POP {}', "exactly one"),
            ('POP {"phone":"1","customer_id":"C1"}', "exactly one"),
            ('POP {"phone":123}', "must be a string"),
            ('POP {"phone":"12ab34"}', "phone"),
            ('POP {"phone":"13800138000","colour":"red"}', "unknown field"),
            ('POP {"customer_id":"../etc"}', "customer_id"),
            ('POP {"customer_id":"C1*"}', "customer_id"),
            ('POP {"account":"a:b"}', "account"),
            ('POP {"phone":"13800138000","call_id":"x y"}', "call_id"),
            ('POP {"phone":"13800138000"', "position"),
            ('POP ["phone"]', "object"),
            ('POP {"phone":"1","phone":"2"}', "duplicate"),
        ]
        for line, message in cases:
            with self.subTest(line=line):
                self.assertErr(c.request(line), "bad_request", message)
        self.assertOK(c.request("PING"))

    def test_pop_needs_auth(self):
        c = self.connect()
        self.assertErr(c.request('POP {"phone":"13800138000"}'), "auth_required")

    def test_pipelined_pops_answer_in_order(self):
        c = self.connect_auth("agent1")
        lines = []
        for i in range(50):
            lines.append('POP {"customer_id":"C%d"}' % (1 + i % 4))
            lines.append("PING")
        c.send(("\n".join(lines) + "\n").encode())
        for i in range(50):
            body = harness.parse_ok_json(c.read_reply())
            self.assertEqual(body["customer"]["id"], "C%d" % (1 + i % 4))
            self.assertOK(c.read_reply())


class PopRedisDownTest(harness.TestCase):
    def setUp(self):
        self.redis = H.start_redis()
        self.daemon = H.start_daemon(self.redis.address, phone={"default_country": "86"},
                                     redis={"reconnect_min_ms": 50, "reconnect_max_ms": 200})
        self.addCleanup(self.daemon.stop)
        with self.redis.client() as r:
            put_customer(r, "C9", "Zhao Lei", phones=["+8613700000009"])

    def test_pop_while_redis_down_and_after_it_returns(self):
        c = self.connect_auth("agent1")
        self.assertEqual(harness.parse_ok_json(c.request('POP {"customer_id":"C9"}'))["match"], "unique")
        self.redis.kill9()
        self.daemon.wait_log(r"redis link down")
        self.assertErr(c.request('POP {"phone":"13700000009"}'), "unavailable")
        self.assertOK(c.request("PING"))
        self.redis.restart()
        # Redis without persistence comes back empty: reload the record.
        with self.redis.client() as r:
            put_customer(r, "C9", "Zhao Lei", phones=["+8613700000009"])
        harness.wait_until(lambda: harness.stats(self.connect_auth("super1"))["redis"]["state"] == "up",
                           what="redis link up again")
        body = harness.parse_ok_json(c.request('POP {"phone":"13700000009"}'))
        self.assertEqual(body["customer"]["id"], "C9")


if __name__ == "__main__":
    unittest.main(verbosity=2)
