/* Unit tests for lv_ap_actors: fetching, validating and caching remote
 * actors, key lookups, WebFinger, and the verification of signed requests.
 *
 * Everything runs in-process on one libuv loop: an lv_http server on
 * 127.0.0.1 (ephemeral port) plays the remote peers (actor documents, key
 * documents, WebFinger; a GET route counts its hits per path) and has an
 * "inbox" POST route whose handler calls lv_ap_actors_verify_request() on
 * the real request and answers with the resulting status. lv_http_client
 * (allow_private_networks) does the fetching, over an in-memory SQLite
 * store. WebFinger runs over http thanks to the webfinger_scheme test
 * override. The tests wait on the loop for their callbacks (a guard timer
 * only turns a hang into a failure), so they do not depend on timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <uv.h>

#include "ap/lv_ap_actors.h"
#include "ap/lv_http.h"
#include "ap/lv_http_client.h"
#include "ap/lv_httpsig.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/lv_store.h"
#include "store/lv_store_ap.h"

#define GUARD_MS 8000

/* ---- fixture: loop, server, client, keys ---- */

struct key {
    EVP_PKEY *priv;
    char *pub_pem;
};

static uv_loop_t loop;
static struct lv_http *server;
static struct lv_http_client *client;
static char base[64];      /* "http://127.0.0.1:PORT" */
static char authority[32]; /* "127.0.0.1:PORT" */
static struct key k1, k2, kg;

/* per test */
static struct lv_store *store;
static struct lv_ap_actors *A;              /* under test */
static struct lv_ap_actors *signed_checker; /* verifies signed GETs in the server */
static int in_call;                         /* > 0 while a public function of lv_ap_actors runs */
static int sync_calls;                      /* callbacks made before their starting call returned */

/* ---- the fake peers: documents served by path ---- */

struct doc {
    char *key; /* path, or "wf:<resource>" for WebFinger */
    unsigned status;
    char *ctype;
    char *body;
    unsigned hits;
    bool check_sig; /* verify the GET's signature before answering */
};

static struct doc docs[64];
static size_t ndocs;
static unsigned total_hits;

struct sigcheck {
    bool done;
    unsigned status;
    char *signer;
};
static struct sigcheck get_check;

static struct doc *doc_find(const char *key)
{
    for (size_t i = 0; i < ndocs; i++)
        if (strcmp(docs[i].key, key) == 0)
            return &docs[i];
    return NULL;
}

static struct doc *serve_raw(const char *key, unsigned status, const char *ctype, const char *body)
{
    struct doc *d = doc_find(key);
    if (!d) {
        assert_true(ndocs < LV_ARRAY_LEN(docs));
        d = &docs[ndocs++];
        d->key = lv_xstrdup(key);
    }
    free(d->ctype);
    free(d->body);
    d->status = status;
    d->ctype = lv_xstrdup(ctype);
    d->body = lv_xstrdup(body);
    return d;
}

/* Serves j (stolen) at path as an ActivityPub document. */
static struct doc *serve_json(const char *path, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct doc *d = serve_raw(path, 200, LV_HTTP_CT_ACTIVITY, s);
    free(s);
    return d;
}

static unsigned hits(const char *key)
{
    struct doc *d = doc_find(key);
    return d ? d->hits : 0;
}

static void docs_reset(void)
{
    for (size_t i = 0; i < ndocs; i++) {
        free(docs[i].key);
        free(docs[i].ctype);
        free(docs[i].body);
    }
    memset(docs, 0, sizeof(docs));
    ndocs = 0;
    total_hits = 0;
}

static char *url(const char *path)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "%s%s", base, path);
    return buf[i];
}

/* An actor at /actor/<name> with key (id "<actor>#main-key"). */
static json_t *actor_json(const char *name, const struct key *key)
{
    char path[128];
    snprintf(path, sizeof(path), "/actor/%s", name);
    char *id = lv_xstrdup(url(path));
    char *kid = lv_xasprintf("%s#main-key", id);
    char *inbox = lv_xasprintf("%s/inbox/%s", base, name);
    char *outbox = lv_xasprintf("%s/outbox/%s", base, name);
    char *followers = lv_xasprintf("%s/followers/%s", base, name);
    char *display = lv_xasprintf("The %s", name);
    json_t *j = json_pack("{s:[s,s], s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}, "
                          "s:{s:s, s:s, s:s}}",
                          "@context", "https://www.w3.org/ns/activitystreams",
                          "https://w3id.org/security/v1", "id", id, "type", "Person",
                          "preferredUsername", name, "name", display, "inbox", inbox, "outbox",
                          outbox, "followers", followers, "endpoints", "sharedInbox", url("/inbox"),
                          "publicKey", "id", kid, "owner", id, "publicKeyPem", key->pub_pem);
    assert_non_null(j);
    free(id);
    free(kid);
    free(inbox);
    free(outbox);
    free(followers);
    free(display);
    return j;
}

static void serve_actor(const char *name, const struct key *key)
{
    char path[128];
    snprintf(path, sizeof(path), "/actor/%s", name);
    serve_json(path, actor_json(name, key));
}

