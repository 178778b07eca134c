/*
 * check_auth_rate.c - unit tests for common/auth_rate.c: each token with
 * rps= has its own bucket, the others are never limited.
 */
#include "auth_rate.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define HA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HC "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static auth_table *must_parse(const char *text)
{
    char err[512] = "";
    auth_table *t = auth_table_parse(text, strlen(text), "t", err, sizeof(err));
    ck_assert_msg(t != NULL, "%s", err);
    return t;
}

START_TEST(test_rate_per_token)
{
    auth_table *t = must_parse("slow call " HA " rps=2\n"
                               "free call " HB "\n"
                               "bursty call " HC " rps=1 burst=3\n");
    const auth_token *slow = auth_table_token(t, 0), *fr = auth_table_token(t, 1),
                     *bursty = auth_table_token(t, 2);
    auth_rate *r = auth_rate_new(t, 0);
    int64_t retry = 0;
    ck_assert_ptr_nonnull(r);

    ck_assert(auth_rate_take(r, slow, 0, &retry));
    ck_assert(auth_rate_take(r, slow, 0, &retry));
    ck_assert(!auth_rate_take(r, slow, 0, &retry));
    ck_assert_int_eq(retry, 500);
    for (int i = 0; i < 10000; i++) /* no rps: never limited */
        ck_assert(auth_rate_take(r, fr, 0, NULL));
    for (int i = 0; i < 3; i++) /* slow's limit is its own */
        ck_assert(auth_rate_take(r, bursty, 0, NULL));
    ck_assert(!auth_rate_take(r, bursty, 0, &retry));
    ck_assert_int_eq(retry, 1000);
    ck_assert(auth_rate_take(r, slow, 500, &retry));
    ck_assert(!auth_rate_take(r, bursty, 500, &retry));
    ck_assert_int_eq(retry, 500);

    /* Another worker's set starts full: the limit is per set. */
    auth_rate *other = auth_rate_new(t, 500);
    ck_assert(auth_rate_take(other, bursty, 500, NULL));
    auth_rate_free(other);
    auth_rate_free(r);
    auth_table_free(t);
}
END_TEST

START_TEST(test_rate_empty)
{
    auth_rate *r = auth_rate_new(NULL, 0);
    ck_assert_ptr_nonnull(r);
    auth_rate_free(r);
    auth_table *t = must_parse("# none\n");
    r = auth_rate_new(t, 0);
    ck_assert_ptr_nonnull(r);
    auth_rate_free(r);
    auth_rate_free(NULL);
    auth_table_free(t);
}
END_TEST

static Suite *auth_rate_suite(void)
{
    Suite *s = suite_create("auth_rate");
    TCase *tc = tcase_create("rate");
    tcase_add_test(tc, test_rate_per_token);
    tcase_add_test(tc, test_rate_empty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(auth_rate_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
