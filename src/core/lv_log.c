#include "lv_log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

int lv_log_threshold = LV_LOG_INFO;
static FILE *log_stream;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

void lv_log_set_level(int level)
{
    lv_log_threshold = level;
}

void lv_log_set_stream(FILE *f)
{
    log_stream = f;
}

const char *lv_log_level_name(int level)
{
    if (level < 0 || level > LV_LOG_TRACE)
        return "?";
    return level_names[level];
}

int lv_log_level_parse(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } map[] = {
        {"critical", LV_LOG_ERROR}, {"error", LV_LOG_ERROR}, {"warning", LV_LOG_WARN},
        {"warn", LV_LOG_WARN},      {"info", LV_LOG_INFO},   {"debug", LV_LOG_DEBUG},
        {"trace", LV_LOG_TRACE},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(name, map[i].name) == 0)
            return map[i].level;
    return -1;
}

void lv_log_write(int level, const char *area, const char *fmt, ...)
{
    FILE *out = log_stream ? log_stream : stderr;
    struct timeval tv;
    struct tm tm;
    char ts[32];
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);

    flockfile(out);
    fprintf(out, "%s.%03ld %-5s [%s] ", ts, (long)(tv.tv_usec / 1000), lv_log_level_name(level),
            area);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
    funlockfile(out);
}
