/* The ActivityPub gateway: lifecycle, configuration, actor keys, local
 * account checks, deliveries, and the processing of inbox activities. */
#include "ap/lv_ap_gw_priv.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ap/lv_httpsig.h"
#include "blog/lv_mb.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "pubsub/lv_pubsub.h"
#include "xmpp/lv_jid.h"

#define SEC "component ap-gateway"
#define EXISTS_TTL_S 300
#define RECENT_TTL_S 600

/* ---- small caches with expiry ---- */

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static void stamps_expire(struct lv_map *m, int64_t now)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (lv_map_next(m, &pos, &k, &v)) {
        struct gw_stamp *s = v;
        if (s->expires <= now)
            free(lv_map_del(m, k));
    }
}

static void stamps_free(struct lv_map *m)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (lv_map_next(m, &pos, &k, &v))
        free(v);
    lv_map_release(m);
}

/* ---- URLs and addresses ---- */

char *gw_url(struct lv_ap_gw *gw, enum lv_ap_url_type type, const char *arg, const char *arg2)
{
    const char *args[2] = {arg, arg2};
    char *url = NULL;
    if (lv_ap_url_build(&gw->addr, type, args, lv_ap_url_type_nargs(type), &url, NULL) != 0)
        return NULL;
    return url;
}

char *gw_actor_url(struct lv_ap_gw *gw, const char *account)
{
    return gw_url(gw, LV_AP_URL_ACTOR, account, NULL);
}

char *gw_virtual_jid(struct lv_ap_gw *gw, const char *account)
{
    struct lv_jid j;
    if (lv_ap_virtual_jid_from_account(&gw->addr, account, strlen(account), &j, NULL) != 0)
        return NULL;
    char *s = lv_jid_bare(&j);
    lv_jid_release(&j);
    return s;
}

/* ---- actor keys ---- */

struct key_waiter {
    gw_key_fn fn;
    void *ud;
    struct key_waiter *next;
};

struct gw_key {
    struct lv_ap_gw *gw;
    char *account;
    EVP_PKEY *key; /* NULL while generating */
    char *pub_pem;
    struct key_waiter *waiters;
    /* generation job */
    uv_work_t work;
    char *gen_priv, *gen_pub;
    int gen_rc;
    struct lv_error gen_err;
};

static char *key_name(const char *account)
{
    return lv_xasprintf("rsa_key:%s", account);
}

/* Loads the account's key from the store; 0, LV_ERR_NOT_FOUND or another
 * error. */
static int key_load(struct lv_ap_gw *gw, struct gw_key *k)
{
    char *name = key_name(k->account), *pem = NULL;
    int rc = lv_store_private_get(gw->st, gw->profile, AP_KEY_NS, name, &pem, NULL);
    free(name);
    if (rc != 0)
        return rc;
    struct lv_error err = {0};
    rc = lv_httpsig_load_private(pem, strlen(pem), &k->key, &err);
    free(pem);
    if (rc != 0) {
        lv_error(AP_AREA, "the stored key of %s is unusable: %s", k->account, err.msg);
        return rc;
    }
    k->pub_pem = lv_httpsig_public_pem(k->key);
    return k->pub_pem ? 0 : LV_ERR_INTERNAL;
}

static void keygen_work(uv_work_t *w)
{
    struct gw_key *k = w->data;
    k->gen_rc = lv_httpsig_keygen(0, &k->gen_priv, &k->gen_pub, &k->gen_err);
}

static void key_notify(struct gw_key *k, const struct lv_error *err)
{
    struct key_waiter *w = k->waiters;
    k->waiters = NULL;
    while (w) {
        struct key_waiter *next = w->next;
        w->fn(k->gw, k->key ? k->pub_pem : NULL, err, w->ud);
        free(w);
        w = next;
    }
}

