/*
 * check_metrics.c - unit tests of the metrics (common/metrics.c): function
 * series sized from the registry (more than 16 functions, each with its own
 * series), names that keep their series across reloads, the spare room for
 * reloads and the warning that names the functions left without a series,
 * and the render of what earlier generations counted; the series of API
 * tokens: one index per name whichever process asks first, bounded
 * (METRICS_MAX_TOKENS names, then "(other)"), rendered by name and status
 * class.
 */
#include "fn.h"
#include "fn_catalog.h"
#include "fn_registry.h"
#include "metrics.h"
#include "shm.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static fn_status ok_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    *result = json_null();
    return FN_OK;
}

#define MAX_NAMES 512
static char names[MAX_NAMES][32];

/* A registry of the functions prefix0 .. prefix<n-1>. */
static fn_registry *must_registry(const char *prefix, int n)
{
    static int used;
    fn_registry *r = fn_registry_new();
    char err[256];
    ck_assert_ptr_nonnull(r);
    for (int i = 0; i < n; i++) {
        ck_assert_int_lt(used, MAX_NAMES);
        char *name = names[used++];
        snprintf(name, sizeof(names[0]), "%s%d", prefix, i);
        fn_desc d = {.name = name, .kind = FN_CPU, .doc = "t", .run = ok_run};
        ck_assert_msg(fn_registry_add(r, &d, "/t.so", err, sizeof(err)) == 0, "%s", err);
    }
    return r;
}

static char *must_render(const shm_region *shm)
{
    char *text;
    size_t len;
    ck_assert_int_eq(metrics_render(shm, false, &text, &len), 0);
    ck_assert_uint_eq(strlen(text), len);
    return text;
}

/* The value of the line that starts with series in text, or -1. */
static long long value_of(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return atoll(p + n + 1);
    return -1;
}

static long long jobs_of(const char *text, const char *fn, const char *state)
{
    char series[128];
    snprintf(series, sizeof(series), "crunchd_jobs_total{fn=\"%s\",state=\"%s\"}", fn, state);
    return value_of(text, series);
}

/* Runs metrics_register_fns() with stderr captured into log (len bytes). */
static int register_logged(shm_region *shm, fn_registry *r, char *log, size_t len)
{
    char path[] = "/tmp/check_metrics.XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    fflush(stderr);
    dup2(fd, 2);
    int dropped = metrics_register_fns(shm, r);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, log, len - 1, 0);
    log[n > 0 ? n : 0] = '\0';
    close(fd);
    return dropped;
}

START_TEST(test_more_than_16_functions)
{
    fn_registry *r = must_registry("f", 40);
    shm_region *shm = shm_create(metrics_shm_bytes(r));
    ck_assert_ptr_nonnull(shm);
    ck_assert_int_eq(metrics_fn_capacity(shm), 0);
    ck_assert_int_eq(metrics_register_fns(shm, r), 0);
    ck_assert_int_eq(metrics_fn_capacity(shm), 40 + METRICS_FN_SPARE);
    for (int i = 0; i < 40; i++) {
        const fn_desc *d = fn_registry_at(r, i);
        ck_assert_int_eq(d->series, i);
        for (int k = 0; k <= i; k++)
            metrics_job(shm, i % 3, d->series, METRICS_JOB_SUCCEEDED, 1500);
        metrics_job(shm, 5, d->series, METRICS_JOB_FAILED, 20);
    }
    fn_catalog_use(r);
    char *text = must_render(shm);
    for (int i = 0; i < 40; i++) {
        char fn[16], series[128];
        snprintf(fn, sizeof(fn), "f%d", i);
        ck_assert_int_eq(jobs_of(text, fn, "succeeded"), i + 1);
        ck_assert_int_eq(jobs_of(text, fn, "failed"), 1);
        ck_assert_int_eq(jobs_of(text, fn, "cancelled"), 0);
        snprintf(series, sizeof(series), "crunchd_job_run_seconds_count{fn=\"%s\"}", fn);
        ck_assert_int_eq(value_of(text, series), i + 2);
        snprintf(series, sizeof(series), "crunchd_job_run_seconds_bucket{fn=\"%s\",le=\"0.001\"}",
                 fn);
        ck_assert_int_eq(value_of(text, series), 1); /* the 20 us one */
    }
    free(text);
    fn_catalog_use(NULL);
    fn_registry_free(r);
    shm_destroy(shm);
}
END_TEST

