/*
 * check_store_sqlite.c - what the SQLite backend does beyond the store
 * contract (common/store/sqlite*.c): opening files and refusing the wrong
 * ones, store_check, WAL mode and the page size, the busy handler, the
 * query plan of the list, the migrations of schema versions 1 and 2, batches that
 * fail half-way in SQL, the write gate of the shared area, and the WAL
 * checkpoints. The contract itself is check_store_contract*.c.
 */
#include "sqlite.h"
#include "store_test.h"

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

#define dbpath (store_cfg.path) /* the test's store file */

/* The config of a sqlite store at path. */
static void sqlite_cfg(config_store *cfg, const char *path)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->kind, sizeof(cfg->kind), "sqlite");
    snprintf(cfg->path, sizeof(cfg->path), "%s", path);
}

static store *must_open(const char *path)
{
    config_store cfg;
    sqlite_cfg(&cfg, path);
    return must_open_cfg(&cfg);
}

/* store_open() must fail with a message containing want. */
static void must_not_open(const char *path, const char *want)
{
    config_store cfg;
    char err[512] = "";
    sqlite_cfg(&cfg, path);
    store *s = store_open(&cfg, NULL, err, sizeof(err));
    ck_assert_msg(s == NULL, "store_open(%s) succeeded, want \"%s\"", path, want);
    ck_assert_msg(strstr(err, want) != NULL, "store_open(%s): \"%s\" lacks \"%s\"", path, err,
                  want);
}

/* ====================================================================== */
/* opening                                                                */
/* ====================================================================== */

START_TEST(test_open_missing_dir)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/no/such/dir/jobs.db", tmpdir);
    must_not_open(p, p);
    must_not_open(p, "does not exist");
}
END_TEST

