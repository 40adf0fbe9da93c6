#include "store/lv_store.h"

#include <stdlib.h>
#include <string.h>

#include "core/lv_mem.h"
#include "store/lv_store_ap_backend.h"
#include "store/lv_store_backend.h"
#include "store/postgres/lv_store_postgres.h"

/* How a URI prefix maps to a backend (and to its ActivityPub tables, ap). A
 * NULL backend is a scheme we know but were built without; missing says
 * why. */
struct scheme {
    const char *prefix;
    const struct lv_store_backend *be;
    const struct lv_store_ap_backend *ap;
    bool strip; /* pass what follows the prefix, not the whole URI */
    const char *missing;
};

static const struct scheme schemes[] = {
    {"sqlite:", &lv_store_sqlite_backend, &lv_store_sqlite_ap_backend, true, NULL},
    /* libpq takes the whole URI */
    {"postgresql://", &lv_store_postgres_backend, &lv_store_postgres_ap_backend, false, NULL},
    {"postgres://", &lv_store_postgres_backend, &lv_store_postgres_ap_backend, false, NULL},
};

/* A plain path, or ":memory:". */
static const struct scheme sqlite_path = {"", &lv_store_sqlite_backend, &lv_store_sqlite_ap_backend,
                                          false, NULL};

/* "name://..." with a URI scheme name: an unknown one must not be taken for
 * a relative file path (which would silently create "mysql:/..." files). */
static bool looks_like_uri(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+.-");
    return n > 0 && strncmp(s + n, "://", 3) == 0;
}

static int pick_backend(const char *uri, const struct scheme **picked, const char **location,
                        struct lv_error *err)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(schemes); i++) {
        const struct scheme *sc = &schemes[i];
        size_t len = strlen(sc->prefix);
        if (strncmp(uri, sc->prefix, len) != 0)
            continue;
        if (!sc->be)
            return lv_error_set(err, LV_ERR_CONFIG, "%s", sc->missing);
        *picked = sc;
        *location = sc->strip ? uri + len : uri;
        return 0;
    }
    if (looks_like_uri(uri))
        return lv_error_set(err, LV_ERR_CONFIG, "unknown storage backend in \"%.*s\"",
                            (int)strcspn(uri, ":"), uri);
    *picked = &sqlite_path;
    *location = uri;
    return 0;
}

int lv_store_open(const char *uri, struct lv_store **out, struct lv_error *err)
{
    const struct scheme *sc = NULL;
    const char *location = "";
    void *state = NULL;

    *out = NULL;
    if (!uri || !*uri)
        return lv_error_set(err, LV_ERR_INVAL, "empty storage URI");
    int rc = pick_backend(uri, &sc, &location, err);
    if (rc != 0)
        return rc;
    if (!*location)
        return lv_error_set(err, LV_ERR_INVAL, "no database path in storage URI");
    rc = sc->be->open(location, &state, err);
    if (rc != 0)
        return rc;
    *out = lv_xmalloc(sizeof(**out));
    (*out)->be = sc->be;
    (*out)->state = state;
    (*out)->ap = sc->ap;
    return 0;
}

void lv_store_close(struct lv_store *st)
{
    if (!st)
        return;
    st->be->close(st->state);
    free(st);
}

int lv_store_schema_version(struct lv_store *st, int *version)
{
    return st->be->schema_version(st->state, version);
}

void lv_profile_rec_release(struct lv_profile_rec *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->component);
    p->name = NULL;
    p->component = NULL;
}

bool lv_store_profile_name_valid(const char *name)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789_.@+-";
    if (!name)
        return false;
    size_t len = strnlen(name, LV_PROFILE_NAME_MAX + 1);
    return len > 0 && len <= LV_PROFILE_NAME_MAX && strspn(name, allowed) == len;
}