static void key_free(struct gw_key *k)
{
    EVP_PKEY_free(k->key);
    free(k->pub_pem);
    free(k->account);
    free(k->gen_priv);
    free(k->gen_pub);
    free(k);
}

static void keygen_done(uv_work_t *w, int status)
{
    struct gw_key *k = w->data;
    struct lv_ap_gw *gw = k->gw;
    if (!gw) { /* the gateway went away meanwhile */
        key_free(k);
        return;
    }
    struct lv_error err = {0};
    int rc = status != 0 ? LV_ERR_CANCELLED : k->gen_rc;
    if (rc == 0) {
        char *name = key_name(k->account);
        rc = lv_store_private_set(gw->st, gw->profile, AP_KEY_NS, name, k->gen_priv, &err);
        free(name);
        if (rc == 0)
            rc = lv_httpsig_load_private(k->gen_priv, strlen(k->gen_priv), &k->key, &err);
        if (rc == 0) {
            k->pub_pem = k->gen_pub;
            k->gen_pub = NULL;
            lv_info(AP_AREA, "generated the RSA key of %s", k->account);
        }
    } else {
        err = k->gen_err;
    }
    free(k->gen_priv);
    k->gen_priv = NULL;
    if (rc != 0) {
        if (!err.code)
            lv_error_set(&err, rc, "key generation failed");
        lv_error(AP_AREA, "cannot make a key for %s: %s", k->account, err.msg);
        lv_map_del(&gw->keys, k->account);
        k->gw = gw;
        key_notify(k, &err);
        key_free(k);
        return;
    }
    key_notify(k, NULL);
}

void gw_key_get(struct lv_ap_gw *gw, const char *account, gw_key_fn fn, void *ud)
{
    struct gw_key *k = lv_map_get(&gw->keys, account);
    if (!k) {
        k = lv_xcalloc(1, sizeof(*k));
        k->gw = gw;
        k->account = lv_xstrdup(account);
        int rc = key_load(gw, k);
        if (rc != 0 && rc != LV_ERR_NOT_FOUND) {
            struct lv_error err;
            lv_error_set(&err, rc, "the key of %s cannot be read", account);
            key_free(k);
            fn(gw, NULL, &err, ud);
            return;
        }
        lv_map_put(&gw->keys, account, k);
        if (rc == LV_ERR_NOT_FOUND) {
            k->work.data = k;
            uv_queue_work(gw->loop, &k->work, keygen_work, keygen_done);
        }
    }
    if (k->key) {
        fn(gw, k->pub_pem, NULL, ud);
        return;
    }
    struct key_waiter *w = lv_xcalloc(1, sizeof(*w));
    w->fn = fn;
    w->ud = ud;
    w->next = k->waiters;
    k->waiters = w;
}

static void key_ready_noop(struct lv_ap_gw *gw, const char *pem, const struct lv_error *err,
                           void *ud)
{
    (void)gw, (void)pem, (void)err, (void)ud;
}

/* The delivery queue's key source: loaded keys only; a missing one is
 * generated and the delivery retried later. */
static int deliver_key(void *ud, const char *account, EVP_PKEY **key, struct lv_error *err)
{
    struct lv_ap_gw *gw = ud;
    struct gw_key *k = lv_map_get(&gw->keys, account);
    if (!k) {
        gw_key_get(gw, account, key_ready_noop, NULL);
        k = lv_map_get(&gw->keys, account);
    }
    if (!k || !k->key)
        return lv_error_set(err, LV_ERR_AGAIN, "the key of %s is not ready yet", account);
    EVP_PKEY_up_ref(k->key);
    *key = k->key;
    return 0;
}

/* ---- do local accounts exist? ---- */

/* Prosody answers disco#info on a bare JID only to the user's contacts, and
 * "forbidden" both for a missing user and for one without a public blog:
 * an account counts as existing when its microblog node can be read. */
struct exists_q {
    struct lv_ap_gw *gw;
    char *jid;
    gw_bool_fn fn;
    void *ud;
};

