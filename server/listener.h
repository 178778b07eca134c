/*
 * listener.h - the listening sockets, bound by the master before it forks.
 *
 * Every "listen" address of the config becomes one listener:
 *
 *  - TCP ("host:port", "[v6]:port", "*:port"): ONE socket PER WORKER SLOT, all
 *    bound to the same address with SO_REUSEPORT, so the kernel spreads new
 *    connections evenly over the workers. The master keeps every slot's
 *    socket open for the life of the slot, so each incarnation of the slot
 *    inherits it and a respawn loses no queued connection. Port 0 binds slot
 *    0 to an ephemeral port and every other slot to that same port.
 *  - Unix ("unix:/path"): one socket shared by every slot; a stale socket
 *    file is removed first, the new one is made 0666 and unlinked again by
 *    listener_set_close().
 *
 * Every socket is non-blocking, close-on-exec and listens with a backlog of
 * LISTENER_BACKLOG (the kernel caps it at net.core.somaxconn).
 *
 * Socket activation: when LISTEN_PID is this process and LISTEN_FDS > 0
 * (sd_listen_fds(3)), fds 3 .. 3+LISTEN_FDS-1 are the listeners instead of
 * "listen": each one is shared by every slot (like a unix listener), kept
 * across reloads, and "listen" is ignored for the life of the master.
 *
 * Reload (listener_set_reload): a listener whose "listen" entry is unchanged
 * (same text, or the same fixed address) keeps its sockets: the new set holds
 * dup()s of them, so the new generation of a slot accepts from the very
 * socket the old generation drains, and nothing queued is lost. A new entry
 * gets new sockets; a removed entry's sockets close when the old set is
 * committed and the old workers exit (what sits unaccepted in them then is
 * reset: the address is going away).
 *
 * Removing a slot without losing connections (TTOU, fewer workers on
 * reload): listener_set_steer() attaches a classic BPF program to every TCP
 * listener's SO_REUSEPORT group that sends new connections only to slots
 * below n; the master then waits until listener_set_slot_queued() of the
 * removed slot is 0 (its worker accepted what was queued) before asking that
 * worker to stop and releasing the slot's sockets.
 *
 * Because SO_REUSEPORT lets several sockets of the same user share a port, a
 * TCP address is first probed with a plain bind(): a second crunchd started
 * on the same address fails with "Address already in use" instead of silently
 * sharing the port with the first one.
 *
 * Not thread-safe; the master is single-threaded.
 */
#ifndef CRUNCHD_LISTENER_H
#define CRUNCHD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define LISTENER_BACKLOG 4096

typedef struct listener_set listener_set;

/*
 * Resolves and binds every cfg->listen address for slots 0 .. nslots-1 and
 * logs one line per address at notice level, e.g.
 * "listening on 127.0.0.1:43127 (2 sockets)" (integration tests parse the
 * "listening on " prefix; the name is host:port, [v6]:port or unix:/path).
 * Returns a new set owned by the caller (free it with listener_set_close()),
 * or NULL with the failed call and address written to err, e.g.
 * "bind() to 127.0.0.1:8080 failed: Address already in use"; on failure
 * nothing stays open or bound.
 */
listener_set *listener_set_open(const config *cfg, int nslots, char *err, size_t errlen);

/*
 * What listener_set_open() would refuse, found without binding or removing
 * anything (crunchd -t, and the master before it opens the set): an address
 * that does not resolve, a port below ip_unprivileged_port_start without
 * CAP_NET_BIND_SERVICE, an address no interface has (unless
 * ip_nonlocal_bind), a unix path that is too long, in a directory we cannot
 * write, or taken by a file that is not a socket or by a live server.
 * A port another process holds is not found (only bind() can tell). Nothing
 * is checked when the sockets come from systemd (LISTEN_PID is this process
 * and LISTEN_FDS > 0). Returns 0, or -1 with the address and reason in err.
 */
int listener_check(const config *cfg, char *err, size_t errlen);

/*
 * Whether only this host can reach what crunchd listens on: every address
 * is in 127.0.0.0/8, ::1 (or ::ffff:127.x) or a unix socket (protected
 * mode, auth_master.h). The addresses are those of the sockets systemd
 * passes when it does (ls activated; or, with ls NULL before binding,
 * LISTEN_PID is this process and LISTEN_FDS > 0), read with getsockname();
 * else those of cfg->listen, resolved as listener_set_open() binds them (a
 * name such as "localhost" by its first address). Returns 1; or 0 with the
 * first other address described in which ("listen[0] (myhost:8080, that is
 * 10.0.0.5:8080)"); or -1 with err (a name that does not resolve).
 */
int listener_loopback_only(const config *cfg, const listener_set *ls, char *which,
                           size_t whichlen, char *err, size_t errlen);

/*
 * For a reload: a new set for cfg and nslots built from cur (see above);
 * TCP listeners kept from cur also keep sockets for cur's slots above
 * nslots (they are released one by one as those slots retire). cur is not
 * changed. Returns the new set, or NULL with err set and nothing opened.
 */
listener_set *listener_set_reload(const listener_set *cur, const config *cfg, int nslots,
                                  char *err, size_t errlen);

/* The reload went through: next takes over the unix socket files it kept
 * from cur, and cur is closed and freed (see listener_set_close). To undo a
 * reload instead, listener_set_close(next). */
void listener_set_commit(listener_set *cur, listener_set *next);

/* 1 + the highest slot with an open socket (TCP), or the slot count. */
int listener_set_nslots(const listener_set *ls);

/* True when the sockets came from systemd. */
bool listener_set_activated(const listener_set *ls);

/*
 * Writes to fds the listening sockets a worker in `slot` serves: its own
 * socket of every TCP listener and the shared socket of every unix or
 * activated listener, in config order. Returns how many, or -1 if slot has
 * no socket or more than max would be needed. The fds stay owned by the set.
 */
int listener_set_slot_fds(const listener_set *ls, int slot, int *fds, int max);

/*
 * Opens the missing sockets of slots 0 .. nslots-1 of every TCP listener (on
 * the port each one is already bound to); they join the SO_REUSEPORT group
 * last. Returns 0, or -1 with err set and the set unchanged. Master only.
 */
int listener_set_grow(listener_set *ls, int nslots, char *err, size_t errlen);

/*
 * Closes this process's copies of the sockets of `slot`. A socket leaves the
 * SO_REUSEPORT group (and its unaccepted connections are reset) only once
 * every process holding it has closed it, i.e. when the worker of that slot
 * closes its copy too: steer first (see above). Master only.
 */
void listener_set_release_slot(listener_set *ls, int slot);

/*
 * New TCP connections go only to the sockets of slots 0 .. nslots-1 (chosen
 * at random among them). Returns 0, or -1 with err set. Master only.
 */
int listener_set_steer(listener_set *ls, int nslots, char *err, size_t errlen);

/* Connections waiting in the accept queues of slot's TCP sockets, or -1. */
int listener_set_slot_queued(const listener_set *ls, int slot);

/*
 * In a freshly forked worker: closes every socket that `slot` does not serve
 * (this process's copies only; nothing is unlinked). The set must not be used
 * afterwards except by listener_set_slot_fds() for the same slot.
 */
void listener_set_close_others(listener_set *ls, int slot);

/*
 * Closes every socket, unlinks the unix socket files it created (only in the
 * process that created them) and frees the set. NULL is ignored.
 */
void listener_set_close(listener_set *ls);

#endif
