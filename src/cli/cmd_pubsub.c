/* li pubsub ...: XEP-0060 items and nodes. */
#include "cli/lv_cli.h"
#include "cli/lv_cli_cmds.h"
#include "cli/lv_cli_pubsub.h"
#include "core/lv_mem.h"
#include "xml/lv_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ITEM_BYTES (16u * 1024 * 1024)

/* ---- shared with li blog (lv_cli_pubsub.h) ---- */

json_t *lv_cli_ps_params(struct lv_cli *cli)
{
    return lv_cli_pubsub_target(cli);
}

/* Adds -i ids, or an RSM request (page size, after) from -a/-b/--index. */
static void add_items_query(struct lv_cli *cli, json_t *p, long page, const char *after)
{
    const char *const *ids;
    size_t n = lv_cli_values(cli, "item", &ids);
    if (n) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_string(ids[i]));
        json_object_set_new(p, "item_ids", arr);
        return;
    }
    json_t *rsm = json_object();
    if (page > 0)
        json_object_set_new(rsm, "max", json_integer(page));
    if (after)
        json_object_set_new(rsm, "after", json_string(after));
    else if (lv_cli_str(cli, "after"))
        json_object_set_new(rsm, "after", json_string(lv_cli_str(cli, "after")));
    if (!after && lv_cli_given(cli, "before"))
        json_object_set_new(
            rsm, "before", json_string(lv_cli_str(cli, "before") ? lv_cli_str(cli, "before") : ""));
    if (!after && lv_cli_given(cli, "index"))
        json_object_set_new(rsm, "index", json_integer(lv_cli_int(cli, "index", 0)));
    json_object_set_new(p, "rsm", rsm);
}

/* Pages through a node: -m is the page size (RSM, default 10), -M the total
 * (-1: everything). A service without RSM answers everything at once; the
 * answer then carries rsm null and paging stops. */
int lv_cli_ps_fetch(struct lv_cli *cli, const char *method, json_t *base, json_t **items,
                    json_t **last_rsm)
{
    long total = lv_cli_int(cli, "max-items", lv_cli_given(cli, "max") ? -2 : 10);
    long page = lv_cli_int(cli, "max", total > 0 ? total : 10);
    *items = json_array();
    *last_rsm = json_null();
    char *after = NULL;
    if (lv_cli_flag(cli, "no-cache"))
        json_object_set_new(base, "use_cache", json_false());
    int rc = 0;
    for (;;) {
        json_t *p = json_deep_copy(base);
        long want = (total > 0 && total - (long)json_array_size(*items) < page)
                        ? total - (long)json_array_size(*items)
                        : page;
        add_items_query(cli, p, want, after);
        /* Services without RSM ignore its max: max_items bounds them too. */
        if (total > 0 && !json_object_get(p, "item_ids"))
            json_object_set_new(p, "max_items", json_integer(total));
        bool by_ids = json_object_get(p, "item_ids") != NULL;
        json_t *res = NULL;
        rc = lv_cli_call(cli, method, p, &res); /* takes p */
        if (rc != 0)
            break;
        json_t *got = json_object_get(res, "items");
        json_array_extend(*items, got);
        json_decref(*last_rsm);
        *last_rsm = json_incref(json_object_get(res, "rsm"));
        const char *last = json_string_value(json_object_get(*last_rsm, "last"));
        bool more = total != -2 && json_is_object(*last_rsm) && last && json_array_size(got) &&
                    (total < 0 || (long)json_array_size(*items) < total) && !by_ids;
        json_int_t count = json_integer_value(json_object_get(*last_rsm, "count"));
        if (count > 0 && (json_int_t)json_array_size(*items) >= count)
            more = false;
        free(after);
        after = more ? lv_xstrdup(last) : NULL;
        json_decref(res);
        if (!more)
            break;
        if (lv_cli_tty(cli))
            fprintf(stderr, "\r%zu items...", json_array_size(*items));
    }
    if (lv_cli_tty(cli) && json_array_size(*items) > (size_t)page)
        fprintf(stderr, "\r");
    free(after);
    json_decref(base);
    if (rc != 0) {
        json_decref(*items);
        json_decref(*last_rsm);
        *items = *last_rsm = NULL;
    }
    return rc;
}

