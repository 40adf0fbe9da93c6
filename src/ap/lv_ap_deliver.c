/* lv_ap_deliver: the persistent queue of outgoing ActivityPub POSTs.
 *
 * A row goes through three steps, all driven from the loop thread:
 *   1. picked: read from the store among the due rows, its URL split into
 *      Host and (request-target), its account's key taken from the cache
 *      (key_fn is asked once per account), its Digest computed;
 *   2. signed on libuv's pool (the only step off the loop: RSA signing
 *      costs about a millisecond), with a fresh Date;
 *   3. POSTed with lv_http_client; the outcome is written to the store.
 * A row counts against max_parallel and per_host_parallel from its pick to
 * its outcome, signing included, and sits in `running` meanwhile so that
 * the next reads of the due rows (it stays PENDING in the store) skip it.
 *
 * One timer does two jobs: a 0 ms start coalesces every kick of a loop
 * iteration (enqueues, completions) into one pick; otherwise it waits for
 * the next due row. Rows delivered meanwhile are deleted first, in one
 * transaction: until then their ids sit in `sent`, which the picks
 * skip as they skip `running`, so a delivered row is never sent again. */
#include "ap/lv_ap_deliver.h"

#include <ctype.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ap/lv_httpsig.h"
#include "core/lv_log.h"
#include "core/lv_map.h"
#include "core/lv_mem.h"
#include "store/lv_store_ap.h"

#define AREA "ap-deliver"

#define DEFAULT_MAX_PARALLEL 16u
#define DEFAULT_PER_HOST 4u
#define DEFAULT_BACKOFF_INITIAL_S 60u
#define DEFAULT_BACKOFF_MAX_S (6u * 3600u)
#define DEFAULT_GIVE_UP_S (2u * 86400u)
#define DEFAULT_TIMEOUT_MS 30000u

/* Due rows read per pick beyond those in flight: at least this many, more
 * when many slots are free, doubled while rows are skipped for their host's
 * cap, up to SCAN_MAX (a host with thousands of due rows may then delay the
 * others until its backlog shrinks). */
#define SCAN_MIN 16u
#define SCAN_MAX 4096u
#define RETRY_ALL_PAGE 256u
/* A peer's reason kept in last_error, in bytes. */
#define REASON_MAX 200u
/* Bodies looked at for a JSON {"error": "..."} reason. */
#define REASON_JSON_MAX 4096u
/* Retry delay after a store failure, and when due rows could not be
 * started although nothing is in flight. */
#define STORE_RETRY_MS 5000u
#define STALLED_RETRY_MS 100u
/* At most one warning per interval for failures that will be retried; the
 * others go to debug. */
#define WARN_INTERVAL_MS 60000u

struct job {
    struct lv_ap_deliver *d;
    struct job *prev, *next;
    uv_work_t work;
    struct lv_http_req *req; /* while the POST is in flight */
    bool signing;            /* while on the pool */
    int64_t id, created;
    int attempts;
    char idkey[24]; /* id as a `running` key */
    char *inbox, *key_id, *activity_id, *body;
    size_t body_len;
    char *host;   /* Host header: the URL's authority; the per-host key */
    char *target; /* (request-target): path and query as sent */
    char *digest;
    EVP_PKEY *key; /* a reference held while signing */
    char date[LV_HTTPSIG_DATE_LEN + 1];
    char *signature;
    int sign_rc;
    struct lv_error sign_err;
};

struct lv_ap_deliver {
    uv_loop_t *loop;
    struct lv_store *store;
    struct lv_http_client *http;
    struct lv_ap_deliver_config cfg;
    lv_ap_deliver_key_fn key_fn;
    void *key_ud;
    lv_ap_deliver_done_fn done_fn;
    void *done_ud;
    uv_timer_t timer;
    bool closing, timer_closed;
    bool picking, repick;
    struct lv_map keys;    /* account -> EVP_PKEY * */
    struct lv_map running; /* row id -> struct job * */
    struct lv_map sent;    /* row id -> (void *)1: delivered, not deleted yet */
    int64_t *sent_ids;     /* the same ids, for the batch delete */
    size_t n_sent, cap_sent;
    struct lv_map hosts; /* Host -> (void *)(uintptr_t) jobs to it */
    struct job *jobs;
    unsigned n_jobs, n_signing;
    uint64_t delivered, failed_attempts, given_up;
    uint64_t rng;
    uint64_t last_warn_ms;
    bool warned;
    unsigned quiet_failures; /* retried failures logged at debug since the last warning */
};

