"""The daemon's link to Redis: up/down/reconnect, clients kept throughout."""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None


def setUpModule():
    global H
    H = harness.module_harness("redis_link")


def redis_state(client):
    return harness.stats(client)["redis"]["state"]


def wait_state(test, client, want, what=None):
    """Poll STATS (bounded) until redis.state == want; return last STATS."""
    seen = []

    def check():
        s = harness.stats(client)
        seen.append(s["redis"]["state"])
        return s if s["redis"]["state"] == want else None

    try:
        return harness.wait_until(check, interval=0.1, what=what or f"redis.state == {want!r}")
    except AssertionError as e:
        raise AssertionError(f"{e}; states seen: {sorted(set(seen))}") from None


class RedisOutageTest(harness.TestCase):
    def setUp(self):
        self.redis = H.start_redis()
        self.addCleanup(self.redis.stop)
        self.daemon = H.start_daemon(self.redis.address)
        self.addCleanup(self.daemon.stop)

    def test_stats_shows_up(self):
        sup = self.connect_auth("super1")
        s = wait_state(self, sup, "up")
        self.assertEqual(s["redis"]["address"], self.redis.tcp_address)
        self.assertIsNotNone(self.daemon.find_log(r"redis link up"))

    def test_daemon_talks_to_redis(self):
        """The daemon's connection is visible from Redis' side."""
        sup = self.connect_auth("super1")
        wait_state(self, sup, "up")
        with self.redis.client() as r:
            clients = r.command("CLIENT", "LIST").decode()
        self.assertGreaterEqual(len(clients.strip().splitlines()), 2, clients)

    def test_kill9_and_restart(self):
        d, r = self.daemon, self.redis
        sup = self.connect_auth("super1")
        agent = self.connect_auth("agent1")
        unauth = self.connect()
        wait_state(self, sup, "up")

        mark = d.log_mark()
        r.kill9()
        d.wait_log(r"redis link down", since=mark)
        wait_state(self, sup, "down", "redis.state == 'down' after kill -9")
        # still serving, nobody dropped
        self.assertOK(agent.request("PING"))
        self.assertOK(unauth.request("PING"))
        harness.parse_ok_json(unauth.request("HELP"))
        s = harness.stats(sup)
        self.assertNotEqual(s["redis"]["state"], "up")
        self.assertEqual(s["redis"]["address"], r.tcp_address)
        self.assertGreaterEqual(s["connections"]["current"], 3)
        fresh = self.connect()
        self.assertOK(fresh.request("PING"))
        fresh.auth("agent2")
        # a while of outage (several reconnect attempts) changes nothing
        time.sleep(1.5)
        self.assertOK(agent.request("PING"))
        self.assertNotEqual(redis_state(sup), "up")

        mark = d.log_mark()
        r.restart()
        d.wait_log(r"redis link up", since=mark, timeout=T(15))
        wait_state(self, sup, "up")
        for c in (agent, unauth, fresh):
            self.assertOK(c.request("PING"))
            self.assertEqual(c.pushes, [], "no pushed lines (no bye) during the outage")
        self.assertErr(agent.request("STATS"), "forbidden")
        self.assertErr(unauth.request("STATS"), "auth_required")

    def test_two_outages(self):
        d, r = self.daemon, self.redis
        sup = self.connect_auth("admin1")
        wait_state(self, sup, "up")
        for round_ in range(2):
            mark = d.log_mark()
            r.kill9()
            d.wait_log(r"redis link down", since=mark)
            self.assertOK(sup.request("PING"))
            mark = d.log_mark()
            r.restart()
            d.wait_log(r"redis link up", since=mark, timeout=T(15))
            wait_state(self, sup, "up")

    def test_graceful_redis_shutdown(self):
        d, r = self.daemon, self.redis
        sup = self.connect_auth("super1")
        wait_state(self, sup, "up")
        mark = d.log_mark()
        r.stop()  # SIGTERM: redis closes its connections cleanly
        d.wait_log(r"redis link down", since=mark)
        self.assertNotEqual(redis_state(sup), "up")
        mark = d.log_mark()
        r.restart()
        d.wait_log(r"redis link up", since=mark, timeout=T(15))
        wait_state(self, sup, "up")

    def test_redis_kills_daemon_connection(self):
        """CLIENT KILL from Redis' side: the daemon notices and reconnects."""
        d, r = self.daemon, self.redis
        sup = self.connect_auth("super1")
        wait_state(self, sup, "up")
        mark = d.log_mark()
        with r.client() as rc:
            rc.command("CLIENT", "KILL", "SKIPME", "yes")
        d.wait_log(r"redis link down", since=mark)
        d.wait_log(r"redis link up", since=mark, timeout=T(15))
        wait_state(self, sup, "up")
        self.assertOK(sup.request("PING"))


    def test_sigterm_while_redis_down(self):
        d, r = self.daemon, self.redis
        sup = self.connect_auth("super1")
        wait_state(self, sup, "up")
        mark = d.log_mark()
        r.kill9()
        d.wait_log(r"redis link down", since=mark)
        d.send_signal(signal.SIGTERM)
        lines = sup.read_until_closed(T())
        self.assertBye(lines[-1], "shutdown")
        self.assertEqual(d.wait_exit(T(20)), 0)
        d.wait_log(r"shutdown complete", since=mark, timeout=T(2))


class StartWithoutRedisTest(harness.TestCase):
    def test_daemon_starts_while_redis_down(self):
        port = harness.free_port()
        redis = H.redis("late", port=port)
        self.addCleanup(redis.stop)
        self.daemon = H.start_daemon(redis.tcp_address, name="late")
        self.addCleanup(self.daemon.stop)
        d = self.daemon

        c = self.connect()
        self.assertOK(c.request("PING"))
        harness.parse_ok_json(c.request("HELP"))
        sup = self.connect_auth("super1")
        s = harness.stats(sup)
        self.assertIn(s["redis"]["state"], ("down", "connecting"))
        self.assertEqual(s["redis"]["address"], f"127.0.0.1:{port}")
        time.sleep(0.5)
        self.assertOK(c.request("PING"))

        mark = d.log_mark()
        redis.start_on_port(port)
        d.wait_log(r"redis link up", since=mark, timeout=T(15))
        wait_state(self, sup, "up")
        self.assertOK(c.request("PING"))
        self.assertEqual(c.pushes + sup.pushes, [])


class UnixSocketRedisTest(harness.TestCase):
    def test_unix_socket_address(self):
        redis = H.start_redis("unixredis", unix_socket=True)
        self.addCleanup(redis.stop)
        self.daemon = H.start_daemon(redis.address, name="unixd")
        self.addCleanup(self.daemon.stop)
        sup = self.connect_auth("super1")
        s = wait_state(self, sup, "up")
        self.assertIn(redis.unix_path, s["redis"]["address"])
        mark = self.daemon.log_mark()
        redis.kill9()
        self.daemon.wait_log(r"redis link down", since=mark)
        self.assertOK(sup.request("PING"))
        mark = self.daemon.log_mark()
        redis.restart()
        self.daemon.wait_log(r"redis link up", since=mark, timeout=T(15))
        wait_state(self, sup, "up")


if __name__ == "__main__":
    harness.main()
