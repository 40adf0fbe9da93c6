#!/usr/bin/env bash
# Attacks on the ActivityPub gateway's inboxes, with ap_tool (a signed
# ActivityPub client and fake remote server, tests/integration/ap_tool.c)
# over HTTPS through nginx (tests/lib/apnet.sh): every refused request gets
# the expected status AND reason, and nothing of it is stored (the inbox
# counters of `li ap status`); a valid signed Follow is accepted (202) and
# answered with an Accept, a replay of its id is 202 "already received" and
# answered with nothing; the daemon stays up and its log has no crash report.
# Also: the actor as HTML for a browser, WebFinger 404 for an unknown account.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/backend.sh"
. "$here/../lib/apnet.sh"

if ((EUID != 0)) || ! _apnet_nginx_bin >/dev/null; then
    echo "SKIP: needs root and nginx (tests/lib/apnet.sh)"
    exit 77
fi
AP_TOOL=${LV_AP_TOOL:-$LV_BUILD_DIR/tests/ap_tool}
[[ -x $AP_TOOL ]] || fail "no ap_tool at $AP_TOOL (build the project)"

dir=$(lv_tmpdir ap_security)
GW_PORT=18123
EVIL_PORT=18131
EVIL=https://evil.ap.test
LV_PROSODY_ADMINS="louise@example.test" prosody_start "$dir/prosody" 5422 5447 ||
    fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"
apnet_start "$dir/net" "example.test=$GW_PORT" "evil.ap.test=$EVIL_PORT" || fail "apnet"

# The fake remote server: 4 actors u0..u3 at https://evil.ap.test/users/uK.
"$AP_TOOL" serve --port $EVIL_PORT --host evil.ap.test --actors 4 --keys "$dir/keys" \
    --ca "$APNET_CA" >"$dir/serve.out" 2>"$dir/serve.err" &
serve_pid=$!
cleanup_push "kill $serve_pid 2>/dev/null || true"
LV_WAIT=30 wait_for grep -q READY "$dir/serve.out" || {
    log_tail "$dir/serve.err"
    fail "ap_tool serve did not start"
}

