#include "lv_sasl.h"
#include "core/lv_mem.h"

#include <gsasl.h>
#include <stdlib.h>
#include <string.h>

struct lv_sasl {
    Gsasl *ctx;
    Gsasl_session *sess;
    const char *mech;
};

static const char *const preference[] = {"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"};

static bool offered_has(const char *const *offered, size_t n, const char *mech)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(offered[i], mech) == 0)
            return true;
    return false;
}

static const char *choose(Gsasl *ctx, bool tls, const char *const *offered, size_t n)
{
    for (size_t i = 0; i < LV_ARRAY_LEN(preference); i++) {
        const char *m = preference[i];
        /* PLAIN sends the password itself: never without TLS. */
        if (strcmp(m, "PLAIN") == 0 && !tls)
            continue;
        if (offered_has(offered, n, m) && gsasl_client_support_p(ctx, m))
            return m;
    }
    return NULL;
}

static int no_mechanism(bool tls, const char *const *offered, size_t n, struct lv_error *err)
{
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
        strncat(list, offered[i], sizeof(list) - strlen(list) - 2);
        if (i + 1 < n)
            strncat(list, " ", sizeof(list) - strlen(list) - 1);
    }
    return lv_error_set_cond(err, LV_ERR_AUTH, "invalid-mechanism",
                             "no acceptable SASL mechanism among those offered (%s)%s", list,
                             tls ? "" : "; PLAIN is refused without TLS");
}

int lv_sasl_new(const char *authcid, const char *password, const char *host, bool tls,
                const char *const *offered, size_t n, struct lv_sasl **out, struct lv_error *err)
{
    struct lv_sasl *s = lv_xcalloc(1, sizeof(*s));
    if (gsasl_init(&s->ctx) != GSASL_OK) {
        free(s);
        return lv_error_set(err, LV_ERR_INTERNAL, "cannot initialise GNU SASL");
    }
    s->mech = choose(s->ctx, tls, offered, n);
    if (!s->mech) {
        lv_sasl_free(s);
        return no_mechanism(tls, offered, n, err);
    }
    int rc = gsasl_client_start(s->ctx, s->mech, &s->sess);
    if (rc != GSASL_OK) {
        lv_sasl_free(s);
        return lv_error_set(err, LV_ERR_INTERNAL, "SASL start failed: %s", gsasl_strerror(rc));
    }
    gsasl_property_set(s->sess, GSASL_AUTHID, authcid);
    gsasl_property_set(s->sess, GSASL_PASSWORD, password);
    gsasl_property_set(s->sess, GSASL_SERVICE, "xmpp");
    gsasl_property_set(s->sess, GSASL_HOSTNAME, host);
    *out = s;
    return 0;
}

void lv_sasl_free(struct lv_sasl *s)
{
    if (!s)
        return;
    if (s->sess)
        gsasl_finish(s->sess);
    gsasl_done(s->ctx);
    free(s);
}

const char *lv_sasl_mechanism(const struct lv_sasl *s)
{
    return s->mech;
}

int lv_sasl_step(struct lv_sasl *s, const char *in_b64, char **out_b64, bool *done,
                 struct lv_error *err)
{
    /* RFC 6120 §6.4.2: "=" stands for empty data; gsasl wants "". */
    const char *in = (in_b64 && strcmp(in_b64, "=") != 0) ? in_b64 : "";
    char *out = NULL;
    int rc = gsasl_step64(s->sess, in, &out);
    if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
        free(out);
        return lv_error_set_cond(err, LV_ERR_AUTH, "not-authorized", "SASL %s failed: %s", s->mech,
                                 gsasl_strerror(rc));
    }
    *done = (rc == GSASL_OK);
    /* Copy into our allocator's memory: gsasl allocated with malloc too, but
     * keep one rule for callers: free() what lv_ functions return. */
    *out_b64 = lv_xstrdup(out ? out : "");
    free(out);
    return 0;
}
