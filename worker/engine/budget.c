#include "budget.h"
#include "loop.h"

#include <assert.h>
#include <malloc.h>

#define TRIM_AFTER (8 * 1024 * 1024) /* held or noted at least this much since the last trim */

static int64_t limit_of(const engine *e, budget_kind k)
{
    return k == BUDGET_BODY ? e->cfg->limits.max_worker_body_bytes
                            : e->cfg->limits.max_worker_args_bytes;
}

static void held_add(engine *e, budget_kind k, int64_t n)
{
    e->held[k] += n;
    int64_t total = e->held[BUDGET_BODY] + e->held[BUDGET_ARGS];
    if (total > e->held_peak)
        e->held_peak = total;
}

bool budget_take(engine *e, budget_kind k, int64_t n)
{
    ENGINE_ASSERT_LOOP();
    if (n <= 0)
        return true;
    /* A body never exceeds max_body_bytes <= the body budget (config.c), so
     * one always fits; either budget admits one however large when none is
     * held (a reply of stored data can be larger than the body budget). */
    if (e->held[k] + n > limit_of(e, k) && e->held[k] != 0)
        return false;
    held_add(e, k, n);
    return true;
}

void budget_force(engine *e, budget_kind k, int64_t n)
{
    ENGINE_ASSERT_LOOP();
    if (n > 0)
        held_add(e, k, n);
}

void budget_give(engine *e, budget_kind k, int64_t n)
{
    if (n <= 0)
        return;
    assert(e->held[k] >= n);
    e->held[k] -= n;
}

void budget_note(engine *e, int64_t n)
{
    if (n < BUDGET_NOTE_MIN)
        return;
    e->noted += n;
    e->noted_lately = true;
}

void budget_sweep(engine *e)
{
    bool quiet = e->held[BUDGET_BODY] == 0 && e->held[BUDGET_ARGS] == 0 && !e->noted_lately;
    e->noted_lately = false;
    if (quiet && e->held_peak + e->noted >= TRIM_AFTER) {
        malloc_trim(0);
        e->held_peak = 0;
        e->noted = 0;
    }
}
