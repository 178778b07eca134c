#include "handlers.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"
#include "buf.h"
#include "cors.h"
#include "fn.h"
#include "http_media.h"
#include "http_url.h"
#include "job.h"
#include "jobs.h"
#include "jobs_http.h"
#include "log.h"
#include "metrics.h"
#include "utf8.h"
#include "wire.h"

#define JSON_MAX_DEPTH 64
/* Longest name or path echoed in a message, in bytes (then cut, with "..."). */
#define NAME_QUOTE_MAX 128
/* Longest request path that is decoded: routes are far shorter, so a longer
 * one with a '%' in it is no route (404) without being decoded. */
#define PATH_DECODE_MAX 1024

static const char BODY_HEALTHY[] = "{\"status\":\"ok\"}";
static const char BODY_READY[] = "{\"status\":\"ready\"}";

/* Response bodies are built here, then copied into the connection's buffer.
 * Loop thread only. */
static buf scratch;

/* CORS header lines of this worker (http.cors_origins). Loop thread only. */
static cors *cors_conf;

typedef void (*handler_fn)(conn *c, const http_request *req, const char *body, size_t len);

/* ---- small helpers ---------------------------------------------------- */

static void reply_json_buf(conn *c, int status, buf *b)
{
    conn_reply(c, status, CT_JSON, b->p, b->len, NULL);
}

/* Replies with a jansson value (borrowed). Off the hot path. */
static void reply_json_value(conn *c, int status, json_t *v)
{
    scratch.len = 0;
    size_t need = json_dumpb(v, NULL, 0, JSON_COMPACT);
    buf_reserve(&scratch, need);
    scratch.len = json_dumpb(v, scratch.p, need, JSON_COMPACT);
    reply_json_buf(c, status, &scratch);
}

static void append_json_value(buf *b, json_t *v)
{
    size_t need = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    buf_reserve(b, need);
    b->len += json_dumpb(v, b->p + b->len, need, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* application/json with well-formed parameters; absent is taken as JSON. */
bool handlers_content_type_ok(const http_request *req)
{
    return !req->content_type.p || http_media_type_is(req->content_type, CT_JSON);
}

/* One pass over a JSON text, outside strings: false if it nests deeper than
 * max (jansson would accept 2048 levels, far more than any function's
 * arguments need); else *values counts its values, roughly (separators and
 * openers), for the memory the parsed value takes. */
static bool json_scan(const char *p, size_t n, int max, int64_t *values)
{
    int depth = 0;
    int64_t count = 1;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            count++;
            if (++depth > max)
                return false;
        } else if (ch == ']' || ch == '}') {
            depth--;
        } else if (ch == ',' || ch == ':') {
            count++;
        }
    }
    *values = count;
    return true;
}

/* Parses a request body; on failure replies 400 bad_json and returns NULL. */
json_t *handlers_parse_body(conn *c, const char *body, size_t len, int64_t *held)
{
    int64_t values = 0;
    *held = 0;
    if (!json_scan(body, len, JSON_MAX_DEPTH, &values)) {
        conn_reply_error(c, 400, ERR_BAD_JSON, "JSON nested deeper than 64 levels", NULL);
        return NULL;
    }
    int64_t cost = (int64_t)len + values * BUDGET_VALUE_COST;
    if (!budget_take(conn_worker(c), BUDGET_ARGS, cost)) {
        handlers_reply_busy(c, "limits.max_worker_args_bytes of arguments");
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        budget_give(conn_worker(c), BUDGET_ARGS, cost);
        char msg[256];
        snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        conn_reply_error(c, 400, ERR_BAD_JSON, msg, NULL);
        return NULL;
    }
    *held = cost;
    return v;
}

void handlers_reply_busy(conn *c, const char *limit)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "this worker holds %s already; try again shortly", limit);
    conn_reply_error_hdr(c, 503, ERR_BUSY, msg, NULL, "Retry-After: 1\r\n");
}

/* Length of the valid UTF-8 character at p[0..n) (n > 0), or 0 if none is. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range (RFC 3629 4) */
    size_t len;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, lo = p[0] == 0xe0 ? 0xa0 : lo, hi = p[0] == 0xed ? 0x9f : hi;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, lo = p[0] == 0xf0 ? 0x90 : lo, hi = p[0] == 0xf4 ? 0x8f : hi;
    else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

