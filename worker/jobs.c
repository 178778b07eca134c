#include "jobs.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "callback_deliver.h"
#include "fn.h"
#include "jobs_http.h"
#include "log.h"
#include "metrics.h"
#include "storeq.h"
#include "wake.h"
#include "wire.h"

#define PREFETCH_MAX 16          /* extra jobs claimed per lane when jobs are short */
#define PREFETCH_BELOW_US 1000   /* "cheap": estimated and recent run time under this */
#define RESYNC_EVERY_MS 5000     /* queue figures from the store (slot 0 only) */
#define PURGE_EVERY_MS 60000     /* purge of expired jobs (slot 0 only) */
#define EXIT_JOB_KILLED 70       /* a job ignored its stop request: the worker ends */

/* One claimed job, from claim to completion. */
typedef struct jtask {
    pool_task task;          /* first: run on a lane */
    wctx *w;
    job j;                   /* owned: the claimed job, then its outcome */
    const fn_desc *fn;
    fn_ctx ctx;
    fn_status status;
    json_t *result;          /* new reference from run() */
    int64_t run_us, cpu_us;
    bool cancel_requested;   /* DELETE reached us: report cancelled */
    struct event *kill_timer; /* deadline + grace, or cancel + grace */
    struct jtask *prev, *next; /* jobs->running while on a lane */
    sq_op op;                /* the completion */
} jtask;

struct jobs {
    int wake_fd;
    struct event *wake_ev;
    bool maybe_work[2];      /* by fn_kind: the queue may hold such jobs */
    sq_op *claim_op[2];      /* the claim with the store, NULL when none */
    int claim_max[2];        /* ...for this many jobs (0 when none) */
    bool reclaim[2];         /* woken while claiming: claim again after */
    bool cheap[2];           /* the last claim brought only cheap jobs: prefetch */
    jtask *running;
    int nrunning;
    int64_t last_resync_ms, last_purge_ms;
    uint64_t notes_seen;     /* shm notes read so far */
};

/* Lanes neither busy nor promised to a claim that is with the store. */
static int lanes_free(const wctx *w, fn_kind kind)
{
    int claimed = w->jobs ? w->jobs->claim_max[kind] : 0;
    return (kind == FN_CPU ? w->cfg->cpu_threads - w->busy_cpu : w->cfg->io_threads - w->busy_io) -
           claimed;
}

static void publish_free(wctx *w)
{
    if (!shm_worker_mine(w->me, w->pid))
        return;
    int cpu = lanes_free(w, FN_CPU), io = lanes_free(w, FN_IO);
    atomic_store_explicit(&w->me->free_cpu, w->draining ? 0 : cpu, memory_order_relaxed);
    atomic_store_explicit(&w->me->free_io, w->draining ? 0 : io, memory_order_relaxed);
}

int jobs_running(const wctx *w) { return w->jobs ? w->jobs->nrunning : 0; }

/* ---- claiming ---------------------------------------------------------- */

static void start_job(wctx *w, job *j);
static void pump(wctx *w, fn_kind kind);
static void answer_bell(wctx *w);

static void claim_done(sq_op *op)
{
    wctx *w = op->arg;
    jobs *js = w->jobs;
    fn_kind kind = op->claim_kind;
    js->claim_op[kind] = NULL;
    js->claim_max[kind] = 0;
    if (op->rc < 0) {
        log_error("claiming %s jobs failed: %s", kind == FN_CPU ? "cpu" : "io", op->err);
    } else {
        /* Jobs submitted in the same batch were never counted as queued. */
        atomic_fetch_sub(&w->shm->jobs.queued, op->n - op->fresh);
        atomic_fetch_add(&w->shm->jobs.running, op->n);
        js->cheap[kind] = op->n > 0;
        for (int i = 0; i < op->n; i++) {
            const fn_desc *fn = fn_find(op->jobs[i].fn, strlen(op->jobs[i].fn), true);
            if (!fn || !fn->cost_ns || fn->cost_ns(op->jobs[i].args) >= PREFETCH_BELOW_US * 1000)
                js->cheap[kind] = false;
        }
        for (int i = 0; i < op->n; i++)
            start_job(w, &op->jobs[i]);
        if (op->n < op->max && !js->reclaim[kind])
            js->maybe_work[kind] = false; /* drained: sleep until woken */
    }
    bool failed = op->rc < 0;
    sq_op_release(op);
    free(op);
    if (!failed) /* after a store error the sweep tries again */
        pump(w, kind);
}

