/* Unit tests of the pubsub cache storage (lv_store_cache): the migration,
 * nodes and sync states, item upserts and orders, RSM-like paging, deletes
 * and cascades, search (every operator, full text, errors), categories,
 * purges. Each test gets a fresh database so that raw sqlite3/libpq calls
 * can check what the interface cannot show (the text index after cascades,
 * rows left behind).
 *
 * The same tests run over both backends: SQLite by default, PostgreSQL when
 * LV_TEST_STORE_URI names a database (tests/integration/store_postgres.sh
 * sets it), as in test_store.c: on PostgreSQL every test starts from an
 * empty schema. What the backends agree on is asserted alike; where they
 * legitimately differ, the tests assert only the common part:
 *   - rank values: FTS5's bm25 on SQLite, -ts_rank_cd on PostgreSQL; both
 *     are lower for better matches, so orders agree, not numbers;
 *   - the text index: an FTS5 table checked with 'integrity-check' on
 *     SQLite, a generated tsvector column (checked against its expression)
 *     on PostgreSQL;
 *   - node extra data is jsonb on PostgreSQL, returned normalized ("{"k":1}"
 *     reads back as "{"k": 1}", which is how the test writes it). */
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

#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/lv_migration.h"
#include "store/lv_store.h"
#include "store/lv_store_backend.h"
#include "store/lv_store_cache.h"
#include "store/postgres/lv_store_postgres.h"

/* The PostgreSQL database under test, or NULL for SQLite. */
static const char *pg_uri;

/* ---- fixture --------------------------------------------------------------- */

struct fx {
    char dir[256];
    char path[300];
    struct lv_store *st;
};

static void remove_suffixed(const char *path, const char *suffix)
{
    char p[320];
    snprintf(p, sizeof(p), "%s%s", path, suffix);
    unlink(p);
}

static PGconn *pg_connect(void)
{
    PGconn *c = PQconnectdb(pg_uri);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", pg_uri, PQerrorMessage(c));
    return c;
}

static void pg_exec(const char *sql)
{
    PGconn *c = pg_connect();
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(c);
}

