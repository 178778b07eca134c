/*
 * store_int.h - what a store backend implements (internal to store*.c and
 * their tests and benchmarks).
 *
 * store.c checks arguments, fills in ids and times, holds the error message and
 * the one-thread-at-a-time assertion, then calls the backend through
 * store_ops. A backend embeds struct store as the first member of its own
 * handle and reports failures with store_fail().
 *
 * Contract of every op: 0 or -1 (after store_fail()); a write is atomic (all
 * or nothing); out-jobs are filled from scratch as described in store.h and
 * left empty (job_init()) on failure. now_us is the wall clock the dispatcher
 * read once for the call.
 */
#ifndef CRUNCHD_STORE_INT_H
#define CRUNCHD_STORE_INT_H

#include "store.h"

#include <stdatomic.h>

typedef struct store_ops {
    const char *name;
    void (*close)(store *st);
    /*
     * store_write() with its arguments checked: submit[] are complete (id,
     * created_at, state queued), complete[] are checked (final state, id,
     * finished_at_us filled in), existing and applied are never NULL, and
     * claimed[k] holds claim_max[k] jobs. One transaction. On an idempotency
     * hit the op replaces submit[i] (after the commit) and sets existing[i].
     */
    int (*write)(store *st, store_batch *b, int64_t now_us);
    int (*get)(store *st, const char *id, job *out, bool *found);
    int (*cancel)(store *st, const char *id, int64_t now_us, job *out, bool *found,
                  job_state *before);
    /* store_list_page() with q checked (state, limit >= 1). */
    int (*list_page)(store *st, const store_list_query *q, store_row_fn *fn, void *arg, int *n,
                     bool *more);
    /*
     * all: every running job, else those of slot with owner_incarnation ==
     * incarnation. On success *final is a malloc'ed array of the *nfinal jobs
     * made final (NULL when none), which the caller releases and frees.
     */
    int (*reap)(store *st, bool all, int slot, unsigned incarnation, int64_t now_us, job **final,
                int *nfinal, int *requeued);
    /* Deletes final jobs with finished_at < before_us. */
    int (*purge)(store *st, int64_t before_us, int *purged);
    int (*counts)(store *st, int64_t *queued, int64_t *running);
    /* Housekeeping after a write, outside the write gate (may be NULL):
     * SQLite checkpoints its WAL here. Failures are not reported. */
    void (*after_write)(store *st);
} store_ops;

struct store {
    const store_ops *ops;
    atomic_flag in_use; /* set while a call runs: one thread at a time */
    pthread_mutex_t *gate; /* store_set_gate(), or NULL */
    char errmsg[512];
};

/* Writes the message of the current failure into st; returns -1. */
int store_fail(store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Options of the SQLite backend; store_open() uses the defaults. */
typedef struct store_sqlite_opts {
    bool sync_full;      /* synchronous=FULL instead of NORMAL */
    int busy_timeout_ms; /* 0 = 5000 */
} store_sqlite_opts;

#define STORE_SQLITE_SCHEMA_VERSION 2 /* 1: args and result mid-row, no jobs_created */

/* Opens (creating if needed) the SQLite store at path; opts may be NULL.
 * Returns NULL with err filled, as store_open(). */
store *store_sqlite_open(const char *path, const store_sqlite_opts *opts, char *err, size_t errlen);

/* The SQL of the list's first step for state (-1: any): for tests that
 * check the query plan (the ORDER BY and the cursor use jobs_created). */
const char *store_sqlite_list_keys_sql(int state);

/* store_check() of an existing file: what store_sqlite_open() would refuse
 * in its header (not SQLite, a newer schema, tables without a version),
 * read without creating anything. 0, or -1 with the reason in err. */
int store_sqlite_check(const char *path, char *err, size_t errlen);

#endif
