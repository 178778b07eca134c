/*
 * budget.h - how much memory one worker lets requests hold at a time.
 *
 * Two budgets, both per worker (DESIGN.md section 9: every buffer and queue
 * is bounded in bytes):
 *   BUDGET_BODY  request bodies held: from the head that announces one (or,
 *                chunked, as it arrives) until the request is answered;
 *                and large replies of stored data (a job read from the
 *                store, a list page) from before they are built until they
 *                are written. limits.max_worker_body_bytes (4 x
 *                max_body_bytes by default), so a flood of large uploads or
 *                of reads of large jobs cannot fill memory; past it a
 *                request gets 503 busy, before its body is read or its
 *                reply built.
 *   BUDGET_ARGS  estimated memory of parsed arguments held: of calls and
 *                submissions (queued for a lane, running, or being
 *                committed), and of the jobs this worker claimed, from the
 *                claim until their completion is committed. Parsed JSON is
 *                larger than its text: the estimate is json_cost() of the
 *                text (json_cost.h: a number in an array costs ~48 bytes as
 *                a jansson value). limits.max_worker_args_bytes; past it a
 *                call or submission gets 503 busy.
 *   Either budget admits one however large when none is held, so a single
 *   maximal request or reply still goes through. Claims take from
 *   BUDGET_ARGS too, on the store thread: only jobs whose args fit in what
 *   is free when the claim runs (the oldest one whatever its cost when
 *   nothing is held; store.h, "With a budget"), held until the job's
 *   completion is committed; calls and submissions wait for room after
 *   them. A submission's bytes go to the store with it (sq_op submit.held),
 *   which gives them back, or hands them to the claim of the same batch that
 *   takes that very job. Not counted: text read from the store before its
 *   reply is held (at most STOREQ_TEXT_READS such reads at once, storeq.h).
 *
 * After a burst, budget_sweep() gives freed heap back to the kernel
 * (malloc_trim), which glibc keeps otherwise (workers set M_TRIM_THRESHOLD
 * high so the store thread does not churn pages on every transaction). A
 * burst is budgets held high, or large replies built without a budget
 * (budget_note: a job read from the store as text).
 *
 * Threads: the loop thread, but BUDGET_ARGS's counter (engine.args, a
 * store_budget) is atomic, shared with the store thread's claims.
 */
#ifndef CRUNCHD_BUDGET_H
#define CRUNCHD_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

/* Takes n bytes of budget k; false (and nothing taken) when that would pass
 * its limit. n <= 0 always succeeds. */
bool budget_take(engine *e, budget_kind k, int64_t n);

/* Sets both budgets empty, BUDGET_ARGS's limit from the config. */
void budget_init(engine *e);

/* A claim came back: its jobs' cost is held now (for the trim's peak). */
void budget_claimed(engine *e);

/* Gives back n bytes taken from k. */
void budget_give(engine *e, budget_kind k, int64_t n);

/* Replies of at least this many bytes count toward a burst (budget_note). */
#define BUDGET_NOTE_MIN (64 * 1024)

/* n bytes were built and let go without a budget (a large reply): counted
 * toward the trim after a burst; under BUDGET_NOTE_MIN nothing is noted. */
void budget_note(engine *e, int64_t n);

/* Once a second: after a burst (the budgets were held high, or large
 * replies went out, and since the last sweep no budget is held and no
 * large reply went out), return free heap to the kernel. */
void budget_sweep(engine *e);

#endif
