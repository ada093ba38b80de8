"""Personal data stays out of hotlined's own log.  Customers with planted
canary names, phone numbers, accounts and notes are seeded straight into
Redis; a realistic session (POP, a call's life, a complaint, reads, a live
TAIL, a failed AUTH and refused requests that quote the canaries) runs
through a daemon at log level debug; then the daemon's whole log file must
contain none of the canaries, in any spelling."""

import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

H = None
P = "hotline:"

# Text canaries: none of them may appear anywhere in the log (case-insensitive).
NAME1 = "Canary Zqxwv"
NAME2 = "Canary Yvbnm"
TEXT_CANARIES = [
    NAME1, "Zqxwv",
    NAME2, "Yvbnm",
    "canary-note-77",             # customer notes
    "ACZQX991",                   # account number
    "canary-team-Hgfds",          # customer team
    "canary-callnote-Qpwoe",      # CALL note
    "canary-endnote-Tyhgb",       # CALL end note
    "canary-summary-Lkjhg",       # COMPLAINT summary
    "canary-acknote-Zxcvb",       # COMPLAINT ack note
    "canary-resolution-Mnbvc",    # COMPLAINT resolution
    "canary-secret-Wxyzq",        # failed AUTH secret
    "canary-user-Plokm",          # failed AUTH user name
    "agent1-secret",              # a real secret (successful AUTH)
    "canary-phone-Rtyui",         # bad phone in a refused POP
    "canary-json-Ghjkl",          # JSON syntax error
    "canary-dup-Vfrtg",           # duplicate key
    "canary-long-Bgtyh",          # over-long line
    "canary-ctl-Nhyuj",           # control character
    "canary-utf8-Mjuik",          # invalid UTF-8
    "canary-field-Kiolp",         # unknown field
]

# Phone canaries: national significant numbers; matched with separators
# (space - . ( ) / +) removed, so "+86 139-1234-5678" and "13912345678"
# are both caught, plus the last 8 digits verbatim.
PHONES = {
    "+8613912345678": "13912345678",
    "+8613955501234": "13955501234",
    "+8613966607788": "13966607788",  # caller with no customer record
}


def put_customer(r, cid, name, **kw):
    harness.put_customer(r, cid, name, tier="gold", status="active", lifecycle="stability", **kw)


def setUpModule():
    global H
    H = harness.module_harness("privacy")


class PrivacyTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = H.start_redis()
        cls.daemon = H.start_daemon(cls.redis.address, phone={"default_country": "86"},
                                    log={"level": "debug"})
        cls.addClassCleanup(cls.daemon.stop)
        with cls.redis.client() as r:
            put_customer(r, "CZ1", NAME1, phones=["+8613912345678"], accounts=["ACZQX991"],
                         notes="canary-note-77", team="canary-team-Hgfds")
            r.command("LPUSH", P + "customer:CZ1:contacts",
                      json.dumps({"time": "2026-11-01T10:00:00Z", "kind": "call", "agent": "agent1",
                                  "summary": "canary-note-77 follow-up"}))
            put_customer(r, "CZ2", NAME2, phones=["+8613955501234"])

    def session(self):
        """The realistic session; returns what the live tails received."""
        d = self.daemon
        sup = self.connect_auth("super1")
        self.assertEqual(harness.parse_ok_json(sup.request("TAIL calls"))["stream"], "calls")
        self.assertEqual(harness.parse_ok_json(sup.request("TAIL complaints"))["stream"], "complaints")

        a1 = self.connect_auth("agent1")
        # screen pops: by phone (several spellings), customer id, account
        for raw in ["+86 139-1234-5678", "13912345678", "0139 1234 5678"]:
            body = harness.parse_ok_json(a1.request("POP " + json.dumps({"phone": raw, "call_id": "pv-1"})))
            self.assertEqual(body["customer"]["name"], NAME1)
        body = harness.parse_ok_json(a1.request('POP {"customer_id":"CZ1"}'))
        self.assertEqual(body["customer"]["notes"], "canary-note-77")
        self.assertEqual(harness.parse_ok_json(a1.request('POP {"account":"ACZQX991"}'))["customer"]["id"], "CZ1")
        self.assertEqual(harness.parse_ok_json(a1.request('POP {"phone":"139 6660 7788"}'))["match"], "none")

        # a call's life, with the phone and canary notes
        def call(event, **f):
            return a1.request(f"CALL {event} " + json.dumps(f))
        self.assertIn('"offered"', call("offer", call_id="pv-1", queue="q", phone="+86 139 1234 5678",
                                        note="canary-callnote-Qpwoe"))
        self.assertIn('"answered"', call("answer", call_id="pv-1", note="canary-callnote-Qpwoe"))
        self.assertIn('"ended"', call("end", call_id="pv-1", disposition="resolved", csat=5,
                                      note="canary-endnote-Tyhgb"))
        self.assertIn('"offered"', call("offer", call_id="pv-2", queue="q", phone="13966607788"))
        self.assertIn('"abandoned"', call("end", call_id="pv-2", disposition="resolved"))

        # a complaint: open (by phone), ack, resolve, get, list
        body = harness.parse_ok_json(a1.request("COMPLAINT open " + json.dumps(
            {"phone": "139-5550-1234", "category": "billing", "severity": "high",
             "summary": "canary-summary-Lkjhg: " + NAME2 + " +8613955501234"})))
        kid = body["complaint_id"]
        harness.parse_ok_json(a1.request("COMPLAINT ack " + json.dumps(
            {"complaint_id": kid, "note": "canary-acknote-Zxcvb"})))
        harness.parse_ok_json(a1.request("COMPLAINT resolve " + json.dumps(
            {"complaint_id": kid, "resolution": "canary-resolution-Mnbvc"})))
        got = harness.parse_ok_json(a1.request("COMPLAINT get " + json.dumps({"complaint_id": kid})))
        self.assertIn("canary-summary-Lkjhg", json.dumps(got))
        harness.parse_ok_json(a1.request("COMPLAINT list {}"))
        harness.parse_ok_json(sup.request("QUEUE"))
        harness.parse_ok_json(sup.request("STATS"))

        # refused requests that quote canaries
        refused = [
            ('POP {"phone":"canary-phone-Rtyui"}', "bad_request"),
            ('POP {"phone":"canary-json-Ghjkl"', "bad_request"),
            ('POP {"phone":"canary-dup-Vfrtg","phone":"13912345678"}', "bad_request"),
            ('POP {"phone":"13912345678","canary-field-Kiolp":"' + NAME1 + '"}', "bad_request"),
            ('CALL offer {"call_id":"pv-3","queue":"q","phone":"+8613912345678","agent":"Zqxwv"}',
             "bad_request"),
            ('COMPLAINT open {"phone":"13955501234","category":"billing","severity":"high",'
             '"summary":"canary-summary-Lkjhg ' + NAME2 + '"', "bad_request"),
            ('POP {"phone":"canary-ctl-Nhyuj\x1b[0m"}', "bad_request"),
            ('COMPLAINT get {"complaint_id":"canary-summary-Lkjhg"}', None),
            ('CALL answer {"call_id":"pv-1","note":"canary-callnote-Qpwoe"}', None),
        ]
        for line, code in refused:
            with self.subTest(line=line):
                reply = a1.request(line)
                self.assertTrue(reply.startswith("ERR "), reply)
                if code:
                    self.assertErr(reply, code)
        a1.send(b'POP {"phone":"canary-utf8-Mjuik\xff\xfe"}\n')
        self.assertErr(a1.read_reply(), "bad_request")
        a1.send_line('POP {"phone":"canary-long-Bgtyh' + "9" * 70000 + '"}')
        self.assertErr(a1.read_reply(), "line_too_long")
        self.assertOK(a1.request("PING"))

        # a failed AUTH (on its own connection: it would log a1 out)
        bad = self.connect()
        self.assertErr(bad.request("AUTH canary-user-Plokm canary-secret-Wxyzq"), "auth_failed")
        self.assertErr(bad.request("AUTH agent1 canary-secret-Wxyzq"), "auth_failed")
        bad.send_line("AUTH agent1 canary-long-Bgtyh" + "x" * 2000)
        self.assertErr(bad.read_reply(), "line_too_long")

        # the live tails received the entries (with the personal data in them)
        def got_all():
            while sup.pending(0.05):
                sup.read_line()
            seen = {"calls": [], "complaints": []}
            for line in sup.pushes:  # also those skipped by request()
                m = harness.PUSH_RE.match(line)
                if m:
                    seen.setdefault(m.group(1), []).append(json.loads(m.group(2)))
            ok = (len([e for e in seen["calls"] if e.get("call_id") in ("pv-1", "pv-2")]) >= 5
                  and len([e for e in seen["complaints"] if e.get("complaint_id") == kid]) >= 3)
            return seen if ok else None
        seen = harness.wait_until(got_all, what="tail pushes")
        self.assertIn("canary-callnote-Qpwoe", json.dumps(seen["calls"]))
        self.assertOK(sup.request("PING"))
        harness.parse_ok_json(sup.request("UNTAIL calls"))
        harness.parse_ok_json(sup.request("UNTAIL complaints"))
        # let the daemon log everything it is going to log about these connections
        for c in (a1, bad, sup):
            c.close()
        d.wait_log(r"user=super1: closed")
        return seen

    def test_no_personal_data_in_daemon_log(self):
        self.session()
        self.daemon.stop()  # the whole log, shutdown included
        text = self.daemon.log_text()
        lines = text.splitlines()
        # sanity: this is the debug-level log of the session
        self.assertTrue(any(" debug " in l for l in lines), "no debug lines: log level not debug?")
        self.assertTrue(any("authenticated as agent" in l for l in lines))

        leaks = []
        for n, line in enumerate(lines, 1):
            low = line.lower()
            for canary in TEXT_CANARIES:
                if canary.lower() in low:
                    leaks.append((n, canary, line))
            squeezed = re.sub(r"[\s\-.()/+]", "", line)
            for full, national in PHONES.items():
                if national in squeezed or national[-8:] in line:
                    leaks.append((n, full, line))
        report = "\n".join(f"  log line {n}: canary {c!r}: {l}" for n, c, l in leaks)
        if leaks:
            sys.stderr.write("\nPERSONAL DATA IN THE DAEMON LOG:\n" + report + "\n")
        self.assertEqual(leaks, [], "canaries leaked into the daemon log:\n" + report)


if __name__ == "__main__":
    unittest.main(verbosity=2)
