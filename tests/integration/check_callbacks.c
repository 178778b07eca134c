/*
 * check_callbacks.c - job callbacks (DESIGN.md section 4) against the real
 * binary: the request and its timestamped signature, retries and giving up,
 * the host:port allow list (empty by default), and that deliveries neither
 * starve the io pool nor pile up without bound (count, bytes, time per
 * attempt, draining).
 *
 * A "silent" receiver is a socket that listens and never accepts: the kernel
 * completes every connection, nothing reads the request, nothing answers,
 * nothing closes; the worst receiver there is. Every wait is bounded, with
 * slack for a loaded 2-CPU machine; timing figures are printed as [info].
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "callback_receiver.h"
#include "harness.h"

/* Jobs sent to a silent receiver in the starvation test (issue 9 item 4). */
#define HUNG_CALLBACKS 16
/* "Quickly" for a 1 ms io call next to them: 9.5 s before the fix. */
#define QUICK_MS 2000

/* The receivers of the running test: freed by the teardown if a test fails
 * before it frees them (under CK_FORK=no the process goes on). */
static callback_receiver *receiver;
static int silent_fd = -1;

static void callbacks_teardown(void)
{
    callback_receiver_free(receiver);
    receiver = NULL;
    if (silent_fd >= 0)
        close(silent_fd);
    silent_fd = -1;
}

static callback_receiver *must_receiver(const int *statuses, int n)
{
    char err[256];
    receiver = callback_receiver_start(statuses, n, err, sizeof(err));
    ck_assert_msg(receiver != NULL, "%s", err);
    return receiver;
}

/* A silent receiver on 127.0.0.1 (see the top); returns its port. */
static int must_silent_receiver(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    silent_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_msg(silent_fd >= 0, "socket() failed: %s", strerror(errno));
    ck_assert_msg(bind(silent_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                      listen(silent_fd, 256) == 0 &&
                      getsockname(silent_fd, (struct sockaddr *)&sa, &len) == 0,
                  "silent receiver on 127.0.0.1:0: %s", strerror(errno));
    return ntohs(sa.sin_port);
}

/* Accepts (and closes) every connection queued at the silent receiver now;
 * returns how many there were. */
static int silent_take_all(void)
{
    int n = 0, fd;
    while ((fd = accept4(silent_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        close(fd);
        n++;
    }
    return n;
}

/* Connections waiting in the silent receiver's accept queue (Linux reports
 * it as tcpi_unacked of a listening socket); none is accepted. */
static int silent_queued(void)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    ck_assert_msg(getsockopt(silent_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0,
                  "getsockopt(TCP_INFO) failed: %s", strerror(errno));
    return (int)ti.tcpi_unacked;
}

/* Starts one worker whose callbacks.allow lists exactly port, on the names
 * 127.0.0.1 and localhost; more is JSON members for "callbacks" (or ""). */
static void must_start_cb(server *s, int port, const char *more)
{
    char cfg[1024];
    snprintf(
        cfg, sizeof(cfg),
        "{\"workers\": 1, \"callbacks\": {\"allow\": [\"127.0.0.1:%d\", \"localhost:%d\"]%s%s}}",
        port, port, more[0] ? ", " : "", more);
    must_start(s, cfg);
}

/* Submits body with ?wait=3; fails unless the job comes back final (200).
 * Returns it (harness-owned). */
static json_t *must_submit_final(server *s, const char *body)
{
    resp r;
    http_call(s, "POST", "/v1/jobs?wait=3", body, &r);
    if (r.status != 200)
        ck_abort_msg("submission not final within 3 s: %s\n%s", body, resp_describe(&r));
    return must_json(&r);
}

/* Submits a fib job whose callback is url; returns its id (harness-owned). */
static const char *must_submit_cb(server *s, const char *url)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"fn\":\"fib\",\"args\":{\"n\":7},\"callback\":\"%s\"}", url);
    return must_str(must_submit_final(s, body), "id");
}

/*
 * Starts a server (must_start_cb, callbacks config more) whose callbacks go
 * to a new silent receiver, and submits n fib jobs with callbacks to its
 * path. Returns the URL (static); ids[0 .. n) get the job ids (ids may be
 * NULL).
 */
static const char *must_start_silent(server *s, const char *more, const char *path, int n,
                                     const char **ids)
{
    static char url[128];
    int port = must_silent_receiver();
    must_start_cb(s, port, more);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    for (int i = 0; i < n; i++) {
        const char *id = must_submit_cb(s, url);
        if (ids)
            ids[i] = id;
    }
    return url;
}

/* Starts a receiver (the global one) answering statuses[0 .. n), then 200,
 * and a server (must_start_cb, callbacks config more); submits one fib job
 * whose callback goes to path there. Returns the job id. */
static const char *must_start_scripted(server *s, const int *statuses, int n, const char *more,
                                       const char *path)
{
    char url[128];
    int port = callback_receiver_port(must_receiver(statuses, n));
    must_start_cb(s, port, more);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    return must_submit_cb(s, url);
}

/* Waits until a delivery has connected to the silent receiver. */
static void must_silent_connected(void)
{
    struct pollfd p = {.fd = silent_fd, .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 5000) == 1, "no delivery connected within 5 s");
}

