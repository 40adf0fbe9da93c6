/* lv_ap_json: ActivityPub documents in and out, Notes <-> XEP-0277 post
 * data. Everything read here comes from peers: shapes are checked before use
 * and unexpected ones are skipped rather than trusted. */
#include "ap/lv_ap_json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/rand.h>

#include "ap/lv_http_client.h"
#include "blog/lv_mb.h"
#include "blog/lv_syntax.h"
#include "core/lv_buf.h"
#include "core/lv_mem.h"

#define DEFAULT_MAX_BODY ((size_t)1 << 20)
#define DEFAULT_MAX_DEPTH 32u
#define DEFAULT_MAX_VALUES 20000u
#define DEFAULT_MAX_RECIPIENTS 1000u

/* The addressing properties, in the order of struct lv_ap_activity. */
static const char *const rcpt_keys[] = {"to", "cc", "bto", "bcc", "audience"};

/* ---- small JSON helpers ---- */

/* A string member, NULL when absent, not a string or empty. */
static const char *get_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    return s && *s ? s : NULL;
}

/* Sets a string member; skipped when s is NULL (or not UTF-8, which jansson
 * refuses: nothing written here comes from outside jansson or our
 * converters, which both guarantee UTF-8). */
static void put_str(json_t *obj, const char *key, const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    if (v)
        json_object_set_new(obj, key, v);
}

static void put_take(json_t *obj, const char *key, char *s)
{
    put_str(obj, key, s);
    free(s);
}

