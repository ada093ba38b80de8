"""Signals (SIGHUP reload, SIGTERM/SIGINT drain) and the command line
(--check-config, --version)."""

import os
import re
import signal
import socket
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
    H = harness.module_harness("signals")
    REDIS = H.start_redis()


def users_plus(*extra, drop=()):
    users = [(n, r) for n, r in harness.DEFAULT_USERS if n not in drop]
    return harness.make_users(users + list(extra))


class ReloadTest(harness.TestCase):
    """Each test gets a fresh daemon: reloads change its state."""

    def setUp(self):
        self.daemon = H.start_daemon(REDIS.address)
        self.addCleanup(self.daemon.stop)

    def test_sighup_adds_user_keeps_connections(self):
        d = self.daemon
        old_unauth = self.connect()
        self.assertOK(old_unauth.request("PING"))
        old_agent = self.connect_auth("agent1")
        old_super = self.connect_auth("super1")
        c = self.connect()
        self.assertErr(c.request("AUTH agent3 agent3-secret"), "auth_failed")

        cfg = harness.deep_merge(d.config, {})
        cfg["users"] = users_plus(("agent3", "agent"))
        d.write_config(cfg)
        mark = d.log_mark()
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reloaded", since=mark)

        new = self.connect()
        self.assertEqual(new.auth("agent3")["role"], "agent")
        self.assertErr(new.request("STATS"), "forbidden")
        # old connections survive and keep their state
        self.assertOK(old_agent.request("PING"))
        self.assertErr(old_agent.request("STATS"), "forbidden")
        self.assertOK(old_unauth.request("PING"))
        self.assertErr(old_unauth.request("STATS"), "auth_required")
        s = harness.stats(old_super)
        self.assertGreaterEqual(s["connections"]["current"], 4)
        self.assertEqual(old_agent.pushes + old_super.pushes + old_unauth.pushes, [])
        # the unauthenticated connection can now log in as the new user
        old_unauth.auth("agent3")

    def test_sighup_removes_user_and_changes_limits(self):
        d = self.daemon
        old = self.connect_auth("agent1")
        removed = self.connect_auth("agent2")
        long_verb = "X" * 150
        c = self.connect()
        self.assertErr(c.request(long_verb), "unknown_command")

        cfg = harness.deep_merge(d.config, {"limits": {"max_line_unauth": 100}})
        cfg["users"] = users_plus(drop=("agent2",))
        d.write_config(cfg)
        mark = d.log_mark()
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reloaded", since=mark)

        n = self.connect()
        self.assertErr(n.request("AUTH agent2 agent2-secret"), "auth_failed")
        n2 = self.connect()
        self.assertErr(n2.request(long_verb), "line_too_long")
        self.assertOK(n2.request("PING"))
        n2.auth("agent1")
        # connections of users still configured are not dropped
        self.assertOK(old.request("PING"))
        self.assertEqual(old.pushes, [])
        # the removed user's session may be ended, but then politely
        try:
            reply = removed.request("PING")
        except harness.ConnectionClosed:
            reply = None
        if reply is None or removed.pushes:
            self.assertTrue(removed.pushes, "closed without a '* bye' line")
            harness.parse_push(removed.pushes[-1], "bye")
        else:
            self.assertOK(reply)

    def test_sighup_bad_config_keeps_old(self):
        d = self.daemon
        old = self.connect_auth("agent1")
        good_text = harness.to_yaml(d.config)

        cfg = harness.deep_merge(d.config, {})
        cfg["users"] = users_plus(("agent3", "agent"))
        cfg["users"][-1]["role"] = "wizard"
        bad_text = harness.to_yaml(cfg)
        bad_line = next(i + 1 for i, l in enumerate(bad_text.splitlines()) if '"wizard"' in l)
        d.write_config(text=bad_text)
        mark = d.log_mark()
        d.send_signal(signal.SIGHUP)
        line = d.wait_log(r"reload failed", since=mark)
        m = re.search(re.escape(d.config_path) + r":(\d+):(\d+): \S", line)
        self.assertIsNotNone(m, f"reload failure must carry 'file:line:col: message': {line!r}")
        self.assertEqual(int(m.group(1)), bad_line, line)
        self.assertIsNone(d.find_log(r"reloaded", since=mark))

        # old config in force; the process and connections are fine
        self.assertTrue(d.running())
        self.assertOK(old.request("PING"))
        c = self.connect()
        self.assertErr(c.request("AUTH agent3 agent3-secret"), "auth_failed")
        c2 = self.connect()
        c2.auth("agent1")

        # a YAML syntax error is refused the same way
        d.write_config(text=good_text + "limits: [\n")
        mark = d.log_mark()
        d.send_signal(signal.SIGHUP)
        line = d.wait_log(r"reload failed", since=mark)
        self.assertRegex(line, re.escape(d.config_path) + r":\d+:\d+: \S")
        self.assertOK(old.request("PING"))

        # and a good file afterwards is taken
        cfg["users"][-1]["role"] = "agent"
        d.write_config(cfg)
        mark = d.log_mark()
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reloaded", since=mark)
        c3 = self.connect()
        c3.auth("agent3")
        self.assertOK(old.request("PING"))

    def test_sighup_changes_log_level(self):
        d = self.daemon
        old = self.connect_auth("agent1")
        # to "warn" (plus a new user, so we can see when the reload is in force)
        cfg = harness.deep_merge(d.config, {"log": {"level": "warn"}})
        cfg["users"] = users_plus(("agent3", "agent"))
        d.write_config(cfg)
        d.send_signal(signal.SIGHUP)

        def agent3_works():
            c = self.connect()
            try:
                reply = c.request("AUTH agent3 agent3-secret")
            finally:
                c.close()
            return reply.startswith("OK ")

        harness.wait_until(agent3_works, what="the reload to take effect")
        mark = d.log_mark()
        # activity that would typically log at info level
        for _ in range(3):
            c = self.connect()
            c.auth("agent2")
            self.assertOK(c.request("QUIT"))
            c.read_until_closed(T())
        bad = self.connect()
        self.assertErr(bad.request("AUTH agent2 wrong"), "auth_failed")
        self.assertOK(old.request("PING"))
        time.sleep(0.2)
        info_lines = [l for l in d.log_text(mark).splitlines()
                      if re.search(r"Z (info|debug) ", l)]
        self.assertEqual(info_lines, [], "info/debug lines logged at level warn")

        # back to "debug": info lines come back
        cfg = harness.deep_merge(cfg, {"log": {"level": "debug"}})
        d.write_config(cfg)
        mark = d.log_mark()
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reloaded", since=mark)
        self.assertOK(old.request("PING"))
        self.assertEqual(d.bad_log_lines(), [])

    def test_sighup_missing_file_keeps_old(self):
        d = self.daemon
        old = self.connect_auth("agent1")
        os.rename(d.config_path, d.config_path + ".away")
        try:
            mark = d.log_mark()
            d.send_signal(signal.SIGHUP)
            d.wait_log(r"reload failed", since=mark)
        finally:
            os.rename(d.config_path + ".away", d.config_path)
        self.assertOK(old.request("PING"))
        self.connect().auth("agent2")

    def test_repeated_sighup(self):
        d = self.daemon
        old = self.connect_auth("super1")
        for i in range(5):
            mark = d.log_mark()
            d.send_signal(signal.SIGHUP)
            d.wait_log(r"reloaded", since=mark)
            self.assertOK(old.request("PING"))
        harness.stats(old)


