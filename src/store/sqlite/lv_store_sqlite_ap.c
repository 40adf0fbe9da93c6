/* The ActivityPub gateway's tables on SQLite (migration 0003_ap.sql).
 *
 * Every value is bound; the only SQL assembled at run time is the WHERE
 * clause of a follow selection, from constant fragments chosen by which
 * filters are set. Upserts and "insert unless there" are single statements
 * (ON CONFLICT), so another process sharing the file cannot slip in between
 * a check and a write.
 *
 * Unlike the rest of the backend, the constant statements are prepared once
 * per connection and kept (the delivery queue writes a row per activity and
 * recipient, and parsing cost more than the write): each call site names its
 * slot in the connection's cache with its SQL text, prepared on first use
 * and reset (bindings cleared) after every use, finalized when the store
 * closes. SQLite prepares a kept statement again by itself if the schema
 * changed meanwhile. */
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

/* The slots of the statement cache: one per constant statement. */
enum slot {
    S_ONCE = -1, /* SQL built for one call: prepared and finalized there */
    S_ACTOR_PUT,
    S_ACTOR_BY_ID,
    S_ACTOR_BY_ACCOUNT,
    S_ACTOR_BY_KEY,
    S_ACTOR_COUNT,
    S_FOLLOW_PUT,
    S_FOLLOW_GET,
    S_FOLLOW_BY_ACTIVITY,
    S_FOLLOW_DELETE,
    S_INBOX_ADD,
    S_INBOX_SET_STATE,
    S_INBOX_LIST,
    S_INBOX_COUNT,
    S_INBOX_PRUNE,
    S_DELIVERY_ADD,
    S_DELIVERY_DUE,
    S_DELIVERY_NEXT,
    S_DELIVERY_UPDATE,
    S_DELIVERY_DELETE,
    S_DELIVERY_LIST,
    S_DELIVERY_COUNT,
    S_OBJECT_PUT,
    S_OBJECT_GET,
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_COUNT
};

struct lv_store_sqlite_ap_stmts {
    sqlite3_stmt *st[S_COUNT];
};

void lv_store_sqlite_ap_stmts_free(struct lv_store_sqlite_ap_stmts *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < S_COUNT; i++)
        sqlite3_finalize(c->st[i]); /* NULL is a no-op */
    free(c);
}

/* A statement: its cache slot (S_ONCE for SQL built at run time) and its
 * text. A slot always goes with the same text. */
struct sql {
    enum slot slot;
    const char *text;
};
#define KEPT(slot, text) (&(const struct sql){(slot), (text)})
#define ONCE(text) (&(const struct sql){S_ONCE, (text)})

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
#define NO_ARGS NULL, 0

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

/* Puts a statement back: a kept one is reset, which also ends the read it
 * may hold, and its bindings cleared (they point to the caller's strings);
 * another is finalized. Errors were reported by the step that met them. */
static void done(const struct sql *q, sqlite3_stmt *st)
{
    if (q->slot == S_ONCE) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* The statement of q on the connection: the kept one (prepared now if it is
 * the first use) or a new one. */
static int get_stmt(void *state, const struct sql *q, sqlite3_stmt **st)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    if (q->slot == S_ONCE)
        return sqlite3_prepare_v2(db, q->text, -1, st, NULL);
    struct lv_store_sqlite_ap_stmts **cache = lv_store_sqlite_ap_stmts(state);
    if (!*cache)
        *cache = lv_xcalloc(1, sizeof(**cache));
    sqlite3_stmt **kept = &(*cache)->st[q->slot];
    int rc = SQLITE_OK;
    if (!*kept)
        rc = sqlite3_prepare_v3(db, q->text, -1, SQLITE_PREPARE_PERSISTENT, kept, NULL);
    *st = *kept;
    return rc;
}

/* Gets the statement of q and binds args to ?1..?n; binding fails only for
 * a value over SQLite's length limit, far above LV_STORE_AP_DOC_MAX. */
