/*
 * jobs.h - asynchronous jobs as a service: submit (apply_async), get with
 * an optional wait (Future.result(timeout)), cancel (Future.cancel), and a
 * sync call run through the queue (call.h's offload). Protocol-neutral:
 * requests and answers are values, never HTTP; any listener may use it.
 *
 * Every operation answers exactly once through its done callback, on the
 * loop thread, unless the caller abandons it first (jobs_abandon: its
 * client left): then it answers never, and what must still happen does (a
 * queued submission stays queued; a sync call through the queue is
 * cancelled). An operation may answer before the call that starts it
 * returns (a bad request); it then returns NULL.
 *
 * Every operation acts for a caller (svc.h, borrowed for the call): a new
 * job is the caller's; a job of another owner is SVC_NOT_FOUND to a caller
 * without all, as a job that does not exist (the same message).
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_SVC_JOBS_H
#define CRUNCHD_SVC_JOBS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx.h"
#include "job.h"
#include "svc.h"

#define JOBS_WAIT_MAX_S 300 /* longest long-poll; longer asks are shortened */
#define JOBS_RETRIES_MAX 10

typedef struct jobs_result {
    svc_status status;
    const char *message; /* for people; NULL with SVC_OK */
    const char *arg;     /* SVC_INVALID_ARGS: the field at fault */
    const job *j;        /* SVC_OK: the job (borrowed for the call), final or not */
    const job_json_text *text; /* SVC_OK: NULL when j holds its args and result; else
                                  they are this JSON text, as stored (borrowed for the
                                  call; never parsed: answer with job_dumps_view) and
                                  j's are NULL. A job read from the store (a get, a
                                  long-poll) comes so. */
    int retry_after_s;   /* when to ask again: a job still on its way, SVC_QUEUE_FULL */
    bool show_owner;     /* the caller's show_owner: j's object may show its owner */
} jobs_result;

typedef void jobs_done_fn(void *arg, const jobs_result *r);
typedef struct jobs_op jobs_op;

/*
 * Submits the job body describes ({"fn", "args", "timeout_ms", "callback",
 * "retries"}; borrowed; unknown fields are refused by name) for who, with
 * an optional Idempotency-Key (key[0..key_len), NULL for none; per owner),
 * waiting up to wait_ms (0: none) for it to end. held: BUDGET_ARGS bytes
 * taken for body, given back once the job is in the store. Answers SVC_OK
 * with the job as stored (or as it ended within the wait),
 * SVC_INVALID_ARGS, SVC_UNKNOWN_FUNCTION, SVC_QUEUE_FULL (limits.max_queue,
 * or who->max_queued of the owner's jobs queued: counted by the store in
 * the submission's transaction, store.h), SVC_KEY_REUSED or SVC_INTERNAL.
 */
jobs_op *jobs_submit(engine *e, const svc_caller *who, json_t *body, int64_t held, const char *key,
                     size_t key_len, int64_t wait_ms, jobs_done_fn *done, void *arg);

/* Job id, once it is final or wait_ms have passed (0: at once). SVC_OK or
 * SVC_NOT_FOUND (or SVC_INTERNAL). */
jobs_op *jobs_get(engine *e, const svc_caller *who, const char *id, int64_t wait_ms,
                  jobs_done_fn *done, void *arg);

/*
 * Cancels job id: a queued job ends cancelled at once; a running one is
 * asked to stop and answered when it has ended (cancelled, or not final yet
 * past cancel_grace_ms and the kill that follows). SVC_OK with the job
 * (final: cancelled; not final: still stopping), SVC_ALREADY_FINAL,
 * SVC_NOT_FOUND or SVC_INTERNAL.
 */
jobs_op *jobs_cancel(engine *e, const svc_caller *who, const char *id, jobs_done_fn *done,
                     void *arg);

/*
 * A sync call through the queue (call.h): args (validated; stolen, with
 * held bytes of BUDGET_ARGS) of fn as a job of who's owner with timeout_ms;
 * answered with the job once final, or as it is a little past its
 * deadline. Abandoned, the job is cancelled. Neither limits.max_queue nor
 * who->max_queued refuses it: it is a call, bounded by its connection.
 */
jobs_op *jobs_run_call(engine *e, const svc_caller *who, const fn_desc *fn, json_t *args,
                       int64_t held, int64_t timeout_ms, jobs_done_fn *done, void *arg);

/* The caller is gone: never answer (see above). */
void jobs_abandon(jobs_op *op);

/* Retry-After for a job still on its way, from the queue figures. */
int jobs_retry_after_s(const engine *e);

#endif
