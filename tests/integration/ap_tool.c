/* ap_tool: a signed-ActivityPub client and a fake remote server, to attack
 * and load the gateway's inboxes (tests/integration/ap_security.sh,
 * bench/ap_inbound.sh).
 *
 * Actors are https://NAME/users/uK (K = 0..N-1), each with its own RSA-2048
 * key in DIR/uK.pem (PKCS#8), generated once (in parallel threads) and
 * reused by later runs and by the other commands.
 *
 *   ap_tool keys --keys DIR --actors N [--threads T]
 *       Generates (or checks) the N keys and exits.
 *
 *   ap_tool serve --port P --host NAME --actors N --keys DIR [--ca FILE]
 *       Serves the N actors over plain HTTP on 127.0.0.1:P (behind nginx,
 *       which terminates TLS for NAME): WebFinger (acct:uK@NAME), actor
 *       documents (publicKey, inbox, empty outbox/followers/following),
 *       inboxes (POST /users/uK/inbox and the shared POST /inbox) that
 *       record what they get, and answer a Follow of uK with a signed
 *       Accept embedding the Follow, POSTed to the inbox of the follower's
 *       actor (fetched over https, trusting --ca as well as the system
 *       store). GET /stats: JSON counts (total, by type, invalid, unsigned,
 *       accepts sent / failed) and the last activities received; POST
 *       /reset clears them. Prints "READY <port>" once listening; runs until
 *       SIGTERM or SIGINT.
 *
 *   ap_tool send --url URL --actor-base https://NAME --actor K --keys DIR
 *                [--host HOST] [--type TYPE] [--object URL] [--body-file F]
 *                [--no-sign] [--bad-signature] [--bad-digest]
 *                [--date-offset SECONDS] [--signer K2] [--repeat-id ID]
 *                [--content TEXT] [--ca FILE]
 *       One POST of an activity of actor K (default type Create with an
 *       embedded Note; Follow and the others take --object), or of the bytes
 *       of F as they are. Signed as the gateway expects (draft-cavage,
 *       rsa-sha256, "(request-target) host date digest", Digest SHA-256)
 *       unless --no-sign. Attacks: --bad-signature (one base64 character of
 *       the signature changed), --bad-digest (the Digest of other bytes,
 *       correctly signed), --date-offset (Date moved, e.g. -7200),
 *       --signer K2 (signed with actor K2's key and keyId while "actor" is
 *       K), --repeat-id ID (the activity id is ID instead of a fresh one).
 *       --host sets the Host header (and the signed host) when the URL
 *       points at 127.0.0.1. Prints the HTTP status on the first line, then
 *       the body; the activity id goes to stderr. Exit 0 whatever the HTTP
 *       status; 1 when no answer came (status 0), 2 on bad usage.
 *
 *   ap_tool load --url http://IP:PORT/PATH --host HOST --actor-base https://NAME
 *                --actors N --keys DIR --count C --concurrency K
 *                [--threads T] [--tag TAG] [--watch PID,PID...] [--close]
 *       C signed Create(Note) activities from the N actors round-robin, each
 *       with a unique id (".../activities/TAG-RUN-I", Note
 *       ".../notes/TAG-RUN-I", RUN random per invocation), K requests in
 *       flight on K keep-alive connections (--close: a new connection for
 *       each request). All C requests are signed and
 *       serialised BEFORE the timed phase, on T threads (default: online
 *       CPUs), so that signing (about 1 ms of CPU per RSA-2048 signature)
 *       neither limits the rate nor takes CPU from the server while it is
 *       measured; the timed phase only writes prepared bytes (plain HTTP/1.1
 *       on libuv, no TLS: point it at the gateway's own port). Prints the
 *       figures as JSON on the last line of stdout: accepted (202) per
 *       second, requests per second, p50/p90/p99/max latency in ms, the
 *       status histogram, transport errors, requests not sent, how signing
 *       was done, start_epoch, and the CPU seconds used during the timed
 *       phase by ap_tool, the whole machine and each --watch PID. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ap/lv_ap_json.h"
#include "ap/lv_http.h"
#include "ap/lv_http_client.h"
#include "ap/lv_httpsig.h"
#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_map.h"
#include "core/lv_mem.h"

#define ACTORS_MAX 100000u
#define RECENT_MAX 100
#define BODY_FILE_MAX ((size_t)16 << 20)
#define SEND_TIMEOUT_MS 30000u
#define CT_AP "application/activity+json"

/* ---- options ---- */

struct opts {
    const char *cmd;
    unsigned port;
    const char *host; /* serve: the public name; send/load: the Host header */
    unsigned actors;
    const char *keys;
    const char *ca;
    const char *url;
    const char *actor_base;
    unsigned actor, signer; /* signer: UINT_MAX = the actor */
    const char *type;
    const char *object;
    const char *body_file;
    bool no_sign, bad_signature, bad_digest;
    long date_offset;
    const char *repeat_id;
    const char *content;
    unsigned count, concurrency, threads;
    const char *tag;
    const char *watch; /* load: PIDs whose CPU time is reported */
    bool close;        /* load: one connection per request */
};

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  ap_tool keys  --keys DIR --actors N [--threads T]\n"
          "  ap_tool serve --port P --host NAME --actors N --keys DIR [--ca FILE]\n"
          "  ap_tool send  --url URL --actor-base https://NAME --actor K --keys DIR\n"
          "                [--host HOST] [--type TYPE] [--object URL] [--body-file F]\n"
          "                [--no-sign] [--bad-signature] [--bad-digest] [--date-offset S]\n"
          "                [--signer K2] [--repeat-id ID] [--content TEXT] [--ca FILE]\n"
          "  ap_tool load  --url http://IP:PORT/PATH --host HOST --actor-base https://NAME\n"
          "                --actors N --keys DIR --count C --concurrency K\n"
          "                [--threads T] [--tag TAG] [--watch PID,PID...] [--close]\n",
          f);
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || !*s || *end || *s == '-' || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

/* The command-line options, as a table: each one sets a field of struct
 * opts. */
enum opt_kind { K_STR, K_FLAG, K_UINT, K_LONG };

struct opt_def {
    const char *name;
    enum opt_kind kind;
    size_t off;
    unsigned max; /* K_UINT */
    bool nonzero; /* K_UINT: 0 is refused */
};

#define OPT(name, kind, field, max, nonzero)                                                       \
    {                                                                                              \
        name, kind, offsetof(struct opts, field), max, nonzero                                     \
    }

static const struct opt_def opt_defs[] = {
    OPT("port", K_UINT, port, 65535, false),
    OPT("host", K_STR, host, 0, false),
    OPT("actors", K_UINT, actors, ACTORS_MAX, true),
    OPT("keys", K_STR, keys, 0, false),
    OPT("ca", K_STR, ca, 0, false),
    OPT("url", K_STR, url, 0, false),
    OPT("actor-base", K_STR, actor_base, 0, false),
    OPT("actor", K_UINT, actor, ACTORS_MAX, false),
    OPT("signer", K_UINT, signer, ACTORS_MAX, false),
    OPT("type", K_STR, type, 0, false),
    OPT("object", K_STR, object, 0, false),
    OPT("body-file", K_STR, body_file, 0, false),
    OPT("no-sign", K_FLAG, no_sign, 0, false),
    OPT("bad-signature", K_FLAG, bad_signature, 0, false),
    OPT("bad-digest", K_FLAG, bad_digest, 0, false),
    OPT("date-offset", K_LONG, date_offset, 0, false),
    OPT("repeat-id", K_STR, repeat_id, 0, false),
    OPT("content", K_STR, content, 0, false),
    OPT("count", K_UINT, count, 10000000, true),
    OPT("concurrency", K_UINT, concurrency, 4096, true),
    OPT("threads", K_UINT, threads, 256, false),
    OPT("tag", K_STR, tag, 0, false),
    OPT("watch", K_STR, watch, 0, false),
    OPT("close", K_FLAG, close, 0, false),
};

