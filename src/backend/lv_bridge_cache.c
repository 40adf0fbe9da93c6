/* Bridge methods of the pubsub cache (psCache*), and the cache-first read
 * that psItemsGet and mbGet use. */
#include "backend/lv_backend.h"
#include "backend/lv_bridge_util.h"
#include "cache/lv_cache.h"
#include "core/lv_mem.h"
#include "store/lv_store_cache.h"
#include "xmpp/lv_jid.h"

#include <stdlib.h>
#include <string.h>

/* ---- cache-first reads ---- */

static json_t *page_json(const struct lv_store_cache_page *page, bool posts, bool reverse)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < page->n; k++) {
        const struct lv_store_cache_item_rec *it = &page->items[reverse ? page->n - 1 - k : k];
        if (posts) {
            if (it->parsed)
                json_array_append(arr, it->parsed);
            continue;
        }
        json_array_append_new(arr, json_pack("{s:s, s:s}", "id", it->name, "xml", it->xml));
    }
    return arr;
}

static json_t *page_rsm(const struct lv_store_cache_page *page)
{
    json_t *o =
        json_pack("{s:I, s:I}", "count", (json_int_t)page->count, "index", (json_int_t)page->index);
    if (page->first)
        json_object_set_new(o, "first", json_string(page->first));
    if (page->last)
        json_object_set_new(o, "last", json_string(page->last));
    return o;
}

bool lv_bu_cache_read(struct lv_backend *b, struct lv_bridge_call *call, json_t *params,
                      struct lv_xmpp *x, const char *service, const char *node,
                      const char *const *ids, size_t n_ids, long max_items,
                      const struct lv_rsm_req *rsm, bool posts)
{
    json_t *use = json_object_get(params, "use_cache");
    const char *profile = lv_backend_profile_of(b, x);
    if ((use && json_is_false(use)) || !profile || !lv_cache_enabled(b->cache))
        return false;
    char *own = service ? NULL : lv_jid_normalize(lv_xmpp_jid(x), true);
    struct lv_store_cache_page_req req;
    /* A plain read wants the newest items, shown oldest first as a pubsub
     * service sends them; RSM pages go forward from the oldest. */
    lv_store_cache_page_req_init(&req, max_items > 0 && max_items <= LV_STORE_CACHE_PAGE_MAX
                                           ? (size_t)max_items
                                           : LV_STORE_CACHE_PAGE_MAX);
    /* With max_items, a bare RSM max is a plain read of the newest items;
     * paging proper (after, before, index, or no max_items: "everything, page
     * by page") goes forward from the oldest, as RSM does on a service. */
    bool forward = rsm && (rsm->after || rsm->before || rsm->index >= 0 || max_items <= 0);
    if (rsm && rsm->max > 0 && rsm->max <= LV_STORE_CACHE_PAGE_MAX)
        req.max = (size_t)rsm->max;
    if (forward) {
        req.oldest_first = true;
        req.after = rsm->after;
        req.before = rsm->before;
        req.index = rsm->index;
    }
    req.names = ids;
    req.n_names = n_ids;
    struct lv_store_cache_page page = {0};
    bool hit = lv_cache_read(b->cache, profile, x, service ? service : own, node, &req, &page);
    free(own);
    if (!hit)
        return false;
    json_t *res = json_pack("{s:o, s:o, s:b}", "items", page_json(&page, posts, !forward), "rsm",
                            page_rsm(&page), "from_cache", 1);
    lv_store_cache_page_release(&page);
    lv_bridge_reply(call, res);
    return true;
}

/* ---- write-through ----
 * Our own publications reach the cache at once, as the notification would:
 * a read right after a publish must see it. */

static void note(struct lv_backend *b, struct lv_xmpp *x, const char *service,
                 struct lv_ps_event *ev)
{
    const char *profile = lv_backend_profile_of(b, x);
    if (!profile || !lv_cache_enabled(b->cache))
        return;
    char *own = service ? NULL : lv_jid_normalize(lv_xmpp_jid(x), true);
    ev->service = service ? service : own;
    lv_cache_on_event(b->cache, profile, ev);
    free(own);
}