static const char *header_of(const callback_request *rq, const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    return callback_request_header(rq, name, buf[k], sizeof(buf[k]));
}

/*
 * Checks one callback request as a receiver would: a POST of the final job
 * id to path with the contract's headers, an X-Crunchd-Timestamp within a few
 * seconds of now, and with secret, X-Crunchd-Signature == "sha256=" +
 * HMAC-SHA256(secret, "<timestamp>.<body>") (the test's own HMAC); without
 * secret, no signature. Returns the body as JSON (new reference).
 */
static json_t *must_callback(const callback_request *rq, const char *path, const char *id,
                             const char *secret)
{
    ck_assert_str_eq(rq->method, "POST");
    ck_assert_str_eq(rq->path, path);
    const char *ua = header_of(rq, "User-Agent"), *ct = header_of(rq, "Content-Type");
    ck_assert_msg(ua && strcmp(ua, "crunchd") == 0, "User-Agent %s", ua ? ua : "(none)");
    ck_assert_msg(ct && strncasecmp(ct, "application/json", 16) == 0, "Content-Type %s",
                  ct ? ct : "(none)");
    const char *jid = header_of(rq, "X-Crunchd-Job"), *ts = header_of(rq, "X-Crunchd-Timestamp");
    ck_assert_msg(jid && strcmp(jid, id) == 0, "X-Crunchd-Job %s, want %s", jid ? jid : "(none)",
                  id);
    ck_assert_msg(ts && ts[0] && strspn(ts, "0123456789") == strlen(ts),
                  "X-Crunchd-Timestamp %s, want unix seconds", ts ? ts : "(none)");
    long long age = (long long)time(NULL) - strtoll(ts, NULL, 10);
    ck_assert_msg(age >= -2 && age <= 30, "X-Crunchd-Timestamp %s is %lld s off", ts, age);
    const char *sig = header_of(rq, "X-Crunchd-Signature");
    if (secret) {
        size_t tl = strlen(ts);
        char *msg = malloc(tl + 1 + rq->body_len), hex[65], want[80];
        ck_assert_ptr_nonnull(msg);
        memcpy(msg, ts, tl);
        msg[tl] = '.';
        memcpy(msg + tl + 1, rq->body, rq->body_len);
        hmac_sha256_hex(secret, strlen(secret), msg, tl + 1 + rq->body_len, hex);
        free(msg);
        snprintf(want, sizeof(want), "sha256=%s", hex);
        ck_assert_msg(sig && strcmp(sig, want) == 0,
                      "X-Crunchd-Signature %s, want %s (HMAC of \"%s.\" + the %zu-byte body)",
                      sig ? sig : "(none)", want, ts, rq->body_len);
    } else {
        ck_assert_msg(!sig, "signed (%s) without callbacks.secret", sig);
    }
    json_error_t jerr;
    json_t *j = json_loadb(rq->body, rq->body_len, 0, &jerr);
    ck_assert_msg(j != NULL, "callback body is not JSON (%s): %.300s", jerr.text, rq->body);
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), id);
    return j;
}