static void pump(wctx *w, fn_kind kind)
{
    jobs *js = w->jobs;
    publish_free(w);
    if (w->draining || !js->maybe_work[kind])
        return;
    if (js->claim_op[kind]) {
        js->reclaim[kind] = true; /* once it is back, look again */
        return;
    }
    int free_lanes = lanes_free(w, kind);
    if (free_lanes <= 0)
        return;
    /* Claiming ahead of free lanes saves transactions when jobs are tiny,
     * but holds jobs another idle worker could run: only while the jobs
     * just claimed were cheap by their estimate and by measured run time. */
    int64_t ewma = atomic_load_explicit(&w->shm->jobs.run_ewma_us, memory_order_relaxed);
    bool prefetch = js->cheap[kind] && ewma > 0 && ewma < PREFETCH_BELOW_US;
    int max = free_lanes + (prefetch ? PREFETCH_MAX : 0);
    sq_op *op = malloc(sizeof(*op));
    if (!op)
        return;
    sq_op_init(op, SQ_CLAIM, claim_done, w);
    op->claim_kind = kind;
    op->max = max;
    op->slot = w->slot;
    op->incarnation = atomic_load(&w->me->incarnation);
    op->pid = w->pid;
    js->claim_op[kind] = op;
    js->claim_max[kind] = max;
    js->reclaim[kind] = false;
    publish_free(w);
    storeq_push(w->sq, op);
}

void jobs_start(wctx *w)
{
    waiters_start(w);
    atomic_store(&w->me->bell, 0); /* a bell an earlier incarnation never answered */
    answer_bell(w);
    jobs_lane_freed(w);
}

void jobs_lane_freed(wctx *w)
{
    pump(w, FN_CPU);
    pump(w, FN_IO);
}

bool jobs_other_free(const wctx *w, fn_kind kind)
{
    int n = atomic_load(&w->shm->nslots);
    for (int i = 0; i < n; i++) {
        const shm_worker *s = &w->shm->w[i];
        pid_t pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
        if (pid > 0 && pid != w->pid &&
            atomic_load_explicit(kind == FN_CPU ? &s->free_cpu : &s->free_io,
                                 memory_order_relaxed) > 0)
            return true;
    }
    return false;
}

/*
 * Rings the bell of the worker in slot s (pid), after what it should look at
 * is in place (claim bits, notes). At most one datagram is on its way to a
 * worker at a time: the receiver clears s->bell before it looks, so a ring
 * that finds the bell already set is covered by the datagram in flight. That
 * keeps its socket queue (10 datagrams by default) from ever filling.
 * Returns false if the worker could not be reached.
 */
static bool ring(wctx *w, shm_worker *s, pid_t pid, int claim_bits)
{
    if (claim_bits)
        atomic_fetch_or(&s->claim_bits, claim_bits);
    if (atomic_exchange(&s->bell, 1) != 0)
        return true;
    if (wake_send(pid, WAKE_BELL, NULL, 0) == 0)
        return true;
    atomic_store(&s->bell, 0); /* gone or not yet listening: let a later ring try */
    return false;
}

