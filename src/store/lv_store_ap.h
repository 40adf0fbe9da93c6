/* lv_store_ap: what the ActivityPub gateway keeps in the store.
 *
 * Five tables, in both backends (migration 0003):
 *   - remote actors as fetched (documents, inboxes, public keys), so that a
 *     restart does not refetch every peer's actor;
 *   - follow relations both ways (remote actors following a local account,
 *     local JIDs following a remote actor), with their state;
 *   - the inbox: every accepted activity, stored BEFORE the 202 answer and
 *     processed afterwards (pending ones are processed again after a restart);
 *     the activity id is unique, so a duplicate is detected at insert time;
 *   - the delivery queue: outgoing signed POSTs, retried with backoff until
 *     delivered (row deleted), given up (state failed) or gone (410);
 *   - the objects the gateway published for local items (to tell a Create
 *     from an Update, and to know what a retraction deletes).
 *
 * Actor keys are not here: they are privates (lv_store_private_*) of the
 * gateway's profile, namespace "ap-gateway", key "rsa_key:<account>".
 *
 * Conventions as lv_store.h: 0 or a negative enum lv_err, err filled;
 * records own their strings and are released with their _release function
 * (which accepts NULL and zeroed records); list functions return an array of
 * *n records, each released, then the array free()d. Times are epoch
 * seconds. Every function refuses NULL/empty required strings with
 * LV_ERR_INVAL. Strings are stored verbatim (URLs are compared byte-wise). */
#ifndef LV_STORE_AP_H
#define LV_STORE_AP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lv_err.h"
#include "store/lv_store.h"

/* Longest stored document (actor JSON, activity, delivery body). */
#define LV_STORE_AP_DOC_MAX ((size_t)4 << 20)

/* ---- remote actors ---- */

struct lv_ap_actor_rec {
    char *id;             /* actor URL (primary key) */
    char *account;        /* "user@host" once verified by WebFinger, else NULL */
    char *inbox;          /* personal inbox URL */
    char *shared_inbox;   /* endpoints.sharedInbox, NULL if none */
    char *key_id;         /* publicKey.id, NULL if none */
    char *public_key_pem; /* publicKey.publicKeyPem, NULL if none */
    char *doc;            /* the actor document as fetched (JSON text) */
    int64_t fetched;      /* when it was fetched */
};
void lv_ap_actor_rec_release(struct lv_ap_actor_rec *a);

/* Inserts or replaces the actor a->id (every column). id, inbox and doc are
 * required. */
int lv_store_ap_actor_put(struct lv_store *st, const struct lv_ap_actor_rec *a,
                          struct lv_error *err);
/* By actor URL. LV_ERR_NOT_FOUND when unknown. */
int lv_store_ap_actor_get(struct lv_store *st, const char *id, struct lv_ap_actor_rec *out,
                          struct lv_error *err);
/* By verified account handle (the most recently fetched when several). */
int lv_store_ap_actor_by_account(struct lv_store *st, const char *account,
                                 struct lv_ap_actor_rec *out, struct lv_error *err);
/* By publicKey.id. */
int lv_store_ap_actor_by_key(struct lv_store *st, const char *key_id, struct lv_ap_actor_rec *out,
                             struct lv_error *err);
int lv_store_ap_actor_count(struct lv_store *st, int64_t *n, struct lv_error *err);

/* ---- follows ---- */

enum lv_ap_follow_dir {
    LV_AP_FOLLOWER = 1,  /* remote actor `remote` follows local account `local` */
    LV_AP_FOLLOWING = 2, /* local JID `local` follows remote actor `remote` */
};
enum lv_ap_follow_state {
    LV_AP_FOLLOW_PENDING = 1,  /* Follow sent / received, not accepted yet */
    LV_AP_FOLLOW_ACCEPTED = 2, /* Accept sent / received */
};
struct lv_ap_follow_rec {
    int64_t id;
    enum lv_ap_follow_dir dir;
    char *local;       /* local account ("louise@example.org") or bare JID */
    char *node;        /* XMPP node concerned ("urn:xmpp:microblog:0") */
    char *remote;      /* remote actor URL */
    char *activity_id; /* id of the Follow activity */
    enum lv_ap_follow_state state;
    int64_t created, updated;
};
void lv_ap_follow_rec_release(struct lv_ap_follow_rec *f);

