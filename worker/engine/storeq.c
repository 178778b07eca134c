#include "storeq.h"
#include "loop.h"

#include "ctx.h"

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
    sq_op *ops; /* linked through next, in push order */
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
    bool kicked; /* kick is active */
    sq_op *head, *tail;
    bool in_flight; /* a batch is with the store thread */
    int pending;
    int text_reads;              /* text reads with the store (STOREQ_TEXT_READS) */
    store_budget *budget;        /* or NULL (storeq_set_budget) */
    sq_op *parked, *parked_tail; /* reads as text waiting for one to end, push order */
};

/* One store per store thread, opened on first use and closed when the
 * thread ends (storeq_free joins it): by the key's destructor, on that
 * thread, as a store wants (store.h: one thread per store). */
static __thread store *tls_store;
static pthread_key_t store_key;
static bool store_key_made; /* false only if the process ran out of keys: stores then stay open */
static pthread_once_t store_key_once = PTHREAD_ONCE_INIT;

static void thread_store_close(void *st)
{
    store_close(st);
}

static void store_key_create(void)
{
    store_key_made = pthread_key_create(&store_key, thread_store_close) == 0;
}

static store *thread_store(const storeq *q, char *err, size_t errlen)
{
    if (!tls_store &&
        (tls_store = store_open(&q->cfg->store, q->store_shared, err, errlen)) != NULL &&
        store_key_made)
        pthread_setspecific(store_key, tls_store);
    return tls_store;
}

void sq_op_init(sq_op *op, sq_kind kind, void (*done)(sq_op *), void *arg)
{
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->done = done;
    op->arg = arg;
    switch (kind) {
    case SQ_SUBMIT: job_init(&op->u.submit.j); break;
    case SQ_COMPLETE: job_init(&op->u.complete.j); break;
    case SQ_GET: job_init(&op->u.get.j); break;
    case SQ_CANCEL: job_init(&op->u.cancel.j); break;
    case SQ_LIST: op->u.list.q.state = -1; break;
    default: break;
    }
}

static void release_jobs(job **jobs, int *n)
{
    for (int i = 0; i < *n && *jobs; i++)
        job_release(&(*jobs)[i]);
    free(*jobs);
    *jobs = NULL;
    *n = 0;
}

void sq_op_release(sq_op *op)
{
    switch (op->kind) {
    case SQ_SUBMIT:
        json_decref(op->u.submit.req_args);
        op->u.submit.req_args = NULL;
        job_release(&op->u.submit.j);
        break;
    case SQ_COMPLETE: job_release(&op->u.complete.j); break;
    case SQ_GET:
        job_release(&op->u.get.j);
        store_text_release(&op->u.get.text);
        break;
    case SQ_CANCEL: job_release(&op->u.cancel.j); break;
    case SQ_CLAIM: release_jobs(&op->u.claim.jobs, &op->u.claim.n); break;
    case SQ_REAP: release_jobs(&op->u.reap.jobs, &op->u.reap.n); break;
    default: break;
    }
}

static int fail_op(sq_op *op, store *st)
{
    snprintf(op->err, sizeof(op->err), "%s", st ? store_errmsg(st) : "no store");
    return -1;
}

/* Collects the jobs reaping made final, for the loop to announce. */
static void collect_final(const job *j, void *arg)
{
    sq_op *op = arg;
    job *grown = realloc(op->u.reap.jobs, (size_t)(op->u.reap.n + 1) * sizeof(job));
    if (!grown)
        return;
    op->u.reap.jobs = grown;
    job *copy = &grown[op->u.reap.n++];
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
    case SQ_GET:
        rc = op->u.get.as_text ? store_get_text(st, op->u.get.id, &op->u.get.j, &op->u.get.text,
                                                &op->u.get.found)
                               : store_get(st, op->u.get.id, &op->u.get.j, &op->u.get.found);
        break;
    case SQ_CANCEL:
        rc =
            store_cancel_for(st, op->u.cancel.id, op->u.cancel.by_owner ? op->u.cancel.owner : NULL,
                             &op->u.cancel.j, &op->u.cancel.found, &op->u.cancel.before);
        break;
    case SQ_LIST:
        rc = store_list_page(st, &op->u.list.q, op->u.list.row, op->u.list.row_arg, &op->u.list.n,
                             &op->u.list.more);
        break;
    case SQ_REAP:
        rc = op->u.reap.slot < 0 ? store_reap_all(st, collect_final, op, NULL, NULL)
                                 : store_reap(st, op->u.reap.slot, op->u.reap.incarnation,
                                              collect_final, op, NULL, NULL);
        break;
    case SQ_COUNTS: rc = store_counts(st, &op->u.counts.queued, &op->u.counts.running); break;
    case SQ_PURGE: rc = store_purge(st, job_now_us(), op->u.purge.ttl_s, &op->u.purge.n); break;
    default: assert(!"batched kind run alone"); rc = -1;
    }
    return rc < 0 ? fail_op(op, st) : 0;
}

