/* bench_ap_deliver: throughput of the ActivityPub delivery queue against the
 * machine's RSA signing limit.
 *
 * Fans one activity (a ~1 KB Create(Note)) out to N followers whose inboxes
 * are spread over M inbox URLs on H hosts (defaults 1000, 100, 10): N rows
 * go through one lv_ap_deliver_enqueue_many() call, as the gateway queues an
 * activity (stored in a SQLite file in a temporary directory, as in
 * production, in one transaction) and the queue signs and POSTs them all. The
 * sink is a forked child process running lv_http servers on H ephemeral
 * 127.0.0.1 ports (one "host" each) that answer 202 at once without
 * verifying, so that the sink does not share the queue's loop; it still
 * shares the machine's cores, as a real peer would not.
 *
 * The signing limit is measured in the same run, half before and half
 * after the deliveries (averaged, so that other load on the machine weighs
 * on both figures alike): lv_httpsig_sign() of a typical POST with the same
 * 2048-bit key in T threads (default: the number of online CPUs) for S
 * seconds in all. It prints the total time (first enqueue to last
 * delivery), deliveries/s, signatures/s and their ratio (the issue's
 * target: >= 70 %), then where the CPU went per delivery (the loop thread,
 * enqueue included; the pool, i.e. signing; the sink) and the ratio that
 * CPU alone would allow with every core busy, which varies less with
 * other load than the wall-clock figures. Figures only: no assertion.
 *
 * usage: bench_ap_deliver [-n deliveries] [-m inboxes] [-H hosts]
 *                         [-p max_parallel] [-P per_host_parallel]
 *                         [-s sign_seconds] [-t sign_threads] [-d database] */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/evp.h>

#include "ap/lv_ap_deliver.h"
#include "ap/lv_http.h"
#include "ap/lv_http_client.h"
#include "ap/lv_httpsig.h"
#include "core/lv_buf.h"
#include "core/lv_log.h"
#include "core/lv_mem.h"
#include "store/lv_store.h"

#define MAX_HOSTS 64
#define KEY_ID "https://gw.example/_ap/actor/louise#main-key"

struct opts {
    unsigned n, m, hosts, max_parallel, per_host, threads;
    double sign_s;
    const char *db;
};

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* CPU seconds spent by the queue's process (loop thread and pool) and by
 * its loop thread alone, between two points. */
struct cpu {
    double process, loop;
};

static struct cpu cpu_now(void)
{
    return (struct cpu){clock_s(CLOCK_PROCESS_CPUTIME_ID), clock_s(CLOCK_THREAD_CPUTIME_ID)};
}

/* ---- the signing limit ---- */

struct signer {
    EVP_PKEY *key;
    double until;
    unsigned long count;
};

static void *sign_loop(void *arg)
{
    struct signer *s = arg;
    char date[LV_HTTPSIG_DATE_LEN + 1];
    const struct lv_httpsig_out req = {
        .method = "POST",
        .target = "/users/follower42/inbox",
        .host = "peer3.example",
        .date = lv_httpsig_format_date(time(NULL), date),
        .digest = "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    };
    do {
        for (int i = 0; i < 16; i++) {
            char *sig = NULL;
            if (lv_httpsig_sign(&req, KEY_ID, s->key, &sig, NULL) != 0)
                abort();
            free(sig);
            s->count++;
        }
    } while (now_s() < s->until);
    return NULL;
}

/* Signatures per second over threads; *cpu_per gets the CPU seconds one
 * signature costs. */
static double signing_rate(EVP_PKEY *key, unsigned threads, double seconds, double *cpu_per)
{
    pthread_t tid[64];
    struct signer s[64];
    if (threads > 64)
        threads = 64;
    double t0 = now_s(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (unsigned i = 0; i < threads; i++) {
        s[i] = (struct signer){key, t0 + seconds, 0};
        pthread_create(&tid[i], NULL, sign_loop, &s[i]);
    }
    unsigned long total = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        total += s[i].count;
    }
    *cpu_per = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)total;
    return (double)total / (now_s() - t0);
}

