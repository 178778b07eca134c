/*
 * check_store_contract_write.c - the store contract (store.h), part 2, for
 * every backend built in: reaping the jobs of a dead worker and at start-up,
 * purge, idempotency keys, counts, results of every JSON type, and
 * store_write (completions, submissions and claims in one batch, all or
 * nothing). Part 1 is check_store_contract.c.
 */
#include "store_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ====================================================================== */
/* store: reaping                                                         */
/* ====================================================================== */

typedef struct seen_final {
    int n;
    char ids[16][JOB_ID_LEN + 1];
    job_state states[16];
    char codes[16][32];
} seen_final;

static void on_final(const job *j, void *arg)
{
    seen_final *s = arg;
    if (s->n < 16) {
        snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", j->id);
        s->states[s->n] = j->state;
        snprintf(s->codes[s->n], sizeof(s->codes[0]), "%s", j->error_code);
    }
    s->n++;
}

START_TEST(test_reap_retries)
{
    job a, c[1], b;
    int requeued = -1, failed = -1;
    seen_final seen = {0};
    must_submit(&a, "count", FN_CPU, NULL, 1);
    must_claim(FN_CPU, 2, 1, 1, c, 1);
    job_release(&c[0]);
    MUST(store_reap(st, 2, 1, on_final, &seen, &requeued, &failed));
    ck_assert_int_eq(requeued, 1);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(seen.n, 0);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_QUEUED);
    ck_assert_int_eq(b.attempts, 1);
    ck_assert_int_eq(b.owner_slot, -1);
    ck_assert_int_eq(b.worker_pid, 0);
    ck_assert(b.started_at_us == 0 && b.deadline_us == 0 && b.finished_at_us == 0);
    job_release(&b);

    /* Second attempt on another worker; it dies too: no retries left. */
    must_claim(FN_CPU, 2, 2, 1, c, 1);
    ck_assert_str_eq(c[0].id, a.id);
    ck_assert_int_eq(c[0].attempts, 2);
    job_release(&c[0]);
    MUST(store_reap(st, 2, 2, on_final, &seen, &requeued, &failed));
    ck_assert_int_eq(requeued, 0);
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(seen.n, 1);
    ck_assert_str_eq(seen.ids[0], a.id);
    ck_assert_int_eq(seen.states[0], JOB_FAILED);
    ck_assert_str_eq(seen.codes[0], "worker_lost");
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_FAILED);
    ck_assert_int_eq(b.attempts, 2);
    ck_assert_str_eq(b.error_code, "worker_lost");
    ck_assert_msg(strstr(b.error_message, "(pid 1002)") != NULL, "%s", b.error_message);
    ck_assert(b.finished_at_us > 0);
    ck_assert(b.run_us == -1);
    job_release(&b);
    job_release(&a);
}
END_TEST

