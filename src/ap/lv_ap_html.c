#include "ap/lv_ap_html.h"

#include <gumbo.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blog/lv_syntax.h"
#include "core/lv_buf.h"
#include "core/lv_mem.h"

#define NS_SVG "http://www.w3.org/2000/svg"
#define NS_MATHML "http://www.w3.org/1998/Math/MathML"
#define NS_XLINK "http://www.w3.org/1999/xlink"
#define NS_XMLNS "http://www.w3.org/2000/xmlns/"

/* ---- UTF-8 and characters ---- */

/* Length of the valid UTF-8 sequence at s (0 when invalid), code point in
 * *cp. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* Characters XML 1.0 can carry (and so JSON and our stanzas). */
static bool xml_char(uint32_t c)
{
    return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
           (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

enum esc { ESC_NONE, ESC_TEXT, ESC_ATTR };

/* Appends s as valid UTF-8 holding only XML characters (invalid sequences
 * become U+FFFD, other characters are dropped; a form feed, which HTML
 * counts as whitespace, becomes a space), escaped for HTML text or a
 * double-quoted attribute if asked. */
static void put_clean(struct lv_buf *b, const char *s, size_t len, enum esc esc)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* run: start of bytes to copy as they are */
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_decode(p + i, len - i, &cp);
        const char *repl = NULL;
        if (n == 0)
            repl = "\xef\xbf\xbd";
        else if (cp == '\f')
            repl = " ";
        else if (!xml_char(cp))
            repl = "";
        else if (esc != ESC_NONE && cp == '&')
            repl = "&amp;";
        else if (esc != ESC_NONE && cp == '<')
            repl = "&lt;";
        else if (esc != ESC_NONE && cp == '>')
            repl = "&gt;";
        else if (esc == ESC_ATTR && cp == '"')
            repl = "&quot;";
        if (!repl) {
            i += n;
            continue;
        }
        lv_buf_add(b, s + run, i - run);
        lv_buf_adds(b, repl);
        i += n ? n : 1;
        run = i;
    }
    lv_buf_add(b, s + run, len - run);
}

static char *clean_dup(const char *s, size_t len)
{
    struct lv_buf b = LV_BUF_INIT;
    put_clean(&b, s, len, ESC_NONE);
    return lv_buf_detach(&b);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* ---- gumbo memory ----
 * Every block gumbo allocates is linked in a list, so that the whole parse
 * is freed in one loop: gumbo_destroy_output() recurses once per nesting
 * level, and peers choose the nesting. The list also bounds what the parse
 * holds: HTML's tree construction clones formatting elements (a text after
 * each of n <p> under n distinct unclosed <b> makes n^2 elements), so past
 * the budget the allocator jumps out of gumbo and the parse is abandoned.
 * gumbo keeps no state outside its own allocations, so leaving it that way
 * loses nothing once the list is freed. */

union block {
    struct {
        union block *prev, *next;
        size_t size;
    } l;
    max_align_t align; /* keeps what follows the header aligned for gumbo */
};

struct arena {
    union block head; /* list sentinel */
    size_t used;      /* bytes held by gumbo, headers included */
    size_t budget;
    jmp_buf *escape; /* where to go when the budget is spent */
};

static void *arena_alloc(void *ud, size_t size)
{
    struct arena *a = ud;
    size_t total = sizeof(union block) + size;
    if (total < size || total > a->budget - a->used)
        longjmp(*a->escape, 1);
    a->used += total;
    union block *b = lv_xmalloc(total);
    b->l.size = total;
    b->l.prev = &a->head;
    b->l.next = a->head.l.next;
    a->head.l.next->l.prev = b;
    a->head.l.next = b;
    return b + 1;
}

static void arena_free(void *ud, void *ptr)
{
    struct arena *a = ud;
    if (!ptr)
        return;
    union block *b = (union block *)ptr - 1;
    a->used -= b->l.size;
    b->l.prev->l.next = b->l.next;
    b->l.next->l.prev = b->l.prev;
    free(b);
}

