/* Dispatch of the pubsub cache operations to the store's backend, with the
 * argument checks every backend relies on (lv_store_cache_backend.h). */
#include "store/lv_store_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/lv_mem.h"
#include "store/lv_store_backend.h"
#include "store/lv_store_cache_backend.h"

static const char *const sync_names[] = {
    [LV_STORE_CACHE_SYNC_NONE] = "none",
    [LV_STORE_CACHE_SYNC_IN_PROGRESS] = "in_progress",
    [LV_STORE_CACHE_SYNC_COMPLETED] = "completed",
    [LV_STORE_CACHE_SYNC_ERROR] = "error",
};

const char *lv_store_cache_sync_name(enum lv_store_cache_sync state)
{
    if ((unsigned)state >= LV_ARRAY_LEN(sync_names))
        return "unknown";
    return sync_names[state];
}

/* ---- records --------------------------------------------------------------- */

void lv_store_cache_node_release(struct lv_store_cache_node *n)
{
    if (!n)
        return;
    free(n->profile);
    free(n->service);
    free(n->name);
    free(n->analyser);
    free(n->type);
    free(n->subtype);
    free(n->extra);
    free(n->sync_error);
    memset(n, 0, sizeof(*n));
}

void lv_store_cache_nodes_free(struct lv_store_cache_node *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lv_store_cache_node_release(&v[i]);
    free(v);
}

void lv_store_cache_page_req_init(struct lv_store_cache_page_req *req, size_t max)
{
    memset(req, 0, sizeof(*req));
    req->max = max;
    req->index = -1;
}

static void item_rec_release(struct lv_store_cache_item_rec *r)
{
    free(r->name);
    free(r->xml);
    json_decref(r->parsed);
}

void lv_store_cache_page_release(struct lv_store_cache_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->n; i++)
        item_rec_release(&page->items[i]);
    free(page->items);
    free(page->first);
    free(page->last);
    memset(page, 0, sizeof(*page));
}

void lv_store_cache_categories_free(struct lv_store_cache_category *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].tag);
    free(v);
}

/* ---- checks ---------------------------------------------------------------- */

static const struct lv_store_cache_backend *cache_be(struct lv_store *st)
{
    return st->be->cache;
}

/* A backend without the cache (its cache table NULL; both built-in backends
 * have it) answers every call with this: the configuration chose a backend
 * that cannot serve the call, which is not a bug, so LV_ERR_CONFIG. */
static int no_cache(struct lv_store *st, struct lv_error *err)
{
    return lv_error_set(err, LV_ERR_CONFIG,
                        "the pubsub cache is not supported by the %s backend yet", st->be->name);
}

static int check_profile(const char *profile, struct lv_error *err)
{
    if (lv_store_profile_name_valid(profile))
        return 0;
    return lv_error_set(err, LV_ERR_INVAL, "invalid profile name \"%.*s\"", LV_PROFILE_NAME_MAX,
                        profile ? profile : "");
}

static int check_node_key(const char *profile, const char *service, const char *node,
                          struct lv_error *err)
{
    int rc = check_profile(profile, err);
    if (rc == 0 && (!service || !*service))
        rc = lv_error_set(err, LV_ERR_INVAL, "empty pubsub service");
    if (rc == 0 && (!node || !*node))
        rc = lv_error_set(err, LV_ERR_INVAL, "empty pubsub node name");
    return rc;
}

