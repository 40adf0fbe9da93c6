#include "lv_backend.h"
#include "ap/lv_ap_gw.h"
#include "backend/lv_bridge_util.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "lv_profile.h"
#include "cache/lv_cache.h"
#include "pubsub/lv_pubsub.h"
#include "xmpp/lv_disco.h"
#include "xmpp/lv_xmpp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define AREA "backend"
#define VERSION "0.1.0"

struct lv_session {
    struct lv_backend *b;
    char *profile;
    char *component; /* entry point, NULL for a client */
    struct lv_xmpp *x;
    struct lv_disco *disco;
    char *pubsub_service; /* the server's pubsub service, once discovered */
    struct lv_ap_gw *gw;  /* the ActivityPub gateway of an ap-gateway component */
    unsigned disco_pending;
    struct lv_session *next;
};

/* ---- sessions ---- */

static struct lv_session *find_session(struct lv_backend *b, const char *profile)
{
    for (struct lv_session *s = b->sessions; s; s = s->next)
        if (strcmp(s->profile, profile) == 0)
            return s;
    return NULL;
}

static json_t *session_json(const struct lv_session *s)
{
    const struct lv_error *e = lv_xmpp_last_error(s->x);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "profile", s->profile, "jid", lv_xmpp_jid(s->x),
                          "state", lv_xmpp_state_name(lv_xmpp_state(s->x)), "kind",
                          s->component ? "component" : "client");
    if (s->component)
        json_object_set_new(o, "component", json_string(s->component));
    if (e->code != 0)
        json_object_set_new(o, "error", json_string(e->msg));
    uint64_t in, out;
    lv_xmpp_counters(s->x, &in, &out);
    json_object_set_new(o, "stanzas_in", json_integer((json_int_t)in));
    json_object_set_new(o, "stanzas_out", json_integer((json_int_t)out));
    json_object_set_new(o, "connect_ms", json_integer((json_int_t)lv_xmpp_connect_ms(s->x)));
    return o;
}

/* ---- discovery of the server's pubsub service (for comments nodes) ---- */

struct info_q {
    struct lv_session *s;
    char *jid;
};

static void on_item_info_q(struct lv_xmpp *x, const struct lv_disco_info *info,
                           const struct lv_error *err, void *ud)
{
    struct info_q *q = ud;
    struct lv_session *s = q->s;
    s->disco_pending--;
    if (info && !s->pubsub_service && lv_disco_info_is(info, "pubsub", "service") &&
        !lv_disco_info_is(info, "pubsub", "pep")) {
        s->pubsub_service = q->jid;
        q->jid = NULL;
        lv_debug(AREA, "%s: pubsub service is %s", s->profile, s->pubsub_service);
    }
    free(q->jid);
    free(q);
    (void)err;
}

static void on_server_items(struct lv_xmpp *x, const struct lv_disco_item *items, size_t n,
                            const struct lv_error *err, void *ud)
{
    struct lv_session *s = ud;
    s->disco_pending--;
    for (size_t i = 0; i < n && !err; i++) {
        if (items[i].node)
            continue;
        struct info_q *q = lv_xcalloc(1, sizeof(*q));
        q->s = s;
        q->jid = lv_xstrdup(items[i].jid);
        s->disco_pending++;
        lv_disco_query_info(x, items[i].jid, NULL, on_item_info_q, q);
    }
}

static void discover_pubsub(struct lv_session *s)
{
    free(s->pubsub_service);
    s->pubsub_service = NULL;
    s->disco_pending++;
    lv_disco_query_items(s->x, lv_xmpp_server(s->x), NULL, on_server_items, s);
}

const char *lv_backend_profile_of(struct lv_backend *b, struct lv_xmpp *x)
{
    for (struct lv_session *s = b->sessions; s; s = s->next)
        if (s->x == x)
            return s->profile;
    return NULL;
}

