/* Unit tests for lv_xml: tree building, lookup, escaping, serialization,
 * and the one-shot parser (round-trips, errors, restricted XML, limits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xml/lv_xml.h"

#define NS_CLIENT "jabber:client"
#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_ATOM "http://www.w3.org/2005/Atom"
#define NS_XHTML "http://www.w3.org/1999/xhtml"

static const struct lv_xml_limits limits = {
    .max_stanza_bytes = 65536, .max_depth = 32, .max_attrs = 64, .max_children = 256};

static size_t count_children(const struct lv_xml *x)
{
    size_t n = 0;
    for (const struct lv_xml *c = x->children; c; c = c->next)
        n++;
    return n;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a || !b) ? a == b : strcmp(a, b) == 0;
}

/* Structural equality: kind, name, ns, attributes in order, text, children. */
static bool tree_eq(const struct lv_xml *a, const struct lv_xml *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == LV_XML_TEXT)
        return a->text_len == b->text_len && memcmp(a->text, b->text, a->text_len) == 0;
    if (!str_eq(a->name, b->name) || !str_eq(a->ns, b->ns) || a->nattrs != b->nattrs)
        return false;
    for (size_t i = 0; i < a->nattrs; i++)
        if (!str_eq(a->attrs[i].name, b->attrs[i].name) ||
            !str_eq(a->attrs[i].value, b->attrs[i].value))
            return false;
    const struct lv_xml *ca = a->children, *cb = b->children;
    for (; ca && cb; ca = ca->next, cb = cb->next)
        if (!tree_eq(ca, cb))
            return false;
    return !ca && !cb;
}

static struct lv_xml *parse_ok(const char *xml)
{
    struct lv_xml *x = NULL;
    struct lv_error err = {0};
    int rc = lv_xml_parse(xml, strlen(xml), &limits, &x, &err);
    if (rc != 0)
        fail_msg("parse of %s failed: %s", xml, err.msg);
    assert_non_null(x);
    return x;
}

/* ---- escaping ---- */

struct escape_case {
    const char *in;
    size_t len;
    const char *text;
    const char *attr;
};

#define S(lit) lit, sizeof(lit) - 1

static const struct escape_case escape_cases[] = {
    {S("plain"), "plain", "plain"},
    {S("a&b"), "a&amp;b", "a&amp;b"},
    {S("<tag>"), "&lt;tag&gt;", "&lt;tag&gt;"},
    {S("]]>"), "]]&gt;", "]]&gt;"},
    {S("say \"hi\" 'you'"), "say \"hi\" 'you'", "say &quot;hi&quot; &apos;you&apos;"},
    {S("a\tb\nc"), "a\tb\nc", "a&#9;b&#10;c"},
    {S("cr\r"), "cr&#13;", "cr&#13;"},
    {S("ctl\x01\x08\x0b\x0c\x1f!"), "ctl!", "ctl!"},
    {S("nul\0byte"), "nulbyte", "nulbyte"},
    {S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
    {S("bad\xc3"), "bad", "bad"},                  /* truncated sequence */
    {S("x\xc0\xafy"), "xy", "xy"},                 /* overlong '/' */
    {S("s\xed\xa0\x80!"), "s!", "s!"},             /* UTF-16 surrogate */
    {S("n\xef\xbf\xbe\xef\xbf\xbf!"), "n!", "n!"}, /* U+FFFE, U+FFFF */
    {S("\xf4\x90\x80\x80z"), "z", "z"},            /* > U+10FFFF */
    {S("\x80\xbf"), "", ""},                       /* stray continuation bytes */
    {S(""), "", ""},
};

static void test_escape_table(void **state)
{
    for (size_t i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]); i++) {
        const struct escape_case *c = &escape_cases[i];
        struct lv_buf b = LV_BUF_INIT;
        lv_xml_escape(&b, c->in, c->len, false);
        char *s = lv_buf_detach(&b);
        assert_string_equal(s, c->text);
        free(s);
        lv_xml_escape(&b, c->in, c->len, true);
        s = lv_buf_detach(&b);
        assert_string_equal(s, c->attr);
        free(s);
    }
}

/* ---- building and serializing ---- */

