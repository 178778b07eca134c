/*
 * jobs.h - the asynchronous job engine of a worker (DESIGN.md section 4).
 *
 * One queue for all workers: jobs live in the store; a worker with a free
 * lane of a job's kind claims the oldest queued jobs of that kind, runs them
 * on its cpu lane or io pool, and completes them in the store. Wake-ups
 * cross processes as wake.h messages: whoever queues a job wakes an idle
 * worker; whoever finishes one tells the workers holding long-polls; a
 * cancel goes to the job's owner. Nothing polls the store in a loop.
 *
 * Lanes: sync calls (POST /v1/fn) and jobs share the lanes; w->busy_cpu and
 * w->busy_io count what is queued or running there, and jobs are claimed
 * only for lanes that are free, so a backlog of jobs never delays a sync
 * call by more than the jobs already running.
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_JOBS_H
#define CRUNCHD_JOBS_H

#include "job.h"
#include "wctx.h"

/* Opens the wake socket and the store threads, reaps what earlier
 * incarnations of this slot left running, and claims. Returns 0 or -1 (logged). */
int jobs_init(wctx *w);
void jobs_release(wctx *w);

/* The worker serves now (its pid is in its slot): takes over the slot's
 * bell from an earlier incarnation, publishes free lanes, claims. */
void jobs_start(wctx *w);

/* A lane task (sync call or job) ended: publish free lanes, claim more. */
void jobs_lane_freed(wctx *w);

/* Once a second: reap the jobs of workers that died, resync the queue
 * figures, purge old jobs. */
void jobs_sweep(wctx *w);

/* A job of this kind is about to be pushed to the store (SQ_SUBMIT): if a
 * lane is free, a claim joins the same transaction, so the job can come
 * back claimed (op->claimed) without a second one. */
void jobs_submitting(wctx *w, fn_kind kind);

/* A job was committed to the queue (by this worker) and no claim of its
 * batch took it: claim it here if a lane is free, else wake an idle worker. */
void jobs_queued(wctx *w, fn_kind kind);

/* A job became final (here, or reaped): answer the long-polls on it, here
 * and in other workers, and deliver its callback if this worker made it
 * final (deliver). */
void jobs_final(wctx *w, const job *j, bool deliver);

/* Asks the running job id (owned by worker pid owner) to stop. */
void jobs_cancel_running(wctx *w, const char *id, pid_t owner);

/* Whether another worker has a free lane of this kind now. */
bool jobs_other_free(const wctx *w, fn_kind kind);

/* Jobs running in this worker now. */
int jobs_running(const wctx *w);

/* Seconds a client should wait before asking again, from the queue depth and
 * recent run times (Retry-After). */
int jobs_retry_after_s(const wctx *w);

#endif