/* Reads DIR/crunchd.log (malloc'd, NUL-terminated; "" if missing). */
static char *read_log(const server *s)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/crunchd.log", s->dir);
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0;
    if (!f || getdelim(&buf, &cap, '\0', f) < 0) {
        free(buf);
        buf = strdup("");
    }
    if (f)
        fclose(f);
    ck_assert_ptr_nonnull(buf);
    return buf;
}

/* Lines of the log that hold every one of a and b (b may be NULL). */
static int log_lines_with(const char *log, const char *a, const char *b)
{
    int n = 0;
    for (const char *line = log; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char *copy = strndup(line, len);
        n += copy && strstr(copy, a) && (!b || strstr(copy, b));
        free(copy);
        line += len + (eol != NULL);
    }
    return n;
}

/* Waits up to timeout_ms until the log has at least n lines with a (and b);
 * returns the count then. */
static int wait_log(const server *s, const char *a, const char *b, int n, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        char *log = read_log(s);
        int got = log_lines_with(log, a, b);
        free(log);
        if (got >= n || now_ms() >= deadline)
            return got;
        sleep_ms(50);
    }
}

/* ---- the request ---------------------------------------------------------- */

START_TEST(test_hmac_self_check)
{
    /* RFC 4231 test case 2: the test's own HMAC must be right first. */
    char hex[65];
    const char *data = "what do ya want for nothing?";
    hmac_sha256_hex("Jefe", 4, data, strlen(data), hex);
    ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 test case 6: a key longer than the block. */
    char key[131];
    memset(key, 0xaa, sizeof(key));
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    hmac_sha256_hex(key, sizeof(key), d6, strlen(d6), hex);
    ck_assert_str_eq(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

START_TEST(test_callback_signed)
{
    callback_receiver *cr = must_receiver(NULL, 0);
    int port = callback_receiver_port(cr);
    server s;
    must_start_cb(&s, port, "\"secret\": \"t0p-s3cret\"");
    char body[256];
    snprintf(body, sizeof(body),
             "{\"fn\":\"fib\",\"args\":{\"n\":12},\"callback\":\"http://127.0.0.1:%d/hooks/done\"}",
             port);
    json_t *final = must_submit_final(&s, body);
    const char *id = must_str(final, "id");
    ck_assert_msg(callback_receiver_wait(cr, 1, 5000) >= 1, "no callback within 5 s of job %s", id);
    json_t *j = must_callback(callback_receiver_get(cr, 0), "/hooks/done", id, "t0p-s3cret");
    /* The body is the final job as GET shows it. */
    ck_assert_str_eq(must_str(j, "state"), "succeeded");
    ck_assert_int_eq(must_int(j, "result"), 144);
    ck_assert_str_eq(must_str(j, "finished_at"), must_str(final, "finished_at"));
    json_decref(j);
    /* Delivered once: a 2xx is not retried. */
    sleep_ms(800);
    ck_assert_int_eq(callback_receiver_count(cr), 1);

    /* "localhost:PORT" is listed too; a failed job calls back as well. */
    snprintf(body, sizeof(body),
             "{\"fn\":\"sleep\",\"args\":{\"ms\":5000},\"timeout_ms\":100,"
             "\"callback\":\"http://localhost:%d/h2?job=1\"}",
             port);
    id = must_str(must_submit_final(&s, body), "id");
    ck_assert_msg(callback_receiver_wait(cr, 2, 5000) >= 2, "no callback for failed job %s", id);
    j = must_callback(callback_receiver_get(cr, 1), "/h2?job=1", id, "t0p-s3cret");
    ck_assert_str_eq(must_str(j, "state"), "failed");
    json_decref(j);
}
END_TEST

START_TEST(test_callback_retried)
{
    static const int statuses[] = {500, 503, 200};
    server s;
    const char *id =
        must_start_scripted(&s, statuses, 3, "\"retries\": 3, \"secret\": \"k\"", "/cb");
    callback_receiver *cr = receiver;
    int got = callback_receiver_wait(cr, 3, 6000);
    ck_assert_msg(got >= 3, "%d callback request(s) within 6 s; expected 500, 503, then 200", got);
    const callback_request *r0 = callback_receiver_get(cr, 0), *r1 = callback_receiver_get(cr, 1),
                           *r2 = callback_receiver_get(cr, 2);
    /* Each attempt is stamped and signed on its own. */
    for (int i = 0; i < 3; i++)
        json_decref(must_callback(callback_receiver_get(cr, i), "/cb", id, "k"));
    ck_assert_msg(r0->body_len == r1->body_len && memcmp(r0->body, r1->body, r0->body_len) == 0 &&
                      r1->body_len == r2->body_len && memcmp(r1->body, r2->body, r1->body_len) == 0,
                  "retried callbacks carry different bodies");
    int64_t gap1 = r1->at_ms - r0->at_ms, gap2 = r2->at_ms - r1->at_ms;
    fprintf(stderr, "[info] callback back-off: %lld ms, then %lld ms\n", (long long)gap1,
            (long long)gap2);
    ck_assert_msg(gap1 >= 350 && gap1 < 3000, "first retry after %lld ms (back-off 0.5 s)",
                  (long long)gap1);
    ck_assert_msg(gap2 >= 700 && gap2 < 4000, "second retry after %lld ms (back-off 1 s)",
                  (long long)gap2);
    sleep_ms(1500); /* delivered: no more */
    ck_assert_int_eq(callback_receiver_count(cr), 3);
}
END_TEST

START_TEST(test_callback_gives_up)
{
    static const int statuses[] = {500, 500, 500, 500, 500, 500};
    server s;
    const char *id = must_start_scripted(&s, statuses, 6, "\"retries\": 2", "/always-fails");
    callback_receiver *cr = receiver;
    /* One attempt and 2 retries (about 0.5 + 1 s apart), then nothing. */
    int got = callback_receiver_wait(cr, 3, 6000);
    ck_assert_msg(got == 3, "%d callback request(s) within 6 s, expected 3 (retries 2)", got);
    ck_assert_int_eq(wait_log(&s, id, "failed: HTTP 500 after 3 attempt(s)", 1, 5000), 1);
    sleep_ms(2000);
    ck_assert_int_eq(callback_receiver_count(cr), 3);
}
END_TEST

/* ---- the allow list (issue 9 item 18) ------------------------------------------- */

/* Submits a fib job with callback url; fails unless 400 invalid_args on
 * "callback" whose message holds want. */
static void must_refuse(server *s, const char *url, const char *want)
{
    char body[512];
    resp r;
    snprintf(body, sizeof(body), "{\"fn\":\"fib\",\"callback\":\"%s\"}", url);
    http_call(s, "POST", "/v1/jobs", body, &r);
    must_error(&r, 400, "invalid_args", "callback");
    const char *msg =
        json_string_value(json_object_get(must_get(must_json(&r), "error"), "message"));
    ck_assert_msg(msg && strstr(msg, want), "callback %s refused with \"%s\", want \"%s\"", url,
                  msg ? msg : "(none)", want);
}

START_TEST(test_callback_default_allows_nothing)
{
    /* The built-in default: no callback host at all, not even loopback. */
    callback_receiver *cr = must_receiver(NULL, 0);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", callback_receiver_port(cr));
    server s;
    must_start(&s, "{\"workers\": 1}");
    must_refuse(&s, url, "callbacks.allow is empty");
    must_refuse(&s, "http://localhost/hook", "callbacks.allow is empty");
    resp r;
    http_call(&s, "GET", "/v1/jobs", NULL, &r);
    must_status(&r, 200);
    ck_assert_int_eq(json_array_size(must_get(must_json(&r), "jobs")), 0);
    sleep_ms(300);
    ck_assert_int_eq(callback_receiver_count(cr), 0);
}
END_TEST

START_TEST(test_callback_host_port_refused)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"callbacks\": {\"allow\": [\"127.0.0.1:9\", "
                   "\"hooks.example.org\"]}}");
    char want[128];
    /* Other ports of a listed host:port, other hosts, other spellings. */
    static const char *const unlisted[][2] = {
        {"http://127.0.0.1:10/x", "does not list 127.0.0.1:10"},
        {"http://127.0.0.1/x", "does not list 127.0.0.1:80"},
        {"http://127.0.0.1:22/", "does not list 127.0.0.1:22"},
        {"http://localhost:9/", "does not list localhost:9"},
        {"http://[::1]:9/", "does not list [::1]:9"},
        {"http://hooks.example.org:8080/", "does not list hooks.example.org:8080"},
        {"http://10.0.0.1:9/hook", "does not list 10.0.0.1:9"},
        {"http://169.254.169.254/latest/meta-data", "does not list 169.254.169.254:80"},
        {"http://127.0.0.1.evil.example:9/x", "does not list 127.0.0.1.evil.example:9"},
        {"https://127.0.0.1:9/hook", "https:// is not supported"},
        {"ftp://127.0.0.1:9/x", "only http://"},
        {"not a url", "callback: URL has a control, space"},
    };
    for (size_t i = 0; i < sizeof(unlisted) / sizeof(unlisted[0]); i++)
        must_refuse(&s, unlisted[i][0], unlisted[i][1]);
    resp r;
    http_call(&s, "POST", "/v1/jobs", "{\"fn\":\"fib\",\"callback\":42}", &r);
    must_error(&r, 400, "invalid_args", "callback");
    /* Listed: the exact host:port, and a bare host on 80 and 443. */
    static const char *const listed[] = {"http://127.0.0.1:9/hook", "http://hooks.example.org/x",
                                         "http://HOOKS.example.org:443/x"};
    for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++) {
        snprintf(want, sizeof(want), "{\"fn\":\"fib\",\"callback\":\"%s\"}", listed[i]);
        http_call(&s, "POST", "/v1/jobs", want, &r);
        ck_assert_msg(r.status == 202 || r.status == 200, "callback %s refused:\n%s", listed[i],
                      resp_describe(&r));
    }
}
END_TEST

