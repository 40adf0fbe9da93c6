/* Parsing and validation of pubsub cache search queries (the JSON object
 * documented at lv_store_cache_search), once for every backend.
 *
 * Everything a backend will turn into SQL is checked here: member names,
 * operators, the JSON type of each value, path segments (they become JSON
 * paths, so only a safe alphabet is allowed even though backends bind them),
 * list sizes and text lengths. Messages name the offending member so that a
 * user of `li pubsub cache search` can fix the right option. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "core/lv_mem.h"
#include "store/lv_store_cache_backend.h"

/* What a filter's value must be, by operator family. */
enum vkind {
    V_SCALAR,   /* string, number, boolean or null */
    V_ORDERED,  /* string or number */
    V_PAIR,     /* [a, b], two numbers or two strings */
    V_LIST,     /* non-empty array of strings, numbers or booleans */
    V_PATTERN,  /* string */
    V_SET,      /* non-empty array of strings or numbers */
    V_TEXT_SET, /* non-empty array of strings */
};

static const char *const vkind_text[] = {
    [V_SCALAR] = "a string, number, boolean or null",
    [V_ORDERED] = "a string or a number",
    [V_PAIR] = "an array of two numbers or two strings",
    [V_LIST] = "a non-empty array of strings, numbers or booleans",
    [V_PATTERN] = "a string",
    [V_SET] = "a non-empty array of strings or numbers",
    [V_TEXT_SET] = "a non-empty array of strings",
};

static const struct opdef {
    const char *name;
    enum lv_store_cache_op op;
    enum vkind kind;
} opdefs[] = {
    {"==", LV_CQ_EQ, V_SCALAR},
    {"eq", LV_CQ_EQ, V_SCALAR},
    {"!=", LV_CQ_NE, V_SCALAR},
    {"ne", LV_CQ_NE, V_SCALAR},
    {">", LV_CQ_GT, V_ORDERED},
    {"gt", LV_CQ_GT, V_ORDERED},
    {">=", LV_CQ_GE, V_ORDERED},
    {"ge", LV_CQ_GE, V_ORDERED},
    {"<", LV_CQ_LT, V_ORDERED},
    {"lt", LV_CQ_LT, V_ORDERED},
    {"<=", LV_CQ_LE, V_ORDERED},
    {"le", LV_CQ_LE, V_ORDERED},
    {"between", LV_CQ_BETWEEN, V_PAIR},
    {"in", LV_CQ_IN, V_LIST},
    {"not_in", LV_CQ_NOT_IN, V_LIST},
    {"like", LV_CQ_LIKE, V_PATTERN},
    {"ilike", LV_CQ_ILIKE, V_PATTERN},
    {"not_like", LV_CQ_NOT_LIKE, V_PATTERN},
    {"not_ilike", LV_CQ_NOT_ILIKE, V_PATTERN},
    {"overlap", LV_CQ_OVERLAP, V_SET},
    {"ioverlap", LV_CQ_IOVERLAP, V_TEXT_SET},
    {"disjoint", LV_CQ_DISJOINT, V_SET},
    {"idisjoint", LV_CQ_IDISJOINT, V_TEXT_SET},
};

#define OPERATORS                                                                                  \
    "== != > >= < <= between in not_in like ilike not_like not_ilike overlap ioverlap "            \
    "disjoint idisjoint"

/* User text quoted in messages is cut: a message must stay readable. */
#define QUOTE_MAX 40

/* ---- values ---------------------------------------------------------------- */

static bool is_ordered(const json_t *v)
{
    return json_is_string(v) || json_is_number(v);
}

static bool is_pair(const json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) != 2)
        return false;
    const json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
    return (json_is_number(a) && json_is_number(b)) || (json_is_string(a) && json_is_string(b));
}

