/*
 * check_runtime.c - Python functions served through a language runtime
 * (runtimes/python/crunchd_runtime.py, tests/integration/runtimes/handlers.py)
 * against the real binary: the listing, sync calls, validation errors, jobs
 * (wait, cancel, timeout, retries), a runtime process killed mid-call
 * (worker_lost, then the retry succeeds), timeout and cancel of a call stuck
 * in `while True` (interrupted) and of one that ignores the cancel (killed
 * after the grace), a too-large reply, stderr in the log, HUP with a changed
 * handlers file, and the processes ending with their worker.
 *
 * One worker and one process (per_worker 1) unless a test says otherwise, so
 * that "the same process" and "a new process" can be told by pid.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "runtime_test.h"

/* jobs.cancel_grace_ms 1000: a runtime process gets 500 ms to answer a cancel. */
static const char *py_conf(const char *rt_extra)
{
    return rt_conf("py", rt_script("handlers.py"), "", rt_extra,
                   "\"workers\": 1, \"jobs\": {\"cancel_grace_ms\": 1000}");
}

static void start_py(server *s)
{
    must_start(s, py_conf("\"max_result_bytes\": 1048576"));
}

/* A marker path in the server's temp dir (static, one at a time). */
static const char *marker(const server *s, const char *name)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s.pid", s->dir, name);
    return path;
}

static json_t *find_fn(json_t *list, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(list, "functions"), i, f)
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
            return f;
    return NULL;
}

static json_t *arg_at(json_t *fn, size_t i)
{
    json_t *a = json_array_get(json_object_get(fn, "args"), i);
    ck_assert_ptr_nonnull(a);
    return a;
}

/* Submits a job; returns its id (harness-owned). */
static const char *submit(server *s, const char *body)
{
    resp r;
    int st = rt_call(s, "POST", "/v1/jobs", body, 5000, &r);
    ck_assert_msg(st == 202, "POST /v1/jobs %s: %s", body, resp_describe(&r));
    return must_str(must_json(&r), "id");
}

/* Long-polls a job until it is final; returns it. */
static json_t *final_job(server *s, const char *id)
{
    char path[128];
    int64_t deadline = now_ms() + RT_WAIT_MS;
    snprintf(path, sizeof(path), "/v1/jobs/%s?wait=5", id);
    for (;;) {
        resp r; /* what it points to is the harness's until the test ends */
        rt_call(s, "GET", path, NULL, 8000, &r);
        must_status(&r, 200);
        json_t *j = must_json(&r);
        const char *st = must_str(j, "state");
        if (strcmp(st, "queued") != 0 && strcmp(st, "running") != 0)
            return j;
        ck_assert_msg(now_ms() < deadline, "job %s not final within %d ms", id, RT_WAIT_MS);
    }
}

static void must_job_state(json_t *j, const char *state, const char *code)
{
    ck_assert_str_eq(must_str(j, "state"), state);
    json_t *e = json_object_get(j, "error");
    if (code)
        ck_assert_str_eq(must_str(e, "code"), code);
    else
        ck_assert(json_is_null(e));
}

START_TEST(test_listing)
{
    server s;
    resp r;
    start_py(&s);
    http_call(&s, "GET", "/v1/functions", NULL, &r);
    must_status(&r, 200);
    json_t *list = must_json(&r);
    ck_assert_ptr_nonnull(find_fn(list, "fib")); /* the built-ins stay */
    json_t *f = find_fn(list, "pyfib");
    ck_assert_msg(f, "pyfib not listed: %s", r.body);
    ck_assert_str_eq(must_str(f, "kind"), "cpu");
    ck_assert_str_eq(must_str(f, "doc"), "The n-th Fibonacci number.");
    json_t *n = arg_at(f, 0);
    ck_assert_str_eq(must_str(n, "name"), "n");
    ck_assert_str_eq(must_str(n, "type"), "integer");
    ck_assert_int_eq(must_int(n, "min"), 0);
    ck_assert_int_eq(must_int(n, "max"), 90);
    ck_assert(json_is_true(must_get(n, "required")));
    f = find_fn(list, "echo");
    ck_assert_str_eq(must_str(f, "kind"), "io");
    json_t *word = arg_at(f, 0), *values = arg_at(f, 1), *count = arg_at(f, 2);
    ck_assert_str_eq(must_str(word, "type"), "enum");
    ck_assert_str_eq(json_string_value(json_array_get(must_get(word, "choices"), 1)), "b");
    ck_assert_str_eq(must_str(word, "default"), "a");
    ck_assert(json_is_false(must_get(word, "required")));
    ck_assert_str_eq(must_str(values, "type"), "array<number>");
    ck_assert_int_eq(must_int(values, "max_length"), 10);
    ck_assert_int_eq(must_int(count, "default"), 2);
}
END_TEST

