"""CALL, the call log: the life of a call (offer answer hold resume transfer
end), leg ownership, the stream hotline:log:calls and its hash chain
(verified independently with hashlib by harness.py, tampering included, and
cross-checked with `hotline verify` when the CLI has it), the POP
call link and the customer's recent contacts, request_id retries,
pipelining, racing writers, and Redis going away."""

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
CALLS = P + "log:calls"
STREAM_ID_RE = re.compile(r"^\d+-\d+$")


def setUpModule():
    global H
    H = harness.module_harness("calls")


# --------------------------------------------------------------------------
# Helpers


def call(c, event, **args):
    return c.request(f"CALL {event} " + json.dumps(args))


def call_ok(c, event, **args):
    return harness.parse_ok_json(call(c, event, **args))


class CallTestBase(harness.TestCase):
    _n = 0

    @classmethod
    def new_call_id(cls, tag="c"):
        CallTestBase._n += 1
        return f"{tag}-{os.getpid()}-{CallTestBase._n}"

    def stream_len(self):
        with self.redis.client() as r:
            return r.command("XLEN", CALLS)

    def call_entries(self, call_id):
        with self.redis.client() as r:
            return harness.stream_entries(r, CALLS, call_id=call_id)

    def call_state(self, call_id):
        with self.redis.client() as r:
            flat = r.command("HGETALL", P + "call:" + call_id)
        return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}

    def offer_answer(self, c, call_id, **offer):
        offer.setdefault("queue", "mobile")
        self.assertEqual(call_ok(c, "offer", call_id=call_id, **offer)["state"], "offered")
        self.assertEqual(call_ok(c, "answer", call_id=call_id)["state"], "answered")


# --------------------------------------------------------------------------


