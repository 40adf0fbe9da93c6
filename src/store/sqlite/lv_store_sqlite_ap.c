/* The ActivityPub gateway's tables on SQLite (migration 0003_ap.sql).
 *
 * As in the rest of the backend, statements are prepared per call and every
 * value is bound; the only SQL assembled at run time is the WHERE clause of
 * a follow selection, from constant fragments chosen by which filters are
 * set. Upserts and "insert unless there" are single statements (ON
 * CONFLICT), so another process sharing the file cannot slip in between a
 * check and a write. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/lv_store_ap_backend.h"
#include "store/sqlite/lv_store_sqlite_priv.h"

/* ---- statements ------------------------------------------------------------ */

/* A value to bind: text (NULL binds SQL NULL; len -1: up to the NUL) or,
 * when is_int, an integer. */
struct arg {
    const char *s;
    int len;
    bool is_int;
    int64_t i;
};
#define TXT(x)                                                                                     \
    {                                                                                              \
        .s = (x), .len = -1                                                                        \
    }
#define INT(x)                                                                                     \
    {                                                                                              \
        .is_int = true, .i = (x)                                                                   \
    }
/* A compound literal array of args and its length, as two arguments. */
#define ARGS(...)                                                                                  \
    (const struct arg[]){__VA_ARGS__},                                                             \
        sizeof((const struct arg[]){__VA_ARGS__}) / sizeof(struct arg)

/* How rows of a query become records. */
struct rec_type {
    size_t size;
    void (*read)(sqlite3_stmt *st, void *rec);
    void (*release)(void *rec);
};

/* Busy and locked are worth a retry; everything else is a storage failure
 * (the mapping of lv_store_sqlite.c). */
static int db_err(sqlite3 *db, int rc, const char *what, struct lv_error *err)
{
    int prim = rc & 0xff;
    int code = prim == SQLITE_BUSY || prim == SQLITE_LOCKED ? LV_ERR_AGAIN : LV_ERR_STORE;
    return lv_error_set(err, code, "%s: %s", what, sqlite3_errmsg(db));
}

/* Prepares sql and binds args to ?1..?n; binding fails only for a value
 * over SQLite's length limit, far above LV_STORE_AP_DOC_MAX. */
static int prepare(sqlite3 *db, const char *sql, const struct arg *args, size_t n,
                   sqlite3_stmt **st, const char *what, struct lv_error *err)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        if (args[i].is_int)
            rc = sqlite3_bind_int64(*st, (int)i + 1, args[i].i);
        else
            rc = sqlite3_bind_text(*st, (int)i + 1, args[i].s, args[i].len, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK)
        return 0;
    int ret = db_err(db, rc, what, err);
    sqlite3_finalize(*st);
    *st = NULL;
    return ret;
}

/* Runs a statement that returns no rows; *changed (may be NULL) gets how
 * many it wrote. */
static int exec_args(void *state, const char *sql, const struct arg *args, size_t n,
                     const char *what, int64_t *changed, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    int rc = prepare(db, sql, args, n, &st, what, err);
    if (rc != 0)
        return rc;
    rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : db_err(db, rc, what, err);
    sqlite3_finalize(st);
    if (ret == 0 && changed)
        *changed = sqlite3_changes64(db);
    return ret;
}

/* Reads every row into a new array of records. An error part way releases
 * what was read. */
static int select_all(void *state, const char *sql, const struct arg *args, size_t n,
                      const struct rec_type *t, void **out, size_t *count, const char *what,
                      struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    char *v = NULL;
    size_t len = 0, cap = 0;
    int rc = prepare(db, sql, args, n, &st, what, err);
    if (rc != 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lv_grow((void **)&v, &cap, len + 1, t->size);
        memset(v + len * t->size, 0, t->size);
        t->read(st, v + len++ * t->size);
    }
    int ret = rc == SQLITE_DONE ? 0 : db_err(db, rc, what, err);
    sqlite3_finalize(st);
    if (ret != 0) {
        for (size_t i = 0; i < len; i++)
            t->release(v + i * t->size);
        free(v);
        return ret;
    }
    *out = v;
    *count = len;
    return 0;
}

