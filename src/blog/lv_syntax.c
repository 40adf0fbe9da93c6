#include "blog/lv_syntax.h"

#include <cmark.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/lv_buf.h"
#include "core/lv_mem.h"

/* ---- allow-list ---- */

/* Elements kept as they are: XEP-0071's recommended set, plus tables and a
 * few inline ones that only change how text looks. */
static const char *const kept_elems[] = {
    "a",     "abbr", "acronym", "b",     "blockquote", "br",     "cite",   "code", "dd",  "del",
    "dfn",   "div",  "dl",      "dt",    "em",         "h1",     "h2",     "h3",   "h4",  "h5",
    "h6",    "hr",   "i",       "img",   "ins",        "kbd",    "li",     "ol",   "p",   "pre",
    "q",     "s",    "samp",    "small", "span",       "strike", "strong", "sub",  "sup", "table",
    "tbody", "td",   "tfoot",   "th",    "thead",      "tr",     "u",      "ul",   "var",
};

/* Elements removed with their content: active content, forms, and
 * document metadata whose text was never meant to be read as the post. */
static const char *const dropped_elems[] = {
    "script", "style",    "iframe",   "object",   "embed",    "form", "input", "button",
    "select", "textarea", "head",     "title",    "meta",     "link", "svg",   "math",
    "applet", "frame",    "frameset", "noscript", "template", "base", "param",
};

enum attr_kind { ATTR_PLAIN, ATTR_URL, ATTR_NUMBER };

struct attr_rule {
    const char *elem; /* NULL: on any kept element */
    const char *name;
    enum attr_kind kind;
};

/* class and style are dropped: XEP-0071 allows style, but CSS is a way to
 * hide or overlay content, and class names only make sense with our pages'
 * stylesheets. */
static const struct attr_rule attr_rules[] = {
    {NULL, "title", ATTR_PLAIN},      {NULL, "lang", ATTR_PLAIN},
    {NULL, "xml:lang", ATTR_PLAIN},   {"a", "href", ATTR_URL},
    {"img", "src", ATTR_URL},         {"img", "alt", ATTR_PLAIN},
    {"img", "width", ATTR_NUMBER},    {"img", "height", ATTR_NUMBER},
    {"blockquote", "cite", ATTR_URL}, {"q", "cite", ATTR_URL},
    {"del", "cite", ATTR_URL},        {"ins", "cite", ATTR_URL},
    {"td", "colspan", ATTR_NUMBER},   {"td", "rowspan", ATTR_NUMBER},
    {"th", "colspan", ATTR_NUMBER},   {"th", "rowspan", ATTR_NUMBER},
    {"ol", "start", ATTR_NUMBER},
};

static const char *const url_schemes[] = {"http", "https", "xmpp", "mailto"};

enum elem_fate { KEEP, DROP, UNWRAP };

static bool in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static bool is_xhtml(const struct lv_xml *x)
{
    return x->ns && strcmp(x->ns, LV_NS_XHTML) == 0;
}

static enum elem_fate fate(const struct lv_xml *x)
{
    /* Foreign vocabularies (SVG, MathML, anything else) can carry active
     * content we do not know how to check: they go whole. */
    if (!is_xhtml(x) || in_list(dropped_elems, LV_ARRAY_LEN(dropped_elems), x->name))
        return DROP;
    if (in_list(kept_elems, LV_ARRAY_LEN(kept_elems), x->name))
        return KEEP;
    return UNWRAP;
}

static bool is_url_space(unsigned char c)
{
    return c == '\t' || c == '\n' || c == '\r';
}

/* A URL is safe when it is relative or its scheme is allowed. Browsers skip
 * leading spaces and controls and ignore tabs and newlines anywhere, so the
 * scheme is read the same way ("java\tscript:" is javascript:). Anything
 * before the first ':' that is not a plain allowed scheme is refused, which
 * also refuses a few odd relative paths ("a:b"): a safe loss. */
