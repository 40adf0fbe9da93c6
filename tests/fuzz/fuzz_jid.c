/* libFuzzer target for lv_jid: JID parsing and XEP-0106 escaping.
 *
 * Beyond "does not crash", it checks the properties other modules rely on:
 * - a parsed JID is stable: full() re-parses to an equal JID with the same
 *   string, and bare() parses to the same bare JID;
 * - lv_jid_normalize() agrees with parse + full/bare;
 * - unescape(escape(x)) == x for every x without NUL (escape refuses NUL);
 * - unescape never grows its input and takes any bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lv_mem.h"
#include "xmpp/lv_jid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_jid: property violated: %s\n", what);
        abort();
    }
}

static void check_reparse(const struct lv_jid *j)
{
    struct lv_jid j2, b;
    char *full = lv_jid_full(j);
    char *bare = lv_jid_bare(j);
    char *full2;
    struct lv_error err = {0};

    if (lv_jid_parse(full, strlen(full), &j2, &err) != 0) {
        fprintf(stderr, "fuzz_jid: full \"%s\" does not re-parse: %s\n", full, err.msg);
        abort();
    }
    check(lv_jid_equal(j, &j2), "full() re-parses to an equal JID");
    full2 = lv_jid_full(&j2);
    check(strcmp(full, full2) == 0, "full() is stable");
    check(lv_jid_parse_str(bare, &b, NULL) == 0, "bare() parses");
    check(b.resource == NULL && lv_jid_bare_equal(j, &b), "bare() keeps the bare JID");
    free(full2);
    lv_jid_release(&b);
    lv_jid_release(&j2);
    free(bare);
    free(full);
}

/* lv_jid_normalize() takes a C string: only inputs without NUL apply. */
static void check_normalize(const char *s, size_t size, const struct lv_jid *j)
{
    char *cstr, *norm;
    if (memchr(s, '\0', size))
        return;
    cstr = lv_xstrndup(s, size);
    norm = lv_jid_normalize(cstr, false);
    if (j) {
        char *full = lv_jid_full(j);
        check(norm && strcmp(norm, full) == 0, "normalize() == full()");
        free(full);
    } else {
        check(norm == NULL, "normalize() refuses what parse() refuses");
    }
    free(norm);
    free(cstr);
}

static void check_jid(const char *s, size_t size)
{
    struct lv_jid j;
    struct lv_error err = {0};
    int rc = lv_jid_parse(s, size, &j, &err);
    if (rc != 0) {
        check(rc == LV_ERR_INVAL && err.msg[0] != '\0', "errors are LV_ERR_INVAL with a message");
        check(j.local == NULL && j.domain == NULL && j.resource == NULL, "out empty on error");
        check_normalize(s, size, NULL);
        return;
    }
    check(j.domain != NULL, "domain set");
    check_reparse(&j);
    check_normalize(s, size, &j);
    lv_jid_release(&j);
}

static void check_escape(const char *s, size_t size)
{
    char *e = lv_xep0106_escape(s, size);
    char *u;
    if (memchr(s, '\0', size)) {
        check(e == NULL, "escape refuses NUL");
        return;
    }
    check(e != NULL, "escape succeeds without NUL");
    u = lv_xep0106_unescape(e, strlen(e));
    check(u != NULL && strlen(u) == size && memcmp(u, s, size) == 0, "unescape(escape(x)) == x");
    free(u);
    free(e);
}

static void check_unescape(const char *s, size_t size)
{
    char *u = lv_xep0106_unescape(s, size);
    if (u)
        check(strlen(u) <= size, "unescape does not grow");
    else
        check(memchr(s, '\0', size) != NULL, "unescape only refuses NUL");
    free(u);
}

/* utf8proc is not instrumented, so byte mutations rarely reach interesting
 * Unicode: this second view of the input turns it into valid UTF-8 over the
 * whole code space (ASCII bytes as is, 0x80-0xEF + 1 byte for U+0000-U+6FFF,
 * 0xF0-0xFF + 2 bytes for any code point), surrogates skipped. */
static size_t encode_cp(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static char *widen(const uint8_t *data, size_t size, size_t *out_len)
{
    char *out = lv_xmalloc(size * 4 + 1);
    size_t n = 0;
    for (size_t i = 0; i < size;) {
        uint32_t cp = data[i++];
        if (cp >= 0x80 && cp < 0xF0 && i < size)
            cp = (cp - 0x80) << 8 | data[i++];
        else if (cp >= 0xF0 && i + 1 < size) {
            cp = ((cp & 0x0F) << 16 | (uint32_t)data[i] << 8 | data[i + 1]) % 0x110000;
            i += 2;
        } else if (cp >= 0x80)
            continue;
        if (cp >= 0xD800 && cp < 0xE000)
            continue;
        n += encode_cp(cp, out + n);
    }
    *out_len = n;
    return out;
}

static void check_all(const char *s, size_t size)
{
    check_jid(s, size);
    check_escape(s, size);
    check_unescape(s, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t wlen;
    /* Copy so that a read past size is caught by ASan. */
    char *s = lv_xmalloc(size);
    char *w = widen(data, size, &wlen);
    if (size)
        memcpy(s, data, size);
    check_all(s, size);
    check_all(w, wlen);
    free(w);
    free(s);
    return 0;
}
