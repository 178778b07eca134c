/*
 * callback_deliver.c - callback deliveries of one worker (see callback_deliver.h).
 */
#include "callback_deliver.h"

#include <assert.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "callback.h"
#include "log.h"

struct callback_deliveries {
    pool *threads;        /* the delivery threads */
    config_callbacks cfg; /* copied at init, never written again: delivery threads read it */
    int pending;          /* deliveries alive (queued, running, waiting for a retry) */
    size_t pending_bytes; /* the sum of their bodies */
};

/* One delivery: the body is fixed when the job becomes final. */
typedef struct cb_delivery {
    pool_task task;              /* first: an attempt runs on a delivery thread */
    wctx *w;                     /* loop side only (done, retry timer) */
    const config_callbacks *cfg; /* immutable copy (callback_deliveries.cfg) */
    char *body;                  /* owned, from job_dumps */
    size_t len;
    char url[JOB_CALLBACK_MAX + 1];
    char id[JOB_ID_LEN + 1];
    int attempt; /* attempts made */
    int status;  /* of the last attempt; -1 = network error */
    char err[256];
    struct event *retry; /* back-off timer */
} cb_delivery;

int callback_deliver_init(wctx *w)
{
    callback_deliveries *cd = calloc(1, sizeof(*cd));
    if (!cd)
        return -1;
    cd->cfg = w->cfg->callbacks;
    cd->threads = pool_new("crunchd-cb", cd->cfg.threads, w->done);
    if (!cd->threads) {
        free(cd);
        return -1;
    }
    w->cbd = cd;
    return 0;
}

void callback_deliver_release(wctx *w)
{
    callback_deliveries *cd = w->cbd;
    if (!cd)
        return;
    assert(cd->pending == 0);
    pool_free(cd->threads);
    free(cd);
    w->cbd = NULL;
}

int callback_deliver_pending(const wctx *w)
{
    return w->cbd ? w->cbd->pending : 0;
}

static void delivery_free(cb_delivery *d)
{
    callback_deliveries *cd = d->w->cbd;
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

/* Delivery thread: d and its immutable cfg, nothing of the wctx. */
static void attempt_run(pool_task *t)
{
    cb_delivery *d = (cb_delivery *)t;
    d->status = attempt(d, d->cfg, d->cfg->timeout_ms);
}

static void submit(cb_delivery *d)
{
    pool_submit(d->w->cbd->threads, &d->task);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    submit(arg);
}

/* Loop thread: the delivery ends (delivered or given up). */
static void delivery_end(cb_delivery *d)
{
    wctx *w = d->w;
    delivery_free(d);
    worker_conn_closed(w); /* a draining worker may be done now */
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
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    if (!d->retry)
        d->retry = evtimer_new(d->w->base, on_retry, d);
    if (!d->retry || evtimer_add(d->retry, &tv) < 0) {
        log_error("callback of job %s dropped: cannot arm its retry timer", d->id);
        delivery_end(d);
    }
}

/* Loop thread: a new delivery of j, counted as pending; NULL (logged) when
 * it cannot be made or would pass the bounds. */
static cb_delivery *delivery_new(wctx *w, const job *j)
{
    callback_deliveries *cd = w->cbd;
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
    d->w = w;
    d->cfg = cfg;
    d->task.run = attempt_run;
    d->task.done = attempt_done;
    snprintf(d->url, sizeof(d->url), "%s", j->callback);
    snprintf(d->id, sizeof(d->id), "%s", j->id);
    cd->pending++;
    cd->pending_bytes += d->len;
    return d;
}

void callback_deliver(wctx *w, const job *j)
{
    cb_delivery *d = delivery_new(w, j);
    if (d)
        submit(d);
}

void callback_deliver_now(wctx *w, const job *j)
{
    cb_delivery *d = delivery_new(w, j);
    if (!d)
        return;
    int ms = d->cfg->timeout_ms < CALLBACK_LAST_TIMEOUT_MS ? d->cfg->timeout_ms
                                                           : CALLBACK_LAST_TIMEOUT_MS;
    attempt(d, d->cfg, ms);
    delivery_free(d);
}