static void pick(struct lv_ap_deliver *d);

/* ---- small helpers ---- */

static int64_t now_ms_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* splitmix64: jitter only, no need for more. */
static double rnd01(struct lv_ap_deliver *d)
{
    uint64_t z = (d->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / (double)(1ULL << 53);
}

static unsigned host_count(const struct lv_ap_deliver *d, const char *host)
{
    return (unsigned)(uintptr_t)lv_map_get(&d->hosts, host);
}

static void host_add(struct lv_ap_deliver *d, const char *host, int delta)
{
    unsigned n = host_count(d, host) + (unsigned)delta;
    if (n)
        lv_map_put(&d->hosts, host, (void *)(uintptr_t)n);
    else
        lv_map_del(&d->hosts, host);
}

static bool visible_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static bool default_port(const char *scheme, const char *port)
{
    return (!strcmp(scheme, "https") && !strcmp(port, "443")) ||
           (!strcmp(scheme, "http") && !strcmp(port, "80"));
}

/* Host header and request-target of url, as curl will send them: curl
 * parses the URL the same way (dot segments removed, no fragment), and
 * leaves the port out of Host when it is the scheme's default. */
static int split_url(const char *url, char **host, char **target, struct lv_error *err)
{
    char *scheme = NULL, *h = NULL, *port = NULL, *path = NULL, *query = NULL;
    CURLU *u = curl_url();
    int rc = 0;
    *host = *target = NULL;
    if (!u)
        return lv_error_set(err, LV_ERR_INTERNAL, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, CURLU_PUNYCODE) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
        rc = lv_error_set(err, LV_ERR_INVAL, "bad inbox URL: %s", url);
    } else {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_get(u, CURLUPART_QUERY, &query, 0);
        *host =
            port && !default_port(scheme, port) ? lv_xasprintf("%s:%s", h, port) : lv_xstrdup(h);
        *target = query ? lv_xasprintf("%s?%s", path, query) : lv_xstrdup(path);
        for (char *c = *host; *c; c++) /* one per-host count whatever the case */
            *c = (char)tolower((unsigned char)*c);
        if (!**host || !visible_ascii(*host) || !visible_ascii(*target)) {
            rc = lv_error_set(err, LV_ERR_INVAL, "bad inbox URL: %s", url);
            free(*host);
            free(*target);
            *host = *target = NULL;
        }
    }
    curl_free(scheme);
    curl_free(h);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return rc;
}

/* ---- lifecycle ---- */

static void destroy(struct lv_ap_deliver *d)
{
    size_t pos = 0;
    const char *account;
    void *key;
    while (lv_map_next(&d->keys, &pos, &account, &key))
        EVP_PKEY_free(key);
    lv_map_release(&d->keys);
    lv_map_release(&d->running);
    lv_map_release(&d->sent);
    lv_map_release(&d->hosts);
    free(d->sent_ids);
    free(d);
}

/* Frees d once the queue is closing, its timer closed and every job gone.
 * Only called last in a loop callback: d may be gone afterwards. */
static void maybe_destroy(struct lv_ap_deliver *d)
{
    if (d->closing && d->timer_closed && !d->jobs)
        destroy(d);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct lv_ap_deliver *d = h->data;
    d->timer_closed = true;
    maybe_destroy(d);
}

static struct job *job_new(struct lv_ap_deliver *d, struct lv_ap_delivery_rec *r, char *host,
                           char *target)
{
    struct job *j = lv_xcalloc(1, sizeof(*j));
    j->d = d;
    j->id = r->id;
    j->created = r->created;
    j->attempts = r->attempts;
    snprintf(j->idkey, sizeof(j->idkey), "%" PRId64, r->id);
    /* The record's strings move into the job. */
    j->inbox = r->inbox;
    j->key_id = r->key_id;
    j->activity_id = r->activity_id;
    j->body = r->body;
    r->inbox = r->key_id = r->activity_id = r->body = NULL;
    j->body_len = strlen(j->body);
    j->host = host;
    j->target = target;
    j->work.data = j;
    j->next = d->jobs;
    if (d->jobs)
        d->jobs->prev = j;
    d->jobs = j;
    d->n_jobs++;
    lv_map_put(&d->running, j->idkey, j);
    if (j->host)
        host_add(d, j->host, 1);
    return j;
}

