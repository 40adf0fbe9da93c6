/* Helpers shared by the bridge method modules (lv_bridge_ps.c,
 * lv_bridge_mb.c): reading parameters and turning pubsub results into JSON. */
#ifndef LV_BRIDGE_UTIL_H
#define LV_BRIDGE_UTIL_H

#include <jansson.h>
#include <stdbool.h>

#include "bridge/lv_bridge.h"
#include "pubsub/lv_pubsub.h"

/* A non-empty string parameter, or NULL. Borrowed from params. */
const char *lv_bu_str(json_t *params, const char *key);
/* 0 if params[key] is a non-empty string; otherwise answers the call with
 * LV_ERR_INVAL and returns -1. */
int lv_bu_need(struct lv_bridge_call *call, json_t *params, const char *key);

/* Where a pubsub call goes: "uri" (an xmpp: URI) and/or "service", "node"
 * (which win over the URI's parts). Strings owned. */
struct lv_bu_target {
    char *service; /* NULL = own PEP */
    char *node;
    char *item; /* from the URI, if it names one */
};
/* Fills t; on a bad URI or a missing node (when needed), answers the call
 * and returns -1 (t then needs no release). */
int lv_bu_target(struct lv_bridge_call *call, json_t *params, bool node_needed,
                 struct lv_bu_target *t);
void lv_bu_target_release(struct lv_bu_target *t);

/* params["rsm"] {max, after, before, index} → request (strings borrowed).
 * False when absent. */
bool lv_bu_rsm(json_t *params, struct lv_rsm_req *rsm);
/* params["item_ids"] as a NULL-terminated array of borrowed strings (the
 * array is the caller's to free, with room for one more entry). */
const char **lv_bu_ids(json_t *params, size_t *n);

/* [{id, publisher?, xml?}] and {first, last, index, count} | null. New refs. */
json_t *lv_bu_items_json(const struct lv_ps_items *items);
json_t *lv_bu_rsm_json(const struct lv_rsm_res *rsm);

struct lv_backend;
/* Answers a read from the pubsub cache when it can: use_cache is not false
 * in params, and the node (service NULL = the profile's own PEP) is fully
 * cached. posts: answer XEP-0277 post data (mbGet) instead of items. Returns
 * true when the call was answered; false means "go to the network" (a
 * background sync may have started). */
bool lv_bu_cache_read(struct lv_backend *b, struct lv_bridge_call *call, json_t *params,
                      struct lv_xmpp *x, const char *service, const char *node,
                      const char *const *ids, size_t n_ids, long max_items,
                      const struct lv_rsm_req *rsm, bool posts);

/* Write-through of our own publications and retractions to the cache (for
 * cached nodes only; service NULL = own PEP). */
void lv_bu_cache_published(struct lv_backend *b, struct lv_xmpp *x, const char *service,
                           const char *node, const char *id, const struct lv_xml *payload);
void lv_bu_cache_retracted(struct lv_backend *b, struct lv_xmpp *x, const char *service,
                           const char *node, const char *id);

#endif
