/*
 * check_routing.c - how a request target reaches a route, against the real
 * server: percent-decoded path segments and query values, refused encodings
 * (a '/' or NUL inside a segment, malformed escapes), 404s that name the path
 * as sent; OPTIONS on every route; CORS headers (http.cors_origins).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"

#define ORIGIN "https://app.example.com"
#define CORS_CONF "{\"http\": {\"cors_origins\": [\"" ORIGIN "\", \"http://localhost:3000\"]}}"

static const char *error_message(resp *r)
{
    return must_str(must_get(must_json(r), "error"), "message");
}

/* Submits fib and returns the job id (harness-owned). */
static const char *must_submit_fib(server *s)
{
    resp r;
    http_call(s, "POST", "/v1/jobs", "{\"fn\":\"fib\",\"args\":{\"n\":10}}", &r);
    ck_assert_msg(r.status == 202 || r.status == 200, "submit:\n%s", resp_describe(&r));
    return must_str(must_json(&r), "id");
}

/* Sends two requests back to back (pipelined) on a new connection; returns it. */
static int must_send_two(server *s, const char *first, const char *second)
{
    int fd = must_connect(s);
    must_send_str(fd, first);
    must_send_str(fd, second);
    return fd;
}

/* ---- item 12: percent-decoding ------------------------------------------ */

START_TEST(test_path_segments_decoded)
{
    server s;
    must_start(&s, NULL);
    resp r;
    http_call(&s, "POST", "/v1/fn/%66ib", "{\"n\":10}", &r);
    must_status(&r, 200);
    ck_assert_int_eq(must_int(must_json(&r), "result"), 55);
    ck_assert_str_eq(must_str(must_json(&r), "fn"), "fib");
    http_call(&s, "POST", "/v1/%66n/%66%69%62", "{\"n\":10}", &r);
    must_status(&r, 200);
    http_call(&s, "GET", "/%68ealthz", NULL, &r);
    must_status(&r, 200);
    /* A job id with an escaped character is the same id. */
    const char *id = must_submit_fib(&s);
    char path[128];
    snprintf(path, sizeof(path), "/v1/jobs/%%%02X%s", (unsigned char)id[0], id + 1);
    http_call(&s, "GET", path, NULL, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "id"), id);
    /* Decoding gives names, not new segments or a C string cut short. */
    http_call(&s, "POST", "/v1/fn/fi%62x", "{}", &r);
    must_error(&r, 404, "unknown_function", NULL);
    ck_assert_str_eq(error_message(&r), "no function named \"fibx\"");
    http_call(&s, "POST", "/v1/fn/f%C3%A9%FF", "{}", &r);
    must_error(&r, 404, "unknown_function", NULL);
    ck_assert_str_eq(error_message(&r), "no function named \"f\xc3\xa9?\"");
    /* A long name is cut on a character boundary: the message stays UTF-8. */
    char name[1024] = "/v1/fn/x";
    for (int i = 0; i < 100; i++)
        strcat(name, "%C3%A9");
    http_call(&s, "POST", name, "{}", &r);
    must_error(&r, 404, "unknown_function", NULL); /* must_json: valid UTF-8 */
    const char *msg = error_message(&r);
    ck_assert_msg(strlen(msg) < 160 && strstr(msg, "\"x\xc3\xa9\xc3\xa9") &&
                      strstr(msg, "\xc3\xa9...\""),
                  "%s", msg);
}
END_TEST

START_TEST(test_path_encodings_refused)
{
    server s;
    must_start(&s, NULL);
    static const char *const bad[] = {
        "/v1/fn/fi%2Fb",   /* an encoded '/' would move a segment boundary */
        "/v1/fn/%2f",
        "/v1/jobs%2Fabc",
        "/v1/fn/fib%00",   /* a NUL would cut the name short */
        "/v1/fn/%zz",      /* malformed escapes */
        "/v1/fn/fib%",
        "/v1/fn/fib%4",
        "/healthz?x=%zz",  /* also in the query */
        "/v1/jobs?limit=%3",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        resp r;
        http_call(&s, "POST", bad[i], "{\"n\":10}", &r);
        ck_assert_msg(r.status == 400, "%s:\n%s", bad[i], resp_describe(&r));
        must_error(&r, 400, "bad_request", NULL);
    }
}
END_TEST

