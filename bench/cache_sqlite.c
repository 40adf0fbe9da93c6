/* bench_cache: load and query benchmark of the pubsub cache on SQLite (or
 * on PostgreSQL with -u).
 *
 * Generates N blog items (default 1,000,000) with realistic shapes: titles
 * of 3-12 words and contents of 50-400 words drawn from a vocabulary with a
 * Zipf-like frequency, 0-5 tags out of 500 with a skewed distribution, dates
 * spread over 3 years, spread over many blogs (one node per author). It
 * inserts them through lv_store_cache_items_upsert() in batches, as a sync
 * does, then measures through the public API:
 *   - full-text search, 20-result pages ranked by relevance, for 1-2 word
 *     queries of topic words (uniform over the vocabulary outside its 100
 *     most frequent words) and of words drawn by frequency (the worst case:
 *     common words match most items);
 *   - tag filter and date-range filter pages (newest first);
 *   - reading a node's latest 20 items (li blog get -m 20 from the cache);
 * and prints p50/p95/p99 latencies, the insert rate and the database size
 * per item. With -T steps, it then times that many steps of the cache's
 * bound ([cache] max_items): each deletes the LV_CACHE_TRIM_BATCH oldest
 * items in one transaction, as the daemon does per turn of its loop (this
 * deletes items: a kept database then holds fewer). Figures only: no
 * assertion.
 *
 * usage: bench_cache [-n items] [-b batch] [-q queries] [-a authors]
 *                    [-d database | -u uri] [-k] [-r] [-s seed] [-T steps]
 * -k keeps the database; -r reuses one kept from a run with the same -n, -a
 * and -s, and only runs the queries. -u runs on a store URI (e.g.
 * postgresql://user@host:port/db) instead of a SQLite file: without -r, the
 * cache there and the profile "bench" are emptied first; nothing is removed
 * at the end. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blog/lv_mb.h"
#include "cache/lv_cache.h"
#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/lv_store.h"
#include "store/lv_store_cache.h"

#define VOCAB 30000
#define TAGS 500
#define YEARS3 (3 * 365 * 86400.0)
#define START 1640995200.0 /* 2022-01-01 */

struct opts {
    size_t items, batch, queries, authors, trim_steps;
    const char *db;
    bool keep, reuse, uri;
    uint64_t seed;
};

/* ---- randomness ------------------------------------------------------------ */

static uint64_t rng_state;

