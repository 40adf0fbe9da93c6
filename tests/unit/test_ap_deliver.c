/* Unit tests of lv_ap_deliver: the outgoing delivery queue.
 *
 * Everything runs in this process on one libuv loop and on loopback only:
 * three lv_http servers on 127.0.0.1 (ephemeral ports, so three "hosts" for
 * the per-host cap) play the peers' inboxes, an lv_http_client with
 * allow_private_networks sends, and the store is an in-memory SQLite
 * database. The peers check every request as a real inbox would: the
 * draft-cavage signature is parsed and verified (lv_httpsig_parse +
 * lv_httpsig_verify) against the public half of a key made for the run,
 * the Digest against the exact body received.
 *
 * Waiting is always driven by the loop (RUN_UNTIL runs it until a condition
 * holds, with a generous deadline), never by sleeping. Where a test needs
 * requests to stay in flight, the peers hold them unanswered until the test
 * releases them; where it needs signing jobs to stay queued, blocker jobs
 * occupy every thread of libuv's pool (its size is set to 4 in main()). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "ap/lv_ap_deliver.h"
#include "ap/lv_http.h"
#include "ap/lv_http_client.h"
#include "ap/lv_httpsig.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/lv_store.h"
#include "store/lv_store_ap.h"

#define NPEERS 3
#define MAX_GOT 512
#define MAX_HELD 64
#define POOL_SIZE 4
#define KEY_ID "https://gw.example/_ap/actor/louise#main-key"
#define ACCOUNT "louise@example.org"

/* Made once for the run: RSA key generation is slow. */
static EVP_PKEY *g_priv, *g_pub;

/* What a peer saw of one request. */
struct got {
    int peer;
    char *target, *host, *body, *digest, *content_type, *accept, *date, *signature;
    size_t body_len;
    int sig_rc;   /* lv_httpsig_parse() then lv_httpsig_verify(): 0 = valid */
    char *key_id; /* as parsed */
    char *base;   /* the signing string the peer rebuilt */
    int64_t when; /* time() at arrival */
};

struct held {
    struct lv_http_req *req;
    int peer;
};

struct t;

struct peer {
    struct t *t;
    int idx;
    struct lv_http *http;
    unsigned port;
    unsigned cur, max; /* requests arrived and not answered */
};

struct t {
    uv_loop_t loop;
    char dir[256]; /* a file store's directory, "" for the in-memory one */
    char path[300];
    uv_timer_t tick; /* keeps RUN_UNTIL iterating */
    struct lv_store *store;
    struct lv_http_client *client;
    struct peer peers[NPEERS];
    struct lv_ap_deliver *d;
    /* key_fn */
    int key_calls;
    bool key_fail;
    /* the peers' behaviour */
    long script[8]; /* statuses for /inbox requests, then 202 */
    size_t nscript, script_pos;
    bool hold;
    struct held held[MAX_HELD];
    size_t nheld;
    unsigned cur, max; /* over all peers */
    struct got got[MAX_GOT];
    size_t ngot;
    /* done_fn */
    bool free_in_done; /* frees the queue at the first report */
    unsigned done, done_ok, done_err;
    long last_status;
    int last_err;
    unsigned max_in_flight;
    /* pool blockers */
    uv_sem_t block;
    unsigned blockers, blockers_done;
};

/* ---- loop helpers ---- */

#define RUN_UNTIL(t, cond, ms)                                                                     \
    do {                                                                                           \
        uint64_t dl_ = uv_now(&(t)->loop) + (ms);                                                  \
        while (!(cond) && uv_now(&(t)->loop) < dl_)                                                \
            uv_run(&(t)->loop, UV_RUN_ONCE);                                                       \
        assert_true(cond);                                                                         \
    } while (0)

/* Runs the loop for ms (to show that something does NOT happen). */
#define RUN_FOR(t, ms)                                                                             \
    do {                                                                                           \
        uint64_t dl_ = uv_now(&(t)->loop) + (ms);                                                  \
        while (uv_now(&(t)->loop) < dl_)                                                           \
            uv_run(&(t)->loop, UV_RUN_ONCE);                                                       \
    } while (0)

static void on_tick(uv_timer_t *h)
{
    (void)h;
}

/* ---- the peers ---- */

static char *dup_or_null(const char *s)
{
    return s ? lv_xstrdup(s) : NULL;
}

static void check_signature(struct lv_http_req *req, struct got *g)
{
    struct lv_httpsig_header hs[64];
    size_t n = 0;
    const char *name, *value;
    for (size_t i = 0; n < LV_ARRAY_LEN(hs) && lv_http_req_header_at(req, i, &name, &value); i++)
        hs[n++] = (struct lv_httpsig_header){name, strlen(name), value, strlen(value)};
    const char *method = lv_http_req_method(req), *target = lv_http_req_target(req);
    const struct lv_httpsig_request r = {
        .method = method,
        .method_len = strlen(method),
        .target = target,
        .target_len = strlen(target),
        .scheme = "http",
        .headers = hs,
        .n_headers = n,
        .body = g->body,
        .body_len = g->body_len,
    };
    struct lv_httpsig_sig sig;
    struct lv_error err;
    g->sig_rc = lv_httpsig_parse(&r, time(NULL), 0, &sig, &err);
    if (g->sig_rc == 0) {
        g->key_id = lv_xstrdup(sig.key_id);
        g->base = lv_xstrdup(sig.base.data);
        g->sig_rc = lv_httpsig_verify(&sig, g_pub, 0, &err);
    }
    if (g->sig_rc != 0)
        fprintf(stderr, "peer: bad signature: %s\n", err.msg);
    lv_httpsig_sig_release(&sig);
}

