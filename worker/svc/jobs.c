#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "callback.h"
#include "claims.h"
#include "figures.h"
#include "jobrun.h"
#include "log.h"
#include "storeq.h"
#include "utf8.h"
#include "waiters.h"
#include "wire.h"

typedef enum op_mode {
    MODE_SUBMIT, /* answered with the job (final within the wait, or on its way) */
    MODE_GET,    /* answered with the job, final or not */
    MODE_CANCEL, /* answered cancelled, already final, or still stopping */
    MODE_CALL,   /* a sync call through the queue */
} op_mode;

struct jobs_op {
    engine *e;
    op_mode mode;
    jobs_done_fn *done; /* NULL once abandoned */
    void *arg;
    int64_t wait_ms;
    int64_t held;  /* BUDGET_ARGS for a submission's args, until committed */
    bool in_store; /* sq is with the store */
    waiter *w;     /* the long-poll, while one runs */
    bool all;      /* the caller's (svc_caller) */
    bool show_owner;
    char owner[JOB_OWNER_MAX + 1];
    sq_op sq;
};

static jobs_op *op_new(engine *e, op_mode mode, const svc_caller *who, jobs_done_fn *done,
                       void *arg)
{
    jobs_op *op = calloc(1, sizeof(*op));
    if (!op) {
        jobs_result r = {.status = SVC_INTERNAL, .message = "out of memory"};
        done(arg, &r);
        return NULL;
    }
    op->e = e;
    op->mode = mode;
    op->done = done;
    op->arg = arg;
    op->all = who->all;
    op->show_owner = who->show_owner;
    snprintf(op->owner, sizeof(op->owner), "%s", who->owner);
    return op;
}

static void op_free(jobs_op *op)
{
    budget_give(op->e, BUDGET_ARGS, op->held);
    sq_op_release(&op->sq);
    free(op);
}

/* Answers (unless abandoned) and ends the op. */
static void op_answer(jobs_op *op, const jobs_result *r)
{
    if (op->done)
        op->done(op->arg, r);
    op_free(op);
}

static void op_fail(jobs_op *op, svc_status st, const char *message, const char *arg)
{
    jobs_result r = {.status = st, .message = message, .arg = arg};
    op_answer(op, &r);
}

/* No such job, or another owner's: the same answer, so an id of someone
 * else's job is not confirmed to exist. */
static void op_not_found(jobs_op *op)
{
    op_fail(op, SVC_NOT_FOUND, "no such job", NULL);
}

static void op_store_error(jobs_op *op, const char *what, const char *err)
{
    log_error("%s failed: %s", what, err);
    op_fail(op, SVC_INTERNAL, "the job store failed; see the server log", NULL);
}

static void op_job(jobs_op *op, const job *j, const job_json_text *text)
{
    jobs_result r = {.status = SVC_OK,
                     .j = j,
                     .text = text,
                     .retry_after_s = jobs_retry_after_s(op->e),
                     .show_owner = op->show_owner};
    if (op->mode == MODE_CANCEL && j->state != JOB_CANCELLED && job_state_final(j->state)) {
        r = (jobs_result){.status = SVC_ALREADY_FINAL,
                          .message = "the job finished before it could be cancelled"};
    }
    op_answer(op, &r);
}

int jobs_retry_after_s(const engine *e)
{
    return figures_retry_after_s(e);
}

static void op_queue_full(jobs_op *op, const char *message)
{
    jobs_result r = {
        .status = SVC_QUEUE_FULL, .message = message, .retry_after_s = jobs_retry_after_s(op->e)};
    op_answer(op, &r);
}

static void op_push(jobs_op *op)
{
    op->in_store = true;
    storeq_push(op->e->sq, &op->sq);
}

/* ---- waiting ------------------------------------------------------------ */

static void op_waited(void *arg, waiter_end how, const job *j, const job_json_text *text,
                      const char *err)
{
    jobs_op *op = arg;
    op->w = NULL;
    if (how == WAITER_JOB)
        op_job(op, j, text);
    else if (how == WAITER_NOT_FOUND) /* purged while we waited */
        op_not_found(op);
    else
        op_store_error(op, "reading a job", err);
}

/* Waits for job id (in the store) on behalf of op. */
static void op_wait(jobs_op *op, const char *id, int64_t wait_ms)
{
    sq_op_release(&op->sq);
    op->w = waiter_new(op->e, id, wait_ms, false, op_waited, op);
    if (!op->w)
        op_fail(op, SVC_INTERNAL, "out of memory", NULL);
}

/* ---- cancelling ----------------------------------------------------------- */

/* What a committed cancel (sq found its job) sets off besides the answer: a
 * queued job is final now; a running one is asked to stop by its worker. */
