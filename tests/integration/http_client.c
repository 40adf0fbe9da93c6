/* http_client: drives lv_http_client against tests/integration/http_fixture.py
 * and prints one "PASS: …" or "FAIL: …" line per check (plus NOTE lines
 * with timings and byte counts); exits 1 when a check failed, 2 on bad
 * usage.
 *
 *   http_client --http-port P --https-port Q --ca CA_FILE
 *
 * Every URL it fetches is on 127.0.0.1 or localhost. The addresses 10.0.0.x,
 * 169.254.169.254 and ::ffff:10.0.0.1 appear only as targets that the
 * client must refuse before opening a socket, and only with clients whose
 * allow_private_networks is off; the program first checks that the policy
 * classifies them as private and stops otherwise.
 *
 * The program is sequential: it runs the loop until the callbacks it waits
 * for came (a test driver may block; the library never does). */
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ap/lv_http_client.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"

#define WAIT_MS 20000
#define MIB ((size_t)1 << 20)

struct res {
    bool done, sync;
    int calls, rc;
    struct lv_error err;
    long status;
    struct lv_buf body;
    uint64_t bytes;
    unsigned redirects;
    char *url, *ctype, *fixture_hdr, *location;
    json_t *doc;
    uint64_t t_ms;
    /* for callbacks that act on other requests */
    struct lv_http_req *self, *other;
    struct lv_http_client *client;
    struct res *retry; /* gets the outcome of a request made in the callback */
};

static uv_loop_t *loop;
static uv_timer_t waker;
static bool woken;
static int failures;
static const char *label = "";
static unsigned http_port, https_port;
static const char *ca_file;
static struct lv_http_client *cl_priv, *cl_strict, *cl_allow, *cl_tls, *cl_notls;

/* ---- reporting ---- */

static bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool check(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s: [%s] ", ok ? "PASS" : "FAIL", label);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (!ok)
        failures++;
    return ok;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("NOTE: [%s] ", label);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

/* "ok 200" or "rc -5 (msg)", for messages. */
static const char *outcome(const struct res *r)
{
    static char buf[2][700];
    static int i;
    i ^= 1;
    if (!r->done)
        snprintf(buf[i], sizeof(buf[i]), "no callback");
    else if (r->rc == 0)
        snprintf(buf[i], sizeof(buf[i]), "ok %ld", r->status);
    else
        snprintf(buf[i], sizeof(buf[i]), "rc %d %s (%s)", r->rc, lv_err_str(r->rc), r->err.msg);
    return buf[i];
}

/* ---- results ---- */

static void res_reset(struct res *r)
{
    lv_buf_release(&r->body);
    free(r->url);
    free(r->ctype);
    free(r->fixture_hdr);
    free(r->location);
    json_decref(r->doc);
    memset(r, 0, sizeof(*r));
}

static char *dup_or_null(const char *s)
{
    return s ? lv_xstrdup(s) : NULL;
}

static void record(struct res *r, struct lv_http_response *resp, const struct lv_error *err)
{
    r->calls++;
    r->done = true;
    /* The callback may run in the timer phase of uv_run(UV_RUN_ONCE), which
     * would then block in poll until the next event: stop it instead. */
    uv_stop(loop);
    r->t_ms = now_ms();
    r->rc = err ? err->code : 0;
    if (err)
        r->err = *err;
    r->status = resp->status;
    r->bytes = resp->bytes_received;
    r->redirects = resp->redirects;
    free(r->url);
    r->url = lv_xstrdup(resp->url);
    free(r->ctype);
    r->ctype = dup_or_null(lv_http_response_header(resp, "content-type"));
    free(r->fixture_hdr);
    r->fixture_hdr = dup_or_null(lv_http_response_header(resp, "X-FIXTURE"));
    free(r->location);
    r->location = dup_or_null(lv_http_response_header(resp, "Location"));
    lv_buf_release(&r->body);
    lv_http_response_take_body(resp, &r->body);
}

static void on_done(struct lv_http_response *resp, const struct lv_error *err, void *ud)
{
    record(ud, resp, err);
}

static void on_json(json_t *doc, struct lv_http_response *resp, const struct lv_error *err,
                    void *ud)
{
    struct res *r = ud;
    record(r, resp, err);
    json_decref(r->doc);
    r->doc = doc ? json_incref(doc) : NULL;
}

/* ---- running the loop ---- */

static void on_waker(uv_timer_t *t)
{
    woken = true;
}

static bool all_done(struct res *rs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!rs[i].done)
            return false;
    return true;
}

/* Runs the loop until every result is in or ms have passed. */
static bool wait_all(struct res *rs, size_t n, unsigned ms)
{
    woken = false;
    uv_timer_start(&waker, on_waker, ms, 0);
    while (!all_done(rs, n) && !woken)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&waker);
    return all_done(rs, n);
}

/* Runs the loop for ms. */
static void spin(unsigned ms)
{
    woken = false;
    uv_timer_start(&waker, on_waker, ms, 0);
    while (!woken)
        uv_run(loop, UV_RUN_ONCE);
}

