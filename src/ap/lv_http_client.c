#include "lv_http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/lv_log.h"
#include "core/lv_mem.h"

#define AREA "http"

/* An address range: the allow-list entries and the built-in policy. */
struct range {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;
};

/* A socket curl asked us to watch. */
struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct lv_http_client *c;
    struct sock *prev, *next;
};

struct lv_http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    char *user_agent;
    char *ca_file; /* NULL = system store */
    bool allow_private;
    struct range *allowed;
    size_t n_allowed;
    struct lv_http_req *reqs; /* pending requests */
    size_t n_pending;
    struct sock *socks;    /* watched sockets (not those being closed) */
    unsigned open_handles; /* timer + polls not yet closed */
    bool closing;
};

struct lv_http_req {
    struct lv_http_client *c;
    CURL *easy;
    struct lv_http_req *prev, *next;
    struct curl_slist *headers;
    lv_http_done_fn fn;
    void *ud;
    bool delivering; /* the callback runs: cancel is a no-op */
    size_t max_bytes;
    unsigned timeout_ms;
    char *url;
    size_t header_bytes;
    struct lv_http_response resp;
    struct lv_error abort; /* why we stopped the transfer ourselves (code 0 = we did not) */
    unsigned refused;      /* addresses the policy refused */
    char refused_addr[INET6_ADDRSTRLEN];
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- address policy ---- */

/* IPv4 ranges refused without allow_private_networks. */
static const struct {
    uint32_t net;
    unsigned prefix;
} private4[] = {
    {0x00000000, 8},  /* 0.0.0.0/8 "this network", unspecified */
    {0x0a000000, 8},  /* 10/8 private */
    {0x64400000, 10}, /* 100.64/10 CGNAT */
    {0x7f000000, 8},  /* 127/8 loopback */
    {0xa9fe0000, 16}, /* 169.254/16 link-local (cloud metadata) */
    {0xac100000, 12}, /* 172.16/12 private */
    {0xc0000000, 24}, /* 192.0.0/24 IETF protocol assignments */
    {0xc0000200, 24}, /* 192.0.2/24 documentation */
    {0xc0a80000, 16}, /* 192.168/16 private */
    {0xc6120000, 15}, /* 198.18/15 benchmarking */
    {0xc6336400, 24}, /* 198.51.100/24 documentation */
    {0xcb007100, 24}, /* 203.0.113/24 documentation */
    {0xe0000000, 4},  /* 224/4 multicast */
    {0xf0000000, 4},  /* 240/4 reserved, 255.255.255.255 broadcast */
};

static bool private_v4(const unsigned char *a)
{
    uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    for (size_t i = 0; i < LV_ARRAY_LEN(private4); i++) {
        uint32_t mask = 0xffffffffu << (32 - private4[i].prefix);
        if ((v & mask) == private4[i].net)
            return true;
    }
    return false;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* The IPv4 address embedded in an IPv6 one by a transition mechanism
 * (mapped, compatible, NAT64, 6to4), or NULL: such an address reaches the
 * IPv4 host, so it gets the IPv4 verdict. */
static const unsigned char *embedded_v4(const unsigned char *a)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12) || all_zero(a, 12))
        return a + 12;
    if (a[0] == 0x20 && a[1] == 0x02)
        return a + 2;
    return NULL;
}

static bool private_v6(const unsigned char *a)
{
    const unsigned char *v4 = embedded_v4(a);
    if (v4)
        return private_v4(v4);
    if ((a[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
        return true;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
        return true;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) /* fec0::/10 site-local (deprecated) */
        return true;
    if (a[0] == 0xff) /* multicast */
        return true;
    if (a[0] == 0x20 && a[1] == 0x01 && ((a[2] == 0x0d && a[3] == 0xb8) || !(a[2] | a[3])))
        return true; /* 2001:db8::/32 documentation, 2001::/32 Teredo (tunnels anywhere) */
    if (a[0] == 0x01 && all_zero(a + 1, 7)) /* 100::/64 discard */
        return true;
    return a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 &&
           a[5] == 1; /* 64:ff9b:1::/48 local-use NAT64 */
}

bool lv_http_addr_is_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof(in));
        return private_v4((const unsigned char *)&in.sin_addr);
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        return private_v6(in6.sin6_addr.s6_addr);
    }
    return true;
}