static void record(struct peer *p, struct lv_http_req *req)
{
    struct t *t = p->t;
    assert_true(t->ngot < MAX_GOT);
    struct got *g = &t->got[t->ngot++];
    size_t len;
    const char *body = lv_http_req_body(req, &len);
    g->peer = p->idx;
    g->body = lv_xmalloc(len + 1);
    memcpy(g->body, body, len + 1);
    g->body_len = len;
    g->target = lv_xstrdup(lv_http_req_target(req));
    g->host = dup_or_null(lv_http_req_header(req, "Host"));
    g->digest = dup_or_null(lv_http_req_header(req, "Digest"));
    g->content_type = dup_or_null(lv_http_req_header(req, "Content-Type"));
    g->accept = dup_or_null(lv_http_req_header(req, "Accept"));
    g->date = dup_or_null(lv_http_req_header(req, "Date"));
    g->signature = dup_or_null(lv_http_req_header(req, "Signature"));
    g->when = time(NULL);
    check_signature(req, g);
    p->cur++;
    if (p->cur > p->max)
        p->max = p->cur;
    t->cur++;
    if (t->cur > t->max)
        t->max = t->cur;
}

static void answered(struct peer *p)
{
    p->cur--;
    p->t->cur--;
}

static void on_inbox(struct lv_http_req *req, void *ud)
{
    struct peer *p = ud;
    struct t *t = p->t;
    record(p, req);
    if (t->hold) {
        assert_true(t->nheld < MAX_HELD);
        t->held[t->nheld++] = (struct held){req, p->idx};
        return;
    }
    long status = t->script_pos < t->nscript ? t->script[t->script_pos++] : 202;
    answered(p);
    lv_http_reply_bytes(req, (unsigned)status, "text/plain", "", 0);
}

/* /status/<code>: answers <code> with a body chosen per code. */
static void on_status(struct lv_http_req *req, void *ud)
{
    struct peer *p = ud;
    record(p, req);
    answered(p);
    unsigned code = (unsigned)atoi(lv_http_req_seg(req, 1));
    if (code == 302) {
        lv_http_reply_redirect(req, 302, "/elsewhere");
    } else if (code == 400) {
        char big[1000];
        memset(big, 'x', sizeof(big));
        lv_http_reply_bytes(req, code, "text/plain", big, sizeof(big));
    } else if (code == 410) {
        static const char why[] = "  account\r\n\tdeleted  \n";
        lv_http_reply_bytes(req, code, "text/plain", why, sizeof(why) - 1);
    } else if (code == 422) {
        static const char why[] = "{\"error\": \"Validation failed\"}";
        lv_http_reply_bytes(req, code, "application/json", why, sizeof(why) - 1);
    } else {
        lv_http_reply_bytes(req, code, "text/plain", "no", 2);
    }
}

static void release_held(struct t *t)
{
    for (size_t i = 0; i < t->nheld; i++) {
        answered(&t->peers[t->held[i].peer]);
        lv_http_reply_bytes(t->held[i].req, 202, "text/plain", "", 0);
    }
    t->nheld = 0;
}

/* ---- the queue's callbacks ---- */

static int key_fn(void *ud, const char *account, EVP_PKEY **key, struct lv_error *err)
{
    struct t *t = ud;
    t->key_calls++;
    if (t->key_fail)
        return lv_error_set(err, LV_ERR_NOT_FOUND, "no key for %s", account);
    EVP_PKEY_up_ref(g_priv);
    *key = g_priv;
    return 0;
}

static void done_fn(void *ud, int64_t id, const char *inbox, long status,
                    const struct lv_error *err)
{
    struct t *t = ud;
    struct lv_ap_deliver_stats s;
    (void)id;
    assert_non_null(inbox);
    t->done++;
    if (err)
        t->done_err++;
    else
        t->done_ok++;
    t->last_status = status;
    t->last_err = err ? err->code : 0;
    if (t->free_in_done) {
        lv_ap_deliver_free(t->d);
        t->d = NULL;
        return;
    }
    lv_ap_deliver_stats(t->d, &s);
    if (s.in_flight > t->max_in_flight)
        t->max_in_flight = s.in_flight;
}

/* ---- fixture ---- */