/* Checked here, once, so that every backend sees only valid names. */
static int check_name(const char *name, struct lv_error *err)
{
    if (lv_store_profile_name_valid(name))
        return 0;
    if (!name)
        return lv_error_set(err, LV_ERR_INVAL, "no profile name");
    return lv_error_set(err, LV_ERR_INVAL,
                        "invalid profile name \"%.*s\": use 1 to %d characters of "
                        "A-Z a-z 0-9 _ . @ + -",
                        LV_PROFILE_NAME_MAX, name, LV_PROFILE_NAME_MAX);
}

static int check_key(const char *what, const char *s, struct lv_error *err)
{
    if (s && *s)
        return 0;
    return lv_error_set(err, LV_ERR_INVAL, "empty %s", what);
}

int lv_store_profile_create(struct lv_store *st, const char *name, const char *component,
                            struct lv_error *err)
{
    int rc = check_name(name, err);
    if (rc != 0)
        return rc;
    if (component && !*component)
        return lv_error_set(err, LV_ERR_INVAL, "empty component entry point");
    return st->be->profile_create(st->state, name, component, err);
}

int lv_store_profile_delete(struct lv_store *st, const char *name, struct lv_error *err)
{
    int rc = check_name(name, err);
    return rc != 0 ? rc : st->be->profile_delete(st->state, name, err);
}

int lv_store_profile_get(struct lv_store *st, const char *name, struct lv_profile_rec *out,
                         struct lv_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = check_name(name, err);
    return rc != 0 ? rc : st->be->profile_get(st->state, name, out, err);
}

int lv_store_profile_list(struct lv_store *st, struct lv_profile_rec **out, size_t *n,
                          struct lv_error *err)
{
    *out = NULL;
    *n = 0;
    return st->be->profile_list(st->state, out, n, err);
}

int lv_store_profile_default_get(struct lv_store *st, char **name, struct lv_error *err)
{
    *name = NULL;
    return st->be->profile_default_get(st->state, name, err);
}

int lv_store_profile_default_set(struct lv_store *st, const char *name, struct lv_error *err)
{
    int rc = name ? check_name(name, err) : 0;
    return rc != 0 ? rc : st->be->profile_default_set(st->state, name, err);
}

static int check_param(const char *profile, const char *a, const char *b, struct lv_error *err)
{
    int rc = check_name(profile, err);
    if (rc == 0)
        rc = check_key("parameter category", a, err);
    if (rc == 0)
        rc = check_key("parameter name", b, err);
    return rc;
}

int lv_store_param_get(struct lv_store *st, const char *profile, const char *category,
                       const char *name, char **value, struct lv_error *err)
{
    *value = NULL;
    int rc = check_param(profile, category, name, err);
    return rc != 0 ? rc : st->be->param_get(st->state, profile, category, name, value, err);
}

int lv_store_param_set(struct lv_store *st, const char *profile, const char *category,
                       const char *name, const char *value, struct lv_error *err)
{
    int rc = check_param(profile, category, name, err);
    return rc != 0 ? rc : st->be->param_set(st->state, profile, category, name, value, err);
}

/* profile NULL is allowed here: it selects the global data. */
static int check_private(const char *profile, const char *ns, const char *key, struct lv_error *err)
{
    int rc = profile ? check_name(profile, err) : 0;
    if (rc == 0)
        rc = check_key("private data namespace", ns, err);
    if (rc == 0)
        rc = check_key("private data key", key, err);
    return rc;
}

int lv_store_private_get(struct lv_store *st, const char *profile, const char *ns, const char *key,
                         char **value, struct lv_error *err)
{
    *value = NULL;
    int rc = check_private(profile, ns, key, err);
    return rc != 0 ? rc : st->be->private_get(st->state, profile, ns, key, value, err);
}

int lv_store_private_set(struct lv_store *st, const char *profile, const char *ns, const char *key,
                         const char *value, struct lv_error *err)
{
    int rc = check_private(profile, ns, key, err);
    return rc != 0 ? rc : st->be->private_set(st->state, profile, ns, key, value, err);
}