static void on_exists(struct lv_xmpp *x, struct lv_ps_items *items, const struct lv_error *err,
                      void *ud)
{
    struct exists_q *q = ud;
    struct lv_ap_gw *gw = q->gw;
    int yes = err ? 0 : 1;
    if (!err || err->code != LV_ERR_TIMEOUT) {
        struct gw_stamp *s = lv_xcalloc(1, sizeof(*s));
        s->expires = now_s() + (yes ? 12 * EXISTS_TTL_S : EXISTS_TTL_S);
        s->value = yes;
        free(lv_map_put(&gw->exists, q->jid, s));
    }
    lv_debug(AP_AREA, "%s %s", q->jid, yes ? "has a public blog" : "has no readable blog");
    q->fn(gw, yes, q->ud);
    free(q->jid);
    free(q);
    (void)x, (void)items;
}

void gw_account_exists(struct lv_ap_gw *gw, const char *jid, gw_bool_fn fn, void *ud)
{
    struct gw_stamp *s = lv_map_get(&gw->exists, jid);
    if (s && s->expires > now_s()) {
        fn(gw, s->value, ud);
        return;
    }
    if (!gw->online || gw->closing) {
        fn(gw, -1, ud);
        return;
    }
    struct exists_q *q = lv_xcalloc(1, sizeof(*q));
    q->gw = gw;
    q->jid = lv_xstrdup(jid);
    q->fn = fn;
    q->ud = ud;
    lv_pubsub_get_items(gw->x, jid, LV_NS_MICROBLOG, NULL, 0, 1, NULL, on_exists, q);
}

/* ---- deliveries ---- */

void gw_deliver(struct lv_ap_gw *gw, const char *account, json_t *activity,
                const char *const *inboxes, size_t n)
{
    if (gw->closing) {
        lv_warn(AP_AREA, "stopping: an activity of %s was not queued", account);
        return;
    }
    char *body = json_dumps(activity, JSON_COMPACT);
    char *actor = gw_actor_url(gw, account);
    const char *id = json_string_value(json_object_get(activity, "id"));
    if (!body || !actor || !id) {
        lv_error(AP_AREA, "cannot serialise an activity of %s", account);
        free(body);
        free(actor);
        return;
    }
    char *key_id = lv_xasprintf("%s#main-key", actor);
    const char **uniq = lv_xcalloc(n ? n : 1, sizeof(*uniq));
    int64_t *ids = lv_xcalloc(n ? n : 1, sizeof(*ids));
    size_t nu = 0;
    struct lv_map seen;
    lv_map_init(&seen);
    for (size_t i = 0; i < n; i++) {
        if (!inboxes[i] || lv_map_get(&seen, inboxes[i]))
            continue;
        lv_map_put(&seen, inboxes[i], (void *)1);
        uniq[nu++] = inboxes[i];
    }
    lv_map_release(&seen);
    /* One transaction for every recipient. */
    struct lv_error err = {0};
    if (nu && lv_ap_deliver_enqueue_many(gw->deliver, uniq, nu, account, key_id, id, body, ids,
                                         &err) != 0) {
        lv_error(AP_AREA, "cannot queue %s for %zu inboxes: %s", id, nu, err.msg);
    } else {
        for (size_t i = 0; i < nu; i++) {
            if (ids[i])
                lv_debug(AP_AREA, "queued %s for %s", id, uniq[i]);
            else
                lv_error(AP_AREA, "cannot queue %s for %s: bad inbox URL", id, uniq[i]);
        }
    }
    free(ids);
    free(uniq);
    free(key_id);
    free(actor);
    free(body);
}

/* ---- lifecycle ---- */

static void on_tick(uv_timer_t *t)
{
    struct lv_ap_gw *gw = t->data;
    int64_t now = now_s();
    stamps_expire(&gw->exists, now);
    stamps_expire(&gw->recent, now);
    if (gw->online)
        gw_inbox_resume(gw); /* activities left for a transient failure */
}

