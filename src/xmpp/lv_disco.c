#include "lv_disco.h"
#include "core/lv_mem.h"

#include <stdlib.h>
#include <string.h>

struct lv_disco {
    struct lv_xmpp *x;
    struct lv_disco_info self;
    size_t identities_cap, features_cap;
    struct lv_disco_item *items;
    size_t nitems, items_cap;
};

static char *dup_opt(const char *s)
{
    return s ? lv_xstrdup(s) : NULL;
}

static bool on_info(struct lv_xmpp *x, struct lv_xml *req, void *ud)
{
    struct lv_disco *d = ud;
    struct lv_xml *q = lv_xml_find(req, "query", LV_NS_DISCO_INFO);
    const char *node = lv_xml_attr(q, "node");
    if (node) {
        /* We publish no node-specific information yet. */
        lv_xmpp_reply_error(x, req, "cancel", "item-not-found", NULL);
        return true;
    }
    struct lv_xml *r = lv_xmpp_iq_result(req);
    struct lv_xml *rq = lv_xml_new_child(r, "query", LV_NS_DISCO_INFO);
    for (size_t i = 0; i < d->self.nidentities; i++) {
        struct lv_disco_identity *id = &d->self.identities[i];
        struct lv_xml *e = lv_xml_new_child(rq, "identity", NULL);
        lv_xml_set_attr(e, "category", id->category);
        lv_xml_set_attr(e, "type", id->type);
        if (id->name)
            lv_xml_set_attr(e, "name", id->name);
    }
    for (size_t i = 0; i < d->self.nfeatures; i++)
        lv_xml_set_attr(lv_xml_new_child(rq, "feature", NULL), "var", d->self.features[i]);
    lv_xmpp_send(x, r);
    lv_xml_unref(r);
    return true;
}

static bool on_items(struct lv_xmpp *x, struct lv_xml *req, void *ud)
{
    struct lv_disco *d = ud;
    struct lv_xml *q = lv_xml_find(req, "query", LV_NS_DISCO_ITEMS);
    if (lv_xml_attr(q, "node")) {
        lv_xmpp_reply_error(x, req, "cancel", "item-not-found", NULL);
        return true;
    }
    struct lv_xml *r = lv_xmpp_iq_result(req);
    struct lv_xml *rq = lv_xml_new_child(r, "query", LV_NS_DISCO_ITEMS);
    for (size_t i = 0; i < d->nitems; i++) {
        struct lv_xml *e = lv_xml_new_child(rq, "item", NULL);
        lv_xml_set_attr(e, "jid", d->items[i].jid);
        if (d->items[i].node)
            lv_xml_set_attr(e, "node", d->items[i].node);
        if (d->items[i].name)
            lv_xml_set_attr(e, "name", d->items[i].name);
    }
    lv_xmpp_send(x, r);
    lv_xml_unref(r);
    return true;
}

struct lv_disco *lv_disco_new(struct lv_xmpp *x)
{
    struct lv_disco *d = lv_xcalloc(1, sizeof(*d));
    d->x = x;
    lv_disco_add_feature(d, LV_NS_DISCO_INFO);
    lv_disco_add_feature(d, LV_NS_DISCO_ITEMS);
    lv_disco_add_feature(d, LV_NS_PING);
    lv_xmpp_add_handler(x, "iq", "get", LV_NS_DISCO_INFO, on_info, d);
    lv_xmpp_add_handler(x, "iq", "get", LV_NS_DISCO_ITEMS, on_items, d);
    return d;
}

void lv_disco_free(struct lv_disco *d)
{
    if (!d)
        return;
    lv_xmpp_remove_handler(d->x, on_info, d);
    lv_xmpp_remove_handler(d->x, on_items, d);
    lv_disco_info_release(&d->self);
    for (size_t i = 0; i < d->nitems; i++) {
        free(d->items[i].jid);
        free(d->items[i].node);
        free(d->items[i].name);
    }
    free(d->items);
    free(d);
}

void lv_disco_add_identity(struct lv_disco *d, const char *category, const char *type,
                           const char *name)
{
    lv_grow((void **)&d->self.identities, &d->identities_cap, d->self.nidentities + 1,
            sizeof(*d->self.identities));
    d->self.identities[d->self.nidentities++] =
        (struct lv_disco_identity){lv_xstrdup(category), lv_xstrdup(type), dup_opt(name)};
}

void lv_disco_add_feature(struct lv_disco *d, const char *var)
{
    if (lv_disco_info_has(&d->self, var))
        return;
    lv_grow((void **)&d->self.features, &d->features_cap, d->self.nfeatures + 1,
            sizeof(*d->self.features));
    d->self.features[d->self.nfeatures++] = lv_xstrdup(var);
}

void lv_disco_add_item(struct lv_disco *d, const char *jid, const char *node, const char *name)
{
    lv_grow((void **)&d->items, &d->items_cap, d->nitems + 1, sizeof(*d->items));
    d->items[d->nitems++] = (struct lv_disco_item){lv_xstrdup(jid), dup_opt(node), dup_opt(name)};
}

void lv_disco_info_release(struct lv_disco_info *info)
{
    for (size_t i = 0; i < info->nidentities; i++) {
        free(info->identities[i].category);
        free(info->identities[i].type);
        free(info->identities[i].name);
    }
    free(info->identities);
    for (size_t i = 0; i < info->nfeatures; i++)
        free(info->features[i]);
    free(info->features);
    memset(info, 0, sizeof(*info));
}