static struct lv_xml *build_message(void)
{
    struct lv_xml *m = lv_xml_new("message", NS_CLIENT);
    lv_xml_set_attr(m, "to", "juliet@capulet.lit");
    lv_xml_set_attr(m, "type", "chat");
    lv_xml_new_child_text(m, "body", NULL, "Hi & <bye>");
    return m;
}

static struct lv_xml *build_iq(void)
{
    struct lv_xml *iq = lv_xml_new("iq", NS_CLIENT);
    lv_xml_set_attr(iq, "type", "set");
    struct lv_xml *ps = lv_xml_new_child(iq, "pubsub", NS_PUBSUB);
    lv_xml_new_child(ps, "publish", NULL);
    return iq;
}

static struct lv_xml *build_no_ns_child(void)
{
    struct lv_xml *x = lv_xml_new("x", "urn:a");
    lv_xml_add_child_take(x, lv_xml_new("y", NULL));
    return x;
}

static struct lv_xml *build_attrs(void)
{
    struct lv_xml *x = lv_xml_new("x", "urn:a");
    lv_xml_set_attr(x, "xml:lang", "fr");
    lv_xml_set_attr(x, "{urn:b}x}zero", "0"); /* URI urn:b}x, not urn:b */
    lv_xml_set_attr(x, "{urn:b}one", "1");
    lv_xml_set_attr(x, "{urn:c}two", "2");
    lv_xml_set_attr(x, "{urn:b}three", "3");
    lv_xml_set_attr(x, "{" LV_NS_XML "}space", "preserve");
    lv_xml_set_attr(x, "xmlns", "urn:ignored");
    lv_xml_set_attr(x, "q", "it's \"q\" & <q>");
    return x;
}

static struct lv_xml *build_text_mix(void)
{
    struct lv_xml *x = lv_xml_new("p", NULL);
    lv_xml_add_text(x, "a\x01", 2);
    lv_xml_new_child_text(x, "b", NULL, "bold");
    lv_xml_add_text(x, "c\r\n", 3);
    return x;
}

struct ser_case {
    struct lv_xml *(*build)(void);
    const char *ctx_ns;
    const char *expected;
};

static const struct ser_case ser_cases[] = {
    {build_message, NS_CLIENT,
     "<message to='juliet@capulet.lit' type='chat'><body>Hi &amp; &lt;bye&gt;</body></message>"},
    {build_message, NULL,
     "<message xmlns='jabber:client' to='juliet@capulet.lit' type='chat'>"
     "<body>Hi &amp; &lt;bye&gt;</body></message>"},
    {build_iq, NS_CLIENT,
     "<iq type='set'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish/></pubsub></iq>"},
    {build_iq, "jabber:component:accept",
     "<iq xmlns='jabber:client' type='set'>"
     "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish/></pubsub></iq>"},
    {build_no_ns_child, "urn:a", "<x><y xmlns=''/></x>"},
    {build_attrs, "urn:a",
     "<x xml:lang='fr' xmlns:ns0='urn:b}x' ns0:zero='0' xmlns:ns1='urn:b' ns1:one='1'"
     " xmlns:ns2='urn:c' ns2:two='2' ns1:three='3'"
     " xml:space='preserve' q='it&apos;s &quot;q&quot; &amp; &lt;q&gt;'/>"},
    {build_text_mix, NULL, "<p>a<b>bold</b>c&#13;\n</p>"},
};

static void test_serialize_table(void **state)
{
    for (size_t i = 0; i < sizeof(ser_cases) / sizeof(ser_cases[0]); i++) {
        struct lv_xml *x = ser_cases[i].build();
        char *s = lv_xml_to_string(x, ser_cases[i].ctx_ns);
        assert_string_equal(s, ser_cases[i].expected);
        free(s);
        lv_xml_unref(x);
    }
}

static void test_serialize_appends(void **state)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "pre:");
    struct lv_xml *t = lv_xml_new_text("a<b", 3);
    lv_xml_serialize(t, &b, NULL);
    assert_string_equal(b.data, "pre:a&lt;b");
    lv_xml_unref(t);
    lv_buf_release(&b);
}

