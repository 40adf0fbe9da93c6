/* Unit tests for the XEP-0060 wire code of lv_pubsub (lv_pubsub_wire.h):
 * the XML of every request, the parsing of answers (items with and without
 * RSM, subscriptions, affiliations, configuration), error refinement, event
 * messages, and malformed input beside each of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/lv_mem.h"
#include "pubsub/lv_pubsub_wire.h"

#define PS "http://jabber.org/protocol/pubsub"
#define PSO "http://jabber.org/protocol/pubsub#owner"
#define PSE "http://jabber.org/protocol/pubsub#event"
#define RSM "http://jabber.org/protocol/rsm"
#define SVC "pubsub.example.test"

static const struct lv_xml_limits limits = {
    .max_stanza_bytes = 1 << 20, .max_depth = 32, .max_attrs = 64, .max_children = 4096};

/* ---- helpers ---- */

static struct lv_xml *parse_ok(const char *xml)
{
    struct lv_xml *x = NULL;
    struct lv_error err = {0};
    if (lv_xml_parse(xml, strlen(xml), &limits, &x, &err) != 0)
        fail_msg("test XML does not parse: %s\n%s", err.msg, xml);
    return x;
}

static json_t *json_ok(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("test JSON does not parse: %s\n%s", e.text, text);
    return j;
}

static void expect_json(const char *row, json_t *got, const char *want)
{
    json_t *w = json_ok(want);
    if (!json_equal(got, w)) {
        char *g = got ? json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY) : lv_xstrdup("(null)");
        fail_msg("[%s]\n got  %s\n want %s", row, g, want);
    }
    json_decref(w);
}

static void expect_str(const char *row, const char *got, const char *want)
{
    if ((!got || !want) ? got != want : strcmp(got, want) != 0)
        fail_msg("[%s] got \"%s\", want \"%s\"", row, got ? got : "(null)", want ? want : "(null)");
}

/* A result iq from the service holding body. */
static struct lv_xml *result(const char *body)
{
    char *xml = lv_xasprintf(
        "<iq xmlns='jabber:client' type='result' from='" SVC "' id='x1'>%s</iq>", body);
    struct lv_xml *x = parse_ok(xml);
    free(xml);
    return x;
}

/* ---- requests ---- */

static struct lv_xml *payload(void)
{
    struct lv_xml *p = lv_xml_new("entry", "http://www.w3.org/2005/Atom");
    lv_xml_new_child_text(p, "title", NULL, "Hello & bye");
    return p;
}

typedef int (*build_fn)(struct lv_xml **out, struct lv_error *err);

static int b_items_max(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_items(SVC, "n", NULL, 0, 5, NULL, out, err);
}

static int b_items_ids(struct lv_xml **out, struct lv_error *err)
{
    static const char *const ids[] = {"a", "b&c"};
    /* ids win: max_items and RSM are not sent with them */
    struct lv_rsm_req rsm = {10, NULL, NULL, -1};
    return lv_pubsub_build_items(SVC, "n", ids, 2, 5, &rsm, out, err);
}

static int b_items_rsm_after(struct lv_xml **out, struct lv_error *err)
{
    struct lv_rsm_req rsm = {100, "item-99", NULL, -1};
    return lv_pubsub_build_items(SVC, "n", NULL, 0, 0, &rsm, out, err);
}

static int b_items_rsm_last_page(struct lv_xml **out, struct lv_error *err)
{
    struct lv_rsm_req rsm = {100, NULL, "", -1};
    return lv_pubsub_build_items(NULL, "urn:xmpp:microblog:0", NULL, 0, 0, &rsm, out, err);
}

static int b_items_rsm_index(struct lv_xml **out, struct lv_error *err)
{
    struct lv_rsm_req rsm = {0, NULL, NULL, 20};
    return lv_pubsub_build_items(SVC, "n", NULL, 0, 0, &rsm, out, err);
}

static int b_items_rsm_none(struct lv_xml **out, struct lv_error *err)
{
    struct lv_rsm_req rsm = LV_RSM_REQ_NONE;
    return lv_pubsub_build_items(SVC, "n", NULL, 0, 0, &rsm, out, err);
}

static int b_publish(struct lv_xml **out, struct lv_error *err)
{
    struct lv_xml *p = payload();
    json_t *opts =
        json_pack("{s:s, s:s}", "pubsub#access_model", "open", "pubsub#max_items", "max");
    int rc = lv_pubsub_build_publish(NULL, "urn:xmpp:microblog:0", "id1", p, opts, out, err);
    json_decref(opts);
    lv_xml_unref(p);
    return rc;
}

static int b_publish_bare(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_publish(SVC, "n", NULL, NULL, NULL, out, err);
}

static int b_retract_notify(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_retract(SVC, "n", "i1", true, out, err);
}

static int b_retract(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_retract(NULL, "n", "i1", false, out, err);
}

static int b_create_config(struct lv_xml **out, struct lv_error *err)
{
    json_t *cfg = json_pack("{s:s, s:i}", "pubsub#access_model", "open", "pubsub#max_items", 20);
    int rc = lv_pubsub_build_create(SVC, "n", cfg, out, err);
    json_decref(cfg);
    return rc;
}

static int b_create_instant(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_create(SVC, NULL, NULL, out, err);
}

static int b_delete(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_delete(SVC, "n", out, err);
}

static int b_purge(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_purge(NULL, "n", out, err);
}

static int b_config_get(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_config_get(SVC, "n", out, err);
}

static int b_config_set(struct lv_xml **out, struct lv_error *err)
{
    json_t *cfg = json_pack("{s:s}", "pubsub#title", "T");
    int rc = lv_pubsub_build_config_set(SVC, "n", cfg, out, err);
    json_decref(cfg);
    return rc;
}

static int b_subscribe(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_subscribe(SVC, "n", "pierre@example.test", NULL, out, err);
}

static int b_subscribe_options(struct lv_xml **out, struct lv_error *err)
{
    json_t *o = json_pack("{s:b}", "pubsub#deliver", 1);
    int rc = lv_pubsub_build_subscribe(SVC, "n", "pierre@example.test", o, out, err);
    json_decref(o);
    return rc;
}

static int b_unsubscribe(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_unsubscribe(SVC, "n", "pierre@example.test", "s1", out, err);
}

static int b_subscriptions_all(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_subscriptions(SVC, NULL, out, err);
}

static int b_subscriptions_node(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_subscriptions(NULL, "n", out, err);
}

static int b_affiliations(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_affiliations(SVC, NULL, out, err);
}