static bool set_opt(const struct opt_def *d, const char *arg, struct opts *o)
{
    char *field = (char *)o + d->off;
    char *end;
    switch (d->kind) {
    case K_STR:
        *(const char **)(void *)field = arg;
        return true;
    case K_FLAG:
        *(bool *)(void *)field = true;
        return true;
    case K_UINT:
        return parse_uint(arg, d->max, (unsigned *)(void *)field) &&
               (!d->nonzero || *(unsigned *)(void *)field);
    case K_LONG:
        errno = 0;
        *(long *)(void *)field = strtol(arg, &end, 10);
        return !errno && *arg && !*end;
    }
    return false;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    enum { N = LV_ARRAY_LEN(opt_defs), HELP = 256 + N };
    struct option longs[N + 2];
    for (size_t i = 0; i < N; i++)
        longs[i] = (struct option){opt_defs[i].name,
                                   opt_defs[i].kind == K_FLAG ? no_argument : required_argument,
                                   NULL, 256 + (int)i};
    longs[N] = (struct option){"help", no_argument, NULL, HELP};
    longs[N + 1] = (struct option){NULL, 0, NULL, 0};
    if (argc < 2)
        return -1;
    o->cmd = argv[1];
    o->type = "Create";
    o->tag = "load";
    o->concurrency = 16;
    o->signer = UINT_MAX; /* none: the actor signs */
    optind = 2;
    int c;
    bool ok = true;
    while (ok && (c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == HELP) {
            usage(stdout);
            exit(0);
        }
        ok = c >= 256 && c < HELP && set_opt(&opt_defs[c - 256], optarg, o);
    }
    return ok && optind == argc ? 0 : -1;
}

/* ---- small helpers ---- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) used by the process so far. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds (user + system) of process pid, or -1 (Linux /proc). */
static double proc_cpu_s(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* after "(comm) ": state is field 3; utime and stime are fields 14, 15 */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds used by the whole machine (all cores) since boot. */
static double machine_cpu_s(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8)
        return -1;
    /* user nice system (idle iowait) irq softirq steal */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double epoch_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n random bytes as 2n hex digits into out (2n + 1 bytes). */
static void rand_hex(char *out, size_t n)
{
    unsigned char b[32];
    if (n > sizeof(b))
        n = sizeof(b);
    if (RAND_bytes(b, (int)n) != 1) {
        fprintf(stderr, "ap_tool: no random bytes\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 256 ? (unsigned)n : 1;
}

static char *actor_url(const char *base, unsigned k)
{
    return lv_xasprintf("%s/users/u%u", base, k);
}

/* The parts of an http(s) URL: authority and request target (caller frees
 * both). 0, or -1 for anything else. */
static int split_url(const char *url, bool *https, char **authority, char **target)
{
    const char *p;
    if (strncmp(url, "https://", 8) == 0)
        *https = true, p = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        *https = false, p = url + 7;
    else
        return -1;
    size_t n = strcspn(p, "/?#");
    if (!n)
        return -1;
    *authority = lv_xstrndup(p, n);
    const char *rest = p + n;
    size_t tn = strcspn(rest, "#");
    *target = tn ? lv_xstrndup(rest, tn) : lv_xstrdup("/");
    if (**target == '?') {
        char *t = lv_xasprintf("/%s", *target);
        free(*target);
        *target = t;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct lv_buf b;
    lv_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < BODY_FILE_MAX)
        lv_buf_add(&b, chunk, n);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) {
        lv_buf_release(&b);
        return NULL;
    }
    *len = b.len;
    return b.data ? lv_buf_detach(&b) : lv_xstrdup("");
}

/* ---- keys ---- */

static char *key_path(const char *dir, unsigned k)
{
    return lv_xasprintf("%s/u%u.pem", dir, k);
}

static int write_key(const char *path, const char *pem)
{
    char *tmp = lv_xasprintf("%s.tmp.%ld.%lu", path, (long)getpid(), (unsigned long)pthread_self());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(pem);
    bool ok = fd >= 0 && write(fd, pem, len) == (ssize_t)len;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    ok = ok && rename(tmp, path) == 0;
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

/* Loads actor k's key from dir, generating and saving it when missing.
 * Thread-safe (no logging; the message goes to err). */
static int key_get(const char *dir, unsigned k, EVP_PKEY **out, struct lv_error *err)
{
    char *path = key_path(dir, k);
    size_t len = 0;
    char *pem = read_file(path, &len);
    int rc;
    if (pem) {
        rc = lv_httpsig_load_private(pem, len, out, err);
    } else {
        char *pub = NULL;
        rc = lv_httpsig_keygen(2048, &pem, &pub, err);
        free(pub);
        if (rc == 0 && write_key(path, pem) != 0)
            rc = lv_error_set(err, LV_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        if (rc == 0)
            rc = lv_httpsig_load_private(pem, strlen(pem), out, err);
    }
    free(pem);
    free(path);
    return rc;
}

struct keyset {
    const char *dir;
    unsigned n;
    EVP_PKEY **keys;
    atomic_uint next;
    atomic_int failed;
    struct lv_error err; /* the first failure */
    pthread_mutex_t lock;
};

static void *keys_worker(void *arg)
{
    struct keyset *ks = arg;
    unsigned k;
    while ((k = atomic_fetch_add(&ks->next, 1)) < ks->n && !atomic_load(&ks->failed)) {
        struct lv_error e = {0};
        if (key_get(ks->dir, k, &ks->keys[k], &e) != 0) {
            pthread_mutex_lock(&ks->lock);
            if (!atomic_exchange(&ks->failed, 1))
                ks->err = e;
            pthread_mutex_unlock(&ks->lock);
        }
    }
    return NULL;
}

/* The keys of actors 0..n-1 (loaded or made, in threads threads). */
static EVP_PKEY **keys_load_all(const char *dir, unsigned n, unsigned threads)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "ap_tool: cannot create %s: %s\n", dir, strerror(errno));
        return NULL;
    }
    struct keyset ks = {.dir = dir, .n = n};
    ks.keys = lv_xcalloc(n, sizeof(*ks.keys));
    pthread_mutex_init(&ks.lock, NULL);
    if (!threads)
        threads = online_cpus();
    if (threads > n)
        threads = n;
    pthread_t *tid = lv_xcalloc(threads, sizeof(*tid));
    double t0 = mono_s();
    for (unsigned i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, keys_worker, &ks);
    for (unsigned i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    free(tid);
    pthread_mutex_destroy(&ks.lock);
    if (atomic_load(&ks.failed)) {
        fprintf(stderr, "ap_tool: keys: %s\n", ks.err.msg);
        for (unsigned i = 0; i < n; i++)
            EVP_PKEY_free(ks.keys[i]);
        free(ks.keys);
        return NULL;
    }
    fprintf(stderr, "ap_tool: %u keys ready in %s (%.1f s, %u threads)\n", n, dir, mono_s() - t0,
            threads);
    return ks.keys;
}

static void keys_free(EVP_PKEY **keys, unsigned n)
{
    for (unsigned i = 0; keys && i < n; i++)
        EVP_PKEY_free(keys[i]);
    free(keys);
}

/* ---- signing ---- */

/* The headers of a signed POST. Strings owned. */
struct post_headers {
    char date[LV_HTTPSIG_DATE_LEN + 1];
    char *digest;
    char *signature; /* NULL: unsigned */
};

static void post_headers_release(struct post_headers *h)
{
    free(h->digest);
    free(h->signature);
}

/* Date, Digest and (with key) Signature for POSTing body to target on
 * host. Thread-safe. */
static int sign_post(const char *target, const char *host, const char *body, size_t len,
                     time_t date, const char *digest_of, size_t digest_len, const char *key_id,
                     EVP_PKEY *key, struct post_headers *h, struct lv_error *err)
{
    memset(h, 0, sizeof(*h));
    lv_httpsig_format_date(date, h->date);
    h->digest = digest_of ? lv_httpsig_digest(digest_of, digest_len) : lv_httpsig_digest(body, len);
    if (!key)
        return 0;
    const struct lv_httpsig_out req = {
        .method = "POST",
        .target = target,
        .host = host,
        .date = h->date,
        .digest = h->digest,
    };
    return lv_httpsig_sign(&req, key_id, key, &h->signature, err);
}

/* Changes one base64 character in the middle of signature="...". */
static void spoil_signature(char *sig)
{
    char *p = strstr(sig, "signature=\"");
    if (!p)
        return;
    p += strlen("signature=\"");
    size_t n = strcspn(p, "\"");
    if (n < 8)
        return;
    char *c = p + n / 2;
    *c = *c == 'A' ? 'B' : 'A';
}

/* ---- activities ---- */

static json_t *public_to(void)
{
    return json_pack("[s]", LV_AP_PUBLIC);
}

/* An activity of actor (URL) with id, type, and object (a Note for Create
 * and Update, else the string object_url when given). */
static json_t *make_activity(const char *actor, const char *id, const char *type,
                             const char *object_url, const char *content)
{
    char now[32];
    lv_ap_format_time((int64_t)time(NULL), now);
    json_t *a = json_pack("{s:s, s:s, s:s, s:s}", "@context", LV_AP_NS_AS, "id", id, "type", type,
                          "actor", actor);
    bool note = strcmp(type, "Create") == 0 || strcmp(type, "Update") == 0;
    if (note) {
        char rnd[17];
        rand_hex(rnd, 8);
        char *nid = object_url ? lv_xstrdup(object_url) : lv_xasprintf("%s/notes/%s", actor, rnd);
        char *html = lv_xasprintf("<p>%s</p>", content ? content : "A note from ap_tool");
        char *followers = lv_xasprintf("%s/followers", actor);
        json_t *n = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:[s]}", "id", nid, "type", "Note",
                              "attributedTo", actor, "content", html, "published", now, "to",
                              public_to(), "cc", followers);
        json_object_set_new(a, "published", json_string(now));
        json_object_set_new(a, "to", public_to());
        json_object_set_new(a, "cc", json_pack("[s]", followers));
        json_object_set_new(a, "object", n);
        free(followers);
        free(html);
        free(nid);
    } else if (object_url) {
        json_object_set_new(a, "object", json_string(object_url));
        if (strcmp(type, "Follow") != 0)
            json_object_set_new(a, "to", public_to());
    }
    return a;
}

