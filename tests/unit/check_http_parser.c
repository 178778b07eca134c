/*
 * check_http_parser.c - unit tests for worker/http_parser.c: every refusal
 * status, keep-alive rules, pipelining, incremental arrival, chunked bodies
 * and query lookup.
 */
#include "http_parser.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEAD 8192

/* ---------------------------------------------------------------- helpers */

static int parse_n(const char *s, size_t n, http_request *req, int *status)
{
    *status = -12345;
    return http_parse_head(s, n, MAX_HEAD, req, status);
}

static int parse(const char *s, http_request *req, int *status)
{
    return parse_n(s, strlen(s), req, status);
}

/* Parses s (length n) and requires it to be accepted as one whole head. */
static void must_accept_n(const char *s, size_t n, http_request *req)
{
    int status;
    int rc = parse_n(s, n, req, &status);
    ck_assert_msg(rc == (int)n, "expected %zu, got %d (status %d) for \"%s\"", n, rc, status, s);
}

static void must_accept(const char *s, http_request *req)
{
    must_accept_n(s, strlen(s), req);
}

static void must_refuse_n(const char *s, size_t n, int want)
{
    http_request req;
    int status;
    int rc = parse_n(s, n, &req, &status);
    ck_assert_msg(rc == -1 && status == want, "expected -1/%d, got %d/%d for \"%s\"", want, rc,
                  status, s);
}

static void must_refuse(const char *s, int want)
{
    must_refuse_n(s, strlen(s), want);
}

/* For literals holding a NUL byte. */
#define MUST_REFUSE_LIT(lit, want) must_refuse_n(lit, sizeof(lit) - 1, want)

static void must_slice(http_slice s, const char *want)
{
    ck_assert_msg(s.n == strlen(want) && (s.n == 0 || !memcmp(s.p, want, s.n)),
                  "slice \"%.*s\" != \"%s\"", (int)s.n, s.p ? s.p : "", want);
}

/* Parses "GET / HTTP/1.<minor>" with extra header lines and returns keep_alive. */
static bool keep_alive_of(int minor, const char *headers)
{
    char buf[1024];
    http_request req;
    snprintf(buf, sizeof buf, "GET / HTTP/1.%d\r\nHost: h\r\n%s\r\n", minor, headers);
    must_accept(buf, &req);
    return req.keep_alive;
}

/* Runs in[0..len) through a fresh decoder in one call. */
static int decode_once(const char *in, size_t len, char *out, size_t *consumed, size_t *produced)
{
    http_chunked c;
    http_chunked_init(&c);
    int rc = http_chunked_decode(&c, in, len, out, consumed, produced);
    if (rc >= 0)
        ck_assert_uint_eq(c.total, *produced);
    return rc;
}

/* Runs in[0..len) through a fresh decoder in pieces of `step` bytes. */
static int decode_steps(const char *in, size_t len, size_t step, char *out, size_t *consumed,
                        size_t *produced)
{
    http_chunked c;
    size_t i = 0, o = 0;
    int rc = 0;
    http_chunked_init(&c);
    while (i < len) {
        size_t n = len - i < step ? len - i : step, ci, po;
        rc = http_chunked_decode(&c, in + i, n, out + o, &ci, &po);
        ck_assert_uint_le(ci, n);
        i += ci;
        o += po;
        if (rc != 0)
            break;
        ck_assert_uint_eq(ci, n);
    }
    *consumed = i;
    *produced = o;
    return rc;
}

/* ---------------------------------------------------------------- head */

START_TEST(test_get_simple)
{
    const char *s = "GET /v1/jobs/abc?wait=5&x=1 HTTP/1.1\r\n"
                    "Host: localhost:8080\r\n"
                    "User-Agent: curl/8.0\r\n"
                    "Accept: */*\r\n"
                    "\r\n";
    http_request req;
    must_accept(s, &req);
    ck_assert_int_eq(req.method, HTTP_GET);
    must_slice(req.method_name, "GET");
    must_slice(req.target, "/v1/jobs/abc?wait=5&x=1");
    must_slice(req.path, "/v1/jobs/abc");
    must_slice(req.query, "wait=5&x=1");
    ck_assert_int_eq(req.version_minor, 1);
    ck_assert(req.keep_alive);
    ck_assert(!req.chunked);
    ck_assert(!req.expect_continue);
    ck_assert(!req.has_content_length);
    ck_assert_uint_eq(req.content_length, 0);
    ck_assert_uint_eq(req.content_type.n, 0);
    ck_assert_int_eq(req.n_headers, 3);
    must_slice(req.headers[0].name, "Host");
    must_slice(req.headers[0].value, "localhost:8080");
    must_slice(req.headers[2].name, "Accept");
    must_slice(req.headers[2].value, "*/*");
    /* Slices point into the buffer. */
    ck_assert_ptr_eq(req.method_name.p, s);
    ck_assert_ptr_eq(req.path.p, s + 4);
}
END_TEST

