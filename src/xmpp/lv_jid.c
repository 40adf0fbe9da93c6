/* lv_jid: JIDs (RFC 7622) and XEP-0106 JID escaping.
 *
 * Parsing works on (pointer, length) and never trusts a NUL terminator: the
 * input is checked as a whole for valid UTF-8 first, then split on ASCII
 * separators (which cannot occur inside a multi-byte UTF-8 sequence), then
 * each part is prepared with utf8proc and checked *after* preparation, so
 * that what we store is exactly what we validated and a stored JID re-parses
 * to itself. */
#include "xmpp/lv_jid.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"

/* One of the three JID parts: how it is prepared and which code points it
 * may hold once prepared. */
struct part_rule {
    const char *name;
    utf8proc_option_t opts;
    bool (*allowed)(int32_t cp);
};

/* ---- code point classes ---- */

static bool is_space_or_control(int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC: /* C0/C1 controls, DEL */
    case UTF8PROC_CATEGORY_ZS: /* space, NBSP, ... */
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
        return true;
    default:
        return false;
    }
}

/* RFC 7622 §3.3.1: these ASCII characters are never allowed in a localpart. */
static bool is_local_forbidden_ascii(int32_t cp)
{
    return cp < 0x80 && strchr("\"&'/:<>@", (int)cp) != NULL;
}

/* Format characters (zero-width space, bidi overrides...) and private use
 * code points are invisible or meaningless; PRECIS IdentifierClass refuses
 * them, and allowing them would let two different JIDs look the same. */
static bool is_invisible(int32_t cp)
{
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CS;
}

static bool local_allowed(int32_t cp)
{
    return !is_local_forbidden_ascii(cp) && !is_space_or_control(cp) && !is_invisible(cp);
}

/* We do not run full IDNA2008, but we keep to what a host name can hold:
 * ASCII letters/digits/'-'/'.' (plus '_', which real deployments use for
 * components), and, beyond ASCII, letters, marks and decimal digits (a
 * superset of IDNA2008's PVALID). */
static bool domain_allowed(int32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') || cp == '-' || cp == '.' ||
               cp == '_';
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
        return true;
    default:
        return false;
    }
}

/* OpaqueString (FreeformClass) allows spaces and symbols, not controls. */
static bool resource_allowed(int32_t cp)
{
    return utf8proc_category(cp) != UTF8PROC_CATEGORY_CC;
}

/* STABLE|COMPOSE is NFC; REJECTNA refuses unassigned code points, which
 * PRECIS disallows because their normalisation may change in a later
 * Unicode version. */
#define NFC_OPTS (UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_REJECTNA)

static const struct part_rule local_rule = {"localpart", NFC_OPTS | UTF8PROC_CASEFOLD,
                                            local_allowed};
static const struct part_rule domain_rule = {"domainpart", NFC_OPTS | UTF8PROC_CASEFOLD,
                                             domain_allowed};
static const struct part_rule resource_rule = {"resourcepart", NFC_OPTS, resource_allowed};

/* ---- generic part preparation ---- */

static int check_utf8(const char *s, size_t len, struct lv_error *err)
{
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n < 0)
            return lv_error_set(err, LV_ERR_INVAL, "invalid JID: not valid UTF-8 (byte %zu)", i);
        if (cp == 0)
            return lv_error_set(err, LV_ERR_INVAL, "invalid JID: contains a NUL byte (byte %zu)",
                                i);
        i += (size_t)n;
    }
    return 0;
}

static int check_length(const struct part_rule *r, size_t len, const char *when,
                        struct lv_error *err)
{
    if (len == 0)
        return lv_error_set(err, LV_ERR_INVAL, "invalid JID: %s is empty", r->name);
    if (len > LV_JID_PART_MAX)
        return lv_error_set(err, LV_ERR_INVAL, "invalid JID: %s is longer than %d bytes%s", r->name,
                            LV_JID_PART_MAX, when);
    return 0;
}

static int check_chars(const struct part_rule *r, const char *s, size_t len, struct lv_error *err)
{
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n < 0) /* utf8proc's own output: would be a bug, fail closed anyway */
            return lv_error_set(err, LV_ERR_INVAL, "invalid JID: %s is not valid UTF-8", r->name);
        if (!r->allowed(cp))
            return lv_error_set(err, LV_ERR_INVAL,
                                "invalid JID: %s contains a forbidden character (U+%04X)", r->name,
                                (unsigned)cp);
        i += (size_t)n;
    }
    return 0;
}

