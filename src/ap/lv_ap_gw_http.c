/* The gateway's HTTP side: WebFinger, NodeInfo, host-meta, actors,
 * outboxes, collections, items, and the inboxes (verification, storage
 * before 202). */
#include "ap/lv_ap_gw_priv.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "blog/lv_mb.h"
#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "pubsub/lv_pubsub.h"
#include "xml/lv_xml.h"
#include "xmpp/lv_jid.h"

#define VERSION "0.1.0"
#define COLLECTION_MAX 5000

/* ---- common ---- */

/* Does the client want ActivityPub JSON? Only a browser-like Accept (HTML
 * and no ActivityPub type) does not. */
static bool wants_html(struct lv_http_req *req)
{
    const char *acc = lv_http_req_header(req, "Accept");
    if (!acc)
        return false;
    if (strstr(acc, "application/activity+json") || strstr(acc, "application/ld+json") ||
        strstr(acc, "application/json"))
        return false;
    return strstr(acc, "text/html") != NULL;
}

static void html_escape(struct lv_buf *b, const char *s)
{
    lv_xml_escape(b, s, strlen(s), true);
}

/* A browser gets a redirect (html_redirect_dict) or a small page. */
static void reply_html(struct lv_ap_gw *gw, struct lv_http_req *req, const char *type,
                       const char *jid, const char *node, const char *item, const char *url)
{
    json_t *e = json_object_get(gw->html_redirect, type);
    const char *tpl =
        json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "url"));
    if (tpl) {
        struct lv_buf b;
        lv_buf_init(&b);
        struct lv_jid j = {0};
        bool parsed = jid && lv_jid_parse_str(jid, &j, NULL) == 0;
        for (const char *p = tpl; *p; p++) {
            const char *val = NULL;
            size_t skip = 0;
            if (strncmp(p, "{jid}", 5) == 0)
                val = jid, skip = 5;
            else if (strncmp(p, "{jid_user}", 10) == 0)
                val = parsed ? j.local : "", skip = 10;
            else if (strncmp(p, "{node}", 6) == 0)
                val = node ? node : "", skip = 6;
            else if (strncmp(p, "{item}", 6) == 0)
                val = item ? item : "", skip = 6;
            if (skip) {
                if (val)
                    for (const char *c = val; *c; c++) {
                        unsigned char ch = (unsigned char)*c;
                        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                            (ch >= '0' && ch <= '9') || strchr("-._~@", ch))
                            lv_buf_add(&b, c, 1);
                        else
                            lv_buf_addf(&b, "%%%02X", ch);
                    }
                p += skip - 1;
            } else {
                lv_buf_add(&b, p, 1);
            }
        }
        if (parsed)
            lv_jid_release(&j);
        lv_http_reply_redirect(req, 302, b.data ? b.data : "/");
        lv_buf_release(&b);
        return;
    }
    struct lv_buf b;
    lv_buf_init(&b);
    lv_buf_addf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    html_escape(&b, jid ? jid : "Libervia ActivityPub gateway");
    lv_buf_addf(&b, "</title></head><body><h1>");
    html_escape(&b, jid ? jid : "Libervia ActivityPub gateway");
    lv_buf_addf(&b, "</h1><p>This is an ActivityPub %s of the Libervia XMPP gateway.", type);
    if (url) {
        lv_buf_addf(&b, " Its ActivityPub address is <code>");
        html_escape(&b, url);
        lv_buf_addf(&b, "</code>.");
    }
    if (jid) {
        lv_buf_addf(&b, " On XMPP: <a href=\"");
        char *uri = lv_mb_xmpp_uri(jid, node, item);
        html_escape(&b, uri);
        lv_buf_addf(&b, "\">");
        html_escape(&b, uri);
        lv_buf_addf(&b, "</a>.");
        free(uri);
    }
    lv_buf_addf(&b, "</p></body></html>\n");
    lv_http_req_add_header(req, "Vary", "Accept");
    lv_http_reply_bytes(req, 200, "text/html; charset=utf-8", b.data, b.len);
    lv_buf_release(&b);
}

