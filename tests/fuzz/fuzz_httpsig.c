/* libFuzzer target for lv_httpsig: the parse step of incoming signatures.
 *
 * The input is split at '\n' into up to five values:
 *   0: the Signature header (draft-cavage), or Signature-Input (RFC 9421)
 *   1: the Signature header of RFC 9421
 *   2: a Digest value      (default: the body's)
 *   3: a Date value        (default: the request's)
 *   4: a Content-Digest    (default: the body's)
 * and fed into a fixed request (POST /_ap/inbox/alice to gw.ap.test) three
 * ways: as a cavage Signature, as an RFC 9421 pair, and as
 * "Authorization: Signature" on a %-escaped target. The Date, Digest and
 * Content-Digest values also go to their own parsers.
 *
 * Beyond "does not crash or leak", it checks what callers rely on:
 * - a refusal is one of the documented codes with a message and leaves the
 *   result empty;
 * - an acceptance has a key id, a key URL that is its prefix, a non-empty
 *   signature, and a signing string without CR or NUL (no header
 *   injection); the unchecked parse agrees on the signing string; and
 *   verifying never crashes (seeds signed with the test key verify).
 * With LV_FUZZ_VERBOSE=1 in the environment it prints each outcome, which
 * is how to check what a new seed reaches. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ap/lv_httpsig.h"
#include "core/lv_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY                                                                                       \
    "{\"type\":\"Follow\",\"actor\":\"https://snac.ap.test/bob\",\"object\":\"https://"            \
    "gw.ap.test/_ap/actor/alice\"}"
#define DIGEST "SHA-256=jp8uMomDhXZnXPTQ056edqxhKOWAh0UyOZF6aLf0jng="
#define CDIGEST "sha-256=:jp8uMomDhXZnXPTQ056edqxhKOWAh0UyOZF6aLf0jng=:"
#define DATE "Wed, 25 Nov 2026 16:17:03 GMT"
#define NOW INT64_C(1795623423)

/* The public half of tests/unit/test_httpsig.c's TEST_KEY. */
static const char TEST_PUB[] = "-----BEGIN PUBLIC KEY-----\n"
                               "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvr/JpUZsQSPX7yObEQtW\n"
                               "UUyjmujrjkGNpjsgetX1PRGI79BRG5UyMcLbvFtdZwKJewH6UfqMJrIyYLnc+FIf\n"
                               "u0syqf10YNTVnxck8FWXfDvczyC4Ue0wg03fXpL9+yb0ZucM9/nzPthXye9Ayyu5\n"
                               "leVHZ5MT8wNjfvKddyNKxnFpdxx4CnpxhH/bGeQa3RaaaZDRzhOY/h/X4Hxt2gzb\n"
                               "W4CTTuP8E6mO6GKwR6bXjcppSa++S1rekFgMl7CdQ6O9QGyImk6ESbLEw5tNnW6T\n"
                               "+xmH2XmMvEBdwo45YZ2cZJnOnrcR/bRbt0NMwOeHW6+nKIuDvKgF6qUBxmBuWOoj\n"
                               "2QIDAQAB\n"
                               "-----END PUBLIC KEY-----\n";

static EVP_PKEY *test_key(void)
{
    static EVP_PKEY *key;
    if (!key && lv_httpsig_load_public(TEST_PUB, strlen(TEST_PUB), &key, NULL) != 0)
        abort();
    return key;
}

static bool verbose(void)
{
    static int v = -1;
    if (v < 0)
        v = getenv("LV_FUZZ_VERBOSE") != NULL;
    return v;
}

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_httpsig: property violated: %s\n", what);
        abort();
    }
}

struct part {
    const char *p; /* a private copy, so that ASan sees reads past the end */
    size_t len;
    bool present;
};

static void header(struct lv_httpsig_header *h, size_t *n, const char *name, const char *v,
                   size_t len)
{
    h[*n].name = name;
    h[*n].name_len = strlen(name);
    h[*n].value = v;
    h[*n].value_len = len;
    (*n)++;
}

