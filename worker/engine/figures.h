/*
 * figures.h - the job queue's figures, shared by all workers in the shared
 * region (shm_jobs): jobs queued and running (kept by every worker as it
 * queues, claims, cancels and completes jobs; approximate between the
 * resyncs from the store, upkeep.h), and a recent run time. They answer
 * "is the queue full" (limits.max_queue), fill Retry-After, and are the
 * gauges of /metrics.
 *
 * Relaxed atomics: any worker's loop thread.
 */
#ifndef CRUNCHD_FIGURES_H
#define CRUNCHD_FIGURES_H

#include <stdint.h>

#include "ctx.h"

void figures_queued_add(engine *e, int64_t n);
void figures_running_add(engine *e, int64_t n);
/* From the store (the resync). */
void figures_set(engine *e, int64_t queued, int64_t running);
int64_t figures_queued(const engine *e);

/* A job ran for run_us: folds it into the recent run time. A run under 1 µs
 * (an inline run of a trivial job) counts as 1 µs: 0 means "no run yet",
 * and claims prefetch only once the recent run time is known and short. */
void figures_ran(engine *e, int64_t run_us);
/* The recent run time of a job in microseconds (0: none yet). */
int64_t figures_run_time_us(const engine *e);

/* Seconds a client should wait before asking again, from the queue depth
 * and recent run times (Retry-After), 1 .. 3600. */
int figures_retry_after_s(const engine *e);

#endif