static bool safe_url(const char *v)
{
    const unsigned char *p = (const unsigned char *)v;
    char scheme[16];
    size_t n = 0;
    while (*p && *p <= 0x20)
        p++;
    for (; *p && *p != ':'; p++) {
        if (*p == '/' || *p == '?' || *p == '#')
            return true;
        if (is_url_space(*p))
            continue;
        if (n + 1 < sizeof(scheme))
            scheme[n] = (char)*p;
        n++;
    }
    if (!*p)
        return true;
    if (n >= sizeof(scheme))
        return false; /* longer than any allowed scheme */
    scheme[n] = '\0';
    for (size_t i = 0; i < LV_ARRAY_LEN(url_schemes); i++)
        if (strcasecmp(scheme, url_schemes[i]) == 0)
            return true;
    return false;
}

static bool small_number(const char *v)
{
    size_t n = strspn(v, "0123456789");
    return n > 0 && n <= 9 && (v[n] == '\0' || (v[n] == '%' && v[n + 1] == '\0'));
}

static bool attr_allowed(const char *elem, const struct lv_xml_attr *a)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(attr_rules); i++) {
        const struct attr_rule *r = &attr_rules[i];
        if (strcmp(r->name, a->name) != 0 || (r->elem && strcmp(r->elem, elem) != 0))
            continue;
        if (r->kind == ATTR_URL)
            return safe_url(a->value);
        if (r->kind == ATTR_NUMBER)
            return small_number(a->value);
        return true;
    }
    return false;
}

static void clean_attrs(struct lv_xml *x)
{
    size_t kept = 0;
    for (size_t i = 0; i < x->nattrs; i++) {
        if (attr_allowed(x->name, &x->attrs[i])) {
            x->attrs[kept++] = x->attrs[i];
            continue;
        }
        free(x->attrs[i].name);
        free(x->attrs[i].value);
    }
    x->nattrs = kept;
}

static void clear_attrs(struct lv_xml *x)
{
    for (size_t i = 0; i < x->nattrs; i++) {
        free(x->attrs[i].name);
        free(x->attrs[i].value);
    }
    x->nattrs = 0;
}

/* ---- tree surgery ----
 * lv_xml has no "insert before" and lv_xml_detach() walks the sibling list,
 * which would make filtering n siblings quadratic; the filter keeps the
 * previous sibling at hand and relinks the list itself. */

/* Unlinks c (whose previous sibling is prev) from parent and frees it.
 * Returns the node that followed it. */
static struct lv_xml *drop_child(struct lv_xml *parent, struct lv_xml *prev, struct lv_xml *c)
{
    struct lv_xml *next = c->next;
    if (prev)
        prev->next = next;
    else
        parent->children = next;
    if (parent->last == c)
        parent->last = prev;
    c->parent = NULL;
    c->next = NULL;
    lv_xml_unref(c);
    return next;
}

/* Replaces c by its children. Returns the first node now at c's place. */
static struct lv_xml *unwrap_child(struct lv_xml *parent, struct lv_xml *prev, struct lv_xml *c)
{
    struct lv_xml *first = c->children, *last = c->last;
    if (!first)
        return drop_child(parent, prev, c);
    for (struct lv_xml *k = first; k; k = k->next)
        k->parent = parent;
    last->next = c->next;
    if (prev)
        prev->next = first;
    else
        parent->children = first;
    if (parent->last == c)
        parent->last = last;
    c->children = c->last = NULL;
    c->next = NULL;
    c->parent = NULL;
    lv_xml_unref(c);
    return first;
}

/* Moves x's name, attributes and children into a new child, so that x can
 * become a bare <div> around it without changing identity. */
static void wrap_in_place(struct lv_xml *x)
{
    struct lv_xml *w = lv_xml_new(x->name, x->ns);
    w->attrs = x->attrs;
    w->nattrs = x->nattrs;
    w->attrs_cap = x->attrs_cap;
    x->attrs = NULL;
    x->nattrs = x->attrs_cap = 0;
    w->children = x->children;
    w->last = x->last;
    for (struct lv_xml *k = w->children; k; k = k->next)
        k->parent = w;
    x->children = x->last = NULL;
    lv_xml_add_child_take(x, w);
}