static void header_or(struct lv_httpsig_header *h, size_t *n, const char *name,
                      const struct part *p, const char *dflt)
{
    if (p->present)
        header(h, n, name, p->p, p->len);
    else
        header(h, n, name, dflt, strlen(dflt));
}

static bool is_code(int rc)
{
    return rc == LV_ERR_NOT_FOUND || rc == LV_ERR_INVAL || rc == LV_ERR_LIMIT || rc == LV_ERR_PERM;
}

static void check_refusal(int rc, const struct lv_error *err, const struct lv_httpsig_sig *sig)
{
    check(is_code(rc), "a refusal is a documented code");
    check(err->code == rc && err->msg[0] && err->cond[0], "a refusal says why");
    check(!sig->key_id && !sig->sig && !sig->base.data && !sig->label, "refusal leaves it empty");
}

static void check_accepted(const struct lv_httpsig_request *req, struct lv_httpsig_sig *sig)
{
    struct lv_httpsig_sig again;
    struct lv_error err = {0};
    size_t ulen;
    check(sig->key_id && sig->key_id[0] && sig->key_url, "key id present");
    ulen = strlen(sig->key_url);
    check(strncmp(sig->key_id, sig->key_url, ulen) == 0 &&
              (sig->key_id[ulen] == '\0' || sig->key_id[ulen] == '#'),
          "key URL is the key id without its fragment");
    check(sig->sig && sig->sig_len > 0 && sig->sig_len <= LV_HTTPSIG_SIG_B64_MAX / 4 * 3,
          "signature present and bounded");
    check(sig->base.len > 0 && !memchr(sig->base.data, '\0', sig->base.len) &&
              !memchr(sig->base.data, '\r', sig->base.len),
          "signing string has no NUL or CR");
    check(lv_httpsig_parse_unchecked(req, sig->label, &again, &err) == 0 &&
              again.base.len == sig->base.len &&
              memcmp(again.base.data, sig->base.data, sig->base.len) == 0,
          "unchecked parse builds the same signing string");
    lv_httpsig_sig_release(&again);
    lv_error_clear(&err);
    if (lv_httpsig_verify(sig, test_key(), LV_HTTPSIG_RETRY_DECODED, &err) == 0) {
        if (verbose())
            fprintf(stderr, "  %s: accepted, verifies\n", req->target);
    } else if (verbose()) {
        fprintf(stderr, "  %s: accepted, verify: %s\n", req->target, err.msg);
    }
}

static void run(const struct lv_httpsig_request *req)
{
    struct lv_httpsig_sig sig;
    struct lv_error err = {0};
    int rc = lv_httpsig_parse(req, NOW, 0, &sig, &err);
    if (rc != 0) {
        check_refusal(rc, &err, &sig);
        if (verbose())
            fprintf(stderr, "  %s: refused: %s\n", req->target, err.msg);
    } else {
        check_accepted(req, &sig);
    }
    lv_httpsig_sig_release(&sig);
    /* the unchecked parse on its own (a label-less RFC 9421 lookup too) */
    rc = lv_httpsig_parse_unchecked(req, NULL, &sig, &err);
    if (rc != 0)
        check_refusal(rc, &err, &sig);
    lv_httpsig_sig_release(&sig);
}

static void request(struct lv_httpsig_request *r, const char *target,
                    const struct lv_httpsig_header *h, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->method = "POST";
    r->method_len = 4;
    r->target = target;
    r->target_len = strlen(target);
    r->headers = h;
    r->n_headers = n;
    r->body = BODY;
    r->body_len = strlen(BODY);
}

