/* lv_tls: a TLS client session over memory buffers.
 *
 * The socket is the caller's (libuv); this module only turns ciphertext into
 * plaintext and back with OpenSSL memory BIOs, so it never blocks and never
 * touches a file descriptor. */
#ifndef LV_TLS_H
#define LV_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/lv_buf.h"
#include "core/lv_err.h"

struct lv_tls;

/* New client session for server name `host` (SNI and certificate name
 * check). With verify, the peer's chain must lead to a CA of ca_file (PEM),
 * or of the system store when ca_file is NULL or "". Caller frees. */
int lv_tls_new_client(const char *host, bool verify, const char *ca_file, struct lv_tls **out,
                      struct lv_error *err);
void lv_tls_free(struct lv_tls *t);

/* Hands ciphertext received from the socket to the session. */
void lv_tls_feed(struct lv_tls *t, const char *data, size_t len);
/* Advances the handshake. Returns 0 when it is complete, LV_ERR_AGAIN when
 * more input is needed, or LV_ERR_TLS (err says why, e.g. the certificate
 * verification failure). Send lv_tls_take_output() after every call. */
int lv_tls_handshake(struct lv_tls *t, struct lv_error *err);
/* Decrypts what is available, appending plaintext to out. Returns 0 (maybe
 * nothing appended), or LV_ERR_IO when the peer closed the TLS session, or
 * LV_ERR_TLS on a protocol error. */
int lv_tls_read(struct lv_tls *t, struct lv_buf *out, struct lv_error *err);
/* Encrypts plaintext; the ciphertext is then in lv_tls_take_output(). */
int lv_tls_write(struct lv_tls *t, const char *data, size_t len, struct lv_error *err);
/* Moves pending ciphertext (to be sent on the socket) to out. */
void lv_tls_take_output(struct lv_tls *t, struct lv_buf *out);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for logs. Borrowed. */
const char *lv_tls_describe(struct lv_tls *t, char *buf, size_t len);

#endif
