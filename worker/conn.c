#include "conn.h"

#include <assert.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "budget.h"
#include "buf.h"
#include "handlers.h"
#include "http_chunked.h"
#include "http_resp.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "access_log.h"
#include <time.h>
#include "wire.h"

#define IN_MIN_ROOM 2048          /* read at least this much per read() */
#define OUT_HIGH_WATER (256 * 1024) /* stop reading requests while this much is unsent */
#define BUF_KEEP (16 * 1024)      /* idle connections keep buffers up to this size */
#define LINGER_MS 2000            /* how long a closing connection drains its input */
#define DRAIN_IDLE_MS 500         /* draining: close keep-alives idle at least this long */
#define PIPELINE_READ_MAX (64 * 1024) /* read ahead while a request is deferred, to notice a hang-up */

typedef enum conn_state {
    CONN_HEAD,    /* waiting for (the rest of) a request head */
    CONN_BODY,    /* head parsed, waiting for the body */
    CONN_HANDLER, /* with a handler; the reply comes later through conn_reply */
    CONN_LINGER,  /* reply sent and write side shut: discarding input until EOF */
    CONN_ORPHAN,  /* the client left while a handler held the request: the
                     socket is closed, the struct waits for the handler's end */
    CONN_NSTATES
} conn_state;

/* Legal transitions: bit `to` of legal[from]. */
#define B(s) (1u << (s))
static const unsigned legal[CONN_NSTATES] = {
    [CONN_HEAD] = B(CONN_HEAD) | B(CONN_BODY) | B(CONN_HANDLER) | B(CONN_LINGER),
    [CONN_BODY] = B(CONN_HANDLER) | B(CONN_LINGER),
    [CONN_HANDLER] = B(CONN_HEAD) | B(CONN_ORPHAN),
    [CONN_LINGER] = 0,
    [CONN_ORPHAN] = 0,
};
#undef B

