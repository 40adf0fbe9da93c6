#include "lv_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[] = {
    "ok",
    "invalid input",
    "not found",
    "conflict",
    "not allowed",
    "limit exceeded",
    "I/O error",
    "timeout",
    "try again",
    "authentication failed",
    "protocol error",
    "TLS error",
    "storage error",
    "configuration error",
    "internal error",
    "cancelled",
};

const char *lv_err_str(int code)
{
    if (code > 0 || code <= -(int)(sizeof(names) / sizeof(names[0])))
        return "unknown error";
    return names[-code];
}

bool lv_err_transient(int code)
{
    return code == LV_ERR_IO || code == LV_ERR_TIMEOUT || code == LV_ERR_AGAIN;
}

__attribute__((format(printf, 4, 0))) static int vset(struct lv_error *e, int code,
                                                      const char *cond, const char *fmt, va_list ap)
{
    if (!e)
        return code;
    e->code = code;
    snprintf(e->cond, sizeof(e->cond), "%s", cond ? cond : "");
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    return code;
}

int lv_error_set(struct lv_error *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int lv_error_set_cond(struct lv_error *e, int code, const char *cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, cond, fmt, ap);
    va_end(ap);
    return code;
}

void lv_error_clear(struct lv_error *e)
{
    if (!e)
        return;
    e->code = 0;
    e->cond[0] = '\0';
    e->msg[0] = '\0';
}