class CallLogTest(CallTestBase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address, phone={"default_country": "86"})
        cls.addClassCleanup(cls.daemon.stop)
        with cls.redis.client() as r:
            harness.put_customer(r, "C1", "Wang Fang", phones=["+8613800138000"], tier="platinum", status="active")
            harness.put_customer(r, "C2", "Li Wei", phones=["+8613900139000"], tier="gold", status="active")

    def test_full_call_life_entries_and_state(self):
        c = self.connect_auth("agent1")
        cid = self.new_call_id()
        before = self.stream_len()
        replies = [
            call(c, "offer", call_id=cid, phone="0138 0013 8000", queue="mobile", customer_id="C1",
                 dnis="400-800-1234", note="first call"),
            call(c, "answer", call_id=cid),
            call(c, "hold", call_id=cid),
            call(c, "resume", call_id=cid),
            call(c, "end", call_id=cid, disposition="resolved", csat=4),
        ]
        bodies = [harness.parse_ok_json(x) for x in replies]
        self.assertEqual([b["state"] for b in bodies], ["offered", "answered", "held", "answered", "ended"])
        for b in bodies:
            self.assertEqual(set(b), {"call_id", "state", "id"}, b)
            self.assertEqual(b["call_id"], cid)
            self.assertRegex(b["id"], STREAM_ID_RE)
        self.assertEqual(self.stream_len(), before + 5)

        es = self.call_entries(cid)
        self.assertEqual([e["event"] for e in es], ["offer", "answer", "hold", "resume", "end"])
        self.assertEqual([e["state"] for e in es], [b["state"] for b in bodies])
        with self.redis.client() as r:
            ids = [sid for sid, f in harness.read_stream(r, CALLS) if json.loads(f["entry"])["call_id"] == cid]
        self.assertEqual(ids, [b["id"] for b in bodies], "reply ids are the stream entry ids")
        for e in es:
            self.assertEqual(e["agent"], "agent1")
            self.assertEqual(e["role"], "agent")
            self.assertRegex(e["ts"], harness.TS_RE)
            # known facts are carried onto every later entry
            self.assertEqual(e["customer_id"], "C1")
            self.assertEqual(e["phone"], "+8613800138000")
            self.assertEqual(e["queue"], "mobile")
        self.assertEqual(es[0]["dnis"], "+864008001234")
        self.assertEqual(es[0]["note"], "first call")
        self.assertEqual(es[4]["disposition"], "resolved")
        self.assertEqual(es[4]["csat"], 4)
        self.assertIsInstance(es[4]["leg_ms"], int)
        self.assertGreaterEqual(es[4]["leg_ms"], 0)
        for e in es[:4]:
            self.assertNotIn("leg_ms", e)
        self.assertEqual([e["ts"] for e in es], sorted(e["ts"] for e in es))

        st = self.call_state(cid)
        self.assertEqual(st["state"], "ended")
        self.assertEqual(st["agent"], "agent1")
        self.assertEqual(st["customer_id"], "C1")
        with self.redis.client() as r:
            ttl = r.command("TTL", P + "call:" + cid)
        self.assertGreater(ttl, 0, "an ended call's state expires")
        self.assertLessEqual(ttl, 7 * 24 * 3600)

    def test_end_without_answer_is_abandoned(self):
        c = self.connect_auth("agent1")
        cid = self.new_call_id()
        call_ok(c, "offer", call_id=cid, queue="mobile", phone="13900139000")
        body = call_ok(c, "end", call_id=cid, disposition="no_action")
        self.assertEqual(body["state"], "abandoned")
        es = self.call_entries(cid)
        self.assertEqual([e["state"] for e in es], ["offered", "abandoned"])
        self.assertNotIn("leg_ms", es[1], "nobody handled an abandoned call")
        self.assertErr(call(c, "answer", call_id=cid), "conflict", r"abandoned")

    def test_illegal_transitions_conflict_naming_the_state(self):
        c = self.connect_auth("agent1")
        cid = self.new_call_id()
        before = self.stream_len()
        self.assertErr(call(c, "answer", call_id=cid), "conflict", r"\bnone\b")
        self.assertErr(call(c, "end", call_id=cid, disposition="resolved"), "conflict", r"\bnone\b")
        call_ok(c, "offer", call_id=cid, queue="mobile")
        for event, extra in [("offer", {"queue": "mobile"}), ("hold", {}), ("resume", {}),
                             ("transfer", {"to": "agent2"})]:
            with self.subTest(event=event, state="offered"):
                self.assertErr(call(c, event, call_id=cid, **extra), "conflict", r"\boffered\b")
        call_ok(c, "answer", call_id=cid)
        for event, extra in [("answer", {}), ("resume", {}), ("offer", {"queue": "mobile"})]:
            with self.subTest(event=event, state="answered"):
                self.assertErr(call(c, event, call_id=cid, **extra), "conflict", r"\banswered\b")
        call_ok(c, "hold", call_id=cid)
        for event in ["hold", "answer"]:
            with self.subTest(event=event, state="held"):
                self.assertErr(call(c, event, call_id=cid), "conflict", r"\bheld\b")
        call_ok(c, "end", call_id=cid, disposition="callback")
        for event, extra in [("answer", {}), ("hold", {}), ("resume", {}), ("end", {"disposition": "resolved"}),
                             ("transfer", {"to": "agent2"}), ("offer", {"queue": "mobile"})]:
            with self.subTest(event=event, state="ended"):
                self.assertErr(call(c, event, call_id=cid, **extra), "conflict", r"\bended\b")
        # refusals append nothing
        self.assertEqual(self.stream_len(), before + 4)
        self.assertEqual([e["event"] for e in self.call_entries(cid)], ["offer", "answer", "hold", "end"])

    def test_only_the_leg_owner_or_a_supervisor_moves_a_call(self):
        a1 = self.connect_auth("agent1")
        a2 = self.connect_auth("agent2")
        sup = self.connect_auth("super1")
        cid = self.new_call_id()
        call_ok(a1, "offer", call_id=cid, queue="mobile")
        self.assertErr(call(a2, "answer", call_id=cid), "forbidden")
        self.assertErr(call(a2, "end", call_id=cid, disposition="resolved"), "forbidden")
        call_ok(a1, "answer", call_id=cid)
        self.assertErr(call(a2, "hold", call_id=cid), "forbidden")
        self.assertErr(call(a2, "transfer", call_id=cid, to="agent2"), "forbidden")
        # a supervisor may step in
        self.assertEqual(call_ok(sup, "hold", call_id=cid)["state"], "held")
        self.assertEqual(call_ok(a1, "resume", call_id=cid)["state"], "answered")
        es = self.call_entries(cid)
        self.assertEqual([(e["event"], e["agent"], e["role"]) for e in es],
                         [("offer", "agent1", "agent"), ("answer", "agent1", "agent"),
                          ("hold", "super1", "supervisor"), ("resume", "agent1", "agent")])
        self.assertEqual(self.call_state(cid)["agent"], "agent1")

    def test_transfer_hands_the_leg_over(self):
        a1 = self.connect_auth("agent1")
        a2 = self.connect_auth("agent2")
        cid = self.new_call_id()
        self.offer_answer(a1, cid, customer_id="C2")
        time.sleep(0.3)
        body = call_ok(a1, "transfer", call_id=cid, to="agent2", note="billing dept")
        self.assertEqual(body["state"], "answered")
        self.assertEqual(self.call_state(cid)["agent"], "agent2")
        # the old owner has let go, the new one has it
        self.assertErr(call(a1, "hold", call_id=cid), "forbidden")
        self.assertEqual(call_ok(a2, "hold", call_id=cid)["state"], "held")
        time.sleep(0.2)
        # a transfer from held works too, to a supervisor
        call_ok(a2, "transfer", call_id=cid, to="super1")
        sup = self.connect_auth("super1")
        self.assertEqual(call_ok(sup, "end", call_id=cid, disposition="sale")["state"], "ended")
        es = self.call_entries(cid)
        self.assertEqual([e["event"] for e in es], ["offer", "answer", "transfer", "hold", "transfer", "end"])
        t1, t2, end = es[2], es[4], es[5]
        self.assertEqual((t1["agent"], t1["to"]), ("agent1", "agent2"))
        self.assertEqual((t2["agent"], t2["to"]), ("agent2", "super1"))
        self.assertEqual(end["agent"], "super1")
        # handle time of each leg (lower bounds only: the test slept that long)
        for e in (t1, t2, end):
            self.assertIsInstance(e.get("leg_ms"), int, e)
        self.assertGreaterEqual(t1["leg_ms"], 250)
        self.assertGreaterEqual(t2["leg_ms"], 150)
        self.assertEqual(t1["customer_id"], "C2")

    def test_transfer_targets(self):
        a1 = self.connect_auth("agent1")
        cid = self.new_call_id()
        self.offer_answer(a1, cid)
        before = self.stream_len()
        self.assertErr(call(a1, "transfer", call_id=cid, to="admin1"), "not_found")
        self.assertErr(call(a1, "transfer", call_id=cid, to="nobody"), "not_found")
        self.assertErr(call(a1, "transfer", call_id=cid), "bad_request", r"to")
        self.assertEqual(self.stream_len(), before)
        self.assertEqual(self.call_state(cid)["agent"], "agent1")

    def test_bad_requests(self):
        c = self.connect_auth("agent1")
        cid = self.new_call_id()
        call_ok(c, "offer", call_id=cid, queue="mobile")
        call_ok(c, "answer", call_id=cid)
        before = self.stream_len()
        cases = [
            ('CALL ring {"call_id":"x1"}', "unknown CALL event"),
            ('CALL', "sub-command"),
            ('CALL offer {"queue":"mobile"}', "call_id"),
            ('CALL offer {"call_id":"a b","queue":"mobile"}', "call_id"),
            ('CALL offer {"call_id":"%s","queue":"mobile"}' % ("x" * 65), "call_id"),
            ('CALL offer {"call_id":"x:1","queue":"mobile"}', "call_id"),
            ('CALL offer {"call_id":"x1"}', "queue"),
            ('CALL offer {"call_id":"x1","queue":"mobile","phone":"12ab34"}', "phone"),
            ('CALL offer {"call_id":"x1","queue":"mobile","customer_id":"C1*"}', "customer_id"),
            # the agent is whoever is logged in, never what the client says
            ('CALL offer {"call_id":"x1","queue":"mobile","agent":"agent2"}', "unknown field 'agent'"),
            ('CALL answer {"call_id":"%s","agent":"agent2"}' % cid, "unknown field 'agent'"),
            ('CALL answer {"call_id":"%s","to":"agent2"}' % cid, "unknown field 'to'"),
            ('CALL hold {"call_id":"%s","disposition":"resolved"}' % cid, "unknown field"),
            ('CALL end {"call_id":"%s"}' % cid, "disposition"),
            ('CALL end {"call_id":"%s","disposition":"shrug"}' % cid, "disposition"),
            ('CALL end {"call_id":"%s","disposition":"resolved","csat":0}' % cid, "csat"),
            ('CALL end {"call_id":"%s","disposition":"resolved","csat":6}' % cid, "csat"),
            ('CALL end {"call_id":"%s","disposition":"resolved","csat":"5"}' % cid, "csat"),
            ('CALL end {"call_id":"%s","disposition":"resolved","csat":4.5}' % cid, "csat"),
            ('CALL hold {"call_id":"%s","note":"%s"}' % (cid, "n" * 1001), "note"),
            ('CALL hold {"call_id":"%s","note":"a\\u0001b"}' % cid, "note"),
            ('CALL hold {"call_id":"%s","request_id":"r r"}' % cid, "request_id"),
            ('CALL hold {"call_id":"%s"' % cid, "position"),
        ]
        for line, message in cases:
            with self.subTest(line=line[:80]):
                self.assertErr(c.request(line), "bad_request", message)
        self.assertEqual(self.stream_len(), before, "no bad request is logged")
        self.assertEqual(self.call_state(cid)["state"], "answered")
        self.assertOK(c.request("PING"))

    def test_admin_may_not_log_calls(self):
        adm = self.connect_auth("admin1")
        self.assertErr(call(adm, "offer", call_id=self.new_call_id(), queue="mobile"), "forbidden")
        unauth = self.connect()
        self.assertErr(call(unauth, "offer", call_id=self.new_call_id(), queue="mobile"), "auth_required")

    def test_pop_link_carries_customer_and_end_adds_recent_contact(self):
        c = self.connect_auth("agent1")
        cid = self.new_call_id("linked")
        pop = c.request_json("POP " + json.dumps({"phone": "13800138000", "call_id": cid}))
        self.assertEqual(pop["customer"]["id"], "C1")
        call_ok(c, "offer", call_id=cid, queue="mobile", phone="13800138000")
        call_ok(c, "answer", call_id=cid)
        call_ok(c, "end", call_id=cid, disposition="resolved", csat=5)
        es = self.call_entries(cid)
        self.assertEqual([e.get("customer_id") for e in es], ["C1"] * 3)
        with self.redis.client() as r:
            top = json.loads(r.command("LINDEX", P + "customer:C1:contacts", 0))
        self.assertEqual(top["kind"], "call")
        self.assertEqual(top["agent"], "agent1")
        self.assertEqual(top["call_id"], cid)
        self.assertEqual(top["csat"], 5)
        self.assertEqual(top["time"], es[-1]["ts"])
        self.assertIn("resolved", top["summary"])
        # and the screen pop shows it as the most recent contact
        recent = c.request_json('POP {"customer_id":"C1"}')["recent"]
        self.assertEqual(recent[0]["call_id"], cid)

    def test_abandoned_call_with_customer_is_a_contact_too(self):
        c = self.connect_auth("agent2")
        cid = self.new_call_id()
        call_ok(c, "offer", call_id=cid, queue="mobile", customer_id="C2")
        call_ok(c, "end", call_id=cid, disposition="no_action")
        recent = c.request_json('POP {"customer_id":"C2"}')["recent"]
        self.assertEqual(recent[0]["call_id"], cid)
        self.assertIn("abandoned", recent[0]["summary"])

    def test_offer_customer_id_overrides_link_and_unknown_caller_has_none(self):
        c = self.connect_auth("agent1")
        cid = self.new_call_id()
        c.request_json("POP " + json.dumps({"customer_id": "C1", "call_id": cid}))
        call_ok(c, "offer", call_id=cid, queue="mobile", customer_id="C2")
        self.assertEqual(self.call_entries(cid)[0]["customer_id"], "C2")
        anon = self.new_call_id()
        call_ok(c, "offer", call_id=anon, queue="mobile", phone="13700000000")
        call_ok(c, "end", call_id=anon, disposition="wrong_number")
        for e in self.call_entries(anon):
            self.assertNotIn("customer_id", e)

    def test_pipelined_offer_answer_end_in_one_send(self):
        c = self.connect_auth("agent1")
        cid = self.new_call_id()
        c.send(("CALL offer " + json.dumps({"call_id": cid, "queue": "mobile"}) + "\n"
                "CALL answer " + json.dumps({"call_id": cid}) + "\n"
                "CALL end " + json.dumps({"call_id": cid, "disposition": "resolved"}) + "\n").encode())
        states = [harness.parse_ok_json(c.read_reply())["state"] for _ in range(3)]
        self.assertEqual(states, ["offered", "answered", "ended"])
        self.assertEqual([e["event"] for e in self.call_entries(cid)], ["offer", "answer", "end"])

    def test_many_pipelined_calls_answer_in_order(self):
        c = self.connect_auth("agent2")
        ids = [self.new_call_id("pipe") for _ in range(15)]
        lines = []
        for cid in ids:
            lines.append("CALL offer " + json.dumps({"call_id": cid, "queue": "mobile"}))
            lines.append("PING")
            lines.append("CALL answer " + json.dumps({"call_id": cid}))
            lines.append("CALL hold " + json.dumps({"call_id": cid}))
            lines.append("CALL end " + json.dumps({"call_id": cid, "disposition": "callback"}))
        c.send(("\n".join(lines) + "\n").encode())
        for cid in ids:
            for want in ["offered", None, "answered", "held", "ended"]:
                reply = c.read_reply()
                if want is None:
                    self.assertOK(reply)
                    continue
                body = harness.parse_ok_json(reply)
                self.assertEqual((body["call_id"], body["state"]), (cid, want))
        for cid in ids:
            self.assertEqual([e["state"] for e in self.call_entries(cid)],
                             ["offered", "answered", "held", "ended"])

    def test_racing_answers_exactly_one_wins(self):
        owner_a = self.connect_auth("agent1")
        owner_b = self.connect_auth("agent1")  # the same agent on two desktops
        sup = self.connect_auth("super1")
        for round_ in range(8):
            cid = self.new_call_id("race")
            call_ok(owner_a, "offer", call_id=cid, queue="mobile")
            racers = [owner_a, owner_b, sup]
            line = "CALL answer " + json.dumps({"call_id": cid})
            for r in racers:
                r.send_line(line)
            replies = [r.read_reply() for r in racers]
            oks = [x for x in replies if x.startswith("OK")]
            with self.subTest(round=round_, replies=replies):
                self.assertEqual(len(oks), 1)
                for x in replies:
                    if not x.startswith("OK"):
                        self.assertErr(x, "conflict", r"\banswered\b")
                self.assertEqual([e["event"] for e in self.call_entries(cid)], ["offer", "answer"])

    def test_request_id_retry_answers_the_original(self):
        c = self.connect_auth("agent1")
        cid = self.new_call_id()
        first = call_ok(c, "offer", call_id=cid, queue="mobile", request_id=f"rid-{cid}-1")
        n = self.stream_len()
        again = call_ok(c, "offer", call_id=cid, queue="mobile", request_id=f"rid-{cid}-1")
        self.assertEqual(again, dict(first, duplicate=True))
        self.assertEqual(self.stream_len(), n)
        # a retried answer after the call moved on: still the original reply, not a conflict
        ans = call_ok(c, "answer", call_id=cid, request_id=f"rid-{cid}-2")
        call_ok(c, "hold", call_id=cid)
        n = self.stream_len()
        self.assertEqual(call_ok(c, "answer", call_id=cid, request_id=f"rid-{cid}-2"), dict(ans, duplicate=True))
        # ... also after a reconnect
        c.close()
        c2 = self.connect_auth("agent1")
        self.assertEqual(call_ok(c2, "answer", call_id=cid, request_id=f"rid-{cid}-2"), dict(ans, duplicate=True))
        self.assertEqual(self.stream_len(), n)
        es = self.call_entries(cid)
        self.assertEqual([e["event"] for e in es], ["offer", "answer", "hold"])
        self.assertEqual(es[0]["request_id"], f"rid-{cid}-1")
        self.assertEqual(es[1]["request_id"], f"rid-{cid}-2")

    def test_request_id_is_per_user(self):
        a1 = self.connect_auth("agent1")
        sup = self.connect_auth("super1")
        cid = self.new_call_id()
        rid = f"shared-{cid}"
        self.offer_answer(a1, cid)
        hold = call_ok(a1, "hold", call_id=cid, request_id=rid)
        resume = call_ok(sup, "resume", call_id=cid, request_id=rid)
        self.assertNotIn("duplicate", resume)
        self.assertNotEqual(hold["id"], resume["id"])
        self.assertEqual(resume["state"], "answered")
        self.assertEqual([e["event"] for e in self.call_entries(cid)], ["offer", "answer", "hold", "resume"])

    def test_pipelined_retries_of_one_request_id_log_once(self):
        c = self.connect_auth("agent2")
        cid = self.new_call_id()
        line = "CALL offer " + json.dumps({"call_id": cid, "queue": "mobile", "request_id": "p-" + cid})
        c.send((line + "\n") * 3)
        bodies = [harness.parse_ok_json(c.read_reply()) for _ in range(3)]
        self.assertNotIn("duplicate", bodies[0])
        for b in bodies[1:]:
            self.assertEqual(b, dict(bodies[0], duplicate=True))
        self.assertEqual(len(self.call_entries(cid)), 1)

    def test_stream_hash_chain_verifies(self):
        c = self.connect_auth("agent1")
        cid = self.new_call_id()
        self.offer_answer(c, cid)
        call_ok(c, "end", call_id=cid, disposition="resolved")
        with self.redis.client() as r:
            stream = harness.read_stream(r, CALLS)
        self.assertGreaterEqual(len(stream), 3)
        self.assertEqual(harness.chain_problems(stream), [])
        self.assertEqual([int(f["seq"]) for _, f in stream], list(range(1, len(stream) + 1)))
        self.assertEqual(stream[0][1]["prev"].decode(), harness.GENESIS)
        for _, f in stream:
            self.assertEqual(set(f), {"seq", "prev", "hash", "entry"})
            json.loads(f["entry"])  # the entry is JSON text
        verified = harness.hotline_verify(self.daemon, "calls")
        if verified is not None:
            self.assertEqual(verified, (0, []))


