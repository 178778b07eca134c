/*
 * check_hostile.c - clients that leave early or push the limits (issue 9):
 * pipelining clients that close or reset mid-request (no worker may die),
 * abandoned synchronous calls (cancelled), a worker out of descriptors (no
 * spin; accepting resumes), the descriptor limit at start-up, slow but
 * steady readers (never cut off), and the memory budgets of a worker under
 * maximum-size requests: calls, job submissions, reads of large jobs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define MIB (1024 * 1024)

/* ---- local helpers --------------------------------------------------------- */

/* Closes fd with a reset (SO_LINGER 0) instead of a FIN. */
static void close_rst(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

/* A field of /proc/PID/status in KiB ("VmHWM", "VmRSS"), or -1. */
static long proc_status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* User + system CPU time of pid in clock ticks, or -1. */
static long proc_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* After ") ": state is field 3; utime and stime are fields 14 and 15. */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (long)(ut + st);
}

/* Lines of the server log containing needle. */
static int log_count(const server *s, const char *needle)
{
    char path[512], line[4096];
    snprintf(path, sizeof(path), "%s/crunchd.log", s->dir);
    FILE *f = fopen(path, "re");
    int n = 0;
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* The value of a /metrics sample line that starts with prefix, or -1. */
static long metric_value(server *s, const char *prefix)
{
    resp r;
    http_call(s, "GET", "/metrics", NULL, &r);
    must_status(&r, 200);
    for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            return strtol(p + strlen(prefix), NULL, 10);
    return -1;
}

/* Fails unless every worker still runs as pids[] with no restart. */
static void must_no_restarts(server *s, const pid_t *pids)
{
    json_t *list = must_workers(s);
    for (int i = 0; i < s->nworkers; i++) {
        json_t *w = json_array_get(list, (size_t)i);
        ck_assert_msg(must_int(w, "pid") == pids[i] && must_int(w, "restarts") == 0,
                      "worker %d was replaced (pid %d -> %lld, restarts %lld)", i, (int)pids[i],
                      (long long)must_int(w, "pid"), (long long)must_int(w, "restarts"));
    }
}

/* A body of n_values single-digit numbers for sort, at most max bytes. */
static char *sort_body(size_t max)
{
    char *b = malloc(max + 1);
    ck_assert(b != NULL);
    size_t n = (size_t)snprintf(b, max, "{\"values\":[");
    for (unsigned i = 0; n + 4 < max; i++) {
        b[n++] = (char)('0' + (i * 7) % 10);
        b[n++] = ',';
    }
    b[n - 1] = ']';
    b[n++] = '}';
    b[n] = '\0';
    return b;
}

/* The same POST with a chunked body (64 KiB chunks) and Connection: close. */
static char *chunked_request(const char *path, const char *body)
{
    size_t n = strlen(body), cap = n + n / 1000 + 512, at = 0;
    char *req = malloc(cap);
    ck_assert(req != NULL);
    at += (size_t)snprintf(req, cap,
                           "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                           path);
    for (size_t off = 0; off < n; off += 65536) {
        size_t k = n - off < 65536 ? n - off : 65536;
        at += (size_t)snprintf(req + at, cap - at, "%zx\r\n", k);
        memcpy(req + at, body + off, k);
        at += k;
        at += (size_t)snprintf(req + at, cap - at, "\r\n");
    }
    snprintf(req + at, cap - at, "0\r\n\r\n");
    return req;
}

/* ---- 1: a pipelining client that leaves early -------------------------------- */

static const char *pipelined_batch(size_t *len)
{
    static char batch[2048];
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        n += (size_t)snprintf(batch + n, sizeof(batch) - n, "%s",
                              http_request_text("POST", "/v1/fn/sleep", "{\"ms\":200}", NULL));
    n += (size_t)snprintf(batch + n, sizeof(batch) - n, "%s",
                          http_request_text("GET", "/v1/jobs?limit=1", NULL, NULL));
    *len = n;
    return batch;
}

START_TEST(test_pipelined_then_gone)
{
    server s;
    must_start(&s, NULL);
    pid_t pids[2] = {must_worker_pid(&s, 0), must_worker_pid(&s, 1)};
    /* Another client's job runs meanwhile; it must not become worker_lost. */
    resp r;
    http_call(&s, "POST", "/v1/jobs", "{\"fn\":\"sleep\",\"args\":{\"ms\":1500}}", &r);
    must_status(&r, 202);
    char path[128];
    snprintf(path, sizeof(path), "/v1/jobs/%s?wait=20", must_str(must_json(&r), "id"));

    size_t len;
    const char *batch = pipelined_batch(&len);
    /* The case as reported: the whole batch, 50 ms, then a reset or a FIN. */
    for (int i = 0; i < 4; i++) {
        int fd = must_connect(&s);
        must_send(fd, batch, len);
        sleep_ms(50);
        if (i % 2)
            close_rst(fd);
        else
            close(fd);
    }
    /* 200 more, cut at random points of the batch, left at random moments. */
    unsigned seed = 42;
    for (int i = 0; i < 200; i++) {
        int fd = must_connect(&s);
        size_t cut = 1 + (size_t)rand_r(&seed) % len;
        try_send(fd, batch, cut);
        sleep_ms(rand_r(&seed) % 4 == 0 ? rand_r(&seed) % 300 : rand_r(&seed) % 20);
        if (rand_r(&seed) % 2)
            close_rst(fd);
        else
            close(fd);
    }
    http_call(&s, "GET", path, NULL, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "state"), "succeeded");
    must_no_restarts(&s, pids);
    ck_assert_int_eq(log_count(&s, "Assertion"), 0);
    ck_assert_int_eq(log_count(&s, "killed by signal"), 0);
}
END_TEST

/* ---- 8: an abandoned call is cancelled ------------------------------------------ */

START_TEST(test_abandoned_call_cancelled)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    /* Runs for minutes unless it is cancelled. */
    int fd = must_connect(&s);
    must_send_str(fd, http_request_text("POST", "/v1/fn/count", "{\"iterations\": 100000000000}", NULL));
    sleep_ms(300);
    close(fd);
    /* The only cpu lane must be free again soon: the next call runs. */
    int64_t t0 = now_ms();
    resp r;
    must_call_fn(&s, "count", "{\"iterations\": 3000000}", &r);
    int64_t took = now_ms() - t0;
    ck_assert_msg(took < 4000, "a call waited %lld ms behind an abandoned one", (long long)took);
    ck_assert_int_eq(metric_value(&s, "crunchd_jobs_total{fn=\"count\",state=\"cancelled\"} "), 1);
    ck_assert_int_eq(metric_value(&s, "crunchd_http_requests_total{route=\"fn\",code=\"499\"} "), 1);

    /* A long-poll whose client leaves ends; the job itself goes on. */
    http_call(&s, "POST", "/v1/jobs", "{\"fn\":\"sleep\",\"args\":{\"ms\":700}}", &r);
    must_status(&r, 202);
    char path[128];
    snprintf(path, sizeof(path), "/v1/jobs/%s?wait=30", must_str(must_json(&r), "id"));
    fd = must_connect(&s);
    must_send_str(fd, http_request_text("GET", path, NULL, NULL));
    sleep_ms(100);
    close_rst(fd);
    http_call(&s, "GET", path, NULL, &r);
    ck_assert_str_eq(must_str(must_json(&r), "state"), "succeeded");
    ck_assert_int_eq(metric_value(&s, "crunchd_http_requests_total{route=\"job\",code=\"499\"} "), 1);
}
END_TEST

