#include "storeq.h"

#include <assert.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_BATCH_MAX 256 /* ops per group commit */

/* A group commit: SQ_SUBMIT, SQ_COMPLETE and SQ_CLAIM ops (at most one claim
 * per kind), one store_write() transaction. */
typedef struct sq_batch {
    pool_task task; /* first */
    storeq *q;
    sq_op *ops;     /* linked through next, in push order */
    int n;
} sq_batch;

/*
 * The write lane. Ops wait here while a batch is in its transaction; when
 * it ends they all go in the next. A push does not dispatch at once: the
 * kick event runs after the other callbacks of this loop iteration, so that
 * what one iteration produces -- the requests of every connection that was
 * readable, the claim that their submissions call for, the completions of
 * jobs that ran -- shares one transaction.
 */
struct storeq {
    const config *cfg;
    void *store_shared; /* the store's shared area (store_shared_init), or NULL */
    pool *threads;
    struct event *kick;
    bool kicked;       /* kick is active */
    sq_op *head, *tail;
    bool in_flight;    /* a batch is with the store thread */
    int pending;
};

/* One store per store thread, opened on first use, closed at thread exit
 * by the process ending (a worker never outlives its store threads). */
static __thread store *tls_store;

static store *thread_store(const storeq *q, char *err, size_t errlen)
{
    if (!tls_store)
        tls_store = store_open(&q->cfg->store, q->store_shared, err, errlen);
    return tls_store;
}

void sq_op_init(sq_op *op, sq_kind kind, void (*done)(sq_op *), void *arg)
{
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->done = done;
    op->arg = arg;
    op->list.state = -1;
    job_init(&op->j);
}

