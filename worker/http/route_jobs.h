/*
 * route_jobs.h - the /v1/jobs routes (DESIGN.md section 3) over HTTP: turn
 * requests into job service calls (svc/jobs.h, svc/joblist.h) and their
 * answers into replies.
 *
 *   POST /v1/jobs            202 + Location + Retry-After + the job; 200 with
 *                            the final job within ?wait=S / Prefer: wait=S
 *   GET /v1/jobs             a page of the list (route_list.c)
 *   GET /v1/jobs/{id}        200 + the job, after ?wait=S at most
 *   DELETE /v1/jobs/{id}     200 cancelled, 202 still stopping, 409 finished
 *
 * Each acts for the caller dispatch found (svc.h): a job belongs to its
 * owner, another owner's job is 404 as one that does not exist, and the
 * job object shows "owner" to admin tokens only. A client that leaves
 * abandons the request (a submission stays queued).
 * Loop thread only.
 */
#ifndef CRUNCHD_ROUTE_JOBS_H
#define CRUNCHD_ROUTE_JOBS_H

#include <stddef.h>

#include "conn.h"
#include "svc.h"

/* POST and GET /v1/jobs. */
void route_jobs_collection(conn *c, const http_request *req, const svc_caller *who,
                           const char *body, size_t len);

/* GET and DELETE /v1/jobs/{id}. */
void route_jobs_item(conn *c, const http_request *req, const svc_caller *who, const char *body,
                     size_t len);

/* GET /v1/jobs (route_list.c): who's jobs (every owner's with who->all). */
void route_list_get(conn *c, const http_request *req, const svc_caller *who);

#endif
