/* lv_ap_actors: remote actors — fetching, caching, WebFinger, and the
 * verification of incoming signed requests. See lv_ap_actors.h.
 *
 * Everything is an "op": one per public call, freed once its callback ran.
 * An op walks through small steps (resolve an actor URL, find a key, run a
 * WebFinger query), each ending in a continuation stored in the op. A step
 * that can finish at once (memory or store hit) calls its continuation
 * directly; the op's final answer is queued on a zero timer when it would
 * otherwise reach the caller before the starting call returned.
 *
 * Fetches are shared: the map `fetches` holds one in-flight GET per URL and
 * the ops waiting on it. Cached actors are reference counted, because an
 * actor evicted from the LRU may still be on its way to a callback. */
#include "ap/lv_ap_actors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "ap/lv_ap_addr.h"
#include "ap/lv_httpsig.h"
#include "core/lv_log.h"
#include "core/lv_map.h"
#include "core/lv_mem.h"

#define AREA "ap-actors"

#define DEFAULT_CACHE_SIZE 10000u
#define DEFAULT_REFRESH_S 86400u
#define DEFAULT_TIMEOUT_MS 10000u
/* Longest "name" / "preferredUsername" kept. */
#define TEXT_MAX 1024
/* Largest actor / key document fetched (the store takes up to 4 MiB). */
#define DOC_MAX ((size_t)1 << 20)
/* Largest WebFinger document. */
#define JRD_MAX ((size_t)256 << 10)

/* ---- types ---- */

struct entry {
    struct lv_ap_actor pub;    /* what callbacks see */
    struct entry *prev, *next; /* LRU list, most recently used first */
    unsigned refs;
    bool cached; /* in the maps and the LRU list */
};

/* What a fetch gave: an actor, a key document, or an error. */
struct fetch_res {
    const char *url;
    struct entry *actor;      /* borrowed for the call */
    const char *kid, *kowner; /* key document, borrowed for the call */
    const struct lv_error *err;
};

struct op;
typedef void (*fetched_fn)(struct op *op, const struct fetch_res *r);
typedef void (*actor_fn)(struct op *op, struct entry *e, const struct lv_error *err);
typedef void (*wf_fn)(struct op *op, const char *href, const struct lv_error *err);

struct fetch {
    struct lv_ap_actors *a;
    struct fetch *prev, *next; /* a->fetch_list */
    char *url;
    struct lv_http_req *http;
    struct op *head, *tail; /* waiters, in arrival order */
};

enum op_kind { OP_ACTOR, OP_VERIFY };

struct op {
    struct lv_ap_actors *a;
    struct op *prev, *next; /* a->ops: every op not yet answered */
    struct op *wnext;       /* a fetch's waiters, or the ready queue */
    enum op_kind kind;
    lv_ap_actor_fn fn;
    lv_ap_verify_fn vfn;
    void *ud;
    bool starting; /* inside the public call: the answer must be queued */
    /* continuations */
    fetched_fn on_fetched;
    actor_fn on_actor; /* resolve() */
    actor_fn on_key;   /* find_key() */
    wf_fn on_wf;       /* webfinger() */
    struct lv_http_req *wf_http;
    /* state */
    char *key_id;
    char *account;
    bool refresh, from_cache, retried;
    struct entry *stale; /* resolve(): the known actor, used if its refetch fails */
    struct entry *cur;   /* verify_account(): the actor being checked */
    struct lv_httpsig_sig sig;
    /* answer */
    struct entry *res;
    struct lv_error err; /* code != 0: failed */
    unsigned status;
    char *reason;
};

struct lv_ap_actors {
    uv_loop_t *loop;
    struct lv_store *store;
    struct lv_http_client *http;
    unsigned cache_size, refresh_s, timeout_ms;
    long window_s;
    char *get_key_id;
    EVP_PKEY *get_key;
    bool wf_http_scheme;

    struct lv_map by_id, by_key, by_account; /* -> struct entry (cached ones) */
    struct entry *lru_head, *lru_tail;
    uint64_t n_cached;

    struct lv_map fetches; /* url -> struct fetch */
    struct fetch *fetch_list;
    struct op *ops;
    struct op *ready_head, *ready_tail;
    uv_timer_t *timer;

    unsigned busy; /* nesting of callbacks from the loop; free waits for 0 */
    bool closing;
};

/* ---- small helpers ---- */

static char *dup_or_null(const char *s)
{
    return s ? lv_xstrdup(s) : NULL;
}

/* An absolute http(s) URL of at most LV_AP_URL_MAX bytes, with a host and
 * no user info, spaces or control characters. */
