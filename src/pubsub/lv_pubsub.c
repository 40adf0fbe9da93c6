#include "lv_pubsub.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "pubsub/lv_pubsub_wire.h"
#include "xmpp/lv_dataform.h"
#include "xmpp/lv_jid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AREA "pubsub"
#define FORM_PUBLISH_OPTIONS LV_NS_PUBSUB "#publish-options"
#define FORM_NODE_CONFIG LV_NS_PUBSUB "#node_config"
#define FORM_SUBSCRIBE_OPTIONS LV_NS_PUBSUB "#subscribe_options"

/* Longest decimal number read from an RSM set: 18 digits fit in a long. */
#define MAX_DIGITS 18

/* ---- building requests ---- */

static int need(const char *what, const char *v, struct lv_error *err)
{
    if (v && *v)
        return 0;
    return lv_error_set(err, LV_ERR_INVAL, "pubsub request without %s", what);
}

/* A new iq with <pubsub xmlns=ns/>; returns the pubsub element. */
static struct lv_xml *request(const char *type, const char *service, const char *ns,
                              struct lv_xml **iq)
{
    *iq = lv_xmpp_iq_new(type, service);
    return lv_xml_new_child(*iq, "pubsub", ns);
}

/* The shape most requests have: <pubsub xmlns=ns><name node?/></pubsub>.
 * Returns the inner element. */
static struct lv_xml *node_request(const char *type, const char *service, const char *ns,
                                   const char *name, const char *node, struct lv_xml **iq)
{
    struct lv_xml *e = lv_xml_new_child(request(type, service, ns, iq), name, NULL);
    if (node)
        lv_xml_set_attr(e, "node", node);
    return e;
}

/* Appends a submit form of form_type built from values to parent. */
static int add_form(struct lv_xml *parent, const char *form_type, json_t *values,
                    struct lv_error *err)
{
    struct lv_xml *form;
    int rc = lv_form_submit_new(form_type, values, &form, err);
    if (rc == 0)
        lv_xml_add_child_take(parent, form);
    return rc;
}

/* Ends a builder: hands iq out, or drops it on failure. */
static int built(int rc, struct lv_xml *iq, struct lv_xml **out)
{
    if (rc != 0) {
        lv_xml_unref(iq);
        iq = NULL;
    }
    *out = iq;
    return rc;
}

static void add_number(struct lv_xml *parent, const char *name, long v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%ld", v);
    lv_xml_new_child_text(parent, name, NULL, buf);
}

static void add_rsm(struct lv_xml *pubsub, const struct lv_rsm_req *rsm)
{
    if (!rsm || (rsm->max < 0 && !rsm->after && !rsm->before && rsm->index < 0))
        return;
    struct lv_xml *set = lv_xml_new_child(pubsub, "set", LV_NS_RSM);
    if (rsm->max >= 0)
        add_number(set, "max", rsm->max);
    if (rsm->after)
        lv_xml_new_child_text(set, "after", NULL, rsm->after);
    if (rsm->before) /* "" gives <before/>: the last page */
        lv_xml_new_child_text(set, "before", NULL, rsm->before);
    if (rsm->index >= 0)
        add_number(set, "index", rsm->index);
}

int lv_pubsub_build_items(const char *service, const char *node, const char *const *ids,
                          size_t n_ids, long max_items, const struct lv_rsm_req *rsm,
                          struct lv_xml **out, struct lv_error *err)
{
    *out = NULL;
    if (need("node", node, err) != 0)
        return LV_ERR_INVAL;
    for (size_t i = 0; i < n_ids; i++)
        if (need("item id", ids[i], err) != 0)
            return LV_ERR_INVAL;
    struct lv_xml *iq;
    struct lv_xml *items = node_request("get", service, LV_NS_PUBSUB, "items", node, &iq);
    for (size_t i = 0; i < n_ids; i++)
        lv_xml_set_attr(lv_xml_new_child(items, "item", NULL), "id", ids[i]);
    if (n_ids == 0 && max_items > 0) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%ld", max_items);
        lv_xml_set_attr(items, "max_items", buf);
    }
    if (n_ids == 0)
        add_rsm(items->parent, rsm);
    return built(0, iq, out);
}

int lv_pubsub_build_publish(const char *service, const char *node, const char *id,
                            const struct lv_xml *payload, json_t *options, struct lv_xml **out,
                            struct lv_error *err)
{
    *out = NULL;
    if (need("node", node, err) != 0)
        return LV_ERR_INVAL;
    if (payload && payload->kind != LV_XML_ELEM)
        return lv_error_set(err, LV_ERR_INVAL, "a pubsub payload must be an element");
    struct lv_xml *iq;
    struct lv_xml *publish = node_request("set", service, LV_NS_PUBSUB, "publish", node, &iq);
    struct lv_xml *item = lv_xml_new_child(publish, "item", NULL);
    if (id)
        lv_xml_set_attr(item, "id", id);
    if (payload)
        lv_xml_add_child_take(item, lv_xml_copy(payload));
    int rc = 0;
    if (options) {
        struct lv_xml *po = lv_xml_new_child(publish->parent, "publish-options", NULL);
        rc = add_form(po, FORM_PUBLISH_OPTIONS, options, err);
    }
    return built(rc, iq, out);
}

