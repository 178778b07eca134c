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

#define SQ_STMT_MAX 32     /* cached statements per connection: store_sqlite.c */
#define SQ_LIST_STMT_MAX 8 /* and store_sqlite_list.c */

/* The columns of a job row, as every SELECT and RETURNING names them; args
 * and result come last, as in the table (see store_sqlite_open.c). */
#define COLS_SUMMARY                                                                               \
    "seq, id, fn, kind, state, error_code, error_message, attempts, retries, timeout_ms, "         \
    "callback, idem_key, worker_pid, owner_slot, owner_inc, cancel_requested, created_at, "        \
    "started_at, finished_at, deadline_at, run_us, cpu_us"
#define COLS COLS_SUMMARY ", args, result"

/* Positions in COLS. */
/* clang-format off */
enum {
    C_SEQ, C_ID, C_FN, C_KIND, C_STATE, C_ERR_CODE, C_ERR_MSG, C_ATTEMPTS, C_RETRIES, C_TIMEOUT,
    C_CALLBACK, C_IDEM, C_PID, C_SLOT, C_INC, C_CANCEL, C_CREATED, C_STARTED, C_FINISHED,
    C_DEADLINE, C_RUN, C_CPU, C_ARGS, C_RESULT,
};
/* clang-format on */

typedef struct sq {
    store base; /* first: a store * is a sq * */
    sqlite3 *db;
    int busy_ms;        /* how long a transaction waits for the lock */
    int64_t busy_us;    /* waited so far for the current lock */
    int wal_pages;      /* frames in the WAL after the last commit (wal_hook) */
    bool finish_checkpoint; /* the last one left frames: copy them under the gate */
    sqlite3_stmt *stmt[SQ_STMT_MAX];
    sqlite3_stmt *list_stmt[SQ_LIST_STMT_MAX];
    char path[CONFIG_PATH];
} sq;

static inline sq *sq_of(store *st)
{
    return (sq *)st;
}

/* The backend's ops (store_sqlite.c). */
extern const store_ops sq_ops;

/* store_ops.list_page (store_sqlite_list.c). */
int sq_list_page(store *st, const store_list_query *q, store_row_fn *fn, void *arg, int *n,
                 bool *more);

/* The statement in *slot, prepared from sql on first use and kept (one
 * connection, one thread); NULL after sq_db_fail(). */
sqlite3_stmt *sq_cached(sq *s, sqlite3_stmt **slot, const char *sql);

/* Makes a statement reusable and drops its bound values (args, results). */
void sq_finish(sqlite3_stmt *q);

/* Fails with "PATH: what: sqlite's message"; returns -1. */
int sq_db_fail(sq *s, const char *what);

/* Ends a failed transaction (if SQLite has not already) without touching the
 * error message; returns -1. */
int sq_tx_abort(sq *s);

/* Copies text column c of q's row into dst ("" for NULL). */
void sq_col_text(sqlite3_stmt *q, int c, char *dst, size_t size);

/* Fills *j from the current row of q (selected with COLS or COLS_SUMMARY
 * first), all but args and result; *seq (may be NULL) gets the row's seq. */
void sq_row_fields(sqlite3_stmt *q, job *j, int64_t *seq);

/* sqlite3_wal_hook() callback: notes the WAL's size for the checkpoints. */
int sq_wal_noted(void *arg, sqlite3 *db, const char *name, int pages);

/* Finalizes the cached statements, closes the connection and frees s. */
void sq_free(sq *s);

#endif