/* Unlinks and frees j. When the queue is closing, this may free d too. */
static void job_end(struct job *j)
{
    struct lv_ap_deliver *d = j->d;
    if (j->prev)
        j->prev->next = j->next;
    else
        d->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    d->n_jobs--;
    if (j->signing)
        d->n_signing--;
    lv_map_del(&d->running, j->idkey);
    if (j->host)
        host_add(d, j->host, -1);
    EVP_PKEY_free(j->key);
    free(j->inbox);
    free(j->key_id);
    free(j->activity_id);
    free(j->body);
    free(j->host);
    free(j->target);
    free(j->digest);
    free(j->signature);
    free(j);
    maybe_destroy(d);
}

/* ---- outcomes ---- */

static const char *status_phrase(long s)
{
    static const struct {
        long status;
        const char *phrase;
    } tab[] = {
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(tab); i++)
        if (tab[i].status == s)
            return tab[i].phrase;
    return NULL;
}

/* 410, and the 4xx that say "this request will never be accepted": the
 * others (401 may be a key the peer has not refetched yet, 408 and 429 are
 * about timing) and every 5xx are worth a retry. */
static bool status_permanent(long s)
{
    return s >= 400 && s < 500 && s != 401 && s != 408 && s != 429;
}

static int status_code(long s)
{
    if (s == 404 || s == 410)
        return LV_ERR_NOT_FOUND;
    if (s == 401 || s == 403)
        return LV_ERR_PERM;
    if (s == 408 || s == 429 || s >= 500)
        return LV_ERR_AGAIN;
    return LV_ERR_PROTO;
}

/* Appends text[0..len) as one line: control bytes and whitespace runs
 * become one space, cut to REASON_MAX bytes without splitting a UTF-8
 * sequence. */
static void add_reason(struct lv_buf *b, const char *text, size_t len)
{
    size_t start = b->len;
    bool space = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= 0x20 || c == 0x7f) {
            space = b->len > start;
            continue;
        }
        if (b->len - start + (space ? 2 : 1) > REASON_MAX)
            break;
        if (space)
            lv_buf_addc(b, ' ');
        space = false;
        lv_buf_addc(b, (char)c);
    }
    /* A cut inside a UTF-8 sequence drops its first bytes. */
    size_t k = b->len;
    while (k > start && ((unsigned char)b->data[k - 1] & 0xc0) == 0x80)
        k--;
    if (k > start && ((unsigned char)b->data[k - 1] & 0x80)) {
        unsigned char lead = (unsigned char)b->data[k - 1];
        size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (b->len - (k - 1) < need)
            b->len = k - 1;
    }
    if (b->data)
        b->data[b->len] = '\0';
}

/* "HTTP 410 Gone: <the peer's reason>". The reason is the body's
 * {"error": "..."} when it is such JSON (Mastodon), else the body itself. */
static void http_error(const struct lv_http_response *resp, struct lv_error *e)
{
    struct lv_buf b = LV_BUF_INIT;
    const char *phrase = status_phrase(resp->status);
    const char *text = resp->body.data;
    size_t len = resp->body.len;
    json_t *doc = NULL;
    lv_buf_addf(&b, "HTTP %ld%s%s", resp->status, phrase ? " " : "", phrase ? phrase : "");
    if (len && len <= REASON_JSON_MAX && text[0] == '{') {
        doc = lv_http_json_parse(text, len, NULL);
        json_t *msg = doc ? json_object_get(doc, "error") : NULL;
        if (json_is_string(msg)) {
            text = json_string_value(msg);
            len = json_string_length(msg);
        }
    }
    if (len) {
        lv_buf_adds(&b, ": ");
        add_reason(&b, text, len);
    }
    json_decref(doc);
    lv_error_set(e, status_code(resp->status), "%s", b.data);
    lv_buf_release(&b);
}

/* Seconds before the next try after `attempts` failures: initial *
 * 2^(attempts-1), capped, then +-10 % jitter (so that rows that failed
 * together do not come back together). */
