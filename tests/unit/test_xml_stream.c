/* Unit tests for lv_xml_stream: callbacks and namespaces of c2s and
 * component streams whatever the chunking, limits enforced while feeding
 * (bounded memory), restricted XML, stop/reset, sticky errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xml/lv_xml_stream.h"

#define NS_STREAM "http://etherx.jabber.org/streams"
#define NS_CLIENT "jabber:client"
#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"

#define C2S_HEADER                                                                                 \
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "                                   \
    "xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' "              \
    "xml:lang='en'>"

/* Fits within small max_stanza_bytes (84 bytes). */
#define SHORT_HEADER                                                                               \
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"

static const char c2s[] =
    C2S_HEADER "\n  <stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
               "<required/></starttls>"
               "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
               "<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>"
               "</stream:features>\n"
               "<message to='juliet@example.com' type='chat' xml:lang='fr'>"
               "<body>Caf\xc3\xa9 &amp; &lt;cr\xc3\xa8me&gt;</body></message> \t\r\n"
               "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>"
               "</stream:stream>";

static const char c2s_log[] =
    "open {http://etherx.jabber.org/streams}stream to=example.com version=1.0 xml:lang=en\n"
    "stanza {http://etherx.jabber.org/streams}features "
    "<features xmlns='http://etherx.jabber.org/streams'>"
    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    "<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></features>\n"
    "stanza {jabber:client}message <message xmlns='jabber:client' to='juliet@example.com' "
    "type='chat' xml:lang='fr'><body>Caf\xc3\xa9 &amp; &lt;cr\xc3\xa8me&gt;</body></message>\n"
    "stanza {jabber:client}iq <iq xmlns='jabber:client' type='get' id='r1'>"
    "<query xmlns='jabber:iq:roster'/></iq>\n"
    "close\n";

static const struct lv_xml_limits limits = {
    .max_stanza_bytes = 65536, .max_depth = 16, .max_attrs = 16, .max_children = 64};

#define MAX_KEPT 8

/* Records every callback as a line of text, and keeps the first stanzas. */
struct rec {
    struct lv_buf log;
    int nopen, nstanzas, nclose;
    struct lv_xml *kept[MAX_KEPT];
    const char *stop_on; /* stanza name that makes the callback stop the parser */
    struct lv_xml_stream *s;
};

static void on_open(void *ud, const char *name, const char *ns, const struct lv_xml_attr *attrs,
                    size_t nattrs)
{
    struct rec *r = ud;
    r->nopen++;
    lv_buf_addf(&r->log, "open {%s}%s", ns ? ns : "", name);
    for (size_t i = 0; i < nattrs; i++)
        lv_buf_addf(&r->log, " %s=%s", attrs[i].name, attrs[i].value);
    lv_buf_addc(&r->log, '\n');
}

static void on_stanza(void *ud, struct lv_xml *x)
{
    struct rec *r = ud;
    char *s = lv_xml_to_string(x, NULL);
    lv_buf_addf(&r->log, "stanza {%s}%s %s\n", x->ns ? x->ns : "", x->name, s);
    free(s);
    if (r->stop_on && strcmp(x->name, r->stop_on) == 0)
        lv_xml_stream_stop(r->s);
    if (r->nstanzas < MAX_KEPT)
        r->kept[r->nstanzas] = x;
    else
        lv_xml_unref(x);
    r->nstanzas++;
}

static void on_close(void *ud)
{
    struct rec *r = ud;
    r->nclose++;
    lv_buf_adds(&r->log, "close\n");
}

static const struct lv_xml_stream_cbs cbs = {on_open, on_stanza, on_close};

static struct rec *rec_new(const struct lv_xml_limits *lim)
{
    struct rec *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->s = lv_xml_stream_new(lim, &cbs, r);
    return r;
}

static void rec_free(struct rec *r)
{
    for (int i = 0; i < r->nstanzas && i < MAX_KEPT; i++)
        lv_xml_unref(r->kept[i]);
    lv_xml_stream_free(r->s);
    lv_buf_release(&r->log);
    free(r);
}

static const char *log_of(struct rec *r)
{
    return r->log.data ? r->log.data : "";
}

/* Feeds data in chunks of `chunk` bytes; stops at the first error. *fed
 * (if non-NULL) gets the bytes handed over, the failing chunk included. */
