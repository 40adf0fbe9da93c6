#!/usr/bin/env bash
# The local demo: a private Prosody on loopback, libervia-backend on SQLite
# with a user profile (louise@example.test) and the ap-gateway component
# profile (gw.example.test), both connected; then a blog post published with
# `li`, read back, and fetched over ActivityPub from the gateway (WebFinger,
# actor, outbox) as a fediverse server would (TLS left to a reverse proxy:
# the demo talks to the gateway's HTTP port directly).
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

LV_CONF_EXTRA="
[component ap-gateway]
public_url = example.test
http_port = 18223
" lv_backend_setup "$demo/lv" "$demo/prosody/certs/ca.crt"
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

ap() { curl -fsS -H 'Host: example.test' -H 'Accept: application/activity+json' "http://127.0.0.1:18223$1"; }
echo
echo "== over ActivityPub (gateway on 127.0.0.1:18223, public URLs https://example.test/_ap/...):"
ap "/.well-known/webfinger?resource=acct:louise@example.test" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("WebFinger acct:louise@example.test ->", [l["href"] for l in d["links"] if l.get("rel") == "self"][0])'
ap "/_ap/actor/louise%40example.test" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("actor:", d["type"], d["id"], "| inbox", d["inbox"], "| key", d["publicKey"]["id"])'
ap "/_ap/outbox/louise%40example.test?page=1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for a in d["orderedItems"]:
    n = a["object"]
    print("outbox:", a["type"], n["type"], n["id"])
    print("  content:", n["content"])'
cat <<MSG

The demo is running. Try:
  export LIBERVIA_CONFIG=$demo/lv/lv.conf
  build/li blog get
  echo 'another post' | build/li blog set -T 'Second post'
  build/libervia-backend -c $demo/lv/lv.conf status
  build/li ap status
  curl -H 'Host: example.test' -H 'Accept: application/activity+json' \\
       'http://127.0.0.1:18223/_ap/outbox/louise%40example.test?page=1'
Stop it with: scripts/demo.sh stop
MSG
