/*
 * check_config_runtimes.c - unit tests of "functions.runtimes"
 * (common/config_runtimes.c): a full entry, the defaults, and each refusal
 * with its exact message naming the path.
 */
#include "config.h"
#include "config_runtimes.h"
#include "config_test.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_full_entry)
{
    static config c;
    must_load(&c, "{\"functions\": {\"runtimes\": [{\"name\": \"py\", \"argv\": [\"python3\", "
                  "\"/srv/fns/handlers.py\"], \"per_worker\": 2, \"memory_mb\": 512, \"env\": "
                  "{\"PYTHONPATH\": \"/srv/lib\", \"LANG\": \"C.UTF-8\"}, \"cwd\": \"/srv/fns\", "
                  "\"max_result_bytes\": 2048, \"hello_timeout_ms\": 500}, {\"name\": \"node-1\", "
                  "\"argv\": [\"node\"]}]}}");
    ck_assert_int_eq(c.functions.n_runtimes, 2);
    const config_runtime *rt = &c.functions.runtimes[0];
    ck_assert_str_eq(rt->name, "py");
    ck_assert_int_eq(rt->argc, 2);
    ck_assert_str_eq(rt->argv[1], "/srv/fns/handlers.py");
    ck_assert_int_eq(rt->per_worker, 2);
    ck_assert_int_eq(rt->memory_mb, 512);
    ck_assert_int_eq(rt->nenv, 2);
    ck_assert_str_eq(rt->env[0], "PYTHONPATH=/srv/lib");
    ck_assert_str_eq(rt->env[1], "LANG=C.UTF-8");
    ck_assert_str_eq(rt->cwd, "/srv/fns");
    ck_assert_int_eq(rt->max_result_bytes, 2048);
    ck_assert_int_eq(rt->hello_timeout_ms, 500);
    rt = &c.functions.runtimes[1];
    ck_assert_str_eq(rt->name, "node-1");
    ck_assert_int_eq(rt->argc, 1);
    ck_assert_int_eq(rt->per_worker, CONFIG_RT_PER_WORKER);
    ck_assert_int_eq(rt->memory_mb, 0);
    ck_assert_int_eq(rt->nenv, 0);
    ck_assert_str_eq(rt->cwd, "");
    ck_assert_int_eq(rt->max_result_bytes, CONFIG_RT_MAX_RESULT_BYTES);
    ck_assert_int_eq(rt->hello_timeout_ms, CONFIG_RT_HELLO_TIMEOUT_MS);
}
END_TEST

START_TEST(test_none_by_default)
{
    static config c;
    must_load(&c, "{}");
    ck_assert_int_eq(c.functions.n_runtimes, 0);
    must_load(&c, "{\"functions\": {\"runtimes\": []}}");
    ck_assert_int_eq(c.functions.n_runtimes, 0);
}
END_TEST

#define RT "{\"functions\": {\"runtimes\": [{\"name\": \"py\", \"argv\": [\"python3\"], "
#define END "}]}}"