/* ---- 3: out of descriptors ------------------------------------------------------- */

static int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    int n = 0;
    FILE *p;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ls %s | wc -l", path);
    if ((p = popen(cmd, "r")) != NULL) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

START_TEST(test_out_of_descriptors)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"limits\": {\"max_connections\": 16}}");
    pid_t w = must_worker_pid(&s, 0);
    int used = count_fds(w);
    ck_assert_int_gt(used, 0);
    /* Leave the worker room for 4 connections only. */
    struct rlimit rl;
    ck_assert_int_eq(prlimit(w, RLIMIT_NOFILE, NULL, &rl), 0);
    rl.rlim_cur = (rlim_t)used + 4;
    ck_assert_int_eq(prlimit(w, RLIMIT_NOFILE, &rl, NULL), 0);
    int fds[30];
    for (int i = 0; i < 30; i++)
        fds[i] = must_connect(&s);
    sleep_ms(300);
    long t0 = proc_cpu_ticks(w);
    sleep_ms(1500);
    long spent = proc_cpu_ticks(w) - t0;
    long hz = sysconf(_SC_CLK_TCK);
    ck_assert_msg(spent * 1000 / hz < 300, "the worker used %ld ms of CPU in 1.5 s out of descriptors",
                  spent * 1000 / hz);
    int lines = log_count(&s, "accept4() failed");
    ck_assert_msg(lines >= 1 && lines <= 3, "%d log lines about accept4() failing", lines);
    for (int i = 0; i < 30; i++)
        close(fds[i]);
    /* A descriptor is free again: accepting resumes. */
    resp r;
    http_call(&s, "GET", "/healthz", NULL, &r);
    must_status(&r, 200);
}
END_TEST

