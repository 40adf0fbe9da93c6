/* libFuzzer target for the XML layer: the streaming parser (in several chunk
 * sizes, with small limits, with stream restarts), the one-shot parser and
 * the serializer, checking that whatever parses round-trips exactly.
 *
 * Input: byte 0 picks the chunk size (bits 0-2), the limits (bits 3-4) and
 * whether <proceed/> and <success/> stop the parser as a stream restart
 * would (bit 5); the rest is the XML. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml/lv_xml.h"
#include "xml/lv_xml_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t chunk_sizes[] = {1, 2, 3, 7, 16, 64, 509, SIZE_MAX};

static const struct lv_xml_limits limit_sets[] = {
    {256, 4, 4, 8},
    {1024, 8, 8, 16},
    {4096, 16, 16, 64},
    {64, 2, 2, 4},
};

struct run {
    struct lv_xml_stream *s;
    struct lv_xml_limits lim;
    bool restarts;
    bool stopped;
};

static bool str_eq(const char *a, const char *b)
{
    return (!a || !b) ? a == b : strcmp(a, b) == 0;
}

static bool tree_eq(const struct lv_xml *a, const struct lv_xml *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == LV_XML_TEXT)
        return a->text_len == b->text_len && memcmp(a->text, b->text, a->text_len) == 0;
    if (!str_eq(a->name, b->name) || !str_eq(a->ns, b->ns) || a->nattrs != b->nattrs)
        return false;
    for (size_t i = 0; i < a->nattrs; i++)
        if (!str_eq(a->attrs[i].name, b->attrs[i].name) ||
            !str_eq(a->attrs[i].value, b->attrs[i].value))
            return false;
    const struct lv_xml *ca = a->children, *cb = b->children;
    for (; ca && cb; ca = ca->next, cb = cb->next)
        if (!tree_eq(ca, cb))
            return false;
    return !ca && !cb;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_xml_stream: %s: %s\n", what, detail);
    abort();
}

/* Whatever the parser accepted must serialize to XML that parses back to
 * the same tree (the serialization may be larger: bytes are not limited). */
static void check_round_trip(const struct lv_xml *x, const struct lv_xml_limits *lim)
{
    struct lv_xml_limits loose = *lim;
    loose.max_stanza_bytes = 1u << 30;
    char *s1 = lv_xml_to_string(x, NULL);
    struct lv_xml *y = NULL;
    struct lv_error err = {0};
    if (lv_xml_parse(s1, strlen(s1), &loose, &y, &err) != 0)
        die(err.msg, s1);
    char *s2 = lv_xml_to_string(y, NULL);
    if (!tree_eq(x, y) || strcmp(s1, s2) != 0)
        die("round trip differs", s1);
    struct lv_xml *c = lv_xml_copy(y);
    if (!tree_eq(c, y))
        die("copy differs", s2);
    lv_xml_unref(c);
    free(s2);
    free(s1);
    lv_xml_unref(y);
}

static void on_open(void *ud, const char *name, const char *ns, const struct lv_xml_attr *attrs,
                    size_t nattrs)
{
    size_t n = strlen(name) + (ns ? strlen(ns) : 0);
    for (size_t i = 0; i < nattrs; i++)
        n += strlen(attrs[i].name) + strlen(attrs[i].value);
    (void)n;
}

static void on_stanza(void *ud, struct lv_xml *x)
{
    struct run *r = ud;
    check_round_trip(x, &r->lim);
    if (r->restarts && (lv_xml_is(x, "proceed", NULL) || lv_xml_is(x, "success", NULL))) {
        lv_xml_stream_stop(r->s);
        r->stopped = true;
    }
    lv_xml_unref(x);
}

static void on_close(void *ud)
{
}

static void run_stream(const char *in, size_t len, size_t chunk, struct run *r)
{
    static const struct lv_xml_stream_cbs cbs = {on_open, on_stanza, on_close};
    r->s = lv_xml_stream_new(&r->lim, &cbs, r);
    struct lv_error err = {0};
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = len - off < chunk ? len - off : chunk;
        rc = lv_xml_stream_feed(r->s, in + off, n, &err);
        off += n;
        if (rc == 0 && r->stopped) {
            /* A stream restart: the rest of that chunk is gone. */
            lv_xml_stream_reset(r->s);
            r->stopped = false;
        }
    }
    if (rc != 0 && (err.code != rc || err.cond[0] == '\0' || err.msg[0] == '\0'))
        die("error without details", err.msg);
    if (rc != 0 && lv_xml_stream_feed(r->s, "<a/>", 4, NULL) != rc)
        die("error not sticky", err.msg);
    if (rc == 0)
        lv_xml_stream_finish(r->s, &err);
    lv_xml_stream_free(r->s);
}

static void run_parse(const char *in, size_t len, const struct lv_xml_limits *lim)
{
    struct lv_xml *x = NULL;
    struct lv_error err = {0};
    if (lv_xml_parse(in, len, lim, &x, &err) == 0)
        check_round_trip(x, lim);
    else if (x)
        die("output on error", err.msg);
    lv_xml_unref(x);
}

/* Escaping arbitrary bytes always yields parseable XML, and escaping what
 * was parsed back gives the same text (invalid input was dropped once). */
static void run_escape(const char *in, size_t len)
{
    len = len < 4096 ? len : 4096;
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "<a t='");
    lv_xml_escape(&b, in, len, true);
    lv_buf_adds(&b, "'>");
    size_t text_at = b.len;
    lv_xml_escape(&b, in, len, false);
    size_t text_end = b.len;
    lv_buf_adds(&b, "</a>");
    const struct lv_xml_limits lim = {1u << 20, 2, 2, 2};
    struct lv_xml *x = NULL;
    struct lv_error err = {0};
    if (lv_xml_parse(b.data, b.len, &lim, &x, &err) != 0)
        die(err.msg, b.data);
    char *text = lv_xml_text(x);
    struct lv_buf again = LV_BUF_INIT;
    lv_xml_escape(&again, text, strlen(text), false);
    if (again.len != text_end - text_at || memcmp(again.data, b.data + text_at, again.len) != 0)
        die("escape not stable", b.data);
    lv_buf_release(&again);
    free(text);
    lv_xml_unref(x);
    lv_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    struct run r = {
        .lim = limit_sets[(mode >> 3) & 3],
        .restarts = (mode >> 5) & 1,
    };
    run_stream(in, len, chunk_sizes[mode & 7], &r);
    run_parse(in, len, &r.lim);
    run_escape(in, len);
    return 0;
}
