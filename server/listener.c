#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#define LISTENER_UNIX_PREFIX "unix:"
#define LISTENER_UNIX_MODE 0666

typedef struct listener {
    char name[128];              /* "127.0.0.1:8080", "[::1]:8080", "unix:/path" */
    bool is_unix;
    struct sockaddr_storage sa;  /* bound address; TCP: with the real port after port 0 */
    socklen_t salen;
    dev_t unix_dev;              /* unix: the file we created, so close unlinks only it */
    ino_t unix_ino;
    bool unix_created;
    int fds[CONFIG_MAX_WORKERS]; /* TCP: one per slot; unix: fds[0] only; -1 = closed */
} listener;

struct listener_set {
    pid_t owner; /* the process that bound the sockets; only it unlinks unix paths */
    int nslots;  /* TCP listeners hold a socket for each slot 0 .. nslots-1 */
    int n;       /* listeners in l[] (some may be half open while opening) */
    listener l[CONFIG_MAX_LISTEN];
};

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static unsigned sa_port(const listener *l)
{
    if (l->sa.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&l->sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)&l->sa)->sin_port);
}

/* Sets l->name from l->sa: "1.2.3.4:80" or "[::1]:80". */
static void tcp_name(listener *l)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (l->sa.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&l->sa)->sin6_addr, host, sizeof(host));
        snprintf(l->name, sizeof(l->name), "[%s]:%u", host, sa_port(l));
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&l->sa)->sin_addr, host, sizeof(host));
        snprintf(l->name, sizeof(l->name), "%s:%u", host, sa_port(l));
    }
}

static bool valid_port(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n >= 1 && n <= 5 && s[n] == '\0' && atoi(s) <= 65535;
}

/*
 * Resolves "host:port", "[v6]:port" or "*:port" (any IPv4 address) into
 * l->sa: getaddrinfo(AI_PASSIVE | AI_NUMERICSERV), first result.
 */
static int tcp_resolve(listener *l, const char *spec, char *err, size_t errlen)
{
    char host[CONFIG_STR];
    const char *port;
    int family = AF_UNSPEC;

    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':')
            goto bad;
        snprintf(host, sizeof(host), "%.*s", (int)(end - spec - 1), spec + 1);
        port = end + 2;
        family = AF_INET6;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon)
            goto bad;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
        if (strchr(host, ':'))
            goto bad; /* an IPv6 address needs brackets */
        port = colon + 1;
    }
    if (!valid_port(port))
        goto bad;

    const char *node = host;
    if (host[0] == '\0' || strcmp(host, "*") == 0) {
        node = NULL;
        if (family == AF_UNSPEC)
            family = AF_INET;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(node, port, &hints, &res);
    if (rc != 0) {
        set_err(err, errlen, "getaddrinfo() for \"%s\" failed: %s", spec,
                rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    memcpy(&l->sa, res->ai_addr, res->ai_addrlen);
    l->salen = res->ai_addrlen;
    freeaddrinfo(res);
    tcp_name(l);
    return 0;

bad:
    set_err(err, errlen, "listen \"%s\": expected host:port, [v6]:port or unix:/path", spec);
    return -1;
}

/*
 * A TCP socket bound to l->sa. With reuseport it joins the address's
 * SO_REUSEPORT group and listens; without, it is the probe that fails if
 * anyone already listens there (see listener.h).
 */
static int tcp_socket(const listener *l, bool reuseport, char *err, size_t errlen)
{
    const struct sockaddr *sa = (const struct sockaddr *)&l->sa;
    const char *what;
    int one = 1;

    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        what = "socket() for";
        goto fail;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
        what = "setsockopt(SO_REUSEADDR) on";
        goto fail;
    }
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        what = "setsockopt(SO_REUSEPORT) on";
        goto fail;
    }
    if (sa->sa_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
        what = "setsockopt(IPV6_V6ONLY) on";
        goto fail;
    }
    if (bind(fd, sa, l->salen) < 0) {
        what = "bind() to";
        goto fail;
    }
    if (reuseport && listen(fd, LISTENER_BACKLOG) < 0) {
        what = "listen() on";
        goto fail;
    }
    return fd;

fail:;
    int e = errno;
    set_err(err, errlen, "%s %s failed: %s", what, l->name, strerror(e));
    close_fd(&fd);
    return -1;
}

