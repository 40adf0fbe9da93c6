#include "xml/lv_xml_stream.h"

#include "core/lv_mem.h"

#include <expat.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Expat reports namespaced names as "uri<SEP>local". 0xFF never occurs in
 * UTF-8, which is all expat hands us, so it cannot be confused with the
 * content of a URI. */
#define NS_SEP '\xFF'

/* Keeps the memory of a parser that once saw a huge stanza from staying
 * pinned for the life of the connection. */
#define TEXT_KEEP_MAX 16384

/* Expat >= 2.6 (and Debian's patched 2.5) may defer parsing a partial token
 * until enough further bytes arrive. A stream must deliver a stanza as soon
 * as its last byte is in, and the byte accounting below relies on events
 * firing promptly, so deferral is turned off. Weak, so that the build and
 * the program still work with an expat that lacks the function. */
#pragma weak XML_SetReparseDeferralEnabled
XMLPARSEAPI(XML_Bool) XML_SetReparseDeferralEnabled(XML_Parser parser, XML_Bool enabled);

struct lv_xml_stream {
    XML_Parser p;
    struct lv_xml_limits lim;
    struct lv_xml_stream_cbs cbs;
    void *ud;
    bool doc; /* document mode: the root element is the stanza */

    unsigned depth;      /* open elements, the stream root included */
    struct lv_xml *top;  /* stanza being built, owned */
    struct lv_xml *cur;  /* innermost open element of top, borrowed */
    unsigned *nkids;     /* child count per open stanza level */
    size_t nkids_cap;    /* (index 1 = the stanza) */
    struct lv_buf text;  /* character data not yet added to cur */
    uint64_t fed;        /* bytes handed to expat since the last reset */
    uint64_t mark;       /* stream offset where the byte allowance starts */
    bool in_parse;       /* inside XML_Parse (callbacks may run) */
    bool stopped;        /* lv_xml_stream_stop() was called */
    bool halted;         /* stopped or failed: ignore late expat events */
    int code;            /* sticky error, 0 if none */
    struct lv_error err; /* its details */
};

/* ---- errors ---- */

