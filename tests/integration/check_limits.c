/*
 * check_limits.c - the "limits" of the config hold against a hostile client:
 * oversize heads (431) and bodies (413, also chunked), slow clients
 * (read_timeout_s -> 408 or close), idle keep-alives (keepalive_timeout_s),
 * max_connections per worker (503 busy).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* The sweep runs once a second: a timeout of T s fires by T + 1.5 s; add
 * scheduling slack on a loaded machine. */
#define SWEEP_SLACK_MS 1500
#define SLACK_MS 700

static char *repeat(char ch, size_t n)
{
    char *p = malloc(n + 1);
    ck_assert(p != NULL);
    memset(p, ch, n);
    p[n] = '\0';
    return p;
}

/* ---- 431 --------------------------------------------------------------- */

START_TEST(test_header_too_large)
{
    server s;
    must_start(&s, "{\"limits\": {\"max_header_bytes\": 1024}}");
    char *pad = repeat('a', 2000);
    char req[4096];
    resp r;

    /* One big header. */
    snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", pad);
    http_call_raw(&s, req, strlen(req), &r);
    must_error(&r, 431, "headers_too_large", NULL);

    /* Many small ones. */
    strcpy(req, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 100; i++)
        snprintf(req + strlen(req), sizeof(req) - strlen(req), "X-H%d: 0123456789\r\n", i);
    strcat(req, "\r\n");
    http_call_raw(&s, req, strlen(req), &r);
    must_error(&r, 431, "headers_too_large", NULL);

    /* A head under the limit is fine. */
    char *small = repeat('b', 500);
    snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", small);
    http_call_raw(&s, req, strlen(req), &r);
    must_status(&r, 200);
    free(small);
    free(pad);
}
END_TEST

