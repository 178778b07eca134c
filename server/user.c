/*
 * user.c - see user.h.
 */
#include "user.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int user_lookup(const config *cfg, user_ids *u)
{
    memset(u, 0, sizeof(*u));
    if (cfg->user[0] == '\0')
        return 0;
    if (geteuid() != 0) {
        log_warn("\"user\" is ignored: the master does not run as root");
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(cfg->user);
    if (!pw) {
        log_error("getpwnam(\"%s\") failed: %s", cfg->user,
                  errno ? strerror(errno) : "no such user");
        return -1;
    }
    u->switch_user = true;
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;
    return 0;
}

/* Gives path to the workers' user if it exists and is not theirs yet. */
static void user_chown(const config *cfg, const user_ids *u, const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return;
    if (st.st_uid == u->uid && st.st_gid == u->gid)
        return;
    if (lchown(path, u->uid, u->gid) < 0)
        log_warn("lchown() of \"%s\" to user \"%s\" failed: %s", path, cfg->user,
                 strerror(errno));
}

void user_own_files(const config *cfg, const user_ids *u)
{
    if (!u->switch_user)
        return;
    const char *al = cfg->log.access_log;
    if (al[0] != '\0' && strcmp(al, "-") != 0) {
        int fd = open(al, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
            log_warn("open() of access log \"%s\" failed: %s", al, strerror(errno));
        else
            close(fd);
        user_chown(cfg, u, al);
    }
    if (strcmp(cfg->store.kind, "sqlite") == 0 && cfg->store.path[0] != '\0') {
        char p[CONFIG_PATH + 8];
        user_chown(cfg, u, cfg->store.path);
        snprintf(p, sizeof(p), "%s-wal", cfg->store.path);
        user_chown(cfg, u, p);
        snprintf(p, sizeof(p), "%s-shm", cfg->store.path);
        user_chown(cfg, u, p);
        snprintf(p, sizeof(p), "%s", cfg->store.path);
        const char *dir = dirname(p); /* created by store_prepare() */
        if (strcmp(dir, ".") != 0 && strcmp(dir, "/") != 0)
            user_chown(cfg, u, dir);
    }
}

int user_become(const user_ids *u, const char *name)
{
    if (!u->switch_user)
        return 0;
    const char *call = NULL;
    if (setgroups(0, NULL) < 0)
        call = "setgroups(0)";
    else if (setgid(u->gid) < 0)
        call = "setgid()";
    else if (setuid(u->uid) < 0)
        call = "setuid()";
    if (!call)
        return 0;
    log_error("%s switching to user \"%s\" (uid %u, gid %u) failed: %s", call, name,
              (unsigned)u->uid, (unsigned)u->gid, strerror(errno));
    return -1;
}