/* ---- serve ---- */

struct srv {
    uv_loop_t *loop;
    struct lv_http *http;
    struct lv_http_client *client;
    uv_signal_t sigterm, sigint;
    char *name, *base;
    unsigned n;
    EVP_PKEY **keys;
    char **actor_docs; /* serialised actor documents */
    /* what the inboxes got */
    json_t *types;  /* type -> count */
    json_t *recent; /* the last RECENT_MAX summaries */
    uint64_t total, invalid, unsigned_posts, bad_digest;
    uint64_t accepts_sent, accepts_failed, accepts_pending, follows_unknown;
    char last_error[512];
    struct lv_map inboxes; /* follower actor URL -> its inbox (char *) */
    unsigned seq;
    bool stopping;
};

static void srv_reset(struct srv *s)
{
    json_decref(s->types);
    json_decref(s->recent);
    s->types = json_object();
    s->recent = json_array();
    s->total = s->invalid = s->unsigned_posts = s->bad_digest = 0;
    s->accepts_sent = s->accepts_failed = s->follows_unknown = 0;
    s->last_error[0] = '\0';
}

/* Actor index from "uK", or -1. */
static long actor_index(const struct srv *s, const char *seg)
{
    unsigned k;
    if (!seg || seg[0] != 'u' || !parse_uint(seg + 1, ACTORS_MAX, &k) || k >= s->n ||
        (seg[1] == '0' && seg[2]))
        return -1;
    return (long)k;
}

static char *actor_doc(const struct srv *s, unsigned k)
{
    char *actor = actor_url(s->base, k);
    char *pem = lv_httpsig_public_pem(s->keys[k]);
    char *key_id = lv_xasprintf("%s#main-key", actor);
    char *inbox = lv_xasprintf("%s/inbox", actor);
    char *outbox = lv_xasprintf("%s/outbox", actor);
    char *followers = lv_xasprintf("%s/followers", actor);
    char *following = lv_xasprintf("%s/following", actor);
    char *user = lv_xasprintf("u%u", k);
    char *name = lv_xasprintf("Test actor %u", k);
    json_t *d = json_pack("{s:[s, s], s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, "
                          "s:{s:s, s:s, s:s}}",
                          "@context", LV_AP_NS_AS, LV_AP_NS_SECURITY, "id", actor, "type", "Person",
                          "preferredUsername", user, "name", name, "url", actor, "inbox", inbox,
                          "outbox", outbox, "followers", followers, "following", following,
                          "manuallyApprovesFollowers", 0, "publicKey", "id", key_id, "owner", actor,
                          "publicKeyPem", pem ? pem : "");
    char *out = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    free(name);
    free(user);
    free(following);
    free(followers);
    free(outbox);
    free(inbox);
    free(key_id);
    free(pem);
    free(actor);
    return out;
}

static void h_webfinger(struct lv_http_req *req, void *ud)
{
    struct srv *s = ud;
    const char *res = lv_http_req_query(req, "resource");
    long k = -1;
    if (res && strncmp(res, "acct:", 5) == 0) {
        const char *at = strrchr(res, '@');
        if (at && strcmp(at + 1, s->name) == 0) {
            char *user = lv_xstrndup(res + 5, (size_t)(at - res - 5));
            k = actor_index(s, user);
            free(user);
        }
    } else if (res && strncmp(res, s->base, strlen(s->base)) == 0 &&
               strncmp(res + strlen(s->base), "/users/", 7) == 0) {
        k = actor_index(s, res + strlen(s->base) + 7);
    }
    if (k < 0) {
        lv_http_reply_error(req, 404, "no such account");
        return;
    }
    char *actor = actor_url(s->base, (unsigned)k);
    char *subject = lv_xasprintf("acct:u%ld@%s", k, s->name);
    json_t *d = json_pack("{s:s, s:[s], s:[{s:s, s:s, s:s}]}", "subject", subject, "aliases", actor,
                          "links", "rel", "self", "type", CT_AP, "href", actor);
    lv_http_reply_json(req, 200, LV_HTTP_CT_JRD, d);
    json_decref(d);
    free(subject);
    free(actor);
}

static void h_actor(struct lv_http_req *req, void *ud)
{
    struct srv *s = ud;
    long k = actor_index(s, lv_http_req_seg(req, 1));
    if (k < 0) {
        lv_http_reply_error(req, 404, "no such actor");
        return;
    }
    const char *doc = s->actor_docs[k];
    lv_http_reply_bytes(req, 200, LV_HTTP_CT_ACTIVITY, doc, strlen(doc));
}

static void h_collection(struct lv_http_req *req, void *ud)
{
    struct srv *s = ud;
    long k = actor_index(s, lv_http_req_seg(req, 1));
    const char *what = lv_http_req_seg(req, 2);
    if (k < 0 ||
        (strcmp(what, "outbox") && strcmp(what, "followers") && strcmp(what, "following"))) {
        lv_http_reply_error(req, 404, "nothing here");
        return;
    }
    char *id = lv_xasprintf("%s/users/u%ld/%s", s->base, k, what);
    json_t *d = json_pack("{s:s, s:s, s:s, s:i, s:[]}", "@context", LV_AP_NS_AS, "id", id, "type",
                          "OrderedCollection", "totalItems", 0, "orderedItems");
    lv_http_reply_json(req, 200, LV_HTTP_CT_ACTIVITY, d);
    json_decref(d);
    free(id);
}

