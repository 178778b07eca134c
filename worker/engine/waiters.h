/*
 * waiters.h - long-polls: someone waits for job id to become final, up to
 * a deadline (GET ?wait=S, a submission with a wait, a cancel of a running
 * job, a sync call that went through the queue).
 *
 * A waiter is answered once, through its callback, with the job as the
 * store has it: when the job became final (told by the engine here, or by
 * another worker through the bell), or, when its time is up, as it is then.
 * A job read from the store comes with its args and result as text, never
 * parsed: answering with a job of 1 MB args costs a copy, not ~25 MB of
 * values.
 * Protocol-neutral: what the answer means to the client is the caller's.
 *
 * Life of a waiter (one state, one setter that asserts the transitions):
 *
 *   COMMITTING  its job is being submitted: not in the store yet; news is
 *               remembered until waiter_committed()
 *   IDLE        in the store, not final: waiting for news or its time
 *   READING     a store read is in flight; news that comes meanwhile means
 *               one more read
 *   ANSWERED    answered (the job became final) while a read was in flight:
 *               that read's end frees it
 *
 *   COMMITTING -> IDLE | READING | freed;  IDLE -> READING | freed;
 *   READING -> IDLE | READING | ANSWERED | freed;  ANSWERED -> freed.
 *
 * Every waiter is freed in one place (waiter_free), after its callback ran,
 * or without a callback once it was abandoned. While a worker holds
 * long-polls its slot says how many and on which wait bins (slot.h), so
 * that finishers elsewhere ring it (bell.h).
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_WAITERS_H
#define CRUNCHD_WAITERS_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"
#include "job.h"

typedef enum waiter_end {
    WAITER_JOB,         /* j: final, or as it is when the time ran out */
    WAITER_NOT_FOUND,   /* the job is gone (purged meanwhile) */
    WAITER_STORE_ERROR, /* err: reading it (or submitting it) failed */
} waiter_end;

/* The answer: j (borrowed, for the call) with WAITER_JOB, err with
 * WAITER_STORE_ERROR, else NULL. With WAITER_JOB, text (borrowed) is NULL
 * when j holds its own args and result (a job that ended in this worker);
 * else j came from a store read that left them as JSON text, as stored
 * (store_get_text: never parsed here), and j's args and result are NULL.
 * Called once; the waiter is gone after. */
typedef void waiter_fn(void *arg, waiter_end how, const job *j, const job_json_text *text,
                       const char *err);

typedef struct waiter waiter;

/*
 * Waits up to wait_ms for job id. committing: the job is being submitted
 * (waiter_committed or waiter_failed comes next); else it is in the store
 * and is read once now (it may have become final between the caller's read
 * and the wait bins saying we wait). Returns NULL when out of memory
 * (nothing was called).
 */
waiter *waiter_new(engine *e, const char *id, int64_t wait_ms, bool committing, waiter_fn *fn,
                   void *arg);

/* The submission is committed; the job is id (another one when its
 * Idempotency-Key was known). look: read it at once (a known job may be
 * final already); else the waiter waits for news. */
void waiter_committed(waiter *w, const char *id, bool look);

/* The submission failed: answered with WAITER_STORE_ERROR. */
void waiter_failed(waiter *w, const char *err);

/* The caller is gone: the waiter ends without an answer (now, or when the
 * operation in flight returns). */
void waiter_abandon(waiter *w);

/* j became final in this worker: answers the waiters on it. */
void waiters_job_final(engine *e, const job *j);

/* Job id may have changed (a note from another worker): read it again. */
void waiters_job_changed(engine *e, const char *id);

/* Notes may have been lost: read every waited-on job again. */
void waiters_refetch_all(engine *e);

/* Draining: every waiter's time is up now. */
void waiters_drain(engine *e);

/* Long-polls held. */
int waiters_count(const engine *e);

int waiters_init(engine *e);
void waiters_release(engine *e);

#endif