static void reply_ap(struct lv_http_req *req, json_t *doc)
{
    lv_http_req_add_header(req, "Vary", "Accept");
    lv_http_reply_json(req, 200, LV_HTTP_CT_ACTIVITY, doc);
    json_decref(doc);
}

static json_t *context(void)
{
    return json_pack("[s, s]", LV_AP_NS_AS, LV_AP_NS_SECURITY);
}

/* A local account from a path argument: its JID and node (NULL for the
 * blog). 0, or answers the request (404) and returns -1. */
static int local_account(struct lv_ap_gw *gw, struct lv_http_req *req, const char *account,
                         struct lv_jid *jid, char **node)
{
    struct lv_error err = {0};
    int rc = lv_ap_jid_from_account(&gw->addr, account, strlen(account), jid, node, &err);
    if (rc == 0 && lv_ap_is_virtual_jid(&gw->addr, jid)) {
        lv_jid_release(jid);
        free(*node);
        *node = NULL;
        lv_http_reply_error(req, 404, "not a local account (remote actors are not served here)");
        return -1;
    }
    if (rc == 0 && !jid->local) {
        lv_jid_release(jid);
        free(*node);
        *node = NULL;
        lv_http_reply_error(req, 404, "no such account");
        return -1;
    }
    if (rc != 0) {
        lv_http_reply_error(req, 404, err.msg[0] ? err.msg : "no such account");
        return -1;
    }
    return 0;
}

/* ---- a request waiting for something (account check, key, items) ---- */

struct pending {
    struct lv_ap_gw *gw;
    struct lv_http_req *req;
    char *account, *jid, *node, *item;
    long page;
};

static struct pending *pending_new(struct lv_ap_gw *gw, struct lv_http_req *req,
                                   const char *account, struct lv_jid *jid, char *node)
{
    struct pending *p = lv_xcalloc(1, sizeof(*p));
    p->gw = gw;
    p->req = req;
    p->account = lv_xstrdup(account);
    p->jid = lv_jid_bare(jid);
    p->node = node;
    lv_jid_release(jid);
    return p;
}

static void pending_free(struct pending *p)
{
    free(p->account);
    free(p->jid);
    free(p->node);
    free(p->item);
    free(p);
}

/* ---- WebFinger, host-meta, NodeInfo ---- */

static void webfinger_exists(struct lv_ap_gw *gw, int yes, void *ud)
{
    struct pending *p = ud;
    if (yes < 0) {
        lv_http_reply_error(p->req, 503, "the gateway is not connected to its XMPP server");
    } else if (!yes) {
        lv_http_reply_error(p->req, 404, "no such account (or its blog is not public)");
    } else {
        char *actor = gw_actor_url(gw, p->account);
        char *subject = lv_xasprintf("acct:%s", p->account);
        json_t *doc = json_pack(
            "{s:s, s:[s], s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}", "subject", subject, "aliases",
            actor, "links", "rel", "self", "type", "application/activity+json", "href", actor,
            "rel", "http://webfinger.net/rel/profile-page", "type", "text/html", "href", actor);
        lv_http_req_add_header(p->req, "Access-Control-Allow-Origin", "*");
        lv_http_reply_json(p->req, 200, LV_HTTP_CT_JRD, doc);
        json_decref(doc);
        free(subject);
        free(actor);
    }
    pending_free(p);
}

static void h_webfinger(struct lv_http_req *req, void *ud)
{
    struct lv_ap_gw *gw = ud;
    /* Already form-decoded by the server; lv_ap_webfinger_account() decodes
     * once more, which changes nothing for an account handle (no '%' or
     * '+'). */
    const char *res = lv_http_req_query(req, "resource");
    if (!res || !*res) {
        lv_http_reply_error(req, 400, "the resource parameter is missing");
        return;
    }
    char *account = NULL;
    struct lv_error err = {0};
    int rc = lv_ap_webfinger_account(&gw->addr, res, strlen(res), &account, &err);
    if (rc != 0) {
        lv_http_reply_error(req, rc == LV_ERR_NOT_FOUND ? 404 : 400, err.msg);
        return;
    }
    struct lv_jid jid;
    char *node = NULL;
    if (local_account(gw, req, account, &jid, &node) != 0) {
        free(account);
        return;
    }
    struct pending *p = pending_new(gw, req, account, &jid, node);
    free(account);
    gw_account_exists(gw, p->jid, webfinger_exists, p);
}

