/* lv_xmpp: an XMPP stream on the libuv loop, as a client (c2s) or as a
 * XEP-0114 component.
 *
 * One struct lv_xmpp per profile. It resolves the server (host override, or
 * DNS SRV _xmpp-client._tcp, or the domain itself), connects, negotiates
 * STARTTLS (certificate checked unless the profile says otherwise), SASL
 * (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN only over TLS) and resource binding —
 * or the component handshake — then routes stanzas to registered handlers.
 * It tracks iqs by id, so that every lv_xmpp_send_iq() caller gets either
 * the answer or an error (remote-server-timeout after the timeout, or when
 * the connection is lost). A lost connection is re-opened with exponential
 * backoff; refused credentials stop it (state FAILED) rather than hammer the
 * server. Everything runs on the loop thread: no function here blocks. */
#ifndef LV_XMPP_H
#define LV_XMPP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/lv_err.h"
#include "xml/lv_xml.h"

#define LV_NS_CLIENT "jabber:client"
#define LV_NS_COMPONENT "jabber:component:accept"
#define LV_NS_STREAMS "http://etherx.jabber.org/streams"
#define LV_NS_STREAM_ERRORS "urn:ietf:params:xml:ns:xmpp-streams"
#define LV_NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define LV_NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define LV_NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define LV_NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define LV_NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define LV_NS_PING "urn:xmpp:ping"

enum lv_xmpp_kind { LV_XMPP_CLIENT, LV_XMPP_COMPONENT };

enum lv_xmpp_state {
    LV_XMPP_OFFLINE,    /* not started, or stopped */
    LV_XMPP_CONNECTING, /* resolving, connecting, TLS, authentication, binding */
    LV_XMPP_ONLINE,     /* stanzas flow */
    LV_XMPP_WAITING,    /* lost or failed transiently; reconnecting after a delay */
    LV_XMPP_FAILED,     /* failed permanently (credentials, TLS policy); not retried */
};

struct lv_xmpp_config {
    enum lv_xmpp_kind kind;
    const char *jid;             /* client: user JID (a resource is optional); component: its JID */
    const char *password;        /* client password or component secret; never logged */
    const char *host;            /* server host override (profile "Force server"), or NULL */
    unsigned port;               /* port override (profile "Force port"), or 0 */
    bool check_certificate;      /* TLS required and verified (true), or optional and unchecked */
    const char *ca_file;         /* PEM CA file, NULL/"" = system store */
    const char *resource;        /* resource to bind when the JID has none, or NULL */
    struct lv_xml_limits limits; /* after authentication */
    struct lv_xml_limits preauth_limits; /* before */
    unsigned iq_timeout_ms;
    unsigned connect_timeout_ms;
    unsigned reconnect_min_ms;
    unsigned reconnect_max_ms;
    unsigned ping_interval_ms; /* 0 = no keepalive pings */
};

struct lv_xmpp;

/* Called on every state change; err is set for WAITING and FAILED (why the
 * connection ended) and NULL otherwise. */
typedef void (*lv_xmpp_state_fn)(struct lv_xmpp *x, enum lv_xmpp_state state,
                                 const struct lv_error *err, void *ud);
/* A stanza handler; returns true when it handled the stanza (an iq get/set
 * that no handler takes gets a service-unavailable error). The stanza is
 * borrowed: lv_xml_ref() it to keep it. */
typedef bool (*lv_xmpp_stanza_fn)(struct lv_xmpp *x, struct lv_xml *stanza, void *ud);
/* The outcome of an iq: reply is the result (type "result") on success; on
 * failure err is set (err->cond is the stanza error condition, e.g.
 * "item-not-found" or "remote-server-timeout") and reply is the error stanza
 * if one came back, else NULL. Both are borrowed for the call. */
typedef void (*lv_xmpp_iq_fn)(struct lv_xmpp *x, struct lv_xml *reply, const struct lv_error *err,
                              void *ud);

/* Fills c with defaults (limits, timeouts) and zeroes the rest. */
void lv_xmpp_config_defaults(struct lv_xmpp_config *c);

/* Creates a stream (not yet connected). The config's strings are copied.
 * LV_ERR_INVAL when the JID is invalid. Caller frees with lv_xmpp_free(). */
int lv_xmpp_new(uv_loop_t *loop, const struct lv_xmpp_config *cfg, struct lv_xmpp **out,
                struct lv_error *err);
