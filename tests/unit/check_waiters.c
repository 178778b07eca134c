/* Unit tests for worker/engine/waiters.c: the long-poll state machine
 * (COMMITTING, IDLE, READING, ANSWERED) against a real store, and what a
 * worker's slot says of its long-polls (count and wait bins). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_fixture.h"
#include "storeq.h"
#include "waiters.h"

#define LONG_MS 600000 /* a wait that never ends within a test */

static efx f;

static void setup(void) { efx_setup(&f); }
static void teardown(void)
{
    ck_assert_int_eq(waiters_count(&f.e), 0);
    efx_teardown(&f);
}

/* What a waiter answered. */
typedef struct answer {
    int calls;
    waiter_end how;
    job j;         /* a copy of the job answered with */
    bool as_text;  /* it came with its args and result as text */
    char args[64]; /* that args text (cut) */
    char result[64];
    char err[256];
} answer;

static void on_answer(void *arg, waiter_end how, const job *j, const job_json_text *text,
                      const char *err)
{
    answer *a = arg;
    a->calls++;
    a->how = how;
    job_release(&a->j);
    if (j) {
        a->j = *j;
        a->j.args = json_incref(j->args);
        a->j.result = json_incref(j->result);
    }
    a->as_text = text != NULL;
    snprintf(a->args, sizeof(a->args), "%.*s", text && text->args ? (int)text->args_len : 0,
             text && text->args ? text->args : "");
    snprintf(a->result, sizeof(a->result), "%.*s",
             text && text->result ? (int)text->result_len : 4,
             text && text->result ? text->result : "null");
    snprintf(a->err, sizeof(a->err), "%s", err ? err : "");
}

static void answer_init(answer *a)
{
    memset(a, 0, sizeof(*a));
    job_init(&a->j);
}

/* A waiter answering into a (initialised here). */
static waiter *wait_for(answer *a, const char *id, int64_t wait_ms, bool committing)
{
    answer_init(a);
    waiter *w = waiter_new(&f.e, id, wait_ms, committing, on_answer, a);
    ck_assert_ptr_nonnull(w);
    return w;
}

static bool answered(void *arg) { return ((answer *)arg)->calls > 0; }

static bool store_idle(void *arg) { return storeq_pending(f.e.sq) == 0; }

/* The slot's long-poll count, and the wait bin of id. */
static void assert_slot(int n, const char *id, unsigned bin)
{
    ck_assert_int_eq(waiters_count(&f.e), n);
    ck_assert_int_eq(atomic_load(&f.shm->w[0].waiters), n);
    ck_assert_uint_eq(atomic_load(&f.shm->w[0].wait_bins[shm_wait_bin(id)]), bin);
}

/* Every wait bin is back to 0. */
static void assert_bins_empty(void)
{
    for (int i = 0; i < SHM_WAIT_BINS; i++)
        ck_assert_msg(atomic_load(&f.shm->w[0].wait_bins[i]) == 0, "wait bin %d is %u", i,
                      atomic_load(&f.shm->w[0].wait_bins[i]));
    ck_assert_int_eq(atomic_load(&f.shm->w[0].waiters), 0);
}

/* Cancels queued job id in the store (it becomes final); with announce,
 * tells the engine, as the worker that cancels it would. */
static void cancel_in_store(const char *id, bool announce)
{
    store *st = efx_store(&f);
    bool found = false;
    job_state before;
    job j;
    job_init(&j);
    ck_assert_int_eq(store_cancel(st, id, &j, &found, &before), 0);
    ck_assert(found);
    ck_assert_int_eq(before, JOB_QUEUED);
    ck_assert_int_eq(j.state, JOB_CANCELLED);
    store_close(st);
    if (announce)
        engine_job_final(&f.e, &j, false);
    job_release(&j);
}

/* Tells the engine that job id succeeded (the store is not asked). */
static void announce_final(const char *id)
{
    job j;
    job_init(&j);
    snprintf(j.id, sizeof(j.id), "%s", id);
    j.state = JOB_SUCCEEDED;
    engine_job_final(&f.e, &j, false);
}