static bool in_list(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* Appends s to an array of strings unless it is already there. */
static void add_unique(json_t *list, const char *s)
{
    if (s && *s && !in_list(list, s))
        json_array_append_new(list, json_string(s));
}

/* Entries of a may-be-single property: an array counts its elements,
 * anything else but null one. */
static size_t n_values(const json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    return json_is_array(v) ? json_array_size(v) : 1;
}

/* The i-th value of a may-be-single property (see n_values). */
static const json_t *nth_value(const json_t *v, size_t i)
{
    return json_is_array(v) ? json_array_get(v, i) : v;
}

static bool http_url(const char *s)
{
    size_t n = strncasecmp(s, "https://", 8) == 0 ? 8 : strncasecmp(s, "http://", 7) == 0 ? 7 : 0;
    return n && s[n] != '\0';
}

/* ---- references ---- */

const char *lv_ap_ref_id(const json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    const json_t *id = json_is_object(v) ? json_object_get(v, "id") : NULL;
    return json_is_string(id) ? json_string_value(id) : NULL;
}

static void add_ids(json_t *list, const json_t *v)
{
    for (size_t i = 0, n = n_values(v); i < n; i++)
        add_unique(list, lv_ap_ref_id(nth_value(v, i)));
}

json_t *lv_ap_id_list(const json_t *v)
{
    json_t *list = json_array();
    add_ids(list, v);
    return list;
}

/* The first string of "type", NULL when there is none. */
static const char *first_type(const json_t *obj)
{
    const json_t *t = json_is_object(obj) ? json_object_get(obj, "type") : NULL;
    for (size_t i = 0, n = n_values(t); i < n; i++) {
        const json_t *v = nth_value(t, i);
        if (json_is_string(v))
            return json_string_value(v);
    }
    return NULL;
}

bool lv_ap_has_type(const json_t *obj, const char *type)
{
    const json_t *t = json_is_object(obj) ? json_object_get(obj, "type") : NULL;
    for (size_t i = 0, n = n_values(t); i < n; i++) {
        const json_t *v = nth_value(t, i);
        if (json_is_string(v) && strcmp(json_string_value(v), type) == 0)
            return true;
    }
    return false;
}

/* ---- parsing activities ---- */

static void activity_init(struct lv_ap_activity *a)
{
    *a = (struct lv_ap_activity){0};
    a->to = json_array();
    a->cc = json_array();
    a->bto = json_array();
    a->bcc = json_array();
    a->audience = json_array();
}

void lv_ap_activity_release(struct lv_ap_activity *a)
{
    if (!a)
        return;
    json_decref(a->doc);
    json_decref(a->to);
    json_decref(a->cc);
    json_decref(a->bto);
    json_decref(a->bcc);
    json_decref(a->audience);
    *a = (struct lv_ap_activity){0};
}

static json_t **rcpt_list(struct lv_ap_activity *a, size_t i)
{
    json_t **lists[] = {&a->to, &a->cc, &a->bto, &a->bcc, &a->audience};
    return lists[i];
}

static bool public_id(const char *s)
{
    return strcmp(s, LV_AP_PUBLIC) == 0 || strcmp(s, "as:Public") == 0 || strcmp(s, "Public") == 0;
}

/* The actor: a URL or an object with an id. A one-element array is the
 * same thing uncompacted; several actors are refused, since the signature
 * check needs one key owner to compare with. */
static int read_actor(struct lv_ap_activity *a, struct lv_error *err)
{
    const json_t *v = json_object_get(a->doc, "actor");
    if (json_is_array(v) && json_array_size(v) == 1)
        v = json_array_get(v, 0);
    if (!v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
        return lv_error_set(err, LV_ERR_INVAL, "activity without an actor");
    if (json_is_array(v))
        return lv_error_set(err, LV_ERR_INVAL, "activity with several actors");
    a->actor = lv_ap_ref_id(v);
    if (!a->actor || !*a->actor)
        return lv_error_set(err, LV_ERR_INVAL, "activity actor without an id");
    return 0;
}

static int read_core(struct lv_ap_activity *a, struct lv_error *err)
{
    a->id = get_str(a->doc, "id");
    if (!a->id)
        return lv_error_set(err, LV_ERR_INVAL, "activity without an id");
    if (!http_url(a->id))
        return lv_error_set(err, LV_ERR_INVAL, "activity id is not an http(s) URL");
    a->type = first_type(a->doc);
    if (!a->type || !*a->type)
        return lv_error_set(err, LV_ERR_INVAL, "activity without a type");
    int rc = read_actor(a, err);
    if (rc != 0)
        return rc;
    a->object = json_object_get(a->doc, "object");
    if (json_is_null(a->object))
        a->object = NULL;
    a->object_id = lv_ap_ref_id(a->object);
    a->object_type = json_is_object(a->object) ? first_type(a->object) : NULL;
    return 0;
}

/* Recipients of the activity and of its embedded object, merged. Counted
 * before anything is built, so that the dedup below stays quadratic only in
 * a bounded number. */
static int read_recipients(struct lv_ap_activity *a, size_t max, struct lv_error *err)
{
    const json_t *obj = json_is_object(a->object) ? a->object : NULL;
    size_t total = 0;
    for (size_t k = 0; k < LV_ARRAY_LEN(rcpt_keys); k++)
        total += n_values(json_object_get(a->doc, rcpt_keys[k])) +
                 n_values(json_object_get(obj, rcpt_keys[k]));
    if (total > max)
        return lv_error_set(err, LV_ERR_LIMIT, "activity with %zu recipients (at most %zu)", total,
                            max);
    for (size_t k = 0; k < LV_ARRAY_LEN(rcpt_keys); k++) {
        json_t *list = *rcpt_list(a, k);
        add_ids(list, json_object_get(a->doc, rcpt_keys[k]));
        add_ids(list, json_object_get(obj, rcpt_keys[k]));
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            if (public_id(json_string_value(v)))
                a->is_public = true;
        }
    }
    return 0;
}

static int load_doc(const char *body, size_t len, const struct lv_ap_limits *lim, json_t **out,
                    struct lv_error *err)
{
    size_t max_body = lim && lim->max_body ? lim->max_body : DEFAULT_MAX_BODY;
    unsigned max_depth = lim && lim->max_depth ? lim->max_depth : DEFAULT_MAX_DEPTH;
    size_t max_values = lim && lim->max_values ? lim->max_values : DEFAULT_MAX_VALUES;
    if (!body) {
        body = "";
        len = 0;
    }
    if (len > max_body)
        return lv_error_set(err, LV_ERR_LIMIT, "activity of %zu bytes (at most %zu)", len,
                            max_body);
    int rc = lv_http_json_check(body, len, max_depth, max_values, err);
    if (rc != 0)
        return rc;
    json_error_t je;
    /* Duplicate keys are refused: two readers of one document (signature
     * checks, handlers) must not see different values. */
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!doc)
        return lv_error_set(err, LV_ERR_INVAL, "invalid JSON at line %d column %d: %s", je.line,
                            je.column, je.text);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return lv_error_set(err, LV_ERR_INVAL, "activity is not a JSON object");
    }
    *out = doc;
    return 0;
}

