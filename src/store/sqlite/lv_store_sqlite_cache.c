/* The pubsub cache on SQLite (tables of migration 0002_pubsub_cache.sql).
 *
 * Every value reaches SQL as a bound parameter, JSON paths included; the SQL
 * text of a search is assembled only from constant fragments chosen by the
 * validated query (lv_store_cache_query_parse). Lists of values for IN and
 * overlap tests are bound as one JSON array read back with json_each(), so
 * their length never changes the statement.
 *
 * Case-insensitive matching (ilike, ioverlap, tag counts) uses Unicode case
 * folding from utf8proc, registered on each connection as lv_fold(): SQLite's
 * own lower() and LIKE only fold ASCII. Case-sensitive like is done with
 * GLOB, SQLite's LIKE being case-insensitive. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/sqlite/lv_store_sqlite_priv.h"

/* ---- statements ------------------------------------------------------------ */

/* Busy and locked are worth a retry; everything else is a storage failure. */
static int db_err(sqlite3 *db, int rc, const char *what, struct lv_error *err)
{
    int prim = rc & 0xff;
    int code = prim == SQLITE_BUSY || prim == SQLITE_LOCKED ? LV_ERR_AGAIN : LV_ERR_STORE;
    return lv_error_set(err, code, "%s: %s", what, sqlite3_errmsg(db));
}

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct lv_error *err)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : db_err(db, rc, "preparing a statement", err);
}

/* Steps a statement that returns no row, then finalizes it. */
static int run(sqlite3 *db, sqlite3_stmt *st, const char *what, struct lv_error *err)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : db_err(db, rc, what, err);
    sqlite3_finalize(st);
    return ret;
}

static int exec(sqlite3 *db, const char *sql, const char *what, struct lv_error *err)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_err(db, rc, what, err);
}

/* Ends the transaction begun by the caller: commits after success, rolls
 * back after a failure (whose message err already holds). */
static int finish_tx(sqlite3 *db, int rc, struct lv_error *err)
{
    if (rc == 0)
        return exec(db, "COMMIT", "committing", err);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Reads the integer of the one row of st and finalizes st.
 * LV_ERR_NOT_FOUND, without a message, when there is no row. */
static int fetch_int(sqlite3 *db, sqlite3_stmt *st, int64_t *out, struct lv_error *err)
{
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        ret = rc == SQLITE_DONE ? LV_ERR_NOT_FOUND : db_err(db, rc, "reading", err);
    sqlite3_finalize(st);
    return ret;
}

static int count_sql(sqlite3 *db, const char *sql, int64_t *out, struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(db, sql, &st, err);
    return rc != 0 ? rc : fetch_int(db, st, out, err);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) {
        lv_error("store", "out of memory reading a column");
        abort();
    }
    return lv_xstrndup((const char *)t, (size_t)sqlite3_column_bytes(st, i));
}

/* NULL, the store's "unknown" time, reads as 0. */
static double col_time(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_double(st, i);
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    const char *t = (const char *)sqlite3_column_text(st, i);
    return json_loadb(t, (size_t)sqlite3_column_bytes(st, i), 0, NULL);
}

static void bind_time(sqlite3_stmt *st, int i, double t)
{
    if (t == 0 || !isfinite(t))
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, t);
}

/* ---- case folding, patterns ------------------------------------------------ */

static void sql_fold(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    if (!s) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    char *f = lv_cq_fold(s, (size_t)sqlite3_value_bytes(argv[0]));
    sqlite3_result_text(ctx, f, -1, free);
}

int lv_store_sqlite_cache_register(sqlite3 *db, struct lv_error *err)
{
    int rc = sqlite3_create_function_v2(db, "lv_fold", 1,
                                        SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                        sql_fold, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_err(db, rc, "registering SQL functions", err);
}

/* A LIKE pattern (% any run, _ one character, \ escapes the next one) as a
 * GLOB pattern, which SQLite matches case-sensitively and by character.
 * GLOB's own metacharacters become one-character classes. Caller frees. */
static char *like_to_glob(const char *p, size_t len)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "");
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < len)
            c = p[++i];
        else if (c == '%' || c == '_') {
            lv_buf_addc(&b, c == '%' ? '*' : '?');
            continue;
        }
        if (c == '*' || c == '?' || c == '[')
            lv_buf_addf(&b, "[%c]", c);
        else
            lv_buf_addc(&b, c);
    }
    return lv_buf_detach(&b);
}

/* ---- building statements --------------------------------------------------- */

/* SQL text and the values to bind to its "?" in order. */
struct sqlq {
    struct lv_buf sql;
    json_t *binds;
};

static void q_init(struct sqlq *q)
{
    lv_buf_init(&q->sql);
    q->binds = json_array();
}

static void q_release(struct sqlq *q)
{
    lv_buf_release(&q->sql);
    json_decref(q->binds);
}

static void q_sql(struct sqlq *q, const char *s)
{
    lv_buf_adds(&q->sql, s);
}

/* Appends a "?" for v (a new reference, stolen). */
static void q_param(struct sqlq *q, json_t *v)
{
    lv_buf_addc(&q->sql, '?');
    json_array_append_new(q->binds, v);
}

static void q_param_text(struct sqlq *q, char *s)
{
    q_param(q, json_string(s));
    free(s);
}

/* Arrays and objects are bound as their JSON text (for json_each). */
static int bind_json(sqlite3_stmt *st, int i, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return sqlite3_bind_text(st, i, json_string_value(v), (int)json_string_length(v),
                                 SQLITE_STATIC);
    case JSON_INTEGER:
        return sqlite3_bind_int64(st, i, json_integer_value(v));
    case JSON_REAL:
        return sqlite3_bind_double(st, i, json_real_value(v));
    case JSON_TRUE:
    case JSON_FALSE:
        return sqlite3_bind_int(st, i, json_is_true(v));
    case JSON_NULL:
        return sqlite3_bind_null(st, i);
    default:
        return sqlite3_bind_text(st, i, json_dumps(v, JSON_COMPACT), -1, free);
    }
}

/* Prepares q; the bound strings belong to q->binds, which must outlive st. */
static int q_prepare(sqlite3 *db, struct sqlq *q, sqlite3_stmt **st, struct lv_error *err)
{
    size_t i;
    json_t *v;
    int rc = prep(db, q->sql.data, st, err);
    if (rc != 0)
        return rc;
    json_array_foreach(q->binds, i, v)
    {
        int brc = bind_json(*st, (int)i + 1, v);
        if (brc != SQLITE_OK) {
            sqlite3_finalize(*st);
            return db_err(db, brc, "binding a value", err);
        }
    }
    return 0;
}

/* "$."a"[0]" for a validated path: keys never hold a quote. */
static char *json_path(const json_t *path)
{
    struct lv_buf b = LV_BUF_INIT;
    size_t i;
    const json_t *seg;
    lv_buf_addc(&b, '$');
    json_array_foreach(path, i, seg)
    {
        if (json_is_integer(seg))
            lv_buf_addf(&b, "[%lld]", (long long)json_integer_value(seg));
        else
            lv_buf_addf(&b, ".\"%s\"", json_string_value(seg));
    }
    return lv_buf_detach(&b);
}

/* "col IN (?, ...)", where null or "" in a nullable list matches NULL. */
static void q_in_list(struct sqlq *q, const char *col, json_t *list, bool nullable)
{
    size_t i, n = 0;
    json_t *v;
    bool null = false;
    q_sql(q, " AND (");
    json_array_foreach(list, i, v)
    {
        if (nullable && (json_is_null(v) || json_string_length(v) == 0)) {
            null = true;
            continue;
        }
        lv_buf_addf(&q->sql, n++ ? ", " : "%s IN (", col);
        q_param(q, json_incref(v));
    }
    if (n)
        q_sql(q, ")");
    if (null)
        lv_buf_addf(&q->sql, "%s%s IS NULL", n ? " OR " : "", col);
    q_sql(q, ")");
}

