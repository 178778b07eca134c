/*
 * check_http_media.c - unit tests for worker/http_media.c: which
 * Content-Type values are application/json (RFC 9110 8.3.1, 5.6.6).
 */
#include "http_media.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_media_type)
{
    static const char *const json[] = {
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/json ; charset=utf-8",
        "application/json;\tcharset=\"utf-8\"",
        "application/json; a=b; c=\"d; e\\\"f\"",
        "application/json;",           /* empty parameters (RFC 9110 5.6.6) */
        "application/json; ; a=b",
        "application/json; a=\"\"",
        "application/json; a=\"caf\xc3\xa9\"", /* obs-text in a quoted-string */
    };
    static const char *const not_json[] = {
        "",
        "application/json garbage",
        "application/json x=y",
        "application/jsonx",
        "application/json/x",
        "application/json; charset",
        "application/json; charset=",
        "application/json; =utf-8",
        "application/json; charset=utf 8",
        "application/json; charset=\"utf-8",
        "application/json; charset=\"a\"b",
        "application/json; charset=\"a\\",
        "application/json, text/plain",
        "application /json",
        "application/ json",
        "application",
        "/json",
        "application/",
        "text/json",
        "application/x-json",
        "*/*",
    };
    for (size_t i = 0; i < sizeof json / sizeof json[0]; i++)
        ck_assert_msg(http_media_type_is((http_slice){json[i], strlen(json[i])}, "application/json"),
                      "\"%s\" is JSON", json[i]);
    for (size_t i = 0; i < sizeof not_json / sizeof not_json[0]; i++)
        ck_assert_msg(
            !http_media_type_is((http_slice){not_json[i], strlen(not_json[i])}, "application/json"),
            "\"%s\" is not JSON", not_json[i]);
    ck_assert(!http_media_type_is((http_slice){NULL, 0}, "application/json"));
    ck_assert(http_media_type_is((http_slice){"text/plain; q=1", 15}, "text/plain"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_media");
    TCase *tc = tcase_create("media");
    tcase_add_test(tc, test_media_type);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
