/*
 * wake.h - the doorbell between worker processes, for the job queue: "a job
 * was queued, claim it", "look at the notes" (shm.h: job X is final, stop
 * job X).
 *
 * Each worker binds a unix datagram socket named after its pid in a private
 * directory the master made (wake_dir_create), so any process of the same
 * server can reach any worker by pid (read from the shared region) without
 * inheriting file descriptors: a respawned or added worker is reachable at
 * once. The directory is mode 0700 and owned by the workers' user: no other
 * user can bind a name in it before a worker does (abstract names, used
 * before, could be squatted by any local user, which kept respawned workers
 * from starting), nor send to the sockets.
 *
 * Sends never block; a message to a full or vanished socket is dropped (a
 * queue holds only net.unix.max_dgram_qlen messages, 10 by default), so a
 * message is only a bell: what it is about lives in the shared region or the
 * store, and a full queue means the receiver will wake and look anyway.
 *
 * Processes: the master calls wake_dir_create() before it forks workers
 * (they inherit the path), wake_forget() after it reaps one, and
 * wake_dir_remove() at exit. Workers call wake_open() and wake_send().
 */
#ifndef CRUNCHD_WAKE_H
#define CRUNCHD_WAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define WAKE_MSG_MAX 128
/* mkdtemp() template of the directory, under the base directory. */
#define WAKE_DIR_TEMPLATE "crunchd-wake.XXXXXX"

typedef enum wake_kind {
    WAKE_BELL = 'b', /* look at your slot's claim bits and the notes (jobs.c) */
} wake_kind;

/*
 * The directory wake_dir_create() makes its directory in: $RUNTIME_DIRECTORY
 * (set by systemd's RuntimeDirectory=; the first entry), else $TMPDIR, else
 * /tmp. Returns a static string.
 */
const char *wake_dir_base(void);

/*
 * Master: creates a fresh directory WAKE_DIR_TEMPLATE under wake_dir_base(),
 * mode 0700, and with chown_to set gives it to uid:gid (the workers' user,
 * when the master runs as root and they switch). Returns 0, or -1 with the
 * failed call and path in err. Creating a second one replaces the first as
 * the one used (the first stays: remove it first).
 */
int wake_dir_create(bool chown_to, uid_t uid, gid_t gid, char *err, size_t errlen);

/*
 * What wake_dir_create() would refuse, checked without creating anything
 * (crunchd -t): the base is missing, not a directory, not writable, or too
 * long for socket paths. Returns 0, or -1 with the reason in err.
 */
int wake_dir_check(char *err, size_t errlen);

/* The directory in use, or "" before wake_dir_create(). */
const char *wake_dir_path(void);

/* Master: removes the sockets in the directory and the directory. */
void wake_dir_remove(void);

/* Master: pid was reaped; removes its socket (the file outlives a killed
 * worker). A pid cannot be reused before its parent reaped it, so this never
 * removes the socket of a newer process. */
void wake_forget(pid_t pid);

/* Binds this process's socket (a stale file of an earlier process with this
 * pid is removed first). Returns the fd (non-blocking, close-on-exec) or -1
 * with errno set. */
int wake_open(pid_t self);

/* Sends kind + payload to the worker with pid `to`. Returns 0, or -1 if it
 * could not be delivered now (errno set). Never blocks. */
int wake_send(pid_t to, wake_kind kind, const char *payload, size_t len);

/* Receives one message into buf (WAKE_MSG_MAX + 1 bytes; NUL-terminated
 * payload). Returns the kind, 0 when nothing is pending, -1 on error. */
int wake_recv(int fd, char *payload, size_t cap);

#endif