struct lv_ap_gw *lv_backend_ap_gw(struct lv_backend *b, const char *profile)
{
    for (struct lv_session *s = b->sessions; s; s = s->next)
        if (s->gw && (!profile || strcmp(s->profile, profile) == 0))
            return s->gw;
    return NULL;
}

const char *lv_backend_pubsub_service(struct lv_backend *b, struct lv_xmpp *x)
{
    for (struct lv_session *s = b->sessions; s; s = s->next)
        if (s->x == x)
            return s->pubsub_service;
    return NULL;
}

/* ---- pubsub events → bridge notifications ---- */

static void on_ps_event(struct lv_xmpp *x, const struct lv_ps_event *ev, void *ud)
{
    struct lv_session *s = ud;
    lv_cache_on_event(s->b->cache, s->profile, ev);
    if (!s->b->bridge)
        return;
    static const char *const kinds[] = {"items", "retract", "purge", "delete", "config"};
    json_t *n = json_pack("{s:s, s:s, s:s, s:s}", "profile", s->profile, "service", ev->service,
                          "node", ev->node ? ev->node : "", "type", kinds[ev->kind]);
    if (ev->items)
        json_object_set_new(n, "items", lv_bu_items_json(ev->items));
    json_t *retracted = json_array();
    for (size_t i = 0; i < ev->n_retracted; i++)
        json_array_append_new(retracted, json_string(ev->retracted[i]));
    json_object_set_new(n, "retracted", retracted);
    lv_bridge_notify(s->b->bridge, "psEvent", n);
}

static void on_state(struct lv_xmpp *x, enum lv_xmpp_state state, const struct lv_error *err,
                     void *ud)
{
    struct lv_session *s = ud;
    if (s->gw)
        lv_ap_gw_state(s->gw, state);
    if (state == LV_XMPP_ONLINE && !s->component)
        discover_pubsub(s);
    if (state == LV_XMPP_ONLINE && !s->component)
        lv_cache_profile_online(s->b->cache, s->profile, x);
    else if (state != LV_XMPP_CONNECTING)
        lv_cache_profile_offline(s->b->cache, s->profile);
    if (s->b->bridge)
        lv_bridge_notify(s->b->bridge, "connectionChanged", session_json(s));
}

static void session_free(struct lv_session *s)
{
    lv_ap_gw_free(s->gw);
    lv_disco_free(s->disco);
    lv_pubsub_off_event(s->x, on_ps_event, s);
    lv_xmpp_free(s->x); /* pending iqs get their error callback now, s still valid */
    free(s->pubsub_service);
    free(s->profile);
    free(s->component);
    free(s);
}

static void add_identity(struct lv_session *s)
{
    /* As the reference: components are component/generic "Libervia". */
    if (s->component)
        lv_disco_add_identity(s->disco, "component", "generic", "Libervia");
    else
        lv_disco_add_identity(s->disco, "client", "pc", "Libervia");
}

static int session_new(struct lv_backend *b, const char *profile, struct lv_session **out,
                       struct lv_error *err)
{
    struct lv_profile_conn conn;
    int rc = lv_profile_xmpp_config(b->store, b->cfg, profile, &conn, err);
    if (rc != 0)
        return rc;
    struct lv_session *s = lv_xcalloc(1, sizeof(*s));
    rc = lv_xmpp_new(b->loop, &conn.xmpp, &s->x, err);
    if (rc != 0) {
        lv_profile_conn_release(&conn);
        free(s);
        return rc;
    }
    s->b = b;
    s->profile = lv_xstrdup(profile);
    s->component = conn.component ? lv_xstrdup(conn.component) : NULL;
    lv_profile_conn_release(&conn);
    /* The gateway first: its handlers answer for its virtual JIDs before the
     * generic disco handler answers for the component. */
    if (s->component && strcmp(s->component, LV_AP_GW_ENTRY_POINT) == 0) {
        rc = lv_ap_gw_new(b->loop, b->cfg, b->store, profile, s->x, &s->gw, err);
        if (rc != 0) {
            session_free(s);
            return rc;
        }
    }
    s->disco = lv_disco_new(s->x);
    add_identity(s);
    lv_pubsub_on_event(s->x, on_ps_event, s);
    lv_xmpp_set_state_fn(s->x, on_state, s);
    *out = s;
    return 0;
}

