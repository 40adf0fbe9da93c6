/* lv_backend: the daemon's context — loop, configuration, storage, bridge
 * and one XMPP session per connected profile. Nothing global: everything the
 * daemon holds hangs off struct lv_backend. */
#ifndef LV_BACKEND_H
#define LV_BACKEND_H

#include <uv.h>

#include "bridge/lv_bridge.h"
#include "core/lv_config.h"
#include "store/lv_store.h"

struct lv_session;
struct lv_cache;

struct lv_backend {
    uv_loop_t *loop;
    struct lv_config *cfg; /* owned */
    struct lv_store *store;
    struct lv_bridge *bridge;
    struct lv_session *sessions;
    struct lv_cache *cache;
    uv_signal_t sigterm, sigint;
    bool stopping;
};

/* Opens the store (creating local_dir), listens on the bridge socket and
 * installs SIGTERM/SIGINT handlers. Takes ownership of cfg. */
int lv_backend_init(struct lv_backend *b, uv_loop_t *loop, struct lv_config *cfg,
                    struct lv_error *err);
/* Connects every profile whose Connection/autoconnect_backend is true. */
void lv_backend_autoconnect(struct lv_backend *b);
/* Runs the loop until shutdown. */
int lv_backend_run(struct lv_backend *b);
/* Disconnects everything and closes handles; the loop then ends. */
void lv_backend_shutdown(struct lv_backend *b);
/* Frees what init allocated (after the loop ended). */
void lv_backend_release(struct lv_backend *b);

/* Connects a profile (idempotent; from FAILED, tries again). */
int lv_backend_connect(struct lv_backend *b, const char *profile, struct lv_error *err);
/* Disconnects a profile. LV_ERR_NOT_FOUND when it has no session. */
int lv_backend_disconnect(struct lv_backend *b, const char *profile, struct lv_error *err);

/* For bridge methods: the online stream of the call's profile (its
 * "profile" param, or the default profile). When there is none, answers the
 * call with the error and returns NULL. */
struct lv_xmpp *lv_backend_call_xmpp(struct lv_backend *b, struct lv_bridge_call *call,
                                     json_t *params);
/* The pubsub service of the profile's server (discovered once online), or
 * NULL if it has none or discovery is not finished. Borrowed. */
const char *lv_backend_pubsub_service(struct lv_backend *b, struct lv_xmpp *x);

/* Method tables of the other bridge modules (lv_bridge_ps.c, lv_bridge_mb.c). */
void lv_bridge_ps_register(struct lv_backend *b);
void lv_bridge_mb_register(struct lv_backend *b);
void lv_bridge_cache_register(struct lv_backend *b);
void lv_bridge_ap_register(struct lv_backend *b);
/* The ActivityPub gateway of a connected ap-gateway profile (NULL: the
 * first one), or NULL. */
struct lv_ap_gw *lv_backend_ap_gw(struct lv_backend *b, const char *profile);

/* The profile name of a stream (borrowed), or NULL. */
const char *lv_backend_profile_of(struct lv_backend *b, struct lv_xmpp *x);

#endif
