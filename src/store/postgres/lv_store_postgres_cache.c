/* The pubsub cache on PostgreSQL (tables of migration 0002_pubsub_cache.sql).
 *
 * The same semantics as the SQLite implementation (lv_store_sqlite_cache.c),
 * which the tests of tests/unit/test_cache_store.c hold both to. Every value
 * reaches SQL as a bound parameter (text format), JSON paths as text[]; the
 * SQL text is assembled only from constant fragments chosen by the validated
 * query. Differences that remain, on purpose:
 *   - the full-text query (FTS5 syntax, as on SQLite) is parsed here and
 *     rendered as a tsquery: words, "phrases", prefix*, AND OR NOT,
 *     parentheses and the "text:" column filter mean the same; NEAR(...)
 *     only requires all its phrases (no distance);
 *   - rank is -ts_rank_cd (lower is better, as FTS5's bm25): the order of
 *     results agrees, the numbers do not;
 *   - case-insensitive tests on parsed data (ilike, ioverlap outside
 *     ["tags"]) fold with lower(normalize(x, NFC)), which follows the
 *     database's collation (Unicode-wide with ICU or a UTF-8 libc locale);
 *     tags are folded here with utf8proc, as on SQLite;
 *   - comparisons on parsed data are typed: == and != compare JSON values
 *     (true is not 1, as it is for json_extract), and < <= > >= between
 *     compare numbers with numbers and strings with strings (by bytes),
 *     where SQLite holds every string greater than every number;
 *   - parsed and node extra data are jsonb: returned normalized. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "core/lv_buf.h"
#include "core/lv_mem.h"
#include "store/postgres/lv_store_postgres_priv.h"

/* ---- values ---------------------------------------------------------------- */

static char *fmt_int(int64_t v)
{
    return lv_xasprintf("%lld", (long long)v);
}

/* %.17g round-trips every double. 0 (unknown) and non-finite are NULL. */
static char *fmt_time(double t)
{
    return t == 0 || !isfinite(t) ? NULL : lv_xasprintf("%.17g", t);
}

/* A text[] literal of the strings of a JSON array (other elements are
 * written as their text). */
static char *text_array(const json_t *list)
{
    struct lv_buf b = LV_BUF_INIT;
    size_t i;
    const json_t *v;
    lv_buf_addc(&b, '{');
    json_array_foreach(list, i, v)
    {
        char *own = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);
        const char *s = own ? own : json_string_value(v);
        lv_buf_adds(&b, i ? ",\"" : "\"");
        for (; *s; s++) {
            if (*s == '"' || *s == '\\')
                lv_buf_addc(&b, '\\');
            lv_buf_addc(&b, *s);
        }
        lv_buf_addc(&b, '"');
        free(own);
    }
    lv_buf_addc(&b, '}');
    return lv_buf_detach(&b);
}

/* A validated path (keys of [A-Za-z0-9_:#.-], indexes) as a text[]. */
static char *path_array(const json_t *path)
{
    json_t *a = json_array();
    size_t i;
    json_t *seg;
    json_array_foreach(path, i, seg)
    {
        if (json_is_integer(seg)) {
            char *s = fmt_int(json_integer_value(seg));
            json_array_append_new(a, json_string(s));
            free(s);
        } else {
            json_array_append(a, seg);
        }
    }
    char *out = text_array(a);
    json_decref(a);
    return out;
}

/* ---- statements ------------------------------------------------------------ */

/* SQL text and its parameters ($1...), owned. */
struct sqlq {
    struct lv_buf sql;
    char **params;
    size_t n, cap;
};

static void q_init(struct sqlq *q)
{
    memset(q, 0, sizeof(*q));
    lv_buf_init(&q->sql);
}

static void q_release(struct sqlq *q)
{
    lv_buf_release(&q->sql);
    for (size_t i = 0; i < q->n; i++)
        free(q->params[i]);
    free(q->params);
}

static void q_sql(struct sqlq *q, const char *s)
{
    lv_buf_adds(&q->sql, s);
}

/* Appends "$n" for v (owned; NULL is SQL NULL), then cast (may be ""). */
static void q_take(struct sqlq *q, char *v, const char *cast)
{
    lv_grow((void **)&q->params, &q->cap, q->n + 1, sizeof(*q->params));
    q->params[q->n++] = v;
    lv_buf_addf(&q->sql, "$%zu%s", q->n, cast);
}

static void q_str(struct sqlq *q, const char *v, const char *cast)
{
    q_take(q, v ? lv_xstrdup(v) : NULL, cast);
}

static void q_int(struct sqlq *q, int64_t v)
{
    q_take(q, fmt_int(v), "::bigint");
}

/* JSON text of v (any value). */
static void q_json(struct sqlq *q, const json_t *v)
{
    q_take(q, json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), "::jsonb");
}

/* A scalar JSON value as text: a string's content, a number's digits. */
static void q_scalar_text(struct sqlq *q, const json_t *v, const char *cast)
{
    if (json_is_string(v))
        q_str(q, json_string_value(v), cast);
    else
        q_take(q, json_dumps(v, JSON_ENCODE_ANY), cast);
}

static PGresult *q_run(void *state, const struct sqlq *q)
{
    return lv_store_postgres_query(state, q->sql.data, (int)q->n, (const char *const *)q->params);
}

/* A statement that returns no row (or rows nobody reads). */
static int q_command(void *state, const struct sqlq *q, const char *what, long *changed,
                     struct lv_error *err)
{
    PGresult *res = q_run(state, q);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        return lv_store_postgres_fail(state, res, what, err);
    if (changed)
        *changed = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return 0;
}

/* A query; on success *res is the caller's. */
static int q_select(void *state, const struct sqlq *q, const char *what, PGresult **res,
                    struct lv_error *err)
{
    *res = q_run(state, q);
    if (PQresultStatus(*res) == PGRES_TUPLES_OK)
        return 0;
    int rc = lv_store_postgres_fail(state, *res, what, err);
    *res = NULL;
    return rc;
}

static int simple(void *state, const char *sql, const char *what, struct lv_error *err)
{
    struct sqlq q;
    q_init(&q);
    q_sql(&q, sql);
    int rc = q_command(state, &q, what, NULL, err);
    q_release(&q);
    return rc;
}

/* Ends the transaction begun by the caller: commits after success, rolls
 * back after a failure (whose message err already holds). */
static int finish_tx(void *state, int rc, struct lv_error *err)
{
    if (rc == 0)
        return simple(state, "COMMIT", "committing", err);
    PQclear(lv_store_postgres_query(state, "ROLLBACK", 0, NULL));
    return rc;
}

/* The first column of the first row as an integer; LV_ERR_NOT_FOUND without
 * a message when there is no row. */
static int q_int_result(void *state, const struct sqlq *q, const char *what, int64_t *out,
                        struct lv_error *err)
{
    PGresult *res;
    int rc = q_select(state, q, what, &res, err);
    if (rc != 0)
        return rc;
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        rc = LV_ERR_NOT_FOUND;
    PQclear(res);
    return rc;
}

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

static double col_time(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtod(PQgetvalue(res, row, col), NULL);
}

static json_t *col_json(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return json_loadb(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), 0, NULL);
}

/* "col = ANY($n)", where null or "" in a nullable list matches NULL. */
static void q_in_list(struct sqlq *q, const char *col, const json_t *list, bool nullable)
{
    size_t i;
    json_t *v, *vals = json_array();
    bool null = false;
    json_array_foreach(list, i, v)
    {
        if (nullable && (json_is_null(v) || json_string_length(v) == 0))
            null = true;
        else
            json_array_append(vals, v);
    }
    q_sql(q, " AND (");
    if (json_array_size(vals) > 0) {
        lv_buf_addf(&q->sql, "%s = ANY(", col);
        q_take(q, text_array(vals), "::text[])");
    }
    if (null)
        lv_buf_addf(&q->sql, "%s%s IS NULL", json_array_size(vals) ? " OR " : "", col);
    q_sql(q, ")");
    json_decref(vals);
}

static void q_list_opt(struct sqlq *q, const char *col, const json_t *list, bool nullable)
{
    if (list)
        q_in_list(q, col, list, nullable);
}

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
    if (!f)
        return;
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
    q_str(q, lv_store_cache_sync_name(f->sync_state), "");
}

/* ---- nodes ----------------------------------------------------------------- */

#define NODE_COLUMNS                                                                               \
    "SELECT n.id, p.name, n.service, n.name, n.subscribed, n.analyser, n.type, n.subtype, "        \
    "n.sync_state, n.sync_state_updated, n.sync_error, n.sync_retry_at, n.extra::text, "           \
    "n.trimmed_items, n.trimmed_upto"
#define NODE_FROM " FROM pubsub_nodes AS n JOIN profiles AS p ON p.id = n.profile_id"

