#include "storeq.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_BATCH_MAX 256 /* ops per group commit */

/* A group commit: several SQ_SUBMIT or SQ_COMPLETE ops, one transaction. */
typedef struct sq_batch {
    pool_task task; /* first */
    storeq *q;
    sq_kind kind;
    sq_op *ops;     /* linked through next, in push order */
    int n;
} sq_batch;

/* Ops of one batchable kind that wait for the batch in flight to end. */
typedef struct sq_lane {
    sq_op *head, *tail;
    int n;
    bool in_flight;
} sq_lane;

struct storeq {
    const config *cfg;
    pool *threads;
    sq_lane submit, complete;
    int pending;
};

/* One store per store thread, opened on first use, closed at thread exit
 * by the process ending (a worker never outlives its store threads). */
static __thread store *tls_store;

static store *thread_store(const config *cfg, char *err, size_t errlen)
{
    if (!tls_store)
        tls_store = store_open(&cfg->store, err, errlen);
    return tls_store;
}

void sq_op_init(sq_op *op, sq_kind kind, void (*done)(sq_op *), void *arg)
{
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->done = done;
    op->arg = arg;
    op->list_state = -1;
    job_init(&op->j);
}

void sq_op_release(sq_op *op)
{
    job_release(&op->j);
    for (int i = 0; i < op->n && op->jobs; i++)
        job_release(&op->jobs[i]);
    free(op->jobs);
    op->jobs = NULL;
    op->n = 0;
}

static int fail_op(sq_op *op, store *st)
{
    snprintf(op->err, sizeof(op->err), "%s", st ? store_errmsg(st) : "no store");
    return -1;
}

static int alloc_jobs(sq_op *op, int max)
{
    op->jobs = calloc((size_t)max, sizeof(job));
    if (!op->jobs) {
        snprintf(op->err, sizeof(op->err), "out of memory");
        return -1;
    }
    for (int i = 0; i < max; i++)
        job_init(&op->jobs[i]);
    return 0;
}

/* Collects the jobs reaping made final, for the loop to announce. */
static void collect_final(const job *j, void *arg)
{
    sq_op *op = arg;
    job *grown = realloc(op->jobs, (size_t)(op->n + 1) * sizeof(job));
    if (!grown)
        return;
    op->jobs = grown;
    job *copy = &op->jobs[op->n++];
    *copy = *j;
    copy->args = json_incref(j->args);
    copy->result = json_incref(j->result);
}

/* Store thread: one op that is not batched. */
static int run_single(const config *cfg, sq_op *op)
{
    store *st = thread_store(cfg, op->err, sizeof(op->err));
    if (!st)
        return -1;
    int rc = 0;
    switch (op->kind) {
    case SQ_CLAIM:
        if (alloc_jobs(op, op->max) < 0)
            return -1;
        rc = store_claim(st, op->claim_kind, op->slot, op->incarnation, op->pid, op->max, op->jobs,
                         &op->n);
        break;
    case SQ_GET: rc = store_get(st, op->id, &op->j, &op->flag); break;
    case SQ_CANCEL: rc = store_cancel(st, op->id, &op->j, &op->flag, &op->before); break;
    case SQ_LIST:
        if (alloc_jobs(op, op->max) < 0)
            return -1;
        rc = store_list(st, op->list_state, op->list_fn[0] ? op->list_fn : NULL, op->max, op->jobs,
                        &op->n);
        break;
    case SQ_ABORT:
        rc = store_abort(st, op->id, op->slot, op->incarnation, op->abort_state, op->code,
                         op->message, &op->flag);
        break;
    case SQ_REAP:
        rc = op->slot < 0 ? store_reap_all(st, collect_final, op, NULL, NULL)
                          : store_reap(st, op->slot, op->incarnation, collect_final, op, NULL, NULL);
        break;
    case SQ_COUNTS: rc = store_counts(st, &op->queued, &op->running); break;
    case SQ_PURGE: {
        int purged = 0;
        rc = store_purge(st, job_now_us(), op->ttl_s, &purged);
        op->n = 0;
        op->queued = purged;
        break;
    }
    default: assert(!"batched kind run alone"); rc = -1;
    }
    return rc < 0 ? fail_op(op, st) : 0;
}

static sq_op *op_of(pool_task *t) { return (sq_op *)((char *)t - offsetof(sq_op, task)); }

