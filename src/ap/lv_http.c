#include "lv_http.h"
#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define AREA "http"
#define HOST_MAX 255
#define REMOTE_MAX 64
#define MIN_HEADER_BYTES 4096u

struct route {
    char *method; /* NULL = any */
    char *pattern;
    char **segs; /* the pattern's segments, without a final "**" */
    size_t nsegs;
    bool rest; /* the pattern ended with "**" */
    lv_http_handler_fn fn;
    void *ud;
    size_t max_body;
};

struct kv {
    char *key;
    char *value;
};

/* A request's lifetime is shared: libmicrohttpd holds a reference from the
 * URI callback to the request-completed callback, the handler from dispatch
 * to its answer, the disconnect watcher while its handle is open. */
struct lv_http_req {
    struct lv_http *h;           /* NULL once libmicrohttpd is done with it */
    struct MHD_Connection *conn; /* idem */
    unsigned refs;
    struct lv_http_req *prev, *next; /* the server's list of suspended requests */
    uint64_t start_ns;
    char *target, *path, *method;
    char **segs;
    size_t nsegs;
    struct kv *query, *headers, *out;
    size_t nquery, nheaders, nout, query_cap, headers_cap, out_cap;
    bool too_many_headers;
    char remote[REMOTE_MAX];
    char *host;
    const char *scheme;
    /* the route picked for it */
    lv_http_handler_fn fn;
    void *ud;
    size_t max_body;
    struct lv_buf body;
    size_t drained;
    bool too_big;
    /* the answer */
    struct MHD_Response *resp; /* set, not yet queued */
    unsigned status;
    size_t resp_bytes;
    bool started, dispatched, in_handler, answered, suspended, dead, watching;
    uv_poll_t watch;
};

struct lv_http {
    uv_loop_t *loop;
    struct lv_http_config cfg;
    char *address;
    struct MHD_Daemon *mhd;
    unsigned port;
    uv_poll_t poll;
    uv_timer_t timer, grace;
    unsigned open_handles;
    struct route *routes;
    size_t nroutes, routes_cap;
    struct lv_http_req *suspended;
    size_t live; /* requests libmicrohttpd still holds */
    bool in_run, kicked, stopping, shutdown_started, finished;
    struct lv_buf start_log; /* libmicrohttpd's messages while starting */
    bool starting;
};

static void finish(struct lv_http *h);
static void on_timer(uv_timer_t *t);

/* ---- small string helpers ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) into a new string, never longer than the input.
 * NULL for a broken escape or %00, which would cut C strings short. */
static char *pct_decode(const char *s, size_t len, bool plus)
{
    char *out = lv_xmalloc(len + 1), *o = out;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (lo < 0 || (hi | lo) == 0) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    *o = '\0';
    return out;
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

static bool safe_header_value(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

/* Trims spaces and tabs around s[0..*len) in place of the bounds. */
static const char *trim(const char *s, size_t *len)
{
    while (*len && (*s == ' ' || *s == '\t')) {
        s++;
        (*len)--;
    }
    while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
        (*len)--;
    return s;
}

/* The last element of a comma-separated list, outside double quotes. */
static const char *last_element(const char *s, size_t *len)
{
    const char *start = s;
    bool quoted = false;
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '\\' && quoted && p[1])
            p++;
        else if (*p == ',' && !quoted)
            start = p + 1;
    }
    *len = strlen(start);
    return trim(start, len);
}

/* Copies s[0..len) to dst[cap] without surrounding quotes; false if too long. */
static bool copy_unquoted(char *dst, size_t cap, const char *s, size_t len)
{
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len)
            i++;
        if (n + 1 >= cap) {
            dst[0] = '\0';
            return false;
        }
        dst[n++] = s[i];
    }
    dst[n] = '\0';
    return true;
}

static bool valid_host(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HOST_MAX)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(".-_:[]", c)))
            return false;
    }
    return true;
}

/* Reduces an address as proxies write it ("1.2.3.4", "1.2.3.4:5",
 * "[::1]:5", "::1") to the IP literal in out[REMOTE_MAX]; false when it is
 * not one ("unknown", "_hidden"...). */
static bool normalize_ip(const char *s, size_t len, char *out)
{
    char buf[REMOTE_MAX];
    if (!copy_unquoted(buf, sizeof(buf), s, len))
        return false;
    char *ip = buf;
    if (*ip == '[') {
        char *end = strchr(++ip, ']');
        if (!end)
            return false;
        *end = '\0';
    } else {
        char *colon = strchr(ip, ':');
        if (colon && !strchr(colon + 1, ':'))
            *colon = '\0';
    }
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    if (uv_ip4_addr(ip, 0, &a4) != 0 && uv_ip6_addr(ip, 0, &a6) != 0)
        return false;
    snprintf(out, REMOTE_MAX, "%s", ip);
    return true;
}

/* ---- requests ---- */

static void free_kvs(struct kv *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].key);
        free(a[i].value);
    }
    free(a);
}