static int b_node_affs_get(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_node_affiliations_get(SVC, "n", out, err);
}

static int b_node_affs_set(struct lv_xml **out, struct lv_error *err)
{
    json_t *a =
        json_pack("{s:s, s:s}", "pierre@example.test", "publisher", "tester@example.test", "none");
    int rc = lv_pubsub_build_node_affiliations_set(SVC, "n", a, out, err);
    json_decref(a);
    return rc;
}

static int b_node_subs_get(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_node_subscriptions_get(SVC, "n", out, err);
}

static int b_node_subs_set(struct lv_xml **out, struct lv_error *err)
{
    json_t *s = json_pack("{s:s}", "pierre@example.test", "none");
    int rc = lv_pubsub_build_node_subscriptions_set(SVC, "n", s, out, err);
    json_decref(s);
    return rc;
}

struct build_case {
    const char *name;
    build_fn build;
    const char *want;
};

#define IQ_GET "<iq type='get' to='" SVC "'>"
#define IQ_SET "<iq type='set' to='" SVC "'>"
#define FORM(type)                                                                                 \
    "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"                 \
    "<value>" PS type "</value></field>"

static const struct build_case build_cases[] = {
    {"items max_items", b_items_max,
     IQ_GET "<pubsub xmlns='" PS "'><items node='n' max_items='5'/></pubsub></iq>"},
    {"items by id", b_items_ids,
     IQ_GET "<pubsub xmlns='" PS "'><items node='n'><item id='a'/><item id='b&amp;c'/></items>"
            "</pubsub></iq>"},
    {"items rsm after", b_items_rsm_after,
     IQ_GET "<pubsub xmlns='" PS "'><items node='n'/><set xmlns='" RSM "'><max>100</max>"
            "<after>item-99</after></set></pubsub></iq>"},
    {"items rsm last page (PEP)", b_items_rsm_last_page,
     "<iq type='get'><pubsub xmlns='" PS "'><items node='urn:xmpp:microblog:0'/>"
     "<set xmlns='" RSM "'><max>100</max><before/></set></pubsub></iq>"},
    {"items rsm index", b_items_rsm_index,
     IQ_GET "<pubsub xmlns='" PS "'><items node='n'/><set xmlns='" RSM "'><max>0</max>"
            "<index>20</index></set></pubsub></iq>"},
    {"items rsm none", b_items_rsm_none,
     IQ_GET "<pubsub xmlns='" PS "'><items node='n'/></pubsub></iq>"},
    {"publish with options (PEP)", b_publish,
     "<iq type='set'><pubsub xmlns='" PS "'><publish node='urn:xmpp:microblog:0'>"
     "<item id='id1'><entry xmlns='http://www.w3.org/2005/Atom'><title>Hello &amp; bye</title>"
     "</entry></item></publish><publish-options>" FORM(
         "#publish-options") "<field var='pubsub#access_model'><value>open</value></field>"
                             "<field "
                             "var='pubsub#max_items'><value>max</value></field></x></"
                             "publish-options>"
                             "</pubsub></iq>"},
    {"publish, no id, no payload", b_publish_bare,
     IQ_SET "<pubsub xmlns='" PS "'><publish node='n'><item/></publish></pubsub></iq>"},
    {"retract notify", b_retract_notify,
     IQ_SET "<pubsub xmlns='" PS "'><retract node='n' notify='true'><item id='i1'/></retract>"
            "</pubsub></iq>"},
    {"retract", b_retract,
     "<iq type='set'><pubsub xmlns='" PS "'><retract node='n'><item id='i1'/></retract>"
     "</pubsub></iq>"},
    {"create with config", b_create_config,
     IQ_SET "<pubsub xmlns='" PS "'><create node='n'/><configure>" FORM(
         "#node_config") "<field var='pubsub#access_model'><value>open</value></field>"
                         "<field var='pubsub#max_items'><value>20</value></field></x></configure>"
                         "</pubsub></iq>"},
    {"create instant", b_create_instant, IQ_SET "<pubsub xmlns='" PS "'><create/></pubsub></iq>"},
    {"delete", b_delete, IQ_SET "<pubsub xmlns='" PSO "'><delete node='n'/></pubsub></iq>"},
    {"purge (PEP)", b_purge,
     "<iq type='set'><pubsub xmlns='" PSO "'><purge node='n'/></pubsub></iq>"},
    {"config get", b_config_get,
     IQ_GET "<pubsub xmlns='" PSO "'><configure node='n'/></pubsub></iq>"},
    {"config set", b_config_set,
     IQ_SET "<pubsub xmlns='" PSO "'><configure node='n'>"
            "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
            "<value>" PS "#node_config</value></field><field var='pubsub#title'><value>T</value>"
            "</field></x></configure></pubsub></iq>"},
    {"subscribe", b_subscribe,
     IQ_SET "<pubsub xmlns='" PS "'><subscribe node='n' jid='pierre@example.test'/></pubsub></iq>"},
    {"subscribe with options", b_subscribe_options,
     IQ_SET "<pubsub xmlns='" PS "'><subscribe node='n' jid='pierre@example.test'/><options>" FORM(
         "#subscribe_options") "<field var='pubsub#deliver'><value>1</value></field></x>"
                               "</options></pubsub></iq>"},
    {"unsubscribe", b_unsubscribe,
     IQ_SET "<pubsub xmlns='" PS "'><unsubscribe node='n' jid='pierre@example.test' subid='s1'/>"
            "</pubsub></iq>"},
    {"subscriptions all", b_subscriptions_all,
     IQ_GET "<pubsub xmlns='" PS "'><subscriptions/></pubsub></iq>"},
    {"subscriptions of a node", b_subscriptions_node,
     "<iq type='get'><pubsub xmlns='" PS "'><subscriptions node='n'/></pubsub></iq>"},
    {"affiliations", b_affiliations, IQ_GET "<pubsub xmlns='" PS "'><affiliations/></pubsub></iq>"},
    {"node affiliations get", b_node_affs_get,
     IQ_GET "<pubsub xmlns='" PSO "'><affiliations node='n'/></pubsub></iq>"},
    {"node affiliations set", b_node_affs_set,
     IQ_SET "<pubsub xmlns='" PSO "'><affiliations node='n'>"
            "<affiliation jid='pierre@example.test' affiliation='publisher'/>"
            "<affiliation jid='tester@example.test' affiliation='none'/></affiliations></pubsub>"
            "</iq>"},
    {"node subscriptions get", b_node_subs_get,
     IQ_GET "<pubsub xmlns='" PSO "'><subscriptions node='n'/></pubsub></iq>"},
    {"node subscriptions set", b_node_subs_set,
     IQ_SET "<pubsub xmlns='" PSO "'><subscriptions node='n'>"
            "<subscription jid='pierre@example.test' subscription='none'/></subscriptions>"
            "</pubsub></iq>"},
};

