/*
 * rt_line.c - see rt_line.h.
 */
#include "rt_line.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RT_LINE_FIRST 4096 /* first buffer size */

void rt_line_init(rt_line *l, size_t max)
{
    *l = (rt_line){.max = max};
}

void rt_line_release(rt_line *l)
{
    free(l->buf);
    rt_line_init(l, l->max);
}

/* Room to read into: unread bytes moved to the front, the buffer grown up
 * to max + 1 (a line of max bytes and its newline). 0, or -1 with errno. */
static int make_room(rt_line *l)
{
    if (l->start > 0) {
        memmove(l->buf, l->buf + l->start, l->len - l->start);
        l->len -= l->start;
        l->start = 0;
    }
    if (l->len < l->cap)
        return 0;
    size_t limit = l->max + 1;
    if (l->cap >= limit) {
        errno = EMSGSIZE;
        return -1;
    }
    size_t cap = l->cap ? l->cap * 2 : RT_LINE_FIRST;
    if (cap > limit)
        cap = limit;
    char *b = realloc(l->buf, cap);
    if (!b) {
        errno = ENOMEM;
        return -1;
    }
    l->buf = b;
    l->cap = cap;
    return 0;
}

/* Drops bytes up to and including a newline while skipping a cut line. */
static void skip(rt_line *l)
{
    if (!l->skipping)
        return;
    char *nl = memchr(l->buf + l->start, '\n', l->len - l->start);
    if (nl) {
        l->start = (size_t)(nl - l->buf) + 1;
        l->skipping = false;
    } else {
        l->start = l->len;
    }
}

ssize_t rt_line_fill(rt_line *l, int fd)
{
    if (make_room(l) < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, l->buf + l->len, l->cap - l->len);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        l->len += (size_t)n;
        skip(l);
    }
    return n;
}

int rt_line_next(rt_line *l, const char **line, size_t *len)
{
    if (l->skipping || l->start == l->len)
        return 0;
    char *p = l->buf + l->start;
    size_t avail = l->len - l->start;
    size_t scan = avail < l->max + 1 ? avail : l->max + 1;
    char *nl = memchr(p, '\n', scan);
    if (!nl)
        return avail > l->max ? -1 : 0;
    *line = p;
    *len = (size_t)(nl - p);
    l->start += *len + 1;
    return 1;
}

int rt_line_cut(rt_line *l, const char **line, size_t *len)
{
    if (l->skipping || l->len - l->start <= l->max)
        return 0;
    *line = l->buf + l->start;
    *len = l->max;
    l->start += l->max;
    l->skipping = true;
    /* The cut text stays where it is until the next fill: skip() only
     * moves start, and make_room() moves bytes after the caller is done. */
    skip(l);
    return 1;
}

bool rt_line_partial(const rt_line *l)
{
    return !l->skipping && l->len > l->start;
}