/* ---- attributes ---- */

static void test_attrs(void **state)
{
    struct lv_xml *x = lv_xml_new("x", NULL);
    assert_null(lv_xml_attr(x, "a"));
    lv_xml_set_attr(x, "a", "1");
    lv_xml_set_attr(x, "b", "2");
    lv_xml_set_attr(x, "c", "3");
    assert_string_equal(lv_xml_attr(x, "b"), "2");
    lv_xml_set_attr(x, "b", "two");
    assert_int_equal(x->nattrs, 3);
    assert_string_equal(lv_xml_attr(x, "b"), "two");
    /* Replacing a value by itself must not read freed memory. */
    lv_xml_set_attr(x, "b", lv_xml_attr(x, "b"));
    assert_string_equal(lv_xml_attr(x, "b"), "two");
    lv_xml_set_attr(x, "a", NULL);
    assert_int_equal(x->nattrs, 2);
    assert_null(lv_xml_attr(x, "a"));
    assert_string_equal(x->attrs[0].name, "b");
    assert_string_equal(x->attrs[1].name, "c");
    lv_xml_set_attr(x, "missing", NULL);
    assert_int_equal(x->nattrs, 2);
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "k%d", i);
        lv_xml_set_attr(x, name, name);
    }
    assert_int_equal(x->nattrs, 42);
    assert_string_equal(lv_xml_attr(x, "k39"), "k39");
    assert_string_equal(lv_xml_attr(x, "c"), "3");
    lv_xml_unref(x);
}

/* ---- lookup ---- */

static void test_find(void **state)
{
    struct lv_xml *m = lv_xml_new("message", NS_CLIENT);
    lv_xml_add_text(m, "  ", 2);
    struct lv_xml *b1 = lv_xml_new_child_text(m, "body", NULL, "one");
    struct lv_xml *ev = lv_xml_new_child(m, "event", "http://jabber.org/protocol/pubsub#event");
    struct lv_xml *b2 = lv_xml_new_child_text(m, "body", NULL, "two");
    struct lv_xml *other = lv_xml_new_child(m, "body", "urn:other");

    assert_string_equal(b1->ns, NS_CLIENT);
    assert_ptr_equal(lv_xml_find(m, "body", NULL), b1);
    assert_ptr_equal(lv_xml_find(m, "body", NS_CLIENT), b1);
    assert_ptr_equal(lv_xml_find(m, "body", "urn:other"), other);
    assert_ptr_equal(lv_xml_find(m, NULL, "http://jabber.org/protocol/pubsub#event"), ev);
    assert_null(lv_xml_find(m, "subject", NULL));
    assert_null(lv_xml_find(m, "event", NS_CLIENT));
    assert_ptr_equal(lv_xml_find_next(b1, "body", NS_CLIENT), b2);
    assert_ptr_equal(lv_xml_find_next(b2, "body", NULL), other);
    assert_null(lv_xml_find_next(b2, "body", NS_CLIENT));
    assert_ptr_equal(lv_xml_find_next(b1, NULL, NULL), ev);
    assert_ptr_equal(lv_xml_first_elem(m), b1);
    assert_true(lv_xml_is(ev, "event", NULL));
    assert_true(lv_xml_is(ev, "event", "http://jabber.org/protocol/pubsub#event"));
    assert_false(lv_xml_is(ev, "event", NS_CLIENT));
    assert_false(lv_xml_is(ev, "body", NULL));
    assert_false(lv_xml_is(m->children, "body", NULL)); /* a text node */
    assert_false(lv_xml_is(NULL, "body", NULL));

    char *t = lv_xml_child_text(m, "body", NS_CLIENT);
    assert_string_equal(t, "one");
    free(t);
    assert_null(lv_xml_child_text(m, "subject", NULL));
    t = lv_xml_child_text(m, "event", NULL);
    assert_string_equal(t, "");
    free(t);
    lv_xml_unref(m);
}

