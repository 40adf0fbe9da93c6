/* lv_sasl: client side of SASL authentication, on GNU SASL.
 *
 * Mechanism choice, strongest first: SCRAM-SHA-256, SCRAM-SHA-1, and PLAIN
 * only over TLS. The server's final SCRAM message is verified, so a server
 * that does not know the password cannot pretend to accept it. Nothing of the
 * exchange is ever logged. */
#ifndef LV_SASL_H
#define LV_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/lv_err.h"

struct lv_sasl;

/* Starts a session for authcid (the JID's localpart) with password, choosing
 * among the mechanisms the server offered (names[0..n)). LV_ERR_AUTH when no
 * offered mechanism is acceptable (err lists what was offered). */
int lv_sasl_new(const char *authcid, const char *password, const char *host, bool tls,
                const char *const *offered, size_t n, struct lv_sasl **out, struct lv_error *err);
void lv_sasl_free(struct lv_sasl *s);
/* The chosen mechanism's name. Borrowed. */
const char *lv_sasl_mechanism(const struct lv_sasl *s);
/* One step: in_b64 is the server's base64 data (NULL or "" for none, or "="
 * for an empty message). On success *out_b64 is the base64 response to send
 * (caller frees; "" = empty) and *done tells whether the mechanism is
 * complete on our side. Returns 0, or LV_ERR_AUTH when the server's data is
 * wrong (e.g. a bad SCRAM server signature). */
int lv_sasl_step(struct lv_sasl *s, const char *in_b64, char **out_b64, bool *done,
                 struct lv_error *err);

#endif
