/*
 * conn.h - one client connection: its buffers, its state machine and the one
 * place that sends a reply (conn_reply). Loop thread only: nothing here may
 * be called from a pool thread.
 *
 * A connection handles one request at a time, in order: while a request is
 * with a pool thread the connection stops reading, so pipelined requests
 * queue in its input buffer and their replies go out in request order.
 */
#ifndef CRUNCHD_CONN_H
#define CRUNCHD_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "http_parser.h"
#include "wctx.h"

/* Connections over max_connections still get a 503 and a lingering close,
 * so the client reads the reply; past this many more they are just closed. */
#define CONN_REFUSED_LINGER_MAX 128

/* Takes ownership of fd (a freshly accepted, non-blocking socket). */
void conn_accept(wctx *w, int fd, bool is_tcp);

/*
 * Ends the current request with one reply. body is copied; extra holds
 * preformatted header lines ending in CRLF (or NULL). After this, the
 * connection moves on to the next request, possibly at once.
 */
void conn_reply(conn *c, int status, const char *content_type, const char *body, size_t len,
                const char *extra);

/* Same, with the error envelope; arg names the offending field or is NULL. */
void conn_reply_error(conn *c, int status, const char *code, const char *message,
                      const char *arg);

/* The same with extra header lines (each ending in CRLF, may be NULL). */
void conn_reply_error_hdr(conn *c, int status, const char *code, const char *message,
                          const char *arg, const char *extra);

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
typedef void conn_gone_fn(void *arg);

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

/* The worker the connection belongs to. */
wctx *conn_worker(conn *c);

/* Sweep: enforce read and keep-alive timeouts (called once a second), and,
 * while draining, close idle connections. */
void conn_sweep(wctx *w);

/* Closes every connection now (fast stop). */
void conn_close_all(wctx *w);

#endif
