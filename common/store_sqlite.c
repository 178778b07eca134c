/*
 * store_sqlite.c - the embedded job store: one SQLite file in WAL mode.
 *
 * Schema (version 2, in PRAGMA user_version; store_sqlite_open.c creates it
 * and migrates version 1): one STRICT table, jobs, with a column per field
 * of struct job; args and result are JSON text and the last two columns;
 * times are wall-clock microseconds (NULL = not yet); seq, the INTEGER
 * PRIMARY KEY (rowid), is the FIFO order. Indexes are partial where they
 * can be, so that each write touches few of them; state is repeated in the
 * first two so that they cover the claim's search and the counts (SQLite
 * re-checks a partial index's condition otherwise, reading every row):
 *   jobs_queue    (kind, state) WHERE state = 0    claim order: kind, then seq
 *   jobs_running  (owner_slot, state) WHERE state = 1   reaping a slot, counts
 *   jobs_idem     UNIQUE (idem_key) WHERE idem_key IS NOT NULL
 *   jobs_finished (finished_at) WHERE finished_at IS NOT NULL   purge
 *   jobs_created  (created_at, id)   the list, newest first, and its cursor
 * A file with a newer user_version is refused, and so is a database with
 * version 0 that already holds tables (not ours).
 *
 * Every write that reads before it writes runs in BEGIN IMMEDIATE: it takes
 * the write lock first (waiting up to busy_timeout), so it never fails with
 * SQLITE_BUSY_SNAPSHOT half-way. Single-statement writes run in autocommit,
 * which in WAL mode takes the write lock at the statement's start as well.
 * Prepared statements are cached per connection (SQLITE_PREPARE_PERSISTENT).
 */
#include "store_sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#define PURGE_BATCH 2000
#define CHECKPOINT_PAGES 4000  /* WAL frames that call for a checkpoint (sq_after_write) */

/* ---- SQL ---- */

/* The SQL writes states and kinds as these numbers. */
_Static_assert(JOB_QUEUED == 0 && JOB_RUNNING == 1 && JOB_SUCCEEDED == 2 && JOB_FAILED == 3 &&
                   JOB_CANCELLED == 4,
               "job_state values are stored in the file");
_Static_assert(FN_CPU == 0 && FN_IO == 1, "fn_kind values are stored in the file");

/* Owner filter of the reaping statements: ?1 < 0 means every running job. */
#define REAP_OWNER "state = 1 AND (?1 < 0 OR (owner_slot = ?1 AND owner_inc = ?2))"

typedef enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_INSERT,
    S_BY_IDEM,
    S_GET,
    S_CLAIM,
    S_COMPLETE,
    S_REQUEUE,
    S_CANCEL_QUEUED,
    S_CANCEL_RUNNING,
    S_REAP_CANCEL,
    S_REAP_REQUEUE,
    S_REAP_FAIL,
    S_PURGE,
    S_COUNTS,
    N_STMT,
} stmt_id;

_Static_assert(N_STMT <= SQ_STMT_MAX, "room in struct sq for every statement");

