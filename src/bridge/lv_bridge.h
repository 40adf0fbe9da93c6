/* lv_bridge: JSON-RPC 2.0 between the backend and its frontends, over a
 * unix socket (one JSON object per line, both ways).
 *
 * Server side (backend): methods are registered in a table; a method's
 * handler may answer at once or later (after an XMPP round trip) through the
 * struct lv_bridge_call it is given. Notifications (events) are broadcast to
 * every connected frontend. Client side (frontends): a small blocking call
 * function, enough for `li`.
 *
 * Errors: JSON-RPC's own codes (-32700 parse error, -32600 invalid request,
 * -32601 unknown method, -32602 invalid params) and, for failures of the
 * operation, -32000 + lv_err (e.g. LV_ERR_NOT_FOUND → -32002), with
 * error.data.condition holding the protocol condition when there is one.
 * doc/bridge.md lists the methods. */
#ifndef LV_BRIDGE_H
#define LV_BRIDGE_H

#include <jansson.h>
#include <uv.h>

#include "core/lv_err.h"

#define LV_BRIDGE_MAX_LINE (4u * 1024 * 1024)
#define LV_BRIDGE_APP_ERROR_BASE (-32000)

struct lv_bridge;
struct lv_bridge_call;

/* A method: params is borrowed (an object or array, never NULL). Answer with
 * lv_bridge_reply() or lv_bridge_reply_error(), exactly once, now or later. */
typedef void (*lv_bridge_method_fn)(struct lv_bridge_call *call, json_t *params, void *ud);

struct lv_bridge_method {
    const char *name;
    lv_bridge_method_fn fn;
};

/* Listens on socket_path (its directory is created 0700; a stale socket is
 * replaced, a live one — another backend — is LV_ERR_CONFLICT). */
int lv_bridge_new(uv_loop_t *loop, const char *socket_path, struct lv_bridge **out,
                  struct lv_error *err);
/* Closes the socket and every connection; pending calls are dropped. */
void lv_bridge_free(struct lv_bridge *b);
/* Registers n methods, all called with ud. */
void lv_bridge_add_methods(struct lv_bridge *b, const struct lv_bridge_method *m, size_t n,
                           void *ud);
/* Answers a call; takes the reference to result (NULL = null). */
void lv_bridge_reply(struct lv_bridge_call *call, json_t *result);
/* Answers a call with an error from an lv_err code and message. */
void lv_bridge_reply_error(struct lv_bridge_call *call, const struct lv_error *err);
/* Broadcasts a notification; takes the reference to params. */
void lv_bridge_notify(struct lv_bridge *b, const char *method, json_t *params);

/* Client: calls method with params (reference taken) on the backend at
 * socket_path and waits up to timeout_ms. On success *result is the
 * caller's. LV_ERR_IO with a "backend not running" message when nobody
 * listens; a JSON-RPC error comes back as its lv_err code and message. */
int lv_bridge_call(const char *socket_path, const char *method, json_t *params, int timeout_ms,
                   json_t **result, struct lv_error *err);

#endif
