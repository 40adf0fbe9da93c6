#include "xml/lv_xml.h"
#include "xml/lv_xml_stream.h"

#include "core/lv_mem.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- construction and lifetime ---- */

struct lv_xml *lv_xml_new(const char *name, const char *ns)
{
    struct lv_xml *x = lv_xcalloc(1, sizeof(*x));
    x->kind = LV_XML_ELEM;
    x->name = lv_xstrdup(name);
    /* "" and NULL both mean "no namespace"; keeping one spelling makes
     * comparisons and round-trips exact. */
    x->ns = ns && *ns ? lv_xstrdup(ns) : NULL;
    x->refs = 1;
    return x;
}

struct lv_xml *lv_xml_new_text(const char *text, size_t len)
{
    struct lv_xml *x = lv_xcalloc(1, sizeof(*x));
    x->kind = LV_XML_TEXT;
    /* Not lv_xstrndup: the text is length-carrying and may hold NULs. */
    x->text = lv_xmalloc(len + 1);
    if (len)
        memcpy(x->text, text, len);
    x->text[len] = '\0';
    x->text_len = len;
    x->refs = 1;
    return x;
}

struct lv_xml *lv_xml_ref(struct lv_xml *x)
{
    if (x)
        x->refs++;
    return x;
}

static void free_node(struct lv_xml *x)
{
    struct lv_xml *c = x->children;
    while (c) {
        struct lv_xml *next = c->next;
        /* A handler may still hold a reference on a child: it then
         * survives as a parentless root instead of pointing at freed
         * memory. */
        c->parent = NULL;
        c->next = NULL;
        lv_xml_unref(c);
        c = next;
    }
    for (size_t i = 0; i < x->nattrs; i++) {
        free(x->attrs[i].name);
        free(x->attrs[i].value);
    }
    free(x->attrs);
    free(x->name);
    free(x->ns);
    free(x->text);
    free(x);
}

void lv_xml_unref(struct lv_xml *x)
{
    if (!x)
        return;
    assert(x->refs > 0);
    if (--x->refs == 0)
        free_node(x);
}

struct lv_xml *lv_xml_copy(const struct lv_xml *x)
{
    if (x->kind == LV_XML_TEXT)
        return lv_xml_new_text(x->text, x->text_len);
    struct lv_xml *c = lv_xml_new(x->name, x->ns);
    lv_grow((void **)&c->attrs, &c->attrs_cap, x->nattrs, sizeof(*c->attrs));
    for (size_t i = 0; i < x->nattrs; i++) {
        c->attrs[i].name = lv_xstrdup(x->attrs[i].name);
        c->attrs[i].value = lv_xstrdup(x->attrs[i].value);
    }
    c->nattrs = x->nattrs;
    for (const struct lv_xml *ch = x->children; ch; ch = ch->next)
        lv_xml_add_child_take(c, lv_xml_copy(ch));
    return c;
}

/* ---- tree editing ---- */

struct lv_xml *lv_xml_add_child_take(struct lv_xml *parent, struct lv_xml *child)
{
    assert(parent->kind == LV_XML_ELEM);
    assert(!child->parent && !child->next);
    child->parent = parent;
    if (parent->last)
        parent->last->next = child;
    else
        parent->children = child;
    parent->last = child;
    return child;
}

struct lv_xml *lv_xml_new_child(struct lv_xml *parent, const char *name, const char *ns)
{
    return lv_xml_add_child_take(parent, lv_xml_new(name, ns ? ns : parent->ns));
}

void lv_xml_add_text(struct lv_xml *parent, const char *text, size_t len)
{
    if (len == 0)
        return;
    struct lv_xml *last = parent->last;
    /* Adjacent text serializes as one run and parses back as one node, so
     * merging here keeps built trees equal to their parsed round-trip. */
    if (last && last->kind == LV_XML_TEXT) {
        last->text = lv_xrealloc(last->text, last->text_len + len + 1);
        memcpy(last->text + last->text_len, text, len);
        last->text_len += len;
        last->text[last->text_len] = '\0';
        return;
    }
    lv_xml_add_child_take(parent, lv_xml_new_text(text, len));
}

