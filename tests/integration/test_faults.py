"""Faults: hotlined crashing under load, Redis unreachable without a reset.
Each test prints its measurements as FIGURE lines.

1. kill -9 hotlined DAEMON_KILLS times while LOAD_AGENTS agents log calls
   at a steady pace, restarting it each time: every write that got OK is
   in the log exactly once, in each agent's order; a write retried with
   its request_id after a reconnect is never logged twice.
2. Redis unreachable without a reset: a proxy (BlackholeProxy) between
   hotlined and Redis stops forwarding both ways for BLACKHOLE_S, keeping
   its sockets open.  PING from other clients is answered before the
   command timeout; every write gets a definite answer (OK, OK spooled or
   ERR) within ANSWER_BOUND_S; once the proxy heals, the spool drains and
   nothing acknowledged is lost.
(A supervisor that never reads is test_slow_reader.py, 10,000 connections
at once test_many_connections.py.)
"""

import os
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import load  # noqa: E402
from harness import T  # noqa: E402

H = None
P = harness.KEY_PREFIX
AOF = ("--appendonly", "yes", "--appendfsync", "always")

DAEMON_KILLS = 5           # kill -9 hotlined this many times under load
LOAD_AGENTS = 20           # agents logging calls meanwhile
LOAD_INTERVAL_S = 0.05     # each agent's pause between writes
RUN_BETWEEN_KILLS_S = 1.0  # the daemon runs this long before each kill

COMMAND_TIMEOUT_MS = 1000  # redis.command_timeout_ms behind the blackhole
BLACKHOLE_S = 3.0          # how long the proxy drops everything
# A write's answer may take the command timeout, the link's liveness check
# (run every timeout/4, so a hang is seen within 1.25 x the timeout) and
# this much slack for the machine.
ANSWER_SLACK_S = 1.0
ANSWER_BOUND_S = COMMAND_TIMEOUT_MS / 1000 * 1.25 + ANSWER_SLACK_S


def setUpModule():
    global H
    H = harness.module_harness("faults")


def load_users(n):
    """n agents ag01..agNN sharing one secret (one Argon2id hash), plus the
    default users."""
    h = harness.passwd_hash("load-secret")
    return harness.make_users() + [{"name": f"ag{i:02d}", "role": "agent", "secret": h} for i in range(1, n + 1)]


def log_entries(redis, stream="calls"):
    with redis.client() as r:
        return harness.stream_entries(r, P + "log:" + stream)


def chain_ok(test, redis, stream="calls"):
    with redis.client() as r:
        test.assertEqual(harness.chain_problems(harness.read_stream(r, P + "log:" + stream)), [])


def wait_spool_drained(daemon, what="spool drained"):
    with daemon.auth_client("super1") as sup:
        harness.wait_until(lambda: harness.stats(sup)["redis"]["state"] == "up"
                           and harness.stats(sup)["spool"]["pending"] == 0, timeout=T(60), what=what)


# --------------------------------------------------------------------------


class DaemonCrashTest(harness.TestCase):
    def test_kill9_hotlined_five_times_under_load(self):
        redis = H.start_redis(extra_args=AOF)
        self.addCleanup(redis.stop)
        port = harness.free_port()
        self.daemon = H.start_daemon(redis.address, users=load_users(LOAD_AGENTS), listen=[f"127.0.0.1:{port}"],
                                     redis={"reconnect_min_ms": 50, "reconnect_max_ms": 200})
        self.addCleanup(self.daemon.stop)
        stop = threading.Event()
        agents = [load.LoadAgent(lambda: port, f"ag{i:02d}", stop, secret="load-secret",
                                 interval=LOAD_INTERVAL_S) for i in range(1, LOAD_AGENTS + 1)]
        for a in agents:
            a.start()
        acked_at_kill = []
        for _ in range(DAEMON_KILLS):
            time.sleep(T(RUN_BETWEEN_KILLS_S))
            acked_at_kill.append(sum(len(a.acked) for a in agents))
            self.daemon.kill9()
            self.daemon.start()  # same config, port and spool file
        time.sleep(T(RUN_BETWEEN_KILLS_S))
        stop.set()
        load.run_agents(agents)
        self.assertEqual([a.error for a in agents], [None] * LOAD_AGENTS)
        wait_spool_drained(self.daemon)

        entries = log_entries(redis)
        load.check_logged_once_in_order(self, entries, agents)
        chain_ok(self, redis)
        t = load.totals(agents)
        logged = {e.get("request_id") for e in entries}
        lost = sum(rid not in logged for a in agents for rid in a.acked)
        self.assertEqual(set(t["errors"]) - {"unavailable"}, set(), t["errors"])
        # the kills did cut the agents off, and writes went on between them
        self.assertGreater(t["closed"], 0)
        self.assertEqual(acked_at_kill, sorted(set(acked_at_kill)))
        print(f"\n  {DAEMON_KILLS} x kill -9 of hotlined under {LOAD_AGENTS} agents: {t['acked']} writes "
              f"acknowledged, all logged once and in order; {t['closed']} answers lost to a kill, "
              f"{t['retries']} retries ({t['duplicates']} answered as duplicates), {t['spooled']} spooled, "
              f"errors {t['errors']}", file=sys.stderr)
        harness.figure("daemon_kills", DAEMON_KILLS, "count")
        harness.figure("daemon_kill_writes_acked", t["acked"], "count")
        harness.figure("daemon_kill_retries", t["retries"], "count")
        harness.figure("daemon_kill_duplicates_caught", t["duplicates"], "count")
        harness.figure("daemon_kill_entries_lost", lost, "count")


