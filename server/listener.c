#include "listener_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/tcp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "errbuf.h"
#include "log.h"

#define LISTENER_UNIX_MODE 0666
#define LISTENER_SD_FDS_START 3 /* SD_LISTEN_FDS_START of sd_listen_fds(3) */

struct listener_set {
    pid_t owner; /* the process that bound the sockets; only it unlinks unix paths */
    int nslots;  /* TCP listeners hold a socket for slots below this (some may be closed) */
    bool activated; /* the sockets came from systemd; "listen" is ignored */
    int n;       /* listeners in l[] (some may be half open while opening) */
    listener l[CONFIG_MAX_LISTEN];
};

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
void listener_tcp_name(listener *l)
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

int listener_tcp_resolve(listener *l, const char *spec, char *err, size_t errlen)
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
    if (rc != 0)
        return errbuf_fail(err, errlen, "getaddrinfo() for \"%s\" failed: %s", spec,
                           rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    memcpy(&l->sa, res->ai_addr, res->ai_addrlen);
    l->salen = res->ai_addrlen;
    freeaddrinfo(res);
    listener_tcp_name(l);
    return 0;

bad:
    return errbuf_fail(err, errlen, "listen \"%s\": expected host:port, [v6]:port or unix:/path",
                       spec);
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
    close_fd(&fd);
    return errbuf_fail(err, errlen, "%s %s failed: %s", what, l->name, strerror(e));
}

/* Binds one reuseport socket per slot; port 0 is chosen by slot 0's bind. */
static int tcp_open(listener *l, const char *spec, int nslots, char *err, size_t errlen)
{
    if (listener_tcp_resolve(l, spec, err, errlen) < 0)
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
            if (getsockname(l->fds[0], (struct sockaddr *)&l->sa, &l->salen) < 0)
                return errbuf_fail(err, errlen, "getsockname() on %s failed: %s", l->name,
                                   strerror(errno));
            listener_tcp_name(l);
        }
    }
    return 0;
}

int listener_unix_probe(const listener *l, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return errbuf_fail(err, errlen, "stat() of %s failed: %s", l->name, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return errbuf_fail(err, errlen, "bind() to %s failed: the file exists and is not a socket",
                           l->name);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errbuf_fail(err, errlen, "socket() for %s failed: %s", l->name, strerror(errno));
    int rc = connect(fd, (const struct sockaddr *)&l->sa, l->salen);
    int e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN)
        return errbuf_fail(err, errlen, "bind() to %s failed: a server is listening on it",
                           l->name);
    if (e != ECONNREFUSED)
        return errbuf_fail(err, errlen, "connect() to %s failed: %s", l->name, strerror(e));
    return 1;
}

/*
 * Removes a socket file nobody listens on any more. Refuses a file that is not
 * a socket and a socket a live server accepts on.
 */
static int unix_remove_stale(const listener *l, const char *path, char *err, size_t errlen)
{
    int rc = listener_unix_probe(l, path, err, errlen);
    if (rc <= 0)
        return rc;
    if (unlink(path) < 0 && errno != ENOENT)
        return errbuf_fail(err, errlen, "unlink() of stale %s failed: %s", l->name,
                           strerror(errno));
    log_info("removed stale socket %s", l->name);
    return 0;
}

int listener_unix_addr(listener *l, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&l->sa;
    l->is_unix = true;
    l->shared = true;
    snprintf(l->name, sizeof(l->name), "%s%s", LISTENER_UNIX_PREFIX, path);
    if (path[0] == '\0' || strlen(path) >= sizeof(sun->sun_path))
        return errbuf_fail(err, errlen, "listen \"%s\": the path must be 1 to %zu bytes long",
                           l->name, sizeof(sun->sun_path) - 1);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, strlen(path) + 1);
    l->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    return 0;
}

