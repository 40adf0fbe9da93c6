/* lv_store_ap_backend: what a storage backend implements for the ActivityPub
 * gateway's tables (private to src/store/ and its tests; everyone else uses
 * lv_store_ap.h).
 *
 * As for lv_store_backend: lv_store_ap.c checks the arguments once for
 * every backend (required strings, enum values, document sizes, an inbox
 * body without NUL bytes), clears the outputs, then calls these operations,
 * which get only valid input. LV_ERR_NOT_FOUND and LV_ERR_CONFLICT come back
 * without a message: the dispatch writes it, the same for every backend.
 * Other failures fill err. On failure, list outputs are left NULL and 0. */
#ifndef LV_STORE_AP_BACKEND_H
#define LV_STORE_AP_BACKEND_H

#include "store/lv_store_ap.h"

/* Which column an actor is looked up by (ties: most recently fetched). */
enum lv_ap_actor_key {
    LV_AP_ACTOR_BY_ID,
    LV_AP_ACTOR_BY_ACCOUNT,
    LV_AP_ACTOR_BY_KEY,
};

/* A follow relation, or a selection of them. For put, get and delete every
 * string is set; for list and count a NULL string matches any value, and
 * state 0 any state. */
struct lv_ap_follow_sel {
    enum lv_ap_follow_dir dir;
    const char *local, *node, *remote;
    int state;
};

/* The operations, on the backend's state. Limits and offsets come resolved
 * (>= 0; a limit of INT64_MAX, which SQLite and PostgreSQL both take, for
 * "all"); *id and *deleted are never NULL here. */
struct lv_store_ap_backend {
    int (*actor_put)(void *state, const struct lv_ap_actor_rec *a, struct lv_error *err);
    int (*actor_get)(void *state, enum lv_ap_actor_key by, const char *value,
                     struct lv_ap_actor_rec *out, struct lv_error *err);
    int (*actor_count)(void *state, int64_t *n, struct lv_error *err);

    /* Stamps created (new rows) and updated with the backend's clock. */
    int (*follow_put)(void *state, const struct lv_ap_follow_sel *f, const char *activity_id,
                      enum lv_ap_follow_state fstate, struct lv_error *err);
    int (*follow_get)(void *state, const struct lv_ap_follow_sel *f, struct lv_ap_follow_rec *out,
                      struct lv_error *err);
    int (*follow_by_activity)(void *state, const char *activity_id, struct lv_ap_follow_rec *out,
                              struct lv_error *err);
    int (*follow_delete)(void *state, const struct lv_ap_follow_sel *f, struct lv_error *err);
    int (*follow_list)(void *state, const struct lv_ap_follow_sel *f, int64_t limit, int64_t offset,
                       struct lv_ap_follow_rec **out, size_t *n, struct lv_error *err);
    int (*follow_count)(void *state, const struct lv_ap_follow_sel *f, int64_t *n,
                        struct lv_error *err);

    /* body holds body_len bytes, none of them NUL. */
    int (*inbox_add)(void *state, const char *activity_id, const char *actor, const char *inbox,
                     const char *body, size_t body_len, int64_t received, int64_t *id,
                     struct lv_error *err);
    int (*inbox_set_state)(void *state, int64_t id, enum lv_ap_inbox_state istate,
                           const char *error, int64_t processed, struct lv_error *err);
    int (*inbox_list)(void *state, int istate, int64_t limit, int64_t offset,
                      struct lv_ap_inbox_rec **out, size_t *n, struct lv_error *err);
    int (*inbox_count)(void *state, int istate, int64_t *n, struct lv_error *err);
    int (*inbox_prune)(void *state, int64_t before, int64_t *deleted, struct lv_error *err);

    int (*delivery_add)(void *state, const char *inbox, const char *account, const char *key_id,
                        const char *activity_id, const char *body, int64_t now, int64_t *id,
                        struct lv_error *err);
    /* One transaction, all or nothing; ids may be NULL (else n slots). n > 0
     * and every row checked. */
    int (*delivery_add_many)(void *state, const struct lv_ap_delivery_new *rows, size_t n,
                             int64_t now, int64_t *ids, struct lv_error *err);
    int (*delivery_due)(void *state, int64_t now, int64_t limit, struct lv_ap_delivery_rec **out,
                        size_t *n, struct lv_error *err);
    int (*delivery_next)(void *state, int64_t *when, struct lv_error *err);
    int (*delivery_update)(void *state, int64_t id, enum lv_ap_delivery_state dstate, int attempts,
                           int64_t next_attempt, const char *last_error, struct lv_error *err);
    int (*delivery_delete)(void *state, int64_t id, struct lv_error *err);
    /* One transaction (or one statement); missing ids skipped; n > 0. */
    int (*delivery_delete_many)(void *state, const int64_t *ids, size_t n, struct lv_error *err);
    int (*delivery_list)(void *state, int dstate, int64_t limit, int64_t offset,
                         struct lv_ap_delivery_rec **out, size_t *n, struct lv_error *err);
    int (*delivery_count)(void *state, int dstate, int64_t *n, struct lv_error *err);

    int (*object_put)(void *state, const char *account, const char *node, const char *item_id,
                      const char *object_id, bool deleted, int64_t now, struct lv_error *err);
    int (*object_get)(void *state, const char *account, const char *node, const char *item_id,
                      struct lv_ap_object_rec *out, struct lv_error *err);
};

/* The two backends' tables (store/sqlite/lv_store_sqlite_ap.c,
 * store/postgres/lv_store_postgres_ap.c), paired with their backend in
 * lv_store_open(). */
extern const struct lv_store_ap_backend lv_store_sqlite_ap_backend;
extern const struct lv_store_ap_backend lv_store_postgres_ap_backend;

#endif
