/*
 * check_callback_post.c - unit tests for callback_post (common/callback.c):
 * one delivery attempt, its request bytes, its signature, the answers it
 * understands, its timeout and its refusals.
 *
 * Deliveries go to a receiver thread in this process listening on 127.0.0.1
 * with an ephemeral port: it records the whole request and answers as its
 * mode says; the test thread checks what it recorded after joining it (Check
 * assertions belong on the test thread).
 */
#include "callback.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define RX_WAIT_MS 10000 /* a receiver gives up after this, so a bug cannot hang the test */

typedef char allow_row[CONFIG_STR];

/* callbacks.allow that lets exactly port through, on the loopback names. */
static const allow_row *allow_for(int port)
{
    static allow_row rows[3];
    snprintf(rows[0], sizeof(rows[0]), "127.0.0.1:%d", port);
    snprintf(rows[1], sizeof(rows[1]), "[::1]:%d", port);
    snprintf(rows[2], sizeof(rows[2]), "localhost:%d", port);
    return rows;
}

/* What a receiver computes: OpenSSL's one-shot HMAC over the text
 * "<ts>.<body>" put together in memory, as "sha256=<hex>" into out. */
static void receiver_sig(const char *key, const char *ts, const char *body, size_t len,
                         char out[CALLBACK_SIG_SIZE])
{
    size_t tl = strlen(ts);
    unsigned char *msg = malloc(tl + 1 + len + 1), mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    ck_assert_ptr_nonnull(msg);
    memcpy(msg, ts, tl);
    msg[tl] = '.';
    if (len)
        memcpy(msg + tl + 1, body, len);
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), key, (int)strlen(key), msg, tl + 1 + len, mac, &maclen));
    ck_assert_uint_eq(maclen, 32);
    strcpy(out, "sha256=");
    for (unsigned int i = 0; i < maclen; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
    free(msg);
}

/* ---- a receiver thread ---- */

typedef enum rx_mode {
    RX_ANSWER, /* read the request, send answer, close */
    RX_SILENT, /* read until the client gives up; never answer */
} rx_mode;

#define ANSWER_204 "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"

typedef struct receiver {
    int lfd;
    int port;
    rx_mode mode;
    const char *answer; /* RX_ANSWER: sent as is ("" = close at once); borrowed */
    pthread_t thread;
    char *req; /* the whole request as read, NUL-terminated; owned */
    size_t req_len;
    size_t head_len; /* bytes up to and including the blank line; 0 = never complete */
    int accepted;    /* connections accepted */
} receiver;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls fd for POLLIN up to RX_WAIT_MS; returns 1 when readable. */
static int rx_wait(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc;
    do
        rc = poll(&p, 1, RX_WAIT_MS);
    while (rc < 0 && errno == EINTR);
    return rc > 0;
}

/* True once the request head and its Content-Length body are in. */
static int rx_complete(receiver *r)
{
    char *end = strstr(r->req, "\r\n\r\n");
    const char *cl;
    if (!end)
        return 0;
    r->head_len = (size_t)(end + 4 - r->req);
    cl = strcasestr(r->req, "\r\nContent-Length: ");
    if (!cl || cl > end)
        return 1;
    return r->req_len >= r->head_len + strtoul(cl + 18, NULL, 10);
}

static void rx_send(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t w = send(fd, s, len, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        len -= (size_t)w;
    }
}

static void *rx_main(void *arg)
{
    receiver *r = arg;
    size_t cap = 4096;
    int fd;
    if (!rx_wait(r->lfd) || (fd = accept(r->lfd, NULL, NULL)) < 0)
        return NULL;
    r->accepted++;
    r->req = malloc(cap);
    r->req[0] = '\0';
    while (r->mode == RX_SILENT || !rx_complete(r)) {
        ssize_t n;
        if (r->req_len + 1 == cap)
            r->req = realloc(r->req, cap *= 2);
        if (!rx_wait(fd) || (n = recv(fd, r->req + r->req_len, cap - r->req_len - 1, 0)) <= 0)
            break;
        r->req_len += (size_t)n;
        r->req[r->req_len] = '\0';
    }
    if (r->mode == RX_SILENT)
        rx_complete(r);
    else
        rx_send(fd, r->answer);
    close(fd);
    return NULL;
}