class ChainTamperTest(CallTestBase):
    """Each test gets its own Redis and daemon, writes a few calls, then
    tampers with the stream the way someone with Redis access could."""

    def setUp(self):
        self.redis = H.start_redis()
        self.addCleanup(self.redis.stop)
        self.daemon = H.start_daemon(self.redis.address)
        self.addCleanup(self.daemon.stop)
        self.c = self.connect_auth("agent1")
        self.ids = []
        for i in range(3):
            cid = self.new_call_id("t")
            self.ids.append(cid)
            self.offer_answer(self.c, cid)
            call_ok(self.c, "end", call_id=cid, disposition="resolved")
        self.r = self.redis.client()
        self.addCleanup(self.r.close)
        self.assertEqual(harness.chain_problems(harness.read_stream(self.r, CALLS)), [])
        self.assertEqual(self.r.command("XLEN", CALLS), 9)

    def xadd(self, fields):
        args = ["XADD", CALLS, "*"]
        for k in ("seq", "prev", "hash", "entry"):
            args += [k, fields[k]]
        return self.r.command(*args)

    def assert_cli_agrees(self):
        """`hotline verify` (the daemon's own chain.c) flags the same entries,
        and says so when Redis counts more entries ever added than the last
        seq (a tamperer's XADD outside the chain)."""
        verified = harness.hotline_verify(self.daemon, "calls")
        if verified is None:
            return
        rc, findings = verified
        stream = harness.read_stream(self.r, CALLS)
        flagged = {stream[i][0] for i, _ in harness.chain_problems(stream)}
        self.assertEqual({f["id"] for f in findings if f["problem"] != "entries_added"}, flagged, findings)
        info = self.r.command("XINFO", "STREAM", CALLS)
        added = dict(zip(info[::2], info[1::2])).get(b"entries-added")
        # the last seq the chain accepted (malformed entries are skipped)
        seqs = [int(f["seq"]) for _, f in stream
                if re.fullmatch(rb"[1-9][0-9]*", f.get("seq", b""))
                and all(harness.HEX64.match(f.get(k, b"").decode("ascii", "replace")) for k in ("prev", "hash"))]
        extra = added is not None and added != (seqs[-1] if seqs else 0)
        self.assertEqual([f["id"] for f in findings if f["problem"] == "entries_added"],
                         [stream[-1][0]] if extra else [], findings)
        self.assertEqual(rc, 1 if flagged or extra else 0)

    def log_one_more(self):
        """The daemon keeps logging after the tampering."""
        cid = self.new_call_id("after")
        call_ok(self.c, "offer", call_id=cid, queue="mobile")
        return cid

    def test_deleted_entry_is_a_gap(self):
        stream = harness.read_stream(self.r, CALLS)
        self.assertEqual(self.r.command("XDEL", CALLS, stream[4][0]), 1)
        problems = harness.chain_problems(harness.read_stream(self.r, CALLS))
        self.assertIn((4, "gap"), problems)
        self.assertIn((4, "broken_link"), problems)
        self.assertEqual({i for i, _ in problems}, {4}, problems)
        self.assert_cli_agrees()

    def test_rewritten_entry_is_detected(self):
        stream = harness.read_stream(self.r, CALLS)
        sid, f = stream[2]  # the first call's end
        entry = json.loads(f["entry"])
        self.assertEqual(entry["event"], "end")
        entry["disposition"] = "sale"
        forged = dict(f, entry=json.dumps(entry, separators=(",", ":")).encode())
        self.r.command("XDEL", CALLS, sid)
        self.xadd(forged)
        problems = harness.chain_problems(harness.read_stream(self.r, CALLS))
        kinds = {k for _, k in problems}
        self.assertIn("modified", kinds)
        self.assertIn("gap", kinds)  # where it was taken out
        self.assertIn("out_of_order", kinds)  # where it was put back
        # the daemon carries on, and its new entry links onto the stream's
        # real last entry, so only the tampered places are reported
        self.log_one_more()
        after = harness.read_stream(self.r, CALLS)
        self.assertEqual(len(after), 10)
        self.assertFalse([p for p in harness.chain_problems(after) if p[0] == 9], harness.chain_problems(after))
        self.assert_cli_agrees()

    def test_edit_with_recomputed_hash_breaks_the_next_link(self):
        stream = harness.read_stream(self.r, CALLS)
        k = 5
        rebuilt = []
        for i, (_, f) in enumerate(stream):
            f = dict(f)
            if i == k:
                e = json.loads(f["entry"])
                e["agent"] = "agent2"
                f["entry"] = json.dumps(e, separators=(",", ":")).encode()
                f["hash"] = harness.chain_hash(f["prev"].decode(), f["seq"].decode(), f["entry"]).encode()
            rebuilt.append(f)
        self.r.command("DEL", CALLS)
        for f in rebuilt:
            self.xadd(f)
        self.assertEqual(harness.chain_problems(harness.read_stream(self.r, CALLS)), [(k + 1, "broken_link")])
        self.assert_cli_agrees()

    def test_forged_appends_are_detected(self):
        stream = harness.read_stream(self.r, CALLS)
        last = stream[-1][1]
        e = {"event": "offer", "call_id": "forged", "agent": "agent2", "role": "agent",
             "ts": "2026-01-01T00:00:00.000Z", "queue": "mobile", "state": "offered"}
        text = json.dumps(e, separators=(",", ":"))
        # a plausible seq and prev but a made-up hash
        self.xadd({"seq": "10", "prev": last["hash"], "hash": "ab" * 32, "entry": text})
        self.assertEqual(harness.chain_problems(harness.read_stream(self.r, CALLS)), [(9, "modified")])
        # a copy of an earlier entry replayed at the end
        self.xadd(stream[3][1])
        problems = harness.chain_problems(harness.read_stream(self.r, CALLS))
        self.assertIn((10, "out_of_order"), problems)
        self.assertIn((10, "broken_link"), problems)
        # a garbage entry
        self.r.command("XADD", CALLS, "*", "seq", "x", "entry", "{}")
        self.assertIn((11, "malformed"), harness.chain_problems(harness.read_stream(self.r, CALLS)))
        self.assert_cli_agrees()

    def test_untouched_chain_survives_many_appends(self):
        for _ in range(5):
            self.log_one_more()
        self.assertEqual(harness.chain_problems(harness.read_stream(self.r, CALLS)), [])
        self.assert_cli_agrees()