int lv_backend_connect(struct lv_backend *b, const char *profile, struct lv_error *err)
{
    struct lv_session *s = find_session(b, profile);
    enum lv_xmpp_state st = s ? lv_xmpp_state(s->x) : LV_XMPP_OFFLINE;
    if (s && (st == LV_XMPP_FAILED || st == LV_XMPP_OFFLINE)) {
        /* Parameters (a fixed password...) may have changed since: start over
         * with a fresh session. */
        lv_backend_disconnect(b, profile, NULL);
        s = NULL;
    }
    if (!s) {
        int rc = session_new(b, profile, &s, err);
        if (rc != 0)
            return rc;
        s->next = b->sessions;
        b->sessions = s;
    }
    lv_xmpp_start(s->x);
    return 0;
}

int lv_backend_disconnect(struct lv_backend *b, const char *profile, struct lv_error *err)
{
    for (struct lv_session **p = &b->sessions; *p; p = &(*p)->next) {
        struct lv_session *s = *p;
        if (strcmp(s->profile, profile) == 0) {
            *p = s->next;
            session_free(s);
            lv_info(AREA, "profile %s disconnected", profile);
            return 0;
        }
    }
    return lv_error_set(err, LV_ERR_NOT_FOUND, "profile %s is not connected", profile);
}

void lv_backend_autoconnect(struct lv_backend *b)
{
    struct lv_profile_rec *recs = NULL;
    size_t n = 0;
    struct lv_error err;
    if (lv_store_profile_list(b->store, &recs, &n, &err) != 0) {
        lv_error(AREA, "cannot list profiles: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (lv_profile_param_bool(b->store, recs[i].name, "Connection", "autoconnect_backend") &&
            lv_backend_connect(b, recs[i].name, &err) != 0)
            lv_error(AREA, "profile %s: %s", recs[i].name, err.msg);
        lv_profile_rec_release(&recs[i]);
    }
    free(recs);
}

/* ---- bridge methods ---- */

struct lv_xmpp *lv_backend_call_xmpp(struct lv_backend *b, struct lv_bridge_call *call,
                                     json_t *params)
{
    char *profile = NULL;
    struct lv_error err;
    if (lv_profile_resolve(b->store, json_string_value(json_object_get(params, "profile")),
                           &profile, &err) != 0) {
        lv_bridge_reply_error(call, &err);
        return NULL;
    }
    struct lv_session *s = find_session(b, profile);
    if (!s || lv_xmpp_state(s->x) != LV_XMPP_ONLINE) {
        lv_error_set_cond(&err, LV_ERR_AGAIN, "not-connected",
                          "profile %s is not connected%s%s (connect it with -c, or `li profile "
                          "connect -p %s`)",
                          profile, s ? ": " : "", s ? lv_xmpp_state_name(lv_xmpp_state(s->x)) : "",
                          profile);
        lv_bridge_reply_error(call, &err);
        free(profile);
        return NULL;
    }
    free(profile);
    return s->x;
}

static const char *param_str(json_t *params, const char *key)
{
    return json_string_value(json_object_get(params, key));
}

static bool need(struct lv_bridge_call *call, json_t *params, const char *key)
{
    if (param_str(params, key))
        return true;
    struct lv_error err;
    lv_error_set(&err, LV_ERR_INVAL, "missing string parameter \"%s\"", key);
    lv_bridge_reply_error(call, &err);
    return false;
}