/* A fresh id whose wait bin differs from other's. */
static void other_bin_id(const char *other, char id[JOB_ID_LEN + 1])
{
    do
        ck_assert_int_eq(job_new_id(id), 0);
    while (shm_wait_bin(id) == shm_wait_bin(other));
}

START_TEST(test_answered_when_the_engine_says_final)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", "{\"n\": 3}", 0, id);
    answer a;
    wait_for(&a, id, LONG_MS, false);
    assert_slot(1, id, 1);
    efx_must(&f, store_idle, NULL, "the first read");
    ck_assert_int_eq(a.calls, 0); /* queued: it waits */
    char other[JOB_ID_LEN + 1];
    other_bin_id(id, other);
    announce_final(other); /* another job: not ours */
    ck_assert_int_eq(a.calls, 0);
    cancel_in_store(id, true);
    ck_assert_int_eq(a.calls, 1); /* at once, with the job the engine has */
    ck_assert_int_eq(a.how, WAITER_JOB);
    ck_assert_str_eq(a.j.id, id);
    ck_assert_int_eq(a.j.state, JOB_CANCELLED);
    ck_assert(!a.as_text); /* its own args and result */
    ck_assert_ptr_nonnull(a.j.args);
    assert_slot(0, id, 0);
    ck_assert_int_eq(storeq_pending(f.e.sq), 0); /* no read for that */
    job_release(&a.j);
}
END_TEST

START_TEST(test_answered_as_it_is_when_time_is_up)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id);
    answer a;
    int64_t t0 = shm_mono_ms();
    wait_for(&a, id, 100, false);
    efx_must(&f, answered, &a, "the waiter's time to be up");
    ck_assert_int_ge(shm_mono_ms() - t0, 95); /* not before its time (timers never fire early) */
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.how, WAITER_JOB);
    ck_assert_int_eq(a.j.state, JOB_QUEUED);
    ck_assert_str_eq(a.j.id, id);
    assert_slot(0, id, 0);
    job_release(&a.j);
}
END_TEST

START_TEST(test_a_final_job_is_answered_at_the_first_read)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", "{\"n\": 3}", 0, id);
    cancel_in_store(id, false); /* final between the caller's read and the wait */
    answer a;
    wait_for(&a, id, LONG_MS, false);
    ck_assert_int_eq(a.calls, 0); /* the read is with the store thread */
    efx_must(&f, answered, &a, "the first read");
    ck_assert_int_eq(a.how, WAITER_JOB);
    ck_assert_int_eq(a.j.state, JOB_CANCELLED);
    /* Read from the store: args and result as stored, never parsed. */
    ck_assert(a.as_text);
    ck_assert_ptr_null(a.j.args);
    ck_assert_ptr_null(a.j.result);
    ck_assert_str_eq(a.args, "{\"n\":3}");
    ck_assert_str_eq(a.result, "null");
    assert_slot(0, id, 0);
    job_release(&a.j);
}
END_TEST

START_TEST(test_a_job_that_is_gone_is_not_found)
{
    char id[JOB_ID_LEN + 1];
    ck_assert_int_eq(job_new_id(id), 0);
    answer a;
    wait_for(&a, id, LONG_MS, false);
    assert_slot(1, id, 1);
    efx_must(&f, answered, &a, "the first read");
    ck_assert_int_eq(a.how, WAITER_NOT_FOUND);
    assert_slot(0, id, 0);
}
END_TEST

/* News (a note from another worker) while a read is in flight: the read
 * may have looked too early, so one more read follows. */
START_TEST(test_news_during_a_read_means_one_more_read)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id);
    answer a;
    wait_for(&a, id, LONG_MS, false);
    /* The read runs (and sees the job queued); its answer waits behind the hold. */
    efx_hold *h = efx_hold_store(&f);
    efx_hold_wait(h);
    cancel_in_store(id, false); /* another worker cancels it... */
    waiters_job_changed(&f.e, id); /* ...and its note arrives while we read */
    ck_assert_int_eq(a.calls, 0);
    efx_unhold(h);
    efx_must(&f, answered, &a, "the second read");
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.how, WAITER_JOB);
    ck_assert_int_eq(a.j.state, JOB_CANCELLED);
    assert_slot(0, id, 0);
    efx_settle(&f);
    job_release(&a.j);
}
END_TEST

