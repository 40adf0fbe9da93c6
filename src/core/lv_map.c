#include "lv_map.h"
#include "lv_mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char tombstone[1];

static uint64_t hash(const char *s)
{
    /* FNV-1a: keys are ids chosen by us or by peers; the table is resized
     * well before clusters matter, and peers can't make us allocate more
     * entries than the configured limits allow. */
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void lv_map_init(struct lv_map *m)
{
    memset(m, 0, sizeof(*m));
}

void lv_map_release(struct lv_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != tombstone)
            free(m->slots[i].key);
    free(m->slots);
    lv_map_init(m);
}

static struct lv_map_slot *lookup(const struct lv_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
        struct lv_map_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != tombstone && strcmp(s->key, key) == 0)
            return s;
    }
}

static void rehash(struct lv_map *m, size_t ncap)
{
    struct lv_map_slot *old = m->slots;
    size_t ocap = m->cap;
    m->slots = lv_xcalloc(ncap, sizeof(*m->slots));
    m->cap = ncap;
    m->used = m->len;
    size_t mask = ncap - 1;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].key || old[i].key == tombstone)
            continue;
        size_t j = hash(old[i].key) & mask;
        while (m->slots[j].key)
            j = (j + 1) & mask;
        m->slots[j] = old[i];
    }
    free(old);
}

void *lv_map_put(struct lv_map *m, const char *key, void *value)
{
    struct lv_map_slot *s = lookup(m, key);
    if (s) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    if ((m->used + 1) * 4 > m->cap * 3) {
        /* Grow when live entries fill half the table, otherwise just sweep
         * the tombstones out. */
        size_t ncap = m->cap ? m->cap : 16;
        if ((m->len + 1) * 2 > ncap)
            ncap *= 2;
        rehash(m, ncap);
    }
    size_t mask = m->cap - 1;
    size_t i = hash(key) & mask;
    while (m->slots[i].key && m->slots[i].key != tombstone)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i].key = lv_xstrdup(key);
    m->slots[i].value = value;
    m->len++;
    return NULL;
}

void *lv_map_get(const struct lv_map *m, const char *key)
{
    struct lv_map_slot *s = lookup(m, key);
    return s ? s->value : NULL;
}

void *lv_map_del(struct lv_map *m, const char *key)
{
    struct lv_map_slot *s = lookup(m, key);
    if (!s)
        return NULL;
    void *v = s->value;
    free(s->key);
    s->key = tombstone;
    s->value = NULL;
    m->len--;
    return v;
}

bool lv_map_next(const struct lv_map *m, size_t *pos, const char **key, void **value)
{
    for (; *pos < m->cap; (*pos)++) {
        struct lv_map_slot *s = &m->slots[*pos];
        if (s->key && s->key != tombstone) {
            *key = s->key;
            *value = s->value;
            (*pos)++;
            return true;
        }
    }
    return false;
}
