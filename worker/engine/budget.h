/*
 * budget.h - how much memory one worker lets requests hold at a time.
 *
 * Two budgets, both per worker (DESIGN.md section 9: every buffer and queue
 * is bounded in bytes):
 *   BUDGET_BODY  request bodies held: from the head that announces one (or,
 *                chunked, as it arrives) until the request is answered.
 *                limits.max_worker_body_bytes (4 x max_body_bytes by
 *                default), so a flood of large uploads cannot fill memory;
 *                past it a request gets 503 busy before its body is read.
 *   BUDGET_ARGS  estimated memory of parsed arguments of calls and
 *                submissions held (queued for a lane, running, or being
 *                committed). Parsed JSON is larger than its text: a number
 *                in an array costs ~48 bytes as a jansson value
 *                (BUDGET_VALUE_COST). limits.max_worker_args_bytes; past it a
 *                call or submission gets 503 busy. One is always admitted
 *                when none is held, so a single maximal request still runs.
 *
 * After a burst, budget_sweep() gives freed heap back to the kernel
 * (malloc_trim), which glibc keeps otherwise (workers set M_TRIM_THRESHOLD
 * high so the store thread does not churn pages on every transaction).
 *
 * Loop thread only: the counters live in the engine and are plain integers.
 */
#ifndef CRUNCHD_BUDGET_H
#define CRUNCHD_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

/* Takes n bytes of budget k; false (and nothing taken) when that would pass
 * its limit. n <= 0 always succeeds. */
bool budget_take(engine *e, budget_kind k, int64_t n);

/* Gives back n bytes taken from k. */
void budget_give(engine *e, budget_kind k, int64_t n);

/* What parsed JSON costs per value, on top of its text: a jansson value,
 * its slot in an array or object, malloc's overhead. */
#define BUDGET_VALUE_COST 48

/* Once a second: after a burst (the budgets were held high and are empty
 * now), return free heap to the kernel. */
void budget_sweep(engine *e);

#endif
