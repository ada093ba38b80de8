"""`hotline tail`: the CLI's live view of the call and complaint logs.

Usage errors and the credential rules (never from the command line; an
owner-only credentials file), connect and login failures (exit 2, a failed
AUTH is not retried), then end to end against hotlined: every entry printed
once and in order (JSON Lines and the readable form, colours only on a
terminal), filters, resuming after a daemon restart with entries logged
while it was down (through a second daemon on the same Redis) and none
repeated, IPv6, the config's listen address, SIGINT/SIGTERM exiting 0.
A scripted fake server covers what a real daemon does not do on demand:
lines split across writes, `* overflow` (re-TAIL at once from its last_id),
replayed entries (dropped), `ERR unavailable` (retried), a line over 1 MiB
(skipped), pushes interleaved with replies.

Every wait is bounded; everything listens on loopback only."""

import json
import os
import pty
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

H = None
P = "hotline:"
SUPER = {"HOTLINE_USER": "super1", "HOTLINE_SECRET": "super1-secret"}
TIME_RE = r"\d\d:\d\d:\d\d"


def setUpModule():
    global H
    try:
        r = subprocess.run([harness.HOTLINE, "tail", "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=harness.T(30))
    except OSError as e:
        raise unittest.SkipTest(f"cannot run {harness.HOTLINE}: {e}")
    if r.returncode != 0:
        raise unittest.SkipTest(f"{harness.HOTLINE} has no tail command yet")
    H = harness.module_harness("tail_cli")


# --------------------------------------------------------------------------
# Helpers


def cli_env(**extra):
    """The test's environment without credentials or NO_COLOR, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HOTLINE_USER", "HOTLINE_SECRET", "NO_COLOR")}
    env.update(extra)
    return env


def run_tail(*args, env=None, timeout=None):
    """`hotline tail ARGS` to completion: (status, stdout, stderr)."""
    r = subprocess.run([harness.HOTLINE, "tail", *args], env=cli_env() if env is None else env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       cwd=H.tmp, timeout=harness.T(30) if timeout is None else timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def closed_port():
    """A loopback port nothing listens on (free a moment ago)."""
    return harness.free_port()


def write_file(path, text, mode):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class TailProc:
    """`hotline tail ...` in the background.  Threads collect stdout lines
    (a queue) and stderr, so every read has a deadline.  stdout may be a
    pty (tty=True) to see what a terminal gets."""

    def __init__(self, args, env=None, tty=False):
        self.args = list(args)
        self.err = []
        self.out = queue.Queue()
        self.seen = []
        master = slave = None
        if tty:
            master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [harness.HOTLINE, "tail", *args], env=cli_env(**SUPER) if env is None else env,
            stdin=subprocess.DEVNULL, stdout=slave if tty else subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=H.tmp, start_new_session=True)
        harness._register_proc(self.proc)
        if tty:
            os.close(slave)
            pumps = [(self._pump_pty, (master,))]
        else:
            pumps = [(self._pump_out, ())]
        pumps.append((self._pump_err, ()))
        self.threads = [threading.Thread(target=f, args=a, daemon=True) for f, a in pumps]
        for th in self.threads:
            th.start()

    def _pump_out(self):
        for raw in self.proc.stdout:
            self.out.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.out.put(None)

    def _pump_pty(self, fd):
        buf = b""
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                data = b""
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.out.put(line.decode("utf-8", "replace").rstrip("\r"))
        os.close(fd)
        self.out.put(None)

    def _pump_err(self):
        for raw in self.proc.stderr:
            self.err.append(raw.decode("utf-8", "replace"))

    def stderr(self):
        return "".join(self.err)

    def line(self, timeout=None):
        """The next stdout line; AssertionError on timeout or EOF."""
        try:
            got = self.out.get(timeout=harness.T() if timeout is None else timeout)
        except queue.Empty:
            raise AssertionError(f"no output line in time; stderr:\n{self.stderr()}") from None
        if got is None:
            self.out.put(None)
            raise AssertionError(f"hotline tail exited (status {self.proc.poll()}); stderr:\n{self.stderr()}")
        self.seen.append(got)
        return got

    def lines(self, n, timeout=None):
        deadline = time.monotonic() + (harness.T() if timeout is None else timeout)
        return [self.line(max(0.01, deadline - time.monotonic())) for _ in range(n)]

    def json_lines(self, n, timeout=None):
        return [json.loads(x) for x in self.lines(n, timeout)]

    def assert_quiet(self, seconds=0.5):
        """Nothing more on stdout for a moment."""
        try:
            got = self.out.get(timeout=seconds)
        except queue.Empty:
            return
        self.out.put(got)
        raise AssertionError(f"unexpected output line {got!r}")

    def wait_stderr(self, pattern, timeout=None, count=1):
        rx = re.compile(pattern)
        try:
            return harness.wait_until(lambda: len(rx.findall(self.stderr())) >= count, timeout=timeout,
                                      what=f"stderr matching {pattern!r}")
        except AssertionError as e:
            raise AssertionError(f"{e}; stderr:\n{self.stderr()}") from None

    def stop(self, sig=signal.SIGINT, timeout=None):
        """Send sig and wait (bounded); the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout=None):
        try:
            rc = self.proc.wait(timeout=harness.T() if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=harness.T())
            raise AssertionError(f"hotline tail did not exit in time; stderr:\n{self.stderr()}") from None
        self._reap()
        return rc

    def _reap(self):
        """After the exit: let the readers reach EOF, close the pipes."""
        harness._forget_proc(self.proc)
        for th in self.threads:
            th.join(timeout=harness.T(5))
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=harness.T())
        self._reap()


