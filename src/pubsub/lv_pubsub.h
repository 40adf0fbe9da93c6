/* lv_pubsub: XEP-0060 publish-subscribe, client side, with XEP-0059 result
 * set management.
 *
 * Every operation is asynchronous on the stream's loop and calls its callback
 * exactly once, with err set on failure (err->cond is the XMPP condition,
 * e.g. "item-not-found"; a pubsub-specific condition such as
 * "precondition-not-met" replaces the general one in err->cond, which then
 * stays in err->msg). Services are JIDs;
 * NULL service means the user's own PEP service (the request has no 'to').
 * Node configuration, publish-options and subscribe options are JSON objects
 * {var: value} with full field names ("pubsub#access_model"). */
#ifndef LV_PUBSUB_H
#define LV_PUBSUB_H

#include <jansson.h>
#include <stdbool.h>

#include "xmpp/lv_xmpp.h"

#define LV_NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define LV_NS_PUBSUB_EVENT "http://jabber.org/protocol/pubsub#event"
#define LV_NS_PUBSUB_OWNER "http://jabber.org/protocol/pubsub#owner"
#define LV_NS_PUBSUB_ERRORS "http://jabber.org/protocol/pubsub#errors"
#define LV_NS_RSM "http://jabber.org/protocol/rsm"
#define LV_NS_PUBSUB_PUBLIC_SUB "urn:xmpp:pps:0"

/* XEP-0059 request: fields at -1 / NULL are left out. before "" = last page. */
struct lv_rsm_req {
    long max;
    const char *after;
    const char *before;
    long index;
};
#define LV_RSM_REQ_NONE                                                                            \
    {                                                                                              \
        -1, NULL, NULL, -1                                                                         \
    }

/* XEP-0059 answer, when the service sent one (present). */
struct lv_rsm_res {
    bool present;
    char *first, *last; /* owned, may be NULL */
    long first_index;   /* -1 if absent */
    long count;         /* -1 if absent */
};

struct lv_ps_item {
    char *id;               /* owned */
    char *publisher;        /* owned, NULL if the service did not say */
    struct lv_xml *payload; /* one reference, NULL for an empty item */
};

struct lv_ps_items {
    struct lv_ps_item *items;
    size_t n;
    struct lv_rsm_res rsm;
};
/* Frees the items, their payload references and the RSM strings, and
 * leaves *items empty. NULL is a no-op. */
void lv_ps_items_release(struct lv_ps_items *items);

/* Outcome of an operation that returns nothing or one string: the id a
 * publish got, the name of a created (instant) node... (borrowed, may be
 * NULL). */
typedef void (*lv_ps_done_fn)(struct lv_xmpp *x, const char *id, const struct lv_error *err,
                              void *ud);
/* Outcome carrying items (borrowed for the call). */
typedef void (*lv_ps_items_fn)(struct lv_xmpp *x, struct lv_ps_items *items,
                               const struct lv_error *err, void *ud);
/* Outcome carrying JSON (borrowed for the call; incref to keep). */
typedef void (*lv_ps_json_fn)(struct lv_xmpp *x, json_t *result, const struct lv_error *err,
                              void *ud);

/* Retrieves items: ids (n_ids of them) if given, else the last max_items
 * (0 = no max_items attribute) with an optional RSM request. */
void lv_pubsub_get_items(struct lv_xmpp *x, const char *service, const char *node,
                         const char *const *ids, size_t n_ids, long max_items,
                         const struct lv_rsm_req *rsm, lv_ps_items_fn fn, void *ud);
/* Publishes payload (borrowed; may be NULL) as item id (NULL = the service
 * picks one, given to fn), with publish-options (NULL = none). */
void lv_pubsub_publish(struct lv_xmpp *x, const char *service, const char *node, const char *id,
                       const struct lv_xml *payload, json_t *options, lv_ps_done_fn fn, void *ud);
void lv_pubsub_retract(struct lv_xmpp *x, const char *service, const char *node, const char *id,
                       bool notify, lv_ps_done_fn fn, void *ud);
/* Creates node (NULL = instant node, its name given to fn) with config. */
void lv_pubsub_create(struct lv_xmpp *x, const char *service, const char *node, json_t *config,
                      lv_ps_done_fn fn, void *ud);
