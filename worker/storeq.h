/*
 * storeq.h - the loop thread's way to the job store.
 *
 * Store calls block (SQLite transactions), so the loop never makes them: it
 * fills an operation and pushes it; a store thread runs it; the op's done()
 * runs back on the loop thread. Submissions, completions and claims are
 * group committed: what one loop iteration pushes goes in one transaction
 * (store_write), and while a batch is in its transaction the next ones
 * gather for the one after. A claim in the same batch as submissions sees
 * them: the worker that queued a job into an empty queue, with a lane free,
 * gets it back at once (op->claimed). Every other op runs alone.
 *
 * Each store thread opens its own store (store.h: one thread per store).
 * The store threads are their own pool, not the io pool, so io functions
 * that sleep for minutes cannot hold up the queue.
 *
 * Ownership: the caller owns the op (usually embedded in its own struct)
 * from push to done(); done() may free it. The job in the op is the
 * caller's too (job_release when done with it).
 */
#ifndef CRUNCHD_STOREQ_H
#define CRUNCHD_STOREQ_H

#include <stdbool.h>

#include "config.h"
#include "job.h"
#include "pool.h"
#include "store.h"

typedef enum sq_kind {
    SQ_SUBMIT,   /* in: j (fn, kind, args, timeout, retries, callback, idem_key);
                    out: j, flag = existing, claimed = a claim of this batch took it,
                    conflict = existing, but asked with another request (job_same_request) */
    SQ_CLAIM,    /* in: claim_kind, max, slot, incarnation, pid; out: jobs[0..n) (malloc'ed),
                    fresh = how many of them this batch submitted; one per kind at a time */
    SQ_COMPLETE, /* in: j (final); out: flag = applied */
    SQ_GET,      /* in: id; out: j, flag = found */
    SQ_CANCEL,   /* in: id; out: j, flag = found, before */
    SQ_LIST,     /* in: list (its fn and after may point at list_fn, list_after), list_row
                    and list_arg (called on the store thread: store_list_page);
                    out: n = jobs taken, more */
    SQ_ABORT,    /* in: id, slot, incarnation, abort_state, code, message; out: flag = applied */
    SQ_REAP,     /* in: slot, incarnation (reap_all when slot < 0); out: jobs = those made final */
    SQ_COUNTS,   /* out: queued, running */
    SQ_PURGE,    /* in: ttl_s; out: n */
} sq_kind;

typedef struct sq_op sq_op;
struct sq_op {
    pool_task task;          /* internal */
    sq_op *next;             /* internal: batch link */
    struct storeq *q;        /* internal: set by storeq_push */
    sq_kind kind;
    void (*done)(sq_op *op); /* loop thread */
    void *arg;               /* the caller's */
    int rc;                  /* 0, or -1 with err */
    char err[256];
    job j;
    bool flag;
    bool claimed;
    bool conflict;
    json_t *req_args;        /* internal: a submission's own args while the store has it */
    int fresh;
    bool sent;               /* internal: with the store thread (batched ops) */
    job_state before;
    char id[JOB_ID_LEN + 1];
    fn_kind claim_kind;
    int max;
    int slot;
    unsigned incarnation;
    int pid;
    job_state abort_state;
    char code[32];
    char message[256];
    store_list_query list;   /* SQ_LIST; state -1 = any */
    char list_fn[JOB_FN_MAX + 1];
    store_cursor list_after;
    store_row_fn *list_row;
    void *list_arg;
    bool more;
    job *jobs;               /* claim, reap: owned by the op; sq_op_release frees */
    int n;
    int64_t queued, running, ttl_s;
};

typedef struct storeq storeq;

struct event_base;

/* Starts nthreads store threads for cfg (borrowed, must outlive the storeq);
 * their stores are opened with store_shared (store_open; may be NULL);
 * batches are dispatched from base's loop. */
storeq *storeq_new(const config *cfg, void *store_shared, struct event_base *base, int nthreads,
                   pool_done *done);
void storeq_free(storeq *q);

/* Initialises an op of this kind (job_init'ed, rc 0). */
void sq_op_init(sq_op *op, sq_kind kind, void (*done)(sq_op *), void *arg);
/* Releases what the op holds: j and jobs[]. */
void sq_op_release(sq_op *op);

/* Queues op. Loop thread only. */
void storeq_push(storeq *q, sq_op *op);

/* Ops pushed and not yet done (for a drain). */
int storeq_pending(const storeq *q);

#endif
