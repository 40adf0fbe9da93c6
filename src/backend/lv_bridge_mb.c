/* Bridge methods for XEP-0277 microblogging (mb*).
 *
 * mbSend turns post data into an Atom entry and publishes it, choosing a
 * user-friendly id that does not overwrite an existing post, creating the
 * comments node when asked, and making sure the blog node is readable by
 * everyone and keeps all posts (Prosody's PEP defaults would hide it and keep
 * one item). mbGet returns post data. */
#include "backend/lv_backend.h"
#include "backend/lv_bridge_util.h"
#include "blog/lv_mb.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "pubsub/lv_pubsub.h"
#include "xmpp/lv_jid.h"

#include <stdlib.h>
#include <string.h>

#define AREA "blog"
#define MAX_ID_TRIES 8

/* Publish-options that make a blog public and unbounded. Prosody 0.12 wants
 * a number for max_items on PEP ("max" is refused), so the largest value it
 * accepts is used. */
static json_t *blog_options(void)
{
    return json_pack("{s:s, s:s}", "pubsub#access_model", "open", "pubsub#max_items", "max");
}

/* The blog's configuration for a node we configure or create ourselves.
 * ejabberd (which refuses publish-options with max_items) only notifies PEP
 * subscribers that have sent it presence unless presence_based_delivery is
 * off: the ActivityPub gateway's virtual JIDs never do. */
static json_t *blog_options_numeric(bool ejabberd)
{
    json_t *o = json_pack("{s:s, s:s}", "pubsub#access_model", "open", "pubsub#max_items", "10000");
    if (ejabberd)
        json_object_set_new(o, "pubsub#presence_based_delivery", json_string("0"));
    return o;
}

struct send {
    struct lv_bridge_call *call;
    struct lv_backend *b;
    struct lv_xmpp *x;
    struct lv_bu_target t;
    json_t *data;  /* owned copy */
    char *own;     /* our bare JID */
    char *item_id; /* final id */
    char *comments_service, *comments_node;
    bool id_given;
    unsigned tries;
    bool options_fallback; /* publish-options refused once already */
    bool ejabberd;         /* refused the ejabberd way (resource-constraint) */
    struct lv_xml *entry;
};

static void send_free(struct send *s)
{
    lv_bu_target_release(&s->t);
    json_decref(s->data);
    free(s->own);
    free(s->item_id);
    free(s->comments_service);
    free(s->comments_node);
    lv_xml_unref(s->entry);
    free(s);
}

static void send_fail(struct send *s, const struct lv_error *err)
{
    lv_bridge_reply_error(s->call, err);
    send_free(s);
}

static void send_published(struct lv_xmpp *x, const char *id, const struct lv_error *err, void *ud);

static bool is_blog_node(const struct send *s)
{
    return strcmp(s->t.node, LV_NS_MICROBLOG) == 0;
}

static void publish_entry(struct send *s, json_t *options)
{
    lv_pubsub_publish(s->x, s->t.service, s->t.node, s->item_id, s->entry, options, send_published,
                      s);
}

static void after_create(struct lv_xmpp *x, const char *id, const struct lv_error *err, void *ud);

static void after_config(struct lv_xmpp *x, const char *id, const struct lv_error *err, void *ud)
{
    struct send *s = ud;
    if (err && err->code == LV_ERR_NOT_FOUND) {
        /* no node yet (ejabberd refuses publish-options, then has nothing to
         * configure): create it with the blog's configuration */
        json_t *opts = blog_options_numeric(s->ejabberd);
        lv_pubsub_create(s->x, s->t.service, s->t.node, opts, after_create, s);
        json_decref(opts);
        return;
    }
    if (err) {
        send_fail(s, err);
        return;
    }
    publish_entry(s, NULL);
}

static void after_create(struct lv_xmpp *x, const char *id, const struct lv_error *err, void *ud)
{
    struct send *s = ud;
    if (err && err->code != LV_ERR_CONFLICT) {
        send_fail(s, err);
        return;
    }
    publish_entry(s, NULL);
}

/* Retries a refused publish: publish-options the node's configuration does
 * not match are applied to the node itself; a missing node is created. */