static sq_op *op_of(pool_task *t)
{
    return (sq_op *)((char *)t - offsetof(sq_op, task));
}

static void single_run(pool_task *t)
{
    sq_op *op = op_of(t);
    op->rc = run_single(op->q, op);
}

/* A read answered with stored text: a job as text, a list page. */
static bool text_read(const sq_op *op)
{
    return (op->kind == SQ_GET && op->u.get.as_text) || op->kind == SQ_LIST;
}

static void single_done(pool_task *t);

static void single_submit(storeq *q, sq_op *op)
{
    q->text_reads += text_read(op);
    op->task.run = single_run;
    op->task.done = single_done;
    pool_submit(q->threads, &op->task);
}

static void single_done(pool_task *t)
{
    sq_op *op = op_of(t);
    storeq *q = op->q;
    bool text = text_read(op);
    q->pending--;
    op->done(op); /* may free op */
    if (text && --q->text_reads < STOREQ_TEXT_READS && q->parked) {
        sq_op *next = q->parked;
        if (!(q->parked = next->next))
            q->parked_tail = NULL;
        next->next = NULL;
        single_submit(q, next);
    }
}

static bool batched(sq_kind kind)
{
    return kind == SQ_SUBMIT || kind == SQ_COMPLETE || kind == SQ_CLAIM;
}

/* A claim's output array of max empty jobs; -1 when out of memory. */
static int claim_alloc(sq_op *op)
{
    int max = op->u.claim.max;
    op->u.claim.jobs = calloc((size_t)max, sizeof(job));
    if (!op->u.claim.jobs)
        return -1;
    for (int i = 0; i < max; i++)
        job_init(&op->u.claim.jobs[i]);
    return 0;
}

/* Store thread: fills a store_batch from the ops, moving their jobs in (a
 * shallow move: references go along). Claim ops get their output array. */
static int batch_fill(sq_batch *b, store_batch *sb, char *err, size_t errlen)
{
    int nsub = 0, ncom = 0;
    sb->budget = b->q->budget;
    for (sq_op *op = b->ops; op; op = op->next) {
        nsub += op->kind == SQ_SUBMIT;
        ncom += op->kind == SQ_COMPLETE;
    }
    int64_t *limits = calloc((size_t)nsub + 1, sizeof(int64_t));
    sb->submit = calloc((size_t)nsub + 1, sizeof(job));
    sb->existing = calloc((size_t)nsub + 1, sizeof(bool));
    sb->max_queued = limits;
    sb->refused = calloc((size_t)nsub + 1, sizeof(bool));
    job *com = calloc((size_t)ncom + 1, sizeof(job));
    sb->complete = com;
    sb->applied = calloc((size_t)ncom + 1, sizeof(bool));
    if (!sb->submit || !sb->existing || !limits || !sb->refused || !com || !sb->applied) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (sq_op *op = b->ops; op; op = op->next) {
        if (op->kind == SQ_SUBMIT) {
            /* The store replaces a job whose key it knows (and drops its
             * args): keep them to compare with what it had. */
            op->u.submit.req_args = json_incref(op->u.submit.j.args);
            limits[sb->nsubmit] = op->u.submit.max_queued;
            sb->submit_held += op->u.submit.held;
            sb->submit[sb->nsubmit++] = op->u.submit.j;
        } else if (op->kind == SQ_COMPLETE) {
            com[sb->ncomplete++] = op->u.complete.j;
        } else {
            if (claim_alloc(op) < 0) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            sb->claim_max[op->u.claim.kind] = op->u.claim.max;
            sb->claimed[op->u.claim.kind] = op->u.claim.jobs;
            sb->slot = op->u.claim.slot;
            sb->incarnation = op->u.claim.incarnation;
            sb->pid = op->u.claim.pid;
        }
    }
    return 0;
}