struct conn {
    wctx *w;
    int fd;
    struct event *ev_read, *ev_write;
    bool reading, writing;     /* whether ev_read / ev_write are added */
    conn_state state;
    conn *prev, *next;         /* w->conns */
    buf in;                    /* bytes from the client */
    size_t in_off;             /* start of the current request in in */
    buf out;                   /* replies not yet written */
    size_t out_off;            /* bytes of out already written */
    http_request req;          /* the current request; slices into in */
    const char *parsed_at;     /* in.p + in_off when req was parsed */
    size_t head_len;
    http_chunked chunk;
    size_t raw_body;           /* raw body bytes consumed after the head */
    int64_t body_charged;      /* BUDGET_BODY held for the current request's body */
    size_t body_len;           /* body bytes (decoded) right after the head */
    bool continue_sent;
    bool keep_alive;           /* the current reply keeps the connection */
    bool close_after;          /* close once out is written */
    bool linger;               /* ...after draining input: request bytes were left unread */
    bool peer_eof;
    bool served_one;           /* a reply was sent: idleness is keep-alive */
    bool in_process;           /* conn_process is on the stack */
    conn_gone_fn *on_gone;     /* the deferring handler's hook, NULL if none */
    void *gone_arg;
    struct event *ev_gone;     /* runs on_gone from a clean stack (orphans only) */
    int64_t since_ms;          /* start of the current request or idle period */
    int64_t stall_ms;          /* when out stopped draining; 0 if it drains */
    int64_t t0_us;             /* first byte of the current request (CLOCK_MONOTONIC) */
    char remote[64];           /* peer address for the access log ("-" if off) */
    char job_id[JOB_ID_LEN + 1]; /* the job the current request is about ("" if none) */
    const char *reply_headers; /* lines for every reply to the current request, or NULL */
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void conn_process(conn *c);
static void conn_on_read(evutil_socket_t fd, short what, void *arg);
static void conn_on_write(evutil_socket_t fd, short what, void *arg);

wctx *conn_worker(conn *c) { return c->w; }

static void conn_set_state(conn *c, conn_state s)
{
    assert(legal[c->state] & (1u << s));
    c->state = s;
}

static void conn_link(wctx *w, conn *c)
{
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    atomic_fetch_add_explicit(&w->me->connections, 1, memory_order_relaxed);
}

static void conn_unlink(wctx *w, conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    atomic_fetch_sub_explicit(&w->me->connections, 1, memory_order_relaxed);
}

/* Closes the socket and drops its events; the struct lives on. */
static void conn_shut(conn *c)
{
    if (c->fd < 0)
        return;
    event_free(c->ev_read);
    event_free(c->ev_write);
    c->ev_read = c->ev_write = NULL;
    c->reading = c->writing = false;
    close(c->fd);
    c->fd = -1;
}

/* The current request's body is done with (or the connection is). */
static void conn_body_release(conn *c)
{
    budget_give(c->w, BUDGET_BODY, c->body_charged);
    c->body_charged = 0;
}

static void conn_free(conn *c)
{
    wctx *w = c->w;
    conn_body_release(c);
    conn_shut(c);
    conn_unlink(w, c);
    if (c->ev_gone)
        event_free(c->ev_gone);
    buf_release(&c->in);
    buf_release(&c->out);
    free(c);
    worker_conn_closed(w);
}

static void conn_on_gone(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    conn_gone_fn *fn = c->on_gone;
    c->on_gone = NULL;
    if (fn)
        fn(c->gone_arg); /* may end the request, and free c */
}

/* The client left while a handler holds the request: never free what the
 * handler points at. The socket goes now; the handler is told from an event
 * of its own (it may be up the stack right now); its reply frees c. */
static void conn_orphan(conn *c)
{
    conn_set_state(c, CONN_ORPHAN);
    conn_shut(c);
    buf_release(&c->out);
    c->out_off = 0;
    if (!c->on_gone)
        return;
    c->ev_gone = event_new(c->w->base, -1, 0, conn_on_gone, c);
    if (c->ev_gone)
        event_active(c->ev_gone, EV_TIMEOUT, 0);
}

/* The client is gone or must go. A connection whose request a handler holds
 * becomes an orphan instead of being freed. Either way the caller must not
 * use c any more. */
static void conn_close(conn *c)
{
    if (c->state == CONN_HANDLER)
        conn_orphan(c);
    else
        conn_free(c);
}


void conn_accept(wctx *w, int fd, bool is_tcp)
{
    int max = w->cfg->limits.max_connections;
    bool refuse = w->nconns >= max;
    if (w->nconns >= max + CONN_REFUSED_LINGER_MAX) {
        close(fd);
        return;
    }
    if (is_tcp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->ev_read = event_new(w->base, fd, EV_READ | EV_PERSIST, conn_on_read, c);
    c->ev_write = event_new(w->base, fd, EV_WRITE | EV_PERSIST, conn_on_write, c);
    if (!c->ev_read || !c->ev_write) {
        if (c->ev_read)
            event_free(c->ev_read);
        free(c);
        close(fd);
        return;
    }
    c->since_ms = shm_mono_ms();
    c->t0_us = now_us();
    snprintf(c->remote, sizeof(c->remote), "-");
    if (access_log_enabled(w->al)) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
            access_log_addr((struct sockaddr *)&ss, c->remote);
    }
    conn_link(w, c);
    if (refuse) {
        c->keep_alive = false;
        c->linger = true;
        conn_set_state(c, CONN_HANDLER);
        conn_reply_error(c, 503, ERR_BUSY, "too many connections to this worker", NULL);
        return;
    }
    c->reading = true;
    event_add(c->ev_read, NULL);
}

/* Bytes read past the request a handler holds (pipelined requests). */
static size_t conn_read_ahead(const conn *c)
{
    return c->in.len - c->in_off - c->head_len - c->raw_body;
}

static void conn_update_events(conn *c)
{
    bool want_write = c->out_off < c->out.len;
    bool want_read = c->state == CONN_LINGER ||
                     (!c->close_after && !c->peer_eof && c->out.len - c->out_off < OUT_HIGH_WATER &&
                      (c->state != CONN_HANDLER || conn_read_ahead(c) < PIPELINE_READ_MAX));
    if (want_read != c->reading) {
        if (want_read)
            event_add(c->ev_read, NULL);
        else
            event_del(c->ev_read);
        c->reading = want_read;
    }
    if (want_write != c->writing) {
        if (want_write)
            event_add(c->ev_write, NULL);
        else
            event_del(c->ev_write);
        c->writing = want_write;
    }
}

/* Half-closes and keeps reading for a while, so the client sees our last
 * reply instead of a reset caused by its unread request bytes. */
static void conn_linger(conn *c)
{
    if (shutdown(c->fd, SHUT_WR) < 0 || c->peer_eof) {
        conn_close(c);
        return;
    }
    conn_set_state(c, CONN_LINGER);
    c->since_ms = shm_mono_ms();
    conn_update_events(c);
}

/* Writes what it can. May close (and free) c; returns false if it did. */
static bool conn_flush(conn *c)
{
    bool progress = false;
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            progress = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            /* The stall timer measures time without progress: a slow but
             * steady reader is never cut off. */
            if (progress || !c->stall_ms)
                c->stall_ms = shm_mono_ms();
            conn_update_events(c);
            return true;
        }
        c->close_after = false; /* the peer is gone: nothing to linger for */
        conn_close(c);
        return false;
    }
    c->out.len = c->out_off = 0;
    c->stall_ms = 0;
    buf_shrink(&c->out, BUF_KEEP);
    if (c->close_after && c->state != CONN_HANDLER) {
        /* Unread input makes close() send a reset that can destroy our
         * reply in flight; only then is a lingering close worth its cost. */
        if (c->linger || c->in_off < c->in.len)
            conn_linger(c);
        else
            conn_close(c);
        return false;
    }
    conn_update_events(c);
    return true;
}

