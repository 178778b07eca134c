/*
 * check_callback_allow.c - unit tests for common/callback_allow.c (the
 * entries of callbacks.allow) and for callback_check, which matches a URL's
 * host:port against them.
 *
 * Cases are tables; each row is its own Check test so a failure names the row.
 */
#include "callback.h"
#include "callback_allow.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- entries ---- */

typedef struct entry_ok {
    const char *entry;
    const char *host; /* normalized */
    int port;         /* 0: ports 80 and 443 */
} entry_ok;

static const entry_ok entry_ok_cases[] = {
    {"127.0.0.1:9000", "127.0.0.1", 9000},
    {"localhost:9000", "localhost", 9000},
    {"LocalHost:09000", "localhost", 9000},
    {"example.org:8080", "example.org", 8080},
    {"Hooks.Example.ORG", "hooks.example.org", 0},
    {"10.0.0.5", "10.0.0.5", 0},
    {"[::1]:9000", "::1", 9000},
    {"[0:0:0:0:0:0:0:1]:1", "::1", 1},
    {"[2001:DB8:0::7]", "2001:db8::7", 0},
    {"[::ffff:127.0.0.1]:65535", "::ffff:127.0.0.1", 65535},
};

START_TEST(test_entry_valid)
{
    const entry_ok *c = &entry_ok_cases[_i];
    callback_allow_entry e;
    const char *why = callback_allow_parse(c->entry, &e);
    ck_assert_msg(why == NULL, "callback_allow_parse(%s): %s", c->entry, why);
    ck_assert_str_eq(e.host, c->host);
    ck_assert_int_eq(e.port, c->port);
}
END_TEST

#define MSG_ENTRY "expected host:port, [v6]:port or a bare host (which allows ports 80 and 443)"
#define MSG_V6 "an IPv6 address goes in brackets: [::1]:9000, or [::1] for ports 80 and 443"
#define MSG_PORT "port must be from 1 to 65535"

typedef struct entry_bad {
    const char *entry;
    const char *want;
} entry_bad;

static const entry_bad entry_bad_cases[] = {
    {"", MSG_ENTRY},
    {":9000", MSG_ENTRY},
    {"http://localhost:9000", MSG_ENTRY},
    {"localhost:9000/x", MSG_PORT},
    {"a b:80", MSG_ENTRY},
    {"host_name:80", MSG_ENTRY},
    {"localhost.:80", MSG_ENTRY},
    {"127.1:9000", MSG_ENTRY},
    {"300.1.1.1", MSG_ENTRY},
    {"*:80", MSG_ENTRY},
    {"localhost:", MSG_PORT},
    {"localhost:0", MSG_PORT},
    {"localhost:65536", MSG_PORT},
    {"localhost:123456", MSG_PORT},
    {"localhost:-1", MSG_PORT},
    {"localhost:8a", MSG_PORT},
    {"::1", MSG_V6},
    {"::1:9000", MSG_V6},
    {"fe80::1", MSG_V6},
    {"localhost:80:81", MSG_ENTRY},
    {"[::1]x", MSG_ENTRY},
    {"[::1", MSG_ENTRY},
    {"[]:80", MSG_ENTRY},
    {"[127.0.0.1]:80", MSG_ENTRY},
    {"[fe80::1%eth0]:80", MSG_ENTRY},
    {"[::1]:", MSG_PORT},
    {"[::1]:0", MSG_PORT},
};

START_TEST(test_entry_invalid)
{
    const entry_bad *c = &entry_bad_cases[_i];
    callback_allow_entry e;
    const char *why = callback_allow_parse(c->entry, &e);
    ck_assert_msg(why != NULL, "callback_allow_parse(%s) succeeded, want \"%s\"", c->entry,
                  c->want);
    ck_assert_msg(strcmp(why, c->want) == 0, "callback_allow_parse(%s):\n got \"%s\"\nwant \"%s\"",
                  c->entry, why, c->want);
}
END_TEST

