/*
 * engine.h - the engine of one worker: everything a request may set in
 * motion below the protocol (DESIGN.md section 2: worker/engine/).
 *
 * One owner per piece of state, each in a file of its own:
 *   slot.h     this worker's slot of the shared region (the only writer of
 *              its per-process fields: the "mine" check lives there)
 *   lanes.h    the cpu lane and the io pool: busy, promised and free counts
 *   budget.h   the memory requests may hold
 *   runner.h   the one run path of a function, for calls and jobs
 *   storeq.h   the store thread and its group commits
 *   bell.h     notes and wake-ups between workers
 *   waiters.h  long-polls on a job
 *   claims.h   claiming queued jobs for free lanes, and prefetch
 *   jobrun.h   a claimed job from its start to its completion
 *   upkeep.h   reaping the jobs of dead workers, queue figures, purge
 *   deliver.h  callback deliveries
 * engine.c wires them together and is where a job's end is announced
 * (engine_job_final).
 *
 * The layers above (worker/svc/, worker/http/) use the engine; the engine
 * never names them: what it must tell them goes through callbacks.
 *
 * Threads: everything here belongs to the worker's loop thread, except
 * where a header says otherwise (pool threads see only the tasks handed to
 * them). Entry points of loop-only functions assert it (ENGINE_ASSERT_LOOP)
 * in builds with assertions.
 */
#ifndef CRUNCHD_ENGINE_H
#define CRUNCHD_ENGINE_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "fn.h"
#include "job.h"
#include "shm.h"

struct event_base;
typedef struct pool pool;
typedef struct pool_done pool_done;
typedef struct storeq storeq;
typedef struct bell bell;
typedef struct waiters waiters;
typedef struct claims claims;
typedef struct jobrun jobrun;
typedef struct upkeep upkeep;
typedef struct deliveries deliveries;

/* Memory budgets of a worker (budget.h). */
typedef enum budget_kind { BUDGET_BODY, BUDGET_ARGS, BUDGET_NKINDS } budget_kind;

/* Lane counts (lanes.h). */
typedef struct lanes {
    int size[FN_NKINDS];     /* threads: cpu_threads, io_threads */
    int busy[FN_NKINDS];     /* tasks queued or running (calls and jobs) */
    int promised[FN_NKINDS]; /* to a claim that is with the store */
} lanes;

/* Called when something that a draining worker waits for has ended (a
 * job, a store operation, a delivery, a connection). */
typedef void engine_idle_fn(void *arg);

typedef struct engine {
    const config *cfg;          /* borrowed from the master's copy; read-only */
    struct event_base *base;
    shm_region *shm;
    shm_worker *me;             /* this worker's slot (slot.h writes it) */
    int slot;
    pid_t pid;                  /* getpid(), cached */
    pid_t master_pid;
    pool_done *done;            /* where pool results come home */
    pool *cpu;                  /* cpu lane: cpu-kind functions */
    pool *io;                   /* io pool: io-kind functions */
    lanes lanes;
    int64_t held[BUDGET_NKINDS]; /* budget.h */
    int64_t held_peak;
    storeq *sq;
    bell *bell;
    waiters *waiters;
    claims *claims;
    jobrun *jobrun;
    upkeep *upkeep;
    deliveries *deliveries;
    bool draining;              /* QUIT: no more claims; long-polls answered at once */
    engine_idle_fn *on_idle;    /* the worker's: see engine_idle */
    void *idle_arg;
} engine;

/*
 * Starts the engine of the worker in slot (the wake-up socket, the pools,
 * the store thread, deliveries) on base. cfg and shm are borrowed for the
 * life of the engine. Returns 0, or -1 (logged); engine_release() then
 * frees what was made. Loop thread: the calling thread becomes it.
 */
int engine_init(engine *e, const config *cfg, shm_region *shm, int slot, struct event_base *base,
                engine_idle_fn *on_idle, void *idle_arg);

/* The worker serves now (its pid is in its slot): take the slot over from
 * an earlier incarnation, publish free lanes, claim what waits. */
void engine_start(engine *e);

/* QUIT: publish no free lanes, answer long-polls with the job as it is. */
void engine_drain(engine *e);

/* Once a second: heartbeat, reaping, queue figures, purge, a look at the
 * bell, memory back to the kernel after a burst. */
void engine_sweep(engine *e);

/* Nothing in flight: no running job, no store operation, no delivery. */
bool engine_idle_now(const engine *e);

/* Something ended: tell the worker (a draining worker may be done). */
void engine_idle(engine *e);

/*
 * Tears down; only when engine_idle_now() (a worker that ends with work in
 * flight _exit()s instead): joining threads waits for their tasks.
 */
void engine_release(engine *e);

/*
 * j (borrowed) became final, here or by a reap: answer the long-polls on
 * it in this worker, tell the workers that may hold others, and, when this
 * worker made it final (deliver), start its callback.
 */
void engine_job_final(engine *e, const job *j, bool deliver);

/* True on the loop thread of this process's engine. */
bool engine_on_loop(void);

#define ENGINE_ASSERT_LOOP() assert(engine_on_loop())

#endif
