/*
 * metrics.c - see metrics.h. Recording is a handful of relaxed atomic adds
 * into the caller's slot; rendering sums the slots and formats the text.
 */
#include "metrics.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fn.h"
#include "shm.h"
#include "wire.h"

/* The "code" label values; the last entry stands for every other code. */
static const int code_table[METRICS_NCODES] = {
    200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 408,
    409, 413, 415, 422, 429, 431, 499, 500, 501, 502, 503, 504, 505, 0,
};

static const char *const route_names[METRICS_NROUTES] = {
    "healthz", "readyz", "metrics", "functions", "workers", "fn", "jobs", "job", "other",
};

static const char *const job_state_names[METRICS_NJOB_STATES] = {
    "succeeded",
    "failed",
    "cancelled",
};

/* Upper bounds in microseconds; the +Inf bucket is implied as the last. */
static const int64_t http_bounds_us[METRICS_NBUCKETS - 1] = {
    50, 100, 500, 1000, 5000, 10000, 50000, 100000, 500000, 1000000, 5000000, 10000000,
};
static const int64_t job_bounds_us[METRICS_NBUCKETS - 1] = {
    1000,    5000,    10000,    50000,    100000,   500000,
    1000000, 5000000, 10000000, 30000000, 60000000, 300000000,
};

#define ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define LOAD(counter) atomic_load_explicit(&(counter), memory_order_relaxed)

void metrics_register_fns(shm_region *shm)
{
    metrics_area *m = &shm->metrics;
    json_t *list = fn_list_json(true);
    json_t *fns = json_object_get(list, "functions");
    size_t i;
    json_t *fn;
    m->nfns = 0;
    json_array_foreach(fns, i, fn)
    {
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (!name || m->nfns >= METRICS_MAX_FNS || strlen(name) >= METRICS_FN_NAME)
            continue;
        snprintf(m->fn_name[m->nfns], METRICS_FN_NAME, "%s", name);
        m->nfns++;
    }
    json_decref(list);
}

static bool path_is(const char *path, size_t len, const char *route)
{
    return strlen(route) == len && memcmp(path, route, len) == 0;
}

static bool path_under(const char *path, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len > n && memcmp(path, prefix, n) == 0;
}

metrics_route metrics_route_of(const char *path, size_t len)
{
    if (path_is(path, len, ROUTE_HEALTHZ))
        return METRICS_R_HEALTHZ;
    if (path_is(path, len, ROUTE_READYZ))
        return METRICS_R_READYZ;
    if (path_is(path, len, ROUTE_METRICS))
        return METRICS_R_METRICS;
    if (path_is(path, len, ROUTE_FUNCTIONS))
        return METRICS_R_FUNCTIONS;
    if (path_is(path, len, ROUTE_WORKERS))
        return METRICS_R_WORKERS;
    if (path_under(path, len, ROUTE_FN_PREFIX))
        return METRICS_R_FN;
    if (path_is(path, len, ROUTE_JOBS))
        return METRICS_R_JOBS;
    if (path_under(path, len, ROUTE_JOBS_PREFIX))
        return METRICS_R_JOB;
    return METRICS_R_OTHER;
}

int metrics_fn_index(const shm_region *shm, const char *name)
{
    for (int i = 0; i < shm->metrics.nfns; i++) {
        if (strcmp(shm->metrics.fn_name[i], name) == 0)
            return i;
    }
    return -1;
}

static int code_index(int status)
{
    for (int i = 0; i < METRICS_NCODES - 1; i++) {
        if (code_table[i] == status)
            return i;
    }
    return METRICS_NCODES - 1;
}

static void hist_add(metrics_hist *h, const int64_t *bounds, int64_t us)
{
    if (us < 0)
        us = 0;
    int b = 0;
    while (b < METRICS_NBUCKETS - 1 && us > bounds[b])
        b++;
    ADD(h->bucket[b], 1);
    ADD(h->sum_us, (uint64_t)us);
}

