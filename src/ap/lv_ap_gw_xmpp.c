/* The gateway's XMPP side: the pubsub service of virtual JIDs (fediverse
 * actors' outboxes as XEP-0277 nodes, subscriptions as Follows), the relay
 * of local users' blog events to their fediverse followers, and the
 * subscriptions of virtual JIDs to local nodes. */
#include "ap/lv_ap_gw_priv.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "blog/lv_mb.h"
#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "pubsub/lv_pubsub.h"
#include "store/lv_store_cache.h"
#include "xml/lv_xml.h"
#include "xmpp/lv_disco.h"
#include "xmpp/lv_jid.h"

#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_PUBSUB_EVENT "http://jabber.org/protocol/pubsub#event"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define OUTBOX_PAGES_MAX 20
#define REMOTE_FRESH_S 900 /* an outbox read into the cache is reused this long */
#define OLD_ITEM_S 300     /* an unknown item older than this is not announced */

/* ---- local items as Notes ---- */

/* The post data of a local item (its payload an Atom entry), or NULL. */
static json_t *mb_of_item(const char *jid, const char *node, const struct lv_ps_item *it)
{
    json_t *mb = NULL;
    if (!it->payload ||
        lv_mb_data_from_entry(it->payload, jid, node ? node : LV_NS_MICROBLOG, it->id,
                              lv_mb_item_publisher(jid, it->publisher), &mb, NULL) != 0)
        return NULL;
    return mb;
}

static json_t *note_of_mb(struct lv_ap_gw *gw, const char *account, const char *item_id, json_t *mb,
                          const struct lv_ap_mention *mentions, size_t n_mentions)
{
    char *object_id = gw_url(gw, LV_AP_URL_ITEM, account, item_id);
    char *actor = gw_actor_url(gw, account);
    char *followers = gw_url(gw, LV_AP_URL_FOLLOWERS, account, NULL);
    struct lv_ap_note_ctx ctx = {
        .object_id = object_id,
        .actor = actor,
        .followers = followers,
        .is_public = true,
        .mentions = mentions,
        .n_mentions = n_mentions,
    };
    json_t *note = object_id && actor ? lv_ap_note_from_mb(mb, &ctx, NULL) : NULL;
    free(object_id);
    free(actor);
    free(followers);
    return note;
}

json_t *gw_note_of_item(struct lv_ap_gw *gw, const char *account, const char *jid, const char *node,
                        const struct lv_ps_item *it)
{
    json_t *mb = mb_of_item(jid, node, it);
    json_t *note = mb ? note_of_mb(gw, account, it->id, mb, NULL, 0) : NULL;
    json_decref(mb);
    return note;
}

/* ---- outgoing: local blog events to fediverse followers ---- */

/* Inboxes of the accepted followers of (jid, node): shared inboxes when the
 * actors have one. *n entries, each freed, then the array. */
static char **follower_inboxes(struct lv_ap_gw *gw, const char *jid, const char *node, size_t *n)
{
    struct lv_ap_follow_rec *recs = NULL;
    size_t nrec = 0;
    *n = 0;
    if (lv_store_ap_follow_list(gw->st, LV_AP_FOLLOWER, jid, node, NULL, LV_AP_FOLLOW_ACCEPTED, 0,
                                0, &recs, &nrec, NULL) != 0)
        return NULL;
    char **out = lv_xcalloc(nrec + 1, sizeof(*out));
    for (size_t i = 0; i < nrec; i++) {
        struct lv_ap_actor_rec a = {0};
        if (lv_store_ap_actor_get(gw->st, recs[i].remote, &a, NULL) == 0) {
            out[(*n)++] = lv_xstrdup(a.shared_inbox ? a.shared_inbox : a.inbox);
            lv_ap_actor_rec_release(&a);
        } else {
            lv_warn(AP_AREA, "follower %s of %s is not in the actor table: skipped", recs[i].remote,
                    jid);
        }
        lv_ap_follow_rec_release(&recs[i]);
    }
    free(recs);
    return out;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Was this exact payload relayed in the last minutes? Marks it. */
static bool seen_recently(struct lv_ap_gw *gw, const char *service, const char *node,
                          const struct lv_ps_item *it)
{
    char *xml = it->payload ? lv_xml_to_string(it->payload, NULL) : lv_xstrdup("");
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)xml, strlen(xml), md);
    free(xml);
    struct lv_buf k;
    lv_buf_init(&k);
    lv_buf_addf(&k, "%s\n%s\n%s\n", service, node, it->id);
    for (size_t i = 0; i < 8; i++)
        lv_buf_addf(&k, "%02x", md[i]);
    bool seen = lv_map_get(&gw->recent, k.data) != NULL;
    if (!seen) {
        struct gw_stamp *s = lv_xcalloc(1, sizeof(*s));
        s->expires = (int64_t)time(NULL) + 600;
        lv_map_put(&gw->recent, k.data, s);
    }
    lv_buf_release(&k);
    return seen;
}

static int64_t entry_date(const struct lv_xml *entry, const char *name)
{
    int64_t t = 0;
    char *s = entry ? lv_xml_child_text(entry, name, LV_NS_ATOM) : NULL;
    if (s)
        lv_mb_parse_date(s, &t);
    free(s);
    return t;
}

/* A local item on its way to the fediverse: the accounts it mentions are
 * looked up first (auto_mentions), then the Note goes to the followers'
 * inboxes and to the mentioned actors'. */
struct relay {
    struct lv_ap_gw *gw;
    char *account, *node, *type, *object_id, *item_id;
    json_t *mb; /* the post */
    char **inboxes;
    size_t n, cap;
    struct lv_ap_mention *mentions;
    size_t nm;
    unsigned pending;
};

#define MENTIONS_MAX 10

