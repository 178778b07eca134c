/*
 * listener_loopback.c - listener_loopback_only(): whether only this host
 * can reach the addresses crunchd listens on (protected mode,
 * auth_master.h), and listener_env_fds().
 */
#include "listener_int.h"

#include "errbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define SD_FDS_START 3 /* SD_LISTEN_FDS_START of sd_listen_fds(3) */

int listener_env_fds(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
        return 0;
    long n = strtol(fds, NULL, 10);
    return n > 0 && n <= 0x7fffffff ? (int)n : 0;
}

/* 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104, or a unix socket. */
static bool sa_local_only(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_UNIX)
        return true;
    if (sa->ss_family == AF_INET)
        return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24 == 127;
    if (sa->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* The sockets passed by systemd: their bound addresses decide. */
static int fds_local_only(const int *fds, int n, char *which, size_t whichlen, char *err,
                          size_t errlen)
{
    for (int i = 0; i < n; i++) {
        static listener l; /* large; the master is single-threaded */
        memset(&l, 0, sizeof(l));
        l.salen = sizeof(l.sa);
        if (getsockname(fds[i], (struct sockaddr *)&l.sa, &l.salen) < 0)
            return errbuf_fail(err, errlen, "getsockname() on socket fd %d from systemd failed: %s",
                               fds[i], strerror(errno));
        if (sa_local_only(&l.sa))
            continue;
        listener_tcp_name(&l);
        snprintf(which, whichlen, "the socket from systemd on %s (fd %d)", l.name, fds[i]);
        return 0;
    }
    return 1;
}

/* The "listen" addresses, resolved as listener_set_open() binds them. */
static int specs_local_only(const config *cfg, char *which, size_t whichlen, char *err,
                            size_t errlen)
{
    for (int i = 0; i < cfg->n_listen; i++) {
        static listener l;
        const char *spec = cfg->listen[i];
        char why[600];
        if (listener_is_unix_spec(spec))
            continue;
        memset(&l, 0, sizeof(l));
        if (listener_tcp_resolve(&l, spec, why, sizeof(why)) < 0)
            return errbuf_fail(err, errlen, "listen[%d]: %s", i, why);
        if (sa_local_only(&l.sa))
            continue;
        if (strcmp(spec, l.name) == 0)
            snprintf(which, whichlen, "listen[%d] (%s)", i, spec);
        else
            snprintf(which, whichlen, "listen[%d] (%s, that is %s)", i, spec, l.name);
        return 0;
    }
    return 1;
}

int listener_loopback_only(const config *cfg, const listener_set *ls, char *which, size_t whichlen,
                           char *err, size_t errlen)
{
    int fds[CONFIG_MAX_LISTEN], n = 0;
    if (ls && listener_set_activated(ls)) {
        n = listener_set_slot_fds(ls, 0, fds, CONFIG_MAX_LISTEN);
        if (n < 0)
            return errbuf_fail(err, errlen, "the sockets from systemd cannot be listed");
    } else if (!ls) {
        n = listener_env_fds();
        n = n <= CONFIG_MAX_LISTEN ? n : 0; /* as listener_set_open(): more are refused */
        for (int i = 0; i < n; i++)
            fds[i] = SD_FDS_START + i;
    }
    if (n > 0)
        return fds_local_only(fds, n, which, whichlen, err, errlen);
    return specs_local_only(cfg, which, whichlen, err, errlen);
}
