/*
 * call.h - run a function now and wait for it: Pool.apply (POST
 * /v1/fn/{name}), protocol-neutral.
 *
 * The call validates the arguments, then runs the function through the
 * runner (engine/runner.h: inline when tiny, else on a lane) with its time
 * limit. At the limit the function is asked to stop and the call is
 * answered SVC_TIMEOUT at once (the lane frees when the function returns).
 * A cpu call estimated at CALL_OFFLOAD_NS or more, arriving while this
 * worker's cpu lane is busy and another worker's is free, goes through the
 * job queue to that worker instead (svc/jobs.h), so no CPU idles.
 *
 * A call answers exactly once, through done, on the loop thread -- before
 * call_start returns (then it returns NULL) or later -- unless the caller
 * abandons it (its client left): then the function is asked to stop (the
 * job cancelled) and done is never called.
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_SVC_CALL_H
#define CRUNCHD_SVC_CALL_H

#include <jansson.h>
#include <stdint.h>

#include "ctx.h"
#include "fn.h"
#include "svc.h"

/* Calls estimated to run at least this long may go through the job queue
 * to another worker when this worker's cpu lane is busy. */
#define CALL_OFFLOAD_NS (5 * 1000 * 1000)

typedef struct call_result {
    svc_status status;   /* OK, INVALID_ARGS, TIMEOUT, FUNCTION_ERROR, INTERNAL */
    const char *message; /* for people, with an error */
    const char *arg;     /* SVC_INVALID_ARGS: the argument at fault, or NULL */
    const char *fn;      /* the function's name */
    json_t *result;      /* SVC_OK: borrowed for the call; NULL with result_text */
    const char *result_text; /* SVC_OK through the queue, answered from the store: the
                                result as JSON text, as stored (result_len bytes, borrowed
                                for the call; never parsed here) */
    size_t result_len;
    int64_t run_us, cpu_us;
    int worker_pid;     /* the worker that ran it */
    const char *job_id; /* when it went through the queue, else NULL */
} call_result;

typedef void call_done_fn(void *arg, const call_result *r);
typedef struct call call;

/*
 * Calls fn for who (borrowed for the call: a call through the queue is a
 * job of who's owner) with raw_args (the request's arguments object,
 * borrowed; NULL is {}), holding `held` bytes of BUDGET_ARGS for them
 * (given back when the call is done with them), within timeout_ms.
 */
call *call_start(engine *e, const svc_caller *who, const fn_desc *fn, json_t *raw_args,
                 int64_t held, int64_t timeout_ms, call_done_fn *done, void *arg);

/* The caller is gone: stop the run, never answer. */
void call_abandon(call *c);

#endif