static int prepare(void *state, const struct sql *q, const struct arg *args, size_t n,
                   sqlite3_stmt **st, const char *what, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    *st = NULL;
    int rc = get_stmt(state, q, st);
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        if (args[i].is_int)
            rc = sqlite3_bind_int64(*st, (int)i + 1, args[i].i);
        else
            rc = sqlite3_bind_text(*st, (int)i + 1, args[i].s, args[i].len, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK)
        return 0;
    int ret = db_err(db, rc, what, err);
    if (*st)
        done(q, *st);
    *st = NULL;
    return ret;
}

/* Runs a statement that returns no rows; *changed (may be NULL) gets how
 * many it wrote. */
static int exec_args(void *state, const struct sql *q, const struct arg *args, size_t n,
                     const char *what, int64_t *changed, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    int rc = prepare(state, q, args, n, &st, what, err);
    if (rc != 0)
        return rc;
    rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : db_err(db, rc, what, err);
    done(q, st);
    if (ret == 0 && changed)
        *changed = sqlite3_changes64(db);
    return ret;
}

/* Reads every row into a new array of records. An error part way releases
 * what was read. */
static int select_all(void *state, const struct sql *q, const struct arg *args, size_t n,
                      const struct rec_type *t, void **out, size_t *count, const char *what,
                      struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    char *v = NULL;
    size_t len = 0, cap = 0;
    int rc = prepare(state, q, args, n, &st, what, err);
    if (rc != 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lv_grow((void **)&v, &cap, len + 1, t->size);
        memset(v + len * t->size, 0, t->size);
        t->read(st, v + len++ * t->size);
    }
    int ret = rc == SQLITE_DONE ? 0 : db_err(db, rc, what, err);
    done(q, st);
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
static int select_one(void *state, const struct sql *q, const struct arg *args, size_t n,
                      const struct rec_type *t, void *rec, const char *what, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    int rc = prepare(state, q, args, n, &st, what, err);
    if (rc != 0)
        return rc;
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        t->read(st, rec);
    else
        ret = rc == SQLITE_DONE ? LV_ERR_NOT_FOUND : db_err(db, rc, what, err);
    done(q, st);
    return ret;
}

/* Column 0 of the first row; LV_ERR_NOT_FOUND (no message) without a row
 * or for NULL. */
static int select_int(void *state, const struct sql *q, const struct arg *args, size_t n,
                      int64_t *out, const char *what, struct lv_error *err)
{
    sqlite3 *db = lv_store_sqlite_db(state);
    sqlite3_stmt *st;
    int rc = prepare(state, q, args, n, &st, what, err);
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
    done(q, st);
    return ret;
}

/* A count is never missing: COUNT(*) always has its row. */
static int count(void *state, const struct sql *q, const struct arg *args, size_t n, int64_t *out,
                 struct lv_error *err)
{
    int rc = select_int(state, q, args, n, out, "counting", err);
    return rc == LV_ERR_NOT_FOUND ? lv_error_set(err, LV_ERR_STORE, "counting: no answer") : rc;
}

/* Opens a write transaction: IMMEDIATE takes the write lock at once, with
 * the busy timeout, rather than failing at the first write when another
 * process got it in between. */
static int tx_begin(void *state, const char *what, struct lv_error *err)
{
    return exec_args(state, KEPT(S_BEGIN, "BEGIN IMMEDIATE"), NO_ARGS, what, NULL, err);
}

/* Commits when rc is 0, else rolls back (err holds the cause already). A
 * failed statement or COMMIT may have ended the transaction by itself:
 * rolling back is then skipped. */
static int tx_end(void *state, int rc, const char *what, struct lv_error *err)
{
    if (rc == 0)
        rc = exec_args(state, KEPT(S_COMMIT, "COMMIT"), NO_ARGS, what, NULL, err);
    if (rc != 0 && !sqlite3_get_autocommit(lv_store_sqlite_db(state)))
        exec_args(state, KEPT(S_ROLLBACK, "ROLLBACK"), NO_ARGS, what, NULL, NULL);
    return rc;
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
                     KEPT(S_ACTOR_PUT,
                          "INSERT INTO ap_actors (id, account, inbox, shared_inbox, key_id, "
                          "public_key_pem, doc, fetched) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                          "ON CONFLICT (id) DO UPDATE SET account = excluded.account, "
                          "inbox = excluded.inbox, shared_inbox = excluded.shared_inbox, "
                          "key_id = excluded.key_id, public_key_pem = excluded.public_key_pem, "
                          "doc = excluded.doc, fetched = excluded.fetched"),
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
    _Static_assert(S_ACTOR_BY_ACCOUNT - S_ACTOR_BY_ID == LV_AP_ACTOR_BY_ACCOUNT &&
                       S_ACTOR_BY_KEY - S_ACTOR_BY_ID == LV_AP_ACTOR_BY_KEY,
                   "actor slots in the order of enum lv_ap_actor_key");
    return select_one(state, KEPT(S_ACTOR_BY_ID + (int)by, sql[by]), ARGS(TXT(value)), &actor_type,
                      out, "reading an actor", err);
}

static int sq_actor_count(void *state, int64_t *n, struct lv_error *err)
{
    return count(state, KEPT(S_ACTOR_COUNT, "SELECT count(*) FROM ap_actors"), NO_ARGS, n, err);
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
        KEPT(S_FOLLOW_PUT, "INSERT INTO ap_follows (dir, local, node, remote, activity_id, state, "
                           "created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) "
                           "ON CONFLICT (dir, local, node, remote) DO UPDATE SET "
                           "activity_id = excluded.activity_id, state = excluded.state, "
                           "updated = excluded.updated"),
        ARGS(FOLLOW_KEY_ARGS(f), TXT(activity_id), INT(fstate), INT((int64_t)time(NULL))),
        "storing a follow relation", NULL, err);
}

