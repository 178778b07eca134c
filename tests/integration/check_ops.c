/*
 * check_ops.c - operations (the operations issue): HUP reload (good and bad
 * config, worker count changes, zero errors under a wrk load), TTIN/TTOU
 * under load, USR1 log reopen, the pid file and `crunchd -s`, hung workers,
 * the systemd notify protocol (READY, STATUS, RELOADING, STOPPING,
 * WATCHDOG), socket activation through systemd-socket-activate, privilege
 * drop, /metrics (format, sums across workers, counters across respawns) and
 * the access log.
 *
 * Every process started here (wrk, `crunchd -s`, systemd-socket-activate)
 * is a child of the test, signalled by its pid and reaped with a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define RELOAD_MS 5000 /* a reload completes well within this */
#define WRK_SECONDS "3s"

/* ---- local helpers ------------------------------------------------------------ */

/* Reads a whole file (NUL-terminated, malloc'd; caller frees), or NULL. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    char *p = malloc(cap);
    for (;;) {
        if (n + 4096 > cap)
            p = realloc(p, cap *= 2);
        size_t r = fread(p + n, 1, cap - n - 1, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    p[n] = '\0';
    if (len)
        *len = n;
    return p;
}

static void path_in(const server *s, const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", s->dir, name);
}

/* Forks argv with cwd dir, stdout and stderr to out_path (or the test's). */
static pid_t spawn(const char *dir, const char *out_path, char *const argv[])
{
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork(): %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        if (dir && chdir(dir) < 0)
            _exit(126);
        if (out_path) {
            int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0)
                _exit(126);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(argv[0], argv);
        dprintf(2, "execvp(%s): %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Waits for a child we spawned; kills it (by pid) at the deadline. */
static int must_reap(pid_t pid, int timeout_ms, const char *what)
{
    int64_t deadline = now_ms() + timeout_ms;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        ck_assert_msg(r == 0, "waitpid(%s): %s", what, strerror(errno));
        if (now_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            ck_abort_msg("%s (pid %d) did not finish within %d ms", what, (int)pid, timeout_ms);
        }
        sleep_ms(10);
    }
}

/* `crunchd -c DIR/crunchd.json -s action`; returns its exit code. */
static int run_signal_cmd(server *s, const char *action)
{
    char cfg[512], out[512];
    path_in(s, "crunchd.json", cfg, sizeof(cfg));
    path_in(s, "cmd.out", out, sizeof(out));
    char *argv[] = {getenv("CRUNCHD_BIN"), "-c", cfg, "-s", (char *)action, NULL};
    int st = must_reap(spawn(s->dir, out, argv), 5000, "crunchd -s");
    ck_assert_msg(WIFEXITED(st), "crunchd -s %s: wait status 0x%x", action, st);
    return WEXITSTATUS(st);
}

static pid_t worker_pid_now(server *s, int slot)
{
    return must_worker_pid(s, slot);
}

/* Waits until every slot runs a pid that is not in old[0..n). */
static void must_all_replaced(server *s, const pid_t *old, int n, int timeout_ms)
{
    for (int slot = 0; slot < s->nworkers; slot++)
        for (int i = 0; i < n; i++)
            if (old[i] > 0)
                must_wait_respawn(s, slot, old[i], timeout_ms);
}

static void must_fib(server *s)
{
    resp r;
    ck_assert_int_eq(json_integer_value(must_call_fn(s, "fib", "{\"n\":10}", &r)), 55);
}

/* ---- wrk ------------------------------------------------------------------------ */

typedef struct wrk_run {
    pid_t pid;
    char out[512];
} wrk_run;

/* Starts wrk on POST /v1/fn/fib (fast, inline) for WRK_SECONDS. */
static void wrk_start(server *s, wrk_run *w)
{
    char script[512], url[128];
    path_in(s, "post.lua", script, sizeof(script));
    must_write_file(script, "wrk.method = \"POST\"\n"
                            "wrk.body = '{\"n\": 30}'\n"
                            "wrk.headers[\"Content-Type\"] = \"application/json\"\n");
    path_in(s, "wrk.out", w->out, sizeof(w->out));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/fn/fib", s->port);
    char *argv[] = {"wrk",  "-t2", "-c16", "-d" WRK_SECONDS, "--timeout", "3s", "-s",
                    script, url,   NULL};
    w->pid = spawn(s->dir, w->out, argv);
    sleep_ms(500); /* let it ramp up */
}

/* Waits for wrk; fails on any socket error or non-2xx reply. */
static void wrk_must_be_clean(wrk_run *w, const char *during)
{
    int st = must_reap(w->pid, 15000, "wrk");
    char *out = slurp(w->out, NULL);
    ck_assert_msg(out != NULL, "no wrk output");
    fprintf(stderr, "[info] wrk during %s:\n%s", during, out);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "wrk failed (0x%x):\n%s", st, out);
    long requests = 0;
    const char *p = strstr(out, " requests in ");
    ck_assert_msg(p != NULL, "no request count in the wrk output:\n%s", out);
    while (p > out && p[-1] >= '0' && p[-1] <= '9')
        p--;
    requests = strtol(p, NULL, 10);
    ck_assert_msg(requests > 1000, "wrk made only %ld requests:\n%s", requests, out);
    const char *se = strstr(out, "Socket errors:");
    if (se) {
        long c = -1, r = -1, wr = -1, t = -1;
        sscanf(se, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &c, &r, &wr, &t);
        ck_assert_msg(c == 0 && r == 0 && wr == 0 && t == 0, "socket errors during %s:\n%s", during,
                      out);
    }
    ck_assert_msg(strstr(out, "Non-2xx") == NULL, "non-2xx replies during %s:\n%s", during, out);
    free(out);
}

