/*
 * handlers.h - routing and the route handlers (DESIGN.md section 3).
 *
 * Every request given to handlers_dispatch ends in exactly one reply through
 * conn_reply()/conn_reply_error(): either before it returns, or later from the
 * loop thread after conn_defer() (a function call handed to a pool).
 */
#ifndef CRUNCHD_HANDLERS_H
#define CRUNCHD_HANDLERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "fn.h"
#include "http_parser.h"

/*
 * Loop thread only. req and body stay valid until the reply is sent.
 *
 * Routing is on the percent-decoded path: a route handler gets a request
 * whose path is decoded (into a buffer of handlers_dispatch(), so valid only
 * until the handler returns: a handler copies what it needs before it
 * defers), and whose query has only well-formed escapes (decode its values
 * with handlers_query()). {name} and {id} are exactly one non-empty segment.
 * OPTIONS is answered here for every route (204 with Allow), and so are
 * CORS headers (cors.h).
 */
void handlers_dispatch(conn *c, const http_request *req, const char *body, size_t len);

/* Whether the request's Content-Type is application/json with well-formed
 * parameters (http_media_type_is of http_media.h), or absent (taken as JSON). */
bool handlers_content_type_ok(const http_request *req);

/* Longest decoded query value, in bytes: every parameter we take is shorter. */
#define HANDLERS_QUERY_MAX 256

/*
 * The decoded value of query parameter key (see http_url_query): 1 with *v
 * (into the query, or into vbuf of HANDLERS_QUERY_MAX bytes), 0 if absent, -1
 * after replying 400 invalid_args (the value decodes to a NUL byte or to
 * more than HANDLERS_QUERY_MAX bytes).
 */
int handlers_query(conn *c, const http_request *req, const char *key, char *vbuf, http_slice *v);

/*
 * Parses a request body as JSON (depth-limited), holding the memory the value
 * will take (estimated before parsing) against the worker's args budget
 * (budget.h). Returns a new reference and *held, the bytes taken: give them
 * back (budget_give BUDGET_ARGS) once the value and what shares it are gone.
 * NULL after replying 400 bad_json or 503 busy (nothing held then).
 */
json_t *handlers_parse_body(conn *c, const char *body, size_t len, int64_t *held);

/* 503 busy with Retry-After: 1, for a request over one of the worker's
 * memory budgets (budget.h); limit names the config key. */
void handlers_reply_busy(conn *c, const char *limit);

/* Sync calls estimated to run at least this long may go through the job
 * queue to another worker when this worker's cpu lane is busy. */
#define FN_OFFLOAD_NS (5 * 1000 * 1000)

/* The one reply of POST /v1/fn/{name}: 200 {"result", "fn", "run_ms",
 * "cpu_ms", "worker"}, 504 timeout, 422 function_error (message). result is
 * borrowed. */
void handlers_reply_call(conn *c, const char *fn_name, fn_status status, json_t *result,
                         int64_t run_us, int64_t cpu_us, int worker_pid, const char *message);

/* Builds what handlers need once per worker (the /v1/functions body). */
int handlers_init(wctx *w);
void handlers_release(wctx *w);

#endif
