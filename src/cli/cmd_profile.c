/* li profile ..., li param ... */
#include "cli/lv_cli.h"
#include "cli/lv_cli_cmds.h"
#include "core/lv_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *profile_param(struct lv_cli *cli)
{
    json_t *p = json_object();
    if (lv_cli_str(cli, "profile"))
        json_object_set_new(p, "profile", json_string(lv_cli_str(cli, "profile")));
    return p;
}

static int set_param(struct lv_cli *cli, const char *profile, const char *category,
                     const char *name, const char *value)
{
    return lv_cli_call(cli, "setParam",
                       json_pack("{s:s, s:s, s:s, s:s}", "profile", profile, "category", category,
                                 "name", name, "value", value),
                       NULL);
}

static int run_create(struct lv_cli *cli)
{
    const char *name = lv_cli_arg(cli, 0);
    const char *jid = lv_cli_str(cli, "jid");
    if (!jid)
        return lv_cli_fail(LV_EXIT_BAD_ARG, "a JID is needed: -j JID");
    json_t *p = json_pack("{s:s, s:s}", "profile", name, "jid", jid);
    const char *xpw = lv_cli_str(cli, "xmpp-password");
    const char *pw = lv_cli_str(cli, "password");
    /* The XMPP password defaults to the profile's, as in the reference. */
    if (xpw || pw)
        json_object_set_new(p, "xmpp_password", json_string(xpw ? xpw : pw));
    if (pw)
        json_object_set_new(p, "password", json_string(pw));
    if (lv_cli_str(cli, "component"))
        json_object_set_new(p, "component", json_string(lv_cli_str(cli, "component")));
    if (lv_cli_given(cli, "autoconnect")) {
        const char *a = lv_cli_str(cli, "autoconnect");
        json_object_set_new(p, "autoconnect", json_boolean(!a || strcmp(a, "false") != 0));
    }
    int rc = lv_cli_call(cli, "profileCreate", p, NULL);
    if (rc == 0)
        printf("profile %s created\n", name);
    return rc;
}

static int run_delete(struct lv_cli *cli)
{
    const char *name = lv_cli_arg(cli, 0);
    if (!lv_cli_flag(cli, "force")) {
        if (!isatty(0))
            return lv_cli_fail(LV_EXIT_CANCELLED, "not deleted: confirm with -f");
        printf("delete profile %s and all its data? [y/N] ", name);
        fflush(stdout);
        char ans[8] = "";
        if (!fgets(ans, sizeof(ans), stdin) || (ans[0] != 'y' && ans[0] != 'Y'))
            return lv_cli_fail(LV_EXIT_CANCELLED, "not deleted");
    }
    int rc = lv_cli_call(cli, "profileDelete", json_pack("{s:s}", "profile", name), NULL);
    if (rc == 0)
        printf("profile %s deleted\n", name);
    return rc;
}

static int run_list(struct lv_cli *cli)
{
    bool clients = lv_cli_flag(cli, "clients"), components = lv_cli_flag(cli, "components");
    if (!clients && !components)
        clients = components = true;
    json_t *res = NULL;
    int rc =
        lv_cli_call(cli, "profilesListGet",
                    json_pack("{s:b, s:b}", "clients", clients, "components", components), &res);
    if (rc != 0)
        return rc;
    if (lv_cli_json(cli)) {
        lv_cli_print_json(res);
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(res, i, v) printf("%s\n", json_string_value(v));
    }
    json_decref(res);
    return 0;
}

static int run_default(struct lv_cli *cli)
{
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "profileDefaultGet", NULL, &res);
    if (rc == 0)
        printf("%s\n", json_string_value(res));
    json_decref(res);
    return rc;
}

static int run_connect(struct lv_cli *cli)
{
    /* -c is implied: connecting is the whole point. */
    json_t *p = profile_param(cli);
    if (lv_cli_str(cli, "pwd"))
        json_object_set_new(p, "password", json_string(lv_cli_str(cli, "pwd")));
    return lv_cli_call(cli, "connect", p, NULL);
}

static int run_disconnect(struct lv_cli *cli)
{
    return lv_cli_call(cli, "disconnect", profile_param(cli), NULL);
}