/* xorshift64*: fast, deterministic for a seed, good enough for test data. */
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static double rnd01(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static size_t rnd_range(size_t lo, size_t hi)
{
    return lo + (size_t)(rnd() % (hi - lo + 1));
}

/* A Zipf distribution over n ranks (rank r has weight 1/(r+1)^s). */
struct zipf {
    double *cdf;
    size_t n;
};

static void zipf_init(struct zipf *z, size_t n, double s)
{
    double sum = 0;
    z->n = n;
    z->cdf = lv_xmalloc(n * sizeof(*z->cdf));
    for (size_t r = 0; r < n; r++)
        z->cdf[r] = (sum += 1.0 / pow((double)r + 1, s));
    for (size_t r = 0; r < n; r++)
        z->cdf[r] /= sum;
}

static size_t zipf_draw(const struct zipf *z)
{
    double u = rnd01();
    size_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- vocabulary ------------------------------------------------------------ */

static char *vocab[VOCAB];
static char *tags[TAGS];
static struct zipf word_dist, tag_dist;

/* Pronounceable words of 1-4 syllables; a few carry an accent, so that the
 * tokenizer's diacritics folding is exercised. */
static char *make_word(size_t syllables)
{
    static const char *cons[] = {"b", "c", "d", "f", "g",  "l",  "m",  "n",  "p",
                                 "r", "s", "t", "v", "ch", "st", "tr", "br", "pl"};
    static const char *vows[] = {"a", "e", "i", "o", "u", "ou", "ai", "é", "è", "on"};
    struct lv_buf b = LV_BUF_INIT;
    for (size_t i = 0; i < syllables; i++) {
        lv_buf_adds(&b, cons[rnd() % LV_ARRAY_LEN(cons)]);
        size_t v = rnd() % LV_ARRAY_LEN(vows);
        lv_buf_adds(&b, vows[v >= 7 && rnd() % 4 ? 0 : v]);
    }
    return lv_buf_detach(&b);
}

static void vocab_init(void)
{
    /* Frequent words are short, as in real languages. */
    for (size_t i = 0; i < VOCAB; i++)
        vocab[i] = make_word(i < 100 ? rnd_range(1, 2) : rnd_range(2, 4));
    for (size_t i = 0; i < TAGS; i++)
        tags[i] = make_word(rnd_range(2, 3));
    zipf_init(&word_dist, VOCAB, 1.0);
    zipf_init(&tag_dist, TAGS, 1.1);
}

static void add_words(struct lv_buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lv_buf_adds(b, vocab[zipf_draw(&word_dist)]);
        lv_buf_addc(b, i + 1 < n ? ' ' : '.');
    }
}

/* ---- items ----------------------------------------------------------------- */

struct gen_item {
    char name[32];
    char *title, *content, *xml, *text;
    json_t *parsed;
    double published, updated;
};

static json_t *pick_tags(void)
{
    json_t *a = json_array();
    size_t n = rnd_range(0, 5);
    for (size_t tries = 0; json_array_size(a) < n && tries < 20; tries++) {
        const char *t = tags[zipf_draw(&tag_dist)];
        bool dup = false;
        for (size_t i = 0; i < json_array_size(a) && !dup; i++)
            dup = strcmp(json_string_value(json_array_get(a, i)), t) == 0;
        if (!dup)
            json_array_append_new(a, json_string(t));
    }
    return a;
}

static char *atom_xml(const struct gen_item *g, const char *author, json_t *tagv)
{
    struct lv_buf b = LV_BUF_INIT;
    char *pub = lv_mb_format_date((int64_t)g->published);
    char *upd = lv_mb_format_date((int64_t)g->updated);
    size_t i;
    json_t *t;
    lv_buf_addf(&b,
                "<entry xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"text\">%s</title>"
                "<id>xmpp:%s?;node=urn%%3Axmpp%%3Amicroblog%%3A0;item=%s</id>"
                "<published>%s</published><updated>%s</updated><author><name>%s</name>"
                "<uri>xmpp:%s</uri></author><content type=\"text\">%s</content>",
                g->title, author, g->name, pub, upd, author, author, g->content);
    json_array_foreach(tagv, i, t)
    {
        lv_buf_addf(&b, "<category term=\"%s\"/>", json_string_value(t));
    }
    lv_buf_adds(&b, "</entry>");
    free(pub);
    free(upd);
    return lv_buf_detach(&b);
}

static char *plain_text(const struct gen_item *g, const char *author, json_t *tagv)
{
    struct lv_buf b = LV_BUF_INIT;
    size_t i;
    json_t *t;
    lv_buf_addf(&b, "%s\n%s\n", g->title, g->content);
    json_array_foreach(tagv, i, t)
    {
        lv_buf_addf(&b, "%s ", json_string_value(t));
    }
    lv_buf_addf(&b, "\n%s", author);
    return lv_buf_detach(&b);
}

static void gen_item(struct gen_item *g, size_t serial, const char *author)
{
    struct lv_buf title = LV_BUF_INIT, content = LV_BUF_INIT;
    add_words(&title, rnd_range(3, 12));
    add_words(&content, rnd_range(50, 400));
    snprintf(g->name, sizeof(g->name), "post-%zu", serial);
    g->title = lv_buf_detach(&title);
    g->content = lv_buf_detach(&content);
    g->published = START + rnd01() * YEARS3;
    g->updated = rnd() % 10 == 0 ? g->published + rnd01() * 86400 * 30 : g->published;
    json_t *tagv = pick_tags();
    g->xml = atom_xml(g, author, tagv);
    g->text = plain_text(g, author, tagv);
    g->parsed =
        json_pack("{s:s, s:s, s:s, s:o, s:f, s:f, s:s, s:s, s:s}", "id", g->name, "title", g->title,
                  "content", g->content, "tags", tagv, "published", g->published, "updated",
                  g->updated, "author", author, "author_jid", author, "language", "en");
}

static void gen_release(struct gen_item *g)
{
    free(g->title);
    free(g->content);
    free(g->xml);
    free(g->text);
    json_decref(g->parsed);
}

/* ---- timing ---------------------------------------------------------------- */

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the process: the store's own cost, whatever else the machine
 * runs (the benchmark is single-threaded). */
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *ms, size_t n, double hits)
{
    qsort(ms, n, sizeof(*ms), cmp_double);
    printf("%-44s p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (avg %.1f results)\n",
           what, ms[n / 2], ms[(size_t)(n * 0.95)], ms[(size_t)(n * 0.99)], ms[n - 1], hits / n);
}

