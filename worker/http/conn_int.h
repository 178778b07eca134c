/*
 * conn_int.h - inside a connection: the struct and the functions that
 * conn.c (life, events, output), conn_read.c (requests in) and
 * conn_reply.c (replies out) share. Private to the conn module.
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_CONN_INT_H
#define CRUNCHD_CONN_INT_H

#include <assert.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "conn.h"
#include "http_chunked.h"
#include "job.h"
#include "list.h"
#include "loop.h"

#define IN_MIN_ROOM 2048            /* read at least this much per read() */
#define OUT_HIGH_WATER (256 * 1024) /* stop reading requests while this much is unsent */
#define BUF_KEEP (16 * 1024)        /* idle connections keep buffers up to this size */
#define LINGER_MS 2000              /* how long a closing connection drains its input */
#define DRAIN_IDLE_MS 500           /* draining: close keep-alives idle at least this long */
#define PIPELINE_READ_MAX                                                                          \
    (64 * 1024) /* read ahead while a request is deferred, to notice a hang-up */

typedef enum conn_state {
    CONN_HEAD,    /* waiting for (the rest of) a request head */
    CONN_BODY,    /* head parsed, waiting for the body */
    CONN_HANDLER, /* with a handler; the reply comes later through conn_reply */
    CONN_LINGER,  /* reply sent and write side shut: discarding input until EOF */
    CONN_ORPHAN,  /* the client left while a handler held the request: the
                     socket is closed, the struct waits for the handler's end */
    CONN_NSTATES
} conn_state;

struct conn {
    conns *cs;
    int fd;
    struct event *ev_read, *ev_write;
    bool reading, writing; /* whether ev_read / ev_write are added */
    conn_state state;
    list_node node;        /* cs->all */
    buf in;                /* bytes from the client */
    size_t in_off;         /* start of the current request in in */
    buf out;               /* replies not yet written */
    size_t out_off;        /* bytes of out already written */
    http_request req;      /* the current request; slices into in */
    const char *parsed_at; /* in.p + in_off when req was parsed */
    size_t head_len;
    http_chunked chunk;
    size_t raw_body;      /* raw body bytes consumed after the head */
    int64_t body_charged; /* BUDGET_BODY held for the current request's body */
    int64_t reply_held;   /* BUDGET_BODY held for replies in out (conn_hold_reply) */
    size_t body_len;      /* body bytes (decoded) right after the head */
    bool continue_sent;
    bool keep_alive;  /* the current reply keeps the connection */
    bool close_after; /* close once out is written */
    bool linger;      /* ...after draining input: request bytes were left unread */
    bool peer_eof;
    bool served_one;       /* a reply was sent: idleness is keep-alive */
    bool in_process;       /* conn_process is on the stack */
    conn_gone_fn *on_gone; /* the deferring handler's hook, NULL if none */
    void *gone_arg;
    struct event *ev_gone;       /* runs on_gone from a clean stack (orphans only) */
    int64_t since_ms;            /* start of the current request or idle period */
    int64_t stall_ms;            /* when out stopped draining; 0 if it drains */
    int64_t t0_us;               /* first byte of the current request (CLOCK_MONOTONIC) */
    char remote[64];             /* peer address for the access log ("-" if off) */
    char job_id[JOB_ID_LEN + 1]; /* the job the current request is about ("" if none) */
    const char *reply_headers;   /* lines for every reply to the current request, or NULL */
    int label;                   /* the request's metrics label; -1: from its path */
    const char *user;            /* the request's API token name (conn_set_user), or NULL */
    int user_series;             /* its metrics_token_index */
};

/* The one setter of c->state: asserts the transition (table in conn.c). */
extern const unsigned conn_legal[CONN_NSTATES];

static inline void conn_set_state(conn *c, conn_state s)
{
    ENGINE_ASSERT_LOOP();
    assert(conn_legal[c->state] & (1u << s));
    c->state = s;
}

/* Reads and handles what came in, as far as it goes; then flushes. */
void conn_process(conn *c);

/* Writes what it can. May close (and free) c; returns false if it did. */
bool conn_flush(conn *c);

/* Re-arms the read and write events for c's state. */
void conn_update_events(conn *c);

/* The client is gone or must go (an orphan if a handler holds the request);
 * the caller must not use c after. */
void conn_close(conn *c);

/* Frees c at once (an orphan's end, or the end of the worker). */
void conn_free(conn *c);

/* Gives back the current request's body budget. */
void conn_body_release(conn *c);

/* Gives back what conn_hold_reply() held: the replies are written (or never
 * will be). */
void conn_reply_release(conn *c);

/* The 503 busy of a full body budget (a body or a reply). */
#define CONN_BUSY_MESSAGE                                                                      \
    "this worker holds limits.max_worker_body_bytes of request bodies and replies already; "  \
    "try again shortly"

/* The request's slices again after the input buffer moved. */
void conn_refresh_req(conn *c);

/* Ends the current request with an error that closes the connection. */
void conn_fail(conn *c, int status, const char *code, const char *message);
void conn_fail_hdr(conn *c, int status, const char *code, const char *message, const char *extra);

/* CLOCK_MONOTONIC in microseconds. */
static inline int64_t conn_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
