/*
 * check_jobs.c - asynchronous jobs ("futures over HTTP", DESIGN.md section 4)
 * against the real binary: submission (202, Location, Retry-After, the job
 * object, refusals), long-polls (GET ?wait, POST ?wait, Prefer: wait, and
 * their wake-ups under load), execution across workers from one connection,
 * cancel (queued, running, ignoring cancel, final), time limits, lost
 * workers (crash, kill -9, retries), a fast restart on the same store,
 * Idempotency-Key, backpressure (queue_full) and listing. Callbacks are in
 * check_callbacks.c.
 *
 * Every wait is bounded; timing bounds carry slack for a loaded 2-CPU
 * machine, and the figures that are only informative are printed as [info].
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* "Within ~2 s" of the contract, plus scheduling slack. */
#define LOST_MS 3000
/* A count that no test lets finish (about a minute at 2 ns an iteration). */
#define COUNT_FOREVER "{\"fn\":\"count\",\"args\":{\"iterations\":100000000000}}"
/* Slack for "quickly" on a machine shared with other test runs. */
#define QUICK_MS 1000

/* ---- failure locations ------------------------------------------------------
 * The helpers below are called through macros that record the test's line,
 * so a failure inside a helper names the line of the test that called it.
 * Inside helpers the harness functions are called with their names in
 * parentheses, which bypasses the harness's own location macros. */

static const char *at_file = "?";
static int at_line;

static void jobs_at(const char *file, int line)
{
    const char *slash = strrchr(file, '/');
    at_file = slash ? slash + 1 : file;
    at_line = line;
    harness_at(file, line);
}

#define AT_(call) (jobs_at(__FILE__, __LINE__), (call))

static void jfail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void jfail(const char *fmt, ...)
{
    char msg[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "[jobs] %s:%d: %s\n", at_file, at_line, msg);
    ck_abort_msg("%s:%d: %s", at_file, at_line, msg);
    abort(); /* not reached */
}

/* Compact JSON text for a failure message. Leaked on purpose: it is only
 * made when the test is about to fail. */
static const char *dump(json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    return s ? s : "(null)";
}

/* ---- requests --------------------------------------------------------------- */

/*
 * One request on a fresh connection ("Connection: close"), whose reads may
 * take up to timeout_ms (long-polls outlast the harness's 5 s). Fails unless
 * a response comes back; returns its status.
 */
static int jcall_(server *s, const char *method, const char *path, const char *body,
                  const char *extra, int timeout_ms, resp *r)
{
    int fd = (must_connect)(s);
    set_recv_timeout(fd, timeout_ms);
    char hdr[1024];
    snprintf(hdr, sizeof(hdr), "%sConnection: close\r\n", extra ? extra : "");
    const char *req = http_request_text(method, path, body, hdr);
    (must_send)(fd, req, strlen(req));
    char err[512];
    int st = read_response(fd, r, 0, err, sizeof(err));
    close(fd);
    if (st < 0)
        jfail("%s %s: %s (read timeout %d ms)", method, path, err, timeout_ms);
    if (st == 0)
        jfail("%s %s: the server closed the connection without a reply", method, path);
    return st;
}
#define jcall(...) AT_(jcall_(__VA_ARGS__))

static bool state_final(const char *st)
{
    return strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
           strcmp(st, "cancelled") == 0;
}

/* Fails unless v is a job object with every member of the contract;
 * returns v. */
static json_t *must_job_obj_(json_t *v, const resp *r)
{
    static const char *const keys[] = {
        "id",     "fn",         "args",       "state",       "result",   "error",  "attempts",
        "worker", "created_at", "started_at", "finished_at", "queue_ms", "run_ms", "cpu_ms"};
    if (!json_is_object(v))
        jfail("not a job object:\n%s", r ? resp_describe(r) : dump(v));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!json_object_get(v, keys[i]))
            jfail("job object without \"%s\": %s", keys[i], dump(v));
    const char *st = json_string_value(json_object_get(v, "state"));
    static const char *const states[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    bool known = false;
    for (size_t i = 0; st && i < sizeof(states) / sizeof(states[0]); i++)
        known = known || strcmp(st, states[i]) == 0;
    if (!known)
        jfail("job with an unknown state: %s", dump(v));
    if (!json_is_string(json_object_get(v, "id")) ||
        !json_is_integer(json_object_get(v, "attempts")))
        jfail("job id or attempts of the wrong type: %s", dump(v));
    return v;
}

/* The job object of a 200/202 reply. */
static json_t *must_job_(resp *r)
{
    (must_json_type)(r);
    return must_job_obj_((must_json)(r), r);
}

static const char *job_id(json_t *j)
{
    return json_string_value(json_object_get(j, "id"));
}

static const char *job_state(json_t *j)
{
    return json_string_value(json_object_get(j, "state"));
}

/* error.code of a job, or NULL when "error" is null. */
static const char *job_error_code(json_t *j)
{
    json_t *e = json_object_get(j, "error");
    return json_is_object(e) ? json_string_value(json_object_get(e, "code")) : NULL;
}

/* Fails unless the job is in state and its error code is errcode (NULL:
 * "error" must be null). */
static void must_state_(json_t *j, const char *state, const char *errcode)
{
    const char *st = job_state(j), *code = job_error_code(j);
    if (!st || strcmp(st, state) != 0)
        jfail("expected job state \"%s\", got \"%s\": %s", state, st ? st : "(none)", dump(j));
    if (errcode && (!code || strcmp(code, errcode) != 0))
        jfail("expected job error.code \"%s\", got %s: %s", errcode, code ? code : "none", dump(j));
    if (!errcode && !json_is_null(json_object_get(j, "error")))
        jfail("expected job error null: %s", dump(j));
}
#define must_state(...) AT_(must_state_(__VA_ARGS__))

/* POSTs body to path (NULL: /v1/jobs) with extra headers; returns the status. */
static int submit_(server *s, const char *path, const char *body, const char *extra, resp *r)
{
    return jcall_(s, "POST", path ? path : "/v1/jobs", body, extra, HARNESS_IO_TIMEOUT_MS, r);
}
#define submit(...) AT_(submit_(__VA_ARGS__))