/* ---- serve: answering a Follow ---- */

struct accept_job {
    struct srv *s;
    unsigned k;
    json_t *follow;
    char *follower;
};

static void accept_job_free(struct accept_job *j)
{
    json_decref(j->follow);
    free(j->follower);
    free(j);
}

static void accept_failed(struct srv *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void accept_failed(struct srv *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
    va_end(ap);
    s->accepts_failed++;
    fprintf(stderr, "ap_tool serve: Accept not delivered: %s\n", s->last_error);
}

static void on_accept_posted(struct lv_http_response *resp, const struct lv_error *err, void *ud)
{
    struct accept_job *j = ud;
    struct srv *s = j->s;
    s->accepts_pending--;
    if (err)
        accept_failed(s, "u%u -> %s: %s", j->k, j->follower, err->msg);
    else if (resp->status < 200 || resp->status > 299)
        accept_failed(s, "u%u -> %s: HTTP %ld %.200s", j->k, j->follower, resp->status,
                      resp->body.data ? resp->body.data : "");
    else
        s->accepts_sent++;
    accept_job_free(j);
}

static void send_accept(struct accept_job *j, const char *inbox)
{
    struct srv *s = j->s;
    char rnd[17];
    rand_hex(rnd, 8);
    char *actor = actor_url(s->base, j->k);
    char *id = lv_xasprintf("%s/accepts/%u-%s", actor, ++s->seq, rnd);
    json_t *follow = json_deep_copy(j->follow);
    json_object_del(follow, "@context");
    json_object_del(follow, "signature");
    json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:o, s:[s]}", "@context", LV_AP_NS_AS, "id", id,
                          "type", "Accept", "actor", actor, "object", follow, "to", j->follower);
    char *body = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    bool https;
    char *authority = NULL, *target = NULL;
    struct post_headers h = {0};
    struct lv_error err = {0};
    char *key_id = lv_xasprintf("%s#main-key", actor);
    int rc = split_url(inbox, &https, &authority, &target) == 0
                 ? sign_post(target, authority, body, strlen(body), time(NULL), NULL, 0, key_id,
                             s->keys[j->k], &h, &err)
                 : lv_error_set(&err, LV_ERR_INVAL, "bad inbox URL %.200s", inbox);
    if (rc == 0) {
        const struct lv_http_header hdrs[] = {
            {"Content-Type", CT_AP},    {"Date", h.date},  {"Digest", h.digest},
            {"Signature", h.signature}, {"Accept", "*/*"},
        };
        const struct lv_http_request r = {
            .method = "POST",
            .url = inbox,
            .headers = hdrs,
            .n_headers = LV_ARRAY_LEN(hdrs),
            .body = body,
            .body_len = strlen(body),
        };
        rc = lv_http_client_request(s->client, &r, on_accept_posted, j, NULL, &err);
    }
    if (rc == 0) {
        s->accepts_pending++;
    } else {
        accept_failed(s, "u%u -> %s: %s", j->k, j->follower, err.msg);
        accept_job_free(j);
    }
    post_headers_release(&h);
    free(key_id);
    free(authority);
    free(target);
    free(body);
    free(id);
    free(actor);
}

static void on_follower(json_t *doc, struct lv_http_response *resp, const struct lv_error *err,
                        void *ud)
{
    struct accept_job *j = ud;
    struct srv *s = j->s;
    s->accepts_pending--;
    const char *inbox = doc ? json_string_value(json_object_get(doc, "inbox")) : NULL;
    if (!inbox) {
        accept_failed(s, "cannot read the follower %s: %s", j->follower,
                      err ? err->msg : "no inbox in its actor");
        accept_job_free(j);
        return;
    }
    free(lv_map_put(&s->inboxes, j->follower, lv_xstrdup(inbox)));
    send_accept(j, inbox);
    (void)resp;
}

static void follow_received(struct srv *s, json_t *act)
{
    const char *object = lv_ap_ref_id(json_object_get(act, "object"));
    const char *follower = lv_ap_ref_id(json_object_get(act, "actor"));
    size_t blen = strlen(s->base);
    long k = -1;
    if (object && strncmp(object, s->base, blen) == 0 && strncmp(object + blen, "/users/", 7) == 0)
        k = actor_index(s, object + blen + 7);
    if (k < 0 || !follower) {
        s->follows_unknown++;
        return;
    }
    struct accept_job *j = lv_xcalloc(1, sizeof(*j));
    j->s = s;
    j->k = (unsigned)k;
    j->follow = json_incref(act);
    j->follower = lv_xstrdup(follower);
    const char *inbox = lv_map_get(&s->inboxes, follower);
    if (inbox) {
        send_accept(j, inbox);
        return;
    }
    const struct lv_http_request r = {.url = follower};
    struct lv_error err = {0};
    if (lv_http_client_fetch_json(s->client, &r, LV_HTTP_JSON_AP, on_follower, j, NULL, &err) !=
        0) {
        accept_failed(s, "cannot fetch %s: %s", follower, err.msg);
        accept_job_free(j);
        return;
    }
    s->accepts_pending++;
}

static void record(struct srv *s, json_t *act, const char *path, bool signed_, bool digest_ok)
{
    const char *type = json_string_value(json_object_get(act, "type"));
    if (!type)
        type = "(none)";
    json_object_set_new(s->types, type,
                        json_integer(json_integer_value(json_object_get(s->types, type)) + 1));
    json_t *obj = json_object_get(act, "object");
    json_t *sum =
        json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:b, s:b}", "type", type, "id",
                  json_string_value(json_object_get(act, "id")), "actor",
                  lv_ap_ref_id(json_object_get(act, "actor")), "object", lv_ap_ref_id(obj),
                  "object_type", json_string_value(json_object_get(obj, "type")), "object_actor",
                  lv_ap_ref_id(json_object_get(obj, "actor")), "path", path, "signed", signed_,
                  "digest_ok", digest_ok);
    json_array_append_new(s->recent, sum);
    if (json_array_size(s->recent) > RECENT_MAX)
        json_array_remove(s->recent, 0);
}

static void h_inbox(struct lv_http_req *req, void *ud)
{
    struct srv *s = ud;
    if (lv_http_req_nsegs(req) == 3 && actor_index(s, lv_http_req_seg(req, 1)) < 0) {
        lv_http_reply_error(req, 404, "no such actor");
        return;
    }
    size_t len;
    const char *body = lv_http_req_body(req, &len);
    s->total++;
    const char *digest = lv_http_req_header(req, "Digest");
    bool signed_ = lv_http_req_header(req, "Signature") != NULL;
    bool digest_ok =
        digest && lv_httpsig_digest_check(digest, strlen(digest), body, len, NULL) == 0;
    if (!signed_)
        s->unsigned_posts++;
    if (!digest_ok)
        s->bad_digest++;
    json_error_t je;
    json_t *act = json_loadb(body, len, 0, &je);
    if (!json_is_object(act)) {
        s->invalid++;
        json_decref(act);
        lv_http_reply_error(req, 400, "not a JSON object");
        return;
    }
    record(s, act, lv_http_req_path(req), signed_, digest_ok);
    lv_http_reply_bytes(req, 202, LV_HTTP_CT_TEXT, "", 0);
    const char *type = json_string_value(json_object_get(act, "type"));
    if (type && strcmp(type, "Follow") == 0)
        follow_received(s, act);
    json_decref(act);
}