static void reply_rc(struct lv_bridge_call *call, int rc, const struct lv_error *err)
{
    if (rc == 0)
        lv_bridge_reply(call, json_true());
    else
        lv_bridge_reply_error(call, err);
}

/* Resolves the call's "profile" (default when absent); replies on error. */
static char *call_profile(struct lv_backend *b, struct lv_bridge_call *call, json_t *params)
{
    char *name = NULL;
    struct lv_error err;
    if (lv_profile_resolve(b->store, param_str(params, "profile"), &name, &err) != 0) {
        lv_bridge_reply_error(call, &err);
        return NULL;
    }
    return name;
}

static void m_version(struct lv_bridge_call *call, json_t *params, void *ud)
{
    lv_bridge_reply(call, json_string(VERSION));
}

static void m_status(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    json_t *sessions = json_array();
    for (struct lv_session *s = b->sessions; s; s = s->next)
        json_array_append_new(sessions, session_json(s));
    lv_bridge_reply(call, json_pack("{s:s, s:I, s:o}", "version", VERSION, "pid",
                                    (json_int_t)uv_os_getpid(), "sessions", sessions));
}

/* A profile with a password of its own (General/Password) is only
 * connected by who knows it. */
static int check_profile_password(struct lv_backend *b, const char *profile, const char *given,
                                  struct lv_error *err)
{
    char *pw = NULL;
    int rc = lv_profile_param_get(b->store, profile, "General", "Password", &pw, err);
    if (rc == 0 && *pw && (!given || strcmp(pw, given) != 0))
        rc = lv_error_set(err, LV_ERR_PERM, "wrong or missing profile password (--pwd) for %s",
                          profile);
    free(pw);
    return rc;
}

static void m_connect(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    char *profile = call_profile(b, call, params);
    if (!profile)
        return;
    struct lv_error err;
    int rc = check_profile_password(b, profile, param_str(params, "password"), &err);
    if (rc == 0)
        rc = lv_backend_connect(b, profile, &err);
    reply_rc(call, rc, &err);
    free(profile);
}

static void m_profile_resolve(struct lv_bridge_call *call, json_t *params, void *ud)
{
    char *profile = call_profile(ud, call, params);
    if (profile)
        lv_bridge_reply(call, json_string(profile));
    free(profile);
}

static void m_default_get(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    char *profile = NULL;
    struct lv_error err;
    if (lv_profile_resolve(b->store, NULL, &profile, &err) != 0)
        lv_bridge_reply_error(call, &err);
    else
        lv_bridge_reply(call, json_string(profile));
    free(profile);
}

static void m_default_set(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    if (!need(call, params, "profile"))
        return;
    struct lv_error err;
    reply_rc(call, lv_store_profile_default_set(b->store, param_str(params, "profile"), &err),
             &err);
}

static void m_disconnect(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    char *profile = call_profile(b, call, params);
    if (!profile)
        return;
    struct lv_error err;
    reply_rc(call, lv_backend_disconnect(b, profile, &err), &err);
    free(profile);
}

static void m_is_connected(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    char *profile = call_profile(b, call, params);
    if (!profile)
        return;
    struct lv_session *s = find_session(b, profile);
    lv_bridge_reply(call, json_boolean(s && lv_xmpp_state(s->x) == LV_XMPP_ONLINE));
    free(profile);
}

static void m_profiles_list(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    struct lv_profile_rec *recs = NULL;
    size_t n = 0;
    struct lv_error err;
    if (lv_store_profile_list(b->store, &recs, &n, &err) != 0) {
        lv_bridge_reply_error(call, &err);
        return;
    }
    json_t *clients = json_object_get(params, "clients");
    json_t *components = json_object_get(params, "components");
    bool want_clients = !clients || json_is_true(clients);
    bool want_components = components && json_is_true(components);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (recs[i].component ? want_components : want_clients)
            json_array_append_new(arr, json_string(recs[i].name));
        lv_profile_rec_release(&recs[i]);
    }
    free(recs);
    lv_bridge_reply(call, arr);
}

