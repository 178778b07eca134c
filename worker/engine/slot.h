/*
 * slot.h - this worker's slot of the shared region (common/shm.h): the one
 * place a worker writes it.
 *
 * During a reload (or after TTOU) the old process of a slot drains while a
 * new one already runs in it, so the fields that describe ONE process --
 * state, heartbeat, current job, free lanes, long-polls held, wait bins --
 * are written only by the process whose pid is in the slot (shm_worker_mine).
 * Every setter here checks that, so callers never do. Counters (requests,
 * function runs, connections) are atomic adds that both processes may make.
 *
 * Loop thread only (the counters excepted: any thread).
 */
#ifndef CRUNCHD_SLOT_H
#define CRUNCHD_SLOT_H

#include <stdbool.h>

#include "ctx.h"

/* True while this process is the one in its slot. */
bool slot_mine(const engine *e);

/* The worker serves now: our pid (the master wrote it too, after fork),
 * heartbeat, RUNNING, no wait bins left from an earlier incarnation. */
void slot_start(engine *e);

/* QUIT received: DRAINING. */
void slot_draining(engine *e);

/* Once a second from the loop: the master kills a worker whose beat is old. */
void slot_heartbeat(engine *e);

/* The job this worker runs now (NULL: none), for the master's log of a hung worker. */
void slot_set_job(engine *e, const char *id);

/* Idle lanes of a kind, worth waking this worker for. */
void slot_set_free(engine *e, fn_kind kind, int n);

/* Long-polls held, and their count in the wait bin of job id (+1 or -1). */
void slot_set_waiters(engine *e, int n);
void slot_bin_add(engine *e, const char *id, int add);

/* Counters: requests answered, function runs ended, connections open (+1/-1). */
void slot_count_request(engine *e);
void slot_count_run(engine *e);
void slot_count_connection(engine *e, int add);

#endif