static char *url_of(const char *scheme, unsigned port, const char *path)
{
    static char buf[8][256];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "%s://127.0.0.1:%u%s", scheme, port, path);
    return buf[i];
}

static char *U(const char *path)
{
    return url_of("http", http_port, path);
}

/* Starts q; a synchronous refusal is recorded as the result. */
static int start(struct lv_http_client *c, const struct lv_http_request *q, struct res *r)
{
    struct lv_error e;
    lv_error_clear(&e);
    res_reset(r);
    int rc = lv_http_client_request(c, q, on_done, r, &r->self, &e);
    if (rc != 0) {
        r->done = r->sync = true;
        r->rc = rc;
        r->err = e;
    }
    return rc;
}

static void run(struct lv_http_client *c, const struct lv_http_request *q, struct res *r)
{
    if (start(c, q, r) == 0 && !wait_all(r, 1, WAIT_MS))
        r->rc = LV_ERR_TIMEOUT;
}

static void get(struct lv_http_client *c, const char *url, struct res *r)
{
    struct lv_http_request q = {.url = url};
    run(c, &q, r);
}

static void fetch(struct lv_http_client *c, const char *url, enum lv_http_json_kind kind,
                  struct res *r)
{
    struct lv_http_request q = {.url = url};
    struct lv_error e;
    res_reset(r);
    int rc = lv_http_client_fetch_json(c, &q, kind, on_json, r, &r->self, &e);
    if (rc != 0) {
        r->done = r->sync = true;
        r->rc = rc;
        r->err = e;
    } else if (!wait_all(r, 1, WAIT_MS)) {
        r->rc = LV_ERR_TIMEOUT;
    }
}

/* A JSON body's member (string or integer as text), or "". */
static const char *body_member(const struct res *r, const char *key, char *buf, size_t size)
{
    json_t *doc = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    json_t *v = json_object_get(doc, key);
    buf[0] = '\0';
    if (json_is_string(v))
        snprintf(buf, size, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
    json_decref(doc);
    return buf;
}

static long fixture_stat(const char *key)
{
    struct res r = {0};
    char buf[64];
    get(cl_priv, U("/stats"), &r);
    long v = r.rc == 0 ? atol(body_member(&r, key, buf, sizeof(buf))) : -1;
    res_reset(&r);
    return v;
}

static void fixture_reset(void)
{
    struct res r = {0};
    get(cl_priv, U("/stats/reset"), &r);
    res_reset(&r);
}

static bool has(const char *s, const char *needle)
{
    return s && strstr(s, needle);
}

/* ---- address policy (no network) ---- */

static bool is_private(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1)
        in->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1)
        in6->sin6_family = AF_INET6;
    else
        return false;
    return lv_http_addr_is_private((struct sockaddr *)&ss);
}

static const struct {
    const char *ip;
    bool priv;
} policy_cases[] = {
    {"127.0.0.1", true},
    {"127.255.255.254", true},
    {"::1", true},
    {"10.0.0.5", true},
    {"10.255.255.255", true},
    {"172.16.0.1", true},
    {"172.31.255.255", true},
    {"172.32.0.1", false},
    {"192.168.1.1", true},
    {"169.254.169.254", true},
    {"100.64.0.1", true},
    {"100.127.255.255", true},
    {"100.128.0.1", false},
    {"0.0.0.0", true},
    {"255.255.255.255", true},
    {"224.0.0.1", true},
    {"::", true},
    {"fc00::1", true},
    {"fd12:3456::1", true},
    {"fe80::1", true},
    {"ff02::1", true},
    {"::ffff:10.0.0.1", true},
    {"::ffff:127.0.0.1", true},
    {"::ffff:169.254.169.254", true},
    {"::10.0.0.1", true},
    {"64:ff9b::a00:1", true},
    {"2002:a00:1::1", true},
    {"8.8.8.8", false},
    {"93.184.216.34", false},
    {"172.15.255.255", false},
    {"::ffff:8.8.8.8", false},
    {"2606:4700:4700::1111", false},
    {"2a01:4f8::1", false},
};

static bool t_policy(void)
{
    label = "policy";
    int bad = 0;
    for (size_t i = 0; i < LV_ARRAY_LEN(policy_cases); i++) {
        if (is_private(policy_cases[i].ip) != policy_cases[i].priv) {
            check(false, "%s should be %s", policy_cases[i].ip,
                  policy_cases[i].priv ? "private" : "public");
            bad++;
        }
    }
    check(!bad, "%zu addresses classified", LV_ARRAY_LEN(policy_cases));
    /* The targets the redirect tests point at must be refused, or the tests
     * could send packets off this machine. */
    return is_private("10.0.0.1") && is_private("10.0.0.5") && is_private("169.254.169.254") &&
           is_private("::ffff:10.0.0.1");
}

/* ---- JSON bounds (no network) ---- */

static char *nested(unsigned depth)
{
    char *s = lv_xmalloc(2 * depth + 2);
    memset(s, '[', depth);
    s[depth] = '1';
    memset(s + depth + 1, ']', depth);
    s[2 * depth + 1] = '\0';
    return s;
}

