#include "lv_cache.h"
#include "blog/lv_mb.h"
#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define AREA "cache"
#define RETRY_CHECK_MS 60000
#define MAX_TEXT_BYTES (256 * 1024)

struct waiter {
    lv_cache_sync_fn fn;
    void *ud;
    struct waiter *next;
};

/* One running sync of one node. */
struct job {
    struct lv_cache *c;
    char *profile, *service, *node;
    char *analyser;
    struct lv_xmpp *x;
    int64_t node_id;
    unsigned fetched;
    char *after;
    bool cancelled;
    struct waiter *waiters;
    struct job *next;
};

/* A profile whose stream is online, for retries. */
struct online {
    char *profile;
    struct lv_xmpp *x;
    struct online *next;
};

struct lv_cache {
    uv_loop_t *loop;
    struct lv_store *st;
    struct lv_cache_config cfg;
    struct job *jobs;
    struct online *online;
    uv_timer_t retry;
    uv_idle_t trim;      /* active while the cache is over its bound */
    unsigned trim_batch; /* items the next trim step deletes at most */
    int open_handles;    /* retry and trim, until lv_cache_free closes them */
};

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* ---- analysis ---- */

/* The analyser of a node, from its name (XEP-0277 is the one the reference
 * registers): type and subtype for the node record. */
static const char *analyse_node(const char *node, const char **type, const char **subtype)
{
    *type = *subtype = NULL;
    if (strcmp(node, LV_NS_MICROBLOG) == 0) {
        *type = "blog";
        return "XEP-0277";
    }
    if (strncmp(node, LV_NS_MICROBLOG_COMMENTS, strlen(LV_NS_MICROBLOG_COMMENTS)) == 0) {
        *type = "blog";
        *subtype = "comment";
        return "XEP-0277";
    }
    return NULL;
}

static void add_text(struct lv_buf *b, const char *s)
{
    if (!s || !*s || b->len > MAX_TEXT_BYTES)
        return;
    if (b->len)
        lv_buf_addc(b, '\n');
    lv_buf_adds(b, s);
}

/* The text nodes of a raw payload: what full-text search sees of it (never
 * its element names). The tree's depth is bounded by the parser's limits. */
static void collect_text(const struct lv_xml *x, struct lv_buf *b)
{
    for (const struct lv_xml *c = x->children; c && b->len <= MAX_TEXT_BYTES; c = c->next) {
        if (c->kind == LV_XML_TEXT) {
            size_t start = 0, end = c->text_len;
            while (start < end && strchr(" \t\r\n", c->text[start]))
                start++;
            while (end > start && strchr(" \t\r\n", c->text[end - 1]))
                end--;
            if (start < end) {
                if (b->len)
                    lv_buf_addc(b, ' ');
                lv_buf_add(b, c->text + start, end - start);
            }
        } else {
            collect_text(c, b);
        }
    }
}

static void post_text(json_t *post, struct lv_buf *b)
{
    add_text(b, json_string_value(json_object_get(post, "title")));
    add_text(b, json_string_value(json_object_get(post, "content")));
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(post, "tags"), i, t) add_text(b, json_string_value(t));
    add_text(b, json_string_value(json_object_get(post, "author")));
    add_text(b, json_string_value(json_object_get(post, "author_jid")));
}

void lv_cache_item_analyse(const char *analyser, const char *service, const char *node,
                           const struct lv_ps_item *item, char **text, json_t **parsed,
                           double *published, double *updated)
{
    struct lv_buf b = LV_BUF_INIT;
    *parsed = NULL;
    *published = *updated = 0;
    const char *publisher = lv_mb_item_publisher(service, item->publisher);
    if (analyser && strcmp(analyser, "XEP-0277") == 0 && item->payload &&
        lv_mb_data_from_entry(item->payload, service, node, item->id, publisher, parsed, NULL) ==
            0) {
        post_text(*parsed, &b);
        *published = json_number_value(json_object_get(*parsed, "published"));
        *updated = json_number_value(json_object_get(*parsed, "updated"));
    } else if (item->payload) {
        collect_text(item->payload, &b); /* a raw item: still found by its words */
    }
    *text = lv_buf_detach(&b);
}

