/* lv_ap_addr: the addresses of the ActivityPub gateway.
 *
 * Pure functions (no I/O) mapping between XMPP and ActivityPub addresses,
 * compatible with Libervia 0.9 (plugin_comp_ap_gateway):
 *
 * - remote AP account <-> virtual JID: "toto@mastodon.social" <->
 *   "toto\40mastodon.social@ap.example.org" (XEP-0106 escaped localpart on the
 *   gateway's JID);
 * - XMPP (JID, pubsub node) <-> AP account handle, with the reference's
 *   "period encoding": "___urn.3Axmpp.3Aevents.3A0---louise@example.org" is
 *   the events node of louise@example.org;
 * - the gateway's own URLs ("https://{public_url}/{ap_path}/actor/<acct>"...)
 *   and WebFinger resources.
 *
 * What needs the network (is a domain a pubsub service? a disco#info query)
 * is asked through a callback that may answer "not known yet" (see
 * lv_ap_is_pubsub_fn), so that an event-loop caller runs the query and calls
 * again.
 *
 * Ownership: every `const char *` argument and the config are borrowed for
 * the duration of the call only; every `char **` / struct output is the
 * caller's (free(), lv_jid_release(), lv_ap_url_release()). On error the
 * outputs are set to NULL / empty, never left half-filled.
 *
 * Deviations from the reference, where its output is unusable (it decodes to
 * another JID or node, or raises), are marked "Deviation:" below; everywhere
 * else outputs are byte-identical to Libervia 0.9. */
#ifndef LV_AP_ADDR_H
#define LV_AP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/lv_err.h"
#include "xmpp/lv_jid.h"

/* Longest account handle produced or accepted, in bytes. */
#define LV_AP_ACCOUNT_MAX 1024
/* Longest URL built or parsed, in bytes. */
#define LV_AP_URL_MAX 2048
/* Most path segments (type + arguments) a parsed URL may have. */
#define LV_AP_URL_MAX_SEGMENTS 8
/* Most arguments of any endpoint type (reaction: account, item, emoji). */
#define LV_AP_URL_MAX_ARGS 3

/* The XEP-0277 node, which an account handle leaves implicit. */
#define LV_AP_NS_MICROBLOG "urn:xmpp:microblog:0"

/* Tells whether domain (a normalised domain JID) is a pubsub service, i.e.
 * its disco#info lists the identity pubsub/service and not pubsub/pep.
 * Returns 1 (yes), 0 (no), or a negative enum lv_err that the mapping
 * function returns unchanged: LV_ERR_AGAIN means "not known yet" — the
 * callback notes the domain, the caller runs the disco query and calls the
 * mapping function again once the answer is cached. Called at most once per
 * mapping call. */
typedef int (*lv_ap_is_pubsub_fn)(void *ud, const char *domain);

/* The gateway's addressing context. All strings are borrowed and must outlive
 * the calls that use the config. Domains are compared ASCII
 * case-insensitively. */
struct lv_ap_addr_cfg {
    const char *gateway_jid;      /* the component's JID, e.g. "ap.example.org":
                                   * the domain of virtual JIDs */
    const char *local_host;       /* the XMPP server's domain, e.g. "example.org":
                                   * a JID is local if its domain is this one or a
                                   * subdomain of it */
    const char *public_url;       /* public host[:port] without scheme */
    const char *ap_path;          /* path prefix, e.g. "_ap" (slashes trimmed) */
    bool local_only;              /* refuse to map non-local JIDs from accounts */
    lv_ap_is_pubsub_fn is_pubsub; /* NULL: no domain is a pubsub service */
    void *is_pubsub_ud;
};

/* ---- JIDs ---- */

/* True if domain is cfg->local_host or a subdomain of it (label-wise: a
 * domain "evilexample.org" is not local to "example.org"). */
bool lv_ap_is_local(const struct lv_ap_addr_cfg *cfg, const char *domain);
/* True if jid's domain is the gateway's JID (a proxy for an AP actor). */
bool lv_ap_is_virtual_jid(const struct lv_ap_addr_cfg *cfg, const struct lv_jid *jid);