static void h_stats(struct lv_http_req *req, void *ud)
{
    struct srv *s = ud;
    json_t *d = json_pack(
        "{s:I, s:O, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:O}", "total", (json_int_t)s->total,
        "types", s->types, "invalid", (json_int_t)s->invalid, "unsigned",
        (json_int_t)s->unsigned_posts, "bad_digest", (json_int_t)s->bad_digest, "accepts_sent",
        (json_int_t)s->accepts_sent, "accepts_failed", (json_int_t)s->accepts_failed,
        "accepts_pending", (json_int_t)s->accepts_pending, "follows_unknown",
        (json_int_t)s->follows_unknown, "last_error", s->last_error, "recent", s->recent);
    lv_http_reply_json(req, 200, LV_HTTP_CT_JSON, d);
    json_decref(d);
}

static void h_reset(struct lv_http_req *req, void *ud)
{
    srv_reset(ud);
    lv_http_reply_bytes(req, 200, LV_HTTP_CT_TEXT, "reset\n", 6);
}

static void h_root(struct lv_http_req *req, void *ud)
{
    struct srv *s = ud;
    char *t = lv_xasprintf("ap_tool: %u test actors at %s/users/uK\n", s->n, s->base);
    lv_http_reply_bytes(req, 200, LV_HTTP_CT_TEXT, t, strlen(t));
    free(t);
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
    struct srv *s = h->data;
    if (s->stopping)
        return;
    s->stopping = true;
    fprintf(stderr, "ap_tool serve: signal %d, stopping\n", signum);
    lv_http_free(s->http);
    lv_http_client_free(s->client);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
}

static int cmd_serve(const struct opts *o)
{
    if (!o->port || !o->host || !o->actors || !o->keys)
        return -1;
    struct srv s = {.n = o->actors, .name = lv_xstrdup(o->host)};
    s.base = lv_xasprintf("https://%s", o->host);
    s.keys = keys_load_all(o->keys, o->actors, o->threads);
    if (!s.keys)
        return 1;
    s.actor_docs = lv_xcalloc(s.n, sizeof(*s.actor_docs));
    for (unsigned k = 0; k < s.n; k++)
        s.actor_docs[k] = actor_doc(&s, k);
    lv_map_init(&s.inboxes);
    srv_reset(&s);
    uv_loop_t loop;
    uv_loop_init(&loop);
    s.loop = &loop;
    struct lv_error err = {0};
    struct lv_http_config hc;
    lv_http_config_defaults(&hc);
    hc.port = o->port;
    hc.trust_proxy = true;
    hc.max_conns_per_ip = 0;
    hc.max_conns = 4096;
    const struct lv_http_client_config cc = {
        .ca_file = o->ca,
        .allow_private_networks = true,
        .max_connections = 64,
        .max_host_connections = 32,
    };
    const struct lv_http_route routes[] = {
        {"GET", "/.well-known/webfinger", h_webfinger, 0},
        {"GET", "/users/*", h_actor, 0},
        /* (no overlapping patterns: lv_http leaks its Allow buffer when a
         * route matches after one of another method matched the path) */
        {"GET", "/users/*/outbox", h_collection, 0},
        {"GET", "/users/*/followers", h_collection, 0},
        {"GET", "/users/*/following", h_collection, 0},
        {"POST", "/users/*/inbox", h_inbox, 0},
        {"POST", "/inbox", h_inbox, 0},
        {"GET", "/stats", h_stats, 0},
        {"POST", "/reset", h_reset, 0},
        {"GET", "/", h_root, 0},
    };
    if (lv_http_new(&loop, &hc, &s.http, &err) != 0 ||
        lv_http_add_routes(s.http, routes, LV_ARRAY_LEN(routes), &s, &err) != 0 ||
        lv_http_client_new(&loop, &cc, &s.client, &err) != 0) {
        fprintf(stderr, "ap_tool serve: %s\n", err.msg);
        return 1;
    }
    uv_signal_init(&loop, &s.sigterm);
    uv_signal_init(&loop, &s.sigint);
    s.sigterm.data = s.sigint.data = &s;
    uv_signal_start(&s.sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_stop_signal, SIGINT);
    printf("READY %u\n", lv_http_port(s.http));
    fflush(stdout);
    fprintf(stderr, "ap_tool serve: %u actors %s/users/u0..u%u on 127.0.0.1:%u\n", s.n, s.base,
            s.n - 1, lv_http_port(s.http));
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    size_t pos = 0;
    const char *k;
    void *v;
    while (lv_map_next(&s.inboxes, &pos, &k, &v))
        free(v);
    lv_map_release(&s.inboxes);
    for (unsigned i = 0; i < s.n; i++)
        free(s.actor_docs[i]);
    free(s.actor_docs);
    keys_free(s.keys, s.n);
    json_decref(s.types);
    json_decref(s.recent);
    free(s.base);
    free(s.name);
    return 0;
}

/* ---- send ---- */

struct send_state {
    bool done;
    long status;
    char *body;
    size_t body_len;
    struct lv_error err;
    bool failed;
};

static void on_sent(struct lv_http_response *resp, const struct lv_error *err, void *ud)
{
    struct send_state *st = ud;
    st->done = true;
    st->status = resp->status;
    if (err) {
        st->failed = true;
        st->err = *err;
    }
    st->body_len = resp->body.len;
    st->body = lv_xstrndup(resp->body.data ? resp->body.data : "", resp->body.len);
}

/* The body to send: the file's bytes or a new activity. Sets *id (caller
 * frees) to the activity id when it made one. */
static char *send_body(const struct opts *o, size_t *len, char **id)
{
    *id = NULL;
    if (o->body_file) {
        char *b = read_file(o->body_file, len);
        if (!b)
            fprintf(stderr, "ap_tool: cannot read %s: %s\n", o->body_file, strerror(errno));
        return b;
    }
    char *actor = actor_url(o->actor_base, o->actor);
    char rnd[33];
    rand_hex(rnd, 16);
    *id = o->repeat_id ? lv_xstrdup(o->repeat_id) : lv_xasprintf("%s/activities/%s", actor, rnd);
    json_t *a = make_activity(actor, *id, o->type, o->object, o->content);
    char *b = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    free(actor);
    *len = strlen(b);
    return b;
}

/* POSTs prepared request bytes over plain HTTP (load's client, one request,
 * Connection: close): an answer that comes before the body is all written
 * (an early 413) is still read. 0 with *status (0: no answer) and the body;
 * -1 when url is not http://IPv4[:port]/... */
static int raw_post(const char *url, char *data, size_t len, struct send_state *st);