static int feed_chunks(struct lv_xml_stream *s, const char *data, size_t len, size_t chunk,
                       struct lv_error *err, size_t *fed)
{
    size_t off = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        size_t n = len - off < chunk ? len - off : chunk;
        rc = lv_xml_stream_feed(s, data + off, n, err);
        off += n;
    }
    if (fed)
        *fed = off;
    return rc;
}

static void feed_ok(struct rec *r, const char *data)
{
    struct lv_error err = {0};
    if (lv_xml_stream_feed(r->s, data, strlen(data), &err) != 0)
        fail_msg("feed failed: %s: %s", err.cond, err.msg);
}

static void expect_error(int rc, const struct lv_error *err, int code, const char *cond,
                         const char *msg)
{
    assert_int_equal(rc, code);
    assert_int_equal(err->code, code);
    assert_string_equal(err->cond, cond);
    if (!strstr(err->msg, msg))
        fail_msg("error message '%s' lacks '%s'", err->msg, msg);
}

static char *repeat(const char *head, char c, size_t n, const char *tail)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, head);
    for (size_t i = 0; i < n; i++)
        lv_buf_addc(&b, c);
    lv_buf_adds(&b, tail);
    return lv_buf_detach(&b);
}

/* ---- callbacks and namespaces ---- */

static void test_c2s_any_chunking(void **state)
{
    static const size_t chunks[] = {sizeof(c2s), 1, 2, 7, 64, 4096};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct rec *r = rec_new(&limits);
        struct lv_error err = {0};
        int rc = feed_chunks(r->s, c2s, sizeof(c2s) - 1, chunks[i], &err, NULL);
        if (rc != 0)
            fail_msg("chunk %zu: %s", chunks[i], err.msg);
        assert_string_equal(log_of(r), c2s_log);
        assert_int_equal(r->nopen, 1);
        assert_int_equal(r->nstanzas, 3);
        assert_int_equal(r->nclose, 1);
        assert_int_equal(lv_xml_stream_finish(r->s, &err), 0);
        rec_free(r);
    }
}

static void test_namespaces(void **state)
{
    struct rec *r = rec_new(&limits);
    feed_ok(r, c2s);
    struct lv_xml *features = r->kept[0];
    assert_true(lv_xml_is(features, "features", NS_STREAM));
    struct lv_xml *tls = lv_xml_find(features, "starttls", NULL);
    assert_true(lv_xml_is(tls, "starttls", NS_TLS));
    assert_true(lv_xml_is(lv_xml_first_elem(tls), "required", NS_TLS));
    assert_non_null(lv_xml_find(features, "mechanisms", NS_SASL));
    assert_true(lv_xml_is(r->kept[1], "message", NS_CLIENT));
    assert_string_equal(lv_xml_attr(r->kept[1], "xml:lang"), "fr");
    char *body = lv_xml_child_text(r->kept[1], "body", NS_CLIENT);
    assert_string_equal(body, "Caf\xc3\xa9 & <cr\xc3\xa8me>");
    free(body);
    assert_true(lv_xml_is(lv_xml_first_elem(r->kept[2]), "query", "jabber:iq:roster"));
    rec_free(r);
}

static void test_component_stream(void **state)
{
    struct rec *r = rec_new(&limits);
    feed_ok(r, "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
               "xmlns='jabber:component:accept' to='pubsub.example.com'>");
    assert_string_equal(log_of(r),
                        "open {http://etherx.jabber.org/streams}stream to=pubsub.example.com\n");
    feed_ok(r, "<handshake>aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e</handshake>");
    feed_ok(r, "<message from='a@example.com' to='x@pubsub.example.com'><body>x</body>"
               "</message>");
    assert_int_equal(r->nstanzas, 2);
    assert_true(lv_xml_is(r->kept[0], "handshake", "jabber:component:accept"));
    assert_true(lv_xml_is(r->kept[1], "message", "jabber:component:accept"));
    char *s = lv_xml_to_string(r->kept[1], "jabber:component:accept");
    assert_string_equal(s, "<message from='a@example.com' to='x@pubsub.example.com'>"
                           "<body>x</body></message>");
    free(s);
    assert_int_equal(r->nclose, 0);
    feed_ok(r, "</stream:stream>");
    assert_int_equal(r->nclose, 1);
    rec_free(r);
}

