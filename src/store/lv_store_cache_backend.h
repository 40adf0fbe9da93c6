/* lv_store_cache_backend: what a storage backend implements for the pubsub
 * cache (private to src/store/ and its tests; everyone else uses
 * lv_store_cache.h).
 *
 * As for lv_store_backend: lv_store_cache.c checks arguments once for every
 * backend (names, sizes, the search query), so an operation here gets only
 * valid input. Search queries arrive parsed and validated as a struct
 * lv_store_cache_query; the backend only renders it (SQL with bound
 * parameters) and checks what only it can: the full-text query syntax. */
#ifndef LV_STORE_CACHE_BACKEND_H
#define LV_STORE_CACHE_BACKEND_H

#include "store/lv_store_cache.h"

/* Bounds of a search query, checked by lv_store_cache_query_parse(). */
#define LV_STORE_CACHE_PATH_MAX 16    /* segments in a path */
#define LV_STORE_CACHE_KEY_MAX 128    /* bytes in a path segment */
#define LV_STORE_CACHE_LIST_MAX 1000  /* values in a list */
#define LV_STORE_CACHE_FILTERS_MAX 32 /* parsed filters */
#define LV_STORE_CACHE_ORDERS_MAX 8   /* order_by entries */
#define LV_STORE_CACHE_TEXT_MAX 4096  /* bytes in fts or a pattern */

enum lv_store_cache_op {
    LV_CQ_EQ,
    LV_CQ_NE,
    LV_CQ_GT,
    LV_CQ_GE,
    LV_CQ_LT,
    LV_CQ_LE,
    LV_CQ_BETWEEN,
    LV_CQ_IN,
    LV_CQ_NOT_IN,
    LV_CQ_LIKE,
    LV_CQ_ILIKE,
    LV_CQ_NOT_LIKE,
    LV_CQ_NOT_ILIKE,
    LV_CQ_OVERLAP,
    LV_CQ_IOVERLAP,
    LV_CQ_DISJOINT,
    LV_CQ_IDISJOINT,
};

/* A filter on parsed data. path is a non-empty array of validated segments
 * (strings of [A-Za-z0-9_:#.-], integers >= 0). value fits op:
 *   EQ NE: a string, number, boolean or null;
 *   GT GE LT LE: a string or number;
 *   BETWEEN: an array of two numbers or two strings;
 *   IN NOT_IN: a non-empty array of strings, numbers or booleans;
 *   LIKE family: a string;
 *   OVERLAP DISJOINT: a non-empty array of strings or numbers;
 *   IOVERLAP IDISJOINT: a non-empty array of strings.
 * Both are borrowed from the query object. */
struct lv_store_cache_cond {
    json_t *path;
    enum lv_store_cache_op op;
    json_t *value;
};

enum lv_store_cache_key {
    LV_CQ_BY_CREATION,
    LV_CQ_BY_MODIFICATION,
    LV_CQ_BY_PUBLISHED,
    LV_CQ_BY_ITEM_ID,
    LV_CQ_BY_RANK, /* only with fts */
    LV_CQ_BY_PATH,
};

struct lv_store_cache_sort {
    enum lv_store_cache_key key;
    json_t *path; /* LV_CQ_BY_PATH: as in a cond */
    bool desc;
};

/* A validated search query. The lists are NULL or non-empty arrays of
 * strings; in types/subtypes, null and "" (both matching a node without
 * type/subtype) are allowed too. Every pointer is borrowed from the query
 * object given to the parser. sorts always has at least one entry. */
struct lv_store_cache_query {
    const char *fts;
    json_t *profiles;
    json_t *services;
    json_t *nodes;
    json_t *types;
    json_t *subtypes;
    json_t *names;
    struct lv_store_cache_cond conds[LV_STORE_CACHE_FILTERS_MAX];
    size_t n_conds;
    struct lv_store_cache_sort sorts[LV_STORE_CACHE_ORDERS_MAX];
    size_t n_sorts;
    int64_t index;
    int64_t limit;
    bool with_payload;
};

/* Parses and validates a search query object (see lv_store_cache_search).
 * LV_ERR_INVAL with a message naming the bad member. out borrows from q,
 * so it is valid as long as q is. */