START_TEST(test_query_values_decoded)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    resp r;
    for (int i = 0; i < 3; i++)
        must_submit_fib(&s);
    http_call(&s, "GET", "/v1/jobs?limit=%32", NULL, &r);
    must_status(&r, 200);
    ck_assert_int_eq(json_array_size(must_get(must_json(&r), "jobs")), 2);
    http_call(&s, "GET", "/v1/jobs?%6Cimit=1&fn=%66ib&state=%71ueued%2Bx", NULL, &r);
    must_error(&r, 400, "invalid_args", "state"); /* "queued+x": decoded, then checked */
    http_call(&s, "GET", "/v1/jobs?%6Cimit=1&fn=%66ib", NULL, &r);
    must_status(&r, 200);
    json_t *jobs = must_get(must_json(&r), "jobs");
    ck_assert_int_eq(json_array_size(jobs), 1);
    ck_assert_str_eq(must_str(json_array_get(jobs, 0), "fn"), "fib");
    http_call(&s, "POST", "/v1/fn/fib?timeout_ms=%31%30%30%30", "{\"n\":10}", &r);
    must_status(&r, 200);
    http_call(&s, "POST", "/v1/fn/fib?timeout_ms=+5", "{\"n\":10}", &r); /* " 5" */
    must_error(&r, 400, "invalid_args", "timeout_ms");
    http_call(&s, "GET", "/v1/jobs?fn=fi%00b", NULL, &r);
    must_error(&r, 400, "invalid_args", "fn");
    /* A value may decode to 256 bytes at most (then it is checked as usual). */
    char q[1024] = "/v1/jobs?fn=";
    for (int i = 0; i < 256; i++)
        strcat(q, i % 2 ? "%61" : "a");
    http_call(&s, "GET", q, NULL, &r);
    must_error(&r, 400, "invalid_args", "fn");
    ck_assert_str_eq(error_message(&r), "fn: a function name");
    strcat(q, "+");
    http_call(&s, "GET", q, NULL, &r);
    must_error(&r, 400, "invalid_args", "fn");
    ck_assert_str_eq(error_message(&r), "fn: must decode to at most 256 bytes, none of them NUL");
    const char *id = must_submit_fib(&s);
    char path[128];
    snprintf(path, sizeof(path), "/v1/jobs/%s?wait=%%31", id);
    http_call(&s, "GET", path, NULL, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "state"), "succeeded");
}
END_TEST

/* A path that is no route is named in the 404 as the client sent it. */
START_TEST(test_not_found_names_path)
{
    server s;
    must_start(&s, NULL);
    static const char *const paths[] = {"/v1/fn/fib/", "/v1/fn/", "/v1/fn/fib/x", "/v1/jobs/",
                                        "/v1/jobs/abc/def", "/healthz/", "/v1/fn/%66ib/"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        resp r;
        http_call(&s, "POST", paths[i], "{}", &r);
        ck_assert_msg(r.status == 404, "%s:\n%s", paths[i], resp_describe(&r));
        must_error(&r, 404, "not_found", NULL);
        char want[256];
        snprintf(want, sizeof(want), "no route for \"%s\"", paths[i]);
        ck_assert_str_eq(error_message(&r), want);
    }
    /* Long paths are cut (on a character boundary) with "...". */
    char path[2100] = "/v1/fn/";
    memset(path + 7, 'a', 2000);
    path[2007] = '\0';
    strcat(path, "%41/");
    resp r;
    http_call(&s, "GET", path, NULL, &r);
    must_error(&r, 404, "not_found", NULL);
    const char *msg = error_message(&r);
    ck_assert_msg(strlen(msg) < 200 && strstr(msg, "/v1/fn/aaa") && strstr(msg, "...\""), "%s",
                  msg);
}
END_TEST

/* ---- item 13: OPTIONS ------------------------------------------------------ */

static void must_options(server *s, const char *path, const char *allow)
{
    resp r;
    http_call(s, "OPTIONS", path, NULL, &r);
    ck_assert_msg(r.status == 204, "OPTIONS %s:\n%s", path, resp_describe(&r));
    must_header(&r, "Allow", allow);
    must_header(&r, "Content-Length", NULL); /* RFC 9110 8.6 */
    ck_assert_uint_eq(r.body_len, 0);
}