def put_customer(redis, cid, tier):
    with redis.client() as r:
        r.command("HSET", P + "customer:" + cid, "id", cid, "name", "Customer " + cid, "tier", tier,
                  "status", "active")


def call(c, event, **args):
    """CALL event {args} -> the stream id of the entry."""
    return harness.parse_ok_json(c.request(f"CALL {event} " + json.dumps(args)))["id"]


def complaint_open(c, customer_id, severity, summary="charged twice"):
    """COMPLAINT open -> (complaint_id, stream id)."""
    body = harness.parse_ok_json(c.request("COMPLAINT open " + json.dumps(
        {"customer_id": customer_id, "category": "billing", "severity": severity, "summary": summary})))
    return body["complaint_id"], body["id"]


def stream_ids(redis, stream, after="-"):
    """Entry ids of a log stream, after `after` (exclusive) when given."""
    start = "-" if after == "-" else "(" + after
    with redis.client() as r:
        return [sid.decode() for sid, _ in r.command("XRANGE", P + "log:" + stream, start, "+")]


def entry_of(redis, stream, sid):
    """The logged entry (parsed) of one stream id."""
    with redis.client() as r:
        (_, flat), = r.command("XRANGE", P + "log:" + stream, sid, sid)
    fields = {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}
    return json.loads(fields["entry"])


def by_stream(lines, stream):
    """The readable lines of one stream (their order across streams is not
    defined)."""
    return [x for x in lines if re.match(rf"^(\x1b\[[0-9;]*m)?{TIME_RE} {stream} ", x)]


def last_id(redis, stream):
    with redis.client() as r:
        got = r.command("XREVRANGE", P + "log:" + stream, "+", "-", "COUNT", "1")
    return got[0][0].decode() if got else "0-0"


class TailTestBase(harness.TestCase):
    _n = 0

    @classmethod
    def new_id(cls, tag="t"):
        TailTestBase._n += 1
        return f"{tag}-{os.getpid()}-{TailTestBase._n}"

    def tail(self, *args, env=None, tty=False, host=None):
        """Start `hotline tail ARGS --host <daemon>` (super1); killed at cleanup."""
        if host is None:
            host = f"127.0.0.1:{self.daemon.port}"
        t = TailProc([*args, "--host", host] if host else list(args), env=env, tty=tty)
        self.addCleanup(t.kill)
        return t

    def wait_subscribers(self, n, daemon=None):
        """Until the daemon counts n tails (its TAIL was processed, so any
        entry logged from now on reaches it)."""
        sup = self.connect_auth("super1", daemon=daemon)
        harness.wait_until(lambda: harness.stats(sup)["tails"]["subscribers"] == n,
                           what=f"{n} tail subscribers")

    def require_tail_verb(self, daemon):
        with daemon.client() as c:
            verbs = harness.parse_ok_json(c.request("HELP"))["verbs"]
        if "TAIL" not in verbs:
            self.skipTest("this hotlined has no TAIL")

    def offer_answer_end(self, c, queue_name="mobile", disposition="resolved"):
        cid = self.new_id("c")
        ids = [call(c, "offer", call_id=cid, queue=queue_name), call(c, "answer", call_id=cid),
               call(c, "end", call_id=cid, disposition=disposition)]
        return cid, ids


# --------------------------------------------------------------------------
# Without a daemon