/*
 * Writes s into out (cap bytes, NUL-terminated) fit for a message: a byte
 * that is a control byte or not part of valid UTF-8 becomes '?', and a longer
 * s is cut on a character boundary and ends in "...". cap is at least 4.
 */
static void quote_for_message(http_slice s, char *out, size_t cap)
{
    /* Each byte out stands for one byte in: s fits whole or is cut. */
    size_t limit = s.n < cap ? s.n : cap - 4, i = 0;
    while (i < s.n) {
        const unsigned char *p = (const unsigned char *)s.p + i;
        size_t n = utf8_len(p, s.n - i);
        bool ok = n > 1 || (n == 1 && p[0] >= 0x20 && p[0] != 0x7f);
        if (!ok)
            n = 1;
        if (i + n > limit)
            break;
        if (ok)
            memcpy(out + i, p, n);
        else
            out[i] = '?';
        i += n;
    }
    if (i < s.n) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* ---- simple routes ----------------------------------------------------- */

static void handle_healthz(conn *c, const http_request *req, const char *body, size_t len)
{
    conn_reply(c, 200, CT_JSON, BODY_HEALTHY, sizeof(BODY_HEALTHY) - 1, NULL);
}

static void handle_readyz(conn *c, const http_request *req, const char *body, size_t len)
{
    if (conn_worker(c)->draining)
        conn_reply_error(c, 503, ERR_DRAINING, "this worker is draining", NULL);
    else
        conn_reply(c, 200, CT_JSON, BODY_READY, sizeof(BODY_READY) - 1, NULL);
}

static void handle_metrics(conn *c, const http_request *req, const char *body, size_t len)
{
    wctx *w = conn_worker(c);
    char *text;
    size_t n;
    if (metrics_render(w->shm, w->cfg->debug_functions, &text, &n) < 0) {
        conn_reply_error(c, 500, ERR_INTERNAL, "rendering the metrics failed", NULL);
        return;
    }
    conn_reply(c, 200, CT_PROMETHEUS, text, n, NULL);
    free(text);
}

static void handle_functions(conn *c, const http_request *req, const char *body, size_t len)
{
    wctx *w = conn_worker(c);
    conn_reply(c, 200, CT_JSON, w->functions_json, w->functions_len, NULL);
}

static json_t *worker_slot_json(const shm_worker *s, int slot)
{
    char started[32];
    job_format_time(atomic_load(&s->started_at_ms) * 1000, started);
    int code = atomic_load(&s->last_exit_code), sig = atomic_load(&s->last_exit_signal);
    unsigned restarts = atomic_load(&s->restarts);
    json_t *last = (restarts == 0 && code <= 0 && sig == 0 && atomic_load(&s->state) != SHM_W_DEAD)
                       ? json_null()
                       : json_pack("{s:o, s:o}", "code", code >= 0 ? json_integer(code) : json_null(),
                                   "signal", sig ? json_integer(sig) : json_null());
    return json_pack("{s:i, s:i, s:I, s:s, s:I, s:I, s:s, s:I, s:o, s:i}", "slot", slot, "pid",
                     atomic_load(&s->pid), "incarnation", (json_int_t)atomic_load(&s->incarnation), "started_at",
                     started, "requests", (json_int_t)atomic_load(&s->requests),
                     "jobs", (json_int_t)atomic_load(&s->jobs), "state",
                     shm_state_name(atomic_load(&s->state)), "restarts", (json_int_t)restarts,
                     "last_exit", last, "connections", atomic_load(&s->connections));
}

static void handle_workers(conn *c, const http_request *req, const char *body, size_t len)
{
    wctx *w = conn_worker(c);
    json_t *list = json_array();
    int n = atomic_load(&w->shm->nslots);
    for (int i = 0; i < n && i < SHM_MAX_WORKERS; i++)
        json_array_append_new(list, worker_slot_json(&w->shm->w[i], i));
    char started[32];
    job_format_time(atomic_load(&w->shm->started_at_ms) * 1000, started);
    json_t *v = json_pack("{s:i, s:s, s:o}", "master_pid", atomic_load(&w->shm->master_pid),
                          "started_at", started, "workers", list);
    if (!v) {
        conn_reply_error(c, 500, ERR_INTERNAL, "building the worker list failed", NULL);
        return;
    }
    reply_json_value(c, 200, v);
    json_decref(v);
}

/* ---- POST /v1/fn/{name}: Pool.apply ------------------------------------ */

/* One synchronous function call. Owned by the loop thread except between
 * pool_submit and done(), when only run() (on a pool thread) touches it,
 * apart from ctx.cancel. */
typedef struct fn_call {
    pool_task task;           /* first: the task is the call */
    conn *c;                  /* NULL once replied (timeout) */
    wctx *w;
    const fn_desc *fn;
    json_t *args;             /* new reference, validated */
    json_t *result;           /* new reference from run(), or NULL */
    fn_ctx ctx;
    fn_status status;
    int64_t run_us, cpu_us;
    struct event *deadline;   /* loop timer at timeout_ms */
    int64_t charged;          /* BUDGET_ARGS taken for args */
} fn_call;

static void call_run(pool_task *t)
{
    fn_call *call = (fn_call *)t;
    call->status = fn_run_timed(call->fn, call->args, &call->ctx, &call->result, &call->run_us,
                                &call->cpu_us);
}

/* The same on the loop thread, for a call of a few microseconds: the loop
 * does nothing else meanwhile, so its CPU time is its run time, and the
 * thread CPU clock (a system call, not a vDSO read) is not worth asking. */
static void call_run_inline(fn_call *call)
{
    int64_t t0 = fn_now_ns();
    call->status = fn_run(call->fn, call->args, &call->ctx, &call->result);
    call->run_us = call->cpu_us = (fn_now_ns() - t0) / 1000;
}

static void call_free(fn_call *call)
{
    budget_give(call->w, BUDGET_ARGS, call->charged);
    if (call->deadline)
        event_free(call->deadline);
    json_decref(call->args);
    json_decref(call->result);
    free(call);
}

void handlers_reply_call(conn *c, const char *fn_name, fn_status status, json_t *result,
                         int64_t run_us, int64_t cpu_us, int worker_pid, const char *message)
{
    switch (status) {
    case FN_OK:
        scratch.len = 0;
        buf_append_str(&scratch, "{\"result\":");
        append_json_value(&scratch, result);
        buf_append_str(&scratch, ",\"fn\":\"");
        buf_append_str(&scratch, fn_name);
        buf_append_str(&scratch, "\",\"run_ms\":");
        buf_append_ms3(&scratch, (uint64_t)(run_us < 0 ? 0 : run_us));
        buf_append_str(&scratch, ",\"cpu_ms\":");
        buf_append_ms3(&scratch, (uint64_t)(cpu_us < 0 ? 0 : cpu_us));
        buf_append_str(&scratch, ",\"worker\":");
        buf_append_u64(&scratch, (uint64_t)worker_pid);
        buf_append_str(&scratch, "}");
        reply_json_buf(c, 200, &scratch);
        return;
    case FN_TIMEOUT:
    case FN_CANCELLED:
        conn_reply_error(c, 504, ERR_TIMEOUT, "the call did not finish within timeout_ms", NULL);
        return;
    case FN_FAILED:
        conn_reply_error(c, 422, ERR_FUNCTION_ERROR, message, NULL);
        return;
    case FN_LOST: /* a language runtime's process died under the call */
        conn_reply_error(c, 502, ERR_WORKER_LOST, message, NULL);
        return;
    }
}

static void call_reply(fn_call *call)
{
    conn *c = call->c;
    call->c = NULL;
    handlers_reply_call(c, call->fn->name, call->status, call->result, call->run_us,
                        call->cpu_us, (int)getpid(), call->ctx.message);
}

/* Loop thread: the result is home. */
static void call_done(pool_task *t)
{
    fn_call *call = (fn_call *)t;
    wctx *w = call->w;
    atomic_fetch_add_explicit(&w->me->jobs, 1, memory_order_relaxed);
    metrics_job_state st = call->status == FN_OK          ? METRICS_JOB_SUCCEEDED
                           : call->status == FN_CANCELLED ? METRICS_JOB_CANCELLED
                                                          : METRICS_JOB_FAILED;
    metrics_job(w->shm, w->slot, call->fn->series, st, call->run_us);
    if (call->c)
        call_reply(call);
    bool pooled = call->deadline != NULL; /* inline calls never took a lane */
    if (pooled) {
        if (call->fn->kind == FN_IO)
            w->busy_io--;
        else
            w->busy_cpu--;
    }
    call_free(call);
    if (pooled)
        jobs_lane_freed(w);
}

/* Loop thread: the client left. Ask the function to stop; its lane frees
 * when it does, and its reply is dropped. */
static void call_gone(void *arg)
{
    fn_call *call = arg;
    atomic_store(&call->ctx.cancel, 1);
}

/* Loop thread: timeout_ms passed. Ask the function to stop and answer now;
 * the lane finishes (or abandons) the run on its own. */
static void call_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    fn_call *call = arg;
    atomic_store(&call->ctx.cancel, 1);
    if (call->c) {
        conn *c = call->c;
        call->c = NULL;
        conn_reply_error(c, 504, ERR_TIMEOUT, "the call did not finish within timeout_ms", NULL);
    }
}

