/* lv_mb: XEP-0277 microblogging: the post model ⇄ Atom entries.
 *
 * A post is a JSON object with the reference Libervia's keys (its "mb
 * data"), so frontends see the same data whichever backend they talk to:
 *   id, atom_id, service, node, uri, language, title, title_xhtml, content,
 *   content_xhtml, published, updated (epoch seconds, numbers), author,
 *   author_jid, author_jid_verified, tags [..], comments [{uri, service,
 *   node}], extra {repeated: {by, at, uri}}.
 * Input for publishing may also carry content_rich/title_rich with "syntax"
 * ("markdown" default, "text", "xhtml"), allow_comments, user_friendly_id. */
#ifndef LV_MB_H
#define LV_MB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/lv_err.h"
#include "xml/lv_xml.h"

#define LV_NS_MICROBLOG "urn:xmpp:microblog:0"
#define LV_NS_MICROBLOG_COMMENTS "urn:xmpp:microblog:0:comments/"
#define LV_NS_ATOM "http://www.w3.org/2005/Atom"
#define LV_NS_XHTML "http://www.w3.org/1999/xhtml"

/* Builds the Atom <entry> for a post. data is borrowed; service, node and
 * item_id (the final pubsub item id) make the entry's atom id (unless data
 * carries the "atom_id" of the entry being edited) and author uri
 * (author_jid is our bare JID). Rich contents are converted from their
 * syntax, and XHTML is sanitised; a text version is always written beside an
 * XHTML one. Without a title, the content becomes the title (as the
 * reference does). LV_ERR_INVAL when there is neither title nor content or a
 * value has the wrong type. Caller owns *entry. */
int lv_mb_entry_from_data(json_t *data, const char *service, const char *node, const char *item_id,
                          const char *author_jid, struct lv_xml **entry, struct lv_error *err);

/* The publisher to credit an item with: the one the service gave, else, on a
 * user's PEP service (a JID with a user part), the service itself — only its
 * owner publishes there — else NULL. Borrowed from the arguments. */
const char *lv_mb_item_publisher(const char *service, const char *publisher);

/* Reads an item's Atom entry into post data. publisher (may be NULL) is the
 * item's publisher attribute, used for author_jid_verified. XHTML read from
 * the entry is sanitised. Caller owns *out. LV_ERR_INVAL if payload is not an
 * Atom entry. */
int lv_mb_data_from_entry(const struct lv_xml *entry, const char *service, const char *node,
                          const char *item_id, const char *publisher, json_t **out,
                          struct lv_error *err);

/* URL-friendly text as the reference's urlFriendlyText: NFD, marks and
 * other non-ASCII dropped, runs outside [a-zA-Z0-9,_] become one "-" (so ","
 * and "_" stay), lower case, then the last "-"-word is dropped while longer
 * than max_len (60 for ids), with a hard cut for a single longer word.
 * Deviation from the reference, which gives "" (hence ids "-XXXX") for text
 * without ASCII letters or digits, such as Greek, CJK or emoji titles: when
 * the ASCII slug has no letter or digit, the slug is made the same way from
 * the Unicode letters, digits and marks (NFKD, generic accents U+0300-U+036F
 * and the other combining-diacritics blocks dropped, NFC, lower case:
 * "Καλημέρα κόσμε" gives "καλημερα-κοσμε", "你好世界" stays; script marks
 * such as kana voicing or Indic vowel signs are kept, as dropping them
 * changes the word), cut at max_len bytes on a character boundary; when
 * that is still empty (emoji only, empty text) the slug is "post", so ids
 * are "post-XXXX". Caller frees (never NULL). */
char *lv_mb_slug(const char *text, size_t max_len);
/* User-friendly item id: slug(text) + "-" + 4 random base64url characters
 * (the reference's token_urlsafe(3)), e.g. "hello-world-f5WL". Caller
 * frees. */
char *lv_mb_friendly_id(const char *text);
/* Item id to publish data under, as the reference's send() picks it: data's
 * "id" when it is a string; else a random id when "user_friendly_id" is
 * false; else lv_mb_friendly_id() of the first of title, title_rich,
 * content, content_rich that is a non-empty string. Caller frees. */
char *lv_mb_item_id(json_t *data);
/* A random id for user_friendly_id=false (22 characters). Caller frees. */
char *lv_mb_random_id(void);
/* "urn:xmpp:microblog:0:comments/<item id>". Caller frees. */
char *lv_mb_comments_node(const char *item_id);
/* "xmpp:service?;node=…;item=…" with RFC 5122 escaping: in the query every
 * byte but ALPHA DIGIT - . _ ~ is percent-encoded (as the reference's
 * quote_plus, except that a space is %20, not "+"); the service keeps "@"
 * too. node and item may be NULL (left out; the "?" too when both are).
 * Caller frees. */
char *lv_mb_xmpp_uri(const char *service, const char *node, const char *item);
/* Parses an xmpp: pubsub URI into its parts (each caller-freed, may be
 * NULL). Any output pointer may be NULL when not wanted. The query action
 * ("?;" or "?pubsub;") is ignored; "+" in a query value is a space, as the
 * reference reads it. Returns 0 or LV_ERR_INVAL (not xmpp:, empty service,
 * %00 or a bad escape, a key given twice). */
int lv_mb_parse_xmpp_uri(const char *uri, char **service, char **node, char **item);

/* Formats epoch seconds as an RFC 3339 / XEP-0082 UTC date-time,
 * "2026-11-25T17:22:11Z". NULL outside years 0001-9999. Caller frees. */
char *lv_mb_format_date(int64_t epoch);
/* Parses an RFC 3339 date-time ("2026-11-25T17:22:11Z", fractional seconds
 * and +hh:mm/-hhmm/+hh offsets allowed, 't'/'z'/space accepted, no offset
 * meaning UTC) or a bare date (midnight UTC) into epoch seconds (fractions
 * dropped). Returns 0 or LV_ERR_INVAL (also when the UTC result falls
 * outside years 0001-9999, which lv_mb_format_date() could not write). */
int lv_mb_parse_date(const char *s, int64_t *epoch);

#endif