/* ---- the bound ---- */

/* The next batch, from how long a full one of batch items took: as many
 * items as fit in LV_CACHE_TRIM_STEP_MS at that pace, growing at most
 * twofold per step (one quick step may be luck). */
static unsigned next_batch(unsigned batch, uint64_t ns)
{
    double fit = (double)batch * LV_CACHE_TRIM_STEP_MS * 1e6 / (ns ? (double)ns : 1);
    if (fit > 2.0 * batch)
        fit = 2.0 * batch;
    if (fit > LV_CACHE_TRIM_BATCH)
        fit = LV_CACHE_TRIM_BATCH;
    return fit < 10 ? 10 : (unsigned)fit;
}

/* One bounded step per turn of the loop: I/O is served between steps. */
static void on_trim(uv_idle_t *h)
{
    struct lv_cache *c = h->data;
    size_t deleted = 0;
    int64_t excess = 0;
    struct lv_error err;
    uint64_t t0 = uv_hrtime();
    int rc = lv_store_cache_trim(c->st, c->cfg.max_items, c->trim_batch, &deleted, &excess, &err);
    if (rc == 0 && deleted == c->trim_batch)
        c->trim_batch = next_batch(c->trim_batch, uv_hrtime() - t0);
    if (rc != 0) {
        /* The next write tries again. */
        lv_warn(AREA, "cannot trim the cache to %u items: %s", c->cfg.max_items, err.msg);
        excess = 0;
    }
    if (deleted)
        lv_debug(AREA, "trimmed %zu old item(s) from the cache; %lld over the bound of %u left",
                 deleted, (long long)excess, c->cfg.max_items);
    if (excess <= 0)
        uv_idle_stop(h);
}

/* After every write: a cache within its bound costs one row read. */
static void check_bound(struct lv_cache *c)
{
    if (c->cfg.max_items && !uv_is_active((uv_handle_t *)&c->trim))
        uv_idle_start(&c->trim, on_trim);
}

/* ---- storing items ---- */

static int store_items(struct lv_cache *c, int64_t node_id, const char *analyser,
                       const char *service, const char *node, const struct lv_ps_items *items,
                       struct lv_error *err)
{
    size_t n = 0;
    struct lv_store_cache_item *v = lv_xcalloc(items->n + 1, sizeof(*v));
    char **texts = lv_xcalloc(items->n + 1, sizeof(*texts));
    char **xmls = lv_xcalloc(items->n + 1, sizeof(*xmls));
    for (size_t i = 0; i < items->n; i++) {
        const struct lv_ps_item *it = &items->items[i];
        if (!it->payload) /* a notification without payload tells nothing to keep */
            continue;
        bool later = false; /* the same id again later in the batch: keep the last */
        for (size_t k = i + 1; k < items->n && !later; k++)
            later = strcmp(items->items[k].id, it->id) == 0 && items->items[k].payload;
        if (later)
            continue;
        struct lv_store_cache_item *ci = &v[n];
        xmls[n] = lv_xml_to_string(it->payload, NULL);
        lv_cache_item_analyse(analyser, service, node, it, &texts[n], &ci->parsed, &ci->published,
                              &ci->updated);
        ci->name = it->id;
        ci->xml = xmls[n];
        ci->text = texts[n];
        n++;
    }
    int rc = n ? lv_store_cache_items_upsert(c->st, node_id, v, n, err) : 0;
    if (rc == 0 && n)
        check_bound(c);
    for (size_t i = 0; i < n; i++) {
        free(texts[i]);
        free(xmls[i]);
        json_decref(v[i].parsed);
    }
    free(texts);
    free(xmls);
    free(v);
    return rc;
}

/* ---- sync jobs ---- */

static struct job *find_job(struct lv_cache *c, const char *profile, const char *service,
                            const char *node)
{
    for (struct job *j = c->jobs; j; j = j->next)
        if (!j->cancelled && strcmp(j->profile, profile) == 0 && strcmp(j->service, service) == 0 &&
            strcmp(j->node, node) == 0)
            return j;
    return NULL;
}

