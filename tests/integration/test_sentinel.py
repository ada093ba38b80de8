"""hotlined with Redis Sentinel, on loopback: one master, one replica, three
Sentinels (down-after 1 s) and two hotlined instances configured with the
Sentinels instead of a Redis address.

- kill -9 the master while agents on both instances log calls and
  complaints, replication having stalled just before (so that some
  acknowledged writes are certainly lost): Sentinel promotes the replica,
  both daemons follow, logging
  resumes (spooled meanwhile), and what asynchronous replication lost is
  accounted for: every acknowledged write missing from the new master is
  named by its daemon ("lost by Redis") and in a lost record it appends,
  `hotline verify` reports nothing but seq gaps and lost records (Redis's
  count of entries ever added is the last seq less the gaps, so no
  entries_added), every gap sits where the failover happened, and the
  seqs in gaps plus those the lost records name are exactly the lost
  entries' seqs;
- a manual failover (SENTINEL FAILOVER) leaves the old master alive as a
  replica: the daemons leave it on +switch-master;
- a Sentinel naming a replica as the master: ROLE says so, the daemon stays
  down (spooling) until the Sentinels name a real master; with no Sentinel
  answering at all, it serves and spools;
- redis.wait: waited writes say how many replicas acknowledged them, and
  a master refusing writes (min-replicas-to-write) gets ERR unavailable.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
P = "hotline:"
MASTER_NAME = "mymaster"
# Replicas sync at once (Redis 7 delays a diskless sync by 5 s by default).
REPL = ["--repl-diskless-sync-delay", "0"]
LOST_RE = re.compile(r"log: lost by Redis: (calls|complaints) seq (\d+) id (\S+) \((.*)\), acknowledged")


def setUpModule():
    global H
    H = harness.module_harness("sentinel")


def info(redis, section="replication"):
    with redis.client() as c:
        text = c.command("INFO", section).decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def flat_dict(flat):
    return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}


class Topology:
    """A master, a replica and three Sentinels, all settled (the Sentinels
    know each other and the replica)."""

    def __init__(self, tag, sentinels=3, quorum=2):
        self.master = H.start_redis(f"{tag}-master", extra_args=REPL)
        self.replica = H.start_redis(f"{tag}-replica",
                                     extra_args=REPL + ["--replicaof", "127.0.0.1", str(self.master.port)])
        self.sentinels = [H.start_sentinel(self.master, name=f"{tag}-sentinel{i}", master_name=MASTER_NAME,
                                           quorum=quorum) for i in range(sentinels)]
        harness.wait_until(lambda: info(self.replica).get("master_link_status") == "up", timeout=T(20),
                           what="the replica in sync")
        for s in self.sentinels:
            harness.wait_until(lambda s=s: self.settled(s, sentinels), timeout=T(30),
                               what=f"{s.name} knowing the other Sentinels and the replica")

    @staticmethod
    def settled(s, n):
        with s.client() as c:
            try:
                quorum = c.command("SENTINEL", "ckquorum", MASTER_NAME)
            except harness.RedisError:
                return False
            replicas = [flat_dict(r) for r in c.command("SENTINEL", "replicas", MASTER_NAME)]
        return (quorum.startswith(f"OK {n} usable") and len(replicas) == 1 and
                replicas[0]["flags"] == "slave" and replicas[0]["master-link-status"] == "ok")

    def redis_config(self):
        """The daemon's redis section: the Sentinels instead of an address."""
        return {"address": None, "sentinels": [s.tcp_address for s in self.sentinels],
                "master_name": MASTER_NAME, "connect_timeout_ms": 500, "command_timeout_ms": 1000,
                "reconnect_min_ms": 50, "reconnect_max_ms": 500}

    def master_per_sentinels(self):
        """The master address every running Sentinel agrees on, or None."""
        seen = set()
        for s in self.sentinels:
            if s.running():
                a = s.master_address()
                seen.add(None if a is None else f"{a[0]}:{a[1]}")
        return seen.pop() if len(seen) == 1 else None


