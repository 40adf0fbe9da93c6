/* Unit tests for lv_jid: RFC 7622 parsing/normalisation and XEP-0106. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/lv_mem.h"
#include "xmpp/lv_jid.h"

/* ---- helpers ---- */

/* String comparison where either may be NULL, failing with the test row so
 * that a table failure says which case broke. */
static void expect_str(const char *row, const char *what, const char *got, const char *want)
{
    if (!got && !want)
        return;
    if (!got || !want || strcmp(got, want) != 0)
        fail_msg("[%s] %s: got \"%s\", want \"%s\"", row, what, got ? got : "(null)",
                 want ? want : "(null)");
}

static void parse_ok(const char *s, struct lv_jid *j)
{
    struct lv_error err = {0};
    int rc = lv_jid_parse_str(s, j, &err);
    if (rc != 0)
        fail_msg("[%s] parse failed: %s", s, err.msg);
}

static char *repeat(const char *unit, size_t n)
{
    size_t ulen = strlen(unit);
    char *s = lv_xmalloc(ulen * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * ulen, unit, ulen);
    s[ulen * n] = '\0';
    return s;
}

/* xorshift32: a fixed, libc-independent sequence for the random tests. */
static uint32_t rng_next(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* ---- parsing: valid JIDs ---- */

struct valid_case {
    const char *in;
    const char *local, *domain, *resource;
};

static const struct valid_case valid_cases[] = {
    {"example.com", NULL, "example.com", NULL},
    {"user@example.com", "user", "example.com", NULL},
    {"user@example.com/res", "user", "example.com", "res"},
    /* localpart and domain fold case, the resource keeps it */
    {"User@Example.COM/Res", "user", "example.com", "Res"},
    {"Ünïcödé@example.com", "ünïcödé", "example.com", NULL},
    /* decomposed input is composed (NFC) before folding */
    {"U\u0308nic\u0327@example.com", "\u00fcni\u00e7", "example.com", NULL},
    /* full case folding, not just lower-casing */
    {"Straße@example.com", "strasse", "example.com", NULL},
    {"ΣΑΣ@example.com", "σασ", "example.com", NULL},
    {"\u212a@example.com", "k", "example.com", NULL}, /* KELVIN SIGN */
    {"user@ÉXAMPLE.com", "user", "éxample.com", NULL},
    /* trailing dot of the domain is dropped */
    {"user@EXAMPLE.com.", "user", "example.com", NULL},
    {"example.com./r", NULL, "example.com", "r"},
    /* IP literals */
    {"user@[::1]/r", "user", "[::1]", "r"},
    {"[2001:DB8::1]", NULL, "[2001:DB8::1]", NULL},
    {"127.0.0.1", NULL, "127.0.0.1", NULL},
    {"under_score-dash.example", NULL, "under_score-dash.example", NULL},
    /* the resource is everything after the first '/' */
    {"a@b/c/d@e", "a", "b", "c/d@e"},
    {"b/a@c", NULL, "b", "a@c"},
    {"a@b/ Spaced Res ", "a", "b", " Spaced Res "},
    {"a@b/e\u0301", "a", "b", "\u00e9"},
    {"a@b/☃ 🎉", "a", "b", "☃ 🎉"},
    /* XEP-0106-escaped localparts are plain valid localparts */
    {"toto\\40mastodon.social@gateway.example", "toto\\40mastodon.social", "gateway.example", NULL},
    {"d\\27artagnan@musketeers.lit", "d\\27artagnan", "musketeers.lit", NULL},
};

static void test_parse_valid(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(valid_cases); i++) {
        const struct valid_case *c = &valid_cases[i];
        struct lv_jid j;
        parse_ok(c->in, &j);
        expect_str(c->in, "local", j.local, c->local);
        expect_str(c->in, "domain", j.domain, c->domain);
        expect_str(c->in, "resource", j.resource, c->resource);
        lv_jid_release(&j);
    }
}

/* ---- parsing: invalid JIDs ---- */

struct invalid_case {
    const char *in;
    size_t len;         /* 0: strlen(in) */
    const char *part;   /* must appear in err.msg */
    const char *reason; /* must appear in err.msg */
};