static void test_text_merged_across_chunks(void **state)
{
    static const char in[] = C2S_HEADER "<message><body>a&amp;b<![CDATA[<c>]]>d&#x20AC;\n"
                                        "e</body></message>";
    struct rec *r = rec_new(&limits);
    assert_int_equal(feed_chunks(r->s, in, sizeof(in) - 1, 1, NULL, NULL), 0);
    assert_int_equal(r->nstanzas, 1);
    struct lv_xml *body = lv_xml_find(r->kept[0], "body", NULL);
    assert_non_null(body->children);
    assert_ptr_equal(body->children, body->last); /* one text node */
    assert_string_equal(body->children->text, "a&b<c>d\xe2\x82\xac\ne");
    rec_free(r);
}

/* A stanza is delivered as soon as its last byte is in: nothing waits for
 * more input (expat's reparse deferral must be off). */
static void test_stanza_delivered_promptly(void **state)
{
    char *in = repeat("<message><body a='", 'x', 3000, "'>text</body></message>");
    struct rec *r = rec_new(&limits);
    feed_ok(r, C2S_HEADER);
    size_t len = strlen(in);
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(lv_xml_stream_feed(r->s, in + i, 1, NULL), 0);
        assert_int_equal(r->nstanzas, i + 1 == len ? 1 : 0);
    }
    free(in);
    rec_free(r);
}

static void test_whitespace_keepalives(void **state)
{
    const struct lv_xml_limits lim = {256, 8, 8, 8};
    struct rec *r = rec_new(&lim);
    feed_ok(r, C2S_HEADER);
    for (int i = 0; i < 100; i++)
        feed_ok(r, " \n\t ");
    feed_ok(r, "<presence/>");
    for (int i = 0; i < 100; i++)
        feed_ok(r, "\r\n");
    feed_ok(r, "<presence/>");
    assert_int_equal(r->nstanzas, 2); /* whitespace is never reported */
    rec_free(r);
}

static void test_null_callbacks(void **state)
{
    static const struct lv_xml_stream_cbs none = {NULL, NULL, NULL};
    struct lv_xml_stream *s = lv_xml_stream_new(&limits, &none, NULL);
    assert_int_equal(lv_xml_stream_feed(s, c2s, sizeof(c2s) - 1, NULL), 0);
    lv_xml_stream_free(s);
    s = lv_xml_stream_new(&limits, NULL, NULL);
    assert_int_equal(feed_chunks(s, c2s, sizeof(c2s) - 1, 3, NULL, NULL), 0);
    assert_int_equal(lv_xml_stream_finish(s, NULL), 0);
    lv_xml_stream_free(s);
    lv_xml_stream_free(NULL);
}

static void test_finish(void **state)
{
    struct rec *r = rec_new(&limits);
    feed_ok(r, C2S_HEADER "<presence/>");
    struct lv_error err = {0};
    int rc = lv_xml_stream_finish(r->s, &err);
    expect_error(rc, &err, LV_ERR_INVAL, "not-well-formed", "1:");
    rec_free(r);
}

/* ---- limits ---- */

/* The 1 MB body is refused while feeding: once more than the limit has
 * been fed since the stanza began, nothing more goes to expat. */
static void test_oversized_stanza_refused_early(void **state)
{
    const struct lv_xml_limits lim = {65536, 16, 16, 64};
    const size_t chunk = 4096;
    char *big = repeat("<message to='a@b'><body>", 'a', 1024 * 1024, "</body></message>");
    struct rec *r = rec_new(&lim);
    feed_ok(r, C2S_HEADER);
    struct lv_error err = {0};
    size_t fed = 0;
    int rc = feed_chunks(r->s, big, strlen(big), chunk, &err, &fed);
    expect_error(rc, &err, LV_ERR_LIMIT, "policy-violation", "max_stanza_bytes");
    /* Refused by the very feed call that crossed the limit. */
    assert_true(fed > lim.max_stanza_bytes);
    assert_true(fed - chunk <= lim.max_stanza_bytes);
    assert_int_equal(r->nstanzas, 0);
    free(big);
    rec_free(r);
}