struct lv_xml *lv_xml_new_child_text(struct lv_xml *parent, const char *name, const char *ns,
                                     const char *text)
{
    struct lv_xml *c = lv_xml_new_child(parent, name, ns);
    if (text)
        lv_xml_add_text(c, text, strlen(text));
    return c;
}

void lv_xml_detach(struct lv_xml *x)
{
    struct lv_xml *p = x->parent;
    if (!p)
        return;
    struct lv_xml *prev = NULL;
    for (struct lv_xml *c = p->children; c != x; c = c->next)
        prev = c;
    if (prev)
        prev->next = x->next;
    else
        p->children = x->next;
    if (p->last == x)
        p->last = prev;
    x->parent = NULL;
    x->next = NULL;
}

/* ---- attributes ---- */

static struct lv_xml_attr *find_attr(const struct lv_xml *x, const char *name)
{
    for (size_t i = 0; i < x->nattrs; i++)
        if (strcmp(x->attrs[i].name, name) == 0)
            return &x->attrs[i];
    return NULL;
}

static void remove_attr(struct lv_xml *x, struct lv_xml_attr *a)
{
    size_t i = (size_t)(a - x->attrs);
    free(a->name);
    free(a->value);
    memmove(a, a + 1, (x->nattrs - i - 1) * sizeof(*a));
    x->nattrs--;
}

void lv_xml_set_attr(struct lv_xml *x, const char *name, const char *value)
{
    struct lv_xml_attr *a = find_attr(x, name);
    if (!value) {
        if (a)
            remove_attr(x, a);
        return;
    }
    if (a) {
        /* Copy first: value may point into the attribute being replaced. */
        char *v = lv_xstrdup(value);
        free(a->value);
        a->value = v;
        return;
    }
    lv_grow((void **)&x->attrs, &x->attrs_cap, x->nattrs + 1, sizeof(*x->attrs));
    x->attrs[x->nattrs].name = lv_xstrdup(name);
    x->attrs[x->nattrs].value = lv_xstrdup(value);
    x->nattrs++;
}

const char *lv_xml_attr(const struct lv_xml *x, const char *name)
{
    const struct lv_xml_attr *a = find_attr(x, name);
    return a ? a->value : NULL;
}

/* ---- lookup ---- */

static bool ns_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool matches(const struct lv_xml *x, const char *name, const char *ns)
{
    if (x->kind != LV_XML_ELEM)
        return false;
    if (name && strcmp(x->name, name) != 0)
        return false;
    return !ns || ns_eq(x->ns, ns);
}

static struct lv_xml *find_from(const struct lv_xml *c, const char *name, const char *ns)
{
    for (; c; c = c->next)
        if (matches(c, name, ns))
            return (struct lv_xml *)c;
    return NULL;
}

struct lv_xml *lv_xml_find(const struct lv_xml *x, const char *name, const char *ns)
{
    return find_from(x->children, name, ns);
}

struct lv_xml *lv_xml_find_next(const struct lv_xml *cur, const char *name, const char *ns)
{
    return find_from(cur->next, name, ns);
}

struct lv_xml *lv_xml_first_elem(const struct lv_xml *x)
{
    return find_from(x->children, NULL, NULL);
}

char *lv_xml_text(const struct lv_xml *x)
{
    struct lv_buf b = LV_BUF_INIT;
    for (const struct lv_xml *c = x->children; c; c = c->next)
        if (c->kind == LV_XML_TEXT)
            lv_buf_add(&b, c->text, c->text_len);
    return lv_buf_detach(&b);
}

char *lv_xml_child_text(const struct lv_xml *x, const char *name, const char *ns)
{
    const struct lv_xml *c = lv_xml_find(x, name, ns);
    return c ? lv_xml_text(c) : NULL;
}

bool lv_xml_is(const struct lv_xml *x, const char *name, const char *ns)
{
    return x && x->kind == LV_XML_ELEM && strcmp(x->name, name) == 0 && (!ns || ns_eq(x->ns, ns));
}

/* ---- escaping ---- */

