#include "wake.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* "\0crunchd-<master>-<pid>": abstract names vanish with their socket. */
static socklen_t wake_addr(struct sockaddr_un *sa, pid_t master, pid_t pid)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "crunchd-%d-%d", (int)master,
                     (int)pid);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

int wake_open(pid_t master, pid_t self)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un sa;
    socklen_t len = wake_addr(&sa, master, self);
    if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int wake_send(pid_t master, pid_t to, wake_kind kind, const char *payload, size_t len)
{
    /* One sending socket per thread: sendto on an unbound datagram socket
     * needs no state of its own. */
    static __thread int fd = -1;
    if (fd < 0 && (fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    char msg[WAKE_MSG_MAX + 1];
    if (len > WAKE_MSG_MAX)
        len = WAKE_MSG_MAX;
    msg[0] = (char)kind;
    if (len)
        memcpy(msg + 1, payload, len);
    struct sockaddr_un sa;
    socklen_t salen = wake_addr(&sa, master, to);
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
