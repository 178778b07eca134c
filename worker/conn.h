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

/* For a handler that hands the request to a pool: no reply yet; a later
 * conn_reply()/conn_reply_error() from the loop thread ends it. */
void conn_defer(conn *c);

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
