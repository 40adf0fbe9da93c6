#!/usr/bin/python3
"""Small XMPP client for Libervia tests (Debian python3-slixmpp).

Usage:
  xmpp_client.py --jid JID --password PW [--host 127.0.0.1] [--port 5222]
                 [--ca FILE] [--no-tls] [--sasl MECH] [--timeout S] [--debug]
                 ACTION ...

Actions:
  login                          print "OK connected <full jid>" and
                                 "session tls=<yes|no> sasl=<MECH>"
  disco-info TARGET [--node N]   print "identity CATEGORY/TYPE NAME" and
                                 "feature VAR" lines (XEP-0030)
  ping TARGET                    XEP-0199 ping; prints "OK pong TARGET ms=..."
  ping-flood TARGET COUNT CONCURRENCY
                                 COUNT pings with at most CONCURRENCY outstanding;
                                 prints "pings=N errors=E seconds=S rate=R/s"
                                 (exit 0 even with errors; default --timeout 300)
  iq-raw TARGET XML [--type get|set]
                                 send <iq type=... to=TARGET>XML</iq>, print the
                                 reply stanza (XML needs its own xmlns)

TLS: by default STARTTLS is required and the server certificate is checked
(against --ca if given, else the system store) for the JID's domain; --no-tls
never starts TLS (SASL then needs a mechanism the server offers in plain,
e.g. SCRAM-SHA-1).

Run it as is (shebang /usr/bin/python3) or with /usr/bin/python3: the
`python3` first on PATH here may be another interpreter without slixmpp.
Standard output is written in one piece at exit.

TARGET may be any JID: the server ("example.test"), a component
("gw.example.test"), a user; the code path is the same.

Exit codes: 0 success, 1 error reply (condition printed as
"ERROR <condition> type=<type> [text]"), 2 connection/TLS/auth failure,
3 timeout (overall, --timeout, default 10 s), 64 usage error.
"""

import argparse
import asyncio
import logging
import os
import sys
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

try:
    import slixmpp
    from slixmpp.exceptions import IqError, IqTimeout
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher.base import MatcherBase
except ImportError as exc:  # pragma: no cover
    print(f"CONNFAIL slixmpp not available: {exc} (apt-get install python3-slixmpp)",
          file=sys.stderr)
    sys.exit(2)

EXIT_OK, EXIT_ERROR, EXIT_CONN, EXIT_TIMEOUT, EXIT_USAGE = 0, 1, 2, 3, 64

# Standard output is collected and written in one go at exit, ignoring a closed
# pipe: `xmpp_client.py ... | head -1` under `set -o pipefail` must not turn
# into a failure (exit 141/120) when the reader leaves early.
_OUT = []


def out(line):
    _OUT.append(str(line))


def flush_out():
    data = "".join(f"{line}\n" for line in _OUT).encode()
    _OUT.clear()
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(1, view):]
    except (BrokenPipeError, OSError):
        pass


NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_PING = "urn:xmpp:ping"


