/* http_server: lv_http on an ephemeral loopback port with test routes, for
 * tests/integration/http.sh (which drives it with curl and nc).
 *
 *   http_server [--trust-proxy] [--timeout SECONDS] [--port-file FILE]
 *
 * Prints "PORT <n>" on stdout (and writes <n> to FILE) once listening, runs
 * until SIGTERM or SIGINT, then shuts the server down cleanly and exits 0.
 * LV_HTTP_LOG=debug shows the access log on stderr.
 *
 * Routes:
 *   any    /echo/...       JSON: method, segments, query pairs, some headers,
 *                          body length, effective host/scheme/remote
 *   GET    /delayed        answers after 200 ms (a uv timer)
 *   GET    /never          never answered until shutdown (disconnect test)
 *   GET    /stats          JSON: held /never requests and how many are dead
 *   POST   /small          body limit 10 bytes; JSON body length
 *   GET    /thing, PUT /thing   (for 405 + Allow)
 *   GET    /redirect       303 to /echo/redirected
 *   GET    /unauthorized   401 with a reason
 *   GET    /.well-known/webfinger   application/jrd+json, echoes ?resource=
 *   GET    /bytes          raw bytes with a content type (and refused headers)
 *   POST   /quit           answers, then frees the server from the handler */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ap/lv_http.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"

#define DELAY_MS 200
#define MAX_HELD 256

struct app {
    uv_loop_t *loop;
    struct lv_http *http;
    uv_signal_t sigterm, sigint;
    struct lv_http_req *held[MAX_HELD];
    size_t nheld;
    bool stopping;
};

struct delayed {
    uv_timer_t timer;
    struct lv_http_req *req;
};

static void stop(struct app *a);

static json_t *segments_json(struct lv_http_req *req)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < lv_http_req_nsegs(req); i++)
        json_array_append_new(arr, json_string(lv_http_req_seg(req, i)));
    return arr;
}

static json_t *query_json(struct lv_http_req *req)
{
    json_t *arr = json_array();
    const char *k, *v;
    for (size_t i = 0; lv_http_req_query_at(req, i, &k, &v); i++)
        json_array_append_new(arr, json_pack("[s, s]", k, v));
    return arr;
}

static json_t *headers_json(struct lv_http_req *req)
{
    static const char *const names[] = {"host", "x-test", "accept", "content-type",
                                        "x-forwarded-host"};
    json_t *o = json_object();
    for (size_t i = 0; i < LV_ARRAY_LEN(names); i++) {
        const char *v = lv_http_req_header(req, names[i]);
        if (v)
            json_object_set_new(o, names[i], json_string(v));
    }
    return o;
}

static void on_echo(struct lv_http_req *req, void *ud)
{
    size_t blen;
    lv_http_req_body(req, &blen);
    const char *host = lv_http_req_host(req);
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:s?, s:s, s:s}", "method",
                  lv_http_req_method(req), "path", lv_http_req_path(req), "target",
                  lv_http_req_target(req), "segments", segments_json(req), "query", query_json(req),
                  "headers", headers_json(req), "body_len", (json_int_t)blen, "host", host,
                  "scheme", lv_http_req_scheme(req), "remote", lv_http_req_remote(req));
    lv_http_req_add_header(req, "Vary", "Accept");
    lv_http_req_add_header(req, "Cache-Control", "no-store");
    lv_http_reply_json(req, 200, LV_HTTP_CT_ACTIVITY, j);
    json_decref(j);
}

static void on_delay_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_delay(uv_timer_t *t)
{
    struct delayed *d = t->data;
    json_t *j = json_pack("{s:b, s:b}", "delayed", 1, "dead", lv_http_req_dead(d->req));
    lv_http_reply_json(d->req, 200, NULL, j);
    json_decref(j);
    uv_close((uv_handle_t *)&d->timer, on_delay_closed);
}

static void on_delayed(struct lv_http_req *req, void *ud)
{
    struct app *a = ud;
    struct delayed *d = lv_xcalloc(1, sizeof(*d));
    d->req = req;
    uv_timer_init(a->loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, on_delay, DELAY_MS, 0);
}

static void on_never(struct lv_http_req *req, void *ud)
{
    struct app *a = ud;
    if (a->nheld == MAX_HELD) {
        lv_http_reply_error(req, 503, "too many held requests");
        return;
    }
    a->held[a->nheld++] = req;
}

static void on_stats(struct lv_http_req *req, void *ud)
{
    struct app *a = ud;
    size_t dead = 0;
    for (size_t i = 0; i < a->nheld; i++)
        dead += lv_http_req_dead(a->held[i]);
    json_t *j = json_pack("{s:I, s:I}", "held", (json_int_t)a->nheld, "dead", (json_int_t)dead);
    lv_http_reply_json(req, 200, NULL, j);
    json_decref(j);
}

