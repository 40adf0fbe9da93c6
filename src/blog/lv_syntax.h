/* lv_syntax: text syntaxes for blog contents.
 *
 * Markdown (CommonMark, through cmark) becomes XHTML; XHTML from others is
 * reduced to an allow-list of elements and attributes before it is shown or
 * converted; XHTML becomes plain text for the text versions. */
#ifndef LV_SYNTAX_H
#define LV_SYNTAX_H

#include "core/lv_err.h"
#include "xml/lv_xml.h"

#ifndef LV_NS_XHTML
#define LV_NS_XHTML "http://www.w3.org/1999/xhtml"
#endif

/* Element nesting allowed below the root <div> of a content: deeper elements
 * are unwrapped (their text is kept) by the markdown converter and the
 * sanitiser. Kept well under the stanza depth limit so that whatever we
 * produce fits in an Atom entry inside a pubsub stanza. */
#define LV_SYNTAX_MAX_DEPTH 32

/* Converts markdown to an XHTML <div xmlns='http://www.w3.org/1999/xhtml'>
 * (raw HTML in the markdown is dropped, not passed through). As the
 * reference's "nl2br" extension does, a line break inside a paragraph becomes
 * <br/>. Invalid UTF-8 becomes U+FFFD. Links and images go through the
 * sanitiser's URL check. Caller owns. */
struct lv_xml *lv_syntax_markdown_to_xhtml(const char *md, size_t len);
/* Converts plain text to an XHTML div (paragraphs on blank lines, <br/> on
 * line breaks). Caller owns. */
struct lv_xml *lv_syntax_text_to_xhtml(const char *text, size_t len);
/* Parses an XHTML fragment (one root element, or several elements and text:
 * they are wrapped in a div) and sanitises it. Elements without a namespace
 * declaration are XHTML. Caller owns *out. LV_ERR_INVAL with the parse
 * position ("line:column: reason", counted in s) when it is not
 * well-formed (XMPP's restricted XML: no DTD, comment or processing
 * instruction); LV_ERR_LIMIT (from the parser) when elements nest more than
 * LV_SYNTAX_MAX_DEPTH + 1 deep in s: anything lv_syntax_sanitize() leaves,
 * root div included, parses again. */
int lv_syntax_parse_xhtml(const char *s, size_t len, struct lv_xml **out, struct lv_error *err);
/* Sanitises an XHTML tree in place: elements outside the allow-list are
 * removed (script, style, iframe, object... with their content; unknown
 * presentational ones are unwrapped, keeping their text), attributes outside
 * the allow-list are dropped, and href/src must be http(s), xmpp, mailto or
 * relative. The root becomes an XHTML <div> if it is not one. Elements
 * nested deeper than LV_SYNTAX_MAX_DEPTH below the root are unwrapped.
 * Idempotent; iterative, so any depth is fine. */
void lv_syntax_sanitize(struct lv_xml *root);
/* Plain text of an XHTML tree: block elements separated by newlines
 * (paragraph-like ones by a blank line), <br/> as newline, list items as
 * "- item" or, in <ol>, "1. item" (indented two spaces per nesting level), table cells joined by
 * " | ", links as "text (href)" when they differ, images as their alt text.
 * Whitespace collapses as a browser does, except inside <pre>; script and
 * style contents are skipped. Leading and trailing whitespace is trimmed.
 * Iterative: any depth is fine. Caller frees (never NULL). */
char *lv_syntax_xhtml_to_text(const struct lv_xml *root);

#endif