/* The address as family + bytes, IPv4-mapped IPv6 unmapped so that an
 * IPv4 allow-list entry covers it. */
static int addr_bytes(const struct sockaddr *sa, unsigned char out[16])
{
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof(in));
        memcpy(out, &in.sin_addr, 4);
        return AF_INET;
    }
    struct sockaddr_in6 in6;
    memcpy(&in6, sa, sizeof(in6));
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(in6.sin6_addr.s6_addr, mapped, 12)) {
        memcpy(out, in6.sin6_addr.s6_addr + 12, 4);
        return AF_INET;
    }
    memcpy(out, in6.sin6_addr.s6_addr, 16);
    return AF_INET6;
}

static bool range_has(const struct range *r, int family, const unsigned char *a)
{
    if (r->family != family)
        return false;
    unsigned full = r->prefix / 8, rest = r->prefix % 8;
    if (memcmp(r->addr, a, full))
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (r->addr[full] & mask) == (a[full] & mask);
}

static bool in_allowed(const struct lv_http_client *c, const struct sockaddr *sa)
{
    unsigned char a[16];
    int family = addr_bytes(sa, a);
    for (size_t i = 0; i < c->n_allowed; i++)
        if (range_has(&c->allowed[i], family, a))
            return true;
    return false;
}

static bool addr_allowed(const struct lv_http_client *c, const struct sockaddr *sa)
{
    if (c->allow_private)
        return true;
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return false;
    return !lv_http_addr_is_private(sa) || in_allowed(c, sa);
}

static void addr_str(const struct sockaddr *sa, char *buf, size_t size)
{
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof(in));
        inet_ntop(AF_INET, &in.sin_addr, buf, (socklen_t)size);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        inet_ntop(AF_INET6, &in6.sin6_addr, buf, (socklen_t)size);
    } else {
        snprintf(buf, size, "(address family %d)", sa->sa_family);
    }
}

/* One "addr[/prefix]" allow-list entry. */
static int parse_range(const char *s, size_t len, struct range *r)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    memset(r, 0, sizeof(*r));
    if (inet_pton(AF_INET, buf, r->addr) == 1)
        r->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, r->addr) == 1)
        r->family = AF_INET6;
    else
        return -1;
    unsigned max = r->family == AF_INET ? 32 : 128;
    r->prefix = max;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || p < 0 || p > (long)max)
            return -1;
        r->prefix = (unsigned)p;
    }
    return 0;
}

static int parse_ranges(struct lv_http_client *c, const char *list, struct lv_error *err)
{
    size_t cap = 0;
    const char *p = list;
    while (p && *p) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, " \t,");
        if (!len)
            break;
        lv_grow((void **)&c->allowed, &cap, c->n_allowed + 1, sizeof(*c->allowed));
        if (parse_range(p, len, &c->allowed[c->n_allowed]) != 0)
            return lv_error_set(err, LV_ERR_CONFIG, "allowed_ranges: bad address range '%.*s'",
                                (int)len, p);
        c->n_allowed++;
        p += len;
    }
    return 0;
}

/* ---- libcurl on the loop ---- */

static void collect(struct lv_http_client *c);

static void release_client(struct lv_http_client *c)
{
    /* Only now: curl may still hold cached connections, and the multi handle
     * must outlive every callback that could touch it. */
    curl_multi_cleanup(c->multi);
    curl_global_cleanup();
    free(c->user_agent);
    free(c->ca_file);
    free(c->allowed);
    free(c);
}