static void req_unref(struct lv_http_req *req)
{
    if (--req->refs > 0)
        return;
    if (req->resp)
        MHD_destroy_response(req->resp);
    for (size_t i = 0; i < req->nsegs; i++)
        free(req->segs[i]);
    free(req->segs);
    free_kvs(req->query, req->nquery);
    free_kvs(req->headers, req->nheaders);
    free_kvs(req->out, req->nout);
    free(req->target);
    free(req->path);
    free(req->method);
    free(req->host);
    lv_buf_release(&req->body);
    free(req);
}

static void push_kv(struct kv **a, size_t *n, size_t *cap, char *key, char *value)
{
    lv_grow((void **)a, cap, *n + 1, sizeof(**a));
    (*a)[*n].key = key;
    (*a)[*n].value = value;
    (*n)++;
}

static void on_watch_closed(uv_handle_t *hd)
{
    req_unref(hd->data);
}

static void stop_watch(struct lv_http_req *req)
{
    if (!req->watching)
        return;
    req->watching = false;
    uv_close((uv_handle_t *)&req->watch, on_watch_closed);
}

static void unlink_suspended(struct lv_http_req *req)
{
    if (!req->suspended)
        return;
    req->suspended = false;
    if (req->prev)
        req->prev->next = req->next;
    else
        req->h->suspended = req->next;
    if (req->next)
        req->next->prev = req->prev;
    req->prev = req->next = NULL;
}

/* Makes libmicrohttpd run soon: MHD_resume_connection() only flags the
 * connection, the next MHD_run() processes it. */
static void kick(struct lv_http *h)
{
    h->kicked = true;
    /* 1 ms, not 0: kicks come from other timers' callbacks too (an answer
     * after a cached key lookup), and a 0 ms timer started there runs in the
     * same timer pass, which under load chains without end. */
    if (!h->in_run && !h->finished)
        uv_timer_start(&h->timer, on_timer, 1, 0);
}

/* Resumes a suspended request; the access handler then runs again and
 * queues the answer (or closes the connection of a dead request). */
static void wake(struct lv_http_req *req)
{
    stop_watch(req);
    if (!req->suspended)
        return;
    struct lv_http *h = req->h;
    unlink_suspended(req);
    MHD_resume_connection(req->conn);
    kick(h);
}

static void set_response(struct lv_http_req *req, unsigned status, struct MHD_Response *resp,
                         size_t bytes)
{
    if (req->resp)
        MHD_destroy_response(req->resp);
    req->resp = resp;
    req->status = status;
    req->resp_bytes = bytes;
}

/* ---- building answers ---- */

static struct MHD_Response *make_response(struct lv_http_req *req, const char *ctype, void *data,
                                          size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, data, mode);
    if (!r) {
        lv_error(AREA, "cannot create a response");
        abort();
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    for (size_t i = 0; i < req->nout; i++)
        MHD_add_response_header(r, req->out[i].key, req->out[i].value);
    if (req->h && req->h->stopping)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    return r;
}

static const char *phrase(unsigned status)
{
    const char *p = MHD_get_reason_phrase_for(status);
    return p && *p ? p : "Unknown";
}

static struct MHD_Response *error_response(struct lv_http_req *req, unsigned status,
                                           const char *reason, size_t *len)
{
    char *text = reason ? lv_xasprintf("%u %s: %s\n", status, phrase(status), reason)
                        : lv_xasprintf("%u %s\n", status, phrase(status));
    *len = strlen(text);
    return make_response(req, LV_HTTP_CT_TEXT, text, *len, MHD_RESPMEM_MUST_FREE);
}

/* An answer from the server itself (not from a handler). */
static void answer_internal(struct lv_http_req *req, unsigned status, const char *reason)
{
    size_t len;
    struct MHD_Response *r = error_response(req, status, reason, &len);
    set_response(req, status, r, len);
}

/* Queues the answer set on req; called from the access handler only, where
 * libmicrohttpd accepts it. */
static enum MHD_Result queue(struct lv_http_req *req)
{
    enum MHD_Result ok = MHD_queue_response(req->conn, req->status, req->resp);
    MHD_destroy_response(req->resp);
    req->resp = NULL;
    return ok;
}

static bool body_expected(struct lv_http_req *req)
{
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return te || (cl && strcmp(cl, "0") != 0);
}

/* Answers from the server itself, on the first call. An answer queued
 * before the request is complete makes libmicrohttpd skip the body and
 * close the connection: right for a body we refuse, wasteful for a plain
 * GET, whose answer waits for the next call to keep the connection. */
static enum MHD_Result reject(struct lv_http_req *req, unsigned status, const char *reason)
{
    answer_internal(req, status, reason);
    return body_expected(req) ? queue(req) : MHD_YES;
}

