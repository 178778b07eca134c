/*
 * check_job.c - unit tests for common/job.c: the job value, its states, ids,
 * times, and its JSON (job_to_json, job_dumps, job_dumps_fields, job_dumps_view).
 */
#include "job.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static json_t *must_parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    ck_assert_msg(v != NULL, "bad JSON in test: %s: %s", text, e.text);
    return v;
}

START_TEST(test_job_init_release)
{
    job j;
    job_init(&j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert_int_eq(j.owner_slot, -1);
    ck_assert(j.run_us == -1 && j.cpu_us == -1);
    ck_assert(j.args == NULL && j.result == NULL);
    j.args = json_object();
    j.result = json_integer(3);
    job_release(&j);
    ck_assert(j.args == NULL && j.result == NULL);
    ck_assert_int_eq(j.owner_slot, -1);
    job_release(&j); /* twice is harmless */
}
END_TEST

START_TEST(test_job_states)
{
    static const char *const names[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    for (int i = 0; i < (int)NELEM(names); i++) {
        job_state s;
        ck_assert_str_eq(job_state_name((job_state)i), names[i]);
        ck_assert_int_eq(job_state_parse(names[i], &s), 0);
        ck_assert_int_eq(s, i);
        ck_assert(job_state_final((job_state)i) == (i >= JOB_SUCCEEDED));
    }
    job_state s = JOB_RUNNING;
    ck_assert_int_eq(job_state_parse("done", &s), -1);
    ck_assert_int_eq(job_state_parse("", &s), -1);
    ck_assert_int_eq(job_state_parse("Queued", &s), -1);
    ck_assert_int_eq(s, JOB_RUNNING);
    ck_assert_str_eq(job_state_name((job_state)17), "unknown");
}
END_TEST

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* job_new_id(): 32 ids in a row share their first 8 hex digits (32 random
 * bits, for the store's index); the other 24 digits are each id's own. */
START_TEST(test_job_ids)
{
    enum { N = 32 * 200, PREFIX = 8 };
    static char ids[N][JOB_ID_LEN + 1], tails[N][JOB_ID_LEN + 1];
    int seen[JOB_ID_LEN][16], changes = 0;
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(job_new_id(ids[i]), 0);
        ck_assert_uint_eq(strlen(ids[i]), JOB_ID_LEN);
        ck_assert_msg(job_id_valid(ids[i], JOB_ID_LEN), "bad id %s", ids[i]);
        for (int k = 0; k < JOB_ID_LEN; k++) {
            char c = ids[i][k];
            seen[k][c <= '9' ? c - '0' : c - 'a' + 10]++;
        }
        changes += i > 0 && strncmp(ids[i - 1], ids[i], PREFIX) != 0;
        snprintf(tails[i], sizeof(tails[i]), "%s", ids[i] + PREFIX);
    }
    /* Every position takes every value: no counter, no timestamp. */
    for (int k = 0; k < JOB_ID_LEN; k++) {
        int distinct = 0;
        for (int v = 0; v < 16; v++)
            distinct += seen[k][v] > 0;
        ck_assert_msg(distinct == 16, "position %d took only %d values", k, distinct);
    }
    /* A new prefix every 32 ids (the first run may be cut short). */
    ck_assert_msg(changes >= N / 32 - 1 && changes <= N / 32, "%d prefix changes", changes);
    /* The 96 bits after the prefix are never repeated, so no two ids are. */
    qsort(tails, N, sizeof(tails[0]), cmp_id);
    for (int i = 1; i < N; i++)
        ck_assert_msg(strcmp(tails[i - 1], tails[i]) != 0, "repeated tail %s", tails[i]);
}
END_TEST

START_TEST(test_job_id_valid)
{
    ck_assert(job_id_valid("0123456789abcdef0123456789abcdef", 32));
    ck_assert(!job_id_valid("0123456789ABCDEF0123456789abcdef", 32));
    ck_assert(!job_id_valid("0123456789abcdef0123456789abcde", 31));
    ck_assert(!job_id_valid("0123456789abcdef0123456789abcdeg", 32));
    ck_assert(!job_id_valid("../../../../etc/passwd0123456789a", 32));
    ck_assert(!job_id_valid("", 0));
}
END_TEST

START_TEST(test_job_format_time)
{
    char buf[32];
    job_format_time(1795777529123456LL, buf); /* 2026-11-27T11:05:29.123456Z */
    ck_assert_str_eq(buf, "2026-11-27T11:05:29.123Z");
    job_format_time(1000, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.001Z");
    job_format_time(999, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    int64_t now = job_now_us();
    ck_assert(now > 1700000000000000LL);
    job_format_time(now, buf);
    ck_assert_uint_eq(strlen(buf), 24);
    ck_assert(buf[10] == 'T' && buf[23] == 'Z' && buf[19] == '.');
}
END_TEST

static const char *const public_keys[] = {
    "id",     "fn",         "args",       "state",       "result",   "error",  "attempts",
    "worker", "created_at", "started_at", "finished_at", "queue_ms", "run_ms", "cpu_ms",
};

START_TEST(test_job_json_queued)
{
    job j;
    job_init(&j);
    snprintf(j.id, sizeof(j.id), "00112233445566778899aabbccddeeff");
    snprintf(j.fn, sizeof(j.fn), "count");
    snprintf(j.callback, sizeof(j.callback), "http://127.0.0.1:9/cb");
    snprintf(j.idem_key, sizeof(j.idem_key), "secret-key");
    j.created_at_us = 1795777529123456LL;
    json_t *v = job_to_json(&j);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(json_object_size(v), NELEM(public_keys));
    const char *key;
    json_t *val;
    size_t i = 0;
    json_object_foreach(v, key, val)
    { /* in the documented order */
        ck_assert_str_eq(key, public_keys[i]);
        i++;
    }
    ck_assert_str_eq(json_string_value(json_object_get(v, "id")), j.id);
    ck_assert_str_eq(json_string_value(json_object_get(v, "fn")), "count");
    ck_assert(json_is_object(json_object_get(v, "args")));
    ck_assert_uint_eq(json_object_size(json_object_get(v, "args")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(v, "state")), "queued");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "attempts")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(v, "created_at")),
                     "2026-11-27T11:05:29.123Z");
    static const char *const nulls[] = {"result",      "error",    "worker", "started_at",
                                        "finished_at", "queue_ms", "run_ms", "cpu_ms"};
    for (size_t k = 0; k < NELEM(nulls); k++)
        ck_assert_msg(json_is_null(json_object_get(v, nulls[k])), "%s is not null", nulls[k]);
    json_decref(v);
    job_release(&j);
}
END_TEST

/* A finished job with every field set. */
static void finished_job(job *j)
{
    job_init(j);
    snprintf(j->id, sizeof(j->id), "ffeeddccbbaa99887766554433221100");
    snprintf(j->fn, sizeof(j->fn), "fib");
    j->args = must_parse("{\"n\": 10}");
    j->state = JOB_FAILED;
    job_set_error(j, ERR_FUNCTION_ERROR, "bad \"thing\"\n");
    j->attempts = 2;
    j->worker_pid = 4242;
    j->created_at_us = 1795777529000000LL;
    j->started_at_us = 1795777529001500LL; /* queued 1.5 ms */
    j->finished_at_us = 1795777530000000LL;
    j->run_us = 137;
    j->cpu_us = 12345678;
}

START_TEST(test_job_json_final)
{
    job j;
    finished_job(&j);
    json_t *v = job_to_json(&j);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(v, "state")), "failed");
    json_t *err = json_object_get(v, "error");
    ck_assert(json_is_object(err));
    ck_assert_str_eq(json_string_value(json_object_get(err, "code")), "function_error");
    ck_assert_str_eq(json_string_value(json_object_get(err, "message")), "bad \"thing\"\n");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "worker")), 4242);
    ck_assert_int_eq(json_integer_value(json_object_get(v, "attempts")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(v, "args"), "n")), 10);
    ck_assert_str_eq(json_string_value(json_object_get(v, "started_at")),
                     "2026-11-27T11:05:29.001Z");
    ck_assert_str_eq(json_string_value(json_object_get(v, "finished_at")),
                     "2026-11-27T11:05:30.000Z");
    ck_assert_double_eq_tol(json_real_value(json_object_get(v, "queue_ms")), 1.5, 1e-9);
    ck_assert_double_eq_tol(json_real_value(json_object_get(v, "run_ms")), 0.137, 1e-9);
    ck_assert_double_eq_tol(json_real_value(json_object_get(v, "cpu_ms")), 12345.678, 1e-9);
    json_decref(v);

    /* A succeeded job has a result and a null error. */
    j.state = JOB_SUCCEEDED;
    job_set_error(&j, NULL, NULL);
    j.result = must_parse("[1, \"two\", {\"three\": 3.5}]");
    v = job_to_json(&j);
    ck_assert(json_is_null(json_object_get(v, "error")));
    ck_assert(json_equal(json_object_get(v, "result"), j.result));
    json_decref(v);
    job_release(&j);
}
END_TEST