/* WebFinger for user@<authority> pointing to href (self link of type). */
static void serve_webfinger(const char *user, const char *subject, const char *type,
                            const char *href)
{
    char key[256];
    snprintf(key, sizeof(key), "wf:acct:%s@%s", user, authority);
    json_t *j =
        json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}", "subject", subject, "links", "rel",
                  "http://webfinger.net/rel/profile-page", "type", "text/html", "href",
                  url("/@profile"), "rel", "self", "type", type, "href", href);
    char *s = json_dumps(j, JSON_COMPACT);
    serve_raw(key, 200, LV_HTTP_CT_JRD, s);
    free(s);
    json_decref(j);
}

static void on_get_checked(const struct lv_ap_actor *signer, unsigned status, const char *reason,
                           void *ud)
{
    struct lv_http_req *req = ud;
    struct doc *d = doc_find(lv_http_req_path(req));
    (void)reason;
    uv_stop(&loop);
    get_check.done = true;
    get_check.status = status;
    free(get_check.signer);
    get_check.signer = signer ? lv_xstrdup(signer->rec.id) : NULL;
    lv_http_reply_bytes(req, d->status, d->ctype, d->body, strlen(d->body));
}

static void on_get(struct lv_http_req *req, void *ud)
{
    const char *path = lv_http_req_path(req);
    char *key = NULL;
    (void)ud;
    total_hits++;
    if (strcmp(path, "/.well-known/webfinger") == 0) {
        const char *res = lv_http_req_query(req, "resource");
        key = lv_xasprintf("wf:%s", res ? res : "");
    }
    struct doc *d = doc_find(key ? key : path);
    free(key);
    if (!d) {
        lv_http_reply_error(req, 404, "no such document");
        return;
    }
    d->hits++;
    if (d->check_sig) {
        lv_ap_actors_verify_request(signed_checker, req, on_get_checked, req);
        return;
    }
    lv_http_reply_bytes(req, d->status, d->ctype, d->body, strlen(d->body));
}

/* ---- the inbox: verification of the real request ---- */

struct verdict {
    bool done;
    unsigned status;
    char *reason;
    char *signer;
};
static struct verdict verdict;

static void verdict_reset(void)
{
    free(verdict.reason);
    free(verdict.signer);
    memset(&verdict, 0, sizeof(verdict));
}

static void on_verified(const struct lv_ap_actor *signer, unsigned status, const char *reason,
                        void *ud)
{
    struct lv_http_req *req = ud;
    uv_stop(&loop);
    if (in_call)
        sync_calls++;
    verdict.done = true;
    verdict.status = status;
    verdict.reason = reason ? lv_xstrdup(reason) : NULL;
    verdict.signer = signer ? lv_xstrdup(signer->rec.id) : NULL;
    lv_http_reply_error(req, status ? status : 202, reason);
}

static void on_inbox(struct lv_http_req *req, void *ud)
{
    (void)ud;
    in_call++;
    lv_ap_actors_verify_request(A, req, on_verified, req);
    in_call--;
}

/* ---- running the loop ---- */

static bool guard_fired;

static void on_guard(uv_timer_t *t)
{
    (void)t;
    guard_fired = true;
}

/* Runs the loop until *flag is set (fails after GUARD_MS). Every callback
 * that sets a flag calls uv_stop(): one may run in the timer phase of
 * uv_run(UV_RUN_ONCE), which would then go on to block in poll until the
 * next event. */
static void wait_for(const bool *flag)
{
    uv_timer_t guard;
    guard_fired = false;
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, on_guard, GUARD_MS, 0);
    while (!*flag && !guard_fired)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_true(*flag);
}

/* ---- lookups ---- */

struct got {
    bool done;
    int calls;
    int rc;
    char msg[LV_ERROR_MSG_MAX];
    char *id, *account, *name, *pu, *key_id, *inbox, *shared, *followers, *outbox;
    bool has_key, has_doc, has_pem;
};

static void got_release(struct got *g)
{
    free(g->id);
    free(g->account);
    free(g->name);
    free(g->pu);
    free(g->key_id);
    free(g->inbox);
    free(g->shared);
    free(g->followers);
    free(g->outbox);
    memset(g, 0, sizeof(*g));
}

static char *dup_or_null(const char *s)
{
    return s ? lv_xstrdup(s) : NULL;
}

static void on_actor(const struct lv_ap_actor *ac, const struct lv_error *err, void *ud)
{
    struct got *g = ud;
    uv_stop(&loop); /* see wait_for() */
    if (in_call)
        sync_calls++;
    g->calls++;
    g->done = true;
    g->rc = err ? err->code : 0;
    if (err) {
        snprintf(g->msg, sizeof(g->msg), "%s", err->msg);
        assert_null(ac);
        return;
    }
    assert_non_null(ac);
    g->id = dup_or_null(ac->rec.id);
    g->account = dup_or_null(ac->rec.account);
    g->name = dup_or_null(ac->name);
    g->pu = dup_or_null(ac->preferred_username);
    g->key_id = dup_or_null(ac->rec.key_id);
    g->inbox = dup_or_null(ac->rec.inbox);
    g->shared = dup_or_null(ac->rec.shared_inbox);
    g->followers = dup_or_null(ac->followers);
    g->outbox = dup_or_null(ac->outbox);
    g->has_key = ac->key != NULL;
    g->has_doc = ac->rec.doc != NULL;
    g->has_pem = ac->rec.public_key_pem != NULL;
}

