"""Shared helpers for hotlined's integration tests (Python 3.11 stdlib only).

Every test script builds one Harness (a private temporary directory); from
it it starts its own redis-server(s) on free loopback ports and its own
hotlined with a config written from a Python dict.  Everything started is
stopped again at the end, on success or failure (module cleanups plus an
atexit safety net), and the temporary directory is removed unless
HOTLINE_KEEP_TMP=1.

Environment:
  HOTLINED              daemon binary  (default: build/daemon/hotlined)
  HOTLINE               CLI binary     (default: build/tools/hotline)
  REDIS_SERVER          redis-server   (default: from PATH)
  HOTLINE_VALGRIND=1    run hotlined under valgrind (deadlines x10 unless
                        HOTLINE_TIMEOUT_SCALE is set)
  HOTLINE_TIMEOUT_SCALE multiply every deadline by this (default 1)
  HOTLINE_KEEP_TMP=1    keep the temporary directory (path is printed)
  HOTLINE_LOG_LEVEL     log.level written into configs (default "info")
  HOTLINE_REDIS_ACL=0   start redis-server without the shipped ACL and run
                        daemons as Redis's default user (default: with it)

Redis ACL: every redis-server runs with config/redis-acl.conf, its users
turned on with test passwords the way hotlined(8) tells operators to, and
every daemon from make_config logs in as the restricted user `hotlined`, so
the whole suite runs under the ACL.  The tests' own RespClient connections
use Redis's default user, made a superuser in the test copy of the file.
"""

import atexit
import calendar
import copy
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

# --------------------------------------------------------------------------
# Environment and deadlines

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))

HOTLINED = os.environ.get("HOTLINED") or os.path.join(SOURCE_ROOT, "build", "daemon", "hotlined")
HOTLINE = os.environ.get("HOTLINE") or os.path.join(SOURCE_ROOT, "build", "tools", "hotline")
REDIS_SERVER = os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "redis-server"
VALGRIND = os.environ.get("HOTLINE_VALGRIND") == "1"
REDIS_ACL = os.environ.get("HOTLINE_REDIS_ACL", "1") != "0"
REDIS_ACL_FILE = os.path.join(SOURCE_ROOT, "config", "redis-acl.conf")
KEEP_TMP = os.environ.get("HOTLINE_KEEP_TMP") == "1"
LOG_LEVEL = os.environ.get("HOTLINE_LOG_LEVEL", "info")

_scale_env = os.environ.get("HOTLINE_TIMEOUT_SCALE")
if _scale_env:
    SCALE = float(_scale_env)
elif VALGRIND:
    SCALE = 10.0
else:
    SCALE = 1.0

VALGRIND_CMD = [
    "valgrind",
    "--error-exitcode=99",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite",
    "--quiet",
]

# Base deadline for "should happen soon" waits, before scaling.
DEFAULT_WAIT = 10.0


def T(seconds=DEFAULT_WAIT):
    """A deadline length in seconds, scaled for slow runs (valgrind)."""
    return seconds * SCALE


