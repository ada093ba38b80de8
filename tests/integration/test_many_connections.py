"""MANY_CONNECTIONS connections at once (the test raises its own and the
daemon's RLIMIT_NOFILE): limits.max_connections refuses the next ones with
the documented `ERR rate_limited`, every open session keeps working, and
the RSS each connection costs the daemon is measured, for idle
unauthenticated connections and logged-in ones (FIGURE lines).  Client
sockets are non-blocking and driven by one selector, so the test needs one
descriptor per connection and no thread per connection."""

import os
import resource
import selectors
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None

MANY_CONNECTIONS = 10_000  # limits.max_connections in the flood test
MANY_AUTHENTICATED = 200   # of them, this many log in (Argon2id is slow on purpose)
MANY_AUTHENTICATED_VALGRIND = 10  # ... when hotlined runs under valgrind
MANY_REFUSED = 20          # connections tried beyond the cap


def setUpModule():
    global H
    H = harness.module_harness("many_connections")


def exchange(socks, line, timeout):
    """Send line on every socket (once it is connected) and read one reply
    line from each; returns the replies in order ("<closed>" + what came
    when the daemon closed it first)."""
    sel = selectors.DefaultSelector()
    bufs = {s: b"" for s in socks}
    replies = {}
    for s in socks:
        sel.register(s, selectors.EVENT_WRITE)
    deadline = time.monotonic() + timeout
    try:
        while len(replies) < len(socks):
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(replies)} of {len(socks)} answered")
            for key, ev in sel.select(0.5):
                s = key.fileobj
                if ev & selectors.EVENT_WRITE:
                    try:
                        s.send(line)
                    except OSError:
                        replies[s] = "<closed>" + bufs[s].decode("utf-8", "replace")
                        sel.unregister(s)
                        continue
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if data:
                    bufs[s] += data
                if b"\n" in bufs[s] and not bufs[s].startswith(b"* "):
                    replies[s] = bufs[s].split(b"\n", 1)[0].decode()
                    sel.unregister(s)
                elif not data:
                    replies[s] = "<closed>" + bufs[s].decode("utf-8", "replace")
                    sel.unregister(s)
    finally:
        sel.close()
    return [replies[s] for s in socks]


