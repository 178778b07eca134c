/*
 * deliver.h - POSTs final jobs to their callback URLs, retrying with
 * back-off up to callbacks.retries times (common/callback.h does one attempt).
 *
 * Attempts run on the worker's own delivery threads (callbacks.threads, 2 by
 * default): never on the loop thread, and never on the io pool, so a
 * receiver that accepts and never answers holds up other callbacks at worst,
 * not io functions or jobs. Each attempt is bounded by callbacks.timeout_ms
 * (connect + send + read; name resolution is not bounded, see callback.h).
 *
 * Bounds: a worker holds at most callbacks.max_pending deliveries (queued,
 * running or waiting for a retry) whose bodies total at most
 * callbacks.max_pending_bytes. A delivery that would pass either is dropped
 * with one warning naming the job; the job itself stays in the store.
 *
 * Threads: the delivery threads see only their delivery and an immutable copy
 * of the callbacks config taken by deliver_init (never the engine, whose
 * config the loop owns). Everything else here runs on the loop thread.
 *
 * Delivery is at-least-once while the worker lives: a pending retry is lost if
 * the worker ends (the job itself stays in the store, and GET shows it). A
 * draining worker waits for pending deliveries, up to shutdown_timeout_s.
 */
#ifndef CRUNCHD_DELIVER_H
#define CRUNCHD_DELIVER_H

#include "job.h"
#include "ctx.h"

/* Deadline of the one attempt deliver_now makes (less if
 * callbacks.timeout_ms is less). */
#define CALLBACK_LAST_TIMEOUT_MS 2000

/* Starts the delivery threads and copies e->cfg->callbacks. Returns 0, or
 * -1 with errno set (nothing is left to free). */
int deliver_init(engine *e);

/* Joins the threads and frees what init made (nothing when init failed or
 * was not called). Only when nothing is pending (deliver_pending()
 * == 0), as after a drain: a process that ends with deliveries in flight
 * exits without calling this. */
void deliver_release(engine *e);

/* Starts delivering j (borrowed; its JSON is taken now), or drops it with a
 * warning when the bounds are reached. */
void deliver_job(engine *e, const job *j);

/* One attempt right now on the loop thread, blocking for at most
 * CALLBACK_LAST_TIMEOUT_MS: only for a worker about to _exit(). */
void deliver_now(engine *e, const job *j);

/* Deliveries pending: queued, running or waiting for a retry. */
int deliver_pending(const engine *e);

#endif
