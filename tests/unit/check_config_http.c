/*
 * check_config_http.c - unit tests for the "http" section of common/config.c:
 * http.cors_origins, its origin syntax and its list rules.
 */
#include "config.h"
#include "config_test.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const origins_ok[] = {
    "*",
    "https://app.example.com",
    "http://localhost",
    "http://localhost:3000",
    "https://App.Example.COM:8443",
    "http://10.0.0.1",
    "http://10.0.0.1:65535",
    "http://[::1]",
    "http://[::1]:8080",
    "https://xn--bcher-kva.example",
};

START_TEST(test_cors_origin_valid)
{
    static config c;
    char json[512];
    snprintf(json, sizeof(json), "{\"http\": {\"cors_origins\": [\"%s\"]}}", origins_ok[_i]);
    must_load(&c, json);
    ck_assert_int_eq(c.http.n_cors_origins, 1);
    ck_assert_str_eq(c.http.cors_origins[0], origins_ok[_i]);
}
END_TEST

static const char *const origins_bad[] = {
    "",
    "null",
    "**",
    "app.example.com",
    "ftp://app.example.com",
    "https://",
    "https://app.example.com/",
    "https://app.example.com/path",
    "https://app.example.com?x",
    "https://user@app.example.com",
    "https://app.example.com:",
    "https://app.example.com:0",
    "https://app.example.com:65536",
    "https://app.example.com:80:80",
    "https://app.example.com:8x",
    "https://app example.com",
    "https://[::1",
    "https://[fe80::1%eth0]",
    "https://::1",
    "HTTPS://app.example.com",
    " https://app.example.com",
};

START_TEST(test_cors_origin_invalid)
{
    char json[512], want[512];
    snprintf(json, sizeof(json), "{\"http\": {\"cors_origins\": [\"%s\"]}}", origins_bad[_i]);
    snprintf(want, sizeof(want),
             "http.cors_origins[0]: expected \"*\" or an origin such as \"https://app.example.com\"");
    must_fail(json, want);
}
END_TEST

START_TEST(test_cors_origins_list)
{
    static config c;
    static char json[16384];
    must_load(&c, "{\"http\": {\"cors_origins\": []}}");
    ck_assert_int_eq(c.http.n_cors_origins, 0);
    must_fail("{\"http\": {\"cors_origins\": [\"https://a.example\", \"*\"]}}",
              "http.cors_origins[1]: \"*\" allows every origin; list it alone");
    must_fail("{\"http\": {\"cors_origins\": [\"*\", \"*\"]}}",
              "http.cors_origins[1]: duplicate of http.cors_origins[0]");
    must_fail("{\"http\": {\"cors_origins\": \"*\"}}",
              "http.cors_origins: expected array of strings");
    must_fail("{\"http\": {\"cors\": []}}", "http.cors: unknown key");
    must_fail("{\"http\": []}", "http: expected object");
    size_t n = (size_t)snprintf(json, sizeof(json), "{\"http\": {\"cors_origins\": [");
    for (int i = 0; i < CONFIG_MAX_CORS; i++)
        n += (size_t)snprintf(json + n, sizeof(json) - n, "%s\"https://h%d.example\"", i ? "," : "", i);
    snprintf(json + n, sizeof(json) - n, "]}}");
    must_load(&c, json);
    ck_assert_int_eq(c.http.n_cors_origins, CONFIG_MAX_CORS);
    snprintf(json + n, sizeof(json) - n, ",\"https://one.more\"]}}");
    must_fail(json, "http.cors_origins: must have from 0 to 32 entries");
}
END_TEST

static Suite *config_http_suite(void)
{
    Suite *s = suite_create("config_http");
    TCase *tc = tcase_create("cors_origins");
    tcase_add_loop_test(tc, test_cors_origin_valid, 0, (int)NELEM(origins_ok));
    tcase_add_loop_test(tc, test_cors_origin_invalid, 0, (int)NELEM(origins_bad));
    tcase_add_test(tc, test_cors_origins_list);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_http_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
