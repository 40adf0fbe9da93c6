/* Unit tests of lv_store: opening and migrations, profiles, the default
 * profile, parameters and private data.
 *
 * The same tests run over both backends: SQLite by default, PostgreSQL when
 * LV_TEST_STORE_URI names a database (tests/integration/store_postgres.sh
 * starts a private server and sets it). On PostgreSQL every test starts from
 * an empty schema, as a new SQLite file or ":memory:" database would; tests
 * of what only SQLite has (file mode, WAL, the "sqlite:" prefix) are
 * skipped. Raw sqlite3/libpq calls look at the database behind the interface
 * where the interface cannot show what matters (rows left behind, the
 * schema_version table). */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/lv_migration.h"
#include "store/lv_store.h"
#include "store/lv_store_backend.h"
#include "store/lv_store_cache.h"
#include "store/postgres/lv_store_postgres.h"

/* The PostgreSQL database under test, or NULL for SQLite. */
static const char *pg_uri;

/* Skips a test of something only SQLite has. */
#define SQLITE_ONLY()                                                                              \
    do {                                                                                           \
        if (pg_uri)                                                                                \
            skip();                                                                                \
    } while (0)

static size_t migrations_count(void)
{
    return pg_uri ? lv_postgres_migrations_count : lv_sqlite_migrations_count;
}

static int last_version(void)
{
    const struct lv_migration *m = pg_uri ? lv_postgres_migrations : lv_sqlite_migrations;
    return m[migrations_count() - 1].version;
}

/* ---- raw database access --------------------------------------------------- */

struct raw {
    sqlite3 *db;
    PGconn *pg;
};

