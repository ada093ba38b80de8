"""`hotline import customers`: CSV and JSON Lines in, the Redis layout of
proto/KEYS.md out.  Every rejection reason with its FILE:LINE, re-import
idempotence (no write at all), phones and accounts moving between
customers, the tier pyramid on a known distribution, --dry-run, and Redis
being unreachable.  One private redis-server, flushed before each test."""

import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
REDIS = None
CONFIG = None  # path of a daemon config pointing at REDIS, phone.default_country 86
# The same without a Redis login (Redis's default user, the tests' superuser):
# for other key prefixes than hotline:, which the shipped ACL does not cover.
CONFIG_ANY_PREFIX = None
P = "hotline:"

SUMMARY_RE = re.compile(
    r"^added (\d+), updated (\d+), unchanged (\d+), rejected (\d+) \([\d.]+ s, \d+ rows/s\)$", re.M)
WRITE_COMMANDS = ("multi", "exec", "hset", "hmset", "hdel", "sadd", "srem", "set", "del", "zadd")


def setUpModule():
    global H, REDIS, CONFIG, CONFIG_ANY_PREFIX
    H = harness.module_harness("import")
    REDIS = H.start_redis()
    CONFIG = H.path("hotline.yaml")
    # The import logs in as the ACL's hotline-admin, as operators run it
    # (the daemon's user hotlined may not write customer records).
    cfg = harness.make_config(REDIS.address, users=harness.make_users([("admin1", "admin")]),
                              phone={"default_country": "86"},
                              redis=harness.redis_login("hotline-admin") if harness.REDIS_ACL else {})
    with open(CONFIG, "w", encoding="utf-8") as f:
        f.write(harness.to_yaml(cfg))
    CONFIG_ANY_PREFIX = H.path("hotline-any-prefix.yaml")
    with open(CONFIG_ANY_PREFIX, "w", encoding="utf-8") as f:
        f.write(harness.to_yaml(harness.deep_merge(cfg, {"redis": {"user": None, "password_file": None}})))


def run(*args, stdin=None, config=True):
    """hotline import customers ARGS; returns (rc, stdout, stderr)."""
    cmd = [harness.HOTLINE, "import", "customers", *args]
    if config:
        cmd += ["-c", CONFIG]
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=T(120))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def summary(out):
    m = SUMMARY_RE.search(out)
    if not m:
        raise AssertionError(f"no summary line in {out!r}")
    return tuple(int(x) for x in m.groups())


def dump(r, prefix=P):
    """Every key under prefix (without it) with its type and full value."""
    out = {}
    for k in r.command("KEYS", prefix + "*"):
        key = k.decode()
        t = r.command("TYPE", key)
        name = key[len(prefix):]
        if t == "hash":
            v = r.command("HGETALL", key)
            out[name] = ("hash", {v[i].decode(): v[i + 1].decode() for i in range(0, len(v), 2)})
        elif t == "set":
            out[name] = ("set", sorted(m.decode() for m in r.command("SMEMBERS", key)))
        elif t == "string":
            out[name] = ("string", r.command("GET", key).decode())
        elif t == "zset":
            v = r.command("ZRANGE", key, 0, -1, "WITHSCORES")
            out[name] = ("zset", [(v[i].decode(), float(v[i + 1])) for i in range(0, len(v), 2)])
        else:
            out[name] = (t, None)
    return out


def write_calls(r):
    """Calls so far of every command the import may write with."""
    stats = r.command("INFO", "commandstats").decode()
    calls = {}
    for m in re.finditer(r"^cmdstat_(\w+):calls=(\d+)", stats, re.M):
        calls[m.group(1)] = int(m.group(2))
    return {c: calls.get(c, 0) for c in WRITE_COMMANDS}


def csv_text(rows, eol="\n"):
    return eol.join(rows) + eol


