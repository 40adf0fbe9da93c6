/* Unit tests for the core containers and helpers: lv_buf, lv_map, lv_err and
 * lv_mem (lv_grow, lv_xasprintf, lv_xstrndup). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/lv_buf.h"
#include "core/lv_err.h"
#include "core/lv_map.h"
#include "core/lv_mem.h"

/* ---- helpers ---- */

static char *repeat_char(char c, size_t n)
{
    char *s = lv_xmalloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Checks the buffer's invariants: len within cap, NUL right after the
 * content. */
static void check_buf(const struct lv_buf *b)
{
    if (!b->data) {
        assert_int_equal(b->len, 0);
        return;
    }
    assert_true(b->len < b->cap);
    assert_int_equal(b->data[b->len], '\0');
}

static void *ptr(size_t i)
{
    return (void *)(uintptr_t)(i + 1);
}

/* ---- lv_buf ---- */

static void test_buf_init_empty(void **state)
{
    (void)state;
    struct lv_buf a = LV_BUF_INIT, b;
    lv_buf_init(&b);
    assert_null(a.data);
    assert_int_equal(a.len, 0);
    assert_int_equal(a.cap, 0);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    /* releasing, resetting and consuming a never-used buffer are harmless */
    lv_buf_reset(&b);
    lv_buf_consume(&b, 0);
    lv_buf_consume(&b, 10);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    lv_buf_release(&b);
    assert_null(b.data);
}

static void test_buf_add_variants(void **state)
{
    (void)state;
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_add(&b, "abc", 3);
    check_buf(&b);
    lv_buf_adds(&b, "def");
    lv_buf_addc(&b, 'g');
    lv_buf_addf(&b, "-%d-%s-%c", 42, "x", 'y');
    lv_buf_add(&b, "ignored", 0);
    lv_buf_adds(&b, "");
    check_buf(&b);
    assert_int_equal(b.len, strlen("abcdefg-42-x-y"));
    assert_string_equal(b.data, "abcdefg-42-x-y");
    lv_buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_buf_add_zero_on_empty(void **state)
{
    (void)state;
    /* An empty append still yields a valid C string. */
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_add(&b, "", 0);
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    lv_buf_release(&b);

    lv_buf_addf(&b, "%s", "");
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    lv_buf_release(&b);
}

static void test_buf_addf_long(void **state)
{
    (void)state;
    /* Longer than the first allocation (64 bytes), both into an empty
     * buffer and on top of existing content, so that the formatted output
     * has to cross a growth boundary. */
    char *big = repeat_char('x', 300);
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_addf(&b, "<%s>", big);
    check_buf(&b);
    assert_int_equal(b.len, 302);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[301], '>');
    assert_memory_equal(b.data + 1, big, 300);

    lv_buf_reset(&b);
    lv_buf_adds(&b, "0123456789012345678901234567890123456789012345678901234567"); /* 58 */
    lv_buf_addf(&b, "%s|%d|%s", "abcdefghij", 123456789, "klmnopqrstuvwxyz");
    check_buf(&b);
    assert_string_equal(b.data, "0123456789012345678901234567890123456789012345678901234567"
                                "abcdefghij|123456789|klmnopqrstuvwxyz");

    /* Many small formatted appends: content accumulates exactly. */
    lv_buf_reset(&b);
    for (int i = 0; i < 1000; i++)
        lv_buf_addf(&b, "%04d,", i);
    check_buf(&b);
    assert_int_equal(b.len, 5000);
    assert_memory_equal(b.data, "0000,0001,", 10);
    assert_memory_equal(b.data + 4995, "0999,", 5);
    lv_buf_release(&b);
    free(big);
}

static void vaddf_helper(struct lv_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void vaddf_helper(struct lv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lv_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

static void test_buf_vaddf(void **state)
{
    (void)state;
    struct lv_buf b = LV_BUF_INIT;
    char *big = repeat_char('q', 200);
    vaddf_helper(&b, "[%s][%zu]", big, (size_t)200);
    check_buf(&b);
    assert_int_equal(b.len, 200 + 2 + 5);
    assert_memory_equal(b.data + 202, "[200]", 5);
    lv_buf_release(&b);
    free(big);
}

static void test_buf_nul_bytes(void **state)
{
    (void)state;
    /* len is authoritative: embedded NULs are content, not terminators. */
    static const char raw[] = {'a', '\0', 'b', '\0', '\0', 'c'};
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_add(&b, raw, sizeof(raw));
    lv_buf_addc(&b, '\0');
    lv_buf_adds(&b, "z");
    check_buf(&b);
    assert_int_equal(b.len, sizeof(raw) + 2);
    assert_memory_equal(b.data, raw, sizeof(raw));
    assert_int_equal(b.data[6], '\0');
    assert_int_equal(b.data[7], 'z');
    assert_int_equal(strlen(b.data), 1);

    /* consuming past a NUL keeps the rest intact */
    lv_buf_consume(&b, 2);
    assert_int_equal(b.len, sizeof(raw));
    assert_memory_equal(b.data, "b\0\0c\0z", 6);
    check_buf(&b);

    /* detach hands back all bytes, NULs included */
    size_t len = b.len;
    char *s = lv_buf_detach(&b);
    assert_memory_equal(s, "b\0\0c\0z", len);
    assert_int_equal(s[len], '\0');
    free(s);
}

static void test_buf_consume(void **state)
{
    (void)state;
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "hello world");
    char *data = b.data;

    lv_buf_consume(&b, 0);
    assert_string_equal(b.data, "hello world");
    assert_int_equal(b.len, 11);

    lv_buf_consume(&b, 6); /* partial */
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "world");
    check_buf(&b);

    lv_buf_consume(&b, 5); /* exactly all */
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_ptr_equal(b.data, data);

    lv_buf_adds(&b, "abc");
    lv_buf_consume(&b, 1000); /* more than there is: clamped */
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    check_buf(&b);

    lv_buf_adds(&b, "xyz");
    lv_buf_consume(&b, SIZE_MAX);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");

    /* still usable afterwards */
    lv_buf_adds(&b, "again");
    assert_string_equal(b.data, "again");
    lv_buf_release(&b);
}

static void test_buf_consume_large(void **state)
{
    (void)state;
    /* A large buffer consumed in chunks: each step keeps exactly the tail. */
    struct lv_buf b = LV_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        lv_buf_addc(&b, (char)('a' + i % 26));
    size_t off = 0;
    while (b.len > 0) {
        size_t n = b.len < 37 ? b.len : 37;
        lv_buf_consume(&b, n);
        off += n;
        check_buf(&b);
        if (b.len > 0)
            assert_int_equal(b.data[0], 'a' + (int)(off % 26));
        assert_int_equal(b.len, 1000 - off);
    }
    lv_buf_release(&b);
}

static void test_buf_reset_keeps_allocation(void **state)
{
    (void)state;
    struct lv_buf b = LV_BUF_INIT;
    char *big = repeat_char('r', 500);
    lv_buf_adds(&b, big);
    char *data = b.data;
    size_t cap = b.cap;
    assert_true(cap > 500);

    lv_buf_reset(&b);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");

    /* refilling up to the old size does not reallocate */
    lv_buf_adds(&b, big);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 500);
    lv_buf_release(&b);
    free(big);
}