static void drop_all_children(struct lv_xml *x)
{
    while (x->children)
        drop_child(x, NULL, x->children);
}

static void rename_div(struct lv_xml *x)
{
    free(x->name);
    x->name = lv_xstrdup("div");
    free(x->ns);
    x->ns = lv_xstrdup(LV_NS_XHTML);
}

static void make_root_div(struct lv_xml *root)
{
    enum elem_fate f = fate(root);
    if (f == KEEP && strcmp(root->name, "div") == 0) {
        clean_attrs(root);
        return;
    }
    if (f == KEEP) {
        wrap_in_place(root);
    } else {
        if (f == DROP)
            drop_all_children(root);
        clear_attrs(root);
    }
    rename_div(root);
}

/* Applies each child's fate; unwrapped children are examined again at
 * their new place, so nested unknown elements all go. Past the depth limit
 * (flatten), kept elements are unwrapped too: their text stays. */
static void filter_children(struct lv_xml *parent, bool flatten)
{
    struct lv_xml *prev = NULL, *c = parent->children;
    while (c) {
        if (c->kind != LV_XML_ELEM) {
            prev = c;
            c = c->next;
            continue;
        }
        enum elem_fate f = fate(c);
        if (f == KEEP && flatten)
            f = UNWRAP;
        switch (f) {
        case KEEP:
            clean_attrs(c);
            prev = c;
            c = c->next;
            break;
        case DROP:
            c = drop_child(parent, prev, c);
            break;
        case UNWRAP:
            c = unwrap_child(parent, prev, c);
            break;
        }
    }
}

void lv_syntax_sanitize(struct lv_xml *root)
{
    if (!root || root->kind != LV_XML_ELEM)
        return;
    make_root_div(root);
    /* Each kept element filters its own children before the walk enters
     * them. Iterative, climbing by parent pointers: no nesting depth can
     * exhaust the stack. */
    struct lv_xml *n = root;
    unsigned depth = 0; /* of n below root */
    for (;;) {
        if (n->kind == LV_XML_ELEM) {
            filter_children(n, depth >= LV_SYNTAX_MAX_DEPTH);
            if (n->children) {
                n = n->children;
                depth++;
                continue;
            }
        }
        while (n != root && !n->next) {
            n = n->parent;
            depth--;
        }
        if (n == root)
            return;
        n = n->next;
    }
}

/* ---- parsing XHTML fragments ---- */

static const char wrap_open[] = "<div xmlns='" LV_NS_XHTML "'>\n";
static const char wrap_close[] = "\n</div>";

/* The fragment sits on its own lines inside the wrapper: positions in the
 * parser's message are one line off, and are given back in s's terms. */
static void fix_position(struct lv_error *err)
{
    unsigned long line, col;
    int used = 0;
    if (!err || sscanf(err->msg, "%lu:%lu:%n", &line, &col, &used) != 2 || used == 0 || line < 2)
        return;
    char msg[LV_ERROR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%lu:%lu:%s", line - 1, col, err->msg + used);
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
}

/* Removes the newline the wrapper put at the start (or end) of text node x;
 * drops x when that empties it. */
static void trim_wrapper_newline(struct lv_xml *x, bool at_end)
{
    if (!x || x->kind != LV_XML_TEXT || x->text_len == 0)
        return;
    if (at_end) {
        if (x->text[x->text_len - 1] != '\n')
            return;
        x->text[--x->text_len] = '\0';
    } else {
        if (x->text[0] != '\n')
            return;
        memmove(x->text, x->text + 1, x->text_len--);
    }
    if (x->text_len == 0) {
        lv_xml_detach(x);
        lv_xml_unref(x);
    }
}

static bool all_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", s[i]))
            return false;
    return true;
}