/* The handler's answer: exactly once, now (inside the handler) or later. */
static void handler_answer(struct lv_http_req *req, unsigned status, struct MHD_Response *resp,
                           size_t bytes)
{
    /* Only caught while something else still holds req: a bug anyway. */
    if (req->answered) {
        lv_error(AREA, "%s %s answered twice", req->method, req->path);
        MHD_destroy_response(resp);
        return;
    }
    req->answered = true;
    if (status < 200 || status > 599) {
        lv_error(AREA, "%s %s: invalid status %u, answering 500", req->method, req->path, status);
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (req->dead || !req->conn) {
        MHD_destroy_response(resp);
    } else {
        set_response(req, status, resp, bytes);
        if (!req->in_handler)
            wake(req);
    }
    req_unref(req);
}

/* ---- reading the request ---- */

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct lv_http_req *req = cls;
    if (!key || !value)
        return MHD_YES;
    for (size_t i = 0; i < req->nheaders; i++) {
        struct kv *e = &req->headers[i];
        if (strcasecmp(e->key, key) == 0) {
            char *joined = lv_xasprintf("%s, %s", e->value, value);
            free(e->value);
            e->value = joined;
            return MHD_YES;
        }
    }
    if (req->nheaders >= req->h->cfg.max_headers) {
        req->too_many_headers = true;
        return MHD_NO;
    }
    push_kv(&req->headers, &req->nheaders, &req->headers_cap, lv_xstrdup(key), lv_xstrdup(value));
    return MHD_YES;
}

static int parse_segments(struct lv_http_req *req)
{
    const char *p = req->path + 1;
    if (!*p)
        return 0;
    size_t cap = 0;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        char *seg = pct_decode(p, len, false);
        if (!seg)
            return LV_ERR_INVAL;
        lv_grow((void **)&req->segs, &cap, req->nsegs + 1, sizeof(*req->segs));
        req->segs[req->nsegs++] = seg;
        if (!slash)
            return 0;
        p = slash + 1;
    }
}

static int parse_query(struct lv_http_req *req, const char *q)
{
    while (*q) {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        if (len > 0) {
            char *k = pct_decode(q, klen, true);
            char *v = eq ? pct_decode(eq + 1, len - klen - 1, true) : lv_xstrdup("");
            if (!k || !v) {
                free(k);
                free(v);
                return LV_ERR_INVAL;
            }
            push_kv(&req->query, &req->nquery, &req->query_cap, k, v);
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return 0;
}

static int parse_target(struct lv_http_req *req)
{
    if (req->target[0] != '/')
        return LV_ERR_INVAL;
    const char *q = strchr(req->target, '?');
    req->path = q ? lv_xstrndup(req->target, (size_t)(q - req->target)) : lv_xstrdup(req->target);
    if (strchr(req->path, '#'))
        return LV_ERR_INVAL;
    if (parse_segments(req) != 0)
        return LV_ERR_INVAL;
    return q ? parse_query(req, q + 1) : 0;
}

static void socket_remote(struct lv_http_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(req->remote, sizeof(req->remote), "?");
    if (sa && sa->sa_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)sa, req->remote, sizeof(req->remote));
    else if (sa && sa->sa_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)sa, req->remote, sizeof(req->remote));
}

struct forwarded {
    char host[HOST_MAX + 1];
    char proto[16];
    char client[REMOTE_MAX];
};

/* Reads host=, proto= and for= from the last element of a Forwarded
 * header (RFC 7239): the one our proxy added. */
static void parse_forwarded(const char *value, struct forwarded *f)
{
    size_t len;
    const char *p = last_element(value, &len), *end = p + len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        size_t plen = semi ? (size_t)(semi - p) : (size_t)(end - p);
        const char *pair = trim(p, &plen), *eq = memchr(pair, '=', plen);
        if (eq) {
            size_t nlen = (size_t)(eq - pair), vlen = plen - nlen - 1;
            if (nlen == 4 && strncasecmp(pair, "host", 4) == 0)
                copy_unquoted(f->host, sizeof(f->host), eq + 1, vlen);
            else if (nlen == 5 && strncasecmp(pair, "proto", 5) == 0)
                copy_unquoted(f->proto, sizeof(f->proto), eq + 1, vlen);
            else if (nlen == 3 && strncasecmp(pair, "for", 3) == 0 &&
                     !normalize_ip(eq + 1, vlen, f->client))
                f->client[0] = '\0';
        }
        p = semi ? semi + 1 : end;
    }
}

/* The last element of a trusted X-Forwarded-* header into dst[cap]. */
static void last_hop(const char *value, char *dst, size_t cap)
{
    size_t len;
    const char *s = last_element(value, &len);
    if (!copy_unquoted(dst, cap, s, len))
        dst[0] = '\0';
}

static void proxy_origin(struct lv_http_req *req, struct forwarded *f)
{
    const char *fwd = lv_http_req_header(req, "Forwarded");
    const char *xfh = lv_http_req_header(req, "X-Forwarded-Host");
    const char *xfp = lv_http_req_header(req, "X-Forwarded-Proto");
    const char *xff = lv_http_req_header(req, "X-Forwarded-For");
    if (fwd)
        parse_forwarded(fwd, f);
    if (xfh)
        last_hop(xfh, f->host, sizeof(f->host));
    if (xfp)
        last_hop(xfp, f->proto, sizeof(f->proto));
    if (xff) {
        size_t len;
        const char *s = last_element(xff, &len);
        if (!normalize_ip(s, len, f->client))
            f->client[0] = '\0';
    }
}