/* Length of the well-formed UTF-8 sequence at s[0..len) and its code point,
 * or 0 for an invalid one (overlong, surrogate, truncated, > U+10FFFF). */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (n == 0 || n > len || s[0] > 0xF4)
        return 0;
    uint32_t c = n == 1 ? s[0] : s[0] & (0x3F >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* The XML 1.0 Char production. */
static bool xml_char(uint32_t c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

/* Replacement for an ASCII character, or NULL to copy it as is. Whitespace
 * other than the space is written as a character reference where a parser
 * would otherwise normalize it (\r in text, \t \n \r in attribute values),
 * so that parse(serialize(x)) gives x back. */
static const char *entity(unsigned char c, bool attr)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '\r':
        return "&#13;";
    case '"':
        return attr ? "&quot;" : NULL;
    case '\'':
        return attr ? "&apos;" : NULL;
    case '\t':
        return attr ? "&#9;" : NULL;
    case '\n':
        return attr ? "&#10;" : NULL;
    default:
        return NULL;
    }
}

void lv_xml_escape(struct lv_buf *out, const char *s, size_t len, bool attr)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of the pending verbatim run */
    size_t i = 0;
    while (i < len) {
        uint32_t cp = 0;
        size_t n = utf8_next(u + i, len - i, &cp);
        const char *rep = n == 1 ? entity(u[i], attr) : NULL;
        if (n != 0 && !rep && xml_char(cp)) {
            i += n;
            continue;
        }
        lv_buf_add(out, s + run, i - run);
        if (rep)
            lv_buf_adds(out, rep);
        /* Invalid bytes and non-XML characters are dropped: emitting them
         * would make the whole stream not well-formed for the peer. */
        i += n ? n : 1;
        run = i;
    }
    lv_buf_add(out, s + run, len - run);
}

/* ---- serialization ---- */

static void put_attr(struct lv_buf *out, const char *prefix, const char *name, const char *value)
{
    lv_buf_addc(out, ' ');
    if (prefix) {
        lv_buf_adds(out, prefix);
        lv_buf_addc(out, ':');
    }
    lv_buf_adds(out, name);
    lv_buf_adds(out, "='");
    lv_xml_escape(out, value, strlen(value), true);
    lv_buf_addc(out, '\'');
}

/* Namespace declarations are derived from the ns fields, never copied from
 * attributes, so a stray "xmlns" attribute cannot contradict them. */
static bool is_ns_decl(const char *name)
{
    return strcmp(name, "xmlns") == 0 || strncmp(name, "xmlns:", 6) == 0 ||
           strncmp(name, "{http://www.w3.org/2000/xmlns/}", 31) == 0;
}

static bool is_xml_ns(const char *uri, size_t len)
{
    return len == sizeof(LV_NS_XML) - 1 && strncmp(uri, LV_NS_XML, len) == 0;
}

/* Index of the first Clark attribute of x with the same "{uri}" as attribute
 * i (it declares the prefix they share), or i itself. */
static size_t prefix_owner(const struct lv_xml *x, size_t i, size_t ulen)
{
    const char *uri = x->attrs[i].name + 1;
    for (size_t j = 0; j < i; j++) {
        const char *o = x->attrs[j].name;
        const char *end = o[0] == '{' ? strrchr(o, '}') : NULL;
        /* Whole URIs are compared: "{urn:a}b}x" is not in urn:a. */
        if (end && (size_t)(end - o - 1) == ulen && strncmp(o + 1, uri, ulen) == 0)
            return j;
    }
    return i;
}

/* Writes "{uri}local" as a prefixed attribute. Prefixes are numbered ns0,
 * ns1... per element in order of first use (num[] remembers each declaring
 * attribute's number) and declared where first used. */
