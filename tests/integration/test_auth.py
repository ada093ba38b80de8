"""Authentication, roles, STATS access and contents, failure throttling."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
MAX_AUTH_FAILURES = 5  # the default; failure k (k>=2) is answered late


def setUpModule():
    global H
    H = harness.module_harness("auth")


class AuthTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address,
                                    limits={"max_auth_failures": MAX_AUTH_FAILURES})
        cls.addClassCleanup(cls.daemon.stop)

    # ------------------------------------------------------------ success
    def test_each_role_authenticates(self):
        for user, role in harness.DEFAULT_USERS:
            with self.subTest(user=user):
                c = self.connect()
                body = harness.parse_ok_json(c.request(f"AUTH {user} {user}-secret"))
                self.assertEqual(body.get("user"), user)
                self.assertEqual(body.get("role"), role)
                self.assertOK(c.request("PING"))

    def test_auth_verb_case_insensitive(self):
        c = self.connect()
        body = harness.parse_ok_json(c.request("auth agent2 agent2-secret"))
        self.assertEqual((body.get("user"), body.get("role")), ("agent2", "agent"))
        body = harness.parse_ok_json(c.request("Auth agent1 agent1-secret"))
        self.assertEqual((body.get("user"), body.get("role")), ("agent1", "agent"))

    # ------------------------------------------------------------ failure
    def test_wrong_secret(self):
        c = self.connect()
        self.assertErr(c.request("AUTH agent1 not-the-secret"), "auth_failed")
        # still unauthenticated, still connected
        self.assertErr(c.request("STATS"), "auth_required")
        self.assertOK(c.request("PING"))

    def test_secret_is_case_sensitive(self):
        c = self.connect()
        self.assertErr(c.request("AUTH agent1 AGENT1-SECRET"), "auth_failed")

    def test_other_users_secret(self):
        c = self.connect()
        self.assertErr(c.request("AUTH agent1 admin1-secret"), "auth_failed")
        self.assertErr(c.request("STATS"), "auth_required")

    def test_unknown_user(self):
        c = self.connect()
        self.assertErr(c.request("AUTH nosuchuser whatever"), "auth_failed")
        self.assertErr(c.request("STATS"), "auth_required")
        self.assertOK(c.request("PING"))

    def test_unknown_user_and_wrong_secret_same_reply(self):
        a = self.connect()
        b = self.connect()
        r1 = a.request("AUTH agent1 wrong-secret")
        r2 = b.request("AUTH nosuchuser wrong-secret")
        self.assertErr(r1, "auth_failed")
        self.assertEqual(r1, r2, "unknown user and wrong secret must be indistinguishable")

    def test_wrong_token_count(self):
        for line in ("AUTH", "AUTH agent1", "AUTH agent1 agent1-secret extra",
                     "AUTH agent1 agent1-secret extra more", "AUTH   ", "AUTH\tagent1"):
            with self.subTest(line=line):
                c = self.connect()
                self.assertErr(c.request(line), "bad_request")
                self.assertErr(c.request("STATS"), "auth_required")
                self.assertOK(c.request("PING"))
                c.close()

    def test_extra_token_does_not_authenticate(self):
        c = self.connect()
        self.assertErr(c.request("AUTH super1 super1-secret x"), "bad_request")
        self.assertErr(c.request("STATS"), "auth_required")

    # ------------------------------------------------------ before AUTH
    def test_verbs_before_auth(self):
        c = self.connect()
        self.assertOK(c.request("PING"))
        self.assertIn("AUTH", harness.parse_ok_json(c.request("HELP"))["verbs"])
        self.assertErr(c.request("STATS"), "auth_required")
        self.assertErr(c.request("stats"), "auth_required")
        self.assertErr(c.request("NOSUCHVERB"), "unknown_command")
        self.assertOK(c.request("QUIT"))
        self.assertEqual(c.read_until_closed(T()), [])

    def test_unknown_verb_after_auth(self):
        c = self.connect_auth("admin1")
        self.assertErr(c.request("NOSUCHVERB"), "unknown_command")

    # --------------------------------------------------------------- STATS
    def test_stats_forbidden_for_agent(self):
        c = self.connect_auth("agent1")
        self.assertErr(c.request("STATS"), "forbidden")
        self.assertOK(c.request("PING"), "connection still usable")

    def check_stats_shape(self, s):
        self.assertIsInstance(s.get("version"), str)
        self.assertTrue(s["version"])
        self.assertIsInstance(s.get("uptime_s"), int)
        self.assertGreaterEqual(s["uptime_s"], 0)
        conns = s.get("connections")
        self.assertIsInstance(conns, dict)
        for k in ("current", "total", "rejected"):
            self.assertIsInstance(conns.get(k), int, k)
            self.assertGreaterEqual(conns[k], 0)
        self.assertGreaterEqual(conns["current"], 1)
        self.assertGreaterEqual(conns["total"], conns["current"])
        reqs = s.get("requests")
        self.assertIsInstance(reqs, dict)
        for verb, v in reqs.items():
            self.assertIsInstance(v, dict, verb)
            self.assertIsInstance(v.get("count"), int, verb)
            self.assertIsInstance(v.get("errors"), int, verb)
            self.assertLessEqual(v["errors"], v["count"], verb)
        self.assertIsInstance(s.get("errors"), dict)
        for code, n in s["errors"].items():
            self.assertRegex(code, r"^[a-z_]+$")
            self.assertIsInstance(n, int)
        redis = s.get("redis")
        self.assertIsInstance(redis, dict)
        self.assertIn(redis.get("state"), ("up", "down", "connecting"))
        self.assertEqual(redis.get("address"), self.redis.tcp_address)

    def test_stats_supervisor_and_admin(self):
        for user in ("super1", "admin1"):
            with self.subTest(user=user):
                c = self.connect_auth(user)
                s = harness.stats(c)
                self.check_stats_shape(s)

    def test_stats_counts_move(self):
        c = self.connect_auth("super1")
        s1 = harness.stats(c)
        for _ in range(3):
            self.assertOK(c.request("PING"))
        self.assertErr(c.request("NOSUCHVERB"), "unknown_command")
        c.send(b"PING \xff\n")
        self.assertErr(c.read_reply(), "bad_request")
        other = self.connect()
        self.assertOK(other.request("PING"))
        s2 = harness.stats(c)
        self.check_stats_shape(s2)
        ping1 = s1["requests"].get("PING", {"count": 0, "errors": 0})
        ping2 = s2["requests"]["PING"]
        self.assertGreaterEqual(ping2["count"], ping1["count"] + 4)
        self.assertGreaterEqual(s2["requests"]["STATS"]["count"], s1["requests"]["STATS"]["count"] + 1)
        self.assertGreaterEqual(s2["errors"].get("unknown_command", 0),
                                s1["errors"].get("unknown_command", 0) + 1)
        self.assertGreaterEqual(s2["errors"].get("bad_request", 0),
                                s1["errors"].get("bad_request", 0) + 1)
        self.assertGreaterEqual(s2["connections"]["total"], s1["connections"]["total"] + 1)
        self.assertGreaterEqual(s2["connections"]["current"], 2)
        self.assertGreaterEqual(s2["uptime_s"], s1["uptime_s"])

    def test_stats_counts_auth_failures_and_forbidden(self):
        adm = self.connect_auth("admin1")
        s1 = harness.stats(adm)
        a = self.connect()
        self.assertErr(a.request("AUTH agent1 bad"), "auth_failed")
        b = self.connect_auth("agent2")
        self.assertErr(b.request("STATS"), "forbidden")
        s2 = harness.stats(adm)
        self.assertGreaterEqual(s2["errors"].get("auth_failed", 0), s1["errors"].get("auth_failed", 0) + 1)
        self.assertGreaterEqual(s2["errors"].get("forbidden", 0), s1["errors"].get("forbidden", 0) + 1)
        auth1 = s1["requests"].get("AUTH", {"count": 0, "errors": 0})
        self.assertGreaterEqual(s2["requests"]["AUTH"]["count"], auth1["count"] + 2)
        self.assertGreaterEqual(s2["requests"]["AUTH"]["errors"], auth1["errors"] + 1)

    # ------------------------------------------------------ throttling
    def test_throttling_and_close_after_max_failures(self):
        c = self.connect()
        latencies = []
        for i in range(MAX_AUTH_FAILURES):
            t0 = time.monotonic()
            reply = c.request(f"AUTH agent1 wrong-{i}", T(30))
            latencies.append(time.monotonic() - t0)
            self.assertErr(reply, "auth_failed")
            if i < MAX_AUTH_FAILURES - 1:
                self.assertOK(c.request("PING"), f"still usable after failure {i + 1}")
        rest = c.read_until_closed(T(30))
        self.assertEqual([l for l in rest if not l.startswith("* ")], [],
                         "nothing but pushed lines may follow the final auth_failed")
        sys.stderr.write(f"\n[auth] failure reply latencies: {[round(x, 3) for x in latencies]}\n")
        # later failures are delayed: some later reply takes longer than the
        # first one (the final, closing one need not be delayed)
        self.assertGreater(max(latencies[1:]), latencies[0],
                           f"no throttling visible: latencies {latencies}")
        # the daemon itself is fine
        d = self.connect()
        self.assertOK(d.request("PING"))
        d.auth("agent1")

    def test_failures_are_per_connection(self):
        a = self.connect()
        for i in range(MAX_AUTH_FAILURES - 1):
            self.assertErr(a.request(f"AUTH agent1 wrong-{i}", T(30)), "auth_failed")
        # another connection is not affected
        b = self.connect()
        b.auth("agent1")
        # and the first one can still log in with the right secret
        a.auth("agent1", timeout=T(30))
        self.assertOK(a.request("PING"))

    def test_pipelined_failures_then_close(self):
        c = self.connect()
        c.send("".join(f"AUTH agent1 bad{i}\n" for i in range(MAX_AUTH_FAILURES + 3)))
        lines = c.read_until_closed(T(60))
        replies = [l for l in lines if not l.startswith("* ") and not l.startswith("<partial>")]
        self.assertEqual(len(replies), MAX_AUTH_FAILURES,
                         f"expected exactly {MAX_AUTH_FAILURES} replies before close, got {lines}")
        for r in replies:
            self.assertErr(r, "auth_failed")

    # ------------------------------------------------ AUTH and connection life
    def test_close_while_auth_in_flight(self):
        """Clients vanishing while their password check runs must not hurt
        the daemon (use-after-free bait for valgrind/ASan)."""
        for i in range(20):
            c = self.daemon.client()
            c.send(b"AUTH agent1 agent1-secret\n" if i % 2 else b"AUTH agent1 wrong\nAUTH agent1 x\n")
            c.close()
        # half-closed: the client shuts its write side; the reply still comes
        c = self.connect()
        c.send(b"AUTH agent2 agent2-secret\n")
        c.sock.shutdown(socket.SHUT_WR)
        lines = c.read_until_closed(T())
        self.assertTrue(lines and lines[0].startswith("OK {"), lines)
        s = harness.stats(self.connect_auth("super1"))
        self.assertGreaterEqual(s["connections"]["current"], 1)
        self.assertOK(self.connect().request("PING"))

    def test_quit_behind_auth(self):
        c = self.connect()
        c.send(b"AUTH agent1 agent1-secret\nQUIT\nPING\n")
        lines = c.read_until_closed(T())
        self.assertEqual(len(lines), 2, lines)
        self.assertEqual(harness.parse_ok_json(lines[0])["user"], "agent1")
        self.assertOK(lines[1])

    def test_many_concurrent_auths(self):
        clients = [self.connect() for _ in range(30)]
        for i, c in enumerate(clients):
            user = harness.DEFAULT_USERS[i % 4][0]
            secret = f"{user}-secret" if i % 5 else "wrong"
            c.send(f"AUTH {user} {secret}\nPING\n")
        for i, c in enumerate(clients):
            user, role = harness.DEFAULT_USERS[i % 4]
            reply = c.read_reply(T(30))
            if i % 5:
                body = harness.parse_ok_json(reply)
                self.assertEqual((body["user"], body["role"]), (user, role))
            else:
                self.assertErr(reply, "auth_failed")
            self.assertOK(c.read_reply(T()))

    # ------------------------------------------------------------ re-AUTH
    def test_reauth_switches_user(self):
        c = self.connect()
        self.assertEqual(c.auth("agent1")["role"], "agent")
        self.assertErr(c.request("STATS"), "forbidden")
        self.assertEqual(c.auth("super1")["role"], "supervisor")
        harness.stats(c)
        self.assertEqual(c.auth("admin1")["role"], "admin")
        harness.stats(c)
        self.assertEqual(c.auth("agent2")["role"], "agent")
        self.assertErr(c.request("STATS"), "forbidden")

    def test_failed_reauth_leaves_connection_unauthenticated(self):
        c = self.connect_auth("super1")
        harness.stats(c)
        self.assertErr(c.request("AUTH super1 wrong"), "auth_failed")
        self.assertErr(c.request("STATS"), "auth_required",
                       msg="a failed AUTH leaves the connection unauthenticated")
        c.auth("super1", timeout=T(30))
        harness.stats(c)


if __name__ == "__main__":
    harness.main()