/* Checks a 202 reply: Location, Retry-After, a job not yet final. */
static json_t *must_accepted_(resp *r)
{
    (must_status)(r, 202);
    json_t *j = must_job_(r);
    char want[128];
    snprintf(want, sizeof(want), "/v1/jobs/%s", job_id(j));
    (must_header)(r, "Location", want);
    const char *ra = resp_header(r, "Retry-After");
    if (!ra || !*ra || strspn(ra, "0123456789") != strlen(ra))
        jfail("202 without a Retry-After of whole seconds:\n%s", resp_describe(r));
    if (state_final(job_state(j)))
        jfail("202 with a final job:\n%s", resp_describe(r));
    return j;
}
#define must_accepted(...) AT_(must_accepted_(__VA_ARGS__))

/* Submits body (to /v1/jobs, no wait); fails unless 202; returns the id
 * (harness-owned). */
static const char *must_submit_(server *s, const char *body)
{
    resp r;
    submit_(s, NULL, body, NULL, &r);
    return job_id(must_accepted_(&r));
}
#define must_submit(...) AT_(must_submit_(__VA_ARGS__))

/*
 * GET /v1/jobs/{id}[?wait=S]; fails unless 200 with a job object. With
 * lossy, a connection closed without a reply returns NULL instead of
 * failing: a long-poll held by a worker that dies is lost with it.
 */
static json_t *get_job_(server *s, const char *id, int wait_s, bool lossy)
{
    char path[128];
    if (wait_s > 0)
        snprintf(path, sizeof(path), "/v1/jobs/%s?wait=%d", id, wait_s);
    else
        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    int fd = (must_connect)(s);
    set_recv_timeout(fd, wait_s * 1000 + HARNESS_IO_TIMEOUT_MS);
    const char *req = http_request_text("GET", path, NULL, "Connection: close\r\n");
    resp r;
    char err[512];
    int st = try_send(fd, req, strlen(req)) < 0 ? 0 : read_response(fd, &r, 0, err, sizeof(err));
    close(fd);
    if (st == 0 && lossy)
        return NULL;
    if (st < 0)
        jfail("GET %s: %s", path, err);
    if (st == 0)
        jfail("GET %s: the server closed the connection without a reply", path);
    (must_status)(&r, 200);
    json_t *j = must_job_(&r);
    if (strcmp(job_id(j), id) != 0)
        jfail("GET %s returned job %s", path, job_id(j));
    return j;
}

static json_t *must_get_job_(server *s, const char *id, int wait_s)
{
    return get_job_(s, id, wait_s, false);
}
#define must_get_job(...) AT_(must_get_job_(__VA_ARGS__))

/* Long-polls until the job is final; fails after timeout_ms. lossy: see
 * get_job_(); a lost long-poll is asked again. */
static json_t *final_(server *s, const char *id, int timeout_ms, bool lossy)
{
    int64_t deadline = now_ms() + timeout_ms;
    json_t *last = NULL;
    for (;;) {
        int64_t left = deadline - now_ms();
        int wait_s = left <= 0 ? 0 : (int)((left + 999) / 1000);
        json_t *j = get_job_(s, id, wait_s, lossy);
        if (j && state_final(job_state(j)))
            return j;
        last = j ? j : last;
        if (now_ms() >= deadline)
            jfail("job %s not final within %d ms: %s", id, timeout_ms,
                  last ? dump(last) : "(every long-poll was lost)");
        if (!j)
            fprintf(stderr, "[info] a long-poll on job %s was lost (its worker died?)\n", id);
        if (!j || wait_s == 0)
            sleep_ms(20);
    }
}

static json_t *must_final_(server *s, const char *id, int timeout_ms)
{
    return final_(s, id, timeout_ms, false);
}
#define must_final(...) AT_(must_final_(__VA_ARGS__))

/* must_final() while workers die: a long-poll they held is asked again. */
static json_t *must_final_lossy_(server *s, const char *id, int timeout_ms)
{
    return final_(s, id, timeout_ms, true);
}
#define must_final_lossy(...) AT_(must_final_lossy_(__VA_ARGS__))

/* Polls until the job is "running"; fails if it ends first or at the deadline. */
static json_t *must_running_(server *s, const char *id, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        json_t *j = must_get_job_(s, id, 0);
        const char *st = job_state(j);
        if (strcmp(st, "running") == 0)
            return j;
        if (state_final(st))
            jfail("job %s ended before it was seen running: %s", id, dump(j));
        if (now_ms() >= deadline)
            jfail("job %s not running within %d ms: %s", id, timeout_ms, dump(j));
        sleep_ms(10);
    }
}
#define must_running(...) AT_(must_running_(__VA_ARGS__))

/* DELETE /v1/jobs/{id}; returns the status. */
static int cancel_(server *s, const char *id, int timeout_ms, resp *r)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    return jcall_(s, "DELETE", path, NULL, NULL, timeout_ms, r);
}
#define cancel(...) AT_(cancel_(__VA_ARGS__))

/* The /v1/workers object whose pid is pid, or NULL. */
static json_t *worker_of(server *s, pid_t pid)
{
    json_t *list = must_workers(s);
    size_t i;
    json_t *w;
    json_array_foreach(list, i, w)
    {
        if (json_integer_value(json_object_get(w, "pid")) == pid)
            return w;
    }
    return NULL;
}

/* The "worker" of a job: a pid that /v1/workers lists. */
static pid_t must_job_worker_(server *s, json_t *j)
{
    json_int_t pid = json_integer_value(json_object_get(j, "worker"));
    if (pid <= 0)
        jfail("job without a worker pid: %s", dump(j));
    if (!worker_of(s, (pid_t)pid))
        jfail("job worker %lld is not in /v1/workers: %s", (long long)pid, dump(j));
    return (pid_t)pid;
}
#define must_job_worker(...) AT_(must_job_worker_(__VA_ARGS__))

/* ---- submission ---------------------------------------------------------------- */

