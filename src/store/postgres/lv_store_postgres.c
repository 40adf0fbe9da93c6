/* The PostgreSQL storage backend (libpq).
 *
 * Every statement with a value goes through PQexecParams; no SQL text is ever
 * built from a value. Calls are synchronous, as in the SQLite backend: these
 * operations are short, and callers that must not block the loop run them on
 * the thread pool. A store (one connection) is used by one thread at a time.
 * Results come in text format: every column here is text or an integer.
 *
 * Several processes may share the database (ARCHITECTURE.md, "Scale beyond
 * one machine"), so writes are single statements that cannot interleave
 * badly with another process's, and migrations run under an advisory lock. */
#include "store/postgres/lv_store_postgres.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/postgres/lv_store_postgres_priv.h"

struct pg {
    PGconn *conn;
    char *where; /* postgresql://user@host:port/db, for messages: no password */
};

/* ---- messages without secrets ---------------------------------------------- */

/* libpq's messages span lines ("...failed: Connection refused\n\tIs the
 * server running...?\n"); ours are one line. */
static char *flatten(const char *s)
{
    struct lv_buf b = LV_BUF_INIT;
    bool space = false;
    for (; *s; s++) {
        if (strchr(" \t\r\n", *s)) {
            space = b.len > 0;
            continue;
        }
        if (space)
            lv_buf_addc(&b, ' ');
        space = false;
        lv_buf_addc(&b, *s);
    }
    return lv_buf_detach(&b);
}

static char *replace_all(const char *s, const char *what, const char *by)
{
    struct lv_buf b = LV_BUF_INIT;
    size_t n = strlen(what);
    const char *hit;
    while ((hit = strstr(s, what)) != NULL) {
        lv_buf_add(&b, s, (size_t)(hit - s));
        lv_buf_adds(&b, by);
        s = hit + n;
    }
    lv_buf_adds(&b, s);
    return lv_buf_detach(&b);
}

/* The forms a password (or an SSL key's passphrase) may take in libpq's
 * messages: as written in the URI (a parse error quotes the URI, or the bad
 * percent-escape, verbatim) and decoded. */
struct secrets {
    char **v;
    size_t n, cap;
};

static void secrets_add(struct secrets *s, const char *v, size_t len)
{
    if (len == 0)
        return;
    lv_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v));
    s->v[s->n++] = lv_xstrndup(v, len);
}

