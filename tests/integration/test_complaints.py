"""COMPLAINT, the complaint desk: opening (customer by id or phone, SLA
deadline by severity and tier), the life of a complaint (ack progress wait
resume escalate resolve close reopen), its history and the stream
hotline:log:complaints (hash chain verified with hashlib), the projections
(queue ZSETs, state hash, history, the customer's open complaints and
contacts as POP shows them), the queue (priority, list, next - also raced
from many connections), request_id retries, business-hours calendars and
Redis going away.

Customers are written straight into Redis as test_pop.py does.  Deadlines
are checked exactly: the daemon works in whole seconds, and every entry's
ts says which second it acted in."""

import calendar
import datetime
import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

H = None
P = harness.KEY_PREFIX
STREAM = P + "log:complaints"
ID_RE = re.compile(r"^K\d{8}-[A-Z2-9]{8}$")
DUE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

TIERS = ["platinum", "gold", "iron", "lead"]
SEVERITIES = ["critical", "high", "medium", "low"]
# Small and distinct, so a deadline tells which cell it came from (minutes).
SLA = {sev: {tier: 10 + 40 * i + 10 * j for j, tier in enumerate(TIERS)} for i, sev in enumerate(SEVERITIES)}
ESCALATION_PCT = 50

CUSTOMERS = [
    # id, name, phones, tier (None = no tier field)
    ("CP", "Plat Customer", ["+8613800000001"], "platinum"),
    ("CG", "Gold Customer", ["+8613800000002"], "gold"),
    ("CI", "Iron Customer", ["+8613800000003"], "iron"),
    ("CL", "Lead Customer", ["+8613800000004"], "lead"),
    ("CX", "Odd Tier", ["+8613800000005"], "diamond"),
    ("CN", "No Tier Yet", ["+8613800000006"], None),
    ("CS1", "Household A", ["+8613800000009"], "gold"),
    ("CS2", "Household B", ["+8613800000009"], "iron"),
]


def setUpModule():
    global H
    H = harness.module_harness("complaints")


# --------------------------------------------------------------------------
# Helpers


def seed_customers(r):
    for cid, name, phones, tier in CUSTOMERS:
        harness.put_customer(r, cid, name, phones, status="active", tier=tier)


def complaint(c, action, **args):
    return c.request(f"COMPLAINT {action} " + json.dumps(args))


def complaint_ok(c, action, **args):
    return harness.parse_ok_json(complaint(c, action, **args))


def sla_seconds(sev, tier):
    return SLA[sev][tier] * 60


def escalated(due, now, pct=ESCALATION_PCT):
    """sla_after_escalation on the wall clock."""
    remaining = due - now
    if remaining <= 0:
        return due
    return now + remaining // 100 * pct + remaining % 100 * pct // 100


class ComplaintTestBase(harness.TestCase):
    def open(self, c, sev="high", cat="billing", summary="charged twice", **who):
        if not who:
            who = {"customer_id": "CL"}
        return complaint_ok(c, "open", severity=sev, category=cat, summary=summary, **who)

    def get(self, c, kid):
        body = complaint_ok(c, "get", complaint_id=kid)
        return body["complaint"], body["history"]

    def rcmd(self, *args):
        with self.redis.client() as r:
            return r.command(*args)

    def stream_len(self):
        return self.rcmd("XLEN", STREAM)

    def stream_entries(self, kid):
        with self.redis.client() as r:
            return harness.stream_entries(r, STREAM, complaint_id=kid)

    def pop_open(self, c, cid):
        return {x["complaint_id"]: x for x in c.request_json(
            "POP " + json.dumps({"customer_id": cid}))["open_complaints"]}


# --------------------------------------------------------------------------