/* One socket for all slots, mode 0666. */
static int unix_open(listener *l, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&l->sa;
    if (listener_unix_addr(l, path, err, errlen) < 0 || unix_remove_stale(l, path, err, errlen) < 0)
        return -1;
    l->fds[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fds[0] < 0)
        return errbuf_fail(err, errlen, "socket() for %s failed: %s", l->name, strerror(errno));
    if (bind(l->fds[0], (const struct sockaddr *)sun, l->salen) < 0)
        return errbuf_fail(err, errlen, "bind() to %s failed: %s", l->name, strerror(errno));
    struct stat st;
    if (lstat(path, &st) == 0) {
        l->unix_created = true;
        l->unix_dev = st.st_dev;
        l->unix_ino = st.st_ino;
    }
    if (chmod(path, LISTENER_UNIX_MODE) < 0)
        return errbuf_fail(err, errlen, "chmod() of %s failed: %s", l->name, strerror(errno));
    if (listen(l->fds[0], LISTENER_BACKLOG) < 0)
        return errbuf_fail(err, errlen, "listen() on %s failed: %s", l->name, strerror(errno));
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

/* ---- sets ------------------------------------------------------------------ */

static listener_set *set_new(int nslots)
{
    listener_set *ls = calloc(1, sizeof(*ls));
    if (!ls)
        return NULL;
    ls->owner = getpid();
    ls->nslots = nslots;
    for (int i = 0; i < CONFIG_MAX_LISTEN; i++) {
        for (int s = 0; s < CONFIG_MAX_WORKERS; s++)
            ls->l[i].fds[s] = -1;
    }
    return ls;
}

static int check_counts(const config *cfg, int nslots, char *err, size_t errlen)
{
    if (nslots < 1 || nslots > CONFIG_MAX_WORKERS)
        return errbuf_fail(err, errlen, "listeners: %d worker slots is outside 1..%d", nslots,
                           CONFIG_MAX_WORKERS);
    if (cfg->n_listen < 1 || cfg->n_listen > CONFIG_MAX_LISTEN)
        return errbuf_fail(err, errlen, "listeners: %d listen addresses is outside 1..%d",
                           cfg->n_listen, CONFIG_MAX_LISTEN);
    return 0;
}

bool listener_is_unix_spec(const char *spec)
{
    return strncmp(spec, LISTENER_UNIX_PREFIX, strlen(LISTENER_UNIX_PREFIX)) == 0;
}

static int open_one(listener *l, const char *spec, int nslots, char *err, size_t errlen)
{
    snprintf(l->spec, sizeof(l->spec), "%s", spec);
    return listener_is_unix_spec(spec)
               ? unix_open(l, spec + strlen(LISTENER_UNIX_PREFIX), err, errlen)
               : tcp_open(l, spec, nslots, err, errlen);
}

static void log_listener(const listener *l, int nslots, const char *how)
{
    if (l->activated)
        log_notice("listening on %s (from systemd, shared by every worker)", l->name);
    else {
        int n = l->shared ? 1 : nslots;
        log_notice("%s %s (%d socket%s)", how, l->name, n, n == 1 ? "" : "s");
    }
}

/*
 * sd_listen_fds(3) without libsystemd: LISTEN_PID must be us, LISTEN_FDS
 * counts fds from 3 on. Returns how many, 0 when not activated. The
 * variables are unset so the workers do not see them.
 */
static int activation_fds(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int n = 0;
    if (pid && fds && strtol(pid, NULL, 10) == (long)getpid()) {
        long v = strtol(fds, NULL, 10);
        n = v > 0 && v <= CONFIG_MAX_LISTEN ? (int)v : 0;
        if (v > CONFIG_MAX_LISTEN)
            log_error("LISTEN_FDS=%ld: at most %d sockets are supported", v, CONFIG_MAX_LISTEN);
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return n;
}

/* Adopts fd 3 + i from systemd: must be a listening stream socket. */
static int activated_open(listener *l, int fd, char *err, size_t errlen)
{
    int type = 0, acc = 0;
    socklen_t len = sizeof(type);
    l->fds[0] = fd;
    l->shared = l->activated = true;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
        return errbuf_fail(err, errlen, "socket fd %d from systemd is not a stream socket", fd);
    len = sizeof(acc);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc)
        return errbuf_fail(err, errlen, "socket fd %d from systemd is not listening", fd);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return errbuf_fail(err, errlen, "fcntl() on socket fd %d from systemd failed: %s", fd,
                           strerror(errno));
    l->salen = sizeof(l->sa);
    if (getsockname(fd, (struct sockaddr *)&l->sa, &l->salen) < 0)
        return errbuf_fail(err, errlen, "getsockname() on socket fd %d from systemd failed: %s", fd,
                           strerror(errno));
    if (l->sa.ss_family == AF_UNIX) {
        l->is_unix = true;
        snprintf(l->name, sizeof(l->name), "%s%s", LISTENER_UNIX_PREFIX,
                 ((struct sockaddr_un *)&l->sa)->sun_path);
    } else {
        listener_tcp_name(l);
    }
    return 0;
}

listener_set *listener_set_open(const config *cfg, int nslots, char *err, size_t errlen)
{
    if (check_counts(cfg, nslots, err, errlen) < 0)
        return NULL;
    listener_set *ls = set_new(nslots);
    if (!ls) {
        errbuf_fail(err, errlen, "listeners: out of memory");
        return NULL;
    }
    int nact = activation_fds();
    if (nact > 0) {
        ls->activated = true;
        log_notice("using %d socket%s passed by systemd; \"listen\" is ignored", nact,
                   nact == 1 ? "" : "s");
        for (int i = 0; i < nact; i++) {
            ls->n = i + 1;
            if (activated_open(&ls->l[i], LISTENER_SD_FDS_START + i, err, errlen) < 0)
                goto err;
        }
    } else {
        for (int i = 0; i < cfg->n_listen; i++) {
            ls->n = i + 1;
            if (open_one(&ls->l[i], cfg->listen[i], nslots, err, errlen) < 0)
                goto err;
        }
    }
    for (int i = 0; i < ls->n; i++)
        log_listener(&ls->l[i], nslots, "listening on");
    return ls;

err:
    listener_set_close(ls);
    return NULL;
}

/* The listener of cur that spec denotes, or NULL: same spec, or (TCP with a
 * fixed port) the same resolved address. */
static const listener *find_kept(const listener_set *cur, const char *spec)
{
    for (int i = 0; i < cur->n; i++) {
        if (strcmp(cur->l[i].spec, spec) == 0)
            return &cur->l[i];
    }
    if (listener_is_unix_spec(spec))
        return NULL;
    listener probe = {0};
    char err[256];
    if (listener_tcp_resolve(&probe, spec, err, sizeof(err)) < 0 || sa_port(&probe) == 0)
        return NULL;
    for (int i = 0; i < cur->n; i++) {
        if (!cur->l[i].is_unix && !cur->l[i].activated &&
            strcmp(cur->l[i].name, probe.name) == 0)
            return &cur->l[i];
    }
    return NULL;
}

/* Copies old into l with dup()s of its sockets for slots 0 .. nslots-1 (new
 * sockets for the slots old never had). The copy never unlinks a unix path
 * until listener_set_commit() hands that duty over. */
static int keep_one(listener *l, const listener *old, int old_nslots, int nslots, char *err,
                    size_t errlen)
{
    *l = *old;
    l->unix_created = false;
    for (int s = 0; s < CONFIG_MAX_WORKERS; s++)
        l->fds[s] = -1;
    int top = l->shared ? 1 : nslots;
    for (int s = 0; s < top; s++) {
        if (s < (l->shared ? 1 : old_nslots) && old->fds[s] >= 0) {
            l->fds[s] = fcntl(old->fds[s], F_DUPFD_CLOEXEC, 0);
            if (l->fds[s] < 0)
                return errbuf_fail(err, errlen, "dup() of the socket of %s failed: %s", l->name,
                                   strerror(errno));
        } else {
            l->fds[s] = tcp_socket(l, true, err, errlen);
            if (l->fds[s] < 0)
                return -1;
        }
    }
    return 0;
}

listener_set *listener_set_reload(const listener_set *cur, const config *cfg, int nslots,
                                  char *err, size_t errlen)
{
    if (check_counts(cfg, nslots, err, errlen) < 0)
        return NULL;
    int keep_slots = nslots > cur->nslots ? nslots : cur->nslots;
    listener_set *ls = set_new(keep_slots);
    if (!ls) {
        errbuf_fail(err, errlen, "listeners: out of memory");
        return NULL;
    }
    ls->activated = cur->activated;
    if (cur->activated) {
        for (int i = 0; i < cur->n; i++) {
            ls->n = i + 1;
            if (keep_one(&ls->l[i], &cur->l[i], cur->nslots, keep_slots, err, errlen) < 0)
                goto err;
        }
        return ls;
    }
    for (int i = 0; i < cfg->n_listen; i++) {
        const listener *old = find_kept(cur, cfg->listen[i]);
        ls->n = i + 1;
        int rc = old ? keep_one(&ls->l[i], old, cur->nslots, keep_slots, err, errlen)
                     : open_one(&ls->l[i], cfg->listen[i], nslots, err, errlen);
        if (rc < 0)
            goto err;
        snprintf(ls->l[i].spec, sizeof(ls->l[i].spec), "%s", cfg->listen[i]);
        log_listener(&ls->l[i], old ? keep_slots : nslots,
                     old ? "still listening on" : "listening on");
    }
    return ls;

err:
    listener_set_close(ls);
    return NULL;
}

void listener_set_commit(listener_set *cur, listener_set *next)
{
    /* A kept unix socket file is now next's to unlink, not cur's. */
    for (int i = 0; i < next->n; i++) {
        listener *l = &next->l[i];
        for (int j = 0; l->is_unix && !l->activated && j < cur->n; j++) {
            listener *o = &cur->l[j];
            if (o->is_unix && strcmp(o->name, l->name) == 0 && o->unix_created) {
                l->unix_created = true;
                l->unix_dev = o->unix_dev;
                l->unix_ino = o->unix_ino;
                o->unix_created = false;
            }
        }
    }
    for (int j = 0; j < cur->n; j++) {
        bool kept = false;
        for (int i = 0; i < next->n && !kept; i++)
            kept = strcmp(cur->l[j].name, next->l[i].name) == 0;
        if (!kept)
            log_notice("no longer listening on %s", cur->l[j].name);
    }
    listener_set_close(cur);
}

int listener_set_nslots(const listener_set *ls) { return ls->nslots; }

bool listener_set_activated(const listener_set *ls) { return ls->activated; }

int listener_set_slot_fds(const listener_set *ls, int slot, int *fds, int max)
{
    if (slot < 0 || slot >= ls->nslots || ls->n > max)
        return -1;
    for (int i = 0; i < ls->n; i++) {
        fds[i] = ls->l[i].fds[ls->l[i].shared ? 0 : slot];
        if (fds[i] < 0)
            return -1;
    }
    return ls->n;
}

int listener_set_grow(listener_set *ls, int nslots, char *err, size_t errlen)
{
    if (nslots > CONFIG_MAX_WORKERS)
        return errbuf_fail(err, errlen, "listeners: cannot grow to %d slots (at most %d)", nslots,
                           CONFIG_MAX_WORKERS);
    for (int i = 0; i < ls->n; i++) {
        listener *l = &ls->l[i];
        for (int slot = 0; slot < nslots && !l->shared; slot++) {
            if (l->fds[slot] >= 0)
                continue;
            l->fds[slot] = tcp_socket(l, true, err, errlen);
            if (l->fds[slot] < 0)
                goto err;
        }
    }
    if (nslots > ls->nslots)
        ls->nslots = nslots;
    return 0;

err:
    /* Sockets of slots at or above ls->nslots were opened here: close them. */
    for (int i = 0; i < ls->n; i++) {
        for (int slot = ls->nslots; slot < nslots && !ls->l[i].shared; slot++)
            close_fd(&ls->l[i].fds[slot]);
    }
    return -1;
}

void listener_set_release_slot(listener_set *ls, int slot)
{
    if (slot < 0 || slot >= CONFIG_MAX_WORKERS)
        return;
    for (int i = 0; i < ls->n; i++) {
        if (!ls->l[i].shared)
            close_fd(&ls->l[i].fds[slot]);
    }
    int top = 0;
    for (int i = 0; i < ls->n; i++) {
        for (int s = 0; s < CONFIG_MAX_WORKERS && !ls->l[i].shared; s++) {
            if (ls->l[i].fds[s] >= 0 && s + 1 > top)
                top = s + 1;
        }
    }
    bool any_tcp = false;
    for (int i = 0; i < ls->n; i++)
        any_tcp |= !ls->l[i].shared;
    if (any_tcp)
        ls->nslots = top;
    else if (slot + 1 == ls->nslots)
        ls->nslots = slot; /* shared only: slots are just a count */
}

/*
 * Classic BPF for SO_ATTACH_REUSEPORT_CBPF: returns a random index below n.
 * The kernel maps the index to the n-th socket that joined the group, and
 * our sockets join in slot order (slots are added and removed at the top
 * only), so index i is slot i's socket.
 */
int listener_set_steer(listener_set *ls, int nslots, char *err, size_t errlen)
{
    struct sock_filter code[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(SKF_AD_OFF + SKF_AD_RANDOM)},
        {BPF_ALU | BPF_MOD | BPF_K, 0, 0, (uint32_t)(nslots > 0 ? nslots : 1)},
        {BPF_RET | BPF_A, 0, 0, 0},
    };
    struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};
    for (int i = 0; i < ls->n; i++) {
        listener *l = &ls->l[i];
        if (l->shared || l->fds[0] < 0)
            continue;
        if (setsockopt(l->fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) <
            0)
            return errbuf_fail(err, errlen, "setsockopt(SO_ATTACH_REUSEPORT_CBPF) on %s failed: %s",
                               l->name, strerror(errno));
    }
    return 0;
}

int listener_set_slot_queued(const listener_set *ls, int slot)
{
    int total = 0;
    for (int i = 0; i < ls->n; i++) {
        const listener *l = &ls->l[i];
        if (l->shared || slot < 0 || slot >= CONFIG_MAX_WORKERS || l->fds[slot] < 0)
            continue;
        struct tcp_info ti;
        socklen_t len = sizeof(ti);
        memset(&ti, 0, sizeof(ti));
        if (getsockopt(l->fds[slot], IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
            return -1;
        total += (int)ti.tcpi_unacked; /* on a listener: connections waiting for accept() */
    }
    return total;
}

void listener_set_close_others(listener_set *ls, int slot)
{
    ls->owner = 0; /* never unlink from here */
    for (int i = 0; i < ls->n; i++) {
        for (int s = 0; s < CONFIG_MAX_WORKERS && !ls->l[i].shared; s++) {
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