static bool retry_publish(struct send *s, const struct lv_error *err)
{
    if (s->options_fallback)
        return false;
    s->options_fallback = true;
    s->ejabberd = strcmp(err->cond, "resource-constraint") == 0;
    json_t *opts = blog_options_numeric(s->ejabberd);
    bool done = true;
    if (strcmp(err->cond, "precondition-not-met") == 0 ||
        strcmp(err->cond, "not-acceptable") == 0 || strcmp(err->cond, "bad-request") == 0 ||
        /* ejabberd 23.01: "Unknown field 'pubsub#max_items' of type ...publish-options" */
        strcmp(err->cond, "resource-constraint") == 0) {
        lv_info(AREA, "publish-options refused (%s): configuring %s instead", err->cond, s->t.node);
        lv_pubsub_config_set(s->x, s->t.service, s->t.node, opts, after_config, s);
    } else if (err->code == LV_ERR_NOT_FOUND) {
        lv_pubsub_create(s->x, s->t.service, s->t.node, opts, after_create, s);
    } else {
        done = false;
    }
    json_decref(opts);
    return done;
}

static void send_published(struct lv_xmpp *x, const char *id, const struct lv_error *err, void *ud)
{
    struct send *s = ud;
    if (err && retry_publish(s, err))
        return;
    if (err) {
        send_fail(s, err);
        return;
    }
    lv_bu_cache_published(s->b, x, s->t.service, s->t.node, s->item_id, s->entry);
    lv_bridge_reply(s->call, json_string(s->item_id));
    send_free(s);
}

static void build_and_publish(struct send *s)
{
    struct lv_error err;
    const char *service = s->t.service ? s->t.service : s->own;
    if (lv_mb_entry_from_data(s->data, service, s->t.node, s->item_id, s->own, &s->entry, &err)) {
        send_fail(s, &err);
        return;
    }
    json_t *opts = is_blog_node(s) ? blog_options() : NULL;
    publish_entry(s, opts);
    json_decref(opts);
}

/* ---- comments node ---- */

static void comments_created(struct lv_xmpp *x, const char *id, const struct lv_error *err,
                             void *ud)
{
    struct send *s = ud;
    if (err && err->code != LV_ERR_CONFLICT) {
        send_fail(s, err);
        return;
    }
    char *uri = lv_mb_xmpp_uri(s->comments_service, s->comments_node, NULL);
    json_object_set_new(s->data, "comments",
                        json_pack("[{s:s, s:s, s:s}]", "uri", uri, "service", s->comments_service,
                                  "node", s->comments_node));
    free(uri);
    build_and_publish(s);
}

static void parent_config(struct lv_xmpp *x, json_t *result, const struct lv_error *err, void *ud)
{
    struct send *s = ud;
    /* The comments node is as open as its post (the reference copies the
     * parent's access model); a blog published here is open. */
    const char *access = json_string_value(
        json_object_get(json_object_get(result, "config"), "pubsub#access_model"));
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:s, s:s}", "pubsub#access_model",
                            access && !err ? access : "open", "pubsub#publish_model", "open",
                            "pubsub#persist_items", "1", "pubsub#deliver_payloads", "1",
                            "pubsub#max_items", "10000");
    lv_pubsub_create(x, s->comments_service, s->comments_node, cfg, comments_created, s);
    json_decref(cfg);
}

static void setup_comments(struct send *s)
{
    /* On our own PEP service, comments go to the server's pubsub service,
     * where others may publish; elsewhere they live beside the post. */
    const char *svc = s->t.service;
    if (!svc || strcmp(svc, s->own) == 0)
        svc = lv_backend_pubsub_service(s->b, s->x);
    if (!svc) {
        struct lv_error err;
        lv_error_set_cond(&err, LV_ERR_NOT_FOUND, "feature-not-implemented",
                          "comments need a pubsub service and the server has none "
                          "(publish with --no-comments)");
        send_fail(s, &err);
        return;
    }
    s->comments_service = lv_xstrdup(svc);
    s->comments_node = lv_mb_comments_node(s->item_id);
    lv_pubsub_config_get(s->x, s->t.service, s->t.node, parent_config, s);
}

static void id_ready(struct send *s)
{
    json_t *allow = json_object_get(s->data, "allow_comments");
    bool has_comments = json_array_size(json_object_get(s->data, "comments")) > 0;
    if (json_is_true(allow) && !has_comments)
        setup_comments(s);
    else
        build_and_publish(s);
}

/* ---- choosing the id ---- */

static void choose_id(struct send *s);

static void id_checked(struct lv_xmpp *x, struct lv_ps_items *items, const struct lv_error *err,
                       void *ud)
{
    struct send *s = ud;
    if (err && err->code != LV_ERR_NOT_FOUND) {
        send_fail(s, err);
        return;
    }
    if (!err && items->n > 0) {
        /* Never overwrite another post: draw another suffix. */
        lv_debug(AREA, "id %s is taken, drawing another", s->item_id);
        choose_id(s);
        return;
    }
    id_ready(s);
}

