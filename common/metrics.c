/*
 * metrics.c - see metrics.h. Recording is a handful of relaxed atomic adds
 * into the caller's slot; rendering sums the slots and formats the text.
 *
 * The area (shm_metrics_area()) is laid out once, by the first
 * metrics_register_fns() in the master:
 *
 *   metrics_head | names[cap][FN_NAME_MAX] | SHM_MAX_WORKERS slot blocks
 *
 * where a slot block is the HTTP counters then cap function series, its
 * size rounded up to a cache line so no two slots share one.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fn_registry.h"
#include "log.h"
#include "shm.h"
#include "wire.h"

#define CACHE_LINE 64

/* One histogram: per-bucket (not cumulative) counts and the sum. */
typedef struct metrics_hist {
    atomic_uint_fast64_t bucket[METRICS_NBUCKETS];
    atomic_uint_fast64_t sum_us;
} metrics_hist;

/* The HTTP counters of one slot, requests per API token included (by
 * metrics_token_index, by status class). */
typedef struct metrics_http_block {
    atomic_uint_fast64_t http[METRICS_NROUTES][METRICS_NCODES];
    metrics_hist http_duration[METRICS_NROUTES];
    atomic_uint_fast64_t token[METRICS_MAX_TOKENS + 1][METRICS_NCLASSES];
} metrics_http_block;

/* A token name of the series: state 0 free, 1 being written (by the worker
 * that took it), 2 written (then the name never changes). */
typedef struct metrics_token_name {
    atomic_int state;
    char name[METRICS_TOKEN_NAME];
} metrics_token_name;

/* One function's counters in one slot. */
typedef struct metrics_series {
    atomic_uint_fast64_t jobs[METRICS_NJOB_STATES];
    metrics_hist run;
} metrics_series;

typedef struct metrics_head {
    int cap;               /* function series; 0 until laid out */
    size_t stride;         /* bytes of one slot block */
    atomic_int nfns;       /* names written (append-only), published with release */
    atomic_int slots_used; /* highest slot ever recorded into + 1 */
    metrics_token_name token[METRICS_MAX_TOKENS]; /* taken by workers, never given back */
} metrics_head;

