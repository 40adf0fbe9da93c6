#!/usr/bin/python3
"""The XMPP side of bench/ap_inbound.sh (Debian python3-slixmpp).

It logs in as a user (no TLS: loopback, and TLS would cost this process CPU
that the backend needs), sends available presence, and:
  1. subscribes (XEP-0060) to the microblog node of the virtual JIDs
     "uK\\40REMOTE@GATEWAY" (K = 0..N-1), CONCURRENCY subscriptions at a time,
     then waits until the gateway reports every subscription "subscribed"
     (the remote actor's Accept came back: a pubsub#event <subscription/>
     notification per actor, or "subscribed" in the iq result);
  2. prints "READY" and counts the pubsub#event <items/> notifications it
     receives, by whether the item id contains "/notes/TAG-" (the timed load)
     or not (the warm-up), until EXPECT tagged ones came, or STOP_FILE exists
     and no tagged notification came for IDLE seconds, or TIMEOUT.
Prints one JSON object per phase on stdout ("phase": "subscribe" / "listen").
The rate is computed by the caller, from the load's start time (epoch) and
the "last" arrival time here.

usage: ap_inbound_client.py --jid JID --password PW --port PORT --gateway GW
          --remote HOST --actors N [--concurrency 50] [--tag TAG] [--expect C]
          [--stop-file F] [--idle 10] [--timeout 1800]
"""

import argparse
import asyncio
import json
import os
import sys
import time
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_EVENT = "http://jabber.org/protocol/pubsub#event"
NODE = "urn:xmpp:microblog:0"


def out(obj):
    print(json.dumps(obj), flush=True)


class Bench(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.done = asyncio.get_event_loop().create_future()
        self.bare = args.jid.split("/")[0]
        self.subscribed = set()  # virtual JIDs reported subscribed
        self.all_subscribed = asyncio.Event()
        self.tag = "/notes/" + args.tag + "-"
        self.tagged = self.other = 0
        self.first = self.last = None
        self.last_other = None
        self.cpu0 = None
        self.response_timeout = 120
        self.add_event_handler("session_start", self.on_session)
        self.add_event_handler("connection_failed", self.on_fail)
        self.add_event_handler("failed_all_auth", self.on_fail)
        self.add_event_handler("disconnected", self.on_fail)
        self.register_handler(Callback(
            "pubsub events",
            MatchXPath("{jabber:client}message/{%s}event" % NS_EVENT),
            self.on_event))

    def finish(self, code):
        if not self.done.done():
            self.done.set_result(code)

    def on_fail(self, *_):
        print("ap_inbound_client: connection failed or closed", file=sys.stderr)
        self.finish(2)

    def on_event(self, msg):
        ev = msg.xml.find("{%s}event" % NS_EVENT)
        sub = ev.find("{%s}subscription" % NS_EVENT)
        if sub is not None:
            if sub.get("subscription") == "subscribed":
                self.mark(msg.xml.get("from", "").split("/")[0])
            return
        items = ev.find("{%s}items" % NS_EVENT)
        if items is None:
            return
        now = time.time()
        for it in items.findall("{%s}item" % NS_EVENT):
            if self.tag in (it.get("id") or ""):
                self.tagged += 1
                if self.first is None:
                    self.first = now
                    self.cpu0 = time.process_time()
                self.last = now
            else:
                self.other += 1
                self.last_other = now
        if self.args.expect and self.tagged >= self.args.expect:
            self.finish(0)

    def mark(self, vjid):
        self.subscribed.add(vjid)
        if len(self.subscribed) >= self.args.actors:
            self.all_subscribed.set()

    async def subscribe(self, vjid, sem, stats):
        async with sem:
            iq = self.Iq()
            iq["to"] = vjid
            iq["type"] = "set"
            ps = ET.Element("{%s}pubsub" % NS_PUBSUB)
            ET.SubElement(ps, "{%s}subscribe" % NS_PUBSUB, node=NODE, jid=self.bare)
            iq.xml.append(ps)
            try:
                res = await iq.send(timeout=120)
            except (IqError, IqTimeout) as e:
                stats["errors"] += 1
                if stats["errors"] <= 3:
                    print(f"ap_inbound_client: subscribe {vjid}: {e!r}", file=sys.stderr)
                return
            s = res.xml.find("{%s}pubsub/{%s}subscription" % (NS_PUBSUB, NS_PUBSUB))
            state = s.get("subscription") if s is not None else "?"
            stats[state] = stats.get(state, 0) + 1
            if state == "subscribed":
                self.mark(vjid)

    async def on_session(self, _):
        a = self.args
        self.send_presence()
        t0 = time.monotonic()
        sem = asyncio.Semaphore(a.concurrency)
        stats = {"errors": 0}
        vjids = [f"u{k}\\40{a.remote}@{a.gateway}" for k in range(a.actors)]
        await asyncio.gather(*(self.subscribe(v, sem, stats) for v in vjids))
        t_iq = time.monotonic() - t0
        try:
            await asyncio.wait_for(self.all_subscribed.wait(), a.accept_timeout)
        except asyncio.TimeoutError:
            pass
        out({"phase": "subscribe", "actors": a.actors, "iq_results": stats,
             "iq_seconds": round(t_iq, 2), "subscribed": len(self.subscribed),
             "seconds": round(time.monotonic() - t0, 2)})
        if len(self.subscribed) < a.actors:
            self.finish(1)
            return
        print("READY", flush=True)
        asyncio.ensure_future(self.watch())

    async def watch(self):
        a = self.args
        deadline = time.monotonic() + a.timeout
        stop_at = None
        while not self.done.done():
            await asyncio.sleep(0.5)
            now = time.time()
            if time.monotonic() > deadline:
                self.finish(3)
            elif a.stop_file and os.path.exists(a.stop_file):
                # the load is over: wait for stragglers, IDLE s after the last
                stop_at = stop_at or now
                if now - max(stop_at, self.last or 0) >= a.idle:
                    self.finish(0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5222)
    p.add_argument("--gateway", required=True)
    p.add_argument("--remote", required=True)
    p.add_argument("--actors", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--accept-timeout", type=float, default=300)
    p.add_argument("--tag", default="bench")
    p.add_argument("--expect", type=int, default=0)
    p.add_argument("--stop-file")
    p.add_argument("--idle", type=float, default=10)
    p.add_argument("--timeout", type=float, default=1800)
    a = p.parse_args()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    c = Bench(a)
    c.connect((a.host, a.port), use_ssl=False, force_starttls=False, disable_starttls=True)
    code = loop.run_until_complete(c.done)
    out({"phase": "listen", "tagged": c.tagged, "untagged": c.other, "first": c.first,
         "last": c.last, "last_untagged": c.last_other, "exit": code,
         "cpu_s": time.process_time() - c.cpu0 if c.cpu0 is not None else 0})
    c.disconnect(wait=0.5)
    try:
        loop.run_until_complete(asyncio.wait_for(c.disconnected, 2.0))
    except Exception:
        pass
    return code


if __name__ == "__main__":
    sys.exit(main())
