/* Unit tests for common/utf8.c. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* U+20AC EURO SIGN: three bytes. */
#define EURO "\xe2\x82\xac"

START_TEST(test_seq)
{
    ck_assert_uint_eq(utf8_seq("a", 1), 1);
    ck_assert_uint_eq(utf8_seq("\xc3\xa9", 2), 2);
    ck_assert_uint_eq(utf8_seq(EURO, 3), 3);
    ck_assert_uint_eq(utf8_seq("\xf0\x9f\x98\x80", 4), 4);
    ck_assert_uint_eq(utf8_seq(EURO, 2), 0);             /* cut short */
    ck_assert_uint_eq(utf8_seq("\x82", 1), 0);           /* continuation byte */
    ck_assert_uint_eq(utf8_seq("\xc0\xaf", 2), 0);       /* overlong '/' */
    ck_assert_uint_eq(utf8_seq("\xed\xa0\x80", 3), 0);   /* surrogate */
    ck_assert_uint_eq(utf8_seq("\xf4\x90\x80\x80", 4), 0); /* above U+10FFFF */
    ck_assert_uint_eq(utf8_seq("\0", 1), 0);
    ck_assert_uint_eq(utf8_seq("\xff", 1), 0);
}
END_TEST

START_TEST(test_cut)
{
    const char *s = "a" EURO EURO; /* 7 bytes */
    ck_assert_uint_eq(utf8_cut(s, 7, 7), 7);
    ck_assert_uint_eq(utf8_cut(s, 7, 6), 4);
    ck_assert_uint_eq(utf8_cut(s, 7, 5), 4);
    ck_assert_uint_eq(utf8_cut(s, 7, 4), 4);
    ck_assert_uint_eq(utf8_cut(s, 7, 3), 1);
    ck_assert_uint_eq(utf8_cut(s, 7, 0), 0);
    ck_assert_uint_eq(utf8_cut("\xff\xfe", 2, 1), 1); /* bad bytes are cut one by one */
}
END_TEST

START_TEST(test_copy)
{
    char out[8];
    ck_assert_uint_eq(utf8_copy(out, sizeof(out), "a" EURO EURO, 7), 7);
    ck_assert_str_eq(out, "a" EURO EURO);
    ck_assert_uint_eq(utf8_copy(out, 7, "a" EURO EURO, 7), 4); /* room for 6 bytes */
    ck_assert_str_eq(out, "a" EURO);
    ck_assert_uint_eq(utf8_copy(out, sizeof(out), "x\xff\xe2\x82y", 5), 5);
    ck_assert_str_eq(out, "x???y");
    ck_assert_uint_eq(utf8_copy(out, sizeof(out), "a\0b", 3), 3);
    ck_assert_str_eq(out, "a?b");
    ck_assert_uint_eq(utf8_copy(out, 1, "abc", 3), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_echo)
{
    char key[80], out[UTF8_ECHO_SIZE];
    /* 'a' and 23 euro signs: 70 bytes; byte 64 falls inside the 22nd sign. */
    strcpy(key, "a");
    for (int i = 0; i < 23; i++)
        strcat(key, EURO);
    ck_assert_uint_eq(strlen(key), 70);
    utf8_echo(out, key, strlen(key));
    ck_assert_uint_eq(strlen(out), 1 + 21 * 3 + 3);
    ck_assert(strncmp(out, key, 64) == 0);
    ck_assert_str_eq(out + 64, "...");
    /* short text is copied whole, without "..." */
    ck_assert_str_eq(utf8_echo(out, "n", 1), "n");
    /* exactly UTF8_ECHO_MAX bytes: no "..." */
    memset(key, 'k', UTF8_ECHO_MAX);
    ck_assert_uint_eq(strlen(utf8_echo(out, key, UTF8_ECHO_MAX)), UTF8_ECHO_MAX);
    ck_assert_str_eq(utf8_echo(out, "\xc3", 1), "?");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_seq);
    tcase_add_test(tc, test_cut);
    tcase_add_test(tc, test_copy);
    tcase_add_test(tc, test_echo);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
