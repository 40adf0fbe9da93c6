#include "blog/lv_mb.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/rand.h>
#include <utf8proc.h>

#include "blog/lv_syntax.h"
#include "core/lv_buf.h"
#include "core/lv_mem.h"
#include "xmpp/lv_jid.h"

/* ---- random ids ---- */

static void random_bytes(unsigned char *buf, size_t n)
{
    /* Ids must not be guessable before publication (drafts, private
     * nodes); a failing CSPRNG is as fatal as a failing malloc. */
    if (RAND_bytes(buf, (int)n) != 1)
        abort();
}

char *lv_mb_random_id(void)
{
    /* shortuuid's alphabet (no 0 1 I O l): 22 characters as the reference. */
    static const char alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    const unsigned n = sizeof(alphabet) - 1;
    char *id = lv_xmalloc(23);
    size_t len = 0;
    while (len < 22) {
        unsigned char b[32];
        random_bytes(b, sizeof(b));
        for (size_t i = 0; i < sizeof(b) && len < 22; i++)
            if (b[i] < 256 / n * n) /* rejection keeps the draw uniform */
                id[len++] = alphabet[b[i] % n];
    }
    id[22] = '\0';
    return id;
}

/* token_urlsafe(3): 3 random bytes as 4 base64url characters. */
static void token_urlsafe3(char out[5])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[3];
    random_bytes(r, sizeof(r));
    uint32_t v = (uint32_t)r[0] << 16 | (uint32_t)r[1] << 8 | r[2];
    for (int i = 0; i < 4; i++)
        out[i] = b64[v >> (18 - 6 * i) & 0x3F];
    out[4] = '\0';
}

/* ---- slugs ---- */

/* Drops trailing "-"-words while longer than max, then hard-cuts (on a
 * UTF-8 character boundary) a single word still too long. */
static void cut_slug(struct lv_buf *b, size_t max)
{
    while (b->len > max) {
        char *dash = memrchr(b->data, '-', b->len);
        if (!dash) {
            size_t n = max;
            while (n > 0 && ((unsigned char)b->data[n] & 0xC0) == 0x80)
                n--;
            b->len = n;
            break;
        }
        b->len = (size_t)(dash - b->data);
    }
    if (b->data)
        b->data[b->len] = '\0';
}

static bool ascii_word_char(unsigned char c)
{
    return isalnum(c) || c == ',' || c == '_';
}

/* The reference's urlFriendlyText. has_alnum tells whether the slug holds
 * a letter or digit (not only "," and "_"). */
static char *ascii_slug(const char *text, size_t max, bool *has_alnum)
{
    /* NFD then "encode('ascii', 'ignore')": accents fall off as separate
     * marks, other non-ASCII characters vanish without separating words. */
    char *nfd = (char *)utf8proc_NFD((const utf8proc_uint8_t *)text);
    const unsigned char *p = (const unsigned char *)(nfd ? nfd : text);
    struct lv_buf b = LV_BUF_INIT;
    bool gap = false;
    *has_alnum = false;
    for (; *p; p++) {
        if (*p >= 0x80)
            continue;
        if (!ascii_word_char(*p)) {
            gap = b.len > 0;
            continue;
        }
        if (gap)
            lv_buf_addc(&b, '-');
        gap = false;
        lv_buf_addc(&b, (char)tolower(*p));
        *has_alnum |= isalnum(*p) != 0;
    }
    free(nfd);
    cut_slug(&b, max);
    return lv_buf_detach(&b);
}

/* Generic accents (the combining diacritical blocks) are dropped so that
 * Greek or Cyrillic slugs read as typed without accents; marks that belong
 * to a script (kana voicing, Indic vowel signs) are part of the letters. */
static bool generic_accent(utf8proc_int32_t cp)
{
    return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
           (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
           (cp >= 0xFE20 && cp <= 0xFE2F);
}

static int cp_class(utf8proc_int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 2; /* letter or digit */
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return 1; /* mark: part of a word, not enough to make one */
    default:
        return cp == ',' || cp == '_';
    }
}

/* The deviation documented in lv_mb.h: a slug of Unicode letters for text
 * that has no ASCII letter or digit. */