void lv_pubsub_delete_node(struct lv_xmpp *x, const char *service, const char *node,
                           lv_ps_done_fn fn, void *ud);
void lv_pubsub_purge(struct lv_xmpp *x, const char *service, const char *node, lv_ps_done_fn fn,
                     void *ud);
/* Node configuration: result {"config": {var: value}, "meta": {var: {type,
 * label, options}}}. */
void lv_pubsub_config_get(struct lv_xmpp *x, const char *service, const char *node,
                          lv_ps_json_fn fn, void *ud);
void lv_pubsub_config_set(struct lv_xmpp *x, const char *service, const char *node, json_t *config,
                          lv_ps_done_fn fn, void *ud);
/* Subscribes jid (NULL = our bare JID) with options (NULL = none; the
 * XEP-0465 public flag is {"pubsub#public": true} handled by the caller's
 * options). Result {"subscription": "subscribed"|"pending"|..., "subid": …}. */
void lv_pubsub_subscribe(struct lv_xmpp *x, const char *service, const char *node, const char *jid,
                         json_t *options, lv_ps_json_fn fn, void *ud);
void lv_pubsub_unsubscribe(struct lv_xmpp *x, const char *service, const char *node,
                           const char *jid, const char *subid, lv_ps_done_fn fn, void *ud);
/* Our subscriptions at service (node NULL = all): result
 * [{"node", "jid", "subscription", "subid"?}]. */
void lv_pubsub_subscriptions(struct lv_xmpp *x, const char *service, const char *node,
                             lv_ps_json_fn fn, void *ud);
/* Our affiliations at service (node NULL = all): result {node: affiliation}. */
void lv_pubsub_affiliations(struct lv_xmpp *x, const char *service, const char *node,
                            lv_ps_json_fn fn, void *ud);
/* Owner use cases. get: result {jid: affiliation} / [{"jid","subscription","subid"?}];
 * set: affiliations {jid: affiliation}, subscriptions {jid: subscription}. */
void lv_pubsub_node_affiliations_get(struct lv_xmpp *x, const char *service, const char *node,
                                     lv_ps_json_fn fn, void *ud);
void lv_pubsub_node_affiliations_set(struct lv_xmpp *x, const char *service, const char *node,
                                     json_t *affiliations, lv_ps_done_fn fn, void *ud);
void lv_pubsub_node_subscriptions_get(struct lv_xmpp *x, const char *service, const char *node,
                                      lv_ps_json_fn fn, void *ud);
void lv_pubsub_node_subscriptions_set(struct lv_xmpp *x, const char *service, const char *node,
                                      json_t *subscriptions, lv_ps_done_fn fn, void *ud);

/* Pubsub event notifications (<message> with a pubsub#event payload). */
enum lv_ps_event_kind {
    LV_PS_EV_ITEMS,
    LV_PS_EV_RETRACT,
    LV_PS_EV_PURGE,
    LV_PS_EV_DELETE,
    LV_PS_EV_CONFIG
};
struct lv_ps_event {
    enum lv_ps_event_kind kind;
    const char *service; /* the sender */
    const char *node;
    struct lv_ps_items *items;    /* ITEMS: published items (payloads may be NULL) */
    const char *const *retracted; /* RETRACT (and retracts inside an items event) */
    size_t n_retracted;
};
typedef void (*lv_ps_event_fn)(struct lv_xmpp *x, const struct lv_ps_event *ev, void *ud);
/* Installs a handler on x that parses every pubsub event and calls fn (ev is
 * borrowed for the call). One stream handler serves all the listeners of x;
 * the same (fn, ud) registered twice is called once. A message whose event
 * is malformed is ignored (debug log) and left to the stream's other
 * handlers. A listener may add or remove listeners from its callback. */
void lv_pubsub_on_event(struct lv_xmpp *x, lv_ps_event_fn fn, void *ud);
/* Removes the listener (fn, ud) of x; the stream handler goes with the last
 * one. Call it for every listener before lv_xmpp_free(x): the listeners are
 * kept here, per stream, until then. */
void lv_pubsub_off_event(struct lv_xmpp *x, lv_ps_event_fn fn, void *ud);

#endif
