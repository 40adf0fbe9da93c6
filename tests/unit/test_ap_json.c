/* Unit tests for lv_ap_json: peers' activities (Mastodon, Fedify's compacted
 * JSON-LD, snac) parsed tolerantly and within limits, activities built for
 * peers, Notes <-> XEP-0277 post data (and on to Atom entries).
 *
 * Fixtures are written in a JSON with single quotes for readability: J()
 * turns every ' into ", so a double quote inside a JSON string (HTML
 * attributes) is written \\' here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ap/lv_ap_json.h"
#include "blog/lv_mb.h"
#include "blog/lv_syntax.h"
#include "core/lv_buf.h"
#include "core/lv_mem.h"

#define XDIV "<div xmlns='http://www.w3.org/1999/xhtml'>"
#define XDIV_J "<div xmlns=\\'http://www.w3.org/1999/xhtml\\'>" /* inside J() */
#define GW_LOUISE "https://gw.ap.test/_ap/actor/louise%40xmpp.test"

/* ---- helpers ---- */

static char *J(const char *s)
{
    char *d = lv_xstrdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

static void expect_str(const char *row, const char *what, const char *got, const char *want)
{
    if (!got && !want)
        return;
    if (!got || !want || strcmp(got, want) != 0)
        fail_msg("[%s] %s:\n got  \"%s\"\n want \"%s\"", row, what, got ? got : "(null)",
                 want ? want : "(null)");
}

static void expect_has(const char *row, const char *what, const char *got, const char *part)
{
    if (!got || !strstr(got, part))
        fail_msg("[%s] %s:\n \"%s\"\n does not contain \"%s\"", row, what, got ? got : "(null)",
                 part);
}

static const char *sget(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* A list of strings as "a|b|c" (caller frees), to compare arrays in one go. */
static char *joined(const json_t *list)
{
    struct lv_buf b = LV_BUF_INIT;
    size_t i;
    json_t *v;
    if (!json_is_array(list))
        return lv_xstrdup("(not an array)");
    json_array_foreach(list, i, v)
    {
        if (i)
            lv_buf_addc(&b, '|');
        lv_buf_adds(&b, json_is_string(v) ? json_string_value(v) : "(not a string)");
    }
    return lv_buf_detach(&b);
}

static void expect_list(const char *row, const char *what, const json_t *list, const char *want)
{
    char *got = joined(list);
    expect_str(row, what, got, want);
    free(got);
}

static void parse_ok(const char *row, const char *json, struct lv_ap_activity *a)
{
    char *doc = J(json);
    struct lv_error err = {0};
    int rc = lv_ap_activity_parse(doc, strlen(doc), NULL, a, &err);
    if (rc != 0)
        fail_msg("[%s] parse failed (%d): %s", row, rc, err.msg);
    free(doc);
}

static json_t *load(const char *json)
{
    char *doc = J(json);
    json_error_t je;
    json_t *v = json_loads(doc, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("fixture is not JSON: %s (line %d)\n%s", je.text, je.line, doc);
    free(doc);
    return v;
}

static json_t *mb_ok(const char *row, const json_t *note)
{
    json_t *mb = NULL;
    struct lv_error err = {0};
    int rc = lv_ap_mb_from_note(note, "alice\\40mastodon.example@gw.ap.test", "Alice", &mb, &err);
    if (rc != 0 || !mb)
        fail_msg("[%s] lv_ap_mb_from_note failed (%d): %s", row, rc, err.msg);
    return mb;
}

static int64_t epoch_of(const char *date)
{
    int64_t t = 0;
    assert_int_equal(lv_mb_parse_date(date, &t), 0);
    return t;
}

/* ---- fixtures ---- */

/* Mastodon 4: a public post mentioning a gateway account, with a hashtag,
 * an image, contentMap, and the LD signature it adds to public posts. */
static const char mastodon_create[] =
    "{'@context': ['https://www.w3.org/ns/activitystreams',"
    "  {'ostatus': 'http://ostatus.org#', 'atomUri': 'ostatus:atomUri',"
    "   'sensitive': 'as:sensitive', 'toot': 'http://joinmastodon.org/ns#',"
    "   'Hashtag': 'as:Hashtag', 'blurhash': 'toot:blurhash'}],"
    " 'id': 'https://mastodon.example/users/alice/statuses/1100/activity',"
    " 'type': 'Create',"
    " 'actor': 'https://mastodon.example/users/alice',"
    " 'published': '2026-11-25T17:22:11Z',"
    " 'to': ['https://www.w3.org/ns/activitystreams#Public'],"
    " 'cc': ['https://mastodon.example/users/alice/followers', '" GW_LOUISE "'],"
    " 'object': {"
    "  'id': 'https://mastodon.example/users/alice/statuses/1100',"
    "  'type': 'Note', 'summary': null, 'inReplyTo': null,"
    "  'published': '2026-11-25T17:22:11Z',"
    "  'url': 'https://mastodon.example/@alice/1100',"
    "  'attributedTo': 'https://mastodon.example/users/alice',"
    "  'to': ['https://www.w3.org/ns/activitystreams#Public'],"
    "  'cc': ['https://mastodon.example/users/alice/followers', '" GW_LOUISE "'],"
    "  'sensitive': false,"
    "  'atomUri': 'https://mastodon.example/users/alice/statuses/1100',"
    "  'conversation': 'tag:mastodon.example,2026-11-25:objectId=1:objectType=Conversation',"
    "  'content': '<p>Hello <span class=\\'h-card\\' translate=\\'no\\'><a href=\\'" GW_LOUISE
    "\\' class=\\'u-url mention\\'>@<span>louise</span></a></span>, see <a "
    "href=\\'https://mastodon.example/tags/Libervia\\' class=\\'mention hashtag\\' "
    "rel=\\'tag\\'>#<span>Libervia</span></a></p><p>Second &amp; last</p>',"
    "  'contentMap': {'en': '<p>Hello <span class=\\'h-card\\' translate=\\'no\\'><a "
    "href=\\'" GW_LOUISE "\\' class=\\'u-url mention\\'>@<span>louise</span></a></span>, see <a "
    "href=\\'https://mastodon.example/tags/Libervia\\' class=\\'mention hashtag\\' "
    "rel=\\'tag\\'>#<span>Libervia</span></a></p><p>Second &amp; last</p>'},"
    "  'attachment': [{'type': 'Document', 'mediaType': 'image/png',"
    "    'url': 'https://files.mastodon.example/media/1.png', 'name': 'A cat',"
    "    'blurhash': 'UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH', 'width': 640, 'height': 480}],"
    "  'tag': [{'type': 'Mention', 'href': '" GW_LOUISE
    "', 'name': '@louise_xmpp.test@gw.ap.test'},"
    "          {'type': 'Hashtag', 'href': 'https://mastodon.example/tags/libervia',"
    "           'name': '#libervia'}],"
    "  'replies': {'id': 'https://mastodon.example/users/alice/statuses/1100/replies',"
    "    'type': 'Collection', 'first': {'type': 'CollectionPage', 'next':"
    "    'https://mastodon.example/users/alice/statuses/1100/replies?page=true',"
    "    'partOf': 'https://mastodon.example/users/alice/statuses/1100/replies', 'items': []}}},"
    " 'signature': {'type': 'RsaSignature2017',"
    "  'creator': 'https://mastodon.example/users/alice#main-key',"
    "  'created': '2026-11-25T17:22:12Z', 'signatureValue': 'aGVsbG8gd29ybGQ='}}";

/* Fedify 1.x: compacted JSON-LD. Single values are scalars (to, cc, tag,
 * attachment), @context mixes strings and an object, there are an LD
 * signature and a Data Integrity proof, and the language is only in
 * contentMap. */
static const char fedify_create[] =
    "{'@context': ['https://www.w3.org/ns/activitystreams',"
    "  'https://w3id.org/security/data-integrity/v1',"
    "  {'toot': 'http://joinmastodon.org/ns#', 'Emoji': 'toot:Emoji',"
    "   'Hashtag': 'as:Hashtag', 'sensitive': 'as:sensitive'}],"
    " 'type': 'Create',"
    " 'id': 'https://fedify.ap.test/users/demo/posts/01937a4e/create',"
    " 'actor': 'https://fedify.ap.test/users/demo',"
    " 'object': {'type': 'Note',"
    "  'id': 'https://fedify.ap.test/users/demo/posts/01937a4e',"
    "  'attributedTo': 'https://fedify.ap.test/users/demo',"
    "  'contentMap': {'fr': '<p>Bonjour depuis Fedify <a "
    "href=\\'https://fedify.ap.test/tags/fedify\\'>#fedify</a></p>'},"
    "  'mediaType': 'text/html',"
    "  'published': '2026-11-25T17:22:11.482Z',"
    "  'updated': '2026-11-25T18:00:00+01:00',"
    "  'to': 'as:Public',"
    "  'cc': 'https://fedify.ap.test/users/demo/followers',"
    "  'tag': {'type': 'Hashtag', 'href': 'https://fedify.ap.test/tags/fedify', 'name': '#fedify'},"
    "  'attachment': {'type': 'Image', 'mediaType': 'image/jpeg', 'name': 'A tree',"
    "    'url': {'type': 'Link', 'href': 'https://fedify.ap.test/media/tree.jpg',"
    "            'mediaType': 'image/jpeg'}}},"
    " 'to': 'as:Public',"
    " 'cc': 'https://fedify.ap.test/users/demo/followers',"
    " 'signature': {'type': 'RsaSignature2017',"
    "  'creator': 'https://fedify.ap.test/users/demo#main-key',"
    "  'created': '2026-11-25T17:22:11Z', 'signatureValue': 'c2lnbmF0dXJl'},"
    " 'proof': {'type': 'DataIntegrityProof', 'cryptosuite': 'eddsa-jcs-2022',"
    "  'verificationMethod': 'https://fedify.ap.test/users/demo#key-2',"
    "  'proofPurpose': 'assertionMethod', 'proofValue': 'z3FXQjecWufY46',"
    "  'created': '2026-11-25T17:22:11Z'}}";

/* A Fedify direct message: to one actor, a single Mention tag, no cc. */
static const char fedify_dm[] =
    "{'@context': ['https://www.w3.org/ns/activitystreams',"
    "  'https://w3id.org/security/data-integrity/v1'],"
    " 'type': 'Create', 'id': 'https://fedify.ap.test/users/demo/posts/01937a50/create',"
    " 'actor': {'id': 'https://fedify.ap.test/users/demo', 'type': 'Person'},"
    " 'to': '" GW_LOUISE "',"
    " 'object': {'type': 'Note', 'id': 'https://fedify.ap.test/users/demo/posts/01937a50',"
    "  'attributedTo': 'https://fedify.ap.test/users/demo',"
    "  'content': '<p><a href=\\'" GW_LOUISE "\\' class=\\'mention u-url\\'>"
    "@louise_xmpp.test@gw.ap.test</a> just for you</p>',"
    "  'to': '" GW_LOUISE "',"
    "  'tag': {'type': 'Mention', 'href': '" GW_LOUISE "', 'name': '@louise_xmpp.test@gw.ap.test'},"
    "  'published': '2026-11-25T17:30:00Z'}}";

/* snac 2.9x: public posts to Public only with an empty cc, <br> text, and
 * its extra Note fields. */
static const char snac_create[] =
    "{'@context': 'https://www.w3.org/ns/activitystreams',"
    " 'type': 'Create',"
    " 'id': 'https://snac.ap.test/bob/p/1764091331.118272/Create',"
    " 'actor': 'https://snac.ap.test/bob',"
    " 'published': '2026-11-25T17:22:11Z',"
    " 'to': ['https://www.w3.org/ns/activitystreams#Public'], 'cc': [],"
    " 'object': {'id': 'https://snac.ap.test/bob/p/1764091331.118272',"
    "  'type': 'Note', 'attributedTo': 'https://snac.ap.test/bob',"
    "  'published': '2026-11-25T17:22:11Z',"
    "  'content': 'First line<br>second line <a href=\\'https://snac.ap.test/?t=snac\\' "
    "class=\\'mention hashtag\\' rel=\\'tag\\'>#snac</a><br>',"
    "  'sourceContent': 'First line\\nsecond line #snac',"
    "  'context': 'https://snac.ap.test/bob/p/1764091331.118272#ctxt',"
    "  'inReplyTo': null,"
    "  'replies': {'id': 'https://snac.ap.test/bob/p/1764091331.118272/replies',"
    "   'type': 'OrderedCollection', 'totalItems': 0, 'orderedItems': []},"
    "  'to': ['https://www.w3.org/ns/activitystreams#Public'], 'cc': [],"
    "  'tag': [{'type': 'Hashtag', 'name': '#snac', 'href': 'https://snac.ap.test/?t=snac'}],"
    "  'attachment': []}}";

/* ---- parsing activities ---- */

static void test_parse_mastodon(void **state)
{
    (void)state;
    struct lv_ap_activity a;
    parse_ok("mastodon", mastodon_create, &a);
    expect_str("mastodon", "id", a.id,
               "https://mastodon.example/users/alice/statuses/1100/activity");
    expect_str("mastodon", "type", a.type, "Create");
    expect_str("mastodon", "actor", a.actor, "https://mastodon.example/users/alice");
    assert_true(json_is_object(a.object));
    expect_str("mastodon", "object id", a.object_id,
               "https://mastodon.example/users/alice/statuses/1100");
    expect_str("mastodon", "object type", a.object_type, "Note");
    /* The object repeats the activity's addressing: merged, once each. */
    expect_list("mastodon", "to", a.to, LV_AP_PUBLIC);
    expect_list("mastodon", "cc", a.cc,
                "https://mastodon.example/users/alice/followers|" GW_LOUISE);
    expect_list("mastodon", "bcc", a.bcc, "");
    expect_list("mastodon", "audience", a.audience, "");
    assert_true(a.is_public);
    /* Borrowed strings point into the document. */
    assert_ptr_equal(a.object, json_object_get(a.doc, "object"));
    lv_ap_activity_release(&a);
    lv_ap_activity_release(&a); /* released twice: harmless */
}

static void test_parse_fedify(void **state)
{
    (void)state;
    struct lv_ap_activity a;
    parse_ok("fedify", fedify_create, &a);
    expect_str("fedify", "id", a.id, "https://fedify.ap.test/users/demo/posts/01937a4e/create");
    expect_str("fedify", "actor", a.actor, "https://fedify.ap.test/users/demo");
    expect_str("fedify", "object type", a.object_type, "Note");
    expect_list("fedify", "to (a scalar)", a.to, "as:Public");
    expect_list("fedify", "cc (a scalar)", a.cc, "https://fedify.ap.test/users/demo/followers");
    assert_true(a.is_public);
    lv_ap_activity_release(&a);

    parse_ok("fedify dm", fedify_dm, &a);
    expect_str("fedify dm", "actor from an object", a.actor, "https://fedify.ap.test/users/demo");
    expect_list("fedify dm", "to", a.to, GW_LOUISE);
    expect_list("fedify dm", "cc", a.cc, "");
    assert_false(a.is_public);
    lv_ap_activity_release(&a);
}

static void test_parse_snac(void **state)
{
    (void)state;
    struct lv_ap_activity a;
    parse_ok("snac", snac_create, &a);
    expect_str("snac", "type", a.type, "Create");
    expect_list("snac", "to", a.to, LV_AP_PUBLIC);
    expect_list("snac", "cc (empty, no followers collection)", a.cc, "");
    assert_true(a.is_public);
    lv_ap_activity_release(&a);
}

/* Activities other than Create: objects given by URL, embedded Follows,
 * multi-valued type, actor as a one-element array. */
static void test_parse_shapes(void **state)
{
    (void)state;
    struct lv_ap_activity a;
    parse_ok("follow",
             "{'id': 'https://m.example/f/1', 'type': 'Follow', 'actor': 'https://m.example/u/a',"
             " 'object': '" GW_LOUISE "'}",
             &a);
    expect_str("follow", "object id", a.object_id, GW_LOUISE);
    assert_null(a.object_type);
    assert_true(json_is_string(a.object));
    expect_list("follow", "to (none)", a.to, "");
    assert_false(a.is_public);
    lv_ap_activity_release(&a);

    parse_ok("undo",
             "{'id': 'https://m.example/u/1', 'type': ['Undo', 'Extra'], "
             " 'actor': ['https://m.example/u/a'],"
             " 'object': {'id': 'https://m.example/f/1', 'type': 'Follow',"
             "  'actor': 'https://m.example/u/a', 'object': '" GW_LOUISE "'}}",
             &a);
    expect_str("undo", "type (first of an array)", a.type, "Undo");
    expect_str("undo", "actor (one-element array)", a.actor, "https://m.example/u/a");
    expect_str("undo", "object type", a.object_type, "Follow");
    expect_str("undo", "object id", a.object_id, "https://m.example/f/1");
    lv_ap_activity_release(&a);

    parse_ok("delete without object",
             "{'id': 'http://m.example/d/1', 'type': 'Delete', 'actor': 'https://m.example/u/a',"
             " 'object': null, 'to': [42, {'no': 'id'}, {'id': 'https://x.example/c'}, '']}",
             &a);
    assert_null(a.object);
    assert_null(a.object_id);
    expect_list("delete", "to (objects give their id, the rest is dropped)", a.to,
                "https://x.example/c");
    lv_ap_activity_release(&a);
}

struct public_case {
    const char *name;
    const char *json;
    bool is_public;
};

static const struct public_case public_cases[] = {
    {"full URI in cc", "'cc': ['https://www.w3.org/ns/activitystreams#Public']", true},
    {"as:Public in bto", "'bto': 'as:Public'", true},
    {"Public in audience", "'audience': ['Public']", true},
    {"as an object", "'to': {'id': 'https://www.w3.org/ns/activitystreams#Public'}", true},
    {"only on the embedded object",
     "'object': {'id': 'https://m.example/n/1', 'type': 'Note', 'to': 'Public'}", true},
    {"followers only", "'to': ['https://m.example/u/a/followers']", false},
    {"lookalikes",
     "'to': ['https://www.w3.org/ns/activitystreams#public', 'public', 'as:public',"
     " 'https://www.w3.org/ns/activitystreams']",
     false},
    {"public as the object, not a recipient",
     "'object': 'https://www.w3.org/ns/activitystreams#Public'", false},
};

static void test_public_detection(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(public_cases); i++) {
        const struct public_case *c = &public_cases[i];
        char *doc = lv_xasprintf("{'id': 'https://m.example/a/1', 'type': 'Create',"
                                 " 'actor': 'https://m.example/u/a', %s}",
                                 c->json);
        struct lv_ap_activity a;
        parse_ok(c->name, doc, &a);
        if (a.is_public != c->is_public)
            fail_msg("[%s] is_public is %d", c->name, a.is_public);
        lv_ap_activity_release(&a);
        free(doc);
    }
}

struct error_case {
    const char *name;
    const char *json; /* single-quoted JSON */
    struct lv_ap_limits lim;
    int code;
    const char *msg; /* part of the message */
};

#define ACT_HEAD "'id': 'https://m.example/a/1', 'type': 'Like', 'actor': 'https://m.example/u/a'"

static const struct error_case error_cases[] = {
    {"empty", "", {0}, LV_ERR_INVAL, "invalid JSON at line 1"},
    {"not JSON", "{'id': ", {0}, LV_ERR_INVAL, "invalid JSON"},
    {"trailing garbage", "{" ACT_HEAD "} x", {0}, LV_ERR_INVAL, "invalid JSON"},
    {"array", "[{" ACT_HEAD "}]", {0}, LV_ERR_INVAL, "not a JSON object"},
    {"string", "'Create'", {0}, LV_ERR_INVAL, "not a JSON object"},
    {"number", "42", {0}, LV_ERR_INVAL, "not a JSON object"},
    {"duplicate keys",
     "{" ACT_HEAD ", 'actor': 'https://evil.example/u/b'}",
     {0},
     LV_ERR_INVAL,
     "invalid JSON"},
    {"no id",
     "{'type': 'Like', 'actor': 'https://m.example/u/a'}",
     {0},
     LV_ERR_INVAL,
     "without an id"},
    {"empty id",
     "{'id': '', 'type': 'Like', 'actor': 'https://m.example/u/a'}",
     {0},
     LV_ERR_INVAL,
     "without an id"},
    {"id not a string",
     "{'id': 7, 'type': 'Like', 'actor': 'https://m.example/u/a'}",
     {0},
     LV_ERR_INVAL,
     "without an id"},
    {"id not http",
     "{'id': 'urn:uuid:1', 'type': 'Like', 'actor': 'https://m.example/u/a'}",
     {0},
     LV_ERR_INVAL,
     "not an http(s) URL"},
    {"id scheme only",
     "{'id': 'https://', 'type': 'Like', 'actor': 'https://m.example/u/a'}",
     {0},
     LV_ERR_INVAL,
     "not an http(s) URL"},
    {"no type",
     "{'id': 'https://m.example/a/1', 'actor': 'https://m.example/u/a'}",
     {0},
     LV_ERR_INVAL,
     "without a type"},
    {"type without string",
     "{'id': 'https://m.example/a/1', 'type': [1, null], 'actor': 'https://m.example/u/a'}",
     {0},
     LV_ERR_INVAL,
     "without a type"},
    {"no actor",
     "{'id': 'https://m.example/a/1', 'type': 'Like'}",
     {0},
     LV_ERR_INVAL,
     "without an actor"},
    {"null actor",
     "{'id': 'https://m.example/a/1', 'type': 'Like', 'actor': null}",
     {0},
     LV_ERR_INVAL,
     "without an actor"},
    {"empty actor array",
     "{'id': 'https://m.example/a/1', 'type': 'Like', 'actor': []}",
     {0},
     LV_ERR_INVAL,
     "without an actor"},
    {"actor object without id",
     "{'id': 'https://m.example/a/1', 'type': 'Like', 'actor': {'type': 'Person'}}",
     {0},
     LV_ERR_INVAL,
     "actor without an id"},
    {"actor number",
     "{'id': 'https://m.example/a/1', 'type': 'Like', 'actor': 3}",
     {0},
     LV_ERR_INVAL,
     "actor without an id"},
    {"several actors",
     "{'id': 'https://m.example/a/1', 'type': 'Like', 'actor': ['https://a.example/u/a',"
     " 'https://b.example/u/b']}",
     {0},
     LV_ERR_INVAL,
     "several actors"},
    {"body size",
     "{" ACT_HEAD ", 'content': 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'}",
     {.max_body = 100},
     LV_ERR_LIMIT,
     "bytes"},
    {"depth",
     "{" ACT_HEAD ", 'object': {'a': [[['deep']]]}}",
     {.max_depth = 4},
     LV_ERR_LIMIT,
     "deeper than 4"},
    {"values",
     "{" ACT_HEAD ", 'to': ['a', 'b', 'c', 'd', 'e', 'f']}",
     {.max_values = 8},
     LV_ERR_LIMIT,
     "values"},
    {"recipients, activity and object together",
     "{" ACT_HEAD ", 'to': ['https://x/1', 'https://x/2'], 'cc': 'https://x/3',"
     " 'object': {'id': 'https://m.example/n/1', 'bcc': ['https://x/4'],"
     "  'audience': 'https://x/5'}}",
     {.max_recipients = 4},
     LV_ERR_LIMIT,
     "5 recipients"},
    {"recipients, duplicates count too",
     "{" ACT_HEAD ", 'to': ['https://x/1', 'https://x/1']}",
     {.max_recipients = 1},
     LV_ERR_LIMIT,
     "recipients"},
};

static void test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(error_cases); i++) {
        const struct error_case *c = &error_cases[i];
        char *doc = J(c->json);
        struct lv_ap_activity a;
        struct lv_error err = {0};
        int rc = lv_ap_activity_parse(doc, strlen(doc), &c->lim, &a, &err);
        if (rc != c->code)
            fail_msg("[%s] got %d (%s), want %d", c->name, rc, err.msg, c->code);
        assert_int_equal(err.code, c->code);
        expect_has(c->name, "message", err.msg, c->msg);
        /* out is usable (and empty) after a failure too. */
        assert_null(a.doc);
        assert_null(a.id);
        assert_null(a.actor);
        assert_int_equal(json_array_size(a.to), 0);
        assert_false(a.is_public);
        lv_ap_activity_release(&a);
        /* Without an error struct the code is the same. */
        rc = lv_ap_activity_parse(doc, strlen(doc), &c->lim, &a, NULL);
        assert_int_equal(rc, c->code);
        lv_ap_activity_release(&a);
        free(doc);
    }
}