static void get_actor(struct lv_ap_actors *a, const char *u, bool refresh, struct got *g)
{
    got_release(g);
    in_call++;
    lv_ap_actors_get(a, u, refresh, on_actor, g);
    in_call--;
    assert_false(g->done); /* never before the call returns */
    wait_for(&g->done);
}

static void by_key(struct lv_ap_actors *a, const char *key_id, struct got *g)
{
    got_release(g);
    in_call++;
    lv_ap_actors_by_key(a, key_id, false, on_actor, g);
    in_call--;
    assert_false(g->done);
    wait_for(&g->done);
}

static void by_account(struct lv_ap_actors *a, const char *account, struct got *g)
{
    got_release(g);
    in_call++;
    lv_ap_actors_by_account(a, account, on_actor, g);
    in_call--;
    assert_false(g->done);
    wait_for(&g->done);
}

static void verify_account(struct lv_ap_actors *a, const char *actor_url, struct got *g)
{
    got_release(g);
    in_call++;
    lv_ap_actors_verify_account(a, actor_url, on_actor, g);
    in_call--;
    assert_false(g->done);
    wait_for(&g->done);
}

static struct lv_ap_actors *new_actors(struct lv_store *st, unsigned cache_size)
{
    struct lv_ap_actors_config cfg = {.cache_size = cache_size, .webfinger_scheme = "http"};
    struct lv_ap_actors *a = NULL;
    struct lv_error err;
    assert_int_equal(lv_ap_actors_new(&loop, st, client, &cfg, &a, &err), 0);
    return a;
}

static void free_actors(struct lv_ap_actors *a)
{
    lv_ap_actors_free(a);
    uv_run(&loop, UV_RUN_NOWAIT); /* closes its timer */
}

static uint64_t in_memory(struct lv_ap_actors *a)
{
    uint64_t n;
    int64_t s;
    lv_ap_actors_counts(a, &n, &s);
    return n;
}

static int64_t stored(void)
{
    uint64_t n;
    int64_t s;
    lv_ap_actors_counts(A, &n, &s);
    return s;
}

/* ---- signed POSTs to the inbox ---- */

struct post {
    const struct key *key; /* NULL: unsigned */
    const char *key_id;
    bool bad_digest;
    long date_offset;
};

struct resp {
    bool done;
    long status;
};

static void on_resp(struct lv_http_response *r, const struct lv_error *err, void *ud)
{
    struct resp *res = ud;
    uv_stop(&loop);
    res->done = true;
    res->status = err ? -1 : r->status;
}

/* POSTs an activity to /inbox as o says; returns the HTTP status. */
static long post_inbox(const struct post *o)
{
    static const char body[] = "{\"type\":\"Create\",\"id\":\"https://x.test/1\"}";
    char date[LV_HTTPSIG_DATE_LEN + 1];
    char *digest =
        lv_httpsig_digest(o->bad_digest ? "tampered" : body, o->bad_digest ? 8 : sizeof(body) - 1);
    char *sig = NULL;
    struct lv_error err;
    lv_httpsig_format_date(time(NULL) + o->date_offset, date);
    struct lv_httpsig_out out = {.method = "POST",
                                 .target = "/inbox",
                                 .host = authority,
                                 .date = date,
                                 .digest = digest,
                                 .content_type = "application/activity+json"};
    if (o->key)
        assert_int_equal(lv_httpsig_sign(&out, o->key_id, o->key->priv, &sig, &err), 0);
    struct lv_http_header h[] = {
        {"Host", authority}, {"Date", date},
        {"Digest", digest},  {"Content-Type", "application/activity+json"},
        {"Signature", sig},
    };
    struct lv_http_request q = {.method = "POST",
                                .url = url("/inbox"),
                                .headers = h,
                                .n_headers = sig ? 5 : 4,
                                .body = body,
                                .body_len = sizeof(body) - 1};
    struct resp res = {0};
    verdict_reset();
    assert_int_equal(lv_http_client_request(client, &q, on_resp, &res, NULL, &err), 0);
    wait_for(&res.done);
    free(digest);
    free(sig);
    assert_true(verdict.done);
    return res.status;
}

/* ---- setup ---- */

static void make_key(struct key *k)
{
    char *priv = NULL;
    struct lv_error err;
    assert_int_equal(lv_httpsig_keygen(0, &priv, &k->pub_pem, &err), 0);
    assert_int_equal(lv_httpsig_load_private(priv, strlen(priv), &k->priv, &err), 0);
    free(priv);
}

static void free_key(struct key *k)
{
    EVP_PKEY_free(k->priv);
    free(k->pub_pem);
}