static int setup(void **state)
{
    struct t *t = lv_xcalloc(1, sizeof(*t));
    struct lv_error err;
    assert_int_equal(uv_loop_init(&t->loop), 0);
    assert_int_equal(uv_sem_init(&t->block, 0), 0);
    uv_timer_init(&t->loop, &t->tick);
    uv_timer_start(&t->tick, on_tick, 10, 10);
    assert_int_equal(lv_store_open(":memory:", &t->store, &err), 0);
    const struct lv_http_client_config cc = {.allow_private_networks = true};
    assert_int_equal(lv_http_client_new(&t->loop, &cc, &t->client, &err), 0);
    for (int i = 0; i < NPEERS; i++) {
        struct peer *p = &t->peers[i];
        struct lv_http_config hc;
        lv_http_config_defaults(&hc);
        hc.shutdown_grace_ms = 100;
        const struct lv_http_route routes[] = {
            {"POST", "/inbox/**", on_inbox, 0},
            {"POST", "/status/*", on_status, 0},
        };
        p->t = t;
        p->idx = i;
        assert_int_equal(lv_http_new(&t->loop, &hc, &p->http, &err), 0);
        assert_int_equal(lv_http_add_routes(p->http, routes, LV_ARRAY_LEN(routes), p, &err), 0);
        p->port = lv_http_port(p->http);
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    lv_ap_deliver_free(t->d);
    release_held(t);
    while (t->blockers > t->blockers_done) { /* a failed test left them */
        uv_sem_post(&t->block);
        t->blockers--;
    }
    lv_http_client_free(t->client);
    for (int i = 0; i < NPEERS; i++)
        lv_http_free(t->peers[i].http);
    uv_close((uv_handle_t *)&t->tick, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    lv_store_close(t->store);
    if (t->dir[0]) {
        static const char *const suffixes[] = {"", "-wal", "-shm"};
        for (size_t i = 0; i < LV_ARRAY_LEN(suffixes); i++) {
            char p[320];
            snprintf(p, sizeof(p), "%s%s", t->path, suffixes[i]);
            unlink(p);
        }
        rmdir(t->dir);
    }
    uv_sem_destroy(&t->block);
    for (size_t i = 0; i < t->ngot; i++) {
        struct got *g = &t->got[i];
        free(g->target);
        free(g->host);
        free(g->body);
        free(g->digest);
        free(g->content_type);
        free(g->accept);
        free(g->date);
        free(g->signature);
        free(g->key_id);
        free(g->base);
    }
    free(t);
    return 0;
}

static void start_queue(struct t *t, const struct lv_ap_deliver_config *cfg)
{
    struct lv_error err;
    assert_int_equal(lv_ap_deliver_new(&t->loop, t->store, t->client, cfg, key_fn, t, &t->d, &err),
                     0);
    lv_ap_deliver_set_done_fn(t->d, done_fn, t);
}

static char *url(struct t *t, int peer, const char *path)
{
    return lv_xasprintf("http://127.0.0.1:%u%s", t->peers[peer].port, path);
}

static int64_t enqueue(struct t *t, int peer, const char *path, const char *activity_id,
                       const char *body)
{
    struct lv_error err;
    int64_t id = 0;
    char *u = url(t, peer, path);
    int rc = lv_ap_deliver_enqueue(t->d, u, ACCOUNT, KEY_ID, activity_id, body, &id, &err);
    if (rc != 0)
        fprintf(stderr, "enqueue: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_true(id > 0);
    free(u);
    return id;
}

static int64_t count_rows(struct t *t, int state)
{
    int64_t n = -1;
    assert_int_equal(lv_store_ap_delivery_count(t->store, state, &n, NULL), 0);
    return n;
}

/* The row of id (the caller releases it). */
static void get_row(struct t *t, int64_t id, struct lv_ap_delivery_rec *out)
{
    struct lv_ap_delivery_rec *rows;
    size_t n;
    bool found = false;
    assert_int_equal(lv_store_ap_delivery_list(t->store, 0, 0, 0, &rows, &n, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        if (rows[i].id == id && !found) {
            *out = rows[i];
            found = true;
        } else {
            lv_ap_delivery_rec_release(&rows[i]);
        }
    }
    free(rows);
    assert_true(found);
}

static struct lv_ap_deliver_stats stats(struct t *t)
{
    struct lv_ap_deliver_stats s;
    lv_ap_deliver_stats(t->d, &s);
    return s;
}

/* ---- tests ---- */

/* A delivered POST: signed so that a peer verifies it, with the exact body,
 * a matching Digest, the right headers; the row is deleted. */
static void test_delivered_signed(void **state)
{
    struct t *t = *state;
    static const char body1[] = "{\"id\":\"https://gw.example/a/1\",\"type\":\"Create\","
                                "\"content\":\"h\xc3\xa9llo \\\"world\\\"\"}";
    static const char body2[] = "{\"id\":\"https://gw.example/a/2\",\"type\":\"Like\"}";
    start_queue(t, NULL);
    enqueue(t, 0, "/inbox/alice", "https://gw.example/a/1", body1);
    enqueue(t, 1, "/inbox/bob?x=1&y=%C3%A9", "https://gw.example/a/2", body2);
    RUN_UNTIL(t, t->done == 2, 10000);
    assert_int_equal(t->done_ok, 2);
    assert_int_equal(t->last_status, 202);
    assert_int_equal(t->ngot, 2);
    for (size_t i = 0; i < 2; i++) {
        struct got *g = &t->got[i];
        const char *want = g->peer == 0 ? body1 : body2;
        char host[64];
        snprintf(host, sizeof(host), "127.0.0.1:%u", t->peers[g->peer].port);
        assert_int_equal(g->sig_rc, 0);
        assert_string_equal(g->key_id, KEY_ID);
        assert_int_equal(g->body_len, strlen(want));
        assert_memory_equal(g->body, want, g->body_len);
        char *digest = lv_httpsig_digest(want, strlen(want));
        assert_string_equal(g->digest, digest);
        assert_true(!strncmp(g->digest, "SHA-256=", 8));
        free(digest);
        assert_string_equal(g->host, host);
        assert_string_equal(g->content_type, "application/activity+json");
        assert_string_equal(g->accept, "application/activity+json");
        assert_non_null(strstr(g->signature, "algorithm=\"rsa-sha256\""));
        assert_non_null(strstr(g->signature, "headers=\"(request-target) host date digest\""));
        int64_t date;
        assert_int_equal(lv_httpsig_parse_date(g->date, strlen(g->date), &date), 0);
        assert_true(date >= g->when - 5 && date <= g->when);
        /* The signed target is the path and query as sent. */
        char *line = lv_xasprintf("(request-target): post %s\nhost: %s\n", g->target, host);
        assert_true(!strncmp(g->base, line, strlen(line)));
        free(line);
        assert_string_equal(g->target, g->peer == 0 ? "/inbox/alice" : "/inbox/bob?x=1&y=%C3%A9");
    }
    assert_int_equal(count_rows(t, 0), 0);
    struct lv_ap_deliver_stats s = stats(t);
    assert_int_equal(s.delivered, 2);
    assert_int_equal(s.failed_attempts, 0);
    assert_int_equal(s.in_flight, 0);
    assert_int_equal(s.signing, 0);
    /* One key_fn call for the account; again after forget_key. */
    assert_int_equal(t->key_calls, 1);
    lv_ap_deliver_forget_key(t->d, ACCOUNT);
    enqueue(t, 2, "/inbox/carol", "https://gw.example/a/3", body2);
    RUN_UNTIL(t, t->done == 3, 10000);
    assert_int_equal(t->got[2].sig_rc, 0);
    assert_int_equal(t->key_calls, 2);
}

/* Bad inbox URLs are refused at enqueue, nothing is stored. */
static void test_enqueue_refused(void **state)
{
    struct t *t = *state;
    static const char *const bad[] = {"ftp://h.example/inbox", "not a url", "http://",
                                      "https://h.example/in box"};
    struct lv_error err;
    start_queue(t, NULL);
    for (size_t i = 0; i < LV_ARRAY_LEN(bad); i++)
        assert_int_equal(
            lv_ap_deliver_enqueue(t->d, bad[i], ACCOUNT, KEY_ID, "a", "{}", NULL, &err),
            LV_ERR_INVAL);
    assert_int_equal(count_rows(t, 0), 0);
}

/* 500, then 202 after the backoff: the attempt is counted, the retry does
 * not come before next_attempt. */
static void test_retry_then_delivered(void **state)
{
    struct t *t = *state;
    const struct lv_ap_deliver_config cfg = {.backoff_initial_s = 1, .backoff_max_s = 1};
    t->script[0] = 500;
    t->nscript = 1;
    start_queue(t, &cfg);
    int64_t id = enqueue(t, 0, "/inbox/alice", "https://gw.example/a/1", "{}");
    RUN_UNTIL(t, t->done == 1, 10000);
    assert_int_equal(t->last_status, 500);
    assert_int_equal(t->last_err, LV_ERR_AGAIN);
    struct lv_ap_delivery_rec r;
    get_row(t, id, &r);
    assert_int_equal(r.state, LV_AP_DELIVERY_PENDING);
    assert_int_equal(r.attempts, 1);
    assert_non_null(r.last_error);
    assert_true(!strncmp(r.last_error, "HTTP 500 Internal Server Error", 30));
    assert_true(r.next_attempt >= t->got[0].when + 1);
    int64_t next = r.next_attempt;
    lv_ap_delivery_rec_release(&r);
    RUN_UNTIL(t, t->done == 2, 10000);
    assert_int_equal(t->last_status, 202);
    assert_int_equal(t->ngot, 2);
    assert_true(t->got[1].when >= next);
    assert_int_equal(t->got[1].sig_rc, 0);
    assert_int_equal(count_rows(t, 0), 0);
    struct lv_ap_deliver_stats s = stats(t);
    assert_int_equal(s.delivered, 1);
    assert_int_equal(s.failed_attempts, 1);
    assert_int_equal(s.given_up, 0);
}

/* Which statuses give up at once, and what last_error says. */
static void test_status_outcomes(void **state)
{
    struct t *t = *state;
    static const struct {
        unsigned status;
        int state;
        const char *error; /* exact, or NULL: only the "HTTP <status>" prefix */
    } cases[] = {
        {410, LV_AP_DELIVERY_FAILED, "HTTP 410 Gone: account deleted"},
        {400, LV_AP_DELIVERY_FAILED, NULL},
        {403, LV_AP_DELIVERY_FAILED, "HTTP 403 Forbidden: no"},
        {404, LV_AP_DELIVERY_FAILED, NULL},
        {422, LV_AP_DELIVERY_FAILED, "HTTP 422 Unprocessable Content: Validation failed"},
        {401, LV_AP_DELIVERY_PENDING, "HTTP 401 Unauthorized: no"},
        {408, LV_AP_DELIVERY_PENDING, NULL},
        {429, LV_AP_DELIVERY_PENDING, "HTTP 429 Too Many Requests: no"},
        {500, LV_AP_DELIVERY_PENDING, NULL},
        {503, LV_AP_DELIVERY_PENDING, NULL},
        {302, LV_AP_DELIVERY_PENDING, NULL}, /* not followed: the signature names the target */
    };
    int64_t ids[LV_ARRAY_LEN(cases)];
    start_queue(t, NULL); /* backoff 60 s: nothing is retried during the test */
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        char path[32], aid[32];
        snprintf(path, sizeof(path), "/status/%u", cases[i].status);
        snprintf(aid, sizeof(aid), "https://gw.example/s/%u", cases[i].status);
        ids[i] = enqueue(t, (int)(i % NPEERS), path, aid, "{}");
    }
    RUN_UNTIL(t, t->done == LV_ARRAY_LEN(cases), 10000);
    RUN_FOR(t, 200);
    assert_int_equal(t->ngot, LV_ARRAY_LEN(cases)); /* no second attempt */
    unsigned failed = 0;
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        struct lv_ap_delivery_rec r;
        char prefix[16];
        get_row(t, ids[i], &r);
        snprintf(prefix, sizeof(prefix), "HTTP %u ", cases[i].status);
        assert_int_equal(r.state, cases[i].state);
        assert_int_equal(r.attempts, 1);
        assert_non_null(r.last_error);
        assert_true(!strncmp(r.last_error, prefix, strlen(prefix)));
        if (cases[i].error)
            assert_string_equal(r.last_error, cases[i].error);
        if (cases[i].status == 400) /* the peer's 1000 bytes cut to 200 */
            assert_int_equal(strlen(r.last_error), strlen("HTTP 400 Bad Request: ") + 200);
        failed += cases[i].state == LV_AP_DELIVERY_FAILED;
        lv_ap_delivery_rec_release(&r);
    }
    struct lv_ap_deliver_stats s = stats(t);
    assert_int_equal(s.given_up, failed);
    assert_int_equal(s.failed_attempts, LV_ARRAY_LEN(cases));
    assert_int_equal(s.delivered, 0);
    assert_int_equal(count_rows(t, LV_AP_DELIVERY_FAILED), failed);
}

/* A port where nothing listens: LV_ERR_IO, retried. */
static void test_refused_retried(void **state)
{
    struct t *t = *state;
    const struct lv_ap_deliver_config cfg = {.backoff_initial_s = 1, .backoff_max_s = 1};
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd); /* never listened: connecting is refused */
    char *u = lv_xasprintf("http://127.0.0.1:%u/inbox", ntohs(sa.sin_port));
    int64_t id;
    start_queue(t, &cfg);
    assert_int_equal(lv_ap_deliver_enqueue(t->d, u, ACCOUNT, KEY_ID, "a", "{}", &id, NULL), 0);
    free(u);
    RUN_UNTIL(t, t->done == 2, 10000);
    assert_int_equal(t->done_err, 2);
    assert_int_equal(t->last_status, 0);
    assert_int_equal(t->last_err, LV_ERR_IO);
    struct lv_ap_delivery_rec r;
    get_row(t, id, &r);
    assert_int_equal(r.state, LV_AP_DELIVERY_PENDING);
    assert_true(r.attempts >= 2);
    assert_non_null(r.last_error);
    assert_true(strlen(r.last_error) > 0);
    lv_ap_delivery_rec_release(&r);
    assert_int_equal(stats(t).given_up, 0);
}

/* Older than give_up_after_s: given up. A row left from long ago goes after
 * one failure; a new one is retried until its deadline. */
static void test_give_up(void **state)
{
    struct t *t = *state;
    const struct lv_ap_deliver_config cfg = {
        .backoff_initial_s = 1, .backoff_max_s = 1, .give_up_after_s = 2};
    int64_t old_id, new_id;
    char *u = url(t, 0, "/status/503");
    assert_int_equal(lv_store_ap_delivery_add(t->store, u, ACCOUNT, KEY_ID, "old", "{}",
                                              time(NULL) - 3 * 86400, &old_id, NULL),
                     0);
    start_queue(t, &cfg);
    assert_int_equal(lv_ap_deliver_enqueue(t->d, u, ACCOUNT, KEY_ID, "new", "{}", &new_id, NULL),
                     0);
    free(u);
    RUN_UNTIL(t, stats(t).given_up == 2, 10000);
    struct lv_ap_delivery_rec r;
    get_row(t, old_id, &r);
    assert_int_equal(r.state, LV_AP_DELIVERY_FAILED);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.last_error, "HTTP 503 Service Unavailable: no");
    lv_ap_delivery_rec_release(&r);
    get_row(t, new_id, &r);
    assert_int_equal(r.state, LV_AP_DELIVERY_FAILED);
    assert_true(r.attempts >= 2 && r.attempts <= 3);
    assert_true(time(NULL) >= r.created + 2);
    lv_ap_delivery_rec_release(&r);
    assert_int_equal(t->last_status, 503);
    RUN_FOR(t, 300);
    assert_int_equal(t->ngot, stats(t).failed_attempts); /* nothing after giving up */
}

