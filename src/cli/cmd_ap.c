/* li ap ...: the ActivityPub gateway's state and delivery queue. */
#include "cli/lv_cli.h"
#include "cli/lv_cli_cmds.h"
#include "core/lv_mem.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static json_t *gw_params(struct lv_cli *cli)
{
    json_t *p = json_object();
    if (lv_cli_str(cli, "profile"))
        json_object_set_new(p, "profile", json_string(lv_cli_str(cli, "profile")));
    return p;
}

static long long num(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return (long long)json_integer_value(v);
}

static int run_status(struct lv_cli *cli)
{
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "apStatus", gw_params(cli), &res);
    if (rc != 0)
        return rc;
    if (lv_cli_json(cli)) {
        lv_cli_print_json(res);
    } else {
        printf("gateway      %s (%s)\n", json_string_value(json_object_get(res, "jid")),
               json_is_true(json_object_get(res, "online")) ? "online" : "offline");
        printf("base URL     %s\n", json_string_value(json_object_get(res, "base_url")));
        printf("HTTP port    %lld\n", num(res, "http_port", NULL));
        printf("actors       %lld in memory, %lld stored\n", num(res, "actors", "in_memory"),
               num(res, "actors", "stored"));
        printf("follows      %lld fediverse followers, %lld followed from XMPP\n",
               num(res, "followers", NULL), num(res, "following", NULL));
        printf("inbox        %lld accepted, %lld refused since start; %lld pending, %lld "
               "failed\n",
               num(res, "inbox", "accepted"), num(res, "inbox", "refused"),
               num(res, "inbox", "pending"), num(res, "inbox", "failed"));
        printf("deliveries   %lld pending, %lld in flight, %lld failed; %lld delivered since "
               "start\n",
               num(res, "deliveries", "pending"), num(res, "deliveries", "in_flight"),
               num(res, "deliveries", "failed"), num(res, "deliveries", "delivered"));
    }
    json_decref(res);
    return 0;
}

static void fmt_time(long long t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static int run_queue(struct lv_cli *cli)
{
    json_t *res = NULL;
    int rc;
    if (lv_cli_flag(cli, "retry")) {
        rc = lv_cli_call(cli, "apQueueRetry", gw_params(cli), &res);
        json_decref(res);
        res = NULL;
        if (rc != 0)
            return rc;
    }
    json_t *p = gw_params(cli);
    const char *state = lv_cli_str(cli, "state");
    if (state && strcmp(state, "pending") && strcmp(state, "failed") && strcmp(state, "all"))
        return lv_cli_fail(LV_EXIT_BAD_ARG, "--state must be pending, failed or all");
    if (state)
        json_object_set_new(p, "state", json_string(state));
    json_object_set_new(p, "limit", json_integer(lv_cli_int(cli, "limit", 100)));
    rc = lv_cli_call(cli, "apQueue", p, &res);
    if (rc != 0)
        return rc;
    if (lv_cli_json(cli)) {
        lv_cli_print_json(res);
    } else if (json_array_size(res) == 0) {
        printf("the delivery queue is empty\n");
    } else {
        size_t i;
        json_t *d;
        json_array_foreach(res, i, d)
        {
            char next[32];
            fmt_time(num(d, "next_attempt", NULL), next, sizeof(next));
            const char *err = json_string_value(json_object_get(d, "last_error"));
            printf("%-6lld %-7s %2lld attempts  next %s  %s\n       %s\n", num(d, "id", NULL),
                   json_string_value(json_object_get(d, "state")), num(d, "attempts", NULL), next,
                   json_string_value(json_object_get(d, "inbox")),
                   json_string_value(json_object_get(d, "activity_id")));
            if (err)
                printf("       last error: %s\n", err);
        }
    }
    json_decref(res);
    return 0;
}

static const struct lv_cli_opt status_opts[] = {
    {"profile", 'p', LV_ARG_VALUE, "PROFILE",
     "the gateway's component profile (default: the "
     "connected one)"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt queue_opts[] = {
    {"profile", 'p', LV_ARG_VALUE, "PROFILE",
     "the gateway's component profile (default: the "
     "connected one)"},
    {"state", 's', LV_ARG_VALUE, "STATE", "pending, failed or all (default: all)"},
    {"limit", 'l', LV_ARG_INT, "N", "show at most N deliveries (default 100, 0: all)"},
    {"retry", 'r', LV_ARG_FLAG, NULL, "make every pending delivery due now, then show the queue"},
    LV_CLI_OPT_END,
};

static const struct lv_cli_cmd cmds[] = {
    {"ap status", "state of the ActivityPub gateway",
     "Shows the gateway's public base URL and HTTP port, the remote actors it knows, the "
     "follow relations both ways, and the inbox and delivery counters.",
     NULL, 0, 0, LV_G_OUTPUT, "default|json", status_opts, "  li ap status\n", run_status},
    {"ap queue", "outgoing ActivityPub deliveries waiting or given up",
     "Each delivery is one signed POST of an activity to a remote inbox. Failed attempts are "
     "retried with a growing delay; after [component ap-gateway] delivery_give_up seconds, "
     "or at once on 410 Gone, a delivery is given up and stays listed as failed.",
     NULL, 0, 0, LV_G_OUTPUT, "default|json", queue_opts,
     "  li ap queue\n  li ap queue --state failed -O json\n  li ap queue --retry\n", run_queue},
};

void lv_cli_cmds_ap(void)
{
    lv_cli_register(cmds, LV_ARRAY_LEN(cmds));
}