/* Starts crunchd with RLIMIT_NOFILE at soft/hard and the config text; returns
 * its exit status (waited up to 10 s), its log in log (cap bytes). */
static int run_with_nofile(rlim_t soft, rlim_t hard, const char *config, char *log, size_t cap)
{
    char dir[] = "/tmp/crunchd-nofile-XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char cfg_path[128], log_path[128];
    snprintf(cfg_path, sizeof(cfg_path), "%s/c.json", dir);
    snprintf(log_path, sizeof(log_path), "%s/log", dir);
    FILE *f = fopen(cfg_path, "we");
    ck_assert(f != NULL);
    fprintf(f, "%s", config);
    fclose(f);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {soft, hard};
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0 || setrlimit(RLIMIT_NOFILE, &rl) < 0)
            _exit(99);
        execl(getenv("CRUNCHD_BIN"), "crunchd", "-c", cfg_path, (char *)NULL);
        _exit(98);
    }
    int status = -1;
    for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
        sleep_ms(100);
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        status = -1;
    }
    f = fopen(log_path, "re");
    size_t n = f ? fread(log, 1, cap - 1, f) : 0;
    log[n] = '\0';
    if (f)
        fclose(f);
    unlink(cfg_path);
    unlink(log_path);
    rmdir(dir);
    return status;
}

START_TEST(test_nofile_too_low_refused)
{
    char log[4096];
    int st = run_with_nofile(256, 256,
                             "{\"listen\": [\"127.0.0.1:0\"], \"workers\": 1, "
                             "\"store\": {\"kind\": \"sqlite\", \"path\": \"/tmp/crunchd-nofile.db\"}}",
                             log, sizeof(log));
    ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
                  "crunchd with 256 descriptors for max_connections 4096 did not exit 1:\n%s", log);
    ck_assert_msg(strstr(log, "limits.max_connections") && strstr(log, "LimitNOFILE"),
                  "the refusal does not say what to raise:\n%s", log);
}
END_TEST

START_TEST(test_nofile_raised)
{
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_msg(rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 8192,
                  "this test needs a hard RLIMIT_NOFILE of at least 8192");
    rl.rlim_cur = 1024; /* the usual soft limit; children inherit it */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    server s;
    must_start(&s, "{\"workers\": 1, \"limits\": {\"max_connections\": 4096}}");
    struct rlimit got;
    ck_assert_int_eq(prlimit(must_worker_pid(&s, 0), RLIMIT_NOFILE, NULL, &got), 0);
    ck_assert_msg(got.rlim_cur >= 4096 + 128, "the worker's soft limit is %lu",
                  (unsigned long)got.rlim_cur);
}
END_TEST

