#include "lanes.h"
#include "loop.h"

#include "slot.h"

void lanes_init(engine *e)
{
    e->lanes = (lanes){.size = {e->cfg->cpu_threads, e->cfg->io_threads}};
}

int lanes_free(const engine *e, fn_kind kind)
{
    const lanes *l = &e->lanes;
    return l->size[kind] - l->busy[kind] - l->promised[kind];
}

bool lanes_all_busy(const engine *e, fn_kind kind)
{
    return e->lanes.busy[kind] >= e->lanes.size[kind];
}

void lanes_publish(engine *e)
{
    for (int k = 0; k < FN_NKINDS; k++)
        slot_set_free(e, (fn_kind)k, e->draining ? 0 : lanes_free(e, (fn_kind)k));
}

void lanes_acquire(engine *e, fn_kind kind)
{
    ENGINE_ASSERT_LOOP();
    e->lanes.busy[kind]++;
    lanes_publish(e);
}

void lanes_release(engine *e, fn_kind kind)
{
    ENGINE_ASSERT_LOOP();
    assert(e->lanes.busy[kind] > 0);
    e->lanes.busy[kind]--;
    e->hooks->lanes_freed(e); /* claims for it, and publishes */
}

void lanes_promise(engine *e, fn_kind kind, int n)
{
    e->lanes.promised[kind] = n;
    lanes_publish(e);
}

void lanes_unpromise(engine *e, fn_kind kind)
{
    e->lanes.promised[kind] = 0;
}

bool lanes_other_free(const engine *e, fn_kind kind)
{
    int n = atomic_load(&e->shm->nslots);
    for (int i = 0; i < n; i++) {
        const shm_worker *s = &e->shm->w[i];
        pid_t pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
        if (pid > 0 && pid != e->pid &&
            atomic_load_explicit(kind == FN_CPU ? &s->free_cpu : &s->free_io,
                                 memory_order_relaxed) > 0)
            return true;
    }
    return false;
}
