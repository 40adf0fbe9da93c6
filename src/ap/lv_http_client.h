/* lv_http_client: an asynchronous HTTP(S) client on the libuv loop.
 *
 * One struct lv_http_client per loop. It drives a libcurl multi handle from
 * the loop (a uv_poll_t per socket, one uv_timer_t, curl_multi_socket_action)
 * and owns no thread (libcurl's threaded resolver is internal to curl).
 * Connections are kept alive and reused between requests, with a cap on the
 * total number of connections and on those to one host; requests beyond the
 * caps wait in curl's queue.
 *
 * Every request ends with exactly one call of its callback: a complete HTTP
 * response (whatever its status), or an error (lv_err code and a message):
 * DNS failure and refused connection (LV_ERR_IO), TLS failure with curl's
 * reason (LV_ERR_TLS), timeout (LV_ERR_TIMEOUT), a response larger than the
 * request's limit or too many redirects (LV_ERR_LIMIT), a blocked address
 * (LV_ERR_PERM), cancellation or shutdown (LV_ERR_CANCELLED).
 *
 * Address policy (SSRF protection): unless allow_private_networks is set,
 * the client refuses to connect to loopback, private, link-local, CGNAT,
 * unspecified, multicast, broadcast and reserved addresses (IPv4 and IPv6,
 * IPv4-mapped, 6to4 and NAT64 forms included). The check runs on the
 * resolved address when the socket is opened, for the first request and for
 * every redirect target, so that a name that resolves (or re-resolves) to an
 * internal address cannot get through. Only http and https are fetched, also
 * on redirects; environment proxies are ignored (the check would otherwise
 * see the proxy's address, not the target's).
 *
 * Everything runs on the loop thread: no function here blocks, and callbacks
 * are never called from inside libcurl, so a callback may start, cancel or
 * free anything, the client included. */
#ifndef LV_HTTP_CLIENT_H
#define LV_HTTP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "core/lv_buf.h"
#include "core/lv_err.h"

#define LV_HTTP_USER_AGENT "Libervia/0.1.0 (+https://libervia.org)"
#define LV_HTTP_DEFAULT_TIMEOUT_MS 30000u
#define LV_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define LV_HTTP_DEFAULT_MAX_BYTES ((size_t)1 << 20)
#define LV_HTTP_DEFAULT_MAX_REDIRECTS 5u
#define LV_HTTP_DEFAULT_MAX_CONNECTIONS 64u
#define LV_HTTP_DEFAULT_MAX_HOST_CONNECTIONS 8u
/* Response headers kept per response: beyond either bound the transfer
 * fails with LV_ERR_LIMIT. */
#define LV_HTTP_MAX_HEADERS 100u
#define LV_HTTP_MAX_HEADER_BYTES ((size_t)64 << 10)
/* JSON limits of the ActivityPub and WebFinger helpers. */
#define LV_HTTP_JSON_MAX_DEPTH 64u
#define LV_HTTP_JSON_MAX_VALUES 100000u

struct lv_http_client_config {
    const char *user_agent; /* NULL = LV_HTTP_USER_AGENT */
    /* PEM CA file trusted for https; NULL/"" = the system store only.
     * libcurl keeps its CA directory (/etc/ssl/certs on Debian) as well, so
     * this adds to the system store rather than replacing it. */
    const char *ca_file;
    bool allow_private_networks; /* connect to any address (tests, LAN deployments) */
    /* Comma-separated CIDR ranges allowed even when allow_private_networks
     * is off ("127.0.0.0/8,fd00::/8"), e.g. one trusted peer on the LAN.
     * NULL/"" = none. */
    const char *allowed_ranges;
    unsigned max_connections;      /* 0 = LV_HTTP_DEFAULT_MAX_CONNECTIONS */
    unsigned max_host_connections; /* 0 = LV_HTTP_DEFAULT_MAX_HOST_CONNECTIONS */
};

struct lv_http_header {
    const char *name;
    const char *value;
};