/* The first row into *rec; LV_ERR_NOT_FOUND (no message) without one. */
static int select_one(void *state, const char *sql, const struct arg *args, size_t n,
                      const struct rec_type *t, void *rec, const char *what, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    int rc = prepare(db, sql, args, n, &st, what, err);
    if (rc != 0)
        return rc;
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        t->read(st, rec);
    else
        ret = rc == SQLITE_DONE ? LV_ERR_NOT_FOUND : db_err(db, rc, what, err);
    sqlite3_finalize(st);
    return ret;
}

/* Column 0 of the first row; LV_ERR_NOT_FOUND (no message) without a row
 * or for NULL. */
static int select_int(void *state, const char *sql, const struct arg *args, size_t n, int64_t *out,
                      const char *what, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    int rc = prepare(db, sql, args, n, &st, what, err);
    if (rc != 0)
        return rc;
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        ret = LV_ERR_NOT_FOUND;
    else
        ret = db_err(db, rc, what, err);
    sqlite3_finalize(st);
    return ret;
}

/* A count is never missing: COUNT(*) always has its row. */
static int count(void *state, const char *sql, const struct arg *args, size_t n, int64_t *out,
                 struct lv_error *err)
{
    int rc = select_int(state, sql, args, n, out, "counting", err);
    return rc == LV_ERR_NOT_FOUND ? lv_error_set(err, LV_ERR_STORE, "counting: no answer") : rc;
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

static int64_t col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_int64(st, i);
}

/* ---- remote actors --------------------------------------------------------- */

#define ACTOR_COLUMNS                                                                              \
    "SELECT id, account, inbox, shared_inbox, key_id, public_key_pem, doc, fetched FROM ap_actors"

static void read_actor(sqlite3_stmt *st, void *rec)
{
    struct lv_ap_actor_rec *a = rec;
    a->id = col_dup(st, 0);
    a->account = col_dup(st, 1);
    a->inbox = col_dup(st, 2);
    a->shared_inbox = col_dup(st, 3);
    a->key_id = col_dup(st, 4);
    a->public_key_pem = col_dup(st, 5);
    a->doc = col_dup(st, 6);
    a->fetched = col_int(st, 7);
}

static void release_actor(void *rec)
{
    lv_ap_actor_rec_release(rec);
}

static const struct rec_type actor_type = {sizeof(struct lv_ap_actor_rec), read_actor,
                                           release_actor};

static int sq_actor_put(void *state, const struct lv_ap_actor_rec *a, struct lv_error *err)
{
    return exec_args(state,
                     "INSERT INTO ap_actors (id, account, inbox, shared_inbox, key_id, "
                     "public_key_pem, doc, fetched) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                     "ON CONFLICT (id) DO UPDATE SET account = excluded.account, "
                     "inbox = excluded.inbox, shared_inbox = excluded.shared_inbox, "
                     "key_id = excluded.key_id, public_key_pem = excluded.public_key_pem, "
                     "doc = excluded.doc, fetched = excluded.fetched",
                     ARGS(TXT(a->id), TXT(a->account), TXT(a->inbox), TXT(a->shared_inbox),
                          TXT(a->key_id), TXT(a->public_key_pem), TXT(a->doc), INT(a->fetched)),
                     "storing an actor", NULL, err);
}

static int sq_actor_get(void *state, enum lv_ap_actor_key by, const char *value,
                        struct lv_ap_actor_rec *out, struct lv_error *err)
{
    static const char *const sql[] = {
        [LV_AP_ACTOR_BY_ID] = ACTOR_COLUMNS " WHERE id = ?1",
        [LV_AP_ACTOR_BY_ACCOUNT] =
            ACTOR_COLUMNS " WHERE account = ?1 ORDER BY fetched DESC, id LIMIT 1",
        [LV_AP_ACTOR_BY_KEY] = ACTOR_COLUMNS " WHERE key_id = ?1 ORDER BY fetched DESC, id LIMIT 1",
    };
    return select_one(state, sql[by], ARGS(TXT(value)), &actor_type, out, "reading an actor", err);
}