static int sq_follow_get(void *state, const struct lv_ap_follow_sel *f,
                         struct lv_ap_follow_rec *out, struct lv_error *err)
{
    return select_one(state, KEPT(S_FOLLOW_GET, FOLLOW_COLUMNS FOLLOW_KEY),
                      ARGS(FOLLOW_KEY_ARGS(f)), &follow_type, out, "reading a follow relation",
                      err);
}

/* Several relations may name one activity only if a peer reused an id: the
 * latest wins. */
static int sq_follow_by_activity(void *state, const char *activity_id, struct lv_ap_follow_rec *out,
                                 struct lv_error *err)
{
    return select_one(state,
                      KEPT(S_FOLLOW_BY_ACTIVITY,
                           FOLLOW_COLUMNS " WHERE activity_id = ?1 ORDER BY id DESC LIMIT 1"),
                      ARGS(TXT(activity_id)), &follow_type, out, "reading a follow relation", err);
}

static int sq_follow_delete(void *state, const struct lv_ap_follow_sel *f, struct lv_error *err)
{
    int64_t changed = 0;
    int rc = exec_args(state, KEPT(S_FOLLOW_DELETE, "DELETE FROM ap_follows" FOLLOW_KEY),
                       ARGS(FOLLOW_KEY_ARGS(f)), "deleting a follow relation", &changed, err);
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
    int rc = select_all(state, ONCE(sql.data), args, na, &follow_type, (void **)out, n,
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
    int rc = count(state, ONCE(sql.data), args, na, n, err);
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
                        KEPT(S_INBOX_ADD,
                             "INSERT INTO ap_inbox (activity_id, actor, inbox, state, received, "
                             "body) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                             "ON CONFLICT (activity_id) DO NOTHING RETURNING id"),
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
                       KEPT(S_INBOX_SET_STATE,
                            "UPDATE ap_inbox SET state = ?2, error = ?3, processed = ?4 "
                            "WHERE id = ?1"),
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
                      KEPT(S_INBOX_LIST,
                           "SELECT id, activity_id, actor, inbox, body, state, error, received, "
                           "processed FROM ap_inbox WHERE ?1 = 0 OR state = ?1 "
                           "ORDER BY received, id LIMIT ?2 OFFSET ?3"),
                      ARGS(INT(istate), INT(limit), INT(offset)), &inbox_type, (void **)out, n,
                      "listing inbox activities", err);
}

static int sq_inbox_count(void *state, int istate, int64_t *n, struct lv_error *err)
{
    return count(state,
                 KEPT(S_INBOX_COUNT, "SELECT count(*) FROM ap_inbox WHERE ?1 = 0 OR state = ?1"),
                 ARGS(INT(istate)), n, err);
}

static int sq_inbox_prune(void *state, int64_t before, int64_t *deleted, struct lv_error *err)
{
    return exec_args(
        state, KEPT(S_INBOX_PRUNE, "DELETE FROM ap_inbox WHERE state <> 1 AND processed < ?1"),
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

static int insert_delivery(void *state, const struct lv_ap_delivery_new *r, int64_t now,
                           int64_t *id, struct lv_error *err)
{
    int rc = select_int(state,
                        KEPT(S_DELIVERY_ADD,
                             "INSERT INTO ap_deliveries (inbox, account, key_id, activity_id, "
                             "body, state, attempts, created, next_attempt) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7) RETURNING id"),
                        ARGS(TXT(r->inbox), TXT(r->account), TXT(r->key_id), TXT(r->activity_id),
                             TXT(r->body), INT(LV_AP_DELIVERY_PENDING), INT(now)),
                        id, "queuing a delivery", err);
    return rc == LV_ERR_NOT_FOUND ? lv_error_set(err, LV_ERR_STORE, "queuing a delivery: no id")
                                  : rc;
}

static int sq_delivery_add(void *state, const char *inbox, const char *account, const char *key_id,
                           const char *activity_id, const char *body, int64_t now, int64_t *id,
                           struct lv_error *err)
{
    const struct lv_ap_delivery_new r = {inbox, account, key_id, activity_id, body};
    return insert_delivery(state, &r, now, id, err);
}

/* One transaction: one commit (one WAL append) for the lot, and nothing
 * left behind by a failure part way. */
static int sq_delivery_add_many(void *state, const struct lv_ap_delivery_new *rows, size_t n,
                                int64_t now, int64_t *ids, struct lv_error *err)
{
    int64_t dummy;
    int rc = tx_begin(state, "queuing deliveries", err);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = insert_delivery(state, &rows[i], now, ids ? &ids[i] : &dummy, err);
    return tx_end(state, rc, "queuing deliveries", err);
}

static int sq_delivery_due(void *state, int64_t now, int64_t limit, struct lv_ap_delivery_rec **out,
                           size_t *n, struct lv_error *err)
{
    return select_all(state,
                      KEPT(S_DELIVERY_DUE,
                           DELIVERY_COLUMNS " WHERE state = ?1 AND next_attempt <= ?2 "
                                            "ORDER BY next_attempt, id LIMIT ?3"),
                      ARGS(INT(LV_AP_DELIVERY_PENDING), INT(now), INT(limit)), &delivery_type,
                      (void **)out, n, "reading due deliveries", err);
}

static int sq_delivery_next(void *state, int64_t *when, struct lv_error *err)
{
    return select_int(
        state,
        KEPT(S_DELIVERY_NEXT, "SELECT min(next_attempt) FROM ap_deliveries WHERE state = ?1"),
        ARGS(INT(LV_AP_DELIVERY_PENDING)), when, "reading the next delivery", err);
}

static int sq_delivery_update(void *state, int64_t id, enum lv_ap_delivery_state dstate,
                              int attempts, int64_t next_attempt, const char *last_error,
                              struct lv_error *err)
{
    int64_t changed = 0;
    int rc =
        exec_args(state,
                  KEPT(S_DELIVERY_UPDATE,
                       "UPDATE ap_deliveries SET state = ?2, attempts = ?3, next_attempt = ?4, "
                       "last_error = ?5 WHERE id = ?1"),
                  ARGS(INT(id), INT(dstate), INT(attempts), INT(next_attempt), TXT(last_error)),
                  "updating a delivery", &changed, err);
    return rc == 0 && changed == 0 ? LV_ERR_NOT_FOUND : rc;
}

static int delete_delivery(void *state, int64_t id, int64_t *changed, struct lv_error *err)
{
    return exec_args(state, KEPT(S_DELIVERY_DELETE, "DELETE FROM ap_deliveries WHERE id = ?1"),
                     ARGS(INT(id)), "deleting a delivery", changed, err);
}

static int sq_delivery_delete(void *state, int64_t id, struct lv_error *err)
{
    int64_t changed = 0;
    int rc = delete_delivery(state, id, &changed, err);
    return rc == 0 && changed == 0 ? LV_ERR_NOT_FOUND : rc;
}

/* The kept one-row DELETE, once per id in one transaction: as cheap as a
 * statement over a list of ids, without building one. */
static int sq_delivery_delete_many(void *state, const int64_t *ids, size_t n, struct lv_error *err)
{
    int rc = tx_begin(state, "deleting deliveries", err);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = delete_delivery(state, ids[i], NULL, err);
    return tx_end(state, rc, "deleting deliveries", err);
}

static int sq_delivery_list(void *state, int dstate, int64_t limit, int64_t offset,
                            struct lv_ap_delivery_rec **out, size_t *n, struct lv_error *err)
{
    return select_all(state,
                      KEPT(S_DELIVERY_LIST, DELIVERY_COLUMNS
                           " WHERE ?1 = 0 OR state = ?1 ORDER BY id LIMIT ?2 OFFSET ?3"),
                      ARGS(INT(dstate), INT(limit), INT(offset)), &delivery_type, (void **)out, n,
                      "listing deliveries", err);
}

static int sq_delivery_count(void *state, int dstate, int64_t *n, struct lv_error *err)
{
    return count(
        state,
        KEPT(S_DELIVERY_COUNT, "SELECT count(*) FROM ap_deliveries WHERE ?1 = 0 OR state = ?1"),
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
        KEPT(S_OBJECT_PUT, "INSERT INTO ap_objects (account, node, item_id, object_id, published, "
                           "updated, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) "
                           "ON CONFLICT (account, node, item_id) DO UPDATE SET "
                           "object_id = excluded.object_id, deleted = excluded.deleted, "
                           "updated = excluded.updated"),
        ARGS(TXT(account), TXT(node), TXT(item_id), TXT(object_id), INT(now), INT(deleted)),
        "storing a published object", NULL, err);
}

static int sq_object_get(void *state, const char *account, const char *node, const char *item_id,
                         struct lv_ap_object_rec *out, struct lv_error *err)
{
    return select_one(state,
                      KEPT(S_OBJECT_GET,
                           "SELECT account, node, item_id, object_id, published, updated, deleted "
                           "FROM ap_objects WHERE account = ?1 AND node = ?2 AND item_id = ?3"),
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
    .delivery_add_many = sq_delivery_add_many,
    .delivery_due = sq_delivery_due,
    .delivery_next = sq_delivery_next,
    .delivery_update = sq_delivery_update,
    .delivery_delete = sq_delivery_delete,
    .delivery_delete_many = sq_delivery_delete_many,
    .delivery_list = sq_delivery_list,
    .delivery_count = sq_delivery_count,
    .object_put = sq_object_put,
    .object_get = sq_object_get,
};