/* Store thread: the outcome of a submission. A job found by its
 * Idempotency-Key is compared with the request (op->j still holds the
 * request's own fields; its args are in req_args). */
static void submit_unfill(sq_op *op, job *out, bool existing, bool refused)
{
    typeof(op->u.submit) *s = &op->u.submit;
    s->existing = existing;
    s->refused = refused;
    s->conflict = false;
    if (existing) {
        job req = s->j;
        req.args = s->req_args;
        s->conflict = !job_same_request(&req, out);
    }
    json_decref(s->req_args);
    s->req_args = NULL;
    s->j = *out;
    s->claimed = !existing && s->j.state == JOB_RUNNING;
}

/* Store thread: the outcome back into the ops. A new job comes back
 * running only when this batch's claim took it (store_write): its submit op
 * is marked claimed (nobody need be told it is queued) and it counts as
 * fresh in the claim op of its kind. */
static void batch_unfill(sq_batch *b, store_batch *sb)
{
    int is = 0, ic = 0, fresh[FN_NKINDS] = {0};
    for (sq_op *op = b->ops; op; op = op->next) {
        if (op->kind == SQ_SUBMIT) {
            submit_unfill(op, &sb->submit[is], sb->existing[is], sb->refused[is]);
            is++;
            fresh[op->u.submit.j.kind] += op->u.submit.claimed;
        } else if (op->kind == SQ_COMPLETE) {
            op->u.complete.applied = sb->applied[ic++];
        }
    }
    for (sq_op *op = b->ops; op; op = op->next) {
        if (op->kind == SQ_CLAIM) {
            op->u.claim.n = sb->nclaimed[op->u.claim.kind];
            op->u.claim.fresh = fresh[op->u.claim.kind];
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
        rc = store_write(st, &sb); /* settles the budget, whatever the outcome */
        if (rc < 0)
            snprintf(err, sizeof(err), "%s", store_errmsg(st));
    } else if (b->q->budget) { /* never written: the submissions' bytes go back */
        for (sq_op *op = b->ops; op; op = op->next)
            if (op->kind == SQ_SUBMIT)
                atomic_fetch_sub(&b->q->budget->held, op->u.submit.held);
    }
    if (sb.submit && sb.existing && sb.max_queued && sb.refused && sb.complete && sb.applied) {
        if (rc < 0) { /* a failed write leaves the jobs as they were: give them back */
            memset(sb.existing, 0, (size_t)sb.nsubmit * sizeof(bool));
            memset(sb.refused, 0, (size_t)sb.nsubmit * sizeof(bool));
        }
        batch_unfill(b, &sb);
    }
    for (sq_op *op = b->ops; op; op = op->next) {
        op->rc = rc;
        snprintf(op->err, sizeof(op->err), "%s", err);
    }
    free(sb.submit);
    free(sb.existing);
    free((int64_t *)sb.max_queued);
    free(sb.refused);
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
    ENGINE_ASSERT_LOOP();
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
    if (text_read(op) && q->text_reads >= STOREQ_TEXT_READS) {
        if (q->parked_tail)
            q->parked_tail->next = op;
        else
            q->parked = op;
        q->parked_tail = op;
        return;
    }
    single_submit(q, op);
}

int storeq_pending(const storeq *q)
{
    return q->pending;
}

storeq *storeq_new(const config *cfg, void *store_shared, struct event_base *base, int nthreads,
                   pool_done *done)
{
    pthread_once(&store_key_once, store_key_create);
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

void storeq_set_budget(storeq *q, store_budget *budget)
{
    q->budget = budget;
}

void storeq_free(storeq *q)
{
    if (!q)
        return;
    pool_free(q->threads);
    event_free(q->kick);
    free(q);
}
