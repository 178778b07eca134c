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

/* ---- GET /v1/jobs -------------------------------------------------------------- */

/* The value of a /proc/PID/status line ("VmHWM:"), for [info] figures. */
static void proc_status(pid_t pid, const char *key, char *out, size_t outlen)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, key, strlen(key)) == 0)
            snprintf(out, outlen, "%s", line + strspn(line + strlen(key), " \t") + strlen(key));
    if (f)
        fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

/* Must match worker/jobs_list.h. */
#define LIST_MAX_BYTES (1024 * 1024)

/* GET path; fails unless 200 with {"jobs": [...], "next": string or null}
 * and a Link header exactly when next is a string. Returns the array. */
static json_t *must_list(server *s, const char *path, resp *r, const char **next)
{
    http_call(s, "GET", path, NULL, r);
    must_status(r, 200);
    json_t *body = must_json(r);
    json_t *jobs = must_get(body, "jobs"), *nx = must_get(body, "next");
    ck_assert_msg(json_is_array(jobs), "%s: jobs is not an array", path);
    ck_assert_msg(json_is_null(nx) || json_is_string(nx), "%s: next: %s", path,
                  resp_describe(r));
    *next = json_string_value(nx);
    const char *link = resp_header(r, "Link");
    if (!*next) {
        ck_assert_msg(!link, "%s: a Link header on the last page: %s", path, link);
    } else {
        char want[1024];
        snprintf(want, sizeof(want), "<%s>; rel=\"next\"", *next);
        ck_assert_msg(link && strcmp(link, want) == 0, "%s: Link %s, want %s", path,
                      link ? link : "(none)", want);
    }
    return jobs;
}

/* Fails unless the job object has exactly the summary's members, plus args
 * and result when asked. */
static void must_members(json_t *j, bool args, bool result)
{
    static const char *const summary[] = {"id",         "fn",         "state",       "error",
                                          "attempts",   "worker",     "created_at",  "started_at",
                                          "finished_at", "queue_ms", "run_ms",      "cpu_ms"};
    for (size_t i = 0; i < sizeof(summary) / sizeof(summary[0]); i++)
        must_get(j, summary[i]);
    ck_assert_msg(!json_object_get(j, "args") == !args, "args %s: %s", args ? "missing" : "present",
                  json_dumps(j, JSON_COMPACT));
    ck_assert_msg(!json_object_get(j, "result") == !result, "result %s: %s",
                  result ? "missing" : "present", json_dumps(j, JSON_COMPACT));
    ck_assert_uint_eq(json_object_size(j), 12 + args + result);
}

/* Summaries, ?fields=, bad parameters, and pages that follow "next" with
 * the filters carried over. */