static int64_t backoff_s(struct lv_ap_deliver *d, int attempts)
{
    double b = d->cfg.backoff_initial_s;
    for (int i = 1; i < attempts && b < d->cfg.backoff_max_s; i++)
        b *= 2;
    if (b > d->cfg.backoff_max_s)
        b = d->cfg.backoff_max_s;
    int64_t s = (int64_t)(b * (0.9 + 0.2 * rnd01(d)) + 0.5);
    return s < 1 ? 1 : s;
}

static void log_retry(struct lv_ap_deliver *d, const struct job *j, int attempts, int64_t delay,
                      const char *why)
{
    uint64_t now = uv_now(d->loop);
    if (!d->warned || now - d->last_warn_ms >= WARN_INTERVAL_MS) {
        lv_warn(AREA,
                "delivery %" PRId64 " of %s to %s failed (attempt %d), retrying in %" PRId64
                " s: %s (%u other failures since the last warning)",
                j->id, j->activity_id, j->inbox, attempts, delay, why, d->quiet_failures);
        d->warned = true;
        d->last_warn_ms = now;
        d->quiet_failures = 0;
        return;
    }
    d->quiet_failures++;
    lv_debug(AREA, "delivery %" PRId64 " to %s failed (attempt %d), retrying in %" PRId64 " s: %s",
             j->id, j->inbox, attempts, delay, why);
}

static void store_trouble(const char *what, int64_t id, const struct lv_error *e)
{
    lv_error(AREA, "cannot %s delivery %" PRId64 ": %s", what, id, e->msg);
}

/* Deletes the rows delivered since the last call, in one transaction. On
 * failure they stay in `sent` (never picked) and the next call tries
 * again; if none does (the queue is freed meanwhile), they are sent again
 * after a restart, which peers dedupe by activity id. */
static int flush_sent(struct lv_ap_deliver *d)
{
    struct lv_error err;
    if (d->n_sent == 0)
        return 0;
    int rc = lv_store_ap_delivery_delete_many(d->store, d->sent_ids, d->n_sent, &err);
    if (rc != 0) {
        lv_error(AREA, "cannot remove %zu delivered rows: %s", d->n_sent, err.msg);
        return rc;
    }
    d->n_sent = 0;
    lv_map_release(&d->sent);
    lv_map_init(&d->sent);
    return 0;
}

/* The row of j is delivered: deleted with the others of this loop
 * iteration, from the timer that kicks coalesce into (finish() kicks), or
 * at once once the queue is closing. */
static void mark_sent(struct lv_ap_deliver *d, const struct job *j)
{
    lv_grow((void **)&d->sent_ids, &d->cap_sent, d->n_sent + 1, sizeof(*d->sent_ids));
    d->sent_ids[d->n_sent++] = j->id;
    lv_map_put(&d->sent, j->idkey, (void *)1);
    if (d->closing)
        flush_sent(d);
}

static bool is_taken(const struct lv_ap_deliver *d, const char *idkey)
{
    return lv_map_get(&d->running, idkey) || lv_map_get(&d->sent, idkey);
}

/* Writes the outcome of one attempt of j's row to the store: e NULL means
 * delivered. */
static void record(struct lv_ap_deliver *d, struct job *j, const struct lv_error *e, bool permanent)
{
    struct lv_error serr;
    if (!e) {
        d->delivered++;
        lv_debug(AREA, "delivered %s to %s", j->activity_id, j->inbox);
        mark_sent(d, j);
        return;
    }
    d->failed_attempts++;
    int attempts = j->attempts + 1;
    int64_t now = time(NULL);
    int64_t deadline = j->created + (int64_t)d->cfg.give_up_after_s;
    const char *why = e->msg[0] ? e->msg : lv_err_str(e->code);
    if (permanent || now >= deadline) {
        d->given_up++;
        lv_info(AREA, "giving up delivery %" PRId64 " of %s to %s after %d attempt%s: %s", j->id,
                j->activity_id, j->inbox, attempts, attempts > 1 ? "s" : "", why);
        if (lv_store_ap_delivery_update(d->store, j->id, LV_AP_DELIVERY_FAILED, attempts, now, why,
                                        &serr) != 0)
            store_trouble("record failed", j->id, &serr);
        return;
    }
    /* The last try happens at the deadline rather than a backoff later. */
    int64_t next = now + backoff_s(d, attempts);
    if (next > deadline)
        next = deadline;
    log_retry(d, j, attempts, next - now, why);
    if (lv_store_ap_delivery_update(d->store, j->id, LV_AP_DELIVERY_PENDING, attempts, next, why,
                                    &serr) != 0)
        store_trouble("reschedule", j->id, &serr);
}