static size_t round_up(size_t n)
{
    return (n + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
}

static size_t stride_for(int cap)
{
    return round_up(sizeof(metrics_http_block) + (size_t)cap * sizeof(metrics_series));
}

static size_t names_offset(void)
{
    return round_up(sizeof(metrics_head));
}

static size_t slots_offset(int cap)
{
    return names_offset() + round_up((size_t)cap * FN_NAME_MAX);
}

static size_t area_bytes(int cap)
{
    return slots_offset(cap) + (size_t)SHM_MAX_WORKERS * stride_for(cap);
}

/* The area's parts; NULL head when the region has no metrics area. */
static metrics_head *head_of(const shm_region *shm)
{
    return shm_metrics_bytes(shm) >= sizeof(metrics_head) ? shm_metrics_area(shm) : NULL;
}

static char *name_at(const shm_region *shm, int f)
{
    return (char *)shm_metrics_area(shm) + names_offset() + (size_t)f * FN_NAME_MAX;
}

static metrics_http_block *http_block(const shm_region *shm, const metrics_head *h, int slot)
{
    return (metrics_http_block *)((char *)shm_metrics_area(shm) + slots_offset(h->cap) +
                                  (size_t)slot * h->stride);
}

static metrics_series *series_at(const shm_region *shm, const metrics_head *h, int slot, int f)
{
    return (metrics_series *)((char *)http_block(shm, h, slot) + sizeof(metrics_http_block)) + f;
}

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

size_t metrics_shm_bytes(const fn_registry *r)
{
    return area_bytes(fn_registry_count(r) + METRICS_FN_SPARE);
}

int metrics_fn_capacity(const shm_region *shm)
{
    const metrics_head *h = head_of(shm);
    return h ? h->cap : 0;
}

/* The largest capacity whose area fits the mapped bytes. */
static void lay_out(shm_region *shm, metrics_head *h)
{
    size_t bytes = shm_metrics_bytes(shm);
    int cap = (int)(bytes / (FN_NAME_MAX + SHM_MAX_WORKERS * sizeof(metrics_series)));
    while (cap > 0 && area_bytes(cap) > bytes)
        cap--;
    h->cap = cap;
    h->stride = stride_for(cap);
}

static int series_of(const shm_region *shm, int nfns, const char *name)
{
    for (int f = 0; f < nfns; f++)
        if (strcmp(name_at(shm, f), name) == 0)
            return f;
    return -1;
}

/* Appends " \"name\"" to a list of names kept under a log line's size. */
static void note_dropped(char *list, size_t len, int *listed, const char *name)
{
    size_t used = strlen(list);
    if (used + strlen(name) + 8 >= len)
        return;
    snprintf(list + used, len - used, "%s\"%s\"", used ? ", " : "", name);
    (*listed)++;
}

int metrics_register_fns(shm_region *shm, fn_registry *r)
{
    metrics_head *h = head_of(shm);
    char dropped[1024] = "";
    int ndropped = 0, listed = 0;
    if (h && h->cap == 0)
        lay_out(shm, h);
    int nfns = h ? atomic_load(&h->nfns) : 0;
    for (int i = 0; i < fn_registry_count(r); i++) {
        const char *name = fn_registry_at(r, i)->name;
        int f = series_of(shm, nfns, name);
        if (f < 0 && h && nfns < h->cap) {
            snprintf(name_at(shm, nfns), FN_NAME_MAX, "%s", name);
            f = nfns++;
            atomic_store_explicit(&h->nfns, nfns, memory_order_release);
        }
        fn_registry_set_series(r, i, f);
        if (f < 0) {
            ndropped++;
            note_dropped(dropped, sizeof(dropped), &listed, name);
        }
    }
    if (ndropped > 0)
        log_warn("metrics: no room for the series of %d function%s (%s%s): the shared region was "
                 "sized at start-up for %d function names; they run, without "
                 "crunchd_jobs_total and crunchd_job_run_seconds series, until a restart",
                 ndropped, ndropped == 1 ? "" : "s", dropped, listed < ndropped ? ", ..." : "",
                 h ? h->cap : 0);
    return ndropped;
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
static void note_slot(metrics_head *h, int slot)
{
    int used = atomic_load_explicit(&h->slots_used, memory_order_relaxed);
    while (used <= slot &&
           !atomic_compare_exchange_weak_explicit(&h->slots_used, &used, slot + 1,
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

void metrics_http(shm_region *shm, int slot, metrics_route route, int status, int64_t duration_us)
{
    metrics_head *h = head_of(shm);
    if (!h || h->cap == 0 || slot < 0 || slot >= SHM_MAX_WORKERS || route < 0 ||
        route >= METRICS_NROUTES)
        return;
    metrics_http_block *b = http_block(shm, h, slot);
    note_slot(h, slot);
    ADD(b->http[route][code_index(status)], 1);
    hist_add(&b->http_duration[route], http_bounds_us, duration_us);
}

void metrics_job(shm_region *shm, int slot, int series, metrics_job_state state, int64_t run_us)
{
    metrics_head *h = head_of(shm);
    if (!h || slot < 0 || slot >= SHM_MAX_WORKERS || series < 0 || series >= h->cap ||
        state < 0 || state >= METRICS_NJOB_STATES)
        return;
    metrics_series *f = series_at(shm, h, slot, series);
    note_slot(h, slot);
    ADD(f->jobs[state], 1);
    hist_add(&f->run, job_bounds_us, run_us);
}

int metrics_token_index(shm_region *shm, const char *name)
{
    metrics_head *h = head_of(shm);
    if (!h)
        return -1;
    for (int i = 0; i < METRICS_MAX_TOKENS; i++) {
        metrics_token_name *t = &h->token[i];
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
    metrics_head *h = head_of(shm);
    int cls = status / 100 - 1;
    if (!h || h->cap == 0 || slot < 0 || slot >= SHM_MAX_WORKERS || index < 0 ||
        index > METRICS_TOKEN_OTHER)
        return;
    if (cls < 0 || cls >= METRICS_NCLASSES)
        cls = METRICS_NCLASSES - 1;
    note_slot(h, slot);
    ADD(http_block(shm, h, slot)->token[index][cls], 1);
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

/* One histogram of one slot, picked by get(). */
typedef const metrics_hist *(*hist_get)(const shm_region *shm, const metrics_head *h, int slot,
                                        int i);

static const metrics_hist *get_http_hist(const shm_region *shm, const metrics_head *h, int slot,
                                         int i)
{
    return &http_block(shm, h, slot)->http_duration[i];
}

static const metrics_hist *get_job_hist(const shm_region *shm, const metrics_head *h, int slot,
                                        int i)
{
    return &series_at(shm, h, slot, i)->run;
}

/* Sum over slots of histogram i. */
static void out_hist(out *o, const shm_region *shm, const metrics_head *mh, int nslots,
                     hist_get get, int i, const int64_t *bounds, const char *name,
                     const char *label, const char *value)
{
    uint64_t b[METRICS_NBUCKETS] = {0}, sum = 0, cum = 0;
    for (int s = 0; s < nslots; s++) {
        const metrics_hist *h = get(shm, mh, s, i);
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

static void render_http(out *o, const shm_region *shm, const metrics_head *h, int nslots)
{
    out_header(o, "crunchd_http_requests_total", "counter",
               "HTTP requests answered, by route and status code.");
    for (int r = 0; r < METRICS_NROUTES; r++) {
        for (int c = 0; c < METRICS_NCODES; c++) {
            uint64_t n = 0;
            for (int s = 0; s < nslots; s++)
                n += LOAD(http_block(shm, h, s)->http[r][c]);
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
        out_hist(o, shm, h, nslots, get_http_hist, r, http_bounds_us,
                 "crunchd_http_request_duration_seconds", "route", route_names[r]);
}

/* Series f is shown if its function is ours, or if it ever counted. */
static bool fn_shown(const shm_region *shm, const metrics_head *h, int nslots, int f, bool debug)
{
    const char *name = name_at(shm, f);
    if (fn_find(name, strlen(name), debug))
        return true;
    for (int s = 0; s < nslots; s++) {
        for (int st = 0; st < METRICS_NJOB_STATES; st++) {
            if (LOAD(series_at(shm, h, s, f)->jobs[st]))
                return true;
        }
    }
    return false;
}

static void render_fns(out *o, const shm_region *shm, const metrics_head *h, int nslots,
                       bool debug)
{
    int nfns = atomic_load_explicit(&h->nfns, memory_order_acquire);
    bool *shown = calloc((size_t)nfns + 1, sizeof(*shown));
    if (!shown) {
        o->failed = true;
        return;
    }
    for (int f = 0; f < nfns; f++)
        shown[f] = fn_shown(shm, h, nslots, f, debug);

    out_header(o, "crunchd_jobs_total", "counter",
               "Function runs (calls and jobs) that ended, by function and final state.");
    for (int f = 0; f < nfns; f++) {
        for (int st = 0; st < METRICS_NJOB_STATES && shown[f]; st++) {
            uint64_t n = 0;
            for (int s = 0; s < nslots; s++)
                n += LOAD(series_at(shm, h, s, f)->jobs[st]);
            out_printf(o, "crunchd_jobs_total{fn=\"%s\",state=\"%s\"} %llu\n", name_at(shm, f),
                       job_state_names[st], (unsigned long long)n);
        }
    }
    out_header(o, "crunchd_job_run_seconds", "histogram",
               "Run time of function runs that ended, by function.");
    for (int f = 0; f < nfns; f++) {
        if (shown[f])
            out_hist(o, shm, h, nslots, get_job_hist, f, job_bounds_us,
                     "crunchd_job_run_seconds", "fn", name_at(shm, f));
    }
    free(shown);
}

static void render_tokens(out *o, const shm_region *shm, const metrics_head *h, int nslots)
{
    out_header(o, "crunchd_token_requests_total", "counter",
               "Requests answered per API token (its name, never its secret), by status class.");
    for (int i = 0; i <= METRICS_TOKEN_OTHER; i++) {
        const char *name = "(other)";
        if (i < METRICS_MAX_TOKENS) {
            if (atomic_load_explicit(&h->token[i].state, memory_order_acquire) != 2)
                continue;
            name = h->token[i].name;
        }
        for (int c = 0; c < METRICS_NCLASSES; c++) {
            uint64_t n = 0;
            for (int s = 0; s < nslots; s++)
                n += LOAD(http_block(shm, h, s)->token[i][c]);
            if (n)
                out_printf(o, "crunchd_token_requests_total{token=\"%s\",code=\"%dxx\"} %llu\n",
                           name, c + 1, (unsigned long long)n);
        }
    }
}

static void render_jobs(out *o, const shm_region *shm)
{
    out_header(o, "crunchd_jobs_queued", "gauge", "Jobs waiting in the store.");
    out_printf(o, "crunchd_jobs_queued %lld\n", (long long)LOAD(shm->jobs.queued));
    out_header(o, "crunchd_jobs_running", "gauge", "Jobs running now.");
    out_printf(o, "crunchd_jobs_running %lld\n", (long long)LOAD(shm->jobs.running));
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
    const metrics_head *h = head_of(shm);
    if (h && h->cap > 0) {
        int nslots = atomic_load(&h->slots_used);
        if (nslots > SHM_MAX_WORKERS)
            nslots = SHM_MAX_WORKERS;
        render_http(&o, shm, h, nslots);
        render_fns(&o, shm, h, nslots, debug);
        render_tokens(&o, shm, h, nslots);
    }
    render_jobs(&o, shm);
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
