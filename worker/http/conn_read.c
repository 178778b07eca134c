/*
 * conn_read.c - requests in: the head, the body (Content-Length or
 * chunked, held against the worker's body budget), then the hand-off to the
 * application. See conn.h.
 */
#include "conn_int.h"

#include <assert.h>
#include <string.h>

#include "budget.h"
#include "http_resp.h"
#include "wire.h"

/* The request bytes cannot be trusted or were not read: the error closes
 * the connection. */
void conn_fail_hdr(conn *c, int status, const char *code, const char *message, const char *extra)
{
    c->keep_alive = false;
    c->linger = true;
    conn_set_state(c, CONN_HANDLER);
    conn_reply_error_hdr(c, status, code, message, NULL, extra);
}

void conn_fail(conn *c, int status, const char *code, const char *message)
{
    conn_fail_hdr(c, status, code, message, NULL);
}

/* Holds the body bytes announced so far against the worker's body budget;
 * false after replying 503 (before the body is read). */
static bool conn_body_charge(conn *c, uint64_t announced)
{
    int64_t more = (int64_t)announced - c->body_charged;
    if (more <= 0)
        return true;
    if (budget_take(c->cs->e, BUDGET_BODY, more)) {
        c->body_charged += more;
        return true;
    }
    conn_fail_hdr(c, 503, ERR_BUSY, CONN_BUSY_MESSAGE, "Retry-After: 1\r\n");
    return false;
}

static const char *parse_error_code(int status)
{
    switch (status) {
    case 431: return ERR_HEADERS_TOO_LARGE;
    case 501: return ERR_NOT_IMPLEMENTED;
    case 505: return ERR_VERSION;
    default: return ERR_BAD_REQUEST;
    }
}

static const char *parse_error_message(int status)
{
    switch (status) {
    case 431: return "request head larger than limits.max_header_bytes";
    case 501: return "only the chunked transfer coding is supported";
    case 505: return "only HTTP/1.x is supported";
    default: return "malformed request head";
    }
}

/* CONN_HEAD: parses the head if complete; returns true when it moved to CONN_BODY. */
static bool conn_parse_head(conn *c)
{
    const config *cfg = c->cs->e->cfg;
    size_t avail = c->in.len - c->in_off;
    if (avail == 0)
        return false;
    int status = 400;
    memset(&c->req, 0, offsetof(http_request, headers));
    int r = http_parse_head(c->in.p + c->in_off, avail, (size_t)cfg->limits.max_header_bytes,
                            &c->req, &status);
    if (r == 0)
        return false;
    if (r < 0) {
        memset(&c->req, 0, offsetof(http_request, headers));
        conn_fail(c, status, parse_error_code(status), parse_error_message(status));
        return false;
    }
    c->head_len = (size_t)r;
    c->parsed_at = c->in.p + c->in_off;
    c->keep_alive = c->req.keep_alive && cfg->limits.keepalive_timeout_s > 0 && !c->cs->e->draining;
    c->raw_body = c->body_len = 0;
    c->continue_sent = false;
    if (c->req.has_content_length && c->req.content_length > (uint64_t)cfg->limits.max_body_bytes) {
        conn_fail(c, 413, ERR_PAYLOAD_TOO_LARGE, "body larger than limits.max_body_bytes");
        return false;
    }
    if (!conn_body_charge(c, c->req.content_length))
        return false;
    if (c->req.chunked)
        http_chunked_init(&c->chunk);
    conn_set_state(c, CONN_BODY);
    return true;
}

static void conn_expect_continue(conn *c)
{
    if (c->req.expect_continue && c->req.version_minor == 1 && !c->continue_sent) {
        http_resp_continue(&c->out);
        c->continue_sent = true;
    }
}

/* CONN_BODY, chunked: decodes in place right after the head and closes the
 * gap, so the buffer holds head + data + undecoded rest. */
static int conn_read_chunked(conn *c)
{
    char *body = c->in.p + c->in_off + c->head_len;
    size_t avail = c->in.len - c->in_off - c->head_len;
    size_t consumed = 0, produced = 0;
    int r = http_chunked_decode(&c->chunk, body + c->raw_body, avail - c->raw_body,
                                body + c->body_len, &consumed, &produced);
    c->raw_body += consumed;
    c->body_len += produced;
    if (c->raw_body > c->body_len) {
        memmove(body + c->body_len, body + c->raw_body, avail - c->raw_body);
        c->in.len -= c->raw_body - c->body_len;
        c->raw_body = c->body_len;
    }
    return r;
}

/* CONN_BODY: returns true when the whole body is in. */
static bool conn_read_body(conn *c)
{
    uint64_t max_body = (uint64_t)c->cs->e->cfg->limits.max_body_bytes;
    size_t avail = c->in.len - c->in_off - c->head_len;
    if (!c->req.chunked) {
        size_t need = (size_t)c->req.content_length;
        if (avail >= need) {
            c->body_len = c->raw_body = need;
            return true;
        }
        buf_reserve(&c->in, need - avail);
        conn_expect_continue(c);
        return false;
    }
    int r = conn_read_chunked(c);
    if (r < 0) {
        conn_fail(c, 400, ERR_BAD_REQUEST, "malformed chunked body");
        return false;
    }
    if (c->body_len + c->chunk.chunk_left > max_body) {
        /* Decided from the announced chunk size, before its data is read. */
        conn_fail(c, 413, ERR_PAYLOAD_TOO_LARGE, "body larger than limits.max_body_bytes");
        return false;
    }
    if (!conn_body_charge(c, c->body_len + c->chunk.chunk_left))
        return false;
    if (r == 0) {
        conn_expect_continue(c);
        return false;
    }
    return true;
}

/* The input buffer moved since the head was parsed (the body came in, or
 * the connection read ahead while a handler ran): refresh req's slices. */
void conn_refresh_req(conn *c)
{
    if (c->parsed_at == c->in.p + c->in_off)
        return;
    int status;
    int r = http_parse_head(c->in.p + c->in_off, c->head_len,
                            (size_t)c->cs->e->cfg->limits.max_header_bytes, &c->req, &status);
    assert(r == (int)c->head_len);
    (void)r;
    c->parsed_at = c->in.p + c->in_off;
}

static void conn_dispatch(conn *c)
{
    conn_refresh_req(c);
    conn_set_state(c, CONN_HANDLER);
    c->cs->app->handle(c, &c->req, c->in.p + c->in_off + c->head_len, c->body_len);
}

void conn_process(conn *c)
{
    c->in_process = true;
    while (!c->close_after) {
        if (c->state == CONN_HEAD && !conn_parse_head(c))
            break;
        if (c->state == CONN_BODY && !conn_read_body(c))
            break;
        if (c->state != CONN_BODY)
            break; /* conn_fail() replied */
        conn_dispatch(c);
        if (c->state == CONN_HANDLER && c->peer_eof) {
            c->in_process = false;
            conn_close(c); /* deferred, and its client is already gone */
            return;
        }
        if (c->state == CONN_HANDLER)
            break; /* deferred: conn_reply resumes */
        if (c->out.len - c->out_off >= OUT_HIGH_WATER)
            break;
    }
    c->in_process = false;
    if (c->peer_eof && c->state != CONN_HANDLER && c->state != CONN_LINGER) {
        /* Nothing more will come: what is not a complete request is dropped. */
        c->close_after = true;
    }
    conn_flush(c);
}