static const struct invalid_case invalid_cases[] = {
    {"", 0, "domainpart", "empty"},
    {"@example.com", 0, "localpart", "empty"},
    {"user@", 0, "domainpart", "empty"},
    {"example.com/", 0, "resourcepart", "empty"},
    {"user@/res", 0, "domainpart", "empty"},
    {"user@.", 0, "domainpart", "empty"},
    {"/res", 0, "domainpart", "empty"},
    /* localpart forbidden characters (RFC 7622 §3.3.1) */
    {"us er@example.com", 0, "localpart", "forbidden"},
    {"us\"er@example.com", 0, "localpart", "forbidden"},
    {"us&er@example.com", 0, "localpart", "forbidden"},
    {"us'er@example.com", 0, "localpart", "forbidden"},
    {"us:er@example.com", 0, "localpart", "forbidden"},
    {"us<er@example.com", 0, "localpart", "forbidden"},
    {"us>er@example.com", 0, "localpart", "forbidden"},
    {"us\ter@example.com", 0, "localpart", "forbidden"},
    {"us\u00a0er@example.com", 0, "localpart", "forbidden"}, /* NBSP */
    {"us\u200ber@example.com", 0, "localpart", "forbidden"}, /* zero width space */
    {"us\u0378er@example.com", 0, "localpart", "unassigned"},
    /* a second '@' lands in the domainpart, which refuses it */
    {"user@host@example.com", 0, "domainpart", "forbidden"},
    {"user@exa mple.com", 0, "domainpart", "forbidden"},
    {"user@exa\x01mple.com", 0, "domainpart", "forbidden"},
    {"user@example.com:5222", 0, "domainpart", "forbidden"},
    {"user@a..b", 0, "domainpart", "empty label"},
    {"user@.a", 0, "domainpart", "empty label"},
    {"user@a..", 0, "domainpart", "empty label"},
    {"user@[::1", 0, "domainpart", "IPv6"},
    {"user@[not-an-ip]", 0, "domainpart", "IPv6"},
    {"user@[1.2.3.4]", 0, "domainpart", "IPv6"},
    {"user@[]", 0, "domainpart", "IPv6"},
    {"a@b/res\x01", 0, "resourcepart", "forbidden"},
    {"a@b/res\x7f", 0, "resourcepart", "forbidden"},
    {"a@b/res\u0378", 0, "resourcepart", "unassigned"},
    /* the whole input must be valid UTF-8 without NUL */
    {"\xff@example.com", 0, "UTF-8", "byte 0"},
    {"a@b/\xc3", 0, "UTF-8", "byte 4"},
    {"a@b/\xc0\xaf", 0, "UTF-8", "valid"},         /* overlong '/' */
    {"a\xed\xa0\x80@b", 0, "UTF-8", "valid"},      /* surrogate */
    {"a@b/\xf4\x90\x80\x80", 0, "UTF-8", "valid"}, /* > U+10FFFF */
    {"a\0b@example.com", 15, "NUL", "byte 1"},
    {"a@example.com/r\0", 16, "NUL", "byte 15"},
};

static void test_parse_invalid(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(invalid_cases); i++) {
        const struct invalid_case *c = &invalid_cases[i];
        struct lv_error err = {0};
        struct lv_jid j;
        size_t len = c->len ? c->len : strlen(c->in);
        int rc = lv_jid_parse(c->in, len, &j, &err);
        if (rc != LV_ERR_INVAL)
            fail_msg("[%s] rc = %d, want LV_ERR_INVAL", c->in, rc);
        if (!strstr(err.msg, c->part) || !strstr(err.msg, c->reason))
            fail_msg("[%s] message \"%s\" lacks \"%s\"/\"%s\"", c->in, err.msg, c->part, c->reason);
        /* out is left empty on error: releasing it again is harmless */
        assert_null(j.local);
        assert_null(j.domain);
        assert_null(j.resource);
        lv_jid_release(&j);
    }
}

static void test_parse_null(void **state)
{
    struct lv_error err = {0};
    struct lv_jid j;
    assert_int_equal(lv_jid_parse_str(NULL, &j, &err), LV_ERR_INVAL);
    assert_null(j.domain);
    /* err is optional */
    assert_int_equal(lv_jid_parse_str("@x", &j, NULL), LV_ERR_INVAL);
    lv_jid_release(NULL);
}

/* ---- part lengths ---- */

