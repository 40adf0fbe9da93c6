/* libFuzzer target for lv_ap_addr: account handles, gateway URLs, WebFinger
 * resources, period encoding and (JID, node) encoding.
 *
 * The first byte picks the gateway config (local_only, ap_path); the rest is
 * fed to every parser. Beyond "does not crash", it checks:
 * - errors leave outputs empty and carry a message;
 * - a decoded (JID, node) encodes to an account that decodes to the same
 *   (JID, node) (virtual JIDs aside: they stand for remote accounts);
 * - a parsed URL's arguments rebuild into a URL that parses back to them;
 * - period_decode(period_encode(x)) == x, and decode is stable on its output;
 * - input split at the first newline as "JID\nnode" round-trips through
 *   account_from_jid / jid_from_account (known format limit aside). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ap/lv_ap_addr.h"
#include "core/lv_mem.h"
#include "xmpp/lv_jid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_ap_addr: property violated: %s\n", what);
        abort();
    }
}

static bool streq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Domains named pubsub.* are pubsub services; "again.*" is not known yet. */
static int is_pubsub(void *ud, const char *domain)
{
    if (strncmp(domain, "again.", 6) == 0)
        return LV_ERR_AGAIN;
    return strncmp(domain, "pubsub.", 7) == 0;
}

static struct lv_ap_addr_cfg make_cfg(uint8_t sel)
{
    static const char *const paths[] = {"_ap", "", "a/b", "/_ap/"};
    struct lv_ap_addr_cfg cfg = {
        .gateway_jid = "ap.example.org",
        .local_host = "example.org",
        .public_url = "example.org",
        .ap_path = paths[(sel >> 1) & 3],
        .local_only = sel & 1,
        .is_pubsub = is_pubsub,
        .is_pubsub_ud = NULL,
    };
    return cfg;
}

static bool error_ok(int rc, const struct lv_error *err)
{
    return rc < 0 && err->msg[0] != '\0';
}

/* (jid, node) -> account -> (jid, node) must be the identity. */
static void check_reencode(const struct lv_ap_addr_cfg *cfg, const struct lv_jid *jid,
                           const char *node)
{
    struct lv_error err = {0};
    struct lv_jid j2;
    char *acct, *node2;
    int rc;

    if (lv_ap_is_virtual_jid(cfg, jid))
        return;
    if (node && strcmp(node, LV_AP_NS_MICROBLOG) == 0)
        node = NULL;
    /* The format's limit: a user JID on a pubsub service with the default
     * node reads back as a node of the service. */
    if (jid->local && !node && is_pubsub(NULL, jid->domain) == 1)
        return;
    rc = lv_ap_account_from_jid(cfg, jid, node, &acct, &err);
    if (rc == LV_ERR_LIMIT || rc == LV_ERR_AGAIN)
        return;
    check(rc == 0, "a decoded (JID, node) encodes");
    rc = lv_ap_jid_from_account(cfg, acct, strlen(acct), &j2, &node2, &err);
    if (rc == LV_ERR_AGAIN) {
        free(acct);
        return;
    }
    if (rc != 0) {
        fprintf(stderr, "fuzz_ap_addr: %s does not decode: %s\n", acct, err.msg);
        abort();
    }
    check(lv_jid_bare_equal(jid, &j2), "re-encoded account decodes to the same JID");
    check(streq(node, node2), "re-encoded account decodes to the same node");
    free(node2);
    lv_jid_release(&j2);
    free(acct);
}

static void check_account(const struct lv_ap_addr_cfg *cfg, const char *s, size_t size)
{
    struct lv_error err = {0};
    struct lv_jid jid;
    char *node;
    int rc = lv_ap_jid_from_account(cfg, s, size, &jid, &node, &err);
    if (rc != 0) {
        check(error_ok(rc, &err), "account errors carry a message");
        check(jid.domain == NULL && node == NULL, "outputs empty on error");
        return;
    }
    check(jid.domain && !jid.resource, "a bare JID");
    check(!node || *node, "no empty node");
    check(!cfg->local_only || lv_ap_is_local(cfg, jid.domain), "local_only holds");
    check_reencode(cfg, &jid, node);
    free(node);
    lv_jid_release(&jid);
}

