/*
 * check_http_url.c - unit tests for worker/http_url.c: percent-decoding of
 * paths (segment boundaries kept, encoded '/' and NUL refused) and query
 * lookup with decoded keys and values ('+' as space), in place of nothing
 * (the input is never written).
 */
#include "http_url.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(lit) ((http_slice){lit, sizeof(lit) - 1})

static void must_slice(http_slice s, const char *want)
{
    ck_assert_msg(s.n == strlen(want) && (s.n == 0 || !memcmp(s.p, want, s.n)),
                  "slice \"%.*s\" != \"%s\"", (int)s.n, s.p ? s.p : "", want);
}

/* Decodes path and requires it to give want. */
static void must_path(const char *path, const char *want)
{
    char out[256];
    size_t n = 12345;
    ck_assert_msg(http_url_decode_path((http_slice){path, strlen(path)}, out, &n) == 0,
                  "\"%s\" refused", path);
    ck_assert_msg(n == strlen(want) && !memcmp(out, want, n), "\"%s\" -> \"%.*s\", want \"%s\"",
                  path, (int)n, out, want);
}

static void must_bad_path(const char *path)
{
    char out[256];
    size_t n;
    ck_assert_msg(http_url_decode_path((http_slice){path, strlen(path)}, out, &n) == -1,
                  "\"%s\" accepted", path);
}

/* Looks key up and returns the code; *v the value. */
static int query(const char *qs, const char *key, http_slice *v)
{
    static char out[16];
    return http_url_query((http_slice){qs, strlen(qs)}, key, out, sizeof(out), v);
}

static void must_query(const char *qs, const char *key, const char *want)
{
    http_slice v;
    int rc = query(qs, key, &v);
    ck_assert_msg(rc == 1, "\"%s\" in \"%s\": rc %d", key, qs, rc);
    must_slice(v, want);
}

static void must_absent(const char *qs, const char *key)
{
    http_slice v = {"x", 1};
    ck_assert_int_eq(query(qs, key, &v), 0);
    ck_assert_uint_eq(v.n, 0);
}

static void must_bad_query(const char *qs, const char *key)
{
    http_slice v;
    ck_assert_msg(query(qs, key, &v) == -1, "\"%s\" in \"%s\" accepted", key, qs);
}

START_TEST(test_path_decode)
{
    must_path("/", "/");
    must_path("/v1/fn/fib", "/v1/fn/fib");
    must_path("/v1/fn/%66ib", "/v1/fn/fib");
    must_path("/v1/fn/%66%69%62", "/v1/fn/fib");
    must_path("/%76%31/fn/fib", "/v1/fn/fib");
    must_path("/a%20b", "/a b");
    must_path("/a+b", "/a+b"); /* '+' is itself in a path */
    must_path("/%7e%7E", "/~~");
    must_path("/%c3%a9", "/\xc3\xa9");
    must_path("/%ff", "/\xff");
    must_path("/%25", "/%");   /* decoded once only */
    must_path("/%2541", "/%41");
    must_path("/a/%3F/b", "/a/?/b");
    must_path("//a//", "//a//");
}
END_TEST

START_TEST(test_path_refused)
{
    must_bad_path("/a%2fb");    /* an encoded '/' moves a segment boundary */
    must_bad_path("/a%2Fb");
    must_bad_path("/v1/fn/%2F");
    must_bad_path("/a%00b");    /* a NUL cuts a C string short */
    must_bad_path("/%");
    must_bad_path("/%4");
    must_bad_path("/%4g");
    must_bad_path("/%g4");
    must_bad_path("/a%");
    must_bad_path("/%%41");
    must_bad_path("/% 41");
}
END_TEST

/* The input is only read: a head may be parsed again from the same bytes. */
START_TEST(test_input_untouched)
{
    char path[] = "/v1/fn/%66ib";
    char out[sizeof(path)];
    size_t n;
    ck_assert_int_eq(http_url_decode_path((http_slice){path, strlen(path)}, out, &n), 0);
    ck_assert_str_eq(path, "/v1/fn/%66ib");
    char qs[] = "a=%32+x";
    char vb[8];
    http_slice v;
    ck_assert_int_eq(http_url_query((http_slice){qs, strlen(qs)}, "a", vb, sizeof(vb), &v), 1);
    must_slice(v, "2 x");
    ck_assert_ptr_eq(v.p, vb);
    ck_assert_str_eq(qs, "a=%32+x");
}
END_TEST