START_TEST(test_reload_keeps_series_and_warns_when_full)
{
    char log[4096];
    fn_registry *r0 = must_registry("a", 20); /* room: 20 + METRICS_FN_SPARE */
    shm_region *shm = shm_create(metrics_shm_bytes(r0));
    ck_assert_ptr_nonnull(shm);
    ck_assert_int_eq(metrics_register_fns(shm, r0), 0);
    metrics_job(shm, 0, fn_registry_at(r0, 19)->series, METRICS_JOB_SUCCEEDED, 10);

    /* A reload: a19 again (at another index), plus new names. */
    fn_registry *r1 = fn_registry_new();
    char err[256];
    fn_desc again = {.name = "a19", .kind = FN_IO, .doc = "t", .run = ok_run};
    fn_desc fresh = {.name = "b0", .kind = FN_CPU, .doc = "t", .run = ok_run};
    ck_assert_int_eq(fn_registry_add(r1, &fresh, "/t.so", err, sizeof(err)), 0);
    ck_assert_int_eq(fn_registry_add(r1, &again, "/t.so", err, sizeof(err)), 0);
    ck_assert_int_eq(register_logged(shm, r1, log, sizeof(log)), 0);
    ck_assert_str_eq(log, "");
    ck_assert_int_eq(fn_registry_at(r1, 1)->series, 19); /* a19 keeps its series */
    ck_assert_int_eq(fn_registry_at(r1, 0)->series, 20); /* b0 takes the next */
    metrics_job(shm, 1, fn_registry_at(r1, 1)->series, METRICS_JOB_SUCCEEDED, 10);

    /* A reload with more new names than the spare room left. */
    fn_registry *r2 = must_registry("c", METRICS_FN_SPARE + 5);
    int dropped = register_logged(shm, r2, log, sizeof(log));
    ck_assert_int_eq(dropped, 6); /* b0 used one of the spare series */
    for (int i = 0; i < METRICS_FN_SPARE - 1; i++)
        ck_assert_int_eq(fn_registry_at(r2, i)->series, 21 + i);
    for (int i = METRICS_FN_SPARE - 1; i < METRICS_FN_SPARE + 5; i++)
        ck_assert_int_eq(fn_registry_at(r2, i)->series, -1);
    ck_assert_msg(strstr(log, "no room for the series of 6 functions") != NULL, "log: %s", log);
    ck_assert_msg(strstr(log, "\"c63\", \"c64\", \"c65\", \"c66\", \"c67\", \"c68\"") != NULL,
                  "log: %s", log);
    ck_assert_msg(strstr(log, "\"c62\"") == NULL, "log: %s", log);
    metrics_job(shm, 0, -1, METRICS_JOB_SUCCEEDED, 10); /* no series: ignored */

    /* Rendered by a worker of the last generation: its functions, and a19,
     * which an earlier one ran; not the a* names that never counted. */
    fn_catalog_use(r2);
    char *text = must_render(shm);
    ck_assert_int_eq(jobs_of(text, "a19", "succeeded"), 2);
    ck_assert_int_eq(jobs_of(text, "a18", "succeeded"), -1);
    ck_assert_int_eq(jobs_of(text, "c0", "succeeded"), 0);
    ck_assert_int_eq(jobs_of(text, "c62", "failed"), 0);
    ck_assert_int_eq(jobs_of(text, "c63", "succeeded"), -1);
    free(text);
    fn_catalog_use(NULL);
    fn_registry_free(r0);
    fn_registry_free(r1);
    fn_registry_free(r2);
    shm_destroy(shm);
}
END_TEST