static void handle_closed(struct lv_http_client *c)
{
    if (--c->open_handles == 0 && c->closing)
        release_client(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_sock_closed(uv_handle_t *h)
{
    struct sock *s = h->data;
    struct lv_http_client *c = s->c;
    free(s);
    handle_closed(c);
}

static void sock_close(struct sock *s)
{
    struct lv_http_client *c = s->c;
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    /* uv_close detaches the fd from epoll at once, so curl may close the
     * socket (and the kernel reuse its number) right after. */
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock *s = h->data;
    struct lv_http_client *c = s->c;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    collect(c);
}

static struct sock *sock_new(struct lv_http_client *c, curl_socket_t fd)
{
    struct sock *s = lv_xcalloc(1, sizeof(*s));
    if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->fd = fd;
    s->c = c;
    s->poll.data = s;
    s->next = c->socks;
    if (c->socks)
        c->socks->prev = s;
    c->socks = s;
    c->open_handles++;
    curl_multi_assign(c->multi, fd, s);
    return s;
}

/* CURLMOPT_SOCKETFUNCTION: curl says which events it waits for on fd. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct lv_http_client *c = userp;
    struct sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_close(s);
        return 0;
    }
    if (c->closing)
        return 0;
    if (!s && !(s = sock_new(c, fd))) {
        /* Returning -1 would make curl kill the whole multi handle; the
         * transfer times out instead. */
        lv_error(AREA, "cannot watch socket %d", (int)fd);
        return 0;
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    struct lv_http_client *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect(c);
}

/* CURLMOPT_TIMERFUNCTION. Even a 0 timeout goes through the loop: curl
 * forbids calling curl_multi_socket_action from its own callbacks. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct lv_http_client *c = userp;
    if (c->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static void setup_multi(struct lv_http_client *c, const struct lv_http_client_config *cfg)
{
    long total = cfg->max_connections ? cfg->max_connections : LV_HTTP_DEFAULT_MAX_CONNECTIONS;
    long host = cfg->max_host_connections ? cfg->max_host_connections
                                          : LV_HTTP_DEFAULT_MAX_HOST_CONNECTIONS;
    c->multi = curl_multi_init();
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, total);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, host);
    /* Keep as many idle connections as may be open, for keep-alive reuse. */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, total);
}

int lv_http_client_new(uv_loop_t *loop, const struct lv_http_client_config *cfg,
                       struct lv_http_client **out, struct lv_error *err)
{
    static const struct lv_http_client_config defaults = {0};
    if (!cfg)
        cfg = &defaults;
    *out = NULL;
    struct lv_http_client *c = lv_xcalloc(1, sizeof(*c));
    if (parse_ranges(c, cfg->allowed_ranges, err) != 0) {
        free(c->allowed);
        free(c);
        return LV_ERR_CONFIG;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(c->allowed);
        free(c);
        return lv_error_set(err, LV_ERR_INTERNAL, "curl_global_init failed");
    }
    c->loop = loop;
    c->user_agent = lv_xstrdup(cfg->user_agent ? cfg->user_agent : LV_HTTP_USER_AGENT);
    c->ca_file = cfg->ca_file && *cfg->ca_file ? lv_xstrdup(cfg->ca_file) : NULL;
    c->allow_private = cfg->allow_private_networks;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1;
    setup_multi(c, cfg);
    *out = c;
    return 0;
}

size_t lv_http_client_pending(const struct lv_http_client *c)
{
    return c->n_pending;
}

/* ---- responses ---- */

