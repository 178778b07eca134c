/*
 * wake.h - messages between worker processes, for the job queue: "a job was
 * queued, claim it", "job X is final, answer its long-polls", "stop job X".
 *
 * Each worker binds an abstract-namespace unix datagram socket named after
 * the master's pid and its own pid, so any process of the same server can
 * reach any worker by pid (read from the shared region) without inheriting
 * file descriptors: a respawned or added worker is reachable at once.
 * Sends never block; a message to a full or vanished socket is dropped, so
 * every message is a hint that the receiver can also recover by asking the
 * store (see jobs.c).
 */
#ifndef CRUNCHD_WAKE_H
#define CRUNCHD_WAKE_H

#include <stddef.h>
#include <sys/types.h>

#define WAKE_MSG_MAX 128

typedef enum wake_kind {
    WAKE_CLAIM = 'q',  /* a job was queued: claim if you have a free lane */
    WAKE_DONE = 'd',   /* payload: id of a job that became final */
    WAKE_CANCEL = 'c', /* payload: id of a running job of yours to stop */
    WAKE_REAP = 'r',   /* a worker died: reap its jobs (payload: "slot incarnation") */
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