int lv_ap_activity_parse(const char *body, size_t len, const struct lv_ap_limits *lim,
                         struct lv_ap_activity *out, struct lv_error *err)
{
    size_t max_rcpt = lim && lim->max_recipients ? lim->max_recipients : DEFAULT_MAX_RECIPIENTS;
    activity_init(out);
    int rc = load_doc(body, len, lim, &out->doc, err);
    if (rc == 0)
        rc = read_core(out, err);
    if (rc == 0)
        rc = read_recipients(out, max_rcpt, err);
    if (rc != 0) {
        lv_ap_activity_release(out);
        activity_init(out);
    }
    return rc;
}

/* ---- building activities ---- */

json_t *lv_ap_activity_new(const char *id, const char *type, const char *actor, json_t *object,
                           json_t *to, json_t *cc)
{
    json_t *a = json_object();
    /* Only contexts Fedify has preloaded: it fetches any other one, and
     * fails when it cannot. */
    json_t *ctx = json_array();
    json_array_append_new(ctx, json_string(LV_AP_NS_AS));
    json_array_append_new(ctx, json_string(LV_AP_NS_SECURITY));
    json_object_set_new(a, "@context", ctx);
    put_str(a, "id", id);
    put_str(a, "type", type);
    put_str(a, "actor", actor);
    if (object)
        json_object_set(a, "object", object);
    if (to)
        json_object_set_new(a, "to", json_deep_copy(to));
    if (cc)
        json_object_set_new(a, "cc", json_deep_copy(cc));
    return a;
}

static void base64url(const unsigned char *in, size_t n, struct lv_buf *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        size_t chars = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
        for (size_t k = 0; k < chars; k++)
            lv_buf_addc(out, b64[v >> (18 - 6 * k) & 0x3F]);
    }
}

char *lv_ap_new_activity_id(const char *base, const char *type)
{
    unsigned char r[16];
    /* Peers drop an activity whose id they have seen (Fedify does): the id
     * must never repeat, and a failing CSPRNG is as fatal as malloc. */
    if (RAND_bytes(r, (int)sizeof(r)) != 1)
        abort();
    struct lv_buf b = LV_BUF_INIT;
    base = base ? base : "";
    lv_buf_add(&b, base, strcspn(base, "#"));
    lv_buf_addc(&b, '#');
    size_t mark = b.len;
    for (const char *p = type ? type : ""; *p; p++)
        if (isalnum((unsigned char)*p) && !((unsigned char)*p & 0x80))
            lv_buf_addc(&b, (char)tolower((unsigned char)*p));
    if (b.len == mark)
        lv_buf_adds(&b, "activity");
    lv_buf_addc(&b, '-');
    base64url(r, sizeof(r), &b);
    return lv_buf_detach(&b);
}

void lv_ap_format_time(int64_t epoch, char out[32])
{
    char *s = lv_mb_format_date(epoch);
    /* Outside years 1-9999 there is no RFC 3339 form: clamp. */
    snprintf(out, 32, "%s", s ? s : epoch < 0 ? "0001-01-01T00:00:00Z" : "9999-12-31T23:59:59Z");
    free(s);
}

static void put_time(json_t *obj, const char *key, int64_t epoch)
{
    char buf[32];
    lv_ap_format_time(epoch, buf);
    put_str(obj, key, buf);
}

/* ---- post data -> Note ---- */

/* A post's epoch (a number, or a numeric string as lv_mb accepts), def when
 * absent or unreadable. */
static int64_t mb_epoch(const json_t *mb, const char *key, int64_t def)
{
    const json_t *v = json_object_get(mb, key);
    double t;
    if (json_is_number(v)) {
        t = json_number_value(v);
    } else if (json_is_string(v)) {
        char *end;
        t = strtod(json_string_value(v), &end);
        if (end == json_string_value(v) || *end)
            return def;
    } else {
        return def;
    }
    /* Beyond these the date cannot be written anyway (and the cast would be
     * undefined). */
    if (!(t > -7e10 && t < 3e11))
        return def;
    return (int64_t)t;
}

/* The content as a sanitised XHTML div: content_xhtml when it parses and is
 * not empty, else the text content; NULL when there is neither. */
