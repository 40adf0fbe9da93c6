/* lv_ap_deliver: the gateway's outgoing deliveries, a persistent queue.
 *
 * An activity to deliver is queued in the store (lv_store_ap_delivery_add,
 * or _add_many for all its recipients in one transaction) before anything
 * is sent, so a delivery survives a crash or restart. The queue runs on the
 * loop: due rows are read from the store, signed on libuv's thread pool (RSA
 * signing never blocks the loop), POSTed with lv_http_client, at most
 * max_parallel at a time and at most per_host_parallel to one host.
 * Outcomes:
 *   - 2xx: delivered, the row is deleted (with the others delivered in the
 *     same loop iteration, in one transaction; never sent again meanwhile);
 *   - 410 Gone, or another 4xx except 401, 408 and 429: given up at once
 *     (state FAILED, last_error "HTTP 410 Gone..." with the peer's reason
 *     cut to 200 bytes);
 *   - anything else (connection refused, timeout, 5xx, 401, 408, 429):
 *     retried after backoff_initial_s * 2^(attempts-1), capped at
 *     backoff_max_s, with +-10 % jitter; once the row is older than
 *     give_up_after_s it is given up (FAILED).
 * A timer wakes the queue for the next due row; lv_ap_deliver_kick() wakes it
 * at once (after an enqueue, or when a peer is known to be back).
 *
 * The POST: Content-Type application/activity+json, Accept
 * application/activity+json, Date (IMF-fixdate), Digest SHA-256=,
 * Signature draft-cavage rsa-sha256 over "(request-target) host date digest"
 * with keyId = the row's key_id (see ../shared/reference/ap-interop.md).
 * The body is sent exactly as stored. */
#ifndef LV_AP_DELIVER_H
#define LV_AP_DELIVER_H

#include <openssl/types.h>
#include <stdint.h>
#include <uv.h>

#include "ap/lv_http_client.h"
#include "core/lv_err.h"
#include "store/lv_store.h"

struct lv_ap_deliver_config {
    unsigned max_parallel;      /* requests in flight; 0 = 16 */
    unsigned per_host_parallel; /* requests in flight to one host; 0 = 4 */
    unsigned backoff_initial_s; /* 0 = 60 */
    unsigned backoff_max_s;     /* 0 = 6 h */
    unsigned give_up_after_s;   /* 0 = 2 days */
    unsigned timeout_ms;        /* per request; 0 = 30 s */
};

/* Gives the private key of a local account (a new reference the queue
 * EVP_PKEY_free()s), or a negative lv_err (the delivery is then retried
 * later with that error as last_error). Called on the loop thread. */
typedef int (*lv_ap_deliver_key_fn)(void *ud, const char *account, EVP_PKEY **key,
                                    struct lv_error *err);

/* Told about every finished attempt (for logs, tests and benchmarks); may be
 * NULL. status is the HTTP status (0 when none arrived), err NULL on
 * success. */
typedef void (*lv_ap_deliver_done_fn)(void *ud, int64_t id, const char *inbox, long status,
                                      const struct lv_error *err);

struct lv_ap_deliver;

/* store and http are borrowed and must outlive the queue. cfg NULL = all
 * defaults. The queue starts at once: rows already due (left from a previous
 * run) are sent. */
int lv_ap_deliver_new(uv_loop_t *loop, struct lv_store *store, struct lv_http_client *http,
                      const struct lv_ap_deliver_config *cfg, lv_ap_deliver_key_fn key_fn,
                      void *key_ud, struct lv_ap_deliver **out, struct lv_error *err);
void lv_ap_deliver_set_done_fn(struct lv_ap_deliver *d, lv_ap_deliver_done_fn fn, void *ud);
/* Stops the queue: requests in flight are cancelled (their rows stay
 * PENDING, attempts not counted), signing jobs finish on the pool and are
 * dropped, the timer closes; freed once every handle is closed (keep the
 * loop running). NULL is a no-op. */
void lv_ap_deliver_free(struct lv_ap_deliver *d);

/* Queues one delivery (stored at once) and kicks the queue. *id may be
 * NULL. */
int lv_ap_deliver_enqueue(struct lv_ap_deliver *d, const char *inbox, const char *account,
                          const char *key_id, const char *activity_id, const char *body,
                          int64_t *id, struct lv_error *err);
/* Queues one activity (body, signed by account's key as key_id) for n
 * inboxes, in one store transaction, and kicks the queue; the strings are
 * borrowed for the call. An inbox that is not an http(s) URL the queue can
 * send to (or NULL) is skipped: its ids[i] stays 0. The others are queued
 * all or none: 0 when they were (n = 0 included), else a negative lv_err
 * and nothing is queued (every inbox skipped: LV_ERR_INVAL; a missing
 * account, key id, activity id or body: LV_ERR_INVAL; a store failure).
 * Repeated inboxes are queued as many times. ids (may be NULL) has n
 * slots and gets each inbox's row id, or 0. */
int lv_ap_deliver_enqueue_many(struct lv_ap_deliver *d, const char *const *inboxes, size_t n,
                               const char *account, const char *key_id, const char *activity_id,
                               const char *body, int64_t *ids, struct lv_error *err);
/* Sends what is due now, without waiting for the timer. */
void lv_ap_deliver_kick(struct lv_ap_deliver *d);
/* Makes every PENDING row due now (an admin's "retry now") and kicks. */
int lv_ap_deliver_retry_all(struct lv_ap_deliver *d, struct lv_error *err);

/* Drops the cached private key of account (after a key change): its next
 * delivery asks key_fn again. Signing jobs already started keep theirs. */
void lv_ap_deliver_forget_key(struct lv_ap_deliver *d, const char *account);

/* delivered: rows sent (2xx); failed_attempts: attempts that failed, the
 * last one of a given-up row included; given_up: rows set FAILED. in_flight:
 * rows taken from the store and not finished (signing or POSTing: what
 * max_parallel caps); signing: those of them on the thread pool. */
struct lv_ap_deliver_stats {
    uint64_t delivered, failed_attempts, given_up;
    unsigned in_flight, signing;
};
void lv_ap_deliver_stats(const struct lv_ap_deliver *d, struct lv_ap_deliver_stats *out);

#endif