static const char *const info_params[][3] = {
    {"jid", "Connection", "JabberID"},
    {"autoconnect (backend)", "Connection", "autoconnect_backend"},
    {"server", "Connection", "Force server"},
    {"port", "Connection", "Force port"},
    {"check certificate", "Connection", "check_certificate"},
};

static int run_info(struct lv_cli *cli)
{
    json_t *out = json_object();
    int rc = 0;
    for (size_t i = 0; i < LV_ARRAY_LEN(info_params) && rc == 0; i++) {
        json_t *p = profile_param(cli);
        json_object_set_new(p, "category", json_string(info_params[i][1]));
        json_object_set_new(p, "name", json_string(info_params[i][2]));
        json_t *v = NULL;
        rc = lv_cli_call(cli, "getParam", p, &v);
        if (rc == 0)
            json_object_set_new(out, info_params[i][0], v);
    }
    if (rc == 0 && lv_cli_flag(cli, "show-password")) {
        json_t *v = NULL;
        json_t *p = profile_param(cli);
        json_object_set_new(p, "category", json_string("Connection"));
        json_object_set_new(p, "name", json_string("Password"));
        json_object_set_new(p, "reveal", json_true());
        rc = lv_cli_call(cli, "getParam", p, &v);
        if (rc == 0)
            json_object_set_new(out, "XMPP password", v);
    }
    if (rc == 0 && lv_cli_json(cli)) {
        lv_cli_print_json(out);
    } else if (rc == 0) {
        const char *k;
        json_t *v;
        json_object_foreach(out, k, v) printf("%s: %s\n", k, json_string_value(v));
    }
    json_decref(out);
    return rc;
}

static int run_modify(struct lv_cli *cli)
{
    json_t *res = NULL;
    int rc = lv_cli_call(cli, "profileResolve", profile_param(cli), &res);
    if (rc != 0)
        return rc;
    char *name = lv_xstrdup(json_string_value(res));
    json_decref(res);
    if (rc == 0 && lv_cli_str(cli, "jid"))
        rc = set_param(cli, name, "Connection", "JabberID", lv_cli_str(cli, "jid"));
    if (rc == 0 && lv_cli_str(cli, "xmpp-password"))
        rc = set_param(cli, name, "Connection", "Password", lv_cli_str(cli, "xmpp-password"));
    if (rc == 0 && lv_cli_str(cli, "password"))
        rc = set_param(cli, name, "General", "Password", lv_cli_str(cli, "password"));
    if (rc == 0 && lv_cli_flag(cli, "disable-password"))
        rc = set_param(cli, name, "General", "Password", "");
    if (rc == 0 && lv_cli_given(cli, "autoconnect")) {
        const char *a = lv_cli_str(cli, "autoconnect");
        rc = set_param(cli, name, "Connection", "autoconnect_backend",
                       a && strcmp(a, "false") == 0 ? "false" : "true");
    }
    if (rc == 0 && lv_cli_flag(cli, "default"))
        rc = lv_cli_call(cli, "profileDefaultSet", json_pack("{s:s}", "profile", name), NULL);
    free(name);
    return rc;
}

static int run_param_get(struct lv_cli *cli)
{
    json_t *p = profile_param(cli);
    json_object_set_new(p, "category", json_string(lv_cli_arg(cli, 0)));
    json_object_set_new(p, "name", json_string(lv_cli_arg(cli, 1)));
    json_t *v = NULL;
    int rc = lv_cli_call(cli, "getParam", p, &v);
    if (rc == 0)
        printf("%s\n", json_string_value(v));
    json_decref(v);
    return rc;
}

static int run_param_set(struct lv_cli *cli)
{
    json_t *p = profile_param(cli);
    json_object_set_new(p, "category", json_string(lv_cli_arg(cli, 0)));
    json_object_set_new(p, "name", json_string(lv_cli_arg(cli, 1)));
    json_object_set_new(p, "value", json_string(lv_cli_arg(cli, 2)));
    return lv_cli_call(cli, "setParam", p, NULL);
}

