/*
 * auth_rate.h - the requests per second of each API token (the rps= and
 * burst= of its tokens-file line): one token bucket (bucket.h) per token
 * that has a limit.
 *
 * Per worker: each worker holds its own set for the table it was started
 * with, so the limit holds per worker (a token whose connections spread
 * over N workers may reach N x rps in all). A new table (a reload) comes
 * with new workers and so with new, full buckets.
 *
 * Thread rules: a set belongs to the thread that made it (the worker's loop
 * thread); asserted in debug builds. It borrows the table, which must
 * outlive it.
 */
#ifndef CRUNCHD_AUTH_RATE_H
#define CRUNCHD_AUTH_RATE_H

#include "auth.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct auth_rate auth_rate;

/* Full buckets for every token of t with an rps limit (t may be NULL or
 * empty). Returns a new set, or NULL if memory runs out. */
auth_rate *auth_rate_new(const auth_table *t, int64_t now_ms);

/* Frees r. NULL is ignored. */
void auth_rate_free(auth_rate *r);

/*
 * One request of tok (a token of r's table) at now_ms (CLOCK_MONOTONIC
 * milliseconds). Returns true if it may go on (always, for a token without
 * rps); false if the token is over its rate, with *retry_ms (may be NULL)
 * the milliseconds until it may send again (at least 1: round up to whole
 * seconds for Retry-After).
 */
bool auth_rate_take(auth_rate *r, const auth_token *tok, int64_t now_ms, int64_t *retry_ms);

#endif
