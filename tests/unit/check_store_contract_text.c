/*
 * check_store_contract_text.c - the store contract (store.h), part 5, for
 * every backend built in: a job read with its args and result as text
 * (store_get_text), what parsed args cost (job.args_cost), and a claim that
 * shares the args of a job its own batch submitted. Part 1 is
 * check_store_contract.c.
 */
#include "store_test.h"

#include "json_cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGS "{\"values\": [3, 1.5, -2, 0.1], \"s\": \"caf\\u00e9 \\\"q\\\"\", \"n\": null}"

/* The compact text of v (as stored): malloc'ed. */
static char *compact(json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* text[0..len) is s. */
static void assert_text(const char *text, size_t len, const char *s)
{
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(len == strlen(s) && memcmp(text, s, len) == 0, "text %.*s, want %s", (int)len,
                  text, s);
}

/* A finished job as text: every field as store_get() has it, args and
 * result as stored, and the job object spliced from them is job_dumps()'s
 * of the parsed job, byte for byte. */
START_TEST(test_get_text_final)
{
    job a, c[1], parsed, t;
    store_text text = {0};
    bool found = false;
    must_submit(&a, "sort", FN_CPU, ARGS, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert(complete_ok(&c[0], "[-2, 0.1, 1.5, 3, {\"deep\": [\"\\u2603\"]}]"));
    must_get(a.id, &parsed);
    MUST(store_get_text(st, a.id, &t, &text, &found));
    ck_assert(found);
    ck_assert_ptr_null(t.args);
    ck_assert_ptr_null(t.result);
    ck_assert_int_eq(t.args_cost, 0);
    ck_assert_str_eq(t.id, parsed.id);
    ck_assert_str_eq(t.fn, "sort");
    ck_assert_int_eq(t.state, JOB_SUCCEEDED);
    ck_assert_int_eq(t.attempts, 1);
    ck_assert_int_eq(t.worker_pid, parsed.worker_pid);
    ck_assert(t.created_at_us == parsed.created_at_us && t.started_at_us == parsed.started_at_us &&
              t.finished_at_us == parsed.finished_at_us);
    ck_assert(t.run_us == 1234 && t.cpu_us == 1000);
    char *args = compact(parsed.args), *result = compact(parsed.result);
    assert_text(text.view.args, text.view.args_len, args);
    assert_text(text.view.result, text.view.result_len, result);
    size_t n1 = 0, n2 = 0;
    char *want = job_dumps(&parsed, &n1);
    char *got = job_dumps_view(&t, JOB_VIEW_ARGS | JOB_VIEW_RESULT, &text.view, &n2);
    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(n1, n2);
    free(want);
    free(got);
    free(args);
    free(result);
    store_text_release(&text);
    ck_assert_ptr_null(text.mem);
    ck_assert_ptr_null(text.view.args);
    store_text_release(&text); /* an empty one: harmless */
    job_release(&t);
    job_release(&parsed);
    job_release(&c[0]);
    job_release(&a);
}
END_TEST

/* A queued job: no result (NULL), args {} when it has none. */
START_TEST(test_get_text_queued)
{
    job a, t;
    store_text text = {0};
    bool found = false;
    must_submit(&a, "count", FN_CPU, NULL, 0);
    MUST(store_get_text(st, a.id, &t, &text, &found));
    ck_assert(found);
    ck_assert_int_eq(t.state, JOB_QUEUED);
    assert_text(text.view.args, text.view.args_len, "{}");
    ck_assert_ptr_null(text.view.result);
    ck_assert_uint_eq(text.view.result_len, 0);
    store_text_release(&text);
    job_release(&t);
    job_release(&a);
}
END_TEST

/* No such job: not found, nothing to free (the text is empty). */
START_TEST(test_get_text_unknown)
{
    job t;
    store_text text = {.mem = (char *)"stale"}; /* overwritten, not freed */
    bool found = true;
    MUST(store_get_text(st, "0123456789abcdef0123456789abcdef", &t, &text, &found));
    ck_assert(!found);
    ck_assert_ptr_null(text.mem);
    ck_assert_ptr_null(text.view.args);
    found = true;
    MUST(store_get_text(st, "not-an-id", &t, &text, &found));
    ck_assert(!found);
    ck_assert_ptr_null(text.mem);
    job_release(&t);
}
END_TEST

/* Jobs handed out with parsed args say what they cost: json_cost() of the
 * stored text. Jobs filled by hand say 0. */
START_TEST(test_args_cost)
{
    job a, c[1], b;
    must_submit(&a, "sort", FN_CPU, ARGS, 0);
    ck_assert_int_eq(a.args_cost, 0); /* the caller's own args */
    char *text = compact(a.args);
    int64_t want = json_cost(text, strlen(text));
    ck_assert_int_gt(want, (int64_t)strlen(text) + 6 * JSON_VALUE_COST);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert_int_eq(c[0].args_cost, want);
    must_get(a.id, &b);
    ck_assert_int_eq(b.args_cost, want);
    job_release(&b);
    must_submit(&b, "count", FN_CPU, NULL, 0); /* no args: {} */
    job_release(&b);
    must_claim(FN_CPU, 0, 1, 1, &b, 1);
    ck_assert_int_eq(b.args_cost, json_cost("{}", 2));
    free(text);
    job_release(&b);
    job_release(&c[0]);
    job_release(&a);
}
END_TEST

/* A claim that takes a job its own batch submitted shares the submitted
 * args value (no second copy); an older job's args are its own. */
START_TEST(test_write_claim_shares_submitted_args)
{
    job old, s[1], c[2];
    must_submit(&old, "sort", FN_CPU, ARGS, 0);
    new_job(&s[0], "sort", FN_CPU, NULL);
    s[0].args = must_parse(ARGS);
    store_batch wb = {.submit = s, .nsubmit = 1, .slot = 0, .incarnation = 1, .pid = 1};
    wb.claim_max[FN_CPU] = 2;
    wb.claimed[FN_CPU] = c;
    MUST(store_write(st, &wb));
    ck_assert_int_eq(wb.nclaimed[FN_CPU], 2);
    ck_assert_str_eq(c[0].id, old.id);
    ck_assert_str_eq(c[1].id, s[0].id);
    ck_assert_ptr_eq(c[1].args, s[0].args);
    ck_assert_ptr_ne(c[0].args, old.args);
    ck_assert(json_equal(c[0].args, old.args));
    char *text = compact(s[0].args);
    ck_assert_int_eq(c[1].args_cost, json_cost(text, strlen(text)));
    ck_assert_int_eq(c[0].args_cost, c[1].args_cost);
    free(text);
    release_all(c, 2);
    ck_assert_ptr_nonnull(json_object_get(s[0].args, "values")); /* still s[0]'s */
    release_all(s, 1);
    job_release(&old);
}
END_TEST

static Suite *contract_suite(const char *kind)
{
    static char name[64]; /* check keeps the pointer: valid while the suite runs */
    snprintf(name, sizeof(name), "store contract: text (%s)", kind);
    Suite *s = suite_create(name);
    TCase *ts = tcase_create("text");
    tcase_add_checked_fixture(ts, store_test_setup, store_test_teardown);
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_get_text_final);
    tcase_add_test(ts, test_get_text_queued);
    tcase_add_test(ts, test_get_text_unknown);
    tcase_add_test(ts, test_args_cost);
    tcase_add_test(ts, test_write_claim_shares_submitted_args);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    return store_test_run_each(contract_suite) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