/* Builds a JID whose part `which` (0 local, 1 domain, 2 resource) is n 'a's. */
static char *jid_with_part(int which, size_t n)
{
    char *p = repeat("a", n);
    char *s = which == 0   ? lv_xasprintf("%s@example.com/r", p)
              : which == 1 ? lv_xasprintf("u@%s/r", p)
                           : lv_xasprintf("u@example.com/%s", p);
    free(p);
    return s;
}

static void test_part_lengths(void **state)
{
    static const char *const names[] = {"localpart", "domainpart", "resourcepart"};
    for (int which = 0; which < 3; which++) {
        struct lv_error err = {0};
        struct lv_jid j;
        char *ok = jid_with_part(which, LV_JID_PART_MAX);
        char *bad = jid_with_part(which, LV_JID_PART_MAX + 1);
        parse_ok(ok, &j);
        lv_jid_release(&j);
        assert_int_equal(lv_jid_parse_str(bad, &j, &err), LV_ERR_INVAL);
        assert_non_null(strstr(err.msg, names[which]));
        assert_non_null(strstr(err.msg, "1023"));
        free(ok);
        free(bad);
    }
}

/* The trailing dot does not count, and the limit also holds after case
 * folding, which can make a part longer. */
static void test_part_lengths_normalised(void **state)
{
    struct lv_error err = {0};
    struct lv_jid j;
    char *p = repeat("a", LV_JID_PART_MAX);
    char *s = lv_xasprintf("u@%s.", p);
    parse_ok(s, &j);
    assert_int_equal(strlen(j.domain), LV_JID_PART_MAX);
    lv_jid_release(&j);
    free(s);
    free(p);

    /* U+0149 (2 bytes) folds to U+02BC U+006E (3 bytes): 800 -> 1200 bytes */
    p = repeat("\u0149", 400);
    s = lv_xasprintf("%s@example.com", p);
    assert_int_equal(lv_jid_parse_str(s, &j, &err), LV_ERR_INVAL);
    assert_non_null(strstr(err.msg, "localpart"));
    assert_non_null(strstr(err.msg, "after normalisation"));
    free(s);
    free(p);

    /* 'ß' folds to "ss": same byte length, so 511 of them fit */
    p = repeat("ß", 511);
    s = lv_xasprintf("%s@example.com", p);
    parse_ok(s, &j);
    assert_int_equal(strlen(j.local), 1022);
    lv_jid_release(&j);
    free(s);
    free(p);
}

/* ---- equality ---- */

struct equal_case {
    const char *a, *b;
    bool equal, bare_equal;
};

static const struct equal_case equal_cases[] = {
    {"User@Example.com/r", "user@example.com/r", true, true},
    {"user@example.com/R", "user@example.com/r", false, true},
    {"user@example.com", "user@example.com/r", false, true},
    {"user@example.com.", "USER@EXAMPLE.COM", true, true},
    {"a@example.com", "b@example.com", false, false},
    {"example.com", "user@example.com", false, false},
    {"example.com", "example.org", false, false},
    {"Ünïcödé@x", "U\u0308n\u0131\u0308co\u0308de\u0301@x", false, false},
    {"Ünïcödé@x", "U\u0308ni\u0308co\u0308de\u0301@x", true, true},
    {"a@b/\u00e9", "a@b/e\u0301", true, true},
    {"a@b/\u00e9", "a@b/\u00c9", false, true},
};

static void test_equal(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(equal_cases); i++) {
        const struct equal_case *c = &equal_cases[i];
        struct lv_jid a, b;
        parse_ok(c->a, &a);
        parse_ok(c->b, &b);
        if (lv_jid_equal(&a, &b) != c->equal || lv_jid_equal(&b, &a) != c->equal)
            fail_msg("[%s] vs [%s]: equal should be %d", c->a, c->b, c->equal);
        if (lv_jid_bare_equal(&a, &b) != c->bare_equal)
            fail_msg("[%s] vs [%s]: bare_equal should be %d", c->a, c->b, c->bare_equal);
        assert_true(lv_jid_equal(&a, &a));
        lv_jid_release(&a);
        lv_jid_release(&b);
    }
}

/* ---- full / bare / normalize / copy ---- */

struct string_case {
    const char *in, *full, *bare;
};