class UsageTest(TailTestBase):
    def test_help(self):
        rc, out, _ = run_tail("--help")
        self.assertEqual(rc, 0)
        self.assertIn("usage: hotline tail [calls|complaints|all]", out)
        for word in ("--from", "--filter", "--json", "--credentials", "HOTLINE_SECRET", "Exit status"):
            self.assertIn(word, out)

    def test_usage_errors_exit_64(self):
        env = cli_env(**SUPER)
        cases = [
            (["bogus"], None),
            (["calls", "complaints"], None),
            (["--no-such-option"], None),
            (["--filter", "colour=red"], r"--filter takes KEY=VALUE"),
            (["--filter", "queue"], r"--filter takes KEY=VALUE"),
            (["--filter", "queue="], r"--filter takes KEY=VALUE"),
            (["--from", "yesterday"], r"--from takes"),
            (["all", "--from", "1-0"], r"--from calls=ID"),
            (["--from", "1-0"], r"--from calls=ID"),  # all is the default
            (["calls", "--from", "complaints=1-0"], r"complaints is not tailed"),
            (["--from", "things=1-0"], r"--from takes"),
            (["--host", "[::1"], r"--host takes"),
            (["--host", "127.0.0.1:99999"], r"--host takes"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                host = [] if "--host" in args else ["--host", "127.0.0.1:1"]
                rc, out, err = run_tail(*args, *host, env=env)
                self.assertEqual(rc, 64, err)
                self.assertEqual(out, "")
                if message:
                    self.assertRegex(err, message)

    def test_missing_credentials(self):
        for env in (cli_env(), cli_env(HOTLINE_USER="super1"), cli_env(HOTLINE_SECRET="super1-secret"),
                    cli_env(HOTLINE_USER="super1", HOTLINE_SECRET="")):
            with self.subTest(env={k: v for k, v in env.items() if k.startswith("HOTLINE_")}):
                rc, _, err = run_tail("calls", "--host", "127.0.0.1:1", env=env)
                self.assertEqual(rc, 64, err)
                self.assertIn("HOTLINE_SECRET", err)
                self.assertIn("--credentials", err)
        # --user supplies the user, the secret still comes from the environment
        rc, _, err = run_tail("calls", "--user", "super1", "--host", f"127.0.0.1:{closed_port()}",
                              env=cli_env(HOTLINE_SECRET="super1-secret"))
        self.assertEqual(rc, 2, err)

    def test_secret_never_from_the_command_line(self):
        rc, _, err = run_tail("--secret", "super1-secret", "--user", "super1", "--host", "127.0.0.1:1")
        self.assertEqual(rc, 64)
        self.assertRegex(err, r"command line.*HOTLINE_SECRET")

    def test_bad_user_or_secret_characters(self):
        for user, secret in [("super 1", "x"), ("super1", "two words"), ("super1", "tab\there")]:
            with self.subTest(user=user, secret=secret):
                rc, _, err = run_tail("--host", "127.0.0.1:1",
                                      env=cli_env(HOTLINE_USER=user, HOTLINE_SECRET=secret))
                self.assertEqual(rc, 64, err)
                self.assertIn("without spaces", err)

    def test_credentials_file_permissions(self):
        for mode in (0o644, 0o640, 0o604, 0o620, 0o660):
            with self.subTest(mode=oct(mode)):
                path = write_file(H.path(f"cred-{mode:o}"), "super1:super1-secret\n", mode)
                rc, out, err = run_tail("--credentials", path, "--host", "127.0.0.1:1")
                self.assertEqual(rc, 64, err)
                self.assertIn(f"permissions {mode:04o}", err)
                self.assertIn("too open", err)
                self.assertIn(f"chmod 600 {path}", err)

    def test_credentials_file_content_and_kind(self):
        bad = write_file(H.path("cred-nocolon"), "super1-secret\n", 0o600)
        rc, _, err = run_tail("--credentials", bad, "--host", "127.0.0.1:1")
        self.assertEqual(rc, 64)
        self.assertIn("user:secret", err)
        empty = write_file(H.path("cred-empty"), "", 0o600)
        self.assertEqual(run_tail("--credentials", empty, "--host", "127.0.0.1:1")[0], 64)
        rc, _, err = run_tail("--credentials", H.path("no-such-file"), "--host", "127.0.0.1:1")
        self.assertEqual(rc, 64)
        self.assertIn("cannot open", err)
        os.makedirs(H.path("cred-dir"), mode=0o700, exist_ok=True)
        rc, _, err = run_tail("--credentials", H.path("cred-dir"), "--host", "127.0.0.1:1")
        self.assertEqual(rc, 64)
        self.assertIn("not a regular file", err)
        good = write_file(H.path("cred-good"), "super1:super1-secret\n", 0o600)
        rc, _, err = run_tail("--credentials", good, "--user", "admin1", "--host", "127.0.0.1:1")
        self.assertEqual(rc, 64)
        self.assertIn("disagrees", err)
        # An owner-only file is accepted (then nothing listens: exit 2)
        rc, _, err = run_tail("--credentials", good, "--host", f"127.0.0.1:{closed_port()}")
        self.assertEqual(rc, 2, err)

    def test_cannot_connect_exits_2_after_a_few_attempts(self):
        port = closed_port()
        for host in (f"127.0.0.1:{port}", f"[::1]:{port}"):
            with self.subTest(host=host):
                start = time.monotonic()
                rc, out, err = run_tail("calls", "--host", host, env=cli_env(**SUPER))
                took = time.monotonic() - start
                self.assertEqual(rc, 2, err)
                self.assertEqual(out, "")
                self.assertIn(f"cannot connect to {host}", err)
                self.assertIn("giving up", err)
                self.assertLess(took, harness.T(15))

    def test_config_listen_address(self):
        port = closed_port()
        base = harness.make_config("127.0.0.1:6379")
        wild = H.path("tail-wild.yaml")
        with open(wild, "w", encoding="utf-8") as f:
            f.write(harness.to_yaml(dict(base, listen=[f"0.0.0.0:{port}"])))
        rc, _, err = run_tail("calls", "-c", wild, env=cli_env(**SUPER))
        self.assertEqual(rc, 2, err)
        self.assertIn(f"cannot connect to 127.0.0.1:{port}", err, "0.0.0.0 means loopback")
        wild6 = H.path("tail-wild6.yaml")
        with open(wild6, "w", encoding="utf-8") as f:
            f.write(harness.to_yaml(dict(base, listen=[f"[::]:{port}"])))
        rc, _, err = run_tail("calls", "--config", wild6, env=cli_env(**SUPER))
        self.assertEqual(rc, 2, err)
        self.assertIn(f"cannot connect to [::1]:{port}", err, ":: means ::1")
        kernel = H.path("tail-port0.yaml")
        with open(kernel, "w", encoding="utf-8") as f:
            f.write(harness.to_yaml(base))
        rc, _, err = run_tail("calls", "-c", kernel, env=cli_env(**SUPER))
        self.assertEqual(rc, 2, err)
        self.assertIn("use --host", err)
        rc, _, err = run_tail("calls", "-c", H.path("no-such.yaml"), env=cli_env(**SUPER))
        self.assertEqual(rc, 2, err)
        self.assertIn("cannot load the config", err)


# --------------------------------------------------------------------------
# A scripted server, for what a daemon does not do on demand


class FakeConn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.received = []

    def read_line(self, timeout=None):
        deadline = time.monotonic() + (harness.T() if timeout is None else timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"fake server: no line in time (have {self.buf!r})")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise AssertionError(f"fake server: client closed (have {self.buf!r})")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        self.received.append(line.decode())
        return line.decode()

    def expect(self, line):
        got = self.read_line()
        if got != line:
            raise AssertionError(f"fake server: expected {line!r}, got {got!r}")

    def send(self, data, pause=0.0):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)
        if pause:
            time.sleep(pause)

    def auth(self):
        self.expect("AUTH super1 super1-secret")
        self.send('OK {"user":"super1","role":"supervisor"}\n')


class FakeServer:
    """Accepts connections on 127.0.0.1 and runs script(conn, index) for
    each in a thread; errors are kept for the test to raise."""

    def __init__(self, script):
        self.script = script
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.errors = []
        self.conns = []
        self.done = threading.Event()
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        index = 0
        while not self.closing:
            try:
                sock, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn = FakeConn(sock)
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn, index), daemon=True).start()
            index += 1

    def _run(self, conn, index):
        try:
            self.script(conn, index, self)
        except Exception as e:  # noqa: BLE001 - reported by check()
            self.errors.append(f"connection {index}: {e!r}")
            self.done.set()
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass

    def check(self):
        if self.errors:
            raise AssertionError("; ".join(self.errors))

    def close(self):
        self.closing = True
        self.lsock.close()
        self.thread.join(timeout=harness.T())