static int group_setup(void **state)
{
    (void)state;
    struct lv_error err;
    lv_log_set_level(getenv("LV_TEST_DEBUG") ? LV_LOG_TRACE : LV_LOG_ERROR);
    uv_loop_init(&loop);
    struct lv_http_config hc;
    lv_http_config_defaults(&hc);
    if (lv_http_new(&loop, &hc, &server, &err) != 0) {
        fprintf(stderr, "lv_http_new: %s\n", err.msg);
        return -1;
    }
    static const struct lv_http_route routes[] = {
        {"POST", "/inbox", on_inbox, 0},
        {"GET", "/**", on_get, 0},
    };
    if (lv_http_add_routes(server, routes, LV_ARRAY_LEN(routes), NULL, &err) != 0)
        return -1;
    snprintf(authority, sizeof(authority), "127.0.0.1:%u", lv_http_port(server));
    snprintf(base, sizeof(base), "http://%s", authority);
    struct lv_http_client_config cc = {.allow_private_networks = true};
    if (lv_http_client_new(&loop, &cc, &client, &err) != 0)
        return -1;
    make_key(&k1);
    make_key(&k2);
    make_key(&kg);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    lv_http_client_free(client);
    lv_http_free(server);
    while (uv_run(&loop, UV_RUN_DEFAULT))
        ;
    uv_loop_close(&loop);
    free_key(&k1);
    free_key(&k2);
    free_key(&kg);
    docs_reset();
    verdict_reset();
    free(get_check.signer);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    struct lv_error err;
    docs_reset();
    sync_calls = 0;
    if (lv_store_open(":memory:", &store, &err) != 0) {
        fprintf(stderr, "lv_store_open: %s\n", err.msg);
        return -1;
    }
    A = new_actors(store, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free_actors(A);
    A = NULL;
    lv_store_close(store);
    store = NULL;
    assert_int_equal(sync_calls, 0);
    return 0;
}

/* ---- tests: fetching and caching ---- */

static void test_fetch_then_memory(void **state)
{
    (void)state;
    struct got g = {0};
    serve_actor("alice", &k1);
    get_actor(A, url("/actor/alice"), false, &g);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.id, url("/actor/alice"));
    assert_string_equal(g.inbox, url("/inbox/alice"));
    assert_string_equal(g.shared, url("/inbox"));
    assert_string_equal(g.outbox, url("/outbox/alice"));
    assert_string_equal(g.followers, url("/followers/alice"));
    assert_string_equal(g.name, "The alice");
    assert_string_equal(g.pu, "alice");
    assert_string_equal(g.key_id, url("/actor/alice#main-key"));
    assert_null(g.account);
    assert_true(g.has_key);
    assert_false(g.has_doc); /* the document stays in the store */
    assert_false(g.has_pem);
    assert_int_equal(hits("/actor/alice"), 1);

    get_actor(A, url("/actor/alice"), false, &g);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.inbox, url("/inbox/alice"));
    assert_int_equal(hits("/actor/alice"), 1); /* from memory */
    assert_int_equal(in_memory(A), 1);
    assert_int_equal(stored(), 1);

    /* the stored row has the document and the key */
    struct lv_ap_actor_rec rec = {0};
    assert_int_equal(lv_store_ap_actor_get(store, url("/actor/alice"), &rec, NULL), 0);
    assert_non_null(rec.doc);
    assert_non_null(strstr(rec.doc, "\"preferredUsername\""));
    assert_string_equal(rec.public_key_pem, k1.pub_pem);
    assert_string_equal(rec.key_id, url("/actor/alice#main-key"));
    lv_ap_actor_rec_release(&rec);

    /* refresh forces a fetch */
    get_actor(A, url("/actor/alice"), true, &g);
    assert_int_equal(g.rc, 0);
    assert_int_equal(hits("/actor/alice"), 2);
    got_release(&g);
}

static void test_store_after_restart(void **state)
{
    (void)state;
    struct got g = {0};
    serve_actor("alice", &k1);
    get_actor(A, url("/actor/alice"), false, &g);
    assert_int_equal(g.rc, 0);
    free_actors(A);

    A = new_actors(store, 0);
    assert_int_equal(in_memory(A), 0);
    get_actor(A, url("/actor/alice"), false, &g);
    assert_int_equal(g.rc, 0);
    assert_int_equal(hits("/actor/alice"), 1); /* from the store */
    assert_string_equal(g.pu, "alice");
    assert_string_equal(g.name, "The alice");
    assert_string_equal(g.shared, url("/inbox"));
    assert_true(g.has_key);
    assert_int_equal(in_memory(A), 1);

    /* by key id, from the store too */
    free_actors(A);
    A = new_actors(store, 0);
    by_key(A, url("/actor/alice#main-key"), &g);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.id, url("/actor/alice"));
    assert_int_equal(hits("/actor/alice"), 1);
    got_release(&g);
}

enum mutation {
    M_WRONG_ID,
    M_NO_INBOX,
    M_NO_INBOX_NO_KEY,
    M_OWNER,
    M_BAD_PEM,
    M_TYPE,
    M_LONG_URL,
    M_KEY_HOST,
    M_KEY_STRING,
    M_NAME_LONG,
    M_INBOX_NOT_URL,
};