/*
 * ?timeout_ms=N: 1 .. jobs.max_timeout_ms; absent: jobs.default_timeout_ms.
 * Returns -1 after replying 400.
 */
static int query_timeout(conn *c, const http_request *req, int64_t *out)
{
    const config_jobs *limits = &conn_worker(c)->cfg->jobs;
    char vbuf[HANDLERS_QUERY_MAX];
    http_slice v;
    int found = handlers_query(c, req, "timeout_ms", vbuf, &v);
    *out = limits->default_timeout_ms;
    if (found <= 0)
        return found;
    int64_t ms = 0;
    bool ok = v.n > 0 && v.n <= 12;
    for (size_t i = 0; ok && i < v.n; i++) {
        ok = v.p[i] >= '0' && v.p[i] <= '9';
        ms = ms * 10 + (v.p[i] - '0');
    }
    if (!ok || ms < 1 || ms > limits->max_timeout_ms) {
        char msg[128];
        snprintf(msg, sizeof(msg), "timeout_ms: must be an integer from 1 to %lld",
                 (long long)limits->max_timeout_ms);
        conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, "timeout_ms");
        return -1;
    }
    *out = ms;
    return 0;
}

/* Validates the body against fn; returns the arguments (new reference) or
 * NULL after replying 400; *mem: what they take (BUDGET_ARGS). */