START_TEST(test_list_pages)
{
    server s;
    must_start(&s, "{\"workers\": 1}");
    char ids[5][64], body[64];
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof(body), "{\"fn\":\"fib\",\"args\":{\"n\":%d}}", i + 1);
        snprintf(ids[i], sizeof(ids[i]), "%s", must_submit_job(&s, body));
    }
    must_submit_job(&s, "{\"fn\":\"sleep\",\"args\":{\"ms\":1}}");
    resp r;
    const char *next;
    json_t *jobs = must_list(&s, "/v1/jobs", &r, &next);
    ck_assert_uint_eq(json_array_size(jobs), 6);
    ck_assert_ptr_null(next);
    for (size_t i = 0; i < 6; i++)
        must_members(json_array_get(jobs, i), false, false);
    jobs = must_list(&s, "/v1/jobs?fields=args", &r, &next);
    must_members(json_array_get(jobs, 1), true, false);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_array_get(jobs, 1), "args"), "n")), 5);
    jobs = must_list(&s, "/v1/jobs?fields=result", &r, &next);
    must_members(json_array_get(jobs, 1), false, true);
    jobs = must_list(&s, "/v1/jobs?fields=result,args", &r, &next);
    must_members(json_array_get(jobs, 1), true, true);

    static const char *const bad_fields[] = {"bogus", "", "args,", "args,bogus", "ARGS"};
    for (size_t i = 0; i < sizeof(bad_fields) / sizeof(bad_fields[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/v1/jobs?fields=%s", bad_fields[i]);
        http_call(&s, "GET", path, NULL, &r);
        must_error(&r, 400, "invalid_args", "fields");
    }
    static const char *const bad_cursors[] = {
        "zz", "", "000661782c7802bdf6a1ec5b3c906ecd0ceb83a963b1efe",
        "g00661782c7802bdf6a1ec5b3c906ecd0ceb83a963b1efec",
        "000661782c7802bdF6a1ec5b3c906ecd0ceb83a963b1efec",
        "f00661782c7802bdf6a1ec5b3c906ecd0ceb83a963b1efec"};
    for (size_t i = 0; i < sizeof(bad_cursors) / sizeof(bad_cursors[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/jobs?cursor=%s", bad_cursors[i]);
        http_call(&s, "GET", path, NULL, &r);
        must_error(&r, 400, "invalid_args", "cursor");
    }

    /* fib's five jobs, two at a time, newest first, each once. */
    char path[1024] = "/v1/jobs?fn=fib&limit=2&fields=args";
    int seen = 0, pages = 0;
    for (;;) {
        jobs = must_list(&s, path, &r, &next);
        pages++;
        ck_assert_uint_le(json_array_size(jobs), 2);
        for (size_t i = 0; i < json_array_size(jobs); i++, seen++) {
            json_t *j = json_array_get(jobs, i);
            must_members(j, true, false);
            ck_assert_int_lt(seen, 5);
            ck_assert_str_eq(must_str(j, "id"), ids[4 - seen]);
        }
        if (!next)
            break;
        ck_assert_msg(strstr(next, "fn=fib") && strstr(next, "limit=2") &&
                          strstr(next, "fields=args") && strstr(next, "cursor="),
                      "next link without the filters: %s", next);
        snprintf(path, sizeof(path), "%s", next);
    }
    ck_assert_int_eq(seen, 5);
    ck_assert_int_eq(pages, 3);
    /* The state filter carries over too. */
    jobs = must_list(&s, "/v1/jobs?state=succeeded&limit=1", &r, &next);
    ck_assert_msg(next && strstr(next, "state=succeeded") && strstr(next, "limit=1"), "%s",
                  next ? next : "(null)");
}
END_TEST

/*
 * The case: 48 jobs of ~1 MB args. The summary list is small; the
 * list with args comes in pages of at most LIST_MAX_BYTES of jobs (or one
 * job), which together hold every job exactly once; the worker stays up
 * (before: one 100 MB reply built on the loop, 2.2 GB RSS, killed by the
 * heartbeat).
 */
START_TEST(test_list_large_jobs_bounded)
{
    enum { NJOBS = 48, DATA = 1000000 };
    server s;
    must_start(&s, "{\"workers\": 1, \"limits\": {\"max_body_bytes\": 2097152}}");
    pid_t pid = must_worker_pid(&s, 0);
    char *body = malloc(DATA + 64);
    ck_assert_ptr_nonnull(body);
    static char ids[NJOBS][64];
    for (int i = 0; i < NJOBS; i++) {
        int n = snprintf(body, 64, "{\"fn\":\"sha256\",\"args\":{\"data\":\"%02d", i);
        memset(body + n, 'x', DATA - 2);
        snprintf(body + n + DATA - 2, 8, "\"}}");
        snprintf(ids[i], sizeof(ids[i]), "%s", must_submit_job(&s, body));
    }
    free(body);

    resp r;
    const char *next;
    int64_t t0 = now_ms();
    http_call(&s, "GET", "/v1/jobs", NULL, &r);
    fprintf(stderr, "[info] summary list of %d jobs of 1 MB args: %zu bytes in %lld ms\n", NJOBS,
            r.body_len, (long long)(now_ms() - t0));
    ck_assert_msg(r.body_len < 64 * 1024, "summary list of %d jobs is %zu bytes", NJOBS,
                  r.body_len);
    json_t *jobs = must_list(&s, "/v1/jobs", &r, &next);
    ck_assert_uint_eq(json_array_size(jobs), NJOBS);
    ck_assert_ptr_null(next);

    static const char *const firsts[] = {"/v1/jobs?fields=args&limit=1000",
                                         "/v1/jobs?fields=args,result&limit=5"};
    for (size_t f = 0; f < 2; f++) {
        static int count[NJOBS];
        char path[1024];
        int pages = 0, total = 0;
        memset(count, 0, sizeof(count));
        snprintf(path, sizeof(path), "%s", firsts[f]);
        for (;;) {
            jobs = must_list(&s, path, &r, &next);
            pages++;
            size_t n = json_array_size(jobs);
            ck_assert_msg(n >= 1, "%s: an empty page", path);
            ck_assert_msg(n == 1 || r.body_len <= LIST_MAX_BYTES + 1024,
                          "%s: %zu jobs in %zu bytes", path, n, r.body_len);
            ck_assert_msg(r.body_len <= DATA + 4096, "%s: %zu bytes", path, r.body_len);
            for (size_t i = 0; i < n; i++) {
                json_t *j = json_array_get(jobs, i);
                const char *data = json_string_value(json_object_get(must_get(j, "args"), "data"));
                ck_assert_msg(data && strlen(data) == DATA, "args.data cut or missing");
                const char *id = must_str(j, "id");
                int k = 0;
                while (k < NJOBS && strcmp(ids[k], id) != 0)
                    k++;
                ck_assert_msg(k < NJOBS, "unknown job %s", id);
                count[k]++;
                total++;
            }
            if (!next)
                break;
            snprintf(path, sizeof(path), "%s", next);
        }
        for (int k = 0; k < NJOBS; k++)
            ck_assert_msg(count[k] == 1, "%s: job %d came %d times", firsts[f], k, count[k]);
        ck_assert_int_eq(total, NJOBS);
        fprintf(stderr, "[info] %s: %d jobs in %d pages\n", firsts[f], total, pages);
    }
    char line[128] = "?";
    proc_status(pid, "VmHWM:", line, sizeof(line));
    fprintf(stderr, "[info] worker peak RSS after the lists: %s\n", line);
    /* The worker is the same process and still answers at once. */
    must_workers(&s);
    json_t *w = must_worker_slot(&s, 0);
    ck_assert_int_eq(must_int(w, "pid"), pid);
    ck_assert_int_eq(must_int(w, "restarts"), 0);
    http_call(&s, "GET", "/healthz", NULL, &r);
    must_status(&r, 200);
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

    tc = harness_tcase("list");
    tcase_add_test(tc, test_list_pages);
    tcase_add_test(tc, test_list_large_jobs_bounded);
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