static int sq_actor_count(void *state, int64_t *n, struct lv_error *err)
{
    return count(state, "SELECT count(*) FROM ap_actors", NULL, 0, n, err);
}

/* ---- follows --------------------------------------------------------------- */

#define FOLLOW_COLUMNS                                                                             \
    "SELECT id, dir, local, node, remote, activity_id, state, created, updated FROM ap_follows"
#define FOLLOW_KEY " WHERE dir = ?1 AND local = ?2 AND node = ?3 AND remote = ?4"
#define FOLLOW_KEY_ARGS(f) INT((f)->dir), TXT((f)->local), TXT((f)->node), TXT((f)->remote)

static void read_follow(sqlite3_stmt *st, void *rec)
{
    struct lv_ap_follow_rec *f = rec;
    f->id = col_int(st, 0);
    f->dir = (enum lv_ap_follow_dir)col_int(st, 1);
    f->local = col_dup(st, 2);
    f->node = col_dup(st, 3);
    f->remote = col_dup(st, 4);
    f->activity_id = col_dup(st, 5);
    f->state = (enum lv_ap_follow_state)col_int(st, 6);
    f->created = col_int(st, 7);
    f->updated = col_int(st, 8);
}

static void release_follow(void *rec)
{
    lv_ap_follow_rec_release(rec);
}

static const struct rec_type follow_type = {sizeof(struct lv_ap_follow_rec), read_follow,
                                            release_follow};

static int sq_follow_put(void *state, const struct lv_ap_follow_sel *f, const char *activity_id,
                         enum lv_ap_follow_state fstate, struct lv_error *err)
{
    return exec_args(
        state,
        "INSERT INTO ap_follows (dir, local, node, remote, activity_id, state, "
        "created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) "
        "ON CONFLICT (dir, local, node, remote) DO UPDATE SET "
        "activity_id = excluded.activity_id, state = excluded.state, "
        "updated = excluded.updated",
        ARGS(FOLLOW_KEY_ARGS(f), TXT(activity_id), INT(fstate), INT((int64_t)time(NULL))),
        "storing a follow relation", NULL, err);
}

static int sq_follow_get(void *state, const struct lv_ap_follow_sel *f,
                         struct lv_ap_follow_rec *out, struct lv_error *err)
{
    return select_one(state, FOLLOW_COLUMNS FOLLOW_KEY, ARGS(FOLLOW_KEY_ARGS(f)), &follow_type, out,
                      "reading a follow relation", err);
}

/* Several relations may name one activity only if a peer reused an id: the
 * latest wins. */
static int sq_follow_by_activity(void *state, const char *activity_id, struct lv_ap_follow_rec *out,
                                 struct lv_error *err)
{
    return select_one(state, FOLLOW_COLUMNS " WHERE activity_id = ?1 ORDER BY id DESC LIMIT 1",
                      ARGS(TXT(activity_id)), &follow_type, out, "reading a follow relation", err);
}

static int sq_follow_delete(void *state, const struct lv_ap_follow_sel *f, struct lv_error *err)
{
    int64_t changed = 0;
    int rc = exec_args(state, "DELETE FROM ap_follows" FOLLOW_KEY, ARGS(FOLLOW_KEY_ARGS(f)),
                       "deleting a follow relation", &changed, err);
    return rc == 0 && changed == 0 ? LV_ERR_NOT_FOUND : rc;
}

/* Only the filters that are set go into the WHERE clause: "?2 IS NULL OR
 * local = ?2" would keep SQLite from using the unique index. Fills args
 * (room for 5) and returns how many. */
static size_t follow_where(struct lv_buf *sql, const struct lv_ap_follow_sel *f, struct arg *args)
{
    static const char *const cols[] = {" AND local = ?", " AND node = ?", " AND remote = ?"};
    const char *vals[] = {f->local, f->node, f->remote};
    size_t n = 0;
    lv_buf_adds(sql, " WHERE dir = ?");
    args[n++] = (struct arg)INT(f->dir);
    for (size_t i = 0; i < LV_ARRAY_LEN(cols); i++) {
        if (!vals[i])
            continue;
        lv_buf_adds(sql, cols[i]);
        args[n++] = (struct arg)TXT(vals[i]);
    }
    if (f->state > 0) {
        lv_buf_adds(sql, " AND state = ?");
        args[n++] = (struct arg)INT(f->state);
    }
    return n;
}