static void choose_id(struct send *s)
{
    if (++s->tries > MAX_ID_TRIES) {
        struct lv_error err;
        lv_error_set(&err, LV_ERR_CONFLICT, "could not find a free item id");
        send_fail(s, &err);
        return;
    }
    free(s->item_id);
    s->item_id = lv_mb_item_id(s->data); /* data has no "id" here: a fresh one */
    const char *ids[] = {s->item_id};
    lv_pubsub_get_items(s->x, s->t.service, s->t.node, ids, 1, 0, NULL, id_checked, s);
}

/* mbSend {service?, node?, data} → item id */
static void m_send(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_backend *b = ud;
    struct lv_xmpp *x = lv_backend_call_xmpp(b, call, params);
    json_t *data = json_object_get(params, "data");
    if (!x)
        return;
    if (!json_is_object(data)) {
        struct lv_error err;
        lv_error_set(&err, LV_ERR_INVAL, "\"data\" must be an object");
        lv_bridge_reply_error(call, &err);
        return;
    }
    struct send *s = lv_xcalloc(1, sizeof(*s));
    if (lv_bu_target(call, params, false, &s->t) != 0) {
        free(s);
        return;
    }
    s->call = call;
    s->b = b;
    s->x = x;
    s->data = json_deep_copy(data);
    s->own = lv_jid_normalize(lv_xmpp_jid(x), true);
    if (!s->t.node)
        s->t.node = lv_xstrdup(LV_NS_MICROBLOG);
    json_t *idv = json_object_get(data, "id");
    const char *id = json_string_value(idv);
    if (idv && !json_is_string(idv)) {
        struct lv_error err;
        lv_error_set(&err, LV_ERR_INVAL, "\"id\" must be a string");
        lv_bridge_reply_error(call, &err);
        send_free(s);
        return;
    }
    if (id && *id) {
        s->item_id = lv_xstrdup(id);
        id_ready(s);
    } else {
        json_object_del(s->data, "id"); /* "" = none */
        choose_id(s);
    }
}

/* ---- reading ---- */

struct get {
    struct lv_bridge_call *call;
    char *service, *node;
};

static void got_items(struct lv_xmpp *x, struct lv_ps_items *items, const struct lv_error *err,
                      void *ud)
{
    struct get *g = ud;
    if (err) {
        lv_bridge_reply_error(g->call, err);
    } else {
        json_t *posts = json_array();
        for (size_t i = 0; i < items->n; i++) {
            const struct lv_ps_item *it = &items->items[i];
            json_t *post = NULL;
            struct lv_error e;
            const char *publisher = lv_mb_item_publisher(g->service, it->publisher);
            if (!it->payload || lv_mb_data_from_entry(it->payload, g->service, g->node, it->id,
                                                      publisher, &post, &e) != 0) {
                lv_debug(AREA, "item %s of %s is not a blog post, skipped", it->id, g->node);
                continue;
            }
            json_array_append_new(posts, post);
        }
        lv_bridge_reply(
            g->call, json_pack("{s:o, s:o}", "items", posts, "rsm", lv_bu_rsm_json(&items->rsm)));
    }
    free(g->service);
    free(g->node);
    free(g);
}

/* mbGet {service?, node?, item_ids?, max_items?, rsm?} → {items: [post], rsm} */
static void m_get(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_xmpp *x = lv_backend_call_xmpp(ud, call, params);
    struct lv_bu_target t;
    if (!x || lv_bu_target(call, params, false, &t) != 0)
        return;
    struct get *g = lv_xcalloc(1, sizeof(*g));
    g->call = call;
    g->service = t.service ? lv_xstrdup(t.service) : lv_jid_normalize(lv_xmpp_jid(x), true);
    g->node = lv_xstrdup(t.node ? t.node : LV_NS_MICROBLOG);
    size_t n = 0;
    const char **ids = lv_bu_ids(params, &n);
    if (n == 0 && t.item) {
        ids[0] = t.item;
        n = 1;
    }
    struct lv_rsm_req rsm;
    bool has_rsm = lv_bu_rsm(params, &rsm);
    long max_items = (long)json_integer_value(json_object_get(params, "max_items"));
    if (lv_bu_cache_read(ud, call, params, x, t.service, g->node, ids, n, max_items,
                         has_rsm ? &rsm : NULL, true)) {
        free(g->service);
        free(g->node);
        free(g);
    } else {
        lv_pubsub_get_items(x, t.service, g->node, ids, n, max_items, has_rsm ? &rsm : NULL,
                            got_items, g);
    }
    free(ids);
    lv_bu_target_release(&t);
}