/* ---- HUP ------------------------------------------------------------------------ */

START_TEST(test_hup_reload_applies_config)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    pid_t old[2] = {worker_pid_now(&s, 0), worker_pid_now(&s, 1)};
    resp r;
    ck_assert_int_eq(http_call(&s, "POST", "/v1/fn/spin", "{\"ms\":1}", &r), 404);

    must_rewrite_config(&s, "{\"debug_functions\": true}");
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 1, RELOAD_MS);
    must_all_replaced(&s, old, 2, RELOAD_MS);
    must_gone(old[0], RELOAD_MS, "old worker 0");
    must_gone(old[1], RELOAD_MS, "old worker 1");
    ck_assert_int_eq(must_int(must_worker_slot(&s, 0), "incarnation"), 2);
    ck_assert_int_eq(must_int(must_worker_slot(&s, 0), "restarts"), 0);
    /* The new generation runs the new config. */
    must_call_fn(&s, "spin", "{\"ms\":1}", &r);
    must_wait_workers_running(&s, 2000);
}
END_TEST

START_TEST(test_hup_bad_config_keeps_running)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    pid_t w0 = worker_pid_now(&s, 0), w1 = worker_pid_now(&s, 1);
    char path[512];
    path_in(&s, "crunchd.json", path, sizeof(path));
    must_write_file(path, "{\"workers\": 2, \"limits\": {\"max_body_bytes\": \"big\"}}");
    must_signal(&s, SIGHUP);
    must_log(&s, "reload failed", 1, RELOAD_MS);
    must_log(&s, "limits.max_body_bytes", 1, 100);
    must_write_file(path, "{\"workers\": ");
    must_signal(&s, SIGHUP);
    must_log(&s, "reload failed", 2, RELOAD_MS);
    sleep_ms(300);
    ck_assert_int_eq(worker_pid_now(&s, 0), w0);
    ck_assert_int_eq(worker_pid_now(&s, 1), w1);
    must_wait_workers_running(&s, 1000);
    must_fib(&s);
    ck_assert_int_eq(server_log_count(&s, "reload complete"), 0);
}
END_TEST

START_TEST(test_hup_changes_worker_count)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    must_rewrite_config(&s, "{\"workers\": 3}");
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 1, RELOAD_MS);
    must_wait_workers_running(&s, RELOAD_MS);
    ck_assert_int_eq(json_array_size(must_workers(&s)), 3);
    pid_t w2 = worker_pid_now(&s, 2);

    must_rewrite_config(&s, "{\"workers\": 1}");
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 2, RELOAD_MS);
    must_wait_workers_running(&s, RELOAD_MS);
    ck_assert_int_eq(json_array_size(must_workers(&s)), 1);
    must_gone(w2, RELOAD_MS, "the worker of the removed slot 2");
    for (int i = 0; i < 5; i++)
        must_fib(&s);
}
END_TEST

START_TEST(test_reload_under_load_zero_errors)
{
    server s;
    must_start(&s, "{\"workers\": 2, \"limits\": {\"keepalive_timeout_s\": 75}}");
    wrk_run w;
    wrk_start(&s, &w);
    for (int i = 1; i <= 3; i++) {
        must_signal(&s, SIGHUP);
        must_log(&s, "reload complete", i, RELOAD_MS);
        sleep_ms(300);
    }
    wrk_must_be_clean(&w, "3 reloads");
    must_wait_workers_running(&s, RELOAD_MS);
}
END_TEST