static void q_list_opt(struct sqlq *q, const char *col, json_t *list, bool nullable)
{
    if (list)
        q_in_list(q, col, list, nullable);
}

/* A one-value filter of struct lv_store_cache_node_filter; NULL: none. */
static void q_eq_opt(struct sqlq *q, const char *col, const char *value, bool nullable)
{
    if (!value)
        return;
    json_t *list = json_pack("[s]", value);
    q_in_list(q, col, list, nullable);
    json_decref(list);
}

static void q_node_filter(struct sqlq *q, const struct lv_store_cache_node_filter *f)
{
    q_eq_opt(q, "p.name", f->profile, false);
    q_eq_opt(q, "n.service", f->service, false);
    q_eq_opt(q, "n.name", f->node, false);
    q_eq_opt(q, "n.type", f->type, true);
    q_eq_opt(q, "n.subtype", f->subtype, true);
    if (!f->by_sync_state)
        return;
    if (f->sync_state == LV_STORE_CACHE_SYNC_NONE) {
        q_sql(q, " AND n.sync_state IS NULL");
        return;
    }
    q_sql(q, " AND n.sync_state = ");
    q_param(q, json_string(lv_store_cache_sync_name(f->sync_state)));
}

/* ---- nodes ----------------------------------------------------------------- */

#define NODE_COLUMNS                                                                               \
    "SELECT n.id, p.name, n.service, n.name, n.subscribed, n.analyser, n.type, n.subtype, "        \
    "n.sync_state, n.sync_state_updated, n.sync_error, n.sync_retry_at, n.extra, "                 \
    "n.trimmed_items, n.trimmed_upto"
#define NODE_FROM " FROM pubsub_nodes AS n JOIN profiles AS p ON p.id = n.profile_id"

static void row_to_node(sqlite3_stmt *st, struct lv_store_cache_node *n)
{
    n->id = sqlite3_column_int64(st, 0);
    n->profile = col_dup(st, 1);
    n->service = col_dup(st, 2);
    n->name = col_dup(st, 3);
    n->subscribed = sqlite3_column_int(st, 4) != 0;
    n->analyser = col_dup(st, 5);
    n->type = col_dup(st, 6);
    n->subtype = col_dup(st, 7);
    n->sync_state = lv_cq_sync_parse((const char *)sqlite3_column_text(st, 8));
    n->sync_state_updated = col_time(st, 9);
    n->sync_error = col_dup(st, 10);
    n->sync_retry_at = col_time(st, 11);
    n->extra = col_dup(st, 12);
    n->trimmed_items = sqlite3_column_int64(st, 13);
    n->trimmed_upto = col_time(st, 14);
}