static void test_buf_detach(void **state)
{
    (void)state;
    /* never used: a fresh, freeable "" */
    struct lv_buf b = LV_BUF_INIT;
    char *s = lv_buf_detach(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);

    /* with content: the caller gets it, the buffer is left empty */
    lv_buf_adds(&b, "payload");
    s = lv_buf_detach(&b);
    assert_string_equal(s, "payload");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);

    /* and is reusable without touching the detached string */
    lv_buf_adds(&b, "next");
    assert_string_equal(b.data, "next");
    assert_string_equal(s, "payload");
    free(s);
    s = lv_buf_detach(&b);
    assert_string_equal(s, "next");
    free(s);

    /* reset then detach: empty content, still a valid string */
    lv_buf_adds(&b, "gone");
    lv_buf_reset(&b);
    s = lv_buf_detach(&b);
    assert_string_equal(s, "");
    free(s);
}

/* ---- lv_map ---- */

static void test_map_empty(void **state)
{
    (void)state;
    struct lv_map m;
    lv_map_init(&m);
    assert_null(lv_map_get(&m, "a"));
    assert_null(lv_map_del(&m, "a"));
    size_t pos = 0;
    const char *k = NULL;
    void *v = NULL;
    assert_false(lv_map_next(&m, &pos, &k, &v));
    assert_int_equal(m.len, 0);
    lv_map_release(&m);
    assert_int_equal(m.cap, 0);
}