START_TEST(test_header_too_large_unterminated)
{
    server s;
    must_start(&s, "{\"limits\": {\"max_header_bytes\": 1024}}");
    /* A head that never ends: the 431 must come without waiting for it (or
     * for read_timeout_s, 30 s by default). */
    char *pad = repeat('a', 3000);
    int fd = must_connect(&s);
    must_send_str(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    int64_t t0 = now_ms();
    try_send(fd, pad, strlen(pad));
    resp r;
    ck_assert_msg(must_read_response(fd, &r) != 0, "connection closed without a 431");
    must_error(&r, 431, "headers_too_large", NULL);
    ck_assert_msg(now_ms() - t0 < 2000, "431 took %lld ms", (long long)(now_ms() - t0));
    must_be_closed(fd, 2000, "after 431");
    close(fd);
    free(pad);
}
END_TEST

START_TEST(test_request_line_too_large)
{
    server s;
    must_start(&s, "{\"limits\": {\"max_header_bytes\": 1024}}");
    char *path = repeat('p', 3000);
    char req[4096];
    snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    resp r;
    http_call_raw(&s, req, strlen(req), &r);
    ck_assert_msg(r.status == 431 || r.status == 414, "3000-byte request line:\n%s",
                  resp_describe(&r));
    must_json(&r);
    free(path);
}
END_TEST

/* ---- 413 ----------------------------------------------------------------- */

START_TEST(test_body_too_large_content_length)
{
    server s;
    must_start(&s, "{\"limits\": {\"max_body_bytes\": 1024}}");
    /* Only the head is sent: the reply must come without the body. */
    int fd = must_connect(&s);
    int64_t t0 = now_ms();
    must_send_str(fd, "POST /v1/fn/sort HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 100000\r\n\r\n");
    resp r;
    ck_assert_msg(must_read_response(fd, &r) != 0, "connection closed without a 413");
    must_error(&r, 413, "payload_too_large", NULL);
    ck_assert_msg(now_ms() - t0 < 2000, "413 took %lld ms", (long long)(now_ms() - t0));
    must_be_closed(fd, 2000, "after 413");
    close(fd);

    /* One byte over. */
    fd = must_connect(&s);
    must_send_str(fd, "POST /v1/fn/sha256 HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n");
    ck_assert_msg(must_read_response(fd, &r) != 0, "connection closed without a 413");
    must_error(&r, 413, "payload_too_large", NULL);
    close(fd);
}
END_TEST

START_TEST(test_body_too_large_body_sent)
{
    server s;
    must_start(&s, "{\"limits\": {\"max_body_bytes\": 1024}}");
    /* What curl does: head and body in one go. The 413 must reach the
     * client even though the server does not read the body (no reset that
     * destroys the reply). */
    size_t n = 64 * 1024;
    char *body = repeat('a', n);
    memcpy(body, "{\"data\":\"", 9);
    memcpy(body + n - 2, "\"}", 2);
    char head[256];
    snprintf(head, sizeof(head),
             "POST /v1/fn/sha256 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n",
             n);
    for (int i = 0; i < 5; i++) {
        int fd = must_connect(&s);
        must_send_str(fd, head);
        try_send(fd, body, n); /* may fail once the server has closed */
        resp r;
        char err[256];
        int st = read_response(fd, &r, 0, err, sizeof(err));
        ck_assert_msg(st > 0, "attempt %d: the 413 was lost (%s)", i + 1,
                      st == 0 ? "connection closed or reset before any byte" : err);
        must_error(&r, 413, "payload_too_large", NULL);
        close(fd);
    }
    free(body);
}
END_TEST

START_TEST(test_body_at_limit)
{
    server s;
    must_start(&s, "{\"limits\": {\"max_body_bytes\": 1024}}");
    /* {"data":"aaa...a"} of exactly 1024 bytes is accepted. */
    char *a = repeat('a', 1024 - strlen("{\"data\":\"\"}"));
    char body[1100];
    snprintf(body, sizeof(body), "{\"data\":\"%s\"}", a);
    ck_assert_int_eq(strlen(body), 1024);
    resp r;
    must_call_fn(&s, "sha256", body, &r);
    /* Also chunked. */
    char req[2048];
    snprintf(req, sizeof(req),
             "POST /v1/fn/sha256 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "200\r\n%.512s\r\n200\r\n%s\r\n0\r\n\r\n",
             body, body + 512);
    http_call_raw(&s, req, strlen(req), &r);
    must_status(&r, 200);
    free(a);
}
END_TEST

START_TEST(test_body_too_large_chunked)
{
    server s;
    must_start(&s, "{\"limits\": {\"max_body_bytes\": 1024}}");
    char *data = repeat('a', 300);
    /* Five chunks of 300 bytes and no last chunk: the server has more than
     * it may take and must answer without waiting for the end. */
    char req[4096] = "POST /v1/fn/sha256 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 5; i++)
        snprintf(req + strlen(req), sizeof(req) - strlen(req), "12c\r\n%s\r\n", data);
    int fd = must_connect(&s);
    int64_t t0 = now_ms();
    must_send_str(fd, req);
    resp r;
    ck_assert_msg(must_read_response(fd, &r) != 0, "connection closed without a 413");
    must_error(&r, 413, "payload_too_large", NULL);
    ck_assert_msg(now_ms() - t0 < 2000, "413 took %lld ms", (long long)(now_ms() - t0));
    must_be_closed(fd, 2000, "after a chunked 413");
    close(fd);
    free(data);
}
END_TEST

START_TEST(test_body_too_large_one_chunk)
{
    server s;
    must_start(&s, "{\"limits\": {\"max_body_bytes\": 1024}}");
    /* One chunk that announces 1 MiB: refused on its size line, without
     * reading (or waiting for) the data. */
    int fd = must_connect(&s);
    must_send_str(fd, "POST /v1/fn/sha256 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "100000\r\n{\"data\":\"aaaaaaaaaa");
    resp r;
    ck_assert_msg(must_read_response(fd, &r) != 0, "connection closed without a 413");
    must_error(&r, 413, "payload_too_large", NULL);
    close(fd);
}
END_TEST

/* ---- slow clients ---------------------------------------------------------- */

/*
 * Sends `data` one byte every 200 ms until the server answers or closes;
 * returns the status read (408 expected) or 0 if it closed without a reply,
 * and the ms it took in *took. Fails if the server still waits after 6 s.
 */
static int trickle(int fd, const char *data, int64_t *took)
{
    int64_t t0 = now_ms();
    size_t n = strlen(data);
    for (size_t i = 0;; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 0) > 0 || (i < n && try_send(fd, data + i, 1) < 0))
            break;
        ck_assert_msg(now_ms() - t0 < 6000,
                      "the server still reads a client that trickles 1 byte per 200 ms after "
                      "%lld ms (read_timeout_s is 1)",
                      (long long)(now_ms() - t0));
        sleep_ms(200);
    }
    resp r;
    char err[256];
    int st = read_response(fd, &r, 0, err, sizeof(err));
    *took = now_ms() - t0;
    if (st > 0)
        must_error(&r, 408, "request_timeout", NULL);
    return st < 0 ? 0 : st; /* a reset may also lose the reply */
}

