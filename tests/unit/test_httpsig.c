/* Unit tests for lv_httpsig: digests, HTTP dates, keys, draft-cavage signing
 * and verification, RFC 9421 verification, and the refusal of every kind of
 * bad signature.
 *
 * Independent signatures. TEST_KEY below is a throw-away RSA 2048 key made
 * for these tests only. The *_SIG constants were produced once, outside this
 * code, with the OpenSSL command line over the exact signing strings spelled
 * out in this file (printf '%s' so that there is no trailing newline):
 *
 *   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out test.key
 *   printf '%s' "$SIGNING_STRING" > s.txt
 *   openssl dgst -sha256 -sign test.key s.txt | base64 -w0
 *
 * RSASSA-PKCS1-v1_5 is deterministic, so lv_httpsig_sign() must reproduce
 * OURS_SIG byte for byte, and the verifier must accept all of them.
 *
 * RFC 9421 vectors (Appendix B): the test request of B.2, the keys of B.1.2
 * (test-key-rsa-pss) and B.1.4 (test-key-ed25519), and the signatures and
 * signature bases of B.2.1, B.2.3 and B.2.6, copied from the RFC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "ap/lv_httpsig.h"
#include "core/lv_mem.h"

/* ---- fixtures ---- */

static const char TEST_KEY[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC+v8mlRmxBI9fv\n"
                               "I5sRC1ZRTKOa6OuOQY2mOyB61fU9EYjv0FEblTIxwtu8W11nAol7AfpR+owmsjJg\n"
                               "udz4Uh+7SzKp/XRg1NWfFyTwVZd8O9zPILhR7TCDTd9ekv37JvRm5wz3+fM+2FfJ\n"
                               "70DLK7mV5UdnkxPzA2N+8p13I0rGcWl3HHgKenGEf9sZ5BrdFpppkNHOE5j+H9fg\n"
                               "fG3aDNtbgJNO4/wTqY7oYrBHpteNymlJr75LWt6QWAyXsJ1Do71AbIiaToRJssTD\n"
                               "m02dbpP7GYfZeYy8QF3CjjlhnZxkmc6etxH9tFu3Q0zA54dbr6coi4O8qAXqpQHG\n"
                               "YG5Y6iPZAgMBAAECggEABpG6QbhHCxJvUdJbuUFXEySfl6VOU9ICDTpo/BNWt12S\n"
                               "xh06JogTqFcmBEAacNf2JjpmAEaFEYyZHk/Bsnt5PF+tZ8wS2DEK8d2P0BHx44K4\n"
                               "GtnildoPDd3ufkueQQpBMsg3NWpCPwpKR19iD3/gISTPhJucvWWYRWjDikpjfVR0\n"
                               "I8pWkQ8NHLK8BrTSK7IVMAVO3LZytQ8RYL5hdRPvwrL/ZdWFHzSWTCQN04yVWV5j\n"
                               "dB/uZOT1HcIy+/NWrDn2fBOtBUnvjPE+NvHxGeeVSrF/aVSZWv8c0O9CQKHy8Vla\n"
                               "kDHwP08TM/wReqWAqm2szrSCDFbU9w5DGl6+XDPDkQKBgQD74H8+I/0a7r+kb9bj\n"
                               "+94UNcBovqv7PUj+pekplUg1YZsmO4jeU/bvsNaXlSRbxHmuDQzHHbrELVIySa1d\n"
                               "y7SZjj/PdSN9w83r0zwN6caHSL0s76tofb1ZHnoYmopo+5zK+44PAmBMNlmiDpbn\n"
                               "W2zwA2SVfkhm5FsKoslsRsV1aQKBgQDB3yGzigIfba/8znMGeYYLBd+mk1UP0DSH\n"
                               "Xk1uoJYk+H3dYh5U0EuSgH/r4jM2aP9Gsro+UZ7y4IIhw1XqGKX40oiys/e0qOYZ\n"
                               "1Bt5NKY1NF3/UMXm7aZRj1PzHk16N+KZ8zogSaSxgJud+nCTJ31omWhiehEA6p3J\n"
                               "JmVFCzI88QKBgFkCpPTY0wFJjgAWZeJ7h6estypM94n5xmn3R8aiMrpqm+GO+HdZ\n"
                               "RNK/s5Yt5oNnk3ims/VJ1E6vlXSgBNw4uMHrOzGdO8WeBI9qPrbL/pSgZ/oRWIm8\n"
                               "pcVwt8UqF++xu18gNrunI1DLhDF45mssK/tFt638yqlR2bqQfI3/FJjBAoGBAJ8D\n"
                               "HYg9xLn0ZGktB4ki+X9nBOaCZz0+Hyd8gHQhQKT4L3v58zjLU4DI5qMZd7nD6sUY\n"
                               "6MsedQlufS2mInyMVO09+SLhm2TRN1Gt+A600TJITmSP4pIjD8xLi6aXjyKUXca5\n"
                               "iU5cOLnh60Fq3RTFSgYV9Vj4F6QxytLmLB+yLDVxAoGAYbdC+gF5SQrw4neXQd9i\n"
                               "CHDdS6GZScnm3xAsJiLyyEoeO6aFA4XYL0PIy1x994QxUTj/cTLJz01p4v6sKrPv\n"
                               "xcjUqphgVEXDXX746FxrRHP3RfpBllCQyLR3I82VdbDmnqB32PPT8oDwsTIfD1zZ\n"
                               "qkhqXr4faKhTN65OaMqflZw=\n"
                               "-----END PRIVATE KEY-----\n";

static const char TEST_PUB[] = "-----BEGIN PUBLIC KEY-----\n"
                               "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvr/JpUZsQSPX7yObEQtW\n"
                               "UUyjmujrjkGNpjsgetX1PRGI79BRG5UyMcLbvFtdZwKJewH6UfqMJrIyYLnc+FIf\n"
                               "u0syqf10YNTVnxck8FWXfDvczyC4Ue0wg03fXpL9+yb0ZucM9/nzPthXye9Ayyu5\n"
                               "leVHZ5MT8wNjfvKddyNKxnFpdxx4CnpxhH/bGeQa3RaaaZDRzhOY/h/X4Hxt2gzb\n"
                               "W4CTTuP8E6mO6GKwR6bXjcppSa++S1rekFgMl7CdQ6O9QGyImk6ESbLEw5tNnW6T\n"
                               "+xmH2XmMvEBdwo45YZ2cZJnOnrcR/bRbt0NMwOeHW6+nKIuDvKgF6qUBxmBuWOoj\n"
                               "2QIDAQAB\n"
                               "-----END PUBLIC KEY-----\n";

/* Another RSA 2048 public key: "the wrong key". */
static const char OTHER_PUB[] = "-----BEGIN PUBLIC KEY-----\n"
                                "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApKJ6/gUN4YCGYPzbE/e3\n"
                                "mxMUqTgEddPuxVLGZqmJexRBo932uhOD/5IeJhIOmZj+GdbvQOxaoP29uSFfBmlH\n"
                                "xly0euGXju23tANR8zvUZRc7nNtogmNPqA262+4DZC20/XohQtzkqvxzVTMD1++w\n"
                                "aiFvg/fCDxxEzwsGaxxNNlXTbBf3c6QdOwhJsV1ht5KYxliN4R+uZxOSvL/PNZ4z\n"
                                "43RaIZH+SLvmJjz3sou9xdiul9WUKaaUiIv3NmNxCY8z3chbAl9npveTtrxu8oT4\n"
                                "PLMj9LkQ9/xpgLhn25opqLc4QSmz6m5awq8eiwEwt/tXcqAFdai8A1sHA8UU26Ei\n"
                                "JQIDAQAB\n"
                                "-----END PUBLIC KEY-----\n";

static const char RSA1024_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCtPp/6sBJhiiKiRjq3zMGeJuCh\n"
    "dNG0jdPTyUr6GPFikYwGkxlk+v3PfFYQYS+0T/bPzZdlSNoXo5BZ8YupQeoQtw+H\n"
    "Ocs3ZnxSqWMDgBt+N7OfiMHAWrlX8rRLXl9GrPVuV67Ba//q/N+/aiG0hW2PpGCL\n"
    "TXMvdt3y1MtEP9jiZwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char EC_PUB[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWRBDsgL8cxrQxdqSDQSG8L3rtJOA\n"
                             "4b1JqazrkTg2QQg1U6U63U6AiVdZmoWPU5Pw0LdJwAfO8v7Tun0CNITNIQ==\n"
                             "-----END PUBLIC KEY-----\n";

/* RFC 9421 B.1.2 test-key-rsa-pss (public half, rsaEncryption SPKI). */
static const char RFC_RSA_PSS_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2\n"
    "+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+\n"
    "oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq\n"
    "gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W\n"
    "Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4\n"
    "aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI\n"
    "2wIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

/* RFC 9421 B.1.4 test-key-ed25519. */
static const char RFC_ED25519_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n"
    "-----END PUBLIC KEY-----\n";

#define BODY                                                                                       \
    "{\"type\":\"Follow\",\"actor\":\"https://snac.ap.test/bob\",\"object\":\"https://"            \
    "gw.ap.test/_ap/actor/alice\"}"
#define DIGEST "SHA-256=jp8uMomDhXZnXPTQ056edqxhKOWAh0UyOZF6aLf0jng="
#define CDIGEST "sha-256=:jp8uMomDhXZnXPTQ056edqxhKOWAh0UyOZF6aLf0jng=:"
#define DATE "Wed, 25 Nov 2026 16:17:03 GMT"
#define NOW INT64_C(1795623423) /* DATE */
#define CT "application/activity+json"
#define KEYID "https://snac.ap.test/bob#main-key"

/* "(request-target) host date digest", our own order. */
#define OURS_STRING                                                                                \
    "(request-target): post /_ap/inbox/alice\nhost: gw.ap.test\ndate: " DATE "\ndigest: " DIGEST
#define OURS_SIG                                                                                   \
    "gW9wtxfbf/TsqnbvVIMonuKos/4pbJQMLMogLM1tHZ1ru9OuyBpUe1zXSdvN4pW9V+PucSxKnnWsXw/"              \
    "0GmwzECvfCsLm9ZtEWW1w0eyHsZ6A3jX00RHKtRmi9JRXp4K0S2iMNY+sBL3h33SjDzBFEjQ77KpWAHsooh11TZndv0i" \
    "qrNITmkR091YWZPNPkdw2/JA02djWo4HHpYXe3JENqnBS0TxTz5A2WS543egbemMPIOEr5cslZajK7hL13w4OxQESoNe" \
    "uNXPI6O2oxsUOEi6bPlzcBQaAjsA1+hgmJO2GmE97/DNvwWqYu2gfH35BTwWA5+7vhlMz1G2j30yxWA=="

/* snac: "(request-target) host digest date". */
#define SNAC_STRING                                                                                \
    "(request-target): post /_ap/inbox/alice\nhost: gw.ap.test\ndigest: " DIGEST "\ndate: " DATE
#define SNAC_SIG                                                                                   \
    "fAXjeO4xXrt+iUU9dJsy8hp4Y+bI1NdBMooDFKByjlT1HFWlGrFsqNGczIh7BLJknkZ4uJJEvtZDI4fL8qQxrqodx1vP" \
    "Q0/wOQSgsI246x/GYzsWbXxpXyuMIKxUAC91iF0uB3cRb33jqHaYb/dHZaCvBq2Obu/EU4tAare7SHFsFsVrDN0wS8/"  \
    "u7FKBww3eyt3CGMiC27E+jQMVE9vCgD98cCiwvXadoZliNecQS1iP5tU3AeNb6Gk94ppcXRuGmhJkrL4yDYO3hZnm3Mh" \
    "LG/7WC6B/yPA9xRE4uQDyoKH+nZU/KxiGRNYY5qCaGtZQjnPDkLKs24jDENqDw1K/nw=="

/* Fedify's cavage knock: "(request-target) content-type date digest host". */
#define FEDIFY_STRING                                                                              \
    "(request-target): post /_ap/inbox/alice\ncontent-type: " CT "\ndate: " DATE                   \
    "\ndigest: " DIGEST "\nhost: gw.ap.test"
#define FEDIFY_SIG                                                                                 \
    "AMVFLATiybdwjtyrYMfl+x3iWU/Fe5WTQFtFu4LiKDocllpHzHllLciQ9cZUOtVlqv75eyHrzc9XVV6aIK6uxl8Fgfqv" \
    "9N+V+3m/OP8uchVAMgn/zMa8yaE2QpWMixMXhkh+kX+3sm4GFQwjEHoOTjF7wakjH6BXbJ0ZgNEmkze2QPS39o92U3IA" \
    "m7uTiWFfMLjEXTn+LYXZtBa/9J64y+s4gfYd5kUPCGDdvvrtWFtEX5AxT5mChBcfiZsEaWEyJ0oqC8KIMBLr5Cx9HbNh" \
    "448qZOZDD+BS1yXaUZUx7gOEdzYNYMcDRYRj8p48x01gQdF5rFximVHeNRxLViTOqQ=="

/* Fedify's RFC 9421 first knock. */
#define FEDIFY_PARAMS                                                                              \
    "(\"@method\" \"@target-uri\" \"@authority\" \"host\" \"date\" "                               \
    "\"content-digest\");alg=\"rsa-v1_5-sha256\";keyid=\"https://fedify.ap.test/users/"            \
    "bob#main-key\";created=1795623423"
#define RFC9421_BASE                                                                               \
    "\"@method\": POST\n"                                                                          \
    "\"@target-uri\": https://gw.ap.test/_ap/inbox/alice\n"                                        \
    "\"@authority\": gw.ap.test\n"                                                                 \
    "\"host\": gw.ap.test\n"                                                                       \
    "\"date\": " DATE "\n"                                                                         \
    "\"content-digest\": " CDIGEST "\n"                                                            \
    "\"@signature-params\": " FEDIFY_PARAMS
#define RFC9421_SIG                                                                                \
    "ZCcsVeO+gUodcF3jhNv8P7xNsa9m+zcPuvNq78oBcnanSCyxBWIFiC0GeqeftHkHW/3/G2fpO68JhvXP3X3YzAv0ry+W" \
    "mMQv0XiEsFXtXq8j2aQc9oJJSb0owLkj5llATk0U09gZgmDBtWRtGvW+TGV1ZGEUq6p9u8Q1HtTpY8fNYAuzp5SWGKIJ" \
    "vW7X2D8qgJDfbBXrAXqSGOGUvuk9CRdJ1NOVVvvzjvKiInerY78v1CCxCxh9CokCi7K01fks7OEGWrHeYkNhsRy45Rc2" \
    "6iJylKd4x01h+xniaBMc/70rKupMN3YyNc8e3W9d2HNnC2q0IpfMqMgE45gWsKv3dA=="

/* RFC 9421 / RFC 9530 test request. */
#define RFC_BODY "{\"hello\": \"world\"}"
#define RFC_SHA256 "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
#define RFC_SHA512                                                                                 \
    "WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew=="
#define RFC_NOW INT64_C(1618884473)
#define RFC_HEADERS                                                                                \
    "Host: example.com", "Date: Tue, 20 Apr 2021 02:07:55 GMT", "Content-Type: application/json",  \
        "Content-Digest: sha-512=:" RFC_SHA512 ":", "Content-Length: 18"

/* ---- request helpers ---- */

#define MAX_HEADERS 16

/* A request written as text: headers are "Name: value". */
struct treq {
    const char *method;
    const char *target;
    const char *headers[MAX_HEADERS]; /* NULL-terminated */
    const char *body;
};

struct built {
    struct lv_httpsig_header h[MAX_HEADERS];
    struct lv_httpsig_request r;
};

static void build(const struct treq *t, struct built *b)
{
    size_t n = 0;
    memset(b, 0, sizeof(*b));
    for (; n < MAX_HEADERS && t->headers[n]; n++) {
        const char *line = t->headers[n], *colon = strchr(line, ':');
        assert_non_null(colon);
        b->h[n].name = line;
        b->h[n].name_len = (size_t)(colon - line);
        b->h[n].value = colon[1] == ' ' ? colon + 2 : colon + 1;
        b->h[n].value_len = strlen(b->h[n].value);
    }
    b->r.method = t->method;
    b->r.method_len = strlen(t->method);
    b->r.target = t->target;
    b->r.target_len = strlen(t->target);
    b->r.headers = b->h;
    b->r.n_headers = n;
    b->r.body = t->body;
    b->r.body_len = t->body ? strlen(t->body) : 0;
}

static EVP_PKEY *pub(const char *pem)
{
    EVP_PKEY *k = NULL;
    struct lv_error err = {0};
    if (lv_httpsig_load_public(pem, strlen(pem), &k, &err) != 0)
        fail_msg("public key does not load: %s", err.msg);
    return k;
}

static EVP_PKEY *priv(const char *pem)
{
    EVP_PKEY *k = NULL;
    struct lv_error err = {0};
    if (lv_httpsig_load_private(pem, strlen(pem), &k, &err) != 0)
        fail_msg("private key does not load: %s", err.msg);
    return k;
}

static void expect_err(const char *row, int rc, const struct lv_error *err, int code,
                       const char *cond, const char *msg)
{
    if (rc != code)
        fail_msg("[%s] rc %d (%s), want %d; message: %s", row, rc, lv_err_str(rc), code, err->msg);
    if (code == 0)
        return;
    if (err->code != code || !err->msg[0])
        fail_msg("[%s] err not filled (code %d, msg \"%s\")", row, err->code, err->msg);
    if (cond && strcmp(err->cond, cond) != 0)
        fail_msg("[%s] cond \"%s\", want \"%s\" (%s)", row, err->cond, cond, err->msg);
    if (msg && !strstr(err->msg, msg))
        fail_msg("[%s] message \"%s\" lacks \"%s\"", row, err->msg, msg);
}

/* Parses t with the policy at now; returns rc, fills sig (caller releases). */
static int parse_at(const struct treq *t, int64_t now, struct lv_httpsig_sig *sig,
                    struct lv_error *err)
{
    struct built b;
    build(t, &b);
    return lv_httpsig_parse(&b.r, now, 0, sig, err);
}

/* ---- digests ---- */

static void test_digest_make(void **state)
{
    (void)state;
    char *d = lv_httpsig_digest("", 0);
    assert_string_equal(d, "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    free(d);
    d = lv_httpsig_digest(BODY, strlen(BODY));
    assert_string_equal(d, DIGEST);
    free(d);
    d = lv_httpsig_content_digest(RFC_BODY, strlen(RFC_BODY)); /* RFC 9530 B.1 */
    assert_string_equal(d, "sha-256=:" RFC_SHA256 ":");
    free(d);
}

struct digest_case {
    const char *name;
    bool content; /* Content-Digest rather than Digest */
    const char *value;
    int code;
    const char *msg;
};

static const struct digest_case digest_cases[] = {
    {"upper case", false, "SHA-256=" RFC_SHA256, 0, NULL},
    {"lower case", false, "sha-256=" RFC_SHA256, 0, NULL},
    {"several", false, "SHA-512=" RFC_SHA512 ", SHA-256=" RFC_SHA256, 0, NULL},
    {"unknown ignored", false, "MD5=Sd/dVLAcvNLSq16eXua5uQ==,SHA-256=" RFC_SHA256, 0, NULL},
    {"spaces", false, "  SHA-256=" RFC_SHA256 "  ,", 0, NULL},
    {"mismatch", false, "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", LV_ERR_PERM,
     "does not match"},
    {"sha-512 mismatch", false, "SHA-256=" RFC_SHA256 ",SHA-512=" RFC_SHA256, LV_ERR_INVAL,
     "32 bytes"},
    {"no sha-256", false, "SHA-512=" RFC_SHA512, LV_ERR_INVAL, "no SHA-256"},
    {"empty", false, "", LV_ERR_INVAL, "no SHA-256"},
    {"no algorithm", false, "=" RFC_SHA256, LV_ERR_INVAL, "without algorithm"},
    {"garbage base64", false, "SHA-256=!!!!", LV_ERR_INVAL, "base64"},
    {"short", false, "SHA-256=AAAA", LV_ERR_INVAL, "3 bytes"},
    {"cd sha-256", true, "sha-256=:" RFC_SHA256 ":", 0, NULL},
    {"cd sha-512", true, "sha-512=:" RFC_SHA512 ":", 0, NULL},
    {"cd both", true, "sha-256=:" RFC_SHA256 ":, sha-512=:" RFC_SHA512 ":", 0, NULL},
    {"cd params", true, "sha-256=:" RFC_SHA256 ":;x=1", 0, NULL},
    {"cd mismatch", true, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:", LV_ERR_PERM,
     "does not match"},
    {"cd unknown only", true, "md5=:Sd/dVLAcvNLSq16eXua5uQ==:", LV_ERR_INVAL, "no sha-256"},
    {"cd token", true,
     "sha-256="
     "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE",
     LV_ERR_INVAL, "byte sequence"},
    {"cd unterminated", true, "sha-256=:" RFC_SHA256, LV_ERR_INVAL, "unterminated"},
    {"cd upper key", true, "SHA-256=:" RFC_SHA256 ":", LV_ERR_INVAL, "expected a key"},
    {"cd trailing comma", true, "sha-256=:" RFC_SHA256 ":,", LV_ERR_INVAL, "trailing comma"},
};

static void test_digest_check(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(digest_cases); i++) {
        const struct digest_case *c = &digest_cases[i];
        struct lv_error err = {0};
        int rc = c->content ? lv_httpsig_content_digest_check(c->value, strlen(c->value), RFC_BODY,
                                                              strlen(RFC_BODY), &err)
                            : lv_httpsig_digest_check(c->value, strlen(c->value), RFC_BODY,
                                                      strlen(RFC_BODY), &err);
        expect_err(c->name, rc, &err, c->code, NULL, c->msg);
    }
}

static void test_digest_limit(void **state)
{
    (void)state;
    char big[LV_HTTPSIG_DIGEST_MAX + 2];
    struct lv_error err = {0};
    memset(big, ' ', sizeof(big));
    memcpy(big, "SHA-256=" RFC_SHA256, strlen("SHA-256=" RFC_SHA256));
    expect_err("digest limit", lv_httpsig_digest_check(big, sizeof(big), "", 0, &err), &err,
               LV_ERR_LIMIT, "limit", NULL);
    expect_err("content-digest limit",
               lv_httpsig_content_digest_check(big, sizeof(big), "", 0, &err), &err, LV_ERR_LIMIT,
               "limit", NULL);
}

/* ---- dates ---- */

struct date_case {
    const char *in;
    int64_t want; /* -1: refused */
};

static const struct date_case date_cases[] = {
    {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},
    {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777},
    {"Sun Nov  6 08:49:37 1994", 784111777},
    {"Sun Nov 06 08:49:37 1994", 784111777},
    {DATE, NOW},
    {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
    {"Wednesday, 25-Nov-26 16:17:03 GMT", NOW},
    {"Thu, 29 Feb 2024 12:00:00 GMT", 1709208000},
    {"Mon, 06 Nov 1994 08:49:37 GMT", -1},  /* wrong day name */
    {"Sun, 06 Nov 1994 08:49:37 UTC", -1},  /* not GMT */
    {"Sun, 06 nov 1994 08:49:37 GMT", -1},  /* names are case-sensitive */
    {"Sun, 6 Nov 1994 08:49:37 GMT", -1},   /* two-digit day */
    {"Sun,  06 Nov 1994 08:49:37 GMT", -1}, /* extra space */
    {"Sun, 06 Nov 1994 08:49:37 GMT ", -1}, /* trailing space */
    {"Sun, 06 Nov 1994 24:00:00 GMT", -1},  /* hour */
    {"Sun, 06 Nov 1994 08:60:00 GMT", -1},  /* minute */
    {"Fri, 29 Feb 2019 08:00:00 GMT", -1},  /* not a leap year */
    {"Sun, 31 Nov 1994 08:49:37 GMT", -1},  /* no 31 November */
    {"Sun, 06 Nov 19x4 08:49:37 GMT", -1},
    {"Sun, 06 Nov 1994 08:49:37 +0000", -1},  /* RFC 5322 zone */
    {"1994-11-06T08:49:37Z", -1},             /* ISO 8601 */
    {"Sunday, 06-Nov-1994 08:49:37 GMT", -1}, /* four-digit year in RFC 850 */
    {"Sun, 06-Nov-94 08:49:37 GMT", -1},      /* RFC 850 needs the long name */
    {"Sun Nov  6 08:49:37 1994 GMT", -1},
    {"", -1},
};

static void test_parse_date(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(date_cases); i++) {
        int64_t t = -1;
        int rc = lv_httpsig_parse_date(date_cases[i].in, strlen(date_cases[i].in), &t);
        if (date_cases[i].want < 0) {
            if (rc != LV_ERR_INVAL)
                fail_msg("[%s] accepted as %lld", date_cases[i].in, (long long)t);
        } else if (rc != 0 || t != date_cases[i].want) {
            fail_msg("[%s] rc %d, t %lld, want %lld", date_cases[i].in, rc, (long long)t,
                     (long long)date_cases[i].want);
        }
    }
}

static void test_format_date(void **state)
{
    (void)state;
    static const struct {
        time_t t;
        const char *want;
    } cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {(time_t)NOW, DATE},
        {1709208000, "Thu, 29 Feb 2024 12:00:00 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {4102444799, "Thu, 31 Dec 2099 23:59:59 GMT"},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        char buf[LV_HTTPSIG_DATE_LEN + 1];
        int64_t back;
        assert_string_equal(lv_httpsig_format_date(cases[i].t, buf), cases[i].want);
        assert_int_equal(lv_httpsig_parse_date(buf, strlen(buf), &back), 0);
        assert_int_equal(back, (int64_t)cases[i].t);
    }
    /* every day over ~30 years round-trips */
    for (int64_t t = 0; t < INT64_C(946684800); t += 86400 + 3599) {
        char buf[LV_HTTPSIG_DATE_LEN + 1];
        int64_t back;
        lv_httpsig_format_date((time_t)t, buf);
        assert_int_equal(lv_httpsig_parse_date(buf, strlen(buf), &back), 0);
        assert_int_equal(back, t);
    }
}

/* ---- keys ---- */

static void test_keygen(void **state)
{
    (void)state;
    char *priv_pem, *pub_pem, *again, *sigh;
    EVP_PKEY *k, *p;
    struct lv_error err = {0};
    struct lv_httpsig_out out = {"GET", "/x", "h.test", DATE, NULL, NULL};
    struct lv_httpsig_sig sig;

    assert_int_equal(lv_httpsig_keygen(0, &priv_pem, &pub_pem, &err), 0);
    assert_non_null(strstr(priv_pem, "-----BEGIN PRIVATE KEY-----")); /* PKCS#8 */
    assert_non_null(strstr(pub_pem, "-----BEGIN PUBLIC KEY-----"));   /* SPKI */
    k = priv(priv_pem);
    p = pub(pub_pem);
    assert_int_equal(EVP_PKEY_get_bits(k), 2048);
    again = lv_httpsig_public_pem(k);
    assert_string_equal(again, pub_pem);

    /* a key that signs and verifies */
    assert_int_equal(lv_httpsig_sign(&out, "https://gw.test/a#main-key", k, &sigh, &err), 0);
    {
        char *line = lv_xasprintf("Signature: %s", sigh);
        struct treq t = {"GET", "/x", {"Host: h.test", "Date: " DATE, line, NULL}, NULL};
        assert_int_equal(parse_at(&t, NOW, &sig, &err), 0);
        assert_int_equal(lv_httpsig_verify(&sig, p, 0, &err), 0);
        lv_httpsig_sig_release(&sig);
        free(line);
    }
    free(sigh);
    free(again);
    free(priv_pem);
    free(pub_pem);
    EVP_PKEY_free(k);
    EVP_PKEY_free(p);

    expect_err("keygen 1024", lv_httpsig_keygen(1024, &priv_pem, &pub_pem, &err), &err,
               LV_ERR_INVAL, NULL, "out of");
    assert_null(priv_pem);
    assert_null(pub_pem);
}

static void test_load_keys(void **state)
{
    (void)state;
    static const struct {
        const char *name, *pem;
        int code;
        const char *msg;
    } cases[] = {
        {"rsa 2048", TEST_PUB, 0, NULL},
        {"ed25519", RFC_ED25519_PUB, 0, NULL},
        {"rsa 1024", RSA1024_PUB, LV_ERR_INVAL, "1024 bits"},
        {"ec p-256", EC_PUB, LV_ERR_INVAL, "unsupported public key type"},
        {"garbage", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", LV_ERR_INVAL,
         "not an SPKI"},
        {"private key", TEST_KEY, LV_ERR_INVAL, "not an SPKI"},
        {"empty", "", LV_ERR_INVAL, "not an SPKI"},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        EVP_PKEY *k = (EVP_PKEY *)1;
        struct lv_error err = {0};
        int rc = lv_httpsig_load_public(cases[i].pem, strlen(cases[i].pem), &k, &err);
        expect_err(cases[i].name, rc, &err, cases[i].code, NULL, cases[i].msg);
        if (rc == 0)
            assert_non_null(k);
        else
            assert_null(k);
        EVP_PKEY_free(rc == 0 ? k : NULL);
    }
    {
        EVP_PKEY *k;
        struct lv_error err = {0};
        char big[LV_HTTPSIG_PEM_MAX + 1];
        memset(big, 'A', sizeof(big));
        expect_err("pem too long", lv_httpsig_load_public(big, sizeof(big), &k, &err), &err,
                   LV_ERR_LIMIT, "limit", NULL);
        expect_err("public as private",
                   lv_httpsig_load_private(TEST_PUB, strlen(TEST_PUB), &k, &err), &err,
                   LV_ERR_INVAL, NULL, "private key");
    }
}

/* ---- signing ---- */

static void test_sign_matches_openssl(void **state)
{
    (void)state;
    EVP_PKEY *k = priv(TEST_KEY);
    struct lv_httpsig_out out = {"POST", "/_ap/inbox/alice", "gw.ap.test", DATE, DIGEST, NULL};
    struct lv_error err = {0};
    char *h;
    assert_int_equal(lv_httpsig_sign(&out, KEYID, k, &h, &err), 0);
    assert_string_equal(h, "keyId=\"" KEYID "\",algorithm=\"rsa-sha256\","
                           "headers=\"(request-target) host date digest\","
                           "signature=\"" OURS_SIG "\"");
    free(h);
    EVP_PKEY_free(k);
}

static void test_sign_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        struct lv_httpsig_out out;
        const char *key_id;
        const char *msg;
    } cases[] = {
        {"post without digest", {"POST", "/i", "h", DATE, NULL, NULL}, KEYID, "digest"},
        {"no host", {"GET", "/i", NULL, DATE, NULL, NULL}, KEYID, "header value"},
        {"no date", {"GET", "/i", "h", NULL, NULL, NULL}, KEYID, "header value"},
        {"empty host", {"GET", "/i", "", DATE, NULL, NULL}, KEYID, "empty"},
        {"padded host", {"GET", "/i", " h", DATE, NULL, NULL}, KEYID, "padded"},
        {"crlf in date", {"GET", "/i", "h", "x\r\nEvil: 1", NULL, NULL}, KEYID, "control"},
        {"bad method", {"PO ST", "/i", "h", DATE, DIGEST, NULL}, KEYID, "method"},
        {"no method", {NULL, "/i", "h", DATE, DIGEST, NULL}, KEYID, "method"},
        {"no target", {"GET", "", "h", DATE, NULL, NULL}, KEYID, "target"},
        {"space in target", {"GET", "/a b", "h", DATE, NULL, NULL}, KEYID, "target"},
        {"utf-8 in target", {"GET", "/al\xc3\xa9", "h", DATE, NULL, NULL}, KEYID, "target"},
        {"quote in key id", {"GET", "/i", "h", DATE, NULL, NULL}, "a\"b", "key id"},
        {"empty key id", {"GET", "/i", "h", DATE, NULL, NULL}, "", "key id"},
        {"no key id", {"GET", "/i", "h", DATE, NULL, NULL}, NULL, "key id"},
        {"newline in key id", {"GET", "/i", "h", DATE, NULL, NULL}, "a\nb", "key id"},
    };
    EVP_PKEY *k = priv(TEST_KEY), *ed = pub(RFC_ED25519_PUB);
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        struct lv_error err = {0};
        char *h = (char *)1;
        int rc = lv_httpsig_sign(&cases[i].out, cases[i].key_id, k, &h, &err);
        expect_err(cases[i].name, rc, &err, LV_ERR_INVAL, NULL, cases[i].msg);
        assert_null(h);
    }
    {
        struct lv_httpsig_out out = {"GET", "/i", "h", DATE, NULL, NULL};
        struct lv_error err = {0};
        char *h;
        expect_err("ed25519 key", lv_httpsig_sign(&out, KEYID, ed, &h, &err), &err, LV_ERR_INVAL,
                   NULL, "RSA key");
    }
    EVP_PKEY_free(k);
    EVP_PKEY_free(ed);
}