static char *many_values(size_t n)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_addc(&b, '[');
    for (size_t i = 0; i + 1 < n; i++)
        lv_buf_adds(&b, i ? ",0" : "0");
    lv_buf_addc(&b, ']');
    return lv_buf_detach(&b); /* n - 1 scalars + the array */
}

static int jcheck(const char *s)
{
    return lv_http_json_check(s, strlen(s), 64, 100000, NULL);
}

static void t_json_check(void)
{
    label = "json-bounds";
    char *d64 = nested(64), *d65 = nested(65);
    check(jcheck(d64) == 0, "depth 64 accepted");
    check(jcheck(d65) == LV_ERR_LIMIT, "depth 65 refused");
    free(d64);
    free(d65);
    check(jcheck("[\"[[[[[[[[\\\"[[[[\", {\"k\": \"}}}}\"}]") == 0,
          "brackets and escaped quotes inside strings are not counted");
    check(lv_http_json_check("{\"a\": 1, \"b\": [true, null]}", 26, 2, 5, NULL) == 0,
          "{a:1,b:[true,null]} is 5 values (keys are not values)");
    check(lv_http_json_check("{\"a\": 1, \"b\": [true, null]}", 26, 2, 4, NULL) == LV_ERR_LIMIT,
          "and more than 4");
    check(lv_http_json_check("{\"a\":{\"b\":{}}}", 14, 2, 100, NULL) == LV_ERR_LIMIT,
          "depth 3 refused with max_depth 2");
    char *ok = many_values(100000), *over = many_values(100001);
    check(jcheck(ok) == 0, "100000 values accepted");
    struct lv_error e;
    check(lv_http_json_check(over, strlen(over), 64, 100000, &e) == LV_ERR_LIMIT,
          "100001 values refused (%s)", e.msg);
    free(ok);
    free(over);
    json_t *doc = lv_http_json_parse("{\"type\":\"Note\"}", 15, &e);
    check(doc && json_is_object(doc), "lv_http_json_parse parses an object");
    json_decref(doc);
    doc = lv_http_json_parse("[]", 2, &e);
    check(!doc && e.code == LV_ERR_PROTO, "a top-level array is refused (%s)", e.msg);
}

/* ---- requests ---- */

static void t_basic(void)
{
    label = "basic";
    struct res r = {0};
    char buf[256];
    get(cl_priv, U("/actor"), &r);
    check(r.rc == 0 && r.status == 200 && r.calls == 1, "GET /actor: %s", outcome(&r));
    check(has(r.ctype, "application/activity+json"), "Content-Type %s", r.ctype);
    check(r.fixture_hdr && !strcmp(r.fixture_hdr, "yes"),
          "header lookup is case-insensitive (X-FIXTURE: %s)", r.fixture_hdr);
    check(!strcmp(body_member(&r, "type", buf, sizeof(buf)), "Person"), "body holds the actor");
    check(r.url && !strcmp(r.url, U("/actor")), "effective URL %s", r.url);

    get(cl_priv, U("/echo"), &r);
    char ua[256] = "";
    json_t *doc = json_loadb(r.body.data, r.body.len, 0, NULL);
    json_t *h = json_object_get(doc, "headers");
    snprintf(ua, sizeof(ua), "%s", json_string_value(json_object_get(h, "user-agent")));
    check(!strcmp(ua, LV_HTTP_USER_AGENT), "User-Agent: %s", ua);
    check(has(json_string_value(json_object_get(h, "accept-encoding")), "gzip"),
          "Accept-Encoding offers gzip (%s)",
          json_string_value(json_object_get(h, "accept-encoding")));
    check(!json_object_get(h, "expect"), "no Expect header");
    json_decref(doc);

    struct lv_http_request q = {.method = "HEAD", .url = U("/actor")};
    run(cl_priv, &q, &r);
    check(r.rc == 0 && r.status == 200 && r.body.len == 0, "HEAD: %s, %zu body bytes", outcome(&r),
          r.body.len);

    get(cl_priv, U("/status/404"), &r);
    check(r.rc == 0 && r.status == 404, "a 404 is a response, not an error: %s", outcome(&r));
    res_reset(&r);
}

static bool echo_matches(const struct res *r, const char *method, const void *body, size_t len)
{
    json_t *doc = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    const char *m = json_string_value(json_object_get(doc, "method"));
    const char *hex = json_string_value(json_object_get(doc, "body_hex"));
    json_t *h = json_object_get(doc, "headers");
    const char *x = json_string_value(json_object_get(h, "x-test"));
    const char *ct = json_string_value(json_object_get(h, "content-type"));
    const char *empty = json_string_value(json_object_get(h, "x-empty"));
    char expect[256] = "";
    for (size_t i = 0; i < len && 2 * i + 2 < sizeof(expect); i++)
        snprintf(expect + 2 * i, 3, "%02x", ((const unsigned char *)body)[i]);
    bool ok = m && !strcmp(m, method) && hex && !strcmp(hex, expect) && x &&
              !strcmp(x, "a value; with=\"quotes\"") && ct &&
              !strcmp(ct, "application/activity+json") && empty && !*empty;
    json_decref(doc);
    return ok;
}

