#!/usr/bin/env bash
# Malformed, restricted, too deep or oversized XML from the server side: the
# backend closes that stream with the matching stream error, says why in its
# log and status, keeps running, and reconnects later. A server that never
# answers an iq gives the caller remote-server-timeout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir bad_server)
port=5499
LV_CONF_EXTRA="max_stanza_bytes = 256 KiB
iq_timeout = 2" lv_backend_setup "$dir/lv"
lv_component_profile gw gw.example.test gw-secret ap-gateway $port
lv_backend_start

run_mode() { # MODE EXPECTED_CONDITION LOG_TEXT
    local mode=$1 cond=$2 text=$3 rec="$dir/$1.rec"
    : >"$rec"
    $LV_PY "$here/fake_server.py" $port "$mode" "$rec" &
    local pid=$!
    wait_port 127.0.0.1 $port 5 || fail "fake server did not start"
    lvb connect gw >/dev/null
    LV_WAIT=15 wait_for grep -q -- "--closed--" "$rec" || {
        log_tail "$(lv_log)"
        fail "$mode: the backend did not close the stream"
    }
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    grep -q "<stream:error><$cond xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" "$rec" ||
        fail "$mode: no $cond stream error sent: $(tail -c 300 "$rec")"
    grep -q "$text" "$(lv_log)" || fail "$mode: log lacks '$text'"
    lvb status >/dev/null || fail "$mode: the backend died"
    local err
    err=$(lv_status_field gw error)
    [[ $err == *"$cond"* ]] || fail "$mode: status error is '$err'"
    pass "$mode: $cond sent, daemon alive, status says: $err"
    lvb disconnect gw >/dev/null
}

run_mode notwellformed not-well-formed "bad XML from the server"
run_mode restricted restricted-xml "bad XML from the server"
run_mode deep policy-violation "depth"
run_mode oversized policy-violation "bad XML from the server"
run_mode preauth_oversized policy-violation "bad XML from the server"

# Oversized: refused while it arrived, not after buffering it whole.
rss=$(ps -o rss= -p "$(lvb status -O json | $LV_PY -c 'import json,sys; print(json.load(sys.stdin)["pid"])')")
((rss < 100000)) || fail "backend RSS ${rss} KiB after the oversized stanzas"
pass "memory stayed bounded (RSS ${rss} KiB)"

# iq timeout: a server that never answers.
$LV_PY "$here/fake_server.py" $port silent "$dir/silent.rec" &
pid=$!
cleanup_push kill "$pid"
wait_port 127.0.0.1 $port 5 || fail "fake server did not start"
lvb connect gw >/dev/null
lv_wait_state gw online || fail "gw not online with the silent server"
set +e
out=$($LV_PY "$here/../lib/bridge_call.py" "$dir/lv/data/bridge.sock" discoInfo \
    '{"profile": "gw", "jid": "example.test"}')
rc=$?
set -e
[[ $rc == 1 && $out == *remote-server-timeout* ]] || fail "iq without answer: rc=$rc $out"
pass "unanswered iq: the caller gets remote-server-timeout ($out)"