/* Sign, then parse and verify what was signed. */
static void test_roundtrip(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        struct lv_httpsig_out out;
        const char *body;
        const char *headers;
    } cases[] = {
        {"post",
         {"POST", "/_ap/inbox/alice", "gw.ap.test", DATE, DIGEST, NULL},
         BODY,
         "(request-target) host date digest"},
        {"post content-type",
         {"POST", "/_ap/inbox", "gw.ap.test", DATE, DIGEST, CT},
         BODY,
         "(request-target) host date digest content-type"},
        {"get",
         {"GET", "/_ap/actor/alice", "gw.ap.test", DATE, NULL, NULL},
         NULL,
         "(request-target) host date"},
        {"get query",
         {"get", "/outbox?page=2&x=%20y", "gw.ap.test:8443", DATE, NULL, NULL},
         NULL,
         "(request-target) host date"},
        {"get digest (snac)",
         {"GET", "/a", "gw.ap.test", DATE,
          "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", NULL},
         NULL,
         "(request-target) host date digest"},
    };
    EVP_PKEY *k = priv(TEST_KEY), *p = pub(TEST_PUB), *other = pub(OTHER_PUB);
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        const struct lv_httpsig_out *o = &cases[i].out;
        struct lv_error err = {0};
        struct lv_httpsig_sig sig;
        char *h, *host, *date, *digest, *ct, *sigline, *want;
        assert_int_equal(lv_httpsig_sign(o, KEYID, k, &h, &err), 0);
        want = lv_xasprintf("headers=\"%s\"", cases[i].headers);
        if (!strstr(h, want))
            fail_msg("[%s] %s lacks %s", cases[i].name, h, want);
        host = lv_xasprintf("Host: %s", o->host);
        date = lv_xasprintf("Date: %s", o->date);
        digest = lv_xasprintf("Digest: %s", o->digest ? o->digest : "");
        ct = lv_xasprintf("Content-Type: %s", o->content_type ? o->content_type : "x");
        sigline = lv_xasprintf("Signature: %s", h);
        {
            struct treq t = {
                o->method,
                o->target,
                {host, date, sigline, o->digest ? digest : ct, o->content_type ? ct : NULL, NULL},
                cases[i].body};
            int rc = parse_at(&t, NOW + 30, &sig, &err);
            if (rc != 0)
                fail_msg("[%s] parse: %s", cases[i].name, err.msg);
            assert_int_equal(sig.scheme, LV_HTTPSIG_CAVAGE);
            assert_string_equal(sig.key_id, KEYID);
            assert_string_equal(sig.key_url, "https://snac.ap.test/bob");
            assert_string_equal(sig.alg_name, "rsa-sha256");
            assert_int_equal(sig.date, NOW);
            if (lv_httpsig_verify(&sig, p, 0, &err) != 0)
                fail_msg("[%s] verify: %s", cases[i].name, err.msg);
            expect_err(cases[i].name, lv_httpsig_verify(&sig, other, 0, &err), &err, LV_ERR_PERM,
                       "signature", "does not verify");
            lv_httpsig_sig_release(&sig);
        }
        free(want);
        free(host);
        free(date);
        free(digest);
        free(ct);
        free(sigline);
        free(h);
    }
    EVP_PKEY_free(k);
    EVP_PKEY_free(p);
    EVP_PKEY_free(other);
}