/* Rows already in the store when the queue starts are sent. */
static void test_restart_sends_pending(void **state)
{
    struct t *t = *state;
    for (int i = 0; i < 3; i++) {
        char *u = url(t, i, "/inbox/x");
        char aid[32];
        snprintf(aid, sizeof(aid), "https://gw.example/r/%d", i);
        assert_int_equal(lv_store_ap_delivery_add(t->store, u, ACCOUNT, KEY_ID, aid, "{}",
                                                  time(NULL), NULL, NULL),
                         0);
        free(u);
    }
    start_queue(t, NULL);
    RUN_UNTIL(t, t->done == 3, 10000);
    assert_int_equal(t->done_ok, 3);
    assert_int_equal(count_rows(t, 0), 0);
    for (size_t i = 0; i < t->ngot; i++)
        assert_int_equal(t->got[i].sig_rc, 0);
}

/* max_parallel and per_host_parallel hold, and are reached. */
static void test_parallel_caps(void **state)
{
    struct t *t = *state;
    const struct lv_ap_deliver_config cfg = {.max_parallel = 3, .per_host_parallel = 2};
    static const int hosts[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
    t->hold = true;
    start_queue(t, &cfg);
    for (size_t i = 0; i < LV_ARRAY_LEN(hosts); i++) {
        char aid[32];
        snprintf(aid, sizeof(aid), "https://gw.example/c/%zu", i);
        enqueue(t, hosts[i], "/inbox/x", aid, "{}");
    }
    /* Round after round: wait until every row the queue has started is
     * held at a peer (nothing can move then), check, release. */
    unsigned rounds = 0;
    while (t->done < LV_ARRAY_LEN(hosts)) {
        RUN_UNTIL(
            t, t->done == LV_ARRAY_LEN(hosts) || (t->nheld > 0 && t->nheld == stats(t).in_flight),
            10000);
        if (t->nheld == 0)
            break;
        assert_true(t->nheld <= 3);
        if (rounds++ == 0) {
            /* First pick: two rows for host 0 (its cap), one for host 1. */
            assert_int_equal(t->nheld, 3);
            assert_int_equal(t->peers[0].cur, 2);
            assert_int_equal(t->peers[1].cur, 1);
            RUN_FOR(t, 200);
            assert_int_equal(t->nheld, 3); /* nothing more was sent meanwhile */
        }
        release_held(t);
    }
    assert_int_equal(t->done_ok, LV_ARRAY_LEN(hosts));
    assert_int_equal(t->max, 3);
    for (int i = 0; i < NPEERS; i++)
        assert_true(t->peers[i].max <= 2);
    assert_int_equal(t->peers[0].max, 2);
    assert_true(t->max_in_flight <= 3);
    assert_int_equal(count_rows(t, 0), 0);
}

/* A burst: 100 deliveries to 10 inboxes on 3 hosts, one key_fn call. */
static void test_hundred(void **state)
{
    struct t *t = *state;
    start_queue(t, NULL);
    for (int i = 0; i < 100; i++) {
        char path[32], aid[48], body[96];
        snprintf(path, sizeof(path), "/inbox/u%d", i % 10);
        snprintf(aid, sizeof(aid), "https://gw.example/h/%d", i);
        snprintf(body, sizeof(body), "{\"id\":\"%s\",\"type\":\"Create\"}", aid);
        enqueue(t, i % NPEERS, path, aid, body);
    }
    RUN_UNTIL(t, t->done == 100, 60000);
    assert_int_equal(t->done_ok, 100);
    assert_int_equal(t->ngot, 100);
    bool seen[100] = {false};
    for (size_t i = 0; i < t->ngot; i++) {
        int n = -1;
        assert_int_equal(t->got[i].sig_rc, 0);
        assert_int_equal(sscanf(t->got[i].body, "{\"id\":\"https://gw.example/h/%d\"", &n), 1);
        assert_true(n >= 0 && n < 100 && !seen[n]);
        seen[n] = true;
    }
    assert_int_equal(t->key_calls, 1);
    assert_int_equal(count_rows(t, 0), 0);
    assert_true(t->max_in_flight <= 16);
    assert_int_equal(stats(t).delivered, 100);
}

/* free() with requests in flight: rows stay PENDING with no attempt
 * counted, nothing is reported; a new queue on the store sends them. */
static void test_free_in_flight(void **state)
{
    struct t *t = *state;
    t->hold = true;
    start_queue(t, NULL);
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        char aid[32];
        snprintf(aid, sizeof(aid), "https://gw.example/f/%d", i);
        ids[i] = enqueue(t, 0, "/inbox/x", aid, "{}");
    }
    RUN_UNTIL(t, t->nheld == 3, 10000);
    lv_ap_deliver_free(t->d);
    t->d = NULL;
    RUN_FOR(t, 100);
    assert_int_equal(t->done, 0);
    for (int i = 0; i < 3; i++) {
        struct lv_ap_delivery_rec r;
        get_row(t, ids[i], &r);
        assert_int_equal(r.state, LV_AP_DELIVERY_PENDING);
        assert_int_equal(r.attempts, 0);
        assert_null(r.last_error);
        lv_ap_delivery_rec_release(&r);
    }
    t->hold = false;
    release_held(t);
    start_queue(t, NULL);
    RUN_UNTIL(t, t->done == 3, 10000);
    assert_int_equal(t->done_ok, 3);
    assert_int_equal(count_rows(t, 0), 0);
}