static void m_profile_create(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    if (!need(call, params, "profile") || !need(call, params, "jid"))
        return;
    json_t *ac = json_object_get(params, "autoconnect");
    struct lv_error err;
    const char *name = param_str(params, "profile");
    int rc = lv_profile_create(b->store, name, param_str(params, "jid"),
                               param_str(params, "xmpp_password"), param_str(params, "component"),
                               ac ? json_is_true(ac) : -1, &err);
    if (rc == 0 && param_str(params, "password"))
        rc = lv_profile_param_set(b->store, name, "General", "Password",
                                  param_str(params, "password"), &err);
    reply_rc(call, rc, &err);
}

static void m_profile_delete(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    if (!need(call, params, "profile"))
        return;
    const char *name = param_str(params, "profile");
    lv_backend_disconnect(b, name, NULL);
    struct lv_error err;
    reply_rc(call, lv_profile_delete(b->store, name, &err), &err);
}

static void m_param_get(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    if (!need(call, params, "category") || !need(call, params, "name"))
        return;
    char *profile = call_profile(b, call, params);
    if (!profile)
        return;
    char *value = NULL;
    struct lv_error err;
    const char *name = param_str(params, "name");
    if (lv_profile_param_get(b->store, profile, param_str(params, "category"), name, &value,
                             &err) != 0)
        lv_bridge_reply_error(call, &err);
    else if (strcmp(name, "Password") == 0 && *value &&
             !json_is_true(json_object_get(params, "reveal")))
        lv_bridge_reply(call, json_string("********")); /* as the reference shows passwords */
    else
        lv_bridge_reply(call, json_string(value));
    free(value);
    free(profile);
}

static void m_param_set(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    if (!need(call, params, "category") || !need(call, params, "name") ||
        !need(call, params, "value"))
        return;
    char *profile = call_profile(b, call, params);
    if (!profile)
        return;
    struct lv_error err;
    int rc = lv_profile_param_set(b->store, profile, param_str(params, "category"),
                                  param_str(params, "name"), param_str(params, "value"), &err);
    reply_rc(call, rc, &err);
    free(profile);
}

static void on_disco_info(struct lv_xmpp *x, const struct lv_disco_info *info,
                          const struct lv_error *err, void *ud)
{
    struct lv_bridge_call *call = ud;
    if (!info) {
        lv_bridge_reply_error(call, err);
        return;
    }
    json_t *ids = json_array(), *features = json_array();
    for (size_t i = 0; i < info->nidentities; i++)
        json_array_append_new(
            ids, json_pack("{s:s, s:s, s:s?}", "category", info->identities[i].category, "type",
                           info->identities[i].type, "name", info->identities[i].name));
    for (size_t i = 0; i < info->nfeatures; i++)
        json_array_append_new(features, json_string(info->features[i]));
    lv_bridge_reply(call, json_pack("{s:o, s:o}", "identities", ids, "features", features));
}

/* discoInfo {profile?, jid, node?}: XEP-0030 disco#info of an entity. */
static void m_disco_info(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    if (!need(call, params, "jid"))
        return;
    char *profile = call_profile(b, call, params);
    if (!profile)
        return;
    struct lv_session *s = find_session(b, profile);
    free(profile);
    if (!s) {
        struct lv_error err;
        lv_error_set(&err, LV_ERR_AGAIN, "the profile is not connected");
        lv_bridge_reply_error(call, &err);
        return;
    }
    lv_disco_query_info(s->x, param_str(params, "jid"), param_str(params, "node"), on_disco_info,
                        call);
}

static void m_shutdown(struct lv_bridge_call *call, json_t *params, void *ud)
{
    lv_bridge_reply(call, json_true());
    lv_backend_shutdown(ud);
}

