/* lv_store: the storage interface.
 *
 * One narrow interface over swappable backends: SQLite (store/sqlite/, the
 * default) now, PostgreSQL later. The backend is chosen in lv_store_open()
 * from the URI and nowhere else. Schema changes are versioned migrations
 * compiled into the binary and applied, in order and in one transaction each,
 * when the store is opened.
 *
 * All functions return 0 or a negative enum lv_err; an optional struct
 * lv_error gets a message. Strings returned in records are owned by the
 * record; release records with the matching _release function. */
#ifndef LV_STORE_H
#define LV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lv_err.h"

struct lv_store;

/* Opens (creating if needed) the store and applies pending migrations.
 * uri: "sqlite:/path/to/file.db", or a plain path (SQLite). ":memory:" is an
 * in-memory SQLite database (tests). "postgresql://user@host:port/db?..."
 * (or "postgres://") is a PostgreSQL database, given whole to libpq; the
 * database must exist. An unreachable server is LV_ERR_IO, "cannot connect
 * to PostgreSQL at ...: <why>"; no message ever holds the URI's password. */
int lv_store_open(const char *uri, struct lv_store **out, struct lv_error *err);
/* Closes the store. NULL is a no-op. */
void lv_store_close(struct lv_store *st);
/* Current schema version (the number of the last applied migration). */
int lv_store_schema_version(struct lv_store *st, int *version);

/* A profile: an XMPP account connected as a client, or a component
 * (component != NULL: its entry point, e.g. "ap-gateway"). */
struct lv_profile_rec {
    int64_t id;
    char *name;
    char *component; /* NULL for a client profile */
};
void lv_profile_rec_release(struct lv_profile_rec *p);

/* True if name is a valid profile name: 1 to LV_PROFILE_NAME_MAX characters
 * of [A-Za-z0-9_.@+-]. Every lv_store_profile_* and param/private function
 * refuses other names with LV_ERR_INVAL. */
#define LV_PROFILE_NAME_MAX 64
bool lv_store_profile_name_valid(const char *name);

/* Creates a profile. LV_ERR_CONFLICT if the name exists, LV_ERR_INVAL for a
 * name lv_store_profile_name_valid() refuses or an empty component. */
int lv_store_profile_create(struct lv_store *st, const char *name, const char *component,
                            struct lv_error *err);
/* Deletes a profile and everything that belongs to it (params, privates).
 * LV_ERR_NOT_FOUND if there is none. */
int lv_store_profile_delete(struct lv_store *st, const char *name, struct lv_error *err);
/* Reads one profile. LV_ERR_NOT_FOUND if there is none. */
int lv_store_profile_get(struct lv_store *st, const char *name, struct lv_profile_rec *out,
                         struct lv_error *err);
/* All profiles, ordered by name. *out is an array of *n records the caller
 * releases (each with lv_profile_rec_release, then free(*out)). */
int lv_store_profile_list(struct lv_store *st, struct lv_profile_rec **out, size_t *n,
                          struct lv_error *err);
/* The default profile's name (caller frees) or LV_ERR_NOT_FOUND. */
int lv_store_profile_default_get(struct lv_store *st, char **name, struct lv_error *err);
/* Makes name the default profile; NULL clears the default. LV_ERR_NOT_FOUND
 * if there is no such profile. Deleting the default profile clears it. */
int lv_store_profile_default_set(struct lv_store *st, const char *name, struct lv_error *err);

/* Profile parameters, by (category, name), as the reference names them:
 * ("Connection", "JabberID"), ("Connection", "Password"), ("Connection",
 * "Force server"), ("Connection", "Force port"), ("Connection",
 * "check_certificate"), ("Connection", "autoconnect_backend")...
 * get: *value is the caller's to free; LV_ERR_NOT_FOUND when unset.
 * set: value NULL deletes (deleting an unset value is not an error).
 * Both: LV_ERR_NOT_FOUND if the profile does not exist; category and name
 * must be non-empty (LV_ERR_INVAL). Values are stored verbatim. */
int lv_store_param_get(struct lv_store *st, const char *profile, const char *category,
                       const char *name, char **value, struct lv_error *err);
int lv_store_param_set(struct lv_store *st, const char *profile, const char *category,
                       const char *name, const char *value, struct lv_error *err);

/* Private key/value data of a module (namespace), per profile (profile NULL
 * = global). Same conventions as params. */
int lv_store_private_get(struct lv_store *st, const char *profile, const char *ns, const char *key,
                         char **value, struct lv_error *err);
int lv_store_private_set(struct lv_store *st, const char *profile, const char *ns, const char *key,
                         const char *value, struct lv_error *err);

#endif