static int sq_follow_list(void *state, const struct lv_ap_follow_sel *f, int64_t limit,
                          int64_t offset, struct lv_ap_follow_rec **out, size_t *n,
                          struct lv_error *err)
{
    struct lv_buf sql = LV_BUF_INIT;
    struct arg args[7];
    lv_buf_adds(&sql, FOLLOW_COLUMNS);
    size_t na = follow_where(&sql, f, args);
    lv_buf_adds(&sql, " ORDER BY id LIMIT ? OFFSET ?");
    args[na++] = (struct arg)INT(limit);
    args[na++] = (struct arg)INT(offset);
    int rc = select_all(state, sql.data, args, na, &follow_type, (void **)out, n,
                        "listing follow relations", err);
    lv_buf_release(&sql);
    return rc;
}

static int sq_follow_count(void *state, const struct lv_ap_follow_sel *f, int64_t *n,
                           struct lv_error *err)
{
    struct lv_buf sql = LV_BUF_INIT;
    struct arg args[5];
    lv_buf_adds(&sql, "SELECT count(*) FROM ap_follows");
    size_t na = follow_where(&sql, f, args);
    int rc = count(state, sql.data, args, na, n, err);
    lv_buf_release(&sql);
    return rc;
}

/* ---- inbox ----------------------------------------------------------------- */

static void read_inbox(sqlite3_stmt *st, void *rec)
{
    struct lv_ap_inbox_rec *r = rec;
    r->id = col_int(st, 0);
    r->activity_id = col_dup(st, 1);
    r->actor = col_dup(st, 2);
    r->inbox = col_dup(st, 3);
    r->body = col_dup(st, 4);
    r->state = (enum lv_ap_inbox_state)col_int(st, 5);
    r->error = col_dup(st, 6);
    r->received = col_int(st, 7);
    r->processed = col_int(st, 8);
}

static void release_inbox(void *rec)
{
    lv_ap_inbox_rec_release(rec);
}

static const struct rec_type inbox_type = {sizeof(struct lv_ap_inbox_rec), read_inbox,
                                           release_inbox};

/* DO NOTHING returns no row for a duplicate: nothing is written. */
static int sq_inbox_add(void *state, const char *activity_id, const char *actor, const char *inbox,
                        const char *body, size_t body_len, int64_t received, int64_t *id,
                        struct lv_error *err)
{
    struct arg body_arg = {.s = body, .len = (int)body_len}; /* <= LV_STORE_AP_DOC_MAX */
    int rc = select_int(state,
                        "INSERT INTO ap_inbox (activity_id, actor, inbox, state, received, body) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (activity_id) DO NOTHING "
                        "RETURNING id",
                        ARGS(TXT(activity_id), TXT(actor), TXT(inbox), INT(LV_AP_INBOX_PENDING),
                             INT(received), body_arg),
                        id, "storing an inbox activity", err);
    return rc == LV_ERR_NOT_FOUND ? LV_ERR_CONFLICT : rc;
}

static int sq_inbox_set_state(void *state, int64_t id, enum lv_ap_inbox_state istate,
                              const char *error, int64_t processed, struct lv_error *err)
{
    int64_t changed = 0;
    int rc = exec_args(state,
                       "UPDATE ap_inbox SET state = ?2, error = ?3, processed = ?4 "
                       "WHERE id = ?1",
                       ARGS(INT(id), INT(istate), TXT(error), INT(processed)),
                       "updating an inbox activity", &changed, err);
    return rc == 0 && changed == 0 ? LV_ERR_NOT_FOUND : rc;
}

/* ?1 = 0 selects every state: the list and count by state are rare admin
 * queries, the state index serves the others. */