/* Empties the PostgreSQL database: what a new SQLite file is to SQLite. */
static void pg_reset(void)
{
    pg_exec("SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
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
        snprintf(f->dir, sizeof(f->dir), "%s/lv_cache_XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(f->dir))
            return -1;
        snprintf(f->path, sizeof(f->path), "%s/libervia.db", f->dir);
    }
    struct lv_error err = {0};
    if (lv_store_open(f->path, &f->st, &err) != 0) {
        print_error("open: %s\n", err.msg);
        return -1;
    }
    if (lv_store_profile_create(f->st, "alice", NULL, NULL) != 0 ||
        lv_store_profile_create(f->st, "bob", NULL, NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    lv_store_close(f->st);
    if (!pg_uri) {
        remove_suffixed(f->path, "");
        remove_suffixed(f->path, "-wal");
        remove_suffixed(f->path, "-shm");
        rmdir(f->dir);
    }
    free(f);
    return 0;
}

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

static void raw_exec(const char *path, const char *sql)
{
    if (pg_uri) {
        pg_exec(sql);
        return;
    }
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* The newest schema version of the backend under test. */
static int latest_version(void)
{
    return pg_uri ? lv_postgres_migrations[lv_postgres_migrations_count - 1].version
                  : lv_sqlite_migrations[lv_sqlite_migrations_count - 1].version;
}

/* The FTS index agrees with its content table ('integrity-check' fails
 * otherwise). */
static void assert_fts_consistent(const char *path)
{
    if (pg_uri) {
        /* A generated column: every row's tsvector is its expression's. */
        assert_int_equal(raw_int(path, "SELECT count(*) FROM pubsub_items WHERE tsv IS DISTINCT "
                                       "FROM to_tsvector('simple', lv_unaccent(text))"),
                         0);
        return;
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    int rc = sqlite3_exec(db,
                          "INSERT INTO pubsub_items_fts (pubsub_items_fts, rank) "
                          "VALUES ('integrity-check', 1)",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        fail_msg("FTS index inconsistent: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* ---- helpers --------------------------------------------------------------- */

static int64_t node(struct lv_store *st, const char *profile, const char *service, const char *name,
                    const char *type, const char *subtype)
{
    struct lv_store_cache_node_info info = {
        .analyser = type ? "XEP-0277" : NULL, .type = type, .subtype = subtype};
    struct lv_store_cache_node n;
    struct lv_error err = {0};
    if (lv_store_cache_node_ensure(st, profile, service, name, &info, &n, NULL, &err) != 0)
        fail_msg("node: %s", err.msg);
    int64_t id = n.id;
    lv_store_cache_node_release(&n);
    return id;
}

/* A blog post: parsed data from a JSON text, text made as the sync layer
 * makes it (title, content, tags, author). */
static void put(struct lv_store *st, int64_t node_id, const char *name, const char *json,
                double published)
{
    json_error_t jerr;
    json_t *parsed = json_loads(json, 0, &jerr);
    if (!parsed)
        fail_msg("bad test JSON %s: %s", json, jerr.text);
    struct lv_buf text = LV_BUF_INIT;
    const char *keys[] = {"title", "content", "author"};
    for (size_t i = 0; i < 3; i++)
        if (json_is_string(json_object_get(parsed, keys[i])))
            lv_buf_addf(&text, "%s\n", json_string_value(json_object_get(parsed, keys[i])));
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(parsed, "tags"), i, t)
        lv_buf_addf(&text, "%s ", json_string_value(t));
    char xml[256];
    snprintf(xml, sizeof(xml), "<entry xmlns='http://www.w3.org/2005/Atom'><id>%s</id></entry>",
             name);
    struct lv_store_cache_item it = {name, xml, text.data, parsed, published, 0};
    struct lv_error err = {0};
    if (lv_store_cache_items_upsert(st, node_id, &it, 1, &err) != 0)
        fail_msg("upsert %s: %s", name, err.msg);
    json_decref(parsed);
    lv_buf_release(&text);
}

/* A raw (non-XEP-0277) item: no parsed data, its text content as text. */
static void put_raw(struct lv_store *st, int64_t node_id, const char *name, const char *text)
{
    struct lv_store_cache_item it = {name, "<x xmlns='urn:example'>raw</x>", text, NULL, 0, 0};
    assert_int_equal(lv_store_cache_items_upsert(st, node_id, &it, 1, NULL), 0);
}

static int search(struct lv_store *st, const char *query, json_t **res, struct lv_error *err)
{
    json_error_t jerr;
    json_t *q = json_loads(query, 0, &jerr);
    if (!q)
        fail_msg("bad test query %s: %s", query, jerr.text);
    int rc = lv_store_cache_search(st, q, res, err);
    json_decref(q);
    return rc;
}

/* "a,b,c": the item ids of results, in order. */
static char *ids_of(json_t *results)
{
    struct lv_buf b = LV_BUF_INIT;
    size_t i;
    json_t *r;
    lv_buf_adds(&b, "");
    json_array_foreach(results, i, r)
        lv_buf_addf(&b, "%s%s", i ? "," : "", json_string_value(json_object_get(r, "item_id")));
    return lv_buf_detach(&b);
}

static void expect_ids(struct lv_store *st, const char *query, const char *expected)
{
    json_t *res = NULL;
    struct lv_error err = {0};
    if (search(st, query, &res, &err) != 0)
        fail_msg("search %s: %s", query, err.msg);
    char *got = ids_of(res);
    if (strcmp(got, expected) != 0)
        fail_msg("search %s: got [%s], expected [%s]", query, got, expected);
    free(got);
    json_decref(res);
}

static void expect_inval(struct lv_store *st, const char *query, const char *fragment)
{
    json_t *res = NULL;
    struct lv_error err = {0};
    int rc = search(st, query, &res, &err);
    if (rc != LV_ERR_INVAL)
        fail_msg("search %s: rc %d, expected LV_ERR_INVAL", query, rc);
    assert_null(res);
    if (!strstr(err.msg, fragment))
        fail_msg("search %s: message \"%s\" lacks \"%s\"", query, err.msg, fragment);
    /* Nothing of the SQL behind reaches the user. */
    const char *leaks[] = {"SELECT", "pubsub_items", "json_extract", "fts5",
                           "sqlite", "tsquery",      "jsonb",        "$1"};
    for (size_t i = 0; i < LV_ARRAY_LEN(leaks); i++)
        if (strstr(err.msg, leaks[i]))
            fail_msg("message \"%s\" leaks \"%s\"", err.msg, leaks[i]);
}

/* "a,b": the names of a page's items. */
static char *page_ids(const struct lv_store_cache_page *p)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "");
    for (size_t i = 0; i < p->n; i++)
        lv_buf_addf(&b, "%s%s", i ? "," : "", p->items[i].name);
    return lv_buf_detach(&b);
}

static void expect_page(struct lv_store *st, int64_t node_id,
                        const struct lv_store_cache_page_req *req, const char *expected,
                        int64_t index)
{
    struct lv_store_cache_page page;
    struct lv_error err = {0};
    if (lv_store_cache_items_get(st, node_id, req, &page, &err) != 0)
        fail_msg("page: %s", err.msg);
    char *got = page_ids(&page);
    if (strcmp(got, expected) != 0)
        fail_msg("page: got [%s], expected [%s]", got, expected);
    assert_int_equal(page.index, index);
    if (page.n > 0) {
        assert_string_equal(page.first, page.items[0].name);
        assert_string_equal(page.last, page.items[page.n - 1].name);
    } else {
        assert_null(page.first);
        assert_null(page.last);
    }
    free(got);
    lv_store_cache_page_release(&page);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lets the clock move on, so that times before and after differ. */
static double tick(void)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double t = wall_now();
    nanosleep(&ts, NULL);
    return t;
}

/* ---- migration ------------------------------------------------------------- */

static void test_migration_on_top_of_init(void **state)
{
    struct fx *f = *state;
    lv_store_close(f->st);

    /* A database at version 1 with a profile, as an older build left it. */
    void *be_state = NULL;
    if (pg_uri) {
        pg_reset();
        assert_int_equal(
            lv_store_postgres_open_with(f->path, lv_postgres_migrations, 1, &be_state, NULL), 0);
        lv_store_postgres_backend.close(be_state);
        pg_exec("INSERT INTO profiles (name, created) VALUES ('carol', 0)");
    } else {
        remove_suffixed(f->path, "");
        remove_suffixed(f->path, "-wal");
        remove_suffixed(f->path, "-shm");
        assert_int_equal(
            lv_store_sqlite_open_with(f->path, lv_sqlite_migrations, 1, &be_state, NULL), 0);
        lv_store_sqlite_backend.close(be_state);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(
            sqlite3_exec(db, "INSERT INTO profiles (name, created) VALUES ('carol', 0)", 0, 0, 0),
            SQLITE_OK);
        sqlite3_close(db);
    }
    assert_int_equal(raw_int(f->path, "SELECT max(version) FROM schema_version"), 1);

    assert_int_equal(lv_store_open(f->path, &f->st, NULL), 0);
    int v = 0;
    assert_int_equal(lv_store_schema_version(f->st, &v), 0);
    assert_int_equal(v, latest_version());
    int64_t n = node(f->st, "carol", "pubsub.example.org", "blog", "blog", NULL);
    put(f->st, n, "p1", "{\"title\": \"hello\"}", 100);
    expect_ids(f->st, "{\"fts\": \"hello\"}", "p1");
    if (pg_uri)
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pg_tables WHERE schemaname = "
                                          "'public' AND tablename IN ('pubsub_nodes', "
                                          "'pubsub_items', 'pubsub_item_tags')"),
                         3);
    else
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                          "('pubsub_nodes', 'pubsub_items', 'pubsub_items_fts', "
                                          "'pubsub_item_tags')"),
                         4);
}

/* 0004 (the bound) on a cache that already holds items: the item counter
 * starts from them, and no node is trimmed. */
static void test_migration_bound_on_filled_cache(void **state)
{
    struct fx *f = *state;
    lv_store_close(f->st);
    void *be_state = NULL;
    if (pg_uri) {
        pg_reset();
        assert_int_equal(
            lv_store_postgres_open_with(f->path, lv_postgres_migrations, 2, &be_state, NULL), 0);
        lv_store_postgres_backend.close(be_state);
    } else {
        remove_suffixed(f->path, "");
        remove_suffixed(f->path, "-wal");
        remove_suffixed(f->path, "-shm");
        assert_int_equal(
            lv_store_sqlite_open_with(f->path, lv_sqlite_migrations, 2, &be_state, NULL), 0);
        lv_store_sqlite_backend.close(be_state);
    }
    raw_exec(f->path, "INSERT INTO profiles (name, created) VALUES ('carol', 0)");
    raw_exec(f->path, "INSERT INTO pubsub_nodes (profile_id, service, name, sync_state, "
                      "sync_state_updated) SELECT id, 's.org', 'blog', 'completed', 0 "
                      "FROM profiles WHERE name = 'carol'");
    raw_exec(f->path, "INSERT INTO pubsub_items (node_id, name, created, modified, data) "
                      "SELECT id, 'a', 1, 1, '<a/>' FROM pubsub_nodes UNION ALL "
                      "SELECT id, 'b', 2, 2, '<b/>' FROM pubsub_nodes UNION ALL "
                      "SELECT id, 'c', 3, 3, '<c/>' FROM pubsub_nodes");

    assert_int_equal(lv_store_open(f->path, &f->st, NULL), 0);
    struct lv_store_cache_stats stats;
    assert_int_equal(lv_store_cache_stats(f->st, &stats, NULL), 0);
    assert_int_equal(stats.items, 3);
    struct lv_store_cache_node n;
    assert_int_equal(lv_store_cache_node_get(f->st, "carol", "s.org", "blog", &n, NULL), 0);
    assert_int_equal(n.sync_state, LV_STORE_CACHE_SYNC_COMPLETED);
    assert_int_equal(n.trimmed_items, 0);
    assert_true(n.trimmed_upto == 0);
    lv_store_cache_node_release(&n);
    size_t deleted = 0;
    int64_t excess = -1;
    assert_int_equal(lv_store_cache_trim(f->st, 2, 10, &deleted, &excess, NULL), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(excess, 0);
    expect_ids(f->st, "{\"order_by\": [{\"order\": \"item_id\"}]}", "b,c");
}

/* ---- nodes ----------------------------------------------------------------- */

static void test_node_ensure_get(void **state)
{
    struct fx *f = *state;
    struct lv_store_cache_node n, m;
    struct lv_store_cache_node_info info = {true, "XEP-0277", "blog", NULL, "{\"k\": 1}"};
    bool created = false;
    struct lv_error err = {0};

    assert_int_equal(lv_store_cache_node_get(f->st, "alice", "s.org", "blog", &n, &err),
                     LV_ERR_NOT_FOUND);
    assert_int_equal(
        lv_store_cache_node_ensure(f->st, "alice", "s.org", "blog", &info, &n, &created, NULL), 0);
    assert_true(created);
    assert_true(n.subscribed);
    assert_string_equal(n.profile, "alice");
    assert_string_equal(n.type, "blog");
    assert_null(n.subtype);
    assert_string_equal(n.extra, "{\"k\": 1}");
    assert_int_equal(n.sync_state, LV_STORE_CACHE_SYNC_NONE);
    assert_true(n.sync_state_updated > 0);

    /* Ensuring again returns the same node, unchanged. */
    info.type = "event";
    assert_int_equal(
        lv_store_cache_node_ensure(f->st, "alice", "s.org", "blog", &info, &m, &created, NULL), 0);
    assert_false(created);
    assert_int_equal(m.id, n.id);
    assert_string_equal(m.type, "blog");
    lv_store_cache_node_release(&m);

    /* The same node read by another profile is another cached node. */
    assert_int_equal(
        lv_store_cache_node_ensure(f->st, "bob", "s.org", "blog", NULL, &m, &created, NULL), 0);
    assert_true(created);
    assert_true(m.id != n.id);
    lv_store_cache_node_release(&m);
    lv_store_cache_node_release(&n);

    assert_int_equal(
        lv_store_cache_node_ensure(f->st, "nobody", "s.org", "x", NULL, &m, NULL, &err),
        LV_ERR_NOT_FOUND);
    assert_int_equal(
        lv_store_cache_node_ensure(f->st, "bad name!", "s.org", "x", NULL, &m, NULL, &err),
        LV_ERR_INVAL);
    assert_int_equal(lv_store_cache_node_ensure(f->st, "alice", "", "x", NULL, &m, NULL, &err),
                     LV_ERR_INVAL);
    info.extra = "[1]";
    assert_int_equal(
        lv_store_cache_node_ensure(f->st, "alice", "s.org", "y", &info, &m, NULL, &err),
        LV_ERR_INVAL);
}

static void test_node_sync_state_and_list(void **state)
{
    struct fx *f = *state;
    int64_t a = node(f->st, "alice", "s.org", "a", "blog", NULL);
    int64_t b = node(f->st, "alice", "s.org", "b", "blog", "comment");
    node(f->st, "bob", "t.org", "c", NULL, NULL);
    put(f->st, a, "1", "{}", 10);
    put(f->st, a, "2", "{}", 20);

    assert_int_equal(
        lv_store_cache_node_set_sync(f->st, a, LV_STORE_CACHE_SYNC_COMPLETED, NULL, 0, NULL), 0);
    double retry = wall_now() + 3600;
    assert_int_equal(lv_store_cache_node_set_sync(f->st, b, LV_STORE_CACHE_SYNC_ERROR,
                                                  "service-unavailable", retry, NULL),
                     0);
    assert_int_equal(
        lv_store_cache_node_set_sync(f->st, 99999, LV_STORE_CACHE_SYNC_ERROR, NULL, 0, NULL),
        LV_ERR_NOT_FOUND);

    struct lv_store_cache_node n;
    assert_int_equal(lv_store_cache_node_get(f->st, "alice", "s.org", "b", &n, NULL), 0);
    assert_int_equal(n.sync_state, LV_STORE_CACHE_SYNC_ERROR);
    assert_string_equal(n.sync_error, "service-unavailable");
    assert_true(n.sync_retry_at > retry - 1 && n.sync_retry_at < retry + 1);
    assert_string_equal(lv_store_cache_sync_name(n.sync_state), "error");
    lv_store_cache_node_release(&n);

    struct lv_store_cache_node *v;
    size_t len;
    assert_int_equal(lv_store_cache_node_list(f->st, NULL, &v, &len, NULL), 0);
    assert_int_equal(len, 3);
    assert_string_equal(v[0].name, "a");
    assert_int_equal(v[0].item_count, 2);
    assert_int_equal(v[0].sync_state, LV_STORE_CACHE_SYNC_COMPLETED);
    assert_string_equal(v[2].profile, "bob");
    lv_store_cache_nodes_free(v, len);

    struct lv_store_cache_node_filter flt = {.by_sync_state = true,
                                             .sync_state = LV_STORE_CACHE_SYNC_ERROR};
    assert_int_equal(lv_store_cache_node_list(f->st, &flt, &v, &len, NULL), 0);
    assert_int_equal(len, 1);
    assert_string_equal(v[0].name, "b");
    lv_store_cache_nodes_free(v, len);
    flt = (struct lv_store_cache_node_filter){.profile = "alice", .subtype = ""};
    assert_int_equal(lv_store_cache_node_list(f->st, &flt, &v, &len, NULL), 0);
    assert_int_equal(len, 1); /* "" matches no subtype */
    assert_string_equal(v[0].name, "a");
    lv_store_cache_nodes_free(v, len);
    flt = (struct lv_store_cache_node_filter){.by_sync_state = true};
    assert_int_equal(lv_store_cache_node_list(f->st, &flt, &v, &len, NULL), 0);
    assert_int_equal(len, 1); /* never synced */
    assert_string_equal(v[0].name, "c");
    lv_store_cache_nodes_free(v, len);

    struct lv_store_cache_node_info info = {.type = "event"};
    assert_int_equal(lv_store_cache_node_set_info(f->st, a, &info, NULL), 0);
    assert_int_equal(lv_store_cache_node_get(f->st, "alice", "s.org", "a", &n, NULL), 0);
    assert_string_equal(n.type, "event");
    assert_null(n.analyser);
    lv_store_cache_node_release(&n);
}

/* ---- items: orders and paging ---------------------------------------------- */

static void test_upsert_orders(void **state)
{
    struct fx *f = *state;
    int64_t n = node(f->st, "alice", "s.org", "blog", "blog", NULL);
    struct lv_store_cache_page_req req;

    /* Arrival c, a, b; published a > c > b; d has no date: its arrival
     * stands in, so it is the newest. */
    put(f->st, n, "c", "{\"title\": \"c\"}", 2000);
    put(f->st, n, "a", "{\"title\": \"a\"}", 3000);
    put(f->st, n, "b", "{\"title\": \"b\"}", 1000);
    put(f->st, n, "d", "{\"title\": \"d\"}", 0);

    lv_store_cache_page_req_init(&req, 10);
    expect_page(f->st, n, &req, "d,a,c,b", 0);
    req.oldest_first = true;
    expect_page(f->st, n, &req, "b,c,a,d", 0);
    req.order = LV_STORE_CACHE_ORDER_CREATION;
    expect_page(f->st, n, &req, "c,a,b,d", 0);
    req.oldest_first = false;
    expect_page(f->st, n, &req, "d,b,a,c", 0);

    /* An edit keeps the arrival order and created, bumps modified. */
    struct lv_store_cache_page page;
    lv_store_cache_page_req_init(&req, 10);
    assert_int_equal(lv_store_cache_items_get(f->st, n, &req, &page, NULL), 0);
    double c_created = page.items[2].created;
    int64_t c_id = page.items[2].id;
    assert_non_null(page.items[3].parsed);
    assert_true(page.items[0].published == 0);
    lv_store_cache_page_release(&page);
    tick();
    put(f->st, n, "c", "{\"title\": \"c edited\"}", 2000);
    req.order = LV_STORE_CACHE_ORDER_CREATION;
    expect_page(f->st, n, &req, "d,b,a,c", 0);
    req.order = LV_STORE_CACHE_ORDER_MODIFICATION;
    expect_page(f->st, n, &req, "c,d,b,a", 0);
    assert_int_equal(lv_store_cache_items_get(f->st, n, &req, &page, NULL), 0);
    assert_int_equal(page.items[0].id, c_id);
    assert_true(page.items[0].created == c_created);
    assert_true(page.items[0].modified > c_created);
    assert_string_equal(json_string_value(json_object_get(page.items[0].parsed, "title")),
                        "c edited");
    assert_non_null(strstr(page.items[0].xml, "<id>c</id>"));
    lv_store_cache_page_release(&page);

    /* The full-text index follows the edit. */
    expect_ids(f->st, "{\"fts\": \"edited\"}", "c");
    assert_fts_consistent(f->path);
}

static void test_paging(void **state)
{
    struct fx *f = *state;
    int64_t n = node(f->st, "alice", "s.org", "blog", "blog", NULL);
    struct lv_store_cache_page_req req;
    struct lv_store_cache_page page;
    struct lv_error err = {0};
    char name[8];
    /* Inserted in a shuffled order: the date order must not depend on it. */
    const int order[] = {5, 2, 9, 1, 10, 7, 3, 8, 4, 6};
    for (size_t i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "i%02d", order[i]);
        put(f->st, n, name, "{}", 1000.0 * order[i]);
    }

    lv_store_cache_page_req_init(&req, 3);
    assert_int_equal(lv_store_cache_items_get(f->st, n, &req, &page, NULL), 0);
    assert_int_equal(page.count, 10);
    assert_string_equal(page.first, "i10");
    assert_string_equal(page.last, "i08");
    lv_store_cache_page_release(&page);
    expect_page(f->st, n, &req, "i10,i09,i08", 0);
    req.after = "i08";
    expect_page(f->st, n, &req, "i07,i06,i05", 3);
    req.after = "i02";
    expect_page(f->st, n, &req, "i01", 9);
    req.after = "i01";
    expect_page(f->st, n, &req, "", 10);
    req.after = NULL;
    req.before = "i05";
    expect_page(f->st, n, &req, "i08,i07,i06", 2);
    req.before = "i09";
    expect_page(f->st, n, &req, "i10", 0);
    req.before = "";
    expect_page(f->st, n, &req, "i03,i02,i01", 7);
    req.before = NULL;
    req.index = 8;
    expect_page(f->st, n, &req, "i02,i01", 8);
    req.index = -1;
    const char *names[] = {"i03", "nope", "i05"};
    req.names = names;
    req.n_names = 3;
    expect_page(f->st, n, &req, "i05,i03", 5);
    req.names = NULL;
    req.n_names = 0;
    req.oldest_first = true;
    expect_page(f->st, n, &req, "i01,i02,i03", 0);
    req.after = "i03";
    expect_page(f->st, n, &req, "i04,i05,i06", 3);

    /* XEP-0059: an unknown after/before item is item-not-found. */
    req.after = "nope";
    assert_int_equal(lv_store_cache_items_get(f->st, n, &req, &page, &err), LV_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "nope"));
    req.after = "i01";
    req.index = 2;
    assert_int_equal(lv_store_cache_items_get(f->st, n, &req, &page, &err), LV_ERR_INVAL);
    lv_store_cache_page_req_init(&req, LV_STORE_CACHE_PAGE_MAX + 1);
    assert_int_equal(lv_store_cache_items_get(f->st, n, &req, &page, &err), LV_ERR_INVAL);
    lv_store_cache_page_req_init(&req, 0);
    assert_int_equal(lv_store_cache_items_get(f->st, 424242, &req, &page, &err), LV_ERR_NOT_FOUND);
}

