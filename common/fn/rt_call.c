/*
 * rt_call.c - see rt_call.h. One call is a small conversation over a leased
 * process: write the request (and maybe a cancel line), read lines until the
 * reply; every way out gives the process back, healthy or killed.
 */
#include "rt_call.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_pool.h"
#include "rt_proto.h"
#include "wire.h"

typedef struct call {
    rt_lease l;
    fn_ctx *ctx;
    json_t **result;
    char *req; /* the request line; req_off bytes written */
    size_t req_len, req_off;
    char cancel[RT_CANCEL_LINE_MAX]; /* the cancel line, once asked */
    size_t cancel_len, cancel_off;
    fn_status reason; /* FN_TIMEOUT / FN_CANCELLED once asked to stop */
    int64_t grace_end_ns;
} call;

/* How a step of the conversation went. */
#define GO_ON (-1)

static int64_t ms_left(const fn_ctx *ctx)
{
    if (ctx->deadline_ns == 0)
        return 0;
    int64_t ms = (ctx->deadline_ns - fn_now_ns()) / 1000000;
    return ms < 1 ? 1 : ms;
}

/* Ends the call with the process killed (why logged) and the client told
 * msg; a call asked to stop ends as it was asked. */
static int end_killed(call *c, const char *why, bool on_purpose, fn_status st, const char *msg)
{
    rt_pool_release(&c->l, why, on_purpose);
    if (c->reason != FN_OK)
        return c->reason;
    if (msg)
        snprintf(c->ctx->message, sizeof(c->ctx->message), "%s", msg);
    return st;
}

/* Its stdout ended or its stdin broke: the process is gone. */
static int end_lost(call *c)
{
    char msg[160];
    if (c->reason != FN_OK)
        return end_killed(c, "ended after a cancel", true, c->reason, NULL);
    snprintf(msg, sizeof(msg), "runtime \"%s\" process %d ended during the call", c->l.name,
             (int)c->l.pid);
    return end_killed(c, "ended during a call", false, FN_LOST, msg);
}

/* A line that breaks the protocol: kill, and say so to the client. */
static int end_bad(call *c, const char *why)
{
    char msg[256];
    snprintf(msg, sizeof(msg),
             "runtime \"%s\" broke the protocol (%.150s); its process was "
             "replaced",
             c->l.name, why);
    return end_killed(c, why, true, FN_FAILED, msg);
}

static int on_reply(call *c, rt_reply *r)
{
    if (c->l.reader->len > c->l.reader->start) {
        json_decref(r->value);
        return end_bad(c, "wrote more after its reply");
    }
    rt_pool_release(&c->l, NULL, true);
    if (c->reason != FN_OK) {
        json_decref(r->value);
        return c->reason;
    }
    if (r->kind == RT_REPLY_RESULT) {
        *c->result = r->value;
        return FN_OK;
    }
    if (strcmp(r->code, ERR_FUNCTION_ERROR) == 0)
        snprintf(c->ctx->message, sizeof(c->ctx->message), "%s", r->message);
    else
        snprintf(c->ctx->message, sizeof(c->ctx->message), "%.60s: %.190s", r->code, r->message);
    return FN_FAILED;
}

static int on_line(call *c, const char *line, size_t len)
{
    rt_reply r;
    char why[200], perr[160];
    if (rt_proto_reply_parse(line, len, &r, perr, sizeof(perr)) < 0) {
        snprintf(why, sizeof(why), "sent a line that is not a reply: %s", perr);
        return end_bad(c, why);
    }
    if (r.id != c->l.id) {
        json_decref(r.value);
        snprintf(why, sizeof(why), "sent a reply for id %" PRIu64 " during call %" PRIu64, r.id,
                 c->l.id);
        return end_bad(c, why);
    }
    if (r.kind == RT_REPLY_PROGRESS) {
        atomic_store(&c->ctx->progress, r.progress);
        return GO_ON;
    }
    return on_reply(c, &r);
}