class ShutdownTest(harness.TestCase):
    def setUp(self):
        self.daemon = H.start_daemon(REDIS.address)
        self.addCleanup(self.daemon.stop)

    def drain(self, sig):
        d = self.daemon
        port = d.port
        unauth = self.connect()
        self.assertOK(unauth.request("PING"))
        agent = self.connect_auth("agent1")
        sup = self.connect_auth("super1")
        # AUTHs in flight (password hashing in the worker pool) when the
        # signal arrives must still be answered.  The PING on `unauth`
        # afterwards is a barrier: once it is answered, the daemon has read
        # the AUTH lines, which reached its sockets first.
        inflight = [self.connect() for _ in range(6)]
        for c in inflight:
            c.send(b"AUTH agent2 agent2-secret\nPING\n")
        self.assertOK(unauth.request("PING"))
        mark = d.log_mark()
        d.send_signal(sig)

        for c in inflight:
            lines = c.read_until_closed(T())
            self.assertTrue(lines, "expected replies and a bye line")
            self.assertBye(lines[-1], "shutdown")
            body = lines[:-1]
            self.assertTrue(body and body[0].startswith("OK {"),
                            f"the in-flight AUTH must be answered before the bye: {lines}")
            self.assertEqual(harness.parse_ok_json(body[0]).get("user"), "agent2")
            for l in body[1:]:
                self.assertOK(l)

        # listener closed once clients are being told to go away
        self.assertTrue(harness.connection_refused_or_closed(port, T(5)),
                        "a new connection was served during shutdown")

        for c in (unauth, agent, sup):
            rest = c.read_until_closed(T())
            self.assertEqual(len(rest), 1, f"expected exactly one bye line, got {rest}")
            self.assertBye(rest[0], "shutdown")

        rc = d.wait_exit(T(20))
        self.assertEqual(rc, 0, f"exit status\n{d.log_tail()}")
        d.wait_log(r"shutdown complete", since=mark, timeout=T(2))
        self.assertTrue(harness.connection_refused_or_closed(port, T(5)))

    def test_sigterm_drain(self):
        self.drain(signal.SIGTERM)

    def test_sigint_drain(self):
        self.drain(signal.SIGINT)

    def test_sigterm_idle_daemon(self):
        d = self.daemon
        mark = d.log_mark()
        rc = d.stop(signal.SIGTERM)
        self.assertEqual(rc, 0)
        self.assertIsNotNone(d.find_log(r"shutdown complete", since=mark))

    def test_sigterm_with_pipelined_burst(self):
        """Many requests pipelined just before the signal: everything that
        is answered comes in order, then exactly one bye, then the close."""
        d = self.daemon
        c = self.connect()
        c.auth("agent1")
        c.send(b"PING\n" * 500)
        d.send_signal(signal.SIGTERM)
        lines = c.read_until_closed(T())
        self.assertTrue(lines)
        self.assertBye(lines[-1], "shutdown")
        for l in lines[:-1]:
            self.assertOK(l)
        self.assertEqual(d.wait_exit(T(20)), 0)