static void test_text(void **state)
{
    struct lv_xml *p = lv_xml_new("p", NULL);
    char *t = lv_xml_text(p);
    assert_string_equal(t, "");
    free(t);
    lv_xml_add_text(p, "Hello", 5);
    lv_xml_add_text(p, ", ", 2);
    assert_int_equal(count_children(p), 1); /* adjacent text merged */
    lv_xml_new_child_text(p, "b", NULL, "ignored");
    lv_xml_add_text(p, "", 0);
    lv_xml_add_child_take(p, lv_xml_new_text("world", 5));
    assert_int_equal(count_children(p), 3);
    t = lv_xml_text(p);
    assert_string_equal(t, "Hello, world");
    free(t);
    lv_xml_unref(p);
}

/* ---- ownership ---- */

static void test_copy_is_deep(void **state)
{
    struct lv_xml *iq = parse_ok("<iq xmlns='jabber:client' type='get' id='1'>"
                                 "<query xmlns='urn:q' a='b'>text<item x='y'/></query></iq>");
    struct lv_xml *c = lv_xml_copy(iq);
    assert_true(tree_eq(iq, c));
    assert_null(c->parent);
    assert_int_equal(c->refs, 1);
    struct lv_xml *q = lv_xml_find(c, "query", NULL);
    assert_ptr_not_equal(q, lv_xml_find(iq, "query", NULL));
    assert_ptr_equal(q->parent, c);
    assert_ptr_equal(q->last, lv_xml_find(q, "item", NULL));
    lv_xml_set_attr(q, "a", "changed");
    lv_xml_set_attr(lv_xml_find(q, "item", NULL), "x", "z");
    q->children->text[0] = 'T';
    assert_false(tree_eq(iq, c));
    char *s = lv_xml_to_string(iq, NULL);
    assert_string_equal(s, "<iq xmlns='jabber:client' type='get' id='1'>"
                           "<query xmlns='urn:q' a='b'>text<item x='y'/></query></iq>");
    free(s);
    struct lv_xml *item = lv_xml_find(q, "item", NULL);
    struct lv_xml *ic = lv_xml_copy(item);
    assert_null(ic->parent);
    assert_null(ic->next);
    lv_xml_unref(ic);
    lv_xml_unref(c);
    lv_xml_unref(iq);
}

static void test_ref_unref(void **state)
{
    struct lv_xml *m = build_message();
    assert_int_equal(m->refs, 1);
    assert_ptr_equal(lv_xml_ref(m), m);
    assert_int_equal(m->refs, 2);
    lv_xml_unref(m);
    assert_int_equal(m->refs, 1);
    assert_string_equal(m->name, "message"); /* still alive (ASan checks) */

    /* A child someone still references outlives its parent, parentless. */
    struct lv_xml *body = lv_xml_ref(lv_xml_find(m, "body", NULL));
    lv_xml_unref(m);
    assert_null(body->parent);
    assert_null(body->next);
    char *t = lv_xml_text(body);
    assert_string_equal(t, "Hi & <bye>");
    free(t);
    lv_xml_unref(body);
    lv_xml_unref(NULL);
}

static void test_detach(void **state)
{
    struct lv_xml *x = parse_ok("<x><a/><b/><c/></x>");
    struct lv_xml *b = lv_xml_find(x, "b", NULL);
    lv_xml_detach(b);
    assert_null(b->parent);
    assert_null(b->next);
    lv_xml_unref(b);
    struct lv_xml *c = lv_xml_find(x, "c", NULL);
    lv_xml_detach(c);
    assert_ptr_equal(x->last, lv_xml_find(x, "a", NULL));
    struct lv_xml *a = lv_xml_find(x, "a", NULL);
    lv_xml_detach(a);
    assert_null(x->children);
    assert_null(x->last);
    lv_xml_add_child_take(x, c);
    lv_xml_add_child_take(x, a);
    char *s = lv_xml_to_string(x, NULL);
    assert_string_equal(s, "<x><c/><a/></x>");
    free(s);
    lv_xml_detach(x); /* parentless: no-op */
    lv_xml_unref(x);
}

/* ---- round trips ---- */

struct rt_case {
    const char *in;
    const char *canonical; /* serialize(parse(in)) with ctx_ns NULL */
};