static void cancel_applied(engine *e, const sq_op *sq)
{
    if (sq->u.cancel.before == JOB_QUEUED) {
        figures_queued_add(e, -1);
        engine_job_final(e, &sq->u.cancel.j, true);
    } else if (!job_state_final(sq->u.cancel.before)) {
        jobrun_cancel(e, sq->u.cancel.j.id, sq->u.cancel.j.worker_pid);
    }
}

static void cancel_quiet_done(sq_op *sq)
{
    if (sq->rc < 0)
        log_error("cancelling job %s failed: %s", sq->u.cancel.id, sq->err);
    else if (sq->u.cancel.found)
        cancel_applied(sq->arg, sq);
    sq_op_release(sq);
    free(sq);
}

/* Cancels job id with nobody waiting for the answer. */
static void cancel_quiet(engine *e, const char *id)
{
    sq_op *sq = malloc(sizeof(*sq));
    if (!sq)
        return;
    sq_op_init(sq, SQ_CANCEL, cancel_quiet_done, e);
    snprintf(sq->u.cancel.id, sizeof(sq->u.cancel.id), "%s", id);
    storeq_push(e->sq, sq);
}

static void cancel_done(sq_op *sq)
{
    jobs_op *op = sq->arg;
    op->in_store = false;
    if (sq->rc < 0) {
        op_store_error(op, "cancelling a job", sq->err);
    } else if (!sq->u.cancel.found) {
        op_not_found(op); /* the store did not touch another owner's job */
    } else if (job_state_final(sq->u.cancel.before)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the job is already %s", job_state_name(sq->u.cancel.before));
        op_fail(op, SVC_ALREADY_FINAL, msg, NULL);
    } else if (sq->u.cancel.before == JOB_QUEUED) {
        cancel_applied(op->e, sq);
        op_job(op, &sq->u.cancel.j, NULL);
    } else {
        /* Running: ask its worker to stop; answer when it has, or when the
         * grace period (and the kill that follows it) is over. */
        char id[JOB_ID_LEN + 1];
        snprintf(id, sizeof(id), "%s", sq->u.cancel.j.id);
        cancel_applied(op->e, sq);
        if (op->done)
            op_wait(op, id, op->e->cfg->jobs.cancel_grace_ms + 1500);
        else
            op_free(op);
    }
}

jobs_op *jobs_cancel(engine *e, const svc_caller *who, const char *id, jobs_done_fn *done,
                     void *arg)
{
    jobs_op *op = op_new(e, MODE_CANCEL, who, done, arg);
    if (!op)
        return NULL;
    sq_op_init(&op->sq, SQ_CANCEL, cancel_done, op);
    snprintf(op->sq.u.cancel.id, sizeof(op->sq.u.cancel.id), "%s", id);
    op->sq.u.cancel.by_owner = !who->all;
    snprintf(op->sq.u.cancel.owner, sizeof(op->sq.u.cancel.owner), "%s", who->owner);
    op_push(op);
    return op;
}

/* ---- reading ---------------------------------------------------------------- */

static void get_done(sq_op *sq)
{
    jobs_op *op = sq->arg;
    op->in_store = false;
    if (sq->rc < 0)
        op_store_error(op, "reading a job", sq->err);
    else if (!sq->u.get.found || (!op->all && strcmp(sq->u.get.j.owner, op->owner) != 0))
        op_not_found(op);
    else if (op->wait_ms > 0 && !job_state_final(sq->u.get.j.state) && op->done) {
        char id[JOB_ID_LEN + 1];
        snprintf(id, sizeof(id), "%s", sq->u.get.j.id);
        op_wait(op, id, op->wait_ms);
    } else
        op_job(op, &sq->u.get.j, &sq->u.get.text.view);
}

jobs_op *jobs_get(engine *e, const svc_caller *who, const char *id, int64_t wait_ms,
                  jobs_done_fn *done, void *arg)
{
    jobs_op *op = op_new(e, MODE_GET, who, done, arg);
    if (!op)
        return NULL;
    op->wait_ms = wait_ms;
    sq_op_init(&op->sq, SQ_GET, get_done, op);
    snprintf(op->sq.u.get.id, sizeof(op->sq.u.get.id), "%s", id);
    op->sq.u.get.as_text = true; /* answered as stored, never parsed */
    op_push(op);
    return op;
}

/* ---- submitting ------------------------------------------------------------- */

