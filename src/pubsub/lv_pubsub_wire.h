/* lv_pubsub_wire: the XEP-0060 requests that lv_pubsub sends and the parsers
 * of their answers and of event messages, without any network.
 *
 * Private to lv_pubsub.c and its unit tests (tests/unit/test_pubsub_parse.c):
 * other modules use lv_pubsub.h.
 *
 * Builders return 0 and a new iq in *out (caller owns the reference; no id
 * yet; addressed to service, or without 'to' for the user's own PEP service
 * when service is NULL), or LV_ERR_INVAL with *out NULL when an argument is
 * missing or a JSON form/value has the wrong type.
 *
 * Parsers read a result iq (borrowed). They never trust a count from the
 * peer, skip entries that lack a required attribute (debug log), and return
 * LV_ERR_PROTO with err set when the answer is not what the request calls
 * for. An answer without any child element is read as an empty result,
 * because some services answer "nothing" that way. */
#ifndef LV_PUBSUB_WIRE_H
#define LV_PUBSUB_WIRE_H

#include "pubsub/lv_pubsub.h"

/* ---- requests (XEP-0060 use cases) ---- */

/* <pubsub><items node max_items?>(<item id/>…)</items><set xmlns=rsm/>?:
 * ids (n_ids of them) if n_ids > 0, else max_items (0 = left out) and the
 * RSM request (NULL or all fields unset = none). */
int lv_pubsub_build_items(const char *service, const char *node, const char *const *ids,
                          size_t n_ids, long max_items, const struct lv_rsm_req *rsm,
                          struct lv_xml **out, struct lv_error *err);
/* <publish node><item id?>payload?</item></publish> and, with options
 * non-NULL, <publish-options> holding a pubsub#publish-options submit form. */
int lv_pubsub_build_publish(const char *service, const char *node, const char *id,
                            const struct lv_xml *payload, json_t *options, struct lv_xml **out,
                            struct lv_error *err);
/* <retract node notify='true'?><item id/></retract>. */
int lv_pubsub_build_retract(const char *service, const char *node, const char *id, bool notify,
                            struct lv_xml **out, struct lv_error *err);
/* <create node?/> (NULL = instant node) and, with config non-NULL,
 * <configure> holding a pubsub#node_config submit form. */
int lv_pubsub_build_create(const char *service, const char *node, json_t *config,
                           struct lv_xml **out, struct lv_error *err);
/* Owner namespace: <delete node/>, <purge node/>, <configure node/> (get) and
 * <configure node><x submit node_config/></configure> (set). */
int lv_pubsub_build_delete(const char *service, const char *node, struct lv_xml **out,
                           struct lv_error *err);
int lv_pubsub_build_purge(const char *service, const char *node, struct lv_xml **out,
                          struct lv_error *err);
int lv_pubsub_build_config_get(const char *service, const char *node, struct lv_xml **out,
                               struct lv_error *err);
int lv_pubsub_build_config_set(const char *service, const char *node, json_t *config,
                               struct lv_xml **out, struct lv_error *err);
/* <subscribe node jid/> and, with options non-NULL, <options> holding a
 * pubsub#subscribe_options submit form. jid is required here. */
int lv_pubsub_build_subscribe(const char *service, const char *node, const char *jid,
                              json_t *options, struct lv_xml **out, struct lv_error *err);
/* <unsubscribe node jid subid?/>. jid is required here. */
int lv_pubsub_build_unsubscribe(const char *service, const char *node, const char *jid,
                                const char *subid, struct lv_xml **out, struct lv_error *err);
/* iq get <subscriptions node?/> / <affiliations node?/> (node NULL = all). */
int lv_pubsub_build_subscriptions(const char *service, const char *node, struct lv_xml **out,
                                  struct lv_error *err);
int lv_pubsub_build_affiliations(const char *service, const char *node, struct lv_xml **out,
                                 struct lv_error *err);
/* Owner namespace: <affiliations node/> / <subscriptions node/>, get and
 * set; set writes one <affiliation jid affiliation/> (or <subscription jid
 * subscription/>) per member of the JSON object {jid: string}. */
int lv_pubsub_build_node_affiliations_get(const char *service, const char *node,
                                          struct lv_xml **out, struct lv_error *err);
int lv_pubsub_build_node_affiliations_set(const char *service, const char *node,
                                          json_t *affiliations, struct lv_xml **out,
                                          struct lv_error *err);
int lv_pubsub_build_node_subscriptions_get(const char *service, const char *node,
                                           struct lv_xml **out, struct lv_error *err);
int lv_pubsub_build_node_subscriptions_set(const char *service, const char *node,
                                           json_t *subscriptions, struct lv_xml **out,
                                           struct lv_error *err);