static char *trim_slashes(const char *s)
{
    while (*s == '/')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == '/')
        n--;
    return lv_xstrndup(s, n);
}

static int read_config(struct lv_ap_gw *gw, const struct lv_config *cfg, struct lv_error *err)
{
    if (strcmp(lv_config_str(cfg, SEC, "http_connection_type"), "https") == 0)
        return lv_error_set(err, LV_ERR_CONFIG,
                            "[%s] http_connection_type = https: this gateway serves plain HTTP "
                            "behind a TLS reverse proxy; set it to http (see "
                            "doc/ap-gateway.md)",
                            SEC);
    /* As the reference, public_url falls back to xmpp_domain; without it
     * either, to the XMPP server's domain (the component's parent). */
    const char *pub = lv_config_str(cfg, SEC, "public_url");
    if (!*pub)
        pub = gw->local_host;
    if (!pub || !*pub)
        return lv_error_set(err, LV_ERR_CONFIG,
                            "[%s] public_url is not set (nor xmpp_domain): the gateway needs the "
                            "public host of its URLs",
                            SEC);
    if (strstr(pub, "://") || strchr(pub, '/'))
        return lv_error_set(err, LV_ERR_CONFIG,
                            "[%s] public_url must be a host[:port] without scheme or path, not "
                            "\"%s\"",
                            SEC, pub);
    gw->public_url = lv_xstrdup(pub);
    gw->ap_path = trim_slashes(lv_config_str(cfg, SEC, "ap_path"));
    gw->local_only = lv_config_bool(cfg, SEC, "local_only");
    gw->auto_mentions = lv_config_bool(cfg, SEC, "auto_mentions");
    gw->trust_proxy = lv_config_bool(cfg, SEC, "trust_proxy");
    gw->allow_private = lv_config_bool(cfg, SEC, "allow_private_networks");
    gw->allowed_ranges = lv_xstrdup(lv_config_str(cfg, SEC, "allowed_ranges"));
    gw->ca_file = lv_xstrdup(lv_config_str(cfg, SEC, "ca_file"));
    gw->http_port = (unsigned)lv_config_int(cfg, SEC, "http_port");
    gw->window_s = (long)lv_config_int(cfg, SEC, "signature_window");
    gw->limits.max_body = (size_t)lv_config_int(cfg, SEC, "max_body");
    gw->limits.max_recipients = (size_t)lv_config_int(cfg, SEC, "max_recipients");
    json_error_t jerr;
    gw->html_redirect = json_loads(lv_config_str(cfg, SEC, "html_redirect_dict"), 0, &jerr);
    if (!gw->html_redirect || !json_is_object(gw->html_redirect))
        return lv_error_set(err, LV_ERR_CONFIG, "[%s] html_redirect_dict is not a JSON object%s%s",
                            SEC, gw->html_redirect ? "" : ": ", gw->html_redirect ? "" : jerr.text);
    const char *k;
    json_t *v;
    json_object_foreach(gw->html_redirect, k, v)
    {
        if (!json_is_string(v) && !json_is_string(json_object_get(v, "url")))
            return lv_error_set(err, LV_ERR_CONFIG,
                                "[%s] html_redirect_dict: \"%s\" must map to a URL template or "
                                "{\"url\": template}",
                                SEC, k);
    }
    return 0;
}

/* The gateway's own actor (/{ap_path}/instance), whose key signs outgoing
 * GETs for peers that require signed fetches. Loaded, or made once at the
 * first start (before anything is served). */
