/*
 * check_rt_proto.c - unit tests of the language runtime protocol
 * (common/fn/rt_proto.c): the hello turned into descriptors (their schema
 * listed back exactly as declared, and registered), every refusal of a
 * malformed hello (a line that is not JSON quoted without its control
 * characters), request and cancel lines, and the classification of reply
 * lines. Also the line reader (rt_line.c) the lines come through.
 */
#include "fn.h"
#include "fn_registry.h"
#include "rt_line.h"
#include "rt_proto.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static fn_status no_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    return FN_FAILED;
}

static rt_proto_hello *must_parse(const char *line, int runtime)
{
    char err[512] = "";
    rt_proto_hello *h = rt_proto_hello_parse(line, strlen(line), runtime, no_run, err, sizeof(err));
    ck_assert_msg(h != NULL, "hello refused: %s\n%s", err, line);
    return h;
}

/* A function entry exactly as /v1/functions lists it: parsed and listed
 * back, it must come out the same. */
static const char *const listed[] = {
    "{\"name\":\"pyfib\",\"kind\":\"cpu\",\"doc\":\"fib\",\"args\":[{\"name\":\"n\",\"type\":\"integer\","
    "\"required\":true,\"doc\":\"\",\"min\":0,\"max\":90}]}",
    "{\"name\":\"e\",\"kind\":\"io\",\"doc\":\"\",\"args\":[{\"name\":\"w\",\"type\":\"enum\",\"required\":false,"
    "\"doc\":\"which\",\"choices\":[\"a\",\"b\"],\"default\":\"b\"},{\"name\":\"s\",\"type\":\"string\","
    "\"required\":false,\"doc\":\"\",\"max_length\":5,\"default\":\"hi\"},{\"name\":\"v\",\"type\":"
    "\"array<number>\",\"required\":false,\"doc\":\"\",\"max_length\":3,\"default\":[]},{\"name\":\"k\","
    "\"type\":\"integer\",\"required\":false,\"doc\":\"\",\"min\":-5,\"max\":5,\"default\":-1}]}",
};

START_TEST(test_hello_lists_back)
{
    char line[2048];
    snprintf(line, sizeof(line), "{\"hello\": 1, \"functions\": [%s]}", listed[_i]);
    rt_proto_hello *h = must_parse(line, 3);
    ck_assert_int_eq(rt_proto_hello_count(h), 1);
    const fn_desc *d = rt_proto_hello_fn(h, 0);
    ck_assert_ptr_eq(d->run, no_run);
    ck_assert_ptr_null(d->cost_ns); /* never inline */
    ck_assert_int_eq(rt_proto_runtime(d), 3);
    json_t *got = fn_desc_json(d);
    json_t *want = json_loads(listed[_i], 0, NULL);
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
    char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(json_equal(got, want), "listed back as\n%s\nnot\n%s", g, w);
    free(g);
    free(w);
    json_decref(got);
    json_decref(want);
    rt_proto_hello_free(h);
}
END_TEST

START_TEST(test_hello_defaults)
{
    rt_proto_hello *h = must_parse(
        "{\"hello\": 1, \"runtime\": \"py 3\", \"functions\": [{\"name\": \"f\", \"args\": ["
        "{\"name\": \"n\", \"type\": \"integer\"}, {\"name\": \"s\", \"type\": \"string\"},"
        "{\"name\": \"o\", \"type\": \"string\", \"required\": false}]}, {\"name\": \"g\"}]}",
        0);
    ck_assert_str_eq(rt_proto_hello_runtime(h), "py 3");
    ck_assert_int_eq(rt_proto_hello_count(h), 2);
    const fn_desc *f = rt_proto_hello_fn(h, 0);
    ck_assert_int_eq(f->kind, FN_CPU);
    ck_assert_int_eq(f->nargs, 3);
    ck_assert(f->args[0].required);
    ck_assert(f->args[0].min == INT64_MIN && f->args[0].max == INT64_MAX);
    ck_assert(f->args[1].required);
    ck_assert(f->args[1].max == INT64_MAX); /* no bound but the body's */
    ck_assert(!f->args[2].required);
    ck_assert_int_eq(rt_proto_hello_fn(h, 1)->nargs, 0);
    ck_assert_ptr_null(rt_proto_hello_fn(h, 2));
    rt_proto_hello_free(h);
}
END_TEST