static struct lv_xml *mb_content_div(const json_t *mb)
{
    const char *xhtml = get_str(mb, "content_xhtml");
    const char *text = get_str(mb, "content");
    struct lv_xml *div = NULL;
    if (xhtml && lv_syntax_parse_xhtml(xhtml, strlen(xhtml), &div, NULL) == 0 && div->children)
        return div;
    lv_xml_unref(div);
    div = text ? lv_syntax_text_to_xhtml(text, strlen(text)) : NULL;
    if (div && !div->children) {
        lv_xml_unref(div); /* blank */
        div = NULL;
    }
    return div;
}

static bool blank(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* s with whitespace runs collapsed to one space and trimmed. */
static char *squash(const char *s)
{
    struct lv_buf b = LV_BUF_INIT;
    bool space = false;
    for (; *s; s++) {
        if (isspace((unsigned char)*s)) {
            space = b.len > 0;
            continue;
        }
        if (space)
            lv_buf_addc(&b, ' ');
        space = false;
        lv_buf_addc(&b, *s);
    }
    return lv_buf_detach(&b);
}

/* Whether title only repeats the start of the content: the reference makes
 * a title of the content when there is none, and some clients cut the
 * content's first line into the title, with or without an ellipsis. */
static bool title_is_content_start(const char *title, const struct lv_xml *content)
{
    char *t = squash(title);
    char *text = lv_syntax_xhtml_to_text(content);
    char *c = squash(text);
    size_t n = strlen(t);
    if (n >= 3 && strcmp(t + n - 3, "\xe2\x80\xa6") == 0) /* … */
        n -= 3;
    else if (n >= 3 && strcmp(t + n - 3, "...") == 0)
        n -= 3;
    while (n && t[n - 1] == ' ')
        n--;
    bool same = n == 0 || strncmp(c, t, n) == 0;
    free(t);
    free(text);
    free(c);
    return same;
}

/* div with <p><strong>title</strong></p> before its children. */
static struct lv_xml *with_title(struct lv_xml *div, const char *title)
{
    struct lv_xml *d = lv_xml_new("div", LV_NS_XHTML);
    struct lv_xml *strong = lv_xml_new_child(lv_xml_new_child(d, "p", NULL), "strong", NULL);
    char *t = squash(title);
    lv_xml_add_text(strong, t, strlen(t));
    free(t);
    struct lv_xml *c;
    while ((c = div->children) != NULL) {
        lv_xml_detach(c);
        lv_xml_add_child_take(d, c);
    }
    lv_xml_unref(div);
    return d;
}

/* The Note's body as one XHTML div: the content, led by the title when the
 * title says something the content does not; the title alone when there
 * is no content. */
static int note_body(const json_t *mb, struct lv_xml **out, struct lv_error *err)
{
    const char *title = get_str(mb, "title");
    struct lv_xml *div = mb_content_div(mb);
    *out = NULL;
    if (title && blank(title))
        title = NULL;
    if (!div && !title)
        return lv_error_set(err, LV_ERR_INVAL, "a post needs a title or a content");
    if (!div)
        div = lv_syntax_text_to_xhtml(title, strlen(title));
    else if (title && !title_is_content_start(title, div))
        div = with_title(div, title);
    *out = div;
    return 0;
}

/* Languages go into xml:lang and JSON keys: a BCP 47 tag's characters. */
static bool valid_lang(const char *s, size_t len)
{
    if (len == 0 || len > 35)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

static char *pct_encode_tag(const char *s)
{
    struct lv_buf b = LV_BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p))
            lv_buf_addc(&b, (char)*p);
        else
            lv_buf_addf(&b, "%%%02X", *p);
    }
    return lv_buf_detach(&b);
}

static void add_hashtags(json_t *tags, const json_t *mb, const char *tag_base)
{
    const json_t *list = json_object_get(mb, "tags");
    json_t *seen = json_array();
    for (size_t i = 0, n = json_is_array(list) ? json_array_size(list) : 0; i < n; i++) {
        const json_t *v = json_array_get(list, i);
        const char *tag = json_is_string(v) ? json_string_value(v) : "";
        while (*tag == '#')
            tag++;
        if (!*tag || in_list(seen, tag))
            continue;
        json_array_append_new(seen, json_string(tag));
        json_t *t = json_object();
        put_str(t, "type", "Hashtag");
        if (tag_base) {
            char *enc = pct_encode_tag(tag);
            put_take(t, "href", lv_xasprintf("%s%s", tag_base, enc));
            free(enc);
        }
        put_take(t, "name", lv_xasprintf("#%s", tag));
        json_array_append_new(tags, t);
    }
    json_decref(seen);
}

