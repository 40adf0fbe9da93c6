/* lv_httpsig: HTTP message signatures for ActivityPub, both directions.
 *
 * Outgoing requests are signed the way Mastodon, snac and Fedify all accept:
 * draft-cavage-http-signatures-12 with RSASSA-PKCS1-v1_5 SHA-256
 * ("rsa-sha256"), covering "(request-target) host date digest", with a
 * `Digest: SHA-256=<base64>` header (upper-case: snac compares it with
 * strcmp).
 *
 * Incoming requests are checked in two steps, so that the caller can fetch
 * the signer's key asynchronously in between:
 *   1. lv_httpsig_parse() reads the draft-cavage `Signature` header (or
 *      `Authorization: Signature ...`) or the RFC 9421 `Signature-Input` +
 *      `Signature` pair, rebuilds the exact bytes that were signed, and
 *      applies the policy: required covered components, Digest /
 *      Content-Digest against the body, date window, expiry. It gives the
 *      key id to fetch.
 *   2. lv_httpsig_verify() checks the signature with the fetched public key.
 * Parsing is bounded by the LV_HTTPSIG_*_MAX limits below and never
 * allocates from a length the peer declared.
 *
 * Errors (int functions return 0 or one of these; err, when non-NULL, gets a
 * message and a short condition name in err->cond):
 *   LV_ERR_NOT_FOUND  "unsigned"   the request carries no signature at all;
 *   LV_ERR_INVAL      "malformed"  syntax, base64, a missing keyId or
 *                                  signature, a covered header that is
 *                                  absent, an unparseable Date;
 *                     "algorithm"  an unknown or unsupported algorithm;
 *                     "key"        (loading) unsupported key type or size;
 *   LV_ERR_LIMIT      "limit"      a size or count limit was exceeded;
 *   LV_ERR_PERM       "coverage"   a required component is not signed;
 *                     "digest"     Digest / Content-Digest does not match;
 *                     "date"       outside the date window;
 *                     "expired"    the signature's expires is past;
 *                     "key"        key type or size not acceptable;
 *                     "signature"  the signature does not verify.
 * Messages never contain key material or signature bytes. An inbox answers
 * 401 at once for all of them: Fedify then retries its RFC 9421 knock with
 * cavage. Checking that the key's owner is the activity's actor is the
 * caller's part, once the key is fetched. */
#ifndef LV_HTTPSIG_H
#define LV_HTTPSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#include "core/lv_buf.h"
#include "core/lv_err.h"

/* Limits on remote input (before authentication, by definition). */
#define LV_HTTPSIG_HEADER_MAX 8192     /* bytes of Signature / Signature-Input */
#define LV_HTTPSIG_PARAMS_MAX 32       /* parameters of one signature */
#define LV_HTTPSIG_COMPONENTS_MAX 32   /* covered headers / components */
#define LV_HTTPSIG_LABELS_MAX 32       /* members of an RFC 9421 dictionary */
#define LV_HTTPSIG_SIG_B64_MAX 2048    /* base64 characters of a signature */
#define LV_HTTPSIG_DIGEST_MAX 1024     /* bytes of a Digest / Content-Digest */
#define LV_HTTPSIG_PEM_MAX 16384       /* bytes of a public key PEM */
#define LV_HTTPSIG_WINDOW_DEFAULT 3600 /* seconds of accepted clock skew / age */
#define LV_HTTPSIG_RSA_BITS_MIN 2048
#define LV_HTTPSIG_RSA_BITS_MAX 16384
#define LV_HTTPSIG_RSA_BITS_DEFAULT 2048
#define LV_HTTPSIG_DATE_LEN 29 /* strlen("Sun, 06 Nov 1994 08:49:37 GMT") */

/* ---- Digest headers ---- */

/* The Digest header value (RFC 3230) for body[0..len): "SHA-256=<base64>",
 * algorithm in upper case. Caller frees. */
char *lv_httpsig_digest(const void *body, size_t len);