/* Binds 127.0.0.1:0 (or [::1]:0) and returns the socket with its port, or -1. */
static int bind_loopback(int family, int *port)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*a);
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static void must_start_receiver(receiver *r, int family, rx_mode mode, const char *answer)
{
    *r = (receiver){.mode = mode, .answer = answer};
    r->lfd = bind_loopback(family, &r->port);
    ck_assert_msg(r->lfd >= 0, "cannot bind a loopback socket: %s", strerror(errno));
    ck_assert_msg(listen(r->lfd, 8) == 0, "listen() failed: %s", strerror(errno));
    ck_assert_msg(pthread_create(&r->thread, NULL, rx_main, r) == 0, "pthread_create() failed");
}

static void must_join_receiver(receiver *r)
{
    ck_assert_msg(pthread_join(r->thread, NULL) == 0, "pthread_join() failed");
    close(r->lfd);
}

static void receiver_release(receiver *r)
{
    free(r->req);
    r->req = NULL;
}

/* Parses url and fails the test with the parser's message if it errs. */
static void must_parse(const char *url, callback_url *u)
{
    char err[256] = "";
    ck_assert_msg(callback_parse(url, u, err, sizeof(err)) == 0, "callback_parse(%s): %s", url,
                  err);
}

/* callback_post of body[0 .. len) with callbacks.allow listing u's port on
 * the loopback names (the allow check has its own tests). */
static int post(const callback_url *u, const char *body, size_t len, const char *secret,
                const char *job_id, int timeout_ms, char *err, size_t errlen)
{
    callback_msg m = {.body = body, .len = len, .secret = secret, .job_id = job_id};
    return callback_post(u, allow_for(u->port), 3, &m, timeout_ms, err, errlen);
}

/* The value of header name in the request r received, into out (or NULL). */
static const char *req_header(const receiver *r, const char *name, char *out, size_t outlen)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\r\n%s: ", name);
    const char *v = strstr(r->req, pat);
    if (!v || v > r->req + r->head_len)
        return NULL;
    v += strlen(pat);
    snprintf(out, outlen, "%.*s", (int)strcspn(v, "\r"), v);
    return out;
}

/* ---- deliveries ---- */

START_TEST(test_post_delivers_signed)
{
    static const char body[] = "{\"id\":\"0123abcd\",\"state\":\"succeeded\",\"result\":42}";
    static const char secret[] = "s3cret";
    receiver r;
    callback_url u;
    char url[128], want[1024], sig[CALLBACK_SIG_SIZE], ts[32], err[256] = "";
    int st;
    int64_t before = (int64_t)time(NULL), after, stamp;

    must_start_receiver(&r, AF_INET, RX_ANSWER, ANSWER_204);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/job?src=crunchd&x=%%20", r.port);
    must_parse(url, &u);
    st = post(&u, body, strlen(body), secret, "0123abcd", 5000, err, sizeof(err));
    after = (int64_t)time(NULL);
    must_join_receiver(&r);
    ck_assert_msg(st == 204, "callback_post returned %d: %s", st, err);
    ck_assert_ptr_nonnull(r.req);

    /* Stamped with the time of the attempt, in unix seconds. */
    ck_assert_ptr_nonnull(req_header(&r, "X-Crunchd-Timestamp", ts, sizeof(ts)));
    stamp = strtoll(ts, NULL, 10);
    ck_assert_msg(stamp >= before && stamp <= after, "timestamp %s not in [%lld, %lld]", ts,
                  (long long)before, (long long)after);
    /* The receiver's side: HMAC over "<timestamp>.<body as received>". */
    receiver_sig(secret, ts, r.req + r.head_len, r.req_len - r.head_len, sig);

    /* Exactly the request of callback.h, header by header. */
    snprintf(want, sizeof(want),
             "POST /hooks/job?src=crunchd&x=%%20 HTTP/1.1\r\n"
             "Host: 127.0.0.1:%d\r\n"
             "Content-Type: application/json\r\n"
             "Content-Length: %zu\r\n"
             "User-Agent: crunchd\r\n"
             "Connection: close\r\n"
             "X-Crunchd-Timestamp: %s\r\n"
             "X-Crunchd-Signature: %s\r\n"
             "X-Crunchd-Job: 0123abcd\r\n"
             "\r\n%s",
             r.port, strlen(body), ts, sig, body);
    ck_assert_str_eq(r.req, want);
    receiver_release(&r);
}
END_TEST

