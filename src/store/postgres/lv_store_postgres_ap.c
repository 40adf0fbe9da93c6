/* The ActivityPub gateway's tables on PostgreSQL (migration 0003_ap.sql).
 *
 * The same semantics as lv_store_sqlite_ap.c, which tests/unit/
 * test_store_ap.c holds both to. Statements go through the backend's
 * lv_store_postgres_query (PQexecParams, text parameters; no SQL built from
 * a value) and its error mapping. Writes are single statements (a batch of
 * new deliveries: one transaction): an upsert or an insert that may do
 * nothing (ON CONFLICT) cannot interleave badly with another process's. A
 * duplicate inbox activity is told by the empty
 * RETURNING of INSERT ... ON CONFLICT DO NOTHING, never by an error, so no
 * SQL error text reaches the caller for it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lv_buf.h"
#include "core/lv_mem.h"
#include "store/lv_store_ap_backend.h"
#include "store/postgres/lv_store_postgres_priv.h"

/* ---- statements ------------------------------------------------------------ */

/* The server's clock in whole seconds, as time() gives them: one clock for
 * every process that shares the database. */
#define PG_NOW "floor(EXTRACT(EPOCH FROM now()))::bigint"

/* Room for the decimal text of any int64_t. */
#define NUM_SIZE 24

static const char *num(char buf[static NUM_SIZE], int64_t v)
{
    snprintf(buf, NUM_SIZE, "%lld", (long long)v);
    return buf;
}

/* How rows of a result become records. */
struct rec_type {
    size_t size;
    void (*read)(const PGresult *res, int row, void *rec);
};

/* A statement that returns no rows; *changed (may be NULL) gets how many it
 * wrote. */
static int command(void *state, const char *sql, int n, const char *const *params, const char *what,
                   int64_t *changed, struct lv_error *err)
{
    PGresult *res = lv_store_postgres_query(state, sql, n, params);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return lv_store_postgres_fail(state, res, what, err);
    if (changed)
        *changed = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return 0;
}

/* A query (or a write with RETURNING); on success *res is the caller's. */
static int select_rows(void *state, const char *sql, int n, const char *const *params,
                       const char *what, PGresult **res, struct lv_error *err)
{
    *res = lv_store_postgres_query(state, sql, n, params);
    if (PQresultStatus(*res) == PGRES_TUPLES_OK)
        return 0;
    int rc = lv_store_postgres_fail(state, *res, what, err);
    *res = NULL;
    return rc;
}

static int select_all(void *state, const char *sql, int n, const char *const *params,
                      const struct rec_type *t, void **out, size_t *count, const char *what,
                      struct lv_error *err)
{
    PGresult *res;
    int rc = select_rows(state, sql, n, params, what, &res, err);
    if (rc != 0)
        return rc;
    int rows = PQntuples(res);
    if (rows > 0) {
        char *v = lv_xcalloc((size_t)rows, t->size);
        for (int i = 0; i < rows; i++)
            t->read(res, i, v + (size_t)i * t->size);
        *out = v;
    }
    *count = (size_t)rows;
    PQclear(res);
    return 0;
}

/* The first row into *rec; LV_ERR_NOT_FOUND (no message) without one. */
static int select_one(void *state, const char *sql, int n, const char *const *params,
                      const struct rec_type *t, void *rec, const char *what, struct lv_error *err)
{
    PGresult *res;
    int rc = select_rows(state, sql, n, params, what, &res, err);
    if (rc != 0)
        return rc;
    if (PQntuples(res) > 0)
        t->read(res, 0, rec);
    else
        rc = LV_ERR_NOT_FOUND;
    PQclear(res);
    return rc;
}

/* Column 0 of the first row; LV_ERR_NOT_FOUND (no message) without a row
 * or for NULL. */
static int select_int(void *state, const char *sql, int n, const char *const *params, int64_t *out,
                      const char *what, struct lv_error *err)
{
    PGresult *res;
    int rc = select_rows(state, sql, n, params, what, &res, err);
    if (rc != 0)
        return rc;
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        rc = LV_ERR_NOT_FOUND;
    PQclear(res);
    return rc;
}

