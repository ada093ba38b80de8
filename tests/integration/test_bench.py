"""hotline bench: the load generator, run briefly (bounded --requests) against
a real hotlined in line-protocol mode and against the real Redis in --resp
mode.  Checked: the JSON report is consistent (requests counted = requests
sent, no errors, percentiles monotone), and what it counted is what the
servers saw (STATS, the log streams, the emulated streams' hash chains).
No timed assertions: the figures themselves are for BENCHMARKS.md."""

import json
import os
import re
import subprocess

import harness
from harness import T

SECRET = "bench-secret-for-tests"
N_CUSTOMERS = 120
N_BENCH_USERS = 4
PERCENTILES = ("min", "p50", "p90", "p99", "p99.9", "max")


def setUpModule():
    global H, REDIS, DAEMON, SECRET_FILE, BENCH_USERS
    H = harness.module_harness("bench")
    REDIS = H.start_redis()
    SECRET_FILE = H.path("bench.secret")
    with open(SECRET_FILE, "w", encoding="utf-8") as f:
        f.write(SECRET + "\n")
    os.chmod(SECRET_FILE, 0o600)
    # The accounts as `hotline bench --make-users` prints them, read back.
    r = subprocess.run([harness.HOTLINE, "bench", "--make-users", str(N_BENCH_USERS), "--secret-file", SECRET_FILE],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=T(60))
    if r.returncode != 0:
        raise AssertionError(f"--make-users failed: {r.stderr!r}")
    text = r.stdout.decode()
    names = re.findall(r'^  - name: "([^"]+)"$', text, re.M)
    roles = re.findall(r"^    role: (\w+)$", text, re.M)
    hashes = re.findall(r'^    secret: "(\$argon2id\$[^"]+)"$', text, re.M)
    if names != [f"bench{i:04d}" for i in range(1, N_BENCH_USERS + 1)] or roles != ["agent"] * N_BENCH_USERS \
            or len(hashes) != N_BENCH_USERS:
        raise AssertionError(f"unexpected --make-users output:\n{text}")
    BENCH_USERS = [{"name": n, "role": "agent", "secret": h} for n, h in zip(names, hashes)]
    users = harness.make_users() + BENCH_USERS
    DAEMON = H.daemon(harness.make_config(REDIS.address, users=users, phone={"default_country": "86"}))
    DAEMON.start()
    # Demo customers through the real generator and importer, so the
    # workload's ids (C000001..) exist.
    data = H.path("demo.jsonl")
    with open(data, "wb") as f:
        subprocess.run([harness.HOTLINE, "demo-data", str(N_CUSTOMERS)], stdout=f, check=True, timeout=T(60))
    subprocess.run([harness.HOTLINE, "import", "customers", data, "-c", DAEMON.config_path, "--quiet",
                    *harness.admin_login_args()],
                   check=True, timeout=T(120), stdout=subprocess.DEVNULL)


def bench(*args, expect_rc=0):
    """Run hotline bench with --json -; return the parsed report."""
    cmd = [harness.HOTLINE, "bench", "--json", "-", "--quiet", "--customers", str(N_CUSTOMERS), *args]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=T(120))
    if r.returncode != expect_rc:
        raise AssertionError(f"{' '.join(cmd)}: exit {r.returncode}, expected {expect_rc}\n"
                             f"stderr: {r.stderr.decode()}\nstdout: {r.stdout.decode()}")
    return json.loads(r.stdout)


def line_bench(*args, **kw):
    return bench("--to", f"127.0.0.1:{DAEMON.port}", "--secret-file", SECRET_FILE, *args, **kw)


def resp_bench(*args, **kw):
    return bench("--resp", "--to", REDIS.tcp_address, *args, **kw)