START_TEST(test_news_when_idle_reads_again)
{
    char id[JOB_ID_LEN + 1], id2[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id);
    efx_queue_job(&f, "fib", NULL, 0, id2);
    answer a, b;
    wait_for(&a, id, LONG_MS, false);
    wait_for(&b, id2, LONG_MS, false);
    ck_assert_int_eq(waiters_count(&f.e), 2);
    efx_settle(&f);
    cancel_in_store(id, false);
    waiters_job_changed(&f.e, id); /* a note about id: only its waiter reads */
    ck_assert_int_eq(storeq_pending(f.e.sq), 1);
    efx_must(&f, answered, &a, "the read after the note");
    ck_assert_int_eq(a.j.state, JOB_CANCELLED);
    ck_assert_int_eq(b.calls, 0);
    /* Notes were lost: every waiter reads; the queued job waits on. */
    waiters_refetch_all(&f.e);
    ck_assert_int_eq(storeq_pending(f.e.sq), 1);
    efx_settle(&f);
    ck_assert_int_eq(b.calls, 0);
    cancel_in_store(id2, false);
    waiters_refetch_all(&f.e);
    efx_must(&f, answered, &b, "the read after lost notes");
    ck_assert_int_eq(b.j.state, JOB_CANCELLED);
    assert_bins_empty();
    job_release(&a.j);
    job_release(&b.j);
}
END_TEST

START_TEST(test_answered_while_reading_is_answered_once)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id);
    efx_hold *h = efx_hold_store(&f);
    efx_hold_wait(h);
    answer a;
    wait_for(&a, id, LONG_MS, false);
    cancel_in_store(id, true); /* READING -> ANSWERED */
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.j.state, JOB_CANCELLED);
    /* The read in flight still refers to it: it counts until that ends. */
    ck_assert_int_eq(waiters_count(&f.e), 1);
    announce_final(id); /* told twice: still one answer */
    waiters_job_changed(&f.e, id);
    waiters_drain(&f.e);
    ck_assert_int_eq(a.calls, 1);
    efx_unhold(h);
    efx_settle(&f);
    ck_assert_int_eq(a.calls, 1);
    assert_slot(0, id, 0);
    job_release(&a.j);
}
END_TEST

/* A submission with a wait: the waiter exists before the job does. */
START_TEST(test_committing_then_committed_waits_for_news)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id); /* as if the submission just committed it */
    answer a;
    waiter *w = wait_for(&a, id, LONG_MS, true);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(storeq_pending(f.e.sq), 0); /* nothing to read yet */
    assert_slot(1, id, 1);
    waiter_committed(w, id, false);
    ck_assert_int_eq(storeq_pending(f.e.sq), 0); /* a new job: no read, wait for news */
    assert_slot(1, id, 1);
    cancel_in_store(id, true);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.j.state, JOB_CANCELLED);
    assert_slot(0, id, 0);
    job_release(&a.j);
}
END_TEST

/* The Idempotency-Key was known: the job is another one, maybe final. */
START_TEST(test_committed_as_another_job_moves_the_wait_bin)
{
    char known[JOB_ID_LEN + 1], mine[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, known);
    cancel_in_store(known, false);
    other_bin_id(known, mine);
    answer a;
    waiter *w = wait_for(&a, mine, LONG_MS, true);
    assert_slot(1, mine, 1);
    ck_assert_uint_eq(atomic_load(&f.shm->w[0].wait_bins[shm_wait_bin(known)]), 0);
    waiter_committed(w, known, true);
    ck_assert_uint_eq(atomic_load(&f.shm->w[0].wait_bins[shm_wait_bin(mine)]), 0);
    assert_slot(1, known, 1);
    efx_must(&f, answered, &a, "the look at the known job");
    ck_assert_int_eq(a.how, WAITER_JOB);
    ck_assert_str_eq(a.j.id, known);
    ck_assert_int_eq(a.j.state, JOB_CANCELLED);
    assert_bins_empty();
    job_release(&a.j);
}
END_TEST

