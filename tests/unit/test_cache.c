/* lv_cache: what an item becomes in the cache (text for full-text search,
 * parsed data, dates); the bound ([cache] max_items): trimming in steps
 * between turns of the loop, and which reads of a trimmed node the cache
 * still answers. The sync and live-update logic is tested against real
 * servers in tests/integration/cache.sh (the bound too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/lv_cache.h"
#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "xml/lv_xml.h"

static struct lv_xml *parse(const char *s)
{
    struct lv_xml_limits lim = {1 << 20, 64, 64, 1000};
    struct lv_xml *x = NULL;
    assert_int_equal(lv_xml_parse(s, strlen(s), &lim, &x, NULL), 0);
    return x;
}

static void test_blog_item(void **state)
{
    struct lv_ps_item it = {"p1", NULL,
                            parse("<entry xmlns='http://www.w3.org/2005/Atom'>"
                                  "<title>Café &amp; croissants</title>"
                                  "<content type='text'>Morning in Paris</content>"
                                  "<category term='food'/><category term='Paris'/>"
                                  "<author><name>louise</name><uri>xmpp:louise@example.org</uri>"
                                  "</author><published>2026-01-02T03:04:05Z</published>"
                                  "<updated>2026-01-03T03:04:05Z</updated></entry>")};
    char *text = NULL;
    json_t *parsed = NULL;
    double pub, upd;
    lv_cache_item_analyse("XEP-0277", "louise@example.org", "urn:xmpp:microblog:0", &it, &text,
                          &parsed, &pub, &upd);
    assert_non_null(parsed);
    assert_true(pub == 1767323045.0 && upd == 1767409445.0);
    /* the words a reader searches for, not the XML */
    assert_non_null(strstr(text, "Café & croissants"));
    assert_non_null(strstr(text, "Morning in Paris"));
    assert_non_null(strstr(text, "food"));
    assert_null(strstr(text, "<"));
    assert_null(strstr(text, "category"));
    /* on a PEP service the owner is the publisher */
    assert_true(json_is_true(json_object_get(parsed, "author_jid_verified")));
    free(text);
    json_decref(parsed);
    lv_xml_unref(it.payload);
}

static void test_raw_item(void **state)
{
    struct lv_ps_item it = {"r1", NULL,
                            parse("<note xmlns='urn:example'><a>first words</a>\n  <b attr='x'>"
                                  "second <i>third</i></b></note>")};
    char *text = NULL;
    json_t *parsed = NULL;
    double pub = -1, upd = -1;
    lv_cache_item_analyse(NULL, "pubsub.example.org", "notes", &it, &text, &parsed, &pub, &upd);
    assert_null(parsed);
    assert_true(pub == 0 && upd == 0);
    assert_string_equal(text, "first words second third");
    free(text);
    lv_xml_unref(it.payload);
}

static void test_not_an_entry(void **state)
{
    /* A blog node may hold something else: it is kept raw, still searchable. */
    struct lv_ps_item it = {"x", "someone@example.org", parse("<foo xmlns='urn:x'>bar</foo>")};
    char *text = NULL;
    json_t *parsed = NULL;
    double pub, upd;
    lv_cache_item_analyse("XEP-0277", "pubsub.example.org", "urn:xmpp:microblog:0", &it, &text,
                          &parsed, &pub, &upd);
    assert_null(parsed);
    assert_string_equal(text, "bar");
    free(text);
    lv_xml_unref(it.payload);
}

/* ---- the bound ---- */

#define SVC "pubsub.example.org"

/* A cache over a fresh SQLite store with profile "alice" and her complete
 * node "n". */
struct fx {
    char dir[256], path[300];
    struct lv_store *st;
    uv_loop_t loop;
    struct lv_cache *c;
    int64_t node;
};