int lv_pubsub_build_retract(const char *service, const char *node, const char *id, bool notify,
                            struct lv_xml **out, struct lv_error *err)
{
    *out = NULL;
    if (need("node", node, err) != 0 || need("item id", id, err) != 0)
        return LV_ERR_INVAL;
    struct lv_xml *iq;
    struct lv_xml *retract = node_request("set", service, LV_NS_PUBSUB, "retract", node, &iq);
    if (notify)
        lv_xml_set_attr(retract, "notify", "true");
    lv_xml_set_attr(lv_xml_new_child(retract, "item", NULL), "id", id);
    return built(0, iq, out);
}

int lv_pubsub_build_create(const char *service, const char *node, json_t *config,
                           struct lv_xml **out, struct lv_error *err)
{
    struct lv_xml *iq;
    struct lv_xml *create = node_request("set", service, LV_NS_PUBSUB, "create", node, &iq);
    int rc = 0;
    if (config)
        rc = add_form(lv_xml_new_child(create->parent, "configure", NULL), FORM_NODE_CONFIG, config,
                      err);
    return built(rc, iq, out);
}

/* An owner request naming a node and carrying nothing else. */
static int owner_node_request(const char *type, const char *service, const char *name,
                              const char *node, struct lv_xml **out, struct lv_error *err)
{
    *out = NULL;
    if (need("node", node, err) != 0)
        return LV_ERR_INVAL;
    node_request(type, service, LV_NS_PUBSUB_OWNER, name, node, out);
    return 0;
}

int lv_pubsub_build_delete(const char *service, const char *node, struct lv_xml **out,
                           struct lv_error *err)
{
    return owner_node_request("set", service, "delete", node, out, err);
}

int lv_pubsub_build_purge(const char *service, const char *node, struct lv_xml **out,
                          struct lv_error *err)
{
    return owner_node_request("set", service, "purge", node, out, err);
}

int lv_pubsub_build_config_get(const char *service, const char *node, struct lv_xml **out,
                               struct lv_error *err)
{
    return owner_node_request("get", service, "configure", node, out, err);
}

int lv_pubsub_build_config_set(const char *service, const char *node, json_t *config,
                               struct lv_xml **out, struct lv_error *err)
{
    int rc = owner_node_request("set", service, "configure", node, out, err);
    if (rc != 0)
        return rc;
    struct lv_xml *configure = lv_xml_find(lv_xml_first_elem(*out), "configure", NULL);
    return built(add_form(configure, FORM_NODE_CONFIG, config, err), *out, out);
}

int lv_pubsub_build_subscribe(const char *service, const char *node, const char *jid,
                              json_t *options, struct lv_xml **out, struct lv_error *err)
{
    *out = NULL;
    if (need("node", node, err) != 0 || need("jid", jid, err) != 0)
        return LV_ERR_INVAL;
    struct lv_xml *iq;
    struct lv_xml *sub = node_request("set", service, LV_NS_PUBSUB, "subscribe", node, &iq);
    lv_xml_set_attr(sub, "jid", jid);
    int rc = 0;
    if (options)
        rc = add_form(lv_xml_new_child(sub->parent, "options", NULL), FORM_SUBSCRIBE_OPTIONS,
                      options, err);
    return built(rc, iq, out);
}

int lv_pubsub_build_unsubscribe(const char *service, const char *node, const char *jid,
                                const char *subid, struct lv_xml **out, struct lv_error *err)
{
    *out = NULL;
    if (need("node", node, err) != 0 || need("jid", jid, err) != 0)
        return LV_ERR_INVAL;
    struct lv_xml *iq;
    struct lv_xml *unsub = node_request("set", service, LV_NS_PUBSUB, "unsubscribe", node, &iq);
    lv_xml_set_attr(unsub, "jid", jid);
    if (subid)
        lv_xml_set_attr(unsub, "subid", subid);
    return built(0, iq, out);
}

int lv_pubsub_build_subscriptions(const char *service, const char *node, struct lv_xml **out,
                                  struct lv_error *err)
{
    node_request("get", service, LV_NS_PUBSUB, "subscriptions", node, out);
    return 0;
}

int lv_pubsub_build_affiliations(const char *service, const char *node, struct lv_xml **out,
                                 struct lv_error *err)
{
    node_request("get", service, LV_NS_PUBSUB, "affiliations", node, out);
    return 0;
}

int lv_pubsub_build_node_affiliations_get(const char *service, const char *node,
                                          struct lv_xml **out, struct lv_error *err)
{
    return owner_node_request("get", service, "affiliations", node, out, err);
}

int lv_pubsub_build_node_subscriptions_get(const char *service, const char *node,
                                           struct lv_xml **out, struct lv_error *err)
{
    return owner_node_request("get", service, "subscriptions", node, out, err);
}

/* The owner's "set" of affiliations or subscriptions: one <entry jid
 * attr=value/> per member of {jid: value}. */
static int owner_list_set(const char *service, const char *node, const char *list,
                          const char *entry, json_t *values, struct lv_xml **out,
                          struct lv_error *err)
{
    if (!json_is_object(values)) {
        *out = NULL;
        return lv_error_set(err, LV_ERR_INVAL, "%s must be a JSON object {jid: %s}", list, entry);
    }
    int rc = owner_node_request("set", service, list, node, out, err);
    if (rc != 0)
        return rc;
    struct lv_xml *l = lv_xml_find(lv_xml_first_elem(*out), list, NULL);
    const char *jid;
    json_t *v;
    json_object_foreach(values, jid, v)
    {
        if (!json_is_string(v) || !*jid) {
            rc = lv_error_set(err, LV_ERR_INVAL, "%s of \"%s\": a string is needed", entry, jid);
            break;
        }
        struct lv_xml *e = lv_xml_new_child(l, entry, NULL);
        lv_xml_set_attr(e, "jid", jid);
        lv_xml_set_attr(e, entry, json_string_value(v));
    }
    return built(rc, *out, out);
}