static void h_host_meta(struct lv_http_req *req, void *ud)
{
    struct lv_ap_gw *gw = ud;
    struct lv_buf b;
    lv_buf_init(&b);
    lv_buf_addf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n"
                    "  <Link rel=\"lrdd\" type=\"application/xrd+xml\" template=\"https://");
    html_escape(&b, gw->public_url);
    lv_buf_addf(&b, "/.well-known/webfinger?resource={uri}\"/>\n</XRD>\n");
    lv_http_reply_bytes(req, 200, "application/xrd+xml; charset=utf-8", b.data, b.len);
    lv_buf_release(&b);
}

static void h_nodeinfo_links(struct lv_http_req *req, void *ud)
{
    struct lv_ap_gw *gw = ud;
    char *href = lv_xasprintf("%snodeinfo/2.1", gw->base_url);
    json_t *doc = json_pack("{s:[{s:s, s:s}]}", "links", "rel",
                            "http://nodeinfo.diaspora.software/ns/schema/2.1", "href", href);
    lv_http_reply_json(req, 200, LV_HTTP_CT_JSON, doc);
    json_decref(doc);
    free(href);
}

static void h_nodeinfo(struct lv_http_req *req, void *ud)
{
    struct lv_ap_gw *gw = ud;
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:s, s:s}, s:[s], s:{s:[], s:[]}, s:b, s:{s:{}}, s:{s:s, s:s}}",
        "version", "2.1", "software", "name", "libervia", "version", VERSION, "repository",
        "https://libervia.org", "homepage", "https://libervia.org", "protocols", "activitypub",
        "services", "inbound", "outbound", "openRegistrations", 0, "usage", "users", "metadata",
        "nodeName", gw->public_url, "gateway", gw->jid);
    lv_http_reply_json(req, 200,
                       "application/json; profile=\"http://nodeinfo.diaspora.software/ns/"
                       "schema/2.1#\"",
                       doc);
    json_decref(doc);
}

/* ---- actor ---- */

static void actor_key(struct lv_ap_gw *gw, const char *pem, const struct lv_error *err, void *ud)
{
    struct pending *p = ud;
    if (!pem) {
        lv_http_reply_error(p->req, 503, err ? err->msg : "the actor's key is not available");
        pending_free(p);
        return;
    }
    char *actor = gw_actor_url(gw, p->account);
    char *inbox = gw_url(gw, LV_AP_URL_INBOX, p->account, NULL);
    char *outbox = gw_url(gw, LV_AP_URL_OUTBOX, p->account, NULL);
    char *followers = gw_url(gw, LV_AP_URL_FOLLOWERS, p->account, NULL);
    char *following = gw_url(gw, LV_AP_URL_FOLLOWING, p->account, NULL);
    char *shared = gw_url(gw, LV_AP_URL_SHARED_INBOX, NULL, NULL);
    char *key_id = lv_xasprintf("%s#main-key", actor);
    struct lv_jid j;
    const char *user = p->account;
    char *user_own = NULL;
    if (lv_jid_parse_str(p->jid, &j, NULL) == 0) {
        user_own = lv_xstrdup(j.local ? j.local : p->jid);
        user = user_own;
        lv_jid_release(&j);
    }
    /* preferredUsername is the account's user part: "louise" for
     * louise@example.org, the encoded handle for other nodes. */
    char *pref = lv_xstrdup(p->account);
    char *at = strrchr(pref, '@');
    if (at)
        *at = '\0';
    char *xmpp_uri = lv_xasprintf("xmpp:%s", p->jid);
    json_t *doc = json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s}, "
                            "s:{s:s, s:s, s:s}}",
                            "@context", context(), "id", actor, "type", "Person",
                            "preferredUsername", pref, "name", user, "summary", "", "url", actor,
                            "inbox", inbox, "outbox", outbox, "followers", followers, "following",
                            following, "manuallyApprovesFollowers", 0, "endpoints", "sharedInbox",
                            shared, "publicKey", "id", key_id, "owner", actor, "publicKeyPem", pem);
    json_object_set_new(
        doc, "attachment",
        json_pack("[{s:s, s:s, s:s}]", "type", "PropertyValue", "name", "XMPP", "value", xmpp_uri));
    reply_ap(p->req, doc);
    free(xmpp_uri);
    free(pref);
    free(user_own);
    free(key_id);
    free(shared);
    free(following);
    free(followers);
    free(outbox);
    free(inbox);
    free(actor);
    pending_free(p);
}