/* The wrapper's only element child, when everything else is whitespace. */
static struct lv_xml *single_root(const struct lv_xml *w)
{
    struct lv_xml *found = NULL;
    for (struct lv_xml *c = w->children; c; c = c->next) {
        if (c->kind == LV_XML_TEXT) {
            if (!all_space(c->text, c->text_len))
                return NULL;
        } else if (found) {
            return NULL;
        } else {
            found = c;
        }
    }
    return found;
}

int lv_syntax_parse_xhtml(const char *s, size_t len, struct lv_xml **out, struct lv_error *err)
{
    /* Wrapped, the fragment may hold several roots and bare text, and
     * unprefixed elements land in the XHTML namespace. The wrapper and a
     * root div take two levels above the allowed depth, so that whatever
     * lv_syntax_sanitize() leaves parses again. */
    struct lv_xml_limits lim = {
        .max_stanza_bytes = len + sizeof(wrap_open) + sizeof(wrap_close),
        .max_depth = LV_SYNTAX_MAX_DEPTH + 2,
        .max_attrs = 64,
        .max_children = 100000,
    };
    struct lv_buf b = LV_BUF_INIT;
    struct lv_xml *w = NULL;
    *out = NULL;
    lv_buf_adds(&b, wrap_open);
    lv_buf_add(&b, s, len);
    lv_buf_adds(&b, wrap_close);
    int rc = lv_xml_parse(b.data, b.len, &lim, &w, err);
    lv_buf_release(&b);
    if (rc != 0) {
        fix_position(err);
        return rc;
    }
    trim_wrapper_newline(w->children, false);
    trim_wrapper_newline(w->last, true);
    struct lv_xml *root = single_root(w);
    if (root) {
        lv_xml_detach(root);
        lv_xml_unref(w);
    } else {
        root = w;
    }
    lv_syntax_sanitize(root);
    *out = root;
    return 0;
}

/* ---- plain text to XHTML ---- */

struct lv_xml *lv_syntax_text_to_xhtml(const char *text, size_t len)
{
    struct lv_xml *root = lv_xml_new("div", LV_NS_XHTML);
    struct lv_xml *p = NULL;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t line_len = end - i;
        if (line_len && text[end - 1] == '\r')
            line_len--;
        if (all_space(text + i, line_len)) {
            p = NULL; /* a blank line ends the paragraph */
        } else {
            if (p)
                lv_xml_new_child(p, "br", NULL);
            else
                p = lv_xml_new_child(root, "p", NULL);
            lv_xml_add_text(p, text + i, line_len);
        }
        i = end + 1;
    }
    return root;
}

/* ---- markdown to XHTML ---- */

struct md_state {
    struct lv_xml *cur; /* element receiving content */
    unsigned depth;     /* elements between the root div and cur */
    unsigned skipped;   /* open markdown containers not written (too deep) */
};

/* Paragraphs of tight list items are written without <p>, as CommonMark's
 * HTML renderer does. */
static bool tight_paragraph(cmark_node *node)
{
    cmark_node *item = cmark_node_parent(node);
    cmark_node *list = item ? cmark_node_parent(item) : NULL;
    return item && cmark_node_get_type(item) == CMARK_NODE_ITEM && list &&
           cmark_node_get_list_tight(list);
}

/* Element written for a markdown container node, or NULL for none. */
static const char *container_name(cmark_node *node)
{
    static const char *const headings[] = {"h1", "h2", "h3", "h4", "h5", "h6"};
    int level;
    switch (cmark_node_get_type(node)) {
    case CMARK_NODE_BLOCK_QUOTE:
        return "blockquote";
    case CMARK_NODE_LIST:
        return cmark_node_get_list_type(node) == CMARK_ORDERED_LIST ? "ol" : "ul";
    case CMARK_NODE_ITEM:
        return "li";
    case CMARK_NODE_PARAGRAPH:
        return tight_paragraph(node) ? NULL : "p";
    case CMARK_NODE_HEADING:
        level = cmark_node_get_heading_level(node);
        return headings[level >= 1 && level <= 6 ? level - 1 : 0];
    case CMARK_NODE_EMPH:
        return "em";
    case CMARK_NODE_STRONG:
        return "strong";
    case CMARK_NODE_LINK:
        return "a";
    default:
        return NULL;
    }
}

