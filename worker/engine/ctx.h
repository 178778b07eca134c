/*
 * ctx.h - the state of a worker's engine, shared by its parts (the engine:
 * everything a request may set in motion below the protocol, DESIGN.md
 * section 2: worker/engine/). engine.h starts and stops it.
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
 * engine.c wires them together: it fills the hooks through which the parts
 * reach what they must not include (a job's end is announced by engine.c;
 * a freed lane makes claims.c claim), so the parts include only this header
 * and the ones below them.
 *
 * The layers above (worker/svc/, worker/http/) use the engine; the engine
 * never names them: what it must tell them goes through callbacks.
 *
 * Threads: everything here belongs to the worker's loop thread, except
 * where a header says otherwise (pool threads see only the tasks handed to
 * them). Entry points of loop-only functions assert it (loop.h) in builds
 * with assertions.
 */
#ifndef CRUNCHD_CTX_H
#define CRUNCHD_CTX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "fn.h"
#include "job.h"
#include "shm.h"
#include "store_types.h"

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
typedef enum budget_kind { BUDGET_BODY, BUDGET_ARGS } budget_kind;

/* Lane counts (lanes.h). */
typedef struct lanes {
    int size[FN_NKINDS];     /* threads: cpu_threads, io_threads */
    int busy[FN_NKINDS];     /* tasks queued or running (calls and jobs) */
    int promised[FN_NKINDS]; /* to a claim that is with the store */
} lanes;

/* Called when something that a draining worker waits for has ended (a
 * job, a store operation, a delivery, a connection). */
typedef void engine_idle_fn(void *arg);

typedef struct engine engine;

/* What the parts call across the engine without including each other
 * (engine.c fills them). */
typedef struct engine_hooks {
    void (*job_final)(engine *e, const job *j, bool deliver);
    void (*job_queued)(engine *e, fn_kind kind); /* one more job of kind is queued */
    void (*lanes_freed)(engine *e);
} engine_hooks;

struct engine {
    const config *cfg; /* borrowed from the master's copy; read-only */
    struct event_base *base;
    shm_region *shm;
    shm_worker *me; /* this worker's slot (slot.h writes it) */
    int slot;
    pid_t pid; /* getpid(), cached */
    pid_t master_pid;
    pool_done *done; /* where pool results come home */
    pool *cpu;       /* cpu lane: cpu-kind functions */
    pool *io;        /* io pool: io-kind functions */
    lanes lanes;
    int64_t body_held;           /* budget.h: BUDGET_BODY (loop thread) */
    store_budget args;           /* budget.h: BUDGET_ARGS (loop and store thread) */
    int64_t held_peak;           /* the most held since the last trim */
    int64_t noted;               /* large replies since the last trim (budget_note) */
    bool noted_lately;           /* one since the last sweep */
    storeq *sq;
    bell *bell;
    waiters *waiters;
    claims *claims;
    jobrun *jobrun;
    upkeep *upkeep;
    deliveries *deliveries;
    bool draining; /* QUIT: no more claims; long-polls answered at once */
    const engine_hooks *hooks;
    engine_idle_fn *on_idle; /* the worker's: see engine_idle */
    void *idle_arg;
};

/*
 * j (borrowed) became final, here or by a reap: answer the long-polls on
 * it in this worker, tell the workers that may hold others, and, when this
 * worker made it final (deliver), start its callback.
 */
static inline void engine_job_final(engine *e, const job *j, bool deliver)
{
    e->hooks->job_final(e, j, deliver);
}

/* Something ended: tell the worker (a draining worker may be done). */
static inline void engine_idle(engine *e)
{
    if (e->on_idle)
        e->on_idle(e->idle_arg);
}

#endif
