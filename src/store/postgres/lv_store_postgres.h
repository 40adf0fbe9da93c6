/* lv_store_postgres: the PostgreSQL storage backend (private to src/store/
 * and its tests; everyone else uses lv_store.h).
 *
 * Selected by lv_store_open() for "postgresql://" and "postgres://" URIs,
 * which it passes whole to libpq. */
#ifndef LV_STORE_POSTGRES_H
#define LV_STORE_POSTGRES_H

#include <stddef.h>

#include "core/lv_err.h"
#include "store/lv_migration.h"
#include "store/lv_store_backend.h"

/* The backend; its open connects to the URI and applies
 * lv_postgres_migrations. Connection failures are LV_ERR_IO ("cannot
 * connect to PostgreSQL at postgresql://user@host:port/db: <why>"), or
 * LV_ERR_AUTH when the server wants a password the URI does not give; a
 * malformed URI is LV_ERR_CONFIG. No message ever holds the password. */
extern const struct lv_store_backend lv_store_postgres_backend;

/* Opens the database at uri like lv_store_postgres_backend.open, but applies
 * the n migrations of migs (sorted by strictly increasing version) instead of
 * the built-in ones, for tests of how a failing migration is handled.
 * *state is released with lv_store_postgres_backend.close. */
int lv_store_postgres_open_with(const char *uri, const struct lv_migration *migs, size_t n,
                                void **state, struct lv_error *err);

#endif
