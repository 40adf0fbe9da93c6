#!/usr/bin/env bash
# lv_pubsub against real servers. tests/integration/pubsub_client.c runs the
# XEP-0060 use cases (create with config, publish with publish-options and
# without id, get by id and last N, retract with notify, configuration round
# trip, subscriptions, affiliations, owner lists, purge, delete, error
# mapping, and event notifications to a second client) on the PEP service and
# on pubsub.example.test of Prosody 0.12 and of ejabberd 23.01; RSM paging of
# 250 items on ejabberd; and, on Prosody (no RSM), that an RSM request still
# returns the items with rsm.present false.
# Prosody's component lets only admins create and publish: admin@example.test
# owns the nodes there; louise does everything on PEP and on ejabberd.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/prosody.sh"
. "$here/../lib/ejabberd.sh"

client=${LV_PUBSUB_CLIENT:-${LV_BUILD_DIR:-$(pwd)/build}/tests/pubsub_client}
[[ -x $client ]] || fail "no pubsub_client at $client (set LV_PUBSUB_CLIENT)"

dir=$(lv_tmpdir pubsub)
prosody_start "$dir/prosody" 5422 5447 || fail "prosody did not start"
cleanup_push prosody_stop "$dir/prosody"
# ejabberd uses the same CA as Prosody.
LV_CERTS_DIR=$dir/prosody/certs ejabberd_start "$dir/ejabberd" 5432 5457 ||
    fail "ejabberd did not start"
cleanup_push ejabberd_stop "$dir/ejabberd"

# run_client NAME MIN_PASSES ARGS...: runs the client, shows its lines, and
# fails unless it exited 0 with at least MIN_PASSES PASS lines and no FAIL.
run_client() {
    local name=$1 min=$2 rc=0 passes
    shift 2
    "$client" "$@" >"$dir/$name.out" 2>"$dir/$name.err" || rc=$?
    cat "$dir/$name.out"
    passes=$(grep -c '^PASS: ' "$dir/$name.out" || true)
    if ((rc != 0)) || grep -q '^FAIL: ' "$dir/$name.out" || ((passes < min)); then
        log_tail "$dir/$name.err"
        fail "$name: exit $rc, $passes PASS lines (at least $min expected)"
    fi
    pass "$name: $passes checks"
}

run_client prosody 60 --server prosody --port 5422 --ca "$dir/prosody/certs/ca.crt" \
    --admin admin@example.test --admin-pw admin-pw pep service norsm options-max
run_client ejabberd 65 --server ejabberd --port 5432 --ca "$dir/prosody/certs/ca.crt" \
    pep service rsm options-max
