/*
 * check_preflight.c - crunchd -t against the real binary: it fails exactly
 * when start-up would (each case is started for real too, and must fail),
 * names what is wrong, and creates nothing: no store directory, no pid file,
 * no socket. Bad C plugins (missing, not a plugin, another ABI, a name
 * clash, a bad declaration, a crash while loading) are refused the same way.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 10000 /* -t, or a start-up that fails, ends well within this */

/* The test's scratch directory, made and removed in the process that forks
 * the tests (unchecked fixture), so it goes even when a test fails. */
static char dir[64];

static void dir_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/crunchd-preflight-XXXXXX");
    if (!mkdtemp(dir))
        dir[0] = '\0';
}

static void dir_teardown(void)
{
    char cmd[128];
    if (!dir[0])
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* dir/name (static, one at a time). */
static const char *dir_file(const char *name)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

/* Writes dir/name with text; returns the path (static, one at a time). */
static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "we");
    ck_assert_msg(f != NULL, "fopen(%s): %s", path, strerror(errno));
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static const char *last_output = ""; /* of the last run_fd() */

/* crunchd_run_once() in dir, remembering the output for run_output(). */
static int run_fd(bool test, const char *conf, const char *env, int act_fd, const char **out)
{
    int rc = crunchd_run_once(dir, test, conf, env, act_fd, RUN_MS, &last_output);
    if (out)
        *out = last_output;
    return rc;
}

static int run(bool test, const char *conf, const char *env, const char **out)
{
    return run_fd(test, conf, env, -1, out);
}

/* The output of the last run() (static). */
static const char *run_output(void)
{
    return last_output;
}

/* The names in dir, as "/a/b/c/" (static; two at a time). */
static const char *listing(void)
{
    static char text[2][2048];
    static int k;
    char *t = text[k = !k];
    DIR *d = opendir(dir);
    struct dirent *e;
    ck_assert_ptr_nonnull(d);
    snprintf(t, sizeof(text[0]), "/");
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "out") == 0)
            continue;
        size_t n = strlen(t);
        snprintf(t + n, sizeof(text[0]) - n, "%s/", e->d_name);
    }
    closedir(d);
    return t;
}

/* Fails if an entry of dir is not in before (a listing()). */
static void must_create_nothing(const char *before)
{
    const char *after = listing();
    for (const char *p = after + 1; *p;) {
        char name[300];
        size_t n = strcspn(p, "/");
        snprintf(name, sizeof(name), "/%.*s/", (int)n, p);
        ck_assert_msg(strstr(before, name) != NULL, "crunchd -t created %s%s", dir, name);
        p += n + 1;
    }
}

/* -t and a real start of the config text both fail, -t's message holds
 * want, and -t created nothing. */
static void must_refuse(const char *conf_text, const char *env, const char *want)
{
    const char *conf = write_file("crunchd.json", conf_text), *out;
    const char *before = listing();
    int rc = run(true, conf, env, &out);
    ck_assert_msg(rc == 1, "crunchd -t: exit %d for %s, want 1:\n%s", rc, conf_text, out);
    ck_assert_msg(strstr(out, want) && strstr(out, "test failed"),
                  "crunchd -t for %s: want \"%s\" in:\n%s", conf_text, want, out);
    must_create_nothing(before);
    rc = run(false, conf, env, &out);
    ck_assert_msg(rc != 0, "crunchd started with %s, which -t refused:\n%s", conf_text, out);
}

/* The base of every config: a port of its own, the store in dir. */
#define BASE "\"listen\": [\"127.0.0.1:0\"], \"workers\": 1, \"data_dir\": \"data\""

