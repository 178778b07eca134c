/*
 * route_fn.h - POST /v1/fn/{name}: Pool.apply over HTTP. Turns the request
 * into a call (svc/call.h) and the call's answer into the reply:
 *   200 {"result", "fn", "run_ms", "cpu_ms", "worker"}
 *   400 invalid_args / bad_json, 404 unknown_function, 415, 503 busy,
 *   422 function_error, 504 timeout, 500 internal.
 * A client that leaves abandons its call (the function is asked to stop).
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_ROUTE_FN_H
#define CRUNCHD_ROUTE_FN_H

#include <stddef.h>

#include "conn.h"
#include "svc.h"

/* path holds one segment after ROUTE_FN_PREFIX, decoded: the name. */
void route_fn_post(conn *c, const http_request *req, const svc_caller *who, const char *body,
                   size_t len);

#endif