static char *unicode_slug(const char *text, size_t max)
{
    char *nfkd = (char *)utf8proc_NFKD((const utf8proc_uint8_t *)text);
    struct lv_buf b = LV_BUF_INIT;
    bool gap = false, letters = false;
    if (!nfkd)
        return lv_xstrdup("");
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)nfkd;
    utf8proc_int32_t cp;
    utf8proc_ssize_t n;
    while (*p && (n = utf8proc_iterate(p, -1, &cp)) > 0) {
        p += n;
        if (generic_accent(cp))
            continue;
        int cls = cp_class(cp);
        if (!cls) {
            gap = b.len > 0;
            continue;
        }
        utf8proc_uint8_t enc[4];
        if (gap)
            lv_buf_addc(&b, '-');
        gap = false;
        lv_buf_add(&b, enc, (size_t)utf8proc_encode_char(utf8proc_tolower(cp), enc));
        letters |= cls == 2;
    }
    free(nfkd);
    char *s = lv_buf_detach(&b);
    if (!letters) {
        free(s);
        return lv_xstrdup("");
    }
    char *nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)s);
    free(s);
    lv_buf_adds(&b, nfc ? nfc : "");
    free(nfc);
    cut_slug(&b, max);
    return lv_buf_detach(&b);
}

char *lv_mb_slug(const char *text, size_t max_len)
{
    bool has_alnum;
    char *s = ascii_slug(text ? text : "", max_len, &has_alnum);
    if (has_alnum)
        return s;
    free(s);
    s = unicode_slug(text ? text : "", max_len);
    if (*s)
        return s;
    free(s);
    return lv_xstrndup("post", max_len);
}

char *lv_mb_friendly_id(const char *text)
{
    char token[5];
    char *slug = lv_mb_slug(text, 60);
    token_urlsafe3(token);
    char *id = lv_xasprintf("%s-%s", slug, token);
    free(slug);
    return id;
}

char *lv_mb_item_id(json_t *data)
{
    static const char *const sources[] = {"title", "title_rich", "content", "content_rich"};
    json_t *id = json_object_get(data, "id");
    if (json_is_string(id))
        return lv_xstrdup(json_string_value(id));
    if (json_is_false(json_object_get(data, "user_friendly_id")))
        return lv_mb_random_id();
    for (size_t i = 0; i < LV_ARRAY_LEN(sources); i++) {
        const char *s = json_string_value(json_object_get(data, sources[i]));
        if (s && *s)
            return lv_mb_friendly_id(s);
    }
    return lv_mb_friendly_id("");
}

char *lv_mb_comments_node(const char *item_id)
{
    return lv_xasprintf("%s%s", LV_NS_MICROBLOG_COMMENTS, item_id);
}

/* ---- xmpp: URIs ---- */

static void pct_encode(struct lv_buf *b, const char *s, bool keep_at)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p) || (keep_at && *p == '@'))
            lv_buf_addc(b, (char)*p);
        else
            lv_buf_addf(b, "%%%02X", *p);
    }
}

char *lv_mb_xmpp_uri(const char *service, const char *node, const char *item)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "xmpp:");
    pct_encode(&b, service ? service : "", true);
    if (node || item)
        lv_buf_addc(&b, '?');
    if (node) {
        lv_buf_adds(&b, ";node=");
        pct_encode(&b, node, false);
    }
    if (item) {
        lv_buf_adds(&b, ";item=");
        pct_encode(&b, item, false);
    }
    return lv_buf_detach(&b);
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..len); NULL on a bad escape or an encoded NUL. */
static char *pct_decode(const char *s, size_t len, bool plus_space)
{
    struct lv_buf b = LV_BUF_INIT;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_val(s[i + 1]) : -1;
            int lo = hi >= 0 ? hex_val(s[i + 2]) : -1;
            if (lo < 0 || (hi == 0 && lo == 0)) {
                lv_buf_release(&b);
                return NULL;
            }
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        lv_buf_addc(&b, c);
    }
    return lv_buf_detach(&b);
}

/* Stores one "key=value" pair of the query; the first segment (the action)
 * and unknown keys are ignored. */
static int uri_pair(const char *seg, size_t len, char **node, char **item)
{
    const char *eq = memchr(seg, '=', len);
    if (!eq)
        return 0;
    char *key = pct_decode(seg, (size_t)(eq - seg), true);
    char *val = pct_decode(eq + 1, len - (size_t)(eq + 1 - seg), true);
    char **slot = !key                       ? NULL
                  : strcmp(key, "node") == 0 ? node
                  : strcmp(key, "item") == 0 ? item
                                             : NULL;
    int rc = key && val ? 0 : LV_ERR_INVAL;
    if (rc == 0 && slot && *slot)
        rc = LV_ERR_INVAL; /* the reference refuses repeated keys too */
    if (rc == 0 && slot) {
        *slot = val;
        val = NULL;
    }
    free(key);
    free(val);
    return rc;
}