/* extra is stored as text: checking it here keeps every row parseable. */
static int check_info(const struct lv_store_cache_node_info *info, struct lv_error *err)
{
    if (!info || !info->extra)
        return 0;
    json_t *j = json_loads(info->extra, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_object(j);
    json_decref(j);
    return ok ? 0 : lv_error_set(err, LV_ERR_INVAL, "node extra data is not a JSON object");
}

static int check_item(const struct lv_store_cache_item *it, size_t i, struct lv_error *err)
{
    if (!it->name || !*it->name)
        return lv_error_set(err, LV_ERR_INVAL, "item %zu: empty item name", i);
    if (!it->xml)
        return lv_error_set(err, LV_ERR_INVAL, "item \"%s\": no payload", it->name);
    if (it->parsed && !json_is_object(it->parsed))
        return lv_error_set(err, LV_ERR_INVAL, "item \"%s\": parsed data is not an object",
                            it->name);
    return 0;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An upsert of the same name twice in one batch would make the result depend
 * on the backend's order of writes: refuse it. Sorting keeps this linear-
 * logarithmic for sync pages of thousands of items. */
static int check_unique_names(const struct lv_store_cache_item *items, size_t n,
                              struct lv_error *err)
{
    const char **names = lv_xmalloc((n ? n : 1) * sizeof(*names));
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        names[i] = items[i].name;
    qsort(names, n, sizeof(*names), cmp_str_ptr);
    for (size_t i = 1; i < n && rc == 0; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            rc = lv_error_set(err, LV_ERR_INVAL, "item \"%s\" given twice in one batch", names[i]);
    free(names);
    return rc;
}

static int check_items(const struct lv_store_cache_item *items, size_t n, struct lv_error *err)
{
    if (n > 0 && !items)
        return lv_error_set(err, LV_ERR_INVAL, "no items");
    for (size_t i = 0; i < n; i++) {
        int rc = check_item(&items[i], i, err);
        if (rc != 0)
            return rc;
    }
    return check_unique_names(items, n, err);
}

static int check_names(const char *const *names, size_t n, struct lv_error *err)
{
    if (n > 0 && !names)
        return lv_error_set(err, LV_ERR_INVAL, "no item names");
    for (size_t i = 0; i < n; i++)
        if (!names[i] || !*names[i])
            return lv_error_set(err, LV_ERR_INVAL, "item name %zu is empty", i);
    return 0;
}

static int check_page_req(const struct lv_store_cache_page_req *req, struct lv_error *err)
{
    int set = (req->after != NULL) + (req->before != NULL) + (req->index >= 0) + (req->n_names > 0);
    if (set > 1)
        return lv_error_set(err, LV_ERR_INVAL, "after, before, index and names are exclusive");
    if (req->index < -1)
        return lv_error_set(err, LV_ERR_INVAL, "negative page index");
    if (req->max > LV_STORE_CACHE_PAGE_MAX)
        return lv_error_set(err, LV_ERR_INVAL, "page size %zu over the maximum of %d", req->max,
                            LV_STORE_CACHE_PAGE_MAX);
    if ((unsigned)req->order > LV_STORE_CACHE_ORDER_MODIFICATION)
        return lv_error_set(err, LV_ERR_INVAL, "unknown item order");
    if (req->after && !*req->after)
        return lv_error_set(err, LV_ERR_INVAL, "empty item name after which to page");
    return check_names(req->names, req->n_names, err);
}

static int check_list(const char *what, const char *const *list, struct lv_error *err)
{
    if (list && !list[0])
        return lv_error_set(err, LV_ERR_INVAL, "empty list of %s (use NULL for any)", what);
    return 0;
}

static int check_purge(const struct lv_store_cache_purge_filter *f, struct lv_error *err)
{
    if (!f)
        return 0;
    int rc = check_list("profiles", f->profiles, err);
    if (rc == 0)
        rc = check_list("services", f->services, err);
    if (rc == 0)
        rc = check_list("nodes", f->nodes, err);
    if (rc == 0)
        rc = check_list("types", f->types, err);
    if (rc == 0)
        rc = check_list("subtypes", f->subtypes, err);
    return rc;
}

/* ---- nodes ----------------------------------------------------------------- */

int lv_store_cache_node_get(struct lv_store *st, const char *profile, const char *service,
                            const char *node, struct lv_store_cache_node *out, struct lv_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = check_node_key(profile, service, node, err);
    if (rc != 0)
        return rc;
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->node_get(st->state, profile, service, node, out, err);
}

int lv_store_cache_node_ensure(struct lv_store *st, const char *profile, const char *service,
                               const char *node, const struct lv_store_cache_node_info *info,
                               struct lv_store_cache_node *out, bool *created, struct lv_error *err)
{
    bool dummy;
    memset(out, 0, sizeof(*out));
    if (!created)
        created = &dummy;
    *created = false;
    int rc = check_node_key(profile, service, node, err);
    if (rc == 0)
        rc = check_info(info, err);
    if (rc != 0)
        return rc;
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->node_ensure(st->state, profile, service, node, info, out, created, err);
}

int lv_store_cache_node_set_info(struct lv_store *st, int64_t node_id,
                                 const struct lv_store_cache_node_info *info, struct lv_error *err)
{
    static const struct lv_store_cache_node_info none = {0};
    int rc = check_info(info, err);
    if (rc != 0)
        return rc;
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->node_set_info(st->state, node_id, info ? info : &none, err);
}

int lv_store_cache_node_set_sync(struct lv_store *st, int64_t node_id,
                                 enum lv_store_cache_sync state, const char *error, double retry_at,
                                 struct lv_error *err)
{
    if ((unsigned)state > LV_STORE_CACHE_SYNC_ERROR)
        return lv_error_set(err, LV_ERR_INVAL, "unknown sync state %d", (int)state);
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->node_set_sync(st->state, node_id, state, error, retry_at, err);
}

int lv_store_cache_node_list(struct lv_store *st, const struct lv_store_cache_node_filter *filter,
                             struct lv_store_cache_node **out, size_t *n, struct lv_error *err)
{
    static const struct lv_store_cache_node_filter all = {0};
    *out = NULL;
    *n = 0;
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->node_list(st->state, filter ? filter : &all, out, n, err);
}

int lv_store_cache_node_delete(struct lv_store *st, int64_t node_id, struct lv_error *err)
{
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->node_delete(st->state, node_id, err);
}

int lv_store_cache_node_purge(struct lv_store *st, int64_t node_id, size_t *deleted,
                              struct lv_error *err)
{
    size_t dummy;
    *(deleted ? deleted : &dummy) = 0;
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->node_purge(st->state, node_id, deleted ? deleted : &dummy, err);
}

/* ---- items ----------------------------------------------------------------- */

int lv_store_cache_items_upsert(struct lv_store *st, int64_t node_id,
                                const struct lv_store_cache_item *items, size_t n,
                                struct lv_error *err)
{
    int rc = check_items(items, n, err);
    if (rc != 0)
        return rc;
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->items_upsert(st->state, node_id, items, n, err);
}

int lv_store_cache_items_delete(struct lv_store *st, int64_t node_id, const char *const *names,
                                size_t n, size_t *deleted, struct lv_error *err)
{
    size_t dummy;
    *(deleted ? deleted : &dummy) = 0;
    int rc = check_names(names, n, err);
    if (rc != 0)
        return rc;
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->items_delete(st->state, node_id, names, n, deleted ? deleted : &dummy,
                                      err);
}

int lv_store_cache_items_get(struct lv_store *st, int64_t node_id,
                             const struct lv_store_cache_page_req *req,
                             struct lv_store_cache_page *out, struct lv_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = check_page_req(req, err);
    if (rc != 0)
        return rc;
    if (!cache_be(st))
        return no_cache(st, err);
    struct lv_store_cache_page_req r = *req;
    if (r.max == 0)
        r.max = LV_STORE_CACHE_PAGE_DEFAULT;
    return cache_be(st)->items_get(st->state, node_id, &r, out, err);
}

/* ---- search, categories, maintenance --------------------------------------- */

int lv_store_cache_search(struct lv_store *st, json_t *query, json_t **results,
                          struct lv_error *err)
{
    struct lv_store_cache_query q;
    *results = NULL;
    int rc = lv_store_cache_query_parse(query, &q, err);
    if (rc != 0)
        return rc;
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->search(st->state, &q, results, err);
}

int lv_store_cache_categories(struct lv_store *st, const struct lv_store_cache_node_filter *filter,
                              size_t max, struct lv_store_cache_category **out, size_t *n,
                              struct lv_error *err)
{
    static const struct lv_store_cache_node_filter all = {0};
    *out = NULL;
    *n = 0;
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->categories(st->state, filter ? filter : &all, max, out, n, err);
}

int lv_store_cache_purge(struct lv_store *st, const struct lv_store_cache_purge_filter *filter,
                         size_t *deleted, struct lv_error *err)
{
    static const struct lv_store_cache_purge_filter all = {0};
    size_t dummy;
    *(deleted ? deleted : &dummy) = 0;
    int rc = check_purge(filter, err);
    if (rc != 0)
        return rc;
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->purge(st->state, filter ? filter : &all, deleted ? deleted : &dummy, err);
}

int lv_store_cache_reset(struct lv_store *st, struct lv_error *err)
{
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->reset(st->state, err);
}

int lv_store_cache_stats(struct lv_store *st, struct lv_store_cache_stats *out,
                         struct lv_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!cache_be(st))
        return no_cache(st, err);
    return cache_be(st)->stats(st->state, out, err);
}

int lv_store_cache_trim(struct lv_store *st, int64_t max_items, size_t batch, size_t *deleted,
                        int64_t *excess, struct lv_error *err)
{
    size_t dummy_deleted;
    int64_t dummy_excess;
    if (!deleted)
        deleted = &dummy_deleted;
    if (!excess)
        excess = &dummy_excess;
    *deleted = 0;
    *excess = 0;
    if (max_items < 0)
        return lv_error_set(err, LV_ERR_INVAL, "negative cache bound");
    if (batch == 0 || batch > LV_STORE_CACHE_TRIM_BATCH_MAX)
        return lv_error_set(err, LV_ERR_INVAL, "trim batch %zu not within 1..%d", batch,
                            LV_STORE_CACHE_TRIM_BATCH_MAX);
    if (!cache_be(st))
        return no_cache(st, err);
    if (max_items == 0)
        return 0;
    return cache_be(st)->trim(st->state, max_items, batch, deleted, excess, err);
}