static void actor_exists(struct lv_ap_gw *gw, int yes, void *ud)
{
    struct pending *p = ud;
    if (yes <= 0) {
        lv_http_reply_error(p->req, yes < 0 ? 503 : 404,
                            yes < 0 ? "the gateway is not connected to its XMPP server"
                                    : "no such account (or its blog is not public)");
        pending_free(p);
        return;
    }
    if (wants_html(p->req)) {
        char *actor = gw_actor_url(gw, p->account);
        reply_html(gw, p->req, "actor", p->jid, p->node, NULL, actor);
        free(actor);
        pending_free(p);
        return;
    }
    gw_key_get(gw, p->account, actor_key, p);
}

/* Common start of the per-account GET endpoints: the account from segment
 * 2, checked to exist, then next. */
static void with_account(struct lv_ap_gw *gw, struct lv_http_req *req, gw_bool_fn next,
                         size_t nsegs_item)
{
    const char *account = lv_http_req_seg(req, 2);
    struct lv_jid jid;
    char *node = NULL;
    if (!account || local_account(gw, req, account, &jid, &node) != 0) {
        if (!account)
            lv_http_reply_error(req, 404, "no account in the path");
        return;
    }
    struct pending *p = pending_new(gw, req, account, &jid, node);
    if (nsegs_item)
        p->item = lv_xstrdup(lv_http_req_seg(req, nsegs_item));
    const char *page = lv_http_req_query(req, "page");
    if (page) {
        char *end;
        p->page = strtol(page, &end, 10);
        if (strcmp(page, "first") == 0)
            p->page = 1;
        else if (*end || p->page < 1 || p->page > 100000)
            p->page = -1;
        if (p->page < 0) {
            lv_http_reply_error(req, 400, "page must be a number from 1");
            pending_free(p);
            return;
        }
    }
    gw_account_exists(gw, p->jid, next, p);
}

static void h_actor(struct lv_http_req *req, void *ud)
{
    with_account(ud, req, actor_exists, 0);
}

/* ---- items as Notes ---- */

static double item_date(const json_t *note)
{
    int64_t t = 0;
    const char *s = json_string_value(json_object_get(note, "published"));
    if (s)
        lv_mb_parse_date(s, &t);
    return (double)t;
}

static int cmp_notes(const void *a, const void *b)
{
    double da = item_date(*(json_t *const *)a), db = item_date(*(json_t *const *)b);
    return da < db ? 1 : da > db ? -1 : 0;
}

static json_t *create_of(json_t *note)
{
    const char *id = json_string_value(json_object_get(note, "id"));
    char *aid = lv_xasprintf("%s#create", id);
    json_t *a =
        lv_ap_activity_new(aid, "Create", json_string_value(json_object_get(note, "attributedTo")),
                           note, json_object_get(note, "to"), json_object_get(note, "cc"));
    json_object_del(a, "@context");
    json_t *pub = json_object_get(note, "published");
    if (pub)
        json_object_set(a, "published", pub);
    free(aid);
    return a;
}

