/* Unit tests of lv_store over its SQLite backend: opening and migrations,
 * profiles, the default profile, parameters and private data. Raw sqlite3
 * calls look at the file behind the interface where the interface cannot
 * show what matters (file mode, WAL, rows left behind). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/lv_migration.h"
#include "store/lv_store.h"
#include "store/lv_store_backend.h"

static int last_version(void)
{
    return lv_sqlite_migrations[lv_sqlite_migrations_count - 1].version;
}

/* ---- fixtures -------------------------------------------------------------- */

static int mem_setup(void **state)
{
    struct lv_store *st;
    if (lv_store_open(":memory:", &st, NULL) != 0)
        return -1;
    *state = st;
    return 0;
}

static int mem_teardown(void **state)
{
    lv_store_close(*state);
    return 0;
}

/* A private directory holding one database file. */
struct tmp {
    char dir[256];
    char path[300];
};

static int tmp_setup(void **state)
{
    struct tmp *t = lv_xcalloc(1, sizeof(*t));
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof(t->dir), "%s/lv_store_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    snprintf(t->path, sizeof(t->path), "%s/libervia.db", t->dir);
    *state = t;
    return 0;
}

static void remove_suffixed(const char *path, const char *suffix)
{
    char p[320];
    snprintf(p, sizeof(p), "%s%s", path, suffix);
    unlink(p);
}

static int tmp_teardown(void **state)
{
    struct tmp *t = *state;
    remove_suffixed(t->path, "");
    remove_suffixed(t->path, "-wal");
    remove_suffixed(t->path, "-shm");
    rmdir(t->dir);
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

/* ---- raw SQLite access ----------------------------------------------------- */

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static bool raw_has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* ---- opening and migrations ------------------------------------------------ */

static void test_memory_schema_version(void **state)
{
    int v = -1;
    assert_int_equal(lv_store_schema_version(*state, &v), 0);
    assert_true(lv_sqlite_migrations_count > 0);
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

    sqlite3 *db = raw_open(t->path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM schema_version"),
                     (int64_t)lv_sqlite_migrations_count);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM settings"), 1);
    sqlite3_close(db);
}

static void test_file_mode_0600(void **state)
{
    struct tmp *t = *state;
    mode_t old = umask(022); /* a usual umask, which alone would give 0644 */
    struct lv_store *st = open_file(t);
    umask(old);

    struct stat sb;
    assert_int_equal(stat(t->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* The WAL file exists while the store is open and holds the same data. */
    char wal[320];
    snprintf(wal, sizeof(wal), "%s-wal", t->path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    lv_store_close(st);
}

static void test_wal_mode(void **state)
{
    struct tmp *t = *state;
    lv_store_close(open_file(t));
    sqlite3 *db = raw_open(t->path);
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

static void test_sqlite_prefix(void **state)
{
    struct tmp *t = *state;
    char uri[320];
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
    sqlite3 *db = raw_open(t->path);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO schema_version (version, name, applied_at) "
                                  "VALUES (9999, '9999_future.sql', 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

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

/* A failing migration is rolled back whole, the ones before it stay, the
 * ones after it are not tried, and the error names it with SQLite's reason. */
static void test_migration_failure_rolls_back(void **state)
{
    struct tmp *t = *state;
    void *be = NULL;
    struct lv_error err = {0};
    assert_int_equal(lv_store_sqlite_open_with(t->path, good_then_bad, 3, &be, &err), LV_ERR_STORE);
    assert_null(be);
    assert_non_null(strstr(err.msg, "0002_bad.sql"));
    assert_non_null(strstr(err.msg, "no such table: nope"));

    sqlite3 *db = raw_open(t->path);
    assert_int_equal(raw_int(db, "SELECT MAX(version) FROM schema_version"), 1);
    assert_true(raw_has_table(db, "t1"));
    assert_false(raw_has_table(db, "t2"));
    assert_false(raw_has_table(db, "t3"));
    sqlite3_close(db);

    /* A later program whose migration 2 works picks up from version 1. */
    assert_int_equal(lv_store_sqlite_open_with(t->path, fixed, 2, &be, &err), 0);
    int v = 0;
    assert_int_equal(lv_store_sqlite_backend.schema_version(be, &v), 0);
    assert_int_equal(v, 2);
    lv_store_sqlite_backend.close(be);
}

static void test_open_errors(void **state)
{
    static const struct {
        const char *uri;
        int code;
        const char *msg; /* a part of the message, or NULL */
    } cases[] = {
        {"postgresql://user@db/libervia", LV_ERR_CONFIG, "PostgreSQL backend not built yet"},
        {"postgres://db/libervia", LV_ERR_CONFIG, "PostgreSQL backend not built yet"},
        {"mysql://db/libervia", LV_ERR_CONFIG, "mysql"},
        {"", LV_ERR_INVAL, NULL},
        {"sqlite:", LV_ERR_INVAL, NULL},
        {"/nonexistent-dir-for-lv-tests/x.db", LV_ERR_STORE, "nonexistent-dir-for-lv-tests"},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        struct lv_store *st = NULL;
        struct lv_error err = {0};
        assert_int_equal(lv_store_open(cases[i].uri, &st, &err), cases[i].code);
        assert_null(st);
        assert_int_equal(err.code, cases[i].code);
        if (cases[i].msg && !strstr(err.msg, cases[i].msg))
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].uri, err.msg, cases[i].msg);
    }
    assert_int_equal(lv_store_open(NULL, &(struct lv_store *){NULL}, NULL), LV_ERR_INVAL);
    lv_store_close(NULL);
    lv_profile_rec_release(NULL);
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
     * recreated gw would see leftovers of the old one. */
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

    sqlite3 *db = raw_open(t->path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM profiles"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM param_ind"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM private_ind"), 0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM private_gen"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM settings WHERE default_profile_id IS NULL"),
                     1);
    sqlite3_close(db);
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memory_schema_version, mem_setup, mem_teardown),
        cmocka_unit_test_setup_teardown(test_file_reopen_idempotent, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_file_mode_0600, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_wal_mode, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_prefix, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_migration_failure_rolls_back, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test_setup_teardown(test_profile_create_get_list_delete, mem_setup,
                                        mem_teardown),
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