/* Makes room in the input buffer for a read. Moves data only between requests
 * or keeps offsets (parsed_at tells whether the head must be parsed again:
 * conn_refresh_req). */
static void conn_make_room(conn *c)
{
    if (c->state == CONN_HEAD && c->in_off == c->in.len)
        c->in.len = c->in_off = 0;
    if (c->in.cap - c->in.len >= IN_MIN_ROOM)
        return;
    if (c->in_off > 0) {
        memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    buf_reserve(&c->in, c->in.cap < 4096 ? 4096 : c->in.cap);
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    if (c->state == CONN_LINGER) {
        char sink[4096];
        ssize_t n = read(fd, sink, sizeof(sink));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            conn_close(c);
        return;
    }
    conn_make_room(c);
    ssize_t n = read(fd, c->in.p + c->in.len, c->in.cap - c->in.len);
    if (n > 0) {
        if (c->state == CONN_HEAD && c->in.len == c->in_off)
        {
            c->since_ms = shm_mono_ms(); /* a new request starts: read_timeout runs */
            c->t0_us = now_us();
        }
        c->in.len += (size_t)n;
    } else if (n == 0) {
        c->peer_eof = true;
    } else if (errno == EAGAIN || errno == EINTR) {
        return;
    } else {
        conn_close(c);
        return;
    }
    if (c->state == CONN_HANDLER) {
        /* Read ahead only: the handler's request comes first. A hang-up
         * while it runs means nobody waits for its reply. */
        if (c->peer_eof)
            conn_close(c);
        else
            conn_update_events(c);
        return;
    }
    conn_process(c);
}

static void conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    /* Reading may have stopped at the high-water mark: let process pick up. */
    conn_process(c);
}

/* Ends the request with an error that closes the connection (the request
 * bytes cannot be trusted or were not read). */
static void conn_fail_hdr(conn *c, int status, const char *code, const char *message,
                          const char *extra)
{
    c->keep_alive = false;
    c->linger = true;
    conn_set_state(c, CONN_HANDLER);
    conn_reply_error_hdr(c, status, code, message, NULL, extra);
}

static void conn_fail(conn *c, int status, const char *code, const char *message)
{
    conn_fail_hdr(c, status, code, message, NULL);
}

/* Holds the body bytes announced so far against the worker's body budget;
 * false after replying 503 (before the body is read). */
