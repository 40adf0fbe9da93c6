#include "lv_xmpp.h"
#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_map.h"
#include "core/lv_mem.h"
#include "lv_jid.h"
#include "lv_sasl.h"
#include "lv_tls.h"
#include "xml/lv_xml_stream.h"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

#define AREA "xmpp"
#define C2S_PORT 5222
#define COMPONENT_PORT 5347
#define MAX_WRITE_QUEUE (64u * 1024 * 1024)
#define MAX_CANDIDATES 8
#define TICK_MS 250

/* Where a connection attempt stands. */
enum phase {
    P_IDLE,      /* no connection */
    P_RESOLVING, /* SRV and address lookups */
    P_TCP,       /* TCP connect in progress */
    P_STREAM,    /* stream header sent, waiting for the server's features */
    P_STARTTLS,  /* <starttls/> sent */
    P_TLS,       /* TLS handshake */
    P_SASL,      /* SASL exchange */
    P_BIND,      /* resource binding (and legacy session) */
    P_HANDSHAKE, /* component handshake sent */
    P_ONLINE,
};

/* What to do once the TCP handle is closed. */
enum after_close { AC_NOTHING, AC_NEXT_ADDR, AC_RETRY, AC_FREE };

struct candidate {
    char *host;
    unsigned port;
};

struct pending_iq {
    lv_xmpp_iq_fn fn;
    void *ud;
    char *to; /* normalised, NULL = our server */
    uint64_t deadline;
};

struct handler {
    char *name, *type, *ns;
    lv_xmpp_stanza_fn fn;
    void *ud;
    struct handler *next;
};

struct ext {
    const char *key;
    void *ptr;
    void (*release)(void *);
    struct ext *next;
};

struct write_req {
    uv_write_t req;
    char data[];
};

struct gai_req {
    uv_getaddrinfo_t req;
    struct lv_xmpp *x;
    unsigned gen;
};

struct srv_req {
    uv_work_t req;
    struct lv_xmpp *x;
    unsigned gen;
    char *domain;
    struct candidate cands[MAX_CANDIDATES];
    size_t n;
};

struct lv_xmpp {
    uv_loop_t *loop;
    enum lv_xmpp_kind kind;
    struct lv_xmpp_config cfg; /* strings owned */
    struct lv_jid jid;
    char *jid_str; /* configured JID, normalised */
    char *bound;   /* bound full JID when online */
    char *server;  /* server domain */
    const char *stream_ns;

    enum lv_xmpp_state state;
    struct lv_error last_err;
    lv_xmpp_state_fn state_fn;
    void *state_ud;

    /* connection */
    enum phase phase;
    unsigned gen; /* attempt number: stale async results compare it */
    bool running; /* start()ed and not stop()ped */
    bool freeing;
    unsigned async; /* outstanding heap requests (lookups) */
    uv_tcp_t tcp;
    bool tcp_live; /* initialised and not yet closed */
    enum after_close after_close;
    uv_connect_t connect_req;
    uv_timer_t timer; /* connect timeout, then reconnect delay */
    uv_timer_t tick;  /* iq timeouts and keepalive */
    unsigned handles_open;
    struct candidate cands[MAX_CANDIDATES];
    size_t ncands, cand;
    struct addrinfo *ai_list, *ai;
    unsigned failures;                  /* consecutive, for the backoff */
    uint64_t attempt_start, connect_ms; /* how long the last successful connection took */
    char readbuf[65536];

    /* stream */
    struct lv_xml_stream *parser;
    struct lv_tls *tls;
    bool tls_on; /* TLS established */
    struct lv_sasl *sasl;
    bool authenticated;
    bool restart; /* a stream restart is due after the current feed */
    bool session_needed;
    char *stream_id;
    struct lv_buf plain, cipher;

    /* stanzas */
    struct lv_map iqs;
    uint64_t next_id;
    char id_prefix[9];
    struct handler *handlers;
    struct ext *exts;
    uint64_t last_rx, in, out;
    bool ping_out;
};

static void drop(struct lv_xmpp *x, int code, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void begin_attempt(struct lv_xmpp *x);
static void try_candidate(struct lv_xmpp *x);
static void send_raw(struct lv_xmpp *x, const char *data, size_t len);

/* ---- small helpers ---- */

static uint64_t now_ms(struct lv_xmpp *x)
{
    return uv_now(x->loop);
}

static char *dup_or_null(const char *s)
{
    return (s && *s) ? lv_xstrdup(s) : NULL;
}

const char *lv_xmpp_state_name(enum lv_xmpp_state s)
{
    static const char *const names[] = {"offline", "connecting", "online", "waiting", "failed"};
    return (unsigned)s < LV_ARRAY_LEN(names) ? names[s] : "?";
}

static void set_state(struct lv_xmpp *x, enum lv_xmpp_state s)
{
    bool with_err = (s == LV_XMPP_WAITING || s == LV_XMPP_FAILED);
    if (x->state == s && !with_err)
        return;
    x->state = s;
    if (x->state_fn)
        x->state_fn(x, s, with_err ? &x->last_err : NULL, x->state_ud);
}

void lv_xmpp_config_defaults(struct lv_xmpp_config *c)
{
    memset(c, 0, sizeof(*c));
    c->check_certificate = true;
    c->limits = (struct lv_xml_limits){16u * 1024 * 1024, 64, 64, 100000};
    c->preauth_limits = (struct lv_xml_limits){64u * 1024, 16, 32, 256};
    c->iq_timeout_ms = 60000;
    c->connect_timeout_ms = 30000;
    c->reconnect_min_ms = 1000;
    c->reconnect_max_ms = 300000;
    c->ping_interval_ms = 60000;
}

/* ---- writing ---- */

static void on_written(uv_write_t *req, int status)
{
    struct lv_xmpp *x = req->handle->data;
    free(req);
    if (status < 0 && status != UV_ECANCELED && x->phase != P_IDLE)
        drop(x, LV_ERR_IO, NULL, "write failed: %s", uv_strerror(status));
}

static void write_socket(struct lv_xmpp *x, const char *data, size_t len)
{
    if (!x->tcp_live || len == 0)
        return;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&x->tcp) > MAX_WRITE_QUEUE) {
        drop(x, LV_ERR_IO, NULL, "the server does not read what we send (%u bytes queued)",
             MAX_WRITE_QUEUE);
        return;
    }
    struct write_req *w = lv_xmalloc(sizeof(*w) + len);
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&x->tcp, &b, 1, on_written);
    if (rc < 0) {
        free(w);
        drop(x, LV_ERR_IO, NULL, "write failed: %s", uv_strerror(rc));
    }
}

static void flush_tls(struct lv_xmpp *x)
{
    lv_buf_reset(&x->cipher);
    lv_tls_take_output(x->tls, &x->cipher);
    write_socket(x, x->cipher.data, x->cipher.len);
}

static void send_raw(struct lv_xmpp *x, const char *data, size_t len)
{
    if (!x->tls_on) {
        write_socket(x, data, len);
        return;
    }
    struct lv_error err;
    if (lv_tls_write(x->tls, data, len, &err) != 0) {
        drop(x, err.code, NULL, "%s", err.msg);
        return;
    }
    flush_tls(x);
}

/* Stanzas whose content must never reach a log: SASL data, the component
 * handshake. */
