/* pubsub_client: drives lv_pubsub against a real XMPP server (Prosody or
 * ejabberd) and prints one "PASS: …" or "FAIL: …" line per check; exits 1
 * when a check failed, 2 on bad usage or when it could not connect.
 *
 *   pubsub_client --port P --ca CA_FILE [--host 127.0.0.1] [--server NAME]
 *                 [--owner JID --owner-pw PW]     (default louise@example.test)
 *                 [--admin JID --admin-pw PW]     (owner on the component;
 *                                                  default: the owner)
 *                 [--peer JID --peer-pw PW]       (default pierre@example.test)
 *                 [--component JID]               (default pubsub.example.test)
 *                 SCENARIO...
 *
 * Scenarios: pep (node use cases on the owner's PEP service), service (the
 * same on the component), norsm (an RSM request to a service without RSM
 * still gives the items, rsm.present false), rsm (250 items paged with RSM),
 * options-max (publish-options pubsub#max_items=max on a new node).
 * LV_PS_LOG=debug|trace shows the library's log.
 *
 * The program is sequential: each operation runs the loop until its
 * callback came (a test driver may block; the library never does). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "pubsub/lv_pubsub.h"

#define WAIT_MS 20000
#define EVENT_WAIT_MS 5000
#define RSM_ITEMS 250
#define RSM_PAGE 100

struct opts {
    const char *host, *ca, *server, *component;
    unsigned port;
    const char *owner, *owner_pw, *admin, *admin_pw, *peer, *peer_pw;
};

/* An event notification as a listener saw it. */
struct evrec {
    enum lv_ps_event_kind kind;
    char *service, *node;
    char *ids;       /* item ids, comma-separated */
    char *retracted; /* retracted ids, comma-separated */
    size_t with_payload;
    bool seen;
};

struct client {
    const char *label;
    struct lv_xmpp *x;
    enum lv_xmpp_state state;
    struct lv_error last;
    struct evrec *events;
    size_t nev, evcap;
};

/* The outcome of the last operation. */
struct outcome {
    bool done;
    int rc;
    struct lv_error err;
    char *id;
    json_t *json;
    char **ids;
    char **payloads; /* serialized, NULL for an item without payload */
    size_t n, cap;
    struct lv_rsm_res rsm;
};

static uv_loop_t *loop;
static uv_timer_t waker;
static bool woken;
static int failures;
static const char *label = "";
static struct outcome o;

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

/* "rc 0" or "rc -2 item-not-found (msg)", for FAIL lines. */
static const char *outcome_str(void)
{
    static char buf[700];
    if (o.rc == 0)
        snprintf(buf, sizeof(buf), "ok");
    else
        snprintf(buf, sizeof(buf), "rc %d %s (%s)", o.rc, o.err.cond, o.err.msg);
    return buf;
}

/* ---- running the loop ---- */

static void on_waker(uv_timer_t *t)
{
    woken = true;
}

/* Runs the loop until *flag is set or ms have passed; returns *flag. */
static bool spin(const bool *flag, unsigned ms)
{
    woken = false;
    uv_timer_start(&waker, on_waker, ms, 0);
    while (!*flag && !woken)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&waker);
    return *flag;
}

static void reset(void)
{
    free(o.id);
    json_decref(o.json);
    for (size_t i = 0; i < o.n; i++) {
        free(o.ids[i]);
        free(o.payloads[i]);
    }
    free(o.ids);
    free(o.payloads);
    free(o.rsm.first);
    free(o.rsm.last);
    memset(&o, 0, sizeof(o));
    o.rsm.first_index = o.rsm.count = -1;
}

static int await(void)
{
    if (!spin(&o.done, WAIT_MS)) {
        o.rc = LV_ERR_TIMEOUT;
        snprintf(o.err.msg, sizeof(o.err.msg), "no callback in %d ms", WAIT_MS);
    }
    return o.rc;
}

#define RUN(call) (reset(), (call), await())

static void set_err(const struct lv_error *err)
{
    o.done = true;
    if (err) {
        o.err = *err;
        o.rc = err->code ? err->code : LV_ERR_INTERNAL;
    }
}

static void on_done(struct lv_xmpp *x, const char *id, const struct lv_error *err, void *ud)
{
    set_err(err);
    o.id = id ? lv_xstrdup(id) : NULL;
}

static void on_json(struct lv_xmpp *x, json_t *result, const struct lv_error *err, void *ud)
{
    set_err(err);
    o.json = result ? json_incref(result) : NULL;
}

