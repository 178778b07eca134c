/*
 * claims.h - claiming queued jobs for this worker's free lanes.
 *
 * One queue for all workers: a worker with a free lane of a job's kind
 * claims the oldest queued jobs of that kind (one claim per kind with the
 * store at a time) and hands them to jobrun.h. Nothing polls the store in a
 * loop: the engine claims when a lane frees, when this worker queues a job,
 * when another worker rings (bell.h), and, as a safety net while jobs are
 * queued, once a second (a lost bell costs at most that).
 *
 * Prefetch: while the jobs just claimed were cheap (estimated and measured
 * under CLAIMS_PREFETCH_BELOW_US), a claim asks for up to
 * CLAIMS_PREFETCH_MAX more than the free lanes, saving transactions for
 * tiny jobs; it never holds back jobs an idle worker could run longer ones of.
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_CLAIMS_H
#define CRUNCHD_CLAIMS_H

#include "ctx.h"

#define CLAIMS_PREFETCH_MAX 16        /* extra jobs claimed per lane when jobs are short */
#define CLAIMS_PREFETCH_BELOW_US 1000 /* "cheap": estimated and recent run time under this */

int claims_init(engine *e);
void claims_release(engine *e);

/* Lanes may be free: claim for every kind that may have work. */
void claims_pump_all(engine *e);

/* The queue may hold jobs of kind (a ring from another worker). */
void claims_wake(engine *e, fn_kind kind);

/* The queue may hold jobs of any kind (after a reap; while jobs are queued). */
void claims_maybe_all(engine *e);

/* A job of kind is about to be pushed to the store: if a lane is free, a
 * claim joins the same transaction, so the job can come back claimed. */
void claims_submitting(engine *e, fn_kind kind);

/* A job of kind this worker queued was committed and no claim of its batch
 * took it: claim it here if a lane is free, else wake an idle worker. */
void claims_queued(engine *e, fn_kind kind);

#endif
