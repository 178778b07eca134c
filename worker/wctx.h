/*
 * wctx.h - the state of one worker process, shared by its modules.
 *
 * Owned by the loop thread: pool threads never touch it (they only see the
 * tasks handed to them). There is one per process, created by worker_run().
 */
#ifndef CRUNCHD_WCTX_H
#define CRUNCHD_WCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "access_log.h"
#include "config.h"
#include "pool.h"
#include "shm.h"

struct event_base;
typedef struct conn conn;
typedef struct storeq storeq;
typedef struct jobs jobs;
typedef struct waiters waiters;
typedef struct callback_deliveries callback_deliveries;

/* Memory budgets of a worker (budget.h). */
typedef enum budget_kind { BUDGET_BODY, BUDGET_ARGS, BUDGET_NKINDS } budget_kind;

typedef struct wctx {
    const config *cfg;        /* borrowed from the master's copy; read-only */
    shm_region *shm;
    shm_worker *me;           /* this worker's slot in shm */
    int slot;
    struct event_base *base;
    pool_done *done;          /* where pool results come home */
    pool *cpu;                /* cpu lane: cpu-kind functions */
    pool *io;                 /* io pool: io-kind functions */
    int busy_cpu, busy_io;    /* tasks queued or running on cpu / io (sync calls and jobs) */
    storeq *sq;               /* the job store, through store threads */
    jobs *jobs;               /* asynchronous job engine (jobs.c) */
    waiters *waiters;         /* long-polls (jobs_http.c) */
    callback_deliveries *cbd; /* callback delivery and its threads (callback_deliver.c) */
    pid_t pid;                /* getpid(), cached */
    pid_t master_pid;
    conn *conns;              /* every open connection (doubly linked), for the sweep */
    int nconns;
    bool draining;            /* QUIT received: no new connections, close when idle */
    int64_t now_ms;           /* CLOCK_MONOTONIC_COARSE, refreshed per loop pass */
    char *functions_json;     /* GET /v1/functions body, built once */
    access_log *al;           /* access log (off: a handle that writes nothing) */
    size_t functions_len;
    int64_t held[BUDGET_NKINDS]; /* bytes held against each budget (budget.c) */
    int64_t held_peak;        /* most held since the last trim */
} wctx;

/* Called whenever a connection closes, so a draining worker can finish. */
void worker_conn_closed(wctx *w);

#endif
