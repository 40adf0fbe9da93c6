/* li pubsub cache ...: the backend's pubsub cache. */
#include "cli/lv_cli.h"
#include "cli/lv_cli_cmds.h"
#include "cli/lv_cli_pubsub.h"
#include "core/lv_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static json_t *strings(struct lv_cli *cli, const char *opt)
{
    const char *const *v;
    size_t n = lv_cli_values(cli, opt, &v);
    if (!n)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(v[i]));
    return arr;
}

static void set_if(json_t *o, const char *key, json_t *v)
{
    if (v)
        json_object_set_new(o, key, v);
}

/* "2026-01-31", "2026-01-31T10:00:00Z" or seconds since the epoch. */
static int parse_time(const char *s, double *out)
{
    struct tm tm = {0};
    char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        end = strptime(s, "%Y-%m-%d", &tm);
    if (end && (*end == '\0' || strcmp(end, "Z") == 0)) {
        *out = (double)timegm(&tm);
        return 0;
    }
    char *e;
    double v = strtod(s, &e);
    if (*s && !*e) {
        *out = v;
        return 0;
    }
    return -1;
}

/* {service?, node?, type?, profile?}: which cached nodes a command is about. */
static json_t *node_filter(struct lv_cli *cli)
{
    json_t *p = lv_cli_ps_params(cli);
    json_object_del(p, "uri");
    if (lv_cli_str(cli, "type"))
        json_object_set_new(p, "type", json_string(lv_cli_str(cli, "type")));
    if (lv_cli_str(cli, "profile"))
        json_object_set_new(p, "profile", json_string(lv_cli_str(cli, "profile")));
    return p;
}

/* ---- get / sync ---- */

static void print_node(json_t *n)
{
    const char *type = json_string_value(json_object_get(n, "type"));
    const char *sub = json_string_value(json_object_get(n, "subtype"));
    const char *error = json_string_value(json_object_get(n, "sync_error"));
    printf("%-12s %-28s %-40s %-11s %6lld items  %s%s%s\n",
           json_string_value(json_object_get(n, "profile")),
           json_string_value(json_object_get(n, "service")),
           json_string_value(json_object_get(n, "node")),
           json_string_value(json_object_get(n, "sync_state")),
           (long long)json_integer_value(json_object_get(n, "items")), type ? type : "-",
           sub ? "/" : "", sub ? sub : "");
    if (error)
        printf("%-12s last error: %s\n", "", error);
    json_int_t trimmed = json_integer_value(json_object_get(n, "trimmed"));
    if (trimmed > 0)
        printf("%-12s trimmed: %lld older item(s) dropped by [cache] max_items; reads of them go "
               "to the service\n",
               "", (long long)trimmed);
}

static int run_get(struct lv_cli *cli)
{
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "psCacheGet", node_filter(cli), &res);
    if (rc != 0)
        return rc;
    if (lv_cli_json(cli)) {
        lv_cli_print_json(res);
    } else {
        size_t i;
        json_t *n;
        json_array_foreach(json_object_get(res, "nodes"), i, n) print_node(n);
        json_t *st = json_object_get(res, "stats");
        printf("%lld node(s), %lld item(s) cached; database %.1f MiB\n",
               (long long)json_integer_value(json_object_get(st, "nodes")),
               (long long)json_integer_value(json_object_get(st, "items")),
               (double)json_integer_value(json_object_get(st, "db_bytes")) / (1024.0 * 1024.0));
    }
    json_decref(res);
    return 0;
}

static int run_sync(struct lv_cli *cli)
{
    if (lv_cli_tty(cli))
        fprintf(stderr, "syncing...\n");
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "psCacheSync", lv_cli_ps_params(cli), &res);
    if (rc == 0 && lv_cli_json(cli))
        lv_cli_print_json(res);
    else if (rc == 0)
        print_node(res);
    json_decref(res);
    return rc;
}

/* ---- purge / reset ---- */