/* ---- bounds (issue 9 item 4) ------------------------------------------------------- */

START_TEST(test_callback_hung_receiver_no_starvation)
{
    /* 16 callbacks to a receiver that never answers used to hold every io
     * thread for 5 s each: a 1 ms sleep then took 9.5 s. */
    server s;
    must_start_silent(&s, "", "/hook", HUNG_CALLBACKS, NULL);
    sleep_ms(200); /* the deliveries are under way */
    int64_t t0 = now_ms();
    resp r;
    must_call_fn(&s, "sleep", "{\"ms\":1}", &r);
    int64_t took = now_ms() - t0;
    fprintf(stderr, "[info] sleep 1 ms next to %d hung callbacks: %lld ms\n", HUNG_CALLBACKS,
            (long long)took);
    ck_assert_msg(took < QUICK_MS, "sleep {\"ms\":1} took %lld ms next to %d hung callbacks",
                  (long long)took, HUNG_CALLBACKS);
    /* An io job is not held up either: the io lanes are free. */
    t0 = now_ms();
    json_t *j = must_submit_final(&s, "{\"fn\":\"sleep\",\"args\":{\"ms\":1}}");
    ck_assert_str_eq(must_str(j, "state"), "succeeded");
    took = now_ms() - t0;
    ck_assert_msg(took < QUICK_MS, "an io job took %lld ms next to hung callbacks",
                  (long long)took);
}
END_TEST