static int uri_query(const char *q, size_t len, char **node, char **item)
{
    size_t i = 0;
    while (i <= len) {
        const char *semi = memchr(q + i, ';', len - i);
        size_t end = semi ? (size_t)(semi - q) : len;
        int rc = uri_pair(q + i, end - i, node, item);
        if (rc != 0)
            return rc;
        i = end + 1;
    }
    return 0;
}

static void give(char **out, char *value)
{
    if (out)
        *out = value;
    else
        free(value);
}

int lv_mb_parse_xmpp_uri(const char *uri, char **service, char **node, char **item)
{
    char *svc = NULL, *nd = NULL, *it = NULL;
    int rc = LV_ERR_INVAL;
    give(service, NULL);
    give(node, NULL);
    give(item, NULL);
    if (!uri || strncasecmp(uri, "xmpp:", 5) != 0)
        return LV_ERR_INVAL;
    const char *p = uri + 5;
    if (strncmp(p, "//", 2) == 0) { /* authority: the account to act as */
        p = strchr(p + 2, '/');
        if (!p)
            return LV_ERR_INVAL;
        p++;
    }
    size_t path_len = strcspn(p, "?#");
    svc = pct_decode(p, path_len, false);
    if (svc && *svc) {
        rc = 0;
        if (p[path_len] == '?')
            rc = uri_query(p + path_len + 1, strcspn(p + path_len + 1, "#"), &nd, &it);
    }
    if (rc != 0) {
        free(svc);
        free(nd);
        free(it);
        return LV_ERR_INVAL;
    }
    give(service, svc);
    give(node, nd);
    give(item, it);
    return 0;
}

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm: exact over the whole range, no time zone, no libc). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define DATE_MIN INT64_C(-62135596800)
#define DATE_MAX INT64_C(253402300799)

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

char *lv_mb_format_date(int64_t epoch)
{
    if (epoch < DATE_MIN || epoch > DATE_MAX)
        return NULL;
    int64_t days = floor_div(epoch, 86400), secs = epoch - days * 86400, y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    return lv_xasprintf("%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, m, d, (int)(secs / 3600),
                        (int)(secs / 60 % 60), (int)(secs % 60));
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* "Z", "+hh:mm", "-hhmm", "+hh" or nothing (UTC), as seconds east. */
static bool parse_offset(const char **p, int *off)
{
    int sign, h, m = 0;
    *off = 0;
    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        return true;
    }
    if (**p != '+' && **p != '-')
        return true;
    sign = *(*p)++ == '-' ? -1 : 1;
    if (!digits(p, 2, &h))
        return false;
    if (**p == ':' || isdigit((unsigned char)**p)) {
        expect(p, ':');
        if (!digits(p, 2, &m))
            return false;
    }
    if (h > 23 || m > 59)
        return false;
    *off = sign * (h * 3600 + m * 60);
    return true;
}

/* "hh:mm[:ss[.frac]]"; fractions are dropped as the reference's timegm()
 * does. A leap second counts as :59. */
static bool parse_time(const char **p, int *secs)
{
    int h, m, s = 0;
    if (!digits(p, 2, &h) || !expect(p, ':') || !digits(p, 2, &m))
        return false;
    if (expect(p, ':')) {
        if (!digits(p, 2, &s))
            return false;
        if (expect(p, '.') || expect(p, ',')) {
            if (!isdigit((unsigned char)**p))
                return false;
            while (isdigit((unsigned char)**p))
                (*p)++;
        }
    }
    if (h > 23 || m > 59 || s > 60)
        return false;
    *secs = h * 3600 + m * 60 + (s == 60 ? 59 : s);
    return true;
}

int lv_mb_parse_date(const char *s, int64_t *epoch)
{
    const char *p = s;
    int y, mo, d, secs = 0, off = 0;
    if (!s)
        return LV_ERR_INVAL;
    while (isspace((unsigned char)*p))
        p++;
    if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
        !digits(&p, 2, &d))
        return LV_ERR_INVAL;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
        return LV_ERR_INVAL;
    if ((*p == 'T' || *p == 't' || *p == ' ') && isdigit((unsigned char)p[1])) {
        p++;
        if (!parse_time(&p, &secs) || !parse_offset(&p, &off))
            return LV_ERR_INVAL;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return LV_ERR_INVAL;
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + secs - off;
    /* An offset can push the first or last day out of the years we can
     * write back: refused, so that every date read can be republished. */
    if (t < DATE_MIN || t > DATE_MAX)
        return LV_ERR_INVAL;
    *epoch = t;
    return 0;
}