/* Wakes one other worker that has a free lane of this kind, if any. */
static void wake_idle_worker(wctx *w, fn_kind kind)
{
    int n = atomic_load(&w->shm->nslots);
    if (n <= 0)
        return;
    int start = rand() % n;
    for (int i = 0; i < n; i++) {
        shm_worker *s = &w->shm->w[(start + i) % n];
        pid_t pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
        int free_lanes = atomic_load_explicit(kind == FN_CPU ? &s->free_cpu : &s->free_io,
                                              memory_order_relaxed);
        if (pid > 0 && pid != w->pid && free_lanes > 0 && ring(w, s, pid, 1 << kind))
            return;
    }
}

void jobs_submitting(wctx *w, fn_kind kind)
{
    jobs *js = w->jobs;
    js->maybe_work[kind] = true;
    if (js->claim_op[kind] && !js->claim_op[kind]->sent)
        return; /* that claim is in the same batch: it will see this job */
    pump(w, kind);
}

void jobs_queued(wctx *w, fn_kind kind)
{
    jobs *js = w->jobs;
    atomic_fetch_add(&w->shm->jobs.queued, 1);
    js->maybe_work[kind] = true;
    if (js->claim_op[kind])
        js->reclaim[kind] = true; /* that claim may have looked too early */
    if (lanes_free(w, kind) > 0 && !w->draining)
        pump(w, kind);
    else
        wake_idle_worker(w, kind);
}

/* ---- running ----------------------------------------------------------- */

static void jtask_run(pool_task *t)
{
    jtask *jt = (jtask *)t;
    jt->status = fn_run_timed(jt->fn, jt->j.args, &jt->ctx, &jt->result, &jt->run_us, &jt->cpu_us);
}

static void running_link(jobs *js, jtask *jt)
{
    jt->next = js->running;
    if (js->running)
        js->running->prev = jt;
    js->running = jt;
    js->nrunning++;
}

static void running_unlink(jobs *js, jtask *jt)
{
    if (jt->prev)
        jt->prev->next = jt->next;
    else
        js->running = jt->next;
    if (jt->next)
        jt->next->prev = jt->prev;
    jt->prev = jt->next = NULL;
    js->nrunning--;
}

static jtask *running_find(jobs *js, const char *id)
{
    for (jtask *jt = js->running; jt; jt = jt->next)
        if (strcmp(jt->j.id, id) == 0)
            return jt;
    return NULL;
}

/* The job ignored its stop request for cancel_grace_ms: record its end in
 * the store, then end this worker (the master respawns it; the reap that
 * follows leaves this job alone because it is final). */
static void on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
    jtask *jt = arg;
    wctx *w = jt->w;
    job *j = &jt->j;
    bool cancelled = jt->cancel_requested;
    const char *code = cancelled ? ERR_CANCELLED : ERR_TIMEOUT;
    const char *message = cancelled
                              ? "cancelled; the function did not stop, so its worker was ended"
                              : "timeout_ms passed; the function did not stop, so its worker was ended";
    log_warn("job %s (%s) did not stop within jobs.cancel_grace_ms after %s; ending this worker",
             j->id, j->fn, cancelled ? "a cancel" : "its timeout");
    /* The loop is about to end: blocking on the store here holds up nobody. */
    char err[256] = "";
    bool applied = false;
    store *st = store_open(&w->cfg->store, err, sizeof(err));
    if (!st || store_abort(st, j->id, j->owner_slot, j->owner_incarnation,
                           cancelled ? JOB_CANCELLED : JOB_FAILED, code, message, &applied) < 0)
        log_error("recording the end of job %s failed: %s", j->id, st ? store_errmsg(st) : err);
    store_close(st);
    if (applied) {
        j->state = cancelled ? JOB_CANCELLED : JOB_FAILED;
        job_set_error(j, code, message);
        j->finished_at_us = job_now_us();
        /* Local long-polls are answered (and flushed) now; the rest are told. */
        jobs_final(w, j, false);
        if (j->callback[0])
            callback_deliver_now(w, j);
    }
    _exit(EXIT_JOB_KILLED);
}

