#include "lv_tls.h"
#include "core/lv_mem.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>

struct lv_tls {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio; /* ciphertext in, owned by ssl */
    BIO *wbio; /* ciphertext out, owned by ssl */
};

static void openssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "unknown TLS error");
    ERR_clear_error();
}

static int setup_ctx(struct lv_tls *t, bool verify, const char *ca_file, struct lv_error *err)
{
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx)
        return lv_error_set(err, LV_ERR_TLS, "cannot create a TLS context");
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    if (!verify) {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
        return 0;
    }
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    int ok = (ca_file && *ca_file) ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL)
                                   : SSL_CTX_set_default_verify_paths(t->ctx);
    if (ok != 1) {
        char reason[256];
        openssl_reason(reason, sizeof(reason));
        return lv_error_set(err, LV_ERR_TLS, "cannot load CA certificates from %s: %s",
                            (ca_file && *ca_file) ? ca_file : "the system store", reason);
    }
    return 0;
}

int lv_tls_new_client(const char *host, bool verify, const char *ca_file, struct lv_tls **out,
                      struct lv_error *err)
{
    struct lv_tls *t = lv_xcalloc(1, sizeof(*t));
    int rc = setup_ctx(t, verify, ca_file, err);
    if (rc != 0) {
        lv_tls_free(t);
        return rc;
    }
    t->ssl = SSL_new(t->ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio)
        abort();
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_connect_state(t->ssl);
    SSL_set_tlsext_host_name(t->ssl, host);
    if (verify && SSL_set1_host(t->ssl, host) != 1) {
        lv_tls_free(t);
        return lv_error_set(err, LV_ERR_TLS, "invalid TLS host name %s", host);
    }
    *out = t;
    return 0;
}

void lv_tls_free(struct lv_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    SSL_CTX_free(t->ctx);
    free(t);
}

void lv_tls_feed(struct lv_tls *t, const char *data, size_t len)
{
    while (len > 0) {
        int n = BIO_write(t->rbio, data, len > INT32_MAX ? INT32_MAX : (int)len);
        if (n <= 0)
            abort(); /* a memory BIO only fails on allocation failure */
        data += n;
        len -= (size_t)n;
    }
}

static int ssl_failure(struct lv_tls *t, int ret, const char *what, struct lv_error *err)
{
    int e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return LV_ERR_AGAIN;
    if (e == SSL_ERROR_ZERO_RETURN)
        return lv_error_set(err, LV_ERR_IO, "the server closed the TLS session");
    long vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK)
        return lv_error_set(err, LV_ERR_TLS, "%s: certificate verification failed: %s", what,
                            X509_verify_cert_error_string(vr));
    char reason[256];
    openssl_reason(reason, sizeof(reason));
    return lv_error_set(err, LV_ERR_TLS, "%s: %s", what, reason);
}

int lv_tls_handshake(struct lv_tls *t, struct lv_error *err)
{
    int r = SSL_do_handshake(t->ssl);
    if (r == 1)
        return 0;
    return ssl_failure(t, r, "TLS handshake failed", err);
}

int lv_tls_read(struct lv_tls *t, struct lv_buf *out, struct lv_error *err)
{
    char chunk[16384];
    for (;;) {
        size_t n = 0;
        int r = SSL_read_ex(t->ssl, chunk, sizeof(chunk), &n);
        if (r == 1) {
            lv_buf_add(out, chunk, n);
            continue;
        }
        int rc = ssl_failure(t, r, "TLS read failed", err);
        return rc == LV_ERR_AGAIN ? 0 : rc;
    }
}

int lv_tls_write(struct lv_tls *t, const char *data, size_t len, struct lv_error *err)
{
    while (len > 0) {
        size_t n = 0;
        int r = SSL_write_ex(t->ssl, data, len, &n);
        if (r != 1) {
            int rc = ssl_failure(t, r, "TLS write failed", err);
            if (rc != LV_ERR_AGAIN)
                return rc;
            /* A memory BIO never blocks writes; WANT_READ here would mean a
             * renegotiation, which TLS 1.2+ servers do not start. */
            return lv_error_set(err, LV_ERR_TLS, "TLS write blocked by renegotiation");
        }
        data += n;
        len -= n;
    }
    return 0;
}

void lv_tls_take_output(struct lv_tls *t, struct lv_buf *out)
{
    char *p;
    long n = BIO_get_mem_data(t->wbio, &p);
    if (n > 0) {
        lv_buf_add(out, p, (size_t)n);
        (void)BIO_reset(t->wbio);
    }
}

const char *lv_tls_describe(struct lv_tls *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s %s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
    return buf;
}