class CallRedisDownTest(harness.RedisOutageMixin, CallTestBase):
    """Redis goes away (kill -9) and comes back with its data (AOF with
    fsync always).  A write during the outage is either refused with
    ERR unavailable or, with the spool, acknowledged "spooled":true and
    logged exactly once, in order, when Redis is back (LOG.md)."""

    def setUp(self):
        self.redis = H.start_redis(extra_args=["--appendonly", "yes", "--appendfsync", "always"])
        self.addCleanup(self.redis.stop)
        self.daemon = H.start_daemon(self.redis.address,
                                     redis={"reconnect_min_ms": 50, "reconnect_max_ms": 200})
        self.addCleanup(self.daemon.stop)
        self.c = self.connect_auth("agent1")

    def wait_logged(self, call_ids, n):
        """Wait (bounded) until the stream holds n entries for call_ids; return them."""
        def logged():
            with self.redis.client() as r:
                got = [e for e in harness.stream_entries(r, CALLS) if e["call_id"] in call_ids]
            return got if len(got) >= n else None
        return harness.wait_until(logged, what=f"{n} entries replayed from the spool")

    def test_writes_while_redis_is_down(self):
        c = self.c
        before = self.new_call_id("before")
        self.offer_answer(c, before)
        self.outage()
        t_down = time.time()
        down = self.new_call_id("down")
        writes = [("offer", {"call_id": down, "queue": "mobile", "request_id": "o-" + down}),
                  ("answer", {"call_id": down}),
                  ("hold", {"call_id": before}),
                  ("end", {"call_id": down, "disposition": "resolved", "csat": 3})]
        outcomes, bodies = [], []
        for event, args in writes:
            reply = call(c, event, **args)
            outcomes.append(self.spooled_or_unavailable(reply))
            if outcomes[-1] == "spooled":
                body = harness.parse_ok_json(reply)
                self.assertEqual(body["call_id"], args["call_id"])
                bodies.append(body)
        self.assertEqual(len(set(outcomes)), 1, f"mixed outcomes in one outage: {outcomes}")
        self.assertEqual([b.get("state") for b in bodies],
                         ["offered", "answered", "held", "ended"] if bodies else [])
        self.assertOK(c.request("PING"))
        self.back()

        if outcomes[0] == "spooled":
            got = self.wait_logged({down, before}, 6)
        else:
            # the desktop retries, in order, once Redis is back
            for event, args in writes:
                call_ok(c, event, **args)
            with self.redis.client() as r:
                got = [e for e in harness.stream_entries(r, CALLS) if e["call_id"] in (down, before)]
        self.assertEqual([(e["event"], e["call_id"]) for e in got],
                         [("offer", before), ("answer", before)] + [(ev, a["call_id"]) for ev, a in writes],
                         "each write logged exactly once, in order")
        for e in got[2:]:
            self.assertNotIn("rejected", e)
            if outcomes[0] == "spooled":
                # logged with the time the agent acted, not the time of the replay
                self.assertLessEqual(harness.epoch(e["ts"]), t_down + harness.T(5))
        self.assertEqual(self.call_state(down)["state"], "ended")
        self.assertEqual(self.call_state(before)["state"], "held")
        # a retry of the offer now is answered from the log
        again = call_ok(c, "offer", call_id=down, queue="mobile", request_id="o-" + down)
        self.assertIs(again.get("duplicate"), True)
        self.assertEqual(again["state"], "offered")
        with self.redis.client() as r:
            self.assertEqual(harness.chain_problems(harness.read_stream(r, CALLS)), [])
            self.assertEqual(r.command("XLEN", CALLS), 6)
        self.assertEqual(call_ok(c, "resume", call_id=before)["state"], "answered")
        verified = harness.hotline_verify(self.daemon)
        if verified is not None:
            self.assertEqual(verified, (0, []))

    def test_spool_checks_and_rejected_replays(self):
        c = self.c
        ended = self.new_call_id("ended")
        self.offer_answer(c, ended)
        call_ok(c, "end", call_id=ended, disposition="resolved")
        self.outage()
        probe = call(c, "hold", call_id=ended)
        if self.spooled_or_unavailable(probe) == "unavailable":
            self.skipTest("writes are not spooled while Redis is down")
        # The call ended before the outage, so this daemon could not know and
        # accepted the hold.  What it spooled itself during the outage, it checks:
        fresh = self.new_call_id("fresh")
        self.assertEqual(call_ok(c, "offer", call_id=fresh, queue="mobile")["state"], "offered")
        self.assertErr(call(c, "offer", call_id=fresh, queue="mobile"), "conflict", r"offered")
        self.assertEqual(call_ok(c, "answer", call_id=fresh)["state"], "answered")
        self.assertErr(call(c, "answer", call_id=fresh), "conflict", r"answered")
        self.back()
        got = self.wait_logged({ended, fresh}, 6)
        self.assertEqual([(e["event"], e["call_id"]) for e in got[3:]],
                         [("hold", ended), ("offer", fresh), ("answer", fresh)])
        hold = got[3]
        # acknowledged but refused by the rules on replay: logged, marked, and changes nothing
        self.assertIn("rejected", hold)
        self.assertRegex(hold["rejected"], r"conflict.*ended")
        self.assertEqual(self.call_state(ended)["state"], "ended")
        for e in got[4:]:
            self.assertNotIn("rejected", e)
        self.assertEqual(self.call_state(fresh)["state"], "answered")
        with self.redis.client() as r:
            self.assertEqual(harness.chain_problems(harness.read_stream(r, CALLS)), [])

    def test_retry_with_the_same_request_id_during_the_outage(self):
        c = self.c
        self.outage()
        cid = self.new_call_id("retry")
        args = {"call_id": cid, "queue": "mobile", "request_id": "r-" + cid}
        first = call(c, "offer", **args)
        if self.spooled_or_unavailable(first) == "unavailable":
            self.skipTest("writes are not spooled while Redis is down")
        first = harness.parse_ok_json(first)
        # the desktop lost the reply and retries on a new connection
        c.close()
        c = self.connect_auth("agent1")
        again = call(c, "offer", **args)
        self.assertTrue(again.startswith("OK"), f"retry of a spooled write answered {again!r}, "
                                                f"not the original reply {first}")
        body = harness.parse_ok_json(again)
        self.assertEqual((body["call_id"], body["state"]), (first["call_id"], first["state"]))
        self.back()
        self.assertEqual(len(self.wait_logged({cid}, 1)), 1)
        time.sleep(0.3)
        self.assertEqual(len(self.call_entries(cid)), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