static json_t *mutate(enum mutation m)
{
    json_t *j = actor_json("bad", &k1);
    json_t *pk = json_object_get(j, "publicKey");
    char *long_url;
    switch (m) {
    case M_WRONG_ID:
        json_object_set_new(j, "id", json_string("http://other.test/actor/bad"));
        break;
    case M_NO_INBOX:
        json_object_del(j, "inbox");
        break;
    case M_NO_INBOX_NO_KEY:
        json_object_del(j, "inbox");
        json_object_del(j, "publicKey");
        break;
    case M_OWNER:
        json_object_set_new(pk, "owner", json_string(url("/actor/alice")));
        break;
    case M_BAD_PEM:
        json_object_set_new(pk, "publicKeyPem",
                            json_string("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC "
                                        "KEY-----\n"));
        break;
    case M_TYPE:
        json_object_set_new(j, "type", json_string("Note"));
        break;
    case M_LONG_URL:
        long_url = lv_xmalloc(3001);
        memset(long_url, 'a', 3000);
        long_url[3000] = '\0';
        json_object_set_new(j, "inbox", json_sprintf("%s/%s", base, long_url));
        free(long_url);
        break;
    case M_KEY_HOST:
        json_object_set_new(pk, "id", json_string("http://other.test/key"));
        break;
    case M_KEY_STRING:
        json_object_set_new(j, "publicKey", json_string(url("/actor/bad#main-key")));
        break;
    case M_NAME_LONG: {
        char *n = lv_xmalloc(2001);
        memset(n, 'n', 2000);
        n[2000] = '\0';
        json_object_set_new(j, "name", json_string(n));
        free(n);
        break;
    }
    case M_INBOX_NOT_URL:
        json_object_set_new(j, "inbox", json_string("javascript:alert(1)"));
        break;
    }
    return j;
}

static void test_invalid_documents(void **state)
{
    (void)state;
    static const struct {
        int m; /* enum mutation, or -1: raw body */
        const char *ctype, *body;
        unsigned status;
        int code;
        const char *msg;
    } cases[] = {
        {M_WRONG_ID, NULL, NULL, 200, LV_ERR_PROTO, "does not match the URL"},
        {M_NO_INBOX, NULL, NULL, 200, LV_ERR_PROTO, "not an actor (no \"inbox\")"},
        {M_NO_INBOX_NO_KEY, NULL, NULL, 200, LV_ERR_PROTO, "no \"inbox\""},
        {M_OWNER, NULL, NULL, 200, LV_ERR_PROTO, "is not the actor"},
        {M_BAD_PEM, NULL, NULL, 200, LV_ERR_PROTO, "unusable publicKeyPem"},
        {M_TYPE, NULL, NULL, 200, LV_ERR_PROTO, "type is not"},
        {M_LONG_URL, NULL, NULL, 200, LV_ERR_PROTO, "\"inbox\" is longer than 2048 bytes"},
        {M_KEY_HOST, NULL, NULL, 200, LV_ERR_PROTO, "is on another host"},
        {M_KEY_STRING, NULL, NULL, 200, LV_ERR_PROTO, "neither an object nor an array"},
        {M_NAME_LONG, NULL, NULL, 200, LV_ERR_PROTO, "\"name\" is longer than"},
        {M_INBOX_NOT_URL, NULL, NULL, 200, LV_ERR_PROTO, "not an http(s) URL"},
        {-1, LV_HTTP_CT_ACTIVITY, "{\"id\": not json", 200, LV_ERR_PROTO, ""},
        {-1, LV_HTTP_CT_ACTIVITY, "[1, 2]", 200, LV_ERR_PROTO, ""},
        {-1, "text/html", "<html>Alice</html>", 200, LV_ERR_PROTO,
         "not an ActivityPub document: text/html"},
        {-1, LV_HTTP_CT_TEXT, "gone", 410, LV_ERR_NOT_FOUND, "HTTP 410"},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        struct got g = {0};
        char path[64];
        snprintf(path, sizeof(path), "/actor/bad%zu", i);
        if (cases[i].m >= 0) {
            json_t *j = mutate((enum mutation)cases[i].m);
            if (cases[i].m != M_WRONG_ID)
                json_object_set_new(j, "id", json_string(url(path)));
            json_t *pk = json_object_get(j, "publicKey");
            if (json_is_object(pk) && cases[i].m != M_OWNER) {
                json_object_set_new(pk, "owner", json_string(url(path)));
                if (cases[i].m != M_KEY_HOST)
                    json_object_set_new(pk, "id", json_sprintf("%s#main-key", url(path)));
            }
            serve_json(path, j);
        } else {
            serve_raw(path, cases[i].status, cases[i].ctype, cases[i].body);
        }
        get_actor(A, url(path), false, &g);
        if (g.rc != cases[i].code || !strstr(g.msg, cases[i].msg))
            fail_msg("case %zu: rc %d msg \"%s\"", i, g.rc, g.msg);
        /* nothing kept: the next lookup fetches again */
        get_actor(A, url(path), false, &g);
        assert_int_equal(g.rc, cases[i].code);
        assert_int_equal(hits(path), 2);
        got_release(&g);
    }
    assert_int_equal(in_memory(A), 0);
    assert_int_equal(stored(), 0);

    /* URLs refused before any fetch */
    struct got g = {0};
    unsigned before = total_hits;
    get_actor(A, "ftp://127.0.0.1/actor", false, &g);
    assert_int_equal(g.rc, LV_ERR_INVAL);
    get_actor(A, "http://user@127.0.0.1/actor", false, &g);
    assert_int_equal(g.rc, LV_ERR_INVAL);
    assert_int_equal(total_hits, before);
    got_release(&g);
}

