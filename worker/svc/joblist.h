/*
 * joblist.h - the job list, one bounded page at a time, protocol-neutral.
 *
 * A page holds at most limit jobs (JOBLIST_DEFAULT, at most JOBLIST_MAX) and at
 * most JOBLIST_MAX_BYTES of job JSON (a single larger job comes alone, so
 * paging always moves on), newest first by (created_at, id), after a cursor.
 * Each job is its object without "args" and "result" unless fields asks for
 * them, and with "owner" for a caller with show_owner. A caller sees its own
 * jobs only, unless it has all (svc.h). The page's JSON is written on the store thread as the store
 * reads the rows (store_list_page), args and result copied as stored, never parsed: the loop only
 * copies a bounded buffer.
 *
 * Loop thread only (the row writer excepted: the store thread).
 */
#ifndef CRUNCHD_SVC_JOBLIST_H
#define CRUNCHD_SVC_JOBLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "ctx.h"
#include "store.h"
#include "svc.h"

#define JOBLIST_DEFAULT 100
#define JOBLIST_MAX 1000
/* Bytes of job JSON in one page: what one list request may make a worker
 * hold and send. */
#define JOBLIST_MAX_BYTES (1024 * 1024)

typedef struct joblist_query {
    int state;               /* a job_state, or -1 for any */
    char fn[JOB_FN_MAX + 1]; /* "" for any */
    int limit;               /* 1 .. JOBLIST_MAX */
    unsigned fields;         /* JOB_VIEW_ARGS | JOB_VIEW_RESULT (JOB_VIEW_OWNER: from the
                                caller) */
    bool has_after;
    store_cursor after; /* with has_after: the page starts after this job */
} joblist_query;

typedef struct joblist_page {
    svc_status status; /* SVC_OK or SVC_INTERNAL */
    const char *message;
    const char *text; /* the jobs' objects, comma-separated, len bytes */
    size_t len;
    int n;             /* jobs on the page */
    bool more;         /* more jobs match after the last one */
    store_cursor last; /* of the last job (n > 0) */
} joblist_page;

typedef void joblist_done_fn(void *arg, const joblist_page *p);
typedef struct joblist_op joblist_op;

/* Reads one page of who's jobs (borrowed for the call) for q (copied).
 * Answers through done later, or now (NULL returned) when out of memory. */
joblist_op *joblist_start(engine *e, const svc_caller *who, const joblist_query *q,
                          joblist_done_fn *done, void *arg);

/* The caller is gone: never answer. */
void joblist_abandon(joblist_op *op);

#endif