static void row_to_node(const PGresult *res, int r, struct lv_store_cache_node *n)
{
    n->id = col_int(res, r, 0);
    n->profile = col_dup(res, r, 1);
    n->service = col_dup(res, r, 2);
    n->name = col_dup(res, r, 3);
    n->subscribed = PQgetvalue(res, r, 4)[0] == 't';
    n->analyser = col_dup(res, r, 5);
    n->type = col_dup(res, r, 6);
    n->subtype = col_dup(res, r, 7);
    n->sync_state =
        PQgetisnull(res, r, 8) ? LV_STORE_CACHE_SYNC_NONE : lv_cq_sync_parse(PQgetvalue(res, r, 8));
    n->sync_state_updated = col_time(res, r, 9);
    n->sync_error = col_dup(res, r, 10);
    n->sync_retry_at = col_time(res, r, 11);
    n->extra = col_dup(res, r, 12);
    n->trimmed_items = col_int(res, r, 13);
    n->trimmed_upto = col_time(res, r, 14);
}

static int pg_node_get(void *state, const char *profile, const char *service, const char *node,
                       struct lv_store_cache_node *out, struct lv_error *err)
{
    struct sqlq q;
    PGresult *res;
    q_init(&q);
    q_sql(&q, NODE_COLUMNS NODE_FROM " WHERE p.name = ");
    q_str(&q, profile, "");
    q_sql(&q, " AND n.service = ");
    q_str(&q, service, "");
    q_sql(&q, " AND n.name = ");
    q_str(&q, node, "");
    int rc = q_select(state, &q, "reading a cached node", &res, err);
    q_release(&q);
    if (rc != 0)
        return rc;
    if (PQntuples(res) > 0)
        row_to_node(res, 0, out);
    else
        rc = lv_error_set(err, LV_ERR_NOT_FOUND, "node %s/%s is not cached for %s", service, node,
                          profile);
    PQclear(res);
    return rc;
}

static int profile_id(void *state, const char *name, int64_t *id, struct lv_error *err)
{
    struct sqlq q;
    q_init(&q);
    q_sql(&q, "SELECT id FROM profiles WHERE name = ");
    q_str(&q, name, "");
    int rc = q_int_result(state, &q, "reading a profile", id, err);
    q_release(&q);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no profile \"%s\"", name);
    return rc;
}

/* subscribed, analyser, type, subtype, extra, as parameters in this order. */
static void q_info(struct sqlq *q, const struct lv_store_cache_node_info *info, const char *sep)
{
    static const struct lv_store_cache_node_info none = {0};
    if (!info)
        info = &none;
    q_str(q, info->subscribed ? "true" : "false", "::boolean");
    q_sql(q, sep);
    q_str(q, info->analyser, "::text");
    q_sql(q, sep);
    q_str(q, info->type, "::text");
    q_sql(q, sep);
    q_str(q, info->subtype, "::text");
    q_sql(q, sep);
    q_str(q, info->extra, "::jsonb");
}

static int pg_node_ensure(void *state, const char *profile, const char *service, const char *node,
                          const struct lv_store_cache_node_info *info,
                          struct lv_store_cache_node *out, bool *created, struct lv_error *err)
{
    int64_t pid = 0;
    long changed = 0;
    int rc = profile_id(state, profile, &pid, err);
    if (rc != 0)
        return rc;
    struct sqlq q;
    q_init(&q);
    q_sql(&q, "INSERT INTO pubsub_nodes (profile_id, service, name, sync_state_updated, "
              "subscribed, analyser, type, subtype, extra) VALUES (");
    q_int(&q, pid);
    q_sql(&q, ", ");
    q_str(&q, service, "");
    q_sql(&q, ", ");
    q_str(&q, node, "");
    q_sql(&q, ", ");
    q_take(&q, lv_xasprintf("%.17g", lv_cq_now()), "::float8");
    q_sql(&q, ", ");
    q_info(&q, info, ", ");
    q_sql(&q, ") ON CONFLICT (profile_id, service, name) DO NOTHING");
    rc = q_command(state, &q, "caching a node", &changed, err);
    q_release(&q);
    if (created)
        *created = rc == 0 && changed == 1;
    return rc != 0 ? rc : pg_node_get(state, profile, service, node, out, err);
}

/* Runs q (an UPDATE or DELETE of one node) and reports a missing node. */
static int node_write(void *state, struct sqlq *q, int64_t node_id, const char *what,
                      struct lv_error *err)
{
    long changed = 0;
    int rc = q_command(state, q, what, &changed, err);
    q_release(q);
    if (rc == 0 && changed == 0)
        return lv_error_set(err, LV_ERR_NOT_FOUND, "no cached node %lld", (long long)node_id);
    return rc;
}

static int pg_node_set_info(void *state, int64_t node_id,
                            const struct lv_store_cache_node_info *info, struct lv_error *err)
{
    struct sqlq q;
    q_init(&q);
    q_sql(&q, "UPDATE pubsub_nodes SET (subscribed, analyser, type, subtype, extra) = (");
    q_info(&q, info, ", ");
    q_sql(&q, ") WHERE id = ");
    q_int(&q, node_id);
    return node_write(state, &q, node_id, "updating a cached node", err);
}

static int pg_node_set_sync(void *state, int64_t node_id, enum lv_store_cache_sync sync,
                            const char *error, double retry_at, struct lv_error *err)
{
    struct sqlq q;
    q_init(&q);
    q_sql(&q, "UPDATE pubsub_nodes SET sync_state = ");
    q_str(&q, sync == LV_STORE_CACHE_SYNC_NONE ? NULL : lv_store_cache_sync_name(sync), "::text");
    q_sql(&q, ", sync_state_updated = ");
    q_take(&q, lv_xasprintf("%.17g", lv_cq_now()), "::float8");
    q_sql(&q, ", sync_error = ");
    q_str(&q, error, "::text");
    q_sql(&q, ", sync_retry_at = ");
    q_take(&q, fmt_time(retry_at), "::float8");
    q_sql(&q, " WHERE id = ");
    q_int(&q, node_id);
    return node_write(state, &q, node_id, "setting a sync state", err);
}

static int pg_node_list(void *state, const struct lv_store_cache_node_filter *filter,
                        struct lv_store_cache_node **out, size_t *n, struct lv_error *err)
{
    struct sqlq q;
    PGresult *res;
    q_init(&q);
    q_sql(&q,
          NODE_COLUMNS ", (SELECT count(*) FROM pubsub_items AS i WHERE i.node_id = n.id)" NODE_FROM
                       " WHERE true");
    q_node_filter(&q, filter);
    q_sql(&q, " ORDER BY p.name COLLATE \"C\", n.service COLLATE \"C\", n.name COLLATE \"C\"");
    int rc = q_select(state, &q, "listing cached nodes", &res, err);
    q_release(&q);
    if (rc != 0)
        return rc;
    int rows = PQntuples(res);
    struct lv_store_cache_node *v = rows ? lv_xcalloc((size_t)rows, sizeof(*v)) : NULL;
    for (int i = 0; i < rows; i++) {
        row_to_node(res, i, &v[i]);
        v[i].item_count = col_int(res, i, 15);
    }
    PQclear(res);
    *out = v;
    *n = (size_t)rows;
    return 0;
}

static int pg_node_delete(void *state, int64_t node_id, struct lv_error *err)
{
    struct sqlq q;
    q_init(&q);
    q_sql(&q, "DELETE FROM pubsub_nodes WHERE id = ");
    q_int(&q, node_id);
    return node_write(state, &q, node_id, "deleting a cached node", err);
}

/* FOR SHARE: the node cannot be deleted until the caller's transaction
 * ends. */
static int node_exists(void *state, int64_t node_id, struct lv_error *err)
{
    struct sqlq q;
    int64_t one = 0;
    q_init(&q);
    q_sql(&q, "SELECT 1 FROM pubsub_nodes WHERE id = ");
    q_int(&q, node_id);
    q_sql(&q, " FOR SHARE");
    int rc = q_int_result(state, &q, "reading a cached node", &one, err);
    q_release(&q);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no cached node %lld", (long long)node_id);
    return rc;
}

/* Nothing is missing from an emptied node: its trim record goes too. */
static int delete_node_items(void *state, int64_t node_id, size_t *deleted, struct lv_error *err)
{
    long changed = 0;
    int rc = node_exists(state, node_id, err);
    if (rc != 0)
        return rc;
    struct sqlq q;
    q_init(&q);
    q_sql(&q, "DELETE FROM pubsub_items WHERE node_id = ");
    q_int(&q, node_id);
    rc = q_command(state, &q, "purging a cached node", &changed, err);
    q_release(&q);
    *deleted = rc == 0 ? (size_t)changed : 0;
    if (rc != 0)
        return rc;
    q_init(&q);
    q_sql(&q, "UPDATE pubsub_nodes SET trimmed_items = 0, trimmed_upto = NULL WHERE id = ");
    q_int(&q, node_id);
    rc = q_command(state, &q, "purging a cached node", NULL, err);
    q_release(&q);
    return rc;
}

static int pg_node_purge(void *state, int64_t node_id, size_t *deleted, struct lv_error *err)
{
    int rc = simple(state, "BEGIN", "purging a cached node", err);
    if (rc == 0)
        rc = finish_tx(state, delete_node_items(state, node_id, deleted, err), err);
    if (rc != 0)
        *deleted = 0;
    return rc;
}