LV_CONF_EXTRA="
[component ap-gateway]
public_url = example.test
http_port = $GW_PORT
trust_proxy = true
allow_private_networks = true
ca_file = $APNET_CA
max_body = 64 KiB
delivery_retry_min = 1
delivery_retry_max = 2
" lv_backend_setup "$dir/lv" "$dir/prosody/certs/ca.crt"
lv_client_profile louise louise@example.test louise-pw 5422
lv_component_profile ap gw.example.test gw-secret ap-gateway 5447
lv_backend_start
lv_wait_state louise online || fail "louise not online"
lv_wait_state ap online || fail "gateway not online: $(lv_status_field ap error)"
export LIBERVIA_CONFIG="$dir/lv/lv.conf"
li() { "$LV_BUILD_DIR/li" "$@"; }
json_get() { $LV_PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# The gateway only serves accounts whose blog is readable.
echo "Hello from XMPP" | li blog set -T "First post" >/dev/null
ACTOR=https://example.test/_ap/actor/louise%40example.test
SHARED=https://example.test/_ap/shared_inbox
doc=$(apnet_curl -fsS -H 'Accept: application/activity+json' "$ACTOR") || fail "louise's actor"
INBOX=$(json_get 'd["inbox"]' <<<"$doc")
[[ $INBOX == https://example.test/* ]] || fail "louise's inbox: $doc"
pass "louise has a blog and an actor (inbox $INBOX)"

# ---- helpers ----
send() { # ap_tool send ARGS... (actor u0 by default; --actor later wins)
    "$AP_TOOL" send --url "$SHARED" --actor-base "$EVIL" --keys "$dir/keys" --ca "$APNET_CA" \
        --actor 0 "$@" 2>>"$dir/send.err"
}
# stored: "pending+done+failed accepted refused" from li ap status
stored() {
    li ap status -p ap -O json | json_get '"%d %d %d" % (d["inbox"]["pending"] + d["inbox"]["done"] + d["inbox"]["failed"], d["inbox"]["accepted"], d["inbox"]["refused"])'
}
# expect CODE REASON_REGEX LABEL -- SEND ARGS...: status and reason, nothing stored
expect() {
    local code=$1 reason=$2 label=$3
    shift 4
    local before after out got body
    before=$(stored)
    out=$(send "$@") || fail "$label: no answer: $(tail -n 3 "$dir/send.err")"
    got=${out%%$'\n'*}
    body=
    [[ $out == *$'\n'* ]] && body=${out#*$'\n'}
    [[ $got == "$code" ]] || fail "$label: HTTP $got, want $code: $body"
    grep -qiE -- "$reason" <<<"$body" || fail "$label: reason \"$body\" does not match /$reason/"
    after=$(stored)
    local b a
    read -ra b <<<"$before"
    read -ra a <<<"$after"
    [[ ${a[0]} == "${b[0]}" && ${a[1]} == "${b[1]}" ]] ||
        fail "$label: something was stored (inbox rows/accepted before: ${b[*]:0:2}, after: ${a[*]:0:2})"
    # (413 comes from the HTTP layer, before the inbox: not in its counter)
    [[ $code == 413 || ${a[2]} -gt ${b[2]} ]] ||
        fail "$label: the refusal was not counted (refused ${b[2]} -> ${a[2]})"
    pass "$label -> $got \"$(tr -d '\n' <<<"$body" | head -c 100)\", nothing stored"
}
serve_stats() { curl -fsS "http://127.0.0.1:$EVIL_PORT/stats"; }
accepts() { serve_stats | json_get 'd["types"].get("Accept", 0)'; }

# A control: the same tool, actor and inbox, nothing spoiled -> 202.
out=$(send --content "control") || fail "control: no answer"
[[ ${out%%$'\n'*} == 202 ]] || fail "valid signed Create (control): $out"
pass "control: a valid signed Create from u0 to the shared inbox -> 202"

# ---- signatures ----
expect 401 "no signature" "unsigned POST" -- --no-sign
expect 401 "no signature" "unsigned POST to the personal inbox" -- --url "$INBOX" --no-sign
expect 401 "signature does not verify" "bad signature (key not cached yet)" -- --bad-signature
expect 401 "signature does not verify" "bad signature (cached key, refetched once)" -- --bad-signature
expect 401 "digest does not match" "Digest of other bytes, correctly signed" -- --bad-digest
expect 401 "date outside" "Date 2 h old" -- --date-offset -7200
expect 401 "date outside" "Date 2 h ahead" -- --date-offset 7200
expect 401 "signer is not the activity's actor" "signed by u1 for actor u0" -- --actor 0 --signer 1
expect 401 "cannot fetch the signer's key" "keyId of an actor that does not exist" -- --signer 99

# ---- bodies ----
"$LV_PY" - "$dir/big.json" <<'EOF'
import json, sys
pad = "x" * (70 * 1024)
json.dump({"@context": "https://www.w3.org/ns/activitystreams",
           "id": "https://evil.ap.test/users/u0/activities/big", "type": "Create",
           "actor": "https://evil.ap.test/users/u0",
           "object": {"id": "https://evil.ap.test/users/u0/notes/big", "type": "Note",
                      "attributedTo": "https://evil.ap.test/users/u0", "content": pad}},
          open(sys.argv[1], "w"))
EOF
printf '{"id": "https://evil.ap.test/users/u0/activities/broken", "type": ' >"$dir/invalid.json"
printf '["Create", {"actor": "https://evil.ap.test/users/u0"}]' >"$dir/array.json"
printf '{"@context": "https://www.w3.org/ns/activitystreams", "id": "https://evil.ap.test/users/u0/activities/noactor", "type": "Create", "object": {"id": "https://evil.ap.test/users/u0/notes/noactor", "type": "Note", "content": "hi"}}' >"$dir/noactor.json"
DIRECT=(--url "http://127.0.0.1:$GW_PORT/_ap/shared_inbox" --host example.test)
expect 413 "body over" "body over max_body (70 KiB > 64 KiB), signed, to the gateway's port" -- \
    "${DIRECT[@]}" --body-file "$dir/big.json"
# Through nginx (proxy_request_buffering off): the gateway reads and discards
# the declared body before answering 413, so nginx passes the 413 on (a reset
# while nginx still writes the body would become its 502). Several tries.
for try in 1 2 3 4 5; do
    before=$(stored)
    out=$(send --body-file "$dir/big.json") || fail "big body through nginx: no answer"
    after=$(stored)
    [[ ${before% *} == "${after% *}" ]] || fail "big body through nginx: stored (${before% *} -> ${after% *})"
    [[ ${out%%$'\n'*} == 413 ]] || fail "big body through nginx, try $try: $out"
done
pass "body over max_body through nginx -> 413 (5 tries), nothing stored"
expect 400 "invalid JSON" "invalid JSON, signed" -- --body-file "$dir/invalid.json"
expect 400 "not a JSON object" "JSON array instead of an object, signed" -- --body-file "$dir/array.json"
expect 400 "without an actor" "activity without an actor, signed" -- --body-file "$dir/noactor.json"
expect 422 'type "Bogus" is not supported' "unknown activity type, signed" -- --type Bogus --object "$ACTOR"

# ---- a valid Follow, then its replay ----
[[ $(accepts) == 0 ]] || fail "Accepts before any Follow: $(serve_stats)"
read -ra before <<<"$(stored)"
fid="$EVIL/users/u2/activities/follow-$RANDOM$RANDOM"
out=$(send --url "$INBOX" --actor 2 --type Follow --object "$ACTOR" --repeat-id "$fid")
[[ ${out%%$'\n'*} == 202 ]] || fail "valid Follow: $out"
accepted_once() { [[ $(accepts) == 1 ]]; }
LV_WAIT=20 wait_for accepted_once || fail "no Accept at ap_tool: $(serve_stats); queue: $(li ap queue -p ap)"
serve_stats | json_get '[r for r in d["recent"] if r["type"] == "Accept"][0]' >"$dir/accept.txt"
acc=$(cat "$dir/accept.txt")
grep -qF "'object': '$fid'" <<<"$acc" && grep -qF "'object_type': 'Follow'" <<<"$acc" &&
    grep -qF "'actor': '$ACTOR'" <<<"$acc" && grep -qF "'signed': True" <<<"$acc" &&
    grep -qF "'digest_ok': True" <<<"$acc" && grep -qF "'path': '/users/u2/inbox'" <<<"$acc" ||
    fail "the Accept: $acc"
read -ra after <<<"$(stored)"
((after[0] == before[0] + 1 && after[1] == before[1] + 1)) || fail "Follow stored: ${before[*]} -> ${after[*]}"
[[ $(li ap status -p ap -O json | json_get 'd["followers"]') == 1 ]] || fail "followers: $(li ap status -p ap)"
pass "valid signed Follow -> 202, stored once, signed Accept (embedding the Follow) at u2's inbox"

out=$(send --url "$INBOX" --actor 2 --type Follow --object "$ACTOR" --repeat-id "$fid")
[[ ${out%%$'\n'*} == 202 ]] || fail "replayed Follow: $out"
grep -q "already received" <<<"$out" || fail "replayed Follow, reason: $out"
sleep 3
idle() { li ap status -p ap -O json | json_get 'd["deliveries"]["pending"] == 0 and d["deliveries"]["in_flight"] == 0' | grep -q True; }
wait_for idle || fail "deliveries still pending: $(li ap queue -p ap)"
[[ $(accepts) == 1 ]] || fail "a second Accept for a replayed Follow: $(serve_stats)"
read -ra again <<<"$(stored)"
((again[0] == after[0] && again[1] == after[1])) || fail "replay stored: ${after[*]} -> ${again[*]}"
pass "same activity id again -> 202 \"already received\", not stored, no second Accept"

# ---- GETs ----
ct=$(apnet_curl -sS -o "$dir/actor.html" -w '%{http_code} %{content_type}' -H 'Accept: text/html' "$ACTOR")
[[ $ct == "200 text/html"* ]] && grep -q '<html' "$dir/actor.html" && ! grep -q '"publicKey"' "$dir/actor.html" ||
    fail "actor for a browser: $ct $(head -c 300 "$dir/actor.html")"
pass "GET actor with Accept: text/html -> $ct (HTML, not JSON)"
code=$(apnet_curl -s -o "$dir/wf.txt" -w '%{http_code}' \
    "https://example.test/.well-known/webfinger?resource=acct%3Anobody%40example.test")
[[ $code == 404 ]] || fail "WebFinger of a missing account: $code $(cat "$dir/wf.txt")"
pass "WebFinger of a nonexistent account -> 404 ($(head -c 80 "$dir/wf.txt"))"

# ---- the daemon survived ----
lvb status >/dev/null || fail "backend status fails"
li ap status -p ap -O json | json_get 'd["online"]' | grep -q True || fail "gateway offline: $(li ap status -p ap)"
if grep -nE "AddressSanitizer|LeakSanitizer|runtime error:|SIGSEGV|Segmentation fault|Assertion .* failed|double free|stack smashing|core dumped" "$(lv_log)" >&2; then
    fail "crash or sanitizer report in $(lv_log)"
fi
pass "daemon alive (status answers, gateway online), no crash or sanitizer report in its log"