/* ---- 7: a slow but steady reader ---------------------------------------------------- */

START_TEST(test_slow_steady_reader)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"limits\": {\"max_body_bytes\": 16777216, \"read_timeout_s\": 1}}");
    /* A million 7-digit numbers: an 8 MB reply, twice what the kernel
     * buffers between us (tcp_wmem's default maximum is 4 MB). */
    size_t cap = 8 * MIB + 64, n = 0;
    char *body = malloc(cap);
    ck_assert(body != NULL);
    n += (size_t)snprintf(body, cap, "{\"values\":[");
    for (unsigned i = 0; i < 1000000; i++)
        n += (size_t)snprintf(body + n, cap - n, "%u,", 1000000 + (i * 7919u) % 9000000);
    snprintf(body + n - 1, cap - n + 1, "]}");
    int rcvbuf = 65536;
    int fd = must_connect(&s);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    must_send_str(fd, http_request_text("POST", "/v1/fn/sort", body, "Connection: close\r\n"));
    int64_t t0 = now_ms();
    /* Read 16 KiB every 10 ms (~1.6 MB/s): the last 4 MB take 2.5 s, well
     * past read_timeout_s, with progress all along. */
    size_t got = 0;
    char chunk[16384];
    for (;;) {
        ssize_t k = recv(fd, chunk, sizeof(chunk), 0);
        if (k <= 0)
            break;
        got += (size_t)k;
        sleep_ms(10);
    }
    close(fd);
    fprintf(stderr, "slow reader: %zu bytes in %lld ms\n", got, (long long)(now_ms() - t0));
    ck_assert_msg(got > strlen(body), "the slow reader got %zu bytes of a reply longer than %zu",
                  got, strlen(body));
    free(body);
}
END_TEST

/* ---- 5: memory budgets ------------------------------------------------------------------ */

START_TEST(test_body_budget)
{
    server s;
    must_start(&s, "{\"workers\": 1}"); /* max_worker_body_bytes: 4 x 1 MiB */
    char head[256];
    snprintf(head, sizeof(head),
             "POST /v1/fn/sha256 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: %d\r\n\r\n{\"data\":\"",
             MIB);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = must_connect(&s);
        must_send_str(fds[i], head);
    }
    sleep_ms(200);
    /* A fifth 1 MiB body does not fit: refused before it is read. */
    int fd = must_connect(&s);
    must_send_str(fd, head);
    resp r;
    must_read_response(fd, &r);
    must_error(&r, 503, "busy", NULL);
    must_header(&r, "Retry-After", "1");
    close(fd);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    sleep_ms(200);
    /* Room again. */
    must_call_fn(&s, "sha256", "{\"data\": \"abc\"}", &r);
}
END_TEST

START_TEST(test_args_budget)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"limits\": {\"max_worker_args_bytes\": 1048576}}");
    /* The one cpu lane is busy for 2 s ... */
    int busy = must_connect(&s);
    must_send_str(busy, http_request_text("POST", "/v1/fn/count?timeout_ms=2000",
                                          "{\"iterations\": 100000000000}", NULL));
    sleep_ms(100);
    /* ... so a call with 600 KB of arguments waits for it, holding them. */
    size_t n = 600000;
    char *big = malloc(n + 64);
    ck_assert(big != NULL);
    int k = snprintf(big, 64, "{\"data\": \"");
    memset(big + k, 'a', n);
    strcpy(big + k + n, "\"}");
    int held = must_connect(&s);
    must_send_str(held, http_request_text("POST", "/v1/fn/sha256", big, NULL));
    sleep_ms(200);
    /* Another one does not fit in limits.max_worker_args_bytes. */
    resp r;
    http_call(&s, "POST", "/v1/fn/sha256", big, &r);
    must_error(&r, 503, "busy", NULL);
    must_header(&r, "Retry-After", "1");
    /* Small calls still fit beside it. */
    must_call_fn(&s, "sha256", "{\"data\": \"abc\"}", &r);
    must_read_response(busy, &r);
    must_error(&r, 504, "timeout", NULL);
    must_read_response(held, &r);
    must_status(&r, 200);
    close(busy);
    close(held);
    free(big);
}
END_TEST