/* ---- verification of independently produced signatures ---- */

#define POST_INBOX "POST", "/_ap/inbox/alice"
#define SIG_LINE(alg, hdrs, sig)                                                                   \
    "Signature: keyId=\"" KEYID "\",algorithm=\"" alg "\",headers=\"" hdrs "\",signature=\"" sig   \
    "\""

struct accept_case {
    const char *name;
    struct treq req;
    const char *base; /* the signing string / signature base */
    const char *label;
    enum lv_httpsig_scheme scheme;
    bool not_signed_by_test_key; /* parse-only row */
};

static const struct accept_case accept_cases[] = {
    {"ours",
     {POST_INBOX,
      {"Host: gw.ap.test", "Date: " DATE, "Digest: " DIGEST, "Content-Type: " CT,
       SIG_LINE("rsa-sha256", "(request-target) host date digest", OURS_SIG)},
      BODY},
     OURS_STRING,
     NULL,
     LV_HTTPSIG_CAVAGE,
     false},
    {"snac",
     {POST_INBOX,
      {"host: gw.ap.test", "date: " DATE, "digest: " DIGEST, "content-type: " CT,
       SIG_LINE("rsa-sha256", "(request-target) host digest date", SNAC_SIG)},
      BODY},
     SNAC_STRING,
     NULL,
     LV_HTTPSIG_CAVAGE,
     false},
    {"fedify cavage",
     {POST_INBOX,
      {"Host: gw.ap.test", "Date: " DATE, "Digest: " DIGEST, "Content-Type: " CT,
       "Signature: keyId=\"" KEYID "\",algorithm=\"rsa-sha256\","
       "headers=\"(request-target) content-type date digest host\",signature=\"" FEDIFY_SIG "\""},
      BODY},
     FEDIFY_STRING,
     NULL,
     LV_HTTPSIG_CAVAGE,
     false},
    {"hs2019 (Mastodon)",
     {POST_INBOX,
      {"Host: gw.ap.test", "Date: " DATE, "Digest: " DIGEST,
       SIG_LINE("hs2019", "(request-target) host date digest", OURS_SIG)},
      BODY},
     OURS_STRING,
     NULL,
     LV_HTTPSIG_CAVAGE,
     false},
    {"no algorithm",
     {POST_INBOX,
      {"Host: gw.ap.test", "Date: " DATE, "Digest: " DIGEST,
       "Signature: keyId=\"" KEYID "\",headers=\"(request-target) host date digest\","
       "signature=\"" OURS_SIG "\""},
      BODY},
     OURS_STRING,
     NULL,
     LV_HTTPSIG_CAVAGE,
     false},
    {"order, spaces, case of names and headers",
     {POST_INBOX,
      {"HOST: gw.ap.test", "DATE: " DATE, "DIGEST: " DIGEST,
       "Signature:   signature = \"" OURS_SIG "\" ,, Headers=\"(Request-Target)  Host Date "
       "Digest\",Algorithm=\"RSA-SHA256\", keyid=\"" KEYID "\" , extra=token"},
      BODY},
     OURS_STRING,
     NULL,
     LV_HTTPSIG_CAVAGE,
     false},
    {"lower-case digest",
     {POST_INBOX,
      {"Host: gw.ap.test", "Date: " DATE,
       "Digest: sha-256=jp8uMomDhXZnXPTQ056edqxhKOWAh0UyOZF6aLf0jng=",
       "Signature: keyId=\"" KEYID "\",algorithm=\"rsa-sha256\",headers=\"(request-target) "
       "host date digest\",signature=\"" OURS_SIG "\""},
      BODY},
     "(request-target): post /_ap/inbox/alice\nhost: gw.ap.test\ndate: " DATE
     "\ndigest: sha-256=jp8uMomDhXZnXPTQ056edqxhKOWAh0UyOZF6aLf0jng=",
     NULL,
     LV_HTTPSIG_CAVAGE,
     true},
    {"authorization header",
     {POST_INBOX,
      {"Host: gw.ap.test", "Date: " DATE, "Digest: " DIGEST,
       "Authorization: Signature keyId=\"" KEYID "\",algorithm=\"rsa-sha256\","
       "headers=\"(request-target) host date digest\",signature=\"" OURS_SIG "\""},
      BODY},
     OURS_STRING,
     NULL,
     LV_HTTPSIG_CAVAGE,
     false},
    {"fedify rfc 9421",
     {POST_INBOX,
      {"Host: gw.ap.test", "Date: " DATE, "Content-Type: " CT, "Content-Digest: " CDIGEST,
       "Signature-Input: sig1=" FEDIFY_PARAMS, "Signature: sig1=:" RFC9421_SIG ":"},
      BODY},
     RFC9421_BASE,
     "sig1",
     LV_HTTPSIG_RFC9421,
     false},
    {"rfc 9421 sloppy spacing",
     {POST_INBOX,
      {"Host: gw.ap.test", "Date: " DATE, "Content-Type: " CT, "Content-Digest: " CDIGEST,
       "Signature-Input:  sig1=(  \"@method\"  \"@target-uri\" \"@authority\" \"host\" \"date\" "
       "\"content-digest\" );alg=\"rsa-v1_5-sha256\";  "
       "keyid=\"https://fedify.ap.test/users/bob#main-key\";created=01795623423",
       "Signature: other=:AAAA:,  sig1=:" RFC9421_SIG ":;x=1"},
      BODY},
     RFC9421_BASE,
     "sig1",
     LV_HTTPSIG_RFC9421,
     false},
};

