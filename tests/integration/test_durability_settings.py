"""redis.durability and Redis's persistence settings: the daemon reads
appendonly, appendfsync and maxmemory-policy (CONFIG GET) when the link
comes up and on SIGHUP, logs them with a warning when acknowledged writes
may be lost, reports them in STATS redis.persistence, and with
redis.durability: strict refuses CALL/COMPLAINT writes until Redis is
durable.  The harness starts Redis with --appendonly no."""

import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

H = None
REFUSED = ("Redis is not configured to keep acknowledged writes "
           "(needs appendonly yes, appendfsync always, a noeviction policy)")


def setUpModule():
    global H
    H = harness.module_harness("durability-settings")


def offer(c, call_id):
    return c.request("CALL offer " + json.dumps({"call_id": call_id, "queue": "mobile"}))


class DurabilitySettingsTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.relaxed = H.start_daemon(cls.redis.address, name="relaxed")
        cls.addClassCleanup(cls.relaxed.stop)
        cls.daemon = H.start_daemon(cls.redis.address, name="strict", redis={"durability": "strict"})
        cls.addClassCleanup(cls.daemon.stop)

    def persistence(self, daemon):
        sup = self.connect_auth("super1", daemon=daemon)
        return harness.stats(sup)["redis"]["persistence"]

    def recheck(self, want):
        """SIGHUP the strict daemon; wait until STATS shows `want`."""
        self.daemon.send_signal(signal.SIGHUP)
        return harness.wait_until(lambda: (p := self.persistence(self.daemon)) == want and p,
                                  what=f"persistence {want}")

    def test_1_not_durable_logged_and_reported(self):
        for d in (self.relaxed, self.daemon):
            d.wait_log(r"info redis persistence: appendonly=no appendfsync=\S+ maxmemory-policy=noeviction$")
            d.wait_log(r"warn redis persistence: acknowledged writes may be lost .*appendonly is no")
            p = harness.wait_until(lambda d=d: (p := self.persistence(d))["appendonly"] != "unknown" and p,
                                   what="settings read")
            self.assertEqual(p["appendonly"], "no")
            self.assertEqual(p["maxmemory_policy"], "noeviction")
            self.assertIs(p["durable"], False)
        self.assertIsNotNone(self.daemon.find_log(r"redis\.durability is strict"))

    def test_2_relaxed_accepts(self):
        c = self.connect_auth("agent1", daemon=self.relaxed)
        self.assertEqual(harness.parse_ok_json(offer(c, f"rel-{os.getpid()}"))["state"], "offered")

    def test_3_strict_refuses(self):
        c = self.connect_auth("agent1")
        reply = offer(c, f"strict-{os.getpid()}")
        self.assertEqual(reply, "ERR unavailable " + REFUSED)
        # Reads still work.
        self.assertTrue(self.connect_auth("super1").request("STATS").startswith("OK"))

    def test_4_fixed_redis_accepted_after_sighup(self):
        with self.redis.client() as r:
            for k, v in (("appendonly", "yes"), ("appendfsync", "always"), ("maxmemory-policy", "noeviction")):
                r.command("CONFIG", "SET", k, v)
        mark = self.daemon.log_mark()
        self.recheck({"appendonly": "yes", "appendfsync": "always", "maxmemory_policy": "noeviction",
                      "durable": True})
        self.daemon.wait_log(r"redis persistence: appendonly=yes appendfsync=always maxmemory-policy=noeviction",
                             since=mark)
        c = self.connect_auth("agent1")
        self.assertEqual(harness.parse_ok_json(offer(c, f"fixed-{os.getpid()}"))["state"], "offered")

    def test_5_config_refused_is_unknown(self):
        # Taken from the Redis user the daemon logs in as (harness: the
        # ACL's hotlined, which is given CONFIG GET only).
        user = self.daemon.config["redis"].get("user") or "default"
        with self.redis.client() as r:
            r.command("ACL", "SETUSER", user, "-config")
        try:
            mark = self.daemon.log_mark()
            self.recheck({"appendonly": "unknown", "appendfsync": "unknown", "maxmemory_policy": "unknown",
                          "durable": False})
            self.daemon.wait_log(r"warn redis persistence: .*CONFIG GET refused", since=mark)
            c = self.connect_auth("agent1")
            self.assertEqual(offer(c, f"acl-{os.getpid()}"), "ERR unavailable " + REFUSED)
        finally:
            with self.redis.client() as r:
                r.command("ACL", "SETUSER", user, "+config" if user == "default" else "+config|get")
        self.recheck({"appendonly": "yes", "appendfsync": "always", "maxmemory_policy": "noeviction",
                      "durable": True})


if __name__ == "__main__":
    harness.main()