static void test_map_put_get_del(void **state)
{
    (void)state;
    struct lv_map m;
    lv_map_init(&m);
    int a = 1, b = 2, c = 3;
    assert_null(lv_map_put(&m, "alpha", &a));
    assert_null(lv_map_put(&m, "beta", &b));
    assert_null(lv_map_put(&m, "", &c)); /* empty key is a key */
    assert_int_equal(m.len, 3);
    assert_ptr_equal(lv_map_get(&m, "alpha"), &a);
    assert_ptr_equal(lv_map_get(&m, "beta"), &b);
    assert_ptr_equal(lv_map_get(&m, ""), &c);
    assert_null(lv_map_get(&m, "gamma"));
    assert_null(lv_map_get(&m, "Alpha")); /* case-sensitive */
    assert_null(lv_map_get(&m, "alph"));

    /* replace returns the previous value and does not add an entry */
    assert_ptr_equal(lv_map_put(&m, "alpha", &c), &a);
    assert_ptr_equal(lv_map_get(&m, "alpha"), &c);
    assert_int_equal(m.len, 3);
    assert_ptr_equal(lv_map_put(&m, "alpha", &b), &c);
    assert_int_equal(m.len, 3);

    /* delete returns the value; a second delete finds nothing */
    assert_ptr_equal(lv_map_del(&m, "beta"), &b);
    assert_null(lv_map_get(&m, "beta"));
    assert_null(lv_map_del(&m, "beta"));
    assert_int_equal(m.len, 2);
    assert_ptr_equal(lv_map_get(&m, "alpha"), &b);
    assert_ptr_equal(lv_map_del(&m, ""), &c);
    assert_int_equal(m.len, 1);
    lv_map_release(&m);
    assert_int_equal(m.len, 0);
    assert_null(m.slots);

    /* reusable after release */
    assert_null(lv_map_put(&m, "x", &a));
    assert_ptr_equal(lv_map_get(&m, "x"), &a);
    lv_map_release(&m);
}

static void test_map_copies_keys(void **state)
{
    (void)state;
    struct lv_map m;
    lv_map_init(&m);
    char key[16];
    strcpy(key, "transient");
    int v = 7;
    lv_map_put(&m, key, &v);
    strcpy(key, "changed!!");
    assert_ptr_equal(lv_map_get(&m, "transient"), &v);
    assert_null(lv_map_get(&m, "changed!!"));
    lv_map_release(&m);
}

static void test_map_many_keys(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct lv_map m;
    lv_map_init(&m);
    char key[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "key-%zu", i);
        assert_null(lv_map_put(&m, key, ptr(i)));
    }
    assert_int_equal(m.len, N);
    assert_true(m.cap >= N);
    assert_int_equal(m.cap & (m.cap - 1), 0); /* power of two */
    assert_true(m.used * 4 <= m.cap * 3);     /* empty slots remain: lookups end */
    for (size_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "key-%zu", i);
        assert_ptr_equal(lv_map_get(&m, key), ptr(i));
    }
    snprintf(key, sizeof(key), "key-%d", N);
    assert_null(lv_map_get(&m, key));

    /* delete the even keys; odd ones stay reachable past the tombstones */
    for (size_t i = 0; i < N; i += 2) {
        snprintf(key, sizeof(key), "key-%zu", i);
        assert_ptr_equal(lv_map_del(&m, key), ptr(i));
    }
    assert_int_equal(m.len, N / 2);
    for (size_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "key-%zu", i);
        if (i % 2)
            assert_ptr_equal(lv_map_get(&m, key), ptr(i));
        else
            assert_null(lv_map_get(&m, key));
    }
    /* and re-insert them with new values */
    for (size_t i = 0; i < N; i += 2) {
        snprintf(key, sizeof(key), "key-%zu", i);
        assert_null(lv_map_put(&m, key, ptr(i + N)));
    }
    assert_int_equal(m.len, N);
    for (size_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "key-%zu", i);
        assert_ptr_equal(lv_map_get(&m, key), i % 2 ? ptr(i) : ptr(i + N));
    }
    lv_map_release(&m);
}