static int instance_key(struct lv_ap_gw *gw, struct lv_error *err)
{
    struct gw_key *k = lv_xcalloc(1, sizeof(*k));
    k->gw = gw;
    k->account = lv_xstrdup(AP_INSTANCE);
    int rc = key_load(gw, k);
    if (rc == LV_ERR_NOT_FOUND) {
        char *priv = NULL;
        rc = lv_httpsig_keygen(0, &priv, &k->pub_pem, err);
        char *name = key_name(AP_INSTANCE);
        if (rc == 0)
            rc = lv_store_private_set(gw->st, gw->profile, AP_KEY_NS, name, priv, err);
        if (rc == 0)
            rc = lv_httpsig_load_private(priv, strlen(priv), &k->key, err);
        free(name);
        free(priv);
    }
    if (rc != 0) {
        key_free(k);
        return rc;
    }
    lv_map_put(&gw->keys, AP_INSTANCE, k);
    gw->instance_key = k->key;
    return 0;
}

int lv_ap_gw_new(uv_loop_t *loop, const struct lv_config *cfg, struct lv_store *st,
                 const char *profile, struct lv_xmpp *x, struct lv_ap_gw **out,
                 struct lv_error *err)
{
    struct lv_ap_gw *gw = lv_xcalloc(1, sizeof(*gw));
    gw->loop = loop;
    gw->st = st;
    gw->x = x;
    gw->profile = lv_xstrdup(profile);
    gw->jid = lv_jid_normalize(lv_xmpp_jid(x), true);
    gw->local_host = lv_xstrdup(lv_xmpp_server(x));
    lv_map_init(&gw->keys);
    lv_map_init(&gw->exists);
    lv_map_init(&gw->recent);
    lv_map_init(&gw->inbox_inflight);
    uv_timer_init(loop, &gw->tick);
    gw->tick.data = gw;
    int rc = gw->jid ? read_config(gw, cfg, err)
                     : lv_error_set(err, LV_ERR_CONFIG, "the component's JID is invalid");
    if (rc == 0) {
        gw->addr.gateway_jid = gw->jid;
        gw->addr.local_host = gw->local_host;
        gw->addr.public_url = gw->public_url;
        gw->addr.ap_path = gw->ap_path;
        gw->addr.local_only = gw->local_only;
        /* is_pubsub NULL: handles of pubsub-service nodes are not mapped */
        gw->base_url = lv_ap_base_url(&gw->addr);
        struct lv_http_client_config hc = {
            .ca_file = gw->ca_file,
            .allow_private_networks = gw->allow_private,
            .allowed_ranges = gw->allowed_ranges,
        };
        rc = lv_http_client_new(loop, &hc, &gw->client, err);
    }
    if (rc == 0)
        rc = instance_key(gw, err);
    char *instance_key_id = NULL;
    if (rc == 0) {
        instance_key_id = lv_xasprintf("%sinstance#main-key", gw->base_url);
        struct lv_ap_actors_config ac = {
            .cache_size = (unsigned)lv_config_int(cfg, SEC, "actors_cache_size"),
            .window_s = gw->window_s,
            .get_key_id = instance_key_id,
            .get_key = gw->instance_key,
        };
        rc = lv_ap_actors_new(loop, st, gw->client, &ac, &gw->actors, err);
        free(instance_key_id);
    }
    if (rc == 0) {
        struct lv_ap_deliver_config dc = {
            .max_parallel = (unsigned)lv_config_int(cfg, SEC, "delivery_parallel"),
            .backoff_initial_s = (unsigned)lv_config_int(cfg, SEC, "delivery_retry_min"),
            .backoff_max_s = (unsigned)lv_config_int(cfg, SEC, "delivery_retry_max"),
            .give_up_after_s = (unsigned)lv_config_int(cfg, SEC, "delivery_give_up"),
        };
        rc = lv_ap_deliver_new(loop, st, gw->client, &dc, deliver_key, gw, &gw->deliver, err);
    }
    if (rc == 0)
        rc = gw_http_start(gw, lv_config_str(cfg, SEC, "http_address"), err);
    if (rc != 0) {
        lv_ap_gw_free(gw);
        return rc;
    }
    uv_timer_start(&gw->tick, on_tick, 60000, 60000);
    gw_xmpp_register(gw);
    lv_info(AP_AREA, "ActivityPub gateway %s: %s on http://%s:%u (public %s)", gw->jid,
            gw->base_url, lv_config_str(cfg, SEC, "http_address"), lv_http_port(gw->http),
            gw->public_url);
    *out = gw;
    return 0;
}

