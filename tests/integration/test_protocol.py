"""Line protocol: framing, verbs, pipelining, bad input, line length caps."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import T  # noqa: E402

H = None
MAX_LINE = 2048
MAX_LINE_UNAUTH = 256
UTF8_MESSAGE = r"(?i)utf-?8|byte|offset"


def setUpModule():
    global H
    H = harness.module_harness("protocol")


class ProtocolTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(
            cls.redis.address,
            limits={"max_line": MAX_LINE, "max_line_unauth": MAX_LINE_UNAUTH})
        cls.addClassCleanup(cls.daemon.stop)

    def setUp(self):
        self._clients = []

    def connect(self, *a, **kw):
        c = super().connect(*a, **kw)
        self._clients.append(c)
        return c

    def tearDown(self):
        # Every reply line seen in this test must follow the framing.
        for c in self._clients:
            for line in c.replies:
                harness.check_reply_framing(line)

    def assertUsable(self, c):
        self.assertOK(c.request("PING"))

    # ---------------------------------------------------------------- basics
    def test_ping(self):
        c = self.connect()
        self.assertOK(c.request("PING"))
        self.assertOK(c.request("PING"))

    def test_help_lists_verbs(self):
        c = self.connect()
        body = harness.parse_ok_json(c.request("HELP"))
        self.assertIn("verbs", body)
        verbs = body["verbs"]
        self.assertIsInstance(verbs, list)
        for v in ("AUTH", "HELP", "PING", "QUIT", "STATS"):
            self.assertIn(v, verbs)

    def test_help_after_auth(self):
        c = self.connect()
        c.auth("agent1")
        body = harness.parse_ok_json(c.request("HELP"))
        for v in ("AUTH", "HELP", "PING", "QUIT", "STATS"):
            self.assertIn(v, body["verbs"])

    def test_quit_closes(self):
        c = self.connect()
        self.assertOK(c.request("QUIT"))
        rest = c.read_until_closed(T())
        self.assertEqual(rest, [], "nothing may follow the QUIT reply")

    def test_quit_after_auth_closes(self):
        c = self.connect()
        c.auth("agent1")
        self.assertOK(c.request("QUIT"))
        self.assertEqual(c.read_until_closed(T()), [])

    def test_quit_pipelined_drops_the_rest(self):
        c = self.connect()
        c.send(b"PING\nQUIT\nPING\nPING\n")
        lines = c.read_until_closed(T())
        self.assertEqual(lines, ["OK", "OK"], "after QUIT nothing more is answered")

    def test_verbs_case_insensitive(self):
        c = self.connect()
        for verb in ("ping", "Ping", "pInG", "PING"):
            self.assertOK(c.request(verb))
        for verb in ("help", "Help", "hElP"):
            self.assertIn("PING", harness.parse_ok_json(c.request(verb))["verbs"])
        # AUTH and STATS too
        self.assertErr(c.request("stats"), "auth_required")
        self.assertEqual(harness.parse_ok_json(c.request("auth super1 super1-secret"))["role"],
                         "supervisor")
        harness.parse_ok_json(c.request("Stats"))
        self.assertOK(c.request("quit"))
        self.assertEqual(c.read_until_closed(T()), [])

    def test_trailing_spaces_still_the_verb(self):
        c = self.connect()
        self.assertOK(c.request("PING   "))
        self.assertOK(c.request("PING \r"))

    def test_crlf(self):
        c = self.connect()
        c.send(b"PING\r\n")
        self.assertOK(c.read_reply())
        c.send(b"HELP\r\nPING\r\n")
        harness.parse_ok_json(c.read_reply())
        self.assertOK(c.read_reply())
        c.send(b"AUTH agent1 agent1-secret\r\n")
        self.assertEqual(harness.parse_ok_json(c.read_reply())["user"], "agent1",
                         "the CR must not end up in the secret")

    def test_empty_lines_ignored(self):
        c = self.connect()
        c.send(b"\n\n\r\n\nPING\n\n\r\n\r\nHELP\n\n")
        self.assertOK(c.read_reply())
        harness.parse_ok_json(c.read_reply())
        # no reply may have been produced for the empty lines
        self.assertEqual(c.pending(0.3), b"")
        c.send(b"\n\r\n")
        self.assertEqual(c.pending(0.3), b"")
        self.assertOK(c.request("PING"))

    def test_request_split_across_writes(self):
        c = self.connect()
        for chunk in (b"P", b"I", b"N", b"G", b"\r", b"\n"):
            c.send(chunk)
        self.assertOK(c.read_reply())
        c.send(b"PI")
        self.assertEqual(c.pending(0.3), b"", "no reply before the LF")
        c.send(b"NG\nPI")
        self.assertOK(c.read_reply())
        c.send(b"NG\n")
        self.assertOK(c.read_reply())

    def test_pipelining_200_in_order(self):
        c = self.connect()
        requests, expect = [], []
        for i in range(200):
            k = i % 5
            if k == 0:
                requests.append("PING")
                expect.append(("ok", None))
            elif k == 1:
                requests.append("HELP")
                expect.append(("json", None))
            elif k == 2:
                requests.append(f"NOSUCHVERB{i}")
                expect.append(("err", "unknown_command"))
            elif k == 3:
                requests.append("STATS")
                expect.append(("err", "auth_required"))
            else:
                requests.append("ping")
                expect.append(("ok", None))
        c.send("".join(r + "\n" for r in requests))
        replies = [c.read_reply(T()) for _ in range(200)]
        for i, (reply, (kind, code)) in enumerate(zip(replies, expect)):
            with self.subTest(i=i, request=requests[i]):
                if kind == "ok":
                    self.assertOK(reply)
                elif kind == "json":
                    self.assertIn("PING", harness.parse_ok_json(reply)["verbs"])
                else:
                    self.assertErr(reply, code)
        self.assertEqual(c.pending(0.3), b"", "more replies than requests")

    def test_pipelining_across_async_auth(self):
        """AUTH is answered asynchronously (password hashing), yet requests
        pipelined behind it are answered after it, in order, and see its
        effect."""
        c = self.connect()
        lines = ["STATS", "AUTH super1 super1-secret"]
        lines += ["PING", "STATS"] * 20
        lines += ["AUTH agent1 agent1-secret", "STATS", "PING"]
        c.send("".join(l + "\n" for l in lines))
        replies = [c.read_reply(T()) for _ in lines]
        self.assertErr(replies[0], "auth_required")
        self.assertEqual(harness.parse_ok_json(replies[1])["role"], "supervisor")
        for i in range(2, 42, 2):
            self.assertOK(replies[i])
            body = harness.parse_ok_json(replies[i + 1])
            self.assertIn("connections", body)
        self.assertEqual(harness.parse_ok_json(replies[42])["role"], "agent")
        self.assertErr(replies[43], "forbidden")
        self.assertOK(replies[44])

    # --------------------------------------------------------------- errors
    def test_unknown_verb(self):
        c = self.connect()
        self.assertErr(c.request("FROBNICATE"), "unknown_command")
        self.assertErr(c.request("FROBNICATE with args"), "unknown_command")
        c.auth("agent1")
        self.assertErr(c.request("FROBNICATE"), "unknown_command")
        self.assertUsable(c)

    def test_valid_utf8_unknown_verb(self):
        c = self.connect()
        for verb in ("ÜBER", "名前", "\U0001F600", "caf\u00e9"):
            with self.subTest(verb=verb):
                self.assertErr(c.request(verb), "unknown_command")
        self.assertUsable(c)

    BAD_UTF8 = [
        ("lone continuation", b"\x80"),
        ("0xff", b"\xff"),
        ("0xfe", b"\xfe"),
        ("overlong slash", b"\xc0\xaf"),
        ("overlong 3-byte", b"\xe0\x80\xaf"),
        ("overlong NUL", b"\xc0\x80"),
        ("truncated 3-byte", b"\xe2\x82"),
        ("truncated 4-byte at end", b"\xf0\x9f\x98"),
        ("surrogate", b"\xed\xa0\x80"),
        ("above U+10FFFF", b"\xf4\x90\x80\x80"),
        ("5-byte form", b"\xf8\x88\x80\x80\x80"),
        ("bad continuation", b"\xe2\x28\xa1"),
    ]

    def test_bad_utf8(self):
        c = self.connect()
        for name, bad in self.BAD_UTF8:
            for where, line in (("verb", bad),
                                ("in verb", b"PI" + bad + b"NG"),
                                ("argument", b"PING " + bad),
                                ("unknown verb", b"NOSUCH" + bad),
                                ("auth secret", b"AUTH agent1 agent1-secret" + bad)):
                with self.subTest(kind=name, where=where):
                    c.send(line + b"\n")
                    self.assertErr(c.read_reply(), "bad_request", UTF8_MESSAGE)
        self.assertUsable(c)
        # still unauthenticated: the AUTH lines with bad bytes did nothing
        self.assertErr(c.request("STATS"), "auth_required")

    def test_bad_utf8_after_auth(self):
        c = self.connect()
        c.auth("super1")
        for name, bad in self.BAD_UTF8:
            with self.subTest(kind=name):
                c.send(b"STATS " + bad + b"\n")
                self.assertErr(c.read_reply(), "bad_request", UTF8_MESSAGE)
        self.assertUsable(c)

    def test_nul_byte(self):
        c = self.connect()
        for line in (b"PI\x00NG", b"PING\x00", b"\x00PING", b"\x00", b"AUTH agent1 agent1-secret\x00"):
            with self.subTest(line=line):
                c.send(line + b"\n")
                self.assertErr(c.read_reply(), "bad_request")
        self.assertUsable(c)
        self.assertErr(c.request("STATS"), "auth_required")

    def test_bare_cr(self):
        c = self.connect()
        for line in (b"PI\rNG\n", b"PING\r\r\n", b"\rPING\n", b"PING \r x\n", b"\r\r\n"):
            with self.subTest(line=line):
                c.send(line)
                self.assertErr(c.read_reply(), "bad_request")
        self.assertUsable(c)

    # ---------------------------------------------------------- line length
    @staticmethod
    def verb_of_length(n):
        return "X" * n

    def test_line_exactly_max_line_accepted(self):
        c = self.connect()
        c.auth("agent1")
        self.assertErr(c.request(self.verb_of_length(MAX_LINE)), "unknown_command")
        # CRLF does not count towards the limit
        c.send(self.verb_of_length(MAX_LINE).encode() + b"\r\n")
        self.assertErr(c.read_reply(), "unknown_command")
        self.assertUsable(c)

    def test_line_too_long(self):
        c = self.connect()
        c.auth("agent1")
        self.assertErr(c.request(self.verb_of_length(MAX_LINE + 1)), "line_too_long")
        self.assertUsable(c)
        # much longer than the cap, and the next request in the same write
        c.send(b"Y" * (MAX_LINE * 10) + b"\nPING\n")
        self.assertErr(c.read_reply(), "line_too_long")
        self.assertOK(c.read_reply())
        # a too-long line arriving in many pieces: exactly one error
        for _ in range(8):
            c.send(b"Z" * (MAX_LINE // 2))
        self.assertErr(c.read_reply(), "line_too_long")
        c.send(b"Z" * 100 + b"\n")
        self.assertOK(c.request("PING"))
        self.assertEqual(c.pending(0.3), b"", "exactly one reply per too-long line")
        # still authenticated
        self.assertErr(c.request("STATS"), "forbidden")

    def test_line_too_long_pipelined_keeps_order(self):
        c = self.connect()
        c.auth("agent1")
        c.send(b"PING\n" + b"A" * (MAX_LINE + 50) + b"\nHELP\n" + b"B" * (MAX_LINE + 1) + b"\r\nPING\n")
        self.assertOK(c.read_reply())
        self.assertErr(c.read_reply(), "line_too_long")
        harness.parse_ok_json(c.read_reply())
        self.assertErr(c.read_reply(), "line_too_long")
        self.assertOK(c.read_reply())

    def test_line_too_long_before_auth(self):
        c = self.connect()
        self.assertErr(c.request(self.verb_of_length(MAX_LINE_UNAUTH)), "unknown_command")
        self.assertErr(c.request(self.verb_of_length(MAX_LINE_UNAUTH + 1)), "line_too_long")
        self.assertUsable(c)
        # an AUTH line over the unauthenticated cap is refused without auth
        long_secret = "s" * MAX_LINE_UNAUTH
        self.assertErr(c.request(f"AUTH agent1 {long_secret}"), "line_too_long")
        self.assertErr(c.request("STATS"), "auth_required")
        # after AUTH the big cap applies
        c.auth("agent1")
        self.assertErr(c.request(self.verb_of_length(MAX_LINE_UNAUTH + 1)), "unknown_command")
        self.assertErr(c.request(self.verb_of_length(MAX_LINE)), "unknown_command")
        self.assertUsable(c)

    # ------------------------------------------------------------ framing
    def test_reply_framing_many_kinds(self):
        c = self.connect()
        for line in ("PING", "HELP", "STATS", "AUTH", "AUTH a", "AUTH a b c", "NOPE",
                     "AUTH nobody nothing", "AUTH super1 super1-secret", "STATS",
                     "PING extra", "HELP extra"):
            reply = c.request(line)
            harness.check_reply_framing(reply)

    def test_daemon_still_serves_other_clients(self):
        a = self.connect()
        b = self.connect()
        a.send(b"PI")  # partial line on a must not block b
        self.assertOK(b.request("PING"))
        a.send(b"NG\n")
        self.assertOK(a.read_reply())

    def test_concurrent_pipelining_clients(self):
        clients = [self.connect() for _ in range(40)]
        n = 60
        for i, c in enumerate(clients):
            c.send("".join(("PING\n" if (i + j) % 3 else f"NOPE{i}x{j}\n") for j in range(n)))
        for i, c in enumerate(clients):
            for j in range(n):
                reply = c.read_reply(T())
                if (i + j) % 3:
                    self.assertOK(reply)
                else:
                    self.assertErr(reply, "unknown_command")
            self.assertEqual(c.pending(0.05), b"")

    def test_every_help_verb_is_known(self):
        """Each verb HELP lists is recognised (never unknown_command), both
        before and after AUTH."""
        c = self.connect()
        verbs = harness.parse_ok_json(c.request("HELP"))["verbs"]
        for v in verbs:
            if v.upper() == "QUIT":
                continue
            with self.subTest(verb=v, auth=False):
                self.assertNotRegex(c.request(v), r"^ERR unknown_command ")
        a = self.connect()
        a.auth("admin1")
        for v in verbs:
            if v.upper() in ("QUIT", "AUTH"):
                continue
            with self.subTest(verb=v, auth=True):
                self.assertNotRegex(a.request(v), r"^ERR unknown_command ")
        self.assertOK(a.request("PING"))

    def test_zz_log_format(self):
        """Every log line so far is `TIMESTAMP level message`."""
        self.assertEqual(self.daemon.bad_log_lines(), [])
        self.assertIsNotNone(self.daemon.find_log(r" info listening on 127\.0\.0\.1:\d+$"))


class MultiListenerTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis("redis-multi")
        cls.daemon = H.start_daemon(cls.redis.address, name="multi",
                                    listen=["127.0.0.1:0", "127.0.0.1:0"])
        cls.addClassCleanup(cls.daemon.stop)

    def test_each_listener_serves(self):
        ports = self.daemon.ports
        self.assertEqual(len(ports), 2)
        self.assertNotEqual(ports[0], ports[1])
        clients = []
        for p in ports:
            c = harness.Client(p)
            self.addCleanup(c.close)
            self.assertOK(c.request("PING"))
            clients.append(c)
        clients[1].auth("super1")
        s = harness.stats(clients[1])
        self.assertGreaterEqual(s["connections"]["current"], 2)


if __name__ == "__main__":
    harness.main()
