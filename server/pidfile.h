/*
 * pidfile.h - the pid file ("pid_file"): the master writes its pid there at
 * start-up, moves it when a reload changes "pid_file", and removes it at
 * exit; `crunchd -s` reads it to find the master.
 *
 * A pidfile remembers the path it wrote, so the master removes the file it
 * wrote even after the config changed. pidfile_open/update/remove run in the
 * master only (one thread); pidfile_read in `crunchd -s`.
 */
#ifndef CRUNCHD_PIDFILE_H
#define CRUNCHD_PIDFILE_H

#include <stddef.h>

#include "config.h"

typedef struct pidfile {
    char path[CONFIG_PATH]; /* the file we wrote; "" if none */
} pidfile;

/* Writes getpid() and a newline to path (mode 0644) and remembers it; an
 * empty path writes nothing. Returns 0, or -1 after logging the failed call
 * (then nothing is left behind and pf holds no path). */
int pidfile_open(pidfile *pf, const char *path);

/* After a reload: when path differs from the file written, removes that
 * file and writes path instead (a failure is logged; the master goes on
 * without a pid file). */
void pidfile_update(pidfile *pf, const char *path);

/* Removes the file written, if any. */
void pidfile_remove(pidfile *pf);

/*
 * Reads the pid in path into *pid. Refuses a file that cannot be opened,
 * holds no pid above 1, or is stale: where /proc tells, a pid the kernel has
 * given to a program other than crunchd since. Returns 0, or -1 with the
 * reason in err ("pid file \"...\" ...", naming the call that failed).
 */
int pidfile_read(const char *path, long *pid, char *err, size_t errlen);

#endif