/* ---- the sink (child process) ---- */

struct sink {
    uv_loop_t loop;
    uv_signal_t sig;
    struct lv_http *http[MAX_HOSTS];
    unsigned hosts;
    unsigned long requests;
};

static void sink_inbox(struct lv_http_req *req, void *ud)
{
    struct sink *s = ud;
    s->requests++;
    lv_http_reply_bytes(req, 202, "text/plain", "", 0);
}

static void sink_stop(uv_signal_t *h, int signum)
{
    struct sink *s = h->data;
    (void)signum;
    for (unsigned i = 0; i < s->hosts; i++)
        lv_http_free(s->http[i]);
    uv_close((uv_handle_t *)h, NULL);
}

static int sink_main(unsigned hosts, int out_fd)
{
    struct sink s = {.hosts = hosts};
    struct lv_error err;
    const struct lv_http_route route = {"POST", "/**", sink_inbox, 0};
    uv_loop_init(&s.loop);
    for (unsigned i = 0; i < hosts; i++) {
        struct lv_http_config c;
        lv_http_config_defaults(&c);
        c.max_conns_per_ip = 0;
        c.shutdown_grace_ms = 100;
        if (lv_http_new(&s.loop, &c, &s.http[i], &err) != 0 ||
            lv_http_add_routes(s.http[i], &route, 1, &s, &err) != 0) {
            fprintf(stderr, "sink: %s\n", err.msg);
            return 1;
        }
        unsigned port = lv_http_port(s.http[i]);
        if (write(out_fd, &port, sizeof(port)) != (ssize_t)sizeof(port))
            return 1;
    }
    close(out_fd);
    uv_signal_init(&s.loop, &s.sig);
    s.sig.data = &s;
    uv_signal_start(&s.sig, sink_stop, SIGTERM);
    uv_run(&s.loop, UV_RUN_DEFAULT);
    uv_loop_close(&s.loop);
    fprintf(stderr, "sink: %lu requests\n", s.requests);
    return 0;
}

static pid_t start_sink(unsigned hosts, unsigned *ports)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(sink_main(hosts, fds[1]));
    }
    close(fds[1]);
    for (unsigned i = 0; i < hosts; i++)
        if (read(fds[0], &ports[i], sizeof(ports[i])) != (ssize_t)sizeof(ports[i]))
            pid = -1;
    close(fds[0]);
    return pid;
}

/* ---- the queue ---- */

struct run {
    EVP_PKEY *key;
    unsigned key_calls;
    unsigned long done, failed;
    double t_done;
    unsigned long target;
};

static int key_fn(void *ud, const char *account, EVP_PKEY **key, struct lv_error *err)
{
    struct run *r = ud;
    (void)account;
    (void)err;
    r->key_calls++;
    EVP_PKEY_up_ref(r->key);
    *key = r->key;
    return 0;
}

static void done_fn(void *ud, int64_t id, const char *inbox, long status,
                    const struct lv_error *err)
{
    struct run *r = ud;
    (void)id;
    if (err) {
        r->failed++;
        if (r->failed <= 5)
            fprintf(stderr, "failed: %s: %s\n", inbox, err->msg);
    }
    if (++r->done == r->target)
        r->t_done = now_s();
}

static char *note_body(void)
{
    struct lv_buf b = LV_BUF_INIT;
    lv_buf_adds(&b, "{\"@context\":\"https://www.w3.org/ns/activitystreams\","
                    "\"id\":\"https://gw.example/_ap/item/louise/blog/1/create\","
                    "\"type\":\"Create\",\"actor\":\"https://gw.example/_ap/actor/louise\","
                    "\"to\":[\"https://www.w3.org/ns/activitystreams#Public\"],"
                    "\"cc\":[\"https://gw.example/_ap/followers/louise\"],"
                    "\"object\":{\"id\":\"https://gw.example/_ap/item/louise/blog/1\","
                    "\"type\":\"Note\",\"attributedTo\":\"https://gw.example/_ap/actor/louise\","
                    "\"published\":\"2026-11-25T16:17:03Z\",\"content\":\"<p>");
    for (int i = 0; i < 12; i++)
        lv_buf_adds(&b, "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ");
    lv_buf_adds(&b, "</p>\"}}");
    return lv_buf_detach(&b);
}