static void test_build_table(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(build_cases); i++) {
        const struct build_case *c = &build_cases[i];
        struct lv_xml *iq = NULL;
        struct lv_error err = {0};
        int rc = c->build(&iq, &err);
        if (rc != 0 || !iq)
            fail_msg("[%s] rc %d: %s", c->name, rc, err.msg);
        char *got = lv_xml_to_string(iq, NULL);
        if (strcmp(got, c->want) != 0)
            fail_msg("[%s]\n got  %s\n want %s", c->name, got, c->want);
        free(got);
        lv_xml_unref(iq);
    }
}

/* Requests that must be refused before anything is sent. */
static int bad_no_node(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_items(SVC, NULL, NULL, 0, 0, NULL, out, err);
}

static int bad_empty_node(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_publish(SVC, "", "i", NULL, NULL, out, err);
}

static int bad_null_id(struct lv_xml **out, struct lv_error *err)
{
    static const char *const ids[] = {"a", NULL};
    return lv_pubsub_build_items(SVC, "n", ids, 2, 0, NULL, out, err);
}

static int bad_options(struct lv_xml **out, struct lv_error *err)
{
    json_t *o = json_pack("{s:n}", "pubsub#access_model");
    int rc = lv_pubsub_build_publish(SVC, "n", "i", NULL, o, out, err);
    json_decref(o);
    return rc;
}

static int bad_text_payload(struct lv_xml **out, struct lv_error *err)
{
    struct lv_xml *t = lv_xml_new_text("hi", 2);
    int rc = lv_pubsub_build_publish(SVC, "n", "i", t, NULL, out, err);
    lv_xml_unref(t);
    return rc;
}

static int bad_retract_no_id(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_retract(SVC, "n", NULL, true, out, err);
}

static int bad_create_config(struct lv_xml **out, struct lv_error *err)
{
    json_t *c = json_pack("[s]", "not an object");
    int rc = lv_pubsub_build_create(SVC, "n", c, out, err);
    json_decref(c);
    return rc;
}

static int bad_config_set(struct lv_xml **out, struct lv_error *err)
{
    json_t *c = json_pack("{s:{}}", "pubsub#title");
    int rc = lv_pubsub_build_config_set(SVC, "n", c, out, err);
    json_decref(c);
    return rc;
}

static int bad_config_set_null(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_config_set(SVC, NULL, NULL, out, err);
}

static int bad_subscribe_no_jid(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_subscribe(SVC, "n", NULL, NULL, out, err);
}

static int bad_subscribe_options(struct lv_xml **out, struct lv_error *err)
{
    json_t *o = json_pack("{s:[n]}", "x");
    int rc = lv_pubsub_build_subscribe(SVC, "n", "a@b", o, out, err);
    json_decref(o);
    return rc;
}

static int bad_unsubscribe_no_jid(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_unsubscribe(SVC, "n", "", NULL, out, err);
}

static int bad_affs_value(struct lv_xml **out, struct lv_error *err)
{
    json_t *a = json_pack("{s:s, s:i}", "a@b", "owner", "c@d", 3);
    int rc = lv_pubsub_build_node_affiliations_set(SVC, "n", a, out, err);
    json_decref(a);
    return rc;
}

static int bad_affs_not_object(struct lv_xml **out, struct lv_error *err)
{
    json_t *a = json_pack("[s]", "a@b");
    int rc = lv_pubsub_build_node_affiliations_set(SVC, "n", a, out, err);
    json_decref(a);
    return rc;
}

static int bad_subs_no_node(struct lv_xml **out, struct lv_error *err)
{
    json_t *s = json_pack("{s:s}", "a@b", "none");
    int rc = lv_pubsub_build_node_subscriptions_set(SVC, NULL, s, out, err);
    json_decref(s);
    return rc;
}

static int bad_delete(struct lv_xml **out, struct lv_error *err)
{
    return lv_pubsub_build_delete(SVC, NULL, out, err);
}

static const struct {
    const char *name;
    build_fn build;
} bad_builds[] = {
    {"no node", bad_no_node},
    {"empty node", bad_empty_node},
    {"NULL id in ids", bad_null_id},
    {"null publish option", bad_options},
    {"text payload", bad_text_payload},
    {"retract without id", bad_retract_no_id},
    {"create config not an object", bad_create_config},
    {"config set with an object value", bad_config_set},
    {"config set without node", bad_config_set_null},
    {"subscribe without jid", bad_subscribe_no_jid},
    {"subscribe options with null", bad_subscribe_options},
    {"unsubscribe with empty jid", bad_unsubscribe_no_jid},
    {"affiliation not a string", bad_affs_value},
    {"affiliations not an object", bad_affs_not_object},
    {"node subscriptions without node", bad_subs_no_node},
    {"delete without node", bad_delete},
};

static void test_build_bad(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(bad_builds); i++) {
        struct lv_xml *iq = (struct lv_xml *)1;
        struct lv_error err = {0};
        int rc = bad_builds[i].build(&iq, &err);
        if (rc != LV_ERR_INVAL || iq != NULL || !err.msg[0])
            fail_msg("[%s] rc %d iq %p msg '%s'", bad_builds[i].name, rc, (void *)iq, err.msg);
    }
}

/* ---- items answers ---- */

static void test_items_rsm(void **state)
{
    struct lv_xml *r =
        result("<pubsub xmlns='" PS "'><items node='n'>"
               "<item id='i1' publisher='louise@example.test'>"
               "<entry xmlns='http://www.w3.org/2005/Atom'><title>One</title></entry>"
               "</item>\n  <item id='i2'/>"
               "</items><set xmlns='" RSM "'><first index='100'>i1</first>"
               "<last>i2</last><count>250</count></set></pubsub>");
    struct lv_ps_items items;
    struct lv_error err = {0};
    assert_int_equal(lv_pubsub_parse_items(r, &items, &err), 0);
    assert_int_equal(items.n, 2);
    expect_str("id 1", items.items[0].id, "i1");
    expect_str("publisher", items.items[0].publisher, "louise@example.test");
    assert_non_null(items.items[0].payload);
    assert_true(lv_xml_is(items.items[0].payload, "entry", "http://www.w3.org/2005/Atom"));
    /* the payload is a copy that outlives the answer */
    assert_null(items.items[0].payload->parent);
    expect_str("id 2", items.items[1].id, "i2");
    assert_null(items.items[1].publisher);
    assert_null(items.items[1].payload);
    assert_true(items.rsm.present);
    expect_str("first", items.rsm.first, "i1");
    expect_str("last", items.rsm.last, "i2");
    assert_int_equal(items.rsm.first_index, 100);
    assert_int_equal(items.rsm.count, 250);
    lv_xml_unref(r);
    char *title = lv_xml_child_text(items.items[0].payload, "title", NULL);
    expect_str("payload after the answer is gone", title, "One");
    free(title);
    lv_ps_items_release(&items);
    assert_int_equal(items.n, 0);
    assert_null(items.items);
}