START_TEST(test_reap_only_dead_slot)
{
    job a[4], c[1], b;
    int requeued = -1, failed = -1;
    for (int i = 0; i < 4; i++)
        must_submit(&a[i], "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1); /* a0: slot 0, incarnation 1 (dead) */
    job_release(&c[0]);
    must_claim(FN_CPU, 1, 1, 1, c, 1); /* a1: slot 1, alive */
    job_release(&c[0]);
    must_claim(FN_CPU, 0, 2, 1, c, 1); /* a2: slot 0's next incarnation */
    job_release(&c[0]);
    /* a3 stays queued. */
    MUST(store_reap(st, 0, 1, NULL, NULL, &requeued, &failed));
    ck_assert_int_eq(requeued, 0);
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(state_of(a[0].id), JOB_FAILED);
    ck_assert_int_eq(state_of(a[1].id), JOB_RUNNING);
    ck_assert_int_eq(state_of(a[2].id), JOB_RUNNING);
    ck_assert_int_eq(state_of(a[3].id), JOB_QUEUED);
    /* Only that incarnation: during a reload an older process of the same
     * slot may still be draining its jobs. */
    MUST(store_reap(st, 0, 5, NULL, NULL, NULL, &failed));
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(state_of(a[2].id), JOB_RUNNING);
    MUST(store_reap(st, 0, 2, NULL, NULL, NULL, &failed));
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(state_of(a[2].id), JOB_FAILED);
    ck_assert_int_eq(state_of(a[1].id), JOB_RUNNING);
    must_get(a[0].id, &b);
    ck_assert_str_eq(b.error_code, "worker_lost");
    job_release(&b);
    release_all(a, 4);
}
END_TEST

START_TEST(test_reap_pending_cancel)
{
    job a, c[1], b;
    bool found;
    int requeued = -1, failed = -1;
    seen_final seen = {0};
    must_submit(&a, "count", FN_CPU, NULL, 5); /* retries left, but cancelled */
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    MUST(store_cancel(st, a.id, &b, &found, NULL));
    job_release(&b);
    MUST(store_reap(st, 0, 1, on_final, &seen, &requeued, &failed));
    ck_assert_int_eq(requeued, 0);
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(seen.n, 1);
    ck_assert_int_eq(seen.states[0], JOB_CANCELLED);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_CANCELLED);
    ck_assert_str_eq(b.error_code, "cancelled");
    job_release(&b);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

/* A completion in state queued gives the job back (a language runtime's
 * process died under it): queued again, owner cleared, attempts kept; the
 * next claim counts a second attempt. Only its owner may; a cancel that
 * came meanwhile ends it cancelled instead. */
START_TEST(test_complete_requeue)
{
    job a, c[1], b, out;
    bool applied = false, found;
    must_submit(&a, "fib", FN_CPU, NULL, 1);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    c[0].state = JOB_QUEUED;
    c[0].owner_incarnation = 2; /* not the owner: nothing */
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(!applied);
    c[0].owner_incarnation = 1;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_QUEUED);
    ck_assert_int_eq(b.attempts, 1);
    ck_assert_int_eq(b.worker_pid, 0);
    ck_assert(b.started_at_us == 0 && b.finished_at_us == 0);
    ck_assert_str_eq(b.error_code, "");
    job_release(&b);
    job_release(&c[0]);
    must_claim(FN_CPU, 1, 1, 1, c, 1);
    ck_assert_int_eq(c[0].attempts, 2);
    /* Again, with a cancel requested meanwhile: cancelled. */
    MUST(store_cancel(st, a.id, &out, &found, NULL));
    job_release(&out);
    c[0].state = JOB_QUEUED;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_CANCELLED);
    ck_assert_str_eq(b.error_code, "cancelled");
    ck_assert(b.finished_at_us > 0);
    job_release(&a);
    job_release(&b);
    job_release(&c[0]);
}
END_TEST

START_TEST(test_reap_all)
{
    job a[5], c[2];
    int requeued = -1, failed = -1;
    seen_final seen = {0};
    for (int i = 0; i < 5; i++)
        must_submit(&a[i], "count", FN_CPU, NULL, i < 2 ? 1 : 0);
    must_claim(FN_CPU, 0, 1, 2, c, 2); /* a0, a1: retries 1 */
    release_all(c, 2);
    must_claim(FN_CPU, 7, 3, 2, c, 2); /* a2, a3: no retries */
    release_all(c, 2);
    /* a4 stays queued: reap_all leaves it alone. */
    store_close(st); /* the server restarts */
    st = must_open_cfg(&store_cfg);
    MUST(store_reap_all(st, on_final, &seen, &requeued, &failed));
    ck_assert_int_eq(requeued, 2);
    ck_assert_int_eq(failed, 2);
    ck_assert_int_eq(seen.n, 2);
    ck_assert_int_eq(state_of(a[0].id), JOB_QUEUED);
    ck_assert_int_eq(state_of(a[1].id), JOB_QUEUED);
    ck_assert_int_eq(state_of(a[2].id), JOB_FAILED);
    ck_assert_int_eq(state_of(a[3].id), JOB_FAILED);
    ck_assert_int_eq(state_of(a[4].id), JOB_QUEUED);
    job b;
    must_get(a[2].id, &b);
    ck_assert_str_eq(b.error_code, "worker_lost");
    ck_assert_msg(strstr(b.error_message, "restarted") != NULL, "%s", b.error_message);
    job_release(&b);
    /* Requeued jobs keep their place at the head of the queue. */
    must_claim(FN_CPU, 0, 2, 2, c, 2);
    ck_assert_str_eq(c[0].id, a[0].id);
    ck_assert_str_eq(c[1].id, a[1].id);
    release_all(c, 2);
    MUST(store_reap_all(st, NULL, NULL, &requeued, &failed)); /* attempts 2 > retries 1 */
    ck_assert_int_eq(requeued, 0);
    ck_assert_int_eq(failed, 2);
    release_all(a, 5);
}
END_TEST