static json_t *call_args(conn *c, const fn_desc *fn, const char *body, size_t len, int64_t *mem)
{
    json_t *raw = NULL;
    *mem = 0;
    if (len > 0 && !(raw = handlers_parse_body(c, body, len, mem)))
        return NULL;
    json_t *args = NULL;
    char bad[UTF8_ECHO_SIZE], msg[256];
    if (fn_validate(fn, raw, &args, bad, sizeof(bad), msg, sizeof(msg)) < 0) {
        budget_give(conn_worker(c), BUDGET_ARGS, *mem);
        *mem = 0;
        conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, bad[0] ? bad : NULL);
    }
    json_decref(raw);
    return args;
}

static void handle_fn(conn *c, const http_request *req, const char *body, size_t len)
{
    wctx *w = conn_worker(c);
    /* The route holds one segment after the prefix, decoded: the name. */
    http_slice name = {req->path.p + strlen(ROUTE_FN_PREFIX), req->path.n - strlen(ROUTE_FN_PREFIX)};
    const fn_desc *fn = fn_find(name.p, name.n, w->cfg->debug_functions);
    if (!fn) {
        char quoted[NAME_QUOTE_MAX], msg[NAME_QUOTE_MAX + 32];
        quote_for_message(name, quoted, sizeof(quoted));
        snprintf(msg, sizeof(msg), "no function named \"%s\"", quoted);
        conn_reply_error(c, 404, ERR_UNKNOWN_FUNCTION, msg, NULL);
        return;
    }
    if (!handlers_content_type_ok(req)) {
        conn_reply_error(c, 415, ERR_UNSUPPORTED_MEDIA, "Content-Type must be application/json", NULL);
        return;
    }
    int64_t timeout_ms;
    if (query_timeout(c, req, &timeout_ms) < 0)
        return;
    int64_t mem;
    json_t *args = call_args(c, fn, body, len, &mem);
    if (!args)
        return;
    int64_t cost = fn->cost_ns ? fn->cost_ns(args) : FN_INLINE_NS;
    if (fn->kind == FN_CPU && cost >= FN_OFFLOAD_NS && w->busy_cpu >= w->cfg->cpu_threads &&
        jobs_other_free(w, FN_CPU)) {
        /* Our lane is taken and another worker's is free: go through the
         * shared queue rather than leave that CPU idle. */
        jobs_http_offload(c, fn, args, timeout_ms, mem);
        return;
    }
    fn_call *call = calloc(1, sizeof(*call));
    if (!call) {
        json_decref(args);
        budget_give(w, BUDGET_ARGS, mem);
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    call->c = c;
    call->w = w;
    call->fn = fn;
    call->args = args;
    call->charged = mem;
    fn_ctx_init(&call->ctx, fn_now_ns() + timeout_ms * 1000000, w->cfg->data_dir);
    call->task.run = call_run;
    call->task.done = call_done;
    if (cost < FN_INLINE_NS) {
        /* Cheaper than a hand-off to a thread and back: run it here. */
        call_run_inline(call);
        call_done(&call->task);
        return;
    }
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    call->deadline = evtimer_new(w->base, call_on_deadline, call);
    if (!call->deadline) {
        call_free(call);
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    evtimer_add(call->deadline, &tv);
    conn_defer(c, call_gone, call);
    if (fn->kind == FN_IO)
        w->busy_io++;
    else
        w->busy_cpu++;
    pool_submit(fn->kind == FN_IO ? w->io : w->cpu, &call->task);
}

/* ---- query parameters -------------------------------------------------- */

int handlers_query(conn *c, const http_request *req, const char *key, char *vbuf, http_slice *v)
{
    int rc = http_url_query(req->query, key, vbuf, HANDLERS_QUERY_MAX, v);
    if (rc < 0) {
        /* handlers_dispatch refused malformed escapes: this is a NUL or length */
        char msg[128];
        snprintf(msg, sizeof(msg), "%s: must decode to at most %d bytes, none of them NUL", key,
                 HANDLERS_QUERY_MAX);
        conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, key);
    }
    return rc;
}

/* ---- routing ----------------------------------------------------------- */

enum { M_GET = 1, M_POST = 2, M_DELETE = 4 };

#define METHODS_GET "GET, HEAD, OPTIONS"
#define METHODS_FN "POST, OPTIONS"
#define METHODS_JOBS "GET, HEAD, POST, OPTIONS"
#define METHODS_JOB "GET, HEAD, DELETE, OPTIONS"
#define METHODS_ANY "GET, HEAD, POST, DELETE, OPTIONS" /* OPTIONS * */

typedef struct route {
    const char *path;
    bool prefix;         /* path is a prefix followed by exactly one segment */
    unsigned methods;
    const char *allow;   /* the methods, for Allow (405, OPTIONS) and preflights */
    handler_fn fn;
} route;

static const route routes[] = {
    {ROUTE_HEALTHZ, false, M_GET, METHODS_GET, handle_healthz},
    {ROUTE_READYZ, false, M_GET, METHODS_GET, handle_readyz},
    {ROUTE_METRICS, false, M_GET, METHODS_GET, handle_metrics},
    {ROUTE_FUNCTIONS, false, M_GET, METHODS_GET, handle_functions},
    {ROUTE_WORKERS, false, M_GET, METHODS_GET, handle_workers},
    {ROUTE_FN_PREFIX, true, M_POST, METHODS_FN, handle_fn},
    {ROUTE_JOBS, false, M_GET | M_POST, METHODS_JOBS, jobs_http_collection},
    {ROUTE_JOBS_PREFIX, true, M_GET | M_DELETE, METHODS_JOB, jobs_http_item},
};

/* path is decoded: its '/' are the segment boundaries as sent. */
static const route *route_find(http_slice path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        size_t n = strlen(routes[i].path);
        if (routes[i].prefix ? (path.n > n && memcmp(path.p, routes[i].path, n) == 0 &&
                                !memchr(path.p + n, '/', path.n - n))
                             : (path.n == n && memcmp(path.p, routes[i].path, n) == 0))
            return &routes[i];
    }
    return NULL;
}

