/*
 * store.c - the store interface: the registry of backends, then for each
 * call the argument checks, ids and times, and the backend's store_ops.
 */
#include "store.h"
#include "store_int.h"

#include "errbuf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The backends built in; the first is the default (config store.kind "").
 * A new backend adds its row here and its ops to store_int.h.
 */
static const store_backend backends[] = {
    {"sqlite", &store_sqlite_ops},
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

const store_backend *store_backend_at(size_t i)
{
    return i < NBACKENDS ? &backends[i] : NULL;
}

/* The backend of cfg's kind; NULL with the message in err if not built in. */
static const store_ops *backend_find(const config_store *cfg, char *err, size_t errlen)
{
    char built[128] = "";
    size_t len = 0;
    if (cfg->kind[0] == '\0')
        return backends[0].ops;
    for (size_t i = 0; i < NBACKENDS; i++) {
        if (strcmp(cfg->kind, backends[i].kind) == 0)
            return backends[i].ops;
        if (len < sizeof(built))
            len += (size_t)snprintf(built + len, sizeof(built) - len, "%s%s", i ? ", " : "",
                                    backends[i].kind);
    }
    errbuf_fail(err, errlen, "store.kind \"%s\": not available in this build (built: %s)",
                cfg->kind, built);
    return NULL;
}

void store_init(store *st, const store_ops *ops)
{
    st->ops = ops;
    atomic_flag_clear(&st->in_use);
    st->errmsg[0] = '\0';
}

int store_fail(store *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
    va_end(ap);
    return -1;
}

/* Every public call runs between enter() and leave(): one thread at a time. */
static void enter(store *st)
{
    bool busy = atomic_flag_test_and_set(&st->in_use);
    assert(!busy && "a store is used by one thread at a time");
    (void)busy;
    st->errmsg[0] = '\0';
}

static int leave(store *st, int rc)
{
    atomic_flag_clear(&st->in_use);
    return rc;
}

size_t store_shared_size(void)
{
    size_t max = 0;
    for (size_t i = 0; i < NBACKENDS; i++) {
        assert(backends[i].ops->shared_size <= STORE_SHARED_MAX);
        if (backends[i].ops->shared_size > max)
            max = backends[i].ops->shared_size;
    }
    return max;
}

int store_shared_init(const config_store *cfg, void *area, char *err, size_t errlen)
{
    const store_ops *ops = backend_find(cfg, err, errlen);
    if (!ops)
        return -1;
    memset(area, 0, STORE_SHARED_MAX);
    return ops->shared_init ? ops->shared_init(cfg, area, err, errlen) : 0;
}

store *store_open(const config_store *cfg, void *shared, char *err, size_t errlen)
{
    const store_ops *ops = backend_find(cfg, err, errlen);
    return ops ? ops->open(cfg, shared, err, errlen) : NULL;
}

void store_close(store *st)
{
    if (st)
        st->ops->close(st);
}

const char *store_errmsg(const store *st)
{
    return st->errmsg;
}

static bool id_ok(const char *id)
{
    return id && job_id_valid(id, strlen(id));
}

/* Checks a job to submit and makes it a fresh queued job. */
static int submit_prep(store *st, job *j, int64_t now_us)
{
    if (j->fn[0] == '\0' || (j->kind != FN_CPU && j->kind != FN_IO))
        return store_fail(st, "submit: job without fn or kind");
    if (j->timeout_ms < 0 || j->retries < 0)
        return store_fail(st, "submit: negative timeout_ms or retries");
    /* A caller may choose the id (to wait on it before the commit); it must
     * come from job_new_id() too. */
    if (!id_ok(j->id) && job_new_id(j->id) < 0)
        return store_fail(st, "submit: getrandom() failed");
    j->state = JOB_QUEUED;
    json_decref(j->result);
    j->result = NULL;
    job_set_error(j, NULL, NULL);
    j->attempts = 0;
    j->worker_pid = 0;
    j->owner_slot = -1;
    j->owner_incarnation = 0;
    j->cancel_requested = false;
    j->created_at_us = now_us;
    j->started_at_us = j->finished_at_us = j->deadline_us = 0;
    j->run_us = j->cpu_us = -1;
    return 0;
}

/* Copies what complete reads into *dst, with finished_at filled in; args and
 * result stay borrowed (dst is never released). */
static int complete_prep(store *st, const job *src, job *dst, int64_t now_us)
{
    if (!id_ok(src->id))
        return store_fail(st, "complete: bad job id \"%.40s\"", src->id);
    if (!job_state_final(src->state) && src->state != JOB_QUEUED)
        return store_fail(st, "complete: job %s: state %s is not final (nor queued)", src->id,
                          job_state_name(src->state));
    *dst = *src;
    if (dst->finished_at_us == 0)
        dst->finished_at_us = now_us;
    /* Keep the invariant of job.h: an error exactly on failed and cancelled. */
    if (dst->state == JOB_SUCCEEDED || dst->state == JOB_QUEUED)
        job_set_error(dst, NULL, NULL);
    else if (dst->error_code[0] == '\0')
        job_set_error(dst, dst->state == JOB_CANCELLED ? ERR_CANCELLED : ERR_FUNCTION_ERROR,
                      dst->error_message);
    return 0;
}

/* A submitted job (new, or an idempotency hit read before the claims ran)
 * that the same batch claimed comes back as it was committed: running. */
static void show_claims(store_batch *b)
{
    for (int i = 0; i < b->nsubmit; i++) {
        job *j = &b->submit[i];
        for (int k = 0; k < FN_NKINDS; k++) {
            for (int c = 0; c < b->nclaimed[k]; c++) {
                const job *r = &b->claimed[k][c];
                if (strcmp(r->id, j->id) != 0)
                    continue;
                j->state = r->state;
                j->attempts = r->attempts;
                j->worker_pid = r->worker_pid;
                j->owner_slot = r->owner_slot;
                j->owner_incarnation = r->owner_incarnation;
                j->started_at_us = r->started_at_us;
                j->deadline_us = r->deadline_us;
            }
        }
    }
}

/*
 * store_write() once entered: checks and prepares every part, fills in the
 * NULL flag arrays, and calls the backend. The flags and claims are cleared
 * first, so they read "nothing happened" after any failure.
 */
static int write_entered(store *st, store_batch *b)
{
    bool *existing = b->existing, *applied = b->applied, *refused = b->refused;
    int64_t *no_limits = NULL;
    job *prep = NULL;
    int rc = -1;
    for (int i = 0; existing && i < b->nsubmit; i++)
        existing[i] = false;
    for (int i = 0; refused && i < b->nsubmit; i++)
        refused[i] = false;
    for (int i = 0; applied && i < b->ncomplete; i++)
        applied[i] = false;
    int nclaim = 0;
    for (int k = 0; k < FN_NKINDS; k++) {
        b->nclaimed[k] = 0;
        nclaim += b->claim_max[k];
        if (b->claim_max[k] < 0 || (b->claim_max[k] > 0 && (!b->claimed[k] || b->slot < 0)))
            return store_fail(st, "claim: max must be >= 0 with room for it, and slot >= 0");
    }
    if (b->nsubmit < 0 || b->ncomplete < 0)
        return store_fail(st, "write: negative count");
    if (b->nsubmit + b->ncomplete + nclaim == 0)
        return 0;
    store_batch c = *b;
    if ((!existing && !(c.existing = calloc((size_t)b->nsubmit + 1, sizeof(bool)))) ||
        (!refused && !(c.refused = calloc((size_t)b->nsubmit + 1, sizeof(bool)))) ||
        (!b->max_queued &&
         !(c.max_queued = no_limits = calloc((size_t)b->nsubmit + 1, sizeof(int64_t)))) ||
        (!applied && !(c.applied = calloc((size_t)b->ncomplete + 1, sizeof(bool)))) ||
        !(prep = malloc(((size_t)b->ncomplete + 1) * sizeof(*prep)))) {
        store_fail(st, "write: out of memory");
        goto done;
    }
    int64_t now = job_now_us();
    for (int i = 0; i < b->nsubmit; i++) {
        if (c.max_queued[i] < 0) {
            store_fail(st, "submit: negative max_queued");
            goto done;
        }
        if (submit_prep(st, &b->submit[i], now) < 0)
            goto done;
    }
    for (int i = 0; i < b->ncomplete; i++) {
        if (complete_prep(st, &b->complete[i], &prep[i], now) < 0)
            goto done;
    }
    c.complete = prep;
    rc = st->ops->write(st, &c, now);
    for (int k = 0; k < FN_NKINDS; k++)
        b->nclaimed[k] = c.nclaimed[k];
    if (rc == 0)
        show_claims(b);
done:
    if (c.existing != existing)
        free(c.existing);
    if (c.refused != refused)
        free(c.refused);
    if (c.applied != applied)
        free(c.applied);
    free(no_limits);
    free(prep);
    return rc;
}

/* The budget after a write (store.h): the claimed jobs' cost instead of the
 * submissions' bytes. */
static void budget_settle(store_batch *b, int rc)
{
    int64_t used = 0;
    for (int k = 0; rc == 0 && k < FN_NKINDS; k++)
        for (int i = 0; i < b->nclaimed[k]; i++)
            used += b->claimed[k][i].args_cost;
    atomic_fetch_add(&b->budget->held, used - b->submit_held);
}

int store_write(store *st, store_batch *b)
{
    enter(st);
    int rc = write_entered(st, b);
    if (b->budget)
        budget_settle(b, rc);
    return leave(st, rc);
}

int store_submit_many(store *st, job *jobs, int n, bool *existing)
{
    store_batch b = {.submit = jobs, .nsubmit = n, .existing = existing};
    return n <= 0 ? 0 : store_write(st, &b);
}

int store_submit(store *st, job *j, bool *existing)
{
    return store_submit_many(st, j, 1, existing);
}

int store_claim(store *st, fn_kind kind, int slot, unsigned incarnation, int pid, int max, job *out,
                int *n)
{
    store_batch b = {.slot = slot, .incarnation = incarnation, .pid = pid};
    *n = 0;
    if (max < 1 || (kind != FN_CPU && kind != FN_IO)) {
        enter(st);
        return leave(st, store_fail(st, "claim: max must be >= 1 and slot >= 0"));
    }
    b.claim_max[kind] = max;
    b.claimed[kind] = out;
    int rc = store_write(st, &b);
    *n = b.nclaimed[kind];
    return rc;
}

int store_complete_many(store *st, const job *jobs, int n, bool *applied)
{
    store_batch b = {.complete = jobs, .ncomplete = n, .applied = applied};
    return n <= 0 ? 0 : store_write(st, &b);
}

int store_complete(store *st, const job *j, bool *applied)
{
    return store_complete_many(st, j, 1, applied);
}

int store_abort(store *st, const char *id, int slot, unsigned incarnation, job_state state,
                const char *code, const char *message, bool *applied)
{
    job j;
    if (applied)
        *applied = false;
    enter(st);
    if (state != JOB_FAILED && state != JOB_CANCELLED)
        return leave(st, store_fail(st, "abort: state must be failed or cancelled"));
    if (!id_ok(id))
        return leave(st, store_fail(st, "abort: bad job id"));
    leave(st, 0);
    job_init(&j);
    snprintf(j.id, sizeof(j.id), "%s", id);
    j.state = state;
    j.owner_slot = slot;
    j.owner_incarnation = incarnation;
    job_set_error(&j, code, message);
    return store_complete(st, &j, applied);
}

/* store_get() and store_get_text() (text NULL: parsed). */
static int get(store *st, const char *id, job *out, store_text *text, bool *found)
{
    enter(st);
    job_init(out);
    *found = false;
    if (text)
        *text = (store_text){0};
    if (!id_ok(id))
        return leave(st, 0); /* no such id can exist */
    int rc = st->ops->get(st, id, out, text, found);
    if (rc < 0 || !*found) {
        *found = false;
        job_release(out);
        store_text_release(text);
    }
    return leave(st, rc);
}

int store_get(store *st, const char *id, job *out, bool *found)
{
    return get(st, id, out, NULL, found);
}

int store_get_text(store *st, const char *id, job *out, store_text *text, bool *found)
{
    return get(st, id, out, text, found);
}

void store_text_release(store_text *text)
{
    if (!text)
        return;
    free(text->mem);
    *text = (store_text){0};
}

int store_cancel_for(store *st, const char *id, const char *owner, job *out, bool *found,
                     job_state *before)
{
    job_state dummy;
    enter(st);
    job_init(out);
    *found = false;
    if (!before)
        before = &dummy;
    if (!id_ok(id))
        return leave(st, 0);
    return leave(st, st->ops->cancel(st, id, owner, job_now_us(), out, found, before));
}

int store_cancel(store *st, const char *id, job *out, bool *found, job_state *before)
{
    return store_cancel_for(st, id, NULL, out, found, before);
}

int store_list_page(store *st, const store_list_query *q, store_row_fn *fn, void *arg, int *n,
                    bool *more)
{
    enter(st);
    *n = 0;
    *more = false;
    if (q->state < -1 || q->state > JOB_CANCELLED)
        return leave(st, store_fail(st, "list: bad state %d", q->state));
    if (q->limit < 1)
        return leave(st, store_fail(st, "list: limit must be >= 1"));
    if (q->after && !id_ok(q->after->id))
        return leave(st, store_fail(st, "list: bad cursor id"));
    return leave(st, st->ops->list_page(st, q, fn, arg, n, more));
}

/* store_list(): each row parsed into the caller's next job. */
typedef struct list_fill {
    job *out;
    int n;
    const char *bad; /* the column that is not JSON */
} list_fill;

static int parse_text(const char *text, size_t len, json_t **out)
{
    *out = text ? json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    return text && !*out ? -1 : 0;
}

static int fill_row(const store_row *r, void *arg)
{
    list_fill *lf = arg;
    job *o = &lf->out[lf->n];
    *o = *r->j;
    if (parse_text(r->text.args, r->text.args_len, &o->args) < 0)
        lf->bad = "args";
    else if (parse_text(r->text.result, r->text.result_len, &o->result) < 0)
        lf->bad = "result";
    if (lf->bad) {
        job_release(o);
        return STORE_ROW_STOP;
    }
    lf->n++;
    return STORE_ROW_TAKE;
}

int store_list(store *st, int state, const char *fn, int limit, job *out, int *n)
{
    list_fill lf = {out, 0, NULL};
    store_list_query q = {state, fn, limit, true, true, NULL, NULL};
    bool more;
    *n = 0;
    if (limit <= 0)
        return 0;
    int rc = store_list_page(st, &q, fill_row, &lf, n, &more);
    if (rc == 0 && lf.bad)
        rc = store_fail(st, "list: a job's %s column is not JSON", lf.bad);
    if (rc < 0) {
        for (int i = 0; i < lf.n; i++)
            job_release(&out[i]);
        lf.n = 0;
    }
    *n = lf.n;
    return rc;
}

static int reap(store *st, bool all, int slot, unsigned incarnation, store_final_fn *on_final,
                void *arg, int *requeued, int *failed)
{
    job *final = NULL;
    int nfinal = 0, nreq = 0;
    if (requeued)
        *requeued = 0;
    if (failed)
        *failed = 0;
    enter(st);
    int rc = st->ops->reap(st, all, slot, incarnation, job_now_us(), &final, &nfinal, &nreq);
    /* Leave before the callbacks: they may use st (store_get, ...). */
    leave(st, rc);
    if (rc < 0)
        return -1;
    for (int i = 0; i < nfinal; i++) {
        if (on_final)
            on_final(&final[i], arg);
        job_release(&final[i]);
    }
    free(final);
    if (requeued)
        *requeued = nreq;
    if (failed)
        *failed = nfinal;
    return 0;
}

int store_reap(store *st, int slot, unsigned incarnation, store_final_fn *on_final, void *arg,
               int *requeued, int *failed)
{
    return reap(st, false, slot, incarnation, on_final, arg, requeued, failed);
}

int store_reap_all(store *st, store_final_fn *on_final, void *arg, int *requeued, int *failed)
{
    return reap(st, true, -1, 0, on_final, arg, requeued, failed);
}

int store_purge(store *st, int64_t now_us, int64_t ttl_s, int *purged)
{
    int count = 0;
    enter(st);
    if (ttl_s < 0)
        return leave(st, store_fail(st, "purge: negative ttl"));
    int rc = st->ops->purge(st, now_us - ttl_s * 1000000, &count);
    if (purged)
        *purged = count;
    return leave(st, rc);
}

int store_counts(store *st, int64_t *queued, int64_t *running)
{
    int64_t q = 0, r = 0;
    enter(st);
    int rc = st->ops->counts(st, &q, &r);
    if (queued)
        *queued = q;
    if (running)
        *running = r;
    return leave(st, rc);
}

int store_check(const config_store *cfg, char *err, size_t errlen)
{
    const store_ops *ops = backend_find(cfg, err, errlen);
    return ops ? ops->check(cfg, err, errlen) : -1;
}

int store_prepare(const config_store *cfg, int *requeued, int *failed, char *err, size_t errlen)
{
    const store_ops *ops = backend_find(cfg, err, errlen);
    if (!ops || (ops->prepare && ops->prepare(cfg, err, errlen) < 0))
        return -1;
    store *st = store_open(cfg, NULL, err, errlen);
    if (!st)
        return -1;
    int rc = store_reap_all(st, NULL, NULL, requeued, failed);
    if (rc < 0)
        errbuf_fail(err, errlen, "taking over running jobs failed: %s", store_errmsg(st));
    store_close(st);
    return rc;
}