/* The Content-Digest header value (RFC 9530): "sha-256=:<base64>:". Caller
 * frees. */
char *lv_httpsig_content_digest(const void *body, size_t len);

/* Checks a Digest header value value[0..len) against body[0..body_len): a
 * comma-separated list of algorithm=base64 (algorithm names in any case).
 * A SHA-256 entry is required; SHA-256 and SHA-512 entries must all match;
 * other algorithms are ignored. Returns 0, LV_ERR_INVAL (malformed or no
 * SHA-256), LV_ERR_LIMIT (longer than LV_HTTPSIG_DIGEST_MAX) or LV_ERR_PERM
 * (mismatch). */
int lv_httpsig_digest_check(const char *value, size_t len, const void *body, size_t body_len,
                            struct lv_error *err);

/* Same for an RFC 9530 Content-Digest (a structured-field dictionary of
 * byte sequences: "sha-256=:<b64>:, sha-512=:<b64>:"): at least one of
 * sha-256 / sha-512 is required and every one present must match. */
int lv_httpsig_content_digest_check(const char *value, size_t len, const void *body,
                                    size_t body_len, struct lv_error *err);

/* ---- Dates ---- */

/* Writes t as an IMF-fixdate ("Wed, 25 Nov 2026 16:17:03 GMT", C locale
 * names whatever the process locale) into out and returns out. */
char *lv_httpsig_format_date(time_t t, char out[LV_HTTPSIG_DATE_LEN + 1]);

/* Parses an HTTP-date s[0..len) (RFC 9110 §5.6.7): IMF-fixdate, or the
 * obsolete RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years
 * 70-99 are 19xx, 00-69 are 20xx) and asctime ("Sun Nov  6 08:49:37 1994")
 * forms. Strict: exact spacing, English names, fields in range, and the day
 * name must be the right one for the date. Returns 0 with *out in seconds
 * since the epoch, or LV_ERR_INVAL. */
int lv_httpsig_parse_date(const char *s, size_t len, int64_t *out);

/* ---- Keys ---- */

/* Generates an RSA key of bits bits (0: LV_HTTPSIG_RSA_BITS_DEFAULT;
 * otherwise LV_HTTPSIG_RSA_BITS_MIN..MAX, e = 65537). *priv_pem receives
 * the private key as unencrypted PKCS#8 PEM, *pub_pem the public key as
 * SPKI PEM (an actor's publicKeyPem); both are the caller's to free.
 * Returns 0, LV_ERR_INVAL (bits out of range) or LV_ERR_INTERNAL. */
int lv_httpsig_keygen(unsigned bits, char **priv_pem, char **pub_pem, struct lv_error *err);

/* Loads a private key from PEM pem[0..len) (PKCS#8 or traditional, never
 * encrypted: nothing prompts for a passphrase). Only RSA keys of at least
 * LV_HTTPSIG_RSA_BITS_MIN bits are accepted. *out is the caller's
 * (EVP_PKEY_free). Returns 0 or LV_ERR_INVAL. */
int lv_httpsig_load_private(const char *pem, size_t len, EVP_PKEY **out, struct lv_error *err);

/* Loads a public key from SPKI PEM text pem[0..len) ("-----BEGIN PUBLIC
 * KEY-----", as in an actor's publicKey.publicKeyPem: remote input). RSA
 * keys of LV_HTTPSIG_RSA_BITS_MIN..MAX bits and Ed25519 keys are accepted.
 * *out is the caller's (EVP_PKEY_free). Returns 0, LV_ERR_LIMIT (longer
 * than LV_HTTPSIG_PEM_MAX) or LV_ERR_INVAL. */
int lv_httpsig_load_public(const char *pem, size_t len, EVP_PKEY **out, struct lv_error *err);

/* The SPKI PEM of key's public half (e.g. from a loaded private key), or
 * NULL if it cannot be written. Caller frees. */
char *lv_httpsig_public_pem(EVP_PKEY *key);

