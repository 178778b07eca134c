/*
 * sqlite.c - the embedded job store: one SQLite file in WAL mode. This file
 * holds the statements and the backend's ops (store_sqlite_ops); sqlite.h
 * lists the others.
 *
 * Schema (version 3, in PRAGMA user_version; sqlite_open.c creates it
 * and migrates versions 1 and 2): one STRICT table, jobs, with a column per field
 * of struct job; args and result are JSON text and the last two columns;
 * times are wall-clock microseconds (NULL = not yet); seq, the INTEGER
 * PRIMARY KEY (rowid), is the FIFO order. Indexes are partial where they
 * can be, so that each write touches few of them; state is repeated in the
 * first two so that they cover the claim's search and the counts (SQLite
 * re-checks a partial index's condition otherwise, reading every row):
 *   jobs_queue    (kind, state) WHERE state = 0    claim order: kind, then seq
 *   jobs_running  (owner_slot, state) WHERE state = 1   reaping a slot, counts
 *   jobs_idem     UNIQUE (owner, idem_key) WHERE idem_key IS NOT NULL
 *   jobs_finished (finished_at) WHERE finished_at IS NOT NULL   purge
 *   jobs_created  (created_at, id)   the list, newest first, and its cursor
 *   jobs_owner    (owner, created_at, id) WHERE owner <> ''   an owner's list
 *   jobs_owner_queued (owner) WHERE state = 0 AND owner <> ''  max_queued
 * The owner indexes leave out jobs without an owner (no tokens): a server
 * without tokens does not pay for them.
 * A file with a newer user_version is refused, and so is a database with
 * version 0 that already holds tables (not ours).
 *
 * Every write that reads before it writes runs in BEGIN IMMEDIATE: it takes
 * the write lock first (waiting up to busy_timeout), so it never fails with
 * SQLITE_BUSY_SNAPSHOT half-way. Single-statement writes run in autocommit,
 * which in WAL mode takes the write lock at the statement's start as well.
 * Prepared statements are cached per connection (SQLITE_PREPARE_PERSISTENT).
 *
 * Every write (write, cancel, reap, purge) runs between sq_gate_take() and
 * sq_gate_give() (sqlite_gate.c): under the write gate when the store was
 * opened with one, followed by a WAL checkpoint when it is due.
 */
#include "sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#define PURGE_BATCH 2000

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
    S_OWNER_QUEUED,
    S_GET,
    S_CLAIM,
    S_CLAIM_COST,
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
    [S_INSERT] = "INSERT INTO jobs (id, fn, kind, args, state, attempts, retries, timeout_ms,"
                 " callback, idem_key, created_at, owner)"
                 " VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_BY_IDEM] = "SELECT " COLS " FROM jobs WHERE owner = ?2 AND idem_key = ?1",
    /* Counts up to ?2: enough to know whether the owner is at its limit. */
    [S_OWNER_QUEUED] = "SELECT count(*) FROM (SELECT 1 FROM jobs INDEXED BY jobs_owner_queued"
                       " WHERE owner = ?1 AND owner <> '' AND state = 0 LIMIT ?2)",
    [S_GET] = "SELECT " COLS " FROM jobs WHERE id = ?1",
    [S_CLAIM] = "UPDATE jobs SET state = 1, owner_slot = ?1, owner_inc = ?2, worker_pid = ?3,"
                " attempts = attempts + 1, started_at = ?4,"
                " deadline_at = CASE WHEN timeout_ms > 0 THEN ?4 + timeout_ms * 1000 END"
                " WHERE seq IN (SELECT seq FROM jobs WHERE state = 0 AND kind = ?5"
                " ORDER BY seq LIMIT ?6) RETURNING " COLS,
    /* What the args of the jobs a claim would take cost, oldest first. */
    [S_CLAIM_COST] = "SELECT crunchd_args_cost(args) FROM jobs WHERE state = 0 AND kind = ?1"
                     " ORDER BY seq LIMIT ?2",
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

/* The cached statement id, prepared on first use; NULL after sq_db_fail(). */
static sqlite3_stmt *stmt(sq *s, stmt_id id)
{
    return sq_cached(s, &s->stmt[id], sql_text[id]);
}

