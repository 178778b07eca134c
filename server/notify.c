/*
 * notify.c - see notify.h. One unconnected SOCK_DGRAM socket, one sendmsg()
 * per message, exactly as sd_notify(3) describes the protocol.
 */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"

#define NOTIFY_MAX 4096

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_addrlen;
static uint64_t watchdog_usec;

static void read_watchdog(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    watchdog_usec = 0;
    if (!usec)
        return;
    if (pid && strtol(pid, NULL, 10) != (long)getpid())
        return; /* meant for another process */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(usec, &end, 10);
    if (errno == 0 && end != usec && *end == '\0' && v > 0)
        watchdog_usec = v;
}

int notify_init(char *err, size_t errlen)
{
    const char *path = getenv("NOTIFY_SOCKET");
    int rc = 0;

    read_watchdog();
    if (path && path[0] != '\0') {
        size_t n = strlen(path);
        memset(&notify_addr, 0, sizeof(notify_addr));
        notify_addr.sun_family = AF_UNIX;
        if ((path[0] != '/' && path[0] != '@') || n >= sizeof(notify_addr.sun_path)) {
            rc = errbuf_fail(err, errlen,
                             "NOTIFY_SOCKET \"%s\" is not an absolute or abstract socket path", path);
        } else {
            memcpy(notify_addr.sun_path, path, n);
            if (path[0] == '@')
                notify_addr.sun_path[0] = '\0';
            notify_addrlen =
                (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1));
            notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (notify_fd < 0) {
                rc = errbuf_fail(err, errlen, "socket() for NOTIFY_SOCKET \"%s\" failed: %s",
                                 path, strerror(errno));
            }
        }
    }
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return rc;
}

bool notify_enabled(void)
{
    return notify_fd >= 0;
}

static int notify_raw(const char *msg, size_t len)
{
    if (notify_fd < 0)
        return 0;
    struct iovec iov = {(void *)msg, len};
    struct msghdr mh = {0};
    mh.msg_name = &notify_addr;
    mh.msg_namelen = notify_addrlen;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n;
    do {
        n = sendmsg(notify_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

int notify_send(const char *fmt, ...)
{
    if (notify_fd < 0)
        return 0;
    char msg[NOTIFY_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    return notify_raw(msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

int notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return notify_send("RELOADING=1\nMONOTONIC_USEC=%llu",
                       (unsigned long long)ts.tv_sec * 1000000ull +
                           (unsigned long long)ts.tv_nsec / 1000ull);
}

uint64_t notify_watchdog_usec(void)
{
    return watchdog_usec;
}

void notify_close(void)
{
    if (notify_fd >= 0)
        close(notify_fd);
    notify_fd = -1;
}