static void arm_kill_timer(jtask *jt, int64_t after_ms)
{
    if (jt->kill_timer)
        event_free(jt->kill_timer);
    jt->kill_timer = evtimer_new(jt->w->base, on_kill_timer, jt);
    struct timeval tv = {(time_t)(after_ms / 1000), (suseconds_t)(after_ms % 1000) * 1000};
    if (jt->kill_timer)
        evtimer_add(jt->kill_timer, &tv);
}

static void complete_done(sq_op *op);
static void jtask_done(pool_task *t);
static void jtask_finish(jtask *jt);

/* Fails a claimed job at once (its function vanished with a reload). */
static void start_job(wctx *w, job *j)
{
    jtask *jt = calloc(1, sizeof(*jt));
    if (!jt)
        return; /* stays running in the store; reaped when this worker ends */
    jt->w = w;
    jt->j = *j; /* moves args along */
    job_init(j);
    jt->task.run = jtask_run;
    jt->task.done = jtask_done;
    jt->fn = fn_find(jt->j.fn, strlen(jt->j.fn), w->cfg->debug_functions);
    int64_t timeout_ms = jt->j.timeout_ms > 0 ? jt->j.timeout_ms : w->cfg->jobs.default_timeout_ms;
    fn_ctx_init(&jt->ctx, fn_now_ns() + timeout_ms * 1000000, w->cfg->data_dir);
    running_link(w->jobs, jt);
    if (jt->j.kind == FN_IO)
        w->busy_io++;
    else
        w->busy_cpu++;
    publish_free(w);
    if (!jt->fn) {
        jt->status = FN_FAILED;
        snprintf(jt->ctx.message, sizeof(jt->ctx.message), "fn: no function named \"%s\"", jt->j.fn);
        jtask_finish(jt);
        return;
    }
    if (jt->fn->cost_ns && jt->fn->cost_ns(jt->j.args) < FN_INLINE_NS) {
        /* As for sync calls: cheaper here than a trip to a lane and back. */
        jtask_run(&jt->task);
        jtask_finish(jt);
        return;
    }
    arm_kill_timer(jt, timeout_ms + w->cfg->jobs.cancel_grace_ms);
    if (shm_worker_mine(w->me, w->pid))
        shm_worker_set_job(w->me, jt->j.id);
    pool_submit(jt->j.kind == FN_IO ? w->io : w->cpu, &jt->task);
}

static void update_ewma(wctx *w, int64_t run_us)
{
    atomic_int_fast64_t *e = &w->shm->jobs.run_ewma_us;
    int64_t old = atomic_load_explicit(e, memory_order_relaxed);
    atomic_store_explicit(e, old ? (old * 7 + run_us) / 8 : run_us, memory_order_relaxed);
}

/* Turns the run's outcome into the job's final state. */
static void settle(jtask *jt)
{
    job *j = &jt->j;
    j->run_us = jt->run_us;
    j->cpu_us = jt->cpu_us;
    j->finished_at_us = job_now_us();
    switch (jt->status) {
    case FN_OK:
        j->state = JOB_SUCCEEDED;
        j->result = jt->result;
        jt->result = NULL;
        break;
    case FN_CANCELLED:
        if (!jt->cancel_requested && fn_now_ns() >= jt->ctx.deadline_ns) {
            j->state = JOB_FAILED;
            job_set_error(j, ERR_TIMEOUT, "the job did not finish within timeout_ms");
        } else {
            j->state = JOB_CANCELLED;
            job_set_error(j, ERR_CANCELLED, "cancelled");
        }
        break;
    case FN_TIMEOUT:
        j->state = JOB_FAILED;
        job_set_error(j, ERR_TIMEOUT, "the job did not finish within timeout_ms");
        break;
    case FN_FAILED:
        j->state = JOB_FAILED;
        job_set_error(j, ERR_FUNCTION_ERROR, jt->ctx.message);
        break;
    case FN_LOST:
        /* Its process died, not this worker: as a reap would, re-queue it
         * while it has retries (the store does it: store_complete()). */
        if (j->attempts <= j->retries) {
            log_notice("job %s (%s): %s; re-queued (attempt %d, retries %d)", j->id, j->fn,
                       jt->ctx.message, j->attempts, j->retries);
            j->state = JOB_QUEUED;
        } else {
            j->state = JOB_FAILED;
            job_set_error(j, ERR_WORKER_LOST, jt->ctx.message);
        }
        break;
    }
}