/* ---- data → entry ---- */

/* data[key] as a string: 0 with *out NULL when absent or null,
 * LV_ERR_INVAL when it has another type. */
static int opt_str(json_t *obj, const char *key, const char **out, struct lv_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return lv_error_set(err, LV_ERR_INVAL, "\"%s\" must be a string", key);
    *out = json_string_value(v);
    return 0;
}

/* data[key] as a JSON type (NULL when absent or null). */
static int opt_type(json_t *obj, const char *key, json_type type, json_t **out,
                    struct lv_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_typeof(v) != type)
        return lv_error_set(err, LV_ERR_INVAL, "\"%s\" has the wrong type", key);
    *out = v;
    return 0;
}

static char *strip_dup(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return lv_xstrndup(s, n);
}

static int add_language(struct lv_xml *e, json_t *data, struct lv_error *err)
{
    const char *lang;
    int rc = opt_str(data, "language", &lang, err);
    if (rc == 0 && lang) {
        char *l = strip_dup(lang);
        lv_xml_set_attr(e, "xml:lang", l);
        free(l);
    }
    return rc;
}

/* Rich text in its syntax ("syntax" key: markdown by default, as the
 * reference's default profile setting) to a sanitised XHTML div. */
static int rich_to_xhtml(json_t *data, const char *rich, struct lv_xml **div, struct lv_error *err)
{
    const char *syntax;
    int rc = opt_str(data, "syntax", &syntax, err);
    if (rc != 0)
        return rc;
    if (!syntax || strcasecmp(syntax, "markdown") == 0)
        *div = lv_syntax_markdown_to_xhtml(rich, strlen(rich));
    else if (strcasecmp(syntax, "text") == 0)
        *div = lv_syntax_text_to_xhtml(rich, strlen(rich));
    else if (strcasecmp(syntax, "xhtml") == 0)
        return lv_syntax_parse_xhtml(rich, strlen(rich), div, err);
    else
        return lv_error_set(err, LV_ERR_INVAL, "unknown syntax \"%s\"", syntax);
    return 0;
}

/* Atom says the xhtml div is a container, not content: attributes on it
 * would be lost, so an attributed div is wrapped as the reference does. */
static struct lv_xml *bare_div(struct lv_xml *div)
{
    if (div->nattrs == 0)
        return div;
    struct lv_xml *w = lv_xml_new("div", LV_NS_XHTML);
    lv_xml_add_child_take(w, div);
    return w;
}

static void add_text_elem(struct lv_xml *e, const char *name, const char *text)
{
    struct lv_xml *x = lv_xml_new_child_text(e, name, NULL, text);
    lv_xml_set_attr(x, "type", "text");
}

/* <title>/<content> in the reference's order: the text one, then the XHTML
 * one from *_rich or *_xhtml, then a text one made from it if there was no
 * text. */
static int add_texts(struct lv_xml *e, json_t *data, const char *name, struct lv_error *err)
{
    char rich_key[16], xhtml_key[16];
    const char *plain, *rich, *xhtml;
    struct lv_xml *div = NULL;
    int rc;
    snprintf(rich_key, sizeof(rich_key), "%s_rich", name);
    snprintf(xhtml_key, sizeof(xhtml_key), "%s_xhtml", name);
    if ((rc = opt_str(data, name, &plain, err)) || (rc = opt_str(data, rich_key, &rich, err)) ||
        (rc = opt_str(data, xhtml_key, &xhtml, err)))
        return rc;
    if (rich && xhtml)
        return lv_error_set(err, LV_ERR_INVAL, "%s and %s can't be given together", rich_key,
                            xhtml_key);
    if (plain)
        add_text_elem(e, name, plain);
    if (rich)
        rc = rich_to_xhtml(data, rich, &div, err);
    else if (xhtml)
        rc = lv_syntax_parse_xhtml(xhtml, strlen(xhtml), &div, err);
    if (rc != 0 || !div)
        return rc;
    div = bare_div(div);
    struct lv_xml *x = lv_xml_new_child(e, name, NULL);
    lv_xml_set_attr(x, "type", "xhtml");
    lv_xml_add_child_take(x, div);
    if (!plain) {
        char *text = lv_syntax_xhtml_to_text(div);
        add_text_elem(e, name, text);
        free(text);
    }
    return 0;
}