static void job_free(struct job *j)
{
    /* j->c is NULL once the cache itself is gone (lv_cache_free). */
    struct job **p = j->c ? &j->c->jobs : NULL;
    while (p && *p && *p != j)
        p = &(*p)->next;
    if (p && *p)
        *p = j->next;
    while (j->waiters) {
        struct waiter *w = j->waiters;
        j->waiters = w->next;
        free(w);
    }
    free(j->profile);
    free(j->service);
    free(j->node);
    free(j->analyser);
    free(j->after);
    free(j);
}

/* Tells the waiters how it ended and frees the job. */
static void job_end(struct job *j, const struct lv_error *err)
{
    struct lv_store_cache_node rec = {0};
    bool have = lv_store_cache_node_get(j->c->st, j->profile, j->service, j->node, &rec, NULL) == 0;
    for (struct waiter *w = j->waiters; w; w = w->next)
        if (w->fn)
            w->fn(have ? &rec : NULL, err, w->ud);
    lv_store_cache_node_release(&rec);
    job_free(j);
}

static void job_fail(struct job *j, const struct lv_error *err)
{
    if (lv_err_transient(err->code)) {
        /* The connection went away: the sync stays "in progress" and
         * starts again when the profile is back online. */
        lv_info(AREA, "sync of %s %s interrupted (%s); it resumes when %s reconnects", j->service,
                j->node, err->msg, j->profile);
    } else {
        double retry = now_s() + j->c->cfg.retry_delay_s;
        lv_warn(AREA, "sync of %s %s failed: %s; retrying in %u s", j->service, j->node, err->msg,
                j->c->cfg.retry_delay_s);
        lv_store_cache_node_set_sync(j->c->st, j->node_id, LV_STORE_CACHE_SYNC_ERROR, err->msg,
                                     retry, NULL);
    }
    job_end(j, err);
}

static void fetch_page(struct job *j);

static bool more_pages(const struct job *j, const struct lv_ps_items *items)
{
    if (!items->rsm.present || items->n == 0 || !items->rsm.last)
        return false; /* no RSM: the service answered everything at once */
    if (j->fetched >= j->c->cfg.sync_max)
        return false;
    return items->rsm.count < 0 || j->fetched < (unsigned)items->rsm.count;
}

static void on_page(struct lv_xmpp *x, struct lv_ps_items *items, const struct lv_error *err,
                    void *ud)
{
    struct job *j = ud;
    if (j->cancelled) {
        job_free(j);
        return;
    }
    if (err) {
        job_fail(j, err);
        return;
    }
    struct lv_error e;
    if (store_items(j->c, j->node_id, j->analyser, j->service, j->node, items, &e) != 0) {
        job_fail(j, &e);
        return;
    }
    j->fetched += (unsigned)items->n;
    if (more_pages(j, items)) {
        free(j->after);
        j->after = lv_xstrdup(items->rsm.last);
        fetch_page(j);
        return;
    }
    lv_store_cache_node_set_sync(j->c->st, j->node_id, LV_STORE_CACHE_SYNC_COMPLETED, NULL, 0,
                                 NULL);
    lv_info(AREA, "%s: %s %s synced (%u items)", j->profile, j->service, j->node, j->fetched);
    job_end(j, NULL);
}

static void fetch_page(struct job *j)
{
    unsigned left = j->c->cfg.sync_max - j->fetched;
    struct lv_rsm_req rsm = LV_RSM_REQ_NONE;
    rsm.max = (long)(left < j->c->cfg.page ? left : j->c->cfg.page);
    rsm.after = j->after;
    /* No max_items beside RSM: ejabberd then answers the newest items
     * first and pages from the oldest, scrambling the order. A service
     * without RSM sends the whole node, bounded by the stanza size limit
     * (xmpp max_stanza_bytes) and by its own maximum of items. */
    lv_pubsub_get_items(j->x, j->service, j->node, NULL, 0, 0, &rsm, on_page, j);
}

static void on_subscribed(struct lv_xmpp *x, json_t *result, const struct lv_error *err, void *ud)
{
    struct job *j = ud;
    if (j->cancelled) {
        job_free(j);
        return;
    }
    if (err) /* still worth caching: reads stay fast, only freshness suffers */
        lv_info(AREA, "cannot subscribe to %s %s (%s): the copy won't get live updates", j->service,
                j->node, err->msg);
    fetch_page(j);
}

