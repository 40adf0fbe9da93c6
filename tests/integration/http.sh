#!/usr/bin/env bash
# lv_http (src/ap/lv_http.c) through tests/integration/http_server.c, driven
# with curl and nc on 127.0.0.1 (ephemeral ports): routing and percent-
# decoding per segment, query parsing, joined headers, HEAD, 404/405/413,
# answers given later (200 ms timer) and 50 of them at once, a client that
# gives up before its answer, proxy headers honoured only with
# --trust-proxy, malformed and oversized requests, and a clean shutdown
# (held requests answered 503, exit 0: under ASan that includes no leaks).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"

server=${LV_HTTP_SERVER:-${LV_BUILD_DIR:-$(pwd)/build}/tests/http_server}
[[ -x $server ]] || fail "no http_server at $server (set LV_HTTP_SERVER or LV_BUILD_DIR)"
for tool in curl nc python3; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh)"
done

dir=$(lv_tmpdir http)
PID='' PORT='' BASE='' NAME=''

# start_server NAME [ARGS...]: starts an instance; sets PID, PORT, BASE, NAME.
start_server() {
    NAME=$1
    shift
    LV_HTTP_LOG=debug "$server" --port-file "$dir/$NAME.port" "$@" \
        >"$dir/$NAME.out" 2>"$dir/$NAME.err" &
    PID=$!
    cleanup_push "kill $PID 2>/dev/null || true"
    if ! wait_for test -s "$dir/$NAME.port"; then
        log_tail "$dir/$NAME.err"
        fail "$NAME: server did not start"
    fi
    PORT=$(<"$dir/$NAME.port")
    BASE=http://127.0.0.1:$PORT
}

# stop_server: SIGTERM, then the exit status must be 0 within 10 s.
stop_server() {
    local rc=0 i
    kill -TERM "$PID"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$PID" 2>/dev/null && fail "$NAME: still running 10 s after SIGTERM"
    wait "$PID" || rc=$?
    check_log
    ((rc == 0)) || { log_tail "$dir/$NAME.err"; fail "$NAME: exit status $rc after SIGTERM"; }
    pass "$NAME: clean shutdown, exit 0"
}

# check_log: no sanitizer report in the server's stderr.
check_log() {
    if grep -q 'runtime error\|AddressSanitizer\|LeakSanitizer' "$dir/$NAME.err"; then
        log_tail "$dir/$NAME.err" 60
        fail "$NAME: sanitizer report"
    fi
}

# get OUT CURL_ARGS...: runs curl, headers in $dir/OUT.h, body in $dir/OUT.b;
# prints the status code (000 when there was no answer).
get() {
    local out=$1
    shift
    curl -s -D "$dir/$out.h" -o "$dir/$out.b" -w '%{http_code}' "$@" || true
}

# header OUT NAME: the value of a response header (last one), no CR.
header() {
    grep -i "^$2:" "$dir/$1.h" | tail -1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r'
}

# json OUT PYEXPR DESC: asserts a Python expression over the JSON body d.
json() {
    python3 - "$dir/$1.b" "$2" <<'EOF' || fail "$3: $(head -c 600 "$dir/$1.b")"
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
    pass "$3"
}

# expect CODE ACTUAL DESC
expect() {
    [[ $2 == "$1" ]] || fail "$3: status $2, expected $1 ($(head -c 300 "$dir/last.b" 2>/dev/null))"
    pass "$3"
}

alive() {
    local code
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$BASE/echo/alive" || true)
    [[ $code == 200 ]] || { log_tail "$dir/$NAME.err"; fail "server not answering after $1"; }
    pass "still serving after $1"
}

body_is() { # OUT TEXT DESC
    [[ $(<"$dir/$1.b") == "$2" ]] || fail "$3: body '$(<"$dir/$1.b")', expected '$2'"
    pass "$3"
}

# ---------------------------------------------------------------- default
start_server plain

code=$(get last -H 'X-Test: one' -H 'X-Test: two' -H 'X-Forwarded-Host: evil.example' \
    -H 'X-Forwarded-For: 9.9.9.9' -H 'X-Forwarded-Proto: https' \
    "$BASE/echo/a%40b/c%2Fd/%E2%9C%93/?x=1&y=a%20b+c&z&x=2&e=&%3D=%26")