static bool list_ok(const json_t *v, enum vkind kind)
{
    size_t i, n = json_array_size(v);
    const json_t *e;
    if (!json_is_array(v) || n == 0 || n > LV_STORE_CACHE_LIST_MAX)
        return false;
    json_array_foreach(v, i, e)
    {
        bool ok = json_is_string(e) || (kind != V_TEXT_SET && json_is_number(e)) ||
                  (kind == V_LIST && json_is_boolean(e));
        if (!ok)
            return false;
    }
    return true;
}

static bool value_ok(const json_t *v, enum vkind kind)
{
    switch (kind) {
    case V_SCALAR:
        return json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v);
    case V_ORDERED:
        return is_ordered(v);
    case V_PAIR:
        return is_pair(v);
    case V_PATTERN:
        return json_is_string(v) && json_string_length(v) <= LV_STORE_CACHE_TEXT_MAX;
    case V_LIST:
    case V_SET:
    case V_TEXT_SET:
        return list_ok(v, kind);
    }
    return false;
}

/* ---- paths ----------------------------------------------------------------- */

static bool key_ok(const json_t *seg)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789_:#.-";
    size_t len = json_string_length(seg);
    const char *s = json_string_value(seg);
    return len > 0 && len <= LV_STORE_CACHE_KEY_MAX && strspn(s, alphabet) == len;
}

static bool segment_ok(const json_t *seg)
{
    if (json_is_integer(seg))
        return json_integer_value(seg) >= 0 && json_integer_value(seg) <= INT32_MAX;
    return json_is_string(seg) && key_ok(seg);
}

static int path_check(const char *where, const json_t *path, struct lv_error *err)
{
    size_t i, n = json_array_size(path);
    const json_t *seg;
    if (!json_is_array(path) || n == 0 || n > LV_STORE_CACHE_PATH_MAX)
        return lv_error_set(err, LV_ERR_INVAL, "%s: bad path: use an array of 1 to %d keys", where,
                            LV_STORE_CACHE_PATH_MAX);
    json_array_foreach(path, i, seg)
    {
        if (segment_ok(seg))
            continue;
        if (json_is_string(seg))
            return lv_error_set(err, LV_ERR_INVAL,
                                "%s: bad path: key \"%.*s\" (use 1 to %d of A-Z a-z 0-9 _ : # . -)",
                                where, QUOTE_MAX, json_string_value(seg), LV_STORE_CACHE_KEY_MAX);
        return lv_error_set(err, LV_ERR_INVAL,
                            "%s: bad path: element %zu is neither a key nor an index >= 0", where,
                            i);
    }
    return 0;
}

/* ---- parsed filters -------------------------------------------------------- */

static const struct opdef *find_op(const char *name)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(opdefs); i++)
        if (strcmp(opdefs[i].name, name) == 0)
            return &opdefs[i];
    return NULL;
}

static int check_members(const char *where, json_t *obj, const char *const *allowed,
                         struct lv_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(allowed[i], key) == 0;
        if (!known)
            return lv_error_set(err, LV_ERR_INVAL, "%s: unknown member \"%.*s\"", where, QUOTE_MAX,
                                key);
    }
    return 0;
}

static int parse_op(const char *where, json_t *f, const struct opdef **def, struct lv_error *err)
{
    json_t *op = json_object_get(f, "op");
    if (!json_is_string(op))
        return lv_error_set(err, LV_ERR_INVAL, "%s: no operator (\"op\": one of %s)", where,
                            OPERATORS);
    *def = find_op(json_string_value(op));
    if (!*def)
        return lv_error_set(err, LV_ERR_INVAL, "%s: unknown operator \"%.*s\" (use one of %s)",
                            where, QUOTE_MAX, json_string_value(op), OPERATORS);
    return 0;
}