/* Binds one reuseport socket per slot; port 0 is chosen by slot 0's bind. */
static int tcp_open(listener *l, const char *spec, int nslots, char *err, size_t errlen)
{
    if (tcp_resolve(l, spec, err, errlen) < 0)
        return -1;
    bool ephemeral = sa_port(l) == 0;
    if (!ephemeral) {
        int probe = tcp_socket(l, false, err, errlen);
        if (probe < 0)
            return -1;
        close(probe);
    }
    for (int slot = 0; slot < nslots; slot++) {
        l->fds[slot] = tcp_socket(l, true, err, errlen);
        if (l->fds[slot] < 0)
            return -1;
        if (slot == 0 && ephemeral) {
            l->salen = sizeof(l->sa);
            if (getsockname(l->fds[0], (struct sockaddr *)&l->sa, &l->salen) < 0) {
                set_err(err, errlen, "getsockname() on %s failed: %s", l->name, strerror(errno));
                return -1;
            }
            tcp_name(l);
        }
    }
    return 0;
}

/*
 * Removes a socket file nobody listens on any more. Refuses a file that is not
 * a socket and a socket a live server accepts on.
 */
static int unix_remove_stale(const listener *l, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        set_err(err, errlen, "stat() of %s failed: %s", l->name, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        set_err(err, errlen, "bind() to %s failed: the file exists and is not a socket", l->name);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, errlen, "socket() for %s failed: %s", l->name, strerror(errno));
        return -1;
    }
    int rc = connect(fd, (const struct sockaddr *)&l->sa, l->salen);
    int e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN) {
        set_err(err, errlen, "bind() to %s failed: a server is listening on it", l->name);
        return -1;
    }
    if (e != ECONNREFUSED) {
        set_err(err, errlen, "connect() to %s failed: %s", l->name, strerror(e));
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        set_err(err, errlen, "unlink() of stale %s failed: %s", l->name, strerror(errno));
        return -1;
    }
    log_info("removed stale socket %s", l->name);
    return 0;
}

/* One socket for all slots, mode 0666. */
static int unix_open(listener *l, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&l->sa;
    l->is_unix = true;
    snprintf(l->name, sizeof(l->name), "%s%s", LISTENER_UNIX_PREFIX, path);
    if (path[0] == '\0' || strlen(path) >= sizeof(sun->sun_path)) {
        set_err(err, errlen, "listen \"%s\": the path must be 1 to %zu bytes long", l->name,
                sizeof(sun->sun_path) - 1);
        return -1;
    }
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, strlen(path) + 1);
    l->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);

    if (unix_remove_stale(l, path, err, errlen) < 0)
        return -1;
    l->fds[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fds[0] < 0) {
        set_err(err, errlen, "socket() for %s failed: %s", l->name, strerror(errno));
        return -1;
    }
    if (bind(l->fds[0], (const struct sockaddr *)sun, l->salen) < 0) {
        set_err(err, errlen, "bind() to %s failed: %s", l->name, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        l->unix_created = true;
        l->unix_dev = st.st_dev;
        l->unix_ino = st.st_ino;
    }
    if (chmod(path, LISTENER_UNIX_MODE) < 0) {
        set_err(err, errlen, "chmod() of %s failed: %s", l->name, strerror(errno));
        return -1;
    }
    if (listen(l->fds[0], LISTENER_BACKLOG) < 0) {
        set_err(err, errlen, "listen() on %s failed: %s", l->name, strerror(errno));
        return -1;
    }
    return 0;
}

/* Unlinks the unix socket file if it still is the one this listener created. */
static void unix_unlink(const listener *l)
{
    const char *path = ((const struct sockaddr_un *)&l->sa)->sun_path;
    struct stat st;
    if (!l->unix_created || lstat(path, &st) < 0)
        return;
    if (st.st_dev == l->unix_dev && st.st_ino == l->unix_ino)
        unlink(path);
}