/* The same through lv_http_client (https, names). */
static void curl_post(const struct opts *o, const struct lv_http_header *hdrs, size_t nh,
                      const char *body, size_t len, struct send_state *st)
{
    const struct lv_http_request r = {
        .method = "POST",
        .url = o->url,
        .headers = hdrs,
        .n_headers = nh,
        .body = body,
        .body_len = len,
        .timeout_ms = SEND_TIMEOUT_MS,
    };
    const struct lv_http_client_config cc = {.ca_file = o->ca, .allow_private_networks = true};
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct lv_http_client *client = NULL;
    if (lv_http_client_new(&loop, &cc, &client, &st->err) != 0 ||
        lv_http_client_request(client, &r, on_sent, st, NULL, &st->err) != 0) {
        st->failed = st->done = true;
        st->body = lv_xstrdup("");
    }
    while (!st->done)
        uv_run(&loop, UV_RUN_ONCE);
    lv_http_client_free(client);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

static char *raw_request(const char *target, const char *host, const struct lv_http_header *hdrs,
                         size_t nh, const char *body, size_t len, size_t *out_len)
{
    struct lv_buf b;
    lv_buf_init(&b);
    lv_buf_addf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\n", target, host);
    for (size_t i = 0; i < nh; i++)
        if (strcasecmp(hdrs[i].name, "Host") != 0)
            lv_buf_addf(&b, "%s: %s\r\n", hdrs[i].name, hdrs[i].value);
    lv_buf_addf(&b, "Content-Length: %zu\r\nConnection: close\r\nUser-Agent: ap_tool\r\n\r\n", len);
    lv_buf_add(&b, body, len);
    *out_len = b.len;
    return lv_buf_detach(&b);
}

static int cmd_send(const struct opts *o)
{
    if (!o->url || !o->actor_base || !o->keys)
        return -1;
    bool https;
    char *authority = NULL, *target = NULL;
    if (split_url(o->url, &https, &authority, &target) != 0) {
        fprintf(stderr, "ap_tool send: not an http(s) URL: %s\n", o->url);
        return -1;
    }
    const char *host = o->host ? o->host : authority;
    unsigned signer = o->signer != UINT_MAX ? o->signer : o->actor;
    EVP_PKEY *key = NULL;
    struct lv_error err = {0};
    if (!o->no_sign) {
        if (mkdir(o->keys, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "ap_tool: cannot create %s: %s\n", o->keys, strerror(errno));
            return 1;
        }
        if (key_get(o->keys, signer, &key, &err) != 0) {
            fprintf(stderr, "ap_tool send: key of u%u: %s\n", signer, err.msg);
            return 1;
        }
    }
    size_t len = 0;
    char *id = NULL;
    char *body = send_body(o, &len, &id);
    if (!body)
        return 1;
    char *signer_url = actor_url(o->actor_base, signer);
    char *key_id = lv_xasprintf("%s#main-key", signer_url);
    /* --bad-digest: the Digest of other bytes, signed as if right */
    char *other = o->bad_digest ? lv_xasprintf("%.*s ", (int)len, body) : NULL;
    struct post_headers h;
    if (sign_post(target, host, body, len, time(NULL) + o->date_offset, other, other ? len + 1 : 0,
                  key_id, key, &h, &err) != 0) {
        fprintf(stderr, "ap_tool send: signing: %s\n", err.msg);
        return 1;
    }
    if (h.signature && o->bad_signature)
        spoil_signature(h.signature);
    struct lv_http_header hdrs[6];
    size_t nh = 0;
    hdrs[nh++] = (struct lv_http_header){"Content-Type", CT_AP};
    hdrs[nh++] = (struct lv_http_header){"Date", h.date};
    hdrs[nh++] = (struct lv_http_header){"Digest", h.digest};
    hdrs[nh++] = (struct lv_http_header){"Accept", "*/*"};
    if (o->host)
        hdrs[nh++] = (struct lv_http_header){"Host", o->host};
    if (h.signature)
        hdrs[nh++] = (struct lv_http_header){"Signature", h.signature};
    if (id)
        fprintf(stderr, "ap_tool send: %s %s (%zu bytes, %s)\n", o->type, id, len,
                h.signature ? (o->bad_signature ? "bad signature" : "signed") : "unsigned");
    else
        fprintf(stderr, "ap_tool send: %s (%zu bytes, %s)\n", o->body_file, len,
                h.signature ? (o->bad_signature ? "bad signature" : "signed") : "unsigned");
    struct send_state st = {0};
    size_t rlen = 0;
    char *raw = https ? NULL : raw_request(target, host, hdrs, nh, body, len, &rlen);
    if (!raw || raw_post(o->url, raw, rlen, &st) != 0)
        curl_post(o, hdrs, nh, body, len, &st);
    printf("%ld\n", st.status);
    fwrite(st.body, 1, st.body_len, stdout);
    if (st.body_len && st.body[st.body_len - 1] != '\n')
        putchar('\n');
    if (st.failed)
        fprintf(stderr, "ap_tool send: %s\n", st.err.msg);
    post_headers_release(&h);
    EVP_PKEY_free(key);
    free(raw);
    free(st.body);
    free(other);
    free(key_id);
    free(signer_url);
    free(body);
    free(id);
    free(authority);
    free(target);
    return st.status ? 0 : 1;
}

/* ---- load: precomputed requests ---- */

struct prepared {
    char *data; /* the whole request: line, headers, body */
    size_t len;
};

struct prep_job {
    const struct opts *o;
    EVP_PKEY **keys;
    struct prepared *reqs;
    const char *target, *run;
    time_t date;
    atomic_uint next;
    atomic_int failed;
};

static void *prep_worker(void *arg)
{
    struct prep_job *j = arg;
    const struct opts *o = j->o;
    char now[32];
    lv_ap_format_time((int64_t)j->date, now);
    unsigned i;
    while ((i = atomic_fetch_add(&j->next, 1)) < o->count && !atomic_load(&j->failed)) {
        unsigned k = i % o->actors;
        /* Built by hand (jansson's hash seed is not set up for threads). */
        char *body = lv_xasprintf(
            "{\"@context\":\"%s\",\"id\":\"%s/users/u%u/activities/%s-%s-%u\",\"type\":\"Create\","
            "\"actor\":\"%s/users/u%u\",\"published\":\"%s\",\"to\":[\"%s\"],"
            "\"cc\":[\"%s/users/u%u/followers\"],\"object\":{\"id\":\"%s/users/u%u/notes/"
            "%s-%s-%u\","
            "\"type\":\"Note\",\"attributedTo\":\"%s/users/u%u\",\"content\":\"<p>Load test note "
            "%u from u%u: <b>hello</b> fediverse.</p>\",\"published\":\"%s\",\"to\":[\"%s\"],"
            "\"cc\":[\"%s/users/u%u/followers\"]}}",
            LV_AP_NS_AS, o->actor_base, k, o->tag, j->run, i, o->actor_base, k, now, LV_AP_PUBLIC,
            o->actor_base, k, o->actor_base, k, o->tag, j->run, i, o->actor_base, k, i, k, now,
            LV_AP_PUBLIC, o->actor_base, k);
        size_t len = strlen(body);
        char *key_id = lv_xasprintf("%s/users/u%u#main-key", o->actor_base, k);
        struct post_headers h;
        struct lv_error err = {0};
        if (sign_post(j->target, o->host, body, len, j->date, NULL, 0, key_id, j->keys[k], &h,
                      &err) != 0) {
            atomic_store(&j->failed, 1);
        } else {
            char *data = lv_xasprintf("POST %s HTTP/1.1\r\nHost: %s\r\nDate: %s\r\nDigest: %s\r\n"
                                      "Content-Type: %s\r\nSignature: %s\r\n"
                                      "Content-Length: %zu\r\nUser-Agent: ap_tool\r\n%s\r\n%s",
                                      j->target, o->host, h.date, h.digest, CT_AP, h.signature, len,
                                      o->close ? "Connection: close\r\n" : "", body);
            j->reqs[i].data = data;
            j->reqs[i].len = strlen(data);
        }
        post_headers_release(&h);
        free(key_id);
        free(body);
    }
    return NULL;
}

/* ---- load: the timed phase (a minimal HTTP/1.1 keep-alive client) ---- */

#define HIST_MAX 600
#define STALL_S 60
#define LV_STR2(x) #x
#define LV_STR(x) LV_STR2(x)

struct load;

struct conn {
    struct load *L;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    struct lv_buf in;
    size_t cur;       /* the request in flight */
    bool busy;        /* a request is in flight, not answered yet */
    bool writing;     /* its bytes are still being written */
    bool answered;    /* answered while still writing (an early 413...) */
    bool write_error; /* the write failed: the answer may still come */
    double t0;        /* when it was written */
    bool closing;     /* the server asked to close after this answer */
};

struct load {
    uv_loop_t loop;
    uv_timer_t watchdog; /* ends the run when nothing completes for STALL_S */
    size_t done_at_check;
    struct sockaddr_in addr;
    struct prepared *reqs;
    size_t n, next, done;
    double *lat_ms;
    unsigned hist[HIST_MAX];
    uint64_t errors, reconnects;
    unsigned open_conns;
    char last_error[256];
    bool keep;         /* keep the last answer (send) */
    struct lv_buf ans; /* its body */
    unsigned ans_status;
};

static void conn_start(struct load *L);

static void conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct load *L = c->L;
    lv_buf_release(&c->in);
    free(c);
    L->open_conns--;
    /* keep the concurrency while work remains */
    if (L->next < L->n) {
        L->reconnects++;
        conn_start(L);
    } else if (!L->open_conns && !uv_is_closing((uv_handle_t *)&L->watchdog)) {
        uv_close((uv_handle_t *)&L->watchdog, NULL);
    }
}