void lv_ap_gw_state(struct lv_ap_gw *gw, enum lv_xmpp_state state)
{
    bool was = gw->online;
    gw->online = state == LV_XMPP_ONLINE;
    if (gw->online && !was)
        gw_inbox_resume(gw);
}

unsigned lv_ap_gw_http_port(const struct lv_ap_gw *gw)
{
    return lv_http_port(gw->http);
}

/* The gateway's memory goes when both its timer is closed and its stream
 * released (the stream's pending iqs are answered, with an error, when it
 * stops: their callbacks still see the gateway, closing). */
static void gw_unref(struct lv_ap_gw *gw)
{
    if (--gw->refs > 0)
        return;
    stamps_free(&gw->exists);
    stamps_free(&gw->recent);
    lv_map_release(&gw->inbox_inflight);
    json_decref(gw->html_redirect);
    free(gw->profile);
    free(gw->jid);
    free(gw->local_host);
    free(gw->public_url);
    free(gw->ap_path);
    free(gw->base_url);
    free(gw->ca_file);
    free(gw->allowed_ranges);
    free(gw);
}

static void tick_closed(uv_handle_t *h)
{
    gw_unref(h->data);
}

static void stream_released(void *ptr)
{
    gw_unref(ptr);
}

void lv_ap_gw_free(struct lv_ap_gw *gw)
{
    if (!gw)
        return;
    gw_xmpp_unregister(gw);
    gw->closing = true;
    gw->online = false;
    /* Requests waiting get 503; lookups and deliveries in flight are
     * cancelled (their inbox rows stay pending for the next start). */
    lv_http_free(gw->http);
    gw->http = NULL;
    lv_ap_actors_free(gw->actors);
    gw->actors = NULL;
    lv_ap_deliver_free(gw->deliver);
    gw->deliver = NULL;
    lv_http_client_free(gw->client);
    gw->client = NULL;
    size_t pos = 0;
    const char *k;
    void *v;
    while (lv_map_next(&gw->keys, &pos, &k, &v)) {
        struct gw_key *key = v;
        struct lv_error err;
        lv_error_set(&err, LV_ERR_CANCELLED, "the gateway is stopping");
        key_notify(key, &err);
        if (key->key || !key->work.data)
            key_free(key);
        else
            key->gw = NULL; /* generating: freed when the job ends */
    }
    lv_map_release(&gw->keys);
    gw->refs = 2;
    uv_timer_stop(&gw->tick);
    uv_close((uv_handle_t *)&gw->tick, tick_closed);
    lv_xmpp_ext_set(gw->x, "ap-gateway", gw, stream_released);
}

/* ---- status and queue ---- */

static json_int_t count_or(int rc, int64_t n)
{
    return rc == 0 ? (json_int_t)n : -1;
}