static struct raw raw_open(const char *path)
{
    struct raw r = {0};
    if (pg_uri) {
        r.pg = PQconnectdb(path);
        if (PQstatus(r.pg) != CONNECTION_OK)
            fail_msg("connect %s: %s", path, PQerrorMessage(r.pg));
        return r;
    }
    assert_int_equal(sqlite3_open_v2(path, &r.db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return r;
}

static void raw_close(struct raw *r)
{
    sqlite3_close(r->db);
    PQfinish(r->pg);
}

static void raw_exec(struct raw *r, const char *sql)
{
    if (r->db) {
        assert_int_equal(sqlite3_exec(r->db, sql, NULL, NULL, NULL), SQLITE_OK);
        return;
    }
    PGresult *res = PQexec(r->pg, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
}

/* Column 0 of the one row of sql, as text (NULL for SQL NULL); caller frees.
 * The query takes one text parameter, arg. */
static char *raw_text(struct raw *r, const char *sql, const char *arg)
{
    char *out = NULL;
    if (r->pg) {
        PGresult *res = PQexecParams(r->pg, sql, arg ? 1 : 0, NULL, &arg, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
            fail_msg("%s: %s", sql, PQresultErrorMessage(res));
        if (!PQgetisnull(res, 0, 0))
            out = lv_xstrdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        return out;
    }
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(r->db, sql, -1, &st, NULL), SQLITE_OK);
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    if (sqlite3_column_type(st, 0) != SQLITE_NULL)
        out = lv_xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static int64_t raw_int(struct raw *r, const char *sql)
{
    char *s = raw_text(r, sql, NULL);
    assert_non_null(s);
    int64_t v = strtoll(s, NULL, 10);
    free(s);
    return v;
}

static bool raw_has_table(struct raw *r, const char *name)
{
    const char *sql = r->pg ? "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                              "AND tablename = $1"
                            : "SELECT count(*) FROM sqlite_master WHERE name = ?1";
    char *s = raw_text(r, sql, name);
    bool found = strcmp(s, "0") != 0;
    free(s);
    return found;
}

/* Empties the PostgreSQL database: what a new SQLite file is to SQLite. */
static void pg_reset(void)
{
    struct raw r = raw_open(pg_uri);
    raw_exec(&r, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
                 "CREATE SCHEMA public");
    raw_close(&r);
}

/* ---- fixtures -------------------------------------------------------------- */

/* A new, empty store. */
static int mem_setup(void **state)
{
    struct lv_store *st;
    struct lv_error err = {0};
    if (pg_uri)
        pg_reset();
    if (lv_store_open(pg_uri ? pg_uri : ":memory:", &st, &err) != 0) {
        print_error("open: %s\n", err.msg);
        return -1;
    }
    *state = st;
    return 0;
}

static int mem_teardown(void **state)
{
    lv_store_close(*state);
    return 0;
}

/* A database that outlives the store opened on it: a file in a private
 * directory, or the (emptied) PostgreSQL database. path is what
 * lv_store_open takes. */
struct tmp {
    char dir[256];
    char path[1024];
};

static int tmp_setup(void **state)
{
    struct tmp *t = lv_xcalloc(1, sizeof(*t));
    *state = t;
    if (pg_uri) {
        pg_reset();
        snprintf(t->path, sizeof(t->path), "%s", pg_uri);
        return 0;
    }
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof(t->dir), "%s/lv_store_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    snprintf(t->path, sizeof(t->path), "%s/libervia.db", t->dir);
    return 0;
}

static void remove_suffixed(const char *path, const char *suffix)
{
    char p[1100];
    snprintf(p, sizeof(p), "%s%s", path, suffix);
    unlink(p);
}

static int tmp_teardown(void **state)
{
    struct tmp *t = *state;
    if (!pg_uri) {
        remove_suffixed(t->path, "");
        remove_suffixed(t->path, "-wal");
        remove_suffixed(t->path, "-shm");
        rmdir(t->dir);
    }
    free(t);
    return 0;
}

static struct lv_store *open_file(const struct tmp *t)
{
    struct lv_store *st = NULL;
    struct lv_error err = {0};
    int rc = lv_store_open(t->path, &st, &err);
    if (rc != 0)
        fail_msg("open %s: %s", t->path, err.msg);
    return st;
}

/* ---- opening and migrations ------------------------------------------------ */

static void test_memory_schema_version(void **state)
{
    int v = -1;
    assert_int_equal(lv_store_schema_version(*state, &v), 0);
    assert_true(migrations_count() > 0);
    assert_int_equal(v, last_version());
}

static void test_file_reopen_idempotent(void **state)
{
    struct tmp *t = *state;
    struct lv_store *st = open_file(t);
    assert_int_equal(lv_store_profile_create(st, "alice", NULL, NULL), 0);
    assert_int_equal(lv_store_param_set(st, "alice", "Connection", "JabberID", "a@x.org", NULL), 0);
    lv_store_close(st);

    st = open_file(t);
    int v = -1;
    assert_int_equal(lv_store_schema_version(st, &v), 0);
    assert_int_equal(v, last_version());
    char *val = NULL;
    assert_int_equal(lv_store_param_get(st, "alice", "Connection", "JabberID", &val, NULL), 0);
    assert_string_equal(val, "a@x.org");
    free(val);
    lv_store_close(st);

    struct raw r = raw_open(t->path);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM schema_version"),
                     (int64_t)migrations_count());
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM settings"), 1);
    raw_close(&r);
}

/* Processes starting together on a new database: the migrations run once
 * (BEGIN IMMEDIATE in SQLite, an advisory lock in PostgreSQL) and every
 * process opens the store. A pipe holds the children until all are forked. */
#define RACERS 6

static void racer(const char *path, int gate, int i)
{
    char c, name[16];
    struct lv_store *st = NULL;
    struct lv_error err = {0};
    if (read(gate, &c, 1) != 0)
        _exit(2);
    snprintf(name, sizeof(name), "p%d", i);
    int rc = lv_store_open(path, &st, &err);
    if (rc == 0)
        rc = lv_store_profile_create(st, name, NULL, &err);
    if (rc != 0)
        fprintf(stderr, "racer %d: %s\n", i, err.msg);
    lv_store_close(st);
    _exit(rc == 0 ? 0 : 1);
}

static void test_concurrent_open(void **state)
{
    struct tmp *t = *state;
    int gate[2];
    pid_t pids[RACERS];
    assert_int_equal(pipe(gate), 0);
    fflush(NULL);
    for (int i = 0; i < RACERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(gate[1]);
            racer(t->path, gate[0], i);
        }
    }
    close(gate[0]);
    close(gate[1]); /* go */
    for (int i = 0; i < RACERS; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    struct raw r = raw_open(t->path);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM schema_version"),
                     (int64_t)migrations_count());
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM profiles"), RACERS);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM settings"), 1);
    raw_close(&r);
}

