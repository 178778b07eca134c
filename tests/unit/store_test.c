/*
 * store_test.c - the fixtures and helpers of the store's unit tests
 * (store_test.h).
 */
#include "store_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char tmpdir[64];
config_store store_cfg;
store *st;

/* How to name an empty store of one backend, given a fresh directory. */
typedef struct store_fixture {
    const char *kind;
    void (*fresh)(config_store *cfg, const char *dir);
} store_fixture;

static void sqlite_fresh(config_store *cfg, const char *dir)
{
    snprintf(cfg->kind, sizeof(cfg->kind), "sqlite");
    snprintf(cfg->path, sizeof(cfg->path), "%s/jobs.db", dir);
}

/* One row per backend of the registry (store.c). */
static const store_fixture fixtures[] = {
    {"sqlite", sqlite_fresh},
};

static const store_fixture *current;

static const store_fixture *fixture_find(const char *kind)
{
    for (size_t i = 0; i < NELEM(fixtures); i++)
        if (strcmp(fixtures[i].kind, kind) == 0)
            return &fixtures[i];
    return NULL;
}

void store_test_use(const char *kind)
{
    current = fixture_find(kind);
    if (!current) { /* outside any test: ck_assert cannot report it */
        fprintf(stderr, "store backend \"%s\": no fixture in tests/unit/store_test.c\n", kind);
        exit(EXIT_FAILURE);
    }
}

int store_test_run_each(Suite *(*make)(const char *kind))
{
    int failed = 0;
    const store_backend *b;
    for (size_t i = 0; (b = store_backend_at(i)) != NULL; i++) {
        current = fixture_find(b->kind);
        if (!current) {
            fprintf(stderr, "store backend \"%s\": no fixture in tests/unit/store_test.c\n",
                    b->kind);
            failed++;
            continue;
        }
        SRunner *sr = srunner_create(make(b->kind));
        srunner_run_all(sr, CK_NORMAL);
        failed += srunner_ntests_failed(sr);
        srunner_free(sr);
    }
    return failed;
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

void store_test_setup(void)
{
    ck_assert_msg(current != NULL, "store_test_use() was not called");
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_store.XXXXXX");
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp failed");
    memset(&store_cfg, 0, sizeof(store_cfg));
    current->fresh(&store_cfg, tmpdir);
    st = must_open_cfg(&store_cfg);
}

void store_test_teardown(void)
{
    store_close(st);
    st = NULL;
    rm_tree(tmpdir);
}

store *must_open_cfg(const config_store *cfg)
{
    char err[512] = "";
    store *s = store_open(cfg, NULL, err, sizeof(err));
    ck_assert_msg(s != NULL, "store_open(%s %s) failed: %s", cfg->kind, cfg->path, err);
    return s;
}

json_t *must_parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    ck_assert_msg(v != NULL, "bad JSON in test: %s: %s", text, e.text);
    return v;
}

void must_submit_on(store *s, job *j, const char *fn, fn_kind kind, const char *args, int retries,
                    const char *idem)
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

void must_submit(job *j, const char *fn, fn_kind kind, const char *args, int retries)
{
    must_submit_on(st, j, fn, kind, args, retries, NULL);
}

void must_claim(fn_kind kind, int slot, unsigned inc, int max, job *out, int want)
{
    int n = -1;
    MUST(store_claim(st, kind, slot, inc, 1000 + slot, max, out, &n));
    ck_assert_msg(n == want, "claim(kind %d, max %d): %d jobs, want %d", kind, max, n, want);
}

void must_get(const char *id, job *out)
{
    bool found = false;
    MUST(store_get(st, id, out, &found));
    ck_assert_msg(found, "job %s not found", id);
}

job_state state_of(const char *id)
{
    job j;
    must_get(id, &j);
    job_state s = j.state;
    job_release(&j);
    return s;
}

bool job_exists(const char *id)
{
    job j;
    bool found = true;
    MUST(store_get(st, id, &j, &found));
    job_release(&j);
    return found;
}

bool complete_ok(const job *claimed, const char *result)
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

void release_all(job *jobs, int n)
{
    for (int i = 0; i < n; i++)
        job_release(&jobs[i]);
}

void new_job(job *j, const char *fn, fn_kind kind, const char *idem)
{
    job_init(j);
    snprintf(j->fn, sizeof(j->fn), "%s", fn);
    j->kind = kind;
    j->timeout_ms = 1000;
    if (idem)
        snprintf(j->idem_key, sizeof(j->idem_key), "%s", idem);
}

void aon_setup(aon *t)
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

void aon_check(aon *t, int nfresh, int64_t want_queued)
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

const char *aon_dup_id(const job *other)
{
    static char msg[512];
    aon t;
    aon_setup(&t);
    snprintf(t.s[1].id, sizeof(t.s[1].id), "%s", other->id);
    ck_assert_int_eq(store_write(st, &t.wb), -1);
    /* Kept: the next call on st clears it. */
    snprintf(msg, sizeof(msg), "%s", store_errmsg(st));
    aon_check(&t, 1, 1);
    ck_assert_int_eq(state_of(other->id), JOB_QUEUED); /* other stays queued */
    return msg;
}
