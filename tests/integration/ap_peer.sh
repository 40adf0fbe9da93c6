#!/usr/bin/env bash
# Self-test of the ActivityPub federation harness (tests/lib/apnet.sh and the
# Fedify peer tests/interop/fedify/peer.mjs): two Fedify peers, alice@a.ap.test
# and bob@b.ap.test, behind a private nginx over HTTPS (local CA, 127.0.18.x
# names in /etc/hosts). bob follows alice (WebFinger over https), alice
# accepts; alice posts, updates and deletes a note: bob's inbox gets Create,
# Update (with a new activity id) and Delete; bob reads alice's outbox with
# Fedify's traverseCollection (paged); bob unfollows; a restarted peer keeps
# its keys and followers. Loopback only; skipped (77) only when node, npm,
# nginx or the peer's node_modules are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/common.sh
. "$here/../lib/common.sh"
# shellcheck source=tests/lib/apnet.sh
. "$here/../lib/apnet.sh"

if ! apnet_available; then
    echo "SKIP: node, npm, nginx or tests/interop/fedify/node_modules missing (run scripts/install-deps.sh)"
    exit 77
fi
((EUID == 0)) || fail "needs root (nginx on 127.0.18.x:443, /etc/hosts)"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"

t0=$SECONDS
dir=$(lv_tmpdir ap_peer)
apnet_start "$dir/net" a.ap.test=18080 b.ap.test=18081 || fail "apnet_start"
[[ $(apnet_ip a.ap.test) == 127.0.18.2 && $(apnet_ip b.ap.test) == 127.0.18.3 ]] ||
    fail "addresses: $(cat "$dir/net/names")"
grep -qx '127.0.18.2 a.ap.test' /etc/hosts || fail "no /etc/hosts line for a.ap.test"

# Outbox pages of 2 items, so that the lookup below walks several pages.
fedify_start "$dir/a" a.ap.test 18080 18090 --page-size 2 || fail "peer a did not start"
fedify_start "$dir/b" b.ap.test 18081 18091 --user bob || fail "peer b did not start"
A=(-d "$dir/a")
B=(-d "$dir/b")
alice=https://a.ap.test/users/alice
bob=https://b.ap.test/users/bob

diag() {
    log_tail "$dir/a/fedify.log" 40
    log_tail "$dir/b/fedify.log" 40
    log_tail "$dir/net/nginx/access.log" 30
    log_tail "$dir/net/nginx/error.log" 10
}
die() {
    diag
    fail "$@"
}

# --- HTTPS through nginx, with the test CA ---------------------------------------
wf=$(apnet_curl -sSf 'https://a.ap.test/.well-known/webfinger?resource=acct%3Aalice%40a.ap.test') ||
    die "webfinger over https"
[[ $(jq -r '.links[] | select(.rel == "self") | .href' <<<"$wf") == "$alice" ]] || die "webfinger: $wf"
actor=$(apnet_curl -sSf -H 'Accept: application/activity+json' "$alice") || die "actor over https"
[[ $(jq -r .id <<<"$actor") == "$alice" && $(jq -r .inbox <<<"$actor") == "$alice/inbox" ]] ||
    die "actor document: $actor"
jq -e '.publicKey.publicKeyPem | startswith("-----BEGIN PUBLIC KEY-----")' <<<"$actor" >/dev/null ||
    die "actor without publicKeyPem"
key1=$(jq -r .publicKey.publicKeyPem <<<"$actor")
curl -s -o /dev/null https://a.ap.test/ 2>/dev/null && die "https accepted without the test CA"
grep -q ' a.ap.test "GET /.well-known/webfinger' "$dir/net/nginx/access.log" || die "access log has no \$host"
pass "https://a.ap.test through nginx: WebFinger and actor, URLs built as https"

