#!/usr/bin/python3
"""A misbehaving XMPP server, to check how the backend copes.

usage: fake_server.py PORT MODE RECORD_FILE

Listens on 127.0.0.1:PORT as a XEP-0114 component server. For each
connection it answers the stream header, accepts any handshake, then acts
according to MODE:

  notwellformed     sends a stanza that is not well-formed XML
  oversized         sends one 4 MiB stanza, in 64 KiB pieces
  preauth_oversized sends a 1 MiB stanza before the handshake is answered
  deep              sends a stanza nested 500 levels deep
  restricted        sends a processing instruction (restricted XML)
  silent            never answers anything after the handshake

Everything the backend sends is appended to RECORD_FILE, so tests can check
that it closed the stream with the right error. Runs until killed.
"""
import socket
import sys
import threading

HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
    b"xmlns:stream='http://etherx.jabber.org/streams' id='fake1234' from='gw.example.test'>"
)


def record(path, data):
    with open(path, "ab") as f:
        f.write(data)


def read_until(conn, path, marker):
    buf = b""
    while marker not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        record(path, chunk)
        buf += chunk
    return buf


def send_big(conn, size):
    conn.sendall(b"<message to='gw.example.test'><body>")
    piece = b"x" * 65536
    sent = 0
    try:
        while sent < size:
            conn.sendall(piece)
            sent += len(piece)
        conn.sendall(b"</body></message>")
    except OSError:
        pass  # the backend closed on us, as it should


def serve(conn, mode, path):
    if read_until(conn, path, b">") is None:
        conn.close()  # a port probe, not a client
        return
    try:
        conn.sendall(HEADER)
        if mode == "preauth_oversized":
            send_big(conn, 1 << 20)
        elif read_until(conn, path, b"</handshake>") is not None:
            conn.sendall(b"<handshake/>")
            if mode == "notwellformed":
                conn.sendall(b"<message to='gw.example.test'><body>oops</message>")
            elif mode == "oversized":
                send_big(conn, 4 << 20)
            elif mode == "deep":
                conn.sendall(b"<message>" + b"<a>" * 500 + b"</a>" * 500 + b"</message>")
            elif mode == "restricted":
                conn.sendall(b"<?evil instruction?>")
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            record(path, chunk)
    except OSError:
        pass
    finally:
        record(path, b"\n--closed--\n")
        conn.close()


def main():
    port, mode, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, mode, path), daemon=True).start()


if __name__ == "__main__":
    main()
