#!/usr/bin/env bash
# The pubsub cache against real servers: a 2,000-item node synced from
# ejabberd with RSM pages, a node of Prosody's pubsub component (no RSM: one
# bounded answer), reads served from the cache, live updates (publish,
# retract, purge, delete), a sync interrupted by a crash resumes, searches
# (text, tag, date, author), categories, bad queries refused clearly.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/ejabberd.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/backend.sh"

dir=$(lv_tmpdir "cache${LV_CACHE_STORE:+_$LV_CACHE_STORE}")
# LV_CACHE_STORE=postgresql: the same test with the backend's storage (cache
# included) in a private PostgreSQL 15 instead of SQLite.
storage_conf=""
if [[ ${LV_CACHE_STORE:-} == postgresql ]]; then
    . "$here/../lib/postgres.sh"
    pg_start "$dir/pg" "${LV_PG_PORT:-55432}" || fail "postgresql did not start"
    cleanup_push pg_stop "$dir/pg"
    pg_createdb "$dir/pg" lvcache || fail "createdb"
    storage_conf="[storage]
uri = $(pg_uri "$dir/pg" lvcache)"
fi
ejabberd_start "$dir/ejabberd" 5432 5457 || fail "ejabberd did not start"
cleanup_push ejabberd_stop "$dir/ejabberd"
LV_PROSODY_ADMINS="louise@example.test" prosody_start "$dir/prosody" 5422 5447 ||
    fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"
LV_CONF_EXTRA="[cache]
page_size = 20
$storage_conf" lv_backend_setup "$dir/lv" "$dir/prosody/certs/ca.crt"
lv_client_profile ej louise@example.test louise-pw 5432
lvb param set ej Connection check_certificate false
lv_client_profile pr louise@example.test louise-pw 5422
lv_client_profile pierre pierre@example.test pierre-pw 5432
lvb param set pierre Connection check_certificate false
lv_backend_start
for p in ej pr pierre; do lv_wait_state $p online 15 || fail "$p not online"; done
export LIBERVIA_CONFIG="$dir/lv/lv.conf"
li() { "$LV_BUILD_DIR/li" "$@"; }
call() { $LV_PY "$here/../lib/bridge_call.py" "$dir/lv/data/bridge.sock" "$@"; }
node_field() { # PROFILE SERVICE NODE FIELD
    li pubsub cache get -p "$1" -s "$2" -n "$3" -O json | $LV_PY -c '
import json, sys
n = [n for n in json.load(sys.stdin)["nodes"] if n["node"] == sys.argv[1]]
print(n[0][sys.argv[2]] if n else "")' "$3" "$4"
}
expect_rc() {
    local want=$1
    shift
    set +e
    "$@" >"$dir/out" 2>"$dir/err"
    local rc=$?
    set -e
    [[ $rc == "$want" ]] || fail "$* exited $rc, want $want: $(cat "$dir/err")"
}

# 2,000 items on ejabberd, published by pierre (any user may create nodes there).
li pubsub node create -p pierre -s pubsub.example.test -n big -f max_items 10000 -f access_model open -f notify_delete 1 -f notify_retract 1 >/dev/null
for i in $(seq -w 1 2000); do echo "<n xmlns='urn:example:c'>entry number $i</n>"; done >"$dir/items"
$LV_PY - "$dir/lv/data/bridge.sock" "$dir/items" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
lines = [l.strip() for l in open(sys.argv[2]) if l.strip()]
for i, xml in enumerate(lines):   # pipelined: all requests, then all answers
    f.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": "psItemSend", "params": {
        "profile": "pierre", "service": "pubsub.example.test", "node": "big",
        "item_id": f"i{i + 1:04d}", "xml": xml}}) + "\n")
f.flush()
got = 0
while got < len(lines):
    m = json.loads(f.readline())
    if "id" in m:
        assert "result" in m, m
        got += 1
PY
pass "published 2,000 items on ejabberd"

# A sync interrupted by a crash resumes after the restart.
li pubsub cache sync -p ej -s pubsub.example.test -n big >/dev/null 2>&1 &
syncer=$!
LV_WAIT=20 wait_for bash -c "[[ \$(\"$LV_BUILD_DIR/li\" pubsub cache get -s pubsub.example.test -n big -O json |
    $LV_PY -c 'import json,sys; n=json.load(sys.stdin)[\"nodes\"]; print(n[0][\"items\"] if n else 0)') -ge 100 ]]" ||
    fail "sync did not start"