static void add_mentions(json_t *tags, const struct lv_ap_note_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_mentions; i++) {
        const struct lv_ap_mention *m = &ctx->mentions[i];
        if (!m->href || !*m->href)
            continue;
        json_t *t = json_object();
        put_str(t, "type", "Mention");
        put_str(t, "href", m->href);
        if (m->name && *m->name)
            put_take(t, "name", lv_xasprintf("@%s", m->name + (m->name[0] == '@')));
        json_array_append_new(tags, t);
    }
}

/* Public: to Public, cc followers. Otherwise to followers. Mentioned
 * accounts go to cc, or, for a private post without a followers
 * collection (a direct message), to "to". */
static void add_addressing(json_t *note, const struct lv_ap_note_ctx *ctx)
{
    json_t *to = json_array(), *cc = json_array();
    if (ctx->is_public) {
        add_unique(to, LV_AP_PUBLIC);
        add_unique(cc, ctx->followers);
    } else {
        add_unique(to, ctx->followers);
    }
    json_t *mentioned = !ctx->is_public && !ctx->followers ? to : cc;
    for (size_t i = 0; i < ctx->n_mentions; i++)
        add_unique(mentioned, ctx->mentions[i].href);
    json_object_set_new(note, "to", to);
    json_object_set_new(note, "cc", cc);
}

static void add_dates(json_t *note, const json_t *mb)
{
    int64_t published = mb_epoch(mb, "published", (int64_t)time(NULL));
    int64_t updated = mb_epoch(mb, "updated", published);
    put_time(note, "published", published);
    /* Mastodon shows any Note with "updated" as edited. */
    if (updated > published)
        put_time(note, "updated", updated);
}

json_t *lv_ap_note_from_mb(const json_t *mb, const struct lv_ap_note_ctx *ctx, struct lv_error *err)
{
    struct lv_xml *div;
    if (!json_is_object(mb)) {
        lv_error_set(err, LV_ERR_INVAL, "post data must be an object");
        return NULL;
    }
    if (note_body(mb, &div, err) != 0)
        return NULL;
    char *html = lv_ap_html_from_xhtml(div, ctx->mentions, ctx->n_mentions);
    lv_xml_unref(div);

    json_t *note = json_object();
    put_str(note, "id", ctx->object_id);
    put_str(note, "type", "Note");
    put_str(note, "attributedTo", ctx->actor);
    put_str(note, "content", html);
    const char *lang = get_str(mb, "language");
    if (lang && valid_lang(lang, strlen(lang))) {
        json_t *map = json_object();
        put_str(map, lang, html);
        json_object_set_new(note, "contentMap", map);
    }
    free(html);
    put_str(note, "mediaType", "text/html");
    add_dates(note, mb);
    put_str(note, "url", ctx->object_id);
    add_addressing(note, ctx);
    json_t *tags = json_array();
    add_hashtags(tags, mb, ctx->tag_base);
    add_mentions(tags, ctx);
    if (json_array_size(tags))
        json_object_set_new(note, "tag", tags);
    else
        json_decref(tags);
    put_str(note, "inReplyTo", ctx->in_reply_to);
    return note;
}

/* ---- Note -> post data ---- */

/* What the object's content gave. */
struct note_content {
    struct lv_xml *xhtml; /* sanitised div, NULL without content */
    char *text;           /* its text, NULL when empty */
    const char *lang;     /* borrowed from the note, NULL if unknown */
};

/* The HTML to read and its language: "content" (its language is the
 * contentMap key holding the same text), else the first contentMap
 * entry. */
static const json_t *pick_content(const json_t *note, const char **lang)
{
    const json_t *content = json_object_get(note, "content");
    const json_t *map = json_object_get(note, "contentMap");
    const char *key;
    json_t *v;
    *lang = NULL;
    if (!json_is_object(map))
        map = NULL;
    if (json_is_string(content)) {
        json_object_foreach((json_t *)map, key, v)
        {
            if (json_is_string(v) && json_equal(v, (json_t *)content)) {
                *lang = key;
                break;
            }
        }
        return content;
    }
    json_object_foreach((json_t *)map, key, v)
    {
        if (json_is_string(v)) {
            *lang = key;
            return v;
        }
    }
    return NULL;
}

