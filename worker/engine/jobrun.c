#include "jobrun.h"
#include "loop.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bell.h"
#include "budget.h"
#include "clock.h"
#include "deliver.h"
#include "figures.h"
#include "list.h"
#include "log.h"
#include "runner.h"
#include "slot.h"
#include "store.h"
#include "storeq.h"
#include "wire.h"

/* One claimed job, from claim to completion. */
typedef struct jtask {
    run run;        /* the function's run */
    list_node node; /* jobrun.running until its run ends */
    engine *e;
    job j;                    /* owned: the claimed job, then its outcome */
    int64_t held;             /* BUDGET_ARGS for its args, until the task ends */
    struct event *kill_timer; /* deadline + grace, or cancel + grace */
    bool running;             /* in jobrun.running */
    sq_op op;                 /* the completion */
} jtask;

struct jobrun {
    list running;
    int nrunning; /* in running */
    int alive;    /* jtasks not yet completed in the store */
};

int jobrun_count(const engine *e)
{
    return e->jobrun ? e->jobrun->alive : 0;
}

static jtask *running_find(engine *e, const char *id)
{
    list_node *n, *next;
    list_for_each_safe(&e->jobrun->running, n, next)
    {
        jtask *jt = list_entry(n, jtask, node);
        if (strcmp(jt->j.id, id) == 0)
            return jt;
    }
    return NULL;
}

/* The job ignored its stop request for cancel_grace_ms: record its end in
 * the store, then end this worker (the master respawns it; the reap that
 * follows leaves this job alone because it is final). */
static void on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
    jtask *jt = arg;
    engine *e = jt->e;
    job *j = &jt->j;
    bool cancelled = jt->run.stop == RUN_STOP_CANCEL;
    const char *code = cancelled ? ERR_CANCELLED : ERR_TIMEOUT;
    const char *message =
        cancelled ? "cancelled; the function did not stop, so its worker was ended"
                  : "timeout_ms passed; the function did not stop, so its worker was ended";
    log_warn("job %s (%s) did not stop within jobs.cancel_grace_ms after %s; ending this worker",
             j->id, j->fn, cancelled ? "a cancel" : "its timeout");
    /* The loop is about to end: blocking on the store here holds up nobody. */
    char err[256] = "";
    bool applied = false;
    store *st = store_open(&e->cfg->store, NULL, err, sizeof(err));
    if (!st || store_abort(st, j->id, j->owner_slot, j->owner_incarnation,
                           cancelled ? JOB_CANCELLED : JOB_FAILED, code, message, &applied) < 0)
        log_error("recording the end of job %s failed: %s", j->id, st ? store_errmsg(st) : err);
    store_close(st);
    if (applied) {
        j->state = cancelled ? JOB_CANCELLED : JOB_FAILED;
        job_set_error(j, code, message);
        j->finished_at_us = job_now_us();
        /* Local long-polls are answered (and flushed) now; the rest are told. */
        engine_job_final(e, j, false);
        if (j->callback[0])
            deliver_now(e, j);
    }
    _exit(JOBRUN_EXIT_KILLED);
}

static void arm_kill_timer(jtask *jt, int64_t after_ms)
{
    if (jt->kill_timer)
        event_free(jt->kill_timer);
    jt->kill_timer = evtimer_new(jt->e->base, on_kill_timer, jt);
    struct timeval tv = clock_tv_ms(after_ms);
    if (jt->kill_timer)
        evtimer_add(jt->kill_timer, &tv);
}

/* Turns the run's outcome into the job's final state. */
static void settle(jtask *jt)
{
    job *j = &jt->j;
    run *r = &jt->run;
    j->run_us = r->run_us;
    j->cpu_us = r->cpu_us;
    j->finished_at_us = job_now_us();
    switch (r->status) {
    case FN_OK:
        j->state = JOB_SUCCEEDED;
        j->result = r->result;
        r->result = NULL;
        break;
    case FN_CANCELLED:
        if (r->stop == RUN_STOP_CANCEL) {
            j->state = JOB_CANCELLED;
            job_set_error(j, ERR_CANCELLED, "cancelled");
            break;
        }
        /* stopped because its time was up */
        __attribute__((fallthrough));
    case FN_TIMEOUT:
        j->state = JOB_FAILED;
        job_set_error(j, ERR_TIMEOUT, "the job did not finish within timeout_ms");
        break;
    case FN_FAILED:
        j->state = JOB_FAILED;
        job_set_error(j, ERR_FUNCTION_ERROR, r->ctx.message);
        break;
    case FN_LOST:
        /* Its process died (a language runtime's), not this worker. Cancelled
         * meanwhile: it ends so. Else as a reap would: back to the queue while
         * it has retries (store_complete() in state queued does it). */
        if (r->stop == RUN_STOP_CANCEL) {
            j->state = JOB_CANCELLED;
            job_set_error(j, ERR_CANCELLED, "cancelled");
        } else if (r->requeue_if_lost) {
            log_notice("job %s (%s): %s; re-queued (attempt %d, retries %d)", j->id, j->fn,
                       r->ctx.message, j->attempts, j->retries);
            j->state = JOB_QUEUED;
        } else {
            j->state = JOB_FAILED;
            job_set_error(j, ERR_WORKER_LOST, r->ctx.message);
        }
        break;
    }
}

