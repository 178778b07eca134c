/*
 * check_store.c - unit tests for common/job.c (the job value) and
 * common/store.c + store_sqlite.c (the job store).
 *
 * Each store test gets a fresh directory from mkdtemp() under /tmp with one
 * SQLite file in it, removed by the fixture. Tests that need several processes
 * fork children that open their own store (a store never crosses fork()),
 * report through files in that directory, and leave with _exit().
 */
#include "job.h"
#include "store.h"
#include "store_int.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[64];
static char dbpath[128];
static store *st;

/* Fails the test with the store's message unless call returned 0. */
#define MUST(call) ck_assert_msg((call) == 0, "%s failed: %s", #call, store_errmsg(st))

static store *must_open(const char *path)
{
    config_store cfg;
    char err[512] = "";
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.kind, sizeof(cfg.kind), "sqlite");
    snprintf(cfg.path, sizeof(cfg.path), "%s", path);
    store *s = store_open(&cfg, err, sizeof(err));
    ck_assert_msg(s != NULL, "store_open(%s) failed: %s", path, err);
    return s;
}

/* store_open() must fail with a message containing want. */
static void must_not_open(const char *path, const char *want)
{
    config_store cfg;
    char err[512] = "";
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.kind, sizeof(cfg.kind), "sqlite");
    snprintf(cfg.path, sizeof(cfg.path), "%s", path);
    store *s = store_open(&cfg, err, sizeof(err));
    ck_assert_msg(s == NULL, "store_open(%s) succeeded, want \"%s\"", path, want);
    ck_assert_msg(strstr(err, want) != NULL, "store_open(%s): \"%s\" lacks \"%s\"", path, err,
                  want);
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_store.XXXXXX");
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp failed");
    snprintf(dbpath, sizeof(dbpath), "%s/jobs.db", tmpdir);
    st = must_open(dbpath);
}

static void teardown(void)
{
    store_close(st);
    st = NULL;
    rm_tree(tmpdir);
}

static json_t *must_parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    ck_assert_msg(v != NULL, "bad JSON in test: %s: %s", text, e.text);
    return v;
}

/* Queues a job of fn/kind with args (JSON text, NULL = none); fills *j. */
static void must_submit_on(store *s, job *j, const char *fn, fn_kind kind, const char *args,
                           int retries, const char *idem)
{
    bool existing = true;
    job_init(j);
    snprintf(j->fn, sizeof(j->fn), "%s", fn);
    j->kind = kind;
    j->args = args ? must_parse(args) : NULL;
    j->retries = retries;
    j->timeout_ms = 1000;
    if (idem)
        snprintf(j->idem_key, sizeof(j->idem_key), "%s", idem);
    ck_assert_msg(store_submit(s, j, &existing) == 0, "store_submit(%s) failed: %s", fn,
                  store_errmsg(s));
    ck_assert(!existing);
}

static void must_submit(job *j, const char *fn, fn_kind kind, const char *args, int retries)
{
    must_submit_on(st, j, fn, kind, args, retries, NULL);
}

/* Claims for (slot, inc, pid 1000 + slot) and checks the count. */
static void must_claim(fn_kind kind, int slot, unsigned inc, int max, job *out, int want)
{
    int n = -1;
    MUST(store_claim(st, kind, slot, inc, 1000 + slot, max, out, &n));
    ck_assert_msg(n == want, "claim(kind %d, max %d): %d jobs, want %d", kind, max, n, want);
}

static void must_get(const char *id, job *out)
{
    bool found = false;
    MUST(store_get(st, id, out, &found));
    ck_assert_msg(found, "job %s not found", id);
}

static job_state state_of(const char *id)
{
    job j;
    must_get(id, &j);
    job_state s = j.state;
    job_release(&j);
    return s;
}

/* Completes a claimed job as succeeded with result (JSON text); returns applied. */
static bool complete_ok(const job *claimed, const char *result)
{
    job j = *claimed; /* borrowed copy: args and result not released */
    bool applied = false;
    j.state = JOB_SUCCEEDED;
    j.result = must_parse(result);
    j.run_us = 1234;
    j.cpu_us = 1000;
    MUST(store_complete(st, &j, &applied));
    json_decref(j.result);
    return applied;
}

static void release_all(job *jobs, int n)
{
    for (int i = 0; i < n; i++)
        job_release(&jobs[i]);
}

/* ====================================================================== */
/* job.c                                                                  */
/* ====================================================================== */

START_TEST(test_job_init_release)
{
    job j;
    job_init(&j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert_int_eq(j.owner_slot, -1);
    ck_assert(j.run_us == -1 && j.cpu_us == -1);
    ck_assert(j.args == NULL && j.result == NULL);
    j.args = json_object();
    j.result = json_integer(3);
    job_release(&j);
    ck_assert(j.args == NULL && j.result == NULL);
    ck_assert_int_eq(j.owner_slot, -1);
    job_release(&j); /* twice is harmless */
}
END_TEST

START_TEST(test_job_states)
{
    static const char *const names[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    for (int i = 0; i < (int)NELEM(names); i++) {
        job_state s;
        ck_assert_str_eq(job_state_name((job_state)i), names[i]);
        ck_assert_int_eq(job_state_parse(names[i], &s), 0);
        ck_assert_int_eq(s, i);
        ck_assert(job_state_final((job_state)i) == (i >= JOB_SUCCEEDED));
    }
    job_state s = JOB_RUNNING;
    ck_assert_int_eq(job_state_parse("done", &s), -1);
    ck_assert_int_eq(job_state_parse("", &s), -1);
    ck_assert_int_eq(job_state_parse("Queued", &s), -1);
    ck_assert_int_eq(s, JOB_RUNNING);
    ck_assert_str_eq(job_state_name((job_state)17), "unknown");
}
END_TEST

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* job_new_id(): 32 ids in a row share their first 8 hex digits (32 random
 * bits, for the store's index); the other 24 digits are each id's own. */
START_TEST(test_job_ids)
{
    enum { N = 32 * 200, PREFIX = 8 };
    static char ids[N][JOB_ID_LEN + 1], tails[N][JOB_ID_LEN + 1];
    int seen[JOB_ID_LEN][16], changes = 0;
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(job_new_id(ids[i]), 0);
        ck_assert_uint_eq(strlen(ids[i]), JOB_ID_LEN);
        ck_assert_msg(job_id_valid(ids[i], JOB_ID_LEN), "bad id %s", ids[i]);
        for (int k = 0; k < JOB_ID_LEN; k++) {
            char c = ids[i][k];
            seen[k][c <= '9' ? c - '0' : c - 'a' + 10]++;
        }
        changes += i > 0 && strncmp(ids[i - 1], ids[i], PREFIX) != 0;
        snprintf(tails[i], sizeof(tails[i]), "%s", ids[i] + PREFIX);
    }
    /* Every position takes every value: no counter, no timestamp. */
    for (int k = 0; k < JOB_ID_LEN; k++) {
        int distinct = 0;
        for (int v = 0; v < 16; v++)
            distinct += seen[k][v] > 0;
        ck_assert_msg(distinct == 16, "position %d took only %d values", k, distinct);
    }
    /* A new prefix every 32 ids (the first run may be cut short). */
    ck_assert_msg(changes >= N / 32 - 1 && changes <= N / 32, "%d prefix changes", changes);
    /* The 96 bits after the prefix are never repeated, so no two ids are. */
    qsort(tails, N, sizeof(tails[0]), cmp_id);
    for (int i = 1; i < N; i++)
        ck_assert_msg(strcmp(tails[i - 1], tails[i]) != 0, "repeated tail %s", tails[i]);
}
END_TEST

START_TEST(test_job_id_valid)
{
    ck_assert(job_id_valid("0123456789abcdef0123456789abcdef", 32));
    ck_assert(!job_id_valid("0123456789ABCDEF0123456789abcdef", 32));
    ck_assert(!job_id_valid("0123456789abcdef0123456789abcde", 31));
    ck_assert(!job_id_valid("0123456789abcdef0123456789abcdeg", 32));
    ck_assert(!job_id_valid("../../../../etc/passwd0123456789a", 32));
    ck_assert(!job_id_valid("", 0));
}
END_TEST

START_TEST(test_job_format_time)
{
    char buf[32];
    job_format_time(1795777529123456LL, buf); /* 2026-11-27T11:05:29.123456Z */
    ck_assert_str_eq(buf, "2026-11-27T11:05:29.123Z");
    job_format_time(1000, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.001Z");
    job_format_time(999, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    int64_t now = job_now_us();
    ck_assert(now > 1700000000000000LL);
    job_format_time(now, buf);
    ck_assert_uint_eq(strlen(buf), 24);
    ck_assert(buf[10] == 'T' && buf[23] == 'Z' && buf[19] == '.');
}
END_TEST

static const char *const public_keys[] = {
    "id",     "fn",         "args",       "state",       "result",   "error",  "attempts",
    "worker", "created_at", "started_at", "finished_at", "queue_ms", "run_ms", "cpu_ms",
};

START_TEST(test_job_json_queued)
{
    job j;
    job_init(&j);
    snprintf(j.id, sizeof(j.id), "00112233445566778899aabbccddeeff");
    snprintf(j.fn, sizeof(j.fn), "count");
    snprintf(j.callback, sizeof(j.callback), "http://127.0.0.1:9/cb");
    snprintf(j.idem_key, sizeof(j.idem_key), "secret-key");
    j.created_at_us = 1795777529123456LL;
    json_t *v = job_to_json(&j);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(json_object_size(v), NELEM(public_keys));
    const char *key;
    json_t *val;
    size_t i = 0;
    json_object_foreach(v, key, val)
    { /* in the documented order */
        ck_assert_str_eq(key, public_keys[i]);
        i++;
    }
    ck_assert_str_eq(json_string_value(json_object_get(v, "id")), j.id);
    ck_assert_str_eq(json_string_value(json_object_get(v, "fn")), "count");
    ck_assert(json_is_object(json_object_get(v, "args")));
    ck_assert_uint_eq(json_object_size(json_object_get(v, "args")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(v, "state")), "queued");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "attempts")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(v, "created_at")),
                     "2026-11-27T11:05:29.123Z");
    static const char *const nulls[] = {"result",      "error",    "worker", "started_at",
                                        "finished_at", "queue_ms", "run_ms", "cpu_ms"};
    for (size_t k = 0; k < NELEM(nulls); k++)
        ck_assert_msg(json_is_null(json_object_get(v, nulls[k])), "%s is not null", nulls[k]);
    json_decref(v);
    job_release(&j);
}
END_TEST

/* A finished job with every field set. */
static void finished_job(job *j)
{
    job_init(j);
    snprintf(j->id, sizeof(j->id), "ffeeddccbbaa99887766554433221100");
    snprintf(j->fn, sizeof(j->fn), "fib");
    j->args = must_parse("{\"n\": 10}");
    j->state = JOB_FAILED;
    job_set_error(j, ERR_FUNCTION_ERROR, "bad \"thing\"\n");
    j->attempts = 2;
    j->worker_pid = 4242;
    j->created_at_us = 1795777529000000LL;
    j->started_at_us = 1795777529001500LL; /* queued 1.5 ms */
    j->finished_at_us = 1795777530000000LL;
    j->run_us = 137;
    j->cpu_us = 12345678;
}

START_TEST(test_job_json_final)
{
    job j;
    finished_job(&j);
    json_t *v = job_to_json(&j);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(v, "state")), "failed");
    json_t *err = json_object_get(v, "error");
    ck_assert(json_is_object(err));
    ck_assert_str_eq(json_string_value(json_object_get(err, "code")), "function_error");
    ck_assert_str_eq(json_string_value(json_object_get(err, "message")), "bad \"thing\"\n");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "worker")), 4242);
    ck_assert_int_eq(json_integer_value(json_object_get(v, "attempts")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(v, "args"), "n")), 10);
    ck_assert_str_eq(json_string_value(json_object_get(v, "started_at")),
                     "2026-11-27T11:05:29.001Z");
    ck_assert_str_eq(json_string_value(json_object_get(v, "finished_at")),
                     "2026-11-27T11:05:30.000Z");
    ck_assert_double_eq_tol(json_real_value(json_object_get(v, "queue_ms")), 1.5, 1e-9);
    ck_assert_double_eq_tol(json_real_value(json_object_get(v, "run_ms")), 0.137, 1e-9);
    ck_assert_double_eq_tol(json_real_value(json_object_get(v, "cpu_ms")), 12345.678, 1e-9);
    json_decref(v);

    /* A succeeded job has a result and a null error. */
    j.state = JOB_SUCCEEDED;
    job_set_error(&j, NULL, NULL);
    j.result = must_parse("[1, \"two\", {\"three\": 3.5}]");
    v = job_to_json(&j);
    ck_assert(json_is_null(json_object_get(v, "error")));
    ck_assert(json_equal(json_object_get(v, "result"), j.result));
    json_decref(v);
    job_release(&j);
}
END_TEST

START_TEST(test_job_dumps)
{
    job j;
    finished_job(&j);
    size_t len = 0;
    char *text = job_dumps(&j, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    /* Exactly three decimals, not 17 significant digits. */
    ck_assert_msg(strstr(text, "\"run_ms\":0.137,") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\"cpu_ms\":12345.678}") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\"queue_ms\":1.500,") != NULL, "%s", text);
    /* The same object as job_to_json(). */
    json_t *a = must_parse(text), *b = job_to_json(&j);
    ck_assert_msg(json_equal(a, b), "job_dumps and job_to_json differ:\n%s", text);
    json_decref(a);
    json_decref(b);
    free(text);

    /* And for a queued job full of nulls. */
    job_release(&j);
    snprintf(j.id, sizeof(j.id), "00112233445566778899aabbccddeeff");
    snprintf(j.fn, sizeof(j.fn), "sleep");
    j.created_at_us = 1;
    text = job_dumps(&j, NULL);
    a = must_parse(text);
    b = job_to_json(&j);
    ck_assert_msg(json_equal(a, b), "job_dumps and job_to_json differ:\n%s", text);
    json_decref(a);
    json_decref(b);
    free(text);
}
END_TEST

