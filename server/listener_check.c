/*
 * listener_check.c - listener_check(): what listener_set_open() would refuse,
 * found without binding anything.
 */
#include "listener_int.h"

#include "errbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define CAP_NET_BIND_SERVICE_BIT 10 /* linux/capability.h */

/* An integer from a one-number file of /proc, or def when it cannot be read. */
static long proc_long(const char *path, long def)
{
    long v = def;
    FILE *f = fopen(path, "re");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = def;
        fclose(f);
    }
    return v;
}

/* Whether this process may bind ports below ip_unprivileged_port_start:
 * CAP_NET_BIND_SERVICE in its effective set (root has it unless dropped).
 * True when /proc cannot tell. */
static bool may_bind_low_ports(void)
{
    char line[256];
    bool ok = true;
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return true;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "CapEff:", 7) == 0) {
            unsigned long long caps = strtoull(line + 7, NULL, 16);
            ok = (caps >> CAP_NET_BIND_SERVICE_BIT) & 1;
            break;
        }
    }
    fclose(f);
    return ok;
}

static unsigned port_of(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

/* Whether bind() can take the address: the wildcard, loopback, an address
 * of an interface, or any with ip_nonlocal_bind. */
static bool address_local(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET) {
        struct in_addr a = ((const struct sockaddr_in *)sa)->sin_addr;
        uint32_t h = ntohl(a.s_addr);
        if (h == INADDR_ANY || (h >> 24) == 127 ||
            proc_long("/proc/sys/net/ipv4/ip_nonlocal_bind", 0))
            return true;
    } else {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) ||
            proc_long("/proc/sys/net/ipv6/ip_nonlocal_bind", 0))
            return true;
    }
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) < 0)
        return true; /* cannot tell: let bind() say */
    bool found = false;
    for (struct ifaddrs *i = list; i && !found; i = i->ifa_next) {
        const struct sockaddr *ia = i->ifa_addr;
        if (!ia || ia->sa_family != sa->ss_family)
            continue;
        if (ia->sa_family == AF_INET)
            found = ((const struct sockaddr_in *)ia)->sin_addr.s_addr ==
                    ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
        else
            found = memcmp(&((const struct sockaddr_in6 *)ia)->sin6_addr,
                           &((const struct sockaddr_in6 *)sa)->sin6_addr, sizeof(struct in6_addr)) == 0;
    }
    freeifaddrs(list);
    return found;
}

static int tcp_check(listener *l, const char *spec, char *err, size_t errlen)
{
    if (listener_tcp_resolve(l, spec, err, errlen) < 0)
        return -1;
    long low = proc_long("/proc/sys/net/ipv4/ip_unprivileged_port_start", 1024);
    unsigned port = port_of(&l->sa);
    if (port != 0 && port < (unsigned long)low && !may_bind_low_ports())
        return errbuf_fail(err, errlen,
                           "bind() to %s would fail: ports below %ld need root or "
                           "CAP_NET_BIND_SERVICE",
                           l->name, low);
    if (!address_local(&l->sa))
        return errbuf_fail(err, errlen, "bind() to %s would fail: no interface has that address",
                           l->name);
    return 0;
}

static int unix_check(listener *l, const char *path, char *err, size_t errlen)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (listener_unix_addr(l, path, err, errlen) < 0 ||
        listener_unix_probe(l, path, err, errlen) < 0)
        return -1;
    snprintf(dir, sizeof(dir), "%s", path);
    const char *d = dirname(dir);
    if (access(d, W_OK | X_OK) < 0)
        return errbuf_fail(err, errlen, "bind() to %s would fail: directory %s: %s", l->name, d,
                           strerror(errno));
    return 0;
}

int listener_check(const config *cfg, char *err, size_t errlen)
{
    if (listener_env_fds() > 0)
        return 0; /* the sockets come from systemd: "listen" is ignored */
    for (int i = 0; i < cfg->n_listen; i++) {
        static listener l; /* large; the master is single-threaded */
        const char *spec = cfg->listen[i];
        memset(&l, 0, sizeof(l));
        char why[600];
        int rc = listener_is_unix_spec(spec)
                     ? unix_check(&l, spec + strlen(LISTENER_UNIX_PREFIX), why, sizeof(why))
                     : tcp_check(&l, spec, why, sizeof(why));
        if (rc < 0)
            return errbuf_fail(err, errlen, "listen[%d]: %s", i, why);
    }
    return 0;
}