START_TEST(test_ttin_ttou_under_load_zero_errors)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    wrk_run w;
    wrk_start(&s, &w);
    must_signal(&s, SIGTTIN);
    must_log(&s, "SIGTTIN received: adding worker 2", 1, 2000);
    sleep_ms(400);
    must_signal(&s, SIGTTOU);
    must_log(&s, "SIGTTOU received: removing worker 2", 1, 2000);
    must_log(&s, "stopping worker 2", 1, 3000);
    sleep_ms(200);
    must_signal(&s, SIGTTOU);
    must_log(&s, "SIGTTOU received: removing worker 1", 1, 2000);
    wrk_must_be_clean(&w, "TTIN, TTOU, TTOU");
    s.nworkers = 1;
    must_wait_workers_running(&s, 3000);
    ck_assert_int_eq(json_array_size(must_workers(&s)), 1);
}
END_TEST

/*
 * TTOU steers new connections away from the removed slot at once: with its
 * worker stopped (SIGSTOP), every new connection is still answered.
 */
START_TEST(test_ttou_steers_connections_away)
{
    server s;
    must_start(&s, "{\"workers\": 3}");
    pid_t w2 = worker_pid_now(&s, 2);
    ck_assert_int_eq(kill(w2, SIGSTOP), 0);
    must_signal(&s, SIGTTOU);
    must_log(&s, "SIGTTOU received: removing worker 2", 1, 2000);
    s.nworkers = 2;
    for (int i = 0; i < 30; i++) {
        int fd = must_connect(&s);
        set_recv_timeout(fd, 1500);
        must_send_str(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        resp r;
        char err[256] = "";
        int st = read_response(fd, &r, 0, err, sizeof(err));
        close(fd);
        ck_assert_msg(st == 200,
                      "connection %d after TTOU not served (%d: %s): it went to the "
                      "removed, stopped worker",
                      i, st, err);
    }
    ck_assert_int_eq(kill(w2, SIGCONT), 0);
    must_gone(w2, 4000, "the removed worker");
    ck_assert_int_eq(json_array_size(must_workers(&s)), 2);
}
END_TEST

/*
 * A worker drains (reload): a keep-alive connection that was busy a moment
 * ago stays open for its next request, which is answered "not ready" with
 * Connection: close; the new generation is ready.
 */
START_TEST(test_readyz_503_while_draining)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    int fd = must_connect(&s);
    resp r;
    must_send_str(fd, http_request_text("GET", "/healthz", NULL, NULL));
    ck_assert_int_eq(must_read_response(fd, &r), 200);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 1, RELOAD_MS);
    sleep_ms(50); /* the old worker got its QUIT */
    must_send_str(fd, http_request_text("GET", "/readyz", NULL, NULL));
    ck_assert_int_eq(must_read_response(fd, &r), 503);
    must_error(&r, 503, "draining", NULL);
    must_header(&r, "Connection", "close");
    must_be_closed(fd, 2000, "the draining worker's connection");
    close(fd);
    ck_assert_int_eq(http_call(&s, "GET", "/readyz", NULL, &r), 200);
}
END_TEST

/* ---- the pid file and -s ----------------------------------------------------------- */

START_TEST(test_pid_file_and_signal_commands)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"pid_file\": \"crunchd.pid\"}");
    char pid_path[512];
    path_in(&s, "crunchd.pid", pid_path, sizeof(pid_path));
    char *text = slurp(pid_path, NULL);
    ck_assert_msg(text != NULL, "no pid file %s", pid_path);
    ck_assert_int_eq(atoi(text), s.pid);
    free(text);

    ck_assert_int_eq(run_signal_cmd(&s, "reopen"), 0);
    must_log(&s, "SIGUSR1 received", 1, 2000);
    pid_t w0 = worker_pid_now(&s, 0);
    ck_assert_int_eq(run_signal_cmd(&s, "reload"), 0);
    must_log(&s, "reload complete", 1, RELOAD_MS);
    must_wait_respawn(&s, 0, w0, RELOAD_MS);
    ck_assert_int_eq(run_signal_cmd(&s, "bogus"), 2);
    ck_assert_int_eq(run_signal_cmd(&s, "quit"), 0);
    int st = server_wait_exit(&s, 8000);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "master after -s quit: wait status 0x%x", st);
    ck_assert_msg(access(pid_path, F_OK) < 0, "the pid file outlived the master");
    /* No master: -s fails and says why. */
    ck_assert_int_eq(run_signal_cmd(&s, "reload"), 1);
}
END_TEST

