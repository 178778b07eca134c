/*
 * mstate.h - the master's state, shared by the files the master is made of
 * (internal to server/; master.h is the public contract).
 *
 *   master.c    the loop and the signals: the signal table, flag-only
 *               handlers, sigsuspend(), the tick dispatch, start-up, stop
 *   spawn.c     forking, reaping and respawning workers (with back-off),
 *               the processes that left their slot, SIGKILL deadlines
 *   scale.c     TTIN/TTOU, steering connections between slots, retiring slots
 *   reload.c    HUP: a new generation of workers, commit or rollback
 *   watchdog.c  hung workers, the systemd WATCHDOG=1 and STATUS= ticks
 *   user.c      the workers' user and the files they need (no state here)
 *   pidfile.c   the pid file (no state here)
 *
 * There is one `master`, a static in master_run(). Every function that
 * takes a `master *` runs in the master process, on its only thread, with
 * the master's signals blocked (they are delivered only inside
 * sigsuspend()); none of them may be called in a worker, except
 * spawn.c's child side right after fork().
 *
 * The struct is plain data: each file writes the fields its header says it
 * owns, and reads the others.
 */
#ifndef CRUNCHD_MSTATE_H
#define CRUNCHD_MSTATE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "listener.h"
#include "pidfile.h"
#include "shm.h"
#include "user.h"

#define MASTER_QUIT_EXTRA_MS 2000 /* QUIT: SIGKILL at shutdown_timeout_s + this */
#define MASTER_TERM_GRACE_MS 1000 /* TERM/INT: SIGKILL after this */
#define MASTER_MAX_OLD (CONFIG_MAX_WORKERS * 4)

typedef enum master_stop {
    MASTER_RUNNING = 0,
    MASTER_STOP_GRACEFUL, /* QUIT: workers drain */
    MASTER_STOP_FAST,     /* TERM/INT: workers end now */
} master_stop;

/* The current process of a slot (spawn.c forks and reaps it). */
typedef struct master_slot {
    pid_t pid;             /* 0 when no process runs in the slot */
    int64_t started_ms;    /* monotonic time pid was forked */
    int fast_fails;        /* consecutive lives shorter than SPAWN_FAST_EXIT_MS */
    int64_t respawn_at_ms; /* monotonic; 0 = no respawn pending */
    int64_t kill_at_ms;    /* monotonic; 0 = no SIGKILL deadline */
    bool hung;             /* got SIGABRT for a stale heartbeat (watchdog.c) */
    unsigned incarnation;  /* of pid, for shm_jobs_record_death() */
} master_slot;

/*
 * A process that no longer is the current one of its slot: the previous
 * generation during and after a reload, a slot removed by TTOU or by a
 * reload to fewer workers, or a new worker discarded by a failed reload.
 */
typedef enum old_phase {
    OLD_FREE = 0,
    OLD_SERVING,  /* reload pending: still serving, the new generation is starting */
    OLD_RETIRING, /* its slot is steered away: waiting until the slot's queue is empty */
    OLD_STOPPING, /* asked to stop (QUIT or TERM); SIGKILL at kill_at_ms */
} old_phase;

typedef struct master_old {
    old_phase phase;
    pid_t pid;
    int slot;
    int64_t since_ms;      /* entered the phase (monotonic) */
    int64_t kill_at_ms;
    int quit_timeout_s;    /* shutdown_timeout_s of the config it runs */
    unsigned incarnation;
} master_old;

/* What a reload in progress needs to commit or roll back (reload.c). */
typedef struct master_reload {
    bool active;
    bool again;            /* another HUP came while active */
    const char *failed;    /* set by a reap: roll back at the next tick */
    int64_t deadline_ms;
    int old_nslots;
    listener_set *old_ls;  /* the running set; m->ls is the new one */
    master_slot saved[CONFIG_MAX_WORKERS];
    unsigned saved_incarnation[CONFIG_MAX_WORKERS];
    int64_t saved_started_at[CONFIG_MAX_WORKERS];
    unsigned saved_generation[CONFIG_MAX_WORKERS];
} master_reload;

/* One entry of master.c's signal table; spawn.c resets a new worker's
 * dispositions from it. */
typedef struct master_signal {
    int signo;
    const char *name;
    volatile sig_atomic_t *flag;
    void (*in_worker)(int); /* disposition a new worker starts with */
} master_signal;

typedef struct master {
    const config *cfg;       /* the running config: &cur */
    config cur;              /* set by master_run(), replaced by reload.c */
    const char *config_path; /* for reload; NULL = built-in defaults */
    shm_region *shm;
    listener_set *ls;        /* NULL once closed at the start of a stop */
    pid_t pid;
    int nslots;              /* live slots 0 .. nslots-1 */
    unsigned generation;     /* of the workers being spawned now */
    master_stop stop;
    int64_t give_up_at_ms;   /* stopping: exit even if children remain */
    user_ids user;           /* the workers' user, for the running config */
    pidfile pid_file;        /* written by us */
    const master_signal *signals; /* master.c's table, for spawn.c's child side */
    size_t nsignals;
    sigset_t wait_mask;      /* for sigsuspend(): our signals unblocked */
    int steer_n;             /* slots the BPF steering sends to; 0 = no program */
    bool ready_sent;         /* READY=1 after the first start */
    int64_t next_watchdog_ms;
    int64_t next_status_ms;
    char last_status[256];
    master_reload reload;
    master_slot slot[CONFIG_MAX_WORKERS];
    master_old old[MASTER_MAX_OLD];
} master;

#endif