static void t_methods(void)
{
    label = "methods";
    static const char body[] = "{\"type\":\"Follow\"}\0binary\xff";
    const struct lv_http_header hdrs[] = {
        {"X-Test", "a value; with=\"quotes\""},
        {"Content-Type", "application/activity+json"},
        {"X-Empty", ""},
    };
    const char *methods[] = {"POST", "PUT", "PATCH", "DELETE"};
    struct res r = {0};
    for (size_t i = 0; i < LV_ARRAY_LEN(methods); i++) {
        struct lv_http_request q = {.method = methods[i],
                                    .url = U("/echo"),
                                    .headers = hdrs,
                                    .n_headers = LV_ARRAY_LEN(hdrs),
                                    .body = body,
                                    .body_len = sizeof(body) - 1};
        run(cl_priv, &q, &r);
        check(r.rc == 0 && r.status == 200 && echo_matches(&r, methods[i], body, sizeof(body) - 1),
              "%s with a %zu-byte binary body and headers round-trips: %s", methods[i],
              sizeof(body) - 1, outcome(&r));
    }
    struct lv_http_request q = {.method = "POST", .url = U("/echo")};
    run(cl_priv, &q, &r);
    check(r.rc == 0 && strstr(r.body.data, "\"body_hex\": \"\""), "POST without a body: %s",
          outcome(&r));

    const struct lv_http_header evil[] = {{"X-Test", "a\r\nX-Injected: 1"}};
    q = (struct lv_http_request){.url = U("/echo"), .headers = evil, .n_headers = 1};
    start(cl_priv, &q, &r);
    check(r.sync && r.rc == LV_ERR_INVAL, "CR LF in a header value refused at once: %s",
          outcome(&r));
    const struct lv_http_header evil_name[] = {{"X Bad", "v"}};
    q = (struct lv_http_request){.url = U("/echo"), .headers = evil_name, .n_headers = 1};
    start(cl_priv, &q, &r);
    check(r.sync && r.rc == LV_ERR_INVAL, "bad header name refused: %s", outcome(&r));
    q = (struct lv_http_request){.method = "GET X", .url = U("/echo")};
    start(cl_priv, &q, &r);
    check(r.sync && r.rc == LV_ERR_INVAL, "bad method refused: %s", outcome(&r));
    const char *bad_urls[] = {"ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/",
                              "not a url", "http://"};
    for (size_t i = 0; i < LV_ARRAY_LEN(bad_urls); i++) {
        q = (struct lv_http_request){.url = bad_urls[i]};
        start(cl_priv, &q, &r);
        check(r.sync && r.rc == LV_ERR_INVAL && r.calls == 0, "URL '%s' refused at once: %s",
              bad_urls[i], outcome(&r));
    }
    res_reset(&r);
}

static void t_gzip_keepalive(void)
{
    label = "encoding";
    struct res r = {0}, r2 = {0};
    char buf[64];
    get(cl_priv, U("/gzip"), &r);
    check(r.rc == 0 && !strcmp(body_member(&r, "type", buf, sizeof(buf)), "Person"),
          "gzip body decoded (%zu bytes): %s", r.body.len, outcome(&r));

    label = "keep-alive";
    struct lv_http_client *c;
    struct lv_http_client_config cfg = {.allow_private_networks = true};
    lv_http_client_new(loop, &cfg, &c, NULL);
    char p1[32], p2[32];
    get(c, U("/conn"), &r);
    get(c, U("/conn"), &r2);
    body_member(&r, "port", p1, sizeof(p1));
    body_member(&r2, "port", p2, sizeof(p2));
    check(r.rc == 0 && r2.rc == 0 && *p1 && !strcmp(p1, p2),
          "second request reused the connection (source ports %s and %s)", p1, p2);
    lv_http_client_free(c);
    res_reset(&r);
    res_reset(&r2);
}

/* 50 requests to /sleep/500 at once; returns the elapsed ms. */
static uint64_t burst(struct lv_http_client *c, long *max_inflight, size_t *ok)
{
    enum { N = 50 };
    struct res rs[N];
    memset(rs, 0, sizeof(rs));
    fixture_reset();
    uint64_t t0 = now_ms();
    for (size_t i = 0; i < N; i++) {
        struct lv_http_request q = {.url = U("/sleep/500")};
        start(c, &q, &rs[i]);
    }
    wait_all(rs, N, WAIT_MS);
    uint64_t last = t0;
    *ok = 0;
    for (size_t i = 0; i < N; i++) {
        *ok += rs[i].rc == 0 && rs[i].status == 200;
        last = rs[i].t_ms > last ? rs[i].t_ms : last;
        res_reset(&rs[i]);
    }
    *max_inflight = fixture_stat("max_inflight");
    return last - t0;
}

