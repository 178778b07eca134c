#include "handlers.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fn.h"
#include "job.h"
#include "jobs.h"
#include "jobs_http.h"
#include "log.h"
#include "metrics.h"
#include "utf8.h"
#include "wire.h"

#define JSON_MAX_DEPTH 64

static const char BODY_HEALTHY[] = "{\"status\":\"ok\"}";
static const char BODY_READY[] = "{\"status\":\"ready\"}";

/* Response bodies are built here, then copied into the connection's buffer.
 * Loop thread only. */
static buf scratch;

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

/* "application/json", optionally with parameters; absent is accepted. */
bool handlers_content_type_ok(const http_request *req)
{
    static const char json[] = "application/json";
    const http_slice *ct = &req->content_type;
    if (ct->n == 0)
        return true;
    if (ct->n < sizeof(json) - 1 || strncasecmp(ct->p, json, sizeof(json) - 1) != 0)
        return false;
    return ct->n == sizeof(json) - 1 || ct->p[sizeof(json) - 1] == ';' ||
           ct->p[sizeof(json) - 1] == ' ';
}

/* Nesting depth of a JSON text, counted outside strings; jansson would accept
 * 2048 levels, which is far more than any function's arguments need. */
static bool json_depth_ok(const char *p, size_t n, int max)
{
    int depth = 0;
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
            if (++depth > max)
                return false;
        } else if (ch == ']' || ch == '}') {
            depth--;
        }
    }
    return true;
}

/* Parses a request body; on failure replies 400 bad_json and returns NULL. */
json_t *handlers_parse_body(conn *c, const char *body, size_t len)
{
    if (!json_depth_ok(body, len, JSON_MAX_DEPTH)) {
        conn_reply_error(c, 400, ERR_BAD_JSON, "JSON nested deeper than 64 levels", NULL);
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        char msg[256];
        snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        conn_reply_error(c, 400, ERR_BAD_JSON, msg, NULL);
    }
    return v;
}

/* Only names made of [A-Za-z0-9_.-] are echoed back in messages. */
static bool name_printable(http_slice s)
{
    if (s.n == 0 || s.n > 64)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
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
    call->status = call->fn->run(call->args, &call->ctx, &call->result);
    call->run_us = call->cpu_us = (fn_now_ns() - t0) / 1000;
}

static void call_free(fn_call *call)
{
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
    metrics_job(w->shm, w->slot, metrics_fn_index(w->shm, call->fn->name), st, call->run_us);
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
    bool found = false;
    http_slice v = http_query_get(req->query, "timeout_ms", &found);
    *out = limits->default_timeout_ms;
    if (!found)
        return 0;
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
 * NULL after replying 400. */
static json_t *call_args(conn *c, const fn_desc *fn, const char *body, size_t len)
{
    json_t *raw = NULL;
    if (len > 0 && !(raw = handlers_parse_body(c, body, len)))
        return NULL;
    json_t *args = NULL;
    char bad[UTF8_ECHO_SIZE], msg[256];
    if (fn_validate(fn, raw, &args, bad, sizeof(bad), msg, sizeof(msg)) < 0)
        conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, bad[0] ? bad : NULL);
    json_decref(raw);
    return args;
}

static void handle_fn(conn *c, const http_request *req, const char *body, size_t len)
{
    wctx *w = conn_worker(c);
    http_slice name = {req->path.p + strlen(ROUTE_FN_PREFIX), req->path.n - strlen(ROUTE_FN_PREFIX)};
    const fn_desc *fn = fn_find(name.p, name.n, w->cfg->debug_functions);
    if (!fn) {
        char msg[128];
        snprintf(msg, sizeof(msg), "no function named \"%.*s\"", name_printable(name) ? (int)name.n : 0,
                 name.p);
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
    json_t *args = call_args(c, fn, body, len);
    if (!args)
        return;
    int64_t cost = fn->cost_ns ? fn->cost_ns(args) : FN_INLINE_NS;
    if (fn->kind == FN_CPU && cost >= FN_OFFLOAD_NS && w->busy_cpu >= w->cfg->cpu_threads &&
        jobs_other_free(w, FN_CPU)) {
        /* Our lane is taken and another worker's is free: go through the
         * shared queue rather than leave that CPU idle. */
        jobs_http_offload(c, fn, args, timeout_ms);
        return;
    }
    fn_call *call = calloc(1, sizeof(*call));
    if (!call) {
        json_decref(args);
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    call->c = c;
    call->w = w;
    call->fn = fn;
    call->args = args;
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
    conn_defer(c);
    if (fn->kind == FN_IO)
        w->busy_io++;
    else
        w->busy_cpu++;
    pool_submit(fn->kind == FN_IO ? w->io : w->cpu, &call->task);
}

/* ---- routing ----------------------------------------------------------- */

enum { M_GET = 1, M_POST = 2, M_DELETE = 4 };

typedef struct route {
    const char *path;
    bool prefix;
    unsigned methods;
    const char *allow;   /* the Allow header for 405 */
    handler_fn fn;
} route;

static const route routes[] = {
    {ROUTE_HEALTHZ, false, M_GET, "Allow: GET, HEAD\r\n", handle_healthz},
    {ROUTE_READYZ, false, M_GET, "Allow: GET, HEAD\r\n", handle_readyz},
    {ROUTE_METRICS, false, M_GET, "Allow: GET, HEAD\r\n", handle_metrics},
    {ROUTE_FUNCTIONS, false, M_GET, "Allow: GET, HEAD\r\n", handle_functions},
    {ROUTE_WORKERS, false, M_GET, "Allow: GET, HEAD\r\n", handle_workers},
    {ROUTE_FN_PREFIX, true, M_POST, "Allow: POST\r\n", handle_fn},
    {ROUTE_JOBS, false, M_GET | M_POST, "Allow: GET, HEAD, POST\r\n", jobs_http_collection},
    {ROUTE_JOBS_PREFIX, true, M_GET | M_DELETE, "Allow: GET, HEAD, DELETE\r\n", jobs_http_item},
};

static const route *route_find(http_slice path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        size_t n = strlen(routes[i].path);
        if (routes[i].prefix ? (path.n > n && memcmp(path.p, routes[i].path, n) == 0)
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

void handlers_dispatch(conn *c, const http_request *req, const char *body, size_t len)
{
    const route *r = route_find(req->path);
    if (!r) {
        conn_reply_error(c, 404, ERR_NOT_FOUND, "no such route", NULL);
        return;
    }
    if (!(method_bit(req->method) & r->methods)) {
        static const char body405[] =
            "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"method not allowed on this route\"}}";
        conn_reply(c, 405, CT_JSON, body405, sizeof(body405) - 1, r->allow);
        return;
    }
    r->fn(c, req, body, len);
}

int handlers_init(wctx *w)
{
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
}