START_TEST(test_sync_calls)
{
    server s;
    resp r;
    start_py(&s);
    json_t *v = must_call_fn(&s, "pyfib", "{\"n\": 40}", &r);
    ck_assert_int_eq(json_integer_value(v), 102334155);
    v = must_call_fn(&s, "echo", "{\"values\": [1, 2.5]}", &r);
    ck_assert_str_eq(must_str(v, "word"), "a");
    ck_assert_int_eq(must_int(v, "count"), 2);
    ck_assert_int_eq(json_array_size(must_get(v, "values")), 2);
    /* beyond int64: a decimal string */
    v = must_call_fn(&s, "steps", "{\"steps\": 5}", &r);
    ck_assert_str_eq(json_string_value(v), "1180591620717411303424");
    /* an exception: its type and message; the traceback in the log only */
    http_call(&s, "POST", "/v1/fn/fail", "{\"message\": \"no luck\"}", &r);
    must_error(&r, 422, "function_error", NULL);
    ck_assert_str_eq(must_str(must_get(must_json(&r), "error"), "message"), "ValueError: no luck");
    ck_assert_ptr_null(strstr(r.body, "Traceback"));
    rt_must_log(&s, "]: Traceback (most recent call last):");
    rt_must_log(&s, "]: ValueError: no luck");
    ck_assert(rt_log_has(&s, "runtime py["));
}
END_TEST

START_TEST(test_validation)
{
    server s;
    resp r;
    start_py(&s);
    http_call(&s, "POST", "/v1/fn/pyfib", "{\"n\": 91}", &r);
    must_error(&r, 400, "invalid_args", "n");
    http_call(&s, "POST", "/v1/fn/pyfib", "{}", &r);
    must_error(&r, 400, "invalid_args", "n");
    http_call(&s, "POST", "/v1/fn/pyfib", "{\"n\": \"40\"}", &r);
    must_error(&r, 400, "invalid_args", "n");
    http_call(&s, "POST", "/v1/fn/echo", "{\"values\": [], \"extra\": 1}", &r);
    must_error(&r, 400, "invalid_args", "extra");
    http_call(&s, "POST", "/v1/fn/echo", "{\"values\": [\"x\"]}", &r);
    must_error(&r, 400, "invalid_args", "values");
    http_call(&s, "POST", "/v1/fn/echo", "{\"values\": [], \"word\": \"c\"}", &r);
    must_error(&r, 400, "invalid_args", "word");
    http_call(&s, "POST", "/v1/jobs", "{\"fn\": \"pyfib\", \"args\": {\"n\": -1}}", &r);
    must_error(&r, 400, "invalid_args", "n");
}
END_TEST

START_TEST(test_job_wait)
{
    server s;
    resp r;
    start_py(&s);
    int st = rt_call(&s, "POST", "/v1/jobs?wait=10", "{\"fn\": \"pyfib\", \"args\": {\"n\": 50}}",
                     15000, &r);
    ck_assert_msg(st == 200, "%s", resp_describe(&r));
    json_t *j = must_json(&r);
    must_job_state(j, "succeeded", NULL);
    ck_assert_int_eq(must_int(j, "result"), 12586269025LL);
}
END_TEST

/* A job stuck in `while True` past its timeout_ms: interrupted by the cancel
 * line (Cancelled raised in it), so the same process serves the next call. */
START_TEST(test_job_timeout_interrupts)
{
    server s;
    char body[700];
    start_py(&s);
    snprintf(body, sizeof(body),
             "{\"fn\": \"loop\", \"args\": {\"marker\": \"%s\"}, \"timeout_ms\": 300}",
             marker(&s, "loop"));
    const char *id = submit(&s, body);
    pid_t pid = rt_must_marker(marker(&s, "loop"));
    json_t *j = final_job(&s, id);
    must_job_state(j, "failed", "timeout");
    ck_assert_int_eq(rt_call_pid(&s), pid);
}
END_TEST