def wait_until(predicate, timeout=None, interval=0.05, what="condition"):
    """Poll predicate() until it returns a truthy value; return that value.

    Raises AssertionError when the (scaled) timeout expires.  Exceptions
    raised by predicate propagate."""
    deadline = time.monotonic() + (T() if timeout is None else timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def free_port():
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, max_bytes=6000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            return f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"


# --------------------------------------------------------------------------
# Process bookkeeping: everything we start is killed at exit at the latest.

_LIVE_PROCS = []  # subprocess.Popen objects still possibly running
_HARNESSES = []


def _register_proc(p):
    _LIVE_PROCS.append(p)


def _forget_proc(p):
    try:
        _LIVE_PROCS.remove(p)
    except ValueError:
        pass


def _atexit_cleanup():
    for p in list(_LIVE_PROCS):
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
    for h in list(_HARNESSES):
        h._remove_tmp()


atexit.register(_atexit_cleanup)


def _wait_proc(p, timeout):
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


# --------------------------------------------------------------------------
# YAML writer (just what hotlined's config needs: maps, lists, scalars)

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def yaml_quote(s):
    """A YAML double-quoted scalar for s."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        elif 0xD800 <= o <= 0xDFFF:
            raise ValueError("lone surrogate in YAML string")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _yaml_scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return yaml_quote(v)
    raise TypeError(f"cannot write {type(v).__name__} as YAML scalar")


def _yaml_key(k):
    if not isinstance(k, str):
        raise TypeError("YAML keys must be strings")
    return k if _PLAIN_KEY.match(k) else yaml_quote(k)


def _is_scalar(v):
    return v is None or isinstance(v, (bool, int, float, str))


def _yaml_lines(obj, indent):
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        if not obj:
            return [pad + "{}"]
        for k, v in obj.items():
            key = _yaml_key(k)
            if _is_scalar(v):
                lines.append(f"{pad}{key}: {_yaml_scalar(v)}")
            elif isinstance(v, (list, tuple)) and all(_is_scalar(x) for x in v):
                lines.append(f"{pad}{key}: [" + ", ".join(_yaml_scalar(x) for x in v) + "]")
            elif isinstance(v, dict) and not v:
                lines.append(f"{pad}{key}: {{}}")
            else:
                lines.append(f"{pad}{key}:")
                lines.extend(_yaml_lines(v, indent + 2))
    elif isinstance(obj, (list, tuple)):
        if not obj:
            return [pad + "[]"]
        for item in obj:
            if _is_scalar(item):
                lines.append(f"{pad}- {_yaml_scalar(item)}")
            else:
                sub = _yaml_lines(item, indent + 2)
                # put the first line of the nested block after the dash
                first = sub[0][indent + 2:]
                lines.append(f"{pad}- {first}")
                lines.extend(sub[1:])
    else:
        lines.append(pad + _yaml_scalar(obj))
    return lines


def to_yaml(obj):
    """Serialise dicts/lists/str/int/bool/None as block YAML (every string
    double-quoted)."""
    return "\n".join(_yaml_lines(obj, 0)) + "\n"


def deep_merge(base, override):
    """A copy of base with override merged in (dicts recursively; other
    values replaced).  A value of None in override deletes the key."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# --------------------------------------------------------------------------
# Tiny RESP client


class RedisError(Exception):
    """An error reply (-ERR ...) from Redis."""


class _SocketOwner:
    """close() and the context-manager protocol for the two clients below."""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RespClient(_SocketOwner):
    def __init__(self, port=None, host="127.0.0.1", unix_path=None, timeout=None):
        timeout = T(5) if timeout is None else timeout
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix_path)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    @staticmethod
    def encode(*args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode("utf-8")
            elif isinstance(a, int):
                a = str(a).encode()
            elif not isinstance(a, (bytes, bytearray)):
                raise TypeError(f"bad RESP argument {a!r}")
            parts.append(b"$%d\r\n" % len(a))
            parts.append(bytes(a))
            parts.append(b"\r\n")
        return b"".join(parts)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("redis closed the connection")
        self.buf += data

    def _readline(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _readexact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read_reply(self):
        """One reply: str (simple), bytes (bulk), int, None (nil), list,
        dict (RESP3 map), bool/float (RESP3), or RedisError (not raised)."""
        line = self._readline()
        if not line:
            raise ConnectionError("empty RESP line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode("utf-8", "replace")
        if t == b"-":
            return RedisError(rest.decode("utf-8", "replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._readexact(n)
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        if t == b"%":
            n = int(rest)
            d = {}
            for _ in range(n):
                k = self.read_reply()
                d[k] = self.read_reply()
            return d
        if t == b"_":
            return None
        if t == b"#":
            return rest == b"t"
        if t == b",":
            return float(rest)
        raise ConnectionError(f"unknown RESP type {line!r}")

    def command(self, *args):
        """Send one command, return its reply; raise RedisError on -ERR."""
        self.sock.sendall(self.encode(*args))
        reply = self.read_reply()
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def pipeline(self, *commands):
        """Send several commands at once; return their replies (errors are
        returned as RedisError objects, not raised)."""
        self.sock.sendall(b"".join(self.encode(*c) for c in commands))
        return [self.read_reply() for _ in commands]


# --------------------------------------------------------------------------
# Redis ACL users (config/redis-acl.conf)

# The shipped file's users, with the passwords the tests give them.
REDIS_PASSWORDS = {"hotlined": "hotlined-test-redis-password",
                   "hotline-admin": "hotline-admin-test-redis-password"}
_CREDENTIALS_DIR = None


def redis_password_file(user):
    """A 0600 file holding user's Redis password (created once per process)."""
    global _CREDENTIALS_DIR
    if _CREDENTIALS_DIR is None:
        _CREDENTIALS_DIR = tempfile.mkdtemp(prefix="hotline-redis-credentials-")
        if not KEEP_TMP:
            atexit.register(shutil.rmtree, _CREDENTIALS_DIR, True)
    path = os.path.join(_CREDENTIALS_DIR, user + ".pass")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(REDIS_PASSWORDS[user] + "\n")
    return path


def redis_login(user):
    """The redis config keys that log in as user (for make_config overrides)."""
    return {"user": user, "password_file": redis_password_file(user)}


def admin_login_args():
    """Command-line options that make a `hotline` command log in to Redis as
    the ACL's hotline-admin, as operators run imports and rebuilds (none
    when the suite runs without the ACL)."""
    if not REDIS_ACL:
        return []
    return ["--redis-user", "hotline-admin", "--redis-password-file", redis_password_file("hotline-admin")]


def redis_acl_text():
    """config/redis-acl.conf as the tests run it: each shipped user turned
    on with its password's SHA-256 (the operator's recipe in hotlined(8)),
    and Redis's default user a superuser for the tests' own access."""
    out = []
    with open(REDIS_ACL_FILE, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            name = line.split(" ")[1]
            off = f"user {name} off resetpass "
            if not line.startswith(off):
                raise AssertionError(f"{REDIS_ACL_FILE}: user {name} is not shipped 'off resetpass'")
            if name == "default":
                out.append("user default on nopass ~* &* +@all")
            else:
                digest = hashlib.sha256(REDIS_PASSWORDS[name].encode()).hexdigest()
                out.append(f"user {name} on #{digest} " + line[len(off):])
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# redis-server


class Redis:
    """One redis-server on 127.0.0.1 (and optionally a unix socket)."""

    def __init__(self, harness, name="redis", port=None, unix_socket=False, extra_args=(), acl=None):
        self.h = harness
        self.name = name
        self.port = port
        self.dir = harness.path(name)
        os.makedirs(self.dir, exist_ok=True)
        self.unix_path = os.path.join(self.dir, "redis.sock") if unix_socket else None
        self.extra_args = list(extra_args)
        self.acl = REDIS_ACL if acl is None else acl
        self.proc = None
        self.log_path = None
        self._starts = 0

    @property
    def address(self):
        """The address string for hotlined's config."""
        if self.unix_path:
            return "unix:" + self.unix_path
        return f"127.0.0.1:{self.port}"

    @property
    def tcp_address(self):
        return f"127.0.0.1:{self.port}"

    def _command(self, port):
        args = [
            REDIS_SERVER,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.dir,
            "--daemonize", "no",
        ]
        if self.unix_path:
            args += ["--unixsocket", self.unix_path, "--unixsocketperm", "700"]
        if self.acl:
            acl_path = os.path.join(self.dir, "users.acl")
            with open(acl_path, "w", encoding="utf-8") as f:
                f.write(redis_acl_text())
            args += ["--aclfile", acl_path]
        return args + self.extra_args

    def _spawn(self, port):
        self._starts += 1
        self.log_path = os.path.join(self.dir, f"redis-{self._starts}.log")
        args = self._command(port)
        logf = open(self.log_path, "wb")
        try:
            proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                cwd=self.dir, start_new_session=True)
        finally:
            logf.close()
        _register_proc(proc)
        return proc

    def _ping_ok(self, port):
        try:
            with RespClient(port=port, timeout=T(1)) as c:
                return c.command("PING") == "PONG"
        except RedisError as e:
            return str(e).startswith("NOAUTH")  # up, and lets nobody in (an ACL as shipped)
        except (OSError, ConnectionError):
            return False

    def _try_start(self, port, timeout):
        """Start on port; True when it answers PING, False if it died."""
        proc = self._spawn(port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                _forget_proc(proc)
                return False
            if self._ping_ok(port):
                self.proc = proc
                self.port = port
                return True
            time.sleep(0.05)
        proc.kill()
        _wait_proc(proc, T(5))
        _forget_proc(proc)
        raise AssertionError(
            f"redis-server on port {port} did not answer PING in time\n{tail(self.log_path)}")

    def start(self, retries=8):
        """Start on self.port if set (failure is an error), else on a fresh
        free port, retrying with a new port if the bind fails."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        if self.port is not None:
            return self.start_on_port(self.port)
        last = None
        for _ in range(retries):
            port = free_port()
            if self._try_start(port, T(10)):
                return self
            last = tail(self.log_path)
        raise AssertionError(f"redis-server failed to start after {retries} tries:\n{last}")

    def start_on_port(self, port, timeout=None):
        """(Re)start on exactly this port, retrying while the port is busy
        (bounded)."""
        deadline = time.monotonic() + (T(15) if timeout is None else timeout)
        while True:
            if self._try_start(port, T(10)):
                return self
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"redis-server could not start on port {port}:\n{tail(self.log_path)}")
            time.sleep(0.2)

    def restart(self):
        """Start again on the same port (after stop() or kill9())."""
        assert self.port is not None
        if self.running():
            self.stop()
        return self.start_on_port(self.port)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        _wait_proc(self.proc, T(10))
        _forget_proc(self.proc)
        self.proc = None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if _wait_proc(self.proc, T(10)) is None:
                os.kill(self.proc.pid, signal.SIGKILL)
                _wait_proc(self.proc, T(10))
        _forget_proc(self.proc)
        self.proc = None

    def client(self, timeout=None):
        if self.unix_path:
            return RespClient(unix_path=self.unix_path, timeout=timeout)
        return RespClient(port=self.port, timeout=timeout)


class Sentinel(Redis):
    """One Redis Sentinel on 127.0.0.1 (redis-server --sentinel) monitoring
    `master` as master_name, with a short down-after and failover timeout
    so that a failover takes seconds on loopback.  Started, stopped and
    queried like a Redis."""

    def __init__(self, harness, master, name="sentinel", master_name="mymaster", quorum=2,
                 down_after_ms=1000, failover_timeout_ms=3000, password=None):
        # A Sentinel has no ACL file: it and the tests reach it
        # unauthenticated, unless given a password (requirepass, which the
        # Sentinels also use among themselves).
        super().__init__(harness, name=name, acl=False)
        self.password = password
        self.master = master
        self.master_name = master_name
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms

    def _command(self, port):
        # A fresh file per start: Sentinel rewrites it with what it learns.
        conf = os.path.join(self.dir, "sentinel.conf")
        m = self.master_name
        with open(conf, "w", encoding="utf-8") as f:
            f.write(f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {self.dir}\n"
                    f"sentinel monitor {m} 127.0.0.1 {self.master.port} {self.quorum}\n"
                    f"sentinel down-after-milliseconds {m} {self.down_after_ms}\n"
                    f"sentinel failover-timeout {m} {self.failover_timeout_ms}\n"
                    f"sentinel parallel-syncs {m} 1\n")
            if self.password:
                f.write(f"requirepass {self.password}\nsentinel sentinel-pass {self.password}\n")
        return [REDIS_SERVER, conf, "--sentinel"]

    def client(self, timeout=None):
        c = super().client(timeout)
        if self.password:
            c.command("AUTH", self.password)
        return c

    def master_address(self):
        """(host, port) this Sentinel names for the master, or None."""
        with self.client() as c:
            reply = c.command("SENTINEL", "get-master-addr-by-name", self.master_name)
        return None if reply is None else (reply[0].decode(), int(reply[1]))


# --------------------------------------------------------------------------
# Line-protocol client for hotlined

REPLY_RE = re.compile(r"^(OK( \{.*\})?|ERR [a-z_]+ .+)$")
PUSH_RE = re.compile(r"^\* ([a-z_]+) (\{.*\})$")


class ConnectionClosed(Exception):
    """The daemon closed (or reset) the connection."""


class Client(_SocketOwner):
    """One TCP connection to hotlined speaking the line protocol."""

    def __init__(self, port, host="127.0.0.1", timeout=None, rcvbuf=None, source=None):
        """source: the local address to connect from (e.g. "127.0.0.2")."""
        self.timeout = T() if timeout is None else timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(self.timeout)
        try:
            if source:
                self.sock.bind((source, 0))
            self.sock.connect((host, port))
        except BaseException:
            self.sock.close()
            raise
        self.buf = b""
        self.closed_by_peer = False
        self.lines = []      # every line received (decoded), in order
        self.replies = []    # reply lines (not pushes)
        self.pushes = []     # "* ..." lines

    # -- sending
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def send_line(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\n")

    # -- receiving
    def read_line_bytes(self, timeout=None):
        """The next line (without LF) as bytes.  ConnectionClosed on EOF or
        reset; AssertionError on timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1:]
                return line
            if self.closed_by_peer:
                raise ConnectionClosed(f"connection closed (pending partial data {self.buf[:200]!r})")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for a line (have {self.buf[:200]!r})")
            self.sock.settimeout(min(remaining, 1.0))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
                self.closed_by_peer = True
                continue
            if not data:
                self.closed_by_peer = True
                continue
            self.buf += data

    def read_line(self, timeout=None):
        raw = self.read_line_bytes(timeout)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise AssertionError(f"line from daemon is not valid UTF-8: {raw[:200]!r}")
        if "\r" in line:
            raise AssertionError(f"line from daemon contains CR: {line[:200]!r}")
        self.lines.append(line)
        if line.startswith("* "):
            self.pushes.append(line)
        else:
            self.replies.append(line)
        return line

    def read_reply(self, timeout=None):
        """The next reply line, skipping (but recording) pushed lines."""
        while True:
            line = self.read_line(timeout)
            if not line.startswith("* "):
                return line

    def request(self, line, timeout=None):
        self.send_line(line)
        return self.read_reply(timeout)

    def request_json(self, line, timeout=None):
        """Send, expect `OK {json}`, return the parsed object."""
        reply = self.request(line, timeout)
        return parse_ok_json(reply)

    def auth(self, user, secret=None, timeout=None):
        if secret is None:
            secret = f"{user}-secret"
        reply = self.request(f"AUTH {user} {secret}", timeout)
        body = parse_ok_json(reply)
        if body.get("user") != user:
            raise AssertionError(f"AUTH {user}: unexpected reply {reply!r}")
        return body

    def read_until_closed(self, timeout=None):
        """Read lines until the peer closes; return the lines read.  A
        trailing partial line (no LF) is returned as a final element
        prefixed with '<partial>'."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"connection not closed in time; got {got[-5:]!r}")
            try:
                got.append(self.read_line(remaining))
            except ConnectionClosed:
                if self.buf:
                    got.append("<partial>" + self.buf.decode("utf-8", "replace"))
                    self.buf = b""
                return got

    def drain_until_closed(self, timeout=None):
        """Discard everything until EOF/reset (for big outputs); returns
        the number of bytes discarded.  AssertionError on timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        n = len(self.buf)
        self.buf = b""
        if self.closed_by_peer:
            return n
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"connection not closed in time ({n} bytes read)")
            self.sock.settimeout(min(remaining, 1.0))
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
                self.closed_by_peer = True
                return n
            if not data:
                self.closed_by_peer = True
                return n
            n += len(data)

    def pending(self, timeout=0.2):
        """Bytes that arrive within timeout without consuming them: b"" when
        nothing arrived (connection still open), None when the peer closed.
        Includes bytes already buffered by this client."""
        if self.buf:
            return self.buf
        if self.closed_by_peer:
            return None
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536, socket.MSG_PEEK)
        except socket.timeout:
            return b""
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            self.closed_by_peer = True
            return None
        finally:
            self.sock.settimeout(self.timeout)
        if not data:
            self.closed_by_peer = True
            return None
        return data

    def is_open(self, timeout=0.2):
        """True when no EOF/reset arrives within timeout (data is kept)."""
        if self.closed_by_peer:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536, socket.MSG_PEEK)
        except socket.timeout:
            return True
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            self.closed_by_peer = True
            return False
        finally:
            self.sock.settimeout(self.timeout)
        if not data:
            self.closed_by_peer = True
            return False
        return True


def parse_ok_json(reply):
    if not reply.startswith("OK {"):
        raise AssertionError(f"expected 'OK {{json}}', got {reply!r}")
    try:
        body = json.loads(reply[3:])
    except ValueError as e:
        raise AssertionError(f"bad JSON in reply {reply!r}: {e}")
    if not isinstance(body, dict):
        raise AssertionError(f"reply body is not an object: {reply!r}")
    return body


def parse_err(reply):
    """('code', 'message') of an ERR reply, AssertionError otherwise."""
    m = re.match(r"^ERR ([a-z_]+) (.+)$", reply)
    if not m:
        raise AssertionError(f"expected 'ERR <code> <message>', got {reply!r}")
    return m.group(1), m.group(2)


def parse_push(line, kind=None):
    """The JSON body of a pushed line `* kind {...}`."""
    m = PUSH_RE.match(line)
    if not m:
        raise AssertionError(f"expected a pushed line '* kind {{json}}', got {line!r}")
    if kind is not None and m.group(1) != kind:
        raise AssertionError(f"expected '* {kind} ...', got {line!r}")
    try:
        body = json.loads(m.group(2))
    except ValueError as e:
        raise AssertionError(f"bad JSON in pushed line {line!r}: {e}")
    return body


def check_reply_framing(line):
    if not REPLY_RE.match(line):
        raise AssertionError(f"reply does not match the framing: {line[:300]!r}")
    if line.startswith("OK {"):
        parse_ok_json(line)


def connection_refused_or_closed(port, timeout=None):
    """True when a new connection to port is refused, or is accepted but
    closed without a successful reply to PING (never answers OK)."""
    timeout = T(5) if timeout is None else timeout
    try:
        c = Client(port, timeout=timeout)
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    try:
        try:
            c.send_line("PING")
        except OSError:
            return True
        try:
            lines = c.read_until_closed(timeout)
        except AssertionError:
            return False  # stayed open
        return not any(l == "OK" for l in lines)
    finally:
        c.close()


# --------------------------------------------------------------------------
# Secrets

_HASH_CACHE = {}


def passwd_hash(secret):
    """`printf 'SECRET\\n' | hotline passwd` (cached per process)."""
    if secret in _HASH_CACHE:
        return _HASH_CACHE[secret]
    r = subprocess.run([HOTLINE, "passwd"], input=(secret + "\n").encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=T(30))
    out = r.stdout.decode().strip()
    if r.returncode != 0 or not out.startswith("$argon2id$") or "\n" in out:
        raise AssertionError(
            f"hotline passwd failed (rc={r.returncode}): stdout={r.stdout!r} stderr={r.stderr!r}")
    _HASH_CACHE[secret] = out
    return out


DEFAULT_USERS = [("agent1", "agent"), ("agent2", "agent"), ("super1", "supervisor"), ("admin1", "admin")]


def make_users(users=DEFAULT_USERS):
    """Config entries for (name, role) pairs; secret is '<name>-secret'."""
    return [{"name": n, "role": r, "secret": passwd_hash(f"{n}-secret")} for n, r in users]


DEFAULT_LIMITS = {
    "max_connections": 10000,
    "max_unauthenticated": 1000,
    "max_line": 65536,
    "max_line_unauth": 1024,
    "max_output": 1048576,
    "max_pending": 256,
    "idle_timeout": 0,
    "unauth_timeout": 30,
    "max_auth_failures": 5,
    "max_auth_inflight": 64,
    # Every test client comes from 127.0.0.1, and suites such as test_auth
    # fail dozens of logins on purpose: the per-address count stays on (its
    # code runs in every test) but out of their way.  test_auth_throttle
    # sets its own.
    "max_auth_failures_per_addr": 100000,
    "auth_failure_window": 60,
}


def make_config(redis_address, users=None, **overrides):
    """A complete config dict; keyword overrides are deep-merged (e.g.
    limits={"max_output": 4096})."""
    cfg = {
        "listen": ["127.0.0.1:0"],
        "redis": {
            "address": redis_address,
            "key_prefix": "hotline:",
            "connect_timeout_ms": 2000,
            "command_timeout_ms": 5000,
            "reconnect_min_ms": 100,
            "reconnect_max_ms": 1000,
            **(redis_login("hotlined") if REDIS_ACL else {}),
        },
        "users": make_users() if users is None else users,
        "limits": dict(DEFAULT_LIMITS),
        "log": {"level": LOG_LEVEL},
    }
    return deep_merge(cfg, overrides)


def daemon_command(*args):
    cmd = [HOTLINED, *args]
    if VALGRIND:
        cmd = VALGRIND_CMD + cmd
    return cmd


def run_hotlined(*args, timeout=None):
    """Run hotlined with arguments to completion (e.g. --check-config)."""
    return subprocess.run(daemon_command(*args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=T(30) if timeout is None else timeout)


# --------------------------------------------------------------------------
# hotlined

LISTEN_RE = re.compile(r"listening on (\S+):(\d+)")


class Daemon:
    """One hotlined process, with its config file and log file."""

    def __init__(self, harness, config, name="hotlined"):
        self.h = harness
        self.name = name
        self.config = copy.deepcopy(config)
        # Each daemon spools into the test's temp dir (its working directory),
        # never into /var/lib; the spool file is locked per daemon.
        self.config.setdefault("spool", {"path": f"{name}.spool"})
        self.config_path = harness.path(f"{name}.yaml")
        self.proc = None
        self.log_path = None
        self.ports = []
        self.killed = False
        self.exit_status = None
        self._status_reported = False
        self._starts = 0
        self.write_config()

    # -- config
    def write_config(self, config=None, text=None):
        """Rewrite the config file atomically (from a dict, or raw text)."""
        if config is not None:
            self.config = copy.deepcopy(config)
        if text is None:
            text = to_yaml(self.config)
        tmp = self.config_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.config_path)

    # -- lifecycle
    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._starts += 1
        self.log_path = self.h.path(f"{self.name}-{self._starts}.log")
        self.killed = False
        self.exit_status = None
        self._status_reported = False
        logf = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                daemon_command("-c", self.config_path), stdin=subprocess.DEVNULL,
                stdout=logf, stderr=subprocess.STDOUT, cwd=self.h.tmp, start_new_session=True)
        finally:
            logf.close()
        _register_proc(self.proc)
        self.h._daemons.append(self)
        n_listen = len(self.config.get("listen", [])) or 1
        deadline = time.monotonic() + T()
        while True:
            found = LISTEN_RE.findall(self.log_text())
            if len(found) >= n_listen:
                self.ports = [int(p) for _, p in found[:n_listen]]
                break
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                _forget_proc(self.proc)
                self.proc = None
                raise AssertionError(
                    f"hotlined exited with status {rc} before listening\n{tail(self.log_path)}")
            if time.monotonic() >= deadline:
                self.kill9()
                raise AssertionError(f"hotlined did not log 'listening on' in time\n{tail(self.log_path)}")
            time.sleep(0.05)
        return self

    @property
    def port(self):
        return self.ports[0]

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        assert self.running(), "hotlined is not running"
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout=None):
        """Wait (bounded) for the process to exit; return its status."""
        assert self.proc is not None
        rc = _wait_proc(self.proc, T() if timeout is None else timeout)
        if rc is None:
            raise AssertionError(f"hotlined did not exit in time\n{tail(self.log_path)}")
        _forget_proc(self.proc)
        self.exit_status = rc
        return rc

    def kill9(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.killed = True
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _wait_proc(self.proc, T(10))
        _forget_proc(self.proc)
        self.exit_status = self.proc.returncode

    def stop(self, sig=signal.SIGTERM, check=True):
        """Ask the daemon to exit; assert exit status 0 (valgrind/ASan
        clean) unless check=False or it was killed.  Kills it if it does
        not exit in time (and then fails)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            rc = _wait_proc(self.proc, T(20))
            if rc is None:
                self.kill9()
                self.killed = False
                raise AssertionError(f"hotlined did not exit after {sig!r}\n{tail(self.log_path)}")
        _forget_proc(self.proc)
        rc = self.proc.returncode
        self.exit_status = rc
        if check and not self.killed and rc != 0 and not self._status_reported:
            self._status_reported = True  # report a bad status once only
            raise AssertionError(
                f"hotlined exited with status {rc} (expected 0)\n{tail(self.log_path)}")
        return rc

    def check_exit_status(self):
        """After the daemon exited on its own: status must be 0."""
        if self.killed:
            return
        if self.exit_status != 0 and not self._status_reported:
            self._status_reported = True
            raise AssertionError(
                f"hotlined exited with status {self.exit_status} (expected 0)\n{tail(self.log_path)}")

    # -- log
    def log_text(self, since=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_mark(self):
        """An offset into the log; pass as since= to only look at newer lines."""
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def find_log(self, pattern, since=0):
        rx = re.compile(pattern)
        for line in self.log_text(since).splitlines():
            if rx.search(line):
                return line
        return None

    def wait_log(self, pattern, since=0, timeout=None):
        """Wait (bounded) for a log line matching the regex; return it."""
        deadline = time.monotonic() + (T() if timeout is None else timeout)
        while True:
            line = self.find_log(pattern, since)
            if line is not None:
                return line
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no log line matching {pattern!r} in time\n{tail(self.log_path)}")
            time.sleep(0.05)

    LOG_LINE_RE = re.compile(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug) \S")

    def bad_log_lines(self):
        """Log lines not of the form `TIMESTAMP level message` (valgrind's
        own `==pid==` lines are left to its exit status)."""
        bad = []
        for line in self.log_text().splitlines():
            if VALGRIND and re.match(r"^==\d+==", line):
                continue
            if not self.LOG_LINE_RE.match(line):
                bad.append(line)
        return bad

    def log_tail(self):
        return tail(self.log_path) if self.log_path else ""

    # -- clients
    def client(self, **kw):
        return Client(self.port, **kw)

    def auth_client(self, user, **kw):
        c = Client(self.port, **kw)
        try:
            c.auth(user)
        except BaseException:
            c.close()
            raise
        return c


def stats(client):
    """STATS on an authenticated supervisor/admin client, parsed."""
    return client.request_json("STATS")


# --------------------------------------------------------------------------
# Log stream helpers: customers written straight into Redis, the log streams
# (hotline:log:calls, hotline:log:complaints) read back, their hash chain
# (chain.h) verified independently with hashlib, and `hotline verify`.

KEY_PREFIX = "hotline:"  # make_config's redis.key_prefix
GENESIS = "0" * 64  # the prev of a stream's first entry
HEX64 = re.compile(r"^[0-9a-f]{64}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # an entry's ts


def put_customer(r, cid, name, phones=(), accounts=(), **fields):
    """A customer in the documented layout (proto/KEYS.md): HSET
    customer:<cid> id, name, then fields in the order given (None values
    left out) and the comma-joined phones/accounts; SADD cid to
    phone:<number> for each phone; SET account:<a> to cid."""
    args = ["HSET", KEY_PREFIX + "customer:" + cid, "id", cid, "name", name]
    for k, v in fields.items():
        if v is not None:
            args += [k, v]
    if phones:
        args += ["phones", ",".join(phones)]
    if accounts:
        args += ["accounts", ",".join(accounts)]
    r.command(*args)
    for ph in phones:
        r.command("SADD", KEY_PREFIX + "phone:" + ph, cid)
    for a in accounts:
        r.command("SET", KEY_PREFIX + "account:" + a, cid)


def read_stream(r, key):
    """[(id, {field: bytes})] in stream order."""
    out = []
    for sid, flat in r.command("XRANGE", key, "-", "+"):
        out.append((sid.decode(), {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}))
    return out


def stream_entries(r, key, **match):
    """The parsed entry JSON of every stream entry whose fields equal match."""
    out = []
    for _, f in read_stream(r, key):
        e = json.loads(f["entry"])
        if all(e.get(k) == v for k, v in match.items()):
            out.append(e)
    return out


def epoch(ts):
    """Unix seconds of '2026-11-23T01:17:20Z' or (floored) '...20.520Z'."""
    return calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))


def chain_hash(prev, seq_text, entry_bytes):
    return hashlib.sha256(prev.encode() + b"\n" + seq_text.encode() + b"\n" + entry_bytes).hexdigest()


def chain_problems(stream):
    """Verify the hash chain (chain.h) of [(id, fields)]; return a list of
    (index, kind) with kind in modified gap out_of_order broken_link
    malformed id_order.  Re-anchors on each entry, like chain.c, so one
    alteration is reported where it is, not for every later entry."""
    problems = []
    last_seq, last_hash, last_id = 0, GENESIS, (-1, -1)
    for i, (sid, f) in enumerate(stream):
        ms, _, n = sid.partition("-")
        this_id = (int(ms), int(n))
        if this_id <= last_id:
            problems.append((i, "id_order"))
        last_id = this_id
        try:
            seq_text = f["seq"].decode()
            prev = f["prev"].decode()
            h = f["hash"].decode()
            entry = f["entry"]
        except (KeyError, UnicodeDecodeError):
            problems.append((i, "malformed"))
            continue
        if not re.fullmatch(r"[1-9][0-9]*", seq_text) or not HEX64.match(prev) or not HEX64.match(h):
            problems.append((i, "malformed"))
            continue
        seq = int(seq_text)
        if chain_hash(prev, seq_text, entry) != h:
            problems.append((i, "modified"))
        if seq > last_seq + 1:
            problems.append((i, "gap"))
        elif seq <= last_seq:
            problems.append((i, "out_of_order"))
        if prev != last_hash:
            problems.append((i, "broken_link"))
        last_seq, last_hash = seq, h
    return problems


_VERIFY_CLI = None


def hotline_verify(daemon, which="all"):
    """(exit status, findings) of `hotline verify --json` against the
    daemon's config, run in its harness's directory, or None when the CLI
    has no verify command."""
    global _VERIFY_CLI
    if _VERIFY_CLI is None:
        try:
            r = subprocess.run([HOTLINE, "verify", "--help"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=T(30))
            _VERIFY_CLI = r.returncode == 0
        except OSError:
            _VERIFY_CLI = False
    if not _VERIFY_CLI:
        return None
    r = subprocess.run([HOTLINE, "verify", which, "-c", daemon.config_path, "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=daemon.h.tmp, timeout=T(30))
    if r.returncode not in (0, 1):
        raise AssertionError(f"hotline verify failed (rc={r.returncode}): {r.stderr.decode()!r}")
    return r.returncode, [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]


# --------------------------------------------------------------------------
# Harness: the per-script temp dir and cleanup


class Harness:
    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix=f"hotline-{name}-")
        self._daemons = []
        self._redises = []
        self._closed = False
        _HARNESSES.append(self)
        if KEEP_TMP:
            print(f"[harness] keeping temporary directory {self.tmp}", file=sys.stderr)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def redis(self, name=None, **kw):
        """A Redis object (not started)."""
        name = name or f"redis{len(self._redises) + 1}"
        r = Redis(self, name=name, **kw)
        self._redises.append(r)
        return r

    def start_redis(self, name=None, **kw):
        return self.redis(name, **kw).start()

    def start_sentinel(self, master, name=None, **kw):
        """A running Sentinel monitoring master (see Sentinel)."""
        name = name or f"sentinel{len(self._redises) + 1}"
        s = Sentinel(self, master, name=name, **kw)
        self._redises.append(s)
        return s.start()

    def daemon(self, config, name=None):
        """A Daemon object (config written, not started)."""
        name = name or f"hotlined{len(self._daemons) + 1}"
        return Daemon(self, config, name=name)

    def start_daemon(self, redis_address, name=None, users=None, **overrides):
        return self.daemon(make_config(redis_address, users=users, **overrides), name=name).start()

    def close(self):
        """Stop everything; remove the temp dir.  Raises AssertionError if
        a daemon that was still running does not exit with status 0."""
        if self._closed:
            return
        self._closed = True
        problems = []
        for d in self._daemons:
            try:
                d.stop()
            except AssertionError as e:
                problems.append(f"{d.name}: {e}")
            except Exception as e:  # noqa: BLE001 - report, keep cleaning up
                problems.append(f"{d.name}: {e!r}")
        for r in self._redises:
            try:
                r.stop()
            except Exception as e:  # noqa: BLE001
                problems.append(f"{r.name}: {e!r}")
        self._remove_tmp()
        if problems:
            raise AssertionError("cleanup problems:\n" + "\n".join(problems))

    def _remove_tmp(self):
        if KEEP_TMP:
            return
        shutil.rmtree(self.tmp, ignore_errors=True)


def module_harness(name):
    """Create the script's Harness and register its cleanup with unittest
    (runs even if setUpModule fails halfway)."""
    h = Harness(name)
    unittest.addModuleCleanup(h.close)
    return h


# --------------------------------------------------------------------------
# TestCase base: tracked clients, daemon log on failure


class TestCase(unittest.TestCase):
    """Base class: self.connect() clients are closed after each test; on a
    failure the log tails of the daemons listed in `log_daemons()` are
    printed to stderr."""

    maxDiff = None

    def log_daemons(self):
        out = []
        for attr in ("daemon",):
            d = getattr(self, attr, None)
            if isinstance(d, Daemon):
                out.append(d)
        return out

    def connect(self, daemon=None, **kw):
        d = daemon or self.daemon
        c = d.client(**kw)
        self.addCleanup(c.close)
        return c

    def connect_auth(self, user, daemon=None, **kw):
        c = self.connect(daemon, **kw)
        c.auth(user)
        return c

    def run(self, result=None):
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            for d in self.log_daemons():
                if d.log_path:
                    sys.stderr.write(
                        f"\n----- {self.id()}: tail of {d.log_path} -----\n{d.log_tail()}\n-----\n")
        return out

    # -- assertions
    def assertOK(self, reply, msg=None):
        self.assertEqual(reply, "OK", msg)

    def assertErr(self, reply, code, message_re=None, msg=None):
        """reply is `ERR code message` (message matching message_re)."""
        try:
            got_code, message = parse_err(reply)
        except AssertionError as e:
            raise AssertionError(f"{e}{' : ' + msg if msg else ''}") from None
        self.assertEqual(got_code, code, f"reply {reply!r}{' : ' + msg if msg else ''}")
        if message_re is not None:
            self.assertRegex(message, message_re, f"reply {reply!r}")
        return message

    def assertBye(self, line, reason):
        body = parse_push(line, "bye")
        self.assertEqual(body.get("reason"), reason, f"line {line!r}")


# --------------------------------------------------------------------------
# Redis outage helpers


class RedisOutageMixin:
    """For a TestCase with self.redis and self.daemon: take Redis away
    (kill -9) and bring it back, and classify a write made meanwhile."""

    def outage(self):
        mark = self.daemon.log_mark()
        self.redis.kill9()
        self.daemon.wait_log(r"redis link down", since=mark)

    def back(self):
        self.redis.restart()
        sup = self.connect_auth("super1")
        wait_until(lambda: stats(sup)["redis"]["state"] == "up", what="redis link up")

    def spooled_or_unavailable(self, reply):
        """'spooled' or 'unavailable'; anything else fails."""
        if reply.startswith("OK"):
            self.assertIs(parse_ok_json(reply).get("spooled"), True, reply)
            return "spooled"
        self.assertErr(reply, "unavailable")
        return "unavailable"


# --------------------------------------------------------------------------
# Measured figures: printed as `FIGURE <name> <value> <unit>` and kept in
# <build dir>/figures/<suite>.txt (rewritten by each run of the suite), where
# tests/RELIABILITY.md's figures come from.

FIGURES_DIR = os.environ.get("HOTLINE_FIGURES_DIR") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(HOTLINED))), "figures")
FIGURE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_figures_started = set()


def figure(name, value, unit):
    """Report one measured figure (name: lowercase with underscores; unit:
    one word such as bytes, ms, count, MB)."""
    if not FIGURE_NAME_RE.match(name) or not re.fullmatch(r"[A-Za-z/%]+", unit):
        raise ValueError(f"bad figure name or unit: {name!r} {unit!r}")
    if isinstance(value, float):
        value = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    line = f"FIGURE {name} {value} {unit}"
    print(line, flush=True)
    suite = os.path.splitext(os.path.basename(sys.argv[0] or "interactive"))[0]
    path = os.path.join(FIGURES_DIR, suite + ".txt")
    try:
        os.makedirs(FIGURES_DIR, exist_ok=True)
        with open(path, "w" if suite not in _figures_started else "a", encoding="utf-8") as f:
            f.write(line + "\n")
        _figures_started.add(suite)
    except OSError as e:
        print(f"[harness] cannot record the figure in {path}: {e}", file=sys.stderr)


def has_asan(pid):
    """True when the process runs with the address sanitizer (its RSS then
    includes a quarantine of freed memory, up to 256 MB, and shadow)."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def rss_is_judged(pid):
    """Whether a test should hold the process's RSS to a bound: not under
    valgrind or ASan, whose own memory (valgrind's, ASan's quarantine of
    freed memory and shadow) is in it.  Tests still report it."""
    return not VALGRIND and not has_asan(pid)


def vmrss_kb(pid):
    """The process's resident set (VmRSS in /proc/<pid>/status), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def main():
    unittest.main(verbosity=2)