static const struct lv_cli_opt create_opts[] = {
    {"password", 'p', LV_ARG_VALUE, "PASSWORD", "password of the profile itself"},
    {"jid", 'j', LV_ARG_VALUE, "JID", "JID of the account (or of the component)"},
    {"xmpp-password", 'x', LV_ARG_VALUE, "PASSWORD",
     "XMPP password, or component secret (default: the profile password)"},
    {"autoconnect", 'A', LV_ARG_OPTVAL, "[true|false]",
     "connect this profile when the backend starts"},
    {"component", 'C', LV_ARG_VALUE, "ENTRY_POINT",
     "make a component profile with this entry point (ap-gateway, file-sharing)"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt delete_opts[] = {
    {"force", 'f', LV_ARG_FLAG, NULL, "delete without confirmation"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt list_opts[] = {
    {"clients", 'c', LV_ARG_FLAG, NULL, "list client profiles"},
    {"components", 'C', LV_ARG_FLAG, NULL, "list component profiles"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt info_opts[] = {
    {"show-password", 0, LV_ARG_FLAG, NULL, "show the XMPP password"},
    LV_CLI_OPT_END,
};
static const struct lv_cli_opt modify_opts[] = {
    {"password", 'w', LV_ARG_VALUE, "PASSWORD", "change the profile's password"},
    {"disable-password", 0, LV_ARG_FLAG, NULL, "remove the profile's password"},
    {"jid", 'j', LV_ARG_VALUE, "JID", "change the JID"},
    {"xmpp-password", 'x', LV_ARG_VALUE, "PASSWORD", "change the XMPP password"},
    {"default", 'D', LV_ARG_FLAG, NULL, "make it the default profile"},
    {"autoconnect", 'A', LV_ARG_OPTVAL, "[true|false]", "connect when the backend starts"},
    LV_CLI_OPT_END,
};

static const struct lv_cli_cmd cmds[] = {
    {"profile create", "create a new profile",
     "An XMPP account connected as a client, or with -C a component (XEP-0114) whose "
     "password is the component secret.",
     "PROFILE", 1, 1, 0, NULL, create_opts,
     "  li profile create louise -j louise@example.org -x secret -A\n"
     "  li profile create ap -j ap.example.org -x component-secret -C ap-gateway -A\n",
     run_create},
    {"profile delete", "delete a profile", "Deletes the profile and everything stored for it.",
     "PROFILE", 1, 1, 0, NULL, delete_opts, "  li profile delete louise -f\n", run_delete},
    {"profile list", "list profiles", NULL, NULL, 0, 0, LV_G_OUTPUT, "default|json", list_opts,
     "  li profile list -C\n", run_list},
    {"profile default", "print the default profile", NULL, NULL, 0, 0, 0, NULL, NULL, NULL,
     run_default},
    {"profile connect", "connect a profile", NULL, NULL, 0, 0, LV_G_PROFILE, NULL, NULL,
     "  li profile connect -p louise\n", run_connect},
    {"profile disconnect", "disconnect a profile", NULL, NULL, 0, 0, LV_G_PROFILE, NULL, NULL, NULL,
     run_disconnect},
    {"profile info", "get information about a profile", NULL, NULL, 0, 0,
     LV_G_PROFILE | LV_G_OUTPUT, "default|json", info_opts, "  li profile info -p louise\n",
     run_info},
    {"profile modify", "modify an existing profile", NULL, NULL, 0, 0, LV_G_PROFILE, NULL,
     modify_opts, "  li profile modify -p louise -x new-xmpp-password\n", run_modify},
    {"param get", "get a parameter value",
     "Parameters are those of the reference: Connection "
     "JabberID, Password, Priority, \"Force server\", \"Force port\", autoconnect_backend, "
     "check_certificate...",
     "CATEGORY NAME", 2, 2, LV_G_PROFILE, NULL, NULL,
     "  li param get Connection JabberID -p louise\n", run_param_get},
    {"param set", "set a parameter value", NULL, "CATEGORY NAME VALUE", 3, 3, LV_G_PROFILE, NULL,
     NULL, "  li param set Connection 'Force server' 127.0.0.1 -p louise\n", run_param_set},
};

void lv_cli_cmds_profile(void)
{
    lv_cli_register(cmds, LV_ARRAY_LEN(cmds));
}