static void headers_clear(struct lv_http_response *resp)
{
    for (size_t i = 0; i < resp->n_headers; i++) {
        free((char *)resp->headers[i].name);
        free((char *)resp->headers[i].value);
    }
    free(resp->headers);
    resp->headers = NULL;
    resp->n_headers = 0;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Trims [*p, *p + *len) of surrounding whitespace. */
static void trim(const char **p, size_t *len)
{
    while (*len && is_space(**p)) {
        (*p)++;
        (*len)--;
    }
    while (*len && is_space((*p)[*len - 1]))
        (*len)--;
}

static void header_push(struct lv_http_response *resp, const char *name, size_t nlen,
                        const char *value, size_t vlen)
{
    /* Grown one by one: the count is bounded by LV_HTTP_MAX_HEADERS. */
    resp->headers = lv_xrealloc(resp->headers, (resp->n_headers + 1) * sizeof(*resp->headers));
    resp->headers[resp->n_headers].name = lv_xstrndup(name, nlen);
    resp->headers[resp->n_headers].value = lv_xstrndup(value, vlen);
    resp->n_headers++;
}

/* An obsolete folded line continues the previous header's value. */
static void header_fold(struct lv_http_response *resp, const char *p, size_t len)
{
    if (!resp->n_headers)
        return;
    struct lv_http_header *h = &resp->headers[resp->n_headers - 1];
    char *v = lv_xasprintf("%s %.*s", h->value, (int)len, p);
    free((char *)h->value);
    h->value = v;
}

static size_t header_limit(struct lv_http_req *r)
{
    lv_error_set(&r->abort, LV_ERR_LIMIT, "response headers exceed %u headers or %zu bytes",
                 LV_HTTP_MAX_HEADERS, LV_HTTP_MAX_HEADER_BYTES);
    return 0;
}

/* CURLOPT_HEADERFUNCTION: one call per header line, status lines included. */
static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct lv_http_req *r = ud;
    size_t len = size * n;
    if (len >= 5 && !memcmp(buf, "HTTP/", 5)) {
        /* A new response (after a redirect or a 1xx): keep only the last. */
        headers_clear(&r->resp);
        lv_buf_reset(&r->resp.body);
        r->header_bytes = 0;
        return len;
    }
    r->header_bytes += len;
    if (r->header_bytes > LV_HTTP_MAX_HEADER_BYTES)
        return header_limit(r);
    const char *p = buf;
    size_t l = len;
    bool folded = l && (buf[0] == ' ' || buf[0] == '\t');
    trim(&p, &l);
    if (!l)
        return len; /* the blank line ending the headers */
    if (folded) {
        header_fold(&r->resp, p, l);
        return len;
    }
    const char *colon = memchr(p, ':', l);
    if (!colon)
        return len; /* not a header: ignored */
    const char *name = p, *value = colon + 1;
    size_t nlen = (size_t)(colon - p), vlen = l - nlen - 1;
    trim(&name, &nlen);
    trim(&value, &vlen);
    if (r->resp.n_headers >= LV_HTTP_MAX_HEADERS)
        return header_limit(r);
    header_push(&r->resp, name, nlen, value, vlen);
    return len;
}

/* CURLOPT_WRITEFUNCTION: the decoded body. Stops the transfer as soon as it
 * would exceed the limit, so a decompression bomb costs max_bytes at most. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct lv_http_req *r = ud;
    size_t len = size * n;
    r->resp.bytes_received += len;
    if (len > r->max_bytes - r->resp.body.len) {
        lv_error_set(&r->abort, LV_ERR_LIMIT, "response body larger than %zu bytes", r->max_bytes);
        return 0;
    }
    lv_buf_add(&r->resp.body, p, len);
    return len;
}

/* CURLOPT_OPENSOCKETFUNCTION: the address policy, on the resolved address
 * of every connection (first request, redirects, retries). */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct lv_http_req *r = ud;
    size_t need = a->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (purpose != CURLSOCKTYPE_IPCXN || a->addrlen < need || !addr_allowed(r->c, &a->addr)) {
        r->refused++;
        addr_str(&a->addr, r->refused_addr, sizeof(r->refused_addr));
        lv_debug(AREA, "refused to connect to %s for %s", r->refused_addr, r->url);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

const char *lv_http_response_header(const struct lv_http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (!strcasecmp(resp->headers[i].name, name))
            return resp->headers[i].value;
    return NULL;
}

const char *lv_http_response_media_type(const struct lv_http_response *resp, char *buf, size_t size)
{
    const char *ct = lv_http_response_header(resp, "Content-Type");
    size_t len = ct ? strcspn(ct, ";") : 0;
    trim(&ct, &len);
    if (len >= size)
        len = size - 1;
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)((ct[i] >= 'A' && ct[i] <= 'Z') ? ct[i] + 32 : ct[i]);
    buf[len] = '\0';
    return buf;
}

