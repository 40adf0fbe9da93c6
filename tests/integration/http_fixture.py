#!/usr/bin/python3
"""HTTP(S) fixture for the lv_http_client integration test.

Listens on 127.0.0.1 only (ephemeral ports), plain HTTP and, with --cert and
--key, HTTPS. Writes "HTTP_PORT HTTPS_PORT" to --ports-file once both listen.

Endpoints (any method):
  /echo             JSON {method, path, headers (lowercased names), body_hex}
  /actor            application/activity+json Person
  /ld               application/ld+json; profile="https://www.w3.org/ns/activitystreams"
  /accept           activity+json {"accept": <the request's Accept header>}
  /html             text/html
  /webfinger        application/jrd+json
  /slow             sleeps 3 s, then JSON
  /sleep/MS         sleeps MS milliseconds (counted in max_inflight), then JSON
  /large            5 MiB with Content-Length
  /large-chunked    5 MiB chunked (no Content-Length)
  /redirect/N       302 to /redirect/N-1; /redirect/0 is /actor
  /loop             302 to itself
  /redir-private    302 to http://10.0.0.1:PORT/actor (must be refused by the client)
  /redir-metadata   302 to http://169.254.169.254/latest/meta-data/ (same)
  /redir-mapped     302 to http://[::ffff:10.0.0.1]:PORT/actor (same)
  /redir-ftp        302 to ftp://127.0.0.1/file
  /deep             activity+json nested 100 levels deep
  /many             activity+json holding 150,000 values
  /notjson          activity+json that is not JSON
  /array            activity+json whose top level is an array
  /gzip             activity+json sent with Content-Encoding: gzip
  /conn             JSON {"port": the client's source port} (keep-alive check)
  /status/N         status N with a small JSON body
  /many-headers     200 response headers
  /headers/N        N extra response headers
  /stats            JSON {"hits", "max_inflight"} (not counted as a hit)
  /stats/reset      resets the counters
"""
import argparse
import gzip
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AP = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
BIG = 5 * 1024 * 1024

lock = threading.Lock()
stats = {"hits": 0, "inflight": 0, "max_inflight": 0}


