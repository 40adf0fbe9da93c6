/* lv_ap_json: ActivityPub documents — parsing peers' activities tolerantly
 * and building ours, and converting Notes to and from XEP-0277 post data.
 *
 * Peers send compacted JSON-LD: a property that may hold several values
 * (to, cc, bto, bcc, audience, tag, attachment, type...) may hold a single
 * scalar or object instead of an array, and an object reference may be a
 * URL string or an embedded object with an "id". Everything here accepts
 * both shapes. Input is remote and bounded by struct lv_ap_limits.
 *
 * Post data is the JSON object of lv_mb.h (the reference's "mb data"). */
#ifndef LV_AP_JSON_H
#define LV_AP_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ap/lv_ap_html.h"
#include "core/lv_err.h"

#define LV_AP_NS_AS "https://www.w3.org/ns/activitystreams"
#define LV_AP_NS_SECURITY "https://w3id.org/security/v1"
#define LV_AP_PUBLIC "https://www.w3.org/ns/activitystreams#Public"

struct lv_ap_limits {
    size_t max_body;       /* bytes of an activity; 0 = 1 MiB */
    unsigned max_depth;    /* JSON nesting; 0 = 32 */
    size_t max_values;     /* JSON values; 0 = 20000 */
    size_t max_recipients; /* to+cc+bto+bcc+audience entries; 0 = 1000 */
};

/* A peer's activity, parsed. Strings are borrowed from doc. */
struct lv_ap_activity {
    json_t *doc;             /* the whole document (owned reference) */
    const char *id;          /* required, an http(s) URL */
    const char *type;        /* required; the first string when "type" is an array */
    const char *actor;       /* required: "actor" as a string, or its object's "id" */
    json_t *object;          /* borrowed: "object" as given (string or object), or NULL */
    const char *object_id;   /* object's URL: the string, or the object's "id"; NULL */
    const char *object_type; /* the embedded object's type, NULL for a string */
    /* Recipients, each normalised to an array of URL strings (objects give
     * their "id"; other entries are dropped). Owned references, never NULL
     * (empty arrays). Those of the embedded object are merged in (Mastodon
     * addresses the Note as well as the Create). */
    json_t *to, *cc, *bto, *bcc, *audience;
    bool is_public; /* LV_AP_PUBLIC, "as:Public" or "Public" among the recipients */
};

/* Parses an activity body[0..len): size, depth and value limits checked
 * before parsing (lv_http_json_check), then a JSON object with string "id",
 * "type" and "actor" (string or object with string id). LV_ERR_LIMIT (body,
 * depth, values, recipients) or LV_ERR_INVAL with a message fit for a 400
 * answer ("invalid JSON at line 1 column 5: ...", "activity without an
 * actor"...). out is always initialised; release it with
 * lv_ap_activity_release(). lim NULL = defaults. */
int lv_ap_activity_parse(const char *body, size_t len, const struct lv_ap_limits *lim,
                         struct lv_ap_activity *out, struct lv_error *err);
void lv_ap_activity_release(struct lv_ap_activity *a);

/* v normalised to an array of strings (see above): a new reference, never
 * NULL. */
json_t *lv_ap_id_list(const json_t *v);
/* The id of a reference: v itself when a string, v.id when an object;
 * NULL otherwise. Borrowed from v. */
const char *lv_ap_ref_id(const json_t *v);
/* True if obj's "type" (string or array of strings) contains type. */
bool lv_ap_has_type(const json_t *obj, const char *type);

/* ---- building activities ---- */

/* A new activity {"@context": [AS, security], id, type, actor, object
 * (borrowed, incref'd; string or object)}, plus "to"/"cc" arrays when
 * non-NULL (borrowed, copied). Caller decrefs. */
json_t *lv_ap_activity_new(const char *id, const char *type, const char *actor, json_t *object,
                           json_t *to, json_t *cc);
/* A fresh activity id under base ("<base>#<type lowercase>-<22 random
 * base64url chars>"... any unique http(s) URL is fine). Caller frees. */
char *lv_ap_new_activity_id(const char *base, const char *type);

/* ---- Notes <-> XEP-0277 ---- */

/* What an outgoing Note needs besides the post. Borrowed strings. */
struct lv_ap_note_ctx {
    const char *object_id;   /* the Note's id (our item URL) */
    const char *actor;       /* attributedTo: the author's actor URL */
    const char *followers;   /* the author's followers collection URL */
    const char *in_reply_to; /* NULL, or the parent object's URL (comments) */
    const char *tag_base;    /* NULL, or a URL prefix for Hashtag hrefs ("<base>tags/") */
    bool is_public;          /* to Public + cc followers; else to followers only */
    /* Accounts mentioned (already resolved by the caller): linked in the
     * content (lv_ap_html_from_xhtml), listed in tag as Mention {href, name}
     * and added to "cc" — or to "to" when the post is not public and
     * followers is NULL: a direct message. */
    const struct lv_ap_mention *mentions;
    size_t n_mentions;
};

/* A Note for a post (mb data): id, type "Note", attributedTo, content (the
 * XHTML content written as HTML, else the text content as HTML; a title
 * that is not just the start of the content comes first as
 * <p><strong>title</strong></p>), contentMap {language: content} when the
 * post has a language, mediaType "text/html", published and updated
 * (RFC 3339, from the post's epochs; updated only when later than
 * published, since Mastodon marks any Note with "updated" as edited), url
 * (= id), to/cc, tag (Hashtag {type, name "#tag", href} per tag, href only
 * with tag_base; Mention {type, href, name "@user@host"} per ctx mention),
 * inReplyTo. Caller decrefs; NULL with err (LV_ERR_INVAL) when the post
 * has neither title nor content. */
json_t *lv_ap_note_from_mb(const json_t *mb, const struct lv_ap_note_ctx *ctx,
                           struct lv_error *err);

/* What lv_ap_mb_from_note() keeps of a peer's object at most. */
#define LV_AP_MAX_TAGS 100
#define LV_AP_MAX_ATTACHMENTS 32

/* Post data for a peer's Note (or Article, Page, Question...: any object
 * with content, name or summary): id = the object's id (the pubsub item
 * id), content_xhtml = its HTML content (content, else the first
 * contentMap value; summary as a content warning becomes the title)
 * converted by lv_ap_html_to_xhtml and serialised, content = its text,
 * title = name when present, language = the contentMap key used,
 * published/updated (epochs; updated defaults to published, published to
 * now), author = author_name when non-NULL, author_jid = author_jid, tags
 * from Hashtag tags (without '#'; the first LV_AP_MAX_TAGS distinct ones),
 * and extra.ap {url (the "url" when a string), in_reply_to, attachments
 * [{url, media_type, name}] (the first LV_AP_MAX_ATTACHMENTS with a url)}.
 * LV_ERR_INVAL for an object without id or without any text; LV_ERR_LIMIT
 * from the HTML converter. Caller decrefs *mb. */
int lv_ap_mb_from_note(const json_t *note, const char *author_jid, const char *author_name,
                       json_t **mb, struct lv_error *err);

/* RFC 3339 UTC ("2026-11-25T17:22:11Z") of epoch seconds into out. */
void lv_ap_format_time(int64_t epoch, char out[32]);

#endif