static int sq_node_get(void *state, const char *profile, const char *service, const char *node,
                       struct lv_store_cache_node *out, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    int rc =
        prep(db, NODE_COLUMNS NODE_FROM " WHERE p.name = ?1 AND n.service = ?2 AND n.name = ?3",
             &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, profile, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, service, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, node, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        row_to_node(st, out);
    else if (rc == SQLITE_DONE)
        ret = lv_error_set(err, LV_ERR_NOT_FOUND, "node %s/%s is not cached for %s", service, node,
                           profile);
    else
        ret = db_err(db, rc, "reading a cached node", err);
    sqlite3_finalize(st);
    return ret;
}

static int profile_id(sqlite3 *db, const char *name, int64_t *id, struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(db, "SELECT id FROM profiles WHERE name = ?1", &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = fetch_int(db, st, id, err);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no profile \"%s\"", name);
    return rc;
}

static void bind_info(sqlite3_stmt *st, const struct lv_store_cache_node_info *info)
{
    static const struct lv_store_cache_node_info none = {0};
    if (!info)
        info = &none;
    sqlite3_bind_int(st, 10, info->subscribed);
    sqlite3_bind_text(st, 11, info->analyser, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, info->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, info->subtype, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, info->extra, -1, SQLITE_STATIC);
}

/* Inserts the node unless it exists; *created tells which. */
static int node_insert(sqlite3 *db, int64_t pid, const char *service, const char *node,
                       const struct lv_store_cache_node_info *info, bool *created,
                       struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(db,
                  "INSERT INTO pubsub_nodes (profile_id, service, name, sync_state_updated, "
                  "subscribed, analyser, type, subtype, extra) "
                  "VALUES (?1, ?2, ?3, ?4, ?10, ?11, ?12, ?13, ?14) "
                  "ON CONFLICT (profile_id, service, name) DO NOTHING",
                  &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_text(st, 2, service, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, node, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, lv_cq_now());
    bind_info(st, info);
    rc = run(db, st, "caching a node", err);
    *created = rc == 0 && sqlite3_changes(db) == 1;
    return rc;
}

static int sq_node_ensure(void *state, const char *profile, const char *service, const char *node,
                          const struct lv_store_cache_node_info *info,
                          struct lv_store_cache_node *out, bool *created, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    int64_t pid = 0;
    int rc = profile_id(db, profile, &pid, err);
    if (rc == 0)
        rc = node_insert(db, pid, service, node, info, created, err);
    if (rc == 0)
        rc = sq_node_get(state, profile, service, node, out, err);
    return rc;
}

/* Runs an UPDATE or DELETE of node ?1 (binding it) and reports a missing
 * node. */
static int node_write(sqlite3 *db, sqlite3_stmt *st, int64_t node_id, const char *what,
                      struct lv_error *err)
{
    sqlite3_bind_int64(st, 1, node_id);
    int rc = run(db, st, what, err);
    if (rc == 0 && sqlite3_changes(db) == 0)
        return lv_error_set(err, LV_ERR_NOT_FOUND, "no cached node %lld", (long long)node_id);
    return rc;
}

static int sq_node_set_info(void *state, int64_t node_id,
                            const struct lv_store_cache_node_info *info, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    int rc = prep(db,
                  "UPDATE pubsub_nodes SET subscribed = ?10, analyser = ?11, type = ?12, "
                  "subtype = ?13, extra = ?14 WHERE id = ?1",
                  &st, err);
    if (rc != 0)
        return rc;
    bind_info(st, info);
    return node_write(db, st, node_id, "updating a cached node", err);
}

static int sq_node_set_sync(void *state, int64_t node_id, enum lv_store_cache_sync sync,
                            const char *error, double retry_at, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    int rc = prep(db,
                  "UPDATE pubsub_nodes SET sync_state = ?2, sync_state_updated = ?3, "
                  "sync_error = ?4, sync_retry_at = ?5 WHERE id = ?1",
                  &st, err);
    if (rc != 0)
        return rc;
    if (sync == LV_STORE_CACHE_SYNC_NONE)
        sqlite3_bind_null(st, 2);
    else
        sqlite3_bind_text(st, 2, lv_store_cache_sync_name(sync), -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, lv_cq_now());
    sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
    bind_time(st, 5, retry_at);
    return node_write(db, st, node_id, "setting a sync state", err);
}

static int read_nodes(sqlite3 *db, sqlite3_stmt *st, struct lv_store_cache_node **out, size_t *n,
                      struct lv_error *err)
{
    struct lv_store_cache_node *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lv_grow((void **)&v, &cap, len + 1, sizeof(*v));
        memset(&v[len], 0, sizeof(v[len]));
        row_to_node(st, &v[len]);
        v[len++].item_count = sqlite3_column_int64(st, 15);
    }
    if (rc != SQLITE_DONE) {
        lv_store_cache_nodes_free(v, len);
        return db_err(db, rc, "listing cached nodes", err);
    }
    *out = v;
    *n = len;
    return 0;
}

static int sq_node_list(void *state, const struct lv_store_cache_node_filter *filter,
                        struct lv_store_cache_node **out, size_t *n, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    struct sqlq q;
    sqlite3_stmt *st;
    q_init(&q);
    q_sql(&q, NODE_COLUMNS
          ", (SELECT count(*) FROM pubsub_items AS i WHERE i.node_id = n.id)" NODE_FROM " WHERE 1");
    q_node_filter(&q, filter);
    q_sql(&q, " ORDER BY p.name, n.service, n.name");
    int rc = q_prepare(db, &q, &st, err);
    if (rc == 0) {
        rc = read_nodes(db, st, out, n, err);
        sqlite3_finalize(st);
    }
    q_release(&q);
    return rc;
}

static int sq_node_delete(void *state, int64_t node_id, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    int rc = prep(db, "DELETE FROM pubsub_nodes WHERE id = ?1", &st, err);
    return rc != 0 ? rc : node_write(db, st, node_id, "deleting a cached node", err);
}

static int node_exists(sqlite3 *db, int64_t node_id, struct lv_error *err)
{
    sqlite3_stmt *st;
    int64_t one;
    int rc = prep(db, "SELECT 1 FROM pubsub_nodes WHERE id = ?1", &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, node_id);
    rc = fetch_int(db, st, &one, err);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no cached node %lld", (long long)node_id);
    return rc;
}

/* Nothing is missing from an emptied node: its trim record goes too. */
static int delete_node_items(sqlite3 *db, int64_t node_id, size_t *deleted, struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = node_exists(db, node_id, err);
    if (rc == 0)
        rc = prep(db, "DELETE FROM pubsub_items WHERE node_id = ?1", &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, node_id);
    rc = run(db, st, "purging a cached node", err);
    *deleted = rc == 0 ? (size_t)sqlite3_changes(db) : 0;
    if (rc == 0)
        rc =
            prep(db, "UPDATE pubsub_nodes SET trimmed_items = 0, trimmed_upto = NULL WHERE id = ?1",
                 &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, node_id);
    return run(db, st, "purging a cached node", err);
}

static int sq_node_purge(void *state, int64_t node_id, size_t *deleted, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    int rc = exec(db, "BEGIN IMMEDIATE", "purging a cached node", err);
    if (rc == 0)
        rc = finish_tx(db, delete_node_items(db, node_id, deleted, err), err);
    if (rc != 0)
        *deleted = 0;
    return rc;
}

/* ---- writing items --------------------------------------------------------- */

/* The statements of one upsert batch, prepared once for all its items. */
struct upsert {
    sqlite3 *db;
    int64_t node_id;
    double now;
    sqlite3_stmt *item, *untag, *tag;
};

static int upsert_prepare(struct upsert *u, struct lv_error *err)
{
    int rc = prep(u->db,
                  "INSERT INTO pubsub_items (node_id, name, data, text, parsed, published, "
                  "updated, created, modified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) "
                  "ON CONFLICT (node_id, name) DO UPDATE SET data = excluded.data, "
                  "text = excluded.text, parsed = excluded.parsed, "
                  "published = excluded.published, updated = excluded.updated, "
                  "modified = excluded.modified RETURNING id, created",
                  &u->item, err);
    if (rc == 0)
        rc = prep(u->db, "DELETE FROM pubsub_item_tags WHERE item_id = ?1", &u->untag, err);
    if (rc == 0)
        rc = prep(u->db,
                  "INSERT OR IGNORE INTO pubsub_item_tags (item_id, node_id, tag, tag_norm) "
                  "VALUES (?1, ?2, ?3, ?4)",
                  &u->tag, err);
    return rc;
}

static void upsert_release(struct upsert *u)
{
    sqlite3_finalize(u->item);
    sqlite3_finalize(u->untag);
    sqlite3_finalize(u->tag);
}

/* Steps a reusable statement that returns no row and resets it. */
static int step_reset(sqlite3 *db, sqlite3_stmt *st, const char *what, struct lv_error *err)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : db_err(db, rc, what, err);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

static int write_tag(struct upsert *u, int64_t item_id, const json_t *tag, struct lv_error *err)
{
    const char *s = json_string_value(tag);
    size_t len = json_string_length(tag);
    if (!s || len == 0)
        return 0; /* only non-empty strings are tags */
    char *norm = lv_cq_fold(s, len);
    sqlite3_bind_int64(u->tag, 1, item_id);
    sqlite3_bind_int64(u->tag, 2, u->node_id);
    sqlite3_bind_text(u->tag, 3, s, (int)len, SQLITE_STATIC);
    sqlite3_bind_text(u->tag, 4, norm, -1, free);
    return step_reset(u->db, u->tag, "storing a tag", err);
}

/* The tags of an edited item are rewritten whole: the edit may remove
 * some. A new item has none to clear. */
static int write_tags(struct upsert *u, int64_t item_id, bool fresh, json_t *parsed,
                      struct lv_error *err)
{
    json_t *tags = json_object_get(parsed, "tags"), *t;
    size_t i;
    int rc = 0;
    if (!fresh) {
        sqlite3_bind_int64(u->untag, 1, item_id);
        rc = step_reset(u->db, u->untag, "clearing tags", err);
    }
    if (rc != 0 || !tags)
        return rc;
    if (json_is_string(tags))
        return write_tag(u, item_id, tags, err);
    json_array_foreach(tags, i, t)
    {
        rc = write_tag(u, item_id, t, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* *fresh: the item was not cached yet. An upsert keeps the created time of
 * an edited item, and no two items of a batch share a name, so only a new
 * row has this batch's time. */
static int write_item(struct upsert *u, const struct lv_store_cache_item *it, int64_t *id,
                      bool *fresh, struct lv_error *err)
{
    sqlite3_stmt *st = u->item;
    char *parsed = it->parsed ? json_dumps(it->parsed, JSON_COMPACT) : NULL;
    sqlite3_bind_int64(st, 1, u->node_id);
    sqlite3_bind_text(st, 2, it->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, it->xml, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, it->text ? it->text : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, parsed, -1, free);
    bind_time(st, 6, it->published);
    bind_time(st, 7, it->updated);
    sqlite3_bind_double(st, 8, u->now);
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_ROW ? 0 : db_err(u->db, rc, "caching an item", err);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *fresh = sqlite3_column_double(st, 1) == u->now;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

static int upsert_all(struct upsert *u, const struct lv_store_cache_item *items, size_t n,
                      struct lv_error *err)
{
    int rc = node_exists(u->db, u->node_id, err);
    if (rc == 0)
        rc = upsert_prepare(u, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        int64_t id = 0;
        bool fresh = false;
        rc = write_item(u, &items[i], &id, &fresh, err);
        if (rc == 0)
            rc = write_tags(u, id, fresh, items[i].parsed, err);
    }
    upsert_release(u);
    return rc;
}

static int sq_items_upsert(void *state, int64_t node_id, const struct lv_store_cache_item *items,
                           size_t n, struct lv_error *err)
{
    struct upsert u = {lv_store_sqlite_db(state), node_id, lv_cq_now(), NULL, NULL, NULL};
    int rc = exec(u.db, "BEGIN IMMEDIATE", "caching items", err);
    return rc != 0 ? rc : finish_tx(u.db, upsert_all(&u, items, n, err), err);
}

static int delete_items(sqlite3 *db, int64_t node_id, const char *const *names, size_t n,
                        size_t *deleted, struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(db, "DELETE FROM pubsub_items WHERE node_id = ?1 AND name = ?2", &st, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_int64(st, 1, node_id);
        sqlite3_bind_text(st, 2, names[i], -1, SQLITE_STATIC);
        rc = step_reset(db, st, "deleting an item", err);
        *deleted += rc == 0 ? (size_t)sqlite3_changes(db) : 0;
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_items_delete(void *state, int64_t node_id, const char *const *names, size_t n,
                           size_t *deleted, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    int rc = exec(db, "BEGIN IMMEDIATE", "deleting items", err);
    if (rc == 0)
        rc = finish_tx(db, delete_items(db, node_id, names, n, deleted, err), err);
    if (rc != 0)
        *deleted = 0;
    return rc;
}

/* ---- reading items --------------------------------------------------------- */

/* The sort key of each order (lv_store_cache_order), spelled as in the
 * migration's indexes so that SQLite uses them; id breaks ties. */
static const char *const order_key[] = {
    [LV_STORE_CACHE_ORDER_PUBLISHED] = "coalesce(published, created)",
    [LV_STORE_CACHE_ORDER_CREATION] = "id",
    [LV_STORE_CACHE_ORDER_MODIFICATION] = "modified",
};

#define ITEM_COLUMNS "SELECT id, name, data, parsed, published, updated, created, modified, "

/* A page request being answered. desc is the list's direction. */
struct pager {
    sqlite3 *db;
    int64_t node_id;
    const struct lv_store_cache_page_req *req;
    const char *key;
    bool desc;
    sqlite3_value *pivot_key; /* of the after/before item */
    int64_t pivot_id;
};

/* "(key, id) < (?2, ?3)": rows beyond the pivot, in list order (after) or
 * against it (before). */
static const char *beyond(const struct pager *p, bool forward)
{
    return p->desc == forward ? "<" : ">";
}

static char *page_sql(const struct pager *p, const char *cmp, bool reverse, bool offset)
{
    bool desc = p->desc != reverse;
    const char *dir = desc ? "DESC" : "ASC";
    char *where = cmp ? lv_xasprintf(" AND (%s, id) %s (?2, ?3)", p->key, cmp) : lv_xstrdup("");
    if (p->req->n_names > 0) {
        free(where);
        where = lv_xstrdup(" AND name IN (SELECT value FROM json_each(?5))");
    }
    char *sql = lv_xasprintf(ITEM_COLUMNS "%s FROM pubsub_items WHERE node_id = ?1%s "
                                          "ORDER BY %s %s, id %s LIMIT ?4%s",
                             p->key, where, p->key, dir, dir, offset ? " OFFSET ?6" : "");
    free(where);
    return sql;
}

static void row_to_item(sqlite3_stmt *st, struct lv_store_cache_item_rec *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->name = col_dup(st, 1);
    r->xml = col_dup(st, 2);
    r->parsed = col_json(st, 3);
    r->published = col_time(st, 4);
    r->updated = col_time(st, 5);
    r->created = col_time(st, 6);
    r->modified = col_time(st, 7);
}

static json_t *names_json(const char *const *names, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

static void bind_page(const struct pager *p, sqlite3_stmt *st, char **names)
{
    sqlite3_bind_int64(st, 1, p->node_id);
    if (p->pivot_key) {
        sqlite3_bind_value(st, 2, p->pivot_key);
        sqlite3_bind_int64(st, 3, p->pivot_id);
    }
    sqlite3_bind_int64(st, 4, (sqlite3_int64)p->req->max);
    if (p->req->n_names > 0) {
        json_t *a = names_json(p->req->names, p->req->n_names);
        *names = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        sqlite3_bind_text(st, 5, *names, -1, SQLITE_STATIC);
    }
    if (p->req->index >= 0)
        sqlite3_bind_int64(st, 6, p->req->index);
}

static void reverse_items(struct lv_store_cache_item_rec *v, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        struct lv_store_cache_item_rec t = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
}

/* Reads the rows of sql into the page, in list order. */
static int read_page(struct pager *p, const char *sql, bool reverse,
                     struct lv_store_cache_page *out, struct lv_error *err)
{
    sqlite3_stmt *st;
    char *names = NULL;
    size_t cap = 0;
    int rc = prep(p->db, sql, &st, err);
    if (rc != 0)
        return rc;
    bind_page(p, st, &names);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lv_grow((void **)&out->items, &cap, out->n + 1, sizeof(*out->items));
        row_to_item(st, &out->items[out->n++]);
    }
    int ret = rc == SQLITE_DONE ? 0 : db_err(p->db, rc, "reading cached items", err);
    sqlite3_finalize(st);
    free(names);
    if (reverse)
        reverse_items(out->items, out->n);
    return ret;
}

/* How many items come before (key, id) in list order. */
static int position(struct pager *p, sqlite3_value *key, int64_t id, int64_t *pos,
                    struct lv_error *err)
{
    sqlite3_stmt *st;
    char *sql = lv_xasprintf("SELECT count(*) FROM pubsub_items WHERE node_id = ?1 "
                             "AND (%s, id) %s (?2, ?3)",
                             p->key, p->desc ? ">" : "<");
    int rc = prep(p->db, sql, &st, err);
    free(sql);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, p->node_id);
    sqlite3_bind_value(st, 2, key);
    sqlite3_bind_int64(st, 3, id);
    return fetch_int(p->db, st, pos, err);
}

/* Finds the after/before item: XEP-0059 answers item-not-found without it. */
static int find_pivot(struct pager *p, const char *name, struct lv_error *err)
{
    sqlite3_stmt *st;
    char *sql =
        lv_xasprintf("SELECT %s, id FROM pubsub_items WHERE node_id = ?1 AND name = ?2", p->key);
    int rc = prep(p->db, sql, &st, err);
    free(sql);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, p->node_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        p->pivot_key = sqlite3_value_dup(sqlite3_column_value(st, 0));
        p->pivot_id = sqlite3_column_int64(st, 1);
    }
    int ret = rc == SQLITE_ROW ? 0
              : rc == SQLITE_DONE
                  ? lv_error_set(err, LV_ERR_NOT_FOUND, "item \"%s\" is not cached", name)
                  : db_err(p->db, rc, "reading a cached item", err);
    sqlite3_finalize(st);
    return ret;
}

/* after X: the rows beyond X; index: X's position + 1. */
static int page_after(struct pager *p, struct lv_store_cache_page *out, struct lv_error *err)
{
    int rc = find_pivot(p, p->req->after, err);
    if (rc == 0)
        rc = position(p, p->pivot_key, p->pivot_id, &out->index, err);
    out->index += 1;
    if (rc == 0) {
        char *sql = page_sql(p, beyond(p, true), false, false);
        rc = read_page(p, sql, false, out, err);
        free(sql);
    }
    return rc;
}

/* before X: the rows closest before X, read backwards; before "": the last
 * rows. */
static int page_before(struct pager *p, struct lv_store_cache_page *out, struct lv_error *err)
{
    int rc = 0;
    int64_t end = out->count;
    if (*p->req->before) {
        rc = find_pivot(p, p->req->before, err);
        if (rc == 0)
            rc = position(p, p->pivot_key, p->pivot_id, &end, err);
    }
    if (rc == 0) {
        char *sql = page_sql(p, p->pivot_key ? beyond(p, false) : NULL, true, false);
        rc = read_page(p, sql, true, out, err);
        free(sql);
    }
    out->index = end - (int64_t)out->n;
    return rc;
}

/* From the start, at an index, or the named items. */
static int page_plain(struct pager *p, struct lv_store_cache_page *out, struct lv_error *err)
{
    char *sql = page_sql(p, NULL, false, p->req->index >= 0);
    int rc = read_page(p, sql, false, out, err);
    free(sql);
    out->index = p->req->index >= 0 ? p->req->index : 0;
    if (rc != 0 || p->req->n_names == 0 || out->n == 0)
        return rc;
    /* Named items: where the first of them stands in the whole list. */
    sqlite3_value *key = NULL;
    struct lv_store_cache_item_rec *first = &out->items[0];
    sqlite3_stmt *st;
    char *ksql = lv_xasprintf("SELECT %s FROM pubsub_items WHERE id = ?1", p->key);
    rc = prep(p->db, ksql, &st, err);
    free(ksql);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, first->id);
    if (sqlite3_step(st) == SQLITE_ROW)
        key = sqlite3_value_dup(sqlite3_column_value(st, 0));
    sqlite3_finalize(st);
    rc = key ? position(p, key, first->id, &out->index, err) : 0;
    sqlite3_value_free(key);
    return rc;
}

static int node_count(sqlite3 *db, int64_t node_id, int64_t *count, struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = node_exists(db, node_id, err);
    if (rc == 0)
        rc = prep(db, "SELECT count(*) FROM pubsub_items WHERE node_id = ?1", &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, node_id);
    return fetch_int(db, st, count, err);
}

static int get_page(struct pager *p, struct lv_store_cache_page *out, struct lv_error *err)
{
    int rc = node_count(p->db, p->node_id, &out->count, err);
    if (rc != 0)
        return rc;
    if (p->req->after)
        rc = page_after(p, out, err);
    else if (p->req->before)
        rc = page_before(p, out, err);
    else
        rc = page_plain(p, out, err);
    if (rc == 0 && out->n > 0) {
        out->first = lv_xstrdup(out->items[0].name);
        out->last = lv_xstrdup(out->items[out->n - 1].name);
    }
    return rc;
}

static int sq_items_get(void *state, int64_t node_id, const struct lv_store_cache_page_req *req,
                        struct lv_store_cache_page *out, struct lv_error *err)
{
    struct pager p = {lv_store_sqlite_db(state), node_id, req, order_key[req->order],
                      !req->oldest_first,        NULL,    0};
    /* One read transaction: the count and the page see the same items. */
    int rc = exec(p.db, "BEGIN", "reading cached items", err);
    if (rc == 0)
        rc = finish_tx(p.db, get_page(&p, out, err), err);
    sqlite3_value_free(p.pivot_key);
    if (rc != 0)
        lv_store_cache_page_release(out);
    return rc;
}

/* ---- search: plan ---------------------------------------------------------- */

/* A search runs in two steps: the ids of the page (with their rank), found
 * with as few columns as the filters and orders need, then the rows of those
 * ids alone. Reading whole rows only for the page matters: the sorter of a
 * one-step query would carry the parsed data of every match. */
struct plan {
    sqlite3 *db;
    const struct lv_store_cache_query *cq;
    bool items; /* step one reads pubsub_items (i) */
    bool nodes; /* ... and pubsub_nodes (n) */
    /* Per filter: a tag set small enough to drive the search (see
     * plan_tags). */
    bool tag_list[LV_STORE_CACHE_FILTERS_MAX];
    int64_t min_rowid; /* the rank window's oldest match (plan_window); 0: none */
};

/* overlap/disjoint of strings on ["tags"] are answered by the tag table. */
static bool uses_tag_table(const struct lv_store_cache_cond *c)
{
    return c->op >= LV_CQ_OVERLAP && lv_cq_path_is(c->path, "tags") && lv_cq_all_strings(c->value);
}

/* floor(sqrt(v)), without libm. */
static int64_t isqrt(int64_t v)
{
    int64_t r = 0;
    for (int64_t bit = (int64_t)1 << 62; bit > 0; bit >>= 2) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
    }
    return r;
}

/* How many items carry one of the tags, counting no further than cap. */
static int tag_count(struct plan *pl, const json_t *values, int64_t cap, int64_t *n,
                     struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = prep(pl->db,
                  "SELECT count(*) FROM (SELECT 1 FROM pubsub_item_tags WHERE tag_norm IN "
                  "(SELECT value FROM json_each(?1)) LIMIT ?2)",
                  &st, err);
    if (rc != 0)
        return rc;
    json_t *folded = lv_cq_fold_list(values);
    char *text = json_dumps(folded, JSON_COMPACT);
    json_decref(folded);
    sqlite3_bind_text(st, 1, text, -1, free);
    sqlite3_bind_int64(st, 2, cap);
    return fetch_int(pl->db, st, n, err);
}

/* A tag filter can either drive the search (fetch the tagged items, then
 * sort them) or check each item met in the order of an index (stopping once
 * the page is full). Driving costs one lookup per tagged item; checking
 * costs about (index + limit) * items / tagged lookups. The two meet at
 * sqrt((index + limit) * items): under it, drive. A bounded count tells which
 * side a tag is on. With full text, the text index drives anyway. */
static int plan_tags(struct plan *pl, struct lv_error *err)
{
    int64_t max_id = 0, cap;
    int rc = 0;
    if (pl->cq->fts)
        return 0;
    for (size_t i = 0; i < pl->cq->n_conds && rc == 0; i++) {
        const struct lv_store_cache_cond *c = &pl->cq->conds[i];
        if (!uses_tag_table(c) || lv_cq_is_negated_set(c->op))
            continue;
        if (max_id == 0)
            rc = count_sql(pl->db, "SELECT coalesce(max(id), 1) FROM pubsub_items", &max_id, err);
        cap = isqrt(pl->cq->limit + (pl->cq->index < INT32_MAX ? pl->cq->index : INT32_MAX)) *
              isqrt(max_id);
        int64_t n = 0;
        if (rc == 0)
            rc = tag_count(pl, c->value, cap + 1, &n, err);
        pl->tag_list[i] = n <= cap;
    }
    return rc;
}

/* FTS5's bm25 reads each match's positions and length: ranking costs 1 to
 * 6 microseconds per match, seconds for a word found in most items. Ranking
 * only the window's most recent matches (ids are arrival order, and FTS5
 * walks them backwards at little cost) bounds that. A window of at least
 * index + limit keeps every page of a query within the same window. */
static int plan_window(struct plan *pl, struct lv_error *err)
{
    sqlite3_stmt *st;
    int64_t window = pl->cq->index + pl->cq->limit;
    if (window < LV_STORE_CACHE_RANK_WINDOW)
        window = LV_STORE_CACHE_RANK_WINDOW;
    int rc = prep(pl->db,
                  "SELECT rowid FROM pubsub_items_fts WHERE pubsub_items_fts MATCH ?1 "
                  "ORDER BY rowid DESC LIMIT 1 OFFSET ?2",
                  &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, pl->cq->fts, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, window - 1);
    rc = fetch_int(pl->db, st, &pl->min_rowid, err);
    return rc == LV_ERR_NOT_FOUND ? 0 : rc; /* fewer matches: rank them all */
}

static int plan_init(struct plan *pl, sqlite3 *db, const struct lv_store_cache_query *cq,
                     struct lv_error *err)
{
    memset(pl, 0, sizeof(*pl));
    pl->db = db;
    pl->cq = cq;
    pl->nodes = lv_cq_any_node_filter(cq);
    pl->items = !cq->fts || pl->nodes || cq->names || cq->n_conds > 0 || !lv_cq_only_rank_order(cq);
    int rc = plan_tags(pl, err);
    if (rc == 0 && cq->fts && !pl->items)
        rc = plan_window(pl, err);
    return rc;
}

/* ---- search: conditions ---------------------------------------------------- */

/* The SQL for the value at path. The item's published/updated columns hold
 * the same dates as its parsed data and are indexed: numeric tests on them
 * use the columns. */
static void q_path_expr(struct sqlq *q, const json_t *path, const json_t *value)
{
    bool numeric = value && lv_cq_all_numbers(value);
    if (numeric && lv_cq_path_is(path, "published")) {
        q_sql(q, "i.published");
    } else if (numeric && lv_cq_path_is(path, "updated")) {
        q_sql(q, "i.updated");
    } else {
        q_sql(q, "json_extract(i.parsed, ");
        q_param_text(q, json_path(path));
        q_sql(q, ")");
    }
}

/* A numeric test of published also tests the date the indexes are sorted by
 * (the same value wherever published is set, so the result is unchanged):
 * SQLite can then walk one index for both the filter and the order. */
static bool is_date_test(const struct lv_store_cache_cond *c)
{
    return c->op != LV_CQ_NE && lv_cq_path_is(c->path, "published") && lv_cq_all_numbers(c->value);
}

static const char *const cmp_sql[] = {
    [LV_CQ_EQ] = " = ",  [LV_CQ_NE] = " != ", [LV_CQ_GT] = " > ",
    [LV_CQ_GE] = " >= ", [LV_CQ_LT] = " < ",  [LV_CQ_LE] = " <= ",
};

static void q_compare(struct sqlq *q, const struct lv_store_cache_cond *c)
{
    if (is_date_test(c)) {
        q_sql(q, "coalesce(i.published, i.created)");
        q_sql(q, cmp_sql[c->op]);
        q_param(q, json_incref(c->value));
        q_sql(q, " AND ");
    }
    q_path_expr(q, c->path, c->value);
    if (json_is_null(c->value)) {
        q_sql(q, c->op == LV_CQ_EQ ? " IS NULL" : " IS NOT NULL");
        return;
    }
    q_sql(q, cmp_sql[c->op]);
    q_param(q, json_incref(c->value));
}

static void q_between(struct sqlq *q, const struct lv_store_cache_cond *c)
{
    if (is_date_test(c)) {
        q_sql(q, "coalesce(i.published, i.created) BETWEEN ");
        q_param(q, json_incref(json_array_get(c->value, 0)));
        q_sql(q, " AND ");
        q_param(q, json_incref(json_array_get(c->value, 1)));
        q_sql(q, " AND ");
    }
    q_path_expr(q, c->path, c->value);
    q_sql(q, " BETWEEN ");
    q_param(q, json_incref(json_array_get(c->value, 0)));
    q_sql(q, " AND ");
    q_param(q, json_incref(json_array_get(c->value, 1)));
}

static void q_in(struct sqlq *q, const struct lv_store_cache_cond *c)
{
    q_path_expr(q, c->path, c->value);
    q_sql(q, c->op == LV_CQ_IN ? " IN " : " NOT IN ");
    q_sql(q, "(SELECT value FROM json_each(");
    q_param(q, json_incref(c->value));
    q_sql(q, "))");
}

static void q_like(struct sqlq *q, const struct lv_store_cache_cond *c)
{
    bool ci = c->op == LV_CQ_ILIKE || c->op == LV_CQ_NOT_ILIKE;
    bool neg = c->op == LV_CQ_NOT_LIKE || c->op == LV_CQ_NOT_ILIKE;
    const char *pat = json_string_value(c->value);
    size_t len = json_string_length(c->value);
    char *folded = ci ? lv_cq_fold(pat, len) : NULL;
    q_sql(q, ci ? "lv_fold(" : "(");
    q_path_expr(q, c->path, NULL);
    q_sql(q, neg ? ") NOT GLOB " : ") GLOB ");
    q_param_text(q, like_to_glob(folded ? folded : pat, folded ? strlen(folded) : len));
    free(folded);
}

/* The tag table is looked up by folded tag (its index); the case-sensitive
 * operators then check the exact spelling. drive: as a list of items (the
 * tag is rare), else as a check of each item. */
static void q_tags(struct sqlq *q, const struct lv_store_cache_cond *c, bool drive)
{
    bool neg = lv_cq_is_negated_set(c->op);
    if (drive)
        q_sql(q, "i.id IN (SELECT t.item_id FROM pubsub_item_tags AS t WHERE 1");
    else
        q_sql(q, neg ? "NOT EXISTS (SELECT 1 FROM pubsub_item_tags AS t WHERE t.item_id = i.id"
                     : "EXISTS (SELECT 1 FROM pubsub_item_tags AS t WHERE t.item_id = i.id");
    q_sql(q, " AND t.tag_norm IN (SELECT value FROM json_each(");
    q_param(q, lv_cq_fold_list(c->value));
    q_sql(q, "))");
    if (!lv_cq_is_ci_set(c->op)) {
        q_sql(q, " AND t.tag IN (SELECT value FROM json_each(");
        q_param(q, json_incref(c->value));
        q_sql(q, "))");
    }
    q_sql(q, ")");
}

/* Elsewhere: the elements at path (an array, or one value) against the
 * list. A missing field has no element. */
static void q_set(struct sqlq *q, const struct lv_store_cache_cond *c)
{
    bool ci = lv_cq_is_ci_set(c->op);
    q_sql(q, lv_cq_is_negated_set(c->op) ? "NOT EXISTS " : "EXISTS ");
    q_sql(q, "(SELECT 1 FROM json_each(i.parsed, ");
    q_param_text(q, json_path(c->path));
    q_sql(q, ci ? ") AS e WHERE lv_fold(e.value) IN " : ") AS e WHERE e.value IN ");
    q_sql(q, "(SELECT value FROM json_each(");
    q_param(q, ci ? lv_cq_fold_list(c->value) : json_incref(c->value));
    q_sql(q, ")))");
}

static void q_cond(struct sqlq *q, const struct plan *pl, size_t i)
{
    const struct lv_store_cache_cond *c = &pl->cq->conds[i];
    q_sql(q, " AND ");
    switch (c->op) {
    case LV_CQ_EQ:
    case LV_CQ_NE:
    case LV_CQ_GT:
    case LV_CQ_GE:
    case LV_CQ_LT:
    case LV_CQ_LE:
        q_compare(q, c);
        break;
    case LV_CQ_BETWEEN:
        q_between(q, c);
        break;
    case LV_CQ_IN:
    case LV_CQ_NOT_IN:
        q_in(q, c);
        break;
    case LV_CQ_LIKE:
    case LV_CQ_ILIKE:
    case LV_CQ_NOT_LIKE:
    case LV_CQ_NOT_ILIKE:
        q_like(q, c);
        break;
    default:
        if (uses_tag_table(c))
            q_tags(q, c, pl->tag_list[i]);
        else
            q_set(q, c);
        break;
    }
}

/* ---- search: statements ---------------------------------------------------- */

static void q_sort(struct sqlq *q, const struct lv_store_cache_sort *s)
{
    switch (s->key) {
    case LV_CQ_BY_CREATION:
        q_sql(q, "i.id");
        break;
    case LV_CQ_BY_MODIFICATION:
        q_sql(q, "i.modified");
        break;
    case LV_CQ_BY_PUBLISHED:
        q_sql(q, "coalesce(i.published, i.created)");
        break;
    case LV_CQ_BY_ITEM_ID:
        q_sql(q, "i.name");
        break;
    case LV_CQ_BY_RANK:
        q_sql(q, "f.rank");
        break;
    case LV_CQ_BY_PATH:
        q_path_expr(q, s->path, NULL);
        break;
    }
    q_sql(q, s->desc ? " DESC" : " ASC");
}

/* Equal keys still come in a set order (the item id), so that pages do not
 * overlap. Ordering by rank alone is left to FTS5, which sorts without
 * SQLite's sorter and keeps equal ranks in id order. */
static void q_order(struct sqlq *q, const struct plan *pl)
{
    const struct lv_store_cache_query *cq = pl->cq;
    q_sql(q, " ORDER BY ");
    for (size_t i = 0; i < cq->n_sorts; i++) {
        q_sql(q, i ? ", " : "");
        q_sort(q, &cq->sorts[i]);
    }
    if (pl->items)
        q_sql(q, cq->sorts[cq->n_sorts - 1].desc ? ", i.id DESC" : ", i.id ASC");
}

/* With a full-text query the text index drives the join (CROSS JOIN keeps
 * SQLite from probing it once per item). */
static void q_from(struct sqlq *q, const struct plan *pl)
{
    const struct lv_store_cache_query *cq = pl->cq;
    if (cq->fts && !pl->items)
        q_sql(q, "SELECT f.rowid, f.rank FROM pubsub_items_fts AS f");
    else if (cq->fts)
        q_sql(q, "SELECT i.id, f.rank FROM pubsub_items_fts AS f"
                 " CROSS JOIN pubsub_items AS i ON i.id = f.rowid");
    else
        q_sql(q, "SELECT i.id, NULL FROM pubsub_items AS i");
    if (pl->nodes)
        q_sql(q, " JOIN pubsub_nodes AS n ON n.id = i.node_id");
    if (cq->profiles)
        q_sql(q, " JOIN profiles AS p ON p.id = n.profile_id");
    q_sql(q, " WHERE 1");
    if (cq->fts) {
        q_sql(q, " AND pubsub_items_fts MATCH ");
        q_param(q, json_string(cq->fts));
    }
    if (pl->min_rowid > 0) {
        q_sql(q, " AND f.rowid >= ");
        q_param(q, json_integer(pl->min_rowid));
    }
}

/* Step one: "SELECT id, rank ..." for the page. */
static void q_search(struct sqlq *q, const struct plan *pl)
{
    const struct lv_store_cache_query *cq = pl->cq;
    q_from(q, pl);
    q_list_opt(q, "p.name", cq->profiles, false);
    q_list_opt(q, "n.service", cq->services, false);
    q_list_opt(q, "n.name", cq->nodes, false);
    q_list_opt(q, "n.type", cq->types, true);
    q_list_opt(q, "n.subtype", cq->subtypes, true);
    q_list_opt(q, "i.name", cq->names, false);
    for (size_t i = 0; i < cq->n_conds; i++)
        q_cond(q, pl, i);
    q_order(q, pl);
    q_sql(q, " LIMIT ");
    q_param(q, json_integer(cq->limit));
    q_sql(q, " OFFSET ");
    q_param(q, json_integer(cq->index));
}

/* Step two, for one id. Columns: 0 service, 1 node, 2 profile, 3 item,
 * 4 published, 5 updated, 6 parsed, 7 payload. */
#define RESULT_ROW                                                                                 \
    "SELECT n.service, n.name, p.name, i.name, i.published, i.updated, i.parsed, %s "              \
    "FROM pubsub_items AS i JOIN pubsub_nodes AS n ON n.id = i.node_id "                           \
    "JOIN profiles AS p ON p.id = n.profile_id WHERE i.id = ?1"

/* ---- search: full-text errors ---------------------------------------------- */

/* Turns FTS5's complaint into a message about the user's query alone (no
 * SQL, no internal table names). */
static int fts_error(const char *msg, struct lv_error *err)
{
    static const char near[] = "syntax error near \"";
    const char *p = strstr(msg, near);
    if (strstr(msg, "unterminated string"))
        return lv_error_set(err, LV_ERR_INVAL, "full-text query: unbalanced quotes");
    if (strstr(msg, "no such column"))
        return lv_error_set(err, LV_ERR_INVAL,
                            "full-text query: unknown column filter (put words holding ':' or "
                            "starting with '-' in double quotes)");
    if (strstr(msg, "unknown special query"))
        return lv_error_set(err, LV_ERR_INVAL,
                            "full-text query: misplaced '*' (it ends a prefix: word*)");
    if (p && p[sizeof(near) - 1] == '"')
        return lv_error_set(err, LV_ERR_INVAL,
                            "full-text query: incomplete (an operator or a parenthesis lacks "
                            "its operand)");
    if (p) {
        p += sizeof(near) - 1;
        int len = (int)strcspn(p, "\"");
        return lv_error_set(err, LV_ERR_INVAL, "full-text query: syntax error near \"%.*s\"",
                            len < 40 ? len : 40, p);
    }
    return lv_error_set(err, LV_ERR_INVAL, "full-text query: invalid query");
}

/* Runs the MATCH alone first, against a rowid that cannot exist, so that the
 * query is parsed at almost no cost: an error there is the user's query,
 * while an error in the search itself is a storage failure. */
static int fts_check(sqlite3 *db, const char *fts, struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc =
        prep(db, "SELECT 1 FROM pubsub_items_fts WHERE pubsub_items_fts MATCH ?1 AND rowid = 0",
             &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, fts, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int ret = 0;
    if ((rc & 0xff) == SQLITE_ERROR)
        ret = fts_error(sqlite3_errmsg(db), err);
    else if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = db_err(db, rc, "checking a full-text query", err);
    sqlite3_finalize(st);
    return ret;
}

/* ---- search: results ------------------------------------------------------- */

struct hit {
    int64_t id;
    double rank;
};

static int find_hits(struct plan *pl, struct hit **hits, size_t *n, struct lv_error *err)
{
    struct sqlq q;
    sqlite3_stmt *st;
    size_t cap = 0;
    q_init(&q);
    q_search(&q, pl);
    int rc = q_prepare(pl->db, &q, &st, err);
    if (rc == 0) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            lv_grow((void **)hits, &cap, *n + 1, sizeof(**hits));
            (*hits)[*n].id = sqlite3_column_int64(st, 0);
            (*hits)[(*n)++].rank = sqlite3_column_double(st, 1);
        }
        rc = rc == SQLITE_DONE ? 0 : db_err(pl->db, rc, "searching the cache", err);
        sqlite3_finalize(st);
    }
    q_release(&q);
    return rc;
}

static void set_text(json_t *o, const char *key, sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    json_object_set_new(o, key,
                        t ? json_stringn(t, (size_t)sqlite3_column_bytes(st, i)) : json_null());
}

/* The cache's date wins; without one, a date in the parsed data stays. */
static void set_time(json_t *o, const char *key, sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) != SQLITE_NULL)
        json_object_set_new(o, key, json_real(sqlite3_column_double(st, i)));
    else if (!json_object_get(o, key))
        json_object_set_new(o, key, json_null());
}

