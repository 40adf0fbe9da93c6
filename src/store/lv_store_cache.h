/* lv_store_cache: storage of the pubsub cache.
 *
 * The cache keeps, per profile, copies of pubsub nodes and their items so
 * that reading a node is served locally, and so that items can be searched
 * (full text, parsed fields, tags) and counted by category. This module is
 * only the storage: deciding what to cache, syncing and live updates belong
 * to src/cache/, which calls these functions.
 *
 * Model:
 *   - a node is identified by (profile, service, node name) and carries what
 *     node analysis found (analyser, type such as "blog", subtype such as
 *     "comment") and its sync state;
 *   - an item is identified by (node, item name). It keeps its raw payload
 *     XML, the plain text that full-text search sees (title, content, tags,
 *     author... never XML tags), its parsed data as a JSON object (XEP-0277
 *     post data for blogs; none for raw items), its own published/updated
 *     dates, and two cache times: created (arrival, kept by upserts) and
 *     modified (last write).
 *   - the tags of an item are the strings of its parsed "tags" member (an
 *     array of strings, or one string); they are indexed for tag filters and
 *     category counts.
 *
 * Times are Unix times in seconds as doubles; 0 stands for "unknown" in
 * published/updated (no real item is dated 1970-01-01T00:00:00Z).
 *
 * As everywhere in lv_store: functions return 0 or a negative enum lv_err
 * and fill the optional err; output strings and JSON belong to the records
 * and are released with the matching _release/_free function. A store is
 * used by one thread at a time. A search over a large cache can take longer
 * than the event loop may block: run it on the thread pool with a store of
 * its own (SQLite's WAL lets it read while the loop's store writes). */
#ifndef LV_STORE_CACHE_H
#define LV_STORE_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/lv_store.h"

/* ---- nodes ----------------------------------------------------------------- */

enum lv_store_cache_sync {
    LV_STORE_CACHE_SYNC_NONE = 0,    /* no sync started (or reset) */
    LV_STORE_CACHE_SYNC_IN_PROGRESS, /* started; resume it after a restart */
    LV_STORE_CACHE_SYNC_COMPLETED,   /* the items are a full copy */
    LV_STORE_CACHE_SYNC_ERROR,       /* failed; see sync_error, sync_retry_at */
};

/* "none", "in_progress", "completed", "error" (the names used in the
 * database and on the bridge). */
const char *lv_store_cache_sync_name(enum lv_store_cache_sync state);

/* A cached node. Strings are owned by the record; NULL when unset. */
struct lv_store_cache_node {
    int64_t id; /* what the item functions take */
    char *profile;
    char *service;
    char *name;
    bool subscribed;
    char *analyser; /* e.g. "XEP-0277" */
    char *type;     /* e.g. "blog" */
    char *subtype;  /* e.g. "comment" */
    char *extra;    /* a JSON object, as text */
    enum lv_store_cache_sync sync_state;
    double sync_state_updated; /* when sync_state last changed */
    char *sync_error;          /* why the last sync failed */
    double sync_retry_at;      /* when to retry a failed sync; 0: none set */
    /* What lv_store_cache_trim() took from the node since it was last
     * purged: how many items, and the newest date among them (in the date
     * order of LV_STORE_CACHE_ORDER_PUBLISHED). The node keeps its sync
     * state: the cache still holds every item of a complete node dated after
     * trimmed_upto, but maybe not those at or before it. 0 and 0 when
     * nothing was trimmed. */
    int64_t trimmed_items;
    double trimmed_upto;
    int64_t item_count; /* filled by lv_store_cache_node_list() only */
};

/* Frees the strings of n (not n itself). NULL is a no-op. */
void lv_store_cache_node_release(struct lv_store_cache_node *n);
/* Releases the n records of v, then frees v. */
void lv_store_cache_nodes_free(struct lv_store_cache_node *v, size_t n);

/* What node analysis found. Strings are borrowed; NULL means unknown.
 * extra must be a JSON object (LV_ERR_INVAL otherwise). */
struct lv_store_cache_node_info {
    bool subscribed;
    const char *analyser;
    const char *type;
    const char *subtype;
    const char *extra;
};

/* Reads the node (profile, service, node). LV_ERR_NOT_FOUND if it is not
 * cached (or the profile does not exist). service and node must be
 * non-empty, profile a valid profile name (LV_ERR_INVAL). */
int lv_store_cache_node_get(struct lv_store *st, const char *profile, const char *service,
                            const char *node, struct lv_store_cache_node *out,
                            struct lv_error *err);

