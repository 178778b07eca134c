#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static log_level threshold = LOG_LVL_INFO;
static char role[32] = "crunchd";
static int journald;

void log_set_role(const char *r)
{
    snprintf(role, sizeof(role), "%s", r);
    journald = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(log_level lvl) { threshold = lvl; }

int log_set_level_name(const char *name)
{
    static const struct { const char *name; log_level lvl; } table[] = {
        {"error", LOG_LVL_ERROR}, {"warn", LOG_LVL_WARN}, {"notice", LOG_LVL_NOTICE},
        {"info", LOG_LVL_INFO},   {"debug", LOG_LVL_DEBUG},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(name, table[i].name) == 0) {
            threshold = table[i].lvl;
            return 0;
        }
    }
    return -1;
}

static const char *level_name(log_level lvl)
{
    switch (lvl) {
    case LOG_LVL_ERROR: return "error";
    case LOG_LVL_WARN: return "warn";
    case LOG_LVL_NOTICE: return "notice";
    case LOG_LVL_INFO: return "info";
    default: return "debug";
    }
}

void log_msg(log_level lvl, const char *fmt, ...)
{
    if (lvl > threshold)
        return;
    int saved = errno;
    char line[2048];
    int n;
    if (journald) {
        n = snprintf(line, sizeof(line), "<%d>%s[%d]: ", (int)lvl, role, (int)getpid());
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] %s[%d]: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_name(lvl), role, (int)getpid());
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
    errno = saved;
}
