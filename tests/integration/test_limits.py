"""Resource limits: max_connections, slow readers, auth and idle timeouts."""

import os
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
REDIS = None


def setUpModule():
    global H, REDIS
    H = harness.module_harness("limits")
    REDIS = H.start_redis()


class MaxConnectionsTest(harness.TestCase):
    MAX = 4

    @classmethod
    def setUpClass(cls):
        cls.daemon = H.start_daemon(REDIS.address, name="maxconn",
                                    limits={"max_connections": cls.MAX})
        cls.addClassCleanup(cls.daemon.stop)

    def open_filled(self):
        """MAX connections, each proven accepted by a PING; the last one is
        an authenticated supervisor (for STATS)."""
        conns = []
        for _ in range(self.MAX - 1):
            c = self.connect()
            self.assertOK(c.request("PING"))
            conns.append(c)
        sup = self.connect_auth("super1")
        return conns, sup

    def assert_rejected(self, c):
        lines = c.read_until_closed(T())
        self.assertTrue(lines, "expected an ERR rate_limited line before the close")
        self.assertErr(lines[0], "rate_limited")
        self.assertEqual(lines[1:], [], "nothing may follow the rejection")

    def test_max_connections(self):
        conns, sup = self.open_filled()
        before = harness.stats(sup)
        self.assertEqual(before["connections"]["current"], self.MAX)

        extra = self.connect()
        self.assert_rejected(extra)
        extra2 = self.connect()
        self.assert_rejected(extra2)

        # the open ones are unaffected
        for c in conns:
            self.assertOK(c.request("PING"))
        after = harness.stats(sup)
        self.assertEqual(after["connections"]["current"], self.MAX)
        self.assertGreaterEqual(after["connections"]["rejected"], before["connections"]["rejected"] + 2)

        # a freed slot can be used again (closing is noticed asynchronously)
        conns[0].close()

        def new_one_works():
            c = self.daemon.client()
            try:
                reply = c.request("PING")
            except (harness.ConnectionClosed, OSError):
                c.close()
                return None
            if reply == "OK":
                self.addCleanup(c.close)
                return c
            self.assertErr(reply, "rate_limited")
            c.close()
            return None

        newc = harness.wait_until(new_one_works, what="a free connection slot")
        self.assertOK(newc.request("PING"))
        self.assertEqual(harness.stats(sup)["connections"]["current"], self.MAX)
        for c in conns[1:]:
            c.close()
        newc.close()
        harness.wait_until(lambda: harness.stats(sup)["connections"]["current"] == 1,
                           what="connections.current back to 1")


class FdLeakTest(harness.TestCase):
    """Connections of every kind come and go without leaking descriptors."""
    MAX = 8

    @classmethod
    def setUpClass(cls):
        cls.daemon = H.start_daemon(REDIS.address, name="fdleak",
                                    limits={"max_connections": cls.MAX, "max_line_unauth": 64})
        cls.addClassCleanup(cls.daemon.stop)

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.daemon.pid}/fd"))

    def wait_only_sup(self, sup):
        harness.wait_until(lambda: harness.stats(sup)["connections"]["current"] == 1,
                           what="connections to close")

    def cycle(self, sup):
        # plain PING
        with self.daemon.client() as c:
            self.assertOK(c.request("PING"))
        # authenticated, then QUIT
        with self.daemon.client() as c:
            c.auth("agent1")
            self.assertOK(c.request("QUIT"))
            c.read_until_closed(T())
        # failed AUTH, then vanish
        with self.daemon.client() as c:
            self.assertErr(c.request("AUTH agent1 nope"), "auth_failed")
        # vanish mid-line and mid-AUTH
        with self.daemon.client() as c:
            c.send(b"PIN")
        with self.daemon.client() as c:
            c.send(b"AUTH agent1 agent1-secret\n")
        # line too long, then reset by the client (SO_LINGER 0)
        with self.daemon.client() as c:
            c.send(b"Y" * 200 + b"\n")
            self.assertErr(c.read_reply(), "line_too_long")
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # over the connection limit (sup holds one slot): rejected
        self.wait_only_sup(sup)
        held = [self.daemon.client() for _ in range(self.MAX - 1)]
        try:
            for c in held:
                self.assertOK(c.request("PING"))
            with self.daemon.client() as c:
                lines = c.read_until_closed(T())
                self.assertErr(lines[0], "rate_limited")
        finally:
            for c in held:
                c.close()

    def test_no_fd_leak(self):
        sup = self.connect_auth("super1")
        self.cycle(sup)
        self.wait_only_sup(sup)
        time.sleep(0.3)
        baseline = self.fd_count()
        for _ in range(10):
            self.cycle(sup)
            self.wait_only_sup(sup)
        seen = []

        def back_to_baseline():
            n = self.fd_count()
            seen.append(n)
            return n <= baseline

        try:
            harness.wait_until(back_to_baseline, interval=0.1, what="fd count back to baseline")
        except AssertionError:
            self.fail(f"daemon fd count {seen[-1]} > baseline {baseline} after 10 cycles "
                      f"(fds: {sorted(os.listdir(f'/proc/{self.daemon.pid}/fd'), key=int)})")


