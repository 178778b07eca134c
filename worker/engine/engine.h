/*
 * engine.h - starting, running and stopping the engine of a worker (its
 * state and parts: ctx.h). worker.c drives it; the layers above use the
 * parts' headers.
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_ENGINE_H
#define CRUNCHD_ENGINE_H

#include <stdbool.h>

#include "ctx.h"

/*
 * Starts the engine of the worker in slot (the wake-up socket, the pools,
 * the store thread, deliveries) on base. cfg and shm are borrowed for the
 * life of the engine. Returns 0, or -1 (logged); engine_release() then
 * frees what was made. Loop thread: the calling thread becomes it.
 */
int engine_init(engine *e, const config *cfg, shm_region *shm, int slot, struct event_base *base,
                engine_idle_fn *on_idle, void *idle_arg);

/* The worker serves now (its pid is in its slot): take the slot over from
 * an earlier incarnation, publish free lanes, claim what waits. */
void engine_start(engine *e);

/* QUIT: publish no free lanes, answer long-polls with the job as it is. */
void engine_drain(engine *e);

/* Once a second: heartbeat, reaping, queue figures, purge, a look at the
 * bell, memory back to the kernel after a burst. */
void engine_sweep(engine *e);

/* Nothing in flight: no running job, no store operation, no delivery. */
bool engine_idle_now(const engine *e);

/*
 * Tears down; only when engine_idle_now() (a worker that ends with work in
 * flight _exit()s instead): joining threads waits for their tasks.
 */
void engine_release(engine *e);

#endif