static void conn_close(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void conn_fail(struct conn *c, const char *what)
{
    struct load *L = c->L;
    if (c->busy) {
        c->busy = false;
        L->errors++;
        L->lat_ms[c->cur] = -1;
        L->done++;
    }
    snprintf(L->last_error, sizeof(L->last_error), "%s", what);
    conn_close(c);
}

static void conn_next(struct conn *c);

/* The answer is complete and the request written (or failed to be). */
static void after_answer(struct conn *c)
{
    c->answered = false;
    if (c->closing || c->write_error)
        conn_close(c);
    else
        conn_next(c);
}

/* A server may answer before it has read the whole request (413) and close:
 * the write then fails but the answer is still read. */
static void on_written(uv_write_t *w, int status)
{
    struct conn *c = w->data;
    c->writing = false;
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (status < 0) {
        c->write_error = true;
        snprintf(c->L->last_error, sizeof(c->L->last_error), "write: %s", uv_strerror(status));
    }
    if (c->answered)
        after_answer(c);
}

static void conn_next(struct conn *c)
{
    struct load *L = c->L;
    if (L->next >= L->n) {
        conn_close(c);
        return;
    }
    c->cur = L->next++;
    c->busy = true;
    c->writing = true;
    c->t0 = mono_s();
    uv_buf_t b = uv_buf_init(L->reqs[c->cur].data, (unsigned)L->reqs[c->cur].len);
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc < 0)
        conn_fail(c, uv_strerror(rc));
}

/* A header's value in the header block hdr[0..len) (case-insensitive
 * name), or NULL; *vlen its length. */
static const char *find_header(const char *hdr, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = memchr(hdr, '\n', len);
    const char *end = hdr + len;
    while (p && p + 1 < end) {
        p++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol < end ? eol : NULL;
    }
    return NULL;
}

/* Bytes of a complete chunked body at b[0..len), or 0 while incomplete. */
static size_t chunked_len(const char *b, size_t len)
{
    size_t pos = 0;
    for (;;) {
        const char *eol = memchr(b + pos, '\n', len - pos);
        if (!eol)
            return 0;
        size_t sz = strtoul(b + pos, NULL, 16);
        pos = (size_t)(eol - b) + 1;
        if (sz == 0) {
            /* trailers until an empty line */
            for (;;) {
                const char *e = memchr(b + pos, '\n', len - pos);
                if (!e)
                    return 0;
                bool empty = e == b + pos || (e == b + pos + 1 && b[pos] == '\r');
                pos = (size_t)(e - b) + 1;
                if (empty)
                    return pos;
            }
        }
        if (len - pos < sz + 2)
            return 0;
        pos += sz + 2;
    }
}

/* A complete response at the start of c->in: records it, consumes it;
 * false while incomplete. */
static bool take_response(struct conn *c)
{
    struct load *L = c->L;
    const char *d = c->in.data;
    size_t len = c->in.len;
    const char *end = d ? memmem(d, len, "\r\n\r\n", 4) : NULL;
    if (!end)
        return false;
    size_t hlen = (size_t)(end - d) + 4, blen = 0, vlen;
    const char *v = find_header(d, hlen, "Content-Length", &vlen);
    if (v) {
        blen = strtoul(v, NULL, 10);
        if (len - hlen < blen)
            return false;
    } else if ((v = find_header(d, hlen, "Transfer-Encoding", &vlen)) && vlen >= 7 &&
               strncasecmp(v + vlen - 7, "chunked", 7) == 0) {
        blen = chunked_len(d + hlen, len - hlen);
        if (!blen)
            return false;
    }
    unsigned status = 0;
    if (len > 12 && strncmp(d, "HTTP/1.", 7) == 0)
        status = (unsigned)strtoul(d + 9, NULL, 10);
    v = find_header(d, hlen, "Connection", &vlen);
    c->closing = v && vlen == 5 && strncasecmp(v, "close", 5) == 0;
    L->hist[status < HIST_MAX ? status : 0]++;
    L->lat_ms[c->cur] = (mono_s() - c->t0) * 1000.0;
    L->done++;
    c->busy = false;
    if (L->keep) {
        L->ans_status = status;
        lv_buf_reset(&L->ans);
        lv_buf_add(&L->ans, d + hlen, blen);
    }
    lv_buf_consume(&c->in, hlen + blen);
    return true;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    static char slab[65536];
    (void)h, (void)hint;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (n < 0) {
        if (c->busy)
            conn_fail(c, n == UV_EOF ? "connection closed by the server" : uv_strerror((int)n));
        else
            conn_close(c); /* an idle keep-alive connection closed, or after an answer */
        return;
    }
    lv_buf_add(&c->in, buf->base, (size_t)n);
    if (c->busy && take_response(c)) {
        if (c->writing)
            c->answered = true;
        else
            after_answer(c);
    }
}

static void on_connected(uv_connect_t *r, int status)
{
    struct conn *c = r->data;
    if (status < 0) {
        /* the server is not there: no more requests (the others are not sent) */
        char e[128];
        snprintf(e, sizeof(e), "connect: %s", uv_strerror(status));
        c->L->errors++;
        c->L->next = c->L->n;
        conn_fail(c, e);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    conn_next(c);
}

static void conn_start(struct load *L)
{
    struct conn *c = lv_xcalloc(1, sizeof(*c));
    c->L = L;
    lv_buf_init(&c->in);
    uv_tcp_init(&L->loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    L->open_conns++;
    int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&L->addr, on_connected);
    if (rc < 0) {
        snprintf(L->last_error, sizeof(L->last_error), "connect: %s", uv_strerror(rc));
        L->errors++;
        /* give up on this slot: closing would reconnect in a loop */
        L->next = L->n;
        conn_close(c);
    }
}

static void stall_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (h->type == UV_TCP && !uv_is_closing(h))
        conn_fail(h->data, "no answer for " LV_STR(STALL_S) " s");
}

static void on_watchdog(uv_timer_t *t)
{
    struct load *L = t->data;
    if (L->done != L->done_at_check) {
        L->done_at_check = L->done;
        return;
    }
    fprintf(stderr, "ap_tool: nothing answered for %d s, giving up\n", STALL_S);
    L->next = L->n;
    uv_walk(&L->loop, stall_close, NULL);
    if (!L->open_conns)
        uv_close((uv_handle_t *)t, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n + 0.5);
    if (i >= 1)
        i--;
    return v[i < n ? i : n - 1];
}

/* Parses http://IPv4:PORT/PATH into addr and target (caller frees). */
static int load_address(const char *url, struct sockaddr_in *addr, char **target)
{
    bool https;
    char *auth = NULL;
    if (split_url(url, &https, &auth, target) != 0 || https) {
        free(auth);
        return -1;
    }
    char *colon = strrchr(auth, ':');
    unsigned port = 80;
    if (colon) {
        *colon = '\0';
        if (!parse_uint(colon + 1, 65535, &port)) {
            free(auth);
            return -1;
        }
    }
    int rc = uv_ip4_addr(strcmp(auth, "localhost") == 0 ? "127.0.0.1" : auth, (int)port, addr);
    free(auth);
    return rc == 0 ? 0 : -1;
}