/* ---- loading --------------------------------------------------------------- */

static int64_t *node_ids;

static void make_nodes(struct lv_store *st, size_t authors)
{
    node_ids = lv_xmalloc(authors * sizeof(*node_ids));
    for (size_t a = 0; a < authors; a++) {
        char service[64];
        struct lv_store_cache_node n;
        struct lv_store_cache_node_info info = {true, "XEP-0277", "blog", NULL, NULL};
        snprintf(service, sizeof(service), "user%zu@example.org", a);
        if (lv_store_cache_node_ensure(st, "bench", service, LV_NS_MICROBLOG, &info, &n, NULL,
                                       NULL) != 0)
            exit(1);
        node_ids[a] = n.id;
        lv_store_cache_node_release(&n);
    }
}

static double insert_batch(struct lv_store *st, size_t first, size_t count, size_t author,
                           double *cpu_spent)
{
    struct gen_item *g = lv_xcalloc(count, sizeof(*g));
    struct lv_store_cache_item *items = lv_xcalloc(count, sizeof(*items));
    char jid[64];
    struct lv_error err = {0};
    snprintf(jid, sizeof(jid), "user%zu@example.org", author);
    for (size_t i = 0; i < count; i++) {
        gen_item(&g[i], first + i, jid);
        items[i] = (struct lv_store_cache_item){g[i].name,   g[i].xml,       g[i].text,
                                                g[i].parsed, g[i].published, g[i].updated};
    }
    double t0 = mono(), c0 = cpu();
    if (lv_store_cache_items_upsert(st, node_ids[author], items, count, &err) != 0) {
        fprintf(stderr, "insert: %s\n", err.msg);
        exit(1);
    }
    double dt = mono() - t0;
    *cpu_spent += cpu() - c0;
    for (size_t i = 0; i < count; i++)
        gen_release(&g[i]);
    free(g);
    free(items);
    return dt;
}

/* Batches go to the blogs in turn, as syncs of many nodes would. The rate
 * counts the time spent in the store only, not in generating the data. */
static void load(struct lv_store *st, const struct opts *o)
{
    double spent = 0, cpu_spent = 0, t0 = mono();
    bool tty = isatty(STDERR_FILENO);
    size_t done = 0;
    for (size_t b = 0; done < o->items; b++) {
        size_t count = o->items - done < o->batch ? o->items - done : o->batch;
        spent += insert_batch(st, done, count, b % o->authors, &cpu_spent);
        done += count;
        if (tty)
            fprintf(stderr, "\r%zu/%zu items, %.0f items/s in the store", done, o->items,
                    done / spent);
    }
    if (tty)
        fputc('\n', stderr);
    printf("inserted %zu items in batches of %zu: %.0f items/s (store time %.1f s; %.0f items "
           "per CPU second; wall %.1f s with data generation)\n",
           o->items, o->batch, o->items / spent, spent, o->items / cpu_spent, mono() - t0);
}

/* ---- queries --------------------------------------------------------------- */

static double timed_search(struct lv_store *st, json_t *q, double *hits)
{
    json_t *res = NULL;
    struct lv_error err = {0};
    double t0 = mono();
    if (lv_store_cache_search(st, q, &res, &err) != 0) {
        fprintf(stderr, "search: %s\n", err.msg);
        exit(1);
    }
    double ms = (mono() - t0) * 1000;
    *hits += (double)json_array_size(res);
    json_decref(res);
    json_decref(q);
    return ms;
}

/* A 1-2 word query: by_frequency draws words as they occur in texts
 * (common words, many matches); otherwise topic words, uniform outside the
 * 100 most frequent. */
static char *fts_words(bool by_frequency)
{
    size_t n = rnd_range(1, 2);
    struct lv_buf b = LV_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        size_t w = by_frequency ? zipf_draw(&word_dist) : rnd_range(100, VOCAB - 1);
        lv_buf_addf(&b, "%s%s", i ? " " : "", vocab[w]);
    }
    return lv_buf_detach(&b);
}

static void bench_fts(struct lv_store *st, const struct opts *o, bool by_frequency,
                      const char *order, const char *what)
{
    double *ms = lv_xmalloc(o->queries * sizeof(*ms)), hits = 0;
    for (size_t i = 0; i < o->queries; i++) {
        char *words = fts_words(by_frequency);
        json_t *q =
            json_pack("{s:s, s:i, s:[{s:s, s:s}]}", "fts", words, "limit", 20, "order_by", "order",
                      order, "direction", strcmp(order, "rank") == 0 ? "asc" : "desc");
        ms[i] = timed_search(st, q, &hits);
        free(words);
    }
    report(what, ms, o->queries, hits);
    free(ms);
}