static void test_items_no_rsm(void **state)
{
    /* What Prosody answers to an RSM request: all items, no <set/>. */
    struct lv_xml *r =
        result("<pubsub xmlns='" PS "'><items node='n'><item id='a'><p xmlns='urn:p'/>"
               "</item><item id='b'><p xmlns='urn:p'/></item></items></pubsub>");
    struct lv_ps_items items;
    assert_int_equal(lv_pubsub_parse_items(r, &items, NULL), 0);
    assert_int_equal(items.n, 2);
    assert_false(items.rsm.present);
    assert_null(items.rsm.first);
    assert_int_equal(items.rsm.count, -1);
    assert_int_equal(items.rsm.first_index, -1);
    lv_ps_items_release(&items);
    lv_xml_unref(r);
}

static void test_items_partial_rsm(void **state)
{
    /* count only (a max=0 request), and an empty page */
    struct lv_xml *r = result("<pubsub xmlns='" PS "'><items node='n'/>"
                              "<set xmlns='" RSM "'><count>7</count></set></pubsub>");
    struct lv_ps_items items;
    assert_int_equal(lv_pubsub_parse_items(r, &items, NULL), 0);
    assert_int_equal(items.n, 0);
    assert_true(items.rsm.present);
    assert_null(items.rsm.first);
    assert_null(items.rsm.last);
    assert_int_equal(items.rsm.first_index, -1);
    assert_int_equal(items.rsm.count, 7);
    lv_ps_items_release(&items);
    lv_xml_unref(r);
}

static void test_items_skip_no_id(void **state)
{
    struct lv_xml *r =
        result("<pubsub xmlns='" PS "'><items node='n'><item><p xmlns='urn:p'/></item>"
               "<item id=''/><item id='ok'/></items></pubsub>");
    struct lv_ps_items items;
    assert_int_equal(lv_pubsub_parse_items(r, &items, NULL), 0);
    assert_int_equal(items.n, 1);
    expect_str("kept", items.items[0].id, "ok");
    lv_ps_items_release(&items);
    lv_xml_unref(r);
}

static void test_items_empty_result(void **state)
{
    struct lv_xml *r = result("");
    struct lv_ps_items items;
    assert_int_equal(lv_pubsub_parse_items(r, &items, NULL), 0);
    assert_int_equal(items.n, 0);
    assert_false(items.rsm.present);
    lv_ps_items_release(&items);
    lv_xml_unref(r);
}

static void test_items_many(void **state)
{
    /* More items than any initial capacity: the array grows as they come. */
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_addf(&b, "<pubsub xmlns='" PS "'><items node='n'>");
    for (int i = 0; i < 1000; i++)
        lv_buf_addf(&b, "<item id='%d'/>", i);
    lv_buf_addf(&b, "</items><set xmlns='" RSM "'><count>5</count></set></pubsub>");
    struct lv_xml *r = result(b.data);
    lv_buf_release(&b);
    struct lv_ps_items items;
    assert_int_equal(lv_pubsub_parse_items(r, &items, NULL), 0);
    /* the peer's count does not decide anything */
    assert_int_equal(items.n, 1000);
    assert_int_equal(items.rsm.count, 5);
    expect_str("last", items.items[999].id, "999");
    lv_ps_items_release(&items);
    lv_xml_unref(r);
}

static const struct {
    const char *name;
    const char *body;
} bad_items[] = {
    {"no pubsub", "<query xmlns='urn:other'/>"},
    {"pubsub of the owner ns", "<pubsub xmlns='" PSO "'><items node='n'/></pubsub>"},
    {"pubsub without items", "<pubsub xmlns='" PS "'><publish node='n'/></pubsub>"},
    {"foreign element in items",
     "<pubsub xmlns='" PS "'><items node='n'><item id='a'/><junk/></items></pubsub>"},
    {"item in another ns", "<pubsub xmlns='" PS "'><items node='n'><item xmlns='urn:x' id='a'/>"
                           "</items></pubsub>"},
    {"retract in an answer",
     "<pubsub xmlns='" PS "'><items node='n'><retract id='a'/></items></pubsub>"},
    {"two payloads", "<pubsub xmlns='" PS "'><items node='n'><item id='a'><p xmlns='urn:p'/>"
                     "<q xmlns='urn:p'/></item></items></pubsub>"},
    {"count not a number", "<pubsub xmlns='" PS "'><items node='n'/><set xmlns='" RSM "'>"
                           "<count>many</count></set></pubsub>"},
    {"negative count", "<pubsub xmlns='" PS "'><items node='n'/><set xmlns='" RSM "'>"
                       "<count>-1</count></set></pubsub>"},
    {"huge count", "<pubsub xmlns='" PS "'><items node='n'/><set xmlns='" RSM "'>"
                   "<count>99999999999999999999999</count></set></pubsub>"},
    {"empty count", "<pubsub xmlns='" PS "'><items node='n'/><set xmlns='" RSM "'>"
                    "<count/></set></pubsub>"},
    {"bad first index", "<pubsub xmlns='" PS "'><items node='n'><item id='a'/></items>"
                        "<set xmlns='" RSM "'><first index='1x'>a</first></set></pubsub>"},
    {"count with spaces", "<pubsub xmlns='" PS "'><items node='n'/><set xmlns='" RSM "'>"
                          "<count> 3</count></set></pubsub>"},
};