/* The limits apply with their defaults, and exactly at the bound. */
static void test_parse_limits_bounds(void **state)
{
    (void)state;
    char *doc = J("{" ACT_HEAD ", 'to': ['https://x/1', 'https://x/2']}");
    size_t len = strlen(doc);
    struct lv_ap_activity a;
    struct lv_ap_limits lim = {.max_body = len, .max_recipients = 2};
    assert_int_equal(lv_ap_activity_parse(doc, len, &lim, &a, NULL), 0);
    lv_ap_activity_release(&a);
    lim.max_body = len - 1;
    assert_int_equal(lv_ap_activity_parse(doc, len, &lim, &a, NULL), LV_ERR_LIMIT);
    lv_ap_activity_release(&a);
    lim = (struct lv_ap_limits){.max_recipients = 1};
    assert_int_equal(lv_ap_activity_parse(doc, len, &lim, &a, NULL), LV_ERR_LIMIT);
    lv_ap_activity_release(&a);
    free(doc);

    /* Default depth is 32: 33 nested arrays fail, 31 below the top do not. */
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "{\"id\": \"https://m.example/a/1\", \"type\": \"Like\", "
                    "\"actor\": \"https://m.example/u/a\", \"x\": ");
    for (int i = 0; i < 31; i++)
        lv_buf_addc(&b, '[');
    for (int i = 0; i < 31; i++)
        lv_buf_addc(&b, ']');
    lv_buf_addc(&b, '}');
    assert_int_equal(lv_ap_activity_parse(b.data, b.len, NULL, &a, NULL), 0);
    lv_ap_activity_release(&a);
    lv_buf_reset(&b);
    lv_buf_adds(&b, "{\"x\": ");
    for (int i = 0; i < 32; i++)
        lv_buf_addc(&b, '[');
    assert_int_equal(lv_ap_activity_parse(b.data, b.len, NULL, &a, NULL), LV_ERR_LIMIT);
    lv_ap_activity_release(&a);
    /* A NULL body is an empty one. */
    assert_int_equal(lv_ap_activity_parse(NULL, 0, NULL, &a, NULL), LV_ERR_INVAL);
    lv_ap_activity_release(&a);
    /* Bytes after the length are not read. */
    assert_int_equal(lv_ap_activity_parse("{}garbage", 2, NULL, &a, NULL), LV_ERR_INVAL);
    lv_ap_activity_release(&a);
    lv_buf_release(&b);
}