START_TEST(test_signal_command_stop)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"pid_file\": \"crunchd.pid\"}");
    ck_assert_int_eq(run_signal_cmd(&s, "stop"), 0);
    int st = server_wait_exit(&s, 3000);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "master after -s stop: wait status 0x%x", st);
    must_log(&s, "SIGTERM received: fast stop", 1, 100);
}
END_TEST

/* ---- USR1 and the access log ----------------------------------------------------------- */

START_TEST(test_usr1_reopens_access_log)
{
    server s;
    must_start(&s, "{\"workers\": 2, \"log\": {\"access_log\": \"access.log\"}}");
    char log_path[512], rotated[512];
    path_in(&s, "access.log", log_path, sizeof(log_path));
    path_in(&s, "access.log.1", rotated, sizeof(rotated));
    resp r;
    for (int i = 0; i < 4; i++)
        must_fib(&s);
    http_call(&s, "GET", "/nope?x=\"y\"", NULL, &r);
    sleep_ms(300);
    char *before = slurp(log_path, NULL);
    ck_assert_msg(before && strstr(before, "\"POST /v1/fn/fib HTTP/1.1\" 200 "),
                  "no fib line in the access log:\n%s", before ? before : "(none)");
    ck_assert_msg(strstr(before, "\"GET /nope?x=\\x22y\\x22 HTTP/1.1\" 404 "),
                  "the quote in the target is not escaped:\n%s", before);
    ck_assert_msg(strstr(before, "127.0.0.1 - - [") == before,
                  "line does not start with the "
                  "remote address:\n%s",
                  before);
    ck_assert_msg(strstr(before, " job=-\n"), "no job field:\n%s", before);
    free(before);

    ck_assert_int_eq(rename(log_path, rotated), 0);
    must_signal(&s, SIGUSR1);
    sleep_ms(300);
    for (int i = 0; i < 3; i++)
        http_call(&s, "GET", "/healthz", NULL, &r);
    sleep_ms(300);
    char *after = slurp(log_path, NULL);
    ck_assert_msg(after != NULL, "USR1 did not recreate %s", log_path);
    ck_assert_msg(strstr(after, "\"GET /healthz HTTP/1.1\" 200 "), "new lines missing:\n%s", after);
    ck_assert_msg(strstr(after, "/v1/fn/fib") == NULL, "old lines in the new file:\n%s", after);
    char *old = slurp(rotated, NULL);
    ck_assert_msg(old && strstr(old, "/healthz") == NULL, "lines after USR1 went to the old file");
    free(after);
    free(old);
}
END_TEST

START_TEST(test_access_log_json)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"log\": {\"access_log\": \"access.json\", \"format\": "
                   "\"json\"}}");
    must_fib(&s);
    sleep_ms(300);
    char path[512];
    path_in(&s, "access.json", path, sizeof(path));
    char *text = slurp(path, NULL);
    ck_assert_msg(text && text[0], "empty json access log");
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *v = json_loads(line, 0, &jerr);
        ck_assert_msg(v != NULL, "not JSON: %s (%s)", line, jerr.text);
        if (strcmp(json_string_value(json_object_get(v, "path")), "/v1/fn/fib") == 0) {
            lines++;
            ck_assert_str_eq(json_string_value(json_object_get(v, "method")), "POST");
            ck_assert_int_eq(json_integer_value(json_object_get(v, "status")), 200);
            ck_assert_msg(json_integer_value(json_object_get(v, "bytes")) > 0, "bytes: %s", line);
            ck_assert_msg(json_is_number(json_object_get(v, "duration_ms")), "duration: %s", line);
            ck_assert_msg(json_is_null(json_object_get(v, "job_id")), "job_id: %s", line);
            ck_assert_str_eq(json_string_value(json_object_get(v, "remote")), "127.0.0.1");
            ck_assert_msg(json_is_string(json_object_get(v, "time")), "time: %s", line);
        }
        json_decref(v);
    }
    ck_assert_int_eq(lines, 1);
    free(text);
}
END_TEST

/* ---- hung workers ---------------------------------------------------------------------------- */