static bool secret_stanza(const struct lv_xml *s)
{
    return (s->ns && strcmp(s->ns, LV_NS_SASL) == 0) || strcmp(s->name, "handshake") == 0;
}

/* Serialises with the stream's default namespace in scope, whatever
 * namespace the caller gave the stanza itself. */
static void send_xml(struct lv_xmpp *x, const struct lv_xml *s)
{
    struct lv_buf b = LV_BUF_INIT;
    bool stanza_ns =
        !s->ns || strcmp(s->ns, LV_NS_CLIENT) == 0 || strcmp(s->ns, LV_NS_COMPONENT) == 0;
    lv_xml_serialize(s, &b, stanza_ns ? s->ns : x->stream_ns);
    if (lv_log_threshold >= LV_LOG_TRACE && !secret_stanza(s))
        lv_trace(AREA, "%s SEND %s", x->jid_str, b.data);
    x->out++;
    send_raw(x, b.data, b.len);
    lv_buf_release(&b);
}

static void send_stream_header(struct lv_xmpp *x)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_addf(&b, "<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' to='",
                x->stream_ns, LV_NS_STREAMS);
    const char *to = x->kind == LV_XMPP_COMPONENT ? x->jid.domain : x->server;
    lv_xml_escape(&b, to, strlen(to), true);
    lv_buf_adds(&b, x->kind == LV_XMPP_CLIENT ? "' version='1.0' xml:lang='en'>" : "'>");
    send_raw(x, b.data, b.len);
    lv_buf_release(&b);
}

/* ---- iq tracking ---- */

char *lv_xmpp_new_id(struct lv_xmpp *x)
{
    return lv_xasprintf("lv%s%llu", x->id_prefix, (unsigned long long)++x->next_id);
}

static void iq_finish(struct lv_xmpp *x, struct pending_iq *p, struct lv_xml *reply,
                      const struct lv_error *err)
{
    p->fn(x, reply, err, p->ud);
    free(p->to);
    free(p);
}

/* Fails every pending iq: the connection that would answer them is gone. */
static void fail_all_iqs(struct lv_xmpp *x, const char *why)
{
    struct lv_error err;
    lv_error_set_cond(&err, LV_ERR_TIMEOUT, "remote-server-timeout", "%s", why);
    while (x->iqs.len > 0) {
        size_t pos = 0;
        const char *id;
        void *v;
        if (!lv_map_next(&x->iqs, &pos, &id, &v))
            break;
        char *key = lv_xstrdup(id);
        lv_map_del(&x->iqs, key);
        free(key);
        iq_finish(x, v, NULL, &err);
    }
}

static void expire_iqs(struct lv_xmpp *x)
{
    uint64_t now = now_ms(x);
    size_t pos = 0, n = 0, cap = 0;
    const char *id;
    void *v;
    char **expired = NULL;
    /* Collect first: a callback may send new iqs, which changes the map. */
    while (lv_map_next(&x->iqs, &pos, &id, &v))
        if (((struct pending_iq *)v)->deadline <= now) {
            lv_grow((void **)&expired, &cap, n + 1, sizeof(*expired));
            expired[n++] = lv_xstrdup(id);
        }
    for (size_t i = 0; i < n; i++) {
        struct pending_iq *p = lv_map_del(&x->iqs, expired[i]);
        if (p) {
            struct lv_error err;
            lv_error_set_cond(&err, LV_ERR_TIMEOUT, "remote-server-timeout",
                              "no answer from %s to iq %s in time", p->to ? p->to : x->server,
                              expired[i]);
            iq_finish(x, p, NULL, &err);
        }
        free(expired[i]);
    }
    free(expired);
}

/* A reply must come from the entity the request went to, or the stanza is
 * someone else's forgery of our id. */
static bool reply_from_ok(struct lv_xmpp *x, const struct pending_iq *p, const char *from)
{
    if (!from) {
        /* RFC 6120 §8.1.2.1: the server answers for our account without a
         * 'from' (e.g. Prosody's PEP, for iqs to our own bare JID). */
        if (!p->to)
            return true;
        char *own = lv_jid_bare(&x->jid);
        bool ok = strcmp(p->to, own) == 0 || strcmp(p->to, x->server) == 0;
        free(own);
        return ok;
    }
    char *norm = lv_jid_normalize(from, false);
    char *bare = lv_jid_normalize(from, true);
    char *own = lv_jid_bare(&x->jid);
    bool ok;
    if (!norm || !bare)
        ok = false;
    else if (p->to)
        ok = strcmp(norm, p->to) == 0;
    else /* sent to our server on our behalf: it or our own account answers */
        ok = strcmp(norm, x->server) == 0 || strcmp(bare, own) == 0;
    free(norm);
    free(bare);
    free(own);
    return ok;
}

static bool route_iq_reply(struct lv_xmpp *x, struct lv_xml *s)
{
    const char *id = lv_xml_attr(s, "id");
    struct pending_iq *p = id ? lv_map_get(&x->iqs, id) : NULL;
    if (!p || !reply_from_ok(x, p, lv_xml_attr(s, "from"))) {
        lv_debug(AREA, "%s: iq reply with unknown id %s ignored", x->jid_str, id ? id : "(none)");
        return true;
    }
    lv_map_del(&x->iqs, id);
    const char *type = lv_xml_attr(s, "type");
    if (strcmp(type, "result") == 0) {
        iq_finish(x, p, s, NULL);
        return true;
    }
    struct lv_error err;
    lv_xmpp_stanza_error(s, &err);
    iq_finish(x, p, s, &err);
    return true;
}

/* Sends an iq during negotiation or online, tracking its answer. */
static void track_iq(struct lv_xmpp *x, struct lv_xml *iq, unsigned timeout_ms, lv_xmpp_iq_fn fn,
                     void *ud)
{
    if (!lv_xml_attr(iq, "id")) {
        char *id = lv_xmpp_new_id(x);
        lv_xml_set_attr(iq, "id", id);
        free(id);
    }
    struct pending_iq *p = lv_xcalloc(1, sizeof(*p));
    p->fn = fn;
    p->ud = ud;
    const char *to = lv_xml_attr(iq, "to");
    p->to = to ? lv_jid_normalize(to, false) : NULL;
    if (to && !p->to)
        p->to = lv_xstrdup(to);
    p->deadline = now_ms(x) + (timeout_ms ? timeout_ms : x->cfg.iq_timeout_ms);
    struct pending_iq *old = lv_map_put(&x->iqs, lv_xml_attr(iq, "id"), p);
    if (old) {
        struct lv_error err;
        lv_error_set(&err, LV_ERR_INVAL, "iq id reused before its answer came");
        iq_finish(x, old, NULL, &err);
    }
    send_xml(x, iq);
    lv_xml_unref(iq);
}

void lv_xmpp_send_iq(struct lv_xmpp *x, struct lv_xml *iq, unsigned timeout_ms, lv_xmpp_iq_fn fn,
                     void *ud)
{
    if (x->phase != P_ONLINE) {
        struct lv_error err;
        lv_error_set_cond(&err, LV_ERR_AGAIN, "remote-server-timeout", "%s is not connected (%s)",
                          x->jid_str, lv_xmpp_state_name(x->state));
        fn(x, NULL, &err, ud);
        lv_xml_unref(iq);
        return;
    }
    if (x->kind == LV_XMPP_COMPONENT && !lv_xml_attr(iq, "from"))
        lv_xml_set_attr(iq, "from", x->jid_str);
    track_iq(x, iq, timeout_ms, fn, ud);
}