/* The first non-space character of the text under x, '\0' when none. The
 * sanitised tree is at most LV_SYNTAX_MAX_DEPTH deep: recursion is fine. */
static char first_char(const struct lv_xml *x)
{
    for (const struct lv_xml *c = x->children; c; c = c->next) {
        if (c->kind == LV_XML_TEXT) {
            for (size_t i = 0; i < c->text_len; i++)
                if (!isspace((unsigned char)c->text[i]))
                    return c->text[i];
            continue;
        }
        char ch = first_char(c);
        if (ch)
            return ch;
    }
    return '\0';
}

/* Mention and hashtag links lose their target, so that the text reads
 * "@user" and "#tag" rather than "@user (https://...)", as Mastodon's own
 * plain text does. */
static void unlink_handles(struct lv_xml *x)
{
    for (struct lv_xml *c = x->children; c; c = c->next) {
        if (c->kind != LV_XML_ELEM)
            continue;
        char ch = lv_xml_is(c, "a", NULL) ? first_char(c) : '\0';
        if (ch == '@' || ch == '#')
            lv_xml_set_attr(c, "href", NULL);
        unlink_handles(c);
    }
}

/* The text version of a peer's content. */
static char *note_text(const struct lv_xml *xhtml)
{
    struct lv_xml *copy = lv_xml_copy(xhtml);
    unlink_handles(copy);
    char *text = lv_syntax_xhtml_to_text(copy);
    lv_xml_unref(copy);
    return text;
}

static int read_content(const json_t *note, struct note_content *nc, struct lv_error *err)
{
    const json_t *c = pick_content(note, &nc->lang);
    if (nc->lang && !valid_lang(nc->lang, strlen(nc->lang)))
        nc->lang = NULL;
    if (!c)
        return 0;
    const char *s = json_string_value(c);
    size_t len = json_string_length(c);
    const char *media = get_str(note, "mediaType");
    if (media && strcasecmp(media, "text/plain") == 0) {
        /* Plain text may hold anything jansson let through: NULs are cut,
         * and the serialiser drops what XML cannot carry. */
        nc->xhtml = lv_syntax_text_to_xhtml(s, strnlen(s, len));
    } else {
        int rc = lv_ap_html_to_xhtml(s, len, NULL, &nc->xhtml, NULL, err);
        if (rc != 0)
            return rc;
    }
    char *text = note_text(nc->xhtml);
    if (*text) {
        nc->text = text;
    } else {
        free(text);
        lv_xml_unref(nc->xhtml);
        nc->xhtml = NULL;
    }
    return 0;
}

/* A plain-text property or the first value of its map ("name", "nameMap"). */
static const json_t *plain_or_map(const json_t *note, const char *key, const char *map_key)
{
    const json_t *v = json_object_get(note, key);
    if (json_is_string(v))
        return v;
    const json_t *map = json_object_get(note, map_key);
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)map, k, m)
    {
        if (json_is_string(m))
            return m;
    }
    return NULL;
}

/* The title: the name, else the summary (a content warning, in HTML).
 * NULL when blank. */
static int read_title(const json_t *note, char **title, struct lv_error *err)
{
    const json_t *name = plain_or_map(note, "name", "nameMap");
    char *t = NULL;
    *title = NULL;
    if (name) {
        /* Plain text by the spec (the XML serialiser drops what XML cannot
         * carry). */
        t = lv_xstrndup(json_string_value(name), json_string_length(name));
    } else {
        const json_t *summary = plain_or_map(note, "summary", "summaryMap");
        if (!summary)
            return 0;
        int rc = lv_ap_html_to_text(json_string_value(summary), json_string_length(summary), NULL,
                                    &t, err);
        if (rc != 0)
            return rc;
    }
    char *sq = squash(t);
    free(t);
    if (*sq)
        *title = sq;
    else
        free(sq);
    return 0;
}

/* A link's target: a URL string, a Link's href, an object's url, or the
 * first of an array that has one. */