static void test_upsert_batch_checks(void **state)
{
    struct fx *f = *state;
    int64_t n = node(f->st, "alice", "s.org", "blog", "blog", NULL);
    struct lv_error err = {0};
    json_t *arr = json_array();
    struct lv_store_cache_item items[3] = {
        {"x", "<x/>", "one", NULL, 1, 0},
        {"y", "<y/>", "two", NULL, 2, 0},
        {"x", "<x/>", "three", NULL, 3, 0},
    };
    assert_int_equal(lv_store_cache_items_upsert(f->st, n, items, 3, &err), LV_ERR_INVAL);
    assert_non_null(strstr(err.msg, "twice"));
    assert_int_equal(lv_store_cache_items_upsert(f->st, n, items, 2, NULL), 0);
    items[0].parsed = arr;
    assert_int_equal(lv_store_cache_items_upsert(f->st, n, items, 1, &err), LV_ERR_INVAL);
    items[0].parsed = NULL;
    items[0].name = "";
    assert_int_equal(lv_store_cache_items_upsert(f->st, n, items, 1, &err), LV_ERR_INVAL);
    items[0].name = "x";
    assert_int_equal(lv_store_cache_items_upsert(f->st, 424242, items, 1, &err), LV_ERR_NOT_FOUND);
    json_decref(arr);
    expect_ids(f->st, "{\"fts\": \"one OR two\", \"order_by\": [{\"order\": \"item_id\"}]}", "x,y");
}