int lv_pubsub_build_node_affiliations_set(const char *service, const char *node,
                                          json_t *affiliations, struct lv_xml **out,
                                          struct lv_error *err)
{
    return owner_list_set(service, node, "affiliations", "affiliation", affiliations, out, err);
}

int lv_pubsub_build_node_subscriptions_set(const char *service, const char *node,
                                           json_t *subscriptions, struct lv_xml **out,
                                           struct lv_error *err)
{
    return owner_list_set(service, node, "subscriptions", "subscription", subscriptions, out, err);
}

/* ---- reading answers ---- */

static char *dup_opt(const char *s)
{
    return s ? lv_xstrdup(s) : NULL;
}

/* Finds <pubsub xmlns=ns><name/></pubsub> in a result. An answer without
 * any child element leaves both NULL (an empty result); a <pubsub> without
 * <name/>, or another payload, is a protocol error. */
static int answer_part(const struct lv_xml *reply, const char *ns, const char *name,
                       struct lv_xml **pubsub, struct lv_xml **part, struct lv_error *err)
{
    *pubsub = *part = NULL;
    if (!reply || !lv_xml_first_elem(reply))
        return 0;
    *pubsub = lv_xml_find(reply, "pubsub", ns);
    *part = *pubsub ? lv_xml_find(*pubsub, name, ns) : NULL;
    if (!*part)
        return lv_error_set_cond(err, LV_ERR_PROTO, "bad-request",
                                 "pubsub answer without <pubsub xmlns='%s'><%s/>", ns, name);
    return 0;
}

/* A decimal number of at most MAX_DIGITS digits, nothing else. */
static int parse_number(const char *s, const char *what, long *out, struct lv_error *err)
{
    size_t len = strlen(s);
    if (len == 0 || len > MAX_DIGITS || strspn(s, "0123456789") != len)
        return lv_error_set_cond(err, LV_ERR_PROTO, "bad-request", "RSM %s is not a number: %.40s",
                                 what, s);
    *out = strtol(s, NULL, 10);
    return 0;
}

static int rsm_count(const struct lv_xml *set, struct lv_rsm_res *out, struct lv_error *err)
{
    char *count = lv_xml_child_text(set, "count", LV_NS_RSM);
    int rc = count ? parse_number(count, "count", &out->count, err) : 0;
    free(count);
    return rc;
}

static int rsm_first(const struct lv_xml *set, struct lv_rsm_res *out, struct lv_error *err)
{
    struct lv_xml *first = lv_xml_find(set, "first", LV_NS_RSM);
    if (!first)
        return 0;
    out->first = lv_xml_text(first);
    const char *index = lv_xml_attr(first, "index");
    return index ? parse_number(index, "first index", &out->first_index, err) : 0;
}

int lv_pubsub_parse_rsm(const struct lv_xml *set, struct lv_rsm_res *out, struct lv_error *err)
{
    *out = (struct lv_rsm_res){false, NULL, NULL, -1, -1};
    if (!set)
        return 0;
    out->present = true;
    out->last = lv_xml_child_text(set, "last", LV_NS_RSM);
    int rc = rsm_first(set, out, err);
    if (rc == 0)
        rc = rsm_count(set, out, err);
    if (rc != 0)
        lv_pubsub_rsm_release(out);
    return rc;
}

void lv_pubsub_rsm_release(struct lv_rsm_res *rsm)
{
    free(rsm->first);
    free(rsm->last);
    *rsm = (struct lv_rsm_res){false, NULL, NULL, -1, -1};
}

void lv_ps_items_release(struct lv_ps_items *items)
{
    if (!items)
        return;
    for (size_t i = 0; i < items->n; i++) {
        free(items->items[i].id);
        free(items->items[i].publisher);
        lv_xml_unref(items->items[i].payload);
    }
    free(items->items);
    items->items = NULL;
    items->n = 0;
    lv_pubsub_rsm_release(&items->rsm);
}

/* Adds one <item/> (of an answer or an event) to items. */
static int add_item(struct lv_ps_items *items, size_t *cap, const struct lv_xml *el,
                    struct lv_error *err)
{
    const char *id = lv_xml_attr(el, "id");
    if (!id || !*id) {
        /* Without an id the item cannot be addressed or cached. */
        lv_debug(AREA, "pubsub item without id skipped");
        return 0;
    }
    struct lv_xml *payload = lv_xml_first_elem(el);
    if (payload && lv_xml_find_next(payload, NULL, NULL))
        return lv_error_set_cond(err, LV_ERR_PROTO, "bad-request",
                                 "pubsub item %.80s has several payloads", id);
    lv_grow((void **)&items->items, cap, items->n + 1, sizeof(*items->items));
    items->items[items->n++] =
        (struct lv_ps_item){lv_xstrdup(id), dup_opt(lv_xml_attr(el, "publisher")),
                            payload ? lv_xml_copy(payload) : NULL};
    return 0;
}

