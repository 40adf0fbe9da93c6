#!/usr/bin/env bash
# `li blog get -m 20` served from the pubsub cache vs from the server, in the
# same run, against a private Prosody: a blog of N posts is published, synced,
# then read R times each way. Prints the mean/median wall time of each and the
# ratio. Usage: bench/cache_read.sh [POSTS=200] [READS=50]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
posts=${1:-200}
reads=${2:-50}
export LV_BUILD_DIR=${LV_BUILD_DIR:-$root/build}
[[ -x $LV_BUILD_DIR/li ]] || { meson setup build >/dev/null; ninja -C build >/dev/null; }
. tests/lib/common.sh
. tests/lib/prosody.sh
. tests/lib/backend.sh

dir=$(LV_TEST_TMP=/tmp/lv-bench lv_tmpdir cache_read)
LV_PROSODY_LOG_LEVEL=warn prosody_start "$dir/prosody" 5722 5747 >/dev/null
cleanup_push prosody_stop "$dir/prosody"
lv_backend_setup "$dir/lv" "$dir/prosody/certs/ca.crt"
sed -i 's/^log_level = debug/log_level = warning/' "$dir/lv/lv.conf"
lv_client_profile louise louise@example.test louise-pw 5722
lv_backend_start >/dev/null
lv_wait_state louise online || { echo "not online" >&2; exit 1; }
export LIBERVIA_CONFIG="$dir/lv/lv.conf"
li() { "$LV_BUILD_DIR/li" "$@"; }

for i in $(seq 1 "$posts"); do
    printf 'Post number %d: %s\n' "$i" "$(head -c 600 /dev/zero | tr '\0' 'w' | fold -w 7 | paste -sd' ')" |
        li blog set -T "Post $i" -t bench -t "t$((i % 7))" >/dev/null
    [[ -t 2 ]] && printf '\r  publishing %d/%d' "$i" "$posts" >&2
done
[[ -t 2 ]] && printf '\r' >&2
li pubsub cache sync -n urn:xmpp:microblog:0 >/dev/null

timeit() { # LABEL ARGS...
    local label=$1
    shift
    local t0 t1 times=()
    for ((k = 0; k < reads; k++)); do
        t0=$(date +%s%N)
        li blog get -m 20 "$@" >/dev/null
        t1=$(date +%s%N)
        times+=($(((t1 - t0) / 1000)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v l="$label" '
        { v[NR] = $1; s += $1 }
        END { printf "%-12s n=%d median=%.2f ms mean=%.2f ms\n", l, NR, v[int((NR + 1) / 2)] / 1000, s / NR / 1000 }'
}
echo "== li blog get -m 20 on a blog of $posts posts ($reads reads each)"
cached=$(timeit "from cache")
server=$(timeit "from server" -C)
echo "$cached"
echo "$server"
awk -v a="$(sed 's/.*mean=\([0-9.]*\).*/\1/' <<<"$cached")" -v b="$(sed 's/.*mean=\([0-9.]*\).*/\1/' <<<"$server")" \
    'BEGIN { printf "ratio server/cache (mean, whole li process): %.2f\n", b / a }'