/* Effective host, scheme and client address; a reason for 400 on failure. */
static const char *resolve_origin(struct lv_http_req *req)
{
    struct forwarded f = {{0}, {0}, {0}};
    if (req->h->cfg.trust_proxy)
        proxy_origin(req, &f);
    const char *host = f.host[0] ? f.host : lv_http_req_header(req, "Host");
    if (host && !valid_host(host))
        return f.host[0] ? "bad forwarded host" : "bad Host header";
    req->host = host ? lv_xstrdup(host) : NULL;
    req->scheme = "http";
    if (f.proto[0]) {
        if (strcasecmp(f.proto, "https") == 0)
            req->scheme = "https";
        else if (strcasecmp(f.proto, "http") != 0)
            return "bad forwarded proto";
    }
    if (f.client[0])
        snprintf(req->remote, sizeof(req->remote), "%s", f.client);
    return NULL;
}

/* ---- routing ---- */

static bool pattern_match(const struct route *r, char **segs, size_t n)
{
    if (r->rest ? n < r->nsegs : n != r->nsegs)
        return false;
    for (size_t i = 0; i < r->nsegs; i++) {
        if (strcmp(r->segs[i], "*") == 0 ? !segs[i][0] : strcmp(r->segs[i], segs[i]) != 0)
            return false;
    }
    return true;
}

static bool method_match(const char *route_method, const char *m)
{
    return !route_method || strcmp(route_method, m) == 0 ||
           (strcmp(route_method, "GET") == 0 && strcmp(m, "HEAD") == 0);
}

static void allow_add(struct lv_buf *allow, const char *m)
{
    size_t len = strlen(m);
    for (const char *p = allow->data; p && (p = strstr(p, m)); p += len)
        if ((p == allow->data || p[-1] == ' ') && (p[len] == ',' || !p[len]))
            return;
    if (allow->len)
        lv_buf_adds(allow, ", ");
    lv_buf_adds(allow, m);
}

/* The first route matching path and method; NULL with *allow filled (the
 * methods of routes matching the path alone) when there is none. */
static const struct route *find_route(struct lv_http *h, struct lv_http_req *req,
                                      struct lv_buf *allow)
{
    for (size_t i = 0; i < h->nroutes; i++) {
        const struct route *r = &h->routes[i];
        if (!pattern_match(r, req->segs, req->nsegs))
            continue;
        if (method_match(r->method, req->method))
            return r;
        allow_add(allow, r->method);
        if (strcmp(r->method, "GET") == 0)
            allow_add(allow, "HEAD");
    }
    return NULL;
}