/* Inserts or updates (unique on dir, local, node, remote): activity_id and
 * state are replaced, created kept, updated set to now. */
int lv_store_ap_follow_put(struct lv_store *st, enum lv_ap_follow_dir dir, const char *local,
                           const char *node, const char *remote, const char *activity_id,
                           enum lv_ap_follow_state state, struct lv_error *err);
int lv_store_ap_follow_get(struct lv_store *st, enum lv_ap_follow_dir dir, const char *local,
                           const char *node, const char *remote, struct lv_ap_follow_rec *out,
                           struct lv_error *err);
/* By the Follow activity's id (an Accept or Undo names it). */
int lv_store_ap_follow_by_activity(struct lv_store *st, const char *activity_id,
                                   struct lv_ap_follow_rec *out, struct lv_error *err);
/* LV_ERR_NOT_FOUND when there was none. */
int lv_store_ap_follow_delete(struct lv_store *st, enum lv_ap_follow_dir dir, const char *local,
                              const char *node, const char *remote, struct lv_error *err);
/* Relations of dir, filtered by local, node and remote when non-NULL and by
 * state when > 0, ordered by id; limit 0 = all. */
int lv_store_ap_follow_list(struct lv_store *st, enum lv_ap_follow_dir dir, const char *local,
                            const char *node, const char *remote, int state, size_t limit,
                            size_t offset, struct lv_ap_follow_rec **out, size_t *n,
                            struct lv_error *err);
int lv_store_ap_follow_count(struct lv_store *st, enum lv_ap_follow_dir dir, const char *local,
                             const char *node, int state, int64_t *n, struct lv_error *err);

/* ---- inbox ---- */

enum lv_ap_inbox_state {
    LV_AP_INBOX_PENDING = 1, /* stored, not processed yet */
    LV_AP_INBOX_DONE = 2,
    LV_AP_INBOX_FAILED = 3, /* processing failed for good; error says why */
};
struct lv_ap_inbox_rec {
    int64_t id;
    char *activity_id;
    char *actor; /* the verified signer's actor URL */
    char *inbox; /* the local account whose inbox got it, NULL: shared inbox */
    char *body;  /* the activity JSON exactly as received */
    enum lv_ap_inbox_state state;
    char *error;
    int64_t received, processed; /* processed: 0 while pending */
};
void lv_ap_inbox_rec_release(struct lv_ap_inbox_rec *r);

/* Stores an accepted activity as PENDING; *id (may be NULL) gets its row
 * id. LV_ERR_CONFLICT (nothing stored) when activity_id is already there:
 * a duplicate. inbox may be NULL. */
int lv_store_ap_inbox_add(struct lv_store *st, const char *activity_id, const char *actor,
                          const char *inbox, const char *body, size_t body_len, int64_t received,
                          int64_t *id, struct lv_error *err);
/* Marks a row DONE or FAILED (error may be NULL) at time processed. */
int lv_store_ap_inbox_set_state(struct lv_store *st, int64_t id, enum lv_ap_inbox_state state,
                                const char *error, int64_t processed, struct lv_error *err);
/* Rows in state (> 0) or all (0), oldest first; limit 0 = all. */
int lv_store_ap_inbox_list(struct lv_store *st, int state, size_t limit, size_t offset,
                           struct lv_ap_inbox_rec **out, size_t *n, struct lv_error *err);
int lv_store_ap_inbox_count(struct lv_store *st, int state, int64_t *n, struct lv_error *err);
/* Deletes DONE and FAILED rows processed before t (duplicates are then no
 * longer detected for them); *deleted may be NULL. */
int lv_store_ap_inbox_prune(struct lv_store *st, int64_t before, int64_t *deleted,
                            struct lv_error *err);

/* ---- delivery queue ---- */

