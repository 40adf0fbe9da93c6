#include "lv_profile.h"
#include "core/lv_mem.h"
#include "xmpp/lv_jid.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct lv_param_def params[] = {
    {"General", "Password", "password", "", 0, 0, "Password of the profile itself"},
    {"Connection", "JabberID", "string", "", 0, 0, "JID the profile connects as"},
    {"Connection", "Password", "password", "", 0, 0, "XMPP password, or component secret"},
    {"Connection", "Priority", "int", "50", -128, 127, "Presence priority"},
    {"Connection", "Force server", "string", "", 0, 0,
     "Host to connect to instead of the one found from the JID's domain"},
    {"Connection", "Force port", "int", "", 1, 65535, "Port to connect to (with Force server)"},
    {"Connection", "autoconnect_backend", "bool", "false", 0, 0,
     "Connect the profile when the backend starts"},
    {"Connection", "autoconnect", "bool", "true", 0, 0,
     "Connect the profile when a frontend starts its session"},
    {"Connection", "autodisconnect", "bool", "false", 0, 0,
     "Disconnect the profile when its last frontend leaves"},
    {"Connection", "check_certificate", "bool", "true", 0, 0,
     "Require TLS and check the server's certificate"},
};

static const char *const entry_points[] = {"ap-gateway", "file-sharing"};

bool lv_profile_entry_point_known(const char *name)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(entry_points); i++)
        if (strcmp(name, entry_points[i]) == 0)
            return true;
    return false;
}

static const struct lv_param_def *find_param(const char *category, const char *name)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(params); i++)
        if (strcmp(params[i].category, category) == 0 && strcmp(params[i].name, name) == 0)
            return &params[i];
    return NULL;
}

static int check_value(const struct lv_param_def *p, const char *value, struct lv_error *err)
{
    if (strcmp(p->type, "bool") == 0) {
        bool b;
        if (lv_config_parse_bool(value, &b) != 0)
            return lv_error_set(err, LV_ERR_INVAL, "%s/%s expects true or false, not \"%s\"",
                                p->category, p->name, value);
    } else if (strcmp(p->type, "int") == 0 && *value) {
        char *end;
        long v = strtol(value, &end, 10);
        if (*end || v < p->min || v > p->max)
            return lv_error_set(err, LV_ERR_INVAL, "%s/%s expects an integer from %ld to %ld",
                                p->category, p->name, p->min, p->max);
    }
    return 0;
}

int lv_profile_param_set(struct lv_store *st, const char *profile, const char *category,
                         const char *name, const char *value, struct lv_error *err)
{
    const struct lv_param_def *p = find_param(category, name);
    if (!p)
        return lv_error_set(err, LV_ERR_NOT_FOUND, "unknown parameter %s/%s", category, name);
    if (value && check_value(p, value, err) != 0)
        return LV_ERR_INVAL;
    if (value && strcmp(p->type, "bool") == 0) {
        bool b = false;
        lv_config_parse_bool(value, &b);
        value = b ? "true" : "false"; /* stored as the reference stores them */
    }
    return lv_store_param_set(st, profile, category, name, value, err);
}

int lv_profile_param_get(struct lv_store *st, const char *profile, const char *category,
                         const char *name, char **value, struct lv_error *err)
{
    const struct lv_param_def *p = find_param(category, name);
    if (!p)
        return lv_error_set(err, LV_ERR_NOT_FOUND, "unknown parameter %s/%s", category, name);
    struct lv_profile_rec rec;
    int rc = lv_store_profile_get(st, profile, &rec, err);
    if (rc != 0)
        return rc;
    lv_profile_rec_release(&rec);
    rc = lv_store_param_get(st, profile, category, name, value, err);
    if (rc == LV_ERR_NOT_FOUND) {
        lv_error_clear(err);
        *value = lv_xstrdup(p->def);
        return 0;
    }
    return rc;
}

bool lv_profile_param_bool(struct lv_store *st, const char *profile, const char *category,
                           const char *name)
{
    char *v = NULL;
    bool b = false;
    if (lv_profile_param_get(st, profile, category, name, &v, NULL) == 0)
        lv_config_parse_bool(v, &b);
    free(v);
    return b;
}

int lv_profile_resolve(struct lv_store *st, const char *name, char **out, struct lv_error *err)
{
    if (!name || !*name || strcmp(name, "default") == 0 || strcmp(name, "@DEFAULT@") == 0) {
        int rc = lv_store_profile_default_get(st, out, err);
        if (rc == LV_ERR_NOT_FOUND)
            return lv_error_set(err, LV_ERR_NOT_FOUND,
                                "no default profile: create one, or name one with -p");
        return rc;
    }
    struct lv_profile_rec rec;
    int rc = lv_store_profile_get(st, name, &rec, err);
    if (rc != 0)
        return rc;
    *out = rec.name;
    rec.name = NULL;
    lv_profile_rec_release(&rec);
    return 0;
}

static int check_create_args(const char *jid, const char *component, struct lv_error *err)
{
    struct lv_jid j;
    if (!jid || !*jid)
        return lv_error_set(err, LV_ERR_INVAL, "a JID is needed (-j JID)");
    if (lv_jid_parse_str(jid, &j, err) != 0)
        return LV_ERR_INVAL;
    bool has_local = j.local != NULL;
    lv_jid_release(&j);
    if (component && *component && !lv_profile_entry_point_known(component))
        return lv_error_set(err, LV_ERR_INVAL,
                            "unknown component entry point \"%s\" (known: ap-gateway, "
                            "file-sharing)",
                            component);
    if ((!component || !*component) && !has_local)
        return lv_error_set(err, LV_ERR_INVAL,
                            "%s has no user part: a client profile needs user@domain "
                            "(for a component, give its entry point with -C)",
                            jid);
    return 0;
}

