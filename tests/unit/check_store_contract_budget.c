/*
 * check_store_contract_budget.c - the store contract (store.h, "With a
 * budget"), part 6, for every backend built in: claims bounded by what
 * their jobs' args cost, FIFO kept, the oldest job alone when nothing else
 * is held, and the budget settled after success and failure alike. Part 1
 * is check_store_contract.c.
 */
#include "store_test.h"

#include "json_cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL "{\"values\": [1, 2]}"

/* {"values": [0,0,...]} with n zeros: malloc'ed. */
static char *big_args(size_t n)
{
    char *t = malloc(2 * n + 32);
    ck_assert_ptr_nonnull(t);
    size_t at = (size_t)sprintf(t, "{\"values\": [");
    for (size_t i = 0; i < n; i++)
        at += (size_t)sprintf(t + at, "%s0", i ? "," : "");
    strcpy(t + at, "]}");
    return t;
}

/* What args_text costs as stored (compact). */
static int64_t cost_of(const char *args_text)
{
    json_t *v = must_parse(args_text);
    char *t = json_dumps(v, JSON_COMPACT);
    int64_t c = json_cost(t, strlen(t));
    free(t);
    json_decref(v);
    return c;
}

/* Claims up to max cpu jobs with budget bud into c; returns how many. */
static int claim_with(store_budget *bud, int max, job *c)
{
    store_batch b = {.slot = 0, .incarnation = 1, .pid = 1, .budget = bud};
    b.claim_max[FN_CPU] = max;
    b.claimed[FN_CPU] = c;
    MUST(store_write(st, &b));
    return b.nclaimed[FN_CPU];
}

/* Queues one cpu job of args_text; its id into id. */
static void queue(const char *args_text, char id[JOB_ID_LEN + 1])
{
    job j;
    must_submit(&j, "sort", FN_CPU, args_text, 0);
    memcpy(id, j.id, JOB_ID_LEN + 1);
    job_release(&j);
}

/* Oldest first while the summed cost fits; a job that does not fit ends
 * the claim (FIFO), even if a later one would; the budget then holds
 * exactly the claimed jobs' cost. */
START_TEST(test_claim_within_budget_fifo)
{
    char *big = big_args(1000);
    int64_t small = cost_of(SMALL), large = cost_of(big);
    char a[JOB_ID_LEN + 1], b[JOB_ID_LEN + 1], c[JOB_ID_LEN + 1], d[JOB_ID_LEN + 1];
    queue(SMALL, a);
    queue(SMALL, b);
    queue(big, c);
    queue(SMALL, d);
    store_budget bud = {.limit = 1000 + 2 * small + large - 1};
    atomic_init(&bud.held, 1000); /* something else holds 1000 */
    job got[4];
    ck_assert_int_eq(claim_with(&bud, 4, got), 2); /* a, b; c does not fit, so not d */
    ck_assert_str_eq(got[0].id, a);
    ck_assert_str_eq(got[1].id, b);
    ck_assert_int_eq(got[0].args_cost, small);
    ck_assert_int_eq(atomic_load(&bud.held), 1000 + 2 * small);
    release_all(got, 2);
    /* With room for it, c comes, and d after it. */
    atomic_store(&bud.held, 1000);
    bud.limit = 1000 + large + small;
    ck_assert_int_eq(claim_with(&bud, 4, got), 2);
    ck_assert_str_eq(got[0].id, c);
    ck_assert_str_eq(got[1].id, d);
    ck_assert_int_eq(atomic_load(&bud.held), 1000 + large + small);
    release_all(got, 2);
    free(big);
}
END_TEST

/* Nothing free: nothing claimed, the budget unchanged. Nothing held: the
 * oldest job comes however large, alone. */
START_TEST(test_claim_full_or_empty_budget)
{
    char *big = big_args(1000);
    int64_t large = cost_of(big);
    char x[JOB_ID_LEN + 1], y[JOB_ID_LEN + 1];
    queue(big, x);
    queue(SMALL, y);
    store_budget bud = {.limit = 100};
    atomic_init(&bud.held, 100);
    job got[2];
    ck_assert_int_eq(claim_with(&bud, 2, got), 0);
    ck_assert_int_eq(atomic_load(&bud.held), 100);
    atomic_store(&bud.held, 0);
    ck_assert_int_gt(large, bud.limit);
    ck_assert_int_eq(claim_with(&bud, 2, got), 1);
    ck_assert_str_eq(got[0].id, x);
    ck_assert_int_eq(atomic_load(&bud.held), large);
    release_all(got, 1);
    /* Without a budget a claim is bounded by max only. */
    ck_assert_int_eq(claim_with(NULL, 2, got), 1);
    ck_assert_str_eq(got[0].id, y);
    release_all(got, 1);
    free(big);
}
END_TEST

/* A batch's submissions count as free for its claim, which may take them;
 * on return the budget holds the claimed cost instead of theirs. */
START_TEST(test_claim_takes_the_submissions_bytes)
{
    char *big = big_args(1000);
    int64_t large = cost_of(big);
    job s[1], c[1];
    new_job(&s[0], "sort", FN_CPU, NULL);
    s[0].args = must_parse(big);
    store_budget bud = {.limit = large + 10};
    atomic_init(&bud.held, large); /* the submission's own estimate */
    store_batch b = {.submit = s, .nsubmit = 1, .slot = 0, .incarnation = 1, .pid = 1,
                     .budget = &bud, .submit_held = large};
    b.claim_max[FN_CPU] = 1;
    b.claimed[FN_CPU] = c;
    MUST(store_write(st, &b));
    ck_assert_int_eq(b.nclaimed[FN_CPU], 1);
    ck_assert_str_eq(c[0].id, s[0].id);
    ck_assert_int_eq(atomic_load(&bud.held), c[0].args_cost);
    release_all(c, 1);
    release_all(s, 1);
    /* A batch without a claim gives the submissions' bytes back. */
    new_job(&s[0], "sort", FN_CPU, NULL);
    s[0].args = must_parse(SMALL);
    atomic_store(&bud.held, 7 + 50);
    store_batch w = {.submit = s, .nsubmit = 1, .budget = &bud, .submit_held = 50};
    MUST(store_write(st, &w));
    ck_assert_int_eq(atomic_load(&bud.held), 7);
    release_all(s, 1);
    /* And so does a write that fails (a negative max_queued is refused). */
    new_job(&s[0], "sort", FN_CPU, NULL);
    s[0].args = must_parse(SMALL);
    int64_t bad = -1;
    store_batch f = {.submit = s, .nsubmit = 1, .max_queued = &bad, .budget = &bud,
                     .submit_held = 7};
    ck_assert_int_eq(store_write(st, &f), -1);
    ck_assert_int_eq(atomic_load(&bud.held), 0);
    release_all(s, 1);
    free(big);
}
END_TEST

static Suite *contract_suite(const char *kind)
{
    static char name[64]; /* check keeps the pointer: valid while the suite runs */
    snprintf(name, sizeof(name), "store contract: budget (%s)", kind);
    Suite *s = suite_create(name);
    TCase *ts = tcase_create("budget");
    tcase_add_checked_fixture(ts, store_test_setup, store_test_teardown);
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_claim_within_budget_fifo);
    tcase_add_test(ts, test_claim_full_or_empty_budget);
    tcase_add_test(ts, test_claim_takes_the_submissions_bytes);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    return store_test_run_each(contract_suite) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
