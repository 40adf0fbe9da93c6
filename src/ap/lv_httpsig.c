/* lv_httpsig: HTTP message signatures (draft-cavage-12 and RFC 9421).
 *
 * The reference gateway's mistakes this file is written against (see
 * doc/reference, §1.4): it hashed an already-consumed body, had no date
 * window, sent a capitalised "Algorithm" parameter, ignored the declared
 * algorithm, and crashed on (created). Here the digest is computed over the
 * bytes the caller received, the window is enforced in both directions, the
 * parameter names we send are the draft's, and (created) comes from the
 * signature's own parameter. */
#include "ap/lv_httpsig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "core/lv_mem.h"

#define MALFORMED(err, ...) lv_error_set_cond((err), LV_ERR_INVAL, "malformed", __VA_ARGS__)
#define BAD_ALG(err, ...) lv_error_set_cond((err), LV_ERR_INVAL, "algorithm", __VA_ARGS__)
#define OVER_LIMIT(err, ...) lv_error_set_cond((err), LV_ERR_LIMIT, "limit", __VA_ARGS__)
#define REFUSE(err, cond, ...) lv_error_set_cond((err), LV_ERR_PERM, (cond), __VA_ARGS__)

/* An integer parameter has at most 15 digits (RFC 8941), which also keeps
 * every time computation below far from int64 overflow. */
#define INT_DIGITS_MAX 15
#define SF_KEY_MAX 64

/* ------------------------------------------------------------------ */
/* ASCII helpers: locale-independent, on (pointer, length).            */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool ieqn(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

/* a[0..alen) equals the NUL-terminated b, ignoring ASCII case. */
static bool ieq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && ieqn(a, b, alen);
}

static bool seq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && memcmp(a, b, alen) == 0;
}

static void trim(const char **p, size_t *len)
{
    while (*len && is_ows(**p)) {
        (*p)++;
        (*len)--;
    }
    while (*len && is_ows((*p)[*len - 1]))
        (*len)--;
}

/* A token (RFC 9110): header names, methods. */
static bool field_name_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_tchar(s[i]))
            return false;
    return len > 0;
}

/* Parses 1..INT_DIGITS_MAX decimal digits. */
static bool parse_uint(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;
    if (len == 0 || len > INT_DIGITS_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* ------------------------------------------------------------------ */
/* Base64 (standard alphabet, padded) and hashes.                      */

static char *b64_encode(const unsigned char *in, size_t len)
{
    char *out = lv_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return out;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (is_digit(c))
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict decoding: a non-empty multiple of 4 characters, '=' only as the
 * last one or two. out must hold len / 4 * 3 bytes. */
static bool b64_decode(const char *in, size_t len, unsigned char *out, size_t *out_len)
{
    size_t n = 0;
    if (len == 0 || len % 4 != 0)
        return false;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t w = 0;
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            int v = 0;
            if (in[i + j] == '=') {
                if (i + 4 != len || j < 2)
                    return false;
                pad++;
            } else if (pad || (v = b64_value(in[i + j])) < 0) {
                return false;
            }
            w = w << 6 | (uint32_t)v;
        }
        out[n++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[n++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[n++] = (unsigned char)w;
    }
    *out_len = n;
    return true;
}

/* Hashing only fails on a broken OpenSSL installation: like an allocation
 * failure, that is fatal. */
static void hash(const EVP_MD *md, const void *data, size_t len, unsigned char *out)
{
    static const char empty[1] = "";
    if (!EVP_Digest(data ? data : empty, len, out, NULL, md, NULL)) {
        fprintf(stderr, "lv_httpsig: %s digest unavailable\n", EVP_MD_get0_name(md));
        abort();
    }
}

/* ------------------------------------------------------------------ */
/* RFC 8941 structured fields, as much as RFC 9421 and 9530 need:       */
/* dictionaries whose members are inner lists of strings or bare items, */
/* with parameters. Decimals are refused (no signature parameter is one).*/

enum sf_type { SF_INT, SF_STRING, SF_TOKEN, SF_BYTES, SF_BOOL };

struct sf_item {
    enum sf_type type;
    int64_t num;     /* SF_INT; SF_BOOL (0/1) */
    const char *raw; /* SF_STRING (escaped, no quotes), SF_TOKEN, SF_BYTES (no colons) */
    size_t raw_len;
};

struct sf_param {
    const char *key;
    size_t key_len;
    struct sf_item v;
};

struct sf_member {
    const char *key;
    size_t key_len;
    bool is_list;
    struct sf_item item; /* !is_list */
    struct sf_item list[LV_HTTPSIG_COMPONENTS_MAX];
    size_t n_list;
    bool list_item_params; /* some list item had parameters */
    struct sf_param params[LV_HTTPSIG_PARAMS_MAX];
    size_t n_params;
};

struct sf {
    const char *start, *p, *end;
    const char *field; /* header name, for messages */
    struct lv_error *err;
};

static bool sf_at(const struct sf *s, char c)
{
    return s->p < s->end && *s->p == c;
}

static void sf_skip_sp(struct sf *s)
{
    while (sf_at(s, ' '))
        s->p++;
}

static int sf_fail(struct sf *s, const char *what)
{
    return MALFORMED(s->err, "%s: %s at offset %zu", s->field, what, (size_t)(s->p - s->start));
}

static bool sf_key_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || c == '*')
        return true;
    return !first && (is_digit(c) || c == '_' || c == '-' || c == '.');
}

static int sf_key(struct sf *s, const char **key, size_t *len)
{
    const char *start = s->p;
    if (s->p == s->end || !sf_key_char(*s->p, true))
        return sf_fail(s, "expected a key");
    while (s->p < s->end && sf_key_char(*s->p, false))
        s->p++;
    *key = start;
    *len = (size_t)(s->p - start);
    if (*len > SF_KEY_MAX)
        return OVER_LIMIT(s->err, "%s: key longer than %d characters", s->field, SF_KEY_MAX);
    return 0;
}

static int sf_integer(struct sf *s, struct sf_item *it)
{
    bool neg = sf_at(s, '-');
    const char *start;
    if (neg)
        s->p++;
    start = s->p;
    while (s->p < s->end && is_digit(*s->p))
        s->p++;
    if (sf_at(s, '.'))
        return sf_fail(s, "decimals are not supported");
    if (!parse_uint(start, (size_t)(s->p - start), &it->num))
        return sf_fail(s, "bad integer");
    if (neg)
        it->num = -it->num;
    it->type = SF_INT;
    return 0;
}

static int sf_string(struct sf *s, struct sf_item *it)
{
    s->p++; /* '"' */
    it->raw = s->p;
    while (s->p < s->end) {
        char c = *s->p;
        if (c == '"') {
            it->raw_len = (size_t)(s->p - it->raw);
            it->type = SF_STRING;
            s->p++;
            return 0;
        }
        if (c == '\\') {
            if (s->p + 1 == s->end || (s->p[1] != '"' && s->p[1] != '\\'))
                return sf_fail(s, "bad escape in string");
            s->p++;
        } else if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e) {
            return sf_fail(s, "bad character in string");
        }
        s->p++;
    }
    return sf_fail(s, "unterminated string");
}

static int sf_token(struct sf *s, struct sf_item *it)
{
    it->raw = s->p++;
    while (s->p < s->end && (is_tchar(*s->p) || *s->p == ':' || *s->p == '/'))
        s->p++;
    it->raw_len = (size_t)(s->p - it->raw);
    it->type = SF_TOKEN;
    return 0;
}

static int sf_bytes(struct sf *s, struct sf_item *it)
{
    it->raw = ++s->p;
    while (s->p < s->end && *s->p != ':') {
        if (b64_value(*s->p) < 0 && *s->p != '=')
            return sf_fail(s, "bad character in byte sequence");
        s->p++;
    }
    if (s->p == s->end)
        return sf_fail(s, "unterminated byte sequence");
    it->raw_len = (size_t)(s->p - it->raw);
    it->type = SF_BYTES;
    s->p++;
    return 0;
}

static int sf_bool(struct sf *s, struct sf_item *it)
{
    s->p++;
    if (!sf_at(s, '0') && !sf_at(s, '1'))
        return sf_fail(s, "bad boolean");
    it->type = SF_BOOL;
    it->num = *s->p++ == '1';
    return 0;
}

static int sf_bare_item(struct sf *s, struct sf_item *it)
{
    memset(it, 0, sizeof(*it));
    if (s->p == s->end)
        return sf_fail(s, "expected an item");
    if (*s->p == '-' || is_digit(*s->p))
        return sf_integer(s, it);
    if (*s->p == '"')
        return sf_string(s, it);
    if (is_alpha(*s->p) || *s->p == '*')
        return sf_token(s, it);
    if (*s->p == ':')
        return sf_bytes(s, it);
    if (*s->p == '?')
        return sf_bool(s, it);
    return sf_fail(s, "expected an item");
}