/* A new child of cur, or NULL when it would nest too deep (the caller then
 * keeps the text in cur). */
static struct lv_xml *md_child(struct md_state *st, const char *name, unsigned levels)
{
    if (st->depth + levels > LV_SYNTAX_MAX_DEPTH)
        return NULL;
    return lv_xml_new_child(st->cur, name, NULL);
}

static void set_attr_nonempty(struct lv_xml *x, const char *name, const char *value)
{
    if (value && *value)
        lv_xml_set_attr(x, name, value);
}

static void md_enter(struct md_state *st, cmark_node *node)
{
    const char *name = container_name(node);
    if (!name)
        return;
    struct lv_xml *x = st->skipped ? NULL : md_child(st, name, 1);
    if (!x) {
        st->skipped++;
        return;
    }
    if (cmark_node_get_type(node) == CMARK_NODE_LINK) {
        set_attr_nonempty(x, "href", cmark_node_get_url(node));
        set_attr_nonempty(x, "title", cmark_node_get_title(node));
    } else if (cmark_node_get_type(node) == CMARK_NODE_LIST &&
               cmark_node_get_list_type(node) == CMARK_ORDERED_LIST &&
               cmark_node_get_list_start(node) != 1) {
        char start[16];
        snprintf(start, sizeof(start), "%d", cmark_node_get_list_start(node));
        lv_xml_set_attr(x, "start", start);
    }
    st->cur = x;
    st->depth++;
}

static void md_exit(struct md_state *st, cmark_node *node)
{
    if (!container_name(node))
        return;
    if (st->skipped) {
        st->skipped--;
        return;
    }
    st->cur = st->cur->parent;
    st->depth--;
}

static void add_str(struct lv_xml *x, const char *s)
{
    if (s)
        lv_xml_add_text(x, s, strlen(s));
}

/* Text of an image's description, for alt. */
static char *inline_text(cmark_node *node)
{
    struct lv_buf b = LV_BUF_INIT;
    cmark_iter *it = cmark_iter_new(node);
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        cmark_node_type t = cmark_node_get_type(n);
        if (ev != CMARK_EVENT_ENTER)
            continue;
        if (t == CMARK_NODE_TEXT || t == CMARK_NODE_CODE)
            lv_buf_adds(&b, cmark_node_get_literal(n));
        else if (t == CMARK_NODE_SOFTBREAK || t == CMARK_NODE_LINEBREAK)
            lv_buf_addc(&b, ' ');
    }
    cmark_iter_free(it);
    return lv_buf_detach(&b);
}

static void md_image(struct md_state *st, cmark_iter *it, cmark_node *node)
{
    char *alt = inline_text(node);
    struct lv_xml *img = st->skipped ? NULL : md_child(st, "img", 1);
    if (img) {
        set_attr_nonempty(img, "src", cmark_node_get_url(node));
        lv_xml_set_attr(img, "alt", alt);
        set_attr_nonempty(img, "title", cmark_node_get_title(node));
    } else {
        add_str(st->cur, alt);
    }
    free(alt);
    /* The description is in alt: skip the image's children. */
    cmark_iter_reset(it, node, CMARK_EVENT_EXIT);
}

/* An element holding literal text, or the bare text when too deep. */
static void md_literal(struct md_state *st, const char *name, const char *inner, const char *s)
{
    struct lv_xml *x = st->skipped ? NULL : md_child(st, name, inner ? 2 : 1);
    if (x && inner)
        x = lv_xml_new_child(x, inner, NULL);
    add_str(x ? x : st->cur, s);
}