def start_daemon(topology, name, **overrides):
    d = H.daemon(harness.make_config(None, redis=topology.redis_config(), **overrides), name=name)
    d.start()
    return d


def redis_state(daemon):
    with daemon.auth_client("super1") as c:
        return harness.stats(c)["redis"]


def following(daemon, address):
    r = redis_state(daemon)
    return r["state"] == "up" and r["address"] == address


def metric(daemon, name):
    """The value of an unlabelled sample on the daemon's /metrics."""
    port = int(re.search(r"metrics on \S+:(\d+)", daemon.wait_log(r"metrics on \S+:\d+")).group(1))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=T(5)) as resp:
        text = resp.read().decode()
    return float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))


def lost_reports(daemon):
    return [dict(zip(("stream", "seq", "id", "what"), m.groups()))
            for m in LOST_RE.finditer(daemon.log_text())]


# --------------------------------------------------------------------------


class Agent(threading.Thread):
    """Logs a call offer and a complaint by turns at a steady rate until
    stopped, each with a request_id, retrying `ERR unavailable` with the same
    request_id (the client rule); records what was acknowledged."""

    def __init__(self, daemon, user, stop):
        super().__init__(daemon=True)
        self.d, self.user, self.stop_event = daemon, user, stop
        self.acked = []  # {"stream","rid","id","spooled","at"}
        self.errors = []

    def run(self):
        try:
            c = harness.Client(self.d.port, timeout=T(10))
            c.auth(self.user)
            for n in range(1, 5000):  # bounded; stopped long before
                if self.stop_event.is_set():
                    break
                rid = f"{self.d.name}-{self.user}-{n}"  # the same user logs in on both
                if n % 2:
                    stream = "calls"
                    line = "CALL offer " + json.dumps({"call_id": f"{rid}-c", "queue": "q", "request_id": rid})
                else:
                    stream = "complaints"
                    line = "COMPLAINT open " + json.dumps(
                        {"customer_id": "C1", "category": "billing", "severity": "high",
                         "summary": f"failover {rid}", "request_id": rid})
                for _ in range(400):  # up to 20 s of retries for one write
                    reply = c.request(line)
                    if reply.startswith("OK"):
                        body = harness.parse_ok_json(reply)
                        self.acked.append({"stream": stream, "rid": rid, "id": body.get("id"),
                                           "spooled": bool(body.get("spooled")), "at": time.time()})
                        break
                    if not reply.startswith("ERR unavailable "):
                        self.errors.append(reply)
                        break
                    time.sleep(0.05)
                else:
                    self.errors.append(f"{rid}: unavailable for 20 s")
                # A steady 20 writes/s per agent: the spool, replayed one
                # write at a time, must be able to catch up after the outage.
                time.sleep(0.05 * harness.SCALE)
            c.close()
        except Exception as e:  # surfaced by the test
            self.errors.append(repr(e))


class TailReader(threading.Thread):
    """Reads a supervisor's TAIL (both streams) until stopped."""

    def __init__(self, daemon, stop):
        super().__init__(daemon=True)
        self.c = daemon.auth_client("super1")
        self.stop_event = stop
        self.pushes = {"calls": [], "complaints": []}
        self.errors = []
        self.start_ids = {s: harness.parse_ok_json(self.c.request(f"TAIL {s}"))["from"]
                          for s in ("calls", "complaints")}

    def run(self):
        try:
            while not self.stop_event.is_set() or self.c.pending(0.3):
                try:
                    line = self.c.read_line(timeout=0.3)
                except AssertionError:
                    continue  # nothing within 0.3 s
                m = harness.PUSH_RE.match(line)
                if m and m.group(1) in self.pushes:
                    self.pushes[m.group(1)].append(json.loads(m.group(2)))
                elif m:
                    self.errors.append(line)
        except Exception as e:  # surfaced by the test
            self.errors.append(repr(e))
        finally:
            self.c.close()


class FailoverTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology("kill")
        with cls.topo.master.client() as r:
            harness.put_customer(r, "C1", "Failover Customer", tier="gold")
        cls.a = start_daemon(cls.topo, "sentinel-a")
        cls.b = start_daemon(cls.topo, "sentinel-b")
        cls.addClassCleanup(cls.a.stop)
        cls.addClassCleanup(cls.b.stop)
        for d in (cls.a, cls.b):
            harness.wait_until(lambda d=d: following(d, cls.topo.master.tcp_address), what=f"{d.name} up")

    def log_daemons(self):
        return [self.a, self.b]

    def test_kill9_master_daemons_follow_and_losses_are_accounted_for(self):
        old, new = self.topo.master, self.topo.replica
        stop_agents, stop_tail = threading.Event(), threading.Event()
        tail = TailReader(self.a, stop_tail)
        agents = [Agent(d, u, stop_agents) for d, u in ((self.a, "agent1"), (self.a, "agent2"),
                                                       (self.b, "agent1"), (self.b, "agent2"))]
        for t in [tail, *agents]:
            t.start()
        harness.wait_until(lambda: all(len(a.acked) >= 10 for a in agents), what="agents logging")
        marks = {d.name: d.log_mark() for d in (self.a, self.b)}

        # Replication stalls just before the master dies (the replica is
        # cut off and, told a wrong masterauth, cannot resync), so what the
        # master acknowledges meanwhile is certainly lost in the failover:
        # asynchronous replication's window, made wide enough to see.
        with new.client() as c:
            c.command("CONFIG", "SET", "masterauth", "not-the-password")
        with old.client() as c:
            c.command("CLIENT", "KILL", "TYPE", "replica")
        harness.wait_until(lambda: info(new).get("master_link_status") == "down", what="replication stalled")
        stalled = sum(len(a.acked) for a in agents)
        harness.wait_until(lambda: sum(len(a.acked) for a in agents) >= stalled + 8, what="writes while stalled")
        t_kill = time.time()
        old.kill9()
        harness.wait_until(lambda: self.topo.master_per_sentinels() == new.tcp_address, timeout=T(60),
                           what="the Sentinels promoting the replica")
        for d in (self.a, self.b):
            harness.wait_until(lambda d=d: following(d, new.tcp_address), timeout=T(30),
                               what=f"{d.name} following the new master")
            d.wait_log(r"redis link up: main connected to " + re.escape(new.tcp_address), since=marks[d.name])
            d.wait_log(r"redis link up: tail connected to " + re.escape(new.tcp_address), since=marks[d.name])
        t_followed = time.time()
        # Logging resumes on both, straight into the new master.
        harness.wait_until(lambda: all(sum(1 for x in a.acked if x["at"] > t_followed and not x["spooled"]) >= 5
                                       for a in agents), timeout=T(30), what="logging resumed")
        stop_agents.set()
        for a in agents:
            a.join(T(60))
            self.assertFalse(a.is_alive(), "agent did not stop")
            self.assertEqual(a.errors, [])
        for d in (self.a, self.b):
            with d.auth_client("super1") as c:
                harness.wait_until(lambda c=c: harness.stats(c)["spool"]["pending"] == 0, timeout=T(30),
                                   what=f"{d.name}'s spool drained")

        with new.client() as r:
            streams = {s: harness.read_stream(r, P + "log:" + s) for s in ("calls", "complaints")}
        logged = {s: {json.loads(f["entry"]).get("request_id") for _, f in entries}
                  for s, entries in streams.items()}
        acked = [(a.d.name, x) for a in agents for x in a.acked]
        missing = [(name, x) for name, x in acked if x["rid"] not in logged[x["stream"]]]
        self.assertGreater(len(missing), 0, "the writes made while replication stalled are lost")

        # 1. Every acknowledged write the new master lacks was named by the
        #    daemon that acknowledged it, and nothing else was.
        reports = {d.name: lost_reports(d) for d in (self.a, self.b)}
        for d in (self.a, self.b):
            with d.auth_client("super1") as c:
                log = harness.stats(c)["log"]
            self.assertEqual(log["calls_lost"] + log["complaints_lost"], len(reports[d.name]))
        reported = sorted((name, r["stream"], r["id"]) for name, rs in reports.items() for r in rs)
        self.assertEqual(sorted((name, x["stream"], x["id"]) for name, x in missing), reported,
                         "the acknowledged entries missing from the new master, exactly")
        for name, x in missing:
            self.assertFalse(x["spooled"], "a spooled write is replayed, never lost")
            self.assertTrue(any(f"request_id {x['rid']}" in r["what"] and r["id"] == x["id"]
                                for r in reports[name]), x)

        # 2. hotline verify (through the Sentinels, logged in as the daemon's
        #    ACL user) finds nothing but gaps and lost records: no
        #    entries_added either, since the lost entries were never added
        #    to the new master (checked against Redis itself in 3).
        rc, findings = harness.hotline_verify(self.a)
        self.assertEqual([f for f in findings if f["problem"] not in ("gap", "lost")], [])
        for s, entries in streams.items():
            self.assertEqual({kind for _, kind in harness.chain_problems(entries)} - {"gap"}, set(), s)

        # 3. Each gap lies where the failover happened; every lost entry is
        #    named by a lost record of the daemon that acknowledged it; and
        #    the seqs in gaps plus the seqs the records name are exactly the
        #    seqs of the lost entries: the audit reports exactly what was
        #    lost, also where another daemon, which did not know of an
        #    entry, already numbered past it (re-used its seq).
        gaps = {s: set() for s in streams}
        for s, entries in streams.items():
            seqs = [int(f["seq"]) for _, f in entries]
            for i in range(1, len(entries)):
                if seqs[i] > seqs[i - 1] + 1:
                    before = harness.epoch(json.loads(entries[i - 1][1]["entry"])["ts"])
                    after = harness.epoch(json.loads(entries[i][1]["entry"])["ts"])
                    self.assertLessEqual(before, t_kill + 1, f"{s}: a gap before the failover")
                    self.assertGreaterEqual(after, int(t_kill), f"{s}: a gap after the failover")
                    gaps[s].update(range(seqs[i - 1] + 1, seqs[i]))
        # Redis's count of entries ever added is the last seq less exactly
        # the seqs the daemons skipped (hotline verify accepts that much).
        with new.client() as r:
            for s, entries in streams.items():
                xinfo = r.command("XINFO", "STREAM", P + "log:" + s)
                added = int(dict(zip(xinfo[::2], xinfo[1::2]))[b"entries-added"])
                self.assertEqual(added, int(entries[-1][1]["seq"]) - len(gaps[s]), s)
        by_id = {(name, r["stream"], r["id"]): int(r["seq"]) for name, rs in reports.items() for r in rs}
        lost_seqs = {(x["stream"], by_id[(name, x["stream"], x["id"])]) for name, x in missing}
        named = sorted((f["stream"], f["missing"][0], f.get("request_id")) for f in findings
                       if f["problem"] == "lost")
        self.assertEqual(named, sorted((x["stream"], by_id[(name, x["stream"], x["id"])], x["rid"])
                                       for name, x in missing), "one lost finding per lost entry")
        in_gaps = sum(1 for s, seq in lost_seqs if seq in gaps[s])
        reused = len(lost_seqs) - in_gaps
        self.assertEqual({(s, n) for s in gaps for n in gaps[s]} | lost_seqs, lost_seqs,
                         "every seq missing in a gap was a lost entry's")
        if missing or any(gaps.values()):
            self.assertEqual(rc, 1)
        self.assertEqual(rc, 1 if findings else 0)

        # 4. The tail on A lived through it: every entry of the new master,
        #    once and in order; anything else it pushed was lost with the old
        #    master (written before the kill).
        stop_tail.set()
        tail.join(T(30))
        self.assertEqual(tail.errors, [])
        for s, entries in streams.items():
            start = tail.start_ids[s]
            want = [sid for sid, _ in entries if harness_id(sid) > harness_id(start)]
            pushed = [p["id"] for p in tail.pushes[s]]
            self.assertEqual([i for i in pushed if i in set(want)], want, f"tail of {s}")
            for p in tail.pushes[s]:
                if p["id"] not in set(want):
                    self.assertLessEqual(harness.epoch(p["ts"]), t_kill + 1, f"{s}: pushed {p['id']}")

        followed = t_followed - t_kill
        print(f"\n  {len(acked)} writes acknowledged ({sum(x['spooled'] for _, x in acked)} spooled), "
              f"{len(missing)} lost by the failover, all named by lost records ({in_gaps} in seq gaps, "
              f"{reused} seq reused by the other daemon), gaps {sum(len(g) for g in gaps.values())}; both daemons on the new master "
              f"{followed:.1f} s after the kill", file=sys.stderr)