/* ---- repeat ---- */

struct repeat {
    struct lv_bridge_call *call;
    struct lv_backend *b;
    struct lv_xml *entry; /* what was published */
    char *service, *node, *item;
};

static void repeat_free(struct repeat *r)
{
    free(r->service);
    free(r->node);
    free(r->item);
    lv_xml_unref(r->entry);
    free(r);
}

static void repeat_published(struct lv_xmpp *x, const char *id, const struct lv_error *err,
                             void *ud)
{
    struct repeat *r = ud;
    if (err) {
        lv_bridge_reply_error(r->call, err);
    } else {
        lv_bu_cache_published(r->b, x, NULL, LV_NS_MICROBLOG, id, r->entry);
        lv_bridge_reply(r->call, id ? json_string(id) : json_null());
    }
    repeat_free(r);
}

/* The reference's repeat: the same entry, with its author made explicit and
 * a link rel=via to the original, published on our own blog. */
static void repeat_got(struct lv_xmpp *x, struct lv_ps_items *items, const struct lv_error *err,
                       void *ud)
{
    struct repeat *r = ud;
    struct lv_error e;
    struct lv_xml *entry = (!err && items->n) ? items->items[0].payload : NULL;
    if (err || !entry || !lv_xml_is(entry, "entry", LV_NS_ATOM)) {
        if (!err)
            lv_error_set_cond(&e, items->n ? LV_ERR_INVAL : LV_ERR_NOT_FOUND,
                              items->n ? "bad-request" : "item-not-found",
                              items->n ? "the item to repeat is not a blog post"
                                       : "no item %s to repeat",
                              r->item);
        lv_bridge_reply_error(r->call, err ? err : &e);
        repeat_free(r);
        return;
    }
    struct lv_xml *copy = lv_xml_copy(entry);
    struct lv_xml *author = lv_xml_find(copy, "author", LV_NS_ATOM);
    if (!author)
        author = lv_xml_new_child(copy, "author", LV_NS_ATOM);
    if (!lv_xml_find(author, "uri", LV_NS_ATOM)) {
        char *uri = lv_xasprintf("xmpp:%s", r->service);
        lv_xml_new_child_text(author, "uri", LV_NS_ATOM, uri);
        free(uri);
    }
    struct lv_xml *via = lv_xml_new_child(copy, "link", LV_NS_ATOM);
    char *href = lv_mb_xmpp_uri(r->service, r->node, r->item);
    lv_xml_set_attr(via, "rel", "via");
    lv_xml_set_attr(via, "href", href);
    free(href);
    json_t *opts = blog_options();
    r->entry = copy;
    lv_pubsub_publish(x, NULL, LV_NS_MICROBLOG, NULL, copy, opts, repeat_published, r);
    json_decref(opts);
}

/* mbRepeat {service, node?, item_id} → id of the repeat */
static void m_repeat(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_xmpp *x = lv_backend_call_xmpp(ud, call, params);
    struct lv_bu_target t;
    if (!x || lv_bu_target(call, params, false, &t) != 0)
        return;
    const char *item = lv_bu_str(params, "item_id") ? lv_bu_str(params, "item_id") : t.item;
    if (!item) {
        struct lv_error e;
        lv_error_set(&e, LV_ERR_INVAL, "the item to repeat is needed (-i ITEM)");
        lv_bridge_reply_error(call, &e);
        lv_bu_target_release(&t);
        return;
    }
    struct repeat *r = lv_xcalloc(1, sizeof(*r));
    r->call = call;
    r->b = ud;
    r->service = t.service ? lv_xstrdup(t.service) : lv_jid_normalize(lv_xmpp_jid(x), true);
    r->node = lv_xstrdup(t.node ? t.node : LV_NS_MICROBLOG);
    r->item = lv_xstrdup(item);
    const char *ids[] = {r->item};
    lv_pubsub_get_items(x, t.service, r->node, ids, 1, 0, NULL, repeat_got, r);
    lv_bu_target_release(&t);
}

static const struct lv_bridge_method methods[] = {
    {"mbSend", m_send},
    {"mbGet", m_get},
    {"mbRepeat", m_repeat},
};

void lv_bridge_mb_register(struct lv_backend *b)
{
    lv_bridge_add_methods(b->bridge, methods, LV_ARRAY_LEN(methods), b);
}