static bool conn_body_charge(conn *c, uint64_t announced)
{
    int64_t more = (int64_t)announced - c->body_charged;
    if (budget_take(c->w, BUDGET_BODY, more)) {
        c->body_charged += more > 0 ? more : 0;
        return true;
    }
    conn_fail_hdr(c, 503, ERR_BUSY,
                  "this worker holds limits.max_worker_body_bytes of request bodies already; "
                  "try again shortly",
                  "Retry-After: 1\r\n");
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
    const config *cfg = c->w->cfg;
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
    c->keep_alive = c->req.keep_alive && cfg->limits.keepalive_timeout_s > 0 && !c->w->draining;
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
    uint64_t max_body = (uint64_t)c->w->cfg->limits.max_body_bytes;
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
static void conn_refresh_req(conn *c)
{
    if (c->parsed_at == c->in.p + c->in_off)
        return;
    int status;
    int r = http_parse_head(c->in.p + c->in_off, c->head_len,
                            (size_t)c->w->cfg->limits.max_header_bytes, &c->req, &status);
    assert(r == (int)c->head_len);
    (void)r;
    c->parsed_at = c->in.p + c->in_off;
}

static void conn_dispatch(conn *c)
{
    conn_refresh_req(c);
    conn_set_state(c, CONN_HANDLER);
    handlers_dispatch(c, &c->req, c->in.p + c->in_off + c->head_len, c->body_len);
}

static void conn_process(conn *c)
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

static void conn_finish(conn *c)
{
    assert(c->state == CONN_HANDLER);
    atomic_fetch_add_explicit(&c->w->me->requests, 1, memory_order_relaxed);
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
    c->on_gone = NULL;
    conn_body_release(c);
    c->since_ms = shm_mono_ms();
    c->t0_us = now_us(); /* a pipelined request already waiting starts now */
    if (!c->keep_alive)
        c->close_after = true;
    conn_set_state(c, CONN_HEAD);
    if (!c->in_process)
        conn_process(c); /* a deferred reply: go on with queued requests */
}

static http_resp conn_resp(conn *c, int status, const char *content_type, const char *extra)
{
    if (c->w->draining)
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
    wctx *w = c->w;
    int64_t us = now_us() - c->t0_us;
    conn_refresh_req(c);
    const http_request *q = &c->req;
    metrics_http(w->shm, w->slot, metrics_route_of(q->path.p, q->path.n), status, us);
    if (!access_log_enabled(w->al))
        return;
    access_log_entry e = {
        .remote = c->remote,
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
    access_log_write(w->al, &e);
}

void conn_drop(conn *c)
{
    assert(c->state == CONN_ORPHAN);
    conn_record(c, HTTP_CLIENT_GONE, SIZE_MAX);
    conn_free(c);
}

bool conn_orphaned(const conn *c) { return c->state == CONN_ORPHAN; }

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
    conn_record(c, status, start);
    conn_finish(c);
}

void conn_reply_error(conn *c, int status, const char *code, const char *message,
                      const char *arg)
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

void conn_set_reply_headers(conn *c, const char *lines) { c->reply_headers = lines; }

void conn_set_job_id(conn *c, const char *id)
{
    snprintf(c->job_id, sizeof(c->job_id), "%s", id);
}

/* One connection's timeouts; may close it. */
static void conn_check_timeouts(conn *c, int64_t now)
{
    const config_limits *lim = &c->w->cfg->limits;
    int64_t age = now - c->since_ms;
    if (c->state == CONN_ORPHAN)
        return; /* its handler ends it */
    if (c->stall_ms && now - c->stall_ms >= (int64_t)lim->read_timeout_s * 1000) {
        c->close_after = false;
        conn_close(c); /* the client stopped reading its replies */
        return;
    }
    switch (c->state) {
    case CONN_LINGER:
        if (age >= LINGER_MS)
            conn_close(c);
        return;
    case CONN_HANDLER:
    case CONN_ORPHAN:
    case CONN_NSTATES:
        return; /* the handler has its own deadline */
    case CONN_HEAD:
        if (c->in.len == c->in_off && c->out_off == c->out.len &&
            ((c->w->draining && age >= DRAIN_IDLE_MS) ||
             (c->served_one && age >= (int64_t)lim->keepalive_timeout_s * 1000))) {
            conn_close(c);
            return;
        }
        if (c->in.len == c->in_off && !c->served_one && age >= (int64_t)lim->read_timeout_s * 1000) {
            conn_close(c); /* connected and never sent a byte */
            return;
        }
        if (c->in.len == c->in_off)
            return;
        /* a partial head is a request being read */
        __attribute__((fallthrough));
    case CONN_BODY:
        if (age >= (int64_t)lim->read_timeout_s * 1000)
            conn_fail(c, 408, ERR_REQUEST_TIMEOUT, "request not received within limits.read_timeout_s");
        return;
    }
}

void conn_sweep(wctx *w)
{
    int64_t now = shm_mono_ms();
    conn *c = w->conns;
    while (c) {
        conn *next = c->next; /* c may be freed */
        conn_check_timeouts(c, now);
        c = next;
    }
}

void conn_close_all(wctx *w)
{
    while (w->conns)
        conn_free(w->conns); /* the end: whatever a handler holds is abandoned */
}