/* Prints "-f KEY VALUE" options as a JSON object (adding "pubsub#" unless
 * full is set). */
static json_t *fields(struct lv_cli *cli, const char *opt, bool full)
{
    const char *const *kv;
    size_t n = lv_cli_values(cli, opt, &kv);
    json_t *o = json_object();
    for (size_t i = 0; i + 1 < n; i += 2) {
        char *k = full || strchr(kv[i], '#') ? lv_xstrdup(kv[i]) : lv_xasprintf("pubsub#%s", kv[i]);
        json_object_set_new(o, k, json_string(kv[i + 1]));
        free(k);
    }
    return o;
}

/* ---- li pubsub set / get / delete ---- */

/* Publishes the XML read from stdin as item id (NULL: a new id), with the
 * -f publish-options; the XML is checked locally first so that an error can
 * point at its line and column. */
static int publish_stdin(struct lv_cli *cli, const char *id, bool updated)
{
    char *xml = lv_cli_read_stdin(MAX_ITEM_BYTES);
    if (!xml)
        return lv_cli_fail(LV_EXIT_DATA, "the item is larger than %u bytes", MAX_ITEM_BYTES);
    struct lv_xml *tree = NULL;
    struct lv_error err;
    struct lv_xml_limits lim = {MAX_ITEM_BYTES, 64, 256, 100000};
    if (lv_xml_parse(xml, strlen(xml), &lim, &tree, &err) != 0) {
        free(xml);
        return lv_cli_fail(LV_EXIT_DATA, "the item is not well-formed XML: %s", err.msg);
    }
    lv_xml_unref(tree);
    json_t *p = lv_cli_ps_params(cli);
    json_object_set_new(p, "xml", json_string(xml));
    free(xml);
    if (id)
        json_object_set_new(p, "item_id", json_string(id));
    if (lv_cli_given(cli, "field")) {
        json_t *opts = fields(cli, "field", lv_cli_flag(cli, "full-prefix"));
        json_object_set_new(p, "options", opts);
    }
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "psItemSend", p, &res);
    const char *got = json_is_string(res) ? json_string_value(res) : id;
    if (rc == 0 && lv_cli_flag(cli, "quiet"))
        printf("%s\n", got ? got : "");
    else if (rc == 0)
        printf("%s item %s\n", updated ? "updated" : "published", got ? got : "");
    json_decref(res);
    return rc;
}

static int run_set(struct lv_cli *cli)
{
    return publish_stdin(cli, lv_cli_arg(cli, 0), false);
}

static int run_get(struct lv_cli *cli)
{
    json_t *items, *rsm;
    int rc = lv_cli_ps_fetch(cli, "psItemsGet", lv_cli_ps_params(cli), &items, &rsm);
    if (rc != 0)
        return rc;
    if (lv_cli_json(cli)) {
        json_t *out = json_pack("{s:O, s:O}", "items", items, "rsm", rsm);
        lv_cli_print_json(out);
        json_decref(out);
    } else {
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *xml = json_string_value(json_object_get(it, "xml"));
            if (strcmp(lv_cli_output(cli), "simple") == 0)
                printf("%s\n", json_string_value(json_object_get(it, "id")));
            else
                printf("%s\n", xml ? xml : "");
        }
    }
    json_decref(items);
    json_decref(rsm);
    return 0;
}

static bool confirm(struct lv_cli *cli, const char *what)
{
    if (lv_cli_flag(cli, "force"))
        return true;
    if (!isatty(0))
        return false;
    printf("%s? [y/N] ", what);
    fflush(stdout);
    char ans[8] = "";
    return fgets(ans, sizeof(ans), stdin) && (ans[0] == 'y' || ans[0] == 'Y');
}

/* -i ITEM or -L (the last item): the id to act on, looked up if needed.
 * Caller frees. */
