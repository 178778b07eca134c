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
 * gets it back at once (submit.claimed). Every other op runs alone.
 *
 * An op is a tagged union: kind says which member of u is in use; the
 * comment on each member says what the caller fills (in) and what the
 * store thread writes (out).
 *
 * Each store thread opens its own store (store.h: one thread per store).
 * The store threads are their own pool, not the io pool, so io functions
 * that sleep for minutes cannot hold up the queue.
 *
 * Ownership: the caller owns the op (usually embedded in its own struct)
 * from push to done(); done() may free it. sq_op_release() frees what the
 * op holds (its jobs and arrays).
 */
#ifndef CRUNCHD_STOREQ_H
#define CRUNCHD_STOREQ_H

#include <stdbool.h>

#include "config.h"
#include "job.h"
#include "pool.h"
#include "store.h"

typedef enum sq_kind {
    SQ_SUBMIT,   /* batched */
    SQ_CLAIM,    /* batched; one per kind at a time */
    SQ_COMPLETE, /* batched */
    SQ_GET,
    SQ_CANCEL,
    SQ_LIST,
    SQ_REAP,
    SQ_COUNTS,
    SQ_PURGE,
} sq_kind;

typedef struct sq_op sq_op;
struct sq_op {
    pool_task task;   /* internal */
    sq_op *next;      /* internal: batch link */
    struct storeq *q; /* internal: set by storeq_push */
    bool sent;        /* internal: with the store thread (batched ops) */
    sq_kind kind;
    void (*done)(sq_op *op); /* loop thread */
    void *arg;               /* the caller's */
    int rc;                  /* 0, or -1 with err */
    char err[256];
    union {
        struct {                /* SQ_SUBMIT */
            job j;              /* in: fn, kind, args, timeout, retries, callback, idem_key,
                                   owner; out: the job as stored (the existing one for a
                                   known key) */
            int64_t max_queued; /* in: the owner's limit of queued jobs (0: none) */
            int64_t held;       /* in: bytes of the storeq's budget held for its args; the
                                   store gives them back, whatever the outcome */
            bool existing;      /* out: its Idempotency-Key was known (for this owner) */
            bool refused;       /* out: not queued, its owner has max_queued queued */
            bool conflict;      /* out: existing, but asked with another request */
            bool claimed;       /* out: a claim of this batch took it (it is running) */
            json_t *req_args;   /* internal: the request's own args while the store has it */
        } submit;
        struct {          /* SQ_CLAIM */
            fn_kind kind; /* in */
            int max;      /* in: up to this many */
            int slot;     /* in: the claimer */
            unsigned incarnation;
            int pid;
            job *jobs; /* out: jobs[0..n), FIFO (malloc'ed; sq_op_release frees) */
            int n;
            int fresh; /* out: how many of them this batch submitted */
        } claim;
        struct {          /* SQ_COMPLETE */
            job j;        /* in: the final job */
            bool applied; /* out: it was still ours (store_complete) */
        } complete;
        struct {                     /* SQ_GET */
            char id[JOB_ID_LEN + 1]; /* in */
            bool as_text;            /* in: args and result as text (store_get_text), not
                                        parsed into j */
            job j;                   /* out */
            store_text text;         /* out, with as_text */
            bool found;
        } get;
        struct {                           /* SQ_CANCEL */
            char id[JOB_ID_LEN + 1];       /* in */
            char owner[JOB_OWNER_MAX + 1]; /* in, with by_owner: only a job of this owner */
            bool by_owner;
            job j; /* out: after the cancel */
            bool found;
            job_state before;
        } cancel;
        struct {                /* SQ_LIST */
            store_list_query q; /* in; its fn, after and owner may point at fn,
                                   after and owner */
            char fn[JOB_FN_MAX + 1];
            char owner[JOB_OWNER_MAX + 1];
            store_cursor after;
            store_row_fn *row; /* in: called on the store thread per row */
            void *row_arg;
            int n;     /* out: rows taken */
            bool more; /* out: more rows match */
        } list;
        struct {      /* SQ_REAP */
            int slot; /* in: the dead worker; -1 = every running job (start-up) */
            unsigned incarnation;
            job *jobs; /* out: the jobs made final (malloc'ed) */
            int n;
        } reap;
        struct {                     /* SQ_COUNTS */
            int64_t queued, running; /* out */
        } counts;
        struct {           /* SQ_PURGE */
            int64_t ttl_s; /* in */
            int n;         /* out: jobs purged */
        } purge;
    } u;
};

typedef struct storeq storeq;

struct event_base;

/* Starts nthreads store threads for cfg (borrowed, must outlive the storeq);
 * their stores are opened with store_shared (store_open; may be NULL);
 * batches are dispatched from base's loop. */
storeq *storeq_new(const config *cfg, void *store_shared, struct event_base *base, int nthreads,
                   pool_done *done);
void storeq_free(storeq *q);

/* The budget of parsed args its batches count against (store.h: claims
 * take from it; submissions' held bytes are given back by the store, or
 * handed to the claim that takes their job). NULL: none. Set before the
 * first push. */
void storeq_set_budget(storeq *q, store_budget *budget);

/* Initialises an op of this kind (its jobs job_init'ed, rc 0). */
void sq_op_init(sq_op *op, sq_kind kind, void (*done)(sq_op *), void *arg);
/* Releases what the op holds (jobs, arrays); the op may be freed after. */
void sq_op_release(sq_op *op);

/* Text reads (SQ_GET with as_text, SQ_LIST) with the store at once; more
 * wait, in push order. Each copies stored text out of the store -- a
 * large job's args and result, a list page: megabytes -- before the loop
 * can hold its reply against the body budget (budget.h), and while the loop
 * is busy (parsing a large body) the store thread would go on copying. */
#define STOREQ_TEXT_READS 2

/* Queues op. Loop thread only. */
void storeq_push(storeq *q, sq_op *op);

/* Ops pushed and not yet done (for a drain). */
int storeq_pending(const storeq *q);

#endif
