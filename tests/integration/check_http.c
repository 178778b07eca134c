/*
 * check_http.c - the HTTP/1.1 layer of the real server over raw sockets:
 * keep-alive and Connection, HTTP/1.0, pipelining, chunked request bodies,
 * Expect: 100-continue, HEAD, malformed requests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define FIB10 "{\"n\":10}"

static const char *healthz_req(const char *version, const char *extra)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "GET /healthz %s\r\nHost: 127.0.0.1\r\n%s\r\n", version,
             extra ? extra : "");
    return buf;
}

static void must_healthz(resp *r)
{
    must_status(r, 200);
    ck_assert_str_eq(must_str(must_json(r), "status"), "ok");
}

/* ---- keep-alive and Connection ------------------------------------------ */

START_TEST(test_keepalive_default)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    resp r;
    for (int i = 0; i < 3; i++) {
        must_send_str(fd, http_request_text("GET", "/healthz", NULL, NULL));
        ck_assert_int_eq(must_read_response(fd, &r), 200);
        ck_assert_int_eq(r.minor, 1);
        ck_assert_msg(!resp_header(&r, "Connection") ||
                          strcasecmp(resp_header(&r, "Connection"), "close") != 0,
                      "HTTP/1.1 reply closes the connection:\n%s", resp_describe(&r));
        must_healthz(&r);
    }
    must_send_str(fd, http_request_text("POST", "/v1/fn/fib", FIB10, NULL));
    must_read_response(fd, &r);
    must_status(&r, 200);
    ck_assert_int_eq(must_int(must_json(&r), "result"), 55);
    ck_assert_int_eq(wait_closed(fd, 200), 0);
    close(fd);
}
END_TEST

START_TEST(test_connection_close)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    resp r;
    must_send_str(fd, http_request_text("GET", "/healthz", NULL, "Connection: close\r\n"));
    must_read_response(fd, &r);
    must_healthz(&r);
    must_header(&r, "Connection", "close");
    must_be_closed(fd, 2000, "after Connection: close");
    close(fd);
}
END_TEST

START_TEST(test_connection_close_on_post)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    resp r;
    must_send_str(fd, http_request_text("POST", "/v1/fn/fib", FIB10, "Connection: close\r\n"));
    must_read_response(fd, &r);
    must_status(&r, 200);
    ck_assert_int_eq(must_int(must_json(&r), "result"), 55);
    must_header(&r, "Connection", "close");
    must_be_closed(fd, 2000, "after Connection: close on a POST");
    close(fd);
}
END_TEST

START_TEST(test_http10_closes)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    resp r;
    must_send_str(fd, healthz_req("HTTP/1.0", NULL));
    must_read_response(fd, &r);
    must_healthz(&r);
    ck_assert_msg(!resp_header(&r, "Connection") ||
                      strcasecmp(resp_header(&r, "Connection"), "keep-alive") != 0,
                  "HTTP/1.0 without keep-alive got Connection: keep-alive:\n%s", resp_describe(&r));
    must_be_closed(fd, 2000, "HTTP/1.0 request without Connection: keep-alive");
    close(fd);
}
END_TEST

START_TEST(test_http10_keepalive)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    resp r;
    for (int i = 0; i < 2; i++) {
        must_send_str(fd, healthz_req("HTTP/1.0", "Connection: keep-alive\r\n"));
        must_read_response(fd, &r);
        must_healthz(&r);
        must_header(&r, "Connection", "keep-alive");
    }
    ck_assert_int_eq(wait_closed(fd, 200), 0);
    /* The last one without keep-alive: closed after it. */
    must_send_str(fd, healthz_req("HTTP/1.0", NULL));
    must_read_response(fd, &r);
    must_healthz(&r);
    must_be_closed(fd, 2000, "HTTP/1.0 after keep-alive requests");
    close(fd);
}
END_TEST

/* ---- pipelining ------------------------------------------------------- */