/* ---- helpers on references ---- */

static void test_refs(void **state)
{
    (void)state;
    json_t *v = load("['https://a/1', {'id': 'https://a/2', 'type': 'Person'}, {'type': 'X'},"
                     " 3, null, ['https://a/3'], 'https://a/1']");
    json_t *l = lv_ap_id_list(v);
    expect_list("array", "ids", l, "https://a/1|https://a/2");
    json_decref(l);
    l = lv_ap_id_list(json_array_get(v, 1));
    expect_list("object", "ids", l, "https://a/2");
    json_decref(l);
    l = lv_ap_id_list(json_array_get(v, 0));
    expect_list("string", "ids", l, "https://a/1");
    json_decref(l);
    l = lv_ap_id_list(NULL);
    expect_list("NULL", "ids", l, "");
    json_decref(l);
    l = lv_ap_id_list(json_array_get(v, 3));
    expect_list("number", "ids", l, "");
    json_decref(l);

    expect_str("ref", "string", lv_ap_ref_id(json_array_get(v, 0)), "https://a/1");
    expect_str("ref", "object", lv_ap_ref_id(json_array_get(v, 1)), "https://a/2");
    assert_null(lv_ap_ref_id(json_array_get(v, 2)));
    assert_null(lv_ap_ref_id(json_array_get(v, 3)));
    assert_null(lv_ap_ref_id(NULL));

    assert_true(lv_ap_has_type(json_array_get(v, 1), "Person"));
    assert_false(lv_ap_has_type(json_array_get(v, 1), "Service"));
    assert_false(lv_ap_has_type(json_array_get(v, 0), "Person"));
    assert_false(lv_ap_has_type(NULL, "Person"));
    json_t *multi = load("{'type': ['Note', 'Hashtag', 3]}");
    assert_true(lv_ap_has_type(multi, "Hashtag"));
    assert_false(lv_ap_has_type(multi, "Article"));
    json_decref(multi);
    json_decref(v);
}