static enum MHD_Result route_request(struct lv_http_req *req)
{
    struct lv_buf allow = LV_BUF_INIT;
    const struct route *r = find_route(req->h, req, &allow);
    if (!r && !allow.len)
        return reject(req, MHD_HTTP_NOT_FOUND, "no route for this path");
    if (!r) {
        answer_internal(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed here");
        MHD_add_response_header(req->resp, MHD_HTTP_HEADER_ALLOW, allow.data);
        lv_buf_release(&allow);
        return body_expected(req) ? queue(req) : MHD_YES;
    }
    lv_buf_release(&allow); /* filled by routes of other methods tried first */
    req->fn = r->fn;
    req->ud = r->ud;
    req->max_body = r->max_body ? r->max_body : req->h->cfg.max_body_bytes;
    return MHD_YES;
}

/* ---- the body ---- */

/* Checks a declared Content-Length against the limit before any byte is
 * read, and reserves exactly what was declared (never more than the limit). */
static enum MHD_Result check_length(struct lv_http_req *req)
{
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return MHD_YES;
    uint64_t n = 0;
    for (const char *p = cl; *p; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
            return reject(req, MHD_HTTP_BAD_REQUEST, "bad Content-Length");
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (n > req->max_body) {
        /* Answering before the body is read makes the client (or a proxy
         * still sending it) see a reset instead of the 413: a body within
         * max_drain_bytes is read and discarded first, as a chunked one. */
        if (n <= req->h->cfg.max_drain_bytes) {
            req->too_big = true;
            lv_debug(AREA, "%s %.200s: declared body over %zu bytes, discarding it", req->method,
                     req->path, req->max_body);
            return MHD_YES;
        }
        char reason[96];
        snprintf(reason, sizeof(reason), "body over %zu bytes", req->max_body);
        return reject(req, MHD_HTTP_CONTENT_TOO_LARGE, reason);
    }
    req->body.data = lv_xmalloc((size_t)n + 1);
    req->body.data[0] = '\0';
    req->body.cap = (size_t)n + 1;
    return MHD_YES;
}

/* Takes a piece of body. libmicrohttpd 0.9.75 refuses an answer while a
 * body is still arriving, so a chunked body found too big is read on and
 * discarded (up to max_drain_bytes) to answer 413 once it ends. */
static enum MHD_Result take_body(struct lv_http_req *req, const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    if (!req->too_big && n <= req->max_body - req->body.len) {
        lv_buf_add(&req->body, data, n);
        return MHD_YES;
    }
    if (!req->too_big) {
        req->too_big = true;
        lv_buf_release(&req->body);
        lv_debug(AREA, "%s %.200s: body over %zu bytes, discarding it", req->method, req->path,
                 req->max_body);
    }
    req->drained += n;
    if (req->drained <= req->h->cfg.max_drain_bytes)
        return MHD_YES;
    lv_debug(AREA, "%s %.200s: oversized body goes on, closing", req->method, req->path);
    return MHD_NO;
}

/* ---- watching a suspended connection ---- */

static bool peer_closed(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* While a connection is suspended libmicrohttpd does not look at it, so a
 * client that gives up would only be noticed at the answer. */
static void on_watch(uv_poll_t *p, int status, int events)
{
    struct lv_http_req *req = p->data;
    int fd = -1;
    uv_fileno((uv_handle_t *)p, &fd);
    if (status < 0 || (events & UV_DISCONNECT) || peer_closed(fd)) {
        lv_debug(AREA, "%s %.200s: client went away before the answer", req->method, req->path);
        req->dead = true;
        wake(req);
        return;
    }
    /* Data: the client pipelines its next request. It will be read once
     * this one is answered; until then a disconnect goes unnoticed. */
    stop_watch(req);
}

static void start_watch(struct lv_http_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || uv_poll_init(req->h->loop, &req->watch, ci->connect_fd) != 0)
        return;
    req->watch.data = req;
    req->watching = true;
    req->refs++;
    if (uv_poll_start(&req->watch, UV_READABLE | UV_DISCONNECT, on_watch) != 0)
        stop_watch(req);
}

static void suspend(struct lv_http_req *req)
{
    struct lv_http *h = req->h;
    MHD_suspend_connection(req->conn);
    req->suspended = true;
    req->next = h->suspended;
    if (h->suspended)
        h->suspended->prev = req;
    h->suspended = req;
    start_watch(req);
}

/* ---- libmicrohttpd callbacks ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct lv_http *h = cls;
    struct lv_http_req *req = lv_xcalloc(1, sizeof(*req));
    req->h = h;
    req->conn = conn;
    req->refs = 1;
    req->start_ns = uv_hrtime();
    req->target = lv_xstrdup(uri);
    h->live++;
    return req;
}

/* First call, once the headers are in: parse, route, check the declared
 * body size. Any early answer makes libmicrohttpd skip the body. */
static enum MHD_Result begin(struct lv_http_req *req, const char *method, const char *version)
{
    req->started = true;
    req->method = lv_xstrdup(method);
    socket_remote(req);
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_header, req);
    if (req->too_many_headers)
        return reject(req, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "too many header fields");
    if (parse_target(req) != 0)
        return reject(req, MHD_HTTP_BAD_REQUEST, "malformed request-target");
    /* RFC 9112 3.2: a server must answer 400 to HTTP/1.1 without Host;
     * libmicrohttpd 0.9.75 lets it through unless in strict mode. */
    if (strcmp(version, MHD_HTTP_VERSION_1_0) != 0 && !lv_http_req_header(req, "Host"))
        return reject(req, MHD_HTTP_BAD_REQUEST, "missing Host header");
    const char *why = resolve_origin(req);
    if (why)
        return reject(req, MHD_HTTP_BAD_REQUEST, why);
    if (req->h->stopping)
        return reject(req, MHD_HTTP_SERVICE_UNAVAILABLE, "server shutting down");
    enum MHD_Result ok = route_request(req);
    if (!req->fn)
        return ok; /* answered 404 or 405 */
    return check_length(req);
}

static void dispatch(struct lv_http_req *req)
{
    req->dispatched = true;
    req->refs++; /* the handler's, until it answers */
    req->in_handler = true;
    req->fn(req, req->ud);
    req->in_handler = false;
}

/* The whole request is in: answer 413, or hand it to its handler, then
 * queue the answer or wait for it. */
static enum MHD_Result complete(struct lv_http_req *req)
{
    if (req->too_big) {
        char reason[96];
        snprintf(reason, sizeof(reason), "body over %zu bytes", req->max_body);
        answer_internal(req, MHD_HTTP_CONTENT_TOO_LARGE, reason);
        return queue(req);
    }
    if (!req->dispatched)
        dispatch(req);
    if (req->resp)
        return queue(req);
    if (req->h->stopping) {
        req->dead = true;
        answer_internal(req, MHD_HTTP_SERVICE_UNAVAILABLE, "server shutting down");
        return queue(req);
    }
    suspend(req);
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **req_cls)
{
    struct lv_http_req *req = *req_cls;
    if (!req)
        return MHD_NO;
    if (!req->started)
        return begin(req, method, version);
    if (req->resp)
        return queue(req);
    if (req->dead)
        return MHD_NO;
    if (*upload_size)
        return take_body(req, upload, upload_size);
    return complete(req);
}

/* Removes anything that could render control characters into the log. */
static void log_safe(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < cap; s++)
        dst[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    dst[n] = '\0';
}

static void access_log(const struct lv_http_req *req, enum MHD_RequestTerminationCode toe)
{
    char path[256], method[16];
    log_safe(method, sizeof(method), req->method ? req->method : "-");
    if (req->path) {
        log_safe(path, sizeof(path), req->path);
    } else {
        log_safe(path, sizeof(path), req->target);
        path[strcspn(path, "?")] = '\0';
    }
    double ms = (double)(uv_hrtime() - req->start_ns) / 1e6;
    const char *how = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
                      : req->dead                                ? " (client gone)"
                                                                 : " (aborted)";
    lv_debug(AREA, "%s %s %u %zu %.1fms%s", method, path, req->status, req->resp_bytes, ms, how);
}

static void maybe_finish(struct lv_http *h)
{
    if (h->shutdown_started && !h->in_run && !h->finished && h->live == 0)
        finish(h);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct lv_http *h = cls;
    struct lv_http_req *req = *req_cls;
    if (!req)
        return;
    *req_cls = NULL;
    if (req->dispatched && !req->answered)
        req->dead = true;
    access_log(req, toe);
    unlink_suspended(req);
    stop_watch(req);
    req->h = NULL;
    req->conn = NULL;
    h->live--;
    req_unref(req);
    maybe_finish(h);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct lv_http *h = cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    if (h->starting) {
        if (h->start_log.len)
            lv_buf_adds(&h->start_log, "; ");
        lv_buf_adds(&h->start_log, msg);
    }
    /* Mostly about what remote peers sent: debug, so they cannot flood it. */
    lv_debug(AREA, "libmicrohttpd: %s", msg);
}

/* ---- the loop ---- */

static void arm_timer(struct lv_http *h)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (h->finished)
        return;
    if (!h->kicked && MHD_get_timeout(h->mhd, &ms) != MHD_YES) {
        uv_timer_stop(&h->timer);
        return;
    }
    /* Never 0 here: this runs from the timer's own callback, and libuv runs
     * a timer re-armed at 0 ms again in the same pass, so a busy server
     * would starve every other handle of the loop (I/O, XMPP, deliveries).
     * 1 ms lets one loop iteration (poll included) happen in between. */
    uv_timer_start(&h->timer, on_timer, ms ? (uint64_t)ms : 1, 0);
}

