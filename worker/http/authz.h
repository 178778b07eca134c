/*
 * authz.h - who sends a request and whether it may (README "Security"):
 * the bearer token of a request, checked against the worker's tokens table
 * (auth.h), its requests per second (auth_rate.h), and the route's scope.
 *
 * The route table (route.c) names the scope of each route and method and
 * asks here before the handler runs, only when a tokens table is in force
 * (cfg->auth.table; without one every request is let through unasked, the
 * caller being svc_caller_open). A request is answered here, and never
 * reaches its handler, when it is refused:
 *   401 unauthorized   no Authorization, not "Bearer <token>", two of them,
 *                      or a token the table does not hold; with
 *                      WWW-Authenticate: Bearer (RFC 6750 section 3)
 *   429 rate_limited   the token is over its rps (Retry-After)
 *   403 forbidden      the token lacks the scope, which the message names
 * The order is that: who (401), how often (429: every request of a token
 * counts, allowed or not), what (403).
 *
 * Cost: one scan of the request's headers, one SHA-256 and one
 * constant-time compare (auth_table_lookup), a token bucket when the token
 * has rps, nothing allocated.
 *
 * Loop thread only (the rate buckets are the worker's: auth_rate.h).
 */
#ifndef CRUNCHD_AUTHZ_H
#define CRUNCHD_AUTHZ_H

#include "conn.h"
#include "svc.h"

/* The worker's table (e->cfg->auth.table, borrowed; NULL: no tokens) and
 * what goes with it. Returns 0, or -1 (logged) when out of memory. */
int authz_init(const engine *e);
void authz_release(void);

/*
 * Checks req against the table for scope (one auth_scope bit). Returns 0
 * with *who the token's caller (owner: its name; all and show_owner: it has
 * admin; max_queued: its limit), the request's user set (conn_set_user);
 * or -1 after replying (see above).
 */
int authz_check(conn *c, const http_request *req, unsigned scope, svc_caller *who);

#endif
