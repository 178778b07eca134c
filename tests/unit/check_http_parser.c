/*
 * check_http_parser.c - unit tests for worker/http_parser.c: every refusal
 * status, CRLF-only lines, keep-alive rules, pipelining, incremental arrival,
 * target forms and versions. The chunked decoder, the URL decoder and media
 * types have their own (check_http_chunked.c, check_http_url.c,
 * check_http_media.c).
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

    /* HTTP/1.2 .. 1.9: a later 1.x, served as 1.1 (RFC 9110 2.5) */
    for (char minor = '2'; minor <= '9'; minor++) {
        char buf[64];
        snprintf(buf, sizeof buf, "GET / HTTP/1.%c\r\nHost: h\r\n\r\n", minor);
        must_accept(buf, &req);
        ck_assert_int_eq(req.version_minor, 1);
        ck_assert(req.keep_alive);
        snprintf(buf, sizeof buf, "GET / HTTP/1.%c\r\n\r\n", minor);
        must_refuse(buf, 400); /* and a Host, as in 1.1 */
    }
    must_accept("POST / HTTP/1.5\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &req);
    ck_assert(req.chunked);

    must_refuse("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    must_refuse("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505);
    must_refuse("GET / HTTP/0.1\r\nHost: h\r\n\r\n", 505);
    must_refuse("GET / HTTP/9.9\r\nHost: h\r\n\r\n", 505);
    must_refuse("GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505);

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
    must_slice(req.target, "http://example.com:80/a/b?x=1"); /* as sent, for the log */
    must_slice(req.path, "/a/b");
    must_slice(req.query, "x=1");
    must_accept("GET HTTPS://Example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", &req);
    must_slice(req.target, "HTTPS://Example.com");
    must_slice(req.path, "/");
    ck_assert_uint_eq(req.query.n, 0);
    /* an empty path is "/", also before a query (RFC 9112 3.2.2) */
    must_accept("GET http://h?x HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    must_slice(req.path, "/");
    must_slice(req.query, "x");
    must_slice(req.target, "http://h?x");
    must_accept("GET http://h:8080?a=1&b=2 HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    must_slice(req.path, "/");
    must_slice(req.query, "a=1&b=2");
    must_accept("GET http://h? HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    must_slice(req.path, "/");
    must_slice(req.query, "");

    must_refuse("GET foo HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400); /* authority-form */
    must_refuse("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400); /* empty host */
    must_refuse("GET http://user@evil/x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    must_refuse("GET http://?x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
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
    must_refuse("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400); /* space before the first header */
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
                "\r\n",
                &req);
    must_slice(req.content_type, "application/json; charset=utf-8");
    must_accept("POST / HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    ck_assert_ptr_null(req.content_type.p);
    must_accept("POST / HTTP/1.1\r\nHost: h\r\nContent-Type:\r\n\r\n", &req);
    ck_assert_ptr_nonnull(req.content_type.p); /* present, empty */
    ck_assert_uint_eq(req.content_type.n, 0);
    /* two media types: a proxy may pass either on */
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                "Content-Type: text/plain\r\n\r\n",
                400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                "content-type: application/json\r\n\r\n",
                400);
    must_refuse("POST / HTTP/1.1\r\nHost: h\r\nContent-Type:\r\n"
                "Content-Type: application/json\r\n\r\n",
                400);
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

/* Every line of the head ends in CRLF: a bare LF anywhere is refused, as
 * soon as it arrives (CVE-2022-32214 class: a proxy may not see a line end). */
START_TEST(test_bare_lf)
{
    static const char *const bad[] = {
        "POST /x HTTP/1.1\nHost: h\r\nContent-Length: 3\r\n\r\nabc", /* request line */
        "GET / HTTP/1.1\r\nHost: h\nA: b\r\n\r\n",                    /* header line */
        "GET / HTTP/1.1\r\nHost: h\r\nA: b\n\r\n",                    /* last header */
        "GET / HTTP/1.1\r\nHost: h\r\n\n",                            /* the empty line */
        "GET / HTTP/1.1\nHost: h\n\n",
        "GET / HTTP/1.0\n\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n",
        "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", /* a leading empty line too */
        "\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        must_refuse(bad[i], 400);
        /* refused once the LF is in, whatever follows */
        const char *lf = bad[i];
        while ((lf = strchr(lf, '\n')) && lf > bad[i] && lf[-1] == '\r')
            lf++;
        ck_assert_ptr_nonnull(lf);
        must_refuse_n(bad[i], (size_t)(lf - bad[i]) + 1, 400);
    }
}
END_TEST

START_TEST(test_leading_empty_lines)
{
    http_request req;
    must_accept("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", &req);
    must_slice(req.method_name, "GET");
    must_accept("\r\nGET /x HTTP/1.0\r\n\r\n", &req);
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

/* The parser's byte-class table, cross-checked against the RFC grammar for every byte. */
START_TEST(test_byte_classes)
{
    for (int c = 0; c < 256; c++) {
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool tchar = alnum || (c && strchr("!#$%&'*+-.^_`|~", c));
        bool vchar = c == '\t' || (c >= 0x20 && c != 0x7f);
        bool target = c > 0x20 && c < 0x7f && c != '#';
        bool host = alnum || (c && strchr("-._~!$&'()*+,;=:[]%", c));
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
    }
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
    tcase_add_test(head, test_bare_lf);
    tcase_add_test(head, test_leading_empty_lines);
    tcase_add_test(head, test_request_header_lookup);
    suite_add_tcase(s, head);

    TCase *util = tcase_create("util");
    tcase_add_test(util, test_slice_eq);
    tcase_add_test(util, test_byte_classes);
    suite_add_tcase(s, util);

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
