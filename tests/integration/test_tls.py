"""The TLS listener (tls.listen) and `hotline tail --tls`.

A throwaway CA and server certificates for 127.0.0.1 / localhost
(subjectAltName) are made with the openssl CLI in the test's temporary
directory, plus a second, unrelated CA.  Each daemon has a plaintext and a
TLS listener.  Covered: AUTH, PING and POP over TLS (Python's ssl module and
`openssl s_client`); TLS 1.1 refused, 1.2 accepted; plaintext sent to the
TLS port closed without an answer while the daemon and other clients go on;
pipelined requests larger than the read buffer (data that OpenSSL has
decrypted but not yet handed over must not stall); the handshake deadline;
max_connections counting TLS connections; `hotline tail --tls` with the
right CA (entries arrive) and a wrong one (exit 2 at once); SIGHUP with a
new certificate (new connections get it, an open one goes on) and with a
broken key (the previous certificate stays); a bad certificate or key at
start (exit 1).

Every wait is bounded; everything listens on loopback only."""

import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

H = None
OPENSSL = shutil.which("openssl")
PKI = {}  # name -> path
SUPER = {"HOTLINE_USER": "super1", "HOTLINE_SECRET": "super1-secret"}
TLS_LISTEN_RE = r"listening on (\S+):(\d+) \(tls\)"
SERIAL_1, SERIAL_2 = 0x1001, 0x1002


# --------------------------------------------------------------------------
# Certificates


def openssl(*args, cwd):
    r = subprocess.run([OPENSSL, *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=harness.T(60))
    if r.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {r.stderr.decode(errors='replace')}")


def make_ca(d, name, cn):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "3", "-subj", f"/CN={cn}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return os.path.join(d, f"{name}.pem")


def make_server_cert(d, name, ca, serial, san="DNS:localhost,IP:127.0.0.1"):
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=localhost", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-set_serial", str(serial), "-days", "2", "-extfile", "server.ext", "-out", f"{name}.pem", cwd=d)
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


def make_pki():
    d = H.path("pki")
    os.makedirs(d)
    PKI["ca"] = make_ca(d, "ca", "hotline test CA")
    PKI["other_ca"] = make_ca(d, "other-ca", "some other CA")
    PKI["cert1"], PKI["key1"] = make_server_cert(d, "server1", "ca", SERIAL_1)
    PKI["cert2"], PKI["key2"] = make_server_cert(d, "server2", "ca", SERIAL_2)
    PKI["cert3"], PKI["key3"] = make_server_cert(d, "server3", "ca", 0x1003, san="DNS:elsewhere.example")


def copy_cert(name, which):
    """The daemon's own cert/key files (replaced by reload tests)."""
    cert, key = H.path(f"{name}-cert.pem"), H.path(f"{name}-key.pem")
    install_cert(cert, key, which)
    return cert, key


def install_cert(cert, key, which):
    shutil.copyfile(PKI[f"cert{which}"], cert)
    shutil.copyfile(PKI[f"key{which}"], key)
    os.chmod(key, 0o600)


def setUpModule():
    global H
    if OPENSSL is None:
        raise unittest.SkipTest("no openssl command to make test certificates")
    H = harness.module_harness("tls")
    make_pki()


# --------------------------------------------------------------------------
# Helpers


def start_tls_daemon(name, redis, which=1, **overrides):
    cert, key = copy_cert(name, which)
    d = H.start_daemon(redis.address, name=name,
                       tls={"listen": "127.0.0.1:0", "certificate": cert, "key": key}, **overrides)
    line = d.wait_log(TLS_LISTEN_RE)
    d.tls_port = int(line.rsplit(":", 1)[1].split()[0])
    d.cert, d.key = cert, key
    return d


def client_context(ca=None, **versions):
    ctx = ssl.create_default_context(cafile=PKI["ca"] if ca is None else ca)
    for k, v in versions.items():
        setattr(ctx, k, v)
    return ctx


