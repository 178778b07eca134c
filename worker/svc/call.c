#include "call.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "clock.h"
#include "jobs.h"
#include "lanes.h"
#include "loop.h"
#include "runner.h"
#include "utf8.h"
#include "wire.h"

static const char TIMEOUT_MESSAGE[] = "the call did not finish within timeout_ms";

/* One synchronous call. Owned by the loop thread; while it runs on a lane
 * only the runner's task is touched there. */
struct call {
    run run; /* first: the run is the call */
    engine *e;
    call_done_fn *done; /* NULL once answered or abandoned */
    void *arg;
    json_t *args;           /* validated, new reference */
    int64_t held;           /* BUDGET_ARGS for args */
    struct event *deadline; /* loop timer at timeout_ms (runs on a lane only) */
    jobs_op *queued;        /* the call went through the queue */
};

static void call_free(call *c)
{
    budget_give(c->e, BUDGET_ARGS, c->held);
    if (c->deadline)
        event_free(c->deadline);
    json_decref(c->args);
    free(c);
}

static void call_answer(call *c, const call_result *r)
{
    call_done_fn *done = c->done;
    c->done = NULL;
    if (done)
        done(c->arg, r);
}

static void call_answer_status(call *c, svc_status st, const char *message)
{
    call_result r = {
        .status = st, .message = message, .fn = c->run.fn->name, .worker_pid = c->e->pid};
    call_answer(c, &r);
}

/* The run ended (loop thread). */
static void call_ran(run *rn)
{
    call *c = (call *)rn;
    call_result r = {.fn = rn->fn->name,
                     .result = rn->result,
                     .run_us = rn->run_us,
                     .cpu_us = rn->cpu_us,
                     .worker_pid = c->e->pid};
    switch (rn->status) {
    case FN_OK: r.status = SVC_OK; break;
    case FN_FAILED: r.status = SVC_FUNCTION_ERROR, r.message = rn->ctx.message; break;
    case FN_LOST: r.status = SVC_WORKER_LOST, r.message = rn->ctx.message; break;
    default: r.status = SVC_TIMEOUT, r.message = TIMEOUT_MESSAGE; break;
    }
    call_answer(c, &r);
    json_decref(rn->result);
    call_free(c);
}

/* Loop thread: timeout_ms passed. Ask the function to stop and answer now;
 * the lane finishes (or abandons) the run on its own. */
static void call_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    call *c = arg;
    runner_stop(&c->run, RUN_STOP_TIMEOUT);
    call_answer_status(c, SVC_TIMEOUT, TIMEOUT_MESSAGE);
}

/* A sync call that went through the queue: the answer a call gives. */
static void call_queued_done(void *arg, const jobs_result *jr)
{
    call *c = arg;
    c->queued = NULL;
    const job *j = jr->j;
    call_result r = {.fn = c->run.fn->name, .worker_pid = c->e->pid};
    if (jr->status != SVC_OK) {
        r.status = SVC_INTERNAL, r.message = jr->message;
    } else {
        /* From the store (a long-poll's read), the result is text: as stored. */
        const job_json_text *text = jr->text;
        r = (call_result){.fn = j->fn,
                          .result = text ? NULL : j->result,
                          .result_text = text ? (text->result ? text->result : "null") : NULL,
                          .result_len = text ? (text->result ? text->result_len : 4) : 0,
                          .run_us = j->run_us,
                          .cpu_us = j->cpu_us,
                          .worker_pid = j->worker_pid,
                          .job_id = j->id,
                          .status = SVC_TIMEOUT,
                          .message = TIMEOUT_MESSAGE};
        if (j->state == JOB_SUCCEEDED)
            r.status = SVC_OK, r.message = NULL;
        else if (j->state == JOB_FAILED && strcmp(j->error_code, ERR_FUNCTION_ERROR) == 0)
            r.status = SVC_FUNCTION_ERROR, r.message = j->error_message;
        else if (j->state == JOB_FAILED && strcmp(j->error_code, ERR_WORKER_LOST) == 0)
            r.status = SVC_WORKER_LOST, r.message = j->error_message;
        else if (j->state == JOB_FAILED && strcmp(j->error_code, ERR_TIMEOUT) != 0)
            r.status = SVC_INTERNAL, r.message = j->error_message;
    }
    call_answer(c, &r);
    call_free(c);
}

/* Validates raw_args into c->args; false after answering. */
static bool call_validate(call *c, const fn_desc *fn, json_t *raw_args)
{
    char bad[UTF8_ECHO_SIZE], msg[256];
    if (fn_validate(fn, raw_args, &c->args, bad, sizeof(bad), msg, sizeof(msg)) == 0)
        return true;
    call_result r = {
        .status = SVC_INVALID_ARGS, .message = msg, .arg = bad[0] ? bad : NULL, .fn = fn->name};
    call_answer(c, &r);
    return false;
}

call *call_start(engine *e, const svc_caller *who, const fn_desc *fn, json_t *raw_args,
                 int64_t held, int64_t timeout_ms, call_done_fn *done, void *arg)
{
    ENGINE_ASSERT_LOOP();
    call *c = calloc(1, sizeof(*c));
    if (!c) {
        budget_give(e, BUDGET_ARGS, held);
        call_result r = {.status = SVC_INTERNAL, .message = "out of memory", .fn = fn->name};
        done(arg, &r);
        return NULL;
    }
    c->e = e;
    c->done = done;
    c->arg = arg;
    c->held = held;
    c->run.fn = fn;
    if (!call_validate(c, fn, raw_args)) {
        call_free(c);
        return NULL;
    }
    int64_t cost = runner_cost_ns(fn, c->args);
    if (fn->kind == FN_CPU && cost >= CALL_OFFLOAD_NS && lanes_all_busy(e, FN_CPU) &&
        lanes_other_free(e, FN_CPU)) {
        /* Our lane is taken and another worker's is free: go through the
         * shared queue rather than leave that CPU idle. The job takes the
         * args and their budget. */
        json_t *args = c->args;
        c->args = NULL;
        int64_t h = c->held;
        c->held = 0;
        jobs_op *q = jobs_run_call(e, who, fn, args, h, timeout_ms, call_queued_done, c);
        if (!q)
            return NULL; /* answered (and freed) already */
        c->queued = q;
        return c;
    }
    if (!runner_start(e, &c->run, fn, c->args, timeout_ms, call_ran))
        return NULL; /* ran inline: answered and freed */
    struct timeval tv = clock_tv_ms(timeout_ms);
    c->deadline = evtimer_new(e->base, call_on_deadline, c);
    if (c->deadline)
        evtimer_add(c->deadline, &tv);
    return c;
}

void call_abandon(call *c)
{
    ENGINE_ASSERT_LOOP();
    c->done = NULL;
    if (c->queued) {
        jobs_abandon(c->queued); /* cancels the job */
        call_free(c);
        return;
    }
    /* On a lane: ask it to stop; the lane frees when it does, and call_ran
     * frees the call. */
    runner_stop(&c->run, RUN_STOP_CANCEL);
}
