"""Shared by tools/bench/compare and tools/bench/callgrind: build hotline,
start a private Redis with demo customers, twemproxy and hotlined with bench
accounts, and run `hotline bench`.  Python 3 standard library only; every
process started is stopped at exit."""

import atexit
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SECRET = "bench-secret"
COMMANDS = []  # every command run, for the reports
_PROCS = []
READY_RE = re.compile(r"(\d+) of (\d+) connections ready in ([\d.]+) s")


def log(msg):
    print(f"[{os.path.basename(sys.argv[0])}] {msg}", file=sys.stderr, flush=True)


def stop(p, timeout=30):
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            p.kill()
            p.wait(timeout=5)


def stop_all():
    for p in reversed(_PROCS):
        stop(p)
    _PROCS.clear()


atexit.register(stop_all)


def record(cmd):
    COMMANDS.append(" ".join(cmd))


def run(cmd, **kw):
    record(cmd)
    return subprocess.run(cmd, check=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(addr):
    try:
        if addr.startswith("unix:"):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(addr[5:])
        else:
            host, port = addr.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=1):
                pass
        return True
    except OSError:
        return False


def raise_nofile():
    """Children inherit a file descriptor limit fit for 10,000 connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))


def start(cmd, logfile, ready, what, timeout=60):
    """Start a server; ready() must become true within timeout."""
    record(cmd)
    with open(logfile, "wb") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    _PROCS.append(p)
    deadline = time.monotonic() + timeout
    while not ready():
        if p.poll() is not None:
            sys.exit(f"{what} exited with status {p.returncode}; see {logfile}")
        if time.monotonic() > deadline:
            sys.exit(f"{what} did not start in {timeout} s; see {logfile}")
        time.sleep(0.05)
    return p


def proc_cpu(pid):
    """User + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def machine():
    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "kernel": platform.release(), "cores": os.cpu_count(), "load": os.getloadavg(), "cpu": "unknown"}
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        if m:
            info["cpu"] = m.group(1).strip()
    except OSError:
        pass
    for name, cmd in (("redis", ["redis-server", "--version"]), ("nutcracker", ["nutcracker", "--version"]),
                      ("valgrind", ["valgrind", "--version"])):
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            info[name] = r.stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            info[name] = "not found"
    return info