START_TEST(test_options_every_route)
{
    server s;
    must_start(&s, NULL);
    must_options(&s, "/healthz", "GET, HEAD, OPTIONS");
    must_options(&s, "/readyz", "GET, HEAD, OPTIONS");
    must_options(&s, "/metrics", "GET, HEAD, OPTIONS");
    must_options(&s, "/v1/functions", "GET, HEAD, OPTIONS");
    must_options(&s, "/v1/workers", "GET, HEAD, OPTIONS");
    must_options(&s, "/v1/fn/fib", "POST, OPTIONS");
    must_options(&s, "/v1/jobs", "GET, HEAD, POST, OPTIONS");
    must_options(&s, "/v1/jobs/0123456789abcdef0123456789abcdef", "GET, HEAD, DELETE, OPTIONS");
    must_options(&s, "*", "GET, HEAD, POST, DELETE, OPTIONS");
    resp r;
    http_call(&s, "OPTIONS", "/nope", NULL, &r);
    must_error(&r, 404, "not_found", NULL);
    /* 405 names OPTIONS too. */
    http_call(&s, "DELETE", "/healthz", NULL, &r);
    must_error(&r, 405, "method_not_allowed", NULL);
    must_header(&r, "Allow", "GET, HEAD, OPTIONS");
    /* A 204 has no body: the next request on the connection is read right. */
    int fd = must_send_two(&s, http_request_text("OPTIONS", "/v1/fn/fib", NULL, NULL),
                           http_request_text("GET", "/healthz", NULL, NULL));
    must_read_response(fd, &r);
    must_status(&r, 204);
    must_read_response(fd, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "status"), "ok");
    close(fd);
}
END_TEST

/* ---- item 13: CORS --------------------------------------------------------- */

static void must_cors(const resp *r, const char *origin)
{
    must_header(r, "Access-Control-Allow-Origin", origin);
    must_header(r, "Vary", "Origin");
    must_header(r, "Access-Control-Expose-Headers", "Location, Retry-After");
}

static void must_no_cors(const resp *r)
{
    must_header(r, "Access-Control-Allow-Origin", NULL);
    must_header(r, "Access-Control-Allow-Methods", NULL);
    must_header(r, "Access-Control-Expose-Headers", NULL);
}

START_TEST(test_cors_off_by_default)
{
    server s;
    must_start(&s, NULL);
    resp r;
    http_call_hdr(&s, "GET", "/healthz", NULL, "Origin: " ORIGIN "\r\n", &r);
    must_status(&r, 200);
    must_no_cors(&r);
    http_call_hdr(&s, "OPTIONS", "/v1/fn/fib", NULL,
                  "Origin: " ORIGIN "\r\nAccess-Control-Request-Method: POST\r\n", &r);
    must_status(&r, 204);
    must_no_cors(&r);
}
END_TEST

START_TEST(test_cors_allowed_origin)
{
    server s;
    must_start(&s, CORS_CONF);
    resp r;
    const char *o = "Origin: " ORIGIN "\r\n";
    http_call_hdr(&s, "GET", "/healthz", NULL, o, &r);
    must_status(&r, 200);
    must_cors(&r, ORIGIN);
    /* every kind of reply: an error, a deferred call, a job's 202 */
    http_call_hdr(&s, "GET", "/nope", NULL, o, &r);
    must_error(&r, 404, "not_found", NULL);
    must_cors(&r, ORIGIN);
    http_call_hdr(&s, "POST", "/v1/fn/sleep", "{\"ms\":20}", o, &r);
    must_status(&r, 200);
    must_cors(&r, ORIGIN);
    http_call_hdr(&s, "POST", "/v1/jobs", "{\"fn\":\"sleep\",\"args\":{\"ms\":300}}", o, &r);
    must_status(&r, 202);
    must_cors(&r, ORIGIN);
    const char *location = resp_header(&r, "Location");
    ck_assert_ptr_nonnull(location);
    char path[256];
    snprintf(path, sizeof(path), "%s?wait=10", location); /* answered by a long-poll */
    http_call_hdr(&s, "GET", path, NULL, o, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "state"), "succeeded");
    must_cors(&r, ORIGIN);
    http_call_hdr(&s, "GET", "/healthz", NULL, "Origin: http://LOCALHOST:3000\r\n", &r);
    must_cors(&r, "http://localhost:3000"); /* as browsers serialise it */
    /* another origin, or none: nothing */
    http_call_hdr(&s, "GET", "/healthz", NULL, "Origin: https://evil.example\r\n", &r);
    must_status(&r, 200);
    must_no_cors(&r);
    must_header(&r, "Vary", NULL);
    http_call_hdr(&s, "GET", "/healthz", NULL, "Origin: " ORIGIN ".evil.example\r\n", &r);
    must_no_cors(&r);
    http_call(&s, "GET", "/healthz", NULL, &r);
    must_no_cors(&r);
    /* The lines of one request do not stick to the next on the connection. */
    int fd = must_send_two(&s, http_request_text("GET", "/healthz", NULL, o),
                           http_request_text("GET", "/healthz", NULL, NULL));
    must_read_response(fd, &r);
    must_cors(&r, ORIGIN);
    must_read_response(fd, &r);
    must_no_cors(&r);
    close(fd);
}
END_TEST