static void test_accept(void **state)
{
    (void)state;
    EVP_PKEY *p = pub(TEST_PUB), *other = pub(OTHER_PUB);
    for (size_t i = 0; i < LV_ARRAY_LEN(accept_cases); i++) {
        const struct accept_case *c = &accept_cases[i];
        struct lv_httpsig_sig sig;
        struct lv_error err = {0};
        if (parse_at(&c->req, NOW, &sig, &err) != 0)
            fail_msg("[%s] parse: %s", c->name, err.msg);
        if (sig.base.len != strlen(c->base) || memcmp(sig.base.data, c->base, sig.base.len) != 0)
            fail_msg("[%s] base\n%s\nwant\n%s", c->name, sig.base.data, c->base);
        assert_int_equal(sig.scheme, c->scheme);
        if (c->label)
            assert_string_equal(sig.label, c->label);
        else
            assert_null(sig.label);
        assert_int_equal(sig.base_decoded.len, 0);
        if (c->not_signed_by_test_key) {
            expect_err(c->name, lv_httpsig_verify(&sig, p, 0, &err), &err, LV_ERR_PERM, "signature",
                       NULL);
        } else if (lv_httpsig_verify(&sig, p, 0, &err) != 0)
            fail_msg("[%s] verify: %s", c->name, err.msg);
        expect_err(c->name, lv_httpsig_verify(&sig, other, 0, &err), &err, LV_ERR_PERM, "signature",
                   "does not verify");
        lv_httpsig_sig_release(&sig);
    }
    EVP_PKEY_free(p);
    EVP_PKEY_free(other);
}