/* Registered, the functions validate like built-ins; a clash names both. */
START_TEST(test_hello_registers)
{
    char err[512];
    fn_registry *r = fn_registry_new();
    rt_proto_hello *h = must_parse(
        "{\"hello\": 1, \"functions\": [{\"name\": \"pyfib\", \"args\": [{\"name\": \"n\", \"type\":"
        " \"integer\", \"min\": 0, \"max\": 90}]}, {\"name\": \"fib\"}]}",
        0);
    ck_assert_int_eq(fn_registry_own(r, h, rt_proto_hello_free), 0);
    ck_assert_int_eq(fn_registry_add(r, rt_proto_hello_fn(h, 0), "runtime \"py\"", err, sizeof(err)), 0);
    const fn_desc *d = fn_registry_find(r, "pyfib", 5, false);
    ck_assert_ptr_nonnull(d);
    json_t *args = json_loads("{\"n\": 91}", 0, NULL), *out = NULL;
    char bad[80];
    ck_assert_int_eq(fn_validate(d, args, &out, bad, sizeof(bad), err, sizeof(err)), -1);
    ck_assert_str_eq(bad, "n");
    json_decref(args);
    fn_desc clash = *rt_proto_hello_fn(h, 1);
    ck_assert_int_eq(fn_registry_add(r, &clash, "built-in", err, sizeof(err)), 0);
    clash.name = "fib";
    ck_assert_int_eq(fn_registry_add(r, &clash, "runtime \"py\"", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "function \"fib\" of runtime \"py\" clashes with the built-in \"fib\"");
    fn_registry_free(r);
}
END_TEST

static const struct {
    const char *line, *want;
} bad_hellos[] = {
    {"", "not a JSON object: "},
    {"[1]", "not a JSON object"},
    {"{\"functions\": []}", "\"hello\": expected 1 (the protocol version)"},
    {"{\"hello\": 2, \"functions\": []}", "\"hello\": expected 1 (the protocol version)"},
    {"{\"hello\": 1}", "functions: required"},
    {"{\"hello\": 1, \"functions\": {}}", "functions: expected an array of at most 4096 objects"},
    {"{\"hello\": 1, \"functions\": [], \"extra\": 1}", "hello: unknown key \"extra\""},
    {"{\"hello\": 1, \"functions\": [], \"hello\": 1}", "not a JSON object: duplicate object key"},
    {"{\"hello\": 1, \"functions\": [7]}", "functions[0]: expected object"},
    {"{\"hello\": 1, \"functions\": [{}]}", "functions[0].name: required"},
    {"{\"hello\": 1, \"functions\": [{\"name\": 5}]}", "functions[0].name: expected string"},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"kind\": \"gpu\"}]}",
     "functions[0].kind: expected \"cpu\" or \"io\""},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"fn\": 1}]}",
     "functions[0]: unknown key \"fn\""},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": {}}]}",
     "functions[0].args: expected an array of at most 64 objects"},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"n\"}]}]}",
     "functions[0].args[0].type: required, one of \"integer\", \"string\", \"enum\", \"array<number>\""},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"n\", \"type\": \"number\"}]}]}",
     "functions[0].args[0].type: expected \"integer\", \"string\", \"enum\" or \"array<number>\""},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"type\": \"integer\"}]}]}",
     "functions[0].args[0].name: required, 1 to 63 bytes"},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"n\", \"type\": \"integer\", "
     "\"maximum\": 3}]}]}",
     "functions[0].args[0]: unknown key \"maximum\""},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"n\", \"type\": \"string\", "
     "\"min\": 3}]}]}",
     "functions[0].args[0]: unknown key \"min\""},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"n\", \"type\": \"integer\", "
     "\"min\": 1.5}]}]}",
     "functions[0].args[0].min: expected integer"},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"n\", \"type\": \"integer\", "
     "\"required\": false}]}]}",
     "functions[0].args[0].default: required when the argument is optional"},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"n\", \"type\": \"integer\", "
     "\"required\": true, \"default\": 3}]}]}",
     "functions[0].args[0]: a required argument has no default"},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"w\", \"type\": \"enum\"}]}]}",
     "functions[0].args[0].choices: required for an enum"},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"w\", \"type\": \"enum\", "
     "\"choices\": []}]}]}",
     "functions[0].args[0].choices: expected an array of 1 to 256 strings"},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"w\", \"type\": \"enum\", "
     "\"choices\": [\"a\", 1]}]}]}",
     "functions[0].args[0].choices[1]: expected string"},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"v\", \"type\": "
     "\"array<number>\", \"default\": [1]}]}]}",
     "functions[0].args[0].default: only [] is supported"},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"args\": [{\"name\": \"s\", \"type\": \"string\", "
     "\"max_length\": -1}]}]}",
     "functions[0].args[0].max_length: negative"},
    {"{\"hello\": 1, \"functions\": [{\"name\": \"f\", \"doc\": \"a\\u0000b\"}]}",
     "not a JSON object: \\u0000 is not allowed without JSON_ALLOW_NUL"},
};

