"""Hostile input against the real daemon.

1. SENDS malformed lines of more than MIN_KINDS kinds (the REACTIONS table:
   bare CR, NUL, invalid UTF-8, overlong lines, lines that never end, huge
   and negative numbers, deep and duplicate-key JSON, wrong types, unknown
   verbs and sub-verbs, an HTTP request, a TLS ClientHello on the plaintext
   port, ids with `* : ../` and CR/LF, ...) in a seeded random order from
   several connections, unauthenticated and authenticated, while well-behaved
   clients work: every hostile line gets the reaction PROTOCOL.md documents
   for it, the well-behaved clients get every answer right, the daemon's
   error counters match exactly, its log stays well-formed, nothing hostile
   is logged, and a SCAN of Redis finds no key outside proto/KEYS.md and
   proto/LOG.md (ALLOWED_KEYS).
2. Unauthenticated connections: limits.max_unauthenticated, the auth
   deadline, and the small line cap before AUTH (an endless line costs the
   daemon no memory).
"""

import json
import os
import random
import re
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

SEED = 20261122
SENDS = 1000             # hostile payloads in the mixed run
MIN_KINDS = 20           # kinds of malformed input, at least
MAX_LINE = 4096          # limits.max_line of the daemon under attack
MAX_LINE_UNAUTH = 256    # limits.max_line_unauth
UNAUTH_TIMEOUT_S = 4     # limits.unauth_timeout
IDLE_TIMEOUT_S = 4       # limits.idle_timeout
UNAUTH_BATCH = 25        # hostile lines per unauthenticated connection before it reconnects
MAX_UNAUTHENTICATED = 8  # limits.max_unauthenticated in UnauthenticatedTest
ENDLESS_LINE_MB = 4      # what one unauthenticated peer sends without ever sending LF
ENDLESS_PEERS = 8        # ... that many at once
ENDLESS_RSS_GROWTH_MB = 8  # the daemon's RSS may grow by at most this meanwhile

H = None
P = harness.KEY_PREFIX

# Who sends: the role a hostile connection has (None: never authenticates).
SENDERS = [None, None, "agent1", "agent2", "super1"]
ROLE = {None: "none", "agent1": "agent", "agent2": "agent", "super1": "supervisor"}

# -------------------------------------------------------------------------
# The documented reaction to each kind of hostile line, by the sender's
# state (unauthenticated, agent, supervisor).  A reaction is the reply code
# every line of the payload gets ("OK" for a plain OK or OK {json}), or
# "bye" for a line that never ends: nothing is answered, and the daemon
# closes the connection at its deadline with `* bye` (PROTOCOL.md, Limits);
# or "binary" for binary data: every LF-terminated piece of it is a line,
# answered line_too_long when it is longer than the sender's line cap
# (limits.max_line_unauth before AUTH, limits.max_line after), and
# bad_request otherwise (each piece holds a control byte or a NUL).

ANY = ("none", "agent", "supervisor")


def same(code):
    return {s: code for s in ANY}


def needs_auth(code):
    """A known verb that needs AUTH: auth_required before, code after."""
    return {"none": "auth_required", "agent": code, "supervisor": code}


REACTIONS = {
    "bare_cr": same("bad_request"),
    "nul_byte": same("bad_request"),
    "invalid_utf8": same("bad_request"),
    "escape_sequence": same("bad_request"),
    "del_and_c1_controls": same("bad_request"),
    "overlong_line": same("line_too_long"),
    "over_unauth_cap": {"none": "line_too_long", "agent": "OK", "supervisor": "OK"},
    "at_unauth_cap": same("OK"),
    "no_newline_ever": {"none": "bye", "agent": "bye", "supervisor": "bye"},
    "huge_number": needs_auth("bad_request"),
    "negative_number": needs_auth("bad_request"),
    "deep_json": {"none": "line_too_long", "agent": "bad_request", "supervisor": "bad_request"},
    "duplicate_key": needs_auth("bad_request"),
    "wrong_type": needs_auth("bad_request"),
    "not_an_object": needs_auth("bad_request"),
    "trailing_garbage": needs_auth("bad_request"),
    "escaped_nul_or_surrogate": needs_auth("bad_request"),
    "unknown_verb": same("unknown_command"),
    "unknown_subverb": needs_auth("bad_request"),
    "missing_subverb": needs_auth("bad_request"),
    "args_to_bare_verb": same("bad_request"),
    "auth_usage": same("bad_request"),
    "http_request": same("unknown_command"),
    "tls_client_hello": same("binary"),
    "id_with_star": needs_auth("bad_request"),
    "id_with_colon": needs_auth("bad_request"),
    "id_with_path": needs_auth("bad_request"),
    "id_with_crlf": needs_auth("bad_request"),
    "id_too_long": needs_auth("bad_request"),
    "id_only_dots": needs_auth("not_found"),
    "bad_phone": needs_auth("bad_request"),
    "tail_bad_args": {"none": "auth_required", "agent": "forbidden", "supervisor": "bad_request"},
}


