/*
 * pidfile.c - see pidfile.h.
 */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "errbuf.h"
#include "log.h"

static int pidfile_write(const char *path)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("open() of pid file \"%s\" failed: %s", path, strerror(errno));
        return -1;
    }
    if (write(fd, buf, (size_t)n) != n) {
        log_error("write() to pid file \"%s\" failed: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

int pidfile_open(pidfile *pf, const char *path)
{
    pf->path[0] = '\0';
    if (path[0] == '\0')
        return 0;
    if (pidfile_write(path) < 0)
        return -1;
    snprintf(pf->path, sizeof(pf->path), "%s", path);
    return 0;
}

void pidfile_update(pidfile *pf, const char *path)
{
    if (strcmp(pf->path, path) == 0)
        return;
    pidfile_remove(pf);
    pidfile_open(pf, path);
}

void pidfile_remove(pidfile *pf)
{
    if (pf->path[0] != '\0')
        unlink(pf->path);
    pf->path[0] = '\0';
}

/* Where /proc tells, whether pid runs a program named crunchd. */
static bool pid_is_crunchd(long pid)
{
    char path[64], comm[64] = "";
    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return true; /* no /proc, or no such process: kill() tells */
    bool ok = fgets(comm, sizeof(comm), f) != NULL && strncmp(comm, "crunchd", 7) == 0;
    fclose(f);
    return ok;
}

int pidfile_read(const char *path, long *pid, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errbuf_fail(err, errlen, "open() of pid file \"%s\" failed: %s", path,
                           strerror(errno));
    *pid = 0;
    int got = fscanf(f, "%ld", pid);
    fclose(f);
    if (got != 1 || *pid <= 1)
        return errbuf_fail(err, errlen, "pid file \"%s\" holds no valid pid", path);
    if (!pid_is_crunchd(*pid))
        return errbuf_fail(err, errlen, "pid file \"%s\" is stale: process %ld is not crunchd",
                           path, *pid);
    return 0;
}