int lv_pubsub_parse_items(const struct lv_xml *reply, struct lv_ps_items *out, struct lv_error *err)
{
    *out = (struct lv_ps_items){NULL, 0, {false, NULL, NULL, -1, -1}};
    struct lv_xml *pubsub, *items;
    int rc = answer_part(reply, LV_NS_PUBSUB, "items", &pubsub, &items, err);
    if (rc != 0 || !items)
        return rc;
    size_t cap = 0;
    for (struct lv_xml *c = lv_xml_first_elem(items); c && rc == 0;
         c = lv_xml_find_next(c, NULL, NULL)) {
        if (lv_xml_is(c, "item", LV_NS_PUBSUB))
            rc = add_item(out, &cap, c, err);
        else
            rc = lv_error_set_cond(err, LV_ERR_PROTO, "bad-request",
                                   "unexpected <%.40s/> in a pubsub items answer", c->name);
    }
    if (rc == 0)
        rc = lv_pubsub_parse_rsm(lv_xml_find(pubsub, "set", LV_NS_RSM), &out->rsm, err);
    if (rc != 0)
        lv_ps_items_release(out);
    return rc;
}

/* The attribute attr of <pubsub xmlns=ns><name attr/></pubsub>, copied; NULL
 * when the answer does not have it. */
static char *answer_attr(const struct lv_xml *reply, const char *ns, const char *name,
                         const char *child, const char *attr)
{
    struct lv_xml *pubsub = reply ? lv_xml_find(reply, "pubsub", ns) : NULL;
    struct lv_xml *e = pubsub ? lv_xml_find(pubsub, name, ns) : NULL;
    if (e && child)
        e = lv_xml_find(e, child, ns);
    const char *v = e ? lv_xml_attr(e, attr) : NULL;
    return v && *v ? lv_xstrdup(v) : NULL;
}

int lv_pubsub_parse_published_id(const struct lv_xml *reply, char **id, struct lv_error *err)
{
    *id = answer_attr(reply, LV_NS_PUBSUB, "publish", "item", "id");
    return 0;
}

int lv_pubsub_parse_created_node(const struct lv_xml *reply, char **node, struct lv_error *err)
{
    *node = answer_attr(reply, LV_NS_PUBSUB, "create", NULL, "node");
    return 0;
}

int lv_pubsub_parse_config(const struct lv_xml *reply, const char *node, json_t **out,
                           struct lv_error *err)
{
    *out = NULL;
    struct lv_xml *pubsub, *configure;
    int rc = answer_part(reply, LV_NS_PUBSUB_OWNER, "configure", &pubsub, &configure, err);
    if (rc != 0)
        return rc;
    struct lv_xml *form = lv_form_find(configure);
    if (!form)
        return lv_error_set_cond(err, LV_ERR_PROTO, "bad-request",
                                 "node configuration answer without a form");
    json_t *meta;
    json_t *config = lv_form_to_json(form, &meta);
    *out = json_pack("{s:o, s:o}", "config", config, "meta", meta);
    return 0;
}

int lv_pubsub_parse_subscription(const struct lv_xml *reply, const char *node, json_t **out,
                                 struct lv_error *err)
{
    *out = NULL;
    struct lv_xml *pubsub = reply ? lv_xml_find(reply, "pubsub", LV_NS_PUBSUB) : NULL;
    struct lv_xml *sub = pubsub ? lv_xml_find(pubsub, "subscription", LV_NS_PUBSUB) : NULL;
    if (!sub) {
        /* XEP-0060 wants the state back, but an empty result still says the
         * request succeeded, and nothing in it says pending. */
        *out = json_pack("{s:s}", "subscription", "subscribed");
        return 0;
    }
    const char *state = lv_xml_attr(sub, "subscription");
    if (!state)
        return lv_error_set_cond(err, LV_ERR_PROTO, "bad-request",
                                 "subscription answer without a state");
    *out = json_pack("{s:s}", "subscription", state);
    if (lv_xml_attr(sub, "subid"))
        json_object_set_new(*out, "subid", json_string(lv_xml_attr(sub, "subid")));
    return 0;
}

/* Adds one entry of a list answer to acc; list_node is the node the list
 * element names, else the one the request named (or NULL). */
typedef void (*entry_fn)(const struct lv_xml *entry, const char *list_node, json_t *acc);

/* Runs fn on every <entry/> of <pubsub xmlns=ns><list/></pubsub>. acc is
 * taken: on success it becomes *out, on failure it is dropped. */
static int parse_list(const struct lv_xml *reply, const char *ns, const char *list,
                      const char *entry, const char *node, entry_fn fn, json_t *acc, json_t **out,
                      struct lv_error *err)
{
    *out = NULL;
    struct lv_xml *pubsub, *l;
    int rc = answer_part(reply, ns, list, &pubsub, &l, err);
    if (rc != 0) {
        json_decref(acc);
        return rc;
    }
    const char *list_node = l && lv_xml_attr(l, "node") ? lv_xml_attr(l, "node") : node;
    for (struct lv_xml *e = l ? lv_xml_find(l, entry, ns) : NULL; e;
         e = lv_xml_find_next(e, entry, ns))
        fn(e, list_node, acc);
    *out = acc;
    return 0;
}

static void skipped(const char *what)
{
    lv_debug(AREA, "%s without its required attributes skipped", what);
}