/* Remote AP account -> virtual JID: XEP-0106-escapes account[0..len) as the
 * localpart of the gateway's JID ("toto@mastodon.social" ->
 * "toto\40mastodon.social@ap.example.org"). The JID is normalised as
 * lv_jid_parse() does (the localpart is case-folded). out is always
 * initialised; release it with lv_jid_release(). Returns 0, LV_ERR_INVAL
 * (empty, NUL byte, invalid UTF-8, not a valid localpart once escaped, or
 * not stable: normalisation would change it so that it maps back to another
 * account, as ">" followed by U+0301, whose escape "\3e" NFC eats) or
 * LV_ERR_LIMIT (longer than LV_AP_ACCOUNT_MAX). The account's shape is not
 * otherwise checked (like the reference). */
int lv_ap_virtual_jid_from_account(const struct lv_ap_addr_cfg *cfg, const char *account,
                                   size_t len, struct lv_jid *out, struct lv_error *err);
/* Virtual JID -> remote AP account: the unescaped localpart. *account is the
 * caller's to free (NULL on error). Returns 0, or LV_ERR_INVAL if jid is not
 * virtual or has no localpart. */
int lv_ap_account_from_virtual_jid(const struct lv_ap_addr_cfg *cfg, const struct lv_jid *jid,
                                   char **account, struct lv_error *err);

/* ---- account handles ---- */

/* True if text[0..len) must be period-encoded in an account handle: it does
 * not match ^[a-zA-Z0-9_-]+$ (an empty text must be encoded), starts with
 * "___" or contains "---". Deviation: a trailing newline counts (Python's
 * `$` lets "abc\n" through unencoded). */
bool lv_ap_must_encode(const char *text, size_t len);
/* Period-encodes text[0..len) into a new string (caller frees): bytes
 * [A-Za-z0-9_-] are kept, each run of three "-" or "_" becomes .2d.2d.2d /
 * .5f.5f.5f, "." -> ".2e", "~" -> ".7e" (lower-case hex) and any other byte
 * -> ".XX" (upper-case hex), exactly as the reference's
 * quote(safe="")/replace chain. Never NULL. */
char *lv_ap_period_encode(const char *text, size_t len);
/* Decodes period encoding into a new string (*out, caller frees; NULL on
 * error), as the reference does: ".XX" and "%XX" (hex in either case) become
 * the byte XX, anything else is kept, so the docstring's hand-written
 * "toto.40example.net" gives "toto@example.net". The result must be valid
 * UTF-8 without NUL, else LV_ERR_INVAL.
 * Deviation: the reference's hex class [0-9a-fA-f] also matches G-Z and
 * [\]^_` (".G0" gives "%G0" there); here a "." before non-hex is kept. */
int lv_ap_period_decode(const char *text, size_t len, char **out, struct lv_error *err);

/* XMPP (JID, node) -> AP account handle (getAPAccountFromJidAndNode).
 *
 * node NULL, "" or LV_AP_NS_MICROBLOG means the default (microblog) node and
 * is left implicit. Only the bare JID is used. In order:
 * 1. a virtual JID gives its unescaped localpart (the node is ignored);
 * 2. a JID without localpart, with a node that needs no encoding, on a pubsub
 *    service (cfg->is_pubsub) gives "node@service";
 * 3. a local JID gives user "local", domain its domain; a non-local JID gives
 *    user "local@domain", domain cfg->gateway_jid (so it is always encoded);
 * 4. if the node or the user must be encoded (lv_ap_must_encode), the handle
 *    gets the "___" prefix and both are period-encoded;
 * 5. the handle is "[___][<node>---]<user>@<domain>".
 * Deviations (the reference raises or produces a handle that decodes to
 * another JID/node; the reference's decoder reads ours correctly):
 * - a JID without localpart not covered by 2 gets the user "@<its domain>",
 *   encoded ("___[<node>---].40pubsub.2eexample.2eorg@..."), where the
 *   reference raises (local) or yields "<domain>@<gateway>" (non-local);
 * - with a node, a user starting with "-" is encoded with its first "-" as
 *   ".2d" (the reference's "a----b" splits as node "a-", user "b").
 * cfg->local_only is not applied here (nor in the reference): callers that
 * act for a JID check lv_ap_is_local() themselves.
 * *account is the caller's to free (NULL on error). Returns 0, a negative
 * answer of cfg->is_pubsub, LV_ERR_INVAL (no domain, virtual JID without
 * localpart, node not valid UTF-8) or LV_ERR_LIMIT (handle longer than
 * LV_AP_ACCOUNT_MAX). */