static int sq_inbox_list(void *state, int istate, int64_t limit, int64_t offset,
                         struct lv_ap_inbox_rec **out, size_t *n, struct lv_error *err)
{
    return select_all(state,
                      "SELECT id, activity_id, actor, inbox, body, state, error, received, "
                      "processed FROM ap_inbox WHERE ?1 = 0 OR state = ?1 "
                      "ORDER BY received, id LIMIT ?2 OFFSET ?3",
                      ARGS(INT(istate), INT(limit), INT(offset)), &inbox_type, (void **)out, n,
                      "listing inbox activities", err);
}

static int sq_inbox_count(void *state, int istate, int64_t *n, struct lv_error *err)
{
    return count(state, "SELECT count(*) FROM ap_inbox WHERE ?1 = 0 OR state = ?1",
                 ARGS(INT(istate)), n, err);
}

static int sq_inbox_prune(void *state, int64_t before, int64_t *deleted, struct lv_error *err)
{
    return exec_args(state, "DELETE FROM ap_inbox WHERE state <> 1 AND processed < ?1",
                     ARGS(INT(before)), "pruning the inbox", deleted, err);
}

/* ---- delivery queue -------------------------------------------------------- */

#define DELIVERY_COLUMNS                                                                           \
    "SELECT id, inbox, account, key_id, activity_id, body, state, attempts, created, "             \
    "next_attempt, last_error FROM ap_deliveries"

static void read_delivery(sqlite3_stmt *st, void *rec)
{
    struct lv_ap_delivery_rec *d = rec;
    d->id = col_int(st, 0);
    d->inbox = col_dup(st, 1);
    d->account = col_dup(st, 2);
    d->key_id = col_dup(st, 3);
    d->activity_id = col_dup(st, 4);
    d->body = col_dup(st, 5);
    d->state = (enum lv_ap_delivery_state)col_int(st, 6);
    d->attempts = (int)col_int(st, 7);
    d->created = col_int(st, 8);
    d->next_attempt = col_int(st, 9);
    d->last_error = col_dup(st, 10);
}

static void release_delivery(void *rec)
{
    lv_ap_delivery_rec_release(rec);
}

static const struct rec_type delivery_type = {sizeof(struct lv_ap_delivery_rec), read_delivery,
                                              release_delivery};

static int sq_delivery_add(void *state, const char *inbox, const char *account, const char *key_id,
                           const char *activity_id, const char *body, int64_t now, int64_t *id,
                           struct lv_error *err)
{
    int rc = select_int(state,
                        "INSERT INTO ap_deliveries (inbox, account, key_id, activity_id, body, "
                        "state, attempts, created, next_attempt) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7) RETURNING id",
                        ARGS(TXT(inbox), TXT(account), TXT(key_id), TXT(activity_id), TXT(body),
                             INT(LV_AP_DELIVERY_PENDING), INT(now)),
                        id, "queuing a delivery", err);
    return rc == LV_ERR_NOT_FOUND ? lv_error_set(err, LV_ERR_STORE, "queuing a delivery: no id")
                                  : rc;
}

static int sq_delivery_due(void *state, int64_t now, int64_t limit, struct lv_ap_delivery_rec **out,
                           size_t *n, struct lv_error *err)
{
    return select_all(state,
                      DELIVERY_COLUMNS " WHERE state = ?1 AND next_attempt <= ?2 "
                                       "ORDER BY next_attempt, id LIMIT ?3",
                      ARGS(INT(LV_AP_DELIVERY_PENDING), INT(now), INT(limit)), &delivery_type,
                      (void **)out, n, "reading due deliveries", err);
}

static int sq_delivery_next(void *state, int64_t *when, struct lv_error *err)
{
    return select_int(state, "SELECT min(next_attempt) FROM ap_deliveries WHERE state = ?1",
                      ARGS(INT(LV_AP_DELIVERY_PENDING)), when, "reading the next delivery", err);
}

static int sq_delivery_update(void *state, int64_t id, enum lv_ap_delivery_state dstate,
                              int attempts, int64_t next_attempt, const char *last_error,
                              struct lv_error *err)
{
    int64_t changed = 0;
    int rc =
        exec_args(state,
                  "UPDATE ap_deliveries SET state = ?2, attempts = ?3, next_attempt = ?4, "
                  "last_error = ?5 WHERE id = ?1",
                  ARGS(INT(id), INT(dstate), INT(attempts), INT(next_attempt), TXT(last_error)),
                  "updating a delivery", &changed, err);
    return rc == 0 && changed == 0 ? LV_ERR_NOT_FOUND : rc;
}

