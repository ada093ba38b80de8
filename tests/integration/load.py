"""Load for the fault tests: agents logging whole calls at a steady pace.

Each write carries its own request_id.  A write that gets no answer (the
connection closed or reset, or nothing within reply_timeout) or ERR
unavailable is retried with the same request_id, after reconnecting when
needed, as PROTOCOL.md tells desktops to do; so the log must hold every
acknowledged write exactly once, in each agent's order.
"""

import json
import threading
import time

import harness
from harness import T

CALL_STEPS = (("offer", {"queue": "mobile"}), ("answer", {}), ("end", {"disposition": "resolved"}))


class LoadAgent(threading.Thread):
    """One agent desktop.  port_of() gives the daemon's port at the moment
    (it may change across restarts); stop ends the run after the current
    write is acknowledged."""

    def __init__(self, port_of, user, stop, secret=None, interval=0.05, max_calls=1000,
                 reply_timeout=None, max_attempts=200):
        super().__init__(daemon=True)
        self.port_of, self.user, self.stop = port_of, user, stop
        self.secret = secret or f"{user}-secret"
        self.interval, self.max_calls, self.max_attempts = interval, max_calls, max_attempts
        self.reply_timeout = T(10) if reply_timeout is None else reply_timeout
        self.acked = []          # request_ids answered OK, in the order written
        self.spooled = 0         # ... of which "spooled":true
        self.duplicates = 0      # retries answered with the original reply ("duplicate":true)
        self.retries = 0         # writes sent again with the same request_id
        self.closed = 0          # attempts the connection died under (no answer)
        self.unanswered = 0      # attempts with no answer within reply_timeout
        self.errors = {}         # ERR code -> count
        self.answer_s = []       # seconds from sending a write to its answer, every answered attempt
        self.error = None        # what ended the thread early, if anything
        self.c = None

    # -- connection
    def connect(self):
        """Connect and log in, retrying (bounded) while the daemon is away."""
        deadline = time.monotonic() + T(60)
        last = None
        while time.monotonic() < deadline:
            try:
                c = harness.Client(self.port_of(), timeout=T())
            except OSError as e:
                last = e
                time.sleep(0.05)
                continue
            try:
                reply = c.request(f"AUTH {self.user} {self.secret}", T())
            except (harness.ConnectionClosed, OSError, AssertionError) as e:
                c.close()
                last = e
                time.sleep(0.05)
                continue
            if reply.startswith("OK"):
                return c
            c.close()
            last = reply
            time.sleep(0.1)  # e.g. rate_limited while many log in at once
        raise AssertionError(f"{self.user}: cannot connect and log in: {last!r}")

    def drop(self):
        if self.c:
            self.c.close()
            self.c = None

    # -- one write, until it is acknowledged
    def write(self, line, rid):
        for attempt in range(self.max_attempts):
            if attempt:
                self.retries += 1
            if self.c is None:
                self.c = self.connect()
            t0 = time.monotonic()
            try:
                self.c.send_line(line)
                reply = self.c.read_reply(self.reply_timeout)
            except (harness.ConnectionClosed, OSError):
                self.closed += 1
                self.drop()
                continue
            except AssertionError:
                self.unanswered += 1
                self.drop()  # a late reply would be taken for the next request's
                continue
            self.answer_s.append(time.monotonic() - t0)
            if reply.startswith("OK"):
                body = harness.parse_ok_json(reply)
                self.acked.append(rid)
                self.spooled += body.get("spooled") is True
                self.duplicates += body.get("duplicate") is True
                return
            code = harness.parse_err(reply)[0]
            self.errors[code] = self.errors.get(code, 0) + 1
            if code != "unavailable":
                raise AssertionError(f"{self.user}: {line} -> {reply}")
            time.sleep(0.05)
        raise AssertionError(f"{self.user}: {rid} not acknowledged after {self.max_attempts} attempts")

    def run(self):
        try:
            for i in range(self.max_calls):
                if self.stop.is_set():
                    break
                call = f"{self.user}-c{i}"
                for event, extra in CALL_STEPS:
                    rid = f"{call}-{event}"
                    args = {"call_id": call, "request_id": rid, **extra}
                    self.write(f"CALL {event} " + json.dumps(args, separators=(",", ":")), rid)
                    time.sleep(self.interval)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.drop()


def run_agents(agents, timeout=None):
    """Join agents (bounded); AssertionError if one is still running."""
    for a in agents:
        a.join(T(120) if timeout is None else timeout)
        if a.is_alive():
            raise AssertionError(f"{a.user} did not finish")


def check_logged_once_in_order(test, entries, agents):
    """Every agent's acknowledged request_ids are in the log exactly once and
    in its order, and nothing else of theirs is (entries: parsed log
    entries, stream order).  No entry may have been refused on replay."""
    test.assertEqual([e for e in entries if "rejected" in e], [], "writes refused on replay")
    logged = [e.get("request_id") for e in entries]
    for a in agents:
        mine = [rid for rid in logged if rid and rid.startswith(a.user + "-")]
        test.assertEqual(len(mine), len(set(mine)), f"{a.user}: an entry was logged twice")
        test.assertEqual(mine, a.acked, f"{a.user}: acknowledged entries missing or out of order")


def totals(agents):
    keys = ("acked", "spooled", "duplicates", "retries", "closed", "unanswered")
    out = {k: sum(len(getattr(a, k)) if k == "acked" else getattr(a, k) for a in agents) for k in keys}
    errors = {}
    for a in agents:
        for code, n in a.errors.items():
            errors[code] = errors.get(code, 0) + n
    out["errors"] = errors
    return out