def _json_line(verb, obj):
    return (verb + " " + json.dumps(obj, separators=(",", ":"))).encode()


def binary_pieces(payload):
    """The lines a binary payload (ending in LF) makes: its LF-terminated
    pieces without a trailing CR, empty ones left out (they are ignored)."""
    pieces = [p[:-1] if p.endswith(b"\r") else p for p in payload.split(b"\n")[:-1]]
    return [p for p in pieces if p]


def has_control_byte(piece):
    return any(b < 0x20 and b != 0x09 for b in piece)


def tls_client_hellos(n):
    """n real TLS ClientHellos (from Python's own ssl module) with a LF
    appended, each made of pieces that all hold a control byte (a hello
    always contains 0x0a: the supported_groups extension is type 10)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    out = []
    for i in range(n * 20):  # bounded
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname=f"hotline{i}.example")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = outgoing.read() + b"\n"
        assert hello.startswith(b"\x16\x03") and len(hello) < MAX_LINE, hello[:8]
        if all(has_control_byte(p) for p in binary_pieces(hello)):
            out.append(hello)
            if len(out) == n:
                return out
    raise AssertionError("could not make suitable TLS ClientHellos")


def expected_codes(kind, payload, n, state):
    """The reply codes the daemon must send for one payload."""
    reaction = REACTIONS[kind][state]
    if reaction == "bye":
        return ["pending"]
    if reaction == "binary":
        cap = MAX_LINE_UNAUTH if state == "none" else MAX_LINE
        return ["line_too_long" if len(p) > cap else "bad_request" for p in binary_pieces(payload)]
    return [reaction] * n


def payload_variants():
    """kind -> list of (payload bytes, number of reply lines).  Every payload
    but no_newline_ever ends in LF."""
    one = lambda *lines: [(l + b"\n", 1) for l in lines]  # noqa: E731
    deep = 600
    v = {
        "bare_cr": one(b"PI\rNG", b"\rPING", b"PING\r\r", b"AUTH agent1\ragent1-secret",
                       b'POP {"phone":"1\r2"}'),
        "nul_byte": one(b"PING\x00", b"\x00", b"AUTH agent1 agent1-secret\x00", b'POP {"phone":"\x00"}',
                        b"HE\x00LP"),
        "invalid_utf8": one(b"PING \xff", b"\xc0\xafPING", b"HELP \xed\xa0\x80", b'POP {"phone":"\xe2\x82"}',
                            b"\xf5\x80\x80\x80", b"\xfe\xfe\xff", b"PING \x80"),
        "escape_sequence": one(b"\x1b[2J\x1b[HPING", b"PING\x07", b"HELP\x1b]0;owned\x07",
                               b"AUTH agent1 \x08\x08\x08secret"),
        "del_and_c1_controls": one(b"HELP\x7f", b"\x7fPING", "PING\u009b2J".encode(), "\u0085PING".encode()),
        "overlong_line": [(b"A" * n + b"\n", 1) for n in (MAX_LINE + 1, MAX_LINE + 2, 3 * MAX_LINE, 40000)]
        + [(b"PING" + b" " * MAX_LINE + b"\r\n", 1)],
        "over_unauth_cap": [(b"PING" + b" " * (MAX_LINE_UNAUTH - 3) + b"\n", 1),
                            (b"PING" + b" " * (MAX_LINE - 4) + b"\r\n", 1),
                            (b"HELP" + b"\t" * 1000 + b"\n", 1)],
        "at_unauth_cap": [(b"PING" + b" " * (MAX_LINE_UNAUTH - 4) + b"\r\n", 1),
                          (b"ping" + b"\t" * (MAX_LINE_UNAUTH - 4) + b"\n", 1)],
        "no_newline_ever": [(b"PING", 0), (b"AUTH agent1 agent1-sec", 0), (b'POP {"phone":"+86', 0)],
        "huge_number": [(_json_line("CALL end", {"call_id": "h1", "disposition": "resolved"})[:-1]
                         + b',"csat":1e999}\n', 1),
                        (b'CALL end {"call_id":"h1","disposition":"resolved","csat":' + b"9" * 40 + b"}\n", 1),
                        (b'COMPLAINT list {"limit":99999999999999999999}\n', 1),
                        (b'COMPLAINT list {"limit":1e308}\n', 1)],
        "negative_number": one(b'CALL end {"call_id":"h1","disposition":"resolved","csat":-1}',
                               b'CALL end {"call_id":"h1","disposition":"resolved","csat":-9223372036854775808}',
                               b'COMPLAINT list {"limit":-5}', b'COMPLAINT list {"limit":0}'),
        "deep_json": [(b'POP {"phone":' + b"[" * deep + b"]" * deep + b"}\n", 1),
                      (b"POP " + b'{"a":' * deep + b"1" + b"}" * deep + b"\n", 1),
                      (b"COMPLAINT list " + b'{"limit":' * 300 + b"1" + b"}" * 300 + b"\n", 1)],
        "duplicate_key": one(b'POP {"phone":"+8613800138000","phone":"+8613800138001"}',
                             b'CALL offer {"call_id":"d1","call_id":"d2","queue":"mobile"}',
                             b'COMPLAINT list {"limit":1,"limit":2}'),
        "wrong_type": one(b'POP {"phone":42}', b'POP {"customer_id":{"$ne":null}}',
                          b'CALL offer {"call_id":["x"],"queue":"mobile"}',
                          b'CALL end {"call_id":"w1","disposition":"resolved","csat":"5"}',
                          b'COMPLAINT list {"overdue":"yes"}', b'CALL offer {"call_id":"w2","queue":true}'),
        "not_an_object": one(b"POP [1,2,3]", b'POP "C1"', b"POP null", b"CALL offer 42",
                             b'COMPLAINT get ["K1"]'),
        "trailing_garbage": one(b'POP {"phone":"1"} x', b'POP {"phone":"1"}{}',
                                b'CALL offer {"call_id":"t1","queue":"mobile"} ;DROP', b'POP {"phone":"1"'),
        "escaped_nul_or_surrogate": one(b'POP {"customer_id":"C1\\u0000"}', b'POP {"phone":"\\ud800"}',
                                        b'CALL offer {"call_id":"e1","queue":"mobile","note":"a\\u0000b"}'),
        "unknown_verb": one(b"FROBNICATE", b"FLUSHALL", b"DEL hotline:log:calls", b'EVAL "return 1" 0',
                            b"KEYS *", b"CONFIG SET dir /tmp", b"XTRIM hotline:log:calls MAXLEN 0",
                            b"\xe5\x91\xbc\xe5\x8f\xab"),
        "unknown_subverb": one(b'CALL explode {"call_id":"x"}', b"CALL offer2 {}",
                               b'COMPLAINT delete {"complaint_id":"K1"}', b"COMPLAINT drop {}",
                               b'CALL {"call_id":"x"}'),
        "missing_subverb": one(b"CALL", b"COMPLAINT", b"CALL \t "),
        "args_to_bare_verb": one(b"PING now", b"HELP me", b"QUIT later", b"PING {}"),
        "auth_usage": one(b"AUTH", b"AUTH agent1", b"AUTH agent1 agent1-secret extra", b"AUTH \t"),
        "http_request": [(b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n", 4),
                         (b"POST /api HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}\n", 3),
                         (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 2),
                         (b"CONNECT redis:6379 HTTP/1.1\r\n\r\n", 1)],
        "tls_client_hello": [(h, len(binary_pieces(h))) for h in tls_client_hellos(6)],
        "id_with_star": [(_json_line(*a) + b"\n", 1) for a in (
            ("POP", {"customer_id": "*"}), ("POP", {"account": "AC*"}),
            ("CALL offer", {"call_id": "*", "queue": "mobile"}), ("COMPLAINT get", {"complaint_id": "K*"}),
            ("POP", {"customer_id": "C1", "call_id": "x*"}))],
        "id_with_colon": [(_json_line(*a) + b"\n", 1) for a in (
            ("POP", {"customer_id": "C1:contacts"}), ("CALL offer", {"call_id": "log:calls", "queue": "mobile"}),
            ("COMPLAINT get", {"complaint_id": "x:history"}),
            ("CALL offer", {"call_id": "okc", "queue": "mobile", "request_id": "a:b"}),
            ("CALL offer", {"call_id": "okq", "queue": "mobile:vip"}))],
        "id_with_path": [(_json_line(*a) + b"\n", 1) for a in (
            ("POP", {"customer_id": "../../etc/passwd"}), ("POP", {"account": "../x"}),
            ("CALL offer", {"call_id": "../../x", "queue": "mobile"}),
            ("CALL offer", {"call_id": "p1", "queue": "../x"}),
            ("COMPLAINT get", {"complaint_id": "/etc/passwd"}))],
        "id_with_crlf": [(_json_line(*a) + b"\n", 1) for a in (
            ("POP", {"customer_id": "C1\r\nDEL x"}), ("CALL offer", {"call_id": "a\nb", "queue": "mobile"}),
            ("CALL offer", {"call_id": "ok", "queue": "mobile", "request_id": "r\r\n1"}),
            ("COMPLAINT get", {"complaint_id": "K1\r\n"}))],
        "id_too_long": [(_json_line(*a) + b"\n", 1) for a in (
            ("POP", {"customer_id": "C" * 65}), ("CALL offer", {"call_id": "x" * 65, "queue": "mobile"}),
            ("CALL offer", {"call_id": "ok", "queue": "mobile", "request_id": "r" * 65}),
            ("POP", {"customer_id": ""}))],
        "id_only_dots": [(_json_line(*a) + b"\n", 1) for a in (
            ("POP", {"customer_id": ".."}), ("POP", {"customer_id": "."}), ("POP", {"account": "..."}),
            ("COMPLAINT get", {"complaint_id": ".."}))],
        "bad_phone": [(_json_line("POP", {"phone": p}) + b"\n", 1) for p in (
            "+86*138", "../../", "+1234567890123456789", "", "+", "phone", "+86 138\u00a00013")],
        "tail_bad_args": one(b"TAIL everything", b'TAIL calls {"queue":5}', b"TAIL calls notanid",
                             b"UNTAIL", b"TAIL", b"TAIL calls $ $"),
    }
    return v


def reply_code(line):
    if line == "OK" or line.startswith("OK {"):
        return "OK"
    return harness.parse_err(line)[0]


def build_plan(rng, variants):
    """SENDS (kind, payload, n_replies) in a seeded random order: every
    kind at least a few times, the rest drawn at random."""
    kinds = sorted(variants)
    per_kind = SENDS // (2 * len(kinds))
    plan = [k for k in kinds for _ in range(per_kind)]
    plan += [rng.choice(kinds) for _ in range(SENDS - len(plan))]
    rng.shuffle(plan)
    return [(k,) + rng.choice(variants[k]) for k in plan]


def setUpModule():
    global H
    H = harness.module_harness("hostile")


class Sender(threading.Thread):
    """One hostile client: sends its share of the plan in order, each
    payload whole or in random fragments, and records what came back."""

    def __init__(self, daemon, user, items, seed):
        super().__init__(daemon=True)
        self.d, self.user, self.items = daemon, user, items
        self.state = ROLE[user]
        self.rng = random.Random(seed)
        self.results = []    # (kind, payload, expected, got codes)
        self.unended = []    # (kind, client) for lines that never end
        self.error = None
        self.c = None
        self.sent_on_conn = 0

    def open(self):
        c = harness.Client(self.d.port, timeout=T())
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.user:
            c.auth(self.user)
        return c

    def send(self, c, payload):
        if len(payload) < 4 or self.rng.random() < 0.6:
            c.send(payload)
            return
        cuts = sorted(self.rng.sample(range(1, len(payload)), min(len(payload) - 1, self.rng.randint(1, 6))))
        for a, b in zip([0] + cuts, cuts + [len(payload)]):
            c.send(payload[a:b])

    def run(self):
        try:
            for kind, payload, n in self.items:
                expected = expected_codes(kind, payload, n, self.state)
                if kind == "no_newline_ever":
                    c = self.open()
                    self.send(c, payload)
                    self.unended.append((kind, c))
                    self.results.append((kind, payload, expected, ["pending"] if c.pending(0.2) == b"" else
                                         ["answered: %r" % c.pending(0)]))
                    continue
                if self.c is None or (self.user is None and self.sent_on_conn >= UNAUTH_BATCH):
                    if self.c:
                        self.c.close()
                    self.c, self.sent_on_conn = self.open(), 0
                self.send(self.c, payload)
                self.sent_on_conn += 1
                got = [reply_code(self.c.read_reply(T())) for _ in range(n)]
                self.results.append((kind, payload, expected, got))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = f"{type(e).__name__}: {e}"
        finally:
            if self.c:
                self.c.close()


class GoodAgent(threading.Thread):
    """A well-behaved agent: screen pops and whole calls, every answer checked."""

    def __init__(self, daemon, stop, max_calls=400):
        super().__init__(daemon=True)
        self.d, self.stop, self.max_calls = daemon, stop, max_calls
        self.wrong = []     # (request, reply) answered wrongly
        self.ids = []       # stream ids of the entries it logged, in order
        self.requests = 0
        self.error = None

    def expect(self, c, line, check):
        self.requests += 1
        reply = c.request(line, T())
        try:
            check(reply)
        except AssertionError as e:
            self.wrong.append((line, reply, str(e)))

    def run(self):
        def state_is(state):
            def check(reply):
                body = harness.parse_ok_json(reply)
                assert body.get("state") == state, body
                self.ids.append(body["id"])
            return check

        def pop_is(cid):
            def check(reply):
                body = harness.parse_ok_json(reply)
                assert body["match"] == "unique" and body["customer"]["id"] == cid, body
            return check

        try:
            with harness.Client(self.d.port, timeout=T()) as c:
                c.auth("good_agent")
                for i in range(self.max_calls):
                    if self.stop.is_set() and i >= 20:
                        break
                    cid = f"good-{i}"
                    self.expect(c, 'POP {"phone":"+86 138-0013-8000","call_id":"%s"}' % cid, pop_is("C1"))
                    self.expect(c, f'CALL offer {{"call_id":"{cid}","queue":"mobile","request_id":"{cid}-o"}}',
                                state_is("offered"))
                    self.expect(c, f'CALL answer {{"call_id":"{cid}","request_id":"{cid}-a"}}', state_is("answered"))
                    self.expect(c, f'CALL end {{"call_id":"{cid}","disposition":"resolved","csat":5,'
                                   f'"request_id":"{cid}-e"}}', state_is("ended"))
                    self.expect(c, 'POP {"customer_id":"C2"}', pop_is("C2"))
                    self.expect(c, "PING", self._ok)
        except Exception as e:  # noqa: BLE001
            self.error = f"{type(e).__name__}: {e}"

    @staticmethod
    def _ok(reply):
        assert reply == "OK", reply


class GoodSupervisor(threading.Thread):
    """A well-behaved supervisor: tails the calls, asks for the wallboard
    and the stats, pings."""

    def __init__(self, daemon, stop, max_rounds=2000):
        super().__init__(daemon=True)
        self.d, self.stop, self.max_rounds = daemon, stop, max_rounds
        self.tailing = threading.Event()  # set once its TAIL is answered
        self.wrong = []
        self.requests = 0
        self.c = None
        self.error = None

    def run(self):
        try:
            self.c = harness.Client(self.d.port, timeout=T())
            self.c.auth("good_super")
            body = self.c.request_json("TAIL calls")
            assert body["stream"] == "calls", body
            self.tailing.set()
            for i in range(self.max_rounds):
                if self.stop.is_set() and i >= 20:
                    break
                for line, check in (("PING", lambda r: r == "OK"),
                                    ("QUEUE", lambda r: "calls" in harness.parse_ok_json(r)),
                                    ("STATS", lambda r: "connections" in harness.parse_ok_json(r))):
                    self.requests += 1
                    reply = self.c.request(line, T())
                    try:
                        ok = check(reply)
                    except AssertionError as e:
                        ok, reply = False, f"{reply} ({e})"
                    if not ok:
                        self.wrong.append((line, reply))
                time.sleep(0.005)
        except Exception as e:  # noqa: BLE001
            self.error = f"{type(e).__name__}: {e}"


# The documented key layout (proto/KEYS.md and proto/LOG.md), each with its
# Redis type.  Ids are 1..64 of [A-Za-z0-9_.-]; user names may also hold @.
ID = r"[A-Za-z0-9_.-]{1,64}"
USER = r"[A-Za-z0-9_.@-]{1,64}"
ALLOWED_KEYS = [
    (rf"customer:{ID}", "hash"),
    (rf"customer:{ID}:contacts", "list"),
    (rf"customer:{ID}:open_complaints", "hash"),
    (r"phone:\+[0-9]{3,15}", "set"),
    (rf"account:{ID}", "string"),
    (r"customers:revenue", "zset"),
    (r"log:calls", "stream"),
    (r"log:complaints", "stream"),
    (r"calls:open", "hash"),
    (rf"call:{ID}", "hash"),
    (rf"complaint:{ID}", "hash"),
    (rf"complaint:{ID}:history", "list"),
    (r"complaints:open", "zset"),
    (r"complaints:unassigned", "zset"),
    (rf"idem:{USER}:{ID}", "hash"),
]


def keys_outside_layout(redis):
    """Every key in Redis that is not in ALLOWED_KEYS (or has the wrong
    type there), as (key, type)."""
    bad, cursor, rounds = [], b"0", 0
    with redis.client() as r:
        while True:
            rounds += 1
            assert rounds < 100000, "SCAN does not terminate"
            cursor, keys = r.command("SCAN", cursor, "COUNT", "1000")
            for k in keys:
                t = r.command("TYPE", k)
                name = k.decode("utf-8", "replace")
                rest = name[len(P):] if name.startswith(P) else None
                if rest is None or not any(re.fullmatch(rx, rest) and t == typ for rx, typ in ALLOWED_KEYS):
                    bad.append((name, t))
            if cursor == b"0":
                return bad


class HostileInputTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        with cls.redis.client() as r:
            harness.put_customer(r, "C1", "Canary One", phones=["+8613800138000"], accounts=["AC1"], tier="gold")
            harness.put_customer(r, "C2", "Canary Two", phones=["+8613800138002"], tier="lead")
        users = harness.make_users(harness.DEFAULT_USERS + [("good_agent", "agent"), ("good_super", "supervisor")])
        cls.daemon = H.start_daemon(
            cls.redis.address, users=users, phone={"default_country": "86"},
            limits={"max_line": MAX_LINE, "max_line_unauth": MAX_LINE_UNAUTH,
                    "unauth_timeout": round(T(UNAUTH_TIMEOUT_S)), "idle_timeout": round(T(IDLE_TIMEOUT_S))})
        cls.addClassCleanup(cls.daemon.stop)

    def test_reaction_table_covers_every_kind(self):
        variants = payload_variants()
        self.assertGreaterEqual(len(REACTIONS), MIN_KINDS)
        self.assertEqual(set(variants), set(REACTIONS))
        for kind, reaction in REACTIONS.items():
            self.assertEqual(set(reaction), set(ANY), kind)
            for payload, n in variants[kind]:
                self.assertEqual(payload.endswith(b"\n"), kind != "no_newline_ever", (kind, payload[:40]))

    def test_mixed_hostile_lines(self):
        d = self.daemon
        rng = random.Random(SEED)
        plan = build_plan(rng, payload_variants())
        with self.connect_auth("admin1") as admin:
            before = harness.stats(admin)
        mark = d.log_mark()

        stop = threading.Event()
        good_agent, good_super = GoodAgent(d, stop), GoodSupervisor(d, stop)
        good_super.start()
        self.assertTrue(good_super.tailing.wait(T()), good_super.error)
        good_agent.start()
        senders = [Sender(d, user, plan[i::len(SENDERS)], SEED + i) for i, user in enumerate(SENDERS)]
        t0 = time.monotonic()
        for s in senders:
            s.start()
        for s in senders:
            s.join(T(120))
            self.assertFalse(s.is_alive(), "a hostile sender did not finish")
        sent_s = time.monotonic() - t0
        stop.set()
        for t in (good_agent, good_super):
            t.join(T(60))
            self.assertFalse(t.is_alive(), "a well-behaved client did not finish")

        # Every hostile line got its documented reaction.
        results = [r for s in senders for r in s.results]
        self.assertEqual([s.error for s in senders], [None] * len(senders))
        self.assertEqual(len(results), SENDS)
        wrong = [(k, p[:60], want, got) for k, p, want, got in results if got != want]
        self.assertEqual(wrong, [], "hostile lines with the wrong reaction (kind, payload, expected, got)")
        kinds_seen = {k for k, *_ in results}
        self.assertEqual(kinds_seen, set(REACTIONS))

        # Lines that never end: no reply, then `* bye` at the deadline.
        unended = [(s.state, c) for s in senders for _, c in s.unended]
        self.assertTrue(unended)
        for state, c in unended:
            lines = c.read_until_closed(T(max(UNAUTH_TIMEOUT_S, IDLE_TIMEOUT_S) + 10))
            reason = "auth timeout" if state == "none" else "idle timeout"
            self.assertEqual(len(lines), 1, lines)
            self.assertBye(lines[0], reason)
            c.close()

        # The well-behaved clients: every answer right.
        for t in (good_agent, good_super):
            self.assertIsNone(t.error)
            self.assertEqual(t.wrong, [])
        self.assertGreaterEqual(good_agent.requests, 20 * 6)
        # ... and the supervisor's tail carried every entry the agent logged, in order.
        sup = good_super.c
        want = good_agent.ids
        deadline = time.monotonic() + T()
        while len([p for p in sup.pushes if p.startswith("* calls ")]) < len(want):
            self.assertLess(time.monotonic(), deadline,
                            f"tail delivered {len([p for p in sup.pushes if p.startswith('* calls ')])} "
                            f"of {len(want)} entries")
            try:
                sup.read_line(1.0)
            except AssertionError:
                pass
        got = [harness.parse_push(p, "calls")["id"] for p in sup.pushes if p.startswith("* calls ")]
        self.assertEqual(got, want)
        self.assertEqual([p for p in sup.pushes if not p.startswith("* calls ")], [])
        sup.close()

        # The daemon is alive, and its counters agree with what we saw.
        self.assertTrue(d.running())
        with self.connect_auth("admin1") as admin:
            after = harness.stats(admin)
        counted = {}
        for k, p, want, got in results:
            for code in got:
                if code not in ("OK", "pending"):
                    counted[code] = counted.get(code, 0) + 1
        delta = {code: after["errors"][code] - before["errors"][code] for code in after["errors"]}
        self.assertEqual({c: n for c, n in delta.items() if n}, counted)

        # Nothing hostile was logged: every entry is the good agent's.
        with self.redis.client() as r:
            entries = harness.stream_entries(r, P + "log:calls")
            self.assertEqual({e["agent"] for e in entries}, {"good_agent"})
            self.assertEqual(len(entries), len(good_agent.ids))
            self.assertEqual(harness.chain_problems(harness.read_stream(r, P + "log:calls")), [])
            self.assertEqual(r.command("XLEN", P + "log:complaints"), 0)
        # Its log is still one well-formed line per message, with no error.
        self.assertEqual(d.bad_log_lines(), [])
        self.assertIsNone(d.find_log(r"^\S+ error ", since=mark))

        bad_keys = keys_outside_layout(self.redis)
        self.assertEqual(bad_keys, [], "keys outside the documented layout")

        by_kind = {}
        for k, *_ in results:
            by_kind[k] = by_kind.get(k, 0) + 1
        print(f"\n  {SENDS} hostile lines of {len(by_kind)} kinds (each {min(by_kind.values())}.."
              f"{max(by_kind.values())} times) from {len(SENDERS)} connections in {sent_s:.1f} s; "
              f"well-behaved: {good_agent.requests} agent and {good_super.requests} supervisor requests, "
              f"all answered right", file=sys.stderr)
        harness.figure("hostile_lines_sent", SENDS, "count")
        harness.figure("hostile_kinds", len(by_kind), "count")
        harness.figure("hostile_good_requests_answered", good_agent.requests + good_super.requests, "count")


class LayoutCheckTest(harness.TestCase):
    def test_layout_check_finds_stray_keys(self):
        """keys_outside_layout, the oracle of the SCAN above, does find keys
        outside the layout and keys of the wrong type."""
        redis = H.start_redis()
        self.addCleanup(redis.stop)
        with redis.client() as r:
            harness.put_customer(r, "C1", "Ok", phones=["+8613800138000"], accounts=["AC-1"])
            r.command("XADD", P + "log:calls", "*", "entry", "{}")
            r.command("HSET", P + "idem:a.b@c:r-1", "id", "1")
            r.command("SET", P + "customer:a*b", "x")
            r.command("SET", P + "call:x", "wrong type")
            r.command("HSET", P + "call:../x", "state", "offered")
            r.command("SET", "elsewhere", "x")
            r.command("SET", P + "customer:C1:contacts:extra", "x")
        self.assertEqual(sorted(keys_outside_layout(redis)),
                         [("elsewhere", "string"), (P + "call:../x", "hash"), (P + "call:x", "string"),
                          (P + "customer:C1:contacts:extra", "string"), (P + "customer:a*b", "string")])


class UnauthenticatedTest(harness.TestCase):
    """limits.max_unauthenticated, the auth deadline, the small line cap."""

    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(
            cls.redis.address,
            limits={"max_unauthenticated": MAX_UNAUTHENTICATED, "max_connections": 100,
                    "max_line_unauth": MAX_LINE_UNAUTH, "unauth_timeout": round(T(UNAUTH_TIMEOUT_S))})
        cls.addClassCleanup(cls.daemon.stop)

    def unauth_count(self, sup):
        return harness.stats(sup)["connections"]["unauthenticated"]

    def assert_refused(self, c):
        lines = c.read_until_closed(T())
        self.assertEqual(len(lines), 1, lines)
        self.assertErr(lines[0], "rate_limited", r"waiting to authenticate")

    def fill(self, sup, n):
        conns = [self.connect() for _ in range(n)]
        for c in conns:
            self.assertOK(c.request("PING"))
        self.assertEqual(self.unauth_count(sup), MAX_UNAUTHENTICATED)
        return conns

    def wait_unauth(self, sup, n):
        harness.wait_until(lambda: self.unauth_count(sup) == n, what=f"{n} unauthenticated connections")

    def test_cap_on_unauthenticated_connections(self):
        sup = self.connect_auth("super1")
        agent = self.connect_auth("agent1")
        self.wait_unauth(sup, 0)
        before = harness.stats(sup)["connections"]["rejected"]
        conns = self.fill(sup, MAX_UNAUTHENTICATED)
        for _ in range(3):
            self.assert_refused(self.connect())
        self.assertEqual(harness.stats(sup)["connections"]["rejected"], before + 3)
        # the authenticated sessions and the waiting ones are unaffected
        self.assertOK(agent.request("PING"))
        for c in conns:
            self.assertOK(c.request("PING"))
        # one logs in: its slot is free at once
        conns[0].auth("agent2")
        self.assertEqual(self.unauth_count(sup), MAX_UNAUTHENTICATED - 1)
        extra = self.connect()
        self.assertOK(extra.request("PING"))
        self.assert_refused(self.connect())
        # a failed AUTH makes a connection unauthenticated again
        self.assertErr(conns[0].request("AUTH agent2 wrong"), "auth_failed")
        self.assertEqual(self.unauth_count(sup), MAX_UNAUTHENTICATED + 1)
        self.assert_refused(self.connect())
        # closing frees the slots
        for c in conns + [extra]:
            c.close()
        self.wait_unauth(sup, 0)
        fresh = self.connect()
        self.assertOK(fresh.request("PING"))
        fresh.auth("agent1")
        self.assertEqual(self.unauth_count(sup), 0)

    def test_silent_peers_time_out_and_free_their_slots(self):
        sup = self.connect_auth("super1")
        self.wait_unauth(sup, 0)
        conns = self.fill(sup, MAX_UNAUTHENTICATED)
        self.assert_refused(self.connect())
        for c in conns:
            lines = c.read_until_closed(T(UNAUTH_TIMEOUT_S + 10))
            self.assertEqual(len(lines), 1, lines)
            self.assertBye(lines[0], "auth timeout")
        self.wait_unauth(sup, 0)
        self.assertOK(self.connect().request("PING"))


class EndlessLineTest(harness.TestCase):
    """The small line cap before AUTH bounds memory, not just line length
    (a deadline long enough that only the cap is tested)."""

    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address,
                                    limits={"max_line_unauth": MAX_LINE_UNAUTH, "unauth_timeout": 600})
        cls.addClassCleanup(cls.daemon.stop)

    def test_endless_line_before_auth_costs_no_memory(self):
        """Peers that never authenticate and send ENDLESS_LINE_MB without a
        LF: one `line_too_long` each, nothing buffered, still usable."""
        rss0 = harness.vmrss_kb(self.daemon.pid)
        peers = [self.connect() for _ in range(ENDLESS_PEERS)]
        chunk = b"A" * (1 << 20)
        peak = rss0
        for _ in range(ENDLESS_LINE_MB):
            for c in peers:
                c.send(chunk)
            peak = max(peak, harness.vmrss_kb(self.daemon.pid))
        for c in peers:
            c.send(b"\nPING\n")
        for c in peers:
            self.assertErr(c.read_reply(T()), "line_too_long", r"before AUTH")
            self.assertOK(c.read_reply(T()))
        peak = max(peak, harness.vmrss_kb(self.daemon.pid))
        growth_mb = (peak - rss0) / 1024
        print(f"\n  {ENDLESS_PEERS} peers x {ENDLESS_LINE_MB} MiB without LF before AUTH: "
              f"daemon RSS {rss0 // 1024} -> peak {peak // 1024} MiB", file=sys.stderr)
        harness.figure("endless_line_rss_growth", growth_mb, "MB")
        if harness.rss_is_judged(self.daemon.pid):
            self.assertLess(growth_mb, ENDLESS_RSS_GROWTH_MB)


if __name__ == "__main__":
    harness.main()