START_TEST(test_callback_attempt_times_out)
{
    server s;
    const char *id;
    const char *url = must_start_silent(&s, "\"timeout_ms\": 300, \"retries\": 1", "/t", 1, &id);
    /* Two attempts of 300 ms each, about 0.5 s apart, then one warning. */
    char want[160];
    snprintf(want, sizeof(want), "no response from %.*s within 300 ms after 2 attempt(s)",
             (int)(strlen(url) - strlen("http:///t")), url + strlen("http://"));
    ck_assert_msg(wait_log(&s, id, want, 1, 10000) == 1, "no \"%s\" for job %s in the log", want,
                  id);
    ck_assert_int_eq(silent_take_all(), 2);
}
END_TEST

START_TEST(test_callback_max_pending)
{
    /* Deliveries that never end (a silent receiver, a long timeout) fill the
     * two slots; the other three are dropped, one warning each. */
    enum { JOBS = 5, MAX = 2 };
    server s;
    const char *ids[JOBS];
    must_start_silent(&s, "\"max_pending\": 2, \"timeout_ms\": 30000, \"retries\": 0", "/p", JOBS,
                      ids);
    const char *what = "dropped: 2 deliveries pending already (callbacks.max_pending)";
    ck_assert_int_eq(wait_log(&s, what, NULL, JOBS - MAX, 5000), JOBS - MAX);
    char *log = read_log(&s);
    int dropped = 0;
    for (int i = 0; i < JOBS; i++) {
        int n = log_lines_with(log, ids[i], what);
        ck_assert_msg(n <= 1, "job %s dropped %d times", ids[i], n);
        dropped += n;
        /* A dropped callback leaves its job in the store. */
        char path[128];
        resp r;
        snprintf(path, sizeof(path), "/v1/jobs/%s", ids[i]);
        http_call(&s, "GET", path, NULL, &r);
        must_status(&r, 200);
    }
    free(log);
    ck_assert_int_eq(dropped, JOBS - MAX);
    /* Only the two pending ones reached the receiver. */
    int64_t deadline = now_ms() + 5000;
    int conns = 0;
    while (conns < MAX && now_ms() < deadline) {
        conns += silent_take_all();
        sleep_ms(50);
    }
    sleep_ms(300);
    conns += silent_take_all();
    ck_assert_int_eq(conns, MAX);
}
END_TEST

