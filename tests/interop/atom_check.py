#!/usr/bin/python3
"""Checks an XEP-0277 item as an independent reader sees it.

usage: atom_check.py ITEM_ID CHECKS_JSON < iq-reply.xml

Reads a pubsub <iq> answer (as printed by xmpp_client.py iq-raw), finds the
item ITEM_ID and checks its Atom entry against CHECKS_JSON, an object with
optional keys: title, content_text (substring of the text content),
xhtml_contains (substring of the XHTML div), author_uri, lang, tags (list),
comments_node_prefix, id_prefix. Uses only the standard library, on purpose
independent of the code under test. Prints what it checked; exit 1 on any
mismatch.
"""
import json
import sys
import xml.etree.ElementTree as ET

ATOM = "{http://www.w3.org/2005/Atom}"
XHTML = "{http://www.w3.org/1999/xhtml}"
PUBSUB = "{http://jabber.org/protocol/pubsub}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def fail(msg):
    print(f"atom_check: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    item_id, checks = sys.argv[1], json.loads(sys.argv[2])
    root = ET.fromstring(sys.stdin.read())
    entry = None
    for item in root.iter(PUBSUB + "item"):
        if item.get("id") == item_id:
            entry = item.find(ATOM + "entry")
    if entry is None:
        fail(f"no Atom entry for item {item_id}")
    titles = {t.get("type", "text"): t for t in entry.findall(ATOM + "title")}
    contents = {c.get("type", "text"): c for c in entry.findall(ATOM + "content")}
    if "title" in checks and (titles.get("text") is None or titles["text"].text != checks["title"]):
        fail(f"title: {[(k, v.text) for k, v in titles.items()]}")
    if "content_text" in checks:
        text = contents.get("text")
        if text is None or checks["content_text"] not in (text.text or ""):
            fail(f"text content: {text.text if text is not None else None!r}")
    if "xhtml_contains" in checks:
        x = contents.get("xhtml")
        div = x.find(XHTML + "div") if x is not None else None
        if div is None:
            fail("no xhtml content with a div")
        s = ET.tostring(div, encoding="unicode")
        if checks["xhtml_contains"] not in s:
            fail(f"xhtml content: {s}")
    author = entry.find(ATOM + "author")
    if "author_uri" in checks:
        uri = author.find(ATOM + "uri") if author is not None else None
        if uri is None or uri.text != checks["author_uri"]:
            fail(f"author uri: {uri.text if uri is not None else None}")
    if "lang" in checks and entry.get(XML_LANG) != checks["lang"]:
        fail(f"xml:lang: {entry.get(XML_LANG)}")
    if "tags" in checks:
        terms = [c.get("term") for c in entry.findall(ATOM + "category")]
        if sorted(terms) != sorted(checks["tags"]):
            fail(f"categories: {terms}")
    for needed in ("published", "updated", "id"):
        if entry.find(ATOM + needed) is None:
            fail(f"no <{needed}>")
    if "id_prefix" in checks and not entry.find(ATOM + "id").text.startswith(checks["id_prefix"]):
        fail(f"atom id: {entry.find(ATOM + 'id').text}")
    if "comments_node_prefix" in checks:
        links = [l for l in entry.findall(ATOM + "link") if l.get("rel") == "replies"]
        if not links or checks["comments_node_prefix"] not in links[0].get("href", ""):
            fail(f"replies link: {[l.attrib for l in links]}")
    print(f"atom_check: item {item_id} OK ({', '.join(sorted(checks))})")


if __name__ == "__main__":
    main()
