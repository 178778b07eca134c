/*
 * sqlite.h - the SQLite backend's own options and layout, for its tests and
 * benchmarks (internal to common/store/ and tests/): everything else uses
 * store.h with store.kind "sqlite".
 *
 * The backend is sqlite.c (the statements and the ops), sqlite_rows.c
 * (values in and out of statements), sqlite_gate.c (the write gate and the
 * WAL checkpoints around each write), sqlite_open.c (opening, the schema,
 * store_check and store_prepare) and sqlite_list.c (the list's pages).
 */
#ifndef CRUNCHD_SQLITE_H
#define CRUNCHD_SQLITE_H

#include "store_int.h"

#include <pthread.h>

#define STORE_SQLITE_SCHEMA_VERSION 3 /* 1: args and result mid-row, no jobs_created;
                                          2: no owner */

/*
 * The backend's shared area (store_shared_init()): the write gate, a robust,
 * process-shared mutex that every worker's store threads take around each
 * write transaction, so a waiting writer is woken the moment the lock frees
 * instead of polling SQLite's file lock, and a writer that dies holding it
 * does not block the rest.
 */
typedef struct store_sqlite_shared {
    pthread_mutex_t gate;
} store_sqlite_shared;

/* Options of a connection; store_open() uses the defaults and, with a shared
 * area, its gate. */
typedef struct store_sqlite_opts {
    bool sync_full;        /* synchronous=FULL instead of NORMAL */
    int busy_timeout_ms;   /* how long a write waits for the lock or the gate; 0 = 5000 */
    pthread_mutex_t *gate; /* taken around every write (a robust, process-shared
                              mutex), or NULL: then writers poll for SQLite's lock */
} store_sqlite_opts;

/* Opens (creating if needed) the SQLite store at path; opts may be NULL.
 * Returns NULL with err filled, as store_open(). */
store *store_sqlite_open(const char *path, const store_sqlite_opts *opts, char *err, size_t errlen);

/* The SQL of the list's first step for state (-1: any) and owner (NULL:
 * any): for tests that check the query plan (the ORDER BY and the cursor
 * use jobs_created, or jobs_owner for one owner). */
const char *store_sqlite_list_keys_sql(int state, const char *owner);

#endif