static int setup(void **state)
{
    struct fx *f = lv_xcalloc(1, sizeof(*f));
    const char *base = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/lv_cache_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/libervia.db", f->dir);
    struct lv_store_cache_node n;
    if (lv_store_open(f->path, &f->st, NULL) != 0 ||
        lv_store_profile_create(f->st, "alice", NULL, NULL) != 0 ||
        lv_store_cache_node_ensure(f->st, "alice", SVC, "n", NULL, &n, NULL, NULL) != 0)
        return -1;
    f->node = n.id;
    lv_store_cache_node_release(&n);
    lv_store_cache_node_set_sync(f->st, f->node, LV_STORE_CACHE_SYNC_COMPLETED, NULL, 0, NULL);
    uv_loop_init(&f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    lv_cache_free(f->c);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* closes the cache's handles */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    lv_store_close(f->st);
    const char *sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[320];
        snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void start_cache(struct fx *f, unsigned max_items)
{
    struct lv_cache_config cfg = {true, 0, 0, 300, max_items};
    f->c = lv_cache_new(&f->loop, f->st, &cfg);
}

/* Items "i0001"... dated 1000 + k, in one batch. */
static void fill(struct fx *f, int from, int to)
{
    size_t n = (size_t)(to - from + 1), k = 0;
    struct lv_store_cache_item *v = lv_xcalloc(n, sizeof(*v));
    char(*names)[16] = lv_xcalloc(n, sizeof(*names));
    for (int i = from; i <= to; i++, k++) {
        snprintf(names[k], sizeof(names[k]), "i%04d", i);
        v[k] =
            (struct lv_store_cache_item){names[k], "<x xmlns='urn:x'/>", "x", NULL, 1000.0 + i, 0};
    }
    assert_int_equal(lv_store_cache_items_upsert(f->st, f->node, v, n, NULL), 0);
    free(names);
    free(v);
}

static int64_t cached_items(struct fx *f)
{
    struct lv_store_cache_stats stats;
    assert_int_equal(lv_store_cache_stats(f->st, &stats, NULL), 0);
    return stats.items;
}

/* Reads through the cache: "" when the read goes to the service, else the
 * page's item names (and its RSM count and index). */
static char *read_page(struct fx *f, const struct lv_store_cache_page_req *req, int64_t *count,
                       int64_t *index)
{
    struct lv_store_cache_page page = {0};
    if (!lv_cache_read(f->c, "alice", NULL, SVC, "n", req, &page))
        return lv_xstrdup("");
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "");
    for (size_t i = 0; i < page.n; i++)
        lv_buf_addf(&b, "%s%s", i ? "," : "", page.items[i].name);
    *count = page.count;
    *index = page.index;
    lv_store_cache_page_release(&page);
    return lv_buf_detach(&b);
}

static void expect_read(struct fx *f, const struct lv_store_cache_page_req *req,
                        const char *expected, int64_t count, int64_t index)
{
    int64_t c = -1, i = -1;
    char *got = read_page(f, req, &c, &i);
    if (strcmp(got, expected) != 0)
        fail_msg("read: got [%s], expected [%s]", got, expected);
    if (*expected && (c != count || i != index))
        fail_msg("read [%s]: count %lld index %lld, expected %lld %lld", got, (long long)c,
                 (long long)i, (long long)count, (long long)index);
    free(got);
}

/* Over the bound, each turn of the loop deletes one batch of the oldest
 * items: LV_CACHE_TRIM_BATCH_FIRST first, then as many as the pace allows
 * (at most twice the previous batch, at most LV_CACHE_TRIM_BATCH), until the
 * cache is within the bound. */
static void test_bound_trims_in_steps(void **state)
{
    struct fx *f = *state;
    int total = LV_CACHE_TRIM_BATCH + 250;
    fill(f, 1, total);
    start_cache(f, 100); /* the bound is checked at start */
    uv_run(&f->loop, UV_RUN_NOWAIT);
    int64_t left = cached_items(f), step = total - left, turns = 1;
    assert_int_equal(step, LV_CACHE_TRIM_BATCH_FIRST);
    while (left > 100 && turns < 100) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        int64_t now = cached_items(f);
        assert_true(left - now > 0 && left - now <= LV_CACHE_TRIM_BATCH);
        assert_true(now == 100 || left - now <= 2 * step);
        step = left - now;
        left = now;
        turns++;
    }
    assert_int_equal(left, 100);
    assert_true(turns >= 3); /* 1,150 items: 100, then at most 200, 400... */
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(cached_items(f), 100);

    struct lv_store_cache_node n;
    assert_int_equal(lv_store_cache_node_get(f->st, "alice", SVC, "n", &n, NULL), 0);
    assert_int_equal(n.sync_state, LV_STORE_CACHE_SYNC_COMPLETED);
    assert_int_equal(n.trimmed_items, total - 100);
    assert_true(n.trimmed_upto == 1000.0 + total - 100);
    lv_store_cache_node_release(&n);
    struct lv_store_cache_page_req req;
    lv_store_cache_page_req_init(&req, 3);
    expect_read(f, &req, "i1250,i1249,i1248", total, 0);

    /* A live item at the bound: the oldest item makes room. */
    struct lv_xml_limits lim = {1 << 20, 64, 64, 1000};
    struct lv_xml *x = NULL;
    const char *xml = "<x xmlns='urn:x'>live</x>";
    assert_int_equal(lv_xml_parse(xml, strlen(xml), &lim, &x, NULL), 0);
    struct lv_ps_item it = {"live", NULL, x};
    struct lv_ps_items items = {&it, 1, {0}};
    struct lv_ps_event ev = {LV_PS_EV_ITEMS, SVC, "n", &items, NULL, 0};
    lv_cache_on_event(f->c, "alice", &ev);
    assert_int_equal(cached_items(f), 101);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(cached_items(f), 100);
    expect_read(f, &req, "live,i1250,i1249", total + 1, 0);
    req.oldest_first = true;
    req.before = "";
    expect_read(f, &req, "i1249,i1250,live", total + 1, total - 2);
    lv_xml_unref(x);
}

