/* Dispatch of the ActivityPub gateway's store operations to the backend,
 * with the checks every backend relies on (lv_store_ap_backend.h), and the
 * messages of "not found" and "duplicate", written here once so that both
 * backends say the same. */
#include "store/lv_store_ap.h"

#include <stdlib.h>
#include <string.h>

#include "store/lv_store_ap_backend.h"
#include "store/lv_store_backend.h"

/* ---- records --------------------------------------------------------------- */

void lv_ap_actor_rec_release(struct lv_ap_actor_rec *a)
{
    if (!a)
        return;
    free(a->id);
    free(a->account);
    free(a->inbox);
    free(a->shared_inbox);
    free(a->key_id);
    free(a->public_key_pem);
    free(a->doc);
    memset(a, 0, sizeof(*a));
}

void lv_ap_follow_rec_release(struct lv_ap_follow_rec *f)
{
    if (!f)
        return;
    free(f->local);
    free(f->node);
    free(f->remote);
    free(f->activity_id);
    memset(f, 0, sizeof(*f));
}

void lv_ap_inbox_rec_release(struct lv_ap_inbox_rec *r)
{
    if (!r)
        return;
    free(r->activity_id);
    free(r->actor);
    free(r->inbox);
    free(r->body);
    free(r->error);
    memset(r, 0, sizeof(*r));
}

void lv_ap_delivery_rec_release(struct lv_ap_delivery_rec *d)
{
    if (!d)
        return;
    free(d->inbox);
    free(d->account);
    free(d->key_id);
    free(d->activity_id);
    free(d->body);
    free(d->last_error);
    memset(d, 0, sizeof(*d));
}

void lv_ap_object_rec_release(struct lv_ap_object_rec *o)
{
    if (!o)
        return;
    free(o->account);
    free(o->node);
    free(o->item_id);
    free(o->object_id);
    memset(o, 0, sizeof(*o));
}

/* ---- checks ---------------------------------------------------------------- */

/* Both built-in backends have the tables; a store without them (a backend
 * added without its AP table) is a configuration the call cannot serve. */
static int ready(struct lv_store *st, struct lv_error *err)
{
    if (st->ap)
        return 0;
    return lv_error_set(err, LV_ERR_CONFIG, "the %s backend has no ActivityPub tables",
                        st->be->name);
}

static int need(const char *what, const char *s, struct lv_error *err)
{
    return s && *s ? 0 : lv_error_set(err, LV_ERR_INVAL, "empty %s", what);
}

/* Runs the need() checks of a NULL-terminated list of (what, value) pairs,
 * stopping at the first failure. */
static int need_all(struct lv_error *err, const char *const *pairs)
{
    int rc = 0;
    for (size_t i = 0; pairs[i] && rc == 0; i += 2)
        rc = need(pairs[i], pairs[i + 1], err);
    return rc;
}

static int check_size(const char *what, size_t len, struct lv_error *err)
{
    if (len <= LV_STORE_AP_DOC_MAX)
        return 0;
    return lv_error_set(err, LV_ERR_LIMIT, "%s is over the limit of %zu bytes", what,
                        LV_STORE_AP_DOC_MAX);
}

/* A required NUL-terminated document, measured no further than the limit. */
static int check_doc(const char *what, const char *doc, struct lv_error *err)
{
    int rc = need(what, doc, err);
    return rc != 0 ? rc : check_size(what, strnlen(doc, LV_STORE_AP_DOC_MAX + 1), err);
}

/* A state to store: 1..max. A filter (any true): 0 (any state) too. */
static int check_state(const char *what, int state, int max, bool any, struct lv_error *err)
{
    if ((state >= 1 && state <= max) || (any && state == 0))
        return 0;
    return lv_error_set(err, LV_ERR_INVAL, "unknown %s state %d", what, state);
}