START_TEST(test_submit_202)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    resp r;
    submit(&s, NULL, "{\"fn\":\"fib\",\"args\":{\"n\":20}}", NULL, &r);
    json_t *j = must_accepted(&r);
    const char *id = job_id(j);
    /* At least 96 random bits, and safe in a path. */
    ck_assert_msg(strlen(id) >= 16, "job id \"%s\" is short", id);
    ck_assert_msg(strspn(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_") ==
                      strlen(id),
                  "job id \"%s\" is not URL-safe", id);
    ck_assert_str_eq(must_str(j, "fn"), "fib");
    ck_assert_int_eq(must_int(must_get(j, "args"), "n"), 20);
    ck_assert_msg(json_is_null(must_get(j, "result")), "result of a new job: %s", dump(j));
    ck_assert_msg(json_is_null(must_get(j, "error")), "error of a new job: %s", dump(j));
    ck_assert_msg(json_is_null(must_get(j, "finished_at")), "finished_at of a new job: %s",
                  dump(j));
    ck_assert_msg(json_is_string(must_get(j, "created_at")), "created_at of a new job: %s",
                  dump(j));

    j = must_final(&s, id, 5000);
    must_state(j, "succeeded", NULL);
    ck_assert_int_eq(must_int(j, "result"), 6765);
    ck_assert_int_eq(must_int(j, "attempts"), 1);
    must_job_worker(&s, j);
    ck_assert_msg(json_is_string(must_get(j, "started_at")) &&
                      json_is_string(must_get(j, "finished_at")),
                  "times of a finished job: %s", dump(j));
    ck_assert_msg(json_is_number(must_get(j, "queue_ms")) &&
                      json_is_number(must_get(j, "run_ms")) &&
                      json_is_number(must_get(j, "cpu_ms")),
                  "durations of a finished job: %s", dump(j));

    /* Another submission is another job. */
    const char *id2 = must_submit(&s, "{\"fn\":\"fib\",\"args\":{\"n\":20}}");
    ck_assert_str_ne(id, id2);
    /* Defaults fill the args; an empty or absent args object is fine. */
    j = must_final(&s, must_submit(&s, "{\"fn\":\"fib\"}"), 5000);
    must_state(j, "succeeded", NULL);
    ck_assert_int_eq(must_int(j, "result"), 55);
}
END_TEST

START_TEST(test_submit_refused)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    resp r;
    submit(&s, NULL, "{\"fn\":\"fib\",\"args\":{},\"bogus\":1}", NULL, &r);
    must_error(&r, 400, "invalid_args", "bogus");
    submit(&s, NULL, "{\"args\":{\"n\":3}}", NULL, &r);
    must_error(&r, 400, "invalid_args", "fn");
    submit(&s, NULL, "{\"fn\":\"no_such_fn\"}", NULL, &r);
    must_error(&r, 404, "unknown_function", NULL);
    /* debug functions do not exist without debug_functions. */
    submit(&s, NULL, "{\"fn\":\"crash\"}", NULL, &r);
    must_error(&r, 404, "unknown_function", NULL);
    submit(&s, NULL, "{\"fn\":\"fib\",\"args\":{\"n\":-1}}", NULL, &r);
    must_error(&r, 400, "invalid_args", "n");
    submit(&s, NULL, "{\"fn\":\"fib\",\"args\":{\"n\":3,\"m\":1}}", NULL, &r);
    must_error(&r, 400, "invalid_args", "m");
    submit(&s, NULL, "{\"fn\":\"fib\",\"timeout_ms\":0}", NULL, &r);
    must_error(&r, 400, "invalid_args", "timeout_ms");
    submit(&s, NULL, "{\"fn\":\"fib\",\"timeout_ms\":999999999999}", NULL, &r);
    must_error(&r, 400, "invalid_args", "timeout_ms");
    submit(&s, NULL, "{\"fn\":\"fib\",\"retries\":11}", NULL, &r);
    must_error(&r, 400, "invalid_args", "retries");
    submit(&s, NULL, "[1,2]", NULL, &r);
    must_error(&r, 400, "bad_json", NULL);
    submit(&s, NULL, "{\"fn\":", NULL, &r);
    must_error(&r, 400, "bad_json", NULL);
    /* A non-JSON content type. */
    const char *raw = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                      "Content-Length: 12\r\nConnection: close\r\n\r\n{\"fn\":\"fib\"}";
    http_call_raw(&s, raw, strlen(raw), &r);
    must_error(&r, 415, "unsupported_media_type", NULL);
    /* Nothing of that was queued. */
    http_call(&s, "GET", "/v1/jobs", NULL, &r);
    must_status(&r, 200);
    ck_assert_msg(json_array_size(must_get(must_json(&r), "jobs")) == 0,
                  "refused submissions left jobs:\n%s", resp_describe(&r));
}
END_TEST

/* ---- long-polls --------------------------------------------------------------------- */

START_TEST(test_longpoll_returns_early)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    const char *id = must_submit(&s, "{\"fn\":\"sleep\",\"args\":{\"ms\":300}}");
    int64_t t0 = now_ms();
    json_t *j = must_get_job(&s, id, 10);
    int64_t took = now_ms() - t0;
    must_state(j, "succeeded", NULL);
    ck_assert_int_ge(must_int(must_get(j, "result"), "slept_ms"), 300);
    /* Final, so it came after the job ended; well before the 10 s wait ran out. */
    ck_assert_msg(took < 9000, "GET ?wait=10 on a 300 ms sleep returned after %lld ms",
                  (long long)took);
    fprintf(stderr, "[info] GET ?wait=10 on a 300 ms sleep: %lld ms\n", (long long)took);
}
END_TEST

START_TEST(test_longpoll_times_out)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    const char *id = must_submit(&s, "{\"fn\":\"sleep\",\"args\":{\"ms\":5000}}");
    must_running(&s, id, 2000);
    int64_t t0 = now_ms();
    json_t *j = must_get_job(&s, id, 1);
    int64_t took = now_ms() - t0;
    /* Still running, so it came before the 5 s job ended: the wait ran out. */
    must_state(j, "running", NULL);
    ck_assert_msg(took >= 900, "GET ?wait=1 on a running job returned after %lld ms",
                  (long long)took);
}
END_TEST