START_TEST(test_http_and_no_area)
{
    fn_registry *r = must_registry("h", 2);
    shm_region *shm = shm_create(metrics_shm_bytes(r));
    ck_assert_ptr_nonnull(shm);
    ck_assert_int_eq(metrics_register_fns(shm, r), 0);
    metrics_http(shm, 3, METRICS_R_FN, 200, 70);
    metrics_http(shm, 3, METRICS_R_FN, 200, 70);
    metrics_http(shm, 0, METRICS_R_FN, 777, 70);
    metrics_http(shm, SHM_MAX_WORKERS, METRICS_R_FN, 200, 70); /* no such slot: ignored */
    char *text = must_render(shm);
    ck_assert_int_eq(value_of(text, "crunchd_http_requests_total{route=\"fn\",code=\"200\"}"), 2);
    ck_assert_int_eq(value_of(text, "crunchd_http_requests_total{route=\"fn\",code=\"other\"}"), 1);
    free(text);
    shm_destroy(shm);

    /* A region without a metrics area: recording does nothing, the render
     * has the gauges only. */
    shm = shm_create(0);
    ck_assert_ptr_nonnull(shm);
    ck_assert_int_eq(metrics_register_fns(shm, r), 2);
    ck_assert_int_eq(fn_registry_at(r, 0)->series, -1);
    metrics_http(shm, 0, METRICS_R_FN, 200, 70);
    metrics_job(shm, 0, 0, METRICS_JOB_SUCCEEDED, 10);
    text = must_render(shm);
    ck_assert_ptr_null(strstr(text, "crunchd_http_requests_total"));
    ck_assert_ptr_nonnull(strstr(text, "crunchd_workers 0"));
    free(text);
    shm_destroy(shm);
    fn_registry_free(r);
}
END_TEST

/* ---- API tokens (crunchd_token_requests_total) ---- */

static shm_region *shm;
static fn_registry *token_reg;

static void token_setup(void)
{
    token_reg = must_registry("tok", 1);
    shm = shm_create(metrics_shm_bytes(token_reg));
    ck_assert_ptr_nonnull(shm);
    ck_assert_int_eq(metrics_register_fns(shm, token_reg), 0);
}

static void token_teardown(void)
{
    shm_destroy(shm);
    shm = NULL;
    fn_registry_free(token_reg);
}

START_TEST(test_token_index_stable)
{
    int a = metrics_token_index(shm, "ci");
    int b = metrics_token_index(shm, "ops");
    ck_assert_int_ne(a, b);
    ck_assert_int_eq(metrics_token_index(shm, "ci"), a);
    ck_assert_int_eq(metrics_token_index(shm, "ops"), b);
    ck_assert_int_ge(a, 0);
    ck_assert_int_lt(a, METRICS_MAX_TOKENS);
}
END_TEST

/* Two processes asking for the same new names at once get one index each. */
START_TEST(test_token_index_processes)
{
    enum { NAMES = 40, KIDS = 4 };
    static const int step[KIDS] = {1, 3, 7, 9}; /* prime to NAMES: each a new order of all */
    int pipes[KIDS][2];
    for (int k = 0; k < KIDS; k++) {
        ck_assert_int_eq(pipe(pipes[k]), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            int idx[NAMES];
            for (int i = 0; i < NAMES; i++) {
                char name[16];
                snprintf(name, sizeof(name), "t%d", (i * step[k]) % NAMES);
                idx[(i * step[k]) % NAMES] = metrics_token_index(shm, name);
            }
            ssize_t w = write(pipes[k][1], idx, sizeof(idx));
            _exit(w == (ssize_t)sizeof(idx) ? 0 : 1);
        }
        close(pipes[k][1]);
    }
    int first[NAMES];
    for (int k = 0; k < KIDS; k++) {
        int idx[NAMES], st;
        ck_assert_int_eq(read(pipes[k][0], idx, sizeof(idx)), (ssize_t)sizeof(idx));
        close(pipes[k][0]);
        wait(&st);
        for (int i = 0; i < NAMES; i++) {
            if (k == 0)
                first[i] = idx[i];
            ck_assert_int_eq(idx[i], first[i]);
        }
    }
    for (int i = 0; i < NAMES; i++)
        for (int j = i + 1; j < NAMES; j++)
            ck_assert_int_ne(first[i], first[j]);
}
END_TEST

