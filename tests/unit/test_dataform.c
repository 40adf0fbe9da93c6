/* Unit tests for lv_dataform: XEP-0004 submit forms built from JSON, forms
 * read back into JSON (values and meta), round trips, and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/lv_mem.h"
#include "xmpp/lv_dataform.h"

#define NS_CONFIG "http://jabber.org/protocol/pubsub#node_config"

static const struct lv_xml_limits limits = {
    .max_stanza_bytes = 65536, .max_depth = 32, .max_attrs = 64, .max_children = 256};

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
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("test JSON does not parse: %s\n%s", e.text, text);
    return j;
}

/* Fails with both texts when got differs from the JSON text want. */
static void expect_json(const char *row, json_t *got, const char *want)
{
    json_t *w = json_ok(want);
    if (!json_equal(got, w)) {
        char *g = got ? json_dumps(got, JSON_SORT_KEYS) : lv_xstrdup("(null)");
        char *ws = json_dumps(w, JSON_SORT_KEYS);
        json_decref(w);
        fail_msg("[%s]\n got  %s\n want %s", row, g, ws);
    }
    json_decref(w);
}

static void expect_xml(const char *row, const struct lv_xml *x, const char *want)
{
    char *got = lv_xml_to_string(x, NULL);
    if (strcmp(got, want) != 0)
        fail_msg("[%s]\n got  %s\n want %s", row, got, want);
    free(got);
}

/* ---- building submit forms ---- */

struct submit_case {
    const char *name;
    const char *form_type; /* NULL = none */
    const char *values;    /* JSON, or NULL */
    const char *want;      /* serialization */
};

static const struct submit_case submit_cases[] = {
    {"form type only", NS_CONFIG, NULL,
     "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
     "<value>" NS_CONFIG "</value></field></x>"},
    {"string value", NS_CONFIG, "{\"pubsub#access_model\": \"open\"}",
     "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
     "<value>" NS_CONFIG "</value></field><field var='pubsub#access_model'>"
     "<value>open</value></field></x>"},
    {"scalars in order", NULL,
     "{\"a\": true, \"b\": false, \"c\": 42, \"d\": -7, \"e\": 0.1, \"f\": \"x<&y\", "
     "\"g\": 1234567.5}",
     "<x xmlns='jabber:x:data' type='submit'>"
     "<field var='a'><value>1</value></field>"
     "<field var='b'><value>0</value></field>"
     "<field var='c'><value>42</value></field>"
     "<field var='d'><value>-7</value></field>"
     "<field var='e'><value>0.1</value></field>"
     "<field var='f'><value>x&lt;&amp;y</value></field>"
     "<field var='g'><value>1234567.5</value></field></x>"},
    {"multi values", NULL, "{\"pubsub#roster_groups_allowed\": [\"friends\", \"family\"]}",
     "<x xmlns='jabber:x:data' type='submit'><field var='pubsub#roster_groups_allowed'>"
     "<value>friends</value><value>family</value></field></x>"},
    {"empty multi", NULL, "{\"m\": []}",
     "<x xmlns='jabber:x:data' type='submit'><field var='m'/></x>"},
    {"empty string", NULL, "{\"s\": \"\"}",
     "<x xmlns='jabber:x:data' type='submit'><field var='s'><value/></field></x>"},
    /* FORM_TYPE among the values: hidden when no form_type is given... */
    {"FORM_TYPE in values", NULL, "{\"FORM_TYPE\": \"urn:x\", \"k\": \"v\"}",
     "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
     "<value>urn:x</value></field><field var='k'><value>v</value></field></x>"},
    /* ...and written once when it agrees with form_type. */
    {"FORM_TYPE twice, same", "urn:x", "{\"FORM_TYPE\": \"urn:x\", \"k\": \"v\"}",
     "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
     "<value>urn:x</value></field><field var='k'><value>v</value></field></x>"},
};

static void test_submit_table(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(submit_cases); i++) {
        const struct submit_case *c = &submit_cases[i];
        json_t *values = c->values ? json_ok(c->values) : NULL;
        struct lv_xml *form = NULL;
        struct lv_error err = {0};
        int rc = lv_form_submit_new(c->form_type, values, &form, &err);
        if (rc != 0)
            fail_msg("[%s] rc %d: %s", c->name, rc, err.msg);
        expect_xml(c->name, form, c->want);
        lv_xml_unref(form);
        json_decref(values);
    }
}