static bool url_ok(const char *s, size_t len)
{
    size_t skip;
    if (len > LV_AP_URL_MAX)
        return false;
    if (len > 7 && strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (len > 8 && strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    bool in_authority = true;
    for (size_t i = skip; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '\\')
            return false;
        if (c == '/' || c == '?' || c == '#')
            in_authority = false;
        else if (in_authority && c == '@')
            return false;
    }
    return s[skip] != '/' && s[skip] != '?' && s[skip] != '#';
}

static bool url_ok_str(const char *s)
{
    return s && url_ok(s, strnlen(s, LV_AP_URL_MAX + 1));
}

/* The authority of a URL url_ok() accepted. */
static const char *url_authority(const char *url, size_t *len)
{
    const char *p = strstr(url, "://") + 3;
    *len = strcspn(p, "/?#");
    return p;
}

/* Same scheme and authority (ASCII case-insensitive). */
static bool same_origin(const char *u1, const char *u2)
{
    size_t l1, l2;
    const char *a1 = url_authority(u1, &l1), *a2 = url_authority(u2, &l2);
    size_t o1 = (size_t)(a1 - u1) + l1, o2 = (size_t)(a2 - u2) + l2;
    return o1 == o2 && strncasecmp(u1, u2, o1) == 0;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- entries and the cache ---- */

static struct entry *entry_ref(struct entry *e)
{
    if (e)
        e->refs++;
    return e;
}

static void entry_unref(struct entry *e)
{
    if (!e || --e->refs)
        return;
    struct lv_ap_actor_rec *r = &e->pub.rec;
    free(r->id);
    free(r->account);
    free(r->inbox);
    free(r->shared_inbox);
    free(r->key_id);
    free(r->public_key_pem);
    free(r->doc);
    EVP_PKEY_free(e->pub.key);
    free(e->pub.name);
    free(e->pub.preferred_username);
    free(e->pub.followers);
    free(e->pub.outbox);
    free(e);
}

static bool fresh(const struct lv_ap_actors *a, const struct entry *e)
{
    return now_s() - e->pub.rec.fetched < (int64_t)a->refresh_s;
}

static void lru_unlink(struct lv_ap_actors *a, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        a->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        a->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(struct lv_ap_actors *a, struct entry *e)
{
    e->prev = NULL;
    e->next = a->lru_head;
    if (a->lru_head)
        a->lru_head->prev = e;
    else
        a->lru_tail = e;
    a->lru_head = e;
}

static void touch(struct lv_ap_actors *a, struct entry *e)
{
    if (a->lru_head != e) {
        lru_unlink(a, e);
        lru_push(a, e);
    }
}

/* Removes key from m if it maps to e. */
static void unindex(struct lv_map *m, const char *key, const struct entry *e)
{
    if (key && lv_map_get(m, key) == e)
        lv_map_del(m, key);
}

static void cache_remove(struct lv_ap_actors *a, struct entry *e)
{
    unindex(&a->by_id, e->pub.rec.id, e);
    unindex(&a->by_key, e->pub.rec.key_id, e);
    unindex(&a->by_account, e->pub.rec.account, e);
    lru_unlink(a, e);
    e->cached = false;
    a->n_cached--;
    entry_unref(e);
}

/* Adds e (taking a reference), replacing the actor of the same id, and
 * evicts the least recently used beyond cache_size. */
static void cache_put(struct lv_ap_actors *a, struct entry *e)
{
    struct entry *old = lv_map_get(&a->by_id, e->pub.rec.id);
    if (old)
        cache_remove(a, old);
    lv_map_put(&a->by_id, e->pub.rec.id, e);
    if (e->pub.rec.key_id)
        lv_map_put(&a->by_key, e->pub.rec.key_id, e);
    if (e->pub.rec.account)
        lv_map_put(&a->by_account, e->pub.rec.account, e);
    lru_push(a, entry_ref(e));
    e->cached = true;
    a->n_cached++;
    while (a->n_cached > a->cache_size)
        cache_remove(a, a->lru_tail);
}

static struct entry *cache_lookup(struct lv_ap_actors *a, struct lv_map *m, const char *key)
{
    struct entry *e = lv_map_get(m, key);
    if (e)
        touch(a, e);
    return e;
}

/* ---- document checks (remote input) ---- */

/* Reads the string member key of o into *out (borrowed from o). Absent:
 * an error when required, else *out = NULL; present but not a string: the
 * same (optional members of another shape are ignored). Longer than max,
 * holding a NUL, or (url) not an http(s) URL: LV_ERR_PROTO. */
static int get_str(const json_t *o, const char *what, const char *key, size_t max, bool url,
                   bool required, const char **out, struct lv_error *err)
{
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!json_is_string(v)) {
        if (!required)
            return 0;
        return lv_error_set(err, LV_ERR_PROTO, "%s: %s \"%s\"", what, v ? "not a string:" : "no",
                            key);
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > max)
        return lv_error_set(err, LV_ERR_PROTO, "%s: \"%s\" is longer than %zu bytes", what, key,
                            max);
    if (memchr(s, '\0', len))
        return lv_error_set(err, LV_ERR_PROTO, "%s: \"%s\" holds a NUL byte", what, key);
    if (url && !url_ok(s, len))
        return lv_error_set(err, LV_ERR_PROTO, "%s: \"%s\" is not an http(s) URL: %.200s", what,
                            key, s);
    *out = s;
    return 0;
}

static bool type_known(const json_t *v)
{
    static const char *const types[] = {"Person", "Service", "Application", "Group",
                                        "Organization"};
    if (!json_is_string(v))
        return false;
    for (size_t i = 0; i < LV_ARRAY_LEN(types); i++)
        if (strcmp(json_string_value(v), types[i]) == 0)
            return true;
    return false;
}

/* "type" is one of the actor types, or an array holding one. */
static bool actor_type_ok(const json_t *t)
{
    if (json_is_array(t)) {
        for (size_t i = 0; i < json_array_size(t); i++)
            if (type_known(json_array_get(t, i)))
                return true;
        return false;
    }
    return type_known(t);
}

/* The publicKey object that belongs to the actor id: the object, or the
 * first array member whose owner is id. NULL with *none set when there is
 * no publicKey at all. */
static const json_t *pick_key(const json_t *doc, const char *id, bool *none, struct lv_error *err)
{
    const json_t *pk = json_object_get(doc, "publicKey");
    *none = pk == NULL;
    if (!pk)
        return NULL;
    if (json_is_object(pk))
        return pk;
    if (!json_is_array(pk)) {
        lv_error_set(err, LV_ERR_PROTO, "actor %.200s: publicKey is neither an object nor an array",
                     id);
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(pk); i++) {
        const json_t *k = json_array_get(pk, i);
        const json_t *owner = json_object_get(k, "owner");
        if (json_is_object(k) && json_is_string(owner) && strcmp(json_string_value(owner), id) == 0)
            return k;
    }
    lv_error_set(err, LV_ERR_PROTO, "actor %.200s: no publicKey owned by the actor", id);
    return NULL;
}

/* Checks the actor's publicKey and loads it into e; *pem is borrowed from
 * doc (NULL when the actor has no key). */
static int parse_key(const json_t *doc, struct entry *e, const char **pem, struct lv_error *err)
{
    const char *id = e->pub.rec.id, *kid, *owner;
    bool none;
    const json_t *k = pick_key(doc, id, &none, err);
    *pem = NULL;
    if (!k)
        return none ? 0 : LV_ERR_PROTO;
    if (get_str(k, "actor publicKey", "id", LV_AP_URL_MAX, true, true, &kid, err) != 0 ||
        get_str(k, "actor publicKey", "owner", LV_AP_URL_MAX, true, true, &owner, err) != 0 ||
        get_str(k, "actor publicKey", "publicKeyPem", LV_HTTPSIG_PEM_MAX, false, true, pem, err) !=
            0)
        return LV_ERR_PROTO;
    if (strcmp(owner, id) != 0)
        return lv_error_set(err, LV_ERR_PROTO,
                            "actor %.200s: publicKey.owner %.200s is not the actor", id, owner);
    if (!same_origin(kid, id))
        return lv_error_set(err, LV_ERR_PROTO,
                            "actor %.200s: publicKey.id %.200s is on another host", id, kid);
    struct lv_error e2;
    if (lv_httpsig_load_public(*pem, strlen(*pem), &e->pub.key, &e2) != 0)
        return lv_error_set(err, LV_ERR_PROTO, "actor %.200s: unusable publicKeyPem: %s", id,
                            e2.msg);
    e->pub.rec.key_id = lv_xstrdup(kid);
    return 0;
}

/* The optional members kept in memory. */
static int parse_extras(const json_t *doc, struct entry *e, struct lv_error *err)
{
    const char *name, *pu, *followers, *outbox, *shared = NULL;
    const json_t *ep = json_object_get(doc, "endpoints");
    if (get_str(doc, "actor", "name", TEXT_MAX, false, false, &name, err) != 0 ||
        get_str(doc, "actor", "preferredUsername", TEXT_MAX, false, false, &pu, err) != 0 ||
        get_str(doc, "actor", "followers", LV_AP_URL_MAX, true, false, &followers, err) != 0 ||
        get_str(doc, "actor", "outbox", LV_AP_URL_MAX, true, false, &outbox, err) != 0 ||
        (json_is_object(ep) && get_str(ep, "actor endpoints", "sharedInbox", LV_AP_URL_MAX, true,
                                       false, &shared, err) != 0))
        return LV_ERR_PROTO;
    e->pub.name = dup_or_null(name);
    e->pub.preferred_username = dup_or_null(pu);
    e->pub.followers = dup_or_null(followers);
    e->pub.outbox = dup_or_null(outbox);
    e->pub.rec.shared_inbox = dup_or_null(shared);
    return 0;
}

/* Checks an actor document fetched at url and builds its entry (one
 * reference, the caller's; not cached). *pem is borrowed from doc. */
static int parse_actor(const json_t *doc, const char *url, struct entry **out, const char **pem,
                       struct lv_error *err)
{
    const char *id, *inbox;
    *out = NULL;
    if (get_str(doc, "actor", "id", LV_AP_URL_MAX, true, true, &id, err) != 0)
        return LV_ERR_PROTO;
    if (strcmp(id, url) != 0 && !same_origin(id, url))
        return lv_error_set(err, LV_ERR_PROTO, "actor id %.200s does not match the URL %.200s", id,
                            url);
    if (!actor_type_ok(json_object_get(doc, "type")))
        return lv_error_set(err, LV_ERR_PROTO,
                            "%.200s: type is not Person, Service, Application, Group or "
                            "Organization",
                            id);
    if (get_str(doc, "actor", "inbox", LV_AP_URL_MAX, true, true, &inbox, err) != 0)
        return LV_ERR_PROTO;
    struct entry *e = lv_xcalloc(1, sizeof(*e));
    e->refs = 1;
    e->pub.rec.id = lv_xstrdup(id);
    e->pub.rec.inbox = lv_xstrdup(inbox);
    if (parse_extras(doc, e, err) != 0 || parse_key(doc, e, pem, err) != 0) {
        entry_unref(e);
        return LV_ERR_PROTO;
    }
    *out = e;
    return 0;
}

/* A key document ({id, owner, publicKeyPem}), or a key-only actor stub
 * (no inbox, a publicKey object: what GoToSocial serves at its key URL). */
static int parse_keydoc(const json_t *doc, const char *url, struct fetch_res *r,
                        struct lv_error *err)
{
    const json_t *k = doc;
    if (!json_object_get(doc, "publicKeyPem")) {
        k = json_object_get(doc, "publicKey");
        if (!json_is_object(k))
            return lv_error_set(err, LV_ERR_PROTO, "%.200s is not an actor (no \"inbox\")", url);
    }
    if (get_str(k, "key document", "id", LV_AP_URL_MAX, true, true, &r->kid, err) != 0 ||
        get_str(k, "key document", "owner", LV_AP_URL_MAX, true, true, &r->kowner, err) != 0)
        return LV_ERR_PROTO;
    return 0;
}

/* The self link of a WebFinger document (borrowed from doc). */
static int parse_jrd(const json_t *doc, const char **href, struct lv_error *err)
{
    const char *subject;
    if (get_str(doc, "WebFinger", "subject", LV_AP_ACCOUNT_MAX + 5, false, true, &subject, err) !=
        0)
        return LV_ERR_PROTO;
    if (strncasecmp(subject, "acct:", 5) != 0)
        return lv_error_set(err, LV_ERR_PROTO, "WebFinger subject is not an acct: URI: %.200s",
                            subject);
    const json_t *links = json_object_get(doc, "links");
    for (size_t i = 0; i < json_array_size(links); i++) {
        const json_t *l = json_array_get(links, i);
        const json_t *rel = json_object_get(l, "rel"), *type = json_object_get(l, "type");
        if (!json_is_string(rel) || strcmp(json_string_value(rel), "self") != 0 ||
            !json_is_string(type))
            continue;
        const char *t = json_string_value(type);
        size_t tl = strcspn(t, ";");
        while (tl && (t[tl - 1] == ' ' || t[tl - 1] == '\t'))
            tl--;
        if (!(tl == 25 && strncasecmp(t, "application/activity+json", tl) == 0) &&
            !(tl == 19 && strncasecmp(t, "application/ld+json", tl) == 0))
            continue;
        return get_str(l, "WebFinger self link", "href", LV_AP_URL_MAX, true, true, href, err);
    }
    return lv_error_set(err, LV_ERR_PROTO, "WebFinger for %.200s has no ActivityPub self link",
                        subject);
}

/* ---- the store ---- */

/* An entry from a stored record: its document is checked again (the rules
 * may have changed since) and the verified account and fetch time kept. */
static struct entry *entry_from_rec(const struct lv_ap_actor_rec *rec)
{
    struct lv_error e;
    struct entry *ent = NULL;
    const char *pem;
    json_t *doc = rec->doc ? lv_http_json_parse(rec->doc, strlen(rec->doc), &e) : NULL;
    if (!doc || parse_actor(doc, rec->id, &ent, &pem, &e) != 0) {
        lv_warn(AREA, "stored actor %.200s is unusable, refetching: %s", rec->id,
                rec->doc ? e.msg : "no document");
        json_decref(doc);
        return NULL;
    }
    json_decref(doc);
    ent->pub.rec.account = dup_or_null(rec->account);
    ent->pub.rec.fetched = rec->fetched;
    return ent;
}

typedef int (*store_get_fn)(struct lv_store *st, const char *key, struct lv_ap_actor_rec *out,
                            struct lv_error *err);

/* Loads a stored actor into the cache; NULL if there is none. */
static struct entry *store_load(struct lv_ap_actors *a, store_get_fn get, const char *key)
{
    struct lv_ap_actor_rec rec = {0};
    struct lv_error e;
    if (!a->store)
        return NULL;
    int rc = get(a->store, key, &rec, &e);
    if (rc != 0) {
        if (rc != LV_ERR_NOT_FOUND)
            lv_warn(AREA, "reading actor %.200s from the store: %s", key, e.msg);
        return NULL;
    }
    struct entry *ent = entry_from_rec(&rec);
    lv_ap_actor_rec_release(&rec);
    if (!ent)
        return NULL;
    cache_put(a, ent);
    entry_unref(ent);
    return ent;
}

/* The actor url from memory, else the store (into memory); NULL if
 * unknown. Borrowed from the cache. */
static struct entry *known(struct lv_ap_actors *a, const char *url)
{
    struct entry *e = cache_lookup(a, &a->by_id, url);
    return e ? e : store_load(a, lv_store_ap_actor_get, url);
}

static struct entry *known_by_key(struct lv_ap_actors *a, const char *key_id)
{
    struct entry *e = cache_lookup(a, &a->by_key, key_id);
    if (e)
        return e;
    e = store_load(a, lv_store_ap_actor_by_key, key_id);
    return e && e->pub.rec.key_id && strcmp(e->pub.rec.key_id, key_id) == 0 ? e : NULL;
}

static struct entry *known_by_account(struct lv_ap_actors *a, const char *account)
{
    struct entry *e = cache_lookup(a, &a->by_account, account);
    return e ? e : store_load(a, lv_store_ap_actor_by_account, account);
}

/* A refetched actor keeps its verified account while its preferredUsername
 * is still the account's user part. */
static void keep_account(struct lv_ap_actors *a, struct entry *e)
{
    struct lv_ap_actor_rec rec = {0};
    const char *prev = NULL;
    struct entry *old = lv_map_get(&a->by_id, e->pub.rec.id);
    if (old)
        prev = old->pub.rec.account;
    else if (a->store && lv_store_ap_actor_get(a->store, e->pub.rec.id, &rec, NULL) == 0)
        prev = rec.account;
    const char *pu = e->pub.preferred_username;
    if (prev && pu) {
        size_t ul = strcspn(prev, "@");
        if (strlen(pu) == ul && strncasecmp(prev, pu, ul) == 0)
            e->pub.rec.account = lv_xstrdup(prev);
    }
    lv_ap_actor_rec_release(&rec);
}

static void store_actor(struct lv_ap_actors *a, const struct entry *e, const char *pem,
                        const char *doc)
{
    if (!a->store)
        return;
    struct lv_ap_actor_rec rec = e->pub.rec;
    struct lv_error err;
    rec.public_key_pem = (char *)pem;
    rec.doc = (char *)doc;
    if (lv_store_ap_actor_put(a->store, &rec, &err) != 0)
        lv_warn(AREA, "storing actor %.200s: %s", rec.id, err.msg);
}

/* Records account as e's verified handle, in memory and in the store. */
static void set_account(struct lv_ap_actors *a, struct entry *e, const char *account)
{
    struct lv_ap_actor_rec rec = {0};
    struct lv_error err;
    if (e->pub.rec.account && strcmp(e->pub.rec.account, account) == 0)
        return;
    if (e->cached)
        unindex(&a->by_account, e->pub.rec.account, e);
    free(e->pub.rec.account);
    e->pub.rec.account = lv_xstrdup(account);
    if (e->cached)
        lv_map_put(&a->by_account, account, e);
    if (!a->store)
        return;
    if (lv_store_ap_actor_get(a->store, e->pub.rec.id, &rec, &err) == 0) {
        free(rec.account);
        rec.account = lv_xstrdup(account);
        if (lv_store_ap_actor_put(a->store, &rec, &err) != 0)
            lv_warn(AREA, "storing the account of %.200s: %s", rec.id, err.msg);
    } else {
        lv_warn(AREA, "actor %.200s not in the store: %s", e->pub.rec.id, err.msg);
    }
    lv_ap_actor_rec_release(&rec);
}

/* ---- ops: answers ---- */

static void destroy(struct lv_ap_actors *a);

static void enter(struct lv_ap_actors *a)
{
    a->busy++;
}

static void leave(struct lv_ap_actors *a)
{
    if (--a->busy == 0 && a->closing)
        destroy(a);
}

static struct op *op_new(struct lv_ap_actors *a, enum op_kind kind, void *ud)
{
    struct op *op = lv_xcalloc(1, sizeof(*op));
    op->a = a;
    op->kind = kind;
    op->ud = ud;
    op->starting = true;
    lv_httpsig_sig_init(&op->sig);
    op->next = a->ops;
    if (a->ops)
        a->ops->prev = op;
    a->ops = op;
    return op;
}

static void op_free(struct op *op)
{
    struct lv_ap_actors *a = op->a;
    if (op->prev)
        op->prev->next = op->next;
    else
        a->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    entry_unref(op->res);
    entry_unref(op->stale);
    entry_unref(op->cur);
    lv_httpsig_sig_release(&op->sig);
    free(op->key_id);
    free(op->account);
    free(op->reason);
    free(op);
}

static void op_deliver(struct op *op)
{
    if (op->kind == OP_VERIFY)
        op->vfn(op->res ? &op->res->pub : NULL, op->status, op->reason, op->ud);
    else if (op->err.code)
        op->fn(NULL, &op->err, op->ud);
    else
        op->fn(&op->res->pub, NULL, op->ud);
    op_free(op);
}

static void on_ready(uv_timer_t *t)
{
    struct lv_ap_actors *a = t->data;
    enter(a);
    while (a->ready_head) {
        struct op *op = a->ready_head;
        a->ready_head = op->wnext;
        if (!a->ready_head)
            a->ready_tail = NULL;
        op_deliver(op);
    }
    leave(a);
}

/* The answer is in op: deliver it, or queue it while the public call that
 * made op has not returned yet. */
static void op_complete(struct op *op)
{
    struct lv_ap_actors *a = op->a;
    if (!op->starting) {
        op_deliver(op);
        return;
    }
    op->wnext = NULL;
    if (a->ready_tail)
        a->ready_tail->wnext = op;
    else
        a->ready_head = op;
    a->ready_tail = op;
    uv_timer_start(a->timer, on_ready, 0, 0);
}

/* Marks the end of the public call that made op. */
static void op_started(struct op *op)
{
    op->starting = false;
}

static void finish_actor(struct op *op, struct entry *e, const struct lv_error *err)
{
    if (err)
        op->err = *err;
    else
        op->res = entry_ref(e);
    op_complete(op);
}

static void finish_verify(struct op *op, struct entry *signer, unsigned status, char *reason)
{
    op->res = entry_ref(signer);
    op->status = status;
    op->reason = reason;
    op_complete(op);
}

static void fail_actor(struct op *op, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_actor(struct op *op, int code, const char *fmt, ...)
{
    char msg[LV_ERROR_MSG_MAX];
    struct lv_error e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lv_error_set(&e, code, "%s", msg);
    finish_actor(op, NULL, &e);
}

/* Answers every queued op with "cancelled" (shutdown). */
static void cancel_ready(struct lv_ap_actors *a)
{
    while (a->ready_head) {
        struct op *op = a->ready_head;
        a->ready_head = op->wnext;
        if (!a->ready_head)
            a->ready_tail = NULL;
        entry_unref(op->res);
        op->res = NULL;
        lv_error_set(&op->err, LV_ERR_CANCELLED, "actor lookups shut down");
        op->status = 503;
        free(op->reason);
        op->reason = lv_xstrdup("shutting down");
        op_deliver(op);
    }
}

/* ---- fetches ---- */

/* Signature, Date and Host headers for a GET of url (authorized fetch).
 * Nothing is added when signing fails (the GET goes unsigned). */
static size_t sign_get(struct lv_ap_actors *a, const char *url, struct lv_http_header *h,
                       char **host, char **sig, char *date)
{
    size_t alen;
    const char *auth = url_authority(url, &alen);
    const char *path = auth + alen;
    *host = lv_xstrndup(auth, alen);
    char *target = lv_xstrndup(path, strcspn(path, "#"));
    if (!*target) {
        free(target);
        target = lv_xstrdup("/");
    }
    lv_httpsig_format_date((time_t)now_s(), date);
    struct lv_httpsig_out o = {.method = "GET", .target = target, .host = *host, .date = date};
    struct lv_error err;
    int rc = lv_httpsig_sign(&o, a->get_key_id, a->get_key, sig, &err);
    free(target);
    if (rc != 0) {
        lv_warn(AREA, "cannot sign the GET of %.200s: %s", url, err.msg);
        return 0;
    }
    h[0] = (struct lv_http_header){"Host", *host};
    h[1] = (struct lv_http_header){"Date", date};
    h[2] = (struct lv_http_header){"Signature", *sig};
    return 3;
}

static void on_fetch_done(json_t *doc, struct lv_http_response *resp, const struct lv_error *err,
                          void *ud);

static struct fetch *fetch_start(struct lv_ap_actors *a, const char *url, struct lv_error *err)
{
    struct lv_http_header h[3];
    char date[LV_HTTPSIG_DATE_LEN + 1], *host = NULL, *sig = NULL;
    size_t nh = a->get_key ? sign_get(a, url, h, &host, &sig, date) : 0;
    struct lv_http_request q = {.url = url,
                                .headers = h,
                                .n_headers = nh,
                                .timeout_ms = a->timeout_ms,
                                .max_response_bytes = DOC_MAX};
    struct fetch *f = lv_xcalloc(1, sizeof(*f));
    f->a = a;
    f->url = lv_xstrdup(url);
    int rc =
        lv_http_client_fetch_json(a->http, &q, LV_HTTP_JSON_AP, on_fetch_done, f, &f->http, err);
    free(host);
    free(sig);
    if (rc != 0) {
        free(f->url);
        free(f);
        return NULL;
    }
    lv_debug(AREA, "fetching %.200s", url);
    lv_map_put(&a->fetches, url, f);
    f->next = a->fetch_list;
    if (a->fetch_list)
        a->fetch_list->prev = f;
    a->fetch_list = f;
    return f;
}

/* Waits for the document at url (one fetch for all waiters), then calls cb. */
static void wait_fetch(struct op *op, const char *url, fetched_fn cb)
{
    struct lv_ap_actors *a = op->a;
    struct lv_error e;
    op->on_fetched = cb;
    struct fetch *f = a->closing ? NULL : lv_map_get(&a->fetches, url);
    if (!f) {
        if (a->closing)
            lv_error_set(&e, LV_ERR_CANCELLED, "actor lookups shut down");
        if (a->closing || !(f = fetch_start(a, url, &e))) {
            struct fetch_res r = {.url = url, .err = &e};
            cb(op, &r);
            return;
        }
    }
    op->wnext = NULL;
    if (f->tail)
        f->tail->wnext = op;
    else
        f->head = op;
    f->tail = op;
}

/* Turns a fetched document into r: an actor (checked, stored, cached) or a
 * key document. */
static void classify(struct lv_ap_actors *a, const char *url, const json_t *doc,
                     const struct lv_http_response *resp, struct fetch_res *r, struct lv_error *e)
{
    const char *pem;
    struct entry *ent;
    if (!json_object_get(doc, "inbox") &&
        (json_object_get(doc, "publicKeyPem") || json_object_get(doc, "publicKey"))) {
        if (parse_keydoc(doc, url, r, e) != 0)
            r->err = e;
        return;
    }
    if (parse_actor(doc, url, &ent, &pem, e) != 0) {
        lv_info(AREA, "rejecting %.200s: %s", url, e->msg);
        r->err = e;
        return;
    }
    ent->pub.rec.fetched = now_s();
    keep_account(a, ent);
    store_actor(a, ent, pem, resp->body.data);
    cache_put(a, ent);
    r->actor = ent; /* our reference, dropped after the waiters ran */
}

static void on_fetch_done(json_t *doc, struct lv_http_response *resp, const struct lv_error *err,
                          void *ud)
{
    struct fetch *f = ud;
    struct lv_ap_actors *a = f->a;
    enter(a);
    f->http = NULL;
    lv_map_del(&a->fetches, f->url);
    if (f->prev)
        f->prev->next = f->next;
    else
        a->fetch_list = f->next;
    if (f->next)
        f->next->prev = f->prev;

    struct lv_error e;
    struct fetch_res r = {.url = f->url, .err = err};
    if (!err)
        classify(a, f->url, doc, resp, &r, &e);
    else
        lv_info(AREA, "cannot fetch %.200s: %s", f->url, err->msg);
    for (struct op *op = f->head, *next; op; op = next) {
        next = op->wnext;
        op->on_fetched(op, &r);
    }
    entry_unref(r.actor);
    free(f->url);
    free(f);
    leave(a);
}

/* ---- step: the actor at a URL ---- */

static void resolve_fetched(struct op *op, const struct fetch_res *r)
{
    struct entry *stale = op->stale;
    struct lv_error e;
    const struct lv_error *err = r->err;
    op->stale = NULL;
    if (r->actor) {
        op->on_actor(op, r->actor, NULL);
    } else {
        if (!err) {
            lv_error_set(&e, LV_ERR_PROTO, "%.200s is not an actor (no \"inbox\")", r->url);
            err = &e;
        }
        if (stale && err->code != LV_ERR_CANCELLED) {
            lv_info(AREA, "using the stored %.200s: %s", r->url, err->msg);
            op->on_actor(op, stale, NULL);
        } else {
            op->on_actor(op, NULL, err);
        }
    }
    entry_unref(stale);
}

/* The actor at url, then next(op, actor or NULL, err). */
static void resolve(struct op *op, const char *url, bool refresh, actor_fn next)
{
    op->on_actor = next;
    entry_unref(op->stale);
    op->stale = NULL;
    if (!url_ok_str(url)) {
        struct lv_error e;
        lv_error_set(&e, LV_ERR_INVAL, "not an http(s) URL: %.200s", url);
        next(op, NULL, &e);
        return;
    }
    if (!refresh) {
        struct entry *e = known(op->a, url);
        if (e && fresh(op->a, e)) {
            entry_ref(e);
            next(op, e, NULL);
            entry_unref(e);
            return;
        }
        op->stale = entry_ref(e);
    }
    wait_fetch(op, url, resolve_fetched);
}

/* ---- step: the actor owning a key ---- */

static void key_resolved(struct op *op, struct entry *e, const struct lv_error *err)
{
    if (err) {
        op->on_key(op, NULL, err);
    } else if (!e->pub.rec.key_id || strcmp(e->pub.rec.key_id, op->key_id) != 0) {
        struct lv_error e2;
        lv_error_set(&e2, LV_ERR_PROTO, "actor %.200s does not list the key %.200s", e->pub.rec.id,
                     op->key_id);
        op->on_key(op, NULL, &e2);
    } else {
        op->on_key(op, e, NULL);
    }
}

static void key_fetched(struct op *op, const struct fetch_res *r)
{
    struct lv_error e;
    if (r->err) {
        op->on_key(op, NULL, r->err);
    } else if (r->actor) {
        key_resolved(op, r->actor, NULL);
    } else if (strcmp(r->kid, op->key_id) != 0) {
        lv_error_set(&e, LV_ERR_PROTO, "the key document at %.200s is for %.200s", r->url, r->kid);
        op->on_key(op, NULL, &e);
    } else {
        resolve(op, r->kowner, op->refresh, key_resolved);
    }
}

/* The actor owning op->key_id, then next(op, actor or NULL, err);
 * op->from_cache tells whether it came from memory or the store. */
static void find_key(struct op *op, bool refresh, actor_fn next)
{
    struct lv_ap_actors *a = op->a;
    op->on_key = next;
    op->refresh = refresh;
    op->from_cache = false;
    if (!url_ok_str(op->key_id)) {
        struct lv_error e;
        lv_error_set(&e, LV_ERR_PROTO, "key id is not an http(s) URL: %.200s", op->key_id);
        next(op, NULL, &e);
        return;
    }
    if (!refresh) {
        struct entry *e = known_by_key(a, op->key_id);
        if (e) {
            op->from_cache = true;
            char *id = lv_xstrdup(e->pub.rec.id);
            resolve(op, id, false, key_resolved);
            free(id);
            return;
        }
    }
    char *url = lv_xstrndup(op->key_id, strcspn(op->key_id, "#"));
    wait_fetch(op, url, key_fetched);
    free(url);
}

/* ---- step: WebFinger ---- */

static void on_wf_done(json_t *doc, struct lv_http_response *resp, const struct lv_error *err,
                       void *ud)
{
    struct op *op = ud;
    struct lv_ap_actors *a = op->a;
    const char *href = NULL;
    struct lv_error e;
    (void)resp;
    enter(a);
    op->wf_http = NULL;
    if (!err && parse_jrd(doc, &href, &e) != 0)
        err = &e;
    op->on_wf(op, err ? NULL : href, err);
    leave(a);
}

/* The actor URL WebFinger gives for account, then next(op, href, err). */
static void webfinger(struct op *op, const char *account, wf_fn next)
{
    struct lv_ap_actors *a = op->a;
    struct lv_error e;
    char *url = NULL;
    op->on_wf = next;
    if (a->closing) {
        lv_error_set(&e, LV_ERR_CANCELLED, "actor lookups shut down");
        next(op, NULL, &e);
        return;
    }
    if (lv_ap_webfinger_url(account, strlen(account), &url, &e) != 0) {
        next(op, NULL, &e);
        return;
    }
    if (a->wf_http_scheme) {
        char *u = lv_xasprintf("http%s", url + 5); /* "https..." */
        free(url);
        url = u;
    }
    struct lv_http_request q = {
        .url = url, .timeout_ms = a->timeout_ms, .max_response_bytes = JRD_MAX};
    int rc =
        lv_http_client_fetch_json(a->http, &q, LV_HTTP_JSON_JRD, on_wf_done, op, &op->wf_http, &e);
    lv_debug(AREA, "WebFinger %.200s", url);
    free(url);
    if (rc != 0)
        next(op, NULL, &e);
}

/* ---- public: lookups ---- */

static struct op *actor_op(struct lv_ap_actors *a, lv_ap_actor_fn fn, void *ud)
{
    struct op *op = op_new(a, OP_ACTOR, ud);
    op->fn = fn;
    return op;
}

void lv_ap_actors_get(struct lv_ap_actors *a, const char *url, bool refresh, lv_ap_actor_fn fn,
                      void *ud)
{
    struct op *op = actor_op(a, fn, ud);
    enter(a);
    resolve(op, url, refresh, finish_actor);
    op_started(op);
    leave(a);
}

void lv_ap_actors_by_key(struct lv_ap_actors *a, const char *key_id, bool refresh,
                         lv_ap_actor_fn fn, void *ud)
{
    struct op *op = actor_op(a, fn, ud);
    enter(a);
    op->key_id = lv_xstrndup(key_id, LV_AP_URL_MAX + 1);
    find_key(op, refresh, finish_actor);
    op_started(op);
    leave(a);
}

static void ba_resolved(struct op *op, struct entry *e, const struct lv_error *err)
{
    if (!err)
        set_account(op->a, e, op->account);
    finish_actor(op, e, err);
}

static void ba_wf(struct op *op, const char *href, const struct lv_error *err)
{
    if (err)
        finish_actor(op, NULL, err);
    else
        resolve(op, href, false, ba_resolved);
}

static void ba_known(struct op *op, struct entry *e, const struct lv_error *err)
{
    if (!err && e->pub.rec.account && strcmp(e->pub.rec.account, op->account) == 0)
        finish_actor(op, e, NULL);
    else
        webfinger(op, op->account, ba_wf);
}

void lv_ap_actors_by_account(struct lv_ap_actors *a, const char *account, lv_ap_actor_fn fn,
                             void *ud)
{
    struct op *op = actor_op(a, fn, ud);
    enter(a);
    if (account[0] == '@')
        account++;
    op->account = lv_xstrndup(account, LV_AP_ACCOUNT_MAX + 1);
    struct entry *e = NULL;
    if (strlen(op->account) > LV_AP_ACCOUNT_MAX || !strchr(op->account, '@'))
        fail_actor(op, LV_ERR_INVAL, "not an account handle: %.200s", op->account);
    else if ((e = known_by_account(a, op->account))) {
        char *id = lv_xstrdup(e->pub.rec.id); /* e may leave the cache meanwhile */
        resolve(op, id, false, ba_known);
        free(id);
    } else
        webfinger(op, op->account, ba_wf);
    op_started(op);
    leave(a);
}

static void va_wf(struct op *op, const char *href, const struct lv_error *err)
{
    if (err) {
        finish_actor(op, NULL, err);
    } else if (strcmp(href, op->cur->pub.rec.id) != 0) {
        struct lv_error e;
        lv_error_set(&e, LV_ERR_PROTO, "WebFinger for %.200s gives %.200s, not this actor",
                     op->account, href);
        finish_actor(op, NULL, &e);
    } else {
        set_account(op->a, op->cur, op->account);
        finish_actor(op, op->cur, NULL);
    }
}

/* A preferredUsername usable as the user part of a handle. */
static bool user_ok(const char *u)
{
    if (!*u)
        return false;
    for (; *u; u++)
        if ((unsigned char)*u <= 0x20 || *u == 0x7f || *u == '@' || *u == '/')
            return false;
    return true;
}

static void va_resolved(struct op *op, struct entry *e, const struct lv_error *err)
{
    if (err) {
        finish_actor(op, NULL, err);
        return;
    }
    if (e->pub.rec.account) {
        finish_actor(op, e, NULL);
        return;
    }
    const char *pu = e->pub.preferred_username;
    if (!pu || !user_ok(pu)) {
        fail_actor(op, LV_ERR_PROTO, "actor %.200s has no usable preferredUsername", e->pub.rec.id);
        return;
    }
    size_t alen;
    const char *auth = url_authority(e->pub.rec.id, &alen);
    op->account = lv_xasprintf("%s@%.*s", pu, (int)alen, auth);
    op->cur = entry_ref(e);
    webfinger(op, op->account, va_wf);
}

void lv_ap_actors_verify_account(struct lv_ap_actors *a, const char *actor_url, lv_ap_actor_fn fn,
                                 void *ud)
{
    struct op *op = actor_op(a, fn, ud);
    enter(a);
    resolve(op, actor_url, false, va_resolved);
    op_started(op);
    leave(a);
}

/* ---- public: signed requests ---- */

static void vr_keyed(struct op *op, struct entry *e, const struct lv_error *err)
{
    if (err) {
        lv_info(AREA, "signer %.200s: %s", op->key_id, err->msg);
        if (err->code == LV_ERR_CANCELLED)
            finish_verify(op, NULL, 503, lv_xstrdup("shutting down"));
        else
            finish_verify(op, NULL, 401,
                          lv_xasprintf("cannot fetch the signer's key: %s", err->msg));
        return;
    }
    struct lv_error ve = {0};
    int rc = e->pub.key ? lv_httpsig_verify(&op->sig, e->pub.key, LV_HTTPSIG_RETRY_DECODED, &ve)
                        : LV_ERR_PERM;
    if (rc == 0) {
        finish_verify(op, e, 0, NULL);
    } else if (op->from_cache && !op->retried) {
        lv_debug(AREA, "signature by %.200s fails with the known key, refetching", op->key_id);
        op->retried = true;
        find_key(op, true, vr_keyed);
    } else {
        lv_info(AREA, "signature by %.200s does not verify", op->key_id);
        finish_verify(op, NULL, 401,
                      lv_xstrdup(!e->pub.key ? "the signer has no usable key"
                                 : strcmp(ve.cond, "key") == 0
                                     ? "the signer's key is not acceptable"
                                     : "signature does not verify"));
    }
}

/* The reason given for a request lv_httpsig_parse() refused. */
static char *parse_reason(const struct lv_error *e)
{
    if (strcmp(e->cond, "unsigned") == 0)
        return lv_xstrdup("no signature");
    if (strcmp(e->cond, "date") == 0 || strcmp(e->cond, "expired") == 0)
        return lv_xstrdup("date outside the accepted window");
    if (strcmp(e->cond, "digest") == 0)
        return lv_xstrdup("digest does not match the body");
    return lv_xasprintf("bad signature: %s", e->msg);
}

static int parse_request(struct lv_ap_actors *a, struct lv_http_req *req,
                         struct lv_httpsig_sig *sig, struct lv_error *err)
{
    size_t n = lv_http_req_nheaders(req), blen;
    struct lv_httpsig_header *h = lv_xcalloc(n ? n : 1, sizeof(*h));
    for (size_t i = 0; i < n; i++) {
        const char *name = "", *value = "";
        lv_http_req_header_at(req, i, &name, &value);
        h[i] = (struct lv_httpsig_header){name, strlen(name), value, strlen(value)};
    }
    const char *method = lv_http_req_method(req), *target = lv_http_req_target(req);
    const char *host = lv_http_req_host(req), *body = lv_http_req_body(req, &blen);
    struct lv_httpsig_request hr = {
        .method = method,
        .method_len = strlen(method),
        .target = target,
        .target_len = strlen(target),
        .scheme = lv_http_req_scheme(req),
        .authority = host,
        .authority_len = host ? strlen(host) : 0,
        .headers = h,
        .n_headers = n,
        .body = body,
        .body_len = blen,
    };
    int rc = lv_httpsig_parse(&hr, now_s(), a->window_s, sig, err);
    free(h);
    return rc;
}

void lv_ap_actors_verify_request(struct lv_ap_actors *a, struct lv_http_req *req,
                                 lv_ap_verify_fn fn, void *ud)
{
    struct op *op = op_new(a, OP_VERIFY, ud);
    struct lv_error e;
    op->vfn = fn;
    enter(a);
    if (a->closing) {
        finish_verify(op, NULL, 503, lv_xstrdup("shutting down"));
    } else if (parse_request(a, req, &op->sig, &e) != 0) {
        lv_debug(AREA, "refusing a request to %.200s: %s", lv_http_req_target(req), e.msg);
        finish_verify(op, NULL, 401, parse_reason(&e));
    } else {
        op->key_id = lv_xstrndup(op->sig.key_id, LV_AP_URL_MAX + 1);
        find_key(op, false, vr_keyed);
    }
    op_started(op);
    leave(a);
}

/* ---- lifecycle ---- */

int lv_ap_actors_new(uv_loop_t *loop, struct lv_store *store, struct lv_http_client *http,
                     const struct lv_ap_actors_config *cfg, struct lv_ap_actors **out,
                     struct lv_error *err)
{
    static const struct lv_ap_actors_config defaults = {0};
    if (!cfg)
        cfg = &defaults;
    *out = NULL;
    if (!loop || !http)
        return lv_error_set(err, LV_ERR_INVAL, "lv_ap_actors_new: no loop or HTTP client");
    if (!cfg->get_key != !cfg->get_key_id)
        return lv_error_set(err, LV_ERR_CONFIG, "get_key and get_key_id go together");
    if (cfg->webfinger_scheme && strcmp(cfg->webfinger_scheme, "https") != 0 &&
        strcmp(cfg->webfinger_scheme, "http") != 0)
        return lv_error_set(err, LV_ERR_CONFIG, "webfinger_scheme must be http or https");
    struct lv_ap_actors *a = lv_xcalloc(1, sizeof(*a));
    a->loop = loop;
    a->store = store;
    a->http = http;
    a->cache_size = cfg->cache_size ? cfg->cache_size : DEFAULT_CACHE_SIZE;
    a->refresh_s = cfg->refresh_s ? cfg->refresh_s : DEFAULT_REFRESH_S;
    a->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    a->window_s = cfg->window_s > 0 ? cfg->window_s : LV_HTTPSIG_WINDOW_DEFAULT;
    a->wf_http_scheme = cfg->webfinger_scheme && strcmp(cfg->webfinger_scheme, "http") == 0;
    if (cfg->get_key) {
        a->get_key_id = lv_xstrdup(cfg->get_key_id);
        EVP_PKEY_up_ref(cfg->get_key);
        a->get_key = cfg->get_key;
    }
    lv_map_init(&a->by_id);
    lv_map_init(&a->by_key);
    lv_map_init(&a->by_account);
    lv_map_init(&a->fetches);
    a->timer = lv_xmalloc(sizeof(*a->timer));
    uv_timer_init(loop, a->timer);
    a->timer->data = a;
    *out = a;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void destroy(struct lv_ap_actors *a)
{
    a->busy = 1; /* callbacks below may call in; none may destroy again */
    cancel_ready(a);
    if (a->ops)
        lv_error(AREA, "freed with lookups still pending");
    while (a->lru_head)
        cache_remove(a, a->lru_head);
    lv_map_release(&a->by_id);
    lv_map_release(&a->by_key);
    lv_map_release(&a->by_account);
    lv_map_release(&a->fetches);
    EVP_PKEY_free(a->get_key);
    free(a->get_key_id);
    uv_close((uv_handle_t *)a->timer, on_timer_closed);
    free(a);
}

void lv_ap_actors_free(struct lv_ap_actors *a)
{
    if (!a || a->closing)
        return;
    a->closing = true;
    enter(a);
    while (a->fetch_list)
        lv_http_cancel(a->fetch_list->http); /* its waiters get "cancelled" */
    for (;;) {
        struct op *op = a->ops;
        while (op && !op->wf_http)
            op = op->next;
        if (!op)
            break;
        lv_http_cancel(op->wf_http);
    }
    cancel_ready(a);
    leave(a);
}

void lv_ap_actors_counts(struct lv_ap_actors *a, uint64_t *in_memory, int64_t *stored)
{
    if (in_memory)
        *in_memory = a->n_cached;
    if (stored) {
        *stored = -1;
        if (a->store && lv_store_ap_actor_count(a->store, stored, NULL) != 0)
            *stored = -1;
    }
}