static void block_work(uv_work_t *w)
{
    struct t *t = w->data;
    uv_sem_wait(&t->block);
}

static void block_done(uv_work_t *w, int status)
{
    struct t *t = w->data;
    (void)status;
    t->blockers_done++;
}

/* free() while rows are signing: with `blockers` of the pool's threads
 * busy, the signing jobs wait in the pool's queue (all 4 busy: cancelled)
 * or some run (3 busy: finished and dropped). Either way the rows stay
 * PENDING with no attempt counted, and nothing is sent. */
static void free_while_signing(struct t *t, unsigned blockers)
{
    static uv_work_t works[POOL_SIZE]; /* outlive a failed test until teardown */
    for (unsigned i = 0; i < blockers; i++) {
        works[i].data = t;
        assert_int_equal(uv_queue_work(&t->loop, &works[i], block_work, block_done), 0);
        t->blockers++;
    }
    start_queue(t, NULL);
    int64_t id1 = enqueue(t, 0, "/inbox/x", "https://gw.example/s/1", "{}");
    int64_t id2 = enqueue(t, 1, "/inbox/x", "https://gw.example/s/2", "{}");
    RUN_UNTIL(t, stats(t).in_flight == 2, 10000);
    if (blockers == POOL_SIZE)
        assert_int_equal(stats(t).signing, 2);
    lv_ap_deliver_free(t->d);
    t->d = NULL;
    for (unsigned i = 0; i < blockers; i++)
        uv_sem_post(&t->block);
    RUN_UNTIL(t, t->blockers_done == blockers, 10000);
    RUN_FOR(t, 200);
    assert_int_equal(t->done, 0);
    if (blockers == POOL_SIZE)
        assert_int_equal(t->ngot, 0);
    int64_t ids[] = {id1, id2};
    for (int i = 0; i < 2; i++) {
        struct lv_ap_delivery_rec r;
        get_row(t, ids[i], &r);
        assert_int_equal(r.state, LV_AP_DELIVERY_PENDING);
        assert_int_equal(r.attempts, 0);
        lv_ap_delivery_rec_release(&r);
    }
}

