#!/usr/bin/env bash
# Any XMPP server: the same client and component profiles against ejabberd
# (SCRAM over STARTTLS, XEP-0114 component seen by slixmpp through ejabberd),
# and a plain (no TLS) c2s connection to a Prosody without STARTTLS, which is
# allowed only when the profile does not require TLS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/ejabberd.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir servers)
ejabberd_start "$dir/ejabberd" 5432 5457 || fail "ejabberd did not start"
cleanup_push ejabberd_stop "$dir/ejabberd"
LV_PROSODY_EXTRA='modules_disabled = { "s2s", "tls" }' prosody_start "$dir/prosody" 5422 5447 ||
    fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"

lv_backend_setup "$dir/lv" "$dir/ejabberd/certs/ca.crt"
lv_client_profile ej louise@example.test louise-pw 5432
lv_component_profile ejgw gw.example.test gw-secret ap-gateway 5457
lv_client_profile plain pierre@example.test pierre-pw 5422
lvb param set plain Connection check_certificate false
lv_client_profile strict tester@example.test tester-pw 5422
lv_backend_start

lv_wait_state ej online 15 || fail "client to ejabberd: $(lv_state ej) $(lv_status_field ej error)"
lv_wait_state ejgw online 15 || fail "component to ejabberd: $(lv_status_field ejgw error)"
grep -q "louise@example.test: TLS established" "$(lv_log)" || fail "no TLS with ejabberd"
out=$($LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5432 \
    --ca "$dir/ejabberd/certs/ca.crt" disco-info gw.example.test)
grep -qx "identity component/generic Libervia" <<<"$out" || fail "disco through ejabberd: $out"
$LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5432 \
    --ca "$dir/ejabberd/certs/ca.crt" ping gw.example.test >/dev/null || fail "ping via ejabberd"
pass "ejabberd: client over STARTTLS+SCRAM, component answers slixmpp's disco and ping"

lv_wait_state plain online 15 || fail "plain client: $(lv_status_field plain error)"
! grep -q "pierre@example.test: TLS established" "$(lv_log)" || fail "TLS was used"
grep -q "pierre@example.test: authenticating with SCRAM-SHA-1" "$(lv_log)" || fail "no SCRAM"
pass "plain c2s: SCRAM-SHA-1 without TLS when check_certificate is false"

lv_wait_state strict failed 15 || fail "strict profile: $(lv_state strict)"
err=$(lv_status_field strict error)
[[ $err == *"does not offer TLS"* ]] || fail "strict profile error: $err"
pass "a profile requiring TLS refuses the plain server: $err"