START_TEST(test_hello_refused)
{
    char err[512] = "";
    const char *line = bad_hellos[_i].line;
    rt_proto_hello *h = rt_proto_hello_parse(line, strlen(line), 0, no_run, err, sizeof(err));
    ck_assert_msg(h == NULL, "accepted: %s", line);
    ck_assert_msg(strncmp(err, bad_hellos[_i].want, strlen(bad_hellos[_i].want)) == 0,
                  "%s\n got \"%s\"\nwant \"%s\"", line, err, bad_hellos[_i].want);
}
END_TEST

START_TEST(test_hello_too_long)
{
    size_t n = RT_HELLO_MAX_BYTES + 1;
    char *line = malloc(n), err[128];
    memset(line, ' ', n);
    ck_assert_ptr_null(rt_proto_hello_parse(line, n, 0, no_run, err, sizeof(err)));
    ck_assert_str_eq(err, "longer than 1048576 bytes");
    free(line);
}
END_TEST

START_TEST(test_request_and_cancel)
{
    json_t *args = json_loads("{\"n\": 40, \"s\": \"a\\\"b\"}", 0, NULL);
    size_t len;
    char *line = rt_proto_request(7, "pyfib", args, 1500, &len);
    ck_assert_str_eq(line, "{\"id\":7,\"fn\":\"pyfib\",\"args\":{\"n\":40,\"s\":\"a\\\"b\"},\"deadline_ms\":1500}\n");
    ck_assert_uint_eq(len, strlen(line));
    free(line);
    json_decref(args);
    char buf[RT_CANCEL_LINE_MAX];
    ck_assert_uint_eq(rt_proto_cancel(UINT64_MAX, buf), strlen("{\"cancel\":18446744073709551615}\n"));
    ck_assert_str_eq(buf, "{\"cancel\":18446744073709551615}\n");
}
END_TEST