START_TEST(test_pipelining_in_order)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    char all[16384] = "";
    /* fib(1..20) and healthz alternating, in one write. */
    for (int n = 1; n <= 20; n++) {
        char body[32];
        snprintf(body, sizeof(body), "{\"n\":%d}", n);
        strcat(all, http_request_text("POST", "/v1/fn/fib", body, NULL));
        strcat(all, http_request_text("GET", "/healthz", NULL, NULL));
    }
    must_send(fd, all, strlen(all));
    long long a = 0, b = 1;
    for (int n = 1; n <= 20; n++) {
        resp r;
        long long t = a + b;
        a = b;
        b = t;
        must_read_response(fd, &r);
        must_status(&r, 200);
        ck_assert_msg(must_int(must_json(&r), "result") == a, "reply %d: fib(%d) is %lld, got:\n%s",
                      2 * n - 1, n, a, resp_describe(&r));
        must_read_response(fd, &r);
        must_healthz(&r);
    }
    close(fd);
}
END_TEST

START_TEST(test_pipelining_mixed_routes)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    char all[4096];
    snprintf(all, sizeof(all), "%s%s%s%s", http_request_text("GET", "/v1/functions", NULL, NULL),
             http_request_text("HEAD", "/healthz", NULL, NULL),
             http_request_text("GET", "/nope", NULL, NULL),
             http_request_text("POST", "/v1/fn/sha256", "{\"data\":\"abc\"}", NULL));
    must_send(fd, all, strlen(all));
    resp r;
    must_read_response(fd, &r);
    must_status(&r, 200);
    ck_assert(json_is_array(must_get(must_json(&r), "functions")));
    must_read_response_flags(fd, &r, RESP_NO_BODY);
    must_status(&r, 200);
    must_read_response(fd, &r);
    must_error(&r, 404, "not_found", NULL);
    must_read_response(fd, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "result"),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    close(fd);
}
END_TEST

START_TEST(test_pipelining_slow_first)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    char all[2048];
    snprintf(all, sizeof(all), "%s%s",
             http_request_text("POST", "/v1/fn/sleep", "{\"ms\":400}", NULL),
             http_request_text("GET", "/healthz", NULL, NULL));
    int64_t t0 = now_ms();
    must_send(fd, all, strlen(all));
    resp r;
    must_read_response(fd, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "fn"), "sleep");
    int64_t t1 = now_ms();
    ck_assert_msg(t1 - t0 >= 350, "sleep 400 ms answered after %lld ms", (long long)(t1 - t0));
    must_read_response(fd, &r);
    must_healthz(&r);
    close(fd);
}
END_TEST

/* ---- chunked request bodies --------------------------------------------- */

#define CHUNKED_HEAD                                                                               \
    "POST /v1/fn/fib HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"            \
    "Transfer-Encoding: chunked\r\n\r\n"

static void must_fib55(int fd)
{
    resp r;
    must_read_response(fd, &r);
    must_status(&r, 200);
    ck_assert_int_eq(must_int(must_json(&r), "result"), 55);
}

START_TEST(test_chunked_basic)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    must_send_str(fd, CHUNKED_HEAD "3\r\n{\"n\r\n5\r\n\":10}\r\n0\r\n\r\n");
    must_fib55(fd);
    /* The connection stays usable: the body was framed correctly. */
    must_send_str(fd, http_request_text("GET", "/healthz", NULL, NULL));
    resp r;
    must_read_response(fd, &r);
    must_healthz(&r);
    close(fd);
}
END_TEST

START_TEST(test_chunked_split_writes)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    const char *req = CHUNKED_HEAD "3\r\n{\"n\r\n5\r\n\":10}\r\n0\r\n\r\n";
    size_t n = strlen(req);
    /* The head in one piece, then the body 1..3 bytes at a time. */
    size_t head = strlen(CHUNKED_HEAD);
    must_send(fd, req, head);
    for (size_t i = head; i < n;) {
        size_t k = 1 + (i % 3);
        if (i + k > n)
            k = n - i;
        sleep_ms(3);
        must_send(fd, req + i, k);
        i += k;
    }
    must_fib55(fd);
    /* And a whole request split byte by byte. */
    for (size_t i = 0; i < n; i++) {
        must_send(fd, req + i, 1);
        if (i % 16 == 0)
            sleep_ms(2);
    }
    must_fib55(fd);
    close(fd);
}
END_TEST

