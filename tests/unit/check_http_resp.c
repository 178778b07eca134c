/* Unit tests for worker/http/http_resp.c and common/buf.c. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http_resp.h"

static char *as_str(buf *b)
{
    buf_append(b, "", 1);
    return b->p;
}

START_TEST(test_keep_alive_11)
{
    buf b = BUF_INIT;
    http_resp_set_date(0);
    http_resp r = {.status = 200, .content_type = "application/json", .keep_alive = true};
    http_resp_write(&b, &r, "{}", 2);
    ck_assert_str_eq(as_str(&b), "HTTP/1.1 200 OK\r\nServer: crunchd\r\n"
                                 "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                                 "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    buf_release(&b);
}
END_TEST

START_TEST(test_close_and_10_and_head)
{
    buf b = BUF_INIT;
    http_resp r = {.status = 404, .content_type = "application/json", .keep_alive = false};
    http_resp_write(&b, &r, "xy", 2);
    ck_assert_ptr_nonnull(strstr(as_str(&b), "\r\nConnection: close\r\n"));
    b.len = 0;
    r = (http_resp){.status = 200, .keep_alive = true, .http10 = true, .head_only = true};
    http_resp_write(&b, &r, "hello", 5);
    char *s = as_str(&b);
    ck_assert_ptr_nonnull(strstr(s, "Connection: keep-alive\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "Content-Length: 5\r\n"));
    ck_assert_ptr_null(strstr(s, "hello")); /* HEAD: no body */
    buf_release(&b);
}
END_TEST

START_TEST(test_error_envelope_is_json)
{
    buf b = BUF_INIT;
    http_resp r = {.status = 400, .keep_alive = true, .extra = "Allow: GET\r\n"};
    http_resp_error(&b, &r, "invalid_args", "n: must be \"small\"\n", "n");
    char *s = as_str(&b);
    ck_assert(strncmp(s, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    ck_assert_ptr_nonnull(strstr(s, "Allow: GET\r\n"));
    json_error_t err;
    json_t *v = json_loads(strstr(s, "\r\n\r\n") + 4, 0, &err);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "error"), "code")), "invalid_args");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "error"), "message")),
                     "n: must be \"small\"\n");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "error"), "arg")), "n");
    json_decref(v);
    buf_release(&b);
}
END_TEST

/* 204: no Content-Length, no body (RFC 9110 8.6); both extras, in order. */
START_TEST(test_204_and_request_headers)
{
    buf b = BUF_INIT;
    http_resp_set_date(0);
    http_resp r = {.status = 204, .keep_alive = true, .extra = "Allow: GET\r\n",
                   .req_extra = "Vary: Origin\r\n"};
    http_resp_write(&b, &r, "", 0);
    ck_assert_str_eq(as_str(&b), "HTTP/1.1 204 No Content\r\nServer: crunchd\r\n"
                                 "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                                 "Allow: GET\r\nVary: Origin\r\n\r\n");
    b.len = 0;
    r = (http_resp){.status = 404, .keep_alive = true, .req_extra = "Vary: Origin\r\n"};
    http_resp_error(&b, &r, "not_found", "no", NULL);
    char *s = as_str(&b);
    ck_assert_ptr_nonnull(strstr(s, "\r\nVary: Origin\r\n\r\n{\"error\""));
    ck_assert_ptr_nonnull(strstr(s, "Content-Length: "));
    buf_release(&b);
}
END_TEST

/* A message cut inside a character (or holding bad bytes) still gives a
 * valid UTF-8 JSON reply: the bad bytes become '?'. */
START_TEST(test_error_envelope_bad_utf8)
{
    buf b = BUF_INIT;
    http_resp r = {.status = 400, .keep_alive = true};
    http_resp_error(&b, &r, "invalid_args", "x\xe2\x82: \xff \xc3\xa9", "\xe2\x82\xac\xe2");
    char *s = as_str(&b);
    json_error_t err;
    json_t *v = json_loads(strstr(s, "\r\n\r\n") + 4, 0, &err); /* jansson rejects bad UTF-8 */
    ck_assert_msg(v != NULL, "%s", err.text);
    json_t *e = json_object_get(v, "error");
    ck_assert_str_eq(json_string_value(json_object_get(e, "message")), "x??: ? \xc3\xa9");
    ck_assert_str_eq(json_string_value(json_object_get(e, "arg")), "\xe2\x82\xac?");
    json_decref(v);
    buf_release(&b);
}
END_TEST

START_TEST(test_numbers)
{
    buf b = BUF_INIT;
    buf_append_u64(&b, 0);
    buf_append(&b, " ", 1);
    buf_append_u64(&b, UINT64_MAX);
    buf_append(&b, " ", 1);
    buf_append_i64(&b, INT64_MIN);
    buf_append(&b, " ", 1);
    buf_append_ms3(&b, 12345);
    buf_append(&b, " ", 1);
    buf_append_ms3(&b, 7);
    ck_assert_str_eq(as_str(&b), "0 18446744073709551615 -9223372036854775808 12.345 0.007");
    buf_release(&b);
}
END_TEST

START_TEST(test_buf_consume_and_shrink)
{
    buf b = BUF_INIT;
    for (int i = 0; i < 10000; i++)
        buf_append(&b, "abcdefgh", 8);
    buf_consume(&b, 79996);
    ck_assert_uint_eq(b.len, 4);
    ck_assert(memcmp(b.p, "efgh", 4) == 0);
    buf_consume(&b, 4);
    buf_shrink(&b, 1024);
    ck_assert_ptr_null(b.p);
    buf_release(&b);
}
END_TEST

START_TEST(test_reasons)
{
    ck_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
    ck_assert_str_eq(http_reason(504), "Gateway Timeout");
    ck_assert_str_eq(http_reason(401), "Unauthorized");
    ck_assert_str_eq(http_reason(403), "Forbidden");
    ck_assert_str_eq(http_reason(299), "Unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_resp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_keep_alive_11);
    tcase_add_test(tc, test_close_and_10_and_head);
    tcase_add_test(tc, test_error_envelope_is_json);
    tcase_add_test(tc, test_204_and_request_headers);
    tcase_add_test(tc, test_error_envelope_bad_utf8);
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_buf_consume_and_shrink);
    tcase_add_test(tc, test_reasons);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