expect 200 "$code" "echo answers"
json last 'd["segments"] == ["echo", "a@b", "c/d", "\u2713", ""]' \
    "segments decoded one by one (%40 -> @, %2F stays inside its segment)"
json last 'd["query"] == [["x","1"],["y","a b c"],["z",""],["x","2"],["e",""],["=","&"]]' \
    "query parsed into decoded pairs, in order"
json last 'd["headers"]["x-test"] == "one, two"' "repeated headers joined with ', '"
json last 'd["path"] == "/echo/a%40b/c%2Fd/%E2%9C%93/" and d["target"].endswith("?x=1&y=a%20b+c&z&x=2&e=&%3D=%26")' \
    "raw path and target kept"
json last "d['host'] == '127.0.0.1:$PORT' and d['scheme'] == 'http' and d['remote'] == '127.0.0.1'" \
    "without trust_proxy, X-Forwarded-* are ignored"
[[ $(header last Content-Type) == 'application/activity+json; charset=utf-8' ]] ||
    fail "echo content type: $(header last Content-Type)"
[[ $(header last Vary) == Accept && $(header last Cache-Control) == no-store ]] ||
    fail "extra headers missing"
pass "content type and extra headers (Vary, Cache-Control)"

for bad in '/echo/%zz' '/echo/a%00b' '/echo/ab%2' '/echo/x?q=%G1'; do
    code=$(get last "$BASE$bad")
    expect 400 "$code" "bad percent-encoding $bad -> 400"
done
grep -q '^400 Bad Request: ' "$dir/last.b" || fail "400 body: $(<"$dir/last.b")"
[[ $(header last Content-Type) == 'text/plain; charset=utf-8' ]] || fail "400 content type"
pass "error bodies are plain text '<status> <phrase>: <reason>'"

# Raw, since curl -I never reads a body: the answer must end with the headers.
printf 'HEAD /echo/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' |
    timeout 5 nc -q 2 127.0.0.1 "$PORT" >"$dir/head.raw" || true
python3 - "$dir/head.raw" <<'EOF' || fail "HEAD: $(cat -v "$dir/head.raw")"
import sys
raw = open(sys.argv[1], "rb").read()
head, sep, rest = raw.partition(b"\r\n\r\n")
lines = head.decode().split("\r\n")
hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
ok = (lines[0].startswith("HTTP/1.1 200") and sep and rest == b""
      and hdrs.get("content-type", "").startswith("application/activity+json")
      and int(hdrs.get("content-length", "0")) > 100)
sys.exit(0 if ok else 1)
EOF
pass "HEAD: 200 with Content-Type and the body's Content-Length, no body"

code=$(get last "$BASE/nope/x")
expect 404 "$code" "unknown path -> 404"
body_is last '404 Not Found: no route for this path' "404 body"
code=$(get last "$BASE/echo")
json last 'd["segments"] == ["echo"]' "a final ** also matches nothing (/echo)"
code=$(get last "$BASE/echoes/x")
expect 404 "$code" "a literal segment matches whole (/echoes/x -> 404)"
# A 404 to a GET keeps the connection: curl reuses it for the next URL.
conns=$(curl -s -o /dev/null -o /dev/null -w '%{num_connects} ' "$BASE/nope" "$BASE/echo/x")
[[ $conns == "1 0 " ]] || fail "connection not reused after a 404 (connects: $conns)"
pass "keep-alive survives a 404"

code=$(get last -X DELETE "$BASE/thing")
expect 405 "$code" "known path, other method -> 405"
[[ $(header last Allow) == 'GET, HEAD, PUT' ]] || fail "Allow: '$(header last Allow)'"
pass "405 carries Allow: GET, HEAD, PUT"
code=$(get last -X POST "$BASE/delayed")
[[ $code == 405 && $(header last Allow) == 'GET, HEAD' ]] || fail "POST /delayed: $code"
pass "405 on /delayed with Allow: GET, HEAD"