class Failure(Exception):
    def __init__(self, code, message, stanza=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.stanza = stanza


def error_line(iq):
    """'ERROR <condition> type=<type> [text]' from an error iq stanza."""
    err = iq.xml.find("{jabber:client}error")
    if err is None:
        err = iq.xml.find("error")
    cond, etype, text = "undefined-condition", "", ""
    if err is not None:
        etype = err.get("type", "")
        for child in err:
            tag = child.tag.split("}", 1)[-1]
            if child.tag.startswith("{" + NS_STANZAS + "}"):
                if tag == "text":
                    text = child.text or ""
                else:
                    cond = tag
    line = f"ERROR {cond} type={etype}"
    if text:
        line += f" {text}"
    return line


class Client(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.loop_deadline = None
        self.result = asyncio.get_event_loop().create_future()
        self.session_ok = False
        if args.ca:
            self.ca_certs = args.ca
        if args.sasl:
            self["feature_mechanisms"].use_mech = args.sasl
        # The stanza timeout default (30 s) must not outlive the overall one.
        self.response_timeout = args.timeout
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("failed_all_auth", self.on_failed_auth)
        self.add_event_handler("ssl_invalid_chain", self.on_bad_cert)
        self.add_event_handler("disconnected", self.on_disconnected)
        self.add_event_handler("stream_error", self.on_stream_error)

    # -- outcome helpers ----------------------------------------------------
    def finish(self, code, message=None):
        if not self.result.done():
            self.result.set_result((code, message))

    def remaining(self):
        return max(0.1, self.loop_deadline - time.monotonic())

    # -- failure events -----------------------------------------------------
    def on_connection_failed(self, err):
        self.finish(EXIT_CONN, f"CONNFAIL connection failed: {err}")

    def on_failed_auth(self, *_):
        mechs = sorted(getattr(self["feature_mechanisms"], "mech_list", []) or [])
        self.finish(EXIT_CONN, "AUTHFAIL authentication failed "
                               f"(server mechanisms: {' '.join(mechs) or '?'})")

    def on_bad_cert(self, err):
        self.finish(EXIT_CONN, f"TLSFAIL certificate verification failed: {err}")

    def on_stream_error(self, err):
        cond = err["condition"] if err is not None else "?"
        self.finish(EXIT_CONN, f"CONNFAIL stream error: {cond}")

    def on_disconnected(self, *_):
        if not self.session_ok:
            self.finish(EXIT_CONN, "CONNFAIL disconnected before the session started")
        else:
            self.finish(EXIT_CONN, "CONNFAIL disconnected by the server during the action")

    # -- session ------------------------------------------------------------
    def tls_active(self):
        transport = getattr(self, "transport", None)
        return transport is not None and transport.get_extra_info("ssl_object") is not None

    def mech_name(self):
        mech = getattr(self["feature_mechanisms"], "mech", None)
        return getattr(mech, "name", None) or "?"

    async def on_session_start(self, _event):
        self.session_ok = True
        if not self.args.no_tls and not self.tls_active():
            self.finish(EXIT_CONN, "TLSFAIL session started without TLS "
                                   "(server did not offer STARTTLS?)")
            return
        try:
            code = await ACTIONS[self.args.action](self, self.args)
            self.finish(code)
        except Failure as f:
            self.finish(f.code, f.message)
        except Exception as exc:  # pragma: no cover - unexpected
            logging.exception("action failed")
            self.finish(EXIT_ERROR, f"ERROR internal {exc!r}")

    async def send_iq(self, target, itype, payload, timeout=None):
        """Send an iq; return the result stanza. Raises Failure on error/timeout."""
        iq = self.Iq()  # fresh unique id (make_iq() would use id "0")
        iq["to"] = target
        iq["type"] = itype
        if payload is not None:
            iq.append(payload)
        try:
            return await iq.send(timeout=timeout if timeout else self.remaining())
        except IqError as e:
            raise Failure(EXIT_ERROR, error_line(e.iq), stanza=str(e.iq))
        except IqTimeout:
            raise Failure(EXIT_TIMEOUT, f"TIMEOUT no answer from {target}")


# -- actions ------------------------------------------------------------------
async def act_login(c, _args):
    out(f"OK connected {c.boundjid.full}")
    out(f"session tls={'yes' if c.tls_active() else 'no'} sasl={c.mech_name()}")
    return EXIT_OK


async def act_disco_info(c, args):
    query = ET.Element(f"{{{NS_DISCO_INFO}}}query")
    if args.node:
        query.set("node", args.node)
    reply = await c.send_iq(args.target, "get", query)
    q = reply.xml.find(f"{{{NS_DISCO_INFO}}}query")
    if q is None:
        raise Failure(EXIT_ERROR, "ERROR bad-reply no disco#info query in the result")
    for ident in q.findall(f"{{{NS_DISCO_INFO}}}identity"):
        line = f"identity {ident.get('category', '')}/{ident.get('type', '')}"
        if ident.get("name"):
            line += f" {ident.get('name')}"
        out(line)
    for feat in q.findall(f"{{{NS_DISCO_INFO}}}feature"):
        out(f"feature {feat.get('var', '')}")
    return EXIT_OK


async def act_ping(c, args):
    t0 = time.monotonic()
    await c.send_iq(args.target, "get", ET.Element(f"{{{NS_PING}}}ping"))
    out(f"OK pong {args.target} ms={(time.monotonic() - t0) * 1000:.1f}")
    return EXIT_OK


class _PendingIdMatcher(MatcherBase):
    """Matches iq replies whose id is in a dict (one handler for all pings:
    slixmpp's per-iq handlers are scanned linearly for every stanza)."""

    def __init__(self, pending):
        super().__init__(None)
        self.pending = pending

    def match(self, stanza):
        xml = stanza.xml
        return xml.tag == "{jabber:client}iq" and xml.get("id") in self.pending


async def act_ping_flood(c, args):
    count, conc = args.count, args.concurrency
    if count < 0 or conc < 1:
        raise Failure(EXIT_USAGE, "ERROR usage COUNT >= 0 and CONCURRENCY >= 1")
    loop = asyncio.get_event_loop()
    pending = {}

    def on_reply(stanza):
        fut = pending.pop(stanza.xml.get("id"), None)
        if fut is not None and not fut.done():
            fut.set_result(stanza)

    c.register_handler(Callback("lv-ping-flood", _PendingIdMatcher(pending), on_reply))
    to_attr = quoteattr(str(args.target))
    sent = 0
    ok = 0
    errors = 0
    first_error = None
    t0 = time.monotonic()

    async def worker():
        nonlocal sent, ok, errors, first_error
        while sent < count:
            sent += 1
            iq_id = f"lvflood{sent}"
            fut = loop.create_future()
            pending[iq_id] = fut
            c.send_raw(f"<iq type='get' id='{iq_id}' to={to_attr}>"
                       f"<ping xmlns='{NS_PING}'/></iq>")
            try:
                reply = await asyncio.wait_for(fut, c.remaining())
            except asyncio.TimeoutError:
                pending.pop(iq_id, None)
                errors += 1
                if first_error is None:
                    first_error = f"TIMEOUT no answer from {args.target}"
                if c.remaining() <= 0.1:
                    return
                continue
            if reply.xml.get("type") == "result":
                ok += 1
            else:
                errors += 1
                if first_error is None:
                    first_error = error_line(reply)

    code = EXIT_OK
    workers = asyncio.gather(*(worker() for _ in range(min(conc, max(count, 1)))))
    try:
        # Stop a little before the overall deadline so the partial numbers
        # still get printed.
        await asyncio.wait_for(workers, max(0.05, c.remaining() - 0.3))
    except asyncio.TimeoutError:
        code = EXIT_TIMEOUT
    secs = time.monotonic() - t0
    c.remove_handler("lv-ping-flood")
    rate = ok / secs if secs > 0 else 0.0
    out(f"pings={ok + errors} errors={errors} seconds={secs:.3f} rate={rate:.1f}/s")
    if first_error:
        print(f"first-error {first_error}", file=sys.stderr)
    if code == EXIT_TIMEOUT:
        raise Failure(EXIT_TIMEOUT, f"TIMEOUT after {c.args.timeout:g} s: "
                                    f"{ok + errors} of {count} pings answered")
    return code


async def act_iq_raw(c, args):
    if args.xml.strip():
        try:
            payload = ET.fromstring(args.xml)
        except ET.ParseError as e:
            raise Failure(EXIT_USAGE, f"ERROR usage bad XML payload: {e}")
    else:
        payload = None
    try:
        reply = await c.send_iq(args.target, args.type, payload)
    except Failure as f:
        if f.code == EXIT_ERROR:
            out(f.message)
            if f.stanza:
                print(f.stanza, file=sys.stderr)
        raise
    out(str(reply))
    return EXIT_OK


ACTIONS = {
    "login": act_login,
    "disco-info": act_disco_info,
    "ping": act_ping,
    "ping-flood": act_ping_flood,
    "iq-raw": act_iq_raw,
}


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="XMPP test client (slixmpp)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit codes:" + __doc__.split("Exit codes:", 1)[1])
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5222)
    p.add_argument("--ca", help="CA certificate file (PEM) to verify the server with")
    p.add_argument("--no-tls", action="store_true", help="never use STARTTLS")
    p.add_argument("--sasl", help="only use this SASL mechanism (e.g. SCRAM-SHA-1)")
    p.add_argument("--timeout", type=float, default=None,
                   help="overall timeout in seconds (default 10; 300 for ping-flood)")
    p.add_argument("--debug", action="store_true", help="slixmpp debug log on stderr")
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("login")
    d = sub.add_parser("disco-info")
    d.add_argument("target")
    d.add_argument("--node")
    pg = sub.add_parser("ping")
    pg.add_argument("target")
    pf = sub.add_parser("ping-flood")
    pf.add_argument("target")
    pf.add_argument("count", type=int)
    pf.add_argument("concurrency", type=int)
    r = sub.add_parser("iq-raw")
    r.add_argument("target")
    r.add_argument("xml")
    r.add_argument("--type", choices=("get", "set"), default="get")
    args = p.parse_args(argv)
    if args.timeout is None:
        args.timeout = 300.0 if args.action == "ping-flood" else 10.0
    return args


