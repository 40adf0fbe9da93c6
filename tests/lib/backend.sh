# shellcheck shell=bash
# Helpers to drive a private libervia-backend from test scripts. Source after
# common.sh. Needs LV_BUILD_DIR (set by meson test, or defaults to ./build).
#
#   lv_backend_setup DIR [CA_FILE]  writes DIR/lv.conf (data in DIR/data, bridge
#                                   socket DIR/data/bridge.sock, debug log, fast
#                                   reconnection); extra config lines can be
#                                   passed in $LV_CONF_EXTRA (appended).
#   lvb ARGS...                     libervia-backend -c DIR/lv.conf ARGS...
#   lv_backend_start                `lvb bg`, stopped again by the cleanups
#   lv_client_profile NAME JID PW PORT   client profile forced to 127.0.0.1:PORT
#   lv_component_profile NAME JID SECRET ENTRY PORT
#   lv_state PROFILE                prints the profile's connection state
#   lv_wait_state PROFILE STATE [TIMEOUT=10]
#   lv_status_field PROFILE FIELD   prints a field of the profile's status
#   lv_log                          path of the daemon's log

LV_BUILD_DIR=${LV_BUILD_DIR:-$(pwd)/build}
LV_SOURCE_DIR=${LV_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LV_PY=/usr/bin/python3
LV_XMPP_CLIENT="$LV_PY $LV_SOURCE_DIR/tests/interop/xmpp_client.py"

lv_backend_setup() {
    LV_DIR=$1
    local ca=${2:-}
    mkdir -p "$LV_DIR/data"
    cat >"$LV_DIR/lv.conf" <<CONF
[DEFAULT]
local_dir = $LV_DIR/data
log_level = debug

[bridge]
socket = $LV_DIR/data/bridge.sock

[xmpp]
ca_file = $ca
reconnect_min_delay = 1
reconnect_max_delay = 4
${LV_CONF_EXTRA:-}
CONF
}

lvb() {
    "$LV_BUILD_DIR/libervia-backend" -c "$LV_DIR/lv.conf" "$@"
}

lv_log() {
    printf '%s\n' "$LV_DIR/data/libervia-backend.log"
}

lv_backend_start() {
    lvb bg || { log_tail "$(lv_log)"; return 1; }
    cleanup_push "'$LV_BUILD_DIR/libervia-backend' -c '$LV_DIR/lv.conf' stop >/dev/null 2>&1 || true"
}

lv_client_profile() {
    local name=$1 jid=$2 pw=$3 port=$4
    lvb profile create "$name" -j "$jid" -x "$pw" -A >/dev/null &&
        lvb param set "$name" Connection "Force server" 127.0.0.1 &&
        lvb param set "$name" Connection "Force port" "$port"
}

lv_component_profile() {
    local name=$1 jid=$2 secret=$3 entry=$4 port=$5
    lvb profile create "$name" -j "$jid" -x "$secret" -C "$entry" -A >/dev/null &&
        lvb param set "$name" Connection "Force server" 127.0.0.1 &&
        lvb param set "$name" Connection "Force port" "$port"
}

lv_status_field() {
    lvb status -O json 2>/dev/null | $LV_PY -c '
import json, sys
d = json.load(sys.stdin)
for s in d.get("sessions", []):
    if s["profile"] == sys.argv[1]:
        print(s.get(sys.argv[2], ""))
' "$1" "$2"
}

lv_state() {
    lv_status_field "$1" state
}

lv_wait_state() {
    local profile=$1 want=$2 timeout=${3:-10}
    LV_WAIT=$timeout wait_for _lv_state_is "$profile" "$want"
}

_lv_state_is() {
    [[ $(lv_state "$1") == "$2" ]]
}