START_TEST(test_committed_known_job_not_final_waits)
{
    char known[JOB_ID_LEN + 1], mine[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, known);
    other_bin_id(known, mine);
    answer a;
    waiter *w = wait_for(&a, mine, LONG_MS, true);
    waiter_committed(w, known, true);
    efx_settle(&f);
    ck_assert_int_eq(a.calls, 0); /* queued: it waits, on the known job's bin */
    assert_slot(1, known, 1);
    cancel_in_store(known, true);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_str_eq(a.j.id, known);
    assert_bins_empty();
    job_release(&a.j);
}
END_TEST

/* News that comes while the job is being committed is not lost. */
START_TEST(test_final_while_committing_is_read_after_the_commit)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id);
    answer a;
    waiter *w = wait_for(&a, id, LONG_MS, true);
    cancel_in_store(id, true); /* claimed and done before submit_done ran */
    ck_assert_int_eq(a.calls, 0);      /* not yet: the submission is not done */
    waiter_committed(w, id, false);
    ck_assert_int_eq(storeq_pending(f.e.sq), 1); /* the news makes it read */
    efx_must(&f, answered, &a, "the read after the commit");
    ck_assert_int_eq(a.j.state, JOB_CANCELLED);
    assert_slot(0, id, 0);
    job_release(&a.j);
}
END_TEST

START_TEST(test_time_up_while_committing_answers_after_the_commit)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id);
    answer a;
    waiter *w = wait_for(&a, id, 1, true);
    efx_run_for(&f, 50); /* its timer fires while the submission is with the store */
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(storeq_pending(f.e.sq), 0);
    waiter_committed(w, id, false);
    efx_must(&f, answered, &a, "the read after the commit");
    ck_assert_int_eq(a.how, WAITER_JOB);
    ck_assert_int_eq(a.j.state, JOB_QUEUED); /* as it is */
    assert_slot(0, id, 0);
    job_release(&a.j);
}
END_TEST

START_TEST(test_failed_submission_answers_the_error)
{
    char id[JOB_ID_LEN + 1];
    ck_assert_int_eq(job_new_id(id), 0);
    answer a;
    waiter *w = wait_for(&a, id, LONG_MS, true);
    assert_slot(1, id, 1);
    waiter_failed(w, "database is locked");
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.how, WAITER_STORE_ERROR);
    ck_assert_str_eq(a.err, "database is locked");
    assert_slot(0, id, 0);
    ck_assert_int_eq(storeq_pending(f.e.sq), 0);
}
END_TEST

START_TEST(test_abandon_when_idle_ends_it_at_once)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id);
    answer a;
    waiter *w = wait_for(&a, id, LONG_MS, false);
    efx_settle(&f);
    assert_slot(1, id, 1);
    waiter_abandon(w);
    assert_slot(0, id, 0);
    cancel_in_store(id, true);
    ck_assert_int_eq(a.calls, 0);
}
END_TEST

START_TEST(test_abandon_while_reading_ends_it_when_the_read_is_back)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id);
    cancel_in_store(id, false); /* the read would answer */
    efx_hold *h = efx_hold_store(&f);
    efx_hold_wait(h);
    answer a;
    waiter *w = wait_for(&a, id, LONG_MS, false);
    waiter_abandon(w);
    assert_slot(1, id, 1); /* the read in flight refers to it */
    efx_unhold(h);
    efx_settle(&f);
    ck_assert_int_eq(a.calls, 0);
    assert_slot(0, id, 0);
}
END_TEST