def harness_id(sid):
    ms, _, n = sid.partition("-")
    return (int(ms), int(n or 0))


class ManualFailoverTest(harness.TestCase):
    """SENTINEL FAILOVER: the old master stays up, demoted to a replica.
    Nothing breaks the daemons' connections; +switch-master moves them."""

    @classmethod
    def setUpClass(cls):
        cls.topo = Topology("manual")
        cls.daemon = start_daemon(cls.topo, "manual", metrics={"listen": "127.0.0.1:0"})
        cls.addClassCleanup(cls.daemon.stop)
        harness.wait_until(lambda: following(cls.daemon, cls.topo.master.tcp_address), what="daemon up")

    def test_daemon_leaves_the_demoted_master(self):
        old, new = self.topo.master, self.topo.replica
        agent = self.connect_auth("agent1")
        self.assertIn('"state":"offered"', agent.request('CALL offer {"call_id":"m1","queue":"q"}'))
        mark = self.daemon.log_mark()
        with self.topo.sentinels[0].client() as c:
            self.assertEqual(c.command("SENTINEL", "FAILOVER", MASTER_NAME), "OK")
        harness.wait_until(lambda: following(self.daemon, new.tcp_address), timeout=T(60),
                           what="the daemon on the new master")
        self.daemon.wait_log(r"switch-master 'mymaster' from " + re.escape(old.tcp_address) + " to " +
                             re.escape(new.tcp_address), since=mark)
        self.daemon.wait_log(r"redis tail: leaving|redis link up: tail connected to " + re.escape(new.tcp_address),
                             since=mark)
        harness.wait_until(lambda: info(old).get("role") == "slave", timeout=T(30), what="old master demoted")
        # Writes go to the new master; the call offered before is there.
        self.assertIn('"state":"answered"', agent.request('CALL answer {"call_id":"m1"}'))
        with new.client() as r:
            self.assertEqual(r.command("HGET", P + "call:m1", "state"), b"answered")
        sup = self.connect_auth("super1")
        sen = harness.stats(sup)["redis"]["sentinel"]
        self.assertEqual(sen["master"], new.tcp_address)
        self.assertGreaterEqual(sen["switches"], 1)
        self.assertEqual(metric(self.daemon, "hotline_redis_master_switches_total"), sen["switches"])
        self.assertIn(sen["watching"], [s.tcp_address for s in self.topo.sentinels])


