#!/usr/bin/env bash
# XMPP core benchmarks, on loopback against a private Prosody:
#   1. connect time of a client profile (TCP + STARTTLS + SCRAM + bind), and of a
#      component profile (XEP-0114 handshake): median and p95 over N reconnects;
#   2. stanzas per second through the component: an independent slixmpp client
#      pings it (XEP-0199) with many pings in flight, so each ping is two stanzas
#      through Prosody and one answer from our backend.
# Prints its figures; asserts nothing. Usage: bench/xmpp.sh [RECONNECTS=20] [PINGS=20000]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
n=${1:-20}
pings=${2:-20000}
export LV_BUILD_DIR=${LV_BUILD_DIR:-$root/build}
[[ -x $LV_BUILD_DIR/libervia-backend ]] || { meson setup build >/dev/null; ninja -C build >/dev/null; }
. tests/lib/common.sh
. tests/lib/prosody.sh
. tests/lib/backend.sh

dir=$(LV_TEST_TMP=/tmp/lv-bench lv_tmpdir xmpp)
LV_PROSODY_LOG_LEVEL=warn prosody_start "$dir/prosody" 5622 5647 >/dev/null
cleanup_push prosody_stop "$dir/prosody"
LV_CONF_EXTRA="ping_interval = 0" lv_backend_setup "$dir/lv" "$dir/prosody/certs/ca.crt"
sed -i 's/^log_level = debug/log_level = warning/' "$dir/lv/lv.conf"
lv_client_profile louise louise@example.test louise-pw 5622
lv_component_profile gw gw.example.test gw-secret ap-gateway 5647
lv_backend_start >/dev/null
lv_wait_state louise online && lv_wait_state gw online || { echo "not online" >&2; exit 1; }

measure() { # PROFILE
    local p=$1 i times=()
    for ((i = 0; i < n; i++)); do
        lvb disconnect "$p" >/dev/null
        lvb connect "$p" >/dev/null
        LV_WAIT=10 LV_WAIT_INTERVAL=0.01 wait_for _lv_state_is "$p" online
        times+=("$(lv_status_field "$p" connect_ms)")
        [[ -t 2 ]] && printf '\r  %s: %d/%d' "$p" $((i + 1)) "$n" >&2
    done
    [[ -t 2 ]] && printf '\r' >&2
    printf '%s\n' "${times[@]}" | sort -n | awk -v p="$p" '
        { v[NR] = $1; s += $1 }
        END { printf "connect %-6s n=%d median=%d ms p95=%d ms mean=%.1f ms\n", p, NR,
              v[int((NR + 1) / 2)], v[int(NR * 0.95 + 0.999)], s / NR }'
}
echo "== connect time (TCP + STARTTLS + SCRAM-SHA-1 + bind; component: handshake)"
measure louise
measure gw

echo "== stanzas through the component: $pings pings, 100 in flight, slixmpp client"
before=$(lv_status_field gw stanzas_in)
out=$($LV_XMPP_CLIENT --jid pierre@example.test --password pierre-pw --port 5622 \
    --ca "$dir/prosody/certs/ca.crt" --timeout 600 ping-flood gw.example.test "$pings" 100)
after=$(lv_status_field gw stanzas_in)
echo "  client: $out"
echo "  backend: received $((after - before)) stanzas on the component stream"
pid=$(cat "$dir/lv/data/libervia-backend.pid")
echo "  backend RSS after the run: $(ps -o rss= -p "$pid") KiB, CPU time: $(ps -o time= -p "$pid")"
