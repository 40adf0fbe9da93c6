#!/usr/bin/env bash
# Inbound ActivityPub benchmark (the issue's figure): signed Create(Note)
# activities per second accepted (202) by the gateway and converted to XMPP
# notifications for a subscribed client, with the p50/p99 latency of the
# POSTs, from ACTORS (1,000) distinct remote actors whose keys the gateway has
# cached. Target: >= 2,000/s on this 2-core machine.
#
# Setup (everything on loopback): Prosody; the backend with an ap-gateway
# component (log level warning); apnet (nginx + local CA + /etc/hosts) for
# example.test (the gateway) and fedi.ap.test; `ap_tool serve` with the
# ACTORS actors https://fedi.ap.test/users/uK (RSA-2048 keys made once and
# kept in $AP_BENCH_KEYS). louise, a slixmpp client
# (bench/ap_inbound_client.py, no TLS), subscribes to the ACTORS virtual JIDs
# uK\40fedi.ap.test@gw.example.test: each subscription is a Follow that
# ap_tool answers with a signed Accept, and the client waits for all of them.
# The backend's own louise profile (used to publish her blog post, which the
# gateway requires) is disconnected first, so that only the slixmpp client
# receives the notifications.
# Warm-up: one signed Create per actor (the gateway fetches nothing more).
# Timed phase: `ap_tool load` sends COUNT Create(Note), CONCURRENCY in flight,
# round-robin over the actors, straight to the gateway's HTTP port
# 127.0.0.1:18123 with Host example.test: nginx is bypassed so that TLS
# termination in the proxy is not what is measured. ap_tool signs all
# requests before the clock starts (on all cores), so the generator only
# writes bytes during the timed phase. The slixmpp client counts the pubsub
# notifications; their rate is counted from the load's start to the last
# notification (so a backlog the gateway builds up is included). Also shown:
# the CPU seconds each process used during the timed phase (and the whole
# machine's, to see other load), the round trip of an XMPP ping of the
# gateway component sent during the load, and the backend's RSS at the end.
#
# Prints figures; asserts nothing. Needs root (apnet), nginx and
# python3-slixmpp; uses the integration tests' fixed ports (Prosody
# 5422/5447, 18123, 127.0.18.x:443): do not run it during integration tests.
# Usage: bench/ap_inbound.sh [COUNT=20000] [CONCURRENCY=64] [ACTORS=1000]
# Env: LV_BUILD_DIR (default ./build), AP_BENCH_KEYS (default
#      /tmp/lv-bench/ap_inbound_keys), AP_BENCH_LOG_LEVEL (backend, warning),
#      AP_BENCH_KEEP=1 (leave everything running until DIR/keep is deleted).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
count=${1:-20000}
conc=${2:-64}
actors=${3:-1000}
export LV_BUILD_DIR=${LV_BUILD_DIR:-$root/build}
AP_TOOL=${LV_AP_TOOL:-$LV_BUILD_DIR/tests/ap_tool}
[[ -x $LV_BUILD_DIR/libervia-backend && -x $AP_TOOL ]] || {
    echo "build first: meson setup build && ninja -C build (or set LV_BUILD_DIR)" >&2
    exit 1
}
. tests/lib/common.sh
. tests/lib/prosody.sh
. tests/lib/backend.sh
. tests/lib/apnet.sh