static void outbox_items(struct lv_xmpp *x, struct lv_ps_items *items, const struct lv_error *err,
                         void *ud)
{
    struct pending *p = ud;
    struct lv_ap_gw *gw = p->gw;
    char *outbox = gw_url(gw, LV_AP_URL_OUTBOX, p->account, NULL);
    json_t **notes = lv_xcalloc(items ? items->n + 1 : 1, sizeof(*notes));
    size_t n = 0;
    for (size_t i = 0; items && i < items->n; i++) {
        json_t *note = gw_note_of_item(gw, p->account, p->jid, p->node, &items->items[i]);
        if (note)
            notes[n++] = note;
    }
    if (err && err->code != LV_ERR_NOT_FOUND) {
        /* an empty node is "item-not-found" on some servers */
        lv_http_reply_error(p->req, 502, err->msg);
        goto out;
    }
    qsort(notes, n, sizeof(*notes), cmp_notes);
    size_t pages = n ? (n + AP_PAGE_SIZE - 1) / AP_PAGE_SIZE : 1;
    if (p->page == 0) {
        char *first = lv_xasprintf("%s?page=1", outbox);
        char *last = lv_xasprintf("%s?page=%zu", outbox, pages);
        json_t *doc = json_pack("{s:o, s:s, s:s, s:I, s:s, s:s}", "@context", context(), "id",
                                outbox, "type", "OrderedCollection", "totalItems", (json_int_t)n,
                                "first", first, "last", last);
        reply_ap(p->req, doc);
        free(first);
        free(last);
        goto out;
    }
    if ((size_t)p->page > pages) {
        lv_http_reply_error(p->req, 404, "no such page");
        goto out;
    }
    size_t start = (size_t)(p->page - 1) * AP_PAGE_SIZE;
    json_t *ordered = json_array();
    for (size_t i = start; i < n && i < start + AP_PAGE_SIZE; i++)
        json_array_append_new(ordered, create_of(notes[i]));
    char *id = lv_xasprintf("%s?page=%ld", outbox, p->page);
    json_t *doc = json_pack("{s:o, s:s, s:s, s:s, s:o}", "@context", context(), "id", id, "type",
                            "OrderedCollectionPage", "partOf", outbox, "orderedItems", ordered);
    if ((size_t)p->page < pages) {
        char *next = lv_xasprintf("%s?page=%ld", outbox, p->page + 1);
        json_object_set_new(doc, "next", json_string(next));
        free(next);
    }
    if (p->page > 1) {
        char *prev = lv_xasprintf("%s?page=%ld", outbox, p->page - 1);
        json_object_set_new(doc, "prev", json_string(prev));
        free(prev);
    }
    reply_ap(p->req, doc);
    free(id);
out:
    for (size_t i = 0; i < n; i++)
        json_decref(notes[i]);
    free(notes);
    free(outbox);
    pending_free(p);
    (void)x;
}

static void outbox_exists(struct lv_ap_gw *gw, int yes, void *ud)
{
    struct pending *p = ud;
    if (yes <= 0) {
        lv_http_reply_error(p->req, yes < 0 ? 503 : 404,
                            yes < 0 ? "the gateway is not connected to its XMPP server"
                                    : "no such account (or its blog is not public)");
        pending_free(p);
        return;
    }
    if (wants_html(p->req)) {
        reply_html(gw, p->req, "outbox", p->jid, p->node, NULL, NULL);
        pending_free(p);
        return;
    }
    lv_pubsub_get_items(gw->x, p->jid, p->node ? p->node : LV_NS_MICROBLOG, NULL, 0,
                        AP_OUTBOX_FETCH_MAX, NULL, outbox_items, p);
}

static void h_outbox(struct lv_http_req *req, void *ud)
{
    with_account(ud, req, outbox_exists, 0);
}

static void item_items(struct lv_xmpp *x, struct lv_ps_items *items, const struct lv_error *err,
                       void *ud)
{
    struct pending *p = ud;
    json_t *note = NULL;
    for (size_t i = 0; items && i < items->n && !note; i++)
        if (strcmp(items->items[i].id, p->item) == 0)
            note = gw_note_of_item(p->gw, p->account, p->jid, p->node, &items->items[i]);
    if (!note) {
        lv_http_reply_error(p->req, err && err->code != LV_ERR_NOT_FOUND ? 502 : 404,
                            err && err->code != LV_ERR_NOT_FOUND ? err->msg : "no such item");
    } else {
        json_object_set_new(note, "@context", context());
        reply_ap(p->req, note);
    }
    pending_free(p);
    (void)x;
}

static void item_exists(struct lv_ap_gw *gw, int yes, void *ud)
{
    struct pending *p = ud;
    if (yes <= 0) {
        lv_http_reply_error(p->req, yes < 0 ? 503 : 404, "no such item");
        pending_free(p);
        return;
    }
    if (wants_html(p->req)) {
        reply_html(gw, p->req, "item", p->jid, p->node, p->item, NULL);
        pending_free(p);
        return;
    }
    const char *ids[1] = {p->item};
    lv_pubsub_get_items(gw->x, p->jid, p->node ? p->node : LV_NS_MICROBLOG, ids, 1, 0, NULL,
                        item_items, p);
}