/* The submission committed (or failed). */
static void submit_done(sq_op *sq)
{
    jobs_op *op = sq->arg;
    engine *e = op->e;
    typeof(sq->u.submit) *s = &sq->u.submit;
    bool ok = sq->rc == 0, conflict = ok && s->conflict, refused = ok && s->refused;
    op->in_store = false;
    if (ok && !s->existing && !s->claimed && !refused)
        claims_queued(e, s->j.kind);
    if (op->w && (!ok || conflict || refused || !op->done)) { /* no long-poll after all */
        waiter *w = op->w;
        op->w = NULL;
        waiter_abandon(w);
        if (ok)
            waiter_committed(w, s->j.id, false);
        else
            waiter_failed(w, sq->err);
    }
    if (!op->done && op->mode == MODE_CALL && ok && !conflict && !refused)
        cancel_quiet(e, s->j.id); /* its caller left while it was committed */
    if (op->w) {
        /* A job found by its key may be final already: look now. */
        waiter_committed(op->w, s->j.id, s->existing);
        return;
    }
    if (!ok)
        op_store_error(op, "queueing a job", sq->err);
    else if (refused)
        op_queue_full(op, "this token's max_queued jobs are queued; try again later");
    else if (conflict) /* draft-ietf-httpapi-idempotency-key-header: 422 */
        op_fail(op, SVC_KEY_REUSED,
                "Idempotency-Key was already used for another request (fn, args, timeout_ms, "
                "retries or callback differ)",
                "Idempotency-Key");
    else
        op_job(op, &s->j, NULL);
}

/* Pushes the submission in op->sq (its job filled), waiting wait_ms when > 0. */
static jobs_op *submit_push(jobs_op *op, int64_t wait_ms)
{
    engine *e = op->e;
    job *j = &op->sq.u.submit.j;
    if (wait_ms > 0) {
        /* The id is ours to choose (the store keeps a valid one), so the
         * long-poll can be in place before the job exists. */
        if (job_new_id(j->id) < 0) {
            op_fail(op, SVC_INTERNAL, "no randomness for a job id", NULL);
            return NULL;
        }
        if (!(op->w = waiter_new(e, j->id, wait_ms, true, op_waited, op))) {
            op_fail(op, SVC_INTERNAL, "out of memory", NULL);
            return NULL;
        }
    }
    claims_submitting(e, j->kind);
    /* The store gives the args' budget back once it has them, or hands it
     * to the claim of the same batch that takes this very job (store.h). */
    op->sq.u.submit.held = op->held;
    op->held = 0;
    op_push(op);
    return op;
}

/* Reads one optional integer field in [min, max]; -1 with the message. */
static int int_field(json_t *body, const char *key, int64_t min, int64_t max, int64_t *out,
                     char *msg, size_t msglen)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(msg, msglen, "%s: must be an integer from %lld to %lld", key, (long long)min,
                 (long long)max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* Fills j from the submission body and key; SVC_OK, or the status with
 * msg and *arg (a field name or bad, of UTF8_ECHO_SIZE). */
static svc_status submit_fields(engine *e, json_t *body, const char *key, size_t key_len, job *j,
                                char *msg, size_t msglen, const char **arg, char *bad)
{
    static const char *const known[] = {"fn", "args", "timeout_ms", "callback", "retries"};
    const config *cfg = e->cfg;
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        size_t i = 0;
        while (i < sizeof(known) / sizeof(known[0]) && strcmp(k, known[i]) != 0)
            i++;
        if (i == sizeof(known) / sizeof(known[0])) {
            utf8_echo(bad, k, strlen(k));
            snprintf(msg, msglen, "%s: unknown field", bad);
            *arg = bad;
            return SVC_INVALID_ARGS;
        }
    }
    json_t *fnv = json_object_get(body, "fn");
    if (!json_is_string(fnv)) {
        snprintf(msg, msglen, "fn: required, a function name");
        *arg = "fn";
        return SVC_INVALID_ARGS;
    }
    const fn_desc *fn =
        fn_find(json_string_value(fnv), json_string_length(fnv), cfg->debug_functions);
    if (!fn) {
        char echo[UTF8_ECHO_SIZE];
        snprintf(msg, msglen, "no function named \"%s\"",
                 utf8_echo(echo, json_string_value(fnv), json_string_length(fnv)));
        return SVC_UNKNOWN_FUNCTION;
    }
    if (fn_validate(fn, json_object_get(body, "args"), &j->args, bad, UTF8_ECHO_SIZE, msg, msglen) <
        0) {
        *arg = bad[0] ? bad : "args";
        return SVC_INVALID_ARGS;
    }
    int64_t timeout = cfg->jobs.default_timeout_ms, retries = 0;
    if (int_field(body, "timeout_ms", 1, cfg->jobs.max_timeout_ms, &timeout, msg, msglen) < 0) {
        *arg = "timeout_ms";
        return SVC_INVALID_ARGS;
    }
    if (int_field(body, "retries", 0, JOBS_RETRIES_MAX, &retries, msg, msglen) < 0) {
        *arg = "retries";
        return SVC_INVALID_ARGS;
    }
    json_t *cb = json_object_get(body, "callback");
    if (cb && !json_is_null(cb)) {
        *arg = "callback";
        if (!json_is_string(cb) || json_string_length(cb) > JOB_CALLBACK_MAX) {
            snprintf(msg, msglen, "callback: expected an http:// URL");
            return SVC_INVALID_ARGS;
        }
        if (callback_check(json_string_value(cb), cfg->callbacks.allow, cfg->callbacks.n_allow, msg,
                           msglen) < 0)
            return SVC_INVALID_ARGS;
        snprintf(j->callback, sizeof(j->callback), "%s", json_string_value(cb));
    }
    if (key) {
        bool ok = key_len > 0 && key_len <= JOB_IDEM_KEY_MAX;
        for (size_t i = 0; ok && i < key_len; i++)
            ok = key[i] > 0x20 && key[i] < 0x7f;
        if (!ok) {
            snprintf(msg, msglen, "Idempotency-Key: 1 to 255 printable ASCII characters");
            *arg = "Idempotency-Key";
            return SVC_INVALID_ARGS;
        }
        memcpy(j->idem_key, key, key_len);
        j->idem_key[key_len] = '\0';
    }
    snprintf(j->fn, sizeof(j->fn), "%s", fn->name);
    j->kind = fn->kind;
    j->timeout_ms = timeout;
    j->retries = (int)retries;
    return SVC_OK;
}