START_TEST(test_job_cancel)
{
    server s;
    resp r;
    char body[700], path[128];
    start_py(&s);
    snprintf(body, sizeof(body), "{\"fn\": \"loop\", \"args\": {\"marker\": \"%s\"}}",
             marker(&s, "loop"));
    const char *id = submit(&s, body);
    pid_t pid = rt_must_marker(marker(&s, "loop"));
    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    rt_call(&s, "DELETE", path, NULL, 10000, &r);
    must_status(&r, 200);
    must_job_state(must_json(&r), "cancelled", "cancelled");
    ck_assert_int_eq(rt_call_pid(&s), pid);
}
END_TEST

/* A sync call in `while True` past ?timeout_ms: 504 at once, the process kept. */
START_TEST(test_sync_timeout_interrupts)
{
    server s;
    resp r;
    char body[600];
    start_py(&s);
    snprintf(body, sizeof(body), "{\"marker\": \"%s\"}", marker(&s, "loop"));
    int64_t t0 = now_ms();
    rt_call(&s, "POST", "/v1/fn/loop?timeout_ms=300", body, 10000, &r);
    must_error(&r, 504, "timeout", NULL);
    ck_assert_msg(now_ms() - t0 < 5000, "504 after %lld ms", (long long)(now_ms() - t0));
    pid_t pid = rt_must_marker(marker(&s, "loop"));
    ck_assert_int_eq(rt_call_pid(&s), pid);
}
END_TEST

/* A call that swallows Cancelled: killed after the grace, replaced. */
START_TEST(test_ignored_cancel_kills)
{
    server s;
    resp r;
    char body[600];
    start_py(&s);
    snprintf(body, sizeof(body), "{\"marker\": \"%s\"}", marker(&s, "stubborn"));
    rt_call(&s, "POST", "/v1/fn/stubborn?timeout_ms=300", body, 10000, &r);
    must_error(&r, 504, "timeout", NULL);
    pid_t pid = rt_must_marker(marker(&s, "stubborn"));
    must_gone(pid, RT_WAIT_MS, "the runtime process that ignored its cancel");
    ck_assert_int_ne(rt_call_pid(&s), pid);
    rt_must_log(&s, "stubborn: ignoring a cancel");
    rt_must_log(&s, "did not answer a cancel within 500 ms");
}
END_TEST

/* The runtime process killed mid-call: the job is re-queued while it has
 * retries (the retry succeeds), else it fails worker_lost. */
static void killed_job(int retries)
{
    server s;
    char body[700];
    start_py(&s);
    snprintf(body, sizeof(body),
             "{\"fn\": \"once_slow\", \"args\": {\"marker\": \"%s\"}, \"retries\": %d}",
             marker(&s, "once"), retries);
    const char *id = submit(&s, body);
    pid_t pid = rt_must_marker(marker(&s, "once"));
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    json_t *j = final_job(&s, id);
    if (retries > 0) {
        must_job_state(j, "succeeded", NULL);
        ck_assert_str_eq(must_str(j, "result"), "again");
        ck_assert_int_eq(must_int(j, "attempts"), 2);
    } else {
        must_job_state(j, "failed", "worker_lost");
        ck_assert_int_eq(must_int(j, "attempts"), 1);
        ck_assert_msg(strstr(must_str(must_get(j, "error"), "message"), "ended during the call"),
                      "message: %s", must_str(must_get(j, "error"), "message"));
    }
    ck_assert_int_ne(rt_call_pid(&s), pid); /* and a new process serves */
}

START_TEST(test_killed_retry_succeeds) { killed_job(1); }
END_TEST

START_TEST(test_killed_no_retry_worker_lost) { killed_job(0); }
END_TEST