int lv_xmpp_send(struct lv_xmpp *x, struct lv_xml *stanza)
{
    if (x->phase != P_ONLINE) {
        lv_debug(AREA, "%s: not connected, <%s/> not sent", x->jid_str, stanza->name);
        return LV_ERR_AGAIN;
    }
    if (x->kind == LV_XMPP_COMPONENT && !lv_xml_attr(stanza, "from"))
        lv_xml_set_attr(stanza, "from", x->jid_str);
    send_xml(x, stanza);
    return 0;
}

/* ---- stanza helpers ---- */

struct lv_xml *lv_xmpp_iq_new(const char *type, const char *to)
{
    struct lv_xml *iq = lv_xml_new("iq", NULL);
    lv_xml_set_attr(iq, "type", type);
    if (to)
        lv_xml_set_attr(iq, "to", to);
    return iq;
}

static struct lv_xml *reply_skeleton(const struct lv_xml *req, const char *name, const char *type)
{
    struct lv_xml *r = lv_xml_new(name, req->ns);
    lv_xml_set_attr(r, "type", type);
    if (lv_xml_attr(req, "from"))
        lv_xml_set_attr(r, "to", lv_xml_attr(req, "from"));
    if (lv_xml_attr(req, "to"))
        lv_xml_set_attr(r, "from", lv_xml_attr(req, "to"));
    if (lv_xml_attr(req, "id"))
        lv_xml_set_attr(r, "id", lv_xml_attr(req, "id"));
    return r;
}

struct lv_xml *lv_xmpp_iq_result(const struct lv_xml *req)
{
    return reply_skeleton(req, "iq", "result");
}

void lv_xmpp_reply_error(struct lv_xmpp *x, const struct lv_xml *req, const char *type,
                         const char *cond, const char *text)
{
    const char *rtype = lv_xml_attr(req, "type");
    if (rtype && strcmp(rtype, "error") == 0)
        return; /* never answer an error with an error */
    struct lv_xml *r = reply_skeleton(req, req->name, "error");
    struct lv_xml *e = lv_xml_new_child(r, "error", NULL);
    lv_xml_set_attr(e, "type", type);
    lv_xml_new_child(e, cond, LV_NS_STANZAS);
    if (text)
        lv_xml_new_child_text(e, "text", LV_NS_STANZAS, text);
    lv_xmpp_send(x, r);
    lv_xml_unref(r);
}

static int cond_code(const char *cond, const char *type)
{
    static const struct {
        const char *cond;
        int code;
    } map[] = {
        {"item-not-found", LV_ERR_NOT_FOUND}, {"conflict", LV_ERR_CONFLICT},
        {"forbidden", LV_ERR_PERM},           {"not-authorized", LV_ERR_PERM},
        {"not-allowed", LV_ERR_PERM},         {"remote-server-timeout", LV_ERR_TIMEOUT},
        {"bad-request", LV_ERR_INVAL},        {"not-acceptable", LV_ERR_INVAL},
        {"policy-violation", LV_ERR_LIMIT},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(map); i++)
        if (strcmp(cond, map[i].cond) == 0)
            return map[i].code;
    /* Only the error type says whether waiting helps: ejabberd, for one,
     * answers a permanent refusal with resource-constraint/modify. */
    return (type && strcmp(type, "wait") == 0) ? LV_ERR_AGAIN : LV_ERR_PROTO;
}

int lv_xmpp_stanza_error(const struct lv_xml *stanza, struct lv_error *err)
{
    struct lv_xml *e = lv_xml_find(stanza, "error", NULL);
    const char *cond = "undefined-condition";
    char *text = NULL;
    if (e) {
        for (struct lv_xml *c = lv_xml_first_elem(e); c; c = lv_xml_find_next(c, NULL, NULL))
            if (c->ns && strcmp(c->ns, LV_NS_STANZAS) == 0 && strcmp(c->name, "text") != 0) {
                cond = c->name;
                break;
            }
        text = lv_xml_child_text(e, "text", LV_NS_STANZAS);
    }
    int code = cond_code(cond, e ? lv_xml_attr(e, "type") : NULL);
    lv_error_set_cond(err, code, cond, "%s%s%s", cond, text ? ": " : "", text ? text : "");
    free(text);
    return code;
}

/* ---- connection teardown and reconnection ---- */

static bool permanent(int code)
{
    return code == LV_ERR_AUTH || code == LV_ERR_CONFIG || code == LV_ERR_INVAL;
}

static void reset_stream_state(struct lv_xmpp *x)
{
    lv_tls_free(x->tls);
    x->tls = NULL;
    x->tls_on = false;
    lv_sasl_free(x->sasl);
    x->sasl = NULL;
    x->authenticated = false;
    x->restart = false;
    x->session_needed = false;
    x->ping_out = false;
    free(x->stream_id);
    x->stream_id = NULL;
    free(x->bound);
    x->bound = NULL;
    if (x->ai_list)
        uv_freeaddrinfo(x->ai_list);
    x->ai_list = x->ai = NULL;
}

static void maybe_release(struct lv_xmpp *x);

static void on_timer_closed(uv_handle_t *h)
{
    struct lv_xmpp *x = h->data;
    x->handles_open--;
    maybe_release(x);
}

static void schedule_retry(struct lv_xmpp *x);

static void run_after_close(struct lv_xmpp *x, enum after_close ac)
{
    switch (ac) {
    case AC_NEXT_ADDR:
        x->ai = x->ai ? x->ai->ai_next : NULL;
        try_candidate(x);
        break;
    case AC_RETRY:
        schedule_retry(x);
        break;
    case AC_FREE:
    case AC_NOTHING:
        maybe_release(x);
        break;
    }
}

static void on_tcp_closed(uv_handle_t *h)
{
    struct lv_xmpp *x = h->data;
    enum after_close ac = x->after_close;
    x->after_close = AC_NOTHING;
    x->handles_open--;
    run_after_close(x, ac);
}

static void close_tcp(struct lv_xmpp *x, enum after_close ac)
{
    if (!x->tcp_live) {
        run_after_close(x, ac);
        return;
    }
    x->tcp_live = false;
    x->after_close = ac;
    uv_close((uv_handle_t *)&x->tcp, on_tcp_closed);
}

static unsigned backoff_ms(struct lv_xmpp *x)
{
    uint64_t d = x->cfg.reconnect_min_ms;
    for (unsigned i = 1; i < x->failures && d < x->cfg.reconnect_max_ms; i++)
        d *= 2;
    if (d > x->cfg.reconnect_max_ms)
        d = x->cfg.reconnect_max_ms;
    /* ±20 % jitter so that many profiles don't reconnect in lockstep. */
    unsigned r;
    RAND_bytes((unsigned char *)&r, sizeof(r));
    return (unsigned)(d * 8 / 10 + (d * 4 / 10) * (r % 1000) / 1000);
}

static void on_retry_timer(uv_timer_t *t)
{
    struct lv_xmpp *x = t->data;
    if (x->running && !x->freeing)
        begin_attempt(x);
}

static void schedule_retry(struct lv_xmpp *x)
{
    if (x->freeing || !x->running || x->state == LV_XMPP_FAILED) {
        maybe_release(x);
        return;
    }
    unsigned d = backoff_ms(x);
    lv_info(AREA, "%s: reconnecting in %.1f s", x->jid_str, d / 1000.0);
    uv_timer_start(&x->timer, on_retry_timer, d, 0);
}

