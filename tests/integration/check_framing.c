/*
 * check_framing.c - HTTP framing where a proxy in front could read a request
 * differently than we do, against the real server: bare LF line ends in the
 * head and in chunked bodies, loose chunk-size lines and extensions, two
 * Content-Type headers, media types that only start like JSON; and the
 * versions and target forms we accept (HTTP/1.2..1.9, "http://host?x").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"

#define FIB_HEAD                                                                                   \
    "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"                    \
    "Transfer-Encoding: chunked\r\n\r\n"

/* Sends raw, then a GET /healthz on the same connection; the raw request must
 * be refused with 400 bad_request and the connection closed: whatever a proxy
 * made of those bytes, nothing after them is taken as a request. */
static void must_refuse_and_close(server *s, const char *raw)
{
    int fd = must_connect(s);
    char all[4096];
    snprintf(all, sizeof(all), "%s%s", raw, http_request_text("GET", "/healthz", NULL, NULL));
    must_send_str(fd, all);
    resp r;
    int st = must_read_response(fd, &r);
    ck_assert_msg(st == 400, "expected 400 for \"%s\", got:\n%s", raw, resp_describe(&r));
    must_error(&r, 400, "bad_request", NULL);
    must_header(&r, "Connection", "close");
    must_be_closed(fd, 2000, raw);
    close(fd);
}

/* Sends raw with Connection: close semantics left to the request; returns the
 * response (fails the test if none comes back). */
static void must_raw(server *s, const char *raw, resp *r)
{
    int st = http_call_raw(s, raw, strlen(raw), r);
    ck_assert_msg(st != 0, "no reply (connection closed) to \"%s\"", raw);
}

/* ---- item 9: CRLF only, in the head ----------------------------------- */