static void md_break(struct md_state *st)
{
    if (!st->skipped)
        md_child(st, "br", 1);
    lv_xml_add_text(st->cur, "\n", 1);
}

static void md_leaf(struct md_state *st, cmark_node *node)
{
    switch (cmark_node_get_type(node)) {
    case CMARK_NODE_TEXT:
        add_str(st->cur, cmark_node_get_literal(node));
        break;
    case CMARK_NODE_SOFTBREAK: /* the reference's nl2br */
    case CMARK_NODE_LINEBREAK:
        md_break(st);
        break;
    case CMARK_NODE_CODE:
        md_literal(st, "code", NULL, cmark_node_get_literal(node));
        break;
    case CMARK_NODE_CODE_BLOCK:
        md_literal(st, "pre", "code", cmark_node_get_literal(node));
        break;
    case CMARK_NODE_THEMATIC_BREAK:
        if (!st->skipped)
            md_child(st, "hr", 1);
        break;
    default: /* raw HTML is dropped: it is not ours to pass through */
        break;
    }
}

static bool is_leaf(cmark_node *node)
{
    switch (cmark_node_get_type(node)) {
    case CMARK_NODE_TEXT:
    case CMARK_NODE_SOFTBREAK:
    case CMARK_NODE_LINEBREAK:
    case CMARK_NODE_CODE:
    case CMARK_NODE_CODE_BLOCK:
    case CMARK_NODE_THEMATIC_BREAK:
    case CMARK_NODE_HTML_BLOCK:
    case CMARK_NODE_HTML_INLINE:
        return true;
    default:
        return false;
    }
}

/* Builds the tree from cmark's AST rather than parsing its HTML output:
 * no HTML entities or void tags to reconcile with XML, and nesting can be
 * capped while building. */
struct lv_xml *lv_syntax_markdown_to_xhtml(const char *md, size_t len)
{
    struct lv_xml *root = lv_xml_new("div", LV_NS_XHTML);
    struct md_state st = {.cur = root};
    cmark_node *doc = cmark_parse_document(md ? md : "", md ? len : 0, CMARK_OPT_VALIDATE_UTF8);
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *node = cmark_iter_get_node(it);
        if (cmark_node_get_type(node) == CMARK_NODE_IMAGE && ev == CMARK_EVENT_ENTER)
            md_image(&st, it, node);
        else if (is_leaf(node))
            md_leaf(&st, node);
        else if (ev == CMARK_EVENT_ENTER)
            md_enter(&st, node);
        else
            md_exit(&st, node);
    }
    cmark_iter_free(it);
    cmark_node_free(doc);
    lv_syntax_sanitize(root); /* link and image URLs */
    return root;
}

/* ---- XHTML to text ---- */

/* Lists numbered in the text; deeper ones get "-" markers. */
#define TEXT_LIST_MAX 16

struct text_out {
    struct lv_buf b;
    int want_nl;               /* newlines due before the next text */
    bool space;                /* a collapsed space is due before the next text */
    bool marker_due;           /* the item's marker is due before its first text */
    char marker[24];           /* "- " or "3. " */
    unsigned pre;              /* open <pre> elements */
    unsigned lists;            /* open lists */
    long num[TEXT_LIST_MAX];   /* per open list: last item number, -1 for <ul> */
    unsigned cells;            /* cells seen in the current row */
    const struct lv_xml *link; /* outermost open <a> */
    size_t link_start;         /* where its text starts in b */
};

enum text_role { T_INLINE, T_SKIP, T_BR, T_PARA, T_LINE, T_LIST, T_ITEM, T_CELL, T_LINK, T_IMG };

struct text_rule {
    const char *name;
    enum text_role role;
};