# --- follow -------------------------------------------------------------------------
r=$(fedify_ctl "${B[@]}" POST /follow '{"handle":"alice@a.ap.test"}') || die "follow: $r"
[[ $(jq -r .actor_id <<<"$r") == "$alice" ]] || die "follow answer: $r"
follow_id=$(jq -r .follow_id <<<"$r")
accepted() { fedify_ctl "${B[@]}" GET /following | jq -e --arg a "$alice" 'any(.[]; .actor_id == $a and .state == "accepted")' >/dev/null; }
wait_for accepted || die "b's follow of alice was not accepted: $(fedify_ctl "${B[@]}" GET /following)"
[[ $(fedify_ctl "${A[@]}" GET /followers | jq -c .) == "[\"$bob\"]" ]] || die "a's followers: $(fedify_ctl "${A[@]}" GET /followers)"
got=$(fedify_ctl "${A[@]}" GET /inbox?type=Follow | jq -r '.[0] | "\(.id) \(.actor) \(.object_id)"')
[[ $got == "$follow_id $bob $alice" ]] || die "a's inbox Follow: $got"
got=$(fedify_ctl "${B[@]}" GET /inbox?type=Accept | jq -r '.[0] | "\(.actor) \(.object_id) \(.object_type)"')
[[ $got == "$alice $follow_id Follow" ]] || die "b's inbox Accept (embedding the Follow): $got"
pass "bob@b.ap.test follows alice@a.ap.test (WebFinger over https), Accept received"

# --- create / update / delete ------------------------------------------------------
r=$(fedify_ctl "${A[@]}" POST /post '{"content":"<p>hello from a</p>","to":"public"}') || die "post: $r"
note=$(jq -r .note_id <<<"$r")
create_id=$(jq -r .activity_id <<<"$r")
[[ $note == "$alice/posts/"* ]] || die "note id: $note"
has() { # PEER-ARGS... TYPE ID: an inbox entry of TYPE with activity ID
    local type=${*: -2:1} id=${*: -1}
    fedify_ctl "${@:1:$#-2}" GET "/inbox?type=$type" | jq -e --arg id "$id" 'any(.[]; .id == $id)' >/dev/null
}
wait_for has "${B[@]}" Create "$create_id" || die "b did not get the Create"
got=$(fedify_ctl "${B[@]}" GET /inbox?type=Create | jq -r --arg id "$create_id" '.[] | select(.id == $id) | "\(.actor)|\(.object_id)|\(.object_type)|\(.content)|\(.to | join(","))|\(.signature)"')
[[ $got == "$alice|$note|Note|<p>hello from a</p>|https://www.w3.org/ns/activitystreams#Public|"* ]] ||
    die "b's Create entry: $got"
note_json=$(apnet_curl -sSf -H 'Accept: application/activity+json' "$note") || die "GET the note"
[[ $(jq -r .content <<<"$note_json") == "<p>hello from a</p>" ]] || die "note document: $note_json"
pass "alice posts: bob's inbox gets Create(Note) (signed: $(cut -d'|' -f6 <<<"$got"))"

r=$(fedify_ctl "${A[@]}" POST /update "{\"note_id\":\"$note\",\"content\":\"<p>hello again</p>\"}") || die "update: $r"
update_id=$(jq -r .activity_id <<<"$r")
[[ $update_id != "$create_id" && $update_id != "$note" ]] || die "Update reuses an id: $update_id"
wait_for has "${B[@]}" Update "$update_id" || die "b did not get the Update"
got=$(fedify_ctl "${B[@]}" GET /inbox?type=Update | jq -r '.[-1] | "\(.object_id)|\(.content)"')
[[ $got == "$note|<p>hello again</p>" ]] || die "b's Update entry: $got"
pass "alice updates: bob gets Update(Note) with a new activity id"

# A second and third post: the outbox then has 3 items, 2 per page.
for i in 2 3; do
    fedify_ctl "${A[@]}" POST /post "{\"content\":\"<p>post $i</p>\"}" >/dev/null || die "post $i"
done
r=$(fedify_ctl "${B[@]}" GET '/lookup?handle=alice@a.ap.test') || die "lookup: $r"
[[ $(jq -r '"\(.id) \(.inbox) \(.preferredUsername) \(.outbox_total)"' <<<"$r") == "$alice $alice/inbox alice 3" ]] ||
    die "lookup: $r"
[[ $(jq -r '[.items[].content] | join(",")' <<<"$r") == "<p>post 3</p>,<p>post 2</p>,<p>hello again</p>" ]] ||
    die "outbox items: $(jq -c .items <<<"$r")"
jq -e --arg n "$note" 'any(.items[]; .object_id == $n and .type == "Create" and .object_type == "Note")' <<<"$r" >/dev/null ||
    die "outbox has no Create of $note: $(jq -c .items <<<"$r")"