static void secrets_release(struct secrets *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static bool secret_key(const char *key, size_t len)
{
    return (len == 8 && strncmp(key, "password", len) == 0) ||
           (len == 11 && strncmp(key, "sslpassword", len) == 0);
}

/* The password of "scheme://user:password@host...", found the way libpq
 * finds it: the user part ends at the first '@' met before any '/'. Returns
 * where the user part ends (after its '@'), for the query to be looked for
 * there: a password may hold a '?' of its own. */
static const char *add_userinfo_password(struct secrets *s, const char *uri)
{
    const char *p = strstr(uri, "://");
    if (!p)
        return uri;
    p += 3;
    size_t info = strcspn(p, "@/");
    if (p[info] != '@')
        return p;
    const char *colon = memchr(p, ':', info);
    if (colon)
        secrets_add(s, colon + 1, info - (size_t)(colon + 1 - p));
    return p + info + 1;
}

/* "?password=..." values in what follows the user part. A key with a
 * percent-escape may spell "password" once libpq decodes it, so its value
 * counts as a secret too. */
static void add_query_passwords(struct secrets *s, const char *rest)
{
    const char *q = strchr(rest, '?');
    while (q) {
        q++;
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        if (eq) {
            size_t klen = (size_t)(eq - q);
            if (secret_key(q, klen) || memchr(q, '%', klen))
                secrets_add(s, eq + 1, len - klen - 1);
        }
        q = q[len] ? q + len : NULL;
    }
}

/* A libpq message as one line with every form of the password replaced by
 * "***", replaced before flattening, which could change a password's spaces.
 * A short password may also mask unrelated words: a garbled message is
 * better than a leaked secret. Caller frees. */
static char *scrub(const char *msg, const struct secrets *s)
{
    char *out = lv_xstrdup(msg ? msg : "out of memory");
    for (size_t i = 0; i < s->n; i++) {
        char *next = replace_all(out, s->v[i], "***");
        free(out);
        out = next;
    }
    char *flat = flatten(out);
    free(out);
    return flat;
}

/* ---- statements ------------------------------------------------------------ */

/* SQLSTATEs worth a retry: serialization failures and deadlocks (class 40),
 * connection failures (08), the server shutting down (57P0x), lock timeouts
 * and too many connections. */
static bool transient_state(const char *st)
{
    return strncmp(st, "40", 2) == 0 || strncmp(st, "08", 2) == 0 || strncmp(st, "57P0", 4) == 0 ||
           strcmp(st, "55P03") == 0 || strcmp(st, "53300") == 0;
}

static bool has_state(const PGresult *res, const char *want)
{
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return st && strcmp(st, want) == 0;
}

/* Fills err from a failed result and clears the result. Only the primary
 * message is kept: the detail may quote the values (a duplicate key's),
 * which can be secrets such as a stored password. */
static int fail(struct pg *p, PGresult *res, const char *what, struct lv_error *err)
{
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char *msg = flatten(primary ? primary : PQerrorMessage(p->conn));
    int rc;
    if (PQstatus(p->conn) == CONNECTION_BAD)
        rc = lv_error_set(err, LV_ERR_AGAIN, "%s: lost the connection to PostgreSQL at %s: %s",
                          what, p->where, msg);
    else
        rc = lv_error_set(err, st && transient_state(st) ? LV_ERR_AGAIN : LV_ERR_STORE, "%s: %s",
                          what, msg);
    free(msg);
    PQclear(res);
    return rc;
}

/* Runs one statement with text parameters (NULL is SQL NULL). A connection
 * that an earlier call found broken is reset first, so that the store comes
 * back with the server; the statement that met the failure is not retried,
 * as it may have been applied. */
static PGresult *query(struct pg *p, const char *sql, int n, const char *const *params)
{
    if (PQstatus(p->conn) == CONNECTION_BAD)
        PQreset(p->conn);
    return PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL, 0);
}

/* A statement that returns no rows; *changed (if not NULL) gets the number
 * of rows it wrote. */
static int command(struct pg *p, const char *sql, int n, const char *const *params,
                   const char *what, long *changed, struct lv_error *err)
{
    PGresult *res = query(p, sql, n, params);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return fail(p, res, what, err);
    if (changed)
        *changed = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return 0;
}

/* A query; on success *res is the caller's to PQclear. */
static int select_rows(struct pg *p, const char *sql, int n, const char *const *params,
                       const char *what, PGresult **res, struct lv_error *err)
{
    *res = query(p, sql, n, params);
    if (PQresultStatus(*res) == PGRES_TUPLES_OK)
        return 0;
    int rc = fail(p, *res, what, err);
    *res = NULL;
    return rc;
}

