/* Unit tests for worker/engine/bell.c: rings between workers (claim bits,
 * notes, wake-up datagrams) and what answering the bell calls. Other
 * workers are fake: a slot in the shared region and a bound wake-up
 * socket. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bell.h"
#include "engine_fixture.h"
#include "wake.h"

#define FAKE_PID 3900001 /* fake workers' pids: names of sockets, no processes */
#define NFAKE 3

static efx f;
static int fake_fd[NFAKE + 1]; /* by slot; [0] unused */

/* What the handlers were called with. */
static struct calls {
    int claim[FN_NKINDS];
    int job_changed, stop_job, notes_lost;
    char changed_id[SHM_NOTE_ID], stop_id[SHM_NOTE_ID];
} calls;

static void on_claim(engine *e, fn_kind kind) { calls.claim[kind]++; }
static void on_job_changed(engine *e, const char *id)
{
    calls.job_changed++;
    snprintf(calls.changed_id, sizeof(calls.changed_id), "%s", id);
}
static void on_stop_job(engine *e, const char *id)
{
    calls.stop_job++;
    snprintf(calls.stop_id, sizeof(calls.stop_id), "%s", id);
}
static void on_notes_lost(engine *e) { calls.notes_lost++; }

static const bell_handlers test_handlers = {
    .claim = on_claim,
    .job_changed = on_job_changed,
    .stop_job = on_stop_job,
    .notes_lost = on_notes_lost,
};

static void setup(void)
{
    efx_setup(&f);
    /* The engine's own handlers make way for the test's. */
    bell_close(&f.e);
    ck_assert_int_eq(bell_open(&f.e, &test_handlers), 0);
    memset(&calls, 0, sizeof(calls));
    for (int i = 1; i <= NFAKE; i++)
        fake_fd[i] = efx_fake_worker(&f, i, FAKE_PID + i);
}

static void teardown(void)
{
    for (int i = 1; i <= NFAKE; i++)
        if (fake_fd[i] >= 0)
            close(fake_fd[i]);
    efx_teardown(&f);
}

static shm_worker *slot(int i) { return &f.shm->w[i]; }

static void set_free(int i, int cpu, int io)
{
    atomic_store(&slot(i)->free_cpu, cpu);
    atomic_store(&slot(i)->free_io, io);
}

/* Datagrams on each fake worker's socket since the last look. */
static void rings(int got[NFAKE + 1])
{
    for (int i = 1; i <= NFAKE; i++)
        got[i] = efx_wake_count(fake_fd[i]);
}

START_TEST(test_wake_idle_rings_one_worker_with_a_free_lane)
{
    ck_assert_int_gt(atomic_load(&f.e.me->free_cpu), 0); /* ours do not count */
    set_free(1, 0, 0);
    set_free(2, 1, 0);
    set_free(3, 2, 0);
    bell_wake_idle(&f.e, FN_CPU);
    int got[NFAKE + 1];
    rings(got);
    ck_assert_int_eq(got[1], 0);
    ck_assert_int_eq(got[2] + got[3], 1);
    int rung = got[2] ? 2 : 3;
    ck_assert_int_eq(atomic_load(&slot(rung)->claim_bits), 1 << FN_CPU);
    ck_assert_int_eq(atomic_load(&slot(rung)->bell), 1);
    ck_assert_int_eq(atomic_load(&slot(5 - rung)->claim_bits), 0);
    ck_assert_int_eq(atomic_load(&slot(1)->claim_bits), 0);
    ck_assert_int_eq(atomic_load(&f.e.me->claim_bits), 0);
    ck_assert_int_eq(calls.claim[FN_CPU], 0);
}
END_TEST

