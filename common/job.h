/*
 * job.h - the job value of asynchronous jobs (DESIGN.md sections 3 and 4).
 *
 * A job is a plain value that callers embed (on the stack, in an array):
 * fixed-size strings plus two owned JSON references, args and result. Every
 * job starts with job_init() and ends with job_release(); the store fills jobs
 * the same way (see store.h).
 *
 * Invariants:
 *   - state moves queued -> running -> succeeded | failed | cancelled, or
 *     queued -> cancelled; a final state never changes again. A running job
 *     goes back to queued only when its worker died and it has retries left.
 *   - error_code is "" exactly when there is no error (a succeeded, queued or
 *     running job); failed and cancelled jobs carry one of the codes below.
 *   - times are wall-clock microseconds since the Unix epoch (CLOCK_REALTIME,
 *     job_now_us()); 0 means "not yet" and is written as JSON null. The API
 *     shows milliseconds, but queue_ms needs sub-millisecond precision.
 *   - run_us and cpu_us are -1 until the job ran to an end its worker measured
 *     (null in JSON); a job failed with worker_lost keeps -1.
 *
 * Thread rules: a job is not shared; whoever holds it may read and write it.
 */
#ifndef CRUNCHD_JOB_H
#define CRUNCHD_JOB_H

#include "fn.h"
#include "wire.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum job_state {
    JOB_QUEUED = 0,    /* in the store, waiting for a worker to claim it */
    JOB_RUNNING = 1,   /* claimed by (owner_slot, owner_incarnation) */
    JOB_SUCCEEDED = 2, /* final: result is set */
    JOB_FAILED = 3,    /* final: error_code is set */
    JOB_CANCELLED = 4, /* final: error_code is "cancelled" */
} job_state;

#define JOB_ID_LEN 32 /* 128 random bits as lowercase hex (job_new_id) */
#define JOB_FN_MAX 63 /* longest function name stored */
#define JOB_CALLBACK_MAX 1023
#define JOB_IDEM_KEY_MAX 255
#define JOB_ERR_CODE_MAX 31
#define JOB_ERR_MESSAGE_MAX 511
#define JOB_OWNER_MAX 64 /* a token name (auth.h AUTH_NAME_MAX) */

/* Error codes of a failed or cancelled job are wire.h's ERR_INVALID_ARGS,
 * ERR_TIMEOUT, ERR_CANCELLED, ERR_WORKER_LOST and ERR_FUNCTION_ERROR. */

typedef struct job {
    char id[JOB_ID_LEN + 1];
    char fn[JOB_FN_MAX + 1];
    fn_kind kind; /* from the function: picks the claim queue */
    json_t *args; /* owned; NULL is stored and shown as {} */
    int64_t args_cost; /* what args cost in memory, estimated from the text they were
                          parsed from (json_cost.h): set by the store when it hands
                          out parsed args; 0 otherwise */
    job_state state;
    json_t *result;                              /* owned; NULL = none (JSON null) */
    char error_code[JOB_ERR_CODE_MAX + 1];       /* "" = no error */
    char error_message[JOB_ERR_MESSAGE_MAX + 1]; /* valid UTF-8 (job_set_error) */
    int attempts;                                /* claims so far, re-queues included */
    int retries;                                 /* re-queues allowed after worker_lost */
    int64_t timeout_ms;                          /* per attempt; 0 = none */
    char callback[JOB_CALLBACK_MAX + 1];         /* URL, "" = none */
    char idem_key[JOB_IDEM_KEY_MAX + 1];         /* Idempotency-Key, "" = none; unique per owner */
    char owner[JOB_OWNER_MAX + 1];               /* the token name that submitted it; "" = none
                                                    (submitted without tokens) */
    int worker_pid;                              /* pid that ran it last; 0 = none */
    int owner_slot;                              /* worker slot that claimed it; -1 = none */
    unsigned owner_incarnation;                  /* of that slot, at claim time */
    bool cancel_requested;                       /* DELETE seen while running */
    int64_t created_at_us;                       /* wall clock us; 0 = null */
    int64_t started_at_us;                       /* last claim */
    int64_t finished_at_us;
    int64_t deadline_us;    /* started_at_us + timeout; 0 = none */
    int64_t run_us, cpu_us; /* measured by the worker; -1 = null */
} job;

/* Makes *j an empty queued job: strings "", pointers NULL, owner_slot -1,
 * run_us and cpu_us -1, everything else 0. */
void job_init(job *j);

/* Drops args and result and leaves *j as job_init() does (reusable). */
void job_release(job *j);

/* "queued", "running", ...; "unknown" for a value outside the enum. */
const char *job_state_name(job_state s);