static void test_free_while_signing_queued(void **state)
{
    free_while_signing(*state, POOL_SIZE);
}

static void test_free_while_signing_running(void **state)
{
    free_while_signing(*state, POOL_SIZE - 1);
}

/* key_fn fails: an attempt with its error, retried; retry_all makes it due
 * at once. */
static void test_key_failure_retry_all(void **state)
{
    struct t *t = *state;
    struct lv_error err;
    t->key_fail = true;
    start_queue(t, NULL); /* backoff 60 s */
    int64_t id = enqueue(t, 0, "/inbox/x", "https://gw.example/k/1", "{}");
    RUN_UNTIL(t, t->done == 1, 10000);
    assert_int_equal(t->last_status, 0);
    assert_int_equal(t->last_err, LV_ERR_NOT_FOUND);
    struct lv_ap_delivery_rec r;
    get_row(t, id, &r);
    assert_int_equal(r.state, LV_AP_DELIVERY_PENDING);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.last_error, "no key for " ACCOUNT);
    assert_true(r.next_attempt >= time(NULL) + 50);
    lv_ap_delivery_rec_release(&r);
    RUN_FOR(t, 200);
    assert_int_equal(t->done, 1);
    t->key_fail = false;
    assert_int_equal(lv_ap_deliver_retry_all(t->d, &err), 0);
    RUN_UNTIL(t, t->done == 2, 10000);
    assert_int_equal(t->done_ok, 1);
    assert_int_equal(t->ngot, 1);
    assert_int_equal(t->got[0].sig_rc, 0);
    assert_int_equal(t->key_calls, 2);
    assert_int_equal(count_rows(t, 0), 0);
}

