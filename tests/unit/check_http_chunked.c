/*
 * check_http_chunked.c - unit tests for worker/http_chunked.c: decoding in
 * one piece, byte by byte and in place; the strict line grammar (CRLF only,
 * no whitespace after the size, well-formed extensions and trailers); size
 * and line limits.
 */
#include "http_chunked.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

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
        {"a\r\n0123456789\r\n0\r\n\r\n", "0123456789"}, /* lowercase hex */
        {"A\r\n0123456789\r\n0\r\n\r\n", "0123456789"}, /* uppercase hex */
        {"0003\r\nabc\r\n000\r\n\r\n", "abc"},          /* leading zeros */
        {"3;a\r\nabc\r\n0;done\r\n\r\n", "abc"},        /* names without values */
        {"3;a=b;c;d=\"\"\r\nabc\r\n0\r\n\r\n", "abc"},  /* token, none, empty quoted */
        {"3;a=\"x;y=z \\\"q\\\\\"\r\nabc\r\n0\r\n\r\n", "abc"}, /* ';', SP, quoted-pairs */
        {"3;a=\"\xc3\xa9\t\"\r\nabc\r\n0\r\n\r\n", "abc"}, /* obs-text, HTAB */
        {"3;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~\r\nabc\r\n0\r\n\r\n", "abc"}, /* tchars */
        {"3\r\na\n\r\r\n0\r\nX: y\r\n\r\n", "a\n\r"},   /* LF and CR inside data */
        {"0\r\nX: a\tb\r\nY:\r\nZ:z\r\n\r\n", ""},     /* trailers */
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
        /* bare LF: a proxy in front may not see a line end (CVE-2022-32214) */
        "0\n\r\n",                  /* after the size */
        "0\r\n\n",                  /* the final empty line */
        "3\nabc\r\n0\r\n\r\n",
        "3;a=b\nabc\r\n0\r\n\r\n",  /* after an extension */
        "3;a=\"b\"\nabc\r\n0\r\n\r\n",
        "3\r\nabc\n0\r\n\r\n",       /* after the data */
        "0\r\nX: y\n\r\n",          /* after a trailer */
        "\n",
        /* whitespace after the size (CVE-2022-35256 class) */
        "3 \r\nabc\r\n0\r\n\r\n",
        "3\t\r\nabc\r\n0\r\n\r\n",
        "3 ;a=b\r\nabc\r\n0\r\n\r\n",
        "0 \r\n\r\n",
        /* extensions */
        "3;\r\nabc\r\n0\r\n\r\n",    /* ';' without a name */
        "3;;a\r\nabc\r\n0\r\n\r\n",
        "3;a;\r\nabc\r\n0\r\n\r\n",
        "3; a\r\nabc\r\n0\r\n\r\n",  /* whitespace */
        "3;a =b\r\nabc\r\n0\r\n\r\n",
        "3;a= b\r\nabc\r\n0\r\n\r\n",
        "3;a=b \r\nabc\r\n0\r\n\r\n",
        "3;a=\r\nabc\r\n0\r\n\r\n",   /* '=' without a value */
        "3;=b\r\nabc\r\n0\r\n\r\n",
        "3;a=\"b\r\nabc\r\n0\r\n\r\n",  /* unbalanced quotes */
        "3;a=\"b\r\nabc\"\r\n0\r\n\r\n",
        "3;a=b\"\r\nabc\r\n0\r\n\r\n",
        "3;a=\"b\\\"\r\nabc\r\n0\r\n\r\n",
        "3;a=\"b\"c\r\nabc\r\n0\r\n\r\n",
        "3;a\"b\"\r\nabc\r\n0\r\n\r\n",
        "3;a=b=c\r\nabc\r\n0\r\n\r\n",
        "3;a(b)\r\nabc\r\n0\r\n\r\n",
        "3;a=\"\x01\"\r\nabc\r\n0\r\n\r\n",
        "3;a=\"\\\x7f\"\r\nabc\r\n0\r\n\r\n",
        /* trailers */
        "0\r\n X: y\r\n\r\n",       /* obs-fold */
        "0\r\nX: y\r\n z\r\n\r\n",
        "0\r\nX : y\r\n\r\n",       /* whitespace before the colon */
        "0\r\nNoColon\r\n\r\n",
        "0\r\n: y\r\n\r\n",
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

/* A size is hex digits only, for every byte value. */
START_TEST(test_chunked_hex_bytes)
{
    for (int c = 0; c < 256; c++) {
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        char in[3] = {(char)c, '\r', '\n'}, out[4];
        size_t consumed, produced;
        ck_assert_msg((decode_once(in, 3, out, &consumed, &produced) == 0) == hex,
                      "hex byte 0x%02x", c);
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

static Suite *http_chunked_suite(void)
{
    Suite *s = suite_create("http_chunked");
    TCase *chunked = tcase_create("chunked");
    tcase_add_test(chunked, test_chunked_one_shot);
    tcase_add_test(chunked, test_chunked_byte_by_byte);
    tcase_add_test(chunked, test_chunked_every_split_in_place);
    tcase_add_test(chunked, test_chunked_in_place);
    tcase_add_test(chunked, test_chunked_forms);
    tcase_add_test(chunked, test_chunked_malformed);
    tcase_add_test(chunked, test_chunked_hex_bytes);
    tcase_add_test(chunked, test_chunked_size_limits);
    tcase_add_test(chunked, test_chunked_state_after_end);
    tcase_add_test(chunked, test_chunked_large);
    suite_add_tcase(s, chunked);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_chunked_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