START_TEST(test_post_unsigned_no_job_header)
{
    receiver r;
    callback_url u;
    char url[128], want[512], ts[32], err[256] = "";
    int st;
    must_start_receiver(&r, AF_INET, RX_ANSWER, ANSWER_204);
    snprintf(url, sizeof(url), "http://localhost:%d", r.port);
    must_parse(url, &u);
    st = post(&u, "{}", 2, "", NULL, 5000, err, sizeof(err));
    must_join_receiver(&r);
    ck_assert_msg(st == 204, "callback_post returned %d: %s", st, err);
    ck_assert_ptr_nonnull(req_header(&r, "X-Crunchd-Timestamp", ts, sizeof(ts)));
    snprintf(want, sizeof(want),
             "POST / HTTP/1.1\r\nHost: localhost:%d\r\nContent-Type: application/json\r\n"
             "Content-Length: 2\r\nUser-Agent: crunchd\r\nConnection: close\r\n"
             "X-Crunchd-Timestamp: %s\r\n\r\n{}",
             r.port, ts);
    ck_assert_str_eq(r.req, want); /* no signature, no job id */
    receiver_release(&r);
}
END_TEST

START_TEST(test_post_large_body)
{
    /* Larger than the socket buffers: sendmsg() returns short counts. */
    enum { N = 8 * 1024 * 1024 };
    char *body = malloc(N);
    receiver r;
    callback_url u;
    char url[128], err[256] = "";
    int st;
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < N; i++)
        body[i] = (char)('a' + i % 26);
    must_start_receiver(&r, AF_INET, RX_ANSWER, ANSWER_204);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", r.port);
    must_parse(url, &u);
    st = post(&u, body, N, "k", "j", 20000, err, sizeof(err)); /* signed: the MAC streams it */
    must_join_receiver(&r);
    ck_assert_msg(st == 204, "callback_post returned %d: %s", st, err);
    ck_assert_uint_eq(r.req_len - r.head_len, N);
    ck_assert_int_eq(memcmp(r.req + r.head_len, body, N), 0);
    receiver_release(&r);
    free(body);
}
END_TEST

START_TEST(test_post_ipv6)
{
    receiver r;
    callback_url u;
    char url[128], err[256] = "";
    int st, probe_port, probe = bind_loopback(AF_INET6, &probe_port);
    if (probe < 0)
        return; /* no IPv6 loopback here: nothing to test */
    close(probe);
    must_start_receiver(&r, AF_INET6, RX_ANSWER, ANSWER_204);
    snprintf(url, sizeof(url), "http://[::1]:%d/v6", r.port);
    must_parse(url, &u);
    st = post(&u, "{}", 2, NULL, NULL, 5000, err, sizeof(err));
    must_join_receiver(&r);
    ck_assert_msg(st == 204, "callback_post returned %d: %s", st, err);
    ck_assert_ptr_nonnull(strstr(r.req, "\r\nHost: [::1]:"));
    receiver_release(&r);
}
END_TEST