/* Loop thread: the function returned. Free the lane, then record the
 * outcome (the store commits it with others in one transaction). */
static void jtask_finish(jtask *jt)
{
    wctx *w = jt->w;
    if (jt->kill_timer) {
        event_free(jt->kill_timer);
        jt->kill_timer = NULL;
    }
    running_unlink(w->jobs, jt);
    if (jt->j.kind == FN_IO)
        w->busy_io--;
    else
        w->busy_cpu--;
    if (w->jobs->nrunning == 0 && shm_worker_mine(w->me, w->pid))
        shm_worker_set_job(w->me, NULL);
    atomic_fetch_add_explicit(&w->me->jobs, 1, memory_order_relaxed);
    update_ewma(w, jt->run_us);
    settle(jt);
    if (jt->j.state != JOB_QUEUED) /* a re-queued attempt is counted when the job ends */
        metrics_job(w->shm, w->slot, jt->fn ? jt->fn->series : -1,
                    jt->j.state == JOB_SUCCEEDED   ? METRICS_JOB_SUCCEEDED
                    : jt->j.state == JOB_CANCELLED ? METRICS_JOB_CANCELLED
                                                   : METRICS_JOB_FAILED,
                    jt->run_us);
    sq_op_init(&jt->op, SQ_COMPLETE, complete_done, jt);
    jt->op.j = jt->j; /* the op owns the job now */
    job_init(&jt->j);
    storeq_push(w->sq, &jt->op);
}

static void jtask_done(pool_task *t)
{
    jtask_finish((jtask *)t);
    jobs_lane_freed(((jtask *)t)->w);
}

static void complete_done(sq_op *op)
{
    jtask *jt = op->arg;
    wctx *w = jt->w;
    if (op->rc < 0)
        log_error("completing job %s failed: %s", op->j.id, op->err);
    else if (op->flag && op->j.state == JOB_QUEUED) {
        atomic_fetch_sub(&w->shm->jobs.running, 1);
        jobs_queued(w, op->j.kind); /* back in the queue: a free lane takes it */
    } else if (op->flag) {
        atomic_fetch_sub(&w->shm->jobs.running, 1);
        jobs_final(w, &op->j, true);
    }
    sq_op_release(op);
    json_decref(jt->result);
    free(jt);
    worker_conn_closed(w); /* a draining worker may be done now */
}

/* ---- stopping jobs ----------------------------------------------------- */

static void cancel_local(wctx *w, const char *id)
{
    jtask *jt = running_find(w->jobs, id);
    if (!jt || jt->cancel_requested)
        return;
    jt->cancel_requested = true;
    atomic_store(&jt->ctx.cancel, 1);
    arm_kill_timer(jt, w->cfg->jobs.cancel_grace_ms);
}

void jobs_cancel_running(wctx *w, const char *id, pid_t owner)
{
    if (owner == w->pid) {
        cancel_local(w, id);
    } else if (owner > 0) {
        shm_note_write(w->shm, owner, id);
        int n = atomic_load(&w->shm->nslots);
        for (int i = 0; i < n; i++) {
            if (atomic_load_explicit(&w->shm->w[i].pid, memory_order_relaxed) == owner)
                ring(w, &w->shm->w[i], owner, 0);
        }
    }
}

/* ---- telling others ---------------------------------------------------- */