/* Atom requires a title: without one, the contents become titles. */
static int ensure_title(struct lv_xml *e, struct lv_error *err)
{
    if (lv_xml_find(e, "title", LV_NS_ATOM))
        return 0;
    struct lv_xml *c = lv_xml_find(e, "content", LV_NS_ATOM);
    if (!c)
        return lv_error_set(err, LV_ERR_INVAL, "a post needs a title or a content");
    for (; c; c = lv_xml_find_next(c, "content", LV_NS_ATOM)) {
        free(c->name);
        c->name = lv_xstrdup("title");
    }
    return 0;
}

/* Local part of a JID string, or NULL. */
static char *jid_local(const char *jid)
{
    struct lv_jid j;
    char *local = NULL;
    if (jid && lv_jid_parse_str(jid, &j, NULL) == 0) {
        local = j.local ? lv_xstrdup(j.local) : NULL;
        lv_jid_release(&j);
    }
    return local;
}

static int add_author(struct lv_xml *e, json_t *data, const char *author_jid, struct lv_error *err)
{
    const char *name, *jid;
    int rc;
    if ((rc = opt_str(data, "author", &name, err)) || (rc = opt_str(data, "author_jid", &jid, err)))
        return rc;
    if (!jid)
        jid = author_jid;
    struct lv_xml *a = lv_xml_new_child(e, "author", NULL);
    char *local = name ? NULL : jid_local(jid);
    /* A component (no local part) is named by its JID. */
    lv_xml_new_child_text(a, "name", NULL, name ? name : local ? local : jid ? jid : "");
    free(local);
    if (jid) {
        char *uri = lv_xasprintf("xmpp:%s", jid);
        lv_xml_new_child_text(a, "uri", NULL, uri);
        free(uri);
    }
    return 0;
}

/* data[key] as epoch seconds (a number, or a numeric string as the
 * reference's float() takes), def when absent. */
static int get_epoch(json_t *data, const char *key, int64_t def, int64_t *out, struct lv_error *err)
{
    json_t *v = json_object_get(data, key);
    double t;
    char *end;
    *out = def;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_number(v)) {
        t = json_number_value(v);
    } else if (json_is_string(v)) {
        t = strtod(json_string_value(v), &end);
        if (end == json_string_value(v) || *end)
            return lv_error_set(err, LV_ERR_INVAL, "\"%s\" is not a number", key);
    } else {
        return lv_error_set(err, LV_ERR_INVAL, "\"%s\" must be epoch seconds", key);
    }
    if (!isfinite(t) || t < (double)DATE_MIN || t >= (double)DATE_MAX + 1)
        return lv_error_set(err, LV_ERR_INVAL, "\"%s\" is out of range", key);
    /* floor() without libm: the range check made the cast safe. */
    *out = (int64_t)t;
    if ((double)*out > t)
        (*out)--;
    return 0;
}

static int add_dates(struct lv_xml *e, json_t *data, struct lv_error *err)
{
    int64_t now = (int64_t)time(NULL), updated, published;
    int rc;
    if ((rc = get_epoch(data, "updated", now, &updated, err)) ||
        (rc = get_epoch(data, "published", now, &published, err)))
        return rc;
    char *u = lv_mb_format_date(updated), *p = lv_mb_format_date(published);
    lv_xml_new_child_text(e, "updated", NULL, u);
    lv_xml_new_child_text(e, "published", NULL, p);
    free(u);
    free(p);
    return 0;
}

static int add_tags(struct lv_xml *e, json_t *data, struct lv_error *err)
{
    json_t *tags, *t;
    size_t i;
    int rc = opt_type(data, "tags", JSON_ARRAY, &tags, err);
    if (rc != 0 || !tags)
        return rc;
    json_array_foreach(tags, i, t)
    {
        if (!json_is_string(t))
            return lv_error_set(err, LV_ERR_INVAL, "tags must be strings");
        lv_xml_set_attr(lv_xml_new_child(e, "category", NULL), "term", json_string_value(t));
    }
    return 0;
}

static int add_id(struct lv_xml *e, json_t *data, const char *service, const char *node,
                  const char *item_id, const char *author_jid, struct lv_error *err)
{
    const char *id;
    int rc = opt_str(data, "atom_id", &id, err);
    if (rc != 0)
        return rc;
    if (id && *id) {
        /* An edit keeps the entry's atom id: Atom ids are permanent. (The
         * reference writes the item id there instead when editing, so the
         * id of an edited post changed.) */
        lv_xml_new_child_text(e, "id", NULL, id);
        return 0;
    }
    if (!service)
        service = author_jid; /* our PEP */
    if (!service)
        return lv_error_set(err, LV_ERR_INVAL, "no service to make the atom id from");
    char *uri = lv_mb_xmpp_uri(service, node ? node : LV_NS_MICROBLOG, item_id);
    lv_xml_new_child_text(e, "id", NULL, uri);
    free(uri);
    return 0;
}