static void shutdown_start(struct lv_http *h);

static void run(struct lv_http *h)
{
    if (h->finished)
        return;
    h->in_run = true;
    h->kicked = false;
    MHD_run(h->mhd);
    h->in_run = false;
    if (h->stopping && !h->shutdown_started)
        shutdown_start(h);
    maybe_finish(h);
    arm_timer(h);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    run(p->data);
}

static void on_timer(uv_timer_t *t)
{
    run(t->data);
}

static void on_grace(uv_timer_t *t)
{
    struct lv_http *h = t->data;
    lv_debug(AREA, "shutdown grace over with %zu requests in flight", h->live);
    finish(h);
}

static void route_release(struct route *r)
{
    for (size_t j = 0; j < r->nsegs; j++)
        free(r->segs[j]);
    free(r->segs);
    free(r->method);
    free(r->pattern);
}

static void free_routes(struct lv_http *h)
{
    for (size_t i = 0; i < h->nroutes; i++)
        route_release(&h->routes[i]);
    free(h->routes);
}

static void free_server(struct lv_http *h)
{
    free_routes(h);
    free(h->address);
    lv_buf_release(&h->start_log);
    free(h);
}

static void on_handle_closed(uv_handle_t *hd)
{
    struct lv_http *h = hd->data;
    if (--h->open_handles == 0)
        free_server(h);
}

/* Every suspended request was resumed before: libmicrohttpd forbids
 * stopping with suspended connections. */
static void finish(struct lv_http *h)
{
    if (h->finished)
        return;
    h->finished = true;
    while (h->suspended) {
        struct lv_http_req *req = h->suspended;
        req->dead = true;
        wake(req);
    }
    /* Closing the poll handle first takes the epoll fd out of libuv's set
     * while it is still open. */
    uv_close((uv_handle_t *)&h->poll, on_handle_closed);
    MHD_stop_daemon(h->mhd);
    h->mhd = NULL;
    uv_close((uv_handle_t *)&h->timer, on_handle_closed);
    uv_close((uv_handle_t *)&h->grace, on_handle_closed);
}