START_TEST(test_submit_wait)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    resp r;
    /* ?wait=5 on a job that takes 200 ms: 200 with the final job. */
    int64_t t0 = now_ms();
    submit(&s, "/v1/jobs?wait=5", "{\"fn\":\"sleep\",\"args\":{\"ms\":200}}", NULL, &r);
    must_status(&r, 200);
    json_t *j = AT_(must_job_(&r));
    must_state(j, "succeeded", NULL); /* a 200 with the final job: the wait did its work */
    /* The same with Prefer: wait=5 (RFC 7240). */
    submit(&s, NULL, "{\"fn\":\"sleep\",\"args\":{\"ms\":200}}", "Prefer: wait=5\r\n", &r);
    must_status(&r, 200);
    j = AT_(must_job_(&r));
    must_state(j, "succeeded", NULL);
    /* And a wait that runs out: 202 after the wait, the job not final (so
     * before the 5 s job ended). */
    t0 = now_ms();
    submit(&s, NULL, "{\"fn\":\"sleep\",\"args\":{\"ms\":5000}}", "Prefer: wait=1\r\n", &r);
    int64_t took = now_ms() - t0;
    j = must_accepted(&r);
    ck_assert_msg(took >= 900, "Prefer: wait=1 on a 5 s job answered after %lld ms",
                  (long long)took);
}
END_TEST

/*
 * Many long-polls at once: 16 connections each loop POST ?wait=5 of a job that
 * does nothing, for 3 s. Every reply must be the final job (200) well within
 * the wait: a long-poll held by one worker for a job that ends on the other
 * must be woken, not answered by its timer 5 s later.
 */
START_TEST(test_longpoll_wakeups_under_load)
{
    enum { C = 16, RUN_MS = 3000, SLOW_MS = 1000 };
    server s;
    must_start(&s, "{\"workers\": 2}");
    /* Past the workers' first second, so both claim jobs (see
     * test_cross_worker_one_connection) and finishes cross workers. */
    sleep_ms(1100);
    const char *req = http_request_text(
        "POST", "/v1/jobs", "{\"fn\":\"count\",\"args\":{\"iterations\":0}}", "Prefer: wait=5\r\n");
    int fds[C];
    int64_t sent[C];
    for (int i = 0; i < C; i++) {
        fds[i] = must_connect(&s);
        set_recv_timeout(fds[i], 8000);
        must_send_str(fds[i], req);
        sent[i] = now_ms();
    }
    int64_t deadline = now_ms() + RUN_MS, worst = 0;
    int done = 0, slow = 0, open = C;
    const char *worst_id = "";
    while (open > 0) {
        struct pollfd p[C];
        for (int i = 0; i < C; i++)
            p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        if (poll(p, C, 100) < 0 && errno != EINTR)
            ck_abort_msg("poll() failed: %s", strerror(errno));
        for (int i = 0; i < C; i++) {
            if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            resp r;
            ck_assert_msg(must_read_response(fds[i], &r) != 0,
                          "a POST ?wait=5 connection was closed without a reply");
            int64_t took = now_ms() - sent[i];
            must_status(&r, 200);
            json_t *j = AT_(must_job_(&r));
            must_state(j, "succeeded", NULL);
            done++;
            slow += took >= SLOW_MS;
            if (took > worst) {
                worst = took;
                worst_id = job_id(j);
            }
            if (now_ms() < deadline) {
                must_send_str(fds[i], req);
                sent[i] = now_ms();
            } else {
                close(fds[i]);
                fds[i] = -1;
                open--;
            }
        }
    }
    fprintf(stderr, "[info] %d POST ?wait=5 of count 0 over %d connections: slowest %lld ms\n",
            done, C, (long long)worst);
    ck_assert_msg(slow == 0,
                  "%d of %d jobs that do nothing took %d ms or more from POST ?wait=5 to the 200 "
                  "(slowest %lld ms, job %s): long-polls not woken when their job ended",
                  slow, done, SLOW_MS, (long long)worst, worst_id);
}
END_TEST

/* ---- across workers ------------------------------------------------------------------- */

/* A connection on the worker other than the one that has pid avoid (0: any
 * worker); *pid gets its worker, from a sync call's "worker". -1 if 64
 * connections all landed on avoid. */
static int connect_on_other_worker(server *s, pid_t avoid, pid_t *pid)
{
    for (int tries = 0; tries < 64; tries++) {
        int fd = must_connect(s);
        set_recv_timeout(fd, 15000);
        must_send_str(fd, http_request_text("POST", "/v1/fn/fib", "{\"n\":1}", NULL));
        resp r;
        ck_assert_int_eq(must_read_response(fd, &r), 200);
        *pid = (pid_t)must_int(must_json(&r), "worker");
        if (*pid != avoid)
            return fd;
        close(fd);
    }
    return -1;
}

/*
 * A long-poll held by one worker on a job that runs on the other: the
 * finisher rings it (it counts its long-polls by job id in the shared
 * region, shm.h wait_bins), so the GET returns when the job ends, not when
 * its wait runs out.
 */
START_TEST(test_longpoll_on_other_worker)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    must_wait_workers_running(&s, 5000);
    pid_t runner, poller;
    int fa = connect_on_other_worker(&s, 0, &runner);
    int fb = connect_on_other_worker(&s, runner, &poller);
    ck_assert_msg(fb >= 0, "64 connections all landed on worker %d", (int)runner);
    /* Submitted on the runner's connection, with its io lane free: it runs there. */
    must_send_str(fa, http_request_text("POST", "/v1/jobs", "{\"fn\":\"sleep\",\"args\":{\"ms\":500}}",
                                        NULL));
    resp r;
    ck_assert_int_eq(must_read_response(fa, &r), 202);
    char id[64];
    snprintf(id, sizeof(id), "%s", job_id(AT_(must_accepted_(&r))));
    char path[128];
    snprintf(path, sizeof(path), "/v1/jobs/%s?wait=10", id);
    int64_t t0 = now_ms();
    must_send_str(fb, http_request_text("GET", path, NULL, NULL));
    ck_assert_int_eq(must_read_response(fb, &r), 200);
    int64_t took = now_ms() - t0;
    json_t *j = AT_(must_job_(&r));
    must_state(j, "succeeded", NULL);
    ck_assert_msg(must_int(j, "worker") == runner, "the job ran on %d, not on %d where it was queued",
                  (int)must_int(j, "worker"), (int)runner);
    /* Told by the bell: well before its 10 s wait ran out. */
    ck_assert_msg(took < 9000, "a long-poll on worker %d for a job that ended on %d returned after %lld ms",
                  (int)poller, (int)runner, (long long)took);
    fprintf(stderr, "[info] long-poll on the other worker for a 500 ms sleep: %lld ms\n", (long long)took);
    close(fa);
    close(fb);
}
END_TEST


