/*
 * jobs_list.h - GET /v1/jobs: the job list, one bounded page at a time.
 *
 * A page holds summaries (the job object without "args" and "result";
 * ?fields=args,result adds them), at most ?limit= jobs (default
 * JOBS_LIST_DEFAULT, at most JOBS_LIST_MAX) and at most JOBS_LIST_MAX_BYTES
 * of job JSON (a single larger job comes alone, so paging always moves on),
 * newest first. The reply is {"jobs": [...], "next": LINK or null}, with
 * "Link: <LINK>; rel=\"next\"" (RFC 8288) when there is more: LINK is
 * /v1/jobs with the same state, fn, limit and fields and an opaque cursor.
 *
 * The page's JSON is written on the store thread as the store reads the
 * rows (store_list_page), so the loop thread only copies a bounded buffer
 * into the reply.
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_JOBS_LIST_H
#define CRUNCHD_JOBS_LIST_H

#include "conn.h"
#include "http_parser.h"

#define JOBS_LIST_DEFAULT 100
#define JOBS_LIST_MAX 1000
/* Bytes of job JSON in one page (the reply adds "next" and some braces):
 * what one list request may make a worker hold and send. */
#define JOBS_LIST_MAX_BYTES (1024 * 1024)

/* Answers GET /v1/jobs (400 for a bad parameter, naming it). */
void jobs_list_handle(conn *c, const http_request *req);

#endif