/* ---- answers ---- */

/* Items of an items answer into out (zeroed first; release with
 * lv_ps_items_release() on success; nothing to release on failure). Payloads
 * are copies. Items without id are skipped; an element other than <item>
 * inside <items>, an item with several payloads or a malformed RSM set is
 * LV_ERR_PROTO. */
int lv_pubsub_parse_items(const struct lv_xml *reply, struct lv_ps_items *out,
                          struct lv_error *err);
/* An RSM <set/> (set may be NULL: present stays false) into out (zeroed
 * first; first/last owned by out, freed by lv_ps_items_release() or
 * lv_pubsub_rsm_release()). A count or index that is not a decimal number is
 * LV_ERR_PROTO. */
int lv_pubsub_parse_rsm(const struct lv_xml *set, struct lv_rsm_res *out, struct lv_error *err);
void lv_pubsub_rsm_release(struct lv_rsm_res *rsm);
/* The item id a publish answer gives (*id caller's, NULL when the answer
 * does not say: the requested id then holds). */
int lv_pubsub_parse_published_id(const struct lv_xml *reply, char **id, struct lv_error *err);
/* The node name a create answer gives (*node caller's, NULL when absent). */
int lv_pubsub_parse_created_node(const struct lv_xml *reply, char **node, struct lv_error *err);
/* The JSON answers. node is the node the request named (NULL if none): the
 * user's subscription and affiliation lists use it for entries that name no
 * node (ejabberd leaves node out when the request named one); the others
 * ignore it. *out is the caller's. */
/* {"config": {var: value}, "meta": {var: {...}}} from a configure answer.
 * A missing form is LV_ERR_PROTO. */
int lv_pubsub_parse_config(const struct lv_xml *reply, const char *node, json_t **out,
                           struct lv_error *err);
/* {"subscription": state, "subid"?: id} from a subscribe answer; an answer
 * without <subscription/> means "subscribed". */
int lv_pubsub_parse_subscription(const struct lv_xml *reply, const char *node, json_t **out,
                                 struct lv_error *err);
/* [{"node", "jid", "subscription", "subid"?}] from a subscriptions answer;
 * an entry's node defaults to the <subscriptions node>, then to node. */
int lv_pubsub_parse_subscriptions(const struct lv_xml *reply, const char *node, json_t **out,
                                  struct lv_error *err);
/* {node: affiliation} from an affiliations answer (same defaults). */
int lv_pubsub_parse_affiliations(const struct lv_xml *reply, const char *node, json_t **out,
                                 struct lv_error *err);
/* Owner answers: {jid: affiliation} and [{"jid", "subscription", "subid"?}]. */
int lv_pubsub_parse_node_affiliations(const struct lv_xml *reply, const char *node, json_t **out,
                                      struct lv_error *err);
int lv_pubsub_parse_node_subscriptions(const struct lv_xml *reply, const char *node, json_t **out,
                                       struct lv_error *err);

/* Refines err (already filled by lv_xmpp_stanza_error() from the error
 * stanza reply, which may be NULL): a pubsub#errors condition replaces
 * err->cond; err->msg keeps the general condition and gains the pubsub one
 * (and the unsupported feature, if named). err->code is unchanged. */
void lv_pubsub_refine_error(const struct lv_xml *reply, struct lv_error *err);

/* ---- event notifications ---- */

/* A parsed event; ev points into the other members. */
struct lv_ps_event_data {
    struct lv_ps_event ev;
    char *service, *node;
    struct lv_ps_items items;
    char **retracted;
    size_t n_retracted, retracted_cap;
};
/* Reads a <message> carrying a pubsub#event into out (zeroed first; release
 * with lv_pubsub_event_data_release() on success only). The service is the
 * message's 'from', or default_from when it has none. Kinds: ITEMS (items,
 * plus any retracts beside them), RETRACT (only retracts), PURGE, DELETE,
 * CONFIG. LV_ERR_PROTO for an event without node, of an unknown kind, or
 * items/retract without any usable id. */
int lv_pubsub_parse_event(const struct lv_xml *message, const char *default_from,
                          struct lv_ps_event_data *out, struct lv_error *err);
void lv_pubsub_event_data_release(struct lv_ps_event_data *d);

/* Runs the listeners that lv_pubsub_on_event() registered on x for message
 * (borrowed), as the stream's handler does for a received <message>.
 * Returns true when message was an event and went to the listeners; false
 * when x has no listener or the event is malformed (ignored). Lets the
 * listener bookkeeping be tested without a server. */
bool lv_pubsub_dispatch_event(struct lv_xmpp *x, const struct lv_xml *message);

#endif
