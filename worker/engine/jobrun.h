/*
 * jobrun.h - a claimed job, from its start to its completion.
 *
 * A job runs through the runner (runner.h: inline when tiny, else on a
 * lane) with its deadline (timeout_ms per attempt). Its outcome becomes its
 * final state -- succeeded, failed (timeout or function_error) or cancelled
 * -- and is completed in the store, batched with others (storeq.h); once
 * committed the engine announces it (engine_job_final). A job asked to stop
 * (its deadline passed, or a cancel) that has not stopped cancel_grace_ms
 * later is recorded as failed/timeout (or cancelled) first, and then the
 * worker ends (JOBRUN_EXIT_KILLED): the master respawns it.
 *
 * From its start until its end is committed (or its re-queue read back) a
 * job holds the estimated memory of its args (job.args_cost, from the
 * store's text) against BUDGET_ARGS, forced (budget.h): a claimed job
 * always runs, and calls and submissions get 503 busy while it leaves them
 * no room.
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_JOBRUN_H
#define CRUNCHD_JOBRUN_H

#include <sys/types.h>

#include "ctx.h"
#include "job.h"

#define JOBRUN_EXIT_KILLED 70 /* a job ignored its stop request: the worker ends */

int jobrun_init(engine *e);
/* Only when no job runs (jobrun_count() == 0). */
void jobrun_release(engine *e);

/* Runs claimed job *j (moved out: *j is left empty). */
void jobrun_start(engine *e, job *j);

/* Asks the job id this worker runs to stop (it ends cancelled); the kill
 * follows cancel_grace_ms later if it does not. Unknown ids are ignored. */
void jobrun_stop(engine *e, const char *id);

/* Asks whoever runs job id (worker owner: this one, or another through the
 * bell) to stop it. */
void jobrun_cancel(engine *e, const char *id, pid_t owner);

/* Jobs running in this worker now (claimed and not yet completed). */
int jobrun_count(const engine *e);

#endif