START_TEST(test_post_with_body)
{
    const char *s = "POST /v1/fn/count HTTP/1.1\r\nHost: h\r\n"
                    "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n"
                    "{\"start\": 10}";
    http_request req;
    int status;
    int rc = parse(s, &req, &status);
    ck_assert_int_eq(rc, (int)(strstr(s, "\r\n\r\n") + 4 - s));
    ck_assert_int_eq(req.method, HTTP_POST);
    ck_assert(req.has_content_length);
    ck_assert_uint_eq(req.content_length, 13);
    must_slice(req.content_type, "application/json");
    ck_assert_uint_eq(strlen(s + rc), 13);
}
END_TEST

START_TEST(test_methods)
{
    static const struct {
        const char *name;
        http_method m;
    } cases[] = {
        {"GET", HTTP_GET},     {"HEAD", HTTP_HEAD},      {"POST", HTTP_POST},
        {"PUT", HTTP_PUT},     {"DELETE", HTTP_DELETE},  {"OPTIONS", HTTP_OPTIONS},
        {"PATCH", HTTP_PATCH}, {"PURGE", HTTP_OTHER},    {"get", HTTP_OTHER},
        {"GETS", HTTP_OTHER},  {"M-SEARCH", HTTP_OTHER}, {"X", HTTP_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[256];
        http_request req;
        snprintf(buf, sizeof buf, "%s /x HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].name);
        must_accept(buf, &req);
        ck_assert_int_eq(req.method, cases[i].m);
        must_slice(req.method_name, cases[i].name);
    }
}
END_TEST

START_TEST(test_400_method)
{
    must_refuse(" / HTTP/1.1\r\nHost: h\r\n\r\n", 400);     /* empty method */
    must_refuse("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);  /* not a token */
    must_refuse("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400); /* HTAB separator */
    must_refuse("GE\x01T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET\r\nHost: h\r\n\r\n", 400); /* method alone */
}
END_TEST

START_TEST(test_400_request_line)
{
    must_refuse("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400); /* two spaces */
    must_refuse("GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400); /* trailing space */
    must_refuse("GET /\r\nHost: h\r\n\r\n", 400);           /* HTTP/0.9 style */
    must_refuse("GET / \r\nHost: h\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", 400); /* CR CR LF */
    must_refuse("GET / HTTP/1.1\rHost: h\r\n\r\n", 400);     /* bare CR */
}
END_TEST

START_TEST(test_version)
{
    http_request req;
    must_accept("GET / HTTP/1.0\r\n\r\n", &req);
    ck_assert_int_eq(req.version_minor, 0);
    must_accept("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    ck_assert_int_eq(req.version_minor, 1);

    must_refuse("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    must_refuse("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505);
    must_refuse("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505);
    must_refuse("GET / HTTP/9.9\r\nHost: h\r\n\r\n", 505);

    must_refuse("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET / http/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET / HTTP/1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET / HTTP/x.y\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET / HTTP/1,1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET / HTTPS/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET / FOO\r\nHost: h\r\n\r\n", 400);
}
END_TEST

START_TEST(test_target_forms)
{
    http_request req;

    must_accept("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    must_slice(req.path, "*");
    ck_assert_uint_eq(req.query.n, 0);
    must_refuse("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("OPTIONS ** HTTP/1.1\r\nHost: h\r\n\r\n", 400);

    must_accept("GET http://example.com:80/a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", &req);
    must_slice(req.target, "/a/b?x=1");
    must_slice(req.path, "/a/b");
    must_slice(req.query, "x=1");
    must_accept("GET HTTPS://Example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", &req);
    must_slice(req.target, "/");
    must_slice(req.path, "/");

    must_refuse("GET foo HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400); /* authority-form */
    must_refuse("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400); /* empty host */
    must_refuse("GET http://user@evil/x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET http://h?x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET /a\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    MUST_REFUSE_LIT("GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}
END_TEST

START_TEST(test_query_split)
{
    http_request req;
    must_accept("GET /p? HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    must_slice(req.path, "/p");
    must_slice(req.query, "");
    must_accept("GET /p?a=1?b HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    must_slice(req.path, "/p");
    must_slice(req.query, "a=1?b");
    must_accept("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    must_slice(req.path, "/");
    ck_assert_uint_eq(req.query.n, 0);
}
END_TEST

START_TEST(test_header_ows)
{
    http_request req;
    must_accept("GET / HTTP/1.1\r\nHost:h\r\nA:   v 1 \t \r\nB:\t\tx\r\nC:\r\nD:   \r\n\r\n", &req);
    ck_assert_int_eq(req.n_headers, 5);
    must_slice(req.headers[0].value, "h");
    must_slice(req.headers[1].value, "v 1");
    must_slice(req.headers[2].value, "x");
    must_slice(req.headers[3].value, "");
    must_slice(req.headers[4].value, "");
    /* obs-text is allowed in values */
    must_accept("GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n", &req);
    must_slice(req.headers[1].value, "caf\xc3\xa9");
}
END_TEST

START_TEST(test_400_header_name)
{
    must_refuse("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX Y: z\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\n: z\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX(y): z\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX\x01: z\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: z\r\n\r\n", 400);
    MUST_REFUSE_LIT("GET / HTTP/1.1\r\nHost: h\r\nX\0: z\r\n\r\n", 400);
}
END_TEST

START_TEST(test_400_obs_fold)
{
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\n Host: h\n\n", 400); /* space before the first header */
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\n \r\n\r\n", 400);
}
END_TEST

START_TEST(test_400_ctl_in_value)
{
    MUST_REFUSE_LIT("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01"
                "b\r\n\r\n",
                400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX: a\x1f\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400); /* bare CR */
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX: abc\r\r\n\r\n", 400);
    /* control bytes past the first 8 bytes of a value (the word-at-a-time path) */
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX: abcdefghijklmnopq\x02rs\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: h\r\nX: abcdefghijklmnop\x7fqrs\r\n\r\n", 400);

    http_request req;
    must_accept("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\r\nY: abcdefgh\tijklmnop\r\n\r\n", &req);
    must_slice(req.headers[1].value, "a\tb");
    must_slice(req.headers[2].value, "abcdefgh\tijklmnop");
}
END_TEST

START_TEST(test_host)
{
    http_request req;
    must_refuse("GET / HTTP/1.1\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nX: y\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
    must_refuse("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400);
    must_accept("GET / HTTP/1.1\r\nhOsT: [::1]:8080\r\n\r\n", &req);
    must_accept("GET / HTTP/1.1\r\nHost:\r\n\r\n", &req);
    must_accept("GET / HTTP/1.0\r\n\r\n", &req);
}
END_TEST

START_TEST(test_content_length)
{
    http_request req;
    must_accept("POST / HTTP/1.1\r\nHost: h\r\ncontent-LENGTH:  42 \r\n\r\n", &req);
    ck_assert(req.has_content_length);
    ck_assert_uint_eq(req.content_length, 42);
    must_accept("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &req);
    ck_assert(req.has_content_length);
    ck_assert_uint_eq(req.content_length, 0);
    must_accept("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", &req);
    ck_assert_uint_eq(req.content_length, UINT64_C(9223372036854775807));
    must_accept("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 005\r\n\r\n",
                &req);
    ck_assert_uint_eq(req.content_length, 5);

    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", 400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n", 400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", 400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5a\r\n\r\n", 400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\n", 400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", 400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                400);
}
END_TEST

START_TEST(test_transfer_encoding)
{
    http_request req;
    must_accept("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &req);
    ck_assert(req.chunked);
    ck_assert(!req.has_content_length);
    must_accept("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding:  ChUnKeD \t\r\n\r\n", &req);
    ck_assert(req.chunked);

    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 501);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 501);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n", 501);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 501);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                "Transfer-Encoding: chunked\r\n\r\n",
                501);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
                "Transfer-Encoding: chunked\r\n\r\n",
                501);

    /* smuggling: both framings */
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                "Transfer-Encoding: chunked\r\n\r\n",
                400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                "Content-Length: 5\r\n\r\n",
                400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
                "Content-Length: 5\r\n\r\n",
                400);
    /* HTTP/1.0 has no chunked coding */
    must_refuse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}
END_TEST

START_TEST(test_keep_alive)
{
    ck_assert(keep_alive_of(1, ""));
    ck_assert(!keep_alive_of(1, "Connection: close\r\n"));
    ck_assert(!keep_alive_of(1, "Connection: CLOSE\r\n"));
    ck_assert(keep_alive_of(1, "Connection: keep-alive\r\n"));
    ck_assert(keep_alive_of(1, "Connection: Upgrade\r\n"));
    ck_assert(!keep_alive_of(1, "Connection: Upgrade, close\r\n"));
    ck_assert(!keep_alive_of(1, "Connection: keep-alive, close\r\n"));
    ck_assert(!keep_alive_of(1, "Connection: upgrade\r\nConnection: close\r\n"));
    ck_assert(keep_alive_of(1, "Connection: closed\r\n"));
    ck_assert(!keep_alive_of(1, "Connection: ,, \t close\t ,\r\n"));

    ck_assert(!keep_alive_of(0, ""));
    ck_assert(keep_alive_of(0, "Connection: keep-alive\r\n"));
    ck_assert(keep_alive_of(0, "Connection: Keep-Alive\r\n"));
    ck_assert(keep_alive_of(0, "Connection: keep-alive, Upgrade\r\n"));
    ck_assert(keep_alive_of(0, "Connection: Upgrade,keep-alive\r\n"));
    ck_assert(!keep_alive_of(0, "Connection: keep-alive, close\r\n"));
    ck_assert(!keep_alive_of(0, "Connection: close\r\n"));
    ck_assert(!keep_alive_of(0, "Connection: keep-alivex\r\n"));
    ck_assert(!keep_alive_of(0, "Keep-Alive: timeout=5\r\n"));
}
END_TEST

START_TEST(test_expect)
{
    http_request req;
    must_accept("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", &req);
    ck_assert(req.expect_continue);
    must_accept("POST / HTTP/1.1\r\nHost: h\r\nexpect:  100-Continue \r\n\r\n", &req);
    ck_assert(req.expect_continue);
    must_accept("POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", &req);
    ck_assert(!req.expect_continue);
    must_accept("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &req);
    ck_assert(!req.expect_continue);
}
END_TEST

START_TEST(test_content_type)
{
    http_request req;
    must_accept("POST / HTTP/1.1\r\nHost: h\r\nContent-type:  application/json; charset=utf-8 \r\n"
                "Content-Type: text/plain\r\n\r\n",
                &req);
    must_slice(req.content_type, "application/json; charset=utf-8");
    must_accept("POST / HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    ck_assert_uint_eq(req.content_type.n, 0);
}
END_TEST

START_TEST(test_431_incomplete)
{
    const char *s = "GET / HTTP/1.1\r\nHost: h\r\nX: 0123456789\r\n";
    size_t n = strlen(s);
    http_request req;
    int status = 0;
    ck_assert_int_eq(http_parse_head(s, n, n + 1, &req, &status), 0);
    ck_assert_int_eq(http_parse_head(s, n, n, &req, &status), -1);
    ck_assert_int_eq(status, 431);
    ck_assert_int_eq(http_parse_head(s, n, 10, &req, &status), -1);
    ck_assert_int_eq(status, 431);
    /* a request line alone, longer than max_head */
    ck_assert_int_eq(http_parse_head("GET /aaaaaaaaaaaaaaaaaaaa", 25, 16, &req, &status), -1);
    ck_assert_int_eq(status, 431);
}
END_TEST

START_TEST(test_431_complete_too_long)
{
    const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /next";
    size_t head = strlen("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    http_request req;
    int status = 0;
    ck_assert_int_eq(http_parse_head(s, strlen(s), head, &req, &status), (int)head);
    ck_assert_int_eq(http_parse_head(s, strlen(s), head - 1, &req, &status), -1);
    ck_assert_int_eq(status, 431);
    ck_assert_int_eq(http_parse_head(s, head, head - 1, &req, &status), -1);
    ck_assert_int_eq(status, 431);
}
END_TEST

START_TEST(test_431_too_many_headers)
{
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 1; i < HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "X-%d: %d\r\n", i, i);
    size_t before_end = n;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n");
    http_request req;
    must_accept_n(buf, n, &req);
    ck_assert_int_eq(req.n_headers, HTTP_MAX_HEADERS);
    must_slice(req.headers[HTTP_MAX_HEADERS - 1].value, "63");

    n = before_end +
        (size_t)snprintf(buf + before_end, sizeof buf - before_end, "One: more\r\n\r\n");
    must_refuse_n(buf, n, 431);
}
END_TEST

START_TEST(test_pipelined)
{
    const char *s = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                    "POST /b?x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi"
                    "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    size_t len = strlen(s);
    http_request req;
    int status;

    int a = http_parse_head(s, len, MAX_HEAD, &req, &status);
    ck_assert_int_eq(a, (int)strlen("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
    must_slice(req.path, "/a");

    int b = http_parse_head(s + a, len - (size_t)a, MAX_HEAD, &req, &status);
    ck_assert_int_gt(b, 0);
    must_slice(req.path, "/b");
    must_slice(req.query, "x");
    ck_assert_uint_eq(req.content_length, 2);
    ck_assert(!memcmp(s + a + b, "hi", 2));

    size_t off = (size_t)a + (size_t)b + 2;
    int c = http_parse_head(s + off, len - off, MAX_HEAD, &req, &status);
    ck_assert_int_eq(c, (int)(len - off));
    must_slice(req.path, "/c");
    ck_assert(!req.keep_alive);
}
END_TEST

/* Every prefix gives 0 until the head is complete, then the one-piece result. */
START_TEST(test_incremental_every_split)
{
    const char *s = "\r\nPOST /v1/jobs?wait=2 HTTP/1.1\r\n"
                    "Host: example.com\r\n"
                    "Content-Type: application/json\r\n"
                    "Content-Length: 17\r\n"
                    "Connection: keep-alive, Upgrade\r\n"
                    "Expect: 100-continue\r\n"
                    "\r\n"
                    "{\"fn\": \"count\"}xx";
    size_t len = strlen(s);
    http_request whole, part;
    int status;
    int n = http_parse_head(s, len, MAX_HEAD, &whole, &status);
    ck_assert_int_eq(n, (int)(strstr(s, "\r\n\r\n") + 4 - s));

    for (size_t k = 0; k < len; k++) {
        int rc = http_parse_head(s, k, MAX_HEAD, &part, &status);
        if (k < (size_t)n) {
            ck_assert_msg(rc == 0, "prefix %zu: got %d (status %d)", k, rc, status);
            continue;
        }
        ck_assert_int_eq(rc, n);
        ck_assert_int_eq(part.method, whole.method);
        ck_assert_ptr_eq(part.path.p, whole.path.p);
        ck_assert_uint_eq(part.path.n, whole.path.n);
        must_slice(part.query, "wait=2");
        ck_assert_uint_eq(part.content_length, 17);
        ck_assert(part.keep_alive && part.expect_continue);
        ck_assert_int_eq(part.n_headers, whole.n_headers);
    }
}
END_TEST

/* A bad request is refused as soon as its bad line is complete, and then for
 * every longer prefix with the same status. */
START_TEST(test_incremental_refusal)
{
    static const struct {
        const char *s;
        int status;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\nA: b\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *s = cases[i].s;
        size_t len = strlen(s);
        bool refused = false;
        for (size_t k = 0; k <= len; k++) {
            http_request req;
            int status;
            int rc = http_parse_head(s, k, MAX_HEAD, &req, &status);
            if (refused)
                ck_assert_msg(rc == -1 && status == cases[i].status, "case %zu prefix %zu", i, k);
            else
                ck_assert_msg(rc == 0 || (rc == -1 && status == cases[i].status),
                              "case %zu prefix %zu: %d/%d", i, k, rc, status);
            refused = rc == -1;
        }
        ck_assert(refused);
    }
    /* binary junk is refused at its first byte, before any line end */
    http_request req;
    int status;
    ck_assert_int_eq(http_parse_head("\x16", 1, MAX_HEAD, &req, &status), -1);
    ck_assert_int_eq(status, 400);
}
END_TEST

START_TEST(test_lf_only)
{
    const char *s = "POST /x HTTP/1.1\nHost: h\nContent-Length: 3\n\nabc";
    http_request req;
    int status;
    int rc = parse(s, &req, &status);
    ck_assert_int_eq(rc, (int)(strlen(s) - 3));
    must_slice(req.headers[0].value, "h");
    must_slice(req.headers[1].value, "3");
    ck_assert_uint_eq(req.content_length, 3);
    /* mixed line ends */
    must_accept("GET / HTTP/1.1\nHost: h\r\nA: b\n\r\n", &req);
    must_slice(req.headers[1].value, "b");
    must_accept("GET / HTTP/1.1\r\nHost: h\n\n", &req);
}
END_TEST

START_TEST(test_leading_empty_lines)
{
    http_request req;
    must_accept("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    must_slice(req.method_name, "GET");
    must_accept("\n\r\n\nGET /x HTTP/1.0\n\n", &req);
    must_slice(req.path, "/x");
    int status;
    ck_assert_int_eq(parse("\r\n\r\n", &req, &status), 0);
    ck_assert_int_eq(parse("\r", &req, &status), 0);
    ck_assert_int_eq(parse("", &req, &status), 0);
    must_refuse("\r\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_header_lookup)
{
    http_request req;
    must_accept("GET / HTTP/1.1\r\nHost: h\r\nIdempotency-Key: k1\r\nPrefer: wait=5\r\n\r\n", &req);
    const http_slice *v = http_request_header(&req, "idempotency-key");
    ck_assert_ptr_nonnull(v);
    must_slice(*v, "k1");
    v = http_request_header(&req, "PREFER");
    ck_assert_ptr_nonnull(v);
    must_slice(*v, "wait=5");
    ck_assert_ptr_null(http_request_header(&req, "Prefe"));
    ck_assert_ptr_null(http_request_header(&req, "Preferx"));
    ck_assert_ptr_null(http_request_header(&req, "Content-Length"));
}
END_TEST

START_TEST(test_slice_eq)
{
    http_slice s = {"Keep-Alive", 10};
    ck_assert(http_slice_eq(s, "keep-alive"));
    ck_assert(http_slice_eq(s, "KEEP-ALIVE"));
    ck_assert(!http_slice_eq(s, "keep-aliv"));
    ck_assert(!http_slice_eq(s, "keep-alivee"));
    ck_assert(!http_slice_eq(s, "keep_alive"));
    ck_assert(http_slice_eq((http_slice){NULL, 0}, ""));
    ck_assert(!http_slice_eq((http_slice){"[", 1}, "{"));
    ck_assert(!http_slice_eq((http_slice){"@", 1}, "`"));
}
END_TEST

START_TEST(test_query_get)
{
    const char *qs = "a=1&bb=22&flag&empty=&a=dup&x=y=z&&=v";
    http_slice q = {qs, strlen(qs)};
    bool found;
    must_slice(http_query_get(q, "a", &found), "1");
    ck_assert(found);
    must_slice(http_query_get(q, "bb", &found), "22");
    ck_assert(found);
    http_slice v = http_query_get(q, "flag", &found);
    ck_assert(found);
    ck_assert_uint_eq(v.n, 0);
    must_slice(http_query_get(q, "empty", &found), "");
    ck_assert(found);
    must_slice(http_query_get(q, "x", &found), "y=z");
    must_slice(http_query_get(q, "", &found), "v");
    ck_assert(found);
    http_query_get(q, "b", &found);
    ck_assert(!found);
    http_query_get(q, "A", &found);
    ck_assert(!found); /* keys are case-sensitive */
    http_query_get(q, "fla", &found);
    ck_assert(!found);
    http_query_get(q, "flagx", &found);
    ck_assert(!found);
    http_query_get((http_slice){NULL, 0}, "a", &found);
    ck_assert(!found);

    http_request req;
    must_accept("GET /v1/jobs?state=queued&limit=10 HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    must_slice(http_query_get(req.query, "limit", &found), "10");
    ck_assert(found);
    must_accept("GET /v1/jobs HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    http_query_get(req.query, "limit", &found);
    ck_assert(!found);
}
END_TEST

/* The parser's byte-class table, cross-checked against the RFC grammar for every byte. */
START_TEST(test_byte_classes)
{
    for (int c = 0; c < 256; c++) {
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool tchar = alnum || (c && strchr("!#$%&'*+-.^_`|~", c));
        bool vchar = c == '\t' || (c >= 0x20 && c != 0x7f);
        bool target = c > 0x20 && c < 0x7f && c != '#';
        bool host = alnum || (c && strchr("-._~!$&'()*+,;=:[]%", c));
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        char buf[128];
        http_request req;
        int status, n;

        n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\nA%cB: v\r\n\r\n", c);
        ck_assert_msg((parse_n(buf, (size_t)n, &req, &status) > 0) == (tchar || c == ':'),
                      "name byte 0x%02x", c);
        n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\nX: a%cb\r\n\r\n", c);
        ck_assert_msg((parse_n(buf, (size_t)n, &req, &status) > 0) == vchar, "value byte 0x%02x",
                      c);
        n = snprintf(buf, sizeof buf, "GET /a%cb HTTP/1.1\r\nHost: h\r\n\r\n", c);
        ck_assert_msg((parse_n(buf, (size_t)n, &req, &status) > 0) == target, "target byte 0x%02x",
                      c);
        n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a%cb\r\n\r\n", c);
        ck_assert_msg((parse_n(buf, (size_t)n, &req, &status) > 0) == host, "host byte 0x%02x", c);

        char in[3] = {(char)c, '\r', '\n'}, out[4];
        size_t consumed, produced;
        ck_assert_msg((decode_once(in, 3, out, &consumed, &produced) == 0) == hex,
                      "hex byte 0x%02x", c);
    }
}
END_TEST

/* ---------------------------------------------------------------- chunked */

static const char CHUNKED[] = "5\r\nhello\r\n"
                              "1;name=value;x=\"q\"\r\n \r\n"
                              "B\r\nworld, 1234\r\n"
                              "0\r\n"
                              "Trailer-A: 1\r\nTrailer-B: two\r\n"
                              "\r\n"
                              "GET /next";
static const char DECODED[] = "hello world, 1234";

START_TEST(test_chunked_one_shot)
{
    char out[256];
    size_t consumed, produced;
    size_t len = strlen(CHUNKED);
    int rc = decode_once(CHUNKED, len, out, &consumed, &produced);
    ck_assert_int_eq(rc, 1);
    ck_assert_uint_eq(consumed, len - strlen("GET /next"));
    ck_assert_uint_eq(produced, strlen(DECODED));
    ck_assert(!memcmp(out, DECODED, produced));
}
END_TEST

START_TEST(test_chunked_byte_by_byte)
{
    char out[256];
    size_t len = strlen(CHUNKED);
    for (size_t step = 1; step <= 7; step++) {
        size_t consumed, produced;
        int rc = decode_steps(CHUNKED, len, step, out, &consumed, &produced);
        ck_assert_int_eq(rc, 1);
        ck_assert_uint_eq(consumed, len - strlen("GET /next"));
        ck_assert_uint_eq(produced, strlen(DECODED));
        ck_assert(!memcmp(out, DECODED, produced));
    }
}
END_TEST

/* Split in two at every point, decoding in place as a connection buffer would. */
START_TEST(test_chunked_every_split_in_place)
{
    size_t len = strlen(CHUNKED);
    for (size_t k = 0; k <= len; k++) {
        char buf[256];
        memcpy(buf, CHUNKED, len);
        http_chunked c;
        size_t c1, p1, c2 = 0, p2 = 0;
        http_chunked_init(&c);
        int rc = http_chunked_decode(&c, buf, k, buf, &c1, &p1);
        ck_assert_int_ne(rc, -1);
        if (rc == 0) {
            ck_assert_uint_eq(c1, k);
            rc = http_chunked_decode(&c, buf + c1, len - c1, buf + p1, &c2, &p2);
        }
        ck_assert_int_eq(rc, 1);
        ck_assert_uint_eq(c1 + c2, len - strlen("GET /next"));
        ck_assert_uint_eq(p1 + p2, strlen(DECODED));
        ck_assert(!memcmp(buf, DECODED, p1 + p2));
        ck_assert_uint_eq(c.total, strlen(DECODED));
        ck_assert(!memcmp(buf + c1 + c2, "GET /next", 9));
    }
}
END_TEST

START_TEST(test_chunked_in_place)
{
    char buf[256];
    size_t len = strlen(CHUNKED), consumed, produced;
    memcpy(buf, CHUNKED, len + 1);
    int rc = decode_once(buf, len, buf, &consumed, &produced);
    ck_assert_int_eq(rc, 1);
    ck_assert_uint_eq(produced, strlen(DECODED));
    ck_assert(!memcmp(buf, DECODED, produced));
}
END_TEST

START_TEST(test_chunked_forms)
{
    static const struct {
        const char *in;
        const char *out;
    } ok[] = {
        {"0\r\n\r\n", ""},
        {"0\n\n", ""},
        {"3\nabc\n0\n\n", "abc"},                       /* bare LF everywhere */
        {"a\r\n0123456789\r\n0\r\n\r\n", "0123456789"}, /* lowercase hex */
        {"A\r\n0123456789\r\n0\r\n\r\n", "0123456789"}, /* uppercase hex */
        {"0003\r\nabc\r\n000\r\n\r\n", "abc"},          /* leading zeros */
        {"3;\r\nabc\r\n0;done\r\n\r\n", "abc"},         /* empty extension */
        {"3 ;a=b\r\nabc\r\n0\t;x\r\n\r\n", "abc"},      /* BWS before ';' */
        {"3  \r\nabc\r\n0\r\n\r\n", "abc"},             /* whitespace before the line end */
        {"3\r\na\r\n\r\n0\r\nX: y\r\n\r\n", "a\r\n"},   /* CRLF inside data */
        {"0\r\nX: a\tb\r\nY:\r\n\r\n", ""},             /* trailers */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char out[64];
        size_t consumed, produced, len = strlen(ok[i].in);
        int rc = decode_once(ok[i].in, len, out, &consumed, &produced);
        ck_assert_msg(rc == 1, "case %zu: rc %d", i, rc);
        ck_assert_uint_eq(consumed, len);
        ck_assert_uint_eq(produced, strlen(ok[i].out));
        ck_assert(!memcmp(out, ok[i].out, produced));
        rc = decode_steps(ok[i].in, len, 1, out, &consumed, &produced);
        ck_assert_int_eq(rc, 1);
        ck_assert_uint_eq(produced, strlen(ok[i].out));
    }
}
END_TEST

START_TEST(test_chunked_malformed)
{
    static const char *bad[] = {
        "\r\n",                     /* empty size line */
        "x\r\n",                    /* not hex */
        "5x\r\nhello\r\n0\r\n\r\n", /* junk after the size */
        "-5\r\n",                   /* sign */
        "+5\r\n",
        " 5\r\n", /* whitespace first */
        "5 5\r\n",
        "0x5\r\n",
        "5\rhello\r\n",    /* bare CR on the size line */
        "5;a\rb\r\n",      /* bare CR in an extension */
        "5;a\x01\r\n",     /* control byte in an extension */
        "5\r\nhelloX\r\n", /* missing CRLF after the data */
        "5\r\nhello\rX",   /* CR without LF after the data */
        "5\r\nhello\r\r\n",
        "5\r\nhello0\r\n\r\n",
        "0\r\nX: y\rZ\r\n\r\n", /* bare CR in a trailer */
        "0\r\nX: \x01\r\n\r\n", /* control byte in a trailer */
        "0\r\n\r\r\n",          /* CR CR at the end */
        "1000000000000000\r\n", /* 2^60: overflow */
        "ffffffffffffffffff\r\n",
        "100000000000000000000000000000000\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[64];
        size_t consumed, produced, len = strlen(bad[i]);
        int rc = decode_once(bad[i], len, out, &consumed, &produced);
        ck_assert_msg(rc == -1, "case %zu (\"%s\"): rc %d", i, bad[i], rc);
        rc = decode_steps(bad[i], len, 1, out, &consumed, &produced);
        ck_assert_msg(rc == -1, "case %zu bytewise: rc %d", i, rc);
    }
}
END_TEST

START_TEST(test_chunked_size_limits)
{
    char out[16];
    size_t consumed, produced;
    /* 2^60 - 1 is the largest size: accepted, then waits for the data */
    const char *max = "fffffffffffffff\r\nab";
    ck_assert_int_eq(decode_once(max, strlen(max), out, &consumed, &produced), 0);
    ck_assert_uint_eq(consumed, strlen(max));
    ck_assert_uint_eq(produced, 2);

    /* a size line of exactly HTTP_CHUNKED_LINE_MAX bytes is fine, one more is not */
    static char line[HTTP_CHUNKED_LINE_MAX + 64];
    size_t n = 0;
    line[n++] = '1';
    line[n++] = ';';
    while (n < HTTP_CHUNKED_LINE_MAX)
        line[n++] = 'e';
    memcpy(line + n, "\r\nZ\r\n0\r\n\r\n", 11);
    ck_assert_int_eq(decode_once(line, n + 10, out, &consumed, &produced), 1);
    ck_assert_uint_eq(produced, 1);
    ck_assert_int_eq(decode_steps(line, n + 10, 1, out, &consumed, &produced), 1);
    line[n++] = 'e';
    memcpy(line + n, "\r\nZ\r\n0\r\n\r\n", 11);
    ck_assert_int_eq(decode_once(line, n + 10, out, &consumed, &produced), -1);
    ck_assert_int_eq(decode_steps(line, n + 10, 1, out, &consumed, &produced), -1);

    /* long runs of leading zeros are bounded by the line limit too */
    memset(line, '0', HTTP_CHUNKED_LINE_MAX + 1);
    memcpy(line + HTTP_CHUNKED_LINE_MAX + 1, "\r\n\r\n", 4);
    ck_assert_int_eq(decode_once(line, HTTP_CHUNKED_LINE_MAX + 5, out, &consumed, &produced), -1);
    ck_assert_int_eq(decode_once(line + 1, HTTP_CHUNKED_LINE_MAX + 4, out, &consumed, &produced),
                     1);

    /* a trailer line over the limit */
    n = (size_t)snprintf(line, sizeof line, "0\r\nX: ");
    while (n < HTTP_CHUNKED_LINE_MAX + 10)
        line[n++] = 'v';
    memcpy(line + n, "\r\n\r\n", 4);
    ck_assert_int_eq(decode_once(line, n + 4, out, &consumed, &produced), -1);
}
END_TEST

START_TEST(test_chunked_state_after_end)
{
    http_chunked c;
    char out[32];
    size_t consumed, produced;
    const char *in = "2\r\nok\r\n0\r\n\r\nNEXT";
    http_chunked_init(&c);
    ck_assert_int_eq(http_chunked_decode(&c, in, strlen(in), out, &consumed, &produced), 1);
    ck_assert_uint_eq(consumed, strlen(in) - 4);
    ck_assert_uint_eq(c.total, 2);
    /* finished: nothing more is taken */
    ck_assert_int_eq(http_chunked_decode(&c, "NEXT", 4, out, &consumed, &produced), 1);
    ck_assert_uint_eq(consumed, 0);
    ck_assert_uint_eq(produced, 0);
    /* errors are sticky */
    http_chunked_init(&c);
    ck_assert_int_eq(http_chunked_decode(&c, "z", 1, out, &consumed, &produced), -1);
    ck_assert_int_eq(http_chunked_decode(&c, "0\r\n\r\n", 5, out, &consumed, &produced), -1);
    /* empty input while waiting */
    http_chunked_init(&c);
    ck_assert_int_eq(http_chunked_decode(&c, "", 0, out, &consumed, &produced), 0);
    ck_assert_uint_eq(consumed, 0);
}
END_TEST

/* A large chunk arriving in pieces: data is copied in bulk, total grows. */
START_TEST(test_chunked_large)
{
    enum { N = 100000 };
    char *in = malloc(N + 64), *out = malloc(N);
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    size_t n = (size_t)sprintf(in, "%x\r\n", N);
    for (size_t i = 0; i < N; i++)
        in[n + i] = (char)('a' + i % 26);
    n += N;
    memcpy(in + n, "\r\n0\r\n\r\n", 7);
    n += 7;
    size_t consumed, produced;
    ck_assert_int_eq(decode_steps(in, n, 4093, out, &consumed, &produced), 1);
    ck_assert_uint_eq(consumed, n);
    ck_assert_uint_eq(produced, N);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(out[i], 'a' + (int)(i % 26));
    free(in);
    free(out);
}
END_TEST

/* ---------------------------------------------------------------- main */

static Suite *http_parser_suite(void)
{
    Suite *s = suite_create("http_parser");
    TCase *head = tcase_create("head");
    tcase_add_test(head, test_get_simple);
    tcase_add_test(head, test_post_with_body);
    tcase_add_test(head, test_methods);
    tcase_add_test(head, test_400_method);
    tcase_add_test(head, test_400_request_line);
    tcase_add_test(head, test_version);
    tcase_add_test(head, test_target_forms);
    tcase_add_test(head, test_query_split);
    tcase_add_test(head, test_header_ows);
    tcase_add_test(head, test_400_header_name);
    tcase_add_test(head, test_400_obs_fold);
    tcase_add_test(head, test_400_ctl_in_value);
    tcase_add_test(head, test_host);
    tcase_add_test(head, test_content_length);
    tcase_add_test(head, test_transfer_encoding);
    tcase_add_test(head, test_keep_alive);
    tcase_add_test(head, test_expect);
    tcase_add_test(head, test_content_type);
    tcase_add_test(head, test_431_incomplete);
    tcase_add_test(head, test_431_complete_too_long);
    tcase_add_test(head, test_431_too_many_headers);
    tcase_add_test(head, test_pipelined);
    tcase_add_test(head, test_incremental_every_split);
    tcase_add_test(head, test_incremental_refusal);
    tcase_add_test(head, test_lf_only);
    tcase_add_test(head, test_leading_empty_lines);
    tcase_add_test(head, test_request_header_lookup);
    suite_add_tcase(s, head);

    TCase *util = tcase_create("util");
    tcase_add_test(util, test_slice_eq);
    tcase_add_test(util, test_query_get);
    tcase_add_test(util, test_byte_classes);
    suite_add_tcase(s, util);

    TCase *chunked = tcase_create("chunked");
    tcase_add_test(chunked, test_chunked_one_shot);
    tcase_add_test(chunked, test_chunked_byte_by_byte);
    tcase_add_test(chunked, test_chunked_every_split_in_place);
    tcase_add_test(chunked, test_chunked_in_place);
    tcase_add_test(chunked, test_chunked_forms);
    tcase_add_test(chunked, test_chunked_malformed);
    tcase_add_test(chunked, test_chunked_size_limits);
    tcase_add_test(chunked, test_chunked_state_after_end);
    tcase_add_test(chunked, test_chunked_large);
    suite_add_tcase(s, chunked);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_parser_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
