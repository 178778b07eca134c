/*
 * sqlite_rows.c - the SQLite backend's statements and values: preparing
 * and caching statements, binding a job's fields, and reading rows back
 * into jobs (the column order is COLS, sqlite_int.h).
 */
#include "sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_cost.h"

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

void sq_finish(sqlite3_stmt *q)
{
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}

int sq_run(sq *s, sqlite3_stmt *q, const char *what)
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

int sq_bind_text_or_null(sqlite3_stmt *q, int i, const char *v)
{
    if (!v || !v[0])
        return sqlite3_bind_null(q, i);
    return sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

int sq_bind_us_or_null(sqlite3_stmt *q, int i, int64_t v, int64_t null_value)
{
    if (v == null_value)
        return sqlite3_bind_null(q, i);
    return sqlite3_bind_int64(q, i, v);
}

int sq_bind_json(sq *s, sqlite3_stmt *q, int i, json_t *v, bool object)
{
    if (!v)
        return object ? sqlite3_bind_text(q, i, "{}", 2, SQLITE_STATIC) : sqlite3_bind_null(q, i);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return SQLITE_NOMEM;
    size_t len = strlen(text);
    s->moved += (int64_t)len;
    return sqlite3_bind_text64(q, i, text, len, free, SQLITE_UTF8);
}

void sq_shed(sq *s)
{
    if (s->moved >= SQ_SHED_AFTER)
        sqlite3_db_release_memory(s->db);
    s->moved = 0;
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
    size_t len = (size_t)sqlite3_column_bytes(q, c);
    s->moved += (int64_t)len;
    *out = json_loadb(t, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
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
    sq_col_text(q, C_OWNER, j->owner, sizeof(j->owner));
}

/* The args of the job of mine[0..n) with this id, or NULL. */
static json_t *args_of(const job *mine, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (mine[i].args && strcmp(mine[i].id, id) == 0)
            return mine[i].args;
    return NULL;
}

/* Fills *j from the current row of q (selected with COLS); *seq (may be NULL)
 * gets the row's seq; a job of mine[0..nmine) shares its args. On failure
 * *j is empty. */
static int row_to_job(sq *s, sqlite3_stmt *q, job *j, int64_t *seq, const job *mine, int nmine)
{
    sq_row_fields(q, j, seq);
    json_t *own = args_of(mine, nmine, j->id);
    if (own)
        j->args = json_incref(own);
    if ((!own && col_json(s, q, C_ARGS, &j->args) < 0) ||
        col_json(s, q, C_RESULT, &j->result) < 0) {
        job_release(j);
        return -1;
    }
    /* The text is at hand here, and only here: what its parse costs. */
    const char *args = (const char *)sqlite3_column_text(q, C_ARGS);
    if (args)
        j->args_cost = json_cost(args, (size_t)sqlite3_column_bytes(q, C_ARGS));
    return 0;
}

int sq_row_text(sq *s, sqlite3_stmt *q, store_text *text)
{
    const char *args = (const char *)sqlite3_column_text(q, C_ARGS);
    size_t alen = args ? (size_t)sqlite3_column_bytes(q, C_ARGS) : 2;
    const char *result = (const char *)sqlite3_column_text(q, C_RESULT);
    size_t rlen = result ? (size_t)sqlite3_column_bytes(q, C_RESULT) : 0;
    s->moved += (int64_t)(alen + rlen);
    char *mem = malloc(alen + rlen + 1);
    if (!mem)
        return store_fail(&s->base, "%s: get: out of memory", s->path);
    memcpy(mem, args ? args : "{}", alen);
    if (result)
        memcpy(mem + alen, result, rlen);
    mem[alen + rlen] = '\0';
    *text = (store_text){
        .view = {.args = mem, .args_len = alen, .result = result ? mem + alen : NULL,
                 .result_len = rlen},
        .mem = mem,
    };
    return 0;
}

int sq_collect(sq *s, sqlite3_stmt *q, const char *what, job **rows, int *n, int *cap)
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
        if (row_to_job(s, q, &(*rows)[*n], NULL, NULL, 0) < 0) {
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

int sq_fill(sq *s, sqlite3_stmt *q, const char *what, int max, job *out, int64_t *seqs, int *n,
            const job *mine, int nmine)
{
    int rc = SQLITE_DONE;
    *n = 0;
    while (*n < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (row_to_job(s, q, &out[*n], seqs ? &seqs[*n] : NULL, mine, nmine) < 0)
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
