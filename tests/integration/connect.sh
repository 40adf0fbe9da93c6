#!/usr/bin/env bash
# A client profile connects over STARTTLS (certificate checked against the
# test CA) and a component profile connects over XEP-0114, both to a real
# Prosody; an independent slixmpp client then discovers and pings the
# component through the server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir connect)
prosody_start "$dir/prosody" 5422 5447 || fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"
lv_backend_setup "$dir/lv" "$dir/prosody/certs/ca.crt"
lv_client_profile louise louise@example.test louise-pw 5422
lv_component_profile gw gw.example.test gw-secret ap-gateway 5447
lv_backend_start

lv_wait_state louise online || { log_tail "$(lv_log)"; fail "louise not online: $(lv_state louise)"; }
lv_wait_state gw online || { log_tail "$(lv_log)"; fail "gw not online: $(lv_state gw)"; }
grep -q "louise@example.test: TLS established (TLSv1" "$(lv_log)" || fail "no TLS on the c2s stream"
grep -q "authenticating with SCRAM-SHA-" "$(lv_log)" || fail "SCRAM was not used"
jid=$(lv_status_field louise jid)
[[ $jid == louise@example.test/libervia.* ]] || fail "bound JID is $jid"
pass "client online over STARTTLS as $jid, component online"

out=$($LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5422 \
    --ca "$dir/prosody/certs/ca.crt" disco-info gw.example.test)
grep -qx "identity component/generic Libervia" <<<"$out" || fail "disco identity: $out"
grep -qx "feature urn:xmpp:ping" <<<"$out" || fail "disco features: $out"
pass "slixmpp sees the component's disco#info"

$LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5422 \
    --ca "$dir/prosody/certs/ca.crt" ping gw.example.test >/dev/null || fail "ping to component"
$LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5422 \
    --ca "$dir/prosody/certs/ca.crt" ping "$jid" >/dev/null || fail "ping to the client profile"
pass "component and client answer XEP-0199 pings"

# An iq the component does not handle gets service-unavailable, not silence.
set +e
out=$($LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5422 \
    --ca "$dir/prosody/certs/ca.crt" iq-raw gw.example.test \
    "<query xmlns='urn:example:unknown'/>" 2>&1)
rc=$?
set -e
[[ $rc == 1 && $out == *service-unavailable* ]] || fail "unknown iq answered with: rc=$rc $out"
pass "unknown iq gets service-unavailable"

lvb stop >/dev/null
grep -q "stopped" "$(lv_log)" || fail "no clean shutdown in the log"
! grep -q "gw-secret\|louise-pw" "$(lv_log)" || fail "a secret reached the log"
pass "clean shutdown, no secret in the log"