static void test_items_garbage(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(bad_items); i++) {
        struct lv_xml *r = result(bad_items[i].body);
        struct lv_ps_items items;
        struct lv_error err = {0};
        int rc = lv_pubsub_parse_items(r, &items, &err);
        if (rc != LV_ERR_PROTO || err.code != LV_ERR_PROTO)
            fail_msg("[%s] rc %d", bad_items[i].name, rc);
        /* nothing is left to release */
        assert_null(items.items);
        assert_int_equal(items.n, 0);
        assert_null(items.rsm.first);
        assert_null(items.rsm.last);
        lv_xml_unref(r);
    }
}

/* ---- other answers ---- */

static void test_published_and_created(void **state)
{
    struct lv_xml *r =
        result("<pubsub xmlns='" PS "'><publish node='n'><item id='gen-42'/></publish>"
               "</pubsub>");
    char *id = NULL;
    assert_int_equal(lv_pubsub_parse_published_id(r, &id, NULL), 0);
    expect_str("published", id, "gen-42");
    free(id);
    lv_xml_unref(r);

    r = result("");
    assert_int_equal(lv_pubsub_parse_published_id(r, &id, NULL), 0);
    assert_null(id);
    assert_int_equal(lv_pubsub_parse_created_node(r, &id, NULL), 0);
    assert_null(id);
    lv_xml_unref(r);

    r = result("<pubsub xmlns='" PS "'><create node='instant-1'/></pubsub>");
    assert_int_equal(lv_pubsub_parse_created_node(r, &id, NULL), 0);
    expect_str("created", id, "instant-1");
    free(id);
    lv_xml_unref(r);
}

struct json_case {
    const char *name;
    int (*parse)(const struct lv_xml *, const char *, json_t **, struct lv_error *);
    const char *node; /* as the request named it */
    const char *body;
    const char *want; /* JSON, or NULL for LV_ERR_PROTO */
};

static const struct json_case json_cases[] = {
    {"subscribe subscribed", lv_pubsub_parse_subscription, NULL,
     "<pubsub xmlns='" PS "'><subscription node='n' jid='p@example.test' subid='s1' "
     "subscription='subscribed'/></pubsub>",
     "{\"subscription\": \"subscribed\", \"subid\": \"s1\"}"},
    {"subscribe pending", lv_pubsub_parse_subscription, NULL,
     "<pubsub xmlns='" PS "'><subscription node='n' jid='p@example.test' subscription='pending'/>"
     "</pubsub>",
     "{\"subscription\": \"pending\"}"},
    {"subscribe empty answer", lv_pubsub_parse_subscription, NULL, "",
     "{\"subscription\": \"subscribed\"}"},
    {"subscribe without state", lv_pubsub_parse_subscription, NULL,
     "<pubsub xmlns='" PS "'><subscription node='n' jid='p@example.test'/></pubsub>", NULL},
    {"subscriptions", lv_pubsub_parse_subscriptions, NULL,
     "<pubsub xmlns='" PS "'><subscriptions>"
     "<subscription node='a' jid='p@example.test' subscription='subscribed' subid='x'/>"
     "<subscription node='b' jid='p@example.test' subscription='pending'/>"
     "<subscription jid='p@example.test' subscription='subscribed'/>" /* no node: skipped */
     "<subscription node='c' subscription='subscribed'/>"             /* no jid: skipped */
     "</subscriptions></pubsub>",
     "[{\"node\": \"a\", \"jid\": \"p@example.test\", \"subscription\": \"subscribed\","
     " \"subid\": \"x\"},"
     " {\"node\": \"b\", \"jid\": \"p@example.test\", \"subscription\": \"pending\"}]"},
    {"subscriptions of one node", lv_pubsub_parse_subscriptions, NULL,
     "<pubsub xmlns='" PS "'><subscriptions node='n'>"
     "<subscription jid='p@example.test' subscription='subscribed'/></subscriptions></pubsub>",
     "[{\"node\": \"n\", \"jid\": \"p@example.test\", \"subscription\": \"subscribed\"}]"},
    /* ejabberd names no node when the request named one */
    {"subscriptions, node from the request", lv_pubsub_parse_subscriptions, "req",
     "<pubsub xmlns='" PS "'><subscriptions>"
     "<subscription jid='p@example.test' subscription='subscribed' subid='7'/>"
     "<subscription node='other' jid='p@example.test' subscription='pending'/>"
     "</subscriptions></pubsub>",
     "[{\"node\": \"req\", \"jid\": \"p@example.test\", \"subscription\": \"subscribed\","
     " \"subid\": \"7\"},"
     " {\"node\": \"other\", \"jid\": \"p@example.test\", \"subscription\": \"pending\"}]"},
    {"subscriptions, list node wins", lv_pubsub_parse_subscriptions, "req",
     "<pubsub xmlns='" PS "'><subscriptions node='list'>"
     "<subscription jid='p@example.test' subscription='subscribed'/></subscriptions></pubsub>",
     "[{\"node\": \"list\", \"jid\": \"p@example.test\", \"subscription\": \"subscribed\"}]"},
    {"subscriptions none", lv_pubsub_parse_subscriptions, NULL,
     "<pubsub xmlns='" PS "'><subscriptions/></pubsub>", "[]"},
    {"subscriptions empty answer", lv_pubsub_parse_subscriptions, NULL, "", "[]"},
    {"subscriptions garbage", lv_pubsub_parse_subscriptions, NULL,
     "<pubsub xmlns='" PS "'><affiliations/></pubsub>", NULL},
    {"affiliations", lv_pubsub_parse_affiliations, NULL,
     "<pubsub xmlns='" PS "'><affiliations><affiliation node='a' affiliation='owner'/>"
     "<affiliation node='b' affiliation='publisher'/><affiliation affiliation='member'/>"
     "<affiliation node='c'/></affiliations></pubsub>",
     "{\"a\": \"owner\", \"b\": \"publisher\"}"},
    {"affiliations of one node", lv_pubsub_parse_affiliations, NULL,
     "<pubsub xmlns='" PS "'><affiliations node='n'><affiliation affiliation='owner'/>"
     "</affiliations></pubsub>",
     "{\"n\": \"owner\"}"},
    {"affiliations, node from the request", lv_pubsub_parse_affiliations, "req",
     "<pubsub xmlns='" PS "'><affiliations><affiliation affiliation='publisher'/>"
     "</affiliations></pubsub>",
     "{\"req\": \"publisher\"}"},
    {"affiliations garbage", lv_pubsub_parse_affiliations, NULL, "<foo xmlns='urn:bar'/>", NULL},
    {"node affiliations", lv_pubsub_parse_node_affiliations, NULL,
     "<pubsub xmlns='" PSO "'><affiliations node='n'>"
     "<affiliation jid='louise@example.test' affiliation='owner'/>"
     "<affiliation jid='pierre@example.test' affiliation='publisher'/>"
     "<affiliation affiliation='member'/></affiliations></pubsub>",
     "{\"louise@example.test\": \"owner\", \"pierre@example.test\": \"publisher\"}"},
    {"node affiliations in the user ns", lv_pubsub_parse_node_affiliations, NULL,
     "<pubsub xmlns='" PS "'><affiliations node='n'/></pubsub>", NULL},
    {"node subscriptions", lv_pubsub_parse_node_subscriptions, NULL,
     "<pubsub xmlns='" PSO "'><subscriptions node='n'>"
     "<subscription jid='pierre@example.test' subscription='subscribed' subid='1'/>"
     "<subscription jid='tester@example.test' subscription='unconfigured'/>"
     "<subscription jid='x@example.test'/></subscriptions></pubsub>",
     "[{\"jid\": \"pierre@example.test\", \"subscription\": \"subscribed\", \"subid\": \"1\"},"
     " {\"jid\": \"tester@example.test\", \"subscription\": \"unconfigured\"}]"},
    {"node subscriptions garbage", lv_pubsub_parse_node_subscriptions, NULL,
     "<pubsub xmlns='" PSO "'/>", NULL},
    {"config", lv_pubsub_parse_config, NULL,
     "<pubsub xmlns='" PSO "'><configure node='n'><x xmlns='jabber:x:data' type='form'>"
     "<field var='FORM_TYPE' type='hidden'><value>" PS "#node_config</value></field>"
     "<field var='pubsub#max_items' type='text-single' label='Max'><value>10</value></field>"
     "<field var='pubsub#access_model' type='list-single'><option><value>open</value></option>"
     "<value>open</value></field></x></configure></pubsub>",
     "{\"config\": {\"FORM_TYPE\": \"" PS "#node_config\", \"pubsub#max_items\": \"10\","
     " \"pubsub#access_model\": \"open\"},"
     " \"meta\": {\"FORM_TYPE\": {\"type\": \"hidden\"},"
     " \"pubsub#max_items\": {\"type\": \"text-single\", \"label\": \"Max\"},"
     " \"pubsub#access_model\": {\"type\": \"list-single\", \"options\": [\"open\"]}}}"},
    {"config without form", lv_pubsub_parse_config, NULL,
     "<pubsub xmlns='" PSO "'><configure node='n'/></pubsub>", NULL},
    {"config empty answer", lv_pubsub_parse_config, NULL, "", NULL},
};