static void relay_add_inbox(struct relay *r, const char *inbox)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 8;
        r->inboxes = lv_xrealloc(r->inboxes, r->cap * sizeof(*r->inboxes));
    }
    r->inboxes[r->n++] = lv_xstrdup(inbox);
}

static void relay_free(struct relay *r)
{
    for (size_t i = 0; i < r->nm; i++) {
        free((char *)r->mentions[i].href);
        free((char *)r->mentions[i].name);
    }
    free(r->mentions);
    free_strv(r->inboxes, r->n);
    free(r->item_id);
    json_decref(r->mb);
    free(r->account);
    free(r->node);
    free(r->type);
    free(r->object_id);
    free(r);
}

static void relay_finish(struct relay *r)
{
    struct lv_ap_gw *gw = r->gw;
    json_t *note = note_of_mb(gw, r->account, r->item_id, r->mb, r->mentions, r->nm);
    if (note && r->n) {
        char *actor = gw_actor_url(gw, r->account);
        char *aid = lv_ap_new_activity_id(actor, r->type);
        json_t *act = lv_ap_activity_new(aid, r->type, actor, note, json_object_get(note, "to"),
                                         json_object_get(note, "cc"));
        gw_deliver(gw, r->account, act, (const char *const *)r->inboxes, r->n);
        lv_store_ap_object_put(gw->st, r->account, r->node, r->item_id, r->object_id, false,
                               (int64_t)time(NULL), NULL);
        gw->relayed_out++;
        lv_info(AP_AREA, "%s: %s of %s sent to %zu inboxes (%zu mentioned accounts)", r->account,
                r->type, r->item_id, r->n, r->nm);
        json_decref(act);
        free(aid);
        free(actor);
    }
    json_decref(note);
    relay_free(r);
}

static void mention_actor(const struct lv_ap_actor *actor, const struct lv_error *err, void *ud)
{
    struct relay *r = ud;
    if (actor && actor->rec.account) {
        struct lv_ap_mention *m = &r->mentions[r->nm++];
        m->href = lv_xstrdup(actor->rec.id);
        m->name = lv_xasprintf("@%s", actor->rec.account);
        m->alias = NULL;
        relay_add_inbox(r, actor->rec.shared_inbox ? actor->rec.shared_inbox : actor->rec.inbox);
    } else if (err) {
        lv_debug(AP_AREA, "%s: a mention is not a fediverse account: %s", r->account, err->msg);
    }
    if (--r->pending == 0)
        relay_finish(r);
}

static bool handle_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* "@user@host.tld" handles written in text (not local ones), at most max;
 * each caller-freed, without the leading '@'. */
static size_t find_handles(struct lv_ap_gw *gw, const char *text, char **out, size_t max)
{
    size_t n = 0;
    for (const char *p = text; p && *p && n < max; p++) {
        if (*p != '@' ||
            (p > text && (handle_char((unsigned char)p[-1]) || p[-1] == '@' || p[-1] == '/')))
            continue;
        const char *u = p + 1, *e = u;
        while (handle_char((unsigned char)*e))
            e++;
        if (e == u || *e != '@')
            continue;
        const char *h = e + 1, *he = h;
        while (handle_char((unsigned char)*he) && *he != '_')
            he++;
        while (he > h && (he[-1] == '.' || he[-1] == '-'))
            he--;
        char *host = lv_xstrndup(h, (size_t)(he - h));
        bool ok =
            strchr(host, '.') && !lv_ap_is_local(&gw->addr, host) && strcasecmp(host, gw->jid) != 0;
        free(host);
        if (!ok)
            continue;
        char *handle = lv_xstrndup(u, (size_t)(he - u));
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcasecmp(out[i], handle) == 0;
        if (dup)
            free(handle);
        else
            out[n++] = handle;
        p = he - 1;
    }
    return n;
}

static void relay_item(struct lv_ap_gw *gw, const char *account, const char *jid, const char *node,
                       const struct lv_ps_item *it, char **inboxes, size_t n)
{
    int64_t now = (int64_t)time(NULL);
    struct lv_ap_object_rec obj = {0};
    bool known = lv_store_ap_object_get(gw->st, account, node, it->id, &obj, NULL) == 0;
    int64_t updated = entry_date(it->payload, "updated");
    int64_t published = entry_date(it->payload, "published");
    char *object_id = gw_url(gw, LV_AP_URL_ITEM, account, it->id);
    if (!object_id || !it->payload)
        goto out;
    if (known && !obj.deleted && updated && updated < obj.updated) {
        /* the service resending the last item (on a new subscription); an
         * edit made in the second of the last sending is told apart by
         * seen_recently() */
        goto out;
    }
    if (!known && published && published < now - OLD_ITEM_S) {
        lv_debug(AP_AREA, "%s: item %s is old and was never announced: recorded only", account,
                 it->id);
        lv_store_ap_object_put(gw->st, account, node, it->id, object_id, false, now, NULL);
        goto out;
    }
    json_t *mb = mb_of_item(jid, node, it);
    if (!mb) {
        lv_debug(AP_AREA, "%s: item %s is not a blog post: not relayed", account, it->id);
        goto out;
    }
    struct relay *r = lv_xcalloc(1, sizeof(*r));
    r->gw = gw;
    r->account = lv_xstrdup(account);
    r->node = lv_xstrdup(node);
    r->type = lv_xstrdup(known && !obj.deleted ? "Update" : "Create");
    r->object_id = object_id;
    object_id = NULL;
    r->item_id = lv_xstrdup(it->id);
    r->mb = mb;
    for (size_t i = 0; i < n; i++)
        relay_add_inbox(r, inboxes[i]);
    char *handles[MENTIONS_MAX];
    size_t nh = 0;
    if (gw->auto_mentions) {
        const char *title = json_string_value(json_object_get(mb, "title"));
        const char *content = json_string_value(json_object_get(mb, "content"));
        char *text = lv_xasprintf("%s\n%s", title ? title : "", content ? content : "");
        nh = find_handles(gw, text, handles, MENTIONS_MAX);
        free(text);
    }
    if (nh == 0 || gw->closing) {
        for (size_t i = 0; i < nh; i++)
            free(handles[i]);
        relay_finish(r);
        goto out;
    }
    r->mentions = lv_xcalloc(nh, sizeof(*r->mentions));
    r->pending = (unsigned)nh;
    for (size_t i = 0; i < nh; i++) {
        lv_ap_actors_by_account(gw->actors, handles[i], mention_actor, r);
        free(handles[i]);
    }
out:
    free(object_id);
    lv_ap_object_rec_release(&obj);
}

