/*
 * spawn.h - the master's worker processes: forking one into a slot, reaping
 * them, respawning with back-off, the processes that left their slot
 * (m->old), and SIGKILL deadlines.
 *
 * Owns m->slot[] (pid, started_ms, fast_fails, respawn_at_ms, incarnation;
 * kill_at_ms and hung are shared with the stop and the watchdog) and
 * m->old[] (reload.c and scale.c move processes from a slot to it), and the
 * shm worker slots' pid, state, incarnation, started_at_ms, generation and
 * last exit, which the worker itself takes over once it runs.
 *
 * Respawn back-off: a worker that lived SPAWN_FAST_EXIT_MS or longer is
 * respawned at once; the n-th fast failure in a row waits
 * min(100 ms * 2^(n-1), 10 s). A worker killed as hung counts as a normal
 * exit (it ran fine before it hung). A failed fork() waits the maximum.
 *
 * Master process only (mstate.h); spawn_worker() forks, and the child never
 * returns from it (it calls worker_run() and _exit()s).
 */
#ifndef CRUNCHD_SPAWN_H
#define CRUNCHD_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

#include "mstate.h"

#define SPAWN_FAST_EXIT_MS 1000 /* a worker that lived less failed "fast" */

/*
 * Forks the worker of `slot` with m->cfg, m->shm, the slot's listening
 * sockets and generation m->generation, and records it in m->slot[slot].
 * See master.h for what the worker can rely on. If fork() fails, the failure
 * is logged and a respawn is scheduled.
 */
void spawn_worker(master *m, int slot);

/* SIGCHLD: reaps every exited child (waitpid(-1, WNOHANG)), records its
 * death in the shm (shm_jobs_record_death) and schedules the respawn of a
 * slot's current worker unless it was expected to exit (stop, removed slot).
 * A current worker that exits during a reload fails the reload
 * (m->reload.failed). */
void spawn_reap(master *m);

/* Timed work: SIGKILL to the current and old processes past kill_at_ms,
 * then (unless stopping) the respawns that are due. */
void spawn_tick(master *m, int64_t now);

/*
 * Moves pid, the current process of m->slot[slot], to m->old in `phase`
 * (the caller clears the slot). Returns the entry, or NULL (after a log
 * line and SIGKILL to pid) when m->old is full, which takes 4 old
 * processes per slot.
 */
master_old *spawn_old_add(master *m, pid_t pid, int slot, old_phase phase, int quit_timeout_s);

/* Asks an old process to stop with SIGQUIT (drain: SIGKILL after its
 * quit_timeout_s + MASTER_QUIT_EXTRA_MS) or SIGTERM (SIGKILL after
 * MASTER_TERM_GRACE_MS); an earlier deadline already set is kept. */
void spawn_old_stop(master *m, master_old *o, int sig);

#endif
