/*
 * check_store_contract_owner.c - the store contract (store.h), part 4, for
 * every backend built in: owners. A job keeps the owner that submitted it;
 * idempotency keys are per owner; store_cancel_for() leaves another owner's
 * job alone; an owner's max_queued refuses its submissions past the limit,
 * inside the transaction, and no one else's. (An owner's list is in
 * check_store_contract_list.c.)
 */
#include "store_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A job of owner to submit (not submitted), with an optional key. */
static void owned_job(job *j, const char *owner, const char *idem)
{
    new_job(j, "count", FN_CPU, idem);
    snprintf(j->owner, sizeof(j->owner), "%s", owner);
}

/* Submits a job of owner with a key (NULL: none); returns existing. */
static bool must_submit_owned(job *j, const char *owner, const char *idem)
{
    bool existing = true;
    owned_job(j, owner, idem);
    MUST(store_submit(st, j, &existing));
    return existing;
}

/* The owner is kept through every step of a job's life, and an owner of
 * the largest size fits. */
START_TEST(test_owner_kept)
{
    char longest[JOB_OWNER_MAX + 1];
    job a, b, got, c[1];
    bool found = false;
    memset(longest, 'x', JOB_OWNER_MAX);
    longest[JOB_OWNER_MAX] = '\0';
    ck_assert(!must_submit_owned(&a, "ci", NULL));
    ck_assert_str_eq(a.owner, "ci");
    ck_assert(!must_submit_owned(&b, longest, NULL));
    must_get(a.id, &got);
    ck_assert_str_eq(got.owner, "ci");
    job_release(&got);
    must_get(b.id, &got);
    ck_assert_str_eq(got.owner, longest);
    job_release(&got);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert_str_eq(c[0].id, a.id);
    ck_assert_str_eq(c[0].owner, "ci");
    ck_assert(complete_ok(&c[0], "1"));
    MUST(store_get(st, a.id, &got, &found));
    ck_assert(found);
    ck_assert_int_eq(got.state, JOB_SUCCEEDED);
    ck_assert_str_eq(got.owner, "ci");
    job_release(&got);
    /* A job submitted without one has none. */
    must_submit(&got, "count", FN_CPU, NULL, 0);
    ck_assert_str_eq(got.owner, "");
    release_all(c, 1);
    job_release(&got);
    job_release(&a);
    job_release(&b);
}
END_TEST

/* One key, three owners ("" included): three jobs; each owner gets its own
 * back, in one batch as well as one by one. */
START_TEST(test_idempotency_per_owner)
{
    job a, b, n, again, batch[4];
    bool existing[4];
    ck_assert(!must_submit_owned(&a, "ci", "order-42"));
    ck_assert(!must_submit_owned(&b, "ops", "order-42"));
    ck_assert(!must_submit_owned(&n, "", "order-42"));
    ck_assert_str_ne(a.id, b.id);
    ck_assert_str_ne(a.id, n.id);
    ck_assert_str_ne(b.id, n.id);
    ck_assert(must_submit_owned(&again, "ops", "order-42"));
    ck_assert_str_eq(again.id, b.id);
    ck_assert_str_eq(again.owner, "ops");
    job_release(&again);
    ck_assert(must_submit_owned(&again, "", "order-42"));
    ck_assert_str_eq(again.id, n.id);
    job_release(&again);
    /* A batch: a new owner twice (one job), and the known ones. */
    owned_job(&batch[0], "dev", "order-42");
    owned_job(&batch[1], "ci", "order-42");
    owned_job(&batch[2], "dev", "order-42");
    owned_job(&batch[3], "dev", "order-43");
    MUST(store_submit_many(st, batch, 4, existing));
    ck_assert(!existing[0] && existing[1] && existing[2] && !existing[3]);
    ck_assert_str_eq(batch[1].id, a.id);
    ck_assert_str_eq(batch[2].id, batch[0].id);
    ck_assert_str_ne(batch[0].id, a.id);
    int64_t queued = -1;
    MUST(store_counts(st, &queued, NULL));
    ck_assert_int_eq(queued, 5);
    release_all(batch, 4);
    job_release(&a);
    job_release(&b);
    job_release(&n);
}
END_TEST

/* store_cancel_for: another owner's job is not found and not touched,
 * queued or running; its own owner's is cancelled; NULL is any owner. */
