#include "claims.h"
#include "loop.h"

#include <stdlib.h>
#include <string.h>

#include "bell.h"
#include "budget.h"
#include "figures.h"
#include "jobrun.h"
#include "lanes.h"
#include "log.h"
#include "runner.h"
#include "storeq.h"

struct claims {
    bool maybe_work[FN_NKINDS]; /* the queue may hold such jobs */
    sq_op *op[FN_NKINDS];       /* the claim with the store, NULL when none */
    bool reclaim[FN_NKINDS];    /* woken while claiming: claim again after */
    bool cheap[FN_NKINDS];      /* the last claim brought only cheap jobs: prefetch */
};

static void pump(engine *e, fn_kind kind);

/* Whether every job claimed is cheap: by its estimate and by the recent run time. */
static bool all_cheap(const job *jobs, int n)
{
    if (n == 0)
        return false;
    for (int i = 0; i < n; i++) {
        const fn_desc *fn = fn_find(jobs[i].fn, strlen(jobs[i].fn), true);
        if (!fn || runner_cost_ns(fn, jobs[i].args) >= CLAIMS_PREFETCH_BELOW_US * 1000)
            return false;
    }
    return true;
}

static void claim_done(sq_op *op)
{
    engine *e = op->arg;
    claims *cl = e->claims;
    fn_kind kind = op->u.claim.kind;
    int n = op->u.claim.n;
    cl->op[kind] = NULL;
    lanes_unpromise(e, kind);
    bool failed = op->rc < 0;
    if (failed) {
        log_error("claiming %s jobs failed: %s", kind == FN_CPU ? "cpu" : "io", op->err);
    } else {
        /* Jobs submitted in the same batch were never counted as queued. */
        figures_queued_add(e, -(n - op->u.claim.fresh));
        figures_running_add(e, n);
        cl->cheap[kind] = all_cheap(op->u.claim.jobs, n);
        budget_claimed(e);
        for (int i = 0; i < n; i++)
            jobrun_start(e, &op->u.claim.jobs[i]);
        if (n < op->u.claim.max && !cl->reclaim[kind])
            cl->maybe_work[kind] = false; /* drained: sleep until woken */
    }
    sq_op_release(op);
    free(op);
    if (!failed) /* after a store error the sweep tries again */
        pump(e, kind);
}

static void pump(engine *e, fn_kind kind)
{
    claims *cl = e->claims;
    lanes_publish(e);
    if (e->draining || !cl->maybe_work[kind])
        return;
    if (cl->op[kind]) {
        cl->reclaim[kind] = true; /* once it is back, look again */
        return;
    }
    int free_lanes = lanes_free(e, kind);
    if (free_lanes <= 0)
        return;
    int64_t ewma = figures_run_time_us(e);
    bool prefetch = cl->cheap[kind] && ewma > 0 && ewma < CLAIMS_PREFETCH_BELOW_US;
    sq_op *op = malloc(sizeof(*op));
    if (!op)
        return;
    sq_op_init(op, SQ_CLAIM, claim_done, e);
    op->u.claim.kind = kind;
    op->u.claim.max = free_lanes + (prefetch ? CLAIMS_PREFETCH_MAX : 0);
    op->u.claim.slot = e->slot;
    op->u.claim.incarnation = atomic_load(&e->me->incarnation);
    op->u.claim.pid = e->pid;
    cl->op[kind] = op;
    cl->reclaim[kind] = false;
    lanes_promise(e, kind, op->u.claim.max);
    storeq_push(e->sq, op);
}

void claims_pump_all(engine *e)
{
    ENGINE_ASSERT_LOOP();
    for (int k = 0; k < FN_NKINDS; k++)
        pump(e, (fn_kind)k);
}

void claims_wake(engine *e, fn_kind kind)
{
    e->claims->maybe_work[kind] = true;
    pump(e, kind);
}

void claims_maybe_all(engine *e)
{
    for (int k = 0; k < FN_NKINDS; k++)
        e->claims->maybe_work[k] = true;
    claims_pump_all(e);
}

void claims_submitting(engine *e, fn_kind kind)
{
    claims *cl = e->claims;
    cl->maybe_work[kind] = true;
    if (cl->op[kind] && !cl->op[kind]->sent)
        return; /* that claim is in the same batch: it will see this job */
    pump(e, kind);
}

void claims_queued(engine *e, fn_kind kind)
{
    claims *cl = e->claims;
    figures_queued_add(e, 1);
    cl->maybe_work[kind] = true;
    if (cl->op[kind])
        cl->reclaim[kind] = true; /* that claim may have looked too early */
    if (lanes_free(e, kind) > 0 && !e->draining)
        pump(e, kind);
    else
        bell_wake_idle(e, kind);
}

int claims_init(engine *e)
{
    e->claims = calloc(1, sizeof(*e->claims));
    if (!e->claims)
        return -1;
    for (int k = 0; k < FN_NKINDS; k++)
        e->claims->maybe_work[k] = true; /* jobs may wait from before */
    return 0;
}

void claims_release(engine *e)
{
    free(e->claims);
    e->claims = NULL;
}