void sq_op_release(sq_op *op)
{
    json_decref(op->req_args);
    op->req_args = NULL;
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
static int run_single(const storeq *q, sq_op *op)
{
    store *st = thread_store(q, op->err, sizeof(op->err));
    if (!st)
        return -1;
    int rc = 0;
    switch (op->kind) {
    case SQ_GET: rc = store_get(st, op->id, &op->j, &op->flag); break;
    case SQ_CANCEL: rc = store_cancel(st, op->id, &op->j, &op->flag, &op->before); break;
    case SQ_LIST:
        rc = store_list_page(st, &op->list, op->list_row, op->list_arg, &op->n, &op->more);
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
    op->rc = run_single(op->q, op);
}

static void single_done(pool_task *t)
{
    sq_op *op = op_of(t);
    op->q->pending--;
    op->done(op);
}

static bool batched(sq_kind kind)
{
    return kind == SQ_SUBMIT || kind == SQ_COMPLETE || kind == SQ_CLAIM;
}

/* Store thread: fills a store_batch from the ops, moving their jobs in (a
 * shallow move: references go along). Claim ops get their output array. */
static int batch_fill(sq_batch *b, store_batch *sb, char *err, size_t errlen)
{
    int nsub = 0, ncom = 0;
    for (sq_op *op = b->ops; op; op = op->next) {
        nsub += op->kind == SQ_SUBMIT;
        ncom += op->kind == SQ_COMPLETE;
    }
    sb->submit = calloc((size_t)nsub + 1, sizeof(job));
    sb->existing = calloc((size_t)nsub + 1, sizeof(bool));
    job *com = calloc((size_t)ncom + 1, sizeof(job));
    sb->complete = com;
    sb->applied = calloc((size_t)ncom + 1, sizeof(bool));
    if (!sb->submit || !sb->existing || !com || !sb->applied) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (sq_op *op = b->ops; op; op = op->next) {
        if (op->kind == SQ_SUBMIT) {
            /* The store replaces a job whose key it knows (and drops its
             * args): keep them to compare with what it had. */
            op->req_args = json_incref(op->j.args);
            sb->submit[sb->nsubmit++] = op->j;
        } else if (op->kind == SQ_COMPLETE) {
            com[sb->ncomplete++] = op->j;
        } else {
            if (alloc_jobs(op, op->max) < 0) {
                snprintf(err, errlen, "%s", op->err);
                return -1;
            }
            sb->claim_max[op->claim_kind] = op->max;
            sb->claimed[op->claim_kind] = op->jobs;
            sb->slot = op->slot;
            sb->incarnation = op->incarnation;
            sb->pid = op->pid;
        }
    }
    return 0;
}

/* Store thread: the outcome of a submission. A job found by its
 * Idempotency-Key is compared with the request (op->j still holds the
 * request's own fields; its args are in req_args). */
static void submit_unfill(sq_op *op, job *out, bool existing)
{
    op->flag = existing;
    op->conflict = false;
    if (existing) {
        job req = op->j;
        req.args = op->req_args;
        op->conflict = !job_same_request(&req, out);
    }
    json_decref(op->req_args);
    op->req_args = NULL;
    op->j = *out;
    op->claimed = !op->flag && op->j.state == JOB_RUNNING;
}

/* Store thread: the outcome back into the ops. A new job comes back
 * running only when this batch's claim took it (store_write): its submit op
 * is marked claimed (nobody need be told it is queued) and it counts as
 * fresh in the claim op of its kind. */
static void batch_unfill(sq_batch *b, store_batch *sb)
{
    int is = 0, ic = 0, fresh[2] = {0, 0};
    for (sq_op *op = b->ops; op; op = op->next) {
        if (op->kind == SQ_SUBMIT) {
            submit_unfill(op, &sb->submit[is], sb->existing[is]);
            is++;
            fresh[op->j.kind] += op->claimed;
        } else if (op->kind == SQ_COMPLETE) {
            op->flag = sb->applied[ic++];
        }
    }
    for (sq_op *op = b->ops; op; op = op->next) {
        if (op->kind == SQ_CLAIM) {
            op->n = sb->nclaimed[op->claim_kind];
            op->fresh = fresh[op->claim_kind];
        }
    }
}

/* Store thread: a group commit. */
static void batch_run(pool_task *t)
{
    sq_batch *b = (sq_batch *)t;
    char err[256] = "";
    store_batch sb = {0};
    store *st = thread_store(b->q, err, sizeof(err));
    int rc = -1;
    if (st && batch_fill(b, &sb, err, sizeof(err)) == 0) {
        rc = store_write(st, &sb);
        if (rc < 0)
            snprintf(err, sizeof(err), "%s", store_errmsg(st));
    }
    if (sb.submit && sb.existing && sb.complete && sb.applied) {
        if (rc < 0) /* a failed write leaves the jobs as they were: give them back */
            memset(sb.existing, 0, (size_t)sb.nsubmit * sizeof(bool));
        batch_unfill(b, &sb);
    }
    for (sq_op *op = b->ops; op; op = op->next) {
        op->rc = rc;
        snprintf(op->err, sizeof(op->err), "%s", err);
    }
    free(sb.submit);
    free(sb.existing);
    free((job *)sb.complete);
    free(sb.applied);
}

static void lane_kick(storeq *q);

/* Answers a list of ops, in push order. */
static void answer(storeq *q, sq_op *ops)
{
    for (sq_op *op = ops, *next; op; op = next) {
        next = op->next;
        q->pending--;
        op->done(op); /* may free op */
    }
}

/* Loop thread: the batch committed (or failed). Completions are answered
 * first (long-polls), then submissions, then claims (whose jobs start, and
 * whose completions gather for the next batch). */
static void batch_done(pool_task *t)
{
    sq_batch *b = (sq_batch *)t;
    storeq *q = b->q;
    sq_op *ops = b->ops;
    free(b);
    q->in_flight = false;
    /* done() may free its op: unlink the kinds one pass at a time. */
    sq_op *by_kind[3] = {NULL, NULL, NULL}, **tails[3] = {&by_kind[0], &by_kind[1], &by_kind[2]};
    for (sq_op *op = ops, *next; op; op = next) {
        next = op->next;
        int k = op->kind == SQ_COMPLETE ? 0 : op->kind == SQ_SUBMIT ? 1 : 2;
        op->next = NULL;
        *tails[k] = op;
        tails[k] = &op->next;
    }
    for (int k = 0; k < 3; k++)
        answer(q, by_kind[k]);
    lane_kick(q);
}

static void lane_dispatch(storeq *q)
{
    if (q->in_flight || !q->head)
        return;
    sq_batch *b = calloc(1, sizeof(*b));
    if (!b)
        abort(); /* as buf.c: a worker that cannot allocate this is done */
    b->q = q;
    b->task.run = batch_run;
    b->task.done = batch_done;
    /* Take up to SQ_BATCH_MAX ops off the lane. */
    sq_op **tail = &b->ops;
    while (q->head && b->n < SQ_BATCH_MAX) {
        sq_op *op = q->head;
        q->head = op->next;
        op->next = NULL;
        op->sent = true;
        *tail = op;
        tail = &op->next;
        b->n++;
    }
    if (!q->head)
        q->tail = NULL;
    q->in_flight = true;
    pool_submit(q->threads, &b->task);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    storeq *q = arg;
    q->kicked = false;
    lane_dispatch(q);
}

/* Dispatches what waits at the end of this loop turn (see struct storeq). */
static void lane_kick(storeq *q)
{
    if (q->head && !q->in_flight && !q->kicked) {
        q->kicked = true;
        event_active(q->kick, EV_TIMEOUT, 0);
    }
}

void storeq_push(storeq *q, sq_op *op)
{
    op->q = q;
    op->next = NULL;
    q->pending++;
    if (batched(op->kind)) {
        if (q->tail)
            q->tail->next = op;
        else
            q->head = op;
        q->tail = op;
        lane_kick(q);
        return;
    }
    op->task.run = single_run;
    op->task.done = single_done;
    pool_submit(q->threads, &op->task);
}

int storeq_pending(const storeq *q) { return q->pending; }

storeq *storeq_new(const config *cfg, void *store_shared, struct event_base *base, int nthreads,
                   pool_done *done)
{
    storeq *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->cfg = cfg;
    q->store_shared = store_shared;
    q->kick = event_new(base, -1, 0, on_kick, q);
    q->threads = q->kick ? pool_new("crunchd-store", nthreads, done) : NULL;
    if (!q->threads) {
        if (q->kick)
            event_free(q->kick);
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
    event_free(q->kick);
    free(q);
}