class MisconfiguredSentinelTest(harness.TestCase):
    """One Sentinel told to monitor the replica as if it were the master:
    the daemon connects, ROLE says slave, and it stays down (spooling) until
    the Sentinel names the real master."""

    def test_role_check_refuses_a_replica(self):
        master = H.start_redis("mis-master", extra_args=REPL)
        replica = H.start_redis("mis-replica", extra_args=REPL + ["--replicaof", "127.0.0.1", str(master.port)])
        harness.wait_until(lambda: info(replica).get("master_link_status") == "up", what="replica in sync")
        sentinel = H.start_sentinel(replica, name="mis-sentinel", master_name=MASTER_NAME, quorum=1)
        self.daemon = H.daemon(harness.make_config(None, redis={
            "address": None, "sentinels": [sentinel.tcp_address], "master_name": MASTER_NAME,
            "connect_timeout_ms": 500, "command_timeout_ms": 1000, "reconnect_min_ms": 50,
            "reconnect_max_ms": 300}), name="misconfigured")
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        self.daemon.wait_log(r"redis main: " + re.escape(replica.tcp_address) +
                             r" is not the master \(ROLE: slave\); asking the Sentinels again")
        agent = self.connect_auth("agent1")
        spooled = harness.parse_ok_json(agent.request('CALL offer {"call_id":"s1","queue":"q"}'))
        self.assertIs(spooled.get("spooled"), True, "no master: the write waits in the spool")
        self.assertNotEqual(redis_state(self.daemon)["state"], "up")
        with replica.client() as r:
            self.assertEqual(r.command("XLEN", P + "log:calls"), 0)
        # Point the Sentinel at the real master: the daemon finds it.
        with sentinel.client() as c:
            c.command("SENTINEL", "REMOVE", MASTER_NAME)
            c.command("SENTINEL", "MONITOR", MASTER_NAME, "127.0.0.1", str(master.port), "1")
        harness.wait_until(lambda: following(self.daemon, master.tcp_address), what="the daemon on the master")
        self.daemon.wait_log(r"spool drained")
        with master.client() as r:
            self.assertEqual([e["call_id"] for e in harness.stream_entries(r, P + "log:calls")], ["s1"])


