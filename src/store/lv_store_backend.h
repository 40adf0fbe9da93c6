/* lv_store_backend: the vtable a storage backend implements (private to
 * src/store/ and its tests; everyone else uses lv_store.h).
 *
 * lv_store.c checks the arguments (profile names, NULL pointers, empty keys)
 * once for every backend, then calls these operations with the backend's own
 * state. An operation gets only valid arguments and returns 0 or a negative
 * enum lv_err, filling err when it fails; on failure it leaves output
 * pointers NULL (and counts 0). Ownership is as in lv_store.h. */
#ifndef LV_STORE_BACKEND_H
#define LV_STORE_BACKEND_H

#include "store/lv_migration.h"
#include "store/lv_store.h"

struct lv_store_cache_backend;
struct lv_store_ap_backend;

struct lv_store_backend {
    const char *name; /* "sqlite", for logs */
    /* Opens location (a backend-specific string: a file path, a conninfo
     * URI), applies pending migrations, and gives the new state. */
    int (*open)(const char *location, void **state, struct lv_error *err);
    /* Releases state; never called with NULL. */
    void (*close)(void *state);
    int (*schema_version)(void *state, int *version);

    int (*profile_create)(void *state, const char *name, const char *component,
                          struct lv_error *err);
    int (*profile_delete)(void *state, const char *name, struct lv_error *err);
    int (*profile_get)(void *state, const char *name, struct lv_profile_rec *out,
                       struct lv_error *err);
    int (*profile_list)(void *state, struct lv_profile_rec **out, size_t *n, struct lv_error *err);
    int (*profile_default_get)(void *state, char **name, struct lv_error *err);
    /* name NULL clears the default. */
    int (*profile_default_set)(void *state, const char *name, struct lv_error *err);

    int (*param_get)(void *state, const char *profile, const char *category, const char *name,
                     char **value, struct lv_error *err);
    /* value NULL deletes. */
    int (*param_set)(void *state, const char *profile, const char *category, const char *name,
                     const char *value, struct lv_error *err);
    /* profile NULL: global data. */
    int (*private_get)(void *state, const char *profile, const char *ns, const char *key,
                       char **value, struct lv_error *err);
    int (*private_set)(void *state, const char *profile, const char *ns, const char *key,
                       const char *value, struct lv_error *err);

    /* The pubsub cache's operations (store/lv_store_cache_backend.h), in a
     * table of their own so that each feature's operations stay together. */
    const struct lv_store_cache_backend *cache;
};

/* An open store. Defined here, not in lv_store.c, so that the dispatch of
 * each feature (lv_store.c, lv_store_cache.c, lv_store_ap.c) can reach the
 * backend. ap is the ActivityPub tables' operations
 * (store/lv_store_ap_backend.h), paired with be in lv_store_open(). */
struct lv_store {
    const struct lv_store_backend *be;
    void *state;
    const struct lv_store_ap_backend *ap;
};

/* The SQLite backend (store/sqlite/lv_store_sqlite.c); its open applies
 * lv_sqlite_migrations. */
extern const struct lv_store_backend lv_store_sqlite_backend;

/* Opens the SQLite database at path (":memory:" for a private in-memory one)
 * like lv_store_sqlite_backend.open, but applies the n migrations of migs
 * (sorted by strictly increasing version) instead of the built-in ones. It
 * exists so that tests can check how a failing migration is handled. *state
 * is released with lv_store_sqlite_backend.close. */
int lv_store_sqlite_open_with(const char *path, const struct lv_migration *migs, size_t n,
                              void **state, struct lv_error *err);

#endif
