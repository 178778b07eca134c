/*
 * sqlite_int.h - what the files of the SQLite backend share (internal to
 * common/store/sqlite*.c; sqlite.h lists them): the handle and the helpers
 * between files. Every function here runs on the thread that uses the store.
 */
#ifndef CRUNCHD_SQLITE_INT_H
#define CRUNCHD_SQLITE_INT_H

#include "sqlite.h"

#include <sqlite3.h>

#define SQ_STMT_MAX 32     /* cached statements per connection: sqlite.c */
#define SQ_LIST_STMT_MAX 12/* and sqlite_list.c */

/* The columns of a job row, as every SELECT and RETURNING names them; args
 * and result come last, as in the table (see sqlite_open.c). */
#define COLS_SUMMARY                                                                               \
    "seq, id, fn, kind, state, error_code, error_message, attempts, retries, timeout_ms, "         \
    "callback, idem_key, worker_pid, owner_slot, owner_inc, cancel_requested, created_at, "        \
    "started_at, finished_at, deadline_at, run_us, cpu_us, owner"
#define COLS COLS_SUMMARY ", args, result"

/* Positions in COLS. */
/* clang-format off */
enum {
    C_SEQ, C_ID, C_FN, C_KIND, C_STATE, C_ERR_CODE, C_ERR_MSG, C_ATTEMPTS, C_RETRIES, C_TIMEOUT,
    C_CALLBACK, C_IDEM, C_PID, C_SLOT, C_INC, C_CANCEL, C_CREATED, C_STARTED, C_FINISHED,
    C_DEADLINE, C_RUN, C_CPU, C_OWNER, C_ARGS, C_RESULT,
};
/* clang-format on */

typedef struct sq {
    store base; /* first: a store * is a sq * */
    sqlite3 *db;
    int busy_ms;            /* how long a transaction waits for the lock or the gate */
    int64_t busy_us;        /* waited so far for the current lock */
    pthread_mutex_t *gate;  /* store_sqlite_opts.gate, or NULL */
    int wal_pages;          /* frames in the WAL after the last commit (wal_hook) */
    bool finish_checkpoint; /* the last one left frames: copy them under the gate */
    int64_t moved;          /* bytes of args and result text the current call moved (sq_shed) */
    sqlite3_stmt *stmt[SQ_STMT_MAX];
    sqlite3_stmt *list_stmt[SQ_LIST_STMT_MAX];
    char path[CONFIG_PATH];
} sq;

static inline sq *sq_of(store *st)
{
    return (sq *)st;
}

/* ---- sqlite_rows.c: statements, values in and out ---- */

/* Fails with "PATH: what: sqlite's message"; returns -1. */
int sq_db_fail(sq *s, const char *what);

/* The statement in *slot, prepared from sql on first use and kept (one
 * connection, one thread); NULL after sq_db_fail(). */
sqlite3_stmt *sq_cached(sq *s, sqlite3_stmt **slot, const char *sql);

/* Makes a statement reusable and drops its bound values (args, results). */
void sq_finish(sqlite3_stmt *q);

/* Runs a statement that returns no rows (or ignores them), then finishes it. */
int sq_run(sq *s, sqlite3_stmt *q, const char *what);

/* Binds v, or NULL for NULL or "" (text) and for null_value (integers). */
int sq_bind_text_or_null(sqlite3_stmt *q, int i, const char *v);
int sq_bind_us_or_null(sqlite3_stmt *q, int i, int64_t v, int64_t null_value);

/* Binds v as compact JSON text (NULL if v is NULL, or "{}" if object),
 * counted as moved (sq_shed). */
int sq_bind_json(sq *s, sqlite3_stmt *q, int i, json_t *v, bool object);

/* Bytes of args and result text one call may move before its end empties
 * the page cache (sq_shed). */
#define SQ_SHED_AFTER (512 * 1024)

/* At the end of every call: when it moved SQ_SHED_AFTER bytes of args and
 * result text (s->moved, counted by the row helpers here and by list
 * pages), empties the page cache (sqlite3_db_release_memory). Those rows'
 * overflow pages would otherwise fill CACHE_SIZE (16 MiB, sized for the
 * queue's index pages) of the worker's memory after a few large jobs; a
 * call that moved that much text pays little for reading its next index
 * pages again. */
void sq_shed(sq *s);

/* Copies text column c of q's row into dst ("" for NULL). */
void sq_col_text(sqlite3_stmt *q, int c, char *dst, size_t size);

/* Fills *j from the current row of q (selected with COLS or COLS_SUMMARY
 * first), all but args and result; *seq (may be NULL) gets the row's seq. */
void sq_row_fields(sqlite3_stmt *q, job *j, int64_t *seq);

/* Copies the args and result columns of q's current row into *text (empty
 * before); -1 after store_fail() when out of memory. */
int sq_row_text(sq *s, sqlite3_stmt *q, store_text *text);

/* Steps q and fills at most max jobs (whole rows, selected with COLS) into
 * out, which must hold max, and their seq into seqs (may be NULL). A row of
 * a job in mine[0..nmine) (by id; may be NULL) takes a new reference to its
 * args rather than parsing them again. q is finished either way; on failure
 * no job is left filled. */
int sq_fill(sq *s, sqlite3_stmt *q, const char *what, int max, job *out, int64_t *seqs, int *n,
            const job *mine, int nmine);

/* Steps q to the end, appending each row to a growing array (*rows, *n,
 * *cap). q is finished either way; on failure the rows already read stay in
 * the array for the caller to release. */
int sq_collect(sq *s, sqlite3_stmt *q, const char *what, job **rows, int *n, int *cap);

/* ---- sqlite_gate.c: around each write ---- */

/* Takes the write gate, if the store has one; -1 after store_fail(). Every
 * write that took it (or would have) ends in sq_gate_give(). */
int sq_gate_take(sq *s);

/* Releases the gate, then checkpoints the WAL if it grew past its mark
 * (outside the gate); returns rc. */
int sq_gate_give(sq *s, int rc);

/* Before a write's first statement, under the gate: copies the frames the
 * last checkpoint left behind. */
void sq_gate_checkpoint_rest(sq *s);

/* sqlite3_wal_hook() callback: notes the WAL's size for the checkpoints. */
int sq_wal_noted(void *arg, sqlite3 *db, const char *name, int pages);

/* store_ops.shared_init: sets up the gate in the shared area. */
int sq_shared_init(const config_store *cfg, void *area, char *err, size_t errlen);

/* ---- sqlite_open.c ---- */

/* store_ops.open, .check and .prepare. */
store *sq_open(const config_store *cfg, void *shared, char *err, size_t errlen);
int sq_check(const config_store *cfg, char *err, size_t errlen);
int sq_prepare(const config_store *cfg, char *err, size_t errlen);

/* Finalizes the cached statements, closes the connection and frees s. */
void sq_free(sq *s);

/* ---- sqlite_list.c ---- */

/* store_ops.list_page. */
int sq_list_page(store *st, const store_list_query *q, store_row_fn *fn, void *arg, int *n,
                 bool *more);

/* ---- sqlite.c ---- */

/* Ends a failed transaction (if SQLite has not already) without touching the
 * error message; returns -1. */
int sq_tx_abort(sq *s);

#endif
