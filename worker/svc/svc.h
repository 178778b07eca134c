/*
 * svc.h - what the protocol-neutral services (call.h, jobs.h, joblist.h)
 * take and answer: who calls (svc_caller, as a value: each protocol finds
 * out who in its own way, HTTP from a bearer token), and a status each
 * protocol maps to its own (HTTP: route_*.c), a message for people, and
 * the argument at fault.
 */
#ifndef CRUNCHD_SVC_H
#define CRUNCHD_SVC_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Who calls a service. Jobs belong to the owner that submitted them (a
 * token name; "" without tokens): a caller sees, lists and cancels its own
 * jobs only, unless all is set, and another owner's job is SVC_NOT_FOUND,
 * as if it did not exist. Idempotency keys are per owner. Borrowed for the
 * call that takes it: the services copy what they keep.
 */
typedef struct svc_caller {
    const char *owner;  /* never NULL; at most JOB_OWNER_MAX bytes (job.h) */
    bool all;           /* every owner's jobs: an admin token, or no tokens at all */
    bool show_owner;    /* job objects show "owner" (admin tokens; never without tokens) */
    int64_t max_queued; /* the owner's jobs queued at once (SVC_QUEUE_FULL past it); 0: none */
} svc_caller;

/* The caller when no tokens are in force: nobody, seeing everything. */
extern const svc_caller svc_caller_open;

typedef enum svc_status {
    SVC_OK,
    SVC_INVALID_ARGS, /* arg names the argument or field */
    SVC_UNKNOWN_FUNCTION,
    SVC_NOT_FOUND,      /* no such job */
    SVC_ALREADY_FINAL,  /* a cancel came after the job ended */
    SVC_KEY_REUSED,     /* an Idempotency-Key sent again with another request */
    SVC_QUEUE_FULL,     /* limits.max_queue jobs are queued, or the caller's max_queued
                           (retry_after_s) */
    SVC_BUSY,           /* a memory budget of the worker is full */
    SVC_TIMEOUT,        /* a call passed its time limit */
    SVC_FUNCTION_ERROR, /* the function ran and failed */
    SVC_WORKER_LOST,    /* the process that ran it died under it (a worker, or a
                           language runtime's process) */
    SVC_INTERNAL,       /* the store failed, out of memory */
} svc_status;

#endif