/* ---- building activities ---- */

static void test_activity_new(void **state)
{
    (void)state;
    json_t *object = load("{'id': 'https://gw.ap.test/f/1', 'type': 'Follow'}");
    json_t *to = load("['https://m.example/u/a']");
    json_t *a = lv_ap_activity_new("https://gw.ap.test/a/1", "Accept", GW_LOUISE, object, to, NULL);
    char *s = json_dumps(json_object_get(a, "@context"), JSON_COMPACT);
    expect_str("new", "@context", s,
               "[\"https://www.w3.org/ns/activitystreams\",\"https://w3id.org/security/v1\"]");
    free(s);
    expect_str("new", "id", sget(a, "id"), "https://gw.ap.test/a/1");
    expect_str("new", "type", sget(a, "type"), "Accept");
    expect_str("new", "actor", sget(a, "actor"), GW_LOUISE);
    assert_ptr_equal(json_object_get(a, "object"), object); /* embedded, incref'd */
    expect_list("new", "to", json_object_get(a, "to"), "https://m.example/u/a");
    assert_null(json_object_get(a, "cc"));
    /* to was copied: changing ours does not change the activity. */
    json_array_append_new(to, json_string("https://x/2"));
    expect_list("new", "to after", json_object_get(a, "to"), "https://m.example/u/a");
    json_decref(to);
    json_decref(object);
    /* The activity still holds the object. */
    expect_str("new", "object type", sget(json_object_get(a, "object"), "type"), "Follow");

    /* What we build parses back as an activity. */
    s = json_dumps(a, JSON_COMPACT);
    struct lv_ap_activity p;
    assert_int_equal(lv_ap_activity_parse(s, strlen(s), NULL, &p, NULL), 0);
    expect_str("new", "reparsed object type", p.object_type, "Follow");
    lv_ap_activity_release(&p);
    free(s);
    json_decref(a);

    json_t *url = json_string("https://m.example/u/a");
    a = lv_ap_activity_new("https://gw.ap.test/a/2", "Follow", GW_LOUISE, url, NULL, NULL);
    json_decref(url);
    expect_str("new", "object as a string", sget(a, "object"), "https://m.example/u/a");
    json_decref(a);
}

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static void test_new_activity_id(void **state)
{
    (void)state;
    enum { N = 2000 };
    char **ids = lv_xcalloc(N, sizeof(*ids));
    const char *prefix = GW_LOUISE "#create-";
    for (size_t i = 0; i < N; i++) {
        ids[i] = lv_ap_new_activity_id(GW_LOUISE, "Create");
        assert_int_equal(strncmp(ids[i], prefix, strlen(prefix)), 0);
        const char *tok = ids[i] + strlen(prefix);
        assert_int_equal(strlen(tok), 22);
        for (const char *p = tok; *p; p++)
            assert_true(b64url_char(*p));
    }
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++)
            if (strcmp(ids[i], ids[j]) == 0)
                fail_msg("activity id repeated: %s", ids[i]);
    for (size_t i = 0; i < N; i++)
        free(ids[i]);
    free(ids);

    char *id = lv_ap_new_activity_id("https://gw.ap.test/_ap/actor/x#main-key", "EmojiReact");
    assert_int_equal(strncmp(id, "https://gw.ap.test/_ap/actor/x#emojireact-", 42), 0);
    assert_int_equal(strlen(id), 42 + 22);
    free(id);
    id = lv_ap_new_activity_id("https://gw.ap.test/", NULL);
    assert_int_equal(strncmp(id, "https://gw.ap.test/#activity-", 29), 0);
    free(id);
    id = lv_ap_new_activity_id("https://gw.ap.test/", "\xc3\xa9/#?");
    assert_int_equal(strncmp(id, "https://gw.ap.test/#activity-", 29), 0);
    free(id);
}