/* ====================================================================== */
/* store: purge, idempotency, list, counts                                */
/* ====================================================================== */

/* Makes a finished job with finished_at = at (wall us). */
static void finished_at(job *a, int64_t at)
{
    job c[1];
    bool applied = false;
    must_submit(a, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    c[0].state = JOB_SUCCEEDED;
    c[0].finished_at_us = at;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    job_release(&c[0]);
}

START_TEST(test_purge_ttl)
{
    const int64_t now = 1795777529000000LL, s = 1000000;
    job old, edge, young, queued, running, c[1], b;
    int purged = -1;
    bool found = true;
    finished_at(&old, now - 100 * s);
    finished_at(&edge, now - 60 * s); /* exactly ttl: kept */
    finished_at(&young, now - 10 * s);
    must_submit(&running, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    job_release(&c[0]);
    must_submit(&queued, "count", FN_CPU, NULL, 0);
    MUST(store_purge(st, now, 60, &purged));
    ck_assert_int_eq(purged, 1);
    MUST(store_get(st, old.id, &b, &found));
    ck_assert(!found);
    ck_assert_int_eq(state_of(edge.id), JOB_SUCCEEDED);
    ck_assert_int_eq(state_of(young.id), JOB_SUCCEEDED);
    ck_assert_int_eq(state_of(queued.id), JOB_QUEUED);
    ck_assert_int_eq(state_of(running.id), JOB_RUNNING);
    /* Far in the future: only final jobs go. */
    MUST(store_purge(st, now + 1000 * s, 60, &purged));
    ck_assert_int_eq(purged, 2);
    ck_assert_int_eq(state_of(queued.id), JOB_QUEUED);
    ck_assert_int_eq(state_of(running.id), JOB_RUNNING);
    MUST(store_purge(st, now + 1000 * s, 60, &purged));
    ck_assert_int_eq(purged, 0);
    ck_assert_int_eq(store_purge(st, now, -1, &purged), -1);
    job_release(&old);
    job_release(&edge);
    job_release(&young);
    job_release(&queued);
    job_release(&running);
}
END_TEST

START_TEST(test_purge_batches)
{
    enum { N = 4500 };
    job c[64];
    int purged = 0, n;
    for (int i = 0; i < N; i++) {
        job a;
        must_submit(&a, "count", FN_IO, NULL, 0);
        job_release(&a);
    }
    for (int done = 0; done < N; done += n) {
        MUST(store_claim(st, FN_IO, 0, 1, 1, 64, c, &n));
        ck_assert(n > 0);
        for (int i = 0; i < n; i++) {
            c[i].state = JOB_SUCCEEDED;
            c[i].finished_at_us = 1000;
        }
        MUST(store_complete_many(st, c, n, NULL));
        release_all(c, n);
    }
    MUST(store_purge(st, 2000000, 1, &purged));
    ck_assert_int_eq(purged, N);
    int64_t q = -1, r = -1;
    MUST(store_counts(st, &q, &r));
    ck_assert(q == 0 && r == 0);
}
END_TEST

START_TEST(test_idempotency)
{
    job a, b, c, d;
    bool existing = false;
    must_submit_on(st, &a, "count", FN_CPU, "{\"iterations\": 1}", 0, "key-1");
    /* Same key: the same job, even with other args. */
    job_init(&b);
    snprintf(b.fn, sizeof(b.fn), "count");
    b.args = must_parse("{\"iterations\": 2}");
    snprintf(b.idem_key, sizeof(b.idem_key), "key-1");
    MUST(store_submit(st, &b, &existing));
    ck_assert(existing);
    ck_assert_str_eq(b.id, a.id);
    ck_assert_int_eq(json_integer_value(json_object_get(b.args, "iterations")), 1);
    ck_assert_str_eq(b.idem_key, "key-1");
    /* Another key: another job. */
    must_submit_on(st, &c, "count", FN_CPU, NULL, 0, "key-2");
    ck_assert_str_ne(c.id, a.id);
    /* Still the same job once it is final. */
    job cl[2];
    must_claim(FN_CPU, 0, 1, 2, cl, 2);
    ck_assert(complete_ok(&cl[0], "\"done\""));
    job_init(&d);
    snprintf(d.fn, sizeof(d.fn), "count");
    snprintf(d.idem_key, sizeof(d.idem_key), "key-1");
    MUST(store_submit(st, &d, &existing));
    ck_assert(existing);
    ck_assert_str_eq(d.id, a.id);
    ck_assert_int_eq(d.state, JOB_SUCCEEDED);
    ck_assert_str_eq(json_string_value(d.result), "done");
    job_release(&d);
    /* Purged: the key is free again. */
    int purged = 0;
    MUST(store_purge(st, job_now_us() + 10000000, 1, &purged));
    ck_assert_int_eq(purged, 1);
    job_init(&d);
    snprintf(d.fn, sizeof(d.fn), "count");
    snprintf(d.idem_key, sizeof(d.idem_key), "key-1");
    MUST(store_submit(st, &d, &existing));
    ck_assert(!existing);
    ck_assert_str_ne(d.id, a.id);
    release_all(cl, 2);
    job_release(&a);
    job_release(&b);
    job_release(&c);
    job_release(&d);
}
END_TEST

/* What an Idempotency-Key compares (issue 9 item 16): fn, args after a trip
 * through the store, timeout_ms, retries, callback. */
static void request_of(job *j, const char *fn, const char *args)
{
    job_init(j);
    snprintf(j->fn, sizeof(j->fn), "%s", fn);
    j->args = args ? must_parse(args) : NULL;
    j->timeout_ms = 1000;
    j->retries = 1;
    snprintf(j->callback, sizeof(j->callback), "http://127.0.0.1:9/done");
    snprintf(j->idem_key, sizeof(j->idem_key), "same-request");
}

START_TEST(test_job_same_request)
{
    static const char args[] = "{\"data\":\"x\\u00e9\",\"rounds\":2,\"r\":0.1,\"v\":[1,2.5]}";
    job a, b, stored;
    bool existing = false;
    request_of(&a, "sha256", args);
    request_of(&stored, "sha256", args);
    MUST(store_submit(st, &stored, &existing));
    ck_assert(!existing);
    /* The same request again: the store's job is the same request. */
    request_of(&b, "sha256", "{\"v\":[1,2.5],\"r\":0.1,\"rounds\":2,\"data\":\"x\\u00e9\"}");
    MUST(store_submit(st, &b, &existing));
    ck_assert(existing);
    ck_assert_str_eq(b.id, stored.id);
    ck_assert(job_same_request(&a, &b));
    ck_assert(job_same_request(&b, &a));
    job_release(&b);
    /* Each difference counts. */
    request_of(&b, "sha256", args);
    snprintf(b.fn, sizeof(b.fn), "count");
    ck_assert(!job_same_request(&a, &b));
    job_release(&b);
    request_of(&b, "sha256", "{\"data\":\"x\\u00e9\",\"rounds\":3,\"r\":0.1,\"v\":[1,2.5]}");
    ck_assert(!job_same_request(&a, &b));
    job_release(&b);
    request_of(&b, "sha256",
               "{\"data\":\"x\\u00e9\",\"rounds\":2,\"r\":0.1,\"v\":[1,2.5],\"z\":0}");
    ck_assert(!job_same_request(&a, &b));
    job_release(&b);
    request_of(&b, "sha256", args);
    b.timeout_ms++;
    ck_assert(!job_same_request(&a, &b));
    b.timeout_ms--;
    b.retries = 0;
    ck_assert(!job_same_request(&a, &b));
    b.retries = 1;
    b.callback[0] = '\0';
    ck_assert(!job_same_request(&a, &b));
    job_release(&b);
    /* No args and {} are the same; {} and {"a": 1} are not. */
    job_release(&a);
    request_of(&a, "fib", NULL);
    request_of(&b, "fib", "{}");
    ck_assert(job_same_request(&a, &b));
    ck_assert(job_same_request(&b, &a));
    job_release(&b);
    request_of(&b, "fib", "{\"a\":1}");
    ck_assert(!job_same_request(&a, &b));
    ck_assert(!job_same_request(&b, &a));
    job_release(&a);
    job_release(&b);
    job_release(&stored);
}
END_TEST

START_TEST(test_submit_many)
{
    job prior, b[5], c[8];
    bool existing[5];
    int64_t q = 0;
    must_submit_on(st, &prior, "count", FN_CPU, NULL, 0, "known");
    for (int i = 0; i < 5; i++) {
        job_init(&b[i]);
        snprintf(b[i].fn, sizeof(b[i].fn), "count");
        b[i].args = json_pack("{s:i}", "i", i);
    }
    snprintf(b[1].idem_key, sizeof(b[1].idem_key), "known"); /* in the store */
    snprintf(b[2].idem_key, sizeof(b[2].idem_key), "twice");
    snprintf(b[4].idem_key, sizeof(b[4].idem_key), "twice"); /* same batch */
    MUST(store_submit_many(st, b, 5, existing));
    ck_assert(!existing[0] && existing[1] && !existing[2] && !existing[3] && existing[4]);
    ck_assert_str_eq(b[1].id, prior.id);
    ck_assert_str_eq(b[4].id, b[2].id);
    ck_assert_int_eq(json_integer_value(json_object_get(b[4].args, "i")), 2);
    MUST(store_counts(st, &q, NULL));
    ck_assert_int_eq(q, 4); /* prior, b0, b2, b3 */
    /* FIFO within the batch. */
    must_claim(FN_CPU, 0, 1, 8, c, 4);
    ck_assert_str_eq(c[0].id, prior.id);
    ck_assert_str_eq(c[1].id, b[0].id);
    ck_assert_str_eq(c[2].id, b[2].id);
    ck_assert_str_eq(c[3].id, b[3].id);
    release_all(c, 4);
    release_all(b, 5);

    /* One bad job: the call fails and nothing is queued. */
    for (int i = 0; i < 3; i++) {
        job_init(&b[i]);
        snprintf(b[i].fn, sizeof(b[i].fn), "count");
    }
    b[2].fn[0] = '\0';
    ck_assert_int_eq(store_submit_many(st, b, 3, existing), -1);
    ck_assert(!existing[0] && !existing[1] && !existing[2]);
    MUST(store_counts(st, &q, NULL));
    ck_assert_int_eq(q, 0);
    MUST(store_submit_many(st, b, 2, NULL));
    MUST(store_submit_many(st, b, 0, NULL));
    MUST(store_counts(st, &q, NULL));
    ck_assert_int_eq(q, 2);
    release_all(b, 3);
    job_release(&prior);
}
END_TEST

START_TEST(test_counts)
{
    job a[5], c[2];
    int64_t q = -1, r = -1;
    MUST(store_counts(st, &q, &r));
    ck_assert(q == 0 && r == 0);
    for (int i = 0; i < 5; i++)
        must_submit(&a[i], "count", i < 4 ? FN_CPU : FN_IO, NULL, 0);
    must_claim(FN_CPU, 0, 1, 2, c, 2);
    MUST(store_counts(st, &q, &r));
    ck_assert_int_eq(q, 3);
    ck_assert_int_eq(r, 2);
    ck_assert(complete_ok(&c[0], "1"));
    MUST(store_counts(st, &q, NULL));
    MUST(store_counts(st, NULL, &r));
    ck_assert_int_eq(q, 3);
    ck_assert_int_eq(r, 1);
    release_all(c, 2);
    release_all(a, 5);
}
END_TEST

/* A result of every JSON type survives the round trip. */
START_TEST(test_result_types)
{
    static const char *const results[] = {
        "null",
        "true",
        "0",
        "-9223372036854775807",
        "1.5e300",
        "\"\"",
        "\"a\\u0000b\"",
        "[]",
        "{\"deep\": [[[[{\"x\": \"\\ud83d\\ude00\"}]]]]}",
    };
    for (size_t i = 0; i < NELEM(results); i++) {
        job a, c[1], b;
        must_submit(&a, "count", FN_CPU, NULL, 0);
        must_claim(FN_CPU, 0, 1, 1, c, 1);
        ck_assert(complete_ok(&c[0], results[i]));
        must_get(a.id, &b);
        json_t *want = must_parse(results[i]);
        ck_assert_ptr_nonnull(b.result);
        ck_assert_msg(json_equal(b.result, want), "result %s changed", results[i]);
        json_decref(want);
        char *text = job_dumps(&b, NULL);
        ck_assert_ptr_nonnull(text);
        free(text);
        job_release(&a);
        job_release(&b);
        job_release(&c[0]);
    }
}
END_TEST

/* ====================================================================== */
/* store: store_write, several parts in one transaction                   */
/* ====================================================================== */

/* Submitting into an empty queue with free lanes gives the worker its own
 * jobs back, in submission order, from the one transaction. */
START_TEST(test_write_claims_own_submits)
{
    job s[3], c[5], b;
    bool existing[3] = {true, true, true};
    int64_t q = -1, r = -1;
    for (int i = 0; i < 3; i++)
        new_job(&s[i], "count", FN_CPU, NULL);
    store_batch wb = {
        .submit = s, .nsubmit = 3, .existing = existing, .slot = 2, .incarnation = 9, .pid = 4242};
    wb.claim_max[FN_CPU] = 5;
    wb.claimed[FN_CPU] = c;
    MUST(store_write(st, &wb));
    ck_assert(!existing[0] && !existing[1] && !existing[2]);
    ck_assert_int_eq(wb.nclaimed[FN_CPU], 3);
    ck_assert_int_eq(wb.nclaimed[FN_IO], 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(c[i].id, s[i].id);
        ck_assert_int_eq(c[i].state, JOB_RUNNING);
        ck_assert_int_eq(c[i].owner_slot, 2);
        ck_assert_uint_eq(c[i].owner_incarnation, 9);
        ck_assert_int_eq(c[i].worker_pid, 4242);
        ck_assert_int_eq(c[i].attempts, 1);
        ck_assert(c[i].started_at_us >= s[i].created_at_us);
        ck_assert(c[i].deadline_us == c[i].started_at_us + 1000 * 1000);
        must_get(s[i].id, &b);
        ck_assert_int_eq(b.state, JOB_RUNNING);
        ck_assert_int_eq(b.owner_slot, 2);
        ck_assert_uint_eq(b.owner_incarnation, 9);
        ck_assert_int_eq(b.attempts, 1);
        job_release(&b);
    }
    MUST(store_counts(st, &q, &r));
    ck_assert(q == 0 && r == 3);
    release_all(c, 3);
    release_all(s, 3);
}
END_TEST

/* A claim in a batch still takes the oldest queued jobs first. */
START_TEST(test_write_claim_fifo_older_first)
{
    job old[2], s[2], c[3];
    must_submit(&old[0], "count", FN_CPU, NULL, 0);
    must_submit(&old[1], "count", FN_CPU, NULL, 0);
    new_job(&s[0], "count", FN_CPU, NULL);
    new_job(&s[1], "count", FN_CPU, NULL);
    store_batch wb = {.submit = s, .nsubmit = 2, .slot = 0, .incarnation = 1, .pid = 1};
    wb.claim_max[FN_CPU] = 3;
    wb.claimed[FN_CPU] = c;
    MUST(store_write(st, &wb));
    ck_assert_int_eq(wb.nclaimed[FN_CPU], 3);
    ck_assert_str_eq(c[0].id, old[0].id);
    ck_assert_str_eq(c[1].id, old[1].id);
    ck_assert_str_eq(c[2].id, s[0].id);
    ck_assert_int_eq(state_of(s[1].id), JOB_QUEUED);
    release_all(c, 3);
    release_all(s, 2);
    release_all(old, 2);
}
END_TEST

/* Completion, submission and claim in one call: all three take effect. */
START_TEST(test_write_complete_submit_claim)
{
    job a, done, s, c[2], b;
    bool applied = false, existing = true;
    must_submit(&a, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, &done, 1);
    done.state = JOB_SUCCEEDED;
    json_decref(done.result);
    done.result = json_integer(42);
    new_job(&s, "fib", FN_CPU, NULL);
    store_batch wb = {.slot = 0, .incarnation = 1, .pid = 1000};
    wb.submit = &s;
    wb.nsubmit = 1;
    wb.existing = &existing;
    wb.complete = &done;
    wb.ncomplete = 1;
    wb.applied = &applied;
    wb.claim_max[FN_CPU] = 2;
    wb.claimed[FN_CPU] = c;
    MUST(store_write(st, &wb));
    ck_assert(applied);
    ck_assert(!existing);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_SUCCEEDED);
    ck_assert_int_eq(json_integer_value(b.result), 42);
    ck_assert(b.finished_at_us > 0);
    job_release(&b);
    /* The completed job is not running any more, so only the new one. */
    ck_assert_int_eq(wb.nclaimed[FN_CPU], 1);
    ck_assert_str_eq(c[0].id, s.id);
    ck_assert_int_eq(state_of(s.id), JOB_RUNNING);
    release_all(c, 1);
    job_release(&s);
    job_release(&done);
    job_release(&a);
}
END_TEST

/* Claims are per kind: a worker with only cpu lanes free leaves io alone. */
START_TEST(test_write_claim_per_kind)
{
    job s[2], cpu[4], io[4];
    new_job(&s[0], "count", FN_CPU, NULL);
    new_job(&s[1], "sleep", FN_IO, NULL);
    store_batch wb = {.submit = s, .nsubmit = 2, .slot = 0, .incarnation = 1, .pid = 1};
    wb.claim_max[FN_CPU] = 4;
    wb.claimed[FN_CPU] = cpu;
    MUST(store_write(st, &wb));
    ck_assert_int_eq(wb.nclaimed[FN_CPU], 1);
    ck_assert_int_eq(wb.nclaimed[FN_IO], 0);
    ck_assert_str_eq(cpu[0].id, s[0].id);
    ck_assert_int_eq(state_of(s[1].id), JOB_QUEUED);
    release_all(cpu, 1);
    char io0[JOB_ID_LEN + 1];
    snprintf(io0, sizeof(io0), "%s", s[1].id);
    release_all(s, 2);

    /* Both kinds at once: each claim gets its own kind, FIFO. */
    new_job(&s[0], "count", FN_CPU, NULL);
    new_job(&s[1], "sleep", FN_IO, NULL);
    store_batch wb2 = {.submit = s, .nsubmit = 2, .slot = 0, .incarnation = 1, .pid = 1};
    wb2.claim_max[FN_CPU] = 4;
    wb2.claimed[FN_CPU] = cpu;
    wb2.claim_max[FN_IO] = 4;
    wb2.claimed[FN_IO] = io;
    MUST(store_write(st, &wb2));
    ck_assert_int_eq(wb2.nclaimed[FN_CPU], 1);
    ck_assert_str_eq(cpu[0].id, s[0].id);
    ck_assert_int_eq(cpu[0].kind, FN_CPU);
    ck_assert_int_eq(wb2.nclaimed[FN_IO], 2);
    ck_assert_str_eq(io[0].id, io0);
    ck_assert_str_eq(io[1].id, s[1].id);
    ck_assert_int_eq(io[1].kind, FN_IO);
    release_all(cpu, 1);
    release_all(io, 2);
    release_all(s, 2);
}
END_TEST

/* All or nothing, whichever part fails and wherever: in the argument checks,
 * or in the backend after the earlier parts of the batch ran. */
START_TEST(test_write_all_or_nothing)
{
    aon t;
    /* A non-final completion: refused by the checks before the backend. */
    aon_setup(&t);
    t.done.state = JOB_RUNNING;
    ck_assert_int_eq(store_write(st, &t.wb), -1);
    ck_assert_msg(strstr(store_errmsg(st), "not final") != NULL, "%s", store_errmsg(st));
    aon_check(&t, 2, 0);
    MUST(store_reap_all(st, NULL, NULL, NULL, NULL));

    /* The second submission reuses the id of a stored job. */
    job other; /* io: the cpu claim of aon_setup() leaves it alone */
    must_submit(&other, "sleep", FN_IO, NULL, 0);
    ck_assert_msg(aon_dup_id(&other)[0] != '\0', "a failed write without a message");
    job_release(&other);
}
END_TEST

/* An Idempotency-Key hit returns the stored job and is not a new queued job
 * for the claim of the same batch. */
START_TEST(test_write_idempotent_not_claimed)
{
    job prior, pc, s[3], c[8], b;
    bool existing[3] = {false, true, false};
    must_submit_on(st, &prior, "count", FN_CPU, NULL, 0, "k1");
    must_claim(FN_CPU, 0, 1, 1, &pc, 1);   /* prior is running on slot 0 */
    new_job(&s[0], "count", FN_CPU, "k1"); /* hits prior */
    new_job(&s[1], "count", FN_CPU, "k2"); /* new */
    new_job(&s[2], "count", FN_CPU, "k2"); /* hits s[1] in the same batch */
    store_batch wb = {
        .submit = s, .nsubmit = 3, .existing = existing, .slot = 5, .incarnation = 2, .pid = 55};
    wb.claim_max[FN_CPU] = 8;
    wb.claimed[FN_CPU] = c;
    MUST(store_write(st, &wb));
    ck_assert(existing[0] && !existing[1] && existing[2]);
    ck_assert_str_eq(s[0].id, prior.id);
    ck_assert_int_eq(s[0].state, JOB_RUNNING);
    ck_assert_str_eq(s[2].id, s[1].id);
    /* One new job, claimed once; it and the hit on it (read before the
     * claim ran) both come back as committed: running on slot 5. */
    ck_assert_int_eq(wb.nclaimed[FN_CPU], 1);
    ck_assert_str_eq(c[0].id, s[1].id);
    for (int i = 1; i <= 2; i++) {
        ck_assert_int_eq(s[i].state, JOB_RUNNING);
        ck_assert_int_eq(s[i].owner_slot, 5);
        ck_assert_int_eq(s[i].attempts, 1);
        ck_assert_int_eq(s[i].worker_pid, 55);
    }
    /* prior still belongs to its first claimer. */
    must_get(prior.id, &b);
    ck_assert_int_eq(b.state, JOB_RUNNING);
    ck_assert_int_eq(b.owner_slot, 0);
    ck_assert_int_eq(b.attempts, 1);
    job_release(&b);
    int64_t q = -1, r = -1;
    MUST(store_counts(st, &q, &r));
    ck_assert(q == 0 && r == 2);
    release_all(c, 1);
    release_all(s, 3);
    job_release(&pc);
    job_release(&prior);
}
END_TEST

static Suite *contract_suite(const char *kind)
{
    static char name[64]; /* check keeps the pointer: valid while the suite runs */
    snprintf(name, sizeof(name), "store contract: writes (%s)", kind);
    Suite *s = suite_create(name);
    TCase *ts = tcase_create("writes");
    tcase_add_checked_fixture(ts, store_test_setup, store_test_teardown);
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_reap_retries);
    tcase_add_test(ts, test_reap_only_dead_slot);
    tcase_add_test(ts, test_reap_pending_cancel);
    tcase_add_test(ts, test_complete_requeue);
    tcase_add_test(ts, test_reap_all);
    tcase_add_test(ts, test_purge_ttl);
    tcase_add_test(ts, test_purge_batches);
    tcase_add_test(ts, test_idempotency);
    tcase_add_test(ts, test_submit_many);
    tcase_add_test(ts, test_job_same_request);
    tcase_add_test(ts, test_counts);
    tcase_add_test(ts, test_result_types);
    tcase_add_test(ts, test_write_claims_own_submits);
    tcase_add_test(ts, test_write_claim_fifo_older_first);
    tcase_add_test(ts, test_write_complete_submit_claim);
    tcase_add_test(ts, test_write_claim_per_kind);
    tcase_add_test(ts, test_write_all_or_nothing);
    tcase_add_test(ts, test_write_idempotent_not_claimed);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    return store_test_run_each(contract_suite) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
