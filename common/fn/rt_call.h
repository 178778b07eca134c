/*
 * rt_call.h - run() of every function a language runtime declared: one call
 * over a leased process (rt_pool.h), speaking rt_proto.h.
 *
 * rt_call_run() takes a free process of the function's runtime (waiting
 * while all are busy, within the deadline), writes the request line, and
 * reads lines with poll() in slices of RT_WAIT_SLICE_MS so that it sees
 * ctx->cancel and ctx->deadline_ns:
 *   - the reply {"id", "result"} ends the call FN_OK; {"id", "error"} ends it
 *     FN_FAILED with "message" (prefixed by "code: " unless the code is
 *     function_error); {"id", "progress"} sets ctx->progress;
 *   - at the deadline or on cancel it writes {"cancel": id} and waits the
 *     lease's grace (half of jobs.cancel_grace_ms, so that the call ends
 *     before a job's own escalation would end the worker); a reply within it
 *     keeps the process, else the process is killed and replaced. Either
 *     way the call ends FN_TIMEOUT or FN_CANCELLED;
 *   - a process that dies (end of its stdout, or a broken stdin) ends the
 *     call FN_LOST: a job is re-queued while it has retries, as when a
 *     worker dies;
 *   - a line that is not a reply, a reply naming another id, a line longer
 *     than max_result_bytes, or anything written after the reply gets the
 *     process killed with the reason logged, and ends the call FN_FAILED.
 *
 * Thread rules: called on a pool thread (cpu lane or io pool; runtime
 * functions have no cost estimate, so never on the loop).
 */
#ifndef CRUNCHD_RT_CALL_H
#define CRUNCHD_RT_CALL_H

#include <jansson.h>

#include "config.h"
#include "fn.h"

/* The run() of runtime functions (fn_desc.run; impl: rt_proto_runtime()). */
fn_status rt_call_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result);

/* A worker's start and end of its runtime processes (rt_pool.h): the worker's
 * main thread, before it serves and after its lanes are joined. 0, or -1
 * (logged). */
int rt_call_start(const config *cfg);
void rt_call_stop(void);

#endif
