/*
 * lanes.h - the lanes of a worker: the cpu lane (cfg cpu_threads threads,
 * cpu-kind functions) and the io pool (io_threads, io-kind functions).
 *
 * Sync calls and jobs share them. A task counts as busy from the moment it
 * is handed to a lane (queued or running) until its result is home; a claim
 * that is with the store has promised lanes to the jobs it may bring. Free =
 * size - busy - promised, published in this worker's slot (0 while
 * draining) so that other workers know whom to wake for a job, and whether
 * a long sync call should go through the queue to an idle worker.
 *
 * Loop thread only; the one owner of engine.lanes.
 */
#ifndef CRUNCHD_LANES_H
#define CRUNCHD_LANES_H

#include <stdbool.h>

#include "ctx.h"

void lanes_init(engine *e);

/* Lanes of kind neither busy nor promised (may be < 0 while a claim holds
 * more than is free). */
int lanes_free(const engine *e, fn_kind kind);

/* Every lane of kind is taken by a task (promises aside). */
bool lanes_all_busy(const engine *e, fn_kind kind);

/* A task takes / gives back a lane of kind. Release publishes the free
 * lanes and lets queued jobs be claimed (claims.h). */
void lanes_acquire(engine *e, fn_kind kind);
void lanes_release(engine *e, fn_kind kind);

/* A claim asks the store for up to n jobs of kind: promise n lanes; and the
 * claim is back. */
void lanes_promise(engine *e, fn_kind kind, int n);
void lanes_unpromise(engine *e, fn_kind kind);

/* Writes the free counts into this worker's slot. */
void lanes_publish(engine *e);

/* Whether another worker has a free lane of kind now. */
bool lanes_other_free(const engine *e, fn_kind kind);

#endif
