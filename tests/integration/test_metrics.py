"""The Prometheus endpoint (metrics.listen, proto/METRICS.md): GET /metrics
in the text exposition format, counters that follow the traffic sent
(requests and errors by verb and code, cumulative latency histograms whose
_count equals the requests, log appends, tails), the Redis links' state
following a kill -9, 404 for other paths, off by default, a bind failure
stopping the daemon, and `promtool check metrics` on the body (skipped when
promtool is not installed: `apt-get install prometheus`)."""

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
P = harness.KEY_PREFIX
METRICS_LOG_RE = r"metrics on (\S+):(\d+)"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PROMTOOL = shutil.which("promtool")


def setUpModule():
    global H
    H = harness.module_harness("metrics")


# --------------------------------------------------------------------------
# Helpers: fetching, and a strict parser for the text format


def metrics_port(daemon):
    line = daemon.wait_log(METRICS_LOG_RE)
    return int(re.search(METRICS_LOG_RE, line).group(2))


def http_get(port, path="/metrics", method="GET", data=None):
    """(status, headers, body text) of one request; 4xx/5xx are returned,
    not raised."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=T(5)) as resp:
            return resp.status, resp.headers, resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        try:
            return e.code, e.headers, e.read().decode("utf-8", "replace")
        finally:
            e.close()


SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        if not m:
            raise AssertionError(f"bad label set {{{text}}}")
        value = re.sub(r"\\(.)", lambda x: {"n": "\n"}.get(x.group(1), x.group(1)), m.group(2))
        if m.group(1) in labels:
            raise AssertionError(f"label {m.group(1)} repeated in {{{text}}}")
        labels[m.group(1)] = value
        pos = m.end()
    return labels


def parse_exposition(body):
    """{(name, frozenset(labels)): float}; AssertionError on anything not
    in the 0.0.4 text format as hotlined writes it (every sample under a
    HELP and TYPE of its family, no series twice)."""
    if not body.endswith("\n"):
        raise AssertionError("body does not end with a newline")
    samples, types, helps = {}, {}, set()
    for line in body.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if name in helps:
                raise AssertionError(f"HELP for {name} twice")
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            if name in types:
                raise AssertionError(f"TYPE for {name} twice")
            if kind not in ("counter", "gauge", "histogram"):
                raise AssertionError(f"unexpected type {line!r}")
            types[name] = kind
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError(f"bad sample line {line!r}")
        name, labels = m.group(1), parse_labels(m.group(2) or "")
        fam = name
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
                fam = name[: -len(suffix)]
        if fam not in types or fam not in helps:
            raise AssertionError(f"sample {line!r} before the HELP/TYPE of its family")
        if types[fam] == "counter" and not name.endswith("_total"):
            raise AssertionError(f"counter without _total: {line!r}")
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise AssertionError(f"series twice: {line!r}")
        value = float(m.group(3))
        if math.isnan(value):
            raise AssertionError(f"NaN in {line!r}")
        samples[key] = value
    return samples


class Scrape:
    """One parsed /metrics body."""

    def __init__(self, port):
        status, headers, self.body = http_get(port)
        if status != 200:
            raise AssertionError(f"GET /metrics -> {status}: {self.body[:300]!r}")
        self.headers = headers
        self.samples = parse_exposition(self.body)

    def get(self, name, **labels):
        key = (name, frozenset(labels.items()))
        if key not in self.samples:
            raise AssertionError(f"no series {name}{labels} in\n{self.body}")
        return self.samples[key]

    def series(self, name):
        """[(labels dict, value)] of every series called name."""
        return [(dict(k[1]), v) for k, v in self.samples.items() if k[0] == name]

    def histogram(self, name, **labels):
        """([(le, cumulative count)] in bucket order, sum, count)."""
        buckets = [(lab["le"], v) for lab, v in self.series(name + "_bucket")
                   if {k: x for k, x in lab.items() if k != "le"} == labels]
        buckets.sort(key=lambda b: math.inf if b[0] == "+Inf" else float(b[0]))
        return buckets, self.get(name + "_sum", **labels), self.get(name + "_count", **labels)


def listening_ports(pid):
    """TCP ports the process listens on (from /proc)."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]$", link)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def call_ok(c, event, **args):
    return harness.parse_ok_json(c.request(f"CALL {event} " + json.dumps(args)))