/* draft-cavage-12 §2.3's example shape: hs2019 with (created), a header
 * sent twice (joined with ", "), an empty header, whitespace trimmed. The
 * draft's "Tue, 07 Jun 2014" was a Saturday: a strict parser refuses it. */
static void test_cavage_spec_example(void **state)
{
    (void)state;
    struct treq t = {"GET",
                     "/foo",
                     {"Host: example.org", "Date: Sat, 07 Jun 2014 20:51:35 GMT",
                      "X-Example:   Example header with some whitespace.  ", "X-EmptyHeader:",
                      "Cache-Control: max-age=60", "Cache-Control: must-revalidate",
                      "Signature: keyId=\"test\",algorithm=\"hs2019\",created=1402170695,"
                      "headers=\"(request-target) (created) host date cache-control "
                      "x-emptyheader x-example\",signature=\"AAAA\""},
                     NULL};
    struct lv_httpsig_sig sig;
    struct lv_error err = {0};
    if (parse_at(&t, 1402170695 + 5, &sig, &err) != 0)
        fail_msg("parse: %s", err.msg);
    assert_string_equal(sig.base.data, "(request-target): get /foo\n"
                                       "(created): 1402170695\n"
                                       "host: example.org\n"
                                       "date: Sat, 07 Jun 2014 20:51:35 GMT\n"
                                       "cache-control: max-age=60, must-revalidate\n"
                                       "x-emptyheader: \n"
                                       "x-example: Example header with some whitespace.");
    assert_int_equal(sig.created, 1402170695);
    assert_string_equal(sig.key_url, "test");
    lv_httpsig_sig_release(&sig);
}

/* ---- RFC 9421 Appendix B ---- */

static void expect_base(const char *row, const struct lv_httpsig_sig *sig, const char *want)
{
    if (sig->base.len != strlen(want) || memcmp(sig->base.data, want, sig->base.len) != 0)
        fail_msg("[%s] base\n%s\nwant\n%s", row, sig->base.data, want);
}

static void test_rfc9421_b26_ed25519(void **state)
{
    (void)state;
    struct treq t = {"POST",
                     "/foo?param=Value&Pet=dog",
                     {RFC_HEADERS,
                      "Signature-Input: sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" "
                      "\"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-"
                      "ed25519\"",
                      "Signature: sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9"
                      "EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"},
                     RFC_BODY};
    struct built b;
    struct lv_httpsig_sig sig;
    struct lv_error err = {0};
    EVP_PKEY *ed = pub(RFC_ED25519_PUB), *rsa = pub(TEST_PUB);
    build(&t, &b);
    if (lv_httpsig_parse_unchecked(&b.r, NULL, &sig, &err) != 0)
        fail_msg("parse: %s", err.msg);
    expect_base("B.2.6", &sig,
                "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
                "\"@method\": POST\n"
                "\"@path\": /foo\n"
                "\"@authority\": example.com\n"
                "\"content-type\": application/json\n"
                "\"content-length\": 18\n"
                "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" "
                "\"content-type\" \"content-length\");created=1618884473"
                ";keyid=\"test-key-ed25519\"");
    assert_string_equal(sig.label, "sig-b26");
    assert_string_equal(sig.key_id, "test-key-ed25519");
    assert_int_equal(sig.alg, LV_HTTPSIG_ALG_FROM_KEY);
    assert_int_equal(lv_httpsig_verify(&sig, ed, 0, &err), 0);
    expect_err("ed25519 sig, rsa key", lv_httpsig_verify(&sig, rsa, 0, &err), &err, LV_ERR_PERM,
               "signature", NULL);
    sig.alg = LV_HTTPSIG_ALG_ED25519;
    expect_err("ed25519 alg, rsa key", lv_httpsig_verify(&sig, rsa, 0, &err), &err, LV_ERR_PERM,
               "key", "cannot verify");
    sig.base.data[0] ^= 1;
    expect_err("tampered base", lv_httpsig_verify(&sig, ed, 0, &err), &err, LV_ERR_PERM,
               "signature", NULL);
    lv_httpsig_sig_release(&sig);

    /* The policy refuses it: the body's digest is not covered. */
    expect_err("B.2.6 policy", lv_httpsig_parse(&b.r, RFC_NOW, 0, &sig, &err), &err, LV_ERR_PERM,
               "coverage", "digest");
    assert_null(sig.key_id);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(rsa);
}

#define B23_INPUT                                                                                  \
    "sig-b23=(\"date\" \"@method\" \"@path\" \"@query\" \"@authority\" \"content-type\" "          \
    "\"content-digest\" \"content-length\");created=1618884473;keyid=\"test-key-rsa-pss\""
#define B23_SIG                                                                                    \
    "bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5" \
    "p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aY" \
    "A2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+Q" \
    "IF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA=="

/* B.2.3 passes our whole policy (it signs @method, @authority, @path, the
 * digest and the date), so it goes through lv_httpsig_parse(). */
static void test_rfc9421_b23_rsa_pss(void **state)
{
    (void)state;
    struct treq t = {
        "POST",
        "/foo?param=Value&Pet=dog",
        {RFC_HEADERS, "Signature-Input: " B23_INPUT, "Signature: sig-b23=:" B23_SIG ":"},
        RFC_BODY};
    struct lv_httpsig_sig sig;
    struct lv_error err = {0};
    EVP_PKEY *k = pub(RFC_RSA_PSS_PUB);
    if (parse_at(&t, RFC_NOW + 60, &sig, &err) != 0)
        fail_msg("parse: %s", err.msg);
    expect_base("B.2.3", &sig,
                "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
                "\"@method\": POST\n"
                "\"@path\": /foo\n"
                "\"@query\": ?param=Value&Pet=dog\n"
                "\"@authority\": example.com\n"
                "\"content-type\": application/json\n"
                "\"content-digest\": sha-512=:" RFC_SHA512 ":\n"
                "\"content-length\": 18\n"
                "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@query\" \"@authority\" "
                "\"content-type\" \"content-digest\" \"content-length\");created=1618884473"
                ";keyid=\"test-key-rsa-pss\"");
    assert_int_equal(sig.created, RFC_NOW);
    assert_int_equal(sig.date, RFC_NOW + 2); /* Date is 2 s after created */
    /* No alg parameter: an RSA key means rsa-v1_5-sha256, which fails... */
    expect_err("B.2.3 as v1.5", lv_httpsig_verify(&sig, k, 0, &err), &err, LV_ERR_PERM, "signature",
               NULL);
    /* ...the verifier that knows the key is PSS says so. */
    sig.alg = LV_HTTPSIG_ALG_RSA_PSS_SHA512;
    assert_int_equal(lv_httpsig_verify(&sig, k, 0, &err), 0);
    lv_httpsig_sig_release(&sig);
    EVP_PKEY_free(k);
}

static void test_rfc9421_b21_minimal(void **state)
{
    (void)state;
    struct treq t = {
        "POST",
        "/foo?param=Value&Pet=dog",
        {RFC_HEADERS,
         "Signature-Input: sig-b21=();created=1618884473;keyid=\"test-key-rsa-pss\";nonce=\"b3k2"
         "pp5k7z-50gnwp.yemd\"",
         "Signature: sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx3"
         "1Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/"
         "Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8"
         "jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssin"
         "Q98Xw9Q==:"},
        RFC_BODY};
    struct built b;
    struct lv_httpsig_sig sig;
    struct lv_error err = {0};
    EVP_PKEY *k = pub(RFC_RSA_PSS_PUB);
    build(&t, &b);
    assert_int_equal(lv_httpsig_parse_unchecked(&b.r, "sig-b21", &sig, &err), 0);
    expect_base("B.2.1", &sig,
                "\"@signature-params\": ();created=1618884473;keyid=\"test-key-rsa-pss\""
                ";nonce=\"b3k2pp5k7z-50gnwp.yemd\"");
    sig.alg = LV_HTTPSIG_ALG_RSA_PSS_SHA512;
    assert_int_equal(lv_httpsig_verify(&sig, k, 0, &err), 0);
    lv_httpsig_sig_release(&sig);
    expect_err("B.2.1 policy", lv_httpsig_parse(&b.r, RFC_NOW, 0, &sig, &err), &err, LV_ERR_PERM,
               "coverage", "@method");
    expect_err("no such label", lv_httpsig_parse_unchecked(&b.r, "sig-x", &sig, &err), &err,
               LV_ERR_INVAL, "malformed", "no such label");
    EVP_PKEY_free(k);
}

