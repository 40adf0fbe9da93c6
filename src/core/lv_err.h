/* lv_err: the project-wide error codes.
 *
 * Functions returning int give 0 on success or one of these negative values;
 * callers test `!= 0`. lv_err_transient() tells failures worth a retry
 * (network, timeouts, a busy database) from permanent ones (bad input,
 * refused credentials). Where a message matters, an optional struct lv_error
 * carries it, plus a protocol condition name (e.g. an XMPP stream or stanza
 * error condition such as "policy-violation"). */
#ifndef LV_ERR_H
#define LV_ERR_H

#include <stdbool.h>

enum lv_err {
    LV_OK = 0,
    LV_ERR_INVAL = -1,     /* bad argument or malformed input (permanent) */
    LV_ERR_NOT_FOUND = -2, /* no such profile, node, item, key... */
    LV_ERR_CONFLICT = -3,  /* already exists */
    LV_ERR_PERM = -4,      /* not allowed */
    LV_ERR_LIMIT = -5,     /* a configured limit was exceeded */
    LV_ERR_IO = -6,        /* I/O or network failure (transient) */
    LV_ERR_TIMEOUT = -7,   /* no answer in time (transient) */
    LV_ERR_AGAIN = -8,     /* try again later (transient) */
    LV_ERR_AUTH = -9,      /* credentials refused (permanent until changed) */
    LV_ERR_PROTO = -10,    /* the peer broke the protocol */
    LV_ERR_TLS = -11,      /* TLS failure, certificate refused */
    LV_ERR_STORE = -12,    /* storage failure */
    LV_ERR_CONFIG = -13,   /* invalid configuration */
    LV_ERR_INTERNAL = -14, /* a bug */
    LV_ERR_CANCELLED = -15 /* the operation was cancelled (shutdown) */
};

#define LV_ERROR_MSG_MAX 512
#define LV_ERROR_COND_MAX 48

struct lv_error {
    int code;                     /* one of enum lv_err */
    char cond[LV_ERROR_COND_MAX]; /* protocol condition, "" if none */
    char msg[LV_ERROR_MSG_MAX];   /* human-readable, never holds secrets */
};

/* A short constant name for an error code ("not found", ...). */
const char *lv_err_str(int code);
/* True for errors where retrying later may succeed. */
bool lv_err_transient(int code);

/* Fills e (if non-NULL) and returns code, so that callers can write
 * `return lv_error_set(err, LV_ERR_INVAL, "bad %s", x);`. */
int lv_error_set(struct lv_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with a protocol condition name. */
int lv_error_set_cond(struct lv_error *e, int code, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Resets e to "no error". */
void lv_error_clear(struct lv_error *e);

#endif
