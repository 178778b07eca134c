/* Unit tests for worker/engine/lanes.c: busy, promised and free counts, and
 * what a worker publishes of them in its slot of the shared region. */
#include <check.h>
#include <stdlib.h>

#include "claims.h"
#include "engine_fixture.h"
#include "figures.h"
#include "lanes.h"

#define CPU_LANES 2
#define IO_LANES 3

static efx f;

static void setup(void)
{
    efx_prepare(&f);
    f.cfg.cpu_threads = CPU_LANES;
    f.cfg.io_threads = IO_LANES;
    efx_start(&f);
}

static void teardown(void) { efx_teardown(&f); }

static int published(fn_kind kind)
{
    const shm_worker *me = &f.shm->w[0];
    return atomic_load(kind == FN_CPU ? &me->free_cpu : &me->free_io);
}

START_TEST(test_sizes_from_config_and_published_at_start)
{
    ck_assert_int_eq(lanes_free(&f.e, FN_CPU), CPU_LANES);
    ck_assert_int_eq(lanes_free(&f.e, FN_IO), IO_LANES);
    ck_assert(!lanes_all_busy(&f.e, FN_CPU));
    ck_assert_int_eq(published(FN_CPU), CPU_LANES);
    ck_assert_int_eq(published(FN_IO), IO_LANES);
}
END_TEST

START_TEST(test_acquire_and_release_count_busy_and_publish)
{
    engine *e = &f.e;
    lanes_acquire(e, FN_CPU);
    ck_assert_int_eq(e->lanes.busy[FN_CPU], 1);
    ck_assert_int_eq(lanes_free(e, FN_CPU), CPU_LANES - 1);
    ck_assert_int_eq(published(FN_CPU), CPU_LANES - 1);
    ck_assert_int_eq(published(FN_IO), IO_LANES); /* the other kind is untouched */
    ck_assert(!lanes_all_busy(e, FN_CPU));
    lanes_acquire(e, FN_CPU);
    ck_assert(lanes_all_busy(e, FN_CPU));
    ck_assert(!lanes_all_busy(e, FN_IO));
    ck_assert_int_eq(lanes_free(e, FN_CPU), 0);
    ck_assert_int_eq(published(FN_CPU), 0);
    /* More tasks than lanes: they queue in the pool and count as busy. */
    lanes_acquire(e, FN_CPU);
    ck_assert_int_eq(lanes_free(e, FN_CPU), -1);
    ck_assert(lanes_all_busy(e, FN_CPU));
    for (int i = 0; i < 3; i++)
        lanes_release(e, FN_CPU);
    ck_assert_int_eq(e->lanes.busy[FN_CPU], 0);
    ck_assert_int_eq(lanes_free(e, FN_CPU), CPU_LANES);
    ck_assert_int_eq(published(FN_CPU), CPU_LANES);
    efx_settle(&f);
}
END_TEST

START_TEST(test_promises_count_against_free_not_busy)
{
    engine *e = &f.e;
    lanes_promise(e, FN_IO, 2);
    ck_assert_int_eq(lanes_free(e, FN_IO), IO_LANES - 2);
    ck_assert_int_eq(published(FN_IO), IO_LANES - 2);
    ck_assert(!lanes_all_busy(e, FN_IO)); /* promises aside */
    lanes_acquire(e, FN_IO);
    ck_assert_int_eq(lanes_free(e, FN_IO), 0);
    /* A claim may hold more than is free (prefetch): free goes below 0. */
    lanes_promise(e, FN_IO, IO_LANES + 5);
    ck_assert_int_eq(lanes_free(e, FN_IO), -1 - 5);
    ck_assert_int_lt(published(FN_IO), 1); /* nobody wakes us for io jobs */
    lanes_unpromise(e, FN_IO);
    ck_assert_int_eq(lanes_free(e, FN_IO), IO_LANES - 1);
    lanes_publish(e);
    ck_assert_int_eq(published(FN_IO), IO_LANES - 1);
    lanes_release(e, FN_IO);
    ck_assert_int_eq(published(FN_IO), IO_LANES);
    efx_settle(&f);
}
END_TEST

START_TEST(test_draining_publishes_no_free_lane)
{
    engine *e = &f.e;
    engine_drain(e);
    ck_assert_int_eq(published(FN_CPU), 0);
    ck_assert_int_eq(published(FN_IO), 0);
    /* The counts themselves stay true: running tasks still end. */
    ck_assert_int_eq(lanes_free(e, FN_CPU), CPU_LANES);
    lanes_acquire(e, FN_CPU);
    ck_assert_int_eq(published(FN_CPU), 0);
    lanes_release(e, FN_CPU);
    ck_assert_int_eq(published(FN_CPU), 0);
    lanes_publish(e);
    ck_assert_int_eq(published(FN_IO), 0);
    ck_assert_int_eq(atomic_load(&f.shm->w[0].state), SHM_W_DRAINING);
    efx_settle(&f);
}
END_TEST

START_TEST(test_publishes_only_while_the_slot_is_ours)
{
    engine *e = &f.e;
    /* A reload: a new process took the slot while this one drains. */
    atomic_store(&f.shm->w[0].pid, (int)e->pid + 1);
    atomic_store(&f.shm->w[0].free_cpu, 7);
    lanes_acquire(e, FN_CPU);
    ck_assert_int_eq(lanes_free(e, FN_CPU), CPU_LANES - 1);
    ck_assert_int_eq(published(FN_CPU), 7); /* the new process's figure stays */
    lanes_release(e, FN_CPU);
    ck_assert_int_eq(published(FN_CPU), 7);
    atomic_store(&f.shm->w[0].pid, (int)e->pid);
    lanes_publish(e);
    ck_assert_int_eq(published(FN_CPU), CPU_LANES);
    efx_settle(&f);
}
END_TEST