START_TEST(test_cross_worker_one_connection)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    enum { N = 8 };
    const char *ids[N];
    int fd = must_connect(&s);
    set_recv_timeout(fd, 30000);
    /* Pipelined: all eight submissions in one write, over one keep-alive
     * connection, so they all reach the same worker. */
    char all[N * 512] = "";
    const char *body = "{\"fn\":\"count\",\"args\":{\"iterations\":300000000}}";
    for (int i = 0; i < N; i++)
        strcat(all, http_request_text("POST", "/v1/jobs", body, NULL));
    must_send(fd, all, strlen(all));
    for (int i = 0; i < N; i++) {
        resp r;
        ck_assert_int_eq(must_read_response(fd, &r), 202);
        ids[i] = job_id(must_accepted(&r));
    }
    /* Then wait on every one over the same connection. */
    pid_t pids[N];
    int distinct = 0;
    char line[512] = "";
    for (int i = 0; i < N; i++) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/jobs/%s?wait=30", ids[i]);
        must_send_str(fd, http_request_text("GET", path, NULL, NULL));
        resp r;
        ck_assert_int_eq(must_read_response(fd, &r), 200);
        json_t *j = AT_(must_job_(&r));
        must_state(j, "succeeded", NULL);
        ck_assert_int_eq(must_int(j, "result"), 300000000);
        pids[i] = (pid_t)must_int(j, "worker");
        bool seen = false;
        for (int k = 0; k < i; k++)
            seen = seen || pids[k] == pids[i];
        distinct += !seen;
        snprintf(line + strlen(line), sizeof(line) - strlen(line), " %d", (int)pids[i]);
    }
    close(fd);
    fprintf(stderr, "[info] 8 counts from one connection ran on workers:%s\n", line);
    ck_assert_msg(distinct >= 2,
                  "8 jobs submitted over one connection right after start all ran on worker %d: "
                  "the other worker was never woken",
                  (int)pids[0]);
    for (int i = 0; i < N; i++)
        ck_assert_msg(worker_of(&s, pids[i]) != NULL, "worker %d is not in /v1/workers",
                      (int)pids[i]);
}
END_TEST

/* ---- cancel ------------------------------------------------------------------------------- */

START_TEST(test_cancel_queued)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"cpu_threads\": 1}");
    const char *blocker = must_submit(&s, COUNT_FOREVER);
    must_running(&s, blocker, 3000);
    const char *id = must_submit(&s, "{\"fn\":\"count\",\"args\":{\"iterations\":1000}}");
    sleep_ms(100);
    must_state(must_get_job(&s, id, 0), "queued", NULL);
    resp r;
    cancel(&s, id, 5000, &r);
    must_status(&r, 200);
    json_t *j = AT_(must_job_(&r));
    must_state(j, "cancelled", "cancelled");
    /* Free the lane: the cancelled job must not run now. */
    cancel(&s, blocker, 5000, &r);
    must_status(&r, 200);
    must_state(AT_(must_job_(&r)), "cancelled", "cancelled");
    /* A job queued after it runs: the queue has moved past the cancelled one. */
    must_state(must_final(&s, must_submit(&s, "{\"fn\":\"fib\"}"), 5000), "succeeded", NULL);
    sleep_ms(200);
    j = must_get_job(&s, id, 0);
    must_state(j, "cancelled", "cancelled");
    ck_assert_int_eq(must_int(j, "attempts"), 0);
    ck_assert_msg(json_is_null(must_get(j, "started_at")), "a cancelled queued job started: %s",
                  dump(j));
    ck_assert_msg(json_is_null(must_get(j, "result")), "a cancelled queued job has a result: %s",
                  dump(j));
    ck_assert_msg(json_is_string(must_get(j, "finished_at")),
                  "a cancelled job has no finished_at: %s", dump(j));
}
END_TEST

START_TEST(test_cancel_running)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    pid_t w0 = must_worker_pid(&s, 0);
    const char *id = must_submit(&s, "{\"fn\":\"sleep\",\"args\":{\"ms\":10000}}");
    must_running(&s, id, 3000);
    resp r;
    int64_t t0 = now_ms();
    cancel(&s, id, 5000, &r);
    int64_t took = now_ms() - t0;
    must_status(&r, 200);
    must_state(AT_(must_job_(&r)), "cancelled", "cancelled");
    ck_assert_msg(took < QUICK_MS, "DELETE of a running sleep answered after %lld ms",
                  (long long)took);
    json_t *j = must_get_job(&s, id, 0);
    must_state(j, "cancelled", "cancelled");
    ck_assert_int_eq(must_int(j, "attempts"), 1);
    /* A function that honours cancel costs no worker. */
    json_t *w = must_worker_slot(&s, 0);
    ck_assert_int_eq(must_int(w, "pid"), w0);
    ck_assert_int_eq(must_int(w, "restarts"), 0);
    fprintf(stderr, "[info] DELETE of a running sleep: %lld ms\n", (long long)took);
}
END_TEST

