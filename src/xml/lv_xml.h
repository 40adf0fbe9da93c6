/* lv_xml: the stanza tree, its serializer and a one-shot parser.
 *
 * A tree of element and text nodes. Element names are local names; every
 * element carries its resolved namespace URI (ns), which is what lookups
 * compare. Attribute names are plain ("type", "to"); the XML namespace's
 * attributes are stored with their conventional prefix ("xml:lang"), and any
 * other namespaced attribute as "{uri}local" (Clark notation).
 *
 * Nodes are reference-counted because a stanza may be held by several
 * handlers at once: lv_xml_ref() takes a reference, lv_xml_unref() drops one
 * and frees the whole subtree at zero. A child belongs to its parent; only a
 * root (parentless) node is ever unref'd by a caller. */
#ifndef LV_XML_H
#define LV_XML_H

#include <stdbool.h>
#include <stddef.h>

#include "core/lv_buf.h"
#include "core/lv_err.h"

#define LV_NS_XML "http://www.w3.org/XML/1998/namespace"

enum lv_xml_kind { LV_XML_ELEM, LV_XML_TEXT };

struct lv_xml_attr {
    char *name;  /* owned */
    char *value; /* owned, unescaped */
};

struct lv_xml {
    enum lv_xml_kind kind;
    char *name; /* element: local name, owned; NULL for text */
    char *ns;   /* element: namespace URI, owned; NULL = no namespace */
    char *text; /* text node: owned, unescaped, NUL-terminated */
    size_t text_len;
    struct lv_xml_attr *attrs; /* element attributes, owned */
    size_t nattrs, attrs_cap;
    struct lv_xml *parent;   /* borrowed */
    struct lv_xml *children; /* first child, owned */
    struct lv_xml *last;     /* last child, borrowed */
    struct lv_xml *next;     /* next sibling, owned by the parent */
    int refs;
};

/* Limits for the parsers (one-shot and streaming). 0 means "no limit" for
 * none of them: callers always pass real limits. */
struct lv_xml_limits {
    size_t max_stanza_bytes; /* bytes of one top-level element (stanza) */
    unsigned max_depth;      /* element nesting inside a stanza, stanza = 1 */
    unsigned max_attrs;      /* attributes on one element */
    unsigned max_children;   /* child nodes (elements + text runs) of one element */
};

/* New element with one reference; ns may be NULL. */
struct lv_xml *lv_xml_new(const char *name, const char *ns);
/* New text node (copies len bytes of text). */
struct lv_xml *lv_xml_new_text(const char *text, size_t len);
struct lv_xml *lv_xml_ref(struct lv_xml *x);
/* Drops a reference; frees the node and its subtree at zero. NULL is a no-op. */
void lv_xml_unref(struct lv_xml *x);
/* Deep copy, parentless, one reference. */
struct lv_xml *lv_xml_copy(const struct lv_xml *x);

/* Appends child (which must be parentless) to parent; takes ownership of the
 * caller's reference. Returns child. */
struct lv_xml *lv_xml_add_child_take(struct lv_xml *parent, struct lv_xml *child);
/* Creates and appends a child element. ns NULL means "same namespace as
 * parent". Returns the child (borrowed from the parent). */
struct lv_xml *lv_xml_new_child(struct lv_xml *parent, const char *name, const char *ns);
/* Appends a text node. */
void lv_xml_add_text(struct lv_xml *parent, const char *text, size_t len);
/* Creates a child element holding text; returns it (borrowed). */
struct lv_xml *lv_xml_new_child_text(struct lv_xml *parent, const char *name, const char *ns,
                                     const char *text);
/* Unlinks x from its parent; the caller now owns that reference. */
void lv_xml_detach(struct lv_xml *x);

/* Sets (copies) or, with value NULL, removes an attribute. */
void lv_xml_set_attr(struct lv_xml *x, const char *name, const char *value);
/* Borrowed value (valid until the attribute changes or x is freed) or NULL. */
const char *lv_xml_attr(const struct lv_xml *x, const char *name);

/* First child element with this local name (NULL = any) and namespace (NULL =
 * any). Borrowed. */
struct lv_xml *lv_xml_find(const struct lv_xml *x, const char *name, const char *ns);
/* Next sibling element after cur matching name/ns (NULL = any). Borrowed. */
struct lv_xml *lv_xml_find_next(const struct lv_xml *cur, const char *name, const char *ns);
/* First child element (any name). Borrowed. */
struct lv_xml *lv_xml_first_elem(const struct lv_xml *x);
/* Concatenated text of x's direct text children; caller frees (never NULL). */
char *lv_xml_text(const struct lv_xml *x);
/* Text of the first child matching name/ns, caller frees; NULL if absent. */
char *lv_xml_child_text(const struct lv_xml *x, const char *name, const char *ns);
/* True when x is an element with this name and (if ns non-NULL) namespace. */
bool lv_xml_is(const struct lv_xml *x, const char *name, const char *ns);

/* Appends the serialization of x to out. ctx_ns is the default namespace in
 * scope where x is written (e.g. "jabber:client" inside a c2s stream): xmlns
 * is written on x only when x->ns differs from it, and on descendants only
 * when they differ from their parent. Text and attribute values are escaped
 * (& < > " ' and characters not allowed in XML 1.0 are dropped). */
void lv_xml_serialize(const struct lv_xml *x, struct lv_buf *out, const char *ctx_ns);
/* Serializes into a new string the caller frees. */
char *lv_xml_to_string(const struct lv_xml *x, const char *ctx_ns);
/* Appends s (len bytes) escaped for text content, or for an attribute value
 * in single or double quotes when attr is true. */
void lv_xml_escape(struct lv_buf *out, const char *s, size_t len, bool attr);

/* Parses one complete XML document/fragment (a single root element) from
 * data[0..len) within limits. DTDs, entity declarations, processing
 * instructions and comments are refused (XMPP's restricted XML). On success
 * *out is the root (one reference, caller unrefs) and 0 is returned. On
 * failure returns LV_ERR_INVAL (not well-formed: err->msg gives line:column
 * and the parser's reason, err->cond "not-well-formed", "restricted-xml" or
 * "unsupported-encoding" for input that is not UTF-8 by its BOM or declaration)
 * or LV_ERR_LIMIT (err->cond "policy-violation"). */
int lv_xml_parse(const char *data, size_t len, const struct lv_xml_limits *limits,
                 struct lv_xml **out, struct lv_error *err);

#endif