static void test_file_mode_0600(void **state)
{
    SQLITE_ONLY();
    struct tmp *t = *state;
    mode_t old = umask(022); /* a usual umask, which alone would give 0644 */
    struct lv_store *st = open_file(t);
    umask(old);

    struct stat sb;
    assert_int_equal(stat(t->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* The WAL file exists while the store is open and holds the same data. */
    char wal[1100];
    snprintf(wal, sizeof(wal), "%s-wal", t->path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    lv_store_close(st);
}

static void test_wal_mode(void **state)
{
    SQLITE_ONLY();
    struct tmp *t = *state;
    lv_store_close(open_file(t));
    struct raw r = raw_open(t->path);
    char *mode = raw_text(&r, "PRAGMA journal_mode", NULL);
    assert_string_equal(mode, "wal");
    free(mode);
    raw_close(&r);
}

static void test_sqlite_prefix(void **state)
{
    SQLITE_ONLY();
    struct tmp *t = *state;
    char uri[1100];
    snprintf(uri, sizeof(uri), "sqlite:%s", t->path);
    struct lv_store *st = NULL;
    assert_int_equal(lv_store_open(uri, &st, NULL), 0);
    assert_int_equal(lv_store_profile_create(st, "bob", NULL, NULL), 0);
    lv_store_close(st);

    /* The plain path is the same database. */
    st = open_file(t);
    struct lv_profile_rec p;
    assert_int_equal(lv_store_profile_get(st, "bob", &p, NULL), 0);
    lv_profile_rec_release(&p);
    lv_store_close(st);
}

static void test_newer_schema_refused(void **state)
{
    struct tmp *t = *state;
    lv_store_close(open_file(t));
    struct raw r = raw_open(t->path);
    raw_exec(&r, "INSERT INTO schema_version (version, name, applied_at) "
                 "VALUES (9999, '9999_future.sql', 0)");
    raw_close(&r);

    struct lv_store *st = (struct lv_store *)&st; /* must be reset to NULL */
    struct lv_error err = {0};
    char want[128];
    snprintf(want, sizeof(want), "database schema version 9999 is newer than this program (%d)",
             last_version());
    assert_int_equal(lv_store_open(t->path, &st, &err), LV_ERR_STORE);
    assert_null(st);
    assert_int_equal(err.code, LV_ERR_STORE);
    assert_string_equal(err.msg, want);
}

static const struct lv_migration good_then_bad[] = {
    {1, "0001_one.sql", "CREATE TABLE t1 (x INTEGER);"},
    {2, "0002_bad.sql", "CREATE TABLE t2 (x INTEGER);\nINSERT INTO nope VALUES (1);"},
    {3, "0003_three.sql", "CREATE TABLE t3 (x INTEGER);"},
};

static const struct lv_migration fixed[] = {
    {1, "0001_one.sql", "CREATE TABLE t1 (x INTEGER);"},
    {2, "0002_fixed.sql", "CREATE TABLE t2 (x INTEGER);"},
};

static const struct lv_store_backend *backend(void)
{
    return pg_uri ? &lv_store_postgres_backend : &lv_store_sqlite_backend;
}

static int open_with(const char *path, const struct lv_migration *migs, size_t n, void **be,
                     struct lv_error *err)
{
    if (pg_uri)
        return lv_store_postgres_open_with(path, migs, n, be, err);
    return lv_store_sqlite_open_with(path, migs, n, be, err);
}

/* A failing migration is rolled back whole, the ones before it stay, the
 * ones after it are not tried, and the error names it with the database's
 * reason. */
static void test_migration_failure_rolls_back(void **state)
{
    struct tmp *t = *state;
    void *be = NULL;
    struct lv_error err = {0};
    assert_int_equal(open_with(t->path, good_then_bad, 3, &be, &err), LV_ERR_STORE);
    assert_null(be);
    assert_non_null(strstr(err.msg, "0002_bad.sql"));
    assert_non_null(
        strstr(err.msg, pg_uri ? "relation \"nope\" does not exist" : "no such table: nope"));

    struct raw r = raw_open(t->path);
    assert_int_equal(raw_int(&r, "SELECT MAX(version) FROM schema_version"), 1);
    assert_true(raw_has_table(&r, "t1"));
    assert_false(raw_has_table(&r, "t2"));
    assert_false(raw_has_table(&r, "t3"));
    raw_close(&r);

    /* A later program whose migration 2 works picks up from version 1. */
    assert_int_equal(open_with(t->path, fixed, 2, &be, &err), 0);
    int v = 0;
    assert_int_equal(backend()->schema_version(be, &v), 0);
    assert_int_equal(v, 2);
    backend()->close(be);
}

/* Nothing that could hold a password: every secret below has "secret" in
 * it, and neither the messages nor the log may show one. Port 1 on the
 * loopback refuses at once, with or without a server on 55432. */
static void test_open_errors(void **state)
{
    static const struct {
        const char *uri;
        int code;
        const char *msg; /* a part of the message, or NULL */
    } cases[] = {
        {"postgresql://lvuser:pw-secret-1@127.0.0.1:1/libervia", LV_ERR_IO,
         "cannot connect to PostgreSQL at postgresql://lvuser@127.0.0.1:1/libervia: "},
        {"postgres://lvuser@127.0.0.1:1/libervia?password=pw-secret-2&connect_timeout=5", LV_ERR_IO,
         "cannot connect to PostgreSQL at postgresql://lvuser@127.0.0.1:1/libervia: "},
        {"postgresql://lvuser:pw%2Dsecret%2D3@127.0.0.1:1/libervia", LV_ERR_IO,
         "postgresql://lvuser@127.0.0.1:1/libervia"},
        {"postgresql://lvuser:pw-secret-%zz@127.0.0.1:1/libervia", LV_ERR_CONFIG,
         "invalid PostgreSQL URI: "},
        {"postgresql://lvuser:pw-secret-5@127.0.0.1:1/libervia?nosuchoption=1", LV_ERR_CONFIG,
         "nosuchoption"},
        {"postgresql://lvuser:pw-secret-6@[::1/libervia", LV_ERR_CONFIG, "invalid PostgreSQL URI"},
        {"postgresql://lvuser:pw?secret-7@[::1/libervia?password=pw-secret-8", LV_ERR_CONFIG,
         "invalid PostgreSQL URI"},
        {"postgresql://lvuser@127.0.0.1:1/libervia?sslpassword=pw-secret-9&sslmode=bogus",
         LV_ERR_IO, NULL},
        {"mysql://db/libervia", LV_ERR_CONFIG, "mysql"},
        {"", LV_ERR_INVAL, NULL},
        {"sqlite:", LV_ERR_INVAL, NULL},
        {"/nonexistent-dir-for-lv-tests/x.db", LV_ERR_STORE, "nonexistent-dir-for-lv-tests"},
    };
    FILE *log = tmpfile();
    assert_non_null(log);
    lv_log_set_stream(log);
    lv_log_set_level(LV_LOG_TRACE);
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        struct lv_store *st = NULL;
        struct lv_error err = {0};
        assert_int_equal(lv_store_open(cases[i].uri, &st, &err), cases[i].code);
        assert_null(st);
        assert_int_equal(err.code, cases[i].code);
        if (cases[i].msg && !strstr(err.msg, cases[i].msg))
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].uri, err.msg, cases[i].msg);
        if (strstr(err.msg, "secret"))
            fail_msg("%s: message \"%s\" shows the password", cases[i].uri, err.msg);
    }
    lv_log_set_level(LV_LOG_WARN);
    lv_log_set_stream(stderr);
    char line[1024];
    rewind(log);
    while (fgets(line, sizeof(line), log))
        if (strstr(line, "secret"))
            fail_msg("the log shows a password: %s", line);
    fclose(log);

    assert_int_equal(lv_store_open(NULL, &(struct lv_store *){NULL}, NULL), LV_ERR_INVAL);
    lv_store_close(NULL);
    lv_profile_rec_release(NULL);
}