/* Ends the current connection (if any) and decides what comes next: a
 * retry after a delay, or nothing for a permanent failure or a stop. */
static void drop(struct lv_xmpp *x, int code, const char *cond, const char *fmt, ...)
{
    if (x->phase == P_IDLE)
        return;
    bool was_online = (x->phase == P_ONLINE);
    va_list ap;
    va_start(ap, fmt);
    char msg[LV_ERROR_MSG_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lv_error_set_cond(&x->last_err, code, cond, "%s", msg);
    x->phase = P_IDLE;
    uv_timer_stop(&x->timer);
    uv_timer_stop(&x->tick);
    reset_stream_state(x);
    char why[LV_ERROR_MSG_MAX];
    snprintf(why, sizeof(why), "%.300s (the connection ended before the answer came)", msg);
    fail_all_iqs(x, was_online ? why : "not connected");
    x->failures++;
    if (permanent(code)) {
        lv_error(AREA, "%s: %s; not retrying until the profile is connected again", x->jid_str,
                 msg);
        set_state(x, LV_XMPP_FAILED);
    } else if (x->running && !x->freeing) {
        lv_warn(AREA, "%s: %s", x->jid_str, msg);
        set_state(x, LV_XMPP_WAITING);
    }
    close_tcp(x, AC_RETRY);
}

/* Sends a stream error and ends the connection. */
static void stream_error(struct lv_xmpp *x, int code, const char *cond, const char *text)
{
    struct lv_buf b = LV_BUF_INIT;
    if (x->phase == P_IDLE)
        return;
    lv_buf_addf(&b, "<stream:error><%s xmlns='%s'/><text xmlns='%s'>", cond, LV_NS_STREAM_ERRORS,
                LV_NS_STREAM_ERRORS);
    lv_xml_escape(&b, text, strlen(text), false);
    lv_buf_adds(&b, "</text></stream:error></stream:stream>");
    send_raw(x, b.data, b.len);
    lv_buf_release(&b);
    drop(x, code, cond, "stream closed (%s): %s", cond, text);
}

/* ---- connecting ---- */

static void on_connect_timeout(uv_timer_t *t)
{
    struct lv_xmpp *x = t->data;
    drop(x, LV_ERR_TIMEOUT, NULL, "could not connect within %u s",
         x->cfg.connect_timeout_ms / 1000);
}

static void clear_candidates(struct lv_xmpp *x)
{
    for (size_t i = 0; i < x->ncands; i++)
        free(x->cands[i].host);
    x->ncands = x->cand = 0;
}

static void add_candidate(struct lv_xmpp *x, const char *host, unsigned port)
{
    if (x->ncands < MAX_CANDIDATES)
        x->cands[x->ncands++] = (struct candidate){lv_xstrdup(host), port};
}

static void on_read_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct lv_xmpp *x = h->data;
    *buf = uv_buf_init(x->readbuf, sizeof(x->readbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_connected(uv_connect_t *req, int status)
{
    struct lv_xmpp *x = req->handle->data;
    if (status == UV_ECANCELED || x->phase != P_TCP)
        return;
    if (status < 0) {
        lv_debug(AREA, "%s: connection to %s:%u failed: %s", x->jid_str, x->cands[x->cand].host,
                 x->cands[x->cand].port, uv_strerror(status));
        lv_error_set(&x->last_err, LV_ERR_IO, "cannot connect to %s:%u: %s", x->cands[x->cand].host,
                     x->cands[x->cand].port, uv_strerror(status));
        close_tcp(x, AC_NEXT_ADDR);
        return;
    }
    lv_debug(AREA, "%s: connected to %s:%u", x->jid_str, x->cands[x->cand].host,
             x->cands[x->cand].port);
    uv_tcp_nodelay(&x->tcp, 1);
    uv_read_start((uv_stream_t *)&x->tcp, on_read_alloc, on_read);
    x->phase = x->kind == LV_XMPP_COMPONENT ? P_HANDSHAKE : P_STREAM;
    send_stream_header(x);
}

static void connect_addr(struct lv_xmpp *x)
{
    uv_tcp_init(x->loop, &x->tcp);
    x->tcp.data = x;
    x->tcp_live = true;
    x->handles_open++;
    x->phase = P_TCP;
    int rc = uv_tcp_connect(&x->connect_req, &x->tcp, x->ai->ai_addr, on_connected);
    if (rc < 0) {
        lv_error_set(&x->last_err, LV_ERR_IO, "cannot connect to %s:%u: %s", x->cands[x->cand].host,
                     x->cands[x->cand].port, uv_strerror(rc));
        close_tcp(x, AC_NEXT_ADDR);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct gai_req *g = (struct gai_req *)req;
    struct lv_xmpp *x = g->x;
    bool stale = (g->gen != x->gen || x->phase != P_RESOLVING);
    free(g);
    x->async--;
    if (stale) {
        if (res)
            uv_freeaddrinfo(res);
        maybe_release(x);
        return;
    }
    if (status < 0) {
        lv_error_set(&x->last_err, LV_ERR_IO, "cannot resolve %s: %s", x->cands[x->cand].host,
                     uv_strerror(status));
        x->cand++;
        try_candidate(x);
        return;
    }
    x->ai_list = x->ai = res;
    connect_addr(x);
}

/* Tries the current address of the current candidate, moving on to the
 * next address, then the next candidate, then giving up. */
static void try_candidate(struct lv_xmpp *x)
{
    if (x->phase == P_IDLE) {
        maybe_release(x);
        return;
    }
    if (x->ai) {
        connect_addr(x);
        return;
    }
    if (x->ai_list) {
        uv_freeaddrinfo(x->ai_list);
        x->ai_list = NULL;
        x->cand++;
    }
    if (x->cand >= x->ncands) {
        x->phase = P_RESOLVING; /* so that drop() sees a live attempt */
        drop(x, LV_ERR_IO, NULL, "%s", x->last_err.msg[0] ? x->last_err.msg : "no server");
        return;
    }
    x->phase = P_RESOLVING;
    struct gai_req *g = lv_xcalloc(1, sizeof(*g));
    g->x = x;
    g->gen = x->gen;
    char port[8];
    snprintf(port, sizeof(port), "%u", x->cands[x->cand].port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    x->async++;
    int rc = uv_getaddrinfo(x->loop, &g->req, on_resolved, x->cands[x->cand].host, port, &hints);
    if (rc < 0) {
        x->async--;
        free(g);
        lv_error_set(&x->last_err, LV_ERR_IO, "cannot resolve %s: %s", x->cands[x->cand].host,
                     uv_strerror(rc));
        x->cand++;
        try_candidate(x);
    }
}

/* DNS SRV lookup (RFC 6120 §3.2.1), run in the thread pool because the
 * resolver blocks. */
static void srv_work(uv_work_t *req)
{
    struct srv_req *r = (struct srv_req *)req;
    unsigned char ans[4096];
    char name[300];
    snprintf(name, sizeof(name), "_xmpp-client._tcp.%s", r->domain);
    struct __res_state rs;
    memset(&rs, 0, sizeof(rs));
    if (res_ninit(&rs) != 0)
        return;
    int len = res_nquery(&rs, name, ns_c_in, ns_t_srv, ans, sizeof(ans));
    ns_msg msg;
    if (len > 0 && ns_initparse(ans, len, &msg) == 0) {
        struct {
            unsigned prio, weight, port;
            char host[256];
        } recs[MAX_CANDIDATES];
        size_t n = 0;
        for (int i = 0; i < ns_msg_count(msg, ns_s_an) && n < MAX_CANDIDATES; i++) {
            ns_rr rr;
            if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_srv ||
                ns_rr_rdlen(rr) < 7)
                continue;
            const unsigned char *rd = ns_rr_rdata(rr);
            recs[n].prio = ns_get16(rd);
            recs[n].weight = ns_get16(rd + 2);
            recs[n].port = ns_get16(rd + 4);
            if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 6, recs[n].host,
                          sizeof(recs[n].host)) < 0)
                continue;
            /* "." means the service is decidedly not available here. */
            if (strcmp(recs[n].host, ".") != 0 && recs[n].host[0])
                n++;
        }
        /* Lowest priority first; higher weight first among equals. */
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (recs[j].prio < recs[i].prio ||
                    (recs[j].prio == recs[i].prio && recs[j].weight > recs[i].weight)) {
                    __typeof__(recs[0]) t = recs[i];
                    recs[i] = recs[j];
                    recs[j] = t;
                }
        for (size_t i = 0; i < n; i++)
            r->cands[r->n++] = (struct candidate){lv_xstrdup(recs[i].host), recs[i].port};
    }
    res_nclose(&rs);
}

static void srv_done(uv_work_t *req, int status)
{
    struct srv_req *r = (struct srv_req *)req;
    struct lv_xmpp *x = r->x;
    x->async--;
    if (r->gen == x->gen && x->phase == P_RESOLVING) {
        for (size_t i = 0; i < r->n; i++)
            add_candidate(x, r->cands[i].host, r->cands[i].port);
        /* RFC 6120 §3.2.2: fall back to the domain itself. */
        add_candidate(x, x->server, C2S_PORT);
        lv_debug(AREA, "%s: %zu SRV record(s) for %s", x->jid_str, r->n, x->server);
        try_candidate(x);
    }
    for (size_t i = 0; i < r->n; i++)
        free(r->cands[i].host);
    free(r->domain);
    free(r);
    maybe_release(x);
}

static void begin_attempt(struct lv_xmpp *x)
{
    x->gen++;
    reset_stream_state(x);
    clear_candidates(x);
    lv_error_clear(&x->last_err);
    lv_xml_stream_reset(x->parser);
    lv_xml_stream_set_limits(x->parser, &x->cfg.preauth_limits);
    x->phase = P_RESOLVING;
    x->attempt_start = now_ms(x);
    set_state(x, LV_XMPP_CONNECTING);
    uv_timer_start(&x->timer, on_connect_timeout, x->cfg.connect_timeout_ms, 0);
    lv_info(AREA, "%s: connecting", x->jid_str);
    if (x->cfg.host || x->kind == LV_XMPP_COMPONENT) {
        unsigned def = x->kind == LV_XMPP_COMPONENT ? COMPONENT_PORT : C2S_PORT;
        add_candidate(x, x->cfg.host ? x->cfg.host : x->server, x->cfg.port ? x->cfg.port : def);
        try_candidate(x);
        return;
    }
    struct srv_req *r = lv_xcalloc(1, sizeof(*r));
    r->x = x;
    r->gen = x->gen;
    r->domain = lv_xstrdup(x->server);
    x->async++;
    uv_queue_work(x->loop, &r->req, srv_work, srv_done);
}

/* ---- negotiation ---- */

static void go_online(struct lv_xmpp *x)
{
    x->phase = P_ONLINE;
    x->failures = 0;
    x->last_rx = now_ms(x);
    uv_timer_stop(&x->timer);
    lv_xml_stream_set_limits(x->parser, &x->cfg.limits);
    uv_update_time(x->loop);
    x->connect_ms = now_ms(x) - x->attempt_start;
    lv_info(AREA, "%s: online (connected in %llu ms)", x->bound ? x->bound : x->jid_str,
            (unsigned long long)x->connect_ms);
    if (x->kind == LV_XMPP_CLIENT) {
        /* Initial presence: the server then sends us PEP notifications. */
        struct lv_xml *p = lv_xml_new("presence", NULL);
        lv_xml_new_child_text(p, "priority", NULL, "50");
        lv_xmpp_send(x, p);
        lv_xml_unref(p);
    }
    set_state(x, LV_XMPP_ONLINE);
}

static void on_session(struct lv_xmpp *x, struct lv_xml *reply, const struct lv_error *err,
                       void *ud)
{
    if (err)
        drop(x, LV_ERR_PROTO, NULL, "session establishment failed: %s", err->msg);
    else
        go_online(x);
}

static void on_bound(struct lv_xmpp *x, struct lv_xml *reply, const struct lv_error *err, void *ud)
{
    if (err) {
        drop(x, err->code == LV_ERR_TIMEOUT ? LV_ERR_TIMEOUT : LV_ERR_PROTO, NULL,
             "resource binding failed: %s", err->msg);
        return;
    }
    struct lv_xml *bind = lv_xml_find(reply, "bind", LV_NS_BIND);
    char *jid = bind ? lv_xml_child_text(bind, "jid", LV_NS_BIND) : NULL;
    x->bound = jid ? lv_jid_normalize(jid, false) : NULL;
    free(jid);
    if (!x->bound) {
        drop(x, LV_ERR_PROTO, NULL, "the server bound no valid JID");
        return;
    }
    if (x->session_needed) {
        struct lv_xml *iq = lv_xmpp_iq_new("set", NULL);
        lv_xml_new_child(iq, "session", LV_NS_SESSION);
        track_iq(x, iq, 0, on_session, NULL);
        return;
    }
    go_online(x);
}

static void start_bind(struct lv_xmpp *x, struct lv_xml *features)
{
    struct lv_xml *sess = lv_xml_find(features, "session", LV_NS_SESSION);
    x->session_needed = sess && !lv_xml_find(sess, "optional", NULL);
    struct lv_xml *iq = lv_xmpp_iq_new("set", NULL);
    struct lv_xml *bind = lv_xml_new_child(iq, "bind", LV_NS_BIND);
    const char *res = x->jid.resource ? x->jid.resource : x->cfg.resource;
    if (res)
        lv_xml_new_child_text(bind, "resource", NULL, res);
    x->phase = P_BIND;
    track_iq(x, iq, 0, on_bound, NULL);
}

static void send_sasl(struct lv_xmpp *x, const char *name, const char *mech, const char *data)
{
    struct lv_xml *e = lv_xml_new(name, LV_NS_SASL);
    if (mech)
        lv_xml_set_attr(e, "mechanism", mech);
    /* RFC 6120 §6.4.2: an empty initial response is sent as "=". */
    lv_xml_add_text(e, *data ? data : "=", *data ? strlen(data) : 1);
    send_xml(x, e);
    lv_xml_unref(e);
}

static void start_sasl(struct lv_xmpp *x, struct lv_xml *mechs)
{
    const char *names[32];
    char *owned[32];
    size_t n = 0;
    for (struct lv_xml *m = lv_xml_find(mechs, "mechanism", LV_NS_SASL); m && n < 32;
         m = lv_xml_find_next(m, "mechanism", LV_NS_SASL)) {
        owned[n] = lv_xml_text(m);
        names[n] = owned[n];
        n++;
    }
    struct lv_error err;
    int rc = lv_sasl_new(x->jid.local ? x->jid.local : "", x->cfg.password ? x->cfg.password : "",
                         x->server, x->tls_on, names, n, &x->sasl, &err);
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    if (rc != 0) {
        drop(x, rc, err.cond, "%s", err.msg);
        return;
    }
    char *out = NULL;
    bool done;
    if (lv_sasl_step(x->sasl, NULL, &out, &done, &err) != 0) {
        drop(x, err.code, err.cond, "%s", err.msg);
        return;
    }
    lv_debug(AREA, "%s: authenticating with %s", x->jid_str, lv_sasl_mechanism(x->sasl));
    x->phase = P_SASL;
    send_sasl(x, "auth", lv_sasl_mechanism(x->sasl), out);
    free(out);
}

static void on_features(struct lv_xmpp *x, struct lv_xml *f)
{
    if (!x->tls_on && lv_xml_find(f, "starttls", LV_NS_TLS)) {
        struct lv_xml *st = lv_xml_new("starttls", LV_NS_TLS);
        send_xml(x, st);
        lv_xml_unref(st);
        x->phase = P_STARTTLS;
        return;
    }
    if (!x->tls_on && x->cfg.check_certificate) {
        drop(x, LV_ERR_CONFIG, "policy-violation",
             "the server does not offer TLS (STARTTLS); refusing to continue in clear "
             "(set the profile's Connection/check_certificate to false to allow it)");
        return;
    }
    if (!x->authenticated) {
        struct lv_xml *mechs = lv_xml_find(f, "mechanisms", LV_NS_SASL);
        if (!mechs) {
            drop(x, LV_ERR_AUTH, NULL, "the server offers no SASL authentication");
            return;
        }
        start_sasl(x, mechs);
        return;
    }
    if (!lv_xml_find(f, "bind", LV_NS_BIND)) {
        drop(x, LV_ERR_PROTO, NULL, "the server offers no resource binding");
        return;
    }
    start_bind(x, f);
}

static void on_sasl(struct lv_xmpp *x, struct lv_xml *s)
{
    char *data = lv_xml_text(s);
    struct lv_error err;
    char *out = NULL;
    bool done = false;
    if (strcmp(s->name, "failure") == 0) {
        struct lv_xml *c = lv_xml_first_elem(s);
        char *text = lv_xml_child_text(s, "text", NULL);
        drop(x, LV_ERR_AUTH, c ? c->name : NULL,
             "authentication as %s refused by the server (%s%s%s): check the password "
             "(profile parameter Connection/Password)",
             x->jid_str, c ? c->name : "failure", text ? ": " : "", text ? text : "");
        free(text);
    } else if (strcmp(s->name, "challenge") == 0) {
        if (lv_sasl_step(x->sasl, data, &out, &done, &err) != 0)
            drop(x, err.code, err.cond, "%s", err.msg);
        else
            send_sasl(x, "response", NULL, out);
    } else if (strcmp(s->name, "success") == 0) {
        /* The success data carries SCRAM's server signature: checking it
         * proves the server knew the password too. */
        if (*data && lv_sasl_step(x->sasl, data, &out, &done, &err) != 0) {
            drop(x, LV_ERR_AUTH, "not-authorized", "the server's SASL signature is wrong: %s",
                 err.msg);
        } else {
            lv_debug(AREA, "%s: authenticated", x->jid_str);
            x->authenticated = true;
            x->restart = true;
            lv_xml_stream_stop(x->parser);
        }
    }
    free(out);
    free(data);
}

static void on_stream_error(struct lv_xmpp *x, struct lv_xml *s)
{
    const char *cond = "undefined-condition";
    for (struct lv_xml *c = lv_xml_first_elem(s); c; c = lv_xml_find_next(c, NULL, NULL))
        if (c->ns && strcmp(c->ns, LV_NS_STREAM_ERRORS) == 0 && strcmp(c->name, "text") != 0) {
            cond = c->name;
            break;
        }
    char *text = lv_xml_child_text(s, "text", LV_NS_STREAM_ERRORS);
    int code = LV_ERR_PROTO;
    if (strcmp(cond, "not-authorized") == 0)
        code = LV_ERR_AUTH;
    else if (strcmp(cond, "host-unknown") == 0 || strcmp(cond, "improper-addressing") == 0)
        code = LV_ERR_CONFIG;
    else if (strcmp(cond, "system-shutdown") == 0 || strcmp(cond, "connection-timeout") == 0 ||
             strcmp(cond, "reset") == 0 || strcmp(cond, "see-other-host") == 0)
        code = LV_ERR_IO;
    const char *hint = "";
    if (code == LV_ERR_AUTH && x->kind == LV_XMPP_COMPONENT)
        hint = " (check the component secret: profile parameter Connection/Password)";
    else if (code == LV_ERR_CONFIG && x->kind == LV_XMPP_COMPONENT)
        hint = " (is the component declared in the server's configuration?)";
    drop(x, code, cond, "the server closed the stream: %s%s%s%s", cond, text ? " — " : "",
         text ? text : "", hint);
    free(text);
}

/* ---- incoming stanzas ---- */

static bool handler_matches(const struct handler *h, const struct lv_xml *s, const char *type)
{
    if (h->name && strcmp(h->name, s->name) != 0)
        return false;
    if (h->type && (!type || strcmp(h->type, type) != 0))
        return false;
    if (!h->ns)
        return true;
    if (strcmp(s->name, "iq") == 0) {
        struct lv_xml *payload = lv_xml_first_elem(s);
        return payload && payload->ns && strcmp(payload->ns, h->ns) == 0;
    }
    return lv_xml_find(s, NULL, h->ns) != NULL;
}

static void dispatch(struct lv_xmpp *x, struct lv_xml *s)
{
    const char *type = lv_xml_attr(s, "type");
    bool is_iq = strcmp(s->name, "iq") == 0;
    if (is_iq && (!type || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0 &&
                            strcmp(type, "result") != 0 && strcmp(type, "error") != 0))) {
        lv_xmpp_reply_error(x, s, "modify", "bad-request", "iq without a valid type");
        return;
    }
    if (is_iq && (strcmp(type, "result") == 0 || strcmp(type, "error") == 0)) {
        route_iq_reply(x, s);
        return;
    }
    unsigned gen = x->gen;
    for (struct handler *h = x->handlers; h; h = h->next) {
        if (handler_matches(h, s, type) && h->fn(x, s, h->ud))
            return;
        if (gen != x->gen || x->phase != P_ONLINE)
            return; /* a handler tore the connection down */
    }
    if (is_iq)
        lv_xmpp_reply_error(x, s, "cancel", "service-unavailable", NULL);
}

static void on_stanza(void *ud, struct lv_xml *s)
{
    struct lv_xmpp *x = ud;
    if (x->phase == P_IDLE) { /* the connection ended earlier in this chunk */
        lv_xml_unref(s);
        return;
    }
    x->in++;
    if (lv_log_threshold >= LV_LOG_TRACE && !secret_stanza(s)) {
        char *str = lv_xml_to_string(s, s->ns);
        lv_trace(AREA, "%s RECV %s", x->jid_str, str);
        free(str);
    }
    if (s->ns && strcmp(s->ns, LV_NS_STREAMS) == 0 && strcmp(s->name, "error") == 0)
        on_stream_error(x, s);
    else if (x->phase == P_ONLINE || x->phase == P_BIND)
        dispatch(x, s);
    else if (x->phase == P_STREAM && lv_xml_is(s, "features", LV_NS_STREAMS))
        on_features(x, s);
    else if (x->phase == P_STARTTLS && lv_xml_is(s, "proceed", LV_NS_TLS)) {
        x->phase = P_TLS;
        lv_xml_stream_stop(x->parser);
    } else if (x->phase == P_SASL && s->ns && strcmp(s->ns, LV_NS_SASL) == 0)
        on_sasl(x, s);
    else if (x->phase == P_HANDSHAKE && strcmp(s->name, "handshake") == 0) {
        x->authenticated = true;
        go_online(x);
    } else
        stream_error(x, LV_ERR_PROTO, "unsupported-stanza-type",
                     "unexpected element during stream negotiation");
    lv_xml_unref(s);
}

static void send_handshake(struct lv_xmpp *x)
{
    /* XEP-0114: hex(SHA-1(stream id + secret)). */
    struct lv_buf in = LV_BUF_INIT;
    lv_buf_adds(&in, x->stream_id);
    lv_buf_adds(&in, x->cfg.password ? x->cfg.password : "");
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)in.data, in.len, md);
    OPENSSL_cleanse(in.data, in.len);
    lv_buf_release(&in);
    char hex[2 * SHA_DIGEST_LENGTH + 1];
    for (size_t i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    struct lv_xml *h = lv_xml_new("handshake", x->stream_ns);
    lv_xml_add_text(h, hex, strlen(hex));
    send_xml(x, h);
    lv_xml_unref(h);
}