def push(kind, **body):
    return f"* {kind} " + json.dumps(body, separators=(",", ":")) + "\n"


def ev(id_, call_id="x", event="answer"):
    return push("calls", id=id_, seq=1, event=event, call_id=call_id, agent="agent1", state="answered",
                ts="2026-11-22T21:10:13.302Z")


class FakeServerTest(TailTestBase):
    def fake(self, script):
        srv = FakeServer(script)
        self.addCleanup(srv.close)
        return srv

    def test_partial_lines_overflow_replays_bye_and_goodbye(self):
        ready = threading.Event()

        def script(c, index, srv):
            c.auth()
            if index == 0:
                c.expect("TAIL calls $")
                c.send('OK {"stream":"calls",', pause=0.1)  # a reply in pieces
                c.send('"from":"100-0"}\n')
                line = ev("100-1")
                c.send(line[:7], pause=0.1)
                c.send(line[7:30], pause=0.1)
                c.send(line[30:])
                # overflow: its last_id is past what we printed (filtered
                # entries advance it); the CLI re-TAILs from there at once
                c.send(ev("100-2") + push("overflow", stream="calls", last_id="100-5"))
                c.expect("TAIL calls 100-5")
                c.send('OK {"stream":"calls","from":"100-5"}\n')
                c.send(ev("100-2") + ev("100-6"))  # 100-2 again: dropped
                c.send(push("bye", reason="shutdown"))
                return
            c.expect("TAIL calls 100-6")
            c.send('OK {"stream":"calls","from":"100-6"}\n' + ev("100-6") + ev("100-7"))
            ready.set()
            c.expect("UNTAIL calls")
            c.send('OK {"stream":"calls","last_id":"100-7"}\n')
            c.expect("QUIT")
            c.send("OK\n")
            srv.done.set()

        srv = self.fake(script)
        t = self.tail("calls", "--json", host=f"127.0.0.1:{srv.port}")
        got = [e["id"] for e in t.json_lines(4)]
        srv.check()
        self.assertEqual(got, ["100-1", "100-2", "100-6", "100-7"])
        self.assertTrue(ready.wait(harness.T()))
        t.assert_quiet(0.3)
        self.assertEqual(t.stop(signal.SIGINT), 0, t.stderr())
        self.assertTrue(srv.done.wait(harness.T()), t.stderr())
        srv.check()
        err = t.stderr()
        self.assertIn("fell behind on calls; resuming after 100-5", err)
        self.assertRegex(err, r"said goodbye.*shutdown.*reconnecting in 0\.2 s")
        self.assertIn("calls resumed after 100-6", err)

    def test_pinned_from_retry_on_unavailable_and_overlong_line(self):
        def script(c, index, srv):
            c.auth()
            if index == 0:
                c.expect("TAIL calls $")
                # "$" became 200-3: a reconnect must not skip what is logged meanwhile
                c.send('OK {"stream":"calls","from":"200-3"}\n')
                return  # EOF
            c.expect("TAIL calls 200-3")
            if index == 1:
                c.send("ERR unavailable log unavailable: Redis link lost\n")
                return
            c.send('OK {"stream":"calls","from":"200-3"}\n')
            c.send("* calls {\"id\":\"200-4\",\"note\":\"" + "x" * (1024 * 1024 + 10) + "\"}\n")
            c.send(ev("200-5"))
            c.read_line()  # UNTAIL or QUIT, then the client goes
            srv.done.set()

        srv = self.fake(script)
        t = self.tail("calls", "--json", host=f"127.0.0.1:{srv.port}")
        got = t.json_lines(1, timeout=harness.T(20))
        srv.check()
        self.assertEqual([e["id"] for e in got], ["200-5"])
        self.assertEqual(t.stop(signal.SIGTERM), 0, t.stderr())
        err = t.stderr()
        self.assertIn("closed the connection", err)
        self.assertIn("ERR unavailable", err)
        self.assertIn("longer than 1048576 bytes; skipped", err)

    def test_both_streams_from_ids_filters_and_interleaved_replies(self):
        seen = {}

        def script(c, index, srv):
            c.auth()
            seen["calls"] = c.read_line()
            seen["complaints"] = c.read_line()
            # a push for calls between the two replies
            c.send('OK {"stream":"calls","from":"5-0"}\n' + ev("5-1"))
            c.send('OK {"stream":"complaints","from":"7"}\n')
            c.send(push("complaints", id="7-1", seq=3, event="open", complaint_id="K1", severity="critical",
                        tier="gold", state="open", summary="s", agent="agent2"))
            c.send(push("queue_changed", x=1))  # a push kind it does not know: ignored
            c.send(ev("5-2"))
            c.read_line()
            srv.done.set()

        srv = self.fake(script)
        t = self.tail("all", "--from", "calls=5-0", "--from", "complaints=7", "--filter", "queue=a",
                      "--filter", "agent=x", "--filter", "queue=b", "--json", host=f"127.0.0.1:{srv.port}")
        got = t.json_lines(3)
        srv.check()
        self.assertEqual([(e["stream"], e["id"]) for e in got],
                         [("calls", "5-1"), ("complaints", "7-1"), ("calls", "5-2")])
        self.assertEqual(list(got[1].keys())[0], "stream", "stream comes first")
        self.assertEqual(t.stop(), 0, t.stderr())
        for stream, start in (("calls", "5-0"), ("complaints", "7")):
            verb, name, frm, flt = seen[stream].split(" ", 3)
            self.assertEqual((verb, name, frm), ("TAIL", stream, start))
            self.assertEqual(json.loads(flt), {"queue": ["a", "b"], "agent": "x"})

    def test_fatal_tail_refusals_exit_2_without_retry(self):
        for reply, message in [("ERR forbidden TAIL needs supervisor or admin", "may not tail"),
                               ("ERR unknown_command unknown command 'TAIL'", "has no TAIL"),
                               ("ERR bad_request unknown filter", "TAIL calls refused")]:
            with self.subTest(reply=reply):
                def script(c, index, srv, reply=reply):
                    c.auth()
                    c.expect("TAIL calls $")
                    c.send(reply + "\n")
                    try:
                        c.read_line(timeout=2)  # nothing more should come: EOF
                    except AssertionError:
                        pass

                srv = self.fake(script)
                rc, out, err = run_tail("calls", "--host", f"127.0.0.1:{srv.port}", env=cli_env(**SUPER))
                self.assertEqual(rc, 2, err)
                self.assertIn(message, err)
                self.assertNotIn("reconnecting", err)
                self.assertEqual(len(srv.conns), 1)