static unsigned method_bit(http_method m)
{
    switch (m) {
    case HTTP_GET:
    case HTTP_HEAD: return M_GET;
    case HTTP_POST: return M_POST;
    case HTTP_DELETE: return M_DELETE;
    default: return 0;
    }
}

/* 404 naming the path as the client sent it. */
static void reply_no_route(conn *c, http_slice raw_path)
{
    char quoted[NAME_QUOTE_MAX], msg[NAME_QUOTE_MAX + 32];
    quote_for_message(raw_path, quoted, sizeof(quoted));
    snprintf(msg, sizeof(msg), "no route for \"%s\"", quoted);
    conn_reply_error(c, 404, ERR_NOT_FOUND, msg, NULL);
}

static void reply_405(conn *c, const char *methods)
{
    static const char body405[] =
        "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"method not allowed on this route\"}}";
    char allow[128];
    snprintf(allow, sizeof(allow), HDR_ALLOW ": %s\r\n", methods);
    conn_reply(c, 405, CT_JSON, body405, sizeof(body405) - 1, allow);
}

/* OPTIONS: 204 with Allow, and for a CORS preflight from an allowed origin
 * what the browser asks (the request's CORS lines are already set). */
static void reply_options(conn *c, const http_request *req, const char *methods, bool cors_ok)
{
    char extra[512];
    int n = snprintf(extra, sizeof(extra), HDR_ALLOW ": %s\r\n", methods);
    if (cors_ok && cors_is_preflight(req))
        cors_preflight(methods, extra + n, sizeof(extra) - (size_t)n);
    conn_reply(c, 204, NULL, "", 0, extra);
}