/* One activity for several inboxes in one call: the bad and NULL ones are
 * skipped (id 0), the others stored at once, then delivered, each signed
 * for its own target with the same body. */
static void test_enqueue_many(void **state)
{
    struct t *t = *state;
    static const char body[] = "{\"id\":\"https://gw.example/m/1\",\"type\":\"Create\"}";
    char *u0 = url(t, 0, "/inbox/alice"), *u1 = url(t, 1, "/inbox/bob"),
         *u2 = url(t, 2, "/inbox/carol?x=1");
    const char *inboxes[] = {u0, "ftp://h.example/inbox", u1, NULL, u2, u0};
    int64_t ids[LV_ARRAY_LEN(inboxes)];
    struct lv_error err;
    start_queue(t, NULL);
    assert_int_equal(lv_ap_deliver_enqueue_many(t->d, inboxes, LV_ARRAY_LEN(inboxes), ACCOUNT,
                                                KEY_ID, "https://gw.example/m/1", body, ids, &err),
                     0);
    assert_int_equal(ids[1], 0);
    assert_int_equal(ids[3], 0);
    int64_t queued[] = {ids[0], ids[2], ids[4], ids[5]};
    for (size_t i = 0; i < LV_ARRAY_LEN(queued); i++) {
        assert_true(queued[i] > 0);
        for (size_t k = 0; k < i; k++)
            assert_true(queued[k] != queued[i]);
    }
    assert_int_equal(count_rows(t, LV_AP_DELIVERY_PENDING), 4); /* stored before any send */
    struct lv_ap_delivery_rec r;
    get_row(t, ids[2], &r);
    assert_string_equal(r.inbox, u1);
    assert_string_equal(r.account, ACCOUNT);
    assert_string_equal(r.key_id, KEY_ID);
    assert_string_equal(r.activity_id, "https://gw.example/m/1");
    assert_string_equal(r.body, body);
    lv_ap_delivery_rec_release(&r);

    RUN_UNTIL(t, t->done == 4, 10000);
    assert_int_equal(t->done_ok, 4);
    assert_int_equal(t->ngot, 4);
    unsigned per_peer[NPEERS] = {0};
    for (size_t i = 0; i < t->ngot; i++) {
        struct got *g = &t->got[i];
        assert_int_equal(g->sig_rc, 0);
        assert_int_equal(g->body_len, strlen(body));
        assert_memory_equal(g->body, body, g->body_len);
        assert_string_equal(g->target, g->peer == 0   ? "/inbox/alice"
                                       : g->peer == 1 ? "/inbox/bob"
                                                      : "/inbox/carol?x=1");
        per_peer[g->peer]++;
    }
    assert_int_equal(per_peer[0], 2); /* a repeated inbox is queued twice */
    assert_int_equal(per_peer[1], 1);
    assert_int_equal(per_peer[2], 1);
    RUN_UNTIL(t, count_rows(t, 0) == 0, 10000);
    assert_int_equal(stats(t).delivered, 4);
    assert_int_equal(t->key_calls, 1);

    /* Nothing to queue: no inbox at all is fine, only bad ones are not. */
    assert_int_equal(
        lv_ap_deliver_enqueue_many(t->d, NULL, 0, ACCOUNT, KEY_ID, "a", body, NULL, &err), 0);
    const char *bad[] = {"not a url", NULL};
    ids[0] = ids[1] = -1;
    assert_int_equal(
        lv_ap_deliver_enqueue_many(t->d, bad, 2, ACCOUNT, KEY_ID, "a", body, ids, &err),
        LV_ERR_INVAL);
    assert_true(ids[0] == 0 && ids[1] == 0);
    /* A missing account refuses every row, good inboxes included. */
    ids[0] = ids[1] = -1;
    const char *good[] = {u0, u1};
    assert_int_equal(lv_ap_deliver_enqueue_many(t->d, good, 2, "", KEY_ID, "a", body, ids, &err),
                     LV_ERR_INVAL);
    assert_true(ids[0] == 0 && ids[1] == 0);
    assert_int_equal(count_rows(t, 0), 0);
    RUN_FOR(t, 100);
    assert_int_equal(t->ngot, 4);
    free(u0);
    free(u1);
    free(u2);
}