/* A request. The client copies everything it needs (strings, headers, body)
 * before lv_http_client_request() returns. Zero numeric fields mean the
 * defaults, so a zeroed struct with a url is a valid GET. */
struct lv_http_request {
    const char *method; /* "GET" (NULL), "POST", "PUT", "DELETE", "HEAD", ... */
    const char *url;    /* http:// or https:// */
    const struct lv_http_header *headers;
    size_t n_headers;
    /* Copied. Ignored for GET and HEAD; POST always sends one (empty when
     * NULL), other methods when it is non-NULL. Give its Content-Type in
     * headers (curl would say application/x-www-form-urlencoded). A POST
     * redirected by 301, 302 or 303 becomes a GET, by 307 or 308 stays a
     * POST with its body. */
    const void *body;
    size_t body_len;
    /* The whole request, counted from lv_http_client_request(): time spent
     * queued behind the connection caps counts too (libcurl does so).
     * 0 = LV_HTTP_DEFAULT_TIMEOUT_MS. */
    unsigned timeout_ms;
    unsigned connect_timeout_ms; /* 0 = LV_HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
    size_t max_response_bytes;   /* decoded body bytes; 0 = LV_HTTP_DEFAULT_MAX_BYTES */
    bool no_redirects;           /* return 3xx responses as they are */
    unsigned max_redirects;      /* 0 = LV_HTTP_DEFAULT_MAX_REDIRECTS */
};

/* What came back. Borrowed by the callback: it is freed when the callback
 * returns, except a body taken with lv_http_response_take_body(). */
struct lv_http_response {
    long status;             /* final HTTP status; 0 when no response arrived */
    const char *url;         /* the effective URL (after redirects); never NULL */
    struct lv_buf body;      /* the decoded body (gzip, deflate... undone) */
    uint64_t bytes_received; /* decoded body bytes that arrived, kept or not */
    unsigned redirects;      /* redirects followed */
    /* Headers of the final response, in order; read them with the functions
     * below. The names are as the server sent them. */
    struct lv_http_header *headers;
    size_t n_headers;
};

struct lv_http_client;
struct lv_http_req;

/* Called exactly once per request. resp is never NULL (status 0, empty body
 * when nothing arrived). err is NULL for a complete response — whatever its
 * status — and set otherwise (resp then holds what arrived before the
 * failure). */
typedef void (*lv_http_done_fn)(struct lv_http_response *resp, const struct lv_error *err,
                                void *ud);

/* Creates a client on loop. The config's strings are copied; cfg NULL = all
 * defaults. LV_ERR_CONFIG for a bad allowed_ranges entry. Caller frees with
 * lv_http_client_free(). */
int lv_http_client_new(uv_loop_t *loop, const struct lv_http_client_config *cfg,
                       struct lv_http_client **out, struct lv_error *err);

/* Shuts the client down: every pending request's callback is called with
 * LV_ERR_CANCELLED (before this function returns), then the libuv handles
 * are closed and the client is freed once they are (the loop must run for
 * that). May be called from a request callback. NULL is a no-op. */
void lv_http_client_free(struct lv_http_client *c);

/* Starts a request. On success returns 0, sets *out (if non-NULL) to a
 * handle for lv_http_cancel() that stays valid until the callback returns,
 * and fn will be called exactly once, never before this function returns.
 * On failure (LV_ERR_INVAL: bad URL, scheme other than http(s), CR or LF in
 * a header; LV_ERR_CANCELLED: the client is shutting down) returns the
 * error, fills err, and fn is never called. */
int lv_http_client_request(struct lv_http_client *c, const struct lv_http_request *req,
                           lv_http_done_fn fn, void *ud, struct lv_http_req **out,
                           struct lv_error *err);

/* Cancels a pending request: its callback is called with LV_ERR_CANCELLED
 * before this returns, and the handle is invalid afterwards. Must not be
 * called once the callback has run (clear your copy of the handle in the
 * callback). NULL is a no-op. */