void jobs_final(wctx *w, const job *j, bool deliver)
{
    waiters_job_final(w, j);
    bool noted = false;
    int n = atomic_load(&w->shm->nslots);
    for (int i = 0; i < n; i++) {
        shm_worker *s = &w->shm->w[i];
        pid_t pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
        if (pid <= 0 || pid == w->pid || atomic_load_explicit(&s->waiters, memory_order_relaxed) == 0 ||
            atomic_load(&s->wait_bins[shm_wait_bin(j->id)]) == 0)
            continue;
        if (!noted) {
            shm_note_write(w->shm, 0, j->id);
            noted = true;
        }
        ring(w, s, pid, 0);
    }
    if (deliver && j->callback[0])
        callback_deliver(w, j);
}

/* Reads the notes other workers left since the last look. */
static void read_notes(wctx *w)
{
    jobs *js = w->jobs;
    uint64_t end = atomic_load(&w->shm->jobs.note_seq);
    if (end - js->notes_seen > SHM_NOTE_RING) {
        waiters_refetch_all(w); /* fell a ring behind: look everything up */
        js->notes_seen = end;
        return;
    }
    char id[SHM_NOTE_ID];
    for (; js->notes_seen < end; js->notes_seen++) {
        pid_t pid;
        int rc = shm_note_read(w->shm, js->notes_seen, &pid, id);
        if (rc == 0)
            return; /* still being written: its bell comes after */
        if (rc < 0) {
            waiters_refetch_all(w);
            js->notes_seen = end;
            return;
        }
        if (pid == 0 && waiters_count(w) > 0)
            waiters_job_changed(w, id);
        else if (pid == w->pid)
            cancel_local(w, id);
    }
}

/* Someone rang: clear the bell first, then look (see ring()). */
static void answer_bell(wctx *w)
{
    if (!shm_worker_mine(w->me, w->pid))
        return;
    atomic_store(&w->me->bell, 0);
    int bits = atomic_exchange(&w->me->claim_bits, 0);
    for (int k = 0; k < 2; k++) {
        if (bits & (1 << k)) {
            w->jobs->maybe_work[k] = true;
            pump(w, (fn_kind)k);
        }
    }
    read_notes(w);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    while (wake_recv(fd, NULL, 0) > 0)
        ;
    answer_bell(arg);
}

/* ---- reaping, resync, purge ------------------------------------------- */

static void reap_done(sq_op *op)
{
    wctx *w = op->arg;
    if (op->rc < 0) {
        log_error("reaping the jobs of worker slot %d failed: %s", op->slot, op->err);
    } else {
        for (int i = 0; i < op->n; i++)
            jobs_final(w, &op->jobs[i], true);
        if (op->n)
            log_notice("worker slot %d incarnation %u: %d running job(s) failed as worker_lost",
                       op->slot, op->incarnation, op->n);
        /* Some may be queued again: anyone idle should look. */
        w->jobs->maybe_work[FN_CPU] = w->jobs->maybe_work[FN_IO] = true;
        jobs_lane_freed(w);
        wake_idle_worker(w, FN_CPU);
        wake_idle_worker(w, FN_IO);
    }
    sq_op_release(op);
    free(op);
}

/* Reaps the running jobs of every worker the master saw die (once each). */
static void reap_dead(wctx *w)
{
    for (int i = 0; i < SHM_DEAD_RING; i++) {
        shm_dead *d = &w->shm->jobs.dead[i];
        if (atomic_load(&d->seq) == 0 || atomic_load(&d->reaped) != 0)
            continue;
        int expected = 0;
        if (!atomic_compare_exchange_strong(&d->reaped, &expected, 1))
            continue;
        sq_op *op = malloc(sizeof(*op));
        if (!op)
            return;
        sq_op_init(op, SQ_REAP, reap_done, w);
        op->slot = atomic_load(&d->slot);
        op->incarnation = atomic_load(&d->incarnation);
        storeq_push(w->sq, op);
    }
}