static void shutdown_start(struct lv_http *h)
{
    h->shutdown_started = true;
    MHD_socket fd = MHD_quiesce_daemon(h->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    while (h->suspended) {
        struct lv_http_req *req = h->suspended;
        req->dead = true;
        answer_internal(req, MHD_HTTP_SERVICE_UNAVAILABLE, "server shutting down");
        wake(req);
    }
    uv_timer_start(&h->grace, on_grace, h->cfg.shutdown_grace_ms, 0);
    kick(h);
}

void lv_http_free(struct lv_http *h)
{
    if (!h || h->stopping)
        return;
    h->stopping = true;
    if (h->in_run)
        return; /* run() continues once MHD_run() returned */
    shutdown_start(h);
    maybe_finish(h);
}

/* ---- setup ---- */

void lv_http_config_defaults(struct lv_http_config *c)
{
    memset(c, 0, sizeof(*c));
    c->address = "127.0.0.1";
    c->max_header_bytes = 32 * 1024;
    c->max_headers = 100;
    c->max_body_bytes = 1024 * 1024;
    c->max_drain_bytes = 1024 * 1024;
    c->timeout_s = 30;
    c->max_conns = 1024;
    c->max_conns_per_ip = 64;
    c->shutdown_grace_ms = 2000;
}

static int parse_listen(const struct lv_http *h, struct sockaddr_storage *ss, bool *v6,
                        struct lv_error *err)
{
    memset(ss, 0, sizeof(*ss));
    *v6 = strchr(h->address, ':') != NULL;
    int rc = *v6 ? uv_ip6_addr(h->address, (int)h->cfg.port, (struct sockaddr_in6 *)ss)
                 : uv_ip4_addr(h->address, (int)h->cfg.port, (struct sockaddr_in *)ss);
    if (rc != 0 || h->cfg.port > 65535)
        return lv_error_set(err, LV_ERR_CONFIG, "bad HTTP listen address %s port %u", h->address,
                            h->cfg.port);
    return 0;
}

static int start_daemon(struct lv_http *h, struct lv_error *err)
{
    struct sockaddr_storage ss;
    bool v6;
    int rc = parse_listen(h, &ss, &v6, err);
    if (rc != 0)
        return rc;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    h->starting = true;
    h->mhd = MHD_start_daemon(
        flags, (uint16_t)h->cfg.port, NULL, NULL, on_access, h, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, h->cfg.max_header_bytes, MHD_OPTION_CONNECTION_TIMEOUT,
        h->cfg.timeout_s, MHD_OPTION_CONNECTION_LIMIT, h->cfg.max_conns,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->cfg.max_conns_per_ip, MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    h->starting = false;
    if (!h->mhd)
        return lv_error_set(err, LV_ERR_IO, "cannot listen on %s port %u: %s", h->address,
                            h->cfg.port, h->start_log.len ? h->start_log.data : "unknown error");
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : h->cfg.port;
    return 0;
}

static int check_config(const struct lv_http_config *c, struct lv_error *err)
{
    if (c->max_header_bytes < MIN_HEADER_BYTES || c->max_conns == 0 || c->max_headers == 0 ||
        c->max_body_bytes == 0 || c->max_body_bytes > SIZE_MAX / 2)
        return lv_error_set(err, LV_ERR_CONFIG,
                            "HTTP limits out of range (header bytes >= %u, connections, header "
                            "fields and body bytes > 0)",
                            MIN_HEADER_BYTES);
    return 0;
}

static int init_handles(struct lv_http *h, struct lv_error *err)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    int rc = di ? uv_poll_init(h->loop, &h->poll, di->epoll_fd) : UV_EINVAL;
    if (rc != 0)
        return lv_error_set(err, LV_ERR_IO, "cannot watch libmicrohttpd's epoll fd: %s",
                            uv_strerror(rc));
    uv_timer_init(h->loop, &h->timer);
    uv_timer_init(h->loop, &h->grace);
    h->poll.data = h->timer.data = h->grace.data = h;
    h->open_handles = 3;
    uv_poll_start(&h->poll, UV_READABLE, on_poll);
    return 0;
}

int lv_http_new(uv_loop_t *loop, const struct lv_http_config *cfg, struct lv_http **out,
                struct lv_error *err)
{
    int rc = check_config(cfg, err);
    if (rc != 0)
        return rc;
    struct lv_http *h = lv_xcalloc(1, sizeof(*h));
    h->loop = loop;
    h->cfg = *cfg;
    h->address = lv_xstrdup(cfg->address ? cfg->address : "127.0.0.1");
    h->cfg.address = h->address;
    rc = start_daemon(h, err);
    if (rc == 0 && (rc = init_handles(h, err)) != 0)
        MHD_stop_daemon(h->mhd);
    if (rc != 0) {
        free_server(h);
        return rc;
    }
    lv_info(AREA, "listening on %s port %u", h->address, h->port);
    arm_timer(h);
    *out = h;
    return 0;
}

/* Splits a pattern as request paths are split: "/" has no segment, "/a/"
 * has "a" and "". */
static int parse_pattern(struct route *r, const char *pattern, struct lv_error *err)
{
    if (pattern[0] != '/')
        return lv_error_set(err, LV_ERR_INVAL, "route pattern %s: must start with '/'", pattern);
    const char *p = pattern + 1;
    size_t cap = 0;
    if (!*p)
        return 0;
    for (;;) {
        size_t len = strcspn(p, "/");
        if (r->rest)
            return lv_error_set(err, LV_ERR_INVAL, "route pattern %s: \"**\" must be last",
                                pattern);
        if (len == 2 && strncmp(p, "**", 2) == 0) {
            r->rest = true;
        } else {
            lv_grow((void **)&r->segs, &cap, r->nsegs + 1, sizeof(*r->segs));
            r->segs[r->nsegs++] = lv_xstrndup(p, len);
        }
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

int lv_http_add_routes(struct lv_http *h, const struct lv_http_route *routes, size_t n, void *ud,
                       struct lv_error *err)
{
    size_t first = h->nroutes;
    lv_grow((void **)&h->routes, &h->routes_cap, h->nroutes + n, sizeof(*h->routes));
    for (size_t i = 0; i < n; i++) {
        struct route *r = &h->routes[first + i];
        memset(r, 0, sizeof(*r));
        int rc = routes[i].fn && routes[i].pattern
                     ? parse_pattern(r, routes[i].pattern, err)
                     : lv_error_set(err, LV_ERR_INVAL, "route without pattern or handler");
        if (rc != 0) {
            for (size_t j = first; j <= first + i; j++)
                route_release(&h->routes[j]);
            return rc;
        }
        r->method = routes[i].method ? lv_xstrdup(routes[i].method) : NULL;
        r->pattern = lv_xstrdup(routes[i].pattern);
        r->fn = routes[i].fn;
        r->ud = ud;
        r->max_body = routes[i].max_body;
    }
    h->nroutes += n;
    return 0;
}

unsigned lv_http_port(const struct lv_http *h)
{
    return h->port;
}

/* ---- request accessors ---- */

const char *lv_http_req_method(const struct lv_http_req *req)
{
    return req->method;
}

const char *lv_http_req_target(const struct lv_http_req *req)
{
    return req->target;
}

const char *lv_http_req_path(const struct lv_http_req *req)
{
    return req->path;
}

size_t lv_http_req_nsegs(const struct lv_http_req *req)
{
    return req->nsegs;
}

const char *lv_http_req_seg(const struct lv_http_req *req, size_t i)
{
    return i < req->nsegs ? req->segs[i] : NULL;
}

size_t lv_http_req_nquery(const struct lv_http_req *req)
{
    return req->nquery;
}

bool lv_http_req_query_at(const struct lv_http_req *req, size_t i, const char **key,
                          const char **value)
{
    if (i >= req->nquery)
        return false;
    *key = req->query[i].key;
    *value = req->query[i].value;
    return true;
}

const char *lv_http_req_query(const struct lv_http_req *req, const char *key)
{
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].key, key) == 0)
            return req->query[i].value;
    return NULL;
}

