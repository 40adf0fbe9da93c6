#!/usr/bin/env bash
# The ActivityPub gateway as a component of ejabberd (not only Prosody): a
# Fedify actor follows louise@example.test, hosted on ejabberd, through the
# gateway, and receives the post she publishes; louise follows the Fedify
# actor and gets its post as a pubsub notification.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/ejabberd.sh"
. "$here/../lib/backend.sh"
. "$here/../lib/apnet.sh"

if ! apnet_available; then
    echo "SKIP: node/npm/nginx or the Fedify peer's node_modules are missing (scripts/install-deps.sh)"
    exit 77
fi

dir=$(lv_tmpdir ap_ejabberd)
GW_PORT=18123
FED_PORT=18080
FED_CTL=18090
ejabberd_start "$dir/ejabberd" 5432 5457 || fail "ejabberd did not start"
cleanup_push ejabberd_stop "$dir/ejabberd"
apnet_start "$dir/net" "example.test=$GW_PORT" "fedify.ap.test=$FED_PORT" || fail "apnet"
LV_CONF_EXTRA="
[component ap-gateway]
public_url = example.test
http_port = $GW_PORT
trust_proxy = true
allow_private_networks = true
ca_file = $APNET_CA
" lv_backend_setup "$dir/lv" "$dir/ejabberd/certs/ca.crt"
lv_client_profile louise louise@example.test louise-pw 5432
lv_component_profile ap gw.example.test gw-secret ap-gateway 5457
lv_backend_start
lv_wait_state louise online || fail "louise not online"
lv_wait_state ap online || fail "gateway not online on ejabberd: $(lv_status_field ap error)"
export LIBERVIA_CONFIG="$dir/lv/lv.conf"
li() { "$LV_BUILD_DIR/li" "$@"; }
pass "gateway connected as an ejabberd component"

echo "Hello from ejabberd" | li blog set -T "First post on ejabberd" >/dev/null
fedify_start "$dir/fed" fedify.ap.test $FED_PORT $FED_CTL || fail "fedify did not start"
inbox_has() { fedify_ctl GET /inbox | $LV_PY -c '
import json, sys
acts = json.load(sys.stdin)
sys.exit(0 if any(a.get("type") == sys.argv[1] and sys.argv[2] in json.dumps(a) for a in acts) else 1)
' "$1" "$2"; }
fedify_ctl POST /follow '{"handle":"louise@example.test"}' >/dev/null || fail "fedify follow"
LV_WAIT=20 wait_for inbox_has Accept Follow || fail "no Accept: $(fedify_ctl GET /inbox)"
pass "Fedify follows louise@example.test (on ejabberd): Accept received"

echo "Posted on ejabberd, read on the fediverse" | li blog set -T "Cross-server" >/dev/null
LV_WAIT=20 wait_for inbox_has Create "read on the fediverse" || fail "no Create: $(fedify_ctl GET /inbox)"
pass "a post of louise on ejabberd reaches Fedify"

li pubsub subscribe -s 'alice\40fedify.ap.test@gw.example.test' -n urn:xmpp:microblog:0 >/dev/null ||
    fail "subscribe to the virtual JID"
follower_is_louise() { fedify_ctl GET /followers | grep -q "louise%40example.test"; }
LV_WAIT=20 wait_for follower_is_louise || fail "Follow not accepted: $(fedify_ctl GET /followers)"
"$LV_PY" "$here/../lib/bridge_listen.py" "$dir/lv/data/bridge.sock" psEvent 1 20 >"$dir/events.out" &
listener=$!
sleep 0.5
fedify_ctl POST /post '{"content":"<p>Fedify to ejabberd</p>"}' >/dev/null
wait $listener || fail "no pubsub event: $(cat "$dir/events.out")"
grep -q "Fedify to ejabberd" "$dir/events.out" || fail "event: $(cat "$dir/events.out")"
pass "louise (ejabberd) follows the Fedify actor and gets its post as a pubsub event"

lvb stop >/dev/null
if grep -E "AddressSanitizer|LeakSanitizer|runtime error:" "$(lv_log)" >&2; then
    fail "sanitizer report in the backend's log"
fi
pass "backend stopped cleanly, no sanitizer report"