static struct lv_xml *add_link(struct lv_xml *e, const char *rel, const char *href)
{
    struct lv_xml *l = lv_xml_new_child(e, "link", NULL);
    lv_xml_set_attr(l, "href", href);
    lv_xml_set_attr(l, "rel", rel);
    return l;
}

/* The comments URI: "uri", or one made from "service" and "node". */
static int comments_href(json_t *c, char **href, struct lv_error *err)
{
    const char *uri, *service, *node;
    int rc;
    *href = NULL;
    if (!json_is_object(c))
        return lv_error_set(err, LV_ERR_INVAL, "comments entries must be objects");
    if ((rc = opt_str(c, "uri", &uri, err)) || (rc = opt_str(c, "service", &service, err)) ||
        (rc = opt_str(c, "node", &node, err)))
        return rc;
    if (uri)
        *href = lv_xstrdup(uri);
    else if (service && node)
        *href = lv_mb_xmpp_uri(service, node, NULL);
    else
        return lv_error_set(err, LV_ERR_INVAL, "comments entry without uri");
    return 0;
}

static int add_comments(struct lv_xml *e, json_t *data, struct lv_error *err)
{
    json_t *comments, *c;
    size_t i;
    int rc = opt_type(data, "comments", JSON_ARRAY, &comments, err);
    if (rc != 0 || !comments)
        return rc;
    json_array_foreach(comments, i, c)
    {
        char *href;
        if ((rc = comments_href(c, &href, err)) != 0)
            return rc;
        lv_xml_set_attr(add_link(e, "replies", href), "title", "comments");
        free(href);
    }
    return 0;
}

static int add_repeated(struct lv_xml *e, json_t *data, struct lv_error *err)
{
    json_t *extra, *repeated;
    const char *uri;
    int rc;
    if ((rc = opt_type(data, "extra", JSON_OBJECT, &extra, err)) || !extra)
        return rc;
    if ((rc = opt_type(extra, "repeated", JSON_OBJECT, &repeated, err)) || !repeated)
        return rc;
    if ((rc = opt_str(repeated, "uri", &uri, err)) == 0 && uri)
        add_link(e, "via", uri); /* without uri the reference skips it too */
    return rc;
}

int lv_mb_entry_from_data(json_t *data, const char *service, const char *node, const char *item_id,
                          const char *author_jid, struct lv_xml **entry, struct lv_error *err)
{
    int rc;
    *entry = NULL;
    if (!json_is_object(data))
        return lv_error_set(err, LV_ERR_INVAL, "post data must be an object");
    struct lv_xml *e = lv_xml_new("entry", LV_NS_ATOM);
    if ((rc = add_language(e, data, err)) || (rc = add_texts(e, data, "title", err)) ||
        (rc = add_texts(e, data, "content", err)) || (rc = ensure_title(e, err)) ||
        (rc = add_author(e, data, author_jid, err)) || (rc = add_dates(e, data, err)) ||
        (rc = add_tags(e, data, err)) ||
        (rc = add_id(e, data, service, node, item_id, author_jid, err)) ||
        (rc = add_comments(e, data, err)) || (rc = add_repeated(e, data, err))) {
        lv_xml_unref(e);
        return rc;
    }
    *entry = e;
    return 0;
}

/* ---- entry → data ---- */

/* Sets a string value; skipped if s is NULL (jansson refuses invalid
 * UTF-8, which the XML parser never lets through anyway). */
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

/* What one of title/content gave: the first text and the first XHTML
 * version win; several language variants are tolerated, not merged. */
struct text_slot {
    char *text;
    struct lv_xml *xhtml; /* sanitised div */
};

static void read_xhtml(struct text_slot *slot, const struct lv_xml *elem)
{
    const struct lv_xml *div = lv_xml_first_elem(elem);
    /* The reference refuses the whole item here; one bad element is not
     * worth losing the rest of the post. */
    if (slot->xhtml || !div || !lv_xml_is(div, "div", LV_NS_XHTML))
        return;
    slot->xhtml = lv_xml_copy(div);
    lv_syntax_sanitize(slot->xhtml);
}

/* type='html' (Movim and others): escaped HTML. Used as XHTML when it is
 * well-formed, as text otherwise. */
