#!/usr/bin/env bash
# The local demo: a private Prosody on loopback, libervia-backend on SQLite
# with a user profile (louise@example.test) and the ap-gateway component
# profile (gw.example.test), both connected; then a blog post published with
# `li` and read back.
#
#   scripts/demo.sh         install, build, start everything, publish a post
#   scripts/demo.sh stop    stop the backend and Prosody
#
# State lives in $LV_DEMO_DIR (default /tmp/libervia-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
demo=${LV_DEMO_DIR:-/tmp/libervia-demo}
. tests/lib/common.sh
. tests/lib/prosody.sh
export LV_BUILD_DIR="$root/build"
. tests/lib/backend.sh

if [[ ${1:-} == stop ]]; then
    LV_DIR="$demo/lv"
    [[ -f $LV_DIR/lv.conf ]] && lvb stop || true
    prosody_stop "$demo/prosody" || true
    echo "demo stopped"
    exit 0
fi

scripts/install-deps.sh
[[ -f build/build.ninja ]] || meson setup build >/dev/null
ninja -C build >/dev/null
echo "== built: build/libervia-backend, build/li"

if [[ -f $demo/lv/lv.conf ]]; then
    LV_DIR="$demo/lv"
    lvb stop >/dev/null 2>&1 || true
fi
prosody_stop "$demo/prosody" >/dev/null 2>&1 || true
rm -rf "$demo"
mkdir -p "$demo"
prosody_start "$demo/prosody" 15222 15347
echo "== Prosody running on 127.0.0.1:15222 (c2s) and :15347 (components)"

lv_backend_setup "$demo/lv" "$demo/prosody/certs/ca.crt"
lv_client_profile louise louise@example.test louise-pw 15222
lv_component_profile ap gw.example.test gw-secret ap-gateway 15347
lvb bg
_lv_online() { [[ $(lv_state louise) == online && $(lv_state ap) == online ]]; }
LV_WAIT=20 wait_for _lv_online || { lvb status; echo "profiles did not connect" >&2; exit 1; }
lvb status

export LIBERVIA_CONFIG="$demo/lv/lv.conf"
id=$(printf 'Hello from **Libervia in C**: this post went through the bridge,\nthe backend and Prosody.\n' |
    build/li blog set -T "Hello, fediverse" -t demo)
echo "== published blog post $id on louise@example.test's blog; reading it back:"
build/li blog get -i "$id"
cat <<MSG

The demo is running. Try:
  export LIBERVIA_CONFIG=$demo/lv/lv.conf
  build/li blog get
  echo 'another post' | build/li blog set -T 'Second post'
  build/libervia-backend -c $demo/lv/lv.conf status
Stop it with: scripts/demo.sh stop
MSG