/* The list's object: no args and result unless asked, then the given text
 * verbatim, in the same places as job_dumps(). */
START_TEST(test_job_dumps_view)
{
    job j;
    finished_job(&j);
    json_t *full = job_to_json(&j);
    char *text = job_dumps_view(&j, 0, NULL, NULL);
    json_t *v = must_parse(text);
    ck_assert_ptr_null(json_object_get(v, "args"));
    ck_assert_ptr_null(json_object_get(v, "result"));
    ck_assert_int_eq(json_object_size(v), json_object_size(full) - 2);
    json_object_del(full, "args");
    json_object_del(full, "result");
    ck_assert_msg(json_equal(v, full), "summary differs:\n%s", text);
    json_decref(v);
    json_decref(full);
    free(text);

    job_json_text t = {"{\"x\":[1,2]}", 11, "\"r\"", 3};
    size_t len = 0;
    text = job_dumps_view(&j, JOB_VIEW_ARGS | JOB_VIEW_RESULT, &t, &len);
    ck_assert_uint_eq(len, strlen(text));
    ck_assert_msg(strstr(text, ",\"args\":{\"x\":[1,2]},\"state\":\"failed\",\"result\":\"r\","),
                  "%s", text);
    free(text);
    t = (job_json_text){NULL, 0, NULL, 0};
    text = job_dumps_view(&j, JOB_VIEW_ARGS, &t, NULL);
    ck_assert_msg(strstr(text, ",\"args\":{},\"state\":") && !strstr(text, "\"result\""), "%s",
                  text);
    free(text);
    text = job_dumps_view(&j, JOB_VIEW_RESULT, NULL, NULL);
    ck_assert_msg(strstr(text, "\"result\":null,") && !strstr(text, "\"args\""), "%s", text);
    free(text);
    job_release(&j);
}
END_TEST

START_TEST(test_job_set_error_utf8)
{
    job j;
    char big[2000];
    job_init(&j);
    /* 'a' then 3-byte characters: the cut falls inside one and drops it whole. */
    big[0] = 'a';
    size_t o = 1;
    while (o + 3 < sizeof(big)) {
        memcpy(big + o, "\xe2\x82\xac", 3); /* EURO SIGN */
        o += 3;
    }
    big[o] = '\0';
    job_set_error(&j, "function_error", big);
    size_t n = strlen(j.error_message);
    ck_assert(n <= JOB_ERR_MESSAGE_MAX && n > JOB_ERR_MESSAGE_MAX - 3);
    ck_assert_uint_eq((n - 1) % 3, 0);
    json_t *s = json_string(j.error_message);
    ck_assert_ptr_nonnull(s);
    json_decref(s);

    /* Invalid bytes become '?'; a hand-filled bad message still encodes. */
    job_set_error(&j, "x", "ok \xff\xc0\x80 \xed\xa0\x80.");
    ck_assert_str_eq(j.error_message, "ok ??? ???.");
    snprintf(j.error_message, sizeof(j.error_message), "raw \xff");
    snprintf(j.id, sizeof(j.id), "00112233445566778899aabbccddeeff");
    json_t *v = job_to_json(&j);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "error"), "message")),
                     "raw ?");
    json_decref(v);
    job_set_error(&j, NULL, NULL);
    ck_assert_str_eq(j.error_code, "");
    job_release(&j);
}
END_TEST

/* ====================================================================== */
/* store: opening                                                         */
/* ====================================================================== */

START_TEST(test_open_missing_dir)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/no/such/dir/jobs.db", tmpdir);
    must_not_open(p, p);
    must_not_open(p, "does not exist");
}
END_TEST

START_TEST(test_open_other_kinds)
{
    config_store cfg;
    char err[256] = "";
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.kind, sizeof(cfg.kind), "redis");
    snprintf(cfg.url, sizeof(cfg.url), "redis://127.0.0.1:6379");
    ck_assert_ptr_null(store_open(&cfg, err, sizeof(err)));
    ck_assert_msg(strstr(err, "redis") != NULL, "%s", err);
    must_not_open("", "empty");
}
END_TEST

/* Writes a raw SQLite file at path with SQL. */
static void raw_db(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

START_TEST(test_open_newer_schema)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/future.db", tmpdir);
    raw_db(p, "CREATE TABLE jobs (x); PRAGMA user_version = 3;");
    must_not_open(p, "schema version 3 is newer than this crunchd understands (2)");
    must_not_open(p, p);
}
END_TEST

/* Writes text times over into a new file at path. */
static void write_repeated(const char *path, const char *text, int times)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < times; i++)
        fputs(text, f);
    fclose(f);
}

START_TEST(test_open_foreign_db)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/other.db", tmpdir);
    raw_db(p, "CREATE TABLE customers (name TEXT);");
    must_not_open(p, "not a crunchd job store");
    snprintf(p, sizeof(p), "%s/garbage.db", tmpdir);
    write_repeated(p, "this is not a database at all. ", 200);
    must_not_open(p, "not a database");
}
END_TEST

/* store_check() at path (kind sqlite unless kind is given): 0, or -1 with a
 * message containing want. */
static void must_check(const char *kind, const char *path, const char *want)
{
    config_store cfg;
    char err[512] = "";
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.kind, sizeof(cfg.kind), "%s", kind ? kind : "sqlite");
    snprintf(cfg.path, sizeof(cfg.path), "%s", path);
    int rc = store_check(&cfg, err, sizeof(err));
    if (!want) {
        ck_assert_msg(rc == 0, "store_check(%s) failed: %s", path, err);
        return;
    }
    ck_assert_msg(rc == -1, "store_check(%s) passed, want \"%s\"", path, want);
    ck_assert_msg(strstr(err, want) != NULL, "store_check(%s): \"%s\" lacks \"%s\"", path, err,
                  want);
}

/* What store_prepare()/store_open() refuse, found without creating a thing
 * (crunchd -t). */
START_TEST(test_check)
{
    char p[320], d[256];
    struct stat sb;
    must_check(NULL, dbpath, NULL); /* an open store */
    must_check("redis", dbpath, "store.kind \"redis\": not available");
    /* A missing last directory is created by store_prepare: fine, and not
     * created by the check; a missing one above it is not. */
    snprintf(d, sizeof(d), "%s/var", tmpdir);
    snprintf(p, sizeof(p), "%s/jobs.db", d);
    must_check(NULL, p, NULL);
    ck_assert_int_eq(stat(d, &sb), -1);
    snprintf(p, sizeof(p), "%s/no/var/jobs.db", tmpdir);
    must_check(NULL, p, "store.path");
    snprintf(p, sizeof(p), "%s/jobs.db/x.db", tmpdir); /* a file where a directory should be */
    must_check(NULL, p, "is not a directory");
    /* Files store_open refuses. */
    snprintf(p, sizeof(p), "%s/future.db", tmpdir);
    raw_db(p, "CREATE TABLE jobs (x); PRAGMA user_version = 99;");
    must_check(NULL, p, "schema version 99 is newer");
    snprintf(p, sizeof(p), "%s/other.db", tmpdir);
    raw_db(p, "CREATE TABLE customers (name TEXT);");
    must_check(NULL, p, "not a crunchd job store");
    snprintf(p, sizeof(p), "%s/garbage.db", tmpdir);
    write_repeated(p, "this is not a database at all. ", 20);
    must_check(NULL, p, "not a SQLite database");
    /* An empty file is a new database to SQLite. */
    snprintf(p, sizeof(p), "%s/empty.db", tmpdir);
    write_repeated(p, "", 0);
    must_check(NULL, p, NULL);
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_int_eq(sb.st_size, 0);
}
END_TEST

START_TEST(test_open_wal_and_version)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), STORE_SQLITE_SCHEMA_VERSION);
    sqlite3_finalize(q);
    /* A new file has 2 KiB pages (fewer bytes per WAL frame; store_sqlite.c). */
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), 2048);
    sqlite3_finalize(q);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_reopen_keeps_jobs)
{
    job a, b;
    must_submit(&a, "count", FN_CPU, "{\"iterations\": 5}", 2);
    store_close(st);
    st = must_open(dbpath);
    must_get(a.id, &b);
    ck_assert_str_eq(b.fn, "count");
    ck_assert_int_eq(b.state, JOB_QUEUED);
    ck_assert_int_eq(b.retries, 2);
    ck_assert(json_equal(a.args, b.args));
    job_release(&a);
    job_release(&b);
}
END_TEST

/* Several processes open a brand-new file at once: all succeed. */
START_TEST(test_open_concurrent_fresh)
{
    enum { KIDS = 4 };
    char p[256];
    pid_t pids[KIDS];
    snprintf(p, sizeof(p), "%s/fresh.db", tmpdir);
    for (int i = 0; i < KIDS; i++) {
        pids[i] = fork();
        ck_assert(pids[i] >= 0);
        if (pids[i] == 0) {
            config_store cfg;
            char err[512];
            bool existing;
            job j;
            memset(&cfg, 0, sizeof(cfg));
            snprintf(cfg.path, sizeof(cfg.path), "%s", p);
            store *s = store_open(&cfg, err, sizeof(err));
            if (!s) {
                fprintf(stderr, "child %d: %s\n", i, err);
                _exit(1);
            }
            job_init(&j);
            snprintf(j.fn, sizeof(j.fn), "count");
            int rc = store_submit(s, &j, &existing);
            job_release(&j);
            store_close(s);
            _exit(rc == 0 ? 0 : 2);
        }
    }
    for (int i = 0; i < KIDS; i++) {
        int status;
        ck_assert(waitpid(pids[i], &status, 0) == pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %d", i,
                      status);
    }
    store *s = must_open(p);
    int64_t queued = 0;
    ck_assert_int_eq(store_counts(s, &queued, NULL), 0);
    ck_assert_int_eq(queued, KIDS);
    store_close(s);
}
END_TEST

/* A writer holding the lock makes calls wait up to busy_timeout, then fail
 * with a message naming the file; nothing is half-done. */
