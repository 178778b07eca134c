#include "jobs_http.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "buf.h"
#include "callback.h"
#include "fn.h"
#include "handlers.h"
#include "jobs.h"
#include "jobs_list.h"
#include "log.h"
#include "storeq.h"
#include "utf8.h"
#include "wire.h"

#define WAIT_MAX_S 300          /* longest long-poll; longer asks are shortened */
#define RETRIES_MAX 10

/* ---- replies ----------------------------------------------------------- */

/* Replies with the job object; extra header lines may be NULL. */
static void reply_job(conn *c, int status, const job *j, const char *extra)
{
    conn_set_job_id(c, j->id);
    size_t len = 0;
    char *body = job_dumps(j, &len);
    if (!body) {
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    conn_reply(c, status, CT_JSON, body, len, extra);
    free(body);
}

/* 202 for a job still on its way, with where to ask and when. */
static void reply_accepted(conn *c, const job *j)
{
    char extra[160];
    snprintf(extra, sizeof(extra), "Location: " ROUTE_JOBS_PREFIX "%s\r\nRetry-After: %d\r\n", j->id,
             jobs_retry_after_s(conn_worker(c)));
    reply_job(c, 202, j, extra);
}

static void reply_store_error(conn *c, const char *what, const char *err)
{
    log_error("%s failed: %s", what, err);
    conn_reply_error(c, 500, ERR_INTERNAL, "the job store failed; see the server log", NULL);
}

/* A sync call that went through the queue: the reply POST /v1/fn gives. */
static void reply_call(conn *c, const job *j)
{
    fn_status st = FN_TIMEOUT; /* not final when its time was up */
    if (j->state == JOB_SUCCEEDED)
        st = FN_OK;
    else if (j->state == JOB_CANCELLED)
        st = FN_CANCELLED;
    else if (j->state == JOB_FAILED && strcmp(j->error_code, ERR_FUNCTION_ERROR) == 0)
        st = FN_FAILED;
    else if (j->state == JOB_FAILED && strcmp(j->error_code, ERR_TIMEOUT) != 0) {
        conn_reply_error(c, 500, ERR_INTERNAL, j->error_message, NULL); /* worker_lost */
        return;
    }
    handlers_reply_call(c, j->fn, st, j->result, j->run_us, j->cpu_us, j->worker_pid,
                        j->error_message);
}

/* ---- long-polls -------------------------------------------------------- */

typedef enum wait_mode {
    WAIT_GET,    /* GET ?wait=S: 200 with the job, final or not */
    WAIT_SUBMIT, /* POST ?wait=S: 200 if final, else 202 */
    WAIT_CANCEL, /* DELETE of a running job: 200 cancelled, 409 finished otherwise */
    WAIT_CALL,   /* a sync call run as a job: answered as POST /v1/fn answers */
} wait_mode;

typedef struct waiter waiter;
struct waiter {
    wctx *w;
    conn *c;
    char id[JOB_ID_LEN + 1];
    wait_mode mode;
    struct event *timer;
    bool fetching;        /* a SQ_GET is with the store */
    bool refetch;         /* news came while fetching: look again after */
    bool committing;      /* POST ?wait: the job is not in the store yet */
    bool expired;         /* time is up: answer whatever the fetch brings */
    bool cancel_job;      /* WAIT_CALL whose client left while committing: cancel once committed */
    waiter *prev, *next;
    sq_op op;
};

struct waiters {
    waiter *head;
    int n;
};

int waiters_count(const wctx *w) { return w->waiters ? w->waiters->n : 0; }

static void publish_waiters(wctx *w)
{
    if (shm_worker_mine(w->me, w->pid))
        atomic_store(&w->me->waiters, w->waiters->n);
}

/* Counts the long-poll on id in this slot's wait_bins (add +1 or -1). */
static void publish_bin(wctx *w, const char *id, int add)
{
    if (shm_worker_mine(w->me, w->pid))
        atomic_fetch_add(&w->me->wait_bins[shm_wait_bin(id)], (unsigned)add);
}

/* The long-poll waits on another job now (an Idempotency-Key hit). */
static void waiter_set_id(waiter *wt, const char *id)
{
    publish_bin(wt->w, wt->id, -1);
    snprintf(wt->id, sizeof(wt->id), "%s", id);
    publish_bin(wt->w, wt->id, 1);
}

void waiters_start(wctx *w)
{
    if (!shm_worker_mine(w->me, w->pid))
        return;
    for (int i = 0; i < SHM_WAIT_BINS; i++)
        atomic_store(&w->me->wait_bins[i], 0);
}

static void waiter_unlink(waiter *wt)
{
    waiters *ws = wt->w->waiters;
    if (wt->prev)
        wt->prev->next = wt->next;
    else
        ws->head = wt->next;
    if (wt->next)
        wt->next->prev = wt->prev;
    ws->n--;
    publish_waiters(wt->w);
    publish_bin(wt->w, wt->id, -1);
}

/* Answers the long-poll with j and ends it (unless a fetch still refers to it:
 * then the fetch's done frees it). */
static void waiter_answer(waiter *wt, const job *j)
{
    conn *c = wt->c;
    wt->c = NULL;
    waiter_unlink(wt);
    if (wt->timer) {
        event_free(wt->timer);
        wt->timer = NULL;
    }
    switch (wt->mode) {
    case WAIT_GET: reply_job(c, 200, j, NULL); break;
    case WAIT_SUBMIT:
        if (job_state_final(j->state))
            reply_job(c, 200, j, NULL);
        else
            reply_accepted(c, j);
        break;
    case WAIT_CANCEL:
        if (j->state == JOB_CANCELLED)
            reply_job(c, 200, j, NULL);
        else if (job_state_final(j->state))
            conn_reply_error(c, 409, ERR_ALREADY_FINAL, "the job finished before it could be cancelled", NULL);
        else
            reply_job(c, 202, j, NULL); /* still stopping */
        break;
    case WAIT_CALL: reply_call(c, j); break;
    }
    if (!wt->fetching)
        free(wt);
}

static void waiter_fetch(waiter *wt);

/* Ends a long-poll without answering it; returns its connection. */
static conn *waiter_end(waiter *wt)
{
    conn *c = wt->c;
    waiter_unlink(wt);
    if (wt->timer)
        event_free(wt->timer);
    free(wt);
    return c;
}

static void waiter_fetched(sq_op *op)
{
    waiter *wt = op->arg;
    int rc = op->rc;
    bool found = op->flag;
    char err[sizeof(op->err)];
    memcpy(err, op->err, sizeof(err));
    job j = op->j; /* moved out: the op is done with */
    job_init(&op->j);
    sq_op_release(op);
    wt->fetching = false;
    if (!wt->c) /* answered while the fetch ran */
        free(wt);
    else if (rc < 0)
        reply_store_error(waiter_end(wt), "reading a job", err);
    else if (!found) /* purged while we waited */
        conn_reply_error(waiter_end(wt), 404, ERR_NOT_FOUND, "no such job", NULL);
    else if (job_state_final(j.state) || wt->expired)
        waiter_answer(wt, &j);
    else if (wt->refetch)
        waiter_fetch(wt); /* the news may be newer than what we read */
    job_release(&j);
}

static void waiter_fetch(waiter *wt)
{
    if (wt->fetching || wt->committing) {
        wt->refetch = true;
        return;
    }
    wt->fetching = true;
    wt->refetch = false;
    sq_op_init(&wt->op, SQ_GET, waiter_fetched, wt);
    snprintf(wt->op.id, sizeof(wt->op.id), "%s", wt->id);
    storeq_push(wt->w->sq, &wt->op);
}

static void waiter_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    waiter *wt = arg;
    wt->expired = true;
    waiter_fetch(wt);
}

