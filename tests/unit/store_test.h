/*
 * store_test.h - what the store's unit tests share: a fresh store per test
 * of the backend under test, helpers that fail the test with the store's
 * message, and the loop that runs a suite against every backend built in.
 *
 * Fixtures: each backend of the registry (store_int.h) has a row in the
 * table of store_test.c that names an empty store of its kind (SQLite: a new
 * file in the test's temporary directory). A backend without a row fails
 * the contract suites, so a new backend cannot skip them.
 *
 * Tests that need several processes fork children that open their own
 * store from store_cfg (a store never crosses fork()), report through files
 * in tmpdir, and leave with _exit().
 */
#ifndef CRUNCHD_STORE_TEST_H
#define CRUNCHD_STORE_TEST_H

#include "job.h"
#include "store.h"
#include "store_int.h"

#include <check.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The test's temporary directory (mkdtemp under /tmp, removed after it),
 * the config of its store, and the store setup opened from it. */
extern char tmpdir[64];
extern config_store store_cfg;
extern store *st;

/* Fails the test with the store's message unless call returned 0. */
#define MUST(call) ck_assert_msg((call) == 0, "%s failed: %s", #call, store_errmsg(st))

/* Picks the backend that store_test_setup() opens (its fixture must exist). */
void store_test_use(const char *kind);

/* Checked fixture: a new temporary directory and an empty store in it. */
void store_test_setup(void);
void store_test_teardown(void);

/*
 * Runs the suite make() builds for each backend of the registry, with
 * store_test_use() set to it; the number of failed tests (a backend without
 * a fixture counts as one).
 */
int store_test_run_each(Suite *(*make)(const char *kind));

/* Opens the store cfg names, or fails the test. */
store *must_open_cfg(const config_store *cfg);

json_t *must_parse(const char *text);

/* Queues a job of fn/kind on s with args (JSON text, NULL = none), retries
 * and an idempotency key (NULL = none); fills *j. */
void must_submit_on(store *s, job *j, const char *fn, fn_kind kind, const char *args, int retries,
                    const char *idem);

/* The same on st, without a key. */
void must_submit(job *j, const char *fn, fn_kind kind, const char *args, int retries);

/* Claims on st for (slot, inc, pid 1000 + slot) and checks the count. */
void must_claim(fn_kind kind, int slot, unsigned inc, int max, job *out, int want);

void must_get(const char *id, job *out);
job_state state_of(const char *id);
bool job_exists(const char *id);

/* Completes a claimed job as succeeded with result (JSON text); returns
 * applied. */
bool complete_ok(const job *claimed, const char *result);

void release_all(job *jobs, int n);

/* A job to submit (not submitted): fn/kind, optional idempotency key. */
void new_job(job *j, const char *fn, fn_kind kind, const char *idem);

/*
 * A store_write() batch over a running job (completed as succeeded), two
 * fresh submissions and cpu and io claims: the caller breaks one part, runs
 * it, and checks with aon_check() that nothing of it shows.
 */
typedef struct aon {
    job running, done, s[2], cpu[4], io[4];
    bool applied, existing[2];
    store_batch wb;
} aon;

void aon_setup(aon *t);

/* The batch failed: no part of it shows, in the store or in its outputs.
 * The first nfresh submissions must not exist; want_queued jobs are queued. */
void aon_check(aon *t, int nfresh, int64_t want_queued);

/* Runs a batch whose second submission reuses the id of other (a queued io
 * job), so that the backend fails it after the completion and the first
 * submission ran; checks that nothing of it shows. Returns the store's
 * message (static, valid until the next call). */
const char *aon_dup_id(const job *other);

#endif