START_TEST(test_callback_max_pending_bytes)
{
    /* Each job object carries 3000 bytes of args: two fit in 8000, a third does not. */
    server s;
    const char *url = must_start_silent(
        &s, "\"max_pending_bytes\": 8000, \"timeout_ms\": 30000, \"retries\": 0", "/b", 0, NULL);
    static char data[3001], body[3300];
    memset(data, 'a', sizeof(data) - 1);
    const char *ids[3];
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof(body),
                 "{\"fn\":\"sha256\",\"args\":{\"data\":\"%s\",\"rounds\":%d},"
                 "\"callback\":\"%s\"}",
                 data, i + 1, url);
        ids[i] = must_str(must_submit_final(&s, body), "id");
    }
    const char *what = "would pass callbacks.max_pending_bytes (8000)";
    ck_assert_int_eq(wait_log(&s, what, NULL, 1, 5000), 1);
    char *log = read_log(&s);
    int dropped = 0;
    for (int i = 0; i < 3; i++)
        dropped += log_lines_with(log, ids[i], what);
    free(log);
    ck_assert_int_eq(dropped, 1);
    sleep_ms(300);
    ck_assert_int_eq(wait_log(&s, what, NULL, 2, 0), 1);
}
END_TEST

START_TEST(test_callback_threads)
{
    /* Five deliveries that never end: callbacks.threads (3) of them connect,
     * the other two wait for a thread. */
    server s;
    must_start_silent(&s, "\"threads\": 3, \"timeout_ms\": 30000, \"retries\": 0", "/c", 5, NULL);
    int64_t deadline = now_ms() + 5000;
    while (silent_queued() < 3 && now_ms() < deadline)
        sleep_ms(20);
    sleep_ms(500);
    ck_assert_int_eq(silent_queued(), 3);
}
END_TEST

