#include "upkeep.h"

#include <stdlib.h>

#include "claims.h"
#include "bell.h"
#include "figures.h"
#include "log.h"
#include "slot.h"
#include "storeq.h"

struct upkeep {
    int64_t last_resync_ms, last_purge_ms;
};

static void reap_done(sq_op *op)
{
    engine *e = op->arg;
    if (op->rc < 0) {
        log_error("reaping the jobs of worker slot %d failed: %s", op->u.reap.slot, op->err);
    } else {
        for (int i = 0; i < op->u.reap.n; i++)
            engine_job_final(e, &op->u.reap.jobs[i], true);
        if (op->u.reap.n)
            log_notice("worker slot %d incarnation %u: %d running job(s) failed as worker_lost",
                       op->u.reap.slot, op->u.reap.incarnation, op->u.reap.n);
        /* Some may be queued again: anyone idle should look. */
        claims_maybe_all(e);
        bell_wake_idle(e, FN_CPU);
        bell_wake_idle(e, FN_IO);
    }
    sq_op_release(op);
    free(op);
    engine_idle(e);
}

/* Reaps the running jobs of every worker the master saw die (once each). */
static void reap_dead(engine *e)
{
    for (int i = 0; i < SHM_DEAD_RING; i++) {
        shm_dead *d = &e->shm->jobs.dead[i];
        if (atomic_load(&d->seq) == 0 || atomic_load(&d->reaped) != 0)
            continue;
        /* The op first: a record is marked reaped only when its reap is on
         * its way (out of memory, it stays for the next sweep). */
        sq_op *op = malloc(sizeof(*op));
        if (!op)
            return;
        int expected = 0;
        if (!atomic_compare_exchange_strong(&d->reaped, &expected, 1)) {
            free(op);
            continue;
        }
        sq_op_init(op, SQ_REAP, reap_done, e);
        op->u.reap.slot = atomic_load(&d->slot);
        op->u.reap.incarnation = atomic_load(&d->incarnation);
        storeq_push(e->sq, op);
    }
}

static void counts_done(sq_op *op)
{
    engine *e = op->arg;
    if (op->rc == 0)
        figures_set(e, op->u.counts.queued, op->u.counts.running);
    sq_op_release(op);
    free(op);
    engine_idle(e);
}

static void purge_done(sq_op *op)
{
    engine *e = op->arg;
    if (op->rc < 0)
        log_error("purging finished jobs failed: %s", op->err);
    else if (op->u.purge.n > 0)
        log_info("purged %d finished job(s) older than jobs.result_ttl_s", op->u.purge.n);
    sq_op_release(op);
    free(op);
    engine_idle(e);
}

static void push_simple(engine *e, sq_kind kind, void (*done)(sq_op *))
{
    sq_op *op = malloc(sizeof(*op));
    if (!op)
        return;
    sq_op_init(op, kind, done, e);
    if (kind == SQ_PURGE)
        op->u.purge.ttl_s = e->cfg->jobs.result_ttl_s;
    storeq_push(e->sq, op);
}

void upkeep_sweep(engine *e)
{
    upkeep *u = e->upkeep;
    reap_dead(e);
    int64_t now = shm_mono_ms();
    if (e->slot == 0 && slot_mine(e) && !e->draining) {
        if (now - u->last_resync_ms >= UPKEEP_RESYNC_EVERY_MS) {
            u->last_resync_ms = now;
            push_simple(e, SQ_COUNTS, counts_done);
        }
        if (now - u->last_purge_ms >= UPKEEP_PURGE_EVERY_MS) {
            u->last_purge_ms = now;
            push_simple(e, SQ_PURGE, purge_done);
        }
    }
}

int upkeep_init(engine *e)
{
    e->upkeep = calloc(1, sizeof(*e->upkeep));
    if (!e->upkeep)
        return -1;
    e->upkeep->last_resync_ms = shm_mono_ms() - UPKEEP_RESYNC_EVERY_MS; /* at the first sweep */
    e->upkeep->last_purge_ms = shm_mono_ms();
    return 0;
}

void upkeep_release(engine *e)
{
    free(e->upkeep);
    e->upkeep = NULL;
}