int lv_store_cache_query_parse(json_t *q, struct lv_store_cache_query *out, struct lv_error *err);

/* The operations, on the backend's state. Outputs are cleared by the
 * dispatch before the call. */
struct lv_store_cache_backend {
    int (*node_get)(void *state, const char *profile, const char *service, const char *node,
                    struct lv_store_cache_node *out, struct lv_error *err);
    int (*node_ensure)(void *state, const char *profile, const char *service, const char *node,
                       const struct lv_store_cache_node_info *info, struct lv_store_cache_node *out,
                       bool *created, struct lv_error *err);
    int (*node_set_info)(void *state, int64_t node_id, const struct lv_store_cache_node_info *info,
                         struct lv_error *err);
    int (*node_set_sync)(void *state, int64_t node_id, enum lv_store_cache_sync sync,
                         const char *error, double retry_at, struct lv_error *err);
    int (*node_list)(void *state, const struct lv_store_cache_node_filter *filter,
                     struct lv_store_cache_node **out, size_t *n, struct lv_error *err);
    int (*node_delete)(void *state, int64_t node_id, struct lv_error *err);
    int (*node_purge)(void *state, int64_t node_id, size_t *deleted, struct lv_error *err);
    int (*items_upsert)(void *state, int64_t node_id, const struct lv_store_cache_item *items,
                        size_t n, struct lv_error *err);
    int (*items_delete)(void *state, int64_t node_id, const char *const *names, size_t n,
                        size_t *deleted, struct lv_error *err);
    /* req->max is resolved (1..LV_STORE_CACHE_PAGE_MAX). */
    int (*items_get)(void *state, int64_t node_id, const struct lv_store_cache_page_req *req,
                     struct lv_store_cache_page *out, struct lv_error *err);
    int (*search)(void *state, const struct lv_store_cache_query *q, json_t **results,
                  struct lv_error *err);
    int (*categories)(void *state, const struct lv_store_cache_node_filter *filter, size_t max,
                      struct lv_store_cache_category **out, size_t *n, struct lv_error *err);
    int (*purge)(void *state, const struct lv_store_cache_purge_filter *filter, size_t *deleted,
                 struct lv_error *err);
    int (*reset)(void *state, struct lv_error *err);
    int (*stats)(void *state, struct lv_store_cache_stats *out, struct lv_error *err);
    /* max_items >= 1, batch within 1..LV_STORE_CACHE_TRIM_BATCH_MAX; *deleted
     * and *excess are cleared and never NULL. */
    int (*trim)(void *state, int64_t max_items, size_t batch, size_t *deleted, int64_t *excess,
                struct lv_error *err);
};

/* ---- helpers shared by the backends (lv_store_cache_query.c) ---- */

/* NFC + Unicode case folding, so that "É" (either composition) and "é"
 * compare equal; every backend folds tags the same way, so their searches
 * agree. Invalid UTF-8 is kept as is. Caller frees. */
char *lv_cq_fold(const char *s, size_t len);
/* lv_cq_fold() of each string of a JSON array. New reference. */
json_t *lv_cq_fold_list(const json_t *list);
/* True when path is the single key "key". */
bool lv_cq_path_is(const json_t *path, const char *key);
/* True when v is a number, or an array of numbers only. */
bool lv_cq_all_numbers(const json_t *v);
/* True when every element of the array v is a string. */
bool lv_cq_all_strings(const json_t *v);
/* True when the query filters on nodes (profiles, services, nodes, types,
 * subtypes). */
bool lv_cq_any_node_filter(const struct lv_store_cache_query *cq);
/* True when the query is ordered by rank only. */
bool lv_cq_only_rank_order(const struct lv_store_cache_query *cq);
/* ioverlap / idisjoint; disjoint / idisjoint. */
bool lv_cq_is_ci_set(enum lv_store_cache_op op);
bool lv_cq_is_negated_set(enum lv_store_cache_op op);
/* The sync state named s (lv_store_cache_sync_name()), NONE if unknown. */
enum lv_store_cache_sync lv_cq_sync_parse(const char *s);
/* The current time, Unix seconds. */
double lv_cq_now(void);

#endif