void lv_bu_cache_published(struct lv_backend *b, struct lv_xmpp *x, const char *service,
                           const char *node, const char *id, const struct lv_xml *payload)
{
    if (!id || !payload)
        return;
    struct lv_ps_item item = {(char *)id, NULL, (struct lv_xml *)payload};
    struct lv_ps_items items = {&item, 1, {0}};
    struct lv_ps_event ev = {LV_PS_EV_ITEMS, NULL, node, &items, NULL, 0};
    note(b, x, service, &ev);
}

void lv_bu_cache_retracted(struct lv_backend *b, struct lv_xmpp *x, const char *service,
                           const char *node, const char *id)
{
    const char *ids[] = {id};
    struct lv_ps_event ev = {LV_PS_EV_RETRACT, NULL, node, NULL, ids, 1};
    note(b, x, service, &ev);
}

/* ---- psCache* methods ---- */

static struct lv_store *store_of(void *ud)
{
    return ((struct lv_backend *)ud)->store;
}

static json_t *node_json(const struct lv_store_cache_node *n)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:f}", "profile", n->profile, "service",
                  n->service, "node", n->name, "sync_state",
                  lv_store_cache_sync_name(n->sync_state), "items", (json_int_t)n->item_count,
                  "subscribed", n->subscribed, "sync_state_updated", n->sync_state_updated);
    if (n->type)
        json_object_set_new(o, "type", json_string(n->type));
    if (n->subtype)
        json_object_set_new(o, "subtype", json_string(n->subtype));
    if (n->sync_error)
        json_object_set_new(o, "sync_error", json_string(n->sync_error));
    /* Items dropped by [cache] max_items: reads of older ones go to the
     * service (see lv_cache.h). */
    json_object_set_new(o, "trimmed", json_integer((json_int_t)n->trimmed_items));
    if (n->trimmed_items > 0)
        json_object_set_new(o, "trimmed_upto", json_real(n->trimmed_upto));
    return o;
}