static void run_cavage(const struct part *pt)
{
    struct lv_httpsig_header h[8];
    struct lv_httpsig_request r;
    size_t n = 0;
    header(h, &n, "Host", "gw.ap.test", 10);
    header_or(h, &n, "Date", &pt[3], DATE);
    header_or(h, &n, "Digest", &pt[2], DIGEST);
    header(h, &n, "Content-Type", "application/activity+json", 25);
    header(h, &n, "Signature", pt[0].p, pt[0].len);
    request(&r, "/_ap/inbox/alice", h, n);
    run(&r);
}

static void run_rfc9421(const struct part *pt)
{
    struct lv_httpsig_header h[8];
    struct lv_httpsig_request r;
    size_t n = 0;
    header(h, &n, "Host", "gw.ap.test", 10);
    header_or(h, &n, "Date", &pt[3], DATE);
    header_or(h, &n, "Content-Digest", &pt[4], CDIGEST);
    if (pt[2].present)
        header(h, &n, "Digest", pt[2].p, pt[2].len);
    header(h, &n, "Content-Type", "application/activity+json", 25);
    header(h, &n, "Signature-Input", pt[0].p, pt[0].len);
    if (pt[1].present)
        header(h, &n, "Signature", pt[1].p, pt[1].len);
    request(&r, "/_ap/inbox/alice", h, n);
    run(&r);
}

static void run_authorization(const struct part *pt, char *auth)
{
    struct lv_httpsig_header h[8];
    struct lv_httpsig_request r;
    size_t n = 0;
    memcpy(auth, "Signature ", 10);
    memcpy(auth + 10, pt[0].p, pt[0].len);
    header(h, &n, "host", "gw.ap.test", 10);
    header_or(h, &n, "date", &pt[3], DATE);
    header_or(h, &n, "digest", &pt[2], DIGEST);
    header(h, &n, "Authorization", auth, pt[0].len + 10);
    request(&r, "/_ap/inbox/al%69ce?x=%41", h, n);
    run(&r);
}

static void run_values(const struct part *pt)
{
    int64_t t;
    if (pt[3].present && lv_httpsig_parse_date(pt[3].p, pt[3].len, &t) == 0) {
        char buf[LV_HTTPSIG_DATE_LEN + 1];
        int64_t back;
        /* accepted dates in the formattable range come back as IMF-fixdate */
        if (t >= 0 && t <= INT64_C(253402300799)) {
            lv_httpsig_format_date((time_t)t, buf);
            check(lv_httpsig_parse_date(buf, strlen(buf), &back) == 0 && back == t,
                  "format(parse(date)) parses back");
        }
    }
    if (pt[2].present) {
        struct lv_error err = {0};
        int rc = lv_httpsig_digest_check(pt[2].p, pt[2].len, BODY, strlen(BODY), &err);
        check(rc == 0 || (is_code(rc) && err.msg[0]), "digest check result");
    }
    if (pt[4].present) {
        struct lv_error err = {0};
        int rc = lv_httpsig_content_digest_check(pt[4].p, pt[4].len, BODY, strlen(BODY), &err);
        check(rc == 0 || (is_code(rc) && err.msg[0]), "content-digest check result");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct part pt[5] = {{0}};
    const char *p = (const char *)data;
    char *copies[5] = {0}, *auth = lv_xmalloc(size + 11);
    size_t off = 0;
    for (int i = 0; i < 5 && off <= size; i++) {
        const char *nl = size > off ? memchr(p + off, '\n', size - off) : NULL;
        size_t len = nl ? (size_t)(nl - (p + off)) : size - off;
        copies[i] = lv_xmalloc(len ? len : 1);
        if (len)
            memcpy(copies[i], p + off, len);
        pt[i] = (struct part){copies[i], len, true};
        off += len + 1;
    }
    /* an empty line means "use the default" for the optional values */
    for (int i = 2; i < 5; i++)
        pt[i].present = pt[i].present && pt[i].len > 0;
    run_cavage(pt);
    run_rfc9421(pt);
    run_authorization(pt, auth);
    run_values(pt);
    for (int i = 0; i < 5; i++)
        free(copies[i]);
    free(auth);
    return 0;
}