static const struct string_case string_cases[] = {
    {"example.com", "example.com", "example.com"},
    {"Example.com./Res", "example.com/Res", "example.com"},
    {"User@Example.com", "user@example.com", "user@example.com"},
    {"User@Example.com/Res/x", "user@example.com/Res/x", "user@example.com"},
    {"Ünïcödé@ÉXAMPLE.com/Ré", "ünïcödé@éxample.com/Ré", "ünïcödé@éxample.com"},
    {"u@[::1]/r", "u@[::1]/r", "u@[::1]"},
};

static void test_full_bare(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(string_cases); i++) {
        const struct string_case *c = &string_cases[i];
        struct lv_jid j;
        char *full, *bare;
        parse_ok(c->in, &j);
        full = lv_jid_full(&j);
        bare = lv_jid_bare(&j);
        expect_str(c->in, "full", full, c->full);
        expect_str(c->in, "bare", bare, c->bare);
        free(full);
        free(bare);
        lv_jid_release(&j);
    }
}

struct normalize_case {
    const char *in;
    bool bare;
    const char *want; /* NULL: invalid */
};

static const struct normalize_case normalize_cases[] = {
    {"User@Example.COM./Res", false, "user@example.com/Res"},
    {"User@Example.COM./Res", true, "user@example.com"},
    {"Example.COM", true, "example.com"},
    {"Straße@x/y", false, "strasse@x/y"},
    {"@example.com", false, NULL},
    {"a b@example.com", true, NULL},
    {"", true, NULL},
    {NULL, true, NULL},
};

static void test_normalize(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(normalize_cases); i++) {
        const struct normalize_case *c = &normalize_cases[i];
        char *got = lv_jid_normalize(c->in, c->bare);
        expect_str(c->in ? c->in : "(null)", "normalize", got, c->want);
        free(got);
    }
}

static void test_copy(void **state)
{
    struct lv_jid a, b, c;
    parse_ok("User@Example.com/Res", &a);
    lv_jid_copy(&b, &a);
    assert_true(lv_jid_equal(&a, &b));
    assert_ptr_not_equal(a.local, b.local);
    lv_jid_release(&a);
    expect_str("copy", "local", b.local, "user"); /* b outlives a */
    lv_jid_release(&b);

    parse_ok("example.com", &a);
    lv_jid_copy(&c, &a);
    assert_null(c.local);
    assert_null(c.resource);
    assert_true(lv_jid_equal(&a, &c));
    lv_jid_release(&a);
    lv_jid_release(&c);
}

/* ---- XEP-0106 ---- */

struct xep_case {
    const char *unescaped, *escaped;
};

/* Examples where the XEP and our escaping agree, checked both ways. */
static const struct xep_case xep_cases[] = {
    /* §5.1 "JID Examples" (localparts of rows 1-12) */
    {"space cadet", "space\\20cadet"},
    {"call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22"},
    {"at&t guy", "at\\26t\\20guy"},
    {"d'artagnan", "d\\27artagnan"},
    {"/.fanboy", "\\2f.fanboy"},
    {"::foo::", "\\3a\\3afoo\\3a\\3a"},
    {"<foo>", "\\3cfoo\\3e"},
    {"user@host", "user\\40host"},
    {"c:\\net", "c\\3a\\5cnet"},
    {"c:\\\\net", "c\\3a\\5c\\5cnet"},
    {"c:\\cool stuff", "c\\3a\\5ccool\\20stuff"},
    {"c:\\5commas", "c\\3a\\5c5commas"},
    /* §3.3 and §5.2-5.4 (email, SIP, im:/pres:) */
    {"treville@musketeers.lit", "treville\\40musketeers.lit"},
    {"here's_a_wild_&_/cr%zy/_address", "here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address"},
    /* §5.5 IMPS */
    {"here's_a_wild_&_/cr%zy/_address_for:<wv>(\"IMPS\")",
     "here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address_for\\3a\\3cwv\\3e(\\22IMPS\\22)"},
    /* §5.7 IRC */
    {"somenick!user\"&'/:<>\\3address", "somenick!user\\22\\26\\27\\2f\\3a\\3c\\3e\\5c3address"},
    /* the gateway mapping the reference does */
    {"toto@mastodon.social", "toto\\40mastodon.social"},
    {"", ""},
    {"plain", "plain"},
    {"café", "café"},
};