/* ---- writing items --------------------------------------------------------- */

/* [[tag, folded], ...] of the non-empty strings of parsed's "tags" (an
 * array, or one string); NULL when there are none. */
static json_t *tag_pairs(const json_t *parsed)
{
    json_t *tags = json_object_get(parsed, "tags"), *one = NULL, *t;
    json_t *pairs = json_array();
    size_t i;
    if (json_is_string(tags)) {
        one = json_pack("[O]", tags);
        tags = one;
    }
    json_array_foreach(tags, i, t)
    {
        size_t len = json_string_length(t);
        if (!json_is_string(t) || len == 0)
            continue;
        char *f = lv_cq_fold(json_string_value(t), len);
        json_array_append_new(pairs, json_pack("[O, s]", t, f));
        free(f);
    }
    json_decref(one);
    if (json_array_size(pairs) == 0) {
        json_decref(pairs);
        return NULL;
    }
    return pairs;
}

/* One statement per item, one round trip: the upsert, then its tags made
 * equal to those of parsed (the edit may drop some; the tags it keeps stay
 * as they are, the new ones are added). An item already cached keeps its id
 * and created time (the DO UPDATE leaves them). The tag rows may reference
 * the item inserted by the same statement: foreign keys are checked at its
 * end. */
static int write_item(void *state, int64_t node_id, const char *ts,
                      const struct lv_store_cache_item *it, struct lv_error *err)
{
    struct sqlq q;
    json_t *pairs = tag_pairs(it->parsed);
    q_init(&q);
    q_sql(&q, "WITH i AS (INSERT INTO pubsub_items (node_id, name, data, text, parsed, published, "
              "updated, created, modified) VALUES (");
    q_int(&q, node_id);
    q_sql(&q, ", ");
    q_str(&q, it->name, "");
    q_sql(&q, ", ");
    q_str(&q, it->xml, "");
    q_sql(&q, ", ");
    q_str(&q, it->text ? it->text : "", "");
    q_sql(&q, ", ");
    q_take(&q, it->parsed ? json_dumps(it->parsed, JSON_COMPACT) : NULL, "::jsonb");
    q_sql(&q, ", ");
    q_take(&q, fmt_time(it->published), "::float8");
    q_sql(&q, ", ");
    q_take(&q, fmt_time(it->updated), "::float8");
    q_sql(&q, ", ");
    q_str(&q, ts, "::float8");
    q_sql(&q, ", ");
    q_str(&q, ts, "::float8");
    q_sql(&q, ") ON CONFLICT (node_id, name) DO UPDATE SET data = excluded.data, "
              "text = excluded.text, parsed = excluded.parsed, published = excluded.published, "
              "updated = excluded.updated, modified = excluded.modified RETURNING id), "
              "t AS (SELECT e->>0 AS tag, e->>1 AS norm FROM jsonb_array_elements(");
    q_take(&q, pairs ? json_dumps(pairs, JSON_COMPACT) : lv_xstrdup("[]"), "::jsonb");
    q_sql(&q, ") AS e), d AS (DELETE FROM pubsub_item_tags AS x USING i WHERE x.item_id = i.id "
              "AND x.tag NOT IN (SELECT tag FROM t)), "
              "a AS (INSERT INTO pubsub_item_tags (item_id, node_id, tag, tag_norm) SELECT i.id, ");
    q_int(&q, node_id);
    q_sql(&q, ", t.tag, t.norm FROM i CROSS JOIN t ON CONFLICT DO NOTHING) SELECT id FROM i");
    json_decref(pairs);
    int rc = q_command(state, &q, "caching an item", NULL, err);
    q_release(&q);
    return rc;
}

static int upsert_all(void *state, int64_t node_id, const struct lv_store_cache_item *items,
                      size_t n, struct lv_error *err)
{
    char *ts = lv_xasprintf("%.17g", lv_cq_now());
    int rc = node_exists(state, node_id, err);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = write_item(state, node_id, ts, &items[i], err);
    free(ts);
    return rc;
}

static int pg_items_upsert(void *state, int64_t node_id, const struct lv_store_cache_item *items,
                           size_t n, struct lv_error *err)
{
    int rc = simple(state, "BEGIN", "caching items", err);
    return rc != 0 ? rc : finish_tx(state, upsert_all(state, node_id, items, n, err), err);
}

static int pg_items_delete(void *state, int64_t node_id, const char *const *names, size_t n,
                           size_t *deleted, struct lv_error *err)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(names[i]));
    struct sqlq q;
    long changed = 0;
    q_init(&q);
    q_sql(&q, "DELETE FROM pubsub_items WHERE node_id = ");
    q_int(&q, node_id);
    q_sql(&q, " AND name = ANY(");
    q_take(&q, text_array(a), "::text[])");
    json_decref(a);
    int rc = q_command(state, &q, "deleting items", &changed, err);
    q_release(&q);
    *deleted = rc == 0 ? (size_t)changed : 0;
    return rc;
}

/* ---- reading items --------------------------------------------------------- */

/* The sort key of each order, spelled as in the migration's indexes. */
static const char *const order_key[] = {
    [LV_STORE_CACHE_ORDER_PUBLISHED] = "coalesce(published, created)",
    [LV_STORE_CACHE_ORDER_CREATION] = "id",
    [LV_STORE_CACHE_ORDER_MODIFICATION] = "modified",
};

struct pager {
    void *state;
    int64_t node_id;
    const struct lv_store_cache_page_req *req;
    const char *key;
    bool desc;
    char *pivot_key; /* of the after/before item, as text */
    int64_t pivot_id;
};

static const char *beyond(const struct pager *p, bool forward)
{
    return p->desc == forward ? "<" : ">";
}

/* "AND (key, id) cmp (pivot)" */
static void q_pivot(struct sqlq *q, const struct pager *p, const char *key, int64_t id,
                    const char *cmp)
{
    lv_buf_addf(&q->sql, " AND (%s, id) %s (", p->key, cmp);
    q_str(q, key, "::float8");
    q_sql(q, ", ");
    q_int(q, id);
    q_sql(q, ")");
}

static void row_to_item(const PGresult *res, int r, struct lv_store_cache_item_rec *it)
{
    it->id = col_int(res, r, 0);
    it->name = col_dup(res, r, 1);
    it->xml = col_dup(res, r, 2);
    it->parsed = col_json(res, r, 3);
    it->published = col_time(res, r, 4);
    it->updated = col_time(res, r, 5);
    it->created = col_time(res, r, 6);
    it->modified = col_time(res, r, 7);
}

/* Reads a page (cmp: rows beyond the pivot; reverse: read against the list
 * order, then put back in it). */
static int read_page(struct pager *p, const char *cmp, bool reverse, bool offset,
                     struct lv_store_cache_page *out, struct lv_error *err)
{
    const char *dir = p->desc != reverse ? "DESC" : "ASC";
    struct sqlq q;
    PGresult *res;
    q_init(&q);
    q_sql(&q, "SELECT id, name, data, parsed::text, published, updated, created, modified "
              "FROM pubsub_items WHERE node_id = ");
    q_int(&q, p->node_id);
    if (cmp)
        q_pivot(&q, p, p->pivot_key, p->pivot_id, cmp);
    if (p->req->n_names > 0) {
        json_t *a = json_array();
        for (size_t i = 0; i < p->req->n_names; i++)
            json_array_append_new(a, json_string(p->req->names[i]));
        q_sql(&q, " AND name = ANY(");
        q_take(&q, text_array(a), "::text[])");
        json_decref(a);
    }
    lv_buf_addf(&q.sql, " ORDER BY %s %s, id %s LIMIT ", p->key, dir, dir);
    q_int(&q, (int64_t)p->req->max);
    if (offset) {
        q_sql(&q, " OFFSET ");
        q_int(&q, p->req->index);
    }
    int rc = q_select(p->state, &q, "reading cached items", &res, err);
    q_release(&q);
    if (rc != 0)
        return rc;
    int rows = PQntuples(res);
    out->items = rows ? lv_xcalloc((size_t)rows, sizeof(*out->items)) : NULL;
    for (int i = 0; i < rows; i++)
        row_to_item(res, reverse ? rows - 1 - i : i, &out->items[i]);
    out->n = (size_t)rows;
    PQclear(res);
    return 0;
}

/* How many items come before (key, id) in list order. */
static int position(struct pager *p, const char *key, int64_t id, int64_t *pos,
                    struct lv_error *err)
{
    struct sqlq q;
    q_init(&q);
    q_sql(&q, "SELECT count(*) FROM pubsub_items WHERE node_id = ");
    q_int(&q, p->node_id);
    q_pivot(&q, p, key, id, p->desc ? ">" : "<");
    int rc = q_int_result(p->state, &q, "reading cached items", pos, err);
    q_release(&q);
    return rc;
}