n=$(node_field ej pubsub.example.test big items)
pid=$(cat "$dir/lv/data/libervia-backend.pid")
kill -9 "$pid"
wait "$syncer" 2>/dev/null || true
rm -f "$dir/lv/data/libervia-backend.pid"
lvb bg >/dev/null
state=$(node_field ej pubsub.example.test big sync_state)
[[ $state == in_progress ]] || fail "state after crash: $state"
LV_WAIT=60 wait_for bash -c "[[ \$(\"$LV_BUILD_DIR/li\" pubsub cache get -s pubsub.example.test -n big -O json |
    $LV_PY -c 'import json,sys; print(json.load(sys.stdin)[\"nodes\"][0][\"sync_state\"])') == completed ]]" ||
    fail "sync did not resume: $(li pubsub cache get)"
[[ $(node_field ej pubsub.example.test big items) == 2000 ]] ||
    fail "items after resume: $(node_field ej pubsub.example.test big items)"
pass "sync killed at $n items resumed after restart and completed: 2,000 items"
for p in ej pr pierre; do lv_wait_state $p online 15 || fail "$p not online after restart"; done

# Reads are served from the cache (and -C / use_cache false bypasses it).
out=$(call psItemsGet '{"profile": "ej", "service": "pubsub.example.test", "node": "big", "max_items": 5}')
$LV_PY -c '
import json, sys
d = json.loads(sys.argv[1])
assert d.get("from_cache") is True, d
assert [i["id"] for i in d["items"]] == ["i1996", "i1997", "i1998", "i1999", "i2000"], d
' "$out" || fail "cached read: $out"
out=$(call psItemsGet '{"profile": "ej", "service": "pubsub.example.test", "node": "big", "max_items": 5, "use_cache": false}')
[[ $out != *from_cache* ]] || fail "use_cache false still cached"
[[ $(li pubsub get -p ej -s pubsub.example.test -n big -m 100 -M -1 -O simple | wc -l) == 2000 ]] ||
    fail "paging through the cache"
pass "reads from the cache (newest 5 in order), bypass with use_cache false, paging 2,000 through it"

# Live updates within a second.
echo "<n xmlns='urn:example:c'>a late arrival</n>" | li pubsub set -p pierre -s pubsub.example.test -n big -q late >/dev/null
LV_WAIT=1 wait_for bash -c "[[ \$(\"$LV_BUILD_DIR/li\" pubsub cache search -f late -O json | grep -c '\"late\"') -ge 1 ]]" ||
    fail "published item not in the cache within 1 s"
li pubsub delete -p pierre -s pubsub.example.test -n big -i late -f >/dev/null
LV_WAIT=1 wait_for bash -c "[[ \$(\"$LV_BUILD_DIR/li\" pubsub cache search -f late -O json) == '[]' ]]" ||
    fail "retracted item still cached"
pass "live publish and retract reach the cache within 1 s"

# Prosody's pubsub component has no RSM: one answer.
li pubsub node create -p pr -s pubsub.example.test -n flat -f max_items 1000 >/dev/null
for i in $(seq 1 300); do echo "<n xmlns='urn:example:c'>flat $i</n>" | li pubsub set -p pr -s pubsub.example.test -n flat -q "f$i" >/dev/null; done
li pubsub cache sync -p pr -s pubsub.example.test -n flat >/dev/null
[[ $(node_field pr pubsub.example.test flat items) == 300 ]] || fail "prosody node: $(node_field pr pubsub.example.test flat items)"
pass "Prosody (no RSM): 300 items synced in one answer"

# Blog posts: search by text, tag, date, author; categories; li blog get --tag.
for t in "Café à Paris:voyage" "Rust et C:code" "Un voyage en train:voyage" "Notes:divers"; do
    echo "Contenu de ${t%%:*}" | li blog set -p pr -T "${t%%:*}" -t "${t##*:}" -t blog >/dev/null
done
li blog get -p pr >/dev/null # first read: analysed and synced in the background
LV_WAIT=5 wait_for bash -c "[[ \$(\"$LV_BUILD_DIR/li\" pubsub cache get -p pr -n urn:xmpp:microblog:0 -O json | grep -c completed) -ge 1 ]]" ||
    fail "blog not synced"
