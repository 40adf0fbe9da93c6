#!/usr/bin/env bash
# lv_http_client against a local fixture (tests/integration/http_fixture.py)
# over HTTP and HTTPS with a test CA, on 127.0.0.1 only. The C driver
# (tests/integration/http_client.c) checks: request/response round trips,
# 50 concurrent requests and the per-host connection cap, timeout, body
# size limits (stopped early), redirect limits, the private-address policy
# (the loopback fixture itself refused with allow_private_networks off;
# redirects to 10.0.0.1, 169.254.169.254 and ::ffff:10.0.0.1 refused when
# the socket would be opened, so no packet leaves), content-type and JSON
# bounds of ActivityPub and WebFinger GETs, HTTPS with and without the CA,
# cancellation, and shutdown with requests pending.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/certs.sh"

client=${LV_HTTP_CLIENT:-${LV_BUILD_DIR:-$(pwd)/build}/tests/http_client}
[[ -x $client ]] || fail "no http_client at $client (set LV_HTTP_CLIENT or LV_BUILD_DIR)"

dir=$(lv_tmpdir http_client)
lv_make_certs "$dir/certs" || fail "could not make test certificates"

/usr/bin/python3 "$here/http_fixture.py" --ports-file "$dir/ports" \
    --cert "$dir/certs/server.crt" --key "$dir/certs/server.key" \
    >"$dir/fixture.log" 2>&1 &
fixture_pid=$!
cleanup_push kill "$fixture_pid"
LV_WAIT=10 wait_for test -s "$dir/ports" || {
    log_tail "$dir/fixture.log"
    fail "the fixture did not start"
}
read -r http_port https_port <"$dir/ports"
wait_port 127.0.0.1 "$http_port" || fail "fixture not listening on $http_port"
wait_port 127.0.0.1 "$https_port" || fail "fixture not listening on $https_port"

rc=0
"$client" --http-port "$http_port" --https-port "$https_port" --ca "$dir/certs/ca.crt" \
    >"$dir/client.out" 2>"$dir/client.err" || rc=$?
cat "$dir/client.out"
passes=$(grep -c '^PASS: ' "$dir/client.out" || true)
if ((rc != 0)) || grep -q '^FAIL: ' "$dir/client.out" || ((passes < 90)); then
    log_tail "$dir/client.err"
    log_tail "$dir/fixture.log"
    fail "http_client: exit $rc, $passes PASS lines (at least 90 expected)"
fi
# Sanitizer reports go to stderr; a clean run leaves none.
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$dir/client.err"; then
    log_tail "$dir/client.err" 80
    fail "sanitizer report"
fi
pass "http_client: $passes checks"