/* The key (as text) and id of one item: by name, or by id (name NULL). */
static int item_key(struct pager *p, const char *name, int64_t id, char **key, int64_t *out_id,
                    struct lv_error *err)
{
    struct sqlq q;
    PGresult *res;
    q_init(&q);
    lv_buf_addf(&q.sql, "SELECT %s, id FROM pubsub_items WHERE ", p->key);
    if (name) {
        q_sql(&q, "node_id = ");
        q_int(&q, p->node_id);
        q_sql(&q, " AND name = ");
        q_str(&q, name, "");
    } else {
        q_sql(&q, "id = ");
        q_int(&q, id);
    }
    int rc = q_select(p->state, &q, "reading a cached item", &res, err);
    q_release(&q);
    if (rc != 0)
        return rc;
    if (PQntuples(res) > 0) {
        *key = col_dup(res, 0, 0);
        *out_id = col_int(res, 0, 1);
    } else {
        rc = lv_error_set(err, LV_ERR_NOT_FOUND, "item \"%s\" is not cached", name ? name : "");
    }
    PQclear(res);
    return rc;
}

static int page_after(struct pager *p, struct lv_store_cache_page *out, struct lv_error *err)
{
    int rc = item_key(p, p->req->after, 0, &p->pivot_key, &p->pivot_id, err);
    if (rc == 0)
        rc = position(p, p->pivot_key, p->pivot_id, &out->index, err);
    out->index += 1;
    return rc != 0 ? rc : read_page(p, beyond(p, true), false, false, out, err);
}

static int page_before(struct pager *p, struct lv_store_cache_page *out, struct lv_error *err)
{
    int rc = 0;
    int64_t end = out->count;
    if (*p->req->before) {
        rc = item_key(p, p->req->before, 0, &p->pivot_key, &p->pivot_id, err);
        if (rc == 0)
            rc = position(p, p->pivot_key, p->pivot_id, &end, err);
    }
    if (rc == 0)
        rc = read_page(p, p->pivot_key ? beyond(p, false) : NULL, true, false, out, err);
    out->index = end - (int64_t)out->n;
    return rc;
}

static int page_plain(struct pager *p, struct lv_store_cache_page *out, struct lv_error *err)
{
    int rc = read_page(p, NULL, false, p->req->index >= 0, out, err);
    out->index = p->req->index >= 0 ? p->req->index : 0;
    if (rc != 0 || p->req->n_names == 0 || out->n == 0)
        return rc;
    /* Named items: where the first of them stands in the whole list. */
    char *key = NULL;
    int64_t id = 0;
    rc = item_key(p, NULL, out->items[0].id, &key, &id, err);
    if (rc == 0)
        rc = position(p, key, id, &out->index, err);
    free(key);
    return rc;
}

static int get_page(struct pager *p, struct lv_store_cache_page *out, struct lv_error *err)
{
    int rc = node_exists(p->state, p->node_id, err);
    if (rc == 0) {
        struct sqlq q;
        q_init(&q);
        q_sql(&q, "SELECT count(*) FROM pubsub_items WHERE node_id = ");
        q_int(&q, p->node_id);
        rc = q_int_result(p->state, &q, "counting cached items", &out->count, err);
        q_release(&q);
    }
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

/* One REPEATABLE READ transaction: the count and the page see the same
 * items. */
static int pg_items_get(void *state, int64_t node_id, const struct lv_store_cache_page_req *req,
                        struct lv_store_cache_page *out, struct lv_error *err)
{
    struct pager p = {state, node_id, req, order_key[req->order], !req->oldest_first, NULL, 0};
    int rc = simple(state, "BEGIN ISOLATION LEVEL REPEATABLE READ", "reading cached items", err);
    if (rc == 0)
        rc = finish_tx(state, get_page(&p, out, err), err);
    free(p.pivot_key);
    if (rc != 0)
        lv_store_cache_page_release(out);
    return rc;
}

/* ---- search: full-text query ----------------------------------------------- */

/* The FTS5 query syntax, parsed here into a tsquery with the messages the
 * SQLite backend gives, so that a bad query is the user's error and no SQL
 * is involved:
 *   or  := and (OR and)*          and := not ([AND] not)*
 *   not := prim (NOT prim)*       prim := ( or ) | NEAR(phrase... [, N])
 *                                       | text : prim | phrase
 *   phrase := term [*] (+ term [*])*   term := "string" | bareword
 * Terms become quoted tsquery lexemes (what is not a letter, digit or mark
 * becomes a space, as FTS5's unicode61 tokenizer splits there), which
 * to_tsquery('simple', ...) splits into words joined by <->. */
enum tok {
    T_EOF,
    T_STR,
    T_WORD,
    T_LP,
    T_RP,
    T_AND,
    T_OR,
    T_NOT,
    T_NEAR,
    T_COLON,
    T_STAR,
    T_PLUS,
    T_COMMA,
    T_OTHER
};

struct fts {
    const char *s;
    size_t pos;
    enum tok tok; /* the current token */
    const char *start;
    size_t len;
    struct lv_buf out;
    struct lv_error *err;
};

static bool word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '_' || c == 0x1a;
}

static bool is_kw(const struct fts *f, const char *kw)
{
    return f->len == strlen(kw) && memcmp(f->start, kw, f->len) == 0;
}

static int lex(struct fts *f)
{
    const char *s = f->s;
    while (s[f->pos] && strchr(" \t\n\r\f\v", s[f->pos]))
        f->pos++;
    f->start = s + f->pos;
    unsigned char c = (unsigned char)s[f->pos];
    static const char single[] = "():*+,";
    static const enum tok single_tok[] = {T_LP, T_RP, T_COLON, T_STAR, T_PLUS, T_COMMA};
    if (!c) {
        f->tok = T_EOF;
        f->len = 0;
    } else if (c == '"') {
        size_t i = f->pos + 1;
        for (;; i++) {
            if (!s[i])
                return lv_error_set(f->err, LV_ERR_INVAL, "full-text query: unbalanced quotes");
            if (s[i] == '"' && s[i + 1] == '"')
                i++;
            else if (s[i] == '"')
                break;
        }
        f->tok = T_STR;
        f->len = i + 1 - f->pos;
    } else if (word_byte(c)) {
        size_t i = f->pos;
        while (word_byte((unsigned char)s[i]))
            i++;
        f->len = i - f->pos;
        f->tok = T_WORD;
        size_t j = i;
        while (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')
            j++;
        if (is_kw(f, "AND"))
            f->tok = T_AND;
        else if (is_kw(f, "OR"))
            f->tok = T_OR;
        else if (is_kw(f, "NOT"))
            f->tok = T_NOT;
        else if (is_kw(f, "NEAR") && s[j] == '(')
            f->tok = T_NEAR;
    } else {
        const char *hit = strchr(single, c);
        f->tok = hit ? single_tok[hit - single] : T_OTHER;
        f->len = 1;
    }
    f->pos += f->len;
    return 0;
}

static int unexpected(struct fts *f)
{
    if (f->tok == T_EOF)
        return lv_error_set(f->err, LV_ERR_INVAL,
                            "full-text query: incomplete (an operator or a parenthesis lacks "
                            "its operand)");
    if (f->tok == T_STAR)
        return lv_error_set(f->err, LV_ERR_INVAL,
                            "full-text query: misplaced '*' (it ends a prefix: word*)");
    int len = (int)(f->len < 40 ? f->len : 40);
    return lv_error_set(f->err, LV_ERR_INVAL, "full-text query: syntax error near \"%.*s\"", len,
                        f->start);
}

/* One term (a bareword, or a "string" with its quotes) as a quoted lexeme:
 * letters, digits and marks kept, the rest spaces; ' and \ cannot remain,
 * so the quoting needs no escapes. */
static void emit_term(struct lv_buf *out, enum tok tok, const char *s, size_t len, bool prefix)
{
    if (tok == T_STR) {
        s++;
        len -= 2;
    }
    lv_buf_addc(out, '\'');
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) {
            lv_buf_addc(out, ' ');
            i++;
            continue;
        }
        const char *cat = utf8proc_category_string(cp);
        if (cat[0] == 'L' || cat[0] == 'N' || cat[0] == 'M' || strcmp(cat, "Co") == 0)
            lv_buf_add(out, s + i, (size_t)n);
        else
            lv_buf_addc(out, ' ');
        i += (size_t)n;
    }
    lv_buf_adds(out, prefix ? "':*" : "'");
}

static int parse_or(struct fts *f);

static bool starts_prim(enum tok t)
{
    return t == T_STR || t == T_WORD || t == T_LP || t == T_NEAR;
}

/* term [*] (+ term [*])*, the current token being a term. */
static int parse_phrase(struct fts *f)
{
    lv_buf_addc(&f->out, '(');
    for (;;) {
        const char *start = f->start;
        size_t len = f->len;
        enum tok t = f->tok;
        int rc = lex(f);
        if (rc != 0)
            return rc;
        bool prefix = f->tok == T_STAR;
        emit_term(&f->out, t, start, len, prefix);
        if (prefix && (rc = lex(f)) != 0)
            return rc;
        if (f->tok != T_PLUS)
            break;
        if ((rc = lex(f)) != 0)
            return rc;
        if (f->tok != T_STR && f->tok != T_WORD)
            return unexpected(f);
        lv_buf_adds(&f->out, " <-> ");
    }
    lv_buf_addc(&f->out, ')');
    return 0;
}