class Resp:
    """Just enough of a Redis client for setting up: commands, pipelined."""

    def __init__(self, unix_path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(unix_path)
        self.f = self.s.makefile("rb")

    def send(self, *cmds):
        out = []
        for c in cmds:
            out.append(b"*%d\r\n" % len(c))
            for a in c:
                a = a.encode() if isinstance(a, str) else a
                out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return [self.read() for _ in cmds]

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b":":
            return int(rest)
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError(f"bad reply {line!r}")

    def close(self):
        self.s.close()


class Stack:
    """hotline's binaries, and the servers of one benchmark run in tmp."""

    def __init__(self, tmp, build=None):
        self.tmp = tmp
        self.build_dir = os.path.abspath(build) if build else os.path.join(ROOT, "build-bench")
        self.build_given = build is not None

    def build(self):
        if not self.build_given:
            # The project's default build type (RelWithDebInfo: -O2 -g), as installed.
            run(["cmake", "-S", ROOT, "-B", self.build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                stdout=subprocess.DEVNULL)
            run(["cmake", "--build", self.build_dir, "-j", str(os.cpu_count() or 2), "--target", "hotlined",
                 "hotline"], stdout=subprocess.DEVNULL)
        self.hotline = os.path.join(self.build_dir, "tools", "hotline")
        self.hotlined = os.path.join(self.build_dir, "daemon", "hotlined")
        for b in (self.hotline, self.hotlined):
            if not os.access(b, os.X_OK):
                sys.exit(f"{b} is missing: build first or give --build DIR")

    def start_redis(self, fsync="always"):
        """AOF with appendfsync always (as tools/dev/run), on a unix socket
        and a loopback port."""
        self.redis_port = free_port()
        self.redis_sock = os.path.join(self.tmp, "redis.sock")
        cmd = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--unixsocket",
               self.redis_sock, "--unixsocketperm", "700", "--dir", self.tmp, "--appendonly", "yes",
               "--appendfsync", fsync, "--save", "", "--maxclients", "20000"]
        self.redis = start(cmd, os.path.join(self.tmp, "redis.log"), lambda: can_connect("unix:" + self.redis_sock),
                           "redis-server")
        self.redis_tcp = f"127.0.0.1:{self.redis_port}"

    def write_hotlined_config(self, n_users, redis_address, log_level="warn"):
        """Demo-free config: bench accounts bench0001.. (hotline bench --make-users)."""
        self.secret_file = os.path.join(self.tmp, "bench.secret")
        with open(self.secret_file, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(self.secret_file, 0o600)
        self.n_users = n_users
        cmd = [self.hotline, "bench", "--make-users", str(n_users), "--secret-file", self.secret_file]
        record(cmd)
        users = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        self.hl_port = free_port()
        self.hotlined_cfg = os.path.join(self.tmp, "hotline.yaml")
        with open(self.hotlined_cfg, "w") as f:
            f.write(f'listen: ["127.0.0.1:{self.hl_port}"]\n'
                    f'redis:\n  address: "{redis_address}"\n'
                    'phone:\n  default_country: "86"\n'
                    f'spool:\n  path: "{self.tmp}/spool.log"\n'
                    'limits:\n  max_connections: 20000\n'
                    f'log:\n  level: {log_level}\n'
                    f"users:\n{users}")

    def load_customers(self, n):
        """n demo customers through the real generator and importer; the
        numbers held by exactly one customer go to self.phones."""
        data = os.path.join(self.tmp, "customers.jsonl")
        with open(data, "wb") as f:
            run([self.hotline, "demo-data", str(n)], stdout=f)
        t = time.monotonic()
        run([self.hotline, "import", "customers", data, "-c", self.hotlined_cfg, "--quiet"],
            stdout=subprocess.DEVNULL)
        log(f"{n} customers imported in {time.monotonic() - t:.1f} s")
        r = Resp(self.redis_sock)
        phones, cursor = [], "0"
        while True:
            cursor, keys = r.send(["SCAN", cursor, "MATCH", "hotline:phone:*", "COUNT", "10000"])[0]
            cursor = cursor.decode()
            if keys:
                counts = r.send(*[["SCARD", k] for k in keys])
                phones += [k.decode()[len("hotline:phone:"):] for k, c in zip(keys, counts) if c == 1]
            if cursor == "0":
                break
        r.close()
        self.phones = os.path.join(self.tmp, "phones.txt")
        with open(self.phones, "w") as f:
            f.write("\n".join(sorted(phones)) + "\n")
        log(f"{len(phones)} phone numbers held by one customer each")

    def start_twemproxy(self, backend):
        if not shutil.which("nutcracker"):
            sys.exit("nutcracker (twemproxy) is not installed: apt-get install nutcracker (tools/dev/deps)")
        self.nc_port = free_port()
        conf = os.path.join(self.tmp, "nutcracker.yml")
        # One server connection, like hotlined's one Redis link; our own
        # config and port: the Debian package's service plays no part.
        with open(conf, "w") as f:
            f.write(f"hotline:\n  listen: 127.0.0.1:{self.nc_port}\n  redis: true\n  hash: fnv1a_64\n"
                    f"  distribution: ketama\n  auto_eject_hosts: false\n  server_connections: 1\n"
                    f"  timeout: 10000\n  backlog: 4096\n  client_connections: 20000\n"
                    f"  servers:\n   - {backend}:1\n")
        run(["nutcracker", "-t", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cmd = ["nutcracker", "-c", conf, "-s", str(free_port()), "-p", os.path.join(self.tmp, "nutcracker.pid"),
               "-o", os.path.join(self.tmp, "nutcracker.log")]
        self.twemproxy = start(cmd, os.path.join(self.tmp, "nutcracker.out"),
                               lambda: can_connect(f"127.0.0.1:{self.nc_port}"), "nutcracker")

    def start_hotlined(self, wrapper=(), timeout=60):
        self.hotlined_proc = start([*wrapper, self.hotlined, "-c", self.hotlined_cfg],
                                   os.path.join(self.tmp, "hotlined.log"),
                                   lambda: can_connect(f"127.0.0.1:{self.hl_port}"), "hotlined", timeout)
        return self.hotlined_proc

    def target_args(self, target, connections):
        """hotline bench's arguments for a target."""
        if target == "hotlined":
            return ["--to", f"127.0.0.1:{self.hl_port}", "--secret-file", self.secret_file,
                    "--users", str(min(connections, self.n_users))]
        if target == "twemproxy":
            return ["--resp", "--to", f"127.0.0.1:{self.nc_port}"]
        return ["--resp", "--to", self.redis_tcp]

    def bench(self, args, on_ready=None, hold=False):
        """Run hotline bench ARGS with a JSON report; on_ready(n) is called
        once its n connections are in (login is over).  With hold, the run
        only begins when on_ready has returned.  Returns (exit status,
        report or None, stderr)."""
        report = os.path.join(self.tmp, "report.json")
        if os.path.exists(report):
            os.unlink(report)
        cmd = [self.hotline, "bench", *args, "--json", report] + (["--hold"] if hold else [])
        record(cmd)
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.PIPE if hold else subprocess.DEVNULL)
        err = []
        for line in p.stderr:
            err.append(line)
            m = READY_RE.search(line)
            if m and on_ready:
                on_ready(int(m.group(1)))
                on_ready = None
            if m and hold:
                p.stdin.write("go\n")
                p.stdin.close()
        rc = p.wait()
        rep = None
        if os.path.exists(report):
            with open(report) as f:
                rep = json.load(f)
        return rc, rep, "".join(err)