/* {"node", "jid", "subscription", "subid"?} for the user's and the owner's
 * subscription lists (the owner's have no node). */
static void add_subscription(const struct lv_xml *e, const char *list_node, json_t *acc,
                             bool with_node)
{
    const char *node = lv_xml_attr(e, "node") ? lv_xml_attr(e, "node") : list_node;
    const char *jid = lv_xml_attr(e, "jid"), *state = lv_xml_attr(e, "subscription");
    if (!jid || !state || (with_node && !node)) {
        skipped("subscription");
        return;
    }
    json_t *s = json_pack("{s:s, s:s}", "jid", jid, "subscription", state);
    if (with_node)
        json_object_set_new(s, "node", json_string(node));
    if (lv_xml_attr(e, "subid"))
        json_object_set_new(s, "subid", json_string(lv_xml_attr(e, "subid")));
    json_array_append_new(acc, s);
}

static void user_subscription(const struct lv_xml *e, const char *list_node, json_t *acc)
{
    add_subscription(e, list_node, acc, true);
}

static void owner_subscription(const struct lv_xml *e, const char *list_node, json_t *acc)
{
    add_subscription(e, list_node, acc, false);
}

/* {key: affiliation}, key being the node (user's list) or the JID (owner's). */
static void add_affiliation(const struct lv_xml *e, const char *key, json_t *acc)
{
    const char *aff = lv_xml_attr(e, "affiliation");
    if (!key || !aff) {
        skipped("affiliation");
        return;
    }
    json_object_set_new(acc, key, json_string(aff));
}

static void user_affiliation(const struct lv_xml *e, const char *list_node, json_t *acc)
{
    add_affiliation(e, lv_xml_attr(e, "node") ? lv_xml_attr(e, "node") : list_node, acc);
}

static void owner_affiliation(const struct lv_xml *e, const char *list_node, json_t *acc)
{
    add_affiliation(e, lv_xml_attr(e, "jid"), acc);
}

int lv_pubsub_parse_subscriptions(const struct lv_xml *reply, const char *node, json_t **out,
                                  struct lv_error *err)
{
    return parse_list(reply, LV_NS_PUBSUB, "subscriptions", "subscription", node, user_subscription,
                      json_array(), out, err);
}

int lv_pubsub_parse_affiliations(const struct lv_xml *reply, const char *node, json_t **out,
                                 struct lv_error *err)
{
    return parse_list(reply, LV_NS_PUBSUB, "affiliations", "affiliation", node, user_affiliation,
                      json_object(), out, err);
}

int lv_pubsub_parse_node_affiliations(const struct lv_xml *reply, const char *node, json_t **out,
                                      struct lv_error *err)
{
    return parse_list(reply, LV_NS_PUBSUB_OWNER, "affiliations", "affiliation", node,
                      owner_affiliation, json_object(), out, err);
}

int lv_pubsub_parse_node_subscriptions(const struct lv_xml *reply, const char *node, json_t **out,
                                       struct lv_error *err)
{
    return parse_list(reply, LV_NS_PUBSUB_OWNER, "subscriptions", "subscription", node,
                      owner_subscription, json_array(), out, err);
}

void lv_pubsub_refine_error(const struct lv_xml *reply, struct lv_error *err)
{
    struct lv_xml *e = reply ? lv_xml_find(reply, "error", NULL) : NULL;
    struct lv_xml *pe = e ? lv_xml_find(e, NULL, LV_NS_PUBSUB_ERRORS) : NULL;
    if (!pe)
        return;
    const char *feature = lv_xml_attr(pe, "feature");
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_addf(&b, "%s (%s%s%s)", err->msg, pe->name, feature ? ": " : "", feature ? feature : "");
    /* Both copies truncate: a peer's long names must not overflow. */
    snprintf(err->msg, sizeof(err->msg), "%.*s", (int)(sizeof(err->msg) - 1), b.data);
    snprintf(err->cond, sizeof(err->cond), "%.*s", (int)(sizeof(err->cond) - 1), pe->name);
    lv_buf_release(&b);
}

/* ---- event notifications ---- */

static int add_retracted(struct lv_ps_event_data *d, const struct lv_xml *el)
{
    const char *id = lv_xml_attr(el, "id");
    if (!id || !*id) {
        lv_debug(AREA, "pubsub retract without id skipped");
        return 0;
    }
    lv_grow((void **)&d->retracted, &d->retracted_cap, d->n_retracted + 1, sizeof(*d->retracted));
    d->retracted[d->n_retracted++] = lv_xstrdup(id);
    return 0;
}

static int event_items(struct lv_ps_event_data *d, const struct lv_xml *items, struct lv_error *err)
{
    size_t cap = 0;
    int rc = 0;
    for (struct lv_xml *c = lv_xml_first_elem(items); c && rc == 0;
         c = lv_xml_find_next(c, NULL, NULL)) {
        if (lv_xml_is(c, "item", LV_NS_PUBSUB_EVENT))
            rc = add_item(&d->items, &cap, c, err);
        else if (lv_xml_is(c, "retract", LV_NS_PUBSUB_EVENT))
            rc = add_retracted(d, c);
        else
            rc = lv_error_set_cond(err, LV_ERR_PROTO, "bad-request",
                                   "unexpected <%.40s/> in a pubsub items event", c->name);
    }
    if (rc != 0)
        return rc;
    if (d->items.n == 0 && d->n_retracted == 0)
        return lv_error_set_cond(err, LV_ERR_PROTO, "bad-request",
                                 "pubsub items event without any usable item");
    d->ev.kind = d->items.n ? LV_PS_EV_ITEMS : LV_PS_EV_RETRACT;
    d->ev.items = d->items.n ? &d->items : NULL;
    return 0;
}

