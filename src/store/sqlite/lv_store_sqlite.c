/* The SQLite storage backend.
 *
 * Every statement is prepared with bound parameters; no SQL text is ever
 * built from a value. Statements are prepared per call: the operations here
 * (profiles, parameters, private data) are not hot paths, and this keeps the
 * connection free of cached state (but for the ActivityPub tables' kept
 * statements, which the delivery queue's rates call for: see
 * lv_store_sqlite_ap.c). A store is used by one thread at a time. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/lv_store_backend.h"
#include "store/sqlite/lv_store_sqlite_priv.h"

struct sq {
    sqlite3 *db;
    struct lv_store_sqlite_ap_stmts *ap_stmts; /* lv_store_sqlite_ap.c's, NULL until used */
};

sqlite3 *lv_store_sqlite_db(void *state)
{
    return ((struct sq *)state)->db;
}

struct lv_store_sqlite_ap_stmts **lv_store_sqlite_ap_stmts(void *state)
{
    return &((struct sq *)state)->ap_stmts;
}

/* ---- statements ---------------------------------------------------------- */

/* Busy and locked are worth a retry (another process holds the database past
 * the busy timeout); everything else is a storage failure. */
static int db_err(struct sq *s, int rc, const char *what, struct lv_error *err)
{
    int prim = rc & 0xff;
    int code = prim == SQLITE_BUSY || prim == SQLITE_LOCKED ? LV_ERR_AGAIN : LV_ERR_STORE;
    return lv_error_set(err, code, "%s: %s", what, sqlite3_errmsg(s->db));
}

static int prep(struct sq *s, const char *sql, sqlite3_stmt **st, struct lv_error *err)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : db_err(s, rc, "preparing a statement", err);
}

/* Steps a statement that returns no row and finalizes it. The error message
 * is taken before finalizing, which may reset it. */
static int run(struct sq *s, sqlite3_stmt *st, const char *what, struct lv_error *err)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : db_err(s, rc, what, err);
    sqlite3_finalize(st);
    return ret;
}

/* Runs SQL text without parameters (pragmas, transactions, migrations). */
static int exec(struct sq *s, const char *sql, const char *what, struct lv_error *err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_err(s, rc, what, err);
}

/* A copy of a text column; NULL for SQL NULL. */
static char *col_dup(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) {
        /* Only when SQLite cannot allocate: fatal, as every allocation is. */
        lv_error("store", "out of memory reading a column");
        abort();
    }
    return lv_xstrndup((const char *)t, (size_t)sqlite3_column_bytes(st, i));
}

/* Reads column 0 of the one row of st into *out and finalizes st.
 * LV_ERR_NOT_FOUND (without a message: the caller knows what was missing)
 * when there is no row. */
static int fetch_text(struct sq *s, sqlite3_stmt *st, char **out, struct lv_error *err)
{
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        *out = col_dup(st, 0);
    else
        ret = rc == SQLITE_DONE ? LV_ERR_NOT_FOUND : db_err(s, rc, "reading", err);
    sqlite3_finalize(st);
    return ret;
}

static int fetch_int(struct sq *s, sqlite3_stmt *st, int64_t *out, struct lv_error *err)
{
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        ret = rc == SQLITE_DONE ? LV_ERR_NOT_FOUND : db_err(s, rc, "reading", err);
    sqlite3_finalize(st);
    return ret;
}

/* ---- opening --------------------------------------------------------------- */

/* SQLite would create the database with 0644 & ~umask, and it gives the -wal
 * and -shm files the database file's mode. Creating the file first with 0600
 * keeps passwords and keys private without touching the umask, which is
 * process-wide (other threads may be creating files). An existing file keeps
 * the mode its administrator gave it. */
static int precreate(const char *path, struct lv_error *err)
{
    if (strcmp(path, ":memory:") == 0)
        return 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        return lv_error_set(err, LV_ERR_STORE, "cannot open database %s: %s", path,
                            strerror(errno));
    close(fd);
    return 0;
}

