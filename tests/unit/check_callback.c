/*
 * check_callback.c - unit tests for common/callback.c: URL parsing, the
 * signature and the back-off. The allow list is tested in
 * check_callback_allow.c, deliveries (callback_post) in check_callback_post.c.
 *
 * Parsing cases are tables; each row is its own Check test so a failure names
 * the row.
 */
#include "callback.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- parsing ---- */

typedef struct parse_ok {
    const char *url;
    const char *host;
    int port;
    const char *path;
    const char *hostport;
} parse_ok;

static const parse_ok parse_ok_cases[] = {
    {"http://127.0.0.1:8080/hook", "127.0.0.1", 8080, "/hook", "127.0.0.1:8080"},
    {"http://localhost", "localhost", 80, "/", "localhost"},
    {"http://localhost/", "localhost", 80, "/", "localhost"},
    {"http://localhost:80/x", "localhost", 80, "/x", "localhost"},
    {"HTTP://Example.ORG/a/b?x=1&y=2", "Example.ORG", 80, "/a/b?x=1&y=2", "Example.ORG"},
    {"http://host?x=1", "host", 80, "/?x=1", "host"},
    {"http://a-b.c-d.example:65535/", "a-b.c-d.example", 65535, "/", "a-b.c-d.example:65535"},
    {"http://h:1/%20x%23y", "h", 1, "/%20x%23y", "h:1"},
    {"http://h:00081/", "h", 81, "/", "h:81"},
    {"http://[::1]:9000/cb", "::1", 9000, "/cb", "[::1]:9000"},
    {"http://[::1]", "::1", 80, "/", "[::1]"},
    {"http://[2001:db8::1]:80/p?q", "2001:db8::1", 80, "/p?q", "[2001:db8::1]"},
    {"http://[::ffff:10.0.0.1]:81/", "::ffff:10.0.0.1", 81, "/", "[::ffff:10.0.0.1]:81"},
    {"http://10.0.0.1/a/../b", "10.0.0.1", 80, "/a/../b", "10.0.0.1"},
};

START_TEST(test_parse_valid)
{
    const parse_ok *c = &parse_ok_cases[_i];
    callback_url u;
    char err[256] = "";
    int rc = callback_parse(c->url, &u, err, sizeof(err));
    ck_assert_msg(rc == 0, "callback_parse(%s) failed: %s", c->url, err);
    ck_assert_str_eq(u.host, c->host);
    ck_assert_int_eq(u.port, c->port);
    ck_assert_str_eq(u.path, c->path);
    ck_assert_str_eq(u.hostport, c->hostport);
}
END_TEST

typedef struct parse_bad {
    const char *url;
    const char *want;
} parse_bad;

#define MSG_ONLY_HTTP "callback: only http:// URLs are supported"
#define MSG_HTTPS "callback: https:// is not supported (crunchd has no TLS client); use http://"
#define MSG_EMPTY_HOST "callback: URL has an empty host"
#define MSG_USERINFO "callback: URL must not contain userinfo ('user@')"
#define MSG_FRAGMENT "callback: URL must not have a fragment ('#')"
#define MSG_BYTE(off)                                                                              \
    "callback: URL has a control, space or non-ASCII byte at offset " off " (percent-encode it)"
#define MSG_QUAD(h) "callback: host \"" h "\" is not a dotted-quad IPv4 address"