# ---- bodies
code=$(get last --data-binary 0123456789 "$BASE/small")
expect 200 "$code" "10-byte body within the 10-byte limit"
json last 'd["body_len"] == 10' "body fully buffered"
code=$(get last --data-binary 0123456789A "$BASE/small")
expect 413 "$code" "11 bytes with Content-Length -> 413"
body_is last '413 Content Too Large: body over 10 bytes' "413 says why"
code=$(get last -H 'Transfer-Encoding: chunked' --data-binary 0123456789A "$BASE/small")
expect 413 "$code" "11 bytes chunked -> 413"
code=$(get last -H 'Transfer-Encoding: chunked' --data-binary 0123456789 "$BASE/small")
expect 200 "$code" "10 bytes chunked -> 200"
head -c $((2 * 1024 * 1024)) /dev/zero >"$dir/2m.bin"
head -c $((1536 * 1024)) /dev/zero >"$dir/1m5.bin"
head -c $((8 * 1024 * 1024)) /dev/zero >"$dir/8m.bin"
code=$(get last --data-binary "@$dir/2m.bin" "$BASE/echo/x")
expect 413 "$code" "2 MiB over the default 1 MiB limit (Expect: 100-continue) -> 413"
code=$(get last -H 'Expect:' --data-binary "@$dir/2m.bin" "$BASE/echo/x")
expect 413 "$code" "2 MiB, body sent at once -> 413 from Content-Length"
code=$(get last -H 'Transfer-Encoding: chunked' --data-binary "@$dir/1m5.bin" "$BASE/echo/x")
expect 413 "$code" "1.5 MiB chunked -> 413 after reading on"
code=$(get last -H 'Expect:' -H 'Transfer-Encoding: chunked' --data-binary "@$dir/8m.bin" "$BASE/small")
[[ $code == 413 || $code == 000 ]] || fail "8 MiB chunked to /small: $code"
pass "8 MiB chunked to a 10-byte route: refused ($code), memory bounded"
alive "oversized bodies"

# ---- answers of every kind
code=$(get last "$BASE/redirect")
expect 303 "$code" "redirect"
[[ $(header last Location) == /echo/redirected ]] || fail "Location: $(header last Location)"
code=$(get last -L "$BASE/redirect")
json last 'd["segments"] == ["echo", "redirected"]' "303 + Location followed"
code=$(get last "$BASE/unauthorized")
expect 401 "$code" "401"
body_is last '401 Unauthorized: signature does not verify' "401 body"
code=$(get last "$BASE/.well-known/webfinger?resource=acct:user@host.example")
json last 'd["subject"] == "acct:user@host.example"' "webfinger, raw resource"
[[ $(header last Content-Type) == application/jrd+json ]] || fail "jrd content type"
code=$(get last "$BASE/.well-known/webfinger?resource=acct%3Auser%40host.example")
json last 'd["subject"] == "acct:user@host.example"' "webfinger, encoded resource"
code=$(get last "$BASE/bytes")
[[ $code == 200 && $(header last Content-Type) == application/x-test ]] || fail "/bytes: $code"
[[ $(od -An -tx1 "$dir/last.b" | tr -d ' \n') == 000102ff ]] || fail "/bytes body"
! grep -qi '^x-split\|^bad name\|^b: c' "$dir/last.h" || fail "an unsafe header went out"
[[ $(grep -ci '^content-type:' "$dir/last.h") == 1 ]] || fail "two Content-Type headers"
pass "raw bytes; invalid extra headers refused"

# ---- later answers
t=$(curl -s -o "$dir/last.b" -w '%{time_total}' "$BASE/delayed")
json last 'd["delayed"] is True' "delayed answer arrives"
python3 -c "import sys; t=float(sys.argv[1]); sys.exit(0 if 0.18 <= t < 2 else 1)" "$t" ||
    fail "delayed answer took $t s"
pass "delayed answer after ${t}s (timer: 0.2 s)"