/* The state of job id (static buffer). */
static const char *job_state_of(server *s, const char *id)
{
    static char state[32];
    char path[80];
    resp r;
    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    http_call(s, "GET", path, NULL, &r);
    must_status(&r, 200);
    snprintf(state, sizeof(state), "%s", must_str(must_json(&r), "state"));
    return state;
}

/* Waits up to timeout_ms for job id to reach state ("final": any final one). */
static void must_reach(server *s, const char *id, const char *state, int timeout_ms)
{
    int64_t until = now_ms() + timeout_ms;
    for (;;) {
        const char *now = job_state_of(s, id);
        bool final = strcmp(now, "succeeded") == 0 || strcmp(now, "failed") == 0 ||
                     strcmp(now, "cancelled") == 0;
        if (strcmp(now, state) == 0 || (final && strcmp(state, "final") == 0))
            return;
        ck_assert_msg(now_ms() < until, "job %s is %s after %d ms, want %s", id, now, timeout_ms,
                      state);
        sleep_ms(20);
    }
}

/* A claimed job holds its arguments against the budget until it ends: a
 * submission that does not fit beside them gets 503 busy, a small call
 * still fits, and once the job is cancelled the room is back. */
START_TEST(test_args_budget_claimed_job)
{
    server s;
    char conf[1024];
    snprintf(conf, sizeof(conf),
             "{\"workers\": 1, \"limits\": {\"max_worker_args_bytes\": 1048576},"
             " \"functions\": {\"plugins\": [\"%s\"]}}",
             plugin_path("tp"));
    must_start(&s, conf);
    /* 12000 numbers: ~24 KB of text, estimated at ~600 KB parsed. */
    size_t n = 12000;
    char *job = malloc(2 * n + 128);
    ck_assert(job != NULL);
    size_t at = (size_t)sprintf(job, "{\"fn\": \"tp_wait\", \"args\": {\"ms\": 600000, \"pad\": [");
    for (size_t i = 0; i < n; i++)
        at += (size_t)sprintf(job + at, "%s0", i ? "," : "");
    strcpy(job + at, "]}}");
    char held[40];
    snprintf(held, sizeof(held), "%s", must_submit_job(&s, job));
    must_reach(&s, held, "running", 10000);
    /* Its arguments, read back by the claim, hold the budget: */
    resp r;
    http_call(&s, "POST", "/v1/jobs", job, &r);
    must_error(&r, 503, "busy", NULL);
    must_header(&r, "Retry-After", "1");
    must_call_fn(&s, "sha256", "{\"data\": \"abc\"}", &r); /* small calls fit beside */
    char path[80];
    snprintf(path, sizeof(path), "/v1/jobs/%s", held);
    http_call(&s, "DELETE", path, NULL, &r);
    ck_assert_msg(r.status == 200 || r.status == 202, "%s", resp_describe(&r));
    must_reach(&s, held, "cancelled", 10000);
    /* Given back when it ended: room again. */
    char again[40];
    snprintf(again, sizeof(again), "%s", must_submit_job(&s, job));
    snprintf(path, sizeof(path), "/v1/jobs/%s", again);
    http_call(&s, "DELETE", path, NULL, &r);
    must_reach(&s, again, "final", 10000);
    free(job);
}
END_TEST

/* Requests sent by several threads at once (the harness's own reader is
 * not thread-safe: replies are read here until the server closes). */
#define LOAD_KINDS 4