static int sq_delivery_delete(void *state, int64_t id, struct lv_error *err)
{
    int64_t changed = 0;
    int rc = exec_args(state, "DELETE FROM ap_deliveries WHERE id = ?1", ARGS(INT(id)),
                       "deleting a delivery", &changed, err);
    return rc == 0 && changed == 0 ? LV_ERR_NOT_FOUND : rc;
}

static int sq_delivery_list(void *state, int dstate, int64_t limit, int64_t offset,
                            struct lv_ap_delivery_rec **out, size_t *n, struct lv_error *err)
{
    return select_all(state,
                      DELIVERY_COLUMNS " WHERE ?1 = 0 OR state = ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
                      ARGS(INT(dstate), INT(limit), INT(offset)), &delivery_type, (void **)out, n,
                      "listing deliveries", err);
}

static int sq_delivery_count(void *state, int dstate, int64_t *n, struct lv_error *err)
{
    return count(state, "SELECT count(*) FROM ap_deliveries WHERE ?1 = 0 OR state = ?1",
                 ARGS(INT(dstate)), n, err);
}

/* ---- objects published for local items ------------------------------------- */

static void read_object(sqlite3_stmt *st, void *rec)
{
    struct lv_ap_object_rec *o = rec;
    o->account = col_dup(st, 0);
    o->node = col_dup(st, 1);
    o->item_id = col_dup(st, 2);
    o->object_id = col_dup(st, 3);
    o->published = col_int(st, 4);
    o->updated = col_int(st, 5);
    o->deleted = col_int(st, 6) != 0;
}

static void release_object(void *rec)
{
    lv_ap_object_rec_release(rec);
}

static const struct rec_type object_type = {sizeof(struct lv_ap_object_rec), read_object,
                                            release_object};

static int sq_object_put(void *state, const char *account, const char *node, const char *item_id,
                         const char *object_id, bool deleted, int64_t now, struct lv_error *err)
{
    return exec_args(
        state,
        "INSERT INTO ap_objects (account, node, item_id, object_id, published, "
        "updated, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) "
        "ON CONFLICT (account, node, item_id) DO UPDATE SET "
        "object_id = excluded.object_id, deleted = excluded.deleted, "
        "updated = excluded.updated",
        ARGS(TXT(account), TXT(node), TXT(item_id), TXT(object_id), INT(now), INT(deleted)),
        "storing a published object", NULL, err);
}

static int sq_object_get(void *state, const char *account, const char *node, const char *item_id,
                         struct lv_ap_object_rec *out, struct lv_error *err)
{
    return select_one(state,
                      "SELECT account, node, item_id, object_id, published, updated, deleted "
                      "FROM ap_objects WHERE account = ?1 AND node = ?2 AND item_id = ?3",
                      ARGS(TXT(account), TXT(node), TXT(item_id)), &object_type, out,
                      "reading a published object", err);
}

const struct lv_store_ap_backend lv_store_sqlite_ap_backend = {
    .actor_put = sq_actor_put,
    .actor_get = sq_actor_get,
    .actor_count = sq_actor_count,
    .follow_put = sq_follow_put,
    .follow_get = sq_follow_get,
    .follow_by_activity = sq_follow_by_activity,
    .follow_delete = sq_follow_delete,
    .follow_list = sq_follow_list,
    .follow_count = sq_follow_count,
    .inbox_add = sq_inbox_add,
    .inbox_set_state = sq_inbox_set_state,
    .inbox_list = sq_inbox_list,
    .inbox_count = sq_inbox_count,
    .inbox_prune = sq_inbox_prune,
    .delivery_add = sq_delivery_add,
    .delivery_due = sq_delivery_due,
    .delivery_next = sq_delivery_next,
    .delivery_update = sq_delivery_update,
    .delivery_delete = sq_delivery_delete,
    .delivery_list = sq_delivery_list,
    .delivery_count = sq_delivery_count,
    .object_put = sq_object_put,
    .object_get = sq_object_get,
};
