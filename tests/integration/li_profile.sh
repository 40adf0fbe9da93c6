#!/usr/bin/env bash
# li profile and li param through the bridge: create, list, info, params,
# connect (with a profile password), disconnect, modify, default, delete.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir li_profile)
prosody_start "$dir/prosody" 5422 5447 || fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"
lv_backend_setup "$dir/lv" "$dir/prosody/certs/ca.crt"
lv_backend_start
export LIBERVIA_CONFIG="$dir/lv/lv.conf"
li() { "$LV_BUILD_DIR/li" "$@"; }
expect_rc() {
    local want=$1
    shift
    set +e
    "$@" >"$dir/out" 2>"$dir/err"
    local rc=$?
    set -e
    [[ $rc == "$want" ]] || fail "$* exited $rc, want $want: $(cat "$dir/err")"
}

li profile create louise -j louise@example.test -x louise-pw >/dev/null
li profile create gw -j gw.example.test -x gw-secret -C ap-gateway -A >/dev/null
expect_rc 19 li profile create louise -j louise@example.test -x x
expect_rc 17 li profile create bad -j "@@" -x x
[[ $(li profile list -c) == louise && $(li profile list -C) == gw ]] || fail "list filters"
[[ $(li profile default) == louise ]] || fail "default profile"
li param set Connection "Force server" 127.0.0.1 -p louise
li param set Connection "Force port" 5422 -p louise
[[ $(li param get Connection "Force port" -p louise) == 5422 ]] || fail "param get"
[[ $(li param get Connection Password -p louise) == "********" ]] || fail "password shown"
expect_rc 17 li param set Connection "Force port" notaport -p louise
expect_rc 16 li param set Connection NoSuchParam 1 -p louise
info=$(li profile info -p louise -O json --show-password)
$LV_PY -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["jid"] == "louise@example.test" and d["port"] == "5422", d
assert d["XMPP password"] == "louise-pw", d
' "$info" || fail "profile info: $info"
pass "create (duplicate 19, bad JID 17), list -c/-C, default, param get/set with checks, info"

li profile connect -p louise
lv_wait_state louise online || fail "louise not online: $(lv_status_field louise error)"
li profile disconnect -p louise
[[ -z $(lv_state louise) ]] || fail "still connected: $(lv_state louise)"
li profile modify -p louise -w s3cret
expect_rc 21 li profile connect -p louise
grep -q "wrong or missing profile password" "$dir/err" || fail "message: $(cat "$dir/err")"
li profile connect -p louise --pwd s3cret
lv_wait_state louise online || fail "connect with --pwd"
pass "connect/disconnect; a profile password is required once set (exit 21 without it)"

li profile modify -p gw -D
[[ $(li profile default) == gw ]] || fail "modify -D"
li profile delete louise -f >/dev/null
[[ $(li profile list) == gw ]] || fail "deleted profile listed: $(li profile list)"
[[ -z $(lv_state louise) ]] || fail "deleted profile still connected"
expect_rc 16 li profile info -p louise
pass "modify -D sets the default; delete disconnects and removes"
