/*
 * route.h - the route table of the HTTP API (DESIGN.md section 3): every
 * path, its methods, its handler (route_*.c) and its metrics label, in one
 * place, with the scope a token needs for each method (README "Security":
 * call, submit, read, cancel, admin; none for /healthz and /readyz).
 * Dispatch decodes the target (percent-decoding, only when there is a '%'),
 * answers OPTIONS (204 + Allow, CORS preflights: browsers send them without
 * a token), 405 with Allow and 404 naming the path as sent, then, when a
 * tokens table is in force, checks the request's token (authz.h: 401, 429,
 * 403) and hands the rest to the route's handler with the caller
 * (svc_caller) its services act for.
 *
 * route_app is what the connections serve (conn.h).
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_ROUTE_H
#define CRUNCHD_ROUTE_H

#include "conn.h"

extern const conn_app route_app;

/* Builds what the routes need once per worker (CORS lines, the function
 * list). Returns 0, or -1 (logged). */
int route_init(const engine *e);
void route_release(void);

#endif