static void test_coalesced(void **state)
{
    (void)state;
    struct got g[4] = {{0}};
    serve_actor("alice", &k1);
    in_call++;
    lv_ap_actors_get(A, url("/actor/alice"), false, on_actor, &g[0]);
    lv_ap_actors_get(A, url("/actor/alice"), false, on_actor, &g[1]);
    lv_ap_actors_by_key(A, url("/actor/alice#main-key"), false, on_actor, &g[2]);
    lv_ap_actors_get(A, url("/actor/alice"), false, on_actor, &g[3]);
    in_call--;
    for (int i = 0; i < 4; i++)
        wait_for(&g[i].done);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(g[i].rc, 0);
        assert_int_equal(g[i].calls, 1);
        assert_string_equal(g[i].id, url("/actor/alice"));
        got_release(&g[i]);
    }
    assert_int_equal(hits("/actor/alice"), 1);
}

static void test_key_document(void **state)
{
    (void)state;
    struct got g = {0};
    /* bob's key lives in its own document */
    json_t *bob = actor_json("bob", &k2);
    json_object_set_new(json_object_get(bob, "publicKey"), "id", json_string(url("/key/bob-key")));
    serve_json("/actor/bob", bob);
    serve_json("/key/bob-key", json_pack("{s:s, s:s, s:s}", "id", url("/key/bob-key"), "owner",
                                         url("/actor/bob"), "publicKeyPem", k2.pub_pem));
    by_key(A, url("/key/bob-key"), &g);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.id, url("/actor/bob"));
    assert_string_equal(g.key_id, url("/key/bob-key"));
    assert_true(g.has_key);
    assert_int_equal(hits("/key/bob-key"), 1);
    assert_int_equal(hits("/actor/bob"), 1);
    by_key(A, url("/key/bob-key"), &g); /* memory */
    assert_int_equal(g.rc, 0);
    assert_int_equal(hits("/key/bob-key"), 1);

    /* a key document whose owner does not list it */
    serve_actor("alice", &k1);
    serve_json("/key/orphan", json_pack("{s:s, s:s, s:s}", "id", url("/key/orphan"), "owner",
                                        url("/actor/alice"), "publicKeyPem", k2.pub_pem));
    by_key(A, url("/key/orphan"), &g);
    assert_int_equal(g.rc, LV_ERR_PROTO);
    assert_non_null(strstr(g.msg, "does not list the key"));

    /* a key document for another key id */
    serve_json("/key/liar", json_pack("{s:s, s:s, s:s}", "id", url("/key/other"), "owner",
                                      url("/actor/bob"), "publicKeyPem", k2.pub_pem));
    by_key(A, url("/key/liar"), &g);
    assert_int_equal(g.rc, LV_ERR_PROTO);
    assert_non_null(strstr(g.msg, "is for"));

    /* an actor document without that key */
    by_key(A, url("/actor/alice#other-key"), &g);
    assert_int_equal(g.rc, LV_ERR_PROTO);
    assert_non_null(strstr(g.msg, "does not list the key"));
    got_release(&g);
}

/* ---- tests: signed requests ---- */

static void test_verify_valid(void **state)
{
    (void)state;
    serve_actor("alice", &k1);
    struct post p = {.key = &k1, .key_id = url("/actor/alice#main-key")};
    assert_int_equal(post_inbox(&p), 202);
    assert_int_equal(verdict.status, 0);
    assert_null(verdict.reason);
    assert_string_equal(verdict.signer, url("/actor/alice"));
    assert_int_equal(hits("/actor/alice"), 1);
    /* the key is cached: no fetch the second time */
    assert_int_equal(post_inbox(&p), 202);
    assert_int_equal(hits("/actor/alice"), 1);
}

static void test_verify_refused_without_fetch(void **state)
{
    (void)state;
    serve_actor("alice", &k1);
    static const struct {
        struct post p;
        const char *reason;
    } cases[] = {
        {{.key = NULL}, "no signature"},
        {{.key = &k1, .bad_digest = true}, "digest does not match the body"},
        {{.key = &k1, .date_offset = -7200}, "date outside the accepted window"},
        {{.key = &k1, .date_offset = 7200}, "date outside the accepted window"},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        struct post p = cases[i].p;
        p.key_id = url("/actor/alice#main-key");
        assert_int_equal(post_inbox(&p), 401);
        assert_int_equal(verdict.status, 401);
        assert_null(verdict.signer);
        assert_string_equal(verdict.reason, cases[i].reason);
    }
    assert_int_equal(total_hits, 0); /* nothing was fetched */
}