static void h_item(struct lv_http_req *req, void *ud)
{
    with_account(ud, req, item_exists, 3);
}

/* ---- followers / following ---- */

static void collection(struct lv_ap_gw *gw, struct pending *p, enum lv_ap_follow_dir dir)
{
    enum lv_ap_url_type type = dir == LV_AP_FOLLOWER ? LV_AP_URL_FOLLOWERS : LV_AP_URL_FOLLOWING;
    char *id = gw_url(gw, type, p->account, NULL);
    struct lv_ap_follow_rec *recs = NULL;
    size_t n = 0;
    const char *node = p->node ? p->node : LV_NS_MICROBLOG;
    /* following: what the JID follows, whatever the node */
    if (lv_store_ap_follow_list(gw->st, dir, p->jid, dir == LV_AP_FOLLOWER ? node : NULL, NULL,
                                LV_AP_FOLLOW_ACCEPTED, COLLECTION_MAX, 0, &recs, &n, NULL) != 0) {
        lv_http_reply_error(p->req, 500, "cannot read the collection");
        free(id);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(items, json_string(recs[i].remote));
        lv_ap_follow_rec_release(&recs[i]);
    }
    free(recs);
    char *first_id = lv_xasprintf("%s?page=1", id);
    json_t *doc =
        json_pack("{s:o, s:s, s:s, s:I, s:{s:s, s:s, s:s, s:o}}", "@context", context(), "id", id,
                  "type", "OrderedCollection", "totalItems", (json_int_t)n, "first", "id", first_id,
                  "type", "OrderedCollectionPage", "partOf", id, "orderedItems", items);
    reply_ap(p->req, doc);
    free(first_id);
    free(id);
}

static void followers_exists(struct lv_ap_gw *gw, int yes, void *ud)
{
    struct pending *p = ud;
    if (yes <= 0)
        lv_http_reply_error(p->req, yes < 0 ? 503 : 404, "no such account");
    else if (wants_html(p->req))
        reply_html(gw, p->req, "followers", p->jid, p->node, NULL, NULL);
    else
        collection(gw, p, LV_AP_FOLLOWER);
    pending_free(p);
}

static void following_exists(struct lv_ap_gw *gw, int yes, void *ud)
{
    struct pending *p = ud;
    if (yes <= 0)
        lv_http_reply_error(p->req, yes < 0 ? 503 : 404, "no such account");
    else if (wants_html(p->req))
        reply_html(gw, p->req, "following", p->jid, p->node, NULL, NULL);
    else
        collection(gw, p, LV_AP_FOLLOWING);
    pending_free(p);
}

static void h_followers(struct lv_http_req *req, void *ud)
{
    with_account(ud, req, followers_exists, 0);
}

static void h_following(struct lv_http_req *req, void *ud)
{
    with_account(ud, req, following_exists, 0);
}

/* ---- inboxes ---- */

/* Activity types handled, and those accepted but not acted upon. */
static const char *const handled_types[] = {"Create", "Update", "Delete", "Follow",
                                            "Accept", "Reject", "Undo"};
static const char *const ignored_types[] = {"Announce",
                                            "Like",
                                            "EmojiReact",
                                            "Join",
                                            "Leave",
                                            "Add",
                                            "Remove",
                                            "Block",
                                            "Flag",
                                            "Move",
                                            "Dislike",
                                            "Read",
                                            "View",
                                            "Offer",
                                            "Invite",
                                            "Question",
                                            "Listen",
                                            "Arrive",
                                            "Travel",
                                            "TentativeAccept",
                                            "TentativeReject",
                                            "Ignore"};

static bool type_in(const char *type, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(type, list[i]) == 0)
            return true;
    return false;
}

struct inbox_req {
    struct lv_ap_gw *gw;
    struct lv_http_req *req;
    char *account; /* personal inbox's account, NULL for the shared inbox */
    struct lv_ap_activity act;
};

