/*
 * jobs_http.h - the /v1/jobs routes (DESIGN.md section 3) and the
 * long-polls that wait on a job (?wait=S, Prefer: wait=S, DELETE of a
 * running job).
 *
 * A long-poll keeps its connection's request open (conn_defer) and is
 * answered when jobs.c reports the job final (here or, through a WAKE_DONE
 * message, in another worker), or when its time is up, with the job as the
 * store has it then. While a worker holds long-polls its shm slot says so, so
 * that finishers elsewhere know to tell it.
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_JOBS_HTTP_H
#define CRUNCHD_JOBS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "fn.h"
#include "http_parser.h"
#include "job.h"

/* Parses a decimal in [0, max] from a query value; -1 if it is not one. */
int64_t jobs_http_parse_uint(http_slice v, int64_t max);

/* POST /v1/jobs and GET /v1/jobs (jobs_list.c). */
void jobs_http_collection(conn *c, const http_request *req, const char *body, size_t len);
/* GET and DELETE /v1/jobs/{id}. */
void jobs_http_item(conn *c, const http_request *req, const char *body, size_t len);

/*
 * Runs a sync call (POST /v1/fn/{name}) as a job through the shared queue
 * and answers it like a sync call when the job is final: for a worker whose
 * cpu lane is busy while another's is free. args: validated, stolen, with
 * mem bytes of BUDGET_ARGS taken for them (given back once committed).
 */
void jobs_http_offload(conn *c, const fn_desc *fn, json_t *args, int64_t timeout_ms, int64_t mem);

int waiters_init(wctx *w);
/* The worker serves now (its slot is its own): clears the slot's wait_bins. */
void waiters_start(wctx *w);
void waiters_release(wctx *w);

/* j became final: answer every long-poll on it with j (borrowed). */
void waiters_job_final(wctx *w, const job *j);
/* Job id may have changed (another worker said so): look it up again for
 * the long-polls on it. */
void waiters_job_changed(wctx *w, const char *id);
/* Looks every long-polled job up again (notes about them may be lost). */
void waiters_refetch_all(wctx *w);
/* Draining: answer every long-poll now with the job as it is. */
void waiters_drain(wctx *w);
/* Long-polls held. */
int waiters_count(const wctx *w);

#endif