[[ $(li pubsub cache search -f cafe -t blog -k title | head -1) == "title: Café à Paris" ]] ||
    fail "fts: $(li pubsub cache search -f cafe -t blog)"
[[ $(li blog get -p pr --tag VOYAGE -O simple | wc -l) == 2 ]] || fail "--tag: $(li blog get -p pr --tag voyage -O simple)"
n=$(li pubsub cache search -t blog -F author_jid == '"louise@example.test"' -O json | $LV_PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
[[ $n == 4 ]] || fail "author filter: $n"
now=$(date +%s)
n=$(li pubsub cache search -t blog -F published between "[$((now - 3600)), $((now + 60))]" -O json | $LV_PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
[[ $n == 4 ]] || fail "date range: $n"
li pubsub cache categories -p pr -n urn:xmpp:microblog:0 | head -1 | grep -q "4  blog" || fail "categories: $(li pubsub cache categories)"
pass "search: full text (accents ignored), tag (case ignored), author, date range; categories"

# A raw (non-XEP-0277) item is searchable by its text.
[[ $(li pubsub cache search -f 'entry number 0042' -O json | grep -c '"i0042"') == 1 ]] || fail "raw item search"
pass "raw items are found by their text"

expect_rc 17 li pubsub cache search -f '"unbalanced'
grep -q "full-text query" "$dir/err" && ! grep -qi "sqlite\|fts5" "$dir/err" || fail "fts error: $(cat "$dir/err")"
expect_rc 17 li pubsub cache search -F tags nearly '["x"]'
grep -q "nearly" "$dir/err" || fail "operator error: $(cat "$dir/err")"
pass "bad queries refused with clear messages ($(head -c 80 "$dir/err"))"

# Purge and delete notifications.
li pubsub node purge -p pierre -s pubsub.example.test -n big -f
LV_WAIT=2 wait_for bash -c "[[ \$(\"$LV_BUILD_DIR/li\" pubsub cache get -s pubsub.example.test -n big -O json |
    $LV_PY -c 'import json,sys; print(json.load(sys.stdin)[\"nodes\"][0][\"items\"])') == 0 ]]" || fail "purge not applied"
li pubsub node delete -p pierre -s pubsub.example.test -n big -f
LV_WAIT=2 wait_for bash -c "[[ -z \$(\"$LV_BUILD_DIR/li\" pubsub cache get -s pubsub.example.test -n big -O json |
    $LV_PY -c 'import json,sys; n=json.load(sys.stdin)[\"nodes\"]; print(n[0][\"node\"] if n else \"\")') ]]" || fail "delete not applied"
pass "purge and delete notifications applied"

n=$(li pubsub cache purge -t blog -f)
[[ $n == "4 item(s) purged" ]] || fail "purge by type: $n"
li pubsub cache reset -f
[[ $(li pubsub cache get -O json | $LV_PY -c 'import json,sys; print(len(json.load(sys.stdin)["nodes"]))') == 0 ]] || fail "reset"
pass "purge by type and reset"

# The bound ([cache] max_items): a node bigger than the whole cache syncs, the
# cache keeps its newest items only, the node is shown as trimmed, and reads
# that need the dropped items go to the server.
lvb stop >/dev/null
sed -i 's/^page_size = 20$/page_size = 20\nmax_items = 150/' "$dir/lv/lv.conf"
grep -q "^max_items = 150" "$dir/lv/lv.conf" || fail "max_items not set in lv.conf"
lvb bg >/dev/null
for p in ej pierre; do lv_wait_state $p online 15 || fail "$p not online after restart"; done
li pubsub node create -p pierre -s pubsub.example.test -n bounded -f max_items 1000 -f access_model open >/dev/null
$LV_PY - "$dir/lv/data/bridge.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
for i in range(1, 401):   # pipelined, in order: b001 is the oldest
    f.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": "psItemSend", "params": {
        "profile": "pierre", "service": "pubsub.example.test", "node": "bounded",
        "item_id": f"b{i:03d}", "xml": f"<n xmlns='urn:example:c'>bounded {i:03d}</n>"}}) + "\n")
f.flush()
got = 0
while got < 400:
    m = json.loads(f.readline())
    if "id" in m:
        assert "result" in m, m
        got += 1
