/*
 * rt_line.h - lines from a non-blocking pipe, each at most max bytes: the
 * stdout (hello, replies) and stderr (log lines) of a language runtime.
 *
 * The buffer grows as a line needs it, up to max + 1 bytes; a line longer
 * than max is reported as such without reading it all (the caller kills the
 * process, or, for stderr, takes the cut line and skips the rest).
 *
 * Thread rules: one owner at a time (not locked).
 */
#ifndef CRUNCHD_RT_LINE_H
#define CRUNCHD_RT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct rt_line {
    char *buf;
    size_t start, len, cap; /* bytes [start, len) are unread */
    size_t max;             /* longest line, newline excluded */
    bool skipping;          /* dropping the rest of a cut line (rt_line_cut) */
} rt_line;

/* Empty reader of lines up to max bytes. */
void rt_line_init(rt_line *l, size_t max);

/* Frees the buffer; the reader is empty again (init state, same max). */
void rt_line_release(rt_line *l);

/*
 * Reads what fd has now. Returns the bytes read (> 0), 0 at end of file, or
 * -1 with errno (EAGAIN: nothing yet; ENOMEM; EMSGSIZE: the buffer holds a
 * line of more than max bytes and no newline: take it with rt_line_next()).
 */
ssize_t rt_line_fill(rt_line *l, int fd);

/*
 * The next complete line, without its newline: returns 1 and sets *line and
 * *len (valid until the next call on l), 0 when no complete line is
 * buffered, -1 when the pending line is longer than max (nothing consumed).
 */
int rt_line_next(rt_line *l, const char **line, size_t *len);

/*
 * For a line longer than max: hands out its first max bytes as *line and
 * drops the rest up to the next newline as it arrives. Returns 1, or 0 when
 * no line is too long.
 */
int rt_line_cut(rt_line *l, const char **line, size_t *len);

/* Whether bytes of an unfinished line are buffered (for "ended mid-line"). */
bool rt_line_partial(const rt_line *l);

#endif