static const parse_bad parse_bad_cases[] = {
    {"", MSG_ONLY_HTTP},
    {"localhost:8080/x", MSG_ONLY_HTTP},
    {"ftp://localhost/", MSG_ONLY_HTTP},
    {"http:/localhost/", MSG_ONLY_HTTP},
    {"https://localhost/", MSG_HTTPS},
    {"HTTPS://localhost:8443/x", MSG_HTTPS},
    {"http://", MSG_EMPTY_HOST},
    {"http:///x", MSG_EMPTY_HOST},
    {"http://:80/", MSG_EMPTY_HOST},
    {"http://?x", MSG_EMPTY_HOST},
    {"http://[]/", MSG_EMPTY_HOST},
    {"http://::1/", MSG_EMPTY_HOST},
    {"http://user@localhost/", MSG_USERINFO},
    {"http://user:pw@localhost:80/", MSG_USERINFO},
    {"http://localhost@10.0.0.1/", MSG_USERINFO},
    {"http://localhost/#frag", MSG_FRAGMENT},
    {"http://localhost#", MSG_FRAGMENT},
    {"http://localhost:0/", "callback: bad port \"0\" (expected 1 to 65535)"},
    {"http://localhost:65536/", "callback: bad port \"65536\" (expected 1 to 65535)"},
    {"http://localhost:/", "callback: bad port \"\" (expected 1 to 65535)"},
    {"http://localhost:8a/", "callback: bad port \"8a\" (expected 1 to 65535)"},
    {"http://localhost:-1/", "callback: bad port \"-1\" (expected 1 to 65535)"},
    {"http://localhost:123456/", "callback: bad port \"123456\" (expected 1 to 65535)"},
    {"http://localhost:80:81/", "callback: bad port \"80:81\" (expected 1 to 65535)"},
    {"http://[::1]:/", "callback: bad port \"\" (expected 1 to 65535)"},
    {"http://localhost/a b", MSG_BYTE("18")},
    {"http://localhost/\x01", MSG_BYTE("17")},
    {"http://localhost/x\r\nHost: evil", MSG_BYTE("18")},
    {"http://local\thost/", MSG_BYTE("12")},
    {"http://localhost/\x7f", MSG_BYTE("17")},
    {"http://localhost/caf\xc3\xa9", MSG_BYTE("20")},
    {"http://[::1/", "callback: missing ']' after IPv6 address"},
    {"http://[::1]x/", "callback: unexpected text after ']'"},
    {"http://[::1]]/", "callback: unexpected text after ']'"},
    {"http://[fe80::1%25eth0]/", "callback: bad IPv6 address \"[fe80::1%25eth0]\""},
    {"http://[127.0.0.1]/", "callback: bad IPv6 address \"[127.0.0.1]\""},
    {"http://[::g]/", "callback: bad IPv6 address \"[::g]\""},
    {"http://127.1/", MSG_QUAD("127.1")},
    {"http://0x7f.0.0.1/", MSG_QUAD("0x7f.0.0.1")},
    {"http://2130706433:80/", MSG_QUAD("2130706433")},
    {"http://0177.0.0.1/", MSG_QUAD("0177.0.0.1")},
    {"http://300.1.1.1/", "callback: bad host \"300.1.1.1\""},
    {"http://-bad.example/", "callback: bad host \"-bad.example\""},
    {"http://bad-.example/", "callback: bad host \"bad-.example\""},
    {"http://a..b/", "callback: bad host \"a..b\""},
    {"http://localhost./", "callback: bad host \"localhost.\""},
    {"http://host_name/", "callback: bad host \"host_name\""},
    {"http://%6cocalhost/", "callback: bad host \"%6cocalhost\""},
};

START_TEST(test_parse_invalid)
{
    const parse_bad *c = &parse_bad_cases[_i];
    callback_url u = {.port = 4242};
    char err[256] = "";
    int rc = callback_parse(c->url, &u, err, sizeof(err));
    ck_assert_msg(rc == -1, "callback_parse(%s) succeeded, want \"%s\"", c->url, c->want);
    ck_assert_msg(strcmp(err, c->want) == 0, "callback_parse(%s):\n got \"%s\"\nwant \"%s\"",
                  c->url, err, c->want);
    ck_assert_int_eq(u.port, 4242); /* *out untouched on error */
}
END_TEST