START_TEST(test_cancel_ignored_kills_worker)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"debug_functions\": true, "
                   "\"jobs\": {\"cancel_grace_ms\": 500}}");
    pid_t w0 = must_worker_pid(&s, 0);
    const char *id = must_submit(&s, "{\"fn\":\"spin\",\"args\":{\"ms\":15000}}");
    must_running(&s, id, 3000);
    resp r;
    int64_t t0 = now_ms();
    cancel(&s, id, 8000, &r);
    int64_t took = now_ms() - t0;
    must_status(&r, 200);
    /* 200 cancelled (not 202 still stopping): its worker was ended after the grace. */
    must_state(AT_(must_job_(&r)), "cancelled", "cancelled");
    ck_assert_msg(took >= 400, "DELETE of a spin with cancel_grace_ms 500 answered after %lld ms",
                  (long long)took);
    json_t *w = must_wait_respawn(&s, 0, w0, LOST_MS);
    ck_assert_int_eq(must_int(w, "restarts"), 1);
    must_state(must_get_job(&s, id, 0), "cancelled", "cancelled");
    /* The new worker serves jobs. */
    json_t *j = must_final(&s, must_submit(&s, "{\"fn\":\"fib\",\"args\":{\"n\":10}}"), 5000);
    must_state(j, "succeeded", NULL);
    fprintf(stderr, "[info] DELETE of a spin (grace 500 ms): %lld ms\n", (long long)took);
}
END_TEST

START_TEST(test_cancel_final_409)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    const char *id = must_submit(&s, "{\"fn\":\"fib\",\"args\":{\"n\":10}}");
    must_state(must_final(&s, id, 5000), "succeeded", NULL);
    resp r;
    cancel(&s, id, 5000, &r);
    must_error(&r, 409, "already_final", NULL);
    /* Still succeeded. */
    must_state(must_get_job(&s, id, 0), "succeeded", NULL);
    /* A second cancel of a cancelled job is also final. */
    id = must_submit(&s, "{\"fn\":\"sleep\",\"args\":{\"ms\":10000}}");
    cancel(&s, id, 5000, &r);
    must_status(&r, 200);
    cancel(&s, id, 5000, &r);
    must_error(&r, 409, "already_final", NULL);
}
END_TEST

/* ---- time limits ------------------------------------------------------------------------- */

START_TEST(test_timeout)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    pid_t w0 = must_worker_pid(&s, 0);
    int64_t t0 = now_ms();
    const char *id = must_submit(
        &s, "{\"fn\":\"count\",\"args\":{\"iterations\":100000000000},\"timeout_ms\":200}");
    json_t *j = must_final(&s, id, 5000);
    int64_t took = now_ms() - t0;
    must_state(j, "failed", "timeout");
    /* The count runs for minutes unless its time limit stops it. */
    ck_assert_msg(took >= 150 && took < 20000, "timeout_ms 200 ended the job after %lld ms",
                  (long long)took);
    json_t *w = must_worker_slot(&s, 0);
    ck_assert_int_eq(must_int(w, "pid"), w0);
    ck_assert_int_eq(must_int(w, "restarts"), 0);
}
END_TEST

START_TEST(test_timeout_spin_kills_worker)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"debug_functions\": true, "
                   "\"jobs\": {\"cancel_grace_ms\": 500}}");
    pid_t w0 = must_worker_pid(&s, 0);
    int64_t t0 = now_ms();
    const char *id =
        must_submit(&s, "{\"fn\":\"spin\",\"args\":{\"ms\":15000},\"timeout_ms\":200}");
    json_t *j = must_final_lossy(&s, id, 200 + 500 + 4000);
    int64_t took = now_ms() - t0;
    must_state(j, "failed", "timeout");
    json_t *w = must_wait_respawn(&s, 0, w0, LOST_MS);
    ck_assert_int_eq(must_int(w, "restarts"), 1);
    fprintf(stderr, "[info] spin with timeout_ms 200, grace 500: failed after %lld ms\n",
            (long long)took);
    must_state(must_final(&s, must_submit(&s, "{\"fn\":\"fib\"}"), 5000), "succeeded", NULL);
}
END_TEST

/* ---- lost workers ---------------------------------------------------------------------------- */

START_TEST(test_crash_worker_lost)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"debug_functions\": true}");
    pid_t w0 = must_worker_pid(&s, 0);
    int64_t t0 = now_ms();
    const char *id = must_submit(&s, "{\"fn\":\"crash\",\"retries\":0}");
    json_t *j = must_final_lossy(&s, id, LOST_MS + 2000);
    fprintf(stderr, "[info] crash, retries 0: final after %lld ms\n", (long long)(now_ms() - t0));
    must_state(j, "failed", "worker_lost");
    ck_assert_int_eq(must_int(j, "attempts"), 1);
    json_t *w = must_wait_respawn(&s, 0, w0, LOST_MS);
    w0 = (pid_t)must_int(w, "pid");

    /* With one retry it runs twice (two claims, two crashes), then fails. */
    t0 = now_ms();
    id = must_submit(&s, "{\"fn\":\"crash\",\"args\":{\"signal\":\"segv\"},\"retries\":1}");
    j = must_final_lossy(&s, id, 2 * LOST_MS + 4000);
    fprintf(stderr, "[info] crash, retries 1: final after %lld ms\n", (long long)(now_ms() - t0));
    must_state(j, "failed", "worker_lost");
    ck_assert_int_eq(must_int(j, "attempts"), 2);
    /* Two more crashes of the only worker: restarts 3 in all. */
    must_wait_workers_running(&s, LOST_MS);
    ck_assert_int_eq(must_int(must_worker_slot(&s, 0), "restarts"), 3);
    ck_assert_int_ne(must_worker_pid(&s, 0), w0);
    must_state(must_final(&s, must_submit(&s, "{\"fn\":\"fib\"}"), 5000), "succeeded", NULL);
}
END_TEST

START_TEST(test_kill9_worker_lost)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    const char *id = must_submit(&s, "{\"fn\":\"sleep\",\"args\":{\"ms\":20000}}");
    json_t *j = must_running(&s, id, 3000);
    pid_t victim = must_job_worker(&s, j);
    ck_assert_int_eq(kill(victim, SIGKILL), 0);
    int64_t t0 = now_ms();
    j = must_final_lossy(&s, id, LOST_MS);
    int64_t took = now_ms() - t0;
    must_state(j, "failed", "worker_lost");
    ck_assert_int_eq(must_int(j, "attempts"), 1);
    fprintf(stderr, "[info] kill -9 of a job's worker: worker_lost after %lld ms\n",
            (long long)took);
}
END_TEST

/* ---- restart ------------------------------------------------------------------------------------
 */