void lv_http_response_take_body(struct lv_http_response *resp, struct lv_buf *out)
{
    *out = resp->body;
    lv_buf_init(&resp->body);
}

/* ---- completion ---- */

static void req_free(struct lv_http_req *r)
{
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    headers_clear(&r->resp);
    lv_buf_release(&r->resp.body);
    free((char *)r->resp.url);
    free(r->url);
    free(r);
}

static void unlink_req(struct lv_http_req *r)
{
    struct lv_http_client *c = r->c;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    c->n_pending--;
}

/* Detaches r from curl, calls its callback once, frees it. */
static void deliver(struct lv_http_req *r, const struct lv_error *err)
{
    curl_multi_remove_handle(r->c->multi, r->easy);
    unlink_req(r);
    r->delivering = true;
    r->fn(&r->resp, err, r->ud);
    req_free(r);
}

static bool tls_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CLIENTCERT:
        return true;
    default:
        return false;
    }
}

static int error_code(CURLcode rc)
{
    if (tls_error(rc))
        return LV_ERR_TLS;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return LV_ERR_TIMEOUT;
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_FILESIZE_EXCEEDED:
        return LV_ERR_LIMIT;
    case CURLE_UNSUPPORTED_PROTOCOL: /* a redirect to ftp:..., or an HTTP/0.9 reply */
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
        return LV_ERR_PROTO;
    default:
        return LV_ERR_IO; /* resolution, connection, send/receive: transient */
    }
}

static void map_error(struct lv_http_req *r, CURLcode rc, struct lv_error *e)
{
    const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
    if (r->abort.code) {
        *e = r->abort;
    } else if (rc == CURLE_COULDNT_CONNECT && r->refused) {
        lv_error_set(e, LV_ERR_PERM,
                     "refusing to connect to private address %s (allow_private_networks is off)",
                     r->refused_addr);
    } else if (rc == CURLE_FILESIZE_EXCEEDED) {
        lv_error_set(e, LV_ERR_LIMIT, "response body larger than %zu bytes (Content-Length)",
                     r->max_bytes);
    } else {
        lv_error_set(e, error_code(rc), "%s: %s", r->url, why);
    }
}

static void finish(struct lv_http_req *r, CURLcode rc)
{
    long status = 0, redirects = 0;
    char *url = NULL;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_COUNT, &redirects);
    curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
    r->resp.status = status;
    r->resp.redirects = (unsigned)redirects;
    if (url) {
        free((char *)r->resp.url);
        r->resp.url = lv_xstrdup(url);
    }
    if (rc == CURLE_OK) {
        deliver(r, NULL);
        return;
    }
    struct lv_error e;
    map_error(r, rc, &e);
    lv_debug(AREA, "%s failed: %s", r->url, e.msg);
    deliver(r, &e);
}

/* Delivers the transfers curl has finished. Stops when a callback shut the
 * client down (the multi handle stays valid until the handles closed). */