START_TEST(test_cors_preflight)
{
    server s;
    must_start(&s, CORS_CONF);
    resp r;
    http_call_hdr(&s, "OPTIONS", "/v1/jobs", NULL,
                  "Origin: " ORIGIN "\r\nAccess-Control-Request-Method: POST\r\n"
                  "Access-Control-Request-Headers: content-type, idempotency-key\r\n",
                  &r);
    must_status(&r, 204);
    must_cors(&r, ORIGIN);
    must_header(&r, "Allow", "GET, HEAD, POST, OPTIONS");
    must_header(&r, "Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS");
    must_header(&r, "Access-Control-Allow-Headers",
                "Content-Type, Authorization, Idempotency-Key, Prefer");
    must_header(&r, "Access-Control-Max-Age", "600");
    http_call_hdr(&s, "OPTIONS", "/v1/fn/fib", NULL,
                  "Origin: " ORIGIN "\r\nAccess-Control-Request-Method: POST\r\n", &r);
    must_header(&r, "Access-Control-Allow-Methods", "POST, OPTIONS");
    /* OPTIONS without Access-Control-Request-Method is no preflight */
    http_call_hdr(&s, "OPTIONS", "/v1/fn/fib", NULL, "Origin: " ORIGIN "\r\n", &r);
    must_status(&r, 204);
    must_cors(&r, ORIGIN);
    must_header(&r, "Access-Control-Allow-Methods", NULL);
    /* a preflight from another origin gets Allow only */
    http_call_hdr(&s, "OPTIONS", "/v1/fn/fib", NULL,
                  "Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n", &r);
    must_status(&r, 204);
    must_header(&r, "Allow", "POST, OPTIONS");
    must_no_cors(&r);
}
END_TEST

START_TEST(test_cors_any_origin)
{
    server s;
    must_start(&s, "{\"http\": {\"cors_origins\": [\"*\"]}}");
    resp r;
    http_call_hdr(&s, "GET", "/v1/functions", NULL, "Origin: https://anyone.example\r\n", &r);
    must_status(&r, 200);
    must_cors(&r, "*");
    http_call(&s, "GET", "/v1/functions", NULL, &r);
    must_no_cors(&r);
}
END_TEST

static Suite *routing_suite(void)
{
    Suite *s = suite_create("integration_routing");
    TCase *tc = harness_tcase("decoding");
    tcase_add_test(tc, test_path_segments_decoded);
    tcase_add_test(tc, test_path_encodings_refused);
    tcase_add_test(tc, test_query_values_decoded);
    tcase_add_test(tc, test_not_found_names_path);
    suite_add_tcase(s, tc);

    tc = harness_tcase("options");
    tcase_add_test(tc, test_options_every_route);
    suite_add_tcase(s, tc);

    tc = harness_tcase("cors");
    tcase_add_test(tc, test_cors_off_by_default);
    tcase_add_test(tc, test_cors_allowed_origin);
    tcase_add_test(tc, test_cors_preflight);
    tcase_add_test(tc, test_cors_any_origin);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(routing_suite());
}