char *lv_cli_ps_item_id(struct lv_cli *cli, const char *method, int *rc)
{
    *rc = 0;
    if (lv_cli_str(cli, "item"))
        return lv_xstrdup(lv_cli_str(cli, "item"));
    json_t *p = lv_cli_ps_params(cli);
    json_object_set_new(p, "max_items", json_integer(1));
    json_t *res = NULL;
    *rc = lv_cli_call(cli, method, p, &res);
    if (*rc != 0)
        return NULL;
    json_t *items = json_object_get(res, "items");
    json_t *last = json_array_get(items, json_array_size(items) - 1);
    char *id = last ? lv_xstrdup(json_string_value(json_object_get(last, "id"))) : NULL;
    json_decref(res);
    if (!id)
        *rc = lv_cli_fail(LV_EXIT_NOT_FOUND, "the node has no item");
    return id;
}

static int run_delete(struct lv_cli *cli)
{
    if (!lv_cli_str(cli, "item") && !lv_cli_flag(cli, "last-item"))
        return lv_cli_fail(LV_EXIT_BAD_ARG, "which item? use -i ITEM or -L");
    int rc;
    char *id = lv_cli_ps_item_id(cli, "psItemsGet", &rc);
    if (!id)
        return rc;
    char q[300];
    snprintf(q, sizeof(q), "delete item %.200s", id);
    if (!confirm(cli, q)) {
        free(id);
        return lv_cli_fail(LV_EXIT_CANCELLED, "not deleted (confirm with -f)");
    }
    json_t *p = lv_cli_ps_params(cli);
    json_object_set_new(p, "item_id", json_string(id));
    json_object_set_new(p, "notify", json_boolean(!lv_cli_flag(cli, "no-notification")));
    rc = lv_cli_call(cli, "psItemRetract", p, NULL);
    if (rc == 0)
        printf("item %s deleted\n", id);
    free(id);
    return rc;
}

/* li pubsub edit: the item's XML in $EDITOR, published back if changed. */
static int run_edit(struct lv_cli *cli)
{
    int rc;
    char *id = lv_cli_ps_item_id(cli, "psItemsGet", &rc);
    if (!id)
        return rc;
    json_t *p = lv_cli_ps_params(cli);
    json_object_set_new(p, "item_ids", json_pack("[s]", id));
    json_t *res = NULL;
    rc = lv_cli_call(cli, "psItemsGet", p, &res);
    const char *xml =
        json_string_value(json_object_get(json_array_get(json_object_get(res, "items"), 0), "xml"));
    if (rc == 0 && !xml)
        rc = lv_cli_fail(LV_EXIT_NOT_FOUND, "no item %s", id);
    char path[] = "/tmp/li-edit-XXXXXX.xml";
    int fd = rc == 0 ? mkstemps(path, 4) : -1;
    if (rc == 0 && fd < 0)
        rc = lv_cli_fail(LV_EXIT_ERROR, "cannot create a temporary file");
    if (rc == 0) {
        FILE *f = fdopen(fd, "w");
        fputs(xml, f);
        fclose(f);
        rc = lv_cli_edit_file(path) != 0 ? lv_cli_fail(LV_EXIT_CANCELLED, "editor failed") : 0;
    }
    if (rc == 0 && !freopen(path, "r", stdin))
        rc = lv_cli_fail(LV_EXIT_ERROR, "cannot read back %s", path);
    json_decref(res);
    if (rc == 0) {
        rc = publish_stdin(cli, id, true);
        unlink(path);
    }
    free(id);
    return rc;
}

static int run_rename(struct lv_cli *cli)
{
    int rc;
    char *id = lv_cli_ps_item_id(cli, "psItemsGet", &rc);
    if (!id)
        return rc;
    json_t *p = lv_cli_ps_params(cli);
    json_object_set_new(p, "item_id", json_string(id));
    json_object_set_new(p, "new_id", json_string(lv_cli_arg(cli, 0)));
    json_object_set_new(p, "force", json_boolean(lv_cli_flag(cli, "force")));
    rc = lv_cli_call(cli, "psItemRename", p, NULL);
    if (rc == 0)
        printf("item %s renamed to %s\n", id, lv_cli_arg(cli, 0));
    free(id);
    return rc;
}