static void on_open(void *ud, const char *name, const char *ns, const struct lv_xml_attr *attrs,
                    size_t n)
{
    struct lv_xmpp *x = ud;
    if (strcmp(name, "stream") != 0 || !ns || strcmp(ns, LV_NS_STREAMS) != 0) {
        stream_error(x, LV_ERR_PROTO, "invalid-namespace", "not an XMPP stream");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(attrs[i].name, "id") == 0) {
            free(x->stream_id);
            x->stream_id = lv_xstrdup(attrs[i].value);
        }
    if (x->kind != LV_XMPP_COMPONENT || x->phase != P_HANDSHAKE)
        return;
    if (!x->stream_id) {
        stream_error(x, LV_ERR_PROTO, "invalid-id", "the server gave the stream no id");
        return;
    }
    send_handshake(x);
}

static void on_close(void *ud)
{
    struct lv_xmpp *x = ud;
    send_raw(x, "</stream:stream>", 16);
    drop(x, LV_ERR_IO, NULL, "the server closed the stream");
}

/* ---- reading ---- */

static void feed_plain(struct lv_xmpp *x, const char *data, size_t len)
{
    struct lv_error err;
    x->last_rx = now_ms(x);
    x->ping_out = false;
    if (lv_xml_stream_feed(x->parser, data, len, &err) != 0) {
        lv_error(AREA, "%s: bad XML from the server: %s", x->jid_str, err.msg);
        /* A server bug may be fixed on its side: retry later, with backoff. */
        stream_error(x, LV_ERR_PROTO, err.cond[0] ? err.cond : "not-well-formed", err.msg);
    }
}