static json_t *load_report(struct load *L, const struct opts *o, double elapsed, double start_epoch,
                           const char *signing)
{
    size_t ok = 0;
    double *v = lv_xcalloc(L->n ? L->n : 1, sizeof(*v));
    for (size_t i = 0; i < L->n; i++)
        if (L->lat_ms[i] >= 0)
            v[ok++] = L->lat_ms[i];
    qsort(v, ok, sizeof(*v), cmp_double);
    json_t *hist = json_object();
    for (unsigned s = 0; s < HIST_MAX; s++) {
        if (!L->hist[s])
            continue;
        char k[16];
        snprintf(k, sizeof(k), "%u", s);
        json_object_set_new(hist, k, json_integer(L->hist[s]));
    }
    double accepted = L->hist[202];
    json_t *r = json_pack(
        "{s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:o, s:I, s:I, s:s, s:s}", "count",
        (int)L->n, "concurrency", (int)o->concurrency, "actors", (int)o->actors, "elapsed_s",
        elapsed, "start_epoch", start_epoch, "accepted_per_s",
        elapsed > 0 ? accepted / elapsed : 0.0, "requests_per_s",
        elapsed > 0 ? (double)ok / elapsed : 0.0, "p50_ms", pct(v, ok, 50), "p90_ms",
        pct(v, ok, 90), "p99_ms", pct(v, ok, 99), "max_ms", ok ? v[ok - 1] : 0.0, "status", hist,
        "errors", (json_int_t)L->errors, "reconnects", (json_int_t)L->reconnects, "signing",
        signing, "last_error", L->last_error);
    json_object_set_new(r, "accepted", json_integer((json_int_t)accepted));
    json_object_set_new(r, "not_sent", json_integer((json_int_t)(L->n - L->done)));
    free(v);
    return r;
}

static int raw_post(const char *url, char *data, size_t len, struct send_state *st)
{
    struct load *L = lv_xcalloc(1, sizeof(*L));
    char *target = NULL;
    if (load_address(url, &L->addr, &target) != 0) {
        free(target);
        free(L);
        return -1;
    }
    struct prepared req = {.data = data, .len = len};
    L->reqs = &req;
    L->n = 1;
    L->lat_ms = lv_xcalloc(1, sizeof(*L->lat_ms));
    L->keep = true;
    lv_buf_init(&L->ans);
    uv_loop_init(&L->loop);
    uv_timer_init(&L->loop, &L->watchdog);
    L->watchdog.data = L;
    uv_timer_start(&L->watchdog, on_watchdog, STALL_S * 1000, STALL_S * 1000);
    conn_start(L);
    uv_run(&L->loop, UV_RUN_DEFAULT);
    uv_loop_close(&L->loop);
    st->done = true;
    st->status = L->ans_status;
    st->body_len = L->ans.len;
    st->body = lv_xstrndup(L->ans.data ? L->ans.data : "", L->ans.len);
    if (!st->status) {
        st->failed = true;
        lv_error_set(&st->err, LV_ERR_IO, "%s: %s", url, L->last_error);
    }
    lv_buf_release(&L->ans);
    free(L->lat_ms);
    free(L);
    free(target);
    return 0;
}

static int cmd_load(const struct opts *o)
{
    if (!o->url || !o->host || !o->actor_base || !o->actors || !o->keys || !o->count)
        return -1;
    struct load *L = lv_xcalloc(1, sizeof(*L));
    char *target = NULL;
    if (load_address(o->url, &L->addr, &target) != 0) {
        fprintf(stderr,
                "ap_tool load: the URL must be http://IPv4:PORT/PATH (the gateway's "
                "own port, no TLS): %s\n",
                o->url);
        free(L);
        return -1;
    }
    EVP_PKEY **keys = keys_load_all(o->keys, o->actors, o->threads);
    if (!keys)
        return 1;
    /* Signing, before the clock starts. */
    char run[9];
    rand_hex(run, 4);
    unsigned threads = o->threads ? o->threads : online_cpus();
    struct prep_job j = {.o = o, .keys = keys, .target = target, .run = run, .date = time(NULL)};
    j.reqs = lv_xcalloc(o->count, sizeof(*j.reqs));
    pthread_t *tid = lv_xcalloc(threads, sizeof(*tid));
    double t0 = mono_s();
    for (unsigned i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, prep_worker, &j);
    for (unsigned i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    free(tid);
    double sign_s = mono_s() - t0;
    if (atomic_load(&j.failed)) {
        fprintf(stderr, "ap_tool load: signing failed\n");
        return 1;
    }
    char signing[160];
    snprintf(signing, sizeof(signing),
             "precomputed before the timed phase: %u signatures on %u threads in %.2f s "
             "(%.0f/s)",
             o->count, threads, sign_s, sign_s > 0 ? o->count / sign_s : 0.0);
    fprintf(stderr, "ap_tool load: %s; run id %s\n", signing, run);
    /* The timed phase. */
    L->reqs = j.reqs;
    L->n = o->count;
    L->lat_ms = lv_xcalloc(L->n, sizeof(*L->lat_ms));
    for (size_t i = 0; i < L->n; i++)
        L->lat_ms[i] = -1; /* not answered */
    uv_loop_init(&L->loop);
    long pids[16];
    double pid_cpu0[16];
    size_t npids = 0;
    for (const char *p = o->watch; p && *p && npids < LV_ARRAY_LEN(pids);) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        pids[npids++] = v;
        p = *end == ',' ? end + 1 : end;
    }
    for (size_t i = 0; i < npids; i++)
        pid_cpu0[i] = proc_cpu_s(pids[i]);
    double machine0 = machine_cpu_s();
    double start_epoch = epoch_s();
    double cpu0 = cpu_s();
    t0 = mono_s();
    uv_timer_init(&L->loop, &L->watchdog);
    L->watchdog.data = L;
    uv_timer_start(&L->watchdog, on_watchdog, STALL_S * 1000, STALL_S * 1000);
    unsigned k = o->concurrency < o->count ? o->concurrency : o->count;
    for (unsigned i = 0; i < k; i++)
        conn_start(L);
    uv_run(&L->loop, UV_RUN_DEFAULT);
    double elapsed = mono_s() - t0;
    double cpu = cpu_s() - cpu0;
    double machine = machine_cpu_s() - machine0;
    json_t *watched = json_object();
    for (size_t i = 0; i < npids; i++) {
        char key[24];
        snprintf(key, sizeof(key), "%ld", pids[i]);
        double c = proc_cpu_s(pids[i]);
        json_object_set_new(watched, key,
                            json_real(c >= 0 && pid_cpu0[i] >= 0 ? c - pid_cpu0[i] : -1));
    }
    uv_loop_close(&L->loop);
    json_t *rep = load_report(L, o, elapsed, start_epoch, signing);
    json_object_set_new(rep, "client_cpu_s", json_real(cpu));
    /* CPU seconds during the timed phase: the whole machine, and each --watch PID */
    json_object_set_new(rep, "machine_cpu_s", json_real(machine));
    json_object_set_new(rep, "cpu_s", watched);
    char *s = json_dumps(rep, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(rep);
    for (size_t i = 0; i < L->n; i++)
        free(L->reqs[i].data);
    free(L->reqs);
    free(L->lat_ms);
    free(L);
    keys_free(keys, o->actors);
    free(target);
    return 0;
}

static int cmd_keys(const struct opts *o)
{
    if (!o->keys || !o->actors)
        return -1;
    EVP_PKEY **keys = keys_load_all(o->keys, o->actors, o->threads);
    if (!keys)
        return 1;
    keys_free(keys, o->actors);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    lv_log_set_level(getenv("AP_TOOL_DEBUG") ? LV_LOG_DEBUG : LV_LOG_WARN);
    int rc = -1;
    if (parse_opts(argc, argv, &o) == 0) {
        if (strcmp(o.cmd, "serve") == 0)
            rc = cmd_serve(&o);
        else if (strcmp(o.cmd, "send") == 0)
            rc = cmd_send(&o);
        else if (strcmp(o.cmd, "load") == 0)
            rc = cmd_load(&o);
        else if (strcmp(o.cmd, "keys") == 0)
            rc = cmd_keys(&o);
    }
    if (rc < 0) {
        usage(stderr);
        return 2;
    }
    return rc;
}
