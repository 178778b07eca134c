/*
 * wake.h - the doorbell between worker processes, for the job queue: "a job
 * was queued, claim it", "look at the notes" (shm.h: job X is final, stop
 * job X).
 *
 * Each worker binds an abstract-namespace unix datagram socket named after
 * the master's pid and its own pid, so any process of the same server can
 * reach any worker by pid (read from the shared region) without inheriting
 * file descriptors: a respawned or added worker is reachable at once.
 * Sends never block; a message to a full or vanished socket is dropped (a
 * queue holds only net.unix.max_dgram_qlen messages, 10 by default), so a
 * message is only a bell: what it is about lives in the shared region or the
 * store, and a full queue means the receiver will wake and look anyway.
 */
#ifndef CRUNCHD_WAKE_H
#define CRUNCHD_WAKE_H

#include <stddef.h>
#include <sys/types.h>

#define WAKE_MSG_MAX 128

typedef enum wake_kind {
    WAKE_BELL = 'b', /* look at your slot's claim bits and the notes (jobs.c) */
} wake_kind;

/* Binds this process's socket. Returns the fd (non-blocking, close-on-exec)
 * or -1 with errno set. */
int wake_open(pid_t master, pid_t self);

/* Sends kind + payload to the worker with pid `to`. Returns 0, or -1 if it
 * could not be delivered now (errno set). Never blocks. */
int wake_send(pid_t master, pid_t to, wake_kind kind, const char *payload, size_t len);

/* Receives one message into buf (WAKE_MSG_MAX + 1 bytes; NUL-terminated
 * payload). Returns the kind, 0 when nothing is pending, -1 on error. */
int wake_recv(int fd, char *payload, size_t cap);

#endif