static void read_html(struct text_slot *slot, const struct lv_xml *elem)
{
    char *raw = lv_xml_text(elem);
    struct lv_xml *x = NULL;
    if (!slot->xhtml && lv_syntax_parse_xhtml(raw, strlen(raw), &x, NULL) == 0) {
        slot->xhtml = x;
        free(raw);
        return;
    }
    if (!slot->text)
        slot->text = raw;
    else
        free(raw);
}

static void read_text_elem(struct text_slot *slot, const struct lv_xml *elem)
{
    const char *type = lv_xml_attr(elem, "type");
    if (type && strcmp(type, "xhtml") == 0)
        read_xhtml(slot, elem);
    else if (type && (strcmp(type, "html") == 0 || strcmp(type, "text/html") == 0))
        read_html(slot, elem);
    else if (!slot->text)
        slot->text = lv_xml_text(elem);
}

static void read_slot(const struct lv_xml *entry, const char *name, struct text_slot *slot)
{
    for (const struct lv_xml *c = lv_xml_find(entry, name, LV_NS_ATOM); c;
         c = lv_xml_find_next(c, name, LV_NS_ATOM))
        read_text_elem(slot, c);
    /* A text version is due; make it from the XHTML one if missing. */
    if (slot->xhtml && !slot->text)
        slot->text = lv_syntax_xhtml_to_text(slot->xhtml);
}

static void put_slot(json_t *d, const char *name, struct text_slot *slot)
{
    char key[16];
    snprintf(key, sizeof(key), "%s_xhtml", name);
    put_take(d, name, slot->text);
    if (slot->xhtml)
        put_take(d, key, lv_xml_to_string(slot->xhtml, NULL));
    lv_xml_unref(slot->xhtml);
}

static void read_texts(json_t *d, const struct lv_xml *entry)
{
    struct text_slot title = {0}, content = {0};
    read_slot(entry, "title", &title);
    read_slot(entry, "content", &content);
    if (!content.text) {
        /* A post without content: its title is the body (the reference's
         * reading of entries written without title). */
        content = title;
        title = (struct text_slot){0};
    }
    put_slot(d, "title", &title);
    put_slot(d, "content", &content);
}

static bool read_date(const struct lv_xml *entry, const char *name, int64_t *out)
{
    char *s = lv_xml_child_text(entry, name, LV_NS_ATOM);
    bool ok = s && lv_mb_parse_date(s, out) == 0;
    free(s);
    return ok;
}

/* Each date stands in for the other when missing or unreadable (the
 * reference only does that for published, and refuses items without a
 * valid updated). */
static void read_dates(json_t *d, const struct lv_xml *entry)
{
    int64_t updated = 0, published = 0;
    bool has_u = read_date(entry, "updated", &updated);
    bool has_p = read_date(entry, "published", &published);
    if (!has_u && !has_p)
        return;
    json_object_set_new(d, "updated", json_integer(has_u ? updated : published));
    json_object_set_new(d, "published", json_integer(has_p ? published : updated));
}

/* {uri, service, node} of a comments link, NULL if its URI is unusable. */
static json_t *read_comments_link(const char *href)
{
    char *service = NULL, *node = NULL;
    json_t *c = NULL;
    if (href && lv_mb_parse_xmpp_uri(href, &service, &node, NULL) == 0 && node) {
        char *norm = lv_jid_normalize(service, false);
        if (norm) {
            c = json_object();
            put_str(c, "uri", href);
            put_str(c, "service", norm);
            put_str(c, "node", node);
            free(norm);
        }
    }
    free(service);
    free(node);
    return c;
}

static void read_repeated(json_t *extra, const char *href, const char *publisher)
{
    /* The repeater is the item's publisher; the reference falls back to the
     * stanza sender, which is the caller's to pass as publisher. */
    if (!href || !*href || !publisher)
        return;
    char *by = lv_jid_normalize(publisher, false);
    json_t *r = json_object();
    put_str(r, "by", by ? by : publisher);
    put_str(r, "uri", href);
    json_object_set_new(extra, "repeated", r);
    free(by);
}

static void read_links(json_t *d, json_t *extra, const struct lv_xml *entry, const char *publisher)
{
    json_t *comments = json_array();
    for (const struct lv_xml *l = lv_xml_find(entry, "link", LV_NS_ATOM); l;
         l = lv_xml_find_next(l, "link", LV_NS_ATOM)) {
        const char *rel = lv_xml_attr(l, "rel"), *title = lv_xml_attr(l, "title");
        if (!rel)
            continue;
        if (strcmp(rel, "replies") == 0 && title && strcmp(title, "comments") == 0) {
            json_t *c = read_comments_link(lv_xml_attr(l, "href"));
            if (c)
                json_array_append_new(comments, c);
        } else if (strcmp(rel, "via") == 0) {
            read_repeated(extra, lv_xml_attr(l, "href"), publisher);
        }
    }
    json_object_set_new(d, "comments", comments);
}

