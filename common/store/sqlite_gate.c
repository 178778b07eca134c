/*
 * sqlite_gate.c - what happens around each write of the SQLite backend:
 * the write gate before it, the WAL checkpoint after it.
 *
 * The gate (store_sqlite_opts.gate; in production the robust,
 * process-shared mutex of the shared area, sq_shared_init()) is taken by
 * every write of every worker: SQLite's own lock is then only ever waited
 * for by writers without the gate (the master at start-up, tests, a worker
 * ending itself over a job that would not stop), and a waiting writer is
 * woken the moment the gate frees instead of napping in the busy handler
 * (sqlite_open.c). Taking it gives up after the store's busy timeout
 * with "write gate: ..." as the error.
 *
 * Checkpoints. SQLite's automatic one runs inside COMMIT, so it would hold
 * the gate for as long as it copies pages and syncs, and being PASSIVE it
 * never catches up while two workers keep appending: the WAL is only
 * restarted once every frame in it was copied, so under steady load it grew
 * without end (600 MB in 8 s of the async benchmark). Instead the WAL hook
 * notes the WAL's size at each commit; past CHECKPOINT_PAGES the writer
 * copies the bulk after letting go of the gate (others keep writing
 * meanwhile), and if frames were appended during that, copies the rest at
 * its next write while it holds the gate -- a few pages, since nobody can
 * append then. The write that follows finds the WAL fully copied and starts
 * it over from the beginning.
 */
#include "sqlite_int.h"

#include "errbuf.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define CHECKPOINT_PAGES 4000 /* WAL frames that call for a checkpoint */

int sq_shared_init(const config_store *cfg, void *area, char *err, size_t errlen)
{
    store_sqlite_shared *sh = area;
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc == 0 && (rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) == 0 &&
        (rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) == 0)
        rc = pthread_mutex_init(&sh->gate, &a);
    pthread_mutexattr_destroy(&a);
    if (rc != 0)
        return errbuf_fail(err, errlen, "store write gate: pthread_mutex_init() failed: %s",
                           strerror(rc));
    return 0;
}

int sq_gate_take(sq *s)
{
    if (!s->gate)
        return 0;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += s->busy_ms / 1000;
    until.tv_nsec += (long)(s->busy_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    int rc = pthread_mutex_timedlock(s->gate, &until);
    if (rc == EOWNERDEAD) { /* its holder died; SQLite rolls back what it left */
        rc = pthread_mutex_consistent(s->gate);
        if (rc != 0)
            pthread_mutex_unlock(s->gate);
    }
    if (rc != 0)
        return store_fail(&s->base, "write gate: %s", rc == ETIMEDOUT ? "timed out" : strerror(rc));
    return 0;
}

/* Copies what it can; true if frames are left (a reader or a writer was
 * using them). */
static bool checkpoint(sq *s)
{
    int log = 0, copied = 0;
    if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) !=
        SQLITE_OK)
        return true;
    return copied < log;
}

int sq_gate_give(sq *s, int rc)
{
    if (s->gate)
        pthread_mutex_unlock(s->gate);
    if (s->wal_pages >= CHECKPOINT_PAGES) {
        s->wal_pages = 0;
        s->finish_checkpoint = checkpoint(s);
    }
    sq_shed(s);
    return rc;
}

void sq_gate_checkpoint_rest(sq *s)
{
    if (s->finish_checkpoint)
        s->finish_checkpoint = checkpoint(s);
}

int sq_wal_noted(void *arg, sqlite3 *db, const char *name, int pages)
{
    ((sq *)arg)->wal_pages = pages;
    return SQLITE_OK;
}