static void continue_tls(struct lv_xmpp *x)
{
    struct lv_error err;
    int rc = lv_tls_handshake(x->tls, &err);
    flush_tls(x);
    if (rc == LV_ERR_AGAIN)
        return;
    if (rc != 0) {
        /* A certificate the CA does not vouch for may be fixed on the
         * server side: retry later rather than give up. */
        drop(x, LV_ERR_TLS, NULL, "%s", err.msg);
        return;
    }
    char desc[128];
    lv_debug(AREA, "%s: TLS established (%s)", x->jid_str, lv_tls_describe(x->tls, desc, 128));
    x->tls_on = true;
    x->phase = P_STREAM;
    send_stream_header(x);
}

static void start_tls(struct lv_xmpp *x)
{
    struct lv_error err;
    if (lv_tls_new_client(x->server, x->cfg.check_certificate, x->cfg.ca_file, &x->tls, &err)) {
        drop(x, err.code, NULL, "%s", err.msg);
        return;
    }
    lv_xml_stream_reset(x->parser);
    continue_tls(x);
}

/* After a feed stopped for a stream restart (STARTTLS or SASL success). */
static void after_feed(struct lv_xmpp *x)
{
    if (x->phase == P_TLS && !x->tls) {
        start_tls(x);
    } else if (x->restart && x->phase == P_SASL) {
        x->restart = false;
        lv_xml_stream_reset(x->parser);
        lv_xml_stream_set_limits(x->parser, &x->cfg.limits);
        x->phase = P_STREAM;
        send_stream_header(x);
    }
}