args=()
for i in $(seq 50); do args+=(-o /dev/null "$BASE/delayed?n=$i"); done
t0=$(_lv_now_ms)
curl -s -Z --parallel-max 50 --parallel-immediate -w '%{http_code}\n' "${args[@]}" >"$dir/par.txt" 2>/dev/null || true
t1=$(_lv_now_ms)
ok=$(grep -c '^200$' "$dir/par.txt" || true)
echo "50 concurrent delayed requests: $((t1 - t0)) ms (sequential would be 10000 ms)"
((ok == 50)) || fail "only $ok of 50 concurrent delayed requests answered 200"
((t1 - t0 < 5000)) || fail "50 concurrent delayed requests took $((t1 - t0)) ms"
pass "50 concurrent delayed requests all answered, loop not blocked"

# ---- a client that gives up
rc=0
curl -s -m 1 -o /dev/null "$BASE/never" || rc=$?
((rc == 28)) || fail "/never: curl exit $rc, expected 28 (timeout)"
dead_seen() {
    curl -s -o "$dir/stats.b" "$BASE/stats" &&
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["dead"] >= 1 else 1)' "$dir/stats.b"
}
wait_for dead_seen || fail "the abandoned request was not marked dead: $(<"$dir/stats.b")"
pass "client gone before the answer: request marked dead"
alive "a client disconnect"
# Gone before a later answer: the handler's answer is dropped, not written
# to a freed connection (ASan watches).
rc=0
curl -s -m 0.1 -o /dev/null "$BASE/delayed" || rc=$?
((rc == 28)) || fail "/delayed with -m 0.1: curl exit $rc"
sleep 0.4
grep -q 'GET /delayed 0 0 .*(client gone)' "$dir/$NAME.err" || fail "no 'client gone' access log line"
alive "an answer to a client that left"

# ---- malformed requests
raw() { # NAME: sends stdin raw, prints the first response line (or "closed")
    local line
    line=$(timeout 5 nc -q 2 127.0.0.1 "$PORT" | head -1 | tr -d '\r' || true)
    echo "${line:-closed}"
}
r=$(printf 'GARBAGE\x01\x02 nonsense\r\n\r\n' | raw)
[[ $r == 'HTTP/1.1 400'* || $r == closed ]] || fail "garbage: $r"
pass "garbage bytes: $r"
r=$(head -c 4096 /dev/urandom | raw)
[[ $r == 'HTTP/1.1 400'* || $r == closed ]] || fail "random bytes: $r"
pass "random bytes: $r"
r=$(printf 'GET echo/x HTTP/1.1\r\nHost: a\r\n\r\n' | raw)
[[ $r == 'HTTP/1.1 400'* ]] || fail "target without /: $r"
pass "request-target without a leading / -> 400"
r=$(printf 'GET /echo/x HTTP/1.1\r\n\r\n' | raw)
[[ $r == 'HTTP/1.1 400'* ]] || fail "HTTP/1.1 without Host: $r"
pass "HTTP/1.1 without Host -> 400"
r=$(printf 'GET /echo/x HTTP/1.1\r\nHost: a b\r\n\r\n' | raw)
[[ $r == 'HTTP/1.1 400'* ]] || fail "bad Host: $r"
pass "bad Host header -> 400"
r=$(printf 'POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n' | raw)
[[ $r == 'HTTP/1.1 4'* || $r == closed ]] || fail "huge Content-Length: $r"
pass "absurd Content-Length: $r"
code=$(get last -H "X-Big: $(head -c 100000 /dev/zero | tr '\0' a)" "$BASE/echo/x")
[[ $code == 431 || $code == 000 ]] || fail "100 KB header: $code"
pass "100 KB header: $code"
hargs=()
for i in $(seq 150); do hargs+=(-H "X-H$i: v"); done
code=$(get last "${hargs[@]}" "$BASE/echo/x")
expect 431 "$code" "150 header fields -> 431"
r=$(printf 'GET /echo/p1 HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\nGET /echo/p3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' |
    timeout 5 nc -q 2 127.0.0.1 "$PORT" | grep -ao 'HTTP/1\.1 [0-9]*' | tr '\n' '|' || true)
[[ $r == 'HTTP/1.1 200|HTTP/1.1 404|HTTP/1.1 200|' ]] || fail "pipelined: $r"
pass "three pipelined requests answered in order"
alive "malformed requests"