/* A server that answers but has no such database: the message says so. */
static void test_pg_missing_database(void **state)
{
    if (!pg_uri)
        skip();
    char uri[1100];
    const char *slash = strrchr(pg_uri, '/');
    snprintf(uri, sizeof(uri), "%.*s/lv_no_such_db", (int)(slash - pg_uri), pg_uri);
    struct lv_store *st = NULL;
    struct lv_error err = {0};
    assert_int_equal(lv_store_open(uri, &st, &err), LV_ERR_IO);
    assert_null(st);
    assert_non_null(strstr(err.msg, "cannot connect to PostgreSQL at "));
    assert_non_null(strstr(err.msg, "database \"lv_no_such_db\" does not exist"));
}

/* A connection the server drops (a restart, a failover, an administrator)
 * fails the call that meets it as a transient error, and the store
 * reconnects on the next call. */
static void test_pg_reconnect(void **state)
{
    if (!pg_uri)
        skip();
    struct lv_store *st = *state;
    struct lv_error err = {0};
    assert_int_equal(lv_store_profile_create(st, "alice", NULL, NULL), 0);
    struct raw r = raw_open(pg_uri);
    assert_int_equal(raw_int(&r, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE application_name = 'libervia'"),
                     1);
    raw_close(&r);

    struct lv_profile_rec p;
    assert_int_equal(lv_store_profile_get(st, "alice", &p, &err), LV_ERR_AGAIN);
    assert_non_null(strstr(err.msg, "lost the connection to PostgreSQL at postgresql://"));
    assert_int_equal(lv_store_profile_get(st, "alice", &p, NULL), 0);
    assert_string_equal(p.name, "alice");
    lv_profile_rec_release(&p);
}

/* A backend without the pubsub cache (its cache table NULL) answers every
 * cache call with LV_ERR_CONFIG instead of reaching operations it lacks.
 * Both backends have the cache now: a copy of the store's backend without
 * it stands for such a backend. */
static void test_cache_not_supported(void **state)
{
    struct lv_store *st = *state;
    struct lv_store_backend bare = *st->be;
    const struct lv_store_backend *saved = st->be;
    struct lv_store_cache_stats stats;
    struct lv_store_cache_node node;
    struct lv_error err = {0};
    char want[128];
    bare.cache = NULL;
    st->be = &bare;
    snprintf(want, sizeof(want), "the pubsub cache is not supported by the %s backend yet",
             bare.name);
    assert_int_equal(lv_store_cache_stats(st, &stats, &err), LV_ERR_CONFIG);
    assert_string_equal(err.msg, want);
    assert_int_equal(lv_store_cache_node_get(st, "alice", "pubsub.example.org",
                                             "urn:xmpp:microblog:0", &node, NULL),
                     LV_ERR_CONFIG);
    st->be = saved;
    assert_int_equal(lv_store_cache_stats(st, &stats, NULL), 0);
}

/* ---- profiles -------------------------------------------------------------- */

static void test_profile_create_get_list_delete(void **state)
{
    struct lv_store *st = *state;
    static const char *const names[] = {"charlie", "alice", "bob"};
    for (size_t i = 0; i < LV_ARRAY_LEN(names); i++)
        assert_int_equal(lv_store_profile_create(st, names[i], NULL, NULL), 0);

    struct lv_profile_rec p;
    assert_int_equal(lv_store_profile_get(st, "bob", &p, NULL), 0);
    assert_string_equal(p.name, "bob");
    assert_null(p.component);
    assert_true(p.id > 0);
    lv_profile_rec_release(&p);

    struct lv_profile_rec *v;
    size_t n;
    assert_int_equal(lv_store_profile_list(st, &v, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].name, "alice");
    assert_string_equal(v[1].name, "bob");
    assert_string_equal(v[2].name, "charlie");
    for (size_t i = 0; i < n; i++)
        lv_profile_rec_release(&v[i]);
    free(v);

    assert_int_equal(lv_store_profile_delete(st, "bob", NULL), 0);
    assert_int_equal(lv_store_profile_get(st, "bob", &p, NULL), LV_ERR_NOT_FOUND);
    assert_null(p.name);
    assert_int_equal(lv_store_profile_list(st, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        lv_profile_rec_release(&v[i]);
    free(v);
}

/* Byte order, whatever the collation of the database: upper case first. */
static void test_profile_list_byte_order(void **state)
{
    struct lv_store *st = *state;
    static const char *const in[] = {"alice", "_x", "Zed", "bob", "Bob", "9", "a.b", "a-b"};
    static const char *const want[] = {"9", "Bob", "Zed", "_x", "a-b", "a.b", "alice", "bob"};
    for (size_t i = 0; i < LV_ARRAY_LEN(in); i++)
        assert_int_equal(lv_store_profile_create(st, in[i], NULL, NULL), 0);
    struct lv_profile_rec *v;
    size_t n;
    assert_int_equal(lv_store_profile_list(st, &v, &n, NULL), 0);
    assert_int_equal(n, LV_ARRAY_LEN(want));
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i].name, want[i]);
        lv_profile_rec_release(&v[i]);
    }
    free(v);
}