START_TEST(test_job_dumps)
{
    job j;
    finished_job(&j);
    size_t len = 0;
    char *text = job_dumps(&j, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    /* Exactly three decimals, not 17 significant digits. */
    ck_assert_msg(strstr(text, "\"run_ms\":0.137,") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\"cpu_ms\":12345.678}") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\"queue_ms\":1.500,") != NULL, "%s", text);
    /* The same object as job_to_json(). */
    json_t *a = must_parse(text), *b = job_to_json(&j);
    ck_assert_msg(json_equal(a, b), "job_dumps and job_to_json differ:\n%s", text);
    json_decref(a);
    json_decref(b);
    free(text);

    /* And for a queued job full of nulls. */
    job_release(&j);
    snprintf(j.id, sizeof(j.id), "00112233445566778899aabbccddeeff");
    snprintf(j.fn, sizeof(j.fn), "sleep");
    j.created_at_us = 1;
    text = job_dumps(&j, NULL);
    a = must_parse(text);
    b = job_to_json(&j);
    ck_assert_msg(json_equal(a, b), "job_dumps and job_to_json differ:\n%s", text);
    json_decref(a);
    json_decref(b);
    free(text);
}
END_TEST

/* The list's object: no args and result unless asked, then the given text
 * verbatim, in the same places as job_dumps(). */