START_TEST(test_chunked_extensions_trailers)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    /* Chunk extensions, upper-case hex, leading zeros, trailers. */
    must_send_str(fd, CHUNKED_HEAD "3;name=value\r\n{\"n\r\n"
                                   "0005;a;b=\"c\"\r\n\":10}\r\n"
                                   "0\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n");
    must_fib55(fd);
    const char *big =
        "{\"data\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"; /* 0x35 bytes */
    char req[512];
    snprintf(req, sizeof(req),
             "POST /v1/fn/sha256 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "%zX\r\n%s\r\n0\r\n\r\n",
             strlen(big), big);
    must_send_str(fd, req);
    resp r;
    must_read_response(fd, &r);
    must_status(&r, 200);
    ck_assert_int_eq(strlen(must_str(must_json(&r), "result")), 64);
    close(fd);
}
END_TEST

START_TEST(test_chunked_pipelined)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    char all[2048];
    snprintf(all, sizeof(all), "%s%s%s", CHUNKED_HEAD "8\r\n{\"n\":10}\r\n0\r\n\r\n",
             http_request_text("GET", "/healthz", NULL, NULL),
             CHUNKED_HEAD "8\r\n{\"n\":10}\r\n0\r\n\r\n");
    must_send_str(fd, all);
    must_fib55(fd);
    resp r;
    must_read_response(fd, &r);
    must_healthz(&r);
    must_fib55(fd);
    close(fd);
}
END_TEST

START_TEST(test_chunked_empty_body)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    /* A chunked body of zero bytes is an empty body: "no arguments". */
    must_send_str(fd, "POST /v1/fn/sha256 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      "\r\n0\r\n\r\n");
    resp r;
    must_read_response(fd, &r);
    /* sha256 requires "data": the empty chunked body reached the validator. */
    must_error(&r, 400, "invalid_args", "data");
    close(fd);
}
END_TEST

START_TEST(test_chunked_bad_size)
{
    server s;
    must_start(&s, NULL);
    resp r;
    const char *req = CHUNKED_HEAD "zz\r\n{\"n\":10}\r\n0\r\n\r\n";
    http_call_raw(&s, req, strlen(req), &r);
    must_error(&r, 400, "bad_request", NULL);
    /* A chunk whose data is not followed by CRLF. */
    const char *req2 = CHUNKED_HEAD "3\r\n{\"n\":10}\r\n0\r\n\r\n";
    http_call_raw(&s, req2, strlen(req2), &r);
    must_error(&r, 400, "bad_request", NULL);
}
END_TEST

/* ---- Expect: 100-continue --------------------------------------------------- */

START_TEST(test_expect_continue)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    must_send_str(fd, "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Expect: 100-continue\r\nContent-Length: 8\r\n\r\n");
    resp r;
    must_read_response(fd, &r);
    must_status(&r, 100);
    ck_assert_msg(r.head_len == strlen("HTTP/1.1 100 Continue\r\n\r\n") &&
                      strncmp(r.head, "HTTP/1.1 100 Continue\r\n\r\n", r.head_len) == 0,
                  "interim reply is not exactly \"HTTP/1.1 100 Continue\\r\\n\\r\\n\": \"%s\"",
                  r.head);
    must_send_str(fd, "{\"n\":10}");
    must_fib55(fd);
    /* Chunked with Expect as well. */
    must_send_str(fd, "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n");
    must_read_response(fd, &r);
    must_status(&r, 100);
    must_send_str(fd, "8\r\n{\"n\":10}\r\n0\r\n\r\n");
    must_fib55(fd);
    close(fd);
}
END_TEST