/*
 * Percent-decoding (only when the target has a '%'): malformed escapes
 * anywhere are 400; *req_io becomes a copy of the request whose path is the
 * decoded one in path_buf (PATH_DECODE_MAX bytes). Returns -1 after replying.
 */
static int decode_target(conn *c, const http_request **req_io, http_request *copy, char *path_buf)
{
    const http_request *req = *req_io;
    static const char bad[] = "malformed percent-encoding in the request target, or an encoded "
                              "'/' or NUL byte in a path segment";
    bool path_pct = memchr(req->path.p, '%', req->path.n) != NULL;
    size_t n;
    if (!http_url_valid(req->query) || (path_pct && !http_url_valid(req->path))) {
        conn_reply_error(c, 400, ERR_BAD_REQUEST, bad, NULL);
        return -1;
    }
    if (!path_pct)
        return 0;
    if (req->path.n > PATH_DECODE_MAX) {
        reply_no_route(c, req->path);
        return -1;
    }
    if (http_url_decode_path(req->path, path_buf, &n) < 0) {
        conn_reply_error(c, 400, ERR_BAD_REQUEST, bad, NULL);
        return -1;
    }
    *copy = *req; /* only here: a request is some 2 KiB */
    copy->path = (http_slice){path_buf, n};
    *req_io = copy;
    return 0;
}

void handlers_dispatch(conn *c, const http_request *req, const char *body, size_t len)
{
    const char *cors_lines = cors_headers(cors_conf, req);
    http_request decoded;
    char path_buf[PATH_DECODE_MAX];
    const http_slice raw_path = req->path;

    if (cors_lines)
        conn_set_reply_headers(c, cors_lines);
    if (raw_path.n == 1 && raw_path.p[0] == '*') { /* OPTIONS *: the parser allows no other */
        reply_options(c, req, METHODS_ANY, cors_lines != NULL);
        return;
    }
    if ((memchr(req->path.p, '%', req->path.n) ||
         (req->query.n && memchr(req->query.p, '%', req->query.n))) &&
        decode_target(c, &req, &decoded, path_buf) < 0)
        return;
    const route *r = route_find(req->path);
    if (!r)
        reply_no_route(c, raw_path);
    else if (req->method == HTTP_OPTIONS)
        reply_options(c, req, r->allow, cors_lines != NULL);
    else if (!(method_bit(req->method) & r->methods))
        reply_405(c, r->allow);
    else
        r->fn(c, req, body, len);
}

int handlers_init(wctx *w)
{
    cors_conf = cors_new(&w->cfg->http);
    if (!cors_conf)
        return -1;
    json_t *v = fn_list_json(w->cfg->debug_functions);
    if (!v)
        return -1;
    w->functions_json = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!w->functions_json)
        return -1;
    w->functions_len = strlen(w->functions_json);
    return 0;
}

void handlers_release(wctx *w)
{
    free(w->functions_json);
    w->functions_json = NULL;
    buf_release(&scratch);
    cors_free(cors_conf);
    cors_conf = NULL;
}