static json_t *row_to_result(sqlite3_stmt *st, const struct lv_store_cache_query *cq, double rank)
{
    json_t *o = col_json(st, 6);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    set_text(o, "pubsub_service", st, 0);
    set_text(o, "pubsub_node", st, 1);
    set_text(o, "node_profile", st, 2);
    set_text(o, "item_id", st, 3);
    set_time(o, "published", st, 4);
    set_time(o, "updated", st, 5);
    if (cq->fts)
        json_object_set_new(o, "rank", json_real(rank));
    if (cq->with_payload)
        set_text(o, "item_payload", st, 7);
    return o;
}

static int read_results(struct plan *pl, const struct hit *hits, size_t n, json_t *out,
                        struct lv_error *err)
{
    sqlite3_stmt *st;
    char *sql = lv_xasprintf(RESULT_ROW, pl->cq->with_payload ? "i.data" : "NULL");
    int rc = prep(pl->db, sql, &st, err);
    free(sql);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_int64(st, 1, hits[i].id);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            json_array_append_new(out, row_to_result(st, pl->cq, hits[i].rank));
        else if (src != SQLITE_DONE)
            rc = db_err(pl->db, src, "reading search results", err);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

static int search_tx(sqlite3 *db, const struct lv_store_cache_query *cq, json_t *out,
                     struct lv_error *err)
{
    struct plan pl;
    struct hit *hits = NULL;
    size_t n = 0;
    int rc = cq->fts ? fts_check(db, cq->fts, err) : 0;
    if (rc == 0)
        rc = plan_init(&pl, db, cq, err);
    if (rc == 0)
        rc = find_hits(&pl, &hits, &n, err);
    if (rc == 0)
        rc = read_results(&pl, hits, n, out, err);
    free(hits);
    return rc;
}

/* One read transaction: the rows read in step two are those found in step
 * one. */
static int sq_search(void *state, const struct lv_store_cache_query *cq, json_t **results,
                     struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    json_t *out = json_array();
    int rc = exec(db, "BEGIN", "searching the cache", err);
    if (rc == 0)
        rc = finish_tx(db, search_tx(db, cq, out, err), err);
    if (rc == 0)
        *results = out;
    else
        json_decref(out);
    return rc;
}

/* ---- categories ------------------------------------------------------------ */

static int read_categories(sqlite3 *db, sqlite3_stmt *st, struct lv_store_cache_category **out,
                           size_t *n, struct lv_error *err)
{
    struct lv_store_cache_category *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lv_grow((void **)&v, &cap, len + 1, sizeof(*v));
        v[len].tag = col_dup(st, 0);
        v[len++].count = sqlite3_column_int64(st, 1);
    }
    if (rc != SQLITE_DONE) {
        lv_store_cache_categories_free(v, len);
        return db_err(db, rc, "counting categories", err);
    }
    *out = v;
    *n = len;
    return 0;
}