static void relay_retract(struct lv_ap_gw *gw, const char *account, const char *node,
                          const char *item_id, char **inboxes, size_t n)
{
    struct lv_ap_object_rec obj = {0};
    if (lv_store_ap_object_get(gw->st, account, node, item_id, &obj, NULL) != 0 || obj.deleted) {
        lv_ap_object_rec_release(&obj);
        return;
    }
    char *actor = gw_actor_url(gw, account);
    char *aid = lv_ap_new_activity_id(actor, "Delete");
    json_t *tomb = json_pack("{s:s, s:s}", "id", obj.object_id, "type", "Tombstone");
    json_t *to = json_pack("[s]", LV_AP_PUBLIC);
    json_t *act = lv_ap_activity_new(aid, "Delete", actor, tomb, to, NULL);
    gw_deliver(gw, account, act, (const char *const *)inboxes, n);
    lv_store_ap_object_put(gw->st, account, node, item_id, obj.object_id, true, (int64_t)time(NULL),
                           NULL);
    lv_info(AP_AREA, "%s: Delete of %s sent to %zu inboxes", account, item_id, n);
    json_decref(act);
    json_decref(to);
    json_decref(tomb);
    free(aid);
    free(actor);
    lv_ap_object_rec_release(&obj);
}

static void on_event(struct lv_xmpp *x, const struct lv_ps_event *ev, void *ud)
{
    struct lv_ap_gw *gw = ud;
    struct lv_jid j;
    if (!ev->service || !ev->node || lv_jid_parse_str(ev->service, &j, NULL) != 0)
        return;
    bool local =
        j.local && lv_ap_is_local(&gw->addr, j.domain) && !lv_ap_is_virtual_jid(&gw->addr, &j);
    char *jid = local ? lv_jid_bare(&j) : NULL;
    char *account = NULL;
    const char *node = ev->node;
    if (local && strcmp(node, LV_NS_MICROBLOG) == 0 &&
        lv_ap_account_from_jid(&gw->addr, &j, NULL, &account, NULL) == 0) {
        size_t n = 0;
        char **inboxes = follower_inboxes(gw, jid, node, &n);
        if ((n || gw->auto_mentions) && ev->kind == LV_PS_EV_ITEMS && ev->items)
            for (size_t i = 0; i < ev->items->n; i++)
                if (!seen_recently(gw, jid, node, &ev->items->items[i]))
                    relay_item(gw, account, jid, node, &ev->items->items[i], inboxes, n);
        for (size_t i = 0; n && i < ev->n_retracted; i++)
            relay_retract(gw, account, node, ev->retracted[i], inboxes, n);
        free_strv(inboxes, n);
    }
    free(account);
    free(jid);
    lv_jid_release(&j);
    (void)x;
}

/* ---- subscriptions of virtual JIDs to local nodes ---- */

struct sub_ctx {
    struct lv_ap_gw *gw;
    gw_done_fn fn;
    void *ud;
};

static void on_sub_answer(struct lv_xmpp *x, struct lv_xml *reply, const struct lv_error *err,
                          void *ud)
{
    struct sub_ctx *c = ud;
    if (c->fn)
        c->fn(c->gw, err, c->ud);
    free(c);
    (void)x, (void)reply;
}

void gw_xmpp_follow_local(struct lv_ap_gw *gw, const char *follower_account, const char *jid,
                          const char *node, bool subscribe, gw_done_fn fn, void *ud)
{
    char *vjid = gw_virtual_jid(gw, follower_account);
    struct sub_ctx *c = lv_xcalloc(1, sizeof(*c));
    c->gw = gw;
    c->fn = fn;
    c->ud = ud;
    if (!vjid || !gw->online) {
        struct lv_error err;
        lv_error_set(&err, vjid ? LV_ERR_AGAIN : LV_ERR_INVAL,
                     vjid ? "the gateway is not connected" : "no virtual JID for the follower");
        on_sub_answer(gw->x, NULL, &err, c);
        free(vjid);
        return;
    }
    struct lv_xml *iq = lv_xmpp_iq_new("set", jid);
    lv_xml_set_attr(iq, "from", vjid);
    struct lv_xml *ps = lv_xml_new_child(iq, "pubsub", NS_PUBSUB);
    struct lv_xml *op = lv_xml_new_child(ps, subscribe ? "subscribe" : "unsubscribe", NULL);
    lv_xml_set_attr(op, "node", node);
    lv_xml_set_attr(op, "jid", vjid);
    lv_xmpp_send_iq(gw->x, iq, 0, on_sub_answer, c);
    lv_debug(AP_AREA, "%s %s to %s %s", vjid, subscribe ? "subscribes" : "unsubscribes", jid, node);
    free(vjid);
}

/* ---- the virtual pubsub service: remote items into the cache ---- */