static json_t *newest_first(void)
{
    return json_pack("[{s:s, s:s}]", "order", "published", "direction", "desc");
}

static void bench_tags(struct lv_store *st, const struct opts *o)
{
    double *ms = lv_xmalloc(o->queries * sizeof(*ms)), hits = 0;
    for (size_t i = 0; i < o->queries; i++) {
        const char *tag = tags[zipf_draw(&tag_dist)];
        json_t *q = json_pack("{s:[{s:[s], s:s, s:[s]}], s:i, s:o}", "parsed", "path", "tags", "op",
                              "overlap", "value", tag, "limit", 20, "order_by", newest_first());
        ms[i] = timed_search(st, q, &hits);
    }
    report("tag filter (overlap), newest first", ms, o->queries, hits);
    free(ms);
}

static void bench_dates(struct lv_store *st, const struct opts *o)
{
    double *ms = lv_xmalloc(o->queries * sizeof(*ms)), hits = 0;
    for (size_t i = 0; i < o->queries; i++) {
        double from = START + rnd01() * (YEARS3 - 7 * 86400);
        json_t *q = json_pack("{s:[{s:[s], s:s, s:[f, f]}], s:i, s:o}", "parsed", "path",
                              "published", "op", "between", "value", from, from + 7 * 86400,
                              "limit", 20, "order_by", newest_first());
        ms[i] = timed_search(st, q, &hits);
    }
    report("date range (7 days), newest first", ms, o->queries, hits);
    free(ms);
}

static void bench_tag_and_dates(struct lv_store *st, const struct opts *o)
{
    double *ms = lv_xmalloc(o->queries * sizeof(*ms)), hits = 0;
    for (size_t i = 0; i < o->queries; i++) {
        double from = START + rnd01() * (YEARS3 - 90 * 86400);
        json_t *q = json_pack(
            "{s:[{s:[s], s:s, s:[s]}, {s:[s], s:s, s:[f, f]}], s:i, s:o}", "parsed", "path", "tags",
            "op", "ioverlap", "value", tags[zipf_draw(&tag_dist)], "path", "published", "op",
            "between", "value", from, from + 90 * 86400, "limit", 20, "order_by", newest_first());
        ms[i] = timed_search(st, q, &hits);
    }
    report("tag (ioverlap) + 90-day range, newest first", ms, o->queries, hits);
    free(ms);
}

static void bench_node_page(struct lv_store *st, const struct opts *o)
{
    double *ms = lv_xmalloc(o->queries * sizeof(*ms)), hits = 0;
    struct lv_store_cache_page_req req;
    lv_store_cache_page_req_init(&req, 20);
    for (size_t i = 0; i < o->queries; i++) {
        struct lv_store_cache_page page;
        double t0 = mono();
        if (lv_store_cache_items_get(st, node_ids[rnd() % o->authors], &req, &page, NULL) != 0)
            exit(1);
        ms[i] = (mono() - t0) * 1000;
        hits += (double)page.n;
        lv_store_cache_page_release(&page);
    }
    report("node page of 20 (blog get -m 20)", ms, o->queries, hits);
    free(ms);
}

/* ---- the bound -------------------------------------------------------------- */

/* Steps of the bound as the daemon runs them, the cache being over it by
 * steps batches. */
static void bench_trim(struct lv_store *st, const struct opts *o)
{
    struct lv_store_cache_stats stats;
    if (lv_store_cache_stats(st, &stats, NULL) != 0 ||
        stats.items <= (int64_t)(o->trim_steps * LV_CACHE_TRIM_BATCH))
        return;
    int64_t bound = stats.items - (int64_t)(o->trim_steps * LV_CACHE_TRIM_BATCH);
    double *ms = lv_xmalloc(o->trim_steps * sizeof(*ms)), deleted = 0;
    for (size_t i = 0; i < o->trim_steps; i++) {
        size_t d = 0;
        struct lv_error err = {0};
        double t0 = mono();
        if (lv_store_cache_trim(st, bound, LV_CACHE_TRIM_BATCH, &d, NULL, &err) != 0) {
            fprintf(stderr, "trim: %s\n", err.msg);
            exit(1);
        }
        ms[i] = (mono() - t0) * 1000;
        deleted += (double)d;
    }
    char what[64];
    snprintf(what, sizeof(what), "bound: trim step of %d oldest items", LV_CACHE_TRIM_BATCH);
    report(what, ms, o->trim_steps, deleted);
    free(ms);
}

