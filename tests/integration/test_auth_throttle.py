"""Failed AUTHs counted per source address (limits.max_auth_failures_per_addr,
limits.auth_failure_window): failures spread over many connections from one
address block it; a blocked address's AUTHs (even correct ones) are refused
with `ERR rate_limited` without a password check, with the per-connection
delay and close; other addresses are unaffected; the block ends after the
window; only real failures count; SIGHUP applies new limits at once.

Client addresses: 127.0.0.1 is the address under attack; the other tests
and the STATS connection use their own loopback addresses (bound as the
client's source), so they never share a count."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
MAX_PER_ADDR = 4
MAX_PER_CONN = 3  # limits.max_auth_failures
# Long enough that the failures below fit in one window even under valgrind,
# short enough to wait for its end.
WINDOW_S = max(8, int(T(8)))
STATS_ADDR = "127.0.0.9"


def setUpModule():
    global H
    H = harness.module_harness("auth-throttle")


class AuthThrottleTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address, limits={
            "max_auth_failures": MAX_PER_CONN,
            "max_auth_failures_per_addr": MAX_PER_ADDR,
            "auth_failure_window": WINDOW_S,
        })
        cls.addClassCleanup(cls.daemon.stop)

    def client(self, source):
        return self.connect(source=source)

    def auth_stats(self):
        return harness.stats(self.connect_auth("super1", source=STATS_ADDR))["auth"]

    def fail_from(self, source, n):
        """n failed AUTHs from source, one connection each (unknown users
        and wrong secrets alike)."""
        for i in range(n):
            c = self.client(source)
            user = "agent1" if i % 2 else f"nosuchuser{i}"
            self.assertErr(c.request(f"AUTH {user} wrong-{i}", T(30)), "auth_failed")
            c.close()

    def wait_unblocked(self, source):
        """Poll (bounded) until a correct AUTH from source is accepted;
        every refusal meanwhile must be rate_limited."""
        refusals = []

        def accepted():
            c = self.client(source)
            try:
                reply = c.request("AUTH agent1 agent1-secret", T(30))
            finally:
                c.close()
            if reply.startswith("OK {"):
                return harness.parse_ok_json(reply)
            refusals.append(reply)
            self.assertErr(reply, "rate_limited", r"too many failed logins from this address; retry in \d+ s")
            time.sleep(0.25)
            return None

        body = harness.wait_until(accepted, timeout=T(WINDOW_S + 15), what=f"AUTH from {source} accepted again")
        self.assertEqual(body["user"], "agent1")
        return refusals

    # ----------------------------------------------------------------- the attack
    def test_many_connections_block_the_address_until_the_window_ends(self):
        before = self.auth_stats()
        mark = self.daemon.log_mark()
        self.fail_from("127.0.0.1", MAX_PER_ADDR)
        self.daemon.wait_log(r"AUTH: %d failed logins from 127\.0\.0\.1 within %d s; refusing its logins"
                             % (MAX_PER_ADDR, WINDOW_S), since=mark)

        # Blocked: even the right secret is refused, on a fresh connection.
        c = self.client("127.0.0.1")
        self.assertErr(c.request("AUTH agent1 agent1-secret", T(30)), "rate_limited",
                       r"^too many failed logins from this address; retry in \d+ s$")
        self.assertErr(c.request("STATS"), "auth_required", msg="a refused AUTH does not log in")
        self.assertOK(c.request("PING"), "the connection stays usable")
        c.close()
        refused = self.auth_stats()
        self.assertGreaterEqual(refused["throttled"], before["throttled"] + 1)
        self.assertEqual(refused["address_blocks"], before["address_blocks"] + 1)
        self.assertGreaterEqual(refused["addresses_tracked"], 1)

        # Another address is not affected, for good and for bad secrets.
        other = self.client("127.0.0.2")
        self.assertErr(other.request("AUTH agent2 wrong", T(30)), "auth_failed")
        self.assertEqual(other.auth("agent2", timeout=T(30))["role"], "agent")
        self.assertOK(other.request("PING"))

        # After the window the address may log in again.
        refusals = self.wait_unblocked("127.0.0.1")
        sys.stderr.write(f"\n[auth-throttle] {len(refusals)} polling AUTH(s) refused before the block "
                         f"of {WINDOW_S} s ended\n")
        after = self.auth_stats()
        self.assertEqual(after["address_blocks"], before["address_blocks"] + 1,
                         "refused AUTHs do not count as new failures")
        self.assertGreaterEqual(after["throttled"], refused["throttled"] + len(refusals))

    def test_refusals_get_the_per_connection_delay_and_close(self):
        source = "127.0.0.3"
        self.fail_from(source, MAX_PER_ADDR)
        c = self.client(source)
        # Pipelined, correct secrets: each refused, then the connection closes
        # after max_auth_failures like any run of failures.
        c.send("".join("AUTH agent1 agent1-secret\n" for _ in range(MAX_PER_CONN + 3)))
        lines = c.read_until_closed(T(60))
        replies = [l for l in lines if not l.startswith("* ") and not l.startswith("<partial>")]
        self.assertEqual(len(replies), MAX_PER_CONN, lines)
        for r in replies:
            self.assertErr(r, "rate_limited")
        self.assertTrue(replies[-1].endswith("; too many failures, closing"), replies[-1])

    def test_only_real_failures_count(self):
        source = "127.0.0.4"
        for i in range(MAX_PER_ADDR * 3):
            c = self.client(source)
            self.assertErr(c.request("AUTH onlyoneword"), "bad_request")
            c.close()
        # Failures of one connection and of several add up.
        c = self.client(source)
        for i in range(MAX_PER_CONN - 1):
            self.assertErr(c.request(f"AUTH agent1 wrong-{i}", T(30)), "auth_failed")
        self.assertEqual(c.auth("agent1", timeout=T(30))["role"], "agent",
                         "malformed AUTHs and MAX-2 failures do not block")
        c.close()
        self.fail_from(source, MAX_PER_ADDR - (MAX_PER_CONN - 1))
        self.assertErr(self.client(source).request("AUTH agent1 agent1-secret", T(30)), "rate_limited")

    def test_reload_turns_it_off_at_once(self):
        source = "127.0.0.5"
        self.fail_from(source, MAX_PER_ADDR)
        self.assertErr(self.client(source).request("AUTH agent1 agent1-secret", T(30)), "rate_limited")
        cfg = self.daemon.config
        off = harness.deep_merge(cfg, {"limits": {"max_auth_failures_per_addr": 0}})
        try:
            mark = self.daemon.log_mark()
            self.daemon.write_config(off)
            self.daemon.send_signal(signal.SIGHUP)
            self.daemon.wait_log(r"reloaded config", since=mark)
            self.assertEqual(self.client(source).auth("agent1", timeout=T(30))["role"], "agent")
            # Off: failures are not counted at all.
            self.fail_from("127.0.0.6", MAX_PER_ADDR + 2)
            self.assertEqual(self.client("127.0.0.6").auth("agent1", timeout=T(30))["role"], "agent")
        finally:
            mark = self.daemon.log_mark()
            self.daemon.write_config(cfg)
            self.daemon.send_signal(signal.SIGHUP)
            self.daemon.wait_log(r"reloaded config", since=mark)


if __name__ == "__main__":
    harness.main()