static void on_small(struct lv_http_req *req, void *ud)
{
    size_t len;
    lv_http_req_body(req, &len);
    json_t *j = json_pack("{s:I}", "body_len", (json_int_t)len);
    lv_http_reply_json(req, 200, NULL, j);
    json_decref(j);
}

static void on_thing(struct lv_http_req *req, void *ud)
{
    lv_http_reply_bytes(req, 200, LV_HTTP_CT_TEXT, "thing\n", 6);
}

static void on_redirect(struct lv_http_req *req, void *ud)
{
    lv_http_reply_redirect(req, 303, "/echo/redirected");
}

static void on_unauthorized(struct lv_http_req *req, void *ud)
{
    lv_http_reply_error(req, 401, "signature does not verify");
}

static void on_webfinger(struct lv_http_req *req, void *ud)
{
    const char *res = lv_http_req_query(req, "resource");
    if (!res) {
        lv_http_reply_error(req, 400, "missing resource");
        return;
    }
    json_t *j = json_pack("{s:s}", "subject", res);
    lv_http_reply_json(req, 200, LV_HTTP_CT_JRD, j);
    json_decref(j);
}

static void on_bytes(struct lv_http_req *req, void *ud)
{
    static const unsigned char data[] = {0, 1, 2, 0xff};
    lv_http_req_add_header(req, "Bad Name", "x");        /* refused: not a token */
    lv_http_req_add_header(req, "X-Split", "a\r\nb: c"); /* refused: CR LF */
    lv_http_req_add_header(req, "Content-Type", "x/y");  /* refused: set by the reply */
    lv_http_reply_bytes(req, 200, "application/x-test", data, sizeof(data));
}

static void on_quit(struct lv_http_req *req, void *ud)
{
    lv_http_reply_bytes(req, 200, LV_HTTP_CT_TEXT, "bye\n", 4);
    stop(ud);
}

static const struct lv_http_route routes[] = {
    {"GET", "/delayed", on_delayed, 0},
    {"GET", "/never", on_never, 0},
    {"GET", "/stats", on_stats, 0},
    {"POST", "/small", on_small, 10},
    {"GET", "/thing", on_thing, 0},
    {"PUT", "/thing", on_thing, 0},
    {"GET", "/redirect", on_redirect, 0},
    {"GET", "/unauthorized", on_unauthorized, 0},
    {"GET", "/.well-known/webfinger", on_webfinger, 0},
    {"GET", "/bytes", on_bytes, 0},
    {"POST", "/quit", on_quit, 0},
    {NULL, "/echo/**", on_echo, 0},
};

/* Frees the server (which answers held requests 503 and marks them dead),
 * then releases the held requests: answering a dead request only frees it. */
static void stop(struct app *a)
{
    if (a->stopping)
        return;
    a->stopping = true;
    lv_http_free(a->http);
    for (size_t i = 0; i < a->nheld; i++)
        lv_http_reply_error(a->held[i], 500, "late");
    a->nheld = 0;
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    stop(s->data);
}

int main(int argc, char **argv)
{
    struct lv_http_config cfg;
    lv_http_config_defaults(&cfg);
    const char *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trust-proxy") == 0) {
            cfg.trust_proxy = true;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            cfg.timeout_s = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
            port_file = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--trust-proxy] [--timeout S] [--port-file FILE]\n",
                    argv[0]);
            return 2;
        }
    }
    const char *lvl = getenv("LV_HTTP_LOG");
    lv_log_set_level(lvl ? lv_log_level_parse(lvl) : LV_LOG_WARN);

    struct app a = {.loop = uv_default_loop()};
    struct lv_error err = {0};
    if (lv_http_new(a.loop, &cfg, &a.http, &err) != 0 ||
        lv_http_add_routes(a.http, routes, LV_ARRAY_LEN(routes), &a, &err) != 0) {
        fprintf(stderr, "http_server: %s\n", err.msg);
        return 1;
    }
    static const struct lv_http_route bad = {NULL, "/a/**/b", on_thing, 0};
    if (lv_http_add_routes(a.http, &bad, 1, &a, &err) != LV_ERR_INVAL) {
        fprintf(stderr, "http_server: a misplaced ** was accepted\n");
        return 1;
    }
    uv_signal_init(a.loop, &a.sigterm);
    uv_signal_init(a.loop, &a.sigint);
    a.sigterm.data = a.sigint.data = &a;
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_signal_start(&a.sigint, on_signal, SIGINT);

    unsigned port = lv_http_port(a.http);
    printf("PORT %u\n", port);
    fflush(stdout);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%u\n", port);
            fclose(f);
        }
    }
    uv_run(a.loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(a.loop);
    if (rc != 0)
        fprintf(stderr, "http_server: loop still has handles: %s\n", uv_strerror(rc));
    return rc == 0 ? 0 : 1;
}
