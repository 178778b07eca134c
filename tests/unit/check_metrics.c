/*
 * check_metrics.c - the per-token series of /metrics (metrics.h): a name
 * gets one index whichever process asks first, the series are bounded
 * (METRICS_MAX_TOKENS names, then "(other)"), and the render names the
 * token and the status class.
 */
#include "metrics.h"
#include "shm.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static shm_region *shm;

static void setup(void)
{
    shm = shm_create();
    ck_assert_ptr_nonnull(shm);
}

static void teardown(void)
{
    shm_destroy(shm);
    shm = NULL;
}

static char *must_render(void)
{
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(metrics_render(shm, false, &text, &len), 0);
    return text;
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
    char *text = must_render();
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
    char *text = must_render();
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
    TCase *tc = tcase_create("tokens");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_token_index_stable);
    tcase_add_test(tc, test_token_index_processes);
    tcase_add_test(tc, test_token_index_bounded);
    tcase_add_test(tc, test_token_render);
    suite_add_tcase(s, tc);
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
