#!/usr/bin/env bash
# The ActivityPub gateway against Fedify (npm), an independent ActivityPub
# server, over HTTPS on loopback (local CA, nginx in front, /etc/hosts names):
#   - a Fedify actor finds louise@example.test by WebFinger, follows her, and
#     receives her posts (li blog set), edits (Update) and deletions (Delete);
#   - louise follows the Fedify actor through the gateway (XEP-0060 subscribe
#     to its virtual JID), the Follow is accepted, and the actor's posts reach
#     her as pubsub notifications; li blog get pages the actor's outbox;
#   - Fedify reads louise's outbox (paging);
#   - reliability: the peer is down while a post is delivered, and the
#     backend restarts meanwhile: the post arrives once the peer is back.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/backend.sh"
. "$here/../lib/apnet.sh"

if ! apnet_available; then
    echo "SKIP: node/npm/nginx or the Fedify peer's node_modules are missing (scripts/install-deps.sh)"
    exit 77
fi

dir=$(lv_tmpdir ap_gateway)
GW_PORT=18123
FED_PORT=18080
FED_CTL=18090
LV_PROSODY_ADMINS="louise@example.test" prosody_start "$dir/prosody" 5422 5447 ||
    fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"
apnet_start "$dir/net" "example.test=$GW_PORT" "fedify.ap.test=$FED_PORT" || fail "apnet"