static void test_exact_stanza_limit(void **state)
{
    const struct lv_xml_limits lim = {100, 8, 8, 8};
    char *fits = repeat("<message>", 'x', 100 - 19, "</message>"); /* 100 bytes */
    char *over = repeat("<message>", 'x', 101 - 19, "</message>"); /* 101 bytes */
    assert_int_equal(strlen(fits), 100);
    struct rec *r = rec_new(&lim);
    feed_ok(r, SHORT_HEADER);
    feed_ok(r, fits);
    feed_ok(r, fits); /* the allowance restarts after each stanza */
    assert_int_equal(r->nstanzas, 2);
    struct lv_error err = {0};
    int rc = lv_xml_stream_feed(r->s, over, strlen(over), &err);
    expect_error(rc, &err, LV_ERR_LIMIT, "policy-violation", "stanza exceeds max_stanza_bytes");
    assert_int_equal(r->nstanzas, 2);
    free(fits);
    free(over);
    rec_free(r);
}

struct endless_case {
    const char *head; /* then 'x' forever */
    const char *msg;
};

static const struct endless_case endless_cases[] = {
    {C2S_HEADER "<message to='", "stanza exceeds max_stanza_bytes"}, /* huge attribute */
    {C2S_HEADER "<message ", "stanza exceeds max_stanza_bytes"},     /* endless name */
    {C2S_HEADER "<mess", "stanza exceeds max_stanza_bytes"},         /* endless tag name */
    {C2S_HEADER "<message><body>", "stanza exceeds max_stanza_bytes"},
    {"<stream:stream xmlns='jabber:client' to='", "stream header exceeds max_stanza_bytes"},
};

/* Whatever never ends is cut at the limit: at most limit + one chunk fed. */
static void test_endless_input(void **state)
{
    const struct lv_xml_limits lim = {8192, 16, 16, 64};
    const size_t chunk = 1000;
    char *xs = repeat("", 'x', chunk, "");
    for (size_t i = 0; i < sizeof(endless_cases) / sizeof(endless_cases[0]); i++) {
        struct rec *r = rec_new(&lim);
        struct lv_error err = {0};
        const char *head = endless_cases[i].head;
        size_t fed = strlen(head);
        int rc = lv_xml_stream_feed(r->s, head, fed, &err);
        for (int n = 0; rc == 0 && n < 10000; n++) {
            rc = lv_xml_stream_feed(r->s, xs, chunk, &err);
            fed += chunk;
        }
        expect_error(rc, &err, LV_ERR_LIMIT, "policy-violation", endless_cases[i].msg);
        assert_true(fed <= strlen(C2S_HEADER) + lim.max_stanza_bytes + chunk);
        rec_free(r);
    }
    free(xs);
}

struct limit_case {
    const char *stanza;
    const char *msg; /* NULL: accepted */
};

static const struct limit_case limit_cases[] = {
    {"<a><b><c/></b></a>", NULL},
    {"<a><b><c><d/></c></b></a>", "max_depth (3)"},
    {"<a x='1' y='2' z='3'/>", NULL},
    {"<a x='1' y='2' z='3' w='4'/>", "max_attrs (3)"},
    {"<a><b x='1' y='2' z='3' w='4'/></a>", "max_attrs (3)"},
    {"<a><b/><b/><b/><b/></a>", NULL},
    {"<a><b/><b/><b/><b/><b/></a>", "max_children (4)"},
    {"<a>t<b/>t<b/>t</a>", "max_children (4)"},
    {"<a><b>1<c/>2<c/>3</b></a>", "max_children (4)"},
};

static void test_stanza_limits(void **state)
{
    const struct lv_xml_limits lim = {4096, 3, 3, 4};
    for (size_t i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
        struct rec *r = rec_new(&lim);
        feed_ok(r, C2S_HEADER);
        struct lv_error err = {0};
        const char *in = limit_cases[i].stanza;
        int rc = lv_xml_stream_feed(r->s, in, strlen(in), &err);
        if (!limit_cases[i].msg) {
            assert_int_equal(rc, 0);
            assert_int_equal(r->nstanzas, 1);
        } else {
            expect_error(rc, &err, LV_ERR_LIMIT, "policy-violation", limit_cases[i].msg);
            assert_int_equal(r->nstanzas, 0);
        }
        rec_free(r);
    }
}

