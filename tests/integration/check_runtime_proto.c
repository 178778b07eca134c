/*
 * check_runtime_proto.c - how crunchd takes what a language runtime says,
 * with a runtime written straight from the protocol, without the Python
 * module (tests/integration/runtimes/raw_runtime.py): a line that is not a
 * reply, a reply for another id, a line after the reply (each kills the
 * process with a logged reason, the call fails, a new process serves the
 * next call), a process that exits mid-call (502 worker_lost, replaced),
 * progress lines, a runtime that cannot start any more (its calls fail at
 * once, restarts back off, then it serves again); and at start-up, under crunchd -t and for real: a runtime
 * that never says hello, exits first, says a malformed hello, declares a
 * function twice or one that clashes with a built-in, or cannot be run.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "runtime_test.h"

#define RUN_MS 20000 /* -t, or a start-up that fails, ends well within this */

static const char *raw_conf(const char *mode, const char *rt_extra)
{
    char arg[64];
    snprintf(arg, sizeof(arg), "\"%s\"", mode);
    return rt_conf("raw", rt_script("raw_runtime.py"), arg, rt_extra, "\"workers\": 1");
}

/* ---- calls ---- */

/* Calls fn (it breaks the protocol): 422 function_error, the reason logged,
 * and echo still served, by a new process. */
static void must_break(const char *fn, const char *logged)
{
    server s;
    resp r;
    char path[64];
    must_start(&s, raw_conf("ok", ""));
    snprintf(path, sizeof(path), "/v1/fn/%s", fn);
    http_call(&s, "POST", path, "{}", &r);
    must_error(&r, 422, "function_error", NULL);
    ck_assert_msg(strstr(r.body, "broke the protocol"), "%s", r.body);
    rt_must_log(&s, logged);
    json_t *v = must_call_fn(&s, "echo", "{\"n\": 4}", &r);
    ck_assert_int_eq(must_int(v, "n"), 4);
    rt_must_log(&s, "] killed by signal 9");
}

START_TEST(test_not_json) { must_break("garbage", "killed: sent a line that is not a reply: not JSON"); }
END_TEST

START_TEST(test_unknown_id) { must_break("wrong_id", "killed: sent a reply for id 1001 during call 1"); }
END_TEST

START_TEST(test_line_after_reply) { must_break("chatty", "killed: wrote more after its reply"); }
END_TEST

START_TEST(test_exit_mid_call)
{
    server s;
    resp r;
    must_start(&s, raw_conf("ok", ""));
    http_call(&s, "POST", "/v1/fn/die", "{}", &r);
    must_error(&r, 502, "worker_lost", NULL);
    rt_must_log(&s, "] exited with status 3; starting a new one");
    json_t *v = must_call_fn(&s, "echo", "{}", &r);
    ck_assert_int_eq(must_int(v, "n"), 1); /* the default, filled in by crunchd */
}
END_TEST

START_TEST(test_progress_then_result)
{
    server s;
    resp r;
    must_start(&s, raw_conf("ok", ""));
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "progress", "{}", &r)), "done");
    http_call(&s, "GET", "/v1/functions", NULL, &r);
    ck_assert_msg(strstr(r.body, "\"raw echo\"") == NULL && strstr(r.body, "\"returns its args\""),
                  "%s", r.body);
}
END_TEST

/* A runtime that cannot start any more: its calls fail at once, saying
 * why, while it is started again with a back-off that doubles; once it can,
 * it serves again. */
START_TEST(test_restart_backoff)
{
    server s;
    resp r;
    char gate[600], args[700];
    const char *tmp = getenv("TMPDIR");
    snprintf(gate, sizeof(gate), "%s/crunchd-rt-gate-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    unlink(gate);
    snprintf(args, sizeof(args), "\"ok\", \"%s\"", gate);
    must_start(&s, rt_conf("raw", rt_script("raw_runtime.py"), args, "", "\"workers\": 1"));
    pid_t pid = (pid_t)json_integer_value(must_call_fn(&s, "pid", "{}", &r));
    FILE *f = fopen(gate, "we");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    /* 100 ms after the kill if it died young, then doubling for each failed start */
    rt_must_log(&s, "before its hello; starting it again in 200 ms");
    rt_must_log(&s, "before its hello; starting it again in 400 ms");
    http_call(&s, "POST", "/v1/fn/echo", "{}", &r);
    must_error(&r, 422, "function_error", NULL);
    ck_assert_msg(strstr(r.body, "runtime \\\"raw\\\" is not running: process "), "%s", r.body);
    ck_assert_msg(strstr(r.body, "exited with status 3 before its hello"), "%s", r.body);
    rt_must_log(&s, "]: raw_runtime: ");
    unlink(gate);
    int64_t deadline = now_ms() + RT_WAIT_MS;
    do { /* the next start (within 10 s) succeeds */
        ck_assert_msg(now_ms() < deadline, "echo not served again within %d ms", RT_WAIT_MS);
        sleep_ms(50);
        http_call(&s, "POST", "/v1/fn/echo", "{}", &r);
    } while (r.status != 200);
    ck_assert_int_ne(json_integer_value(must_call_fn(&s, "pid", "{}", &r)), pid);
}
END_TEST

/* ---- start-up ---- */

static char dir[128];

static void dir_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/crunchd-rtproto-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        dir[0] = '\0';
}

static void dir_teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/*
 * Runs crunchd [-t] with the overrides (a JSON object as for must_start)
 * plus a listen address, store and data_dir in dir (crunchd_run_once());
 * returns the exit code and *out its output.
 */
