#!/usr/bin/env bash
# Bridge notifications: frontends hear about new items and retractions on the
# nodes a profile is subscribed to (psEvent), and about connection changes
# (connectionChanged), as they happen.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir events)
LV_PROSODY_ADMINS="pierre@example.test" prosody_start "$dir/prosody" 5422 5447 ||
    fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"
ca="$dir/prosody/certs/ca.crt"
lv_backend_setup "$dir/lv" "$ca"
lv_client_profile louise louise@example.test louise-pw 5422
lv_backend_start
lv_wait_state louise online || fail "louise not online"
export LIBERVIA_CONFIG="$dir/lv/lv.conf"
li() { "$LV_BUILD_DIR/li" "$@"; }
pierre() { $LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5422 --ca "$ca" "$@"; }
sock="$dir/lv/data/bridge.sock"

pierre iq-raw pubsub.example.test "<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='news'/></pubsub>" --type set >/dev/null ||
    fail "pierre could not create the node"
pierre iq-raw pubsub.example.test "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='news'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field><field var='pubsub#access_model'><value>open</value></field></x></configure></pubsub>" --type set >/dev/null ||
    fail "pierre could not configure the node"
li pubsub subscribe -s pubsub.example.test -n news | grep -q "subscription: subscribed" ||
    fail "subscription"

$LV_PY "$here/../lib/bridge_listen.py" "$sock" psEvent 2 20 >"$dir/events" &
lpid=$!
LV_WAIT=5 wait_for grep -q READY "$dir/events" || fail "listener did not start"
pierre iq-raw pubsub.example.test "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='news'><item id='n1'><entry xmlns='http://www.w3.org/2005/Atom'><title>Breaking</title></entry></item></publish></pubsub>" --type set >/dev/null ||
    fail "publish"
pierre iq-raw pubsub.example.test "<pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='news' notify='true'><item id='n1'/></retract></pubsub>" --type set >/dev/null ||
    fail "retract"
wait "$lpid" || fail "events did not come: $(cat "$dir/events")"
$LV_PY - "$dir/events" <<'PY' || fail "events: $(cat "$dir/events")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert lines[0]["type"] == "items" and lines[0]["node"] == "news", lines[0]
assert lines[0]["service"] == "pubsub.example.test" and lines[0]["profile"] == "louise", lines[0]
assert lines[0]["items"][0]["id"] == "n1" and "Breaking" in lines[0]["items"][0]["xml"], lines[0]
assert lines[1]["type"] == "retract" and lines[1]["retracted"] == ["n1"], lines[1]
PY
pass "psEvent: item published and retracted by pierre reach the frontend"

$LV_PY "$here/../lib/bridge_listen.py" "$sock" connectionChanged 2 20 >"$dir/conn" &
lpid=$!
LV_WAIT=5 wait_for grep -q READY "$dir/conn" || fail "listener did not start"
prosody_restart "$dir/prosody" >/dev/null
wait "$lpid" || fail "no connectionChanged: $(cat "$dir/conn")"
grep -q '"state": "waiting"' "$dir/conn" || fail "waiting state not notified: $(cat "$dir/conn")"
lv_wait_state louise online 15 || fail "louise did not reconnect"
pass "connectionChanged notified when the server restarted"