static void cancel_job(wctx *w, const char *id);

/* The client left: a sync call run as a job is cancelled (nobody waits for
 * it); a long-poll just ends (the job goes on). An op in flight (a fetch or
 * the submission's commit) ends it when it comes back. */
static void waiter_gone(void *arg)
{
    waiter *wt = arg;
    wt->expired = true;
    if (wt->mode == WAIT_CALL) {
        if (wt->committing)
            wt->cancel_job = true;
        else
            cancel_job(wt->w, wt->id);
    }
    if (!wt->fetching && !wt->committing)
        conn_drop(waiter_end(wt));
}

/* Holds the request until job id is final or wait_ms pass; NULL after
 * replying 500. */
static waiter *waiter_new(conn *c, const char *id, wait_mode mode, int64_t wait_ms)
{
    wctx *w = conn_worker(c);
    waiter *wt = calloc(1, sizeof(*wt));
    if (!wt) {
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
        return NULL;
    }
    wt->w = w;
    wt->c = c;
    wt->mode = mode;
    snprintf(wt->id, sizeof(wt->id), "%s", id);
    wt->timer = evtimer_new(w->base, waiter_on_timeout, wt);
    struct timeval tv = {(time_t)(wait_ms / 1000), (suseconds_t)(wait_ms % 1000) * 1000};
    if (wt->timer)
        evtimer_add(wt->timer, &tv);
    wt->next = w->waiters->head;
    if (wt->next)
        wt->next->prev = wt;
    w->waiters->head = wt;
    w->waiters->n++;
    publish_waiters(w);
    publish_bin(w, wt->id, 1);
    conn_defer(c, waiter_gone, wt);
    return wt;
}