static void test_verify_bad_signature(void **state)
{
    (void)state;
    serve_actor("alice", &k1);
    /* signed with another key than alice's */
    struct post p = {.key = &k2, .key_id = url("/actor/alice#main-key")};
    assert_int_equal(post_inbox(&p), 401);
    assert_string_equal(verdict.reason, "signature does not verify");
    assert_int_equal(hits("/actor/alice"), 1); /* fetched just now: no second try */
    /* now alice is cached: one refetch, then refused */
    assert_int_equal(post_inbox(&p), 401);
    assert_string_equal(verdict.reason, "signature does not verify");
    assert_int_equal(hits("/actor/alice"), 2);

    /* a key that cannot be fetched */
    struct post q = {.key = &k1, .key_id = url("/actor/nobody#main-key")};
    assert_int_equal(post_inbox(&q), 401);
    assert_non_null(strstr(verdict.reason, "cannot fetch the signer's key: "));
}

static void test_verify_rotated_key(void **state)
{
    (void)state;
    serve_actor("alice", &k1);
    struct post p1 = {.key = &k1, .key_id = url("/actor/alice#main-key")};
    assert_int_equal(post_inbox(&p1), 202);
    assert_int_equal(hits("/actor/alice"), 1);
    /* alice rotates her key under the same key id */
    serve_actor("alice", &k2);
    struct post p2 = {.key = &k2, .key_id = url("/actor/alice#main-key")};
    assert_int_equal(post_inbox(&p2), 202);
    assert_string_equal(verdict.signer, url("/actor/alice"));
    assert_int_equal(hits("/actor/alice"), 2); /* one refetch */
    /* the new key is the cached one now */
    assert_int_equal(post_inbox(&p2), 202);
    assert_int_equal(hits("/actor/alice"), 2);
    /* and the old one no longer verifies */
    assert_int_equal(post_inbox(&p1), 401);
}

/* Authorized fetch: A signs its GETs with the instance actor's key; the
 * server checks the signature with a second lv_ap_actors. */
static void test_signed_get(void **state)
{
    (void)state;
    struct lv_ap_actors_config cfg = {
        .webfinger_scheme = "http", .get_key_id = url("/actor/gw#main-key"), .get_key = kg.priv};
    struct lv_ap_actors *g = NULL;
    struct lv_error err;
    assert_int_equal(lv_ap_actors_new(&loop, store, client, &cfg, &g, &err), 0);
    signed_checker = new_actors(NULL, 0);
    serve_actor("gw", &kg);
    serve_actor("secure", &k1);
    doc_find("/actor/secure")->check_sig = true;
    memset(&get_check, 0, sizeof(get_check));

    struct got got = {0};
    get_actor(g, url("/actor/secure"), false, &got);
    assert_int_equal(got.rc, 0);
    assert_true(get_check.done);
    assert_int_equal(get_check.status, 0);
    assert_string_equal(get_check.signer, url("/actor/gw"));

    /* unsigned GETs (A has no key) are seen as such */
    get_actor(A, url("/actor/secure"), true, &got);
    assert_int_equal(got.rc, 0);
    assert_int_equal(get_check.status, 401);
    got_release(&got);
    free_actors(g);
    free_actors(signed_checker);
    signed_checker = NULL;

    struct lv_ap_actors_config bad = {.get_key = kg.priv};
    assert_int_equal(lv_ap_actors_new(&loop, store, client, &bad, &g, &err), LV_ERR_CONFIG);
    struct lv_ap_actors_config bad2 = {.webfinger_scheme = "gopher"};
    assert_int_equal(lv_ap_actors_new(&loop, store, client, &bad2, &g, &err), LV_ERR_CONFIG);
}

/* ---- tests: WebFinger ---- */

static void test_webfinger_account(void **state)
{
    (void)state;
    struct got g = {0};
    char account[128], subject[160];
    snprintf(account, sizeof(account), "alice@%s", authority);
    snprintf(subject, sizeof(subject), "acct:%s", account);
    serve_actor("alice", &k1);
    serve_webfinger("alice", subject,
                    "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
                    url("/actor/alice"));
    by_account(A, account, &g);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.id, url("/actor/alice"));
    assert_string_equal(g.account, account);
    char wf[200];
    snprintf(wf, sizeof(wf), "wf:%s", subject);
    assert_int_equal(hits(wf), 1);

    /* recorded: memory, then the store after a restart */
    by_account(A, account, &g);
    assert_int_equal(g.rc, 0);
    assert_int_equal(hits(wf), 1);
    struct lv_ap_actor_rec rec = {0};
    assert_int_equal(lv_store_ap_actor_by_account(store, account, &rec, NULL), 0);
    assert_string_equal(rec.id, url("/actor/alice"));
    lv_ap_actor_rec_release(&rec);
    free_actors(A);
    A = new_actors(store, 0);
    char at[140];
    snprintf(at, sizeof(at), "@%s", account);
    by_account(A, at, &g);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.account, account);
    assert_int_equal(hits(wf), 1);
    assert_int_equal(hits("/actor/alice"), 1);

    /* a refetch keeps the verified account */
    get_actor(A, url("/actor/alice"), true, &g);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.account, account);

    /* no WebFinger at all, and no ActivityPub link */
    snprintf(account, sizeof(account), "nobody@%s", authority);
    by_account(A, account, &g);
    assert_int_equal(g.rc, LV_ERR_NOT_FOUND);
    snprintf(account, sizeof(account), "html@%s", authority);
    snprintf(subject, sizeof(subject), "acct:%s", account);
    serve_webfinger("html", subject, "text/html", url("/actor/alice"));
    by_account(A, account, &g);
    assert_int_equal(g.rc, LV_ERR_PROTO);
    assert_non_null(strstr(g.msg, "no ActivityPub self link"));
    /* a subject that is not acct: */
    snprintf(account, sizeof(account), "weird@%s", authority);
    serve_webfinger("weird", url("/actor/alice"), "application/activity+json", url("/actor/alice"));
    by_account(A, account, &g);
    assert_int_equal(g.rc, LV_ERR_PROTO);
    assert_non_null(strstr(g.msg, "not an acct: URI"));
    got_release(&g);
}