static void fail(struct lv_xml_stream *s, int code, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the first error and stops expat; later feeds report it again. */
static void fail(struct lv_xml_stream *s, int code, const char *cond, const char *fmt, ...)
{
    if (s->code)
        return;
    char msg[LV_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lv_error_set_cond(&s->err, code, cond, "%s", msg);
    s->code = code;
    s->halted = true;
    if (s->in_parse)
        XML_StopParser(s->p, XML_FALSE);
}

static int report(const struct lv_xml_stream *s, struct lv_error *err)
{
    if (err)
        *err = s->err;
    return s->code;
}

static unsigned long line(const struct lv_xml_stream *s)
{
    return (unsigned long)XML_GetCurrentLineNumber(s->p);
}

/* 1-based, as editors count. */
static unsigned long column(const struct lv_xml_stream *s)
{
    return (unsigned long)XML_GetCurrentColumnNumber(s->p) + 1;
}

static void restricted(struct lv_xml_stream *s, const char *what)
{
    fail(s, LV_ERR_INVAL, "restricted-xml", "%lu:%lu: %s not allowed in XMPP (restricted XML)",
         line(s), column(s), what);
}

static void limit_exceeded(struct lv_xml_stream *s, const char *what, const char *name,
                           unsigned max)
{
    fail(s, LV_ERR_LIMIT, "policy-violation", "%lu:%lu: %s exceeds %s (%u)", line(s), column(s),
         what, name, max);
}

/* ---- names and attributes ---- */

/* Splits expat's "uri<SEP>local": returns a copy of the URI (NULL when the
 * name has no namespace) and points *local into raw. */
static char *split_name(const char *raw, const char **local)
{
    const char *sep = strchr(raw, NS_SEP);
    if (!sep) {
        *local = raw;
        return NULL;
    }
    *local = sep + 1;
    return lv_xstrndup(raw, (size_t)(sep - raw));
}

/* The tree's attribute naming: "xml:lang" for the XML namespace,
 * "{uri}local" for any other namespace, the plain name otherwise. */
static char *attr_name(const char *raw)
{
    const char *local;
    char *uri = split_name(raw, &local);
    if (!uri)
        return lv_xstrdup(raw);
    char *name = strcmp(uri, LV_NS_XML) == 0 ? lv_xasprintf("xml:%s", local)
                                             : lv_xasprintf("{%s}%s", uri, local);
    free(uri);
    return name;
}

static size_t count_attrs(const XML_Char **atts)
{
    size_t n = 0;
    while (atts[2 * n])
        n++;
    return n;
}

static void fill_attrs(struct lv_xml *x, const XML_Char **atts, size_t n)
{
    lv_grow((void **)&x->attrs, &x->attrs_cap, n, sizeof(*x->attrs));
    /* Expat has already refused duplicates, so no lookup is needed. */
    for (size_t i = 0; i < n; i++) {
        x->attrs[i].name = attr_name(atts[2 * i]);
        x->attrs[i].value = lv_xstrdup(atts[2 * i + 1]);
    }
    x->nattrs = n;
}

static struct lv_xml *new_elem(const XML_Char *name, const XML_Char **atts, size_t n)
{
    const char *local;
    char *uri = split_name(name, &local);
    struct lv_xml *x = lv_xml_new(local, NULL);
    x->ns = uri; /* taken */
    fill_attrs(x, atts, n);
    return x;
}

/* ---- tree building ---- */

/* Levels above the stanzas: the stream root, or none for a document. */
static unsigned base(const struct lv_xml_stream *s)
{
    return s->doc ? 0 : 1;
}

/* Stream offset just past the event being reported. */
static uint64_t event_end(const struct lv_xml_stream *s)
{
    return (uint64_t)XML_GetCurrentByteIndex(s->p) + (uint64_t)XML_GetCurrentByteCount(s->p);
}

/* Counts one more child of cur against max_children. */
static bool take_child_slot(struct lv_xml_stream *s)
{
    unsigned *n = &s->nkids[s->depth - base(s)];
    if (*n >= s->lim.max_children) {
        limit_exceeded(s, "child count", "max_children", s->lim.max_children);
        return false;
    }
    (*n)++;
    return true;
}

/* Expat splits a text run into many calls (per line, per entity, per
 * chunk); they are gathered in s->text so that each run becomes one node. */
static bool flush_text(struct lv_xml_stream *s)
{
    if (s->text.len == 0)
        return true;
    if (!take_child_slot(s))
        return false;
    lv_xml_add_child_take(s->cur, lv_xml_new_text(s->text.data, s->text.len));
    lv_buf_reset(&s->text);
    return true;
}

static void open_root(struct lv_xml_stream *s, const XML_Char *name, const XML_Char **atts)
{
    size_t n = count_attrs(atts);
    if (n > s->lim.max_attrs) {
        limit_exceeded(s, "attribute count", "max_attrs", s->lim.max_attrs);
        return;
    }
    struct lv_xml *root = new_elem(name, atts, n);
    s->depth = 1;
    /* The first stanza's allowance starts after the stream header. */
    s->mark = event_end(s);
    if (s->cbs.open)
        s->cbs.open(s->ud, root->name, root->ns, root->attrs, root->nattrs);
    lv_xml_unref(root);
}

static void start_elem(struct lv_xml_stream *s, const XML_Char *name, const XML_Char **atts)
{
    unsigned level = s->depth + 1 - base(s);
    if (level > s->lim.max_depth) {
        limit_exceeded(s, "element nesting", "max_depth", s->lim.max_depth);
        return;
    }
    size_t n = count_attrs(atts);
    if (n > s->lim.max_attrs) {
        limit_exceeded(s, "attribute count", "max_attrs", s->lim.max_attrs);
        return;
    }
    if (s->cur && (!flush_text(s) || !take_child_slot(s)))
        return;
    struct lv_xml *x = new_elem(name, atts, n);
    if (s->cur)
        lv_xml_add_child_take(s->cur, x);
    else
        s->top = x;
    s->cur = x;
    lv_grow((void **)&s->nkids, &s->nkids_cap, (size_t)level + 1, sizeof(*s->nkids));
    s->nkids[level] = 0;
    s->depth++;
}

static void deliver(struct lv_xml_stream *s, struct lv_xml *stanza)
{
    if (s->text.cap > TEXT_KEEP_MAX)
        lv_buf_release(&s->text);
    if (s->cbs.stanza)
        s->cbs.stanza(s->ud, stanza);
    else
        lv_xml_unref(stanza);
}

static void end_elem(struct lv_xml_stream *s)
{
    if (!flush_text(s))
        return;
    struct lv_xml *x = s->cur;
    s->cur = x->parent;
    s->depth--;
    if (x != s->top)
        return;
    s->top = NULL;
    /* The next stanza's allowance starts right after this one. */
    s->mark = event_end(s);
    deliver(s, x);
}

/* ---- expat handlers ---- */

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct lv_xml_stream *s = ud;
    /* Expat may still deliver an event or two after XML_StopParser. */
    if (s->halted)
        return;
    if (!s->doc && s->depth == 0)
        open_root(s, name, atts);
    else
        start_elem(s, name, atts);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct lv_xml_stream *s = ud;
    if (s->halted)
        return;
    if (s->doc || s->depth > 1) {
        end_elem(s);
        return;
    }
    s->depth = 0;
    if (s->cbs.close)
        s->cbs.close(s->ud);
}

static void XMLCALL on_text(void *ud, const XML_Char *data, int len)
{
    struct lv_xml_stream *s = ud;
    if (s->halted)
        return;
    if (s->cur) {
        lv_buf_add(&s->text, data, (size_t)len);
        return;
    }
    /* Between stanzas: whitespace keep-alives are dropped, and do not
     * count against the next stanza, so an idle connection can ping
     * forever. */
    s->mark = event_end(s);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    restricted(ud, "DTDs are");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base_uri,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    restricted(ud, "entity declarations are");
}

static void XMLCALL on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
    restricted(ud, "processing instructions are");
}

