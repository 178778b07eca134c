/*
 * store_sqlite_int.h - what the files of the SQLite backend share (internal
 * to store_sqlite*.c): the handle and a few helpers. store_sqlite.c holds
 * the statements and the ops, store_sqlite_open.c opening a file and its
 * schema. Every function here runs on the thread that uses the store.
 */
#ifndef CRUNCHD_STORE_SQLITE_INT_H
#define CRUNCHD_STORE_SQLITE_INT_H

#include "store_int.h"

#include <sqlite3.h>

#define SQ_STMT_MAX 32 /* cached statements per connection */

typedef struct sq {
    store base; /* first: a store * is a sq * */
    sqlite3 *db;
    int busy_ms;        /* how long a transaction waits for the lock */
    int64_t busy_us;    /* waited so far for the current lock */
    int wal_pages;      /* frames in the WAL after the last commit (wal_hook) */
    bool finish_checkpoint; /* the last one left frames: copy them under the gate */
    sqlite3_stmt *stmt[SQ_STMT_MAX];
    char path[CONFIG_PATH];
} sq;

static inline sq *sq_of(store *st)
{
    return (sq *)st;
}

/* The backend's ops (store_sqlite.c). */
extern const store_ops sq_ops;

/* Fails with "PATH: what: sqlite's message"; returns -1. */
int sq_db_fail(sq *s, const char *what);

/* Ends a failed transaction (if SQLite has not already) without touching the
 * error message; returns -1. */
int sq_tx_abort(sq *s);

/* Copies text column c of q's row into dst ("" for NULL). */
void sq_col_text(sqlite3_stmt *q, int c, char *dst, size_t size);

/* sqlite3_wal_hook() callback: notes the WAL's size for the checkpoints. */
int sq_wal_noted(void *arg, sqlite3 *db, const char *name, int pages);

/* Finalizes the cached statements, closes the connection and frees s. */
void sq_free(sq *s);

#endif