static int parse_cond(size_t i, json_t *f, struct lv_store_cache_cond *c, struct lv_error *err)
{
    static const char *const members[] = {"path", "op", "value", NULL};
    const struct opdef *def = NULL;
    char where[32];
    snprintf(where, sizeof(where), "parsed[%zu]", i);
    if (!json_is_object(f))
        return lv_error_set(err, LV_ERR_INVAL, "%s: not an object {path, op, value}", where);
    int rc = check_members(where, f, members, err);
    if (rc == 0)
        rc = parse_op(where, f, &def, err);
    if (rc == 0)
        rc = path_check(where, json_object_get(f, "path"), err);
    if (rc != 0)
        return rc;
    json_t *value = json_object_get(f, "value");
    if (!value || !value_ok(value, def->kind))
        return lv_error_set(err, LV_ERR_INVAL, "%s: the value of \"%s\" must be %s", where,
                            def->name, vkind_text[def->kind]);
    *c = (struct lv_store_cache_cond){json_object_get(f, "path"), def->op, value};
    return 0;
}

static int parse_conds(json_t *v, struct lv_store_cache_query *q, struct lv_error *err)
{
    size_t i;
    json_t *f;
    if (!json_is_array(v) || json_array_size(v) > LV_STORE_CACHE_FILTERS_MAX)
        return lv_error_set(err, LV_ERR_INVAL, "parsed: use an array of at most %d filters",
                            LV_STORE_CACHE_FILTERS_MAX);
    json_array_foreach(v, i, f)
    {
        int rc = parse_cond(i, f, &q->conds[i], err);
        if (rc != 0)
            return rc;
    }
    q->n_conds = json_array_size(v);
    return 0;
}

/* ---- order ----------------------------------------------------------------- */

static const struct {
    const char *name;
    enum lv_store_cache_key key;
} keydefs[] = {
    {"creation", LV_CQ_BY_CREATION},   {"modification", LV_CQ_BY_MODIFICATION},
    {"published", LV_CQ_BY_PUBLISHED}, {"item_id", LV_CQ_BY_ITEM_ID},
    {"rank", LV_CQ_BY_RANK},
};

static int parse_direction(const char *where, json_t *o, bool *desc, struct lv_error *err)
{
    json_t *d = json_object_get(o, "direction");
    const char *s = json_string_value(d);
    *desc = false;
    if (!d)
        return 0;
    if (s && (strcmp(s, "asc") == 0 || strcmp(s, "desc") == 0)) {
        *desc = s[0] == 'd';
        return 0;
    }
    return lv_error_set(err, LV_ERR_INVAL, "%s: direction must be \"asc\" or \"desc\"", where);
}

static int parse_key(const char *where, json_t *o, struct lv_store_cache_sort *s,
                     struct lv_error *err)
{
    json_t *order = json_object_get(o, "order"), *path = json_object_get(o, "path");
    if (!order == !path)
        return lv_error_set(err, LV_ERR_INVAL, "%s: give either \"order\" or \"path\"", where);
    if (path) {
        s->key = LV_CQ_BY_PATH;
        s->path = path;
        return path_check(where, path, err);
    }
    for (size_t i = 0; json_is_string(order) && i < LV_ARRAY_LEN(keydefs); i++)
        if (strcmp(keydefs[i].name, json_string_value(order)) == 0) {
            s->key = keydefs[i].key;
            return 0;
        }
    return lv_error_set(err, LV_ERR_INVAL,
                        "%s: unknown order (use creation, modification, published, item_id or "
                        "rank)",
                        where);
}

static int parse_sort(size_t i, json_t *o, struct lv_store_cache_sort *s, struct lv_error *err)
{
    static const char *const members[] = {"order", "path", "direction", NULL};
    char where[32];
    snprintf(where, sizeof(where), "order_by[%zu]", i);
    if (!json_is_object(o))
        return lv_error_set(err, LV_ERR_INVAL, "%s: not an object", where);
    int rc = check_members(where, o, members, err);
    if (rc == 0)
        rc = parse_key(where, o, s, err);
    if (rc == 0)
        rc = parse_direction(where, o, &s->desc, err);
    return rc;
}