grep -q 'GET /users/alice/outbox?cursor=2 ' "$dir/net/nginx/access.log" || die "the second outbox page was not fetched"
r=$(fedify_ctl "${B[@]}" GET '/lookup?handle=alice@a.ap.test&limit=1') || die "lookup limit: $r"
[[ $(jq '.items | length' <<<"$r") == 1 ]] || die "lookup limit=1: $r"
pass "bob reads alice's outbox with traverseCollection (2 pages through nginx)"

r=$(fedify_ctl "${A[@]}" POST /delete "{\"note_id\":\"$note\"}") || die "delete: $r"
delete_id=$(jq -r .activity_id <<<"$r")
wait_for has "${B[@]}" Delete "$delete_id" || die "b did not get the Delete"
got=$(fedify_ctl "${B[@]}" GET /inbox?type=Delete | jq -r '.[-1] | "\(.object_id)|\(.object_type)"')
[[ $got == "$note|Tombstone" ]] || die "b's Delete entry: $got"
code=$(apnet_curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/activity+json' "$note")
[[ $code == 404 || $code == 410 ]] || die "deleted note still served ($code)"
pass "alice deletes: bob gets Delete(Tombstone), the note is gone"

# --- errors are reported ----------------------------------------------------------
if out=$(fedify_ctl "${B[@]}" POST /follow '{"handle":"nobody@a.ap.test"}' 2>/dev/null); then
    die "following an unknown handle succeeded: $out"
fi
[[ $(jq -r .error <<<"$out") == *"not found"* ]] || die "unknown handle error: $out"
if fedify_ctl "${A[@]}" GET /nope >/dev/null 2>&1; then die "unknown route answered 2xx"; fi
pass "control API: HTTP errors give a non-zero rc and a JSON error"

# --- restart keeps keys and followers; unfollow ----------------------------------
fedify_stop "$dir/a"
fedify_pid "$dir/a" >/dev/null && die "peer a still runs"
fedify_start "$dir/a" a.ap.test 18080 18090 --page-size 2 || die "peer a did not restart"
actor=$(apnet_curl -sSf -H 'Accept: application/activity+json' "$alice") || die "actor after restart"
[[ $(jq -r .publicKey.publicKeyPem <<<"$actor") == "$key1" ]] || die "the key changed across a restart"
[[ $(fedify_ctl "${A[@]}" GET /followers | jq -c .) == "[\"$bob\"]" ]] || die "followers lost across a restart"
r=$(fedify_ctl "${A[@]}" POST /post '{"content":"<p>after restart</p>","to":"followers"}') || die "post after restart: $r"
wait_for has "${B[@]}" Create "$(jq -r .activity_id <<<"$r")" || die "b did not get the post made after a's restart"
pass "a restarted peer keeps its key, its followers and still delivers"

r=$(fedify_ctl "${B[@]}" POST /unfollow '{"handle":"alice@a.ap.test"}') || die "unfollow: $r"
unfollowed() { [[ $(fedify_ctl "${A[@]}" GET /followers | jq length) == 0 ]]; }
wait_for unfollowed || die "a still has followers: $(fedify_ctl "${A[@]}" GET /followers)"
got=$(fedify_ctl "${A[@]}" GET /inbox?type=Undo | jq -r '.[-1] | "\(.actor)|\(.object_type)|\(.object_id)"')
[[ $got == "$bob|Follow|$follow_id" ]] || die "a's Undo entry: $got"
[[ $(fedify_ctl "${B[@]}" GET /following | jq length) == 0 ]] || die "b still follows"
pass "bob unfollows: Undo(Follow) embeds the Follow, alice drops the follower"

# A direct message (mention).
r=$(fedify_ctl "${A[@]}" POST /post '{"content":"<p>psst @bob</p>","mention":"bob@b.ap.test"}') || die "DM: $r"
dm_id=$(jq -r .activity_id <<<"$r")
wait_for has "${B[@]}" Create "$dm_id" || die "b did not get the DM"
got=$(fedify_ctl "${B[@]}" GET /inbox?type=Create | jq -r --arg id "$dm_id" '.[] | select(.id == $id) | "\(.to | join(","))|\(.cc | length)|\([.raw.object.tag] | flatten | .[0].type)"')
[[ $got == "$bob|0|Mention" ]] || die "DM entry: $got"
pass "a direct message reaches the mentioned actor only (to: [bob], Mention tag)"

apnet_stop "$dir/net"
grep -qF "# owner $dir/net " /etc/hosts && fail "/etc/hosts block not removed"
pass "ap_peer harness self-test in $((SECONDS - t0)) s"
