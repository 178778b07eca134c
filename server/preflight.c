/*
 * preflight.c - see preflight.h.
 */
#include "preflight.h"

#include <errno.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "functions.h"
#include "listener.h"
#include "nofile.h"
#include "store.h"
#include "wake.h"

typedef struct warner {
    preflight_warn_fn *fn;
    void *arg;
} warner;

__attribute__((format(printf, 2, 3))) static void warn(const warner *w, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    if (!w->fn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    w->fn(msg, w->arg);
}

/* As master_user_lookup(): only root switches users. */
static int check_user(const config *cfg, const warner *w, char *err, size_t errlen)
{
    if (cfg->user[0] == '\0')
        return 0;
    if (geteuid() != 0) {
        warn(w, "user: \"%s\" is ignored: crunchd does not run as root", cfg->user);
        return 0;
    }
    errno = 0;
    if (!getpwnam(cfg->user))
        return errbuf_fail(err, errlen, "user: getpwnam(\"%s\") failed: %s", cfg->user,
                           errno ? strerror(errno) : "no such user");
    return 0;
}

/*
 * Whether a file can be opened for writing, creating it if needed: the file
 * is writable, or it does not exist and its directory is. Returns 0, or -1
 * with "key: ..." in err.
 */
static int check_writable(const char *key, const char *path, char *err, size_t errlen)
{
    char dir[CONFIG_PATH + 1];
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return errbuf_fail(err, errlen, "%s: \"%s\" is a directory", key, path);
        if (access(path, W_OK) < 0)
            return errbuf_fail(err, errlen, "%s: \"%s\" is not writable: %s", key, path,
                               strerror(errno));
        return 0;
    }
    if (errno != ENOENT)
        return errbuf_fail(err, errlen, "%s: stat() of \"%s\" failed: %s", key, path,
                           strerror(errno));
    snprintf(dir, sizeof(dir), "%s", path);
    const char *d = dirname(dir);
    if (access(d, W_OK | X_OK) < 0)
        return errbuf_fail(err, errlen, "%s: cannot create \"%s\": directory %s: %s", key, path, d,
                           strerror(errno));
    return 0;
}

/* What start-up goes on without: told, not failed. */
static void check_warnings(const config *cfg, const warner *w)
{
    char why[1200];
    struct stat sb;
    const char *al = cfg->log.access_log;
    if (al[0] != '\0' && strcmp(al, "-") != 0 &&
        check_writable("log.access_log", al, why, sizeof(why)) < 0)
        warn(w, "%s (the workers run without an access log)", why);
    if (stat(cfg->data_dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
        warn(w, "data_dir: \"%s\" is not a directory (file_sha256 fails until it is)",
             cfg->data_dir);
}

int preflight_check(const config *cfg, preflight_warn_fn *warn_fn, void *arg, char *err,
                    size_t errlen)
{
    warner w = {warn_fn, arg};
    if (check_user(cfg, &w, err, errlen) < 0 || wake_dir_check(err, errlen) < 0 ||
        listener_check(cfg, err, errlen) < 0)
        return -1;
    if (cfg->pid_file[0] != '\0' && check_writable("pid_file", cfg->pid_file, err, errlen) < 0)
        return -1;
    if (store_check(&cfg->store, err, errlen) < 0 || nofile_ensure(cfg, false, err, errlen) < 0)
        return -1;
    if (functions_check(cfg, err, errlen) < 0) /* the language runtimes say hello */
        return -1;
    check_warnings(cfg, &w);
    return 0;
}