PY
li pubsub cache sync -p ej -s pubsub.example.test -n bounded >/dev/null
total() { li pubsub cache get -O json | $LV_PY -c 'import json,sys; print(json.load(sys.stdin)["stats"]["items"])'; }
LV_WAIT=10 wait_for bash -c "[[ \$(\"$LV_BUILD_DIR/li\" pubsub cache get -O json |
    $LV_PY -c 'import json,sys; print(json.load(sys.stdin)[\"stats\"][\"items\"])') -le 150 ]]" ||
    fail "cache not trimmed to 150 items: $(total)"
[[ $(total) == 150 ]] || fail "cache holds $(total) items, want 150"
[[ $(node_field ej pubsub.example.test bounded sync_state) == completed ]] ||
    fail "trimmed node state: $(node_field ej pubsub.example.test bounded sync_state)"
[[ $(node_field ej pubsub.example.test bounded items) == 150 ]] || fail "node items"
[[ $(node_field ej pubsub.example.test bounded trimmed) == 250 ]] ||
    fail "trimmed count: $(node_field ej pubsub.example.test bounded trimmed)"
li pubsub cache get -p ej -s pubsub.example.test -n bounded | grep -q "trimmed: 250 older item(s)" ||
    fail "li pubsub cache get does not show the trim: $(li pubsub cache get -p ej -n bounded)"
[[ $(li pubsub cache search -f '"bounded 001"' -O json) == '[]' ]] || fail "oldest item still cached"
[[ $(li pubsub cache search -f '"bounded 400"' -O json | grep -c '"b400"') == 1 ]] ||
    fail "newest item not cached"
pass "max_items 150: a 400-item node synced, the cache keeps its 150 newest, shown as trimmed"

items_get() { # JSON params (profile ej, node bounded) -> "from_cache? id,id,..."
    call psItemsGet "{\"profile\": \"ej\", \"service\": \"pubsub.example.test\", \"node\": \"bounded\", $1}" |
        $LV_PY -c '
import json, sys
d = json.load(sys.stdin)
print("cache" if d.get("from_cache") else "server", ",".join(i["id"] for i in d["items"]))'
}
out=$(items_get '"max_items": 3')
[[ $out == "cache b398,b399,b400" ]] || fail "newest items: $out"
out=$(items_get '"rsm": {"max": 5, "before": "b300"}')
[[ $out == "cache b295,b296,b297,b298,b299" ]] || fail "page within the cached part: $out"
# Paging backwards past the oldest cached item (b251): the service answers.
# (ejabberd's RSM cursors are timestamps, not item ids: it reads this one as no
# cursor, so only where the answer comes from is checked; see doc/DESIGN.md.)
out=$(items_get '"rsm": {"max": 5, "before": "b253"}')
[[ $out == server* ]] || fail "page past the end of what is cached: $out"
out=$(items_get '"rsm": {"max": 5, "index": 0}')
[[ $out == "server b001,b002,b003,b004,b005" ]] || fail "page from the oldest item: $out"
out=$(items_get '"item_ids": ["b010"]')
[[ $out == "server b010" ]] || fail "trimmed item: $out"
[[ $(li pubsub get -p ej -s pubsub.example.test -n bounded -m 100 -M -1 -O simple | wc -l) == 400 ]] ||
    fail "paging through a trimmed node"
pass "trimmed node: newest pages from the cache, RSM paging past what is cached and trimmed items from the server"

# A live item at the bound takes the place of the oldest cached one.
echo "<n xmlns='urn:example:c'>bounded 401</n>" | li pubsub set -p pierre -s pubsub.example.test -n bounded -q b401 >/dev/null
LV_WAIT=2 wait_for bash -c "[[ \$(\"$LV_BUILD_DIR/li\" pubsub cache search -f '\"bounded 401\"' -O json | grep -c b401) == 1 ]]" ||
    fail "live item not cached"
LV_WAIT=2 wait_for bash -c "[[ \$(\"$LV_BUILD_DIR/li\" pubsub cache search -f '\"bounded 251\"' -O json) == '[]' ]]" ||
    fail "oldest item not trimmed after a live publish"
[[ $(total) == 150 ]] || fail "cache holds $(total) items after a live item"
pass "a live item at the bound: the oldest cached item makes room (150 items)"
