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

/* ---- Idempotency-Key --------------------------------------------------------- */

/* POST /v1/jobs[?query] with an Idempotency-Key; returns the status. */
static int submit_key(server *s, const char *query, const char *key, const char *body, resp *r)
{
    char path[128], hdr[320];
    snprintf(path, sizeof(path), "/v1/jobs%s", query ? query : "");
    snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s\r\n", key);
    return http_call_hdr(s, "POST", path, body, hdr, r);
}

/* The id of the job in a 200 or 202 reply. */
static const char *must_job_reply(resp *r)
{
    ck_assert_msg(r->status == 200 || r->status == 202, "want 200 or 202:\n%s", resp_describe(r));
    return must_str(must_json(r), "id");
}

static void must_key_reused(resp *r)
{
    must_error(r, 422, "idempotency_key_reused", "Idempotency-Key");
}

START_TEST(test_idempotency_key_reused)
{
    server s;
    /* A bare host: allowed before and after "host:port" entries (port 80). */
    must_start(&s, "{\"workers\": 1, \"callbacks\": {\"allow\": [\"127.0.0.1\"]}}");
    resp r;
    const char *body = "{\"fn\":\"sleep\",\"args\":{\"ms\":300}}";
    submit_key(&s, NULL, "k1", body, &r);
    char id[64];
    snprintf(id, sizeof(id), "%s", must_job_reply(&r));
    submit_key(&s, NULL, "k1", body, &r);
    ck_assert_str_eq(must_job_reply(&r), id);
    /* Another request under the same key: 422, whatever differs. */
    static const char *const others[] = {
        "{\"fn\":\"sleep\",\"args\":{\"ms\":301}}",
        "{\"fn\":\"count\",\"args\":{\"iterations\":1}}",
        "{\"fn\":\"sleep\",\"args\":{\"ms\":300},\"timeout_ms\":5000}",
        "{\"fn\":\"sleep\",\"args\":{\"ms\":300},\"retries\":1}",
        "{\"fn\":\"sleep\",\"args\":{\"ms\":300},\"callback\":\"http://127.0.0.1/done\"}",
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        submit_key(&s, NULL, "k1", others[i], &r);
        must_key_reused(&r);
    }
    /* With ?wait= too, before and after the job ended. */
    submit_key(&s, "?wait=5", "k1", others[0], &r);
    must_key_reused(&r);
    submit_key(&s, "?wait=5", "k1", body, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "id"), id);
    ck_assert_str_eq(must_str(must_json(&r), "state"), "succeeded");
    submit_key(&s, "?wait=5", "k1", others[1], &r);
    must_key_reused(&r);
    /* Defaults count as sent: fib's n is 10 unless given. */
    submit_key(&s, NULL, "k2", "{\"fn\":\"fib\"}", &r);
    snprintf(id, sizeof(id), "%s", must_job_reply(&r));
    submit_key(&s, NULL, "k2", "{\"fn\":\"fib\",\"args\":{\"n\":10}}", &r);
    ck_assert_str_eq(must_job_reply(&r), id);
    submit_key(&s, NULL, "k2", "{\"fn\":\"fib\",\"args\":{\"n\":11}}", &r);
    must_key_reused(&r);
}
END_TEST

/*
 * Two submissions with one key and different args, sent at the same moment
 * on two connections: the worker reads both in one loop turn, so they
 * usually share a store transaction (storeq's group commit). Whichever the
 * store took first is the job; the other is 422, never the first's job.
 */
START_TEST(test_idempotency_key_reused_same_batch)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    for (int round = 0; round < 10; round++) {
        char key[32], a[96], b[96];
        snprintf(key, sizeof(key), "batch-%d", round);
        snprintf(a, sizeof(a), "{\"fn\":\"fib\",\"args\":{\"n\":%d}}", round);
        snprintf(b, sizeof(b), "{\"fn\":\"fib\",\"args\":{\"n\":%d}}", round + 20);
        char hdr[96];
        snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s\r\nConnection: close\r\n", key);
        const char *ra = http_request_text("POST", "/v1/jobs", a, hdr);
        const char *rb = http_request_text("POST", "/v1/jobs", b, hdr);
        int fa = must_connect(&s), fb = must_connect(&s);
        must_send(fa, ra, strlen(ra));
        must_send(fb, rb, strlen(rb));
        resp x, y;
        must_read_response(fa, &x);
        must_read_response(fb, &y);
        close(fa);
        close(fb);
        resp *won = x.status == 422 ? &y : &x, *lost = x.status == 422 ? &x : &y;
        must_key_reused(lost);
        must_job_reply(won);
    }
}
END_TEST

static Suite *jobs_api_suite(void)
{
    Suite *s = suite_create("integration_jobs_api");
    TCase *tc = harness_tcase("errors");
    tcase_add_test(tc, test_unknown_key_cut_on_character);
    suite_add_tcase(s, tc);

    tc = harness_tcase("idempotency");
    tcase_add_test(tc, test_idempotency_key_reused);
    tcase_add_test(tc, test_idempotency_key_reused_same_batch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(jobs_api_suite());
}