# --------------------------------------------------------------------------
# Against hotlined


class DaemonTest(TailTestBase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address, listen=["127.0.0.1:0", "[::1]:0"])
        cls.addClassCleanup(cls.daemon.stop)
        put_customer(cls.redis, "G1", "gold")
        put_customer(cls.redis, "P1", "platinum")

    def setUp(self):
        self.require_tail_verb(self.daemon)
        self.agent = self.connect_auth("agent1")

    def test_auth_failure_exits_2_and_is_not_retried(self):
        mark = self.daemon.log_mark()
        start = time.monotonic()
        rc, out, err = run_tail("calls", "--host", f"127.0.0.1:{self.daemon.port}",
                                env=cli_env(HOTLINE_USER="super1", HOTLINE_SECRET="wrong"))
        self.assertEqual(rc, 2, err)
        self.assertEqual(out, "")
        self.assertIn("authentication as super1 failed", err)
        self.assertNotIn("reconnecting", err)
        self.assertLess(time.monotonic() - start, harness.T(10))
        self.daemon.wait_log(r"AUTH failed", since=mark)
        self.assertEqual(len(re.findall(r"AUTH failed", self.daemon.log_text(mark))), 1,
                         "a failed login is not retried")

    def test_agent_may_not_tail(self):
        rc, _, err = run_tail("calls", "--host", f"127.0.0.1:{self.daemon.port}",
                              env=cli_env(HOTLINE_USER="agent1", HOTLINE_SECRET="agent1-secret"))
        self.assertEqual(rc, 2, err)
        self.assertIn("agent1 may not tail", err)
        self.assertIn("forbidden", err)

    def test_json_every_entry_once_in_order(self):
        t = self.tail("calls", "--json")
        self.wait_subscribers(1)
        ids = []
        for _ in range(4):
            ids += self.offer_answer_end(self.agent)[1]
        cid = self.new_id("c")
        ids += [call(self.agent, "offer", call_id=cid, queue="mobile"),
                call(self.agent, "answer", call_id=cid),
                call(self.agent, "hold", call_id=cid), call(self.agent, "resume", call_id=cid),
                call(self.agent, "transfer", call_id=cid, to="agent2")]
        got = t.json_lines(len(ids))
        self.assertEqual([e["id"] for e in got], ids)
        self.assertTrue(all(e["stream"] == "calls" for e in got))
        self.assertEqual([e["event"] for e in got[-5:]], ["offer", "answer", "hold", "resume", "transfer"])
        seqs = [e["seq"] for e in got]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        self.assertEqual(got[0]["call_id"], got[1]["call_id"])
        t.assert_quiet()
        self.assertEqual(t.stop(signal.SIGINT), 0, t.stderr())
        self.assertEqual(t.stderr(), "")
        self.wait_subscribers(0)

    def test_from_id_replays_history(self):
        _, ids = self.offer_answer_end(self.agent)
        _, more = self.offer_answer_end(self.agent)
        t = self.tail("calls", "--json", "--from", ids[0])
        expected = stream_ids(self.redis, "calls", after=ids[0])
        self.assertEqual(expected[:5], ids[1:] + more)
        got = t.json_lines(len(expected))
        self.assertEqual([e["id"] for e in got], expected)
        t.assert_quiet()
        self.assertEqual(t.stop(signal.SIGTERM), 0)

    def test_filters(self):
        put_customer(self.redis, "L1", "lead")
        t = self.tail("calls", "--json", "--filter", "queue=billing", "--filter", "queue=sales",
                      "--filter", "event=offer")
        c = self.tail("complaints", "--json", "--filter", "severity=critical", "--filter", "tier=gold",
                      "--filter", "tier=platinum")
        self.wait_subscribers(2)
        want_calls = []
        for q in ("mobile", "billing", "sales", "mobile", "billing"):
            cid = self.new_id("f")
            sid = call(self.agent, "offer", call_id=cid, queue=q)
            call(self.agent, "answer", call_id=cid)
            if q != "mobile":
                want_calls.append(sid)
        want_complaints = []
        for customer, severity in (("G1", "high"), ("G1", "critical"), ("L1", "critical"),
                                   ("P1", "critical"), ("P1", "low")):
            _, sid = complaint_open(self.agent, customer, severity)
            if severity == "critical" and customer != "L1":
                want_complaints.append(sid)
        self.assertEqual([e["id"] for e in t.json_lines(len(want_calls))], want_calls)
        got = c.json_lines(len(want_complaints))
        self.assertEqual([e["id"] for e in got], want_complaints)
        self.assertEqual([e["tier"] for e in got], ["gold", "platinum"])
        # a sentinel that matches: anything wrongly let through would come first
        sentinel = call(self.agent, "offer", call_id=self.new_id("s"), queue="sales")
        self.assertEqual(t.json_lines(1)[0]["id"], sentinel)
        t.assert_quiet(0.3)
        c.assert_quiet(0.3)
        self.assertEqual(t.stop(), 0)
        self.assertEqual(c.stop(), 0)

    def test_readable_lines(self):
        put_customer(self.redis, "G2", "gold")
        env = cli_env(TZ="XST-8", **SUPER)  # UTC+8, no zoneinfo needed
        t = self.tail("all", env=env)
        self.wait_subscribers(2)
        cid, ids = self.offer_answer_end(self.agent, queue_name="billing", disposition="callback")
        summary = "customer was charged twice for the same order and wants a refund today, not next week"
        kid, _ = complaint_open(self.agent, "G2", "critical", summary=summary)
        lines = t.lines(4)
        calls, complaints = by_stream(lines, "calls"), by_stream(lines, "complaints")
        self.assertEqual((len(calls), len(complaints)), (1 + 2, 1), lines)
        ts = entry_of(self.redis, "calls", ids[0])["ts"]
        hh, mm, ss = int(ts[11:13]), ts[14:16], ts[17:19]
        self.assertTrue(calls[0].startswith(f"{(hh + 8) % 24:02d}:{mm}:{ss} "), (calls[0], ts))
        self.assertRegex(calls[0], rf"^{TIME_RE} calls +offer +agent1 +- +{cid} offered queue=billing$")
        self.assertRegex(calls[1], rf"^{TIME_RE} calls +answer +agent1 +- +{cid} answered queue=billing$")
        self.assertRegex(calls[2], rf"^{TIME_RE} calls +end +agent1 +- +{cid} ended disposition=callback$")
        m = re.match(rf"^{TIME_RE} complaints +open +agent1 +gold +{kid} critical open - (.*)$",
                     complaints[0])
        self.assertIsNotNone(m, complaints[0])
        self.assertEqual(m.group(1), summary[:57] + "...")
        self.assertNotIn("\x1b", "".join(lines), "no colours into a pipe")
        self.assertEqual(t.stop(), 0)

    def test_control_characters_are_not_sent_to_the_terminal(self):
        # The daemon refuses C0 and C1 controls in free text (U+009B is CSI
        # on many terminals) ...
        put_customer(self.redis, "G4", "gold")
        reply = self.agent.request('COMPLAINT open ' + json.dumps(
            {"customer_id": "G4", "category": "billing", "severity": "low",
             "summary": "csi \u009b31m red \u009b0m"}))
        self.assertTrue(reply.startswith("ERR bad_request"), reply)
        # ... and the CLI does not trust the log either: an entry written
        # straight into the stream shows '?' for them.
        t = self.tail("complaints")
        self.wait_subscribers(1)
        entry = {"event": "open", "complaint_id": "KCSI", "agent": "agent1", "role": "agent",
                 "ts": "2026-11-22T10:00:00.000Z", "severity": "low", "state": "open",
                 "summary": "csi \u009b31m red \u009b0m"}
        with self.redis.client() as r:
            r.command("XADD", "hotline:log:complaints", "*", "seq", "1", "prev", "0" * 64,
                      "hash", "0" * 64, "entry", json.dumps(entry))
        line = t.line()
        self.assertIn("KCSI", line)
        self.assertTrue(line.endswith(" - csi ?31m red ?0m"), repr(line))
        self.assertEqual(t.stop(), 0)

    def test_colours_on_a_terminal_unless_no_color(self):
        put_customer(self.redis, "G3", "gold")
        for no_color in (False, True):
            with self.subTest(no_color=no_color):
                env = cli_env(**SUPER, **({"NO_COLOR": "1"} if no_color else {}))
                t = self.tail("all", env=env, tty=True)
                self.wait_subscribers(2)
                self.offer_answer_end(self.agent)
                complaint_open(self.agent, "G3", "high")
                complaint_open(self.agent, "G3", "critical")
                lines = t.lines(5)
                calls, complaints = by_stream(lines, "calls"), by_stream(lines, "complaints")
                self.assertEqual((len(calls), len(complaints)), (3, 2), lines)
                if no_color:
                    self.assertNotIn("\x1b", "".join(lines))
                else:
                    self.assertFalse(calls[0].startswith("\x1b"), "calls are not coloured")
                    high = [x for x in complaints if " high " in x]
                    critical = [x for x in complaints if " critical " in x]
                    self.assertTrue(high[0].startswith("\x1b[33m") and high[0].endswith("\x1b[0m"), high)
                    self.assertTrue(critical[0].startswith("\x1b[1;31m"), critical)
                self.assertEqual(t.stop(), 0)
                self.wait_subscribers(0)

    def test_credentials_file_and_ipv6(self):
        cred = write_file(H.path("cred-super"), "super1:super1-secret\n", 0o600)
        t = self.tail("calls", "--json", "--credentials", cred, env=cli_env(),
                      host=f"[::1]:{self.daemon.ports[1]}")
        self.wait_subscribers(1)
        _, ids = self.offer_answer_end(self.agent)
        self.assertEqual([e["id"] for e in t.json_lines(3)], ids)
        self.assertEqual(t.stop(signal.SIGTERM), 0, t.stderr())

    def test_sigint_and_sigterm_exit_0_and_untail(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(sig=sig):
                mark = self.daemon.log_mark()
                t = self.tail("all")
                self.wait_subscribers(2)
                start = time.monotonic()
                self.assertEqual(t.stop(sig), 0, t.stderr())
                self.assertLess(time.monotonic() - start, harness.T(3))
                self.assertEqual(t.stderr(), "")
                self.wait_subscribers(0)
                sup = self.connect_auth("super1")
                reqs = harness.stats(sup)["requests"]
                self.assertGreaterEqual(reqs["UNTAIL"]["count"], 2)
                self.assertNotRegex(self.daemon.log_text(mark), r"Z error ")


class OverflowTest(TailTestBase):
    """A real `* overflow`: the CLI is stopped (SIGSTOP) while entries pile
    up past the daemon's cap for its tail; once it runs again it re-TAILs
    from the overflow's last_id and prints every entry once, in order."""

    def test_overflow_then_resume(self):
        redis = H.start_redis()
        self.daemon = H.start_daemon(redis.address, name="small-output",
                                     limits=dict(harness.DEFAULT_LIMITS, max_output=65536))
        self.addCleanup(self.daemon.stop)
        self.require_tail_verb(self.daemon)
        t = self.tail("calls", "--json")
        self.wait_subscribers(1)
        a = self.connect_auth("agent1")
        sup = self.connect_auth("super1")
        os.kill(t.proc.pid, signal.SIGSTOP)
        self.addCleanup(lambda: t.proc.poll() is None and os.kill(t.proc.pid, signal.SIGCONT))
        note = "n" * 1000
        logged = []
        # until the kernel's socket buffers are full and the daemon gives up
        # on the tail (bounded: 20000 entries)
        while harness.stats(sup)["tails"]["overflows"] == 0 and len(logged) < 20000:
            batch = [self.new_id("o") for _ in range(200)]
            for cid in batch:
                a.send_line("CALL offer " + json.dumps({"call_id": cid, "queue": "q", "note": note}))
            logged += [harness.parse_ok_json(a.read_reply())["id"] for _ in batch]
        self.assertGreaterEqual(harness.stats(sup)["tails"]["overflows"], 1, "no overflow happened")
        os.kill(t.proc.pid, signal.SIGCONT)
        got = t.json_lines(len(logged), timeout=harness.T(60))
        self.assertEqual([e["id"] for e in got], logged, "every entry once, in order")
        t.assert_quiet()
        self.assertIn("fell behind on calls; resuming after", t.stderr())
        self.assertEqual(t.stop(), 0, t.stderr())


class RestartTest(TailTestBase):
    """The daemon goes away and comes back on the same port; meanwhile a
    second daemon on the same Redis logs more.  The CLI picks up exactly
    where it left off."""

    def test_resume_across_a_daemon_restart(self):
        self.redis = H.start_redis()
        put_customer(self.redis, "G1", "gold")
        port = harness.free_port()
        self.daemon = H.daemon(harness.make_config(self.redis.address, listen=[f"127.0.0.1:{port}"]),
                               name="restarting").start()
        self.addCleanup(self.daemon.stop)
        self.require_tail_verb(self.daemon)
        other = H.start_daemon(self.redis.address, name="other")
        self.addCleanup(other.stop)
        base = {s: last_id(self.redis, s) for s in ("calls", "complaints")}

        # started from the daemon's config file: its first listen address
        t = self.tail("all", "--json", "-c", self.daemon.config_path, host="")
        self.wait_subscribers(2)
        a = self.connect_auth("agent1")
        self.offer_answer_end(a)
        complaint_open(a, "G1", "high")
        t.json_lines(4)

        self.daemon.stop()  # SIGTERM: * bye {"reason":"shutdown"}
        t.wait_stderr(r"said goodbye.*shutdown.*reconnecting")
        b = self.connect_auth("agent1", daemon=other)
        for _ in range(3):
            self.offer_answer_end(b)
            complaint_open(b, "G1", "critical")
        t.wait_stderr(r"cannot connect.*reconnecting", count=2)  # it keeps trying
        self.daemon.start()
        self.assertEqual(self.daemon.port, port)
        t.wait_stderr(r"calls resumed after", timeout=harness.T(15))
        t.wait_stderr(r"complaints resumed after", timeout=harness.T(15))
        a = self.connect_auth("agent1")
        self.offer_answer_end(a)
        complaint_open(a, "G1", "low")

        want = {s: stream_ids(self.redis, s, after=base[s]) for s in base}
        self.assertEqual((len(want["calls"]), len(want["complaints"])), (15, 5))
        got = t.json_lines(20 - 4, timeout=harness.T(20))
        got_all = [json.loads(x) for x in t.seen]
        for s in ("calls", "complaints"):
            self.assertEqual([e["id"] for e in got_all if e["stream"] == s], want[s],
                             f"{s}: every entry once, in order")
        self.assertEqual(len(got), 16)
        t.assert_quiet()
        self.assertEqual(t.stop(signal.SIGINT), 0, t.stderr())


class FailoverTest(TailTestBase):
    """Several daemons on one Redis: `--host A,B` fails over from A to B when
    A dies, and carries on after the last id printed (proto/PROTOCOL.md,
    "Several daemons: client-side failover")."""

    def setUp(self):
        self.redis = H.start_redis()
        self.a = H.start_daemon(self.redis.address, name="failover-a")
        self.b = H.start_daemon(self.redis.address, name="failover-b")
        self.addCleanup(self.a.stop)
        self.addCleanup(self.b.stop)
        self.require_tail_verb(self.a)

    def log_daemons(self):
        return [self.a, self.b]

    def logged_ids(self):
        with self.redis.client() as r:
            return [sid.decode() for sid, _ in r.command("XRANGE", P + "log:calls", "-", "+")]

    def test_tail_fails_over_to_the_next_daemon_without_loss_or_repeats(self):
        agent = self.connect_auth("agent1", daemon=self.b)
        for _ in range(3):
            self.offer_answer_end(agent)
        t = self.tail("calls", "--json", "--from", "0",
                      host=f"127.0.0.1:{self.a.port},127.0.0.1:{self.b.port}")
        got = [e["id"] for e in t.json_lines(9)]
        self.assertEqual(got, self.logged_ids())
        self.wait_subscribers(1, daemon=self.a)
        self.a.kill9()
        # logged while the tail has no daemon: must come after the failover
        for _ in range(3):
            self.offer_answer_end(agent)
        t.wait_stderr(rf"failing over to 127\.0\.0\.1:{self.b.port}")
        got += [e["id"] for e in t.json_lines(9, timeout=harness.T(20))]
        t.wait_stderr(rf"reconnected to 127\.0\.0\.1:{self.b.port}; calls resumed after {got[8]}")
        for _ in range(2):
            self.offer_answer_end(agent)
        got += [e["id"] for e in t.json_lines(6)]
        t.assert_quiet(0.3)
        self.assertEqual(got, self.logged_ids(), "every entry once, in order, across the failover")
        self.assertEqual(t.stop(signal.SIGINT), 0, t.stderr())

    def test_a_dead_first_address_is_skipped_at_start(self):
        agent = self.connect_auth("agent1", daemon=self.b)
        self.offer_answer_end(agent)
        dead = closed_port()
        # --host repeated is the same as a comma-separated list
        t = TailProc(["calls", "--json", "--from", "0", "--host", f"127.0.0.1:{dead}",
                      "--host", f"127.0.0.1:{self.b.port}"])
        self.addCleanup(t.kill)
        self.assertEqual([e["id"] for e in t.json_lines(3)], self.logged_ids())
        self.assertIn(f"failing over to 127.0.0.1:{self.b.port}", t.stderr())
        self.assertEqual(t.stop(signal.SIGINT), 0, t.stderr())


if __name__ == "__main__":
    unittest.main(verbosity=2)