START_TEST(test_wake_idle_rings_nobody_without_a_free_lane)
{
    set_free(1, 0, 2);
    set_free(2, 0, 0);
    set_free(3, -1, 0); /* a claim holds more than is free */
    bell_wake_idle(&f.e, FN_CPU);
    int got[NFAKE + 1];
    rings(got);
    for (int i = 1; i <= NFAKE; i++) {
        ck_assert_int_eq(got[i], 0);
        ck_assert_int_eq(atomic_load(&slot(i)->claim_bits), 0);
        ck_assert_int_eq(atomic_load(&slot(i)->bell), 0);
    }
    bell_wake_idle(&f.e, FN_IO); /* slot 1 has free io lanes */
    rings(got);
    ck_assert_int_eq(got[1], 1);
    ck_assert_int_eq(got[2] + got[3], 0);
    ck_assert_int_eq(atomic_load(&slot(1)->claim_bits), 1 << FN_IO);
}
END_TEST

/* A ring that finds the bell set adds its claim bits; the datagram on its
 * way covers it. */
START_TEST(test_a_bell_already_set_gets_no_second_datagram)
{
    set_free(1, 1, 1);
    set_free(2, 0, 0);
    set_free(3, 0, 0);
    bell_wake_idle(&f.e, FN_CPU);
    bell_wake_idle(&f.e, FN_IO);
    bell_wake_idle(&f.e, FN_CPU);
    int got[NFAKE + 1];
    rings(got);
    ck_assert_int_eq(got[1], 1);
    ck_assert_int_eq(atomic_load(&slot(1)->claim_bits), (1 << FN_CPU) | (1 << FN_IO));
    /* The worker answered (cleared its bell): the next ring sends again. */
    atomic_store(&slot(1)->bell, 0);
    bell_wake_idle(&f.e, FN_CPU);
    rings(got);
    ck_assert_int_eq(got[1], 1);
}
END_TEST

/* A worker whose socket is gone is skipped, and its bell left clear for a
 * later ring. */
START_TEST(test_wake_idle_skips_a_worker_it_cannot_reach)
{
    close(fake_fd[1]); /* worker 1 is gone (its socket with it) */
    fake_fd[1] = -1;
    wake_forget(FAKE_PID + 1);
    set_free(1, 3, 0);
    set_free(2, 0, 0);
    set_free(3, 0, 0);
    bell_wake_idle(&f.e, FN_CPU);
    ck_assert_int_eq(atomic_load(&slot(1)->bell), 0); /* clear for a later ring */
    set_free(2, 1, 0);
    for (int i = 0; i < 8; i++) { /* whichever it tries first, worker 2 is rung once */
        bell_wake_idle(&f.e, FN_CPU);
        ck_assert_int_eq(efx_wake_count(fake_fd[2]), i == 0);
        ck_assert_int_eq(atomic_load(&slot(1)->bell), 0);
        ck_assert_int_eq(atomic_load(&slot(2)->bell), 1);
    }
    ck_assert_int_eq(efx_wake_count(fake_fd[3]), 0);
}
END_TEST

static void set_waiting(int i, int n, const char *id)
{
    atomic_store(&slot(i)->waiters, n);
    if (id)
        atomic_fetch_add(&slot(i)->wait_bins[shm_wait_bin(id)], 1);
}

/* A fresh id whose wait bin differs from other's. */
static void other_bin_id(const char *other, char id[JOB_ID_LEN + 1])
{
    do
        ck_assert_int_eq(job_new_id(id), 0);
    while (shm_wait_bin(id) == shm_wait_bin(other));
}