static void test_json_answers(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(json_cases); i++) {
        const struct json_case *c = &json_cases[i];
        struct lv_xml *r = result(c->body);
        json_t *out = (json_t *)1;
        struct lv_error err = {0};
        int rc = c->parse(r, c->node, &out, &err);
        if (!c->want) {
            if (rc != LV_ERR_PROTO || out != NULL)
                fail_msg("[%s] rc %d, want a protocol error", c->name, rc);
        } else {
            if (rc != 0)
                fail_msg("[%s] rc %d: %s", c->name, rc, err.msg);
            expect_json(c->name, out, c->want);
            json_decref(out);
        }
        lv_xml_unref(r);
    }
}

/* ---- errors ---- */

struct error_case {
    const char *name;
    const char *error; /* the <error/> element */
    int code;
    const char *cond;
    const char *msg_has[2];
};

static const struct error_case error_cases[] = {
    {"item-not-found",
     "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
     LV_ERR_NOT_FOUND,
     "item-not-found",
     {"item-not-found", NULL}},
    {"precondition-not-met",
     "<error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     "<precondition-not-met xmlns='" PS "#errors'/></error>",
     LV_ERR_CONFLICT,
     "precondition-not-met",
     {"conflict", "precondition-not-met"}},
    {"unsupported publish-options",
     "<error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     "<unsupported xmlns='" PS "#errors' feature='publish-options'/>"
     "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no way</text></error>",
     LV_ERR_PROTO,
     "unsupported",
     {"feature-not-implemented: no way", "publish-options"}},
    {"forbidden",
     "<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
     LV_ERR_PERM,
     "forbidden",
     {"forbidden", NULL}},
    {"not-authorized + invalid-jid",
     "<error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     "<invalid-jid xmlns='" PS "#errors'/></error>",
     LV_ERR_PERM,
     "invalid-jid",
     {"not-authorized", "invalid-jid"}},
    {"conflict",
     "<error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
     LV_ERR_CONFLICT,
     "conflict",
     {"conflict", NULL}},
    {"long pubsub condition truncated",
     "<error type='cancel'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa xmlns='" PS
     "#errors'/></error>",
     LV_ERR_INVAL,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     {"bad-request", NULL}},
};

static void test_errors(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(error_cases); i++) {
        const struct error_case *c = &error_cases[i];
        char *xml = lv_xasprintf("<iq xmlns='jabber:client' type='error' id='1'>%s</iq>", c->error);
        struct lv_xml *r = parse_ok(xml);
        free(xml);
        struct lv_error err;
        lv_xmpp_stanza_error(r, &err);
        lv_pubsub_refine_error(r, &err);
        if (err.code != c->code)
            fail_msg("[%s] code %d, want %d", c->name, err.code, c->code);
        expect_str(c->name, err.cond, c->cond);
        for (size_t k = 0; k < 2; k++)
            if (c->msg_has[k] && !strstr(err.msg, c->msg_has[k]))
                fail_msg("[%s] msg '%s' lacks '%s'", c->name, err.msg, c->msg_has[k]);
        lv_xml_unref(r);
    }
    /* no error stanza at all (a timeout): nothing changes */
    struct lv_error err;
    lv_error_set_cond(&err, LV_ERR_TIMEOUT, "remote-server-timeout", "no answer");
    lv_pubsub_refine_error(NULL, &err);
    expect_str("timeout", err.cond, "remote-server-timeout");
    expect_str("timeout msg", err.msg, "no answer");
    assert_int_equal(err.code, LV_ERR_TIMEOUT);
}

/* ---- events ---- */

static struct lv_xml *event_msg(const char *from, const char *body)
{
    char *xml = lv_xasprintf("<message xmlns='jabber:client'%s%s%s to='pierre@example.test'>"
                             "<event xmlns='" PSE "'>%s</event></message>",
                             from ? " from='" : "", from ? from : "", from ? "'" : "", body);
    struct lv_xml *x = parse_ok(xml);
    free(xml);
    return x;
}

