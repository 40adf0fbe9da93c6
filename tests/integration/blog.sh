#!/usr/bin/env bash
# Blogging from the command line against a real Prosody, checked by an
# independent client (slixmpp): li blog set/get/rename/delete/repeat, the Atom
# fields, user-friendly ids, comments nodes, and the error exit codes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir blog)
LV_PROSODY_ADMINS="louise@example.test" prosody_start "$dir/prosody" 5422 5447 || fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"
ca="$dir/prosody/certs/ca.crt"
lv_backend_setup "$dir/lv" "$ca"
lv_client_profile louise louise@example.test louise-pw 5422
lv_backend_start
lv_wait_state louise online || fail "louise not online"
export LIBERVIA_CONFIG="$dir/lv/lv.conf"
li() { "$LV_BUILD_DIR/li" "$@"; }
pierre() { $LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5422 --ca "$ca" "$@"; }
items_of() { # SERVICE NODE
    pierre iq-raw "$1" "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='$2'/></pubsub>"
}
MB=urn:xmpp:microblog:0

# A post with a French title, markdown, tags and a language.
id=$(printf 'Un *premier* billet, avec [un lien](https://example.org/).\n\n- un\n- deux\n' |
    li blog set -T "Élégant café à Paris !" -t actualités -t xmpp -l fr)
[[ $id =~ ^elegant-cafe-a-paris-[A-Za-z0-9_-]{4}$ ]] || fail "friendly id: $id"
pass "li blog set gives a readable id: $id"

items_of louise@example.test $MB | $LV_PY "$here/../interop/atom_check.py" "$id" '{
  "title": "Élégant café à Paris !", "content_text": "premier billet",
  "xhtml_contains": "<html:em>premier</html:em>", "author_uri": "xmpp:louise@example.test",
  "lang": "fr", "tags": ["actualités", "xmpp"], "id_prefix": "xmpp:louise@example.test?;node="
}' || fail "Atom entry as read by slixmpp"
pass "slixmpp reads the Atom entry: title, xhtml+text content, author, tags, language"

out=$(li blog get -i "$id" -O json)
$LV_PY -c '
import json, sys
p = json.loads(sys.argv[1])[0]
assert p["title"] == "Élégant café à Paris !", p
assert "premier" in p["content"] and "https://example.org/" in p["content_xhtml"], p
assert p["tags"] == ["actualités", "xmpp"] and p["language"] == "fr", p
assert p["author_jid"] == "louise@example.test" and p["author_jid_verified"] is True, p
assert isinstance(p["published"], (int, float)), p
' "$out" || fail "li blog get json: $out"
li blog get -i "$id" | grep -q "^title: Élégant café à Paris !" || fail "human output"
pass "li blog get shows the post (json and human)"

# The blog node is public and keeps every post (not Prosody's PEP defaults).
for n in 1 2 3; do echo "post $n" | li blog set -T "Post number $n" >/dev/null; done
[[ $(li blog get -M 20 -O simple | wc -l) -ge 4 ]] || fail "older posts were dropped"
li pubsub node info -n $MB -k access_model | grep -q "open" || fail "blog node not open"
pass "blog node is open and keeps all posts"

# A post published by another client (slixmpp) is read by li.
entry="<entry xmlns='http://www.w3.org/2005/Atom'><title type='text'>From slixmpp</title><content type='text'>Written elsewhere</content><author><name>pierre</name><uri>xmpp:pierre@example.test</uri></author><published>2026-01-02T03:04:05Z</published><updated>2026-01-02T03:04:05Z</updated><id>urn:uuid:1234</id></entry>"
pierre iq-raw pierre@example.test "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='$MB'><item id='from-slix'>$entry</item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options></pubsub>" --type set >/dev/null ||
    fail "slixmpp could not publish"
out=$(li blog get -s pierre@example.test -i from-slix -O json)
$LV_PY -c '
import json, sys
p = json.loads(sys.argv[1])[0]
assert p["title"] == "From slixmpp" and p["content"] == "Written elsewhere", p
assert p["published"] == 1767323045, p
' "$out" || fail "post from slixmpp: $out"
pass "li blog get reads a post published by slixmpp"