static int cache_node(struct lv_ap_gw *gw, const char *vjid, struct lv_store_cache_node *out)
{
    struct lv_store_cache_node_info info = {
        .analyser = "XEP-0277", .type = "blog", .extra = "{\"ap_gateway\": true}"};
    return lv_store_cache_node_ensure(gw->st, gw->profile, vjid, LV_NS_MICROBLOG, &info, out, NULL,
                                      NULL);
}

/* Stores an incoming post (mb: post data) as an item of the virtual node;
 * the item's XML (caller frees) in *xml_out when non-NULL. */
static int cache_post(struct lv_ap_gw *gw, int64_t node_id, const char *vjid, const char *item_id,
                      json_t *mb, struct lv_xml **entry_out)
{
    struct lv_xml *entry = NULL;
    struct lv_error err = {0};
    if (lv_mb_entry_from_data(mb, vjid, LV_NS_MICROBLOG, item_id, vjid, &entry, &err) != 0) {
        lv_debug(AP_AREA, "%s: cannot make an entry of %s: %s", vjid, item_id, err.msg);
        return -1;
    }
    char *xml = lv_xml_to_string(entry, NULL);
    json_t *parsed = NULL;
    lv_mb_data_from_entry(entry, vjid, LV_NS_MICROBLOG, item_id, vjid, &parsed, NULL);
    struct lv_store_cache_item ci = {
        .name = item_id,
        .xml = xml,
        .text = json_string_value(json_object_get(parsed ? parsed : mb, "content")),
        .parsed = parsed ? parsed : mb,
        .published = json_number_value(json_object_get(mb, "published")),
        .updated = json_number_value(json_object_get(mb, "updated")),
    };
    int rc = lv_store_cache_items_upsert(gw->st, node_id, &ci, 1, &err);
    if (rc != 0)
        lv_warn(AP_AREA, "%s: cannot cache %s: %s", vjid, item_id, err.msg);
    free(xml);
    json_decref(parsed);
    if (entry_out)
        *entry_out = entry;
    else
        lv_xml_unref(entry);
    return rc;
}

static void notify(struct lv_ap_gw *gw, const char *vjid, const char *to, const char *item_id,
                   struct lv_xml *entry)
{
    struct lv_xml *m = lv_xml_new("message", NULL);
    lv_xml_set_attr(m, "from", vjid);
    lv_xml_set_attr(m, "to", to);
    lv_xml_set_attr(m, "type", "headline");
    char *id = lv_xmpp_new_id(gw->x);
    lv_xml_set_attr(m, "id", id);
    free(id);
    struct lv_xml *items =
        lv_xml_new_child(lv_xml_new_child(m, "event", NS_PUBSUB_EVENT), "items", NULL);
    lv_xml_set_attr(items, "node", LV_NS_MICROBLOG);
    if (entry) {
        struct lv_xml *it = lv_xml_new_child(items, "item", NULL);
        lv_xml_set_attr(it, "id", item_id);
        lv_xml_set_attr(it, "publisher", vjid);
        lv_xml_add_child_take(it, lv_xml_copy(entry));
    } else {
        lv_xml_set_attr(lv_xml_new_child(items, "retract", NULL), "id", item_id);
    }
    lv_xmpp_send(gw->x, m);
    lv_xml_unref(m);
}

void gw_xmpp_remote_item(struct lv_ap_gw *gw, const struct lv_ap_actor *actor, const char *account,
                         const char *item_id, json_t *mb)
{
    char *vjid = gw_virtual_jid(gw, account);
    struct lv_store_cache_node node = {0};
    if (!vjid || cache_node(gw, vjid, &node) != 0) {
        lv_warn(AP_AREA, "no cache node for %s", account);
        free(vjid);
        return;
    }
    struct lv_xml *entry = NULL;
    if (mb) {
        if (cache_post(gw, node.id, vjid, item_id, mb, &entry) != 0) {
            lv_store_cache_node_release(&node);
            free(vjid);
            return;
        }
    } else {
        size_t deleted = 0;
        const char *names[1] = {item_id};
        lv_store_cache_items_delete(gw->st, node.id, names, 1, &deleted, NULL);
    }
    struct lv_ap_follow_rec *recs = NULL;
    size_t n = 0;
    lv_store_ap_follow_list(gw->st, LV_AP_FOLLOWING, NULL, NULL, actor->rec.id,
                            LV_AP_FOLLOW_ACCEPTED, 0, 0, &recs, &n, NULL);
    for (size_t i = 0; i < n; i++) {
        notify(gw, vjid, recs[i].local, item_id, entry);
        lv_ap_follow_rec_release(&recs[i]);
    }
    free(recs);
    gw->relayed_in++;
    lv_info(AP_AREA, "%s: %s %s relayed to %zu XMPP subscribers", account,
            mb ? "item" : "retraction of", item_id, n);
    lv_xml_unref(entry);
    lv_store_cache_node_release(&node);
    free(vjid);
}

void gw_xmpp_subscription_changed(struct lv_ap_gw *gw, const char *local_jid, const char *account,
                                  const char *node, const char *state)
{
    char *vjid = gw_virtual_jid(gw, account);
    if (!vjid)
        return;
    struct lv_xml *m = lv_xml_new("message", NULL);
    lv_xml_set_attr(m, "from", vjid);
    lv_xml_set_attr(m, "to", local_jid);
    struct lv_xml *s =
        lv_xml_new_child(lv_xml_new_child(m, "event", NS_PUBSUB_EVENT), "subscription", NULL);
    lv_xml_set_attr(s, "node", node);
    lv_xml_set_attr(s, "jid", local_jid);
    lv_xml_set_attr(s, "subscription", state);
    lv_xmpp_send(gw->x, m);
    lv_xml_unref(m);
    free(vjid);
}