/* ---- draining ---------------------------------------------------------------- */

START_TEST(test_callback_drain_waits_for_delivery)
{
    /* QUIT while an attempt is in flight: the worker waits for it... */
    server s;
    must_start_silent(&s, "\"timeout_ms\": 20000, \"retries\": 0", "/d", 1, NULL);
    must_silent_connected();
    must_signal(&s, SIGQUIT);
    sleep_ms(1000);
    ck_assert_msg(server_wait_exit(&s, 0) == -1, "the server exited with a delivery in flight");
    /* ...and ends once it is answered. */
    int fd = accept4(silent_fd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_msg(fd >= 0, "accept() failed: %s", strerror(errno));
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    ck_assert_msg(n > 0, "no request on the callback connection");
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    ck_assert_int_eq(send(fd, ok, strlen(ok), MSG_NOSIGNAL), (ssize_t)strlen(ok));
    int64_t t0 = now_ms();
    int st = server_wait_exit(&s, 4000);
    close(fd);
    ck_assert_msg(st != -1, "the server did not exit within 4 s of the delivery (QUIT)");
    ck_assert_msg(now_ms() - t0 < 1500,
                  "exit %lld ms after the delivery: held by shutdown_timeout_s?",
                  (long long)(now_ms() - t0));
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
    fprintf(stderr, "[info] exit %lld ms after the delivery was answered\n",
            (long long)(now_ms() - t0));
}
END_TEST

START_TEST(test_callback_drain_bounded)
{
    /* A delivery that never ends holds a drain up to shutdown_timeout_s (the
     * harness's 5 s) only. */
    server s;
    must_start_silent(&s, "\"timeout_ms\": 60000", "/d", 1, NULL);
    must_silent_connected();
    int64_t t0 = now_ms();
    must_signal(&s, SIGQUIT);
    int st = server_wait_exit(&s, 10000);
    int64_t took = now_ms() - t0;
    fprintf(stderr, "[info] QUIT with a hung callback: exit after %lld ms\n", (long long)took);
    ck_assert_msg(st != -1, "the server did not exit within 10 s of QUIT (shutdown_timeout_s 5)");
    ck_assert_msg(took >= 4000, "exit %lld ms after QUIT: the delivery was not waited for",
                  (long long)took);
}
END_TEST

static Suite *callbacks_suite(void)
{
    Suite *s = suite_create("callbacks");
    TCase *tc = harness_tcase("request");
    tcase_add_checked_fixture(tc, NULL, callbacks_teardown);
    tcase_add_test(tc, test_hmac_self_check);
    tcase_add_test(tc, test_callback_signed);
    tcase_add_test(tc, test_callback_retried);
    tcase_add_test(tc, test_callback_gives_up);
    suite_add_tcase(s, tc);

    tc = harness_tcase("allow");
    tcase_add_checked_fixture(tc, NULL, callbacks_teardown);
    tcase_add_test(tc, test_callback_default_allows_nothing);
    tcase_add_test(tc, test_callback_host_port_refused);
    suite_add_tcase(s, tc);

    tc = harness_tcase("bounds");
    tcase_add_checked_fixture(tc, NULL, callbacks_teardown);
    tcase_add_test(tc, test_callback_hung_receiver_no_starvation);
    tcase_add_test(tc, test_callback_attempt_times_out);
    tcase_add_test(tc, test_callback_max_pending);
    tcase_add_test(tc, test_callback_max_pending_bytes);
    tcase_add_test(tc, test_callback_threads);
    tcase_add_test(tc, test_callback_drain_waits_for_delivery);
    tcase_add_test(tc, test_callback_drain_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(callbacks_suite());
}