/* NEAR(a b c, N): all the phrases (the distance is not checked). */
static int parse_near(struct fts *f)
{
    int rc = lex(f); /* NEAR */
    if (rc == 0)
        rc = lex(f); /* ( */
    lv_buf_addc(&f->out, '(');
    for (int n = 0; rc == 0; n++) {
        if (f->tok == T_RP && n > 0)
            break;
        if (f->tok == T_COMMA && n > 0) {
            if ((rc = lex(f)) != 0)
                return rc;
            if (f->tok != T_WORD || strspn(f->start, "0123456789") < f->len)
                return unexpected(f);
            if ((rc = lex(f)) != 0)
                return rc;
            if (f->tok != T_RP)
                return unexpected(f);
            break;
        }
        if (f->tok != T_STR && f->tok != T_WORD)
            return unexpected(f);
        lv_buf_adds(&f->out, n ? " & " : "");
        rc = parse_phrase(f);
    }
    lv_buf_addc(&f->out, ')');
    return rc != 0 ? rc : lex(f);
}

static int parse_prim(struct fts *f)
{
    int rc;
    switch (f->tok) {
    case T_LP:
        if ((rc = lex(f)) != 0 || (rc = parse_or(f)) != 0)
            return rc;
        return f->tok == T_RP ? lex(f) : unexpected(f);
    case T_NEAR:
        return parse_near(f);
    case T_WORD:
        if (f->s[f->pos] == ':' || (f->s[f->pos + strspn(f->s + f->pos, " \t\n\r")] == ':')) {
            if (!(f->len == 4 && strncasecmp(f->start, "text", 4) == 0))
                return lv_error_set(f->err, LV_ERR_INVAL,
                                    "full-text query: unknown column filter (put words holding "
                                    "':' or starting with '-' in double quotes)");
            if ((rc = lex(f)) != 0 || (rc = lex(f)) != 0)
                return rc;
            return parse_prim(f);
        }
        return parse_phrase(f);
    case T_STR:
        return parse_phrase(f);
    default:
        return unexpected(f);
    }
}

static int parse_not(struct fts *f)
{
    size_t mark = f->out.len;
    int rc = parse_prim(f);
    while (rc == 0 && f->tok == T_NOT) {
        char *left = lv_xstrndup(f->out.data + mark, f->out.len - mark);
        f->out.len = mark;
        lv_buf_addf(&f->out, "(%s & !", left);
        free(left);
        if ((rc = lex(f)) == 0 && (rc = parse_prim(f)) == 0)
            lv_buf_addc(&f->out, ')');
    }
    return rc;
}

static int parse_and(struct fts *f)
{
    size_t mark = f->out.len;
    int rc = parse_not(f);
    while (rc == 0 && (f->tok == T_AND || starts_prim(f->tok))) {
        if (f->tok == T_AND && (rc = lex(f)) != 0)
            return rc;
        char *left = lv_xstrndup(f->out.data + mark, f->out.len - mark);
        f->out.len = mark;
        lv_buf_addf(&f->out, "(%s & ", left);
        free(left);
        if ((rc = parse_not(f)) == 0)
            lv_buf_addc(&f->out, ')');
    }
    return rc;
}

static int parse_or(struct fts *f)
{
    size_t mark = f->out.len;
    int rc = parse_and(f);
    while (rc == 0 && f->tok == T_OR) {
        char *left = lv_xstrndup(f->out.data + mark, f->out.len - mark);
        f->out.len = mark;
        lv_buf_addf(&f->out, "(%s | ", left);
        free(left);
        if ((rc = lex(f)) == 0 && (rc = parse_and(f)) == 0)
            lv_buf_addc(&f->out, ')');
    }
    return rc;
}

/* The tsquery text for an FTS5 query; caller frees *out. */
static int fts_to_tsquery(const char *fts, char **out, struct lv_error *err)
{
    struct fts f = {.s = fts, .err = err};
    lv_buf_init(&f.out);
    lv_buf_adds(&f.out, "");
    int rc = lex(&f);
    if (rc == 0)
        rc = parse_or(&f);
    if (rc == 0 && f.tok != T_EOF)
        rc = unexpected(&f);
    if (rc != 0) {
        lv_buf_release(&f.out);
        return rc;
    }
    *out = lv_buf_detach(&f.out);
    return 0;
}

/* ---- search: conditions ---------------------------------------------------- */

struct plan {
    void *state;
    const struct lv_store_cache_query *cq;
    char *tsquery;  /* NULL without fts */
    bool nodes;     /* step one joins pubsub_nodes (n) and profiles (p) */
    double matches; /* with fts: the planner's estimate of the items matching it */
    int64_t items;  /* with fts: the items cached */
};

/* "(i.parsed #> $n::text[])": the jsonb at path, SQL NULL when missing. */
static void q_value(struct sqlq *q, const json_t *path)
{
    q_sql(q, "(i.parsed #> ");
    q_take(q, path_array(path), "::text[])");
}

/* The value as text (a string's content), NULL when missing or null. */
static void q_value_text(struct sqlq *q, const json_t *path)
{
    q_sql(q, "(i.parsed #>> ");
    q_take(q, path_array(path), "::text[])");
}

/* The published/updated columns hold the dates of the parsed data and are
 * indexed: numeric tests on them use the columns, as on SQLite. */
static const char *date_column(const struct lv_store_cache_cond *c)
{
    if (!lv_cq_all_numbers(c->value))
        return NULL;
    if (lv_cq_path_is(c->path, "published"))
        return "i.published";
    if (lv_cq_path_is(c->path, "updated"))
        return "i.updated";
    return NULL;
}

static const char *const cmp_sql[] = {
    [LV_CQ_EQ] = " = ",  [LV_CQ_NE] = " <> ", [LV_CQ_GT] = " > ",
    [LV_CQ_GE] = " >= ", [LV_CQ_LT] = " < ",  [LV_CQ_LE] = " <= ",
};

/* One ordering test of the value at path against v (a string or number):
 * numbers compare with numbers, strings with strings (by bytes). */
static void q_order_test(struct sqlq *q, const struct lv_store_cache_cond *c, const json_t *v,
                         const char *op)
{
    const char *col = date_column(c);
    if (col && strcmp(col, "i.published") == 0 && strcmp(op, " <> ") != 0) {
        /* Also a test of the date the indexes are sorted by (equal wherever
         * published is set, so the result is unchanged): one index then
         * serves both the range and the order, as on SQLite. */
        lv_buf_addf(&q->sql, "coalesce(i.published, i.created)%s", op);
        q_scalar_text(q, v, "::float8");
        q_sql(q, " AND ");
    }
    if (col) {
        lv_buf_addf(&q->sql, "%s%s", col, op);
        q_scalar_text(q, v, "::float8");
        return;
    }
    if (json_is_number(v)) {
        q_sql(q, "(jsonb_typeof");
        q_value(q, c->path);
        q_sql(q, " = 'number' AND ");
        q_value(q, c->path);
        lv_buf_addf(&q->sql, "::numeric%s", op);
        q_scalar_text(q, v, "::numeric)");
    } else {
        q_sql(q, "(jsonb_typeof");
        q_value(q, c->path);
        q_sql(q, " = 'string' AND ");
        q_value_text(q, c->path);
        lv_buf_addf(&q->sql, " COLLATE \"C\"%s", op);
        q_scalar_text(q, v, "::text)");
    }
}

/* == and != compare JSON values (numbers numerically, strings exactly);
 * == null / != null test whether the field is there (JSON null counting as
 * absent, as json_extract makes it). */
static void q_compare(struct sqlq *q, const struct lv_store_cache_cond *c)
{
    bool eq = c->op == LV_CQ_EQ;
    if (json_is_null(c->value)) {
        q_sql(q, eq ? "coalesce(jsonb_typeof" : "jsonb_typeof");
        q_value(q, c->path);
        q_sql(q, eq ? ", 'null') = 'null'" : " <> 'null'");
    } else if (c->op != LV_CQ_EQ && c->op != LV_CQ_NE) {
        q_order_test(q, c, c->value, cmp_sql[c->op]);
    } else if (date_column(c)) {
        q_order_test(q, c, c->value, cmp_sql[c->op]);
    } else {
        if (!eq) {
            q_sql(q, "jsonb_typeof");
            q_value(q, c->path);
            q_sql(q, " <> 'null' AND ");
        }
        q_value(q, c->path);
        q_sql(q, cmp_sql[c->op]);
        q_json(q, c->value);
    }
}

static void q_between(struct sqlq *q, const struct lv_store_cache_cond *c)
{
    q_order_test(q, c, json_array_get(c->value, 0), " >= ");
    q_sql(q, " AND ");
    q_order_test(q, c, json_array_get(c->value, 1), " <= ");
}