int lv_ap_account_from_jid(const struct lv_ap_addr_cfg *cfg, const struct lv_jid *jid,
                           const char *node, char **account, struct lv_error *err);

/* AP account handle account[0..len) -> XMPP (JID, node) (getJIDAndNode).
 *
 * The handle must hold exactly one "@". A leading "___" flags encoding; the
 * part before "@" is split on its LAST "---" into node and user; both are
 * period-decoded when flagged. If the user then holds "@", it is a
 * non-local JID "user@domain" (split on its last "@"; the handle's domain is
 * dropped). Without a node, if the domain is a pubsub service
 * (cfg->is_pubsub), the user is the node (which may hold any text, "/" and
 * "@" included) and the JID is the domain. The JID is validated and
 * normalised by lv_jid_parse() (localpart case-folded). The node is not
 * normalised; a node holding NUL is refused (C strings).
 * *node is NULL for the default microblog node, else the caller's to free.
 * *jid is always initialised; release it with lv_jid_release().
 * Returns 0, LV_ERR_PERM (cfg->local_only and the JID is not local; err->msg
 * says so; checked before asking cfg->is_pubsub so that foreign domains are
 * never queried), a negative answer of cfg->is_pubsub, LV_ERR_INVAL
 * (malformed) or LV_ERR_LIMIT (longer than LV_AP_ACCOUNT_MAX).
 * Deviations (the reference accepts these and yields odd JIDs): an empty
 * user before "@" ("@example.org", "node---@host"), and a JID localpart or
 * domain holding "/" (the reference's JID parser reads a resource there) are
 * LV_ERR_INVAL. */
int lv_ap_jid_from_account(const struct lv_ap_addr_cfg *cfg, const char *account, size_t len,
                           struct lv_jid *jid, char **node, struct lv_error *err);

/* ---- URLs ---- */

enum lv_ap_url_type {
    LV_AP_URL_ACTOR,        /* actor/<account> */
    LV_AP_URL_INBOX,        /* inbox/<account> */
    LV_AP_URL_OUTBOX,       /* outbox/<account> */
    LV_AP_URL_FOLLOWERS,    /* followers/<account> */
    LV_AP_URL_FOLLOWING,    /* following/<account> */
    LV_AP_URL_SHARED_INBOX, /* shared_inbox */
    LV_AP_URL_ITEM,         /* item/<account>/<item id> */
    LV_AP_URL_AVATAR,       /* avatar/<file name> */
    LV_AP_URL_LIKE,         /* like/<account>/<item id> (activity id) */
    LV_AP_URL_REACTION,     /* reaction/<account>/<item id>/<hex of UTF-8 emoji> */
    LV_AP_URL_JOIN,         /* join/<account>/<item id> */
    LV_AP_URL_LEAVE         /* leave/<account>/<item id> */
};

/* A parsed URL of the gateway: args[0..nargs) are owned, decoded strings. */
struct lv_ap_url {
    enum lv_ap_url_type type;
    size_t nargs;
    char *args[LV_AP_URL_MAX_ARGS];
};

/* The path segment of a type ("actor", "shared_inbox"...); static. */
const char *lv_ap_url_type_name(enum lv_ap_url_type type);
/* How many arguments a type takes (0 to LV_AP_URL_MAX_ARGS). */
size_t lv_ap_url_type_nargs(enum lv_ap_url_type type);

/* "https://{public_url}/{ap_path}/" (or "https://{public_url}/" when ap_path
 * is empty); caller frees. */
char *lv_ap_base_url(const struct lv_ap_addr_cfg *cfg);