static void inbox_req_free(struct inbox_req *r)
{
    free(r->account);
    lv_ap_activity_release(&r->act);
    free(r);
}

static void refuse(struct inbox_req *r, unsigned status, const char *reason)
{
    r->gw->inbox_refused++;
    lv_info(AP_AREA, "inbox: refused %s %s from %s: %u %s", r->act.type ? r->act.type : "?",
            r->act.id ? r->act.id : "?", lv_http_req_remote(r->req), status, reason);
    lv_http_reply_error(r->req, status, reason);
}

static void on_verified(const struct lv_ap_actor *signer, unsigned status, const char *reason,
                        void *ud)
{
    struct inbox_req *r = ud;
    struct lv_ap_gw *gw = r->gw;
    if (!signer) {
        refuse(r, status ? status : 401, reason ? reason : "signature does not verify");
        inbox_req_free(r);
        return;
    }
    if (strcmp(signer->rec.id, r->act.actor) != 0) {
        refuse(r, 401, "the signer is not the activity's actor");
        inbox_req_free(r);
        return;
    }
    size_t len = 0;
    const char *body = lv_http_req_body(r->req, &len);
    int64_t row = 0;
    struct lv_error err = {0};
    int rc = lv_store_ap_inbox_add(gw->st, r->act.id, signer->rec.id, r->account, body, len,
                                   (int64_t)time(NULL), &row, &err);
    if (rc == LV_ERR_CONFLICT) {
        lv_debug(AP_AREA, "inbox: %s already received", r->act.id);
        lv_http_reply_error(r->req, 202, "already received");
        inbox_req_free(r);
        return;
    }
    if (rc != 0) {
        lv_error(AP_AREA, "inbox: cannot store %s: %s", r->act.id, err.msg);
        lv_http_reply_error(r->req, 503, "cannot store the activity now, try again later");
        inbox_req_free(r);
        return;
    }
    gw->inbox_accepted++;
    lv_debug(AP_AREA, "inbox: accepted %s %s from %s", r->act.type, r->act.id, signer->rec.id);
    lv_http_reply_bytes(r->req, 202, LV_HTTP_CT_TEXT, "", 0);
    struct gw_activity *a = lv_xcalloc(1, sizeof(*a));
    a->row = row;
    a->inbox_account = r->account;
    r->account = NULL;
    a->act = r->act;
    memset(&r->act, 0, sizeof(r->act));
    inbox_req_free(r);
    gw_process(gw, a);
}

static void inbox_post(struct lv_ap_gw *gw, struct lv_http_req *req, const char *account)
{
    struct inbox_req *r = lv_xcalloc(1, sizeof(*r));
    r->gw = gw;
    r->req = req;
    r->account = account ? lv_xstrdup(account) : NULL;
    size_t len = 0;
    const char *body = lv_http_req_body(req, &len);
    struct lv_error err = {0};
    if (lv_ap_activity_parse(body, len, &gw->limits, &r->act, &err) != 0) {
        refuse(r, err.code == LV_ERR_LIMIT ? 413 : 400, err.msg);
        inbox_req_free(r);
        return;
    }
    /* A deleted actor's farewell: nothing to verify it with any more. */
    if (strcmp(r->act.type, "Delete") == 0 && r->act.object_id &&
        strcmp(r->act.object_id, r->act.actor) == 0) {
        lv_http_reply_bytes(req, 202, LV_HTTP_CT_TEXT, "", 0);
        inbox_req_free(r);
        return;
    }
    if (!type_in(r->act.type, handled_types, LV_ARRAY_LEN(handled_types)) &&
        !type_in(r->act.type, ignored_types, LV_ARRAY_LEN(ignored_types))) {
        char *why = lv_xasprintf("activity type \"%.64s\" is not supported", r->act.type);
        refuse(r, 422, why);
        free(why);
        inbox_req_free(r);
        return;
    }
    lv_ap_actors_verify_request(gw->actors, req, on_verified, r);
}

static void h_inbox(struct lv_http_req *req, void *ud)
{
    struct lv_ap_gw *gw = ud;
    const char *account = lv_http_req_seg(req, 2);
    struct lv_jid jid;
    char *node = NULL;
    if (local_account(gw, req, account, &jid, &node) != 0)
        return;
    lv_jid_release(&jid);
    free(node);
    inbox_post(gw, req, account);
}

