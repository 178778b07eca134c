#include "slot.h"

bool slot_mine(const engine *e)
{
    return shm_worker_mine(e->me, e->pid);
}

void slot_start(engine *e)
{
    /* pid first: a reader that sees RUNNING must see who runs. */
    atomic_store(&e->me->pid, (int)e->pid);
    atomic_store(&e->me->heartbeat_ms, shm_mono_ms());
    atomic_store(&e->me->state, SHM_W_RUNNING);
    for (int i = 0; i < SHM_WAIT_BINS; i++)
        atomic_store(&e->me->wait_bins[i], 0);
}

void slot_draining(engine *e)
{
    if (slot_mine(e))
        atomic_store(&e->me->state, SHM_W_DRAINING);
}

void slot_heartbeat(engine *e)
{
    if (slot_mine(e))
        atomic_store(&e->me->heartbeat_ms, shm_mono_ms());
}

void slot_set_job(engine *e, const char *id)
{
    if (slot_mine(e))
        shm_worker_set_job(e->me, id);
}

void slot_set_free(engine *e, fn_kind kind, int n)
{
    if (slot_mine(e))
        atomic_store_explicit(kind == FN_CPU ? &e->me->free_cpu : &e->me->free_io, n,
                              memory_order_relaxed);
}

void slot_set_waiters(engine *e, int n)
{
    if (slot_mine(e))
        atomic_store(&e->me->waiters, n);
}

void slot_bin_add(engine *e, const char *id, int add)
{
    if (slot_mine(e))
        atomic_fetch_add(&e->me->wait_bins[shm_wait_bin(id)], (unsigned)add);
}

void slot_count_request(engine *e)
{
    atomic_fetch_add_explicit(&e->me->requests, 1, memory_order_relaxed);
}

void slot_count_run(engine *e)
{
    atomic_fetch_add_explicit(&e->me->jobs, 1, memory_order_relaxed);
}

void slot_count_connection(engine *e, int add)
{
    atomic_fetch_add_explicit(&e->me->connections, add, memory_order_relaxed);
}