/* ---- Signing outgoing requests (draft-cavage) ---- */

/* The header values of an outgoing request, exactly as they will be sent.
 * All are NUL-terminated strings owned by the caller, not empty, without
 * control characters or surrounding whitespace; the target is visible
 * ASCII without spaces (already percent-encoded). */
struct lv_httpsig_out {
    const char *method;       /* "POST", "GET" (any case; signed in lower case) */
    const char *target;       /* path and query, as in the request line */
    const char *host;         /* Host header value (the URL's authority) */
    const char *date;         /* Date header value (lv_httpsig_format_date) */
    const char *digest;       /* Digest header value; required for POST, NULL: not signed */
    const char *content_type; /* Content-Type header value, NULL: not signed */
};

/* Signs req with the RSA private key key (at least LV_HTTPSIG_RSA_BITS_MIN
 * bits) as key_id ("<actor>#main-key"; no '"' or '\\'), RSASSA-PKCS1-v1_5
 * SHA-256, over the headers "(request-target) host date", then "digest"
 * and "content-type" when given, in that order. *out receives the
 * Signature header value, the caller's to free:
 *   keyId="…",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="…"
 * Returns 0, LV_ERR_INVAL (a missing or bad value, a POST without digest,
 * a key that is not RSA or too small) or LV_ERR_INTERNAL. */
int lv_httpsig_sign(const struct lv_httpsig_out *req, const char *key_id, EVP_PKEY *key, char **out,
                    struct lv_error *err);

/* ---- Verifying incoming requests ---- */

/* One header line as received; names are compared case-insensitively and
 * repeated headers are joined with ", " (each value trimmed of spaces and
 * tabs), as HTTP combines field lines. Same shape as picohttpparser's
 * struct phr_header. */
struct lv_httpsig_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* An incoming request; everything is borrowed for the duration of the call. */
struct lv_httpsig_request {
    const char *method; /* as received ("POST") */
    size_t method_len;
    const char *target; /* path and query as received, not decoded */
    size_t target_len;
    /* The scheme and authority the client addressed, for RFC 9421
     * "@target-uri", "@authority" and "@scheme" and cavage "host". scheme
     * (lower case) NULL means "https" (we run behind a TLS-terminating proxy);
     * authority NULL means the Host header. Only a trusted proxy's
     * X-Forwarded-Host / Forwarded may be passed as authority. */
    const char *scheme;
    const char *authority;
    size_t authority_len;
    const struct lv_httpsig_header *headers;
    size_t n_headers;
    const void *body; /* the exact bytes received */
    size_t body_len;
};

enum lv_httpsig_scheme {
    LV_HTTPSIG_CAVAGE = 1,  /* draft-cavage-http-signatures-12 */
    LV_HTTPSIG_RFC9421 = 2, /* RFC 9421 HTTP Message Signatures */
};

enum lv_httpsig_alg {
    /* Decided by the key: RSA -> RSASSA-PKCS1-v1_5 SHA-256, Ed25519 ->
     * Ed25519. Used for cavage "hs2019" (and no algorithm) and for RFC 9421
     * without "alg". hs2019 means "look the algorithm up from the key";
     * every fediverse implementation that sends it with an RSA key (Mastodon
     * among them) signs with RSASSA-PKCS1-v1_5 SHA-256, not the RSASSA-PSS
     * SHA-512 the draft hinted at, so that is what an RSA key means here. */
    LV_HTTPSIG_ALG_FROM_KEY = 0,
    LV_HTTPSIG_ALG_RSA_V1_5_SHA256, /* cavage "rsa-sha256", RFC 9421 "rsa-v1_5-sha256" */
    LV_HTTPSIG_ALG_RSA_PSS_SHA512,  /* RFC 9421 "rsa-pss-sha512" (MGF1 SHA-512, salt 64) */
    LV_HTTPSIG_ALG_ED25519,         /* RFC 9421 "ed25519" */
};