typedef struct load {
    server *s;
    const char *reqs[LOAD_KINDS]; /* made beforehand, with Connection: close */
    int nreqs;                    /* of reqs; 0: LOAD_KINDS */
    int64_t until_ms;
    int ok, busy, bad;
    char bad_desc[128];
} load;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

/* Reads a reply to EOF; its status, or -1. */
static int read_status_to_eof(int fd)
{
    char buf[65536], first[16] = "";
    size_t have = 0;
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
        if (have < sizeof(first) - 1) {
            size_t k = (size_t)n < sizeof(first) - 1 - have ? (size_t)n : sizeof(first) - 1 - have;
            memcpy(first + have, buf, k);
            have += k;
        }
    }
    int status;
    return n == 0 && sscanf(first, "HTTP/1.1 %d", &status) == 1 ? status : -1;
}

static void *load_run(void *arg)
{
    load *l = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    while (now_ms() < l->until_ms) {
        int i = (int)(rand_r(&seed) % (unsigned)(l->nreqs ? l->nreqs : LOAD_KINDS));
        int fd = try_connect(l->s);
        if (fd < 0)
            continue;
        set_recv_timeout(fd, 20000); /* a call may wait up to its timeout_ms for the lane */
        int st = try_send(fd, l->reqs[i], strlen(l->reqs[i])) == 0 ? read_status_to_eof(fd) : -1;
        close(fd);
        pthread_mutex_lock(&load_lock);
        if (st == 200 || st == 202) /* answered, or a job accepted */
            l->ok++;
        else if (st == 503 || st == 504) /* over a budget, or queued past timeout_ms */
            l->busy++;
        else if (l->bad++ == 0)
            snprintf(l->bad_desc, sizeof(l->bad_desc), "request kind %d: status %d", i, st);
        pthread_mutex_unlock(&load_lock);
    }
    return NULL;
}

/* The peak RSS of a worker under maximum-size load, of one kind or all at
 * once: 64 MiB + 4 x max_body_bytes (1 MiB). */
#define BOUND_KIB ((64 + 4) * 1024L)

/* RSS once the load is over and the heap trimmed; after reads of many
 * large jobs the store's page cache (16 MiB, sqlite_open.c) is full too. */
#define AFTER_KIB (24 * 1024L)
#define MIXED_AFTER_KIB (AFTER_KIB + 16 * 1024L)

/* Runs l with 16 clients against worker w of s, from a reset VmHWM; then
 * settled (may be NULL) until the work they left is done. The worker's
 * peak RSS stays under bound_kib, and its RSS drops under after_kib within
 * 4 s after. */
static void load_measured(server *s, pid_t w, load *l, void (*settled)(server *), long bound_kib,
                          long after_kib, const char *what)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)w);
    FILE *f = fopen(path, "we"); /* "5" resets VmHWM */
    ck_assert(f != NULL);
    fputs("5", f);
    fclose(f);
    pthread_t th[16];
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, load_run, l), 0);
    for (int i = 0; i < 16; i++)
        pthread_join(th[i], NULL);
    if (settled)
        settled(s);
    long hwm = proc_status_kib(w, "VmHWM");
    fprintf(stderr, "%s: %d ok, %d busy or timed out; worker VmHWM %ld KiB\n", what, l->ok,
            l->busy, hwm);
    ck_assert_msg(l->bad == 0, "%d replies were neither 200, 202 nor 503 (first: %s)", l->bad,
                  l->bad_desc);
    ck_assert_msg(l->ok > 0, "nothing was served");
    must_no_restarts(s, &w);
    if (getenv("CRUNCHD_SANITIZED")) {
        /* ASan's shadow memory and quarantine are not the server's: the
         * bound is checked by the plain build of the same suite. */
        fprintf(stderr, "sanitized build: RSS bound measured by the plain build\n");
        return;
    }
    ck_assert_msg(hwm > 0 && hwm < bound_kib, "worker VmHWM %ld KiB under %s", hwm, what);
    /* And the memory goes back after the burst. */
    long rss = 0;
    for (int i = 0; i < 40 && (rss = proc_status_kib(w, "VmRSS")) >= after_kib; i++)
        sleep_ms(100);
    fprintf(stderr, "%s: worker VmRSS %ld KiB after\n", what, rss);
    ck_assert_msg(rss < after_kib, "worker RSS %ld KiB 4 s after %s", rss, what);
}

