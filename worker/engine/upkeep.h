/*
 * upkeep.h - the job engine's once-a-second chores.
 *
 *   - Reaping: when the master sees a worker die it records it in the
 *     shared region (shm_jobs_record_death); the first live worker to see
 *     the record takes it (a CAS on its reaped flag) and has the store
 *     re-queue that worker's running jobs (while they have retries) or fail
 *     them as worker_lost; the jobs made final are announced.
 *   - Queue figures: every RESYNC_EVERY_MS the worker of slot 0 reads the
 *     real counts from the store (figures.h).
 *   - Purge: every PURGE_EVERY_MS the worker of slot 0 deletes final jobs
 *     older than jobs.result_ttl_s.
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_UPKEEP_H
#define CRUNCHD_UPKEEP_H

#include "ctx.h"

#define UPKEEP_RESYNC_EVERY_MS 5000
#define UPKEEP_PURGE_EVERY_MS 60000

int upkeep_init(engine *e);
void upkeep_release(engine *e);

/* Once a second. */
void upkeep_sweep(engine *e);

#endif