static void t_concurrency(void)
{
    label = "concurrency";
    struct lv_http_client *wide;
    struct lv_http_client_config cfg = {.allow_private_networks = true, .max_host_connections = 64};
    lv_http_client_new(loop, &cfg, &wide, NULL);
    long inflight;
    size_t ok;
    uint64_t ms = burst(wide, &inflight, &ok);
    note("50 requests of 500 ms with 64 connections per host: %llu ms, %ld at once on the server",
         (unsigned long long)ms, inflight);
    check(ok == 50 && ms < 2500 && inflight == 50, "50 concurrent requests: %zu ok in %llu ms", ok,
          (unsigned long long)ms);
    lv_http_client_free(wide);

    ms = burst(cl_priv, &inflight, &ok);
    note("the same with the default 8 connections per host: %llu ms, %ld at once on the server",
         (unsigned long long)ms, inflight);
    check(ok == 50 && inflight <= 8 && ms >= 3000,
          "per-host cap 8: %zu ok, at most %ld at once, %llu ms (7 rounds of 500 ms)", ok, inflight,
          (unsigned long long)ms);
}

static void t_timeout(void)
{
    label = "timeout";
    struct res r = {0};
    struct lv_http_request q = {.url = U("/slow"), .timeout_ms = 1000};
    uint64_t t0 = now_ms();
    run(cl_priv, &q, &r);
    uint64_t ms = now_ms() - t0;
    check(r.rc == LV_ERR_TIMEOUT && ms >= 900 && ms < 2500,
          "/slow (3 s) with a 1 s timeout: %s after %llu ms", outcome(&r), (unsigned long long)ms);

    get(cl_priv, "http://127.0.0.1:1/", &r);
    check(r.rc == LV_ERR_IO, "connection refused: %s", outcome(&r));
    res_reset(&r);
}

static void t_limits(void)
{
    label = "limits";
    struct res r = {0};
    uint64_t t0 = now_ms();
    get(cl_priv, U("/large"), &r);
    note("/large (5 MiB, Content-Length): %llu body bytes received, %llu ms",
         (unsigned long long)r.bytes, (unsigned long long)(now_ms() - t0));
    check(r.rc == LV_ERR_LIMIT && r.bytes == 0,
          "announced 5 MiB refused before the body: %s, %llu bytes", outcome(&r),
          (unsigned long long)r.bytes);

    t0 = now_ms();
    get(cl_priv, U("/large-chunked"), &r);
    note("/large-chunked (5 MiB): %llu body bytes received (limit %zu), %llu ms",
         (unsigned long long)r.bytes, MIB, (unsigned long long)(now_ms() - t0));
    check(r.rc == LV_ERR_LIMIT && r.bytes > MIB && r.bytes <= MIB + 64 * 1024 && r.body.len <= MIB,
          "chunked 5 MiB stopped right after 1 MiB: %s, %llu bytes", outcome(&r),
          (unsigned long long)r.bytes);

    struct lv_http_request q = {.url = U("/actor"), .max_response_bytes = 50};
    run(cl_priv, &q, &r);
    check(r.rc == LV_ERR_LIMIT, "max_response_bytes 50 on a small document: %s", outcome(&r));

    get(cl_priv, U("/many-headers"), &r);
    check(r.rc == LV_ERR_LIMIT, "200 response headers: %s", outcome(&r));
    get(cl_priv, U("/headers/90"), &r);
    check(r.rc == 0 && r.status == 200, "95 response headers: %s", outcome(&r));

    q = (struct lv_http_request){.method = "HEAD", .url = U("/large")};
    run(cl_priv, &q, &r);
    check(r.rc == 0 && r.status == 200, "HEAD of the 5 MiB resource: %s", outcome(&r));
    res_reset(&r);
}

static void t_redirects(void)
{
    label = "redirects";
    struct res r = {0};
    get(cl_priv, U("/redirect/3"), &r);
    check(r.rc == 0 && r.status == 200 && r.redirects == 3 && !strcmp(r.url, U("/redirect/0")),
          "3 redirects followed to %s: %s", r.url, outcome(&r));
    get(cl_priv, U("/redirect/5"), &r);
    check(r.rc == 0 && r.redirects == 5, "5 redirects (the default maximum): %s", outcome(&r));
    get(cl_priv, U("/redirect/6"), &r);
    check(r.rc == LV_ERR_LIMIT, "6 redirects: %s", outcome(&r));
    get(cl_priv, U("/loop"), &r);
    check(r.rc == LV_ERR_LIMIT, "redirect loop: %s", outcome(&r));
    struct lv_http_request q = {.url = U("/redirect/3"), .max_redirects = 2};
    run(cl_priv, &q, &r);
    check(r.rc == LV_ERR_LIMIT, "max_redirects 2: %s", outcome(&r));
    q = (struct lv_http_request){.url = U("/redirect/3"), .no_redirects = true};
    run(cl_priv, &q, &r);
    check(r.rc == 0 && r.status == 302 && has(r.location, "/redirect/2"),
          "no_redirects returns the 302 (Location %s)", r.location);
    get(cl_priv, U("/redir-ftp"), &r);
    check(r.rc == LV_ERR_PROTO, "redirect to ftp:// refused: %s", outcome(&r));
    res_reset(&r);
}