static const struct rt_case rt_cases[] = {
    {"<message xmlns='jabber:client' to='romeo@montague.lit' type='chat' id='m1'>"
     "<body>Wherefore art thou?</body></message>",
     NULL},
    {"<iq xmlns='jabber:client' type='result' id='items1'>"
     "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
     "<items node='urn:xmpp:microblog:0'><item id='post-1'>"
     "<entry xmlns='http://www.w3.org/2005/Atom'><title type='xhtml'>"
     "<div xmlns='http://www.w3.org/1999/xhtml'><p>Hello <em>world</em> &amp; co</p></div>"
     "</title><id>tag:example.org,2024:post-1</id>"
     "<link rel='alternate' href='https://example.org/?a=1&amp;b=2'/></entry>"
     "</item></items></pubsub></iq>",
     NULL},
    {"<x a=\"it's\" b='say \"hi\"' c='&amp;&lt;&gt;'/>",
     "<x a='it&apos;s' b='say &quot;hi&quot;' c='&amp;&lt;&gt;'/>"},
    {"<body xml:lang='fr'>\xc3\xa7\x61 va \xe2\x9c\x93 \xf0\x9f\x8e\x89</body>", NULL},
    {"<p:root xmlns:p='urn:p' xmlns:q='urn:q' q:at='1' xml:lang='en'><p:child q:b='2'/>"
     "<other xmlns='urn:o'><inner/></other></p:root>",
     "<root xmlns='urn:p' xmlns:ns0='urn:q' ns0:at='1' xml:lang='en'>"
     "<child xmlns:ns0='urn:q' ns0:b='2'/><other xmlns='urn:o'><inner/></other></root>"},
    {"<a xmlns='urn:a'><b xmlns=''>t</b></a>", NULL},
    {"<?xml version='1.0' encoding='UTF-8'?>\n<a>x<![CDATA[<raw> & ]]>y\r\nz</a>",
     "<a>x&lt;raw&gt; &amp; y\nz</a>"},
    {"<a t='&#9;&#10;&#13;' u='a\tb\nc'>&#13;</a>", "<a t='&#9;&#10;&#13;' u='a b c'>&#13;</a>"},
    {"<a>   <b/>\n  </a>", NULL},
    /* An element in the XML namespace keeps the predeclared "xml" prefix: a
     * default-namespace declaration of it would not parse (fuzzer find). */
    {"<a xmlns='urn:a'><xml:b><c/></xml:b></a>", NULL},
};

static void test_round_trip_table(void **state)
{
    for (size_t i = 0; i < sizeof(rt_cases) / sizeof(rt_cases[0]); i++) {
        const char *want = rt_cases[i].canonical ? rt_cases[i].canonical : rt_cases[i].in;
        struct lv_xml *x = parse_ok(rt_cases[i].in);
        char *s = lv_xml_to_string(x, NULL);
        assert_string_equal(s, want);
        struct lv_xml *y = parse_ok(s);
        assert_true(tree_eq(x, y));
        free(s);
        lv_xml_unref(y);
        lv_xml_unref(x);
    }
}

static void test_round_trip_parsed_tree(void **state)
{
    struct lv_xml *x = parse_ok(rt_cases[1].in);
    assert_string_equal(x->name, "iq");
    assert_string_equal(x->ns, NS_CLIENT);
    struct lv_xml *entry = lv_xml_find(
        lv_xml_find(lv_xml_find(lv_xml_find(x, "pubsub", NS_PUBSUB), "items", NULL), "item", NULL),
        "entry", NS_ATOM);
    assert_non_null(entry);
    struct lv_xml *div = lv_xml_find(lv_xml_find(entry, "title", NULL), "div", NS_XHTML);
    assert_non_null(div);
    struct lv_xml *p = lv_xml_find(div, "p", NS_XHTML);
    assert_int_equal(count_children(p), 3);
    char *t = lv_xml_text(p);
    assert_string_equal(t, "Hello  & co");
    free(t);
    assert_string_equal(lv_xml_attr(lv_xml_find(entry, "link", NULL), "href"),
                        "https://example.org/?a=1&b=2");
    lv_xml_unref(x);

    x = parse_ok(rt_cases[4].in);
    assert_string_equal(lv_xml_attr(x, "{urn:q}at"), "1");
    assert_string_equal(lv_xml_attr(x, "xml:lang"), "en");
    assert_string_equal(x->ns, "urn:p");
    lv_xml_unref(x);
}