static void test_profile_list_empty(void **state)
{
    struct lv_profile_rec *v = (struct lv_profile_rec *)&v;
    size_t n = 42;
    assert_int_equal(lv_store_profile_list(*state, &v, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_null(v);
}

static void test_profile_duplicate(void **state)
{
    struct lv_store *st = *state;
    struct lv_error err = {0};
    assert_int_equal(lv_store_profile_create(st, "alice", NULL, NULL), 0);
    assert_int_equal(lv_store_profile_create(st, "alice", NULL, &err), LV_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "alice"));
    assert_int_equal(lv_store_profile_create(st, "alice", "ap-gateway", NULL), LV_ERR_CONFLICT);
}

static void test_profile_names(void **state)
{
    struct lv_store *st = *state;
    char too_long[LV_PROFILE_NAME_MAX + 2], longest[LV_PROFILE_NAME_MAX + 1];
    memset(too_long, 'a', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    memset(longest, 'b', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    const char *const bad[] = {"",     " ",    "a b",    "a/b",         "../x", "a:b",
                               "a\\b", "a\tb", "a\nb",   "caf\xc3\xa9", "a'b",  "a\"b",
                               "a;b",  "a%b",  too_long, NULL};
    const char *const good[] = {"a", "Az09_.@+-", "user@example.org", longest};

    for (size_t i = 0; i < LV_ARRAY_LEN(bad); i++) {
        struct lv_error err = {0};
        struct lv_profile_rec p;
        assert_false(lv_store_profile_name_valid(bad[i]));
        assert_int_equal(lv_store_profile_create(st, bad[i], NULL, &err), LV_ERR_INVAL);
        assert_int_equal(err.code, LV_ERR_INVAL);
        assert_int_equal(lv_store_profile_get(st, bad[i], &p, NULL), LV_ERR_INVAL);
        assert_int_equal(lv_store_profile_delete(st, bad[i], NULL), LV_ERR_INVAL);
    }
    for (size_t i = 0; i < LV_ARRAY_LEN(good); i++) {
        assert_true(lv_store_profile_name_valid(good[i]));
        assert_int_equal(lv_store_profile_create(st, good[i], NULL, NULL), 0);
    }
    size_t n;
    struct lv_profile_rec *v;
    assert_int_equal(lv_store_profile_list(st, &v, &n, NULL), 0);
    assert_int_equal(n, LV_ARRAY_LEN(good)); /* no bad name slipped in */
    for (size_t i = 0; i < n; i++)
        lv_profile_rec_release(&v[i]);
    free(v);
}

static void test_profile_unknown(void **state)
{
    struct lv_store *st = *state;
    struct lv_profile_rec p;
    struct lv_error err = {0};
    char *val = NULL;
    assert_int_equal(lv_store_profile_get(st, "ghost", &p, &err), LV_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "ghost"));
    assert_int_equal(lv_store_profile_delete(st, "ghost", NULL), LV_ERR_NOT_FOUND);
    assert_int_equal(lv_store_profile_default_set(st, "ghost", NULL), LV_ERR_NOT_FOUND);
    assert_int_equal(lv_store_param_get(st, "ghost", "Connection", "JabberID", &val, NULL),
                     LV_ERR_NOT_FOUND);
    assert_int_equal(lv_store_param_set(st, "ghost", "Connection", "JabberID", "g@x", NULL),
                     LV_ERR_NOT_FOUND);
    assert_int_equal(lv_store_param_set(st, "ghost", "Connection", "JabberID", NULL, NULL),
                     LV_ERR_NOT_FOUND);
    assert_int_equal(lv_store_private_get(st, "ghost", "ns", "k", &val, NULL), LV_ERR_NOT_FOUND);
    assert_int_equal(lv_store_private_set(st, "ghost", "ns", "k", "v", NULL), LV_ERR_NOT_FOUND);
    assert_int_equal(lv_store_private_set(st, "ghost", "ns", "k", NULL, NULL), LV_ERR_NOT_FOUND);
    assert_null(val);
}

static void test_profile_component(void **state)
{
    struct lv_store *st = *state;
    struct lv_profile_rec p;
    assert_int_equal(lv_store_profile_create(st, "gateway", "ap-gateway", NULL), 0);
    assert_int_equal(lv_store_profile_create(st, "user", NULL, NULL), 0);
    assert_int_equal(lv_store_profile_create(st, "empty", "", NULL), LV_ERR_INVAL);

    assert_int_equal(lv_store_profile_get(st, "gateway", &p, NULL), 0);
    assert_string_equal(p.component, "ap-gateway");
    lv_profile_rec_release(&p);

    struct lv_profile_rec *v;
    size_t n;
    assert_int_equal(lv_store_profile_list(st, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "gateway");
    assert_string_equal(v[0].component, "ap-gateway");
    assert_string_equal(v[1].name, "user");
    assert_null(v[1].component);
    for (size_t i = 0; i < n; i++)
        lv_profile_rec_release(&v[i]);
    free(v);
}

static void assert_default(struct lv_store *st, const char *want)
{
    char *name = NULL;
    int rc = lv_store_profile_default_get(st, &name, NULL);
    if (!want) {
        assert_int_equal(rc, LV_ERR_NOT_FOUND);
        assert_null(name);
        return;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(name, want);
    free(name);
}

static void test_default_profile(void **state)
{
    struct lv_store *st = *state;
    assert_default(st, NULL);
    assert_int_equal(lv_store_profile_create(st, "alice", NULL, NULL), 0);
    assert_int_equal(lv_store_profile_create(st, "bob", NULL, NULL), 0);
    assert_default(st, NULL); /* creating profiles does not pick one */

    assert_int_equal(lv_store_profile_default_set(st, "alice", NULL), 0);
    assert_default(st, "alice");
    assert_int_equal(lv_store_profile_default_set(st, "ghost", NULL), LV_ERR_NOT_FOUND);
    assert_default(st, "alice"); /* a refused set changes nothing */
    assert_int_equal(lv_store_profile_default_set(st, "bob", NULL), 0);
    assert_default(st, "bob");

    assert_int_equal(lv_store_profile_create(st, "carol", NULL, NULL), 0);
    assert_int_equal(lv_store_profile_delete(st, "carol", NULL), 0);
    assert_default(st, "bob"); /* deleting another profile keeps it */
    assert_int_equal(lv_store_profile_delete(st, "bob", NULL), 0);
    assert_default(st, NULL);

    /* bob had the highest id, so SQLite gives it again to the next profile:
     * that one must not inherit the default. */
    assert_int_equal(lv_store_profile_create(st, "dave", NULL, NULL), 0);
    assert_default(st, NULL);
    assert_int_equal(lv_store_profile_delete(st, "dave", NULL), 0);
    assert_int_equal(lv_store_profile_create(st, "bob", NULL, NULL), 0);
    assert_int_equal(lv_store_profile_default_set(st, "bob", NULL), 0);
    assert_int_equal(lv_store_profile_default_set(st, NULL, NULL), 0);
    assert_default(st, NULL);
}

/* ---- parameters and private data ------------------------------------------- */

static void assert_param(struct lv_store *st, const char *profile, const char *cat,
                         const char *name, const char *want)
{
    char *val = NULL;
    int rc = lv_store_param_get(st, profile, cat, name, &val, NULL);
    if (!want) {
        assert_int_equal(rc, LV_ERR_NOT_FOUND);
        assert_null(val);
        return;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(val, want);
    free(val);
}

static void test_params(void **state)
{
    struct lv_store *st = *state;
    struct lv_error err = {0};
    assert_int_equal(lv_store_profile_create(st, "alice", NULL, NULL), 0);
    assert_int_equal(lv_store_profile_create(st, "bob", NULL, NULL), 0);

    assert_param(st, "alice", "Connection", "JabberID", NULL);
    assert_int_equal(
        lv_store_param_set(st, "alice", "Connection", "JabberID", "alice@example.org", NULL), 0);
    assert_param(st, "alice", "Connection", "JabberID", "alice@example.org");
    assert_param(st, "bob", "Connection", "JabberID", NULL); /* per profile */
    assert_param(st, "alice", "Connection", "Password", NULL);
    assert_param(st, "alice", "Other", "JabberID", NULL); /* per category */

    assert_int_equal(
        lv_store_param_set(st, "alice", "Connection", "JabberID", "alice@other.org", NULL), 0);
    assert_param(st, "alice", "Connection", "JabberID", "alice@other.org");

    assert_int_equal(lv_store_param_set(st, "alice", "Connection", "JabberID", NULL, NULL), 0);
    assert_param(st, "alice", "Connection", "JabberID", NULL);
    assert_int_equal(lv_store_param_set(st, "alice", "Connection", "JabberID", NULL, NULL), 0);

    char *val = NULL;
    assert_int_equal(lv_store_param_get(st, "alice", "Connection", "Force port", &val, &err),
                     LV_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "Force port"));
    assert_int_equal(lv_store_param_set(st, "alice", "", "x", "v", NULL), LV_ERR_INVAL);
    assert_int_equal(lv_store_param_set(st, "alice", "Connection", "", "v", NULL), LV_ERR_INVAL);
    assert_int_equal(lv_store_param_get(st, "alice", NULL, "x", &val, NULL), LV_ERR_INVAL);
    assert_int_equal(lv_store_param_get(st, NULL, "Connection", "x", &val, NULL), LV_ERR_INVAL);
}

static void assert_private(struct lv_store *st, const char *profile, const char *ns,
                           const char *key, const char *want)
{
    char *val = NULL;
    int rc = lv_store_private_get(st, profile, ns, key, &val, NULL);
    if (!want) {
        assert_int_equal(rc, LV_ERR_NOT_FOUND);
        assert_null(val);
        return;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(val, want);
    free(val);
}

static void test_privates(void **state)
{
    struct lv_store *st = *state;
    /* gw gets the highest id, which SQLite reuses once gw is deleted: a
     * recreated gw would see leftovers of the old one. (PostgreSQL never
     * reuses an id; test_delete_cascades looks for leftovers there.) */
    assert_int_equal(lv_store_profile_create(st, "alice", NULL, NULL), 0);
    assert_int_equal(lv_store_profile_create(st, "gw", "ap-gateway", NULL), 0);

    assert_private(st, NULL, "ap-gateway", "rsa_key", NULL);
    assert_int_equal(lv_store_private_set(st, "gw", "ap-gateway", "rsa_key", "gw-key", NULL), 0);
    assert_int_equal(lv_store_private_set(st, "alice", "ap-gateway", "rsa_key", "a-key", NULL), 0);
    assert_int_equal(lv_store_private_set(st, NULL, "ap-gateway", "rsa_key", "global", NULL), 0);
    assert_private(st, "gw", "ap-gateway", "rsa_key", "gw-key");
    assert_private(st, "alice", "ap-gateway", "rsa_key", "a-key");
    assert_private(st, NULL, "ap-gateway", "rsa_key", "global");
    assert_private(st, "gw", "other-ns", "rsa_key", NULL);

    assert_int_equal(lv_store_private_set(st, NULL, "ap-gateway", "rsa_key", "global2", NULL), 0);
    assert_private(st, NULL, "ap-gateway", "rsa_key", "global2");
    assert_int_equal(lv_store_private_set(st, NULL, "ap-gateway", "rsa_key", NULL, NULL), 0);
    assert_private(st, NULL, "ap-gateway", "rsa_key", NULL);
    assert_private(st, "gw", "ap-gateway", "rsa_key", "gw-key");

    /* Deleting a profile takes its private data, not the others'. */
    assert_int_equal(lv_store_private_set(st, NULL, "ap-gateway", "rsa_key", "g3", NULL), 0);
    assert_int_equal(lv_store_profile_delete(st, "gw", NULL), 0);
    struct lv_profile_rec p;
    assert_int_equal(lv_store_profile_create(st, "gw", "ap-gateway", NULL), 0);
    assert_int_equal(lv_store_profile_get(st, "gw", &p, NULL), 0);
    if (!pg_uri)
        assert_int_equal(p.id, 2); /* the old id: the check below is meaningful */
    lv_profile_rec_release(&p);
    assert_private(st, "gw", "ap-gateway", "rsa_key", NULL);
    assert_private(st, "alice", "ap-gateway", "rsa_key", "a-key");
    assert_private(st, NULL, "ap-gateway", "rsa_key", "g3");

    assert_int_equal(lv_store_private_set(st, NULL, "", "k", "v", NULL), LV_ERR_INVAL);
    assert_int_equal(lv_store_private_set(st, NULL, "ns", NULL, "v", NULL), LV_ERR_INVAL);
    assert_int_equal(lv_store_private_set(st, "bad name", "ns", "k", "v", NULL), LV_ERR_INVAL);
}

/* Deleting a profile leaves no row of it anywhere (checked in the file, as a
 * recreated profile might not reuse the id and so could not see leftovers). */
static void test_delete_cascades(void **state)
{
    struct tmp *t = *state;
    struct lv_store *st = open_file(t);
    assert_int_equal(lv_store_profile_create(st, "alice", NULL, NULL), 0);
    assert_int_equal(lv_store_profile_create(st, "bob", NULL, NULL), 0);
    assert_int_equal(lv_store_param_set(st, "alice", "Connection", "Password", "s3cret", NULL), 0);
    assert_int_equal(lv_store_param_set(st, "bob", "Connection", "Password", "hunter2", NULL), 0);
    assert_int_equal(lv_store_private_set(st, "alice", "ns", "k", "v", NULL), 0);
    assert_int_equal(lv_store_private_set(st, NULL, "ns", "k", "v", NULL), 0);
    assert_int_equal(lv_store_profile_default_set(st, "alice", NULL), 0);
    assert_int_equal(lv_store_profile_delete(st, "alice", NULL), 0);
    lv_store_close(st);

    struct raw r = raw_open(t->path);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM profiles"), 1);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM param_ind"), 1);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM private_ind"), 0);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM private_gen"), 1);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM settings WHERE default_profile_id IS NULL"),
                     1);
    raw_close(&r);
}