class ComplaintTest(ComplaintTestBase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(
            cls.redis.address, phone={"default_country": "86"}, sla=SLA,
            complaints={"escalation_pct": ESCALATION_PCT, "reopen_window_h": 168})
        cls.addClassCleanup(cls.daemon.stop)
        with cls.redis.client() as r:
            seed_customers(r)

    def test_open_reply_state_and_deadline(self):
        c = self.connect_auth("agent1")
        before = self.stream_len()
        body = self.open(c, sev="medium", cat="delivery", summary="parcel lost", customer_id="CG",
                         call_id="call-k1", note="angry")
        self.assertEqual(set(body), {"complaint_id", "state", "due", "id", "priority"}, body)
        self.assertRegex(body["complaint_id"], ID_RE)
        self.assertEqual(body["state"], "open")
        self.assertRegex(body["due"], DUE_RE)
        self.assertIsInstance(body["priority"], int)
        self.assertGreaterEqual(body["priority"], 1)
        self.assertLessEqual(body["priority"], self.rcmd("ZCARD", P + "complaints:open"))
        self.assertEqual(self.stream_len(), before + 1)
        kid = body["complaint_id"]

        comp, hist = self.get(c, kid)
        self.assertEqual(comp["complaint_id"], kid)
        self.assertEqual(comp["state"], "open")
        self.assertEqual((comp["severity"], comp["tier"], comp["category"]), ("medium", "gold", "delivery"))
        self.assertEqual(comp["summary"], "parcel lost")
        self.assertEqual(comp["customer_id"], "CG")
        self.assertEqual(comp["call_id"], "call-k1")
        self.assertEqual(comp["opened_by"], "agent1")
        self.assertEqual((comp["level"], comp["reopened"], comp["overdue"]), (0, 0, False))
        self.assertNotIn("owner", comp)
        self.assertEqual(comp["due"], body["due"])
        self.assertEqual(harness.epoch(comp["due"]) - harness.epoch(comp["opened_at"]), sla_seconds("medium", "gold"))

        self.assertEqual(len(hist), 1)
        e = hist[0]
        self.assertEqual((e["event"], e["complaint_id"], e["agent"], e["role"], e["state"]),
                         ("open", kid, "agent1", "agent", "open"))
        self.assertRegex(e["ts"], harness.TS_RE)
        self.assertEqual(harness.epoch(e["ts"]), harness.epoch(comp["opened_at"]))
        self.assertEqual((e["customer_id"], e["call_id"], e["note"], e["due"]), ("CG", "call-k1", "angry", body["due"]))
        self.assertEqual(self.stream_entries(kid), hist, "history is the stream's entries for it")

    def test_deadline_by_severity_and_tier(self):
        c = self.connect_auth("agent2")
        got = {}
        for sev in SEVERITIES:
            for cust, tier in [("CP", "platinum"), ("CG", "gold"), ("CI", "iron"), ("CL", "lead")]:
                body = self.open(c, sev=sev, customer_id=cust)
                comp, _ = self.get(c, body["complaint_id"])
                self.assertEqual(comp["tier"], tier)
                got[sev, tier] = harness.epoch(comp["due"]) - harness.epoch(comp["opened_at"])
        self.assertEqual(got, {(s, t): sla_seconds(s, t) for s in SEVERITIES for t in TIERS})
        # so a platinum customer's complaint comes due first
        a = self.open(c, sev="high", customer_id="CL")
        b = self.open(c, sev="high", customer_id="CP")
        self.assertLess(harness.epoch(b["due"]), harness.epoch(a["due"]))

    def test_unknown_tier_and_unknown_caller_get_the_lead_deadline(self):
        c = self.connect_auth("agent1")
        odd = self.open(c, sev="critical", customer_id="CX")
        comp, _ = self.get(c, odd["complaint_id"])
        self.assertEqual((comp["customer_id"], comp["tier"]), ("CX", "lead"))
        self.assertEqual(harness.epoch(comp["due"]) - harness.epoch(comp["opened_at"]), sla_seconds("critical", "lead"))
        anon = self.open(c, sev="critical", phone="139 1234 5678")
        comp, hist = self.get(c, anon["complaint_id"])
        self.assertNotIn("customer_id", comp)
        self.assertEqual(comp["phone"], "+8613912345678")
        self.assertEqual(comp["tier"], "lead")
        self.assertEqual(harness.epoch(comp["due"]) - harness.epoch(comp["opened_at"]), sla_seconds("critical", "lead"))
        self.assertNotIn("customer_id", hist[0])

    def test_customer_record_without_tier_gets_the_lead_deadline(self):
        # `hotline import` stores no tier until tiers are computed; such a
        # customer exists (POP finds it) and counts as lead.
        c = self.connect_auth("agent1")
        self.assertEqual(c.request_json('POP {"customer_id":"CN"}')["customer"]["id"], "CN")
        reply = complaint(c, "open", severity="low", category="other", summary="s", customer_id="CN")
        body = harness.parse_ok_json(reply)
        comp, _ = self.get(c, body["complaint_id"])
        self.assertEqual((comp["customer_id"], comp["tier"]), ("CN", "lead"))

    def test_open_by_phone_and_who_the_customer_is(self):
        c = self.connect_auth("agent1")
        body = self.open(c, phone="0138-0000-0001")
        comp, _ = self.get(c, body["complaint_id"])
        self.assertEqual((comp["customer_id"], comp["tier"], comp["phone"]), ("CP", "platinum", "+8613800000001"))
        before = self.stream_len()
        self.assertErr(complaint(c, "open", severity="low", category="billing", summary="s",
                                 phone="13800000009"), "conflict", r"shared by 2")
        self.assertErr(complaint(c, "open", severity="low", category="billing", summary="s",
                                 customer_id="C404"), "not_found")
        self.assertEqual(self.stream_len(), before, "refused opens log nothing")
        # a shared number is fine once the agent picks the customer
        body = self.open(c, customer_id="CS2", phone="13800000009")
        self.assertEqual(self.get(c, body["complaint_id"])[0]["tier"], "iron")

    def test_bad_requests_and_roles(self):
        c = self.connect_auth("agent1")
        kid = self.open(c)["complaint_id"]
        before = self.stream_len()
        ok_open = {"customer_id": "CL", "category": "billing", "severity": "low", "summary": "s"}

        def o(**kw):
            d = dict(ok_open, **kw)
            return "COMPLAINT open " + json.dumps({k: v for k, v in d.items() if v is not None})

        cases = [
            ("COMPLAINT frob {}", "unknown COMPLAINT action"),
            ("COMPLAINT", "sub-command"),
            (o(customer_id=None), "customer_id or phone"),
            (o(category=None), "category"),
            (o(category="weather"), "category"),
            (o(severity=None), "severity"),
            (o(severity="urgent"), "severity"),
            (o(summary=None), "summary"),
            (o(summary=""), "summary"),
            (o(summary="x" * 501), "summary"),
            (o(customer_id="C 1"), "customer_id"),
            (o(phone="12ab"), "phone"),
            (o(call_id="a:b"), "call_id"),
            (o(owner="agent2"), "unknown field 'owner'"),
            (o(agent="agent2"), "unknown field 'agent'"),
            (o(complaint_id="K1"), "unknown field"),
            ('COMPLAINT ack {}', "complaint_id"),
            ('COMPLAINT ack {"complaint_id":"K/1"}', "complaint_id"),
            ('COMPLAINT ack {"complaint_id":"%s","severity":"low"}' % kid, "unknown field"),
            ('COMPLAINT resolve {"complaint_id":"%s"}' % kid, "resolution"),
            ('COMPLAINT resolve {"complaint_id":"%s","resolution":""}' % kid, "resolution"),
            ('COMPLAINT ack {"complaint_id":"%s","resolution":"x"}' % kid, "unknown field"),
            ('COMPLAINT next {"severity":"low"}', "unknown field"),
            ('COMPLAINT get {}', "complaint_id"),
            ('COMPLAINT get {"complaint_id":"%s","x":1}' % kid, "unknown field"),
            ('COMPLAINT list {"colour":"red"}', "unknown filter"),
            ('COMPLAINT list {"limit":0}', "limit"),
            ('COMPLAINT list {"limit":501}', "limit"),
            ('COMPLAINT list {"overdue":"yes"}', "overdue"),
            ('COMPLAINT list {"state":1}', "state"),
        ]
        for line, message in cases:
            with self.subTest(line=line[:80]):
                self.assertErr(c.request(line), "bad_request", message)
        self.assertErr(complaint(c, "ack", complaint_id="K20200101-AAAAAAAA"), "not_found")
        self.assertErr(complaint(c, "get", complaint_id="K20200101-AAAAAAAA"), "not_found")
        self.assertEqual(self.stream_len(), before)
        self.assertEqual(self.get(c, kid)[0]["state"], "open")

        adm = self.connect_auth("admin1")
        for line in [o(), 'COMPLAINT list {}', 'COMPLAINT next {}', 'COMPLAINT ack {"complaint_id":"%s"}' % kid]:
            self.assertErr(adm.request(line), "forbidden")
        self.assertErr(self.connect().request('COMPLAINT list {}'), "auth_required")

    def test_lifecycle_history_and_stream(self):
        c = self.connect_auth("agent1")
        sup = self.connect_auth("super1")
        kid = self.open(c, sev="high", customer_id="CI")["complaint_id"]
        steps = [
            (c, "ack", {}, "acknowledged"),
            (c, "progress", {"note": "called the customer"}, "in_progress"),
            (c, "progress", {}, "in_progress"),
            (c, "wait", {}, "waiting"),
            (sup, "escalate", {}, "waiting"),
            (c, "resume", {}, "in_progress"),
            (sup, "escalate", {}, "in_progress"),
            (c, "resolve", {"resolution": "refunded"}, "resolved"),
            (sup, "reopen", {}, "open"),
            (c, "resolve", {"resolution": "refunded twice"}, "resolved"),
            (c, "close", {}, "closed"),
            (c, "reopen", {}, "open"),
            (c, "escalate", {}, "open"),
        ]
        for conn, action, extra, want in steps:
            with self.subTest(action=action):
                body = complaint_ok(conn, action, complaint_id=kid, **extra)
                self.assertEqual((body["complaint_id"], body["state"]), (kid, want))
                self.assertRegex(body["id"], r"^\d+-\d+$")
        comp, hist = self.get(c, kid)
        self.assertEqual([e["event"] for e in hist], ["open"] + [s[1] for s in steps])
        self.assertEqual([e["state"] for e in hist], ["open"] + [s[3] for s in steps])
        self.assertEqual([e["agent"] for e in hist],
                         ["agent1"] + ["super1" if s[0] is sup else "agent1" for s in steps])
        self.assertEqual(hist, self.stream_entries(kid))
        self.assertEqual([e["ts"] for e in hist], sorted(e["ts"] for e in hist))
        self.assertEqual(hist[2]["note"], "called the customer")
        self.assertEqual(hist[8]["resolution"], "refunded")
        self.assertEqual([int(e["level"]) for e in hist if e["event"] == "escalate"], [1, 2, 3])
        self.assertEqual(comp["state"], "open")
        self.assertEqual(comp["level"], 3)
        self.assertEqual(comp["reopened"], 2)
        for e in hist:
            self.assertEqual((e["customer_id"], e["severity"], e["category"], e["tier"]),
                             ("CI", "high", "billing", "iron"))

    def test_illegal_moves_conflict(self):
        c = self.connect_auth("agent2")
        kid = self.open(c)["complaint_id"]
        before = self.stream_len()
        refused = {
            "open": ["wait", "resume", "close", "reopen"],
            "acknowledged": ["ack", "resume", "close", "reopen"],
            "in_progress": ["ack", "resume", "close", "reopen"],
            "waiting": ["ack", "progress", "wait", "resolve", "close", "reopen"],
            "resolved": ["ack", "progress", "wait", "resume", "escalate", "resolve"],
            "closed": ["ack", "progress", "wait", "resume", "escalate", "resolve", "close"],
        }
        path = [("open", None), ("acknowledged", "ack"), ("in_progress", "progress"), ("waiting", "wait"),
                ("in_progress", "resume"), ("resolved", "resolve"), ("closed", "close")]
        n = 0
        for state, move in path:
            if move:
                extra = {"resolution": "done"} if move == "resolve" else {}
                complaint_ok(c, move, complaint_id=kid, **extra)
                n += 1
            if state == "in_progress" and move == "resume":
                continue
            for action in refused[state]:
                with self.subTest(state=state, action=action):
                    extra = {"resolution": "done"} if action == "resolve" else {}
                    self.assertErr(complaint(c, action, complaint_id=kid, **extra), "conflict", rf"\b{state}\b")
        self.assertEqual(self.stream_len(), before + n)

    def test_wait_and_resume_move_the_deadline_by_the_pause(self):
        c = self.connect_auth("agent1")
        kid = self.open(c, sev="critical", customer_id="CG")["complaint_id"]
        complaint_ok(c, "ack", complaint_id=kid)
        due0 = harness.epoch(self.get(c, kid)[0]["due"])
        complaint_ok(c, "wait", complaint_id=kid)
        comp, _ = self.get(c, kid)
        self.assertEqual(comp["state"], "waiting")
        self.assertIn("paused_at", comp)
        self.assertEqual(harness.epoch(comp["due"]), due0, "waiting alone does not move the deadline")
        time.sleep(2.1)
        body = complaint_ok(c, "resume", complaint_id=kid)
        comp, hist = self.get(c, kid)
        self.assertNotIn("paused_at", comp)
        paused_at, resumed_at = harness.epoch(hist[-2]["ts"]), harness.epoch(hist[-1]["ts"])
        self.assertGreaterEqual(resumed_at - paused_at, 2)
        self.assertEqual(harness.epoch(comp["due"]), due0 + (resumed_at - paused_at))
        self.assertEqual(body["due"], comp["due"])
        self.assertEqual(hist[-1]["due"], comp["due"])

    def test_escalate_keeps_a_share_of_the_remaining_time(self):
        c = self.connect_auth("agent1")
        sup = self.connect_auth("super1")
        kid = self.open(c, sev="critical", customer_id="CL")["complaint_id"]
        due = harness.epoch(self.get(c, kid)[0]["due"])
        for level in (1, 2):
            body = complaint_ok(sup, "escalate", complaint_id=kid)
            comp, hist = self.get(c, kid)
            now = harness.epoch(hist[-1]["ts"])
            want = escalated(due, now)
            self.assertLess(want, due)
            self.assertEqual(harness.epoch(comp["due"]), want)
            self.assertEqual((body["level"], comp["level"], body["due"]), (level, level, comp["due"]))
            due = want
        # escalating a waiting complaint raises the level, the clock stays stopped
        complaint_ok(c, "ack", complaint_id=kid)
        complaint_ok(c, "wait", complaint_id=kid)
        body = complaint_ok(sup, "escalate", complaint_id=kid)
        self.assertEqual((body["state"], body["level"], harness.epoch(body["due"])), ("waiting", 3, due))

    def test_reopen_only_within_the_window(self):
        c = self.connect_auth("agent1")
        kid = self.open(c, sev="medium", customer_id="CP")["complaint_id"]
        complaint_ok(c, "resolve", complaint_id=kid, resolution="fixed")
        complaint_ok(c, "close", complaint_id=kid)
        key = P + "complaint:" + kid
        # pretend it was closed just over a week ago (the window is 168 h)
        self.rcmd("HSET", key, "closed_at", str(int(time.time()) - 168 * 3600 - 120))
        self.assertErr(complaint(c, "reopen", complaint_id=kid), "conflict", r"window")
        # ... and just under
        self.rcmd("HSET", key, "closed_at", str(int(time.time()) - 167 * 3600))
        body = complaint_ok(c, "reopen", complaint_id=kid)
        self.assertEqual(body["state"], "open")
        comp, hist = self.get(c, kid)
        self.assertEqual(comp["reopened"], 1)
        self.assertNotIn("owner", comp)
        # a fresh deadline from the moment of reopening
        self.assertEqual(harness.epoch(comp["due"]), harness.epoch(hist[-1]["ts"]) + sla_seconds("medium", "platinum"))
        self.assertIsNotNone(self.rcmd("ZSCORE", P + "complaints:unassigned", kid))

    def test_projections_follow_the_complaint(self):
        c = self.connect_auth("agent2")
        kid = self.open(c, sev="low", cat="quality", summary="noisy line", customer_id="CG")["complaint_id"]
        comp, _ = self.get(c, kid)
        due = harness.epoch(comp["due"])
        self.assertEqual(float(self.rcmd("ZSCORE", P + "complaints:open", kid)), due)
        self.assertEqual(float(self.rcmd("ZSCORE", P + "complaints:unassigned", kid)), due)
        self.assertEqual(self.rcmd("HGET", P + f"complaint:{kid}", "state"), b"open")
        self.assertEqual(self.rcmd("LLEN", P + f"complaint:{kid}:history"), 1)
        card = self.pop_open(c, "CG")[kid]
        self.assertEqual((card["state"], card["severity"], card["due"]), ("open", "low", comp["due"]))
        top = c.request_json('POP {"customer_id":"CG"}')["recent"][0]
        self.assertEqual((top["kind"], top["complaint_id"], top["agent"]), ("complaint", kid, "agent2"))
        self.assertIn("open", top["summary"])

        complaint_ok(c, "ack", complaint_id=kid)
        self.assertEqual(self.pop_open(c, "CG")[kid]["state"], "acknowledged")
        complaint_ok(c, "resolve", complaint_id=kid, resolution="replaced the router")
        self.assertNotIn(kid, self.pop_open(c, "CG"))
        self.assertIsNone(self.rcmd("ZSCORE", P + "complaints:open", kid))
        self.assertIsNone(self.rcmd("ZSCORE", P + "complaints:unassigned", kid))
        self.assertEqual(self.rcmd("HGET", P + f"complaint:{kid}", "state"), b"resolved")
        self.assertEqual(self.rcmd("LLEN", P + f"complaint:{kid}:history"), 3)
        top = c.request_json('POP {"customer_id":"CG"}')["recent"][0]
        self.assertEqual(top["complaint_id"], kid)
        self.assertIn("resolve", top["summary"])
        self.assertEqual(complaint_ok(c, "list", state="resolved")["complaints"], [], "list shows open ones only")

        complaint_ok(c, "reopen", complaint_id=kid)
        self.assertEqual(self.pop_open(c, "CG")[kid]["state"], "open")
        self.assertIsNotNone(self.rcmd("ZSCORE", P + "complaints:open", kid))
        self.assertIsNotNone(self.rcmd("ZSCORE", P + "complaints:unassigned", kid))

    def test_request_id_retry_of_open_answers_the_original(self):
        c = self.connect_auth("agent1")
        rid = f"open-{os.getpid()}-{time.monotonic_ns()}"
        args = {"customer_id": "CI", "category": "billing", "severity": "high", "summary": "s", "request_id": rid}
        first = complaint_ok(c, "open", **args)
        n = self.stream_len()
        c.close()
        c = self.connect_auth("agent1")
        again = complaint_ok(c, "open", **args)
        self.assertEqual(self.stream_len(), n, "the retry logged nothing")
        self.assertEqual(again["complaint_id"], first["complaint_id"], "no second complaint")
        self.assertIs(again.get("duplicate"), True)
        self.assertEqual(again, dict(first, duplicate=True))

    def test_request_id_retry_of_an_action(self):
        c = self.connect_auth("agent2")
        kid = self.open(c)["complaint_id"]
        rid = "ack-" + kid
        first = complaint_ok(c, "ack", complaint_id=kid, request_id=rid)
        complaint_ok(c, "progress", complaint_id=kid)
        n = self.stream_len()
        # after the state moved on, the retry is not a conflict: it is the original answer
        again = complaint_ok(c, "ack", complaint_id=kid, request_id=rid)
        self.assertEqual(again, dict(first, duplicate=True))
        # another user's request_id space is separate
        other = complaint(self.connect_auth("super1"), "ack", complaint_id=kid, request_id=rid)
        self.assertErr(other, "conflict", r"in_progress")
        self.assertEqual(self.stream_len(), n)
        self.assertEqual([e["event"] for e in self.get(c, kid)[1]], ["open", "ack", "progress"])

    def test_overdue_shows_in_get_and_list(self):
        c = self.connect_auth("agent1")
        kid = self.open(c, sev="low", customer_id="CL")["complaint_id"]
        fresh = self.open(c, sev="low", customer_id="CL")["complaint_id"]
        # Nobody waits days in a test: move the first deadline into the past.
        past = int(time.time()) - 60
        self.rcmd("HSET", P + f"complaint:{kid}", "due", str(past))
        self.rcmd("ZADD", P + "complaints:open", str(past), kid)
        self.assertIs(self.get(c, kid)[0]["overdue"], True)
        self.assertIs(self.get(c, fresh)[0]["overdue"], False)
        over = complaint_ok(c, "list", overdue=True, limit=500)
        self.assertEqual([x["complaint_id"] for x in over["complaints"]], [kid])
        not_over = complaint_ok(c, "list", overdue=False, limit=500)["complaints"]
        self.assertIn(fresh, [x["complaint_id"] for x in not_over])
        self.assertNotIn(kid, [x["complaint_id"] for x in not_over])
        # while it waits on the customer its clock stands still
        complaint_ok(c, "ack", complaint_id=fresh)
        complaint_ok(c, "wait", complaint_id=fresh)
        self.assertIs(self.get(c, fresh)[0]["overdue"], False)
        complaint_ok(c, "resolve", complaint_id=kid, resolution="late but done")
        self.assertIs(self.get(c, kid)[0]["overdue"], False, "a resolved complaint is not overdue")

    def test_stream_hash_chain_verifies(self):
        c = self.connect_auth("agent1")
        kid = self.open(c)["complaint_id"]
        complaint_ok(c, "ack", complaint_id=kid)
        with self.redis.client() as r:
            stream = harness.read_stream(r, STREAM)
        self.assertGreaterEqual(len(stream), 2)
        self.assertEqual(harness.chain_problems(stream), [])
        self.assertEqual(stream[0][1]["prev"].decode(), harness.GENESIS)
        self.assertEqual([int(f["seq"]) for _, f in stream], list(range(1, len(stream) + 1)))
        verified = harness.hotline_verify(self.daemon, "complaints")
        if verified is not None:
            self.assertEqual(verified, (0, []))


class ComplaintQueueTest(ComplaintTestBase):
    """The queue: each test starts from an empty Redis (the daemon notices
    the emptied streams and re-anchors its chains)."""

    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address, phone={"default_country": "86"}, sla=SLA)
        cls.addClassCleanup(cls.daemon.stop)

    def setUp(self):
        with self.redis.client() as r:
            r.command("FLUSHALL")
            seed_customers(r)

    def open_set(self, c, specs):
        """Open (severity, customer) pairs; return their ids."""
        return [self.open(c, sev=s, customer_id=cust)["complaint_id"] for s, cust in specs]

    def test_priority_is_the_rank_by_deadline(self):
        c = self.connect_auth("agent1")
        specs = [("low", "CL"), ("critical", "CP"), ("medium", "CG"), ("high", "CI")]
        got = [self.open(c, sev=s, customer_id=cust)["priority"] for s, cust in specs]
        # dues: 160, 10, 100, 70 minutes -> rank of each among those open so far
        self.assertEqual(got, [1, 1, 2, 2])
        ids = [x["complaint_id"] for x in complaint_ok(c, "list")["complaints"]]
        self.assertEqual(len(ids), 4)
        dues = [harness.epoch(self.get(c, k)[0]["due"]) for k in ids]
        self.assertEqual(dues, sorted(dues))
        self.assertEqual([self.get(c, k)[0]["severity"] for k in ids], ["critical", "high", "medium", "low"])

    def test_list_in_queue_order_with_filters(self):
        c = self.connect_auth("agent1")
        specs = [("low", "CL"), ("critical", "CP"), ("medium", "CG"), ("high", "CI"), ("critical", "CG")]
        ids = self.open_set(c, specs)
        lo, cp, mg, hi, cg = ids
        closed = self.open(c, sev="critical", customer_id="CI")["complaint_id"]
        complaint_ok(c, "resolve", complaint_id=closed, resolution="x")
        complaint_ok(c, "ack", complaint_id=mg)
        claimed = complaint_ok(self.connect_auth("agent2"), "next")
        self.assertEqual(claimed["complaint_id"], cp)

        def listed(**f):
            body = complaint_ok(c, "list", **f)
            self.assertEqual(body["total_open"], 5)
            return [x["complaint_id"] for x in body["complaints"]]

        self.assertEqual(listed(), [cp, cg, hi, mg, lo])
        self.assertEqual(listed(limit=2), [cp, cg])
        self.assertEqual(listed(severity="critical"), [cp, cg])
        self.assertEqual(listed(tier="gold"), [cg, mg])
        self.assertEqual(listed(state="acknowledged"), [mg])
        self.assertEqual(listed(owner="agent2"), [cp])
        self.assertEqual(listed(category="billing", severity="low"), [lo])
        self.assertEqual(listed(category="delivery"), [])
        self.assertEqual(listed(overdue=False), [cp, cg, hi, mg, lo])
        self.assertEqual(listed(overdue=True), [])
        self.assertEqual(listed(state="resolved"), [])
        first = complaint_ok(c, "list", limit=1)["complaints"][0]
        self.assertEqual(first["owner"], "agent2")
        self.assertEqual(first["tier"], "platinum")
        self.assertIn("claimed_at", first)

    def test_next_hands_out_the_most_urgent_once(self):
        specs = [("low", "CL"), ("critical", "CG"), ("high", "CP")]
        c = self.connect_auth("agent1")
        lo, crit, hi = self.open_set(c, specs)
        order = []
        for user in ["agent2", "super1", "agent1"]:
            conn = self.connect_auth(user)
            body = complaint_ok(conn, "next")
            self.assertEqual(body["owner"], user)
            self.assertEqual(body["state"], "open")
            order.append(body["complaint_id"])
            self.assertEqual(self.get(c, body["complaint_id"])[0]["owner"], user)
        self.assertEqual(order, [crit, hi, lo])
        for _ in range(3):
            self.assertEqual(complaint_ok(c, "next"), {"complaint": None})
        self.assertEqual(self.rcmd("ZCARD", P + "complaints:unassigned"), 0)
        self.assertEqual(self.rcmd("ZCARD", P + "complaints:open"), 3)
        # working on a claimed complaint does not put it back in the pool
        complaint_ok(c, "ack", complaint_id=lo)
        complaint_ok(c, "escalate", complaint_id=lo)
        self.assertEqual(complaint_ok(c, "next"), {"complaint": None})
        hist = self.get(c, crit)[1]
        self.assertEqual([(e["event"], e.get("owner")) for e in hist], [("open", None), ("assign", "agent2")])

    def test_racing_next_hands_each_complaint_out_once(self):
        c = self.connect_auth("agent1")
        ids = self.open_set(c, [("critical", "CP"), ("critical", "CG"), ("critical", "CI"), ("critical", "CL"),
                                ("high", "CP")])
        users = ["agent1", "agent2", "super1"]
        conns = [self.connect_auth(users[i % 3]) for i in range(10)]
        for conn in conns:
            conn.send_line("COMPLAINT next {}")
        replies = [harness.parse_ok_json(conn.read_reply()) for conn in conns]
        claimed = [(conns[i], r) for i, r in enumerate(replies) if r.get("complaint_id")]
        got = sorted(r["complaint_id"] for _, r in claimed)
        nulls = [r for r in replies if not r.get("complaint_id")]
        self.assertEqual(len(got), len(set(got)), f"a complaint handed out twice: {replies}")
        self.assertEqual(nulls, [{"complaint": None}] * len(nulls))
        self.assertEqual(got, sorted(ids), f"every complaint handed out exactly once: {replies}")
        for conn, r in claimed:
            user = users[conns.index(conn) % 3]
            self.assertEqual(r["owner"], user)
            self.assertEqual(self.get(c, r["complaint_id"])[0]["owner"], user)
        self.assertEqual(complaint_ok(c, "next"), {"complaint": None})
        self.assertEqual(self.rcmd("ZCARD", P + "complaints:unassigned"), 0)

    def test_reopened_complaint_is_unassigned_again(self):
        c = self.connect_auth("agent1")
        kid = self.open(c, customer_id="CP")["complaint_id"]
        self.assertEqual(complaint_ok(c, "next")["complaint_id"], kid)
        complaint_ok(c, "resolve", complaint_id=kid, resolution="done")
        body = complaint_ok(c, "reopen", complaint_id=kid)
        self.assertFalse(body.get("owner"), body)
        listed = complaint_ok(c, "list")["complaints"]
        self.assertEqual([x["complaint_id"] for x in listed], [kid])
        self.assertNotIn("owner", listed[0])
        self.assertIsNotNone(self.rcmd("ZSCORE", P + "complaints:unassigned", kid))