static void on_items(struct lv_xmpp *x, struct lv_ps_items *items, const struct lv_error *err,
                     void *ud)
{
    set_err(err);
    if (!items)
        return;
    o.ids = lv_xcalloc(items->n + 1, sizeof(*o.ids));
    o.payloads = lv_xcalloc(items->n + 1, sizeof(*o.payloads));
    for (size_t i = 0; i < items->n; i++) {
        o.ids[i] = lv_xstrdup(items->items[i].id);
        if (items->items[i].payload)
            o.payloads[i] = lv_xml_to_string(items->items[i].payload, NULL);
    }
    o.n = items->n;
    o.rsm = items->rsm;
    o.rsm.first = items->rsm.first ? lv_xstrdup(items->rsm.first) : NULL;
    o.rsm.last = items->rsm.last ? lv_xstrdup(items->rsm.last) : NULL;
}

static bool has_id(const char *id)
{
    for (size_t i = 0; i < o.n; i++)
        if (strcmp(o.ids[i], id) == 0)
            return true;
    return false;
}

static const char *jstr(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static char *json_text(json_t *j)
{
    return j ? json_dumps(j, JSON_SORT_KEYS | JSON_ENCODE_ANY) : lv_xstrdup("null");
}

/* ---- clients and events ---- */

static char *joined(const char *const *v, size_t n, const struct lv_ps_items *items)
{
    struct lv_buf b = LV_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        lv_buf_addf(&b, "%s%s", i ? "," : "", items ? items->items[i].id : v[i]);
    return lv_buf_detach(&b);
}

static void on_event(struct lv_xmpp *x, const struct lv_ps_event *ev, void *ud)
{
    struct client *c = ud;
    lv_grow((void **)&c->events, &c->evcap, c->nev + 1, sizeof(*c->events));
    struct evrec *r = &c->events[c->nev++];
    memset(r, 0, sizeof(*r));
    r->kind = ev->kind;
    r->service = lv_xstrdup(ev->service ? ev->service : "");
    r->node = lv_xstrdup(ev->node);
    r->ids = joined(NULL, ev->items ? ev->items->n : 0, ev->items);
    r->retracted = joined(ev->retracted, ev->n_retracted, NULL);
    for (size_t i = 0; ev->items && i < ev->items->n; i++)
        if (ev->items->items[i].payload)
            r->with_payload++;
}

/* An event of this kind on node, and naming id (items or retracted) when id
 * is non-NULL. Services send events of their own (the last item on
 * subscription), so a test looks for the one its action caused. */
static bool event_is(const struct evrec *r, enum lv_ps_event_kind kind, const char *node,
                     const char *id)
{
    return r->kind == kind && strcmp(r->node, node) == 0 &&
           (!id || strcmp(r->ids, id) == 0 || strcmp(r->retracted, id) == 0);
}

static struct evrec *find_event(struct client *c, enum lv_ps_event_kind kind, const char *node,
                                const char *id)
{
    for (size_t i = 0; i < c->nev; i++)
        if (!c->events[i].seen && event_is(&c->events[i], kind, node, id))
            return &c->events[i];
    return NULL;
}

static size_t count_events(const struct client *c, enum lv_ps_event_kind kind, const char *node,
                           const char *id)
{
    size_t k = 0;
    for (size_t i = 0; i < c->nev; i++)
        k += event_is(&c->events[i], kind, node, id);
    return k;
}

/* Waits for an unseen matching event; marks it seen. */
static struct evrec *wait_event(struct client *c, enum lv_ps_event_kind kind, const char *node,
                                const char *id)
{
    static const bool never = false;
    for (int waited = 0; waited < EVENT_WAIT_MS; waited += 50) {
        struct evrec *r = find_event(c, kind, node, id);
        if (r) {
            r->seen = true;
            return r;
        }
        spin(&never, 50);
    }
    return NULL;
}

static void on_state(struct lv_xmpp *x, enum lv_xmpp_state state, const struct lv_error *err,
                     void *ud)
{
    struct client *c = ud;
    c->state = state;
    if (err)
        c->last = *err;
}

static struct client *client_new(const struct opts *op, const char *jid, const char *pw)
{
    struct lv_xmpp_config cfg;
    lv_xmpp_config_defaults(&cfg);
    cfg.kind = LV_XMPP_CLIENT;
    cfg.jid = jid;
    cfg.password = pw;
    cfg.host = op->host;
    cfg.port = op->port;
    cfg.ca_file = op->ca;
    cfg.check_certificate = true;
    cfg.iq_timeout_ms = 15000;
    cfg.ping_interval_ms = 0;
    struct client *c = lv_xcalloc(1, sizeof(*c));
    c->label = jid;
    struct lv_error err;
    if (lv_xmpp_new(loop, &cfg, &c->x, &err) != 0) {
        fprintf(stderr, "FAIL: %s: %s\n", jid, err.msg);
        exit(2);
    }
    lv_xmpp_set_state_fn(c->x, on_state, c);
    lv_xmpp_start(c->x);
    return c;
}

static bool is_final(const struct client *c)
{
    return c->state == LV_XMPP_ONLINE || c->state == LV_XMPP_FAILED;
}

static bool connect_all(struct client **cs, size_t n)
{
    static const bool never = false;
    for (int waited = 0; waited < WAIT_MS; waited += 50) {
        size_t ready = 0;
        for (size_t i = 0; i < n; i++)
            ready += is_final(cs[i]);
        if (ready == n)
            break;
        spin(&never, 50);
    }
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        ok &= check(cs[i]->state == LV_XMPP_ONLINE, "%s online (%s %s)", cs[i]->label,
                    lv_xmpp_state_name(cs[i]->state), cs[i]->last.msg);
    return ok;
}

static void client_free(struct client *c)
{
    if (!c)
        return;
    lv_pubsub_off_event(c->x, on_event, c);
    lv_xmpp_free(c->x);
    for (size_t i = 0; i < c->nev; i++) {
        free(c->events[i].service);
        free(c->events[i].node);
        free(c->events[i].ids);
        free(c->events[i].retracted);
    }
    free(c->events);
    free(c);
}

static char *bare(const char *jid)
{
    const char *slash = strchr(jid, '/');
    return slash ? lv_xstrndup(jid, (size_t)(slash - jid)) : lv_xstrdup(jid);
}

static struct lv_xml *payload(const char *title)
{
    struct lv_xml *p = lv_xml_new("entry", "urn:lv:test");
    lv_xml_new_child_text(p, "title", NULL, title);
    return p;
}

static int publish(struct client *c, const char *svc, const char *node, const char *id,
                   const char *title, json_t *options)
{
    struct lv_xml *p = payload(title);
    int rc = RUN(lv_pubsub_publish(c->x, svc, node, id, p, options, on_done, NULL));
    lv_xml_unref(p);
    return rc;
}

static bool expect_error(int code, const char *cond, const char *what)
{
    return check(o.rc == code && strcmp(o.err.cond, cond) == 0, "%s gives %s/%s (got %s)", what,
                 lv_err_str(code), cond, outcome_str());
}

/* ---- scenario: the node use cases ---- */

/* Use cases a server does not implement: the test then checks that the
 * error comes back as such. */
struct quirks {
    bool no_user_affiliations;   /* Prosody 0.12: <affiliations/> (user) */
    bool no_owner_subscriptions; /* ejabberd PEP: manage-subscriptions */
};

struct node_ctx {
    struct client *own, *peer;
    const char *svc;      /* as the owner addresses it (NULL = PEP) */
    const char *peer_svc; /* as the peer addresses it */
    const char *owner_bare, *peer_bare;
    struct quirks q;
    char node[64];
};

static bool node_create(struct node_ctx *n)
{
    /* ejabberd notifies neither deletion nor purge by default */
    json_t *cfg =
        json_pack("{s:s, s:s, s:b, s:b}", "pubsub#access_model", "open", "pubsub#max_items", "10",
                  "pubsub#notify_delete", 1, "pubsub#notify_retract", 1);
    RUN(lv_pubsub_create(n->own->x, n->svc, n->node, cfg, on_done, NULL));
    bool ok = check(o.rc == 0 && o.id && strcmp(o.id, n->node) == 0,
                    "create node %s with config (access_model open, max_items 10, notify_*): %s",
                    n->node, outcome_str());
    RUN(lv_pubsub_create(n->own->x, n->svc, n->node, cfg, on_done, NULL));
    expect_error(LV_ERR_CONFLICT, "conflict", "creating it again");
    json_decref(cfg);
    return ok;
}

static void node_publish_get(struct node_ctx *n)
{
    json_t *po = json_pack("{s:s}", "pubsub#access_model", "open");
    publish(n->own, n->svc, n->node, "one", "first", po);
    check(o.rc == 0 && o.id && strcmp(o.id, "one") == 0,
          "publish 'one' with publish-options access_model=open: %s", outcome_str());
    json_decref(po);

    publish(n->own, n->svc, n->node, NULL, "second", NULL);
    char *gen = o.id ? lv_xstrdup(o.id) : NULL;
    check(o.rc == 0 && gen && *gen && strcmp(gen, "one") != 0,
          "publish without id: the service assigned '%s' (%s)", gen ? gen : "(none)",
          outcome_str());

    const char *ids[] = {"one"};
    RUN(lv_pubsub_get_items(n->own->x, n->svc, n->node, ids, 1, 0, NULL, on_items, NULL));
    check(o.rc == 0 && o.n == 1 && strcmp(o.ids[0], "one") == 0 && o.payloads[0] &&
              strstr(o.payloads[0], "<title>first</title>"),
          "get item 'one' by id: %zu item(s), payload %s (%s)", o.n,
          o.n && o.payloads[0] ? o.payloads[0] : "-", outcome_str());

    publish(n->own, n->svc, n->node, "three", "third", NULL);
    RUN(lv_pubsub_get_items(n->own->x, n->svc, n->node, NULL, 0, 2, NULL, on_items, NULL));
    check(o.rc == 0 && o.n == 2 && has_id("three") && gen && has_id(gen) && !has_id("one"),
          "get the last 2 items: %s%s%s (%s)", o.n > 0 ? o.ids[0] : "-", o.n > 1 ? "," : "",
          o.n > 1 ? o.ids[1] : "", outcome_str());
    free(gen);
}

static void node_config(struct node_ctx *n)
{
    RUN(lv_pubsub_config_get(n->own->x, n->svc, n->node, on_json, NULL));
    json_t *cfg = json_object_get(o.json, "config");
    json_t *meta = json_object_get(json_object_get(o.json, "meta"), "pubsub#access_model");
    check(o.rc == 0 && strcmp(jstr(cfg, "pubsub#access_model"), "open") == 0 &&
              strcmp(jstr(cfg, "pubsub#max_items"), "10") == 0 &&
              strcmp(jstr(meta, "type"), "list-single") == 0,
          "config get: access_model '%s', max_items '%s', access_model type '%s' (%s)",
          jstr(cfg, "pubsub#access_model"), jstr(cfg, "pubsub#max_items"), jstr(meta, "type"),
          outcome_str());

    json_t *set =
        json_pack("{s:s, s:s}", "pubsub#title", "Title & <test>", "pubsub#max_items", "20");
    RUN(lv_pubsub_config_set(n->own->x, n->svc, n->node, set, on_done, NULL));
    check(o.rc == 0, "config set title and max_items: %s", outcome_str());
    json_decref(set);
    RUN(lv_pubsub_config_get(n->own->x, n->svc, n->node, on_json, NULL));
    cfg = json_object_get(o.json, "config");
    check(o.rc == 0 && strcmp(jstr(cfg, "pubsub#title"), "Title & <test>") == 0 &&
              strcmp(jstr(cfg, "pubsub#max_items"), "20") == 0,
          "config round trip: title '%s', max_items '%s'", jstr(cfg, "pubsub#title"),
          jstr(cfg, "pubsub#max_items"));
}

static void node_affiliations(struct node_ctx *n)
{
    RUN(lv_pubsub_affiliations(n->own->x, n->svc, NULL, on_json, NULL));
    char *t = json_text(o.json);
    if (n->q.no_user_affiliations)
        /* Prosody 0.12 has no handler for <affiliations/> in the user
         * namespace: the error must come back as such. */
        expect_error(LV_ERR_PROTO, "service-unavailable", "our affiliations (unsupported)");
    else
        check(o.rc == 0 && strcmp(jstr(o.json, n->node), "owner") == 0,
              "our affiliations include %s as owner: %s (%s)", n->node, t, outcome_str());
    free(t);

    RUN(lv_pubsub_node_affiliations_get(n->own->x, n->svc, n->node, on_json, NULL));
    t = json_text(o.json);
    check(o.rc == 0 && strcmp(jstr(o.json, n->owner_bare), "owner") == 0,
          "node affiliations (owner): %s (%s)", t, outcome_str());
    free(t);

    json_t *set = json_pack("{s:s}", n->peer_bare, "publisher");
    RUN(lv_pubsub_node_affiliations_set(n->own->x, n->svc, n->node, set, on_done, NULL));
    check(o.rc == 0, "set %s publisher: %s", n->peer_bare, outcome_str());
    json_decref(set);
    RUN(lv_pubsub_node_affiliations_get(n->own->x, n->svc, n->node, on_json, NULL));
    t = json_text(o.json);
    check(o.rc == 0 && strcmp(jstr(o.json, n->peer_bare), "publisher") == 0,
          "node affiliations after the set: %s (%s)", t, outcome_str());
    free(t);
    set = json_pack("{s:s}", n->peer_bare, "none");
    RUN(lv_pubsub_node_affiliations_set(n->own->x, n->svc, n->node, set, on_done, NULL));
    check(o.rc == 0, "set %s back to none: %s", n->peer_bare, outcome_str());
    json_decref(set);
}

/* The peer's subscription state on the node, "" if none. */
static const char *peer_subscription(struct node_ctx *n)
{
    RUN(lv_pubsub_subscriptions(n->peer->x, n->peer_svc, n->node, on_json, NULL));
    size_t i;
    json_t *s;
    json_array_foreach(o.json, i, s) if (strcmp(jstr(s, "node"), n->node) == 0 &&
                                         strcmp(jstr(s, "jid"), n->peer_bare) ==
                                             0) return jstr(s, "subscription");
    return "";
}

static bool subscribe_peer(struct node_ctx *n)
{
    RUN(lv_pubsub_subscribe(n->peer->x, n->peer_svc, n->node, NULL, NULL, on_json, NULL));
    return check(o.rc == 0 && strcmp(jstr(o.json, "subscription"), "subscribed") == 0,
                 "%s subscribes: '%s' (%s)", n->peer_bare, jstr(o.json, "subscription"),
                 outcome_str());
}

static void node_subscriptions(struct node_ctx *n)
{
    subscribe_peer(n);
    const char *state = peer_subscription(n);
    check(o.rc == 0 && strcmp(state, "subscribed") == 0, "subscriptions list it: '%s' (%s)", state,
          outcome_str());

    RUN(lv_pubsub_node_subscriptions_get(n->own->x, n->svc, n->node, on_json, NULL));
    if (n->q.no_owner_subscriptions)
        expect_error(LV_ERR_PROTO, "unsupported", "node subscriptions (unsupported)");
    char *t = json_text(o.json);
    bool found = false;
    size_t i;
    json_t *s;
    json_array_foreach(o.json, i, s) found |= strcmp(jstr(s, "jid"), n->peer_bare) == 0 &&
                                              strcmp(jstr(s, "subscription"), "subscribed") == 0;
    if (!n->q.no_owner_subscriptions)
        check(o.rc == 0 && found, "node subscriptions (owner): %s (%s)", t, outcome_str());
    free(t);

    RUN(lv_pubsub_unsubscribe(n->peer->x, n->peer_svc, n->node, NULL, NULL, on_done, NULL));
    check(o.rc == 0, "%s unsubscribes: %s", n->peer_bare, outcome_str());
    state = peer_subscription(n);
    check(o.rc == 0 && strcmp(state, "subscribed") != 0,
          "subscriptions no longer list it: '%s' (%s)", state, outcome_str());
}

static void node_events(struct node_ctx *n)
{
    if (!subscribe_peer(n))
        return;
    publish(n->own, n->svc, n->node, "four", "fourth", NULL);
    struct evrec *e = wait_event(n->peer, LV_PS_EV_ITEMS, n->node, "four");
    check(e && strcmp(e->ids, "four") == 0 && e->with_payload == 1 &&
              strcmp(e->service, n->peer_svc) == 0,
          "%s gets the items event: ids '%s', %zu payload(s), from %s", n->peer_bare,
          e ? e->ids : "-", e ? e->with_payload : 0, e ? e->service : "-");
    /* on_event was registered twice with the same (fn, ud): one call */
    check(count_events(n->peer, LV_PS_EV_ITEMS, n->node, "four") == 1,
          "the event reached the listener once (%zu)",
          count_events(n->peer, LV_PS_EV_ITEMS, n->node, "four"));

    RUN(lv_pubsub_retract(n->own->x, n->svc, n->node, "four", true, on_done, NULL));
    check(o.rc == 0, "retract 'four' with notify: %s", outcome_str());
    e = wait_event(n->peer, LV_PS_EV_RETRACT, n->node, "four");
    check(e && strcmp(e->retracted, "four") == 0, "%s gets the retract event: '%s'", n->peer_bare,
          e ? e->retracted : "-");
    const char *ids[] = {"four"};
    RUN(lv_pubsub_get_items(n->own->x, n->svc, n->node, ids, 1, 0, NULL, on_items, NULL));
    check((o.rc == 0 && o.n == 0) || o.rc == LV_ERR_NOT_FOUND,
          "the retracted item is gone: %zu item(s) (%s)", o.n, outcome_str());

    RUN(lv_pubsub_purge(n->own->x, n->svc, n->node, on_done, NULL));
    check(o.rc == 0, "purge: %s", outcome_str());
    e = wait_event(n->peer, LV_PS_EV_PURGE, n->node, NULL);
    check(e != NULL, "%s gets the purge event", n->peer_bare);
    RUN(lv_pubsub_get_items(n->own->x, n->svc, n->node, NULL, 0, 0, NULL, on_items, NULL));
    check(o.rc == 0 && o.n == 0, "no item left after the purge: %zu (%s)", o.n, outcome_str());

    RUN(lv_pubsub_delete_node(n->own->x, n->svc, n->node, on_done, NULL));
    check(o.rc == 0, "delete node: %s", outcome_str());
    e = wait_event(n->peer, LV_PS_EV_DELETE, n->node, NULL);
    check(e != NULL, "%s gets the delete event", n->peer_bare);
    RUN(lv_pubsub_get_items(n->own->x, n->svc, n->node, NULL, 0, 0, NULL, on_items, NULL));
    expect_error(LV_ERR_NOT_FOUND, "item-not-found", "get items of the deleted node");
}

static void node_precondition(struct node_ctx *n)
{
    /* The node is open: requiring another access model must fail. */
    json_t *po = json_pack("{s:s}", "pubsub#access_model", "whitelist");
    publish(n->own, n->svc, n->node, "five", "fifth", po);
    expect_error(LV_ERR_CONFLICT, "precondition-not-met",
                 "publish-options that the node does not meet");
    json_decref(po);
}

static void scenario_nodes(struct client *own, struct client *peer, const char *svc,
                           const char *tag, struct quirks q)
{
    char *owner_bare = bare(lv_xmpp_jid(own->x));
    char *peer_bare = bare(lv_xmpp_jid(peer->x));
    struct node_ctx n = {own, peer, svc, svc ? svc : owner_bare, owner_bare, peer_bare, q, ""};
    snprintf(n.node, sizeof(n.node), "lv-test-%s", tag);
    RUN(lv_pubsub_get_items(own->x, svc, "lv-test-missing", NULL, 0, 0, NULL, on_items, NULL));
    expect_error(LV_ERR_NOT_FOUND, "item-not-found", "get items of a missing node");
    if (node_create(&n)) {
        node_publish_get(&n);
        node_config(&n);
        node_affiliations(&n);
        node_subscriptions(&n);
        node_precondition(&n);
        node_events(&n);
    }
    free(owner_bare);
    free(peer_bare);
}

/* ---- scenario: publish-options pubsub#max_items=max ---- */

/* Publishes m1 to a new node with publish-options access_model=open and
 * max_items=max, falling back to a number and then to no max_items, as a
 * client must on a service that refuses them; returns the options used
 * (NULL if none worked). */
static json_t *publish_creating(struct client *own, const char *svc, const char *node)
{
    static const char *const max[] = {"max", "256", NULL};
    for (size_t i = 0; i < LV_ARRAY_LEN(max); i++) {
        json_t *po = json_pack("{s:s}", "pubsub#access_model", "open");
        if (max[i])
            json_object_set_new(po, "pubsub#max_items", json_string(max[i]));
        publish(own, svc, node, "m1", "first", po);
        note("publish-options access_model=open, max_items=%s on a new node: %s",
             max[i] ? max[i] : "(none)", outcome_str());
        if (o.rc == 0)
            return po;
        json_decref(po);
    }
    return NULL;
}

static void scenario_options_max(struct client *own, const char *svc, const char *tag)
{
    char node[64];
    snprintf(node, sizeof(node), "lv-test-%s-max", tag);
    json_t *po = publish_creating(own, svc, node);
    if (!check(po != NULL, "publish with publish-options creates %s", node))
        return;
    publish(own, svc, node, "m2", "second", po);
    check(o.rc == 0, "publishing again with the same publish-options: %s", outcome_str());
    if (!json_object_get(po, "pubsub#max_items")) {
        json_t *set = json_pack("{s:s}", "pubsub#max_items", "max");
        RUN(lv_pubsub_config_set(own->x, svc, node, set, on_done, NULL));
        note("node configuration max_items=max instead: %s", outcome_str());
        json_decref(set);
    }
    RUN(lv_pubsub_config_get(own->x, svc, node, on_json, NULL));
    json_t *cfg = json_object_get(o.json, "config");
    check(o.rc == 0 && strcmp(jstr(cfg, "pubsub#access_model"), "open") == 0,
          "the node got access_model '%s', max_items '%s' (%s)", jstr(cfg, "pubsub#access_model"),
          jstr(cfg, "pubsub#max_items"), outcome_str());
    RUN(lv_pubsub_delete_node(own->x, svc, node, on_done, NULL));
    check(o.rc == 0, "delete %s: %s", node, outcome_str());
    json_decref(po);
}

/* ---- scenario: RSM ---- */

static size_t published;

static void on_bulk(struct lv_xmpp *x, const char *id, const struct lv_error *err, void *ud)
{
    if (err)
        check(false, "publish %s: %s", (const char *)ud, err->msg);
    published++;
}

static bool create_open(struct client *own, const char *svc, const char *node, const char *max)
{
    json_t *cfg = json_pack("{s:s, s:s}", "pubsub#access_model", "open", "pubsub#max_items", max);
    RUN(lv_pubsub_create(own->x, svc, node, cfg, on_done, NULL));
    json_decref(cfg);
    return check(o.rc == 0, "create %s (max_items %s): %s", node, max, outcome_str());
}

/* Publishes n items rsm-000… all at once (the server keeps their order). */
static bool publish_many(struct client *own, const char *svc, const char *node, size_t n,
                         char **ids)
{
    published = 0;
    for (size_t i = 0; i < n; i++) {
        ids[i] = lv_xasprintf("rsm-%03zu", i);
        struct lv_xml *p = payload(ids[i]);
        lv_pubsub_publish(own->x, svc, node, ids[i], p, NULL, on_bulk, ids[i]);
        lv_xml_unref(p);
    }
    bool all = false;
    for (int waited = 0; waited < WAIT_MS && !all; waited += 50) {
        static const bool never = false;
        spin(&never, 50);
        all = published == n;
    }
    return check(all, "published %zu items (%zu answered)", n, published);
}

/* Pages forward with max=RSM_PAGE, after=last; appends ids to got. */
static void page_forward(struct client *own, const char *svc, const char *node, char **got,
                         size_t *ngot)
{
    char *after = NULL;
    for (int page = 0; page < 10 && *ngot < RSM_ITEMS; page++) {
        struct lv_rsm_req rsm = {RSM_PAGE, after, NULL, -1};
        size_t want = RSM_ITEMS - *ngot < RSM_PAGE ? RSM_ITEMS - *ngot : RSM_PAGE;
        RUN(lv_pubsub_get_items(own->x, svc, node, NULL, 0, 0, &rsm, on_items, NULL));
        check(o.rc == 0 && o.rsm.present && o.rsm.count == RSM_ITEMS &&
                  o.rsm.first_index == (long)*ngot && o.n == want,
              "page %d after %s: %zu items, count %ld, first index %ld, last %s (%s)", page,
              after ? after : "-", o.n, o.rsm.count, o.rsm.first_index,
              o.rsm.last ? o.rsm.last : "-", outcome_str());
        free(after);
        after = o.rsm.last ? lv_xstrdup(o.rsm.last) : NULL;
        for (size_t i = 0; i < o.n && *ngot < RSM_ITEMS * 2; i++)
            got[(*ngot)++] = lv_xstrdup(o.ids[i]);
        if (o.rc != 0 || o.n == 0 || !after)
            break;
    }
    free(after);
}

/* Same order as published, or its exact reverse; each id once. */
static int order_of(char **got, size_t ngot, char **ids)
{
    if (ngot != RSM_ITEMS)
        return 0;
    bool fwd = true, rev = true;
    for (size_t i = 0; i < RSM_ITEMS; i++) {
        fwd &= strcmp(got[i], ids[i]) == 0;
        rev &= strcmp(got[i], ids[RSM_ITEMS - 1 - i]) == 0;
    }
    return fwd ? 1 : rev ? -1 : 0;
}

static void scenario_rsm(struct client *own, const char *svc)
{
    const char *node = "lv-test-rsm";
    char *ids[RSM_ITEMS] = {0}, *got[RSM_ITEMS * 2] = {0};
    size_t ngot = 0;
    if (create_open(own, svc, node, "1000") && publish_many(own, svc, node, RSM_ITEMS, ids)) {
        page_forward(own, svc, node, got, &ngot);
        int order = order_of(got, ngot, ids);
        check(order != 0, "all %d ids came back exactly once, in order (%zu received, %s)",
              RSM_ITEMS, ngot,
              order > 0   ? "oldest first"
              : order < 0 ? "newest first"
                          : "-");
        struct lv_rsm_req rsm = {RSM_PAGE, NULL, "", -1};
        RUN(lv_pubsub_get_items(own->x, svc, node, NULL, 0, 0, &rsm, on_items, NULL));
        bool same = o.rc == 0 && o.n == RSM_PAGE && ngot == RSM_ITEMS;
        for (size_t i = 0; same && i < o.n; i++)
            same = strcmp(o.ids[i], got[RSM_ITEMS - RSM_PAGE + i]) == 0;
        check(same && o.rsm.first_index == RSM_ITEMS - RSM_PAGE && o.rsm.count == RSM_ITEMS,
              "before '' gives the last page: %zu items from %s, first index %ld (%s)", o.n,
              o.n ? o.ids[0] : "-", o.rsm.first_index, outcome_str());
        RUN(lv_pubsub_delete_node(own->x, svc, node, on_done, NULL));
    }
    for (size_t i = 0; i < RSM_ITEMS; i++)
        free(ids[i]);
    for (size_t i = 0; i < ngot; i++)
        free(got[i]);
}

/* An RSM request to a service without RSM: the items, and no RSM answer. */
static void scenario_norsm(struct client *own, const char *svc, const char *tag)
{
    char node[64];
    char *ids[5] = {0};
    snprintf(node, sizeof(node), "lv-test-%s-norsm", tag);
    if (create_open(own, svc, node, "10") && publish_many(own, svc, node, 5, ids)) {
        struct lv_rsm_req rsm = {2, NULL, NULL, -1};
        RUN(lv_pubsub_get_items(own->x, svc, node, NULL, 0, 0, &rsm, on_items, NULL));
        check(o.rc == 0 && o.n >= 2 && !o.rsm.present,
              "get with RSM max=2: %zu items, rsm.present %s (%s)", o.n,
              o.rsm.present ? "true" : "false", outcome_str());
        RUN(lv_pubsub_delete_node(own->x, svc, node, on_done, NULL));
    }
    for (size_t i = 0; i < 5; i++)
        free(ids[i]);
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr, "usage: pubsub_client --port P --ca CA [--host H] [--server NAME] "
                    "[--owner JID --owner-pw PW] [--admin JID --admin-pw PW] "
                    "[--peer JID --peer-pw PW] [--component JID] "
                    "pep|service|norsm|rsm|options-max...\n");
    exit(2);
}