START_TEST(test_t_refuses_what_startup_refuses)
{
    ck_assert_msg(dir[0], "mkdtemp() in the fixture failed");
    char data[300];
    snprintf(data, sizeof(data), "%s/data", dir);
    ck_assert_int_eq(mkdir(data, 0755), 0);

    /* The case: a store kind this build does not have. */
    must_refuse("{" BASE ", \"store\": {\"kind\": \"redis\", \"url\": \"redis://127.0.0.1:6379\"}}",
                NULL, "store.kind");
    /* store_prepare makes the last directory only. */
    must_refuse("{" BASE ", \"store\": {\"path\": \"no/such/crunchd.db\"}}", NULL, "store.path");
    /* A file that is not a crunchd store. */
    write_file("not-a-store.db", "SQLite format 3 - or so it says, but it is text");
    must_refuse("{" BASE ", \"store\": {\"path\": \"not-a-store.db\"}}", NULL,
                "not a SQLite database");
    /* The pid file's directory. */
    must_refuse("{" BASE ", \"pid_file\": \"no/such/dir/crunchd.pid\"}", NULL, "pid_file");
    /* Listen addresses: not resolvable, not ours, a unix path nowhere. */
    must_refuse("{\"listen\": [\"no-such-host.invalid:8080\"], \"workers\": 1}", NULL,
                "listen[0]");
    must_refuse("{\"listen\": [\"192.0.2.1:8080\"], \"workers\": 1}", NULL,
                "no interface has that address");
    char conf[600];
    snprintf(conf, sizeof(conf), "{\"listen\": [\"unix:%s/no/such/dir/s.sock\"], \"workers\": 1}",
             dir);
    must_refuse(conf, NULL, "would fail: directory");
    write_file("plain-file", "x");
    snprintf(conf, sizeof(conf), "{\"listen\": [\"unix:%s/plain-file\"], \"workers\": 1}", dir);
    must_refuse(conf, NULL, "not a socket");
    unlink(write_file("plain-file", ""));
    /* The wake-up socket directory's base. */
    must_refuse("{" BASE "}", "TMPDIR=/no/such/tmp", "wake-up socket directory");
    /* A user that does not exist (only root switches users). */
    if (geteuid() == 0)
        must_refuse("{" BASE ", \"user\": \"no-such-user-crunchd\"}", NULL, "user");
}
END_TEST

/* A good config: -t says ok and creates nothing (not the store's
 * directory, not the pid file); what start-up only warns about is a
 * warning. Then the same config starts. */
START_TEST(test_t_ok_creates_nothing)
{
    ck_assert_msg(dir[0], "mkdtemp() in the fixture failed");
    const char *out;
    char conf_text[512];
    snprintf(conf_text, sizeof(conf_text),
             "{\"listen\": [\"127.0.0.1:0\"], \"workers\": 1, \"data_dir\": \"missing-data\","
             " \"store\": {\"path\": \"var2/crunchd.db\"}, \"pid_file\": \"crunchd.pid\","
             " \"log\": {\"access_log\": \"logs/access.log\"}}");
    const char *conf = write_file("crunchd.json", conf_text);
    const char *before = listing();
    int rc = run(true, conf, NULL, &out);
    ck_assert_msg(rc == 0, "crunchd -t: exit %d:\n%s", rc, out);
    ck_assert_msg(strstr(out, "is ok"), "%s", out);
    ck_assert_msg(strstr(out, "warning: data_dir"), "no warning for the missing data_dir:\n%s", out);
    ck_assert_msg(strstr(out, "warning: log.access_log"),
                  "no warning for the access log's missing directory:\n%s", out);
    must_create_nothing(before);
}
END_TEST

/* ---- authentication: protected mode, the tokens file ---- */