def open_connections(port, n, batch=500):
    """n connections, each proven accepted by a PING; non-blocking sockets."""
    out = []
    for start in range(0, n, batch):
        socks = []
        for _ in range(min(batch, n - start)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            socks.append(s)
        replies = exchange(socks, b"PING\n", T(60))
        bad = [r for r in replies if r != "OK"]
        if bad:
            for s in out + socks:
                s.close()
            raise AssertionError(f"{len(bad)} of {len(socks)} new connections not served: {bad[:3]}")
        out += socks
    return out


class ManyConnectionsTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = MANY_CONNECTIONS + MANY_REFUSED + 200
        if hard != resource.RLIM_INFINITY and hard < need:
            raise unittest.SkipTest(f"RLIMIT_NOFILE hard limit {hard} < {need}: cannot open "
                                    f"{MANY_CONNECTIONS} connections here")
        cls.old_nofile = (soft, hard)
        # The daemon started below inherits the raised limit.
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
        cls.addClassCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, cls.old_nofile)
        cls.redis = H.start_redis()
        cls.addClassCleanup(cls.redis.stop)
        with cls.redis.client() as r:
            harness.put_customer(r, "C1", "One", tier="gold")
        cls.daemon = H.start_daemon(cls.redis.address, limits={
            "max_connections": MANY_CONNECTIONS, "max_unauthenticated": MANY_CONNECTIONS,
            "unauth_timeout": 3600, "max_auth_inflight": 64})
        cls.addClassCleanup(cls.daemon.stop)

    def test_ten_thousand_connections(self):
        n_authed = MANY_AUTHENTICATED_VALGRIND if harness.VALGRIND else MANY_AUTHENTICATED
        d = self.daemon
        sup = self.connect_auth("super1")
        # Password checks take Argon2id's 19 MiB per thread, which stays in
        # the RSS once used: use them before the baseline.
        warm = open_connections(d.port, 8)
        self.assertEqual(set(exchange(warm, b"AUTH agent1 agent1-secret\n", T(60))),
                         {'OK {"user":"agent1","role":"agent"}'})
        for s in warm:
            s.close()
        harness.wait_until(lambda: harness.stats(sup)["connections"]["current"] == 1, what="warm-up closed")
        time.sleep(0.2)
        rss0 = harness.vmrss_kb(d.pid)

        # Logged-in sessions, AUTHs pipelined in groups below max_auth_inflight.
        authed = open_connections(d.port, n_authed)
        for start in range(0, n_authed, 50):
            group = authed[start:start + 50]
            replies = exchange(group, b"AUTH agent1 agent1-secret\n", T(120))
            self.assertEqual([r for r in replies if not r.startswith('OK {"user":"agent1"')], [])
        time.sleep(0.2)
        rss1 = harness.vmrss_kb(d.pid)

        # The rest, up to the cap, never log in.
        n_unauth = MANY_CONNECTIONS - 1 - n_authed
        t0 = time.monotonic()
        idle = open_connections(d.port, n_unauth)
        open_s = time.monotonic() - t0
        time.sleep(0.2)
        rss2 = harness.vmrss_kb(d.pid)
        st = harness.stats(sup)["connections"]
        self.assertEqual(st["current"], MANY_CONNECTIONS)
        self.assertEqual(st["unauthenticated"], n_unauth)

        try:
            # Beyond the cap: the documented error, then the close.
            rejected0 = st["rejected"]
            extra = []
            for _ in range(MANY_REFUSED):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=T())
                extra.append(s)
            for s in extra:
                data, deadline = b"", time.monotonic() + T()
                while time.monotonic() < deadline:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                s.close()
                lines = data.decode().splitlines()
                self.assertEqual(len(lines), 1, lines)
                self.assertErr(lines[0], "rate_limited", r"too many connections")
            self.assertEqual(harness.stats(sup)["connections"]["rejected"], rejected0 + MANY_REFUSED)

            # Every open session is unaffected.
            self.assertEqual([r for r in exchange(idle, b"PING\n", T(120)) if r != "OK"], [])
            pops = exchange(authed, b'POP {"customer_id":"C1"}\n', T(120))
            self.assertEqual([r for r in pops if not r.startswith('OK {"match":"unique"')], [])
            self.assertEqual(harness.stats(sup)["connections"]["current"], MANY_CONNECTIONS)
        finally:
            for s in authed + idle:
                s.close()
        harness.wait_until(lambda: harness.stats(sup)["connections"]["current"] == 1, timeout=T(60),
                           what="all connections closed")

        per_auth = (rss1 - rss0) * 1024 / n_authed
        per_unauth = (rss2 - rss1) * 1024 / n_unauth
        print(f"\n  {MANY_CONNECTIONS} connections ({n_authed} logged in) opened, "
              f"{MANY_REFUSED} more refused with ERR rate_limited; daemon VmRSS {rss0 // 1024} -> "
              f"{rss1 // 1024} -> {rss2 // 1024} MB: {per_auth:.0f} bytes per logged-in connection, "
              f"{per_unauth:.0f} per idle unauthenticated one ({n_unauth} opened in {open_s:.1f} s)",
              file=sys.stderr)
        harness.figure("connections_open_at_once", MANY_CONNECTIONS, "count")
        harness.figure("connections_refused_over_cap", MANY_REFUSED, "count")
        harness.figure("rss_per_connection_unauthenticated", per_unauth, "bytes")
        harness.figure("rss_per_connection_authenticated", per_auth, "bytes")


if __name__ == "__main__":
    harness.main()