static void test_map_tombstone_reuse(void **state)
{
    (void)state;
    struct lv_map m;
    lv_map_init(&m);
    int v = 1;
    lv_map_put(&m, "a", &v);
    lv_map_put(&m, "b", &v);
    size_t cap = m.cap, used = m.used;
    /* deleting and re-inserting the same key reuses its slot */
    for (int i = 0; i < 100; i++) {
        assert_ptr_equal(lv_map_del(&m, "a"), &v);
        assert_null(lv_map_put(&m, "a", &v));
    }
    assert_int_equal(m.cap, cap);
    assert_int_equal(m.used, used);
    assert_int_equal(m.len, 2);
    lv_map_release(&m);
}

static void test_map_churn_bounded(void **state)
{
    (void)state;
    /* 100k inserts and deletes of ever-new keys with at most 10 alive: the
     * tombstones must be swept, not make the table grow without bound. */
    enum { LIVE = 10, ROUNDS = 100000 };
    struct lv_map m;
    lv_map_init(&m);
    char key[32];
    size_t max_cap = 0;
    for (size_t i = 0; i < ROUNDS; i++) {
        snprintf(key, sizeof(key), "id-%zu", i);
        assert_null(lv_map_put(&m, key, ptr(i)));
        if (i >= LIVE - 1) {
            snprintf(key, sizeof(key), "id-%zu", i - (LIVE - 1));
            assert_ptr_equal(lv_map_del(&m, key), ptr(i - (LIVE - 1)));
        }
        assert_true(m.len <= LIVE);
        if (m.cap > max_cap)
            max_cap = m.cap;
    }
    assert_true(max_cap <= 64);
    assert_int_equal(m.len, LIVE - 1);
    for (size_t i = ROUNDS - (LIVE - 1); i < ROUNDS; i++) {
        snprintf(key, sizeof(key), "id-%zu", i);
        assert_ptr_equal(lv_map_get(&m, key), ptr(i));
    }
    snprintf(key, sizeof(key), "id-%d", ROUNDS - LIVE);
    assert_null(lv_map_get(&m, key));
    lv_map_release(&m);
}

static void test_map_iterate(void **state)
{
    (void)state;
    enum { N = 1000 };
    struct lv_map m;
    lv_map_init(&m);
    char key[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k%zu", i);
        lv_map_put(&m, key, ptr(i));
    }
    for (size_t i = 0; i < N; i += 3) {
        snprintf(key, sizeof(key), "k%zu", i);
        lv_map_del(&m, key);
    }
    unsigned char *seen = calloc(N, 1);
    assert_non_null(seen);
    size_t pos = 0, count = 0;
    const char *k;
    void *v;
    while (lv_map_next(&m, &pos, &k, &v)) {
        size_t idx = (size_t)(uintptr_t)v - 1;
        assert_true(idx < N);
        assert_true(idx % 3 != 0); /* deleted keys are not visited */
        snprintf(key, sizeof(key), "k%zu", idx);
        assert_string_equal(k, key); /* key and value belong together */
        assert_int_equal(seen[idx], 0);
        seen[idx] = 1;
        count++;
    }
    assert_int_equal(count, m.len);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(seen[i], i % 3 != 0);
    /* the end is sticky */
    assert_false(lv_map_next(&m, &pos, &k, &v));
    free(seen);
    lv_map_release(&m);
}