START_TEST(test_hung_worker_is_replaced)
{
    server s;
    must_start(&s, "{\"workers\": 2, \"heartbeat_timeout_s\": 2}");
    pid_t w0 = worker_pid_now(&s, 0);
    ck_assert_int_eq(kill(w0, SIGSTOP), 0);
    int64_t t0 = now_ms();
    json_t *w = must_wait_respawn(&s, 0, w0, 7000);
    int64_t took = now_ms() - t0;
    fprintf(stderr, "[info] a stopped worker was replaced after %lld ms\n", (long long)took);
    ck_assert_msg(took >= 1500, "replaced after %lld ms, before heartbeat_timeout_s",
                  (long long)took);
    ck_assert_int_eq(must_int(w, "restarts"), 1);
    json_t *last = must_get(w, "last_exit");
    int sig = (int)must_int(last, "signal");
    ck_assert_msg(sig == SIGABRT || sig == SIGKILL, "the hung worker died of signal %d", sig);
    must_log(&s, "is hung: no heartbeat for", 1, 100);
    must_log(&s, "running job none", 1, 100);
    must_gone(w0, 2000, "the hung worker");
    must_wait_workers_running(&s, 3000);
    for (int i = 0; i < 4; i++)
        must_fib(&s);
}
END_TEST

/* ---- systemd notify ------------------------------------------------------------------------- */

typedef struct notify_rx {
    int fd;
    char path[108];
} notify_rx;

static void notify_rx_open(notify_rx *n)
{
    snprintf(n->path, sizeof(n->path), "/tmp/crunchd-notify-%d.sock", (int)getpid());
    unlink(n->path);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(n->fd, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", n->path);
    ck_assert_msg(bind(n->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "bind(%s): %s", n->path,
                  strerror(errno));
}

/* Next datagram within timeout_ms into buf, or 0 on timeout. */
static int notify_rx_next(notify_rx *n, char *buf, size_t len, int timeout_ms)
{
    set_recv_timeout(n->fd, timeout_ms);
    ssize_t r = recv(n->fd, buf, len - 1, 0);
    if (r < 0)
        return 0;
    buf[r] = '\0';
    return 1;
}

/* Waits for a datagram containing needle; returns when it came (ms). */
static int64_t must_notify(notify_rx *n, const char *needle, int timeout_ms, char *got,
                           size_t gotlen)
{
    int64_t deadline = now_ms() + timeout_ms;
    char buf[4096], seen[8192] = "";
    while (now_ms() < deadline) {
        if (!notify_rx_next(n, buf, sizeof(buf), (int)(deadline - now_ms())))
            break;
        if (strstr(buf, needle)) {
            if (got)
                snprintf(got, gotlen, "%s", buf);
            return now_ms();
        }
        strncat(seen, buf, sizeof(seen) - strlen(seen) - 2);
        strcat(seen, "|");
    }
    ck_abort_msg("no notify message with \"%s\" within %d ms; got: %s", needle, timeout_ms, seen);
}

START_TEST(test_notify_protocol)
{
    notify_rx n;
    notify_rx_open(&n);
    setenv("NOTIFY_SOCKET", n.path, 1);
    setenv("WATCHDOG_USEC", "1000000", 1);
    server s;
    must_start(&s, "{\"workers\": 2, \"heartbeat_timeout_s\": 8}");
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");

    char msg[4096];
    must_notify(&n, "READY=1", 3000, msg, sizeof(msg));
    must_notify(&n, "STATUS=2 of 2 workers", 3000, msg, sizeof(msg));
    /* Watchdog pings every ~500 ms while all heartbeats are fresh. */
    int64_t t1 = must_notify(&n, "WATCHDOG=1", 2000, NULL, 0);
    int64_t t2 = must_notify(&n, "WATCHDOG=1", 2000, NULL, 0);
    ck_assert_msg(t2 - t1 >= 300 && t2 - t1 <= 900, "watchdog pings %lld ms apart",
                  (long long)(t2 - t1));

    /* Reload: RELOADING=1 with MONOTONIC_USEC, then READY=1. */
    must_signal(&s, SIGHUP);
    must_notify(&n, "RELOADING=1", 2000, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "MONOTONIC_USEC="), "RELOADING=1 without MONOTONIC_USEC: %s", msg);
    must_notify(&n, "READY=1", RELOAD_MS, NULL, 0);
    must_wait_workers_running(&s, RELOAD_MS);

    /* A stopped worker: no WATCHDOG=1 while its heartbeat is stale. */
    pid_t w0 = worker_pid_now(&s, 0);
    must_notify(&n, "WATCHDOG=1", 2000, NULL, 0);
    ck_assert_int_eq(kill(w0, SIGSTOP), 0);
    int64_t stopped = now_ms();
    int64_t last_ping = stopped;
    char buf[4096];
    while (now_ms() - stopped < 4500) {
        if (notify_rx_next(&n, buf, sizeof(buf), 200) && strstr(buf, "WATCHDOG=1"))
            last_ping = now_ms();
    }
    ck_assert_int_eq(kill(w0, SIGCONT), 0);
    ck_assert_msg(last_ping - stopped <= 3800,
                  "WATCHDOG=1 still sent %lld ms after a worker stopped",
                  (long long)(last_ping - stopped));
    must_notify(&n, "WATCHDOG=1", 3000, NULL, 0); /* back once it beats again */

    must_signal(&s, SIGQUIT);
    must_notify(&n, "STOPPING=1", 2000, NULL, 0);
    ck_assert_msg(server_wait_exit(&s, 8000) != -1, "the master did not exit after QUIT");
    close(n.fd);
    unlink(n.path);
}
END_TEST

/* ---- socket activation ------------------------------------------------------------------------
 */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

START_TEST(test_socket_activation)
{
    char dir[] = "/tmp/crunchd-act-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cfg[600], log[600], listen[64];
    snprintf(cfg, sizeof(cfg), "%s/crunchd.json", dir);
    snprintf(log, sizeof(log), "%s/crunchd.log", dir);
    int port = free_port();
    /* "listen" names another address: the activated socket must win. */
    must_write_file(cfg, "{\"listen\": [\"127.0.0.1:1\"], \"workers\": 2, "
                         "\"store\": {\"kind\": \"sqlite\", \"path\": \"crunchd.db\"}}");
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    char *argv[] = {
        "systemd-socket-activate", "-l", listen, getenv("CRUNCHD_BIN"), "-c", cfg, NULL};
    pid_t pid = spawn(dir, log, argv);
    sleep_ms(300);

    /* The first connection starts crunchd; it must be served, and later ones too. */
    server s = {.pid = pid, .port = port, .nworkers = 2, .id = -1};
    int ok = 0;
    for (int i = 0; i < 40 && ok < 5; i++) {
        int fd = try_connect(&s);
        if (fd < 0) {
            sleep_ms(100);
            continue;
        }
        char req[256];
        snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        if (try_send(fd, req, strlen(req)) == 0) {
            resp r;
            char err[256];
            if (read_response(fd, &r, 0, err, sizeof(err)) == 200)
                ok++;
        }
        close(fd);
    }
    kill(pid, SIGTERM);
    int st = must_reap(pid, 5000, "socket-activated crunchd");
    char *text = slurp(log, NULL);
    ck_assert_msg(ok == 5, "socket-activated crunchd answered %d of 5 requests; log:\n%s", ok,
                  text ? text : "");
    ck_assert_msg(text && strstr(text, "using 1 socket passed by systemd"),
                  "no activation line in the log:\n%s", text ? text : "");
    ck_assert_msg(strstr(text, "127.0.0.1:1 ") == NULL, "it bound \"listen\" too:\n%s", text);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status 0x%x; log:\n%s", st, text);
    free(text);
    char rm[700];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(rm), 0);
}
END_TEST