START_TEST(test_memory_under_max_size_load)
{
    server s;
    must_start(&s, "{\"workers\": 1}"); /* max_body_bytes 1 MiB */
    pid_t w = must_worker_pid(&s, 0);
    char *sort = sort_body(MIB);
    char *sha = malloc(MIB + 1);
    ck_assert(sha != NULL);
    int k = snprintf(sha, 32, "{\"data\": \"");
    memset(sha + k, 'x', MIB - (size_t)k - 2);
    strcpy(sha + MIB - 2, "\"}");
    const char *close_hdr = "Connection: close\r\n";
    char *chunked = chunked_request("/v1/fn/sort?timeout_ms=8000", sort);
    load l = {.s = &s,
              .reqs = {http_request_text("POST", "/v1/fn/sort?timeout_ms=8000", sort, close_hdr),
                       http_request_text("POST", "/v1/fn/sha256?timeout_ms=8000", sha, close_hdr),
                       http_request_text("POST", "/v1/fn/matmul?timeout_ms=8000", "{\"n\": 1024}",
                                         close_hdr),
                       chunked},
              .until_ms = now_ms() + 6000};
    load_measured(&s, w, &l, NULL, BOUND_KIB, AFTER_KIB, "max-size calls");
    free(sort);
    free(sha);
    free(chunked);
}
END_TEST

/* A job of a maximal sort body, {"fn": "sort", "args": {"values": [...]}},
 * of at most max bytes. */
static char *sort_job_body(size_t max)
{
    static const char head[] = "{\"fn\": \"sort\", \"args\": ";
    char *values = sort_body(max - sizeof(head) - 1);
    char *b = malloc(max + 1);
    ck_assert(b != NULL);
    snprintf(b, max + 1, "%s%s}", head, values);
    free(values);
    return b;
}

/* Every job ended: none queued or running (a sort job takes ~0.3 s here,
 * much longer under ASan: the bound is generous). */
static void jobs_drained(server *s)
{
    static const char *const busy[] = {"/v1/jobs?state=queued&limit=1",
                                       "/v1/jobs?state=running&limit=1"};
    int64_t until = now_ms() + 150000;
    for (int i = 0; i < 2;) {
        resp r;
        http_call(s, "GET", busy[i], NULL, &r);
        must_status(&r, 200);
        if (json_array_size(must_get(must_json(&r), "jobs")) == 0) {
            i++;
            continue;
        }
        ck_assert_msg(now_ms() < until, "jobs still %s after 150 s", i ? "running" : "queued");
        sleep_ms(100);
    }
}

/* The job path under maximum-size submissions: 16 clients submit sort jobs
 * of 1 MiB (no wait) while the worker runs them one by one. A claimed
 * job's arguments hold the budget, so submissions wait (503) rather than
 * pile up parsed beside it. */
START_TEST(test_memory_jobs_under_max_size_load)
{
    server s;
    must_start(&s, "{\"workers\": 1}"); /* max_body_bytes 1 MiB */
    pid_t w = must_worker_pid(&s, 0);
    char *job = sort_job_body(MIB);
    load l = {.s = &s,
              .reqs = {http_request_text("POST", "/v1/jobs", job, "Connection: close\r\n")},
              .nreqs = 1,
              .until_ms = now_ms() + 6000};
    load_measured(&s, w, &l, jobs_drained, BOUND_KIB, AFTER_KIB, "max-size job submissions");
    free(job);
}
END_TEST

/* Runs the job of body to its end (a sort: 1 MB of args, 1 MB of result,
 * 2 MB as an answer); get (getlen bytes) receives its path. */