/* ---- deletes and cascades -------------------------------------------------- */

static void test_delete_purge_cascade(void **state)
{
    struct fx *f = *state;
    int64_t a = node(f->st, "alice", "s.org", "a", "blog", NULL);
    int64_t b = node(f->st, "bob", "s.org", "b", "blog", NULL);
    put(f->st, a, "1", "{\"title\": \"apple\", \"tags\": [\"fruit\"]}", 1);
    put(f->st, a, "2", "{\"title\": \"apricot\", \"tags\": [\"fruit\"]}", 2);
    put(f->st, a, "3", "{\"title\": \"avocado\"}", 3);
    put(f->st, b, "1", "{\"title\": \"banana\", \"tags\": [\"fruit\"]}", 1);
    size_t deleted = 99;

    const char *names[] = {"1", "missing"};
    assert_int_equal(lv_store_cache_items_delete(f->st, a, names, 2, &deleted, NULL), 0);
    assert_int_equal(deleted, 1);
    expect_ids(f->st, "{\"fts\": \"apple\"}", "");
    expect_ids(f->st, "{\"fts\": \"banana\"}", "1"); /* same name, other node */

    assert_int_equal(
        lv_store_cache_node_set_sync(f->st, a, LV_STORE_CACHE_SYNC_COMPLETED, NULL, 0, NULL), 0);
    assert_int_equal(lv_store_cache_node_purge(f->st, a, &deleted, NULL), 0);
    assert_int_equal(deleted, 2);
    struct lv_store_cache_node n;
    assert_int_equal(lv_store_cache_node_get(f->st, "alice", "s.org", "a", &n, NULL), 0);
    assert_int_equal(n.sync_state, LV_STORE_CACHE_SYNC_COMPLETED); /* the node stays */
    lv_store_cache_node_release(&n);
    expect_ids(f->st, "{\"fts\": \"avocado\"}", "");
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pubsub_item_tags"), 1);

    put(f->st, a, "4", "{\"title\": \"apple again\", \"tags\": [\"fruit\"]}", 4);
    assert_int_equal(lv_store_cache_node_delete(f->st, a, NULL), 0);
    assert_int_equal(lv_store_cache_node_delete(f->st, a, NULL), LV_ERR_NOT_FOUND);
    expect_ids(f->st, "{\"fts\": \"apple\"}", "");

    /* Deleting a profile takes its nodes, items, tags and index entries. */
    assert_int_equal(lv_store_profile_delete(f->st, "bob", NULL), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pubsub_nodes"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pubsub_items"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pubsub_item_tags"), 0);
    assert_fts_consistent(f->path);
    expect_ids(f->st, "{\"fts\": \"banana\"}", "");
}

/* ---- search: operators ----------------------------------------------------- */

/* Five items of node "ops": p1-p4 blog posts, p5 a raw item. */
static void ops_data(struct lv_store *st)
{
    int64_t n = node(st, "alice", "s.org", "ops", "blog", NULL);
    put(st, n, "p1",
        "{\"title\": \"Café crème\", \"tags\": [\"Rust\", \"café\"], \"n\": 1, "
        "\"author\": \"Émile\", \"published\": 100}",
        100);
    put(st, n, "p2",
        "{\"title\": \"Tea time\", \"tags\": [\"rust\", \"tea\"], \"n\": 2, \"author\": \"bob\", "
        "\"published\": 200}",
        200);
    put(st, n, "p3",
        "{\"title\": \"CAFÉ NOIR\", \"tags\": [\"Coffee\"], \"n\": 3, \"author\": \"émile\", "
        "\"published\": 300}",
        300);
    put(st, n, "p4", "{\"title\": \"50% off_sale\", \"tags\": [], \"n\": 4, \"published\": 400}",
        400);
    put_raw(st, n, "p5", "raw text about zebras");
}

struct op_case {
    const char *filter; /* one element of "parsed" */
    const char *ids;    /* expected, in published order */
};

static const struct op_case op_cases[] = {
    {"{\"path\": [\"n\"], \"op\": \"==\", \"value\": 2}", "p2"},
    {"{\"path\": [\"n\"], \"op\": \"eq\", \"value\": 2}", "p2"},
    {"{\"path\": [\"n\"], \"op\": \"!=\", \"value\": 2}", "p1,p3,p4"},
    {"{\"path\": [\"n\"], \"op\": \"ne\", \"value\": 2}", "p1,p3,p4"},
    {"{\"path\": [\"n\"], \"op\": \">\", \"value\": 2}", "p3,p4"},
    {"{\"path\": [\"n\"], \"op\": \"gt\", \"value\": 2}", "p3,p4"},
    {"{\"path\": [\"n\"], \"op\": \">=\", \"value\": 2}", "p2,p3,p4"},
    {"{\"path\": [\"n\"], \"op\": \"ge\", \"value\": 2}", "p2,p3,p4"},
    {"{\"path\": [\"n\"], \"op\": \"<\", \"value\": 2}", "p1"},
    {"{\"path\": [\"n\"], \"op\": \"lt\", \"value\": 2}", "p1"},
    {"{\"path\": [\"n\"], \"op\": \"<=\", \"value\": 2}", "p1,p2"},
    {"{\"path\": [\"n\"], \"op\": \"le\", \"value\": 2}", "p1,p2"},
    {"{\"path\": [\"n\"], \"op\": \"<\", \"value\": 2.5}", "p1,p2"},
    /* published is answered from the indexed column: same boundaries. */
    {"{\"path\": [\"published\"], \"op\": \">=\", \"value\": 200}", "p2,p3,p4"},
    {"{\"path\": [\"published\"], \"op\": \">\", \"value\": 200}", "p3,p4"},
    {"{\"path\": [\"published\"], \"op\": \"<\", \"value\": 300}", "p1,p2"},
    {"{\"path\": [\"published\"], \"op\": \"<=\", \"value\": 300}", "p1,p2,p3"},
    {"{\"path\": [\"published\"], \"op\": \"between\", \"value\": [200, 300]}", "p2,p3"},
    {"{\"path\": [\"n\"], \"op\": \"between\", \"value\": [2, 3]}", "p2,p3"},
    {"{\"path\": [\"title\"], \"op\": \"between\", \"value\": [\"A\", \"D\"]}", "p1,p3"},
    {"{\"path\": [\"title\"], \"op\": \">=\", \"value\": \"T\"}", "p2"},
    {"{\"path\": [\"n\"], \"op\": \"in\", \"value\": [1, 3]}", "p1,p3"},
    {"{\"path\": [\"n\"], \"op\": \"not_in\", \"value\": [1, 3]}", "p2,p4"},
    {"{\"path\": [\"author\"], \"op\": \"in\", \"value\": [\"bob\", \"Émile\"]}", "p1,p2"},
    {"{\"path\": [\"author\"], \"op\": \"==\", \"value\": null}", "p4,p5"},
    {"{\"path\": [\"author\"], \"op\": \"!=\", \"value\": null}", "p1,p2,p3"},
    {"{\"path\": [\"tags\", 0], \"op\": \"==\", \"value\": \"rust\"}", "p2"},
    /* like is case-sensitive, ilike folds case across Unicode. */
    {"{\"path\": [\"title\"], \"op\": \"like\", \"value\": \"Caf%\"}", "p1"},
    {"{\"path\": [\"title\"], \"op\": \"like\", \"value\": \"café%\"}", ""},
    {"{\"path\": [\"title\"], \"op\": \"ilike\", \"value\": \"café%\"}", "p1,p3"},
    {"{\"path\": [\"title\"], \"op\": \"ilike\", \"value\": \"%É%\"}", "p1,p3"},
    {"{\"path\": [\"title\"], \"op\": \"like\", \"value\": \"_afé%\"}", "p1"},
    {"{\"path\": [\"title\"], \"op\": \"not_like\", \"value\": \"Caf%\"}", "p2,p3,p4"},
    {"{\"path\": [\"title\"], \"op\": \"not_ilike\", \"value\": \"CAFÉ%\"}", "p2,p4"},
    {"{\"path\": [\"title\"], \"op\": \"like\", \"value\": \"50\\\\% off\\\\_%\"}", "p4"},
    {"{\"path\": [\"title\"], \"op\": \"like\", \"value\": \"50\\\\%_off*\"}", ""},
    {"{\"path\": [\"title\"], \"op\": \"like\", \"value\": \"[5]%\"}", ""},
    /* Tag sets: exact spelling, folded, and the negations (no tags at all
     * is disjoint from anything). */
    {"{\"path\": [\"tags\"], \"op\": \"overlap\", \"value\": [\"rust\"]}", "p2"},
    {"{\"path\": [\"tags\"], \"op\": \"ioverlap\", \"value\": [\"RUST\"]}", "p1,p2"},
    {"{\"path\": [\"tags\"], \"op\": \"ioverlap\", \"value\": [\"CAFÉ\", \"tea\"]}", "p1,p2"},
    {"{\"path\": [\"tags\"], \"op\": \"disjoint\", \"value\": [\"rust\"]}", "p1,p3,p4,p5"},
    {"{\"path\": [\"tags\"], \"op\": \"idisjoint\", \"value\": [\"rust\", \"COFFEE\"]}", "p4,p5"},
    /* Sets elsewhere: a scalar is a set of one. */
    {"{\"path\": [\"author\"], \"op\": \"overlap\", \"value\": [\"bob\", \"x\"]}", "p2"},
    {"{\"path\": [\"author\"], \"op\": \"ioverlap\", \"value\": [\"ÉMILE\"]}", "p1,p3"},
    {"{\"path\": [\"author\"], \"op\": \"idisjoint\", \"value\": [\"ÉMILE\"]}", "p2,p4,p5"},
    {"{\"path\": [\"n\"], \"op\": \"overlap\", \"value\": [4, 5]}", "p4"},
    /* A value is never SQL. */
    {"{\"path\": [\"title\"], \"op\": \"==\", \"value\": \"x'; DROP TABLE pubsub_items; --\"}", ""},
};

static void test_operators(void **state)
{
    struct fx *f = *state;
    ops_data(f->st);
    for (size_t i = 0; i < LV_ARRAY_LEN(op_cases); i++) {
        char *q = lv_xasprintf("{\"nodes\": [\"ops\"], \"order_by\": [{\"order\": \"published\"}], "
                               "\"parsed\": [%s]}",
                               op_cases[i].filter);
        expect_ids(f->st, q, op_cases[i].ids);
        free(q);
    }
    expect_ids(f->st, "{\"nodes\": [\"ops\"]}", "p1,p2,p3,p4,p5");
    /* Several filters are all required. */
    expect_ids(f->st,
               "{\"parsed\": [{\"path\": [\"tags\"], \"op\": \"ioverlap\", \"value\": [\"rust\"]},"
               " {\"path\": [\"n\"], \"op\": \">\", \"value\": 1}]}",
               "p2");
}

static void test_search_filters_orders_results(void **state)
{
    struct fx *f = *state;
    ops_data(f->st);
    int64_t c = node(f->st, "bob", "t.org", "urn:xmpp:microblog:0:comments/p1", "blog", "comment");
    put(f->st, c, "c1", "{\"title\": \"a comment\"}", 150);

    expect_ids(f->st, "{\"profiles\": [\"bob\"]}", "c1");
    expect_ids(f->st, "{\"services\": [\"t.org\", \"u.org\"]}", "c1");
    expect_ids(f->st, "{\"subtypes\": [\"comment\"]}", "c1");
    expect_ids(f->st, "{\"subtypes\": [null], \"names\": [\"p1\", \"c1\"]}", "p1");
    expect_ids(f->st, "{\"subtypes\": [\"\"], \"names\": [\"p1\", \"c1\"]}", "p1");
    expect_ids(f->st, "{\"types\": [\"event\"]}", "");
    expect_ids(f->st, "{\"types\": [\"blog\"], \"profiles\": [], \"limit\": 2, \"index\": 1}",
               "p2,p3");
    expect_ids(f->st,
               "{\"order_by\": [{\"order\": \"published\", \"direction\": \"desc\"}], "
               "\"limit\": 3}",
               "p5,p4,p3");
    expect_ids(f->st, "{\"order-by\": [{\"order\": \"item_id\", \"direction\": \"desc\"}]}",
               "p5,p4,p3,p2,p1,c1");
    expect_ids(f->st,
               "{\"nodes\": [\"ops\"], \"order_by\": [{\"path\": [\"author\"]}, "
               "{\"path\": [\"n\"], \"direction\": \"desc\"}]}",
               "p4,p5,p2,p1,p3");
    expect_ids(f->st, "{\"order_by\": [{\"order\": \"creation\", \"direction\": \"desc\"}]}",
               "c1,p5,p4,p3,p2,p1");
    expect_ids(f->st, "{\"order_by\": [{\"order\": \"modification\"}], \"limit\": 1}", "p1");

    /* A result: the parsed data plus where the item comes from. */
    json_t *res = NULL;
    assert_int_equal(search(f->st, "{\"names\": [\"c1\"], \"with_payload\": true}", &res, NULL), 0);
    json_t *r = json_array_get(res, 0);
    assert_string_equal(json_string_value(json_object_get(r, "title")), "a comment");
    assert_string_equal(json_string_value(json_object_get(r, "pubsub_service")), "t.org");
    assert_string_equal(json_string_value(json_object_get(r, "pubsub_node")),
                        "urn:xmpp:microblog:0:comments/p1");
    assert_string_equal(json_string_value(json_object_get(r, "node_profile")), "bob");
    assert_string_equal(json_string_value(json_object_get(r, "item_id")), "c1");
    assert_true(json_number_value(json_object_get(r, "published")) == 150);
    assert_true(json_is_null(json_object_get(r, "updated")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "item_payload")), "<id>c1</id>"));
    assert_null(json_object_get(r, "rank"));
    json_decref(res);
    assert_int_equal(search(f->st, "{\"names\": [\"c1\"]}", &res, NULL), 0);
    assert_null(json_object_get(json_array_get(res, 0), "item_payload"));
    json_decref(res);
}