static void collect(struct lv_http_client *c)
{
    CURLMsg *m;
    int left;
    while (!c->closing && (m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        CURLcode rc = m->data.result; /* m is invalid once the handle is removed */
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        finish((struct lv_http_req *)(void *)priv, rc);
    }
}

void lv_http_cancel(struct lv_http_req *r)
{
    if (!r || r->delivering)
        return;
    struct lv_error e;
    lv_error_set(&e, LV_ERR_CANCELLED, "request cancelled: %s", r->url);
    deliver(r, &e);
}

void lv_http_client_free(struct lv_http_client *c)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    while (c->reqs) {
        struct lv_error e;
        lv_error_set(&e, LV_ERR_CANCELLED, "HTTP client shut down: %s", c->reqs->url);
        deliver(c->reqs, &e);
    }
    while (c->socks) {
        curl_multi_assign(c->multi, c->socks->fd, NULL);
        sock_close(c->socks);
    }
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

/* ---- requests ---- */

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

static int check_url(const char *url, struct lv_error *err)
{
    if (!url)
        return lv_error_set(err, LV_ERR_INVAL, "no URL");
    CURLU *u = curl_url();
    char *scheme = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    int rc = 0;
    if (uc != CURLUE_OK)
        rc = lv_error_set(err, LV_ERR_INVAL, "bad URL '%s': %s", url, curl_url_strerror(uc));
    else if (strcmp(scheme, "http") && strcmp(scheme, "https"))
        rc = lv_error_set(err, LV_ERR_INVAL, "only http and https URLs are fetched: %s", url);
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

static bool has_header(const struct lv_http_request *q, const char *name)
{
    for (size_t i = 0; i < q->n_headers; i++)
        if (q->headers[i].name && !strcasecmp(q->headers[i].name, name))
            return true;
    return false;
}

/* The request headers as curl wants them; CR or LF would let a value
 * inject headers, so they are refused. */
static int build_headers(const struct lv_http_request *q, struct curl_slist **out,
                         struct lv_error *err)
{
    struct curl_slist *l = NULL;
    for (size_t i = 0; i < q->n_headers; i++) {
        const struct lv_http_header *h = &q->headers[i];
        if (!is_token(h->name) || !h->value || strpbrk(h->value, "\r\n")) {
            curl_slist_free_all(l);
            return lv_error_set(err, LV_ERR_INVAL, "bad request header '%s'",
                                h->name ? h->name : "(null)");
        }
        /* "Name;" is curl's way to send an empty value ("Name:" removes it). */
        char *line =
            *h->value ? lv_xasprintf("%s: %s", h->name, h->value) : lv_xasprintf("%s;", h->name);
        l = curl_slist_append(l, line);
        free(line);
    }
    /* No 100-continue round trip: peers rarely need it, and some stall on it. */
    if (!has_header(q, "Expect"))
        l = curl_slist_append(l, "Expect:");
    *out = l;
    return 0;
}

static void set_method(CURL *e, const struct lv_http_request *q)
{
    const char *m = q->method ? q->method : "GET";
    if (!strcmp(m, "GET")) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (!strcmp(m, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        return;
    }
    if (strcmp(m, "POST"))
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    if (strcmp(m, "POST") && !q->body)
        return; /* DELETE and the like without a body */
    /* The size first, so that the copy takes binary bodies whole. */
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, q->body ? (const char *)q->body : "");
}

static void set_limits(struct lv_http_req *r, const struct lv_http_request *q)
{
    CURL *e = r->easy;
    unsigned connect =
        q->connect_timeout_ms ? q->connect_timeout_ms : LV_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    long redirects = q->max_redirects ? q->max_redirects : LV_HTTP_DEFAULT_MAX_REDIRECTS;
    r->timeout_ms = q->timeout_ms ? q->timeout_ms : LV_HTTP_DEFAULT_TIMEOUT_MS;
    r->max_bytes = q->max_response_bytes ? q->max_response_bytes : LV_HTTP_DEFAULT_MAX_BYTES;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect);
    /* Refuses at once when Content-Length announces too much; on_body
     * covers chunked and compressed bodies. Not for HEAD: curl 7.88 applies
     * it to the length of the body that a HEAD does not get. */
    if (!q->method || strcmp(q->method, "HEAD"))
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_bytes);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, q->no_redirects ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, redirects);
}

static void set_policy(struct lv_http_req *r)
{
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* A proxy from the environment would make the address check see the
     * proxy instead of the target. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, r);
    if (r->c->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, r->c->ca_file);
}