static void XMLCALL on_comment(void *ud, const XML_Char *data)
{
    restricted(ud, "comments are");
}

/* RFC 6120 §11.6: XMPP is UTF-8 only. Expat is forced to UTF-8 anyway
 * (see make_parser); a peer declaring something else gets the stream error
 * made for it rather than a confusing decoding error later. */
static void XMLCALL on_xml_decl(void *ud, const XML_Char *version, const XML_Char *encoding,
                                int standalone)
{
    struct lv_xml_stream *s = ud;
    if (s->halted || !encoding || strcasecmp(encoding, "UTF-8") == 0)
        return;
    fail(s, LV_ERR_INVAL, "unsupported-encoding", "%lu:%lu: encoding %.40s is not UTF-8", line(s),
         column(s), encoding);
}

static XML_Parser make_parser(struct lv_xml_stream *s)
{
    /* Forcing UTF-8 overrides any encoding declaration: XMPP is UTF-8 only
     * (RFC 6120 §11.6). Byte order marks are handled in feed. */
    XML_Parser p = XML_ParserCreateNS("UTF-8", NS_SEP);
    if (!p) {
        fprintf(stderr, "libervia: out of memory creating an XML parser\n");
        abort();
    }
    XML_SetUserData(p, s);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    XML_SetEntityDeclHandler(p, on_entity_decl);
    XML_SetProcessingInstructionHandler(p, on_pi);
    XML_SetCommentHandler(p, on_comment);
    XML_SetXmlDeclHandler(p, on_xml_decl);
    /* External entities are never loaded: no handler, no parameter
     * entities. */
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    if (XML_SetReparseDeferralEnabled)
        XML_SetReparseDeferralEnabled(p, XML_FALSE);
    return p;
}

/* ---- lifecycle ---- */

static struct lv_xml_stream *stream_new(const struct lv_xml_limits *limits,
                                        const struct lv_xml_stream_cbs *cbs, void *ud, bool doc)
{
    struct lv_xml_stream *s = lv_xcalloc(1, sizeof(*s));
    s->lim = *limits;
    if (cbs)
        s->cbs = *cbs;
    s->ud = ud;
    s->doc = doc;
    lv_buf_init(&s->text);
    s->p = make_parser(s);
    return s;
}

struct lv_xml_stream *lv_xml_stream_new(const struct lv_xml_limits *limits,
                                        const struct lv_xml_stream_cbs *cbs, void *ud)
{
    return stream_new(limits, cbs, ud, false);
}

struct lv_xml_stream *lv_xml_stream_new_doc(const struct lv_xml_limits *limits,
                                            const struct lv_xml_stream_cbs *cbs, void *ud)
{
    return stream_new(limits, cbs, ud, true);
}