static void check_url(const struct lv_ap_addr_cfg *cfg, const char *s, size_t size, bool path)
{
    struct lv_error err = {0};
    struct lv_ap_url u, u2;
    char *url;
    int rc =
        path ? lv_ap_path_parse(cfg, s, size, &u, &err) : lv_ap_url_parse(cfg, s, size, &u, &err);
    if (rc != 0) {
        check(error_ok(rc, &err), "URL errors carry a message");
        check(u.nargs == 0, "no arguments on error");
        return;
    }
    check(u.nargs == lv_ap_url_type_nargs(u.type), "argument count fits the type");
    rc = lv_ap_url_build(cfg, u.type, (const char *const *)u.args, u.nargs, &url, &err);
    if (rc == 0) {
        check(lv_ap_url_is_local(cfg, url, strlen(url)), "built URLs are local");
        check(lv_ap_url_parse(cfg, url, strlen(url), &u2, &err) == 0, "built URL parses");
        check(u2.type == u.type && u2.nargs == u.nargs, "same type");
        for (size_t i = 0; i < u.nargs; i++)
            check(strcmp(u.args[i], u2.args[i]) == 0, "same arguments");
        lv_ap_url_release(&u2);
        free(url);
    } else {
        check(rc == LV_ERR_LIMIT, "parsed arguments rebuild unless too long");
    }
    lv_ap_url_release(&u);
}

static void check_webfinger(const struct lv_ap_addr_cfg *cfg, const char *s, size_t size)
{
    struct lv_error err = {0};
    char *acct, *url;
    int rc = lv_ap_webfinger_account(cfg, s, size, &acct, &err);
    if (rc != 0) {
        check(error_ok(rc, &err) && acct == NULL, "WebFinger errors");
        return;
    }
    check(strchr(acct, '@') != NULL, "a WebFinger account has an @");
    rc = lv_ap_webfinger_url(acct, strlen(acct), &url, &err);
    check(rc == 0 || error_ok(rc, &err), "WebFinger URL");
    free(url);
    free(acct);
}

static void check_period(const char *s, size_t size)
{
    struct lv_error err = {0};
    char *enc, *dec, *dec2;
    int rc = lv_ap_period_decode(s, size, &dec, &err);
    if (rc == 0) {
        /* decoding never grows its input */
        check(strlen(dec) <= size, "decode does not grow");
        free(dec);
    } else {
        check(error_ok(rc, &err) && dec == NULL, "decode errors");
    }
    if (memchr(s, '\0', size))
        return;
    enc = lv_ap_period_encode(s, size);
    rc = lv_ap_period_decode(enc, strlen(enc), &dec2, &err);
    if (rc == 0) {
        check(strlen(dec2) == size && memcmp(dec2, s, size) == 0, "decode(encode(x)) == x");
        free(dec2);
    }
    free(enc);
}

static void check_virtual(const struct lv_ap_addr_cfg *cfg, const char *s, size_t size)
{
    struct lv_error err = {0};
    struct lv_jid j, j2;
    char *acct;
    if (lv_ap_virtual_jid_from_account(cfg, s, size, &j, &err) != 0) {
        check(j.domain == NULL, "virtual JID empty on error");
        return;
    }
    check(lv_ap_is_virtual_jid(cfg, &j), "a virtual JID is virtual");
    check(lv_ap_account_from_virtual_jid(cfg, &j, &acct, &err) == 0, "virtual JID maps back");
    /* the account may be case-folded, but maps to the same JID again */
    check(lv_ap_virtual_jid_from_account(cfg, acct, strlen(acct), &j2, &err) == 0,
          "mapped-back account maps again");
    check(lv_jid_equal(&j, &j2), "virtual JID mapping is stable");
    lv_jid_release(&j2);
    free(acct);
    lv_jid_release(&j);
}

/* "JID\nnode" (no newline: no node). */
static void check_encode(const struct lv_ap_addr_cfg *cfg, const char *s, size_t size)
{
    const char *nl = memchr(s, '\n', size);
    struct lv_jid j;
    char *node = NULL;
    size_t jlen = nl ? (size_t)(nl - s) : size;
    if (lv_jid_parse(s, jlen, &j, NULL) != 0)
        return;
    if (nl) {
        if (memchr(nl + 1, '\0', size - jlen - 1)) {
            lv_jid_release(&j);
            return;
        }
        node = lv_xstrndup(nl + 1, size - jlen - 1);
    }
    {
        struct lv_error err = {0};
        char *acct;
        int rc = lv_ap_account_from_jid(cfg, &j, node, &acct, &err);
        if (rc == 0) {
            free(acct);
            if (!cfg->local_only || lv_ap_is_local(cfg, j.domain))
                check_reencode(cfg, &j, node && *node ? node : NULL);
        } else {
            check(error_ok(rc, &err) && acct == NULL, "encode errors");
        }
    }
    free(node);
    lv_jid_release(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lv_ap_addr_cfg cfg;
    char *s;
    if (size == 0)
        return 0;
    cfg = make_cfg(data[0]);
    size--;
    /* Copy so that a read past size is caught by ASan. */
    s = lv_xmalloc(size ? size : 1);
    memcpy(s, data + 1, size);
    check_account(&cfg, s, size);
    check_url(&cfg, s, size, false);
    check_url(&cfg, s, size, true);
    check_webfinger(&cfg, s, size);
    check_period(s, size);
    check_virtual(&cfg, s, size);
    check_encode(&cfg, s, size);
    free(s);
    return 0;
}
