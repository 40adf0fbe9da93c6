/* Private to the gateway's files (lv_ap_gw.c: lifecycle, keys, XMPP side;
 * lv_ap_gw_http.c: HTTP endpoints and the inbox). */
#ifndef LV_AP_GW_PRIV_H
#define LV_AP_GW_PRIV_H

#include <openssl/types.h>

#include "ap/lv_ap_actors.h"
#include "ap/lv_ap_addr.h"
#include "ap/lv_ap_deliver.h"
#include "ap/lv_ap_gw.h"
#include "ap/lv_ap_json.h"
#include "ap/lv_http.h"
#include "ap/lv_http_client.h"
#include "core/lv_map.h"
#include "store/lv_store_ap.h"

#define AP_AREA "ap"
#define AP_PAGE_SIZE 10         /* outbox page, as the reference */
#define AP_OUTBOX_FETCH_MAX 500 /* items read from a local node for the outbox */
#define AP_REMOTE_ITEMS_MAX 200 /* items read from a remote outbox into the cache */
#define AP_KEY_NS "ap-gateway"
#define AP_INSTANCE "__instance__" /* key name of the gateway's own actor */

/* An entry of the small expiring caches below. */
struct gw_stamp {
    int64_t expires;
    int value;
};

struct lv_ap_gw {
    uv_loop_t *loop;
    struct lv_store *st;
    struct lv_xmpp *x;
    char *profile;
    char *jid;        /* the component's JID */
    char *local_host; /* the XMPP server's domain */
    char *public_url, *ap_path, *base_url;
    char *ca_file, *allowed_ranges;
    bool closing; /* lv_ap_gw_free() ran: only callbacks still come */
    unsigned refs;
    bool online, local_only, auto_mentions, trust_proxy, allow_private;
    json_t *html_redirect;
    struct lv_ap_addr_cfg addr;
    struct lv_ap_limits limits;
    long window_s;
    unsigned http_port;
    struct lv_http *http;
    struct lv_http_client *client;
    struct lv_ap_actors *actors;
    struct lv_ap_deliver *deliver;
    /* account -> struct gw_key: actor keys, loaded or being generated */
    struct lv_map keys;
    EVP_PKEY *instance_key; /* borrowed from keys */
    /* bare JID -> struct gw_stamp: local accounts known to exist (or not) */
    struct lv_map exists;
    /* recently relayed items ("service\nnode\nitem\nhash" -> gw_stamp), so
     * the notification each follower's virtual JID gets is relayed once */
    struct lv_map recent;
    uv_timer_t tick; /* expiry of the small caches, inbox resume */
    /* inbox rows being processed ("row id" -> 1), not to be resumed twice */
    struct lv_map inbox_inflight;
    uint64_t inbox_accepted, inbox_refused, relayed_out, relayed_in;
};

/* ---- lv_ap_gw.c ---- */

/* The actor URL of a local account (caller frees). */
char *gw_actor_url(struct lv_ap_gw *gw, const char *account);
char *gw_url(struct lv_ap_gw *gw, enum lv_ap_url_type type, const char *arg, const char *arg2);
/* The public key PEM of a local account's actor, generating the key on
 * first use (in the thread pool): fn(pem or NULL, err, ud). */
typedef void (*gw_key_fn)(struct lv_ap_gw *gw, const char *pem, const struct lv_error *err,
                          void *ud);
void gw_key_get(struct lv_ap_gw *gw, const char *account, gw_key_fn fn, void *ud);
/* Does the bare JID exist on its server (disco#info answered)? fn(1/0). */
typedef void (*gw_bool_fn)(struct lv_ap_gw *gw, int yes, void *ud);
void gw_account_exists(struct lv_ap_gw *gw, const char *jid, gw_bool_fn fn, void *ud);
/* Queues activity (borrowed) signed by account to each inbox of the list
 * (deduplicated). */
void gw_deliver(struct lv_ap_gw *gw, const char *account, json_t *activity,
                const char *const *inboxes, size_t n);
/* The virtual JID of a remote account ("toto\40host@gw"), caller frees. */
char *gw_virtual_jid(struct lv_ap_gw *gw, const char *account);

/* An activity to process (from the inbox: stored, verified). */
struct gw_activity {
    int64_t row;
    char *inbox_account; /* NULL: shared inbox */
    struct lv_ap_activity act;
};
/* Processes a stored activity; marks the inbox row when done. Takes a. */
void gw_process(struct lv_ap_gw *gw, struct gw_activity *a);
/* Loads the pending inbox rows and processes them (after a restart). */
void gw_inbox_resume(struct lv_ap_gw *gw);
void gw_inbox_done(struct lv_ap_gw *gw, int64_t row, const char *error);

/* ---- lv_ap_gw_http.c ---- */

int gw_http_start(struct lv_ap_gw *gw, const char *address, struct lv_error *err);

/* ---- lv_ap_gw_xmpp.c ---- */

/* The Note of a local item (its payload an Atom entry), or NULL. */
struct lv_ps_item;
json_t *gw_note_of_item(struct lv_ap_gw *gw, const char *account, const char *jid, const char *node,
                        const struct lv_ps_item *it);

void gw_xmpp_register(struct lv_ap_gw *gw);
void gw_xmpp_unregister(struct lv_ap_gw *gw);
/* A followed remote actor's item, as post data (borrowed), to the XMPP
 * subscribers of its virtual node and into the cache; retract when mb is
 * NULL and item_id names the object. */
void gw_xmpp_remote_item(struct lv_ap_gw *gw, const struct lv_ap_actor *actor, const char *account,
                         const char *item_id, json_t *mb);
typedef void (*gw_done_fn)(struct lv_ap_gw *gw, const struct lv_error *err, void *ud);
/* Subscribes (or unsubscribes) the virtual JID of follower_account to a
 * local node; fn (may be NULL) gets the outcome. */
void gw_xmpp_follow_local(struct lv_ap_gw *gw, const char *follower_account, const char *jid,
                          const char *node, bool subscribe, gw_done_fn fn, void *ud);
/* The subscription of a local JID to a virtual node changed (Accept,
 * Reject): tells the subscriber. */
void gw_xmpp_subscription_changed(struct lv_ap_gw *gw, const char *local_jid, const char *account,
                                  const char *node, const char *state);

#endif
