/*
 * deliver.c - callback deliveries of one worker (see deliver.h).
 */
#include "deliver.h"

#include <assert.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "callback.h"
#include "clock.h"
#include "pool.h"
#include "log.h"

struct deliveries {
    pool *threads;        /* the delivery threads */
    config_callbacks cfg; /* copied at init, never written again: delivery threads read it */
    int pending;          /* deliveries alive (queued, running, waiting for a retry) */
    size_t pending_bytes; /* the sum of their bodies */
};

/* One delivery: the body is fixed when the job becomes final. */
typedef struct cb_delivery {
    pool_task task;              /* first: an attempt runs on a delivery thread */
    engine *e;                   /* loop side only (done, retry timer) */
    const config_callbacks *cfg; /* immutable copy (deliveries.cfg) */
    char *body;                  /* owned, from job_dumps */
    size_t len;
    char url[JOB_CALLBACK_MAX + 1];
    char id[JOB_ID_LEN + 1];
    int attempt; /* attempts made */
    int status;  /* of the last attempt; -1 = network error */
    char err[256];
    struct event *retry; /* back-off timer */
} cb_delivery;

int deliver_init(engine *e)
{
    deliveries *cd = calloc(1, sizeof(*cd));
    if (!cd)
        return -1;
    cd->cfg = e->cfg->callbacks;
    cd->threads = pool_new("crunchd-cb", cd->cfg.threads, e->done);
    if (!cd->threads) {
        free(cd);
        return -1;
    }
    e->deliveries = cd;
    return 0;
}

void deliver_release(engine *e)
{
    deliveries *cd = e->deliveries;
    if (!cd)
        return;
    assert(cd->pending == 0);
    pool_free(cd->threads);
    free(cd);
    e->deliveries = NULL;
}

int deliver_pending(const engine *e)
{
    return e->deliveries ? e->deliveries->pending : 0;
}

static void delivery_free(cb_delivery *d)
{
    deliveries *cd = d->e->deliveries;
    cd->pending--;
    cd->pending_bytes -= d->len;
    if (d->retry)
        event_free(d->retry);
    free(d->body);
    free(d);
}

/* One attempt of d under cfg, blocking for at most timeout_ms. Any thread. */
static int attempt(cb_delivery *d, const config_callbacks *cfg, int timeout_ms)
{
    callback_url u;
    callback_msg m = {.body = d->body, .len = d->len, .secret = cfg->secret, .job_id = d->id};
    d->err[0] = '\0';
    if (callback_parse(d->url, &u, d->err, sizeof(d->err)) < 0)
        return -1;
    return callback_post(&u, cfg->allow, cfg->n_allow, &m, timeout_ms, d->err, sizeof(d->err));
}

/* Delivery thread: d and its immutable cfg, nothing of the engine. */
static void attempt_run(pool_task *t)
{
    cb_delivery *d = (cb_delivery *)t;
    d->status = attempt(d, d->cfg, d->cfg->timeout_ms);
}

static void submit(cb_delivery *d)
{
    pool_submit(d->e->deliveries->threads, &d->task);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    submit(arg);
}

/* Loop thread: the delivery ends (delivered or given up). */
static void delivery_end(cb_delivery *d)
{
    engine *e = d->e;
    delivery_free(d);
    engine_idle(e); /* a draining worker may be done now */
}

/* Loop thread: the attempt ended. */
static void attempt_done(pool_task *t)
{
    cb_delivery *d = (cb_delivery *)t;
    d->attempt++;
    if (d->status >= 200 && d->status < 300) {
        delivery_end(d);
        return;
    }
    if (d->attempt > d->cfg->retries) {
        if (d->status > 0)
            log_warn("callback of job %s to %s failed: HTTP %d after %d attempt(s)", d->id, d->url,
                     d->status, d->attempt);
        else
            log_warn("callback of job %s to %s failed: %s after %d attempt(s)", d->id, d->url,
                     d->err, d->attempt);
        delivery_end(d);
        return;
    }
    int64_t ms = callback_backoff_ms(d->attempt);
    struct timeval tv = clock_tv_ms(ms);
    if (!d->retry)
        d->retry = evtimer_new(d->e->base, on_retry, d);
    if (!d->retry || evtimer_add(d->retry, &tv) < 0) {
        log_error("callback of job %s dropped: cannot arm its retry timer", d->id);
        delivery_end(d);
    }
}

/* Loop thread: a new delivery of j, counted as pending; NULL (logged) when
 * it cannot be made or would pass the bounds. */
static cb_delivery *delivery_new(engine *e, const job *j)
{
    deliveries *cd = e->deliveries;
    const config_callbacks *cfg = &cd->cfg;
    cb_delivery *d;
    if (cd->pending >= cfg->max_pending) {
        log_warn("callback of job %s dropped: %d deliveries pending already "
                 "(callbacks.max_pending)",
                 j->id, cd->pending);
        return NULL;
    }
    if (!(d = calloc(1, sizeof(*d))) || !(d->body = job_dumps(j, &d->len))) {
        log_error("callback of job %s dropped: out of memory", j->id);
        free(d);
        return NULL;
    }
    if ((int64_t)d->len > cfg->max_pending_bytes - (int64_t)cd->pending_bytes) {
        log_warn("callback of job %s dropped: its %zu bytes and the %zu pending would pass "
                 "callbacks.max_pending_bytes (%" PRId64 ")",
                 j->id, d->len, cd->pending_bytes, cfg->max_pending_bytes);
        free(d->body);
        free(d);
        return NULL;
    }
    d->e = e;
    d->cfg = cfg;
    d->task.run = attempt_run;
    d->task.done = attempt_done;
    snprintf(d->url, sizeof(d->url), "%s", j->callback);
    snprintf(d->id, sizeof(d->id), "%s", j->id);
    cd->pending++;
    cd->pending_bytes += d->len;
    return d;
}

void deliver_job(engine *e, const job *j)
{
    cb_delivery *d = delivery_new(e, j);
    if (d)
        submit(d);
}

void deliver_now(engine *e, const job *j)
{
    cb_delivery *d = delivery_new(e, j);
    if (!d)
        return;
    int ms = d->cfg->timeout_ms < CALLBACK_LAST_TIMEOUT_MS ? d->cfg->timeout_ms
                                                           : CALLBACK_LAST_TIMEOUT_MS;
    attempt(d, d->cfg, ms);
    delivery_free(d);
}
