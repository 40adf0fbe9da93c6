#!/usr/bin/env bash
# The daemon's life: bg returns once ready, status tells, a second instance is
# refused, SIGTERM stops it cleanly, stop/status say when it is not running;
# the admin commands manage profiles with clear errors and exit codes; the
# bridge survives garbage.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir daemon)
lv_backend_setup "$dir/lv"

set +e
lvb status >/dev/null 2>&1; rc=$?
set -e
[[ $rc == 3 ]] || fail "status of a stopped daemon: rc $rc, want 3"
out=$(lvb status -O json 2>&1 || true)
[[ $out == '{"running": false}' ]] || fail "json status when stopped: $out"
set +e
lvb stop >/dev/null 2>&1; rc=$?
set -e
[[ $rc == 3 ]] || fail "stop of a stopped daemon: rc $rc"
pass "status/stop report 'not running' with exit code 3"

# Profile administration.
lvb profile create louise -j louise@example.test -x pw >/dev/null
[[ $(lvb profile default) == louise ]] || fail "first profile is not the default"
set +e
lvb profile create louise -j louise@example.test -x pw 2>"$dir/err"; rc=$?
set -e
[[ $rc == 19 ]] && grep -q "exists" "$dir/err" || fail "duplicate profile: rc $rc $(cat "$dir/err")"
set +e
lvb profile create bad -j "not a jid@@" -x pw 2>"$dir/err"; rc=$?
set -e
[[ $rc == 2 ]] || fail "bad JID: rc $rc $(cat "$dir/err")"
set +e
lvb profile create comp -j gw.example.test -x s -C no-such-entry 2>"$dir/err"; rc=$?
set -e
[[ $rc == 2 ]] && grep -q "unknown component entry point" "$dir/err" || fail "bad entry point"
set +e
lvb param set louise Connection "Force port" 99999 2>"$dir/err"; rc=$?
set -e
[[ $rc == 2 ]] && grep -q "Force port expects an integer from 1 to 65535" "$dir/err" ||
    fail "bad port accepted: rc $rc $(cat "$dir/err")"
set +e
lvb param get nobody Connection JabberID 2>"$dir/err"; rc=$?
set -e
[[ $rc == 16 ]] || fail "unknown profile: rc $rc"
[[ $(lvb param get louise Connection Password) == "(set)" ]] || fail "password shown"
[[ $(lvb param get louise Connection check_certificate) == true ]] || fail "default param"
lvb profile create gw -j gw.example.test -x s -C ap-gateway >/dev/null
lvb profile list -O json | $LV_PY -c '
import json, sys
d = {p["profile"]: p for p in json.load(sys.stdin)}
assert d["gw"]["component"] == "ap-gateway", d
assert d["louise"]["jid"] == "louise@example.test", d
' || fail "profile list"
lvb profile delete gw -f >/dev/null
pass "profile admin: create, duplicates, bad JID/entry point/values, list, delete"

lv_backend_start
pid=$(cat "$dir/lv/data/libervia-backend.pid")
kill -0 "$pid" || fail "no daemon at pid $pid"
lvb status | grep -q "is running (pid $pid)" || fail "status while running"
set +e
lvb bg >/dev/null 2>"$dir/err"; rc=$?
set -e
[[ $rc != 0 ]] && grep -q "already" "$dir/err" || fail "second daemon: rc $rc $(cat "$dir/err")"
pass "bg, status, second instance refused ($(cat "$dir/err"))"

# The bridge answers garbage with JSON-RPC errors and keeps serving.
sock="$dir/lv/data/bridge.sock"
out=$($LV_PY - "$sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"this is not json\n[1,2]\n{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"nope\"}\n")
f = s.makefile()
for _ in range(3):
    print(json.loads(f.readline())["error"]["code"])
PY
)
[[ $(tr '\n' ' ' <<<"$out") == "-32700 -32600 -32601 " ]] || fail "bridge errors: $out"
out=$($LV_PY "$here/../lib/bridge_call.py" "$sock" getVersion)
[[ $out == '"0.1.0"' ]] || fail "getVersion after garbage: $out"
set +e
out=$($LV_PY "$here/../lib/bridge_call.py" "$sock" connect '{"profile": "nobody"}'); rc=$?
set -e
[[ $rc == 1 && $out == *'"code": -32002'* ]] || fail "connect unknown profile: $out"
pass "bridge: parse/invalid/unknown-method errors, not-found code, still serving"

kill -TERM "$pid"
LV_WAIT=10 wait_for bash -c "! kill -0 $pid 2>/dev/null" || fail "SIGTERM did not stop it"
[[ ! -e $dir/lv/data/libervia-backend.pid ]] || fail "pid file left behind"
[[ ! -e $sock ]] || fail "socket left behind"
grep -q "received SIGTERM, shutting down" "$(lv_log)" && grep -q "INFO  \[backend\] stopped" "$(lv_log)" ||
    fail "no clean shutdown in the log"
pass "SIGTERM: clean shutdown, pid file and socket removed"