/* Past METRICS_MAX_TOKENS names, every new one shares "(other)". */
START_TEST(test_token_index_bounded)
{
    char name[16];
    for (int i = 0; i < METRICS_MAX_TOKENS; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        ck_assert_int_eq(metrics_token_index(shm, name), i);
    }
    ck_assert_int_eq(metrics_token_index(shm, "late"), METRICS_TOKEN_OTHER);
    ck_assert_int_eq(metrics_token_index(shm, "later"), METRICS_TOKEN_OTHER);
    ck_assert_int_eq(metrics_token_index(shm, "n7"), 7);
    metrics_token(shm, 0, METRICS_TOKEN_OTHER, 200);
    metrics_token(shm, 1, METRICS_TOKEN_OTHER, 201);
    char *text = must_render(shm);
    ck_assert_msg(strstr(text, "crunchd_token_requests_total{token=\"(other)\",code=\"2xx\"} 2\n"),
                  "%s", text);
    free(text);
}
END_TEST

/* Counts by token and class, summed over slots; no series for a token
 * without requests; nothing for an index out of range. */
START_TEST(test_token_render)
{
    int ci = metrics_token_index(shm, "ci"), ops = metrics_token_index(shm, "ops");
    metrics_token_index(shm, "idle");
    metrics_token(shm, 0, ci, 200);
    metrics_token(shm, 1, ci, 202);
    metrics_token(shm, 1, ci, 429);
    metrics_token(shm, 0, ops, 403);
    metrics_token(shm, 0, ops, 500);
    metrics_token(shm, 0, METRICS_TOKEN_OTHER + 1, 200);
    metrics_token(shm, SHM_MAX_WORKERS, ci, 200);
    char *text = must_render(shm);
    ck_assert_msg(strstr(text, "# TYPE crunchd_token_requests_total counter\n"), "%s", text);
    ck_assert_msg(strstr(text, "crunchd_token_requests_total{token=\"ci\",code=\"2xx\"} 2\n"), "%s",
                  text);
    ck_assert_msg(strstr(text, "crunchd_token_requests_total{token=\"ci\",code=\"4xx\"} 1\n"), "%s",
                  text);
    ck_assert_msg(strstr(text, "crunchd_token_requests_total{token=\"ops\",code=\"4xx\"} 1\n"),
                  "%s", text);
    ck_assert_msg(strstr(text, "crunchd_token_requests_total{token=\"ops\",code=\"5xx\"} 1\n"),
                  "%s", text);
    ck_assert_msg(!strstr(text, "token=\"idle\""), "%s", text);
    ck_assert_msg(!strstr(text, "(other)"), "%s", text);
    free(text);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("series");
    tcase_add_test(tc, test_more_than_16_functions);
    tcase_add_test(tc, test_reload_keeps_series_and_warns_when_full);
    tcase_add_test(tc, test_http_and_no_area);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("tokens");
    tcase_add_checked_fixture(tt, token_setup, token_teardown);
    tcase_add_test(tt, test_token_index_stable);
    tcase_add_test(tt, test_token_index_processes);
    tcase_add_test(tt, test_token_index_bounded);
    tcase_add_test(tt, test_token_render);
    suite_add_tcase(s, tt);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