static int parse_sorts(json_t *v, struct lv_store_cache_query *q, struct lv_error *err)
{
    size_t i;
    json_t *o;
    if (!json_is_array(v) || json_array_size(v) > LV_STORE_CACHE_ORDERS_MAX)
        return lv_error_set(err, LV_ERR_INVAL, "order_by: use an array of at most %d orders",
                            LV_STORE_CACHE_ORDERS_MAX);
    json_array_foreach(v, i, o)
    {
        int rc = parse_sort(i, o, &q->sorts[i], err);
        if (rc != 0)
            return rc;
    }
    q->n_sorts = json_array_size(v);
    return 0;
}

/* ---- node filters and scalars ---------------------------------------------- */

static int parse_list(const char *name, json_t *v, bool null_ok, json_t **out, struct lv_error *err)
{
    size_t i, n = json_array_size(v);
    json_t *e;
    if (!json_is_array(v) || n > LV_STORE_CACHE_LIST_MAX)
        return lv_error_set(err, LV_ERR_INVAL, "%s: use an array of at most %d strings", name,
                            LV_STORE_CACHE_LIST_MAX);
    json_array_foreach(v, i, e)
    {
        if (!(json_is_string(e) || (null_ok && json_is_null(e))))
            return lv_error_set(err, LV_ERR_INVAL, "%s: element %zu is not a string", name, i);
    }
    *out = n > 0 ? v : NULL; /* [] is no filter, as in the reference */
    return 0;
}

static int parse_fts(json_t *v, struct lv_store_cache_query *q, struct lv_error *err)
{
    if (!json_is_string(v))
        return lv_error_set(err, LV_ERR_INVAL, "fts: not a string");
    size_t len = json_string_length(v);
    if (len == 0 || len > LV_STORE_CACHE_TEXT_MAX)
        return lv_error_set(err, LV_ERR_INVAL, "full-text query: %s",
                            len ? "too long" : "empty query");
    if (strlen(json_string_value(v)) != len)
        return lv_error_set(err, LV_ERR_INVAL, "full-text query: holds a NUL character");
    q->fts = json_string_value(v);
    return 0;
}

static int parse_int(const char *name, json_t *v, int64_t min, int64_t max, int64_t *out,
                     struct lv_error *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return lv_error_set(err, LV_ERR_INVAL, "%s: must be an integer from %lld to %lld", name,
                            (long long)min, (long long)max);
    *out = json_integer_value(v);
    return 0;
}

static int parse_member(const char *key, json_t *v, struct lv_store_cache_query *q,
                        struct lv_error *err)
{
    if (strcmp(key, "fts") == 0)
        return parse_fts(v, q, err);
    if (strcmp(key, "profiles") == 0)
        return parse_list(key, v, false, &q->profiles, err);
    if (strcmp(key, "services") == 0)
        return parse_list(key, v, false, &q->services, err);
    if (strcmp(key, "nodes") == 0)
        return parse_list(key, v, false, &q->nodes, err);
    if (strcmp(key, "names") == 0)
        return parse_list(key, v, false, &q->names, err);
    if (strcmp(key, "types") == 0)
        return parse_list(key, v, true, &q->types, err);
    if (strcmp(key, "subtypes") == 0)
        return parse_list(key, v, true, &q->subtypes, err);
    if (strcmp(key, "parsed") == 0)
        return parse_conds(v, q, err);
    if (strcmp(key, "order_by") == 0 || strcmp(key, "order-by") == 0)
        return parse_sorts(v, q, err);
    if (strcmp(key, "index") == 0)
        return parse_int(key, v, 0, INT64_MAX, &q->index, err);
    if (strcmp(key, "limit") == 0)
        return parse_int(key, v, 1, LV_STORE_CACHE_SEARCH_LIMIT_MAX, &q->limit, err);
    if (strcmp(key, "with_payload") == 0) {
        if (!json_is_boolean(v))
            return lv_error_set(err, LV_ERR_INVAL, "with_payload: not a boolean");
        q->with_payload = json_is_true(v);
        return 0;
    }
    return lv_error_set(err, LV_ERR_INVAL, "unknown search key \"%.*s\"", QUOTE_MAX, key);
}