#define HA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* The refusal of protected mode names every way out. */
static void must_name_fix(const char *what, const char *out)
{
    static const char *const parts[] = {"protected mode", "\"tokens_file\"", "--mint-token",
                                        "127.0.0.1", "unix:", "\"none\": true"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        ck_assert_msg(strstr(out, parts[i]), "%s: the message does not say \"%s\":\n%s", what,
                      parts[i], out);
}

/* -t passes for conf_text; want (may be NULL) is in its output. */
static void must_pass(const char *conf_text, const char *want)
{
    const char *conf = write_file("crunchd.json", conf_text), *out;
    int rc = run(true, conf, NULL, &out);
    ck_assert_msg(rc == 0, "crunchd -t: exit %d for %s:\n%s", rc, conf_text, out);
    ck_assert_msg(!want || strstr(out, want), "crunchd -t for %s: want \"%s\" in:\n%s", conf_text,
                  want, out);
}

/* Without tokens, an address other hosts reach is refused by -t and by
 * start-up, with the fix; loopback and unix sockets are not. */
START_TEST(test_protected_mode)
{
    ck_assert_msg(dir[0], "mkdtemp() in the fixture failed");
    static const char *const reachable[] = {"0.0.0.0:0", "[::]:0"};
    for (size_t i = 0; i < sizeof(reachable) / sizeof(reachable[0]); i++) {
        char conf_text[300], want[100];
        const char *out;
        snprintf(conf_text, sizeof(conf_text),
                 "{\"listen\": [\"127.0.0.1:0\", \"%s\"], \"workers\": 1}", reachable[i]);
        snprintf(want, sizeof(want), "listen[1] (%s", reachable[i]);
        must_refuse(conf_text, NULL, want);
        ck_assert_int_eq(run(true, dir_file("crunchd.json"), NULL, &out), 1);
        must_name_fix("crunchd -t", out);
        ck_assert_int_eq(run(false, dir_file("crunchd.json"), NULL, &out), 1);
        ck_assert_msg(strstr(out, want), "start-up: want \"%s\" in:\n%s", want, out);
        must_name_fix("start-up", out);
    }
    char conf_text[600];
    snprintf(conf_text, sizeof(conf_text),
             "{\"listen\": [\"127.0.0.1:0\", \"127.1.2.3:0\", \"localhost:0\", "
             "\"unix:%s/s.sock\"], \"workers\": 1}",
             dir);
    must_pass(conf_text, NULL);
    ck_assert_msg(!strstr(run_output(), "auth"), "a warning about auth:\n%s", run_output());
}
END_TEST

/* auth.none: anywhere, with a warning. */
START_TEST(test_auth_none_warns)
{
    ck_assert_msg(dir[0], "mkdtemp() in the fixture failed");
    must_pass("{\"listen\": [\"0.0.0.0:0\"], \"workers\": 1, \"auth\": {\"none\": true}}",
              "warning: auth.none is true: no token is checked");
    must_pass("{\"listen\": [\"127.0.0.1:0\"], \"workers\": 1, \"auth\": {\"none\": true}}",
              "warning: auth.none is true");
}
END_TEST

/* A tokens file lifts protected mode; a bad one is refused naming its line. */
START_TEST(test_tokens_file_checked)
{
    ck_assert_msg(dir[0], "mkdtemp() in the fixture failed");
    const char *conf = "{\"listen\": [\"0.0.0.0:0\"], \"workers\": 1,"
                       " \"auth\": {\"tokens_file\": \"tokens\"}}";
    write_file("tokens", "# ok\nci call,read " HA "\nops admin " HB " rps=5\n");
    must_pass(conf, "is ok");
    ck_assert_msg(!strstr(run_output(), "warning: auth"), "%s", run_output());

    write_file("tokens", "# ok\nci call " HA "\nbad call,frob " HB "\n");
    must_refuse(conf, NULL,
                "auth.tokens_file: tokens:3: unknown scope \"frob\" (expected call, submit, read, "
                "cancel or admin)");
    write_file("tokens", "ci call " HA "\nci read " HB "\n");
    must_refuse(conf, NULL, "auth.tokens_file: tokens:2: duplicate name \"ci\" (first on line 1)");
    write_file("tokens", "ci call my-secret-by-mistake\n");
    must_refuse(conf, NULL, "auth.tokens_file: tokens:1: bad hex");
    ck_assert_msg(!strstr(run_output(), "my-secret"), "%s", run_output());
    write_file("tokens", "ci call " HA "\n");
    chmod(dir_file("tokens"), 0666);
    must_refuse(conf, NULL, "auth.tokens_file: tokens: writable by every user");
    unlink(dir_file("tokens"));
    must_refuse(conf, NULL, "auth.tokens_file: tokens: No such file or directory");

    write_file("tokens", "# no token yet\n");
    must_pass(conf, "warning: auth.tokens_file: tokens holds no token");
}
END_TEST

/* A listening TCP socket on addr (port 0), as systemd would pass it. */
static int listening_socket(in_addr_t addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(addr)};
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    return fd;
}

/* With socket activation the sockets' own addresses decide, not "listen". */
START_TEST(test_protected_mode_activated)
{
    ck_assert_msg(dir[0], "mkdtemp() in the fixture failed");
    const char *conf = write_file("crunchd.json", "{\"listen\": [\"127.0.0.1:0\"], \"workers\": 1}");
    const char *out;
    int any = listening_socket(INADDR_ANY);
    int rc = run_fd(true, conf, NULL, any, &out);
    ck_assert_msg(rc == 1, "crunchd -t with a socket on 0.0.0.0: exit %d:\n%s", rc, out);
    ck_assert_msg(strstr(out, "the socket from systemd on 0.0.0.0:"), "%s", out);
    must_name_fix("crunchd -t", out);
    rc = run_fd(false, conf, NULL, any, &out);
    ck_assert_msg(rc == 1, "start-up with a socket on 0.0.0.0: exit %d:\n%s", rc, out);
    ck_assert_msg(strstr(out, "the socket from systemd on 0.0.0.0:"), "%s", out);
    close(any);

    conf = write_file("crunchd.json", "{\"listen\": [\"0.0.0.0:0\"], \"workers\": 1}");
    int lo = listening_socket(INADDR_LOOPBACK);
    rc = run_fd(true, conf, NULL, lo, &out);
    ck_assert_msg(rc == 0, "crunchd -t with a socket on 127.0.0.1: exit %d:\n%s", rc, out);
    close(lo);
}
END_TEST