static int event_kind(struct lv_ps_event_data *d, const struct lv_xml *what, struct lv_error *err)
{
    static const struct {
        const char *name;
        enum lv_ps_event_kind kind;
    } kinds[] = {
        {"purge", LV_PS_EV_PURGE},
        {"delete", LV_PS_EV_DELETE},
        {"configuration", LV_PS_EV_CONFIG},
    };
    if (lv_xml_is(what, "items", LV_NS_PUBSUB_EVENT))
        return event_items(d, what, err);
    for (size_t i = 0; i < LV_ARRAY_LEN(kinds); i++)
        if (lv_xml_is(what, kinds[i].name, LV_NS_PUBSUB_EVENT)) {
            d->ev.kind = kinds[i].kind;
            return 0;
        }
    return lv_error_set_cond(err, LV_ERR_PROTO, "bad-request", "unknown pubsub event <%.40s/>",
                             what->name);
}

int lv_pubsub_parse_event(const struct lv_xml *message, const char *default_from,
                          struct lv_ps_event_data *out, struct lv_error *err)
{
    memset(out, 0, sizeof(*out));
    out->items.rsm = (struct lv_rsm_res){false, NULL, NULL, -1, -1};
    const char *type = lv_xml_attr(message, "type");
    /* A bounce quotes the event it bounces: it is not news from the node. */
    if (type && strcmp(type, "error") == 0)
        return lv_error_set_cond(err, LV_ERR_PROTO, "bad-request",
                                 "an error message carries no pubsub event");
    struct lv_xml *event = lv_xml_find(message, "event", LV_NS_PUBSUB_EVENT);
    struct lv_xml *what = event ? lv_xml_first_elem(event) : NULL;
    const char *node = what ? lv_xml_attr(what, "node") : NULL;
    if (!node || !*node)
        return lv_error_set_cond(err, LV_ERR_PROTO, "bad-request", "pubsub event without a node");
    int rc = event_kind(out, what, err);
    if (rc != 0) {
        lv_pubsub_event_data_release(out);
        return rc;
    }
    const char *from = lv_xml_attr(message, "from");
    out->service = dup_opt(from ? from : default_from);
    out->node = lv_xstrdup(node);
    out->ev.service = out->service;
    out->ev.node = out->node;
    out->ev.retracted = (const char *const *)out->retracted;
    out->ev.n_retracted = out->n_retracted;
    return 0;
}

void lv_pubsub_event_data_release(struct lv_ps_event_data *d)
{
    free(d->service);
    free(d->node);
    lv_ps_items_release(&d->items);
    for (size_t i = 0; i < d->n_retracted; i++)
        free(d->retracted[i]);
    free(d->retracted);
    memset(d, 0, sizeof(*d));
}

/* ---- operations ---- */

typedef int (*parse_id_fn)(const struct lv_xml *reply, char **id, struct lv_error *err);
typedef int (*parse_json_fn)(const struct lv_xml *reply, const char *node, json_t **out,
                             struct lv_error *err);

/* One request in flight: exactly one of done/items/json is set. */
struct op {
    lv_ps_done_fn done;
    lv_ps_items_fn items;
    lv_ps_json_fn json;
    parse_id_fn parse_id;     /* done: reads the id the answer gives */
    parse_json_fn parse_json; /* json: reads the answer */
    char *fallback;           /* done: the id to give when the answer has none */
    char *node;               /* json: the node the request named, or NULL */
    void *ud;
};

static void op_free(struct op *op)
{
    free(op->fallback);
    free(op->node);
    free(op);
}

static void op_fail(struct lv_xmpp *x, struct op *op, const struct lv_error *err)
{
    if (op->done)
        op->done(x, NULL, err, op->ud);
    else if (op->items)
        op->items(x, NULL, err, op->ud);
    else
        op->json(x, NULL, err, op->ud);
}

static void finish_done(struct lv_xmpp *x, struct op *op, const struct lv_xml *reply)
{
    char *id = NULL;
    struct lv_error err;
    if (op->parse_id && op->parse_id(reply, &id, &err) != 0) {
        op_fail(x, op, &err);
        return;
    }
    op->done(x, id ? id : op->fallback, NULL, op->ud);
    free(id);
}

static void finish_items(struct lv_xmpp *x, struct op *op, const struct lv_xml *reply)
{
    struct lv_ps_items items;
    struct lv_error err;
    if (lv_pubsub_parse_items(reply, &items, &err) != 0) {
        lv_warn(AREA, "bad items answer: %s", err.msg);
        op_fail(x, op, &err);
        return;
    }
    op->items(x, &items, NULL, op->ud);
    lv_ps_items_release(&items);
}

static void finish_json(struct lv_xmpp *x, struct op *op, const struct lv_xml *reply)
{
    json_t *result;
    struct lv_error err;
    if (op->parse_json(reply, op->node, &result, &err) != 0) {
        lv_warn(AREA, "bad pubsub answer: %s", err.msg);
        op_fail(x, op, &err);
        return;
    }
    op->json(x, result, NULL, op->ud);
    json_decref(result);
}

