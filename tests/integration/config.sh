#!/usr/bin/env bash
# Configuration: an unknown key or a bad value stops the program with the
# file, line and key; frontends' sections are ignored; values and their
# origin are shown by config-check; doc/configuration.md is what the option
# table generates.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir config)
B="$LV_BUILD_DIR/libervia-backend"

cat >"$dir/unknown.conf" <<CONF
[DEFAULT]
local_dir = $dir/data

[xmpp]
iq_timeout = 30
no_such_key = 1
CONF
set +e
out=$("$B" -c "$dir/unknown.conf" fg 2>&1); rc=$?
set -e
[[ $rc == 1 && $out == *"unknown.conf:6: [xmpp] no_such_key: unknown option"* ]] ||
    fail "unknown key: rc $rc: $out"
pass "unknown key: $out"

printf '[xmpp]\nping_interval = soon\n' >"$dir/bad.conf"
set +e
out=$("$B" -c "$dir/bad.conf" config-check 2>&1); rc=$?
set -e
[[ $rc == 1 && $out == *"bad.conf:2: [xmpp] ping_interval: invalid value \"soon\": expected an integer"* ]] ||
    fail "bad value: $out"
printf '[xmpp]\nmax_stanza_bytes = 1 TiB\n' >"$dir/range.conf"
set +e
out=$("$B" -c "$dir/range.conf" config-check 2>&1); rc=$?
set -e
[[ $rc == 1 && $out == *"out of range"* ]] || fail "out of range: $out"
printf 'this line is not ini\n' >"$dir/syntax.conf"
set +e
out=$("$B" -c "$dir/syntax.conf" config-check 2>&1); rc=$?
set -e
[[ $rc == 1 && $out == *"syntax.conf:1: syntax error"* ]] || fail "syntax: $out"
set +e
out=$("$B" -c "$dir/missing.conf" config-check 2>&1); rc=$?
set -e
[[ $rc == 1 && $out == *"cannot open configuration file"* ]] || fail "missing: $out"
pass "bad value, out of range, syntax error and missing file are refused with file:line"

cat >"$dir/ok.conf" <<CONF
[DEFAULT]
local_dir = $dir/data
log_level = warning

[storage]
uri = sqlite:%(local_dir)s/other.db

[libervia_web]
anything = goes

[xmpp]
MAX_STANZA_BYTES = 2 MiB
CONF
out=$("$B" -c "$dir/ok.conf" config-check)
grep -qx "\[storage\] uri = sqlite:$dir/data/other.db    ($dir/ok.conf:6)" <<<"$out" ||
    fail "interpolation/origin: $out"
grep -qx "\[xmpp\] max_stanza_bytes = 2 MiB    ($dir/ok.conf:12)" <<<"$out" ||
    fail "case-insensitive key: $out"
grep -qx "\[DEFAULT\] pid_dir = $dir/data    (default)" <<<"$out" || fail "derived default: $out"
pass "interpolation, case-insensitive keys, frontend sections ignored, origins shown"

# XDG lookup when no -c is given.
mkdir -p "$dir/xdg/libervia"
printf '[DEFAULT]\nlog_level = error\n' >"$dir/xdg/libervia/libervia.conf"
out=$(XDG_CONFIG_HOME="$dir/xdg" "$B" config-check)
grep -q "log_level = error    ($dir/xdg/libervia/libervia.conf:2)" <<<"$out" ||
    fail "XDG config not read: $out"
pass "\$XDG_CONFIG_HOME/libervia/libervia.conf is read"

diff <("$B" config-doc) "$LV_SOURCE_DIR/doc/configuration.md" >/dev/null ||
    fail "doc/configuration.md is out of date: run libervia-backend config-doc > doc/configuration.md"
pass "doc/configuration.md matches the option table"