/* A tag on a few items drives the search (its items are fetched, then
 * sorted); a tag on most items is checked item by item along the order's
 * index. Both must give the same answers, at any page. */
static void test_tag_filter_rare_and_common(void **state)
{
    struct fx *f = *state;
    int64_t n = node(f->st, "alice", "s.org", "many", "blog", NULL);
    struct lv_store_cache_item items[300];
    json_t *parsed[300];
    char names[300][16];
    for (int i = 0; i < 300; i++) {
        snprintf(names[i], sizeof(names[i]), "m%03d", i);
        parsed[i] = i % 150 == 7 ? json_pack("{s:[s, s]}", "tags", "Common", "rare")
                                 : json_pack("{s:[s]}", "tags", "common");
        items[i] = (struct lv_store_cache_item){names[i], "<x/>", "", parsed[i], 1000 + i, 0};
    }
    assert_int_equal(lv_store_cache_items_upsert(f->st, n, items, 300, NULL), 0);
    for (int i = 0; i < 300; i++)
        json_decref(parsed[i]);

    const char *newest = "\"order_by\": [{\"order\": \"published\", \"direction\": \"desc\"}]";
    char q[512];
    snprintf(q, sizeof(q),
             "{\"parsed\": [{\"path\": [\"tags\"], \"op\": \"overlap\", \"value\": "
             "[\"rare\"]}], %s}",
             newest);
    expect_ids(f->st, q, "m157,m007");
    snprintf(q, sizeof(q),
             "{\"parsed\": [{\"path\": [\"tags\"], \"op\": \"overlap\", \"value\": "
             "[\"common\"]}], \"limit\": 3, %s}",
             newest);
    expect_ids(f->st, q, "m299,m298,m297");
    snprintf(q, sizeof(q),
             "{\"parsed\": [{\"path\": [\"tags\"], \"op\": \"overlap\", \"value\": "
             "[\"common\"]}], \"limit\": 3, \"index\": 141, %s}",
             newest);
    expect_ids(f->st, q, "m158,m156,m155"); /* m157 is "Common" */
    snprintf(q, sizeof(q),
             "{\"parsed\": [{\"path\": [\"tags\"], \"op\": \"ioverlap\", \"value\": "
             "[\"COMMON\"]}], \"limit\": 3, \"index\": 141, %s}",
             newest);
    expect_ids(f->st, q, "m158,m157,m156");
    snprintf(q, sizeof(q),
             "{\"parsed\": [{\"path\": [\"tags\"], \"op\": \"disjoint\", \"value\": "
             "[\"common\"]}], %s}",
             newest);
    expect_ids(f->st, q, "m157,m007");
    snprintf(q, sizeof(q),
             "{\"parsed\": [{\"path\": [\"tags\"], \"op\": \"ioverlap\", \"value\": "
             "[\"common\"]}, {\"path\": [\"published\"], \"op\": \"between\", "
             "\"value\": [1100, 1102]}], %s}",
             newest);
    expect_ids(f->st, q, "m102,m101,m100");
}