static const char *link_href(const json_t *v, unsigned depth)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (depth > 2)
        return NULL;
    if (json_is_object(v)) {
        const char *href = get_str(v, "href");
        return href ? href : link_href(json_object_get(v, "url"), depth + 1);
    }
    for (size_t i = 0, n = json_is_array(v) ? json_array_size(v) : 0; i < n; i++) {
        const char *href = link_href(json_array_get(v, i), depth + 1);
        if (href)
            return href;
    }
    return NULL;
}

static json_t *read_attachments(const json_t *note)
{
    json_t *list = json_array();
    const json_t *att = json_object_get(note, "attachment");
    for (size_t i = 0, n = n_values(att); i < n && json_array_size(list) < LV_AP_MAX_ATTACHMENTS;
         i++) {
        const json_t *a = nth_value(att, i);
        const char *url = json_is_object(a) ? link_href(json_object_get(a, "url"), 0) : NULL;
        if (json_is_object(a) && !url)
            url = get_str(a, "href"); /* a Link as attachment */
        if (!url || !*url)
            continue;
        json_t *o = json_object();
        put_str(o, "url", url);
        put_str(o, "media_type", get_str(a, "mediaType"));
        put_str(o, "name", get_str(a, "name"));
        json_array_append_new(list, o);
    }
    return list;
}

static json_t *read_tags(const json_t *note)
{
    json_t *tags = json_array();
    const json_t *tag = json_object_get(note, "tag");
    /* The cap also bounds the deduplication, which is quadratic. */
    for (size_t i = 0, n = n_values(tag); i < n && json_array_size(tags) < LV_AP_MAX_TAGS; i++) {
        const json_t *t = nth_value(tag, i);
        const char *name = lv_ap_has_type(t, "Hashtag") ? get_str(t, "name") : NULL;
        if (!name)
            continue;
        while (*name == '#')
            name++;
        char *sq = squash(name);
        add_unique(tags, sq);
        free(sq);
    }
    return tags;
}

static void read_dates(json_t *d, const json_t *note)
{
    const char *p = get_str(note, "published"), *u = get_str(note, "updated");
    int64_t published, updated;
    if (!p || lv_mb_parse_date(p, &published) != 0)
        published = (int64_t)time(NULL);
    if (!u || lv_mb_parse_date(u, &updated) != 0)
        updated = published;
    json_object_set_new(d, "published", json_integer(published));
    json_object_set_new(d, "updated", json_integer(updated));
}

static json_t *read_extra(const json_t *note)
{
    json_t *ap = json_object();
    const json_t *url = json_object_get(note, "url");
    if (json_is_string(url))
        put_str(ap, "url", json_string_value(url));
    const char *reply = lv_ap_ref_id(json_object_get(note, "inReplyTo"));
    if (reply && *reply)
        put_str(ap, "in_reply_to", reply);
    json_object_set_new(ap, "attachments", read_attachments(note));
    json_t *extra = json_object();
    json_object_set_new(extra, "ap", ap);
    return extra;
}

int lv_ap_mb_from_note(const json_t *note, const char *author_jid, const char *author_name,
                       json_t **mb, struct lv_error *err)
{
    struct note_content nc = {0};
    char *title = NULL;
    int rc;
    *mb = NULL;
    if (!json_is_object(note))
        return lv_error_set(err, LV_ERR_INVAL, "the object is not a JSON object");
    const char *id = get_str(note, "id");
    if (!id)
        return lv_error_set(err, LV_ERR_INVAL, "object without an id");
    if ((rc = read_content(note, &nc, err)) != 0 || (rc = read_title(note, &title, err)) != 0)
        goto out;
    if (!nc.text && !title) {
        rc = lv_error_set(err, LV_ERR_INVAL, "object without any text");
        goto out;
    }
    json_t *d = json_object();
    put_str(d, "id", id);
    if (nc.xhtml) {
        put_take(d, "content_xhtml", lv_xml_to_string(nc.xhtml, NULL));
        put_str(d, "content", nc.text);
    }
    put_str(d, "title", title);
    put_str(d, "language", nc.lang);
    read_dates(d, note);
    put_str(d, "author", author_name);
    put_str(d, "author_jid", author_jid);
    json_object_set_new(d, "tags", read_tags(note));
    json_object_set_new(d, "extra", read_extra(note));
    *mb = d;
out:
    lv_xml_unref(nc.xhtml);
    free(nc.text);
    free(title);
    return rc;
}