/* ---- subscriptions and affiliations ---- */

static int print_result(struct lv_cli *cli, const char *method, json_t *p)
{
    json_t *res = NULL;
    int rc = lv_cli_call(cli, method, p, &res);
    if (rc != 0)
        return rc;
    if (lv_cli_json(cli) || !(json_is_object(res) || json_is_array(res))) {
        lv_cli_print_json(res);
    } else if (json_is_object(res)) {
        const char *k;
        json_t *v;
        json_object_foreach(res, k, v) printf("%s\t%s\n", k, json_string_value(v));
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(res, i, v)
        {
            const char *node = json_string_value(json_object_get(v, "node"));
            printf("%s\t%s\t%s\n", node ? node : "", json_string_value(json_object_get(v, "jid")),
                   json_string_value(json_object_get(v, "subscription")));
        }
    }
    json_decref(res);
    return 0;
}

static int run_subscribe(struct lv_cli *cli)
{
    json_t *p = lv_cli_ps_params(cli);
    json_object_set_new(p, "public", json_boolean(lv_cli_flag(cli, "public")));
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "psSubscribe", p, &res);
    if (rc == 0) {
        const char *state = json_string_value(json_object_get(res, "subscription"));
        printf("subscription: %s\n", state ? state : "done");
    }
    json_decref(res);
    return rc;
}

static int run_unsubscribe(struct lv_cli *cli)
{
    return lv_cli_call(cli, "psUnsubscribe", lv_cli_ps_params(cli), NULL);
}

static int run_subscriptions(struct lv_cli *cli)
{
    return print_result(cli, "psSubscriptionsGet", lv_cli_ps_params(cli));
}

static int run_affiliations(struct lv_cli *cli)
{
    return print_result(cli, "psAffiliationsGet", lv_cli_ps_params(cli));
}

/* ---- nodes ---- */

static int run_node_create(struct lv_cli *cli)
{
    json_t *p = lv_cli_ps_params(cli);
    json_object_set_new(p, "config", fields(cli, "field", lv_cli_flag(cli, "full-prefix")));
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "psNodeCreate", p, &res);
    if (rc == 0)
        printf("node %s created\n",
               json_is_string(res) ? json_string_value(res) : lv_cli_str(cli, "node"));
    json_decref(res);
    return rc;
}

static int run_node_delete(struct lv_cli *cli)
{
    if (!confirm(cli, "delete the node and all its items"))
        return lv_cli_fail(LV_EXIT_CANCELLED, "not deleted (confirm with -f)");
    return lv_cli_call(cli, "psNodeDelete", lv_cli_ps_params(cli), NULL);
}

static int run_node_purge(struct lv_cli *cli)
{
    if (!confirm(cli, "delete every item of the node"))
        return lv_cli_fail(LV_EXIT_CANCELLED, "not purged (confirm with -f)");
    return lv_cli_call(cli, "psNodePurge", lv_cli_ps_params(cli), NULL);
}

static int run_node_info(struct lv_cli *cli)
{
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "psNodeConfigurationGet", lv_cli_ps_params(cli), &res);
    if (rc != 0)
        return rc;
    json_t *cfg = json_object_get(res, "config");
    const char *const *keys;
    size_t nkeys = lv_cli_values(cli, "key", &keys);
    if (lv_cli_json(cli)) {
        lv_cli_print_json(cfg);
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(cfg, k, v)
        {
            bool wanted = nkeys == 0;
            for (size_t i = 0; i < nkeys; i++)
                wanted |= strcmp(keys[i], k) == 0 ||
                          (strncmp(k, "pubsub#", 7) == 0 && strcmp(keys[i], k + 7) == 0);
            if (!wanted)
                continue;
            char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("%s: %s\n", k, s ? s : json_string_value(v));
            free(s);
        }
    }
    json_decref(res);
    return 0;
}

