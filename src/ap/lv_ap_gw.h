/* lv_ap_gw: the ActivityPub <-> XMPP gateway, a component entry point
 * ("ap-gateway").
 *
 * One gateway per connected component profile whose entry point is
 * "ap-gateway". It serves ActivityPub over HTTP (behind a TLS reverse
 * proxy) for the XMPP server's users, and an XMPP pubsub service of virtual
 * JIDs ("toto\40mastodon.social@ap.example.org") for fediverse actors.
 * Configuration: the [component ap-gateway] section (doc/configuration.md).
 * Design: doc/ap-gateway.md. */
#ifndef LV_AP_GW_H
#define LV_AP_GW_H

#include <jansson.h>
#include <uv.h>

#include "core/lv_config.h"
#include "core/lv_err.h"
#include "store/lv_store.h"
#include "xmpp/lv_xmpp.h"

#define LV_AP_GW_ENTRY_POINT "ap-gateway"

struct lv_ap_gw;

/* Creates the gateway of profile (its component stream x, borrowed: the
 * gateway registers its stanza handlers on it and must be freed before
 * it). Reads and checks the configuration, opens the HTTP listener and the
 * delivery queue (deliveries left from a previous run resume). Inbox
 * activities still pending are processed once the stream is online.
 * LV_ERR_CONFIG with a message for a bad setting, LV_ERR_IO when the port
 * cannot be bound. */
int lv_ap_gw_new(uv_loop_t *loop, const struct lv_config *cfg, struct lv_store *st,
                 const char *profile, struct lv_xmpp *x, struct lv_ap_gw **out,
                 struct lv_error *err);
/* Call on every state change of the component's stream. */
void lv_ap_gw_state(struct lv_ap_gw *gw, enum lv_xmpp_state state);
void lv_ap_gw_free(struct lv_ap_gw *gw);

/* {public_url, http_port, actors_known, followers, following, inbox:
 * {pending, done, failed}, deliveries: {pending, failed, in_flight,
 * delivered}}: new reference. */
json_t *lv_ap_gw_status(struct lv_ap_gw *gw);
/* The delivery queue: state "pending", "failed" or NULL (both), as an array
 * of {id, inbox, account, activity_id, state, attempts, created,
 * next_attempt, last_error}. */
json_t *lv_ap_gw_queue(struct lv_ap_gw *gw, const char *state, size_t limit, struct lv_error *err);
/* Makes every pending delivery due now. */
int lv_ap_gw_queue_retry(struct lv_ap_gw *gw, struct lv_error *err);
/* The HTTP port actually bound. */
unsigned lv_ap_gw_http_port(const struct lv_ap_gw *gw);

#endif