static void test_root_attr_limit(void **state)
{
    const struct lv_xml_limits lim = {4096, 3, 2, 4};
    struct rec *r = rec_new(&lim);
    struct lv_error err = {0};
    int rc = lv_xml_stream_feed(r->s, C2S_HEADER, strlen(C2S_HEADER), &err);
    expect_error(rc, &err, LV_ERR_LIMIT, "policy-violation", "max_attrs");
    assert_int_equal(r->nopen, 0);
    rec_free(r);
}

static void test_set_limits(void **state)
{
    const struct lv_xml_limits tight = {200, 2, 3, 2};
    char *big = repeat("<message><body>", 'x', 500, "</body></message>");
    struct rec *r = rec_new(&tight);
    feed_ok(r, C2S_HEADER "<auth/>");
    lv_xml_stream_set_limits(r->s, &limits); /* e.g. after authentication */
    feed_ok(r, big);
    feed_ok(r, "<a><b><c><d/></c></b></a>");
    assert_int_equal(r->nstanzas, 3);
    lv_xml_stream_set_limits(r->s, &tight);
    struct lv_error err = {0};
    int rc = lv_xml_stream_feed(r->s, big, strlen(big), &err);
    expect_error(rc, &err, LV_ERR_LIMIT, "policy-violation", "max_stanza_bytes");
    free(big);
    rec_free(r);
}

/* ---- malformed input ---- */

struct bad_case {
    const char *in;
    const char *cond;
    const char *msg;
};

static const struct bad_case bad_cases[] = {
    {C2S_HEADER "<message><body></message>", "not-well-formed", "mismatched tag"},
    {C2S_HEADER "<message><x:y/></message>", "not-well-formed", "unbound prefix"},
    {C2S_HEADER "<message>&bogus;</message>", "not-well-formed", "undefined entity"},
    {C2S_HEADER "<message>\x01</message>", "not-well-formed", "1:"},
    {C2S_HEADER "<message>\xc3</message>", "not-well-formed", "1:"},
    {C2S_HEADER "</stream:stream><message/>", "not-well-formed", "junk after document"},
    {"<a></b>", "not-well-formed", "1:6: mismatched tag"},
    {C2S_HEADER "<!-- hello -->", "restricted-xml", "comments"},
    {C2S_HEADER "<message><!-- hello --></message>", "restricted-xml", "comments"},
    {C2S_HEADER "<?pi data?>", "restricted-xml", "processing instructions"},
    {"<?xml version='1.0'?><?pi data?>" C2S_HEADER, "restricted-xml", "processing instructions"},
    {"<!DOCTYPE stream:stream [<!ENTITY x 'y'>]>" C2S_HEADER, "restricted-xml", "DTD"},
    {"<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream/>", "unsupported-encoding",
     "ISO-8859-1"},
    {"\xff\xfe<\0", "unsupported-encoding", "UTF-16"},
};

static void check_bad(const struct bad_case *c, size_t chunk)
{
    struct rec *r = rec_new(&limits);
    struct lv_error err = {0};
    size_t len = strlen(c->in);
    if (c->in[0] == '\xff')
        len = 4;
    int rc = feed_chunks(r->s, c->in, len, chunk, &err, NULL);
    if (rc != LV_ERR_INVAL || strcmp(err.cond, c->cond) != 0 || !strstr(err.msg, c->msg))
        fail_msg("%s (chunk %zu): rc %d %s %s", c->in, chunk, rc, err.cond, err.msg);
    rec_free(r);
}

static void test_malformed(void **state)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        check_bad(&bad_cases[i], 4096);
        check_bad(&bad_cases[i], 1);
    }
}

static void test_errors_sticky_until_reset(void **state)
{
    struct rec *r = rec_new(&limits);
    struct lv_error err = {0};
    int rc = lv_xml_stream_feed(r->s, C2S_HEADER "<a></b>", strlen(C2S_HEADER) + 7, &err);
    expect_error(rc, &err, LV_ERR_INVAL, "not-well-formed", "mismatched tag");
    struct lv_error again = {0};
    assert_int_equal(lv_xml_stream_feed(r->s, "<presence/>", 11, &again), LV_ERR_INVAL);
    assert_string_equal(again.cond, err.cond);
    assert_string_equal(again.msg, err.msg);
    assert_int_equal(lv_xml_stream_feed(r->s, "", 0, NULL), LV_ERR_INVAL);
    assert_int_equal(lv_xml_stream_finish(r->s, NULL), LV_ERR_INVAL);
    assert_int_equal(r->nstanzas, 0);

    lv_xml_stream_reset(r->s);
    lv_buf_reset(&r->log);
    feed_ok(r, c2s);
    assert_string_equal(log_of(r), c2s_log);
    rec_free(r);
}