START_TEST(test_slow_head)
{
    server s;
    must_start(&s, "{\"limits\": {\"read_timeout_s\": 1}}");
    int fd = must_connect(&s);
    int64_t took;
    char head[512] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for (int i = 0; i < 60; i++)
        strcat(head, "a");
    strcat(head, "\r\n\r\n");
    trickle(fd, head, &took);
    /* Cut off, not served: the whole head would take 12 s to trickle in. */
    ck_assert_msg(took >= 900 && took <= 5000,
                  "slow head cut off after %lld ms (read_timeout_s 1)", (long long)took);
    must_be_closed(fd, 2000, "slow head");
    close(fd);
}
END_TEST

START_TEST(test_slow_body)
{
    server s;
    must_start(&s, "{\"limits\": {\"read_timeout_s\": 1}}");
    int fd = must_connect(&s);
    must_send_str(fd, "POST /v1/fn/sha256 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
    int64_t took;
    char body[128] = "{\"data\":\"";
    while (strlen(body) < 98)
        strcat(body, "a");
    strcat(body, "\"}");
    trickle(fd, body, &took);
    ck_assert_msg(took <= 5000, "slow body cut off after %lld ms (read_timeout_s 1)",
                  (long long)took);
    must_be_closed(fd, 2000, "slow body");
    close(fd);
}
END_TEST

START_TEST(test_incomplete_head_408)
{
    server s;
    must_start(&s, "{\"limits\": {\"read_timeout_s\": 1}}");
    int fd = must_connect(&s);
    set_recv_timeout(fd, 1000 + SWEEP_SLACK_MS + 2 * SLACK_MS);
    int64_t t0 = now_ms();
    must_send_str(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    resp r;
    ck_assert_msg(must_read_response(fd, &r) != 0,
                  "incomplete head: connection closed without a 408");
    must_error(&r, 408, "request_timeout", NULL);
    int64_t took = now_ms() - t0;
    ck_assert_msg(took >= 900, "408 after only %lld ms", (long long)took);
    must_be_closed(fd, 2000, "after 408");
    close(fd);
}
END_TEST

START_TEST(test_incomplete_body_408)
{
    server s;
    must_start(&s, "{\"limits\": {\"read_timeout_s\": 1}}");
    int fd = must_connect(&s);
    set_recv_timeout(fd, 1000 + SWEEP_SLACK_MS + 2 * SLACK_MS);
    must_send_str(fd, "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n{\"n\"");
    resp r;
    ck_assert_msg(must_read_response(fd, &r) != 0,
                  "incomplete body: connection closed without a 408");
    must_error(&r, 408, "request_timeout", NULL);
    must_be_closed(fd, 2000, "after 408");
    close(fd);

    /* Same with a chunked body that stops half-way. */
    fd = must_connect(&s);
    set_recv_timeout(fd, 1000 + SWEEP_SLACK_MS + 2 * SLACK_MS);
    must_send_str(fd, "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "8\r\n{\"n\":10}\r\n");
    ck_assert_msg(must_read_response(fd, &r) != 0,
                  "incomplete chunked body: connection closed without a 408");
    must_error(&r, 408, "request_timeout", NULL);
    must_be_closed(fd, 2000, "after 408");
    close(fd);
}
END_TEST

START_TEST(test_silent_connection_closed)
{
    server s;
    must_start(&s, "{\"limits\": {\"read_timeout_s\": 1, \"keepalive_timeout_s\": 1}}");
    /* A connection that never sends a byte does not stay open forever. */
    int fd = must_connect(&s);
    int r = wait_closed(fd, 1000 + SWEEP_SLACK_MS + SLACK_MS);
    ck_assert_msg(r != 0, "a silent connection is still open after %d ms",
                  1000 + SWEEP_SLACK_MS + SLACK_MS);
    close(fd);
}
END_TEST

/* ---- keep-alive timeout ------------------------------------------------------ */

START_TEST(test_keepalive_timeout)
{
    server s;
    must_start(&s, "{\"limits\": {\"keepalive_timeout_s\": 1, \"read_timeout_s\": 10}}");
    int fd = must_connect(&s);
    resp r;
    must_send_str(fd, http_request_text("GET", "/healthz", NULL, NULL));
    must_read_response(fd, &r);
    must_status(&r, 200);
    int64_t t0 = now_ms();
    int closed = wait_closed(fd, 1000 + SWEEP_SLACK_MS + SLACK_MS);
    int64_t took = now_ms() - t0;
    ck_assert_msg(closed == 1,
                  "idle keep-alive connection %s after %lld ms (keepalive_timeout_s 1)",
                  closed == 0 ? "still open" : "got data", (long long)took);
    ck_assert_msg(took >= 500, "idle keep-alive connection closed after only %lld ms",
                  (long long)took);
    close(fd);
}
END_TEST

START_TEST(test_keepalive_active_not_closed)
{
    server s;
    must_start(&s, "{\"limits\": {\"keepalive_timeout_s\": 1, \"read_timeout_s\": 10}}");
    int fd = must_connect(&s);
    resp r;
    /* A request every 300 ms for 3 s: the idle timer restarts each time. */
    int64_t t0 = now_ms();
    while (now_ms() - t0 < 3000) {
        must_send_str(fd, http_request_text("GET", "/healthz", NULL, NULL));
        ck_assert_msg(must_read_response(fd, &r) == 200,
                      "active keep-alive connection closed after %lld ms",
                      (long long)(now_ms() - t0));
        sleep_ms(300);
    }
    close(fd);
}
END_TEST

/* ---- max_connections --------------------------------------------------------- */

static void must_healthz_on(int fd, const char *what)
{
    resp r;
    must_send_str(fd, http_request_text("GET", "/healthz", NULL, NULL));
    ck_assert_msg(must_read_response(fd, &r) == 200, "%s: closed instead of 200", what);
    must_status(&r, 200);
}

START_TEST(test_max_connections)
{
    server s;
    must_start(&s, "{\"workers\": 1, \"limits\": {\"max_connections\": 2}}");
    int c1 = must_connect(&s), c2 = must_connect(&s);
    must_healthz_on(c1, "first connection");
    must_healthz_on(c2, "second connection");

    /* The third gets 503 busy and is closed. */
    int c3 = must_connect(&s);
    resp r;
    const char *req = http_request_text("GET", "/healthz", NULL, NULL);
    try_send(c3, req, strlen(req)); /* the reply may come before, and close after */
    int st = must_read_response(c3, &r);
    ck_assert_msg(st != 0, "third connection closed without a 503 busy");
    must_error(&r, 503, "busy", NULL);
    must_be_closed(c3, 2000, "the connection over max_connections");
    close(c3);

    /* The first two are unharmed. */
    must_healthz_on(c1, "first connection after the refusal");
    must_healthz_on(c2, "second connection after the refusal");

    /* Once one closes, a new connection is served again. */
    close(c1);
    int64_t deadline = now_ms() + 3000;
    for (;;) {
        int c4 = must_connect(&s);
        must_send_str(c4, http_request_text("GET", "/healthz", NULL, NULL));
        st = must_read_response(c4, &r);
        close(c4);
        if (st == 200)
            break;
        ck_assert_msg(now_ms() < deadline, "still refused 3 s after a connection closed:\n%s",
                      resp_describe(&r));
        sleep_ms(50);
    }
    must_healthz_on(c2, "second connection at the end");
    close(c2);
}
END_TEST

static Suite *limits_suite(void)
{
    Suite *s = suite_create("integration_limits");
    TCase *tc = harness_tcase("head");
    tcase_add_test(tc, test_header_too_large);
    tcase_add_test(tc, test_header_too_large_unterminated);
    tcase_add_test(tc, test_request_line_too_large);
    suite_add_tcase(s, tc);

    tc = harness_tcase("body");
    tcase_add_test(tc, test_body_too_large_content_length);
    tcase_add_test(tc, test_body_too_large_body_sent);
    tcase_add_test(tc, test_body_at_limit);
    tcase_add_test(tc, test_body_too_large_chunked);
    tcase_add_test(tc, test_body_too_large_one_chunk);
    suite_add_tcase(s, tc);

    tc = harness_tcase("timeouts");
    tcase_add_test(tc, test_slow_head);
    tcase_add_test(tc, test_slow_body);
    tcase_add_test(tc, test_incomplete_head_408);
    tcase_add_test(tc, test_incomplete_body_408);
    tcase_add_test(tc, test_silent_connection_closed);
    tcase_add_test(tc, test_keepalive_timeout);
    tcase_add_test(tc, test_keepalive_active_not_closed);
    suite_add_tcase(s, tc);

    tc = harness_tcase("connections");
    tcase_add_test(tc, test_max_connections);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(limits_suite());
}