static const struct text_rule text_rules[] = {
    {"br", T_BR},           {"p", T_PARA},       {"h1", T_PARA},      {"h2", T_PARA},
    {"h3", T_PARA},         {"h4", T_PARA},      {"h5", T_PARA},      {"h6", T_PARA},
    {"blockquote", T_PARA}, {"pre", T_PARA},     {"dl", T_PARA},      {"table", T_PARA},
    {"hr", T_PARA},         {"figure", T_PARA},  {"ul", T_LIST},      {"ol", T_LIST},
    {"li", T_ITEM},         {"div", T_LINE},     {"dt", T_LINE},      {"dd", T_LINE},
    {"tr", T_LINE},         {"caption", T_LINE}, {"section", T_LINE}, {"article", T_LINE},
    {"header", T_LINE},     {"footer", T_LINE},  {"address", T_LINE}, {"figcaption", T_LINE},
    {"td", T_CELL},         {"th", T_CELL},      {"a", T_LINK},       {"img", T_IMG},
};

static enum text_role text_role(const struct lv_xml *x)
{
    if (in_list(dropped_elems, LV_ARRAY_LEN(dropped_elems), x->name))
        return T_SKIP;
    for (size_t i = 0; i < LV_ARRAY_LEN(text_rules); i++)
        if (strcmp(text_rules[i].name, x->name) == 0)
            return text_rules[i].role;
    return T_INLINE;
}

static size_t trailing_newlines(const struct lv_buf *b)
{
    size_t n = 0;
    while (n < b->len && n < 2 && b->data[b->len - 1 - n] == '\n')
        n++;
    return n;
}

/* Requests a break of n newlines (1: new line, 2: blank line). Inside a
 * list item that has no text yet, the item's marker line is kept instead. */
static void want_break(struct text_out *t, int n)
{
    if (!t->marker_due && n > t->want_nl)
        t->want_nl = n;
}

/* Writes what is due before text: breaks, list marker, collapsed space. */
static void flush_due(struct text_out *t)
{
    if (t->b.len > 0 && t->want_nl > 0) {
        for (size_t have = trailing_newlines(&t->b); have < (size_t)t->want_nl; have++)
            lv_buf_addc(&t->b, '\n');
        t->space = false;
    }
    t->want_nl = 0;
    if (t->marker_due) {
        for (unsigned i = 1; i < t->lists; i++)
            lv_buf_adds(&t->b, "  ");
        lv_buf_adds(&t->b, t->marker);
        t->marker_due = false;
        t->space = false;
    }
    if (t->space && t->b.len > 0 && !strchr(" \n", t->b.data[t->b.len - 1]))
        lv_buf_addc(&t->b, ' ');
    t->space = false;
}