static void t_private(void)
{
    label = "private";
    struct res r = {0};
    fixture_reset();
    get(cl_strict, U("/actor"), &r);
    check(r.rc == LV_ERR_PERM &&
              !strcmp(r.err.msg, "refusing to connect to private address 127.0.0.1 "
                                 "(allow_private_networks is off)"),
          "the fixture on 127.0.0.1 is refused with allow_private_networks off: %s", outcome(&r));
    check(fixture_stat("hits") == 0, "and nothing reached the fixture");

    char u[128];
    snprintf(u, sizeof(u), "http://10.0.0.5:%u/actor", http_port);
    get(cl_strict, u, &r);
    check(r.rc == LV_ERR_PERM &&
              !strcmp(r.err.msg, "refusing to connect to private address 10.0.0.5 "
                                 "(allow_private_networks is off)"),
          "10.0.0.5 refused at socket opening: %s", outcome(&r));
    snprintf(u, sizeof(u), "http://localhost:%u/actor", http_port);
    get(cl_strict, u, &r);
    check(r.rc == LV_ERR_PERM, "localhost refused: %s", outcome(&r));

    get(cl_allow, U("/actor"), &r);
    check(r.rc == 0 && r.status == 200, "allowed_ranges 127.0.0.0/8 lets the fixture in: %s",
          outcome(&r));
    get(cl_allow, U("/redir-private"), &r);
    check(r.rc == LV_ERR_PERM && has(r.err.msg, "private address 10.0.0.1 "),
          "redirect to 10.0.0.1 refused: %s", outcome(&r));
    get(cl_allow, U("/redir-metadata"), &r);
    check(r.rc == LV_ERR_PERM && has(r.err.msg, "169.254.169.254"),
          "redirect to 169.254.169.254 refused: %s", outcome(&r));
    get(cl_allow, U("/redir-mapped"), &r);
    check(r.rc == LV_ERR_PERM && has(r.err.msg, "::ffff:10.0.0.1"),
          "redirect to [::ffff:10.0.0.1] refused: %s", outcome(&r));

    get(cl_priv, U("/actor"), &r);
    check(r.rc == 0 && r.status == 200, "allow_private_networks on: %s", outcome(&r));

    struct lv_http_client *c = NULL;
    struct lv_http_client_config cfg = {.allowed_ranges = "127.0.0.0/33"};
    struct lv_error e;
    int rc = lv_http_client_new(loop, &cfg, &c, &e);
    check(rc == LV_ERR_CONFIG && !c, "bad allowed_ranges refused: %s", e.msg);
    res_reset(&r);
}

static void t_ap(void)
{
    label = "ap-get";
    struct res r = {0};
    fetch(cl_priv, U("/actor"), LV_HTTP_JSON_AP, &r);
    check(r.rc == 0 && r.doc && has(json_string_value(json_object_get(r.doc, "type")), "Person"),
          "actor fetched and parsed: %s", outcome(&r));
    fetch(cl_priv, U("/ld"), LV_HTTP_JSON_AP, &r);
    check(r.rc == 0 && r.doc, "application/ld+json with profile accepted: %s", outcome(&r));
    fetch(cl_priv, U("/accept"), LV_HTTP_JSON_AP, &r);
    const char *acc = json_string_value(json_object_get(r.doc, "accept"));
    check(acc && !strcmp(acc, "application/activity+json, application/ld+json; "
                              "profile=\"https://www.w3.org/ns/activitystreams\""),
          "Accept: %s", acc);
    fetch(cl_priv, U("/html"), LV_HTTP_JSON_AP, &r);
    check(r.rc == LV_ERR_PROTO && !strcmp(r.err.msg, "not an ActivityPub document: text/html"),
          "HTML refused: %s", outcome(&r));
    fetch(cl_priv, U("/deep"), LV_HTTP_JSON_AP, &r);
    check(r.rc == LV_ERR_LIMIT && !r.doc, "100 levels deep refused: %s", outcome(&r));
    fetch(cl_priv, U("/many"), LV_HTTP_JSON_AP, &r);
    check(r.rc == LV_ERR_LIMIT, "150,000 values refused: %s", outcome(&r));
    fetch(cl_priv, U("/notjson"), LV_HTTP_JSON_AP, &r);
    check(r.rc == LV_ERR_PROTO, "invalid JSON: %s", outcome(&r));
    fetch(cl_priv, U("/array"), LV_HTTP_JSON_AP, &r);
    check(r.rc == LV_ERR_PROTO, "top-level array: %s", outcome(&r));
    fetch(cl_priv, U("/gzip"), LV_HTTP_JSON_AP, &r);
    check(r.rc == 0 && r.doc, "gzip-encoded actor: %s", outcome(&r));
    fetch(cl_priv, U("/status/404"), LV_HTTP_JSON_AP, &r);
    check(r.rc == LV_ERR_NOT_FOUND && r.status == 404, "404: %s", outcome(&r));
    fetch(cl_priv, U("/status/410"), LV_HTTP_JSON_AP, &r);
    check(r.rc == LV_ERR_NOT_FOUND && r.status == 410, "410: %s", outcome(&r));
    fetch(cl_priv, U("/status/503"), LV_HTTP_JSON_AP, &r);
    check(r.rc == LV_ERR_AGAIN, "503 is transient: %s", outcome(&r));
    fetch(cl_priv, U("/status/401"), LV_HTTP_JSON_AP, &r);
    check(r.rc == LV_ERR_PERM, "401: %s", outcome(&r));
    fetch(cl_strict, U("/actor"), LV_HTTP_JSON_AP, &r);
    check(r.rc == LV_ERR_PERM, "address policy applies to AP GETs: %s", outcome(&r));

    label = "webfinger";
    fetch(cl_priv, U("/webfinger"), LV_HTTP_JSON_JRD, &r);
    check(r.rc == 0 && json_object_get(r.doc, "links"), "JRD fetched: %s", outcome(&r));
    fetch(cl_priv, U("/echo"), LV_HTTP_JSON_JRD, &r);
    check(r.rc == 0 && r.doc, "application/json accepted: %s", outcome(&r));
    fetch(cl_priv, U("/html"), LV_HTTP_JSON_JRD, &r);
    check(r.rc == LV_ERR_PROTO && has(r.err.msg, "text/html"), "HTML refused: %s", outcome(&r));
    fetch(cl_priv, U("/actor"), LV_HTTP_JSON_JRD, &r);
    check(r.rc == LV_ERR_PROTO, "activity+json is not a WebFinger document: %s", outcome(&r));
    res_reset(&r);
}

