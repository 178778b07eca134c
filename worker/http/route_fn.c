#include "route_fn.h"

#include <stdio.h>
#include <string.h>

#include "call.h"
#include "request.h"
#include "utf8.h"
#include "wire.h"

/* ?timeout_ms=N: 1 .. jobs.max_timeout_ms; absent: jobs.default_timeout_ms.
 * Returns -1 after replying 400. */
static int query_timeout(conn *c, const http_request *req, int64_t *out)
{
    const config_jobs *limits = &conn_engine(c)->cfg->jobs;
    char vbuf[REQUEST_QUERY_MAX];
    http_slice v;
    int found = request_query(c, req, "timeout_ms", vbuf, &v);
    *out = limits->default_timeout_ms;
    if (found <= 0)
        return found;
    int64_t ms = request_uint(v, limits->max_timeout_ms);
    if (ms < 1) {
        char msg[128];
        snprintf(msg, sizeof(msg), "timeout_ms: must be an integer from 1 to %lld",
                 (long long)limits->max_timeout_ms);
        conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, "timeout_ms");
        return -1;
    }
    *out = ms;
    return 0;
}

/* The call's one answer. */
static void fn_answer(void *arg, const call_result *r)
{
    conn *c = arg;
    if (r->job_id)
        conn_set_job_id(c, r->job_id);
    if (r->status != SVC_OK) {
        request_reply_svc(c, r->status, r->message, r->arg, 0);
        return;
    }
    buf *b = request_scratch();
    buf_append_str(b, "{\"result\":");
    if (r->result_text)
        buf_append(b, r->result_text, r->result_len);
    else
        request_append_json(b, r->result);
    buf_append_str(b, ",\"fn\":\"");
    buf_append_str(b, r->fn);
    buf_append_str(b, "\",\"run_ms\":");
    buf_append_ms3(b, (uint64_t)(r->run_us < 0 ? 0 : r->run_us));
    buf_append_str(b, ",\"cpu_ms\":");
    buf_append_ms3(b, (uint64_t)(r->cpu_us < 0 ? 0 : r->cpu_us));
    buf_append_str(b, ",\"worker\":");
    buf_append_u64(b, (uint64_t)r->worker_pid);
    buf_append_str(b, "}");
    conn_reply(c, 200, CT_JSON, b->p, b->len, NULL);
}

/* The client left: the call stops, and nobody answers. */
static void fn_gone(conn *c, void *arg)
{
    call_abandon(arg);
    conn_drop(c);
}

void route_fn_post(conn *c, const http_request *req, const svc_caller *who, const char *body,
                   size_t len)
{
    engine *e = conn_engine(c);
    http_slice name = {req->path.p + strlen(ROUTE_FN_PREFIX),
                       req->path.n - strlen(ROUTE_FN_PREFIX)};
    const fn_desc *fn = fn_find(name.p, name.n, e->cfg->debug_functions);
    if (!fn) {
        char echo[UTF8_ECHO_SIZE], msg[UTF8_ECHO_SIZE + 32];
        snprintf(msg, sizeof(msg), "no function named \"%s\"", utf8_echo(echo, name.p, name.n));
        conn_reply_error(c, 404, ERR_UNKNOWN_FUNCTION, msg, NULL);
        return;
    }
    if (!request_json_ok(req)) {
        conn_reply_error(c, 415, ERR_UNSUPPORTED_MEDIA, "Content-Type must be application/json",
                         NULL);
        return;
    }
    int64_t timeout_ms;
    if (query_timeout(c, req, &timeout_ms) < 0)
        return;
    int64_t held = 0;
    json_t *raw = NULL;
    if (len > 0 && !(raw = request_parse_body(c, body, len, &held)))
        return;
    call *h = call_start(e, who, fn, raw, held, timeout_ms, fn_answer, c);
    json_decref(raw); /* the call holds what it needs */
    if (h)
        conn_defer(c, fn_gone, h);
}