static bool confirmed(struct lv_cli *cli, const char *question)
{
    if (lv_cli_flag(cli, "force"))
        return true;
    if (!isatty(0))
        return false;
    printf("%s [y/N] ", question);
    fflush(stdout);
    char ans[8] = "";
    return fgets(ans, sizeof(ans), stdin) && (ans[0] == 'y' || ans[0] == 'Y');
}

static int run_purge(struct lv_cli *cli)
{
    json_t *p = json_object();
    set_if(p, "profiles", strings(cli, "profile"));
    set_if(p, "services", strings(cli, "service"));
    set_if(p, "nodes", strings(cli, "node"));
    set_if(p, "types", strings(cli, "type"));
    set_if(p, "subtypes", strings(cli, "subtype"));
    static const char *const times[][2] = {{"updated-before", "updated_before"},
                                           {"created-before", "created_before"}};
    for (size_t i = 0; i < 2; i++) {
        double t;
        const char *v = lv_cli_str(cli, times[i][0]);
        if (v && parse_time(v, &t) != 0) {
            json_decref(p);
            return lv_cli_fail(LV_EXIT_BAD_ARG, "--%s: not a date: %s", times[i][0], v);
        }
        if (v)
            json_object_set_new(p, times[i][1], json_real(t));
    }
    if (json_object_size(p) == 0 && !confirmed(cli, "purge every cached item?")) {
        json_decref(p);
        return lv_cli_fail(LV_EXIT_CANCELLED, "not purged (confirm with -f)");
    }
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "psCachePurge", p, &res);
    if (rc == 0)
        printf("%lld item(s) purged\n", (long long)json_integer_value(res));
    json_decref(res);
    return rc;
}

static int run_reset(struct lv_cli *cli)
{
    if (!confirmed(cli, "delete the whole pubsub cache?"))
        return lv_cli_fail(LV_EXIT_CANCELLED, "not reset (confirm with -f)");
    return lv_cli_call(cli, "psCacheReset", NULL, NULL);
}

/* ---- search ---- */

/* PATH and VALUE may be JSON ("tags", ["comments",0,"node"], 5, "x", [..]);
 * a PATH that is not JSON is a dotted key path, a VALUE that is not JSON a
 * string. */
static json_t *filter_path(const char *s)
{
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    if (json_is_array(j))
        return j;
    json_decref(j);
    json_t *arr = json_array();
    char *copy = lv_xstrdup(s);
    for (char *tok = strtok(copy, "."); tok; tok = strtok(NULL, "."))
        json_array_append_new(arr, json_string(tok));
    free(copy);
    return arr;
}

static json_t *filter_value(const char *s)
{
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    return j ? j : json_string(s);
}

static json_t *parsed_filters(struct lv_cli *cli)
{
    const char *const *v;
    size_t n = lv_cli_values(cli, "field", &v);
    if (n == 0)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i + 2 < n; i += 3)
        json_array_append_new(arr, json_pack("{s:o, s:s, s:o}", "path", filter_path(v[i]), "op",
                                             v[i + 1], "value", filter_value(v[i + 2])));
    return arr;
}

static json_t *order_by(struct lv_cli *cli)
{
    const char *const *v;
    size_t n = lv_cli_values(cli, "order-by", &v);
    if (n == 0)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char *copy = lv_xstrdup(v[i]);
        char *dir = strchr(copy, ':');
        if (dir)
            *dir++ = '\0';
        json_t *o = strncmp(copy, "field=", 6) == 0
                        ? json_pack("{s:o}", "path", filter_path(copy + 6))
                        : json_pack("{s:s}", "order", copy);
        if (dir)
            json_object_set_new(o, "direction", json_string(dir));
        json_array_append_new(arr, o);
        free(copy);
    }
    return arr;
}