class ReopenWindowZeroTest(ComplaintTestBase):
    """complaints.reopen_window_h: 0 means a closed complaint is final."""

    def setUp(self):
        self.redis = H.start_redis()
        self.addCleanup(self.redis.stop)
        self.daemon = H.start_daemon(self.redis.address, complaints={"reopen_window_h": 0})
        self.addCleanup(self.daemon.stop)
        with self.redis.client() as r:
            seed_customers(r)

    def test_closed_complaint_is_final(self):
        c = self.connect_auth("agent1")
        kid = self.open(c)["complaint_id"]
        complaint_ok(c, "resolve", complaint_id=kid, resolution="done")
        # resolved (not closed) may still be reopened
        self.assertEqual(complaint_ok(c, "reopen", complaint_id=kid)["state"], "open")
        complaint_ok(c, "resolve", complaint_id=kid, resolution="done again")
        # close and reopen right after, early in a second (bounded wait)
        harness.wait_until(lambda: time.time() % 1.0 < 0.3, timeout=harness.T(3), interval=0.01,
                           what="the start of a second")
        c.send(f'COMPLAINT close {{"complaint_id":"{kid}"}}\nCOMPLAINT reopen {{"complaint_id":"{kid}"}}\n')
        self.assertEqual(harness.parse_ok_json(c.read_reply())["state"], "closed")
        self.assertErr(c.read_reply(), "conflict", r"closed")
        self.assertEqual(self.get(c, kid)[0]["state"], "closed")