static const struct lv_bridge_method methods[] = {
    {"getVersion", m_version},
    {"status", m_status},
    {"connect", m_connect},
    {"disconnect", m_disconnect},
    {"isConnected", m_is_connected},
    {"profilesListGet", m_profiles_list},
    {"profileCreate", m_profile_create},
    {"profileDelete", m_profile_delete},
    {"getParam", m_param_get},
    {"setParam", m_param_set},
    {"discoInfo", m_disco_info},
    {"profileResolve", m_profile_resolve},
    {"profileDefaultGet", m_default_get},
    {"profileDefaultSet", m_default_set},
    {"shutdown", m_shutdown},
};

/* ---- lifecycle ---- */

static void on_signal(uv_signal_t *h, int signum)
{
    struct lv_backend *b = h->data;
    lv_info(AREA, "received %s, shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    lv_backend_shutdown(b);
}

static int make_dirs(const char *path, struct lv_error *err)
{
    char *p = lv_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        bool end = (*s == '\0');
        if (*s == '/' || end) {
            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST)
                rc = lv_error_set(err, LV_ERR_IO, "cannot create directory %s: %s", p,
                                  strerror(errno));
            if (end)
                break;
            *s = '/';
        }
    }
    free(p);
    return rc;
}

int lv_backend_init(struct lv_backend *b, uv_loop_t *loop, struct lv_config *cfg,
                    struct lv_error *err)
{
    memset(b, 0, sizeof(*b));
    b->loop = loop;
    b->cfg = cfg;
    int rc = make_dirs(lv_config_str(cfg, "DEFAULT", "local_dir"), err);
    if (rc == 0)
        rc = lv_store_open(lv_config_str(cfg, "storage", "uri"), &b->store, err);
    if (rc == 0)
        rc = lv_bridge_new(loop, lv_config_str(cfg, "bridge", "socket"), &b->bridge, err);
    if (rc != 0)
        return rc;
    lv_bridge_add_methods(b->bridge, methods, LV_ARRAY_LEN(methods), b);
    lv_bridge_ps_register(b);
    lv_bridge_mb_register(b);
    lv_bridge_cache_register(b);
    lv_bridge_ap_register(b);
    struct lv_cache_config cc = {
        strcmp(lv_config_str(cfg, "DEFAULT", "pubsub_cache_strategy"), "no_cache") != 0,
        (unsigned)lv_config_int(cfg, "cache", "sync_max_items"),
        (unsigned)lv_config_int(cfg, "cache", "page_size"),
        (unsigned)lv_config_int(cfg, "cache", "retry_delay"),
        (unsigned)lv_config_int(cfg, "cache", "max_items"),
    };
    b->cache = lv_cache_new(loop, b->store, &cc);
    uv_signal_init(loop, &b->sigterm);
    uv_signal_init(loop, &b->sigint);
    b->sigterm.data = b->sigint.data = b;
    uv_signal_start(&b->sigterm, on_signal, SIGTERM);
    uv_signal_start(&b->sigint, on_signal, SIGINT);
    return 0;
}

int lv_backend_run(struct lv_backend *b)
{
    return uv_run(b->loop, UV_RUN_DEFAULT);
}

void lv_backend_shutdown(struct lv_backend *b)
{
    if (b->stopping)
        return;
    b->stopping = true;
    while (b->sessions) {
        struct lv_session *s = b->sessions;
        b->sessions = s->next;
        session_free(s);
    }
    lv_cache_free(b->cache);
    b->cache = NULL;
    lv_bridge_free(b->bridge);
    b->bridge = NULL;
    uv_close((uv_handle_t *)&b->sigterm, NULL);
    uv_close((uv_handle_t *)&b->sigint, NULL);
}

void lv_backend_release(struct lv_backend *b)
{
    lv_store_close(b->store);
    lv_config_free(b->cfg);
    memset(b, 0, sizeof(*b));
}