static int run_node_set(struct lv_cli *cli)
{
    json_t *p = lv_cli_ps_params(cli);
    json_t *cfg = fields(cli, "field", lv_cli_flag(cli, "full-prefix"));
    if (!json_object_size(cfg)) {
        json_decref(cfg);
        json_decref(p);
        return lv_cli_fail(LV_EXIT_BAD_ARG, "nothing to set: use -f KEY VALUE");
    }
    json_object_set_new(p, "config", cfg);
    return lv_cli_call(cli, "psNodeConfigurationSet", p, NULL);
}

static int run_node_affs_get(struct lv_cli *cli)
{
    return print_result(cli, "psNodeAffiliationsGet", lv_cli_ps_params(cli));
}

static int run_node_affs_set(struct lv_cli *cli)
{
    json_t *p = lv_cli_ps_params(cli);
    json_t *affs = json_object();
    const char *const *kv;
    size_t n = lv_cli_values(cli, "affiliation", &kv);
    for (size_t i = 0; i + 1 < n; i += 2)
        json_object_set_new(affs, kv[i], json_string(kv[i + 1]));
    json_object_set_new(p, "affiliations", affs);
    return lv_cli_call(cli, "psNodeAffiliationsSet", p, NULL);
}

static int run_node_subs_get(struct lv_cli *cli)
{
    return print_result(cli, "psNodeSubscriptionsGet", lv_cli_ps_params(cli));
}

static int run_node_subs_set(struct lv_cli *cli)
{
    json_t *p = lv_cli_ps_params(cli);
    json_t *subs = json_object();
    const char *const *kv;
    size_t n = lv_cli_values(cli, "subscription", &kv);
    for (size_t i = 0; i + 1 < n; i += 2)
        json_object_set_new(subs, kv[i], json_string(kv[i + 1]));
    json_object_set_new(p, "subscriptions", subs);
    return lv_cli_call(cli, "psNodeSubscriptionsSet", p, NULL);
}

/* ---- tables ---- */