static int run(bool test, const char *overrides, const char **out)
{
    char conf[256];
    json_error_t je;
    json_t *c = json_loads(overrides, 0, &je);
    ck_assert_msg(c, "overrides: %s", je.text);
    json_object_set_new(c, "listen", json_pack("[s]", "127.0.0.1:0"));
    json_object_set_new(c, "store", json_pack("{s:s, s:s}", "kind", "sqlite", "path",
                                              "./var/crunchd.db"));
    json_object_set_new(c, "data_dir", json_string("."));
    snprintf(conf, sizeof(conf), "%s/crunchd.json", dir);
    ck_assert_int_eq(json_dump_file(c, conf, 0), 0);
    json_decref(c);
    return crunchd_run_once(dir, test, conf, NULL, -1, RUN_MS, out);
}

/* Both crunchd -t and a real start fail, saying want (and also, if set). */
static void must_refuse(const char *overrides, const char *want, const char *also)
{
    const char *out;
    for (int test = 1; test >= 0; test--) {
        int rc = run(test, overrides, &out);
        ck_assert_msg(rc == 1, "crunchd%s exited %d, want 1:\n%s", test ? " -t" : "", rc, out);
        ck_assert_msg(strstr(out, want), "crunchd%s does not say \"%s\":\n%s", test ? " -t" : "",
                      want, out);
        ck_assert_msg(!also || strstr(out, also), "crunchd%s does not say \"%s\":\n%s",
                      test ? " -t" : "", also, out);
    }
}

START_TEST(test_check_ok)
{
    const char *out;
    int rc = run(true, raw_conf("ok", ""), &out);
    ck_assert_msg(rc == 0, "crunchd -t exited %d:\n%s", rc, out);
    ck_assert_msg(strstr(out, "runtime raw: 7 functions (raw)"), "%s", out);
}
END_TEST

START_TEST(test_check_silent)
{
    must_refuse(raw_conf("silent", "\"hello_timeout_ms\": 300"),
                "functions.runtimes[0] \"raw\": no hello within hello_timeout_ms (300 ms)", NULL);
}
END_TEST

START_TEST(test_check_exit)
{
    must_refuse(raw_conf("exit", ""), "exited with status 3 before its hello",
                "runtime raw[");
    const char *out;
    run(true, raw_conf("exit", ""), &out);
    ck_assert_msg(strstr(out, "]: raw_runtime: giving up before the hello"), "%s", out);
}
END_TEST

START_TEST(test_check_bad_hello)
{
    must_refuse(raw_conf("badhello", ""),
                "\"raw\": hello: functions[0].args[0]: unknown key \"maximum\"", NULL);
    must_refuse(raw_conf("notjson", ""), "\"raw\": hello: not a JSON object", NULL);
}
END_TEST

START_TEST(test_check_clash)
{
    must_refuse(raw_conf("clash", ""),
                "function \"fib\" of runtime \"raw\" clashes with the built-in \"fib\"", NULL);
    must_refuse(raw_conf("twice", ""),
                "function \"echo\" of runtime \"raw\" clashes with \"echo\" of runtime \"raw\"",
                NULL);
}
END_TEST

START_TEST(test_check_two_runtimes_clash)
{
    char conf[4096];
    snprintf(conf, sizeof(conf),
             "{\"functions\": {\"runtimes\": ["
             "{\"name\": \"one\", \"argv\": [\"" RT_PYTHON "\", \"%s\", \"ok\"]},"
             "{\"name\": \"two\", \"argv\": [\"" RT_PYTHON "\", \"%s\", \"twice\"]}]}}",
             rt_script("raw_runtime.py"), rt_script("raw_runtime.py"));
    must_refuse(conf, "function \"echo\" of runtime \"two\" clashes with \"echo\" of runtime \"one\"",
                NULL);
}
END_TEST

START_TEST(test_check_not_runnable)
{
    must_refuse("{\"functions\": {\"runtimes\": [{\"name\": \"x\", \"argv\": "
                "[\"no-such-python-here\"]}]}}",
                "functions.runtimes[0] \"x\": argv[0] \"no-such-python-here\": not found in PATH",
                NULL);
    must_refuse("{\"functions\": {\"runtimes\": [{\"name\": \"x\", \"argv\": [\"/bin/true\"],"
                " \"cwd\": \"/no/such/dir\"}]}}",
                "functions.runtimes[0] \"x\": cwd \"/no/such/dir\": No such file or directory",
                NULL);
}
END_TEST

static Suite *proto_suite(void)
{
    Suite *s = suite_create("integration_runtime_proto");
    TCase *tc = harness_tcase("calls");
    tcase_add_test(tc, test_not_json);
    tcase_add_test(tc, test_unknown_id);
    tcase_add_test(tc, test_line_after_reply);
    tcase_add_test(tc, test_exit_mid_call);
    tcase_add_test(tc, test_progress_then_result);
    tcase_add_test(tc, test_restart_backoff);
    suite_add_tcase(s, tc);

    tc = harness_tcase("start-up");
    tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, test_check_ok);
    tcase_add_test(tc, test_check_silent);
    tcase_add_test(tc, test_check_exit);
    tcase_add_test(tc, test_check_bad_hello);
    tcase_add_test(tc, test_check_clash);
    tcase_add_test(tc, test_check_two_runtimes_clash);
    tcase_add_test(tc, test_check_not_runnable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(proto_suite());
}
