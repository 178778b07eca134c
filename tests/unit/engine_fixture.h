/*
 * engine_fixture.h - a real engine for the unit tests of worker/engine/ and
 * worker/http/conn*: a config whose SQLite store lives in a fresh temporary
 * directory, a shared region with this process in slot 0 (as the master
 * would have put it), a private wake-up directory, an event_base, and
 * engine_init() + engine_start() on it. The test's thread becomes the
 * engine's loop thread.
 *
 * Tests drive the loop themselves: efx_run_until() turns it (EVLOOP_ONCE)
 * until a condition holds or a deadline passes, never sleeping in between.
 *
 * Every helper fails the current Check test on error.
 */
#ifndef CRUNCHD_ENGINE_FIXTURE_H
#define CRUNCHD_ENGINE_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "engine.h"
#include "job.h"
#include "shm.h"
#include "store.h"

/* Generous: a loaded 2-CPU machine under valgrind is slow, and a deadline
 * only bounds a test that is failing anyway. */
#define EFX_DEADLINE_MS 20000

typedef struct efx {
    char dir[256];      /* the temporary directory (store, wake-up sockets) */
    config cfg;
    fn_registry *registry; /* the built-ins, as the master builds it */
    shm_region *shm;
    struct event_base *base;
    engine e;
    int idle_calls;     /* engine_idle() calls seen */
} efx;

/* Fills f->cfg with the fixture's config (small pools, the store in f->dir);
 * a test may change it before efx_start(). Creates the directory, the
 * function registry (the built-ins, made this process's), the shared region
 * (its metrics and store areas set up) and the store. */
void efx_prepare(efx *f);

/* engine_init() + engine_start(), then waits for the claims the start makes
 * to come back (the store queue is empty when it returns). */
void efx_start(efx *f);

/* efx_prepare() + efx_start(). */
void efx_setup(efx *f);

/* Waits for the engine to be idle (engine_idle_now), releases it and removes
 * everything efx_prepare() made. */
void efx_teardown(efx *f);

/* Turns the loop until cond(arg) holds (checked before each turn) or
 * timeout_ms pass; returns whether it holds. */
typedef bool efx_cond(void *arg);
bool efx_run_until(efx *f, efx_cond *cond, void *arg, int64_t timeout_ms);

/* One turn of the loop that runs what is ready now, without waiting. */
void efx_turn(efx *f);

/* Turns the loop for ms (its timers fire). */
void efx_run_for(efx *f, int64_t ms);

/* The same, failing the test at EFX_DEADLINE_MS with what. */
void efx_must(efx *f, efx_cond *cond, void *arg, const char *what);

/* Turns the loop until the store queue has nothing pending. */
void efx_settle(efx *f);

/* A store of the fixture's file for the test's own reads and writes
 * (store_close() it). */
store *efx_store(efx *f);

/* Queues a job of fn with args (JSON text; NULL: {}, which is not checked
 * against fn's arguments, nor are defaults filled in) straight into the
 * store; its id goes to id. */
void efx_queue_job(efx *f, const char *fn, const char *args, int retries,
                   char id[JOB_ID_LEN + 1]);

/*
 * Holds the engine's store thread (there is one): a list op whose row
 * function waits until efx_unhold(). Store ops pushed meanwhile queue
 * behind it, in order, so a test can choose what a read sees and when its
 * answer comes. Queues a job of its own (the list needs a row).
 */
typedef struct efx_hold efx_hold;
efx_hold *efx_hold_store(efx *f);
/* Blocks until the store thread is held: every op pushed before
 * efx_hold_store() has run. */
void efx_hold_wait(efx_hold *h);
/* Lets the store thread go; the hold is freed once its op is done. */
void efx_unhold(efx_hold *h);

/*
 * Another worker in slot (1 .. SHM_MAX_WORKERS-1) with pid fake_pid (no
 * process: only its wake-up socket is bound here). nslots grows to cover
 * it. Returns the socket's fd (close it).
 */
int efx_fake_worker(efx *f, int slot, pid_t fake_pid);

/* Datagrams waiting on a fake worker's socket, read (and counted) now. */
int efx_wake_count(int fd);

#endif
