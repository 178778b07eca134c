/*
 * check_store_contract.c - the store contract (store.h), part 1: the
 * registry, then for every backend built in (store_test_run_each()): submit
 * and get, the life of a job, cancel and abort, claims (FIFO, per kind, in
 * batches), completions, the shared area, and several processes at once.
 * Part 2 (check_store_contract_write.c): reaping, purge, idempotency,
 * counts and store_write batches; part 3 (check_store_contract_list.c): the
 * job list; part 4 (check_store_contract_owner.c): owners; part 5
 * (check_store_contract_text.c): jobs as text, args_cost, shared args. What
 * only SQLite does is in check_store_sqlite.c.
 */
#include "store_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ====================================================================== */
/* the registry (once, not per backend)                                   */
/* ====================================================================== */

/* A kind that is not built in is refused by every entry point, with a
 * message naming config store.kind and the kinds built in. */
START_TEST(test_registry_unknown_kind)
{
    _Alignas(STORE_SHARED_ALIGN) unsigned char area[STORE_SHARED_MAX];
    config_store cfg;
    char err[256] = "", want[256];
    const store_backend *b;
    size_t len = (size_t)snprintf(want, sizeof(want),
                                  "store.kind \"redis\": not available in this build (built: ");
    for (size_t i = 0; (b = store_backend_at(i)) != NULL; i++)
        len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s", i ? ", " : "", b->kind);
    snprintf(want + len, sizeof(want) - len, ")");
    ck_assert_msg(strstr(want, "(built: sqlite") != NULL, "%s", want);
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.kind, sizeof(cfg.kind), "redis");
    snprintf(cfg.url, sizeof(cfg.url), "redis://127.0.0.1:6379");
    ck_assert_ptr_null(store_open(&cfg, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "redis") != NULL, "%s", err);
    ck_assert_str_eq(err, want);
    err[0] = '\0';
    ck_assert_int_eq(store_check(&cfg, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "store.kind \"redis\": not available") != NULL, "%s", err);
    ck_assert_str_eq(err, want);
    err[0] = '\0';
    ck_assert_int_eq(store_prepare(&cfg, NULL, NULL, err, sizeof(err)), -1);
    ck_assert_str_eq(err, want);
    err[0] = '\0';
    ck_assert_int_eq(store_shared_init(&cfg, area, err, sizeof(err)), -1);
    ck_assert_str_eq(err, want);
}
END_TEST

/* Every backend's ops are complete, and the shared area fits each. */
START_TEST(test_registry_backends)
{
    const store_backend *b;
    size_t n = 0, max = store_shared_size();
    ck_assert_uint_le(max, STORE_SHARED_MAX);
    for (; (b = store_backend_at(n)) != NULL; n++) {
        const store_ops *o = b->ops;
        ck_assert_msg(b->kind[0] != '\0', "backend %zu has no kind", n);
        ck_assert_msg(o->open && o->check && o->close && o->write && o->get && o->cancel &&
                          o->list_page && o->reap && o->purge && o->counts,
                      "backend %s: an op is missing", b->kind);
        ck_assert_msg(o->shared_size <= max, "backend %s: %zu shared bytes, max %zu", b->kind,
                      o->shared_size, max);
        ck_assert_msg(o->shared_size == 0 || o->shared_init, "backend %s: no shared_init", b->kind);
        for (size_t k = 0; k < n; k++)
            ck_assert_str_ne(store_backend_at(k)->kind, b->kind);
    }
    ck_assert_uint_ge(n, 1);
    ck_assert_str_eq(store_backend_at(0)->kind, "sqlite");
}
END_TEST

/* Kind "" is the default: the first backend of the registry. */
START_TEST(test_registry_default_kind)
{
    config_store cfg = store_cfg;
    job a, b;
    cfg.kind[0] = '\0';
    store *s = must_open_cfg(&cfg);
    must_submit_on(s, &a, "count", FN_CPU, NULL, 0, NULL);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_QUEUED);
    store_close(s);
    job_release(&a);
    job_release(&b);
}
END_TEST

