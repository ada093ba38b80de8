"""A supervisor that reads its tail as fast as it comes, in a process of its
own (so the test's other threads cannot slow it down).

    python3 tail_reader.py PORT USER SECRET N

Logs in, sends `TAIL calls`, prints the reply line, then reads until N
`* calls` lines have arrived and prints the id of each, one per line.  Any
other line (an `* overflow` above all) is printed as `UNEXPECTED <line>`
and ends the run with status 1.  Stdlib only."""

import json
import socket
import sys

READ_TIMEOUT_S = 120


def main():
    port, user, secret, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    s = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT_S)
    buf = bytearray()

    def lines():
        nonlocal buf
        while True:
            i = buf.find(b"\n")
            while i >= 0:
                line = bytes(buf[:i])
                del buf[:i + 1]
                yield line
                i = buf.find(b"\n")
            data = s.recv(1 << 20)
            if not data:
                raise ConnectionError("the daemon closed the connection")
            buf += data

    it = lines()
    s.sendall(f"AUTH {user} {secret}\nTAIL calls\n".encode())
    auth, tail = next(it), next(it)
    if not auth.startswith(b"OK") or not tail.startswith(b"OK"):
        print(f"UNEXPECTED {auth!r} {tail!r}", flush=True)
        return 1
    print(tail.decode(), flush=True)
    ids = []
    while len(ids) < n:
        line = next(it)
        if not line.startswith(b"* calls "):
            print(f"UNEXPECTED {line[:300]!r} after {len(ids)} entries", flush=True)
            return 1
        ids.append(json.loads(line[8:])["id"])
    sys.stdout.write("".join(i + "\n" for i in ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