/* Ends an attempt: records it, tells done_fn, frees the job and looks for
 * more work. done_fn may free the queue: d then stays valid until the
 * timer's close callback, and pick() does nothing. */
static void finish(struct job *j, long status, const struct lv_error *e, bool permanent)
{
    struct lv_ap_deliver *d = j->d;
    record(d, j, e, permanent);
    if (d->done_fn)
        d->done_fn(d->done_ud, j->id, j->inbox, status, e);
    job_end(j);
    lv_ap_deliver_kick(d);
}

/* ---- the POST ---- */

static void on_sent(struct lv_http_response *resp, const struct lv_error *err, void *ud)
{
    struct job *j = ud;
    struct lv_ap_deliver *d = j->d;
    j->req = NULL;
    if (d->closing) { /* cancelled by lv_ap_deliver_free(): not an attempt */
        job_end(j);
        return;
    }
    if (err) {
        finish(j, resp->status, err, false);
        return;
    }
    if (resp->status >= 200 && resp->status < 300) {
        finish(j, resp->status, NULL, false);
        return;
    }
    struct lv_error e;
    http_error(resp, &e);
    finish(j, resp->status, &e, status_permanent(resp->status));
}

static void send_post(struct job *j)
{
    struct lv_ap_deliver *d = j->d;
    const struct lv_http_header headers[] = {
        {"Host", j->host},
        {"Date", j->date},
        {"Digest", j->digest},
        {"Signature", j->signature},
        {"Content-Type", "application/activity+json"},
        {"Accept", "application/activity+json"},
    };
    /* No redirects: the signature covers the target, and a redirected
     * POST would carry a signature for the wrong one. */
    const struct lv_http_request q = {
        .method = "POST",
        .url = j->inbox,
        .headers = headers,
        .n_headers = LV_ARRAY_LEN(headers),
        .body = j->body,
        .body_len = j->body_len,
        .timeout_ms = d->cfg.timeout_ms,
        .no_redirects = true,
    };
    struct lv_error err;
    lv_debug(AREA, "POST %s (delivery %" PRId64 ", attempt %d)", j->inbox, j->id, j->attempts + 1);
    if (lv_http_client_request(d->http, &q, on_sent, j, &j->req, &err) != 0) {
        finish(j, 0, &err, err.code == LV_ERR_INVAL);
        return;
    }
    /* The client copied what it sends. */
    free(j->body);
    free(j->signature);
    j->body = j->signature = NULL;
}

/* ---- signing on the pool ---- */

/* On a pool thread: touches nothing but j, whose fields are not used by
 * the loop until sign_done(). */
static void sign_work(uv_work_t *w)
{
    struct job *j = w->data;
    lv_httpsig_format_date(time(NULL), j->date);
    const struct lv_httpsig_out o = {
        .method = "POST",
        .target = j->target,
        .host = j->host,
        .date = j->date,
        .digest = j->digest,
    };
    lv_error_clear(&j->sign_err);
    j->sign_rc = lv_httpsig_sign(&o, j->key_id, j->key, &j->signature, &j->sign_err);
}

static void sign_done(uv_work_t *w, int status)
{
    struct job *j = w->data;
    struct lv_ap_deliver *d = j->d;
    j->signing = false;
    d->n_signing--;
    EVP_PKEY_free(j->key);
    j->key = NULL;
    if (d->closing || status != 0) {
        job_end(j);
        return;
    }
    if (j->sign_rc != 0) {
        finish(j, 0, &j->sign_err, false);
        return;
    }
    send_post(j);
}

/* ---- picking due rows ---- */

/* The account's private key, from the cache or key_fn (borrowed). */
static int get_key(struct lv_ap_deliver *d, const char *account, EVP_PKEY **key,
                   struct lv_error *err)
{
    *key = lv_map_get(&d->keys, account);
    if (*key)
        return 0;
    lv_error_clear(err);
    int rc = d->key_fn(d->key_ud, account, key, err);
    if (rc == 0 && !*key)
        rc = lv_error_set(err, LV_ERR_INTERNAL, "no key for %s", account);
    if (rc != 0) {
        if (!err->msg[0])
            lv_error_set(err, rc, "no key for %s: %s", account, lv_err_str(rc));
        return rc;
    }
    lv_map_put(&d->keys, account, *key);
    return 0;
}