def redis_up(port, link):
    return Scrape(port).get("hotline_redis_up", link=link)


# --------------------------------------------------------------------------


class MetricsTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address, metrics={"listen": "127.0.0.1:0"})
        cls.addClassCleanup(cls.daemon.stop)
        cls.mport = metrics_port(cls.daemon)
        with cls.redis.client() as r:
            harness.put_customer(r, "C1", "Wang Fang", phones=["+8613800138000"], tier="gold", status="active")
        harness.wait_until(lambda: redis_up(cls.mport, "main") == 1 and redis_up(cls.mport, "tail") == 1,
                           what="both Redis links up in /metrics")

    def test_log_line_and_sockets(self):
        line = self.daemon.find_log(METRICS_LOG_RE)
        self.assertRegex(line, r"metrics on 127\.0\.0\.1:\d+$")
        self.assertNotEqual(self.mport, 0)
        self.assertEqual(listening_ports(self.daemon.pid), {self.daemon.port, self.mport})

    def test_content_type_and_basics(self):
        s = Scrape(self.mport)
        self.assertEqual(s.headers["Content-Type"], CONTENT_TYPE)
        self.assertEqual(s.get("hotline_up"), 1)
        versions = s.series("hotline_build_info")
        self.assertEqual(len(versions), 1, versions)
        self.assertRegex(versions[0][0]["version"], r"^\d+\.\d+\.\d+")
        self.assertEqual(versions[0][1], 1)
        self.assertGreater(s.get("hotline_uptime_seconds"), 0)
        self.assertEqual(s.get("hotline_redis_up", link="main"), 1)
        self.assertEqual(s.get("hotline_redis_up", link="tail"), 1)
        self.assertGreater(s.histogram("hotline_redis_roundtrip_seconds", link="main")[2], 0)
        for name in ("hotline_spool_pending_writes", "hotline_spool_bytes", "hotline_tail_backlog_bytes",
                     "hotline_connections_rejected_total", "hotline_tail_overflows_total"):
            self.assertEqual(s.get(name), 0, name)
        for link in ("main", "tail"):
            self.assertGreaterEqual(s.get("hotline_redis_pending_commands", link=link), 0)
            self.assertEqual(s.get("hotline_redis_reconnects_total", link=link), 0)
        # every verb and every error code is there from the start
        verbs = {lab["verb"] for lab, _ in s.series("hotline_requests_total")}
        self.assertTrue({"PING", "AUTH", "POP", "CALL", "STATS", "TAIL"} <= verbs, verbs)
        self.assertEqual(verbs, {lab["verb"] for lab, _ in s.series("hotline_request_errors_total")})
        codes = {lab["code"] for lab, _ in s.series("hotline_errors_total")}
        self.assertTrue({"bad_request", "unknown_command", "auth_failed", "internal"} <= codes, codes)

    def test_traffic_is_counted(self):
        before = Scrape(self.mport)
        sup = self.connect_auth("super1")
        harness.parse_ok_json(sup.request("TAIL calls"))
        harness.wait_until(lambda: Scrape(self.mport).get("hotline_tail_subscribers") == 1,
                           what="one tail subscriber")
        c = self.connect()
        for _ in range(3):
            self.assertOK(c.request("PING"))
        self.assertErr(c.request("PING extra"), "bad_request")
        self.assertErr(c.request("NOSUCHVERB"), "unknown_command")
        self.assertErr(c.request("AUTH agent1 wrong-secret"), "auth_failed")
        c.auth("agent1")
        self.assertEqual(harness.parse_ok_json(c.request('POP {"customer_id":"C1"}'))["match"], "unique")
        call_id = f"m-{os.getpid()}"
        call_ok(c, "offer", call_id=call_id, queue="mobile")
        call_ok(c, "answer", call_id=call_id)
        harness.wait_until(
            lambda: Scrape(self.mport).get("hotline_tail_pushed_total")
            >= before.get("hotline_tail_pushed_total") + 2, what="two entries pushed to the tail")
        after = Scrape(self.mport)

        def delta(name, **labels):
            return after.get(name, **labels) - before.get(name, **labels)

        self.assertEqual(delta("hotline_requests_total", verb="PING"), 4)
        self.assertEqual(delta("hotline_request_errors_total", verb="PING"), 1)
        self.assertEqual(delta("hotline_requests_total", verb="AUTH"), 3)  # super1, wrong, agent1
        self.assertEqual(delta("hotline_request_errors_total", verb="AUTH"), 1)
        self.assertEqual(delta("hotline_requests_total", verb="POP"), 1)
        self.assertEqual(delta("hotline_requests_total", verb="CALL"), 2)
        self.assertEqual(delta("hotline_request_errors_total", verb="CALL"), 0)
        self.assertEqual(delta("hotline_requests_total", verb="TAIL"), 1)
        self.assertEqual(delta("hotline_errors_total", code="bad_request"), 1)
        self.assertEqual(delta("hotline_errors_total", code="unknown_command"), 1)
        self.assertEqual(delta("hotline_errors_total", code="auth_failed"), 1)
        self.assertEqual(delta("hotline_log_entries_appended_total", stream="calls"), 2)
        self.assertEqual(delta("hotline_log_entries_appended_total", stream="complaints"), 0)
        self.assertEqual(delta("hotline_tail_pushed_total"), 2)
        self.assertEqual(delta("hotline_connections_total"), 2)
        self.assertGreaterEqual(after.get("hotline_connections"), 2)
        self.assertEqual(after.get("hotline_tail_subscribers"), 1)
        self.assertGreaterEqual(after.get("hotline_tail_backlog_bytes"), 0)
        self.assertGreater(delta("hotline_redis_roundtrip_seconds_count", link="main"), 0)

        # Histograms: cumulative, +Inf == _count == requests_total, per verb.
        for labels, requests in after.series("hotline_requests_total"):
            verb = labels["verb"]
            with self.subTest(verb=verb):
                buckets, total, count = after.histogram("hotline_request_duration_seconds", verb=verb)
                self.assertEqual(len(buckets), 17)
                self.assertEqual(buckets[-1][0], "+Inf")
                values = [v for _, v in buckets]
                self.assertEqual(values, sorted(values), buckets)
                self.assertEqual(values[-1], count)
                self.assertEqual(count, requests)
                self.assertGreaterEqual(total, 0)
                if count:
                    self.assertGreater(total, 0)
        ping = after.histogram("hotline_request_duration_seconds", verb="PING")
        self.assertGreaterEqual(ping[2], 4)
        for link in ("main", "tail"):
            buckets, _, count = after.histogram("hotline_redis_roundtrip_seconds", link=link)
            values = [v for _, v in buckets]
            self.assertEqual(values, sorted(values), buckets)
            self.assertEqual(values[-1], count)

        harness.parse_ok_json(sup.request("UNTAIL calls"))
        self.assertEqual(Scrape(self.mport).get("hotline_tail_subscribers"), 0)

    def test_other_paths_and_methods(self):
        for path in ("/", "/metric", "/metrics/", "/metrics/x", "/favicon.ico", "/METRICS"):
            with self.subTest(path=path):
                self.assertEqual(http_get(self.mport, path)[0], 404)
        self.assertEqual(http_get(self.mport, "/metrics?x=1")[0], 200)
        for method, data in (("POST", b"x"), ("DELETE", None), ("PUT", b"")):
            with self.subTest(method=method):
                status, headers, _ = http_get(self.mport, "/metrics", method=method, data=data)
                self.assertEqual(status, 405)
                self.assertEqual(headers["Allow"], "GET, HEAD")

    def test_head_has_no_body(self):
        """HEAD answers headers only: a request pipelined behind it on the
        same connection gets its own, intact answer."""
        with socket.create_connection(("127.0.0.1", self.mport), timeout=T(5)) as s:
            s.sendall(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        text = data.decode("utf-8", "replace")
        head, sep, rest = text.partition("\r\n\r\n")
        self.assertTrue(sep, text[:300])
        self.assertTrue(head.startswith("HTTP/1.1 200 "), head)
        self.assertIn("Content-Type: " + CONTENT_TYPE, head)
        self.assertTrue(rest.startswith("HTTP/1.1 404 "), rest[:300])

    def test_oversized_request_refused(self):
        with socket.create_connection(("127.0.0.1", self.mport), timeout=T(5)) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            data = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except (ConnectionResetError, socket.timeout):
                pass
        self.assertFalse(data.startswith(b"HTTP/1.1 200"), data[:200])
        # and the endpoint still serves
        self.assertEqual(http_get(self.mport)[0], 200)

    @unittest.skipUnless(PROMTOOL, "promtool not installed (Debian package 'prometheus')")
    def test_promtool_check_metrics(self):
        body = Scrape(self.mport).body
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=body.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=T(30))
        self.assertEqual(r.returncode, 0, r.stdout.decode() + "\n" + body)


