/* lv_http: an HTTP/1.1 server on the caller's libuv loop (libmicrohttpd).
 *
 * libmicrohttpd runs in "external epoll" mode: no thread of its own. A
 * uv_poll_t watches its epoll descriptor and a uv_timer_t follows its
 * timeouts, so every callback below runs on the loop thread.
 *
 * Requests are routed through a table of {method, path pattern, handler}.
 * A handler gets a struct lv_http_req holding everything already parsed and
 * copied (decoded path segments, query pairs, headers, the buffered body)
 * and answers it with one lv_http_reply_*() call, at once or later (after an
 * XMPP round trip, an outgoing fetch...). Until it is answered the request
 * stays valid, even if the client went away meanwhile: it is then marked
 * dead (lv_http_req_dead()) and the answer is dropped. A request waiting
 * for its answer is exempt from timeout_s (libmicrohttpd does not time out
 * suspended connections), so a handler that waits on something remote needs
 * its own timeout. The client counts as gone when it closes or half-closes
 * its side; once it pipelines a next request on the same connection, a
 * disconnect is only noticed at the answer.
 *
 * Errors the server produces itself are plain text of the form
 * "404 Not Found: no route for this path". Malformed requests get 400,
 * oversized header blocks 431 (libmicrohttpd's own answer), bodies over the
 * limit 413; an unknown path 404 and a known path with another method 405
 * with Allow. Every answer carries a Content-Type; HEAD works wherever GET
 * does (the body is left out by the library).
 *
 * Behind a reverse proxy (config trust_proxy), the effective host, scheme
 * and client address come from X-Forwarded-Host/-Proto/-For (or Forwarded);
 * otherwise from the Host header and the socket. */
#ifndef LV_HTTP_H
#define LV_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/lv_err.h"

#define LV_HTTP_CT_TEXT "text/plain; charset=utf-8"
#define LV_HTTP_CT_JSON "application/json"
#define LV_HTTP_CT_ACTIVITY "application/activity+json; charset=utf-8"
#define LV_HTTP_CT_JRD "application/jrd+json"

struct lv_http_config {
    const char *address; /* listen address (IPv4 or IPv6 literal); NULL = "127.0.0.1" */
    unsigned port;       /* 0 = ephemeral: see lv_http_port() */
    /* Take host, scheme and client address from proxy headers. Only set it
     * when the listener is reachable by the proxy alone: any client can send
     * these headers. Behind a proxy every connection comes from the proxy's
     * address, so raise max_conns_per_ip accordingly. */
    bool trust_proxy;
    size_t max_header_bytes;    /* libmicrohttpd's per-connection memory pool, which
                                   holds the request line and headers (431 beyond)
                                   plus I/O buffers; >= 4 KiB */
    unsigned max_headers;       /* header fields per request (431 beyond) */
    size_t max_body_bytes;      /* body limit of routes that set none (413 beyond) */
    size_t max_drain_bytes;     /* of a chunked body found over its limit, bytes still
                                   read and discarded to answer 413; beyond, the
                                   connection is closed without an answer */
    unsigned timeout_s;         /* idle connection timeout; 0 = none */
    unsigned max_conns;         /* simultaneous connections */
    unsigned max_conns_per_ip;  /* 0 = unlimited */
    unsigned shutdown_grace_ms; /* lv_http_free(): time left to answers in flight */
};

struct lv_http;
struct lv_http_req;

/* A route handler. req is valid until answered with exactly one
 * lv_http_reply_*() call (also when it turned dead meanwhile). */
typedef void (*lv_http_handler_fn)(struct lv_http_req *req, void *ud);

/* A route. The pattern is a path made of segments: a literal segment must
 * equal the decoded request segment, "*" matches any one non-empty segment,
 * and a final "**" matches whatever follows (zero or more segments). Without
 * "**" the segment counts must be equal: "/a/b" matches neither "/a/b/" nor
 * "/a". "/" matches only the root. */
struct lv_http_route {
    const char *method;  /* "GET" (which also serves HEAD), "POST"...; NULL = any */
    const char *pattern; /* "/.well-known/webfinger"; actors: "/_ap/actor/" then "*" */
    lv_http_handler_fn fn;
    size_t max_body; /* request body limit; 0 = config max_body_bytes */
};

/* Fills c with the defaults: 127.0.0.1, port 0, no proxy, 32 KiB headers,
 * 100 header fields, 1 MiB bodies, 1 MiB drain, 30 s timeout, 1024
 * connections, 64 per IP, 2 s shutdown grace. */
void lv_http_config_defaults(struct lv_http_config *c);

/* Creates a server listening on cfg's address and port, driven by loop.
 * The config is copied. LV_ERR_CONFIG for an unparsable address or absurd
 * limits, LV_ERR_IO when the socket cannot be bound (message says why).
 * On success *out is the caller's, freed with lv_http_free(). */
int lv_http_new(uv_loop_t *loop, const struct lv_http_config *cfg, struct lv_http **out,
                struct lv_error *err);