/* A sync call whose process is killed: 502 worker_lost. */
START_TEST(test_killed_sync_502)
{
    server s;
    resp r;
    char body[600];
    start_py(&s);
    snprintf(body, sizeof(body), "{\"marker\": \"%s\"}", marker(&s, "once"));
    int fd = must_connect(&s);
    const char *req = http_request_text("POST", "/v1/fn/once_slow", body, "Connection: close\r\n");
    must_send(fd, req, strlen(req));
    pid_t pid = rt_must_marker(marker(&s, "once"));
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    must_read_response(fd, &r);
    close(fd);
    must_error(&r, 502, "worker_lost", NULL);
    rt_must_log(&s, "ended during a call");
}
END_TEST

/* A reply over max_result_bytes: the call fails, the process is replaced. */
START_TEST(test_too_large_reply)
{
    server s;
    resp r;
    start_py(&s);
    pid_t before = rt_call_pid(&s);
    json_t *v = must_call_fn(&s, "big", "{\"n\": 1000000}", &r);
    ck_assert_int_eq(json_string_length(v), 1000000);
    http_call(&s, "POST", "/v1/fn/big", "{\"n\": 2000000}", &r);
    must_error(&r, 422, "function_error", NULL);
    ck_assert_msg(strstr(r.body, "max_result_bytes"), "%s", r.body);
    rt_must_log(&s, "killed: a reply line longer than max_result_bytes (1048576)");
    ck_assert_int_ne(rt_call_pid(&s), before);
}
END_TEST

/* per_worker processes in each worker: calls run in parallel. */
START_TEST(test_per_worker)
{
    server s;
    char body[600];
    must_start(&s, rt_conf("py", rt_script("handlers.py"), "", "\"per_worker\": 2",
                           "\"workers\": 1, \"cpu_threads\": 2"));
    snprintf(body, sizeof(body), "{\"fn\": \"loop\", \"args\": {\"marker\": \"%s\"}}",
             marker(&s, "loop"));
    const char *id = submit(&s, body);
    pid_t spinner = rt_must_marker(marker(&s, "loop"));
    ck_assert_int_ne(rt_call_pid(&s), spinner); /* the other process answers */
    resp r;
    char path[128];
    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    rt_call(&s, "DELETE", path, NULL, 10000, &r);
    must_status(&r, 200);
}
END_TEST