# --------------------------------------------------------------------------


class BlackholeProxy:
    """A TCP proxy (one thread) from a local port to Redis.  blackhole()
    stops it forwarding anything, either way, and accepting: every socket
    stays open and nothing is reset, as when the network drops packets.
    heal() forwards again, including whatever was held meanwhile (a late
    delivery, as TCP retransmission would make)."""

    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.wake_r, self.wake_w = socket.socketpair()
        self.sel = selectors.DefaultSelector()
        self.peer = {}            # socket -> the other end of its pair
        self.eof = set()          # sockets whose sender has finished
        self.forwarding = True
        self.stopped = False
        self.lock = threading.Lock()
        self.accepted = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.sel.register(self.wake_r, selectors.EVENT_READ)
        self.sel.register(self.lsock, selectors.EVENT_READ)
        self.thread.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def _set(self, forwarding=None, stopped=None):
        with self.lock:
            if forwarding is not None:
                self.forwarding = forwarding
            if stopped is not None:
                self.stopped = stopped
        self.wake_w.send(b"x")

    def blackhole(self):
        self._set(forwarding=False)

    def heal(self):
        self._set(forwarding=True)

    def close(self):
        self._set(stopped=True)
        self.thread.join(T())
        for s in list(self.peer) + [self.lsock, self.wake_r, self.wake_w]:
            s.close()

    def _watch(self, on):
        """(Un)register the listener and every socket with data to move."""
        for s in [self.lsock] + [x for x in self.peer if x not in self.eof]:
            registered = self._registered(s)
            if on and not registered:
                self.sel.register(s, selectors.EVENT_READ)
            elif not on and registered:
                self.sel.unregister(s)

    def _registered(self, s):
        try:
            self.sel.get_key(s)
            return True
        except KeyError:
            return False

    def _close_pair(self, s):
        other = self.peer.pop(s, None)
        for x in (s, other):
            if x is None:
                continue
            self.peer.pop(x, None)
            self.eof.discard(x)
            if self._registered(x):
                self.sel.unregister(x)
            x.close()

    def _accept(self):
        try:
            down, _ = self.lsock.accept()
        except BlockingIOError:
            return
        try:
            up = socket.create_connection(self.upstream, timeout=T(5))
        except OSError:
            down.close()
            return
        self.accepted += 1
        self.peer[down], self.peer[up] = up, down
        for s in (down, up):
            s.setblocking(True)
            self.sel.register(s, selectors.EVENT_READ)

    def _pump(self, s):
        other = self.peer.get(s)
        if other is None:
            return
        try:
            data = s.recv(65536)
            if data:
                other.sendall(data)
                return
            other.shutdown(socket.SHUT_WR)
        except OSError:
            self._close_pair(s)
            return
        # EOF: this direction is done; the pair goes when both are.
        self.sel.unregister(s)
        self.eof.add(s)
        if other in self.eof:
            self._close_pair(s)

    def run(self):
        self.lsock.setblocking(False)
        watching = True
        while True:
            with self.lock:
                stopped, forwarding = self.stopped, self.forwarding
            if stopped:
                return
            if forwarding != watching:
                self._watch(forwarding)
                watching = forwarding
            for key, _ in self.sel.select(0.1):
                s = key.fileobj
                if s is self.wake_r:
                    self.wake_r.recv(64)
                elif s is self.lsock:
                    self._accept()
                elif watching:
                    self._pump(s)


