#!/usr/bin/env bash
# The store's unit tests (tests/unit/test_store.c and, for the pubsub cache
# and the ActivityPub tables, tests/unit/test_cache_store.c and
# tests/unit/test_store_ap.c) against a private PostgreSQL 15: the same
# test functions that run on SQLite, with LV_TEST_STORE_URI pointing at an
# empty database. Also checks what only a
# real server shows: the daemon's profile commands on a PostgreSQL store, the
# tables and types the migration made, and a clear error (without the
# password) once the server is gone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postgres.sh"
. "$here/../lib/backend.sh"

: "${LV_BUILD_DIR:?set LV_BUILD_DIR to the build directory}"
test_store=$LV_BUILD_DIR/tests/test_store
[[ -x $test_store ]] || fail "no $test_store: build first"
test_cache_store=$LV_BUILD_DIR/tests/test_cache_store
[[ -x $test_cache_store ]] || fail "no $test_cache_store: build first"
test_store_ap=$LV_BUILD_DIR/tests/test_store_ap
[[ -x $test_store_ap ]] || fail "no $test_store_ap: build first"
if ! pg_available; then
    echo "SKIP: no private PostgreSQL 15 here"
    exit 77
fi

dir=$(lv_tmpdir store_postgres)
port=${LV_PG_PORT:-55432}
cleanup_push pg_stop "$dir/pg"
pg_start "$dir/pg" "$port" || fail "PostgreSQL did not start"
pass "private PostgreSQL 15 on 127.0.0.1:$port: initdb ${PG_INITDB_MS} ms, start to ready ${PG_START_MS} ms"

# An ICU collation, as a production database may have, where "Bob" sorts
# after "alice": the byte-order test then shows whether the store orders by
# bytes itself.
pg_createdb "$dir/pg" lvtest --template=template0 --locale-provider=icu --icu-locale=en-US ||
    fail "createdb lvtest"
uri=$(pg_uri "$dir/pg" lvtest)

# Each test empties the schema first, so the database is reused throughout.
if ! LV_TEST_STORE_URI=$uri CMOCKA_MESSAGE_OUTPUT=stdout "$test_store" >"$dir/test_store.out" 2>&1; then
    cat "$dir/test_store.out" >&2
    log_tail "$dir/pg/postgres.log"
    fail "test_store against $uri"
fi
ran=$(sed -n 's/^\[==========\] \([0-9]*\) test(s) run\.$/\1/p' "$dir/test_store.out")
skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed below:$/\1/p' "$dir/test_store.out")
# Only the three SQLite file tests (mode 0600, WAL, "sqlite:" prefix) may be
# skipped: any other skip means a test silently stopped covering PostgreSQL.
[[ $skipped == 3 ]] || {
    cat "$dir/test_store.out" >&2
    fail "expected 3 SQLite-only tests skipped, got $skipped"
}
pass "test_store on PostgreSQL: $ran tests, $((ran - skipped)) passed, $skipped SQLite-only skipped"

# The pubsub cache: every test runs on PostgreSQL too (none is SQLite-only).
if ! LV_TEST_STORE_URI=$uri CMOCKA_MESSAGE_OUTPUT=stdout "$test_cache_store" \
    >"$dir/test_cache_store.out" 2>&1; then
    cat "$dir/test_cache_store.out" >&2
    log_tail "$dir/pg/postgres.log"
    fail "test_cache_store against $uri"
fi
ran=$(sed -n 's/^\[==========\] \([0-9]*\) test(s) run\.$/\1/p' "$dir/test_cache_store.out")
! grep -q "SKIPPED" "$dir/test_cache_store.out" || {
    cat "$dir/test_cache_store.out" >&2
    fail "test_cache_store skipped tests on PostgreSQL"
}
pass "test_cache_store on PostgreSQL: $ran tests passed"

# The ActivityPub tables: every test runs on PostgreSQL too.
if ! LV_TEST_STORE_URI=$uri CMOCKA_MESSAGE_OUTPUT=stdout "$test_store_ap" \
    >"$dir/test_store_ap.out" 2>&1; then
    cat "$dir/test_store_ap.out" >&2
    log_tail "$dir/pg/postgres.log"
    fail "test_store_ap against $uri"
fi
ran=$(sed -n 's/^\[==========\] \([0-9]*\) test(s) run\.$/\1/p' "$dir/test_store_ap.out")
! grep -q "SKIPPED" "$dir/test_store_ap.out" || {
    cat "$dir/test_store_ap.out" >&2
    fail "test_store_ap skipped tests on PostgreSQL"
}
pass "test_store_ap on PostgreSQL: $ran tests passed"