static void test_xep0106_examples(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(xep_cases); i++) {
        const struct xep_case *c = &xep_cases[i];
        char *e = lv_xep0106_escape(c->unescaped, strlen(c->unescaped));
        char *u = lv_xep0106_unescape(c->escaped, strlen(c->escaped));
        expect_str(c->unescaped, "escape", e, c->escaped);
        expect_str(c->escaped, "unescape", u, c->unescaped);
        free(e);
        free(u);
    }
}

/* §5.1's "Escaped JID" column: our escaped localpart plus the domain parses
 * to exactly the XEP's wire JID. */
static void test_xep0106_jid_column(void **state)
{
    for (size_t i = 0; i < 12; i++) {
        const struct xep_case *c = &xep_cases[i];
        char *e = lv_xep0106_escape(c->unescaped, strlen(c->unescaped));
        char *s = lv_xasprintf("%s@example.com", e);
        struct lv_jid j;
        char *full;
        parse_ok(s, &j);
        full = lv_jid_full(&j);
        expect_str(c->unescaped, "wire JID", full, s);
        free(full);
        lv_jid_release(&j);
        free(s);
        free(e);
    }
}

struct xep_diff_case {
    const char *unescaped;
    const char *xep_escaped; /* what XEP-0106 gives */
    const char *our_escaped; /* what we (and the reference) give */
};

/* XEP-0106 escapes a backslash only when it starts an escape sequence (§4.1
 * rule 7, §4.2 step 3, §4.3): these examples rely on that. We always escape
 * it as \5c (documented in lv_jid.h), so our escaped form differs, but both
 * forms unescape to the same input: our unescape reads the XEP's output. */
static const struct xep_diff_case xep_diff_cases[] = {
    /* §4.2 / §5.5: the XEP keeps "\2is" since \2i is not a sequence */
    {"\\3and\\2is\\5cool", "\\5c3and\\2is\\5c5cool", "\\5c3and\\5c2is\\5c5cool"},
    /* §4.3 Exceptions: "not modified by escaping or unescaping" */
    {"\\2plus\\2is\\4", "\\2plus\\2is\\4", "\\5c2plus\\5c2is\\5c4"},
    {"foo\\bar", "foo\\bar", "foo\\5cbar"},
    {"foob\\41r", "foob\\41r", "foob\\5c41r"},
    /* §5.6 LDAP: "\E9" is kept by the XEP */
    {"CN=D'Artagnan Saint-Andr\\E9,O=Example & Company, Inc.,DC=example,DC=com",
     "CN=D\\27Artagnan\\20Saint-Andr\\E9,O=Example\\20\\26\\20Company,\\20Inc.,DC=example,DC=com",
     "CN=D\\27Artagnan\\20Saint-Andr\\5cE9,O=Example\\20\\26\\20Company,\\20Inc.,DC=example,DC="
     "com"},
};

static void test_xep0106_backslash_differences(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(xep_diff_cases); i++) {
        const struct xep_diff_case *c = &xep_diff_cases[i];
        char *e = lv_xep0106_escape(c->unescaped, strlen(c->unescaped));
        char *u1 = lv_xep0106_unescape(e, strlen(e));
        char *u2 = lv_xep0106_unescape(c->xep_escaped, strlen(c->xep_escaped));
        expect_str(c->unescaped, "escape", e, c->our_escaped);
        expect_str(c->unescaped, "unescape(ours)", u1, c->unescaped);
        expect_str(c->unescaped, "unescape(XEP's)", u2, c->unescaped);
        free(e);
        free(u1);
        free(u2);
    }
}

/* Unescape only: hex in either case, and anything that is not one of the ten
 * sequences is kept as is (§4.1 rule 3, §4.3). */
static const struct xep_case unescape_cases[] = {
    {"/:\\@", "\\2F\\3A\\5C\\40"},
    {"\"&'<>", "\\22\\26\\27\\3C\\3E"},
    {"\\5c", "\\5c5c"},
    {"trailing\\", "trailing\\"},
    {"\\2", "\\2"},
    {"\\g0", "\\g0"},
    {"\\00", "\\00"},
    {"\\41", "\\41"},
    {"\\7e", "\\7e"},
    {"\\ ", "\\\\20"},
    {"café@x", "café\\40x"},
    /* unescape does not enforce the XEP's "no \20 at the ends" rule */
    {" foo ", "\\20foo\\20"},
};

