/* lv_migration: a schema migration compiled into the binary (generated from
 * src/store/<backend>/migrations/NNNN_name.sql by tools/embed_sql.py). */
#ifndef LV_MIGRATION_H
#define LV_MIGRATION_H

#include <stddef.h>

struct lv_migration {
    int version;      /* from the file name, strictly increasing */
    const char *name; /* file name */
    const char *sql;  /* statements, applied in one transaction */
};

extern const struct lv_migration lv_sqlite_migrations[];
extern const size_t lv_sqlite_migrations_count;
extern const struct lv_migration lv_postgres_migrations[];
extern const size_t lv_postgres_migrations_count;

#endif
