"""The systemd notify protocol, for real: the test is the service manager.
It binds a NOTIFY_SOCKET datagram socket, starts hotlined with it, and
checks READY=1 once the port accepts, RELOADING=1 (with MONOTONIC_USEC) and
READY=1 around SIGHUP, WATCHDOG=1 pings when WATCHDOG_USEC is set, and
STOPPING=1 on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None


def setUpModule():
    global H
    H = harness.module_harness("notify")


class NotifyTest(harness.TestCase):
    def setUp(self):
        self.redis = H.start_redis()
        self.sock_path = H.path(f"notify-{self.id().rsplit('.', 1)[-1]}.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.sock_path)
        self.addCleanup(self.notify.close)
        self.daemon = H.daemon(harness.make_config(self.redis.address))

    def start(self, extra_env):
        env = dict(os.environ, NOTIFY_SOCKET=self.sock_path, **extra_env)
        log = open(H.path("notify-daemon.log"), "wb")
        self.proc = subprocess.Popen(harness.daemon_command("-c", self.daemon.config_path), env=env,
                                     stdout=log, stderr=subprocess.STDOUT, cwd=H.tmp,
                                     start_new_session=True)
        log.close()
        self.addCleanup(self.kill)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(T(10))

    def messages_until(self, wanted, timeout=None):
        """Collect notify datagrams until one contains `wanted`."""
        deadline = time.monotonic() + (timeout or T(10))
        got = []
        while time.monotonic() < deadline:
            self.notify.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                msg = self.notify.recv(4096).decode()
            except socket.timeout:
                break
            got.append(msg)
            if wanted in msg.split("\n"):
                return got
        self.fail(f"no {wanted!r} within the deadline; got {got!r}")

    def port(self):
        with open(H.path("notify-daemon.log")) as f:
            found = harness.LISTEN_RE.findall(f.read())
        self.assertTrue(found, "no 'listening on' line")
        return int(found[0][1])

    def test_ready_reload_stopping(self):
        self.start({})
        self.messages_until("READY=1")
        # READY is only sent once the port accepts connections.
        c = harness.Client(self.port())
        self.assertOK(c.request("PING"))
        c.close()

        self.proc.send_signal(signal.SIGHUP)
        got = self.messages_until("READY=1")
        reloading = [m for m in got if "RELOADING=1" in m.split("\n")]
        self.assertTrue(reloading, f"no RELOADING=1 before READY=1: {got!r}")
        self.assertRegex(reloading[0], r"MONOTONIC_USEC=\d+")

        self.proc.send_signal(signal.SIGTERM)
        self.messages_until("STOPPING=1")
        self.assertEqual(self.proc.wait(T(10)), 0)

    def test_failed_reload_still_reports_ready(self):
        self.start({})
        self.messages_until("READY=1")
        with open(self.daemon.config_path, "a") as f:
            f.write("bogus_section: 1\n")
        self.proc.send_signal(signal.SIGHUP)
        got = self.messages_until("READY=1")
        self.assertTrue(any("reload failed" in m for m in got), got)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(T(10)), 0)

    def test_watchdog_pings(self):
        self.start({"WATCHDOG_USEC": "200000"})
        self.messages_until("READY=1")
        for _ in range(3):
            self.messages_until("WATCHDOG=1", timeout=T(2))
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(T(10)), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