/* Starts row r unless its host is at its cap. Returns whether r was taken
 * (started, or already finished as a failure). */
static bool start(struct lv_ap_deliver *d, struct lv_ap_delivery_rec *r)
{
    char *host, *target;
    EVP_PKEY *key;
    struct lv_error err;
    if (split_url(r->inbox, &host, &target, &err) != 0) {
        finish(job_new(d, r, NULL, NULL), 0, &err, true);
        return true;
    }
    if (host_count(d, host) >= d->cfg.per_host_parallel) {
        free(host);
        free(target);
        return false;
    }
    char *account = r->account; /* borrowed from r for key_fn */
    struct job *j = job_new(d, r, host, target);
    if (get_key(d, account, &key, &err) != 0) {
        finish(j, 0, &err, false);
        return true;
    }
    if (d->closing) { /* key_fn freed the queue */
        job_end(j);
        return true;
    }
    j->digest = lv_httpsig_digest(j->body, j->body_len);
    EVP_PKEY_up_ref(key);
    j->key = key;
    j->signing = true;
    d->n_signing++;
    int rc = uv_queue_work(d->loop, &j->work, sign_work, sign_done);
    if (rc != 0) {
        lv_error_set(&err, LV_ERR_INTERNAL, "cannot queue signing: %s", uv_strerror(rc));
        finish(j, 0, &err, false);
    }
    return true;
}

enum pick_result {
    PICK_STORE_FAILED,
    PICK_ALL,     /* every due row seen is in flight now */
    PICK_BACKLOG, /* due rows wait for a free slot or their host */
};

/* Reads due rows and starts those it can. */
static enum pick_result pick_once(struct lv_ap_deliver *d)
{
    size_t extra = 2 * (size_t)(d->cfg.max_parallel - d->n_jobs);
    if (extra < SCAN_MIN)
        extra = SCAN_MIN;
    for (;;) {
        if (d->closing || d->n_jobs >= d->cfg.max_parallel)
            return PICK_BACKLOG;
        struct lv_ap_delivery_rec *rows = NULL;
        size_t n = 0, limit = d->n_jobs + extra;
        struct lv_error err;
        if (lv_store_ap_delivery_due(d->store, time(NULL), limit, &rows, &n, &err) != 0) {
            lv_error(AREA, "cannot read due deliveries: %s", err.msg);
            return PICK_STORE_FAILED;
        }
        bool skipped = false, left = false;
        for (size_t i = 0; i < n; i++) {
            char idkey[24];
            snprintf(idkey, sizeof(idkey), "%" PRId64, rows[i].id);
            if (is_taken(d, idkey))
                ; /* in flight, or delivered: still PENDING in the store */
            else if (d->closing || d->n_jobs >= d->cfg.max_parallel)
                left = true;
            else if (!start(d, &rows[i]))
                skipped = true;
            lv_ap_delivery_rec_release(&rows[i]);
        }
        free(rows);
        if (n < limit && !skipped && !left)
            return PICK_ALL;
        /* Read further only when slots are free and rows beyond the
         * limit may fit them. */
        if (left || n < limit || extra >= SCAN_MAX)
            return PICK_BACKLOG;
        extra *= 2;
    }
}

static void on_timer(uv_timer_t *t)
{
    pick(t->data);
}

/* Waits for the next due row, unless completions will pick again anyway:
 * while due rows wait for a slot or their host, rows due later come after
 * them. */