def main(argv=None):
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:
        return EXIT_USAGE if e.code not in (0, None) else 0
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL,
                        format="%(levelname)s %(name)s: %(message)s")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    c = Client(args)
    c.loop_deadline = time.monotonic() + args.timeout
    c.connect((args.host, args.port), use_ssl=False,
              force_starttls=not args.no_tls, disable_starttls=args.no_tls)
    try:
        code, message = loop.run_until_complete(asyncio.wait_for(c.result, args.timeout))
    except asyncio.TimeoutError:
        code, message = EXIT_TIMEOUT, (
            f"TIMEOUT after {args.timeout:g} s"
            + ("" if c.session_ok else " (no session: connection/authentication stalled)"))
    if message and not (code == EXIT_ERROR and args.action == "iq-raw"):  # else already out
        if code == EXIT_ERROR:
            out(message)  # error replies: "ERROR <condition> ..." on stdout
        else:
            print(message, file=sys.stderr)
    flush_out()
    # Close the stream politely but don't wait long for the server.
    try:
        c.disconnect(wait=0.5)
        loop.run_until_complete(asyncio.wait_for(c.disconnected, 1.0))
    except Exception:
        pass
    try:
        c.abort()
    except Exception:
        pass
    return code


if __name__ == "__main__":
    sys.exit(main())