static const char *const sql_text[N_STMT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_INSERT] =
        "INSERT INTO jobs (id, fn, kind, args, state, attempts, retries, timeout_ms,"
        " callback, idem_key, created_at) VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, ?6, ?7, ?8, ?9)",
    [S_BY_IDEM] = "SELECT " COLS " FROM jobs WHERE idem_key = ?1",
    [S_GET] = "SELECT " COLS " FROM jobs WHERE id = ?1",
    [S_CLAIM] = "UPDATE jobs SET state = 1, owner_slot = ?1, owner_inc = ?2, worker_pid = ?3,"
                " attempts = attempts + 1, started_at = ?4,"
                " deadline_at = CASE WHEN timeout_ms > 0 THEN ?4 + timeout_ms * 1000 END"
                " WHERE seq IN (SELECT seq FROM jobs WHERE state = 0 AND kind = ?5"
                " ORDER BY seq LIMIT ?6) RETURNING " COLS,
    [S_COMPLETE] = "UPDATE jobs SET state = ?4, result = ?5, error_code = ?6, error_message = ?7,"
                   " run_us = ?8, cpu_us = ?9, finished_at = ?10"
                   " WHERE id = ?1 AND state = 1 AND owner_slot = ?2 AND owner_inc = ?3",
    /* A completion in state queued gives the job back (store.h); a cancel
     * that came meanwhile ends it cancelled instead, as a reap would. */
    [S_REQUEUE] = "UPDATE jobs SET state = CASE WHEN cancel_requested <> 0 THEN 4 ELSE 0 END,"
                  " error_code = CASE WHEN cancel_requested <> 0 THEN '" ERR_CANCELLED "' END,"
                  " error_message = CASE WHEN cancel_requested <> 0 THEN 'cancelled' END,"
                  " finished_at = CASE WHEN cancel_requested <> 0 THEN ?4 END,"
                  " owner_slot = CASE WHEN cancel_requested <> 0 THEN owner_slot END,"
                  " owner_inc = CASE WHEN cancel_requested <> 0 THEN owner_inc END,"
                  " worker_pid = CASE WHEN cancel_requested <> 0 THEN worker_pid END,"
                  " started_at = CASE WHEN cancel_requested <> 0 THEN started_at END,"
                  " deadline_at = NULL"
                  " WHERE id = ?1 AND state = 1 AND owner_slot = ?2 AND owner_inc = ?3",
    [S_CANCEL_QUEUED] =
        "UPDATE jobs SET state = 4, error_code = '" ERR_CANCELLED "', error_message = ?2,"
        " finished_at = ?3 WHERE id = ?1 AND state = 0",
    [S_CANCEL_RUNNING] = "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND state = 1",
    [S_REAP_CANCEL] =
        "UPDATE jobs SET state = 4, error_code = '" ERR_CANCELLED "', error_message = ?4,"
        " finished_at = ?3 WHERE " REAP_OWNER " AND cancel_requested <> 0"
        " RETURNING " COLS,
    [S_REAP_REQUEUE] = "UPDATE jobs SET state = 0, owner_slot = NULL, owner_inc = NULL,"
                       " worker_pid = NULL, started_at = NULL, deadline_at = NULL"
                       " WHERE " REAP_OWNER " AND attempts <= retries",
    [S_REAP_FAIL] = "UPDATE jobs SET state = 3, error_code = '" ERR_WORKER_LOST "',"
                    " error_message = ?4 || ifnull(' (pid ' || worker_pid || ')', ''),"
                    " finished_at = ?3 WHERE " REAP_OWNER " RETURNING " COLS,
    [S_PURGE] = "DELETE FROM jobs WHERE seq IN"
                " (SELECT seq FROM jobs WHERE finished_at < ?1 LIMIT ?2)",
    [S_COUNTS] = "SELECT (SELECT count(*) FROM jobs WHERE state = 0),"
                 " (SELECT count(*) FROM jobs WHERE state = 1)",
};

/* ---- the handle ---- */