START_TEST(test_job_final_rings_only_workers_that_wait_on_its_bin)
{
    char id[JOB_ID_LEN + 1], other[JOB_ID_LEN + 1];
    ck_assert_int_eq(job_new_id(id), 0);
    other_bin_id(id, other);
    set_waiting(1, 1, id);    /* waits on it */
    set_waiting(2, 3, other); /* waits on another job's bin */
    set_waiting(3, 0, id);    /* a stale bin, no long-poll held */
    uint64_t seq = atomic_load(&f.shm->jobs.note_seq);
    bell_job_final(&f.e, id);
    ck_assert_uint_eq(atomic_load(&f.shm->jobs.note_seq), seq + 1);
    pid_t pid = -1;
    char note[SHM_NOTE_ID];
    ck_assert_int_eq(shm_note_read(f.shm, seq, &pid, note), 1);
    ck_assert_int_eq(pid, 0); /* "final", for whoever waits */
    ck_assert_str_eq(note, id);
    int got[NFAKE + 1];
    rings(got);
    ck_assert_int_eq(got[1], 1);
    ck_assert_int_eq(got[2], 0);
    ck_assert_int_eq(got[3], 0);
    /* Nobody waits on it: no note at all. */
    char third[JOB_ID_LEN + 1];
    other_bin_id(id, third);
    while (shm_wait_bin(third) == shm_wait_bin(other))
        other_bin_id(id, third);
    bell_job_final(&f.e, third);
    ck_assert_uint_eq(atomic_load(&f.shm->jobs.note_seq), seq + 1);
    rings(got);
    ck_assert_int_eq(got[1] + got[2] + got[3], 0);
    /* Our own long-polls are the engine's business (waiters.h), not the bell's. */
    set_waiting(1, 0, NULL);
    atomic_store(&f.e.me->waiters, 1);
    atomic_fetch_add(&f.e.me->wait_bins[shm_wait_bin(third)], 1);
    bell_job_final(&f.e, third);
    ck_assert_uint_eq(atomic_load(&f.shm->jobs.note_seq), seq + 1);
    atomic_store(&f.e.me->waiters, 0);
}
END_TEST

START_TEST(test_stop_job_notes_and_rings_its_owner)
{
    char id[JOB_ID_LEN + 1];
    ck_assert_int_eq(job_new_id(id), 0);
    uint64_t seq = atomic_load(&f.shm->jobs.note_seq);
    bell_stop_job(&f.e, FAKE_PID + 2, id);
    pid_t pid = -1;
    char note[SHM_NOTE_ID];
    ck_assert_int_eq(shm_note_read(f.shm, seq, &pid, note), 1);
    ck_assert_int_eq(pid, FAKE_PID + 2);
    ck_assert_str_eq(note, id);
    int got[NFAKE + 1];
    rings(got);
    ck_assert_int_eq(got[1], 0);
    ck_assert_int_eq(got[2], 1);
    ck_assert_int_eq(got[3], 0);
}
END_TEST

START_TEST(test_answer_calls_the_handlers)
{
    char a[JOB_ID_LEN + 1], b[JOB_ID_LEN + 1], c[JOB_ID_LEN + 1];
    ck_assert_int_eq(job_new_id(a), 0);
    ck_assert_int_eq(job_new_id(b), 0);
    ck_assert_int_eq(job_new_id(c), 0);
    atomic_store(&f.e.me->bell, 1);
    atomic_store(&f.e.me->claim_bits, (1 << FN_CPU) | (1 << FN_IO));
    shm_note_write(f.shm, 0, a);             /* a became final somewhere */
    shm_note_write(f.shm, f.e.pid, b);       /* stop b: ours */
    shm_note_write(f.shm, FAKE_PID + 1, c);  /* stop c: another worker's */
    bell_answer(&f.e);
    ck_assert_int_eq(atomic_load(&f.e.me->bell), 0);
    ck_assert_int_eq(atomic_load(&f.e.me->claim_bits), 0);
    ck_assert_int_eq(calls.claim[FN_CPU], 1);
    ck_assert_int_eq(calls.claim[FN_IO], 1);
    ck_assert_int_eq(calls.job_changed, 1);
    ck_assert_str_eq(calls.changed_id, a);
    ck_assert_int_eq(calls.stop_job, 1);
    ck_assert_str_eq(calls.stop_id, b);
    ck_assert_int_eq(calls.notes_lost, 0);
    /* Read once: a second look finds nothing new. */
    bell_answer(&f.e);
    ck_assert_int_eq(calls.claim[FN_CPU] + calls.claim[FN_IO], 2);
    ck_assert_int_eq(calls.job_changed + calls.stop_job, 2);
    atomic_store(&f.e.me->claim_bits, 1 << FN_IO);
    bell_answer(&f.e);
    ck_assert_int_eq(calls.claim[FN_CPU], 1);
    ck_assert_int_eq(calls.claim[FN_IO], 2);
}
END_TEST