@unittest.skipUnless(harness.REDIS_ACL, "runs the daemon as the ACL user hotlined")
class AclThroughSentinelTest(harness.TestCase):
    """The master the Sentinels name is logged in to as redis.user (the
    Sentinel itself without a password), and ROLE needs the ACL's +role:
    refused, the daemon stays down and says why; allowed, it comes up."""

    def test_master_login_and_role_under_the_acl(self):
        master = H.start_redis("acl-master", extra_args=REPL)
        sentinel = H.start_sentinel(master, name="acl-sentinel", master_name=MASTER_NAME, quorum=1)
        with master.client() as c:
            c.command("ACL", "SETUSER", "hotlined", "-role")
        self.daemon = H.daemon(harness.make_config(None, redis={
            "address": None, "sentinels": [sentinel.tcp_address], "master_name": MASTER_NAME,
            "connect_timeout_ms": 500, "command_timeout_ms": 1000, "reconnect_min_ms": 50,
            "reconnect_max_ms": 300}), name="aclrole")
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        self.daemon.wait_log(r"redis main: " + re.escape(master.tcp_address) +
                             r" refused ROLE to hotlined: NOPERM")
        self.assertNotEqual(redis_state(self.daemon)["state"], "up")
        with master.client() as c:
            c.command("ACL", "SETUSER", "hotlined", "+role")
        harness.wait_until(lambda: following(self.daemon, master.tcp_address), what="the daemon on the master")
        with master.client() as c:
            clients = c.command("CLIENT", "LIST").decode().splitlines()
        ours = [line for line in clients if " name=hotlined:" in line]
        self.assertEqual(len(ours), 1, clients)
        self.assertIn(" user=hotlined ", ours[0])
        agent = self.connect_auth("agent1")
        harness.parse_ok_json(agent.request('CALL offer {"call_id":"a1","queue":"q"}'))

        def logged():
            with master.client() as r:
                return [e["call_id"] for e in harness.stream_entries(r, P + "log:calls")] == ["a1"]
        harness.wait_until(logged, what="the call in the master's log (written as hotlined)")