static void test_format_time(void **state)
{
    (void)state;
    char buf[32];
    lv_ap_format_time(0, buf);
    expect_str("time", "epoch", buf, "1970-01-01T00:00:00Z");
    lv_ap_format_time(1795627331, buf);
    expect_str("time", "2026", buf, "2026-11-25T17:22:11Z");
    lv_ap_format_time(-86400, buf);
    expect_str("time", "before 1970", buf, "1969-12-31T00:00:00Z");
    lv_ap_format_time(INT64_MAX, buf);
    expect_str("time", "clamped high", buf, "9999-12-31T23:59:59Z");
    lv_ap_format_time(INT64_MIN, buf);
    expect_str("time", "clamped low", buf, "0001-01-01T00:00:00Z");
}

/* ---- Note -> post data ---- */

static const json_t *extra_ap(const json_t *mb)
{
    return json_object_get(json_object_get(mb, "extra"), "ap");
}

static void test_mb_from_mastodon(void **state)
{
    (void)state;
    json_t *doc = load(mastodon_create);
    json_t *mb = mb_ok("mastodon", json_object_get(doc, "object"));
    expect_str("mastodon", "id", sget(mb, "id"),
               "https://mastodon.example/users/alice/statuses/1100");
    /* The mention and hashtag links stay, Mastodon's classes go. */
    expect_str("mastodon", "content_xhtml", sget(mb, "content_xhtml"),
               XDIV "<p>Hello <span><a href='" GW_LOUISE "'>@<span>louise</span></a></span>, see "
                    "<a href='https://mastodon.example/tags/Libervia'>#<span>Libervia</span></a>"
                    "</p><p>Second &amp; last</p></div>");
    expect_str("mastodon", "content", sget(mb, "content"),
               "Hello @louise, see #Libervia\n\nSecond & last");
    assert_null(json_object_get(mb, "title")); /* summary: null */
    expect_str("mastodon", "language (contentMap key of the content)", sget(mb, "language"), "en");
    assert_int_equal(json_integer_value(json_object_get(mb, "published")),
                     epoch_of("2026-11-25T17:22:11Z"));
    assert_int_equal(json_integer_value(json_object_get(mb, "updated")),
                     epoch_of("2026-11-25T17:22:11Z"));
    expect_str("mastodon", "author", sget(mb, "author"), "Alice");
    expect_str("mastodon", "author_jid", sget(mb, "author_jid"),
               "alice\\40mastodon.example@gw.ap.test");
    expect_list("mastodon", "tags (Hashtag only, without #)", json_object_get(mb, "tags"),
                "libervia");
    const json_t *ap = extra_ap(mb);
    expect_str("mastodon", "url", sget(ap, "url"), "https://mastodon.example/@alice/1100");
    assert_null(json_object_get(ap, "in_reply_to"));
    const json_t *att = json_object_get(ap, "attachments");
    assert_int_equal(json_array_size(att), 1);
    expect_str("mastodon", "attachment url", sget(json_array_get(att, 0), "url"),
               "https://files.mastodon.example/media/1.png");
    expect_str("mastodon", "attachment type", sget(json_array_get(att, 0), "media_type"),
               "image/png");
    expect_str("mastodon", "attachment name", sget(json_array_get(att, 0), "name"), "A cat");
    json_decref(mb);
    json_decref(doc);
}

static void test_mb_from_fedify_snac(void **state)
{
    (void)state;
    json_t *doc = load(fedify_create);
    json_t *mb = mb_ok("fedify", json_object_get(doc, "object"));
    expect_str("fedify", "content_xhtml", sget(mb, "content_xhtml"),
               XDIV "<p>Bonjour depuis Fedify <a href='https://fedify.ap.test/tags/fedify'>"
                    "#fedify</a></p></div>");
    expect_str("fedify", "language (only contentMap)", sget(mb, "language"), "fr");
    expect_list("fedify", "tags (a single object)", json_object_get(mb, "tags"), "fedify");
    assert_int_equal(json_integer_value(json_object_get(mb, "published")),
                     epoch_of("2026-11-25T17:22:11Z"));
    assert_int_equal(json_integer_value(json_object_get(mb, "updated")),
                     epoch_of("2026-11-25T17:00:00Z"));
    const json_t *att = json_object_get(extra_ap(mb), "attachments");
    assert_int_equal(json_array_size(att), 1);
    expect_str("fedify", "attachment url (a Link)", sget(json_array_get(att, 0), "url"),
               "https://fedify.ap.test/media/tree.jpg");
    expect_str("fedify", "attachment name", sget(json_array_get(att, 0), "name"), "A tree");
    assert_null(json_object_get(extra_ap(mb), "url"));
    json_decref(mb);
    json_decref(doc);

    doc = load(snac_create);
    mb = mb_ok("snac", json_object_get(doc, "object"));
    expect_str("snac", "content_xhtml", sget(mb, "content_xhtml"),
               XDIV "First line<br/>second line <a href='https://snac.ap.test/?t=snac'>#snac</a>"
                    "<br/></div>");
    expect_str("snac", "content", sget(mb, "content"), "First line\nsecond line #snac");
    assert_null(json_object_get(mb, "language"));
    expect_list("snac", "tags", json_object_get(mb, "tags"), "snac");
    assert_int_equal(json_array_size(json_object_get(extra_ap(mb), "attachments")), 0);
    json_decref(mb);
    json_decref(doc);
}

struct note_case {
    const char *name;
    const char *note; /* single-quoted JSON */
    const char *title;
    const char *content;
    const char *language;
    const char *in_reply_to;
    const char *tags;
};

#define NOTE_HEAD "'id': 'https://m.example/n/1', 'type': 'Note'"

static const struct note_case note_cases[] = {
    {"summary is a content warning",
     "{" NOTE_HEAD ", 'summary': 'Spoilers <b>ahead</b>',"
     " 'sensitive': true, 'content': '<p>It was him</p>'}",
     "Spoilers ahead", "It was him", NULL, NULL, ""},
    {"name is the title over summary",
     "{'id': 'https://w.example/a/1', 'type': 'Article', 'name': '  My\\n article ',"
     " 'summary': 'About things', 'content': '<h1>Intro</h1><p>Body</p>'}",
     "My article", "Intro\n\nBody", NULL, NULL, ""},
    {"nameMap when there is no name", "{" NOTE_HEAD ", 'nameMap': {'de': 'Titel'}, 'content': 'x'}",
     "Titel", "x", NULL, NULL, ""},
    {"title only (a Question)",
     "{'id': 'https://m.example/q/1', 'type': 'Question', 'name': 'Tea or coffee?'}",
     "Tea or coffee?", NULL, NULL, NULL, ""},
    {"blank content with a title", "{" NOTE_HEAD ", 'summary': 'CW', 'content': '<p> </p>'}", "CW",
     NULL, NULL, NULL, ""},
    {"content beats contentMap, language from the matching key",
     "{" NOTE_HEAD ", 'content': 'Hallo', 'contentMap': {'en': 'Hello', 'de': 'Hallo'}}", NULL,
     "Hallo", "de", NULL, ""},
    {"content without a matching contentMap key",
     "{" NOTE_HEAD ", 'content': 'Hallo', 'contentMap': {'en': 'Hello'}}", NULL, "Hallo", NULL,
     NULL, ""},
    {"invalid language key dropped", "{" NOTE_HEAD ", 'contentMap': {'en\\'><x': 'Hi'}}", NULL,
     "Hi", NULL, NULL, ""},
    {"plain-text mediaType", "{" NOTE_HEAD ", 'mediaType': 'text/plain', 'content': 'a <b> c'}",
     NULL, "a <b> c", NULL, NULL, ""},
    {"text: ordinary links keep their target, mentions and hashtags do not",
     "{" NOTE_HEAD ", 'content': '<p>See <a href=\\'https://e.org/x\\'>this</a>, <a "
     "href=\\'https://m.example/@bob\\'> @<span>bob</span></a> and <a "
     "href=\\'https://m.example/tags/a\\'>#a</a></p>'}",
     NULL, "See this (https://e.org/x), @bob and #a", NULL, NULL, ""},
    {"reply by URL", "{" NOTE_HEAD ", 'content': 'Yes', 'inReplyTo': 'https://m.example/n/0'}",
     NULL, "Yes", NULL, "https://m.example/n/0", ""},
    {"reply as an object",
     "{" NOTE_HEAD ", 'content': 'Yes', 'inReplyTo': {'id': 'https://m.example/n/0',"
     " 'type': 'Note'}}",
     NULL, "Yes", NULL, "https://m.example/n/0", ""},
    {"tags: Hashtag only, deduplicated, odd entries skipped",
     "{" NOTE_HEAD ", 'content': 'x', 'tag': [{'type': 'Hashtag', 'name': '#One'},"
     " {'type': 'Hashtag', 'name': 'two'}, {'type': 'Hashtag', 'name': '#One'},"
     " {'type': 'Emoji', 'name': ':blob:'}, {'type': 'Hashtag'}, {'type': 'Hashtag', 'name': '#'},"
     " 'https://m.example/tags/x', 5, {'type': ['Hashtag'], 'name': '##three'}]}",
     NULL, "x", NULL, NULL, "One|two|three"},
};

