#include "budget.h"
#include "loop.h"

#include <assert.h>
#include <malloc.h>

#define TRIM_AFTER (8 * 1024 * 1024) /* held or noted at least this much since the last trim */

static int64_t held_of(engine *e, budget_kind k)
{
    return k == BUDGET_BODY ? e->body_held : atomic_load(&e->args.held);
}

static void peak_note(engine *e)
{
    int64_t total = held_of(e, BUDGET_BODY) + held_of(e, BUDGET_ARGS);
    if (total > e->held_peak)
        e->held_peak = total;
}

void budget_init(engine *e)
{
    e->body_held = 0;
    atomic_init(&e->args.held, 0);
    e->args.limit = e->cfg->limits.max_worker_args_bytes;
}

bool budget_take(engine *e, budget_kind k, int64_t n)
{
    ENGINE_ASSERT_LOOP();
    if (n <= 0)
        return true;
    /* A body never exceeds max_body_bytes <= the body budget (config.c), so
     * one always fits; either budget admits one however large when none is
     * held (a reply of stored data can be larger than the body budget). */
    if (k == BUDGET_BODY) {
        if (e->body_held + n > e->cfg->limits.max_worker_body_bytes && e->body_held != 0)
            return false;
        e->body_held += n;
    } else {
        int64_t held = atomic_load(&e->args.held); /* the store thread's claims too */
        do {
            if (held + n > e->args.limit && held != 0)
                return false;
        } while (!atomic_compare_exchange_weak(&e->args.held, &held, held + n));
    }
    peak_note(e);
    return true;
}

void budget_claimed(engine *e)
{
    ENGINE_ASSERT_LOOP();
    peak_note(e);
}

void budget_give(engine *e, budget_kind k, int64_t n)
{
    if (n <= 0)
        return;
    if (k == BUDGET_BODY) {
        assert(e->body_held >= n);
        e->body_held -= n;
    } else {
        int64_t was = atomic_fetch_sub(&e->args.held, n);
        assert(was >= n);
        (void)was;
    }
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
    bool quiet = held_of(e, BUDGET_BODY) == 0 && held_of(e, BUDGET_ARGS) == 0 && !e->noted_lately;
    e->noted_lately = false;
    if (quiet && e->held_peak + e->noted >= TRIM_AFTER) {
        malloc_trim(0);
        e->held_peak = 0;
        e->noted = 0;
    }
}