static void set_io(struct lv_http_req *r)
{
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    /* Signals are the loop's; the threaded resolver needs no alarm(). */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_USERAGENT, r->c->user_agent);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* all curl decodes */
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
}

static int check_request(const struct lv_http_client *c, const struct lv_http_request *q,
                         struct lv_error *err)
{
    if (c->closing)
        return lv_error_set(err, LV_ERR_CANCELLED, "HTTP client shut down");
    if (q->method && !is_token(q->method))
        return lv_error_set(err, LV_ERR_INVAL, "bad HTTP method");
    return check_url(q->url, err);
}

static void link_req(struct lv_http_client *c, struct lv_http_req *r)
{
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    c->n_pending++;
}

int lv_http_client_request(struct lv_http_client *c, const struct lv_http_request *q,
                           lv_http_done_fn fn, void *ud, struct lv_http_req **out,
                           struct lv_error *err)
{
    struct curl_slist *headers = NULL;
    int rc = check_request(c, q, err);
    if (rc == 0)
        rc = build_headers(q, &headers, err);
    if (rc != 0)
        return rc;
    struct lv_http_req *r = lv_xcalloc(1, sizeof(*r));
    r->c = c;
    r->fn = fn;
    r->ud = ud;
    r->headers = headers;
    r->url = lv_xstrdup(q->url);
    r->resp.url = lv_xstrdup(q->url);
    r->easy = curl_easy_init();
    curl_easy_setopt(r->easy, CURLOPT_URL, q->url);
    set_io(r);
    set_policy(r);
    set_limits(r, q);
    set_method(r->easy, q);
    CURLMcode mc = curl_multi_add_handle(c->multi, r->easy);
    if (mc != CURLM_OK) {
        req_free(r);
        return lv_error_set(err, LV_ERR_INTERNAL, "curl: %s", curl_multi_strerror(mc));
    }
    link_req(c, r);
    if (out)
        *out = r;
    return 0;
}

/* ---- JSON documents ---- */

struct json_ctx {
    enum lv_http_json_kind kind;
    lv_http_json_fn fn;
    void *ud;
};

static int status_error(const struct lv_http_response *resp, struct lv_error *e)
{
    long s = resp->status;
    if (s >= 200 && s < 300)
        return 0;
    int code = LV_ERR_PROTO;
    if (s == 404 || s == 410)
        code = LV_ERR_NOT_FOUND;
    else if (s == 401 || s == 403)
        code = LV_ERR_PERM;
    else if (s == 408 || s == 429 || s >= 500)
        code = LV_ERR_AGAIN;
    return lv_error_set(e, code, "HTTP %ld from %s", s, resp->url);
}

static int type_error(enum lv_http_json_kind kind, const struct lv_http_response *resp,
                      struct lv_error *e)
{
    static const char *const ap[] = {"application/activity+json", "application/ld+json", NULL};
    static const char *const jrd[] = {"application/jrd+json", "application/json", NULL};
    const char *const *ok = kind == LV_HTTP_JSON_AP ? ap : jrd;
    char mt[128];
    lv_http_response_media_type(resp, mt, sizeof(mt));
    for (size_t i = 0; ok[i]; i++)
        if (!strcmp(mt, ok[i]))
            return 0;
    return lv_error_set(e, LV_ERR_PROTO, "not %s document: %s",
                        kind == LV_HTTP_JSON_AP ? "an ActivityPub" : "a WebFinger",
                        *mt ? mt : "(no content type)");
}

static void on_json_done(struct lv_http_response *resp, const struct lv_error *err, void *ud)
{
    struct json_ctx *ctx = ud;
    struct lv_error e;
    json_t *doc = NULL;
    if (!err) {
        if (status_error(resp, &e) == 0 && type_error(ctx->kind, resp, &e) == 0)
            doc = lv_http_json_parse(resp->body.data ? resp->body.data : "", resp->body.len, &e);
        if (!doc)
            err = &e;
    }
    ctx->fn(doc, resp, err, ctx->ud);
    json_decref(doc);
    free(ctx);
}

