/*
 * shm.h - the region shared by the master and every worker: one
 * mmap(MAP_SHARED | MAP_ANONYMOUS) mapping created by the master before the
 * first fork, so every process sees it at the same address.
 *
 * Each subsystem owns its part: the slots and the job figures below; the
 * metrics own a variable-size area after the fixed part (shm_metrics_area(),
 * sized by the caller of shm_create(), laid out by metrics.c).
 *
 * Ownership: slot i is written by the worker running in it (counters,
 * heartbeat, state "draining") and by the master (pid, incarnation, start
 * time, restarts, last exit, state changes on spawn and reap). Fields that
 * two processes write are atomics; readers (the /v1/workers handler in any
 * worker) take a relaxed snapshot and accept a torn view across fields.
 */
#ifndef CRUNCHD_SHM_H
#define CRUNCHD_SHM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "store_shared.h"

typedef struct shm_region shm_region;

#define SHM_MAX_WORKERS 256
#define SHM_JOB_ID 40 /* current_job: a job id and its NUL */
#define SHM_WAIT_BINS 1024 /* shm_worker.wait_bins: a power of two */

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
    /*
     * Added for operations. During a reload the old process of a slot drains
     * while the new one already runs in it, so the fields that describe ONE
     * process (state, heartbeat_ms, current_job) may be written only by the
     * process whose pid is in the slot: check shm_worker_mine() first.
     * Counters (requests, jobs, connections) are atomic adds and may be
     * written by both.
     */
    atomic_uint generation;         /* master: the reload generation the pid was forked in */
    char current_job[SHM_JOB_ID];   /* id of the job this worker runs now, "" if none;
                                       use shm_worker_set_job() / shm_worker_get_job() */
    /* Asynchronous jobs (worker/engine/figures.c), written by the slot's current process. */
    atomic_int free_cpu;            /* idle cpu-lane threads: worth waking for a cpu job */
    atomic_int free_io;             /* idle io-pool threads: worth waking for an io job */
    atomic_int waiters;             /* long-polls held: worth telling about finished jobs */
    atomic_int bell;                /* 1: a wake-up datagram is on its way; no need for another */
    atomic_int claim_bits;          /* kinds (1 << fn_kind) someone asks this worker to claim */
    /* Long-polls held, counted by shm_wait_bin() of their job id: a worker
     * that finishes job X rings this one only if wait_bins[bin(X)] > 0.
     * The slot's current process adds before it reads the job from the
     * store and subtracts when the long-poll ends; the finisher commits
     * before it looks, so one of the two always sees the other. Cleared
     * by a new process at its start (stale counts only cost a bell). */
    atomic_uint wait_bins[SHM_WAIT_BINS];
} shm_worker;

#define SHM_DEAD_RING 64

/* One worker process that ended, as the master saw it in waitpid(). */
typedef struct shm_dead {
    atomic_uint_fast64_t seq;       /* entry number + 1 once written; 0 = empty */
    atomic_int pid;
    atomic_int slot;
    atomic_uint incarnation;
    atomic_int reaped;              /* CAS 0 -> 1 by the worker that reaps its jobs */
} shm_dead;

#define SHM_NOTE_RING 4096
#define SHM_NOTE_ID 33

/*
 * A note between workers: "job id became final" (pid 0: for whoever waits
 * on it) or "stop job id" (pid: its owner). The wake-up datagrams only ring
 * the bell -- a full socket queue drops them, and that is fine -- while the
 * notes themselves are here, where none is lost unless a reader falls a
 * whole ring behind (it then re-reads everything it waits on).
 */
typedef struct shm_note {
    atomic_uint_fast64_t seq; /* k + 1 once note k is complete; 0 while written */
    atomic_int pid;
    char id[SHM_NOTE_ID];
} shm_note;

/* Job queue figures shared by all workers (approximate between resyncs), and
 * the workers that died, whose running jobs some live worker must reap. */
