/* lv_cache: what an item becomes in the cache (text for full-text search,
 * parsed data, dates). The sync and live-update logic is tested against real
 * servers in tests/integration/cache.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cache/lv_cache.h"
#include "xml/lv_xml.h"

static struct lv_xml *parse(const char *s)
{
    struct lv_xml_limits lim = {1 << 20, 64, 64, 1000};
    struct lv_xml *x = NULL;
    assert_int_equal(lv_xml_parse(s, strlen(s), &lim, &x, NULL), 0);
    return x;
}

static void test_blog_item(void **state)
{
    struct lv_ps_item it = {"p1", NULL,
                            parse("<entry xmlns='http://www.w3.org/2005/Atom'>"
                                  "<title>Café &amp; croissants</title>"
                                  "<content type='text'>Morning in Paris</content>"
                                  "<category term='food'/><category term='Paris'/>"
                                  "<author><name>louise</name><uri>xmpp:louise@example.org</uri>"
                                  "</author><published>2026-01-02T03:04:05Z</published>"
                                  "<updated>2026-01-03T03:04:05Z</updated></entry>")};
    char *text = NULL;
    json_t *parsed = NULL;
    double pub, upd;
    lv_cache_item_analyse("XEP-0277", "louise@example.org", "urn:xmpp:microblog:0", &it, &text,
                          &parsed, &pub, &upd);
    assert_non_null(parsed);
    assert_true(pub == 1767323045.0 && upd == 1767409445.0);
    /* the words a reader searches for, not the XML */
    assert_non_null(strstr(text, "Café & croissants"));
    assert_non_null(strstr(text, "Morning in Paris"));
    assert_non_null(strstr(text, "food"));
    assert_null(strstr(text, "<"));
    assert_null(strstr(text, "category"));
    /* on a PEP service the owner is the publisher */
    assert_true(json_is_true(json_object_get(parsed, "author_jid_verified")));
    free(text);
    json_decref(parsed);
    lv_xml_unref(it.payload);
}

static void test_raw_item(void **state)
{
    struct lv_ps_item it = {"r1", NULL,
                            parse("<note xmlns='urn:example'><a>first words</a>\n  <b attr='x'>"
                                  "second <i>third</i></b></note>")};
    char *text = NULL;
    json_t *parsed = NULL;
    double pub = -1, upd = -1;
    lv_cache_item_analyse(NULL, "pubsub.example.org", "notes", &it, &text, &parsed, &pub, &upd);
    assert_null(parsed);
    assert_true(pub == 0 && upd == 0);
    assert_string_equal(text, "first words second third");
    free(text);
    lv_xml_unref(it.payload);
}

static void test_not_an_entry(void **state)
{
    /* A blog node may hold something else: it is kept raw, still searchable. */
    struct lv_ps_item it = {"x", "someone@example.org", parse("<foo xmlns='urn:x'>bar</foo>")};
    char *text = NULL;
    json_t *parsed = NULL;
    double pub, upd;
    lv_cache_item_analyse("XEP-0277", "pubsub.example.org", "urn:xmpp:microblog:0", &it, &text,
                          &parsed, &pub, &upd);
    assert_null(parsed);
    assert_string_equal(text, "bar");
    free(text);
    lv_xml_unref(it.payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blog_item),
        cmocka_unit_test(test_raw_item),
        cmocka_unit_test(test_not_an_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
