/*
 * listener_int.h - what listener.c and listener_check.c share (internal to
 * server/listener*.c): one listener and the steps of opening one that change
 * nothing (resolving an address, looking at a unix socket path).
 */
#ifndef CRUNCHD_LISTENER_INT_H
#define CRUNCHD_LISTENER_INT_H

#include "listener.h"

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#define LISTENER_UNIX_PREFIX "unix:"

typedef struct listener {
    char spec[CONFIG_STR];       /* the "listen" entry it came from; "" if activated */
    char name[128];              /* "127.0.0.1:8080", "[::1]:8080", "unix:/path" */
    bool is_unix;
    bool shared;                 /* one socket for every slot: unix or from systemd */
    bool activated;              /* passed by systemd (LISTEN_FDS) */
    struct sockaddr_storage sa;  /* bound address; TCP: with the real port after port 0 */
    socklen_t salen;
    dev_t unix_dev;              /* unix: the file we created, so close unlinks only it */
    ino_t unix_ino;
    bool unix_created;
    int fds[CONFIG_MAX_WORKERS]; /* TCP: one per slot; shared: fds[0] only; -1 = closed */
} listener;

/*
 * Resolves "host:port", "[v6]:port" or "*:port" (any IPv4 address) into
 * l->sa and l->name: getaddrinfo(AI_PASSIVE | AI_NUMERICSERV), first result.
 * Returns 0, or -1 with the spec and the reason in err.
 */
int listener_tcp_resolve(listener *l, const char *spec, char *err, size_t errlen);

/* Sets l's address and name for the unix socket path; -1 with err if the
 * path does not fit sun_path. */
int listener_unix_addr(listener *l, const char *path, char *err, size_t errlen);

/*
 * Looks at the unix socket path of l (set by listener_unix_addr): 0 when
 * nothing is there, 1 for a socket nobody listens on (stale, may be
 * removed), -1 with err for a file that is not a socket or a socket a live
 * server accepts on (and when it cannot tell).
 */
int listener_unix_probe(const listener *l, const char *path, char *err, size_t errlen);

/* Sets l->name from l->sa (TCP): "1.2.3.4:80" or "[::1]:80". */
void listener_tcp_name(listener *l);

/* How many sockets systemd passed this process (LISTEN_PID is ours and
 * LISTEN_FDS > 0), 0 for none. Changes nothing (listener_set_open() unsets
 * the variables when it adopts the sockets). */
int listener_env_fds(void);

/* True for "unix:/path". */
bool listener_is_unix_spec(const char *spec);

#endif