START_TEST(test_job_dumps_view)
{
    job j;
    finished_job(&j);
    json_t *full = job_to_json(&j);
    char *text = job_dumps_view(&j, 0, NULL, NULL);
    json_t *v = must_parse(text);
    ck_assert_ptr_null(json_object_get(v, "args"));
    ck_assert_ptr_null(json_object_get(v, "result"));
    ck_assert_int_eq(json_object_size(v), json_object_size(full) - 2);
    json_object_del(full, "args");
    json_object_del(full, "result");
    ck_assert_msg(json_equal(v, full), "summary differs:\n%s", text);
    json_decref(v);
    json_decref(full);
    free(text);

    job_json_text t = {"{\"x\":[1,2]}", 11, "\"r\"", 3};
    size_t len = 0;
    text = job_dumps_view(&j, JOB_VIEW_ARGS | JOB_VIEW_RESULT, &t, &len);
    ck_assert_uint_eq(len, strlen(text));
    ck_assert_msg(strstr(text, ",\"args\":{\"x\":[1,2]},\"state\":\"failed\",\"result\":\"r\","),
                  "%s", text);
    free(text);
    t = (job_json_text){NULL, 0, NULL, 0};
    text = job_dumps_view(&j, JOB_VIEW_ARGS, &t, NULL);
    ck_assert_msg(strstr(text, ",\"args\":{},\"state\":") && !strstr(text, "\"result\""), "%s",
                  text);
    free(text);
    text = job_dumps_view(&j, JOB_VIEW_RESULT, NULL, NULL);
    ck_assert_msg(strstr(text, "\"result\":null,") && !strstr(text, "\"args\""), "%s", text);
    free(text);
    job_release(&j);
}
END_TEST

/* The owner shows only when asked (admin tokens), right after "fn"; the
 * rest is job_dumps()'s object. */