START_TEST(test_restart_same_store)
{
    server a, b;
    must_start(&a, "{\"workers\": 1, \"cpu_threads\": 1}");
    const char *running = must_submit(&a, COUNT_FOREVER);
    must_running(&a, running, 3000);
    const char *queued = must_submit(&a, "{\"fn\":\"count\",\"args\":{\"iterations\":1000}}");
    must_state(must_get_job(&a, queued, 0), "queued", NULL);
    /* Fast stop with one job running and one queued. */
    must_signal(&a, SIGTERM);
    int st = server_wait_exit(&a, 5000);
    ck_assert_msg(st != -1, "the master did not exit within 5 s of SIGTERM");

    /* A new server on the same store file; a's temp dir stays until the
     * teardown, so the store outlives the first server. */
    char over[800];
    snprintf(over, sizeof(over),
             "{\"workers\": 1, \"cpu_threads\": 1, \"store\": {\"path\": \"%s/crunchd.db\"}}",
             a.dir);
    must_start(&b, over);
    json_t *q = must_final(&b, queued, 5000);
    must_state(q, "succeeded", NULL);
    ck_assert_int_eq(must_int(q, "result"), 1000);
    json_t *r = must_final(&b, running, LOST_MS);
    must_state(r, "failed", "worker_lost");
    /* Both are listed by the new server. */
    resp lr;
    http_call(&b, "GET", "/v1/jobs", NULL, &lr);
    must_status(&lr, 200);
    ck_assert_int_eq(json_array_size(must_get(must_json(&lr), "jobs")), 2);
}
END_TEST

/* ---- idempotency
 * ---------------------------------------------------------------------------------- */

START_TEST(test_idempotency_key)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    const char *body = "{\"fn\":\"sleep\",\"args\":{\"ms\":600}}";
    resp r;
    submit(&s, NULL, body, "Idempotency-Key: order-42\r\n", &r);
    const char *id = job_id(must_accepted(&r));
    /* The same key while it runs: the same job, still 202. */
    submit(&s, NULL, body, "Idempotency-Key: order-42\r\n", &r);
    json_t *j = must_accepted(&r);
    ck_assert_str_eq(job_id(j), id);
    must_state(must_final(&s, id, 5000), "succeeded", NULL);
    /* After it finished: the same job, 200. */
    submit(&s, NULL, body, "Idempotency-Key: order-42\r\n", &r);
    must_status(&r, 200);
    j = AT_(must_job_(&r));
    ck_assert_str_eq(job_id(j), id);
    must_state(j, "succeeded", NULL);
    /* Another key, or none, is another job. */
    submit(&s, NULL, body, "Idempotency-Key: order-43\r\n", &r);
    const char *id2 = job_id(must_accepted(&r));
    ck_assert_str_ne(id2, id);
    const char *id3 = must_submit(&s, body);
    ck_assert_str_ne(id3, id);
    ck_assert_str_ne(id3, id2);
    /* Only three jobs exist. */
    http_call(&s, "GET", "/v1/jobs", NULL, &r);
    must_status(&r, 200);
    ck_assert_int_eq(json_array_size(must_get(must_json(&r), "jobs")), 3);
}
END_TEST

/* ---- backpressure
 * -------------------------------------------------------------------------------------- */

START_TEST(test_queue_full_429)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"cpu_threads\": 1, \"limits\": {\"max_queue\": 2}}");
    const char *blocker = must_submit(&s, COUNT_FOREVER);
    must_running(&s, blocker, 3000);
    const char *small = "{\"fn\":\"count\",\"args\":{\"iterations\":1000}}";
    resp r;
    int accepted = 0;
    for (int i = 0; i < 10; i++) {
        submit(&s, NULL, small, NULL, &r);
        if (r.status != 202)
            break;
        accepted++;
    }
    ck_assert_msg(accepted == 2, "max_queue 2: %d jobs accepted before the first refusal",
                  accepted);
    must_status(&r, 429);
    must_json_type(&r);
    json_t *e = must_get(must_json(&r), "error");
    ck_assert_str_eq(must_str(e, "code"), "queue_full");
    const char *ra = resp_header(&r, "Retry-After");
    ck_assert_msg(ra && *ra && strspn(ra, "0123456789") == strlen(ra) && atoi(ra) >= 1,
                  "429 without a Retry-After of at least 1 s:\n%s", resp_describe(&r));
    /* With the lane free again the queue drains and submissions are accepted. */
    cancel(&s, blocker, 5000, &r);
    must_status(&r, 200);
    int64_t deadline = now_ms() + 5000;
    for (;;) {
        submit(&s, NULL, small, NULL, &r);
        if (r.status == 202)
            break;
        must_status(&r, 429);
        ck_assert_msg(now_ms() < deadline, "still 429 5 s after the lane was freed");
        sleep_ms(50);
    }
}
END_TEST

/* ---- listing and 404s
 * ------------------------------------------------------------------------------------ */