class NoSentinelTest(harness.TestCase):
    """No Sentinel answers: the daemon serves anyway, spooling writes, and
    says why it has no master."""

    def test_daemon_starts_and_spools_without_sentinels(self):
        closed = [harness.free_port() for _ in range(2)]
        self.daemon = H.daemon(harness.make_config(None, redis={
            "address": None, "sentinels": [f"127.0.0.1:{p}" for p in closed], "master_name": MASTER_NAME,
            "connect_timeout_ms": 500, "command_timeout_ms": 1000, "reconnect_min_ms": 50,
            "reconnect_max_ms": 300}), name="nosentinel")
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        self.daemon.wait_log(rf"redis main: no Sentinel named master 'mymaster': Sentinel 127\.0\.0\.1:{closed[1]}: "
                             r"cannot connect")
        agent = self.connect_auth("agent1")
        body = harness.parse_ok_json(agent.request('CALL offer {"call_id":"n1","queue":"q"}'))
        self.assertIs(body.get("spooled"), True)
        state = redis_state(self.daemon)
        self.assertNotEqual(state["state"], "up")
        self.assertEqual(state["address"], "master 'mymaster' (Sentinel)")
        self.assertEqual(state["sentinel"], {"master_name": MASTER_NAME, "master": "", "watching": "",
                                             "switches": 0})


class SentinelLoginTest(harness.TestCase):
    """Sentinels with requirepass: redis.sentinel_password_file logs the
    daemon in to them (the question for the master and the +switch-master
    watch); a wrong password is a refused login, logged, and the daemon
    stays without a master (spooling) rather than running blind."""

    PASSWORD = "sentinel-secret-1"

    def password_file(self, name, text):
        path = H.path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        return path

    def daemon_for(self, sentinel, name, password_file):
        d = H.daemon(harness.make_config(None, redis={
            "address": None, "sentinels": [sentinel.tcp_address], "master_name": MASTER_NAME,
            "sentinel_password_file": password_file, "connect_timeout_ms": 500, "command_timeout_ms": 1000,
            "reconnect_min_ms": 50, "reconnect_max_ms": 300}), name=name)
        d.start()
        self.addCleanup(d.stop)
        return d

    def test_daemon_logs_in_to_the_sentinels(self):
        master = H.start_redis("login-master", extra_args=REPL)
        sentinel = H.start_sentinel(master, name="login-sentinel", master_name=MASTER_NAME, quorum=1,
                                    password=self.PASSWORD)
        with harness.RespClient(port=sentinel.port) as bare:  # the Sentinel does want a password
            with self.assertRaisesRegex(harness.RedisError, "NOAUTH"):
                bare.command("SENTINEL", "get-master-addr-by-name", MASTER_NAME)

        good = self.daemon_for(sentinel, "login-good", self.password_file("sentinel.pass", self.PASSWORD))
        harness.wait_until(lambda: following(good, master.tcp_address), what="the daemon on the master")
        good.wait_log(r"watching Sentinel " + re.escape(sentinel.tcp_address) + " for \\+switch-master")
        agent = good.auth_client("agent1")
        self.assertIn('"state":"offered"', agent.request('CALL offer {"call_id":"login1","queue":"q"}'))
        agent.close()
        self.assertNotIn(self.PASSWORD, good.log_text())

        bad = self.daemon_for(sentinel, "login-bad", self.password_file("wrong.pass", "not-the-password"))
        bad.wait_log(r"Sentinel " + re.escape(sentinel.tcp_address) + r": login refused: WRONGPASS")
        bad.wait_log(r"Sentinel " + re.escape(sentinel.tcp_address) + r" refused the login: WRONGPASS")
        state = redis_state(bad)
        self.assertNotEqual(state["state"], "up")
        self.assertEqual(state["sentinel"]["master"], "")
        self.assertNotIn("not-the-password", bad.log_text())