int lv_profile_create(struct lv_store *st, const char *name, const char *jid, const char *password,
                      const char *component, int autoconnect, struct lv_error *err)
{
    int rc = check_create_args(jid, component, err);
    if (rc != 0)
        return rc;
    rc = lv_store_profile_create(st, name, component && *component ? component : NULL, err);
    if (rc != 0)
        return rc;
    rc = lv_profile_param_set(st, name, "Connection", "JabberID", jid, err);
    if (rc == 0 && password)
        rc = lv_profile_param_set(st, name, "Connection", "Password", password, err);
    if (rc == 0 && autoconnect >= 0)
        rc = lv_profile_param_set(st, name, "Connection", "autoconnect_backend",
                                  autoconnect ? "true" : "false", err);
    char *def = NULL;
    if (rc == 0 && lv_store_profile_default_get(st, &def, NULL) == LV_ERR_NOT_FOUND)
        rc = lv_store_profile_default_set(st, name, err);
    free(def);
    if (rc != 0)
        lv_store_profile_delete(st, name, NULL);
    return rc;
}

int lv_profile_delete(struct lv_store *st, const char *name, struct lv_error *err)
{
    return lv_store_profile_delete(st, name, err);
}

/* The reference keeps a stable resource per profile so that reconnections
 * don't multiply sessions: "libervia.<random>", made once and stored. */
static char *stable_resource(struct lv_store *st, const char *profile)
{
    char *res = NULL;
    if (lv_store_private_get(st, profile, "core:xmpp", "resource", &res, NULL) == 0)
        return res;
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    unsigned char rnd[12];
    RAND_bytes(rnd, sizeof(rnd));
    char suffix[sizeof(rnd) + 1];
    for (size_t i = 0; i < sizeof(rnd); i++)
        suffix[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    suffix[sizeof(rnd)] = '\0';
    res = lv_xasprintf("libervia.%s", suffix);
    lv_store_private_set(st, profile, "core:xmpp", "resource", res, NULL);
    return res;
}

static void limits_from(const struct lv_config *cfg, struct lv_xmpp_config *x)
{
    x->limits.max_stanza_bytes = (size_t)lv_config_int(cfg, "xmpp", "max_stanza_bytes");
    x->limits.max_depth = (unsigned)lv_config_int(cfg, "xmpp", "max_depth");
    x->limits.max_attrs = (unsigned)lv_config_int(cfg, "xmpp", "max_attrs");
    x->limits.max_children = (unsigned)lv_config_int(cfg, "xmpp", "max_children");
    x->preauth_limits.max_stanza_bytes =
        (size_t)lv_config_int(cfg, "xmpp", "preauth_max_stanza_bytes");
    x->iq_timeout_ms = (unsigned)lv_config_int(cfg, "xmpp", "iq_timeout") * 1000;
    x->connect_timeout_ms = (unsigned)lv_config_int(cfg, "xmpp", "connect_timeout") * 1000;
    x->reconnect_min_ms = (unsigned)lv_config_int(cfg, "xmpp", "reconnect_min_delay") * 1000;
    x->reconnect_max_ms = (unsigned)lv_config_int(cfg, "xmpp", "reconnect_max_delay") * 1000;
    x->ping_interval_ms = (unsigned)lv_config_int(cfg, "xmpp", "ping_interval") * 1000;
    x->ca_file = lv_config_str(cfg, "xmpp", "ca_file");
}

int lv_profile_xmpp_config(struct lv_store *st, const struct lv_config *cfg, const char *profile,
                           struct lv_profile_conn *out, struct lv_error *err)
{
    memset(out, 0, sizeof(*out));
    struct lv_profile_rec rec;
    int rc = lv_store_profile_get(st, profile, &rec, err);
    if (rc != 0)
        return rc;
    out->component = rec.component ? lv_xstrdup(rec.component) : NULL;
    lv_profile_rec_release(&rec);
    char *port = NULL;
    lv_profile_param_get(st, profile, "Connection", "JabberID", &out->jid, NULL);
    lv_profile_param_get(st, profile, "Connection", "Password", &out->password, NULL);
    lv_profile_param_get(st, profile, "Connection", "Force server", &out->host, NULL);
    lv_profile_param_get(st, profile, "Connection", "Force port", &port, NULL);
    lv_xmpp_config_defaults(&out->xmpp);
    limits_from(cfg, &out->xmpp);
    out->xmpp.kind = out->component ? LV_XMPP_COMPONENT : LV_XMPP_CLIENT;
    out->xmpp.jid = out->jid;
    out->xmpp.password = out->password;
    out->xmpp.host = (out->host && *out->host) ? out->host : NULL;
    out->xmpp.port = port && *port ? (unsigned)atoi(port) : 0;
    out->xmpp.check_certificate =
        lv_profile_param_bool(st, profile, "Connection", "check_certificate");
    if (!out->component) {
        out->resource = stable_resource(st, profile);
        out->xmpp.resource = out->resource;
    }
    free(port);
    if (!out->jid || !*out->jid) {
        lv_profile_conn_release(out);
        return lv_error_set(err, LV_ERR_CONFIG, "profile %s has no JID (Connection/JabberID)",
                            profile);
    }
    return 0;
}

void lv_profile_conn_release(struct lv_profile_conn *c)
{
    free(c->jid);
    if (c->password)
        memset(c->password, 0, strlen(c->password));
    free(c->password);
    free(c->host);
    free(c->resource);
    free(c->component);
    memset(c, 0, sizeof(*c));
}