static void q_in(struct sqlq *q, const struct lv_store_cache_cond *c)
{
    if (c->op == LV_CQ_NOT_IN) {
        q_sql(q, "jsonb_typeof");
        q_value(q, c->path);
        q_sql(q, " <> 'null' AND ");
    }
    q_value(q, c->path);
    q_sql(q, c->op == LV_CQ_IN ? " IN " : " NOT IN ");
    q_sql(q, "(SELECT jsonb_array_elements(");
    q_json(q, c->value);
    q_sql(q, "))");
}

/* The pattern as LIKE takes it with ESCAPE '\': the same syntax, except
 * that a trailing lone backslash stands for itself. */
static char *like_pattern(const char *p, size_t len)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "");
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\\' && i + 1 < len) {
            lv_buf_add(&b, p + i, 2);
            i++;
        } else if (p[i] == '\\') {
            lv_buf_adds(&b, "\\\\");
        } else {
            lv_buf_addc(&b, p[i]);
        }
    }
    return lv_buf_detach(&b);
}

static void q_like(struct sqlq *q, const struct lv_store_cache_cond *c)
{
    bool ci = c->op == LV_CQ_ILIKE || c->op == LV_CQ_NOT_ILIKE;
    bool neg = c->op == LV_CQ_NOT_LIKE || c->op == LV_CQ_NOT_ILIKE;
    q_sql(q, ci ? "lower(normalize(" : "(");
    q_value_text(q, c->path);
    q_sql(q, ci ? ", NFC))" : ")");
    q_sql(q, neg ? " NOT LIKE " : " LIKE ");
    q_sql(q, ci ? "lower(normalize(" : "(");
    q_take(q, like_pattern(json_string_value(c->value), json_string_length(c->value)), "::text");
    q_sql(q, ci ? ", NFC)) ESCAPE '\\'" : ") ESCAPE '\\'");
}

/* overlap/disjoint of strings on ["tags"]: the tag table, by folded tag
 * (its index), then by exact spelling for the case-sensitive operators. */
static void q_tags(struct sqlq *q, const struct lv_store_cache_cond *c)
{
    q_sql(q, lv_cq_is_negated_set(c->op) ? "NOT EXISTS" : "EXISTS");
    q_sql(q, " (SELECT 1 FROM pubsub_item_tags AS t WHERE t.item_id = i.id AND t.tag_norm = ANY(");
    json_t *folded = lv_cq_fold_list(c->value);
    q_take(q, text_array(folded), "::text[])");
    json_decref(folded);
    if (!lv_cq_is_ci_set(c->op)) {
        q_sql(q, " AND t.tag = ANY(");
        q_take(q, text_array(c->value), "::text[])");
    }
    q_sql(q, ")");
}

/* Elsewhere: the elements at path (an array, or one value as a set of one)
 * against the list. A missing field has no element that can match. */
static void q_set(struct sqlq *q, const struct lv_store_cache_cond *c)
{
    bool ci = lv_cq_is_ci_set(c->op);
    q_sql(q, lv_cq_is_negated_set(c->op) ? "NOT EXISTS" : "EXISTS");
    q_sql(q, " (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof");
    q_value(q, c->path);
    q_sql(q, " WHEN 'array' THEN ");
    q_value(q, c->path);
    q_sql(q, " ELSE jsonb_build_array");
    q_value(q, c->path);
    if (ci) {
        q_sql(q, " END) AS e(v) WHERE lower(normalize(e.v #>> '{}', NFC)) IN "
                 "(SELECT lower(normalize(x.v, NFC)) FROM jsonb_array_elements_text(");
    } else {
        q_sql(q, " END) AS e(v) WHERE e.v IN (SELECT jsonb_array_elements(");
    }
    q_json(q, c->value);
    q_sql(q, ci ? ") AS x(v)))" : ")))");
}

static void q_cond(struct sqlq *q, const struct lv_store_cache_cond *c)
{
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
        if (c->op >= LV_CQ_OVERLAP && lv_cq_path_is(c->path, "tags") && lv_cq_all_strings(c->value))
            q_tags(q, c);
        else
            q_set(q, c);
        break;
    }
}

/* ---- search: statements ---------------------------------------------------- */

/* FTS5's bm25 is negative, the lower the better; so is this. */
#define RANK_EXPR "(-ts_rank_cd(i.tsv, fq.q, 1))"

/* A path order as SQLite orders json_extract values: missing and null
 * first, then numbers (booleans as 0/1), then strings by bytes. */
static void q_path_sort(struct sqlq *q, const json_t *path, const char *dir)
{
    q_sql(q, "CASE coalesce(jsonb_typeof");
    q_value(q, path);
    lv_buf_addf(&q->sql,
                ", 'null') WHEN 'null' THEN 0 WHEN 'number' THEN 1 WHEN 'boolean' "
                "THEN 1 WHEN 'string' THEN 2 ELSE 3 END %s, CASE jsonb_typeof",
                dir);
    q_value(q, path);
    q_sql(q, " WHEN 'number' THEN ");
    q_value(q, path);
    q_sql(q, "::numeric WHEN 'boolean' THEN CASE WHEN ");
    q_value(q, path);
    lv_buf_addf(&q->sql, "::boolean THEN 1 ELSE 0 END END %s, ", dir);
    q_value_text(q, path);
    lv_buf_addf(&q->sql, " COLLATE \"C\" %s", dir);
}

static void q_sort(struct sqlq *q, const struct lv_store_cache_sort *s)
{
    const char *dir = s->desc ? "DESC" : "ASC";
    switch (s->key) {
    case LV_CQ_BY_CREATION:
        lv_buf_addf(&q->sql, "i.id %s", dir);
        break;
    case LV_CQ_BY_MODIFICATION:
        lv_buf_addf(&q->sql, "i.modified %s", dir);
        break;
    case LV_CQ_BY_PUBLISHED:
        lv_buf_addf(&q->sql, "coalesce(i.published, i.created) %s", dir);
        break;
    case LV_CQ_BY_ITEM_ID:
        lv_buf_addf(&q->sql, "i.name COLLATE \"C\" %s", dir);
        break;
    case LV_CQ_BY_RANK:
        lv_buf_addf(&q->sql, RANK_EXPR " %s", dir);
        break;
    case LV_CQ_BY_PATH:
        q_path_sort(q, s->path, dir);
        break;
    }
}

/* The FROM and the text match, shared by the search and the rank window. */
static void q_from(struct sqlq *q, const struct plan *pl, const char *cols)
{
    lv_buf_addf(&q->sql, "SELECT %s FROM pubsub_items AS i", cols);
    if (pl->tsquery) {
        q_sql(q, " CROSS JOIN (SELECT to_tsquery('simple'::regconfig, lv_unaccent(");
        q_str(q, pl->tsquery, "::text");
        q_sql(q, ")) AS q) AS fq");
    }
    if (pl->nodes)
        q_sql(q, " JOIN pubsub_nodes AS n ON n.id = i.node_id"
                 " JOIN profiles AS p ON p.id = n.profile_id");
    q_sql(q, " WHERE true");
    if (pl->tsquery)
        q_sql(q, " AND i.tsv @@ fq.q");
}

/* Step one: the ids of the page, with their rank. */
static void q_search(struct sqlq *q, const struct plan *pl)
{
    const struct lv_store_cache_query *cq = pl->cq;
    q_from(q, pl, pl->tsquery ? "i.id, " RANK_EXPR : "i.id, 0");
    q_list_opt(q, "p.name", cq->profiles, false);
    q_list_opt(q, "n.service", cq->services, false);
    q_list_opt(q, "n.name", cq->nodes, false);
    q_list_opt(q, "n.type", cq->types, true);
    q_list_opt(q, "n.subtype", cq->subtypes, true);
    q_list_opt(q, "i.name", cq->names, false);
    for (size_t i = 0; i < cq->n_conds; i++)
        q_cond(q, &cq->conds[i]);
    q_sql(q, " ORDER BY ");
    for (size_t i = 0; i < cq->n_sorts; i++) {
        q_sql(q, i ? ", " : "");
        q_sort(q, &cq->sorts[i]);
    }
    q_sql(q, cq->sorts[cq->n_sorts - 1].desc ? ", i.id DESC" : ", i.id ASC");
    q_sql(q, " LIMIT ");
    q_int(q, cq->limit);
    q_sql(q, " OFFSET ");
    q_int(q, cq->index);
}

/* ---- search: steering the planner ----
 * Testing whether an item matches a full-text query reads its tsvector
 * (kilobytes, decompressed), a cost the planner does not see. Given an order
 * that an index provides (creation, date) and a LIMIT, it prefers walking
 * that index from the newest items and testing each: fine when matches are
 * dense (a common word), ruinous when they are sparse, as it then reads
 * about (index + limit) / selectivity items: 20 matches of a word in 0.1% of
 * a million items read 20,000 tsvectors, where the text index finds the
 * 1,000 matches directly. The planner's own estimate of the matches (its
 * statistics of the tsvector column are good) decides here between the two:
 * where the walk would read more items than there are matches, index walks
 * are turned off for step one (SET LOCAL enable_indexscan), which leaves the
 * bitmap scans of the text index (ANDed with a range of ids, for the rank
 * window). */

