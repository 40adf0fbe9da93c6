/* lv_profile: profile management, the one place that creates, deletes and
 * configures profiles. The backend's admin commands call it directly on the
 * store; the bridge methods (and so `li profile ...`) call it too.
 *
 * Parameters are those of the reference, declared in one table: category
 * "Connection" with JabberID, Password, Priority, "Force server", "Force
 * port", autoconnect_backend, autoconnect, autodisconnect, check_certificate;
 * "General"/Password (the profile's own password). Values are validated
 * against their type when set. */
#ifndef LV_PROFILE_H
#define LV_PROFILE_H

#include <stdbool.h>

#include "core/lv_config.h"
#include "store/lv_store.h"
#include "xmpp/lv_xmpp.h"

struct lv_param_def {
    const char *category;
    const char *name;
    const char *type; /* "string", "password", "int", "bool" */
    const char *def;  /* default value */
    long min, max;    /* for int */
    const char *help;
};

/* Creates a profile: name, the JID it connects as (a component's JID for a
 * component), its XMPP password (or component secret), the component entry
 * point (NULL or "" for a client) and autoconnect_backend (-1 = leave the
 * default). The first profile created becomes the default one.
 * LV_ERR_CONFLICT if it exists, LV_ERR_INVAL for a bad name/JID/entry point. */
int lv_profile_create(struct lv_store *st, const char *name, const char *jid, const char *password,
                      const char *component, int autoconnect, struct lv_error *err);
int lv_profile_delete(struct lv_store *st, const char *name, struct lv_error *err);

/* Sets a parameter after checking it is declared and the value fits its
 * type. LV_ERR_NOT_FOUND for an unknown profile or parameter, LV_ERR_INVAL
 * for a bad value. */
int lv_profile_param_set(struct lv_store *st, const char *profile, const char *category,
                         const char *name, const char *value, struct lv_error *err);
/* Reads a parameter, falling back to its default. *value is the caller's.
 * LV_ERR_NOT_FOUND for an unknown profile or parameter. */
int lv_profile_param_get(struct lv_store *st, const char *profile, const char *category,
                         const char *name, char **value, struct lv_error *err);
/* Boolean parameter, false when unreadable. */
bool lv_profile_param_bool(struct lv_store *st, const char *profile, const char *category,
                           const char *name);
/* Resolves "default" / "@DEFAULT@" / NULL to the default profile's name;
 * other names are checked to exist. *out is the caller's. */
int lv_profile_resolve(struct lv_store *st, const char *name, char **out, struct lv_error *err);

/* The connection settings of a profile: parameters plus the [xmpp] section
 * of the configuration. Strings in *out point into *owned, which the caller
 * frees with lv_profile_xmpp_config_release(). */
struct lv_profile_conn {
    struct lv_xmpp_config xmpp;
    char *jid, *password, *host, *resource, *component;
};
int lv_profile_xmpp_config(struct lv_store *st, const struct lv_config *cfg, const char *profile,
                           struct lv_profile_conn *out, struct lv_error *err);
void lv_profile_conn_release(struct lv_profile_conn *c);

/* Component entry points this build provides ("ap-gateway", ...). */
bool lv_profile_entry_point_known(const char *name);

#endif