static void add_waiter(struct job *j, lv_cache_sync_fn fn, void *ud)
{
    struct waiter *w = lv_xcalloc(1, sizeof(*w));
    w->fn = fn;
    w->ud = ud;
    w->next = j->waiters;
    j->waiters = w;
}

static void start_job(struct lv_cache *c, const char *profile, struct lv_xmpp *x,
                      const struct lv_store_cache_node *rec, lv_cache_sync_fn fn, void *ud)
{
    struct job *j = find_job(c, profile, rec->service, rec->name);
    if (j) {
        add_waiter(j, fn, ud);
        return;
    }
    j = lv_xcalloc(1, sizeof(*j));
    j->c = c;
    j->profile = lv_xstrdup(profile);
    j->service = lv_xstrdup(rec->service);
    j->node = lv_xstrdup(rec->name);
    j->analyser = rec->analyser ? lv_xstrdup(rec->analyser) : NULL;
    j->x = x;
    j->node_id = rec->id;
    add_waiter(j, fn, ud);
    j->next = c->jobs;
    c->jobs = j;
    lv_store_cache_node_set_sync(c->st, rec->id, LV_STORE_CACHE_SYNC_IN_PROGRESS, NULL, 0, NULL);
    lv_debug(AREA, "%s: syncing %s %s", profile, rec->service, rec->name);
    lv_pubsub_subscribe(x, j->service, j->node, NULL, NULL, on_subscribed, j);
}

/* ---- public entry points ---- */

bool lv_cache_enabled(const struct lv_cache *c)
{
    return c && c->cfg.enabled;
}

static bool due(const struct lv_store_cache_node *n)
{
    return n->sync_state == LV_STORE_CACHE_SYNC_NONE ||
           n->sync_state == LV_STORE_CACHE_SYNC_IN_PROGRESS ||
           (n->sync_state == LV_STORE_CACHE_SYNC_ERROR && n->sync_retry_at <= now_s());
}

/* The date items are ordered and trimmed by. */
static double item_date(const struct lv_store_cache_item_rec *it)
{
    return it->published != 0 ? it->published : it->created;
}

/* Whether the item named name is cached and dated after the date d. */
static bool cached_after(struct lv_cache *c, int64_t node_id, const char *name, double d)
{
    struct lv_store_cache_page_req req;
    struct lv_store_cache_page p = {0};
    lv_store_cache_page_req_init(&req, 1);
    req.names = &name;
    req.n_names = 1;
    bool ok = lv_store_cache_items_get(c->st, node_id, &req, &p, NULL) == 0 && p.n == 1 &&
              item_date(&p.items[0]) > d;
    lv_store_cache_page_release(&p);
    return ok;
}

/* Whether a page read from a trimmed node is the service's answer. The cache
 * holds every item of the node dated after trimmed_upto (W), maybe not the
 * older ones: the answer must lie entirely after W. A page that walks
 * towards older items (the first pages, newest first; "after" newest first;
 * "before" oldest first) is, if all its items are after W and it is full:
 * no item can be missing between them. A page that walks towards newer
 * items from an item X ("before" newest first, "after" oldest first) is, if
 * X is after W. A page that starts at the oldest end never is, nor an order
 * other than the date, nor named items that are not all cached. */
static bool trimmed_page_ok(struct lv_cache *c, const struct lv_store_cache_node *rec,
                            const struct lv_store_cache_page_req *req,
                            const struct lv_store_cache_page *page)
{
    double w = rec->trimmed_upto;
    if (req->order != LV_STORE_CACHE_ORDER_PUBLISHED)
        return false;
    for (size_t i = 0; i < page->n; i++)
        if (item_date(&page->items[i]) <= w)
            return false;
    size_t max = req->max ? req->max : LV_STORE_CACHE_PAGE_DEFAULT;
    if (req->n_names > 0)
        return page->n == (req->n_names < max ? req->n_names : max);
    const char *pivot = req->oldest_first ? req->after : req->before;
    if (pivot && *pivot)
        return cached_after(c, rec->id, pivot, w); /* towards newer items */
    bool from_oldest = req->oldest_first ? !req->before : req->before != NULL;
    return !from_oldest && page->n == max;
}

