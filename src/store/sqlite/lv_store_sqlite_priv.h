/* lv_store_sqlite_priv: what the files of the SQLite backend share (private
 * to src/store/sqlite/).
 *
 * lv_store_sqlite.c owns the connection and the profile/parameter tables;
 * lv_store_sqlite_cache.c implements the pubsub cache on the same
 * connection, lv_store_sqlite_ap.c the ActivityPub gateway's tables. */
#ifndef LV_STORE_SQLITE_PRIV_H
#define LV_STORE_SQLITE_PRIV_H

#include <sqlite3.h>

#include "core/lv_err.h"
#include "store/lv_store_cache_backend.h"

/* The connection of a backend state made by lv_store_sqlite_backend.open
 * (borrowed: valid until the store is closed). */
sqlite3 *lv_store_sqlite_db(void *state);

/* The statements lv_store_sqlite_ap.c keeps prepared on a connection. The
 * state holds a pointer to them, NULL until that file makes them on first
 * use (the slot is borrowed: valid until the store is closed); closing the
 * store frees them with lv_store_sqlite_ap_stmts_free() (NULL is a no-op)
 * before it closes the connection, which SQLite refuses while statements
 * are left. */
struct lv_store_sqlite_ap_stmts;
struct lv_store_sqlite_ap_stmts **lv_store_sqlite_ap_stmts(void *state);
void lv_store_sqlite_ap_stmts_free(struct lv_store_sqlite_ap_stmts *c);

/* Registers on a new connection the SQL functions the cache's queries use
 * (lv_fold: Unicode case folding). Called by the opening code before
 * migrations, on every connection. */
int lv_store_sqlite_cache_register(sqlite3 *db, struct lv_error *err);

/* The pubsub cache operations of the SQLite backend. */
extern const struct lv_store_cache_backend lv_store_sqlite_cache_backend;

#endif