/* Replaces the in-memory store by a SQLite file, which another connection
 * can reach; returns its path. */
static const char *file_store(struct t *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof(t->dir), "%s/lv_ap_deliver_XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/queue.db", t->dir);
    lv_store_close(t->store);
    assert_int_equal(lv_store_open(t->path, &t->store, NULL), 0);
    return t->path;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* Delivered rows are deleted in batches, later than their delivery: while
 * the store refuses to delete them (a trigger; the queue logs an error),
 * they stay PENDING and due, and yet neither kicks nor retry_all send them
 * again. Once the store takes deletes again, the next kick removes them. */
static void test_delivered_not_resent(void **state)
{
    struct t *t = *state;
    const char *path = file_store(t);
    raw_exec(path, "CREATE TRIGGER refuse_del BEFORE DELETE ON ap_deliveries "
                   "BEGIN SELECT RAISE(ABORT, 'refused'); END");
    start_queue(t, NULL);
    enqueue(t, 0, "/inbox/a", "https://gw.example/d/1", "{}");
    enqueue(t, 1, "/inbox/b", "https://gw.example/d/2", "{}");
    RUN_UNTIL(t, t->done == 2, 10000);
    assert_int_equal(t->done_ok, 2);
    for (int i = 0; i < 4; i++) {
        lv_ap_deliver_kick(t->d);
        RUN_FOR(t, 50);
    }
    assert_int_equal(lv_ap_deliver_retry_all(t->d, NULL), 0);
    RUN_FOR(t, 200);
    assert_int_equal(t->ngot, 2);
    assert_int_equal(t->done, 2);
    assert_int_equal(count_rows(t, LV_AP_DELIVERY_PENDING), 2);
    assert_int_equal(stats(t).in_flight, 0);

    raw_exec(path, "DROP TRIGGER refuse_del");
    lv_ap_deliver_kick(t->d);
    RUN_UNTIL(t, count_rows(t, 0) == 0, 10000);
    RUN_FOR(t, 100);
    assert_int_equal(t->ngot, 2);
    assert_int_equal(stats(t).delivered, 2);
}

/* A queue freed right after a delivery (here from done_fn, before any
 * batch could run) deletes the row it delivered: nothing is sent again by
 * the next queue on the store. */
static void test_free_deletes_delivered(void **state)
{
    struct t *t = *state;
    t->free_in_done = true;
    start_queue(t, NULL);
    enqueue(t, 0, "/inbox/x", "https://gw.example/f/1", "{}");
    RUN_UNTIL(t, t->done == 1, 10000);
    assert_null(t->d);
    assert_int_equal(t->done_ok, 1);
    assert_int_equal(count_rows(t, 0), 0);
    t->free_in_done = false;
    start_queue(t, NULL);
    RUN_FOR(t, 200);
    assert_int_equal(t->ngot, 1);
    assert_int_equal(t->done, 1);
}

int main(void)
{
    char *priv_pem, *pub_pem;
    /* The blocker tests count on this size; set before the pool starts. */
    setenv("UV_THREADPOOL_SIZE", "4", 1);
    lv_log_set_level(getenv("LV_TEST_LOG") ? lv_log_level_parse(getenv("LV_TEST_LOG"))
                                           : LV_LOG_ERROR);
    if (lv_httpsig_keygen(2048, &priv_pem, &pub_pem, NULL) != 0 ||
        lv_httpsig_load_private(priv_pem, strlen(priv_pem), &g_priv, NULL) != 0 ||
        lv_httpsig_load_public(pub_pem, strlen(pub_pem), &g_pub, NULL) != 0) {
        fprintf(stderr, "cannot make the test key\n");
        return 1;
    }
    free(priv_pem);
    free(pub_pem);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delivered_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_then_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_give_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_sends_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parallel_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hundred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_while_signing_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_while_signing_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_failure_retry_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivered_not_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_deletes_delivered, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    EVP_PKEY_free(g_priv);
    EVP_PKEY_free(g_pub);
    return rc;
}