bool lv_disco_info_has(const struct lv_disco_info *info, const char *var)
{
    for (size_t i = 0; i < info->nfeatures; i++)
        if (strcmp(info->features[i], var) == 0)
            return true;
    return false;
}

bool lv_disco_info_is(const struct lv_disco_info *info, const char *category, const char *type)
{
    for (size_t i = 0; i < info->nidentities; i++)
        if (strcmp(info->identities[i].category, category) == 0 &&
            (!type || strcmp(info->identities[i].type, type) == 0))
            return true;
    return false;
}

struct query {
    lv_disco_info_fn fn;
    void *ud;
};

static void parse_info(const struct lv_xml *q, struct lv_disco_info *info)
{
    size_t icap = 0, fcap = 0;
    for (struct lv_xml *c = lv_xml_first_elem(q); c; c = lv_xml_find_next(c, NULL, NULL)) {
        const char *cat = lv_xml_attr(c, "category"), *type = lv_xml_attr(c, "type");
        const char *var = lv_xml_attr(c, "var");
        if (strcmp(c->name, "identity") == 0 && cat && type) {
            lv_grow((void **)&info->identities, &icap, info->nidentities + 1,
                    sizeof(*info->identities));
            info->identities[info->nidentities++] = (struct lv_disco_identity){
                lv_xstrdup(cat), lv_xstrdup(type), dup_opt(lv_xml_attr(c, "name"))};
        } else if (strcmp(c->name, "feature") == 0 && var) {
            lv_grow((void **)&info->features, &fcap, info->nfeatures + 1, sizeof(*info->features));
            info->features[info->nfeatures++] = lv_xstrdup(var);
        }
    }
}

static void on_info_reply(struct lv_xmpp *x, struct lv_xml *reply, const struct lv_error *err,
                          void *ud)
{
    struct query *q = ud;
    struct lv_xml *query = reply ? lv_xml_find(reply, "query", LV_NS_DISCO_INFO) : NULL;
    if (err || !query) {
        struct lv_error e;
        if (!err)
            lv_error_set(&e, LV_ERR_PROTO, "disco#info answer without a query element");
        q->fn(x, NULL, err ? err : &e, q->ud);
    } else {
        struct lv_disco_info info = {0};
        parse_info(query, &info);
        q->fn(x, &info, NULL, q->ud);
        lv_disco_info_release(&info);
    }
    free(q);
}

void lv_disco_query_info(struct lv_xmpp *x, const char *jid, const char *node, lv_disco_info_fn fn,
                         void *ud)
{
    struct lv_xml *iq = lv_xmpp_iq_new("get", jid);
    struct lv_xml *q = lv_xml_new_child(iq, "query", LV_NS_DISCO_INFO);
    if (node)
        lv_xml_set_attr(q, "node", node);
    struct query *qq = lv_xcalloc(1, sizeof(*qq));
    qq->fn = fn;
    qq->ud = ud;
    lv_xmpp_send_iq(x, iq, 0, on_info_reply, qq);
}

struct items_query {
    lv_disco_items_fn fn;
    void *ud;
};

static void on_items_reply(struct lv_xmpp *x, struct lv_xml *reply, const struct lv_error *err,
                           void *ud)
{
    struct items_query *q = ud;
    struct lv_xml *query = reply ? lv_xml_find(reply, "query", LV_NS_DISCO_ITEMS) : NULL;
    if (err || !query) {
        struct lv_error e;
        if (!err)
            lv_error_set(&e, LV_ERR_PROTO, "disco#items answer without a query element");
        q->fn(x, NULL, 0, err ? err : &e, q->ud);
        free(q);
        return;
    }
    struct lv_disco_item *items = NULL;
    size_t n = 0, cap = 0;
    for (struct lv_xml *c = lv_xml_find(query, "item", NULL); c;
         c = lv_xml_find_next(c, "item", NULL)) {
        if (!lv_xml_attr(c, "jid"))
            continue;
        lv_grow((void **)&items, &cap, n + 1, sizeof(*items));
        items[n++] = (struct lv_disco_item){lv_xstrdup(lv_xml_attr(c, "jid")),
                                            dup_opt(lv_xml_attr(c, "node")),
                                            dup_opt(lv_xml_attr(c, "name"))};
    }
    q->fn(x, items, n, NULL, q->ud);
    for (size_t i = 0; i < n; i++) {
        free(items[i].jid);
        free(items[i].node);
        free(items[i].name);
    }
    free(items);
    free(q);
}

void lv_disco_query_items(struct lv_xmpp *x, const char *jid, const char *node,
                          lv_disco_items_fn fn, void *ud)
{
    struct lv_xml *iq = lv_xmpp_iq_new("get", jid);
    struct lv_xml *q = lv_xml_new_child(iq, "query", LV_NS_DISCO_ITEMS);
    if (node)
        lv_xml_set_attr(q, "node", node);
    struct items_query *qq = lv_xcalloc(1, sizeof(*qq));
    qq->fn = fn;
    qq->ud = ud;
    lv_xmpp_send_iq(x, iq, 0, on_items_reply, qq);
}
