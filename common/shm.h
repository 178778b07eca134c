/*
 * shm.h - the region shared by the master and every worker: one
 * mmap(MAP_SHARED | MAP_ANONYMOUS) mapping created by the master before the
 * first fork, so every process sees it at the same address.
 *
 * Ownership: slot i is written by the worker running in it (counters,
 * heartbeat, state "draining") and by the master (pid, incarnation, start
 * time, restarts, last exit, state changes on spawn and reap). Fields that
 * two processes write are atomics; readers (the /v1/workers handler in any
 * worker) take a relaxed snapshot and accept a torn view across fields.
 */
#ifndef CRUNCHD_SHM_H
#define CRUNCHD_SHM_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#define SHM_MAX_WORKERS 256

typedef enum shm_worker_state {
    SHM_W_EMPTY = 0,   /* slot never used */
    SHM_W_STARTING,    /* forked, not yet serving */
    SHM_W_RUNNING,     /* serving */
    SHM_W_DRAINING,    /* graceful stop: finishing in-flight requests */
    SHM_W_DEAD,        /* exited; waiting for respawn (or stopped for good) */
} shm_worker_state;

typedef struct shm_worker {
    atomic_int pid;                 /* 0 when no process runs in the slot */
    atomic_uint incarnation;        /* 1 for the first process, +1 per respawn */
    atomic_int state;               /* shm_worker_state */
    atomic_int_fast64_t started_at_ms;  /* wall clock, ms since the epoch */
    atomic_int_fast64_t heartbeat_ms;   /* CLOCK_MONOTONIC ms, written by the worker's loop */
    atomic_uint_fast64_t requests;  /* HTTP requests answered, summed over incarnations */
    atomic_uint_fast64_t jobs;      /* function calls run, summed over incarnations */
    atomic_uint restarts;           /* respawns of this slot */
    atomic_int last_exit_code;      /* -1 if none or killed by a signal */
    atomic_int last_exit_signal;    /* 0 if none or exited normally */
    atomic_int connections;         /* open connections now */
} shm_worker;

typedef struct shm_region {
    atomic_int master_pid;
    atomic_int nslots;              /* slots in use: 0 .. nslots-1 */
    atomic_int_fast64_t started_at_ms;
    shm_worker w[SHM_MAX_WORKERS];
} shm_region;

/* Maps a zeroed region. Returns NULL on failure (errno set). Master only. */
shm_region *shm_create(void);

/* Unmaps it. */
void shm_destroy(shm_region *shm);

/* Name of a state, for /v1/workers. */
const char *shm_state_name(int state);

/* Wall-clock and monotonic milliseconds. */
int64_t shm_wall_ms(void);
int64_t shm_mono_ms(void);

#endif