static void arena_init(struct arena *a, size_t budget, jmp_buf *escape)
{
    a->head.l.prev = a->head.l.next = &a->head;
    a->used = 0;
    a->budget = budget;
    a->escape = escape;
}

static void arena_release(struct arena *a)
{
    union block *b = a->head.l.next;
    while (b != &a->head) {
        union block *next = b->l.next;
        free(b);
        b = next;
    }
    a->head.l.prev = a->head.l.next = &a->head;
    a->used = 0;
}

/* ---- gumbo tree to lv_xml ---- */

struct conv {
    const struct lv_ap_html_limits *lim;
    size_t nodes;
    bool truncated;
    bool stop; /* node budget spent: the rest is dropped */
};

static const char *ns_uri(GumboNamespaceEnum ns)
{
    switch (ns) {
    case GUMBO_NAMESPACE_SVG:
        return NS_SVG;
    case GUMBO_NAMESPACE_MATHML:
        return NS_MATHML;
    default:
        return LV_NS_XHTML;
    }
}

static bool name_char(unsigned char c, bool first)
{
    return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_' ||
           (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
}

/* Lower-cased copy of s[0..len) when it is a plain (prefix-less, ASCII) XML
 * name, else NULL. */
static char *xml_name(const char *s, size_t len)
{
    if (len == 0)
        return NULL;
    char *r = lv_xmalloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!name_char(c, i == 0)) {
            free(r);
            return NULL;
        }
        r[i] = (char)((c >= 'A' && c <= 'Z') ? c | 0x20 : c);
    }
    r[len] = '\0';
    return r;
}

/* Element name: gumbo's for known tags, the source's for others (custom
 * elements); names XML cannot hold get a placeholder the sanitiser unwraps
 * like any unknown element. */
static char *elem_name(const GumboElement *e)
{
    char *name = NULL;
    if (e->tag != GUMBO_TAG_UNKNOWN) {
        const char *n = gumbo_normalized_tagname(e->tag);
        name = xml_name(n, strlen(n));
    } else if (e->original_tag.length > 0) {
        GumboStringPiece t = e->original_tag;
        gumbo_tag_from_original_text(&t);
        size_t n = 0;
        while (n < t.length && !is_space(t.data[n]) && t.data[n] != '/' && t.data[n] != '>')
            n++;
        name = xml_name(t.data, n);
    }
    return name ? name : lv_xstrdup("x-unknown");
}

/* Attribute name as lv_xml stores it: namespaced ones (xlink:href in SVG)
 * in Clark notation. NULL when XML cannot hold it (the sanitiser would drop
 * it anyway; names like `"x` must not reach a tree). */
static char *attr_name(const GumboAttribute *a)
{
    char *local = xml_name(a->name, strlen(a->name));
    if (a->attr_namespace == GUMBO_ATTR_NAMESPACE_NONE) {
        if (!local && strcmp(a->name, "xml:lang") == 0)
            return lv_xstrdup("xml:lang");
        return local;
    }
    if (!local)
        return NULL;
    const char *uri = a->attr_namespace == GUMBO_ATTR_NAMESPACE_XLINK ? NS_XLINK
                      : a->attr_namespace == GUMBO_ATTR_NAMESPACE_XML ? LV_NS_XML
                                                                      : NS_XMLNS;
    char *r = strcmp(uri, LV_NS_XML) == 0 ? lv_xasprintf("xml:%s", local)
                                          : lv_xasprintf("{%s}%s", uri, local);
    free(local);
    return r;
}

static bool url_attr(const char *name)
{
    return strcmp(name, "href") == 0 || strcmp(name, "src") == 0 || strcmp(name, "cite") == 0;
}

/* A URL as a browser reads it: leading and trailing spaces and controls
 * stripped, tabs and newlines removed anywhere. Stored that way, the link
 * we keep is the one a reader follows (the sanitiser reads schemes the same
 * way, so this is about fidelity, not safety). */
