/*
 * metrics.h - the Prometheus metrics of DESIGN.md section 8, kept in the
 * shared region so /metrics in any worker shows the whole server.
 *
 * Invariants:
 *  - Every counter lives in a per-slot block (metrics_slot) that only the
 *    processes of that slot add to, with one relaxed atomic add per counter:
 *    no locks, no false sharing between workers. During a reload the old and
 *    the new process of a slot add to the same block; atomics keep that right.
 *  - Blocks are never zeroed: not on respawn, not on reload, not when TTOU
 *    retires a slot. metrics_render() sums every block ever used, so
 *    counters only go up for the life of the master.
 *  - Gauges are read at render time: queued and running jobs from
 *    shm->jobs (kept by the job engine), workers, restarts and connections
 *    from the shm_worker slots.
 *  - Durations are recorded in microseconds into fixed buckets; the render
 *    turns them into seconds, cumulative buckets, _sum and _count.
 *
 * Thread rules: the record functions are async-signal-safe and may be called
 * from any thread of any process that maps the region. metrics_register_fns()
 * is for the master before the first fork.
 */
#ifndef CRUNCHD_METRICS_H
#define CRUNCHD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct shm_region shm_region;

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

#define METRICS_MAX_FNS 16  /* functions with their own series */
#define METRICS_FN_NAME 32  /* longest function name + 1 */
#define METRICS_NCODES 27   /* status codes of the code table, the last is "other" */
#define METRICS_NBUCKETS 13 /* histogram buckets, the last is +Inf */
/* API tokens with their own series (crunchd_token_requests_total): the
 * first METRICS_MAX_TOKENS names seen since the master started; any later
 * one counts in one more series, token="(other)" (no token name has
 * parentheses). Bounded whatever the tokens files hold or reloads bring. */
#define METRICS_MAX_TOKENS 256
#define METRICS_TOKEN_OTHER METRICS_MAX_TOKENS /* the index of "(other)" */
#define METRICS_TOKEN_NAME 65                  /* a token name (auth.h AUTH_NAME_MAX) + 1 */
#define METRICS_NCLASSES 5                     /* status classes 1xx .. 5xx */

/* One histogram: per-bucket (not cumulative) counts and the sum. */
typedef struct metrics_hist {
    atomic_uint_fast64_t bucket[METRICS_NBUCKETS];
    atomic_uint_fast64_t sum_us;
} metrics_hist;

/* The counters of one slot. */
typedef struct metrics_slot {
    atomic_uint_fast64_t http[METRICS_NROUTES][METRICS_NCODES];
    metrics_hist http_duration[METRICS_NROUTES];
    atomic_uint_fast64_t jobs[METRICS_MAX_FNS][METRICS_NJOB_STATES];
    metrics_hist job_run[METRICS_MAX_FNS];
    /* Requests of each token, by metrics_token_index, by status class. */
    atomic_uint_fast64_t token[METRICS_MAX_TOKENS + 1][METRICS_NCLASSES];
} metrics_slot;

/* A token name of the series: state 0 free, 1 being written (by the worker
 * that took it), 2 written (then name never changes). */
typedef struct metrics_token_name {
    atomic_int state;
    char name[METRICS_TOKEN_NAME];
} metrics_token_name;

/* Lives in shm_region with SHM_MAX_WORKERS metrics_slot blocks (see shm.h);
 * zero-filled at creation. */
typedef struct metrics_area {
    char fn_name[METRICS_MAX_FNS][METRICS_FN_NAME]; /* written once, before the first fork */
    int nfns;
    atomic_int slots_used; /* highest slot ever recorded into + 1 */
    metrics_token_name token[METRICS_MAX_TOKENS]; /* taken by workers, never given back */
} metrics_area;

/*
 * Master, before the first fork: records the function names (the registry,
 * debug functions included, so the indexes do not change with
 * debug_functions). Names past METRICS_MAX_FNS share no series (index -1).
 */
void metrics_register_fns(shm_region *shm);

/* The route of a request path (not the query). Pure. */
metrics_route metrics_route_of(const char *path, size_t len);

/* Index of a function for metrics_job(), or -1. Cache it: it compares names. */
int metrics_fn_index(const shm_region *shm, const char *name);

/*
 * One answered HTTP request: status is the code sent, duration_us the time
 * from the first byte of the request to the reply being queued. Three relaxed
 * atomic adds. slot is the caller's shm slot.
 */
void metrics_http(shm_region *shm, int slot, metrics_route route, int status, int64_t duration_us);

/* One function run that ended (a synchronous call or an async job), in state
 * state after run_us of running. fn_index < 0 is ignored. */
void metrics_job(shm_region *shm, int slot, int fn_index, metrics_job_state state, int64_t run_us);

/*
 * The series index of the API token called name (0 .. METRICS_MAX_TOKENS-1,
 * or METRICS_TOKEN_OTHER once every name is taken), taking a free one the
 * first time any worker asks for a name: lock-free (a compare-and-swap),
 * any process, any thread. Compares names: cache it per token.
 */
int metrics_token_index(shm_region *shm, const char *name);

/* One answered request of the token with series index (metrics_token_index)
 * with status: one relaxed atomic add. An index out of range is ignored. */
void metrics_token(shm_region *shm, int slot, int index, int status);


/*
 * Renders every metric in the Prometheus text format 0.0.4 (Content-Type
 * CT_PROMETHEUS of wire.h). debug says whether debug-only functions get
 * series while their counters are zero. On success returns 0 and *out is a
 * new malloc'd NUL-terminated text of *len bytes that the caller frees; -1
 * (out of memory) leaves *out NULL.
 */
int metrics_render(const shm_region *shm, bool debug, char **out, size_t *len);

#endif