struct bad_case {
    const char *name;
    const char *form_type;
    const char *values;
};

static const struct bad_case bad_cases[] = {
    {"null value", NULL, "{\"a\": null}"},
    {"object value", NULL, "{\"a\": {\"b\": \"c\"}}"},
    {"nested array", NULL, "{\"a\": [[\"b\"]]}"},
    {"null in array", NULL, "{\"a\": [\"ok\", null]}"},
    {"later field bad", NULL, "{\"a\": \"ok\", \"b\": \"ok\", \"c\": {}}"},
    {"values not an object", NULL, "[\"a\"]"},
    {"values a string", NULL, "\"a\""},
    {"empty var", NULL, "{\"\": \"v\"}"},
    {"FORM_TYPE disagrees", "urn:a", "{\"FORM_TYPE\": \"urn:b\"}"},
    {"FORM_TYPE not a string", "urn:a", "{\"FORM_TYPE\": 1}"},
};

static void test_submit_bad(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        json_t *values = json_loads(c->values, JSON_DECODE_ANY, NULL);
        assert_non_null(values);
        struct lv_xml *form = (struct lv_xml *)1;
        struct lv_error err = {0};
        int rc = lv_form_submit_new(c->form_type, values, &form, &err);
        if (rc != LV_ERR_INVAL || form != NULL)
            fail_msg("[%s] rc %d, form %p", c->name, rc, (void *)form);
        if (err.code != LV_ERR_INVAL || !err.msg[0])
            fail_msg("[%s] error not filled", c->name);
        json_decref(values);
    }
}

/* ---- reading forms ---- */

static const char config_form[] =
    "<x xmlns='jabber:x:data' type='form'>"
    "<title>Node configuration</title>"
    "<instructions>Fill it</instructions>"
    "<field var='FORM_TYPE' type='hidden'><value>" NS_CONFIG "</value></field>"
    "<field type='fixed'><value>A section</value></field>"
    "<field var='pubsub#title' type='text-single' label='A friendly name'>"
    "<value>Princely &amp; musings</value></field>"
    "<field var='pubsub#deliver_payloads' type='boolean'><value>1</value></field>"
    "<field var='pubsub#max_items' type='text-single' label='Max items'><value>10</value></field>"
    "<field var='pubsub#access_model' type='list-single' label='Access model'>"
    "<option label='Open'><value>open</value></option>"
    "<option label='Whitelist'><value>whitelist</value></option>"
    "<option><value>presence</value></option>"
    "<option label='no value'/>"
    "<value>open</value></field>"
    "<field var='pubsub#roster_groups_allowed' type='list-multi'>"
    "<option><value>friends</value></option><value>friends</value></field>"
    "<field var='pubsub#children' type='text-multi'/>"
    "<field var='pubsub#description'/>"
    "<field var='untyped-multi'><value>a</value><value>b</value></field>"
    "<field var='pubsub#title' type='text-single'><value>second title ignored</value></field>"
    "</x>";

static void test_to_json(void **state)
{
    struct lv_xml *x = parse_ok(config_form);
    json_t *meta = NULL;
    json_t *values = lv_form_to_json(x, &meta);
    expect_json("values", values,
                "{\"FORM_TYPE\": \"" NS_CONFIG "\","
                " \"pubsub#title\": \"Princely & musings\","
                " \"pubsub#deliver_payloads\": \"1\","
                " \"pubsub#max_items\": \"10\","
                " \"pubsub#access_model\": \"open\","
                " \"pubsub#roster_groups_allowed\": [\"friends\"],"
                " \"pubsub#children\": [],"
                " \"pubsub#description\": \"\","
                " \"untyped-multi\": [\"a\", \"b\"]}");
    expect_json("meta", meta,
                "{\"FORM_TYPE\": {\"type\": \"hidden\"},"
                " \"pubsub#title\": {\"type\": \"text-single\", \"label\": \"A friendly name\"},"
                " \"pubsub#deliver_payloads\": {\"type\": \"boolean\"},"
                " \"pubsub#max_items\": {\"type\": \"text-single\", \"label\": \"Max items\"},"
                " \"pubsub#access_model\": {\"type\": \"list-single\", \"label\": "
                "\"Access model\", \"options\": [\"open\", \"whitelist\", \"presence\"]},"
                " \"pubsub#roster_groups_allowed\": {\"type\": \"list-multi\","
                " \"options\": [\"friends\"]},"
                " \"pubsub#children\": {\"type\": \"text-multi\"}}");
    json_decref(values);
    json_decref(meta);
    /* Without meta, the values are the same. */
    values = lv_form_to_json(x, NULL);
    assert_int_equal(json_object_size(values), 9);
    json_decref(values);
    lv_xml_unref(x);
}