listener_set *listener_set_open(const config *cfg, int nslots, char *err, size_t errlen)
{
    if (nslots < 1 || nslots > CONFIG_MAX_WORKERS) {
        set_err(err, errlen, "listeners: %d worker slots is outside 1..%d", nslots,
                CONFIG_MAX_WORKERS);
        return NULL;
    }
    if (cfg->n_listen < 1 || cfg->n_listen > CONFIG_MAX_LISTEN) {
        set_err(err, errlen, "listeners: %d listen addresses is outside 1..%d", cfg->n_listen,
                CONFIG_MAX_LISTEN);
        return NULL;
    }
    listener_set *ls = calloc(1, sizeof(*ls));
    if (!ls) {
        set_err(err, errlen, "listeners: out of memory");
        return NULL;
    }
    ls->owner = getpid();
    ls->nslots = nslots;
    for (int i = 0; i < cfg->n_listen; i++) {
        listener *l = &ls->l[i];
        const char *spec = cfg->listen[i];
        for (int s = 0; s < CONFIG_MAX_WORKERS; s++)
            l->fds[s] = -1;
        ls->n = i + 1;
        int rc = strncmp(spec, LISTENER_UNIX_PREFIX, strlen(LISTENER_UNIX_PREFIX)) == 0
                     ? unix_open(l, spec + strlen(LISTENER_UNIX_PREFIX), err, errlen)
                     : tcp_open(l, spec, nslots, err, errlen);
        if (rc < 0)
            goto err;
    }
    for (int i = 0; i < ls->n; i++) {
        int nfds = ls->l[i].is_unix ? 1 : nslots;
        log_notice("listening on %s (%d socket%s)", ls->l[i].name, nfds, nfds == 1 ? "" : "s");
    }
    return ls;

err:
    listener_set_close(ls);
    return NULL;
}

int listener_set_nslots(const listener_set *ls) { return ls->nslots; }

int listener_set_slot_fds(const listener_set *ls, int slot, int *fds, int max)
{
    if (slot < 0 || slot >= ls->nslots || ls->n > max)
        return -1;
    for (int i = 0; i < ls->n; i++)
        fds[i] = ls->l[i].fds[ls->l[i].is_unix ? 0 : slot];
    return ls->n;
}

int listener_set_grow(listener_set *ls, int nslots, char *err, size_t errlen)
{
    if (nslots > CONFIG_MAX_WORKERS) {
        set_err(err, errlen, "listeners: cannot grow to %d slots (at most %d)", nslots,
                CONFIG_MAX_WORKERS);
        return -1;
    }
    for (int i = 0; i < ls->n; i++) {
        listener *l = &ls->l[i];
        for (int slot = ls->nslots; slot < nslots && !l->is_unix; slot++) {
            l->fds[slot] = tcp_socket(l, true, err, errlen);
            if (l->fds[slot] < 0)
                goto err;
        }
    }
    if (nslots > ls->nslots)
        ls->nslots = nslots;
    return 0;

err:
    for (int i = 0; i < ls->n; i++) {
        for (int slot = ls->nslots; slot < nslots && !ls->l[i].is_unix; slot++)
            close_fd(&ls->l[i].fds[slot]);
    }
    return -1;
}

void listener_set_shrink(listener_set *ls, int nslots)
{
    if (nslots < 0 || nslots >= ls->nslots)
        return;
    for (int i = 0; i < ls->n; i++) {
        for (int slot = nslots; slot < ls->nslots && !ls->l[i].is_unix; slot++)
            close_fd(&ls->l[i].fds[slot]);
    }
    ls->nslots = nslots;
}

void listener_set_close_others(listener_set *ls, int slot)
{
    ls->owner = 0; /* never unlink from here */
    for (int i = 0; i < ls->n; i++) {
        for (int s = 0; s < ls->nslots && !ls->l[i].is_unix; s++) {
            if (s != slot)
                close_fd(&ls->l[i].fds[s]);
        }
    }
}

void listener_set_close(listener_set *ls)
{
    if (!ls)
        return;
    for (int i = 0; i < ls->n; i++) {
        listener *l = &ls->l[i];
        for (int s = 0; s < CONFIG_MAX_WORKERS; s++)
            close_fd(&l->fds[s]);
        if (l->is_unix && ls->owner == getpid())
            unix_unlink(l);
    }
    free(ls);
}