LV_CONF_EXTRA="
[component ap-gateway]
public_url = example.test
http_port = $GW_PORT
trust_proxy = true
allow_private_networks = true
ca_file = $APNET_CA
delivery_retry_min = 1
delivery_retry_max = 2
html_redirect_dict = {\"actor\": \"https://example.test/blog/{jid_user}\"}
" lv_backend_setup "$dir/lv" "$dir/prosody/certs/ca.crt"
lv_client_profile louise louise@example.test louise-pw 5422
lv_component_profile ap gw.example.test gw-secret ap-gateway 5447
lv_backend_start
lv_wait_state louise online || fail "louise not online"
lv_wait_state ap online || fail "gateway not online: $(lv_status_field ap error)"
export LIBERVIA_CONFIG="$dir/lv/lv.conf"
li() { "$LV_BUILD_DIR/li" "$@"; }
MB=urn:xmpp:microblog:0
VJID='alice\40fedify.ap.test@gw.example.test'
json_get() { $LV_PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# louise has a public blog (the gateway serves accounts whose blog is readable)
echo "Hello from XMPP" | li blog set -T "First post" >/dev/null
pass "louise has a blog"

# ---- WebFinger and actor over HTTPS through nginx ----
wf=$(apnet_curl -fsS "https://example.test/.well-known/webfinger?resource=acct:louise@example.test")
actor=$(json_get 'd["links"][0]["href"]' <<<"$wf")
[[ $actor == "https://example.test/_ap/actor/louise%40example.test" ]] || fail "webfinger: $wf"
code=$(apnet_curl -s -o /dev/null -w '%{http_code}' \
    "https://example.test/.well-known/webfinger?resource=acct%3Anobody%40example.test")
[[ $code == 404 ]] || fail "webfinger of a missing account: $code"
doc=$(apnet_curl -fsS -H 'Accept: application/activity+json' "$actor")
json_get '(d["type"], d["publicKey"]["owner"] == d["id"], "BEGIN PUBLIC KEY" in d["publicKey"]["publicKeyPem"], d["endpoints"]["sharedInbox"])' <<<"$doc" |
    grep -q "('Person', True, True, 'https://example.test/_ap/shared_inbox')" || fail "actor: $doc"
loc=$(apnet_curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Accept: text/html' "$actor")
[[ $loc == "302 https://example.test/blog/louise" ]] || fail "html_redirect_dict: $loc"
apnet_curl -fsS -H 'Accept: text/html' https://example.test/_ap/outbox/louise%40example.test |
    grep -q '<html' || fail "HTML page for browsers"
inst=$(apnet_curl -fsS -H 'Accept: application/activity+json' https://example.test/_ap/instance)
json_get '(d["type"], d["publicKey"]["id"])' <<<"$inst" |
    grep -q "('Application', 'https://example.test/_ap/instance#main-key')" || fail "instance actor: $inst"
for path in /.well-known/nodeinfo /_ap/nodeinfo/2.1 /.well-known/host-meta; do
    apnet_curl -fsS "https://example.test$path" >"$dir/doc.out" || fail "GET $path"
done
grep -q "webfinger?resource={uri}" "$dir/doc.out" || fail "host-meta: $(cat "$dir/doc.out")"
pass "WebFinger (raw and encoded resource, 404 for unknown), actor with key, browsers redirected (html_redirect_dict) or given HTML, instance actor, NodeInfo, host-meta"

# ---- Fedify follows louise ----
fedify_start "$dir/fed" fedify.ap.test $FED_PORT $FED_CTL || fail "fedify did not start"
fedify_ctl POST /follow '{"handle":"louise@example.test"}' >/dev/null || fail "fedify follow"
inbox_has() { fedify_ctl GET /inbox | $LV_PY -c '
import json, sys
want_type, needle = sys.argv[1], sys.argv[2]
acts = json.load(sys.stdin)
sys.exit(0 if any(a.get("type") == want_type and needle in json.dumps(a) for a in acts) else 1)
' "$1" "$2"; }
LV_WAIT=20 wait_for inbox_has Accept Follow || fail "no Accept at Fedify: $(fedify_ctl GET /inbox)"
[[ $(li ap status -O json | json_get 'd["followers"]') == 1 ]] || fail "gateway followers"
pass "Fedify follows louise@example.test: Accept received, follower stored"

# ---- louise's posts reach Fedify ----
id=$(echo "Federated *hello* to the fediverse" | li blog set -T "To the fediverse" -t xmpp)
LV_WAIT=20 wait_for inbox_has Create "fediverse" || fail "no Create: $(fedify_ctl GET /inbox)"
pass "li blog set -> Create(Note) at Fedify"
echo "Edited hello to the fediverse" | li blog set -i "$id" -T "To the fediverse (edited)" >/dev/null
LV_WAIT=20 wait_for inbox_has Update "edited" || fail "no Update: $(fedify_ctl GET /inbox)"
pass "edit -> Update(Note) with its own activity id"
li blog delete -i "$id" -f >/dev/null
LV_WAIT=20 wait_for inbox_has Delete "$id" || fail "no Delete: $(fedify_ctl GET /inbox)"
pass "li blog delete -> Delete(Tombstone)"

# auto_mentions: a handle written in a post becomes a Mention (and a recipient)
echo "Hello @alice@fedify.ap.test, this is for you" | li blog set -T "Mentioning" >/dev/null
LV_WAIT=20 wait_for inbox_has Create '"type": "Mention"' || fail "no Mention: $(fedify_ctl GET /inbox)"
fedify_ctl GET /inbox | $LV_PY -c '
import json, sys
acts = [a for a in json.load(sys.stdin) if a["type"] == "Create" and "for you" in json.dumps(a)]
assert len(acts) == 1, "delivered %d times" % len(acts)
tags = acts[0]["raw"]["object"]["tag"]
tags = tags if isinstance(tags, list) else [tags]
m = [t for t in tags if t.get("type") == "Mention"][0]
assert m["href"] == "https://fedify.ap.test/users/alice", m
assert "https://fedify.ap.test/users/alice" in json.dumps(acts[0]["raw"]["object"]["content"]), acts[0]
' || fail "mention tag/link"
pass "@alice@fedify.ap.test in a post: Mention tag and link, delivered once"

# ---- Fedify reads louise's outbox ----
look=$(fedify_ctl GET "/lookup?handle=louise@example.test")
json_get 'len(d["items"]) >= 1 and any("Hello from XMPP" in (i.get("content") or "") for i in d["items"])' <<<"$look" |
    grep -q True || fail "outbox via Fedify: $look"
pass "Fedify traverses louise's outbox"

# ---- louise follows the Fedify actor ----
fedify_ctl POST /post '{"content":"<p>An older post from Fedify</p>"}' >/dev/null
li pubsub subscribe -s "$VJID" -n $MB >/dev/null || fail "subscribe to the virtual JID"
follower_is_louise() { fedify_ctl GET /followers | grep -q "louise%40example.test"; }
LV_WAIT=20 wait_for follower_is_louise || fail "Fedify has no follower louise: $(fedify_ctl GET /followers)"
following_accepted() { [[ $(li ap status -O json | json_get 'd["following"]') == 1 ]]; }
pass "XMPP subscribe -> Follow -> Fedify accepts"

"$LV_PY" "$here/../lib/bridge_listen.py" "$dir/lv/data/bridge.sock" psEvent 1 20 >"$dir/events.out" &
listener=$!
sleep 0.5
fedify_ctl POST /post '{"content":"<p>Fresh <b>news</b> from Fedify</p>"}' >/dev/null
wait $listener || fail "no pubsub event for louise: $(cat "$dir/events.out")"
grep -q "Fresh" "$dir/events.out" || fail "event content: $(cat "$dir/events.out")"
pass "a Fedify post arrives as a pubsub notification"
out=$($LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5422 \
    --ca "$dir/prosody/certs/ca.crt" disco-info "$VJID")
grep -qx "identity pubsub/service alice@fedify.ap.test" <<<"$out" || fail "virtual JID disco: $out"
out=$($LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5422 \
    --ca "$dir/prosody/certs/ca.crt" disco-info gw.example.test)
grep -qx "identity component/generic Libervia" <<<"$out" || fail "component disco: $out"
pass "slixmpp: the virtual JID is a pubsub service, the component stays component/generic"
posts=$(li blog get -s "$VJID" -C -M 20 -O json)
json_get 'sorted(p.get("content","") for p in d)' <<<"$posts" | grep -q "older post" ||
    fail "li blog get from the virtual JID: $posts"
paged=$(li blog get -s "$VJID" -C -m 1 -M -1 -O json)
json_get '(len(d), len(set(p["id"] for p in d)))' <<<"$paged" | grep -q "^(2, 2)$" ||
    fail "RSM paging one item per page: $paged"
pass "li blog get -s VJID shows the actor's posts (outbox read through the gateway), RSM pages of 1"

# ---- reliability: peer down, backend restarted, post delivered later ----
fedify_stop "$dir/fed"
id=$(echo "Written while the peer is down" | li blog set -T "Offline delivery")
queued() { [[ $(li ap queue -O json | json_get 'len(d)') -ge 1 ]]; }
LV_WAIT=10 wait_for queued || fail "nothing queued"
lvb stop >/dev/null
lvb bg >/dev/null || fail "backend restart"
lv_wait_state ap online || fail "gateway not back"
fedify_start "$dir/fed" fedify.ap.test $FED_PORT $FED_CTL || fail "fedify restart"
li ap queue --retry >/dev/null
LV_WAIT=30 wait_for inbox_has Create "peer is down" || fail "post lost: $(li ap queue)"
pass "peer down + backend restart: the post is delivered once the peer is back"

# ---- unfollowing, both ways ----
fedify_ctl POST /unfollow '{"handle":"louise@example.test"}' >/dev/null || fail "fedify unfollow"
no_followers() { [[ $(li ap status -O json | json_get 'd["followers"]') == 0 ]]; }
LV_WAIT=20 wait_for no_followers || fail "Undo(Follow) not applied: $(li ap status)"
li pubsub unsubscribe -s "$VJID" -n $MB >/dev/null || fail "unsubscribe from the virtual JID"
louise_gone() { ! fedify_ctl GET /followers | grep -q "louise%40example.test"; }
LV_WAIT=20 wait_for louise_gone || fail "Undo(Follow) not received by Fedify: $(fedify_ctl GET /followers)"
[[ $(li ap status -O json | json_get 'd["following"]') == 0 ]] || fail "following left"
pass "Undo(Follow) both ways: Fedify unfollows louise, louise unsubscribes from alice"

lvb stop >/dev/null
if grep -E "AddressSanitizer|LeakSanitizer|runtime error:" "$(lv_log)" >&2; then
    fail "sanitizer report in the backend's log"
fi
pass "backend stopped cleanly, no sanitizer report"