/* Builds base URL + type + "/" + quote_plus(arg) for each argument (as
 * buildAPURL): bytes [A-Za-z0-9_.~-] are kept, space becomes "+", others
 * "%XX" in upper-case hex, e.g. actor "louise@example.org" ->
 * "https://example.org/_ap/actor/louise%40example.org". nargs must be
 * lv_ap_url_type_nargs(type); each argument non-empty valid UTF-8.
 * Deviation: an argument "." or ".." is written "%2E" / "%2E%2E" (the
 * reference's pathlib drops "." and urljoin resolves ".."); an empty argument
 * is LV_ERR_INVAL (the reference drops it).
 * *url is the caller's to free (NULL on error). Returns 0, LV_ERR_INVAL or
 * LV_ERR_LIMIT (URL longer than LV_AP_URL_MAX). */
int lv_ap_url_build(const struct lv_ap_addr_cfg *cfg, enum lv_ap_url_type type,
                    const char *const *args, size_t nargs, char **url, struct lv_error *err);

/* True if url[0..len) starts with the base URL (isLocalURL: a plain,
 * case-sensitive prefix test). */
bool lv_ap_url_is_local(const struct lv_ap_addr_cfg *cfg, const char *url, size_t len);

/* Parses one of the gateway's URLs (parseAPURL): the query and fragment are
 * ignored, the path after the base is split on "/" and each argument is
 * decoded as unquote_plus does. The type must be known and have exactly its
 * number of arguments, each non-empty and valid UTF-8 without NUL once
 * decoded. out is always initialised; release with lv_ap_url_release().
 * Returns 0, LV_ERR_NOT_FOUND (not one of our URLs: another host or path),
 * LV_ERR_LIMIT (over LV_AP_URL_MAX bytes or LV_AP_URL_MAX_SEGMENTS segments)
 * or LV_ERR_INVAL (ours but malformed: unknown type, wrong argument count,
 * empty segment, bad %-escape).
 * Deviation: "+" decodes to a space (the reference's unquote keeps "+"),
 * so that parse inverts build for arguments holding spaces. */
int lv_ap_url_parse(const struct lv_ap_addr_cfg *cfg, const char *url, size_t len,
                    struct lv_ap_url *out, struct lv_error *err);
/* Same for an HTTP request path ("/_ap/actor/louise%40example.org?page=1"):
 * it must start with "/{ap_path}/", else LV_ERR_NOT_FOUND. */
int lv_ap_path_parse(const struct lv_ap_addr_cfg *cfg, const char *path, size_t len,
                     struct lv_ap_url *out, struct lv_error *err);
/* Frees the arguments and empties u; u may be NULL. */
void lv_ap_url_release(struct lv_ap_url *u);

/* Lower-case hex of s[0..len) (the reaction segment: "👍" -> "f09f918d");
 * caller frees. Never NULL. */
char *lv_ap_hex(const char *s, size_t len);

/* ---- WebFinger ---- */

/* The account a WebFinger "resource" asks for. res[0..len) is the query
 * parameter's value as it appears in the query string: it is form-decoded
 * once ("+" -> space, "%XX"), which leaves an unencoded value unchanged, so
 * both "acct:louise@example.org" and Fedify's "acct%3Alouise%40example.org"
 * work. Surrounding whitespace is stripped. Accepted forms:
 * - "acct:<account>" (scheme in any case);
 * - one of our actor URLs: the account in it.
 * Either way the account must have exactly one "@", non-empty parts, no "/",
 * whitespace or control characters.
 * The reference only handles "acct:" and does not check the account. It does
 * not check that the account's domain is ours either: callers decide.
 * *account is the caller's to free (NULL on error). Returns 0, LV_ERR_INVAL,
 * LV_ERR_NOT_FOUND (a URL that is not one of our actor URLs) or
 * LV_ERR_LIMIT. */
int lv_ap_webfinger_account(const struct lv_ap_addr_cfg *cfg, const char *res, size_t len,
                            char **account, struct lv_error *err);

/* The WebFinger query URL for a remote account (getAPActorIdFromAccount):
 * "https://<host>/.well-known/webfinger?resource=acct:<quote_plus(account)>".
 * The account needs exactly one "@", no "/", a non-empty user, and a host of
 * [A-Za-z0-9.:-] or non-ASCII bytes (so that it cannot redirect the query
 * elsewhere). *url is the caller's to free (NULL on error). Returns 0,
 * LV_ERR_INVAL or LV_ERR_LIMIT. */
int lv_ap_webfinger_url(const char *account, size_t len, char **url, struct lv_error *err);

#endif