static void test_map_delete_while_iterating(void **state)
{
    (void)state;
    enum { N = 500 };
    struct lv_map m;
    lv_map_init(&m);
    char key[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "d%zu", i);
        lv_map_put(&m, key, ptr(i));
    }
    unsigned char *seen = calloc(N, 1);
    assert_non_null(seen);
    size_t pos = 0, count = 0;
    const char *k;
    void *v;
    /* delete every other visited key, the one just returned */
    while (lv_map_next(&m, &pos, &k, &v)) {
        size_t idx = (size_t)(uintptr_t)v - 1;
        assert_true(idx < N);
        assert_int_equal(seen[idx], 0);
        seen[idx] = 1;
        if (count++ % 2 == 0) {
            snprintf(key, sizeof(key), "%s", k); /* k dies with the entry */
            assert_ptr_equal(lv_map_del(&m, key), v);
        }
    }
    assert_int_equal(count, N);
    assert_int_equal(m.len, N / 2);
    /* a second pass sees exactly the survivors; delete them all */
    pos = 0;
    count = 0;
    while (lv_map_next(&m, &pos, &k, &v)) {
        size_t idx = (size_t)(uintptr_t)v - 1;
        assert_int_equal(seen[idx], 1);
        seen[idx] = 2;
        snprintf(key, sizeof(key), "%s", k);
        assert_ptr_equal(lv_map_del(&m, key), v);
        count++;
    }
    assert_int_equal(count, N / 2);
    assert_int_equal(m.len, 0);
    pos = 0;
    assert_false(lv_map_next(&m, &pos, &k, &v));
    free(seen);
    lv_map_release(&m);
}

/* ---- lv_err ---- */

struct err_name {
    int code;
    const char *name;
    bool transient;
};

static const struct err_name err_names[] = {
    {LV_OK, "ok", false},
    {LV_ERR_INVAL, "invalid input", false},
    {LV_ERR_NOT_FOUND, "not found", false},
    {LV_ERR_CONFLICT, "conflict", false},
    {LV_ERR_PERM, "not allowed", false},
    {LV_ERR_LIMIT, "limit exceeded", false},
    {LV_ERR_IO, "I/O error", true},
    {LV_ERR_TIMEOUT, "timeout", true},
    {LV_ERR_AGAIN, "try again", true},
    {LV_ERR_AUTH, "authentication failed", false},
    {LV_ERR_PROTO, "protocol error", false},
    {LV_ERR_TLS, "TLS error", false},
    {LV_ERR_STORE, "storage error", false},
    {LV_ERR_CONFIG, "configuration error", false},
    {LV_ERR_INTERNAL, "internal error", false},
    {LV_ERR_CANCELLED, "cancelled", false},
};

static void test_err_str(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(err_names); i++) {
        const char *got = lv_err_str(err_names[i].code);
        if (strcmp(got, err_names[i].name) != 0)
            fail_msg("lv_err_str(%d) = \"%s\", want \"%s\"", err_names[i].code, got,
                     err_names[i].name);
        if (lv_err_transient(err_names[i].code) != err_names[i].transient)
            fail_msg("lv_err_transient(%d) wrong", err_names[i].code);
    }
    /* codes outside the enum */
    static const int unknown[] = {1, 2, 100, -16, -17, -1000, INT_MAX, INT_MIN + 1, INT_MIN};
    for (size_t i = 0; i < LV_ARRAY_LEN(unknown); i++) {
        assert_string_equal(lv_err_str(unknown[i]), "unknown error");
        assert_false(lv_err_transient(unknown[i]));
    }
}

static void test_error_set(void **state)
{
    (void)state;
    struct lv_error e;
    memset(&e, 0x5a, sizeof(e));
    assert_int_equal(lv_error_set(&e, LV_ERR_NOT_FOUND, "no %s %d", "profile", 3),
                     LV_ERR_NOT_FOUND);
    assert_int_equal(e.code, LV_ERR_NOT_FOUND);
    assert_string_equal(e.cond, "");
    assert_string_equal(e.msg, "no profile 3");

    assert_int_equal(lv_error_set_cond(&e, LV_ERR_PROTO, "policy-violation", "bad %s", "stanza"),
                     LV_ERR_PROTO);
    assert_int_equal(e.code, LV_ERR_PROTO);
    assert_string_equal(e.cond, "policy-violation");
    assert_string_equal(e.msg, "bad stanza");

    /* a NULL condition is "", and a plain set clears a previous condition */
    lv_error_set_cond(&e, LV_ERR_AUTH, NULL, "x");
    assert_string_equal(e.cond, "");
    lv_error_set_cond(&e, LV_ERR_AUTH, "not-authorized", "x");
    lv_error_set(&e, LV_ERR_IO, "y");
    assert_int_equal(e.code, LV_ERR_IO);
    assert_string_equal(e.cond, "");
    assert_string_equal(e.msg, "y");

    lv_error_clear(&e);
    assert_int_equal(e.code, LV_OK);
    assert_string_equal(e.cond, "");
    assert_string_equal(e.msg, "");
}