class SlowReaderTest(harness.TestCase):
    MAX_OUTPUT = 4096

    @classmethod
    def setUpClass(cls):
        cls.daemon = H.start_daemon(REDIS.address, name="slowreader",
                                    limits={"max_output": cls.MAX_OUTPUT})
        cls.addClassCleanup(cls.daemon.stop)

    def flood(self, c, chunk_lines=1000, max_lines=400_000):
        """Send HELP lines without reading until the daemon drops us, the
        send blocks for a while, or max_lines were sent.  Returns the count
        sent and how the sending ended."""
        chunk = b"HELP\n" * chunk_lines
        sent = 0
        deadline = time.monotonic() + T(30)
        c.sock.settimeout(T(2))
        while sent < max_lines and time.monotonic() < deadline:
            try:
                c.sock.sendall(chunk)
            except socket.timeout:
                return sent, "send blocked"
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                return sent, "closed"
            sent += chunk_lines
        return sent, "done"

    def test_slow_reader_disconnected(self):
        other = self.connect_auth("super1")
        mark = self.daemon.log_mark()
        slow = self.connect(rcvbuf=4096)
        self.assertOK(slow.request("PING"))
        sent, how = self.flood(slow)
        sys.stderr.write(f"\n[limits] flood sent {sent} HELP lines, ended: {how}\n")
        line = self.daemon.wait_log(r"output buffer", since=mark, timeout=T(20))
        self.assertIn("output buffer", line)
        # the slow client's connection is closed (EOF or reset) in bounded time
        slow.drain_until_closed(T(20))
        # the daemon and other clients are fine
        self.assertOK(other.request("PING"))
        s = harness.stats(other)
        self.assertGreaterEqual(s["connections"]["current"], 1)
        fresh = self.connect()
        self.assertOK(fresh.request("PING"))

    def test_reader_that_reads_is_not_disconnected(self):
        """Plenty of output in total, read as it comes, is fine."""
        mark = self.daemon.log_mark()
        c = self.connect()
        for _ in range(200):
            c.send(b"HELP\n" * 10)
            for _ in range(10):
                harness.parse_ok_json(c.read_reply(T()))
        self.assertOK(c.request("PING"))
        self.assertIsNone(self.daemon.find_log(r"output buffer", since=mark))


class UnauthTimeoutTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = H.start_daemon(REDIS.address, name="unauth",
                                    limits={"unauth_timeout": 1, "idle_timeout": 0})
        cls.addClassCleanup(cls.daemon.stop)

    def expect_bye(self, c, reason, timeout):
        lines = c.read_until_closed(timeout)
        pushes = [l for l in lines if l.startswith("* ")]
        self.assertTrue(pushes, f"expected a '* bye' line before the close, got {lines}")
        self.assertBye(pushes[-1], reason)
        self.assertEqual(lines[-1], pushes[-1], f"the bye line must be the last line: {lines}")

    def test_silent_unauthenticated_closed(self):
        c = self.connect()
        self.expect_bye(c, "auth timeout", T(1 + 9))

    def test_pings_do_not_extend_auth_deadline(self):
        """The auth deadline counts from connect: activity without AUTH does
        not extend it."""
        c = self.connect()
        deadline = time.monotonic() + T(1 + 9)
        got_bye = False
        while not got_bye:
            self.assertLess(time.monotonic(), deadline, "not closed in time")
            try:
                c.send_line("PING")
                line = c.read_line(T(2))
            except (OSError, harness.ConnectionClosed):
                break
            if line.startswith("* "):
                self.assertBye(line, "auth timeout")
                got_bye = True
                break
            self.assertOK(line)
            time.sleep(0.2)
        if not got_bye:
            # closed while we were writing: the bye must still have come
            rest = c.read_until_closed(T()) if not c.closed_by_peer else []
            got_bye = any(l.startswith("* bye") for l in c.pushes + rest)
        self.assertTrue(got_bye, f"no '* bye' line; lines seen: {c.lines[-5:]}")
        self.assertBye(c.pushes[-1], "auth timeout")
        c.read_until_closed(T())

    def test_authenticated_not_closed(self):
        c = self.connect_auth("agent1")
        time.sleep(2.5)
        self.assertOK(c.request("PING"))
        self.assertEqual(c.pushes, [])

    def test_partial_line_does_not_help(self):
        c = self.connect()
        c.send(b"AUTH agent1 agent1-sec")  # never finished
        self.expect_bye(c, "auth timeout", T(1 + 9))


class IdleTimeoutTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = H.start_daemon(REDIS.address, name="idle",
                                    limits={"idle_timeout": 1, "unauth_timeout": 30})
        cls.addClassCleanup(cls.daemon.stop)

    def test_idle_authenticated_closed(self):
        c = self.connect_auth("agent1")
        lines = c.read_until_closed(T(1 + 9))
        self.assertTrue(lines, "expected '* bye' before the close")
        self.assertBye(lines[-1], "idle timeout")
        self.assertEqual([l for l in lines if not l.startswith("* ")], [])

    def test_active_connection_kept(self):
        c = self.connect_auth("super1")
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            self.assertOK(c.request("PING"))
            time.sleep(0.2)
        self.assertEqual(c.pushes, [])
        harness.stats(c)

    def test_idle_close_does_not_affect_others(self):
        idle = self.connect_auth("agent1")
        busy = self.connect_auth("agent2")
        deadline = time.monotonic() + T(1 + 9)
        while idle.pending(0.2) == b"":
            self.assertLess(time.monotonic(), deadline, "idle connection not closed in time")
            self.assertOK(busy.request("PING"))
        self.assertBye(idle.read_until_closed(T())[-1], "idle timeout")
        self.assertOK(busy.request("PING"))


if __name__ == "__main__":
    harness.main()
