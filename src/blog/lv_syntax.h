/* lv_syntax: text syntaxes for blog contents.
 *
 * Markdown (CommonMark, through cmark) becomes XHTML; XHTML from others is
 * reduced to an allow-list of elements and attributes before it is shown or
 * converted; XHTML becomes plain text for the text versions. */
#ifndef LV_SYNTAX_H
#define LV_SYNTAX_H

#include "core/lv_err.h"
#include "xml/lv_xml.h"

/* Converts markdown to an XHTML <div xmlns='http://www.w3.org/1999/xhtml'>
 * (raw HTML in the markdown is dropped, not passed through). Caller owns. */
struct lv_xml *lv_syntax_markdown_to_xhtml(const char *md, size_t len);
/* Converts plain text to an XHTML div (paragraphs on blank lines, <br/> on
 * line breaks). Caller owns. */
struct lv_xml *lv_syntax_text_to_xhtml(const char *text, size_t len);
/* Parses an XHTML fragment (one root element, or several: they are wrapped
 * in a div) and sanitises it. Caller owns *out. LV_ERR_INVAL with the parse
 * position when it is not well-formed. */
int lv_syntax_parse_xhtml(const char *s, size_t len, struct lv_xml **out, struct lv_error *err);
/* Sanitises an XHTML tree in place: elements outside the allow-list are
 * removed (script, style, iframe, object... with their content; unknown
 * presentational ones are unwrapped, keeping their text), attributes outside
 * the allow-list are dropped, and href/src must be http(s), xmpp, mailto or
 * relative. The root becomes an XHTML <div> if it is not one. */
void lv_syntax_sanitize(struct lv_xml *root);
/* Plain text of an XHTML tree: block elements separated by newlines, <br/>
 * as newline, links as "text (href)" when they differ. Caller frees. */
char *lv_syntax_xhtml_to_text(const struct lv_xml *root);

#endif