static void counts_done(sq_op *op)
{
    wctx *w = op->arg;
    if (op->rc == 0) {
        atomic_store(&w->shm->jobs.queued, op->queued);
        atomic_store(&w->shm->jobs.running, op->running);
    }
    sq_op_release(op);
    free(op);
}

static void purge_done(sq_op *op)
{
    if (op->rc < 0)
        log_error("purging finished jobs failed: %s", op->err);
    else if (op->queued > 0)
        log_info("purged %lld finished job(s) older than jobs.result_ttl_s", (long long)op->queued);
    sq_op_release(op);
    free(op);
}

static void push_simple(wctx *w, sq_kind kind, void (*done)(sq_op *))
{
    sq_op *op = malloc(sizeof(*op));
    if (!op)
        return;
    sq_op_init(op, kind, done, w);
    op->ttl_s = w->cfg->jobs.result_ttl_s;
    storeq_push(w->sq, op);
}

void jobs_sweep(wctx *w)
{
    jobs *js = w->jobs;
    reap_dead(w);
    int64_t now = shm_mono_ms();
    if (w->slot == 0 && shm_worker_mine(w->me, w->pid) && !w->draining) {
        if (now - js->last_resync_ms >= RESYNC_EVERY_MS) {
            js->last_resync_ms = now;
            push_simple(w, SQ_COUNTS, counts_done);
        }
        if (now - js->last_purge_ms >= PURGE_EVERY_MS) {
            js->last_purge_ms = now;
            push_simple(w, SQ_PURGE, purge_done);
        }
    }
    /* A wake-up can be lost (a full socket queue drops it): while jobs are
     * queued, look once a second. Also retries claims after a store error. */
    if (atomic_load(&w->shm->jobs.queued) > 0)
        js->maybe_work[FN_CPU] = js->maybe_work[FN_IO] = true;
    jobs_lane_freed(w);
    answer_bell(w);
}

int jobs_retry_after_s(const wctx *w)
{
    int64_t queued = atomic_load(&w->shm->jobs.queued);
    int64_t ewma = atomic_load(&w->shm->jobs.run_ewma_us);
    int lanes = atomic_load(&w->shm->nslots) * w->cfg->cpu_threads;
    if (lanes < 1)
        lanes = 1;
    int64_t s = (queued > 0 ? queued : 0) * ewma / lanes / 1000000 + 1;
    return s > 3600 ? 3600 : (int)s;
}

/* ---- set-up ------------------------------------------------------------ */

int jobs_init(wctx *w)
{
    jobs *js = calloc(1, sizeof(*js));
    if (!js)
        return -1;
    w->jobs = js;
    js->wake_fd = wake_open(w->pid);
    if (js->wake_fd < 0) {
        log_error("binding the wake-up socket failed: %s", strerror(errno));
        return -1;
    }
    js->wake_ev = event_new(w->base, js->wake_fd, EV_READ | EV_PERSIST, on_wake, w);
    if (!js->wake_ev || event_add(js->wake_ev, NULL) < 0)
        return -1;
    w->sq = storeq_new(w->cfg, &w->shm->jobs.store_gate, w->base, 1, w->done);
    if (!w->sq) {
        log_error("starting the store threads failed: %s", strerror(errno));
        return -1;
    }
    js->maybe_work[FN_CPU] = js->maybe_work[FN_IO] = true; /* jobs may wait from before */
    js->notes_seen = atomic_load(&w->shm->jobs.note_seq);
    js->last_resync_ms = shm_mono_ms() - RESYNC_EVERY_MS; /* resync at the first sweep */
    js->last_purge_ms = shm_mono_ms();
    return 0;
}

void jobs_release(wctx *w)
{
    jobs *js = w->jobs;
    if (!js)
        return;
    if (js->wake_ev)
        event_free(js->wake_ev);
    if (js->wake_fd >= 0)
        close(js->wake_fd);
    storeq_free(w->sq);
    w->sq = NULL;
    free(js);
    w->jobs = NULL;
}
