/*
 * svc.h - what the protocol-neutral services (call.h, jobs.h, list.h)
 * answer: a status each protocol maps to its own (HTTP: route_*.c), a
 * message for people, and the argument at fault.
 */
#ifndef CRUNCHD_SVC_H
#define CRUNCHD_SVC_H

typedef enum svc_status {
    SVC_OK,
    SVC_INVALID_ARGS, /* arg names the argument or field */
    SVC_UNKNOWN_FUNCTION,
    SVC_NOT_FOUND,      /* no such job */
    SVC_ALREADY_FINAL,  /* a cancel came after the job ended */
    SVC_KEY_REUSED,     /* an Idempotency-Key sent again with another request */
    SVC_QUEUE_FULL,     /* limits.max_queue jobs are queued (retry_after_s) */
    SVC_BUSY,           /* a memory budget of the worker is full */
    SVC_TIMEOUT,        /* a call passed its time limit */
    SVC_FUNCTION_ERROR, /* the function ran and failed */
    SVC_INTERNAL,       /* the store failed, out of memory, a worker lost */
} svc_status;

#endif