static void test_mb_from_note_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(note_cases); i++) {
        const struct note_case *c = &note_cases[i];
        json_t *note = load(c->note);
        json_t *mb = mb_ok(c->name, note);
        expect_str(c->name, "title", sget(mb, "title"), c->title);
        expect_str(c->name, "content", sget(mb, "content"), c->content);
        if (!c->content)
            assert_null(json_object_get(mb, "content_xhtml"));
        else
            expect_has(c->name, "content_xhtml", sget(mb, "content_xhtml"), XDIV);
        expect_str(c->name, "language", sget(mb, "language"), c->language);
        expect_str(c->name, "in_reply_to", sget(extra_ap(mb), "in_reply_to"), c->in_reply_to);
        expect_list(c->name, "tags", json_object_get(mb, "tags"), c->tags);
        json_decref(mb);
        json_decref(note);
    }
}

static void test_mb_dates(void **state)
{
    (void)state;
    json_t *note = load("{" NOTE_HEAD ", 'content': 'x', 'published': 'yesterday',"
                        " 'updated': '2026-11-25T17:22:11Z'}");
    json_t *mb = mb_ok("bad published", note);
    int64_t now = (int64_t)time(NULL);
    int64_t published = json_integer_value(json_object_get(mb, "published"));
    assert_true(published >= now - 5 && published <= now + 5);
    assert_int_equal(json_integer_value(json_object_get(mb, "updated")),
                     epoch_of("2026-11-25T17:22:11Z"));
    json_decref(mb);
    json_decref(note);

    note = load("{" NOTE_HEAD ", 'content': 'x'}");
    mb = mb_ok("no dates", note);
    published = json_integer_value(json_object_get(mb, "published"));
    assert_true(published >= now - 5 && published <= now + 5);
    assert_int_equal(json_integer_value(json_object_get(mb, "updated")), published);
    json_decref(mb);
    json_decref(note);
}

static void test_mb_from_note_errors(void **state)
{
    (void)state;
    static const char *const invalid[] = {
        "[]",
        "'https://m.example/n/1'",
        "{'type': 'Note', 'content': 'no id'}",
        "{'id': '', 'type': 'Note', 'content': 'empty id'}",
        "{'id': 5, 'type': 'Note', 'content': 'numeric id'}",
        "{" NOTE_HEAD "}",
        "{" NOTE_HEAD ", 'content': '<p></p><img src=\\'https://m.example/i.png\\'>'}",
        "{" NOTE_HEAD ", 'content': 7, 'name': 3, 'summary': ['x']}",
        "{" NOTE_HEAD ", 'content': '<script>alert(1)</script>', 'name': '  '}",
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(invalid); i++) {
        json_t *note = load(invalid[i]);
        json_t *mb = (json_t *)1;
        struct lv_error err = {0};
        int rc = lv_ap_mb_from_note(note, NULL, NULL, &mb, &err);
        if (rc != LV_ERR_INVAL)
            fail_msg("[%s] got %d, want LV_ERR_INVAL", invalid[i], rc);
        assert_null(mb);
        assert_true(err.msg[0] != '\0');
        json_decref(note);
    }
    assert_int_equal(lv_ap_mb_from_note(NULL, NULL, NULL, &(json_t *){NULL}, NULL), LV_ERR_INVAL);

    /* HTML beyond the converter's byte limit. */
    size_t big = LV_AP_HTML_MAX_BYTES + 1;
    char *html = lv_xmalloc(big + 1);
    memset(html, 'a', big);
    html[big] = '\0';
    json_t *note = load("{" NOTE_HEAD "}");
    json_object_set_new(note, "content", json_string(html));
    json_t *mb = NULL;
    struct lv_error err = {0};
    assert_int_equal(lv_ap_mb_from_note(note, NULL, NULL, &mb, &err), LV_ERR_LIMIT);
    assert_null(mb);
    json_decref(note);
    free(html);
}

/* A peer cannot make us keep (or deduplicate) thousands of tags. */
static void test_mb_caps(void **state)
{
    (void)state;
    json_t *note = load("{" NOTE_HEAD ", 'content': 'x'}");
    json_t *tags = json_array(), *att = json_array();
    for (int i = 0; i < 5000; i++) {
        char name[32], url[48];
        snprintf(name, sizeof(name), "#t%d", i);
        snprintf(url, sizeof(url), "https://m.example/m/%d.png", i);
        json_array_append_new(tags, json_pack("{s:s, s:s}", "type", "Hashtag", "name", name));
        json_array_append_new(att, json_pack("{s:s, s:s}", "type", "Image", "url", url));
    }
    json_object_set_new(note, "tag", tags);
    json_object_set_new(note, "attachment", att);
    json_t *mb = mb_ok("caps", note);
    const json_t *t = json_object_get(mb, "tags");
    assert_int_equal(json_array_size(t), LV_AP_MAX_TAGS);
    expect_str("caps", "first tag", json_string_value(json_array_get(t, 0)), "t0");
    const json_t *a = json_object_get(extra_ap(mb), "attachments");
    assert_int_equal(json_array_size(a), LV_AP_MAX_ATTACHMENTS);
    expect_str("caps", "first attachment", sget(json_array_get(a, 0), "url"),
               "https://m.example/m/0.png");
    json_decref(mb);
    json_decref(note);
}

/* Post data made from peers' Notes is what lv_mb publishes: it makes a
 * valid Atom entry that reads back the same. */