static int run_id(sq *s, stmt_id id, const char *what)
{
    sqlite3_stmt *q = stmt(s, id);
    return q ? sq_run(s, q, what) : -1;
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

/* ---- ops ---- */

static int sq_insert(sq *s, const job *j)
{
    sqlite3_stmt *q = stmt(s, S_INSERT);
    if (!q)
        return -1;
    if (sqlite3_bind_text(q, 1, j->id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(q, 2, j->fn, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(q, 3, (int)j->kind) != SQLITE_OK ||
        sq_bind_json(s, q, 4, j->args, true) != SQLITE_OK ||
        sqlite3_bind_int(q, 5, j->retries) != SQLITE_OK ||
        sqlite3_bind_int64(q, 6, j->timeout_ms) != SQLITE_OK ||
        sq_bind_text_or_null(q, 7, j->callback) != SQLITE_OK ||
        sq_bind_text_or_null(q, 8, j->idem_key) != SQLITE_OK ||
        sqlite3_bind_int64(q, 9, j->created_at_us) != SQLITE_OK ||
        sqlite3_bind_text(q, 10, j->owner, -1, SQLITE_STATIC) != SQLITE_OK) {
        sq_finish(q);
        return store_fail(&s->base, "%s: submit: cannot bind values (out of memory?)", s->path);
    }
    return sq_run(s, q, "submit");
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
    if (sq_fill(s, q, what, 1, out, NULL, &n, NULL, 0) < 0)
        return -1;
    *found = n == 1;
    return 0;
}

/* The job of j's owner that holds j's idempotency key; *found is false if
 * none. */
static int by_idem(sq *s, const job *j, job *out, bool *found)
{
    sqlite3_stmt *q = stmt(s, S_BY_IDEM);
    int n = 0;
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, j->idem_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, j->owner, -1, SQLITE_STATIC);
    if (sq_fill(s, q, "submit: idempotency key", 1, out, NULL, &n, NULL, 0) < 0)
        return -1;
    *found = n == 1;
    return 0;
}

/* Whether owner has at least max jobs queued (*full). */
static int owner_full(sq *s, const char *owner, int64_t max, bool *full)
{
    sqlite3_stmt *q = stmt(s, S_OWNER_QUEUED);
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, max);
    if (sqlite3_step(q) != SQLITE_ROW) {
        sq_db_fail(s, "submit: count the owner's queued jobs");
        sq_finish(q);
        return -1;
    }
    *full = sqlite3_column_int64(q, 0) >= max;
    sq_finish(q);
    return 0;
}

/*
 * Inside the submit transaction: inserts j, or finds the job of its owner
 * holding its idempotency key (inserted earlier, or just now by the same
 * batch) and puts it in *hit with *is_hit set, or refuses it (*refused)
 * when its owner has max_queued jobs queued (0: no limit).
 */
static int submit_one(sq *s, const job *j, int64_t max_queued, job *hit, bool *is_hit,
                      bool *refused)
{
    *is_hit = *refused = false;
    if (j->idem_key[0] && by_idem(s, j, hit, is_hit) < 0)
        return -1;
    if (*is_hit)
        return 0;
    if (max_queued > 0 && j->owner[0] && owner_full(s, j->owner, max_queued, refused) < 0)
        return -1;
    return *refused ? 0 : sq_insert(s, j);
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

/* What b's claims may cost now (store.h; -1: no budget), given what a claim
 * of the other kind took already. *first: the oldest may come anyway. */
static int64_t claim_room(const store_batch *b, int64_t taken, bool *first)
{
    *first = false;
    if (!b->budget)
        return -1;
    int64_t others = atomic_load(&b->budget->held) - b->submit_held + taken;
    *first = others <= 0;
    return others < b->budget->limit ? b->budget->limit - others : 0;
}

/* Inside the write transaction (so the queue cannot change before the
 * claim): how many of the oldest queued jobs of kind, up to max, fit in
 * room (first: the oldest whatever its cost); -1 after a failure. */
static int claim_fit(sq *s, fn_kind kind, int max, int64_t room, bool first)
{
    sqlite3_stmt *q = stmt(s, S_CLAIM_COST);
    if (!q)
        return -1;
    sqlite3_bind_int(q, 1, (int)kind);
    sqlite3_bind_int(q, 2, max);
    int fit = 0, rc;
    int64_t sum = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        sum += sqlite3_column_int64(q, 0);
        if (sum > room && !(fit == 0 && first))
            break;
        fit++;
    }
    int bad = rc != SQLITE_ROW && rc != SQLITE_DONE ? sq_db_fail(s, "claim cost") : 0;
    sq_finish(q);
    return bad < 0 ? -1 : fit;
}

/* Inside the write transaction: claims up to max queued jobs of kind into
 * out[0..*n-1], oldest first, within room (-1: no bound; first: the oldest
 * whatever its cost). */
static int claim_rows(sq *s, const store_batch *b, fn_kind kind, int64_t room, bool first,
                      int64_t now_us, job *out, int *n)
{
    int max = b->claim_max[kind];
    int64_t seqs_small[32], *seqs = seqs_small;
    *n = 0;
    if (room == 0 && !first)
        return 0; /* nothing fits */
    if (room >= 0 && (max = claim_fit(s, kind, max, room, first)) <= 0)
        return max; /* 0: the oldest does not fit */
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
    /* RETURNING computes every row on the first step, so they all fit in max.
     * A job this batch submitted keeps the args value it came with (store.h). */
    if (sq_fill(s, q, "claim", max, out, seqs, n, b->submit, b->nsubmit) == 0) {
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
    if (sq_run(s, q, "requeue") < 0)
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
        sq_bind_json(s, q, 5, j->result, false) != SQLITE_OK ||
        sq_bind_text_or_null(q, 6, j->error_code) != SQLITE_OK ||
        sq_bind_text_or_null(q, 7, j->error_message) != SQLITE_OK ||
        sq_bind_us_or_null(q, 8, j->run_us, -1) != SQLITE_OK ||
        sq_bind_us_or_null(q, 9, j->cpu_us, -1) != SQLITE_OK ||
        sqlite3_bind_int64(q, 10, j->finished_at_us) != SQLITE_OK) {
        sq_finish(q);
        return store_fail(&s->base, "%s: complete: cannot bind values (out of memory?)", s->path);
    }
    if (sq_run(s, q, "complete") < 0)
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
        if (submit_one(s, &b->submit[i], b->max_queued[i], &hits[i], &b->existing[i],
                       &b->refused[i]) < 0)
            return false;
    }
    int64_t taken = 0;
    for (int k = 0; k < FN_NKINDS; k++) {
        if (b->claim_max[k] <= 0)
            continue;
        bool first;
        int64_t room = claim_room(b, taken, &first);
        if (claim_rows(s, b, (fn_kind)k, room, first, now_us, b->claimed[k], &b->nclaimed[k]) < 0)
            return false;
        for (int i = 0; i < b->nclaimed[k]; i++)
            taken += b->claimed[k][i].args_cost;
    }
    return true;
}

