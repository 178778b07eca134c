/*
 * check_process.c - the process model: the master respawns workers that die
 * (kill -9, crash), the loop stays responsive while a worker computes,
 * SIGQUIT drains, SIGTERM stops fast, timeout_ms gives 504 and the worker
 * goes on serving, two workers compute in parallel, the wake-up sockets
 * between workers cannot be squatted by another user.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Respawn deadline: the contract says "within ~2 s". */
#define RESPAWN_MS 3000

static bool has_data(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

static void must_fib_ok(server *s)
{
    resp r;
    ck_assert_int_eq(json_integer_value(must_call_fn(s, "fib", "{\"n\":10}", &r)), 55);
}

/* ---- respawn ----------------------------------------------------------------- */

START_TEST(test_respawn_after_kill9)
{
    server s;
    must_start(&s, NULL);
    pid_t p0 = must_worker_pid(&s, 0), p1 = must_worker_pid(&s, 1);
    ck_assert_int_eq(kill(p0, SIGKILL), 0);
    json_t *w = must_wait_respawn(&s, 0, p0, RESPAWN_MS);
    ck_assert_int_eq(must_int(w, "restarts"), 1);
    ck_assert_int_eq(must_int(w, "incarnation"), 2);
    json_t *last = must_get(w, "last_exit");
    ck_assert_msg(json_is_object(last), "last_exit is not an object after kill -9");
    ck_assert_int_eq(must_int(last, "signal"), SIGKILL);
    ck_assert_msg(json_is_null(must_get(last, "code")), "last_exit.code is not null for a signal");
    must_gone(p0, 1000, "the killed worker");
    /* The other slot is untouched. */
    json_t *w1 = must_worker_slot(&s, 1);
    ck_assert_int_eq(must_int(w1, "pid"), p1);
    ck_assert_int_eq(must_int(w1, "restarts"), 0);
    ck_assert_int_eq(must_int(w1, "incarnation"), 1);
    /* And the server serves on both slots. */
    for (int i = 0; i < 6; i++)
        must_fib_ok(&s);
    /* A second kill of the same slot counts on. */
    pid_t p0b = (pid_t)must_int(w, "pid");
    ck_assert_int_eq(kill(p0b, SIGKILL), 0);
    w = must_wait_respawn(&s, 0, p0b, RESPAWN_MS);
    ck_assert_int_eq(must_int(w, "restarts"), 2);
    ck_assert_int_eq(must_int(w, "incarnation"), 3);
}
END_TEST

/* POSTs crash with `signal` on a fresh connection: the connection must be
 * closed without a reply. */
static void crash_worker(server *s, const char *signame)
{
    int fd = must_connect(s);
    char body[64];
    snprintf(body, sizeof(body), "{\"signal\":\"%s\"}", signame);
    must_send_str(fd, http_request_text("POST", "/v1/fn/crash", body, NULL));
    resp r;
    int st = must_read_response(fd, &r);
    ck_assert_msg(st == 0, "crash %s: expected a closed connection, got:\n%s", signame,
                  resp_describe(&r));
    close(fd);
}

START_TEST(test_crash_respawn)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"debug_functions\": true}");
    pid_t p = must_worker_pid(&s, 0);
    crash_worker(&s, "abort");
    json_t *w = must_wait_respawn(&s, 0, p, RESPAWN_MS);
    ck_assert_int_eq(must_int(w, "restarts"), 1);
    ck_assert_int_eq(must_int(w, "incarnation"), 2);
    ck_assert_int_eq(must_int(must_get(w, "last_exit"), "signal"), SIGABRT);
    must_fib_ok(&s);

    p = (pid_t)must_int(w, "pid");
    crash_worker(&s, "segv");
    w = must_wait_respawn(&s, 0, p, RESPAWN_MS);
    ck_assert_int_eq(must_int(w, "restarts"), 2);
    ck_assert_int_eq(must_int(w, "incarnation"), 3);
    ck_assert_int_eq(must_int(must_get(w, "last_exit"), "signal"), SIGSEGV);
    must_fib_ok(&s);
}
END_TEST