static void h_shared_inbox(struct lv_http_req *req, void *ud)
{
    inbox_post(ud, req, NULL);
}

/* The gateway's own actor: its key signs the gateway's GETs. */
static void instance_key_ready(struct lv_ap_gw *gw, const char *pem, const struct lv_error *err,
                               void *ud)
{
    struct lv_http_req *req = ud;
    if (!pem) {
        lv_http_reply_error(req, 503, err ? err->msg : "no key");
        return;
    }
    char *id = lv_xasprintf("%sinstance", gw->base_url);
    char *key_id = lv_xasprintf("%s#main-key", id);
    char *shared = gw_url(gw, LV_AP_URL_SHARED_INBOX, NULL, NULL);
    json_t *doc = json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s}}",
                            "@context", context(), "id", id, "type", "Application",
                            "preferredUsername", gw->jid, "name", "Libervia ActivityPub gateway",
                            "inbox", shared, "url", gw->base_url, "endpoints", "sharedInbox",
                            shared, "publicKey", "id", key_id, "owner", id, "publicKeyPem", pem);
    reply_ap(req, doc);
    free(shared);
    free(key_id);
    free(id);
}

static void h_instance(struct lv_http_req *req, void *ud)
{
    gw_key_get(ud, AP_INSTANCE, instance_key_ready, req);
}

static void h_root(struct lv_http_req *req, void *ud)
{
    struct lv_ap_gw *gw = ud;
    reply_html(gw, req, "gateway", NULL, NULL, NULL, gw->base_url);
}

int gw_http_start(struct lv_ap_gw *gw, const char *address, struct lv_error *err)
{
    struct lv_http_config hc;
    lv_http_config_defaults(&hc);
    hc.address = address;
    hc.port = gw->http_port;
    hc.trust_proxy = gw->trust_proxy;
    hc.max_body_bytes = gw->limits.max_body;
    if (gw->trust_proxy)
        hc.max_conns_per_ip = 0;
    int rc = lv_http_new(gw->loop, &hc, &gw->http, err);
    if (rc != 0)
        return rc;
    const char *ap = gw->ap_path;
    const char *sep = *ap ? "/" : "";
    char *p[11];
    p[0] = lv_xasprintf("%s%s/actor/*", sep, ap);
    p[1] = lv_xasprintf("%s%s/outbox/*", sep, ap);
    p[2] = lv_xasprintf("%s%s/followers/*", sep, ap);
    p[3] = lv_xasprintf("%s%s/following/*", sep, ap);
    p[4] = lv_xasprintf("%s%s/item/*/*", sep, ap);
    p[5] = lv_xasprintf("%s%s/inbox/*", sep, ap);
    p[6] = lv_xasprintf("%s%s/shared_inbox", sep, ap);
    p[7] = lv_xasprintf("%s%s/nodeinfo/2.1", sep, ap);
    p[8] = lv_xasprintf("%s%s", sep, *ap ? ap : "");
    p[9] = lv_xasprintf("%s%s/instance", sep, ap);
    if (!*ap) {
        free(p[8]);
        p[8] = lv_xstrdup("/");
    }
    const struct lv_http_route routes[] = {
        {"GET", "/.well-known/webfinger", h_webfinger, 0},
        {"GET", "/.well-known/host-meta", h_host_meta, 0},
        {"GET", "/.well-known/nodeinfo", h_nodeinfo_links, 0},
        {"GET", p[7], h_nodeinfo, 0},
        {"GET", p[0], h_actor, 0},
        {"GET", p[1], h_outbox, 0},
        {"GET", p[2], h_followers, 0},
        {"GET", p[3], h_following, 0},
        {"GET", p[4], h_item, 0},
        {"POST", p[5], h_inbox, 0},
        {"POST", p[6], h_shared_inbox, 0},
        {"GET", p[9], h_instance, 0},
        {"GET", p[8], h_root, 0},
    };
    rc = lv_http_add_routes(gw->http, routes, LV_ARRAY_LEN(routes), gw, err);
    for (size_t i = 0; i < 10; i++)
        free(p[i]);
    return rc;
}
