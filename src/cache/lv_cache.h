/* lv_cache: the pubsub cache's logic — what to cache, syncing, live updates.
 *
 * The storage is lv_store_cache; this module decides. A node is analysed
 * when first read: XEP-0277 blogs (urn:xmpp:microblog:0) and their comments
 * nodes are cached ("blog" / "comment"); any node can also be synced on
 * request (its items then cached raw, still searchable by text). A sync
 * subscribes to the node (so that its notifications keep the copy fresh),
 * then pages through it with RSM up to a limit; a service without RSM
 * answers everything at once. Its state is stored: a sync interrupted by a
 * restart or a disconnection starts again when the profile is back online; a
 * failed one is retried after a delay (never "never again"). Reads of a
 * completely synced node are answered from the cache.
 *
 * The cache is bounded: when it holds more than max_items items (all nodes,
 * all profiles), the oldest of them (by date) are deleted, a bounded batch
 * per turn of the loop, until it is back within the bound. A deletion costs
 * 0.1 to 0.6 ms per item in a cache of a million (text index, tags, large
 * values stored apart), so the batch is sized from the time the previous
 * steps took, for steps of about LV_CACHE_TRIM_STEP_MS. A node that lost
 * items this way stays complete but trimmed: the cache holds every item of
 * it dated after its trimmed_upto, not the older ones. Reads of a trimmed
 * node are answered from the cache only when the answer lies entirely among
 * those newer items (the newest pages, paging towards the older items while
 * pages are full); any read that reaches further (RSM paging past the end of
 * what is cached, paging from the oldest item, an item that is not cached)
 * goes to the service. Its RSM count (and, paging from the oldest, index)
 * then counts the trimmed items too: an approximation, as XEP-0059 allows,
 * since an item retracted after it was trimmed is still counted.
 *
 * Everything runs on the loop thread. */
#ifndef LV_CACHE_H
#define LV_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "pubsub/lv_pubsub.h"
#include "store/lv_store.h"
#include "store/lv_store_cache.h"

struct lv_cache_config {
    bool enabled;           /* false: pubsub_cache_strategy = no_cache */
    unsigned sync_max;      /* most items a sync fetches (default 5000) */
    unsigned page;          /* RSM page size of a sync (default 100) */
    unsigned retry_delay_s; /* after a failed sync (default 300) */
    unsigned max_items;     /* the bound of the whole cache; 0: none */
};

/* Items deleted per turn of the loop when the cache is over its bound: the
 * first step's, and the most any step deletes. Between the two, the batch
 * follows the measured cost, aiming at steps of LV_CACHE_TRIM_STEP_MS. */
#define LV_CACHE_TRIM_BATCH_FIRST 100
#define LV_CACHE_TRIM_BATCH 1000
#define LV_CACHE_TRIM_STEP_MS 10

struct lv_cache;

/* Creates the cache logic over st (borrowed; must outlive it). The bound
 * is checked at once (it may have been lowered since the last run). */
struct lv_cache *lv_cache_new(uv_loop_t *loop, struct lv_store *st,
                              const struct lv_cache_config *cfg);
/* Stops syncs (their state stays in storage) and frees. NULL is a no-op. */
void lv_cache_free(struct lv_cache *c);
bool lv_cache_enabled(const struct lv_cache *c);

/* The profile's stream is online: syncs left in progress (a restart) and
 * failed ones whose retry time came are started again. */
void lv_cache_profile_online(struct lv_cache *c, const char *profile, struct lv_xmpp *x);
/* The profile's stream is going away: its running syncs stop (and will
 * resume when it is back). */
void lv_cache_profile_offline(struct lv_cache *c, const char *profile);
/* A pubsub notification for profile: applied to the node if it is cached. */
void lv_cache_on_event(struct lv_cache *c, const char *profile, const struct lv_ps_event *ev);

/* A read of (service, node) by profile (service: the real JID, never NULL).
 * If the node is fully cached (or trimmed, and the answer is all among the
 * items still cached), fills *page from the cache and returns true.
 * Otherwise returns false, and starts a background sync when the node is
 * analysed as cacheable and was never synced. */
bool lv_cache_read(struct lv_cache *c, const char *profile, struct lv_xmpp *x, const char *service,
                   const char *node, const struct lv_store_cache_page_req *req,
                   struct lv_store_cache_page *page);

/* Outcome of an explicit sync: the node's record after it (borrowed) or an
 * error. */
typedef void (*lv_cache_sync_fn)(const struct lv_store_cache_node *node, const struct lv_error *err,
                                 void *ud);
/* Syncs (service, node) now, from scratch: cached items are dropped first.
 * fn (may be NULL) is called once when it ends. */
void lv_cache_sync(struct lv_cache *c, const char *profile, struct lv_xmpp *x, const char *service,
                   const char *node, lv_cache_sync_fn fn, void *ud);

/* What an item of an analysed node becomes in the cache: its text for full
 * text search and its parsed data (XEP-0277 post data for blogs). Exposed
 * for tests. *text and *parsed are the caller's (parsed may be NULL). */
void lv_cache_item_analyse(const char *analyser, const char *service, const char *node,
                           const struct lv_ps_item *item, char **text, json_t **parsed,
                           double *published, double *updated);

#endif