static void test_limit_error_sticky_until_reset(void **state)
{
    const struct lv_xml_limits lim = {128, 8, 8, 8};
    char *big = repeat("<message>", 'x', 200, "</message>");
    struct rec *r = rec_new(&lim);
    feed_ok(r, SHORT_HEADER);
    struct lv_error err = {0};
    assert_int_equal(lv_xml_stream_feed(r->s, big, strlen(big), &err), LV_ERR_LIMIT);
    assert_int_equal(lv_xml_stream_feed(r->s, "</message>", 10, &err), LV_ERR_LIMIT);
    assert_string_equal(err.cond, "policy-violation");
    lv_xml_stream_reset(r->s);
    feed_ok(r, SHORT_HEADER "<presence/>");
    assert_int_equal(r->nopen, 2);
    assert_int_equal(r->nstanzas, 1);
    free(big);
    rec_free(r);
}

/* ---- stop and reset (stream restarts after STARTTLS / SASL) ---- */

static void test_stop_and_reset_mid_chunk(void **state)
{
    static const char first[] = C2S_HEADER "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
                                           "\x16\x03\x01 TLS bytes, not XML <<<";
    struct rec *r = rec_new(&limits);
    r->stop_on = "proceed";
    struct lv_error err = {0};
    assert_int_equal(lv_xml_stream_feed(r->s, first, sizeof(first) - 1, &err), 0);
    assert_int_equal(r->nstanzas, 1);
    assert_true(lv_xml_is(r->kept[0], "proceed", NS_TLS));
    /* Feeding without the reset is a caller bug, reported as such. */
    assert_int_equal(lv_xml_stream_feed(r->s, "<x/>", 4, &err), LV_ERR_INVAL);

    lv_xml_stream_reset(r->s);
    r->stop_on = NULL;
    lv_buf_reset(&r->log);
    assert_int_equal(feed_chunks(r->s, c2s, sizeof(c2s) - 1, 5, &err, NULL), 0);
    assert_string_equal(log_of(r), c2s_log);
    rec_free(r);
}

static void test_stop_byte_by_byte(void **state)
{
    /* Stopping inside a stanza that is part of a larger chunk and then
     * resetting mid-stanza must not leak the partial tree. */
    struct rec *r = rec_new(&limits);
    r->stop_on = "success";
    static const char in[] = C2S_HEADER "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
                                        "<message><body>partial";
    assert_int_equal(lv_xml_stream_feed(r->s, in, sizeof(in) - 1, NULL), 0);
    assert_int_equal(r->nstanzas, 1);
    lv_xml_stream_reset(r->s);
    r->stop_on = NULL;
    feed_ok(r, C2S_HEADER "<message><body>partial");
    lv_xml_stream_reset(r->s); /* drops the partial stanza */
    feed_ok(r, C2S_HEADER "<presence/>");
    assert_int_equal(r->nstanzas, 2);
    assert_int_equal(r->nopen, 3);
    rec_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c2s_any_chunking),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_component_stream),
        cmocka_unit_test(test_text_merged_across_chunks),
        cmocka_unit_test(test_stanza_delivered_promptly),
        cmocka_unit_test(test_whitespace_keepalives),
        cmocka_unit_test(test_null_callbacks),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_oversized_stanza_refused_early),
        cmocka_unit_test(test_exact_stanza_limit),
        cmocka_unit_test(test_endless_input),
        cmocka_unit_test(test_stanza_limits),
        cmocka_unit_test(test_root_attr_limit),
        cmocka_unit_test(test_set_limits),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_errors_sticky_until_reset),
        cmocka_unit_test(test_limit_error_sticky_until_reset),
        cmocka_unit_test(test_stop_and_reset_mid_chunk),
        cmocka_unit_test(test_stop_byte_by_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