static int check_dir(enum lv_ap_follow_dir dir, struct lv_error *err)
{
    if (dir == LV_AP_FOLLOWER || dir == LV_AP_FOLLOWING)
        return 0;
    return lv_error_set(err, LV_ERR_INVAL, "unknown follow direction %d", (int)dir);
}

/* An optional filter is NULL; "" would silently match nothing. */
static int check_filter(const char *what, const char *s, struct lv_error *err)
{
    return s && !*s ? lv_error_set(err, LV_ERR_INVAL, "empty %s (use NULL for any)", what) : 0;
}

/* PostgreSQL cannot index a key of more than about 2700 bytes (a btree
 * entry must fit in a third of a page): it would fail the insert with an
 * error. So that both backends take the same rows, the strings that go into
 * an index are bounded here, each one and the parts of a composite key
 * together, far above any real URL or JID. */
#define KEY_MAX 2000

static int check_key_len(const char *what, const char *const *parts, struct lv_error *err)
{
    size_t len = 0;
    for (size_t i = 0; parts[i]; i++)
        len += strnlen(parts[i], KEY_MAX + 1);
    if (len <= KEY_MAX)
        return 0;
    return lv_error_set(err, LV_ERR_LIMIT, "%s is over the limit of %d bytes", what, KEY_MAX);
}