/* Built trees (not only parsed ones) come back identical. */
static void test_round_trip_built(void **state)
{
    struct lv_xml *x = lv_xml_new("x", "urn:x");
    lv_xml_set_attr(x, "ws", "\t\n\r lead");
    lv_xml_set_attr(x, "{urn:y}k", "v'\"");
    lv_xml_set_attr(x, "xml:lang", "de");
    const char *text = "line\r\nnext ]]> <&>";
    lv_xml_add_text(x, text, strlen(text));
    struct lv_xml *c = lv_xml_new_child(x, "c", NULL);
    lv_xml_add_child_take(c, lv_xml_new("d", NULL));
    lv_xml_new_child_text(x, "e", "urn:e", "\xe6\x97\xa5\xe6\x9c\xac");
    char *s = lv_xml_to_string(x, "urn:x");
    struct lv_xml *y = NULL;
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_addf(&b, "<wrap xmlns='urn:x'>%s</wrap>", s); /* ctx_ns is in force there */
    struct lv_error err = {0};
    assert_int_equal(lv_xml_parse(b.data, b.len, &limits, &y, &err), 0);
    assert_true(tree_eq(x, lv_xml_first_elem(y)));
    lv_buf_release(&b);
    lv_xml_unref(y);
    free(s);
    lv_xml_unref(x);
}

/* ---- parse errors ---- */

struct err_case {
    const char *in;
    int code;
    const char *cond;
    const char *msg; /* substring expected in err.msg */
};

static const struct err_case err_cases[] = {
    {"<a><b></a>", LV_ERR_INVAL, "not-well-formed", "1:9: mismatched tag"},
    {"<a>\n<b>\n</a>", LV_ERR_INVAL, "not-well-formed", "3:3: mismatched tag"},
    {"", LV_ERR_INVAL, "not-well-formed", "no element found"},
    {"<a>", LV_ERR_INVAL, "not-well-formed", "1:4: no element found"},
    {"<a/><b/>", LV_ERR_INVAL, "not-well-formed", "junk after document element"},
    {"<a b='1' b='2'/>", LV_ERR_INVAL, "not-well-formed", "duplicate attribute"},
    {"<p:a/>", LV_ERR_INVAL, "not-well-formed", "unbound prefix"},
    {"<a>&nbsp;</a>", LV_ERR_INVAL, "not-well-formed", "undefined entity"},
    {"<a>\x01</a>", LV_ERR_INVAL, "not-well-formed", "1:4:"},
    {"<a>&#0;</a>", LV_ERR_INVAL, "not-well-formed", "invalid character"},
    {"<a>\xc3\x28</a>", LV_ERR_INVAL, "not-well-formed", "1:4:"},
    {"<?xml version='1.0' encoding='UTF-16'?><a/>", LV_ERR_INVAL, "unsupported-encoding",
     "1:1: encoding UTF-16 is not UTF-8"},
    {"<?xml version='1.0' encoding='ISO-8859-1'?><a/>", LV_ERR_INVAL, "unsupported-encoding",
     "ISO-8859-1"},
    {"\xff\xfe<", LV_ERR_INVAL, "unsupported-encoding", "UTF-16"}, /* UTF-16 BOMs */
    {"\xfe\xff", LV_ERR_INVAL, "unsupported-encoding", "UTF-16"},
    {"<!DOCTYPE a><a/>", LV_ERR_INVAL, "restricted-xml", "DTD"},
    {"<!DOCTYPE a [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;'>]><a>&lol2;</a>", LV_ERR_INVAL,
     "restricted-xml", "DTD"},
    {"<!DOCTYPE a SYSTEM 'file:///etc/passwd'><a>&x;</a>", LV_ERR_INVAL, "restricted-xml", "DTD"},
    {"<!-- hi --><a/>", LV_ERR_INVAL, "restricted-xml", "1:1: comments"},
    {"<a>\n  <!-- hi --></a>", LV_ERR_INVAL, "restricted-xml", "2:3: comments"},
    {"<?php echo 1; ?><a/>", LV_ERR_INVAL, "restricted-xml", "processing instructions"},
    {"<a><?pi data?></a>", LV_ERR_INVAL, "restricted-xml", "processing instructions"},
};