/* For a job already in the store. */
static void waiter_start(conn *c, const char *id, wait_mode mode, int64_t wait_ms)
{
    waiter *wt = waiter_new(c, id, mode, wait_ms);
    /* The job may have ended between our read and the slot saying we wait:
     * one more look closes that gap (finishers commit, then read slots). */
    if (wt)
        waiter_fetch(wt);
}

void waiters_job_final(wctx *w, const job *j)
{
    waiter *wt = w->waiters->head;
    while (wt) {
        waiter *next = wt->next;
        if (strcmp(wt->id, j->id) != 0)
            ;
        else if (wt->committing)
            wt->refetch = true; /* answered once the submission is done */
        else
            waiter_answer(wt, j);
        wt = next;
    }
}

void waiters_job_changed(wctx *w, const char *id)
{
    for (waiter *wt = w->waiters->head; wt; wt = wt->next)
        if (strcmp(wt->id, id) == 0)
            waiter_fetch(wt);
}

void waiters_refetch_all(wctx *w)
{
    for (waiter *wt = w->waiters->head; wt; wt = wt->next)
        waiter_fetch(wt);
}

void waiters_drain(wctx *w)
{
    for (waiter *wt = w->waiters->head; wt; wt = wt->next) {
        wt->expired = true;
        waiter_fetch(wt);
    }
}

int waiters_init(wctx *w)
{
    w->waiters = calloc(1, sizeof(*w->waiters));
    return w->waiters ? 0 : -1;
}

void waiters_release(wctx *w)
{
    free(w->waiters);
    w->waiters = NULL;
}

/* ---- request parameters ------------------------------------------------ */

int64_t jobs_http_parse_uint(http_slice v, int64_t max)
{
    if (v.n == 0 || v.n > 18)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -1;
        x = x * 10 + (v.p[i] - '0');
    }
    return x > max ? -1 : x;
}

/* ?wait=S, or for a submission also "Prefer: wait=S" (RFC 7240; a malformed
 * preference is ignored, as preferences may be). Returns ms, 0 for none, -1
 * after replying 400. */