/* pl->matches and pl->items. */
static int fts_estimate(struct plan *pl, struct lv_error *err)
{
    struct sqlq q;
    PGresult *res;
    q_init(&q);
    q_sql(&q, "EXPLAIN (FORMAT JSON) SELECT 1 FROM pubsub_items AS i WHERE i.tsv @@ "
              "to_tsquery('simple'::regconfig, lv_unaccent(");
    q_str(&q, pl->tsquery, "::text");
    q_sql(&q, "))");
    int rc = q_select(pl->state, &q, "searching the cache", &res, err);
    q_release(&q);
    if (rc != 0)
        return rc;
    json_t *plan = PQntuples(res) > 0 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
    pl->matches = json_number_value(
        json_object_get(json_object_get(json_array_get(plan, 0), "Plan"), "Plan Rows"));
    json_decref(plan);
    PQclear(res);
    q_init(&q);
    q_sql(&q, "SELECT items FROM pubsub_cache_count");
    rc = q_int_result(pl->state, &q, "searching the cache", &pl->items, err);
    q_release(&q);
    return rc == LV_ERR_NOT_FOUND ? 0 : rc;
}

static int index_walks(struct plan *pl, bool on, struct lv_error *err)
{
    return simple(pl->state,
                  on ? "SET LOCAL enable_indexscan = on" : "SET LOCAL enable_indexscan = off",
                  "searching the cache", err);
}

/* Whether walking an index in the order wanted would read more items than
 * the text index finds (with a margin: the walk reads items in order, the
 * bitmap scan in scattered pages). */
static bool walk_costlier(const struct plan *pl)
{
    double wanted = (double)(pl->cq->index + pl->cq->limit);
    return pl->matches * pl->matches < 4 * wanted * (double)pl->items;
}

struct hit {
    int64_t id;
    double rank;
    int64_t in_window; /* window_hits(): the matches ranked */
};

/* The hits of step one: id, rank (and whatever follows) per row. */
static int read_hits(struct plan *pl, const struct sqlq *q, struct hit **hits, size_t *n,
                     struct lv_error *err)
{
    PGresult *res;
    int rc = q_select(pl->state, q, "searching the cache", &res, err);
    if (rc != 0)
        return rc;
    int rows = PQntuples(res);
    *hits = rows ? lv_xcalloc((size_t)rows, sizeof(**hits)) : NULL;
    for (int i = 0; i < rows; i++) {
        (*hits)[i].id = col_int(res, i, 0);
        (*hits)[i].rank = strtod(PQgetvalue(res, i, 1), NULL);
        if (PQnfields(res) > 2)
            (*hits)[i].in_window = col_int(res, i, 2);
    }
    *n = (size_t)rows;
    PQclear(res);
    return 0;
}

static int find_hits(struct plan *pl, struct hit **hits, size_t *n, struct lv_error *err)
{
    struct sqlq q;
    q_init(&q);
    q_search(&q, pl);
    int rc = read_hits(pl, &q, hits, n, err);
    q_release(&q);
    return rc;
}

/* The page of a search ordered by rank alone, without other filters, in one
 * statement: the window newest matches with an id above lo (0: any), ranked
 * as they are read (their tsvectors at hand: carrying them to a later step
 * would copy kilobytes per match), then sorted by rank; each row also
 * carries how many matches the window holds. */
static void q_window(struct sqlq *q, const struct plan *pl, int64_t window, int64_t lo)
{
    const struct lv_store_cache_query *cq = pl->cq;
    q_sql(q, "SELECT i.id, i.r, count(*) OVER () FROM (");
    q_from(q, pl, "i.id, " RANK_EXPR " AS r");
    if (lo > 0) {
        q_sql(q, " AND i.id > ");
        q_int(q, lo);
    }
    q_sql(q, " ORDER BY i.id DESC LIMIT ");
    q_int(q, window);
    q_sql(q, cq->sorts[0].desc ? ") AS i ORDER BY i.r DESC, i.id DESC LIMIT "
                               : ") AS i ORDER BY i.r ASC, i.id ASC LIMIT ");
    q_int(q, cq->limit);
    q_sql(q, " OFFSET ");
    q_int(q, cq->index);
}

/* As on SQLite: a search ordered by rank alone, without other filters,
 * ranks only the LV_STORE_CACHE_RANK_WINDOW (or index + limit) most recent
 * matches, so that a very common word does not rank the whole cache. Dense
 * matches (over 1 item in 8): walking the ids from the newest finds the
 * window soon. Sparse ones: a bitmap scan of the text index ANDed with the
 * BRIN index of ids (pages, not rows: cheap for any range), over the newest
 * ids in a range that should hold twice the window by the estimate,
 * widened until it holds the window or all the items. */
static int window_hits(struct plan *pl, struct hit **hits, size_t *n, struct lv_error *err)
{
    int64_t window = pl->cq->index + pl->cq->limit, max_id = 0;
    if (window < LV_STORE_CACHE_RANK_WINDOW)
        window = LV_STORE_CACHE_RANK_WINDOW;
    bool dense = pl->matches * 8 >= (double)pl->items;
    struct sqlq q;
    q_init(&q);
    q_sql(&q, "SELECT coalesce(max(id), 0) FROM pubsub_items");
    int rc = dense ? 0 : q_int_result(pl->state, &q, "searching the cache", &max_id, err);
    q_release(&q);
    if (rc == 0 && !dense)
        rc = index_walks(pl, false, err);
    double span = 2.0 * (double)window * (double)pl->items / (pl->matches >= 1 ? pl->matches : 1);
    for (; rc == 0; span *= 4) {
        int64_t lo = !dense && span < (double)max_id ? max_id - (int64_t)span : 0;
        q_init(&q);
        q_window(&q, pl, window, lo);
        rc = read_hits(pl, &q, hits, n, err);
        q_release(&q);
        if (rc != 0 || lo == 0 || (*n > 0 && (*hits)[0].in_window >= window))
            break;
        free(*hits); /* the range held too few matches */
        *hits = NULL;
        *n = 0;
    }
    return rc;
}

static void set_text(json_t *o, const char *key, const PGresult *res, int r, int c)
{
    json_object_set_new(o, key,
                        PQgetisnull(res, r, c)
                            ? json_null()
                            : json_stringn(PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c)));
}

/* The cache's date wins; without one, a date in the parsed data stays. */
static void set_time(json_t *o, const char *key, const PGresult *res, int r, int c)
{
    if (!PQgetisnull(res, r, c))
        json_object_set_new(o, key, json_real(strtod(PQgetvalue(res, r, c), NULL)));
    else if (!json_object_get(o, key))
        json_object_set_new(o, key, json_null());
}

/* Step two: the rows of the hits, in their order. Columns: 0 service,
 * 1 node, 2 profile, 3 item, 4 published, 5 updated, 6 parsed, 7 payload,
 * 8 position (1-based) in hits. */
static int read_results(struct plan *pl, const struct hit *hits, size_t n, json_t *out,
                        struct lv_error *err)
{
    if (n == 0)
        return 0;
    struct lv_buf ids = LV_BUF_INIT;
    lv_buf_addc(&ids, '{');
    for (size_t i = 0; i < n; i++)
        lv_buf_addf(&ids, "%s%lld", i ? "," : "", (long long)hits[i].id);
    lv_buf_addc(&ids, '}');
    struct sqlq q;
    PGresult *res;
    q_init(&q);
    lv_buf_addf(&q.sql,
                "SELECT n.service, n.name, p.name, i.name, i.published, i.updated, "
                "i.parsed::text, %s, h.pos FROM unnest(",
                pl->cq->with_payload ? "i.data" : "NULL");
    q_take(&q, lv_buf_detach(&ids), "::bigint[]");
    q_sql(&q, ") WITH ORDINALITY AS h(id, pos) JOIN pubsub_items AS i ON i.id = h.id "
              "JOIN pubsub_nodes AS n ON n.id = i.node_id "
              "JOIN profiles AS p ON p.id = n.profile_id ORDER BY h.pos");
    int rc = q_select(pl->state, &q, "reading search results", &res, err);
    q_release(&q);
    if (rc != 0)
        return rc;
    for (int r = 0; r < PQntuples(res); r++) {
        json_t *o = col_json(res, r, 6);
        if (!json_is_object(o)) {
            json_decref(o);
            o = json_object();
        }
        set_text(o, "pubsub_service", res, r, 0);
        set_text(o, "pubsub_node", res, r, 1);
        set_text(o, "node_profile", res, r, 2);
        set_text(o, "item_id", res, r, 3);
        set_time(o, "published", res, r, 4);
        set_time(o, "updated", res, r, 5);
        int64_t pos = col_int(res, r, 8);
        if (pl->tsquery && pos >= 1 && (size_t)pos <= n)
            json_object_set_new(o, "rank", json_real(hits[pos - 1].rank));
        if (pl->cq->with_payload)
            set_text(o, "item_payload", res, r, 7);
        json_array_append_new(out, o);
    }
    PQclear(res);
    return 0;
}

