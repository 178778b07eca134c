#include "callback_deliver.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "callback.h"
#include "jobs.h"
#include "log.h"

#define CALLBACK_TIMEOUT_MS 5000
#define CALLBACK_LAST_TIMEOUT_MS 2000

/* One delivery: the body is fixed when the job becomes final. */
typedef struct cb_delivery {
    pool_task task;          /* first: an attempt runs on the io pool */
    wctx *w;
    char *body;              /* owned, from job_dumps */
    size_t len;
    char url[JOB_CALLBACK_MAX + 1];
    char id[JOB_ID_LEN + 1];
    char signature[CALLBACK_SIG_SIZE];
    int attempt;             /* attempts made */
    int status;              /* of the last attempt; -1 = network error */
    char err[256];
    struct event *retry;     /* back-off timer */
} cb_delivery;

static int pending; /* loop thread only */

int callback_pending(void) { return pending; }

static void delivery_free(cb_delivery *d)
{
    if (d->retry)
        event_free(d->retry);
    free(d->body);
    free(d);
    pending--;
}

/* io pool thread: one blocking attempt. */
static void attempt_run(pool_task *t)
{
    cb_delivery *d = (cb_delivery *)t;
    const config_callbacks *cb = &d->w->cfg->callbacks;
    callback_url u;
    d->err[0] = '\0';
    if (callback_parse(d->url, &u, d->err, sizeof(d->err)) < 0) {
        d->status = -1;
        return;
    }
    d->status = callback_post(&u, cb->allow, cb->n_allow, d->body, d->len, d->signature, d->id,
                              CALLBACK_TIMEOUT_MS, d->err, sizeof(d->err));
}

static void attempt_done(pool_task *t);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    cb_delivery *d = arg;
    d->w->busy_io++;
    pool_submit(d->w->io, &d->task);
}

/* Loop thread: the attempt ended. */
static void attempt_done(pool_task *t)
{
    cb_delivery *d = (cb_delivery *)t;
    wctx *w = d->w;
    w->busy_io--;
    d->attempt++;
    if (d->status >= 200 && d->status < 300) {
        delivery_free(d);
    } else if (d->attempt > w->cfg->callbacks.retries) {
        if (d->status > 0)
            log_warn("callback of job %s to %s failed: HTTP %d after %d attempt(s)", d->id, d->url,
                     d->status, d->attempt);
        else
            log_warn("callback of job %s to %s failed: %s after %d attempt(s)", d->id, d->url,
                     d->err, d->attempt);
        delivery_free(d);
    } else {
        int64_t ms = callback_backoff_ms(d->attempt);
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
        if (!d->retry)
            d->retry = evtimer_new(w->base, on_retry, d);
        if (d->retry)
            evtimer_add(d->retry, &tv);
        else
            delivery_free(d);
    }
    jobs_lane_freed(w);
}

static cb_delivery *delivery_new(wctx *w, const job *j)
{
    cb_delivery *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->body = job_dumps(j, &d->len);
    if (!d->body) {
        free(d);
        return NULL;
    }
    d->w = w;
    d->task.run = attempt_run;
    d->task.done = attempt_done;
    snprintf(d->url, sizeof(d->url), "%s", j->callback);
    snprintf(d->id, sizeof(d->id), "%s", j->id);
    callback_sign(w->cfg->callbacks.secret, d->body, d->len, d->signature, sizeof(d->signature));
    pending++;
    return d;
}

void callback_deliver(wctx *w, const job *j)
{
    cb_delivery *d = delivery_new(w, j);
    if (!d) {
        log_error("callback of job %s dropped: out of memory", j->id);
        return;
    }
    w->busy_io++;
    pool_submit(w->io, &d->task);
}

void callback_deliver_now(wctx *w, const job *j)
{
    cb_delivery *d = delivery_new(w, j);
    if (!d)
        return;
    callback_url u;
    const config_callbacks *cb = &w->cfg->callbacks;
    if (callback_parse(d->url, &u, d->err, sizeof(d->err)) == 0)
        callback_post(&u, cb->allow, cb->n_allow, d->body, d->len, d->signature, d->id,
                      CALLBACK_LAST_TIMEOUT_MS, d->err, sizeof(d->err));
    delivery_free(d);
}
