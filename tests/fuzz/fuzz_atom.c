/* libFuzzer target for lv_mb and lv_syntax: Atom entries from peers.
 *
 * The input is parsed as XML within small limits; what parses goes through
 * lv_mb_data_from_entry (any root: non-entries must be refused cleanly) and
 * the sanitiser and text walker. Beyond "does not crash or leak":
 * - sanitising is idempotent and leaves a root XHTML <div>;
 * - a post read from an entry with a title or content can be published
 *   again (lv_mb_entry_from_data succeeds) and reads back with the same
 *   content text and tags;
 * - the input also goes through lv_syntax_parse_xhtml and markdown. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blog/lv_mb.h"
#include "blog/lv_syntax.h"
#include "core/lv_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct lv_xml_limits limits = {
    .max_stanza_bytes = 64 * 1024,
    .max_depth = 48,
    .max_attrs = 16,
    .max_children = 1024,
};

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_atom: property violated: %s\n", what);
        abort();
    }
}

static void check_sanitize(const struct lv_xml *x)
{
    struct lv_xml *c = lv_xml_copy(x);
    lv_syntax_sanitize(c);
    check(lv_xml_is(c, "div", LV_NS_XHTML), "sanitised root is an XHTML div");
    char *once = lv_xml_to_string(c, NULL);
    lv_syntax_sanitize(c);
    char *twice = lv_xml_to_string(c, NULL);
    check(strcmp(once, twice) == 0, "sanitising is idempotent");
    free(lv_syntax_xhtml_to_text(c));
    free(lv_syntax_xhtml_to_text(x)); /* unsanitised trees too */
    free(twice);
    free(once);
    lv_xml_unref(c);
}

static const char *str_of(json_t *d, const char *key)
{
    return json_string_value(json_object_get(d, key));
}

/* Publishing what was read works, and keeps content and tags. */
static void check_republish(json_t *d)
{
    struct lv_xml *e = NULL;
    struct lv_error err = {0};
    if (!json_object_get(d, "content") && !json_object_get(d, "title"))
        return;
    int rc = lv_mb_entry_from_data(d, "pubsub.example.org", LV_NS_MICROBLOG, "item",
                                   "juliet@example.org", &e, &err);
    if (rc != 0) {
        fprintf(stderr, "fuzz_atom: republishing failed: %s\n", err.msg);
        abort();
    }
    json_t *back = NULL;
    check(lv_mb_data_from_entry(e, NULL, NULL, "item", NULL, &back, NULL) == 0,
          "our entries are entries");
    const char *c1 = str_of(d, "content"), *c2 = str_of(back, "content");
    check(c1 && c2 && strcmp(c1, c2) == 0, "content text survives republishing");
    check(json_equal(json_object_get(d, "tags"), json_object_get(back, "tags")),
          "tags survive republishing");
    json_decref(back);
    lv_xml_unref(e);
}

static void check_entry(const struct lv_xml *x)
{
    json_t *d = NULL;
    struct lv_error err = {0};
    int rc = lv_mb_data_from_entry(x, "pubsub.example.org", LV_NS_MICROBLOG, "item",
                                   "juliet@example.org/res", &d, &err);
    check(rc == 0 || rc == LV_ERR_INVAL, "entry reading fails only with LV_ERR_INVAL");
    check((rc == 0) == lv_xml_is(x, "entry", LV_NS_ATOM), "only Atom entries are read");
    if (rc != 0)
        return;
    check(json_is_array(json_object_get(d, "tags")) &&
              json_is_array(json_object_get(d, "comments")) &&
              json_is_object(json_object_get(d, "extra")),
          "tags, comments and extra always present");
    check_republish(d);
    json_decref(d);
}

/* Every element of an entry (the content divs included) goes through the
 * sanitiser; capped so that big inputs stay quick. */
static void check_subtrees(const struct lv_xml *x)
{
    int budget = 8;
    check_sanitize(x);
    for (const struct lv_xml *c = x->children; c && budget > 0; c = c->next) {
        const struct lv_xml *div = c->kind == LV_XML_ELEM ? lv_xml_first_elem(c) : NULL;
        if (div) {
            check_sanitize(div);
            budget--;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lv_xml *x = NULL, *frag = NULL;
    struct lv_error err = {0};
    if (size > limits.max_stanza_bytes)
        return 0;
    /* Copy so that a read past size is caught by ASan. */
    char *s = lv_xmalloc(size + 1);
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    if (lv_xml_parse(s, size, &limits, &x, &err) == 0) {
        check_entry(x);
        check_subtrees(x);
        lv_xml_unref(x);
    }
    if (lv_syntax_parse_xhtml(s, size, &frag, &err) == 0) {
        check_sanitize(frag);
        lv_xml_unref(frag);
    }
    struct lv_xml *md = lv_syntax_markdown_to_xhtml(s, size);
    check_sanitize(md);
    lv_xml_unref(md);
    free(s);
    return 0;
}