class TLSClient(harness.Client):
    """harness.Client over TLS (no MSG_PEEK: pending()/is_open() do not apply)."""

    def __init__(self, port, context=None, server_hostname="localhost", timeout=None):
        self.timeout = harness.T() if timeout is None else timeout
        raw = socket.create_connection(("127.0.0.1", port), timeout=self.timeout)
        try:
            self.sock = (context or client_context()).wrap_socket(raw, server_hostname=server_hostname)
        except BaseException:
            raw.close()
            raise
        self.sock.settimeout(self.timeout)
        self.buf = b""
        self.closed_by_peer = False
        self.lines, self.replies, self.pushes = [], [], []

    def serial(self):
        return int(self.sock.getpeercert()["serialNumber"], 16)


def cli_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("HOTLINE_USER", "HOTLINE_SECRET", "NO_COLOR")}
    env.update(extra)
    return env


def run_tail(*args, env=None, timeout=None):
    r = subprocess.run([harness.HOTLINE, "tail", *args], env=cli_env(**SUPER) if env is None else env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       cwd=H.tmp, timeout=harness.T(30) if timeout is None else timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


class TailProc:
    """`hotline tail ARGS` in the background; stdout lines in a queue."""

    def __init__(self, args):
        self.err = []
        self.out = queue.Queue()
        self.proc = subprocess.Popen([harness.HOTLINE, "tail", *args], env=cli_env(**SUPER),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=H.tmp, start_new_session=True)
        harness._register_proc(self.proc)
        self.threads = [threading.Thread(target=self._pump_out, daemon=True),
                        threading.Thread(target=self._pump_err, daemon=True)]
        for th in self.threads:
            th.start()

    def _pump_out(self):
        for raw in self.proc.stdout:
            self.out.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.out.put(None)

    def _pump_err(self):
        for raw in self.proc.stderr:
            self.err.append(raw.decode("utf-8", "replace"))

    def line(self):
        try:
            got = self.out.get(timeout=harness.T())
        except queue.Empty:
            raise AssertionError(f"no output from hotline tail in time; stderr:\n{''.join(self.err)}") from None
        if got is None:
            raise AssertionError(f"hotline tail exited ({self.proc.poll()}); stderr:\n{''.join(self.err)}")
        return got

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=harness.T())
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(timeout=harness.T())
        harness._forget_proc(self.proc)
        for th in self.threads:
            th.join(timeout=harness.T(5))
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc


class TLSTestBase(harness.TestCase):
    def tls_connect(self, daemon=None, **kw):
        c = TLSClient((daemon or self.daemon).tls_port, **kw)
        self.addCleanup(c.close)
        return c


# --------------------------------------------------------------------------
# One daemon with both listeners


