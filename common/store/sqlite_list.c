/*
 * sqlite_list.c - store_list_page() for SQLite: one page of the job
 * list, newest first by (created_at, id), in two steps inside one read
 * transaction.
 *
 *  1. The keys (seq) of up to limit + 1 matching jobs, in order. For any
 *     state and the final ones, jobs_created is walked backwards from the
 *     cursor, stopping after limit + 1 matches (filters on state and fn read
 *     the row's first page only: args and result are the last columns);
 *     for one owner's jobs, jobs_owner the same way, so that a list costs
 *     what the owner's jobs do. Queued and running jobs are few
 *     (max_queue, the lanes): their partial index, then a sort of the keys
 *     alone.
 *  2. Each row by its seq, with args and result only when asked for, handed
 *     to the caller, who may end the page (its byte cap) before a row: then
 *     no further row is read. A sort never holds args or result: that is why
 *     step 1 selects keys only.
 *
 * The extra key of step 1 says whether a next page exists without reading
 * that job.
 */
#include "sqlite_int.h"

#include <stdint.h>
#include <stdlib.h>

/* Step 1 matches jobs strictly older than the cursor ?3, ?4 (no cursor:
 * INT64_MAX and ""), with fn ?1 (NULL: any) and owner ?6 (NULL: any), up
 * to ?2 keys. jobs_owner holds the jobs with an owner: its statements
 * repeat the index's condition so SQLite may use it, and serve owners
 * other than '' only. */
#define KEY_FILTER                                                                                 \
    "(created_at, id) < (?3, ?4) AND (?1 IS NULL OR fn = ?1) AND (?6 IS NULL OR owner = ?6)"
#define OWNER_FILTER                                                                               \
    "owner = ?6 AND owner <> '' AND (created_at, id) < (?3, ?4) AND (?1 IS NULL OR fn = ?1)"
#define KEY_ORDER " ORDER BY created_at DESC, id DESC LIMIT ?2"

enum {
    L_BEGIN,
    L_COMMIT,
    L_KEYS_ANY,
    L_KEYS_STATE,
    L_KEYS_QUEUED,
    L_KEYS_RUNNING,
    L_KEYS_OWNER,
    L_KEYS_OWNER_STATE,
    L_ROW,
    N_LIST_STMT,
};
_Static_assert(N_LIST_STMT <= SQ_LIST_STMT_MAX, "room in struct sq for every list statement");

static const char *const list_sql[N_LIST_STMT] = {
    [L_BEGIN] = "BEGIN", /* deferred: a read snapshot, no write lock */
    [L_COMMIT] = "COMMIT",
    [L_KEYS_ANY] = "SELECT seq FROM jobs INDEXED BY jobs_created WHERE " KEY_FILTER KEY_ORDER,
    [L_KEYS_STATE] = "SELECT seq FROM jobs INDEXED BY jobs_created WHERE " KEY_FILTER
                     " AND state = ?5" KEY_ORDER,
    [L_KEYS_QUEUED] = "SELECT seq FROM jobs INDEXED BY jobs_queue WHERE state = 0"
                      " AND " KEY_FILTER KEY_ORDER,
    [L_KEYS_RUNNING] = "SELECT seq FROM jobs INDEXED BY jobs_running WHERE state = 1"
                       " AND " KEY_FILTER KEY_ORDER,
    [L_KEYS_OWNER] = "SELECT seq FROM jobs INDEXED BY jobs_owner WHERE " OWNER_FILTER KEY_ORDER,
    [L_KEYS_OWNER_STATE] = "SELECT seq FROM jobs INDEXED BY jobs_owner WHERE " OWNER_FILTER
                           " AND state = ?5" KEY_ORDER,
    /* Positions as COLS: args and result are read only when ?2 / ?3 ask. */
    [L_ROW] = "SELECT " COLS_SUMMARY ", CASE WHEN ?2 THEN args END, CASE WHEN ?3 THEN result END"
              " FROM jobs WHERE seq = ?1",
};

/* The statement of step 1 for state (-1: any) and owner (NULL: any). */
static int keys_stmt(int state, const char *owner)
{
    bool by_owner = owner && owner[0];
    return state == JOB_QUEUED    ? L_KEYS_QUEUED
           : state == JOB_RUNNING ? L_KEYS_RUNNING
           : state < 0            ? (by_owner ? L_KEYS_OWNER : L_KEYS_ANY)
                                  : (by_owner ? L_KEYS_OWNER_STATE : L_KEYS_STATE);
}

