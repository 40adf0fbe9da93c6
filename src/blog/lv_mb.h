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

#include "core/lv_err.h"
#include "xml/lv_xml.h"

#define LV_NS_MICROBLOG "urn:xmpp:microblog:0"
#define LV_NS_MICROBLOG_COMMENTS "urn:xmpp:microblog:0:comments/"
#define LV_NS_ATOM "http://www.w3.org/2005/Atom"
#define LV_NS_XHTML "http://www.w3.org/1999/xhtml"

/* Builds the Atom <entry> for a post. data is borrowed; service, node and
 * item_id (the final pubsub item id) make the entry's atom id and author uri
 * (author_jid is our bare JID). Rich contents are converted from their
 * syntax, and XHTML is sanitised; a text version is always written beside an
 * XHTML one. Without a title, the content becomes the title (as the
 * reference does). LV_ERR_INVAL when there is neither title nor content or a
 * value has the wrong type. Caller owns *entry. */
int lv_mb_entry_from_data(json_t *data, const char *service, const char *node,
                          const char *item_id, const char *author_jid, struct lv_xml **entry,
                          struct lv_error *err);

/* Reads an item's Atom entry into post data. publisher (may be NULL) is the
 * item's publisher attribute, used for author_jid_verified. XHTML read from
 * the entry is sanitised. Caller owns *out. LV_ERR_INVAL if payload is not an
 * Atom entry. */
int lv_mb_data_from_entry(const struct lv_xml *entry, const char *service, const char *node,
                          const char *item_id, const char *publisher, json_t **out,
                          struct lv_error *err);

/* URL-friendly text as the reference's urlFriendlyText: NFKD, marks and
 * non-ASCII dropped, runs outside [a-z0-9,_] become "-", lower case, cut back
 * word by word to at most max_len (60 for ids). Caller frees. */
char *lv_mb_slug(const char *text, size_t max_len);
/* User-friendly item id: slug(text) + "-" + 4 random base64url characters.
 * Caller frees. */
char *lv_mb_friendly_id(const char *text);
/* A random id for user_friendly_id=false (22 characters). Caller frees. */
char *lv_mb_random_id(void);
/* "urn:xmpp:microblog:0:comments/<item id>". Caller frees. */
char *lv_mb_comments_node(const char *item_id);
/* "xmpp:service?;node=…;item=…" with RFC 5122 escaping. Caller frees. */
char *lv_mb_xmpp_uri(const char *service, const char *node, const char *item);
/* Parses an xmpp: pubsub URI into its parts (each caller-freed, may be
 * NULL). Returns 0 or LV_ERR_INVAL. */
int lv_mb_parse_xmpp_uri(const char *uri, char **service, char **node, char **item);

#endif