static const struct {
    const char *json, *want;
} bad[] = {
    {"{\"functions\": 1}", "functions: expected object"},
    {"{\"functions\": {\"x\": 1}}", "functions.x: unknown key"},
    {"{\"functions\": {\"runtimes\": {}}}", "functions.runtimes: expected array of objects"},
    {"{\"functions\": {\"runtimes\": [1]}}", "functions.runtimes[0]: expected object"},
    {"{\"functions\": {\"runtimes\": [{\"argv\": [\"x\"]}]}}", "functions.runtimes[0].name: required"},
    {"{\"functions\": {\"runtimes\": [{\"name\": \"py\"}]}}", "functions.runtimes[0].argv: required"},
    {"{\"functions\": {\"runtimes\": [{\"name\": \"1py\", \"argv\": [\"x\"]}]}}",
     "functions.runtimes[0].name: expected a letter followed by letters, digits, '_' or '-'"},
    {"{\"functions\": {\"runtimes\": [{\"name\": \"p y\", \"argv\": [\"x\"]}]}}",
     "functions.runtimes[0].name: expected a letter followed by letters, digits, '_' or '-'"},
    {"{\"functions\": {\"runtimes\": [{\"name\": \"abcdefghijabcdefghijabcdefghijabc\", \"argv\": "
     "[\"x\"]}]}}",
     "functions.runtimes[0].name: longer than 31 bytes"},
    {"{\"functions\": {\"runtimes\": [{\"name\": \"py\", \"argv\": []}]}}",
     "functions.runtimes[0].argv: must have from 1 to 16 entries"},
    {"{\"functions\": {\"runtimes\": [{\"name\": \"py\", \"argv\": [\"\"]}]}}",
     "functions.runtimes[0].argv[0]: must not be empty"},
    {"{\"functions\": {\"runtimes\": [{\"name\": \"py\", \"argv\": [\"x\", 2]}]}}",
     "functions.runtimes[0].argv[1]: expected string"},
    {"{\"functions\": {\"runtimes\": [{\"name\": \"py\", \"argv\": [\"1\",\"2\",\"3\",\"4\",\"5\","
     "\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]}]}}",
     "functions.runtimes[0].argv: must have from 1 to 16 entries"},
    {RT "\"per_worker\": 0" END, "functions.runtimes[0].per_worker: must be from 1 to 64"},
    {RT "\"per_worker\": \"2\"" END, "functions.runtimes[0].per_worker: expected integer"},
    {RT "\"memory_mb\": -1" END, "functions.runtimes[0].memory_mb: must be from 0 to 1048576"},
    {RT "\"max_result_bytes\": 100" END,
     "functions.runtimes[0].max_result_bytes: must be from 1024 to 1073741824"},
    {RT "\"hello_timeout_ms\": 50" END,
     "functions.runtimes[0].hello_timeout_ms: must be from 100 to 600000"},
    {RT "\"cwd\": 1" END, "functions.runtimes[0].cwd: expected string"},
    {RT "\"env\": []" END, "functions.runtimes[0].env: expected object of strings"},
    {RT "\"env\": {\"A\": 1}" END, "functions.runtimes[0].env.A: expected string"},
    {RT "\"env\": {\"1A\": \"x\"}" END,
     "functions.runtimes[0].env: a name is not [A-Za-z_][A-Za-z0-9_]* of at most 64 bytes"},
    {RT "\"env\": {\"A=B\": \"x\"}" END,
     "functions.runtimes[0].env: a name is not [A-Za-z_][A-Za-z0-9_]* of at most 64 bytes"},
    {RT "\"env\": {\"A1\":\"\",\"A2\":\"\",\"A3\":\"\",\"A4\":\"\",\"A5\":\"\",\"A6\":\"\",\"A7\":\"\","
        "\"A8\":\"\",\"A9\":\"\",\"A10\":\"\",\"A11\":\"\",\"A12\":\"\",\"A13\":\"\",\"A14\":\"\","
        "\"A15\":\"\",\"A16\":\"\",\"A17\":\"\"}" END,
     "functions.runtimes[0].env: more than 16 entries"},
    {RT "\"argc\": 1" END, "functions.runtimes[0].argc: unknown key"},
    {"{\"functions\": {\"runtimes\": [{\"name\": \"py\", \"argv\": [\"x\"]}, {\"name\": \"py\", "
     "\"argv\": [\"y\"]}]}}",
     "functions.runtimes[1].name: \"py\" is the name of functions.runtimes[0] too"},
    {"{\"functions\": {\"runtimes\": [{},{},{},{},{},{},{},{},{}]}}",
     "functions.runtimes: must have from 0 to 8 entries"},
};

START_TEST(test_refused)
{
    must_fail(bad[_i].json, bad[_i].want);
}
END_TEST

START_TEST(test_long_argv_entry)
{
    size_t n = CONFIG_PATH + 64;
    char *json = malloc(n + 128), *p;
    p = json + sprintf(json, "{\"functions\": {\"runtimes\": [{\"name\": \"py\", \"argv\": [\"");
    memset(p, 'a', CONFIG_PATH);
    strcpy(p + CONFIG_PATH, "\"]}]}}");
    must_fail(json, "functions.runtimes[0].argv[0]: longer than 1023 bytes");
    free(json);
}
END_TEST

static Suite *runtimes_suite(void)
{
    Suite *s = suite_create("config_runtimes");
    TCase *tc = tcase_create("runtimes");
    tcase_add_test(tc, test_full_entry);
    tcase_add_test(tc, test_none_by_default);
    tcase_add_loop_test(tc, test_refused, 0, NELEM(bad));
    tcase_add_test(tc, test_long_argv_entry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(runtimes_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