static void test_parse_errors(void **state)
{
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        const struct err_case *c = &err_cases[i];
        static struct lv_xml sentinel;
        struct lv_xml *x = &sentinel; /* must be reset to NULL */
        struct lv_error err = {0};
        int rc = lv_xml_parse(c->in, strlen(c->in), &limits, &x, &err);
        if (rc != c->code || strcmp(err.cond, c->cond) != 0 || !strstr(err.msg, c->msg))
            fail_msg("case %zu (%s): rc=%d cond=%s msg=%s", i, c->in, rc, err.cond, err.msg);
        assert_int_equal(err.code, c->code);
        assert_null(x);
    }
}

static void test_parse_xml_decl_allowed(void **state)
{
    struct lv_xml *x = parse_ok("\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?>\n<a/>\n");
    assert_string_equal(x->name, "a");
    assert_null(x->ns);
    lv_xml_unref(x);
}

/* ---- limits ---- */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, head);
    for (size_t i = 0; i < n; i++)
        lv_buf_adds(&b, unit);
    lv_buf_adds(&b, tail);
    return lv_buf_detach(&b);
}

static char *nested(size_t depth)
{
    struct lv_buf b = LV_BUF_INIT;
    for (size_t i = 0; i < depth; i++)
        lv_buf_adds(&b, "<d>");
    for (size_t i = 0; i < depth; i++)
        lv_buf_adds(&b, "</d>");
    return lv_buf_detach(&b);
}

static char *attrs(size_t n)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "<a");
    for (size_t i = 0; i < n; i++)
        lv_buf_addf(&b, " a%zu='%zu'", i, i);
    lv_buf_adds(&b, "/>");
    return lv_buf_detach(&b);
}

struct limit_case {
    char *in;
    bool ok;
    const char *msg;
};

static void check_limit_case(const struct lv_xml_limits *lim, const struct limit_case *c)
{
    struct lv_xml *x = NULL;
    struct lv_error err = {0};
    int rc = lv_xml_parse(c->in, strlen(c->in), lim, &x, &err);
    if (c->ok) {
        if (rc != 0)
            fail_msg("expected success: %s", err.msg);
        lv_xml_unref(x);
        return;
    }
    assert_int_equal(rc, LV_ERR_LIMIT);
    assert_string_equal(err.cond, "policy-violation");
    if (!strstr(err.msg, c->msg))
        fail_msg("msg '%s' lacks '%s'", err.msg, c->msg);
    assert_null(x);
}

static void test_limits(void **state)
{
    const struct lv_xml_limits lim = {
        .max_stanza_bytes = 200, .max_depth = 4, .max_attrs = 3, .max_children = 5};
    struct limit_case cases[] = {
        {nested(4), true, NULL},
        {nested(5), false, "max_depth"},
        {attrs(3), true, NULL},
        {attrs(4), false, "max_attrs"},
        {repeat("<a>", "<c/>", 5, "</a>"), true, NULL},
        {repeat("<a>", "<c/>", 6, "</a>"), false, "max_children"},
        /* text runs count as children too */
        {repeat("<a>", "t<c/>", 3, "</a>"), false, "max_children"},
        {repeat("<a>", "x", 193, "</a>"), true, NULL}, /* exactly 200 bytes */
        {repeat("<a>", "x", 194, "</a>"), false, "max_stanza_bytes"},
        {repeat("<a b='", "x", 5000, "'/>"), false, "max_stanza_bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_limit_case(&lim, &cases[i]);
        free(cases[i].in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_table),
        cmocka_unit_test(test_serialize_table),
        cmocka_unit_test(test_serialize_appends),
        cmocka_unit_test(test_attrs),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_copy_is_deep),
        cmocka_unit_test(test_ref_unref),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_round_trip_table),
        cmocka_unit_test(test_round_trip_parsed_tree),
        cmocka_unit_test(test_round_trip_built),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_xml_decl_allowed),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
