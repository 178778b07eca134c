/*
 * check_auth.c - API tokens as the master handles them, against the real
 * binary: crunchd --mint-token prints a secret and a line that a server
 * then loads; tokens are loaded before forking and again at each reload (a
 * bad file fails the reload and keeps the workers and tokens in force);
 * protected mode holds on reload; auth.none starts anywhere and warns at
 * every start. (What -t and start-up refuse is check_preflight.c; per-route
 * checks belong to the route layer's tests.)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define RELOAD_MS 10000 /* a reload completes well within this, even under ASan */

#define HA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HC "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"


/* Runs cmd with sh; returns its stdout (static) and exit status in *rc. */
static const char *sh(const char *cmd, int *rc)
{
    static char out[4096];
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen(%s): %s", cmd, strerror(errno));
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

/* The value after "label: " on its own line of text, into out. */
static void must_field(const char *text, const char *label, char *out, size_t outlen)
{
    char key[32];
    snprintf(key, sizeof(key), "%s: ", label);
    const char *p = strstr(text, key);
    ck_assert_msg(p && (p == text || p[-1] == '\n'), "no \"%s\" line in:\n%s", key, text);
    p += strlen(key);
    size_t n = strcspn(p, "\n");
    ck_assert_msg(n < outlen, "\"%s\" line too long", key);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* A minted line is valid in a real tokens file, and its hash is the
 * secret's (by sha256sum, not by crunchd's own code). */
START_TEST(test_mint_token)
{
    char cmd[1024], secret[128], line[1200], hex[80], errp[160];
    int rc;
    snprintf(errp, sizeof(errp), "%s/mint.err", harness_tokens_dir());
    snprintf(cmd, sizeof(cmd), "'%s' --mint-token ci call,read rps=5 2>'%s'", getenv("CRUNCHD_BIN"),
             errp);
    const char *out = sh(cmd, &rc);
    ck_assert_msg(rc == 0, "--mint-token: exit %d:\n%s", rc, out);
    must_field(out, "secret", secret, sizeof(secret));
    must_field(out, "line", line, sizeof(line));
    ck_assert_msg(strncmp(secret, "crunchd_", 8) == 0 && strlen(secret) == 8 + 43, "secret %s",
                  secret);
    ck_assert_msg(strncmp(line, "ci call,read ", 13) == 0, "line %s", line);
    ck_assert_msg(strcmp(line + 13 + 64, " rps=5") == 0, "line %s", line);
    ck_assert_msg(!strstr(line, secret), "the line holds the secret: %s", line);

    snprintf(cmd, sizeof(cmd), "printf %%s '%s' | sha256sum", secret);
    out = sh(cmd, &rc);
    ck_assert_int_eq(rc, 0);
    snprintf(hex, sizeof(hex), "%.64s", out);
    ck_assert_msg(strncmp(line + 13, hex, 64) == 0, "line %s, sha256sum of the secret %s", line,
                  hex);

    /* A second one differs. */
    char secret2[128];
    snprintf(cmd, sizeof(cmd), "'%s' -m ci call 2>/dev/null", getenv("CRUNCHD_BIN"));
    out = sh(cmd, &rc);
    must_field(out, "secret", secret2, sizeof(secret2));
    ck_assert_str_ne(secret, secret2);

    /* The line starts a server that every host could reach. */
    char tokens[1300], conf[400];
    snprintf(tokens, sizeof(tokens), "# minted\n%s\n" HARNESS_ADMIN_LINE, line);
    snprintf(conf, sizeof(conf),
             "{\"listen\": [\"127.0.0.1:0\", \"0.0.0.0:0\"], \"auth\": {\"tokens_file\": \"%s\"}}",
             harness_write_tokens(tokens));
    server s;
    must_start(&s, conf);
    must_log(&s, "tokens: 2 from", 1, 1000);

    /* Refused: what the file would refuse, with its words; nothing on stdout. */
    snprintf(cmd, sizeof(cmd), "'%s' --mint-token ci call,frob 2>&1 >/dev/null",
             getenv("CRUNCHD_BIN"));
    out = sh(cmd, &rc);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(out, "--mint-token: unknown scope \"frob\""), "%s", out);
    snprintf(cmd, sizeof(cmd), "'%s' --mint-token ci call,frob 2>/dev/null", getenv("CRUNCHD_BIN"));
    out = sh(cmd, &rc);
    ck_assert_str_eq(out, "");
}
END_TEST

/* auth.none: starts on an address other hosts reach, warns at the start
 * and again at each reload. */