class TLSListenerTest(TLSTestBase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = start_tls_daemon("main", cls.redis)
        cls.addClassCleanup(cls.daemon.stop)
        with cls.redis.client() as r:
            r.command("HSET", "hotline:customer:C1", "id", "C1", "name", "Wang Fang", "tier", "gold",
                      "status", "active")

    def test_log_names_both_listeners(self):
        lines = [x for x in self.daemon.log_text().splitlines() if "listening on" in x]
        self.assertEqual(len(lines), 2, lines)
        self.assertNotIn("(tls)", lines[0])
        self.assertIn("(tls)", lines[1])
        self.assertIsNotNone(self.daemon.find_log(r"TLS certificate .*serial 1001"))

    def test_auth_ping_pop_over_tls(self):
        c = self.tls_connect()
        self.assertIn(c.sock.version(), ("TLSv1.2", "TLSv1.3"))
        self.assertEqual(c.serial(), SERIAL_1)
        self.assertOK(c.request("PING"))
        c.auth("agent1")
        body = c.request_json('POP {"customer_id":"C1"}')
        self.assertEqual(body["match"], "unique")
        self.assertEqual(body["customer"]["name"], "Wang Fang")
        # The certificate also names 127.0.0.1.
        c2 = self.tls_connect(server_hostname="127.0.0.1")
        self.assertOK(c2.request("PING"))

    def test_quit_closes_cleanly(self):
        c = self.tls_connect()
        self.assertOK(c.request("PING"))
        lines = [c.request("QUIT")]
        lines += c.read_until_closed()
        self.assertEqual(lines[0], "OK")

    def test_openssl_s_client(self):
        r = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{self.daemon.tls_port}",
                            "-CAfile", PKI["ca"], "-verify_return_error", "-quiet"],
                           input=b"PING\nQUIT\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=harness.T(20))
        out = r.stdout.decode("utf-8", "replace").splitlines()
        self.assertEqual(out[:2], ["OK", "OK"], r.stderr.decode("utf-8", "replace"))

    def test_s_client_with_the_wrong_ca_fails(self):
        r = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{self.daemon.tls_port}",
                            "-CAfile", PKI["other_ca"], "-verify_return_error", "-quiet"],
                           input=b"PING\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=harness.T(20))
        self.assertNotIn("OK", r.stdout.decode("utf-8", "replace").splitlines())
        self.assertNotEqual(r.returncode, 0)

    def test_tls_1_1_refused_1_2_accepted(self):
        mark = self.daemon.log_mark()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx = client_context(minimum_version=ssl.TLSVersion.TLSv1,
                                 maximum_version=ssl.TLSVersion.TLSv1_1)
        try:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the local OpenSSL offer TLS 1.1 at all
        except ssl.SSLError:
            self.skipTest("the local OpenSSL cannot offer TLS 1.1")
        try:
            c = TLSClient(self.daemon.tls_port, context=ctx)
        except ssl.SSLError as e:
            if "NO_PROTOCOLS_AVAILABLE" in str(e) or "no protocols available" in str(e):
                self.skipTest(f"the local OpenSSL cannot offer TLS 1.1: {e}")
        except (ConnectionError, OSError):
            pass  # refused: what we want
        else:
            c.close()
            self.fail(f"a TLS 1.1 handshake succeeded ({c.sock.version()})")
        self.daemon.wait_log(r"closed: TLS handshake failed: .*(unsupported protocol|version)", since=mark)
        c = self.tls_connect(context=client_context(maximum_version=ssl.TLSVersion.TLSv1_2))
        self.assertEqual(c.sock.version(), "TLSv1.2")
        self.assertOK(c.request("PING"))

    def test_plaintext_to_the_tls_port(self):
        bystander = self.tls_connect()
        bystander.auth("agent2")
        mark = self.daemon.log_mark()
        with harness.Client(self.daemon.tls_port) as c:
            c.send_line("PING")
            got = c.read_until_closed()
        self.assertNotIn("OK", got)
        self.daemon.wait_log(r"closed: TLS handshake failed: ", since=mark)
        self.assertTrue(self.daemon.running())
        self.assertOK(bystander.request("PING"))
        self.assertOK(self.tls_connect().request("PING"))
        with self.daemon.client() as plain:
            self.assertOK(plain.request("PING"))
            plain.auth("super1")
            # Counted where an admin looks: STATS (and /metrics).
            self.assertGreaterEqual(harness.stats(plain)["connections"]["tls_handshake_failures"], 1)

    def test_silence_then_close_during_the_handshake(self):
        mark = self.daemon.log_mark()
        s = socket.create_connection(("127.0.0.1", self.daemon.tls_port), timeout=harness.T())
        s.close()
        self.daemon.wait_log(r"closed: TLS handshake failed: ", since=mark)
        self.assertOK(self.tls_connect().request("PING"))

    def test_plaintext_listener_unchanged(self):
        with self.daemon.client() as c:
            self.assertOK(c.request("PING"))
            c.auth("super1")
            self.assertIn("connections", harness.stats(c))

    def test_pipelined_burst(self):
        """More requests in one TLS record than the input buffer holds."""
        c = self.tls_connect()
        n = 3000
        c.send(b"PING\n" * n)
        for i in range(n):
            self.assertEqual(c.read_reply(), "OK", f"reply {i}")

    def test_tail_over_tls(self):
        t = TailProc(["calls", "--json", "--tls", "--ca", PKI["ca"],
                      "--host", f"127.0.0.1:{self.daemon.tls_port}"])
        self.addCleanup(t.stop)
        sup = self.connect_auth("super1")
        harness.wait_until(lambda: harness.stats(sup)["tails"]["subscribers"] >= 1, what="the tail")
        agent = self.tls_connect()
        agent.auth("agent1")
        body = agent.request_json("CALL offer " + json.dumps({"call_id": "tls-call-1", "queue": "mobile"}))
        entry = json.loads(t.line())
        self.assertEqual(entry["stream"], "calls")
        self.assertEqual(entry["call_id"], "tls-call-1")
        self.assertEqual(entry["id"], body["id"])
        self.assertEqual(t.stop(), 0)

    def test_tail_wrong_ca_exits_2(self):
        started = time.monotonic()
        rc, out, err = run_tail("calls", "--tls", "--ca", PKI["other_ca"],
                                "--host", f"127.0.0.1:{self.daemon.tls_port}")
        self.assertEqual(rc, 2, err)
        self.assertEqual(out, "")
        self.assertRegex(err, r"certificate .* does not verify")
        self.assertNotIn("reconnecting", err)  # not retried
        self.assertLess(time.monotonic() - started, harness.T(10))

    def test_tail_tls_to_the_plaintext_port_fails(self):
        rc, _, err = run_tail("calls", "--tls", "--ca", PKI["ca"], "--host", f"127.0.0.1:{self.daemon.port}",
                              timeout=harness.T(60))
        self.assertEqual(rc, 2, err)
        self.assertRegex(err, r"TLS handshake with .* (failed|timed out)")

    def test_tail_tls_address_from_the_config(self):
        rc, _, err = run_tail("calls", "--tls", "-c", self.daemon.config_path)
        self.assertEqual(rc, 2, err)
        self.assertIn("TLS listener on a port the kernel picks", err)
        plain = H.daemon(harness.make_config("127.0.0.1:1"), name="no-tls-config")
        rc, _, err = run_tail("calls", "--tls", "-c", plain.config_path)
        self.assertEqual(rc, 2, err)
        self.assertIn("has no TLS listener", err)

    def test_tail_help_mentions_tls(self):
        rc, out, _ = run_tail("--help")
        self.assertEqual(rc, 0)
        for word in ("--tls", "--ca FILE"):
            self.assertIn(word, out)