bool lv_cache_read(struct lv_cache *c, const char *profile, struct lv_xmpp *x, const char *service,
                   const char *node, const struct lv_store_cache_page_req *req,
                   struct lv_store_cache_page *page)
{
    if (!lv_cache_enabled(c))
        return false;
    struct lv_store_cache_node rec = {0};
    const char *type, *subtype;
    const char *analyser = analyse_node(node, &type, &subtype);
    struct lv_store_cache_node_info info = {false, analyser, type, subtype, NULL};
    bool hit = false;
    if (lv_store_cache_node_get(c->st, profile, service, node, &rec, NULL) != 0) {
        if (!analyser ||
            lv_store_cache_node_ensure(c->st, profile, service, node, &info, &rec, NULL, NULL))
            return false;
    }
    if (rec.sync_state == LV_STORE_CACHE_SYNC_COMPLETED)
        hit = lv_store_cache_items_get(c->st, rec.id, req, page, NULL) == 0;
    if (hit && rec.trimmed_items > 0 && !trimmed_page_ok(c, &rec, req, page)) {
        lv_debug(AREA,
                 "%s: a read of %s %s reaches items trimmed from the cache: asking the "
                 "service",
                 profile, service, node);
        lv_store_cache_page_release(page);
        hit = false;
    } else if (hit && rec.trimmed_items > 0) {
        page->count += rec.trimmed_items; /* the node's size, as near as known */
        if (req->oldest_first)
            page->index += rec.trimmed_items;
    }
    if (rec.sync_state != LV_STORE_CACHE_SYNC_COMPLETED && rec.analyser && due(&rec))
        start_job(c, profile, x, &rec, NULL, NULL);
    lv_store_cache_node_release(&rec);
    return hit;
}

void lv_cache_sync(struct lv_cache *c, const char *profile, struct lv_xmpp *x, const char *service,
                   const char *node, lv_cache_sync_fn fn, void *ud)
{
    const char *type, *subtype;
    const char *analyser = analyse_node(node, &type, &subtype);
    struct lv_store_cache_node_info info = {false, analyser, type, subtype, NULL};
    struct lv_store_cache_node rec = {0};
    struct lv_error err;
    if (lv_store_cache_node_ensure(c->st, profile, service, node, &info, &rec, NULL, &err) != 0) {
        if (fn)
            fn(NULL, &err, ud);
        return;
    }
    if (!find_job(c, profile, service, node))
        lv_store_cache_node_purge(c->st, rec.id, NULL, NULL); /* from scratch */
    start_job(c, profile, x, &rec, fn, ud);
    lv_store_cache_node_release(&rec);
}

/* Starts the syncs of profile that are due: interrupted ones, failed ones
 * whose retry time came. */
static void resume(struct lv_cache *c, const char *profile, struct lv_xmpp *x)
{
    struct lv_store_cache_node *nodes = NULL;
    size_t n = 0;
    struct lv_store_cache_node_filter f = {.profile = profile};
    if (lv_store_cache_node_list(c->st, &f, &nodes, &n, NULL) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        struct lv_store_cache_node *nd = &nodes[i];
        if (nd->sync_state == LV_STORE_CACHE_SYNC_NONE ||
            nd->sync_state == LV_STORE_CACHE_SYNC_COMPLETED || !due(nd) ||
            find_job(c, profile, nd->service, nd->name))
            continue;
        /* From scratch: the items kept from the interrupted run would
         * otherwise keep older arrival times than their neighbours, and
         * arrival is the order of items that carry no date of their own. */
        lv_store_cache_node_purge(c->st, nd->id, NULL, NULL);
        start_job(c, profile, x, nd, NULL, NULL);
    }
    lv_store_cache_nodes_free(nodes, n);
}

static void on_retry_timer(uv_timer_t *t)
{
    struct lv_cache *c = t->data;
    for (struct online *o = c->online; o; o = o->next)
        resume(c, o->profile, o->x);
}