static bool same_bare_jid(const char *a, const char *b)
{
    struct lv_jid ja, jb;
    bool same = false;
    if (a && b && lv_jid_parse_str(a, &ja, NULL) == 0) {
        if (lv_jid_parse_str(b, &jb, NULL) == 0) {
            same = lv_jid_bare_equal(&ja, &jb);
            lv_jid_release(&jb);
        }
        lv_jid_release(&ja);
    }
    return same;
}

struct author {
    char *name;
    char *jid;
    bool verified;
};

/* author/uri is "xmpp:<jid>"; it is verified when the publisher (whom the
 * pubsub service vouches for) has the same bare JID. */
static void read_author_uri(struct author *au, const char *uri, const char *publisher)
{
    bool xmpp = strncmp(uri, "xmpp:", 5) == 0;
    const char *jid = xmpp ? uri + 5 : uri;
    au->jid = lv_xstrdup(xmpp ? jid : publisher ? publisher : "");
    au->verified = same_bare_jid(publisher, jid);
    if (!au->name && *au->jid)
        au->name = jid_local(au->jid);
}

static void read_author(json_t *d, const struct lv_xml *entry, const char *publisher)
{
    struct author au = {0};
    const struct lv_xml *a = lv_xml_find(entry, "author", LV_NS_ATOM);
    if (a) {
        char *name = lv_xml_child_text(a, "name", LV_NS_ATOM);
        char *uri = lv_xml_child_text(a, "uri", LV_NS_ATOM);
        au.name = name ? strip_dup(name) : NULL;
        if (uri)
            read_author_uri(&au, uri, publisher);
        put_take(d, "author_email", lv_xml_child_text(a, "email", LV_NS_ATOM));
        free(name);
        free(uri);
    }
    if (!au.jid || !*au.jid) {
        /* No usable author: the publisher is the author, and vouched for. */
        free(au.jid);
        au.jid = lv_xstrdup(publisher ? publisher : "");
        au.verified = publisher != NULL;
    }
    put_take(d, "author", au.name);
    put_take(d, "author_jid", au.jid);
    json_object_set_new(d, "author_jid_verified", json_boolean(au.verified));
}

static void read_tags(json_t *d, const struct lv_xml *entry)
{
    json_t *tags = json_array();
    for (const struct lv_xml *c = lv_xml_find(entry, "category", LV_NS_ATOM); c;
         c = lv_xml_find_next(c, "category", LV_NS_ATOM)) {
        const char *term = lv_xml_attr(c, "term");
        json_array_append_new(tags, json_string(term ? term : ""));
    }
    json_object_set_new(d, "tags", tags);
}

static void read_ids(json_t *d, const struct lv_xml *entry, const char *service, const char *node,
                     const char *item_id)
{
    put_str(d, "id", item_id ? item_id : "");
    put_str(d, "node", node);
    if (service && node)
        put_take(d, "uri", lv_mb_xmpp_uri(service, node, item_id ? item_id : ""));
    const char *lang = lv_xml_attr(entry, "xml:lang");
    if (lang)
        put_take(d, "language", strip_dup(lang));
    char *atom_id = lv_xml_child_text(entry, "id", LV_NS_ATOM);
    put_str(d, "atom_id", atom_id ? atom_id : "");
    free(atom_id);
}

int lv_mb_data_from_entry(const struct lv_xml *entry, const char *service, const char *node,
                          const char *item_id, const char *publisher, json_t **out,
                          struct lv_error *err)
{
    *out = NULL;
    if (!entry || !lv_xml_is(entry, "entry", LV_NS_ATOM))
        return lv_error_set(err, LV_ERR_INVAL, "the item's payload is not an Atom entry");
    json_t *d = json_object();
    json_t *extra = json_object();
    put_str(d, "service", service);
    json_object_set(d, "extra", extra);
    read_ids(d, entry, service, node, item_id);
    read_texts(d, entry);
    read_dates(d, entry);
    read_links(d, extra, entry, publisher);
    read_author(d, entry, publisher);
    read_tags(d, entry);
    json_decref(extra);
    *out = d;
    return 0;
}

const char *lv_mb_item_publisher(const char *service, const char *publisher)
{
    if (publisher)
        return publisher;
    return service && strchr(service, '@') ? service : NULL;
}