static void test_mb_to_atom(void **state)
{
    (void)state;
    static const char *const fixtures[] = {mastodon_create, fedify_create, snac_create, fedify_dm};
    for (size_t i = 0; i < LV_ARRAY_LEN(fixtures); i++) {
        json_t *doc = load(fixtures[i]);
        json_t *mb = mb_ok("atom", json_object_get(doc, "object"));
        const char *id = sget(mb, "id");
        struct lv_xml *entry = NULL;
        struct lv_error err = {0};
        int rc = lv_mb_entry_from_data(mb, "alice\\40mastodon.example@gw.ap.test", LV_NS_MICROBLOG,
                                       id, NULL, &entry, &err);
        if (rc != 0)
            fail_msg("[%s] lv_mb_entry_from_data: %s", id, err.msg);
        /* Serialised, it is XML our parser takes. */
        char *xml = lv_xml_to_string(entry, NULL);
        static const struct lv_xml_limits lim = {1 << 20, 64, 64, 100000};
        struct lv_xml *back = NULL;
        if (lv_xml_parse(xml, strlen(xml), &lim, &back, &err) != 0)
            fail_msg("[%s] entry does not parse: %s\n%s", id, err.msg, xml);
        json_t *d = NULL;
        assert_int_equal(lv_mb_data_from_entry(back, "alice\\40mastodon.example@gw.ap.test",
                                               LV_NS_MICROBLOG, id, NULL, &d, &err),
                         0);
        expect_str(id, "id", sget(d, "id"), id);
        expect_str(id, "content", sget(d, "content"), sget(mb, "content"));
        expect_str(id, "content_xhtml", sget(d, "content_xhtml"), sget(mb, "content_xhtml"));
        expect_str(id, "language", sget(d, "language"), sget(mb, "language"));
        expect_str(id, "author", sget(d, "author"), "Alice");
        expect_str(id, "author_jid", sget(d, "author_jid"), "alice\\40mastodon.example@gw.ap.test");
        assert_true(json_equal(json_object_get(d, "tags"), json_object_get(mb, "tags")));
        assert_true(json_equal(json_object_get(d, "published"), json_object_get(mb, "published")));
        assert_true(json_equal(json_object_get(d, "updated"), json_object_get(mb, "updated")));
        json_decref(d);
        lv_xml_unref(back);
        free(xml);
        lv_xml_unref(entry);
        json_decref(mb);
        json_decref(doc);
    }

    /* A content warning is the entry's title. */
    json_t *note = load("{" NOTE_HEAD ", 'summary': 'CW', 'content': '<p>Body</p>'}");
    json_t *mb = mb_ok("cw", note);
    struct lv_xml *entry = NULL;
    assert_int_equal(
        lv_mb_entry_from_data(mb, "gw.ap.test", LV_NS_MICROBLOG, "x", NULL, &entry, NULL), 0);
    json_t *d = NULL;
    assert_int_equal(
        lv_mb_data_from_entry(entry, "gw.ap.test", LV_NS_MICROBLOG, "x", NULL, &d, NULL), 0);
    expect_str("cw", "title", sget(d, "title"), "CW");
    expect_str("cw", "content", sget(d, "content"), "Body");
    json_decref(d);
    lv_xml_unref(entry);
    json_decref(mb);
    json_decref(note);
}

/* ---- post data -> Note ---- */

static const struct lv_ap_mention note_mentions[] = {
    {"https://mastodon.example/users/alice", "@alice@mastodon.example", NULL},
};

static struct lv_ap_note_ctx base_ctx(void)
{
    return (struct lv_ap_note_ctx){
        .object_id = "https://gw.ap.test/_ap/item/louise%40xmpp.test/urn%3Axmpp%3Amicroblog%3A0/"
                     "hello-f5WL",
        .actor = GW_LOUISE,
        .followers = "https://gw.ap.test/_ap/followers/louise%40xmpp.test",
        .tag_base = "https://gw.ap.test/_ap/tags/",
        .is_public = true,
    };
}

static json_t *note_ok(const char *row, const json_t *mb, const struct lv_ap_note_ctx *ctx)
{
    struct lv_error err = {0};
    json_t *note = lv_ap_note_from_mb(mb, ctx, &err);
    if (!note)
        fail_msg("[%s] lv_ap_note_from_mb failed: %s", row, err.msg);
    return note;
}

static void test_note_from_xhtml(void **state)
{
    (void)state;
    json_t *mb = load("{'id': 'hello-f5WL', 'language': 'en',"
                      " 'content_xhtml': '" XDIV_J "<p>Hi @alice@mastodon.example, look: "
                      "<em>this</em> https://libervia.org <script>x</script></p></div>',"
                      " 'content': 'Hi @alice@mastodon.example, look: this https://libervia.org',"
                      " 'title': 'Hi @alice@mastodon.example, look: this https://libervia.org',"
                      " 'published': 1795627331, 'updated': 1795630931.5,"
                      " 'tags': ['libervia', 'C lang', '#xmpp', 3, '', 'libervia']}");
    struct lv_ap_note_ctx ctx = base_ctx();
    ctx.mentions = note_mentions;
    ctx.n_mentions = 1;
    ctx.in_reply_to = "https://mastodon.example/users/alice/statuses/1100";
    json_t *note = note_ok("xhtml", mb, &ctx);
    expect_str("xhtml", "id", sget(note, "id"), ctx.object_id);
    expect_str("xhtml", "type", sget(note, "type"), "Note");
    expect_str("xhtml", "attributedTo", sget(note, "attributedTo"), GW_LOUISE);
    /* The title repeats the content: not added. Mention and URL linked,
     * script gone. */
    expect_str("xhtml", "content", sget(note, "content"),
               "<p>Hi <span class=\"h-card\"><a href=\"https://mastodon.example/users/alice\" "
               "class=\"u-url mention\">@<span>alice</span></a></span>, look: <em>this</em> "
               "<a href=\"https://libervia.org\">https://libervia.org</a> </p>");
    expect_str("xhtml", "contentMap", sget(json_object_get(note, "contentMap"), "en"),
               sget(note, "content"));
    assert_int_equal(json_object_size(json_object_get(note, "contentMap")), 1);
    expect_str("xhtml", "mediaType", sget(note, "mediaType"), "text/html");
    expect_str("xhtml", "published", sget(note, "published"), "2026-11-25T17:22:11Z");
    expect_str("xhtml", "updated", sget(note, "updated"), "2026-11-25T18:22:11Z");
    expect_str("xhtml", "url", sget(note, "url"), ctx.object_id);
    expect_list("xhtml", "to", json_object_get(note, "to"), LV_AP_PUBLIC);
    expect_list("xhtml", "cc", json_object_get(note, "cc"),
                "https://gw.ap.test/_ap/followers/louise%40xmpp.test|"
                "https://mastodon.example/users/alice");
    expect_str("xhtml", "inReplyTo", sget(note, "inReplyTo"), ctx.in_reply_to);
    char *tags = json_dumps(json_object_get(note, "tag"), JSON_COMPACT);
    expect_str("xhtml", "tag", tags,
               "[{\"type\":\"Hashtag\",\"href\":\"https://gw.ap.test/_ap/tags/libervia\","
               "\"name\":\"#libervia\"},"
               "{\"type\":\"Hashtag\",\"href\":\"https://gw.ap.test/_ap/tags/C%20lang\","
               "\"name\":\"#C lang\"},"
               "{\"type\":\"Hashtag\",\"href\":\"https://gw.ap.test/_ap/tags/xmpp\","
               "\"name\":\"#xmpp\"},"
               "{\"type\":\"Mention\",\"href\":\"https://mastodon.example/users/alice\","
               "\"name\":\"@alice@mastodon.example\"}]");
    free(tags);
    json_decref(note);

    /* Without tag_base, Hashtags have no href; without language, no
     * contentMap; equal dates, no "updated" (Mastodon would say "edited"). */
    json_object_del(mb, "language");
    json_object_set_new(mb, "updated", json_integer(1795627331));
    ctx.tag_base = NULL;
    ctx.in_reply_to = NULL;
    note = note_ok("xhtml 2", mb, &ctx);
    assert_null(json_object_get(note, "contentMap"));
    assert_null(json_object_get(note, "updated"));
    assert_null(json_object_get(note, "inReplyTo"));
    const json_t *t0 = json_array_get(json_object_get(note, "tag"), 0);
    assert_null(json_object_get(t0, "href"));
    expect_str("xhtml 2", "tag name", sget(t0, "name"), "#libervia");
    json_decref(note);
    json_decref(mb);
}