START_TEST(test_busy)
{
    store_sqlite_opts o = {.busy_timeout_ms = 100};
    char err[512] = "";
    sqlite3 *db = NULL;
    job j, c[4];
    int n = -1;
    store *s = store_sqlite_open(dbpath, &o, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    must_submit(&j, "count", FN_CPU, NULL, 0);
    job_release(&j);
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    job_init(&j);
    snprintf(j.fn, sizeof(j.fn), "count");
    ck_assert_int_eq(store_submit(s, &j, NULL), -1);
    ck_assert_msg(strstr(store_errmsg(s), "database is locked") != NULL, "%s", store_errmsg(s));
    ck_assert_msg(strstr(store_errmsg(s), dbpath) != NULL, "%s", store_errmsg(s));
    ck_assert_int_eq(store_claim(s, FN_CPU, 0, 1, 1, 4, c, &n), -1);
    ck_assert_int_eq(n, 0);
    /* Reads go on while another connection writes (WAL). */
    int64_t q = -1;
    MUST(store_counts(st, &q, NULL));
    ck_assert_int_eq(q, 1);

    ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    MUST(store_submit(s, &j, NULL));
    MUST(store_claim(s, FN_CPU, 0, 1, 1, 4, c, &n));
    ck_assert_int_eq(n, 2);
    release_all(c, n);
    job_release(&j);
    store_close(s);

    /* A lock released within busy_timeout is waited for: another process
     * holds it for 200 ms. */
    int fds[2];
    char ready;
    ck_assert_int_eq(pipe(fds), 0);
    pid_t kid = fork();
    ck_assert(kid >= 0);
    if (kid == 0) {
        sqlite3 *k = NULL;
        if (sqlite3_open(dbpath, &k) != SQLITE_OK ||
            sqlite3_exec(k, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            _exit(1);
        if (write(fds[1], "x", 1) != 1)
            _exit(1);
        usleep(200 * 1000);
        _exit(sqlite3_exec(k, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : 1);
    }
    ck_assert_int_eq(read(fds[0], &ready, 1), 1);
    int64_t t0 = job_now_us();
    must_submit(&j, "count", FN_CPU, NULL, 0);
    ck_assert_msg(job_now_us() - t0 >= 100000, "submit did not wait for the lock");
    job_release(&j);
    int status;
    ck_assert(waitpid(kid, &status, 0) == kid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

/* ====================================================================== */
/* store: submit, get, the life of a job                                  */
/* ====================================================================== */

START_TEST(test_submit_get)
{
    job a, b;
    int64_t t0 = job_now_us();
    job_init(&a);
    snprintf(a.fn, sizeof(a.fn), "sleep");
    a.kind = FN_IO;
    a.args = must_parse("{\"ms\": 5, \"s\": \"caf\\u00e9 \\u2603\", \"big\": 9007199254740993,"
                        " \"r\": 0.1, \"nested\": [[], {}, null, true]}");
    a.timeout_ms = 2500;
    a.retries = 1;
    snprintf(a.callback, sizeof(a.callback), "http://127.0.0.1:8081/hook");
    a.state = JOB_FAILED; /* ignored: the store decides */
    a.attempts = 9;
    a.worker_pid = 77;
    MUST(store_submit(st, &a, NULL));
    ck_assert(job_id_valid(a.id, strlen(a.id)));
    ck_assert_int_eq(a.state, JOB_QUEUED);
    ck_assert_int_eq(a.attempts, 0);
    ck_assert_int_eq(a.worker_pid, 0);
    ck_assert(a.created_at_us >= t0 && a.created_at_us <= job_now_us());

    must_get(a.id, &b);
    ck_assert_str_eq(b.id, a.id);
    ck_assert_str_eq(b.fn, "sleep");
    ck_assert_int_eq(b.kind, FN_IO);
    ck_assert(json_equal(a.args, b.args));
    ck_assert_int_eq(json_integer_value(json_object_get(b.args, "big")), 9007199254740993LL);
    ck_assert_int_eq(b.state, JOB_QUEUED);
    ck_assert_ptr_null(b.result);
    ck_assert_str_eq(b.error_code, "");
    ck_assert_int_eq(b.timeout_ms, 2500);
    ck_assert_int_eq(b.retries, 1);
    ck_assert_str_eq(b.callback, "http://127.0.0.1:8081/hook");
    ck_assert_str_eq(b.idem_key, "");
    ck_assert_int_eq(b.owner_slot, -1);
    ck_assert_int_eq(b.worker_pid, 0);
    ck_assert(b.created_at_us == a.created_at_us);
    ck_assert(b.started_at_us == 0 && b.finished_at_us == 0 && b.deadline_us == 0);
    ck_assert(b.run_us == -1 && b.cpu_us == -1);
    ck_assert(!b.cancel_requested);
    job_release(&a);
    job_release(&b);
}
END_TEST

START_TEST(test_get_unknown)
{
    job j;
    bool found = true;
    MUST(store_get(st, "0123456789abcdef0123456789abcdef", &j, &found));
    ck_assert(!found);
    found = true;
    MUST(store_get(st, "not-an-id' OR 1=1 --", &j, &found));
    ck_assert(!found);
    job_release(&j);
}
END_TEST

START_TEST(test_submit_bad)
{
    job j;
    job_init(&j);
    ck_assert_int_eq(store_submit(st, &j, NULL), -1);
    ck_assert_msg(strstr(store_errmsg(st), "fn") != NULL, "%s", store_errmsg(st));
    snprintf(j.fn, sizeof(j.fn), "count");
    j.timeout_ms = -1;
    ck_assert_int_eq(store_submit(st, &j, NULL), -1);
    j.timeout_ms = 0;
    j.kind = (fn_kind)7;
    ck_assert_int_eq(store_submit(st, &j, NULL), -1);
    j.kind = FN_CPU;
    MUST(store_submit(st, &j, NULL));
    ck_assert_str_eq(store_errmsg(st), "");
    job_release(&j);
}
END_TEST

START_TEST(test_lifecycle_succeeded)
{
    job a, c[1], b;
    must_submit(&a, "count", FN_CPU, "{\"iterations\": 3}", 0);
    int64_t t0 = job_now_us();
    must_claim(FN_CPU, 3, 7, 4, c, 1);
    ck_assert_str_eq(c[0].id, a.id);
    ck_assert_int_eq(c[0].state, JOB_RUNNING);
    ck_assert_int_eq(c[0].attempts, 1);
    ck_assert_int_eq(c[0].owner_slot, 3);
    ck_assert_uint_eq(c[0].owner_incarnation, 7);
    ck_assert_int_eq(c[0].worker_pid, 1003);
    ck_assert(c[0].started_at_us >= t0);
    ck_assert(c[0].deadline_us == c[0].started_at_us + 1000 * 1000);
    ck_assert(json_equal(c[0].args, a.args));
    ck_assert_int_eq(state_of(a.id), JOB_RUNNING);

    ck_assert(complete_ok(&c[0], "{\"value\": 3}"));
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_SUCCEEDED);
    ck_assert_int_eq(json_integer_value(json_object_get(b.result, "value")), 3);
    ck_assert_str_eq(b.error_code, "");
    ck_assert(b.run_us == 1234 && b.cpu_us == 1000);
    ck_assert(b.finished_at_us >= b.started_at_us);
    ck_assert_int_eq(b.worker_pid, 1003);

    /* Final: a second completion and a claim change nothing. */
    ck_assert(!complete_ok(&c[0], "{\"value\": 4}"));
    must_claim(FN_CPU, 3, 7, 4, c + 0, 0);
    job_release(&b);
    must_get(a.id, &b);
    ck_assert_int_eq(json_integer_value(json_object_get(b.result, "value")), 3);
    job_release(&a);
    job_release(&b);
    job_release(&c[0]);
}
END_TEST

START_TEST(test_lifecycle_failed)
{
    job a, c[1], b;
    bool applied = false;
    must_submit(&a, "fib", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    c[0].state = JOB_FAILED;
    job_set_error(&c[0], ERR_INVALID_ARGS, "n: must be an integer from 0 to 93");
    c[0].run_us = 5;
    c[0].cpu_us = 4;
    c[0].finished_at_us = 1795777530000000LL; /* given: kept */
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_FAILED);
    ck_assert_str_eq(b.error_code, "invalid_args");
    ck_assert_str_eq(b.error_message, "n: must be an integer from 0 to 93");
    ck_assert_ptr_null(b.result);
    ck_assert(b.finished_at_us == 1795777530000000LL);
    ck_assert_uint_eq(json_object_size(b.args), 0); /* NULL args are stored as {} */
    job_release(&a);
    job_release(&b);
    job_release(&c[0]);
}
END_TEST

/* A completion in state queued gives the job back (a language runtime's
 * process died under it): queued again, owner cleared, attempts kept; the
 * next claim counts a second attempt. Only its owner may; a cancel that
 * came meanwhile ends it cancelled instead. */
START_TEST(test_complete_requeue)
{
    job a, c[1], b, out;
    bool applied = false, found;
    must_submit(&a, "fib", FN_CPU, NULL, 1);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    c[0].state = JOB_QUEUED;
    c[0].owner_incarnation = 2; /* not the owner: nothing */
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(!applied);
    c[0].owner_incarnation = 1;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_QUEUED);
    ck_assert_int_eq(b.attempts, 1);
    ck_assert_int_eq(b.worker_pid, 0);
    ck_assert(b.started_at_us == 0 && b.finished_at_us == 0);
    ck_assert_str_eq(b.error_code, "");
    job_release(&b);
    job_release(&c[0]);
    must_claim(FN_CPU, 1, 1, 1, c, 1);
    ck_assert_int_eq(c[0].attempts, 2);
    /* Again, with a cancel requested meanwhile: cancelled. */
    MUST(store_cancel(st, a.id, &out, &found, NULL));
    job_release(&out);
    c[0].state = JOB_QUEUED;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_CANCELLED);
    ck_assert_str_eq(b.error_code, "cancelled");
    ck_assert(b.finished_at_us > 0);
    job_release(&a);
    job_release(&b);
    job_release(&c[0]);
}
END_TEST

START_TEST(test_complete_checks)
{
    job a, c[1];
    bool applied = true;
    must_submit(&a, "fib", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    /* Not a final state: refused. */
    ck_assert_int_eq(store_complete(st, &c[0], &applied), -1);
    ck_assert_msg(strstr(store_errmsg(st), "not final") != NULL, "%s", store_errmsg(st));
    ck_assert(!applied);
    /* Wrong incarnation or slot: not applied, job still running. */
    c[0].state = JOB_SUCCEEDED;
    c[0].owner_incarnation = 2;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(!applied);
    c[0].owner_incarnation = 1;
    c[0].owner_slot = 1;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(!applied);
    ck_assert_int_eq(state_of(a.id), JOB_RUNNING);
    /* A failure without a code gets function_error; cancelled gets cancelled. */
    c[0].owner_slot = 0;
    c[0].state = JOB_FAILED;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    job b;
    must_get(a.id, &b);
    ck_assert_str_eq(b.error_code, "function_error");
    job_release(&b);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

/* ====================================================================== */
/* store: cancel                                                          */
/* ====================================================================== */

START_TEST(test_cancel_queued)
{
    job a, out, c[1];
    bool found = false;
    job_state before = JOB_FAILED;
    must_submit(&a, "count", FN_CPU, NULL, 0);
    MUST(store_cancel(st, a.id, &out, &found, &before));
    ck_assert(found);
    ck_assert_int_eq(before, JOB_QUEUED);
    ck_assert_int_eq(out.state, JOB_CANCELLED);
    ck_assert_str_eq(out.error_code, "cancelled");
    ck_assert(out.finished_at_us > 0);
    ck_assert(out.started_at_us == 0);
    ck_assert_int_eq(out.attempts, 0);
    job_release(&out);
    must_get(a.id, &out);
    ck_assert_int_eq(out.state, JOB_CANCELLED);
    ck_assert_str_eq(out.error_code, "cancelled");
    /* Never claimed afterwards. */
    must_claim(FN_CPU, 0, 1, 8, c, 0);
    /* A second cancel: unchanged, before = cancelled. */
    job_release(&out);
    MUST(store_cancel(st, a.id, &out, &found, &before));
    ck_assert(found);
    ck_assert_int_eq(before, JOB_CANCELLED);
    ck_assert_int_eq(out.state, JOB_CANCELLED);
    job_release(&out);
    job_release(&a);
}
END_TEST

START_TEST(test_cancel_running)
{
    job a, out, c[1];
    bool found = false, applied = false;
    job_state before = JOB_FAILED;
    must_submit(&a, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 2, 5, 1, c, 1);
    MUST(store_cancel(st, a.id, &out, &found, &before));
    ck_assert(found);
    ck_assert_int_eq(before, JOB_RUNNING);
    ck_assert_int_eq(out.state, JOB_RUNNING);
    ck_assert(out.cancel_requested);
    ck_assert_int_eq(out.owner_slot, 2);
    ck_assert_int_eq(out.worker_pid, 1002);
    job_release(&out);
    must_get(a.id, &out);
    ck_assert_int_eq(out.state, JOB_RUNNING);
    ck_assert(out.cancel_requested);
    job_release(&out);
    /* Cancelling again is harmless. */
    MUST(store_cancel(st, a.id, &out, &found, NULL));
    ck_assert_int_eq(out.state, JOB_RUNNING);
    job_release(&out);
    /* The worker sees its cancel flag and completes as cancelled. */
    c[0].state = JOB_CANCELLED;
    job_set_error(&c[0], ERR_CANCELLED, "stopped on request");
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    must_get(a.id, &out);
    ck_assert_int_eq(out.state, JOB_CANCELLED);
    ck_assert_str_eq(out.error_code, "cancelled");
    job_release(&out);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

START_TEST(test_cancel_final_unchanged)
{
    job a, out, c[1];
    bool found = false;
    job_state before = JOB_QUEUED;
    must_submit(&a, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert(complete_ok(&c[0], "42"));
    MUST(store_cancel(st, a.id, &out, &found, &before));
    ck_assert(found);
    ck_assert_int_eq(before, JOB_SUCCEEDED);
    ck_assert_int_eq(out.state, JOB_SUCCEEDED);
    ck_assert_int_eq(json_integer_value(out.result), 42);
    ck_assert(!out.cancel_requested);
    ck_assert_str_eq(out.error_code, "");
    job_release(&out);
    MUST(store_cancel(st, "0123456789abcdef0123456789abcdef", &out, &found, NULL));
    ck_assert(!found);
    job_release(&out);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

/* A job aborted (timeout escalation) while its worker still runs it: the
 * late completion does not overwrite the abort, and the reap that follows the
 * kill does not re-queue it. */
START_TEST(test_abort_then_late_complete)
{
    job a, c[1], b;
    bool applied = true;
    int requeued = -1, failed = -1;
    must_submit(&a, "spin", FN_CPU, NULL, 3);
    must_claim(FN_CPU, 1, 4, 1, c, 1);
    /* Wrong owner: not applied. */
    MUST(store_abort(st, a.id, 1, 5, JOB_FAILED, ERR_TIMEOUT, "x", &applied));
    ck_assert(!applied);
    MUST(store_abort(st, a.id, 1, 4, JOB_FAILED, ERR_TIMEOUT, "did not stop within cancel_grace_ms",
                     &applied));
    ck_assert(applied);
    ck_assert(!complete_ok(&c[0], "1"));
    MUST(store_reap(st, 1, 4, NULL, NULL, &requeued, &failed));
    ck_assert_int_eq(requeued, 0);
    ck_assert_int_eq(failed, 0);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_FAILED);
    ck_assert_str_eq(b.error_code, "timeout");
    ck_assert_str_eq(b.error_message, "did not stop within cancel_grace_ms");
    ck_assert_ptr_null(b.result);
    ck_assert(b.run_us == -1);
    ck_assert(b.finished_at_us > 0);
    job_release(&b);
    ck_assert_int_eq(store_abort(st, a.id, 1, 4, JOB_SUCCEEDED, "x", "y", NULL), -1);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

/* Cancel escalation: abort as cancelled. */
START_TEST(test_abort_cancelled)
{
    job a, c[1], b;
    bool applied = false, found = false;
    must_submit(&a, "spin", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    MUST(store_cancel(st, a.id, &b, &found, NULL));
    ck_assert(found && b.cancel_requested);
    job_release(&b);
    MUST(store_abort(st, a.id, 0, 1, JOB_CANCELLED, ERR_CANCELLED,
                     "did not stop within cancel_grace_ms; worker ended", &applied));
    ck_assert(applied);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_CANCELLED);
    ck_assert_str_eq(b.error_code, "cancelled");
    job_release(&b);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

/* ====================================================================== */
/* store: claim order and batches                                         */
/* ====================================================================== */

START_TEST(test_claim_fifo_kind_max)
{
    enum { N = 10 };
    job cpu[N], io[3], c[N];
    for (int i = 0; i < N; i++) {
        must_submit(&cpu[i], "count", FN_CPU, NULL, 0);
        if (i < 3)
            must_submit(&io[i], "sleep", FN_IO, NULL, 0);
    }
    must_claim(FN_CPU, 0, 1, 4, c, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(c[i].id, cpu[i].id);
        ck_assert_int_eq(c[i].kind, FN_CPU);
    }
    release_all(c, 4);
    must_claim(FN_IO, 1, 1, 8, c, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(c[i].id, io[i].id);
    release_all(c, 3);
    must_claim(FN_IO, 1, 1, 8, c, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert_str_eq(c[0].id, cpu[4].id);
    release_all(c, 1);
    must_claim(FN_CPU, 0, 1, N, c, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(c[i].id, cpu[5 + i].id);
    release_all(c, 5);
    must_claim(FN_CPU, 0, 1, N, c, 0);
    int n = 7;
    ck_assert_int_eq(store_claim(st, FN_CPU, 0, 1, 1, 0, c, &n), -1);
    ck_assert_int_eq(n, 0);
    release_all(cpu, N);
    release_all(io, 3);
}
END_TEST

START_TEST(test_claim_large_batch)
{
    enum { N = 100 };
    job a[N];
    job *c = calloc(N + 10, sizeof(*c));
    for (int i = 0; i < N; i++)
        must_submit(&a[i], "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, N + 10, c, N);
    for (int i = 0; i < N; i++)
        ck_assert_str_eq(c[i].id, a[i].id);
    release_all(c, N);
    release_all(a, N);
    free(c);
}
END_TEST

START_TEST(test_complete_many)
{
    enum { N = 16 };
    job a[N], c[N], b;
    bool applied[N];
    for (int i = 0; i < N; i++)
        must_submit(&a[i], "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, N, c, N);
    /* Job 3 is aborted meanwhile; job 5 is completed twice in the batch. */
    MUST(store_abort(st, c[3].id, 0, 1, JOB_FAILED, ERR_TIMEOUT, "late", NULL));
    json_t *results[N];
    for (int i = 0; i < N; i++) {
        c[i].state = JOB_SUCCEEDED;
        results[i] = json_integer(i);
        c[i].result = results[i];
        c[i].run_us = i;
        c[i].cpu_us = i;
    }
    job twice[N + 1];
    memcpy(twice, c, sizeof(c));
    twice[N] = c[5];
    bool applied2[N + 1];
    MUST(store_complete_many(st, twice, N + 1, applied2));
    memcpy(applied, applied2, sizeof(applied));
    for (int i = 0; i < N; i++) {
        ck_assert_msg(applied[i] == (i != 3), "job %d applied=%d", i, applied[i]);
        must_get(a[i].id, &b);
        if (i == 3) {
            ck_assert_int_eq(b.state, JOB_FAILED);
        } else {
            ck_assert_int_eq(b.state, JOB_SUCCEEDED);
            ck_assert_int_eq(json_integer_value(b.result), i);
            ck_assert(b.run_us == i);
        }
        job_release(&b);
    }
    ck_assert(!applied2[N]);
    for (int i = 0; i < N; i++) {
        c[i].result = NULL;
        json_decref(results[i]);
    }
    MUST(store_complete_many(st, c, 0, NULL));
    MUST(store_complete_many(st, c, 2, NULL)); /* already final: fine, not applied */
    release_all(c, N);
    release_all(a, N);

    /* A bad job in the batch fails the whole call and applies nothing. */
    job fresh, bad[2];
    must_submit(&fresh, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, bad, 1);
    bad[0].state = JOB_SUCCEEDED;
    bad[1] = bad[0]; /* shares args: only bad[0] is released */
    bad[1].state = JOB_RUNNING;
    ck_assert_int_eq(store_complete_many(st, bad, 2, applied), -1);
    ck_assert_int_eq(state_of(fresh.id), JOB_RUNNING);
    job_release(&bad[0]);
    job_release(&fresh);
}
END_TEST

/* ====================================================================== */
/* store: several processes                                               */
/* ====================================================================== */

/* Child: claims (kind cpu, slot) in batches of 1..7 and completes until the
 * queue is empty (and, if done_flag is set, the submitter has finished),
 * writing each claimed id to its own file. Exits 0, or 1 with a message. */
static void claimer(int slot, const char *done_flag)
{
    char path[256];
    job c[8];
    int n, total = 0, idle = 0;
    snprintf(path, sizeof(path), "%s/claims.%d", tmpdir, slot);
    FILE *f = fopen(path, "w");
    store *s = must_open(dbpath);
    for (unsigned round = 0;; round++) {
        int max = 1 + (int)((round + (unsigned)slot) % 7);
        if (store_claim(s, FN_CPU, slot, 1, getpid(), max, c, &n) < 0) {
            fprintf(stderr, "claimer %d: %s\n", slot, store_errmsg(s));
            _exit(1);
        }
        if (n == 0) {
            if (!done_flag || access(done_flag, F_OK) == 0) {
                if (++idle > 2) /* the flag may precede the last commit's visibility */
                    break;
            }
            usleep(200);
            continue;
        }
        idle = 0;
        for (int i = 0; i < n; i++) {
            fprintf(f, "%s\n", c[i].id);
            c[i].state = JOB_SUCCEEDED;
            c[i].result = json_integer(slot);
        }
        bool applied[8];
        if (store_complete_many(s, c, n, applied) < 0) {
            fprintf(stderr, "claimer %d: %s\n", slot, store_errmsg(s));
            _exit(1);
        }
        for (int i = 0; i < n; i++) {
            if (!applied[i]) {
                fprintf(stderr, "claimer %d: completion of %s not applied\n", slot, c[i].id);
                _exit(1);
            }
            job_release(&c[i]);
        }
        total += n;
    }
    fclose(f);
    store_close(s);
    _exit(total >= 0 ? 0 : 1);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads every claims.* file; checks that ids (n of them) were each claimed
 * exactly once and that every job succeeded with attempts 1. */
static void check_claims(int kids, char **ids, int n)
{
    char **got = calloc((size_t)n + 1, sizeof(*got));
    int ngot = 0;
    char line[128];
    for (int k = 0; k < kids; k++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/claims.%d", tmpdir, k);
        FILE *f = fopen(path, "r");
        ck_assert_msg(f != NULL, "no %s", path);
        while (fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\n")] = '\0';
            ck_assert_msg(ngot < n, "more claims than jobs");
            got[ngot++] = strdup(line);
        }
        fclose(f);
    }
    ck_assert_int_eq(ngot, n);
    qsort(got, (size_t)n, sizeof(*got), cmp_str);
    qsort(ids, (size_t)n, sizeof(*ids), cmp_str);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(strcmp(got[i], ids[i]) == 0, "claimed %s, expected %s", got[i], ids[i]);
        job b;
        must_get(ids[i], &b);
        ck_assert_int_eq(b.state, JOB_SUCCEEDED);
        ck_assert_int_eq(b.attempts, 1);
        job_release(&b);
        free(got[i]);
    }
    free(got);
}

static void wait_kids(const pid_t *pids, int kids)
{
    for (int i = 0; i < kids; i++) {
        int status;
        ck_assert(waitpid(pids[i], &status, 0) == pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status 0x%x", i,
                      status);
    }
}

START_TEST(test_concurrent_claims)
{
    enum { N = 600, KIDS = 2 };
    char **ids = calloc(N, sizeof(*ids));
    pid_t pids[KIDS];
    for (int i = 0; i < N; i++) {
        job j;
        must_submit(&j, "count", FN_CPU, NULL, 0);
        ids[i] = strdup(j.id);
        job_release(&j);
    }
    for (int k = 0; k < KIDS; k++) {
        pids[k] = fork();
        ck_assert(pids[k] >= 0);
        if (pids[k] == 0)
            claimer(k, NULL);
    }
    wait_kids(pids, KIDS);
    check_claims(KIDS, ids, N);
    for (int i = 0; i < N; i++)
        free(ids[i]);
    free(ids);
}
END_TEST

/* One process submits while two others claim: nothing lost, nothing twice. */
START_TEST(test_concurrent_submit_and_claim)
{
    enum { N = 400, KIDS = 2 };
    char done_flag[256], idfile[256];
    pid_t pids[KIDS], sub;
    snprintf(done_flag, sizeof(done_flag), "%s/submitted", tmpdir);
    snprintf(idfile, sizeof(idfile), "%s/ids", tmpdir);
    for (int k = 0; k < KIDS; k++) {
        pids[k] = fork();
        ck_assert(pids[k] >= 0);
        if (pids[k] == 0)
            claimer(k, done_flag);
    }
    sub = fork();
    ck_assert(sub >= 0);
    if (sub == 0) {
        store *s = must_open(dbpath);
        FILE *f = fopen(idfile, "w");
        for (int i = 0; i < N; i++) {
            job j;
            job_init(&j);
            snprintf(j.fn, sizeof(j.fn), "count");
            if (store_submit(s, &j, NULL) < 0) {
                fprintf(stderr, "submitter: %s\n", store_errmsg(s));
                _exit(1);
            }
            fprintf(f, "%s\n", j.id);
            job_release(&j);
        }
        fclose(f);
        store_close(s);
        fclose(fopen(done_flag, "w"));
        _exit(0);
    }
    wait_kids(&sub, 1);
    wait_kids(pids, KIDS);
    char **ids = calloc(N, sizeof(*ids));
    char line[128];
    int n = 0;
    FILE *f = fopen(idfile, "r");
    while (n < N && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        ids[n++] = strdup(line);
    }
    fclose(f);
    ck_assert_int_eq(n, N);
    check_claims(KIDS, ids, N);
    for (int i = 0; i < N; i++)
        free(ids[i]);
    free(ids);
}
END_TEST

/* ====================================================================== */
/* store: reaping                                                         */
/* ====================================================================== */

typedef struct seen_final {
    int n;
    char ids[16][JOB_ID_LEN + 1];
    job_state states[16];
    char codes[16][32];
} seen_final;

static void on_final(const job *j, void *arg)
{
    seen_final *s = arg;
    if (s->n < 16) {
        snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", j->id);
        s->states[s->n] = j->state;
        snprintf(s->codes[s->n], sizeof(s->codes[0]), "%s", j->error_code);
    }
    s->n++;
}

START_TEST(test_reap_retries)
{
    job a, c[1], b;
    int requeued = -1, failed = -1;
    seen_final seen = {0};
    must_submit(&a, "count", FN_CPU, NULL, 1);
    must_claim(FN_CPU, 2, 1, 1, c, 1);
    job_release(&c[0]);
    MUST(store_reap(st, 2, 1, on_final, &seen, &requeued, &failed));
    ck_assert_int_eq(requeued, 1);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(seen.n, 0);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_QUEUED);
    ck_assert_int_eq(b.attempts, 1);
    ck_assert_int_eq(b.owner_slot, -1);
    ck_assert_int_eq(b.worker_pid, 0);
    ck_assert(b.started_at_us == 0 && b.deadline_us == 0 && b.finished_at_us == 0);
    job_release(&b);

    /* Second attempt on another worker; it dies too: no retries left. */
    must_claim(FN_CPU, 2, 2, 1, c, 1);
    ck_assert_str_eq(c[0].id, a.id);
    ck_assert_int_eq(c[0].attempts, 2);
    job_release(&c[0]);
    MUST(store_reap(st, 2, 2, on_final, &seen, &requeued, &failed));
    ck_assert_int_eq(requeued, 0);
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(seen.n, 1);
    ck_assert_str_eq(seen.ids[0], a.id);
    ck_assert_int_eq(seen.states[0], JOB_FAILED);
    ck_assert_str_eq(seen.codes[0], "worker_lost");
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_FAILED);
    ck_assert_int_eq(b.attempts, 2);
    ck_assert_str_eq(b.error_code, "worker_lost");
    ck_assert_msg(strstr(b.error_message, "(pid 1002)") != NULL, "%s", b.error_message);
    ck_assert(b.finished_at_us > 0);
    ck_assert(b.run_us == -1);
    job_release(&b);
    job_release(&a);
}
END_TEST

START_TEST(test_reap_only_dead_slot)
{
    job a[4], c[1], b;
    int requeued = -1, failed = -1;
    for (int i = 0; i < 4; i++)
        must_submit(&a[i], "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1); /* a0: slot 0, incarnation 1 (dead) */
    job_release(&c[0]);
    must_claim(FN_CPU, 1, 1, 1, c, 1); /* a1: slot 1, alive */
    job_release(&c[0]);
    must_claim(FN_CPU, 0, 2, 1, c, 1); /* a2: slot 0's next incarnation */
    job_release(&c[0]);
    /* a3 stays queued. */
    MUST(store_reap(st, 0, 1, NULL, NULL, &requeued, &failed));
    ck_assert_int_eq(requeued, 0);
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(state_of(a[0].id), JOB_FAILED);
    ck_assert_int_eq(state_of(a[1].id), JOB_RUNNING);
    ck_assert_int_eq(state_of(a[2].id), JOB_RUNNING);
    ck_assert_int_eq(state_of(a[3].id), JOB_QUEUED);
    /* Only that incarnation: during a reload an older process of the same
     * slot may still be draining its jobs. */
    MUST(store_reap(st, 0, 5, NULL, NULL, NULL, &failed));
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(state_of(a[2].id), JOB_RUNNING);
    MUST(store_reap(st, 0, 2, NULL, NULL, NULL, &failed));
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(state_of(a[2].id), JOB_FAILED);
    ck_assert_int_eq(state_of(a[1].id), JOB_RUNNING);
    must_get(a[0].id, &b);
    ck_assert_str_eq(b.error_code, "worker_lost");
    job_release(&b);
    release_all(a, 4);
}
END_TEST

START_TEST(test_reap_pending_cancel)
{
    job a, c[1], b;
    bool found;
    int requeued = -1, failed = -1;
    seen_final seen = {0};
    must_submit(&a, "count", FN_CPU, NULL, 5); /* retries left, but cancelled */
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    MUST(store_cancel(st, a.id, &b, &found, NULL));
    job_release(&b);
    MUST(store_reap(st, 0, 1, on_final, &seen, &requeued, &failed));
    ck_assert_int_eq(requeued, 0);
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(seen.n, 1);
    ck_assert_int_eq(seen.states[0], JOB_CANCELLED);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_CANCELLED);
    ck_assert_str_eq(b.error_code, "cancelled");
    job_release(&b);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

START_TEST(test_reap_all)
{
    job a[5], c[2];
    int requeued = -1, failed = -1;
    seen_final seen = {0};
    for (int i = 0; i < 5; i++)
        must_submit(&a[i], "count", FN_CPU, NULL, i < 2 ? 1 : 0);
    must_claim(FN_CPU, 0, 1, 2, c, 2); /* a0, a1: retries 1 */
    release_all(c, 2);
    must_claim(FN_CPU, 7, 3, 2, c, 2); /* a2, a3: no retries */
    release_all(c, 2);
    /* a4 stays queued: reap_all leaves it alone. */
    store_close(st); /* the server restarts */
    st = must_open(dbpath);
    MUST(store_reap_all(st, on_final, &seen, &requeued, &failed));
    ck_assert_int_eq(requeued, 2);
    ck_assert_int_eq(failed, 2);
    ck_assert_int_eq(seen.n, 2);
    ck_assert_int_eq(state_of(a[0].id), JOB_QUEUED);
    ck_assert_int_eq(state_of(a[1].id), JOB_QUEUED);
    ck_assert_int_eq(state_of(a[2].id), JOB_FAILED);
    ck_assert_int_eq(state_of(a[3].id), JOB_FAILED);
    ck_assert_int_eq(state_of(a[4].id), JOB_QUEUED);
    job b;
    must_get(a[2].id, &b);
    ck_assert_str_eq(b.error_code, "worker_lost");
    ck_assert_msg(strstr(b.error_message, "restarted") != NULL, "%s", b.error_message);
    job_release(&b);
    /* Requeued jobs keep their place at the head of the queue. */
    must_claim(FN_CPU, 0, 2, 2, c, 2);
    ck_assert_str_eq(c[0].id, a[0].id);
    ck_assert_str_eq(c[1].id, a[1].id);
    release_all(c, 2);
    MUST(store_reap_all(st, NULL, NULL, &requeued, &failed)); /* attempts 2 > retries 1 */
    ck_assert_int_eq(requeued, 0);
    ck_assert_int_eq(failed, 2);
    release_all(a, 5);
}
END_TEST

/* ====================================================================== */
/* store: purge, idempotency, list, counts                                */
/* ====================================================================== */

/* Makes a finished job with finished_at = at (wall us). */
static void finished_at(job *a, int64_t at)
{
    job c[1];
    bool applied = false;
    must_submit(a, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    c[0].state = JOB_SUCCEEDED;
    c[0].finished_at_us = at;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    job_release(&c[0]);
}

START_TEST(test_purge_ttl)
{
    const int64_t now = 1795777529000000LL, s = 1000000;
    job old, edge, young, queued, running, c[1], b;
    int purged = -1;
    bool found = true;
    finished_at(&old, now - 100 * s);
    finished_at(&edge, now - 60 * s); /* exactly ttl: kept */
    finished_at(&young, now - 10 * s);
    must_submit(&running, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    job_release(&c[0]);
    must_submit(&queued, "count", FN_CPU, NULL, 0);
    MUST(store_purge(st, now, 60, &purged));
    ck_assert_int_eq(purged, 1);
    MUST(store_get(st, old.id, &b, &found));
    ck_assert(!found);
    ck_assert_int_eq(state_of(edge.id), JOB_SUCCEEDED);
    ck_assert_int_eq(state_of(young.id), JOB_SUCCEEDED);
    ck_assert_int_eq(state_of(queued.id), JOB_QUEUED);
    ck_assert_int_eq(state_of(running.id), JOB_RUNNING);
    /* Far in the future: only final jobs go. */
    MUST(store_purge(st, now + 1000 * s, 60, &purged));
    ck_assert_int_eq(purged, 2);
    ck_assert_int_eq(state_of(queued.id), JOB_QUEUED);
    ck_assert_int_eq(state_of(running.id), JOB_RUNNING);
    MUST(store_purge(st, now + 1000 * s, 60, &purged));
    ck_assert_int_eq(purged, 0);
    ck_assert_int_eq(store_purge(st, now, -1, &purged), -1);
    job_release(&old);
    job_release(&edge);
    job_release(&young);
    job_release(&queued);
    job_release(&running);
}
END_TEST

START_TEST(test_purge_batches)
{
    enum { N = 4500 };
    job c[64];
    int purged = 0, n;
    for (int i = 0; i < N; i++) {
        job a;
        must_submit(&a, "count", FN_IO, NULL, 0);
        job_release(&a);
    }
    for (int done = 0; done < N; done += n) {
        MUST(store_claim(st, FN_IO, 0, 1, 1, 64, c, &n));
        ck_assert(n > 0);
        for (int i = 0; i < n; i++) {
            c[i].state = JOB_SUCCEEDED;
            c[i].finished_at_us = 1000;
        }
        MUST(store_complete_many(st, c, n, NULL));
        release_all(c, n);
    }
    MUST(store_purge(st, 2000000, 1, &purged));
    ck_assert_int_eq(purged, N);
    int64_t q = -1, r = -1;
    MUST(store_counts(st, &q, &r));
    ck_assert(q == 0 && r == 0);
}
END_TEST

START_TEST(test_idempotency)
{
    job a, b, c, d;
    bool existing = false;
    must_submit_on(st, &a, "count", FN_CPU, "{\"iterations\": 1}", 0, "key-1");
    /* Same key: the same job, even with other args. */
    job_init(&b);
    snprintf(b.fn, sizeof(b.fn), "count");
    b.args = must_parse("{\"iterations\": 2}");
    snprintf(b.idem_key, sizeof(b.idem_key), "key-1");
    MUST(store_submit(st, &b, &existing));
    ck_assert(existing);
    ck_assert_str_eq(b.id, a.id);
    ck_assert_int_eq(json_integer_value(json_object_get(b.args, "iterations")), 1);
    ck_assert_str_eq(b.idem_key, "key-1");
    /* Another key: another job. */
    must_submit_on(st, &c, "count", FN_CPU, NULL, 0, "key-2");
    ck_assert_str_ne(c.id, a.id);
    /* Still the same job once it is final. */
    job cl[2];
    must_claim(FN_CPU, 0, 1, 2, cl, 2);
    ck_assert(complete_ok(&cl[0], "\"done\""));
    job_init(&d);
    snprintf(d.fn, sizeof(d.fn), "count");
    snprintf(d.idem_key, sizeof(d.idem_key), "key-1");
    MUST(store_submit(st, &d, &existing));
    ck_assert(existing);
    ck_assert_str_eq(d.id, a.id);
    ck_assert_int_eq(d.state, JOB_SUCCEEDED);
    ck_assert_str_eq(json_string_value(d.result), "done");
    job_release(&d);
    /* Purged: the key is free again. */
    int purged = 0;
    MUST(store_purge(st, job_now_us() + 10000000, 1, &purged));
    ck_assert_int_eq(purged, 1);
    job_init(&d);
    snprintf(d.fn, sizeof(d.fn), "count");
    snprintf(d.idem_key, sizeof(d.idem_key), "key-1");
    MUST(store_submit(st, &d, &existing));
    ck_assert(!existing);
    ck_assert_str_ne(d.id, a.id);
    release_all(cl, 2);
    job_release(&a);
    job_release(&b);
    job_release(&c);
    job_release(&d);
}
END_TEST

/* What an Idempotency-Key compares (issue 9 item 16): fn, args after a trip
 * through the store, timeout_ms, retries, callback. */
static void request_of(job *j, const char *fn, const char *args)
{
    job_init(j);
    snprintf(j->fn, sizeof(j->fn), "%s", fn);
    j->args = args ? must_parse(args) : NULL;
    j->timeout_ms = 1000;
    j->retries = 1;
    snprintf(j->callback, sizeof(j->callback), "http://127.0.0.1:9/done");
    snprintf(j->idem_key, sizeof(j->idem_key), "same-request");
}

START_TEST(test_job_same_request)
{
    static const char args[] = "{\"data\":\"x\\u00e9\",\"rounds\":2,\"r\":0.1,\"v\":[1,2.5]}";
    job a, b, stored;
    bool existing = false;
    request_of(&a, "sha256", args);
    request_of(&stored, "sha256", args);
    MUST(store_submit(st, &stored, &existing));
    ck_assert(!existing);
    /* The same request again: the store's job is the same request. */
    request_of(&b, "sha256", "{\"v\":[1,2.5],\"r\":0.1,\"rounds\":2,\"data\":\"x\\u00e9\"}");
    MUST(store_submit(st, &b, &existing));
    ck_assert(existing);
    ck_assert_str_eq(b.id, stored.id);
    ck_assert(job_same_request(&a, &b));
    ck_assert(job_same_request(&b, &a));
    job_release(&b);
    /* Each difference counts. */
    request_of(&b, "sha256", args);
    snprintf(b.fn, sizeof(b.fn), "count");
    ck_assert(!job_same_request(&a, &b));
    job_release(&b);
    request_of(&b, "sha256", "{\"data\":\"x\\u00e9\",\"rounds\":3,\"r\":0.1,\"v\":[1,2.5]}");
    ck_assert(!job_same_request(&a, &b));
    job_release(&b);
    request_of(&b, "sha256", "{\"data\":\"x\\u00e9\",\"rounds\":2,\"r\":0.1,\"v\":[1,2.5],\"z\":0}");
    ck_assert(!job_same_request(&a, &b));
    job_release(&b);
    request_of(&b, "sha256", args);
    b.timeout_ms++;
    ck_assert(!job_same_request(&a, &b));
    b.timeout_ms--;
    b.retries = 0;
    ck_assert(!job_same_request(&a, &b));
    b.retries = 1;
    b.callback[0] = '\0';
    ck_assert(!job_same_request(&a, &b));
    job_release(&b);
    /* No args and {} are the same; {} and {"a": 1} are not. */
    job_release(&a);
    request_of(&a, "fib", NULL);
    request_of(&b, "fib", "{}");
    ck_assert(job_same_request(&a, &b));
    ck_assert(job_same_request(&b, &a));
    job_release(&b);
    request_of(&b, "fib", "{\"a\":1}");
    ck_assert(!job_same_request(&a, &b));
    ck_assert(!job_same_request(&b, &a));
    job_release(&a);
    job_release(&b);
    job_release(&stored);
}
END_TEST

START_TEST(test_submit_many)
{
    job prior, b[5], c[8];
    bool existing[5];
    int64_t q = 0;
    must_submit_on(st, &prior, "count", FN_CPU, NULL, 0, "known");
    for (int i = 0; i < 5; i++) {
        job_init(&b[i]);
        snprintf(b[i].fn, sizeof(b[i].fn), "count");
        b[i].args = json_pack("{s:i}", "i", i);
    }
    snprintf(b[1].idem_key, sizeof(b[1].idem_key), "known"); /* in the store */
    snprintf(b[2].idem_key, sizeof(b[2].idem_key), "twice");
    snprintf(b[4].idem_key, sizeof(b[4].idem_key), "twice"); /* same batch */
    MUST(store_submit_many(st, b, 5, existing));
    ck_assert(!existing[0] && existing[1] && !existing[2] && !existing[3] && existing[4]);
    ck_assert_str_eq(b[1].id, prior.id);
    ck_assert_str_eq(b[4].id, b[2].id);
    ck_assert_int_eq(json_integer_value(json_object_get(b[4].args, "i")), 2);
    MUST(store_counts(st, &q, NULL));
    ck_assert_int_eq(q, 4); /* prior, b0, b2, b3 */
    /* FIFO within the batch. */
    must_claim(FN_CPU, 0, 1, 8, c, 4);
    ck_assert_str_eq(c[0].id, prior.id);
    ck_assert_str_eq(c[1].id, b[0].id);
    ck_assert_str_eq(c[2].id, b[2].id);
    ck_assert_str_eq(c[3].id, b[3].id);
    release_all(c, 4);
    release_all(b, 5);

    /* One bad job: the call fails and nothing is queued. */
    for (int i = 0; i < 3; i++) {
        job_init(&b[i]);
        snprintf(b[i].fn, sizeof(b[i].fn), "count");
    }
    b[2].fn[0] = '\0';
    ck_assert_int_eq(store_submit_many(st, b, 3, existing), -1);
    ck_assert(!existing[0] && !existing[1] && !existing[2]);
    MUST(store_counts(st, &q, NULL));
    ck_assert_int_eq(q, 0);
    MUST(store_submit_many(st, b, 2, NULL));
    MUST(store_submit_many(st, b, 0, NULL));
    MUST(store_counts(st, &q, NULL));
    ck_assert_int_eq(q, 2);
    release_all(b, 3);
    job_release(&prior);
}
END_TEST

START_TEST(test_list)
{
    enum { N = 9 };
    job a[N], out[N + 5], c[1];
    int n = -1;
    bool found;
    /* a0..a8: fns alternate count/fib; a0 succeeded, a1 running, a2 cancelled. */
    for (int i = 0; i < N; i++)
        must_submit(&a[i], i % 2 ? "fib" : "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert(complete_ok(&c[0], "0"));
    job_release(&c[0]);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    job_release(&c[0]);
    MUST(store_cancel(st, a[2].id, &out[0], &found, NULL));
    job_release(&out[0]);

    MUST(store_list(st, -1, NULL, N + 5, out, &n));
    ck_assert_int_eq(n, N);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(out[i].id, a[N - 1 - i].id); /* newest first */
    release_all(out, n);

    MUST(store_list(st, -1, NULL, 3, out, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(out[0].id, a[8].id);
    ck_assert_str_eq(out[2].id, a[6].id);
    release_all(out, n);

    MUST(store_list(st, JOB_QUEUED, NULL, N, out, &n));
    ck_assert_int_eq(n, N - 3);
    ck_assert_str_eq(out[0].id, a[8].id);
    ck_assert_str_eq(out[n - 1].id, a[3].id);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(out[i].state, JOB_QUEUED);
    release_all(out, n);

    MUST(store_list(st, JOB_RUNNING, NULL, N, out, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(out[0].id, a[1].id);
    release_all(out, n);

    MUST(store_list(st, JOB_SUCCEEDED, NULL, N, out, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(out[0].id, a[0].id);
    ck_assert_int_eq(json_integer_value(out[0].result), 0);
    release_all(out, n);

    MUST(store_list(st, JOB_CANCELLED, "count", N, out, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(out[0].id, a[2].id);
    release_all(out, n);

    MUST(store_list(st, JOB_CANCELLED, "fib", N, out, &n));
    ck_assert_int_eq(n, 0);
    MUST(store_list(st, JOB_FAILED, NULL, N, out, &n));
    ck_assert_int_eq(n, 0);

    MUST(store_list(st, -1, "fib", N, out, &n));
    ck_assert_int_eq(n, 4);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(out[i].fn, "fib");
    ck_assert_str_eq(out[0].id, a[7].id);
    release_all(out, n);

    MUST(store_list(st, JOB_QUEUED, "fib", 2, out, &n));
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(out[0].id, a[7].id);
    ck_assert_str_eq(out[1].id, a[5].id);
    release_all(out, n);

    MUST(store_list(st, -1, "nope", N, out, &n));
    ck_assert_int_eq(n, 0);
    MUST(store_list(st, -1, NULL, 0, out, &n));
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(store_list(st, 9, NULL, 1, out, &n), -1);
    release_all(a, N);
}
END_TEST

/* ---- store_list_page ---- */

/* What a page handed out: ids in order, and how a test's row function
 * answers (take up to take_max rows, then stop). */
typedef struct page {
    int calls;
    int take_max;
    int n;
    char ids[64][JOB_ID_LEN + 1];
    store_cursor last;
    char args[8][64];   /* text of the first rows, or "(null)" */
    char result[8][64];
    bool fields_null;   /* every row had j->args and j->result NULL */
} page;

static int page_row_fn(const store_row *r, void *arg)
{
    page *p = arg;
    p->calls++;
    if (p->n >= p->take_max)
        return STORE_ROW_STOP;
    if (p->n < 8) {
        snprintf(p->args[p->n], sizeof(p->args[0]), "%.*s", r->text.args ? (int)r->text.args_len : 6,
                 r->text.args ? r->text.args : "(null)");
        snprintf(p->result[p->n], sizeof(p->result[0]), "%.*s",
                 r->text.result ? (int)r->text.result_len : 6,
                 r->text.result ? r->text.result : "(null)");
    }
    p->fields_null = p->fields_null && !r->j->args && !r->j->result;
    snprintf(p->ids[p->n % 64], sizeof(p->ids[0]), "%s", r->j->id);
    p->last.created_at_us = r->j->created_at_us;
    snprintf(p->last.id, sizeof(p->last.id), "%s", r->j->id);
    p->n++;
    return STORE_ROW_TAKE;
}

/* One page into *p; returns *more. */
static bool must_page(const store_list_query *q, page *p, int take_max)
{
    int n = -1;
    bool more = false;
    memset(p, 0, sizeof(*p));
    p->take_max = take_max;
    p->fields_null = true;
    MUST(store_list_page(st, q, page_row_fn, p, &n, &more));
    ck_assert_int_eq(n, p->n);
    return more;
}

/* Summaries by default; args and result as the stored text when asked. */
START_TEST(test_list_page_fields)
{
    job a, b, c[1];
    page p;
    must_submit(&a, "count", FN_CPU, "{\"iterations\": 2, \"start\": 1}", 0);
    must_submit(&b, "fib", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert(complete_ok(&c[0], "[1, \"two\"]"));
    job_release(&c[0]);
    store_list_query q = {.state = -1, .limit = 10};
    ck_assert(!must_page(&q, &p, 100));
    ck_assert_int_eq(p.n, 2);
    ck_assert_str_eq(p.ids[0], b.id);
    ck_assert_str_eq(p.ids[1], a.id);
    ck_assert_str_eq(p.args[1], "(null)");
    ck_assert_str_eq(p.result[1], "(null)");
    ck_assert(p.fields_null);
    q.with_args = true;
    must_page(&q, &p, 100);
    ck_assert_str_eq(p.args[0], "{}"); /* no args: {} */
    ck_assert_str_eq(p.args[1], "{\"iterations\":2,\"start\":1}");
    ck_assert_str_eq(p.result[1], "(null)");
    ck_assert(p.fields_null);
    q.with_args = false;
    q.with_result = true;
    must_page(&q, &p, 100);
    ck_assert_str_eq(p.args[1], "(null)");
    ck_assert_str_eq(p.result[1], "[1,\"two\"]");
    ck_assert_str_eq(p.result[0], "(null)"); /* none yet */
    release_all(&a, 1);
    release_all(&b, 1);
}
END_TEST

/* The expected order: created_at, then id, descending. */
static int cmp_newest(const void *x, const void *y)
{
    const job *a = x, *b = y;
    if (a->created_at_us != b->created_at_us)
        return a->created_at_us > b->created_at_us ? -1 : 1;
    return -strcmp(a->id, b->id);
}

/* Pages of every size through a filter give every matching job once, in
 * order; more is false exactly on the last page. */
static void must_walk(const job *all, int nall, int state, const char *fn)
{
    job want[64];
    int nwant = 0;
    for (int i = 0; i < nall; i++)
        if ((state < 0 || (int)all[i].state == state) && (!fn || strcmp(all[i].fn, fn) == 0))
            want[nwant++] = all[i];
    qsort(want, (size_t)nwant, sizeof(job), cmp_newest);
    for (int limit = 1; limit <= nwant + 2; limit++) {
        store_cursor cur;
        store_list_query q = {.state = state, .fn = fn, .limit = limit};
        int seen = 0;
        page p;
        for (;;) {
            bool more = must_page(&q, &p, 1000);
            ck_assert_int_le(p.n, limit);
            for (int i = 0; i < p.n; i++, seen++) {
                ck_assert_int_lt(seen, nwant);
                ck_assert_msg(strcmp(p.ids[i], want[seen].id) == 0,
                              "state %d fn %s limit %d: job %d is %s, want %s", state,
                              fn ? fn : "any", limit, seen, p.ids[i], want[seen].id);
            }
            ck_assert_msg(more == (seen < nwant), "limit %d: more %d after %d of %d", limit, more,
                          seen, nwant);
            if (!more)
                break;
            cur = p.last;
            q.after = &cur;
        }
        ck_assert_int_eq(seen, nwant);
    }
}

START_TEST(test_list_page_cursor)
{
    enum { N = 20 };
    job all[N], c[4];
    bool found;
    /* Ten one by one, ten in one batch (one created_at: the id breaks ties). */
    for (int i = 0; i < 10; i++)
        must_submit(&all[i], i % 3 ? "fib" : "count", FN_CPU, NULL, 0);
    for (int i = 10; i < N; i++) {
        job_init(&all[i]);
        snprintf(all[i].fn, sizeof(all[i].fn), "%s", i % 3 ? "fib" : "count");
    }
    MUST(store_submit_many(st, &all[10], N - 10, NULL));
    ck_assert_int_eq(all[10].created_at_us, all[19].created_at_us);
    must_claim(FN_CPU, 0, 1, 4, c, 4); /* the four oldest run; two finish */
    ck_assert(complete_ok(&c[0], "1"));
    ck_assert(complete_ok(&c[1], "2"));
    release_all(c, 4);
    job tmp;
    MUST(store_cancel(st, all[12].id, &tmp, &found, NULL));
    job_release(&tmp);
    for (int i = 0; i < N; i++) {
        MUST(store_get(st, all[i].id, &tmp, &found));
        all[i].state = tmp.state;
        job_release(&tmp);
    }
    must_walk(all, N, -1, NULL);
    must_walk(all, N, -1, "fib");
    must_walk(all, N, JOB_QUEUED, NULL);
    must_walk(all, N, JOB_QUEUED, "count");
    must_walk(all, N, JOB_RUNNING, NULL);
    must_walk(all, N, JOB_SUCCEEDED, NULL);
    must_walk(all, N, JOB_CANCELLED, NULL);
    must_walk(all, N, JOB_FAILED, NULL);
    must_walk(all, N, -1, "nope");
    release_all(all, N);
}
END_TEST

/* A row function that stops the page (a byte cap) stops the reading: the
 * row after it is never read, and the next page starts with the refused
 * one. */
START_TEST(test_list_page_stop)
{
    job a[6];
    page p, p2;
    for (int i = 0; i < 6; i++)
        must_submit(&a[i], "count", FN_CPU, NULL, 0);
    store_list_query q = {.state = -1, .limit = 6};
    ck_assert(must_page(&q, &p, 3));
    ck_assert_int_eq(p.n, 3);
    ck_assert_int_eq(p.calls, 4); /* three taken, one refused, none read after it */
    ck_assert_str_eq(p.ids[2], a[3].id);
    q.after = &p.last;
    ck_assert(!must_page(&q, &p2, 100));
    ck_assert_int_eq(p2.n, 3);
    ck_assert_str_eq(p2.ids[0], a[2].id);
    ck_assert_str_eq(p2.ids[2], a[0].id);
    /* A limit of exactly what is left: no more. */
    q.after = NULL;
    q.limit = 6;
    ck_assert(!must_page(&q, &p, 100));
    ck_assert_int_eq(p.calls, 6);
    /* Bad queries. */
    int n;
    bool more;
    q.limit = 0;
    ck_assert_int_eq(store_list_page(st, &q, page_row_fn, &p, &n, &more), -1);
    q.limit = 1;
    store_cursor bad = {0, "not-an-id"};
    q.after = &bad;
    ck_assert_int_eq(store_list_page(st, &q, page_row_fn, &p, &n, &more), -1);
    release_all(a, 6);
}
END_TEST

/* The plan of the list's first step: jobs_created serves the ORDER BY and
 * the cursor (no sort of the table, no full scan). */
START_TEST(test_list_page_index)
{
    const int states[] = {-1, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED};
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    for (size_t i = 0; i < NELEM(states); i++) {
        char sql[1024], plan[1024] = "";
        sqlite3_stmt *q = NULL;
        snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", store_sqlite_list_keys_sql(states[i]));
        ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK, "%s: %s", sql,
                      sqlite3_errmsg(db));
        while (sqlite3_step(q) == SQLITE_ROW) {
            size_t n = strlen(plan);
            snprintf(plan + n, sizeof(plan) - n, "%s; ", (const char *)sqlite3_column_text(q, 3));
        }
        sqlite3_finalize(q);
        ck_assert_msg(strstr(plan, "SEARCH jobs USING INDEX jobs_created ((created_at,id)<(?,?))"),
                      "state %d: %s", states[i], plan);
        ck_assert_msg(!strstr(plan, "TEMP B-TREE"), "state %d sorts: %s", states[i], plan);
    }
    sqlite3_close(db);
}
END_TEST

/* The schema of version 1 (args and result mid-row, no jobs_created), as
 * crunchd wrote it before. */
static const char schema_v1[] =
    "CREATE TABLE jobs (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, fn TEXT NOT NULL,"
    " kind INTEGER NOT NULL, args TEXT NOT NULL, state INTEGER NOT NULL, result TEXT,"
    " error_code TEXT, error_message TEXT, attempts INTEGER NOT NULL, retries INTEGER NOT NULL,"
    " timeout_ms INTEGER NOT NULL, callback TEXT, idem_key TEXT, worker_pid INTEGER,"
    " owner_slot INTEGER, owner_inc INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, deadline_at INTEGER,"
    " run_us INTEGER, cpu_us INTEGER) STRICT;"
    "CREATE INDEX jobs_queue ON jobs (kind, state) WHERE state = 0;"
    "CREATE INDEX jobs_running ON jobs (owner_slot, state) WHERE state = 1;"
    "CREATE UNIQUE INDEX jobs_idem ON jobs (idem_key) WHERE idem_key IS NOT NULL;"
    "CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;"
    "INSERT INTO jobs (seq, id, fn, kind, args, state, attempts, retries, timeout_ms,"
    " idem_key, created_at) VALUES (7, '00000000000000000000000000000aaa', 'count', 0,"
    " '{\"iterations\":3}', 0, 0, 1, 1000, 'old-key', 1000);"
    "INSERT INTO jobs (seq, id, fn, kind, args, state, result, attempts, retries, timeout_ms,"
    " created_at, started_at, finished_at, run_us, cpu_us) VALUES (9,"
    " '00000000000000000000000000000bbb', 'fib', 0, '{\"n\":5}', 2, '5', 1, 0, 1000, 2000,"
    " 2100, 2200, 12, 10);"
    "PRAGMA user_version = 1;";

/* One column of the first row of sql on db, as text (static). */
static const char *sql_text1(sqlite3 *db, const char *sql)
{
    static char out[256];
    sqlite3_stmt *q = NULL;
    out[0] = '\0';
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
        snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return out;
}

/* A version 1 file is migrated on open: same jobs (seq, key, args, result),
 * args and result the last columns, jobs_created, version 2. */
START_TEST(test_migrate_v1)
{
    char p[256];
    job j, c[1];
    bool found = false, existing = false;
    snprintf(p, sizeof(p), "%s/v1.db", tmpdir);
    raw_db(p, schema_v1);
    store *old = st;
    st = must_open(p);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
    ck_assert_str_eq(sql_text1(db, "PRAGMA user_version"), "2");
    ck_assert_str_eq(sql_text1(db, "SELECT group_concat(name, ',') FROM"
                                   " (SELECT name FROM pragma_table_info('jobs') ORDER BY cid DESC"
                                   " LIMIT 2)"),
                     "result,args");
    ck_assert_str_eq(sql_text1(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'jobs_created'"),
                     "1");
    ck_assert_str_eq(sql_text1(db, "SELECT group_concat(seq, ',') FROM jobs"), "7,9");
    sqlite3_close(db);
    MUST(store_get(st, "00000000000000000000000000000bbb", &j, &found));
    ck_assert(found);
    ck_assert_int_eq(j.state, JOB_SUCCEEDED);
    ck_assert_int_eq(json_integer_value(j.result), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(j.args, "n")), 5);
    ck_assert_int_eq(j.run_us, 12);
    job_release(&j);
    /* The idempotency key and the queue still work. */
    job_init(&j);
    snprintf(j.fn, sizeof(j.fn), "count");
    snprintf(j.idem_key, sizeof(j.idem_key), "old-key");
    MUST(store_submit(st, &j, &existing));
    ck_assert(existing);
    ck_assert_str_eq(j.id, "00000000000000000000000000000aaa");
    job_release(&j);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert_str_eq(c[0].id, "00000000000000000000000000000aaa");
    ck_assert_int_eq(json_integer_value(json_object_get(c[0].args, "iterations")), 3);
    job_release(&c[0]);
    store_close(st);
    st = old;
}
END_TEST

START_TEST(test_counts)
{
    job a[5], c[2];
    int64_t q = -1, r = -1;
    MUST(store_counts(st, &q, &r));
    ck_assert(q == 0 && r == 0);
    for (int i = 0; i < 5; i++)
        must_submit(&a[i], "count", i < 4 ? FN_CPU : FN_IO, NULL, 0);
    must_claim(FN_CPU, 0, 1, 2, c, 2);
    MUST(store_counts(st, &q, &r));
    ck_assert_int_eq(q, 3);
    ck_assert_int_eq(r, 2);
    ck_assert(complete_ok(&c[0], "1"));
    MUST(store_counts(st, &q, NULL));
    MUST(store_counts(st, NULL, &r));
    ck_assert_int_eq(q, 3);
    ck_assert_int_eq(r, 1);
    release_all(c, 2);
    release_all(a, 5);
}
END_TEST

/* A result of every JSON type survives the round trip. */
START_TEST(test_result_types)
{
    static const char *const results[] = {
        "null",
        "true",
        "0",
        "-9223372036854775807",
        "1.5e300",
        "\"\"",
        "\"a\\u0000b\"",
        "[]",
        "{\"deep\": [[[[{\"x\": \"\\ud83d\\ude00\"}]]]]}",
    };
    for (size_t i = 0; i < NELEM(results); i++) {
        job a, c[1], b;
        must_submit(&a, "count", FN_CPU, NULL, 0);
        must_claim(FN_CPU, 0, 1, 1, c, 1);
        ck_assert(complete_ok(&c[0], results[i]));
        must_get(a.id, &b);
        json_t *want = must_parse(results[i]);
        ck_assert_ptr_nonnull(b.result);
        ck_assert_msg(json_equal(b.result, want), "result %s changed", results[i]);
        json_decref(want);
        char *text = job_dumps(&b, NULL);
        ck_assert_ptr_nonnull(text);
        free(text);
        job_release(&a);
        job_release(&b);
        job_release(&c[0]);
    }
}
END_TEST

/* ====================================================================== */
/* store: store_write, several parts in one transaction                   */
/* ====================================================================== */

/* A job to submit (not submitted): fn/kind, optional idempotency key. */
static void new_job(job *j, const char *fn, fn_kind kind, const char *idem)
{
    job_init(j);
    snprintf(j->fn, sizeof(j->fn), "%s", fn);
    j->kind = kind;
    j->timeout_ms = 1000;
    if (idem)
        snprintf(j->idem_key, sizeof(j->idem_key), "%s", idem);
}

/* Inserts a queued job whose args column is not JSON, behind the store's
 * back: reading it back (the claim's RETURNING) fails. Returns its id in id. */
static void corrupt_queued(fn_kind kind, char id[JOB_ID_LEN + 1])
{
    char sql[512];
    sqlite3 *db = NULL;
    ck_assert_int_eq(job_new_id(id), 0);
    snprintf(sql, sizeof(sql),
             "INSERT INTO jobs (id, fn, kind, args, state, attempts, retries, timeout_ms,"
             " created_at) VALUES ('%s', 'sleep', %d, 'not json', 0, 0, 0, 0, 1)",
             id, (int)kind);
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

static bool job_exists(const char *id)
{
    job j;
    bool found = true;
    MUST(store_get(st, id, &j, &found));
    job_release(&j);
    return found;
}

/* Submitting into an empty queue with free lanes gives the worker its own
 * jobs back, in submission order, from the one transaction. */
START_TEST(test_write_claims_own_submits)
{
    job s[3], c[5], b;
    bool existing[3] = {true, true, true};
    int64_t q = -1, r = -1;
    for (int i = 0; i < 3; i++)
        new_job(&s[i], "count", FN_CPU, NULL);
    store_batch wb = {
        .submit = s, .nsubmit = 3, .existing = existing, .slot = 2, .incarnation = 9, .pid = 4242};
    wb.claim_max[FN_CPU] = 5;
    wb.claimed[FN_CPU] = c;
    MUST(store_write(st, &wb));
    ck_assert(!existing[0] && !existing[1] && !existing[2]);
    ck_assert_int_eq(wb.nclaimed[FN_CPU], 3);
    ck_assert_int_eq(wb.nclaimed[FN_IO], 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(c[i].id, s[i].id);
        ck_assert_int_eq(c[i].state, JOB_RUNNING);
        ck_assert_int_eq(c[i].owner_slot, 2);
        ck_assert_uint_eq(c[i].owner_incarnation, 9);
        ck_assert_int_eq(c[i].worker_pid, 4242);
        ck_assert_int_eq(c[i].attempts, 1);
        ck_assert(c[i].started_at_us >= s[i].created_at_us);
        ck_assert(c[i].deadline_us == c[i].started_at_us + 1000 * 1000);
        must_get(s[i].id, &b);
        ck_assert_int_eq(b.state, JOB_RUNNING);
        ck_assert_int_eq(b.owner_slot, 2);
        ck_assert_uint_eq(b.owner_incarnation, 9);
        ck_assert_int_eq(b.attempts, 1);
        job_release(&b);
    }
    MUST(store_counts(st, &q, &r));
    ck_assert(q == 0 && r == 3);
    release_all(c, 3);
    release_all(s, 3);
}
END_TEST

/* A claim in a batch still takes the oldest queued jobs first. */
START_TEST(test_write_claim_fifo_older_first)
{
    job old[2], s[2], c[3];
    must_submit(&old[0], "count", FN_CPU, NULL, 0);
    must_submit(&old[1], "count", FN_CPU, NULL, 0);
    new_job(&s[0], "count", FN_CPU, NULL);
    new_job(&s[1], "count", FN_CPU, NULL);
    store_batch wb = {.submit = s, .nsubmit = 2, .slot = 0, .incarnation = 1, .pid = 1};
    wb.claim_max[FN_CPU] = 3;
    wb.claimed[FN_CPU] = c;
    MUST(store_write(st, &wb));
    ck_assert_int_eq(wb.nclaimed[FN_CPU], 3);
    ck_assert_str_eq(c[0].id, old[0].id);
    ck_assert_str_eq(c[1].id, old[1].id);
    ck_assert_str_eq(c[2].id, s[0].id);
    ck_assert_int_eq(state_of(s[1].id), JOB_QUEUED);
    release_all(c, 3);
    release_all(s, 2);
    release_all(old, 2);
}
END_TEST

/* Completion, submission and claim in one call: all three take effect. */
START_TEST(test_write_complete_submit_claim)
{
    job a, done, s, c[2], b;
    bool applied = false, existing = true;
    must_submit(&a, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, &done, 1);
    done.state = JOB_SUCCEEDED;
    json_decref(done.result);
    done.result = json_integer(42);
    new_job(&s, "fib", FN_CPU, NULL);
    store_batch wb = {.slot = 0, .incarnation = 1, .pid = 1000};
    wb.submit = &s;
    wb.nsubmit = 1;
    wb.existing = &existing;
    wb.complete = &done;
    wb.ncomplete = 1;
    wb.applied = &applied;
    wb.claim_max[FN_CPU] = 2;
    wb.claimed[FN_CPU] = c;
    MUST(store_write(st, &wb));
    ck_assert(applied);
    ck_assert(!existing);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_SUCCEEDED);
    ck_assert_int_eq(json_integer_value(b.result), 42);
    ck_assert(b.finished_at_us > 0);
    job_release(&b);
    /* The completed job is not running any more, so only the new one. */
    ck_assert_int_eq(wb.nclaimed[FN_CPU], 1);
    ck_assert_str_eq(c[0].id, s.id);
    ck_assert_int_eq(state_of(s.id), JOB_RUNNING);
    release_all(c, 1);
    job_release(&s);
    job_release(&done);
    job_release(&a);
}
END_TEST

/* Claims are per kind: a worker with only cpu lanes free leaves io alone. */
START_TEST(test_write_claim_per_kind)
{
    job s[2], cpu[4], io[4];
    new_job(&s[0], "count", FN_CPU, NULL);
    new_job(&s[1], "sleep", FN_IO, NULL);
    store_batch wb = {.submit = s, .nsubmit = 2, .slot = 0, .incarnation = 1, .pid = 1};
    wb.claim_max[FN_CPU] = 4;
    wb.claimed[FN_CPU] = cpu;
    MUST(store_write(st, &wb));
    ck_assert_int_eq(wb.nclaimed[FN_CPU], 1);
    ck_assert_int_eq(wb.nclaimed[FN_IO], 0);
    ck_assert_str_eq(cpu[0].id, s[0].id);
    ck_assert_int_eq(state_of(s[1].id), JOB_QUEUED);
    release_all(cpu, 1);
    char io0[JOB_ID_LEN + 1];
    snprintf(io0, sizeof(io0), "%s", s[1].id);
    release_all(s, 2);

    /* Both kinds at once: each claim gets its own kind, FIFO. */
    new_job(&s[0], "count", FN_CPU, NULL);
    new_job(&s[1], "sleep", FN_IO, NULL);
    store_batch wb2 = {.submit = s, .nsubmit = 2, .slot = 0, .incarnation = 1, .pid = 1};
    wb2.claim_max[FN_CPU] = 4;
    wb2.claimed[FN_CPU] = cpu;
    wb2.claim_max[FN_IO] = 4;
    wb2.claimed[FN_IO] = io;
    MUST(store_write(st, &wb2));
    ck_assert_int_eq(wb2.nclaimed[FN_CPU], 1);
    ck_assert_str_eq(cpu[0].id, s[0].id);
    ck_assert_int_eq(cpu[0].kind, FN_CPU);
    ck_assert_int_eq(wb2.nclaimed[FN_IO], 2);
    ck_assert_str_eq(io[0].id, io0);
    ck_assert_str_eq(io[1].id, s[1].id);
    ck_assert_int_eq(io[1].kind, FN_IO);
    release_all(cpu, 1);
    release_all(io, 2);
    release_all(s, 2);
}
END_TEST

/* Sets up a batch over a running job (completed as succeeded), two fresh
 * submissions and cpu and io claims; the caller breaks one part. */
typedef struct aon {
    job running, done, s[2], cpu[4], io[4];
    bool applied, existing[2];
    store_batch wb;
} aon;

static void aon_setup(aon *t)
{
    must_submit(&t->running, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, &t->done, 1);
    t->done.state = JOB_SUCCEEDED;
    new_job(&t->s[0], "count", FN_CPU, NULL);
    new_job(&t->s[1], "sleep", FN_IO, NULL);
    t->applied = true;
    t->existing[0] = t->existing[1] = true;
    store_batch wb = {.slot = 0, .incarnation = 1, .pid = 1};
    wb.submit = t->s;
    wb.nsubmit = 2;
    wb.existing = t->existing;
    wb.complete = &t->done;
    wb.ncomplete = 1;
    wb.applied = &t->applied;
    wb.claim_max[FN_CPU] = 4;
    wb.claimed[FN_CPU] = t->cpu;
    wb.claim_max[FN_IO] = 4;
    wb.claimed[FN_IO] = t->io;
    t->wb = wb;
}

/* The batch failed: no part of it shows, in the store or in its outputs.
 * The first nfresh submissions must not exist. */
static void aon_check(aon *t, int nfresh, int64_t want_queued)
{
    int64_t q = -1, r = -1;
    ck_assert(!t->applied && !t->existing[0] && !t->existing[1]);
    ck_assert_int_eq(t->wb.nclaimed[FN_CPU], 0);
    ck_assert_int_eq(t->wb.nclaimed[FN_IO], 0);
    ck_assert_int_eq(state_of(t->running.id), JOB_RUNNING);
    for (int i = 0; i < nfresh; i++)
        ck_assert_msg(!job_exists(t->s[i].id), "submission %d was kept", i);
    MUST(store_counts(st, &q, &r));
    ck_assert_int_eq(q, want_queued);
    ck_assert_int_eq(r, 1);
    job_release(&t->done);
    release_all(t->s, 2);
    job_release(&t->running);
}

/* All or nothing, whichever part fails and wherever: in the argument checks,
 * or in the backend after the earlier statements of the batch ran. */
START_TEST(test_write_all_or_nothing)
{
    aon t;
    /* A non-final completion: refused by the checks before any SQL. */
    aon_setup(&t);
    t.done.state = JOB_RUNNING;
    ck_assert_int_eq(store_write(st, &t.wb), -1);
    ck_assert_msg(strstr(store_errmsg(st), "not final") != NULL, "%s", store_errmsg(st));
    aon_check(&t, 2, 0);
    MUST(store_reap_all(st, NULL, NULL, NULL, NULL));

    /* The second submission reuses the id of a stored job: its INSERT fails
     * after the completion and the first INSERT ran. */
    job other; /* io: the cpu claim of aon_setup() leaves it alone */
    must_submit(&other, "sleep", FN_IO, NULL, 0);
    aon_setup(&t);
    snprintf(t.s[1].id, sizeof(t.s[1].id), "%s", other.id);
    ck_assert_int_eq(store_write(st, &t.wb), -1);
    ck_assert_msg(strstr(store_errmsg(st), "UNIQUE") != NULL, "%s", store_errmsg(st));
    aon_check(&t, 1, 1); /* other stays queued */
    ck_assert_int_eq(state_of(other.id), JOB_QUEUED);
    MUST(store_reap_all(st, NULL, NULL, NULL, NULL));

    /* The io claim fails on a row it cannot read, after everything else,
     * the cpu claim included, ran: that claim is undone too. */
    char bad[JOB_ID_LEN + 1];
    corrupt_queued(FN_IO, bad);
    aon_setup(&t);
    ck_assert_int_eq(store_write(st, &t.wb), -1);
    ck_assert_msg(strstr(store_errmsg(st), "not JSON") != NULL, "%s", store_errmsg(st));
    aon_check(&t, 2, 2); /* other and bad stay queued */
    ck_assert_int_eq(state_of(other.id), JOB_QUEUED);
    job_release(&other);
}
END_TEST

/* A lone claim runs without BEGIN (one statement, autocommit); failing on a
 * row it cannot read, it must change nothing all the same. */
START_TEST(test_claim_alone_failure_changes_nothing)
{
    job good, c[4];
    int n = -1;
    char bad[JOB_ID_LEN + 1];
    must_submit(&good, "sleep", FN_IO, NULL, 0);
    corrupt_queued(FN_IO, bad);
    ck_assert_int_eq(store_claim(st, FN_IO, 0, 1, 1, 4, c, &n), -1);
    ck_assert_int_eq(n, 0);
    int64_t q = -1, r = -1;
    MUST(store_counts(st, &q, &r));
    ck_assert_msg(q == 2 && r == 0, "after a failed claim: %lld queued, %lld running", (long long)q,
                  (long long)r);
    ck_assert_int_eq(state_of(good.id), JOB_QUEUED);
    job_release(&good);
}
END_TEST

/* An Idempotency-Key hit returns the stored job and is not a new queued job
 * for the claim of the same batch. */
START_TEST(test_write_idempotent_not_claimed)
{
    job prior, pc, s[3], c[8], b;
    bool existing[3] = {false, true, false};
    must_submit_on(st, &prior, "count", FN_CPU, NULL, 0, "k1");
    must_claim(FN_CPU, 0, 1, 1, &pc, 1);   /* prior is running on slot 0 */
    new_job(&s[0], "count", FN_CPU, "k1"); /* hits prior */
    new_job(&s[1], "count", FN_CPU, "k2"); /* new */
    new_job(&s[2], "count", FN_CPU, "k2"); /* hits s[1] in the same batch */
    store_batch wb = {
        .submit = s, .nsubmit = 3, .existing = existing, .slot = 5, .incarnation = 2, .pid = 55};
    wb.claim_max[FN_CPU] = 8;
    wb.claimed[FN_CPU] = c;
    MUST(store_write(st, &wb));
    ck_assert(existing[0] && !existing[1] && existing[2]);
    ck_assert_str_eq(s[0].id, prior.id);
    ck_assert_int_eq(s[0].state, JOB_RUNNING);
    ck_assert_str_eq(s[2].id, s[1].id);
    /* One new job, claimed once; it and the hit on it (read before the
     * claim ran) both come back as committed: running on slot 5. */
    ck_assert_int_eq(wb.nclaimed[FN_CPU], 1);
    ck_assert_str_eq(c[0].id, s[1].id);
    for (int i = 1; i <= 2; i++) {
        ck_assert_int_eq(s[i].state, JOB_RUNNING);
        ck_assert_int_eq(s[i].owner_slot, 5);
        ck_assert_int_eq(s[i].attempts, 1);
        ck_assert_int_eq(s[i].worker_pid, 55);
    }
    /* prior still belongs to its first claimer. */
    must_get(prior.id, &b);
    ck_assert_int_eq(b.state, JOB_RUNNING);
    ck_assert_int_eq(b.owner_slot, 0);
    ck_assert_int_eq(b.attempts, 1);
    job_release(&b);
    int64_t q = -1, r = -1;
    MUST(store_counts(st, &q, &r));
    ck_assert(q == 0 && r == 2);
    release_all(c, 1);
    release_all(s, 3);
    job_release(&pc);
    job_release(&prior);
}
END_TEST

/* ====================================================================== */
/* store: the write gate                                                  */
/* ====================================================================== */

/* A robust, process-shared mutex of type in shared memory, as shm.c makes. */
static pthread_mutex_t *gate_new(int type)
{
    pthread_mutexattr_t a;
    pthread_mutex_t *m =
        mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(m != MAP_FAILED);
    ck_assert_int_eq(pthread_mutexattr_init(&a), 0);
    ck_assert_int_eq(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED), 0);
    ck_assert_int_eq(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), 0);
    ck_assert_int_eq(pthread_mutexattr_settype(&a, type), 0);
    ck_assert_int_eq(pthread_mutex_init(m, &a), 0);
    pthread_mutexattr_destroy(&a);
    return m;
}

static void gate_free(pthread_mutex_t *m)
{
    pthread_mutex_destroy(m);
    munmap(m, sizeof(*m));
}

/* The gate is free (and consistent): every write released it. */
static void gate_is_free(pthread_mutex_t *m, const char *after)
{
    int rc = pthread_mutex_trylock(m);
    ck_assert_msg(rc == 0, "gate after %s: trylock: %s", after, strerror(rc));
    pthread_mutex_unlock(m);
}

START_TEST(test_gate_released)
{
    pthread_mutex_t *m = gate_new(PTHREAD_MUTEX_NORMAL);
    job a, b, c[1], out;
    bool found;
    int n;
    store_set_gate(st, m);
    must_submit(&a, "count", FN_CPU, NULL, 0);
    gate_is_free(m, "submit");
    must_submit(&b, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    gate_is_free(m, "claim");
    ck_assert(complete_ok(&c[0], "1"));
    gate_is_free(m, "complete");
    MUST(store_cancel(st, b.id, &out, &found, NULL));
    job_release(&out);
    gate_is_free(m, "cancel");
    MUST(store_reap_all(st, NULL, NULL, NULL, NULL));
    gate_is_free(m, "reap");
    MUST(store_purge(st, job_now_us() + 10000000, 1, &n));
    ck_assert_int_eq(n, 2);
    gate_is_free(m, "purge");
    /* A write that fails in the backend releases it too. */
    job dup;
    new_job(&dup, "count", FN_CPU, NULL);
    job_release(&a);
    must_submit(&a, "count", FN_CPU, NULL, 0);
    snprintf(dup.id, sizeof(dup.id), "%s", a.id);
    ck_assert_int_eq(store_submit(st, &dup, NULL), -1);
    gate_is_free(m, "a failed submit");

    /* A holder that died: the next write takes the gate over. */
    pid_t kid = fork();
    ck_assert(kid >= 0);
    if (kid == 0)
        _exit(pthread_mutex_lock(m) == 0 ? 0 : 1); /* exits holding it */
    int status;
    ck_assert(waitpid(kid, &status, 0) == kid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int64_t t0 = job_now_us();
    job_release(&b);
    must_submit(&b, "count", FN_CPU, NULL, 0);
    ck_assert_msg(job_now_us() - t0 < 1000000, "waited for a dead holder");
    gate_is_free(m, "the holder died");
    ck_assert_int_eq(state_of(b.id), JOB_QUEUED);
    store_set_gate(st, NULL);
    gate_free(m);
    job_release(&a);
    job_release(&b);
    job_release(&c[0]);
    job_release(&dup);
}
END_TEST

/* Writes fail when the gate cannot be taken (an error-checking mutex this
 * thread holds: EDEADLK at once, not the 5 s timeout); reads go on. */
START_TEST(test_gate_held)
{
    pthread_mutex_t *m = gate_new(PTHREAD_MUTEX_ERRORCHECK);
    job a, b, c[1];
    int n = -1;
    int64_t q = -1;
    must_submit(&a, "count", FN_CPU, NULL, 0);
    store_set_gate(st, m);
    ck_assert_int_eq(pthread_mutex_lock(m), 0);
    new_job(&b, "count", FN_CPU, NULL);
    ck_assert_int_eq(store_submit(st, &b, NULL), -1);
    ck_assert_msg(strncmp(store_errmsg(st), "write gate: ", 12) == 0, "%s", store_errmsg(st));
    ck_assert_int_eq(store_claim(st, FN_CPU, 0, 1, 1, 1, c, &n), -1);
    ck_assert_int_eq(n, 0);
    MUST(store_counts(st, &q, NULL));
    ck_assert_int_eq(q, 1);
    ck_assert_int_eq(state_of(a.id), JOB_QUEUED);
    ck_assert_int_eq(pthread_mutex_unlock(m), 0);
    MUST(store_submit(st, &b, NULL));
    gate_is_free(m, "submit");
    store_set_gate(st, NULL);
    gate_free(m);
    job_release(&a);
    job_release(&b);
}
END_TEST

/* ====================================================================== */
/* store: the WAL stays bounded                                           */
/* ====================================================================== */

#define CHECKPOINT_PAGES 4000 /* as in store_sqlite.c */

/* The -wal file's size and its checkpoint sequence number (header bytes
 * 12..15, big-endian): SQLite adds one each time it starts the WAL over. */
static void wal_info(off_t *size, uint32_t *restarts)
{
    char p[160];
    unsigned char h[16];
    struct stat sb;
    snprintf(p, sizeof(p), "%s-wal", dbpath);
    ck_assert_msg(stat(p, &sb) == 0, "stat %s: %s", p, strerror(errno));
    *size = sb.st_size;
    int fd = open(p, O_RDONLY);
    ck_assert(fd >= 0);
    ck_assert_int_eq(read(fd, h, sizeof(h)), (ssize_t)sizeof(h));
    close(fd);
    *restarts = (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | h[15];
}

/*
 * Steady load, one worker completing, submitting and claiming in each
 * write: past CHECKPOINT_PAGES frames the WAL is checkpointed and started
 * over, so its file stays near that size (~16.5 MB) instead of holding
 * every frame written (600 MB in 8 s of a benchmark before). Rows of ~3 KB
 * (one per page) make each write ~22 frames: 700 writes put ~15000 frames
 * (62 MB) through the WAL in under a second, ~10 s under valgrind.
 */
START_TEST(test_wal_bounded)
{
    enum { K = 8, PAD = 3000, CYCLES = 700 };
    job s[K], runs[2][K];
    int nrun = 0;
    off_t size0, size;
    uint32_t r0, restarts;
    int64_t grow = 0; /* WAL bytes per write, measured before the first checkpoint */
    char *pad = malloc(PAD + 1);
    memset(pad, 'x', PAD);
    pad[PAD] = '\0';
    wal_info(&size0, &r0);
    for (int n = 0; n < CYCLES; n++) {
        job *done = runs[n % 2], *c = runs[(n + 1) % 2];
        for (int i = 0; i < K; i++) {
            new_job(&s[i], "count", FN_CPU, NULL);
            s[i].args = json_pack("{ss}", "pad", pad);
        }
        for (int i = 0; i < nrun; i++)
            done[i].state = JOB_SUCCEEDED;
        store_batch wb = {.slot = 0, .incarnation = 1, .pid = 1};
        wb.submit = s;
        wb.nsubmit = K;
        wb.complete = done;
        wb.ncomplete = nrun;
        wb.claim_max[FN_CPU] = K;
        wb.claimed[FN_CPU] = c;
        MUST(store_write(st, &wb));
        release_all(done, nrun);
        release_all(s, K);
        nrun = wb.nclaimed[FN_CPU];
        ck_assert_int_eq(nrun, K);
        if (n == 19) {
            wal_info(&size, &restarts);
            ck_assert_uint_eq(restarts, r0);
            grow = (size - size0) / 20;
        }
    }
    release_all(runs[CYCLES % 2], nrun);
    free(pad);
    wal_info(&size, &restarts);
    /* Later writes touch no fewer pages than the first ones: without
     * restarts the file would hold at least grow * CYCLES bytes. */
    ck_assert_msg(grow * CYCLES > 5 * CHECKPOINT_PAGES * 4096LL / 2,
                  "only %lld bytes written: the test no longer fills the WAL",
                  (long long)(grow * CYCLES));
    ck_assert_msg(restarts >= r0 + 2, "the WAL was started over %u times", restarts - r0);
    ck_assert_msg(3 * size < grow * CYCLES && size < 20 * 1024 * 1024,
                  "WAL is %lld bytes after %lld written", (long long)size,
                  (long long)(grow * CYCLES));
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tj = tcase_create("job");
    tcase_add_test(tj, test_job_init_release);
    tcase_add_test(tj, test_job_states);
    tcase_add_test(tj, test_job_ids);
    tcase_add_test(tj, test_job_id_valid);
    tcase_add_test(tj, test_job_format_time);
    tcase_add_test(tj, test_job_json_queued);
    tcase_add_test(tj, test_job_json_final);
    tcase_add_test(tj, test_job_dumps);
    tcase_add_test(tj, test_job_dumps_view);
    tcase_add_test(tj, test_job_set_error_utf8);
    suite_add_tcase(s, tj);

    TCase *ts = tcase_create("store");
    tcase_add_checked_fixture(ts, setup, teardown);
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_open_missing_dir);
    tcase_add_test(ts, test_open_other_kinds);
    tcase_add_test(ts, test_open_newer_schema);
    tcase_add_test(ts, test_open_foreign_db);
    tcase_add_test(ts, test_check);
    tcase_add_test(ts, test_open_wal_and_version);
    tcase_add_test(ts, test_reopen_keeps_jobs);
    tcase_add_test(ts, test_open_concurrent_fresh);
    tcase_add_test(ts, test_busy);
    tcase_add_test(ts, test_submit_get);
    tcase_add_test(ts, test_get_unknown);
    tcase_add_test(ts, test_submit_bad);
    tcase_add_test(ts, test_lifecycle_succeeded);
    tcase_add_test(ts, test_lifecycle_failed);
    tcase_add_test(ts, test_complete_checks);
    tcase_add_test(ts, test_complete_requeue);
    tcase_add_test(ts, test_cancel_queued);
    tcase_add_test(ts, test_cancel_running);
    tcase_add_test(ts, test_cancel_final_unchanged);
    tcase_add_test(ts, test_abort_then_late_complete);
    tcase_add_test(ts, test_abort_cancelled);
    tcase_add_test(ts, test_claim_fifo_kind_max);
    tcase_add_test(ts, test_claim_large_batch);
    tcase_add_test(ts, test_complete_many);
    tcase_add_test(ts, test_concurrent_claims);
    tcase_add_test(ts, test_concurrent_submit_and_claim);
    tcase_add_test(ts, test_reap_retries);
    tcase_add_test(ts, test_reap_only_dead_slot);
    tcase_add_test(ts, test_reap_pending_cancel);
    tcase_add_test(ts, test_reap_all);
    tcase_add_test(ts, test_purge_ttl);
    tcase_add_test(ts, test_purge_batches);
    tcase_add_test(ts, test_idempotency);
    tcase_add_test(ts, test_submit_many);
    tcase_add_test(ts, test_job_same_request);
    tcase_add_test(ts, test_list);
    tcase_add_test(ts, test_list_page_fields);
    tcase_add_test(ts, test_list_page_cursor);
    tcase_add_test(ts, test_list_page_stop);
    tcase_add_test(ts, test_list_page_index);
    tcase_add_test(ts, test_migrate_v1);
    tcase_add_test(ts, test_counts);
    tcase_add_test(ts, test_result_types);
    tcase_add_test(ts, test_write_claims_own_submits);
    tcase_add_test(ts, test_write_claim_fifo_older_first);
    tcase_add_test(ts, test_write_complete_submit_claim);
    tcase_add_test(ts, test_write_claim_per_kind);
    tcase_add_test(ts, test_write_all_or_nothing);
    tcase_add_test(ts, test_claim_alone_failure_changes_nothing);
    tcase_add_test(ts, test_write_idempotent_not_claimed);
    tcase_add_test(ts, test_gate_released);
    tcase_add_test(ts, test_gate_held);
    tcase_add_test(ts, test_wal_bounded);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