/* An empty store.path is refused by name. */
START_TEST(test_open_empty_path)
{
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
    raw_db(p, "CREATE TABLE jobs (x); PRAGMA user_version = 4;");
    must_not_open(p, "schema version 4 is newer than this crunchd understands (3)");
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

/* store_check() of a sqlite store at path: 0, or -1 with a message
 * containing want. */
static void must_check(const char *path, const char *want)
{
    config_store cfg;
    char err[512] = "";
    sqlite_cfg(&cfg, path);
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
    must_check(dbpath, NULL); /* an open store */
    /* A missing last directory is created by store_prepare: fine, and not
     * created by the check; a missing one above it is not. */
    snprintf(d, sizeof(d), "%s/var", tmpdir);
    snprintf(p, sizeof(p), "%s/jobs.db", d);
    must_check(p, NULL);
    ck_assert_int_eq(stat(d, &sb), -1);
    snprintf(p, sizeof(p), "%s/no/var/jobs.db", tmpdir);
    must_check(p, "store.path");
    snprintf(p, sizeof(p), "%s/jobs.db/x.db", tmpdir); /* a file where a directory should be */
    must_check(p, "is not a directory");
    /* Files store_open refuses. */
    snprintf(p, sizeof(p), "%s/future.db", tmpdir);
    raw_db(p, "CREATE TABLE jobs (x); PRAGMA user_version = 99;");
    must_check(p, "schema version 99 is newer");
    snprintf(p, sizeof(p), "%s/other.db", tmpdir);
    raw_db(p, "CREATE TABLE customers (name TEXT);");
    must_check(p, "not a crunchd job store");
    snprintf(p, sizeof(p), "%s/garbage.db", tmpdir);
    write_repeated(p, "this is not a database at all. ", 20);
    must_check(p, "not a SQLite database");
    /* An empty file is a new database to SQLite. */
    snprintf(p, sizeof(p), "%s/empty.db", tmpdir);
    write_repeated(p, "", 0);
    must_check(p, NULL);
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
            store *s = store_open(&cfg, NULL, err, sizeof(err));
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
/* the list's query plan, schema migration                                */
/* ====================================================================== */

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

/* The query plan of sql on db, its steps joined by "; " (static). */
static const char *plan_of(sqlite3 *db, const char *sql)
{
    static char plan[1024];
    char text[1024];
    sqlite3_stmt *q = NULL;
    plan[0] = '\0';
    snprintf(text, sizeof(text), "EXPLAIN QUERY PLAN %s", sql);
    ck_assert_msg(sqlite3_prepare_v2(db, text, -1, &q, NULL) == SQLITE_OK, "%s: %s", text,
                  sqlite3_errmsg(db));
    while (sqlite3_step(q) == SQLITE_ROW) {
        size_t n = strlen(plan);
        snprintf(plan + n, sizeof(plan) - n, "%s; ", (const char *)sqlite3_column_text(q, 3));
    }
    sqlite3_finalize(q);
    return plan;
}

/* The plan of the list's first step: jobs_created serves the ORDER BY and
 * the cursor (no sort of the table, no full scan); for one owner,
 * jobs_owner does, so that a token's list costs what its own jobs do. */
START_TEST(test_list_page_index)
{
    const int states[] = {-1, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED};
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    for (size_t i = 0; i < NELEM(states); i++) {
        const char *plan = plan_of(db, store_sqlite_list_keys_sql(states[i], NULL));
        ck_assert_msg(strstr(plan, "SEARCH jobs USING INDEX jobs_created ((created_at,id)<(?,?))"),
                      "state %d: %s", states[i], plan);
        ck_assert_msg(!strstr(plan, "TEMP B-TREE"), "state %d sorts: %s", states[i], plan);
        /* Owner "" (jobs from before tokens): not in jobs_owner, the same plan. */
        plan = plan_of(db, store_sqlite_list_keys_sql(states[i], ""));
        ck_assert_msg(strstr(plan, "USING INDEX jobs_created"), "state %d, owner '': %s",
                      states[i], plan);
        plan = plan_of(db, store_sqlite_list_keys_sql(states[i], "ci"));
        ck_assert_msg(
            strstr(plan, "SEARCH jobs USING INDEX jobs_owner (owner=? AND (created_at,id)<(?,?))"),
            "state %d, an owner: %s", states[i], plan);
        ck_assert_msg(!strstr(plan, "TEMP B-TREE"), "state %d, an owner, sorts: %s", states[i],
                      plan);
    }
    sqlite3_close(db);
}
END_TEST

/* An owner's queued jobs are counted on jobs_owner_queued (its max_queued):
 * the index holds queued jobs with an owner only, and nothing else. */
START_TEST(test_owner_indexes_partial)
{
    job a, b, c[2];
    sqlite3 *db = NULL;
    new_job(&a, "count", FN_CPU, NULL);
    snprintf(a.owner, sizeof(a.owner), "ci");
    MUST(store_submit(st, &a, NULL));
    must_submit(&b, "count", FN_CPU, NULL, 0); /* no owner */
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_str_eq(sql_text1(db, "SELECT count(*) FROM jobs INDEXED BY jobs_owner_queued"
                                   " WHERE owner <> '' AND state = 0"),
                     "1");
    ck_assert_str_eq(sql_text1(db, "SELECT count(*) FROM jobs INDEXED BY jobs_owner"
                                   " WHERE owner <> ''"),
                     "1");
    must_claim(FN_CPU, 0, 1, 2, c, 2); /* claimed: no longer queued */
    ck_assert_str_eq(sql_text1(db, "SELECT count(*) FROM jobs INDEXED BY jobs_owner_queued"
                                   " WHERE owner <> '' AND state = 0"),
                     "0");
    sqlite3_close(db);
    release_all(c, 2);
    job_release(&a);
    job_release(&b);
}
END_TEST

/* Two jobs as an older crunchd wrote them (its columns, by name): a
 * queued one with a key, a succeeded one. */
#define OLD_JOBS                                                                                   \
    "INSERT INTO jobs (seq, id, fn, kind, args, state, attempts, retries, timeout_ms,"             \
    " idem_key, created_at) VALUES (7, '00000000000000000000000000000aaa', 'count', 0,"            \
    " '{\"iterations\":3}', 0, 0, 1, 1000, 'old-key', 1000);"                                      \
    "INSERT INTO jobs (seq, id, fn, kind, args, state, result, attempts, retries, timeout_ms,"     \
    " created_at, started_at, finished_at, run_us, cpu_us) VALUES (9,"                             \
    " '00000000000000000000000000000bbb', 'fib', 0, '{\"n\":5}', 2, '5', 1, 0, 1000, 2000,"        \
    " 2100, 2200, 12, 10);"

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
    OLD_JOBS
    "PRAGMA user_version = 1;";


/* The schema of version 2 (args and result last, no owner, keys unique
 * for everyone), as crunchd wrote it before, with the same two jobs. */
static const char schema_v2[] =
    "CREATE TABLE jobs (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, fn TEXT NOT NULL,"
    " kind INTEGER NOT NULL, state INTEGER NOT NULL, error_code TEXT, error_message TEXT,"
    " attempts INTEGER NOT NULL, retries INTEGER NOT NULL, timeout_ms INTEGER NOT NULL,"
    " callback TEXT, idem_key TEXT, worker_pid INTEGER, owner_slot INTEGER, owner_inc INTEGER,"
    " cancel_requested INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
    " started_at INTEGER, finished_at INTEGER, deadline_at INTEGER, run_us INTEGER,"
    " cpu_us INTEGER, args TEXT NOT NULL, result TEXT) STRICT;"
    "CREATE INDEX jobs_queue ON jobs (kind, state) WHERE state = 0;"
    "CREATE INDEX jobs_running ON jobs (owner_slot, state) WHERE state = 1;"
    "CREATE UNIQUE INDEX jobs_idem ON jobs (idem_key) WHERE idem_key IS NOT NULL;"
    "CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;"
    "CREATE INDEX jobs_created ON jobs (created_at, id);"
    OLD_JOBS
    "PRAGMA user_version = 2;";

/* A file of an older version (schema, the two jobs above) is migrated on
 * open: the same jobs (seq, key, args, result) owned by nobody, owner
 * before args and result, which stay the last columns, the indexes of
 * version 3, version 3; keys and the queue still work, keys per owner. */
static void must_migrate(const char *name, const char *schema)
{
    char p[256];
    job j, c[1];
    bool found = false, existing = false;
    snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
    raw_db(p, schema);
    store *old = st;
    st = must_open(p);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
    ck_assert_str_eq(sql_text1(db, "PRAGMA user_version"), "3");
    ck_assert_str_eq(sql_text1(db, "SELECT group_concat(name, ',') FROM"
                                   " (SELECT name FROM pragma_table_info('jobs') ORDER BY cid DESC"
                                   " LIMIT 3)"),
                     "result,args,owner");
    ck_assert_str_eq(sql_text1(db, "SELECT count(*) FROM sqlite_schema WHERE name IN"
                                   " ('jobs_created', 'jobs_owner', 'jobs_owner_queued')"),
                     "3");
    ck_assert_str_eq(sql_text1(db, "SELECT group_concat(name, ',') FROM pragma_index_info('jobs_idem')"),
                     "owner,idem_key");
    ck_assert_str_eq(sql_text1(db, "SELECT group_concat(seq, ',') FROM jobs"), "7,9");
    ck_assert_str_eq(sql_text1(db, "SELECT count(*) FROM jobs WHERE owner = ''"), "2");
    sqlite3_close(db);
    MUST(store_get(st, "00000000000000000000000000000bbb", &j, &found));
    ck_assert(found);
    ck_assert_int_eq(j.state, JOB_SUCCEEDED);
    ck_assert_int_eq(json_integer_value(j.result), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(j.args, "n")), 5);
    ck_assert_int_eq(j.run_us, 12);
    ck_assert_str_eq(j.owner, "");
    job_release(&j);
    /* The idempotency key still finds its job for nobody, not for an owner. */
    new_job(&j, "count", FN_CPU, "old-key");
    MUST(store_submit(st, &j, &existing));
    ck_assert(existing);
    ck_assert_str_eq(j.id, "00000000000000000000000000000aaa");
    job_release(&j);
    new_job(&j, "count", FN_CPU, "old-key");
    snprintf(j.owner, sizeof(j.owner), "ci");
    MUST(store_submit(st, &j, &existing));
    ck_assert(!existing);
    ck_assert_str_ne(j.id, "00000000000000000000000000000aaa");
    job_release(&j);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert_str_eq(c[0].id, "00000000000000000000000000000aaa");
    ck_assert_int_eq(json_integer_value(json_object_get(c[0].args, "iterations")), 3);
    job_release(&c[0]);
    store_close(st);
    st = old;
}

START_TEST(test_migrate_v1)
{
    must_migrate("v1.db", schema_v1);
}
END_TEST

START_TEST(test_migrate_v2)
{
    must_migrate("v2.db", schema_v2);
}
END_TEST

/* ====================================================================== */
/* batches that fail half-way                                             */
/* ====================================================================== */

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

/* Where SQLite fails a batch half-way, nothing of it shows either: an
 * INSERT that breaks the UNIQUE id after the completion and the first
 * INSERT ran, and a claim that fails on a row it cannot read after
 * everything else, the other claim included, ran: that claim is undone too. */
START_TEST(test_write_all_or_nothing_sql)
{
    aon t;
    job other; /* io: the cpu claim of aon_setup() leaves it alone */
    char bad[JOB_ID_LEN + 1];
    must_submit(&other, "sleep", FN_IO, NULL, 0);
    const char *msg = aon_dup_id(&other);
    ck_assert_msg(strstr(msg, "UNIQUE") != NULL, "%s", msg);
    MUST(store_reap_all(st, NULL, NULL, NULL, NULL));

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

/* ====================================================================== */
/* store: the write gate                                                  */
/* ====================================================================== */

/* A robust, process-shared mutex of type in shared memory, as sqlite_gate.c makes. */
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

/* The shared area as the master sets it up: store_shared_init() puts the
 * gate there, and a store opened with it takes the gate around every write
 * and gives it back, after a failed write too; a holder that died is taken
 * over (trylock would report EOWNERDEAD if the store had not taken it). */
START_TEST(test_gate_released)
{
    char err[256] = "";
    store_sqlite_shared *area =
        mmap(NULL, STORE_SHARED_MAX, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(area != MAP_FAILED);
    ck_assert_msg(store_shared_init(&store_cfg, area, err, sizeof(err)) == 0, "%s", err);
    pthread_mutex_t *m = &area->gate;
    job a, b, c[1], out;
    bool found;
    int n;
    store_close(st);
    st = store_open(&store_cfg, area, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
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
    store_close(st);
    st = NULL;
    munmap(area, STORE_SHARED_MAX);
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
    store_sqlite_opts o = {.gate = m};
    char err[512] = "";
    job a, b, c[1];
    int n = -1;
    int64_t q = -1;
    must_submit(&a, "count", FN_CPU, NULL, 0);
    store_close(st);
    st = store_sqlite_open(dbpath, &o, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
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
    store_close(st);
    st = NULL;
    gate_free(m);
    job_release(&a);
    job_release(&b);
}
END_TEST

/* ====================================================================== */
/* store: the WAL stays bounded                                           */
/* ====================================================================== */

#define CHECKPOINT_PAGES 4000 /* as in sqlite_gate.c */

/* The -wal file's size and its checkpoint sequence number (header bytes
 * 12..15, big-endian): SQLite adds one each time it starts the WAL over. */
static void wal_info(off_t *size, uint32_t *restarts)
{
    char p[CONFIG_PATH + 8];
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

static Suite *sqlite_suite(void)
{
    Suite *s = suite_create("store sqlite");
    TCase *ts = tcase_create("sqlite");
    tcase_add_checked_fixture(ts, store_test_setup, store_test_teardown);
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_open_missing_dir);
    tcase_add_test(ts, test_open_empty_path);
    tcase_add_test(ts, test_open_newer_schema);
    tcase_add_test(ts, test_open_foreign_db);
    tcase_add_test(ts, test_check);
    tcase_add_test(ts, test_open_wal_and_version);
    tcase_add_test(ts, test_open_concurrent_fresh);
    tcase_add_test(ts, test_busy);
    tcase_add_test(ts, test_list_page_index);
    tcase_add_test(ts, test_migrate_v1);
    tcase_add_test(ts, test_migrate_v2);
    tcase_add_test(ts, test_owner_indexes_partial);
    tcase_add_test(ts, test_write_all_or_nothing_sql);
    tcase_add_test(ts, test_claim_alone_failure_changes_nothing);
    tcase_add_test(ts, test_gate_released);
    tcase_add_test(ts, test_gate_held);
    tcase_add_test(ts, test_wal_bounded);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    store_test_use("sqlite");
    SRunner *sr = srunner_create(sqlite_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