/* A trimmed node answers from the cache only what lies among the items it
 * still holds. */
static void test_trimmed_reads(void **state)
{
    struct fx *f = *state;
    fill(f, 1, 30);
    start_cache(f, 25);
    uv_run(&f->loop, UV_RUN_NOWAIT); /* i0001-i0005 go */
    assert_int_equal(cached_items(f), 25);
    struct lv_store_cache_page_req req;

    /* Newest first, walking towards older items: while pages are full. */
    lv_store_cache_page_req_init(&req, 20);
    expect_read(f, &req,
                "i0030,i0029,i0028,i0027,i0026,i0025,i0024,i0023,i0022,i0021,i0020,"
                "i0019,i0018,i0017,i0016,i0015,i0014,i0013,i0012,i0011",
                30, 0);
    req.max = 25; /* exactly what is cached: all after the trimmed ones */
    req.index = -1;
    int64_t c = 0, i = 0;
    char *got = read_page(f, &req, &c, &i);
    assert_int_equal(strlen(got), 25 * 6 - 1);
    free(got);
    req.max = 26; /* one more than cached: the service knows it */
    expect_read(f, &req, "", 0, 0);
    lv_store_cache_page_req_init(&req, 5);
    req.after = "i0015";
    expect_read(f, &req, "i0014,i0013,i0012,i0011,i0010", 30, 16);
    req.after = "i0010"; /* RSM paging past the end of what is cached */
    expect_read(f, &req, "", 0, 0);
    req.after = NULL;
    req.index = 20; /* the last full page cached */
    expect_read(f, &req, "i0010,i0009,i0008,i0007,i0006", 30, 20);
    req.index = 21;
    expect_read(f, &req, "", 0, 0);
    req.index = 15;
    expect_read(f, &req, "i0015,i0014,i0013,i0012,i0011", 30, 15);
    req.index = -1;
    req.before = ""; /* the oldest page */
    expect_read(f, &req, "", 0, 0);
    req.before = "i0010"; /* towards newer items, from a cached item */
    expect_read(f, &req, "i0015,i0014,i0013,i0012,i0011", 30, 15);

    /* Oldest first: from the oldest end, never; towards newer items from a
     * cached item, always; backwards from the newest end while full. */
    lv_store_cache_page_req_init(&req, 5);
    req.oldest_first = true;
    expect_read(f, &req, "", 0, 0);
    req.after = "i0003"; /* trimmed: the service knows where it is */
    expect_read(f, &req, "", 0, 0);
    req.after = "i0006";
    expect_read(f, &req, "i0007,i0008,i0009,i0010,i0011", 30, 6);
    req.after = NULL;
    req.before = "";
    expect_read(f, &req, "i0026,i0027,i0028,i0029,i0030", 30, 25);
    req.before = "i0009";
    expect_read(f, &req, "", 0, 0);
    req.before = "i0011";
    expect_read(f, &req, "i0006,i0007,i0008,i0009,i0010", 30, 5);

    /* Named items: all cached, or ask the service. */
    const char *some[] = {"i0020", "i0007"}, *gone[] = {"i0020", "i0004"};
    lv_store_cache_page_req_init(&req, 5);
    req.names = some;
    req.n_names = 2;
    expect_read(f, &req, "i0020,i0007", 30, 10);
    req.names = gone;
    expect_read(f, &req, "", 0, 0);

    /* Another order than the date: its items may be anywhere. */
    lv_store_cache_page_req_init(&req, 5);
    req.order = LV_STORE_CACHE_ORDER_CREATION;
    expect_read(f, &req, "", 0, 0);

    /* A resync purges the node: complete again, every read served. */
    assert_int_equal(lv_store_cache_node_purge(f->st, f->node, NULL, NULL), 0);
    fill(f, 1, 10);
    lv_store_cache_page_req_init(&req, 20);
    req.oldest_first = true;
    expect_read(f, &req, "i0001,i0002,i0003,i0004,i0005,i0006,i0007,i0008,i0009,i0010", 10, 0);
}

/* max_items 0: no bound. */
static void test_unbounded(void **state)
{
    struct fx *f = *state;
    fill(f, 1, 30);
    start_cache(f, 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(cached_items(f), 30);
}

int main(void)
{
    lv_log_set_level(LV_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blog_item),
        cmocka_unit_test(test_raw_item),
        cmocka_unit_test(test_not_an_entry),
        cmocka_unit_test_setup_teardown(test_bound_trims_in_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trimmed_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unbounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