static void on_reply(struct lv_xmpp *x, struct lv_xml *reply, const struct lv_error *err, void *ud)
{
    struct op *op = ud;
    if (err) {
        struct lv_error e = *err;
        lv_pubsub_refine_error(reply, &e);
        op_fail(x, op, &e);
    } else if (op->done) {
        finish_done(x, op, reply);
    } else if (op->items) {
        finish_items(x, op, reply);
    } else {
        finish_json(x, op, reply);
    }
    op_free(op);
}

/* Sends the iq a builder made (rc 0), or reports the builder's error: either
 * way op's callback runs once. */
static void run(struct lv_xmpp *x, struct op *op, int rc, struct lv_xml *iq,
                const struct lv_error *err)
{
    if (rc != 0) {
        op_fail(x, op, err);
        op_free(op);
        return;
    }
    lv_xmpp_send_iq(x, iq, 0, on_reply, op);
}

static struct op *done_op(lv_ps_done_fn fn, void *ud, parse_id_fn parse, const char *fallback)
{
    struct op *op = lv_xcalloc(1, sizeof(*op));
    op->done = fn;
    op->ud = ud;
    op->parse_id = parse;
    op->fallback = dup_opt(fallback);
    return op;
}

static struct op *json_op(lv_ps_json_fn fn, void *ud, parse_json_fn parse, const char *node)
{
    struct op *op = lv_xcalloc(1, sizeof(*op));
    op->json = fn;
    op->ud = ud;
    op->parse_json = parse;
    op->node = dup_opt(node);
    return op;
}

void lv_pubsub_get_items(struct lv_xmpp *x, const char *service, const char *node,
                         const char *const *ids, size_t n_ids, long max_items,
                         const struct lv_rsm_req *rsm, lv_ps_items_fn fn, void *ud)
{
    struct op *op = lv_xcalloc(1, sizeof(*op));
    op->items = fn;
    op->ud = ud;
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_items(service, node, ids, n_ids, max_items, rsm, &iq, &err);
    run(x, op, rc, iq, &err);
}

void lv_pubsub_publish(struct lv_xmpp *x, const char *service, const char *node, const char *id,
                       const struct lv_xml *payload, json_t *options, lv_ps_done_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_publish(service, node, id, payload, options, &iq, &err);
    run(x, done_op(fn, ud, lv_pubsub_parse_published_id, id), rc, iq, &err);
}

void lv_pubsub_retract(struct lv_xmpp *x, const char *service, const char *node, const char *id,
                       bool notify, lv_ps_done_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_retract(service, node, id, notify, &iq, &err);
    run(x, done_op(fn, ud, NULL, NULL), rc, iq, &err);
}

void lv_pubsub_create(struct lv_xmpp *x, const char *service, const char *node, json_t *config,
                      lv_ps_done_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_create(service, node, config, &iq, &err);
    run(x, done_op(fn, ud, lv_pubsub_parse_created_node, node), rc, iq, &err);
}

void lv_pubsub_delete_node(struct lv_xmpp *x, const char *service, const char *node,
                           lv_ps_done_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_delete(service, node, &iq, &err);
    run(x, done_op(fn, ud, NULL, NULL), rc, iq, &err);
}

void lv_pubsub_purge(struct lv_xmpp *x, const char *service, const char *node, lv_ps_done_fn fn,
                     void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_purge(service, node, &iq, &err);
    run(x, done_op(fn, ud, NULL, NULL), rc, iq, &err);
}

void lv_pubsub_config_get(struct lv_xmpp *x, const char *service, const char *node,
                          lv_ps_json_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_config_get(service, node, &iq, &err);
    run(x, json_op(fn, ud, lv_pubsub_parse_config, node), rc, iq, &err);
}

void lv_pubsub_config_set(struct lv_xmpp *x, const char *service, const char *node, json_t *config,
                          lv_ps_done_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_config_set(service, node, config, &iq, &err);
    run(x, done_op(fn, ud, NULL, NULL), rc, iq, &err);
}

/* jid, or our own bare JID when jid is NULL; caller frees. */
static char *subscriber(struct lv_xmpp *x, const char *jid)
{
    if (jid)
        return lv_xstrdup(jid);
    char *bare = lv_jid_normalize(lv_xmpp_jid(x), true);
    return bare ? bare : lv_xstrdup(lv_xmpp_jid(x));
}

void lv_pubsub_subscribe(struct lv_xmpp *x, const char *service, const char *node, const char *jid,
                         json_t *options, lv_ps_json_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    char *who = subscriber(x, jid);
    int rc = lv_pubsub_build_subscribe(service, node, who, options, &iq, &err);
    free(who);
    run(x, json_op(fn, ud, lv_pubsub_parse_subscription, node), rc, iq, &err);
}

void lv_pubsub_unsubscribe(struct lv_xmpp *x, const char *service, const char *node,
                           const char *jid, const char *subid, lv_ps_done_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    char *who = subscriber(x, jid);
    int rc = lv_pubsub_build_unsubscribe(service, node, who, subid, &iq, &err);
    free(who);
    run(x, done_op(fn, ud, NULL, NULL), rc, iq, &err);
}

void lv_pubsub_subscriptions(struct lv_xmpp *x, const char *service, const char *node,
                             lv_ps_json_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_subscriptions(service, node, &iq, &err);
    run(x, json_op(fn, ud, lv_pubsub_parse_subscriptions, node), rc, iq, &err);
}

