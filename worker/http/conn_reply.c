/*
 * conn_reply.c - replies out: the one reply a request ends in (or the drop
 * of an orphan's), its metrics and access log line, and the move to the
 * next request. See conn.h.
 */
#include "conn_int.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "budget.h"
#include "http_resp.h"
#include "metrics.h"
#include "slot.h"
#include "wire.h"

static void conn_finish(conn *c)
{
    assert(c->state == CONN_HANDLER);
    slot_count_request(c->cs->e);
    c->in_off += c->head_len + c->raw_body;
    c->head_len = c->raw_body = c->body_len = 0;
    if (c->in_off == c->in.len) {
        /* Nothing pipelined: a large body's buffer is not kept for the
         * rest of a keep-alive connection. */
        c->in.len = c->in_off = 0;
        buf_shrink(&c->in, BUF_KEEP);
    }
    c->served_one = true;
    c->job_id[0] = '\0';
    c->reply_headers = NULL;
    c->label = -1;
    c->user = NULL;
    c->on_gone = NULL;
    conn_body_release(c);
    c->since_ms = shm_mono_ms();
    c->t0_us = conn_now_us(); /* a pipelined request already waiting starts now */
    if (!c->keep_alive)
        c->close_after = true;
    conn_set_state(c, CONN_HEAD);
    if (!c->in_process)
        conn_process(c); /* a deferred reply: go on with queued requests */
}

static http_resp conn_resp(conn *c, int status, const char *content_type, const char *extra)
{
    if (c->cs->e->draining)
        c->keep_alive = false;
    http_resp r = {
        .status = status,
        .content_type = content_type,
        .keep_alive = c->keep_alive,
        .http10 = c->req.version_minor == 0 && c->req.method != HTTP_OTHER,
        .head_only = c->req.method == HTTP_HEAD,
        .extra = extra,
        .req_extra = c->reply_headers,
    };
    return r;
}

/* Bytes of the body of the reply appended at out[start..]; 0 for a reply
 * that was not sent (start is SIZE_MAX). */
static uint64_t body_bytes_since(const conn *c, size_t start)
{
    if (start == SIZE_MAX)
        return 0;
    const char *p = c->out.p + start, *end = c->out.p + c->out.len;
    const char *hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
    return hdr_end ? (uint64_t)(end - (hdr_end + 4)) : 0;
}

/* Metrics and the access log for the reply appended at out[start..] (or
 * SIZE_MAX: none was sent). */
static void conn_record(conn *c, int status, size_t start)
{
    conns *cs = c->cs;
    int64_t us = conn_now_us() - c->t0_us;
    conn_refresh_req(c);
    const http_request *q = &c->req;
    int label = c->label >= 0 ? c->label : cs->app->label(q->path.p, q->path.n);
    metrics_http(cs->e->shm, cs->e->slot, (metrics_route)label, status, us);
    if (c->user)
        metrics_token(cs->e->shm, cs->e->slot, c->user_series, status);
    if (!access_log_enabled(cs->al))
        return;
    access_log_entry e = {
        .remote = c->remote,
        .user = c->user,
        .method = q->method_name.n ? q->method_name.p : NULL,
        .method_len = q->method_name.n,
        .target = q->target.n ? q->target.p : NULL,
        .target_len = q->target.n,
        .version_minor = q->method_name.n ? q->version_minor : -1,
        .status = status,
        .bytes = body_bytes_since(c, start),
        .duration_us = us,
        .job_id = c->job_id[0] ? c->job_id : NULL,
    };
    access_log_write(cs->al, &e);
}

void conn_drop(conn *c)
{
    assert(c->state == CONN_ORPHAN);
    conn_record(c, HTTP_CLIENT_GONE, SIZE_MAX);
    conn_free(c);
}

bool conn_orphaned(const conn *c)
{
    return c->state == CONN_ORPHAN;
}

void conn_reply(conn *c, int status, const char *content_type, const char *body, size_t len,
                const char *extra)
{
    if (c->state == CONN_ORPHAN) {
        conn_drop(c);
        return;
    }
    http_resp r = conn_resp(c, status, content_type, extra);
    size_t start = c->out.len;
    http_resp_write(&c->out, &r, body, len);
    budget_note(c->cs->e, (int64_t)len); /* a large one: memory to give back after a burst */
    conn_record(c, status, start);
    conn_finish(c);
}

bool conn_hold_reply(conn *c, size_t len)
{
    if (len < CONN_HOLD_REPLY_MIN)
        return true;
    if (budget_take(c->cs->e, BUDGET_BODY, (int64_t)len)) {
        c->reply_held += (int64_t)len;
        return true;
    }
    conn_reply_error_hdr(c, 503, ERR_BUSY, CONN_BUSY_MESSAGE, NULL, "Retry-After: 1\r\n");
    return false;
}

void conn_reply_error(conn *c, int status, const char *code, const char *message, const char *arg)
{
    conn_reply_error_hdr(c, status, code, message, arg, NULL);
}

void conn_reply_error_hdr(conn *c, int status, const char *code, const char *message,
                          const char *arg, const char *extra)
{
    if (c->state == CONN_ORPHAN) {
        conn_drop(c);
        return;
    }
    http_resp r = conn_resp(c, status, CT_JSON, extra);
    size_t start = c->out.len;
    http_resp_error(&c->out, &r, code, message, arg);
    conn_record(c, status, start);
    conn_finish(c);
}

void conn_defer(conn *c, conn_gone_fn *gone, void *arg)
{
    assert(c->state == CONN_HANDLER);
    c->on_gone = gone;
    c->gone_arg = arg;
}

void conn_set_reply_headers(conn *c, const char *lines)
{
    c->reply_headers = lines;
}

void conn_set_label(conn *c, int label)
{
    c->label = label;
}

void conn_set_user(conn *c, const char *name, int series)
{
    c->user = name;
    c->user_series = series;
}

void conn_set_job_id(conn *c, const char *id)
{
    snprintf(c->job_id, sizeof(c->job_id), "%s", id);
}