static int parse_opts(int argc, char **argv, struct opts *op)
{
    *op = (struct opts){
        "127.0.0.1", NULL, "xmpp", "pubsub.example.test", 0,          "louise@example.test",
        "louise-pw", NULL, NULL,   "pierre@example.test", "pierre-pw"};
    struct {
        const char *name;
        const char **dst;
    } table[] = {
        {"--host", &op->host},     {"--ca", &op->ca},
        {"--server", &op->server}, {"--component", &op->component},
        {"--owner", &op->owner},   {"--owner-pw", &op->owner_pw},
        {"--admin", &op->admin},   {"--admin-pw", &op->admin_pw},
        {"--peer", &op->peer},     {"--peer-pw", &op->peer_pw},
    };
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc)
            usage();
        bool known = false;
        if (strcmp(argv[i], "--port") == 0) {
            op->port = (unsigned)strtoul(argv[i + 1], NULL, 10);
            known = true;
        }
        for (size_t k = 0; k < LV_ARRAY_LEN(table); k++)
            if (strcmp(argv[i], table[k].name) == 0) {
                *table[k].dst = argv[i + 1];
                known = true;
            }
        if (!known)
            usage();
    }
    if (!op->port || !op->ca || i >= argc)
        usage();
    if (!op->admin) {
        op->admin = op->owner;
        op->admin_pw = op->owner_pw;
    }
    return i;
}