static bool collapsible(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static void put_text(struct text_out *t, const char *s, size_t len)
{
    if (t->pre) {
        if (len) {
            flush_due(t);
            lv_buf_add(&t->b, s, len);
        }
        return;
    }
    size_t i = 0;
    while (i < len) {
        if (collapsible(s[i])) {
            t->space = true;
            i++;
            continue;
        }
        size_t run = i;
        while (run < len && !collapsible(s[run]))
            run++;
        flush_due(t);
        lv_buf_add(&t->b, s + i, run - i);
        i = run;
    }
}

static void put_str(struct text_out *t, const char *s)
{
    put_text(t, s, strlen(s));
}

static void link_enter(struct text_out *t, const struct lv_xml *x)
{
    if (t->link)
        return;
    flush_due(t);
    t->link = x;
    t->link_start = t->b.len;
}

/* "text (href)" unless the text already is the address. */
static void link_exit(struct text_out *t, const struct lv_xml *x)
{
    if (t->link != x)
        return;
    t->link = NULL;
    const char *href = lv_xml_attr(x, "href");
    if (!href || !*href)
        return;
    const char *text = t->b.data ? t->b.data + t->link_start : "";
    size_t len = t->b.len - t->link_start;
    while (len && collapsible(*text)) {
        text++;
        len--;
    }
    if (len == strlen(href) && memcmp(text, href, len) == 0)
        return;
    if (len == 0) {
        put_str(t, href);
        return;
    }
    t->space = true;
    put_str(t, "(");
    lv_buf_adds(&t->b, href);
    lv_buf_addc(&t->b, ')');
}

static void list_enter(struct text_out *t, const struct lv_xml *x)
{
    want_break(t, t->lists ? 1 : 2);
    if (t->lists < TEXT_LIST_MAX) {
        const char *start = lv_xml_attr(x, "start");
        long first = start && small_number(start) ? strtol(start, NULL, 10) : 1;
        t->num[t->lists] = strcmp(x->name, "ol") == 0 ? first - 1 : -1;
    }
    t->lists++;
}

static void item_enter(struct text_out *t)
{
    unsigned i = t->lists - 1;
    want_break(t, 1);
    if (t->lists > 0 && i < TEXT_LIST_MAX && t->num[i] >= 0)
        snprintf(t->marker, sizeof(t->marker), "%ld. ", ++t->num[i]);
    else
        snprintf(t->marker, sizeof(t->marker), "- ");
    t->marker_due = true;
}

/* Returns whether x's children are to be walked. */
static bool text_enter(struct text_out *t, const struct lv_xml *x)
{
    const char *alt;
    switch (text_role(x)) {
    case T_SKIP:
        return false;
    case T_BR:
        flush_due(t);
        lv_buf_addc(&t->b, '\n');
        return false;
    case T_PARA:
        want_break(t, 2);
        if (strcmp(x->name, "pre") == 0)
            t->pre++;
        break;
    case T_LIST:
        list_enter(t, x);
        break;
    case T_ITEM:
        item_enter(t);
        break;
    case T_LINE:
        want_break(t, 1);
        if (strcmp(x->name, "tr") == 0)
            t->cells = 0;
        break;
    case T_CELL:
        if (t->cells++ > 0)
            put_str(t, " |");
        t->space = true;
        break;
    case T_LINK:
        link_enter(t, x);
        break;
    case T_IMG:
        alt = lv_xml_attr(x, "alt");
        if (alt)
            put_str(t, alt);
        return false;
    case T_INLINE:
        break;
    }
    return true;
}

static void text_exit(struct text_out *t, const struct lv_xml *x)
{
    switch (text_role(x)) {
    case T_PARA:
        if (strcmp(x->name, "pre") == 0 && t->pre)
            t->pre--;
        want_break(t, 2);
        break;
    case T_LIST:
        if (t->lists)
            t->lists--;
        want_break(t, t->lists ? 1 : 2);
        break;
    case T_ITEM:
        t->marker_due = false; /* an empty item writes no marker */
        want_break(t, 1);
        break;
    case T_LINE:
        want_break(t, 1);
        break;
    case T_LINK:
        link_exit(t, x);
        break;
    default:
        break;
    }
}

/* Visits x; returns whether its children are to be walked (and its exit
 * reported). */
static bool text_visit(struct text_out *t, const struct lv_xml *x)
{
    if (x->kind == LV_XML_TEXT) {
        put_text(t, x->text, x->text_len);
        return false;
    }
    return text_enter(t, x);
}

static char *trimmed(struct lv_buf *b)
{
    size_t start = 0, end = b->len;
    while (start < end && collapsible(b->data[start]))
        start++;
    while (end > start && collapsible(b->data[end - 1]))
        end--;
    char *s = lv_xstrndup(b->data ? b->data + start : "", end - start);
    lv_buf_release(b);
    return s;
}

char *lv_syntax_xhtml_to_text(const struct lv_xml *root)
{
    struct text_out t = {.b = LV_BUF_INIT};
    const struct lv_xml *n = root;
    if (!root)
        return lv_xstrdup("");
    /* Iterative walk with enter/exit events, climbing by parent pointers. */
    for (;;) {
        if (text_visit(&t, n)) {
            if (n->children) {
                n = n->children;
                continue;
            }
            text_exit(&t, n);
        }
        while (n != root && !n->next) {
            n = n->parent;
            text_exit(&t, n);
        }
        if (n == root)
            break;
        n = n->next;
    }
    return trimmed(&t.b);
}