/* Stops the stream and frees it once its libuv handles are closed (so it may
 * be called from any callback). NULL is a no-op. */
void lv_xmpp_free(struct lv_xmpp *x);
void lv_xmpp_set_state_fn(struct lv_xmpp *x, lv_xmpp_state_fn fn, void *ud);

/* Starts connecting (and reconnecting). From FAILED, tries again. */
void lv_xmpp_start(struct lv_xmpp *x);
/* Closes the stream cleanly and stays OFFLINE. */
void lv_xmpp_stop(struct lv_xmpp *x);

enum lv_xmpp_state lv_xmpp_state(const struct lv_xmpp *x);
const char *lv_xmpp_state_name(enum lv_xmpp_state s);
/* Why the last connection ended (code 0 if it did not). Borrowed. */
const struct lv_error *lv_xmpp_last_error(const struct lv_xmpp *x);
/* Our JID: the bound full JID once online, else the configured one. Borrowed. */
const char *lv_xmpp_jid(const struct lv_xmpp *x);
/* The server's domain (for a component, its parent domain). Borrowed. */
const char *lv_xmpp_server(const struct lv_xmpp *x);
/* Stanzas received and sent since creation. */
void lv_xmpp_counters(const struct lv_xmpp *x, uint64_t *in, uint64_t *out);
/* Milliseconds the last successful connection took, from the start of the
 * attempt (resolution) to online; 0 before the first. */
uint64_t lv_xmpp_connect_ms(const struct lv_xmpp *x);

/* Registers a handler for stanzas named name ("iq", "message", "presence";
 * NULL = all) of type (NULL = any) having a child in namespace ns (NULL =
 * any; for iqs, the payload's namespace). Handlers run in registration
 * order until one returns true. */
void lv_xmpp_add_handler(struct lv_xmpp *x, const char *name, const char *type, const char *ns,
                         lv_xmpp_stanza_fn fn, void *ud);
void lv_xmpp_remove_handler(struct lv_xmpp *x, lv_xmpp_stanza_fn fn, void *ud);

/* Per-stream state of other modules (pubsub event listeners...), released
 * with the stream. key is a constant string naming the module; set replaces
 * (without releasing) what was there; release may be NULL. get returns NULL
 * when nothing is set. */
void lv_xmpp_ext_set(struct lv_xmpp *x, const char *key, void *ptr, void (*release)(void *));
void *lv_xmpp_ext_get(const struct lv_xmpp *x, const char *key);

/* Sends a stanza (borrowed). A component's stanzas get its JID as "from"
 * when they have none. Returns LV_ERR_AGAIN (and sends nothing) when the
 * stream is not online. */
int lv_xmpp_send(struct lv_xmpp *x, struct lv_xml *stanza);
/* Sends an iq (taking the reference) and calls fn exactly once with the
 * outcome. An id is set if missing. timeout_ms 0 = the configured default. */
void lv_xmpp_send_iq(struct lv_xmpp *x, struct lv_xml *iq, unsigned timeout_ms, lv_xmpp_iq_fn fn,
                     void *ud);
/* A new unique stanza id; caller frees. */
char *lv_xmpp_new_id(struct lv_xmpp *x);

/* New iq of the given type (and to, if non-NULL), in the stream's namespace.
 * Caller owns the reference. */
struct lv_xml *lv_xmpp_iq_new(const char *type, const char *to);
/* New iq "result" answering req (to/from swapped, same id). Caller owns. */
struct lv_xml *lv_xmpp_iq_result(const struct lv_xml *req);
/* Answers req (any stanza) with an error of the given type ("cancel",
 * "modify", "auth", "wait") and RFC 6120 condition, with optional text. */
void lv_xmpp_reply_error(struct lv_xmpp *x, const struct lv_xml *req, const char *type,
                         const char *cond, const char *text);
/* Reads the <error/> of an error stanza into err: cond is the condition,
 * msg the text (or the condition), code an lv_err value (item-not-found →
 * NOT_FOUND, conflict → CONFLICT, forbidden/not-authorized/not-allowed →
 * PERM, remote-server-timeout → TIMEOUT, type "wait" → AGAIN, ...).
 * Returns err->code. */
int lv_xmpp_stanza_error(const struct lv_xml *stanza, struct lv_error *err);

#endif