typedef struct shm_jobs {
    /* The job store's process-shared area (SQLite: its write gate), set up
     * by the master with store_shared_init() and passed to store_open(). */
    _Alignas(STORE_SHARED_ALIGN) unsigned char store_shared[STORE_SHARED_MAX];
    atomic_int_fast64_t queued;      /* +1 submit, -1 claim or cancel; resynced from the store */
    atomic_int_fast64_t running;
    atomic_int_fast64_t run_ewma_us; /* recent job run time, for Retry-After */
    atomic_uint_fast64_t dead_seq;   /* entries written to dead[] so far */
    shm_dead dead[SHM_DEAD_RING];    /* entry k lives at dead[k % SHM_DEAD_RING] */
    atomic_uint_fast64_t note_seq;   /* notes written so far */
    shm_note note[SHM_NOTE_RING];    /* note k lives at note[k % SHM_NOTE_RING] */
} shm_jobs;

/* Writes a note (see shm_note); pid 0 for "final", the owner for "stop". */
void shm_note_write(shm_region *shm, pid_t pid, const char *id);

/*
 * Reads note k into pid and id (SHM_NOTE_ID bytes). Returns 1 when read, 0
 * when note k is still being written, -1 when it was overwritten (the reader
 * fell a ring behind).
 */
int shm_note_read(const shm_region *shm, uint64_t k, pid_t *pid, char *id);

/* Master: records that worker (pid, slot, incarnation) ended. */
void shm_jobs_record_death(shm_region *shm, pid_t pid, int slot, unsigned incarnation);

typedef struct shm_region {
    atomic_int master_pid;
    atomic_int nslots;              /* slots in use: 0 .. nslots-1 */
    atomic_int_fast64_t started_at_ms;
    shm_worker w[SHM_MAX_WORKERS];
    /* Added for operations. */
    atomic_uint generation;         /* master: +1 per successful reload (HUP), 0 at start */
    atomic_int_fast64_t reloaded_at_ms; /* wall clock of the last successful reload, 0 if none */
    shm_jobs jobs;                  /* asynchronous jobs */
    /* Written once by shm_create(). */
    size_t map_bytes;               /* the whole mapping */
    size_t metrics_off;             /* start of the metrics area (cache-line aligned) */
    size_t metrics_bytes;           /* its size */
} shm_region;

/* The wait_bins index of a job id: from its last three hex digits (random
 * in every id; the first ones are shared by ids made together, job.c). */
static inline unsigned shm_wait_bin(const char *id)
{
    size_t n = strlen(id);
    unsigned h = 0;
    for (size_t i = n > 3 ? n - 3 : 0; i < n; i++)
        h = h * 16 + (unsigned)(id[i] <= '9' ? id[i] - '0' : (id[i] | 0x20) - 'a' + 10);
    return h & (SHM_WAIT_BINS - 1);
}

/*
 * Maps a zeroed region with metrics_bytes for the metrics area
 * (metrics_shm_bytes()). Returns NULL on failure
 * (errno set). Master only, once, before the first fork: the mapping never
 * grows.
 */
shm_region *shm_create(size_t metrics_bytes);

/* The metrics area (metrics.c's alone) and its size in bytes. */
void *shm_metrics_area(const shm_region *shm);
size_t shm_metrics_bytes(const shm_region *shm);

/* Unmaps it. */
void shm_destroy(shm_region *shm);

/* Name of a state, for /v1/workers. */
const char *shm_state_name(int state);

/*
 * True when the process `self` (its getpid(), cached) is the one the master
 * put in slot w, i.e. not an old process still draining after a reload or
 * TTOU. Guard writes of state, heartbeat_ms and current_job with it.
 */
static inline bool shm_worker_mine(const shm_worker *w, pid_t self)
{
    return atomic_load_explicit(&w->pid, memory_order_relaxed) == self;
}

/*
 * Sets current_job to id (NULL or "" = none; longer ids are cut). Readers may
 * see a torn value only while it changes; the master reads it only from a
 * worker it found hung, which is not writing.
 */
void shm_worker_set_job(shm_worker *w, const char *id);

/* Copies current_job into out (NUL-terminated; "" if none). */
void shm_worker_get_job(const shm_worker *w, char *out, size_t outlen);

/* Wall-clock and monotonic milliseconds. */
int64_t shm_wall_ms(void);
int64_t shm_mono_ms(void);

#endif