# Rename keeps the content and removes the old id.
li blog rename -i "$id" cafe-paris >/dev/null
li blog get -i cafe-paris -O json | grep -q "premier billet" || fail "renamed post lost"
set +e
li blog get -i "$id" -O json >"$dir/out" 2>&1
n=$($LV_PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$dir/out" 2>/dev/null)
set -e
[[ $n == 0 ]] || fail "old id still there: $(cat "$dir/out")"
set +e
echo x | li blog set -T other -i "$id" >/dev/null
li blog rename -i cafe-paris "$(li blog get -O simple -M 1 | cut -f1)" 2>"$dir/err"; rc=$?
set -e
[[ $rc == 19 ]] || fail "rename onto an existing id: rc $rc $(cat "$dir/err")"
pass "rename: content kept, old id gone, existing target refused (exit 19)"

# Edit in $EDITOR: the title changes; the id, atom id, publication date and
# content stay.
before=$(li blog get -i cafe-paris -O json)
cat >"$dir/editor.sh" <<'ED'
#!/bin/sh
sed -i 's/^Title:.*/Title: Edited in an editor/' "$1"
ED
chmod +x "$dir/editor.sh"
EDITOR="$dir/editor.sh" li blog edit -i cafe-paris >/dev/null
after=$(li blog get -i cafe-paris -O json)
$LV_PY -c '
import json, sys
b, a = json.loads(sys.argv[1])[0], json.loads(sys.argv[2])[0]
assert a["title"] == "Edited in an editor", a
for k in ("id", "atom_id", "published", "tags", "language"):
    assert a[k] == b[k], (k, a[k], b[k])
assert "premier" in a["content"] and "https://example.org/" in a["content_xhtml"], a
' "$before" "$after" || fail "blog edit: $after"
pass "li blog edit: title changed in \$EDITOR; id, atom id, date, tags and content kept"

# Comments: the node is created on the pubsub component, others can comment.
cid=$(echo "Comment me" | li blog set -T "With comments" -C)
cnode="urn:xmpp:microblog:0:comments/$cid"
items_of louise@example.test $MB | $LV_PY "$here/../interop/atom_check.py" "$cid" \
    "{\"comments_node_prefix\": \"xmpp:pubsub.example.test?;node=urn%3Axmpp%3Amicroblog%3A0%3Acomments%2F$cid\"}" ||
    fail "comments link"
pierre iq-raw pubsub.example.test "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='$cnode'><item id='c1'><entry xmlns='http://www.w3.org/2005/Atom'><title>Nice</title><author><uri>xmpp:pierre@example.test</uri></author><published>2026-01-02T03:04:05Z</published><updated>2026-01-02T03:04:05Z</updated><id>c1</id></entry></item></publish></pubsub>" --type set >/dev/null ||
    fail "pierre could not comment"
li blog get -s pubsub.example.test -n "$cnode" -O json | grep -q '"Nice"' || fail "comment not read"
pass "comments node created on pubsub.example.test; pierre comments; li reads it"

# Unicode titles give valid, readable slugs.
for t in "Καλημέρα κόσμε" "你好世界" "🎉🎉 party" "Ça va? Très bien, merci_beaucoup"; do
    sid=$(echo body | li blog set -T "$t")
    echo "  $t -> $sid"
    [[ -n $sid && $sid != -* && ${#sid} -le 70 ]] || fail "slug for $t: $sid"
done
pass "unicode titles give readable ids"

# Repeat.
rid=$(li blog repeat -s pierre@example.test -i from-slix | sed 's/^repeated as //')
out=$(li blog get -i "$rid" -O json)
grep -q "xmpp:pierre@example.test?;node=urn%3Axmpp%3Amicroblog%3A0;item=from-slix" <<<"$out" ||
    fail "repeat has no via link to the original: rid=$rid $out"
pass "repeat publishes the post with a via link"

# Errors and their exit codes.
expect_rc() { # RC CMD...
    local want=$1
    shift
    set +e
    "$@" >"$dir/out" 2>"$dir/err"
    local rc=$?
    set -e
    [[ $rc == "$want" ]] || fail "$* exited $rc, want $want: $(cat "$dir/err")"
}
expect_rc 16 li blog get -p nobody
expect_rc 16 li pubsub get -s pubsub.example.test -n no-such-node
expect_rc 2 li blog get --no-such-option
printf '<note xmlns="urn:x">\n  <unclosed>\n</note>' >"$dir/bad.xml"
expect_rc 17 li pubsub set -s pubsub.example.test -n notes <"$dir/bad.xml"
grep -q "not well-formed XML: 3:" "$dir/err" || fail "parse position: $(cat "$dir/err")"
expect_rc 20 li blog delete -i cafe-paris </dev/null
pass "exit codes: unknown profile/node 16, bad option 2, bad XML 17 (with position), unconfirmed 20"

# A 1 MB item: Prosody refuses stanzas that big by closing the stream; li says
# so, and the profile comes back by itself.
$LV_PY -c "print('<n xmlns=\"urn:x\">' + 'x' * 1000000 + '</n>')" >"$dir/big.xml"
expect_rc 4 li pubsub set -s pubsub.example.test -n big <"$dir/big.xml"
grep -q "policy-violation" "$dir/err" || fail "1 MB item: $(cat "$dir/err")"
lv_wait_state louise online 15 || fail "louise did not come back after the big stanza"
pass "1 MB item: the server's refusal is passed through ($(cat "$dir/err")), then reconnected"

li blog delete -i cafe-paris -f >/dev/null
expect_rc 0 li blog get -i cafe-paris
lvb stop >/dev/null
expect_rc 3 li blog get
grep -q "backend is not running" "$dir/err" || fail "message: $(cat "$dir/err")"
pass "delete works; backend not running gives exit 3 with a hint"