static int connect_db(struct sq *s, const char *path, struct lv_error *err)
{
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        lv_error_set(err, LV_ERR_STORE, "cannot open database %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        return LV_ERR_STORE;
    }
    /* Extended codes tell a UNIQUE violation from other constraints. */
    sqlite3_extended_result_codes(s->db, 1);
    return 0;
}

/* Runs a pragma and copies the first column of its answer into buf. */
static int pragma_get(struct sq *s, const char *sql, char *buf, size_t size, struct lv_error *err)
{
    sqlite3_stmt *st;
    char *val = NULL;
    int rc = prep(s, sql, &st, err);
    if (rc == 0)
        rc = fetch_text(s, st, &val, err);
    if (rc == LV_ERR_NOT_FOUND)
        return lv_error_set(err, LV_ERR_STORE, "%s: no answer", sql);
    if (rc == 0)
        snprintf(buf, size, "%s", val ? val : "");
    free(val);
    return rc;
}

/* The busy timeout comes first so that switching to WAL waits for another
 * process's lock instead of failing. foreign_keys is read back: a SQLite built
 * without foreign keys would silently stop deleting a profile's data. */
static int configure(struct sq *s, struct lv_error *err)
{
    char mode[16], fk[8];
    int rc = exec(s, "PRAGMA busy_timeout=5000", "setting busy_timeout", err);
    if (rc == 0)
        rc = pragma_get(s, "PRAGMA journal_mode=WAL", mode, sizeof(mode), err);
    if (rc == 0 && strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
        lv_warn("store", "SQLite journal mode is %s, not wal", mode);
    if (rc == 0)
        rc = exec(s, "PRAGMA foreign_keys=ON", "enabling foreign keys", err);
    if (rc == 0)
        rc = pragma_get(s, "PRAGMA foreign_keys", fk, sizeof(fk), err);
    if (rc == 0 && strcmp(fk, "1") != 0)
        return lv_error_set(err, LV_ERR_STORE, "this SQLite does not enforce foreign keys");
    if (rc == 0)
        rc = exec(s, "PRAGMA synchronous=NORMAL", "setting synchronous", err);
    return rc;
}

/* ---- migrations ------------------------------------------------------------ */

static int current_version(struct sq *s, int *version, struct lv_error *err)
{
    sqlite3_stmt *st;
    int64_t v = 0;
    int rc = prep(s, "SELECT COALESCE(MAX(version), 0) FROM schema_version", &st, err);
    if (rc == 0)
        rc = fetch_int(s, st, &v, err);
    *version = (int)v;
    return rc;
}

static int record_migration(struct sq *s, const struct lv_migration *m, struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(s, "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)",
                  &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int(st, 1, m->version);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
    return run(s, st, "recording the schema version", err);
}

/* Applies one migration in its own transaction. The version is read again
 * inside it: another process opening the same database may have applied the
 * migration since we looked. BEGIN IMMEDIATE takes the write lock at once, so
 * two processes cannot both decide to apply it. Migration files therefore
 * must not contain BEGIN or COMMIT. */
static int apply(struct sq *s, const struct lv_migration *m, struct lv_error *err)
{
    char what[300];
    int version = 0;
    snprintf(what, sizeof(what), "migration %s", m->name);
    int rc = exec(s, "BEGIN IMMEDIATE", what, err);
    if (rc != 0)
        return rc;
    rc = current_version(s, &version, err);
    if (rc == 0 && version < m->version) {
        rc = exec(s, m->sql, what, err);
        if (rc == 0)
            rc = record_migration(s, m, err);
    }
    if (rc == 0)
        rc = exec(s, "COMMIT", what, err);
    if (rc != 0) {
        /* err already holds the cause; a failed statement may have rolled
         * back by itself, so this ROLLBACK's own failure is ignored. */
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    if (version < m->version)
        lv_info("store", "applied migration %s", m->name);
    return 0;
}

/* The schema_version table is made here, not by a migration: it must exist
 * before the first migration can be recorded. */
static int migrate(struct sq *s, const struct lv_migration *migs, size_t n, struct lv_error *err)
{
    int known = n > 0 ? migs[n - 1].version : 0;
    int version = 0;
    int rc = exec(s,
                  "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                  "name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
                  "creating schema_version", err);
    if (rc == 0)
        rc = current_version(s, &version, err);
    if (rc != 0)
        return rc;
    if (version > known)
        return lv_error_set(err, LV_ERR_STORE,
                            "database schema version %d is newer than this program (%d)", version,
                            known);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (migs[i].version > version)
            rc = apply(s, &migs[i], err);
    return rc;
}

static void sq_close(void *state)
{
    struct sq *s = state;
    /* The AP statements are kept for the connection's life; every other
     * one is finalized where it is used. */
    lv_store_sqlite_ap_stmts_free(s->ap_stmts);
    sqlite3_close(s->db);
    free(s);
}

static int open_once(const char *path, const struct lv_migration *migs, size_t n, void **state,
                     struct lv_error *err)
{
    struct sq *s = lv_xcalloc(1, sizeof(*s));
    *state = NULL;
    int rc = precreate(path, err);
    if (rc == 0)
        rc = connect_db(s, path, err);
    if (rc == 0)
        rc = configure(s, err);
    if (rc == 0)
        rc = lv_store_sqlite_cache_register(s->db, err);
    if (rc == 0)
        rc = migrate(s, migs, n, err);
    if (rc != 0) {
        sq_close(s);
        return rc;
    }
    *state = s;
    return 0;
}

/* Several processes opening a new database at once (a daemon and an admin
 * command, or several gateway processes) contend for the switch to WAL and
 * for the first migrations; SQLite answers some of those conflicts with
 * SQLITE_BUSY at once, without its busy handler. Such transient failures
 * are retried with growing pauses, for up to 10 s. */
int lv_store_sqlite_open_with(const char *path, const struct lv_migration *migs, size_t n,
                              void **state, struct lv_error *err)
{
    long pause_ms = 10, waited_ms = 0;
    for (;;) {
        int rc = open_once(path, migs, n, state, err);
        if (rc != LV_ERR_AGAIN || waited_ms >= 10000)
            return rc;
        struct timespec ts = {0, pause_ms * 1000000L};
        nanosleep(&ts, NULL);
        waited_ms += pause_ms;
        pause_ms = pause_ms < 200 ? pause_ms * 2 : 200;
    }
}

static int sq_open(const char *path, void **state, struct lv_error *err)
{
    return lv_store_sqlite_open_with(path, lv_sqlite_migrations, lv_sqlite_migrations_count, state,
                                     err);
}

static int sq_schema_version(void *state, int *version)
{
    return current_version(state, version, NULL);
}

/* ---- profiles -------------------------------------------------------------- */

static int profile_id(struct sq *s, const char *name, int64_t *id, struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT id FROM profiles WHERE name = ?1", &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = fetch_int(s, st, id, err);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no profile \"%s\"", name);
    return rc;
}

static int sq_profile_create(void *state, const char *name, const char *component,
                             struct lv_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st;
    int rc =
        prep(s, "INSERT INTO profiles (name, component, created) VALUES (?1, ?2, ?3)", &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, component, -1, SQLITE_STATIC); /* NULL binds NULL */
    sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_CONSTRAINT_UNIQUE)
        ret = lv_error_set(err, LV_ERR_CONFLICT, "profile \"%s\" already exists", name);
    else if (rc != SQLITE_DONE)
        ret = db_err(s, rc, "creating a profile", err);
    sqlite3_finalize(st);
    return ret;
}

/* Its parameters and private data go with it: ON DELETE CASCADE. */
static int sq_profile_delete(void *state, const char *name, struct lv_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st;
    int rc = prep(s, "DELETE FROM profiles WHERE name = ?1", &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = run(s, st, "deleting a profile", err);
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        return lv_error_set(err, LV_ERR_NOT_FOUND, "no profile \"%s\"", name);
    return rc;
}

#define PROFILE_COLUMNS "SELECT id, name, component FROM profiles"

static void row_to_profile(sqlite3_stmt *st, struct lv_profile_rec *p)
{
    p->id = sqlite3_column_int64(st, 0);
    p->name = col_dup(st, 1);
    p->component = col_dup(st, 2);
}

static int sq_profile_get(void *state, const char *name, struct lv_profile_rec *out,
                          struct lv_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st;
    int rc = prep(s, PROFILE_COLUMNS " WHERE name = ?1", &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        row_to_profile(st, out);
    else if (rc == SQLITE_DONE)
        ret = lv_error_set(err, LV_ERR_NOT_FOUND, "no profile \"%s\"", name);
    else
        ret = db_err(s, rc, "reading a profile", err);
    sqlite3_finalize(st);
    return ret;
}

static void free_profiles(struct lv_profile_rec *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lv_profile_rec_release(&v[i]);
    free(v);
}

static int sq_profile_list(void *state, struct lv_profile_rec **out, size_t *n,
                           struct lv_error *err)
{
    struct sq *s = state;
    struct lv_profile_rec *v = NULL;
    size_t len = 0, cap = 0;
    sqlite3_stmt *st;
    int rc = prep(s, PROFILE_COLUMNS " ORDER BY name", &st, err);
    if (rc != 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lv_grow((void **)&v, &cap, len + 1, sizeof(*v));
        row_to_profile(st, &v[len++]);
    }
    int ret = rc == SQLITE_DONE ? 0 : db_err(s, rc, "listing profiles", err);
    sqlite3_finalize(st);
    if (ret != 0) {
        free_profiles(v, len);
        return ret;
    }
    *out = v;
    *n = len;
    return 0;
}

static int sq_default_get(void *state, char **name, struct lv_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "SELECT p.name FROM settings AS s JOIN profiles AS p "
                  "ON p.id = s.default_profile_id WHERE s.id = 1",
                  &st, err);
    if (rc == 0)
        rc = fetch_text(s, st, name, err);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no default profile");
    return rc;
}

static int sq_default_set(void *state, const char *name, struct lv_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st;
    int64_t id = 0;
    int rc = name ? profile_id(s, name, &id, err) : 0;
    if (rc == 0)
        rc = prep(s, "UPDATE settings SET default_profile_id = ?1 WHERE id = 1", &st, err);
    if (rc != 0)
        return rc;
    if (name)
        sqlite3_bind_int64(st, 1, id);
    else
        sqlite3_bind_null(st, 1);
    return run(s, st, "setting the default profile", err);
}

/* ---- parameters and private data ------------------------------------------- */

/* The three key/value tables share their operations. Parameters are named
 * :pid (the owner profile's id; absent from the global table's statements),
 * :a and :b (the two parts of the key) and :value. */
struct kv_table {
    const char *what; /* for messages */
    const char *get, *put, *del;
};

static const struct kv_table param_ind = {
    "parameter",
    "SELECT value FROM param_ind WHERE profile_id = :pid AND category = :a AND name = :b",
    "INSERT INTO param_ind (profile_id, category, name, value) VALUES (:pid, :a, :b, :value) "
    "ON CONFLICT (profile_id, category, name) DO UPDATE SET value = excluded.value",
    "DELETE FROM param_ind WHERE profile_id = :pid AND category = :a AND name = :b",
};

static const struct kv_table private_ind = {
    "private value",
    "SELECT value FROM private_ind WHERE profile_id = :pid AND namespace = :a AND key = :b",
    "INSERT INTO private_ind (profile_id, namespace, key, value) VALUES (:pid, :a, :b, :value) "
    "ON CONFLICT (profile_id, namespace, key) DO UPDATE SET value = excluded.value",
    "DELETE FROM private_ind WHERE profile_id = :pid AND namespace = :a AND key = :b",
};

static const struct kv_table private_gen = {
    "global private value",
    "SELECT value FROM private_gen WHERE namespace = :a AND key = :b",
    "INSERT INTO private_gen (namespace, key, value) VALUES (:a, :b, :value) "
    "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
    "DELETE FROM private_gen WHERE namespace = :a AND key = :b",
};

/* Binds what the statement names and skips what it does not. */
static int bind_kv(struct sq *s, sqlite3_stmt *st, int64_t pid, const char *a, const char *b,
                   const char *value, struct lv_error *err)
{
    int i, rc = SQLITE_OK;
    if ((i = sqlite3_bind_parameter_index(st, ":pid")) > 0)
        rc = sqlite3_bind_int64(st, i, pid);
    if (rc == SQLITE_OK && (i = sqlite3_bind_parameter_index(st, ":a")) > 0)
        rc = sqlite3_bind_text(st, i, a, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && (i = sqlite3_bind_parameter_index(st, ":b")) > 0)
        rc = sqlite3_bind_text(st, i, b, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && (i = sqlite3_bind_parameter_index(st, ":value")) > 0)
        rc = sqlite3_bind_text(st, i, value, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        return 0;
    sqlite3_finalize(st);
    return db_err(s, rc, "binding a value", err); /* e.g. a value over SQLite's size limit */
}

/* Prepares sql for the profile's row (global when profile is NULL). */
static int kv_prep(struct sq *s, const char *sql, const char *profile, const char *a, const char *b,
                   const char *value, sqlite3_stmt **st, struct lv_error *err)
{
    int64_t pid = 0;
    int rc = profile ? profile_id(s, profile, &pid, err) : 0;
    if (rc == 0)
        rc = prep(s, sql, st, err);
    if (rc == 0)
        rc = bind_kv(s, *st, pid, a, b, value, err);
    return rc;
}

static int kv_get(struct sq *s, const struct kv_table *t, const char *profile, const char *a,
                  const char *b, char **value, struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = kv_prep(s, t->get, profile, a, b, NULL, &st, err);
    if (rc != 0)
        return rc;
    rc = fetch_text(s, st, value, err);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "%s \"%s/%s\" is not set", t->what, a, b);
    return rc;
}

static int kv_set(struct sq *s, const struct kv_table *t, const char *profile, const char *a,
                  const char *b, const char *value, struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = kv_prep(s, value ? t->put : t->del, profile, a, b, value, &st, err);
    return rc != 0 ? rc : run(s, st, value ? "storing a value" : "deleting a value", err);
}

static int sq_param_get(void *state, const char *profile, const char *category, const char *name,
                        char **value, struct lv_error *err)
{
    return kv_get(state, &param_ind, profile, category, name, value, err);
}

static int sq_param_set(void *state, const char *profile, const char *category, const char *name,
                        const char *value, struct lv_error *err)
{
    return kv_set(state, &param_ind, profile, category, name, value, err);
}

static int sq_private_get(void *state, const char *profile, const char *ns, const char *key,
                          char **value, struct lv_error *err)
{
    const struct kv_table *t = profile ? &private_ind : &private_gen;
    return kv_get(state, t, profile, ns, key, value, err);
}

static int sq_private_set(void *state, const char *profile, const char *ns, const char *key,
                          const char *value, struct lv_error *err)
{
    const struct kv_table *t = profile ? &private_ind : &private_gen;
    return kv_set(state, t, profile, ns, key, value, err);
}

const struct lv_store_backend lv_store_sqlite_backend = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .profile_create = sq_profile_create,
    .profile_delete = sq_profile_delete,
    .profile_get = sq_profile_get,
    .profile_list = sq_profile_list,
    .profile_default_get = sq_default_get,
    .profile_default_set = sq_default_set,
    .param_get = sq_param_get,
    .param_set = sq_param_set,
    .private_get = sq_private_get,
    .private_set = sq_private_set,
    .cache = &lv_store_sqlite_cache_backend,
};