/* ---- the virtual pubsub service: requests ---- */

struct vreq {
    struct lv_ap_gw *gw;
    struct lv_xml *iq; /* the request (a reference) */
    char *from;        /* requester's bare JID */
    char *vjid, *account, *node;
    /* outbox walk */
    int64_t node_id;
    unsigned pages, items;
    char *actor_id;
};

static void vreq_free(struct vreq *r)
{
    lv_xml_unref(r->iq);
    free(r->from);
    free(r->vjid);
    free(r->account);
    free(r->node);
    free(r->actor_id);
    free(r);
}

static void vreq_error(struct vreq *r, const char *type, const char *cond, const char *text)
{
    lv_xmpp_reply_error(r->gw->x, r->iq, type, cond, text);
    vreq_free(r);
}

static const char *rsm_text(const struct lv_xml *set, const char *name, bool *present)
{
    struct lv_xml *e = set ? lv_xml_find(set, name, NS_RSM) : NULL;
    if (present)
        *present = e != NULL;
    if (!e)
        return NULL;
    const struct lv_xml *t = e->children;
    return t && t->kind == LV_XML_TEXT ? t->text : "";
}

/* Answers an items request from the cache. */
static void answer_items(struct vreq *r)
{
    struct lv_ap_gw *gw = r->gw;
    struct lv_xml *ps = lv_xml_find(r->iq, "pubsub", NS_PUBSUB);
    struct lv_xml *items_req = ps ? lv_xml_find(ps, "items", NS_PUBSUB) : NULL;
    struct lv_xml *set = ps ? lv_xml_find(ps, "set", NS_RSM) : NULL;
    struct lv_store_cache_page_req pr;
    const char *mi = items_req ? lv_xml_attr(items_req, "max_items") : NULL;
    long max_items = mi ? strtol(mi, NULL, 10) : 0;
    bool has_max, has_after, has_before, has_index;
    const char *max = rsm_text(set, "max", &has_max);
    const char *after = rsm_text(set, "after", &has_after);
    const char *before = rsm_text(set, "before", &has_before);
    const char *index = rsm_text(set, "index", &has_index);
    long rmax = has_max ? strtol(max, NULL, 10) : 0;
    size_t want = rmax > 0 ? (size_t)rmax : max_items > 0 ? (size_t)max_items : 20;
    if (want > LV_STORE_CACHE_PAGE_MAX)
        want = LV_STORE_CACHE_PAGE_MAX;
    lv_store_cache_page_req_init(&pr, want);
    /* As a service: a plain read gives the newest items; RSM pages go
     * forward from the oldest. */
    pr.oldest_first = set != NULL && (has_after || has_before || has_index || max_items <= 0);
    if (has_after)
        pr.after = after;
    else if (has_before)
        pr.before = before;
    else if (has_index)
        pr.index = strtol(index, NULL, 10);
    const char **ids = NULL;
    size_t nids = 0;
    for (struct lv_xml *it = items_req ? lv_xml_find(items_req, "item", NS_PUBSUB) : NULL; it;
         it = lv_xml_find_next(it, "item", NS_PUBSUB)) {
        const char *id = lv_xml_attr(it, "id");
        if (!id)
            continue;
        ids = lv_xrealloc(ids, (nids + 1) * sizeof(*ids));
        ids[nids++] = id;
    }
    if (nids) {
        pr.names = ids;
        pr.n_names = nids;
        pr.after = pr.before = NULL;
        pr.index = -1;
    }
    struct lv_store_cache_page page = {0};
    struct lv_error err = {0};
    int rc = lv_store_cache_items_get(gw->st, r->node_id, &pr, &page, &err);
    free(ids);
    if (rc != 0) {
        vreq_error(r, "cancel", "item-not-found", err.msg);
        return;
    }
    struct lv_xml *res = lv_xmpp_iq_result(r->iq);
    struct lv_xml *items =
        lv_xml_new_child(lv_xml_new_child(res, "pubsub", NS_PUBSUB), "items", NULL);
    lv_xml_set_attr(items, "node", r->node);
    /* A plain read lists the newest items oldest first, as services do. */
    bool reverse = !pr.oldest_first;
    for (size_t k = 0; k < page.n; k++) {
        const struct lv_store_cache_item_rec *rec = &page.items[reverse ? page.n - 1 - k : k];
        struct lv_xml *it = lv_xml_new_child(items, "item", NULL);
        lv_xml_set_attr(it, "id", rec->name);
        lv_xml_set_attr(it, "publisher", r->vjid);
        /* our own serialisation of a converted post */
        static const struct lv_xml_limits lim = {LV_STORE_AP_DOC_MAX, 64, 256, 100000};
        struct lv_xml *payload = NULL;
        if (lv_xml_parse(rec->xml, strlen(rec->xml), &lim, &payload, NULL) == 0)
            lv_xml_add_child_take(it, payload);
    }
    if (set || page.count > (int64_t)page.n) {
        struct lv_xml *rs = lv_xml_new_child(lv_xml_find(res, "pubsub", NS_PUBSUB), "set", NS_RSM);
        if (page.first) {
            struct lv_xml *f =
                lv_xml_new_child_text(rs, "first", NULL, reverse ? page.last : page.first);
            char idx[32];
            snprintf(idx, sizeof(idx), "%lld", (long long)page.index);
            lv_xml_set_attr(f, "index", idx);
            lv_xml_new_child_text(rs, "last", NULL, reverse ? page.first : page.last);
        }
        char cnt[32];
        snprintf(cnt, sizeof(cnt), "%lld", (long long)page.count);
        lv_xml_new_child_text(rs, "count", NULL, cnt);
    }
    lv_xmpp_send(gw->x, res);
    lv_xml_unref(res);
    lv_store_cache_page_release(&page);
    vreq_free(r);
}

