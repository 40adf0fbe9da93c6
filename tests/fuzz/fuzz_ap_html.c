/* libFuzzer target for lv_ap_html: Note contents from fediverse peers.
 *
 * The input is HTML as a peer could send it. It goes HTML -> XHTML -> HTML
 * (with mentions to link) -> XHTML -> HTML, and also through the text
 * converters. Beyond "does not crash or leak":
 * - every XHTML tree serializes to XML that lv_xml_parse() reads back, with
 *   an XHTML <div> root and only allow-listed XHTML elements;
 * - every HTML output is valid UTF-8 and, parsed back as a browser would
 *   (gumbo), holds only allow-listed HTML elements;
 * - nowhere an attribute named on*, style, or srcdoc, nor an href/src/cite
 *   whose scheme (read as a browser reads it) is javascript:, vbscript: or
 *   data:. */
#include <gumbo.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ap/lv_ap_html.h"
#include "blog/lv_syntax.h"
#include "core/lv_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The oracle: what lv_syntax_sanitize() may leave (XEP-0071's set plus
 * tables and a few inline elements), written out independently. */
static const char *const allowed[] = {
    "a",     "abbr", "acronym", "b",     "blockquote", "br",     "cite",   "code", "dd",  "del",
    "dfn",   "div",  "dl",      "dt",    "em",         "h1",     "h2",     "h3",   "h4",  "h5",
    "h6",    "hr",   "i",       "img",   "ins",        "kbd",    "li",     "ol",   "p",   "pre",
    "q",     "s",    "samp",    "small", "span",       "strike", "strong", "sub",  "sup", "table",
    "tbody", "td",   "tfoot",   "th",    "thead",      "tr",     "u",      "ul",   "var",
};

static const struct lv_ap_mention mentions[] = {
    {"https://m.example/users/bob", "@bob@m.example", "bob@xmpp.example"},
    {"https://m.example/users/a\"<x>", "@a@m.example", NULL},
};

static const struct lv_ap_html_limits limits = {
    .max_bytes = 64 * 1024,
    .max_depth = 64,
    .max_nodes = 5000,
    .max_markup = 1000,
    .max_parser_bytes = 4 * 1024 * 1024,
};

static void check(int cond, const char *what, const char *detail)
{
    if (!cond) {
        fprintf(stderr, "fuzz_ap_html: property violated: %s\n%s\n", what, detail ? detail : "");
        abort();
    }
}

static bool is_allowed(const char *name)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(allowed); i++)
        if (strcmp(allowed[i], name) == 0)
            return true;
    return false;
}

/* The scheme as a browser reads it: leading spaces and controls skipped,
 * tabs and newlines ignored, case folded. */
static bool bad_url(const char *v)
{
    static const char *const bad[] = {"javascript:", "vbscript:", "data:"};
    char norm[16];
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)v;
    while (*p && *p <= 0x20)
        p++;
    for (; *p && n + 1 < sizeof(norm); p++) {
        if (*p == '\t' || *p == '\n' || *p == '\r')
            continue;
        norm[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p | 0x20 : *p);
    }
    norm[n] = '\0';
    for (size_t i = 0; i < LV_ARRAY_LEN(bad); i++)
        if (strncmp(norm, bad[i], strlen(bad[i])) == 0)
            return true;
    return false;
}

static void check_attr(const char *name, const char *value, const char *doc)
{
    check(strncasecmp(name, "on", 2) != 0, "no event handler attribute", doc);
    check(strcasecmp(name, "style") != 0 && strcasecmp(name, "srcdoc") != 0,
          "no style or srcdoc attribute", doc);
    if (strcasecmp(name, "href") == 0 || strcasecmp(name, "src") == 0 ||
        strcasecmp(name, "cite") == 0)
        check(!bad_url(value), "no script or data URL", doc);
}

static void check_xml_tree(const struct lv_xml *x, const char *doc)
{
    if (x->kind != LV_XML_ELEM)
        return;
    check(x->ns && strcmp(x->ns, LV_NS_XHTML) == 0, "XHTML elements only", doc);
    check(is_allowed(x->name), "allow-listed elements only (XHTML)", doc);
    for (size_t i = 0; i < x->nattrs; i++)
        check_attr(x->attrs[i].name, x->attrs[i].value, doc);
    for (const struct lv_xml *c = x->children; c; c = c->next)
        check_xml_tree(c, doc);
}