static void set_slot(int slot, pid_t pid, int free_cpu, int free_io)
{
    shm_worker *w = &f.shm->w[slot];
    atomic_store(&w->pid, (int)pid);
    atomic_store(&w->free_cpu, free_cpu);
    atomic_store(&w->free_io, free_io);
    if (atomic_load(&f.shm->nslots) <= slot)
        atomic_store(&f.shm->nslots, slot + 1);
}

START_TEST(test_other_free_looks_at_the_other_slots)
{
    engine *e = &f.e;
    pid_t other = e->pid + 1000;
    /* Alone: our own free lanes do not count. */
    ck_assert_int_gt(published(FN_CPU), 0);
    ck_assert(!lanes_other_free(e, FN_CPU));
    ck_assert(!lanes_other_free(e, FN_IO));
    /* A slot with free lanes but no process (dead, not yet respawned). */
    set_slot(1, 0, 4, 4);
    ck_assert(!lanes_other_free(e, FN_CPU));
    /* Another worker with a free io lane only. */
    set_slot(2, other, 0, 1);
    ck_assert(!lanes_other_free(e, FN_CPU));
    ck_assert(lanes_other_free(e, FN_IO));
    /* ... and one past it with a free cpu lane. */
    set_slot(3, other + 1, 2, 0);
    ck_assert(lanes_other_free(e, FN_CPU));
    /* A negative figure (a claim holds more than is free) is not free. */
    set_slot(3, other + 1, -3, 0);
    ck_assert(!lanes_other_free(e, FN_CPU));
    /* Slots past nslots are not looked at (a TTOU retired them). */
    set_slot(3, other + 1, 2, 0);
    atomic_store(&f.shm->nslots, 3);
    ck_assert(!lanes_other_free(e, FN_CPU));
}
END_TEST

typedef struct final_wait {
    store *st;
    const char *id;
    job j;
} final_wait;

static bool job_is_final(void *arg)
{
    final_wait *w = arg;
    bool found = false;
    job_release(&w->j);
    ck_assert_int_eq(store_get(w->st, w->id, &w->j, &found), 0);
    ck_assert(found);
    return job_state_final(w->j.state);
}

START_TEST(test_release_lets_a_queued_job_be_claimed)
{
    engine *e = &f.e;
    for (int i = 0; i < CPU_LANES; i++)
        lanes_acquire(e, FN_CPU);
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", "{\"n\": 10}", 0, id);
    claims_wake(e, FN_CPU); /* another worker rang: no lane is free */
    efx_settle(&f);
    store *st = efx_store(&f);
    final_wait w = {.st = st, .id = id};
    job_init(&w.j);
    ck_assert(!job_is_final(&w));
    ck_assert_int_eq(w.j.state, JOB_QUEUED);
    lanes_release(e, FN_CPU); /* a lane frees: the queued job is claimed and runs */
    efx_must(&f, job_is_final, &w, "the queued job to run");
    ck_assert_int_eq(w.j.state, JOB_SUCCEEDED);
    ck_assert_int_eq(w.j.worker_pid, e->pid);
    ck_assert_int_eq(json_integer_value(w.j.result), 55); /* fib(10) */
    job_release(&w.j);
    store_close(st);
    lanes_release(e, FN_CPU);
    efx_settle(&f);
}
END_TEST

/* A trivial job runs inline in under a microsecond; its run time still
 * counts as known, so the claims after it take cheap jobs ahead of the free
 * lanes (one transaction for many; when the run time read as 0, every claim
 * took one job, and async jobs/s halved). */
START_TEST(test_trivial_jobs_are_claimed_ahead)
{
    engine *e = &f.e;
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "count", "{\"start\": 0, \"iterations\": 0}", 0, id);
    claims_wake(e, FN_CPU);
    store *st = efx_store(&f);
    final_wait w = {.st = st, .id = id};
    job_init(&w.j);
    efx_must(&f, job_is_final, &w, "the trivial job to run");
    ck_assert_int_eq(w.j.state, JOB_SUCCEEDED);
    job_release(&w.j);
    store_close(st);
    efx_settle(&f);
    ck_assert_int_gt(figures_run_time_us(e), 0);
    efx_hold *h = efx_hold_store(&f); /* keeps the next claim with the store */
    efx_hold_wait(h);
    claims_wake(e, FN_CPU);
    ck_assert_int_eq(lanes_free(e, FN_CPU), CPU_LANES - (CPU_LANES + CLAIMS_PREFETCH_MAX));
    efx_unhold(h);
    efx_settle(&f);
}
END_TEST

static Suite *lanes_suite(void)
{
    Suite *s = suite_create("lanes");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sizes_from_config_and_published_at_start);
    tcase_add_test(tc, test_acquire_and_release_count_busy_and_publish);
    tcase_add_test(tc, test_promises_count_against_free_not_busy);
    tcase_add_test(tc, test_draining_publishes_no_free_lane);
    tcase_add_test(tc, test_publishes_only_while_the_slot_is_ours);
    tcase_add_test(tc, test_other_free_looks_at_the_other_slots);
    tcase_add_test(tc, test_release_lets_a_queued_job_be_claimed);
    tcase_add_test(tc, test_trivial_jobs_are_claimed_ahead);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lanes_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