/* ---- search: full text ----------------------------------------------------- */

static void test_fts(void **state)
{
    struct fx *f = *state;
    ops_data(f->st);
    int64_t n = node(f->st, "alice", "s.org", "more", "blog", NULL);
    put(f->st, n, "once",
        "{\"title\": \"Morning\", \"content\": \"a long text where coffee "
        "appears once among many other words of little interest\"}",
        10);
    put(f->st, n, "often", "{\"title\": \"Coffee\", \"content\": \"coffee, coffee\"}", 20);

    /* Accents and case are ignored: "cafe" finds "Café" and "CAFÉ". */
    expect_ids(f->st, "{\"fts\": \"cafe\", \"order_by\": [{\"order\": \"item_id\"}]}", "p1,p3");
    expect_ids(f->st, "{\"fts\": \"CAFÉ\", \"order_by\": [{\"order\": \"item_id\"}]}", "p1,p3");
    /* Ranking: the item about coffee comes before the one mentioning it. */
    json_t *res = NULL;
    assert_int_equal(search(f->st, "{\"fts\": \"coffee\", \"nodes\": [\"more\"]}", &res, NULL), 0);
    char *ids = ids_of(res);
    assert_string_equal(ids, "often,once");
    free(ids);
    double r0 = json_number_value(json_object_get(json_array_get(res, 0), "rank"));
    double r1 = json_number_value(json_object_get(json_array_get(res, 1), "rank"));
    assert_true(r0 < r1);
    json_decref(res);
    expect_ids(f->st,
               "{\"fts\": \"coffee\", \"nodes\": [\"more\"], \"order_by\": [{\"order\": "
               "\"rank\", \"direction\": \"desc\"}]}",
               "once,often");
    /* Tags and authors are in the text; XML element names are not. */
    expect_ids(f->st, "{\"fts\": \"emile\", \"order_by\": [{\"order\": \"item_id\"}]}", "p1,p3");
    expect_ids(f->st, "{\"fts\": \"entry\"}", "");
    /* A raw item is found by its text. */
    expect_ids(f->st, "{\"fts\": \"zebras\"}", "p5");
    /* FTS5 syntax works: phrases, prefixes, boolean operators. */
    expect_ids(f->st, "{\"fts\": \"\\\"tea time\\\"\"}", "p2");
    expect_ids(f->st, "{\"fts\": \"zeb*\"}", "p5");
    expect_ids(f->st, "{\"fts\": \"cafe NOT noir\"}", "p1");
    /* The same syntax means the same on PostgreSQL, which parses it itself:
     * precedence (NOT > AND > OR), "+" phrases, the "text" column filter,
     * NEAR groups. */
    const char *by_id = "\"order_by\": [{\"order\": \"item_id\"}]";
    static const struct {
        const char *fts, *ids;
    } syntax[] = {
        {"cafe noir OR tea", "p2,p3"},
        {"(cafe OR tea) NOT noir", "p1,p2"},
        {"tea + time", "p2"},
        {"caf* AND emile", "p1,p3"},
        {"text:zebras", "p5"},
        {"NEAR(cafe noir)", "p3"},
        {"NEAR(noir cafe, 5) OR zeb*", "p3,p5"},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(syntax); i++) {
        char *q = lv_xasprintf("{\"fts\": \"%s\", %s}", syntax[i].fts, by_id);
        expect_ids(f->st, q, syntax[i].ids);
        free(q);
    }
    /* Combined with filters. */
    expect_ids(f->st,
               "{\"fts\": \"cafe\", \"parsed\": [{\"path\": [\"tags\"], \"op\": \"overlap\", "
               "\"value\": [\"Coffee\"]}]}",
               "p3");
}

/* Ranking by relevance alone considers the LV_STORE_CACHE_RANK_WINDOW most
 * recent matches; with any other filter (or a page beyond the window) every
 * match is ranked. */
static void test_fts_rank_window(void **state)
{
    struct fx *f = *state;
    enum { N = LV_STORE_CACHE_RANK_WINDOW + 10 };
    int64_t n = node(f->st, "alice", "s.org", "big", "blog", NULL);
    struct lv_store_cache_item *items = lv_xcalloc(N, sizeof(*items));
    char(*names)[16] = lv_xcalloc(N, sizeof(*names));
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "w%05d", i);
        /* The oldest item is by far the most relevant. */
        const char *text = i == 0 ? "word word word word word" : "word and many other things";
        items[i] = (struct lv_store_cache_item){names[i], "<x/>", text, NULL, 1000 + i, 0};
    }
    assert_int_equal(lv_store_cache_items_upsert(f->st, n, items, N, NULL), 0);
    free(items);
    free(names);

    json_t *res = NULL;
    assert_int_equal(search(f->st, "{\"fts\": \"word\", \"limit\": 1}", &res, NULL), 0);
    assert_string_not_equal(json_string_value(json_object_get(json_array_get(res, 0), "item_id")),
                            "w00000");
    json_decref(res);
    expect_ids(f->st, "{\"fts\": \"word\", \"limit\": 1, \"nodes\": [\"big\"]}", "w00000");
    char q[128];
    snprintf(q, sizeof(q), "{\"fts\": \"word\", \"limit\": 20, \"index\": %d}", N - 20);
    assert_int_equal(search(f->st, q, &res, NULL), 0);
    assert_int_equal(json_array_size(res), 20); /* the window grew to hold the page */
    json_decref(res);
}

static void test_fts_errors(void **state)
{
    struct fx *f = *state;
    ops_data(f->st);
    expect_inval(f->st, "{\"fts\": \"\\\"unbalanced\"}", "full-text query: unbalanced quotes");
    expect_inval(f->st, "{\"fts\": \"cafe AND\"}", "full-text query: incomplete");
    expect_inval(f->st, "{\"fts\": \"(cafe\"}", "full-text query: incomplete");
    expect_inval(f->st, "{\"fts\": \"cafe OR OR tea\"}",
                 "full-text query: syntax error near \"OR\"");
    expect_inval(f->st, "{\"fts\": \"title:cafe\"}", "full-text query: unknown column");
    expect_inval(f->st, "{\"fts\": \"*\"}", "full-text query: misplaced '*'");
    expect_inval(f->st, "{\"fts\": \"\"}", "full-text query: empty");
    expect_inval(f->st, "{\"fts\": 3}", "fts: not a string");
    /* After an error, the store works on. */
    expect_ids(f->st, "{\"fts\": \"tea\"}", "p2");
}