START_TEST(test_entry_longest_name)
{
    char entry[300] = "";
    callback_allow_entry e;
    for (int i = 0; i < 4; i++)
        strcat(entry, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
    strcat(entry, "a"); /* 253 bytes */
    ck_assert_ptr_null(callback_allow_parse(entry, &e));
    ck_assert_uint_eq(strlen(e.host), 253);
    strcat(entry, ":65535");
    ck_assert_ptr_null(callback_allow_parse(entry, &e));
    ck_assert_int_eq(e.port, 65535);
    strcpy(entry + 253, "a:1"); /* 254 bytes: too long for a name */
    ck_assert_str_eq(callback_allow_parse(entry, &e), MSG_ENTRY);
}
END_TEST

/* ---- matching ---- */

typedef struct match_case {
    const char *entry;
    const char *host; /* as callback_parse leaves it */
    int port;
    int want;
} match_case;

static const match_case match_cases[] = {
    {"127.0.0.1:9000", "127.0.0.1", 9000, 1},
    {"127.0.0.1:9000", "127.0.0.1", 9001, 0},
    {"127.0.0.1:9000", "127.0.0.1", 80, 0},
    {"127.0.0.1:9000", "127.0.0.2", 9000, 0},
    {"localhost:9000", "LOCALHOST", 9000, 1},
    {"localhost:9000", "localhost.evil.example", 9000, 0},
    {"[::1]:9000", "0:0:0:0:0:0:0:1", 9000, 1},
    {"[::1]:9000", "::2", 9000, 0},
    {"[::1]:9000", "127.0.0.1", 9000, 0},
    {"127.0.0.1:9000", "::ffff:127.0.0.1", 9000, 0},
    {"example.org", "example.org", 80, 1},
    {"example.org", "Example.Org", 443, 1},
    {"example.org", "example.org", 8080, 0},
    {"example.org", "example.org", 22, 0},
    {"[2001:db8::7]", "2001:DB8::7", 443, 1},
    {"[2001:db8::7]", "2001:db8::7", 8443, 0},
    {"10.0.0.5", "10.0.0.50", 80, 0},
};

START_TEST(test_match)
{
    const match_case *c = &match_cases[_i];
    callback_allow_entry e;
    ck_assert_ptr_null(callback_allow_parse(c->entry, &e));
    ck_assert_msg(callback_allow_match(&e, c->host, c->port) == (c->want != 0),
                  "entry %s, host %s port %d: want %s", c->entry, c->host, c->port,
                  c->want ? "allowed" : "refused");
}
END_TEST

/* ---- callback_check: URLs against a list ---- */

/* callbacks.allow of the URL tests. */
static const char test_allow[][CONFIG_STR] = {"127.0.0.1:9000", "[::1]:9000", "localhost:9000",
                                              "hooks.example.org", "[2001:db8::7]"};

typedef struct allow_case {
    const char *url;
    const char *want; /* NULL = allowed */
} allow_case;

#define MSG_UNLISTED(hp) "callback: callbacks.allow does not list " hp

static const allow_case allow_cases[] = {
    {"http://127.0.0.1:9000/x", NULL},
    {"http://localhost:9000/hook", NULL},
    {"http://LocalHost:9000/", NULL},
    {"http://[::1]:9000/", NULL},
    {"http://[0:0:0:0:0:0:0:1]:9000/", NULL},
    {"http://[0000::0001]:09000/", NULL},
    {"http://hooks.example.org/", NULL},
    {"http://HOOKS.Example.ORG:443/x", NULL},
    {"http://[2001:DB8:0::7]/", NULL},
    {"http://[2001:db8::7]:443/", NULL},
    /* The port counts: a bare entry means 80 and 443, host:port that port only. */
    {"http://127.0.0.1:9001/", MSG_UNLISTED("127.0.0.1:9001")},
    {"http://127.0.0.1/", MSG_UNLISTED("127.0.0.1:80")},
    {"http://LOCALHOST:22/", MSG_UNLISTED("LOCALHOST:22")},
    {"http://[::1]:8080/", MSG_UNLISTED("[::1]:8080")},
    {"http://[::1]/", MSG_UNLISTED("[::1]:80")},
    {"http://hooks.example.org:8080/", MSG_UNLISTED("hooks.example.org:8080")},
    {"http://[2001:db8::7]:22/", MSG_UNLISTED("[2001:db8::7]:22")},
    {"http://10.0.0.1:9000/", MSG_UNLISTED("10.0.0.1:9000")},
    {"http://127.0.0.2:9000/", MSG_UNLISTED("127.0.0.2:9000")},
    {"http://169.254.169.254/latest/meta-data/", MSG_UNLISTED("169.254.169.254:80")},
    {"http://localhost.evil.example:9000/", MSG_UNLISTED("localhost.evil.example:9000")},
    {"http://evil-localhost:9000/", MSG_UNLISTED("evil-localhost:9000")},
    {"http://[::2]:9000/", MSG_UNLISTED("[::2]:9000")},
    {"http://[::ffff:127.0.0.1]:9000/", MSG_UNLISTED("[::ffff:127.0.0.1]:9000")},
    {"http://[::]:9000/", MSG_UNLISTED("[::]:9000")},
    {"http://0.0.0.0:9000/", MSG_UNLISTED("0.0.0.0:9000")},
    /* A URL that does not parse gets the parser's message. */
    {"http://127.1:9000/", "callback: host \"127.1\" is not a dotted-quad IPv4 address"},
    {"ftp://localhost:9000/", "callback: only http:// URLs are supported"},
};

START_TEST(test_allow_list)
{
    const allow_case *c = &allow_cases[_i];
    char err[256] = "";
    int rc = callback_check(c->url, test_allow, (int)NELEM(test_allow), err, sizeof(err));
    if (!c->want) {
        ck_assert_msg(rc == 0, "callback_check(%s) failed: %s", c->url, err);
        return;
    }
    ck_assert_msg(rc == -1, "callback_check(%s) succeeded, want \"%s\"", c->url, c->want);
    ck_assert_msg(strcmp(err, c->want) == 0, "callback_check(%s):\n got \"%s\"\nwant \"%s\"",
                  c->url, err, c->want);
}
END_TEST

START_TEST(test_allow_empty_and_bad_entries)
{
    /* The shape callers pass: config's own array, through a const config. */
    static config cfg;
    const config *cc = &cfg;
    char err[256];
    memset(&cfg, 0, sizeof(cfg));
#define ALLOWED(url)                                                                               \
    callback_check(url, cc->callbacks.allow, cc->callbacks.n_allow, err, sizeof(err))
    /* The built-in default: nothing is allowed, and the message says why. */
    ck_assert_int_eq(ALLOWED("http://127.0.0.1:9000/"), -1);
    ck_assert_str_eq(err, "callback: callbacks.allow is empty, so this server sends no callbacks");
    strcpy(cfg.callbacks.allow[0], "127.0.0.1:9000");
    strcpy(cfg.callbacks.allow[1], "::1");         /* not an entry: matches nothing */
    strcpy(cfg.callbacks.allow[2], "localhost:0"); /* nor this */
    strcpy(cfg.callbacks.allow[3], "10.1.2.3:8080");
    cfg.callbacks.n_allow = 4;
    ck_assert_int_eq(ALLOWED("http://127.0.0.1:9000/"), 0);
    ck_assert_int_eq(ALLOWED("http://10.1.2.3:8080/"), 0);
    ck_assert_int_eq(ALLOWED("http://[::1]/"), -1);
    ck_assert_int_eq(ALLOWED("http://localhost/"), -1);
    ck_assert_str_eq(err, MSG_UNLISTED("localhost:80"));
    /* Entries past n_allow do not count. */
    cfg.callbacks.n_allow = 1;
    ck_assert_int_eq(ALLOWED("http://10.1.2.3:8080/"), -1);
#undef ALLOWED
}
END_TEST

static Suite *callback_allow_suite(void)
{
    Suite *s = suite_create("callback_allow");
    TCase *te = tcase_create("entries");
    TCase *tc = tcase_create("check");
    tcase_add_loop_test(te, test_entry_valid, 0, (int)NELEM(entry_ok_cases));
    tcase_add_loop_test(te, test_entry_invalid, 0, (int)NELEM(entry_bad_cases));
    tcase_add_test(te, test_entry_longest_name);
    tcase_add_loop_test(te, test_match, 0, (int)NELEM(match_cases));
    tcase_add_loop_test(tc, test_allow_list, 0, (int)NELEM(allow_cases));
    tcase_add_test(tc, test_allow_empty_and_bad_entries);
    suite_add_tcase(s, te);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(callback_allow_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