static void outbox_page(json_t *doc, struct lv_http_response *resp, const struct lv_error *err,
                        void *ud);

static void fetch_page(struct vreq *r, const char *url)
{
    struct lv_http_request req = {.url = url};
    struct lv_error err = {0};
    if (r->gw->closing) {
        answer_items(r);
        return;
    }
    if (lv_http_client_fetch_json(r->gw->client, &req, LV_HTTP_JSON_AP, outbox_page, r, NULL,
                                  &err) != 0) {
        lv_warn(AP_AREA, "%s: cannot fetch %s: %s", r->account, url, err.msg);
        answer_items(r);
    }
}

/* Reads the Notes of a collection page (Create activities or bare objects)
 * into the cache; follows "next". */
static void outbox_page(json_t *doc, struct lv_http_response *resp, const struct lv_error *err,
                        void *ud)
{
    struct vreq *r = ud;
    struct lv_ap_gw *gw = r->gw;
    if (!doc) {
        lv_warn(AP_AREA, "%s: outbox not readable: %s", r->account, err->msg);
        answer_items(r);
        return;
    }
    r->pages++;
    json_t *first = json_object_get(doc, "first");
    json_t *list = json_object_get(doc, "orderedItems");
    if (!list)
        list = json_object_get(doc, "items");
    if (!list && first) {
        if (json_is_string(first)) {
            fetch_page(r, json_string_value(first));
            return;
        }
        doc = first; /* an embedded first page */
        list = json_object_get(doc, "orderedItems");
        if (!list)
            list = json_object_get(doc, "items");
    }
    size_t i;
    json_t *v;
    json_t *arr = list ? (json_is_array(list) ? json_incref(list) : json_pack("[O]", list)) : NULL;
    json_array_foreach(arr, i, v)
    {
        if (r->items >= AP_REMOTE_ITEMS_MAX)
            break;
        json_t *obj = v;
        if (lv_ap_has_type(v, "Create"))
            obj = json_object_get(v, "object");
        else if (lv_ap_has_type(v, "Announce") || !json_is_object(v))
            continue;
        const char *id = lv_ap_ref_id(obj);
        if (!json_is_object(obj) || !id)
            continue;
        const char *author = lv_ap_ref_id(json_object_get(obj, "attributedTo"));
        if (author && strcmp(author, r->actor_id) != 0)
            continue;
        json_t *mb = NULL;
        if (lv_ap_mb_from_note(obj, r->vjid, NULL, &mb, NULL) == 0) {
            if (cache_post(gw, r->node_id, r->vjid, id, mb, NULL) == 0)
                r->items++;
            json_decref(mb);
        }
    }
    json_decref(arr);
    const char *next = json_string_value(json_object_get(doc, "next"));
    if (!next)
        next = lv_ap_ref_id(json_object_get(doc, "next"));
    if (next && r->pages < OUTBOX_PAGES_MAX && r->items < AP_REMOTE_ITEMS_MAX) {
        char *n = lv_xstrdup(next);
        fetch_page(r, n);
        free(n);
        return;
    }
    lv_store_cache_node_set_sync(gw->st, r->node_id, LV_STORE_CACHE_SYNC_COMPLETED, NULL, 0, NULL);
    lv_debug(AP_AREA, "%s: %u items read from %u outbox pages", r->account, r->items, r->pages);
    answer_items(r);
    (void)resp;
}

static void items_actor(const struct lv_ap_actor *actor, const struct lv_error *err, void *ud)
{
    struct vreq *r = ud;
    struct lv_ap_gw *gw = r->gw;
    if (!actor) {
        vreq_error(r, "cancel", "item-not-found", err ? err->msg : "no such actor");
        return;
    }
    struct lv_store_cache_node node = {0};
    if (cache_node(gw, r->vjid, &node) != 0) {
        vreq_error(r, "wait", "internal-server-error", "cache unavailable");
        return;
    }
    r->node_id = node.id;
    r->actor_id = lv_xstrdup(actor->rec.id);
    bool fresh = node.sync_state == LV_STORE_CACHE_SYNC_COMPLETED &&
                 node.sync_state_updated > (double)time(NULL) - REMOTE_FRESH_S;
    lv_store_cache_node_release(&node);
    if (fresh || !actor->outbox) {
        answer_items(r);
        return;
    }
    fetch_page(r, actor->outbox);
}

/* ---- Follow from XMPP ---- */

struct follow_out {
    struct vreq *r;
    char *local_account, *remote_id, *remote_inbox, *follow_id;
    bool subscribe;
};

static void follow_out_free(struct follow_out *f)
{
    free(f->local_account);
    free(f->remote_id);
    free(f->remote_inbox);
    free(f->follow_id);
    free(f);
}

static void reply_subscription(struct vreq *r, const char *state)
{
    struct lv_xml *res = lv_xmpp_iq_result(r->iq);
    if (state) {
        struct lv_xml *s =
            lv_xml_new_child(lv_xml_new_child(res, "pubsub", NS_PUBSUB), "subscription", NULL);
        lv_xml_set_attr(s, "node", r->node);
        lv_xml_set_attr(s, "jid", r->from);
        lv_xml_set_attr(s, "subscription", state);
    }
    lv_xmpp_send(r->gw->x, res);
    lv_xml_unref(res);
}