START_TEST(test_crash_other_connections_survive)
{
    server s;
    must_start(&s, "{\"workers\": 2, \"debug_functions\": true}");
    /* A connection on each worker, found by the pid that answers. */
    int fds[2] = {-1, -1};
    pid_t pids[2] = {0, 0};
    for (int tries = 0; tries < 40 && fds[1] < 0; tries++) {
        int fd = must_connect(&s);
        resp r;
        must_send_str(fd, http_request_text("POST", "/v1/fn/fib", "{\"n\":1}", NULL));
        must_read_response(fd, &r);
        must_status(&r, 200);
        pid_t pid = (pid_t)must_int(must_json(&r), "worker");
        int k = fds[0] < 0 ? 0 : (pid != pids[0] ? 1 : -1);
        if (k < 0) {
            close(fd);
            continue;
        }
        fds[k] = fd;
        pids[k] = pid;
    }
    ck_assert_msg(fds[1] >= 0, "40 connections all landed on worker %d", (int)pids[0]);
    /* Crash worker 0 through its own connection. */
    must_send_str(fds[0], http_request_text("POST", "/v1/fn/crash", "{}", NULL));
    resp r;
    ck_assert_int_eq(must_read_response(fds[0], &r), 0);
    close(fds[0]);
    /* The connection on the other worker is unharmed. */
    must_send_str(fds[1], http_request_text("POST", "/v1/fn/fib", "{\"n\":10}", NULL));
    must_read_response(fds[1], &r);
    must_status(&r, 200);
    ck_assert_int_eq(must_int(must_json(&r), "worker"), pids[1]);
    close(fds[1]);
}
END_TEST

/* ---- responsiveness ------------------------------------------------------------ */

START_TEST(test_healthz_during_long_count)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"jobs\": {\"default_timeout_ms\": 60000}}");
    int busy = must_connect(&s);
    must_send_str(busy,
                  http_request_text("POST", "/v1/fn/count", "{\"iterations\":30000000000}", NULL));
    sleep_ms(150);
    int64_t worst = 0;
    for (int i = 0; i < 5; i++) {
        resp r;
        int64_t t0 = now_ms();
        http_call(&s, "GET", "/healthz", NULL, &r);
        int64_t took = now_ms() - t0;
        must_status(&r, 200);
        if (took > worst)
            worst = took;
        sleep_ms(100);
    }
    ck_assert_msg(!has_data(busy), "the long count already answered: the test proves nothing");
    ck_assert_msg(worst < 100, "/healthz took %lld ms while a count runs on the only worker",
                  (long long)worst);
    /* Other light routes too. */
    resp r;
    int64_t t0 = now_ms();
    http_call(&s, "GET", "/v1/workers", NULL, &r);
    must_status(&r, 200);
    ck_assert_msg(now_ms() - t0 < 100, "/v1/workers took %lld ms", (long long)(now_ms() - t0));
    close(busy);
}
END_TEST

/* ---- time limits ------------------------------------------------------------------ */

START_TEST(test_timeout_ms_504)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    resp r;
    int64_t t0 = now_ms();
    http_call(&s, "POST", "/v1/fn/count?timeout_ms=300", "{\"iterations\":100000000000}", &r);
    int64_t took = now_ms() - t0;
    must_error(&r, 504, "timeout", NULL);
    /* The count runs for minutes unless its time limit stops it. */
    ck_assert_msg(took >= 250 && took < 10000, "504 after %lld ms for timeout_ms=300",
                  (long long)took);
    /* The worker still serves: a cpu call that needs the compute lane. */
    t0 = now_ms();
    ck_assert_int_eq(json_integer_value(must_call_fn(&s, "count", "{\"iterations\":2000000}", &r)),
                     2000000);
    ck_assert_msg(now_ms() - t0 < 10000, "the next count took %lld ms", (long long)(now_ms() - t0));
    must_fib_ok(&s);
    /* The same on a keep-alive connection: 504, then the next request. */
    int fd = must_connect(&s);
    must_send_str(fd,
                  http_request_text("POST", "/v1/fn/sleep?timeout_ms=200", "{\"ms\":5000}", NULL));
    must_read_response(fd, &r);
    must_error(&r, 504, "timeout", NULL);
    must_send_str(fd, http_request_text("GET", "/healthz", NULL, NULL));
    ck_assert_int_eq(must_read_response(fd, &r), 200);
    close(fd);
}
END_TEST