static void test_xep0106_unescape(void **state)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(unescape_cases); i++) {
        const struct xep_case *c = &unescape_cases[i];
        char *u = lv_xep0106_unescape(c->escaped, strlen(c->escaped));
        expect_str(c->escaped, "unescape", u, c->unescaped);
        free(u);
    }
}

static void test_xep0106_edges(void **state)
{
    char *s;
    /* XEP-0106 forbids \20 at the ends of a localpart; we still escape the
     * spaces (documented) so that the mapping stays reversible. */
    s = lv_xep0106_escape(" foo ", 5);
    expect_str(" foo ", "escape", s, "\\20foo\\20");
    free(s);
    /* a NUL could not be represented: refused rather than truncated */
    assert_null(lv_xep0106_escape("a\0b", 3));
    assert_null(lv_xep0106_unescape("a\0b", 3));
    assert_null(lv_xep0106_escape(NULL, 0));
    assert_null(lv_xep0106_unescape(NULL, 0));
    /* only len bytes are read */
    s = lv_xep0106_escape("a@bc", 2);
    expect_str("a@bc[0..2)", "escape", s, "a\\40");
    free(s);
    s = lv_xep0106_unescape("\\40", 2);
    expect_str("\\4", "unescape", s, "\\4");
    free(s);
}

/* Random strings over an alphabet rich in backslashes and hex digits:
 * unescape(escape(x)) == x, and escape(x) holds none of the ten characters
 * except backslashes that start a sequence. */
static void random_string(uint32_t *rng, char *buf, size_t *len)
{
    static const char alphabet[] = "\\\\\\\\0123456789abcdefABCDEF \"&'/:<>@xyz";
    *len = rng_next(rng) % 40;
    for (size_t i = 0; i < *len; i++) {
        uint32_t r = rng_next(rng);
        if (r % 8 == 0)
            buf[i] = (char)(1 + (r >> 8) % 255); /* any byte but NUL */
        else
            buf[i] = alphabet[(r >> 8) % (sizeof(alphabet) - 1)];
    }
    buf[*len] = '\0';
}

static void check_escaped_shape(const char *e)
{
    for (const char *p = e; *p; p++) {
        assert_null(strchr(" \"&'/:<>@", *p));
        if (*p == '\\')
            assert_non_null(strchr("2345", p[1]));
    }
}

static void test_xep0106_roundtrip_random(void **state)
{
    uint32_t rng = 0x5eed1234u;
    char buf[64];
    for (int n = 0; n < 5000; n++) {
        size_t len;
        char *e, *u;
        random_string(&rng, buf, &len);
        e = lv_xep0106_escape(buf, len);
        assert_non_null(e);
        check_escaped_shape(e);
        u = lv_xep0106_unescape(e, strlen(e));
        assert_int_equal(strlen(u), len);
        assert_memory_equal(u, buf, len);
        free(e);
        free(u);
    }
}

/* Escaping any printable ASCII name gives a valid localpart that reads back
 * as the (case-folded) name: what the gateway relies on. */
static void test_xep0106_escape_gives_localpart(void **state)
{
    uint32_t rng = 42;
    char buf[48];
    for (int n = 0; n < 2000; n++) {
        size_t len = 1 + rng_next(&rng) % 40;
        struct lv_jid j;
        char *e, *s, *u;
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)(0x20 + rng_next(&rng) % 95);
        buf[len] = '\0';
        e = lv_xep0106_escape(buf, len);
        s = lv_xasprintf("%s@gateway.example", e);
        parse_ok(s, &j);
        u = lv_xep0106_unescape(j.local, strlen(j.local));
        for (size_t i = 0; i < len; i++)
            if (buf[i] >= 'A' && buf[i] <= 'Z')
                buf[i] = (char)(buf[i] - 'A' + 'a');
        expect_str(s, "unescaped localpart", u, buf);
        free(u);
        lv_jid_release(&j);
        free(s);
        free(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_null),
        cmocka_unit_test(test_part_lengths),
        cmocka_unit_test(test_part_lengths_normalised),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_full_bare),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_xep0106_examples),
        cmocka_unit_test(test_xep0106_jid_column),
        cmocka_unit_test(test_xep0106_backslash_differences),
        cmocka_unit_test(test_xep0106_unescape),
        cmocka_unit_test(test_xep0106_edges),
        cmocka_unit_test(test_xep0106_roundtrip_random),
        cmocka_unit_test(test_xep0106_escape_gives_localpart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