/* A parsed incoming signature, ready for lv_httpsig_verify(). Embedded by
 * the caller: lv_httpsig_sig_init() / lv_httpsig_sig_release(). All
 * pointers are owned by the struct. */
struct lv_httpsig_sig {
    enum lv_httpsig_scheme scheme;
    /* The algorithm to verify with. A caller that knows more about the key
     * (RFC 9421 lets the verifier decide) may set it before verifying. */
    enum lv_httpsig_alg alg;
    const char *alg_name; /* as sent (static string), "" if none was */
    char *key_id;         /* as sent */
    char *key_url;        /* key_id without its "#fragment": what to fetch */
    char *label;          /* RFC 9421 signature label, NULL for cavage */
    struct lv_buf base;   /* the signing string / signature base */
    /* The same built with the percent-decoded request target, for peers
     * that sign the decoded path (Mastodon issue 18871); empty when the
     * target has no %-escape. Used by LV_HTTPSIG_RETRY_DECODED. */
    struct lv_buf base_decoded;
    unsigned char *sig; /* the decoded signature */
    size_t sig_len;
    int64_t created; /* signed creation time, -1 if none */
    int64_t expires; /* signed expiry time, -1 if none */
    int64_t date;    /* the Date header, when signed; -1 otherwise */
};

void lv_httpsig_sig_init(struct lv_httpsig_sig *s);
/* Frees what s holds and re-initialises it; s may be NULL. */
void lv_httpsig_sig_release(struct lv_httpsig_sig *s);

/* Step 1. Parses the signature of req and checks it against the policy at
 * time now (seconds since the epoch), with window seconds of tolerance
 * (<= 0: LV_HTTPSIG_WINDOW_DEFAULT):
 *  - RFC 9421 when a Signature-Input header is present (its first member is
 *    used), otherwise cavage from Signature (or Authorization: Signature);
 *  - covered components: cavage needs "(request-target)", "host", "date" or
 *    "(created)"; RFC 9421 needs "@method", and "@target-uri" or
 *    "@authority" with "@path" (or "@request-target"); and when the method
 *    is POST or the body is not empty, "digest" or "content-digest";
 *  - every Digest and Content-Digest header present matches the body;
 *  - the signed Date header and the created time are within window of now,
 *    one of them must be signed; expires, when given, is not past;
 *  - a keyId is present, the algorithm is one lv_httpsig_verify() knows.
 * out is initialised here (no need to init it first) and is the caller's
 * to release whatever the result; on error it holds nothing. Returns 0 or
 * an error as listed at the top of this file. */
int lv_httpsig_parse(const struct lv_httpsig_request *req, int64_t now, int64_t window,
                     struct lv_httpsig_sig *out, struct lv_error *err);

/* Parses and rebuilds the signing string like lv_httpsig_parse() but
 * applies none of the policy (coverage, digests, dates, keyId presence).
 * label selects an RFC 9421 signature (NULL: the first). For test vectors
 * and diagnostics only: never accept a request on its result. */
int lv_httpsig_parse_unchecked(const struct lv_httpsig_request *req, const char *label,
                               struct lv_httpsig_sig *out, struct lv_error *err);

/* Retry with sig->base_decoded when sig->base does not verify. */
#define LV_HTTPSIG_RETRY_DECODED 0x1u

/* Step 2. Verifies sig with the public key key (from
 * lv_httpsig_load_public(); borrowed). The key type must suit sig->alg
 * (RSA for the RSA algorithms, Ed25519 for ed25519) and RSA keys must have
 * LV_HTTPSIG_RSA_BITS_MIN..MAX bits. flags: 0 or LV_HTTPSIG_RETRY_DECODED.
 * Returns 0, LV_ERR_PERM ("key": unsuitable key; "signature": does not
 * verify) or LV_ERR_INVAL (sig is empty). */
int lv_httpsig_verify(const struct lv_httpsig_sig *sig, EVP_PKEY *key, unsigned flags,
                      struct lv_error *err);

#endif