START_TEST(test_timeout_ms_spin)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"debug_functions\": true}");
    resp r;
    int64_t t0 = now_ms();
    /* spin ignores cancel: the 504 must still come on time, before it ends. */
    http_call(&s, "POST", "/v1/fn/spin?timeout_ms=200", "{\"ms\":8000}", &r);
    int64_t took = now_ms() - t0;
    must_error(&r, 504, "timeout", NULL);
    ck_assert_msg(took < 6000, "504 after %lld ms for timeout_ms=200", (long long)took);
    /* The loop still serves while the spin holds the lane. */
    t0 = now_ms();
    http_call(&s, "GET", "/healthz", NULL, &r);
    must_status(&r, 200);
    ck_assert_msg(now_ms() - t0 < 3000, "/healthz took %lld ms", (long long)(now_ms() - t0));
}
END_TEST

/* ---- parallelism ------------------------------------------------------------------- */

START_TEST(test_two_workers_parallel)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    int fds[2] = {-1, -1};
    pid_t pids[2] = {0, 0};
    for (int tries = 0; tries < 40 && fds[1] < 0; tries++) {
        int fd = must_connect(&s);
        resp r;
        must_send_str(fd, http_request_text("POST", "/v1/fn/fib", "{\"n\":1}", NULL));
        must_read_response(fd, &r);
        must_status(&r, 200);
        pid_t pid = (pid_t)must_int(must_json(&r), "worker");
        int k = fds[0] < 0 ? 0 : (pid != pids[0] ? 1 : -1);
        if (k < 0) {
            close(fd);
            continue;
        }
        fds[k] = fd;
        pids[k] = pid;
    }
    ck_assert_msg(fds[1] >= 0, "40 connections all landed on worker %d", (int)pids[0]);

    /* Calibrate a count of about 300 ms. */
    resp r;
    must_send_str(fds[0],
                  http_request_text("POST", "/v1/fn/count", "{\"iterations\":100000000}", NULL));
    must_read_response(fds[0], &r);
    must_status(&r, 200);
    double ms = json_number_value(must_get(must_json(&r), "run_ms"));
    long long iters = ms > 1 ? (long long)(100000000.0 * 300.0 / ms) : 1000000000LL;
    if (iters > 3000000000LL)
        iters = 3000000000LL;
    char body[64];
    snprintf(body, sizeof(body), "{\"iterations\":%lld}", iters);

    int64_t t0 = now_ms();
    must_send_str(fds[0], http_request_text("POST", "/v1/fn/count", body, NULL));
    must_send_str(fds[1], http_request_text("POST", "/v1/fn/count", body, NULL));
    resp a, b;
    must_read_response(fds[0], &a);
    must_read_response(fds[1], &b);
    int64_t wall = now_ms() - t0;
    must_status(&a, 200);
    must_status(&b, 200);
    ck_assert_int_eq(must_int(must_json(&a), "result"), iters);
    ck_assert_int_eq(must_int(must_json(&b), "result"), iters);
    pid_t wa = (pid_t)must_int(must_json(&a), "worker"),
          wb = (pid_t)must_int(must_json(&b), "worker");
    ck_assert_msg(wa != wb, "both calls ran on worker %d", (int)wa);
    /* Timing is reported, not asserted (a loaded machine would make it flaky). */
    fprintf(stderr, "[info] two counts of %lld: %.0f and %.0f ms each, %lld ms wall\n", iters,
            json_number_value(must_get(must_json(&a), "run_ms")),
            json_number_value(must_get(must_json(&b), "run_ms")), (long long)wall);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

/* ---- signals to the master ------------------------------------------------------- */

/* After QUIT: polls until a new connection is refused (connect fails, or it
 * is closed without a reply). Fails if one is still served after timeout_ms. */
static void must_refuse_new(server *s, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int fd = try_connect(s);
        if (fd < 0)
            return;
        set_recv_timeout(fd, 1000);
        resp r;
        char err[256];
        const char *req = http_request_text("GET", "/healthz", NULL, NULL);
        int st =
            try_send(fd, req, strlen(req)) < 0 ? 0 : read_response(fd, &r, 0, err, sizeof(err));
        close(fd);
        if (st == 0)
            return;
        ck_assert_msg(st > 0,
                      "after SIGQUIT a new connection was accepted but neither served "
                      "nor closed: %s",
                      err);
        ck_assert_msg(now_ms() < deadline,
                      "%d ms after SIGQUIT a new connection is still served:\n%s", timeout_ms,
                      resp_describe(&r));
        sleep_ms(50);
    }
}