class BusinessHoursTest(ComplaintTestBase):
    def start(self, cal):
        self.redis = H.start_redis()
        self.addCleanup(self.redis.stop)
        self.daemon = H.start_daemon(self.redis.address, sla=SLA,
                                     complaints={"business_hours": True, "escalation_pct": ESCALATION_PCT},
                                     calendar=cal)
        self.addCleanup(self.daemon.stop)
        with self.redis.client() as r:
            seed_customers(r)

    def test_calendar_that_never_opens_still_answers(self):
        days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        self.start({"timezone": "UTC", "hours": {d: "closed" for d in days}, "holidays": ["2099-12-31"]})
        c = self.connect_auth("agent1")
        body = self.open(c, sev="critical", customer_id="CP")
        kid = body["complaint_id"]
        self.assertRegex(body["due"], DUE_RE)
        # no SLA time ever passes: the deadline is beyond any horizon
        self.assertGreater(harness.epoch(body["due"]), time.time() + 400 * 86400)
        complaint_ok(c, "escalate", complaint_id=kid)
        complaint_ok(c, "ack", complaint_id=kid)
        complaint_ok(c, "wait", complaint_id=kid)
        complaint_ok(c, "resume", complaint_id=kid)
        comp, hist = self.get(c, kid)
        self.assertEqual((comp["state"], comp["overdue"], len(hist)), ("in_progress", False, 5))
        self.assertEqual(complaint_ok(c, "list")["total_open"], 1)
        self.assertEqual(complaint_ok(c, "next")["complaint_id"], kid)

    def test_weekend_and_holidays_push_the_deadline(self):
        # Open round the clock on weekdays, closed at weekends, and today
        # and tomorrow are holidays: whenever the test runs (even across
        # midnight) SLA time starts at the first weekday from the day after
        # tomorrow.
        today = datetime.datetime.now(datetime.timezone.utc).date()
        holidays = [today, today + datetime.timedelta(days=1)]
        hours = {d: "00:00-24:00" for d in ["mon", "tue", "wed", "thu", "fri"]}
        hours.update(sat="closed", sun="closed")
        self.start({"timezone": "UTC", "hours": hours, "holidays": [d.isoformat() for d in holidays]})
        start = today + datetime.timedelta(days=2)
        while start.weekday() >= 5:
            start += datetime.timedelta(days=1)
        start_s = calendar.timegm(start.timetuple())
        c = self.connect_auth("agent1")
        body = self.open(c, sev="high", customer_id="CG")
        self.assertEqual(harness.epoch(body["due"]), start_s + sla_seconds("high", "gold"))
        # escalation halves the remaining business time, counted from the same opening
        kid = body["complaint_id"]
        esc = complaint_ok(c, "escalate", complaint_id=kid)
        self.assertEqual(harness.epoch(esc["due"]), start_s + sla_seconds("high", "gold") // 2)


class ComplaintRedisDownTest(harness.RedisOutageMixin, ComplaintTestBase):
    """Redis goes away (kill -9) and comes back with its data (AOF, fsync
    always).  Reads answer ERR unavailable; writes are refused the same way
    or, with the spool, acknowledged "spooled":true and logged once when
    Redis is back, deadline counted from when the agent acted (LOG.md)."""

    def setUp(self):
        self.redis = H.start_redis(extra_args=["--appendonly", "yes", "--appendfsync", "always"])
        self.addCleanup(self.redis.stop)
        self.daemon = H.start_daemon(self.redis.address, sla=SLA,
                                     redis={"reconnect_min_ms": 50, "reconnect_max_ms": 200})
        self.addCleanup(self.daemon.stop)
        with self.redis.client() as r:
            seed_customers(r)

    def wait_logged(self, kids, n):
        def logged():
            with self.redis.client() as r:
                got = [json.loads(f["entry"]) for _, f in harness.read_stream(r, STREAM)]
            got = [e for e in got if e["complaint_id"] in kids]
            return got if len(got) >= n else None
        return harness.wait_until(logged, what=f"{n} complaint entries replayed from the spool")

    def test_complaints_while_redis_is_down(self):
        c = self.connect_auth("agent1")
        kid = self.open(c, sev="high", customer_id="CL")["complaint_id"]
        self.outage()
        t_down = time.time()
        self.assertErr(complaint(c, "get", complaint_id=kid), "unavailable")
        self.assertErr(complaint(c, "list"), "unavailable")
        self.assertErr(complaint(c, "next"), "unavailable", r"claim|Redis")
        self.assertErr(c.request('POP {"customer_id":"CP"}'), "unavailable")
        rid = f"down-{os.getpid()}"
        args = {"customer_id": "CP", "category": "delivery", "severity": "low", "summary": "outage", "request_id": rid}
        reply = complaint(c, "open", **args)
        outcome = self.spooled_or_unavailable(reply)
        new = None
        if outcome == "spooled":
            body = harness.parse_ok_json(reply)
            new = body["complaint_id"]
            self.assertRegex(new, ID_RE)
            self.assertEqual(body["state"], "open")
        ack = complaint(c, "ack", complaint_id=kid)
        self.assertEqual(self.spooled_or_unavailable(ack), outcome)
        self.assertOK(c.request("PING"))
        self.back()

        if outcome == "spooled":
            got = self.wait_logged({kid, new}, 3)
        else:
            new = complaint_ok(c, "open", **args)["complaint_id"]
            complaint_ok(c, "ack", complaint_id=kid)
            with self.redis.client() as r:
                got = [json.loads(f["entry"]) for _, f in harness.read_stream(r, STREAM)]
        self.assertEqual([(e["event"], e["complaint_id"]) for e in got],
                         [("open", kid), ("open", new), ("ack", kid)], "each write logged once, in order")
        for e in got:
            self.assertNotIn("rejected", e)
        comp, hist = self.get(c, new)
        self.assertEqual((comp["customer_id"], comp["tier"], comp["state"]), ("CP", "platinum", "open"))
        self.assertEqual(harness.epoch(comp["due"]) - harness.epoch(comp["opened_at"]), sla_seconds("low", "platinum"))
        if outcome == "spooled":
            self.assertLessEqual(harness.epoch(comp["opened_at"]), t_down + harness.T(5),
                                 "the deadline runs from when the agent acted")
        self.assertEqual(self.get(c, kid)[0]["state"], "acknowledged")
        again = complaint_ok(c, "open", **args)
        self.assertIs(again.get("duplicate"), True)
        self.assertEqual(again["complaint_id"], new)
        self.assertEqual(complaint_ok(c, "list")["total_open"], 2)
        self.assertIn(new, self.pop_open(c, "CP"))
        with self.redis.client() as r:
            stream = harness.read_stream(r, STREAM)
        self.assertEqual(len(stream), 3)
        self.assertEqual(harness.chain_problems(stream), [])
        verified = harness.hotline_verify(self.daemon)
        if verified is not None:
            self.assertEqual(verified, (0, []))

    def test_retry_of_a_spooled_open_keeps_its_complaint(self):
        c = self.connect_auth("agent1")
        self.outage()
        args = {"customer_id": "CG", "category": "billing", "severity": "high", "summary": "retried",
                "request_id": f"retry-{os.getpid()}"}
        first = complaint(c, "open", **args)
        if self.spooled_or_unavailable(first) == "unavailable":
            self.skipTest("writes are not spooled while Redis is down")
        first = harness.parse_ok_json(first)
        # the reply was lost; the desktop retries on a new connection
        c.close()
        c = self.connect_auth("agent1")
        again = harness.parse_ok_json(complaint(c, "open", **args))
        self.back()
        self.wait_logged({first["complaint_id"], again["complaint_id"]}, 1)
        time.sleep(0.3)
        with self.redis.client() as r:
            opens = [json.loads(f["entry"]) for _, f in harness.read_stream(r, STREAM)]
        self.assertEqual([e["complaint_id"] for e in opens], [first["complaint_id"]])
        # the agent holds one id for this complaint, and it exists
        self.assertEqual(again["complaint_id"], first["complaint_id"],
                         "the retry was given a complaint id that is never logged")
        self.assertEqual(self.get(c, again["complaint_id"])[0]["summary"], "retried")


if __name__ == "__main__":
    unittest.main(verbosity=2)