static int64_t wait_ms_of(conn *c, const http_request *req, bool prefer_ok)
{
    char vbuf[HANDLERS_QUERY_MAX];
    http_slice v;
    int found = handlers_query(c, req, "wait", vbuf, &v);
    if (found < 0)
        return -1;
    if (found) {
        int64_t s = jobs_http_parse_uint(v, 1000000);
        if (s < 0) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS, "wait: must be a whole number of seconds", "wait");
            return -1;
        }
        return (s > WAIT_MAX_S ? WAIT_MAX_S : s) * 1000;
    }
    const http_slice *pref = prefer_ok ? http_request_header(req, "Prefer") : NULL;
    if (!pref)
        return 0;
    for (size_t i = 0; i + 5 <= pref->n; i++) {
        if (strncasecmp(pref->p + i, "wait=", 5) == 0 && (i == 0 || pref->p[i - 1] == ' ' ||
                                                          pref->p[i - 1] == ',' || pref->p[i - 1] == ';')) {
            http_slice num = {pref->p + i + 5, 0};
            while (i + 5 + num.n < pref->n && pref->p[i + 5 + num.n] >= '0' && pref->p[i + 5 + num.n] <= '9')
                num.n++;
            int64_t s = jobs_http_parse_uint(num, 1000000);
            return s < 0 ? 0 : (s > WAIT_MAX_S ? WAIT_MAX_S : s) * 1000;
        }
    }
    return 0;
}

/* The id of /v1/jobs/{id}; replies 404 and returns false for anything that
 * cannot be an id (so the store is not asked). */
static bool job_id_of(conn *c, const http_request *req, char out[JOB_ID_LEN + 1])
{
    size_t pre = strlen(ROUTE_JOBS_PREFIX);
    const char *p = req->path.p + pre;
    size_t n = req->path.n - pre;
    if (!job_id_valid(p, n)) {
        conn_reply_error(c, 404, ERR_NOT_FOUND, "no such job", NULL);
        return false;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* ---- POST /v1/jobs ----------------------------------------------------- */

typedef struct submit_req {
    sq_op op;       /* first */
    wctx *w;
    conn *c;        /* may be gone (replied and closed) by the time sr is freed */
    waiter *wt;     /* ?wait: registered before the commit, so no finisher misses it */
    int64_t charged; /* BUDGET_ARGS taken for the job's args until the commit */
} submit_req;

static void submit_free(submit_req *sr)
{
    budget_give(sr->w, BUDGET_ARGS, sr->charged);
    sq_op_release(&sr->op);
    free(sr);
}

/* An Idempotency-Key sent again with another request (fn, args, timeout_ms,
 * retries or callback): 422, as draft-ietf-httpapi-idempotency-key-header
 * asks, rather than the old job for a request it does not answer. */
static void reply_key_reused(conn *c)
{
    conn_reply_error(c, 422, ERR_IDEMPOTENCY_KEY_REUSED,
                     "Idempotency-Key was already used for another request (fn, args, timeout_ms, "
                     "retries or callback differ)",
                     "Idempotency-Key");
}

/* The submission with a wait committed (or failed). */
static void submit_waited(submit_req *sr)
{
    waiter *wt = sr->wt;
    sq_op *op = &sr->op;
    wt->committing = false;
    if (op->rc < 0) {
        reply_store_error(waiter_end(wt), "queueing a job", op->err);
        return;
    }
    if (op->conflict) {
        reply_key_reused(waiter_end(wt));
        return;
    }
    if (op->flag) /* Idempotency-Key seen before: wait on that job instead */
        waiter_set_id(wt, op->j.id);
    else if (!op->claimed)
        jobs_queued(sr->w, op->j.kind);
    if (wt->cancel_job)
        cancel_job(wt->w, wt->id);
    if (op->flag || wt->refetch || wt->expired)
        waiter_fetch(wt);
}

static void submit_done(sq_op *op)
{
    submit_req *sr = (submit_req *)op;
    conn *c = sr->c;
    if (sr->wt) {
        submit_waited(sr);
    } else if (op->rc < 0) {
        reply_store_error(c, "queueing a job", op->err);
    } else if (op->conflict) {
        reply_key_reused(c);
    } else if (op->flag) { /* Idempotency-Key seen before: the same job */
        if (job_state_final(op->j.state))
            reply_job(c, 200, &op->j, NULL);
        else
            reply_accepted(c, &op->j);
    } else {
        if (!op->claimed)
            jobs_queued(sr->w, op->j.kind);
        reply_accepted(c, &op->j);
    }
    submit_free(sr);
}

/* Reads one optional integer field in [min, max]; -1 after replying 400. */
static int get_int_field(conn *c, json_t *body, const char *key, int64_t min, int64_t max,
                         int64_t *out)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return 0;
    char msg[128];
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(msg, sizeof(msg), "%s: must be an integer from %lld to %lld", key, (long long)min,
                 (long long)max);
        conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, key);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* Checks the submission's fields (not the function's arguments). Returns the
 * function or NULL after replying. */