START_TEST(test_quit_graceful)
{
    server s;
    must_start(&s, "{\"workers\": 2, \"shutdown_timeout_s\": 5}");
    pid_t w0 = must_worker_pid(&s, 0), w1 = must_worker_pid(&s, 1);
    /* An idle keep-alive connection. */
    int idle = must_connect(&s);
    resp r;
    must_send_str(idle, http_request_text("GET", "/healthz", NULL, NULL));
    ck_assert_int_eq(must_read_response(idle, &r), 200);
    /* An in-flight request. */
    int busy = must_connect(&s);
    must_send_str(busy, http_request_text("POST", "/v1/fn/sleep", "{\"ms\":1500}", NULL));
    sleep_ms(200);
    int64_t t_quit = now_ms();
    must_signal(&s, SIGQUIT);

    must_refuse_new(&s, 1000);
    must_be_closed(idle, 2500, "idle keep-alive connection after SIGQUIT");
    close(idle);

    ck_assert_msg(must_read_response(busy, &r) != 0,
                  "the in-flight request was cut off by SIGQUIT");
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "fn"), "sleep");
    close(busy);

    int st = server_wait_exit(&s, 5000 + 1000 - (int)(now_ms() - t_quit));
    ck_assert_msg(st != -1, "the master did not exit within shutdown_timeout_s after SIGQUIT");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "master wait status 0x%x after SIGQUIT",
                  st);
    must_gone(w0, 2000, "worker 0 after SIGQUIT");
    must_gone(w1, 2000, "worker 1 after SIGQUIT");
}
END_TEST

START_TEST(test_quit_not_ready_while_draining)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"shutdown_timeout_s\": 5}");
    int busy = must_connect(&s);
    must_send_str(busy, http_request_text("POST", "/v1/fn/sleep", "{\"ms\":1000}", NULL));
    sleep_ms(200);
    must_signal(&s, SIGQUIT);
    sleep_ms(200);
    /* A readiness probe queued behind the in-flight request: answered
     * while the worker drains, so never "ready". */
    const char *probe = http_request_text("GET", "/readyz", NULL, NULL);
    try_send(busy, probe, strlen(probe));
    resp r;
    must_read_response(busy, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "fn"), "sleep");
    int st = must_read_response(busy, &r);
    if (st != 0)
        must_error(&r, 503, "draining", NULL);
    fprintf(stderr, "[info] /readyz queued during a drain: %s\n",
            st ? "503 draining" : "connection closed after the in-flight reply");
    close(busy);
    ck_assert_msg(server_wait_exit(&s, 6000) != -1, "master still running 6 s after SIGQUIT");
}
END_TEST

START_TEST(test_quit_timeout)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"shutdown_timeout_s\": 1, "
                   "\"jobs\": {\"default_timeout_ms\": 600000, \"max_timeout_ms\": 3600000}}");
    pid_t w0 = must_worker_pid(&s, 0);
    /* A call that will not finish: the drain gives up at shutdown_timeout_s. */
    int busy = must_connect(&s);
    must_send_str(busy,
                  http_request_text("POST", "/v1/fn/count", "{\"iterations\":100000000000}", NULL));
    sleep_ms(200);
    int64_t t0 = now_ms();
    must_signal(&s, SIGQUIT);
    int st = server_wait_exit(&s, 1000 + 1500);
    int64_t took = now_ms() - t0;
    ck_assert_msg(st != -1, "the master still runs 2.5 s after SIGQUIT with shutdown_timeout_s 1");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "master wait status 0x%x after SIGQUIT",
                  st);
    fprintf(stderr, "[info] SIGQUIT with a stuck call, shutdown_timeout_s 1: exit after %lld ms\n",
            (long long)took);
    must_gone(w0, 1000, "worker after SIGQUIT");
    close(busy);
}
END_TEST