START_TEST(test_cancel_for_owner)
{
    job a, b, out, c[1];
    bool found = true;
    job_state before = JOB_FAILED;
    must_submit_owned(&a, "ci", NULL);
    must_submit_owned(&b, "ci", NULL);
    MUST(store_cancel_for(st, a.id, "ops", &out, &found, &before));
    ck_assert(!found);
    ck_assert_int_eq(state_of(a.id), JOB_QUEUED);
    job_release(&out);
    MUST(store_cancel_for(st, a.id, "", &out, &found, &before));
    ck_assert(!found);
    job_release(&out);
    MUST(store_cancel_for(st, a.id, "ci", &out, &found, &before));
    ck_assert(found);
    ck_assert_int_eq(before, JOB_QUEUED);
    ck_assert_int_eq(out.state, JOB_CANCELLED);
    ck_assert_str_eq(out.owner, "ci");
    job_release(&out);
    /* Running: asked to stop only for its owner. */
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert_str_eq(c[0].id, b.id);
    MUST(store_cancel_for(st, b.id, "ops", &out, &found, &before));
    ck_assert(!found);
    job_release(&out);
    must_get(b.id, &out);
    ck_assert(!out.cancel_requested);
    job_release(&out);
    MUST(store_cancel_for(st, b.id, NULL, &out, &found, &before));
    ck_assert(found);
    ck_assert_int_eq(before, JOB_RUNNING);
    ck_assert(out.cancel_requested);
    job_release(&out);
    release_all(c, 1);
    job_release(&a);
    job_release(&b);
}
END_TEST

/* Submits a job of owner with limit max through store_write; returns
 * refused (and existing in *existing, may be NULL). */
static bool submit_limited(job *j, const char *owner, const char *idem, int64_t max, bool *existing)
{
    bool ex = true, refused = true;
    owned_job(j, owner, idem);
    store_batch b = {
        .submit = j, .nsubmit = 1, .existing = &ex, .max_queued = &max, .refused = &refused};
    MUST(store_write(st, &b));
    if (existing)
        *existing = ex;
    ck_assert(!(refused && ex));
    return refused;
}

/* max_queued: an owner at its limit is refused (nothing queued, the job as
 * sent), others are not; a known key is not refused; a claimed job frees a
 * place; the limit counts the batch's own submissions. */
START_TEST(test_max_queued)
{
    job j[3], x, other, key, c[2], b[4];
    bool existing = false;
    int64_t queued = -1;
    ck_assert(!submit_limited(&j[0], "ci", "k", 2, NULL));
    ck_assert(!submit_limited(&j[1], "ci", NULL, 2, NULL));
    ck_assert(submit_limited(&x, "ci", NULL, 2, NULL));
    ck_assert_int_eq(x.state, JOB_QUEUED);
    ck_assert_str_eq(x.owner, "ci");
    ck_assert(!job_exists(x.id));
    MUST(store_counts(st, &queued, NULL));
    ck_assert_int_eq(queued, 2);
    job_release(&x);
    /* Another owner, nobody, and no limit: not refused. */
    ck_assert(!submit_limited(&other, "ops", NULL, 2, NULL));
    job_release(&other);
    ck_assert(!submit_limited(&other, "", NULL, 1, NULL));
    job_release(&other);
    ck_assert(!submit_limited(&other, "ci", NULL, 0, NULL));
    job_release(&other);
    /* The owner's known key: its job, not a refusal. */
    ck_assert(!submit_limited(&key, "ci", "k", 2, &existing));
    ck_assert(existing);
    ck_assert_str_eq(key.id, j[0].id);
    job_release(&key);
    /* Claimed jobs are no longer queued: room again (ci has 3 queued, 2 go). */
    must_claim(FN_CPU, 0, 1, 2, c, 2);
    ck_assert(!submit_limited(&j[2], "ci", NULL, 2, NULL));
    /* One batch: two places left under 4, the third and fourth refused. */
    int64_t max[4] = {4, 4, 4, 4};
    bool ex[4], refused[4];
    for (int i = 0; i < 4; i++)
        owned_job(&b[i], "ci", NULL);
    store_batch wb = {
        .submit = b, .nsubmit = 4, .existing = ex, .max_queued = max, .refused = refused};
    MUST(store_write(st, &wb));
    ck_assert(!refused[0] && !refused[1] && refused[2] && refused[3]);
    ck_assert(job_exists(b[1].id) && !job_exists(b[2].id));
    /* A negative limit is an error, and nothing of the batch happens. */
    int64_t bad = -1;
    bool r1 = true;
    owned_job(&x, "dev", NULL);
    store_batch wbad = {.submit = &x, .nsubmit = 1, .max_queued = &bad, .refused = &r1};
    ck_assert_int_eq(store_write(st, &wbad), -1);
    ck_assert(!r1);
    ck_assert(!job_exists(x.id));
    job_release(&x);
    release_all(b, 4);
    release_all(c, 2);
    release_all(j, 3);
}
END_TEST

static Suite *contract_suite(const char *kind)
{
    static char name[64]; /* check keeps the pointer: valid while the suite runs */
    snprintf(name, sizeof(name), "store contract: owners (%s)", kind);
    Suite *s = suite_create(name);
    TCase *ts = tcase_create("owners");
    tcase_add_checked_fixture(ts, store_test_setup, store_test_teardown);
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_owner_kept);
    tcase_add_test(ts, test_idempotency_per_owner);
    tcase_add_test(ts, test_cancel_for_owner);
    tcase_add_test(ts, test_max_queued);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    return store_test_run_each(contract_suite) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