/* memory_mb, cwd, env and descriptors as the process sees them. */
START_TEST(test_process_limits)
{
    server s;
    resp r;
    char extra[600];
    snprintf(extra, sizeof(extra), "\"memory_mb\": 256, \"cwd\": \"/tmp\"");
    must_start(&s, rt_conf("py", rt_script("handlers.py"), "", extra, "\"workers\": 1"));
    ck_assert_int_eq(json_integer_value(must_call_fn(&s, "alloc", "{\"mb\": 16}", &r)), 16 << 20);
    http_call(&s, "POST", "/v1/fn/alloc", "{\"mb\": 1024}", &r);
    must_error(&r, 422, "function_error", NULL);
    ck_assert_str_eq(must_str(must_get(must_json(&r), "error"), "message"), "MemoryError");
    json_t *v = must_call_fn(&s, "surroundings", "{}", &r);
    ck_assert_str_eq(must_str(v, "cwd"), "/tmp");
    const char *key;
    json_t *val;
    json_object_foreach(must_get(v, "env"), key, val) { /* env, PATH, and Python's own */
        ck_assert_msg(strcmp(key, "PYTHONPATH") == 0 || strcmp(key, "PYTHONDONTWRITEBYTECODE") == 0 ||
                          strcmp(key, "PATH") == 0 || strcmp(key, "LC_CTYPE") == 0,
                      "inherited %s: %s", key, r.body);
    }
    ck_assert_ptr_nonnull(json_object_get(must_get(v, "env"), "PATH"));
    json_object_foreach(must_get(v, "fds"), key, val) { /* the pipes, dup'd by serve(), /dev/null */
        const char *target = json_string_value(val);
        ck_assert_msg(strncmp(target, "pipe:", 5) == 0 || strcmp(target, "/dev/null") == 0,
                      "fd %s is %s: %s", key, target, r.body);
    }
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");
    ck_assert_msg(f != NULL, "fopen(%s)", path);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

#define HANDLERS_HEAD "from crunchd_runtime import function, serve\n\n@function()\ndef alpha():\n    return 1\n\n"

/* HUP with a changed handlers file: the new generation lists and runs the
 * new function; the file is read again by the master and the new workers.
 * Then a broken file: the reload fails and the running workers go on. */
START_TEST(test_hup_new_function)
{
    server s;
    resp r;
    char path[600];
    const char *tmp = getenv("TMPDIR");
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/crunchd-rt-hup-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/h.py", dir);
    write_file(path, HANDLERS_HEAD "serve()\n");
    must_start(&s, rt_conf("py", path, "", "", "\"workers\": 1"));
    ck_assert_int_eq(json_integer_value(must_call_fn(&s, "alpha", "{}", &r)), 1);
    http_call(&s, "POST", "/v1/fn/beta", "{}", &r);
    must_error(&r, 404, "unknown_function", NULL);
    write_file(path, HANDLERS_HEAD "@function()\ndef beta():\n    return 2\n\nserve()\n");
    must_signal(&s, SIGHUP);
    /* The old worker serves until the new one runs: ask until the new one answers. */
    int64_t deadline = now_ms() + RT_WAIT_MS;
    for (;;) {
        http_call(&s, "POST", "/v1/fn/beta", "{}", &r);
        if (r.status == 200)
            break;
        must_error(&r, 404, "unknown_function", NULL);
        ck_assert_msg(now_ms() < deadline, "beta not served %d ms after HUP", RT_WAIT_MS);
        sleep_ms(50);
    }
    ck_assert_int_eq(must_int(must_json(&r), "result"), 2);
    for (;;) { /* listed too, once the old worker has drained */
        http_call(&s, "GET", "/v1/functions", NULL, &r);
        if (find_fn(must_json(&r), "beta"))
            break;
        ck_assert_msg(now_ms() < deadline, "beta not listed %d ms after HUP", RT_WAIT_MS);
        sleep_ms(50);
    }
    ck_assert_int_eq(json_integer_value(must_call_fn(&s, "alpha", "{}", &r)), 1);
    /* A broken file: the reload fails, naming the runtime; the workers serve on. */
    write_file(path, "def broken(:\n");
    must_signal(&s, SIGHUP);
    rt_must_log(&s, "functions.runtimes[0] \"py\": process");
    rt_must_log(&s, "]: SyntaxError: invalid syntax");
    ck_assert_int_eq(json_integer_value(must_call_fn(&s, "beta", "{}", &r)), 2);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* A fast stop (TERM) ends the workers at once; their runtime processes go
 * with them (PR_SET_PDEATHSIG), as they do on a graceful stop. */
static void stops_with_worker(int sig)
{
    server s;
    start_py(&s);
    pid_t pid = rt_call_pid(&s);
    must_signal(&s, sig);
    ck_assert_int_ge(server_wait_exit(&s, RT_WAIT_MS), 0);
    must_gone(pid, RT_WAIT_MS, "a runtime process after its worker ended");
}

START_TEST(test_stop_term) { stops_with_worker(SIGTERM); }
END_TEST

START_TEST(test_stop_quit) { stops_with_worker(SIGQUIT); }
END_TEST

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("integration_runtime");
    TCase *tc = harness_tcase("calls");
    tcase_add_test(tc, test_listing);
    tcase_add_test(tc, test_sync_calls);
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_job_wait);
    tcase_add_test(tc, test_per_worker);
    tcase_add_test(tc, test_process_limits);
    suite_add_tcase(s, tc);

    tc = harness_tcase("stopping");
    tcase_add_test(tc, test_job_timeout_interrupts);
    tcase_add_test(tc, test_job_cancel);
    tcase_add_test(tc, test_sync_timeout_interrupts);
    tcase_add_test(tc, test_ignored_cancel_kills);
    suite_add_tcase(s, tc);

    tc = harness_tcase("failures");
    tcase_add_test(tc, test_killed_retry_succeeds);
    tcase_add_test(tc, test_killed_no_retry_worker_lost);
    tcase_add_test(tc, test_killed_sync_502);
    tcase_add_test(tc, test_too_large_reply);
    suite_add_tcase(s, tc);

    tc = harness_tcase("lifecycle");
    tcase_add_test(tc, test_hup_new_function);
    tcase_add_test(tc, test_stop_term);
    tcase_add_test(tc, test_stop_quit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(runtime_suite());
}