/* A copy of a column; NULL for SQL NULL. */
static char *col_dup(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return lv_xstrndup(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

static int64_t col_int(const PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Column 0 of the first row as an integer. LV_ERR_NOT_FOUND (without a
 * message: the caller knows what was missing) when there is no row. */
static int fetch_int(struct pg *p, const char *sql, int n, const char *const *params,
                     const char *what, int64_t *out, struct lv_error *err)
{
    PGresult *res;
    int rc = select_rows(p, sql, n, params, what, &res, err);
    if (rc != 0)
        return rc;
    if (PQntuples(res) > 0)
        *out = col_int(res, 0, 0);
    else
        rc = LV_ERR_NOT_FOUND;
    PQclear(res);
    return rc;
}

/* SQL without parameters: transactions and migrations (which may hold
 * several statements, which only PQexec accepts). */
static int exec(struct pg *p, const char *sql, const char *what, struct lv_error *err)
{
    PGresult *res = PQexec(p->conn, sql);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        return fail(p, res, what, err);
    PQclear(res);
    return 0;
}

PGresult *lv_store_postgres_query(void *state, const char *sql, int n, const char *const *params)
{
    return query(state, sql, n, params);
}

int lv_store_postgres_fail(void *state, PGresult *res, const char *what, struct lv_error *err)
{
    return fail(state, res, what, err);
}

/* ---- migrations ------------------------------------------------------------ */

/* The advisory lock key of schema changes: "libervia" in ASCII, as a bigint.
 * Every process of every version takes the same one. */
#define MIGRATION_LOCK "SELECT pg_advisory_xact_lock(7811883216502417761)"

/* Opens a transaction holding the migration lock: a process starting at the
 * same time waits here until we commit, then sees what we did. */
static int begin_locked(struct pg *p, const char *what, struct lv_error *err)
{
    int rc = exec(p, "BEGIN", what, err);
    if (rc == 0 && (rc = exec(p, MIGRATION_LOCK, what, err)) != 0)
        PQclear(PQexec(p->conn, "ROLLBACK"));
    return rc;
}

/* Commits when rc is 0, rolls back otherwise; err keeps the first cause. A
 * failed COMMIT has ended the transaction already, so the ROLLBACK's own
 * answer (a "no transaction" warning) is ignored. */
static int finish(struct pg *p, int rc, const char *what, struct lv_error *err)
{
    if (rc == 0)
        rc = exec(p, "COMMIT", what, err);
    if (rc != 0)
        PQclear(PQexec(p->conn, "ROLLBACK"));
    return rc;
}

static int current_version(struct pg *p, int *version, struct lv_error *err)
{
    int64_t v = 0;
    int rc = fetch_int(p, "SELECT COALESCE(MAX(version), 0) FROM schema_version", 0, NULL,
                       "reading the schema version", &v, err);
    *version = (int)v;
    return rc;
}

/* The schema_version table is made here, not by a migration: it must exist
 * before the first migration can be recorded. Under the lock, because two
 * sessions running CREATE TABLE IF NOT EXISTS at once can still collide. */
static int prepare_versions(struct pg *p, int *version, struct lv_error *err)
{
    const char *what = "creating schema_version";
    int rc = begin_locked(p, what, err);
    if (rc != 0)
        return rc;
    rc = exec(p,
              "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
              "name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
              what, err);
    if (rc == 0)
        rc = current_version(p, version, err);
    return finish(p, rc, what, err);
}

static int record_migration(struct pg *p, const struct lv_migration *m, struct lv_error *err)
{
    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *params[] = {version, m->name};
    return command(p,
                   "INSERT INTO schema_version (version, name, applied_at) "
                   "VALUES ($1, $2, EXTRACT(EPOCH FROM now())::bigint)",
                   2, params, "recording the schema version", NULL, err);
}

/* Applies one migration in its own transaction. The version is read again
 * under the lock: another process may have applied the migration since we
 * looked. Migration files therefore must not contain BEGIN or COMMIT. */
static int apply(struct pg *p, const struct lv_migration *m, struct lv_error *err)
{
    char what[300];
    int version = 0;
    snprintf(what, sizeof(what), "migration %s", m->name);
    int rc = begin_locked(p, what, err);
    if (rc != 0)
        return rc;
    rc = current_version(p, &version, err);
    if (rc == 0 && version < m->version) {
        rc = exec(p, m->sql, what, err);
        if (rc == 0)
            rc = record_migration(p, m, err);
    }
    rc = finish(p, rc, what, err);
    if (rc == 0 && version < m->version)
        lv_info("store", "applied migration %s", m->name);
    return rc;
}

static int migrate(struct pg *p, const struct lv_migration *migs, size_t n, struct lv_error *err)
{
    int known = n > 0 ? migs[n - 1].version : 0;
    int version = 0;
    int rc = prepare_versions(p, &version, err);
    if (rc != 0)
        return rc;
    if (version > known)
        return lv_error_set(err, LV_ERR_STORE,
                            "database schema version %d is newer than this program (%d)", version,
                            known);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (migs[i].version > version)
            rc = apply(p, &migs[i], err);
    return rc;
}

/* ---- opening --------------------------------------------------------------- */

/* Server notices ("relation already exists, skipping") would go to stderr by
 * default. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    if (lv_log_threshold < LV_LOG_DEBUG)
        return;
    char *m = flatten(message);
    lv_debug("store", "PostgreSQL: %s", m);
    free(m);
}

/* Where libpq went (or tried to), from the connection, not from the URI: it
 * holds no password, and shows the defaults libpq filled in (host from the
 * environment, user from the login...). A socket directory is written as
 * libpq's URIs write it, in a host parameter. */
static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static char *describe(const PGconn *conn)
{
    const char *host = PQhost(conn);
    bool socket = host && host[0] == '/';
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_addf(&b, "postgresql://%s@", or_empty(PQuser(conn)));
    if (host && !socket)
        lv_buf_addf(&b, strchr(host, ':') ? "[%s]" : "%s", host); /* IPv6 in brackets */
    lv_buf_addf(&b, ":%s/%s", or_empty(PQport(conn)), or_empty(PQdb(conn)));
    if (socket)
        lv_buf_addf(&b, "?host=%s", host);
    return lv_buf_detach(&b);
}

/* Parses the URI as libpq will, to refuse a malformed one as a
 * configuration error and to learn the decoded password, if any. */
static int check_uri(const char *uri, struct secrets *s, struct lv_error *err)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(uri, &perr);
    if (!opts) {
        char *msg = scrub(perr, s);
        int rc = lv_error_set(err, LV_ERR_CONFIG, "invalid PostgreSQL URI: %s", msg);
        free(msg);
        PQfreemem(perr);
        return rc;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (secret_key(o->keyword, strlen(o->keyword)) && o->val)
            secrets_add(s, o->val, strlen(o->val));
    PQconninfoFree(opts);
    return 0;
}

static int connect_failed(struct pg *p, const struct secrets *s, struct lv_error *err)
{
    char *msg = scrub(PQerrorMessage(p->conn), s);
    int code = PQconnectionNeedsPassword(p->conn) ? LV_ERR_AUTH : LV_ERR_IO;
    int rc = lv_error_set(err, code, "cannot connect to PostgreSQL at %s: %s", p->where, msg);
    free(msg);
    return rc;
}

/* The URI is expanded in the middle of the parameters: it may override the
 * defaults before it (a 10 s connect timeout, so that an unreachable host
 * does not hang the daemon for minutes; the application name seen in
 * pg_stat_activity), not the client encoding after it, which our strings
 * need. */
static int connect_db(struct pg *p, const char *uri, struct lv_error *err)
{
    static const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname",
                                       "client_encoding", NULL};
    const char *const values[] = {"10", "libervia", uri, "UTF8", NULL};
    struct secrets s = {0};
    add_query_passwords(&s, add_userinfo_password(&s, uri));
    int rc = check_uri(uri, &s, err);
    if (rc == 0) {
        p->conn = PQconnectdbParams(keys, values, 1);
        if (!p->conn) {
            lv_error("store", "out of memory connecting to PostgreSQL");
            abort();
        }
        p->where = describe(p->conn);
        if (PQstatus(p->conn) != CONNECTION_OK)
            rc = connect_failed(p, &s, err);
    }
    secrets_release(&s);
    if (rc == 0) {
        PQsetNoticeProcessor(p->conn, on_notice, NULL);
        lv_debug("store", "connected to PostgreSQL at %s", p->where);
    }
    return rc;
}

static void pg_close(void *state)
{
    struct pg *p = state;
    PQfinish(p->conn); /* NULL-safe */
    free(p->where);
    free(p);
}

int lv_store_postgres_open_with(const char *uri, const struct lv_migration *migs, size_t n,
                                void **state, struct lv_error *err)
{
    struct pg *p = lv_xcalloc(1, sizeof(*p));
    *state = NULL;
    int rc = connect_db(p, uri, err);
    if (rc == 0)
        rc = migrate(p, migs, n, err);
    if (rc != 0) {
        pg_close(p);
        return rc;
    }
    *state = p;
    return 0;
}

static int pg_open(const char *uri, void **state, struct lv_error *err)
{
    return lv_store_postgres_open_with(uri, lv_postgres_migrations, lv_postgres_migrations_count,
                                       state, err);
}

static int pg_schema_version(void *state, int *version)
{
    return current_version(state, version, NULL);
}

/* ---- profiles -------------------------------------------------------------- */

static int no_profile(const char *name, struct lv_error *err)
{
    return lv_error_set(err, LV_ERR_NOT_FOUND, "no profile \"%s\"", name);
}

/* created comes from the server's clock: one clock for every process that
 * shares the database. */
static int pg_profile_create(void *state, const char *name, const char *component,
                             struct lv_error *err)
{
    struct pg *p = state;
    const char *params[] = {name, component};
    PGresult *res = query(p,
                          "INSERT INTO profiles (name, component, created) "
                          "VALUES ($1, $2, EXTRACT(EPOCH FROM now())::bigint)",
                          2, params);
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        return 0;
    }
    if (has_state(res, "23505")) { /* unique_violation */
        PQclear(res);
        return lv_error_set(err, LV_ERR_CONFLICT, "profile \"%s\" already exists", name);
    }
    return fail(p, res, "creating a profile", err);
}

/* Its parameters and private data go with it: ON DELETE CASCADE. */
static int pg_profile_delete(void *state, const char *name, struct lv_error *err)
{
    long changed = 0;
    const char *params[] = {name};
    int rc = command(state, "DELETE FROM profiles WHERE name = $1", 1, params, "deleting a profile",
                     &changed, err);
    return rc == 0 && changed == 0 ? no_profile(name, err) : rc;
}

#define PROFILE_COLUMNS "SELECT id, name, component FROM profiles"

static void row_to_profile(const PGresult *res, int row, struct lv_profile_rec *out)
{
    out->id = col_int(res, row, 0);
    out->name = col_dup(res, row, 1);
    out->component = col_dup(res, row, 2);
}

static int pg_profile_get(void *state, const char *name, struct lv_profile_rec *out,
                          struct lv_error *err)
{
    PGresult *res;
    const char *params[] = {name};
    int rc = select_rows(state, PROFILE_COLUMNS " WHERE name = $1", 1, params, "reading a profile",
                         &res, err);
    if (rc != 0)
        return rc;
    if (PQntuples(res) > 0)
        row_to_profile(res, 0, out);
    else
        rc = no_profile(name, err);
    PQclear(res);
    return rc;
}

/* COLLATE "C" orders by bytes, as SQLite does, whatever the database's
 * collation. */
static int pg_profile_list(void *state, struct lv_profile_rec **out, size_t *n,
                           struct lv_error *err)
{
    PGresult *res;
    int rc = select_rows(state, PROFILE_COLUMNS " ORDER BY name COLLATE \"C\"", 0, NULL,
                         "listing profiles", &res, err);
    if (rc != 0)
        return rc;
    int rows = PQntuples(res);
    if (rows > 0) {
        *out = lv_xcalloc((size_t)rows, sizeof(**out));
        for (int i = 0; i < rows; i++)
            row_to_profile(res, i, &(*out)[i]);
    }
    *n = (size_t)rows;
    PQclear(res);
    return 0;
}

static int pg_default_get(void *state, char **name, struct lv_error *err)
{
    PGresult *res;
    int rc = select_rows(state,
                         "SELECT p.name FROM settings AS s JOIN profiles AS p "
                         "ON p.id = s.default_profile_id WHERE s.id = 1",
                         0, NULL, "reading the default profile", &res, err);
    if (rc != 0)
        return rc;
    if (PQntuples(res) > 0)
        *name = col_dup(res, 0, 0);
    else
        rc = lv_error_set(err, LV_ERR_NOT_FOUND, "no default profile");
    PQclear(res);
    return rc;
}

/* One statement finds the profile and sets it, so that no other process can
 * delete it in between. */
static int pg_default_set(void *state, const char *name, struct lv_error *err)
{
    const char *what = "setting the default profile";
    const char *params[] = {name};
    long changed = 0;
    if (!name)
        return command(state, "UPDATE settings SET default_profile_id = NULL WHERE id = 1", 0, NULL,
                       what, NULL, err);
    int rc = command(state,
                     "UPDATE settings AS s SET default_profile_id = p.id FROM profiles AS p "
                     "WHERE s.id = 1 AND p.name = $1",
                     1, params, what, &changed, err);
    return rc == 0 && changed == 0 ? no_profile(name, err) : rc;
}

/* ---- parameters and private data ------------------------------------------- */

/* The three key/value tables share their operations. Each statement finds
 * the profile by name itself (one round trip, and no window in which another
 * process could delete the profile between a lookup and the write), and
 * tells whether it exists:
 *   get: no row when there is no profile; a NULL value when the key is unset;
 *   put: 0 rows written when there is no profile;
 *   del: one row, the number of profiles found (0 or 1).
 * Parameters: the profile's name ($1, absent from the global table's
 * statements), then the two parts of the key, then the value (put only).
 * The casts tell PostgreSQL the type of parameters that reach a SELECT list,
 * where it cannot infer one. */
struct kv_table {
    const char *what; /* for messages */
    bool per_profile;
    const char *get, *put, *del;
};

static const struct kv_table param_ind = {
    "parameter",
    true,
    "SELECT v.value FROM profiles AS p LEFT JOIN param_ind AS v "
    "ON v.profile_id = p.id AND v.category = $2 AND v.name = $3 WHERE p.name = $1",
    "INSERT INTO param_ind (profile_id, category, name, value) "
    "SELECT id, $2::text, $3::text, $4::text FROM profiles WHERE name = $1 "
    "ON CONFLICT (profile_id, category, name) DO UPDATE SET value = excluded.value",
    "WITH p AS (SELECT id FROM profiles WHERE name = $1), "
    "d AS (DELETE FROM param_ind WHERE profile_id IN (SELECT id FROM p) "
    "AND category = $2 AND name = $3) SELECT count(*) FROM p",
};

static const struct kv_table private_ind = {
    "private value",
    true,
    "SELECT v.value FROM profiles AS p LEFT JOIN private_ind AS v "
    "ON v.profile_id = p.id AND v.namespace = $2 AND v.key = $3 WHERE p.name = $1",
    "INSERT INTO private_ind (profile_id, namespace, key, value) "
    "SELECT id, $2::text, $3::text, $4::text FROM profiles WHERE name = $1 "
    "ON CONFLICT (profile_id, namespace, key) DO UPDATE SET value = excluded.value",
    "WITH p AS (SELECT id FROM profiles WHERE name = $1), "
    "d AS (DELETE FROM private_ind WHERE profile_id IN (SELECT id FROM p) "
    "AND namespace = $2 AND key = $3) SELECT count(*) FROM p",
};

static const struct kv_table private_gen = {
    "global private value",
    false,
    "SELECT v.value FROM (VALUES (1)) AS one LEFT JOIN private_gen AS v "
    "ON v.namespace = $1 AND v.key = $2",
    "INSERT INTO private_gen (namespace, key, value) VALUES ($1, $2, $3) "
    "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
    "WITH d AS (DELETE FROM private_gen WHERE namespace = $1 AND key = $2) SELECT 1",
};

/* Fills params as the table's statements number them; returns how many. */
static int kv_params(const struct kv_table *t, const char *profile, const char *a, const char *b,
                     const char *value, const char *params[4])
{
    int n = 0;
    if (t->per_profile)
        params[n++] = profile;
    params[n++] = a;
    params[n++] = b;
    if (value)
        params[n++] = value;
    return n;
}

static int kv_get(struct pg *p, const struct kv_table *t, const char *profile, const char *a,
                  const char *b, char **value, struct lv_error *err)
{
    const char *params[4];
    PGresult *res;
    int rc = select_rows(p, t->get, kv_params(t, profile, a, b, NULL, params), params,
                         "reading a value", &res, err);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = no_profile(profile, err);
    else if (PQgetisnull(res, 0, 0))
        rc = lv_error_set(err, LV_ERR_NOT_FOUND, "%s \"%s/%s\" is not set", t->what, a, b);
    else
        *value = col_dup(res, 0, 0);
    PQclear(res);
    return rc;
}

static int kv_put(struct pg *p, const struct kv_table *t, const char *profile, const char *a,
                  const char *b, const char *value, struct lv_error *err)
{
    const char *params[4];
    long changed = 0;
    int rc = command(p, t->put, kv_params(t, profile, a, b, value, params), params,
                     "storing a value", &changed, err);
    return rc == 0 && changed == 0 ? no_profile(profile, err) : rc;
}

/* Deleting an unset value is not an error; deleting for a missing profile
 * is, as in the SQLite backend. */
static int kv_del(struct pg *p, const struct kv_table *t, const char *profile, const char *a,
                  const char *b, struct lv_error *err)
{
    const char *params[4];
    int64_t found = 0;
    int rc = fetch_int(p, t->del, kv_params(t, profile, a, b, NULL, params), params,
                       "deleting a value", &found, err);
    if (rc == LV_ERR_NOT_FOUND)
        return lv_error_set(err, LV_ERR_STORE, "deleting a value: no answer");
    return rc == 0 && found == 0 ? no_profile(profile, err) : rc;
}

static int kv_set(struct pg *p, const struct kv_table *t, const char *profile, const char *a,
                  const char *b, const char *value, struct lv_error *err)
{
    return value ? kv_put(p, t, profile, a, b, value, err) : kv_del(p, t, profile, a, b, err);
}

static int pg_param_get(void *state, const char *profile, const char *category, const char *name,
                        char **value, struct lv_error *err)
{
    return kv_get(state, &param_ind, profile, category, name, value, err);
}

static int pg_param_set(void *state, const char *profile, const char *category, const char *name,
                        const char *value, struct lv_error *err)
{
    return kv_set(state, &param_ind, profile, category, name, value, err);
}

static int pg_private_get(void *state, const char *profile, const char *ns, const char *key,
                          char **value, struct lv_error *err)
{
    const struct kv_table *t = profile ? &private_ind : &private_gen;
    return kv_get(state, t, profile, ns, key, value, err);
}

static int pg_private_set(void *state, const char *profile, const char *ns, const char *key,
                          const char *value, struct lv_error *err)
{
    const struct kv_table *t = profile ? &private_ind : &private_gen;
    return kv_set(state, t, profile, ns, key, value, err);
}

/* The pubsub cache's operations are in lv_store_postgres_cache.c. */
const struct lv_store_backend lv_store_postgres_backend = {
    .name = "PostgreSQL",
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .profile_create = pg_profile_create,
    .profile_delete = pg_profile_delete,
    .profile_get = pg_profile_get,
    .profile_list = pg_profile_list,
    .profile_default_get = pg_default_get,
    .profile_default_set = pg_default_set,
    .param_get = pg_param_get,
    .param_set = pg_param_set,
    .private_get = pg_private_get,
    .private_set = pg_private_set,
    .cache = &lv_store_postgres_cache_backend,
};