START_TEST(test_list_filters)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    const char *ids[4];
    ids[0] = must_submit(&s, "{\"fn\":\"fib\",\"args\":{\"n\":1}}");
    ids[1] = must_submit(&s, "{\"fn\":\"sleep\",\"args\":{\"ms\":10}}");
    ids[2] = must_submit(&s, "{\"fn\":\"fib\",\"args\":{\"n\":2}}");
    ids[3] = must_submit(&s, "{\"fn\":\"fib\",\"args\":{\"n\":3}}");
    for (int i = 0; i < 4; i++)
        must_state(must_final(&s, ids[i], 5000), "succeeded", NULL);
    const char *running = must_submit(&s, "{\"fn\":\"sleep\",\"args\":{\"ms\":10000}}");
    must_running(&s, running, 3000);

    resp r;
    http_call(&s, "GET", "/v1/jobs", NULL, &r);
    must_status(&r, 200);
    json_t *list = must_get(must_json(&r), "jobs");
    ck_assert_int_eq(json_array_size(list), 5);
    /* Newest first. */
    ck_assert_str_eq(job_id(json_array_get(list, 0)), running);
    for (int i = 0; i < 4; i++) {
        json_t *e = json_array_get(list, (size_t)(4 - i));
        ck_assert_str_eq(job_id(e), ids[i]);
        /* Summaries: no args, no result (check_jobs_api.c tests ?fields=). */
        ck_assert_msg(!json_object_get(e, "args") && !json_object_get(e, "result") &&
                          json_object_get(e, "state") && json_object_get(e, "finished_at"),
                      "not a summary: %s", dump(e));
    }

    http_call(&s, "GET", "/v1/jobs?fn=fib", NULL, &r);
    must_status(&r, 200);
    list = must_get(must_json(&r), "jobs");
    ck_assert_int_eq(json_array_size(list), 3);
    ck_assert_str_eq(job_id(json_array_get(list, 0)), ids[3]);
    ck_assert_str_eq(job_id(json_array_get(list, 2)), ids[0]);

    http_call(&s, "GET", "/v1/jobs?state=succeeded&fn=sleep", NULL, &r);
    must_status(&r, 200);
    list = must_get(must_json(&r), "jobs");
    ck_assert_int_eq(json_array_size(list), 1);
    ck_assert_str_eq(job_id(json_array_get(list, 0)), ids[1]);

    http_call(&s, "GET", "/v1/jobs?state=running", NULL, &r);
    must_status(&r, 200);
    list = must_get(must_json(&r), "jobs");
    ck_assert_int_eq(json_array_size(list), 1);
    ck_assert_str_eq(job_id(json_array_get(list, 0)), running);

    http_call(&s, "GET", "/v1/jobs?state=queued", NULL, &r);
    must_status(&r, 200);
    ck_assert_int_eq(json_array_size(must_get(must_json(&r), "jobs")), 0);

    http_call(&s, "GET", "/v1/jobs?limit=2", NULL, &r);
    must_status(&r, 200);
    list = must_get(must_json(&r), "jobs");
    ck_assert_int_eq(json_array_size(list), 2);
    ck_assert_str_eq(job_id(json_array_get(list, 0)), running);
    ck_assert_str_eq(job_id(json_array_get(list, 1)), ids[3]);

    http_call(&s, "GET", "/v1/jobs?limit=1000", NULL, &r);
    must_status(&r, 200);
    http_call(&s, "GET", "/v1/jobs?state=bogus", NULL, &r);
    must_error(&r, 400, "invalid_args", "state");
    http_call(&s, "GET", "/v1/jobs?limit=0", NULL, &r);
    must_error(&r, 400, "invalid_args", "limit");
    http_call(&s, "GET", "/v1/jobs?limit=1001", NULL, &r);
    must_error(&r, 400, "invalid_args", "limit");
    http_call(&s, "GET", "/v1/jobs?limit=x", NULL, &r);
    must_error(&r, 400, "invalid_args", "limit");
}
END_TEST

START_TEST(test_not_found)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    const char *id = must_submit(&s, "{\"fn\":\"fib\"}");
    must_final(&s, id, 5000);
    /* Well-formed ids of no job, malformed ids, on every method. */
    static const char *const paths[] = {
        "/v1/jobs/0123456789abcdef0123456789abcdef",
        "/v1/jobs/ffffffffffffffffffffffffffffffff?wait=1",
        "/v1/jobs/nope",
        "/v1/jobs/0123456789abcdef0123456789abcdef0",
        "/v1/jobs/..%2e",
    };
    resp r;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int64_t t0 = now_ms();
        http_call(&s, "GET", paths[i], NULL, &r);
        must_error(&r, 404, "not_found", NULL);
        ck_assert_msg(now_ms() - t0 < QUICK_MS, "404 for %s took %lld ms", paths[i],
                      (long long)(now_ms() - t0));
        http_call(&s, "DELETE", paths[i], NULL, &r);
        must_error(&r, 404, "not_found", NULL);
    }
    /* An encoded '/' or NUL inside the id is refused before routing. */
    http_call(&s, "GET", "/v1/jobs/..%2f..%2fetc%2fpasswd", NULL, &r);
    must_error(&r, 400, "bad_request", NULL);
    http_call(&s, "DELETE", "/v1/jobs/%00", NULL, &r);
    must_error(&r, 400, "bad_request", NULL);
    /* A real id with a different case or one digit changed is no job. */
    char other[64];
    snprintf(other, sizeof(other), "/v1/jobs/%s", id);
    char *last = other + strlen(other) - 1;
    *last = *last == '0' ? '1' : '0';
    http_call(&s, "GET", other, NULL, &r);
    must_error(&r, 404, "not_found", NULL);
}
END_TEST

static Suite *jobs_suite(void)
{
    Suite *s = suite_create("integration_jobs");
    TCase *tc = harness_tcase("submit");
    tcase_add_test(tc, test_submit_202);
    tcase_add_test(tc, test_submit_refused);
    tcase_add_test(tc, test_idempotency_key);
    tcase_add_test(tc, test_queue_full_429);
    tcase_add_test(tc, test_list_filters);
    tcase_add_test(tc, test_not_found);
    suite_add_tcase(s, tc);

    tc = harness_tcase("wait");
    tcase_add_test(tc, test_longpoll_returns_early);
    tcase_add_test(tc, test_longpoll_times_out);
    tcase_add_test(tc, test_submit_wait);
    tcase_add_test(tc, test_longpoll_wakeups_under_load);
    tcase_add_test(tc, test_cross_worker_one_connection);
    tcase_add_test(tc, test_longpoll_on_other_worker);
    suite_add_tcase(s, tc);

    tc = harness_tcase("cancel");
    tcase_add_test(tc, test_cancel_queued);
    tcase_add_test(tc, test_cancel_running);
    tcase_add_test(tc, test_cancel_ignored_kills_worker);
    tcase_add_test(tc, test_cancel_final_409);
    suite_add_tcase(s, tc);

    tc = harness_tcase("failures");
    tcase_add_test(tc, test_timeout);
    tcase_add_test(tc, test_timeout_spin_kills_worker);
    tcase_add_test(tc, test_crash_worker_lost);
    tcase_add_test(tc, test_kill9_worker_lost);
    tcase_add_test(tc, test_restart_same_store);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    return harness_run(jobs_suite());
}