static void arm_timer(struct lv_ap_deliver *d, enum pick_result picked)
{
    int64_t when;
    struct lv_error err;
    uint64_t delay;
    if (picked == PICK_STORE_FAILED) {
        delay = STORE_RETRY_MS;
    } else if (picked == PICK_BACKLOG && d->n_jobs > 0) {
        uv_timer_stop(&d->timer);
        return;
    } else {
        int rc = lv_store_ap_delivery_next(d->store, &when, &err);
        int64_t now = now_ms_wall();
        if (rc == LV_ERR_NOT_FOUND) {
            uv_timer_stop(&d->timer);
            return;
        }
        if (rc != 0) {
            lv_error(AREA, "cannot read the next delivery time: %s", err.msg);
            delay = STORE_RETRY_MS;
        } else if (when * 1000 > now) {
            /* Past the second boundary, so the row is due by then. */
            delay = (uint64_t)(when * 1000 - now) + 1;
        } else if (d->n_jobs) {
            /* The due rows are in flight: each completion picks again. */
            uv_timer_stop(&d->timer);
            return;
        } else {
            /* Due now but not seen by the pick (the clock just passed a
             * second): soon again. */
            delay = STALLED_RETRY_MS;
        }
    }
    uv_timer_start(&d->timer, on_timer, delay, 0);
}

static void pick(struct lv_ap_deliver *d)
{
    if (d->closing)
        return;
    if (d->picking) { /* kicked from inside (done_fn, key_fn) */
        d->repick = true;
        return;
    }
    enum pick_result picked;
    d->picking = true;
    /* Rows delivered and not deleted stay due in the store: while their
     * deletion fails, wait as after any store failure rather than as for a
     * due row that nothing picks. */
    bool flushed = flush_sent(d) == 0;
    do {
        d->repick = false;
        picked = pick_once(d);
    } while (picked != PICK_STORE_FAILED && d->repick && !d->closing);
    d->picking = false;
    if (!d->closing)
        arm_timer(d, flushed ? picked : PICK_STORE_FAILED);
}

/* ---- public functions ---- */

static void config_defaults(struct lv_ap_deliver_config *c, const struct lv_ap_deliver_config *in)
{
    if (in)
        *c = *in;
    else
        memset(c, 0, sizeof(*c));
    if (!c->max_parallel)
        c->max_parallel = DEFAULT_MAX_PARALLEL;
    if (!c->per_host_parallel)
        c->per_host_parallel = DEFAULT_PER_HOST;
    if (!c->backoff_initial_s)
        c->backoff_initial_s = DEFAULT_BACKOFF_INITIAL_S;
    if (!c->backoff_max_s)
        c->backoff_max_s = DEFAULT_BACKOFF_MAX_S;
    if (c->backoff_max_s < c->backoff_initial_s)
        c->backoff_max_s = c->backoff_initial_s;
    if (!c->give_up_after_s)
        c->give_up_after_s = DEFAULT_GIVE_UP_S;
    if (!c->timeout_ms)
        c->timeout_ms = DEFAULT_TIMEOUT_MS;
}

int lv_ap_deliver_new(uv_loop_t *loop, struct lv_store *store, struct lv_http_client *http,
                      const struct lv_ap_deliver_config *cfg, lv_ap_deliver_key_fn key_fn,
                      void *key_ud, struct lv_ap_deliver **out, struct lv_error *err)
{
    *out = NULL;
    if (!loop || !store || !http || !key_fn)
        return lv_error_set(err, LV_ERR_INVAL,
                            "delivery queue needs a loop, store, client and key");
    struct lv_ap_deliver *d = lv_xcalloc(1, sizeof(*d));
    d->loop = loop;
    d->store = store;
    d->http = http;
    config_defaults(&d->cfg, cfg);
    d->key_fn = key_fn;
    d->key_ud = key_ud;
    lv_map_init(&d->keys);
    lv_map_init(&d->running);
    lv_map_init(&d->sent);
    lv_map_init(&d->hosts);
    d->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)d;
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    lv_ap_deliver_kick(d); /* rows left from a previous run */
    *out = d;
    return 0;
}

void lv_ap_deliver_set_done_fn(struct lv_ap_deliver *d, lv_ap_deliver_done_fn fn, void *ud)
{
    d->done_fn = fn;
    d->done_ud = ud;
}

void lv_ap_deliver_free(struct lv_ap_deliver *d)
{
    if (!d || d->closing)
        return;
    d->closing = true;
    flush_sent(d);
    /* A cancelled request's callback ends its job at once; a signing job
     * ends in sign_done(), at once if it had not started (UV_ECANCELED),
     * else when the pool is done with it. */
    for (struct job *j = d->jobs, *next; j; j = next) {
        next = j->next;
        if (j->req)
            lv_http_cancel(j->req);
        else if (j->signing)
            uv_cancel((uv_req_t *)&j->work);
    }
    uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}