static int search_tx(struct plan *pl, json_t *out, struct lv_error *err)
{
    struct hit *hits = NULL;
    size_t n = 0;
    const struct lv_store_cache_query *cq = pl->cq;
    bool items =
        !cq->fts || pl->nodes || cq->names || cq->n_conds > 0 || !lv_cq_only_rank_order(cq);
    int rc = cq->fts ? fts_estimate(pl, err) : 0;
    if (rc == 0 && cq->fts && !items) {
        rc = window_hits(pl, &hits, &n, err);
    } else {
        if (rc == 0 && cq->fts && !lv_cq_only_rank_order(cq) && walk_costlier(pl))
            rc = index_walks(pl, false, err);
        if (rc == 0)
            rc = find_hits(pl, &hits, &n, err);
    }
    if (rc == 0 && cq->fts)
        rc = index_walks(pl, true, err); /* step two looks items up by id */
    if (rc == 0)
        rc = read_results(pl, hits, n, out, err);
    free(hits);
    return rc;
}

/* The full-text query is checked before any SQL runs: its errors are the
 * user's. One REPEATABLE READ transaction: step two reads the rows step
 * one found. */
static int pg_search(void *state, const struct lv_store_cache_query *cq, json_t **results,
                     struct lv_error *err)
{
    struct plan pl = {.state = state, .cq = cq, .nodes = lv_cq_any_node_filter(cq)};
    int rc = cq->fts ? fts_to_tsquery(cq->fts, &pl.tsquery, err) : 0;
    if (rc != 0)
        return rc;
    json_t *out = json_array();
    rc = simple(state, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "searching the cache",
                err);
    if (rc == 0)
        rc = finish_tx(state, search_tx(&pl, out, err), err);
    free(pl.tsquery);
    if (rc == 0)
        *results = out;
    else
        json_decref(out);
    return rc;
}

/* ---- categories ------------------------------------------------------------ */

/* Spellings that fold alike count together; the smallest one (by bytes)
 * names them. */
static int pg_categories(void *state, const struct lv_store_cache_node_filter *filter, size_t max,
                         struct lv_store_cache_category **out, size_t *n, struct lv_error *err)
{
    struct sqlq q;
    PGresult *res;
    q_init(&q);
    q_sql(&q, "SELECT min(t.tag COLLATE \"C\"), count(*) AS c FROM pubsub_item_tags AS t"
              " JOIN pubsub_nodes AS n ON n.id = t.node_id"
              " JOIN profiles AS p ON p.id = n.profile_id WHERE true");
    q_node_filter(&q, filter);
    q_sql(&q, " GROUP BY t.tag_norm ORDER BY c DESC, t.tag_norm COLLATE \"C\"");
    if (max > 0) {
        q_sql(&q, " LIMIT ");
        q_int(&q, (int64_t)max);
    }
    int rc = q_select(state, &q, "counting categories", &res, err);
    q_release(&q);
    if (rc != 0)
        return rc;
    int rows = PQntuples(res);
    struct lv_store_cache_category *v = rows ? lv_xcalloc((size_t)rows, sizeof(*v)) : NULL;
    for (int i = 0; i < rows; i++) {
        v[i].tag = col_dup(res, i, 0);
        v[i].count = col_int(res, i, 1);
    }
    PQclear(res);
    *out = v;
    *n = (size_t)rows;
    return 0;
}

/* ---- maintenance ----------------------------------------------------------- */

static void q_strv_opt(struct sqlq *q, const char *col, const char *const *v, bool nullable)
{
    if (!v)
        return;
    json_t *a = json_array();
    for (size_t i = 0; v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    q_in_list(q, col, a, nullable);
    json_decref(a);
}

static void q_time_before(struct sqlq *q, const char *col, double t)
{
    if (t == 0)
        return;
    lv_buf_addf(&q->sql, " AND %s < ", col);
    q_take(q, lv_xasprintf("%.17g", t), "::float8");
}

static int pg_purge(void *state, const struct lv_store_cache_purge_filter *f, size_t *deleted,
                    struct lv_error *err)
{
    static const struct lv_store_cache_purge_filter all = {0};
    struct sqlq q;
    long changed = 0;
    if (!f)
        f = &all;
    q_init(&q);
    q_sql(&q, "DELETE FROM pubsub_items WHERE true");
    if (f->profiles || f->services || f->nodes || f->types || f->subtypes) {
        q_sql(&q, " AND node_id IN (SELECT n.id FROM pubsub_nodes AS n"
                  " JOIN profiles AS p ON p.id = n.profile_id WHERE true");
        q_strv_opt(&q, "p.name", f->profiles, false);
        q_strv_opt(&q, "n.service", f->services, false);
        q_strv_opt(&q, "n.name", f->nodes, false);
        q_strv_opt(&q, "n.type", f->types, true);
        q_strv_opt(&q, "n.subtype", f->subtypes, true);
        q_sql(&q, ")");
    }
    q_time_before(&q, "created", f->created_before);
    q_time_before(&q, "modified", f->modified_before);
    int rc = q_command(state, &q, "purging the cache", &changed, err);
    q_release(&q);
    *deleted = rc == 0 ? (size_t)changed : 0;
    return rc;
}

/* Items and tags go with their nodes (ON DELETE CASCADE). */
static int pg_reset(void *state, struct lv_error *err)
{
    return simple(state, "DELETE FROM pubsub_nodes", "resetting the cache", err);
}

static int pg_stats(void *state, struct lv_store_cache_stats *out, struct lv_error *err)
{
    struct sqlq q;
    PGresult *res;
    q_init(&q);
    q_sql(&q, "SELECT (SELECT count(*) FROM pubsub_nodes), (SELECT items FROM pubsub_cache_count), "
              "pg_database_size(current_database())");
    int rc = q_select(state, &q, "measuring the cache", &res, err);
    q_release(&q);
    if (rc != 0)
        return rc;
    out->nodes = col_int(res, 0, 0);
    out->items = col_int(res, 0, 1);
    out->db_bytes = col_int(res, 0, 2);
    PQclear(res);
    return 0;
}

/* ---- the bound -------------------------------------------------------------- */

/* One statement: the n oldest items in the date order (by the index on that
 * order, whose entries end with the id), deleted, and the nodes they came
 * from told. */
static int trim_step(void *state, int64_t max_items, size_t batch, size_t *deleted, int64_t *excess,
                     struct lv_error *err)
{
    struct sqlq q;
    int64_t total = 0, n;
    q_init(&q);
    q_sql(&q, "SELECT items FROM pubsub_cache_count FOR UPDATE");
    int rc = q_int_result(state, &q, "trimming the cache", &total, err);
    q_release(&q);
    if (rc != 0 || total <= max_items)
        return rc;
    n = total - max_items < (int64_t)batch ? total - max_items : (int64_t)batch;
    q_init(&q);
    q_sql(&q, "WITH old AS (SELECT id, node_id, coalesce(published, created) AS k "
              "FROM pubsub_items ORDER BY coalesce(published, created), id LIMIT ");
    q_int(&q, n);
    q_sql(&q, "), gone AS (DELETE FROM pubsub_items AS i USING old WHERE i.id = old.id "
              "RETURNING old.node_id, old.k), "
              "nodes AS (UPDATE pubsub_nodes AS n SET trimmed_items = n.trimmed_items + g.c, "
              "trimmed_upto = greatest(n.trimmed_upto, g.k) FROM (SELECT node_id, count(*) AS c, "
              "max(k) AS k FROM gone GROUP BY node_id) AS g WHERE n.id = g.node_id) "
              "SELECT count(*) FROM gone");
    int64_t done = 0;
    rc = q_int_result(state, &q, "trimming the cache", &done, err);
    q_release(&q);
    if (rc == 0) {
        *deleted = (size_t)done;
        *excess = total - done - max_items;
    }
    return rc;
}

/* The counter row, locked first, makes concurrent trims take turns. */
static int pg_trim(void *state, int64_t max_items, size_t batch, size_t *deleted, int64_t *excess,
                   struct lv_error *err)
{
    int rc = simple(state, "BEGIN", "trimming the cache", err);
    if (rc == 0)
        rc = finish_tx(state, trim_step(state, max_items, batch, deleted, excess, err), err);
    if (rc != 0) {
        *deleted = 0;
        *excess = 0;
    }
    return rc;
}

const struct lv_store_cache_backend lv_store_postgres_cache_backend = {
    .node_get = pg_node_get,
    .node_ensure = pg_node_ensure,
    .node_set_info = pg_node_set_info,
    .node_set_sync = pg_node_set_sync,
    .node_list = pg_node_list,
    .node_delete = pg_node_delete,
    .node_purge = pg_node_purge,
    .items_upsert = pg_items_upsert,
    .items_delete = pg_items_delete,
    .items_get = pg_items_get,
    .search = pg_search,
    .categories = pg_categories,
    .purge = pg_purge,
    .reset = pg_reset,
    .stats = pg_stats,
    .trim = pg_trim,
};