static void test_query_errors(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *query, *fragment;
    } cases[] = {
        {"[]", "not a JSON object"},
        {"{\"nodez\": []}", "unknown search key \"nodez\""},
        {"{\"parsed\": [{\"path\": [\"a b\"], \"op\": \"==\", \"value\": 1}]}",
         "parsed[0]: bad path: key \"a b\""},
        {"{\"parsed\": [{\"path\": [\"a'\"], \"op\": \"==\", \"value\": 1}]}", "bad path"},
        {"{\"parsed\": [{\"path\": [\"a\\\"]\"], \"op\": \"==\", \"value\": 1}]}", "bad path"},
        {"{\"parsed\": [{\"path\": [-1], \"op\": \"==\", \"value\": 1}]}", "bad path"},
        {"{\"parsed\": [{\"path\": [1.5], \"op\": \"==\", \"value\": 1}]}", "bad path"},
        {"{\"parsed\": [{\"path\": \"tags\", \"op\": \"==\", \"value\": 1}]}", "bad path"},
        {"{\"parsed\": [{\"path\": [], \"op\": \"==\", \"value\": 1}]}", "bad path"},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \"~=\", \"value\": 1}]}",
         "parsed[0]: unknown operator \"~=\""},
        {"{\"parsed\": [{\"path\": [\"a\"], \"value\": 1}]}", "no operator"},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \"==\"}]}", "the value of \"==\" must be"},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \"==\", \"value\": [1]}]}",
         "the value of \"==\" must be a string, number, boolean or null"},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \">=\", \"value\": true}]}",
         "the value of \">=\" must be a string or a number"},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \"between\", \"value\": [1]}]}",
         "the value of \"between\" must be an array of two numbers or two strings"},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \"between\", \"value\": [1, \"z\"]}]}",
         "\"between\""},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \"in\", \"value\": \"x\"}]}",
         "the value of \"in\" must be a non-empty array"},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \"not_in\", \"value\": []}]}", "\"not_in\""},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \"like\", \"value\": 3}]}",
         "the value of \"like\" must be a string"},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \"ioverlap\", \"value\": [1]}]}",
         "the value of \"ioverlap\" must be a non-empty array of strings"},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \"overlap\", \"value\": \"x\"}]}",
         "\"overlap\""},
        {"{\"parsed\": [{\"path\": [\"a\"], \"op\": \"==\", \"value\": 1, \"x\": 1}]}",
         "parsed[0]: unknown member \"x\""},
        {"{\"parsed\": {}}", "parsed: use an array"},
        {"{\"order_by\": [{\"order\": \"rank\"}]}", "rank needs a full-text query"},
        {"{\"order_by\": [{\"order\": \"bogus\"}]}", "order_by[0]: unknown order"},
        {"{\"order_by\": [{\"order\": \"creation\", \"direction\": \"up\"}]}", "direction"},
        {"{\"order_by\": [{\"path\": [\"a b\"]}]}", "order_by[0]: bad path"},
        {"{\"limit\": 1001}", "limit"},
        {"{\"limit\": 0}", "limit"},
        {"{\"index\": -1}", "index"},
        {"{\"with_payload\": 1}", "with_payload"},
        {"{\"services\": [1]}", "services: element 0 is not a string"},
        {"{\"profiles\": \"alice\"}", "profiles: use an array"},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++)
        expect_inval(f->st, cases[i].query, cases[i].fragment);
    /* Null members are absent, a path may hold ':' '#' '.' '-' and indexes. */
    expect_ids(f->st,
               "{\"fts\": null, \"parsed\": [{\"path\": [\"urn:x#y.z-1\", 0], \"op\": \"==\", "
               "\"value\": 1}]}",
               "");
}

/* ---- categories, purges, maintenance --------------------------------------- */