static char *url_dup(const char *v)
{
    const unsigned char *s = (const unsigned char *)v;
    size_t len = strlen(v);
    while (len && s[0] <= 0x20)
        s++, len--;
    while (len && s[len - 1] <= 0x20)
        len--;
    char *r = lv_xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            r[n++] = (char)s[i];
    r[n] = '\0';
    char *clean = clean_dup(r, n);
    free(r);
    return clean;
}

static void copy_attrs(struct lv_xml *x, const GumboElement *e)
{
    for (unsigned i = 0; i < e->attributes.length; i++) {
        const GumboAttribute *a = e->attributes.data[i];
        char *name = attr_name(a);
        if (!name)
            continue;
        char *value = url_attr(name) ? url_dup(a->value) : clean_dup(a->value, strlen(a->value));
        lv_xml_set_attr(x, name, value);
        free(value);
        free(name);
    }
}

static bool has_class(const GumboElement *e, const char *cls)
{
    const GumboAttribute *a = gumbo_get_attribute(&e->attributes, "class");
    size_t n = strlen(cls);
    for (const char *p = a ? a->value : ""; *p;) {
        while (is_space(*p))
            p++;
        size_t len = 0;
        while (p[len] && !is_space(p[len]))
            len++;
        if (len == n && strncasecmp(p, cls, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* Mastodon's shortened link: <a href> with a direct <span class="invisible">
 * or <span class="ellipsis"> child. Returns the href, or NULL. */
static const char *shortened_link(const GumboElement *e)
{
    if (e->tag != GUMBO_TAG_A || e->tag_namespace != GUMBO_NAMESPACE_HTML)
        return NULL;
    const GumboAttribute *href = gumbo_get_attribute(&e->attributes, "href");
    if (!href)
        return NULL;
    for (unsigned i = 0; i < e->children.length; i++) {
        const GumboNode *c = e->children.data[i];
        if (c->type == GUMBO_NODE_ELEMENT && c->v.element.tag == GUMBO_TAG_SPAN &&
            c->v.element.tag_namespace == GUMBO_NAMESPACE_HTML &&
            (has_class(&c->v.element, "invisible") || has_class(&c->v.element, "ellipsis")))
            return href->value;
    }
    return NULL;
}

static bool take_node(struct conv *c)
{
    if (c->nodes >= c->lim->max_nodes) {
        c->truncated = c->stop = true;
        return false;
    }
    c->nodes++;
    return true;
}

static void add_text(struct conv *c, struct lv_xml *parent, const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || !take_node(c))
        return;
    struct lv_buf b = LV_BUF_INIT;
    put_clean(&b, s, len, ESC_NONE);
    lv_xml_add_text(parent, b.data ? b.data : "", b.len);
    lv_buf_release(&b);
}

/* Converts element node e under parent. Returns the new element when its
 * children are to be converted next, else NULL. */
static struct lv_xml *add_elem(struct conv *c, struct lv_xml *parent, unsigned depth,
                               const GumboElement *e)
{
    if (depth >= c->lim->max_depth) {
        c->truncated = true;
        return NULL;
    }
    if (!take_node(c))
        return NULL;
    char *name = elem_name(e);
    struct lv_xml *x = lv_xml_new_child(parent, name, ns_uri(e->tag_namespace));
    free(name);
    copy_attrs(x, e);
    const char *full = shortened_link(e);
    if (full) {
        char *u = url_dup(full);
        add_text(c, x, u);
        free(u);
        return NULL;
    }
    return e->children.length ? x : NULL;
}

static const GumboVector *children_of(const GumboNode *n)
{
    return n->type == GUMBO_NODE_DOCUMENT ? &n->v.document.children : &n->v.element.children;
}

/* The node after n among its parent's children, or NULL. gumbo keeps
 * index_within_parent up to date; a linear search backs it up. */
static const GumboNode *next_sibling(const GumboNode *n)
{
    const GumboVector *v = children_of(n->parent);
    size_t i = n->index_within_parent;
    if (i >= v->length || v->data[i] != n) {
        for (i = 0; i < v->length && v->data[i] != n; i++)
            ;
    }
    return i + 1 < v->length ? v->data[i + 1] : NULL;
}

/* Converts the children of top under root, iteratively: the walk climbs by
 * gumbo's parent pointers, so nesting costs no stack. */
static void convert(struct conv *c, const GumboNode *top, struct lv_xml *root)
{
    const GumboVector *kids = children_of(top);
    const GumboNode *n = kids->length ? kids->data[0] : NULL;
    struct lv_xml *cur = root;
    unsigned depth = 0; /* of cur below root */
    while (n && !c->stop) {
        struct lv_xml *entered = NULL;
        switch (n->type) {
        case GUMBO_NODE_TEXT:
        case GUMBO_NODE_WHITESPACE:
        case GUMBO_NODE_CDATA:
            add_text(c, cur, n->v.text.text);
            break;
        case GUMBO_NODE_ELEMENT:
            entered = add_elem(c, cur, depth, &n->v.element);
            break;
        default: /* comments, templates (with their contents), doctypes */
            break;
        }
        if (entered) {
            cur = entered;
            depth++;
            n = n->v.element.children.data[0];
            continue;
        }
        const GumboNode *next;
        while (!(next = next_sibling(n))) {
            n = n->parent;
            if (n == top)
                return;
            cur = cur->parent;
            depth--;
        }
        n = next;
    }
}

static bool blank_text(const struct lv_xml *x)
{
    if (!x || x->kind != LV_XML_TEXT)
        return false;
    for (size_t i = 0; i < x->text_len; i++)
        if (!is_space(x->text[i]))
            return false;
    return true;
}

static void trim_blank_edges(struct lv_xml *root)
{
    while (blank_text(root->children)) {
        struct lv_xml *t = root->children;
        lv_xml_detach(t);
        lv_xml_unref(t);
    }
    while (blank_text(root->last)) {
        struct lv_xml *t = root->last;
        lv_xml_detach(t);
        lv_xml_unref(t);
    }
}

/* Where the input is cut so that it holds at most max '<': every element,
 * comment and end tag the parser sees starts with one, and the parser's
 * work grows with their number times the nesting (its scope checks walk
 * the stack of open elements), so this bounds it by max^2 whatever the
 * input nests like. */
static size_t markup_cut(const char *s, size_t len, size_t max)
{
    const char *p = s, *end = s + len;
    for (size_t n = 0; (p = memchr(p, '<', (size_t)(end - p))) != NULL; p++)
        if (n++ == max)
            return (size_t)(p - s);
    return len;
}

/* Parses html[0..len) into gumbo's tree and converts it under root. 0 or
 * LV_ERR_LIMIT when the parse needed more memory than allowed. The arena
 * lives in the caller's frame: objects local to this one and changed after
 * setjmp() would be indeterminate after the jump. */
static int parse_into(struct conv *c, struct arena *arena, const char *html, size_t len,
                      struct lv_xml *root)
{
    jmp_buf escape;
    arena_init(arena, c->lim->max_parser_bytes, &escape);
    if (setjmp(escape) != 0) {
        arena_release(arena);
        return LV_ERR_LIMIT;
    }
    GumboOptions opt = kGumboDefaultOptions;
    opt.allocator = arena_alloc;
    opt.deallocator = arena_free;
    opt.userdata = arena;
    opt.max_errors = 0; /* parse errors are not reported: do not keep them */
    opt.fragment_context = GUMBO_TAG_DIV;
    opt.fragment_namespace = GUMBO_NAMESPACE_HTML;
    GumboOutput *g = gumbo_parse_with_options(&opt, len ? html : "", len);
    /* A fragment's nodes are the children of gumbo's <html> root. */
    convert(c, g->root, root);
    arena_release(arena); /* frees g and its whole tree */
    return 0;
}

int lv_ap_html_to_xhtml(const char *html, size_t len, const struct lv_ap_html_limits *lim,
                        struct lv_xml **out, bool *truncated, struct lv_error *err)
{
    static const struct lv_ap_html_limits defaults = LV_AP_HTML_LIMITS_DEFAULT;
    struct conv c = {.lim = lim ? lim : &defaults};
    *out = NULL;
    if (truncated)
        *truncated = false;
    if (len > c.lim->max_bytes)
        return lv_error_set(err, LV_ERR_LIMIT, "HTML content of %zu bytes (limit %zu)", len,
                            c.lim->max_bytes);
    size_t cut = markup_cut(html, len, c.lim->max_markup);
    c.truncated = cut < len;
    struct lv_xml *root = lv_xml_new("div", LV_NS_XHTML);
    struct arena arena;
    if (parse_into(&c, &arena, html, cut, root) != 0) {
        lv_xml_unref(root);
        return lv_error_set(err, LV_ERR_LIMIT, "HTML content needs more than %zu bytes to parse",
                            c.lim->max_parser_bytes);
    }
    lv_syntax_sanitize(root);
    trim_blank_edges(root);
    if (truncated)
        *truncated = c.truncated;
    *out = root;
    return 0;
}

int lv_ap_html_to_text(const char *html, size_t len, const struct lv_ap_html_limits *lim,
                       char **out, struct lv_error *err)
{
    struct lv_xml *x = NULL;
    *out = NULL;
    int rc = lv_ap_html_to_xhtml(html, len, lim, &x, NULL, err);
    if (rc != 0)
        return rc;
    *out = lv_syntax_xhtml_to_text(x);
    lv_xml_unref(x);
    return 0;
}

/* ---- linking mentions and URLs in text ---- */

struct html_out {
    struct lv_buf b;
    const struct lv_ap_mention *mentions;
    size_t nmentions;
    unsigned nolink; /* open <a>, <pre> and <code>: no links made inside */
};

static const char *skip_at(const char *s)
{
    return s && s[0] == '@' ? s + 1 : s;
}

/* A byte that continues a word or handle, so that "@x" right after (or
 * before) it is not a mention of x. Non-ASCII bytes count as letters. */
static bool word_byte(unsigned char c)
{
    return is_alnum(c) || c == '_' || c >= 0x80;
}

static bool boundary_before(const char *s, size_t i)
{
    if (i == 0)
        return true;
    unsigned char p = (unsigned char)s[i - 1];
    if (p == 0xa0 && i >= 2 && (unsigned char)s[i - 2] == 0xc2)
        return true; /* no-break space */
    return !word_byte(p) && p != '/' && p != '@' && p != '.' && p != '-' && p != '+';
}

/* Whether a handle of n bytes at s[0..len) ends there: a '.' ends a
 * sentence, not a handle, unless a handle character follows. */
static bool handle_ends(const char *s, size_t len, size_t n)
{
    if (n == len)
        return true;
    unsigned char c = (unsigned char)s[n];
    if (c == '.' || c == '-')
        return n + 1 == len || !word_byte((unsigned char)s[n + 1]);
    return !word_byte(c) && c != '@';
}

/* Matches "@handle" at s against handle (without its '@'); returns the
 * length matched (the '@' included) or 0. */
static size_t match_handle(const char *s, size_t len, const char *handle)
{
    size_t n = handle ? strlen(handle) : 0;
    if (n == 0 || len < n + 1 || strncasecmp(s + 1, handle, n) != 0)
        return 0;
    return handle_ends(s, len, n + 1) ? n + 1 : 0;
}

/* Actor ids come from remote documents: only http(s) ones become links. */
static bool actor_url(const char *href)
{
    return href && ((strncasecmp(href, "https://", 8) == 0 && href[8]) ||
                    (strncasecmp(href, "http://", 7) == 0 && href[7]));
}

/* The mention written at s (which starts with '@'), longest match first;
 * its length in *mlen. */
static const struct lv_ap_mention *find_mention(const struct html_out *h, const char *s, size_t len,
                                                size_t *mlen)
{
    const struct lv_ap_mention *best = NULL;
    *mlen = 0;
    for (size_t i = 0; i < h->nmentions; i++) {
        const struct lv_ap_mention *m = &h->mentions[i];
        if (!actor_url(m->href))
            continue;
        size_t a = match_handle(s, len, skip_at(m->name));
        size_t b = match_handle(s, len, skip_at(m->alias));
        size_t n = a > b ? a : b;
        if (n > *mlen) {
            *mlen = n;
            best = m;
        }
    }
    return best;
}

static void put_mention(struct html_out *h, const struct lv_ap_mention *m, const char *s,
                        size_t mlen)
{
    /* The link shows the user part of the AP handle, as Mastodon does. */
    const char *user = skip_at(m->name);
    if (!user || !*user)
        user = skip_at(m->alias);
    const char *at = strchr(user, '@');
    size_t ulen = at ? (size_t)(at - user) : strlen(user);
    if (ulen == 0) { /* a handle that is only "@host": show what was written */
        user = s + 1;
        ulen = mlen - 1;
    }
    lv_buf_adds(&h->b, "<span class=\"h-card\"><a href=\"");
    put_clean(&h->b, m->href, strlen(m->href), ESC_ATTR);
    lv_buf_adds(&h->b, "\" class=\"u-url mention\">@<span>");
    put_clean(&h->b, user, ulen, ESC_TEXT);
    lv_buf_adds(&h->b, "</span></a></span>");
}

static bool url_byte(unsigned char c, const char *s, size_t i, size_t len)
{
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"')
        return false;
    /* a no-break space ends a URL as a space does */
    return !(c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] == 0xa0);
}

/* Whether u[0..n) ends with a closing bracket that has no opening one
 * inside (a URL in parentheses), as opposed to "wiki/Foo_(bar)". */
static bool unbalanced_close(const char *u, size_t n)
{
    static const char pairs[] = "()[]{}";
    const char *p = strchr(pairs, u[n - 1]);
    if (!p || (p - pairs) % 2 == 0)
        return false;
    long depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (u[i] == p[-1])
            depth++;
        else if (u[i] == p[0])
            depth--;
    }
    return depth < 0;
}

/* Length of the bare http(s) URL starting at s, or 0. */
static size_t url_at(const char *s, size_t len)
{
    size_t n;
    if (len > 7 && strncasecmp(s, "http://", 7) == 0)
        n = 7;
    else if (len > 8 && strncasecmp(s, "https://", 8) == 0)
        n = 8;
    else
        return 0;
    unsigned char h = (unsigned char)s[n];
    if (!is_alnum(h) && h < 0x80 && h != '[')
        return 0; /* no host */
    size_t start = n;
    while (n < len && url_byte((unsigned char)s[n], s, n, len))
        n++;
    while (n > start && (strchr(".,:;!?'*", s[n - 1]) || unbalanced_close(s, n)))
        n--;
    return n > start ? n : 0;
}

static void put_url(struct html_out *h, const char *u, size_t n)
{
    lv_buf_adds(&h->b, "<a href=\"");
    put_clean(&h->b, u, n, ESC_ATTR);
    lv_buf_adds(&h->b, "\">");
    put_clean(&h->b, u, n, ESC_TEXT);
    lv_buf_adds(&h->b, "</a>");
}

/* Writes text, linking mentions and bare URLs. */
static void put_linked(struct html_out *h, const char *s, size_t len)
{
    size_t i = 0, done = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t n = 0;
        const struct lv_ap_mention *m = NULL;
        if (c == '@' && boundary_before(s, i))
            m = find_mention(h, s + i, len - i, &n);
        else if ((c | 0x20) == 'h' && (i == 0 || !word_byte((unsigned char)s[i - 1])))
            n = url_at(s + i, len - i);
        if (n == 0) {
            i++;
            continue;
        }
        put_clean(&h->b, s + done, i - done, ESC_TEXT);
        if (m)
            put_mention(h, m, s + i, n);
        else
            put_url(h, s + i, n);
        i += n;
        done = i;
    }
    put_clean(&h->b, s + done, len - done, ESC_TEXT);
}

