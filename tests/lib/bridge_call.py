#!/usr/bin/python3
"""Calls a method of a running libervia-backend over its bridge socket.

usage: bridge_call.py SOCKET METHOD [JSON_PARAMS]

Prints the result as JSON and exits 0, or prints the error object and exits 1
(2 when nothing listens on the socket). Independent of our C client on
purpose: tests use it to speak raw JSON-RPC to the daemon.
"""
import json
import socket
import sys


def main() -> int:
    path, method = sys.argv[1], sys.argv[2]
    params = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(float(__import__("os").environ.get("LV_BRIDGE_TIMEOUT", "30")))
    try:
        s.connect(path)
    except OSError as e:
        print(f"cannot connect to {path}: {e}", file=sys.stderr)
        return 2
    req = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    s.sendall(json.dumps(req).encode() + b"\n")
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            print("connection closed", file=sys.stderr)
            return 1
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            msg = json.loads(line)
            if "method" in msg:
                continue  # a notification
            if "error" in msg:
                print(json.dumps(msg["error"]))
                return 1
            print(json.dumps(msg["result"]))
            return 0


if __name__ == "__main__":
    sys.exit(main())