static void must_finish_job(server *s, const char *body, char *get, size_t getlen)
{
    resp r;
    http_call(s, "POST", "/v1/jobs?wait=120", body, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "state"), "succeeded");
    ck_assert_msg(r.body_len > 2 * MIB - 100, "the job is %zu bytes", r.body_len);
    snprintf(get, getlen, "/v1/jobs/%s", must_str(must_json(&r), "id"));
}

/* Reading a job of 1 MB of args and 1 MB of result, 16 clients at once
 * (the job, the job with ?wait=, a list page with its args and result):
 * each answer is the store's text, never parsed into values. */
START_TEST(test_memory_job_reads_under_load)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    pid_t w = must_worker_pid(&s, 0);
    char *job = sort_job_body(MIB);
    char get[96], wait[112];
    must_finish_job(&s, job, get, sizeof(get));
    snprintf(wait, sizeof(wait), "%s?wait=5", get);
    const char *close_hdr = "Connection: close\r\n";
    load l = {.s = &s,
              .reqs = {http_request_text("GET", get, NULL, close_hdr),
                       http_request_text("GET", wait, NULL, close_hdr),
                       http_request_text("GET", "/v1/jobs?limit=1000&fields=args,result", NULL,
                                         close_hdr)},
              .nreqs = 3,
              .until_ms = now_ms() + 6000};
    load_measured(&s, w, &l, NULL, BOUND_KIB, AFTER_KIB, "reads of a 2 MB job");
    free(job);
}
END_TEST

/* Every kind at once: maximum-size sort calls and sort job submissions,
 * reads of a 2 MB job and list pages with args and results. */
START_TEST(test_memory_mixed_under_max_size_load)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    pid_t w = must_worker_pid(&s, 0);
    char *job = sort_job_body(MIB), *sort = sort_body(MIB);
    char get[96];
    must_finish_job(&s, job, get, sizeof(get));
    const char *close_hdr = "Connection: close\r\n";
    load l = {.s = &s,
              .reqs = {http_request_text("POST", "/v1/fn/sort?timeout_ms=8000", sort, close_hdr),
                       http_request_text("POST", "/v1/jobs", job, close_hdr),
                       http_request_text("GET", get, NULL, close_hdr),
                       http_request_text("GET", "/v1/jobs?limit=1000&fields=args,result", NULL,
                                         close_hdr)},
              .until_ms = now_ms() + 6000};
    load_measured(&s, w, &l, jobs_drained, BOUND_KIB, MIXED_AFTER_KIB,
                  "a mix of everything at maximum size");
    free(sort);
    free(job);
}
END_TEST

static Suite *hostile_suite(void)
{
    Suite *s = suite_create("integration_hostile");
    TCase *tc = harness_tcase("early_close");
    tcase_add_test(tc, test_pipelined_then_gone);
    tcase_add_test(tc, test_abandoned_call_cancelled);
    suite_add_tcase(s, tc);

    tc = harness_tcase("descriptors");
    tcase_add_test(tc, test_out_of_descriptors);
    tcase_add_test(tc, test_nofile_too_low_refused);
    tcase_add_test(tc, test_nofile_raised);
    suite_add_tcase(s, tc);

    tc = harness_tcase("readers");
    tcase_add_test(tc, test_slow_steady_reader);
    suite_add_tcase(s, tc);

    tc = harness_tcase("memory");
    tcase_set_timeout(tc, 300); /* the job path under ASan: sorts of 1 MiB take seconds */
    tcase_add_test(tc, test_body_budget);
    tcase_add_test(tc, test_args_budget);
    tcase_add_test(tc, test_args_budget_claimed_job);
    tcase_add_test(tc, test_memory_under_max_size_load);
    tcase_add_test(tc, test_memory_jobs_under_max_size_load);
    tcase_add_test(tc, test_memory_job_reads_under_load);
    tcase_add_test(tc, test_memory_mixed_under_max_size_load);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(hostile_suite());
}