# --------------------------------------------------------------------------
# Limits that need their own daemon


class TLSLimitsTest(TLSTestBase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        # A short unauth_timeout, scaled like every deadline: under valgrind
        # 600 PINGs before AUTH took longer than 1 s (CI, a loaded machine).
        limits = dict(harness.DEFAULT_LIMITS, max_line=256, max_line_unauth=256, max_pending=2,
                      unauth_timeout=max(1, round(harness.SCALE)))
        cls.daemon = start_tls_daemon("limits", cls.redis, limits=limits)
        cls.addClassCleanup(cls.daemon.stop)

    def test_pipelined_past_a_small_read_buffer(self):
        """AUTH (a barrier while Argon2 runs) and then many requests in one
        record: OpenSSL holds decrypted bytes past the input high-water mark,
        which must be read once the buffer drains."""
        c = self.tls_connect()
        n = 800
        c.send(b"AUTH agent1 agent1-secret\n" + b"PING\n" * n)
        harness.parse_ok_json(c.read_reply())
        for i in range(n):
            self.assertEqual(c.read_reply(), "OK", f"reply {i}")

    def test_burst_then_half_close(self):
        """`printf ... | nc` over TLS: the client sends many requests and
        shuts its side (no close_notify); every one is answered, then the
        daemon closes."""
        c = self.tls_connect()
        n = 600
        c.send(b"PING\n" * n)
        with socket.socket(fileno=os.dup(c.sock.fileno())) as raw:
            raw.shutdown(socket.SHUT_WR)
        got = c.read_until_closed()
        self.assertEqual(got, ["OK"] * n)

    def test_reset_mid_burst(self):
        mark = self.daemon.log_mark()
        c = TLSClient(self.daemon.tls_port)
        c.send(b"PING\n" * 2000)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()  # RST
        self.daemon.wait_log(r"conn \d+ 127\.0\.0\.1:\d+: closed: ", since=mark)
        self.assertOK(self.tls_connect().request("PING"))

    def test_handshake_deadline(self):
        mark = self.daemon.log_mark()
        with socket.create_connection(("127.0.0.1", self.daemon.tls_port), timeout=harness.T()) as s:
            s.settimeout(harness.T())
            self.assertEqual(s.recv(100), b"")  # closed by the daemon, nothing said
        self.daemon.wait_log(r"closed: TLS handshake failed: timed out", since=mark)


class TLSMaxConnectionsTest(TLSTestBase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = start_tls_daemon("maxconn", cls.redis,
                                      limits=dict(harness.DEFAULT_LIMITS, max_connections=3))
        cls.addClassCleanup(cls.daemon.stop)

    def test_max_connections_counts_tls(self):
        held = [self.tls_connect() for _ in range(3)]
        for c in held:
            self.assertOK(c.request("PING"))
        mark = self.daemon.log_mark()
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            extra = TLSClient(self.daemon.tls_port)
            extra.request("PING")  # TLS 1.3 may finish the handshake before the close is seen
        with harness.Client(self.daemon.port) as plain:
            self.assertErr(plain.read_reply(), "rate_limited")
        self.daemon.wait_log(r"refusing connections: max_connections \(3\)", since=mark)
        held.pop().close()
        harness.wait_until(lambda: self._ping_ok(), what="a connection slot")

    def _ping_ok(self):
        try:
            with TLSClient(self.daemon.tls_port) as c:
                return c.request("PING") == "OK"
        except (ssl.SSLError, OSError, harness.ConnectionClosed):
            return False


class TLSNameTest(TLSTestBase):
    """A certificate for elsewhere.example only."""

    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = start_tls_daemon("names", cls.redis, which=3)
        cls.addClassCleanup(cls.daemon.stop)

    def test_tail_name_mismatch_exits_2(self):
        for host, why in (("127.0.0.1", "IP address mismatch"), ("localhost", "hostname mismatch")):
            with self.subTest(host=host):
                rc, _, err = run_tail("calls", "--tls", "--ca", PKI["ca"], "--host",
                                      f"{host}:{self.daemon.tls_port}")
                self.assertEqual(rc, 2, err)
                self.assertRegex(err, rf"certificate of .* does not verify for {host}: {why}")

    def test_python_client_agrees(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            TLSClient(self.daemon.tls_port, server_hostname="localhost").close()
        c = self.tls_connect(server_hostname="elsewhere.example")
        self.assertOK(c.request("PING"))


# --------------------------------------------------------------------------
# Reload


class TLSReloadTest(TLSTestBase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = start_tls_daemon("reload", cls.redis)
        cls.addClassCleanup(cls.daemon.stop)

    def reload(self):
        mark = self.daemon.log_mark()
        self.daemon.send_signal(signal.SIGHUP)
        self.daemon.wait_log(r"reloaded config from", since=mark)
        return mark

    def test_new_certificate_then_broken_key(self):
        d = self.daemon
        old = self.tls_connect()
        old.auth("agent1")
        self.assertEqual(old.serial(), SERIAL_1)

        install_cert(d.cert, d.key, 2)
        mark = self.reload()
        self.assertIsNotNone(d.find_log(r"reload: TLS certificate .*serial 1002", since=mark))
        new = self.tls_connect()
        self.assertEqual(new.serial(), SERIAL_2)
        self.assertOK(new.request("PING"))
        # The connection made before the reload goes on with its session.
        self.assertOK(old.request("PING"))
        self.assertEqual(old.serial(), SERIAL_1)

        # A key that does not load: the certificate in use stays.
        with open(d.key, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        mark = self.reload()
        d.wait_log(r"reload: TLS key .* does not load.*; keeping the previous certificate", since=mark)
        again = self.tls_connect()
        self.assertEqual(again.serial(), SERIAL_2)
        self.assertOK(again.request("PING"))
        self.assertOK(old.request("PING"))
        self.assertOK(new.request("PING"))

        # A key of another certificate: refused too.
        shutil.copyfile(PKI["key1"], d.key)
        mark = self.reload()
        d.wait_log(r"reload: TLS key .* does not belong to the certificate .*; keeping the previous certificate",
                   since=mark)
        self.assertEqual(self.tls_connect().serial(), SERIAL_2)

        # Repaired: back to a working pair.
        install_cert(d.cert, d.key, 1)
        mark = self.reload()
        d.wait_log(r"reload: TLS certificate .*serial 1001", since=mark)
        self.assertEqual(self.tls_connect().serial(), SERIAL_1)
        self.assertTrue(d.running())


class TLSShutdownTest(TLSTestBase):
    def test_sigterm_with_tls_clients(self):
        """A session says goodbye and a handshake in progress is cut; the
        daemon exits 0 well before the drain deadline."""
        redis = H.start_redis()
        d = start_tls_daemon("shutdown", redis)
        c = self.tls_connect(daemon=d)
        c.auth("agent1")
        half = socket.create_connection(("127.0.0.1", d.tls_port), timeout=harness.T())
        self.addCleanup(half.close)
        time.sleep(0.2)
        started = time.monotonic()
        d.send_signal(signal.SIGTERM)
        self.assertBye(c.read_line(), "shutdown")
        self.assertEqual(d.wait_exit(), 0)
        self.assertLess(time.monotonic() - started, harness.T(8))
        self.assertIsNotNone(d.find_log(r"conn 2 127\.0\.0\.1:\d+: closed: shutdown"))

    def test_sigterm_right_after_a_client_left(self):
        """The goodbye goes to a client that has just closed: the failed
        write ends the connection (it once made the daemon retry the write
        until the drain deadline)."""
        redis = H.start_redis()
        for i in range(4):
            d = start_tls_daemon(f"left{i}", redis)
            with TLSClient(d.tls_port) as c:
                self.assertOK(c.request("PING"))
            started = time.monotonic()
            d.send_signal(signal.SIGTERM)
            self.assertEqual(d.wait_exit(), 0)
            self.assertLess(time.monotonic() - started, harness.T(5), d.log_tail())


# --------------------------------------------------------------------------
# Start-up


class TLSStartupTest(harness.TestCase):
    def check_refused(self, name, cert, key, message_re):
        redis_address = "127.0.0.1:1"  # never reached: the daemon stops first
        d = H.daemon(harness.make_config(redis_address, tls={"listen": "127.0.0.1:0", "certificate": cert,
                                                             "key": key}), name=name)
        r = harness.run_hotlined("-c", d.config_path)
        err = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 1, err)
        self.assertRegex(err, message_re)
        self.assertNotRegex(err, TLS_LISTEN_RE)

    def test_missing_certificate(self):
        self.check_refused("nocert", H.path("no-such.pem"), PKI["key1"], r"TLS certificate .*cannot read it")

    def test_broken_key(self):
        bad = H.path("broken.key")
        with open(bad, "w") as f:
            f.write("garbage\n")
        self.check_refused("badkey", PKI["cert1"], bad, r"TLS key .* does not load")

    def test_mismatched_key(self):
        self.check_refused("mismatch", PKI["cert1"], PKI["key2"], r"TLS key .* does not belong to the certificate")


if __name__ == "__main__":
    harness.main()