json_t *lv_ap_gw_status(struct lv_ap_gw *gw)
{
    int64_t n;
    uint64_t mem;
    int64_t stored;
    lv_ap_actors_counts(gw->actors, &mem, &stored);
    struct lv_ap_deliver_stats ds;
    lv_ap_deliver_stats(gw->deliver, &ds);
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:b}", "jid", gw->jid, "public_url", gw->public_url,
                          "base_url", gw->base_url, "http_port", (int)lv_http_port(gw->http),
                          "online", gw->online);
    json_object_set_new(
        o, "actors",
        json_pack("{s:I, s:I}", "in_memory", (json_int_t)mem, "stored", (json_int_t)stored));
    int rc = lv_store_ap_follow_count(gw->st, LV_AP_FOLLOWER, NULL, NULL, 0, &n, NULL);
    json_object_set_new(o, "followers", json_integer(count_or(rc, n)));
    rc = lv_store_ap_follow_count(gw->st, LV_AP_FOLLOWING, NULL, NULL, 0, &n, NULL);
    json_object_set_new(o, "following", json_integer(count_or(rc, n)));
    json_t *inbox = json_object();
    static const char *const inames[] = {NULL, "pending", "done", "failed"};
    for (int s = 1; s <= 3; s++) {
        rc = lv_store_ap_inbox_count(gw->st, s, &n, NULL);
        json_object_set_new(inbox, inames[s], json_integer(count_or(rc, n)));
    }
    json_object_set_new(inbox, "accepted", json_integer((json_int_t)gw->inbox_accepted));
    json_object_set_new(inbox, "refused", json_integer((json_int_t)gw->inbox_refused));
    json_object_set_new(o, "inbox", inbox);
    json_t *dq = json_object();
    rc = lv_store_ap_delivery_count(gw->st, LV_AP_DELIVERY_PENDING, &n, NULL);
    json_object_set_new(dq, "pending", json_integer(count_or(rc, n)));
    rc = lv_store_ap_delivery_count(gw->st, LV_AP_DELIVERY_FAILED, &n, NULL);
    json_object_set_new(dq, "failed", json_integer(count_or(rc, n)));
    json_object_set_new(dq, "in_flight", json_integer(ds.in_flight));
    json_object_set_new(dq, "delivered", json_integer((json_int_t)ds.delivered));
    json_object_set_new(dq, "failed_attempts", json_integer((json_int_t)ds.failed_attempts));
    json_object_set_new(dq, "given_up", json_integer((json_int_t)ds.given_up));
    json_object_set_new(o, "deliveries", dq);
    json_object_set_new(o, "relayed",
                        json_pack("{s:I, s:I}", "to_fediverse", (json_int_t)gw->relayed_out,
                                  "to_xmpp", (json_int_t)gw->relayed_in));
    return o;
}

json_t *lv_ap_gw_queue(struct lv_ap_gw *gw, const char *state, size_t limit, struct lv_error *err)
{
    int st = 0;
    if (state && strcmp(state, "pending") == 0)
        st = LV_AP_DELIVERY_PENDING;
    else if (state && strcmp(state, "failed") == 0)
        st = LV_AP_DELIVERY_FAILED;
    else if (state && *state && strcmp(state, "all") != 0) {
        lv_error_set(err, LV_ERR_INVAL, "unknown delivery state \"%s\" (pending, failed, all)",
                     state);
        return NULL;
    }
    struct lv_ap_delivery_rec *recs = NULL;
    size_t n = 0;
    if (lv_store_ap_delivery_list(gw->st, st, limit, 0, &recs, &n, err) != 0)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        struct lv_ap_delivery_rec *d = &recs[i];
        json_t *o = json_pack(
            "{s:I, s:s, s:s, s:s, s:s, s:i, s:I, s:I}", "id", (json_int_t)d->id, "inbox", d->inbox,
            "account", d->account, "activity_id", d->activity_id, "state",
            d->state == LV_AP_DELIVERY_PENDING ? "pending" : "failed", "attempts", d->attempts,
            "created", (json_int_t)d->created, "next_attempt", (json_int_t)d->next_attempt);
        json_object_set_new(o, "last_error",
                            d->last_error ? json_string(d->last_error) : json_null());
        json_array_append_new(arr, o);
        lv_ap_delivery_rec_release(d);
    }
    free(recs);
    return arr;
}

int lv_ap_gw_queue_retry(struct lv_ap_gw *gw, struct lv_error *err)
{
    return lv_ap_deliver_retry_all(gw->deliver, err);
}
