#!/usr/bin/env bash
# Connections come back by themselves: when the server restarts, both the
# client and the component reconnect (with backoff); while the server is down,
# refused connections are reported clearly and retried with growing delays.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir reconnect)
prosody_start "$dir/prosody" 5422 5447 || fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"
lv_backend_setup "$dir/lv" "$dir/prosody/certs/ca.crt"
lv_client_profile louise louise@example.test louise-pw 5422
lv_component_profile gw gw.example.test gw-secret ap-gateway 5447
lv_backend_start
lv_wait_state louise online && lv_wait_state gw online || fail "not online at start"

prosody_stop "$dir/prosody"
lv_wait_state louise waiting 5 || fail "louise after server stop: $(lv_state louise)"
lv_wait_state gw waiting 5 || fail "gw after server stop: $(lv_state gw)"
sleep 3
err=$(lv_status_field louise error)
[[ $err == *"cannot connect to 127.0.0.1:5422"*"refused"* ]] || fail "refused error: $err"
grep -q "louise@example.test: reconnecting in" "$(lv_log)" || fail "no backoff message"
pass "server down: profiles waiting, error says connection refused"

prosody_start "$dir/prosody" 5422 5447 || fail "prosody did not restart"
lv_wait_state louise online 15 || fail "louise did not come back: $(lv_state louise)"
lv_wait_state gw online 15 || fail "gw did not come back: $(lv_state gw)"
pass "both reconnected after the server restart"

# Backoff: attempts while down grew apart (1 s, 2 s, 4 s with jitter), so a few
# seconds of downtime cost only a handful of attempts.
n=$(grep -c "louise@example.test: connecting" "$(lv_log)")
((n >= 2 && n <= 6)) || fail "$n connection attempts"
pass "$n connection attempts in all (backoff)"

$LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5422 \
    --ca "$dir/prosody/certs/ca.crt" ping gw.example.test >/dev/null ||
    fail "component unreachable after reconnection"
pass "component answers after reconnection"