static void read_tls(struct lv_xmpp *x, const char *data, size_t len)
{
    struct lv_error err;
    lv_tls_feed(x->tls, data, len);
    if (!x->tls_on) {
        continue_tls(x);
        return;
    }
    lv_buf_reset(&x->plain);
    int rc = lv_tls_read(x->tls, &x->plain, &err);
    if (x->plain.len)
        feed_plain(x, x->plain.data, x->plain.len);
    if (rc != 0 && x->phase != P_IDLE)
        drop(x, rc, NULL, "%s", err.msg);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct lv_xmpp *x = s->data;
    if (nread == 0 || x->phase == P_IDLE)
        return;
    if (nread < 0) {
        drop(x, LV_ERR_IO, NULL, "%s",
             nread == UV_EOF ? "the server closed the connection" : uv_strerror((int)nread));
        return;
    }
    if (x->tls)
        read_tls(x, buf->base, (size_t)nread);
    else
        feed_plain(x, buf->base, (size_t)nread);
    if (x->phase != P_IDLE)
        after_feed(x);
}

/* ---- keepalive ---- */

static void on_ping_answer(struct lv_xmpp *x, struct lv_xml *reply, const struct lv_error *err,
                           void *ud)
{
    /* Any answer, even an error, shows the connection is alive. */
    if (err && !reply && err->code == LV_ERR_TIMEOUT && x->phase == P_ONLINE)
        drop(x, LV_ERR_TIMEOUT, NULL, "the server did not answer a ping: connection lost");
}

static void on_tick(uv_timer_t *t)
{
    struct lv_xmpp *x = t->data;
    expire_iqs(x);
    if (x->phase != P_ONLINE || !x->cfg.ping_interval_ms || x->ping_out)
        return;
    if (now_ms(x) - x->last_rx < x->cfg.ping_interval_ms)
        return;
    x->ping_out = true;
    struct lv_xml *iq = lv_xmpp_iq_new("get", x->server);
    lv_xml_new_child(iq, "ping", LV_NS_PING);
    lv_xmpp_send_iq(x, iq, 0, on_ping_answer, NULL);
}

static bool on_ping(struct lv_xmpp *x, struct lv_xml *s, void *ud)
{
    struct lv_xml *r = lv_xmpp_iq_result(s);
    lv_xmpp_send(x, r);
    lv_xml_unref(r);
    return true;
}

/* ---- lifecycle ---- */