START_TEST(test_expect_continue_body_already_sent)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    must_send_str(fd, "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Expect: 100-continue\r\nContent-Length: 8\r\n\r\n{\"n\":10}");
    resp r;
    /* An interim 100 is allowed here, but the final reply must follow. */
    if (must_read_response(fd, &r) == 100)
        must_read_response(fd, &r);
    must_status(&r, 200);
    ck_assert_int_eq(must_int(must_json(&r), "result"), 55);
    /* Nothing else may follow (no late 100 Continue). */
    must_send_str(fd, http_request_text("GET", "/healthz", NULL, NULL));
    must_read_response(fd, &r);
    must_healthz(&r);
    close(fd);
}
END_TEST

START_TEST(test_expect_continue_too_large)
{
    server s;
    must_start(&s, "{\"limits\": {\"max_body_bytes\": 1024}}");
    int fd = must_connect(&s);
    must_send_str(fd, "POST /v1/fn/sort HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n");
    resp r;
    /* The final 413 instead of 100 Continue: the client must not send it. */
    must_read_response(fd, &r);
    must_error(&r, 413, "payload_too_large", NULL);
    close(fd);
}
END_TEST

/* ---- HEAD ----------------------------------------------------------------- */

START_TEST(test_head)
{
    server s;
    must_start(&s, NULL);
    const char *paths[] = {"/healthz", "/readyz", "/v1/functions", "/v1/workers"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int fd = must_connect(&s);
        char all[1024];
        /* HEAD then GET on one connection: a body after the HEAD reply would
         * break the framing of the GET reply. */
        snprintf(all, sizeof(all), "%s%s", http_request_text("HEAD", paths[i], NULL, NULL),
                 http_request_text("GET", paths[i], NULL, NULL));
        must_send_str(fd, all);
        resp h, g;
        must_read_response_flags(fd, &h, RESP_NO_BODY);
        must_status(&h, 200);
        must_read_response(fd, &g);
        must_status(&g, 200);
        must_json(&g);
        must_json_type(&h);
        const char *cl = resp_header(&h, "Content-Length");
        ck_assert_msg(cl != NULL, "HEAD %s: no Content-Length:\n%s", paths[i], resp_describe(&h));
        /* /v1/workers counters move between the two calls: compare sizes
         * only where the body is fixed. */
        if (i < 3)
            ck_assert_msg((size_t)atol(cl) == g.body_len,
                          "HEAD %s: Content-Length %s, GET body %zu bytes", paths[i], cl,
                          g.body_len);
        ck_assert_int_eq(wait_closed(fd, 100), 0);
        close(fd);
    }
}
END_TEST

/* ---- framing after errors, header case, smuggling, half-close ------------- */