/* ---- privileges
 * ----------------------------------------------------------------------------------- */

/* "Uid:", "Gid:" or "Groups:" line of /proc/pid/status. */
static void proc_status_line(pid_t pid, const char *key, char *out, size_t outlen)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    char *text = slurp(path, NULL);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    const char *p = strstr(text, key);
    ck_assert_msg(p != NULL, "no %s in %s", key, path);
    p += strlen(key);
    while (*p == '\t' || *p == ' ')
        p++;
    size_t n = strcspn(p, "\n");
    snprintf(out, outlen, "%.*s", (int)n, p);
    free(text);
}

START_TEST(test_privilege_drop)
{
    struct passwd *pw = getpwnam("nobody");
    if (geteuid() != 0 || !pw) {
        fprintf(stderr, "[skip] privilege drop: needs root and a user \"nobody\"\n");
        return;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    char dir[] = "/tmp/crunchd-priv-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0755), 0);
    char over[1200];
    snprintf(over, sizeof(over),
             "{\"workers\": 2, \"user\": \"nobody\", \"log\": {\"access_log\": \"%s/access.log\"},"
             " \"store\": {\"kind\": \"sqlite\", \"path\": \"%s/var/crunchd.db\"}}",
             dir, dir);
    char var[600];
    snprintf(var, sizeof(var), "%s/var", dir);
    ck_assert_int_eq(mkdir(var, 0755), 0);
    ck_assert_int_eq(chown(var, uid, gid), 0);

    server s;
    must_start(&s, over);
    char line[256], want[64];
    for (int slot = 0; slot < 2; slot++) {
        pid_t w = worker_pid_now(&s, slot);
        proc_status_line(w, "Uid:", line, sizeof(line));
        snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", uid, uid, uid, uid);
        ck_assert_msg(strcmp(line, want) == 0, "worker Uid: %s, want %s", line, want);
        proc_status_line(w, "Gid:", line, sizeof(line));
        snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", gid, gid, gid, gid);
        ck_assert_msg(strcmp(line, want) == 0, "worker Gid: %s, want %s", line, want);
        proc_status_line(w, "Groups:", line, sizeof(line));
        ck_assert_msg(line[0] == '\0', "supplementary groups kept: \"%s\"", line);
    }
    proc_status_line(s.pid, "Uid:", line, sizeof(line));
    ck_assert_msg(strncmp(line, "0\t", 2) == 0, "the master is not root any more: %s", line);

    /* The access log is theirs and they write it, also after a reopen. */
    char al[600], rotated[620];
    snprintf(al, sizeof(al), "%s/access.log", dir);
    snprintf(rotated, sizeof(rotated), "%s/access.log.1", dir);
    must_fib(&s);
    sleep_ms(300);
    struct stat st;
    ck_assert_int_eq(stat(al, &st), 0);
    ck_assert_int_eq(st.st_uid, uid);
    ck_assert_msg(st.st_size > 0, "the workers wrote nothing to the access log");
    ck_assert_int_eq(rename(al, rotated), 0);
    must_signal(&s, SIGUSR1);
    sleep_ms(300);
    must_fib(&s);
    sleep_ms(300);
    ck_assert_int_eq(stat(al, &st), 0);
    ck_assert_int_eq(st.st_uid, uid);
    ck_assert_msg(st.st_size > 0, "nothing written after the reopen");
    /* A reload keeps the user. */
    pid_t w0 = worker_pid_now(&s, 0);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 1, RELOAD_MS);
    json_t *w = must_wait_respawn(&s, 0, w0, RELOAD_MS);
    proc_status_line((pid_t)must_int(w, "pid"), "Uid:", line, sizeof(line));
    snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", uid, uid, uid, uid);
    ck_assert_msg(strcmp(line, want) == 0, "reloaded worker Uid: %s", line);
    server_stop(&s);
    char rm[700];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(rm), 0);
}
END_TEST