/* Parses a state name. Returns 0 and sets *out, or -1 for an unknown name. */
int job_state_parse(const char *name, job_state *out);

/* True for succeeded, failed and cancelled. */
bool job_state_final(job_state s);

/*
 * Writes a fresh id: 128 bits from getrandom() as 32 lowercase hex digits and
 * a NUL; the first 32 bits are shared by the ids a thread makes in a row (see
 * job.c), the other 96 are the id's own. Returns 0, or -1 with errno set if
 * the kernel gives no randomness (out is then ""). Never sequential, never
 * derived from time or pid.
 */
int job_new_id(char out[JOB_ID_LEN + 1]);

/* True if s looks like an id from job_new_id() (32 lowercase hex digits). Lets
 * the HTTP side answer 404 without asking the store. */
bool job_id_valid(const char *s, size_t len);

/* Wall clock, microseconds since the epoch. */
int64_t job_now_us(void);

/* Writes RFC 3339 UTC with milliseconds, "2026-11-27T11:05:29.123Z" (24
 * characters and a NUL), truncating microseconds. */
void job_format_time(int64_t us, char out[32]);

/*
 * Sets error_code and error_message (either may be NULL for ""), truncating
 * the message at JOB_ERR_MESSAGE_MAX bytes on a UTF-8 character boundary.
 * Invalid UTF-8 bytes in message are replaced by '?', so the job can always be
 * encoded as JSON.
 */
void job_set_error(job *j, const char *code, const char *message);

/*
 * True when a and b ask for the same work: the same fn, args (json_equal;
 * NULL and {} are the same), timeout_ms, retries and callback. This is what
 * an Idempotency-Key promises (draft-ietf-httpapi-idempotency-key-header):
 * a key sent again with another request is an error, not the old job. Costs
 * a walk of both args (up to max_body_bytes): call it off the loop thread.
 */
bool job_same_request(const job *a, const job *b);

/* args and result as JSON text, as the store keeps them (borrowed). */
typedef struct job_json_text {
    const char *args; /* NULL: {} */
    size_t args_len;
    const char *result; /* NULL: null */
    size_t result_len;
} job_json_text;

/* Members of the job object shown beyond the summary (job_dumps_fields,
 * job_dumps_view): args, result, and owner (shown to admin tokens only). */
#define JOB_VIEW_ARGS 1u
#define JOB_VIEW_RESULT 2u
#define JOB_VIEW_OWNER 4u

/*
 * The public job object of DESIGN.md section 3, as a new reference (NULL only
 * when out of memory):
 *   {"id", "fn", "args", "state", "result", "error", "attempts", "worker",
 *    "created_at", "started_at", "finished_at", "queue_ms", "run_ms", "cpu_ms"}
 * error is null or {"code", "message"}; worker is the pid or null; times are
 * job_format_time() strings or null; queue_ms (started_at - created_at),
 * run_ms and cpu_ms are reals or null. args and result are shared with *j
 * (reference counted), not copied: do not modify them.
 *
 * Internal fields (kind, retries, timeout, callback, idempotency key, owner,
 * cancel_requested, deadline) are not part of it (job_dumps_fields shows
 * the owner on request).
 *
 * Note: jansson dumps reals with 17 significant digits (0.137 becomes
 * 0.13700000000000001). For the wire use job_dumps().
 */
json_t *job_to_json(const job *j);

/*
 * The same object as compact JSON text, with queue_ms, run_ms and cpu_ms
 * written with exactly three decimals ("0.137"). Returns a malloc'ed,
 * NUL-terminated string the caller frees, its length in *len (may be NULL);
 * NULL when out of memory.
 */
char *job_dumps(const job *j, size_t *len);

/*
 * The same with the members fields asks for (JOB_VIEW_ARGS, JOB_VIEW_RESULT:
 * the job's own args and result; JOB_VIEW_OWNER: "owner" after "fn", the
 * owner's name or "" for none). job_dumps() is this with args and result.
 */
char *job_dumps_fields(const job *j, unsigned fields, size_t *len);

/*
 * The job as a list shows it (GET /v1/jobs): job_dumps()'s object without
 * "args" and "result", unless fields (JOB_VIEW_ARGS, JOB_VIEW_RESULT) asks
 * for them (and with "owner" for JOB_VIEW_OWNER); their values are then text's, copied as they are (JSON the
 * store wrote, never parsed here: a 1 MB args costs a copy, not a parse).
 * j's own args and result are not used. Returns malloc'ed text (its length
 * in *len, may be NULL) the caller frees; NULL when out of memory.
 */
char *job_dumps_view(const job *j, unsigned fields, const job_json_text *text, size_t *len);

#endif
