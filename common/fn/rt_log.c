/*
 * rt_log.c - see rt_log.h.
 */
#include "rt_log.h"

#include <errno.h>
#include <stdbool.h>

#include "log.h"

static void log_line(const char *line, size_t len, bool cut, const char *name, pid_t pid)
{
    char clean[RT_LOG_LINE_MAX + 1];
    size_t n = len < RT_LOG_LINE_MAX ? len : RT_LOG_LINE_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        clean[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (n > 0 && clean[n - 1] == '?' && line[n - 1] == '\r')
        n--; /* a CRLF line end */
    clean[n] = '\0';
    log_notice("runtime %s[%d]: %s%s", name, (int)pid, clean, cut ? " [...]" : "");
}

/* Logs every complete (or too long) line buffered in l. */
static void log_lines(rt_line *l, const char *name, pid_t pid)
{
    const char *line;
    size_t len;
    for (;;) {
        int rc = rt_line_next(l, &line, &len);
        if (rc == 1) {
            log_line(line, len, false, name, pid);
        } else if (rc < 0 && rt_line_cut(l, &line, &len) == 1) {
            log_line(line, len, true, name, pid);
        } else {
            return;
        }
    }
}

int rt_log_drain(rt_line *l, int fd, const char *name, pid_t pid)
{
    for (int i = 0; i < RT_LOG_READS; i++) {
        ssize_t n = rt_line_fill(l, fd);
        log_lines(l, name, pid);
        if (n == 0)
            return 0;
        if (n < 0 && errno == EMSGSIZE)
            continue; /* log_lines() cut the long line: read on */
        if (n < 0)
            return errno == EAGAIN ? 1 : 0;
    }
    return 1;
}

void rt_log_flush(rt_line *l, const char *name, pid_t pid)
{
    log_lines(l, name, pid);
    if (rt_line_partial(l)) {
        const char *p = l->buf + l->start;
        log_line(p, l->len - l->start, false, name, pid);
        l->start = l->len;
    }
}