/* Derived components, authority normalisation, the caller's authority. */
static void test_rfc9421_derived(void **state)
{
    (void)state;
    struct treq t = {"GET",
                     "/a%2Fb",
                     {"Host: GW.ap.test:443",
                      "Signature-Input: s=(\"@method\" \"@target-uri\" \"@authority\" \"@scheme\" "
                      "\"@request-target\" \"@path\" \"@query\");created=5",
                      "Signature: s=:AAAA:"},
                     NULL};
    struct built b;
    struct lv_httpsig_sig sig;
    struct lv_error err = {0};
    const char *params = "\"@signature-params\": (\"@method\" \"@target-uri\" \"@authority\" "
                         "\"@scheme\" \"@request-target\" \"@path\" \"@query\");created=5";
    char *want;
    build(&t, &b);
    assert_int_equal(lv_httpsig_parse_unchecked(&b.r, NULL, &sig, &err), 0);
    want = lv_xasprintf("\"@method\": GET\n\"@target-uri\": https://gw.ap.test/a%%2Fb\n"
                        "\"@authority\": gw.ap.test\n\"@scheme\": https\n"
                        "\"@request-target\": /a%%2Fb\n\"@path\": /a%%2Fb\n\"@query\": ?\n%s",
                        params);
    expect_base("derived", &sig, want);
    free(want);
    want = lv_xasprintf("\"@method\": GET\n\"@target-uri\": https://gw.ap.test/a/b\n"
                        "\"@authority\": gw.ap.test\n\"@scheme\": https\n"
                        "\"@request-target\": /a/b\n\"@path\": /a/b\n\"@query\": ?\n%s",
                        params);
    assert_string_equal(sig.base_decoded.data, want);
    free(want);
    lv_httpsig_sig_release(&sig);

    b.r.scheme = "http";
    b.r.authority = "Proxy.Example:80";
    b.r.authority_len = strlen(b.r.authority);
    b.r.target = "/p?q=1";
    b.r.target_len = 6;
    assert_int_equal(lv_httpsig_parse_unchecked(&b.r, NULL, &sig, &err), 0);
    want = lv_xasprintf("\"@method\": GET\n\"@target-uri\": http://proxy.example/p?q=1\n"
                        "\"@authority\": proxy.example\n\"@scheme\": http\n"
                        "\"@request-target\": /p?q=1\n\"@path\": /p\n\"@query\": ?q=1\n%s",
                        params);
    expect_base("authority override", &sig, want);
    assert_int_equal(sig.base_decoded.len, 0);
    free(want);
    lv_httpsig_sig_release(&sig);
}

/* ---- refusals at the parse step ---- */

#define HOST "Host: gw.ap.test"
#define HDATE "Date: " DATE
#define HDIGEST "Digest: " DIGEST
#define CAV(params) "Signature: keyId=\"" KEYID "\"," params
#define SIGP ",signature=\"" OURS_SIG "\""
#define STD_HEADERS "(request-target) host date digest"
#define R9(input) "Signature-Input: sig1=" input, "Signature: sig1=:" RFC9421_SIG ":"
#define R9_PARAMS ";keyid=\"k\";created=1795623423"

struct fail_case {
    const char *name;
    struct treq req;
    int code;
    const char *cond;
    const char *msg;
};

