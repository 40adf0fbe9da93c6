/* lv_store_postgres_priv: what the PostgreSQL backend's features share
 * (private to src/store/postgres/). */
#ifndef LV_STORE_POSTGRES_PRIV_H
#define LV_STORE_POSTGRES_PRIV_H

#include <libpq-fe.h>

#include "core/lv_err.h"
#include "store/lv_store_cache_backend.h"

/* Runs one statement with n text parameters (NULL is SQL NULL) on the
 * backend state's connection, resetting a connection found broken first.
 * The result is the caller's to PQclear (never NULL). */
PGresult *lv_store_postgres_query(void *state, const char *sql, int n, const char *const *params);

/* Fills err from the failed result res (LV_ERR_AGAIN for transient
 * failures, LV_ERR_STORE otherwise; the primary message only, after
 * "what: "), clears res and returns the code. */
int lv_store_postgres_fail(void *state, PGresult *res, const char *what, struct lv_error *err);

/* The pubsub cache on PostgreSQL (lv_store_postgres_cache.c). */
extern const struct lv_store_cache_backend lv_store_postgres_cache_backend;

#endif