START_TEST(test_bare_lf_in_head)
{
    server s;
    must_start(&s, NULL);
    /* The CVE-2022-32214 shape: a bare LF where a proxy sees no line end. */
    must_refuse_and_close(&s, "GET /healthz HTTP/1.1\nHost: x\r\n\r\n");
    must_refuse_and_close(&s, "GET /healthz HTTP/1.1\r\nHost: x\nX: y\r\n\r\n");
    must_refuse_and_close(&s, "GET /healthz HTTP/1.1\r\nHost: x\r\n\n");
    must_refuse_and_close(&s, "GET /healthz HTTP/1.1\nHost: x\n\n");
    must_refuse_and_close(&s, "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nX: a\n"
                              "Content-Length: 8\r\n\r\n{\"n\":10}");
    must_refuse_and_close(&s, "\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    /* Leading empty CRLF lines stay tolerated (RFC 9112 2.2). */
    resp r;
    must_raw(&s, "\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    must_status(&r, 200);
}
END_TEST

/* ---- item 9: CRLF only and a strict grammar, in chunk lines ----------- */

START_TEST(test_bare_lf_in_chunked_body)
{
    server s;
    must_start(&s, NULL);
    must_refuse_and_close(&s, FIB_HEAD "8\n{\"n\":10}\r\n0\r\n\r\n");       /* size line */
    must_refuse_and_close(&s, FIB_HEAD "8;a=b\n{\"n\":10}\r\n0\r\n\r\n");   /* extension */
    must_refuse_and_close(&s, FIB_HEAD "8\r\n{\"n\":10}\n0\r\n\r\n");       /* after data */
    must_refuse_and_close(&s, FIB_HEAD "8\r\n{\"n\":10}\r\n0\n\r\n");       /* last size */
    must_refuse_and_close(&s, FIB_HEAD "8\r\n{\"n\":10}\r\n0\r\n\n");       /* final line */
    must_refuse_and_close(&s, FIB_HEAD "8\r\n{\"n\":10}\r\n0\r\nT: v\n\r\n"); /* trailer */
}
END_TEST

START_TEST(test_chunk_line_grammar)
{
    server s;
    must_start(&s, NULL);
    must_refuse_and_close(&s, FIB_HEAD "8;\r\n{\"n\":10}\r\n0\r\n\r\n");      /* ';', no name */
    must_refuse_and_close(&s, FIB_HEAD "8;;a\r\n{\"n\":10}\r\n0\r\n\r\n");
    must_refuse_and_close(&s, FIB_HEAD "8 \r\n{\"n\":10}\r\n0\r\n\r\n");      /* space after size */
    must_refuse_and_close(&s, FIB_HEAD "8\t;a\r\n{\"n\":10}\r\n0\r\n\r\n");   /* tab after size */
    must_refuse_and_close(&s, FIB_HEAD "8;a=\"b\r\n{\"n\":10}\r\n0\r\n\r\n"); /* unbalanced quote */
    must_refuse_and_close(&s, FIB_HEAD "8;a=b\"\r\n{\"n\":10}\r\n0\r\n\r\n");
    must_refuse_and_close(&s, FIB_HEAD "8;a=\r\n{\"n\":10}\r\n0\r\n\r\n");    /* '=', no value */
    must_refuse_and_close(&s, FIB_HEAD "8\r\n{\"n\":10}\r\n0\r\n T: v\r\n\r\n"); /* folded trailer */
    /* Well-formed extensions and trailers still work, on a kept connection. */
    int fd = must_connect(&s);
    must_send_str(fd, FIB_HEAD "8;a;b=c;d=\"e;\\\"f\"\r\n{\"n\":10}\r\n0;z\r\nT: v\r\n\r\n");
    resp r;
    must_read_response(fd, &r);
    must_status(&r, 200);
    ck_assert_int_eq(must_int(must_json(&r), "result"), 55);
    must_send_str(fd, http_request_text("GET", "/healthz", NULL, NULL));
    must_read_response(fd, &r);
    must_status(&r, 200);
    close(fd);
}
END_TEST

/* ---- item 10: Content-Type ----------------------------------------------- */

static void post_fib_ct(server *s, const char *ct_lines, resp *r)
{
    char raw[512];
    snprintf(raw, sizeof(raw),
             "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\n%sContent-Length: 8\r\n"
             "Connection: close\r\n\r\n{\"n\":10}",
             ct_lines);
    must_raw(s, raw, r);
}

START_TEST(test_two_content_types)
{
    server s;
    must_start(&s, NULL);
    must_refuse_and_close(&s, "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\n"
                              "Content-Type: application/json\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 8\r\n\r\n{\"n\":10}");
    must_refuse_and_close(&s, "POST /v1/jobs HTTP/1.1\r\nHost: x\r\n"
                              "Content-Type: application/json\r\ncontent-type: application/json\r\n"
                              "Content-Length: 12\r\n\r\n{\"fn\":\"fib\"}");
}
END_TEST

START_TEST(test_media_type_parsed)
{
    server s;
    must_start(&s, NULL);
    resp r;
    static const char *const not_json[] = {
        "application/json garbage", "application/json x", "application/json; charset",
        "application/json; charset=\"utf-8", "application/json, text/plain", "application/json/x",
    };
    for (size_t i = 0; i < sizeof(not_json) / sizeof(not_json[0]); i++) {
        char line[256];
        snprintf(line, sizeof(line), "Content-Type: %s\r\n", not_json[i]);
        post_fib_ct(&s, line, &r);
        ck_assert_msg(r.status == 415, "Content-Type \"%s\" taken as JSON:\n%s", not_json[i],
                      resp_describe(&r));
        must_error(&r, 415, "unsupported_media_type", NULL);
    }
    static const char *const json[] = {
        "application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\"",
        "application/json ; charset=utf-8", "application/json;",
    };
    for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
        char line[256];
        snprintf(line, sizeof(line), "Content-Type: %s\r\n", json[i]);
        post_fib_ct(&s, line, &r);
        ck_assert_msg(r.status == 200, "Content-Type \"%s\" refused:\n%s", json[i],
                      resp_describe(&r));
    }
    /* Present but empty is no media type at all. */
    post_fib_ct(&s, "Content-Type:\r\n", &r);
    must_error(&r, 415, "unsupported_media_type", NULL);
    /* The job API parses it the same way. */
    must_raw(&s, "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json garbage\r\n"
                 "Content-Length: 12\r\nConnection: close\r\n\r\n{\"fn\":\"fib\"}", &r);
    must_error(&r, 415, "unsupported_media_type", NULL);
}
END_TEST

/* ---- item 11: versions and target forms --------------------------------- */

START_TEST(test_http_1x_minor_versions)
{
    server s;
    must_start(&s, NULL);
    int fd = must_connect(&s);
    for (char minor = '2'; minor <= '9'; minor++) {
        char req[128];
        snprintf(req, sizeof(req), "GET /healthz HTTP/1.%c\r\nHost: x\r\n\r\n", minor);
        must_send_str(fd, req);
        resp r;
        must_read_response(fd, &r);
        ck_assert_msg(r.status == 200, "HTTP/1.%c:\n%s", minor, resp_describe(&r));
        ck_assert_int_eq(r.minor, 1); /* answered as HTTP/1.1 */
        /* ...and kept alive, as 1.1 is by default */
        ck_assert_msg(!resp_header(&r, "Connection"), "HTTP/1.%c:\n%s", minor, resp_describe(&r));
    }
    close(fd);
    /* As 1.1, they need a Host. */
    must_refuse_and_close(&s, "GET /healthz HTTP/1.4\r\n\r\n");
    /* Other majors stay refused. */
    resp r;
    must_raw(&s, "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", &r);
    must_error(&r, 505, "http_version_not_supported", NULL);
    must_raw(&s, "GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n", &r);
    must_error(&r, 505, "http_version_not_supported", NULL);
}
END_TEST

START_TEST(test_absolute_form_empty_path)
{
    server s;
    must_start(&s, NULL);
    resp r;
    /* "http://host?x" is the path "/" with the query "x": no route is "/". */
    must_raw(&s, "GET http://127.0.0.1?x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             &r);
    must_error(&r, 404, "not_found", NULL);
    ck_assert_str_eq(must_str(must_get(must_json(&r), "error"), "message"), "no route for \"/\"");
    must_raw(&s, "OPTIONS http://127.0.0.1:8080?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             &r);
    must_error(&r, 404, "not_found", NULL);
    /* With a path, the absolute form routes as before. */
    must_raw(&s, "GET http://127.0.0.1/healthz?x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             &r);
    must_status(&r, 200);
}
END_TEST

static Suite *framing_suite(void)
{
    Suite *s = suite_create("integration_framing");
    TCase *tc = harness_tcase("crlf");
    tcase_add_test(tc, test_bare_lf_in_head);
    tcase_add_test(tc, test_bare_lf_in_chunked_body);
    tcase_add_test(tc, test_chunk_line_grammar);
    suite_add_tcase(s, tc);

    tc = harness_tcase("content_type");
    tcase_add_test(tc, test_two_content_types);
    tcase_add_test(tc, test_media_type_parsed);
    suite_add_tcase(s, tc);

    tc = harness_tcase("versions");
    tcase_add_test(tc, test_http_1x_minor_versions);
    tcase_add_test(tc, test_absolute_form_empty_path);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(framing_suite());
}