START_TEST(test_job_dumps_owner)
{
    job j;
    finished_job(&j);
    snprintf(j.owner, sizeof(j.owner), "ci.bot-1_x");
    char *text = job_dumps(&j, NULL);
    ck_assert_msg(!strstr(text, "owner"), "%s", text);
    free(text);
    text = job_dumps_fields(&j, JOB_VIEW_ARGS | JOB_VIEW_RESULT | JOB_VIEW_OWNER, NULL);
    json_t *v = must_parse(text), *full = job_to_json(&j);
    ck_assert_msg(strstr(text, ",\"fn\":\"fib\",\"owner\":\"ci.bot-1_x\",\"args\":"), "%s", text);
    json_object_del(v, "owner");
    ck_assert_msg(json_equal(v, full), "with owner differs:\n%s", text);
    json_decref(v);
    json_decref(full);
    free(text);
    /* The list's view, and a job without an owner (""). */
    text = job_dumps_view(&j, JOB_VIEW_OWNER, NULL, NULL);
    ck_assert_msg(strstr(text, "\"owner\":\"ci.bot-1_x\"") && !strstr(text, "\"args\""), "%s",
                  text);
    free(text);
    j.owner[0] = '\0';
    text = job_dumps_fields(&j, JOB_VIEW_OWNER, NULL);
    ck_assert_msg(strstr(text, "\"owner\":\"\""), "%s", text);
    free(text);
    /* What is not a token name is left out, so the text stays JSON. */
    snprintf(j.owner, sizeof(j.owner), "a\"b");
    text = job_dumps_fields(&j, JOB_VIEW_OWNER, NULL);
    ck_assert_msg(strstr(text, "\"owner\":\"a\","), "%s", text);
    json_decref(must_parse(text));
    free(text);
    job_release(&j);
}
END_TEST

START_TEST(test_job_set_error_utf8)
{
    job j;
    char big[2000];
    job_init(&j);
    /* 'a' then 3-byte characters: the cut falls inside one and drops it whole. */
    big[0] = 'a';
    size_t o = 1;
    while (o + 3 < sizeof(big)) {
        memcpy(big + o, "\xe2\x82\xac", 3); /* EURO SIGN */
        o += 3;
    }
    big[o] = '\0';
    job_set_error(&j, "function_error", big);
    size_t n = strlen(j.error_message);
    ck_assert(n <= JOB_ERR_MESSAGE_MAX && n > JOB_ERR_MESSAGE_MAX - 3);
    ck_assert_uint_eq((n - 1) % 3, 0);
    json_t *s = json_string(j.error_message);
    ck_assert_ptr_nonnull(s);
    json_decref(s);

    /* Invalid bytes become '?'; a hand-filled bad message still encodes. */
    job_set_error(&j, "x", "ok \xff\xc0\x80 \xed\xa0\x80.");
    ck_assert_str_eq(j.error_message, "ok ??? ???.");
    snprintf(j.error_message, sizeof(j.error_message), "raw \xff");
    snprintf(j.id, sizeof(j.id), "00112233445566778899aabbccddeeff");
    json_t *v = job_to_json(&j);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "error"), "message")),
                     "raw ?");
    json_decref(v);
    job_set_error(&j, NULL, NULL);
    ck_assert_str_eq(j.error_code, "");
    job_release(&j);
}
END_TEST

static Suite *job_suite(void)
{
    Suite *s = suite_create("job");
    TCase *tj = tcase_create("job");
    tcase_add_test(tj, test_job_init_release);
    tcase_add_test(tj, test_job_states);
    tcase_add_test(tj, test_job_ids);
    tcase_add_test(tj, test_job_id_valid);
    tcase_add_test(tj, test_job_format_time);
    tcase_add_test(tj, test_job_json_queued);
    tcase_add_test(tj, test_job_json_final);
    tcase_add_test(tj, test_job_dumps);
    tcase_add_test(tj, test_job_dumps_view);
    tcase_add_test(tj, test_job_dumps_owner);
    tcase_add_test(tj, test_job_set_error_utf8);
    suite_add_tcase(s, tj);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(job_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