# ---- shutdown with requests in flight
curl -s -D "$dir/held.h" -o "$dir/held.b" -w '%{http_code}' "$BASE/never" >"$dir/held.code" &
cpid=$!
sleep 0.3
stop_server
wait "$cpid" || true
[[ $(<"$dir/held.code") == 503 ]] || fail "held request at shutdown: $(<"$dir/held.code")"
grep -q '^503 Service Unavailable: server shutting down' "$dir/held.b" || fail "503 body: $(<"$dir/held.b")"
pass "request held at shutdown answered 503"
grep -q 'DEBUG \[http\] GET /echo/x 200 [0-9]* [0-9.]*ms' "$dir/$NAME.err" ||
    fail "no access log line"
! grep -q 'X-Test\|one, two' "$dir/$NAME.err" || fail "headers leaked into the log"
pass "access log: method path status bytes ms, no headers"

# ---------------------------------------------------------------- behind a proxy
start_server proxy --trust-proxy --timeout 1
# An idle connection (no request at all, or half a request) is closed after
# the connection timeout.
for partial in '' 'GET /echo/x HTTP/1.1\r\nHost: a\r\n'; do
    t0=$(_lv_now_ms)
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    printf '%b' "$partial" >&3
    r=$(timeout 6 cat <&3 | head -c 100 | tr -d '\r' | head -1 || true)
    exec 3<&-
    t1=$(_lv_now_ms)
    ((t1 - t0 < 5000)) || fail "idle connection ('$partial') still open after $((t1 - t0)) ms"
    pass "idle connection closed by the 1 s timeout after $((t1 - t0)) ms${r:+ ($r)}"
done
code=$(get last -H 'X-Forwarded-Host: spoof.example, gw.example' -H 'X-Forwarded-Proto: https' \
    -H 'X-Forwarded-For: 1.2.3.4, 5.6.7.8' "$BASE/echo/x")
json last 'd["host"] == "gw.example" and d["scheme"] == "https" and d["remote"] == "5.6.7.8"' \
    "trust_proxy: X-Forwarded-Host/-Proto/-For (last hop)"
code=$(get last -H 'Forwarded: for=192.0.2.60;proto=http;host=a.example, for="[2001:db8::1]:4711";proto=https;host=fwd.example' \
    "$BASE/echo/x")
json last 'd["host"] == "fwd.example" and d["scheme"] == "https" and d["remote"] == "2001:db8::1"' \
    "trust_proxy: Forwarded (last element)"
code=$(get last "$BASE/echo/x")
json last "d['host'] == '127.0.0.1:$PORT' and d['scheme'] == 'http' and d['remote'] == '127.0.0.1'" \
    "trust_proxy without proxy headers: Host and socket"
code=$(get last -H 'X-Forwarded-Proto: gopher' "$BASE/echo/x")
expect 400 "$code" "bad X-Forwarded-Proto -> 400"
code=$(get last -H 'X-Forwarded-Host: a/b@c' "$BASE/echo/x")
expect 400 "$code" "bad X-Forwarded-Host -> 400"
code=$(get last -H 'X-Forwarded-For: unknown' "$BASE/echo/x")
json last 'd["remote"] == "127.0.0.1"' "unusable X-Forwarded-For falls back to the socket"

# The server freed from inside a handler, with a request held.
curl -s -o "$dir/held2.b" -w '%{http_code}' "$BASE/never" >"$dir/held2.code" &
cpid=$!
sleep 0.3
code=$(get last -X POST "$BASE/quit")
expect 200 "$code" "lv_http_free() from a handler: the answer still goes out"
wait "$cpid" || true
# lv_http_free() from a handler takes effect once the handler returns, so
# the program's own answer to its held request (500 "late") still goes out.
[[ $(<"$dir/held2.code") == 500 ]] || fail "held request at /quit: $(<"$dir/held2.code")"
pass "answer given while the server shuts down from a handler still delivered"
rc=0
for ((i = 0; i < 100; i++)); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
wait "$PID" || rc=$?
check_log
((rc == 0)) || { log_tail "$dir/$NAME.err"; fail "proxy: exit status $rc after /quit"; }
pass "proxy: exit 0 after freeing itself"