/* limit 0: all; what SQL takes (lv_store_ap_backend.h). */
static int64_t sql_limit(size_t v)
{
    return v == 0 || v > (size_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

static int64_t sql_offset(size_t v)
{
    return v > (size_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* ---- remote actors --------------------------------------------------------- */

int lv_store_ap_actor_put(struct lv_store *st, const struct lv_ap_actor_rec *a,
                          struct lv_error *err)
{
    if (!a)
        return lv_error_set(err, LV_ERR_INVAL, "no actor");
    int rc = need_all(err, (const char *const[]){"actor id", a->id, "actor inbox", a->inbox, NULL});
    if (rc == 0)
        rc = check_doc("actor document", a->doc, err);
    if (rc == 0)
        rc = check_key_len("actor id", (const char *const[]){a->id, NULL}, err);
    if (rc == 0 && a->account)
        rc = check_key_len("actor account", (const char *const[]){a->account, NULL}, err);
    if (rc == 0 && a->key_id)
        rc = check_key_len("actor key id", (const char *const[]){a->key_id, NULL}, err);
    if (rc == 0)
        rc = ready(st, err);
    return rc != 0 ? rc : st->ap->actor_put(st->state, a, err);
}

static int actor_get(struct lv_store *st, enum lv_ap_actor_key by, const char *what,
                     const char *value, struct lv_ap_actor_rec *out, struct lv_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = need(what, value, err);
    if (rc == 0)
        rc = ready(st, err);
    if (rc == 0)
        rc = st->ap->actor_get(st->state, by, value, out, err);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no stored actor with %s %s", what, value);
    return rc;
}

int lv_store_ap_actor_get(struct lv_store *st, const char *id, struct lv_ap_actor_rec *out,
                          struct lv_error *err)
{
    return actor_get(st, LV_AP_ACTOR_BY_ID, "actor id", id, out, err);
}

int lv_store_ap_actor_by_account(struct lv_store *st, const char *account,
                                 struct lv_ap_actor_rec *out, struct lv_error *err)
{
    return actor_get(st, LV_AP_ACTOR_BY_ACCOUNT, "account", account, out, err);
}

int lv_store_ap_actor_by_key(struct lv_store *st, const char *key_id, struct lv_ap_actor_rec *out,
                             struct lv_error *err)
{
    return actor_get(st, LV_AP_ACTOR_BY_KEY, "key id", key_id, out, err);
}

int lv_store_ap_actor_count(struct lv_store *st, int64_t *n, struct lv_error *err)
{
    *n = 0;
    int rc = ready(st, err);
    return rc != 0 ? rc : st->ap->actor_count(st->state, n, err);
}

/* ---- follows --------------------------------------------------------------- */

/* The key of one relation: every part required. */
static int check_follow_key(const struct lv_ap_follow_sel *f, struct lv_error *err)
{
    int rc = check_dir(f->dir, err);
    if (rc == 0)
        rc = need_all(err, (const char *const[]){"local account", f->local, "node", f->node,
                                                 "remote actor", f->remote, NULL});
    return rc;
}

static int no_follow(const struct lv_ap_follow_sel *f, struct lv_error *err)
{
    return lv_error_set(err, LV_ERR_NOT_FOUND, "no %s relation between %s (node %s) and %s",
                        f->dir == LV_AP_FOLLOWER ? "follower" : "following", f->local, f->node,
                        f->remote);
}

int lv_store_ap_follow_put(struct lv_store *st, enum lv_ap_follow_dir dir, const char *local,
                           const char *node, const char *remote, const char *activity_id,
                           enum lv_ap_follow_state state, struct lv_error *err)
{
    struct lv_ap_follow_sel f = {dir, local, node, remote, 0};
    int rc = check_follow_key(&f, err);
    if (rc == 0)
        rc = need("Follow activity id", activity_id, err);
    if (rc == 0)
        rc =
            check_key_len("follow relation", (const char *const[]){local, node, remote, NULL}, err);
    if (rc == 0)
        rc = check_key_len("Follow activity id", (const char *const[]){activity_id, NULL}, err);
    if (rc == 0)
        rc = check_state("follow", (int)state, LV_AP_FOLLOW_ACCEPTED, false, err);
    if (rc == 0)
        rc = ready(st, err);
    return rc != 0 ? rc : st->ap->follow_put(st->state, &f, activity_id, state, err);
}

int lv_store_ap_follow_get(struct lv_store *st, enum lv_ap_follow_dir dir, const char *local,
                           const char *node, const char *remote, struct lv_ap_follow_rec *out,
                           struct lv_error *err)
{
    struct lv_ap_follow_sel f = {dir, local, node, remote, 0};
    memset(out, 0, sizeof(*out));
    int rc = check_follow_key(&f, err);
    if (rc == 0)
        rc = ready(st, err);
    if (rc == 0)
        rc = st->ap->follow_get(st->state, &f, out, err);
    return rc == LV_ERR_NOT_FOUND ? no_follow(&f, err) : rc;
}

int lv_store_ap_follow_by_activity(struct lv_store *st, const char *activity_id,
                                   struct lv_ap_follow_rec *out, struct lv_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = need("Follow activity id", activity_id, err);
    if (rc == 0)
        rc = ready(st, err);
    if (rc == 0)
        rc = st->ap->follow_by_activity(st->state, activity_id, out, err);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no follow relation made by activity %s", activity_id);
    return rc;
}

int lv_store_ap_follow_delete(struct lv_store *st, enum lv_ap_follow_dir dir, const char *local,
                              const char *node, const char *remote, struct lv_error *err)
{
    struct lv_ap_follow_sel f = {dir, local, node, remote, 0};
    int rc = check_follow_key(&f, err);
    if (rc == 0)
        rc = ready(st, err);
    if (rc == 0)
        rc = st->ap->follow_delete(st->state, &f, err);
    return rc == LV_ERR_NOT_FOUND ? no_follow(&f, err) : rc;
}

static int check_follow_sel(const struct lv_ap_follow_sel *f, struct lv_error *err)
{
    int rc = check_dir(f->dir, err);
    if (rc == 0)
        rc = check_filter("local account", f->local, err);
    if (rc == 0)
        rc = check_filter("node", f->node, err);
    if (rc == 0)
        rc = check_filter("remote actor", f->remote, err);
    if (rc == 0)
        rc = check_state("follow", f->state, LV_AP_FOLLOW_ACCEPTED, true, err);
    return rc;
}

int lv_store_ap_follow_list(struct lv_store *st, enum lv_ap_follow_dir dir, const char *local,
                            const char *node, const char *remote, int state, size_t limit,
                            size_t offset, struct lv_ap_follow_rec **out, size_t *n,
                            struct lv_error *err)
{
    struct lv_ap_follow_sel f = {dir, local, node, remote, state};
    *out = NULL;
    *n = 0;
    int rc = check_follow_sel(&f, err);
    if (rc == 0)
        rc = ready(st, err);
    return rc != 0 ? rc
                   : st->ap->follow_list(st->state, &f, sql_limit(limit), sql_offset(offset), out,
                                         n, err);
}

int lv_store_ap_follow_count(struct lv_store *st, enum lv_ap_follow_dir dir, const char *local,
                             const char *node, int state, int64_t *n, struct lv_error *err)
{
    struct lv_ap_follow_sel f = {dir, local, node, NULL, state};
    *n = 0;
    int rc = check_follow_sel(&f, err);
    if (rc == 0)
        rc = ready(st, err);
    return rc != 0 ? rc : st->ap->follow_count(st->state, &f, n, err);
}

/* ---- inbox ----------------------------------------------------------------- */

/* The body is stored as text: a NUL byte would be cut by one backend and
 * kept by the other, and is never in a JSON document anyway. */
int lv_store_ap_inbox_add(struct lv_store *st, const char *activity_id, const char *actor,
                          const char *inbox, const char *body, size_t body_len, int64_t received,
                          int64_t *id, struct lv_error *err)
{
    int64_t dummy;
    if (!id)
        id = &dummy;
    *id = 0;
    int rc = need_all(err, (const char *const[]){"activity id", activity_id, "actor", actor, NULL});
    if (rc == 0)
        rc = check_key_len("activity id", (const char *const[]){activity_id, NULL}, err);
    if (rc == 0 && (!body || body_len == 0))
        rc = lv_error_set(err, LV_ERR_INVAL, "empty activity body");
    if (rc == 0)
        rc = check_size("activity body", body_len, err);
    if (rc == 0 && memchr(body, '\0', body_len))
        rc = lv_error_set(err, LV_ERR_INVAL, "activity body holds a NUL byte");
    if (rc == 0)
        rc = ready(st, err);
    if (rc == 0)
        rc = st->ap->inbox_add(st->state, activity_id, actor, inbox, body, body_len, received, id,
                               err);
    if (rc == LV_ERR_CONFLICT)
        lv_error_set(err, rc, "activity %s is already in the inbox", activity_id);
    return rc;
}

int lv_store_ap_inbox_set_state(struct lv_store *st, int64_t id, enum lv_ap_inbox_state state,
                                const char *error, int64_t processed, struct lv_error *err)
{
    int rc = 0;
    if (state != LV_AP_INBOX_DONE && state != LV_AP_INBOX_FAILED)
        rc = lv_error_set(err, LV_ERR_INVAL, "an inbox row can only be marked done or failed");
    if (rc == 0)
        rc = ready(st, err);
    if (rc == 0)
        rc = st->ap->inbox_set_state(st->state, id, state, error, processed, err);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no inbox row %lld", (long long)id);
    return rc;
}

int lv_store_ap_inbox_list(struct lv_store *st, int state, size_t limit, size_t offset,
                           struct lv_ap_inbox_rec **out, size_t *n, struct lv_error *err)
{
    *out = NULL;
    *n = 0;
    int rc = check_state("inbox", state, LV_AP_INBOX_FAILED, true, err);
    if (rc == 0)
        rc = ready(st, err);
    return rc != 0 ? rc
                   : st->ap->inbox_list(st->state, state, sql_limit(limit), sql_offset(offset), out,
                                        n, err);
}

int lv_store_ap_inbox_count(struct lv_store *st, int state, int64_t *n, struct lv_error *err)
{
    *n = 0;
    int rc = check_state("inbox", state, LV_AP_INBOX_FAILED, true, err);
    if (rc == 0)
        rc = ready(st, err);
    return rc != 0 ? rc : st->ap->inbox_count(st->state, state, n, err);
}

int lv_store_ap_inbox_prune(struct lv_store *st, int64_t before, int64_t *deleted,
                            struct lv_error *err)
{
    int64_t dummy;
    if (!deleted)
        deleted = &dummy;
    *deleted = 0;
    int rc = ready(st, err);
    return rc != 0 ? rc : st->ap->inbox_prune(st->state, before, deleted, err);
}

/* ---- delivery queue -------------------------------------------------------- */

static int check_delivery(const struct lv_ap_delivery_new *r, struct lv_error *err)
{
    int rc = need_all(err, (const char *const[]){"target inbox", r->inbox, "account", r->account,
                                                 "key id", r->key_id, "activity id", r->activity_id,
                                                 NULL});
    return rc != 0 ? rc : check_doc("activity body", r->body, err);
}

int lv_store_ap_delivery_add(struct lv_store *st, const char *inbox, const char *account,
                             const char *key_id, const char *activity_id, const char *body,
                             int64_t now, int64_t *id, struct lv_error *err)
{
    int64_t dummy;
    if (!id)
        id = &dummy;
    *id = 0;
    const struct lv_ap_delivery_new r = {inbox, account, key_id, activity_id, body};
    int rc = check_delivery(&r, err);
    if (rc == 0)
        rc = ready(st, err);
    return rc != 0 ? rc
                   : st->ap->delivery_add(st->state, inbox, account, key_id, activity_id, body, now,
                                          id, err);
}

/* Every row is checked first, so that a bad one costs no rolled-back
 * writes; its message says which it is. */
static int check_deliveries(const struct lv_ap_delivery_new *rows, size_t n, struct lv_error *err)
{
    struct lv_error e;
    for (size_t i = 0; i < n; i++) {
        lv_error_clear(&e);
        int rc = check_delivery(&rows[i], &e);
        if (rc != 0)
            return lv_error_set(err, rc, "delivery %zu of %zu: %s", i + 1, n, e.msg);
    }
    return 0;
}

int lv_store_ap_delivery_add_many(struct lv_store *st, const struct lv_ap_delivery_new *rows,
                                  size_t n, int64_t now, int64_t *ids, struct lv_error *err)
{
    if (ids && n)
        memset(ids, 0, n * sizeof(*ids));
    if (n == 0)
        return 0;
    if (!rows)
        return lv_error_set(err, LV_ERR_INVAL, "no deliveries given");
    int rc = check_deliveries(rows, n, err);
    if (rc == 0)
        rc = ready(st, err);
    if (rc == 0)
        rc = st->ap->delivery_add_many(st->state, rows, n, now, ids, err);
    if (rc != 0 && ids) /* the backend may have filled some before failing */
        memset(ids, 0, n * sizeof(*ids));
    return rc;
}

int lv_store_ap_delivery_due(struct lv_store *st, int64_t now, size_t limit,
                             struct lv_ap_delivery_rec **out, size_t *n, struct lv_error *err)
{
    *out = NULL;
    *n = 0;
    if (limit == 0)
        return lv_error_set(err, LV_ERR_INVAL, "no limit to the due deliveries to read");
    int rc = ready(st, err);
    return rc != 0 ? rc : st->ap->delivery_due(st->state, now, sql_limit(limit), out, n, err);
}

int lv_store_ap_delivery_next(struct lv_store *st, int64_t *when, struct lv_error *err)
{
    *when = 0;
    int rc = ready(st, err);
    if (rc == 0)
        rc = st->ap->delivery_next(st->state, when, err);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no pending delivery");
    return rc;
}

static int no_delivery(int64_t id, struct lv_error *err)
{
    return lv_error_set(err, LV_ERR_NOT_FOUND, "no delivery %lld", (long long)id);
}

int lv_store_ap_delivery_update(struct lv_store *st, int64_t id, enum lv_ap_delivery_state state,
                                int attempts, int64_t next_attempt, const char *last_error,
                                struct lv_error *err)
{
    int rc = check_state("delivery", (int)state, LV_AP_DELIVERY_FAILED, false, err);
    if (rc == 0 && attempts < 0)
        rc = lv_error_set(err, LV_ERR_INVAL, "negative delivery attempt count");
    if (rc == 0)
        rc = ready(st, err);
    if (rc == 0)
        rc = st->ap->delivery_update(st->state, id, state, attempts, next_attempt, last_error, err);
    return rc == LV_ERR_NOT_FOUND ? no_delivery(id, err) : rc;
}

int lv_store_ap_delivery_delete(struct lv_store *st, int64_t id, struct lv_error *err)
{
    int rc = ready(st, err);
    if (rc == 0)
        rc = st->ap->delivery_delete(st->state, id, err);
    return rc == LV_ERR_NOT_FOUND ? no_delivery(id, err) : rc;
}

int lv_store_ap_delivery_delete_many(struct lv_store *st, const int64_t *ids, size_t n,
                                     struct lv_error *err)
{
    if (n == 0)
        return 0;
    if (!ids)
        return lv_error_set(err, LV_ERR_INVAL, "no delivery ids given");
    int rc = ready(st, err);
    return rc != 0 ? rc : st->ap->delivery_delete_many(st->state, ids, n, err);
}

int lv_store_ap_delivery_list(struct lv_store *st, int state, size_t limit, size_t offset,
                              struct lv_ap_delivery_rec **out, size_t *n, struct lv_error *err)
{
    *out = NULL;
    *n = 0;
    int rc = check_state("delivery", state, LV_AP_DELIVERY_FAILED, true, err);
    if (rc == 0)
        rc = ready(st, err);
    return rc != 0 ? rc
                   : st->ap->delivery_list(st->state, state, sql_limit(limit), sql_offset(offset),
                                           out, n, err);
}

int lv_store_ap_delivery_count(struct lv_store *st, int state, int64_t *n, struct lv_error *err)
{
    *n = 0;
    int rc = check_state("delivery", state, LV_AP_DELIVERY_FAILED, true, err);
    if (rc == 0)
        rc = ready(st, err);
    return rc != 0 ? rc : st->ap->delivery_count(st->state, state, n, err);
}

/* ---- objects published for local items ------------------------------------- */

static int check_item_key(const char *account, const char *node, const char *item_id,
                          struct lv_error *err)
{
    return need_all(
        err, (const char *const[]){"account", account, "node", node, "item id", item_id, NULL});
}

int lv_store_ap_object_put(struct lv_store *st, const char *account, const char *node,
                           const char *item_id, const char *object_id, bool deleted, int64_t now,
                           struct lv_error *err)
{
    int rc = check_item_key(account, node, item_id, err);
    if (rc == 0)
        rc = need("object id", object_id, err);
    if (rc == 0)
        rc = check_key_len("item key", (const char *const[]){account, node, item_id, NULL}, err);
    if (rc == 0)
        rc = ready(st, err);
    return rc != 0 ? rc
                   : st->ap->object_put(st->state, account, node, item_id, object_id, deleted, now,
                                        err);
}

int lv_store_ap_object_get(struct lv_store *st, const char *account, const char *node,
                           const char *item_id, struct lv_ap_object_rec *out, struct lv_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = check_item_key(account, node, item_id, err);
    if (rc == 0)
        rc = ready(st, err);
    if (rc == 0)
        rc = st->ap->object_get(st->state, account, node, item_id, out, err);
    if (rc == LV_ERR_NOT_FOUND)
        lv_error_set(err, rc, "no object published for item %s of %s on %s", item_id, account,
                     node);
    return rc;
}
