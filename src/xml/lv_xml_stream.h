/* lv_xml_stream: incremental parser for an XMPP stream.
 *
 * Bytes arrive in arbitrary chunks; the parser reports the stream's opening
 * element, each complete top-level child (a stanza, as a tree), and the
 * stream's end. Limits are enforced while parsing: a stanza larger than
 * max_stanza_bytes is refused as soon as that many bytes have been fed since
 * the previous stanza ended, before it is complete, so memory stays bounded
 * whatever the peer sends. */
#ifndef LV_XML_STREAM_H
#define LV_XML_STREAM_H

#include "xml/lv_xml.h"

struct lv_xml_stream;

struct lv_xml_stream_cbs {
    /* The root element opened. name is its local name, ns its namespace;
     * attrs are the root's attributes (borrowed for the call). */
    void (*open)(void *ud, const char *name, const char *ns, const struct lv_xml_attr *attrs,
                 size_t nattrs);
    /* A complete stanza; the callee takes the reference. */
    void (*stanza)(void *ud, struct lv_xml *stanza);
    /* The root element was closed (</stream:stream>). */
    void (*close)(void *ud);
};

/* Creates a parser (caller frees). limits is copied. */
struct lv_xml_stream *lv_xml_stream_new(const struct lv_xml_limits *limits,
                                        const struct lv_xml_stream_cbs *cbs, void *ud);
/* Creates a parser for one standalone document instead of a stream (caller
 * frees): its root element is the unit the limits apply to (depth 1;
 * max_stanza_bytes counts every byte fed) and it is delivered whole through
 * cbs->stanza when it closes; open and close are never called. Feed it, then
 * call lv_xml_stream_finish(). lv_xml_parse() is built on it. */
struct lv_xml_stream *lv_xml_stream_new_doc(const struct lv_xml_limits *limits,
                                            const struct lv_xml_stream_cbs *cbs, void *ud);
/* Frees s and any partly built stanza; NULL is a no-op. Not from a callback. */
void lv_xml_stream_free(struct lv_xml_stream *s);
/* Changes the limits (e.g. looser after authentication). */
void lv_xml_stream_set_limits(struct lv_xml_stream *s, const struct lv_xml_limits *limits);

/* Feeds len bytes. Callbacks run synchronously from inside this call.
 * Returns 0, or on error (the stream is then unusable until reset):
 *   LV_ERR_INVAL, err->cond "not-well-formed" (or "restricted-xml" for DTDs,
 *     comments, processing instructions, entity declarations, or
 *     "unsupported-encoding" for a UTF-16 byte order mark or an XML
 *     declaration naming an encoding other than UTF-8: input is UTF-8 only);
 *   LV_ERR_LIMIT, err->cond "policy-violation" (a limit was exceeded; msg
 *     names which).
 * If a callback called lv_xml_stream_stop(), returns 0 at once and the rest
 * of the chunk is discarded. */
int lv_xml_stream_feed(struct lv_xml_stream *s, const char *data, size_t len, struct lv_error *err);
/* Declares the end of the input. Returns 0 when what was fed is complete (the
 * document's root, or the stream's root, was closed), else LV_ERR_INVAL with
 * cond "not-well-formed" and a line:column message (e.g. "no element found",
 * an unclosed token). Errors are sticky as for lv_xml_stream_feed(). */
int lv_xml_stream_finish(struct lv_xml_stream *s, struct lv_error *err);
/* Called from a callback: stop parsing the current chunk (used before a
 * stream restart after STARTTLS or SASL success). The caller must call
 * lv_xml_stream_reset() before feeding again. */
void lv_xml_stream_stop(struct lv_xml_stream *s);
/* Forgets all state: the next bytes start a new stream. Must not be called
 * from inside a callback. */
void lv_xml_stream_reset(struct lv_xml_stream *s);

#endif
