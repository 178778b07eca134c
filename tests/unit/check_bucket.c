/*
 * check_bucket.c - unit tests for common/bucket.c, the token bucket: burst,
 * refill, the retry time, the long-run rate, and clocks that jump.
 */
#include "bucket.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

START_TEST(test_starts_full)
{
    bucket b;
    int64_t retry = 0;
    bucket_init(&b, 10, 5, 1000);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(bucket_take(&b, 1000, &retry), "take %d of the burst refused", i);
    ck_assert(!bucket_take(&b, 1000, &retry));
    ck_assert_int_eq(retry, 100); /* one token every 100 ms at 10/s */
    ck_assert(!bucket_take(&b, 1000, NULL));
}
END_TEST

START_TEST(test_refill_and_retry)
{
    bucket b;
    int64_t retry = 0;
    bucket_init(&b, 1, 1, 0);
    ck_assert(bucket_take(&b, 0, &retry));
    ck_assert(!bucket_take(&b, 0, &retry));
    ck_assert_int_eq(retry, 1000);
    ck_assert(!bucket_take(&b, 999, &retry));
    ck_assert_int_eq(retry, 1);
    ck_assert(bucket_take(&b, 1000, &retry)); /* exactly when it said */

    /* A rate that does not divide 1000: the retry rounds up, never down. */
    bucket_init(&b, 3, 1, 0);
    ck_assert(bucket_take(&b, 0, &retry));
    ck_assert(!bucket_take(&b, 0, &retry));
    ck_assert_int_eq(retry, 334);
    ck_assert(!bucket_take(&b, 333, &retry)); /* 999 thousandths */
    ck_assert_int_eq(retry, 1);
    ck_assert(bucket_take(&b, 334, &retry));
}
END_TEST

/* Refill stops at the burst: a long pause does not save up more. */
START_TEST(test_cap)
{
    bucket b;
    bucket_init(&b, 100, 3, 0);
    for (int i = 0; i < 3; i++)
        ck_assert(bucket_take(&b, 0, NULL));
    int64_t later = INT64_C(1) << 60; /* no overflow, however long the pause */
    for (int i = 0; i < 3; i++)
        ck_assert(bucket_take(&b, later, NULL));
    ck_assert(!bucket_take(&b, later, NULL));
}
END_TEST

/* Over a long run, what passes is the burst plus rate x time, exactly. */
START_TEST(test_long_run_rate)
{
    bucket b;
    int passed = 0;
    bucket_init(&b, 50, 10, 0);
    for (int64_t t = 0; t < 10000; t++) /* one request a millisecond for 10 s */
        passed += bucket_take(&b, t, NULL);
    /* 10 at once, then 50/s for the 9.999 s after the first request */
    ck_assert_int_eq(passed, 10 + 499);
}
END_TEST

START_TEST(test_clock_back)
{
    bucket b;
    int64_t retry = 0;
    bucket_init(&b, 1, 1, 5000);
    ck_assert(bucket_take(&b, 5000, NULL));
    ck_assert(!bucket_take(&b, 4000, &retry)); /* earlier: nothing flowed in */
    ck_assert_int_eq(retry, 1000);
    ck_assert(!bucket_take(&b, 5999, &retry)); /* measured from 5000, not from 4000 */
    ck_assert(bucket_take(&b, 6000, &retry));
}
END_TEST

START_TEST(test_extremes)
{
    bucket b;
    int64_t retry = 0;
    bucket_init(&b, BUCKET_MAX, 1000, 0);
    for (int i = 0; i < 1000; i++)
        ck_assert(bucket_take(&b, 0, NULL));
    ck_assert(!bucket_take(&b, 0, &retry));
    ck_assert_int_eq(retry, 1);
    for (int i = 0; i < 1000; i++) /* 1000 per millisecond */
        ck_assert(bucket_take(&b, 1, NULL));
    ck_assert(!bucket_take(&b, 1, NULL));

    bucket_init(&b, 1, BUCKET_MAX, 0); /* the largest bucket, the slowest refill */
    ck_assert(bucket_take(&b, 0, NULL));
    ck_assert(bucket_take(&b, INT64_C(1) << 62, NULL));
}
END_TEST

static Suite *bucket_suite(void)
{
    Suite *s = suite_create("bucket");
    TCase *tc = tcase_create("bucket");
    tcase_add_test(tc, test_starts_full);
    tcase_add_test(tc, test_refill_and_retry);
    tcase_add_test(tc, test_cap);
    tcase_add_test(tc, test_long_run_rate);
    tcase_add_test(tc, test_clock_back);
    tcase_add_test(tc, test_extremes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bucket_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