static void put_clark_attr(struct lv_buf *out, const struct lv_xml *x, size_t i, size_t *num,
                           size_t *next)
{
    const char *name = x->attrs[i].name;
    /* The last brace ends the URI: a namespace name may contain '}', a
     * local name (an NCName) may not. */
    const char *end = strrchr(name, '}');
    if (!end) {
        put_attr(out, NULL, name, x->attrs[i].value);
        return;
    }
    size_t ulen = (size_t)(end - name - 1);
    if (is_xml_ns(name + 1, ulen)) {
        /* The xml prefix is predeclared and may not be bound again. */
        put_attr(out, "xml", end + 1, x->attrs[i].value);
        return;
    }
    size_t owner = prefix_owner(x, i, ulen);
    char prefix[32];
    if (owner == i) {
        num[i] = (*next)++;
        snprintf(prefix, sizeof(prefix), "ns%zu", num[i]);
        lv_buf_addf(out, " xmlns:%s='", prefix);
        lv_xml_escape(out, name + 1, ulen, true);
        lv_buf_addc(out, '\'');
    } else {
        snprintf(prefix, sizeof(prefix), "ns%zu", num[owner]);
    }
    put_attr(out, prefix, end + 1, x->attrs[i].value);
}

static void put_attrs(struct lv_buf *out, const struct lv_xml *x)
{
    size_t *num = NULL; /* prefix numbers, allocated on the first Clark name */
    size_t next = 0;
    for (size_t i = 0; i < x->nattrs; i++) {
        const char *name = x->attrs[i].name;
        if (is_ns_decl(name))
            continue;
        if (name[0] != '{') {
            put_attr(out, NULL, name, x->attrs[i].value);
            continue;
        }
        if (!num)
            num = lv_xcalloc(x->nattrs, sizeof(*num));
        put_clark_attr(out, x, i, num, &next);
    }
    free(num);
}

void lv_xml_serialize(const struct lv_xml *x, struct lv_buf *out, const char *ctx_ns)
{
    if (x->kind == LV_XML_TEXT) {
        lv_xml_escape(out, x->text, x->text_len, false);
        return;
    }
    /* The XML namespace cannot be declared as a default namespace; its
     * prefix "xml" is bound in every document, so use that. */
    bool xml_ns = x->ns && strcmp(x->ns, LV_NS_XML) == 0;
    const char *prefix = xml_ns ? "xml:" : "";
    const char *inner_ns = xml_ns ? ctx_ns : x->ns; /* the default namespace inside */
    lv_buf_addc(out, '<');
    lv_buf_adds(out, prefix);
    lv_buf_adds(out, x->name);
    if (!xml_ns && !ns_eq(x->ns, ctx_ns)) {
        /* xmlns='' undeclares an inherited default namespace. */
        const char *ns = x->ns ? x->ns : "";
        lv_buf_adds(out, " xmlns='");
        lv_xml_escape(out, ns, strlen(ns), true);
        lv_buf_addc(out, '\'');
    }
    put_attrs(out, x);
    if (!x->children) {
        lv_buf_adds(out, "/>");
        return;
    }
    lv_buf_addc(out, '>');
    for (const struct lv_xml *c = x->children; c; c = c->next)
        lv_xml_serialize(c, out, inner_ns);
    lv_buf_adds(out, "</");
    lv_buf_adds(out, prefix);
    lv_buf_adds(out, x->name);
    lv_buf_addc(out, '>');
}

char *lv_xml_to_string(const struct lv_xml *x, const char *ctx_ns)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_xml_serialize(x, &b, ctx_ns);
    return lv_buf_detach(&b);
}

/* ---- one-shot parsing ---- */

static void keep_root(void *ud, struct lv_xml *root)
{
    struct lv_xml **slot = ud;
    /* A document has one root; expat refuses anything after it. */
    lv_xml_unref(*slot);
    *slot = root;
}

/* The one-shot parser is the streaming parser in document mode, so both
 * share one set of restricted-XML checks and one limit choke point. */
int lv_xml_parse(const char *data, size_t len, const struct lv_xml_limits *limits,
                 struct lv_xml **out, struct lv_error *err)
{
    static const struct lv_xml_stream_cbs cbs = {.stanza = keep_root};
    struct lv_xml *root = NULL;
    *out = NULL;
    struct lv_xml_stream *s = lv_xml_stream_new_doc(limits, &cbs, &root);
    int rc = lv_xml_stream_feed(s, data, len, err);
    if (rc == 0)
        rc = lv_xml_stream_finish(s, err);
    lv_xml_stream_free(s);
    if (rc != 0) {
        lv_xml_unref(root);
        return rc;
    }
    *out = root;
    return 0;
}
