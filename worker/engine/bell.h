/*
 * bell.h - what workers tell each other about jobs, and the doorbell that
 * makes them look.
 *
 * The news itself lives in the shared region: claim bits in each worker's
 * slot ("claim jobs of this kind"), and notes in a ring (shm.h: "job X became
 * final", "stop job X"). A datagram on the worker's wake-up socket (wake.h)
 * only rings the bell, at most one in flight per worker: the receiver
 * clears its slot's bell before it looks, so a ring that finds the bell
 * already set is covered by the datagram on its way, and no socket queue
 * ever fills. A finisher rings only the workers whose long-polls may be on
 * the job: each worker counts its long-polls in wait bins by job id in its
 * slot (slot_bin_add); the finisher commits, then reads the bins, and a
 * long-poll adds to its bin before it reads the job, so one of the two
 * always sees the other.
 *
 * What the bell makes this worker do is the engine's business: the
 * handlers given to bell_open() (claims, long-polls, running jobs).
 *
 * Loop thread only.
 */
#ifndef CRUNCHD_BELL_H
#define CRUNCHD_BELL_H

#include <sys/types.h>

#include "ctx.h"

typedef struct bell_handlers {
    void (*claim)(engine *e, fn_kind kind);         /* someone queued jobs of kind */
    void (*job_changed)(engine *e, const char *id); /* job id may be final: look again */
    void (*stop_job)(engine *e, const char *id);    /* the job id this worker runs is to stop */
    void (*notes_lost)(engine *e);                  /* fell a ring behind: look everything up */
} bell_handlers;

/* Binds this worker's wake-up socket and listens on the loop. h is copied.
 * Returns 0, or -1 (logged). */
int bell_open(engine *e, const bell_handlers *h);
void bell_close(engine *e);

/* The worker serves: a bell an earlier incarnation of the slot never
 * answered is cleared, and whatever it was about is looked at now. */
void bell_start(engine *e);

/* Looks at the claim bits and the notes (a lost datagram costs at most the
 * time to the next call: the engine's sweep calls it once a second). */
void bell_answer(engine *e);

/* Rings one other worker that has a free lane of kind, if any. */
void bell_wake_idle(engine *e, fn_kind kind);

/* Job id became final here: tells the workers whose long-polls may be on it. */
void bell_job_final(engine *e, const char *id);

/* Asks worker owner to stop its running job id. */
void bell_stop_job(engine *e, pid_t owner, const char *id);

#endif
