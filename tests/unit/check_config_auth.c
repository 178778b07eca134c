/*
 * check_config_auth.c - unit tests for the "auth" section of
 * common/config.c: auth.tokens_file, auth.none and the rule between them.
 * (The tokens file itself is check_auth.c; protected mode, which needs the
 * listen addresses, is tests/integration/check_preflight.c.)
 */
#include "config.h"
#include "config_test.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_auth_defaults)
{
    static config c;
    must_load(&c, "{\"auth\": {}}");
    ck_assert_str_eq(c.auth.tokens_file, "");
    ck_assert(!c.auth.none);
    ck_assert_ptr_null(c.auth.table);
}
END_TEST

START_TEST(test_auth_values)
{
    static config c;
    must_load(&c, "{\"auth\": {\"tokens_file\": \"/etc/crunchd/tokens\"}}");
    ck_assert_str_eq(c.auth.tokens_file, "/etc/crunchd/tokens");
    ck_assert(!c.auth.none);
    must_load(&c, "{\"auth\": {\"tokens_file\": \"tokens\", \"none\": false}}");
    ck_assert_str_eq(c.auth.tokens_file, "tokens"); /* relative: to the working directory */
    must_load(&c, "{\"auth\": {\"none\": true}}");
    ck_assert(c.auth.none);
    ck_assert_str_eq(c.auth.tokens_file, "");
    /* An empty tokens_file is "no tokens file", so it may go with none. */
    must_load(&c, "{\"auth\": {\"none\": true, \"tokens_file\": \"\"}}");
    ck_assert(c.auth.none);
}
END_TEST

/* The loaders never set the table: only the master does (auth_master.h). */
START_TEST(test_auth_table_not_a_key)
{
    static config c;
    memset(&c, 0xa5, sizeof(c));
    must_load(&c, "{\"auth\": {\"tokens_file\": \"t\"}}");
    ck_assert_ptr_null(c.auth.table);
    must_fail("{\"auth\": {\"table\": null}}", "auth.table: unknown key");
}
END_TEST

typedef struct err_case {
    const char *json;
    const char *want;
} err_case;

static const err_case auth_errors[] = {
    {"{\"auth\": 1}", "auth: expected object"},
    {"{\"auth\": {\"tokens\": \"x\"}}", "auth.tokens: unknown key"},
    {"{\"auth\": {\"tokens_file\": 1}}", "auth.tokens_file: expected string"},
    {"{\"auth\": {\"tokens_file\": null}}", "auth.tokens_file: expected string"},
    {"{\"auth\": {\"none\": \"yes\"}}", "auth.none: expected boolean"},
    {"{\"auth\": {\"none\": 1}}", "auth.none: expected boolean"},
    {"{\"auth\": {\"none\": true, \"tokens_file\": \"/etc/crunchd/tokens\"}}",
     "auth.none: true turns tokens off, but auth.tokens_file is set: remove one of them"},
};

START_TEST(test_auth_error)
{
    must_fail(auth_errors[_i].json, auth_errors[_i].want);
}
END_TEST

START_TEST(test_auth_path_too_long)
{
    static char json[CONFIG_PATH + 64];
    char path[CONFIG_PATH + 1];
    memset(path, 'p', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    snprintf(json, sizeof(json), "{\"auth\": {\"tokens_file\": \"%s\"}}", path);
    must_fail(json, "auth.tokens_file: longer than 1023 bytes");
    path[CONFIG_PATH - 1] = '\0'; /* 1023 bytes fit */
    snprintf(json, sizeof(json), "{\"auth\": {\"tokens_file\": \"%s\"}}", path);
    static config c;
    must_load(&c, json);
    ck_assert_uint_eq(strlen(c.auth.tokens_file), CONFIG_PATH - 1);
}
END_TEST

static Suite *config_auth_suite(void)
{
    Suite *s = suite_create("config_auth");
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, test_auth_defaults);
    tcase_add_test(tc, test_auth_values);
    tcase_add_test(tc, test_auth_table_not_a_key);
    tcase_add_loop_test(tc, test_auth_error, 0, (int)NELEM(auth_errors));
    tcase_add_test(tc, test_auth_path_too_long);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_auth_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