/* Whether url is one the queue can POST to (as start() will split it). */
static int check_inbox(const char *url, struct lv_error *err)
{
    char *host, *target;
    if (!url)
        return lv_error_set(err, LV_ERR_INVAL, "no inbox URL");
    int rc = split_url(url, &host, &target, err);
    free(host);
    free(target);
    return rc;
}

int lv_ap_deliver_enqueue(struct lv_ap_deliver *d, const char *inbox, const char *account,
                          const char *key_id, const char *activity_id, const char *body,
                          int64_t *id, struct lv_error *err)
{
    int rc = check_inbox(inbox, err);
    if (rc != 0)
        return rc;
    rc = lv_store_ap_delivery_add(d->store, inbox, account, key_id, activity_id, body, time(NULL),
                                  id, err);
    if (rc == 0)
        lv_ap_deliver_kick(d);
    return rc;
}

int lv_ap_deliver_enqueue_many(struct lv_ap_deliver *d, const char *const *inboxes, size_t n,
                               const char *account, const char *key_id, const char *activity_id,
                               const char *body, int64_t *ids, struct lv_error *err)
{
    struct lv_ap_delivery_new *rows = lv_xcalloc(n ? n : 1, sizeof(*rows));
    size_t *at = lv_xcalloc(n ? n : 1, sizeof(*at)); /* rows[k] is inboxes[at[k]] */
    int64_t *row_ids = lv_xcalloc(n ? n : 1, sizeof(*row_ids));
    size_t nrows = 0;
    if (ids && n)
        memset(ids, 0, n * sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        if (check_inbox(inboxes[i], NULL) != 0)
            continue;
        rows[nrows] = (struct lv_ap_delivery_new){inboxes[i], account, key_id, activity_id, body};
        at[nrows++] = i;
    }
    int rc = 0;
    if (n > 0 && nrows == 0)
        rc = lv_error_set(err, LV_ERR_INVAL, "no valid inbox URL among %zu", n);
    if (rc == 0)
        rc = lv_store_ap_delivery_add_many(d->store, rows, nrows, time(NULL), row_ids, err);
    for (size_t k = 0; rc == 0 && ids && k < nrows; k++)
        ids[at[k]] = row_ids[k];
    if (rc == 0 && nrows > 0)
        lv_ap_deliver_kick(d);
    free(rows);
    free(at);
    free(row_ids);
    return rc;
}

void lv_ap_deliver_kick(struct lv_ap_deliver *d)
{
    if (d && !d->closing)
        uv_timer_start(&d->timer, on_timer, 0, 0);
}

int lv_ap_deliver_retry_all(struct lv_ap_deliver *d, struct lv_error *err)
{
    int64_t now = time(NULL);
    size_t offset = 0, n;
    do {
        struct lv_ap_delivery_rec *rows = NULL;
        int rc = lv_store_ap_delivery_list(d->store, LV_AP_DELIVERY_PENDING, RETRY_ALL_PAGE, offset,
                                           &rows, &n, err);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            struct lv_ap_delivery_rec *r = &rows[i];
            char idkey[24];
            snprintf(idkey, sizeof(idkey), "%" PRId64, r->id);
            /* Rows in flight get their outcome written by their job. */
            if (rc == 0 && r->next_attempt > now && !is_taken(d, idkey))
                rc = lv_store_ap_delivery_update(d->store, r->id, LV_AP_DELIVERY_PENDING,
                                                 r->attempts, now, r->last_error, err);
            lv_ap_delivery_rec_release(r);
        }
        free(rows);
        if (rc != 0)
            return rc;
        offset += n;
    } while (n == RETRY_ALL_PAGE);
    lv_ap_deliver_kick(d);
    return 0;
}

void lv_ap_deliver_forget_key(struct lv_ap_deliver *d, const char *account)
{
    EVP_PKEY_free(lv_map_del(&d->keys, account));
}

void lv_ap_deliver_stats(const struct lv_ap_deliver *d, struct lv_ap_deliver_stats *out)
{
    out->delivered = d->delivered;
    out->failed_attempts = d->failed_attempts;
    out->given_up = d->given_up;
    out->in_flight = d->n_jobs;
    out->signing = d->n_signing;
}
