/*
 * request.h - what the route adapters (route_*.c) share: reading a request
 * (its Content-Type, query parameters, JSON body) and the replies every
 * route may give (a JSON value, a service error mapped to HTTP).
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_REQUEST_H
#define CRUNCHD_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "http_parser.h"
#include "svc.h"

/* Longest decoded query value, in bytes: every parameter we take is shorter. */
#define REQUEST_QUERY_MAX 256

/* Whether the request's Content-Type is application/json with well-formed
 * parameters (http_media_type_is of http_media.h), or absent (taken as JSON). */
bool request_json_ok(const http_request *req);

/*
 * The decoded value of query parameter key (see http_url_query): 1 with *v
 * (into the query, or into vbuf of REQUEST_QUERY_MAX bytes), 0 if absent, -1
 * after replying 400 invalid_args (the value decodes to a NUL byte or to
 * more than REQUEST_QUERY_MAX bytes).
 */
int request_query(conn *c, const http_request *req, const char *key, char *vbuf, http_slice *v);

/* A decimal in [0, max] from a slice; -1 if it is not one. */
int64_t request_uint(http_slice v, int64_t max);

/*
 * Parses a request body as JSON (depth-limited), holding the memory the value
 * will take (estimated before parsing) against the worker's args budget
 * (budget.h). Returns a new reference and *held, the bytes taken: the
 * service that gets the value gives them back. NULL after replying 400
 * bad_json or 503 busy (nothing held then).
 */
json_t *request_parse_body(conn *c, const char *body, size_t len, int64_t *held);

/* Replies with a jansson value (borrowed) as compact JSON. */
void request_reply_json(conn *c, int status, json_t *v);

/*
 * Replies with a service error: the HTTP status and code of st (400
 * invalid_args, 404 unknown_function/not_found, 409 already_final, 422
 * idempotency_key_reused/function_error, 429 queue_full, 503 busy, 504
 * timeout, 500 internal), the message, arg (may be NULL) and, for 429 and
 * 503, Retry-After (retry_after_s; at least 1).
 */
void request_reply_svc(conn *c, svc_status st, const char *message, const char *arg,
                       int retry_after_s);

/* Appends the JSON text of v (borrowed; any value) to b. */
void request_append_json(buf *b, json_t *v);

/* The request's reply bodies are built here (one at a time: loop thread). */
buf *request_scratch(void);
void request_release(void);

#endif
