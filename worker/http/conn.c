/*
 * conn.c - a connection's life: accept, events, writing, closing (or
 * orphaning), timeouts. Requests in: conn_read.c; replies out: conn_reply.c.
 */
#include "conn_int.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"
#include "loop.h"
#include "slot.h"
#include "wire.h"

/* Legal transitions: bit `to` of conn_legal[from]. */
#define B(s) (1u << (s))
const unsigned conn_legal[CONN_NSTATES] = {
    [CONN_HEAD] = B(CONN_HEAD) | B(CONN_BODY) | B(CONN_HANDLER) | B(CONN_LINGER),
    [CONN_BODY] = B(CONN_HANDLER) | B(CONN_LINGER),
    [CONN_HANDLER] = B(CONN_HEAD) | B(CONN_ORPHAN),
    [CONN_LINGER] = 0,
    [CONN_ORPHAN] = 0,
};
#undef B

static void conn_on_read(evutil_socket_t fd, short what, void *arg);
static void conn_on_write(evutil_socket_t fd, short what, void *arg);

engine *conn_engine(const conn *c)
{
    return c->cs->e;
}

static void conn_link(conns *cs, conn *c)
{
    list_push(&cs->all, &c->node);
    cs->n++;
    slot_count_connection(cs->e, 1);
}

static void conn_unlink(conns *cs, conn *c)
{
    list_remove(&cs->all, &c->node);
    cs->n--;
    slot_count_connection(cs->e, -1);
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

void conn_body_release(conn *c)
{
    budget_give(c->cs->e, BUDGET_BODY, c->body_charged);
    c->body_charged = 0;
}

void conn_reply_release(conn *c)
{
    budget_give(c->cs->e, BUDGET_BODY, c->reply_held);
    c->reply_held = 0;
}

void conn_free(conn *c)
{
    conns *cs = c->cs;
    conn_body_release(c);
    conn_reply_release(c);
    conn_shut(c);
    conn_unlink(cs, c);
    if (c->ev_gone)
        event_free(c->ev_gone);
    buf_release(&c->in);
    buf_release(&c->out);
    free(c);
    engine_idle(cs->e); /* a descriptor is free; a draining worker may be done */
}

static void conn_on_gone(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    conn_gone_fn *fn = c->on_gone;
    c->on_gone = NULL;
    if (fn)
        fn(c, c->gone_arg); /* may end the request, and free c */
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
    c->ev_gone = event_new(c->cs->e->base, -1, 0, conn_on_gone, c);
    if (c->ev_gone)
        event_active(c->ev_gone, EV_TIMEOUT, 0);
}

/* A connection whose request a handler holds becomes an orphan instead of
 * being freed (conn_int.h). */
void conn_close(conn *c)
{
    if (c->state == CONN_HANDLER)
        conn_orphan(c);
    else
        conn_free(c);
}

/* Bytes read past the request a handler holds (pipelined requests). */
static size_t conn_read_ahead(const conn *c)
{
    return c->in.len - c->in_off - c->head_len - c->raw_body;
}

/* Adds or deletes ev so that it is added exactly when want; *on says whether it is. */
static inline void arm(struct event *ev, bool *on, bool want)
{
    if (want == *on)
        return;
    if (want)
        event_add(ev, NULL);
    else
        event_del(ev);
    *on = want;
}

void conn_update_events(conn *c)
{
    bool want_write = c->out_off < c->out.len;
    bool want_read = c->state == CONN_LINGER ||
                     (!c->close_after && !c->peer_eof && c->out.len - c->out_off < OUT_HIGH_WATER &&
                      (c->state != CONN_HANDLER || conn_read_ahead(c) < PIPELINE_READ_MAX));
    arm(c->ev_read, &c->reading, want_read);
    arm(c->ev_write, &c->writing, want_write);
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

bool conn_flush(conn *c)
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
    conn_reply_release(c);
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
        if (c->state == CONN_HEAD && c->in.len == c->in_off) {
            c->since_ms = shm_mono_ms(); /* a new request starts: read_timeout runs */
            c->t0_us = conn_now_us();
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

/* One connection's timeouts; may close it. */
static void conn_check_timeouts(conn *c, int64_t now)
{
    const config_limits *lim = &c->cs->e->cfg->limits;
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
    case CONN_NSTATES: return; /* the handler has its own deadline */
    case CONN_HEAD:
        if (c->in.len == c->in_off && c->out_off == c->out.len &&
            ((c->cs->e->draining && age >= DRAIN_IDLE_MS) ||
             (c->served_one && age >= (int64_t)lim->keepalive_timeout_s * 1000))) {
            conn_close(c);
            return;
        }
        if (c->in.len == c->in_off && !c->served_one &&
            age >= (int64_t)lim->read_timeout_s * 1000) {
            conn_close(c); /* connected and never sent a byte */
            return;
        }
        if (c->in.len == c->in_off)
            return;
        /* a partial head is a request being read */
        __attribute__((fallthrough));
    case CONN_BODY:
        if (age >= (int64_t)lim->read_timeout_s * 1000)
            conn_fail(c, 408, ERR_REQUEST_TIMEOUT,
                      "request not received within limits.read_timeout_s");
        return;
    }
}

void conns_sweep(conns *cs)
{
    int64_t now = shm_mono_ms();
    list_node *n, *next;
    list_for_each_safe(&cs->all, n, next) /* c may be freed */
        conn_check_timeouts(list_entry(n, conn, node), now);
}

void conns_close_all(conns *cs)
{
    list_node *n;
    while ((n = list_first(&cs->all)) != NULL)
        conn_free(list_entry(n, conn, node)); /* the end: whatever a handler holds is abandoned */
}

void conns_init(conns *cs, engine *e, const conn_app *app, access_log *al)
{
    cs->e = e;
    cs->app = app;
    cs->al = al;
    cs->n = 0;
    list_init(&cs->all);
}

void conn_accept(conns *cs, int fd, bool is_tcp)
{
    ENGINE_ASSERT_LOOP();
    int max = cs->e->cfg->limits.max_connections;
    bool refuse = cs->n >= max;
    if (cs->n >= max + CONN_REFUSED_LINGER_MAX) {
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
    c->cs = cs;
    c->fd = fd;
    c->label = -1;
    c->ev_read = event_new(cs->e->base, fd, EV_READ | EV_PERSIST, conn_on_read, c);
    c->ev_write = event_new(cs->e->base, fd, EV_WRITE | EV_PERSIST, conn_on_write, c);
    if (!c->ev_read || !c->ev_write) {
        if (c->ev_read)
            event_free(c->ev_read);
        free(c);
        close(fd);
        return;
    }
    c->since_ms = shm_mono_ms();
    c->t0_us = conn_now_us();
    snprintf(c->remote, sizeof(c->remote), "-");
    if (access_log_enabled(cs->al)) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
            access_log_addr((struct sockaddr *)&ss, c->remote);
    }
    conn_link(cs, c);
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