/* Stops accepting connections, answers requests still waiting for their
 * handler with 503 (those become dead: the handler's later answer is
 * dropped), gives answers in flight up to shutdown_grace_ms, then closes
 * everything and frees the server once its libuv handles are closed. Keep
 * running the loop afterwards. May be called from a handler. NULL is a
 * no-op. */
void lv_http_free(struct lv_http *h);

/* Adds n routes, all called with ud. Routes are tried in the order added;
 * the first whose pattern and method match wins. Strings are copied.
 * LV_ERR_INVAL (nothing added) when a pattern does not start with '/' or
 * has "**" elsewhere than last, or when fn is NULL. */
int lv_http_add_routes(struct lv_http *h, const struct lv_http_route *routes, size_t n, void *ud,
                       struct lv_error *err);

/* The port actually bound (useful with port 0). */
unsigned lv_http_port(const struct lv_http *h);

/* ---- the request (every string is borrowed until the request is answered) ---- */

/* "GET", "POST", "HEAD"... */
const char *lv_http_req_method(const struct lv_http_req *req);
/* The request-target as received ("/a%40b/c?x=1"), for signatures'
 * (request-target). */
const char *lv_http_req_target(const struct lv_http_req *req);
/* The raw path: the target up to '?', still percent-encoded. */
const char *lv_http_req_path(const struct lv_http_req *req);
/* Path segments, each percent-decoded on its own after splitting on '/'
 * ("%2F" stays inside its segment). "/" has none; "/a/" has "a" and "". */
size_t lv_http_req_nsegs(const struct lv_http_req *req);
/* Segment i, or NULL when i >= lv_http_req_nsegs(). */
const char *lv_http_req_seg(const struct lv_http_req *req, size_t i);
/* The query as decoded (key, value) pairs in order ('+' is a space; a key
 * without '=' has the value ""). Pair i: false when i is out of range. */
size_t lv_http_req_nquery(const struct lv_http_req *req);
bool lv_http_req_query_at(const struct lv_http_req *req, size_t i, const char **key,
                          const char **value);
/* The first value of key, or NULL. */
const char *lv_http_req_query(const struct lv_http_req *req, const char *key);
/* A request header by case-insensitive name; repeated fields are joined
 * with ", ". NULL when absent. */
const char *lv_http_req_header(const struct lv_http_req *req, const char *name);
/* Header fields in the order received (each name once: repeated fields
 * are already joined). Field i: false when i is out of range. */
size_t lv_http_req_nheaders(const struct lv_http_req *req);
bool lv_http_req_header_at(const struct lv_http_req *req, size_t i, const char **name,
                           const char **value);
/* The client address (IP literal): the socket's peer, or with trust_proxy
 * the last hop of X-Forwarded-For (or Forwarded for=) when present. */
const char *lv_http_req_remote(const struct lv_http_req *req);
/* The effective host ("example.org" or "example.org:8080"): X-Forwarded-Host
 * or Forwarded host= with trust_proxy, else the Host header. NULL for an
 * HTTP/1.0 request without Host. */
const char *lv_http_req_host(const struct lv_http_req *req);
/* "http" or "https" (the latter only from a trusted proxy). */
const char *lv_http_req_scheme(const struct lv_http_req *req);
/* The body (NUL-terminated for convenience; *len is authoritative and the
 * body may hold NULs). An empty body gives "" and 0. len may be NULL. */
const char *lv_http_req_body(const struct lv_http_req *req, size_t *len);
/* True once the answer can no longer be delivered: the client went away,
 * or the server is shutting down (it answered 503 itself). The request must
 * still be answered, which then only releases it. */
bool lv_http_req_dead(const struct lv_http_req *req);

/* ---- answers (each one ends the handler's use of req) ---- */

/* Adds a header to the coming answer ("Vary", "Accept"; "Cache-Control",
 * "max-age=60"). Both are copied. Refused with a warning: names that are
 * not tokens, values with CR, LF or NUL, Content-Type and Content-Length
 * (the reply functions set those). */
void lv_http_req_add_header(struct lv_http_req *req, const char *name, const char *value);

/* Plain-text answer "<status> <phrase>: <reason>\n" (or "<status>
 * <phrase>\n" when reason is NULL), e.g. 401 "signature does not verify". */
void lv_http_reply_error(struct lv_http_req *req, unsigned status, const char *reason);
/* JSON answer: body is borrowed (serialized at once); content_type NULL =
 * application/json. A body that cannot be serialized gives 500. */
void lv_http_reply_json(struct lv_http_req *req, unsigned status, const char *content_type,
                        const json_t *body);
/* Raw bytes (copied) with a content type (NULL = application/octet-stream). */
void lv_http_reply_bytes(struct lv_http_req *req, unsigned status, const char *content_type,
                         const void *data, size_t len);
/* A redirect (301, 302, 303, 307 or 308) to location (absolute URL or
 * path), with a short text body. An invalid location gives 500. */
void lv_http_reply_redirect(struct lv_http_req *req, unsigned status, const char *location);

#endif