static void test_to_json_foreign_fields(void **state)
{
    /* Fields and values of another namespace are not the form's. */
    struct lv_xml *x = parse_ok("<x xmlns='jabber:x:data' type='result'>"
                                "<field xmlns='urn:other' var='a'><value>1</value></field>"
                                "<field var='b'><value xmlns='urn:other'>2</value></field>"
                                "</x>");
    json_t *values = lv_form_to_json(x, NULL);
    expect_json("foreign", values, "{\"b\": \"\"}");
    json_decref(values);
    lv_xml_unref(x);
}

/* ---- round trips ---- */

static const char *const round_trips[] = {
    "{\"pubsub#access_model\": \"open\", \"pubsub#max_items\": \"max\"}",
    "{\"a\": [\"1\", \"2\", \"3\"], \"b\": \"\", \"c\": \"é ü ☃ <>&'\\\"\"}",
    "{\"pubsub#title\": \"  spaces kept  \", \"multi\": [\"x\", \"\"]}",
};

static void test_round_trip(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(round_trips); i++) {
        json_t *values = json_ok(round_trips[i]);
        struct lv_xml *form = NULL;
        assert_int_equal(lv_form_submit_new(NS_CONFIG, values, &form, NULL), 0);
        /* Through the wire: serialize and parse again. */
        char *xml = lv_xml_to_string(form, NULL);
        struct lv_xml *back = parse_ok(xml);
        json_t *got = lv_form_to_json(back, NULL);
        json_object_set_new(values, "FORM_TYPE", json_string(NS_CONFIG));
        if (!json_equal(got, values)) {
            char *g = json_dumps(got, JSON_SORT_KEYS);
            fail_msg("[%s] came back as %s (xml %s)", round_trips[i], g, xml);
        }
        /* And the read form builds the same submit form again. */
        struct lv_xml *again = NULL;
        assert_int_equal(lv_form_submit_new(NS_CONFIG, got, &again, NULL), 0);
        expect_xml(round_trips[i], again, xml);
        lv_xml_unref(again);
        json_decref(got);
        lv_xml_unref(back);
        free(xml);
        lv_xml_unref(form);
        json_decref(values);
    }
}

static void test_round_trip_scalars(void **state)
{
    /* Booleans and numbers come back as their form strings. */
    json_t *values = json_ok("{\"t\": true, \"f\": false, \"n\": 12, \"r\": 2.5}");
    struct lv_xml *form = NULL;
    assert_int_equal(lv_form_submit_new(NULL, values, &form, NULL), 0);
    json_t *got = lv_form_to_json(form, NULL);
    expect_json("scalars", got, "{\"t\": \"1\", \"f\": \"0\", \"n\": \"12\", \"r\": \"2.5\"}");
    json_decref(got);
    lv_xml_unref(form);
    json_decref(values);
}

/* ---- finding forms ---- */

static void test_find(void **state)
{
    struct lv_xml *p = parse_ok("<configure xmlns='http://jabber.org/protocol/pubsub#owner'>"
                                "<x xmlns='urn:not-a-form'/>"
                                "<x xmlns='jabber:x:data' type='form' id='1'/>"
                                "<x xmlns='jabber:x:data' type='form' id='2'/></configure>");
    struct lv_xml *f = lv_form_find(p);
    assert_non_null(f);
    assert_string_equal(lv_xml_attr(f, "id"), "1");
    lv_xml_unref(p);

    p = parse_ok("<configure xmlns='urn:y'><x xmlns='urn:not-a-form'/></configure>");
    assert_null(lv_form_find(p));
    lv_xml_unref(p);
    assert_null(lv_form_find(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_table), cmocka_unit_test(test_submit_bad),
        cmocka_unit_test(test_to_json),      cmocka_unit_test(test_to_json_foreign_fields),
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_round_trip_scalars),
        cmocka_unit_test(test_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
