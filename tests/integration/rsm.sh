#!/usr/bin/env bash
# Paging (XEP-0059) through li: 250 items on ejabberd's pubsub service come
# back page by page (li pubsub get -m 100 -M -1), and a window with --index /
# -a; against Prosody, which ignores RSM, the whole node comes in one answer
# and li says paging is not available rather than looping.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/ejabberd.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir rsm)
ejabberd_start "$dir/ejabberd" 5432 5457 || fail "ejabberd did not start"
cleanup_push ejabberd_stop "$dir/ejabberd"
LV_PROSODY_ADMINS="louise@example.test" prosody_start "$dir/prosody" 5422 5447 ||
    fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"
lv_backend_setup "$dir/lv" "$dir/ejabberd/certs/ca.crt"
lv_client_profile ej louise@example.test louise-pw 5432
lvb param set ej Connection check_certificate false # the two servers have different CAs
lv_client_profile pr louise@example.test louise-pw 5422
lvb param set pr Connection check_certificate false
lv_backend_start
lv_wait_state ej online 15 && lv_wait_state pr online 15 || fail "profiles not online"
export LIBERVIA_CONFIG="$dir/lv/lv.conf"
li() { "$LV_BUILD_DIR/li" "$@"; }

for p in ej pr; do
    li pubsub node create -p $p -s pubsub.example.test -n big -f max_items 1000 >/dev/null
done
start=$(date +%s%N)
for i in $(seq -w 1 250); do
    echo "<n xmlns='urn:example:rsm'>$i</n>" | li pubsub set -p ej -s pubsub.example.test -n big -q "item-$i" >/dev/null
done
for i in $(seq -w 1 30); do
    echo "<n xmlns='urn:example:rsm'>$i</n>" | li pubsub set -p pr -s pubsub.example.test -n big -q "item-$i" >/dev/null
done
pass "published 250 + 30 items with li in $((($(date +%s%N) - start) / 1000000)) ms"

out=$(li pubsub get -p ej -s pubsub.example.test -n big -m 100 -M -1 -O simple)
[[ $(wc -l <<<"$out") == 250 ]] || fail "got $(wc -l <<<"$out") items, want 250"
[[ $(sort -u <<<"$out" | wc -l) == 250 ]] || fail "duplicates in the pages"
[[ $(head -1 <<<"$out") == item-001 && $(tail -1 <<<"$out") == item-250 ]] ||
    fail "order: $(head -1 <<<"$out") .. $(tail -1 <<<"$out")"
pass "ejabberd: 250 items in pages of 100, each once, in order"

json=$(li pubsub get -p ej -s pubsub.example.test -n big -m 10 --index 20 -O json)
$LV_PY -c '
import json, sys
d = json.loads(sys.argv[1])
ids = [i["id"] for i in d["items"]]
assert len(ids) == 10 and ids[0] == "item-021", ids
assert d["rsm"]["count"] == 250 and d["rsm"]["index"] == 20, d["rsm"]
' "$json" || fail "index window: $json"
last=$($LV_PY -c 'import json,sys; print(json.loads(sys.argv[1])["rsm"]["last"])' "$json")
json=$(li pubsub get -p ej -s pubsub.example.test -n big -m 5 -a "$last" -O json)
$LV_PY -c '
import json, sys
ids = [i["id"] for i in json.loads(sys.argv[1])["items"]]
assert ids == ["item-031", "item-032", "item-033", "item-034", "item-035"], ids
' "$json" || fail "after: $json"
json=$(li pubsub get -p ej -s pubsub.example.test -n big -m 5 -b "" -O json)
$LV_PY -c '
import json, sys
ids = [i["id"] for i in json.loads(sys.argv[1])["items"]]
assert ids[-1] == "item-250" and len(ids) == 5, ids
' "$json" || fail "last page: $json"
pass "ejabberd: --index, -a AFTER and -b '' (last page) windows"

out=$(li pubsub get -p pr -s pubsub.example.test -n big -m 10 -M -1 -O json)
$LV_PY -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["rsm"] is None, d["rsm"]
assert len(d["items"]) == 30, len(d["items"])
' "$out" || fail "prosody fallback: $out"
out=$(li pubsub get -p pr -s pubsub.example.test -n big -M 5 -O simple)
[[ $(wc -l <<<"$out") == 5 ]] || fail "max_items on prosody: $out"
pass "prosody (no RSM): everything in one answer (rsm null), -M still bounds it"

# Owner operations and item edits through li (on Prosody's pubsub service,
# where louise is an admin, hence owner).
li pubsub node affiliations set -p pr -s pubsub.example.test -n big -a pierre@example.test publisher
li pubsub node affiliations get -p pr -s pubsub.example.test -n big -O json | grep -q '"pierre@example.test": "publisher"' ||
    fail "affiliations: $(li pubsub node affiliations get -p pr -s pubsub.example.test -n big)"
li pubsub node set -p pr -s pubsub.example.test -n big -f title "Big node"
li pubsub node info -p pr -s pubsub.example.test -n big -k title | grep -q "Big node" || fail "node set"
cat >"$dir/editor.sh" <<'ED'
#!/bin/sh
sed -i 's/>07</>seven</' "$1"
ED
chmod +x "$dir/editor.sh"
EDITOR="$dir/editor.sh" li pubsub edit -p pr -s pubsub.example.test -n big -i item-07 >/dev/null
li pubsub get -p pr -s pubsub.example.test -n big -i item-07 | grep -q ">seven<" || fail "pubsub edit"
li pubsub delete -p pr -s pubsub.example.test -n big -i item-07 -f >/dev/null
[[ $(li pubsub get -p pr -s pubsub.example.test -n big -M 100 -O simple | wc -l) == 29 ]] || fail "delete"
li pubsub node purge -p pr -s pubsub.example.test -n big -f
[[ -z $(li pubsub get -p pr -s pubsub.example.test -n big -O simple) ]] || fail "purge"
li pubsub node delete -p pr -s pubsub.example.test -n big -f
set +e
li pubsub get -p pr -s pubsub.example.test -n big >/dev/null 2>&1
rc=$?
set -e
[[ $rc == 16 ]] || fail "deleted node: rc $rc"
pass "li pubsub: node affiliations set/get, node set/info, edit, delete, purge, node delete"