static bool claimed(void *arg) { return calls.claim[FN_CPU] > 0; }

/* The datagram on our socket makes the loop answer. */
START_TEST(test_a_datagram_makes_the_loop_answer)
{
    atomic_store(&f.e.me->claim_bits, 1 << FN_CPU);
    atomic_store(&f.e.me->bell, 1);
    ck_assert_int_eq(wake_send(f.e.pid, WAKE_BELL, NULL, 0), 0);
    efx_must(&f, claimed, NULL, "the bell to be answered");
    ck_assert_int_eq(calls.claim[FN_CPU], 1);
    ck_assert_int_eq(calls.claim[FN_IO], 0);
    ck_assert_int_eq(atomic_load(&f.e.me->bell), 0);
}
END_TEST

START_TEST(test_a_reader_a_ring_behind_is_told_notes_were_lost)
{
    char id[JOB_ID_LEN + 1];
    ck_assert_int_eq(job_new_id(id), 0);
    for (int i = 0; i < SHM_NOTE_RING + 1; i++)
        shm_note_write(f.shm, 0, id);
    bell_answer(&f.e);
    ck_assert_int_eq(calls.notes_lost, 1);
    ck_assert_int_eq(calls.job_changed, 0);
    /* Caught up: the next note is read as usual. */
    shm_note_write(f.shm, f.e.pid, id);
    bell_answer(&f.e);
    ck_assert_int_eq(calls.notes_lost, 1);
    ck_assert_int_eq(calls.stop_job, 1);
    /* A whole ring (and not more) behind is not lost. */
    for (int i = 0; i < SHM_NOTE_RING; i++)
        shm_note_write(f.shm, 0, id);
    bell_answer(&f.e);
    ck_assert_int_eq(calls.notes_lost, 1);
    ck_assert_int_eq(calls.job_changed, SHM_NOTE_RING);
}
END_TEST

/* After a reload the slot is another process's: the old one leaves its
 * bell and claim bits alone. */
START_TEST(test_answer_only_while_the_slot_is_ours)
{
    atomic_store(&f.e.me->claim_bits, 1 << FN_CPU);
    atomic_store(&f.e.me->bell, 1);
    atomic_store(&f.e.me->pid, FAKE_PID + 99);
    bell_answer(&f.e);
    ck_assert_int_eq(calls.claim[FN_CPU], 0);
    ck_assert_int_eq(atomic_load(&f.e.me->claim_bits), 1 << FN_CPU);
    ck_assert_int_eq(atomic_load(&f.e.me->bell), 1);
    atomic_store(&f.e.me->pid, f.e.pid);
    /* bell_start: a bell an earlier incarnation never answered is cleared
     * and what it was about looked at. */
    bell_start(&f.e);
    ck_assert_int_eq(calls.claim[FN_CPU], 1);
    ck_assert_int_eq(atomic_load(&f.e.me->bell), 0);
}
END_TEST

static Suite *bell_suite(void)
{
    Suite *s = suite_create("bell");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_wake_idle_rings_one_worker_with_a_free_lane);
    tcase_add_test(tc, test_wake_idle_rings_nobody_without_a_free_lane);
    tcase_add_test(tc, test_a_bell_already_set_gets_no_second_datagram);
    tcase_add_test(tc, test_wake_idle_skips_a_worker_it_cannot_reach);
    tcase_add_test(tc, test_job_final_rings_only_workers_that_wait_on_its_bin);
    tcase_add_test(tc, test_stop_job_notes_and_rings_its_owner);
    tcase_add_test(tc, test_answer_calls_the_handlers);
    tcase_add_test(tc, test_a_datagram_makes_the_loop_answer);
    tcase_add_test(tc, test_a_reader_a_ring_behind_is_told_notes_were_lost);
    tcase_add_test(tc, test_answer_only_while_the_slot_is_ours);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bell_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