static int finish(struct lv_store_cache_query *q, struct lv_error *err)
{
    for (size_t i = 0; i < q->n_sorts; i++)
        if (q->sorts[i].key == LV_CQ_BY_RANK && !q->fts)
            return lv_error_set(err, LV_ERR_INVAL, "order_by[%zu]: rank needs a full-text query",
                                i);
    if (q->n_sorts == 0) {
        q->sorts[0].key = q->fts ? LV_CQ_BY_RANK : LV_CQ_BY_CREATION;
        q->n_sorts = 1;
    }
    return 0;
}

int lv_store_cache_query_parse(json_t *q, struct lv_store_cache_query *out, struct lv_error *err)
{
    const char *key;
    json_t *v;
    memset(out, 0, sizeof(*out));
    out->limit = LV_STORE_CACHE_SEARCH_LIMIT_DEFAULT;
    if (!json_is_object(q))
        return lv_error_set(err, LV_ERR_INVAL, "the search query is not a JSON object");
    json_object_foreach(q, key, v)
    {
        if (json_is_null(v)) /* a member set to null is absent (bridge callers do so) */
            continue;
        int rc = parse_member(key, v, out, err);
        if (rc != 0)
            return rc;
    }
    return finish(out, err);
}

/* ---- helpers shared by the backends ---- */

char *lv_cq_fold(const char *s, size_t len)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &out,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (n < 0) {
        free(out);
        return lv_xstrndup(s, len);
    }
    return (char *)out;
}

json_t *lv_cq_fold_list(const json_t *list)
{
    json_t *out = json_array(), *e;
    size_t i;
    json_array_foreach(list, i, e)
    {
        char *f = lv_cq_fold(json_string_value(e), json_string_length(e));
        json_array_append_new(out, json_string(f));
        free(f);
    }
    return out;
}

bool lv_cq_path_is(const json_t *path, const char *key)
{
    return json_array_size(path) == 1 && json_is_string(json_array_get(path, 0)) &&
           strcmp(json_string_value(json_array_get(path, 0)), key) == 0;
}

bool lv_cq_all_numbers(const json_t *v)
{
    size_t i;
    const json_t *e;
    if (!json_is_array(v))
        return json_is_number(v);
    json_array_foreach(v, i, e)
    {
        if (!json_is_number(e))
            return false;
    }
    return true;
}

bool lv_cq_all_strings(const json_t *v)
{
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return false;
    }
    return true;
}

bool lv_cq_any_node_filter(const struct lv_store_cache_query *cq)
{
    return cq->profiles || cq->services || cq->nodes || cq->types || cq->subtypes;
}

bool lv_cq_only_rank_order(const struct lv_store_cache_query *cq)
{
    for (size_t i = 0; i < cq->n_sorts; i++)
        if (cq->sorts[i].key != LV_CQ_BY_RANK)
            return false;
    return true;
}

bool lv_cq_is_ci_set(enum lv_store_cache_op op)
{
    return op == LV_CQ_IOVERLAP || op == LV_CQ_IDISJOINT;
}

bool lv_cq_is_negated_set(enum lv_store_cache_op op)
{
    return op == LV_CQ_DISJOINT || op == LV_CQ_IDISJOINT;
}

enum lv_store_cache_sync lv_cq_sync_parse(const char *s)
{
    for (int i = LV_STORE_CACHE_SYNC_IN_PROGRESS; s && i <= LV_STORE_CACHE_SYNC_ERROR; i++)
        if (strcmp(s, lv_store_cache_sync_name(i)) == 0)
            return i;
    return LV_STORE_CACHE_SYNC_NONE;
}

double lv_cq_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