static void parse_event_ok(const char *row, struct lv_xml *m, struct lv_ps_event_data *d)
{
    struct lv_error err = {0};
    if (lv_pubsub_parse_event(m, "example.test", d, &err) != 0)
        fail_msg("[%s] %s", row, err.msg);
}

static void test_event_items(void **state)
{
    struct lv_xml *m =
        event_msg(SVC, "<items node='blog'><item id='a' publisher='louise@example.test'>"
                       "<entry xmlns='http://www.w3.org/2005/Atom'/></item>"
                       "<item id='b'><entry xmlns='http://www.w3.org/2005/Atom'/>"
                       "</item></items>");
    struct lv_ps_event_data d;
    parse_event_ok("items", m, &d);
    lv_xml_unref(m);
    assert_int_equal(d.ev.kind, LV_PS_EV_ITEMS);
    expect_str("service", d.ev.service, SVC);
    expect_str("node", d.ev.node, "blog");
    assert_non_null(d.ev.items);
    assert_int_equal(d.ev.items->n, 2);
    expect_str("id", d.ev.items->items[0].id, "a");
    expect_str("publisher", d.ev.items->items[0].publisher, "louise@example.test");
    assert_true(lv_xml_is(d.ev.items->items[1].payload, "entry", "http://www.w3.org/2005/Atom"));
    assert_int_equal(d.ev.n_retracted, 0);
    lv_pubsub_event_data_release(&d);
}

static void test_event_items_no_payload(void **state)
{
    /* Without from (as our own server would send): the default service. */
    struct lv_xml *m = event_msg(NULL, "<items node='n'><item id='x'/></items>");
    struct lv_ps_event_data d;
    parse_event_ok("no payload", m, &d);
    lv_xml_unref(m);
    assert_int_equal(d.ev.kind, LV_PS_EV_ITEMS);
    expect_str("default service", d.ev.service, "example.test");
    assert_int_equal(d.ev.items->n, 1);
    assert_null(d.ev.items->items[0].payload);
    lv_pubsub_event_data_release(&d);
}

static void test_event_retract(void **state)
{
    struct lv_xml *m = event_msg(SVC, "<items node='n'><retract id='r1'/><retract/>"
                                      "<retract id='r2'/></items>");
    struct lv_ps_event_data d;
    parse_event_ok("retract", m, &d);
    lv_xml_unref(m);
    assert_int_equal(d.ev.kind, LV_PS_EV_RETRACT);
    assert_null(d.ev.items);
    assert_int_equal(d.ev.n_retracted, 2);
    expect_str("r1", d.ev.retracted[0], "r1");
    expect_str("r2", d.ev.retracted[1], "r2");
    lv_pubsub_event_data_release(&d);
}

static void test_event_mixed(void **state)
{
    struct lv_xml *m = event_msg(SVC, "<items node='n'><item id='new'><p xmlns='urn:p'/></item>"
                                      "<retract id='old'/><item id='new2'/></items>");
    struct lv_ps_event_data d;
    parse_event_ok("mixed", m, &d);
    lv_xml_unref(m);
    assert_int_equal(d.ev.kind, LV_PS_EV_ITEMS);
    assert_int_equal(d.ev.items->n, 2);
    expect_str("new2", d.ev.items->items[1].id, "new2");
    assert_int_equal(d.ev.n_retracted, 1);
    expect_str("old", d.ev.retracted[0], "old");
    lv_pubsub_event_data_release(&d);
}

static void test_event_node_kinds(void **state)
{
    static const struct {
        const char *body;
        enum lv_ps_event_kind kind;
    } cases[] = {
        {"<purge node='n'/>", LV_PS_EV_PURGE},
        {"<delete node='n'><redirect uri='xmpp:" SVC "?;node=m'/></delete>", LV_PS_EV_DELETE},
        {"<delete node='n'/>", LV_PS_EV_DELETE},
        {"<configuration node='n'><x xmlns='jabber:x:data' type='result'/></configuration>",
         LV_PS_EV_CONFIG},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        struct lv_xml *m = event_msg(SVC, cases[i].body);
        struct lv_ps_event_data d;
        parse_event_ok(cases[i].body, m, &d);
        lv_xml_unref(m);
        if (d.ev.kind != cases[i].kind)
            fail_msg("[%s] kind %d", cases[i].body, d.ev.kind);
        expect_str(cases[i].body, d.ev.node, "n");
        assert_null(d.ev.items);
        assert_int_equal(d.ev.n_retracted, 0);
        lv_pubsub_event_data_release(&d);
    }
}

static const char *const bad_events[] = {
    "",
    "<items/>",
    "<items node=''><item id='a'/></items>",
    "<purge/>",
    "<subscription node='n' jid='a@b' subscription='subscribed'/>",
    "<collection node='n'/>",
    "<items node='n'/>",
    "<items node='n'><item/><retract/></items>",
    "<items node='n'><item id='a'/><junk/></items>",
    "<items node='n'><item id='a'><p xmlns='urn:p'/><q xmlns='urn:p'/></item></items>",
    "<items xmlns='urn:other' node='n'><item id='a'/></items>",
    "<items node='n'><item xmlns='" PS "' id='a'/></items>",
};

static void test_event_malformed(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(bad_events); i++) {
        struct lv_xml *m = event_msg(SVC, bad_events[i]);
        struct lv_ps_event_data d;
        struct lv_error err = {0};
        int rc = lv_pubsub_parse_event(m, "example.test", &d, &err);
        if (rc != LV_ERR_PROTO)
            fail_msg("[%s] rc %d", bad_events[i], rc);
        assert_null(d.service);
        assert_null(d.items.items);
        assert_null(d.retracted);
        lv_xml_unref(m);
    }
    /* an error bounce quoting an event */
    struct lv_xml *bounce = parse_ok("<message xmlns='jabber:client' type='error' from='" SVC "'>"
                                     "<event xmlns='" PSE "'><items node='n'><item id='a'/></items>"
                                     "</event><error type='cancel'><service-unavailable "
                                     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
                                     "</message>");
    struct lv_ps_event_data bd;
    assert_int_equal(lv_pubsub_parse_event(bounce, NULL, &bd, NULL), LV_ERR_PROTO);
    lv_xml_unref(bounce);
    /* a headline is an event like any other type */
    struct lv_xml *h = parse_ok("<message xmlns='jabber:client' type='headline' from='" SVC "'>"
                                "<event xmlns='" PSE "'><items node='n'><item id='a'/></items>"
                                "</event></message>");
    assert_int_equal(lv_pubsub_parse_event(h, NULL, &bd, NULL), 0);
    lv_pubsub_event_data_release(&bd);
    lv_xml_unref(h);
    /* a message without any event at all */
    struct lv_xml *m = parse_ok("<message xmlns='jabber:client'><body>hi</body></message>");
    struct lv_ps_event_data d;
    assert_int_equal(lv_pubsub_parse_event(m, NULL, &d, NULL), LV_ERR_PROTO);
    lv_xml_unref(m);
}