/* ---- XHTML to HTML5 ---- */

static const char *const void_elems[] = {
    "area", "base", "br",    "col",    "embed", "hr",  "img",    "input",
    "link", "meta", "param", "source", "track", "wbr", "keygen",
};

static bool in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static bool is_void(const struct lv_xml *x)
{
    return in_list(void_elems, LV_ARRAY_LEN(void_elems), x->name);
}

static bool blocks_links(const struct lv_xml *x)
{
    return strcmp(x->name, "a") == 0 || strcmp(x->name, "pre") == 0 || strcmp(x->name, "code") == 0;
}

static void put_attrs(struct html_out *h, const struct lv_xml *x)
{
    bool has_lang = lv_xml_attr(x, "lang") != NULL;
    for (size_t i = 0; i < x->nattrs; i++) {
        const char *name = x->attrs[i].name;
        if (strcmp(name, "xml:lang") == 0) {
            if (has_lang)
                continue;
            name = "lang"; /* HTML's spelling */
        }
        if (name[0] == '{' || strchr(name, ':'))
            continue; /* namespaced: nothing HTML reads */
        lv_buf_addc(&h->b, ' ');
        lv_buf_adds(&h->b, name);
        lv_buf_adds(&h->b, "=\"");
        put_clean(&h->b, x->attrs[i].value, strlen(x->attrs[i].value), ESC_ATTR);
        lv_buf_addc(&h->b, '"');
    }
}