/* Keeps slots_used above every slot recorded into; almost always one load. */
static void note_slot(shm_region *shm, int slot)
{
    int used = atomic_load_explicit(&shm->metrics.slots_used, memory_order_relaxed);
    while (used <= slot &&
           !atomic_compare_exchange_weak_explicit(&shm->metrics.slots_used, &used, slot + 1,
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

void metrics_http(shm_region *shm, int slot, metrics_route route, int status, int64_t duration_us)
{
    if (slot < 0 || slot >= SHM_MAX_WORKERS || route < 0 || route >= METRICS_NROUTES)
        return;
    metrics_slot *s = &shm->metrics_slot[slot];
    note_slot(shm, slot);
    ADD(s->http[route][code_index(status)], 1);
    hist_add(&s->http_duration[route], http_bounds_us, duration_us);
}

void metrics_job(shm_region *shm, int slot, int fn_index, metrics_job_state state, int64_t run_us)
{
    if (slot < 0 || slot >= SHM_MAX_WORKERS || fn_index < 0 || fn_index >= METRICS_MAX_FNS ||
        state < 0 || state >= METRICS_NJOB_STATES)
        return;
    metrics_slot *s = &shm->metrics_slot[slot];
    note_slot(shm, slot);
    ADD(s->jobs[fn_index][state], 1);
    hist_add(&s->job_run[fn_index], job_bounds_us, run_us);
}

int metrics_token_index(shm_region *shm, const char *name)
{
    metrics_area *m = &shm->metrics;
    for (int i = 0; i < METRICS_MAX_TOKENS; i++) {
        metrics_token_name *t = &m->token[i];
        int st = atomic_load_explicit(&t->state, memory_order_acquire);
        if (st == 0 && atomic_compare_exchange_strong(&t->state, &st, 1)) {
            snprintf(t->name, sizeof(t->name), "%s", name);
            atomic_store_explicit(&t->state, 2, memory_order_release);
            return i;
        }
        /* Being written: a few instructions away, unless its writer died
         * right there (then the entry is skipped for good). */
        for (long spin = 0; st == 1 && spin < 1000000; spin++)
            st = atomic_load_explicit(&t->state, memory_order_acquire);
        if (st == 2 && strcmp(t->name, name) == 0)
            return i;
    }
    return METRICS_TOKEN_OTHER;
}

void metrics_token(shm_region *shm, int slot, int index, int status)
{
    int cls = status / 100 - 1;
    if (slot < 0 || slot >= SHM_MAX_WORKERS || index < 0 || index > METRICS_TOKEN_OTHER)
        return;
    if (cls < 0 || cls >= METRICS_NCLASSES)
        cls = METRICS_NCLASSES - 1;
    note_slot(shm, slot);
    ADD(shm->metrics_slot[slot].token[index][cls], 1);
}

/* ---- rendering ------------------------------------------------------------ */

typedef struct out {
    char *p;
    size_t len, cap;
    bool failed;
} out;

__attribute__((format(printf, 2, 3))) static void out_printf(out *o, const char *fmt, ...)
{
    for (int pass = 0; pass < 2 && !o->failed; pass++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p ? o->p + o->len : NULL, o->p ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if (o->p && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap : 16384;
        while (cap - o->len <= (size_t)n)
            cap *= 2;
        char *np = realloc(o->p, cap);
        if (!np) {
            o->failed = true;
            return;
        }
        o->p = np;
        o->cap = cap;
    }
}

static void out_header(out *o, const char *name, const char *type, const char *help)
{
    out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Seconds from microseconds, exact to the microsecond. */
static void out_seconds(out *o, uint64_t us)
{
    out_printf(o, "%llu.%06llu", (unsigned long long)(us / 1000000),
               (unsigned long long)(us % 1000000));
}

static void out_le(out *o, int64_t us)
{
    /* Bounds are whole microseconds: print the shortest exact decimal. */
    char frac[8];
    snprintf(frac, sizeof(frac), "%06lld", (long long)(us % 1000000));
    size_t n = strlen(frac);
    while (n > 0 && frac[n - 1] == '0')
        frac[--n] = '\0';
    if (n == 0)
        out_printf(o, "%lld", (long long)(us / 1000000));
    else
        out_printf(o, "%lld.%s", (long long)(us / 1000000), frac);
}

/* Sum over slots of one histogram, picked by get(). */
typedef const metrics_hist *(*hist_get)(const metrics_slot *s, int i);

static const metrics_hist *get_http_hist(const metrics_slot *s, int i)
{
    return &s->http_duration[i];
}

static const metrics_hist *get_job_hist(const metrics_slot *s, int i)
{
    return &s->job_run[i];
}

static void out_hist(out *o, const shm_region *shm, int nslots, hist_get get, int i,
                     const int64_t *bounds, const char *name, const char *label, const char *value)
{
    uint64_t b[METRICS_NBUCKETS] = {0}, sum = 0, cum = 0;
    for (int s = 0; s < nslots; s++) {
        const metrics_hist *h = get(&shm->metrics_slot[s], i);
        for (int k = 0; k < METRICS_NBUCKETS; k++)
            b[k] += LOAD(h->bucket[k]);
        sum += LOAD(h->sum_us);
    }
    for (int k = 0; k < METRICS_NBUCKETS; k++) {
        cum += b[k];
        out_printf(o, "%s_bucket{%s=\"%s\",le=\"", name, label, value);
        if (k == METRICS_NBUCKETS - 1)
            out_printf(o, "+Inf");
        else
            out_le(o, bounds[k]);
        out_printf(o, "\"} %llu\n", (unsigned long long)cum);
    }
    out_printf(o, "%s_sum{%s=\"%s\"} ", name, label, value);
    out_seconds(o, sum);
    out_printf(o, "\n%s_count{%s=\"%s\"} %llu\n", name, label, value, (unsigned long long)cum);
}

static void render_http(out *o, const shm_region *shm, int nslots)
{
    out_header(o, "crunchd_http_requests_total", "counter",
               "HTTP requests answered, by route and status code.");
    for (int r = 0; r < METRICS_NROUTES; r++) {
        for (int c = 0; c < METRICS_NCODES; c++) {
            uint64_t n = 0;
            for (int s = 0; s < nslots; s++)
                n += LOAD(shm->metrics_slot[s].http[r][c]);
            if (n == 0)
                continue;
            char code[16];
            if (code_table[c])
                snprintf(code, sizeof(code), "%d", code_table[c]);
            else
                snprintf(code, sizeof(code), "other");
            out_printf(o, "crunchd_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                       route_names[r], code, (unsigned long long)n);
        }
    }
    out_header(o, "crunchd_http_request_duration_seconds", "histogram",
               "Time from the first byte of a request to its reply, by route.");
    for (int r = 0; r < METRICS_NROUTES; r++)
        out_hist(o, shm, nslots, get_http_hist, r, http_bounds_us,
                 "crunchd_http_request_duration_seconds", "route", route_names[r]);
}

static bool fn_shown(const shm_region *shm, int nslots, int f, bool debug)
{
    const char *name = shm->metrics.fn_name[f];
    if (fn_find(name, strlen(name), debug))
        return true;
    for (int s = 0; s < nslots; s++) {
        for (int st = 0; st < METRICS_NJOB_STATES; st++) {
            if (LOAD(shm->metrics_slot[s].jobs[f][st]))
                return true;
        }
    }
    return false;
}

static void render_jobs(out *o, const shm_region *shm, int nslots, bool debug)
{
    bool shown[METRICS_MAX_FNS];
    int nfns = shm->metrics.nfns;
    for (int f = 0; f < nfns; f++)
        shown[f] = fn_shown(shm, nslots, f, debug);

    out_header(o, "crunchd_jobs_total", "counter",
               "Function runs (calls and jobs) that ended, by function and final state.");
    for (int f = 0; f < nfns; f++) {
        for (int st = 0; st < METRICS_NJOB_STATES && shown[f]; st++) {
            uint64_t n = 0;
            for (int s = 0; s < nslots; s++)
                n += LOAD(shm->metrics_slot[s].jobs[f][st]);
            out_printf(o, "crunchd_jobs_total{fn=\"%s\",state=\"%s\"} %llu\n",
                       shm->metrics.fn_name[f], job_state_names[st], (unsigned long long)n);
        }
    }
    out_header(o, "crunchd_job_run_seconds", "histogram",
               "Run time of function runs that ended, by function.");
    for (int f = 0; f < nfns; f++) {
        if (shown[f])
            out_hist(o, shm, nslots, get_job_hist, f, job_bounds_us, "crunchd_job_run_seconds",
                     "fn", shm->metrics.fn_name[f]);
    }
    out_header(o, "crunchd_jobs_queued", "gauge", "Jobs waiting in the store.");
    out_printf(o, "crunchd_jobs_queued %lld\n", (long long)LOAD(shm->jobs.queued));
    out_header(o, "crunchd_jobs_running", "gauge", "Jobs running now.");
    out_printf(o, "crunchd_jobs_running %lld\n", (long long)LOAD(shm->jobs.running));
}

static void render_tokens(out *o, const shm_region *shm, int nslots)
{
    out_header(o, "crunchd_token_requests_total", "counter",
               "Requests answered per API token (its name, never its secret), by status class.");
    for (int i = 0; i <= METRICS_TOKEN_OTHER; i++) {
        const char *name = "(other)";
        if (i < METRICS_MAX_TOKENS) {
            const metrics_token_name *t = &shm->metrics.token[i];
            if (atomic_load_explicit(&t->state, memory_order_acquire) != 2)
                continue;
            name = t->name;
        }
        for (int c = 0; c < METRICS_NCLASSES; c++) {
            uint64_t n = 0;
            for (int s = 0; s < nslots; s++)
                n += LOAD(shm->metrics_slot[s].token[i][c]);
            if (n)
                out_printf(o, "crunchd_token_requests_total{token=\"%s\",code=\"%dxx\"} %llu\n",
                           name, c + 1, (unsigned long long)n);
        }
    }
}

static void render_workers(out *o, const shm_region *shm)
{
    int live = atomic_load(&shm->nslots), running = 0, conns = 0;
    uint64_t restarts = 0;
    for (int i = 0; i < SHM_MAX_WORKERS; i++) {
        const shm_worker *w = &shm->w[i];
        if (i < live && LOAD(w->state) == SHM_W_RUNNING && LOAD(w->pid) > 0)
            running++;
        restarts += LOAD(w->restarts);
        conns += LOAD(w->connections);
    }
    out_header(o, "crunchd_workers", "gauge", "Worker processes serving now.");
    out_printf(o, "crunchd_workers %d\n", running);
    out_header(o, "crunchd_worker_restarts_total", "counter",
               "Workers respawned after they died or hung.");
    out_printf(o, "crunchd_worker_restarts_total %llu\n", (unsigned long long)restarts);
    out_header(o, "crunchd_connections", "gauge", "Open client connections, over all workers.");
    out_printf(o, "crunchd_connections %d\n", conns < 0 ? 0 : conns);
}

int metrics_render(const shm_region *shm, bool debug, char **text, size_t *len)
{
    out o = {0};
    int nslots = atomic_load(&shm->metrics.slots_used);
    if (nslots > SHM_MAX_WORKERS)
        nslots = SHM_MAX_WORKERS;
    render_http(&o, shm, nslots);
    render_jobs(&o, shm, nslots, debug);
    render_tokens(&o, shm, nslots);
    render_workers(&o, shm);
    if (o.failed) {
        free(o.p);
        *text = NULL;
        *len = 0;
        return -1;
    }
    *text = o.p;
    *len = o.len;
    return 0;
}