# The daemon's admin commands on a PostgreSQL store, from an empty schema:
# what a user of `[storage] uri = postgresql://...` sees. The URI carries a
# password (trust authentication ignores it) that no message may show.
pg_psql "$dir/pg" lvtest -c "SET client_min_messages = warning" \
    -c "DROP SCHEMA public CASCADE" -c "CREATE SCHEMA public" || fail "emptying lvtest"
secret_uri=postgresql://postgres:pw-secret-9@127.0.0.1:$port/lvtest
LV_CONF_EXTRA=$'[storage]\nuri = '$secret_uri lv_backend_setup "$dir/lv"
lvb profile create louise -j louise@example.test -x louise-pw >/dev/null || fail "profile create"
lvb profile create gw -j gw.example.test -x gw-secret -C ap-gateway >/dev/null || fail "create gw"
set +e
lvb profile create louise -j louise@example.test -x x >/dev/null 2>"$dir/err"
rc=$?
set -e
[[ $rc == 19 ]] || fail "duplicate profile: exit $rc, want 19: $(cat "$dir/err")"
[[ $(lvb param get louise Connection JabberID) == louise@example.test ]] || fail "param get"
rows=$(pg_psql "$dir/pg" lvtest -At -c "SELECT string_agg(name || ':' || coalesce(component, '-'),
    ' ' ORDER BY name) FROM profiles") || fail "psql"
[[ $rows == "gw:ap-gateway louise:-" ]] || fail "profiles in PostgreSQL: $rows"
[[ ! -e $dir/lv/data/libervia.db ]] || fail "a SQLite file was created beside the PostgreSQL store"
pass "libervia-backend profile create/param get on PostgreSQL (duplicate: exit 19)"

types=$(pg_psql "$dir/pg" lvtest -At -c "SELECT table_name || '.' || column_name || ':' || data_type
    FROM information_schema.columns WHERE table_schema = 'public'
    AND (table_name, column_name) IN (('profiles', 'id'), ('param_ind', 'profile_id'),
        ('settings', 'default_profile_id'), ('schema_version', 'applied_at'))
    ORDER BY 1") || fail "psql"
want="param_ind.profile_id:bigint
profiles.id:bigint
schema_version.applied_at:bigint
settings.default_profile_id:bigint"
[[ $types == "$want" ]] || fail "column types: $types"
rules=$(pg_psql "$dir/pg" lvtest -At -c "SELECT conrelid::regclass::text || ':' || confdeltype::text
    FROM pg_constraint WHERE contype = 'f' ORDER BY conrelid::regclass::text COLLATE \"C\"") || fail "psql"
want=$'param_ind:c\nprivate_ind:c\npubsub_item_tags:c\npubsub_items:c\npubsub_nodes:c\nsettings:n'
[[ $rules == "$want" ]] || fail "foreign keys: $rules"
pass "schema: BIGINT ids, ON DELETE CASCADE for params/privates/cache, SET NULL for the default"

types=$(pg_psql "$dir/pg" lvtest -At -c "SELECT table_name || '.' || column_name || ':' || data_type
    FROM information_schema.columns WHERE table_schema = 'public'
    AND (table_name, column_name) IN (('pubsub_items', 'id'), ('pubsub_items', 'created'),
        ('pubsub_items', 'parsed'), ('pubsub_items', 'tsv'), ('pubsub_nodes', 'subscribed'))
    ORDER BY table_name::text COLLATE \"C\", column_name::text COLLATE \"C\"") || fail "psql"
want="pubsub_items.created:double precision
pubsub_items.id:bigint
pubsub_items.parsed:jsonb
pubsub_items.tsv:tsvector
pubsub_nodes.subscribed:boolean"
[[ $types == "$want" ]] || fail "cache column types: $types"
accents=$(pg_psql "$dir/pg" lvtest -At -c "SELECT to_tsvector('simple', lv_unaccent('Café'))
    @@ to_tsquery('simple', lv_unaccent('cafe'))") || fail "psql"
[[ $accents == t ]] || fail "lv_unaccent does not remove accents (no unaccent extension?)"
pass "cache schema: jsonb, tsvector, DOUBLE PRECISION times; unaccent in use"

# A server that goes away: the next command says where and why, at once,
# without the password.
pg_stop "$dir/pg"
set +e
lvb profile list >/dev/null 2>"$dir/err"
rc=$?
set -e
[[ $rc != 0 ]] || fail "profile list worked without a server"
grep -qF "cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:$port/lvtest: " \
    "$dir/err" || fail "no clear message without a server: $(cat "$dir/err")"
! grep -rq "pw-secret" "$dir/err" "$dir/lv/data" || fail "the password shows: $(cat "$dir/err")"
pass "server stopped: $(head -n 1 "$dir/err")"
