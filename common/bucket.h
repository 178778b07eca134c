/*
 * bucket.h - a token bucket: events may come at `rate` per second on
 * average and up to `burst` at once. Each event takes one token; the bucket
 * refills continuously at `rate` tokens per second up to `burst` tokens,
 * and starts full.
 *
 * Used for the requests per second of an API token (auth_rate.h). Pure:
 * the caller passes the time (CLOCK_MONOTONIC milliseconds), so tests drive
 * it. Integer arithmetic in thousandths of a token: no drift, no rounding
 * that lets an extra event through.
 *
 * A plain value the owner embeds; not thread-safe: one thread owns a bucket.
 */
#ifndef CRUNCHD_BUCKET_H
#define CRUNCHD_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

#define BUCKET_MAX 1000000 /* largest rate and burst */

typedef struct bucket {
    int64_t level;   /* thousandths of a token in the bucket: 0 .. cap */
    int64_t cap;     /* burst * 1000 */
    int64_t rate;    /* tokens per second = thousandths per millisecond */
    int64_t last_ms; /* when level was last brought up to date */
} bucket;

/* A full bucket: rate and burst from 1 to BUCKET_MAX (asserted). */
void bucket_init(bucket *b, int rate, int burst, int64_t now_ms);

/*
 * Takes one token at now_ms. Returns true if there was one; false if not,
 * with *retry_ms (may be NULL) set to the milliseconds until there will be
 * one (at least 1). A clock that goes back is taken as standing still.
 */
bool bucket_take(bucket *b, int64_t now_ms, int64_t *retry_ms);

#endif