const char *store_sqlite_list_keys_sql(int state, const char *owner)
{
    return list_sql[keys_stmt(state, owner)];
}

static sqlite3_stmt *lstmt(sq *s, int id)
{
    return sq_cached(s, &s->list_stmt[id], list_sql[id]);
}

/* Runs a statement without rows (BEGIN, COMMIT). */
static int run_list(sq *s, int id, const char *what)
{
    sqlite3_stmt *q = lstmt(s, id);
    if (!q)
        return -1;
    int rc = sqlite3_step(q);
    sq_finish(q);
    return rc == SQLITE_DONE ? 0 : sq_db_fail(s, what);
}

/* Step 1: up to max keys into keys[], *nkeys of them. */
static int page_keys(sq *s, const store_list_query *q, int64_t *keys, int max, int *nkeys)
{
    int id = keys_stmt(q->state, q->owner);
    sqlite3_stmt *st = lstmt(s, id);
    int rc;
    *nkeys = 0;
    if (!st)
        return -1;
    if (q->fn)
        sqlite3_bind_text(st, 1, q->fn, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, max);
    sqlite3_bind_int64(st, 3, q->after ? q->after->created_at_us : INT64_MAX);
    sqlite3_bind_text(st, 4, q->after ? q->after->id : "", -1, SQLITE_STATIC);
    if (id == L_KEYS_STATE || id == L_KEYS_OWNER_STATE)
        sqlite3_bind_int(st, 5, q->state);
    if (q->owner)
        sqlite3_bind_text(st, 6, q->owner, -1, SQLITE_STATIC);
    while (*nkeys < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        keys[(*nkeys)++] = sqlite3_column_int64(st, 0);
    if (*nkeys < max && rc != SQLITE_DONE) {
        sq_db_fail(s, "list");
        sq_finish(st);
        return -1;
    }
    sq_finish(st);
    return 0;
}

/* Step 2 for one key: reads the row and asks fn. Returns STORE_ROW_TAKE,
 * STORE_ROW_STOP, 2 when the row is gone (not possible inside the snapshot,
 * but harmless), or -1. */
static int page_row(sq *s, const store_list_query *q, int64_t seq, store_row_fn *fn, void *arg)
{
    sqlite3_stmt *st = lstmt(s, L_ROW);
    job j;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int(st, 2, q->with_args);
    sqlite3_bind_int(st, 3, q->with_result);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sq_finish(st);
        return rc == SQLITE_DONE ? 2 : sq_db_fail(s, "list");
    }
    sq_row_fields(st, &j, NULL);
    store_row r = {.j = &j};
    /* Text pointers are valid until the next step or reset. */
    r.text.args = (const char *)sqlite3_column_text(st, C_ARGS);
    r.text.args_len = (size_t)sqlite3_column_bytes(st, C_ARGS);
    r.text.result = (const char *)sqlite3_column_text(st, C_RESULT);
    r.text.result_len = (size_t)sqlite3_column_bytes(st, C_RESULT);
    if (!q->with_args)
        r.text.args = NULL, r.text.args_len = 0;
    else if (!r.text.args)
        r.text.args = "{}", r.text.args_len = 2;
    s->moved += (int64_t)(r.text.args_len + r.text.result_len);
    rc = fn(&r, arg);
    sq_finish(st);
    return rc;
}

int sq_list_page(store *st, const store_list_query *q, store_row_fn *fn, void *arg, int *n,
                 bool *more)
{
    sq *s = sq_of(st);
    int max = q->limit < INT32_MAX ? q->limit + 1 : q->limit, nkeys = 0;
    int64_t *keys = malloc((size_t)max * sizeof(*keys));
    int rc = -1;
    if (!keys)
        return store_fail(st, "%s: list: out of memory", s->path);
    if (run_list(s, L_BEGIN, "list: begin") < 0)
        goto done;
    if (page_keys(s, q, keys, max, &nkeys) < 0)
        goto abort;
    *more = nkeys > q->limit;
    for (int i = 0; i < nkeys && i < q->limit; i++) {
        int r = page_row(s, q, keys[i], fn, arg);
        if (r < 0)
            goto abort;
        if (r == STORE_ROW_STOP) {
            *more = true;
            break;
        }
        *n += r == STORE_ROW_TAKE;
    }
    if (run_list(s, L_COMMIT, "list: commit") < 0)
        goto abort;
    rc = 0;
    goto done;
abort:
    sq_tx_abort(s);
done:
    free(keys);
    sq_shed(s);
    return rc;
}