/* Drops what a failed batch had filled in. */
static void write_undo(store_batch *b)
{
    for (int i = 0; i < b->ncomplete; i++)
        b->applied[i] = false;
    for (int i = 0; i < b->nsubmit; i++)
        b->existing[i] = b->refused[i] = false;
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
static int write_tx(sq *s, store_batch *b, int64_t now_us)
{
    int claims = (b->claim_max[0] > 0) + (b->claim_max[1] > 0);
    bool alone = claims == 0 && b->ncomplete + b->nsubmit == 1 &&
                 !(b->nsubmit == 1 && (b->submit[0].idem_key[0] || b->max_queued[0] > 0));
    job *hits = b->nsubmit ? calloc((size_t)b->nsubmit, sizeof(*hits)) : NULL;
    int rc = -1;
    if (b->nsubmit && !hits)
        return store_fail(&s->base, "%s: write: out of memory", s->path);
    sq_gate_checkpoint_rest(s);
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

static int sq_write(store *st, store_batch *b, int64_t now_us)
{
    sq *s = sq_of(st);
    return sq_gate_take(s) < 0 ? -1 : sq_gate_give(s, write_tx(s, b, now_us));
}

/* The job with this id, its args and result as text (store_get_text). */
static int get_text(sq *s, const char *id, job *out, store_text *text, bool *found)
{
    sqlite3_stmt *q = stmt(s, S_GET);
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        sq_row_fields(q, out, NULL);
        rc = sq_row_text(s, q, text);
        *found = rc == 0;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = sq_db_fail(s, "get");
    }
    sq_finish(q);
    return rc;
}

static int sq_get(store *st, const char *id, job *out, store_text *text, bool *found)
{
    sq *s = sq_of(st);
    int rc = text ? get_text(s, id, out, text, found) : get_by(s, S_GET, id, "get", out, found);
    sq_shed(s);
    return rc;
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
        if (sq_run(s, q, "cancel") < 0)
            return -1;
        j->state = JOB_CANCELLED;
        job_set_error(j, ERR_CANCELLED, msg);
        j->finished_at_us = now_us;
    } else if (j->state == JOB_RUNNING && !j->cancel_requested) {
        if (!(q = stmt(s, S_CANCEL_RUNNING)))
            return -1;
        sqlite3_bind_text(q, 1, j->id, -1, SQLITE_STATIC);
        if (sq_run(s, q, "cancel") < 0)
            return -1;
        j->cancel_requested = true;
    }
    return 0;
}