static void test_note_from_text(void **state)
{
    (void)state;
    json_t *mb = load("{'content': 'Line one <b>&\\nline two\\n\\nSecond @alice@mastodon.example',"
                      " 'published': '1795627331'}");
    struct lv_ap_note_ctx ctx = base_ctx();
    ctx.is_public = false;
    ctx.mentions = note_mentions;
    ctx.n_mentions = 1;
    json_t *note = note_ok("text", mb, &ctx);
    expect_str("text", "content", sget(note, "content"),
               "<p>Line one &lt;b&gt;&amp;<br>line two</p><p>Second <span class=\"h-card\"><a "
               "href=\"https://mastodon.example/users/alice\" class=\"u-url mention\">@<span>"
               "alice</span></a></span></p>");
    expect_str("text", "published (numeric string)", sget(note, "published"),
               "2026-11-25T17:22:11Z");
    /* Not public: followers in to, mentions in cc, no Public anywhere. */
    expect_list("text", "to", json_object_get(note, "to"),
                "https://gw.ap.test/_ap/followers/louise%40xmpp.test");
    expect_list("text", "cc", json_object_get(note, "cc"), "https://mastodon.example/users/alice");
    json_decref(note);

    /* A direct message: no followers collection, the mentioned go to "to". */
    ctx.followers = NULL;
    note = note_ok("dm", mb, &ctx);
    expect_list("dm", "to", json_object_get(note, "to"), "https://mastodon.example/users/alice");
    expect_list("dm", "cc", json_object_get(note, "cc"), "");
    json_decref(note);

    /* XHTML that does not parse falls back to the text. */
    json_object_set_new(mb, "content_xhtml", json_string("<div><p>unclosed</div>"));
    ctx = base_ctx();
    note = note_ok("bad xhtml", mb, &ctx);
    expect_has("bad xhtml", "content", sget(note, "content"), "<p>Line one &lt;b&gt;");
    expect_list("bad xhtml", "no tag", json_object_get(note, "tag"), "(not an array)");
    /* Public without mentions. */
    expect_list("bad xhtml", "to", json_object_get(note, "to"), LV_AP_PUBLIC);
    expect_list("bad xhtml", "cc", json_object_get(note, "cc"),
                "https://gw.ap.test/_ap/followers/louise%40xmpp.test");
    json_decref(note);
    json_decref(mb);
}

struct title_case {
    const char *name;
    const char *mb;
    const char *content; /* the Note's content */
};

static const struct title_case title_cases[] = {
    {"distinct title first", "{'title': 'My <trip>', 'content': 'We went.'}",
     "<p><strong>My &lt;trip&gt;</strong></p><p>We went.</p>"},
    {"title equal to the content", "{'title': 'We went.', 'content': 'We went.'}",
     "<p>We went.</p>"},
    {"title is the start of the content, cut with an ellipsis",
     "{'title': 'We went to the\xe2\x80\xa6', 'content': 'We went to the\\nsea.'}",
     "<p>We went to the<br>sea.</p>"},
    {"title is the start, with three dots and other spaces",
     "{'title': ' We  went ...', 'content': 'We went to the sea.'}", "<p>We went to the sea.</p>"},
    {"title only", "{'title': 'Just a title'}", "<p>Just a title</p>"},
    {"title with XHTML content",
     "{'title': 'Trip', 'content_xhtml': '" XDIV_J "<p>We <b>went</b>.</p></div>'}",
     "<p><strong>Trip</strong></p><p>We <b>went</b>.</p>"},
    {"empty title ignored", "{'title': '', 'content': 'Body'}", "<p>Body</p>"},
    {"blank title ignored", "{'title': ' \\t', 'content': 'Body'}", "<p>Body</p>"},
    {"blank content: the title alone", "{'title': 'T', 'content': ' \\n '}", "<p>T</p>"},
    {"title longer than the content", "{'title': 'Body and more', 'content': 'Body'}",
     "<p><strong>Body and more</strong></p><p>Body</p>"},
};

static void test_note_titles(void **state)
{
    (void)state;
    struct lv_ap_note_ctx ctx = base_ctx();
    for (size_t i = 0; i < LV_ARRAY_LEN(title_cases); i++) {
        const struct title_case *c = &title_cases[i];
        json_t *mb = load(c->mb);
        json_t *note = note_ok(c->name, mb, &ctx);
        expect_str(c->name, "content", sget(note, "content"), c->content);
        json_decref(note);
        json_decref(mb);
    }

    static const char *const empty[] = {
        "{}", "{'title': '', 'content': ''}", "{'content_xhtml': '" XDIV_J "</div>'}",
        "{'title': 3, 'content': null}", "{'title': ' \\n ', 'content': '\\n\\n'}"};
    for (size_t i = 0; i < LV_ARRAY_LEN(empty); i++) {
        json_t *mb = load(empty[i]);
        struct lv_error err = {0};
        json_t *note = lv_ap_note_from_mb(mb, &ctx, &err);
        if (note)
            fail_msg("[%s] a Note was made", empty[i]);
        assert_int_equal(err.code, LV_ERR_INVAL);
        json_decref(mb);
    }
    struct lv_error err = {0};
    json_t *arr = json_array();
    assert_null(lv_ap_note_from_mb(arr, &ctx, &err));
    assert_int_equal(err.code, LV_ERR_INVAL);
    json_decref(arr);
}

/* A peer's Note, through post data, back to a Note: same text, same tags. */
static void test_round_trip(void **state)
{
    (void)state;
    static const char *const fixtures[] = {mastodon_create, fedify_create, snac_create};
    for (size_t i = 0; i < LV_ARRAY_LEN(fixtures); i++) {
        json_t *doc = load(fixtures[i]);
        const json_t *in = json_object_get(doc, "object");
        json_t *mb = mb_ok("round trip", in);
        struct lv_ap_note_ctx ctx = base_ctx();
        json_t *out = note_ok("round trip", mb, &ctx);

        const char *in_html = sget(in, "content");
        if (!in_html)
            in_html = sget(json_object_get(in, "contentMap"), "fr");
        char *t1 = NULL, *t2 = NULL;
        assert_int_equal(lv_ap_html_to_text(in_html, strlen(in_html), NULL, &t1, NULL), 0);
        const char *out_html = sget(out, "content");
        assert_int_equal(lv_ap_html_to_text(out_html, strlen(out_html), NULL, &t2, NULL), 0);
        expect_str(sget(in, "id"), "text", t2, t1);
        free(t1);
        free(t2);

        json_t *in_tags = json_array(), *out_tags = json_array();
        const json_t *tag = json_object_get(in, "tag");
        for (size_t k = 0, n = json_is_array(tag) ? json_array_size(tag) : 1; k < n; k++) {
            const json_t *t = json_is_array(tag) ? json_array_get(tag, k) : tag;
            if (lv_ap_has_type(t, "Hashtag"))
                json_array_append_new(in_tags, json_string(sget(t, "name")));
        }
        tag = json_object_get(out, "tag");
        for (size_t k = 0; k < json_array_size(tag); k++)
            if (lv_ap_has_type(json_array_get(tag, k), "Hashtag"))
                json_array_append_new(out_tags, json_string(sget(json_array_get(tag, k), "name")));
        char *a = joined(in_tags), *b = joined(out_tags);
        expect_str(sget(in, "id"), "hashtags", b, a);
        assert_true(json_array_size(in_tags) > 0);
        free(a);
        free(b);
        json_decref(in_tags);
        json_decref(out_tags);
        expect_str(sget(in, "id"), "language", sget(mb, "language"),
                   json_object_get(out, "contentMap")
                       ? json_object_iter_key(json_object_iter(json_object_get(out, "contentMap")))
                       : NULL);
        json_decref(out);
        json_decref(mb);
        json_decref(doc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_mastodon),
        cmocka_unit_test(test_parse_fedify),
        cmocka_unit_test(test_parse_snac),
        cmocka_unit_test(test_parse_shapes),
        cmocka_unit_test(test_public_detection),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_limits_bounds),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_activity_new),
        cmocka_unit_test(test_new_activity_id),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_mb_from_mastodon),
        cmocka_unit_test(test_mb_from_fedify_snac),
        cmocka_unit_test(test_mb_from_note_cases),
        cmocka_unit_test(test_mb_dates),
        cmocka_unit_test(test_mb_from_note_errors),
        cmocka_unit_test(test_mb_caps),
        cmocka_unit_test(test_mb_to_atom),
        cmocka_unit_test(test_note_from_xhtml),
        cmocka_unit_test(test_note_from_text),
        cmocka_unit_test(test_note_titles),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