class Pinger(threading.Thread):
    """Another client: PING after PING, each answer awaited at most
    `bound` seconds."""

    def __init__(self, daemon, stop, bound):
        super().__init__(daemon=True)
        self.d, self.stop, self.bound = daemon, stop, bound
        self.answered, self.slowest, self.error = 0, 0.0, None

    def run(self):
        try:
            with self.d.auth_client("super1") as c:
                for _ in range(100000):
                    if self.stop.is_set():
                        return
                    t0 = time.monotonic()
                    reply = c.request("PING", self.bound)
                    if reply != "OK":
                        raise AssertionError(reply)
                    self.slowest = max(self.slowest, time.monotonic() - t0)
                    self.answered += 1
                    time.sleep(0.02)
        except Exception as e:  # noqa: BLE001
            self.error = f"{type(e).__name__}: {e}"


class BlackholeTest(harness.TestCase):
    def test_redis_unreachable_without_reset(self):
        redis = H.start_redis(extra_args=AOF)
        self.addCleanup(redis.stop)
        proxy = BlackholeProxy(redis.port)
        self.addCleanup(proxy.close)
        self.daemon = H.start_daemon(proxy.address, users=load_users(5), redis={
            "command_timeout_ms": COMMAND_TIMEOUT_MS, "connect_timeout_ms": COMMAND_TIMEOUT_MS,
            "reconnect_min_ms": 50, "reconnect_max_ms": 200})
        self.addCleanup(self.daemon.stop)
        wait_spool_drained(self.daemon, "redis link up")
        stop, ping_stop = threading.Event(), threading.Event()
        agents = [load.LoadAgent(lambda: self.daemon.port, f"ag{i:02d}", stop, secret="load-secret",
                                 interval=LOAD_INTERVAL_S, reply_timeout=T(ANSWER_BOUND_S))
                  for i in range(1, 6)]
        pinger = Pinger(self.daemon, ping_stop, T(COMMAND_TIMEOUT_MS / 1000))
        pinger.start()
        for a in agents:
            a.start()
        time.sleep(1.0)
        mark = self.daemon.log_mark()
        acked_before = sum(len(a.acked) for a in agents)
        proxy.blackhole()
        time.sleep(T(BLACKHOLE_S))  # longer under valgrind: its slower reconnects must see an outage too
        self.daemon.wait_log(r"no reply from .* dropping the link", since=mark)
        acked_during = sum(len(a.acked) for a in agents) - acked_before
        proxy.heal()
        time.sleep(1.0)
        stop.set()
        load.run_agents(agents)
        ping_stop.set()
        pinger.join(T())
        self.assertFalse(pinger.is_alive())

        self.assertIsNone(pinger.error, "a PING was not answered before the command timeout")
        self.assertEqual([a.error for a in agents], [None] * len(agents))
        t = load.totals(agents)
        self.assertEqual(t["unanswered"], 0, f"writes without an answer within {ANSWER_BOUND_S} s")
        self.assertEqual(t["closed"], 0, "the daemon must not drop its clients")
        self.assertEqual(set(t["errors"]) - {"unavailable"}, set(), t["errors"])
        self.assertGreater(t["spooled"], 0, "writes during the blackhole should have been spooled")
        self.assertGreater(acked_during, 0, "writes go on being acknowledged during the blackhole")
        wait_spool_drained(self.daemon)
        load.check_logged_once_in_order(self, log_entries(redis), agents)
        chain_ok(self, redis)
        slowest = max(max(a.answer_s) for a in agents)
        print(f"\n  Redis blackholed for {T(BLACKHOLE_S)} s (command timeout {COMMAND_TIMEOUT_MS} ms): "
              f"{pinger.answered} PINGs answered, slowest {pinger.slowest * 1000:.1f} ms; {t['acked']} writes "
              f"acknowledged ({t['spooled']} spooled, {t['errors']} errors first), slowest answer "
              f"{slowest:.2f} s (bound {T(ANSWER_BOUND_S)} s); all logged once and in order after healing",
              file=sys.stderr)
        harness.figure("blackhole_ping_slowest", pinger.slowest * 1000, "ms")
        harness.figure("blackhole_write_answer_slowest", slowest * 1000, "ms")
        harness.figure("blackhole_writes_spooled", t["spooled"], "count")
        harness.figure("blackhole_writes_acked", t["acked"], "count")


if __name__ == "__main__":
    harness.main()