/* Values and keys that look like SQL, quotes, format strings or non-ASCII
 * text come back byte for byte, and break nothing else. */
static void test_values_verbatim(void **state)
{
    struct lv_store *st = *state;
    static const char *const tricky[] = {
        "it's a \"quoted\" value",
        "'; DROP TABLE profiles; --",
        "Robert'); DELETE FROM param_ind WHERE ('1'='1",
        "héllo wörld ✓ 日本語 🎉",
        "%s %n %d %%",
        "line 1\nline 2\ttab\\backslash",
        "?1 :a :value @x $y",
        "",
    };
    char big[100001];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    assert_int_equal(lv_store_profile_create(st, "alice", NULL, NULL), 0);
    for (size_t i = 0; i < LV_ARRAY_LEN(tricky); i++) {
        const char *key = *tricky[i] ? tricky[i] : "empty";
        assert_int_equal(lv_store_param_set(st, "alice", key, key, tricky[i], NULL), 0);
        assert_int_equal(lv_store_private_set(st, "alice", key, key, tricky[i], NULL), 0);
        assert_int_equal(lv_store_private_set(st, NULL, key, key, tricky[i], NULL), 0);
    }
    assert_int_equal(lv_store_param_set(st, "alice", "big", "big", big, NULL), 0);
    for (size_t i = 0; i < LV_ARRAY_LEN(tricky); i++) {
        const char *key = *tricky[i] ? tricky[i] : "empty";
        assert_param(st, "alice", key, key, tricky[i]);
        assert_private(st, "alice", key, key, tricky[i]);
        assert_private(st, NULL, key, key, tricky[i]);
    }
    assert_param(st, "alice", "big", "big", big);

    struct lv_profile_rec p;
    assert_int_equal(lv_store_profile_get(st, "alice", &p, NULL), 0);
    lv_profile_rec_release(&p);
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
        cmocka_unit_test_setup_teardown(test_memory_schema_version, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_file_reopen_idempotent, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_open, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_file_mode_0600, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_wal_mode, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_prefix, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_migration_failure_rolls_back, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_pg_missing_database),
        cmocka_unit_test_setup_teardown(test_pg_reconnect, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_cache_not_supported, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_profile_create_get_list_delete, mem_setup,
                                        mem_teardown),
        cmocka_unit_test_setup_teardown(test_profile_list_byte_order, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_profile_list_empty, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_profile_duplicate, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_profile_names, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_profile_unknown, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_profile_component, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_default_profile, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_params, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_privates, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_delete_cascades, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_values_verbatim, mem_setup, mem_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
