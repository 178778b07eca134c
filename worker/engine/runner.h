/*
 * runner.h - the one way a function runs, for a sync call (svc/call.h) and
 * for a claimed job (jobrun.h).
 *
 * A run whose estimated cost is under FN_INLINE_NS (fn.h) runs right on the
 * loop thread: a hand-off to a lane and back would cost more than the call
 * (its cpu_us is its run_us: the loop did nothing else meanwhile). Any other
 * run takes a lane of the function's kind (lanes.h) and runs on the cpu
 * lane or the io pool; its outcome comes home to the loop.
 *
 * When a run ends the runner counts it: the slot's function runs, and
 * crunchd_jobs_total / crunchd_job_run_seconds with its final state:
 * succeeded (FN_OK), cancelled (stopped by runner_stop(RUN_STOP_CANCEL)),
 * failed otherwise (an error, its time limit: FN_TIMEOUT, or stopped by
 * runner_stop(RUN_STOP_TIMEOUT), or its process lost: FN_LOST, uncounted
 * when requeue_if_lost). Then done() runs, then the lane is given
 * back (so a job is claimed for it after the caller has seen the outcome).
 *
 * Ownership: the caller embeds the run in its own struct and keeps it (and
 * args) alive until done() has been called; done() may free it. The run's
 * result is a new reference that belongs to the caller from done() on.
 *
 * Threads: runner_start, runner_stop and done() on the loop thread; fn->run
 * on a lane thread or, inline, the loop. Only ctx.cancel crosses threads.
 */
#ifndef CRUNCHD_RUNNER_H
#define CRUNCHD_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"
#include "fn.h"
#include "pool.h"

typedef enum run_stop {
    RUN_STOP_NONE,    /* running to its end */
    RUN_STOP_TIMEOUT, /* asked to stop: its time is up */
    RUN_STOP_CANCEL,  /* asked to stop: cancelled (DELETE, or its client left) */
} run_stop;

typedef struct run run;
typedef void run_done_fn(run *r);

struct run {
    pool_task task; /* internal */
    engine *e;      /* internal */
    const fn_desc *fn;
    json_t *args; /* borrowed from the caller until done() */
    fn_ctx ctx;   /* the function's view: cancel flag, deadline, message */
    run_done_fn *done;
    /* Set by the caller before runner_start (calloc: false): a job with a
     * retry left, which jobrun re-queues if the run ends FN_LOST; such a run
     * is not counted (the job is, when it ends). */
    bool requeue_if_lost;
    bool pooled; /* took a lane */
    run_stop stop;
    /* The outcome, valid in done(): */
    fn_status status;
    json_t *result; /* new reference on FN_OK: the caller's (json_decref) */
    int64_t run_us, cpu_us;
};

/* Estimated nanoseconds of fn on these (validated) args; FN_INLINE_NS when
 * the function gives no estimate (never inline). */
int64_t runner_cost_ns(const fn_desc *fn, json_t *args);

/*
 * Runs fn on args (validated; borrowed until done) with a deadline
 * timeout_ms from now. Inline runs end before this returns: done() has been
 * called and it returns false. Otherwise the run is on a lane and it returns
 * true; done() comes later. r's fields other than the outcome are set here.
 */
bool runner_start(engine *e, run *r, const fn_desc *fn, json_t *args, int64_t timeout_ms,
                  run_done_fn *done);

/* Asks a run on a lane to stop (the function polls ctx.cancel); why says
 * how it ends in the metrics. A second call does not change why. */
void runner_stop(run *r, run_stop why);

#endif