/* Maps s[0..len) with the rule's utf8proc options into a new string. */
static int map_part(const struct part_rule *r, const char *s, size_t len, char **out,
                    size_t *out_len, struct lv_error *err)
{
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst, r->opts);
    if (n == UTF8PROC_ERROR_NOMEM) {
        /* Allocation failure is fatal project-wide (see lv_mem.h). */
        lv_error("jid", "out of memory in utf8proc_map");
        abort();
    }
    if (n < 0) {
        free(dst);
        return lv_error_set(err, LV_ERR_INVAL, "invalid JID: %s: %s", r->name,
                            n == UTF8PROC_ERROR_NOTASSIGNED ? "unassigned code point"
                                                            : utf8proc_errmsg(n));
    }
    *out = (char *)dst;
    *out_len = (size_t)n;
    return 0;
}

/* The limit is checked on the raw part first, which bounds the work done
 * for hostile input, and again after preparation, because case folding can
 * grow a string (U+0149 'ŉ' folds to two code points): the stored part must
 * fit so that it re-parses. */
static int prepare_part(const struct part_rule *r, const char *s, size_t len, char **out,
                        struct lv_error *err)
{
    char *p = NULL;
    size_t plen = 0;
    int rc = check_length(r, len, "", err);
    if (rc == 0)
        rc = map_part(r, s, len, &p, &plen, err);
    if (rc != 0)
        return rc;
    rc = check_length(r, plen, " after normalisation", err);
    if (rc == 0)
        rc = check_chars(r, p, plen, err);
    if (rc != 0) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* ---- domainpart specifics ---- */

/* "[...]" must hold an IPv6 address (RFC 7622 §3.2 IP-literal). It is kept
 * as written: it does not go through Unicode preparation. */
static int prepare_ip_literal(const char *s, size_t len, char **out, struct lv_error *err)
{
    char addr[INET6_ADDRSTRLEN];
    unsigned char bin[16];
    if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof(addr))
        return lv_error_set(err, LV_ERR_INVAL, "invalid JID: domainpart is a bad IPv6 literal");
    memcpy(addr, s + 1, len - 2);
    addr[len - 2] = '\0';
    if (inet_pton(AF_INET6, addr, bin) != 1)
        return lv_error_set(err, LV_ERR_INVAL,
                            "invalid JID: domainpart is not a valid IPv6 address literal");
    *out = lv_xstrndup(s, len);
    return 0;
}

static int check_labels(const char *d, struct lv_error *err)
{
    size_t len = strlen(d);
    if (d[0] == '.' || d[len - 1] == '.' || strstr(d, "..") != NULL)
        return lv_error_set(err, LV_ERR_INVAL, "invalid JID: domainpart has an empty label");
    return 0;
}