/* Gets the node, creating it with info (NULL: nothing known) when it is not
 * cached yet; an existing node is returned unchanged. *created (may be NULL)
 * tells which happened. A new node has sync state NONE. LV_ERR_NOT_FOUND if
 * the profile does not exist. */
int lv_store_cache_node_ensure(struct lv_store *st, const char *profile, const char *service,
                               const char *node, const struct lv_store_cache_node_info *info,
                               struct lv_store_cache_node *out, bool *created,
                               struct lv_error *err);

/* Replaces what analysis found (all of info's fields, NULL clearing).
 * LV_ERR_NOT_FOUND if there is no such node. */
int lv_store_cache_node_set_info(struct lv_store *st, int64_t node_id,
                                 const struct lv_store_cache_node_info *info, struct lv_error *err);

/* Sets the sync state and stamps sync_state_updated with the current time.
 * error (may be NULL) and retry_at (0: none) are stored as given, so
 * setting another state clears them unless they are passed again. Setting
 * NONE does not delete items: purge the node for a full resync.
 * LV_ERR_NOT_FOUND if there is no such node. */
int lv_store_cache_node_set_sync(struct lv_store *st, int64_t node_id,
                                 enum lv_store_cache_sync state, const char *error, double retry_at,
                                 struct lv_error *err);

/* Which nodes a list or a category count looks at. NULL fields match
 * everything; set fields must match exactly, except that "" as type or
 * subtype matches a node without one. */
struct lv_store_cache_node_filter {
    const char *profile;
    const char *service;
    const char *node;
    const char *type;
    const char *subtype;
    bool by_sync_state; /* also filter on sync_state */
    enum lv_store_cache_sync sync_state;
};

/* Lists the matching nodes (filter NULL: all) with their item_count,
 * ordered by profile, service, node. *out is an array of *n records for
 * lv_store_cache_nodes_free(). */
int lv_store_cache_node_list(struct lv_store *st, const struct lv_store_cache_node_filter *filter,
                             struct lv_store_cache_node **out, size_t *n, struct lv_error *err);

/* Deletes the node and its items. LV_ERR_NOT_FOUND if there is none. */
int lv_store_cache_node_delete(struct lv_store *st, int64_t node_id, struct lv_error *err);

/* Deletes all items of the node, keeping the node and its sync state (a
 * pubsub purge notification empties a node that stays complete), and clears
 * its trimmed_items and trimmed_upto (nothing is missing from an empty
 * copy). *deleted (may be NULL) gets the count. LV_ERR_NOT_FOUND if no such
 * node. */
int lv_store_cache_node_purge(struct lv_store *st, int64_t node_id, size_t *deleted,
                              struct lv_error *err);

/* ---- items ----------------------------------------------------------------- */

/* An item to store. Everything is borrowed. */
struct lv_store_cache_item {
    const char *name; /* the pubsub item id; non-empty */
    const char *xml;  /* the item's payload, serialized; non-NULL */
    const char *text; /* plain text for full-text search; NULL = none */
    json_t *parsed;   /* a JSON object, or NULL for a raw item */
    double published; /* the item's own dates; 0 = unknown */
    double updated;
};

/* Inserts or replaces items of a node, all or none (one transaction). An
 * item already cached keeps its id and created time; modified is the current
 * time for every item written. The tags are rewritten from parsed.
 * LV_ERR_INVAL for an empty name, a NULL xml, a non-object parsed, or the
 * same name twice in one batch; LV_ERR_NOT_FOUND if no such node. */
int lv_store_cache_items_upsert(struct lv_store *st, int64_t node_id,
                                const struct lv_store_cache_item *items, size_t n,
                                struct lv_error *err);

/* Deletes the named items of a node (a retract); names that are not cached
 * are skipped. *deleted (may be NULL) gets how many were. */
int lv_store_cache_items_delete(struct lv_store *st, int64_t node_id, const char *const *names,
                                size_t n, size_t *deleted, struct lv_error *err);

/* A cached item. Owned by the record; parsed is NULL for a raw item. */
struct lv_store_cache_item_rec {
    int64_t id;
    char *name;
    char *xml;
    json_t *parsed;
    double published; /* 0: unknown */
    double updated;   /* 0: unknown */
    double created;
    double modified;
};