/* ---- metrics
 * -------------------------------------------------------------------------------------- */

/* Sum of the samples of `series` (exact name and labels prefix). */
static double metric_value(const char *text, const char *series)
{
    double sum = 0;
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            sum += strtod(p + n + 1, NULL);
    }
    return sum;
}

static char *must_metrics(server *s)
{
    resp r;
    ck_assert_int_eq(http_call(s, "GET", "/metrics", NULL, &r), 200);
    const char *ct = resp_header(&r, "Content-Type");
    ck_assert_msg(ct && strncmp(ct, "text/plain; version=0.0.4", 25) == 0, "Content-Type %s",
                  ct ? ct : "(none)");
    return strdup(r.body);
}

/* Every line is a HELP, a TYPE or a sample of a family declared before;
 * histogram buckets are cumulative and end with +Inf == _count. */
static void must_prometheus_format(const char *text)
{
    char family[128] = "", type[32] = "";
    double last_bucket = -1;
    char *copy = strdup(text);
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            ck_assert_int_eq(sscanf(line, "# TYPE %127s %31s", family, type), 2);
            ck_assert_msg(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                              strcmp(type, "histogram") == 0,
                          "unknown type: %s", line);
            last_bucket = -1;
            continue;
        }
        ck_assert_msg(family[0] && strncmp(line, family, strlen(family)) == 0,
                      "sample outside its family %s: %s", family, line);
        const char *sp = strrchr(line, ' ');
        ck_assert_msg(sp && sp[1], "no value: %s", line);
        char *end;
        double v = strtod(sp + 1, &end);
        ck_assert_msg(*end == '\0' && v >= 0, "bad value: %s", line);
        if (strcmp(type, "counter") == 0)
            ck_assert_msg(strstr(family, "_total") != NULL, "counter without _total: %s", family);
        if (strstr(line, "_bucket{")) {
            /* last_bucket is -1 at the first bucket of each series */
            ck_assert_msg(v >= last_bucket, "buckets not cumulative at %s", line);
            last_bucket = v;
        } else if (strstr(line, "_count{")) {
            ck_assert_msg(v == last_bucket, "_count %s differs from the +Inf bucket %g", line,
                          last_bucket);
            last_bucket = -1;
        }
    }
    free(copy);
}

