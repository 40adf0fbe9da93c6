/* lv_ap_actors: remote ActivityPub actors — fetching, caching, WebFinger,
 * and verification of incoming signed requests.
 *
 * Actors are cached in memory (bounded LRU of parsed records with their
 * loaded public key) over the store's table (lv_store_ap_actor_*), so a
 * known peer costs neither a fetch nor a PEM parse per request. Concurrent
 * lookups of the same URL share one fetch. Fetched documents are checked:
 * an object with a string "id" equal to the URL fetched (after redirects:
 * the final URL's id must be on the same host as the requested URL), a
 * string "inbox", a "type" among Person, Service, Application, Group,
 * Organization; publicKey (object, or array of objects: the first whose
 * owner is the actor) with id, owner == actor id, publicKeyPem.
 *
 * All callbacks run on the loop thread, never before the starting call
 * returns, exactly once. Records passed to callbacks are borrowed for the
 * call. */
#ifndef LV_AP_ACTORS_H
#define LV_AP_ACTORS_H

#include <openssl/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "ap/lv_http.h"
#include "ap/lv_http_client.h"
#include "core/lv_err.h"
#include "store/lv_store.h"
#include "store/lv_store_ap.h"

struct lv_ap_actors_config {
    unsigned cache_size; /* actors kept in memory; 0 = 10000 */
    unsigned refresh_s;  /* refetch a stored actor older than this when used; 0 = 1 day */
    unsigned timeout_ms; /* per fetch; 0 = 10 s */
    long window_s;       /* accepted clock skew of signatures; <= 0 = 3600 */
    /* Optional signer for outgoing GETs (authorized-fetch peers): key id and
     * key of the gateway's instance actor; NULL = unsigned GETs. Borrowed
     * (the key is up-ref'd). */
    const char *get_key_id;
    EVP_PKEY *get_key;
    /* Scheme of WebFinger queries: NULL or "https" (always, in production);
     * "http" only for tests, whose in-process server has no TLS. Anything
     * else is LV_ERR_CONFIG. */
    const char *webfinger_scheme;
};

struct lv_ap_actors;

/* Creates the actor cache. cfg NULL = all defaults (its strings are
 * copied). store may be NULL: memory only (nothing survives a restart).
 * http is borrowed and must outlive the cache, or be freed first (pending
 * fetches then fail with LV_ERR_CANCELLED). Returns 0, LV_ERR_INVAL or
 * LV_ERR_CONFIG (get_key without get_key_id or the reverse, bad
 * webfinger_scheme). */
int lv_ap_actors_new(uv_loop_t *loop, struct lv_store *store, struct lv_http_client *http,
                     const struct lv_ap_actors_config *cfg, struct lv_ap_actors **out,
                     struct lv_error *err);
/* Pending lookups are called back with LV_ERR_CANCELLED (verifications
 * with status 503, "shutting down") before this returns. May be called from
 * one of this module's callbacks. Keep running the loop afterwards: a libuv
 * handle is closed. NULL is a no-op. */
void lv_ap_actors_free(struct lv_ap_actors *a);

/* An actor as the cache holds it: the stored record plus its loaded key
 * (NULL when it has none or its PEM is unusable). To stay small in memory,
 * rec.doc and rec.public_key_pem are NULL here (the store has them; the key
 * is in key). */
struct lv_ap_actor {
    struct lv_ap_actor_rec rec;
    EVP_PKEY *key;
    char *name;               /* "name" or NULL */
    char *preferred_username; /* "preferredUsername" or NULL */
    char *followers;          /* followers collection URL or NULL */
    char *outbox;             /* outbox URL or NULL */
};

/* a is borrowed for the call (NULL on error). */
typedef void (*lv_ap_actor_fn)(const struct lv_ap_actor *a, const struct lv_error *err, void *ud);

/* The actor at url: from memory, else the store (refetched when older than
 * refresh_s — the stored one is used if the refetch fails), else fetched.
 * refresh forces a fetch. Errors: lv_http_client_fetch_json's, LV_ERR_PROTO
 * for a document that is not a valid actor, LV_ERR_INVAL for a url that is
 * not http(s) or longer than LV_AP_URL_MAX. Actors in memory are refreshed
 * after refresh_s the same way. A document whose id is another URL of the
 * same origin (scheme and authority) is accepted, and the actor given back
 * has that id; its publicKey.id must have the actor's origin too. Limits
 * on remote strings: URLs LV_AP_URL_MAX, name and preferredUsername 1024
 * bytes, publicKeyPem LV_HTTPSIG_PEM_MAX; the document 1 MiB. */
void lv_ap_actors_get(struct lv_ap_actors *a, const char *url, bool refresh, lv_ap_actor_fn fn,
                      void *ud);
/* The actor owning key_id: the cached actor whose rec.key_id is key_id,
 * else the document at key_id without its fragment — an actor (its
 * publicKey.id must be key_id), or a key document ({id, owner,
 * publicKeyPem}, or a key-only actor stub without inbox, as GoToSocial
 * serves) whose owner is then fetched and must list that key. refresh
 * skips memory and the store (the key document's owner is refetched too). */
void lv_ap_actors_by_key(struct lv_ap_actors *a, const char *key_id, bool refresh,
                         lv_ap_actor_fn fn, void *ud);
/* The actor of an account handle "user@host": the stored actor verified for
 * it, else WebFinger (lv_ap_webfinger_url; the link rel=self with type
 * application/activity+json or application/ld+json, parameters allowed;
 * the subject must be an acct: URI) then the actor, whose account is
 * recorded as verified. A leading "@" is ignored. A refetched actor keeps
 * its verified account while its preferredUsername is the account's user
 * part. */
void lv_ap_actors_by_account(struct lv_ap_actors *a, const char *account, lv_ap_actor_fn fn,
                             void *ud);
/* The verified account handle of an actor ("preferredUsername@host of its
 * id"), checked by a WebFinger round trip (the handle's self link must be
 * the actor's id) unless the record already has it. Calls fn with the
 * actor, whose rec.account is then set (and stored), or an error
 * (LV_ERR_PROTO: the round trip does not give this actor back). */
void lv_ap_actors_verify_account(struct lv_ap_actors *a, const char *actor_url, lv_ap_actor_fn fn,
                                 void *ud);

/* The verification of an incoming request's signature: lv_httpsig_parse()
 * on the request as received (target, headers, exact body; scheme and
 * authority from lv_http_req_scheme()/lv_http_req_host()), the signer by
 * key id (cached), lv_httpsig_verify() with LV_HTTPSIG_RETRY_DECODED; when
 * that fails with a cached key, the actor is fetched again once and the
 * signature checked again. fn gets the signer, or status 401 and a reason
 * ("no signature", "signature does not verify", "date outside the
 * accepted window", "digest does not match the body", "cannot fetch the
 * signer's key: ...") — reasons never hold key material. */
typedef void (*lv_ap_verify_fn)(const struct lv_ap_actor *signer, unsigned status,
                                const char *reason, void *ud);
/* The request is read only during the call (everything needed is copied),
 * so it may be answered or go dead meanwhile; fn is called in any case.
 * Status 503 "shutting down" when the cache is freed first. */
void lv_ap_actors_verify_request(struct lv_ap_actors *a, struct lv_http_req *req,
                                 lv_ap_verify_fn fn, void *ud);

/* Known actors in memory and in the store (*stored: -1 without a store or
 * when it cannot be counted). Either pointer may be NULL. */
void lv_ap_actors_counts(struct lv_ap_actors *a, uint64_t *in_memory, int64_t *stored);

#endif