class WaitTest(harness.TestCase):
    """redis.wait: complaints wait for a replica; calls do not."""

    @classmethod
    def setUpClass(cls):
        cls.master = H.start_redis("wait-master", extra_args=REPL)
        cls.replica = H.start_redis("wait-replica", extra_args=REPL + ["--replicaof", "127.0.0.1",
                                                                        str(cls.master.port)])
        harness.wait_until(lambda: "state=online" in info(cls.master).get("slave0", ""), what="replica online")
        with cls.master.client() as r:
            harness.put_customer(r, "C1", "Wait Customer", tier="gold")
        # A generous timeout: a slow run must not make a healthy replica look absent.
        cls.daemon = H.start_daemon(cls.master.address, name="wait",
                                    redis={"wait": {"replicas": 1, "timeout_ms": 1000, "streams": ["complaints"]}})
        cls.addClassCleanup(cls.daemon.stop)

    def open(self, c, n):
        return harness.parse_ok_json(c.request("COMPLAINT open " + json.dumps(
            {"customer_id": "C1", "category": "billing", "severity": "low", "summary": f"wait {n}",
             "request_id": f"w-{n}"})))

    def test_waited_writes_say_how_many_replicas_have_them(self):
        agent = self.connect_auth("agent1")
        sup = self.connect_auth("super1")
        body = self.open(agent, 1)
        self.assertEqual(body["replicas"], 1)
        with self.replica.client() as r:
            self.assertEqual(r.command("XLEN", P + "log:complaints"), 1, "acknowledged: the replica has it")
        call = harness.parse_ok_json(agent.request('CALL offer {"call_id":"w1","queue":"q"}'))
        self.assertNotIn("replicas", call, "calls are not waited for")
        # A retry answered from the log is not waited for again.
        self.assertNotIn("replicas", self.open(agent, 1))
        # Writes at once: never more WAITs than writes (those completing together share one).
        before = harness.stats(sup)["redis"]["wait"]["waits"]
        conns = [self.connect_auth(u) for u in ("agent1", "agent2", "super1")]
        for i, c in enumerate(conns):
            c.send_line("COMPLAINT open " + json.dumps({"customer_id": "C1", "category": "billing",
                                                        "severity": "low", "summary": f"burst {i}"}))
        for c in conns:
            self.assertEqual(harness.parse_ok_json(c.read_reply())["replicas"], 1)
        waits = harness.stats(sup)["redis"]["wait"]
        self.assertLessEqual(waits["waits"] - before, 3)
        self.assertEqual(waits["short"], 0)

        mark = self.daemon.log_mark()
        self.replica.kill9()
        body = self.open(agent, 2)
        self.assertEqual(body["replicas"], 0, "answered anyway after timeout_ms")
        self.daemon.wait_log(r"WAIT: 0 of 1 replicas acknowledged within 1000 ms", since=mark)
        self.assertGreaterEqual(harness.stats(sup)["redis"]["wait"]["short"], 1)
        with self.master.client() as r:
            self.assertEqual(len(harness.stream_entries(r, P + "log:complaints", request_id="w-2")), 1)
        # min-replicas-to-write: Redis refuses, nothing is written, retry later.
        with self.master.client() as r:
            r.command("CONFIG", "SET", "min-replicas-to-write", "1")
        try:
            self.assertErr(agent.request("COMPLAINT open " + json.dumps(
                {"customer_id": "C1", "category": "billing", "severity": "low", "summary": "refused",
                 "request_id": "w-3"})), "unavailable")
            self.daemon.wait_log(r"Redis refused an append to complaints: NOREPLICAS", since=mark)
        finally:
            with self.master.client() as r:
                r.command("CONFIG", "SET", "min-replicas-to-write", "0")
        self.assertEqual(self.open(agent, 3)["replicas"], 0)
        with self.master.client() as r:
            self.assertEqual(len(harness.stream_entries(r, P + "log:complaints", request_id="w-3")), 1)
            self.assertEqual(harness.chain_problems(harness.read_stream(r, P + "log:complaints")), [])
        self.replica.restart()
        harness.wait_until(lambda: self.open(agent, f"again-{time.monotonic()}")["replicas"] == 1, timeout=T(20),
                           what="replica acknowledging again")
        self.daemon.wait_log(r"WAIT: 1 replicas acknowledge again", since=mark)


if __name__ == "__main__":
    unittest.main(verbosity=2)