/* Writes x's start (or its text). Returns whether its children are to be
 * written, followed by its end tag. */
static bool html_enter(struct html_out *h, const struct lv_xml *x)
{
    if (x->kind == LV_XML_TEXT) {
        if (h->nolink)
            put_clean(&h->b, x->text, x->text_len, ESC_TEXT);
        else
            put_linked(h, x->text, x->text_len);
        return false;
    }
    lv_buf_addc(&h->b, '<');
    lv_buf_adds(&h->b, x->name);
    put_attrs(h, x);
    lv_buf_addc(&h->b, '>');
    if (is_void(x))
        return false;
    /* An HTML parser drops a newline right after <pre>: double it so that
     * a content starting with one keeps it. */
    if (strcmp(x->name, "pre") == 0 && x->children && x->children->kind == LV_XML_TEXT &&
        x->children->text_len && x->children->text[0] == '\n')
        lv_buf_addc(&h->b, '\n');
    if (blocks_links(x))
        h->nolink++;
    return true;
}

static void html_exit(struct html_out *h, const struct lv_xml *x)
{
    if (blocks_links(x))
        h->nolink--;
    lv_buf_adds(&h->b, "</");
    lv_buf_adds(&h->b, x->name);
    lv_buf_addc(&h->b, '>');
}