/* Runs one POST to a receiver; returns the status, err filled. */
static int post_to(rx_mode mode, const char *answer, int timeout_ms, char *err, size_t errlen,
                   receiver *r)
{
    callback_url u;
    char url[128];
    int st;
    must_start_receiver(r, AF_INET, mode, answer);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/h", r->port);
    must_parse(url, &u);
    st = post(&u, "{\"a\":1}", 7, NULL, NULL, timeout_ms, err, errlen);
    must_join_receiver(r);
    return st;
}

typedef struct answer_case {
    const char *answer;
    int want;             /* the status, or -1 */
    const char *want_err; /* with -1: err after "callback: 127.0.0.1:PORT " */
} answer_case;

static char long_answer[5000];

static const answer_case answer_cases[] = {
    {ANSWER_204, 204, NULL},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, NULL},
    {"HTTP/1.0 202 Accepted\r\n\r\n", 202, NULL},
    {"HTTP/1.1 200\r\n\r\n", 200, NULL},
    {"HTTP/1.1 204 No Content\n\n", 204, NULL},
    {"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", 302, NULL},
    {"HTTP/1.1 404 Not Found\r\n\r\n", 404, NULL},
    {"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", 500, NULL},
    {"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\r\n", 503, NULL},
    {"HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\nHTTP/1.1 201 Created\r\n\r\n", 201, NULL},
    {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
     "HTTP/1.1 200 OK\r\n\r\n",
     200, NULL},
    {"HTTP/1.1 100 Continue\n\nHTTP/1.1 204 No Content\n\n", 204, NULL},
    {"HTTP/1.1 101 Switching Protocols\r\n\r\n", 101, NULL},
    {"HTTP/1.1 100 Continue\r\n\r\n", -1, "closed the connection before a status line"},
    {"", -1, "closed the connection before a status line"},
    {"HTTP/1.1 20", -1, "closed the connection before a status line"},
    {"SSH-2.0-OpenSSH_9.2\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/1.1 999 Weird\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/1.1 099 Low\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/1.1 20 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/1.1 2000 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/1.1 2x0 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"http/1.1 200 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/11 200 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"\r\nHTTP/1.1 200 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {long_answer, -1, "response head too long"},
};

START_TEST(test_post_answers)
{
    const answer_case *c = &answer_cases[_i];
    receiver r;
    char err[256] = "", want[256];
    int st;
    memset(long_answer, 'x', sizeof(long_answer) - 1);
    st = post_to(RX_ANSWER, c->answer, 5000, err, sizeof(err), &r);
    ck_assert_msg(st == c->want, "answer %d: got %d (%s), want %d", _i, st, err, c->want);
    ck_assert_ptr_nonnull(r.req);
    ck_assert_ptr_nonnull(strstr(r.req, "\r\n\r\n{\"a\":1}"));
    if (c->want_err) {
        if (strcmp(c->want_err, "response head too long") == 0)
            snprintf(want, sizeof(want), "callback: response head from 127.0.0.1:%d too long",
                     r.port);
        else
            snprintf(want, sizeof(want), "callback: 127.0.0.1:%d %s", r.port, c->want_err);
        ck_assert_str_eq(err, want);
    }
    receiver_release(&r);
}
END_TEST

START_TEST(test_post_timeout)
{
    receiver r;
    char err[256] = "", want[256];
    int64_t t0 = mono_ms(), took;
    ck_assert_int_eq(post_to(RX_SILENT, NULL, 300, err, sizeof(err), &r), -1);
    took = mono_ms() - t0;
    snprintf(want, sizeof(want), "callback: no response from 127.0.0.1:%d within 300 ms", r.port);
    ck_assert_str_eq(err, want);
    ck_assert_msg(took >= 290 && took < 2000, "timed out after %lld ms, want ~300",
                  (long long)took);
    ck_assert_uint_gt(r.head_len, 0); /* the request did arrive whole */
    receiver_release(&r);
}
END_TEST