/* Formats the message a test wants (static, one at a time). */
__attribute__((format(printf, 1, 2))) static const char *msg(const char *fmt, ...)
{
    static char text[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    return text;
}

/* must_refuse() of a config loading the plugins a (and b, if not NULL). */
static void must_refuse_plugins(const char *a, const char *b, const char *want)
{
    char conf[2048];
    snprintf(conf, sizeof(conf), "{" BASE ", \"functions\": {\"plugins\": [\"%s\"%s%s%s]}}", a,
             b ? ", \"" : "", b ? b : "", b ? "\"" : "");
    must_refuse(conf, NULL, want);
}

START_TEST(test_t_refuses_bad_plugins)
{
    ck_assert_msg(dir[0], "mkdtemp() in the fixture failed");
    const char *tp = plugin_path("tp"), *tp_b = plugin_path("tp_b"), *p;
    must_refuse_plugins("/no/such/libx.so", NULL,
                        "functions.plugins[0]: /no/such/libx.so: No such file or directory");
    must_refuse_plugins(dir, NULL, msg("functions.plugins[0]: %s: not a regular file", dir));
    p = plugin_path("tp_noentry");
    must_refuse_plugins(p, NULL, msg("functions.plugins[0]: %s: no symbol crunchd_plugin_entry: "
                                     "not a crunchd plugin", p));
    p = plugin_path("tp_badabi");
    must_refuse_plugins(p, NULL, msg("functions.plugins[0]: %s: built for plugin ABI 2, this "
                                     "crunchd loads ABI 1", p));
    p = plugin_path("tp_clash");
    must_refuse_plugins(p, NULL, msg("functions.plugins[0]: function \"fib\" of %s clashes with "
                                     "the built-in \"fib\"", p));
    must_refuse_plugins(tp, tp_b, msg("functions.plugins[1]: function \"tp_version\" of %s "
                                      "clashes with \"tp_version\" of %s", tp_b, tp));
    p = plugin_path("tp_baddecl");
    must_refuse_plugins(p, NULL, msg("functions.plugins[0]: function \"tp_bad\" of %s: argument "
                                     "\"n\": min 10 is above max 1", p));
    p = plugin_path("tp_ctorcrash");
    /* SIGSEGV, or SIGABRT from a sanitizer that catches it */
    must_refuse_plugins(p, NULL, msg("functions.plugins[0]: %s: crashed while loading (signal ",
                                     p));
    must_refuse_plugins(plugin_path("tp_undef"), NULL,
                        "undefined symbol: crunchd_tp_nothing_defines_this");
    must_refuse_plugins(plugin_path("montecarlo"), "/no/such/liby.so",
                        "functions.plugins[1]: /no/such/liby.so: No such file or directory");
    if (geteuid() == 0) { /* its code would run as root: only root may write it */
        char copy[300], cmd[800];
        snprintf(copy, sizeof(copy), "%s/writable.so", dir);
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 0775 '%s'", tp, copy, copy);
        ck_assert_int_eq(system(cmd), 0);
        must_refuse_plugins(copy, NULL, msg("functions.plugins[0]: %s: refusing to load it as "
                                            "root: it must be owned by root and not writable by "
                                            "group or others", copy));
        unlink(copy);
    }
    must_refuse("{" BASE ", \"functions\": {\"plugins\": [\"\"]}}", NULL,
                "functions.plugins[0]: must not be empty");
    must_refuse_plugins(tp, tp, "functions.plugins[1]: duplicate of functions.plugins[0]");
}
END_TEST

/* The example plugins (and the test plugin) pass -t. */
START_TEST(test_t_accepts_plugins)
{
    ck_assert_msg(dir[0], "mkdtemp() in the fixture failed");
    char conf_text[2048];
    const char *out;
    snprintf(conf_text, sizeof(conf_text),
             "{" BASE ", \"functions\": {\"plugins\": [\"%s\", \"%s\", \"%s\"]}}",
             plugin_path("montecarlo"), plugin_path("textstat"), plugin_path("tp"));
    const char *conf = write_file("crunchd.json", conf_text);
    int rc = run(true, conf, NULL, &out);
    ck_assert_msg(rc == 0 && strstr(out, "is ok"), "crunchd -t: exit %d:\n%s", rc, out);
}
END_TEST

static Suite *preflight_suite(void)
{
    Suite *s = suite_create("integration_preflight");
    TCase *tc = harness_tcase("preflight");
    tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, test_t_refuses_what_startup_refuses);
    tcase_add_test(tc, test_t_ok_creates_nothing);
    tcase_add_test(tc, test_protected_mode);
    tcase_add_test(tc, test_auth_none_warns);
    tcase_add_test(tc, test_tokens_file_checked);
    tcase_add_test(tc, test_protected_mode_activated);
    tcase_add_test(tc, test_t_refuses_bad_plugins);
    tcase_add_test(tc, test_t_accepts_plugins);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(preflight_suite());
}
