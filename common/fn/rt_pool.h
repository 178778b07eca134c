/*
 * rt_pool.h - a worker's processes of the language runtimes (README
 * "Writing a runtime"; config.h functions.runtimes).
 *
 * Each worker starts per_worker processes of each configured runtime when it
 * starts (rt_pool_start(), through rt_call_start() from worker/worker.c) and stops them when it
 * ends (rt_pool_stop()). One thread of the worker, "crunchd-rt", owns their life:
 *   - it forks them (rt_spawn.h; so PR_SET_PDEATHSIG ties them to a thread
 *     that lives as long as the worker), reads their hello, and marks them
 *     idle (a hello that is malformed or late gets the process killed);
 *   - it reads their stderr into the log (rt_log.h), never the loop;
 *   - it reaps them (it is the only caller of waitpid() for them), logs how
 *     each ended, and starts a new one: at once after a process was killed
 *     on purpose or lived RT_YOUNG_MS, else after a back-off doubling from
 *     RT_BACKOFF_MIN_MS to RT_BACKOFF_MAX_MS while they keep dying young;
 *   - at rt_pool_stop() it sends SIGTERM to each group and closes stdin,
 *     waits up to RT_STOP_MS, then SIGKILL.
 *
 * A call (rt_call.h, on a cpu lane or io pool thread) leases an idle
 * process (rt_pool_acquire(), waiting within its deadline while all are
 * busy or starting), talks to it through the lease's pipes alone, and gives
 * it back healthy, or killed with a reason (rt_pool_release()). A process
 * is owned by exactly one side at a time: its pipes to stdin/stdout by the
 * lease while leased and by the runtime thread while starting; its stderr
 * and its reaping by the runtime thread always.
 *
 * While every process of a runtime is down after failing to start (dying
 * before or soon after its hello), calls fail at once with FN_FAILED
 * ("runtime \"py\" is not running: ..."), rather than wait for a restart that
 * may never succeed.
 *
 * Thread rules: start and stop are for the worker's main thread, once each,
 * with no lease outstanding at stop (the lanes are joined first). acquire
 * and release may be called from any thread; one mutex guards the states.
 */
#ifndef CRUNCHD_RT_POOL_H
#define CRUNCHD_RT_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "fn.h"
#include "rt_line.h"
#include "rt_proto.h"

#define RT_YOUNG_MS 1000 /* a process that dies sooner (on its own) died young */
#define RT_BACKOFF_MIN_MS 100
#define RT_BACKOFF_MAX_MS 10000
#define RT_WAIT_SLICE_MS 20 /* waits look at cancel and the deadline this often */

typedef struct rt_proc rt_proc;

/* One call's hold on one process. */
typedef struct rt_lease {
    rt_proc *proc;
    const char *name; /* the runtime's name */
    pid_t pid;
    int in, out;        /* its stdin (non-blocking) and stdout */
    rt_line *reader;    /* its stdout's lines (max: max_result_bytes) */
    uint64_t id;        /* the id of this call, unique per process */
    int64_t max_result; /* max_result_bytes */
    int64_t grace_ms;   /* how long a cancelled call may take to answer */
} rt_lease;

/*
 * Starts the runtimes of cfg (borrowed for the worker's life): the runtime
 * thread and, through it, per_worker processes of each, whose functions get
 * run as their run() (rt_call_start() passes rt_call_run). A process that fails
 * to start is retried with back-off and does not fail this call. Returns 0,
 * or -1 (logged) when the thread or memory cannot be had. With no runtime
 * configured it does nothing.
 */
int rt_pool_start(const config *cfg, rt_run_fn *run);

/* Stops every process (TERM, then KILL after RT_STOP_MS) and the thread. */
void rt_pool_stop(void);

/*
 * Leases an idle process of runtime index, waiting while none is idle, until
 * ctx's deadline passes or its cancel flag is set. Returns FN_OK with *l
 * filled, FN_TIMEOUT / FN_CANCELLED, or FN_FAILED with ctx->message set (no
 * runtimes in this process, the runtime is down after failures).
 */
fn_status rt_pool_acquire(int index, fn_ctx *ctx, rt_lease *l);

/*
 * Gives a leased process back. why NULL: healthy, idle again. Otherwise it
 * is killed (SIGKILL to its group), why is logged as the reason ("reply is
 * not JSON: ..."), and the runtime thread reaps and replaces it; on_purpose
 * false means it died by itself (a death counts towards the back-off).
 */
void rt_pool_release(rt_lease *l, const char *why, bool on_purpose);

#endif
