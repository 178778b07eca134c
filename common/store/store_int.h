/*
 * store_int.h - what a store backend implements (internal to common/store/
 * and to the store's tests and benchmarks).
 *
 * store.c checks arguments, fills in ids and times, holds the error message
 * and the one-thread-at-a-time assertion, then calls the backend through its
 * store_ops. The backends built in are rows of the registry in store.c, each
 * {kind, ops}: store_open(), store_check(), store_prepare() and
 * store_shared_init() find the backend by config store.kind there. A backend
 * embeds struct store as the first member of its own handle, sets it up with
 * store_init(), and reports failures with store_fail().
 *
 * Contract of every op: 0 or -1 (after store_fail()); a write is atomic (all
 * or nothing); out-jobs are filled from scratch as described in store.h and
 * left empty (job_init()) on failure. now_us is the wall clock the dispatcher
 * read once for the call. An op runs on the thread that holds the store (the
 * dispatcher asserted it), so a handle needs no lock of its own; what several
 * processes share (locks between writers) lives in the shared area.
 */
#ifndef CRUNCHD_STORE_INT_H
#define CRUNCHD_STORE_INT_H

#include "store_shared.h"
#include "store_types.h"

#include <stdatomic.h>

typedef struct store_ops {
    /* ---- the backend, without a handle ---- */
    /* Bytes of the shared area it uses (0: none), at most STORE_SHARED_MAX. */
    size_t shared_size;
    /* store_shared_init() of a zeroed area of shared_size bytes; NULL when
     * there is nothing to set up. 0, or -1 with the reason in err. */
    int (*shared_init)(const config_store *cfg, void *area, char *err, size_t errlen);
    /* store_open(): shared is the area shared_init set up, or NULL. */
    store *(*open)(const config_store *cfg, void *shared, char *err, size_t errlen);
    /* store_check(): what open or prepare would refuse, creating nothing. */
    int (*check)(const config_store *cfg, char *err, size_t errlen);
    /* store_prepare()'s first step, before it opens the store: create what
     * open needs and does not make itself (may be NULL). */
    int (*prepare)(const config_store *cfg, char *err, size_t errlen);

    /* ---- a handle ---- */
    void (*close)(store *st);
    /*
     * store_write() with its arguments checked: submit[] are complete (id,
     * created_at, state queued), complete[] are checked (final state, id,
     * finished_at_us filled in), existing and applied are never NULL, and
     * claimed[k] holds claim_max[k] jobs, max_queued and refused are never
     * NULL. One transaction. On an idempotency hit (same owner, same key)
     * the op replaces submit[i] (after the commit) and sets existing[i]; a
     * submission over its owner's max_queued sets refused[i] (store.h).
     * A claim sees the submissions before it in the batch.
     */
    int (*write)(store *st, store_batch *b, int64_t now_us);
    /* text NULL: store_get(); else store_get_text() into an empty *text. */
    int (*get)(store *st, const char *id, job *out, store_text *text, bool *found);
    /* owner: NULL for any; another owner's job is not found (and not changed). */
    int (*cancel)(store *st, const char *id, const char *owner, int64_t now_us, job *out,
                  bool *found, job_state *before);
    /* store_list_page() with q checked (state, limit >= 1, cursor id). */
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
} store_ops;

/* A row of the registry. */
typedef struct store_backend {
    const char *kind; /* config store.kind */
    const store_ops *ops;
} store_backend;

/* The i-th backend built in (0 is the default, for kind ""), or NULL past
 * the last: for tests that run against each one. */
const store_backend *store_backend_at(size_t i);

/* The ops of each backend built in, defined in its own file and listed in
 * the registry (store.c). */
extern const store_ops store_sqlite_ops; /* sqlite.c */

struct store {
    const store_ops *ops;
    atomic_flag in_use; /* set while a call runs: one thread at a time */
    char errmsg[512];
};

/* Sets up the generic part of a new handle. */
void store_init(store *st, const store_ops *ops);

/* Writes the message of the current failure into st; returns -1. */
int store_fail(store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