static void test_categories(void **state)
{
    struct fx *f = *state;
    ops_data(f->st);
    int64_t other = node(f->st, "bob", "s.org", "other", "blog", NULL);
    put(f->st, other, "o1", "{\"tags\": [\"zzz\", \"rust\"]}", 1);
    struct lv_store_cache_category *v;
    size_t n;
    struct lv_store_cache_node_filter flt = {.node = "ops"};

    assert_int_equal(lv_store_cache_categories(f->st, &flt, 0, &v, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_string_equal(v[0].tag, "Rust"); /* "Rust" and "rust" count together */
    assert_int_equal(v[0].count, 2);
    assert_string_equal(v[1].tag, "café");
    assert_string_equal(v[2].tag, "Coffee");
    assert_string_equal(v[3].tag, "tea");
    assert_int_equal(v[3].count, 1);
    lv_store_cache_categories_free(v, n);

    assert_int_equal(lv_store_cache_categories(f->st, NULL, 2, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].count, 3);
    lv_store_cache_categories_free(v, n);

    flt = (struct lv_store_cache_node_filter){.profile = "bob"};
    assert_int_equal(lv_store_cache_categories(f->st, &flt, 0, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    lv_store_cache_categories_free(v, n);

    /* An edit that drops a tag drops its count. */
    put(f->st, other, "o1", "{\"tags\": [\"rust\"]}", 1);
    assert_int_equal(lv_store_cache_categories(f->st, &flt, 0, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].tag, "rust");
    lv_store_cache_categories_free(v, n);
}

static void test_purge_filters(void **state)
{
    struct fx *f = *state;
    int64_t blog = node(f->st, "alice", "s.org", "blog", "blog", NULL);
    int64_t ev = node(f->st, "alice", "s.org", "events", "event", NULL);
    int64_t raw = node(f->st, "bob", "t.org", "raw", NULL, NULL);
    size_t deleted = 0;

    put(f->st, blog, "old1", "{}", 1);
    put(f->st, blog, "old2", "{}", 2);
    put(f->st, ev, "e1", "{}", 1);
    put_raw(f->st, raw, "r1", "x");
    double t1 = tick();
    put(f->st, blog, "new1", "{}", 3);

    const char *event[] = {"event", NULL};
    struct lv_store_cache_purge_filter pf = {.types = event};
    assert_int_equal(lv_store_cache_purge(f->st, &pf, &deleted, NULL), 0);
    assert_int_equal(deleted, 1);
    expect_ids(f->st, "{\"order_by\": [{\"order\": \"item_id\"}]}", "new1,old1,old2,r1");

    const char *untyped[] = {"", NULL};
    pf = (struct lv_store_cache_purge_filter){.types = untyped, .created_before = t1};
    assert_int_equal(lv_store_cache_purge(f->st, &pf, &deleted, NULL), 0);
    assert_int_equal(deleted, 1);
    expect_ids(f->st, "{\"order_by\": [{\"order\": \"item_id\"}]}", "new1,old1,old2");

    /* old1 is written again: it arrived before t2, but was modified after. */
    double t2 = tick();
    put(f->st, blog, "old1", "{\"title\": \"edited\"}", 1);
    pf = (struct lv_store_cache_purge_filter){.modified_before = t2};
    assert_int_equal(lv_store_cache_purge(f->st, &pf, &deleted, NULL), 0);
    assert_int_equal(deleted, 2);
    expect_ids(f->st, "{}", "old1");

    const char *alice[] = {"alice", NULL}, *nodes[] = {"blog", NULL};
    pf = (struct lv_store_cache_purge_filter){.profiles = alice, .nodes = nodes};
    assert_int_equal(lv_store_cache_purge(f->st, &pf, &deleted, NULL), 0);
    assert_int_equal(deleted, 1);
    const char *empty[] = {NULL};
    pf = (struct lv_store_cache_purge_filter){.services = empty};
    assert_int_equal(lv_store_cache_purge(f->st, &pf, &deleted, NULL), LV_ERR_INVAL);

    /* Purges keep the nodes; a reset drops them. */
    struct lv_store_cache_stats stats;
    assert_int_equal(lv_store_cache_stats(f->st, &stats, NULL), 0);
    assert_int_equal(stats.nodes, 3);
    assert_int_equal(stats.items, 0);
    assert_true(stats.db_bytes > 0);
    put(f->st, blog, "again", "{\"tags\": [\"t\"]}", 5);
    assert_int_equal(lv_store_cache_purge(f->st, NULL, &deleted, NULL), 0);
    assert_int_equal(deleted, 1);
    put(f->st, blog, "again", "{\"tags\": [\"t\"]}", 5);
    assert_int_equal(lv_store_cache_reset(f->st, NULL), 0);
    assert_int_equal(lv_store_cache_stats(f->st, &stats, NULL), 0);
    assert_int_equal(stats.nodes, 0);
    assert_int_equal(stats.items, 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pubsub_item_tags"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM profiles"), 2);
    assert_fts_consistent(f->path);
}

/* ---- the bound -------------------------------------------------------------- */

/* The counter the bound reads agrees with the items there are. */
static void assert_count_consistent(struct fx *f)
{
    struct lv_store_cache_stats stats;
    assert_int_equal(lv_store_cache_stats(f->st, &stats, NULL), 0);
    assert_int_equal(stats.items, raw_int(f->path, "SELECT count(*) FROM pubsub_items"));
}

static void expect_trimmed(struct lv_store *st, const char *profile, const char *name,
                           int64_t items, double upto)
{
    struct lv_store_cache_node n;
    assert_int_equal(lv_store_cache_node_get(st, profile, "s.org", name, &n, NULL), 0);
    if (n.trimmed_items != items || n.trimmed_upto != upto)
        fail_msg("node %s: trimmed %lld up to %g, expected %lld up to %g", name,
                 (long long)n.trimmed_items, n.trimmed_upto, (long long)items, upto);
    lv_store_cache_node_release(&n);
}

static void trim_expect(struct lv_store *st, int64_t max, size_t batch, size_t deleted,
                        int64_t excess)
{
    size_t d = 99;
    int64_t e = 99;
    struct lv_error err = {0};
    if (lv_store_cache_trim(st, max, batch, &d, &e, &err) != 0)
        fail_msg("trim: %s", err.msg);
    if (d != deleted || e != excess)
        fail_msg("trim to %lld by %zu: deleted %zu, %lld left over; expected %zu, %lld",
                 (long long)max, batch, d, (long long)e, deleted, (long long)excess);
}

static void test_trim(void **state)
{
    struct fx *f = *state;
    int64_t a = node(f->st, "alice", "s.org", "a", "blog", NULL);
    int64_t b = node(f->st, "bob", "s.org", "b", "blog", NULL);
    int64_t c = node(f->st, "alice", "s.org", "c", NULL, NULL);
    char name[8];
    for (int i = 1; i <= 6; i++) {
        snprintf(name, sizeof(name), "a%d", i);
        put(f->st, a, name, "{\"tags\": [\"t\"]}", 10.0 * i);
    }
    for (int i = 1; i <= 4; i++) {
        snprintf(name, sizeof(name), "b%d", i);
        put(f->st, b, name, "{}", 10.0 * i + 5);
    }
    /* No date of their own: their arrival (now) is their date, the newest. */
    put_raw(f->st, c, "c1", "raw one");
    put_raw(f->st, c, "c2", "raw two");
    assert_int_equal(
        lv_store_cache_node_set_sync(f->st, a, LV_STORE_CACHE_SYNC_COMPLETED, NULL, 0, NULL), 0);

    trim_expect(f->st, 12, 5, 0, 0); /* within the bound */
    trim_expect(f->st, 0, 5, 0, 0);  /* no bound */
    /* Oldest first across nodes and profiles, a batch at a time: a1 (10),
     * b1 (15), a2 (20); then b2 (25), a3 (30). */
    trim_expect(f->st, 7, 3, 3, 2);
    expect_trimmed(f->st, "alice", "a", 2, 20);
    expect_trimmed(f->st, "bob", "b", 1, 15);
    trim_expect(f->st, 7, 3, 2, 0);
    trim_expect(f->st, 7, 3, 0, 0);
    expect_trimmed(f->st, "alice", "a", 3, 30);
    expect_trimmed(f->st, "bob", "b", 2, 25);
    expect_trimmed(f->st, "alice", "c", 0, 0);
    expect_ids(f->st, "{\"order_by\": [{\"order\": \"item_id\"}]}", "a4,a5,a6,b3,b4,c1,c2");
    assert_count_consistent(f);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pubsub_item_tags"), 3);
    assert_fts_consistent(f->path);

    /* A trimmed node keeps its sync state; the list shows the trim. */
    struct lv_store_cache_node *v;
    size_t len;
    struct lv_store_cache_node_filter flt = {.profile = "alice", .node = "a"};
    assert_int_equal(lv_store_cache_node_list(f->st, &flt, &v, &len, NULL), 0);
    assert_int_equal(len, 1);
    assert_int_equal(v[0].sync_state, LV_STORE_CACHE_SYNC_COMPLETED);
    assert_int_equal(v[0].item_count, 3);
    assert_int_equal(v[0].trimmed_items, 3);
    assert_true(v[0].trimmed_upto == 30);
    lv_store_cache_nodes_free(v, len);

    /* An item older than what was trimmed comes back (a late notification):
     * the record keeps the newest date trimmed. */
    put(f->st, a, "a0", "{}", 5);
    trim_expect(f->st, 7, 10, 1, 0);
    expect_trimmed(f->st, "alice", "a", 4, 30);

    /* Purging a node empties it: nothing is missing any more. */
    assert_int_equal(lv_store_cache_node_purge(f->st, a, NULL, NULL), 0);
    expect_trimmed(f->st, "alice", "a", 0, 0);
    expect_trimmed(f->st, "bob", "b", 2, 25);

    struct lv_error err = {0};
    assert_int_equal(lv_store_cache_trim(f->st, 7, 0, NULL, NULL, &err), LV_ERR_INVAL);
    assert_int_equal(
        lv_store_cache_trim(f->st, 7, LV_STORE_CACHE_TRIM_BATCH_MAX + 1, NULL, NULL, &err),
        LV_ERR_INVAL);
    assert_int_equal(lv_store_cache_trim(f->st, -1, 10, NULL, NULL, &err), LV_ERR_INVAL);
    trim_expect(f->st, 1, 10, 3, 0); /* b3, b4, c1 */
    expect_ids(f->st, "{}", "c2");
    assert_count_consistent(f);
}

/* The item counter follows every way items come and go. */
static void test_item_counter(void **state)
{
    struct fx *f = *state;
    int64_t a = node(f->st, "alice", "s.org", "a", "blog", NULL);
    int64_t b = node(f->st, "bob", "s.org", "b", "blog", NULL);
    struct lv_store_cache_item items[3] = {
        {"x", "<x/>", "one", NULL, 1, 0},
        {"y", "<y/>", "two", NULL, 2, 0},
        {"z", "<z/>", "three", NULL, 3, 0},
    };
    assert_int_equal(lv_store_cache_items_upsert(f->st, a, items, 3, NULL), 0);
    assert_int_equal(lv_store_cache_items_upsert(f->st, b, items, 2, NULL), 0);
    assert_count_consistent(f);
    /* Upserts of cached items replace them: no new item. */
    assert_int_equal(lv_store_cache_items_upsert(f->st, a, items, 3, NULL), 0);
    put(f->st, a, "w", "{}", 4);
    put(f->st, a, "w", "{\"title\": \"w again\"}", 4);
    assert_count_consistent(f);
    struct lv_store_cache_stats stats;
    assert_int_equal(lv_store_cache_stats(f->st, &stats, NULL), 0);
    assert_int_equal(stats.items, 6);

    const char *names[] = {"x", "nope"};
    assert_int_equal(lv_store_cache_items_delete(f->st, a, names, 2, NULL, NULL), 0);
    assert_count_consistent(f);
    assert_int_equal(lv_store_cache_node_purge(f->st, b, NULL, NULL), 0);
    assert_count_consistent(f);
    assert_int_equal(lv_store_cache_items_upsert(f->st, b, items, 3, NULL), 0);
    const char *bob[] = {"bob", NULL};
    struct lv_store_cache_purge_filter pf = {.profiles = bob};
    assert_int_equal(lv_store_cache_purge(f->st, &pf, NULL, NULL), 0);
    assert_count_consistent(f);
    assert_int_equal(lv_store_cache_items_upsert(f->st, b, items, 3, NULL), 0);
    assert_int_equal(lv_store_cache_node_delete(f->st, b, NULL), 0); /* cascade */
    assert_count_consistent(f);
    assert_int_equal(lv_store_profile_delete(f->st, "alice", NULL), 0); /* two cascades */
    assert_count_consistent(f);
    assert_int_equal(lv_store_cache_stats(f->st, &stats, NULL), 0);
    assert_int_equal(stats.items, 0);
    a = node(f->st, "bob", "s.org", "a", "blog", NULL);
    assert_int_equal(lv_store_cache_items_upsert(f->st, a, items, 3, NULL), 0);
    assert_int_equal(lv_store_cache_reset(f->st, NULL), 0);
    assert_count_consistent(f);
    assert_int_equal(raw_int(f->path, "SELECT items FROM pubsub_cache_count"), 0);
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
        cmocka_unit_test_setup_teardown(test_migration_on_top_of_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_ensure_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_sync_state_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_batch_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_purge_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_filters_orders_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_filter_rare_and_common, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fts_rank_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fts_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_categories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_bound_on_filled_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_counter, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