static int prepare_domain(const char *s, size_t len, char **out, struct lv_error *err)
{
    int rc;
    /* RFC 7622 §3.2: a trailing label separator is stripped ("example.com."
     * is "example.com"); only one, so that "a.." stays invalid. */
    if (len > 0 && s[len - 1] == '.')
        len--;
    rc = check_length(&domain_rule, len, "", err);
    if (rc != 0)
        return rc;
    if (s[0] == '[')
        return prepare_ip_literal(s, len, out, err);
    rc = prepare_part(&domain_rule, s, len, out, err);
    if (rc == 0 && (rc = check_labels(*out, err)) != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- parse ---- */

/* RFC 7622 §3.1: the resourcepart is everything after the first '/', the
 * localpart what precedes the first '@' before it. A part is present as soon
 * as its separator is, so "@d", "u@" and "d/" have an empty (invalid) part. */
static int parse_parts(const char *s, size_t len, struct lv_jid *out, struct lv_error *err)
{
    const char *slash = memchr(s, '/', len);
    size_t head_len = slash ? (size_t)(slash - s) : len;
    const char *at = memchr(s, '@', head_len);
    const char *dom = at ? at + 1 : s;
    int rc;

    if (at && (rc = prepare_part(&local_rule, s, (size_t)(at - s), &out->local, err)) != 0)
        return rc;
    rc = prepare_domain(dom, head_len - (size_t)(dom - s), &out->domain, err);
    if (rc != 0)
        return rc;
    if (slash)
        return prepare_part(&resource_rule, slash + 1, len - head_len - 1, &out->resource, err);
    return 0;
}

int lv_jid_parse(const char *s, size_t len, struct lv_jid *out, struct lv_error *err)
{
    int rc;
    memset(out, 0, sizeof(*out));
    if (!s)
        return lv_error_set(err, LV_ERR_INVAL, "invalid JID: no string");
    rc = check_utf8(s, len, err);
    if (rc == 0)
        rc = parse_parts(s, len, out, err);
    if (rc != 0)
        lv_jid_release(out);
    return rc;
}

int lv_jid_parse_str(const char *s, struct lv_jid *out, struct lv_error *err)
{
    return lv_jid_parse(s, s ? strlen(s) : 0, out, err);
}

void lv_jid_release(struct lv_jid *j)
{
    if (!j)
        return;
    free(j->local);
    free(j->domain);
    free(j->resource);
    memset(j, 0, sizeof(*j));
}

static char *dup_or_null(const char *s)
{
    return s ? lv_xstrdup(s) : NULL;
}

void lv_jid_copy(struct lv_jid *out, const struct lv_jid *in)
{
    out->local = dup_or_null(in->local);
    out->domain = dup_or_null(in->domain);
    out->resource = dup_or_null(in->resource);
}

/* ---- formatting and comparison ---- */

static void add_bare(struct lv_buf *b, const struct lv_jid *j)
{
    if (j->local) {
        lv_buf_adds(b, j->local);
        lv_buf_addc(b, '@');
    }
    /* A released or zeroed JID has no domain; give "" rather than crash. */
    if (j->domain)
        lv_buf_adds(b, j->domain);
}

char *lv_jid_full(const struct lv_jid *j)
{
    struct lv_buf b = LV_BUF_INIT;
    add_bare(&b, j);
    if (j->resource) {
        lv_buf_addc(&b, '/');
        lv_buf_adds(&b, j->resource);
    }
    return lv_buf_detach(&b);
}

char *lv_jid_bare(const struct lv_jid *j)
{
    struct lv_buf b = LV_BUF_INIT;
    add_bare(&b, j);
    return lv_buf_detach(&b);
}

/* Parts are stored normalised, so byte equality is JID equality. */
static bool part_equal(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool lv_jid_bare_equal(const struct lv_jid *a, const struct lv_jid *b)
{
    return part_equal(a->local, b->local) && part_equal(a->domain, b->domain);
}

bool lv_jid_equal(const struct lv_jid *a, const struct lv_jid *b)
{
    return lv_jid_bare_equal(a, b) && part_equal(a->resource, b->resource);
}

char *lv_jid_normalize(const char *s, bool bare)
{
    struct lv_jid j;
    char *r;
    if (lv_jid_parse_str(s, &j, NULL) != 0)
        return NULL;
    r = bare ? lv_jid_bare(&j) : lv_jid_full(&j);
    lv_jid_release(&j);
    return r;
}

/* ---- XEP-0106 ---- */

/* The ten characters with an escape sequence; each one's sequence is its
 * ASCII code in two lower-case hex digits ("@" is \40). */
static const char escaped_chars[] = " \"&'/:<>@\\";

static bool is_escaped_char(int c)
{
    return c != '\0' && strchr(escaped_chars, c) != NULL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Returns the character that the sequence at s[0..len) ("\XX...") stands
 * for, or -1 when it is not one of the ten sequences. */
static int decode_sequence(const char *s, size_t len)
{
    int hi, lo;
    if (len < 3 || s[0] != '\\')
        return -1;
    hi = hex_value(s[1]);
    lo = hex_value(s[2]);
    if (hi < 0 || lo < 0 || !is_escaped_char(hi * 16 + lo))
        return -1;
    return hi * 16 + lo;
}

char *lv_xep0106_escape(const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    struct lv_buf b = LV_BUF_INIT;
    /* A NUL could not survive in the returned C string: truncating would map
     * two different remote names to one JID, so refuse instead. */
    if (!s || memchr(s, '\0', len))
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_escaped_char(c)) {
            lv_buf_addc(&b, (char)c);
            continue;
        }
        /* Always escaping '\' (as the reference does) keeps the mapping
         * injective without looking ahead. */
        lv_buf_addc(&b, '\\');
        lv_buf_addc(&b, hex[c >> 4]);
        lv_buf_addc(&b, hex[c & 0xf]);
    }
    return lv_buf_detach(&b);
}

char *lv_xep0106_unescape(const char *s, size_t len)
{
    struct lv_buf b = LV_BUF_INIT;
    if (!s || memchr(s, '\0', len))
        return NULL;
    for (size_t i = 0; i < len;) {
        int c = decode_sequence(s + i, len - i);
        if (c < 0) {
            /* XEP-0106 §4.3: other backslashes are left alone. */
            lv_buf_addc(&b, s[i++]);
            continue;
        }
        lv_buf_addc(&b, (char)c);
        i += 3;
    }
    return lv_buf_detach(&b);
}