/* A count is never missing: count(*) always has its row. */
static int count(void *state, const char *sql, int n, const char *const *params, int64_t *out,
                 struct lv_error *err)
{
    int rc = select_int(state, sql, n, params, out, "counting", err);
    return rc == LV_ERR_NOT_FOUND ? lv_error_set(err, LV_ERR_STORE, "counting: no answer") : rc;
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

/* ---- remote actors --------------------------------------------------------- */

#define ACTOR_COLUMNS                                                                              \
    "SELECT id, account, inbox, shared_inbox, key_id, public_key_pem, doc, fetched FROM ap_actors"

static void read_actor(const PGresult *res, int row, void *rec)
{
    struct lv_ap_actor_rec *a = rec;
    a->id = col_dup(res, row, 0);
    a->account = col_dup(res, row, 1);
    a->inbox = col_dup(res, row, 2);
    a->shared_inbox = col_dup(res, row, 3);
    a->key_id = col_dup(res, row, 4);
    a->public_key_pem = col_dup(res, row, 5);
    a->doc = col_dup(res, row, 6);
    a->fetched = col_int(res, row, 7);
}

static const struct rec_type actor_type = {sizeof(struct lv_ap_actor_rec), read_actor};

static int pg_actor_put(void *state, const struct lv_ap_actor_rec *a, struct lv_error *err)
{
    char fetched[NUM_SIZE];
    const char *params[] = {a->id,     a->account,        a->inbox, a->shared_inbox,
                            a->key_id, a->public_key_pem, a->doc,   num(fetched, a->fetched)};
    return command(state,
                   "INSERT INTO ap_actors (id, account, inbox, shared_inbox, key_id, "
                   "public_key_pem, doc, fetched) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                   "ON CONFLICT (id) DO UPDATE SET account = excluded.account, "
                   "inbox = excluded.inbox, shared_inbox = excluded.shared_inbox, "
                   "key_id = excluded.key_id, public_key_pem = excluded.public_key_pem, "
                   "doc = excluded.doc, fetched = excluded.fetched",
                   8, params, "storing an actor", NULL, err);
}

static int pg_actor_get(void *state, enum lv_ap_actor_key by, const char *value,
                        struct lv_ap_actor_rec *out, struct lv_error *err)
{
    static const char *const sql[] = {
        [LV_AP_ACTOR_BY_ID] = ACTOR_COLUMNS " WHERE id = $1",
        [LV_AP_ACTOR_BY_ACCOUNT] =
            ACTOR_COLUMNS " WHERE account = $1 ORDER BY fetched DESC, id LIMIT 1",
        [LV_AP_ACTOR_BY_KEY] = ACTOR_COLUMNS " WHERE key_id = $1 ORDER BY fetched DESC, id LIMIT 1",
    };
    const char *params[] = {value};
    return select_one(state, sql[by], 1, params, &actor_type, out, "reading an actor", err);
}

static int pg_actor_count(void *state, int64_t *n, struct lv_error *err)
{
    return count(state, "SELECT count(*) FROM ap_actors", 0, NULL, n, err);
}

/* ---- follows --------------------------------------------------------------- */

#define FOLLOW_COLUMNS                                                                             \
    "SELECT id, dir, local, node, remote, activity_id, state, created, updated FROM ap_follows"
#define FOLLOW_KEY " WHERE dir = $1 AND local = $2 AND node = $3 AND remote = $4"

static void read_follow(const PGresult *res, int row, void *rec)
{
    struct lv_ap_follow_rec *f = rec;
    f->id = col_int(res, row, 0);
    f->dir = (enum lv_ap_follow_dir)col_int(res, row, 1);
    f->local = col_dup(res, row, 2);
    f->node = col_dup(res, row, 3);
    f->remote = col_dup(res, row, 4);
    f->activity_id = col_dup(res, row, 5);
    f->state = (enum lv_ap_follow_state)col_int(res, row, 6);
    f->created = col_int(res, row, 7);
    f->updated = col_int(res, row, 8);
}

static const struct rec_type follow_type = {sizeof(struct lv_ap_follow_rec), read_follow};

static int pg_follow_put(void *state, const struct lv_ap_follow_sel *f, const char *activity_id,
                         enum lv_ap_follow_state fstate, struct lv_error *err)
{
    char dir[NUM_SIZE], st[NUM_SIZE];
    const char *params[] = {num(dir, f->dir), f->local,    f->node,
                            f->remote,        activity_id, num(st, fstate)};
    return command(state,
                   "INSERT INTO ap_follows (dir, local, node, remote, activity_id, state, "
                   "created, updated) VALUES ($1, $2, $3, $4, $5, $6, " PG_NOW ", " PG_NOW ") "
                   "ON CONFLICT (dir, local, node, remote) DO UPDATE SET "
                   "activity_id = excluded.activity_id, state = excluded.state, "
                   "updated = excluded.updated",
                   6, params, "storing a follow relation", NULL, err);
}

static int pg_follow_get(void *state, const struct lv_ap_follow_sel *f,
                         struct lv_ap_follow_rec *out, struct lv_error *err)
{
    char dir[NUM_SIZE];
    const char *params[] = {num(dir, f->dir), f->local, f->node, f->remote};
    return select_one(state, FOLLOW_COLUMNS FOLLOW_KEY, 4, params, &follow_type, out,
                      "reading a follow relation", err);
}

/* Several relations may name one activity only if a peer reused an id: the
 * latest wins. */
static int pg_follow_by_activity(void *state, const char *activity_id, struct lv_ap_follow_rec *out,
                                 struct lv_error *err)
{
    const char *params[] = {activity_id};
    return select_one(state, FOLLOW_COLUMNS " WHERE activity_id = $1 ORDER BY id DESC LIMIT 1", 1,
                      params, &follow_type, out, "reading a follow relation", err);
}

static int pg_follow_delete(void *state, const struct lv_ap_follow_sel *f, struct lv_error *err)
{
    char dir[NUM_SIZE];
    const char *params[] = {num(dir, f->dir), f->local, f->node, f->remote};
    int64_t changed = 0;
    int rc = command(state, "DELETE FROM ap_follows" FOLLOW_KEY, 4, params,
                     "deleting a follow relation", &changed, err);
    return rc == 0 && changed == 0 ? LV_ERR_NOT_FOUND : rc;
}

/* Unset filters are NULL parameters. PQexecParams plans an unnamed statement
 * with the values at hand, so "$2::text IS NULL OR ..." folds away and the
 * indexes serve what is set. */
#define FOLLOW_SEL                                                                                 \
    " WHERE dir = $1 AND ($2::text IS NULL OR local = $2) AND ($3::text IS NULL OR node = $3) "    \
    "AND ($4::text IS NULL OR remote = $4) AND ($5::integer = 0 OR state = $5)"

static int pg_follow_list(void *state, const struct lv_ap_follow_sel *f, int64_t limit,
                          int64_t offset, struct lv_ap_follow_rec **out, size_t *n,
                          struct lv_error *err)
{
    char dir[NUM_SIZE], st[NUM_SIZE], lim[NUM_SIZE], off[NUM_SIZE];
    const char *params[] = {num(dir, f->dir),  f->local,        f->node,         f->remote,
                            num(st, f->state), num(lim, limit), num(off, offset)};
    return select_all(state, FOLLOW_COLUMNS FOLLOW_SEL " ORDER BY id LIMIT $6 OFFSET $7", 7, params,
                      &follow_type, (void **)out, n, "listing follow relations", err);
}

static int pg_follow_count(void *state, const struct lv_ap_follow_sel *f, int64_t *n,
                           struct lv_error *err)
{
    char dir[NUM_SIZE], st[NUM_SIZE];
    const char *params[] = {num(dir, f->dir), f->local, f->node, f->remote, num(st, f->state)};
    return count(state, "SELECT count(*) FROM ap_follows" FOLLOW_SEL, 5, params, n, err);
}

/* ---- inbox ----------------------------------------------------------------- */

static void read_inbox(const PGresult *res, int row, void *rec)
{
    struct lv_ap_inbox_rec *r = rec;
    r->id = col_int(res, row, 0);
    r->activity_id = col_dup(res, row, 1);
    r->actor = col_dup(res, row, 2);
    r->inbox = col_dup(res, row, 3);
    r->body = col_dup(res, row, 4);
    r->state = (enum lv_ap_inbox_state)col_int(res, row, 5);
    r->error = col_dup(res, row, 6);
    r->received = col_int(res, row, 7);
    r->processed = col_int(res, row, 8);
}

static const struct rec_type inbox_type = {sizeof(struct lv_ap_inbox_rec), read_inbox};

/* libpq takes text parameters NUL-terminated: the body (without NUL bytes,
 * checked by the dispatch) is copied once to get one. */
static int pg_inbox_add(void *state, const char *activity_id, const char *actor, const char *inbox,
                        const char *body, size_t body_len, int64_t received, int64_t *id,
                        struct lv_error *err)
{
    char st[NUM_SIZE], rcv[NUM_SIZE];
    char *text = lv_xstrndup(body, body_len);
    const char *params[] = {activity_id,        actor, inbox, num(st, LV_AP_INBOX_PENDING),
                            num(rcv, received), text};
    int rc = select_int(state,
                        "INSERT INTO ap_inbox (activity_id, actor, inbox, state, received, body) "
                        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (activity_id) DO NOTHING "
                        "RETURNING id",
                        6, params, id, "storing an inbox activity", err);
    free(text);
    return rc == LV_ERR_NOT_FOUND ? LV_ERR_CONFLICT : rc;
}

static int pg_inbox_set_state(void *state, int64_t id, enum lv_ap_inbox_state istate,
                              const char *error, int64_t processed, struct lv_error *err)
{
    char idb[NUM_SIZE], st[NUM_SIZE], done[NUM_SIZE];
    const char *params[] = {num(idb, id), num(st, istate), error, num(done, processed)};
    int64_t changed = 0;
    int rc = command(state,
                     "UPDATE ap_inbox SET state = $2, error = $3, processed = $4 "
                     "WHERE id = $1",
                     4, params, "updating an inbox activity", &changed, err);
    return rc == 0 && changed == 0 ? LV_ERR_NOT_FOUND : rc;
}

static int pg_inbox_list(void *state, int istate, int64_t limit, int64_t offset,
                         struct lv_ap_inbox_rec **out, size_t *n, struct lv_error *err)
{
    char st[NUM_SIZE], lim[NUM_SIZE], off[NUM_SIZE];
    const char *params[] = {num(st, istate), num(lim, limit), num(off, offset)};
    return select_all(state,
                      "SELECT id, activity_id, actor, inbox, body, state, error, received, "
                      "processed FROM ap_inbox WHERE $1::integer = 0 OR state = $1 "
                      "ORDER BY received, id LIMIT $2 OFFSET $3",
                      3, params, &inbox_type, (void **)out, n, "listing inbox activities", err);
}

static int pg_inbox_count(void *state, int istate, int64_t *n, struct lv_error *err)
{
    char st[NUM_SIZE];
    const char *params[] = {num(st, istate)};
    return count(state, "SELECT count(*) FROM ap_inbox WHERE $1::integer = 0 OR state = $1", 1,
                 params, n, err);
}

static int pg_inbox_prune(void *state, int64_t before, int64_t *deleted, struct lv_error *err)
{
    char t[NUM_SIZE];
    const char *params[] = {num(t, before)};
    return command(state, "DELETE FROM ap_inbox WHERE state <> 1 AND processed < $1", 1, params,
                   "pruning the inbox", deleted, err);
}

/* ---- delivery queue -------------------------------------------------------- */

#define DELIVERY_COLUMNS                                                                           \
    "SELECT id, inbox, account, key_id, activity_id, body, state, attempts, created, "             \
    "next_attempt, last_error FROM ap_deliveries"

static void read_delivery(const PGresult *res, int row, void *rec)
{
    struct lv_ap_delivery_rec *d = rec;
    d->id = col_int(res, row, 0);
    d->inbox = col_dup(res, row, 1);
    d->account = col_dup(res, row, 2);
    d->key_id = col_dup(res, row, 3);
    d->activity_id = col_dup(res, row, 4);
    d->body = col_dup(res, row, 5);
    d->state = (enum lv_ap_delivery_state)col_int(res, row, 6);
    d->attempts = (int)col_int(res, row, 7);
    d->created = col_int(res, row, 8);
    d->next_attempt = col_int(res, row, 9);
    d->last_error = col_dup(res, row, 10);
}

static const struct rec_type delivery_type = {sizeof(struct lv_ap_delivery_rec), read_delivery};

static int insert_delivery(void *state, const struct lv_ap_delivery_new *r, const char *now,
                           int64_t *id, struct lv_error *err)
{
    char st[NUM_SIZE];
    const char *params[] = {
        r->inbox, r->account, r->key_id, r->activity_id, r->body, num(st, LV_AP_DELIVERY_PENDING),
        now};
    int rc = select_int(state,
                        "INSERT INTO ap_deliveries (inbox, account, key_id, activity_id, body, "
                        "state, attempts, created, next_attempt) "
                        "VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) RETURNING id",
                        7, params, id, "queuing a delivery", err);
    return rc == LV_ERR_NOT_FOUND ? lv_error_set(err, LV_ERR_STORE, "queuing a delivery: no id")
                                  : rc;
}

static int pg_delivery_add(void *state, const char *inbox, const char *account, const char *key_id,
                           const char *activity_id, const char *body, int64_t now, int64_t *id,
                           struct lv_error *err)
{
    char t[NUM_SIZE];
    const struct lv_ap_delivery_new r = {inbox, account, key_id, activity_id, body};
    return insert_delivery(state, &r, num(t, now), id, err);
}

/* Ends the transaction begun by the caller: commits after success, rolls
 * back after a failure (whose message err already holds; a failed COMMIT
 * has ended the transaction already, and the ROLLBACK's warning is
 * ignored). */
static int finish_tx(void *state, int rc, const char *what, struct lv_error *err)
{
    if (rc == 0)
        rc = command(state, "COMMIT", 0, NULL, what, NULL, err);
    if (rc != 0)
        PQclear(lv_store_postgres_query(state, "ROLLBACK", 0, NULL));
    return rc;
}

/* One transaction, one INSERT per row: each RETURNING gives its row's id,
 * where a single INSERT of many rows would return ids in no promised order.
 * The loop stops at the first failure, so no statement runs on a
 * connection reset part way (whose transaction the server rolled back). */
static int pg_delivery_add_many(void *state, const struct lv_ap_delivery_new *rows, size_t n,
                                int64_t now, int64_t *ids, struct lv_error *err)
{
    char t[NUM_SIZE];
    int64_t dummy;
    int rc = command(state, "BEGIN", 0, NULL, "queuing deliveries", NULL, err);
    if (rc != 0)
        return rc;
    num(t, now);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = insert_delivery(state, &rows[i], t, ids ? &ids[i] : &dummy, err);
    return finish_tx(state, rc, "queuing deliveries", err);
}

static int pg_delivery_due(void *state, int64_t now, int64_t limit, struct lv_ap_delivery_rec **out,
                           size_t *n, struct lv_error *err)
{
    char st[NUM_SIZE], t[NUM_SIZE], lim[NUM_SIZE];
    const char *params[] = {num(st, LV_AP_DELIVERY_PENDING), num(t, now), num(lim, limit)};
    return select_all(state,
                      DELIVERY_COLUMNS " WHERE state = $1 AND next_attempt <= $2 "
                                       "ORDER BY next_attempt, id LIMIT $3",
                      3, params, &delivery_type, (void **)out, n, "reading due deliveries", err);
}

static int pg_delivery_next(void *state, int64_t *when, struct lv_error *err)
{
    char st[NUM_SIZE];
    const char *params[] = {num(st, LV_AP_DELIVERY_PENDING)};
    return select_int(state, "SELECT min(next_attempt) FROM ap_deliveries WHERE state = $1", 1,
                      params, when, "reading the next delivery", err);
}

static int pg_delivery_update(void *state, int64_t id, enum lv_ap_delivery_state dstate,
                              int attempts, int64_t next_attempt, const char *last_error,
                              struct lv_error *err)
{
    char idb[NUM_SIZE], st[NUM_SIZE], att[NUM_SIZE], next[NUM_SIZE];
    const char *params[] = {num(idb, id), num(st, dstate), num(att, attempts),
                            num(next, next_attempt), last_error};
    int64_t changed = 0;
    int rc = command(state,
                     "UPDATE ap_deliveries SET state = $2, attempts = $3, next_attempt = $4, "
                     "last_error = $5 WHERE id = $1",
                     5, params, "updating a delivery", &changed, err);
    return rc == 0 && changed == 0 ? LV_ERR_NOT_FOUND : rc;
}

static int pg_delivery_delete(void *state, int64_t id, struct lv_error *err)
{
    char idb[NUM_SIZE];
    const char *params[] = {num(idb, id)};
    int64_t changed = 0;
    int rc = command(state, "DELETE FROM ap_deliveries WHERE id = $1", 1, params,
                     "deleting a delivery", &changed, err);
    return rc == 0 && changed == 0 ? LV_ERR_NOT_FOUND : rc;
}

/* One statement, atomic by itself: the ids as one bigint[] parameter
 * ("{1,2,3}"). */
static int pg_delivery_delete_many(void *state, const int64_t *ids, size_t n, struct lv_error *err)
{
    struct lv_buf arr = LV_BUF_INIT;
    lv_buf_addc(&arr, '{');
    for (size_t i = 0; i < n; i++)
        lv_buf_addf(&arr, "%s%lld", i ? "," : "", (long long)ids[i]);
    lv_buf_addc(&arr, '}');
    const char *params[] = {arr.data};
    int rc = command(state, "DELETE FROM ap_deliveries WHERE id = ANY($1::bigint[])", 1, params,
                     "deleting deliveries", NULL, err);
    lv_buf_release(&arr);
    return rc;
}

static int pg_delivery_list(void *state, int dstate, int64_t limit, int64_t offset,
                            struct lv_ap_delivery_rec **out, size_t *n, struct lv_error *err)
{
    char st[NUM_SIZE], lim[NUM_SIZE], off[NUM_SIZE];
    const char *params[] = {num(st, dstate), num(lim, limit), num(off, offset)};
    return select_all(state,
                      DELIVERY_COLUMNS " WHERE $1::integer = 0 OR state = $1 "
                                       "ORDER BY id LIMIT $2 OFFSET $3",
                      3, params, &delivery_type, (void **)out, n, "listing deliveries", err);
}

static int pg_delivery_count(void *state, int dstate, int64_t *n, struct lv_error *err)
{
    char st[NUM_SIZE];
    const char *params[] = {num(st, dstate)};
    return count(state, "SELECT count(*) FROM ap_deliveries WHERE $1::integer = 0 OR state = $1", 1,
                 params, n, err);
}

/* ---- objects published for local items ------------------------------------- */

static void read_object(const PGresult *res, int row, void *rec)
{
    struct lv_ap_object_rec *o = rec;
    o->account = col_dup(res, row, 0);
    o->node = col_dup(res, row, 1);
    o->item_id = col_dup(res, row, 2);
    o->object_id = col_dup(res, row, 3);
    o->published = col_int(res, row, 4);
    o->updated = col_int(res, row, 5);
    o->deleted = PQgetvalue(res, row, 6)[0] == 't';
}

static const struct rec_type object_type = {sizeof(struct lv_ap_object_rec), read_object};

static int pg_object_put(void *state, const char *account, const char *node, const char *item_id,
                         const char *object_id, bool deleted, int64_t now, struct lv_error *err)
{
    char t[NUM_SIZE];
    const char *params[] = {account,   node,        item_id,
                            object_id, num(t, now), deleted ? "true" : "false"};
    return command(state,
                   "INSERT INTO ap_objects (account, node, item_id, object_id, published, "
                   "updated, deleted) VALUES ($1, $2, $3, $4, $5, $5, $6) "
                   "ON CONFLICT (account, node, item_id) DO UPDATE SET "
                   "object_id = excluded.object_id, deleted = excluded.deleted, "
                   "updated = excluded.updated",
                   6, params, "storing a published object", NULL, err);
}

static int pg_object_get(void *state, const char *account, const char *node, const char *item_id,
                         struct lv_ap_object_rec *out, struct lv_error *err)
{
    const char *params[] = {account, node, item_id};
    return select_one(state,
                      "SELECT account, node, item_id, object_id, published, updated, deleted "
                      "FROM ap_objects WHERE account = $1 AND node = $2 AND item_id = $3",
                      3, params, &object_type, out, "reading a published object", err);
}

const struct lv_store_ap_backend lv_store_postgres_ap_backend = {
    .actor_put = pg_actor_put,
    .actor_get = pg_actor_get,
    .actor_count = pg_actor_count,
    .follow_put = pg_follow_put,
    .follow_get = pg_follow_get,
    .follow_by_activity = pg_follow_by_activity,
    .follow_delete = pg_follow_delete,
    .follow_list = pg_follow_list,
    .follow_count = pg_follow_count,
    .inbox_add = pg_inbox_add,
    .inbox_set_state = pg_inbox_set_state,
    .inbox_list = pg_inbox_list,
    .inbox_count = pg_inbox_count,
    .inbox_prune = pg_inbox_prune,
    .delivery_add = pg_delivery_add,
    .delivery_add_many = pg_delivery_add_many,
    .delivery_due = pg_delivery_due,
    .delivery_next = pg_delivery_next,
    .delivery_update = pg_delivery_update,
    .delivery_delete = pg_delivery_delete,
    .delivery_delete_many = pg_delivery_delete_many,
    .delivery_list = pg_delivery_list,
    .delivery_count = pg_delivery_count,
    .object_put = pg_object_put,
    .object_get = pg_object_get,
};