jobs_op *jobs_submit(engine *e, const svc_caller *who, json_t *body, int64_t held, const char *key,
                     size_t key_len, int64_t wait_ms, jobs_done_fn *done, void *arg)
{
    jobs_op *op = op_new(e, MODE_SUBMIT, who, done, arg);
    if (!op) {
        budget_give(e, BUDGET_ARGS, held);
        return NULL;
    }
    op->held = held;
    sq_op_init(&op->sq, SQ_SUBMIT, submit_done, op);
    char msg[256], bad[UTF8_ECHO_SIZE];
    const char *at = NULL;
    if (!json_is_object(body)) {
        op_fail(op, SVC_INVALID_ARGS, "the body must be a JSON object", NULL);
        return NULL;
    }
    svc_status st =
        submit_fields(e, body, key, key_len, &op->sq.u.submit.j, msg, sizeof(msg), &at, bad);
    if (st != SVC_OK) {
        op_fail(op, st, msg, at);
        return NULL;
    }
    if (figures_queued(e) >= e->cfg->limits.max_queue) {
        op_queue_full(op, "limits.max_queue jobs are queued; try again later");
        return NULL;
    }
    snprintf(op->sq.u.submit.j.owner, sizeof(op->sq.u.submit.j.owner), "%s", who->owner);
    op->sq.u.submit.max_queued = who->max_queued;
    return submit_push(op, wait_ms);
}

jobs_op *jobs_run_call(engine *e, const svc_caller *who, const fn_desc *fn, json_t *args,
                       int64_t held, int64_t timeout_ms, jobs_done_fn *done, void *arg)
{
    jobs_op *op = op_new(e, MODE_CALL, who, done, arg);
    if (!op) {
        json_decref(args);
        budget_give(e, BUDGET_ARGS, held);
        return NULL;
    }
    op->held = held;
    sq_op_init(&op->sq, SQ_SUBMIT, submit_done, op);
    job *j = &op->sq.u.submit.j;
    j->args = args;
    snprintf(j->owner, sizeof(j->owner), "%s", who->owner);
    snprintf(j->fn, sizeof(j->fn), "%s", fn->name);
    j->kind = fn->kind;
    j->timeout_ms = timeout_ms;
    /* Waits a little past the job's own deadline, so the job's outcome
     * (a timeout included) is what the caller sees. */
    return submit_push(op, timeout_ms + e->cfg->jobs.cancel_grace_ms + 1000);
}

/* ---- abandoning --------------------------------------------------------------- */

void jobs_abandon(jobs_op *op)
{
    op->done = NULL;
    if (op->in_store)
        return; /* the store op's end finishes it (and cancels a call's job) */
    if (op->w) {
        const char *id = NULL;
        char idbuf[JOB_ID_LEN + 1];
        if (op->mode == MODE_CALL) {
            snprintf(idbuf, sizeof(idbuf), "%s", op->sq.u.submit.j.id);
            id = idbuf;
        }
        waiter_abandon(op->w);
        op->w = NULL;
        if (id)
            cancel_quiet(op->e, id); /* nobody waits for this call any more */
    }
    op_free(op);
}
