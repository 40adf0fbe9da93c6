/* Unit tests of the ActivityPub gateway's tables (lv_store_ap): the
 * migration from a version 2 database, actors, follows both ways, the inbox
 * (duplicates, states, order, prune), the delivery queue (due order, retry,
 * give up, batches all or nothing), published objects, argument checks and
 * limits, and SQLite's kept statements across schema changes.
 *
 * The same tests run over both backends: SQLite by default, PostgreSQL when
 * LV_TEST_STORE_URI names a database (tests/integration/store_postgres.sh
 * sets it), as in test_cache_store.c: on PostgreSQL every test starts from
 * an empty schema. Raw sqlite3/libpq calls look behind the interface where
 * it cannot show what matters (rows left behind, a kept creation time). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/lv_migration.h"
#include "store/lv_store.h"
#include "store/lv_store_ap.h"
#include "store/lv_store_backend.h"
#include "store/postgres/lv_store_postgres.h"

/* The PostgreSQL database under test, or NULL for SQLite. */
static const char *pg_uri;

/* ---- fixture --------------------------------------------------------------- */

struct fx {
    char dir[256];
    char path[300];
    struct lv_store *st;
};

static void remove_db(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char p[320];
    for (size_t i = 0; i < LV_ARRAY_LEN(suffixes); i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

static PGconn *pg_connect(void)
{
    PGconn *c = PQconnectdb(pg_uri);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", pg_uri, PQerrorMessage(c));
    return c;
}

/* Runs sql (no result wanted) on the database behind the store. */
static void raw_exec(const char *path, const char *sql)
{
    if (pg_uri) {
        PGconn *c = pg_connect();
        PGresult *res = PQexec(c, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
            fail_msg("%s: %s", sql, PQresultErrorMessage(res));
        PQclear(res);
        PQfinish(c);
        return;
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* Column 0 of the one row of sql, as an integer. */
static int64_t raw_int(const char *path, const char *sql)
{
    if (pg_uri) {
        PGconn *c = pg_connect();
        PGresult *res = PQexec(c, sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
            fail_msg("%s: %s", sql, PQresultErrorMessage(res));
        int64_t v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        PQfinish(c);
        return v;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Empties the PostgreSQL database: what a new SQLite file is to SQLite. */
static void pg_reset(void)
{
    raw_exec(NULL, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
                   "CREATE SCHEMA public");
}

static int setup(void **state)
{
    struct fx *f = lv_xcalloc(1, sizeof(*f));
    const char *base = getenv("TMPDIR");
    if (pg_uri) {
        pg_reset();
        snprintf(f->path, sizeof(f->path), "%s", pg_uri);
    } else {
        snprintf(f->dir, sizeof(f->dir), "%s/lv_store_ap_XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(f->dir))
            return -1;
        snprintf(f->path, sizeof(f->path), "%s/libervia.db", f->dir);
    }
    struct lv_error err = {0};
    if (lv_store_open(f->path, &f->st, &err) != 0) {
        print_error("open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    lv_store_close(f->st);
    if (!pg_uri) {
        remove_db(f->path);
        rmdir(f->dir);
    }
    free(f);
    return 0;
}

/* ---- helpers --------------------------------------------------------------- */

/* Asserts that call, which takes &e_ as its error, succeeds. */
#define OK(call)                                                                                   \
    do {                                                                                           \
        struct lv_error e_ = {0};                                                                  \
        if ((call) != 0)                                                                           \
            fail_msg("%s: %s", #call, e_.msg);                                                     \
    } while (0)

/* Asserts success of a call that filled err. */
static void expect_ok(int rc, const struct lv_error *err)
{
    if (rc != 0)
        fail_msg("unexpected failure %d: %s", rc, err->msg);
}

static int64_t inbox_add(struct lv_store *st, const char *activity_id, int64_t received)
{
    struct lv_error err = {0};
    int64_t id = 0;
    char body[128];
    snprintf(body, sizeof(body), "{\"id\": \"%s\"}", activity_id);
    expect_ok(lv_store_ap_inbox_add(st, activity_id, "https://remote.example/u/bob", NULL, body,
                                    strlen(body), received, &id, &err),
              &err);
    assert_true(id > 0);
    return id;
}

static int64_t delivery_add(struct lv_store *st, const char *activity_id, int64_t now)
{
    struct lv_error err = {0};
    int64_t id = 0;
    expect_ok(lv_store_ap_delivery_add(st, "https://remote.example/inbox", "louise@example.org",
                                       "https://gw.example.org/_ap/actor/louise#main-key",
                                       activity_id, "{\"type\": \"Create\"}", now, &id, &err),
              &err);
    assert_true(id > 0);
    return id;
}

static void free_follows(struct lv_ap_follow_rec *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lv_ap_follow_rec_release(&v[i]);
    free(v);
}

static void free_inbox(struct lv_ap_inbox_rec *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lv_ap_inbox_rec_release(&v[i]);
    free(v);
}

static void free_deliveries(struct lv_ap_delivery_rec *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lv_ap_delivery_rec_release(&v[i]);
    free(v);
}

/* A string of len bytes of c, NUL-terminated; caller frees. */
static char *filled(size_t len, char c)
{
    char *s = lv_xmalloc(len + 1);
    memset(s, c, len);
    s[len] = '\0';
    return s;
}

/* ---- migration ------------------------------------------------------------- */

static int last_version(void)
{
    if (pg_uri)
        return lv_postgres_migrations[lv_postgres_migrations_count - 1].version;
    return lv_sqlite_migrations[lv_sqlite_migrations_count - 1].version;
}

/* A database at version 2 (profiles, pubsub cache) with data, as the build
 * before the gateway left it, gets the AP tables and keeps its data. */
static void test_migration_from_v2(void **state)
{
    struct fx *f = *state;
    lv_store_close(f->st);
    f->st = NULL;
    void *be = NULL;
    if (pg_uri) {
        pg_reset();
        assert_int_equal(lv_store_postgres_open_with(f->path, lv_postgres_migrations, 2, &be, NULL),
                         0);
        lv_store_postgres_backend.close(be);
    } else {
        remove_db(f->path);
        assert_int_equal(lv_store_sqlite_open_with(f->path, lv_sqlite_migrations, 2, &be, NULL), 0);
        lv_store_sqlite_backend.close(be);
    }
    raw_exec(f->path, "INSERT INTO profiles (name, component, created) "
                      "VALUES ('gw', 'ap-gateway', 0)");
    assert_int_equal(raw_int(f->path, "SELECT max(version) FROM schema_version"), 2);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_version"), 2);

    assert_int_equal(lv_store_open(f->path, &f->st, NULL), 0);
    int v = 0;
    assert_int_equal(lv_store_schema_version(f->st, &v), 0);
    assert_int_equal(v, last_version());
    assert_true(v >= 3);
    struct lv_profile_rec p;
    assert_int_equal(lv_store_profile_get(f->st, "gw", &p, NULL), 0);
    assert_string_equal(p.component, "ap-gateway");
    lv_profile_rec_release(&p);

    int64_t n = -1;
    inbox_add(f->st, "https://remote.example/a/1", 10);
    assert_int_equal(lv_store_ap_inbox_count(f->st, 0, &n, NULL), 0);
    assert_int_equal(n, 1);
    const char *tables =
        pg_uri ? "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN "
                 "('ap_actors', 'ap_follows', 'ap_inbox', 'ap_deliveries', 'ap_objects')"
               : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                 "('ap_actors', 'ap_follows', 'ap_inbox', 'ap_deliveries', 'ap_objects')";
    assert_int_equal(raw_int(f->path, tables), 5);
}

/* Every lookup of the interface has its index. */
static void test_indexes(void **state)
{
    struct fx *f = *state;
    const char *sql =
        pg_uri ? "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname IN "
                 "('ap_actors_account', 'ap_actors_key_id', 'ap_follows_activity', "
                 "'ap_follows_remote', 'ap_inbox_state', 'ap_inbox_processed', "
                 "'ap_deliveries_due')"
               : "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                 "('ap_actors_account', 'ap_actors_key_id', 'ap_follows_activity', "
                 "'ap_follows_remote', 'ap_inbox_state', 'ap_inbox_processed', "
                 "'ap_deliveries_due')";
    assert_int_equal(raw_int(f->path, sql), 7);
    /* The unique constraints: actor id, follow key, inbox activity id,
     * object key (and, on PostgreSQL, the three id primary keys). */
    sql = pg_uri ? "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexdef "
                   "LIKE 'CREATE UNIQUE INDEX%' AND tablename IN ('ap_follows', 'ap_inbox', "
                   "'ap_objects', 'ap_actors')"
                 : "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE "
                   "'sqlite_autoindex_ap_%'";
    assert_int_equal(raw_int(f->path, sql), pg_uri ? 6 : 4);
    if (pg_uri)
        return;
    /* SQLite's plan for the due deliveries: the index, no sort. */
    sqlite3 *db = NULL;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "EXPLAIN QUERY PLAN SELECT id FROM ap_deliveries WHERE "
                                        "state = 1 AND next_attempt <= 5 ORDER BY next_attempt, "
                                        "id LIMIT 10",
                                        -1, &st, NULL),
                     SQLITE_OK);
    bool use_index = false, sort = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        use_index |= strstr(detail, "ap_deliveries_due") != NULL;
        sort |= strstr(detail, "TEMP B-TREE") != NULL;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_true(use_index);
    assert_false(sort);
}

/* ---- actors ---------------------------------------------------------------- */

static void test_actor_put_get(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    /* Verbatim: quotes, UTF-8, percent-escapes, case are kept as given. */
    struct lv_ap_actor_rec a = {
        .id = "https://Remote.example/users/b%C3%A9a'; DROP TABLE ap_actors; --",
        .account = "béa@remote.example",
        .inbox = "https://remote.example/users/bea/inbox",
        .shared_inbox = "https://remote.example/inbox",
        .key_id = "https://remote.example/users/bea#main-key",
        .public_key_pem = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
        .doc = "{\"type\": \"Person\", \"name\": \"Béa \\\"B\\\"\"}",
        .fetched = 1700000000,
    };
    struct lv_ap_actor_rec out;
    int64_t n = -1;
    expect_ok(lv_store_ap_actor_put(f->st, &a, &err), &err);
    assert_int_equal(lv_store_ap_actor_count(f->st, &n, NULL), 0);
    assert_int_equal(n, 1);

    for (int by = 0; by < 3; by++) {
        int rc = by == 0   ? lv_store_ap_actor_get(f->st, a.id, &out, &err)
                 : by == 1 ? lv_store_ap_actor_by_account(f->st, a.account, &out, &err)
                           : lv_store_ap_actor_by_key(f->st, a.key_id, &out, &err);
        expect_ok(rc, &err);
        assert_string_equal(out.id, a.id);
        assert_string_equal(out.account, a.account);
        assert_string_equal(out.inbox, a.inbox);
        assert_string_equal(out.shared_inbox, a.shared_inbox);
        assert_string_equal(out.key_id, a.key_id);
        assert_string_equal(out.public_key_pem, a.public_key_pem);
        assert_string_equal(out.doc, a.doc);
        assert_int_equal(out.fetched, a.fetched);
        lv_ap_actor_rec_release(&out);
        assert_null(out.id);
    }
    /* Byte-wise: another case is another actor. */
    assert_int_equal(lv_store_ap_actor_get(f->st,
                                           "https://remote.example/users/b%C3%A9a'; DROP "
                                           "TABLE ap_actors; --",
                                           &out, &err),
                     LV_ERR_NOT_FOUND);
    assert_null(out.id);
    assert_non_null(strstr(err.msg, "no stored actor"));
    assert_int_equal(lv_store_ap_actor_by_account(f->st, "BÉA@remote.example", &out, NULL),
                     LV_ERR_NOT_FOUND);

    /* A put replaces every column, NULLs included. */
    struct lv_ap_actor_rec b = {.id = a.id,
                                .inbox = "https://remote.example/u/bea/inbox2",
                                .doc = "{}",
                                .fetched = 1700000100};
    expect_ok(lv_store_ap_actor_put(f->st, &b, &err), &err);
    expect_ok(lv_store_ap_actor_get(f->st, a.id, &out, &err), &err);
    assert_string_equal(out.inbox, b.inbox);
    assert_null(out.account);
    assert_null(out.shared_inbox);
    assert_null(out.key_id);
    assert_null(out.public_key_pem);
    assert_string_equal(out.doc, "{}");
    assert_int_equal(out.fetched, 1700000100);
    lv_ap_actor_rec_release(&out);
    assert_int_equal(lv_store_ap_actor_by_account(f->st, a.account, &out, NULL), LV_ERR_NOT_FOUND);
    assert_int_equal(lv_store_ap_actor_by_key(f->st, a.key_id, &out, NULL), LV_ERR_NOT_FOUND);
    assert_int_equal(lv_store_ap_actor_count(f->st, &n, NULL), 0);
    assert_int_equal(n, 1);
}

/* Several actors claiming one account (a moved account, refetched): the
 * most recently fetched wins, whatever the order of the puts. */
static void test_actor_by_account_latest(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *id;
        int64_t fetched;
    } actors[] = {{"https://a.example/u/1", 200},
                  {"https://b.example/u/1", 300},
                  {"https://c.example/u/1", 100}};
    for (size_t i = 0; i < LV_ARRAY_LEN(actors); i++) {
        struct lv_ap_actor_rec a = {.id = (char *)actors[i].id,
                                    .account = "moved@example.org",
                                    .inbox = "https://x.example/inbox",
                                    .key_id = "https://x.example/key",
                                    .doc = "{}",
                                    .fetched = actors[i].fetched};
        OK(lv_store_ap_actor_put(f->st, &a, &e_));
    }
    struct lv_ap_actor_rec out;
    assert_int_equal(lv_store_ap_actor_by_account(f->st, "moved@example.org", &out, NULL), 0);
    assert_string_equal(out.id, "https://b.example/u/1");
    lv_ap_actor_rec_release(&out);
    assert_int_equal(lv_store_ap_actor_by_key(f->st, "https://x.example/key", &out, NULL), 0);
    assert_string_equal(out.id, "https://b.example/u/1");
    lv_ap_actor_rec_release(&out);
    int64_t n = 0;
    assert_int_equal(lv_store_ap_actor_count(f->st, &n, NULL), 0);
    assert_int_equal(n, 3);
}

static void test_actor_checks(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    struct lv_ap_actor_rec ok = {
        .id = "https://r.example/u", .inbox = "https://r.example/i", .doc = "{}"};
    struct lv_ap_actor_rec bad;
    struct lv_ap_actor_rec out;
    assert_int_equal(lv_store_ap_actor_put(f->st, NULL, &err), LV_ERR_INVAL);
    bad = ok;
    bad.id = NULL;
    assert_int_equal(lv_store_ap_actor_put(f->st, &bad, &err), LV_ERR_INVAL);
    assert_string_equal(err.msg, "empty actor id");
    bad = ok;
    bad.inbox = "";
    assert_int_equal(lv_store_ap_actor_put(f->st, &bad, &err), LV_ERR_INVAL);
    bad = ok;
    bad.doc = NULL;
    assert_int_equal(lv_store_ap_actor_put(f->st, &bad, &err), LV_ERR_INVAL);
    bad = ok;
    bad.doc = filled(LV_STORE_AP_DOC_MAX + 1, ' ');
    assert_int_equal(lv_store_ap_actor_put(f->st, &bad, &err), LV_ERR_LIMIT);
    free(bad.doc);
    /* Keys past what PostgreSQL can index are refused alike on both. */
    bad = ok;
    bad.id = filled(2001, 'u');
    assert_int_equal(lv_store_ap_actor_put(f->st, &bad, &err), LV_ERR_LIMIT);
    free(bad.id);
    bad = ok;
    bad.key_id = filled(4000, 'k');
    assert_int_equal(lv_store_ap_actor_put(f->st, &bad, &err), LV_ERR_LIMIT);
    free(bad.key_id);

    assert_int_equal(lv_store_ap_actor_get(f->st, NULL, &out, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_actor_get(f->st, "", &out, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_actor_by_account(f->st, "", &out, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_actor_by_key(f->st, NULL, &out, &err), LV_ERR_INVAL);
    assert_null(out.id);
    int64_t n = -1;
    assert_int_equal(lv_store_ap_actor_count(f->st, &n, NULL), 0);
    assert_int_equal(n, 0);
}

/* ---- follows --------------------------------------------------------------- */

#define MB "urn:xmpp:microblog:0"
#define LOUISE "louise@example.org"
#define BOB "https://remote.example/users/bob"

/* The same (local, node, remote) in both directions: two relations. */
static void test_follow_both_directions(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    struct lv_ap_follow_rec r;
    int64_t t0 = (int64_t)time(NULL);
    expect_ok(lv_store_ap_follow_put(f->st, LV_AP_FOLLOWER, LOUISE, MB, BOB,
                                     "https://remote.example/follows/1", LV_AP_FOLLOW_ACCEPTED,
                                     &err),
              &err);
    expect_ok(lv_store_ap_follow_put(f->st, LV_AP_FOLLOWING, LOUISE, MB, BOB,
                                     "https://gw.example.org/_ap/follow/2", LV_AP_FOLLOW_PENDING,
                                     &err),
              &err);
    int64_t t1 = (int64_t)time(NULL);

    expect_ok(lv_store_ap_follow_get(f->st, LV_AP_FOLLOWER, LOUISE, MB, BOB, &r, &err), &err);
    assert_int_equal(r.dir, LV_AP_FOLLOWER);
    assert_string_equal(r.local, LOUISE);
    assert_string_equal(r.node, MB);
    assert_string_equal(r.remote, BOB);
    assert_string_equal(r.activity_id, "https://remote.example/follows/1");
    assert_int_equal(r.state, LV_AP_FOLLOW_ACCEPTED);
    assert_true(r.created >= t0 && r.created <= t1);
    assert_int_equal(r.updated, r.created);
    int64_t follower_id = r.id;
    lv_ap_follow_rec_release(&r);

    expect_ok(lv_store_ap_follow_get(f->st, LV_AP_FOLLOWING, LOUISE, MB, BOB, &r, &err), &err);
    assert_int_equal(r.dir, LV_AP_FOLLOWING);
    assert_int_equal(r.state, LV_AP_FOLLOW_PENDING);
    assert_string_equal(r.activity_id, "https://gw.example.org/_ap/follow/2");
    assert_true(r.id != follower_id);
    lv_ap_follow_rec_release(&r);

    /* An Accept names the Follow: found in its direction. */
    expect_ok(
        lv_store_ap_follow_by_activity(f->st, "https://gw.example.org/_ap/follow/2", &r, &err),
        &err);
    assert_int_equal(r.dir, LV_AP_FOLLOWING);
    lv_ap_follow_rec_release(&r);
    assert_int_equal(
        lv_store_ap_follow_by_activity(f->st, "https://gw.example.org/_ap/follow/9", &r, &err),
        LV_ERR_NOT_FOUND);
    assert_null(r.local);

    int64_t n = -1;
    assert_int_equal(lv_store_ap_follow_count(f->st, LV_AP_FOLLOWER, NULL, NULL, 0, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(lv_store_ap_follow_count(f->st, LV_AP_FOLLOWING, LOUISE, MB,
                                              LV_AP_FOLLOW_ACCEPTED, &n, NULL),
                     0);
    assert_int_equal(n, 0);

    /* Deleting one direction leaves the other. */
    expect_ok(lv_store_ap_follow_delete(f->st, LV_AP_FOLLOWER, LOUISE, MB, BOB, &err), &err);
    assert_int_equal(lv_store_ap_follow_delete(f->st, LV_AP_FOLLOWER, LOUISE, MB, BOB, &err),
                     LV_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "no follower relation"));
    assert_int_equal(lv_store_ap_follow_get(f->st, LV_AP_FOLLOWER, LOUISE, MB, BOB, &r, NULL),
                     LV_ERR_NOT_FOUND);
    assert_int_equal(lv_store_ap_follow_get(f->st, LV_AP_FOLLOWING, LOUISE, MB, BOB, &r, NULL), 0);
    lv_ap_follow_rec_release(&r);
}

/* A second put of a relation replaces activity_id and state, keeps created
 * and the row (its id), and stamps updated. */
static void test_follow_upsert(void **state)
{
    struct fx *f = *state;
    struct lv_ap_follow_rec r;
    OK(lv_store_ap_follow_put(f->st, LV_AP_FOLLOWER, LOUISE, MB, BOB, "https://r.example/f/1",
                              LV_AP_FOLLOW_PENDING, &e_));
    OK(lv_store_ap_follow_get(f->st, LV_AP_FOLLOWER, LOUISE, MB, BOB, &r, &e_));
    int64_t id = r.id;
    lv_ap_follow_rec_release(&r);
    /* An old creation time shows whether the upsert keeps it. */
    raw_exec(f->path, "UPDATE ap_follows SET created = 5, updated = 5");

    int64_t t0 = (int64_t)time(NULL);
    OK(lv_store_ap_follow_put(f->st, LV_AP_FOLLOWER, LOUISE, MB, BOB, "https://r.example/f/2",
                              LV_AP_FOLLOW_ACCEPTED, &e_));
    OK(lv_store_ap_follow_get(f->st, LV_AP_FOLLOWER, LOUISE, MB, BOB, &r, &e_));
    assert_int_equal(r.id, id);
    assert_string_equal(r.activity_id, "https://r.example/f/2");
    assert_int_equal(r.state, LV_AP_FOLLOW_ACCEPTED);
    assert_int_equal(r.created, 5);
    assert_true(r.updated >= t0 && r.updated <= (int64_t)time(NULL));
    lv_ap_follow_rec_release(&r);
    assert_int_equal(lv_store_ap_follow_by_activity(f->st, "https://r.example/f/1", &r, NULL),
                     LV_ERR_NOT_FOUND);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM ap_follows"), 1);
}

/* Lists filter by each field and by state, in id order, with limit and
 * offset; counts agree. */
static void test_follow_list_filters(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *local, *node, *remote;
        int state;
    } rows[] = {
        {LOUISE, MB, "https://a.example/u/1", LV_AP_FOLLOW_ACCEPTED},
        {LOUISE, MB, "https://b.example/u/2", LV_AP_FOLLOW_PENDING},
        {"pierre@example.org", MB, "https://a.example/u/1", LV_AP_FOLLOW_ACCEPTED},
        {LOUISE, "urn:xmpp:other", "https://a.example/u/1", LV_AP_FOLLOW_ACCEPTED},
        {LOUISE, MB, "https://c.example/u/3", LV_AP_FOLLOW_ACCEPTED},
    };
    int64_t ids[LV_ARRAY_LEN(rows)];
    for (size_t i = 0; i < LV_ARRAY_LEN(rows); i++) {
        char act[64];
        struct lv_ap_follow_rec r;
        snprintf(act, sizeof(act), "https://x.example/follow/%zu", i);
        OK(lv_store_ap_follow_put(f->st, LV_AP_FOLLOWER, rows[i].local, rows[i].node,
                                  rows[i].remote, act, rows[i].state, &e_));
        OK(lv_store_ap_follow_get(f->st, LV_AP_FOLLOWER, rows[i].local, rows[i].node,
                                  rows[i].remote, &r, &e_));
        ids[i] = r.id;
        lv_ap_follow_rec_release(&r);
    }
    /* The other direction is never listed with these. */
    OK(lv_store_ap_follow_put(f->st, LV_AP_FOLLOWING, LOUISE, MB, "https://a.example/u/1",
                              "https://gw.example/f/0", LV_AP_FOLLOW_ACCEPTED, &e_));

    static const struct {
        const char *local, *node, *remote;
        int state;
        size_t limit, offset;
        int want[5]; /* indexes into rows, -1 ends */
    } cases[] = {
        {NULL, NULL, NULL, 0, 0, 0, {0, 1, 2, 3, 4}},
        {LOUISE, MB, NULL, 0, 0, 0, {0, 1, 4, -1}},
        {LOUISE, MB, NULL, LV_AP_FOLLOW_ACCEPTED, 0, 0, {0, 4, -1}},
        {NULL, NULL, "https://a.example/u/1", 0, 0, 0, {0, 2, 3, -1}},
        {LOUISE, NULL, "https://a.example/u/1", 0, 0, 0, {0, 3, -1}},
        {NULL, NULL, NULL, LV_AP_FOLLOW_PENDING, 0, 0, {1, -1}},
        {NULL, NULL, NULL, 0, 2, 0, {0, 1, -1}},
        {NULL, NULL, NULL, 0, 2, 3, {3, 4, -1}},
        {NULL, NULL, NULL, 0, 0, 4, {4, -1}},
        {NULL, NULL, NULL, 0, 0, 9, {-1}},
        {"nobody@example.org", NULL, NULL, 0, 0, 0, {-1}},
    };
    for (size_t c = 0; c < LV_ARRAY_LEN(cases); c++) {
        struct lv_ap_follow_rec *v;
        size_t n, want = 0;
        struct lv_error err = {0};
        expect_ok(lv_store_ap_follow_list(f->st, LV_AP_FOLLOWER, cases[c].local, cases[c].node,
                                          cases[c].remote, cases[c].state, cases[c].limit,
                                          cases[c].offset, &v, &n, &err),
                  &err);
        while (want < 5 && cases[c].want[want] >= 0)
            want++;
        if (n != want)
            fail_msg("case %zu: %zu rows, want %zu", c, n, want);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(v[i].id, ids[cases[c].want[i]]);
            assert_int_equal(v[i].dir, LV_AP_FOLLOWER);
        }
        free_follows(v, n);
        if (cases[c].remote || cases[c].limit || cases[c].offset)
            continue;
        int64_t cnt = -1;
        expect_ok(lv_store_ap_follow_count(f->st, LV_AP_FOLLOWER, cases[c].local, cases[c].node,
                                           cases[c].state, &cnt, &err),
                  &err);
        assert_int_equal(cnt, (int64_t)want);
    }
}

static void test_follow_checks(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    struct lv_ap_follow_rec r;
    struct lv_ap_follow_rec *v = (void *)1;
    size_t n = 9;
    int64_t cnt = -1;
    assert_int_equal(lv_store_ap_follow_put(f->st, 0, LOUISE, MB, BOB, "a", 1, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_put(f->st, 3, LOUISE, MB, BOB, "a", 1, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_put(f->st, 1, NULL, MB, BOB, "a", 1, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_put(f->st, 1, LOUISE, "", BOB, "a", 1, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_put(f->st, 1, LOUISE, MB, NULL, "a", 1, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_put(f->st, 1, LOUISE, MB, BOB, "", 1, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_put(f->st, 1, LOUISE, MB, BOB, "a", 0, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_put(f->st, 1, LOUISE, MB, BOB, "a", 3, &err), LV_ERR_INVAL);
    char *longer = filled(1500, 'r');
    assert_int_equal(lv_store_ap_follow_put(f->st, 1, longer, MB, longer, "a", 1, &err),
                     LV_ERR_LIMIT);
    free(longer);
    assert_int_equal(lv_store_ap_follow_get(f->st, 1, LOUISE, MB, NULL, &r, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_delete(f->st, 2, "", MB, BOB, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_by_activity(f->st, "", &r, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_list(f->st, 1, "", NULL, NULL, 0, 0, 0, &v, &n, &err),
                     LV_ERR_INVAL);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_int_equal(lv_store_ap_follow_list(f->st, 1, NULL, NULL, NULL, 7, 0, 0, &v, &n, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_list(f->st, 0, NULL, NULL, NULL, 0, 0, 0, &v, &n, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_count(f->st, 1, NULL, "", 0, &cnt, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_follow_count(f->st, 1, NULL, NULL, -1, &cnt, &err), LV_ERR_INVAL);
    assert_int_equal(cnt, 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM ap_follows"), 0);
}

/* ---- inbox ----------------------------------------------------------------- */

/* A duplicate activity id is refused with CONFLICT, stores nothing, and
 * the message is ours, not the database's. */
static void test_inbox_duplicate(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    int64_t id = 0, id2 = -1;
    const char *act = "https://remote.example/activities/1";
    /* Only the first body_len bytes count: the buffer goes on. */
    const char buf[] = "{\"type\": \"Like\"}TRAILING GARBAGE";
    expect_ok(lv_store_ap_inbox_add(f->st, act, BOB, "louise@example.org", buf, 16, 100, &id, &err),
              &err);
    assert_true(id > 0);

    assert_int_equal(lv_store_ap_inbox_add(f->st, act, "https://evil.example/u/x", NULL,
                                           "{\"type\": \"Delete\"}", 18, 200, &id2, &err),
                     LV_ERR_CONFLICT);
    assert_int_equal(id2, 0);
    char want[160];
    snprintf(want, sizeof(want), "activity %s is already in the inbox", act);
    assert_string_equal(err.msg, want);
    /* NULL id is allowed; the duplicate is still one. */
    assert_int_equal(lv_store_ap_inbox_add(f->st, act, BOB, NULL, "{}", 2, 300, NULL, NULL),
                     LV_ERR_CONFLICT);

    struct lv_ap_inbox_rec *v;
    size_t n;
    assert_int_equal(lv_store_ap_inbox_list(f->st, 0, 0, 0, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, id);
    assert_string_equal(v[0].activity_id, act);
    assert_string_equal(v[0].actor, BOB);
    assert_string_equal(v[0].inbox, "louise@example.org");
    assert_string_equal(v[0].body, "{\"type\": \"Like\"}");
    assert_int_equal(v[0].state, LV_AP_INBOX_PENDING);
    assert_null(v[0].error);
    assert_int_equal(v[0].received, 100);
    assert_int_equal(v[0].processed, 0);
    free_inbox(v, n);

    /* A shared-inbox activity keeps inbox NULL; ids keep growing. */
    int64_t id3 = 0;
    assert_int_equal(lv_store_ap_inbox_add(f->st, "https://remote.example/activities/2", BOB, NULL,
                                           "{}", 2, 400, &id3, NULL),
                     0);
    assert_true(id3 > id);
    assert_int_equal(lv_store_ap_inbox_list(f->st, 0, 1, 1, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_null(v[0].inbox);
    free_inbox(v, n);
}

static void expect_inbox(struct lv_store *st, int state, size_t limit, size_t offset,
                         const int64_t *want, size_t n_want)
{
    struct lv_ap_inbox_rec *v;
    size_t n;
    struct lv_error err = {0};
    expect_ok(lv_store_ap_inbox_list(st, state, limit, offset, &v, &n, &err), &err);
    if (n != n_want)
        fail_msg("inbox state %d: %zu rows, want %zu", state, n, n_want);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i].id, want[i]);
    free_inbox(v, n);
    if (limit || offset)
        return;
    int64_t cnt = -1;
    expect_ok(lv_store_ap_inbox_count(st, state, &cnt, &err), &err);
    assert_int_equal(cnt, (int64_t)n_want);
}

/* States, processing times, errors; lists oldest first (by received, then
 * insertion); prune of processed rows only. */
static void test_inbox_states_prune(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    int64_t a = inbox_add(f->st, "https://r.example/a", 300);
    int64_t b = inbox_add(f->st, "https://r.example/b", 100);
    int64_t c = inbox_add(f->st, "https://r.example/c", 200);
    int64_t d = inbox_add(f->st, "https://r.example/d", 100);
    int64_t e = inbox_add(f->st, "https://r.example/e", 50);

    expect_inbox(f->st, 0, 0, 0, (int64_t[]){e, b, d, c, a}, 5);
    expect_inbox(f->st, 0, 2, 1, (int64_t[]){b, d}, 2);

    expect_ok(lv_store_ap_inbox_set_state(f->st, b, LV_AP_INBOX_DONE, NULL, 1000, &err), &err);
    expect_ok(lv_store_ap_inbox_set_state(f->st, c, LV_AP_INBOX_FAILED, "no such node", 2000, &err),
              &err);
    expect_ok(lv_store_ap_inbox_set_state(f->st, e, LV_AP_INBOX_DONE, NULL, 3000, &err), &err);
    assert_int_equal(lv_store_ap_inbox_set_state(f->st, 999999, LV_AP_INBOX_DONE, NULL, 1, &err),
                     LV_ERR_NOT_FOUND);
    assert_string_equal(err.msg, "no inbox row 999999");
    assert_int_equal(lv_store_ap_inbox_set_state(f->st, a, LV_AP_INBOX_PENDING, NULL, 1, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_inbox_set_state(f->st, a, 0, NULL, 1, &err), LV_ERR_INVAL);

    expect_inbox(f->st, LV_AP_INBOX_PENDING, 0, 0, (int64_t[]){d, a}, 2);
    expect_inbox(f->st, LV_AP_INBOX_DONE, 0, 0, (int64_t[]){e, b}, 2);
    expect_inbox(f->st, LV_AP_INBOX_FAILED, 0, 0, (int64_t[]){c}, 1);

    struct lv_ap_inbox_rec *v;
    size_t n;
    assert_int_equal(lv_store_ap_inbox_list(f->st, LV_AP_INBOX_FAILED, 0, 0, &v, &n, NULL), 0);
    assert_string_equal(v[0].error, "no such node");
    assert_int_equal(v[0].processed, 2000);
    assert_int_equal(v[0].state, LV_AP_INBOX_FAILED);
    free_inbox(v, n);

    /* Processed before 2500: b (1000) and c (2000); e (3000) and the
     * pending ones stay. */
    int64_t deleted = -1;
    expect_ok(lv_store_ap_inbox_prune(f->st, 2500, &deleted, &err), &err);
    assert_int_equal(deleted, 2);
    expect_inbox(f->st, 0, 0, 0, (int64_t[]){e, d, a}, 3);
    /* Strictly before: e at 3000 stays for 3000. */
    assert_int_equal(lv_store_ap_inbox_prune(f->st, 3000, NULL, NULL), 0);
    expect_inbox(f->st, 0, 0, 0, (int64_t[]){e, d, a}, 3);
    assert_int_equal(lv_store_ap_inbox_prune(f->st, 3001, &deleted, NULL), 0);
    assert_int_equal(deleted, 1);
    /* A pruned activity is no longer a duplicate. */
    inbox_add(f->st, "https://r.example/b", 4000);
    assert_int_equal(
        lv_store_ap_inbox_add(f->st, "https://r.example/a", BOB, NULL, "{}", 2, 1, NULL, NULL),
        LV_ERR_CONFLICT);

    assert_int_equal(lv_store_ap_inbox_list(f->st, 4, 0, 0, &v, &n, &err), LV_ERR_INVAL);
    assert_null(v);
    int64_t cnt = -1;
    assert_int_equal(lv_store_ap_inbox_count(f->st, -1, &cnt, &err), LV_ERR_INVAL);
}

static void test_inbox_checks(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    int64_t id = -1;
    assert_int_equal(lv_store_ap_inbox_add(f->st, NULL, BOB, NULL, "{}", 2, 1, &id, &err),
                     LV_ERR_INVAL);
    assert_int_equal(id, 0);
    assert_int_equal(lv_store_ap_inbox_add(f->st, "", BOB, NULL, "{}", 2, 1, &id, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_inbox_add(f->st, "a", "", NULL, "{}", 2, 1, &id, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_inbox_add(f->st, "a", BOB, NULL, NULL, 2, 1, &id, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_inbox_add(f->st, "a", BOB, NULL, "{}", 0, 1, &id, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_inbox_add(f->st, "a", BOB, NULL, "{\0}", 3, 1, &id, &err),
                     LV_ERR_INVAL);
    assert_string_equal(err.msg, "activity body holds a NUL byte");
    char *big = filled(LV_STORE_AP_DOC_MAX + 1, ' ');
    assert_int_equal(
        lv_store_ap_inbox_add(f->st, "a", BOB, NULL, big, LV_STORE_AP_DOC_MAX + 1, 1, &id, &err),
        LV_ERR_LIMIT);
    free(big);
    char *long_id = filled(2001, 'a');
    assert_int_equal(lv_store_ap_inbox_add(f->st, long_id, BOB, NULL, "{}", 2, 1, &id, &err),
                     LV_ERR_LIMIT);
    free(long_id);
    int64_t n = -1;
    assert_int_equal(lv_store_ap_inbox_count(f->st, 0, &n, NULL), 0);
    assert_int_equal(n, 0);
}

/* Documents of exactly LV_STORE_AP_DOC_MAX bytes go through and come back
 * whole. */
static void test_documents_at_limit(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    char *doc = filled(LV_STORE_AP_DOC_MAX, 'x');
    doc[0] = '"';
    doc[LV_STORE_AP_DOC_MAX - 1] = '"';

    struct lv_ap_actor_rec a = {.id = BOB, .inbox = BOB "/inbox", .doc = doc, .fetched = 1};
    struct lv_ap_actor_rec out;
    expect_ok(lv_store_ap_actor_put(f->st, &a, &err), &err);
    expect_ok(lv_store_ap_actor_get(f->st, BOB, &out, &err), &err);
    assert_int_equal(strlen(out.doc), LV_STORE_AP_DOC_MAX);
    assert_memory_equal(out.doc, doc, LV_STORE_AP_DOC_MAX);
    lv_ap_actor_rec_release(&out);

    expect_ok(lv_store_ap_inbox_add(f->st, "https://r.example/big", BOB, NULL, doc,
                                    LV_STORE_AP_DOC_MAX, 1, NULL, &err),
              &err);
    struct lv_ap_inbox_rec *v;
    size_t n;
    expect_ok(lv_store_ap_inbox_list(f->st, 0, 0, 0, &v, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(v[0].body), LV_STORE_AP_DOC_MAX);
    assert_memory_equal(v[0].body, doc, LV_STORE_AP_DOC_MAX);
    free_inbox(v, n);

    int64_t id = 0;
    expect_ok(lv_store_ap_delivery_add(f->st, BOB "/inbox", LOUISE, "k", "a", doc, 1, &id, &err),
              &err);
    free(doc);
    doc = filled(LV_STORE_AP_DOC_MAX + 1, 'x');
    assert_int_equal(
        lv_store_ap_delivery_add(f->st, BOB "/inbox", LOUISE, "k", "a", doc, 1, &id, &err),
        LV_ERR_LIMIT);
    assert_int_equal(id, 0);
    free(doc);
}

/* ---- delivery queue -------------------------------------------------------- */

static void expect_due(struct lv_store *st, int64_t now, size_t limit, const int64_t *want,
                       size_t n_want)
{
    struct lv_ap_delivery_rec *v;
    size_t n;
    struct lv_error err = {0};
    expect_ok(lv_store_ap_delivery_due(st, now, limit, &v, &n, &err), &err);
    if (n != n_want)
        fail_msg("due at %lld: %zu rows, want %zu", (long long)now, n, n_want);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].id, want[i]);
        assert_int_equal(v[i].state, LV_AP_DELIVERY_PENDING);
        assert_true(v[i].next_attempt <= now);
    }
    free_deliveries(v, n);
}

/* Due rows by next_attempt, then id (queue order among equals); a retry
 * reschedules; giving up takes a row out of the queue. */
static void test_delivery_due_order(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    int64_t a = delivery_add(f->st, "https://gw/a", 300);
    int64_t b = delivery_add(f->st, "https://gw/b", 100);
    int64_t c = delivery_add(f->st, "https://gw/c", 200);
    int64_t d = delivery_add(f->st, "https://gw/d", 100);

    int64_t when = 0;
    expect_ok(lv_store_ap_delivery_next(f->st, &when, &err), &err);
    assert_int_equal(when, 100);
    expect_due(f->st, 50, 10, NULL, 0);
    expect_due(f->st, 100, 10, (int64_t[]){b, d}, 2);
    expect_due(f->st, 1000, 10, (int64_t[]){b, d, c, a}, 4);
    expect_due(f->st, 1000, 3, (int64_t[]){b, d, c}, 3);

    /* b failed once: retried at 250, after c. */
    expect_ok(lv_store_ap_delivery_update(f->st, b, LV_AP_DELIVERY_PENDING, 1, 250,
                                          "HTTP 503 from remote.example", &err),
              &err);
    expect_due(f->st, 1000, 10, (int64_t[]){d, c, b, a}, 4);
    expect_due(f->st, 200, 10, (int64_t[]){d, c}, 2);
    struct lv_ap_delivery_rec *v;
    size_t n;
    expect_ok(lv_store_ap_delivery_due(f->st, 260, 10, &v, &n, &err), &err);
    assert_int_equal(n, 3);
    assert_int_equal(v[2].id, b);
    assert_int_equal(v[2].attempts, 1);
    assert_int_equal(v[2].next_attempt, 250);
    assert_int_equal(v[2].created, 100);
    assert_string_equal(v[2].last_error, "HTTP 503 from remote.example");
    assert_string_equal(v[2].activity_id, "https://gw/b");
    assert_string_equal(v[2].inbox, "https://remote.example/inbox");
    assert_string_equal(v[2].account, "louise@example.org");
    assert_string_equal(v[2].key_id, "https://gw.example.org/_ap/actor/louise#main-key");
    assert_string_equal(v[2].body, "{\"type\": \"Create\"}");
    assert_null(v[0].last_error);
    assert_int_equal(v[0].attempts, 0);
    free_deliveries(v, n);

    /* d gone (410): given up, out of the queue, still listed as failed. */
    expect_ok(
        lv_store_ap_delivery_update(f->st, d, LV_AP_DELIVERY_FAILED, 1, 100, "410 Gone", &err),
        &err);
    expect_due(f->st, 1000, 10, (int64_t[]){c, b, a}, 3);
    expect_ok(lv_store_ap_delivery_next(f->st, &when, &err), &err);
    assert_int_equal(when, 200);

    /* Delivered: deleted. */
    expect_ok(lv_store_ap_delivery_delete(f->st, c, &err), &err);
    assert_int_equal(lv_store_ap_delivery_delete(f->st, c, &err), LV_ERR_NOT_FOUND);
    char want[64];
    snprintf(want, sizeof(want), "no delivery %lld", (long long)c);
    assert_string_equal(err.msg, want);
    expect_ok(lv_store_ap_delivery_next(f->st, &when, &err), &err);
    assert_int_equal(when, 250);
    assert_int_equal(
        lv_store_ap_delivery_update(f->st, c, LV_AP_DELIVERY_PENDING, 2, 1, NULL, &err),
        LV_ERR_NOT_FOUND);

    OK(lv_store_ap_delivery_delete(f->st, a, &e_));
    OK(lv_store_ap_delivery_delete(f->st, b, &e_));
    when = -1;
    assert_int_equal(lv_store_ap_delivery_next(f->st, &when, &err), LV_ERR_NOT_FOUND);
    assert_int_equal(when, 0);
    assert_string_equal(err.msg, "no pending delivery");
    expect_due(f->st, 1000, 10, NULL, 0);
}

static void expect_deliveries(struct lv_store *st, int state, size_t limit, size_t offset,
                              const int64_t *want, size_t n_want)
{
    struct lv_ap_delivery_rec *v;
    size_t n;
    struct lv_error err = {0};
    expect_ok(lv_store_ap_delivery_list(st, state, limit, offset, &v, &n, &err), &err);
    if (n != n_want)
        fail_msg("deliveries in state %d: %zu rows, want %zu", state, n, n_want);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i].id, want[i]);
    free_deliveries(v, n);
    if (limit || offset)
        return;
    int64_t cnt = -1;
    expect_ok(lv_store_ap_delivery_count(st, state, &cnt, &err), &err);
    assert_int_equal(cnt, (int64_t)n_want);
}

/* Lists are by id whatever next_attempt is; counts by state. */
static void test_delivery_list_count(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    int64_t a = delivery_add(f->st, "https://gw/a", 500);
    int64_t b = delivery_add(f->st, "https://gw/b", 100);
    int64_t c = delivery_add(f->st, "https://gw/c", 300);
    expect_ok(lv_store_ap_delivery_update(f->st, b, LV_AP_DELIVERY_FAILED, 9, 100, "too old", &err),
              &err);
    expect_deliveries(f->st, 0, 0, 0, (int64_t[]){a, b, c}, 3);
    expect_deliveries(f->st, LV_AP_DELIVERY_PENDING, 0, 0, (int64_t[]){a, c}, 2);
    expect_deliveries(f->st, LV_AP_DELIVERY_FAILED, 0, 0, (int64_t[]){b}, 1);
    expect_deliveries(f->st, 0, 1, 1, (int64_t[]){b}, 1);
    expect_deliveries(f->st, 0, 5, 2, (int64_t[]){c}, 1);
    expect_deliveries(f->st, 0, 0, 3, NULL, 0);

    struct lv_ap_delivery_rec *v = (void *)1;
    size_t n = 7;
    int64_t cnt = -1;
    assert_int_equal(lv_store_ap_delivery_list(f->st, 3, 0, 0, &v, &n, &err), LV_ERR_INVAL);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_int_equal(lv_store_ap_delivery_count(f->st, -2, &cnt, &err), LV_ERR_INVAL);
    assert_int_equal(cnt, 0);
}

static void test_delivery_checks(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    int64_t id = -1;
    struct lv_ap_delivery_rec *v = (void *)1;
    size_t n = 3;
    const char *in = "https://r/inbox", *acc = LOUISE, *key = "k", *act = "a", *body = "{}";
    assert_int_equal(lv_store_ap_delivery_add(f->st, NULL, acc, key, act, body, 1, &id, &err),
                     LV_ERR_INVAL);
    assert_int_equal(id, 0);
    assert_int_equal(lv_store_ap_delivery_add(f->st, in, "", key, act, body, 1, &id, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_delivery_add(f->st, in, acc, NULL, act, body, 1, &id, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_delivery_add(f->st, in, acc, key, "", body, 1, &id, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_delivery_add(f->st, in, acc, key, act, "", 1, &id, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_delivery_due(f->st, 1, 0, &v, &n, &err), LV_ERR_INVAL);
    assert_null(v);
    assert_int_equal(n, 0);
    /* NULL id is allowed. */
    assert_int_equal(lv_store_ap_delivery_add(f->st, in, acc, key, act, body, 1, NULL, &err), 0);
    int64_t only = raw_int(f->path, "SELECT max(id) FROM ap_deliveries");
    expect_deliveries(f->st, 0, 0, 0, &only, 1);
    assert_int_equal(lv_store_ap_delivery_update(f->st, only, 0, 1, 1, NULL, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_delivery_update(f->st, only, 3, 1, 1, NULL, &err), LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_delivery_update(f->st, only, 1, -1, 1, NULL, &err), LV_ERR_INVAL);
    /* last_error NULL clears it. */
    OK(lv_store_ap_delivery_update(f->st, only, 1, 1, 5, "x", &e_));
    OK(lv_store_ap_delivery_update(f->st, only, 1, 2, 6, NULL, &e_));
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM ap_deliveries WHERE last_error IS "
                                      "NULL AND attempts = 2 AND next_attempt = 6"),
                     1);
}

/* Makes the store refuse, from now on, to insert a delivery to inbox
 * (RAISE in a trigger: a failure in the middle of a batch). On SQLite the
 * trigger comes from another connection: the statements the store keeps
 * prepared must see the schema change. */
static void refuse_insert(const char *path, const char *inbox)
{
    char sql[600];
    if (pg_uri)
        snprintf(sql, sizeof(sql),
                 "CREATE FUNCTION refuse_ins() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "IF NEW.inbox = '%s' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; "
                 "END $$; CREATE TRIGGER refuse_ins BEFORE INSERT ON ap_deliveries "
                 "FOR EACH ROW EXECUTE FUNCTION refuse_ins()",
                 inbox);
    else
        snprintf(sql, sizeof(sql),
                 "CREATE TRIGGER refuse_ins BEFORE INSERT ON ap_deliveries "
                 "WHEN NEW.inbox = '%s' BEGIN SELECT RAISE(ABORT, 'refused'); END",
                 inbox);
    raw_exec(path, sql);
}

/* Likewise for deleting the row id. */
static void refuse_delete(const char *path, int64_t id)
{
    char sql[600];
    if (pg_uri)
        snprintf(sql, sizeof(sql),
                 "CREATE FUNCTION refuse_del() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "IF OLD.id = %lld THEN RAISE EXCEPTION 'refused'; END IF; RETURN OLD; "
                 "END $$; CREATE TRIGGER refuse_del BEFORE DELETE ON ap_deliveries "
                 "FOR EACH ROW EXECUTE FUNCTION refuse_del()",
                 (long long)id);
    else
        snprintf(sql, sizeof(sql),
                 "CREATE TRIGGER refuse_del BEFORE DELETE ON ap_deliveries "
                 "WHEN OLD.id = %lld BEGIN SELECT RAISE(ABORT, 'refused'); END",
                 (long long)id);
    raw_exec(path, sql);
}

/* A batch: every row stored as given, ids in the order of the rows. */
static void test_delivery_add_many(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    const char *body = "{\"type\": \"Create\", \"id\": \"https://gw/n/1\"}";
    const struct lv_ap_delivery_new rows[] = {
        {BOB "/inbox", LOUISE, "https://gw/louise#main-key", "https://gw/n/1", body},
        {"https://other.example/inbox", LOUISE, "https://gw/louise#main-key", "https://gw/n/1",
         body},
        {"https://third.example/shared", "pierre@example.org", "https://gw/pierre#main-key",
         "https://gw/n/2", "{}"},
    };
    int64_t ids[3] = {-1, -1, -1};
    expect_ok(lv_store_ap_delivery_add_many(f->st, rows, 3, 700, ids, &err), &err);
    assert_true(ids[0] > 0 && ids[1] > 0 && ids[2] > 0);
    assert_true(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);

    struct lv_ap_delivery_rec *v;
    size_t n;
    expect_ok(lv_store_ap_delivery_list(f->st, 0, 0, 0, &v, &n, &err), &err);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < 3 && ids[k] != v[i].id)
            k++;
        assert_true(k < 3);
        assert_string_equal(v[i].inbox, rows[k].inbox);
        assert_string_equal(v[i].account, rows[k].account);
        assert_string_equal(v[i].key_id, rows[k].key_id);
        assert_string_equal(v[i].activity_id, rows[k].activity_id);
        assert_string_equal(v[i].body, rows[k].body);
        assert_int_equal(v[i].state, LV_AP_DELIVERY_PENDING);
        assert_int_equal(v[i].attempts, 0);
        assert_int_equal(v[i].created, 700);
        assert_int_equal(v[i].next_attempt, 700);
        assert_null(v[i].last_error);
    }
    free_deliveries(v, n);
    expect_due(f->st, 700, 10, ids, 3); /* equal next_attempt: by id, i.e. row order */

    /* ids may be NULL; n = 0 does nothing. */
    expect_ok(lv_store_ap_delivery_add_many(f->st, rows, 2, 800, NULL, &err), &err);
    expect_ok(lv_store_ap_delivery_add_many(f->st, NULL, 0, 800, NULL, &err), &err);
    expect_ok(lv_store_ap_delivery_add_many(f->st, rows, 0, 800, ids, &err), &err);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM ap_deliveries"), 5);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM ap_deliveries WHERE created = 800"), 2);
}

/* Any bad row refuses the whole batch before anything is written, and says
 * which row it was; a failure part way leaves nothing either. */
static void test_delivery_add_many_all_or_nothing(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    char *big = filled(LV_STORE_AP_DOC_MAX + 1, 'x');
    struct lv_ap_delivery_new rows[] = {
        {"https://a.example/inbox", LOUISE, "k", "https://gw/n/1", "{}"},
        {"https://b.example/inbox", LOUISE, "k", "https://gw/n/1", "{}"},
        {"https://c.example/inbox", LOUISE, "k", "https://gw/n/1", "{}"},
    };
    int64_t ids[3] = {-1, -1, -1};

    rows[1].key_id = "";
    assert_int_equal(lv_store_ap_delivery_add_many(f->st, rows, 3, 1, ids, &err), LV_ERR_INVAL);
    assert_string_equal(err.msg, "delivery 2 of 3: empty key id");
    assert_true(ids[0] == 0 && ids[1] == 0 && ids[2] == 0);
    rows[1].key_id = "k";
    rows[2].inbox = NULL;
    assert_int_equal(lv_store_ap_delivery_add_many(f->st, rows, 3, 1, ids, &err), LV_ERR_INVAL);
    assert_string_equal(err.msg, "delivery 3 of 3: empty target inbox");
    rows[2].inbox = "https://c.example/inbox";
    rows[0].body = big;
    assert_int_equal(lv_store_ap_delivery_add_many(f->st, rows, 3, 1, ids, &err), LV_ERR_LIMIT);
    rows[0].body = "{}";
    assert_int_equal(lv_store_ap_delivery_add_many(f->st, NULL, 2, 1, ids, &err), LV_ERR_INVAL);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM ap_deliveries"), 0);
    free(big);

    /* The third insert fails in the store: the first two are rolled back. */
    refuse_insert(f->path, "https://c.example/inbox");
    ids[0] = ids[1] = ids[2] = -1;
    assert_int_equal(lv_store_ap_delivery_add_many(f->st, rows, 3, 1, ids, &err), LV_ERR_STORE);
    assert_non_null(strstr(err.msg, "refused"));
    assert_true(ids[0] == 0 && ids[1] == 0 && ids[2] == 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM ap_deliveries"), 0);

    /* The store is still usable, in and out of batches. */
    expect_ok(lv_store_ap_delivery_add_many(f->st, rows, 2, 1, ids, &err), &err);
    assert_true(ids[0] > 0 && ids[1] > 0);
    delivery_add(f->st, "https://gw/n/2", 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM ap_deliveries"), 3);
}

/* A batch delete: missing and repeated ids skipped, one failure keeps
 * every row. */
static void test_delivery_delete_many(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    int64_t a = delivery_add(f->st, "https://gw/a", 1);
    int64_t b = delivery_add(f->st, "https://gw/b", 1);
    int64_t c = delivery_add(f->st, "https://gw/c", 1);
    int64_t d = delivery_add(f->st, "https://gw/d", 1);
    int64_t e = delivery_add(f->st, "https://gw/e", 1);

    expect_ok(lv_store_ap_delivery_delete_many(f->st, (int64_t[]){a, c, e + 1000, a}, 4, &err),
              &err);
    expect_deliveries(f->st, 0, 0, 0, (int64_t[]){b, d, e}, 3);
    expect_ok(lv_store_ap_delivery_delete_many(f->st, (int64_t[]){a, c}, 2, &err), &err);
    expect_ok(lv_store_ap_delivery_delete_many(f->st, NULL, 0, &err), &err);
    assert_int_equal(lv_store_ap_delivery_delete_many(f->st, NULL, 1, &err), LV_ERR_INVAL);
    expect_deliveries(f->st, 0, 0, 0, (int64_t[]){b, d, e}, 3);

    refuse_delete(f->path, d);
    assert_int_equal(lv_store_ap_delivery_delete_many(f->st, (int64_t[]){b, d, e}, 3, &err),
                     LV_ERR_STORE);
    assert_non_null(strstr(err.msg, "refused"));
    expect_deliveries(f->st, 0, 0, 0, (int64_t[]){b, d, e}, 3);
    expect_ok(lv_store_ap_delivery_delete_many(f->st, (int64_t[]){b, e}, 2, &err), &err);
    expect_deliveries(f->st, 0, 0, 0, &d, 1);
}

/* The statements kept on a SQLite connection outlive a schema change made
 * behind it and are finalized at close (the ASan build reports a leak
 * otherwise), on a store that used every kind of them. */
static void test_kept_statements(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    int64_t a = delivery_add(f->st, "https://gw/a", 1);
    raw_exec(f->path, "CREATE INDEX extra_idx ON ap_deliveries (activity_id)");
    int64_t b = delivery_add(f->st, "https://gw/b", 1);
    expect_due(f->st, 5, 10, (int64_t[]){a, b}, 2);
    raw_exec(f->path, "DROP INDEX extra_idx");
    expect_due(f->st, 5, 10, (int64_t[]){a, b}, 2);
    int64_t when = 0;
    expect_ok(lv_store_ap_delivery_next(f->st, &when, &err), &err);
    assert_int_equal(when, 1);
    struct lv_ap_actor_rec act;
    assert_int_equal(lv_store_ap_actor_get(f->st, BOB, &act, &err), LV_ERR_NOT_FOUND);
    lv_store_close(f->st);
    assert_int_equal(lv_store_open(f->path, &f->st, NULL), 0);
    expect_due(f->st, 5, 10, (int64_t[]){a, b}, 2);
}

/* ---- objects --------------------------------------------------------------- */

static void test_objects(void **state)
{
    struct fx *f = *state;
    struct lv_error err = {0};
    struct lv_ap_object_rec o;
    const char *note = "https://gw.example.org/_ap/item/louise@example.org/urn:xmpp:microblog:0/p1";
    expect_ok(lv_store_ap_object_put(f->st, LOUISE, MB, "p1", note, false, 1000, &err), &err);
    expect_ok(lv_store_ap_object_get(f->st, LOUISE, MB, "p1", &o, &err), &err);
    assert_string_equal(o.account, LOUISE);
    assert_string_equal(o.node, MB);
    assert_string_equal(o.item_id, "p1");
    assert_string_equal(o.object_id, note);
    assert_int_equal(o.published, 1000);
    assert_int_equal(o.updated, 1000);
    assert_false(o.deleted);
    lv_ap_object_rec_release(&o);

    /* An update keeps published; a retraction marks it deleted. */
    expect_ok(lv_store_ap_object_put(f->st, LOUISE, MB, "p1", "https://gw/other", true, 2000, &err),
              &err);
    expect_ok(lv_store_ap_object_get(f->st, LOUISE, MB, "p1", &o, &err), &err);
    assert_string_equal(o.object_id, "https://gw/other");
    assert_int_equal(o.published, 1000);
    assert_int_equal(o.updated, 2000);
    assert_true(o.deleted);
    lv_ap_object_rec_release(&o);
    expect_ok(lv_store_ap_object_put(f->st, LOUISE, MB, "p1", note, false, 3000, &err), &err);
    expect_ok(lv_store_ap_object_get(f->st, LOUISE, MB, "p1", &o, &err), &err);
    assert_false(o.deleted);
    assert_int_equal(o.published, 1000);
    lv_ap_object_rec_release(&o);

    /* The key is all three parts, byte-wise. */
    assert_int_equal(lv_store_ap_object_get(f->st, LOUISE, MB, "P1", &o, &err), LV_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "no object published for item P1"));
    assert_null(o.object_id);
    assert_int_equal(lv_store_ap_object_get(f->st, "pierre@example.org", MB, "p1", &o, NULL),
                     LV_ERR_NOT_FOUND);
    OK(lv_store_ap_object_put(f->st, LOUISE, "urn:xmpp:other", "p1", "https://gw/3", false, 5,
                              &e_));
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM ap_objects"), 2);

    assert_int_equal(lv_store_ap_object_put(f->st, NULL, MB, "p", "o", false, 1, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_object_put(f->st, LOUISE, "", "p", "o", false, 1, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_object_put(f->st, LOUISE, MB, NULL, "o", false, 1, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_object_put(f->st, LOUISE, MB, "p", "", false, 1, &err),
                     LV_ERR_INVAL);
    assert_int_equal(lv_store_ap_object_get(f->st, LOUISE, MB, "", &o, &err), LV_ERR_INVAL);
}

/* ---- records --------------------------------------------------------------- */

/* Release functions take NULL and zeroed records, and leave records zeroed
 * (so a second release is harmless). */
static void test_release_zeroed(void **state)
{
    (void)state;
    struct lv_ap_actor_rec a = {0};
    struct lv_ap_follow_rec fo = {0};
    struct lv_ap_inbox_rec in = {0};
    struct lv_ap_delivery_rec d = {0};
    struct lv_ap_object_rec o = {0};
    lv_ap_actor_rec_release(NULL);
    lv_ap_follow_rec_release(NULL);
    lv_ap_inbox_rec_release(NULL);
    lv_ap_delivery_rec_release(NULL);
    lv_ap_object_rec_release(NULL);
    lv_ap_actor_rec_release(&a);
    lv_ap_follow_rec_release(&fo);
    lv_ap_inbox_rec_release(&in);
    lv_ap_delivery_rec_release(&d);
    lv_ap_object_rec_release(&o);

    d.inbox = lv_xstrdup("x");
    d.last_error = lv_xstrdup("y");
    d.attempts = 3;
    lv_ap_delivery_rec_release(&d);
    assert_null(d.inbox);
    assert_null(d.last_error);
    assert_int_equal(d.attempts, 0);
    lv_ap_delivery_rec_release(&d);
}

int main(void)
{
    lv_log_set_level(LV_LOG_WARN); /* keep "applied migration" lines out of the output */
    pg_uri = getenv("LV_TEST_STORE_URI");
    if (pg_uri && !*pg_uri)
        pg_uri = NULL;
    if (pg_uri && strncmp(pg_uri, "postgresql://", 13) != 0 &&
        strncmp(pg_uri, "postgres://", 11) != 0) {
        fprintf(stderr, "LV_TEST_STORE_URI must be a postgresql:// URI\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migration_from_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actor_put_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actor_by_account_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actor_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_both_directions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_upsert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox_states_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents_at_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_due_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_list_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_add_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_add_many_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_delete_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_statements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_objects, setup, teardown),
        cmocka_unit_test(test_release_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
