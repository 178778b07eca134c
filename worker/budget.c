#include "budget.h"

#include <assert.h>
#include <malloc.h>

#define TRIM_AFTER (8 * 1024 * 1024)  /* budgets held at least this much since the last trim */

static int64_t limit_of(const wctx *w, budget_kind k)
{
    return k == BUDGET_BODY ? w->cfg->limits.max_worker_body_bytes
                            : w->cfg->limits.max_worker_args_bytes;
}

bool budget_take(wctx *w, budget_kind k, int64_t n)
{
    if (n <= 0)
        return true;
    /* A body never exceeds max_body_bytes <= the body budget (config.c), so
     * one always fits; arguments admit one however large when none is held. */
    if (w->held[k] + n > limit_of(w, k) && !(k == BUDGET_ARGS && w->held[k] == 0))
        return false;
    w->held[k] += n;
    int64_t total = w->held[BUDGET_BODY] + w->held[BUDGET_ARGS];
    if (total > w->held_peak)
        w->held_peak = total;
    return true;
}

void budget_give(wctx *w, budget_kind k, int64_t n)
{
    if (n <= 0)
        return;
    assert(w->held[k] >= n);
    w->held[k] -= n;
}

void budget_sweep(wctx *w)
{
    if (w->held[BUDGET_BODY] == 0 && w->held[BUDGET_ARGS] == 0 && w->held_peak >= TRIM_AFTER) {
        malloc_trim(0);
        w->held_peak = 0;
    }
}
