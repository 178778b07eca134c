/*
 * auth_rate.c - see auth_rate.h.
 */
#include "auth_rate.h"
#include "bucket.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

struct auth_rate {
    const auth_table *table; /* borrowed */
    bucket *b;               /* one per token, by auth_token_index; unused without rps */
    pthread_t owner;         /* the thread that made the set */
};

auth_rate *auth_rate_new(const auth_table *t, int64_t now_ms)
{
    size_t n = auth_table_count(t);
    auth_rate *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->b = calloc(n ? n : 1, sizeof(*r->b));
    if (!r->b) {
        free(r);
        return NULL;
    }
    r->table = t;
    r->owner = pthread_self();
    for (size_t i = 0; i < n; i++) {
        auth_limits lim = auth_token_limits(auth_table_token(t, i));
        if (lim.rps > 0)
            bucket_init(&r->b[i], lim.rps, lim.burst, now_ms);
    }
    return r;
}

void auth_rate_free(auth_rate *r)
{
    if (!r)
        return;
    assert(pthread_equal(r->owner, pthread_self()));
    free(r->b);
    free(r);
}

bool auth_rate_take(auth_rate *r, const auth_token *tok, int64_t now_ms, int64_t *retry_ms)
{
    size_t i = auth_token_index(tok);
    assert(pthread_equal(r->owner, pthread_self()));
    assert(auth_table_token(r->table, i) == tok); /* a token of this set's table */
    if (auth_token_limits(tok).rps == 0)
        return true;
    return bucket_take(&r->b[i], now_ms, retry_ms);
}