START_TEST(test_term_fast)
{
    server s;
    must_start(&s, "{\"workers\": 2, \"jobs\": {\"default_timeout_ms\": 600000, "
                   "\"max_timeout_ms\": 3600000}}");
    pid_t w0 = must_worker_pid(&s, 0), w1 = must_worker_pid(&s, 1);
    int busy = must_connect(&s);
    must_send_str(busy,
                  http_request_text("POST", "/v1/fn/count", "{\"iterations\":100000000000}", NULL));
    sleep_ms(200);
    ck_assert_msg(!has_data(busy), "count 10^11 already answered");
    int64_t t0 = now_ms();
    must_signal(&s, SIGTERM);
    int st = server_wait_exit(&s, 2500);
    int64_t took = now_ms() - t0;
    ck_assert_msg(st != -1, "the master did not exit within 2.5 s of SIGTERM with a count running");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "master wait status 0x%x after SIGTERM",
                  st);
    fprintf(stderr, "[info] SIGTERM to exit: %lld ms\n", (long long)took);
    must_be_closed(busy, 1000, "the connection of a running call after SIGTERM");
    close(busy);
    must_gone(w0, 1000, "worker 0 after SIGTERM");
    must_gone(w1, 1000, "worker 1 after SIGTERM");
}
END_TEST

START_TEST(test_term_idle)
{
    server s;
    must_start(&s, NULL);
    int64_t t0 = now_ms();
    must_signal(&s, SIGTERM);
    int st = server_wait_exit(&s, 2000);
    ck_assert_msg(st != -1, "the idle master did not exit within 2 s of SIGTERM");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "master wait status 0x%x", st);
    ck_assert_msg(now_ms() - t0 < 2000, "SIGTERM took %lld ms", (long long)(now_ms() - t0));
    /* The port is free again. */
    ck_assert_int_eq(try_connect(&s), -1);
}
END_TEST

/* ---- the wake-up sockets -------------------------------------------------------- */

/* Pids the kernel hands out next, in order, from /proc/sys/kernel/ns_last_pid. */
static int next_pids(int *out, int n)
{
    FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "re");
    FILE *g = fopen("/proc/sys/kernel/pid_max", "re");
    int last = 0, max = 32768;
    ck_assert_msg(f && fscanf(f, "%d", &last) == 1, "cannot read ns_last_pid");
    if (g && fscanf(g, "%d", &max) != 1)
        max = 32768;
    fclose(f);
    if (g)
        fclose(g);
    for (int i = 0; i < n; i++) {
        int p = last + 1 + i;
        out[i] = p > max ? p - max + 300 : p; /* pids wrap to above 300 */
    }
    return n;
}

/*
 * A local user could keep workers from (re)starting by binding the wake-up
 * socket names first: they were abstract names "crunchd-<master>-<pid>",
 * open to anyone. Squat the names of the next pids, kill a worker: it must
 * come back, stay up, and serve calls and jobs (which ring the bells).
 */
START_TEST(test_respawn_despite_squatted_wake_names)
{
    enum { SQUAT = 3000 };
    static int fds[SQUAT], pids[SQUAT];
    server s;
    must_start(&s, NULL);
    pid_t p0 = must_worker_pid(&s, 0);
    next_pids(pids, SQUAT);
    int bound = 0;
    for (int i = 0; i < SQUAT; i++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "crunchd-%d-%d", (int)s.pid,
                         pids[i]);
        fds[i] = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fds[i], 0);
        socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
        bound += bind(fds[i], (struct sockaddr *)&sa, len) == 0;
    }
    ck_assert_int_gt(bound, SQUAT / 2);
    ck_assert_int_eq(kill(p0, SIGKILL), 0);
    json_t *w = must_wait_respawn(&s, 0, p0, 10000);
    pid_t p0b = (pid_t)must_int(w, "pid");
    sleep_ms(1500); /* a worker that cannot bind exits right after starting */
    must_workers(&s);
    w = must_worker_slot(&s, 0);
    ck_assert_int_eq(must_int(w, "pid"), p0b);
    ck_assert_int_eq(must_int(w, "restarts"), 1);
    for (int i = 0; i < 4; i++)
        must_fib_ok(&s);
    /* Jobs from both workers: a worker that queues one rings the other. */
    for (int i = 0; i < 4; i++) {
        resp r;
        http_call(&s, "POST", "/v1/jobs?wait=10", "{\"fn\":\"sleep\",\"args\":{\"ms\":50}}", &r);
        must_status(&r, 200);
        ck_assert_str_eq(must_str(must_json(&r), "state"), "succeeded");
    }
    for (int i = 0; i < SQUAT; i++)
        close(fds[i]);
}
END_TEST