/* The order of a node's items. */
enum lv_store_cache_order {
    /* By the item's published date, the arrival time standing in for a
     * missing one: the order of the node's history whatever order items
     * arrived in. */
    LV_STORE_CACHE_ORDER_PUBLISHED = 0,
    LV_STORE_CACHE_ORDER_CREATION,     /* arrival in the cache */
    LV_STORE_CACHE_ORDER_MODIFICATION, /* last write in the cache */
};

#define LV_STORE_CACHE_PAGE_DEFAULT 20
#define LV_STORE_CACHE_PAGE_MAX 1000

/* A page request, as XEP-0059 result set management. Items are listed newest
 * first (in the chosen order) unless oldest_first. At most one of after,
 * before, index (-1: unset) and names may be set:
 *   after X   the page following item X;
 *   before X  the page preceding item X; before "" is the last page;
 *   index i   the page starting at position i (0 = first);
 *   names     exactly these items (n_names of them), those cached, in
 *             order; max still applies.
 * max 0 means LV_STORE_CACHE_PAGE_DEFAULT; above LV_STORE_CACHE_PAGE_MAX is
 * LV_ERR_INVAL. */
struct lv_store_cache_page_req {
    enum lv_store_cache_order order;
    bool oldest_first;
    size_t max;
    const char *after;
    const char *before;
    int64_t index;
    const char *const *names;
    size_t n_names;
};

/* Initializes req to the first page of max items, newest first by date. */
void lv_store_cache_page_req_init(struct lv_store_cache_page_req *req, size_t max);

/* A page of items with its result set: count is the number of items in the
 * node (not in the page), index the position of the first item of the page
 * in the whole list, first/last the names of the page's first and last
 * items (NULL for an empty page). */
struct lv_store_cache_page {
    struct lv_store_cache_item_rec *items;
    size_t n;
    int64_t count;
    int64_t index;
    char *first;
    char *last;
};

/* Frees the page's content (not the page struct). NULL is a no-op. */
void lv_store_cache_page_release(struct lv_store_cache_page *page);

/* Reads a page of the node's items. LV_ERR_NOT_FOUND if the node or the
 * after/before item is not cached (XEP-0059's item-not-found), LV_ERR_INVAL
 * for a bad request. */
int lv_store_cache_items_get(struct lv_store *st, int64_t node_id,
                             const struct lv_store_cache_page_req *req,
                             struct lv_store_cache_page *out, struct lv_error *err);

/* ---- search ---------------------------------------------------------------- */

#define LV_STORE_CACHE_SEARCH_LIMIT_DEFAULT 20
#define LV_STORE_CACHE_SEARCH_LIMIT_MAX 1000
/* Ranking by relevance costs a few microseconds per matching item: a search
 * ordered by rank alone, without other filters, ranks at most this many
 * matches (or index + limit, if more), the most recently cached ones. */
#define LV_STORE_CACHE_RANK_WINDOW 5000

/* Searches the items of every cached node. query is a JSON object (borrowed)
 * with these optional members, as the reference's cache search takes them:
 *   fts        a full-text query (FTS5 syntax on both backends: words,
 *              "phrases", prefix*, AND OR NOT, NEAR, parentheses; on
 *              PostgreSQL it becomes a tsquery and NEAR only requires all
 *              its phrases). Accents and case are ignored: "cafe" finds
 *              "Café" (on PostgreSQL, with the unaccent extension). A query matching more
 *              than LV_STORE_CACHE_RANK_WINDOW items (a very common word)
 *              and ordered by rank alone ranks the most recent of them.
 *   profiles, services, nodes, names   arrays of strings: the node's
 *              profile, service and name, the item's name.
 *   types, subtypes   arrays of strings; null or "" matches a node without
 *              type/subtype.
 *   parsed     array of filters {path, op, value} on the parsed data:
 *     path     array of object keys (strings of [A-Za-z0-9_:#.-]) and array
 *              indexes (integers >= 0), e.g. ["tags"], ["comments", 0, "node"].
 *     op       == != > >= < <= (or eq ne gt ge lt le), between [a, b]
 *              (inclusive), in / not_in [values], like / ilike / not_like /
 *              not_ilike "pattern" (% any run, _ one character, \ escapes;
 *              i-versions ignore case, Unicode-wide), overlap / disjoint
 *              [values] (the array at path shares / shares no element with
 *              values), ioverlap / idisjoint (ignoring case).
 *     An item without the field never matches a comparison, in, like or
 *     their negations; for disjoint/idisjoint it has no element, so it
 *     matches. == null and != null test whether the field is there.
 *   order_by   (also "order-by") array of {order: "creation" |
 *              "modification" | "published" | "item_id" | "rank"} or
 *              {path: [...]}, each with an optional direction "asc"
 *              (default) or "desc". "rank" needs fts; asc is best first.
 *              Default: rank with fts, else creation.
 *   index      results to skip (>= 0, default 0).
 *   limit      results to return (1 to LV_STORE_CACHE_SEARCH_LIMIT_MAX,
 *              default LV_STORE_CACHE_SEARCH_LIMIT_DEFAULT).
 *   with_payload  true to add each item's XML.
 * *results (the caller's, json_decref) is an array of objects: the item's
 * parsed data plus pubsub_service, pubsub_node, node_profile, item_id,
 * published and updated (numbers, or null when unknown), rank (with fts; the
 * lower the better) and item_payload (with with_payload).
 * LV_ERR_INVAL, with a message naming the culprit, for an unknown member,
 * operator or order, a bad path, a value of the wrong JSON type, and a
 * full-text query that does not parse ("full-text query: unbalanced
 * quotes"). */