static void follow_key(struct lv_ap_gw *gw, const char *pem, const struct lv_error *err, void *ud)
{
    struct follow_out *f = ud;
    struct vreq *r = f->r;
    if (!pem) {
        vreq_error(r, "wait", "internal-server-error", err ? err->msg : "no key");
        follow_out_free(f);
        return;
    }
    char *actor = gw_actor_url(gw, f->local_account);
    json_t *to = json_pack("[s]", f->remote_id);
    json_t *act;
    if (f->subscribe) {
        json_t *obj = json_string(f->remote_id);
        act = lv_ap_activity_new(f->follow_id, "Follow", actor, obj, to, NULL);
        json_decref(obj);
    } else {
        char *undo_id = lv_ap_new_activity_id(actor, "Undo");
        json_t *follow = json_pack("{s:s, s:s, s:s, s:s}", "id", f->follow_id, "type", "Follow",
                                   "actor", actor, "object", f->remote_id);
        act = lv_ap_activity_new(undo_id, "Undo", actor, follow, to, NULL);
        json_decref(follow);
        free(undo_id);
    }
    const char *inboxes[1] = {f->remote_inbox};
    gw_deliver(gw, f->local_account, act, inboxes, 1);
    lv_info(AP_AREA, "%s %s %s", r->from, f->subscribe ? "follows" : "no longer follows",
            f->remote_id);
    json_decref(act);
    json_decref(to);
    free(actor);
    if (f->subscribe) {
        struct lv_ap_follow_rec rec = {0};
        const char *state = "pending";
        if (lv_store_ap_follow_get(gw->st, LV_AP_FOLLOWING, r->from, r->node, f->remote_id, &rec,
                                   NULL) == 0 &&
            rec.state == LV_AP_FOLLOW_ACCEPTED)
            state = "subscribed";
        lv_ap_follow_rec_release(&rec);
        reply_subscription(r, state);
    } else {
        reply_subscription(r, NULL);
    }
    vreq_free(r);
    follow_out_free(f);
}

static void follow_actor(const struct lv_ap_actor *actor, const struct lv_error *err, void *ud)
{
    struct follow_out *f = ud;
    struct vreq *r = f->r;
    struct lv_ap_gw *gw = r->gw;
    if (!actor) {
        vreq_error(r, "cancel", "item-not-found", err ? err->msg : "no such actor");
        follow_out_free(f);
        return;
    }
    f->remote_id = lv_xstrdup(actor->rec.id);
    f->remote_inbox = lv_xstrdup(actor->rec.inbox);
    struct lv_ap_follow_rec rec = {0};
    bool existing = lv_store_ap_follow_get(gw->st, LV_AP_FOLLOWING, r->from, r->node, actor->rec.id,
                                           &rec, NULL) == 0;
    struct lv_error serr = {0};
    if (f->subscribe) {
        char *actor_url = gw_actor_url(gw, f->local_account);
        /* A repeated subscription sends a new Follow (peers that lost it
         * can then accept), keeping an accepted state. */
        f->follow_id = lv_ap_new_activity_id(actor_url, "Follow");
        free(actor_url);
        if (lv_store_ap_follow_put(gw->st, LV_AP_FOLLOWING, r->from, r->node, actor->rec.id,
                                   f->follow_id, existing ? rec.state : LV_AP_FOLLOW_PENDING,
                                   &serr) != 0) {
            lv_ap_follow_rec_release(&rec);
            vreq_error(r, "wait", "internal-server-error", serr.msg);
            follow_out_free(f);
            return;
        }
    } else {
        if (!existing) {
            lv_ap_follow_rec_release(&rec);
            vreq_error(r, "cancel", "unexpected-request", "not subscribed");
            follow_out_free(f);
            return;
        }
        f->follow_id = lv_xstrdup(rec.activity_id);
        lv_store_ap_follow_delete(gw->st, LV_AP_FOLLOWING, r->from, r->node, actor->rec.id, NULL);
    }
    lv_ap_follow_rec_release(&rec);
    gw_key_get(gw, f->local_account, follow_key, f);
}

static void do_subscribe(struct vreq *r, struct lv_xml *op, bool subscribe)
{
    struct lv_ap_gw *gw = r->gw;
    const char *jid = lv_xml_attr(op, "jid");
    char *bare = jid ? lv_jid_normalize(jid, true) : NULL;
    if (!bare || strcmp(bare, r->from) != 0) {
        free(bare);
        vreq_error(r, "modify", "bad-request", "the jid must be the requester's bare JID");
        return;
    }
    free(bare);
    struct lv_jid j;
    struct follow_out *f = lv_xcalloc(1, sizeof(*f));
    f->r = r;
    f->subscribe = subscribe;
    if (lv_jid_parse_str(r->from, &j, NULL) != 0 ||
        lv_ap_account_from_jid(&gw->addr, &j, NULL, &f->local_account, NULL) != 0) {
        if (j.domain)
            lv_jid_release(&j);
        follow_out_free(f);
        vreq_error(r, "modify", "jid-malformed", "no ActivityPub account for this JID");
        return;
    }
    lv_jid_release(&j);
    lv_ap_actors_by_account(gw->actors, r->account, follow_actor, f);
}

