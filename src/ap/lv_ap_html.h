/* lv_ap_html: fediverse HTML <-> XEP-0277 XHTML.
 *
 * ActivityPub servers put HTML in a Note's `content` (Mastodon and Pleroma
 * with <p>, <br> and h-card mention links, snac with <br>, Fedify with
 * whatever the poster gave). That HTML comes from peers and is never
 * trusted: it is parsed as an HTML5 fragment (gumbo, in a <div> context),
 * converted to an lv_xml tree within limits, then reduced to the allow-list
 * of lv_syntax_sanitize(). The other way, an XEP-0277 XHTML content (or
 * plain text) is sanitised the same way and written as HTML5 for a Note, with
 * mentions turned into Mastodon-style links and bare http(s) URLs linked. */
#ifndef LV_AP_HTML_H
#define LV_AP_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "core/lv_err.h"
#include "xml/lv_xml.h"

/* Bounds on converting one peer's HTML. */
struct lv_ap_html_limits {
    size_t max_bytes;        /* HTML input; longer input is refused (LV_ERR_LIMIT) */
    unsigned max_depth;      /* element nesting below the root div; deeper
                              * subtrees (elements and their text) are dropped */
    size_t max_nodes;        /* elements and text runs converted; the rest of
                              * the document is dropped */
    size_t max_markup;       /* '<' characters (tags, end tags, comments)
                              * parsed: the input is cut before the next one.
                              * The parser's time grows with their number
                              * times the nesting: this bounds it */
    size_t max_parser_bytes; /* memory the HTML parser may hold; beyond it the
                              * content is refused (LV_ERR_LIMIT) */
};

/* Room for long Articles (WriteFreely, Plume: some hundreds of tags, 5000
 * '<' is about 150 KiB of article HTML) while the worst input stays cheap:
 * 5000 distinct unclosed <b> take gumbo about half a second, whereas
 * ordinary HTML parses at some hundred MB/s with some tens of parser bytes
 * per input byte. */
#define LV_AP_HTML_MAX_BYTES (512 * 1024)
#define LV_AP_HTML_MAX_DEPTH 64
#define LV_AP_HTML_MAX_NODES 50000
#define LV_AP_HTML_MAX_MARKUP 5000
#define LV_AP_HTML_MAX_PARSER_BYTES (64 * 1024 * 1024)
#define LV_AP_HTML_LIMITS_DEFAULT                                                                  \
    {                                                                                              \
        .max_bytes = LV_AP_HTML_MAX_BYTES, .max_depth = LV_AP_HTML_MAX_DEPTH,                      \
        .max_nodes = LV_AP_HTML_MAX_NODES, .max_markup = LV_AP_HTML_MAX_MARKUP,                    \
        .max_parser_bytes = LV_AP_HTML_MAX_PARSER_BYTES                                            \
    }

/* Converts a peer's HTML (html[0..len), any bytes: invalid UTF-8 becomes
 * U+FFFD, characters XML cannot carry are dropped) to a sanitised XHTML
 * <div xmlns='http://www.w3.org/1999/xhtml'>. lim NULL means
 * LV_AP_HTML_LIMITS_DEFAULT.
 *
 * Parsing follows HTML5 (entities decoded, unclosed tags closed, stray end
 * tags ignored, as a browser would); comments, doctypes and <template>
 * contents are dropped, element and attribute names are lower-cased, SVG and
 * MathML keep their namespaces (so that the sanitiser removes them whole).
 * The tree then goes through lv_syntax_sanitize(): class, style, rel, on*
 * attributes and unsafe URLs go, and so on. Whitespace-only text at the
 * start and end of the div is removed.
 *
 * Mastodon markup comes out readable: a mention
 * `<span class="h-card"><a href="https://host/@user" class="u-url mention">
 * @<span>user</span></a></span>` keeps its link and the text "@user", a
 * hashtag keeps its link and "#tag". Mastodon shortens displayed URLs with
 * <span class="invisible"> and <span class="ellipsis"> parts; since classes
 * are dropped, the text of an <a href> having such a span as a direct child
 * is replaced by its href, i.e. the full address.
 *
 * Returns 0 with *out (caller unrefs), or LV_ERR_LIMIT (*out NULL, err
 * filled if non-NULL) when len exceeds lim->max_bytes or the parse needs
 * more than lim->max_parser_bytes. When truncated is non-NULL it tells
 * whether the markup, depth or node limit dropped content. */
int lv_ap_html_to_xhtml(const char *html, size_t len, const struct lv_ap_html_limits *lim,
                        struct lv_xml **out, bool *truncated, struct lv_error *err);

/* The plain text of a peer's HTML: lv_ap_html_to_xhtml() then
 * lv_syntax_xhtml_to_text() (paragraphs separated by a blank line, <br> as a
 * newline, links as "text (href)" when the text is not the address).
 * Returns 0 with *out (caller frees) or LV_ERR_LIMIT as
 * lv_ap_html_to_xhtml(). */
int lv_ap_html_to_text(const char *html, size_t len, const struct lv_ap_html_limits *lim,
                       char **out, struct lv_error *err);

/* An ActivityPub account mentioned in a post. All strings are borrowed for
 * the duration of the call. */
struct lv_ap_mention {
    const char *href;  /* actor URL: the link target; a mention whose href is
                        * not http(s) is left as text */
    const char *name;  /* "@user@host" (the leading '@' is optional): matched
                        * in the text, and its user part is the link text */
    const char *alias; /* NULL, or another handle matched after an '@' in the
                        * text: the XMPP JID ("louise@example.org") or local
                        * account the author wrote */
};

/* Writes an XEP-0277 XHTML content as HTML5 for an AP Note's `content`.
 * content is usually the XHTML <div> of a post; it is not modified: a copy
 * goes through lv_syntax_sanitize() first (so whatever the tree holds, only
 * allow-listed elements and attributes are written). Only the div's children
 * are written, without namespace declarations: void elements as <br>,
 * attributes in double quotes, text escaped (& < >, and " in attributes),
 * xml:lang as lang; invalid UTF-8 becomes U+FFFD and control characters are
 * dropped, so the result is valid UTF-8 for JSON.
 *
 * In text outside <a>, <pre> and <code>:
 * - "@name" or "@alias" of one of the n mentions (ASCII case-insensitive,
 *   not preceded by a word character or '/', not followed by a handle
 *   character) becomes
 *   `<span class="h-card"><a href="HREF" class="u-url mention">@<span>user</span></a></span>`
 *   (the caller builds the Note's `tag` array: this only writes the links);
 * - bare http:// and https:// URLs become <a href="URL">URL</a> (trailing
 *   punctuation and unbalanced closing brackets stay outside the link).
 * mentions may be NULL when n is 0. Returns a string the caller frees
 * (never NULL; "" for an empty content). */
char *lv_ap_html_from_xhtml(const struct lv_xml *content, const struct lv_ap_mention *mentions,
                            size_t n);

/* Writes plain text as HTML5 for a Note: paragraphs (<p>) on blank lines,
 * <br> on line breaks, text escaped, mentions and bare http(s) URLs linked
 * as lv_ap_html_from_xhtml() does. Caller frees (never NULL). */
char *lv_ap_html_from_text(const char *text, size_t len, const struct lv_ap_mention *mentions,
                           size_t n);

#endif