/* ---- listeners (lv_pubsub_on_event) ---- */

struct listener_log {
    int calls;
    char node[32];
    int remove_self;                 /* remove itself on this call */
    struct listener_log *add_other;  /* register this one on the first call */
    struct listener_log *drop_other; /* remove this one on the first call */
};

static void listen_fn(struct lv_xmpp *x, const struct lv_ps_event *ev, void *ud)
{
    struct listener_log *l = ud;
    l->calls++;
    snprintf(l->node, sizeof(l->node), "%s", ev->node);
    if (l->remove_self == l->calls)
        lv_pubsub_off_event(x, listen_fn, l);
    if (l->add_other && l->calls == 1)
        lv_pubsub_on_event(x, listen_fn, l->add_other);
    if (l->drop_other && l->calls == 1)
        lv_pubsub_off_event(x, listen_fn, l->drop_other);
}

static struct lv_xmpp *offline_stream(void)
{
    struct lv_xmpp_config cfg;
    lv_xmpp_config_defaults(&cfg);
    cfg.kind = LV_XMPP_CLIENT;
    cfg.jid = "pierre@example.test";
    cfg.password = "x";
    struct lv_xmpp *x = NULL;
    assert_int_equal(lv_xmpp_new(uv_default_loop(), &cfg, &x, NULL), 0);
    return x;
}

static void free_stream(struct lv_xmpp *x)
{
    lv_xmpp_free(x);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

static bool send_event(struct lv_xmpp *x, const char *node)
{
    char *xml = lv_xasprintf("<message xmlns='jabber:client' from='" SVC "'><event xmlns='" PSE
                             "'><purge node='%s'/></event></message>",
                             node);
    struct lv_xml *m = parse_ok(xml);
    free(xml);
    bool r = lv_pubsub_dispatch_event(x, m);
    lv_xml_unref(m);
    return r;
}

static void test_listeners(void **state)
{
    struct lv_xmpp *x = offline_stream();
    struct listener_log a = {0}, b = {0};
    assert_false(send_event(x, "n0")); /* nobody listens yet */
    lv_pubsub_on_event(x, listen_fn, &a);
    lv_pubsub_on_event(x, listen_fn, &a); /* the same pair once */
    lv_pubsub_on_event(x, listen_fn, &b);
    assert_true(send_event(x, "n1"));
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_string_equal(b.node, "n1");

    /* malformed: ignored, and left to other handlers */
    struct lv_xml *bad = parse_ok("<message xmlns='jabber:client'><event xmlns='" PSE
                                  "'><items/></event></message>");
    assert_false(lv_pubsub_dispatch_event(x, bad));
    lv_xml_unref(bad);
    assert_int_equal(a.calls, 1);

    lv_pubsub_off_event(x, listen_fn, &a);
    lv_pubsub_off_event(x, listen_fn, &a); /* twice is harmless */
    assert_true(send_event(x, "n2"));
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 2);
    lv_pubsub_off_event(x, listen_fn, &b);
    assert_false(send_event(x, "n3")); /* the handler went with the last listener */
    assert_int_equal(b.calls, 2);
    free_stream(x);
}

static void test_listeners_changed_by_callbacks(void **state)
{
    struct lv_xmpp *x = offline_stream();
    struct listener_log c = {0}, d = {0}, e = {0}, f = {0};
    c.remove_self = 1; /* c goes after its first event */
    c.add_other = &e;  /* and adds e, which waits for the next event */
    d.drop_other = &f; /* d drops f before f's turn */
    lv_pubsub_on_event(x, listen_fn, &c);
    lv_pubsub_on_event(x, listen_fn, &d);
    lv_pubsub_on_event(x, listen_fn, &f);
    assert_true(send_event(x, "n1"));
    assert_int_equal(c.calls, 1);
    assert_int_equal(d.calls, 1);
    assert_int_equal(e.calls, 0);
    assert_int_equal(f.calls, 0);
    assert_true(send_event(x, "n2"));
    assert_int_equal(c.calls, 1);
    assert_int_equal(d.calls, 2);
    assert_int_equal(e.calls, 1);
    assert_int_equal(f.calls, 0);
    /* the last listener removing itself from its callback */
    lv_pubsub_off_event(x, listen_fn, &d);
    e.remove_self = 2;
    assert_true(send_event(x, "n3"));
    assert_int_equal(e.calls, 2);
    assert_false(send_event(x, "n4"));
    assert_int_equal(e.calls, 2);
    free_stream(x);
}

static void test_listeners_per_stream(void **state)
{
    struct lv_xmpp *x1 = offline_stream(), *x2 = offline_stream();
    struct listener_log a = {0}, b = {0};
    lv_pubsub_on_event(x1, listen_fn, &a);
    lv_pubsub_on_event(x2, listen_fn, &b);
    assert_true(send_event(x2, "n"));
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 1);
    lv_pubsub_off_event(x1, listen_fn, &a);
    lv_pubsub_off_event(x2, listen_fn, &b);
    lv_pubsub_off_event(x2, listen_fn, &b); /* no listener left: a no-op */
    free_stream(x1);
    free_stream(x2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_table),
        cmocka_unit_test(test_build_bad),
        cmocka_unit_test(test_items_rsm),
        cmocka_unit_test(test_items_no_rsm),
        cmocka_unit_test(test_items_partial_rsm),
        cmocka_unit_test(test_items_skip_no_id),
        cmocka_unit_test(test_items_empty_result),
        cmocka_unit_test(test_items_many),
        cmocka_unit_test(test_items_garbage),
        cmocka_unit_test(test_published_and_created),
        cmocka_unit_test(test_json_answers),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_event_items),
        cmocka_unit_test(test_event_items_no_payload),
        cmocka_unit_test(test_event_retract),
        cmocka_unit_test(test_event_mixed),
        cmocka_unit_test(test_event_node_kinds),
        cmocka_unit_test(test_event_malformed),
        cmocka_unit_test(test_listeners),
        cmocka_unit_test(test_listeners_changed_by_callbacks),
        cmocka_unit_test(test_listeners_per_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