START_TEST(test_none_starts_and_warns)
{
    server s;
    must_start(&s, "{\"listen\": [\"127.0.0.1:0\", \"0.0.0.0:0\"], \"auth\": {\"none\": true}}");
    must_log(&s, "auth.none is true", 1, 1000);
    resp r;
    ck_assert_int_eq(http_call(&s, "GET", "/healthz", NULL, &r), 200);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 1, RELOAD_MS);
    ck_assert_int_eq(server_log_count(&s, "auth.none is true"), 2);
}
END_TEST

static void must_same_workers(server *s, const pid_t *before)
{
    must_workers(s);
    for (int i = 0; i < s->nworkers; i++)
        ck_assert_msg(must_worker_pid(s, i) == before[i], "worker %d changed: %d, was %d", i,
                      (int)must_worker_pid(s, i), (int)before[i]);
}

/* HUP reads the tokens again; a bad file fails the reload, and the tokens
 * and workers in force stay until a good one comes. */
START_TEST(test_reload_tokens)
{
    char conf[400], want[400];
    const char *path = harness_write_tokens("a call " HA "\n" HARNESS_ADMIN_LINE);
    snprintf(conf, sizeof(conf),
             "{\"listen\": [\"127.0.0.1:0\", \"0.0.0.0:0\"], \"auth\": {\"tokens_file\": \"%s\"}}",
             path);
    server s;
    must_start(&s, conf);
    must_log(&s, "tokens: 2 from", 1, 1000);

    harness_write_tokens("a call " HA "\nb submit,read " HB " rps=10\n" HARNESS_ADMIN_LINE);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 1, RELOAD_MS);
    ck_assert_int_eq(server_log_count(&s, "tokens: 3 from"), 1);
    must_wait_workers_running(&s, RELOAD_MS);
    pid_t before[2] = {must_worker_pid(&s, 0), must_worker_pid(&s, 1)};

    /* A bad line: the reload fails naming it. */
    harness_write_tokens("a call " HA "\nb submit,wirte " HB "\n");
    must_signal(&s, SIGHUP);
    snprintf(want, sizeof(want), "reload failed: auth.tokens_file: %s:2: unknown scope \"wirte\"",
             path);
    must_log(&s, want, 1, RELOAD_MS);
    /* A file that is gone: the same. */
    unlink(path);
    must_signal(&s, SIGHUP);
    snprintf(want, sizeof(want), "reload failed: auth.tokens_file: %s: No such file", path);
    must_log(&s, want, 1, RELOAD_MS);
    ck_assert_int_eq(server_log_count(&s, "]: tokens: "), 2); /* nothing loaded since */
    ck_assert_int_eq(server_log_count(&s, "reload complete"), 1);
    must_same_workers(&s, before);
    resp r;
    ck_assert_int_eq(http_call(&s, "GET", "/healthz", NULL, &r), 200);

    /* A good file again: a new generation with it. */
    harness_write_tokens("a call " HA "\nc admin " HC "\nb read " HB "\n" HARNESS_ADMIN_LINE);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 2, RELOAD_MS);
    ck_assert_int_eq(server_log_count(&s, "tokens: 4 from"), 1);
}
END_TEST

/* A reload that would drop the tokens while listening on 0.0.0.0 fails:
 * protected mode holds for the new config too. */
START_TEST(test_reload_protected_mode)
{
    char conf[400];
    snprintf(conf, sizeof(conf),
             "{\"listen\": [\"127.0.0.1:0\", \"0.0.0.0:0\"], \"auth\": {\"tokens_file\": \"%s\"}}",
             harness_write_tokens("a call " HA "\n" HARNESS_ADMIN_LINE));
    server s;
    must_start(&s, conf);
    must_wait_workers_running(&s, RELOAD_MS);
    pid_t before[2] = {must_worker_pid(&s, 0), must_worker_pid(&s, 1)};
    must_rewrite_config(&s, "{\"auth\": {\"tokens_file\": \"\"}}");
    must_signal(&s, SIGHUP);
    must_log(&s, "reload failed: listen[1] (0.0.0.0:0) can be reached from other hosts", 1,
             RELOAD_MS);
    must_same_workers(&s, before);

    /* Loopback only: the same config without tokens is fine. */
    must_rewrite_config(&s, "{\"listen\": [\"127.0.0.1:0\"]}");
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 1, RELOAD_MS);
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("integration_auth");
    TCase *tc = harness_tcase("auth");
    tcase_add_unchecked_fixture(tc, harness_tokens_setup, harness_tokens_teardown);
    tcase_add_test(tc, test_mint_token);
    tcase_add_test(tc, test_none_starts_and_warns);
    tcase_add_test(tc, test_reload_tokens);
    tcase_add_test(tc, test_reload_protected_mode);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(auth_suite());
}