static json_t *search_query(struct lv_cli *cli)
{
    json_t *q = json_object();
    if (lv_cli_str(cli, "fts"))
        json_object_set_new(q, "fts", json_string(lv_cli_str(cli, "fts")));
    set_if(q, "profiles", strings(cli, "profile"));
    set_if(q, "services", strings(cli, "service"));
    set_if(q, "nodes", strings(cli, "node"));
    set_if(q, "types", strings(cli, "type"));
    set_if(q, "subtypes", strings(cli, "subtype"));
    set_if(q, "parsed", parsed_filters(cli));
    set_if(q, "order_by", order_by(cli));
    if (lv_cli_given(cli, "limit"))
        json_object_set_new(q, "limit", json_integer(lv_cli_int(cli, "limit", 20)));
    if (lv_cli_given(cli, "index"))
        json_object_set_new(q, "index", json_integer(lv_cli_int(cli, "index", 0)));
    if (lv_cli_flag(cli, "payload") || strncmp(lv_cli_output(cli), "xml", 3) == 0)
        json_object_set_new(q, "with_payload", json_true());
    return q;
}

static void print_hit(json_t *h, const char *const *keys, size_t nkeys)
{
    if (nkeys) {
        for (size_t k = 0; k < nkeys; k++) {
            json_t *v = json_object_get(h, keys[k]);
            char *s =
                v && !json_is_string(v) ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
            printf("%s: %s\n", keys[k], s ? s : (v ? json_string_value(v) : ""));
            free(s);
        }
        printf("\n");
        return;
    }
    const char *title = json_string_value(json_object_get(h, "title"));
    printf("%s %s %s%s%s\n", json_string_value(json_object_get(h, "pubsub_service")),
           json_string_value(json_object_get(h, "pubsub_node")),
           json_string_value(json_object_get(h, "item_id")), title ? "  " : "", title ? title : "");
}

static int run_search(struct lv_cli *cli)
{
    const char *const *kv;
    if (lv_cli_values(cli, "field", &kv) % 3 != 0)
        return lv_cli_fail(LV_EXIT_BAD_ARG, "-F takes PATH OPERATOR VALUE");
    json_t *res = NULL;
    int rc =
        lv_cli_call(cli, "psCacheSearch", json_pack("{s:o}", "query", search_query(cli)), &res);
    if (rc != 0)
        return rc;
    const char *out = lv_cli_output(cli);
    const char *const *keys;
    size_t nkeys = lv_cli_values(cli, "key", &keys);
    size_t i;
    json_t *h;
    if (lv_cli_json(cli))
        lv_cli_print_json(res);
    else if (strncmp(out, "xml", 3) == 0)
        json_array_foreach(res, i, h)
            printf("%s\n", json_string_value(json_object_get(h, "item_payload")));
    else
        json_array_foreach(res, i, h) print_hit(h, keys, nkeys);
    json_decref(res);
    return 0;
}

static int run_categories(struct lv_cli *cli)
{
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "psCacheCategories", node_filter(cli), &res);
    if (rc != 0)
        return rc;
    if (lv_cli_json(cli)) {
        lv_cli_print_json(res);
    } else {
        size_t i;
        json_t *c;
        json_array_foreach(res, i, c)
            printf("%6lld  %s\n", (long long)json_integer_value(json_object_get(c, "count")),
                   json_string_value(json_object_get(c, "tag")));
    }
    json_decref(res);
    return 0;
}