/* Fails with "PATH: what: sqlite's message". */
int sq_db_fail(sq *s, const char *what)
{
    return store_fail(&s->base, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

sqlite3_stmt *sq_cached(sq *s, sqlite3_stmt **slot, const char *sql)
{
    if (!*slot &&
        sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
        sq_db_fail(s, "prepare");
        return NULL;
    }
    return *slot;
}

/* The cached statement id, prepared on first use; NULL after sq_db_fail(). */
static sqlite3_stmt *stmt(sq *s, stmt_id id)
{
    return sq_cached(s, &s->stmt[id], sql_text[id]);
}

void sq_finish(sqlite3_stmt *q)
{
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}

/* Runs a statement that returns no rows. */
static int run(sq *s, sqlite3_stmt *q, const char *what)
{
    int rc = sqlite3_step(q);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        sq_db_fail(s, what);
        sq_finish(q);
        return -1;
    }
    sq_finish(q);
    return 0;
}

static int run_id(sq *s, stmt_id id, const char *what)
{
    sqlite3_stmt *q = stmt(s, id);
    return q ? run(s, q, what) : -1;
}

static int tx_begin(sq *s)
{
    return run_id(s, S_BEGIN, "begin");
}

static int tx_commit(sq *s)
{
    return run_id(s, S_COMMIT, "commit");
}

/* Ends a failed transaction (if SQLite has not already) without touching the
 * error message; returns -1. */
int sq_tx_abort(sq *s)
{
    sqlite3_stmt *q;
    if (!sqlite3_get_autocommit(s->db) && (q = stmt(s, S_ROLLBACK)) != NULL) {
        sqlite3_step(q);
        sq_finish(q);
    }
    return -1;
}

/* ---- values in and out ---- */

static int bind_text_or_null(sqlite3_stmt *q, int i, const char *v)
{
    if (!v || !v[0])
        return sqlite3_bind_null(q, i);
    return sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

static int bind_us_or_null(sqlite3_stmt *q, int i, int64_t v, int64_t null_value)
{
    if (v == null_value)
        return sqlite3_bind_null(q, i);
    return sqlite3_bind_int64(q, i, v);
}

/* Binds v as compact JSON text (NULL if v is NULL, or "{}" if object). */
static int bind_json(sqlite3_stmt *q, int i, json_t *v, bool object)
{
    if (!v)
        return object ? sqlite3_bind_text(q, i, "{}", 2, SQLITE_STATIC) : sqlite3_bind_null(q, i);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return SQLITE_NOMEM;
    return sqlite3_bind_text(q, i, text, -1, free);
}

void sq_col_text(sqlite3_stmt *q, int c, char *dst, size_t size)
{
    const unsigned char *t = sqlite3_column_text(q, c);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static int64_t col_int(sqlite3_stmt *q, int c, int64_t null_value)
{
    return sqlite3_column_type(q, c) == SQLITE_NULL ? null_value : sqlite3_column_int64(q, c);
}

/* Parses a JSON column into *out (NULL for SQL NULL). */
static int col_json(sq *s, sqlite3_stmt *q, int c, json_t **out)
{
    const char *t = (const char *)sqlite3_column_text(q, c);
    json_error_t jerr;
    *out = NULL;
    if (!t)
        return 0;
    *out =
        json_loadb(t, (size_t)sqlite3_column_bytes(q, c), JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!*out)
        return store_fail(&s->base, "%s: job %s: %s column is not JSON: %s", s->path,
                          (const char *)sqlite3_column_text(q, C_ID), sqlite3_column_name(q, c),
                          jerr.text);
    return 0;
}

void sq_row_fields(sqlite3_stmt *q, job *j, int64_t *seq)
{
    job_init(j);
    if (seq)
        *seq = sqlite3_column_int64(q, C_SEQ);
    sq_col_text(q, C_ID, j->id, sizeof(j->id));
    sq_col_text(q, C_FN, j->fn, sizeof(j->fn));
    j->kind = (fn_kind)sqlite3_column_int(q, C_KIND);
    j->state = (job_state)sqlite3_column_int(q, C_STATE);
    sq_col_text(q, C_ERR_CODE, j->error_code, sizeof(j->error_code));
    sq_col_text(q, C_ERR_MSG, j->error_message, sizeof(j->error_message));
    j->attempts = sqlite3_column_int(q, C_ATTEMPTS);
    j->retries = sqlite3_column_int(q, C_RETRIES);
    j->timeout_ms = sqlite3_column_int64(q, C_TIMEOUT);
    sq_col_text(q, C_CALLBACK, j->callback, sizeof(j->callback));
    sq_col_text(q, C_IDEM, j->idem_key, sizeof(j->idem_key));
    j->worker_pid = (int)col_int(q, C_PID, 0);
    j->owner_slot = (int)col_int(q, C_SLOT, -1);
    j->owner_incarnation = (unsigned)col_int(q, C_INC, 0);
    j->cancel_requested = sqlite3_column_int(q, C_CANCEL) != 0;
    j->created_at_us = col_int(q, C_CREATED, 0);
    j->started_at_us = col_int(q, C_STARTED, 0);
    j->finished_at_us = col_int(q, C_FINISHED, 0);
    j->deadline_us = col_int(q, C_DEADLINE, 0);
    j->run_us = col_int(q, C_RUN, -1);
    j->cpu_us = col_int(q, C_CPU, -1);
}

/* Fills *j from the current row of q (selected with COLS); *seq (may be NULL)
 * gets the row's seq. On failure *j is empty. */
static int row_to_job(sq *s, sqlite3_stmt *q, job *j, int64_t *seq)
{
    sq_row_fields(q, j, seq);
    if (col_json(s, q, C_ARGS, &j->args) < 0 || col_json(s, q, C_RESULT, &j->result) < 0) {
        job_release(j);
        return -1;
    }
    return 0;
}

/*
 * Steps q to the end, appending each row to a growing array (*rows, *n,
 * *cap). The statement is finished either way; on failure the rows already
 * read stay in the array for the caller to release.
 */
static int collect(sq *s, sqlite3_stmt *q, const char *what, job **rows, int *n, int *cap)
{
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == *cap) {
            int ncap = *cap ? *cap * 2 : 8;
            job *r = realloc(*rows, (size_t)ncap * sizeof(**rows));
            if (!r) {
                sq_finish(q);
                return store_fail(&s->base, "%s: %s: out of memory", s->path, what);
            }
            *rows = r;
            *cap = ncap;
        }
        if (row_to_job(s, q, &(*rows)[*n], NULL) < 0) {
            sq_finish(q);
            return -1;
        }
        (*n)++;
    }
    if (rc != SQLITE_DONE) {
        sq_db_fail(s, what);
        sq_finish(q);
        return -1;
    }
    sq_finish(q);
    return 0;
}

/* Steps q and fills at most max jobs into out (which must hold max). */
static int fill(sq *s, sqlite3_stmt *q, const char *what, int max, job *out, int64_t *seqs, int *n)
{
    int rc = SQLITE_DONE;
    *n = 0;
    while (*n < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (row_to_job(s, q, &out[*n], seqs ? &seqs[*n] : NULL) < 0)
            goto err;
        (*n)++;
    }
    if (*n < max && rc != SQLITE_DONE) {
        sq_db_fail(s, what);
        goto err;
    }
    sq_finish(q);
    return 0;
err:
    sq_finish(q);
    for (int i = 0; i < *n; i++)
        job_release(&out[i]);
    *n = 0;
    return -1;
}

/* ---- checkpoints ---- */

/*
 * Checkpoints. SQLite's automatic one runs inside COMMIT, so it would hold
 * the write gate (store_set_gate) for as long as it copies pages and syncs,
 * and being PASSIVE it never catches up while two workers keep appending:
 * the WAL is only restarted once every frame in it was copied, so under
 * steady load it grew without end (600 MB in 8 s of the async benchmark).
 * Instead the WAL hook notes the WAL's size at each commit; past
 * CHECKPOINT_PAGES the writer copies the bulk after letting go of the gate
 * (others keep writing meanwhile), and if frames were appended during that,
 * copies the rest at its next write while it holds the gate -- a few
 * pages, since nobody can append then. The write that follows finds the WAL
 * fully copied and starts it over from the beginning.
 */
int sq_wal_noted(void *arg, sqlite3 *db, const char *name, int pages)
{
    ((sq *)arg)->wal_pages = pages;
    return SQLITE_OK;
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

static void sq_after_write(store *st)
{
    sq *s = sq_of(st);
    if (s->wal_pages < CHECKPOINT_PAGES)
        return;
    s->wal_pages = 0;
    s->finish_checkpoint = checkpoint(s);
}

/* ---- ops ---- */

static int sq_insert(sq *s, const job *j)
{
    sqlite3_stmt *q = stmt(s, S_INSERT);
    if (!q)
        return -1;
    if (sqlite3_bind_text(q, 1, j->id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(q, 2, j->fn, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(q, 3, (int)j->kind) != SQLITE_OK ||
        bind_json(q, 4, j->args, true) != SQLITE_OK ||
        sqlite3_bind_int(q, 5, j->retries) != SQLITE_OK ||
        sqlite3_bind_int64(q, 6, j->timeout_ms) != SQLITE_OK ||
        bind_text_or_null(q, 7, j->callback) != SQLITE_OK ||
        bind_text_or_null(q, 8, j->idem_key) != SQLITE_OK ||
        sqlite3_bind_int64(q, 9, j->created_at_us) != SQLITE_OK) {
        sq_finish(q);
        return store_fail(&s->base, "%s: submit: cannot bind values (out of memory?)", s->path);
    }
    return run(s, q, "submit");
}

/* The job that statement id (one text parameter: key) finds; *found is
 * false if none. */
static int get_by(sq *s, stmt_id id, const char *key, const char *what, job *out, bool *found)
{
    sqlite3_stmt *q = stmt(s, id);
    int n = 0;
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    if (fill(s, q, what, 1, out, NULL, &n) < 0)
        return -1;
    *found = n == 1;
    return 0;
}

/*
 * Inside the submit transaction: inserts j, or finds the job holding its
 * idempotency key (inserted earlier, or just now by the same batch) and puts
 * it in *hit with *is_hit set.
 */
static int submit_one(sq *s, const job *j, job *hit, bool *is_hit)
{
    *is_hit = false;
    if (j->idem_key[0] && get_by(s, S_BY_IDEM, j->idem_key, "submit: idempotency key", hit, is_hit) < 0)
        return -1;
    return *is_hit ? 0 : sq_insert(s, j);
}

/* Sorts out[0..n-1] by seq (FIFO): RETURNING gives rows in no set order. */
static void sort_by_seq(job *out, int64_t *seqs, int n)
{
    for (int i = 1; i < n; i++) {
        job j = out[i];
        int64_t k = seqs[i];
        int p = i - 1;
        for (; p >= 0 && seqs[p] > k; p--) {
            out[p + 1] = out[p];
            seqs[p + 1] = seqs[p];
        }
        out[p + 1] = j;
        seqs[p + 1] = k;
    }
}

/* Inside the write transaction: claims up to max queued jobs of kind into
 * out[0..*n-1], oldest first. */
static int claim_rows(sq *s, const store_batch *b, fn_kind kind, int64_t now_us, job *out, int *n)
{
    int max = b->claim_max[kind];
    int64_t seqs_small[32], *seqs = seqs_small;
    sqlite3_stmt *q = stmt(s, S_CLAIM);
    int rc = -1;
    if (!q)
        return -1;
    if (max > (int)(sizeof(seqs_small) / sizeof(seqs_small[0]))) {
        seqs = malloc((size_t)max * sizeof(*seqs));
        if (!seqs)
            return store_fail(&s->base, "%s: claim: out of memory", s->path);
    }
    sqlite3_bind_int(q, 1, b->slot);
    sqlite3_bind_int64(q, 2, (int64_t)b->incarnation);
    sqlite3_bind_int(q, 3, b->pid);
    sqlite3_bind_int64(q, 4, now_us);
    sqlite3_bind_int(q, 5, (int)kind);
    sqlite3_bind_int(q, 6, max);
    /* RETURNING computes every row on the first step, so they all fit in max. */
    if (fill(s, q, "claim", max, out, seqs, n) == 0) {
        sort_by_seq(out, seqs, *n);
        rc = 0;
    }
    if (seqs != seqs_small)
        free(seqs);
    return rc;
}

/* A completion in state queued: the job goes back to the queue. */
static int requeue_one(sq *s, const job *j, bool *applied)
{
    sqlite3_stmt *q = stmt(s, S_REQUEUE);
    if (!q)
        return -1;
    if (sqlite3_bind_text(q, 1, j->id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(q, 2, j->owner_slot) != SQLITE_OK ||
        sqlite3_bind_int64(q, 3, (int64_t)j->owner_incarnation) != SQLITE_OK ||
        sqlite3_bind_int64(q, 4, j->finished_at_us) != SQLITE_OK) {
        sq_finish(q);
        return store_fail(&s->base, "%s: requeue: cannot bind values", s->path);
    }
    if (run(s, q, "requeue") < 0)
        return -1;
    *applied = sqlite3_changes(s->db) > 0;
    return 0;
}

static int complete_one(sq *s, sqlite3_stmt *q, const job *j, bool *applied)
{
    if (j->state == JOB_QUEUED)
        return requeue_one(s, j, applied);
    if (sqlite3_bind_text(q, 1, j->id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(q, 2, j->owner_slot) != SQLITE_OK ||
        sqlite3_bind_int64(q, 3, (int64_t)j->owner_incarnation) != SQLITE_OK ||
        sqlite3_bind_int(q, 4, (int)j->state) != SQLITE_OK ||
        bind_json(q, 5, j->result, false) != SQLITE_OK ||
        bind_text_or_null(q, 6, j->error_code) != SQLITE_OK ||
        bind_text_or_null(q, 7, j->error_message) != SQLITE_OK ||
        bind_us_or_null(q, 8, j->run_us, -1) != SQLITE_OK ||
        bind_us_or_null(q, 9, j->cpu_us, -1) != SQLITE_OK ||
        sqlite3_bind_int64(q, 10, j->finished_at_us) != SQLITE_OK) {
        sq_finish(q);
        return store_fail(&s->base, "%s: complete: cannot bind values (out of memory?)", s->path);
    }
    if (run(s, q, "complete") < 0)
        return -1;
    *applied = sqlite3_changes(s->db) > 0;
    return 0;
}

/* The statements of a batch, in order; false after a failure. */
static bool write_rows(sq *s, store_batch *b, int64_t now_us, job *hits)
{
    sqlite3_stmt *q = b->ncomplete ? stmt(s, S_COMPLETE) : NULL;
    if (b->ncomplete && !q)
        return false;
    for (int i = 0; i < b->ncomplete; i++) {
        if (complete_one(s, q, &b->complete[i], &b->applied[i]) < 0)
            return false;
    }
    for (int i = 0; i < b->nsubmit; i++) {
        if (submit_one(s, &b->submit[i], &hits[i], &b->existing[i]) < 0)
            return false;
    }
    for (int k = 0; k < FN_NKINDS; k++) {
        if (b->claim_max[k] > 0 &&
            claim_rows(s, b, (fn_kind)k, now_us, b->claimed[k], &b->nclaimed[k]) < 0)
            return false;
    }
    return true;
}

/* Drops what a failed batch had filled in. */
static void write_undo(store_batch *b)
{
    for (int i = 0; i < b->ncomplete; i++)
        b->applied[i] = false;
    for (int i = 0; i < b->nsubmit; i++)
        b->existing[i] = false;
    for (int k = 0; k < FN_NKINDS; k++) {
        for (int i = 0; i < b->nclaimed[k]; i++)
            job_release(&b->claimed[k][i]);
        b->nclaimed[k] = 0;
    }
}

/*
 * One transaction for the whole batch -- or none when it is one statement
 * whose effect is known before it commits (a lone insert without
 * idempotency key, a lone completion), which SQLite runs atomically in
 * autocommit. Never for a claim: its UPDATE ... RETURNING has changed every
 * row by its first step, and a row that then fails to load must roll back.
 */
static int sq_write(store *st, store_batch *b, int64_t now_us)
{
    sq *s = sq_of(st);
    int claims = (b->claim_max[0] > 0) + (b->claim_max[1] > 0);
    bool alone = claims == 0 && b->ncomplete + b->nsubmit == 1 &&
                 !(b->nsubmit == 1 && b->submit[0].idem_key[0]);
    job *hits = b->nsubmit ? calloc((size_t)b->nsubmit, sizeof(*hits)) : NULL;
    int rc = -1;
    if (b->nsubmit && !hits)
        return store_fail(st, "%s: write: out of memory", s->path);
    if (s->finish_checkpoint) /* see sq_after_write() */
        s->finish_checkpoint = checkpoint(s);
    if (!alone && tx_begin(s) < 0)
        goto done;
    if (!write_rows(s, b, now_us, hits) || (!alone && tx_commit(s) < 0)) {
        if (!alone)
            sq_tx_abort(s);
        write_undo(b);
        goto done;
    }
    for (int i = 0; i < b->nsubmit; i++) {
        if (b->existing[i]) {
            job_release(&b->submit[i]);
            b->submit[i] = hits[i];
            job_init(&hits[i]);
        }
    }
    rc = 0;
done:
    for (int i = 0; i < b->nsubmit; i++)
        job_release(&hits[i]);
    free(hits);
    return rc;
}

static int sq_get(store *st, const char *id, job *out, bool *found)
{
    return get_by(sq_of(st), S_GET, id, "get", out, found);
}

/* Inside the cancel transaction: applies the cancel to *j (read just before). */
static int cancel_apply(sq *s, job *j, int64_t now_us)
{
    static const char msg[] = "cancelled before it started";
    sqlite3_stmt *q;
    if (j->state == JOB_QUEUED) {
        if (!(q = stmt(s, S_CANCEL_QUEUED)))
            return -1;
        sqlite3_bind_text(q, 1, j->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, msg, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, now_us);
        if (run(s, q, "cancel") < 0)
            return -1;
        j->state = JOB_CANCELLED;
        job_set_error(j, ERR_CANCELLED, msg);
        j->finished_at_us = now_us;
    } else if (j->state == JOB_RUNNING && !j->cancel_requested) {
        if (!(q = stmt(s, S_CANCEL_RUNNING)))
            return -1;
        sqlite3_bind_text(q, 1, j->id, -1, SQLITE_STATIC);
        if (run(s, q, "cancel") < 0)
            return -1;
        j->cancel_requested = true;
    }
    return 0;
}

static int sq_cancel(store *st, const char *id, int64_t now_us, job *out, bool *found,
                     job_state *before)
{
    sq *s = sq_of(st);
    if (tx_begin(s) < 0)
        return -1;
    if (sq_get(st, id, out, found) < 0)
        return sq_tx_abort(s);
    if (*found) {
        *before = out->state;
        if (cancel_apply(s, out, now_us) < 0)
            goto err;
    }
    if (tx_commit(s) < 0)
        goto err;
    return 0;
err:
    job_release(out);
    *found = false;
    return sq_tx_abort(s);
}

/* Binds the owner filter and the time and message of a reaping statement. */
static void bind_reap(sqlite3_stmt *q, bool all, int slot, unsigned incarnation, int64_t now_us,
                      const char *msg)
{
    sqlite3_bind_int(q, 1, all ? -1 : slot);
    sqlite3_bind_int64(q, 2, (int64_t)incarnation);
    if (msg) {
        sqlite3_bind_int64(q, 3, now_us);
        sqlite3_bind_text(q, 4, msg, -1, SQLITE_STATIC);
    }
}

static int sq_reap(store *st, bool all, int slot, unsigned incarnation, int64_t now_us, job **final,
                   int *nfinal, int *requeued)
{
    static const char cancel_msg[] = "cancelled; its worker exited before it stopped";
    const char *lost_msg = all ? "crunchd restarted while the job was running"
                               : "the worker process running the job exited";
    sq *s = sq_of(st);
    sqlite3_stmt *q;
    int cap = 0;
    *final = NULL;
    *nfinal = *requeued = 0;
    if (tx_begin(s) < 0)
        return -1;
    if (!(q = stmt(s, S_REAP_CANCEL)))
        goto err;
    bind_reap(q, all, slot, incarnation, now_us, cancel_msg);
    if (collect(s, q, "reap", final, nfinal, &cap) < 0)
        goto err;
    if (!(q = stmt(s, S_REAP_REQUEUE)))
        goto err;
    bind_reap(q, all, slot, incarnation, now_us, NULL);
    if (run(s, q, "reap") < 0)
        goto err;
    *requeued = sqlite3_changes(s->db);
    if (!(q = stmt(s, S_REAP_FAIL)))
        goto err;
    bind_reap(q, all, slot, incarnation, now_us, lost_msg);
    if (collect(s, q, "reap", final, nfinal, &cap) < 0)
        goto err;
    if (tx_commit(s) < 0)
        goto err;
    return 0;
err:
    sq_tx_abort(s);
    for (int i = 0; i < *nfinal; i++)
        job_release(&(*final)[i]);
    free(*final);
    *final = NULL;
    *nfinal = *requeued = 0;
    return -1;
}

static int sq_purge(store *st, int64_t before_us, int *purged)
{
    sq *s = sq_of(st);
    sqlite3_stmt *q = stmt(s, S_PURGE);
    int n;
    if (!q)
        return -1;
    *purged = 0;
    do {
        sqlite3_bind_int64(q, 1, before_us);
        sqlite3_bind_int(q, 2, PURGE_BATCH);
        if (run(s, q, "purge") < 0)
            return -1;
        n = sqlite3_changes(s->db);
        *purged += n;
    } while (n == PURGE_BATCH);
    return 0;
}

static int sq_counts(store *st, int64_t *queued, int64_t *running)
{
    sq *s = sq_of(st);
    sqlite3_stmt *q = stmt(s, S_COUNTS);
    if (!q)
        return -1;
    if (sqlite3_step(q) != SQLITE_ROW) {
        sq_db_fail(s, "counts");
        sq_finish(q);
        return -1;
    }
    *queued = sqlite3_column_int64(q, 0);
    *running = sqlite3_column_int64(q, 1);
    sq_finish(q);
    return 0;
}

/* Finalizes the cached statements (sqlite3_close() refuses while any is
 * alive), closes the connection and frees s. */
void sq_free(sq *s)
{
    for (int i = 0; i < SQ_STMT_MAX; i++)
        sqlite3_finalize(s->stmt[i]);
    for (int i = 0; i < SQ_LIST_STMT_MAX; i++)
        sqlite3_finalize(s->list_stmt[i]);
    sqlite3_close(s->db);
    free(s);
}

static void sq_close(store *st)
{
    sq_free(sq_of(st));
}

const store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .write = sq_write,
    .get = sq_get,
    .cancel = sq_cancel,
    .list_page = sq_list_page,
    .reap = sq_reap,
    .purge = sq_purge,
    .counts = sq_counts,
    .after_write = sq_after_write,
};