static void test_error_null(void **state)
{
    (void)state;
    /* err is optional everywhere: the code still comes back */
    assert_int_equal(lv_error_set(NULL, LV_ERR_INVAL, "bad %s", "x"), LV_ERR_INVAL);
    assert_int_equal(lv_error_set_cond(NULL, LV_ERR_PROTO, "c", "m %d", 1), LV_ERR_PROTO);
    assert_int_equal(lv_error_set(NULL, LV_OK, "fine"), LV_OK);
    lv_error_clear(NULL);
}

static void test_error_truncation(void **state)
{
    (void)state;
    /* Messages and conditions longer than their arrays are cut, NUL
     * terminated, and nothing after the struct is written. */
    struct {
        struct lv_error e;
        unsigned char guard[64];
    } s;
    memset(&s, 0xa5, sizeof(s));
    char *big = repeat_char('m', 3 * LV_ERROR_MSG_MAX);
    char *cond = repeat_char('c', 3 * LV_ERROR_COND_MAX);

    lv_error_set_cond(&s.e, LV_ERR_LIMIT, cond, "<%s>", big);
    assert_int_equal(s.e.code, LV_ERR_LIMIT);
    assert_int_equal(strlen(s.e.msg), LV_ERROR_MSG_MAX - 1);
    assert_int_equal(s.e.msg[0], '<');
    assert_memory_equal(s.e.msg + 1, big, LV_ERROR_MSG_MAX - 2);
    assert_int_equal(strlen(s.e.cond), LV_ERROR_COND_MAX - 1);
    assert_memory_equal(s.e.cond, cond, LV_ERROR_COND_MAX - 1);
    for (size_t i = 0; i < sizeof(s.guard); i++)
        assert_int_equal(s.guard[i], 0xa5);

    /* exactly at the limit: one byte less than the array fits whole */
    big[LV_ERROR_MSG_MAX - 1] = '\0';
    lv_error_set(&s.e, LV_ERR_LIMIT, "%s", big);
    assert_int_equal(strlen(s.e.msg), LV_ERROR_MSG_MAX - 1);
    for (size_t i = 0; i < sizeof(s.guard); i++)
        assert_int_equal(s.guard[i], 0xa5);
    free(big);
    free(cond);
}

/* ---- lv_mem ---- */

static void test_grow(void **state)
{
    (void)state;
    int *arr = NULL;
    size_t cap = 0;
    lv_grow((void **)&arr, &cap, 1, sizeof(*arr));
    assert_non_null(arr);
    assert_true(cap >= 1);
    size_t first = cap;

    /* need within cap: nothing changes */
    int *before = arr;
    lv_grow((void **)&arr, &cap, first, sizeof(*arr));
    assert_ptr_equal(arr, before);
    assert_int_equal(cap, first);
    lv_grow((void **)&arr, &cap, 0, sizeof(*arr));
    assert_int_equal(cap, first);

    /* growing keeps the content and gives room for at least need */
    size_t n = 0;
    for (int i = 0; i < 10000; i++) {
        lv_grow((void **)&arr, &cap, n + 1, sizeof(*arr));
        assert_true(cap >= n + 1);
        arr[n++] = i;
    }
    for (int i = 0; i < 10000; i++)
        assert_int_equal(arr[i], i);
    /* doubling: far fewer bytes than one realloc per element would need */
    assert_true(cap < 2 * 10000 + first);

    /* a jump to a big need in one call */
    lv_grow((void **)&arr, &cap, 100000, sizeof(*arr));
    assert_true(cap >= 100000);
    arr[99999] = 7;
    assert_int_equal(arr[9999], 9999);
    free(arr);

    /* larger elements */
    struct big {
        char b[100];
    } *structs = NULL;
    cap = 0;
    lv_grow((void **)&structs, &cap, 33, sizeof(*structs));
    assert_true(cap >= 33);
    memset(structs, 1, cap * sizeof(*structs));
    free(structs);
}