START_TEST(test_metrics_format_and_sums)
{
    server s;
    must_start(&s, "{\"workers\": 2}");
    const int calls = 40;
    for (int i = 0; i < calls; i++)
        must_fib(&s);
    resp r;
    http_call(&s, "GET", "/no/such/route", NULL, &r);
    /* Both workers served some of them (fresh connections spread over slots). */
    json_t *list = must_workers(&s);
    json_int_t req0 = must_int(json_array_get(list, 0), "requests");
    json_int_t req1 = must_int(json_array_get(list, 1), "requests");
    ck_assert_msg(req0 > 0 && req1 > 0, "one worker served everything (%lld, %lld)",
                  (long long)req0, (long long)req1);

    char *text = must_metrics(&s);
    must_prometheus_format(text);
    ck_assert_msg(metric_value(text, "crunchd_http_requests_total{route=\"fn\",code=\"200\"}") ==
                      calls,
                  "fn 200 count is not %d:\n%s", calls, text);
    ck_assert_msg(metric_value(text, "crunchd_http_requests_total{route=\"other\",code=\"404\"}") ==
                      1,
                  "404 count:\n%s", text);
    ck_assert_msg(metric_value(text, "crunchd_jobs_total{fn=\"fib\",state=\"succeeded\"}") == calls,
                  "jobs_total for fib:\n%s", text);
    ck_assert_msg(metric_value(text, "crunchd_job_run_seconds_count{fn=\"fib\"}") == calls,
                  "job_run_seconds_count for fib:\n%s", text);
    ck_assert_msg(metric_value(text, "crunchd_http_request_duration_seconds_count{route=\"fn\"}") ==
                      calls,
                  "request duration count:\n%s", text);
    ck_assert_msg(metric_value(text, "crunchd_workers") == 2, "crunchd_workers:\n%s", text);
    ck_assert_msg(strstr(text, "\ncrunchd_jobs_queued ") &&
                      strstr(text, "\ncrunchd_jobs_running ") &&
                      strstr(text, "\ncrunchd_connections ") &&
                      strstr(text, "\ncrunchd_worker_restarts_total 0\n"),
                  "a gauge is missing:\n%s", text);
    ck_assert_msg(strstr(text, "fn=\"spin\"") == NULL, "debug functions shown:\n%s", text);
    free(text);

    /* Counters survive a respawn and a reload. */
    pid_t w0 = worker_pid_now(&s, 0);
    ck_assert_int_eq(kill(w0, SIGKILL), 0);
    must_wait_respawn(&s, 0, w0, 3000);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 1, RELOAD_MS);
    must_wait_workers_running(&s, RELOAD_MS);
    text = must_metrics(&s);
    ck_assert_msg(metric_value(text, "crunchd_http_requests_total{route=\"fn\",code=\"200\"}") ==
                      calls,
                  "fn 200 count changed across a respawn and a reload:\n%s", text);
    ck_assert_msg(metric_value(text, "crunchd_worker_restarts_total") == 1, "restarts:\n%s", text);
    ck_assert_msg(
        metric_value(text, "crunchd_http_requests_total{route=\"metrics\",code=\"200\"}") >= 1,
        "the first /metrics call is not counted:\n%s", text);
    free(text);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = harness_tcase("reload");
    tcase_add_test(tc, test_hup_reload_applies_config);
    tcase_add_test(tc, test_hup_bad_config_keeps_running);
    tcase_add_test(tc, test_hup_changes_worker_count);
    tcase_add_test(tc, test_reload_under_load_zero_errors);
    tcase_add_test(tc, test_ttin_ttou_under_load_zero_errors);
    tcase_add_test(tc, test_ttou_steers_connections_away);
    tcase_add_test(tc, test_readyz_503_while_draining);
    suite_add_tcase(s, tc);

    tc = harness_tcase("signals");
    tcase_add_test(tc, test_pid_file_and_signal_commands);
    tcase_add_test(tc, test_signal_command_stop);
    tcase_add_test(tc, test_usr1_reopens_access_log);
    tcase_add_test(tc, test_access_log_json);
    tcase_add_test(tc, test_hung_worker_is_replaced);
    suite_add_tcase(s, tc);

    tc = harness_tcase("systemd");
    tcase_add_test(tc, test_notify_protocol);
    tcase_add_test(tc, test_socket_activation);
    tcase_add_test(tc, test_privilege_drop);
    suite_add_tcase(s, tc);

    tc = harness_tcase("metrics");
    tcase_add_test(tc, test_metrics_format_and_sums);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(ops_suite());
}