/* Spellings that fold alike count together; the smallest one names them,
 * so the answer does not depend on row order. */
static int sq_categories(void *state, const struct lv_store_cache_node_filter *filter, size_t max,
                         struct lv_store_cache_category **out, size_t *n, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    struct sqlq q;
    sqlite3_stmt *st;
    q_init(&q);
    q_sql(&q, "SELECT min(t.tag), count(*) AS c FROM pubsub_item_tags AS t"
              " JOIN pubsub_nodes AS n ON n.id = t.node_id"
              " JOIN profiles AS p ON p.id = n.profile_id WHERE 1");
    q_node_filter(&q, filter);
    q_sql(&q, " GROUP BY t.tag_norm ORDER BY c DESC, t.tag_norm LIMIT ");
    q_param(&q, json_integer(max > 0 ? (json_int_t)max : -1));
    int rc = q_prepare(db, &q, &st, err);
    if (rc == 0) {
        rc = read_categories(db, st, out, n, err);
        sqlite3_finalize(st);
    }
    q_release(&q);
    return rc;
}

/* ---- maintenance ----------------------------------------------------------- */

static json_t *strv_json(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void q_strv_opt(struct sqlq *q, const char *col, const char *const *v, bool nullable)
{
    if (!v)
        return;
    json_t *a = strv_json(v);
    q_in_list(q, col, a, nullable);
    json_decref(a);
}

static void q_time_before(struct sqlq *q, const char *col, double t)
{
    if (t == 0)
        return;
    lv_buf_addf(&q->sql, " AND %s < ", col);
    q_param(q, json_real(t));
}

static void q_purge(struct sqlq *q, const struct lv_store_cache_purge_filter *f)
{
    q_sql(q, "DELETE FROM pubsub_items WHERE 1");
    if (f->profiles || f->services || f->nodes || f->types || f->subtypes) {
        q_sql(q, " AND node_id IN (SELECT n.id FROM pubsub_nodes AS n"
                 " JOIN profiles AS p ON p.id = n.profile_id WHERE 1");
        q_strv_opt(q, "p.name", f->profiles, false);
        q_strv_opt(q, "n.service", f->services, false);
        q_strv_opt(q, "n.name", f->nodes, false);
        q_strv_opt(q, "n.type", f->types, true);
        q_strv_opt(q, "n.subtype", f->subtypes, true);
        q_sql(q, ")");
    }
    q_time_before(q, "created", f->created_before);
    q_time_before(q, "modified", f->modified_before);
}

static int purge_run(sqlite3 *db, struct sqlq *q, size_t *deleted, struct lv_error *err)
{
    sqlite3_stmt *st;
    int rc = q_prepare(db, q, &st, err);
    if (rc == 0)
        rc = run(db, st, "purging the cache", err);
    *deleted = rc == 0 ? (size_t)sqlite3_changes(db) : 0;
    return rc;
}

static int sq_purge(void *state, const struct lv_store_cache_purge_filter *filter, size_t *deleted,
                    struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    struct sqlq q;
    q_init(&q);
    q_purge(&q, filter);
    int rc = exec(db, "BEGIN IMMEDIATE", "purging the cache", err);
    if (rc == 0)
        rc = finish_tx(db, purge_run(db, &q, deleted, err), err);
    if (rc != 0)
        *deleted = 0;
    q_release(&q);
    return rc;
}

/* Items and tags go with their nodes (ON DELETE CASCADE). */
static int sq_reset(void *state, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    int rc = exec(db, "BEGIN IMMEDIATE", "resetting the cache", err);
    if (rc == 0)
        rc = finish_tx(db, exec(db, "DELETE FROM pubsub_nodes", "resetting the cache", err), err);
    return rc;
}

static int sq_stats(void *state, struct lv_store_cache_stats *out, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    int64_t pages = 0, page_size = 0;
    int rc = count_sql(db, "SELECT count(*) FROM pubsub_nodes", &out->nodes, err);
    if (rc == 0)
        rc = count_sql(db, "SELECT items FROM pubsub_cache_count", &out->items, err);
    if (rc == 0)
        rc = count_sql(db, "PRAGMA page_count", &pages, err);
    if (rc == 0)
        rc = count_sql(db, "PRAGMA page_size", &page_size, err);
    out->db_bytes = pages * page_size;
    return rc;
}

/* ---- the bound -------------------------------------------------------------- */

/* The n oldest items in the date order, by the index on that order (its
 * entries end with the rowid, so the tie order costs no sort). */
#define OLDEST_ITEMS                                                                               \
    "SELECT id, node_id, coalesce(published, created) AS k FROM pubsub_items "                     \
    "ORDER BY coalesce(published, created), id LIMIT ?1"

/* The nodes first, while the items to delete can still be read. */
static int trim_step(sqlite3 *db, int64_t max_items, size_t batch, size_t *deleted, int64_t *excess,
                     struct lv_error *err)
{
    sqlite3_stmt *st;
    int64_t total = 0;
    int rc = count_sql(db, "SELECT items FROM pubsub_cache_count", &total, err);
    if (rc != 0 || total <= max_items)
        return rc;
    int64_t n = total - max_items < (int64_t)batch ? total - max_items : (int64_t)batch;
    rc = prep(db,
              "UPDATE pubsub_nodes SET trimmed_items = trimmed_items + o.c, "
              "trimmed_upto = max(coalesce(trimmed_upto, o.k), o.k) "
              "FROM (SELECT node_id, count(*) AS c, max(k) AS k FROM (" OLDEST_ITEMS ") "
              "GROUP BY node_id) AS o WHERE pubsub_nodes.id = o.node_id",
              &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, n);
    rc = run(db, st, "trimming the cache", err);
    if (rc == 0)
        rc = prep(db, "DELETE FROM pubsub_items WHERE id IN (SELECT id FROM (" OLDEST_ITEMS "))",
                  &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, n);
    rc = run(db, st, "trimming the cache", err);
    if (rc == 0) {
        *deleted = (size_t)sqlite3_changes(db);
        *excess = total - (int64_t)*deleted - max_items;
    }
    return rc;
}

static int sq_trim(void *state, int64_t max_items, size_t batch, size_t *deleted, int64_t *excess,
                   struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    int rc = exec(db, "BEGIN IMMEDIATE", "trimming the cache", err);
    if (rc == 0)
        rc = finish_tx(db, trim_step(db, max_items, batch, deleted, excess, err), err);
    if (rc != 0) {
        *deleted = 0;
        *excess = 0;
    }
    return rc;
}

const struct lv_store_cache_backend lv_store_sqlite_cache_backend = {
    .node_get = sq_node_get,
    .node_ensure = sq_node_ensure,
    .node_set_info = sq_node_set_info,
    .node_set_sync = sq_node_set_sync,
    .node_list = sq_node_list,
    .node_delete = sq_node_delete,
    .node_purge = sq_node_purge,
    .items_upsert = sq_items_upsert,
    .items_delete = sq_items_delete,
    .items_get = sq_items_get,
    .search = sq_search,
    .categories = sq_categories,
    .purge = sq_purge,
    .reset = sq_reset,
    .stats = sq_stats,
    .trim = sq_trim,
};
