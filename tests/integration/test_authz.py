"""Authorization: every verb HELP lists x every role (unauthenticated, agent,
supervisor, admin, replay) against an allowlist written here from
PROTOCOL.md (not derived from the daemon), plus the "an agent only ever acts
as itself" rules: no client-supplied agent field, the logged agent is the
authenticated user, and only the leg holder or a supervisor moves a call;
and their one exception, a replay account, which must name the recorded
agent it acts as ("as") and whose entries say so ("replayed_by")."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

H = None
P = "hotline:"

ROLES = ["none", "agent", "supervisor", "admin", "replay"]
USER_OF = {"agent": "agent1", "supervisor": "super1", "admin": "admin1", "replay": "replay1"}
USERS = harness.DEFAULT_USERS + [("replay1", "replay")]

ANY = {"none", "agent", "supervisor", "admin", "replay"}
AUTHED = {"agent", "supervisor", "admin"}

# verb -> roles allowed (PROTOCOL.md "Verbs" table).  Written by hand on
# purpose: a verb HELP lists that is missing here fails the test.
ALLOWLIST = {
    "AUTH": ANY,
    "CALL": {"agent", "supervisor", "replay"},
    "COMPLAINT": {"agent", "supervisor", "replay"},
    "HELP": ANY,
    "PING": ANY,
    "POP": AUTHED,
    "QUEUE": {"supervisor", "admin"},
    "QUIT": ANY,
    "STATS": {"supervisor", "admin"},
    "TAIL": {"supervisor", "admin"},
    "UNTAIL": {"supervisor", "admin"},
}


def request_line(verb, role):
    """A valid-looking request for verb, so that 'allowed' means the
    handler really ran."""
    if verb == "AUTH":
        # Unauthenticated: a well-formed login that fails (auth_failed is
        # still "allowed").  Authenticated: log in again as the same user,
        # so the connection keeps its role for the verbs that follow.
        if role == "none":
            return "AUTH nobody wrong-secret"
        return f"AUTH {USER_OF[role]} {USER_OF[role]}-secret"
    # A replay account names the recorded agent it acts as.
    as_agent = {"as": "agent1"} if role == "replay" else {}
    if verb == "CALL":
        return 'CALL offer ' + json.dumps({"call_id": f"m-{role}", "queue": "q", **as_agent})
    if verb == "COMPLAINT":
        return "COMPLAINT list " + json.dumps(as_agent)
    if verb == "POP":
        return 'POP {"phone":"13800000000"}'
    if verb == "TAIL":
        return "TAIL calls"
    if verb == "UNTAIL":
        return "UNTAIL calls"
    return verb  # HELP PING QUEUE QUIT STATS, and anything new


def classify(reply):
    if reply.startswith("ERR auth_required "):
        return "auth_required"
    if reply.startswith("ERR forbidden "):
        return "forbidden"
    harness.check_reply_framing(reply)
    return "allowed"


def expected(verb, role):
    allowed = ALLOWLIST.get(verb)
    if allowed is None:
        return "<not in allowlist>"
    if role in allowed:
        return "allowed"
    return "auth_required" if role == "none" else "forbidden"


def setUpModule():
    global H
    H = harness.module_harness("authz")


class AuthzTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address, users=harness.make_users(USERS),
                                    phone={"default_country": "86"})
        cls.addClassCleanup(cls.daemon.stop)

    def open_as(self, role):
        return self.connect() if role == "none" else self.connect_auth(USER_OF[role])

    def help_verbs(self):
        body = self.connect().request_json("HELP")
        verbs = body["verbs"]
        self.assertIsInstance(verbs, list)
        return verbs

    def test_help_lists_only_allowlisted_verbs(self):
        verbs = self.help_verbs()
        self.assertEqual(sorted(set(verbs) - set(ALLOWLIST)), [],
                         "HELP lists verbs the test's allowlist does not cover")
        self.assertEqual(sorted(set(ALLOWLIST) - set(verbs)), [],
                         "allowlist has verbs HELP does not list")

    def test_matrix(self):
        verbs = self.help_verbs()
        # QUIT closes the connection: run it last, on a connection of its own.
        order = [v for v in verbs if v != "QUIT"]
        got = {}
        replies = {}
        for role in ROLES:
            c = self.open_as(role)
            for verb in order:
                line = request_line(verb, role)
                reply = c.request(line)
                got[(verb, role)] = classify(reply)
                replies[(verb, role)] = (line, reply)
            if "QUIT" in verbs:
                q = self.open_as(role)
                reply = q.request("QUIT")
                got[("QUIT", role)] = classify(reply)
                replies[("QUIT", role)] = ("QUIT", reply)
                if got[("QUIT", role)] == "allowed":
                    self.assertEqual(reply, "OK")
                    q.read_until_closed()

        # The table, to stderr.
        w = max(len(v) for v in verbs) + 2
        cw = 16
        out = ["", "authorization matrix (got / expected; '!' marks a mismatch)",
               "verb".ljust(w) + "".join(r.ljust(cw) for r in ROLES)]
        mismatches = []
        for verb in verbs:
            row = verb.ljust(w)
            for role in ROLES:
                g, e = got[(verb, role)], expected(verb, role)
                if g == e:
                    cell = g
                else:
                    cell = f"!{g}/{e}"
                    mismatches.append((verb, role, g, e, *replies[(verb, role)]))
                row += cell.ljust(cw)
            out.append(row)
        total = len(verbs) * len(ROLES)
        out.append(f"{total - len(mismatches)}/{total} cells match")
        sys.stderr.write("\n".join(out) + "\n")

        self.assertEqual(
            mismatches, [],
            "authorization mismatches (verb, role, got, expected, line, reply):\n"
            + "\n".join(repr(m) for m in mismatches))

    def test_allowed_cells_really_ran(self):
        """Spot checks that 'allowed' replies are the handlers' own."""
        sup = self.connect_auth("super1")
        self.assertIn('"state":"offered"',
                      sup.request('CALL offer {"call_id":"ran-sup","queue":"q"}'))
        self.assertIn('"complaints"', sup.request("COMPLAINT list {}"))
        self.assertEqual(harness.parse_ok_json(sup.request("TAIL calls"))["stream"], "calls")
        self.assertEqual(harness.parse_ok_json(sup.request("UNTAIL calls"))["stream"], "calls")
        adm = self.connect_auth("admin1")
        self.assertIn("uptime_s", harness.parse_ok_json(adm.request("STATS")))
        self.assertIn("calls", harness.parse_ok_json(adm.request("QUEUE")))
        self.assertEqual(harness.parse_ok_json(adm.request('POP {"phone":"13800000000"}'))["match"], "none")

    # -- an agent only ever acts as itself

    def test_agent_field_refused(self):
        c = self.connect_auth("agent1")
        self.assertErr(c.request('CALL offer {"call_id":"x","queue":"q","agent":"agent2"}'),
                       "bad_request", "unknown field")
        # and nothing was logged for it
        with self.redis.client() as r:
            self.assertEqual(harness.stream_entries(r, P + "log:calls", call_id="x"), [])

    def test_as_refused_for_every_other_role(self):
        """Only a replay account may name who it acts as; for everyone else
        "as" is an unknown field, like "agent"."""
        lines = ['CALL offer {"call_id":"as-x","queue":"q","as":"agent2"}',
                 'CALL offer {"call_id":"as-x","queue":"q","as_role":"supervisor"}',
                 'COMPLAINT open {"phone":"13800000000","category":"billing","severity":"low",'
                 '"summary":"s","as":"agent2"}',
                 'COMPLAINT ack {"complaint_id":"K1","as":"agent2"}',
                 'COMPLAINT next {"as":"agent2"}',
                 'COMPLAINT list {"as":"agent2"}']
        for role in ("agent", "supervisor"):
            c = self.connect_auth(USER_OF[role])
            for line in lines:
                with self.subTest(role=role, line=line):
                    self.assertErr(c.request(line), "bad_request", "unknown (field|filter) 'as")
        adm = self.connect_auth("admin1")
        self.assertErr(adm.request(lines[0]), "forbidden")
        with self.redis.client() as r:
            self.assertEqual(harness.stream_entries(r, P + "log:calls", call_id="as-x"), [])
            self.assertEqual(harness.stream_entries(r, P + "log:complaints", agent="agent2"), [])

    def test_replay_account_must_name_the_agent(self):
        rp = self.connect_auth("replay1")
        for line, why in [('CALL offer {"call_id":"rp-x","queue":"q"}', "missing 'as'"),
                          ('CALL offer {"call_id":"rp-x","queue":"q","as":""}', "'as' must be"),
                          ('CALL offer {"call_id":"rp-x","queue":"q","as":"a b"}', "'as' must be"),
                          ('CALL offer {"call_id":"rp-x","queue":"q","as":7}', "'as' must be"),
                          ('CALL offer {"call_id":"rp-x","queue":"q","as":"agent1","as_role":"admin"}',
                           "'as_role' must be"),
                          ('CALL offer {"call_id":"rp-x","queue":"q","as":"agent1","as_role":"replay"}',
                           "'as_role' must be"),
                          ("COMPLAINT list {}", "missing 'as'")]:
            with self.subTest(line=line):
                self.assertErr(rp.request(line), "bad_request", why)
        with self.redis.client() as r:
            self.assertEqual(harness.stream_entries(r, P + "log:calls", call_id="rp-x"), [])

    def test_replay_account_acts_as_the_named_agent(self):
        """The entry is the named agent's, marked replayed_by; the leg
        check uses the named agent; as_role supervisor may move any call;
        the agent named need not have an account."""
        rp = self.connect_auth("replay1")

        def call(event, as_agent, as_role=None, **fields):
            args = {"call_id": "rp-1", **fields, "as": as_agent}
            if as_role:
                args["as_role"] = as_role
            return rp.request(f"CALL {event} " + json.dumps(args))

        self.assertIn('"offered"', call("offer", "ghost7", queue="q"))
        self.assertErr(call("answer", "agent2"), "forbidden")
        self.assertIn('"answered"', call("answer", "ghost7"))
        self.assertIn('"held"', call("hold", "boss9", as_role="supervisor"))
        # a transfer may name a recorded agent without an account here
        self.assertIn('"answered"', call("transfer", "ghost7", to="ghost8"))
        self.assertErr(call("end", "ghost7", disposition="resolved"), "forbidden")
        self.assertIn('"ended"', call("end", "ghost8", disposition="resolved"))
        # the agents themselves still cannot transfer to a replay account
        a1 = self.connect_auth("agent1")
        self.assertIn('"offered"', a1.request('CALL offer {"call_id":"rp-2","queue":"q"}'))
        self.assertIn('"answered"', a1.request('CALL answer {"call_id":"rp-2"}'))
        self.assertErr(a1.request('CALL transfer {"call_id":"rp-2","to":"replay1"}'), "not_found")
        self.assertErr(a1.request('CALL transfer {"call_id":"rp-2","to":"ghost8"}'), "not_found")
        with self.redis.client() as r:
            entries = harness.stream_entries(r, P + "log:calls", call_id="rp-1")
        self.assertEqual([(e["event"], e["agent"], e["role"], e["replayed_by"]) for e in entries],
                         [("offer", "ghost7", "agent", "replay1"), ("answer", "ghost7", "agent", "replay1"),
                          ("hold", "boss9", "supervisor", "replay1"),
                          ("transfer", "ghost7", "agent", "replay1"), ("end", "ghost8", "agent", "replay1")])
        self.assertEqual(entries[3]["to"], "ghost8")
        for e in entries:
            self.assertNotIn("as", e)

    def test_logged_agent_is_authenticated_user(self):
        a1 = self.connect_auth("agent1")
        a2 = self.connect_auth("agent2")
        sup = self.connect_auth("super1")
        self.assertIn('"offered"', a1.request('CALL offer {"call_id":"who-1","queue":"q"}'))
        self.assertIn('"answered"', a1.request('CALL answer {"call_id":"who-1"}'))
        self.assertIn('"offered"', a2.request('CALL offer {"call_id":"who-2","queue":"q"}'))
        self.assertIn('"offered"', sup.request('CALL offer {"call_id":"who-3","queue":"q"}'))
        with self.redis.client() as r:
            for cid, user, n in [("who-1", "agent1", 2), ("who-2", "agent2", 1), ("who-3", "super1", 1)]:
                entries = harness.stream_entries(r, P + "log:calls", call_id=cid)
                self.assertEqual(len(entries), n, entries)
                for e in entries:
                    self.assertEqual(e.get("agent"), user, e)

    def test_only_leg_holder_or_supervisor_moves_a_call(self):
        a1 = self.connect_auth("agent1")
        a2 = self.connect_auth("agent2")
        sup = self.connect_auth("super1")
        self.assertIn('"offered"', a1.request('CALL offer {"call_id":"mv-1","queue":"q"}'))
        for line in ['CALL answer {"call_id":"mv-1"}',
                     'CALL end {"call_id":"mv-1","disposition":"resolved"}']:
            with self.subTest(line=line):
                self.assertErr(a2.request(line), "forbidden")
        self.assertIn('"answered"', a1.request('CALL answer {"call_id":"mv-1"}'))
        for line in ['CALL hold {"call_id":"mv-1"}',
                     'CALL transfer {"call_id":"mv-1","to":"agent2"}',
                     'CALL end {"call_id":"mv-1","disposition":"resolved"}']:
            with self.subTest(line=line):
                self.assertErr(a2.request(line), "forbidden")
        # a supervisor may move anybody's call
        self.assertIn('"held"', sup.request('CALL hold {"call_id":"mv-1"}'))
        self.assertIn('"answered"', sup.request('CALL resume {"call_id":"mv-1"}'))
        with self.redis.client() as r:
            entries = harness.stream_entries(r, P + "log:calls", call_id="mv-1")
        self.assertEqual([(e["event"], e["agent"]) for e in entries],
                         [("offer", "agent1"), ("answer", "agent1"), ("hold", "super1"),
                          ("resume", "super1")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