START_TEST(test_abandon_while_committing)
{
    char id[JOB_ID_LEN + 1], id2[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id);
    ck_assert_int_eq(job_new_id(id2), 0);
    answer a, b;
    waiter *w = wait_for(&a, id, LONG_MS, true);
    waiter *w2 = wait_for(&b, id2, LONG_MS, true);
    ck_assert_int_eq(waiters_count(&f.e), 2);
    waiter_abandon(w);
    waiter_abandon(w2);
    ck_assert_int_eq(waiters_count(&f.e), 2); /* the submissions still refer to them */
    waiter_committed(w, id, true);           /* committed: no read, no answer */
    ck_assert_int_eq(storeq_pending(f.e.sq), 0);
    waiter_failed(w2, "disk full");          /* failed: no answer either */
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(b.calls, 0);
    assert_bins_empty();
    ck_assert_int_eq(waiters_count(&f.e), 0);
}
END_TEST

START_TEST(test_drain_answers_every_waiter_as_it_is)
{
    char id[JOB_ID_LEN + 1], id2[JOB_ID_LEN + 1], id3[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id);
    efx_queue_job(&f, "fib", NULL, 0, id2);
    efx_queue_job(&f, "fib", NULL, 0, id3);
    answer a, b, c;
    wait_for(&a, id, LONG_MS, false);
    wait_for(&b, id2, LONG_MS, false);
    efx_settle(&f); /* both IDLE */
    waiter *w3 = wait_for(&c, id3, LONG_MS, true); /* COMMITTING */
    ck_assert_int_eq(waiters_count(&f.e), 3);
    waiters_drain(&f.e);
    efx_settle(&f);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(a.how, WAITER_JOB);
    ck_assert_int_eq(a.j.state, JOB_QUEUED);
    ck_assert_str_eq(b.j.id, id2);
    ck_assert_int_eq(c.calls, 0); /* its submission is not done */
    waiter_committed(w3, id3, false); /* time is up: read at once */
    efx_must(&f, answered, &c, "the committed waiter's read");
    ck_assert_int_eq(c.j.state, JOB_QUEUED);
    assert_bins_empty();
    job_release(&a.j);
    job_release(&b.j);
    job_release(&c.j);
}
END_TEST

START_TEST(test_wait_bins_count_waiters_per_job)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 0, id);
    enum { N = 5 };
    answer a[N];
    for (int i = 0; i < N; i++) {
        wait_for(&a[i], id, LONG_MS, false);
        assert_slot(i + 1, id, (unsigned)i + 1);
    }
    efx_settle(&f);
    cancel_in_store(id, true);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(a[i].calls, 1);
        ck_assert_int_eq(a[i].j.state, JOB_CANCELLED);
        job_release(&a[i].j);
    }
    assert_bins_empty();
}
END_TEST

static Suite *waiters_suite(void)
{
    Suite *s = suite_create("waiters");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_answered_when_the_engine_says_final);
    tcase_add_test(tc, test_answered_as_it_is_when_time_is_up);
    tcase_add_test(tc, test_a_final_job_is_answered_at_the_first_read);
    tcase_add_test(tc, test_a_job_that_is_gone_is_not_found);
    tcase_add_test(tc, test_news_during_a_read_means_one_more_read);
    tcase_add_test(tc, test_news_when_idle_reads_again);
    tcase_add_test(tc, test_answered_while_reading_is_answered_once);
    tcase_add_test(tc, test_committing_then_committed_waits_for_news);
    tcase_add_test(tc, test_committed_as_another_job_moves_the_wait_bin);
    tcase_add_test(tc, test_committed_known_job_not_final_waits);
    tcase_add_test(tc, test_final_while_committing_is_read_after_the_commit);
    tcase_add_test(tc, test_time_up_while_committing_answers_after_the_commit);
    tcase_add_test(tc, test_failed_submission_answers_the_error);
    tcase_add_test(tc, test_abandon_when_idle_ends_it_at_once);
    tcase_add_test(tc, test_abandon_while_reading_ends_it_when_the_read_is_back);
    tcase_add_test(tc, test_abandon_while_committing);
    tcase_add_test(tc, test_drain_answers_every_waiter_as_it_is);
    tcase_add_test(tc, test_wait_bins_count_waiters_per_job);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(waiters_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