class MetricsRedisDownTest(harness.TestCase):
    def setUp(self):
        self.redis = H.start_redis()
        self.addCleanup(self.redis.stop)
        self.daemon = H.start_daemon(self.redis.address, metrics={"listen": "127.0.0.1:0"})
        self.addCleanup(self.daemon.stop)
        self.mport = metrics_port(self.daemon)

    def test_redis_up_follows_the_link(self):
        harness.wait_until(lambda: redis_up(self.mport, "main") == 1 and redis_up(self.mport, "tail") == 1,
                           what="both links up")
        self.redis.kill9()
        harness.wait_until(lambda: redis_up(self.mport, "main") == 0, timeout=T(10),
                           what='hotline_redis_up{link="main"} == 0')
        harness.wait_until(lambda: redis_up(self.mport, "tail") == 0, timeout=T(10),
                           what='hotline_redis_up{link="tail"} == 0')
        self.redis.restart()
        harness.wait_until(lambda: redis_up(self.mport, "main") == 1 and redis_up(self.mport, "tail") == 1,
                           timeout=T(15), what="both links up again")
        s = Scrape(self.mport)
        self.assertGreaterEqual(s.get("hotline_redis_reconnects_total", link="main"), 1)
        self.assertGreaterEqual(s.get("hotline_redis_reconnects_total", link="tail"), 1)


