/*
 * metrics.h - the Prometheus metrics of DESIGN.md section 8, kept in the
 * shared region so /metrics in any worker shows the whole server.
 *
 * Invariants:
 *  - Every counter lives in a per-slot block that only the processes of that
 *    slot add to, with one relaxed atomic add per counter: no locks, no false
 *    sharing between workers. During a reload the old and the new process of
 *    a slot add to the same block; atomics keep that right.
 *  - Blocks are never zeroed: not on respawn, not on reload, not when TTOU
 *    retires a slot. metrics_render() sums every block ever used, so
 *    counters only go up for the life of the master.
 *  - Function series are sized from the registry, not capped at a constant:
 *    the area (its own part of the shared region, shm_create()) is mapped at
 *    master start with room for the functions registered then plus
 *    METRICS_FN_SPARE; each function name gets one series for the life of
 *    the master (append-only name table), so a function keeps its counters
 *    across reloads. A name that finds no room is logged, never dropped
 *    silently.
 *  - Gauges are read at render time: queued and running jobs from
 *    shm->jobs (kept by the job engine), workers, restarts and connections
 *    from the shm_worker slots.
 *  - Durations are recorded in microseconds into fixed buckets; the render
 *    turns them into seconds, cumulative buckets, _sum and _count.
 *
 * Thread rules: the record functions (metrics_http, metrics_job, metrics_token) are
 * async-signal-safe and may be called from any thread of any process that
 * maps the region. metrics_register_fns() is for the master, before it forks
 * workers with that registry; it appends names while workers render, which
 * they read below a count published with release order.
 */
#ifndef CRUNCHD_METRICS_H
#define CRUNCHD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct shm_region shm_region;
typedef struct fn_registry fn_registry;

/* Routes, the "route" label. metrics_route() maps a path to one. */
typedef enum metrics_route {
    METRICS_R_HEALTHZ = 0,
    METRICS_R_READYZ,
    METRICS_R_METRICS,
    METRICS_R_FUNCTIONS,
    METRICS_R_WORKERS,
    METRICS_R_FN,   /* /v1/fn/{name} */
    METRICS_R_JOBS, /* /v1/jobs */
    METRICS_R_JOB,  /* /v1/jobs/{id} */
    METRICS_R_OTHER,
    METRICS_NROUTES
} metrics_route;

/* Final states of a function run, the "state" label of crunchd_jobs_total. */
typedef enum metrics_job_state {
    METRICS_JOB_SUCCEEDED = 0,
    METRICS_JOB_FAILED,
    METRICS_JOB_CANCELLED,
    METRICS_NJOB_STATES
} metrics_job_state;

#define METRICS_NCODES 27   /* status codes of the code table, the last is "other" */
#define METRICS_NBUCKETS 13 /* histogram buckets, the last is +Inf */

/* Function series for names that reloads add after start-up (see above). */
#define METRICS_FN_SPARE 64

/* API tokens with their own series (crunchd_token_requests_total): the
 * first METRICS_MAX_TOKENS names seen since the master started; any later
 * one counts in one more series, token="(other)" (no token name has
 * parentheses). Bounded whatever the tokens files hold or reloads bring. */
#define METRICS_MAX_TOKENS 256
#define METRICS_TOKEN_OTHER METRICS_MAX_TOKENS /* the index of "(other)" */
#define METRICS_TOKEN_NAME 65                  /* a token name (auth.h AUTH_NAME_MAX) + 1 */
#define METRICS_NCLASSES 5                     /* status classes 1xx .. 5xx */

/*
 * Bytes of the metrics area of the shared region, to give shm_create(): room
 * for the functions of r plus METRICS_FN_SPARE.
 */
size_t metrics_shm_bytes(const fn_registry *r);

/*
 * Master, before it forks workers with r: gives every function of r (debug
 * ones included, so series do not change with debug_functions) its series
 * (fn_registry_set_series()). A name seen before (an earlier generation)
 * keeps its series; a new name takes the next free one. Names that find no
 * room get series -1, and one warning in the log names them all. The first
 * call lays the area out. Returns how many functions got no series.
 */
int metrics_register_fns(shm_region *shm, fn_registry *r);

/* Series the area has room for (0 before the first metrics_register_fns()). */
int metrics_fn_capacity(const shm_region *shm);

/* The route of a request path (not the query). Pure. */
metrics_route metrics_route_of(const char *path, size_t len);

/*
 * One answered HTTP request: status is the code sent, duration_us the time
 * from the first byte of the request to the reply being queued. Three relaxed
 * atomic adds. slot is the caller's shm slot.
 */
void metrics_http(shm_region *shm, int slot, metrics_route route, int status, int64_t duration_us);

/*
 * One function run that ended (a synchronous call or an async job), in state
 * state after run_us of running. series is the function's fn_desc.series; a
 * series < 0 (a function without one) is ignored. Three relaxed atomic adds.
 */
void metrics_job(shm_region *shm, int slot, int series, metrics_job_state state, int64_t run_us);

/*
 * The series index of the API token called name (0 .. METRICS_MAX_TOKENS-1,
 * or METRICS_TOKEN_OTHER once every name is taken; -1 in a region without
 * a metrics area), taking a free one the first time any worker asks for a
 * name: lock-free (a compare-and-swap), any process, any thread. Names are
 * kept for the life of the master, so a token keeps its series across
 * reloads. Compares names: cache it per token.
 */
int metrics_token_index(shm_region *shm, const char *name);

/* One answered request of the token with series index (metrics_token_index)
 * with status: one relaxed atomic add. An index out of range is ignored. */
void metrics_token(shm_region *shm, int slot, int index, int status);

/*
 * Renders every metric in the Prometheus text format 0.0.4 (Content-Type
 * CT_PROMETHEUS of wire.h). Function series are shown for the functions of
 * the caller's registry (fn_find(); debug-only ones when debug is true) and
 * for any other name whose counters are not zero (a function an earlier
 * generation ran). On success returns 0 and *out is a new malloc'd
 * NUL-terminated text of *len bytes that the caller frees; -1 (out of
 * memory) leaves *out NULL.
 */
int metrics_render(const shm_region *shm, bool debug, char **out, size_t *len);

#endif