static void run_scenario(const char *name, const struct opts *op, struct client *own,
                         struct client *admin, struct client *peer)
{
    char buf[64];
    bool prosody = strcmp(op->server, "prosody") == 0;
    snprintf(buf, sizeof(buf), "%s %s", op->server, name);
    label = buf;
    if (strcmp(name, "pep") == 0)
        scenario_nodes(own, peer, NULL, "pep", (struct quirks){prosody, !prosody});
    else if (strcmp(name, "service") == 0)
        scenario_nodes(admin, peer, op->component, "service", (struct quirks){prosody, false});
    else if (strcmp(name, "norsm") == 0) {
        scenario_norsm(own, NULL, "pep");
        scenario_norsm(admin, op->component, "service");
    } else if (strcmp(name, "rsm") == 0)
        scenario_rsm(admin, op->component);
    else if (strcmp(name, "options-max") == 0) {
        scenario_options_max(own, NULL, "pep");
        scenario_options_max(admin, op->component, "service");
    } else
        usage();
}

int main(int argc, char **argv)
{
    struct opts op;
    int first = parse_opts(argc, argv, &op);
    const char *lvl = getenv("LV_PS_LOG");
    lv_log_set_level(lvl ? lv_log_level_parse(lvl) : LV_LOG_WARN);
    loop = uv_default_loop();
    uv_timer_init(loop, &waker);

    struct client *own = client_new(&op, op.owner, op.owner_pw);
    struct client *peer = client_new(&op, op.peer, op.peer_pw);
    struct client *admin =
        strcmp(op.admin, op.owner) == 0 ? own : client_new(&op, op.admin, op.admin_pw);
    lv_pubsub_on_event(peer->x, on_event, peer);
    lv_pubsub_on_event(peer->x, on_event, peer); /* a second time is a no-op */

    label = op.server;
    struct client *all[] = {own, peer, admin};
    if (connect_all(all, admin == own ? 2 : 3))
        for (int i = first; i < argc; i++)
            run_scenario(argv[i], &op, own, admin, peer);

    reset();
    if (admin != own)
        client_free(admin);
    client_free(own);
    client_free(peer);
    uv_close((uv_handle_t *)&waker, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "DONE", failures);
    return failures ? 1 : 0;
}