/* The $TMPDIR of test_wake_dir_private: made and removed by an unchecked
 * fixture (in the process that forks the tests), so it goes even when the
 * test fails. */
static char wake_tmp[64];

static void wake_setup(void)
{
    snprintf(wake_tmp, sizeof(wake_tmp), "/tmp/crunchd-wake-test-XXXXXX");
    if (!mkdtemp(wake_tmp))
        wake_tmp[0] = '\0';
}

static void wake_teardown(void)
{
    char cmd[128];
    if (!wake_tmp[0])
        return;
    unsetenv("TMPDIR");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", wake_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", wake_tmp);
    wake_tmp[0] = '\0';
}

/* The wake-up sockets live in a directory only crunchd's user can use
 * (0700), under $TMPDIR here, named by worker pid; it goes at exit. */
START_TEST(test_wake_dir_private)
{
    const char *tmp = wake_tmp;
    char dir[600] = "";
    ck_assert_msg(tmp[0], "mkdtemp() in the fixture failed");
    setenv("TMPDIR", tmp, 1);
    server s;
    must_start(&s, NULL);
    DIR *d = opendir(tmp);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "crunchd-wake.", 13) == 0)
            snprintf(dir, sizeof(dir), "%s/%s", tmp, e->d_name);
    closedir(d);
    ck_assert_msg(dir[0], "no crunchd-wake.* directory in $TMPDIR (%s)", tmp);
    struct stat st;
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_msg((st.st_mode & 07777) == 0700, "%s has mode %o, want 0700", dir,
                  (unsigned)(st.st_mode & 07777));
    ck_assert_int_eq(st.st_uid, getuid());
    for (int slot = 0; slot < 2; slot++) {
        char sock[700];
        snprintf(sock, sizeof(sock), "%s/%d", dir, (int)must_worker_pid(&s, slot));
        ck_assert_msg(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode), "no socket %s", sock);
    }
    /* A killed worker's socket goes with it; its successor has its own. */
    pid_t p0 = must_worker_pid(&s, 0);
    char old[700];
    snprintf(old, sizeof(old), "%s/%d", dir, (int)p0);
    ck_assert_int_eq(kill(p0, SIGKILL), 0);
    must_wait_respawn(&s, 0, p0, RESPAWN_MS);
    ck_assert_msg(stat(old, &st) < 0, "%s is still there", old);
    server_stop(&s);
    ck_assert_msg(stat(dir, &st) < 0, "%s is still there after the server stopped", dir);
}
END_TEST

static Suite *process_suite(void)
{
    Suite *s = suite_create("integration_process");
    TCase *tc = harness_tcase("respawn");
    tcase_add_test(tc, test_respawn_after_kill9);
    tcase_add_test(tc, test_crash_respawn);
    tcase_add_test(tc, test_crash_other_connections_survive);
    tcase_add_test(tc, test_respawn_despite_squatted_wake_names);
    suite_add_tcase(s, tc);

    tc = harness_tcase("wake");
    tcase_add_unchecked_fixture(tc, wake_setup, wake_teardown);
    tcase_add_test(tc, test_wake_dir_private);
    suite_add_tcase(s, tc);

    tc = harness_tcase("compute");
    tcase_add_test(tc, test_healthz_during_long_count);
    tcase_add_test(tc, test_timeout_ms_504);
    tcase_add_test(tc, test_timeout_ms_spin);
    tcase_add_test(tc, test_two_workers_parallel);
    suite_add_tcase(s, tc);

    tc = harness_tcase("signals");
    tcase_add_test(tc, test_quit_graceful);
    tcase_add_test(tc, test_quit_not_ready_while_draining);
    tcase_add_test(tc, test_quit_timeout);
    tcase_add_test(tc, test_term_fast);
    tcase_add_test(tc, test_term_idle);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(process_suite());
}