static const fn_desc *submit_fields(conn *c, json_t *body)
{
    static const char *const known[] = {"fn", "args", "timeout_ms", "callback", "retries"};
    const char *key;
    json_t *v;
    char msg[256];
    json_object_foreach(body, key, v)
    {
        size_t i = 0;
        while (i < sizeof(known) / sizeof(known[0]) && strcmp(key, known[i]) != 0)
            i++;
        if (i == sizeof(known) / sizeof(known[0])) {
            char echo[UTF8_ECHO_SIZE];
            utf8_echo(echo, key, strlen(key));
            snprintf(msg, sizeof(msg), "%s: unknown field", echo);
            conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, echo);
            return NULL;
        }
    }
    json_t *fn = json_object_get(body, "fn");
    if (!json_is_string(fn)) {
        conn_reply_error(c, 400, ERR_INVALID_ARGS, "fn: required, a function name", "fn");
        return NULL;
    }
    const char *name = json_string_value(fn);
    const fn_desc *d = fn_find(name, json_string_length(fn), conn_worker(c)->cfg->debug_functions);
    if (!d) {
        char echo[UTF8_ECHO_SIZE];
        snprintf(msg, sizeof(msg), "no function named \"%s\"",
                 utf8_echo(echo, name, json_string_length(fn)));
        conn_reply_error(c, 404, ERR_UNKNOWN_FUNCTION, msg, NULL);
    }
    return d;
}

/* Fills the job from the body; -1 after replying 400. */
static int submit_job(conn *c, const http_request *req, json_t *body, const fn_desc *fn, job *j)
{
    const config *cfg = conn_worker(c)->cfg;
    char bad[UTF8_ECHO_SIZE], msg[256];
    json_t *args = json_object_get(body, "args");
    if (fn_validate(fn, args, &j->args, bad, sizeof(bad), msg, sizeof(msg)) < 0) {
        conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, bad[0] ? bad : "args");
        return -1;
    }
    int64_t timeout = cfg->jobs.default_timeout_ms, retries = 0;
    if (get_int_field(c, body, "timeout_ms", 1, cfg->jobs.max_timeout_ms, &timeout) < 0 ||
        get_int_field(c, body, "retries", 0, RETRIES_MAX, &retries) < 0)
        return -1;
    json_t *cb = json_object_get(body, "callback");
    if (cb && !json_is_null(cb)) {
        if (!json_is_string(cb) || json_string_length(cb) > JOB_CALLBACK_MAX) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS, "callback: expected an http:// URL", "callback");
            return -1;
        }
        if (callback_check(json_string_value(cb), cfg->callbacks.allow, cfg->callbacks.n_allow,
                           msg, sizeof(msg)) < 0) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, "callback");
            return -1;
        }
        snprintf(j->callback, sizeof(j->callback), "%s", json_string_value(cb));
    }
    const http_slice *key = http_request_header(req, "Idempotency-Key");
    if (key) {
        bool ok = key->n > 0 && key->n <= JOB_IDEM_KEY_MAX;
        for (size_t i = 0; ok && i < key->n; i++)
            ok = key->p[i] > 0x20 && key->p[i] < 0x7f;
        if (!ok) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS,
                             "Idempotency-Key: 1 to 255 printable ASCII characters", "Idempotency-Key");
            return -1;
        }
        memcpy(j->idem_key, key->p, key->n);
        j->idem_key[key->n] = '\0';
    }
    snprintf(j->fn, sizeof(j->fn), "%s", fn->name);
    j->kind = fn->kind;
    j->timeout_ms = timeout;
    j->retries = (int)retries;
    return 0;
}