/* ---- main ------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: bench_cache [-n items] [-b batch] [-q queries] [-a authors] "
                    "[-d database | -u uri] [-k] [-r] [-s seed] [-T steps]\n");
    exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    int c;
    *o = (struct opts){1000000, 1000, 200, 1000, 0, NULL, false, false, false, 42};
    while ((c = getopt(argc, argv, "n:b:q:a:d:u:krs:T:")) != -1) {
        switch (c) {
        case 'n':
            o->items = strtoull(optarg, NULL, 10);
            break;
        case 'b':
            o->batch = strtoull(optarg, NULL, 10);
            break;
        case 'q':
            o->queries = strtoull(optarg, NULL, 10);
            break;
        case 'a':
            o->authors = strtoull(optarg, NULL, 10);
            break;
        case 'u':
            o->uri = true;
            /* fall through */
        case 'd':
            o->db = optarg;
            break;
        case 'k':
            o->keep = true;
            break;
        case 'r':
            o->reuse = o->keep = true;
            break;
        case 's':
            o->seed = strtoull(optarg, NULL, 10);
            break;
        case 'T':
            o->trim_steps = strtoull(optarg, NULL, 10);
            break;
        default:
            usage();
        }
    }
    if (!o->items || !o->batch || !o->queries || !o->authors || o->batch > 100000 ||
        (o->reuse && !o->db))
        usage();
}

/* A store behind a URI is not a file: emptied through the API instead. */
static int empty_store(struct lv_store *st, struct lv_error *err)
{
    int rc = lv_store_cache_reset(st, err);
    if (rc == 0) {
        rc = lv_store_profile_delete(st, "bench", err);
        rc = rc == LV_ERR_NOT_FOUND ? 0 : rc;
    }
    return rc;
}

static void remove_db(const char *path)
{
    const char *sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char *p = lv_xasprintf("%s%s", path, sfx[i]);
        unlink(p);
        free(p);
    }
}

static void run_queries(struct lv_store *st, const struct opts *o)
{
    bench_fts(st, o, false, "rank", "FTS, topic words, ranked, page of 20");
    bench_fts(st, o, true, "rank", "FTS, words by frequency, ranked, page of 20");
    bench_fts(st, o, false, "published", "FTS, topic words, newest first, page of 20");
    bench_tags(st, o);
    bench_dates(st, o);
    bench_tag_and_dates(st, o);
    bench_node_page(st, o);
}

int main(int argc, char **argv)
{
    struct opts o;
    struct lv_store *st;
    struct lv_error err = {0};
    struct lv_store_cache_stats stats;
    parse_opts(argc, argv, &o);
    setvbuf(stdout, NULL, _IOLBF, 0); /* figures as they come, also into a file */
    char *db = o.db ? lv_xstrdup(o.db) : lv_xasprintf("/tmp/bench_cache_%d.db", (int)getpid());
    lv_log_set_level(LV_LOG_WARN);
    rng_state = o.seed * 0x9E3779B97F4A7C15ULL + 1;
    if (!o.reuse && !o.uri)
        remove_db(db);
    if (lv_store_open(db, &st, &err) != 0 || (!o.reuse && o.uri && empty_store(st, &err) != 0) ||
        (!o.reuse && lv_store_profile_create(st, "bench", NULL, &err) != 0)) {
        fprintf(stderr, "%s: %s\n", db, err.msg);
        return 1;
    }
    vocab_init();
    make_nodes(st, o.authors < o.items ? o.authors : o.items);
    o.authors = o.authors < o.items ? o.authors : o.items;
    printf("bench_cache: %zu items, %zu blogs, vocabulary %d words, %d tags, database %s\n",
           o.items, o.authors, VOCAB, TAGS, db);
    if (!o.reuse)
        load(st, &o);
    if (lv_store_cache_stats(st, &stats, NULL) == 0)
        printf("database: %.1f MiB, %.0f bytes per item\n", stats.db_bytes / 1048576.0,
               (double)stats.db_bytes / (double)stats.items);
    run_queries(st, &o);
    if (o.trim_steps)
        bench_trim(st, &o);
    lv_store_close(st);
    if (!o.keep && !o.uri)
        remove_db(db);
    free(db);
    return 0;
}