void lv_xml_stream_free(struct lv_xml_stream *s)
{
    if (!s)
        return;
    XML_ParserFree(s->p);
    lv_xml_unref(s->top);
    lv_buf_release(&s->text);
    free(s->nkids);
    free(s);
}

void lv_xml_stream_set_limits(struct lv_xml_stream *s, const struct lv_xml_limits *limits)
{
    s->lim = *limits;
}

void lv_xml_stream_reset(struct lv_xml_stream *s)
{
    /* A fresh parser rather than XML_ParserReset: nothing of the old
     * stream (handlers, namespace bindings, error state) can leak over. */
    XML_ParserFree(s->p);
    lv_xml_unref(s->top);
    s->top = NULL;
    s->cur = NULL;
    s->depth = 0;
    lv_buf_release(&s->text);
    s->fed = 0;
    s->mark = 0;
    s->stopped = false;
    s->halted = false;
    s->code = 0;
    lv_error_clear(&s->err);
    s->p = make_parser(s);
}

void lv_xml_stream_stop(struct lv_xml_stream *s)
{
    s->stopped = true;
    s->halted = true;
    if (s->in_parse)
        XML_StopParser(s->p, XML_FALSE);
}

/* ---- feeding ---- */

/* Bytes that may still be fed before the current stanza (or the stream
 * header) exceeds max_stanza_bytes. */
static size_t allowance(const struct lv_xml_stream *s)
{
    uint64_t used = s->fed - s->mark;
    uint64_t max = s->lim.max_stanza_bytes;
    return used >= max ? 0 : (size_t)(max - used);
}

static int parse(struct lv_xml_stream *s, const char *data, size_t len, bool final)
{
    s->in_parse = true;
    enum XML_Status st = XML_Parse(s->p, data, (int)len, final ? XML_TRUE : XML_FALSE);
    s->in_parse = false;
    s->fed += len;
    if (st == XML_STATUS_OK || s->code || s->stopped)
        return s->code;
    fail(s, LV_ERR_INVAL, "not-well-formed", "%lu:%lu: %s", line(s), column(s),
         XML_ErrorString(XML_GetErrorCode(s->p)));
    return s->code;
}

static void bytes_exceeded(struct lv_xml_stream *s)
{
    const char *what = !s->doc && s->depth == 0 ? "stream header" : "stanza";
    fail(s, LV_ERR_LIMIT, "policy-violation", "%s exceeds max_stanza_bytes (%zu bytes)", what,
         s->lim.max_stanza_bytes);
}

/* Expat honours a UTF-16 byte order mark even when told the input is UTF-8.
 * Neither 0xFE nor 0xFF can start UTF-8 text, so the first byte tells. */
static bool utf16_bom(const struct lv_xml_stream *s, const char *data, size_t len)
{
    unsigned char c = len ? (unsigned char)data[0] : 0;
    return s->fed == 0 && (c == 0xFE || c == 0xFF);
}

int lv_xml_stream_feed(struct lv_xml_stream *s, const char *data, size_t len, struct lv_error *err)
{
    if (s->code)
        return report(s, err);
    if (s->stopped)
        return lv_error_set(err, LV_ERR_INVAL, "XML stream fed after stop without a reset");
    if (utf16_bom(s, data, len)) {
        fail(s, LV_ERR_INVAL, "unsupported-encoding", "1:1: UTF-16 input, XMPP is UTF-8 only");
        return report(s, err);
    }
    while (len > 0) {
        /* Expat never gets more than the remaining allowance, so a stanza
         * that is too large (one endless attribute value or start tag
         * included) fails here before it is buffered. */
        size_t n = allowance(s);
        if (n == 0) {
            bytes_exceeded(s);
            return report(s, err);
        }
        n = n < len ? n : len;
        n = n < INT_MAX ? n : INT_MAX;
        if (parse(s, data, n, false) != 0)
            return report(s, err);
        if (s->stopped)
            return 0;
        data += n;
        len -= n;
    }
    return 0;
}

int lv_xml_stream_finish(struct lv_xml_stream *s, struct lv_error *err)
{
    if (s->code)
        return report(s, err);
    if (s->stopped)
        return lv_error_set(err, LV_ERR_INVAL, "XML stream finished after stop without a reset");
    if (parse(s, "", 0, true) != 0)
        return report(s, err);
    return 0;
}