def actor(handler):
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "http://127.0.0.1:%d/actor" % handler.server.server_port,
        "type": "Person",
        "preferredUsername": "fixture",
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lv-http-fixture"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    # -- helpers --
    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, body, ctype="application/json", extra=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Fixture", "yes")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def redirect(self, location):
        self.send(302, "", "text/plain", [("Location", location)])

    def port(self):
        return self.server.server_port

    # -- dispatch --
    def handle_any(self):
        body = self.read_body()
        path = self.path.split("?", 1)[0]
        if path.startswith("/stats"):
            return self.do_stats(path)
        with lock:
            stats["hits"] += 1
        for prefix, fn in ROUTES:
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                try:
                    return fn(self, path, body)
                except OSError as e:  # the client went away (timeout, cancel, limit)
                    self.log_message("%s: client gone: %s", path, e)
                    self.close_connection = True
                    return
        self.send(404, {"error": "no such fixture endpoint"})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any

    def do_stats(self, path):
        with lock:
            if path == "/stats/reset":
                stats.update(hits=0, inflight=0, max_inflight=0)
            snapshot = dict(stats)
        self.send(200, snapshot)

    # -- endpoints --
    def ep_echo(self, path, body):
        self.send(200, {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body_hex": body.hex(),
        })

    def ep_actor(self, path, body):
        self.send(200, actor(self), AP)

    def ep_ld(self, path, body):
        self.send(200, actor(self), LD)

    def ep_accept(self, path, body):
        self.send(200, {"type": "Note", "accept": self.headers.get("Accept", "")}, AP)

    def ep_html(self, path, body):
        self.send(200, "<!doctype html><title>fixture</title><p>hello</p>", "text/html; charset=utf-8")

    def ep_webfinger(self, path, body):
        self.send(200, {"subject": "acct:fixture@127.0.0.1", "links": [
            {"rel": "self", "type": AP, "href": "http://127.0.0.1:%d/actor" % self.port()}]},
            "application/jrd+json")

    def ep_slow(self, path, body):
        time.sleep(3)
        self.send(200, {"slow": True})

    def ep_sleep(self, path, body):
        ms = int(path.rsplit("/", 1)[1])
        with lock:
            stats["inflight"] += 1
            stats["max_inflight"] = max(stats["max_inflight"], stats["inflight"])
        try:
            time.sleep(ms / 1000)
        finally:
            with lock:
                stats["inflight"] -= 1
        self.send(200, {"slept_ms": ms})

    def ep_large(self, path, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(BIG))
        self.end_headers()
        if self.command != "HEAD":
            self.write_big(lambda chunk: self.wfile.write(chunk))

    def ep_large_chunked(self, path, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        if self.write_big(chunk):
            self.wfile.write(b"0\r\n\r\n")

    def write_big(self, write):
        sent = 0
        piece = b"x" * 65536
        try:
            while sent < BIG:
                write(piece)
                sent += len(piece)
            return True
        except OSError:
            self.close_connection = True
            return False
        finally:
            self.log_message("large body: %d bytes written before the end", sent)

    def ep_redirect(self, path, body):
        n = int(path.rsplit("/", 1)[1])
        if n <= 0:
            return self.ep_actor(path, body)
        self.redirect("/redirect/%d" % (n - 1))

    def ep_loop(self, path, body):
        self.redirect("/loop")

    def ep_redir_private(self, path, body):
        self.redirect("http://10.0.0.1:%d/actor" % self.port())

    def ep_redir_metadata(self, path, body):
        self.redirect("http://169.254.169.254/latest/meta-data/")

    def ep_redir_mapped(self, path, body):
        self.redirect("http://[::ffff:10.0.0.1]:%d/actor" % self.port())

    def ep_redir_ftp(self, path, body):
        self.redirect("ftp://127.0.0.1/file")

    def ep_deep(self, path, body):
        self.send(200, '{"a":' * 100 + "1" + "}" * 100, AP)

    def ep_many(self, path, body):
        self.send(200, '{"type":"Collection","items":[' + ",".join(["0"] * 150000) + "]}", AP)

    def ep_notjson(self, path, body):
        self.send(200, '{"type": "Note", "content": ', AP)

    def ep_array(self, path, body):
        self.send(200, "[1, 2, 3]", AP)

    def ep_gzip(self, path, body):
        data = gzip.compress(json.dumps(actor(self)).encode())
        self.send(200, data, AP, [("Content-Encoding", "gzip")])

    def ep_conn(self, path, body):
        self.send(200, {"port": self.client_address[1]})

    def ep_status(self, path, body):
        n = int(path.rsplit("/", 1)[1])
        self.send(n, {"status": n}, AP)

    def ep_many_headers(self, path, body):
        n = int(path.rsplit("/", 1)[1]) if path.startswith("/headers/") else 200
        extra = [("X-Many-%d" % i, "v") for i in range(n)]
        self.send(200, {"many": True}, "application/json", extra)


ROUTES = [
    ("/echo", Handler.ep_echo), ("/actor", Handler.ep_actor), ("/ld", Handler.ep_ld),
    ("/accept", Handler.ep_accept), ("/html", Handler.ep_html),
    ("/webfinger", Handler.ep_webfinger), ("/slow", Handler.ep_slow),
    ("/sleep/", Handler.ep_sleep), ("/large", Handler.ep_large),
    ("/large-chunked", Handler.ep_large_chunked), ("/redirect/", Handler.ep_redirect),
    ("/loop", Handler.ep_loop), ("/redir-private", Handler.ep_redir_private),
    ("/redir-metadata", Handler.ep_redir_metadata), ("/redir-mapped", Handler.ep_redir_mapped),
    ("/redir-ftp", Handler.ep_redir_ftp), ("/deep", Handler.ep_deep), ("/many", Handler.ep_many),
    ("/notjson", Handler.ep_notjson), ("/array", Handler.ep_array), ("/gzip", Handler.ep_gzip),
    ("/conn", Handler.ep_conn), ("/status/", Handler.ep_status),
    ("/many-headers", Handler.ep_many_headers), ("/headers/", Handler.ep_many_headers),
]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class TLSServer(Server):
    """TLS is set up in the request's thread, so a stalled or failing
    handshake does not block the accept loop."""
    context = None

    def finish_request(self, request, client_address):
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            sys.stderr.write("TLS handshake with %s failed: %s\n" % (client_address, e))
            return
        try:
            super().finish_request(request, client_address)
        finally:
            try:
                request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            request.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()

    servers = [Server(("127.0.0.1", 0), Handler)]
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        tls = TLSServer(("127.0.0.1", 0), Handler)
        tls.context = ctx
        servers.append(tls)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    ports = " ".join(str(s.server_port) for s in servers)
    tmp = args.ports_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(ports + "\n")
    os.rename(tmp, args.ports_file)
    sys.stderr.write("fixture listening on 127.0.0.1 ports %s\n" % ports)
    threading.Event().wait()


if __name__ == "__main__":
    main()