START_TEST(test_errors_keep_framing)
{
    server s;
    must_start(&s, NULL);
    /* Each error reply must leave the connection at the next request: the
     * body of the refused request is consumed, not parsed as a request. */
    static const struct {
        const char *req;
        int status;
        const char *code;
    } cases[] = {
        {"POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
         "Content-Length: 8\r\n\r\n{\"n\":10}",
         415, "unsupported_media_type"},
        {"POST /v1/fn/nope HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n{\"n\":10}", 404,
         "unknown_function"},
        {"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n{\"n\":10}", 405,
         "method_not_allowed"},
        {"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n{\"n\":10}", 404, "not_found"},
        {"POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n{\"n\":94}", 400,
         "invalid_args"},
        {"POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n{\"n\":1,}", 400,
         "bad_json"},
        {"POST /v1/fn/fib?timeout_ms=0 HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n"
         "{\"n\":10}",
         400, "invalid_args"},
        {"POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
         "Content-Type: text/plain\r\n\r\n8\r\n{\"n\":10}\r\n0\r\n\r\n",
         415, "unsupported_media_type"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = must_connect(&s);
        char all[1024];
        snprintf(all, sizeof(all), "%s%s", cases[i].req,
                 http_request_text("GET", "/healthz", NULL, NULL));
        must_send_str(fd, all);
        resp r;
        must_read_response(fd, &r);
        must_error(&r, cases[i].status, cases[i].code, NULL);
        ck_assert_msg(must_read_response(fd, &r) == 200,
                      "case %zu (%d %s): the request after it was not served:\n%s", i,
                      cases[i].status, cases[i].code, resp_describe(&r));
        must_healthz(&r);
        close(fd);
    }
}
END_TEST

START_TEST(test_header_names_case_insensitive)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    must_send_str(fd, "POST /v1/fn/fib HTTP/1.1\r\nhost: x\r\ncontent-type: APPLICATION/JSON\r\n"
                      "content-length: 8\r\n\r\n{\"n\":10}");
    must_fib55(fd);
    must_send_str(fd, "POST /v1/fn/fib HTTP/1.1\r\nHOST: x\r\nTRANSFER-ENCODING: Chunked\r\n\r\n"
                      "8\r\n{\"n\":10}\r\n0\r\n\r\n");
    must_fib55(fd);
    must_send_str(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nCONNECTION: Close\r\n\r\n");
    resp r;
    must_read_response(fd, &r);
    must_healthz(&r);
    must_be_closed(fd, 2000, "after CONNECTION: Close");
    close(fd);
}
END_TEST

START_TEST(test_content_length_and_chunked)
{
    server s;
    must_start(&s, NULL);
    /* Both framings (request smuggling): either chunked wins (RFC 9112 6.3)
     * or the request is refused with 400 and the connection closed; the
     * server must never take the Content-Length and desynchronise. */
    int fd = must_connect(&s);
    char all[1024];
    snprintf(all, sizeof(all), "%s%s",
             "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
             "Transfer-Encoding: chunked\r\n\r\n8\r\n{\"n\":10}\r\n0\r\n\r\n",
             http_request_text("GET", "/healthz", NULL, NULL));
    must_send_str(fd, all);
    resp r;
    int st = must_read_response(fd, &r);
    if (st == 400) {
        must_error(&r, 400, "bad_request", NULL);
        must_be_closed(fd, 2000, "after a request with Content-Length and chunked");
    } else {
        must_status(&r, 200);
        ck_assert_int_eq(must_int(must_json(&r), "result"), 55);
        must_read_response(fd, &r);
        must_healthz(&r);
    }
    close(fd);
}
END_TEST

START_TEST(test_pipeline_split_anywhere)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    char all[8192] = "";
    for (int n = 1; n <= 12; n++) {
        char body[32];
        snprintf(body, sizeof(body), "{\"n\":%d}", n);
        if (n % 3 == 0)
            snprintf(all + strlen(all), sizeof(all) - strlen(all),
                     "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "%zx\r\n%s\r\n0\r\n\r\n",
                     strlen(body), body);
        else
            strcat(all, http_request_text("POST", "/v1/fn/fib", body, NULL));
    }
    /* Pieces of 1..37 bytes (a fixed pseudo-random walk), a pause between. */
    size_t n = strlen(all);
    unsigned x = 12345;
    for (size_t i = 0; i < n;) {
        x = x * 1103515245u + 12345u;
        size_t k = 1 + (x >> 16) % 37;
        if (i + k > n)
            k = n - i;
        must_send(fd, all + i, k);
        i += k;
        sleep_ms(1);
    }
    long long a = 0, b = 1;
    for (int i = 1; i <= 12; i++) {
        long long t = a + b;
        a = b;
        b = t;
        resp r;
        must_read_response(fd, &r);
        must_status(&r, 200);
        ck_assert_msg(must_int(must_json(&r), "result") == a, "reply %d: want fib(%d) = %lld:\n%s",
                      i, i, a, resp_describe(&r));
    }
    close(fd);
}
END_TEST

START_TEST(test_half_close)
{
    server s;
    must_start(&s, NULL);
    /* A client that sends its request and shuts down its side (nc -N) still
     * gets its reply. */
    int fd = must_connect(&s);
    must_send_str(fd, http_request_text("GET", "/healthz", NULL, NULL));
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    resp r;
    ck_assert_msg(must_read_response(fd, &r) != 0, "no reply after the client's half-close");
    must_healthz(&r);
    must_be_closed(fd, 2000, "after the reply to a half-closed client");
    close(fd);
}
END_TEST

/* ---- malformed requests --------------------------------------------------- */