const char *lv_http_req_header(const struct lv_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].key, name) == 0)
            return req->headers[i].value;
    return NULL;
}

size_t lv_http_req_nheaders(const struct lv_http_req *req)
{
    return req->nheaders;
}

bool lv_http_req_header_at(const struct lv_http_req *req, size_t i, const char **name,
                           const char **value)
{
    if (i >= req->nheaders)
        return false;
    *name = req->headers[i].key;
    *value = req->headers[i].value;
    return true;
}

const char *lv_http_req_remote(const struct lv_http_req *req)
{
    return req->remote;
}

const char *lv_http_req_host(const struct lv_http_req *req)
{
    return req->host;
}

const char *lv_http_req_scheme(const struct lv_http_req *req)
{
    return req->scheme;
}

const char *lv_http_req_body(const struct lv_http_req *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

bool lv_http_req_dead(const struct lv_http_req *req)
{
    return req->dead;
}

/* ---- answers ---- */

void lv_http_req_add_header(struct lv_http_req *req, const char *name, const char *value)
{
    if (!is_token(name) || !safe_header_value(value) ||
        strcasecmp(name, MHD_HTTP_HEADER_CONTENT_TYPE) == 0 ||
        strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        lv_warn(AREA, "refusing response header %.64s", name);
        return;
    }
    push_kv(&req->out, &req->nout, &req->out_cap, lv_xstrdup(name), lv_xstrdup(value));
}

void lv_http_reply_error(struct lv_http_req *req, unsigned status, const char *reason)
{
    size_t len;
    struct MHD_Response *r = error_response(req, status, reason, &len);
    handler_answer(req, status, r, len);
}

void lv_http_reply_bytes(struct lv_http_req *req, unsigned status, const char *content_type,
                         const void *data, size_t len)
{
    const char *ct = content_type ? content_type : "application/octet-stream";
    if (!safe_header_value(ct)) {
        lv_http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "bad content type");
        return;
    }
    struct MHD_Response *r = make_response(req, ct, (void *)data, len, MHD_RESPMEM_MUST_COPY);
    handler_answer(req, status, r, len);
}

void lv_http_reply_json(struct lv_http_req *req, unsigned status, const char *content_type,
                        const json_t *body)
{
    const char *ct = content_type ? content_type : LV_HTTP_CT_JSON;
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!s || !safe_header_value(ct)) {
        free(s);
        lv_http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot serialize the answer");
        return;
    }
    size_t len = strlen(s);
    struct MHD_Response *r = make_response(req, ct, s, len, MHD_RESPMEM_MUST_FREE);
    handler_answer(req, status, r, len);
}

void lv_http_reply_redirect(struct lv_http_req *req, unsigned status, const char *location)
{
    bool ok_status =
        status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (!ok_status || !location || !*location || !safe_header_value(location)) {
        lv_http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "bad redirect");
        return;
    }
    size_t len;
    struct MHD_Response *r = error_response(req, status, location, &len);
    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
    handler_answer(req, status, r, len);
}
