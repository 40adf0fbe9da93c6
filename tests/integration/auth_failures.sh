#!/usr/bin/env bash
# A wrong password and a wrong component secret each give a clear error in the
# log and in `status`, the profile stops in state "failed", and the server is
# not hammered: one attempt, no retry loop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir auth_failures)
prosody_start "$dir/prosody" 5422 5447 || fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"
lv_backend_setup "$dir/lv" "$dir/prosody/certs/ca.crt"
lv_client_profile louise louise@example.test wrong-password 5422
lv_component_profile gw gw.example.test wrong-secret ap-gateway 5447
lv_backend_start

lv_wait_state louise failed || fail "louise state: $(lv_state louise)"
lv_wait_state gw failed || fail "gw state: $(lv_state gw)"
err=$(lv_status_field louise error)
[[ $err == *"authentication as louise@example.test refused"*"not-authorized"*"password"* ]] ||
    fail "louise's error: $err"
err=$(lv_status_field gw error)
[[ $err == *not-authorized*"component secret"* ]] || fail "gw's error: $err"
out=$(lvb status)
grep -q "last error: authentication as louise@example.test refused" <<<"$out" ||
    fail "status output: $out"
pass "status shows both failures with their reason"

# No retry loop: over a few seconds (reconnect_min_delay is 1 s), still a
# single attempt each.
sleep 4
n=$(grep -c "louise@example.test: connecting" "$(lv_log)")
[[ $n == 1 ]] || fail "louise tried $n times"
n=$(grep -c "gw.example.test: connecting" "$(lv_log)")
[[ $n == 1 ]] || fail "gw tried $n times"
[[ $(lv_state louise) == failed && $(lv_state gw) == failed ]] || fail "states changed"
pass "one attempt each, no hammering"

# Fixing the password and connecting again works without a restart.
lvb param set louise Connection Password louise-pw
lvb connect louise
lv_wait_state louise online || fail "louise after fixing the password: $(lv_state louise)"
pass "connect after fixing the password"
! grep -q "wrong-password\|wrong-secret\|louise-pw" "$(lv_log)" || fail "a secret reached the log"
pass "no secret in the log"