class MetricsOffTest(harness.TestCase):
    def test_off_by_default(self):
        redis = H.start_redis()
        self.addCleanup(redis.stop)
        self.daemon = H.start_daemon(redis.address)
        self.addCleanup(self.daemon.stop)
        self.assertOK(self.connect().request("PING"))
        self.assertIsNone(self.daemon.find_log(r"metrics on"))
        self.assertEqual(listening_ports(self.daemon.pid), {self.daemon.port})

    def test_empty_listen_is_off(self):
        redis = H.start_redis()
        self.addCleanup(redis.stop)
        self.daemon = H.start_daemon(redis.address, metrics={"listen": ""})
        self.addCleanup(self.daemon.stop)
        self.assertOK(self.connect().request("PING"))
        self.assertIsNone(self.daemon.find_log(r"metrics on"))
        self.assertEqual(listening_ports(self.daemon.pid), {self.daemon.port})

    def test_bind_failure_stops_the_daemon(self):
        redis = H.start_redis()
        self.addCleanup(redis.stop)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            d = H.daemon(harness.make_config(redis.address, metrics={"listen": f"127.0.0.1:{port}"}),
                         name="metrics-busy")
            log_path = H.path("metrics-busy.log")
            with open(log_path, "wb") as logf:
                r = subprocess.run(harness.daemon_command("-c", d.config_path), stdin=subprocess.DEVNULL,
                                   stdout=logf, stderr=subprocess.STDOUT, cwd=H.tmp, timeout=T(30))
        log = harness.tail(log_path)
        self.assertNotEqual(r.returncode, 0, log)
        self.assertRegex(log, rf"cannot listen for metrics on 127\.0\.0\.1:{port}: ")
        self.assertNotRegex(log, r" info metrics on ")
        self.assertNotRegex(log, r"\[warn\]")  # libevent's own stderr lines


if __name__ == "__main__":
    harness.main()
