#include "engine.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bell.h"
#include "budget.h"
#include "claims.h"
#include "deliver.h"
#include "figures.h"
#include "jobrun.h"
#include "lanes.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "slot.h"
#include "storeq.h"
#include "upkeep.h"
#include "waiters.h"

/* What the bell makes this worker do. */
static void on_job_changed(engine *e, const char *id)
{
    if (waiters_count(e) > 0)
        waiters_job_changed(e, id);
}

/* A job's end, announced (ctx.h: engine_job_final). */
static void job_final(engine *e, const job *j, bool deliver)
{
    ENGINE_ASSERT_LOOP();
    waiters_job_final(e, j);
    bell_job_final(e, j->id);
    if (deliver && j->callback[0])
        deliver_job(e, j);
}

static const engine_hooks hooks = {
    .job_final = job_final,
    .job_queued = claims_queued,
    .lanes_freed = claims_pump_all,
};

static const bell_handlers bell_to_engine = {
    .claim = claims_wake,
    .job_changed = on_job_changed,
    .stop_job = jobrun_stop,
    .notes_lost = waiters_refetch_all,
};

int engine_init(engine *e, const config *cfg, shm_region *shm, int slot, struct event_base *base,
                engine_idle_fn *on_idle, void *idle_arg)
{
    memset(e, 0, sizeof(*e));
    loop_claim();
    e->cfg = cfg;
    e->shm = shm;
    e->slot = slot;
    e->me = &shm->w[slot];
    e->pid = getpid();
    e->master_pid = (pid_t)atomic_load(&shm->master_pid);
    e->base = base;
    e->hooks = &hooks;
    e->on_idle = on_idle;
    e->idle_arg = idle_arg;
    lanes_init(e);
    if (!(e->done = pool_done_new(base)) ||
        !(e->cpu = pool_new("crunchd-cpu", cfg->cpu_threads, e->done)) ||
        !(e->io = pool_new("crunchd-io", cfg->io_threads, e->done))) {
        log_error("starting thread pools failed: %s", strerror(errno));
        return -1;
    }
    if (waiters_init(e) < 0 || claims_init(e) < 0 || jobrun_init(e) < 0 || upkeep_init(e) < 0) {
        log_error("out of memory");
        return -1;
    }
    if (bell_open(e, &bell_to_engine) < 0)
        return -1;
    if (!(e->sq = storeq_new(cfg, shm->jobs.store_shared, base, 1, e->done))) {
        log_error("starting the store thread failed: %s", strerror(errno));
        return -1;
    }
    budget_init(e);
    storeq_set_budget(e->sq, &e->args);
    if (deliver_init(e) < 0) {
        log_error("starting the callback delivery threads failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void engine_start(engine *e)
{
    slot_start(e);
    bell_start(e);
    claims_pump_all(e); /* say our lanes are free; claim what waits */
}

void engine_drain(engine *e)
{
    e->draining = true;
    slot_draining(e);
    claims_pump_all(e); /* publishes no free lanes: no more claims here */
    waiters_drain(e);   /* long-polls are answered with the job as it is */
}

void engine_sweep(engine *e)
{
    ENGINE_ASSERT_LOOP();
    slot_heartbeat(e);
    upkeep_sweep(e);
    /* A wake-up can be lost: while jobs are queued, look once a second.
     * Also retries claims after a store error. */
    if (figures_queued(e) > 0)
        claims_maybe_all(e);
    else
        claims_pump_all(e);
    bell_answer(e);
    budget_sweep(e);
}

bool engine_idle_now(const engine *e)
{
    for (int k = 0; k < FN_NKINDS; k++)
        if (e->lanes.busy[k] > 0)
            return false;
    return jobrun_count(e) == 0 && (!e->sq || storeq_pending(e->sq) == 0) &&
           deliver_pending(e) == 0;
}

void engine_release(engine *e)
{
    pool_free(e->cpu);
    pool_free(e->io);
    deliver_release(e);
    storeq_free(e->sq);
    bell_close(e);
    upkeep_release(e);
    jobrun_release(e);
    claims_release(e);
    waiters_release(e);
    pool_done_free(e->done);
    e->cpu = e->io = NULL;
    e->sq = NULL;
    e->done = NULL;
}