/* psCacheGet {profile?, service?, node?, type?} → {nodes: [...], stats} */
static void m_get(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_store_cache_node_filter f = {
        .profile = lv_bu_str(params, "profile"),
        .service = lv_bu_str(params, "service"),
        .node = lv_bu_str(params, "node"),
        .type = lv_bu_str(params, "type"),
    };
    struct lv_store_cache_node *nodes = NULL;
    size_t n = 0;
    struct lv_store_cache_stats stats = {0};
    struct lv_error err;
    if (lv_store_cache_node_list(store_of(ud), &f, &nodes, &n, &err) != 0 ||
        lv_store_cache_stats(store_of(ud), &stats, &err) != 0) {
        lv_bridge_reply_error(call, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, node_json(&nodes[i]));
    lv_store_cache_nodes_free(nodes, n);
    lv_bridge_reply(call, json_pack("{s:o, s:{s:I, s:I, s:I}}", "nodes", arr, "stats", "nodes",
                                    (json_int_t)stats.nodes, "items", (json_int_t)stats.items,
                                    "db_bytes", (json_int_t)stats.db_bytes));
}

static void on_synced(const struct lv_store_cache_node *node, const struct lv_error *err, void *ud)
{
    struct lv_bridge_call *call = ud;
    if (err)
        lv_bridge_reply_error(call, err);
    else if (!node)
        lv_bridge_reply(call, json_null());
    else
        lv_bridge_reply(call, node_json(node));
}

/* psCacheSync {profile?, service?, node} → the node once synced */
static void m_sync(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    struct lv_xmpp *x = lv_backend_call_xmpp(b, call, params);
    struct lv_bu_target t;
    if (!x || lv_bu_target(call, params, true, &t) != 0)
        return;
    if (!lv_cache_enabled(b->cache)) {
        struct lv_error err;
        lv_error_set(&err, LV_ERR_CONFIG, "the pubsub cache is off (pubsub_cache_strategy)");
        lv_bridge_reply_error(call, &err);
        lv_bu_target_release(&t);
        return;
    }
    char *service = t.service ? lv_xstrdup(t.service) : lv_jid_normalize(lv_xmpp_jid(x), true);
    lv_cache_sync(b->cache, lv_backend_profile_of(b, x), x, service, t.node, on_synced, call);
    free(service);
    lv_bu_target_release(&t);
}

/* NULL-terminated list from a JSON array of strings (borrowed strings). */
static const char **str_list(json_t *arr)
{
    if (!json_is_array(arr))
        return NULL;
    size_t n = json_array_size(arr);
    const char **v = lv_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_string_value(json_array_get(arr, i)) ? json_string_value(json_array_get(arr, i))
                                                         : "";
    return v;
}

/* psCachePurge {profiles?, services?, nodes?, types?, subtypes?,
 * created_before?, updated_before?} → number of items deleted */
static void m_purge(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_store_cache_purge_filter f = {
        str_list(json_object_get(params, "profiles")),
        str_list(json_object_get(params, "services")),
        str_list(json_object_get(params, "nodes")),
        str_list(json_object_get(params, "types")),
        str_list(json_object_get(params, "subtypes")),
        json_number_value(json_object_get(params, "created_before")),
        json_number_value(json_object_get(params, "updated_before")),
    };
    size_t deleted = 0;
    struct lv_error err;
    if (lv_store_cache_purge(store_of(ud), &f, &deleted, &err) != 0)
        lv_bridge_reply_error(call, &err);
    else
        lv_bridge_reply(call, json_integer((json_int_t)deleted));
    free((void *)f.profiles);
    free((void *)f.services);
    free((void *)f.nodes);
    free((void *)f.types);
    free((void *)f.subtypes);
}

static void m_reset(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_error err;
    if (lv_store_cache_reset(store_of(ud), &err) != 0)
        lv_bridge_reply_error(call, &err);
    else
        lv_bridge_reply(call, json_true());
}

/* psCacheSearch {query} → results (see lv_store_cache_search) */
static void m_search(struct lv_bridge_call *call, json_t *params, void *ud)
{
    json_t *q = json_object_get(params, "query");
    json_t *res = NULL;
    struct lv_error err;
    if (!json_is_object(q)) {
        lv_error_set(&err, LV_ERR_INVAL, "\"query\" must be an object");
        lv_bridge_reply_error(call, &err);
    } else if (lv_store_cache_search(store_of(ud), q, &res, &err) != 0) {
        lv_bridge_reply_error(call, &err);
    } else {
        lv_bridge_reply(call, res);
    }
}

/* psCacheCategories {profile?, service?, node?, type?, max?} → [{tag, count}] */
static void m_categories(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_store_cache_node_filter f = {
        .profile = lv_bu_str(params, "profile"),
        .service = lv_bu_str(params, "service"),
        .node = lv_bu_str(params, "node"),
        .type = lv_bu_str(params, "type"),
    };
    struct lv_store_cache_category *cats = NULL;
    size_t n = 0;
    struct lv_error err;
    json_int_t max = json_integer_value(json_object_get(params, "max"));
    if (lv_store_cache_categories(store_of(ud), &f, max > 0 ? (size_t)max : 0, &cats, &n, &err)) {
        lv_bridge_reply_error(call, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:I}", "tag", cats[i].tag, "count", (json_int_t)cats[i].count));
    lv_store_cache_categories_free(cats, n);
    lv_bridge_reply(call, arr);
}

static const struct lv_bridge_method methods[] = {
    {"psCacheGet", m_get},     {"psCacheSync", m_sync},     {"psCachePurge", m_purge},
    {"psCacheReset", m_reset}, {"psCacheSearch", m_search}, {"psCacheCategories", m_categories},
};

void lv_bridge_cache_register(struct lv_backend *b)
{
    lv_bridge_add_methods(b->bridge, methods, LV_ARRAY_LEN(methods), b);
}