enum lv_ap_delivery_state {
    LV_AP_DELIVERY_PENDING = 1, /* waiting for next_attempt */
    LV_AP_DELIVERY_FAILED = 2,  /* given up (too old, 410 Gone, 4xx refusal) */
};
struct lv_ap_delivery_rec {
    int64_t id;
    char *inbox;       /* URL POSTed to */
    char *account;     /* local account whose key signs */
    char *key_id;      /* keyId to sign with ("<actor>#main-key") */
    char *activity_id; /* for display and logs */
    char *body;        /* the activity JSON, sent as is */
    enum lv_ap_delivery_state state;
    int attempts;
    int64_t created, next_attempt;
    char *last_error; /* NULL before the first failure */
};
void lv_ap_delivery_rec_release(struct lv_ap_delivery_rec *d);

/* Queues a delivery (state PENDING, attempts 0, next_attempt = created =
 * now given). inbox, account, key_id, activity_id and body are required.
 * *id may be NULL. */
int lv_store_ap_delivery_add(struct lv_store *st, const char *inbox, const char *account,
                             const char *key_id, const char *activity_id, const char *body,
                             int64_t now, int64_t *id, struct lv_error *err);
/* One row for lv_store_ap_delivery_add_many(): the strings are borrowed for
 * the call, every one required as for lv_store_ap_delivery_add(). Rows may
 * share strings (one activity to many inboxes). */
struct lv_ap_delivery_new {
    const char *inbox, *account, *key_id, *activity_id, *body;
};
/* Queues n deliveries as lv_store_ap_delivery_add() does, in one
 * transaction: all of them or, on any failure, none. Every row is checked
 * before anything is written (the error names the first bad row). ids (may
 * be NULL) gets the n row ids, in the order of rows; all 0 on failure.
 * n = 0 does nothing. */
int lv_store_ap_delivery_add_many(struct lv_store *st, const struct lv_ap_delivery_new *rows,
                                  size_t n, int64_t now, int64_t *ids, struct lv_error *err);
/* PENDING rows with next_attempt <= now, by next_attempt then id; at most
 * limit (> 0). */
int lv_store_ap_delivery_due(struct lv_store *st, int64_t now, size_t limit,
                             struct lv_ap_delivery_rec **out, size_t *n, struct lv_error *err);
/* The smallest next_attempt of PENDING rows; LV_ERR_NOT_FOUND when none. */
int lv_store_ap_delivery_next(struct lv_store *st, int64_t *when, struct lv_error *err);
/* Records a failed attempt: state (PENDING to retry, FAILED to give up),
 * attempts, next_attempt and last_error replaced. */
int lv_store_ap_delivery_update(struct lv_store *st, int64_t id, enum lv_ap_delivery_state state,
                                int attempts, int64_t next_attempt, const char *last_error,
                                struct lv_error *err);
/* Removes a row (delivered, or dropped by an admin). LV_ERR_NOT_FOUND. */
int lv_store_ap_delivery_delete(struct lv_store *st, int64_t id, struct lv_error *err);
/* Removes the n rows of ids in one transaction (the delivered rows of a
 * loop iteration); ids not in the table are skipped, as are repeated ones.
 * On failure none is removed. n = 0 does nothing. */
int lv_store_ap_delivery_delete_many(struct lv_store *st, const int64_t *ids, size_t n,
                                     struct lv_error *err);
/* Rows in state (> 0) or all (0), by id; limit 0 = all. */
int lv_store_ap_delivery_list(struct lv_store *st, int state, size_t limit, size_t offset,
                              struct lv_ap_delivery_rec **out, size_t *n, struct lv_error *err);
int lv_store_ap_delivery_count(struct lv_store *st, int state, int64_t *n, struct lv_error *err);

/* ---- objects published for local items ---- */

struct lv_ap_object_rec {
    char *account;   /* local account */
    char *node;      /* XMPP node */
    char *item_id;   /* pubsub item id */
    char *object_id; /* the Note's id (URL) */
    int64_t published, updated;
    bool deleted; /* a Delete was sent */
};
void lv_ap_object_rec_release(struct lv_ap_object_rec *o);

/* Inserts or updates (unique on account, node, item_id): object_id and
 * deleted replaced, published kept when the row exists, updated = now. */
int lv_store_ap_object_put(struct lv_store *st, const char *account, const char *node,
                           const char *item_id, const char *object_id, bool deleted, int64_t now,
                           struct lv_error *err);
int lv_store_ap_object_get(struct lv_store *st, const char *account, const char *node,
                           const char *item_id, struct lv_ap_object_rec *out, struct lv_error *err);

#endif