/* Parameters ";key[=value]..."; duplicates are refused rather than
 * overwritten (RFC 8941's rule), so that a signature cannot say two things. */
static int sf_params(struct sf *s, struct sf_param *ps, size_t max, size_t *n)
{
    int rc;
    *n = 0;
    while (sf_at(s, ';')) {
        struct sf_param p;
        s->p++;
        sf_skip_sp(s);
        if ((rc = sf_key(s, &p.key, &p.key_len)) != 0)
            return rc;
        if (sf_at(s, '=')) {
            s->p++;
            if ((rc = sf_bare_item(s, &p.v)) != 0)
                return rc;
        } else {
            p.v = (struct sf_item){.type = SF_BOOL, .num = 1};
        }
        for (size_t i = 0; i < *n; i++)
            if (ps[i].key_len == p.key_len && memcmp(ps[i].key, p.key, p.key_len) == 0)
                return MALFORMED(s->err, "%s: duplicate parameter", s->field);
        if (*n == max)
            return OVER_LIMIT(s->err, "%s: more than %zu parameters", s->field, max);
        ps[(*n)++] = p;
    }
    return 0;
}

static int sf_inner_list(struct sf *s, struct sf_member *m)
{
    struct sf_param ignored[LV_HTTPSIG_PARAMS_MAX];
    size_t n;
    int rc;
    s->p++; /* '(' */
    m->is_list = true;
    for (;;) {
        sf_skip_sp(s);
        if (sf_at(s, ')')) {
            s->p++;
            return 0;
        }
        if (m->n_list == LV_HTTPSIG_COMPONENTS_MAX)
            return OVER_LIMIT(s->err, "%s: more than %d components", s->field,
                              LV_HTTPSIG_COMPONENTS_MAX);
        if ((rc = sf_bare_item(s, &m->list[m->n_list++])) != 0 ||
            (rc = sf_params(s, ignored, LV_HTTPSIG_PARAMS_MAX, &n)) != 0)
            return rc;
        m->list_item_params |= n > 0;
        if (!sf_at(s, ' ') && !sf_at(s, ')'))
            return sf_fail(s, "expected ' ' or ')' in inner list");
    }
}

/* Reads the next dictionary member into m. Returns 1 with a member, 0 at
 * the end of the field, or an error. */
static int sf_next_member(struct sf *s, struct sf_member *m)
{
    int rc;
    memset(m, 0, sizeof(*m));
    if (s->p == s->end)
        return 0;
    if ((rc = sf_key(s, &m->key, &m->key_len)) != 0)
        return rc;
    if (sf_at(s, '=')) {
        s->p++;
        rc = sf_at(s, '(') ? sf_inner_list(s, m) : sf_bare_item(s, &m->item);
    } else {
        m->item = (struct sf_item){.type = SF_BOOL, .num = 1};
    }
    if (rc != 0 || (rc = sf_params(s, m->params, LV_HTTPSIG_PARAMS_MAX, &m->n_params)) != 0)
        return rc;
    while (s->p < s->end && is_ows(*s->p))
        s->p++;
    if (s->p == s->end)
        return 1;
    if (*s->p != ',')
        return sf_fail(s, "expected ','");
    s->p++;
    while (s->p < s->end && is_ows(*s->p))
        s->p++;
    if (s->p == s->end)
        return sf_fail(s, "trailing comma");
    return 1;
}

static void sf_init(struct sf *s, const char *field, const char *v, size_t len,
                    struct lv_error *err)
{
    s->start = s->p = v;
    s->end = v + len;
    s->field = field;
    s->err = err;
    sf_skip_sp(s);
}

/* Walks a whole dictionary, refusing duplicate keys and more than
 * LV_HTTPSIG_LABELS_MAX members, and copies the member named want (or the
 * first one when want is NULL) into *found. Returns 0 (found->key is NULL
 * when nothing matched) or an error. */