/* Its stdout is readable: every line it holds, up to the reply. */
static int read_lines(call *c)
{
    for (;;) {
        ssize_t n = rt_line_fill(c->l.reader, c->l.out);
        int saved = errno;
        const char *line;
        size_t len;
        int rc;
        while ((rc = rt_line_next(c->l.reader, &line, &len)) == 1) {
            int st = on_line(c, line, len);
            if (st != GO_ON)
                return st;
        }
        if (rc < 0) {
            char why[96], msg[160];
            snprintf(why, sizeof(why), "a reply line longer than max_result_bytes (%" PRId64 ")",
                     c->l.max_result);
            snprintf(msg, sizeof(msg),
                     "the result is larger than max_result_bytes (%" PRId64 " bytes)",
                     c->l.max_result);
            return end_killed(c, why, true, FN_FAILED, msg);
        }
        if (n == 0 || (n < 0 && saved != EAGAIN && saved != EMSGSIZE))
            return end_lost(c);
        if (n < 0)
            return GO_ON;
    }
}

/* Writes what is pending (the request, then the cancel line). */
static int write_pending(call *c)
{
    bool req = c->req_off < c->req_len;
    const char *p = req ? c->req + c->req_off : c->cancel + c->cancel_off;
    size_t left = req ? c->req_len - c->req_off : c->cancel_len - c->cancel_off;
    ssize_t n = write(c->l.in, p, left);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? GO_ON : end_lost(c);
    if (req)
        c->req_off += (size_t)n;
    else
        c->cancel_off += (size_t)n;
    return GO_ON;
}

static bool pending(const call *c)
{
    return c->req_off < c->req_len || c->cancel_off < c->cancel_len;
}

/* At the deadline or on cancel: ask, once; past the grace: kill. */
static int check_stop(call *c, int64_t now)
{
    if (c->reason == FN_OK) {
        if (c->ctx->deadline_ns != 0 && now >= c->ctx->deadline_ns)
            c->reason = FN_TIMEOUT;
        else if (atomic_load(&c->ctx->cancel))
            c->reason = FN_CANCELLED;
        else
            return GO_ON;
        if (c->req_off < c->req_len) /* it never took the request: nothing to ask */
            return end_killed(c, "did not read its request before the call ended", true, c->reason,
                              NULL);
        c->cancel_len = rt_proto_cancel(c->l.id, c->cancel);
        c->grace_end_ns = now + c->l.grace_ms * 1000000;
        return GO_ON;
    }
    if (now < c->grace_end_ns)
        return GO_ON;
    char why[96];
    snprintf(why, sizeof(why), "did not answer a cancel within %" PRId64 " ms", c->l.grace_ms);
    return end_killed(c, why, true, c->reason, NULL);
}

static int converse(call *c)
{
    for (;;) {
        int64_t now = fn_now_ns();
        int st = check_stop(c, now);
        if (st != GO_ON)
            return st;
        int64_t until = c->reason != FN_OK ? c->grace_end_ns : c->ctx->deadline_ns;
        int64_t ms = RT_WAIT_SLICE_MS;
        if (until != 0 && (until - now + 999999) / 1000000 < ms)
            ms = (until - now + 999999) / 1000000;
        struct pollfd p[2] = {{.fd = c->l.out, .events = POLLIN},
                              {.fd = pending(c) ? c->l.in : -1, .events = POLLOUT}};
        if (poll(p, 2, (int)(ms < 0 ? 0 : ms)) < 0 && errno != EINTR)
            return end_killed(c, "poll() failed", true, FN_FAILED, "poll() failed");
        if (p[1].revents && (st = write_pending(c)) != GO_ON)
            return st;
        if (p[0].revents && (st = read_lines(c)) != GO_ON)
            return st;
    }
}

fn_status rt_call_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    call c = {.ctx = ctx, .result = result, .reason = FN_OK};
    fn_status got = rt_pool_acquire(rt_proto_runtime(self), ctx, &c.l);
    if (got != FN_OK)
        return got;
    c.req = rt_proto_request(c.l.id, self->name, args, ms_left(ctx), &c.req_len);
    if (!c.req) {
        rt_pool_release(&c.l, NULL, true);
        snprintf(ctx->message, sizeof(ctx->message), "out of memory");
        return FN_FAILED;
    }
    /* Most requests fit the pipe: written at once, no poll for room. */
    int st = write_pending(&c);
    if (st == GO_ON)
        st = converse(&c);
    free(c.req);
    return (fn_status)st;
}

int rt_call_start(const config *cfg)
{
    return rt_pool_start(cfg, rt_call_run);
}

void rt_call_stop(void)
{
    rt_pool_stop();
}