/* ====================================================================== */
/* store: opening                                                         */
/* ====================================================================== */

START_TEST(test_reopen_keeps_jobs)
{
    job a, b;
    must_submit(&a, "count", FN_CPU, "{\"iterations\": 5}", 2);
    store_close(st);
    st = must_open_cfg(&store_cfg);
    must_get(a.id, &b);
    ck_assert_str_eq(b.fn, "count");
    ck_assert_int_eq(b.state, JOB_QUEUED);
    ck_assert_int_eq(b.retries, 2);
    ck_assert(json_equal(a.args, b.args));
    job_release(&a);
    job_release(&b);
}
END_TEST

/* A store opened with the shared area (as workers do) keeps the contract,
 * and so do two processes writing through it at once. */
START_TEST(test_shared_area)
{
    enum { N = 50 };
    char err[256] = "";
    void *area =
        mmap(NULL, STORE_SHARED_MAX, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(area != MAP_FAILED);
    ck_assert_msg(store_shared_init(&store_cfg, area, err, sizeof(err)) == 0, "%s", err);
    pid_t kid = fork();
    ck_assert(kid >= 0);
    store *s = store_open(&store_cfg, area, err, sizeof(err));
    if (kid == 0) {
        for (int i = 0; s && i < N; i++) {
            job j;
            new_job(&j, "count", FN_IO, NULL);
            if (store_submit(s, &j, NULL) < 0) {
                fprintf(stderr, "child: %s\n", store_errmsg(s));
                _exit(1);
            }
            job_release(&j);
        }
        _exit(s ? 0 : 2);
    }
    ck_assert_msg(s != NULL, "%s", err);
    job a, c[1];
    for (int i = 0; i < N; i++) {
        must_submit_on(s, &a, "count", FN_CPU, NULL, 0, NULL);
        job_release(&a);
    }
    int status, n = -1;
    ck_assert(waitpid(kid, &status, 0) == kid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status 0x%x", status);
    int64_t q = -1;
    MUST(store_counts(st, &q, NULL));
    ck_assert_int_eq(q, 2 * N);
    ck_assert_int_eq(store_claim(s, FN_IO, 0, 1, 1, 1, c, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert(complete_ok(c, "1"));
    ck_assert_int_eq(state_of(c[0].id), JOB_SUCCEEDED);
    job_release(&c[0]);
    store_close(s);
    munmap(area, STORE_SHARED_MAX);
}
END_TEST

/* ====================================================================== */
/* store: submit, get, the life of a job                                  */
/* ====================================================================== */

START_TEST(test_submit_get)
{
    job a, b;
    int64_t t0 = job_now_us();
    job_init(&a);
    snprintf(a.fn, sizeof(a.fn), "sleep");
    a.kind = FN_IO;
    a.args = must_parse("{\"ms\": 5, \"s\": \"caf\\u00e9 \\u2603\", \"big\": 9007199254740993,"
                        " \"r\": 0.1, \"nested\": [[], {}, null, true]}");
    a.timeout_ms = 2500;
    a.retries = 1;
    snprintf(a.callback, sizeof(a.callback), "http://127.0.0.1:8081/hook");
    a.state = JOB_FAILED; /* ignored: the store decides */
    a.attempts = 9;
    a.worker_pid = 77;
    MUST(store_submit(st, &a, NULL));
    ck_assert(job_id_valid(a.id, strlen(a.id)));
    ck_assert_int_eq(a.state, JOB_QUEUED);
    ck_assert_int_eq(a.attempts, 0);
    ck_assert_int_eq(a.worker_pid, 0);
    ck_assert(a.created_at_us >= t0 && a.created_at_us <= job_now_us());

    must_get(a.id, &b);
    ck_assert_str_eq(b.id, a.id);
    ck_assert_str_eq(b.fn, "sleep");
    ck_assert_int_eq(b.kind, FN_IO);
    ck_assert(json_equal(a.args, b.args));
    ck_assert_int_eq(json_integer_value(json_object_get(b.args, "big")), 9007199254740993LL);
    ck_assert_int_eq(b.state, JOB_QUEUED);
    ck_assert_ptr_null(b.result);
    ck_assert_str_eq(b.error_code, "");
    ck_assert_int_eq(b.timeout_ms, 2500);
    ck_assert_int_eq(b.retries, 1);
    ck_assert_str_eq(b.callback, "http://127.0.0.1:8081/hook");
    ck_assert_str_eq(b.idem_key, "");
    ck_assert_int_eq(b.owner_slot, -1);
    ck_assert_int_eq(b.worker_pid, 0);
    ck_assert(b.created_at_us == a.created_at_us);
    ck_assert(b.started_at_us == 0 && b.finished_at_us == 0 && b.deadline_us == 0);
    ck_assert(b.run_us == -1 && b.cpu_us == -1);
    ck_assert(!b.cancel_requested);
    job_release(&a);
    job_release(&b);
}
END_TEST

START_TEST(test_get_unknown)
{
    job j;
    bool found = true;
    MUST(store_get(st, "0123456789abcdef0123456789abcdef", &j, &found));
    ck_assert(!found);
    found = true;
    MUST(store_get(st, "not-an-id' OR 1=1 --", &j, &found));
    ck_assert(!found);
    job_release(&j);
}
END_TEST

START_TEST(test_submit_bad)
{
    job j;
    job_init(&j);
    ck_assert_int_eq(store_submit(st, &j, NULL), -1);
    ck_assert_msg(strstr(store_errmsg(st), "fn") != NULL, "%s", store_errmsg(st));
    snprintf(j.fn, sizeof(j.fn), "count");
    j.timeout_ms = -1;
    ck_assert_int_eq(store_submit(st, &j, NULL), -1);
    j.timeout_ms = 0;
    j.kind = (fn_kind)7;
    ck_assert_int_eq(store_submit(st, &j, NULL), -1);
    j.kind = FN_CPU;
    MUST(store_submit(st, &j, NULL));
    ck_assert_str_eq(store_errmsg(st), "");
    job_release(&j);
}
END_TEST

START_TEST(test_lifecycle_succeeded)
{
    job a, c[1], b;
    must_submit(&a, "count", FN_CPU, "{\"iterations\": 3}", 0);
    int64_t t0 = job_now_us();
    must_claim(FN_CPU, 3, 7, 4, c, 1);
    ck_assert_str_eq(c[0].id, a.id);
    ck_assert_int_eq(c[0].state, JOB_RUNNING);
    ck_assert_int_eq(c[0].attempts, 1);
    ck_assert_int_eq(c[0].owner_slot, 3);
    ck_assert_uint_eq(c[0].owner_incarnation, 7);
    ck_assert_int_eq(c[0].worker_pid, 1003);
    ck_assert(c[0].started_at_us >= t0);
    ck_assert(c[0].deadline_us == c[0].started_at_us + 1000 * 1000);
    ck_assert(json_equal(c[0].args, a.args));
    ck_assert_int_eq(state_of(a.id), JOB_RUNNING);

    ck_assert(complete_ok(&c[0], "{\"value\": 3}"));
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_SUCCEEDED);
    ck_assert_int_eq(json_integer_value(json_object_get(b.result, "value")), 3);
    ck_assert_str_eq(b.error_code, "");
    ck_assert(b.run_us == 1234 && b.cpu_us == 1000);
    ck_assert(b.finished_at_us >= b.started_at_us);
    ck_assert_int_eq(b.worker_pid, 1003);

    /* Final: a second completion and a claim change nothing. */
    ck_assert(!complete_ok(&c[0], "{\"value\": 4}"));
    must_claim(FN_CPU, 3, 7, 4, c + 0, 0);
    job_release(&b);
    must_get(a.id, &b);
    ck_assert_int_eq(json_integer_value(json_object_get(b.result, "value")), 3);
    job_release(&a);
    job_release(&b);
    job_release(&c[0]);
}
END_TEST

START_TEST(test_lifecycle_failed)
{
    job a, c[1], b;
    bool applied = false;
    must_submit(&a, "fib", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    c[0].state = JOB_FAILED;
    job_set_error(&c[0], ERR_INVALID_ARGS, "n: must be an integer from 0 to 93");
    c[0].run_us = 5;
    c[0].cpu_us = 4;
    c[0].finished_at_us = 1795777530000000LL; /* given: kept */
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_FAILED);
    ck_assert_str_eq(b.error_code, "invalid_args");
    ck_assert_str_eq(b.error_message, "n: must be an integer from 0 to 93");
    ck_assert_ptr_null(b.result);
    ck_assert(b.finished_at_us == 1795777530000000LL);
    ck_assert_uint_eq(json_object_size(b.args), 0); /* NULL args are stored as {} */
    job_release(&a);
    job_release(&b);
    job_release(&c[0]);
}
END_TEST

START_TEST(test_complete_checks)
{
    job a, c[1];
    bool applied = true;
    must_submit(&a, "fib", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    /* Not a final state: refused. */
    ck_assert_int_eq(store_complete(st, &c[0], &applied), -1);
    ck_assert_msg(strstr(store_errmsg(st), "not final") != NULL, "%s", store_errmsg(st));
    ck_assert(!applied);
    /* Wrong incarnation or slot: not applied, job still running. */
    c[0].state = JOB_SUCCEEDED;
    c[0].owner_incarnation = 2;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(!applied);
    c[0].owner_incarnation = 1;
    c[0].owner_slot = 1;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(!applied);
    ck_assert_int_eq(state_of(a.id), JOB_RUNNING);
    /* A failure without a code gets function_error; cancelled gets cancelled. */
    c[0].owner_slot = 0;
    c[0].state = JOB_FAILED;
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    job b;
    must_get(a.id, &b);
    ck_assert_str_eq(b.error_code, "function_error");
    job_release(&b);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

/* ====================================================================== */
/* store: cancel                                                          */
/* ====================================================================== */

START_TEST(test_cancel_queued)
{
    job a, out, c[1];
    bool found = false;
    job_state before = JOB_FAILED;
    must_submit(&a, "count", FN_CPU, NULL, 0);
    MUST(store_cancel(st, a.id, &out, &found, &before));
    ck_assert(found);
    ck_assert_int_eq(before, JOB_QUEUED);
    ck_assert_int_eq(out.state, JOB_CANCELLED);
    ck_assert_str_eq(out.error_code, "cancelled");
    ck_assert(out.finished_at_us > 0);
    ck_assert(out.started_at_us == 0);
    ck_assert_int_eq(out.attempts, 0);
    job_release(&out);
    must_get(a.id, &out);
    ck_assert_int_eq(out.state, JOB_CANCELLED);
    ck_assert_str_eq(out.error_code, "cancelled");
    /* Never claimed afterwards. */
    must_claim(FN_CPU, 0, 1, 8, c, 0);
    /* A second cancel: unchanged, before = cancelled. */
    job_release(&out);
    MUST(store_cancel(st, a.id, &out, &found, &before));
    ck_assert(found);
    ck_assert_int_eq(before, JOB_CANCELLED);
    ck_assert_int_eq(out.state, JOB_CANCELLED);
    job_release(&out);
    job_release(&a);
}
END_TEST

START_TEST(test_cancel_running)
{
    job a, out, c[1];
    bool found = false, applied = false;
    job_state before = JOB_FAILED;
    must_submit(&a, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 2, 5, 1, c, 1);
    MUST(store_cancel(st, a.id, &out, &found, &before));
    ck_assert(found);
    ck_assert_int_eq(before, JOB_RUNNING);
    ck_assert_int_eq(out.state, JOB_RUNNING);
    ck_assert(out.cancel_requested);
    ck_assert_int_eq(out.owner_slot, 2);
    ck_assert_int_eq(out.worker_pid, 1002);
    job_release(&out);
    must_get(a.id, &out);
    ck_assert_int_eq(out.state, JOB_RUNNING);
    ck_assert(out.cancel_requested);
    job_release(&out);
    /* Cancelling again is harmless. */
    MUST(store_cancel(st, a.id, &out, &found, NULL));
    ck_assert_int_eq(out.state, JOB_RUNNING);
    job_release(&out);
    /* The worker sees its cancel flag and completes as cancelled. */
    c[0].state = JOB_CANCELLED;
    job_set_error(&c[0], ERR_CANCELLED, "stopped on request");
    MUST(store_complete(st, &c[0], &applied));
    ck_assert(applied);
    must_get(a.id, &out);
    ck_assert_int_eq(out.state, JOB_CANCELLED);
    ck_assert_str_eq(out.error_code, "cancelled");
    job_release(&out);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

START_TEST(test_cancel_final_unchanged)
{
    job a, out, c[1];
    bool found = false;
    job_state before = JOB_QUEUED;
    must_submit(&a, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert(complete_ok(&c[0], "42"));
    MUST(store_cancel(st, a.id, &out, &found, &before));
    ck_assert(found);
    ck_assert_int_eq(before, JOB_SUCCEEDED);
    ck_assert_int_eq(out.state, JOB_SUCCEEDED);
    ck_assert_int_eq(json_integer_value(out.result), 42);
    ck_assert(!out.cancel_requested);
    ck_assert_str_eq(out.error_code, "");
    job_release(&out);
    MUST(store_cancel(st, "0123456789abcdef0123456789abcdef", &out, &found, NULL));
    ck_assert(!found);
    job_release(&out);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

/* A job aborted (timeout escalation) while its worker still runs it: the
 * late completion does not overwrite the abort, and the reap that follows the
 * kill does not re-queue it. */
START_TEST(test_abort_then_late_complete)
{
    job a, c[1], b;
    bool applied = true;
    int requeued = -1, failed = -1;
    must_submit(&a, "spin", FN_CPU, NULL, 3);
    must_claim(FN_CPU, 1, 4, 1, c, 1);
    /* Wrong owner: not applied. */
    MUST(store_abort(st, a.id, 1, 5, JOB_FAILED, ERR_TIMEOUT, "x", &applied));
    ck_assert(!applied);
    MUST(store_abort(st, a.id, 1, 4, JOB_FAILED, ERR_TIMEOUT, "did not stop within cancel_grace_ms",
                     &applied));
    ck_assert(applied);
    ck_assert(!complete_ok(&c[0], "1"));
    MUST(store_reap(st, 1, 4, NULL, NULL, &requeued, &failed));
    ck_assert_int_eq(requeued, 0);
    ck_assert_int_eq(failed, 0);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_FAILED);
    ck_assert_str_eq(b.error_code, "timeout");
    ck_assert_str_eq(b.error_message, "did not stop within cancel_grace_ms");
    ck_assert_ptr_null(b.result);
    ck_assert(b.run_us == -1);
    ck_assert(b.finished_at_us > 0);
    job_release(&b);
    ck_assert_int_eq(store_abort(st, a.id, 1, 4, JOB_SUCCEEDED, "x", "y", NULL), -1);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

/* Cancel escalation: abort as cancelled. */
START_TEST(test_abort_cancelled)
{
    job a, c[1], b;
    bool applied = false, found = false;
    must_submit(&a, "spin", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    MUST(store_cancel(st, a.id, &b, &found, NULL));
    ck_assert(found && b.cancel_requested);
    job_release(&b);
    MUST(store_abort(st, a.id, 0, 1, JOB_CANCELLED, ERR_CANCELLED,
                     "did not stop within cancel_grace_ms; worker ended", &applied));
    ck_assert(applied);
    must_get(a.id, &b);
    ck_assert_int_eq(b.state, JOB_CANCELLED);
    ck_assert_str_eq(b.error_code, "cancelled");
    job_release(&b);
    job_release(&a);
    job_release(&c[0]);
}
END_TEST

/* ====================================================================== */
/* store: claim order and batches                                         */
/* ====================================================================== */

START_TEST(test_claim_fifo_kind_max)
{
    enum { N = 10 };
    job cpu[N], io[3], c[N];
    for (int i = 0; i < N; i++) {
        must_submit(&cpu[i], "count", FN_CPU, NULL, 0);
        if (i < 3)
            must_submit(&io[i], "sleep", FN_IO, NULL, 0);
    }
    must_claim(FN_CPU, 0, 1, 4, c, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(c[i].id, cpu[i].id);
        ck_assert_int_eq(c[i].kind, FN_CPU);
    }
    release_all(c, 4);
    must_claim(FN_IO, 1, 1, 8, c, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(c[i].id, io[i].id);
    release_all(c, 3);
    must_claim(FN_IO, 1, 1, 8, c, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert_str_eq(c[0].id, cpu[4].id);
    release_all(c, 1);
    must_claim(FN_CPU, 0, 1, N, c, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(c[i].id, cpu[5 + i].id);
    release_all(c, 5);
    must_claim(FN_CPU, 0, 1, N, c, 0);
    int n = 7;
    ck_assert_int_eq(store_claim(st, FN_CPU, 0, 1, 1, 0, c, &n), -1);
    ck_assert_int_eq(n, 0);
    release_all(cpu, N);
    release_all(io, 3);
}
END_TEST

START_TEST(test_claim_large_batch)
{
    enum { N = 100 };
    job a[N];
    job *c = calloc(N + 10, sizeof(*c));
    for (int i = 0; i < N; i++)
        must_submit(&a[i], "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, N + 10, c, N);
    for (int i = 0; i < N; i++)
        ck_assert_str_eq(c[i].id, a[i].id);
    release_all(c, N);
    release_all(a, N);
    free(c);
}
END_TEST

START_TEST(test_complete_many)
{
    enum { N = 16 };
    job a[N], c[N], b;
    bool applied[N];
    for (int i = 0; i < N; i++)
        must_submit(&a[i], "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, N, c, N);
    /* Job 3 is aborted meanwhile; job 5 is completed twice in the batch. */
    MUST(store_abort(st, c[3].id, 0, 1, JOB_FAILED, ERR_TIMEOUT, "late", NULL));
    json_t *results[N];
    for (int i = 0; i < N; i++) {
        c[i].state = JOB_SUCCEEDED;
        results[i] = json_integer(i);
        c[i].result = results[i];
        c[i].run_us = i;
        c[i].cpu_us = i;
    }
    job twice[N + 1];
    memcpy(twice, c, sizeof(c));
    twice[N] = c[5];
    bool applied2[N + 1];
    MUST(store_complete_many(st, twice, N + 1, applied2));
    memcpy(applied, applied2, sizeof(applied));
    for (int i = 0; i < N; i++) {
        ck_assert_msg(applied[i] == (i != 3), "job %d applied=%d", i, applied[i]);
        must_get(a[i].id, &b);
        if (i == 3) {
            ck_assert_int_eq(b.state, JOB_FAILED);
        } else {
            ck_assert_int_eq(b.state, JOB_SUCCEEDED);
            ck_assert_int_eq(json_integer_value(b.result), i);
            ck_assert(b.run_us == i);
        }
        job_release(&b);
    }
    ck_assert(!applied2[N]);
    for (int i = 0; i < N; i++) {
        c[i].result = NULL;
        json_decref(results[i]);
    }
    MUST(store_complete_many(st, c, 0, NULL));
    MUST(store_complete_many(st, c, 2, NULL)); /* already final: fine, not applied */
    release_all(c, N);
    release_all(a, N);

    /* A bad job in the batch fails the whole call and applies nothing. */
    job fresh, bad[2];
    must_submit(&fresh, "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, bad, 1);
    bad[0].state = JOB_SUCCEEDED;
    bad[1] = bad[0]; /* shares args: only bad[0] is released */
    bad[1].state = JOB_RUNNING;
    ck_assert_int_eq(store_complete_many(st, bad, 2, applied), -1);
    ck_assert_int_eq(state_of(fresh.id), JOB_RUNNING);
    job_release(&bad[0]);
    job_release(&fresh);
}
END_TEST

/* ====================================================================== */
/* store: several processes                                               */
/* ====================================================================== */

/* Child: claims (kind cpu, slot) in batches of 1..7 and completes until the
 * queue is empty (and, if done_flag is set, the submitter has finished),
 * writing each claimed id to its own file. Exits 0, or 1 with a message. */
static void claimer(int slot, const char *done_flag)
{
    char path[256];
    job c[8];
    int n, total = 0, idle = 0;
    snprintf(path, sizeof(path), "%s/claims.%d", tmpdir, slot);
    FILE *f = fopen(path, "w");
    store *s = must_open_cfg(&store_cfg);
    for (unsigned round = 0;; round++) {
        int max = 1 + (int)((round + (unsigned)slot) % 7);
        if (store_claim(s, FN_CPU, slot, 1, getpid(), max, c, &n) < 0) {
            fprintf(stderr, "claimer %d: %s\n", slot, store_errmsg(s));
            _exit(1);
        }
        if (n == 0) {
            if (!done_flag || access(done_flag, F_OK) == 0) {
                if (++idle > 2) /* the flag may precede the last commit's visibility */
                    break;
            }
            usleep(200);
            continue;
        }
        idle = 0;
        for (int i = 0; i < n; i++) {
            fprintf(f, "%s\n", c[i].id);
            c[i].state = JOB_SUCCEEDED;
            c[i].result = json_integer(slot);
        }
        bool applied[8];
        if (store_complete_many(s, c, n, applied) < 0) {
            fprintf(stderr, "claimer %d: %s\n", slot, store_errmsg(s));
            _exit(1);
        }
        for (int i = 0; i < n; i++) {
            if (!applied[i]) {
                fprintf(stderr, "claimer %d: completion of %s not applied\n", slot, c[i].id);
                _exit(1);
            }
            job_release(&c[i]);
        }
        total += n;
    }
    fclose(f);
    store_close(s);
    _exit(total >= 0 ? 0 : 1);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads every claims.* file; checks that ids (n of them) were each claimed
 * exactly once and that every job succeeded with attempts 1. */
static void check_claims(int kids, char **ids, int n)
{
    char **got = calloc((size_t)n + 1, sizeof(*got));
    int ngot = 0;
    char line[128];
    for (int k = 0; k < kids; k++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/claims.%d", tmpdir, k);
        FILE *f = fopen(path, "r");
        ck_assert_msg(f != NULL, "no %s", path);
        while (fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\n")] = '\0';
            ck_assert_msg(ngot < n, "more claims than jobs");
            got[ngot++] = strdup(line);
        }
        fclose(f);
    }
    ck_assert_int_eq(ngot, n);
    qsort(got, (size_t)n, sizeof(*got), cmp_str);
    qsort(ids, (size_t)n, sizeof(*ids), cmp_str);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(strcmp(got[i], ids[i]) == 0, "claimed %s, expected %s", got[i], ids[i]);
        job b;
        must_get(ids[i], &b);
        ck_assert_int_eq(b.state, JOB_SUCCEEDED);
        ck_assert_int_eq(b.attempts, 1);
        job_release(&b);
        free(got[i]);
    }
    free(got);
}

static void wait_kids(const pid_t *pids, int kids)
{
    for (int i = 0; i < kids; i++) {
        int status;
        ck_assert(waitpid(pids[i], &status, 0) == pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status 0x%x", i,
                      status);
    }
}

START_TEST(test_concurrent_claims)
{
    enum { N = 600, KIDS = 2 };
    char **ids = calloc(N, sizeof(*ids));
    pid_t pids[KIDS];
    for (int i = 0; i < N; i++) {
        job j;
        must_submit(&j, "count", FN_CPU, NULL, 0);
        ids[i] = strdup(j.id);
        job_release(&j);
    }
    for (int k = 0; k < KIDS; k++) {
        pids[k] = fork();
        ck_assert(pids[k] >= 0);
        if (pids[k] == 0)
            claimer(k, NULL);
    }
    wait_kids(pids, KIDS);
    check_claims(KIDS, ids, N);
    for (int i = 0; i < N; i++)
        free(ids[i]);
    free(ids);
}
END_TEST

/* One process submits while two others claim: nothing lost, nothing twice. */
START_TEST(test_concurrent_submit_and_claim)
{
    enum { N = 400, KIDS = 2 };
    char done_flag[256], idfile[256];
    pid_t pids[KIDS], sub;
    snprintf(done_flag, sizeof(done_flag), "%s/submitted", tmpdir);
    snprintf(idfile, sizeof(idfile), "%s/ids", tmpdir);
    for (int k = 0; k < KIDS; k++) {
        pids[k] = fork();
        ck_assert(pids[k] >= 0);
        if (pids[k] == 0)
            claimer(k, done_flag);
    }
    sub = fork();
    ck_assert(sub >= 0);
    if (sub == 0) {
        store *s = must_open_cfg(&store_cfg);
        FILE *f = fopen(idfile, "w");
        for (int i = 0; i < N; i++) {
            job j;
            job_init(&j);
            snprintf(j.fn, sizeof(j.fn), "count");
            if (store_submit(s, &j, NULL) < 0) {
                fprintf(stderr, "submitter: %s\n", store_errmsg(s));
                _exit(1);
            }
            fprintf(f, "%s\n", j.id);
            job_release(&j);
        }
        fclose(f);
        store_close(s);
        fclose(fopen(done_flag, "w"));
        _exit(0);
    }
    wait_kids(&sub, 1);
    wait_kids(pids, KIDS);
    char **ids = calloc(N, sizeof(*ids));
    char line[128];
    int n = 0;
    FILE *f = fopen(idfile, "r");
    while (n < N && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        ids[n++] = strdup(line);
    }
    fclose(f);
    ck_assert_int_eq(n, N);
    check_claims(KIDS, ids, N);
    for (int i = 0; i < N; i++)
        free(ids[i]);
    free(ids);
}
END_TEST

static Suite *contract_suite(const char *kind)
{
    static char name[64]; /* check keeps the pointer: valid while the suite runs */
    snprintf(name, sizeof(name), "store contract (%s)", kind);
    Suite *s = suite_create(name);
    TCase *ts = tcase_create("life");
    tcase_add_checked_fixture(ts, store_test_setup, store_test_teardown);
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_reopen_keeps_jobs);
    tcase_add_test(ts, test_shared_area);
    tcase_add_test(ts, test_submit_get);
    tcase_add_test(ts, test_get_unknown);
    tcase_add_test(ts, test_submit_bad);
    tcase_add_test(ts, test_lifecycle_succeeded);
    tcase_add_test(ts, test_lifecycle_failed);
    tcase_add_test(ts, test_complete_checks);
    tcase_add_test(ts, test_cancel_queued);
    tcase_add_test(ts, test_cancel_running);
    tcase_add_test(ts, test_cancel_final_unchanged);
    tcase_add_test(ts, test_abort_then_late_complete);
    tcase_add_test(ts, test_abort_cancelled);
    tcase_add_test(ts, test_claim_fifo_kind_max);
    tcase_add_test(ts, test_claim_large_batch);
    tcase_add_test(ts, test_complete_many);
    tcase_add_test(ts, test_concurrent_claims);
    tcase_add_test(ts, test_concurrent_submit_and_claim);
    suite_add_tcase(s, ts);
    return s;
}

static Suite *registry_suite(void)
{
    Suite *s = suite_create("store registry");
    TCase *tr = tcase_create("registry");
    tcase_add_checked_fixture(tr, store_test_setup, store_test_teardown);
    tcase_add_test(tr, test_registry_unknown_kind);
    tcase_add_test(tr, test_registry_backends);
    tcase_add_test(tr, test_registry_default_kind);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    store_test_use(store_backend_at(0)->kind); /* the default, for the registry's cases */
    SRunner *sr = srunner_create(registry_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    failed += store_test_run_each(contract_suite);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