int lv_store_cache_search(struct lv_store *st, json_t *query, json_t **results,
                          struct lv_error *err);

/* ---- categories ------------------------------------------------------------ */

/* A tag and the number of items carrying it. Tags that differ only by case
 * count together; tag is one of their spellings. */
struct lv_store_cache_category {
    char *tag;
    int64_t count;
};

/* Frees the n categories of v and v. */
void lv_store_cache_categories_free(struct lv_store_cache_category *v, size_t n);

/* Counts the tags of the items of the nodes matching filter (NULL: all),
 * most used first (ties by tag). max 0: all. *out is an array of *n
 * categories for lv_store_cache_categories_free(). */
int lv_store_cache_categories(struct lv_store *st, const struct lv_store_cache_node_filter *filter,
                              size_t max, struct lv_store_cache_category **out, size_t *n,
                              struct lv_error *err);

/* ---- maintenance ----------------------------------------------------------- */

/* Which items lv_store_cache_purge() deletes: each list is NULL (no filter)
 * or a NULL-terminated array of values, any of which may match; in types
 * and subtypes "" matches a node without type/subtype. The two times (0: no
 * filter) select items that arrived (created) or were last written
 * (modified; li's --updated-before) before them. */
struct lv_store_cache_purge_filter {
    const char *const *profiles;
    const char *const *services;
    const char *const *nodes;
    const char *const *types;
    const char *const *subtypes;
    double created_before;
    double modified_before;
};

/* Deletes the matching items (filter NULL: all), keeping the nodes and their
 * sync states. *deleted (may be NULL) gets the count. */
int lv_store_cache_purge(struct lv_store *st, const struct lv_store_cache_purge_filter *filter,
                         size_t *deleted, struct lv_error *err);

/* Deletes every cached node and item, of every profile. */
int lv_store_cache_reset(struct lv_store *st, struct lv_error *err);

struct lv_store_cache_stats {
    int64_t nodes;
    int64_t items;
    int64_t db_bytes; /* the whole database, cache or not */
};

/* Counts nodes and items, and measures the database. The item count is kept
 * by the database as items come and go: reading it costs no scan. */
int lv_store_cache_stats(struct lv_store *st, struct lv_store_cache_stats *out,
                         struct lv_error *err);

/* ---- the bound ([cache] max_items) ----------------------------------------- */

#define LV_STORE_CACHE_TRIM_BATCH_MAX 100000

/* One step of bounding the cache to max_items items (all nodes, all
 * profiles): when it holds more, deletes the oldest of them, at most batch
 * (1 to LV_STORE_CACHE_TRIM_BATCH_MAX) in one transaction, so that a caller
 * on an event loop can keep each step short and serve other work between
 * steps. Oldest is in the date order of LV_STORE_CACHE_ORDER_PUBLISHED (the
 * item's published date, its arrival time standing in; ties by arrival),
 * the order reads use: what a node keeps is always the newest part of its
 * list. Each node that loses items keeps its sync state and records the loss
 * (trimmed_items, trimmed_upto). *deleted (may be NULL) gets the number of
 * items deleted, *excess (may be NULL) the number still over max_items after
 * the step (0: within the bound). max_items 0 means no bound: nothing is
 * deleted. */
int lv_store_cache_trim(struct lv_store *st, int64_t max_items, size_t batch, size_t *deleted,
                        int64_t *excess, struct lv_error *err);

#endif