START_TEST(test_replies)
{
    rt_reply r;
    char err[256];
    const char *l = "{\"id\": 3, \"result\": {\"a\": [1, \"x\\u0000y\"]}}";
    ck_assert_int_eq(rt_proto_reply_parse(l, strlen(l), &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r.kind, RT_REPLY_RESULT);
    ck_assert_uint_eq(r.id, 3);
    ck_assert_uint_eq(json_string_length(json_array_get(json_object_get(r.value, "a"), 1)), 3);
    json_decref(r.value);
    l = "{\"id\": 4, \"result\": null}";
    ck_assert_int_eq(rt_proto_reply_parse(l, strlen(l), &r, err, sizeof(err)), 0);
    ck_assert(json_is_null(r.value));
    json_decref(r.value);
    l = "{\"error\": {\"code\": \"function_error\", \"message\": \"ValueError: x\"}, \"id\": 5}";
    ck_assert_int_eq(rt_proto_reply_parse(l, strlen(l), &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r.kind, RT_REPLY_ERROR);
    ck_assert_str_eq(r.code, "function_error");
    ck_assert_str_eq(r.message, "ValueError: x");
    ck_assert_ptr_null(r.value);
    l = "{\"id\": 6, \"progress\": 2.9}";
    ck_assert_int_eq(rt_proto_reply_parse(l, strlen(l), &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r.kind, RT_REPLY_PROGRESS);
    ck_assert_int_eq(r.progress, 2);
}
END_TEST

static const struct {
    const char *line, *want;
} bad_replies[] = {
    {"this is not json", "not JSON: "},
    {"[1]", "not a JSON object"},
    {"{\"result\": 1}", "no integer \"id\""},
    {"{\"id\": \"1\", \"result\": 1}", "no integer \"id\""},
    {"{\"id\": -1, \"result\": 1}", "no integer \"id\""},
    {"{\"id\": 1}", "not {\"id\"} with one of \"result\", \"error\", \"progress\""},
    {"{\"id\": 1, \"result\": 1, \"error\": {}}", "not {\"id\"} with one of"},
    {"{\"id\": 1, \"result\": 1, \"x\": 2}", "not {\"id\"} with one of"},
    {"{\"id\": 1, \"id\": 1, \"result\": 1}", "not JSON: duplicate object key"},
    {"{\"id\": 1, \"error\": \"bad\"}", "\"error\" is not {\"code\": string, \"message\": string}"},
    {"{\"id\": 1, \"error\": {\"message\": \"m\"}}", "\"error\" is not"},
    {"{\"id\": 1, \"progress\": \"half\"}", "\"progress\" is not a number"},
    {"{\"id\": 1, \"result\": NaN}", "not JSON: "},
};

START_TEST(test_reply_refused)
{
    rt_reply r;
    char err[256] = "";
    const char *l = bad_replies[_i].line;
    ck_assert_int_eq(rt_proto_reply_parse(l, strlen(l), &r, err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, bad_replies[_i].want, strlen(bad_replies[_i].want)) == 0,
                  "%s\n got \"%s\"\nwant \"%s\"", l, err, bad_replies[_i].want);
    ck_assert_ptr_null(r.value);
}
END_TEST

/* jansson quotes a bit of a line that is not JSON ("... near '<text>'"); the
 * runtime's control characters must not reach the log through it. */
static const char *const not_json[] = {
    "\x1b[2J",
    "{\"id\": 0, \"progress\"\x1a 9}",
    "{\"id\": 1, \"result\": \"\x7f\x01\"}",
    "{\"hello\": 1, \"functions\": [\x01]}",
};

static void assert_no_control(const char *err, const char *line)
{
    for (const char *p = err; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && *p != 0x7f, "control character 0x%02x in \"%s\"",
                      (unsigned char)*p, err);
    ck_assert_msg(strchr(err, '?') != NULL, "%s: no '?' for the character: %s", line, err);
}

START_TEST(test_not_json_quotes_no_control)
{
    char err[600] = "";
    rt_reply r;
    const char *l = not_json[_i];
    ck_assert_int_eq(rt_proto_reply_parse(l, strlen(l), &r, err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, "not JSON: ", 10) == 0, "%s", err);
    assert_no_control(err, l);
    ck_assert_ptr_null(rt_proto_hello_parse(l, strlen(l), 0, no_run, err, sizeof(err)));
    ck_assert_msg(strncmp(err, "not a JSON object: ", 19) == 0, "%s", err);
    assert_no_control(err, l);
}
END_TEST

/* ---- rt_line ---- */

static int pipe_with(const char *text)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
    ck_assert_int_eq(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
    close(p[1]);
    return p[0];
}

START_TEST(test_lines)
{
    rt_line l;
    const char *line;
    size_t len;
    int fd = pipe_with("one\ntwo\nthree");
    rt_line_init(&l, 100);
    ck_assert_int_gt(rt_line_fill(&l, fd), 0);
    ck_assert_int_eq(rt_line_next(&l, &line, &len), 1);
    ck_assert(len == 3 && memcmp(line, "one", 3) == 0);
    ck_assert_int_eq(rt_line_next(&l, &line, &len), 1);
    ck_assert(len == 3 && memcmp(line, "two", 3) == 0);
    ck_assert_int_eq(rt_line_next(&l, &line, &len), 0);
    ck_assert(rt_line_partial(&l));
    ck_assert_int_eq(rt_line_fill(&l, fd), 0); /* end of file */
    rt_line_release(&l);
    close(fd);
}
END_TEST

START_TEST(test_line_too_long)
{
    rt_line l;
    const char *line;
    size_t len;
    int fd = pipe_with("abcdefgh\nok\n");
    rt_line_init(&l, 5);
    rt_line_fill(&l, fd); /* reads at most max + 1 bytes: the buffer's limit */
    ck_assert_int_eq(rt_line_next(&l, &line, &len), -1);
    ck_assert_int_eq(rt_line_cut(&l, &line, &len), 1);
    ck_assert(len == 5 && memcmp(line, "abcde", 5) == 0);
    while (rt_line_fill(&l, fd) > 0)
        ;
    ck_assert_int_eq(rt_line_next(&l, &line, &len), 1);
    ck_assert(len == 2 && memcmp(line, "ok", 2) == 0);
    rt_line_release(&l);
    close(fd);
}
END_TEST

static Suite *rt_proto_suite(void)
{
    Suite *s = suite_create("rt_proto");
    TCase *tc = tcase_create("hello");
    tcase_add_loop_test(tc, test_hello_lists_back, 0, NELEM(listed));
    tcase_add_test(tc, test_hello_defaults);
    tcase_add_test(tc, test_hello_registers);
    tcase_add_loop_test(tc, test_hello_refused, 0, NELEM(bad_hellos));
    tcase_add_test(tc, test_hello_too_long);
    suite_add_tcase(s, tc);
    tc = tcase_create("calls");
    tcase_add_test(tc, test_request_and_cancel);
    tcase_add_test(tc, test_replies);
    tcase_add_loop_test(tc, test_reply_refused, 0, NELEM(bad_replies));
    tcase_add_loop_test(tc, test_not_json_quotes_no_control, 0, NELEM(not_json));
    suite_add_tcase(s, tc);
    tc = tcase_create("lines");
    tcase_add_test(tc, test_lines);
    tcase_add_test(tc, test_line_too_long);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rt_proto_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