static void test_verify_account(void **state)
{
    (void)state;
    struct got g = {0};
    char account[128], subject[160];
    serve_actor("bob", &k2);
    serve_actor("carol", &k1);
    snprintf(account, sizeof(account), "bob@%s", authority);
    snprintf(subject, sizeof(subject), "acct:%s", account);
    serve_webfinger("bob", subject, "application/activity+json", url("/actor/bob"));
    /* carol's handle points to somebody else */
    snprintf(subject, sizeof(subject), "acct:carol@%s", authority);
    serve_webfinger("carol", subject, "application/activity+json", url("/actor/bob"));

    verify_account(A, url("/actor/bob"), &g);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.account, account);
    struct lv_ap_actor_rec rec = {0};
    assert_int_equal(lv_store_ap_actor_get(store, url("/actor/bob"), &rec, NULL), 0);
    assert_string_equal(rec.account, account);
    lv_ap_actor_rec_release(&rec);
    /* known now: no second round trip */
    unsigned before = total_hits;
    verify_account(A, url("/actor/bob"), &g);
    assert_int_equal(g.rc, 0);
    assert_int_equal(total_hits, before);

    verify_account(A, url("/actor/carol"), &g);
    assert_int_equal(g.rc, LV_ERR_PROTO);
    assert_non_null(strstr(g.msg, "not this actor"));
    get_actor(A, url("/actor/carol"), false, &g);
    assert_null(g.account);
    got_release(&g);
}

/* ---- tests: memory ---- */

static void test_lru_eviction(void **state)
{
    (void)state;
    struct got g = {0};
    struct lv_ap_actors *small = new_actors(NULL, 2); /* memory only */
    serve_actor("a", &k1);
    serve_actor("b", &k1);
    serve_actor("c", &k1);
    get_actor(small, url("/actor/a"), false, &g);
    get_actor(small, url("/actor/b"), false, &g);
    get_actor(small, url("/actor/c"), false, &g); /* evicts a */
    assert_int_equal(in_memory(small), 2);
    get_actor(small, url("/actor/b"), false, &g); /* b is now the most recent */
    assert_int_equal(hits("/actor/b"), 1);
    get_actor(small, url("/actor/a"), false, &g); /* refetched, evicts c */
    assert_int_equal(hits("/actor/a"), 2);
    get_actor(small, url("/actor/b"), false, &g);
    assert_int_equal(hits("/actor/b"), 1);
    get_actor(small, url("/actor/c"), false, &g);
    assert_int_equal(hits("/actor/c"), 2);
    /* the key index follows the evictions: c evicted a again */
    by_key(small, url("/actor/b#main-key"), &g);
    assert_int_equal(g.rc, 0);
    assert_int_equal(hits("/actor/b"), 1);
    by_key(small, url("/actor/a#main-key"), &g);
    assert_int_equal(g.rc, 0);
    assert_int_equal(hits("/actor/a"), 3);
    assert_int_equal(in_memory(small), 2);
    got_release(&g);
    free_actors(small);
}

static void test_free_cancels(void **state)
{
    (void)state;
    struct got g[2] = {{0}};
    serve_actor("alice", &k1);
    serve_actor("bob", &k1);
    struct lv_ap_actors *a = new_actors(store, 0);
    get_actor(a, url("/actor/bob"), false, &g[1]); /* cached */
    got_release(&g[1]);
    lv_ap_actors_get(a, url("/actor/alice"), false, on_actor, &g[0]); /* fetching */
    lv_ap_actors_get(a, url("/actor/bob"), false, on_actor, &g[1]);   /* queued answer */
    lv_ap_actors_free(a);
    for (int i = 0; i < 2; i++) {
        assert_true(g[i].done);
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].rc, LV_ERR_CANCELLED);
        got_release(&g[i]);
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    lv_ap_actors_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fetch_then_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_documents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalesced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_refused_without_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_bad_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_rotated_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webfinger_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_cancels, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
