#include "runner.h"
#include "loop.h"

#include <stddef.h>

#include "lanes.h"
#include "metrics.h"
#include "slot.h"

int64_t runner_cost_ns(const fn_desc *fn, json_t *args)
{
    return fn->cost_ns ? fn->cost_ns(args) : FN_INLINE_NS;
}

static run *run_of(pool_task *t)
{
    return (run *)((char *)t - offsetof(run, task));
}

/* Lane thread. */
static void run_task(pool_task *t)
{
    run *r = run_of(t);
    r->status = fn_run_timed(r->fn, r->args, &r->ctx, &r->result, &r->run_us, &r->cpu_us);
}

static metrics_job_state final_state(const run *r)
{
    switch (r->status) {
    case FN_OK: return METRICS_JOB_SUCCEEDED;
    case FN_CANCELLED:
        return r->stop == RUN_STOP_CANCEL ? METRICS_JOB_CANCELLED : METRICS_JOB_FAILED;
    default: return METRICS_JOB_FAILED;
    }
}

/* Loop thread: count it, tell the caller, give the lane back. */
static void run_end(run *r)
{
    engine *e = r->e;
    bool pooled = r->pooled;
    fn_kind kind = r->fn->kind;
    slot_count_run(e);
    if (!(r->status == FN_LOST && r->requeue_if_lost))
        metrics_job(e->shm, e->slot, r->fn->series, final_state(r), r->run_us);
    r->done(r); /* may free r */
    if (pooled)
        lanes_release(e, kind);
}

static void run_task_done(pool_task *t)
{
    run_end(run_of(t));
}

bool runner_start(engine *e, run *r, const fn_desc *fn, json_t *args, int64_t timeout_ms,
                  run_done_fn *done)
{
    ENGINE_ASSERT_LOOP();
    r->e = e;
    r->fn = fn;
    r->args = args;
    r->done = done;
    r->stop = RUN_STOP_NONE;
    r->result = NULL;
    r->run_us = r->cpu_us = -1;
    fn_ctx_init(&r->ctx, fn_now_ns() + timeout_ms * 1000000, e->cfg->data_dir);
    r->pooled = !fn_may_inline(fn, args);
    if (!r->pooled) {
        /* The loop does nothing else meanwhile: its CPU time is the run's
         * wall time, and the thread CPU clock (a system call) is not asked. */
        int64_t t0 = fn_now_ns();
        r->status = fn_run(fn, args, &r->ctx, &r->result);
        r->run_us = r->cpu_us = (fn_now_ns() - t0) / 1000;
        run_end(r);
        return false;
    }
    r->task.run = run_task;
    r->task.done = run_task_done;
    lanes_acquire(e, fn->kind);
    pool_submit(fn->kind == FN_IO ? e->io : e->cpu, &r->task);
    return true;
}

void runner_stop(run *r, run_stop why)
{
    ENGINE_ASSERT_LOOP();
    if (r->stop == RUN_STOP_NONE)
        r->stop = why;
    atomic_store(&r->ctx.cancel, 1);
}