static void t_tls(void)
{
    label = "https";
    struct res r = {0};
    get(cl_tls, url_of("https", https_port, "/actor"), &r);
    check(r.rc == 0 && r.status == 200, "HTTPS with the test CA: %s", outcome(&r));
    char u[128];
    snprintf(u, sizeof(u), "https://localhost:%u/actor", https_port);
    get(cl_tls, u, &r);
    check(r.rc == 0 && r.status == 200, "HTTPS to localhost: %s", outcome(&r));
    fetch(cl_tls, url_of("https", https_port, "/actor"), LV_HTTP_JSON_AP, &r);
    check(r.rc == 0 && r.doc, "AP GET over HTTPS: %s", outcome(&r));
    get(cl_notls, url_of("https", https_port, "/actor"), &r);
    check(r.rc == LV_ERR_TLS && has(r.err.msg, "certificate"),
          "HTTPS without the test CA (system store): %s", outcome(&r));
    get(cl_tls, url_of("https", http_port, "/actor"), &r);
    check(r.rc == LV_ERR_TLS, "HTTPS to a plain HTTP port: %s", outcome(&r));
    res_reset(&r);
}

/* ---- cancellation and shutdown ---- */

static void on_done_cancel_other(struct lv_http_response *resp, const struct lv_error *err,
                                 void *ud)
{
    struct res *r = ud;
    record(r, resp, err);
    lv_http_cancel(r->self); /* our own handle: a no-op while our callback runs */
    lv_http_cancel(r->other);
}

static void t_cancel(void)
{
    label = "cancel";
    struct res r = {0};
    struct lv_http_request q = {.url = U("/slow")};
    start(cl_priv, &q, &r);
    spin(200);
    size_t before = lv_http_client_pending(cl_priv);
    lv_http_cancel(r.self);
    check(r.calls == 1 && r.rc == LV_ERR_CANCELLED, "callback ran inside lv_http_cancel: %s",
          outcome(&r));
    spin(300);
    check(r.calls == 1 && lv_http_client_pending(cl_priv) == before - 1,
          "exactly once, nothing pending (%zu before)", before);

    /* A request still queued behind the connection cap. */
    struct lv_http_client *one;
    struct lv_http_client_config cfg = {.allow_private_networks = true, .max_connections = 1};
    lv_http_client_new(loop, &cfg, &one, NULL);
    struct res rs[2] = {{0}};
    q.url = U("/sleep/300");
    start(one, &q, &rs[0]);
    start(one, &q, &rs[1]);
    lv_http_cancel(rs[1].self);
    wait_all(rs, 2, WAIT_MS);
    check(rs[0].rc == 0 && rs[1].rc == LV_ERR_CANCELLED && rs[1].calls == 1,
          "queued request cancelled, the other completes: %s / %s", outcome(&rs[0]),
          outcome(&rs[1]));

    /* Cancelling another request from a callback. */
    struct res a = {0}, b = {0};
    q.url = U("/slow");
    start(one, &q, &b);
    struct lv_error e;
    q.url = U("/actor");
    lv_http_client_request(cl_priv, &q, on_done_cancel_other, &a, &a.self, &e);
    a.other = b.self;
    wait_all(&a, 1, WAIT_MS);
    check(a.rc == 0 && a.calls == 1 && b.calls == 1 && b.rc == LV_ERR_CANCELLED,
          "a callback cancelled another request: %s / %s", outcome(&a), outcome(&b));
    lv_http_client_free(one);
    res_reset(&r);
    res_reset(&rs[0]);
    res_reset(&rs[1]);
    res_reset(&a);
    res_reset(&b);
}

static void on_done_retry(struct lv_http_response *resp, const struct lv_error *err, void *ud)
{
    struct res *r = ud;
    record(r, resp, err);
    if (r->retry) {
        struct lv_http_request q = {.url = U("/actor")};
        start(r->client, &q, r->retry);
    }
}