class BenchTest(harness.TestCase):
    daemon = None

    def setUp(self):
        self.daemon = DAEMON

    def assertLatency(self, lat, count):
        self.assertEqual(lat["count"], count, lat)
        values = [lat[k] for k in PERCENTILES]
        self.assertEqual(values, sorted(values), f"percentiles not monotone: {lat}")
        self.assertGreater(lat["min"], 0, lat)
        self.assertLessEqual(lat["min"], lat["mean"], lat)
        self.assertLessEqual(lat["mean"], lat["max"], lat)

    def assertConsistent(self, rep, requests, connections):
        """Every request sent was answered OK and counted once."""
        req = rep["requests"]
        self.assertEqual(req["sent"], requests, rep)
        self.assertEqual(req["completed"], requests, rep)
        self.assertEqual(req["ok"], requests, rep)
        self.assertEqual(req["errors"], 0, rep)
        self.assertEqual(req["unanswered"], 0, rep)
        self.assertEqual(rep["errors"], {}, rep)
        self.assertEqual(rep["connections_ready"], connections, rep)
        self.assertEqual(rep["connections_failed"], 0, rep)
        self.assertEqual(rep["connections_lost"], 0, rep)
        self.assertLatency(rep["latency_us"], requests)
        by_request = rep["latency_us_by_request"]
        self.assertEqual(sum(v["count"] for v in by_request.values()), requests, by_request)
        for lat in by_request.values():
            self.assertLatency(lat, lat["count"])
        self.assertGreater(rep["throughput_rps"], 0, rep)
        return by_request

    def verb_counts(self):
        sup = self.connect_auth("super1")
        return {verb: v["count"] for verb, v in harness.stats(sup)["requests"].items()}

    # -- line protocol

    def test_pop(self):
        before = self.verb_counts()
        rep = line_bench("--workload", "pop", "--connections", "4", "--pipeline", "3", "--requests", "300")
        self.assertEqual((rep["mode"], rep["workload"], rep["connections"], rep["pipeline"]), ("line", "pop", 4, 3))
        self.assertEqual(set(self.assertConsistent(rep, 300, 4)), {"POP"})
        self.assertNotIn("transactions", rep)
        # The daemon answered exactly that many POPs.
        self.assertEqual(self.verb_counts()["POP"] - before["POP"], 300)

    def test_call_requests_are_logged_once_each(self):
        r = REDIS.client()
        self.addCleanup(r.close)
        before = r.command("XLEN", "hotline:log:calls")
        rep = line_bench("--workload", "call", "--connections", "3", "--pipeline", "2", "--requests", "150")
        by_request = self.assertConsistent(rep, 150, 3)
        self.assertEqual(set(by_request), {"CALL offer", "CALL answer", "CALL end"})
        # Each flow runs offer, answer, end in order: offers lead, ends trail.
        self.assertGreaterEqual(by_request["CALL offer"]["count"], by_request["CALL answer"]["count"])
        self.assertGreaterEqual(by_request["CALL answer"]["count"], by_request["CALL end"]["count"])
        txn = rep["transactions"]
        self.assertEqual(txn["name"], "call")
        self.assertEqual(txn["completed"], by_request["CALL end"]["count"])
        self.assertEqual(txn["failed"], 0)
        self.assertLatency(rep["latency_us_per_transaction"], txn["completed"])
        self.assertGreaterEqual(rep["latency_us_per_transaction"]["p50"], rep["latency_us"]["p50"])
        # Every OK CALL is one entry in the call log, and the chain holds.
        self.assertEqual(r.command("XLEN", "hotline:log:calls") - before, 150)
        self.assertEqual(harness.chain_problems(harness.read_stream(r, "hotline:log:calls")), [])

    def test_complaint(self):
        rep = line_bench("--workload", "complaint", "--connections", "2", "--requests", "60")
        by_request = self.assertConsistent(rep, 60, 2)
        self.assertEqual(set(by_request), {"COMPLAINT open", "COMPLAINT ack", "COMPLAINT resolve"})
        self.assertEqual(rep["transactions"]["name"], "complaint")
        self.assertEqual(rep["transactions"]["completed"], by_request["COMPLAINT resolve"]["count"])

    def test_mixed(self):
        rep = line_bench("--workload", "mixed", "--connections", "3", "--pipeline", "2", "--requests", "200",
                         "--complaint-pct", "50", "--seed", "7")
        by_request = self.assertConsistent(rep, 200, 3)
        self.assertTrue({"POP", "CALL offer", "CALL answer", "CALL end", "COMPLAINT open"} >= set(by_request),
                        by_request)
        self.assertIn("COMPLAINT open", by_request)
        self.assertGreaterEqual(by_request["POP"]["count"], by_request["CALL end"]["count"])

    def test_ping_with_threads(self):
        """PING needs no login: the generator's own ceiling, over two loops."""
        rep = bench("--to", f"127.0.0.1:{DAEMON.port}", "--workload", "ping", "--connections", "4",
                    "--threads", "2", "--pipeline", "4", "--requests", "1001")
        self.assertEqual(rep["threads"], 2)
        self.assertConsistent(rep, 1001, 4)

    def test_idle_connections_stay_logged_in(self):
        rep = line_bench("--workload", "idle", "--connections", "3", "--duration", "0.3")
        self.assertEqual(rep["connections_ready"], 3)
        self.assertEqual(rep["requests"]["sent"], 0)

    def test_warmup_is_not_counted(self):
        rep = line_bench("--workload", "pop", "--connections", "2", "--warmup", "0.2", "--requests", "50")
        self.assertConsistent(rep, 50, 2)

    def test_wrong_secret_fails_every_connection(self):
        bad = H.path("wrong.secret")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("not-the-secret\n")
        os.chmod(bad, 0o600)
        r = subprocess.run([harness.HOTLINE, "bench", "--to", f"127.0.0.1:{DAEMON.port}", "--secret-file", bad,
                            "--connections", "2", "--requests", "10", "--json", "-", "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=T(60))
        self.assertEqual(r.returncode, 2, r.stderr)
        rep = json.loads(r.stdout)
        self.assertEqual((rep["connections_ready"], rep["connections_failed"]), (0, 2))
        self.assertIn(b"AUTH refused: ERR auth_failed", r.stderr)

    def test_usage_errors(self):
        for args in (["--connections", "0"], ["--connections", "10001"], ["--workload", "nope"],
                     ["--duration", "1", "--requests", "5"], ["--pipeline", "x"], ["--to", "h:1", "--port", "2"],
                     ["--workload", "pop"], ["--make-users", "5000", "--secret-file", SECRET_FILE]):
            with self.subTest(args=args):
                r = subprocess.run([harness.HOTLINE, "bench", *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=T(30))
                self.assertEqual(r.returncode, 64, (args, r.stderr))
        loose = H.path("loose.secret")
        with open(loose, "w", encoding="utf-8") as f:
            f.write(SECRET + "\n")
        os.chmod(loose, 0o644)
        r = subprocess.run([harness.HOTLINE, "bench", "--secret-file", loose, "--requests", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=T(30))
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn(b"chmod 600", r.stderr)

    # -- RESP

    def bench_streams(self, r, kind):
        keys = r.command("KEYS", f"hotline:bench:*:log:{kind}")
        return [k.decode() for k in keys]

    def test_resp_ping_and_pop(self):
        rep = resp_bench("--workload", "ping", "--connections", "3", "--pipeline", "8", "--requests", "500")
        self.assertEqual(rep["mode"], "resp")
        self.assertConsistent(rep, 500, 3)
        self.assertEqual(rep["redis_commands"], 500)
        rep = resp_bench("--workload", "pop", "--connections", "3", "--requests", "120")
        self.assertConsistent(rep, 120, 3)
        # POP by id: HGETALL record, LRANGE contacts, HGETALL open complaints.
        self.assertEqual(rep["redis_commands"], 3 * 120)

    def test_resp_call_appends_a_valid_chain(self):
        r = REDIS.client()
        self.addCleanup(r.close)
        old = set(self.bench_streams(r, "calls"))
        rep = resp_bench("--workload", "call", "--connections", "2", "--pipeline", "2", "--requests", "90")
        by_request = self.assertConsistent(rep, 90, 2)
        self.assertEqual(set(by_request), {"CALL offer", "CALL answer", "CALL end"})
        # Two round trips per event: read the state (an offer also reads the tier), then the append.
        offers = by_request["CALL offer"]["count"]
        self.assertEqual(rep["redis_commands"], 2 * 90 + offers)
        # Every append went through hotlined's own script: one entry each,
        # on each connection's own stream, with a hash chain that verifies.
        streams = [k for k in self.bench_streams(r, "calls") if k not in old]
        self.assertEqual(len(streams), 2, streams)
        self.assertEqual(sum(r.command("XLEN", k) for k in streams), 90)
        for k in streams:
            entries = harness.read_stream(r, k)
            self.assertEqual(harness.chain_problems(entries), [], k)
            self.assertEqual(json.loads(entries[0][1]["entry"])["event"], "offer")

    def test_resp_complaint_and_mixed(self):
        rep = resp_bench("--workload", "complaint", "--connections", "2", "--requests", "60")
        self.assertConsistent(rep, 60, 2)
        rep = resp_bench("--workload", "mixed", "--connections", "2", "--pipeline", "3", "--requests", "150",
                         "--complaint-pct", "50")
        self.assertConsistent(rep, 150, 2)

    def test_resp_pop_by_phone(self):
        r = REDIS.client()
        self.addCleanup(r.close)
        phones = [k.decode()[len("hotline:phone:"):] for k in r.command("KEYS", "hotline:phone:*")]
        unique = [p for p in phones if r.command("SCARD", "hotline:phone:" + p) == 1][:20]
        self.assertTrue(unique)
        path = H.path("phones.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(unique) + "\n")
        rep = resp_bench("--workload", "pop", "--phones", path, "--connections", "2", "--requests", "40")
        self.assertConsistent(rep, 40, 2)
        # SMEMBERS, then the three reads.
        self.assertEqual(rep["redis_commands"], 4 * 40)
        rep = line_bench("--workload", "pop", "--phones", path, "--connections", "2", "--requests", "40")
        self.assertConsistent(rep, 40, 2)


if __name__ == "__main__":
    harness.main()
