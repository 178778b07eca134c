/*
 * store_types.h - the values the store's contract (store.h) and its backends
 * (store_int.h) both speak: the handle, a write batch, a list query, its
 * rows and cursor. Their meaning is documented where they are used, in
 * store.h. Header only.
 */
#ifndef CRUNCHD_STORE_TYPES_H
#define CRUNCHD_STORE_TYPES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "fn.h"
#include "job.h"

typedef struct store store;

/*
 * Called by store_reap() and store_reap_all() for each job they made final
 * (failed with worker_lost, or cancelled because a cancel was pending), after
 * the transaction committed, so the caller can wake long-polls and deliver
 * callbacks. j is borrowed for the duration of the call.
 */
typedef void store_final_fn(const job *j, void *arg);

/*
 * A byte budget shared by the claimer's threads (store_write): held changes
 * only with atomic operations; limit is set before use. The worker's budget
 * of parsed arguments (worker/engine/budget.h).
 */
typedef struct store_budget {
    _Atomic int64_t held;
    int64_t limit;
} store_budget;

/* A group commit of one worker (store_write in store.h). */
typedef struct store_batch {
    job *submit; /* nsubmit jobs to queue, in and out as store_submit_many */
    int nsubmit;
    bool *existing;      /* nsubmit entries, or NULL */
    const int64_t *max_queued; /* nsubmit entries, or NULL: a new job of submit[i] is refused
                                  while its owner has max_queued[i] jobs queued (0: no limit) */
    bool *refused;       /* nsubmit entries, or NULL: out, submit[i] was refused so */
    const job *complete; /* ncomplete final jobs, as store_complete_many */
    int ncomplete;
    bool *applied; /* ncomplete entries, or NULL */
    int slot;      /* the claimer, as store_claim */
    unsigned incarnation;
    int pid;
    int claim_max[FN_NKINDS]; /* by fn_kind: claim up to this many (0: no claim) */
    job *claimed[FN_NKINDS];  /* out: claim_max[k] jobs each, filled FIFO */
    int nclaimed[FN_NKINDS];
    store_budget *budget;     /* or NULL: what the claims' args may cost (store.h) */
    int64_t submit_held;      /* of budget, held for the submissions' args (store.h) */
} store_batch;

/* A job's args and result as JSON text, copied out of the store
 * (store_get_text): view points into mem, which the holder owns and frees
 * with store_text_release(). All zero is empty. */
typedef struct store_text {
    job_json_text view; /* args: never NULL for a job found ({} when none); result: NULL
                           when none */
    char *mem;
} store_text;

/* The key of a job in the list's order (newest first): where a page resumes. */
typedef struct store_cursor {
    int64_t created_at_us;
    char id[JOB_ID_LEN + 1];
} store_cursor;

typedef struct store_list_query {
    int state;                 /* a job_state, or -1 for any */
    const char *fn;            /* a function name, or NULL for any */
    int limit;                 /* take at most this many jobs; >= 1 */
    bool with_args;            /* hand out args as JSON text; else it is not read */
    bool with_result;          /* the same for result */
    const store_cursor *after; /* only jobs older than this key; NULL: from the newest */
    const char *owner;         /* only this owner's jobs ("": those without one); NULL: every
                                  owner's */
} store_list_query;

/* One job of a page, valid during the call of the row function. */
typedef struct store_row {
    const job *j;       /* every field but args and result (both NULL) */
    job_json_text text; /* with_args: args (never NULL); with_result: result (NULL when
                           none); the other one NULL */
} store_row;

/* What a row function answers. */
#define STORE_ROW_TAKE 0 /* the job is on the page: go on */
#define STORE_ROW_STOP 1 /* the page ends before this job (it is not taken) */

/* Called for each job of a page, in order, on the store's thread and inside
 * the store call: it must not use the store. Keeps what it needs of r (the
 * cursor of the next page is the last taken job's created_at_us and id). */
typedef int store_row_fn(const store_row *r, void *arg);

#endif
