/* Bridge methods for XEP-0060 pubsub (ps*): thin JSON adapters over
 * lv_pubsub. Every method takes {profile?, service?, node, ...}; service
 * absent or "" means the profile's own PEP service. Items travel as
 * {id, publisher?, xml} with the payload serialised. */
#include "backend/lv_backend.h"
#include "backend/lv_bridge_util.h"
#include "blog/lv_mb.h"
#include "core/lv_mem.h"
#include "pubsub/lv_pubsub.h"

#include <stdlib.h>
#include <string.h>

/* ---- replies ---- */

static void reply_done(struct lv_xmpp *x, const char *id, const struct lv_error *err, void *ud)
{
    struct lv_bridge_call *call = ud;
    if (err)
        lv_bridge_reply_error(call, err);
    else
        lv_bridge_reply(call, id ? json_string(id) : json_true());
}

static void reply_json(struct lv_xmpp *x, json_t *result, const struct lv_error *err, void *ud)
{
    struct lv_bridge_call *call = ud;
    if (err)
        lv_bridge_reply_error(call, err);
    else
        lv_bridge_reply(call, json_incref(result));
}

json_t *lv_bu_items_json(const struct lv_ps_items *items)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < items->n; i++) {
        const struct lv_ps_item *it = &items->items[i];
        json_t *o = json_pack("{s:s}", "id", it->id);
        if (it->publisher)
            json_object_set_new(o, "publisher", json_string(it->publisher));
        if (it->payload) {
            char *xml = lv_xml_to_string(it->payload, NULL);
            json_object_set_new(o, "xml", json_string(xml));
            free(xml);
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *lv_bu_rsm_json(const struct lv_rsm_res *rsm)
{
    if (!rsm->present)
        return json_null();
    json_t *o = json_object();
    if (rsm->first)
        json_object_set_new(o, "first", json_string(rsm->first));
    if (rsm->last)
        json_object_set_new(o, "last", json_string(rsm->last));
    if (rsm->first_index >= 0)
        json_object_set_new(o, "index", json_integer(rsm->first_index));
    if (rsm->count >= 0)
        json_object_set_new(o, "count", json_integer(rsm->count));
    return o;
}

static void reply_items(struct lv_xmpp *x, struct lv_ps_items *items, const struct lv_error *err,
                        void *ud)
{
    struct lv_bridge_call *call = ud;
    if (err) {
        lv_bridge_reply_error(call, err);
        return;
    }
    lv_bridge_reply(call, json_pack("{s:o, s:o}", "items", lv_bu_items_json(items), "rsm",
                                    lv_bu_rsm_json(&items->rsm)));
}

/* ---- parameters ---- */

const char *lv_bu_str(json_t *params, const char *key)
{
    const char *s = json_string_value(json_object_get(params, key));
    return s && *s ? s : NULL;
}

int lv_bu_need(struct lv_bridge_call *call, json_t *params, const char *key)
{
    if (lv_bu_str(params, key))
        return 0;
    struct lv_error err;
    lv_error_set(&err, LV_ERR_INVAL, "missing parameter \"%s\"", key);
    lv_bridge_reply_error(call, &err);
    return -1;
}

int lv_bu_target(struct lv_bridge_call *call, json_t *params, bool node_needed,
                 struct lv_bu_target *t)
{
    memset(t, 0, sizeof(*t));
    const char *uri = lv_bu_str(params, "uri");
    if (uri && lv_mb_parse_xmpp_uri(uri, &t->service, &t->node, &t->item) != 0) {
        struct lv_error err;
        lv_error_set(&err, LV_ERR_INVAL, "not a valid xmpp: pubsub URI: %s", uri);
        lv_bridge_reply_error(call, &err);
        return -1;
    }
    if (lv_bu_str(params, "service")) {
        free(t->service);
        t->service = lv_xstrdup(lv_bu_str(params, "service"));
    }
    if (lv_bu_str(params, "node")) {
        free(t->node);
        t->node = lv_xstrdup(lv_bu_str(params, "node"));
    }
    if (node_needed && !t->node) {
        lv_bu_target_release(t);
        struct lv_error err;
        lv_error_set(&err, LV_ERR_INVAL, "a node is needed (-n NODE)");
        lv_bridge_reply_error(call, &err);
        return -1;
    }
    return 0;
}

void lv_bu_target_release(struct lv_bu_target *t)
{
    free(t->service);
    free(t->node);
    free(t->item);
    memset(t, 0, sizeof(*t));
}

/* Reads {max, after, before, index} into an RSM request (strings borrowed
 * from params). Returns false when there is no "rsm" object. */
bool lv_bu_rsm(json_t *params, struct lv_rsm_req *rsm)
{
    json_t *r = json_object_get(params, "rsm");
    *rsm = (struct lv_rsm_req)LV_RSM_REQ_NONE;
    if (!json_is_object(r))
        return false;
    json_t *v;
    if ((v = json_object_get(r, "max")) && json_is_integer(v))
        rsm->max = (long)json_integer_value(v);
    if ((v = json_object_get(r, "index")) && json_is_integer(v))
        rsm->index = (long)json_integer_value(v);
    rsm->after = json_string_value(json_object_get(r, "after"));
    rsm->before = json_string_value(json_object_get(r, "before"));
    return true;
}

/* Item ids from params["item_ids"] (borrowed strings); caller frees the
 * array. */
const char **lv_bu_ids(json_t *params, size_t *n)
{
    json_t *arr = json_object_get(params, "item_ids");
    *n = json_array_size(arr);
    const char **ids = lv_xcalloc(*n + 1, sizeof(*ids));
    for (size_t i = 0; i < *n; i++)
        ids[i] = json_string_value(json_array_get(arr, i));
    return ids;
}

/* ---- methods ---- */

/* psItemsGet {service?, node, item_ids?, max_items?, rsm?} → {items, rsm} */
static void m_items_get(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_xmpp *x = lv_backend_call_xmpp(ud, call, params);
    struct lv_bu_target t;
    if (!x || lv_bu_target(call, params, true, &t) != 0)
        return;
    size_t n = 0;
    const char **ids = lv_bu_ids(params, &n);
    if (n == 0 && t.item) {
        ids[0] = t.item;
        n = 1;
    }
    struct lv_rsm_req rsm;
    bool has_rsm = lv_bu_rsm(params, &rsm);
    long max_items = (long)json_integer_value(json_object_get(params, "max_items"));
    if (!lv_bu_cache_read(ud, call, params, x, t.service, t.node, ids, n, max_items,
                          has_rsm ? &rsm : NULL, false))
        lv_pubsub_get_items(x, t.service, t.node, ids, n, max_items, has_rsm ? &rsm : NULL,
                            reply_items, call);
    free(ids);
    lv_bu_target_release(&t);
}

/* What a publish or retract changed, for the cache's write-through. */
struct change {
    struct lv_bridge_call *call;
    struct lv_backend *b;
    char *service, *node, *id;
    struct lv_xml *payload; /* NULL for a retract */
};

static struct change *change_new(struct lv_bridge_call *call, void *b, const struct lv_bu_target *t,
                                 const char *id, struct lv_xml *payload)
{
    struct change *c = lv_xcalloc(1, sizeof(*c));
    c->call = call;
    c->b = b;
    c->service = t->service ? lv_xstrdup(t->service) : NULL;
    c->node = lv_xstrdup(t->node);
    c->id = id ? lv_xstrdup(id) : NULL;
    c->payload = payload ? lv_xml_ref(payload) : NULL;
    return c;
}

static void changed(struct lv_xmpp *x, const char *id, const struct lv_error *err, void *ud)
{
    struct change *c = ud;
    if (!err && c->payload)
        lv_bu_cache_published(c->b, x, c->service, c->node, id ? id : c->id, c->payload);
    else if (!err)
        lv_bu_cache_retracted(c->b, x, c->service, c->node, c->id);
    reply_done(x, id ? id : c->id, err, c->call);
    free(c->service);
    free(c->node);
    free(c->id);
    lv_xml_unref(c->payload);
    free(c);
}

/* psItemSend {service?, node, item_id?, xml, options?} → item id */
static void m_item_send(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_xmpp *x = lv_backend_call_xmpp(ud, call, params);
    struct lv_bu_target t;
    if (!x || lv_bu_need(call, params, "xml") != 0 || lv_bu_target(call, params, true, &t) != 0)
        return;
    struct lv_xml *payload = NULL;
    struct lv_error err;
    const char *xml = lv_bu_str(params, "xml");
    struct lv_xml_limits lim = {1u << 24, 64, 256, 100000};
    if (lv_xml_parse(xml, strlen(xml), &lim, &payload, &err) != 0) {
        char msg[LV_ERROR_MSG_MAX];
        memcpy(msg, err.msg, sizeof(msg));
        lv_error_set_cond(&err, LV_ERR_INVAL, "bad-request",
                          "the item is not well-formed XML: %.400s", msg);
        lv_bridge_reply_error(call, &err);
    } else {
        const char *id = lv_bu_str(params, "item_id") ? lv_bu_str(params, "item_id") : t.item;
        lv_pubsub_publish(x, t.service, t.node, id, payload, json_object_get(params, "options"),
                          changed, change_new(call, ud, &t, id, payload));
    }
    lv_xml_unref(payload);
    lv_bu_target_release(&t);
}

/* psItemRetract {service?, node, item_id, notify?} */
static void m_item_retract(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_xmpp *x = lv_backend_call_xmpp(ud, call, params);
    struct lv_bu_target t;
    if (!x || lv_bu_target(call, params, true, &t) != 0)
        return;
    const char *id = lv_bu_str(params, "item_id") ? lv_bu_str(params, "item_id") : t.item;
    json_t *notify = json_object_get(params, "notify");
    if (!id) {
        struct lv_error err;
        lv_error_set(&err, LV_ERR_INVAL, "an item id is needed (-i ITEM)");
        lv_bridge_reply_error(call, &err);
    } else {
        lv_pubsub_retract(x, t.service, t.node, id, !notify || json_is_true(notify), changed,
                          change_new(call, ud, &t, id, NULL));
    }
    lv_bu_target_release(&t);
}

/* ---- rename: copy under the new id, then retract the old one ---- */

struct rename {
    struct lv_bridge_call *call;
    struct lv_backend *b;
    struct lv_bu_target t;
    char *old_id, *new_id;
    bool force;
    struct lv_xml *payload;
};

static void rename_free(struct rename *r)
{
    lv_bu_target_release(&r->t);
    free(r->old_id);
    free(r->new_id);
    lv_xml_unref(r->payload);
    free(r);
}

static void rename_fail(struct rename *r, const struct lv_error *err)
{
    lv_bridge_reply_error(r->call, err);
    rename_free(r);
}

static void rename_retracted(struct lv_xmpp *x, const char *id, const struct lv_error *err,
                             void *ud)
{
    struct rename *r = ud;
    if (err) {
        struct lv_error e;
        lv_error_set_cond(&e, err->code, err->cond,
                          "the item was copied to %s but %s could not be retracted: %s", r->new_id,
                          r->old_id, err->msg);
        rename_fail(r, &e);
        return;
    }
    lv_bu_cache_retracted(r->b, x, r->t.service, r->t.node, r->old_id);
    lv_bridge_reply(r->call, json_string(r->new_id));
    rename_free(r);
}

static void rename_published(struct lv_xmpp *x, const char *id, const struct lv_error *err,
                             void *ud)
{
    struct rename *r = ud;
    if (err) { /* the old item stays: nothing is lost */
        rename_fail(r, err);
        return;
    }
    lv_bu_cache_published(r->b, x, r->t.service, r->t.node, r->new_id, r->payload);
    lv_pubsub_retract(x, r->t.service, r->t.node, r->old_id, true, rename_retracted, r);
}

static void rename_checked(struct lv_xmpp *x, struct lv_ps_items *items, const struct lv_error *err,
                           void *ud)
{
    struct rename *r = ud;
    if (err && err->code != LV_ERR_NOT_FOUND) {
        rename_fail(r, err);
        return;
    }
    if (!err && items->n > 0 && !r->force) {
        struct lv_error e;
        lv_error_set_cond(&e, LV_ERR_CONFLICT, "conflict",
                          "an item %s already exists on this node (use --force to replace it)",
                          r->new_id);
        rename_fail(r, &e);
        return;
    }
    lv_pubsub_publish(x, r->t.service, r->t.node, r->new_id, r->payload, NULL, rename_published, r);
}

static void rename_got(struct lv_xmpp *x, struct lv_ps_items *items, const struct lv_error *err,
                       void *ud)
{
    struct rename *r = ud;
    if (!err && items->n == 0) {
        struct lv_error e;
        lv_error_set_cond(&e, LV_ERR_NOT_FOUND, "item-not-found", "no item %s on this node",
                          r->old_id);
        rename_fail(r, &e);
        return;
    }
    if (err) {
        rename_fail(r, err);
        return;
    }
    r->payload = items->items[0].payload ? lv_xml_ref(items->items[0].payload) : NULL;
    const char *ids[] = {r->new_id};
    lv_pubsub_get_items(x, r->t.service, r->t.node, ids, 1, 0, NULL, rename_checked, r);
}

/* psItemRename {service?, node, item_id, new_id, force?} → new id. The
 * comments link inside a blog entry keeps pointing to its existing comments
 * node, so comments follow the post. */
static void m_item_rename(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_xmpp *x = lv_backend_call_xmpp(ud, call, params);
    struct rename *r = lv_xcalloc(1, sizeof(*r));
    r->call = call;
    r->b = ud;
    if (!x || lv_bu_need(call, params, "new_id") != 0 ||
        lv_bu_target(call, params, true, &r->t) != 0) {
        free(r);
        return;
    }
    const char *old = lv_bu_str(params, "item_id") ? lv_bu_str(params, "item_id") : r->t.item;
    if (!old || strcmp(old, lv_bu_str(params, "new_id")) == 0) {
        struct lv_error e;
        lv_error_set(&e, LV_ERR_INVAL,
                     old ? "the new id is the current one"
                         : "the item to rename is needed (-i ITEM)");
        rename_fail(r, &e);
        return;
    }
    r->old_id = lv_xstrdup(old);
    r->new_id = lv_xstrdup(lv_bu_str(params, "new_id"));
    r->force = json_is_true(json_object_get(params, "force"));
    const char *ids[] = {r->old_id};
    lv_pubsub_get_items(x, r->t.service, r->t.node, ids, 1, 0, NULL, rename_got, r);
}

/* ---- nodes ---- */

/* psNodeCreate {service?, node?, config?} → node name */
static void m_node_create(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_xmpp *x = lv_backend_call_xmpp(ud, call, params);
    struct lv_bu_target t;
    if (!x || lv_bu_target(call, params, false, &t) != 0)
        return;
    lv_pubsub_create(x, t.service, t.node, json_object_get(params, "config"), reply_done, call);
    lv_bu_target_release(&t);
}

#define NODE_METHOD(fname, op)                                                                     \
    static void fname(struct lv_bridge_call *call, json_t *params, void *ud)                       \
    {                                                                                              \
        struct lv_xmpp *x = lv_backend_call_xmpp(ud, call, params);                                \
        struct lv_bu_target t;                                                                     \
        if (!x || lv_bu_target(call, params, true, &t) != 0)                                       \
            return;                                                                                \
        op;                                                                                        \
        lv_bu_target_release(&t);                                                                  \
    }

NODE_METHOD(m_node_delete, lv_pubsub_delete_node(x, t.service, t.node, reply_done, call))
NODE_METHOD(m_node_purge, lv_pubsub_purge(x, t.service, t.node, reply_done, call))
NODE_METHOD(m_node_config_get, lv_pubsub_config_get(x, t.service, t.node, reply_json, call))
NODE_METHOD(m_node_config_set,
            lv_pubsub_config_set(x, t.service, t.node, json_object_get(params, "config"),
                                 reply_done, call))
NODE_METHOD(m_node_affs_get,
            lv_pubsub_node_affiliations_get(x, t.service, t.node, reply_json, call))
NODE_METHOD(m_node_affs_set,
            lv_pubsub_node_affiliations_set(x, t.service, t.node,
                                            json_object_get(params, "affiliations"), reply_done,
                                            call))
NODE_METHOD(m_node_subs_get,
            lv_pubsub_node_subscriptions_get(x, t.service, t.node, reply_json, call))
NODE_METHOD(m_node_subs_set,
            lv_pubsub_node_subscriptions_set(x, t.service, t.node,
                                             json_object_get(params, "subscriptions"), reply_done,
                                             call))
NODE_METHOD(m_unsubscribe, lv_pubsub_unsubscribe(x, t.service, t.node, lv_bu_str(params, "jid"),
                                                 lv_bu_str(params, "subid"), reply_done, call))

/* psSubscribe {service?, node, options?, public?} → {subscription, subid?}.
 * public asks for an XEP-0465 public subscription. */
static void m_subscribe(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_xmpp *x = lv_backend_call_xmpp(ud, call, params);
    struct lv_bu_target t;
    if (!x || lv_bu_target(call, params, true, &t) != 0)
        return;
    json_t *opts = json_object_get(params, "options");
    opts = json_is_object(opts) ? json_deep_copy(opts) : json_object();
    if (json_is_true(json_object_get(params, "public")))
        json_object_set_new(opts, "pubsub#public", json_true());
    lv_pubsub_subscribe(x, t.service, t.node, lv_bu_str(params, "jid"),
                        json_object_size(opts) ? opts : NULL, reply_json, call);
    json_decref(opts);
    lv_bu_target_release(&t);
}

/* psSubscriptionsGet / psAffiliationsGet {service?, node?} */
static void m_subscriptions(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_xmpp *x = lv_backend_call_xmpp(ud, call, params);
    struct lv_bu_target t;
    if (!x || lv_bu_target(call, params, false, &t) != 0)
        return;
    lv_pubsub_subscriptions(x, t.service, t.node, reply_json, call);
    lv_bu_target_release(&t);
}

static void m_affiliations(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_xmpp *x = lv_backend_call_xmpp(ud, call, params);
    struct lv_bu_target t;
    if (!x || lv_bu_target(call, params, false, &t) != 0)
        return;
    lv_pubsub_affiliations(x, t.service, t.node, reply_json, call);
    lv_bu_target_release(&t);
}

static const struct lv_bridge_method methods[] = {
    {"psItemsGet", m_items_get},
    {"psItemSend", m_item_send},
    {"psItemRetract", m_item_retract},
    {"psItemRename", m_item_rename},
    {"psNodeCreate", m_node_create},
    {"psNodeDelete", m_node_delete},
    {"psNodePurge", m_node_purge},
    {"psNodeConfigurationGet", m_node_config_get},
    {"psNodeConfigurationSet", m_node_config_set},
    {"psNodeAffiliationsGet", m_node_affs_get},
    {"psNodeAffiliationsSet", m_node_affs_set},
    {"psNodeSubscriptionsGet", m_node_subs_get},
    {"psNodeSubscriptionsSet", m_node_subs_set},
    {"psSubscribe", m_subscribe},
    {"psUnsubscribe", m_unsubscribe},
    {"psSubscriptionsGet", m_subscriptions},
    {"psAffiliationsGet", m_affiliations},
};

void lv_bridge_ps_register(struct lv_backend *b)
{
    lv_bridge_add_methods(b->bridge, methods, LV_ARRAY_LEN(methods), b);
}
