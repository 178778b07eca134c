/*
 * check_auth_mint.c - unit tests for common/auth_mint.c: a minted secret is
 * random, URL-safe and of the documented size, and its line is a valid
 * tokens-file line whose hash is the secret's; bad arguments are refused
 * with the tokens file's own words.
 */
#include "auth_mint.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct minted {
    char secret[AUTH_SECRET_LEN + 1];
    char line[AUTH_LINE_MAX + 1];
} minted;

static void must_mint(minted *m, const char *name, const char *scopes, const char *const *limits,
                      size_t n)
{
    char err[512] = "";
    int rc = auth_mint(name, scopes, limits, n, m->secret, sizeof(m->secret), m->line,
                       sizeof(m->line), err, sizeof(err));
    ck_assert_msg(rc == 0, "auth_mint(%s, %s) failed: %s", name, scopes, err);
}

static void must_not_mint(const char *name, const char *scopes, const char *const *limits, size_t n,
                          const char *want)
{
    minted m;
    char err[512] = "";
    int rc = auth_mint(name, scopes, limits, n, m.secret, sizeof(m.secret), m.line, sizeof(m.line),
                       err, sizeof(err));
    ck_assert_msg(rc == -1, "auth_mint(%s, %s) succeeded: %s", name, scopes, m.line);
    ck_assert_msg(strcmp(err, want) == 0, "auth_mint(%s, %s):\n got \"%s\"\nwant \"%s\"", name,
                  scopes, err, want);
}

START_TEST(test_mint_secret)
{
    minted a, b;
    must_mint(&a, "ci", "call,read", NULL, 0);
    must_mint(&b, "ci", "call,read", NULL, 0);
    ck_assert_uint_eq(strlen(a.secret), AUTH_SECRET_LEN);
    ck_assert_uint_eq(AUTH_SECRET_LEN, 8 + 43); /* 256 bits in base64 without padding */
    ck_assert(strncmp(a.secret, AUTH_SECRET_PREFIX, strlen(AUTH_SECRET_PREFIX)) == 0);
    const char *body = a.secret + strlen(AUTH_SECRET_PREFIX);
    ck_assert_uint_eq(
        strspn(body, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        strlen(body));
    ck_assert_str_ne(a.secret, b.secret);
    /* As a header it is a Bearer token as it stands. */
    char header[128];
    const char *s;
    size_t len;
    snprintf(header, sizeof(header), "Bearer %s", a.secret);
    ck_assert_int_eq(auth_bearer_parse(header, strlen(header), &s, &len), 0);
    ck_assert_uint_eq(len, AUTH_SECRET_LEN);
}
END_TEST

/* The line parses as the file would, and the secret finds it. */
START_TEST(test_mint_line)
{
    minted m;
    char err[256], hex[AUTH_HASH_HEX_LEN + 1], want[512];
    const char *limits[] = {"max_queued=10", "rps=5", "burst=20"};
    must_mint(&m, "batch-1", "submit,read,cancel", limits, 3);
    ck_assert_int_eq(auth_hash_hex(m.secret, strlen(m.secret), hex), 0);
    snprintf(want, sizeof(want), "batch-1 submit,read,cancel %s max_queued=10 rps=5 burst=20", hex);
    ck_assert_str_eq(m.line, want);
    auth_table *t = auth_table_parse(m.line, strlen(m.line), "line", err, sizeof(err));
    ck_assert_msg(t != NULL, "%s", err);
    const auth_token *tok = auth_table_lookup(t, m.secret, strlen(m.secret));
    ck_assert_ptr_nonnull(tok);
    ck_assert_str_eq(auth_token_name(tok), "batch-1");
    ck_assert_uint_eq(auth_token_scopes(tok),
                      AUTH_SCOPE_SUBMIT | AUTH_SCOPE_READ | AUTH_SCOPE_CANCEL);
    ck_assert_int_eq(auth_token_limits(tok).max_queued, 10);
    ck_assert_int_eq(auth_token_limits(tok).rps, 5);
    ck_assert_int_eq(auth_token_limits(tok).burst, 20);
    auth_table_free(t);
    ck_assert(strstr(m.line, m.secret) == NULL);
}
END_TEST

START_TEST(test_mint_refused)
{
    const char *bad_rps[] = {"rps=0"};
    const char *burst[] = {"burst=3"};
    const char *two[] = {"rps=1 burst=2"};
    static char long_limit[AUTH_LINE_MAX + 2];
    const char *huge[] = {long_limit};
    must_not_mint("ci", "call,wirte", NULL, 0,
                  "--mint-token: unknown scope \"wirte\" (expected call, submit, read, cancel or "
                  "admin)");
    must_not_mint("c/i", "call", NULL, 0,
                  "--mint-token: bad name \"c/i\": 1 to 64 letters, digits, '.', '_' or '-'");
    must_not_mint("#ci", "call", NULL, 0, "--mint-token: bad name \"#ci\"");
    must_not_mint("ci", "call,call", NULL, 0, "--mint-token: duplicate scope \"call\"");
    must_not_mint("ci", "call", bad_rps, 1,
                  "--mint-token: bad limit \"rps=0\": an integer from 1 to 1000000");
    must_not_mint("ci", "call", burst, 1, "--mint-token: bad limit \"burst=3\": burst needs rps");
    must_not_mint("c i", "call", NULL, 0,
                  "--mint-token: NAME, SCOPES and each limit must be one word");
    must_not_mint("ci", "call read", NULL, 0,
                  "--mint-token: NAME, SCOPES and each limit must be one word");
    must_not_mint("ci\n", "call", NULL, 0,
                  "--mint-token: NAME, SCOPES and each limit must be one word");
    must_not_mint("", "call", NULL, 0,
                  "--mint-token: NAME, SCOPES and each limit must be one word");
    must_not_mint("ci", "", NULL, 0, "--mint-token: NAME, SCOPES and each limit must be one word");
    must_not_mint("ci", "call", two, 1,
                  "--mint-token: NAME, SCOPES and each limit must be one word");
    memset(long_limit, 'x', sizeof(long_limit) - 1);
    must_not_mint("ci", "call", huge, 1, "--mint-token: the line would be longer than 1024 bytes");
}
END_TEST

static Suite *auth_mint_suite(void)
{
    Suite *s = suite_create("auth_mint");
    TCase *tc = tcase_create("mint");
    tcase_add_test(tc, test_mint_secret);
    tcase_add_test(tc, test_mint_line);
    tcase_add_test(tc, test_mint_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(auth_mint_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
