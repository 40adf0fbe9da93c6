/* lv_log: levelled, area-tagged logging.
 *
 * lv_log(level, area, fmt, ...) costs one comparison when the level is
 * disabled: the arguments are not evaluated. Never pass secrets (passwords,
 * keys, signatures, SASL data) to it.
 *
 * The threshold and the output stream are process-wide: logging is the one
 * piece of state shared by every component of a process. */
#ifndef LV_LOG_H
#define LV_LOG_H

#include <stdio.h>

enum lv_log_level {
    LV_LOG_ERROR = 0,
    LV_LOG_WARN = 1,
    LV_LOG_INFO = 2,
    LV_LOG_DEBUG = 3,
    LV_LOG_TRACE = 4,
};

extern int lv_log_threshold;

#define lv_log(level, area, ...)                                                                   \
    do {                                                                                           \
        if ((int)(level) <= lv_log_threshold)                                                      \
            lv_log_write((level), (area), __VA_ARGS__);                                            \
    } while (0)

#define lv_error(area, ...) lv_log(LV_LOG_ERROR, area, __VA_ARGS__)
#define lv_warn(area, ...) lv_log(LV_LOG_WARN, area, __VA_ARGS__)
#define lv_info(area, ...) lv_log(LV_LOG_INFO, area, __VA_ARGS__)
#define lv_debug(area, ...) lv_log(LV_LOG_DEBUG, area, __VA_ARGS__)
#define lv_trace(area, ...) lv_log(LV_LOG_TRACE, area, __VA_ARGS__)

/* Writes one line: "2026-11-25 17:20:01.123 INFO  [area] message". */
void lv_log_write(int level, const char *area, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lv_log_set_level(int level);
/* Sets the output stream (default stderr); the stream stays the caller's. */
void lv_log_set_stream(FILE *f);
/* Parses "error", "warning"/"warn", "info", "debug", "trace" (the
 * reference's names, "critical" maps to error). Returns the level or -1. */
int lv_log_level_parse(const char *name);
const char *lv_log_level_name(int level);

#endif
