/*
 * conn.h - the HTTP/1.1 connections of a worker: their buffers, their state
 * machine and the one place that sends a reply (conn_reply).
 *
 * A connection reads a request (head, then body), hands it to the
 * application (conn_app: the route table) as a protocol-neutral request,
 * and writes its one reply. One request at a time, in order: pipelined
 * requests queue in the input buffer and their replies go out in request
 * order. The application never sees sockets or framing; the connection
 * knows nothing of routes.
 *
 * Loop thread only: nothing here may be called from a pool thread.
 */
#ifndef CRUNCHD_CONN_H
#define CRUNCHD_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "access_log.h"
#include "ctx.h"
#include "http_parser.h"
#include "list.h"

/* Connections over max_connections still get a 503 and a lingering close,
 * so the client reads the reply; past this many more they are just closed. */
#define CONN_REFUSED_LINGER_MAX 128

typedef struct conn conn;

/* What the connections serve. */
typedef struct conn_app {
    /* A complete request: body[0..len) decoded. Ends in exactly one reply
     * (conn_reply*), now or after conn_defer(). req's slices and body are
     * valid during the call only. */
    void (*handle)(conn *c, const http_request *req, const char *body, size_t len);
    /* The metrics route label (metrics_route) of a request path. */
    int (*label)(const char *path, size_t len);
} conn_app;

/* The connections of a worker; embedded by the worker, which owns it. */
typedef struct conns {
    engine *e;           /* borrowed */
    const conn_app *app; /* borrowed */
    access_log *al;      /* borrowed; a handle that writes nothing when off */
    list all;            /* every open connection, for the sweep */
    int n;
} conns;

void conns_init(conns *cs, engine *e, const conn_app *app, access_log *al);

/* Takes ownership of fd (a freshly accepted, non-blocking socket). */
void conn_accept(conns *cs, int fd, bool is_tcp);

/* Once a second: read and keep-alive timeouts, stalled readers, and while
 * the engine drains, idle keep-alive connections closed. */
void conns_sweep(conns *cs);

/* Closes every connection now (the worker's end). */
void conns_close_all(conns *cs);

/*
 * Ends the current request with one reply. body is copied; extra holds
 * preformatted header lines ending in CRLF (or NULL). After this, the
 * connection moves on to the next request, possibly at once.
 */
void conn_reply(conn *c, int status, const char *content_type, const char *body, size_t len,
                const char *extra);

/* Same, with the error envelope; arg names the offending field or is NULL. */
void conn_reply_error(conn *c, int status, const char *code, const char *message, const char *arg);

/* The same with extra header lines (each ending in CRLF, may be NULL). */
void conn_reply_error_hdr(conn *c, int status, const char *code, const char *message,
                          const char *arg, const char *extra);

/* Replies of stored data under this many bytes are not held (conn_hold_reply). */
#define CONN_HOLD_REPLY_MIN (64 * 1024)

/*
 * Before building a reply of about len bytes of stored data (a job read
 * from the store, a list page): holds len against the worker's body budget
 * (engine/budget.h) until the connection has written it, so reads of large
 * jobs by many clients at once cannot fill memory. true: build it (under
 * CONN_HOLD_REPLY_MIN nothing is held). false: the budget is full and the
 * request was answered 503 busy with Retry-After; it is over.
 */
bool conn_hold_reply(conn *c, size_t len);

/*
 * Called (once, on the loop thread, from an event of its own, never from
 * inside a conn_* call) when the client of a deferred request is gone: it
 * closed or reset the connection, or stopped reading its replies. The
 * connection is then an orphan: its socket is closed, but the struct stays
 * until the handler ends the request, so the handler's pointer stays valid.
 * The hook should make the handler finish soon (cancel a call, end a
 * long-poll); the handler still ends the request with conn_reply*() (the
 * reply is discarded, and logged as 499) or conn_drop().
 */
typedef void conn_gone_fn(conn *c, void *arg);

/*
 * For a handler that answers later (a call handed to a pool, a store
 * operation, a long-poll): no reply yet; a later conn_reply*() or conn_drop()
 * from the loop thread ends the request. gone (may be NULL) and arg: see
 * conn_gone_fn. While the request is deferred the connection keeps reading
 * (a bounded amount of pipelined requests), so it notices a hang-up.
 */
void conn_defer(conn *c, conn_gone_fn *gone, void *arg);

/* Ends a deferred request whose client is gone (an orphan) without a reply;
 * logged as 499. Frees c. */
void conn_drop(conn *c);

/* True once the client of a deferred request is gone (see conn_gone_fn). */
bool conn_orphaned(const conn *c);

/* Header lines (each ending in CRLF) that every reply to the current request
 * carries, whichever handler sends it (CORS). lines must outlive the request
 * (static, or owned by the worker). */
void conn_set_reply_headers(conn *c, const char *lines);

/* Names the job the current request is about, for the access log. */
void conn_set_job_id(conn *c, const char *id);

/* The current request's metrics label (conn_app.label of its path, when
 * not set). */
void conn_set_label(conn *c, int label);

/* Who sent the current request: an API token's name (borrowed: it must
 * outlive the request) for the access log's user field, and its series in
 * /metrics (metrics_token_index). Without a call, nobody: "-", no series. */
void conn_set_user(conn *c, const char *name, int series);

/* The engine the connection's worker runs. */
engine *conn_engine(const conn *c);

#endif
