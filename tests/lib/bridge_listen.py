#!/usr/bin/python3
"""Listens to a running libervia-backend's bridge notifications.

usage: bridge_listen.py SOCKET METHOD COUNT TIMEOUT

Prints each notification named METHOD as one JSON line (its params) until
COUNT of them came (exit 0) or TIMEOUT seconds passed (exit 1). Prints
"READY" first, once connected, so that a test knows when to act.
"""
import json
import socket
import sys
import time


def main() -> int:
    path, method, count, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    print("READY", flush=True)
    deadline = time.monotonic() + timeout
    buf, seen = b"", 0
    while seen < count:
        left = deadline - time.monotonic()
        if left <= 0:
            return 1
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return 1
        if not chunk:
            return 1
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            msg = json.loads(line)
            if msg.get("method") == method:
                print(json.dumps(msg["params"]), flush=True)
                seen += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