START_TEST(test_post_refused)
{
    /* A bound socket that does not listen: its port refuses, and nobody else
     * can take it during the test. */
    callback_url u;
    char url[128], err[256] = "", want[256];
    int port, fd = bind_loopback(AF_INET, &port), st;
    int64_t t0;
    ck_assert_msg(fd >= 0, "cannot bind a loopback socket: %s", strerror(errno));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    must_parse(url, &u);
    t0 = mono_ms();
    st = post(&u, "{}", 2, NULL, NULL, 5000, err, sizeof(err));
    ck_assert_int_eq(st, -1);
    ck_assert_msg(mono_ms() - t0 < 1000, "refusal took %lld ms", (long long)(mono_ms() - t0));
    snprintf(want, sizeof(want), "callback: connect() to 127.0.0.1:%d failed: %s", port,
             strerror(ECONNREFUSED));
    ck_assert_str_eq(err, want);
    close(fd);
}
END_TEST

START_TEST(test_post_rechecks_allow)
{
    /* Allowed at submission, but the list no longer has its host:port: no
     * connection. A bare host allows ports 80 and 443, not the receiver's. */
    static const allow_row narrow[] = {"127.0.0.1", "localhost:1"};
    receiver r;
    callback_url u;
    char url[128], err[256] = "", want[128];
    struct pollfd p;
    callback_msg m = {.body = "{}", .len = 2};
    must_start_receiver(&r, AF_INET, RX_ANSWER, ANSWER_204);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", r.port);
    must_parse(url, &u);
    ck_assert_int_eq(callback_post(&u, narrow, 2, &m, 5000, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "callback: callbacks.allow does not list 127.0.0.1:%d", r.port);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(callback_post(&u, allow_for(r.port), 0, &m, 5000, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callback: callbacks.allow is empty, so this server sends no callbacks");
    p = (struct pollfd){.fd = r.lfd, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 100), 0); /* nobody connected */
    /* Now let the receiver finish with one allowed delivery. */
    ck_assert_int_eq(callback_post(&u, allow_for(r.port), 3, &m, 5000, err, sizeof(err)), 204);
    must_join_receiver(&r);
    ck_assert_int_eq(r.accepted, 1);
    receiver_release(&r);
}
END_TEST

START_TEST(test_post_rejects_header_injection)
{
    callback_url u;
    char err[256] = "";
    must_parse("http://127.0.0.1:9/", &u);
    ck_assert_int_eq(post(&u, "{}", 2, NULL, "a\r\nX-Evil: 1", 5000, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callback: job id is not a header-safe token");
    ck_assert_int_eq(post(&u, "{}", 2, NULL, NULL, 0, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callback: timeout must be positive");
    /* A hand-made URL cannot smuggle a header in through the path or Host. */
    strcpy(u.path, "/x HTTP/1.1\r\nX-Evil: 1\r\n");
    ck_assert_int_eq(post(&u, "{}", 2, NULL, NULL, 5000, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callback: URL does not come from callback_parse()");
    must_parse("http://127.0.0.1:9/", &u);
    strcpy(u.hostport, "127.0.0.1\r\nX-Evil: 1");
    ck_assert_int_eq(post(&u, "{}", 2, NULL, NULL, 5000, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callback: URL does not come from callback_parse()");
}
END_TEST

static Suite *callback_post_suite(void)
{
    Suite *s = suite_create("callback_post");
    TCase *td = tcase_create("post");
    tcase_set_timeout(td, 60);
    tcase_add_test(td, test_post_delivers_signed);
    tcase_add_test(td, test_post_unsigned_no_job_header);
    tcase_add_test(td, test_post_large_body);
    tcase_add_test(td, test_post_ipv6);
    tcase_add_loop_test(td, test_post_answers, 0, (int)NELEM(answer_cases));
    tcase_add_test(td, test_post_timeout);
    tcase_add_test(td, test_post_refused);
    tcase_add_test(td, test_post_rechecks_allow);
    tcase_add_test(td, test_post_rejects_header_injection);
    suite_add_tcase(s, td);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(callback_post_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