static int sf_dict_find(struct sf *s, const char *want, struct sf_member *found)
{
    struct sf_member m;
    const char *keys[LV_HTTPSIG_LABELS_MAX];
    size_t lens[LV_HTTPSIG_LABELS_MAX], n = 0;
    int rc;
    found->key = NULL;
    while ((rc = sf_next_member(s, &m)) == 1) {
        for (size_t i = 0; i < n; i++)
            if (lens[i] == m.key_len && memcmp(keys[i], m.key, m.key_len) == 0)
                return MALFORMED(s->err, "%s: duplicate member", s->field);
        if (n == LV_HTTPSIG_LABELS_MAX)
            return OVER_LIMIT(s->err, "%s: more than %d members", s->field, LV_HTTPSIG_LABELS_MAX);
        keys[n] = m.key;
        lens[n++] = m.key_len;
        if (!found->key && (!want || seq(m.key, m.key_len, want)))
            *found = m;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Digest (RFC 3230) and Content-Digest (RFC 9530).                    */

char *lv_httpsig_digest(const void *body, size_t len)
{
    unsigned char md[32];
    char *b64, *out;
    hash(EVP_sha256(), body, len, md);
    b64 = b64_encode(md, sizeof(md));
    out = lv_xasprintf("SHA-256=%s", b64);
    free(b64);
    return out;
}

char *lv_httpsig_content_digest(const void *body, size_t len)
{
    unsigned char md[32];
    char *b64, *out;
    hash(EVP_sha256(), body, len, md);
    b64 = b64_encode(md, sizeof(md));
    out = lv_xasprintf("sha-256=:%s:", b64);
    free(b64);
    return out;
}

/* Compares one base64 digest with the body's hash under algorithm name
 * ("sha-256" or "sha-512"). Returns 0, or LV_ERR_INVAL / LV_ERR_PERM. */
static int digest_compare(const char *field, const char *name, const char *b64, size_t b64_len,
                          const void *body, size_t body_len, struct lv_error *err)
{
    bool is256 = strcmp(name, "sha-256") == 0;
    size_t want = is256 ? 32 : 64;
    unsigned char md[64], got[LV_HTTPSIG_DIGEST_MAX / 4 * 3];
    size_t got_len;
    if (b64_len > LV_HTTPSIG_DIGEST_MAX || !b64_decode(b64, b64_len, got, &got_len))
        return MALFORMED(err, "%s: %s value is not valid base64", field, name);
    if (got_len != want)
        return MALFORMED(err, "%s: %s value has %zu bytes, not %zu", field, name, got_len, want);
    hash(is256 ? EVP_sha256() : EVP_sha512(), body, body_len, md);
    if (memcmp(md, got, want) != 0)
        return REFUSE(err, "digest", "%s: %s does not match the body", field, name);
    return 0;
}

/* One "algorithm=base64" element of a Digest header. */
static int digest_element(const char *e, size_t len, const void *body, size_t body_len,
                          bool *have256, struct lv_error *err)
{
    const char *eq = memchr(e, '=', len);
    size_t alg_len;
    if (!eq || eq == e)
        return MALFORMED(err, "Digest: element without algorithm=value");
    alg_len = (size_t)(eq - e);
    for (size_t i = 0; i < alg_len; i++)
        if (!is_tchar(e[i]))
            return MALFORMED(err, "Digest: bad algorithm name");
    if (ieq(e, alg_len, "sha-256")) {
        *have256 = true;
        return digest_compare("Digest", "sha-256", eq + 1, len - alg_len - 1, body, body_len, err);
    }
    if (ieq(e, alg_len, "sha-512"))
        return digest_compare("Digest", "sha-512", eq + 1, len - alg_len - 1, body, body_len, err);
    return 0; /* another algorithm: neither trusted nor refused */
}

int lv_httpsig_digest_check(const char *value, size_t len, const void *body, size_t body_len,
                            struct lv_error *err)
{
    bool have256 = false;
    const char *p = value, *end = value + len;
    if (len > LV_HTTPSIG_DIGEST_MAX)
        return OVER_LIMIT(err, "Digest longer than %d bytes", LV_HTTPSIG_DIGEST_MAX);
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = p;
        size_t elen = (size_t)((comma ? comma : end) - p);
        int rc;
        p = comma ? comma + 1 : end;
        trim(&e, &elen);
        if (elen && (rc = digest_element(e, elen, body, body_len, &have256, err)) != 0)
            return rc;
    }
    if (!have256)
        return MALFORMED(err, "Digest has no SHA-256 value");
    return 0;
}

int lv_httpsig_content_digest_check(const char *value, size_t len, const void *body,
                                    size_t body_len, struct lv_error *err)
{
    struct sf s;
    struct sf_member m;
    bool known = false;
    int rc;
    if (len > LV_HTTPSIG_DIGEST_MAX)
        return OVER_LIMIT(err, "Content-Digest longer than %d bytes", LV_HTTPSIG_DIGEST_MAX);
    sf_init(&s, "Content-Digest", value, len, err);
    while ((rc = sf_next_member(&s, &m)) == 1) {
        bool is256 = seq(m.key, m.key_len, "sha-256");
        if (!is256 && !seq(m.key, m.key_len, "sha-512"))
            continue;
        if (m.is_list || m.item.type != SF_BYTES)
            return MALFORMED(err, "Content-Digest: value is not a byte sequence");
        rc = digest_compare("Content-Digest", is256 ? "sha-256" : "sha-512", m.item.raw,
                            m.item.raw_len, body, body_len, err);
        if (rc != 0)
            return rc;
        known = true;
    }
    if (rc != 0)
        return rc;
    if (!known)
        return MALFORMED(err, "Content-Digest has no sha-256 or sha-512 value");
    return 0;
}

/* ------------------------------------------------------------------ */
/* HTTP dates.                                                         */

static const char *const wday_short[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wday_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char *const month_short[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic
 * Gregorian), so that no libc time zone or locale is involved. */
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

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static unsigned weekday(int64_t days)
{
    int64_t w = (days + 4) % 7;
    return (unsigned)(w < 0 ? w + 7 : w);
}

static void put_num(char *out, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

char *lv_httpsig_format_date(time_t t, char out[LV_HTTPSIG_DATE_LEN + 1])
{
    /* Years 1970..9999 fit the fixed format. */
    int64_t secs = (int64_t)t, days, y;
    unsigned m, d, sod;
    if (secs < 0)
        secs = 0;
    if (secs > INT64_C(253402300799))
        secs = INT64_C(253402300799);
    days = secs / 86400;
    sod = (unsigned)(secs % 86400);
    civil_from_days(days, &y, &m, &d);
    memcpy(out, "Thu, 01 Jan 1970 00:00:00 GMT", LV_HTTPSIG_DATE_LEN + 1);
    memcpy(out, wday_short[weekday(days)], 3);
    put_num(out + 5, d, 2);
    memcpy(out + 8, month_short[m - 1], 3);
    put_num(out + 12, (unsigned)y, 4);
    put_num(out + 17, sod / 3600, 2);
    put_num(out + 20, sod / 60 % 60, 2);
    put_num(out + 23, sod % 60, 2);
    return out;
}

static int name_index(const char *s, size_t len, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (seq(s, len, names[i]))
            return i;
    return -1;
}

static bool fixed_digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

struct http_date {
    int wday; /* 0 = Sunday */
    int64_t year;
    unsigned mon, day, hh, mm, ss;
};

/* "HH:MM:SS" */
static bool parse_tod(const char *s, struct http_date *t)
{
    return s[2] == ':' && s[5] == ':' && fixed_digits(s, 2, &t->hh) &&
           fixed_digits(s + 3, 2, &t->mm) && fixed_digits(s + 6, 2, &t->ss);
}

static bool parse_month(const char *s, struct http_date *t)
{
    int m = name_index(s, 3, month_short, 12);
    t->mon = (unsigned)(m + 1);
    return m >= 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool parse_imf(const char *s, struct http_date *t)
{
    unsigned y;
    t->wday = name_index(s, 3, wday_short, 7);
    if (t->wday < 0 || memcmp(s + 3, ", ", 2) != 0 || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        memcmp(s + 25, " GMT", 4) != 0)
        return false;
    t->year = fixed_digits(s + 12, 4, &y) ? (int64_t)y : -1;
    return fixed_digits(s + 5, 2, &t->day) && parse_month(s + 8, t) && t->year >= 0 &&
           parse_tod(s + 17, t);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static bool parse_rfc850(const char *s, size_t len, struct http_date *t)
{
    const char *comma = memchr(s, ',', len);
    const char *r;
    unsigned yy;
    if (!comma || len - (size_t)(comma - s) != 24)
        return false;
    t->wday = name_index(s, (size_t)(comma - s), wday_long, 7);
    r = comma + 2;
    if (t->wday < 0 || comma[1] != ' ' || r[2] != '-' || r[6] != '-' || r[9] != ' ' ||
        memcmp(r + 18, " GMT", 4) != 0 || !fixed_digits(r + 7, 2, &yy))
        return false;
    t->year = yy < 70 ? 2000 + yy : 1900 + yy;
    return fixed_digits(r, 2, &t->day) && parse_month(r + 3, t) && parse_tod(r + 10, t);
}

/* "Sun Nov  6 08:49:37 1994" */
static bool parse_asctime(const char *s, struct http_date *t)
{
    unsigned y;
    t->wday = name_index(s, 3, wday_short, 7);
    if (t->wday < 0 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' ||
        !parse_month(s + 4, t) || !fixed_digits(s + 20, 4, &y))
        return false;
    t->year = y;
    if (s[8] == ' ')
        return fixed_digits(s + 9, 1, &t->day) && parse_tod(s + 11, t);
    return fixed_digits(s + 8, 2, &t->day) && parse_tod(s + 11, t);
}

static bool date_valid(const struct http_date *t, int64_t *out)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (t->year % 4 == 0 && t->year % 100 != 0) || t->year % 400 == 0;
    int64_t days;
    if (t->day < 1 || t->day > mdays[t->mon - 1] || (t->mon == 2 && t->day == 29 && !leap) ||
        t->hh > 23 || t->mm > 59 || t->ss > 60)
        return false;
    days = days_from_civil(t->year, t->mon, t->day);
    if ((int)weekday(days) != t->wday)
        return false;
    *out = days * 86400 + t->hh * 3600 + t->mm * 60 + t->ss;
    return true;
}

int lv_httpsig_parse_date(const char *s, size_t len, int64_t *out)
{
    struct http_date t;
    bool ok;
    if (len == LV_HTTPSIG_DATE_LEN && s[3] == ',')
        ok = parse_imf(s, &t);
    else if (len == 24 && s[3] == ' ')
        ok = parse_asctime(s, &t);
    else
        ok = len > 24 && len <= 33 && parse_rfc850(s, len, &t);
    return ok && date_valid(&t, out) ? 0 : LV_ERR_INVAL;
}

/* ------------------------------------------------------------------ */
/* Keys.                                                               */

static char *bio_string(BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    return n > 0 ? lv_xstrndup(data, (size_t)n) : NULL;
}

/* Never prompt for a passphrase (OpenSSL would read the terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static int check_rsa_bits(EVP_PKEY *key, struct lv_error *err)
{
    int bits = EVP_PKEY_get_bits(key);
    if (bits < LV_HTTPSIG_RSA_BITS_MIN || bits > LV_HTTPSIG_RSA_BITS_MAX)
        return lv_error_set_cond(err, LV_ERR_PERM, "key", "RSA key of %d bits (need %d..%d)", bits,
                                 LV_HTTPSIG_RSA_BITS_MIN, LV_HTTPSIG_RSA_BITS_MAX);
    return 0;
}

char *lv_httpsig_public_pem(EVP_PKEY *key)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && PEM_write_bio_PUBKEY(b, key))
        out = bio_string(b);
    BIO_free(b);
    ERR_clear_error();
    return out;
}

static char *private_pem(EVP_PKEY *key)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
        out = bio_string(b);
    BIO_free(b);
    return out;
}

int lv_httpsig_keygen(unsigned bits, char **priv_pem, char **pub_pem, struct lv_error *err)
{
    EVP_PKEY *key;
    *priv_pem = *pub_pem = NULL;
    if (bits == 0)
        bits = LV_HTTPSIG_RSA_BITS_DEFAULT;
    if (bits < LV_HTTPSIG_RSA_BITS_MIN || bits > LV_HTTPSIG_RSA_BITS_MAX)
        return lv_error_set(err, LV_ERR_INVAL, "RSA key size %u out of %d..%d", bits,
                            LV_HTTPSIG_RSA_BITS_MIN, LV_HTTPSIG_RSA_BITS_MAX);
    key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    if (key) {
        *priv_pem = private_pem(key);
        *pub_pem = lv_httpsig_public_pem(key);
    }
    EVP_PKEY_free(key);
    ERR_clear_error();
    if (!*priv_pem || !*pub_pem) {
        free(*priv_pem);
        free(*pub_pem);
        *priv_pem = *pub_pem = NULL;
        return lv_error_set(err, LV_ERR_INTERNAL, "RSA key generation failed");
    }
    return 0;
}

/* Reads one PEM object from pem[0..len) with reader (PEM_read_bio_*). */
static EVP_PKEY *read_pem(const char *pem, size_t len,
                          EVP_PKEY *(*reader)(BIO *, EVP_PKEY **, pem_password_cb *, void *))
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = b ? reader(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return key;
}

int lv_httpsig_load_private(const char *pem, size_t len, EVP_PKEY **out, struct lv_error *err)
{
    EVP_PKEY *key;
    *out = NULL;
    if (len > LV_HTTPSIG_PEM_MAX * 4)
        return lv_error_set(err, LV_ERR_INVAL, "private key PEM too long");
    key = read_pem(pem, len, PEM_read_bio_PrivateKey);
    if (!key)
        return lv_error_set(err, LV_ERR_INVAL, "not an unencrypted private key PEM");
    if (!EVP_PKEY_is_a(key, "RSA") || check_rsa_bits(key, NULL) != 0) {
        EVP_PKEY_free(key);
        return lv_error_set(err, LV_ERR_INVAL, "private key is not RSA of %d..%d bits",
                            LV_HTTPSIG_RSA_BITS_MIN, LV_HTTPSIG_RSA_BITS_MAX);
    }
    *out = key;
    return 0;
}

int lv_httpsig_load_public(const char *pem, size_t len, EVP_PKEY **out, struct lv_error *err)
{
    EVP_PKEY *key;
    int rc = 0;
    *out = NULL;
    if (len > LV_HTTPSIG_PEM_MAX)
        return OVER_LIMIT(err, "public key PEM longer than %d bytes", LV_HTTPSIG_PEM_MAX);
    key = read_pem(pem, len, PEM_read_bio_PUBKEY);
    if (!key)
        return MALFORMED(err, "not an SPKI public key PEM");
    if (EVP_PKEY_is_a(key, "RSA")) {
        int bits = EVP_PKEY_get_bits(key);
        if (bits < LV_HTTPSIG_RSA_BITS_MIN || bits > LV_HTTPSIG_RSA_BITS_MAX)
            rc = lv_error_set_cond(err, LV_ERR_INVAL, "key", "RSA key of %d bits (need %d..%d)",
                                   bits, LV_HTTPSIG_RSA_BITS_MIN, LV_HTTPSIG_RSA_BITS_MAX);
    } else if (!EVP_PKEY_is_a(key, "ED25519")) {
        rc = lv_error_set_cond(err, LV_ERR_INVAL, "key", "unsupported public key type %s",
                               EVP_PKEY_get0_type_name(key));
    }
    if (rc != 0) {
        EVP_PKEY_free(key);
        return rc;
    }
    *out = key;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Signing (draft-cavage, rsa-sha256).                                 */

/* A value as it will be sent and as the peer will read it back: not
 * empty, no control character, no surrounding whitespace (HTTP drops it,
 * so a signature over it would not verify). */
static bool header_safe(const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || is_ows(s[0]) || is_ows(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
            return false;
    return true;
}

/* Path and query as in a request line: visible ASCII, no space. */
static bool target_ok(const char *t, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return false;
    return len > 0;
}

static int sign_check(const struct lv_httpsig_out *req, const char *key_id, EVP_PKEY *key,
                      struct lv_error *err)
{
    if (!req->method || !field_name_ok(req->method, strlen(req->method)))
        return lv_error_set(err, LV_ERR_INVAL, "bad method");
    if (!req->target || !target_ok(req->target, strlen(req->target)))
        return lv_error_set(err, LV_ERR_INVAL, "bad target");
    if (!header_safe(req->host) || !header_safe(req->date) ||
        (req->digest && !header_safe(req->digest)) ||
        (req->content_type && !header_safe(req->content_type)))
        return lv_error_set(
            err, LV_ERR_INVAL,
            "a header value is missing, empty, padded or holds a control character");
    if (!req->digest && ieq(req->method, strlen(req->method), "post"))
        return lv_error_set(err, LV_ERR_INVAL, "a POST must be signed with its digest");
    if (!header_safe(key_id) || strpbrk(key_id, "\"\\"))
        return lv_error_set(err, LV_ERR_INVAL, "bad key id");
    if (!key || !EVP_PKEY_is_a(key, "RSA") || check_rsa_bits(key, NULL) != 0)
        return lv_error_set(err, LV_ERR_INVAL, "signing needs an RSA key of %d..%d bits",
                            LV_HTTPSIG_RSA_BITS_MIN, LV_HTTPSIG_RSA_BITS_MAX);
    return 0;
}

/* Builds the signing string and the matching headers= list. */
static void sign_string(const struct lv_httpsig_out *req, struct lv_buf *str, struct lv_buf *list)
{
    lv_buf_adds(str, "(request-target): ");
    for (const char *p = req->method; *p; p++)
        lv_buf_addc(str, lower(*p));
    lv_buf_addf(str, " %s\nhost: %s\ndate: %s", req->target, req->host, req->date);
    lv_buf_adds(list, "(request-target) host date");
    if (req->digest) {
        lv_buf_addf(str, "\ndigest: %s", req->digest);
        lv_buf_adds(list, " digest");
    }
    if (req->content_type) {
        lv_buf_addf(str, "\ncontent-type: %s", req->content_type);
        lv_buf_adds(list, " content-type");
    }
}

static unsigned char *rsa_sign(EVP_PKEY *key, const struct lv_buf *str, size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t len = 0;
    if (ctx && EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL) == 1 &&
        EVP_DigestSign(ctx, NULL, &len, (const unsigned char *)str->data, str->len) == 1) {
        sig = lv_xmalloc(len);
        if (EVP_DigestSign(ctx, sig, &len, (const unsigned char *)str->data, str->len) != 1) {
            free(sig);
            sig = NULL;
        }
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    *sig_len = len;
    return sig;
}

int lv_httpsig_sign(const struct lv_httpsig_out *req, const char *key_id, EVP_PKEY *key, char **out,
                    struct lv_error *err)
{
    struct lv_buf str = LV_BUF_INIT, list = LV_BUF_INIT;
    unsigned char *sig;
    size_t sig_len;
    char *b64;
    int rc;
    *out = NULL;
    if ((rc = sign_check(req, key_id, key, err)) != 0)
        return rc;
    sign_string(req, &str, &list);
    sig = rsa_sign(key, &str, &sig_len);
    if (sig) {
        b64 = b64_encode(sig, sig_len);
        *out = lv_xasprintf("keyId=\"%s\",algorithm=\"rsa-sha256\",headers=\"%s\",signature=\"%s\"",
                            key_id, list.data, b64);
        free(b64);
        free(sig);
    }
    lv_buf_release(&str);
    lv_buf_release(&list);
    return *out ? 0 : lv_error_set(err, LV_ERR_INTERNAL, "RSA signing failed");
}

/* ------------------------------------------------------------------ */
/* Incoming requests: header access.                                   */

#define HDR_CTL (-1) /* a value holds CR, LF or NUL */
#define HDR_BIG (-2) /* the combined value is longer than max */

/* Appends the combined value of header name (lower case) to out: every
 * line's value trimmed, joined with ", ". Returns the number of lines,
 * HDR_CTL or HDR_BIG. */
static int header_get(const struct lv_httpsig_request *req, const char *name, struct lv_buf *out,
                      size_t max)
{
    int n = 0;
    size_t start = out->len;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct lv_httpsig_header *h = &req->headers[i];
        const char *v = h->value;
        size_t vlen = h->value_len;
        if (!ieq(h->name, h->name_len, name))
            continue;
        trim(&v, &vlen);
        if (memchr(v, '\r', vlen) || memchr(v, '\n', vlen) || memchr(v, '\0', vlen))
            return HDR_CTL;
        if (out->len - start + vlen + (n ? 2 : 0) > max)
            return HDR_BIG;
        if (n++)
            lv_buf_add(out, ", ", 2);
        lv_buf_add(out, v, vlen);
    }
    if (n == 0 && out->data == NULL)
        lv_buf_add(out, "", 0); /* data is always a valid string */
    return n;
}

/* What every parse step shares. */
struct ctx {
    const struct lv_httpsig_request *req;
    struct lv_httpsig_sig *out;
    struct lv_error *err;
    struct lv_buf sig_input; /* Signature-Input (RFC 9421) */
    struct lv_buf signature; /* Signature (both) */
    struct lv_buf headers;   /* cavage headers=, lower-cased */
    struct lv_buf created;   /* cavage created / expires, as sent */
    struct lv_buf expires;
    char *cover[LV_HTTPSIG_COMPONENTS_MAX]; /* covered names, in order, owned */
    size_t n_cover;
};

static bool covers(const struct ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n_cover; i++)
        if (strcmp(c->cover[i], name) == 0)
            return true;
    return false;
}

/* Adds name[0..len) (already validated) to the covered list; duplicates
 * are refused: a component signed twice is a sign of a confused signer. */
static int cover_add(struct ctx *c, const char *name, size_t len)
{
    char *copy;
    if (c->n_cover == LV_HTTPSIG_COMPONENTS_MAX)
        return OVER_LIMIT(c->err, "more than %d covered components", LV_HTTPSIG_COMPONENTS_MAX);
    copy = lv_xstrndup(name, len);
    if (covers(c, copy)) {
        int rc = MALFORMED(c->err, "component \"%s\" is covered twice", copy);
        free(copy);
        return rc;
    }
    c->cover[c->n_cover++] = copy;
    return 0;
}

static int fetch(struct ctx *c, const char *name, const char *display, struct lv_buf *out,
                 size_t max)
{
    int n = header_get(c->req, name, out, max);
    if (n == HDR_CTL)
        return MALFORMED(c->err, "%s holds a control character", display);
    if (n == HDR_BIG)
        return OVER_LIMIT(c->err, "%s longer than %zu bytes", display, max);
    return n;
}

static bool request_line_ok(const struct lv_httpsig_request *req)
{
    return req->method && field_name_ok(req->method, req->method_len) && req->target &&
           target_ok(req->target, req->target_len) &&
           (!req->authority || target_ok(req->authority, req->authority_len));
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes target into out. Returns false when there is nothing to
 * decode or the result would hold a control character (it could forge
 * extra lines in the signing string). */
static bool decode_target(const char *t, size_t len, struct lv_buf *out)
{
    bool changed = false;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (c == '%' && i + 2 < len && hexval(t[i + 1]) >= 0 && hexval(t[i + 2]) >= 0) {
            c = (char)(hexval(t[i + 1]) << 4 | hexval(t[i + 2]));
            i += 2;
            changed = true;
            if ((unsigned char)c < 0x20 || c == 0x7f)
                return false;
        }
        lv_buf_addc(out, c);
    }
    return changed;
}

/* ------------------------------------------------------------------ */
/* draft-cavage.                                                       */

enum { P_KEYID, P_ALGORITHM, P_HEADERS, P_SIGNATURE, P_CREATED, P_EXPIRES, P_COUNT };
static const char *const cavage_names[P_COUNT] = {"keyId",     "algorithm", "headers",
                                                  "signature", "created",   "expires"};

struct cavage {
    struct lv_buf v[P_COUNT];
    bool have[P_COUNT];
};

/* quoted-string (RFC 9110), unescaped into out. */
static int cavage_quoted(struct sf *s, struct lv_buf *out)
{
    s->p++;
    while (s->p < s->end && *s->p != '"') {
        unsigned char c = (unsigned char)*s->p;
        if (c == '\\') {
            if (++s->p == s->end)
                break;
            c = (unsigned char)*s->p;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return MALFORMED(s->err, "Signature: control character in a quoted value");
        lv_buf_addc(out, (char)c);
        s->p++;
    }
    if (s->p == s->end)
        return MALFORMED(s->err, "Signature: unterminated quoted value");
    s->p++;
    return 0;
}

static int cavage_value(struct sf *s, struct lv_buf *out)
{
    const char *start = s->p;
    lv_buf_add(out, "", 0); /* data is a string even for "" */
    if (sf_at(s, '"'))
        return cavage_quoted(s, out);
    while (s->p < s->end && is_tchar(*s->p))
        s->p++;
    if (s->p == start)
        return MALFORMED(s->err, "Signature: parameter without a value");
    lv_buf_add(out, start, (size_t)(s->p - start));
    return 0;
}

static void skip_ows(struct sf *s)
{
    while (s->p < s->end && is_ows(*s->p))
        s->p++;
}

/* One name=value; names are matched case-insensitively (the reference sent
 * "Algorithm") and may appear once. */
static int cavage_param(struct sf *s, struct cavage *cv, const char **seen, size_t *seen_len,
                        size_t *n_seen)
{
    const char *name = s->p;
    size_t len;
    int idx = -1, rc;
    struct lv_buf ignored = LV_BUF_INIT;
    while (s->p < s->end && is_tchar(*s->p))
        s->p++;
    len = (size_t)(s->p - name);
    skip_ows(s);
    if (len == 0 || !sf_at(s, '='))
        return MALFORMED(s->err, "Signature: expected name=value");
    s->p++;
    skip_ows(s);
    for (size_t i = 0; i < *n_seen; i++)
        if (seen_len[i] == len && ieqn(seen[i], name, len))
            return MALFORMED(s->err, "Signature: duplicate parameter \"%.*s\"", (int)len, name);
    if (*n_seen == LV_HTTPSIG_PARAMS_MAX)
        return OVER_LIMIT(s->err, "Signature: more than %d parameters", LV_HTTPSIG_PARAMS_MAX);
    seen[*n_seen] = name;
    seen_len[(*n_seen)++] = len;
    for (int i = 0; i < P_COUNT; i++)
        if (ieq(name, len, cavage_names[i]))
            idx = i;
    rc = cavage_value(s, idx >= 0 ? &cv->v[idx] : &ignored);
    lv_buf_release(&ignored);
    if (idx >= 0)
        cv->have[idx] = true;
    return rc;
}

static int cavage_params(struct sf *s, struct cavage *cv)
{
    const char *seen[LV_HTTPSIG_PARAMS_MAX];
    size_t seen_len[LV_HTTPSIG_PARAMS_MAX], n_seen = 0;
    int rc;
    for (;;) {
        while (s->p < s->end && (is_ows(*s->p) || *s->p == ','))
            s->p++; /* empty list elements are allowed (RFC 9110 #rule) */
        if (s->p == s->end)
            return 0;
        if ((rc = cavage_param(s, cv, seen, seen_len, &n_seen)) != 0)
            return rc;
        skip_ows(s);
        if (s->p < s->end && *s->p != ',')
            return MALFORMED(s->err, "Signature: expected ',' between parameters");
    }
}

static int decode_signature(struct ctx *c, const char *b64, size_t len)
{
    if (len > LV_HTTPSIG_SIG_B64_MAX)
        return OVER_LIMIT(c->err, "signature longer than %d base64 characters",
                          LV_HTTPSIG_SIG_B64_MAX);
    c->out->sig = lv_xmalloc(len / 4 * 3 + 1);
    if (!b64_decode(b64, len, c->out->sig, &c->out->sig_len))
        return MALFORMED(c->err, "signature is not valid base64");
    return 0;
}

static int set_key_id(struct ctx *c, const char *id, size_t len)
{
    const char *hash_mark;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            return MALFORMED(c->err, "keyId holds a control character");
    c->out->key_id = lv_xstrndup(id, len);
    hash_mark = memchr(id, '#', len);
    c->out->key_url = lv_xstrndup(id, hash_mark ? (size_t)(hash_mark - id) : len);
    return 0;
}

static int cavage_alg(struct ctx *c, const struct cavage *cv)
{
    const struct lv_buf *a = &cv->v[P_ALGORITHM];
    if (!cv->have[P_ALGORITHM]) {
        c->out->alg = LV_HTTPSIG_ALG_FROM_KEY;
        c->out->alg_name = "";
    } else if (ieq(a->data, a->len, "rsa-sha256")) {
        c->out->alg = LV_HTTPSIG_ALG_RSA_V1_5_SHA256;
        c->out->alg_name = "rsa-sha256";
    } else if (ieq(a->data, a->len, "hs2019")) {
        c->out->alg = LV_HTTPSIG_ALG_FROM_KEY;
        c->out->alg_name = "hs2019";
    } else {
        return BAD_ALG(c->err, "unknown signature algorithm");
    }
    return 0;
}

/* created / expires: an integer, optionally with a fraction (the draft
 * allows sub-second expires); only whole seconds are used. */
static int cavage_time(struct ctx *c, const struct lv_buf *v, const char *name, int64_t *out)
{
    const char *dot = memchr(v->data, '.', v->len);
    size_t ilen = dot ? (size_t)(dot - v->data) : v->len;
    bool ok = parse_uint(v->data, ilen, out);
    for (size_t i = ilen + 1; ok && dot && i < v->len; i++)
        ok = is_digit(v->data[i]);
    if (!ok || (dot && ilen + 1 == v->len))
        return MALFORMED(c->err, "%s is not a number of seconds", name);
    return 0;
}

/* headers="..." -> covered list (lower case, order kept). */
static int cavage_headers(struct ctx *c, struct cavage *cv)
{
    const char *p, *end;
    int rc;
    if (!cv->have[P_HEADERS])
        lv_buf_adds(&c->headers, "(created)"); /* the draft's default */
    else
        lv_buf_add(&c->headers, cv->v[P_HEADERS].data, cv->v[P_HEADERS].len);
    for (size_t i = 0; i < c->headers.len; i++)
        c->headers.data[i] = lower(c->headers.data[i]);
    p = c->headers.data;
    end = p + c->headers.len;
    while (p < end) {
        const char *w;
        while (p < end && is_ows(*p))
            p++;
        for (w = p; p < end && !is_ows(*p); p++)
            ;
        if (p == w)
            continue;
        if (!seq(w, (size_t)(p - w), "(request-target)") && !seq(w, (size_t)(p - w), "(created)") &&
            !seq(w, (size_t)(p - w), "(expires)") && !field_name_ok(w, (size_t)(p - w)))
            return MALFORMED(c->err, "headers holds an invalid name");
        if ((rc = cover_add(c, w, (size_t)(p - w))) != 0)
            return rc;
    }
    if (c->n_cover == 0)
        return MALFORMED(c->err, "headers is empty");
    return 0;
}

/* The value of one covered header in the cavage signing string. */
static int cavage_line(struct ctx *c, const char *name, const char *target, size_t target_len,
                       struct lv_buf *b)
{
    const struct lv_httpsig_request *req = c->req;
    int n;
    lv_buf_addf(b, "%s: ", name);
    if (strcmp(name, "(request-target)") == 0) {
        for (size_t i = 0; i < req->method_len; i++)
            lv_buf_addc(b, lower(req->method[i]));
        lv_buf_addc(b, ' ');
        lv_buf_add(b, target, target_len);
        return 0;
    }
    if (strcmp(name, "(created)") == 0 || strcmp(name, "(expires)") == 0) {
        const struct lv_buf *v = name[1] == 'c' ? &c->created : &c->expires;
        if (!v->len)
            return MALFORMED(c->err, "%s is listed but the parameter is absent", name);
        lv_buf_add(b, v->data, v->len);
        return 0;
    }
    if (strcmp(name, "host") == 0 && req->authority) {
        lv_buf_add(b, req->authority, req->authority_len);
        return 0;
    }
    n = fetch(c, name, name, b, LV_HTTPSIG_HEADER_MAX * 8);
    if (n == 0)
        return MALFORMED(c->err, "header \"%s\" is listed in headers but absent", name);
    return n < 0 ? n : 0;
}

static int cavage_base(struct ctx *c, const void *arg, const char *target, size_t target_len,
                       struct lv_buf *b)
{
    (void)arg;
    int rc;
    for (size_t i = 0; i < c->n_cover; i++) {
        if (i)
            lv_buf_addc(b, '\n');
        if ((rc = cavage_line(c, c->cover[i], target, target_len, b)) != 0)
            return rc;
    }
    return 0;
}

static int cavage_fields(struct ctx *c, struct cavage *cv)
{
    struct lv_httpsig_sig *o = c->out;
    int rc;
    if (!cv->have[P_SIGNATURE] || cv->v[P_SIGNATURE].len == 0)
        return MALFORMED(c->err, "signature parameter missing");
    if ((rc = cavage_alg(c, cv)) != 0 ||
        (rc = decode_signature(c, cv->v[P_SIGNATURE].data, cv->v[P_SIGNATURE].len)) != 0)
        return rc;
    if (cv->have[P_KEYID] && cv->v[P_KEYID].len &&
        (rc = set_key_id(c, cv->v[P_KEYID].data, cv->v[P_KEYID].len)) != 0)
        return rc;
    if (cv->have[P_CREATED] &&
        (rc = cavage_time(c, &cv->v[P_CREATED], "created", &o->created)) != 0)
        return rc;
    if (cv->have[P_EXPIRES] &&
        (rc = cavage_time(c, &cv->v[P_EXPIRES], "expires", &o->expires)) != 0)
        return rc;
    if (cv->have[P_CREATED])
        lv_buf_add(&c->created, cv->v[P_CREATED].data, cv->v[P_CREATED].len);
    if (cv->have[P_EXPIRES])
        lv_buf_add(&c->expires, cv->v[P_EXPIRES].data, cv->v[P_EXPIRES].len);
    if ((rc = cavage_headers(c, cv)) != 0)
        return rc;
    /* created / expires mean something only when signed. */
    if (!covers(c, "(created)"))
        o->created = -1;
    if (!covers(c, "(expires)"))
        o->expires = -1;
    return 0;
}

/* The draft forbids (created) and (expires) with the rsa-* algorithms:
 * they only exist for hs2019. */
static int cavage_pseudo_check(struct ctx *c)
{
    if (c->out->alg == LV_HTTPSIG_ALG_RSA_V1_5_SHA256 &&
        (covers(c, "(created)") || covers(c, "(expires)")))
        return BAD_ALG(c->err, "(created)/(expires) are not allowed with rsa-sha256");
    return 0;
}

typedef int (*base_fn)(struct ctx *c, const void *arg, const char *target, size_t target_len,
                       struct lv_buf *b);

/* Builds out->base, and out->base_decoded when the target has escapes. */
static int build_bases(struct ctx *c, base_fn build, const void *arg)
{
    const struct lv_httpsig_request *req = c->req;
    struct lv_buf decoded = LV_BUF_INIT;
    int rc = build(c, arg, req->target, req->target_len, &c->out->base);
    if (rc == 0 && memchr(req->target, '%', req->target_len) &&
        decode_target(req->target, req->target_len, &decoded))
        rc = build(c, arg, decoded.data, decoded.len, &c->out->base_decoded);
    lv_buf_release(&decoded);
    return rc;
}

static int parse_cavage(struct ctx *c, const char *value, size_t len)
{
    struct cavage cv;
    struct sf s;
    int rc;
    memset(&cv, 0, sizeof(cv));
    sf_init(&s, "Signature", value, len, c->err);
    c->out->scheme = LV_HTTPSIG_CAVAGE;
    rc = cavage_params(&s, &cv);
    if (rc == 0)
        rc = cavage_fields(c, &cv);
    if (rc == 0)
        rc = cavage_pseudo_check(c);
    if (rc == 0)
        rc = build_bases(c, cavage_base, NULL);
    for (int i = 0; i < P_COUNT; i++)
        lv_buf_release(&cv.v[i]);
    return rc;
}

/* ------------------------------------------------------------------ */
/* RFC 9421.                                                           */

static const char *const derived[] = {"@method",         "@target-uri", "@authority", "@scheme",
                                      "@request-target", "@path",       "@query"};

static bool component_ok(const char *s, size_t len)
{
    if (len && s[0] == '@') {
        for (size_t i = 0; i < LV_ARRAY_LEN(derived); i++)
            if (seq(s, len, derived[i]))
                return true;
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            return false;
    return field_name_ok(s, len);
}

/* Appends the authority, lower-cased and without the scheme's default
 * port (RFC 9421 §2.2.3). */
static int add_authority(struct ctx *c, struct lv_buf *b)
{
    const struct lv_httpsig_request *req = c->req;
    struct lv_buf host = LV_BUF_INIT;
    const char *scheme = req->scheme ? req->scheme : "https";
    const char *dflt = strcmp(scheme, "http") == 0 ? ":80" : ":443";
    size_t len;
    int n = 1;
    if (req->authority)
        lv_buf_add(&host, req->authority, req->authority_len);
    else
        n = fetch(c, "host", "Host", &host, 1024);
    if (n == 0 || n > 1 || (n > 0 && host.len == 0)) {
        lv_buf_release(&host);
        return MALFORMED(c->err, "@authority needs exactly one non-empty Host");
    }
    len = host.len;
    if (len > strlen(dflt) && strcmp(host.data + len - strlen(dflt), dflt) == 0)
        len -= strlen(dflt);
    for (size_t i = 0; n > 0 && i < len; i++)
        lv_buf_addc(b, lower(host.data[i]));
    lv_buf_release(&host);
    return n < 0 ? n : 0;
}

static int derived_value(struct ctx *c, const char *name, const char *t, size_t tlen,
                         struct lv_buf *b)
{
    const char *q = memchr(t, '?', tlen);
    size_t plen = q ? (size_t)(q - t) : tlen;
    if (t[0] != '/' && strcmp(name, "@method") != 0 && strcmp(name, "@scheme") != 0 &&
        strcmp(name, "@authority") != 0 && strcmp(name, "@request-target") != 0)
        return MALFORMED(c->err, "%s needs an origin-form request target", name);
    if (strcmp(name, "@method") == 0)
        lv_buf_add(b, c->req->method, c->req->method_len);
    else if (strcmp(name, "@scheme") == 0)
        lv_buf_adds(b, c->req->scheme ? c->req->scheme : "https");
    else if (strcmp(name, "@authority") == 0)
        return add_authority(c, b);
    else if (strcmp(name, "@target-uri") == 0) {
        lv_buf_addf(b, "%s://", c->req->scheme ? c->req->scheme : "https");
        int rc = add_authority(c, b);
        lv_buf_add(b, t, tlen);
        return rc;
    } else if (strcmp(name, "@request-target") == 0)
        lv_buf_add(b, t, tlen);
    else if (strcmp(name, "@path") == 0)
        lv_buf_add(b, plen ? t : "/", plen ? plen : 1);
    else if (strcmp(name, "@query") == 0)
        lv_buf_add(b, q ? q : "?", q ? tlen - plen : 1);
    return 0;
}

static void add_param_value(struct lv_buf *b, const struct sf_item *v)
{
    switch (v->type) {
    case SF_INT:
        lv_buf_addf(b, "=%lld", (long long)v->num);
        break;
    case SF_STRING:
        lv_buf_addf(b, "=\"%.*s\"", (int)v->raw_len, v->raw);
        break;
    case SF_TOKEN:
        lv_buf_addf(b, "=%.*s", (int)v->raw_len, v->raw);
        break;
    case SF_BYTES:
        lv_buf_addf(b, "=:%.*s:", (int)v->raw_len, v->raw);
        break;
    case SF_BOOL:
        if (!v->num)
            lv_buf_adds(b, "=?0");
        break;
    }
}

/* "@signature-params": the signature's inner list re-serialised in
 * canonical form (RFC 8941 §4.1), which is what the signer signed. */
static void signature_params(const struct ctx *c, const struct sf_member *m, struct lv_buf *b)
{
    lv_buf_adds(b, "\"@signature-params\": (");
    for (size_t i = 0; i < c->n_cover; i++)
        lv_buf_addf(b, "%s\"%s\"", i ? " " : "", c->cover[i]);
    lv_buf_addc(b, ')');
    for (size_t i = 0; i < m->n_params; i++) {
        lv_buf_addf(b, ";%.*s", (int)m->params[i].key_len, m->params[i].key);
        add_param_value(b, &m->params[i].v);
    }
}

static int rfc9421_base(struct ctx *c, const void *arg, const char *t, size_t tlen,
                        struct lv_buf *b)
{
    const struct sf_member *m = arg;
    int rc;
    for (size_t i = 0; i < c->n_cover; i++) {
        const char *name = c->cover[i];
        lv_buf_addf(b, "\"%s\": ", name);
        if (name[0] == '@') {
            if ((rc = derived_value(c, name, t, tlen, b)) != 0)
                return rc;
        } else if ((rc = fetch(c, name, name, b, LV_HTTPSIG_HEADER_MAX * 8)) <= 0) {
            return rc ? rc : MALFORMED(c->err, "covered header \"%s\" is absent", name);
        }
        lv_buf_addc(b, '\n');
    }
    signature_params(c, m, b);
    return 0;
}

static int rfc9421_alg(struct ctx *c, const struct sf_item *v)
{
    static const struct {
        const char *name;
        enum lv_httpsig_alg alg;
    } algs[] = {{"rsa-v1_5-sha256", LV_HTTPSIG_ALG_RSA_V1_5_SHA256},
                {"rsa-pss-sha512", LV_HTTPSIG_ALG_RSA_PSS_SHA512},
                {"ed25519", LV_HTTPSIG_ALG_ED25519}};
    if (v->type != SF_STRING)
        return MALFORMED(c->err, "Signature-Input: alg is not a string");
    for (size_t i = 0; i < LV_ARRAY_LEN(algs); i++)
        if (seq(v->raw, v->raw_len, algs[i].name)) {
            c->out->alg = algs[i].alg;
            c->out->alg_name = algs[i].name;
            return 0;
        }
    return BAD_ALG(c->err, "unsupported signature algorithm");
}

/* Unescapes an sf-string's raw text. */
static char *sf_unescape(const struct sf_item *v, size_t *len)
{
    char *out = lv_xmalloc(v->raw_len + 1);
    size_t n = 0;
    for (size_t i = 0; i < v->raw_len; i++) {
        if (v->raw[i] == '\\')
            i++;
        out[n++] = v->raw[i];
    }
    out[n] = '\0';
    *len = n;
    return out;
}

static int rfc9421_param(struct ctx *c, const struct sf_param *p)
{
    struct lv_httpsig_sig *o = c->out;
    bool is_created = seq(p->key, p->key_len, "created");
    if (is_created || seq(p->key, p->key_len, "expires")) {
        if (p->v.type != SF_INT || p->v.num < 0)
            return MALFORMED(c->err, "Signature-Input: %s is not a positive integer",
                             is_created ? "created" : "expires");
        *(is_created ? &o->created : &o->expires) = p->v.num;
    } else if (seq(p->key, p->key_len, "keyid")) {
        size_t len;
        char *id;
        int rc;
        if (p->v.type != SF_STRING)
            return MALFORMED(c->err, "Signature-Input: keyid is not a string");
        id = sf_unescape(&p->v, &len);
        rc = len ? set_key_id(c, id, len) : 0;
        free(id);
        return rc;
    } else if (seq(p->key, p->key_len, "alg")) {
        return rfc9421_alg(c, &p->v);
    }
    return 0; /* nonce, tag, others: signed through @signature-params */
}

static int rfc9421_components(struct ctx *c, const struct sf_member *m)
{
    int rc;
    if (!m->is_list)
        return MALFORMED(c->err, "Signature-Input: member is not an inner list");
    if (m->list_item_params)
        return MALFORMED(c->err, "Signature-Input: component parameters are not supported");
    for (size_t i = 0; i < m->n_list; i++) {
        const struct sf_item *it = &m->list[i];
        if (it->type != SF_STRING || !component_ok(it->raw, it->raw_len))
            return MALFORMED(c->err, "Signature-Input: unsupported component");
        if ((rc = cover_add(c, it->raw, it->raw_len)) != 0)
            return rc;
    }
    for (size_t i = 0; i < m->n_params; i++)
        if ((rc = rfc9421_param(c, &m->params[i])) != 0)
            return rc;
    return 0;
}

static int rfc9421_signature(struct ctx *c)
{
    struct sf s;
    struct sf_member m;
    int rc = fetch(c, "signature", "Signature", &c->signature, LV_HTTPSIG_HEADER_MAX);
    if (rc == 0)
        return MALFORMED(c->err, "Signature-Input without Signature");
    if (rc < 0)
        return rc;
    sf_init(&s, "Signature", c->signature.data, c->signature.len, c->err);
    if ((rc = sf_dict_find(&s, c->out->label, &m)) != 0)
        return rc;
    if (!m.key)
        return MALFORMED(c->err, "Signature has no member for this label");
    if (m.is_list || m.item.type != SF_BYTES)
        return MALFORMED(c->err, "Signature: member is not a byte sequence");
    return decode_signature(c, m.item.raw, m.item.raw_len);
}

static int parse_rfc9421(struct ctx *c, const char *label)
{
    struct sf s;
    struct sf_member m;
    int rc;
    c->out->scheme = LV_HTTPSIG_RFC9421;
    sf_init(&s, "Signature-Input", c->sig_input.data, c->sig_input.len, c->err);
    if ((rc = sf_dict_find(&s, label, &m)) != 0)
        return rc;
    if (!m.key)
        return MALFORMED(c->err,
                         label ? "Signature-Input has no such label" : "Signature-Input is empty");
    c->out->label = lv_xstrndup(m.key, m.key_len);
    if ((rc = rfc9421_components(c, &m)) != 0 || (rc = rfc9421_signature(c)) != 0)
        return rc;
    return build_bases(c, rfc9421_base, &m);
}

/* ------------------------------------------------------------------ */
/* Entry points and policy.                                            */

void lv_httpsig_sig_init(struct lv_httpsig_sig *s)
{
    memset(s, 0, sizeof(*s));
    s->alg_name = "";
    s->created = s->expires = s->date = -1;
    lv_buf_init(&s->base);
    lv_buf_init(&s->base_decoded);
}

void lv_httpsig_sig_release(struct lv_httpsig_sig *s)
{
    if (!s)
        return;
    free(s->key_id);
    free(s->key_url);
    free(s->label);
    free(s->sig);
    lv_buf_release(&s->base);
    lv_buf_release(&s->base_decoded);
    lv_httpsig_sig_init(s);
}

static void ctx_init(struct ctx *c, const struct lv_httpsig_request *req,
                     struct lv_httpsig_sig *out, struct lv_error *err)
{
    memset(c, 0, sizeof(*c));
    c->req = req;
    c->out = out;
    c->err = err;
    lv_buf_init(&c->sig_input);
    lv_buf_init(&c->signature);
    lv_buf_init(&c->headers);
    lv_buf_init(&c->created);
    lv_buf_init(&c->expires);
    lv_httpsig_sig_init(out);
}

static void ctx_release(struct ctx *c)
{
    lv_buf_release(&c->sig_input);
    lv_buf_release(&c->signature);
    lv_buf_release(&c->headers);
    lv_buf_release(&c->created);
    lv_buf_release(&c->expires);
    for (size_t i = 0; i < c->n_cover; i++)
        free(c->cover[i]);
    c->n_cover = 0;
}

/* The draft also allows the signature in "Authorization: Signature ...".
 * Returns 1 with c->signature set, 0 when there is none, or an error. */
static int authorization(struct ctx *c)
{
    static const char scheme[] = "signature ";
    struct lv_buf v = LV_BUF_INIT;
    int n = fetch(c, "authorization", "Authorization", &v, LV_HTTPSIG_HEADER_MAX + 16);
    if (n == 1 && v.len > sizeof(scheme) - 1 && ieqn(v.data, scheme, sizeof(scheme) - 1))
        lv_buf_add(&c->signature, v.data + sizeof(scheme) - 1, v.len - (sizeof(scheme) - 1));
    else if (n > 0)
        n = 0;
    lv_buf_release(&v);
    return n;
}

/* The Date header, when it is signed. */
static int signed_date(struct ctx *c)
{
    struct lv_buf d = LV_BUF_INIT;
    int n;
    if (!covers(c, "date"))
        return 0;
    n = fetch(c, "date", "Date", &d, 64);
    if (n > 0 && lv_httpsig_parse_date(d.data, d.len, &c->out->date) != 0)
        n = MALFORMED(c->err, "Date is not a valid HTTP-date");
    lv_buf_release(&d);
    return n < 0 ? n : 0;
}

static int parse_any(struct ctx *c, const char *label)
{
    int n, rc;
    if (!request_line_ok(c->req))
        return MALFORMED(c->err, "bad request method or target");
    n = fetch(c, "signature-input", "Signature-Input", &c->sig_input, LV_HTTPSIG_HEADER_MAX);
    if (n > 0) {
        rc = parse_rfc9421(c, label);
    } else {
        if (n == 0)
            n = fetch(c, "signature", "Signature", &c->signature, LV_HTTPSIG_HEADER_MAX);
        if (n == 0)
            n = authorization(c);
        if (n == 0)
            return lv_error_set_cond(c->err, LV_ERR_NOT_FOUND, "unsigned",
                                     "the request is not signed");
        if (n < 0)
            return n;
        rc = parse_cavage(c, c->signature.data, c->signature.len);
    }
    return rc ? rc : signed_date(c);
}

static bool needs_digest(const struct lv_httpsig_request *req)
{
    return req->body_len > 0 || ieq(req->method, req->method_len, "post");
}

static int coverage_cavage(struct ctx *c)
{
    if (!covers(c, "(request-target)"))
        return REFUSE(c->err, "coverage", "(request-target) is not signed");
    if (!covers(c, "host"))
        return REFUSE(c->err, "coverage", "host is not signed");
    if (!covers(c, "date") && !covers(c, "(created)"))
        return REFUSE(c->err, "coverage", "neither date nor (created) is signed");
    return 0;
}

static int coverage_rfc9421(struct ctx *c)
{
    if (!covers(c, "@method"))
        return REFUSE(c->err, "coverage", "@method is not signed");
    if (!covers(c, "@target-uri") &&
        !(covers(c, "@authority") && (covers(c, "@path") || covers(c, "@request-target"))))
        return REFUSE(c->err, "coverage",
                      "the target is not signed (need @target-uri, or @authority and @path)");
    if (!covers(c, "date") && c->out->created == -1)
        return REFUSE(c->err, "coverage", "neither date nor created is signed");
    return 0;
}

static int coverage(struct ctx *c)
{
    int rc = c->out->scheme == LV_HTTPSIG_CAVAGE ? coverage_cavage(c) : coverage_rfc9421(c);
    if (rc == 0 && needs_digest(c->req) && !covers(c, "digest") && !covers(c, "content-digest"))
        return REFUSE(c->err, "coverage", "the body digest is not signed");
    return rc;
}

/* Every digest header present must match, signed or not: a request whose
 * headers contradict its body is not one we want. */
static int check_digests(struct ctx *c)
{
    const struct lv_httpsig_request *req = c->req;
    struct lv_buf v = LV_BUF_INIT;
    int n = fetch(c, "digest", "Digest", &v, LV_HTTPSIG_DIGEST_MAX);
    if (n > 0)
        n = lv_httpsig_digest_check(v.data, v.len, req->body, req->body_len, c->err);
    lv_buf_reset(&v);
    if (n >= 0)
        n = fetch(c, "content-digest", "Content-Digest", &v, LV_HTTPSIG_DIGEST_MAX);
    if (n > 0)
        n = lv_httpsig_content_digest_check(v.data, v.len, req->body, req->body_len, c->err);
    lv_buf_release(&v);
    return n < 0 ? n : 0;
}

/* a - b, saturated: now comes from the caller and may be anything. */
static int64_t sub_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int check_times(struct ctx *c, int64_t now, int64_t window)
{
    const struct lv_httpsig_sig *o = c->out;
    if (o->date != -1) {
        int64_t age = sub_sat(now, o->date);
        if (age > window || age < -window)
            return REFUSE(c->err, "date", "Date is %lld s in the %s (window %lld s)",
                          (long long)(age < 0 ? sub_sat(0, age) : age), age < 0 ? "future" : "past",
                          (long long)window);
    }
    if (o->created != -1) {
        int64_t age = sub_sat(now, o->created);
        if (age > window || age < -window)
            return REFUSE(c->err, "date", "created is %lld s in the %s (window %lld s)",
                          (long long)(age < 0 ? sub_sat(0, age) : age), age < 0 ? "future" : "past",
                          (long long)window);
    }
    if (o->expires != -1 && o->expires < now)
        return REFUSE(c->err, "expired", "the signature expired %lld s ago",
                      (long long)sub_sat(now, o->expires));
    return 0;
}

int lv_httpsig_parse(const struct lv_httpsig_request *req, int64_t now, int64_t window,
                     struct lv_httpsig_sig *out, struct lv_error *err)
{
    struct ctx c;
    int rc;
    ctx_init(&c, req, out, err);
    if (window <= 0)
        window = LV_HTTPSIG_WINDOW_DEFAULT;
    rc = parse_any(&c, NULL);
    if (rc == 0 && !out->key_id)
        rc = MALFORMED(err, "keyId missing");
    if (rc == 0)
        rc = coverage(&c);
    if (rc == 0)
        rc = check_digests(&c);
    if (rc == 0)
        rc = check_times(&c, now, window);
    ctx_release(&c);
    if (rc != 0)
        lv_httpsig_sig_release(out);
    return rc;
}

int lv_httpsig_parse_unchecked(const struct lv_httpsig_request *req, const char *label,
                               struct lv_httpsig_sig *out, struct lv_error *err)
{
    struct ctx c;
    int rc;
    ctx_init(&c, req, out, err);
    rc = parse_any(&c, label);
    ctx_release(&c);
    if (rc != 0)
        lv_httpsig_sig_release(out);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Verification.                                                       */

static const char *alg_label(enum lv_httpsig_alg alg)
{
    switch (alg) {
    case LV_HTTPSIG_ALG_RSA_V1_5_SHA256:
        return "rsa-v1_5-sha256";
    case LV_HTTPSIG_ALG_RSA_PSS_SHA512:
        return "rsa-pss-sha512";
    case LV_HTTPSIG_ALG_ED25519:
        return "ed25519";
    case LV_HTTPSIG_ALG_FROM_KEY:
        break;
    }
    return "from-key";
}

static int pick_alg(const struct lv_httpsig_sig *sig, EVP_PKEY *key, enum lv_httpsig_alg *alg,
                    struct lv_error *err)
{
    bool rsa = EVP_PKEY_is_a(key, "RSA"), ed = EVP_PKEY_is_a(key, "ED25519");
    *alg = sig->alg;
    if (*alg == LV_HTTPSIG_ALG_FROM_KEY)
        *alg = ed ? LV_HTTPSIG_ALG_ED25519 : LV_HTTPSIG_ALG_RSA_V1_5_SHA256;
    if (*alg == LV_HTTPSIG_ALG_ED25519 ? !ed : !rsa)
        return REFUSE(err, "key", "key type %s cannot verify %s", EVP_PKEY_get0_type_name(key),
                      alg_label(*alg));
    return rsa ? check_rsa_bits(key, err) : 0;
}

/* True when sig verifies over base with key and alg. */
static bool verify_one(EVP_PKEY *key, enum lv_httpsig_alg alg, const struct lv_buf *base,
                       const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    const char *md = alg == LV_HTTPSIG_ALG_ED25519          ? NULL
                     : alg == LV_HTTPSIG_ALG_RSA_PSS_SHA512 ? "SHA512"
                                                            : "SHA256";
    bool ok = ctx && EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, key, NULL) == 1;
    if (ok && alg == LV_HTTPSIG_ALG_RSA_PSS_SHA512)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA512", NULL) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 64) == 1;
    if (ok)
        ok = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)base->data, base->len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

int lv_httpsig_verify(const struct lv_httpsig_sig *sig, EVP_PKEY *key, unsigned flags,
                      struct lv_error *err)
{
    enum lv_httpsig_alg alg;
    int rc;
    if (!sig || !sig->sig_len || !sig->base.len || !key)
        return MALFORMED(err, "nothing to verify");
    if ((rc = pick_alg(sig, key, &alg, err)) != 0)
        return rc;
    if (verify_one(key, alg, &sig->base, sig->sig, sig->sig_len))
        return 0;
    if ((flags & LV_HTTPSIG_RETRY_DECODED) && sig->base_decoded.len &&
        verify_one(key, alg, &sig->base_decoded, sig->sig, sig->sig_len))
        return 0;
    return REFUSE(err, "signature", "the signature does not verify with this key");
}