struct result {
    double total, enqueue;  /* wall seconds */
    struct cpu cpu_enqueue; /* CPU of the enqueue phase */
    struct cpu cpu_all;     /* CPU from the first enqueue to the last delivery */
};

static int deliver_all(const struct opts *o, EVP_PKEY *key, const unsigned *ports,
                       struct result *res)
{
    uv_loop_t loop;
    struct lv_store *store;
    struct lv_http_client *client;
    struct lv_ap_deliver *d;
    struct lv_error err;
    struct run r = {.key = key, .target = o->n};
    const struct lv_http_client_config cc = {.allow_private_networks = true};
    const struct lv_ap_deliver_config cfg = {.max_parallel = o->max_parallel,
                                             .per_host_parallel = o->per_host};
    uv_loop_init(&loop);
    if (lv_store_open(o->db, &store, &err) != 0 ||
        lv_http_client_new(&loop, &cc, &client, &err) != 0 ||
        lv_ap_deliver_new(&loop, store, client, &cfg, key_fn, &r, &d, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return 1;
    }
    lv_ap_deliver_set_done_fn(d, done_fn, &r);
    char *body = note_body();
    char **urls = lv_xcalloc(o->n, sizeof(*urls));
    for (unsigned i = 0; i < o->n; i++) {
        unsigned inbox = i % o->m;
        urls[i] =
            lv_xasprintf("http://127.0.0.1:%u/users/f%u/inbox", ports[inbox % o->hosts], inbox);
    }
    double t0 = now_s();
    struct cpu c0 = cpu_now();
    if (lv_ap_deliver_enqueue_many(d, (const char *const *)urls, o->n, "louise@gw.example", KEY_ID,
                                   "https://gw.example/_ap/item/louise/blog/1/create", body, NULL,
                                   &err) != 0) {
        fprintf(stderr, "enqueue: %s\n", err.msg);
        return 1;
    }
    struct cpu c1 = cpu_now();
    res->enqueue = now_s() - t0;
    while (r.done < o->n)
        uv_run(&loop, UV_RUN_ONCE);
    struct cpu c2 = cpu_now();
    res->total = r.t_done - t0;
    res->cpu_enqueue = (struct cpu){c1.process - c0.process, c1.loop - c0.loop};
    res->cpu_all = (struct cpu){c2.process - c0.process, c2.loop - c0.loop};
    if (r.key_calls != 1 || r.failed)
        fprintf(stderr, "key_fn calls: %u, failures: %lu\n", r.key_calls, r.failed);
    lv_ap_deliver_free(d);
    lv_http_client_free(client);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    lv_store_close(store);
    for (unsigned i = 0; i < o->n; i++)
        free(urls[i]);
    free(urls);
    free(body);
    return r.failed ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_ap_deliver [-n deliveries] [-m inboxes] [-H hosts]\n"
                    "                        [-p max_parallel] [-P per_host_parallel]\n"
                    "                        [-s sign_seconds] [-t sign_threads] [-d database]\n");
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (struct opts){1000, 100, 10, 16, 4, ncpu > 0 ? (unsigned)ncpu : 1, 2.0, NULL};
    int c;
    while ((c = getopt(argc, argv, "n:m:H:p:P:s:t:d:")) != -1) {
        switch (c) {
        case 'n':
            o->n = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'm':
            o->m = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'H':
            o->hosts = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'p':
            o->max_parallel = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'P':
            o->per_host = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 's':
            o->sign_s = strtod(optarg, NULL);
            break;
        case 't':
            o->threads = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'd':
            o->db = optarg;
            break;
        default:
            usage();
        }
    }
    if (!o->n || !o->m || !o->hosts || o->hosts > MAX_HOSTS || o->hosts > o->m || !o->threads ||
        o->sign_s <= 0)
        usage();
}