static int cancel_tx(sq *s, const char *id, const char *owner, int64_t now_us, job *out,
                     bool *found, job_state *before)
{
    if (tx_begin(s) < 0)
        return -1;
    if (get_by(s, S_GET, id, "get", out, found) < 0)
        return sq_tx_abort(s);
    if (*found && owner && strcmp(out->owner, owner) != 0) {
        job_release(out); /* another owner's: as if there were none */
        *found = false;
    }
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

static int sq_cancel(store *st, const char *id, const char *owner, int64_t now_us, job *out,
                     bool *found, job_state *before)
{
    sq *s = sq_of(st);
    return sq_gate_take(s) < 0
               ? -1
               : sq_gate_give(s, cancel_tx(s, id, owner, now_us, out, found, before));
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

static int reap_tx(sq *s, bool all, int slot, unsigned incarnation, int64_t now_us, job **final,
                   int *nfinal, int *requeued)
{
    static const char cancel_msg[] = "cancelled; its worker exited before it stopped";
    const char *lost_msg = all ? "crunchd restarted while the job was running"
                               : "the worker process running the job exited";
    sqlite3_stmt *q;
    int cap = 0;
    *final = NULL;
    *nfinal = *requeued = 0;
    if (tx_begin(s) < 0)
        return -1;
    if (!(q = stmt(s, S_REAP_CANCEL)))
        goto err;
    bind_reap(q, all, slot, incarnation, now_us, cancel_msg);
    if (sq_collect(s, q, "reap", final, nfinal, &cap) < 0)
        goto err;
    if (!(q = stmt(s, S_REAP_REQUEUE)))
        goto err;
    bind_reap(q, all, slot, incarnation, now_us, NULL);
    if (sq_run(s, q, "reap") < 0)
        goto err;
    *requeued = sqlite3_changes(s->db);
    if (!(q = stmt(s, S_REAP_FAIL)))
        goto err;
    bind_reap(q, all, slot, incarnation, now_us, lost_msg);
    if (sq_collect(s, q, "reap", final, nfinal, &cap) < 0)
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

static int sq_reap(store *st, bool all, int slot, unsigned incarnation, int64_t now_us, job **final,
                   int *nfinal, int *requeued)
{
    sq *s = sq_of(st);
    *final = NULL;
    *nfinal = *requeued = 0;
    if (sq_gate_take(s) < 0)
        return -1;
    return sq_gate_give(s, reap_tx(s, all, slot, incarnation, now_us, final, nfinal, requeued));
}

static int purge_tx(sq *s, int64_t before_us, int *purged)
{
    sqlite3_stmt *q = stmt(s, S_PURGE);
    int n;
    if (!q)
        return -1;
    *purged = 0;
    do {
        sqlite3_bind_int64(q, 1, before_us);
        sqlite3_bind_int(q, 2, PURGE_BATCH);
        if (sq_run(s, q, "purge") < 0)
            return -1;
        n = sqlite3_changes(s->db);
        *purged += n;
    } while (n == PURGE_BATCH);
    return 0;
}

static int sq_purge(store *st, int64_t before_us, int *purged)
{
    sq *s = sq_of(st);
    *purged = 0;
    return sq_gate_take(s) < 0 ? -1 : sq_gate_give(s, purge_tx(s, before_us, purged));
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

static void sq_close(store *st)
{
    sq_free(sq_of(st));
}

_Static_assert(sizeof(store_sqlite_shared) <= STORE_SHARED_MAX &&
                   _Alignof(store_sqlite_shared) <= STORE_SHARED_ALIGN,
               "the write gate fits the shared area");

const store_ops store_sqlite_ops = {
    .shared_size = sizeof(store_sqlite_shared),
    .shared_init = sq_shared_init,
    .open = sq_open,
    .check = sq_check,
    .prepare = sq_prepare,
    .close = sq_close,
    .write = sq_write,
    .get = sq_get,
    .cancel = sq_cancel,
    .list_page = sq_list_page,
    .reap = sq_reap,
    .purge = sq_purge,
    .counts = sq_counts,
};