class ShutdownStuckReaderTest(harness.TestCase):
    def setUp(self):
        self.daemon = H.start_daemon(REDIS.address, limits={"max_output": 64 << 20})
        self.addCleanup(self.daemon.stop)

    def test_sigterm_with_client_that_never_reads(self):
        """A client that stopped reading (output queued but under
        max_output) cannot hold the shutdown forever."""
        d = self.daemon
        stuck = self.connect(rcvbuf=4096)
        stuck.auth("agent1")
        stuck.sock.settimeout(T(2))
        sent = 0
        try:
            while sent < 200000:  # ~10 MB of replies, more than socket buffers hold
                stuck.sock.sendall(b"HELP\n" * 500)
                sent += 500
        except (socket.timeout, OSError):
            pass
        other = self.connect()
        self.assertOK(other.request("PING"))
        mark = d.log_mark()
        d.send_signal(signal.SIGTERM)
        lines = other.read_until_closed(T())
        self.assertBye(lines[-1], "shutdown")
        rc = d.wait_exit(T(60))
        self.assertEqual(rc, 0)
        d.wait_log(r"shutdown complete", since=mark, timeout=T(2))


class CommandLineTest(harness.TestCase):
    def write(self, name, text):
        p = H.path(name)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        return p

    def good_config(self):
        return harness.make_config(REDIS.address)

    def check_bad(self, path, expect_line=None):
        r = harness.run_hotlined("--check-config", path)
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 1, f"stdout={r.stdout!r} stderr={err!r}")
        m = re.search(r"^" + re.escape(path) + r":(\d+):(\d+): \S.*$", err, re.M)
        self.assertIsNotNone(m, f"stderr must hold 'FILE:LINE:COL: message': {err!r}")
        self.assertGreaterEqual(int(m.group(1)), 1)
        self.assertGreaterEqual(int(m.group(2)), 1)
        if expect_line is not None:
            self.assertEqual(int(m.group(1)), expect_line, err)
        return m

    def test_check_config_good(self):
        p = self.write("good.yaml", harness.to_yaml(self.good_config()))
        r = harness.run_hotlined("--check-config", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{p}: ok", r.stdout.decode())

    def test_check_config_unix_redis_two_listeners(self):
        cfg = self.good_config()
        cfg["redis"]["address"] = "unix:/tmp/some-redis.sock"
        cfg["listen"] = ["127.0.0.1:0", "127.0.0.1:0"]
        p = self.write("good2.yaml", harness.to_yaml(cfg))
        r = harness.run_hotlined("--check-config", p)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_check_config_bad_role(self):
        cfg = self.good_config()
        cfg["users"][1]["role"] = "wizard"
        text = harness.to_yaml(cfg)
        line = next(i + 1 for i, l in enumerate(text.splitlines()) if '"wizard"' in l)
        self.check_bad(self.write("badrole.yaml", text), expect_line=line)

    def test_check_config_bad_log_level(self):
        cfg = self.good_config()
        cfg["log"]["level"] = "chatty"
        text = harness.to_yaml(cfg)
        line = next(i + 1 for i, l in enumerate(text.splitlines()) if '"chatty"' in l)
        self.check_bad(self.write("badlevel.yaml", text), expect_line=line)

    def test_check_config_bad_number(self):
        cfg = self.good_config()
        cfg["limits"]["max_connections"] = "lots"
        text = harness.to_yaml(cfg)
        line = next(i + 1 for i, l in enumerate(text.splitlines()) if '"lots"' in l)
        self.check_bad(self.write("badnum.yaml", text), expect_line=line)

    def test_check_config_bad_listen(self):
        cfg = self.good_config()
        cfg["listen"] = ["127.0.0.1:notaport"]
        text = harness.to_yaml(cfg)
        self.check_bad(self.write("badlisten.yaml", text), expect_line=1)

    def test_check_config_syntax_error(self):
        text = harness.to_yaml(self.good_config()) + "limits: [\n"
        self.check_bad(self.write("syntax.yaml", text))

    def test_check_config_unclosed_quote(self):
        text = 'listen: ["127.0.0.1:0"]\nredis:\n  address: "127.0.0.1:1\n'
        self.check_bad(self.write("quote.yaml", text))

    def test_check_config_missing_file(self):
        r = harness.run_hotlined("--check-config", H.path("does-not-exist.yaml"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(r.stderr.strip(), "an error message is expected")

    def test_version(self):
        r = harness.run_hotlined("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"\d+\.\d+")

    def test_bad_config_at_startup_exits_nonzero(self):
        cfg = self.good_config()
        cfg["users"][0]["role"] = "wizard"
        d = H.daemon(cfg, name="badstart")
        with self.assertRaises(AssertionError) as cm:
            d.start()
        self.assertRegex(str(cm.exception), r"exited with status [1-9]")


if __name__ == "__main__":
    harness.main()
