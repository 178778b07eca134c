/*
 * route_admin.h - the routes about the server itself: /healthz, /readyz,
 * /metrics, /v1/functions, /v1/workers. They read the shared region and the
 * function registry; none of them waits.
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_ROUTE_ADMIN_H
#define CRUNCHD_ROUTE_ADMIN_H

#include <stddef.h>

#include "conn.h"
#include "svc.h"

/* Builds what the routes need once per worker (the /v1/functions body).
 * Returns 0 or -1. */
int route_admin_init(const engine *e);
void route_admin_release(void);

void route_admin_healthz(conn *c, const http_request *req, const svc_caller *who, const char *body,
                         size_t len);
void route_admin_readyz(conn *c, const http_request *req, const svc_caller *who, const char *body,
                        size_t len);
void route_admin_metrics(conn *c, const http_request *req, const svc_caller *who, const char *body,
                         size_t len);
void route_admin_functions(conn *c, const http_request *req, const svc_caller *who,
                           const char *body, size_t len);
void route_admin_workers(conn *c, const http_request *req, const svc_caller *who, const char *body,
                         size_t len);

#endif