static const struct lv_cli_opt purge_opts[] = {
    {"service", 's', LV_ARG_MULTI, "JID", "only this service (repeatable)"},
    {"node", 'n', LV_ARG_MULTI, "NODE", "only this node (repeatable)"},
    {"profile", 'p', LV_ARG_MULTI, "PROFILE", "only this profile (repeatable)"},
    {"type", 't', LV_ARG_MULTI, "TYPE", "only nodes of this type, e.g. blog (repeatable)"},
    {"subtype", 'S', LV_ARG_MULTI, "SUBTYPE", "only nodes of this subtype, e.g. comment"},
    {"updated-before", 'b', LV_ARG_VALUE, "DATE", "items last written before DATE"},
    {"created-before", 'C', LV_ARG_VALUE, "DATE", "items cached before DATE"},
    {"force", 'f', LV_ARG_FLAG, NULL, "don't ask for confirmation"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt reset_opts[] = {
    {"force", 'f', LV_ARG_FLAG, NULL, "don't ask for confirmation"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt search_opts[] = {
    {"fts", 'f', LV_ARG_VALUE, "QUERY", "full-text query (words, \"phrases\", prefix*, OR, NOT)"},
    {"profile", 'p', LV_ARG_MULTI, "PROFILE", "only items cached for this profile"},
    {"service", 's', LV_ARG_MULTI, "JID", "only this service (repeatable)"},
    {"node", 'n', LV_ARG_MULTI, "NODE", "only this node (repeatable)"},
    {"type", 't', LV_ARG_MULTI, "TYPE", "only nodes of this type (blog...)"},
    {"subtype", 'S', LV_ARG_MULTI, "SUBTYPE", "only nodes of this subtype (comment...)"},
    {"payload", 'P', LV_ARG_FLAG, NULL, "include the items' XML"},
    {"field", 'F', LV_ARG_TRIPLE, "PATH OP VALUE",
     "filter on parsed data, e.g. -F tags overlap '[\"xmpp\"]' -F published '>=' 1700000000 "
     "(ops: == != > >= < <= between in not_in like ilike not_like not_ilike overlap ioverlap "
     "disjoint idisjoint)"},
    {"order-by", 'o', LV_ARG_MULTI, "ORDER[:DIR]",
     "creation, modification, published, item_id, rank or field=PATH; DIR asc or desc"},
    {"limit", 'l', LV_ARG_INT, "N", "number of results (default 20)"},
    {"index", 'i', LV_ARG_INT, "N", "results to skip"},
    {"key", 'k', LV_ARG_MULTI, "KEY", "show only these keys of each result"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt categories_opts[] = {
    {"type", 't', LV_ARG_VALUE, "TYPE", "only nodes of this type (blog...)"},
    {"profile", 'p', LV_ARG_VALUE, "PROFILE", "only nodes cached for this profile"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt get_opts[] = {
    {"profile", 'p', LV_ARG_VALUE, "PROFILE", "only nodes cached for this profile"},
    LV_CLI_OPT_END,
};

static const struct lv_cli_cmd cmds[] = {
    {"pubsub cache get", "show cached nodes: sync state and item counts", NULL, NULL, 0, 0,
     LV_G_PUBSUB | LV_G_OUTPUT, "default|json", get_opts, "  li pubsub cache get\n", run_get},
    {"pubsub cache sync", "(re)synchronise a node into the cache now", NULL, NULL, 0, 0,
     LV_G_PROFILE | LV_G_PUBSUB | LV_G_OUTPUT, "default|json", NULL,
     "  li pubsub cache sync -s pubsub.example.org -n news\n", run_sync},
    {"pubsub cache purge", "delete cached items", NULL, NULL, 0, 0, 0, NULL, purge_opts,
     "  li pubsub cache purge -t blog -b 2026-01-01\n", run_purge},
    {"pubsub cache reset", "delete the whole cache", NULL, NULL, 0, 0, 0, NULL, reset_opts,
     "  li pubsub cache reset -f\n", run_reset},
    {"pubsub cache search", "search cached items", NULL, NULL, 0, 0, LV_G_OUTPUT,
     "default|json|xml|xml-raw", search_opts,
     "  li pubsub cache search -f 'cafe paris' -t blog\n"
     "  li pubsub cache search -F tags ioverlap '[\"xmpp\"]' -o published:desc -l 5\n",
     run_search},
    {"pubsub cache categories", "tags of cached items, most used first", NULL, NULL, 0, 0,
     LV_G_PUBSUB | LV_G_OUTPUT, "default|json", categories_opts,
     "  li pubsub cache categories -s louise@example.org -n urn:xmpp:microblog:0\n",
     run_categories},
};

void lv_cli_cmds_cache(void)
{
    lv_cli_register(cmds, LV_ARRAY_LEN(cmds));
}