static const struct fail_case fail_cases[] = {
    /* draft-cavage */
    {"unsigned",
     {POST_INBOX, {HOST, HDATE, HDIGEST}, BODY},
     LV_ERR_NOT_FOUND,
     "unsigned",
     "not signed"},
    {"authorization bearer",
     {POST_INBOX, {HOST, HDATE, HDIGEST, "Authorization: Bearer x"}, BODY},
     LV_ERR_NOT_FOUND,
     "unsigned",
     NULL},
    {"host not covered",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST, CAV("headers=\"(request-target) date digest\"" SIGP)},
      BODY},
     LV_ERR_PERM,
     "coverage",
     "host is not signed"},
    {"request-target not covered",
     {POST_INBOX, {HOST, HDATE, HDIGEST, CAV("headers=\"host date digest\"" SIGP)}, BODY},
     LV_ERR_PERM,
     "coverage",
     "(request-target) is not signed"},
    {"digest not covered on POST",
     {POST_INBOX, {HOST, HDATE, HDIGEST, CAV("headers=\"(request-target) host date\"" SIGP)}, BODY},
     LV_ERR_PERM,
     "coverage",
     "digest is not signed"},
    {"digest not covered on POST without body",
     {POST_INBOX, {HOST, HDATE, CAV("headers=\"(request-target) host date\"" SIGP)}, NULL},
     LV_ERR_PERM,
     "coverage",
     "digest is not signed"},
    {"digest not covered on GET with body",
     {"GET",
      "/x",
      {HOST, HDATE, HDIGEST, CAV("headers=\"(request-target) host date\"" SIGP)},
      BODY},
     LV_ERR_PERM,
     "coverage",
     "digest is not signed"},
    {"no date",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST, CAV("headers=\"(request-target) host digest\"" SIGP)},
      BODY},
     LV_ERR_PERM,
     "coverage",
     "neither date nor (created)"},
    {"default headers",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST, CAV("algorithm=\"hs2019\",created=1795623423" SIGP)},
      BODY},
     LV_ERR_PERM,
     "coverage",
     "(request-target) is not signed"},
    {"listed but absent",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS " content-type\"" SIGP)},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "\"content-type\" is listed in headers but absent"},
    {"digest header absent",
     {POST_INBOX, {HOST, HDATE, CAV("headers=\"" STD_HEADERS "\"" SIGP)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "\"digest\" is listed"},
    {"digest mismatch",
     {POST_INBOX,
      {HOST, HDATE, "Digest: SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
       CAV("headers=\"" STD_HEADERS "\"" SIGP)},
      BODY},
     LV_ERR_PERM,
     "digest",
     "Digest: sha-256 does not match the body"},
    {"unsigned content-digest mismatch",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST,
       "Content-Digest: sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
       CAV("headers=\"" STD_HEADERS "\"" SIGP)},
      BODY},
     LV_ERR_PERM,
     "digest",
     "Content-Digest"},
    {"digest without sha-256",
     {POST_INBOX,
      {HOST, HDATE,
       "Digest: MD5=Sd/dVLAcvNLSq16eXua5uQ==", CAV("headers=\"" STD_HEADERS "\"" SIGP)},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "no SHA-256"},
    {"stale date (2 days)",
     {POST_INBOX,
      {HOST, "Date: Mon, 23 Nov 2026 16:17:03 GMT", HDIGEST,
       CAV("headers=\"" STD_HEADERS "\"" SIGP)},
      BODY},
     LV_ERR_PERM,
     "date",
     "Date is 172800 s in the past"},
    {"future date (2 hours)",
     {POST_INBOX,
      {HOST, "Date: Wed, 25 Nov 2026 18:17:03 GMT", HDIGEST,
       CAV("headers=\"" STD_HEADERS "\"" SIGP)},
      BODY},
     LV_ERR_PERM,
     "date",
     "Date is 7200 s in the future"},
    {"unparseable date",
     {POST_INBOX,
      {HOST, "Date: Wed, 25 Nov 2026 16:17:03 UTC", HDIGEST,
       CAV("headers=\"" STD_HEADERS "\"" SIGP)},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "not a valid HTTP-date"},
    {"two dates",
     {POST_INBOX, {HOST, HDATE, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS "\"" SIGP)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "not a valid HTTP-date"},
    {"expired",
     {POST_INBOX,
      {HOST, HDIGEST,
       CAV("algorithm=\"hs2019\",created=1795623400,expires=1795623413,headers=\"(request-target) "
           "host (created) (expires) digest\"" SIGP)},
      BODY},
     LV_ERR_PERM,
     "expired",
     "expired 10 s ago"},
    {"created in the future",
     {POST_INBOX,
      {HOST, HDIGEST,
       CAV("algorithm=\"hs2019\",created=1795631423,headers=\"(request-target) host (created) "
           "digest\"" SIGP)},
      BODY},
     LV_ERR_PERM,
     "date",
     "created is 8000 s in the future"},
    {"created too old",
     {POST_INBOX,
      {HOST, HDIGEST,
       CAV("algorithm=\"hs2019\",created=1795600000,headers=\"(request-target) host (created) "
           "digest\"" SIGP)},
      BODY},
     LV_ERR_PERM,
     "date",
     "created is 23423 s in the past"},
    {"(created) with rsa-sha256",
     {POST_INBOX,
      {HOST, HDIGEST,
       CAV("algorithm=\"rsa-sha256\",created=1795623423,headers=\"(request-target) host "
           "(created) digest\"" SIGP)},
      BODY},
     LV_ERR_INVAL,
     "algorithm",
     "not allowed with rsa-sha256"},
    {"(created) without created",
     {POST_INBOX,
      {HOST, HDIGEST,
       CAV("algorithm=\"hs2019\",headers=\"(request-target) host (created) digest\"" SIGP)},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "(created) is listed but the parameter is absent"},
    {"bad created",
     {POST_INBOX,
      {HOST, HDIGEST,
       CAV("algorithm=\"hs2019\",created=\"12x\",headers=\"(request-target) host (created) "
           "digest\"" SIGP)},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "created is not a number"},
    {"unknown algorithm",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST, CAV("algorithm=\"rsa-sha1\",headers=\"" STD_HEADERS "\"" SIGP)},
      BODY},
     LV_ERR_INVAL,
     "algorithm",
     "unknown signature algorithm"},
    {"garbage base64",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS "\",signature=\"not base64!\"")},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "not valid base64"},
    {"bad padding",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS "\",signature=\"AB=C\"")},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "not valid base64"},
    {"empty signature",
     {POST_INBOX, {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS "\",signature=\"\"")}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "signature parameter missing"},
    {"no signature",
     {POST_INBOX, {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS "\"")}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "signature parameter missing"},
    {"duplicate keyId",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST, CAV("keyId=\"https://evil.test/x\",headers=\"" STD_HEADERS "\"" SIGP)},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "duplicate parameter \"keyId\""},
    {"duplicate in other case",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST,
       CAV("headers=\"" STD_HEADERS "\",HEADERS=\"(request-target) host date digest\"" SIGP)},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "duplicate parameter"},
    {"two Signature headers",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS "\"" SIGP),
       CAV("headers=\"" STD_HEADERS "\"" SIGP)},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "duplicate parameter"},
    {"keyId missing",
     {POST_INBOX, {HOST, HDATE, HDIGEST, "Signature: headers=\"" STD_HEADERS "\"" SIGP}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "keyId missing"},
    {"keyId empty",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST, "Signature: keyId=\"\",headers=\"" STD_HEADERS "\"" SIGP},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "keyId missing"},
    {"unterminated quote",
     {POST_INBOX, {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS SIGP)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     NULL},
    {"no equals",
     {POST_INBOX, {HOST, HDATE, HDIGEST, CAV("headers \"" STD_HEADERS "\"" SIGP)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "expected name=value"},
    {"junk between params",
     {POST_INBOX, {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS "\" x" SIGP)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "expected ','"},
    {"control character",
     {POST_INBOX, {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS "\x01\"" SIGP)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "control character"},
    {"header covered twice",
     {POST_INBOX, {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS " Host\"" SIGP)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "covered twice"},
    {"empty headers",
     {POST_INBOX, {HOST, HDATE, HDIGEST, CAV("headers=\"  \"" SIGP)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "headers is empty"},
    {"bad header name",
     {POST_INBOX, {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS " a:b\"" SIGP)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "invalid name"},
    {"bad target",
     {"POST", "/a b", {HOST, HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS "\"" SIGP)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "target"},
    {"keyId control char",
     {POST_INBOX,
      {HOST, HDATE, HDIGEST, "Signature: keyId=\"a\\\x7f\",headers=\"" STD_HEADERS "\"" SIGP},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "control character"},

    /* RFC 9421 */
    {"9421 no @method",
     {POST_INBOX,
      {HOST, HDATE, "Content-Digest: " CDIGEST,
       R9("(\"@target-uri\" \"date\" \"content-digest\")" R9_PARAMS)},
      BODY},
     LV_ERR_PERM,
     "coverage",
     "@method is not signed"},
    {"9421 authority without path",
     {POST_INBOX,
      {HOST, HDATE, "Content-Digest: " CDIGEST,
       R9("(\"@method\" \"@authority\" \"content-digest\")" R9_PARAMS)},
      BODY},
     LV_ERR_PERM,
     "coverage",
     "the target is not signed"},
    {"9421 no digest",
     {POST_INBOX,
      {HOST, HDATE, "Content-Digest: " CDIGEST, R9("(\"@method\" \"@target-uri\")" R9_PARAMS)},
      BODY},
     LV_ERR_PERM,
     "coverage",
     "digest is not signed"},
    {"9421 no time",
     {POST_INBOX,
      {HOST, HDATE, "Content-Digest: " CDIGEST,
       R9("(\"@method\" \"@target-uri\" \"content-digest\");keyid=\"k\"")},
      BODY},
     LV_ERR_PERM,
     "coverage",
     "neither date nor created"},
    {"9421 content-digest mismatch",
     {POST_INBOX,
      {HOST, HDATE, "Content-Digest: sha-256=:" RFC_SHA256 ":",
       R9("(\"@method\" \"@target-uri\" \"content-digest\")" R9_PARAMS)},
      BODY},
     LV_ERR_PERM,
     "digest",
     "Content-Digest: sha-256 does not match"},
    {"9421 created stale",
     {POST_INBOX,
      {HOST, "Content-Digest: " CDIGEST,
       R9("(\"@method\" \"@target-uri\" \"content-digest\");keyid=\"k\";created=1795450623")},
      BODY},
     LV_ERR_PERM,
     "date",
     "created is 172800 s in the past"},
    {"9421 expired",
     {POST_INBOX,
      {HOST, "Content-Digest: " CDIGEST,
       R9("(\"@method\" \"@target-uri\" \"content-digest\")" R9_PARAMS ";expires=1795623422")},
      BODY},
     LV_ERR_PERM,
     "expired",
     "expired 1 s ago"},
    {"9421 keyid missing",
     {POST_INBOX,
      {HOST, "Content-Digest: " CDIGEST,
       R9("(\"@method\" \"@target-uri\" \"content-digest\");created=1795623423")},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "keyId missing"},
    {"9421 without Signature",
     {POST_INBOX,
      {HOST, "Content-Digest: " CDIGEST,
       "Signature-Input: sig1=(\"@method\" \"@target-uri\" \"content-digest\")" R9_PARAMS},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "Signature-Input without Signature"},
    {"9421 label mismatch",
     {POST_INBOX,
      {HOST, "Content-Digest: " CDIGEST,
       "Signature-Input: sig1=(\"@method\" \"@target-uri\" \"content-digest\")" R9_PARAMS,
       "Signature: sig2=:" RFC9421_SIG ":"},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "no member for this label"},
    {"9421 signature not bytes",
     {POST_INBOX,
      {HOST, "Content-Digest: " CDIGEST,
       "Signature-Input: sig1=(\"@method\" \"@target-uri\" \"content-digest\")" R9_PARAMS,
       "Signature: sig1=\"abc\""},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "not a byte sequence"},
    {"9421 garbage base64",
     {POST_INBOX,
      {HOST, "Content-Digest: " CDIGEST,
       "Signature-Input: sig1=(\"@method\" \"@target-uri\" \"content-digest\")" R9_PARAMS,
       "Signature: sig1=:abc:"},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "not valid base64"},
    {"9421 component parameters",
     {POST_INBOX, {HOST, R9("(\"@method\" \"@query-param\";name=\"x\")" R9_PARAMS)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "component parameters are not supported"},
    {"9421 @status",
     {POST_INBOX, {HOST, R9("(\"@method\" \"@status\")" R9_PARAMS)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "unsupported component"},
    {"9421 @signature-params covered",
     {POST_INBOX, {HOST, R9("(\"@signature-params\")" R9_PARAMS)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "unsupported component"},
    {"9421 upper-case component",
     {POST_INBOX, {HOST, R9("(\"@method\" \"Host\")" R9_PARAMS)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "unsupported component"},
    {"9421 token component",
     {POST_INBOX, {HOST, R9("(\"@method\" host)" R9_PARAMS)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "unsupported component"},
    {"9421 component twice",
     {POST_INBOX, {HOST, R9("(\"@method\" \"host\" \"host\")" R9_PARAMS)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "covered twice"},
    {"9421 covered header absent",
     {POST_INBOX, {HOST, R9("(\"@method\" \"content-type\")" R9_PARAMS)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "covered header \"content-type\" is absent"},
    {"9421 unsupported alg",
     {POST_INBOX, {HOST, R9("(\"@method\");alg=\"hmac-sha256\"" R9_PARAMS)}, BODY},
     LV_ERR_INVAL,
     "algorithm",
     "unsupported"},
    {"9421 alg token",
     {POST_INBOX, {HOST, R9("(\"@method\");alg=ed25519" R9_PARAMS)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "alg is not a string"},
    {"9421 decimal created",
     {POST_INBOX, {HOST, R9("(\"@method\");created=1.5;keyid=\"k\"")}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "decimals"},
    {"9421 string created",
     {POST_INBOX, {HOST, R9("(\"@method\");created=\"1\";keyid=\"k\"")}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "created is not a positive integer"},
    {"9421 duplicate param",
     {POST_INBOX, {HOST, R9("(\"@method\")" R9_PARAMS ";keyid=\"j\"")}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "duplicate parameter"},
    {"9421 duplicate label",
     {POST_INBOX, {HOST, "Signature-Input: a=(), a=()", "Signature: a=:AAAA:"}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "duplicate member"},
    {"9421 unterminated list",
     {POST_INBOX, {HOST, "Signature-Input: a=(\"@method\"", "Signature: a=:AAAA:"}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "expected ' ' or ')'"},
    {"9421 trailing comma",
     {POST_INBOX, {HOST, "Signature-Input: a=(),", "Signature: a=:AAAA:"}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "trailing comma"},
    {"9421 not a list",
     {POST_INBOX, {HOST, "Signature-Input: a=1", "Signature: a=:AAAA:"}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "not an inner list"},
    {"9421 bad key",
     {POST_INBOX, {HOST, "Signature-Input: A=()", "Signature: A=:AAAA:"}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "expected a key"},
    {"9421 absolute-form target",
     {"POST",
      "https://gw.ap.test/x",
      {HOST, "Content-Digest: " CDIGEST,
       R9("(\"@method\" \"@target-uri\" \"content-digest\")" R9_PARAMS)},
      BODY},
     LV_ERR_INVAL,
     "malformed",
     "@target-uri needs an origin-form request target"},
    {"cavage unsigned created ignored",
     {POST_INBOX,
      {HOST, HDIGEST,
       CAV("algorithm=\"hs2019\",created=1795623423,headers=\"(request-target) host "
           "digest\"" SIGP)},
      BODY},
     LV_ERR_PERM,
     "coverage",
     "neither date nor (created)"},
    {"9421 two hosts",
     {POST_INBOX, {HOST, HOST, R9("(\"@method\" \"@authority\")" R9_PARAMS)}, BODY},
     LV_ERR_INVAL,
     "malformed",
     "exactly one"},
};

static void test_parse_failures(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(fail_cases); i++) {
        const struct fail_case *c = &fail_cases[i];
        struct lv_httpsig_sig sig;
        struct lv_error err = {0};
        int rc = parse_at(&c->req, NOW, &sig, &err);
        expect_err(c->name, rc, &err, c->code, c->cond, c->msg);
        /* on error nothing is left to free, and releasing is harmless */
        assert_null(sig.key_id);
        assert_null(sig.sig);
        assert_null(sig.base.data);
        lv_httpsig_sig_release(&sig);
    }
}

/* The window is the caller's. */
static void test_window(void **state)
{
    (void)state;
    struct treq t = {POST_INBOX,
                     {HOST, "Date: Wed, 25 Nov 2026 14:17:03 GMT", HDIGEST,
                      CAV("headers=\"" STD_HEADERS "\"" SIGP)},
                     BODY};
    struct built b;
    struct lv_httpsig_sig sig;
    struct lv_error err = {0};
    build(&t, &b);
    expect_err("2 h, default", lv_httpsig_parse(&b.r, NOW, 0, &sig, &err), &err, LV_ERR_PERM,
               "date", "window 3600 s");
    assert_int_equal(lv_httpsig_parse(&b.r, NOW, 3 * 3600, &sig, &err), 0);
    lv_httpsig_sig_release(&sig);
    expect_err("2 h, 60 s", lv_httpsig_parse(&b.r, NOW - 7200 + 61, 60, &sig, &err), &err,
               LV_ERR_PERM, "date", "61 s in the past");
    assert_int_equal(lv_httpsig_parse(&b.r, NOW - 7200 - 60, 60, &sig, &err), 0);
    lv_httpsig_sig_release(&sig);
    expect_err("absurd now", lv_httpsig_parse(&b.r, INT64_MIN, 60, &sig, &err), &err, LV_ERR_PERM,
               "date", NULL);
}

/* Limits: each refused with LV_ERR_LIMIT. */
static char *repeat(const char *unit, size_t n)
{
    size_t ulen = strlen(unit);
    char *s = lv_xmalloc(ulen * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * ulen, unit, ulen);
    s[ulen * n] = '\0';
    return s;
}

/* prefix N suffix for N in 0..n-1, concatenated. */
static char *numbered(const char *prefix, const char *suffix, size_t n)
{
    struct lv_buf b = LV_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        lv_buf_addf(&b, "%s%zu%s", prefix, i, suffix);
    return lv_buf_detach(&b);
}

static void test_limits(void **state)
{
    (void)state;
    char *pad = repeat("A", LV_HTTPSIG_HEADER_MAX);
    char *b64 = repeat("AAAA", LV_HTTPSIG_SIG_B64_MAX / 4 + 1);
    char *params = numbered("p", "=1,", LV_HTTPSIG_PARAMS_MAX);
    char *names = numbered(" h", "", LV_HTTPSIG_COMPONENTS_MAX);
    char *comps = numbered(" \"a", "\"", LV_HTTPSIG_COMPONENTS_MAX + 1);
    char *sfparams = numbered(";p", "=1", LV_HTTPSIG_PARAMS_MAX + 1);
    char *labels = numbered("a", "=(), ", LV_HTTPSIG_LABELS_MAX);
    char *longkey = repeat("k", 65);
    struct {
        const char *name;
        char *line, *line2;
        const char *msg;
    } cases[] = {
        {"oversized Signature", lv_xasprintf("Signature: keyId=\"%s\"", pad), NULL,
         "Signature longer than 8192"},
        {"long signature",
         lv_xasprintf("Signature: keyId=\"k\",headers=\"" STD_HEADERS "\",signature=\"%s\"", b64),
         NULL, "signature longer than 2048"},
        {"too many params", lv_xasprintf("Signature: %skeyId=\"k\"", params), NULL,
         "more than 32 parameters"},
        {"too many headers",
         lv_xasprintf("Signature: keyId=\"k\",headers=\"(request-target)%s\"" SIGP, names), NULL,
         "more than 32 covered"},
        {"oversized Signature-Input", lv_xasprintf("Signature-Input: a=(\"%s\")", pad),
         lv_xstrdup("Signature: a=:AAAA:"), "Signature-Input longer than 8192"},
        {"too many components", lv_xasprintf("Signature-Input: a=(%s)", comps),
         lv_xstrdup("Signature: a=:AAAA:"), "more than 32 components"},
        {"long 9421 signature", lv_xstrdup("Signature-Input: a=()"),
         lv_xasprintf("Signature: a=:%s:", b64), "signature longer than 2048"},
        {"too many 9421 params", lv_xasprintf("Signature-Input: a=()%s", sfparams),
         lv_xstrdup("Signature: a=:AAAA:"), "more than 32 parameters"},
        {"too many labels", lv_xasprintf("Signature-Input: %sz=()", labels),
         lv_xstrdup("Signature: a=:AAAA:"), "more than 32 members"},
        {"long key", lv_xasprintf("Signature-Input: %s=()", longkey),
         lv_xstrdup("Signature: a=:AAAA:"), "key longer than 64"},
    };
    for (size_t i = 0; i < LV_ARRAY_LEN(cases); i++) {
        struct treq t = {POST_INBOX, {HOST, HDATE, HDIGEST, cases[i].line, cases[i].line2}, BODY};
        struct lv_httpsig_sig sig;
        struct lv_error err = {0};
        expect_err(cases[i].name, parse_at(&t, NOW, &sig, &err), &err, LV_ERR_LIMIT, "limit",
                   cases[i].msg);
        free(cases[i].line);
        free(cases[i].line2);
    }
    free(pad);
    free(b64);
    free(params);
    free(names);
    free(comps);
    free(sfparams);
    free(labels);
    free(longkey);
}

/* Verification refusals beyond "wrong key" (covered above). */
static void test_verify_refusals(void **state)
{
    (void)state;
    struct treq t = {
        POST_INBOX,
        {HOST, HDATE, HDIGEST, CAV("algorithm=\"rsa-sha256\",headers=\"" STD_HEADERS "\"" SIGP)},
        BODY};
    struct lv_httpsig_sig sig, empty;
    struct lv_error err = {0};
    EVP_PKEY *p = pub(TEST_PUB), *ed = pub(RFC_ED25519_PUB), *weak;
    assert_int_equal(parse_at(&t, NOW, &sig, &err), 0);
    assert_int_equal(lv_httpsig_verify(&sig, p, 0, &err), 0);
    expect_err("ed25519 key", lv_httpsig_verify(&sig, ed, 0, &err), &err, LV_ERR_PERM, "key",
               "key type ED25519 cannot verify rsa-v1_5-sha256");
    sig.alg = LV_HTTPSIG_ALG_FROM_KEY; /* hs2019 with an Ed25519 key: Ed25519 */
    expect_err("hs2019, ed25519 key", lv_httpsig_verify(&sig, ed, 0, &err), &err, LV_ERR_PERM,
               "signature", "does not verify");
    weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    assert_non_null(weak);
    expect_err("1024-bit key", lv_httpsig_verify(&sig, weak, 0, &err), &err, LV_ERR_PERM, "key",
               "1024 bits");
    sig.sig[10] ^= 0x40;
    expect_err("flipped bit", lv_httpsig_verify(&sig, p, 0, &err), &err, LV_ERR_PERM, "signature",
               NULL);
    sig.sig_len--;
    expect_err("short signature", lv_httpsig_verify(&sig, p, 0, &err), &err, LV_ERR_PERM,
               "signature", NULL);
    lv_httpsig_sig_release(&sig);
    lv_httpsig_sig_init(&empty);
    expect_err("empty", lv_httpsig_verify(&empty, p, 0, &err), &err, LV_ERR_INVAL, "malformed",
               NULL);
    EVP_PKEY_free(p);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(weak);
}

/* RSASSA-PKCS1-v1_5 SHA-256 of str with key, base64: a signer that is not
 * lv_httpsig_sign(), for strings it refuses to produce. */
static char *raw_sign(EVP_PKEY *key, const char *str)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[512];
    size_t len = sizeof(sig);
    char *b64 = lv_xmalloc(4 * sizeof(sig) / 3 + 4);
    assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &len, (const unsigned char *)str, strlen(str)), 1);
    EVP_EncodeBlock((unsigned char *)b64, sig, (int)len);
    EVP_MD_CTX_free(ctx);
    return b64;
}

/* A peer that signed the percent-decoded path (Mastodon issue 18871)
 * verifies only with LV_HTTPSIG_RETRY_DECODED. */
static void test_retry_decoded(void **state)
{
    (void)state;
    EVP_PKEY *k = priv(TEST_KEY), *p = pub(TEST_PUB);
    struct lv_error err = {0};
    struct lv_httpsig_sig sig;
    char *b64 = raw_sign(k, "(request-target): get /users/al\xc3\xa9/outbox?x=a b\n"
                            "host: gw.ap.test\ndate: " DATE);
    char *line = lv_xasprintf("Signature: keyId=\"" KEYID "\",algorithm=\"rsa-sha256\","
                              "headers=\"(request-target) host date\",signature=\"%s\"",
                              b64);
    {
        struct treq t = {"GET", "/users/al%C3%a9/outbox?x=a%20b", {HOST, HDATE, line}, NULL};
        assert_int_equal(parse_at(&t, NOW, &sig, &err), 0);
        assert_string_equal(sig.base_decoded.data,
                            "(request-target): get /users/al\xc3\xa9/outbox?x=a b\n"
                            "host: gw.ap.test\ndate: " DATE);
        expect_err("no retry", lv_httpsig_verify(&sig, p, 0, &err), &err, LV_ERR_PERM, "signature",
                   NULL);
        assert_int_equal(lv_httpsig_verify(&sig, p, LV_HTTPSIG_RETRY_DECODED, &err), 0);
        lv_httpsig_sig_release(&sig);
    }
    {
        /* a raw UTF-8 target is not a request target */
        struct treq t = {"GET", "/users/al\xc3\xa9/outbox?x=a b", {HOST, HDATE, line}, NULL};
        expect_err("raw utf-8 target", parse_at(&t, NOW, &sig, &err), &err, LV_ERR_INVAL,
                   "malformed", "target");
    }
    {
        /* an escape that decodes to a control character is not retried */
        struct treq t = {"GET", "/a%0Ab", {HOST, HDATE, line}, NULL};
        assert_int_equal(parse_at(&t, NOW, &sig, &err), 0);
        assert_int_equal(sig.base_decoded.len, 0);
        lv_httpsig_sig_release(&sig);
    }
    free(line);
    free(b64);
    EVP_PKEY_free(k);
    EVP_PKEY_free(p);
}

/* cavage "host" and the caller's authority (a trusted proxy's
 * X-Forwarded-Host). */
static void test_cavage_authority(void **state)
{
    (void)state;
    struct treq t = {
        POST_INBOX,
        {"Host: 127.0.0.1:8080", HDATE, HDIGEST, CAV("headers=\"" STD_HEADERS "\"" SIGP)},
        BODY};
    struct built b;
    struct lv_httpsig_sig sig;
    struct lv_error err = {0};
    EVP_PKEY *p = pub(TEST_PUB);
    build(&t, &b);
    assert_int_equal(lv_httpsig_parse(&b.r, NOW, 0, &sig, &err), 0);
    expect_err("internal host", lv_httpsig_verify(&sig, p, 0, &err), &err, LV_ERR_PERM, "signature",
               NULL);
    lv_httpsig_sig_release(&sig);
    b.r.authority = "gw.ap.test";
    b.r.authority_len = strlen(b.r.authority);
    assert_int_equal(lv_httpsig_parse(&b.r, NOW, 0, &sig, &err), 0);
    assert_string_equal(sig.base.data, OURS_STRING);
    assert_int_equal(lv_httpsig_verify(&sig, p, 0, &err), 0);
    lv_httpsig_sig_release(&sig);
    EVP_PKEY_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_make),
        cmocka_unit_test(test_digest_check),
        cmocka_unit_test(test_digest_limit),
        cmocka_unit_test(test_parse_date),
        cmocka_unit_test(test_format_date),
        cmocka_unit_test(test_keygen),
        cmocka_unit_test(test_load_keys),
        cmocka_unit_test(test_sign_matches_openssl),
        cmocka_unit_test(test_sign_refuses),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_cavage_spec_example),
        cmocka_unit_test(test_rfc9421_b26_ed25519),
        cmocka_unit_test(test_rfc9421_b23_rsa_pss),
        cmocka_unit_test(test_rfc9421_b21_minimal),
        cmocka_unit_test(test_rfc9421_derived),
        cmocka_unit_test(test_parse_failures),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_verify_refusals),
        cmocka_unit_test(test_retry_decoded),
        cmocka_unit_test(test_cavage_authority),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