void lv_cache_profile_online(struct lv_cache *c, const char *profile, struct lv_xmpp *x)
{
    if (!lv_cache_enabled(c))
        return;
    lv_cache_profile_offline(c, profile);
    struct online *o = lv_xcalloc(1, sizeof(*o));
    o->profile = lv_xstrdup(profile);
    o->x = x;
    o->next = c->online;
    c->online = o;
    resume(c, profile, x);
}

void lv_cache_profile_offline(struct lv_cache *c, const char *profile)
{
    if (!c)
        return;
    for (struct job *j = c->jobs; j; j = j->next)
        if (strcmp(j->profile, profile) == 0)
            j->cancelled = true; /* freed when its pending request comes back */
    for (struct online **p = &c->online; *p;) {
        struct online *o = *p;
        if (strcmp(o->profile, profile) == 0) {
            *p = o->next;
            free(o->profile);
            free(o);
        } else {
            p = &o->next;
        }
    }
}

void lv_cache_on_event(struct lv_cache *c, const char *profile, const struct lv_ps_event *ev)
{
    if (!lv_cache_enabled(c) || !ev->node)
        return;
    struct lv_store_cache_node rec = {0};
    if (lv_store_cache_node_get(c->st, profile, ev->service, ev->node, &rec, NULL) != 0)
        return;
    bool live = rec.sync_state == LV_STORE_CACHE_SYNC_COMPLETED ||
                rec.sync_state == LV_STORE_CACHE_SYNC_IN_PROGRESS;
    /* While a sync runs, new items are left to it: they come in a later page
     * (the stream delivers answers and notifications in the server's order),
     * and in the node's own order, which a notification racing the pages
     * (e.g. the last item sent on subscription) would break for items that
     * carry no date. Retractions apply at once. */
    bool syncing = find_job(c, profile, ev->service, ev->node) != NULL;
    struct lv_error err;
    int rc = 0;
    if (live && !syncing && ev->kind == LV_PS_EV_ITEMS && ev->items)
        rc = store_items(c, rec.id, rec.analyser, ev->service, ev->node, ev->items, &err);
    if (live && rc == 0 && ev->n_retracted)
        rc = lv_store_cache_items_delete(c->st, rec.id, ev->retracted, ev->n_retracted, NULL, &err);
    if (live && ev->kind == LV_PS_EV_PURGE)
        rc = lv_store_cache_node_purge(c->st, rec.id, NULL, &err);
    if (ev->kind == LV_PS_EV_DELETE)
        rc = lv_store_cache_node_delete(c->st, rec.id, &err);
    if (rc != 0)
        lv_warn(AREA, "cannot apply a notification of %s %s to the cache: %s", ev->service,
                ev->node, err.msg);
    lv_store_cache_node_release(&rec);
}

struct lv_cache *lv_cache_new(uv_loop_t *loop, struct lv_store *st,
                              const struct lv_cache_config *cfg)
{
    struct lv_cache *c = lv_xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->st = st;
    c->cfg = *cfg;
    if (!c->cfg.page)
        c->cfg.page = 100;
    if (!c->cfg.sync_max)
        c->cfg.sync_max = 5000;
    c->trim_batch = LV_CACHE_TRIM_BATCH_FIRST;
    uv_timer_init(loop, &c->retry);
    c->retry.data = c;
    uv_timer_start(&c->retry, on_retry_timer, RETRY_CHECK_MS, RETRY_CHECK_MS);
    uv_idle_init(loop, &c->trim);
    c->trim.data = c;
    c->open_handles = 2;
    check_bound(c);
    return c;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct lv_cache *c = h->data;
    if (--c->open_handles == 0)
        free(c);
}

void lv_cache_free(struct lv_cache *c)
{
    if (!c)
        return;
    /* Running jobs wait for their request's callback, which comes (with an
     * error) when the streams close: mark them, the callbacks free them. */
    for (struct job *j = c->jobs; j; j = j->next) {
        j->cancelled = true;
        j->c = NULL;
    }
    while (c->online)
        lv_cache_profile_offline(c, c->online->profile);
    uv_close((uv_handle_t *)&c->retry, on_handle_closed);
    uv_close((uv_handle_t *)&c->trim, on_handle_closed);
}