class ImportTest(harness.TestCase):
    def setUp(self):
        self.r = REDIS.client()
        self.addCleanup(self.r.close)
        self.r.command("FLUSHALL")

    def file(self, name, content):
        path = H.path(name)
        with open(path, "wb") as f:
            f.write(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    def assert_rejections(self, err, path, expected):
        """stderr holds exactly one `path:LINE: ...` line per (line, regex), in order."""
        got = [l for l in err.splitlines() if l.startswith(path + ":")]
        self.assertEqual(len(got), len(expected), f"stderr:\n{err}")
        for line, (want_line, rx) in zip(got, expected):
            prefix = f"{path}:{want_line}: "
            self.assertTrue(line.startswith(prefix), f"{line!r} does not start with {prefix!r}")
            self.assertRegex(line[len(prefix):], rx)

    def customer(self, cid, prefix=P):
        v = self.r.command("HGETALL", prefix + "customer:" + cid)
        return {v[i].decode(): v[i + 1].decode() for i in range(0, len(v), 2)}

    def members(self, key):
        return sorted(m.decode() for m in self.r.command("SMEMBERS", P + key))

    # ------------------------------------------------------------------ good files

    GOOD_CSV = csv_text([
        "\ufeffid,name,phones,accounts,tier,status,lifecycle,credit,team,type,region,revenue,since,"
        "attention,notes",
        'c1,"Wang, Fang",138 0013 8000;+86 10 6552 9988,AC1|AC2,,developing,formation,good,sales-a,'
        'consumer,"Beijing ""North""",1234.5,2011-03-04,special,"prefers email, mornings"',
        "c2,Li Wei,,,,,,,,,,,,,",
    ], eol="\r\n")

    GOOD_JSONL = "\ufeff" + csv_text([
        json.dumps({"id": "c1", "name": "Wang, Fang", "phones": ["138 0013 8000", "+86 10 6552 9988"],
                    "accounts": ["AC1", "AC2"], "status": "developing", "lifecycle": "formation",
                    "credit": "good", "team": "sales-a", "type": "consumer", "region": 'Beijing "North"',
                    "revenue": 1234.5, "since": "2011-03-04", "attention": "special",
                    "notes": "prefers email, mornings"}),
        "",
        json.dumps({"id": "c2", "name": "Li Wei", "revenue": None}),
    ], eol="\r\n")

    def test_good_csv(self):
        path = self.file("good.csv", self.GOOD_CSV)
        rc, out, err = run(path)
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (2, 0, 0, 0))
        self.assertNotIn("\r", err, "no progress line when stderr is not a terminal")
        self.assertEqual(self.customer("c1"), {
            "id": "c1", "name": "Wang, Fang", "phones": "+8613800138000,+861065529988",
            "accounts": "AC1,AC2", "tier": "lead", "status": "developing", "lifecycle": "formation",
            "credit": "good", "team": "sales-a", "type": "consumer", "region": 'Beijing "North"',
            "revenue": "1234.50", "since": "2011-03-04", "attention": "special",
            "notes": "prefers email, mornings"})
        self.assertEqual(self.customer("c2"), {
            "id": "c2", "name": "Li Wei", "tier": "lead", "status": "active", "lifecycle": "exploration"})
        self.assertEqual(self.members("phone:+8613800138000"), ["c1"])
        self.assertEqual(self.members("phone:+861065529988"), ["c1"])
        self.assertEqual(self.r.command("GET", P + "account:AC1"), b"c1")
        self.assertEqual(self.r.command("GET", P + "account:AC2"), b"c1")
        self.assertEqual(self.r.command("ZRANGE", P + "customers:revenue", 0, -1, "WITHSCORES"),
                         [b"c2", b"0", b"c1", b"1234.5"])
        self.assertEqual(len(dump(self.r)), 7, "nothing but the documented keys")

    def test_jsonl_equals_csv(self):
        """The same records as CSV and as JSON Lines (BOM, CRLF, a blank line) give the same keys;
        --prefix puts them side by side."""
        rc, out, err = run(self.file("good.csv", self.GOOD_CSV), "--prefix", "a:", "-c", CONFIG_ANY_PREFIX,
                           config=False)
        self.assertEqual(rc, 0, err)
        rc, out, err = run(self.file("good.jsonl", self.GOOD_JSONL), "--prefix", "b:", "-c", CONFIG_ANY_PREFIX,
                           config=False)
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (2, 0, 0, 0))
        a, b = dump(self.r, "a:"), dump(self.r, "b:")
        self.assertEqual(len(a), 7)
        self.assertEqual(a, b)

    def test_stdin_needs_format(self):
        rc, out, err = run("-", "--format", "jsonl", stdin=self.GOOD_JSONL.encode())
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (2, 0, 0, 0))
        rc, out, err = run("-", stdin=b"")
        self.assertEqual(rc, 64, err)
        self.assertIn("--format", err)

    def test_csv_multiline_field_and_line_numbers(self):
        """A quoted field spanning lines is one record, reported at the line it starts on (notes may
        not hold a newline), and the lines after it keep their true numbers."""
        content = csv_text([
            "id,name,notes",
            'm1,"Multi, ""quoted""",plain',
            'm2,Two,"line one',
            'line two"',
            "m3,Three,x",
            "m4,,x",
            'm5,"Five"x,y',
            'm6,Six,"open quote',
        ], eol="\r\n")
        path = self.file("multi.csv", content)
        rc, out, err = run(path)
        self.assertEqual(rc, 1, err)
        self.assert_rejections(err, path, [
            (3, r"^field 'notes': control characters"),
            (6, r"^missing required field 'name'"),
            (7, r"^text after a closing quote"),
            (8, r"^quoted field not closed"),
        ])
        self.assertEqual(summary(out), (2, 0, 0, 4))
        self.assertEqual(self.customer("m1")["name"], 'Multi, "quoted"')
        self.assertEqual(self.customer("m3")["notes"], "x")

    # ------------------------------------------------------------------ rejections

    def test_csv_rejections(self):
        seventeen = ";".join(f"+86138000000{i:02d}" for i in range(17))
        content = csv_text([
            "id,name,phones,accounts,status,revenue,since",
            "g1,Good One,13800138000,,,,",               # 2
            ",No Id,,,,,",                               # 3
            "r2,,,,,,",                                  # 4
            "r3,X,,,sleeping,,",                         # 5
            "r4,X,,,,-5,",                               # 6
            "r5,X,,,,,2023-02-30",                       # 7
            "r6,X,call-me,,,,",                          # 8
            f"r7,X,{seventeen},,,,",                     # 9
            "g2,Good Two,,ACC1,,,",                      # 10
            "g1,Again,,,,,",                             # 11
            "r8,X,,ACC1,,,",                             # 12
            "r9,X",                                      # 13
            "g3,Good Three,,,,12.5,2024-02-29",          # 14
        ])
        path = self.file("bad.csv", content)
        rc, out, err = run(path)
        self.assertEqual(rc, 1, err)
        self.assert_rejections(err, path, [
            (3, r"^missing required field 'id'"),
            (4, r"^missing required field 'name'"),
            (5, r"^field 'status': 'sleeping' is not one of"),
            (6, r"^field 'revenue': "),
            (7, r"^field 'since': "),
            (8, r"^field 'phones': number 1: "),
            (9, r"^field 'phones': more than 16 numbers"),
            (11, r"^duplicate id, first seen at line 2$"),
            (12, r"^field 'accounts': account 1 is already claimed by the customer at line 10$"),
            (13, r"^2 fields, the header has 7$"),
        ])
        self.assertEqual(summary(out), (3, 0, 0, 10))
        self.assertEqual(sorted(k for k in dump(self.r) if k.startswith("customer:")),
                         ["customer:g1", "customer:g2", "customer:g3"])
        self.assertEqual(self.customer("g1")["name"], "Good One")
        self.assertEqual(self.r.command("GET", P + "account:ACC1"), b"g2")

    def test_csv_unknown_column(self):
        """A header naming an unknown field makes every row meaningless: nothing is imported."""
        path = self.file("email.csv", csv_text(["id,name,email", "e1,Someone,a@example.com"]))
        rc, out, err = run(path)
        self.assertEqual(rc, 1, err)
        self.assert_rejections(err, path, [(1, r"^header: unknown field 'email'$")])
        self.assertEqual(dump(self.r), {})
        path = self.file("noid.csv", csv_text(["name", "Someone"]))
        rc, out, err = run(path)
        self.assertEqual(rc, 1, err)
        self.assert_rejections(err, path, [(1, r"^header: no 'id' column$")])

    def test_jsonl_rejections(self):
        content = csv_text([
            json.dumps({"id": "j1", "name": "Good"}),                        # 1
            "[1, 2]",                                                        # 2
            '{"id": "j2", ',                                                 # 3
            json.dumps({"id": "j3", "name": 42}),                            # 4
            json.dumps({"id": "j4", "name": "N", "phones": 5}),              # 5
            json.dumps({"id": "j5", "name": "N", "revenue": True}),          # 6
            json.dumps({"id": "j6", "name": "N", "email": "x@example.com"}),  # 7
            '"just a string"',                                               # 8
            json.dumps({"name": "No Id"}),                                   # 9
            "",                                                              # 10
            json.dumps({"id": "j1", "name": "Again"}),                       # 11
            '{"id": "j7", "name": "N", "id": "j8"}',                         # 12
            json.dumps({"id": "j9", "name": "N", "accounts": ["A1", 7]}),    # 13
            json.dumps({"id": "j10", "name": "Good too", "accounts": ["A1"]}),  # 14
            json.dumps({"id": "j11", "name": "N", "accounts": ["A1"]}),      # 15
        ])
        path = self.file("bad.jsonl", content)
        rc, out, err = run(path)
        self.assertEqual(rc, 1, err)
        self.assert_rejections(err, path, [
            (2, r"^expected a JSON object$"),
            (3, r"^invalid JSON at column \d+"),
            (4, r"^field 'name': expected a string$"),
            (5, r"^field 'phones': expected an array of strings$"),
            (6, r"^field 'revenue': expected a number"),
            (7, r"^unknown field 'email'$"),
            (8, r"^expected a JSON object$"),
            (9, r"^missing required field 'id'$"),
            (11, r"^duplicate id, first seen at line 1$"),
            (12, r"^invalid JSON at column \d+: duplicate object key$"),
            (13, r"^field 'accounts': element 2: expected a string$"),
            (15, r"^field 'accounts': account 1 is already claimed by the customer at line 14$"),
        ])
        self.assertEqual(summary(out), (2, 0, 0, 12))
        self.assertEqual(sorted(k for k in dump(self.r) if k.startswith("customer:")),
                         ["customer:j1", "customer:j10"])
        self.assertNotIn("example.com", err, "rejections do not repeat personal data")

    # ------------------------------------------------------------------ re-import and moves

    def test_reimport_writes_nothing(self):
        rows = ["id,name,phones,accounts,revenue,status"]
        for i in range(300):
            rows.append(f"k{i:03d},Name {i},+86138{i:08d}|+8610{i:08d},ACC{i},{i * 10}.5,"
                        f"{['active', 'dormant'][i % 2]}")
        path = self.file("many.csv", csv_text(rows))
        rc, out, err = run(path, "--batch", "64")
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (300, 0, 0, 0))
        before, calls = dump(self.r), write_calls(self.r)
        self.assertEqual(len(before), 300 * 4 + 1)
        rc, out, err = run(path, "--batch", "64")
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (0, 0, 300, 0))
        self.assertEqual(dump(self.r), before)
        self.assertEqual(write_calls(self.r), calls, "an unchanged file sends no write at all")

        # One changed field is one HSET in one transaction.
        rows[5] = rows[5].replace("Name 4,", "Name Four,")
        rc, out, err = run(self.file("many2.csv", csv_text(rows)), "--batch", "64")
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (0, 1, 299, 0))
        after = write_calls(self.r)
        self.assertEqual({c: after[c] - calls[c] for c in WRITE_COMMANDS if after[c] != calls[c]},
                         {"multi": 1, "exec": 1, "hset": 1})
        self.assertEqual(self.customer("k004")["name"], "Name Four")

    def test_reimport_converges(self):
        """Whatever changes between two exports (phones and accounts changing hands, fields
        appearing and going), importing the second over the first gives exactly the keys a fresh
        import of the second gives.  Small batches put givers and takers in different ones."""
        def export(seed, n):
            rnd = random.Random(seed)
            accounts = [f"AC{i}" for i in range(n * 2)]
            rnd.shuffle(accounts)
            phones = [f"+86138{i:08d}" for i in range(n)]
            lines = []
            for i in range(n):
                rec = {"id": f"r{i:03d}", "name": f"Name {rnd.randint(0, 3)}",
                       "phones": rnd.sample(phones, rnd.randint(0, 3)),
                       "accounts": [accounts.pop() for _ in range(rnd.randint(0, 2))]}
                for field, values in (("status", ["active", "dormant", None]),
                                      ("revenue", [None, 0, 12.5, rnd.randint(1, 9999)]),
                                      ("team", [None, "sales-a", "sales-b"]),
                                      ("notes", [None, "VIP, call mornings"])):
                    v = rnd.choice(values)
                    if v is not None:
                        rec[field] = v
                lines.append(json.dumps(rec))
            rnd.shuffle(lines)
            return self.file(f"export{seed}.jsonl", csv_text(lines))

        first, second = export(1, 150), export(2, 180)
        rc, out, err = run(second, "--batch", "7")
        self.assertEqual(rc, 0, err)
        fresh = dump(self.r)
        self.r.command("FLUSHALL")
        rc, out, err = run(first, "--batch", "7")
        self.assertEqual(rc, 0, err)
        rc, out, err = run(second, "--batch", "7")
        self.assertEqual(rc, 0, err)
        added, updated, unchanged, rejected = summary(out)
        self.assertEqual((added, rejected), (30, 0))
        self.assertEqual(dump(self.r), fresh)

    def test_changed_record_removes_fields(self):
        path = self.file("v1.jsonl", json.dumps({"id": "u1", "name": "U", "team": "sales-a",
                                                 "revenue": 10, "phones": ["+8613800000001"]}) + "\n")
        rc, out, err = run(path)
        self.assertEqual(rc, 0, err)
        path = self.file("v2.jsonl", json.dumps({"id": "u1", "name": "U", "credit": "poor"}) + "\n")
        rc, out, err = run(path)
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (0, 1, 0, 0))
        self.assertEqual(self.customer("u1"), {"id": "u1", "name": "U", "credit": "poor", "tier": "lead",
                                               "status": "active", "lifecycle": "exploration"})
        self.assertEqual(self.r.command("EXISTS", P + "phone:+8613800000001"), 0)
        self.assertEqual(self.r.command("ZSCORE", P + "customers:revenue", "u1"), b"0")

    def test_phone_moves(self):
        rc, out, err = run(self.file("p1.csv", csv_text([
            "id,name,phones", "A,Ann,+8613800000001;+8613800000002", "B,Bob,+8613800000003"])))
        self.assertEqual(rc, 0, err)
        # The number leaves A for B; with --batch 1 A and B are in different transactions.
        for batch in ("1000", "1"):
            rc, out, err = run(self.file("p2.csv", csv_text([
                "id,name,phones", "A,Ann,+8613800000002", "B,Bob,+8613800000003;+8613800000001"])),
                "--batch", batch)
            self.assertEqual(rc, 0, err)
            self.assertEqual(self.members("phone:+8613800000001"), ["B"])
            self.assertEqual(self.customer("A")["phones"], "+8613800000002")
            self.assertEqual(self.customer("B")["phones"], "+8613800000003,+8613800000001")
            run(self.file("p1.csv", csv_text([
                "id,name,phones", "A,Ann,+8613800000001;+8613800000002", "B,Bob,+8613800000003"])))
            self.assertEqual(self.members("phone:+8613800000001"), ["A"])

    def test_account_moves(self):
        rc, out, err = run(self.file("a1.csv", csv_text([
            "id,name,accounts", "A,Ann,X1|X2", "B,Bob,X3", "C,Cid,X4"])))
        self.assertEqual(rc, 0, err)
        # Within the file: A gives X1 to B (in both orders of the rows).
        rc, out, err = run(self.file("a2.csv", csv_text(["id,name,accounts", "B,Bob,X3|X1", "A,Ann,X2"])))
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (0, 2, 0, 0))
        self.assertEqual(self.r.command("GET", P + "account:X1"), b"B")
        self.assertEqual(self.customer("A")["accounts"], "X2")
        # From a customer the file does not mention: C's list is fixed too.
        rc, out, err = run(self.file("a3.csv", csv_text(["id,name,accounts", "D,Dan,X4"])))
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (1, 0, 0, 0))
        self.assertEqual(self.r.command("GET", P + "account:X4"), b"D")
        self.assertNotIn("accounts", self.customer("C"))
        # B and A give up accounts nobody takes: those keys go.
        rc, out, err = run(self.file("a4.csv", csv_text(["id,name,accounts", "A,Ann,", "B,Bob,X3"])))
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.r.command("EXISTS", P + "account:X1", P + "account:X2"), 0)
        self.assertEqual(self.r.command("GET", P + "account:X3"), b"B")
        self.assertEqual(self.customer("B")["accounts"], "X3")
        # An account that already moved on is not deleted by its former owner dropping it.
        self.r.command("SET", P + "account:X3", "D")
        rc, out, err = run(self.file("a5.csv", csv_text(["id,name,accounts", "B,Bob,"])))
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.r.command("GET", P + "account:X3"), b"D")

    # ------------------------------------------------------------------ tiers

    def tier_population(self):
        """200 customers: ties straddle every tier boundary, ids in byte order (upper case first)."""
        people = [("p1", 100000), ("tie1-b", 90000), ("tie1-a", 90000)]
        people += [(f"gold{i}", 85000 - 1000 * i) for i in range(6)]
        people += [("tie2-a", 50000), ("tie2-B", 50000)]
        people += [(f"iron{i:02d}", 40000 - 1000 * i) for i in range(28)]
        people += [("tie3-b", 1000), ("tie3-a", 1000)]
        people += [(f"lead{i:03d}", 900 - i) for i in range(100)]
        people += [(f"zero{i:02d}", None) for i in range(59)]
        self.assertEqual(len(people), 200)
        lines = []
        for cid, rev in people:
            rec = {"id": cid, "name": "N " + cid}
            if rev is not None:
                rec["revenue"] = rev
            lines.append(json.dumps(rec))
        return self.file("tiers.jsonl", csv_text(lines))

    def tiers_output(self, out):
        rows = {}
        for m in re.finditer(r"^\s+(platinum|gold|iron|lead)\s+(\d+)(?:\s+revenue ([\d.]+)\.\.([\d.]+))?"
                             r"\s+changed (\d+)$", out, re.M):
            rows[m.group(1)] = (int(m.group(2)), m.group(3), m.group(4), int(m.group(5)))
        return rows

    def test_tiers(self):
        path = self.tier_population()
        rc, out, err = run(path, "--tiers")
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (200, 0, 0, 0))
        self.assertIn("tiers: 200 customers, 40 changed", out)
        self.assertEqual(self.tiers_output(out), {
            "platinum": (2, "90000.00", "100000.00", 2),
            "gold": (8, "50000.00", "90000.00", 8),
            "iron": (30, "1000.00", "50000.00", 30),
            "lead": (160, "0.00", "1000.00", 0),
        })

        def tier(cid):
            return self.r.command("HGET", P + "customer:" + cid, "tier").decode()

        self.assertEqual([tier(c) for c in ("p1", "tie1-a", "tie1-b")], ["platinum", "platinum", "gold"])
        self.assertEqual([tier(c) for c in ("gold5", "tie2-B", "tie2-a")], ["gold", "gold", "iron"])
        self.assertEqual([tier(c) for c in ("iron27", "tie3-a", "tie3-b", "lead000")],
                         ["iron", "iron", "lead", "lead"])
        counts = {}
        for k in self.r.command("KEYS", P + "customer:*"):
            t = self.r.command("HGET", k, "tier").decode()
            counts[t] = counts.get(t, 0) + 1
        self.assertEqual(counts, {"platinum": 2, "gold": 8, "iron": 30, "lead": 160})

        # Again: nothing to change.  The file names no tier, so re-importing keeps the computed ones.
        before = dump(self.r)
        rc, out, err = run("--tiers")
        self.assertEqual(rc, 0, err)
        self.assertIn("tiers: 200 customers, 0 changed", out)
        rc, out, err = run(path)
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (0, 0, 200, 0))
        self.assertEqual(dump(self.r), before)

        # A revenue change moves a customer up; the one it displaces goes down.
        self.file("up.jsonl", json.dumps({"id": "lead000", "name": "N lead000", "revenue": 95000}) + "\n")
        rc, out, err = run(H.path("up.jsonl"), "--tiers")
        self.assertEqual(rc, 0, err)
        self.assertEqual(summary(out), (0, 1, 0, 0))
        self.assertIn("tiers: 200 customers, 4 changed", out)  # lead000 up; tie1-a, tie2-B, tie3-a down
        self.assertEqual([tier(c) for c in ("lead000", "tie1-a", "tie2-B", "tie3-a", "tie3-b")],
                         ["platinum", "gold", "iron", "lead", "lead"])

    # ------------------------------------------------------------------ dry run, failures, usage

    def test_dry_run_writes_nothing(self):
        calls = write_calls(self.r)
        path = self.file("dry.csv", csv_text(["id,name,accounts", "d1,D,X", "d2,,", "d3,E,X"]))
        # An address where nothing listens: a dry run does not even connect.
        rc, out, err = run(path, "--dry-run", "--redis", f"127.0.0.1:{harness.free_port()}")
        self.assertEqual(rc, 1, err)
        self.assertRegex(out, r"^dry run: valid 1, rejected 2 \(")
        self.assert_rejections(err, path, [
            (3, r"^missing required field 'name'"),
            (4, r"^field 'accounts': account 1 is already claimed by the customer at line 2$"),
        ])
        rc, out, err = run(path, "--dry-run")
        self.assertEqual(rc, 1, err)
        self.assertEqual(dump(self.r), {})
        self.assertEqual(write_calls(self.r), calls)

    @unittest.skipIf(os.path.exists("/etc/hotline/hotline.yaml"), "a system config exists")
    def test_no_config_uses_defaults(self):
        path = self.file("d.csv", csv_text(["id,name,phones", "d1,D,13800138000"]))
        rc, out, err = run(path, "--dry-run", config=False)
        self.assertEqual(rc, 0, err)
        self.assertIn("using Redis at 127.0.0.1:6379, prefix \"hotline:\", default phone rules", err)

    def test_redis_unreachable(self):
        port = harness.free_port()
        path = self.file("g.csv", csv_text(["id,name", "g1,G"]))
        rc, out, err = run(path, "--redis", f"127.0.0.1:{port}")
        self.assertEqual(rc, 2, err)
        self.assertIn(f"cannot connect to Redis at 127.0.0.1:{port}", err)
        rc, out, err = run("--tiers", "--redis", f"127.0.0.1:{port}")
        self.assertEqual(rc, 2, err)
        self.assertIn("cannot connect to Redis", err)

    def test_redis_stops_answering(self):
        """A Redis that takes the connection and the PING, then goes silent: exit 2 once
        redis.command_timeout_ms has passed, saying what happened and where the import stopped."""
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(srv.close)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(T(10))

        def serve():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(T(10))
                try:
                    conn.recv(1024)  # PING
                    conn.sendall(b"+PONG\r\n")
                    while conn.recv(65536):  # swallow everything until the client gives up
                        pass
                except OSError:
                    pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        self.addCleanup(t.join, T(15))
        cfg_path = H.path("silent.yaml")
        # No Redis login: this stand-in answers the PING only.
        cfg = harness.make_config(f"127.0.0.1:{srv.getsockname()[1]}",
                                  users=harness.make_users([("admin1", "admin")]),
                                  redis={"command_timeout_ms": 300, "user": None, "password_file": None})
        with open(cfg_path, "w", encoding="utf-8") as f:
            f.write(harness.to_yaml(cfg))
        path = self.file("g.csv", csv_text(["id,name", "g1,G"]))
        rc, out, err = run(path, "-c", cfg_path, config=False)
        self.assertEqual(rc, 2, err)
        self.assertIn("no answer within redis.command_timeout_ms", err)
        self.assertIn("stopped: the rows before line 2 were written", err)

    def test_unix_socket(self):
        r2 = H.start_redis(name="unixredis", unix_socket=True)
        self.addCleanup(r2.stop)
        rc, out, err = run(self.file("g.csv", csv_text(["id,name", "g1,G"])), "--redis", r2.address)
        self.assertEqual(rc, 0, err)
        with r2.client() as c:
            self.assertEqual(c.command("HGET", P + "customer:g1", "name"), b"G")

    def test_cannot_run(self):
        rc, out, err = run(H.path("missing.csv"))
        self.assertEqual(rc, 2, err)
        self.assertIn("cannot open", err)
        self.assertIn("missing.csv", err)
        rc, out, err = run(H.path("x.csv"), "-c", H.path("no-such-config.yaml"), config=False)
        self.assertEqual(rc, 2, err)
        self.assertIn("no-such-config.yaml", err)

    def test_usage(self):
        for args in ([], ["x.txt"], ["x.csv", "--format", "xml"], ["x.csv", "--batch", "0"],
                     ["x.csv", "--bogus"], ["x.csv", "y.csv"], ["x.csv", "--dry-run", "--tiers"],
                     ["x.csv", "--redis", "nowhere"], ["x.csv", "--prefix", "bad prefix"]):
            rc, out, err = run(*args)
            self.assertEqual(rc, 64, f"{args}: {err}")
        p = subprocess.run([harness.HOTLINE, "import", "widgets"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=T(30))
        self.assertEqual(p.returncode, 64)
        rc, out, err = run("--help", config=False)
        self.assertEqual(rc, 0)
        self.assertIn("usage: hotline import customers", out)


if __name__ == "__main__":
    harness.main()
