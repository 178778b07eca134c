#include "figures.h"

void figures_queued_add(engine *e, int64_t n)
{
    atomic_fetch_add(&e->shm->jobs.queued, n);
}

void figures_running_add(engine *e, int64_t n)
{
    atomic_fetch_add(&e->shm->jobs.running, n);
}

void figures_set(engine *e, int64_t queued, int64_t running)
{
    atomic_store(&e->shm->jobs.queued, queued);
    atomic_store(&e->shm->jobs.running, running);
}

int64_t figures_queued(const engine *e)
{
    return atomic_load(&e->shm->jobs.queued);
}

void figures_ran(engine *e, int64_t run_us)
{
    atomic_int_fast64_t *ewma = &e->shm->jobs.run_ewma_us;
    int64_t old = atomic_load_explicit(ewma, memory_order_relaxed);
    if (run_us < 1)
        run_us = 1;
    atomic_store_explicit(ewma, old ? (old * 7 + run_us) / 8 : run_us, memory_order_relaxed);
}

int64_t figures_run_time_us(const engine *e)
{
    return atomic_load_explicit(&e->shm->jobs.run_ewma_us, memory_order_relaxed);
}

int figures_retry_after_s(const engine *e)
{
    int64_t queued = figures_queued(e);
    int nlanes = atomic_load(&e->shm->nslots) * e->cfg->cpu_threads;
    if (nlanes < 1)
        nlanes = 1;
    int64_t s = (queued > 0 ? queued : 0) * figures_run_time_us(e) / nlanes / 1000000 + 1;
    return s > 3600 ? 3600 : (int)s;
}