int main(int argc, char **argv)
{
    struct opts o;
    char *priv_pem, *pub_pem, dir[] = "/tmp/bench_ap_deliver.XXXXXX", *db = NULL;
    EVP_PKEY *key;
    unsigned ports[MAX_HOSTS];
    parse(argc, argv, &o);
    lv_log_set_level(LV_LOG_ERROR);
    if (lv_httpsig_keygen(2048, &priv_pem, &pub_pem, NULL) != 0 ||
        lv_httpsig_load_private(priv_pem, strlen(priv_pem), &key, NULL) != 0)
        return 1;
    free(priv_pem);
    free(pub_pem);
    if (!o.db) {
        if (!mkdtemp(dir))
            return 1;
        db = lv_xasprintf("%s/queue.db", dir);
        o.db = db;
    }

    /* The limit is measured before and after the run, and averaged: other
     * load on the machine shifts both figures alike. */
    double cpu_sign, cpu_sign2;
    double sign_rate = signing_rate(key, o.threads, o.sign_s / 2, &cpu_sign);
    pid_t sink = start_sink(o.hosts, ports);
    if (sink < 0) {
        fprintf(stderr, "cannot start the sink\n");
        return 1;
    }
    struct result res = {0};
    int rc = deliver_all(&o, key, ports, &res);
    kill(sink, SIGTERM);
    waitpid(sink, NULL, 0);
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu_sink = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    double sign_rate2 = signing_rate(key, o.threads, o.sign_s / 2, &cpu_sign2);
    sign_rate = (sign_rate + sign_rate2) / 2;
    cpu_sign = (cpu_sign + cpu_sign2) / 2;

    double rate = o.n / res.total, us = 1e6 / o.n;
    double pool = res.cpu_all.process - res.cpu_all.loop;
    double all = res.cpu_all.process + cpu_sink;
    printf("deliveries:   %u to %u inboxes on %u hosts (max_parallel %u, per_host %u), "
           "sink in a forked process, store %s\n",
           o.n, o.m, o.hosts, o.max_parallel, o.per_host, db ? "SQLite file" : o.db);
    printf("total:        %.3f s (enqueue %.1f ms of it)\n", res.total, res.enqueue * 1e3);
    printf("deliveries/s: %.0f\n", rate);
    printf("RSA-2048 signing limit: %.0f signatures/s (lv_httpsig_sign, %u threads, "
           "mean of %.1f s before and after)\n",
           sign_rate, o.threads, o.sign_s / 2);
    printf("ratio:        %.1f %% of the signing limit\n", 100.0 * rate / sign_rate);
    printf("CPU per delivery: %.0f us in all = loop thread %.0f (enqueue %.0f) + pool %.0f "
           "+ sink %.0f; one signature alone: %.0f us\n",
           all * us, res.cpu_all.loop * us, res.cpu_enqueue.loop * us, pool * us, cpu_sink * us,
           cpu_sign * 1e6);
    printf("CPU-bound estimate (all cores busy, nothing else running): %.1f %% of the "
           "signing limit; %.1f %% without the sink's share (a real peer runs elsewhere)\n",
           100.0 * cpu_sign * o.n / all, 100.0 * cpu_sign * o.n / res.cpu_all.process);

    EVP_PKEY_free(key);
    if (db) {
        char *p;
        unlink(db);
        p = lv_xasprintf("%s-wal", db);
        unlink(p);
        free(p);
        p = lv_xasprintf("%s-shm", db);
        unlink(p);
        free(p);
        rmdir(dir);
        free(db);
    }
    return rc;
}