void lv_http_cancel(struct lv_http_req *r);

/* The number of requests not yet completed. */
size_t lv_http_client_pending(const struct lv_http_client *c);

/* The value of the first response header named name (ASCII
 * case-insensitive), or NULL. Borrowed like resp. */
const char *lv_http_response_header(const struct lv_http_response *resp, const char *name);

/* The media type of the response (Content-Type without parameters,
 * lowercased into buf), or "" when absent. Returns buf. */
const char *lv_http_response_media_type(const struct lv_http_response *resp, char *buf,
                                        size_t size);

/* Moves the body into *out (initialised by this call; the caller then owns
 * it and releases it with lv_buf_release()), leaving resp's body empty. */
void lv_http_response_take_body(struct lv_http_response *resp, struct lv_buf *out);

/* ---- JSON documents: ActivityPub objects and WebFinger ---- */

enum lv_http_json_kind {
    /* Accept: application/activity+json, application/ld+json;
     * profile="https://www.w3.org/ns/activitystreams"; the response must be
     * application/activity+json or application/ld+json. */
    LV_HTTP_JSON_AP,
    /* Accept: application/jrd+json, application/json; the response must be
     * application/jrd+json or application/json. */
    LV_HTTP_JSON_JRD,
};

/* Called exactly once. On success doc is the parsed top-level object
 * (borrowed for the call: json_incref() it to keep it) and err is NULL. On
 * failure doc is NULL and err says why: the transport errors above; a
 * non-2xx status (404 and 410 → LV_ERR_NOT_FOUND, 401 and 403 →
 * LV_ERR_PERM, 408, 429 and 5xx → LV_ERR_AGAIN, others → LV_ERR_PROTO);
 * a wrong content type (LV_ERR_PROTO "not an ActivityPub document:
 * text/html"); JSON nested too deep or with too many values (LV_ERR_LIMIT);
 * invalid JSON or not an object (LV_ERR_PROTO). resp is as for
 * lv_http_done_fn. */
typedef void (*lv_http_json_fn)(json_t *doc, struct lv_http_response *resp,
                                const struct lv_error *err, void *ud);

/* GETs (or whatever req->method says: signed fetches add their headers in
 * req) a JSON document of the given kind. Adds the Accept header unless req
 * has one. Same contract as lv_http_client_request(). */
int lv_http_client_fetch_json(struct lv_http_client *c, const struct lv_http_request *req,
                              enum lv_http_json_kind kind, lv_http_json_fn fn, void *ud,
                              struct lv_http_req **out, struct lv_error *err);

/* Checks, without parsing, that data (len bytes of would-be JSON) nests
 * arrays and objects at most max_depth deep and holds at most max_values
 * values (scalars, arrays and objects; object keys are not values). It
 * looks only at brackets, strings and scalar starts, so it is linear and
 * allocation-free; it does not validate (the parser does). Returns 0, or
 * LV_ERR_LIMIT with err filled. Use it before json_loadb() on remote input:
 * jansson has no depth or size option. */
int lv_http_json_check(const char *data, size_t len, unsigned max_depth, size_t max_values,
                       struct lv_error *err);

/* lv_http_json_check() with the helpers' limits, then json_loadb(); the
 * top level must be an object. Returns a new reference (caller decrefs), or
 * NULL with err filled (LV_ERR_LIMIT or LV_ERR_PROTO). */
json_t *lv_http_json_parse(const char *data, size_t len, struct lv_error *err);

/* ---- address policy ---- */

/* True when sa (pointing to a whole sockaddr_in or sockaddr_in6) is an
 * address the client refuses without allow_private_networks: loopback,
 * private, link-local, CGNAT, unique-local, unspecified, multicast,
 * broadcast, reserved, and the IPv4-mapped, IPv4-compatible, 6to4 and NAT64
 * forms of those. Other families are refused too (true). */
bool lv_http_addr_is_private(const struct sockaddr *sa);

#endif