START_TEST(test_parse_length)
{
    static char url[CALLBACK_URL_MAX + 2];
    callback_url u;
    char err[256] = "";
    size_t pre = strlen("http://h/");
    memcpy(url, "http://h/", pre);
    memset(url + pre, 'a', CALLBACK_URL_MAX - pre);
    url[CALLBACK_URL_MAX] = '\0';
    ck_assert_int_eq(callback_parse(url, &u, err, sizeof(err)), 0);
    ck_assert_uint_eq(strlen(u.path), CALLBACK_URL_MAX - pre + 1);
    url[CALLBACK_URL_MAX] = 'a';
    url[CALLBACK_URL_MAX + 1] = '\0';
    ck_assert_int_eq(callback_parse(url, &u, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callback: URL longer than 2048 bytes");

    /* The longest name (253 bytes) with the longest port still fits hostport. */
    memset(url, 0, sizeof(url));
    strcpy(url, "http://");
    for (int i = 0; i < 4; i++)
        strcat(url, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
    strcat(url, "a:65535/");
    ck_assert_int_eq(callback_parse(url, &u, err, sizeof(err)), 0);
    ck_assert_uint_eq(strlen(u.host), 253);
    ck_assert_uint_eq(strlen(u.hostport), 259);
}
END_TEST

START_TEST(test_parse_errors_and_small_buffers)
{
    callback_url u;
    char err[8];
    ck_assert_int_eq(callback_parse(NULL, &u, NULL, 0), -1);
    ck_assert_int_eq(callback_parse("ftp://x", &u, NULL, 0), -1);
    ck_assert_int_eq(callback_parse("ftp://x", &u, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callbac"); /* truncated, NUL-terminated */
}
END_TEST

/* ---- signature ---- */

START_TEST(test_sign_vectors)
{
    /* Expected values from Python: hmac.new(key, b"<ts>.<body>", hashlib.sha256). */
    static const char body[] = "{\"id\":\"0123abcd\",\"state\":\"succeeded\"}";
    static const char data2[] = "what do ya want for nothing?";
    char sig[CALLBACK_SIG_SIZE];
    callback_sign("whsec_test", 1700000000, body, strlen(body), sig, sizeof(sig));
    ck_assert_str_eq(sig,
                     "sha256=59a7649adccb397cded92e891c84cc7ee54b9a6b5dbf424ad43a99276ad675c7");
    callback_sign("Jefe", 0, data2, strlen(data2), sig, sizeof(sig));
    ck_assert_str_eq(sig,
                     "sha256=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc");
    callback_sign("k", -1, NULL, 0, sig, sizeof(sig)); /* an empty body is fine */
    ck_assert_str_eq(sig,
                     "sha256=af5be574c897cd0e6221334a53ef62ae1fed141387ab341a93a3a4e046347a0d");
    /* Binary bytes in the body are signed as they are. */
    callback_sign("s3cret", 1893456000, "a\0b", 3, sig, sizeof(sig));
    ck_assert_str_eq(sig,
                     "sha256=985dc4a2eab7571a3b82d859664f9be4715549a2b677661d762465c0e5816e2b");
}
END_TEST

START_TEST(test_sign_timestamp_counts)
{
    char a[CALLBACK_SIG_SIZE], b[CALLBACK_SIG_SIZE];
    /* The same body a second later: another signature, so a replay with a
     * fresh timestamp does not verify. */
    callback_sign("k", 1700000000, "{}", 2, a, sizeof(a));
    callback_sign("k", 1700000001, "{}", 2, b, sizeof(b));
    ck_assert_str_ne(a, b);
    /* The dot separates: without it both would sign "10x". */
    callback_sign("k", 1, "0x", 2, a, sizeof(a));
    callback_sign("k", 10, "x", 1, b, sizeof(b));
    ck_assert_str_ne(a, b);
    callback_sign("k", 1, "{\"a\":1}", 7, a, sizeof(a));
    callback_sign("k", 1, "{\"a\":2}", 7, b, sizeof(b));
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_sign_empty_and_small)
{
    char sig[CALLBACK_SIG_SIZE] = "x", small[CALLBACK_SIG_SIZE - 1] = "x";
    callback_sign("", 1, "{}", 2, sig, sizeof(sig));
    ck_assert_str_eq(sig, "");
    strcpy(sig, "x");
    callback_sign(NULL, 1, "{}", 2, sig, sizeof(sig));
    ck_assert_str_eq(sig, "");
    callback_sign("k", 1, "{}", 2, small, sizeof(small));
    ck_assert_str_eq(small, "");
    callback_sign("k", 1, "{}", 2, small, 0); /* writes nothing */
    ck_assert_str_eq(small, "");
}
END_TEST

/* ---- back-off ---- */

START_TEST(test_backoff_bounds)
{
    static const int64_t base[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    for (size_t a = 0; a < NELEM(base); a++) {
        int64_t lo = base[a] * 8 / 10, hi = base[a] * 12 / 10, min = INT64_MAX, max = 0;
        for (int k = 0; k < 2000; k++) {
            int64_t d = callback_backoff_ms((int)a + 1);
            ck_assert_msg(d >= lo && d <= hi, "attempt %zu: %lld not in [%lld, %lld]", a + 1,
                          (long long)d, (long long)lo, (long long)hi);
            min = d < min ? d : min;
            max = d > max ? d : max;
        }
        /* The jitter is spread over the range, not a constant. */
        ck_assert_msg(min < base[a] - base[a] / 10 && max > base[a] + base[a] / 10,
                      "attempt %zu: samples only in [%lld, %lld]", a + 1, (long long)min,
                      (long long)max);
    }
}
END_TEST

START_TEST(test_backoff_edges)
{
    for (int k = 0; k < 200; k++) {
        int64_t d0 = callback_backoff_ms(0), dn = callback_backoff_ms(-7);
        int64_t big = callback_backoff_ms(INT_MAX), b64 = callback_backoff_ms(64);
        ck_assert(d0 >= 400 && d0 <= 600);
        ck_assert(dn >= 400 && dn <= 600);
        ck_assert(big >= 24000 && big <= 36000);
        ck_assert(b64 >= 24000 && b64 <= 36000);
    }
}
END_TEST

static Suite *callback_suite(void)
{
    Suite *s = suite_create("callback");
    TCase *tp = tcase_create("parse");
    TCase *ts = tcase_create("sign");
    TCase *tb = tcase_create("backoff");
    tcase_add_loop_test(tp, test_parse_valid, 0, (int)NELEM(parse_ok_cases));
    tcase_add_loop_test(tp, test_parse_invalid, 0, (int)NELEM(parse_bad_cases));
    tcase_add_test(tp, test_parse_length);
    tcase_add_test(tp, test_parse_errors_and_small_buffers);
    tcase_add_test(ts, test_sign_vectors);
    tcase_add_test(ts, test_sign_timestamp_counts);
    tcase_add_test(ts, test_sign_empty_and_small);
    tcase_add_test(tb, test_backoff_bounds);
    tcase_add_test(tb, test_backoff_edges);
    suite_add_tcase(s, tp);
    suite_add_tcase(s, ts);
    suite_add_tcase(s, tb);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(callback_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
