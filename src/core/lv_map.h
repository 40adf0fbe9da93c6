/* lv_map: a string-keyed hash map (open addressing, linear probing).
 *
 * Keys are copied and owned by the map; values are opaque pointers that stay
 * the caller's. Used for iq tracking, caches and the like. */
#ifndef LV_MAP_H
#define LV_MAP_H

#include <stdbool.h>
#include <stddef.h>

struct lv_map_slot {
    char *key; /* NULL = empty; tombstones use a private marker */
    void *value;
};

struct lv_map {
    struct lv_map_slot *slots;
    size_t cap;  /* power of two, 0 before the first insert */
    size_t len;  /* live entries */
    size_t used; /* live + tombstones */
};

void lv_map_init(struct lv_map *m);
/* Frees the keys and the table (not the values). */
void lv_map_release(struct lv_map *m);
/* Inserts or replaces; returns the previous value or NULL. */
void *lv_map_put(struct lv_map *m, const char *key, void *value);
/* The value, or NULL. */
void *lv_map_get(const struct lv_map *m, const char *key);
/* Removes and returns the value, or NULL. */
void *lv_map_del(struct lv_map *m, const char *key);
/* Iteration: start with *pos = 0; returns false at the end. Entries must not
 * be added while iterating (removing the current one is fine). */
bool lv_map_next(const struct lv_map *m, size_t *pos, const char **key, void **value);

#endif
