/*
 * bucket.c - see bucket.h.
 */
#include "bucket.h"

#include <assert.h>

#define MILLI 1000 /* a token, in the bucket's unit */

void bucket_init(bucket *b, int rate, int burst, int64_t now_ms)
{
    assert(rate >= 1 && rate <= BUCKET_MAX);
    assert(burst >= 1 && burst <= BUCKET_MAX);
    b->rate = rate;
    b->cap = (int64_t)burst * MILLI;
    b->level = b->cap;
    b->last_ms = now_ms;
}

/* Adds what flowed in since last_ms. The elapsed time is capped at what
 * fills the bucket, so elapsed * rate cannot overflow. */
static void refill(bucket *b, int64_t now_ms)
{
    if (now_ms <= b->last_ms)
        return;
    int64_t elapsed = now_ms - b->last_ms;
    int64_t to_full = (b->cap - b->level + b->rate - 1) / b->rate;
    b->level = elapsed >= to_full ? b->cap : b->level + elapsed * b->rate;
    b->last_ms = now_ms;
}

bool bucket_take(bucket *b, int64_t now_ms, int64_t *retry_ms)
{
    refill(b, now_ms);
    if (b->level >= MILLI) {
        b->level -= MILLI;
        return true;
    }
    if (retry_ms)
        *retry_ms = (MILLI - b->level + b->rate - 1) / b->rate;
    return false;
}
