/* lv_jid: JIDs (RFC 7622) and XEP-0106 JID escaping.
 *
 * Parsing validates and normalises: the domain is lower-cased (ASCII and,
 * through utf8proc, Unicode case folding) with a trailing dot removed; the
 * localpart is NFC-normalised and case-folded (UsernameCaseMapped); the
 * resource is NFC-normalised (OpaqueString). Each part is at most 1023 bytes,
 * none may be empty when present, and the localpart may not contain any of
 * " & ' / : < > @ or whitespace/control characters. */
#ifndef LV_JID_H
#define LV_JID_H

#include <stdbool.h>
#include <stddef.h>

#include "core/lv_err.h"

#define LV_JID_PART_MAX 1023

struct lv_jid {
    char *local;    /* owned, NULL if none */
    char *domain;   /* owned, never NULL after a successful parse */
    char *resource; /* owned, NULL if none */
};

/* Parses s[0..len) into out (which the caller releases with lv_jid_release()).
 * Returns 0 or LV_ERR_INVAL with err->msg telling which part is wrong and why.
 * out is always initialised: on error all its parts are NULL. The input must
 * be valid UTF-8 without NUL bytes; unassigned code points are refused. The
 * 1023-byte limit is checked on each part as given and once normalised (case
 * folding can lengthen a part). An IPv6 literal domainpart ("[::1]") is
 * checked with inet_pton and kept as written; other domainparts may hold
 * ASCII letters, digits, '-', '_', '.' (no empty label) and non-ASCII
 * letters, marks and digits (no IDNA/punycode conversion is done). */
int lv_jid_parse(const char *s, size_t len, struct lv_jid *out, struct lv_error *err);
/* Convenience: parse a NUL-terminated string. */
int lv_jid_parse_str(const char *s, struct lv_jid *out, struct lv_error *err);
/* Frees the parts and zeroes j; j may be NULL or already released. */
void lv_jid_release(struct lv_jid *j);
/* Deep copy into out (overwritten, not released first). */
void lv_jid_copy(struct lv_jid *out, const struct lv_jid *in);

/* "local@domain/resource"; caller frees. */
char *lv_jid_full(const struct lv_jid *j);
/* "local@domain" (or "domain"); caller frees. */
char *lv_jid_bare(const struct lv_jid *j);
/* Equality of normalised JIDs (all parts / bare parts): parts are stored
 * normalised, so "User@Example.COM" equals "user@example.com". */
bool lv_jid_equal(const struct lv_jid *a, const struct lv_jid *b);
bool lv_jid_bare_equal(const struct lv_jid *a, const struct lv_jid *b);
/* Normalises a JID string: returns a new normalised string (caller frees) or
 * NULL if it is invalid. bare drops the resource. */
char *lv_jid_normalize(const char *s, bool bare);

/* XEP-0106: escapes a would-be localpart s[0..len): the ten characters
 * space " & ' / : < > @ \ become \20 \22 \26 \27 \2f \3a \3c \3e \40 \5c
 * (lower-case hex), e.g. "toto@mastodon.social" -> "toto\40mastodon.social".
 * Like the Libervia reference (simplified XEP-0106), every backslash is
 * escaped as \5c, not only one that starts an escape sequence as the XEP
 * says: "foo\bar" gives "foo\5cbar" where the XEP leaves it alone. Leading
 * or trailing spaces are escaped too (the XEP forbids \20 there, so strict
 * peers may refuse such a localpart), so that
 * lv_xep0106_unescape(lv_xep0106_escape(x)) == x for every x. Other
 * characters are copied unchanged: the result is not guaranteed to be a
 * valid localpart (controls, invalid UTF-8...).
 * Returns a string the caller frees, or NULL if s is NULL or s[0..len) holds
 * a NUL byte (it could not be represented; truncating would make two inputs
 * collide). */
char *lv_xep0106_escape(const char *s, size_t len);
/* XEP-0106: unescapes \20 \22 \26 \27 \2f \3a \3c \3e \40 \5c (hex in either
 * case); other backslashes are kept. Caller frees. Returns NULL if s is NULL
 * or s[0..len) holds a NUL byte. */
char *lv_xep0106_unescape(const char *s, size_t len);

#endif