int lv_xmpp_new(uv_loop_t *loop, const struct lv_xmpp_config *cfg, struct lv_xmpp **out,
                struct lv_error *err)
{
    struct lv_jid jid;
    if (lv_jid_parse_str(cfg->jid ? cfg->jid : "", &jid, err) != 0)
        return LV_ERR_INVAL;
    if (cfg->kind == LV_XMPP_CLIENT && !jid.local) {
        lv_jid_release(&jid);
        return lv_error_set(err, LV_ERR_INVAL, "a client JID needs a user part: %s", cfg->jid);
    }
    struct lv_xmpp *x = lv_xcalloc(1, sizeof(*x));
    x->loop = loop;
    x->kind = cfg->kind;
    x->cfg = *cfg;
    x->cfg.jid = NULL;
    x->cfg.password = dup_or_null(cfg->password);
    x->cfg.host = dup_or_null(cfg->host);
    x->cfg.ca_file = dup_or_null(cfg->ca_file);
    x->cfg.resource = dup_or_null(cfg->resource);
    x->jid = jid;
    x->jid_str = lv_jid_full(&jid);
    x->stream_ns = cfg->kind == LV_XMPP_COMPONENT ? LV_NS_COMPONENT : LV_NS_CLIENT;
    /* A component's server is its domain's parent, as the reference
     * assumes (gw.example.org → example.org). */
    const char *dot = strchr(jid.domain, '.');
    x->server = lv_xstrdup(cfg->kind == LV_XMPP_COMPONENT && dot ? dot + 1 : jid.domain);
    struct lv_xml_stream_cbs cbs = {on_open, on_stanza, on_close};
    x->parser = lv_xml_stream_new(&x->cfg.preauth_limits, &cbs, x);
    lv_map_init(&x->iqs);
    unsigned char rnd[4];
    RAND_bytes(rnd, sizeof(rnd));
    snprintf(x->id_prefix, sizeof(x->id_prefix), "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3]);
    uv_timer_init(loop, &x->timer);
    uv_timer_init(loop, &x->tick);
    x->timer.data = x->tick.data = x;
    x->handles_open = 2;
    lv_xmpp_add_handler(x, "iq", "get", LV_NS_PING, on_ping, NULL);
    *out = x;
    return 0;
}

void lv_xmpp_set_state_fn(struct lv_xmpp *x, lv_xmpp_state_fn fn, void *ud)
{
    x->state_fn = fn;
    x->state_ud = ud;
}

void lv_xmpp_start(struct lv_xmpp *x)
{
    if (x->freeing || (x->running && x->state != LV_XMPP_FAILED))
        return;
    x->running = true;
    x->failures = 0;
    uv_timer_start(&x->tick, on_tick, TICK_MS, TICK_MS);
    if (x->phase == P_IDLE && !x->tcp_live)
        begin_attempt(x);
}

void lv_xmpp_stop(struct lv_xmpp *x)
{
    x->running = false;
    uv_timer_stop(&x->timer);
    if (x->phase == P_ONLINE) {
        if (x->kind == LV_XMPP_CLIENT) {
            struct lv_xml *p = lv_xml_new("presence", NULL);
            lv_xml_set_attr(p, "type", "unavailable");
            lv_xmpp_send(x, p);
            lv_xml_unref(p);
        }
        send_raw(x, "</stream:stream>", 16);
    }
    if (x->phase != P_IDLE) {
        drop(x, LV_ERR_CANCELLED, NULL, "disconnected on request");
        x->failures = 0;
    }
    uv_timer_stop(&x->tick);
    lv_error_clear(&x->last_err);
    set_state(x, LV_XMPP_OFFLINE);
}

void lv_xmpp_ext_set(struct lv_xmpp *x, const char *key, void *ptr, void (*release)(void *))
{
    struct ext **p = &x->exts;
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next;
    if (!ptr) {
        if (*p) {
            struct ext *e = *p;
            *p = e->next;
            free(e);
        }
        return;
    }
    if (!*p)
        *p = lv_xcalloc(1, sizeof(**p));
    (*p)->key = key;
    (*p)->ptr = ptr;
    (*p)->release = release;
}

void *lv_xmpp_ext_get(const struct lv_xmpp *x, const char *key)
{
    for (struct ext *e = x->exts; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->ptr;
    return NULL;
}

static void release_now(struct lv_xmpp *x)
{
    for (struct ext *e = x->exts, *next; e; e = next) {
        next = e->next;
        if (e->release)
            e->release(e->ptr);
        free(e);
    }
    clear_candidates(x);
    reset_stream_state(x);
    lv_xml_stream_free(x->parser);
    lv_map_release(&x->iqs);
    for (struct handler *h = x->handlers, *next; h; h = next) {
        next = h->next;
        free(h->name);
        free(h->type);
        free(h->ns);
        free(h);
    }
    if (x->cfg.password)
        OPENSSL_cleanse((void *)x->cfg.password, strlen(x->cfg.password));
    free((void *)x->cfg.password);
    free((void *)x->cfg.host);
    free((void *)x->cfg.ca_file);
    free((void *)x->cfg.resource);
    lv_jid_release(&x->jid);
    free(x->jid_str);
    free(x->server);
    lv_buf_release(&x->plain);
    lv_buf_release(&x->cipher);
    free(x);
}

/* Frees x once nothing of libuv refers to it any more. */
static void maybe_release(struct lv_xmpp *x)
{
    if (x->freeing && x->async == 0 && x->handles_open == 0 && !x->tcp_live)
        release_now(x);
}

void lv_xmpp_free(struct lv_xmpp *x)
{
    if (!x || x->freeing)
        return;
    lv_xmpp_stop(x);
    x->state_fn = NULL;
    x->freeing = true;
    uv_close((uv_handle_t *)&x->timer, on_timer_closed);
    uv_close((uv_handle_t *)&x->tick, on_timer_closed);
}

/* ---- accessors and handlers ---- */

enum lv_xmpp_state lv_xmpp_state(const struct lv_xmpp *x)
{
    return x->state;
}

const struct lv_error *lv_xmpp_last_error(const struct lv_xmpp *x)
{
    return &x->last_err;
}

const char *lv_xmpp_jid(const struct lv_xmpp *x)
{
    return x->bound ? x->bound : x->jid_str;
}

const char *lv_xmpp_server(const struct lv_xmpp *x)
{
    return x->server;
}

void lv_xmpp_counters(const struct lv_xmpp *x, uint64_t *in, uint64_t *out)
{
    *in = x->in;
    *out = x->out;
}

uint64_t lv_xmpp_connect_ms(const struct lv_xmpp *x)
{
    return x->connect_ms;
}

void lv_xmpp_add_handler(struct lv_xmpp *x, const char *name, const char *type, const char *ns,
                         lv_xmpp_stanza_fn fn, void *ud)
{
    struct handler *h = lv_xcalloc(1, sizeof(*h));
    h->name = dup_or_null(name);
    h->type = dup_or_null(type);
    h->ns = dup_or_null(ns);
    h->fn = fn;
    h->ud = ud;
    struct handler **p = &x->handlers;
    while (*p)
        p = &(*p)->next;
    *p = h;
}

void lv_xmpp_remove_handler(struct lv_xmpp *x, lv_xmpp_stanza_fn fn, void *ud)
{
    for (struct handler **p = &x->handlers; *p;) {
        struct handler *h = *p;
        if (h->fn == fn && h->ud == ud) {
            *p = h->next;
            free(h->name);
            free(h->type);
            free(h->ns);
            free(h);
        } else {
            p = &h->next;
        }
    }
}