void lv_pubsub_affiliations(struct lv_xmpp *x, const char *service, const char *node,
                            lv_ps_json_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_affiliations(service, node, &iq, &err);
    run(x, json_op(fn, ud, lv_pubsub_parse_affiliations, node), rc, iq, &err);
}

void lv_pubsub_node_affiliations_get(struct lv_xmpp *x, const char *service, const char *node,
                                     lv_ps_json_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_node_affiliations_get(service, node, &iq, &err);
    run(x, json_op(fn, ud, lv_pubsub_parse_node_affiliations, node), rc, iq, &err);
}

void lv_pubsub_node_affiliations_set(struct lv_xmpp *x, const char *service, const char *node,
                                     json_t *affiliations, lv_ps_done_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_node_affiliations_set(service, node, affiliations, &iq, &err);
    run(x, done_op(fn, ud, NULL, NULL), rc, iq, &err);
}

void lv_pubsub_node_subscriptions_get(struct lv_xmpp *x, const char *service, const char *node,
                                      lv_ps_json_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_node_subscriptions_get(service, node, &iq, &err);
    run(x, json_op(fn, ud, lv_pubsub_parse_node_subscriptions, node), rc, iq, &err);
}

void lv_pubsub_node_subscriptions_set(struct lv_xmpp *x, const char *service, const char *node,
                                      json_t *subscriptions, lv_ps_done_fn fn, void *ud)
{
    struct lv_xml *iq;
    struct lv_error err;
    int rc = lv_pubsub_build_node_subscriptions_set(service, node, subscriptions, &iq, &err);
    run(x, done_op(fn, ud, NULL, NULL), rc, iq, &err);
}

/* ---- event listeners ---- */

struct listener {
    lv_ps_event_fn fn; /* NULL: removed while the listeners were being called */
    void *ud;
};

/* The listeners of one stream, behind its one "message" handler; kept in the
 * stream's extension slot, so they go away with it. */
struct dispatcher {
    struct lv_xmpp *x;
    struct listener *l;
    size_t n, cap;
    unsigned busy; /* > 0 while calling listeners: removal only blanks entries */
};

#define EXT_KEY "pubsub-events"

static struct dispatcher *find_dispatcher(const struct lv_xmpp *x)
{
    return lv_xmpp_ext_get(x, EXT_KEY);
}

static void dispatcher_free(void *p)
{
    struct dispatcher *d = p;
    free(d->l);
    free(d);
}

static bool on_message(struct lv_xmpp *x, struct lv_xml *stanza, void *ud);

/* Removes blanked listeners and, when none is left, the stream handler. */
static void compact(struct dispatcher *d)
{
    if (d->busy)
        return; /* the entries must stay in place while they are being called */
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->l[i].fn)
            d->l[k++] = d->l[i];
    d->n = k;
    if (d->n > 0)
        return;
    lv_xmpp_remove_handler(d->x, on_message, d);
    lv_xmpp_ext_set(d->x, EXT_KEY, NULL, NULL);
    dispatcher_free(d);
}

/* Parses message once and calls every listener of d with it. */
static bool dispatch(struct dispatcher *d, struct lv_xmpp *x, const struct lv_xml *message)
{
    struct lv_ps_event_data data;
    struct lv_error err;
    if (lv_pubsub_parse_event(message, lv_xmpp_server(x), &data, &err) != 0) {
        const char *from = lv_xml_attr(message, "from");
        lv_debug(AREA, "pubsub event from %s ignored: %s", from ? from : "-", err.msg);
        return false;
    }
    /* Listeners added by a callback wait for the next event. */
    size_t n = d->n;
    d->busy++;
    for (size_t i = 0; i < n; i++)
        if (d->l[i].fn)
            d->l[i].fn(x, &data.ev, d->l[i].ud);
    d->busy--;
    lv_pubsub_event_data_release(&data);
    compact(d);
    return true;
}

static bool on_message(struct lv_xmpp *x, struct lv_xml *stanza, void *ud)
{
    return dispatch(ud, x, stanza);
}

bool lv_pubsub_dispatch_event(struct lv_xmpp *x, const struct lv_xml *message)
{
    struct dispatcher *d = find_dispatcher(x);
    return d ? dispatch(d, x, message) : false;
}

void lv_pubsub_on_event(struct lv_xmpp *x, lv_ps_event_fn fn, void *ud)
{
    struct dispatcher *d = find_dispatcher(x);
    if (!d) {
        d = lv_xcalloc(1, sizeof(*d));
        d->x = x;
        lv_xmpp_ext_set(x, EXT_KEY, d, dispatcher_free);
        lv_xmpp_add_handler(x, "message", NULL, LV_NS_PUBSUB_EVENT, on_message, d);
    }
    for (size_t i = 0; i < d->n; i++)
        if (d->l[i].fn == fn && d->l[i].ud == ud)
            return;
    lv_grow((void **)&d->l, &d->cap, d->n + 1, sizeof(*d->l));
    d->l[d->n++] = (struct listener){fn, ud};
}

void lv_pubsub_off_event(struct lv_xmpp *x, lv_ps_event_fn fn, void *ud)
{
    struct dispatcher *d = find_dispatcher(x);
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        if (d->l[i].fn == fn && d->l[i].ud == ud)
            d->l[i].fn = NULL;
    compact(d);
}