/* The XHTML is XML our own parser reads, and clean. */
static void check_xhtml(const struct lv_xml *x)
{
    static const struct lv_xml_limits lim = {1 << 22, 128, 64, 1 << 20};
    check(lv_xml_is(x, "div", LV_NS_XHTML), "root is an XHTML div", NULL);
    char *s = lv_xml_to_string(x, NULL);
    struct lv_xml *back = NULL;
    struct lv_error err = {0};
    check(lv_xml_parse(s, strlen(s), &lim, &back, &err) == 0, "XHTML output parses as XML", s);
    check_xml_tree(back, s);
    lv_xml_unref(back);
    free(s);
    free(lv_syntax_xhtml_to_text(x));
}

static bool valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        if (n == 0 || i + n > len)
            return false;
        for (size_t k = 1; k < n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
            (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
            return false;
        i += n;
    }
    return true;
}

static void check_gumbo_tree(const GumboNode *n, const char *doc, unsigned depth)
{
    check(depth < 1000, "sane nesting", doc);
    if (n->type != GUMBO_NODE_ELEMENT) {
        check(n->type != GUMBO_NODE_COMMENT && n->type != GUMBO_NODE_TEMPLATE,
              "no comment or template in HTML output", doc);
        return;
    }
    const GumboElement *e = &n->v.element;
    check(e->tag_namespace == GUMBO_NAMESPACE_HTML, "HTML elements only", doc);
    check(e->tag != GUMBO_TAG_UNKNOWN && is_allowed(gumbo_normalized_tagname(e->tag)),
          "allow-listed elements only (HTML)", doc);
    for (unsigned i = 0; i < e->attributes.length; i++) {
        const GumboAttribute *a = e->attributes.data[i];
        check_attr(a->name, a->value, doc);
    }
    for (unsigned i = 0; i < e->children.length; i++)
        check_gumbo_tree(e->children.data[i], doc, depth + 1);
}

/* The HTML is valid UTF-8 (for JSON) and what a browser builds from it is
 * clean. */
static void check_html(const char *html)
{
    size_t len = strlen(html);
    check(valid_utf8((const unsigned char *)html, len), "HTML output is valid UTF-8", html);
    GumboOptions opt = kGumboDefaultOptions;
    opt.fragment_context = GUMBO_TAG_DIV;
    opt.max_errors = 0;
    GumboOutput *g = gumbo_parse_with_options(&opt, html, len);
    const GumboVector *kids = &g->root->v.element.children;
    for (unsigned i = 0; i < kids->length; i++)
        check_gumbo_tree(kids->data[i], html, 0);
    gumbo_destroy_output(&opt, g);
}

/* HTML -> XHTML, checked; returns the tree, or NULL when the parser's
 * memory budget refused the input (the only failure within max_bytes). */
static struct lv_xml *to_xhtml(const char *html, size_t len)
{
    struct lv_xml *x = NULL;
    struct lv_error err = {0};
    int rc = lv_ap_html_to_xhtml(html, len, &limits, &x, NULL, &err);
    check((rc == 0 && x) || (rc == LV_ERR_LIMIT && !x && strstr(err.msg, "to parse")),
          "conversion within the byte limit succeeds or hits the parser budget", err.msg);
    if (x)
        check_xhtml(x);
    return x;
}

static char *to_html(const struct lv_xml *x)
{
    char *html = lv_ap_html_from_xhtml(x, mentions, LV_ARRAY_LEN(mentions));
    check_html(html);
    return html;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > limits.max_bytes)
        return 0;
    /* Copy so that a read past size is caught by ASan. */
    char *s = lv_xmalloc(size ? size : 1);
    if (size)
        memcpy(s, data, size);

    struct lv_xml *x1 = to_xhtml(s, size);
    bool parsed = x1 != NULL;
    if (x1) {
        char *h1 = to_html(x1);
        struct lv_xml *x2 = to_xhtml(h1, strlen(h1));
        if (x2)
            free(to_html(x2));
        lv_xml_unref(x2);
        free(h1);
        lv_xml_unref(x1);
    }

    char *text = NULL;
    int rc = lv_ap_html_to_text(s, size, &limits, &text, NULL);
    check((rc == 0) == parsed, "text conversion fails as the XHTML one does", NULL);
    free(text);
    char *h3 = lv_ap_html_from_text(s, size, mentions, LV_ARRAY_LEN(mentions));
    check_html(h3);
    free(h3);
    free(s);
    return 0;
}
