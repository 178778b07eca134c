/*
 * http_resp.h - writing HTTP/1.1 responses into a connection's output buffer
 * without printf: the status line comes from a table, numbers from fmt_u64,
 * the Date header from a string refreshed once a second.
 */
#ifndef CRUNCHD_HTTP_RESP_H
#define CRUNCHD_HTTP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

/* Reason phrase for a status code ("Not Found"); "Unknown" if not in the table. */
const char *http_reason(int status);

/* Refreshes the cached Date header value from the wall clock `now`.
 * Loop thread only (the cache is per process and read by the loop). */
void http_resp_set_date(time_t now);

typedef struct http_resp {
    int status;
    const char *content_type; /* NULL: no Content-Type (and no body expected) */
    bool keep_alive;          /* false adds "Connection: close" */
    bool http10;              /* request was HTTP/1.0: keep-alive must be explicit */
    bool head_only;           /* HEAD request: headers say the length, no body follows */
    const char *extra;        /* preformatted header lines, each ending in CRLF; may be NULL */
    const char *req_extra;    /* more such lines, the same for every reply to the request
                                 (CORS); may be NULL */
} http_resp;

/* Appends the whole response: head plus body[0..len) (body omitted for HEAD).
 * A 204 has neither Content-Length nor body (RFC 9110 8.6, 15.3.5). */
void http_resp_write(buf *out, const http_resp *r, const char *body, size_t len);

/*
 * Appends an error response with the envelope
 * {"error": {"code": code, "message": message[, "arg": arg]}}; arg may be NULL.
 */
void http_resp_error(buf *out, const http_resp *r, const char *code, const char *message,
                     const char *arg);

/* The interim "100 Continue" response. */
void http_resp_continue(buf *out);

#endif