static void single_run(pool_task *t)
{
    sq_op *op = op_of(t);
    op->rc = run_single(op->q->cfg, op);
}

static void single_done(pool_task *t)
{
    sq_op *op = op_of(t);
    op->q->pending--;
    op->done(op);
}

/* Store thread: a group commit. The jobs move into one array for the call
 * and back into their ops afterwards (a shallow move: references go along). */
static void batch_run(pool_task *t)
{
    sq_batch *b = (sq_batch *)t;
    char err[256] = "";
    store *st = thread_store(b->q->cfg, err, sizeof(err));
    job *jobs = calloc((size_t)b->n, sizeof(job));
    bool *flags = calloc((size_t)b->n, sizeof(bool));
    int rc = -1;
    if (st && jobs && flags) {
        int i = 0;
        for (sq_op *op = b->ops; op; op = op->next)
            jobs[i++] = op->j;
        rc = b->kind == SQ_SUBMIT ? store_submit_many(st, jobs, b->n, flags)
                                  : store_complete_many(st, jobs, b->n, flags);
        if (rc < 0)
            snprintf(err, sizeof(err), "%s", store_errmsg(st));
        i = 0;
        for (sq_op *op = b->ops; op; op = op->next, i++) {
            op->j = jobs[i];
            op->flag = flags[i];
        }
    } else if (st) {
        snprintf(err, sizeof(err), "out of memory");
    }
    for (sq_op *op = b->ops; op; op = op->next) {
        op->rc = rc;
        snprintf(op->err, sizeof(op->err), "%s", err);
    }
    free(jobs);
    free(flags);
}

static void lane_dispatch(storeq *q, sq_kind kind);

static sq_lane *lane_of(storeq *q, sq_kind kind)
{
    return kind == SQ_SUBMIT ? &q->submit : &q->complete;
}

/* Loop thread: the batch committed (or failed); answer every op in it, then
 * start the next batch if ops gathered meanwhile. */
static void batch_done(pool_task *t)
{
    sq_batch *b = (sq_batch *)t;
    storeq *q = b->q;
    sq_kind kind = b->kind;
    lane_of(q, kind)->in_flight = false;
    sq_op *op = b->ops;
    free(b);
    while (op) {
        sq_op *next = op->next;
        q->pending--;
        op->done(op); /* may free op */
        op = next;
    }
    lane_dispatch(q, kind);
}

static void lane_dispatch(storeq *q, sq_kind kind)
{
    sq_lane *l = lane_of(q, kind);
    if (l->in_flight || !l->head)
        return;
    sq_batch *b = calloc(1, sizeof(*b));
    if (!b)
        abort(); /* as buf.c: a worker that cannot allocate this is done */
    b->q = q;
    b->kind = kind;
    b->task.run = batch_run;
    b->task.done = batch_done;
    /* Take up to SQ_BATCH_MAX ops off the lane. */
    sq_op **tail = &b->ops;
    while (l->head && b->n < SQ_BATCH_MAX) {
        sq_op *op = l->head;
        l->head = op->next;
        op->next = NULL;
        *tail = op;
        tail = &op->next;
        b->n++;
        l->n--;
    }
    if (!l->head)
        l->tail = NULL;
    l->in_flight = true;
    pool_submit(q->threads, &b->task);
}

void storeq_push(storeq *q, sq_op *op)
{
    op->q = q;
    op->next = NULL;
    q->pending++;
    if (op->kind == SQ_SUBMIT || op->kind == SQ_COMPLETE) {
        sq_lane *l = lane_of(q, op->kind);
        if (l->tail)
            l->tail->next = op;
        else
            l->head = op;
        l->tail = op;
        l->n++;
        lane_dispatch(q, op->kind);
        return;
    }
    op->task.run = single_run;
    op->task.done = single_done;
    pool_submit(q->threads, &op->task);
}

int storeq_pending(const storeq *q) { return q->pending; }

storeq *storeq_new(const config *cfg, int nthreads, pool_done *done)
{
    storeq *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->cfg = cfg;
    q->threads = pool_new("crunchd-store", nthreads, done);
    if (!q->threads) {
        free(q);
        return NULL;
    }
    return q;
}

void storeq_free(storeq *q)
{
    if (!q)
        return;
    pool_free(q->threads);
    free(q);
}
