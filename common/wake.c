/*
 * wake.c - see wake.h.
 */
#include "wake.h"

#include "errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* "/<pid>" after the directory: a pid has at most 10 digits. */
#define WAKE_NAME_MAX 11
#define WAKE_DIR_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - WAKE_NAME_MAX - 1)

/* The directory of this server; set in the master, inherited by workers. */
static char wake_dir[WAKE_DIR_MAX + 1];

const char *wake_dir_base(void)
{
    static char base[WAKE_DIR_MAX + 1];
    const char *env = getenv("RUNTIME_DIRECTORY");
    size_t n = env ? strcspn(env, ":") : 0; /* several RuntimeDirectory= entries */
    if (n == 0) {
        env = getenv("TMPDIR");
        n = env ? strlen(env) : 0;
    }
    if (n == 0 || n >= sizeof(base))
        return n == 0 ? "/tmp" : env; /* too long: wake_dir_check() says so */
    memcpy(base, env, n);
    base[n] = '\0';
    return base;
}

/* The directory's full template, or -1 when it would not fit a socket path. */
static int dir_template(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *base = wake_dir_base();
    int n = snprintf(out, outlen, "%s/" WAKE_DIR_TEMPLATE, base);
    if (n < 0 || (size_t)n >= outlen)
        return errbuf_fail(err, errlen,
                           "wake-up socket directory: \"%s\" is too long for socket paths (at "
                           "most %zu bytes; set TMPDIR)",
                           base, WAKE_DIR_MAX - sizeof(WAKE_DIR_TEMPLATE));
    return 0;
}

int wake_dir_check(char *err, size_t errlen)
{
    char path[WAKE_DIR_MAX + 1];
    struct stat st;
    if (dir_template(path, sizeof(path), err, errlen) < 0)
        return -1;
    const char *base = wake_dir_base();
    if (stat(base, &st) < 0)
        return errbuf_fail(err, errlen, "wake-up socket directory: stat() of \"%s\" failed: %s",
                           base, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return errbuf_fail(err, errlen, "wake-up socket directory: \"%s\" is not a directory",
                           base);
    if (access(base, W_OK | X_OK) < 0)
        return errbuf_fail(err, errlen, "wake-up socket directory: \"%s\" is not writable: %s",
                           base, strerror(errno));
    return 0;
}

int wake_dir_create(bool chown_to, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    char path[WAKE_DIR_MAX + 1];
    if (dir_template(path, sizeof(path), err, errlen) < 0)
        return -1;
    if (!mkdtemp(path)) /* mode 0700 */
        return errbuf_fail(err, errlen, "mkdtemp() of \"%s\" failed: %s", path, strerror(errno));
    if (chown_to && chown(path, uid, gid) < 0) {
        int e = errno;
        rmdir(path);
        return errbuf_fail(err, errlen, "chown() of \"%s\" failed: %s", path, strerror(e));
    }
    memcpy(wake_dir, path, sizeof(wake_dir));
    return 0;
}

const char *wake_dir_path(void)
{
    return wake_dir;
}

void wake_dir_remove(void)
{
    if (wake_dir[0] == '\0')
        return;
    DIR *d = opendir(wake_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        }
        closedir(d);
    }
    rmdir(wake_dir);
    wake_dir[0] = '\0';
}

/* "<dir>/<pid>"; the length of the address, or 0 without a directory. */
static socklen_t wake_addr(struct sockaddr_un *sa, pid_t pid)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (wake_dir[0] == '\0')
        return 0;
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%d", wake_dir, (int)pid);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
}

void wake_forget(pid_t pid)
{
    struct sockaddr_un sa;
    if (wake_addr(&sa, pid) > 0)
        unlink(sa.sun_path);
}

int wake_open(pid_t self)
{
    struct sockaddr_un sa;
    socklen_t len = wake_addr(&sa, self);
    if (len == 0) {
        errno = ENOENT;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* Only crunchd can write in the directory: a file here is a socket of an
     * earlier process with our pid, whose master reaped it without removing
     * it (or a master that was killed). */
    unlink(sa.sun_path);
    if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int wake_send(pid_t to, wake_kind kind, const char *payload, size_t len)
{
    /* One sending socket per thread: sendto on an unbound datagram socket
     * needs no state of its own. */
    static __thread int fd = -1;
    struct sockaddr_un sa;
    socklen_t salen = wake_addr(&sa, to);
    if (salen == 0) {
        errno = ENOENT;
        return -1;
    }
    if (fd < 0 && (fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    char msg[WAKE_MSG_MAX + 1];
    if (len > WAKE_MSG_MAX)
        len = WAKE_MSG_MAX;
    msg[0] = (char)kind;
    if (len)
        memcpy(msg + 1, payload, len);
    return sendto(fd, msg, len + 1, MSG_DONTWAIT, (struct sockaddr *)&sa, salen) < 0 ? -1 : 0;
}

int wake_recv(int fd, char *payload, size_t cap)
{
    char msg[WAKE_MSG_MAX + 2];
    ssize_t n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0)
        return 0;
    size_t plen = (size_t)n - 1;
    if (cap == 0)
        return (unsigned char)msg[0];
    if (plen >= cap)
        plen = cap - 1;
    memcpy(payload, msg + 1, plen);
    payload[plen] = '\0';
    return (unsigned char)msg[0];
}