static void test_xasprintf(void **state)
{
    (void)state;
    char *s = lv_xasprintf("%s-%d-%05.1f", "abc", -12, 3.14159);
    assert_string_equal(s, "abc--12-003.1");
    free(s);

    s = lv_xasprintf("%s", "");
    assert_string_equal(s, "");
    free(s);

    char *big = repeat_char('b', 5000);
    s = lv_xasprintf("[%s|%s]", big, big);
    assert_int_equal(strlen(s), 10003);
    assert_int_equal(s[0], '[');
    assert_int_equal(s[5001], '|');
    assert_int_equal(s[10002], ']');
    assert_memory_equal(s + 1, big, 5000);
    assert_memory_equal(s + 5002, big, 5000);
    free(s);
    free(big);
}

static void test_xstrdup_xstrndup(void **state)
{
    (void)state;
    char *s = lv_xstrdup("hello");
    assert_string_equal(s, "hello");
    free(s);

    struct {
        size_t n;
        const char *want;
    } cases[] = {
        {0, ""}, {1, "h"}, {4, "hell"}, {5, "hello"}, {6, "hello"}, {SIZE_MAX, "hello"},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        s = lv_xstrndup("hello", cases[i].n);
        if (strcmp(s, cases[i].want) != 0)
            fail_msg("lv_xstrndup(\"hello\", %zu) = \"%s\", want \"%s\"", cases[i].n, s,
                     cases[i].want);
        free(s);
    }

    /* n bounds the read: the source need not be NUL-terminated */
    char raw[4] = {'a', 'b', 'c', 'd'};
    s = lv_xstrndup(raw, sizeof(raw));
    assert_string_equal(s, "abcd");
    free(s);
    s = lv_xstrndup(raw, 2);
    assert_string_equal(s, "ab");
    free(s);

    /* stops at an embedded NUL */
    s = lv_xstrndup("ab\0cd", 5);
    assert_string_equal(s, "ab");
    free(s);
}

static void test_xalloc_zero(void **state)
{
    (void)state;
    /* size 0 still returns a usable, freeable pointer */
    void *p = lv_xmalloc(0);
    assert_non_null(p);
    free(p);
    p = lv_xcalloc(0, 8);
    assert_non_null(p);
    free(p);
    unsigned char *z = lv_xcalloc(64, 4);
    for (size_t i = 0; i < 256; i++)
        assert_int_equal(z[i], 0);
    z = lv_xrealloc(z, 0);
    assert_non_null(z);
    free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_init_empty),
        cmocka_unit_test(test_buf_add_variants),
        cmocka_unit_test(test_buf_add_zero_on_empty),
        cmocka_unit_test(test_buf_addf_long),
        cmocka_unit_test(test_buf_vaddf),
        cmocka_unit_test(test_buf_nul_bytes),
        cmocka_unit_test(test_buf_consume),
        cmocka_unit_test(test_buf_consume_large),
        cmocka_unit_test(test_buf_reset_keeps_allocation),
        cmocka_unit_test(test_buf_detach),
        cmocka_unit_test(test_map_empty),
        cmocka_unit_test(test_map_put_get_del),
        cmocka_unit_test(test_map_copies_keys),
        cmocka_unit_test(test_map_many_keys),
        cmocka_unit_test(test_map_tombstone_reuse),
        cmocka_unit_test(test_map_churn_bounded),
        cmocka_unit_test(test_map_iterate),
        cmocka_unit_test(test_map_delete_while_iterating),
        cmocka_unit_test(test_err_str),
        cmocka_unit_test(test_error_set),
        cmocka_unit_test(test_error_null),
        cmocka_unit_test(test_error_truncation),
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_xasprintf),
        cmocka_unit_test(test_xstrdup_xstrndup),
        cmocka_unit_test(test_xalloc_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