static void jtask_free(jtask *jt)
{
    engine *e = jt->e;
    budget_give(e, BUDGET_ARGS, jt->held);
    sq_op_release(&jt->op);
    json_decref(jt->run.result);
    free(jt);
    e->jobrun->alive--;
    engine_idle(e); /* a draining worker may be done now */
}

/* After a re-queue (loop thread): the store may have ended the job instead,
 * if a cancel was requested meanwhile; the job as it is now says which. */
static void requeue_checked(sq_op *op)
{
    jtask *jt = op->arg;
    engine *e = jt->e;
    if (op->rc < 0)
        log_error("reading re-queued job %s failed: %s", op->u.get.id, op->err);
    else if (op->u.get.found && job_state_final(op->u.get.j.state))
        engine_job_final(e, &op->u.get.j, true);
    else if (op->u.get.found && op->u.get.j.state == JOB_QUEUED)
        e->hooks->job_queued(e, op->u.get.j.kind); /* a free lane takes it */
    jtask_free(jt);
}

static void complete_done(sq_op *op)
{
    jtask *jt = op->arg;
    engine *e = jt->e;
    if (op->rc < 0) {
        log_error("completing job %s failed: %s", op->u.complete.j.id, op->err);
    } else if (op->u.complete.applied && op->u.complete.j.state == JOB_QUEUED) {
        figures_running_add(e, -1);
        char id[JOB_ID_LEN + 1];
        snprintf(id, sizeof(id), "%s", op->u.complete.j.id);
        sq_op_release(op);
        sq_op_init(op, SQ_GET, requeue_checked, jt);
        memcpy(op->u.get.id, id, sizeof(id));
        storeq_push(e->sq, op);
        return;
    } else if (op->u.complete.applied) {
        figures_running_add(e, -1);
        engine_job_final(e, &op->u.complete.j, true);
    }
    jtask_free(jt);
}

/* The run ended (loop thread): record the outcome (the store commits it
 * with others in one transaction). The runner gives the lane back after. */
static void jtask_done(run *r)
{
    jtask *jt = (jtask *)r;
    engine *e = jt->e;
    if (jt->kill_timer) {
        event_free(jt->kill_timer);
        jt->kill_timer = NULL;
    }
    if (jt->running) {
        list_remove(&e->jobrun->running, &jt->node);
        jt->running = false;
        if (--e->jobrun->nrunning == 0)
            slot_set_job(e, NULL);
    }
    if (r->run_us >= 0)
        figures_ran(e, r->run_us);
    settle(jt);
    sq_op_init(&jt->op, SQ_COMPLETE, complete_done, jt);
    jt->op.u.complete.j = jt->j; /* the op owns the job now */
    job_init(&jt->j);
    storeq_push(e->sq, &jt->op);
}

void jobrun_start(engine *e, job *j)
{
    ENGINE_ASSERT_LOOP();
    jtask *jt = calloc(1, sizeof(*jt));
    if (!jt)
        return; /* stays running in the store; reaped when this worker ends */
    jt->e = e;
    jt->j = *j; /* moves args along */
    job_init(j);
    e->jobrun->alive++;
    /* Its args' cost was taken from the budget by the claim (store.h);
     * given back when the task ends. */
    jt->held = jt->j.args_cost;
    const fn_desc *fn = fn_find(jt->j.fn, strlen(jt->j.fn), e->cfg->debug_functions);
    if (!fn) { /* its function vanished with a reload: fail it at once */
        jt->run.status = FN_FAILED;
        jt->run.run_us = jt->run.cpu_us = -1;
        snprintf(jt->run.ctx.message, sizeof(jt->run.ctx.message), "fn: no function named \"%s\"",
                 jt->j.fn);
        jtask_done(&jt->run);
        return;
    }
    int64_t timeout_ms = jt->j.timeout_ms > 0 ? jt->j.timeout_ms : e->cfg->jobs.default_timeout_ms;
    list_push(&e->jobrun->running, &jt->node);
    jt->running = true;
    e->jobrun->nrunning++;
    jt->run.requeue_if_lost = jt->j.attempts <= jt->j.retries;
    if (runner_start(e, &jt->run, fn, jt->j.args, timeout_ms, jtask_done)) {
        arm_kill_timer(jt, timeout_ms + e->cfg->jobs.cancel_grace_ms);
        slot_set_job(e, jt->j.id);
    }
}

void jobrun_stop(engine *e, const char *id)
{
    jtask *jt = running_find(e, id);
    if (!jt || jt->run.stop == RUN_STOP_CANCEL)
        return;
    runner_stop(&jt->run, RUN_STOP_CANCEL);
    arm_kill_timer(jt, e->cfg->jobs.cancel_grace_ms);
}

void jobrun_cancel(engine *e, const char *id, pid_t owner)
{
    if (owner == e->pid)
        jobrun_stop(e, id);
    else if (owner > 0)
        bell_stop_job(e, owner, id);
}

int jobrun_init(engine *e)
{
    e->jobrun = calloc(1, sizeof(*e->jobrun));
    if (!e->jobrun)
        return -1;
    list_init(&e->jobrun->running);
    return 0;
}

void jobrun_release(engine *e)
{
    free(e->jobrun);
    e->jobrun = NULL;
}