/* Writes the children of root (a sanitised div), iteratively. */
static void write_children(struct html_out *h, const struct lv_xml *root)
{
    const struct lv_xml *n = root->children;
    while (n) {
        if (html_enter(h, n)) {
            if (n->children) {
                n = n->children;
                continue;
            }
            html_exit(h, n);
        }
        while (!n->next) {
            n = n->parent;
            if (n == root)
                return;
            html_exit(h, n);
        }
        n = n->next;
    }
}

static char *write_html(struct lv_xml *div, const struct lv_ap_mention *mentions, size_t n)
{
    struct html_out h = {.b = LV_BUF_INIT, .mentions = mentions, .nmentions = mentions ? n : 0};
    lv_syntax_sanitize(div);
    write_children(&h, div);
    return lv_buf_detach(&h.b);
}

char *lv_ap_html_from_xhtml(const struct lv_xml *content, const struct lv_ap_mention *mentions,
                            size_t n)
{
    if (!content || content->kind != LV_XML_ELEM)
        return lv_xstrdup("");
    struct lv_xml *div = lv_xml_copy(content);
    char *s = write_html(div, mentions, n);
    lv_xml_unref(div);
    return s;
}

char *lv_ap_html_from_text(const char *text, size_t len, const struct lv_ap_mention *mentions,
                           size_t n)
{
    struct lv_xml *div = lv_syntax_text_to_xhtml(text ? text : "", text ? len : 0);
    char *s = write_html(div, mentions, n);
    lv_xml_unref(div);
    return s;
}