static void handle_submit(conn *c, const http_request *req, const char *body, size_t len)
{
    wctx *w = conn_worker(c);
    if (!handlers_content_type_ok(req)) {
        conn_reply_error(c, 415, ERR_UNSUPPORTED_MEDIA, "Content-Type must be application/json", NULL);
        return;
    }
    int64_t wait_ms = wait_ms_of(c, req, true);
    if (wait_ms < 0)
        return;
    int64_t mem;
    json_t *doc = handlers_parse_body(c, body, len, &mem);
    if (!doc)
        return;
    const fn_desc *fn = NULL;
    if (!json_is_object(doc))
        conn_reply_error(c, 400, ERR_BAD_JSON, "the body must be a JSON object", NULL);
    else
        fn = submit_fields(c, doc);
    submit_req *sr = fn ? calloc(1, sizeof(*sr)) : NULL;
    if (fn && !sr)
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
    if (!sr) {
        json_decref(doc);
        budget_give(w, BUDGET_ARGS, mem);
        return;
    }
    sr->w = w;
    sr->c = c;
    sr->charged = mem;
    sq_op_init(&sr->op, SQ_SUBMIT, submit_done, sr);
    int rc = submit_job(c, req, doc, fn, &sr->op.j);
    json_decref(doc);
    if (rc < 0) {
        submit_free(sr);
        return;
    }
    if (atomic_load(&w->shm->jobs.queued) >= w->cfg->limits.max_queue) {
        char extra[64];
        snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", jobs_retry_after_s(w));
        conn_reply_error_hdr(c, 429, ERR_QUEUE_FULL,
                             "limits.max_queue jobs are queued; try again later", NULL, extra);
        submit_free(sr);
        return;
    }
    if (wait_ms > 0) {
        /* The id is ours to choose (the store keeps a valid one), so the
         * long-poll can be in place before the job exists. */
        if (job_new_id(sr->op.j.id) < 0 || !(sr->wt = waiter_new(c, sr->op.j.id, WAIT_SUBMIT, wait_ms))) {
            if (sr->op.j.id[0] == '\0') /* else waiter_new replied */
                conn_reply_error(c, 500, ERR_INTERNAL, "no randomness for a job id", NULL);
            submit_free(sr);
            return;
        }
        sr->wt->committing = true;
    } else {
        conn_defer(c, NULL, NULL); /* the job is queued whether or not the client stays */
    }
    jobs_submitting(w, sr->op.j.kind);
    storeq_push(w->sq, &sr->op);
}

