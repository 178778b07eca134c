/*
 * rt_log.h - what a language runtime writes on its stderr goes to crunchd's
 * error log, a line at a time, prefixed with the runtime's name and the
 * process's pid: "runtime py[4242]: Traceback (most recent call last):".
 *
 * Lines are cut at RT_LOG_LINE_MAX bytes (the rest of a cut line is
 * dropped), control characters become '?', and they are logged at level
 * notice (shown by default). Reading is bounded per call, so a runtime that
 * floods its stderr cannot hold the reading thread for long.
 *
 * Thread rules: the caller owns l and fd (the master while it reads a
 * hello; a worker's runtime thread, rt_pool.h).
 */
#ifndef CRUNCHD_RT_LOG_H
#define CRUNCHD_RT_LOG_H

#include <sys/types.h>

#include "rt_line.h"

#define RT_LOG_LINE_MAX 1024 /* longer stderr lines are cut */
#define RT_LOG_READS 16      /* reads per rt_log_drain() */

/* Reads up to RT_LOG_READS chunks of fd into l (an rt_line of
 * RT_LOG_LINE_MAX) and logs every complete line. Returns 0 at end of file
 * (or a read error), 1 when the pipe is still open. */
int rt_log_drain(rt_line *l, int fd, const char *name, pid_t pid);

/* Logs an unfinished last line, if any (after end of file). */
void rt_log_flush(rt_line *l, const char *name, pid_t pid);

#endif