static void must_raw_error(server *s, const char *raw, int status, const char *code)
{
    resp r;
    int st = http_call_raw(s, raw, strlen(raw), &r);
    ck_assert_msg(st != 0, "no reply (connection closed) to \"%s\"", raw);
    must_error(&r, status, code, NULL);
}

START_TEST(test_bad_request_line)
{
    server s;
    must_start(&s, NULL);
    must_raw_error(&s, "HELLO\r\n\r\n", 400, "bad_request");
    must_raw_error(&s, "GET\r\n\r\n", 400, "bad_request");
    must_raw_error(&s, "GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400, "bad_request");
    must_raw_error(&s, "GET /healthz FOO/1.1\r\nHost: x\r\n\r\n", 400, "bad_request");
    must_raw_error(&s, "\x01\x02\x03 / HTTP/1.1\r\n\r\n", 400, "bad_request");
}
END_TEST

START_TEST(test_bad_headers)
{
    server s;
    must_start(&s, NULL);
    must_raw_error(&s, "GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", 400,
                   "bad_request");
    must_raw_error(&s, "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400,
                   "bad_request");
    must_raw_error(&s, "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400,
                   "bad_request");
    /* RFC 9112 6.3: differing Content-Length values are unrecoverable. */
    must_raw_error(&s,
                   "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n"
                   "Content-Length: 9\r\n\r\n{\"n\":10} ",
                   400, "bad_request");
    /* RFC 9112 5.1: whitespace between field name and colon MUST get 400. */
    must_raw_error(&s, "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400, "bad_request");
}
END_TEST

START_TEST(test_http2_version)
{
    server s;
    must_start(&s, NULL);
    must_raw_error(&s, "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505,
                   "http_version_not_supported");
}
END_TEST

START_TEST(test_transfer_encoding_gzip)
{
    server s;
    must_start(&s, NULL);
    must_raw_error(&s,
                   "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
                   "0\r\n\r\n",
                   501, "not_implemented");
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("integration_http");
    TCase *tc = harness_tcase("connection");
    tcase_add_test(tc, test_keepalive_default);
    tcase_add_test(tc, test_connection_close);
    tcase_add_test(tc, test_connection_close_on_post);
    tcase_add_test(tc, test_http10_closes);
    tcase_add_test(tc, test_http10_keepalive);
    suite_add_tcase(s, tc);

    tc = harness_tcase("pipelining");
    tcase_add_test(tc, test_pipelining_in_order);
    tcase_add_test(tc, test_pipelining_mixed_routes);
    tcase_add_test(tc, test_pipelining_slow_first);
    suite_add_tcase(s, tc);

    tc = harness_tcase("chunked");
    tcase_add_test(tc, test_chunked_basic);
    tcase_add_test(tc, test_chunked_split_writes);
    tcase_add_test(tc, test_chunked_extensions_trailers);
    tcase_add_test(tc, test_chunked_pipelined);
    tcase_add_test(tc, test_chunked_empty_body);
    tcase_add_test(tc, test_chunked_bad_size);
    suite_add_tcase(s, tc);

    tc = harness_tcase("expect");
    tcase_add_test(tc, test_expect_continue);
    tcase_add_test(tc, test_expect_continue_body_already_sent);
    tcase_add_test(tc, test_expect_continue_too_large);
    suite_add_tcase(s, tc);

    tc = harness_tcase("head");
    tcase_add_test(tc, test_head);
    suite_add_tcase(s, tc);

    tc = harness_tcase("framing");
    tcase_add_test(tc, test_errors_keep_framing);
    tcase_add_test(tc, test_header_names_case_insensitive);
    tcase_add_test(tc, test_content_length_and_chunked);
    tcase_add_test(tc, test_pipeline_split_anywhere);
    tcase_add_test(tc, test_half_close);
    suite_add_tcase(s, tc);

    tc = harness_tcase("malformed");
    tcase_add_test(tc, test_bad_request_line);
    tcase_add_test(tc, test_bad_headers);
    tcase_add_test(tc, test_http2_version);
    tcase_add_test(tc, test_transfer_encoding_gzip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(http_suite());
}