GW_PORT=18123
PEER_PORT=18132
PEER=fedi.ap.test
keys=${AP_BENCH_KEYS:-/tmp/lv-bench/ap_inbound_keys}
dir=$(LV_TEST_TMP=/tmp/lv-bench lv_tmpdir ap_inbound)
say() { printf '%s\n' "$*"; }
li() { "$LV_BUILD_DIR/li" "$@"; }
jq_py() { # EXPR on the JSON document on stdin (or on its last line)
    $LV_PY -c '
import json, sys
t = sys.stdin.read().strip()
try:
    d = json.loads(t)
except ValueError:
    d = json.loads(t.splitlines()[-1])
print(eval(sys.argv[1]))' "$@"
}
cpu_of() { # PID: utime+stime in seconds
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

say "== setup: $actors actors, $count activities, $conc in flight"
mkdir -p "$keys"
"$AP_TOOL" keys --keys "$keys" --actors "$actors" 2>&1 | sed 's/^/  /'
LV_PROSODY_LOG_LEVEL=warn prosody_start "$dir/prosody" 5422 5447 >/dev/null || exit 1
cleanup_push prosody_stop "$dir/prosody"
apnet_start "$dir/net" "example.test=$GW_PORT" "$PEER=$PEER_PORT" || exit 1
"$AP_TOOL" serve --port $PEER_PORT --host $PEER --actors "$actors" --keys "$keys" \
    --ca "$APNET_CA" >"$dir/serve.out" 2>"$dir/serve.err" &
serve_pid=$!
cleanup_push "kill $serve_pid 2>/dev/null || true"
LV_WAIT=60 wait_for grep -q READY "$dir/serve.out" || {
    log_tail "$dir/serve.err"
    exit 1
}

LV_CONF_EXTRA="
[component ap-gateway]
public_url = example.test
http_port = $GW_PORT
trust_proxy = true
allow_private_networks = true
ca_file = $APNET_CA
" lv_backend_setup "$dir/lv" "$dir/prosody/certs/ca.crt"
sed -i "s/^log_level = debug/log_level = ${AP_BENCH_LOG_LEVEL:-warning}/" "$dir/lv/lv.conf"
lv_client_profile louise louise@example.test louise-pw 5422
lv_component_profile ap gw.example.test gw-secret ap-gateway 5447
lv_backend_start >/dev/null
lv_wait_state louise online && lv_wait_state ap online || {
    echo "not online" >&2
    exit 1
}
export LIBERVIA_CONFIG="$dir/lv/lv.conf"
echo "Hello from XMPP" | li blog set -T "First post" >/dev/null
lvb disconnect louise >/dev/null
backend_pid=$(cat "$dir/lv/data/libervia-backend.pid")
prosody_pid=$(prosody_pid "$dir/prosody")

say "== louise (slixmpp) subscribes to $actors virtual JIDs through the gateway"
$LV_PY bench/ap_inbound_client.py --jid louise@example.test/bench --password louise-pw \
    --port 5422 --gateway gw.example.test --remote $PEER --actors "$actors" --tag bench \
    --expect "$count" --stop-file "$dir/load.done" --idle 15 \
    >"$dir/client.out" 2>"$dir/client.err" &
client_pid=$!
cleanup_push "kill $client_pid 2>/dev/null || true"
t0=$SECONDS
while ! grep -q READY "$dir/client.out"; do
    if ! kill -0 $client_pid 2>/dev/null || ((SECONDS - t0 > 600)); then
        echo "the subscriptions did not complete:" >&2
        cat "$dir/client.out" "$dir/client.err" >&2
        curl -s "http://127.0.0.1:$PEER_PORT/stats" | head -c 600 >&2
        exit 1
    fi
    sleep 0.5
done
sub=$(grep '"phase": "subscribe"' "$dir/client.out")
peer=$(curl -fsS "http://127.0.0.1:$PEER_PORT/stats")
say "  $(jq_py '"%d subscribed in %.1f s (iq results %s)" % (d["subscribed"], d["seconds"], d["iq_results"])' <<<"$sub")"
say "  ap_tool: $(jq_py '"%s Follows received, %d Accepts delivered, %d failed" % (d["types"].get("Follow", 0), d["accepts_sent"], d["accepts_failed"])' <<<"$peer")"
say "  gateway: $(li ap status -p ap -O json | jq_py '"following %d, actors %d in memory / %d stored" % (d["following"], d["actors"]["in_memory"], d["actors"]["stored"])')"

inbox_pending() { li ap status -p ap -O json | jq_py 'd["inbox"]["pending"]'; }
drained() { [[ $(inbox_pending) == 0 ]]; }

say "== warm-up: one signed Create per actor ($actors), through the gateway's port"
warm=$("$AP_TOOL" load --url "http://127.0.0.1:$GW_PORT/_ap/shared_inbox" --host example.test \
    --actor-base "https://$PEER" --actors "$actors" --keys "$keys" --count "$actors" \
    --concurrency 16 --tag warm 2>"$dir/warm.err")
say "  $(jq_py '"%d accepted in %.2f s, status %s, p50 %.1f ms" % (d["accepted"], d["elapsed_s"], d["status"], d["p50_ms"])' <<<"$warm")"
LV_WAIT=120 LV_WAIT_INTERVAL=0.5 wait_for drained || say "  (inbox still has $(inbox_pending) pending activities)"
sleep 1

say "== timed phase: $count signed Create(Note) from $actors actors, $conc in flight, to 127.0.0.1:$GW_PORT (no nginx)"
cpu_b0=$(cpu_of "$backend_pid")
"$AP_TOOL" load --url "http://127.0.0.1:$GW_PORT/_ap/shared_inbox" --host example.test \
    --actor-base "https://$PEER" --actors "$actors" --keys "$keys" --count "$count" \
    --concurrency "$conc" --tag bench --watch "$backend_pid,$prosody_pid,$client_pid" \
    >"$dir/load.json" 2>"$dir/load.err" &
load_pid=$!
# Is the backend's XMPP side still responsive under the load? One XEP-0199 ping
# of the gateway component by another user, 2 s into the timed phase.
LV_WAIT=300 LV_WAIT_INTERVAL=0.2 wait_for grep -q precomputed "$dir/load.err" || true
sleep 2
ping_during=$($LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5422 \
    --ca "$dir/prosody/certs/ca.crt" --timeout 600 ping gw.example.test 2>&1 || true)
kill -0 $load_pid 2>/dev/null && ping_when="during the load" || ping_when="after the load had ended"
wait $load_pid || true
load=$(cat "$dir/load.json")
touch "$dir/load.done"
LV_WAIT=600 LV_WAIT_INTERVAL=0.5 wait_for drained || say "  (inbox still has $(inbox_pending) pending activities)"
pending_after=$(inbox_pending)
wait $client_pid || true
cpu_b2=$(cpu_of "$backend_pid")
listen=$(grep '"phase": "listen"' "$dir/client.out" || echo '{"tagged": 0, "last": null, "cpu_s": 0}')
status=$(li ap status -p ap -O json)

say "  signing: $(jq_py 'd["signing"]' <<<"$load")"
say "  HTTP: $(jq_py '"%d requests in %.2f s: %.0f accepted (202)/s, %.0f requests/s; latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; status %s; transport errors %d; ap_tool CPU %.2f s" % (d["count"], d["elapsed_s"], d["accepted_per_s"], d["requests_per_s"], d["p50_ms"], d["p90_ms"], d["p99_ms"], d["max_ms"], d["status"], d["errors"], d["client_cpu_s"])' <<<"$load")"
$LV_PY - "$load" "$listen" "$count" <<'EOF'
import json, sys
load = json.loads(sys.argv[1].strip().splitlines()[-1])
lis = json.loads(sys.argv[2])
count = int(sys.argv[3])
n, last = lis.get("tagged", 0), lis.get("last")
start = load["start_epoch"]
end_http = start + load["elapsed_s"]
if n and last:
    span = last - start
    print(f"  XMPP: {n}/{count} notifications received by the subscribed client; "
          f"{n / span:.0f}/s from the load's start to the last one ({span:.2f} s); "
          f"the last one came {last - end_http:.2f} s after the last 202")
else:
    print(f"  XMPP: {n}/{count} notifications received by the subscribed client")
EOF
say "  CPU seconds during the timed phase ($(jq_py '"%.1f s x %s cores = %.1f" % (d["elapsed_s"], sys.argv[2], d["elapsed_s"] * int(sys.argv[2]))' "$(nproc)" <<<"$load")): $(jq_py '"backend %.1f, prosody %.1f, slixmpp client %.1f, ap_tool %.1f; whole machine %.1f (the rest: other processes)" % (d["cpu_s"][sys.argv[2]], d["cpu_s"][sys.argv[3]], d["cpu_s"][sys.argv[4]], d["client_cpu_s"], d["machine_cpu_s"])' "$backend_pid" "$prosody_pid" "$client_pid" <<<"$load"); backend until drained: $(awk -v a="$cpu_b0" -v b="$cpu_b2" 'BEGIN{printf "%.1f", b-a}')"
say "  XMPP ping of the gateway component sent 2 s into the timed phase: $ping_during (answered $ping_when)"
say "  gateway inbox: $(jq_py '"%d done, %d failed, %d pending" % (d["inbox"]["done"], d["inbox"]["failed"], d["inbox"]["pending"])' <<<"$status") (pending when the drain wait ended: $pending_after)"
say "== backend at the end: RSS $(awk '/^VmRSS/ {print $2, $3}' "/proc/$backend_pid/status"), peak $(awk '/^VmHWM/ {print $2, $3}' "/proc/$backend_pid/status"); $(jq_py '"actors known: %d in memory, %d stored; following %d" % (d["actors"]["in_memory"], d["actors"]["stored"], d["following"])' <<<"$status")"
if [[ ${AP_BENCH_KEEP:-0} == 1 ]]; then
    : >"$dir/keep"
    say "(AP_BENCH_KEEP=1: everything runs in $dir until $dir/keep is deleted)"
    while [[ -e $dir/keep ]]; do sleep 1; done
fi
