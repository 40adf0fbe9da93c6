/* Bridge methods of the ActivityPub gateway: apStatus, apQueue,
 * apQueueRetry (doc/bridge.md). */
#include "ap/lv_ap_gw.h"
#include "backend/lv_backend.h"
#include "backend/lv_bridge_util.h"
#include "core/lv_mem.h"

#include <stdlib.h>

/* The gateway named by the call's "profile" (or the only one); answers the
 * call and returns NULL when there is none. */
static struct lv_ap_gw *call_gw(struct lv_backend *b, struct lv_bridge_call *call, json_t *params)
{
    const char *profile = lv_bu_str(params, "profile");
    struct lv_ap_gw *gw = lv_backend_ap_gw(b, profile);
    if (!gw) {
        struct lv_error err;
        lv_error_set(&err, LV_ERR_NOT_FOUND,
                     "%s%s%s is not a connected ap-gateway component profile (connect it "
                     "first: `li profile connect -p PROFILE`)",
                     profile ? "profile " : "", profile ? profile : "no profile",
                     profile ? "" : " given, and there");
        lv_bridge_reply_error(call, &err);
    }
    return gw;
}

static void m_status(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_ap_gw *gw = call_gw(ud, call, params);
    if (gw)
        lv_bridge_reply(call, lv_ap_gw_status(gw));
}

static void m_queue(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_ap_gw *gw = call_gw(ud, call, params);
    if (!gw)
        return;
    json_t *limit = json_object_get(params, "limit");
    json_int_t lim = json_is_integer(limit) ? json_integer_value(limit) : 100;
    struct lv_error err = {0};
    if (lim < 0 || lim > 100000) {
        lv_error_set(&err, LV_ERR_INVAL, "limit must be from 0 (all) to 100000");
        lv_bridge_reply_error(call, &err);
        return;
    }
    json_t *q = lv_ap_gw_queue(gw, lv_bu_str(params, "state"), (size_t)lim, &err);
    if (q)
        lv_bridge_reply(call, q);
    else
        lv_bridge_reply_error(call, &err);
}

static void m_retry(struct lv_bridge_call *call, json_t *params, void *ud)
{
    struct lv_ap_gw *gw = call_gw(ud, call, params);
    if (!gw)
        return;
    struct lv_error err = {0};
    if (lv_ap_gw_queue_retry(gw, &err) == 0)
        lv_bridge_reply(call, json_true());
    else
        lv_bridge_reply_error(call, &err);
}

void lv_bridge_ap_register(struct lv_backend *b)
{
    static const struct lv_bridge_method methods[] = {
        {"apStatus", m_status},
        {"apQueue", m_queue},
        {"apQueueRetry", m_retry},
    };
    lv_bridge_add_methods(b->bridge, methods, LV_ARRAY_LEN(methods), b);
}