static bool on_pubsub_iq(struct lv_xmpp *x, struct lv_xml *stanza, void *ud)
{
    struct lv_ap_gw *gw = ud;
    const char *to = lv_xml_attr(stanza, "to"), *from = lv_xml_attr(stanza, "from");
    const char *type = lv_xml_attr(stanza, "type");
    struct lv_jid tj, fj;
    if (!to || !from || lv_jid_parse_str(to, &tj, NULL) != 0)
        return false;
    if (!tj.local || !lv_ap_is_virtual_jid(&gw->addr, &tj)) {
        lv_jid_release(&tj);
        return false;
    }
    struct vreq *r = lv_xcalloc(1, sizeof(*r));
    r->gw = gw;
    r->iq = lv_xml_ref(stanza);
    if (lv_ap_account_from_virtual_jid(&gw->addr, &tj, &r->account, NULL) != 0 ||
        lv_jid_parse_str(from, &fj, NULL) != 0) {
        lv_jid_release(&tj);
        vreq_error(r, "modify", "jid-malformed", NULL);
        return true;
    }
    r->vjid = lv_jid_bare(&tj);
    r->from = lv_jid_bare(&fj);
    bool local = lv_ap_is_local(&gw->addr, fj.domain);
    lv_jid_release(&tj);
    lv_jid_release(&fj);
    if (gw->local_only && !local) {
        vreq_error(r, "auth", "forbidden", "this gateway serves its server's users only");
        return true;
    }
    struct lv_xml *ps = lv_xml_find(stanza, "pubsub", NS_PUBSUB);
    struct lv_xml *op = ps ? lv_xml_first_elem(ps) : NULL;
    const char *node = op ? lv_xml_attr(op, "node") : NULL;
    r->node = lv_xstrdup(node ? node : "");
    bool get = type && strcmp(type, "get") == 0;
    if (!op) {
        vreq_error(r, "modify", "bad-request", NULL);
    } else if (strcmp(r->node, LV_NS_MICROBLOG) != 0 &&
               (lv_xml_is(op, "items", NS_PUBSUB) || lv_xml_is(op, "subscribe", NS_PUBSUB) ||
                lv_xml_is(op, "unsubscribe", NS_PUBSUB))) {
        vreq_error(r, "cancel", "item-not-found",
                   "only the microblog node (urn:xmpp:microblog:0) is served");
    } else if (get && lv_xml_is(op, "items", NS_PUBSUB)) {
        lv_ap_actors_by_account(gw->actors, r->account, items_actor, r);
    } else if (!get && lv_xml_is(op, "subscribe", NS_PUBSUB)) {
        do_subscribe(r, op, true);
    } else if (!get && lv_xml_is(op, "unsubscribe", NS_PUBSUB)) {
        do_subscribe(r, op, false);
    } else if (lv_xml_is(op, "publish", NS_PUBSUB) || lv_xml_is(op, "retract", NS_PUBSUB)) {
        vreq_error(r, "auth", "forbidden", "fediverse actors' nodes are read-only");
    } else {
        vreq_error(r, "cancel", "feature-not-implemented", NULL);
    }
    (void)x;
    return true;
}

/* disco#info and #items of virtual JIDs: each is a pubsub service with a
 * microblog node (the component itself is answered by the backend's disco). */
static bool on_disco(struct lv_xmpp *x, struct lv_xml *stanza, void *ud)
{
    struct lv_ap_gw *gw = ud;
    const char *to = lv_xml_attr(stanza, "to");
    struct lv_jid tj;
    if (!to || lv_jid_parse_str(to, &tj, NULL) != 0)
        return false;
    bool virt = tj.local && lv_ap_is_virtual_jid(&gw->addr, &tj);
    char *account = NULL;
    if (virt && lv_ap_account_from_virtual_jid(&gw->addr, &tj, &account, NULL) != 0)
        virt = false;
    char *bare = virt ? lv_jid_bare(&tj) : NULL;
    lv_jid_release(&tj);
    if (!virt) {
        free(account);
        return false;
    }
    struct lv_xml *q = lv_xml_first_elem(stanza);
    const char *node = q ? lv_xml_attr(q, "node") : NULL;
    struct lv_xml *res = lv_xmpp_iq_result(stanza);
    if (q && lv_xml_is(q, "query", LV_NS_DISCO_INFO)) {
        struct lv_xml *r = lv_xml_new_child(res, "query", LV_NS_DISCO_INFO);
        if (node)
            lv_xml_set_attr(r, "node", node);
        struct lv_xml *id = lv_xml_new_child(r, "identity", NULL);
        lv_xml_set_attr(id, "category", "pubsub");
        lv_xml_set_attr(id, "type", node ? "leaf" : "service");
        lv_xml_set_attr(id, "name", account);
        static const char *const features[] = {LV_NS_DISCO_INFO,
                                               LV_NS_DISCO_ITEMS,
                                               NS_PUBSUB,
                                               "http://jabber.org/protocol/pubsub#retrieve-items",
                                               "http://jabber.org/protocol/pubsub#subscribe",
                                               NS_RSM};
        for (size_t i = 0; i < LV_ARRAY_LEN(features); i++)
            lv_xml_set_attr(lv_xml_new_child(r, "feature", NULL), "var", features[i]);
    } else {
        struct lv_xml *r = lv_xml_new_child(res, "query", LV_NS_DISCO_ITEMS);
        if (node) {
            lv_xml_set_attr(r, "node", node);
        } else {
            struct lv_xml *it = lv_xml_new_child(r, "item", NULL);
            lv_xml_set_attr(it, "jid", bare);
            lv_xml_set_attr(it, "node", LV_NS_MICROBLOG);
            lv_xml_set_attr(it, "name", "blog");
        }
    }
    lv_xmpp_send(x, res);
    lv_xml_unref(res);
    free(bare);
    free(account);
    return true;
}

void gw_xmpp_register(struct lv_ap_gw *gw)
{
    lv_xmpp_add_handler(gw->x, "iq", "get", LV_NS_DISCO_INFO, on_disco, gw);
    lv_xmpp_add_handler(gw->x, "iq", "get", LV_NS_DISCO_ITEMS, on_disco, gw);
    lv_xmpp_add_handler(gw->x, "iq", NULL, NS_PUBSUB, on_pubsub_iq, gw);
    lv_pubsub_on_event(gw->x, on_event, gw);
}

void gw_xmpp_unregister(struct lv_ap_gw *gw)
{
    lv_xmpp_remove_handler(gw->x, on_pubsub_iq, gw);
    lv_xmpp_remove_handler(gw->x, on_disco, gw);
    lv_pubsub_off_event(gw->x, on_event, gw);
}