static void on_done_free_client(struct lv_http_response *resp, const struct lv_error *err, void *ud)
{
    struct res *r = ud;
    record(r, resp, err);
    lv_http_client_free(r->client);
}

static void t_shutdown(void)
{
    label = "shutdown";
    enum { N = 21 };
    struct lv_http_client *c;
    struct lv_http_client_config cfg = {.allow_private_networks = true};
    lv_http_client_new(loop, &cfg, &c, NULL);
    struct res rs[N], retry = {0};
    memset(rs, 0, sizeof(rs));
    const char *paths[] = {"/slow", "/sleep/2000", "/sleep/2500"};
    for (size_t i = 0; i < N; i++) {
        struct lv_http_request q = {.url = U(paths[i % 3])};
        struct lv_error e;
        res_reset(&rs[i]);
        rs[i].client = c;
        rs[i].retry = i == 0 ? &retry : NULL;
        lv_http_client_request(c, &q, on_done_retry, &rs[i], &rs[i].self, &e);
    }
    spin(300);
    lv_http_client_free(c);
    size_t cancelled = 0, calls = 0;
    for (size_t i = 0; i < N; i++) {
        cancelled += rs[i].rc == LV_ERR_CANCELLED;
        calls += (size_t)rs[i].calls;
    }
    check(cancelled == N && calls == N, "%zu of %d pending requests cancelled by the shutdown",
          cancelled, N);
    check(retry.sync && retry.rc == LV_ERR_CANCELLED,
          "a request made during the shutdown is refused: %s", outcome(&retry));
    spin(300);
    calls = 0;
    for (size_t i = 0; i < N; i++) {
        calls += (size_t)rs[i].calls;
        res_reset(&rs[i]);
    }
    check(calls == N, "no callback after the shutdown");
    res_reset(&retry);

    /* Freeing the client from a request's callback. */
    lv_http_client_new(loop, &cfg, &c, NULL);
    struct res a = {0}, b = {0};
    a.client = c;
    struct lv_http_request q = {.url = U("/slow")};
    struct lv_error e;
    lv_http_client_request(c, &q, on_done, &b, &b.self, &e);
    q.url = U("/actor");
    lv_http_client_request(c, &q, on_done_free_client, &a, &a.self, &e);
    wait_all(&a, 1, WAIT_MS);
    check(a.rc == 0 && b.rc == LV_ERR_CANCELLED && b.calls == 1,
          "client freed from a callback: %s / %s", outcome(&a), outcome(&b));
    spin(100);
    res_reset(&a);
    res_reset(&b);
}

/* ---- main ---- */

static struct lv_http_client *client(bool allow_private, const char *ranges, const char *ca)
{
    struct lv_http_client_config cfg = {
        .allow_private_networks = allow_private, .allowed_ranges = ranges, .ca_file = ca};
    struct lv_http_client *c;
    struct lv_error e;
    if (lv_http_client_new(loop, &cfg, &c, &e) != 0) {
        fprintf(stderr, "lv_http_client_new: %s\n", e.msg);
        exit(2);
    }
    return c;
}

static void count_handle(uv_handle_t *h, void *arg)
{
    if (h != (uv_handle_t *)&waker)
        (*(int *)arg)++;
}

static void teardown(void)
{
    label = "teardown";
    lv_http_client_free(cl_priv);
    lv_http_client_free(cl_strict);
    lv_http_client_free(cl_allow);
    lv_http_client_free(cl_tls);
    lv_http_client_free(cl_notls);
    uv_close((uv_handle_t *)&waker, NULL);
    while (uv_run(loop, UV_RUN_DEFAULT))
        ;
    int left = 0;
    uv_walk(loop, count_handle, &left);
    check(left == 0, "every libuv handle closed (%d left)", left);
    check(uv_loop_close(loop) == 0, "the loop closes cleanly");
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--http-port"))
            http_port = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--https-port"))
            https_port = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ca"))
            ca_file = argv[i + 1];
        else
            return -1;
    }
    return http_port && https_port && ca_file ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != 0) {
        fprintf(stderr, "usage: %s --http-port P --https-port Q --ca CA_FILE\n", argv[0]);
        return 2;
    }
    const char *lvl = getenv("LV_HTTP_LOG");
    lv_log_set_level(lvl ? lv_log_level_parse(lvl) : LV_LOG_WARN);
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    uv_timer_init(loop, &waker);
    if (!t_policy()) {
        printf("FAIL: [policy] the redirect targets are not classified private: stopping\n");
        return 1;
    }
    t_json_check();
    cl_priv = client(true, NULL, NULL);
    cl_strict = client(false, NULL, NULL);
    cl_allow = client(false, "127.0.0.0/8", NULL);
    cl_tls = client(true, NULL, ca_file);
    cl_notls = client(true, NULL, NULL);
    t_basic();
    t_methods();
    t_gzip_keepalive();
    t_concurrency();
    t_timeout();
    t_limits();
    t_redirects();
    t_private();
    t_ap();
    t_tls();
    t_cancel();
    t_shutdown();
    teardown();
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "DONE", failures);
    return failures ? 1 : 0;
}