void jobs_http_offload(conn *c, const fn_desc *fn, json_t *args, int64_t timeout_ms, int64_t mem)
{
    wctx *w = conn_worker(c);
    submit_req *sr = calloc(1, sizeof(*sr));
    if (!sr) {
        json_decref(args);
        budget_give(w, BUDGET_ARGS, mem);
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    sr->w = w;
    sr->c = c;
    sr->charged = mem;
    sq_op_init(&sr->op, SQ_SUBMIT, submit_done, sr);
    job *j = &sr->op.j;
    j->args = args;
    snprintf(j->fn, sizeof(j->fn), "%s", fn->name);
    j->kind = fn->kind;
    j->timeout_ms = timeout_ms;
    /* Waits a little past the job's own deadline, so the job's outcome
     * (a timeout included) is what the client sees. */
    int64_t wait_ms = timeout_ms + w->cfg->jobs.cancel_grace_ms + 1000;
    if (job_new_id(j->id) < 0 || !(sr->wt = waiter_new(c, j->id, WAIT_CALL, wait_ms))) {
        if (j->id[0] == '\0') /* else waiter_new replied */
            conn_reply_error(c, 500, ERR_INTERNAL, "no randomness for a job id", NULL);
        submit_free(sr);
        return;
    }
    sr->wt->committing = true;
    storeq_push(w->sq, &sr->op);
}

/* ---- GET and DELETE /v1/jobs/{id} ------------------------------------- */

typedef struct conn_op {
    sq_op op; /* first */
    conn *c;
    int64_t wait_ms;
} conn_op;

void jobs_http_collection(conn *c, const http_request *req, const char *body, size_t len)
{
    if (req->method == HTTP_POST)
        handle_submit(c, req, body, len);
    else
        jobs_list_handle(c, req);
}

static void get_done(sq_op *op)
{
    conn_op *co = (conn_op *)op;
    if (op->rc < 0)
        reply_store_error(co->c, "reading a job", op->err);
    else if (!op->flag)
        conn_reply_error(co->c, 404, ERR_NOT_FOUND, "no such job", NULL);
    else if (co->wait_ms > 0 && !job_state_final(op->j.state))
        waiter_start(co->c, op->j.id, WAIT_GET, co->wait_ms);
    else
        reply_job(co->c, 200, &op->j, NULL);
    sq_op_release(op);
    free(co);
}

/* What a committed cancel (op, SQ_CANCEL that found its job) sets off
 * besides the reply: a queued job is final now; a running one is asked to
 * stop by its worker. */
static void cancel_applied(wctx *w, const sq_op *op)
{
    if (op->before == JOB_QUEUED) {
        atomic_fetch_sub(&w->shm->jobs.queued, 1);
        jobs_final(w, &op->j, true);
    } else if (!job_state_final(op->before)) {
        jobs_cancel_running(w, op->j.id, op->j.worker_pid);
    }
}

static void cancel_job_done(sq_op *op)
{
    if (op->rc < 0)
        log_error("cancelling job %s failed: %s", op->id, op->err);
    else if (op->flag)
        cancel_applied(op->arg, op);
    sq_op_release(op);
    free(op);
}

/* Cancels job id with no client waiting for the answer. */
static void cancel_job(wctx *w, const char *id)
{
    sq_op *op = malloc(sizeof(*op));
    if (!op)
        return;
    sq_op_init(op, SQ_CANCEL, cancel_job_done, w);
    snprintf(op->id, sizeof(op->id), "%s", id);
    storeq_push(w->sq, op);
}

static void cancel_done(sq_op *op)
{
    conn_op *co = (conn_op *)op;
    wctx *w = conn_worker(co->c);
    job *j = &op->j;
    if (op->rc < 0) {
        reply_store_error(co->c, "cancelling a job", op->err);
    } else if (!op->flag) {
        conn_reply_error(co->c, 404, ERR_NOT_FOUND, "no such job", NULL);
    } else if (job_state_final(op->before)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the job is already %s", job_state_name(op->before));
        conn_reply_error(co->c, 409, ERR_ALREADY_FINAL, msg, NULL);
    } else if (op->before == JOB_QUEUED) {
        reply_job(co->c, 200, j, NULL);
        cancel_applied(w, op);
    } else {
        /* Running: ask its worker to stop; answer when it has, or when the
         * grace period (and the kill that follows it) is over. */
        cancel_applied(w, op);
        waiter_start(co->c, j->id, WAIT_CANCEL, w->cfg->jobs.cancel_grace_ms + 1500);
    }
    sq_op_release(op);
    free(co);
}

void jobs_http_item(conn *c, const http_request *req, const char *body, size_t len)
{
    char id[JOB_ID_LEN + 1];
    if (!job_id_of(c, req, id))
        return;
    bool del = req->method == HTTP_DELETE;
    int64_t wait_ms = del ? 0 : wait_ms_of(c, req, false);
    if (wait_ms < 0)
        return;
    conn_op *co = calloc(1, sizeof(*co));
    if (!co) {
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    sq_op_init(&co->op, del ? SQ_CANCEL : SQ_GET, del ? cancel_done : get_done, co);
    snprintf(co->op.id, sizeof(co->op.id), "%s", id);
    co->c = c;
    co->wait_ms = wait_ms;
    conn_defer(c, NULL, NULL);
    storeq_push(conn_worker(c)->sq, &co->op);
}