int lv_http_client_fetch_json(struct lv_http_client *c, const struct lv_http_request *req,
                              enum lv_http_json_kind kind, lv_http_json_fn fn, void *ud,
                              struct lv_http_req **out, struct lv_error *err)
{
    static const char *const accept[] = {
        [LV_HTTP_JSON_AP] = "application/activity+json, application/ld+json; "
                            "profile=\"https://www.w3.org/ns/activitystreams\"",
        [LV_HTTP_JSON_JRD] = "application/jrd+json, application/json",
    };
    struct lv_http_request q = *req;
    struct lv_http_header *h = lv_xcalloc(req->n_headers + 1, sizeof(*h));
    if (req->n_headers)
        memcpy(h, req->headers, req->n_headers * sizeof(*h));
    if (!has_header(req, "Accept"))
        h[q.n_headers++] = (struct lv_http_header){"Accept", accept[kind]};
    q.headers = h;
    struct json_ctx *ctx = lv_xmalloc(sizeof(*ctx));
    *ctx = (struct json_ctx){kind, fn, ud};
    int rc = lv_http_client_request(c, &q, on_json_done, ctx, out, err);
    if (rc != 0)
        free(ctx);
    free(h);
    return rc;
}

struct scan {
    size_t depth, values;
    bool in_string, escape, in_scalar, after_string;
};

/* One byte outside a string. A string is a value unless a ':' follows it
 * (then it was a key), hence after_string. */
static void scan_byte(struct scan *s, char ch)
{
    if (is_space(ch)) {
        s->in_scalar = false;
        return;
    }
    if (s->after_string && ch != ':')
        s->values++;
    s->after_string = false;
    switch (ch) {
    case '"':
        s->in_string = true;
        s->in_scalar = false;
        break;
    case '[':
    case '{':
        s->values++;
        s->depth++;
        s->in_scalar = false;
        break;
    case ']':
    case '}':
        if (s->depth)
            s->depth--;
        s->in_scalar = false;
        break;
    case ',':
    case ':':
        s->in_scalar = false;
        break;
    default:
        if (!s->in_scalar)
            s->values++;
        s->in_scalar = true;
    }
}

static void scan_string_byte(struct scan *s, char ch)
{
    if (s->escape)
        s->escape = false;
    else if (ch == '\\')
        s->escape = true;
    else if (ch == '"') {
        s->in_string = false;
        s->after_string = true;
    }
}

static int too_many_values(struct lv_error *err, size_t max_values)
{
    return lv_error_set(err, LV_ERR_LIMIT, "JSON document has more than %zu values", max_values);
}

int lv_http_json_check(const char *data, size_t len, unsigned max_depth, size_t max_values,
                       struct lv_error *err)
{
    struct scan s = {0};
    for (size_t i = 0; i < len; i++) {
        if (s.in_string) {
            scan_string_byte(&s, data[i]);
            continue;
        }
        scan_byte(&s, data[i]);
        if (s.depth > max_depth)
            return lv_error_set(err, LV_ERR_LIMIT, "JSON nested deeper than %u levels", max_depth);
        if (s.values > max_values)
            return too_many_values(err, max_values);
    }
    if (s.after_string && ++s.values > max_values) /* a string at the very end */
        return too_many_values(err, max_values);
    return 0;
}

json_t *lv_http_json_parse(const char *data, size_t len, struct lv_error *err)
{
    if (lv_http_json_check(data, len, LV_HTTP_JSON_MAX_DEPTH, LV_HTTP_JSON_MAX_VALUES, err) != 0)
        return NULL;
    json_error_t jerr;
    json_t *doc = json_loadb(data, len, 0, &jerr);
    if (!doc) {
        lv_error_set(err, LV_ERR_PROTO, "invalid JSON: %s (line %d, column %d)", jerr.text,
                     jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        lv_error_set(err, LV_ERR_PROTO, "JSON document is not an object");
        return NULL;
    }
    return doc;
}