START_TEST(test_valid)
{
    ck_assert(http_url_valid(S("")));
    ck_assert(http_url_valid((http_slice){NULL, 0}));
    ck_assert(http_url_valid(S("/a/b?c=d+e")));
    ck_assert(http_url_valid(S("%00%2F%ff%Fa")));
    ck_assert(!http_url_valid(S("%")));
    ck_assert(!http_url_valid(S("a=%2")));
    ck_assert(!http_url_valid(S("a=%zz")));
    ck_assert(!http_url_valid(S("%41%")));
    ck_assert(!http_url_valid(S("%41%4")));
}
END_TEST

START_TEST(test_query_lookup)
{
    const char *qs = "a=1&bb=22&flag&empty=&a=dup&x=y=z&&=v";
    must_query(qs, "a", "1"); /* the first one counts */
    must_query(qs, "bb", "22");
    must_query(qs, "flag", "");
    must_query(qs, "empty", "");
    must_query(qs, "x", "y=z");
    must_query(qs, "", "v");
    must_absent(qs, "b");
    must_absent(qs, "A"); /* keys are case-sensitive */
    must_absent(qs, "fla");
    must_absent(qs, "flagx");
    must_absent("", "a");
    http_slice v;
    ck_assert_int_eq(http_url_query((http_slice){NULL, 0}, "a", NULL, 0, &v), 0);
}
END_TEST

START_TEST(test_query_decoding)
{
    must_query("limit=%32", "limit", "2");
    must_query("limit=%32%35", "limit", "25");
    must_query("fn=a+b", "fn", "a b");
    must_query("fn=a%2Bb", "fn", "a+b");
    must_query("fn=%2F%3D%26", "fn", "/=&"); /* any byte but NUL in a value */
    must_query("%6Cimit=3", "limit", "3");   /* keys are decoded too */
    must_query("time+out=5", "time out", "5");
    must_query("a%3Db=1&a=2", "a", "2");     /* "a=b" is a key, not a=b */
    must_query("x=%zz&limit=4", "limit", "4"); /* only what is looked at is decoded */
    must_absent("%6C%69mit=3", "limi");
    must_absent("%zz=3", "%zz");
    must_query("state=queued", "state", "queued");
    /* raw values are handed out as they are, without a copy */
    const char *qs = "state=running";
    http_slice v;
    ck_assert_int_eq(query(qs, "state", &v), 1);
    ck_assert_ptr_eq(v.p, qs + 6);
}
END_TEST

START_TEST(test_query_refused)
{
    must_bad_query("limit=%3", "limit");
    must_bad_query("limit=%", "limit");
    must_bad_query("limit=%g0", "limit");
    must_bad_query("fn=a%00b", "fn");               /* a NUL */
    must_bad_query("fn=0123456789abcdef+", "fn");   /* 17 bytes > the 16 of out */
    must_query("fn=0123456789abcdef", "fn", "0123456789abcdef"); /* 16, raw */
    must_bad_query("fn=0123456789abcdefg", "fn");                 /* 17, raw */
    must_query("fn=0123456789abcde+", "fn", "0123456789abcde "); /* exactly 16 */
    must_bad_query("fn=%300123456789abcdef", "fn"); /* decodes to 17 */
}
END_TEST

static Suite *http_url_suite(void)
{
    Suite *s = suite_create("http_url");
    TCase *tc = tcase_create("url");
    tcase_add_test(tc, test_path_decode);
    tcase_add_test(tc, test_path_refused);
    tcase_add_test(tc, test_input_untouched);
    tcase_add_test(tc, test_valid);
    tcase_add_test(tc, test_query_lookup);
    tcase_add_test(tc, test_query_decoding);
    tcase_add_test(tc, test_query_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_url_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