static const struct lv_cli_opt set_opts[] = {
    {"quiet", 'q', LV_ARG_FLAG, NULL, "only print the item id"},
    {"field", 'f', LV_ARG_PAIR, "KEY VALUE", "publish-option to set (repeatable)"},
    {"full-prefix", 'F', LV_ARG_FLAG, NULL, "don't prepend \"pubsub#\" to field names"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt delete_opts[] = {
    {"force", 'f', LV_ARG_FLAG, NULL, "delete without confirmation"},
    {"no-notification", 0, LV_ARG_FLAG, NULL, "do not notify subscribers (not recommended)"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt rename_opts[] = {
    {"force", 'f', LV_ARG_FLAG, NULL, "replace an item that already has the new id"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt public_opts[] = {
    {"public", 'P', LV_ARG_FLAG, NULL, "make the subscription public (XEP-0465)"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt force_opts[] = {
    {"force", 'f', LV_ARG_FLAG, NULL, "don't ask for confirmation"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt fields_opts[] = {
    {"field", 'f', LV_ARG_PAIR, "KEY VALUE", "configuration field (repeatable)"},
    {"full-prefix", 'F', LV_ARG_FLAG, NULL, "don't prepend \"pubsub#\" to field names"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt info_opts[] = {
    {"key", 'k', LV_ARG_MULTI, "KEY", "show only this field (repeatable)"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt affs_set_opts[] = {
    {"affiliation", 'a', LV_ARG_PAIR, "JID AFFILIATION",
     "owner, publisher, member, none, outcast (repeatable)"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt subs_set_opts[] = {
    {"subscription", 'S', LV_ARG_PAIR, "JID STATE", "subscribed, none... (repeatable)"},
    LV_CLI_OPT_END,
};

#define PS (LV_G_PROFILE | LV_G_PUBSUB)

static const struct lv_cli_cmd cmds[] = {
    {"pubsub set", "publish an item (XML read from stdin)",
     "The item's payload is read from standard input and must be well-formed XML.", "[ITEM]", 0, 1,
     PS, NULL, set_opts,
     "  echo '<note xmlns=\"urn:example\">hi</note>' | li pubsub set -s pubsub.example.org -n "
     "notes\n",
     run_set},
    {"pubsub get", "get items", NULL, NULL, 0, 0, PS | LV_G_ITEMS | LV_G_OUTPUT | LV_G_CACHE,
     "default|json|simple", NULL,
     "  li pubsub get -s pubsub.example.org -n notes -M 5\n"
     "  li pubsub get -n urn:xmpp:microblog:0 -m 100 -M -1 -O simple\n",
     run_get},
    {"pubsub delete", "delete (retract) an item", NULL, NULL, 0, 0, PS | LV_G_ITEM, NULL,
     delete_opts, "  li pubsub delete -n notes -i 1234 -f\n", run_delete},
    {"pubsub edit", "edit an item's XML in $EDITOR and publish it back", NULL, NULL, 0, 0,
     PS | LV_G_ITEM, NULL, NULL, "  li pubsub edit -n notes -L\n", run_edit},
    {"pubsub rename", "give an item a new id",
     "Copies the item under the new id, then retracts the old one only if the copy succeeded.",
     "NEW_ID", 1, 1, PS | LV_G_ITEM, NULL, rename_opts,
     "  li pubsub rename -n notes -i 1234 shopping-list\n", run_rename},
    {"pubsub subscribe", "subscribe to a node", NULL, NULL, 0, 0, PS, NULL, public_opts,
     "  li pubsub subscribe -s pubsub.example.org -n news\n", run_subscribe},
    {"pubsub unsubscribe", "unsubscribe from a node", NULL, NULL, 0, 0, PS, NULL, NULL, NULL,
     run_unsubscribe},
    {"pubsub subscriptions", "list your subscriptions", NULL, NULL, 0, 0, PS | LV_G_OUTPUT,
     "default|json", public_opts, "  li pubsub subscriptions -s pubsub.example.org\n",
     run_subscriptions},
    {"pubsub affiliations", "list your affiliations", NULL, NULL, 0, 0, PS | LV_G_OUTPUT,
     "default|json", NULL, NULL, run_affiliations},
    {"pubsub node create", "create a node", NULL, NULL, 0, 0, PS, NULL, fields_opts,
     "  li pubsub node create -s pubsub.example.org -n news -f access_model open\n",
     run_node_create},
    {"pubsub node delete", "delete a node", NULL, NULL, 0, 0, PS, NULL, force_opts, NULL,
     run_node_delete},
    {"pubsub node purge", "delete every item of a node", NULL, NULL, 0, 0, PS, NULL, force_opts,
     NULL, run_node_purge},
    {"pubsub node info", "show a node's configuration", NULL, NULL, 0, 0, PS | LV_G_OUTPUT,
     "default|json", info_opts, "  li pubsub node info -n urn:xmpp:microblog:0 -k access_model\n",
     run_node_info},
    {"pubsub node set", "change a node's configuration", NULL, NULL, 0, 0, PS, NULL, fields_opts,
     "  li pubsub node set -n notes -f max_items 100\n", run_node_set},
    {"pubsub node affiliations get", "list a node's affiliations (owner)", NULL, NULL, 0, 0,
     PS | LV_G_OUTPUT, "default|json", NULL, NULL, run_node_affs_get},
    {"pubsub node affiliations set", "change affiliations (owner)", NULL, NULL, 0, 0, PS, NULL,
     affs_set_opts, "  li pubsub node affiliations set -n notes -a pierre@example.org publisher\n",
     run_node_affs_set},
    {"pubsub node subscriptions get", "list a node's subscriptions (owner)", NULL, NULL, 0, 0,
     PS | LV_G_OUTPUT, "default|json", NULL, NULL, run_node_subs_get},
    {"pubsub node subscriptions set", "change subscriptions (owner)", NULL, NULL, 0, 0, PS, NULL,
     subs_set_opts, NULL, run_node_subs_set},
};

void lv_cli_cmds_pubsub(void)
{
    lv_cli_register(cmds, LV_ARRAY_LEN(cmds));
}
