/*
 * check_plugins.c - C plugins with the real binary (issue 11, section 1):
 * the example plugins (examples/plugins/) and the test plugin
 * (tests/plugins/test_plugin.c) listed, called, validated, run as jobs,
 * timed out and cancelled, counted in /metrics and the access log; a
 * plugin that crashes takes down only its worker; HUP loads a changed set
 * (and a rebuilt file at the same path) for the new workers, and a bad set
 * leaves the old workers serving. -t and start-up refusals of bad plugins
 * are in check_preflight.c.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define RELOAD_MS 10000 /* a reload completes well within this */
#define LOST_MS 5000    /* a dead worker's jobs end within this */

/* ---- helpers ------------------------------------------------------------------- */

/* Starts a server with the plugins (a NULL-terminated list of names) and extra
 * top-level config members (",\"key\": value..." or ""). */
static void must_start_with(server *s, const char *extra, const char *first, ...)
{
    char conf[4096];
    int n = snprintf(conf, sizeof(conf), "{\"functions\": {\"plugins\": [");
    va_list ap;
    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *))
        n += snprintf(conf + n, sizeof(conf) - (size_t)n, "%s\"%s\"", p == first ? "" : ", ",
                      strchr(p, '/') ? p : plugin_path(p));
    va_end(ap);
    snprintf(conf + n, sizeof(conf) - (size_t)n, "]}%s}", extra);
    must_start(s, conf);
}

/* The /v1/functions entry of name, or NULL. */
static json_t *listed(server *s, const char *name)
{
    resp r;
    must_status((http_call(s, "GET", "/v1/functions", NULL, &r), &r), 200);
    size_t i;
    json_t *f;
    json_array_foreach(must_get(must_json(&r), "functions"), i,
                       f) if (strcmp(must_str(f, "name"), name) == 0) return f;
    return NULL;
}

/* The argument arg of a listed function. */
static json_t *listed_arg(json_t *fn, const char *arg)
{
    size_t i;
    json_t *a;
    json_array_foreach(must_get(fn, "args"), i,
                       a) if (strcmp(must_str(a, "name"), arg) == 0) return a;
    ck_abort_msg("argument %s not listed", arg);
    return NULL;
}

/* GET /v1/jobs/{id}, lossy: NULL when no reply came (a worker died under it). */
static json_t *get_job(server *s, const char *id)
{
    char path[128];
    resp r;
    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    if (http_call_lossy(s, "GET", path, NULL, &r) != 200)
        return NULL;
    return must_json(&r);
}

static bool is_final(const char *state)
{
    return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
           strcmp(state, "cancelled") == 0;
}

/* Polls until the job is in state (or, for "final", any final state). */
static json_t *must_job_state(server *s, const char *id, const char *state, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    json_t *j = NULL;
    while (now_ms() < deadline) {
        j = get_job(s, id);
        const char *st = j ? must_str(j, "state") : "";
        if (strcmp(st, state) == 0 || (strcmp(state, "final") == 0 && is_final(st)))
            return j;
        sleep_ms(20);
    }
    ck_abort_msg("job %s not %s within %d ms: %s", id, state, timeout_ms,
                 j ? json_dumps(j, 0) : "(no reply)");
    return NULL;
}

/* Fails unless job j ended in state with error code (NULL: no error). */
static void must_ended(json_t *j, const char *state, const char *code)
{
    char *text = json_dumps(j, 0);
    ck_assert_msg(strcmp(must_str(j, "state"), state) == 0, "want %s: %s", state, text);
    json_t *err = json_object_get(j, "error");
    if (code)
        ck_assert_msg(json_is_object(err) && strcmp(must_str(err, "code"), code) == 0,
                      "want error %s: %s", code, text);
    else
        ck_assert_msg(json_is_null(err), "want no error: %s", text);
    free(text);
}

/* The value of a /metrics sample line that starts with series, or -1. */
static long long metric(server *s, const char *series)
{
    resp r;
    must_status((http_call(s, "GET", "/metrics", NULL, &r), &r), 200);
    size_t n = strlen(series);
    for (const char *p = r.body; (p = strstr(p, series)) != NULL; p += n)
        if ((p == r.body || p[-1] == '\n') && p[n] == ' ')
            return atoll(p + n + 1);
    return -1;
}

/* ---- listing, calls, validation ------------------------------------------------ */

START_TEST(test_listed_like_builtins)
{
    server s;
    must_start_with(&s, "", "montecarlo", "textstat", "tp", NULL);
    json_t *f = listed(&s, "mc_pi");
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(must_str(f, "kind"), "cpu");
    ck_assert_ptr_nonnull(strstr(must_str(f, "doc"), "pi"));
    json_t *a = listed_arg(f, "samples");
    ck_assert_str_eq(must_str(a, "type"), "integer");
    ck_assert_int_eq(must_int(a, "min"), 1);
    ck_assert_int_eq(must_int(a, "max"), 100000000000);
    ck_assert_int_eq(must_int(a, "default"), 1000000);
    ck_assert(json_is_false(must_get(a, "required")));

    f = listed(&s, "text_stats");
    ck_assert_ptr_nonnull(f);
    a = listed_arg(f, "text");
    ck_assert_str_eq(must_str(a, "type"), "string");
    ck_assert(json_is_true(must_get(a, "required")));
    ck_assert_int_eq(must_int(a, "max_length"), 1 << 20);
    a = listed_arg(f, "case");
    ck_assert_str_eq(must_str(a, "type"), "enum");
    ck_assert_str_eq(must_str(a, "default"), "fold");
    ck_assert_int_eq(json_array_size(must_get(a, "choices")), 2);

    ck_assert_str_eq(must_str(listed(&s, "tp_wait"), "kind"), "io");
    ck_assert_ptr_null(listed(&s, "tp_crash")); /* debug only */
    ck_assert_ptr_nonnull(listed(&s, "fib"));   /* the built-ins are still there */
    must_log(&s, "loaded plugin \"montecarlo\" 1.0 from ", 1, 100);
}
END_TEST

START_TEST(test_sync_calls)
{
    server s;
    resp r;
    must_start_with(&s, ", \"workers\": 1", "montecarlo", "textstat", "tp", NULL);
    json_t *res = must_call_fn(&s, "mc_pi", "{\"samples\": 200000, \"seed\": 7}", &r);
    double pi = json_real_value(must_get(res, "pi"));
    ck_assert_msg(fabs(pi - 3.14159) < 0.05, "pi estimated at %f", pi);
    ck_assert_int_eq(must_int(res, "samples"), 200000);
    json_int_t inside = must_int(res, "inside");
    res = must_call_fn(&s, "mc_pi", "{\"samples\": 200000, \"seed\": 7}", &r);
    ck_assert_int_eq(must_int(res, "inside"), inside); /* the same seed, the same draw */

    res = must_call_fn(&s, "text_stats",
                       "{\"text\": \"The cat and the hat.\\nThe end\", \"top\": 2}", &r);
    ck_assert_int_eq(must_int(res, "bytes"), 28);
    ck_assert_int_eq(must_int(res, "lines"), 2);
    ck_assert_int_eq(must_int(res, "words"), 7);
    ck_assert_int_eq(must_int(res, "unique_words"), 5);
    json_t *top = must_get(res, "top");
    ck_assert_int_eq(json_array_size(top), 2);
    ck_assert_str_eq(must_str(json_array_get(top, 0), "word"), "the");
    ck_assert_int_eq(must_int(json_array_get(top, 0), "count"), 3);
    ck_assert_str_eq(must_str(json_array_get(top, 1), "word"), "and");
    res = must_call_fn(&s, "text_stats", "{\"text\": \"The the\", \"case\": \"keep\"}", &r);
    ck_assert_int_eq(must_int(res, "unique_words"), 2);

    /* Never on the loop thread (the main thread: tid == pid), not even tiny calls. */
    for (int i = 0; i < 20; i++) {
        res = must_call_fn(&s, "tp_where", NULL, &r);
        ck_assert_int_eq(must_int(res, "pid"), must_int(must_json(&r), "worker"));
        ck_assert_int_ne(must_int(res, "tid"), must_int(res, "pid"));
    }
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "tp_version", NULL, &r)), "a");
}
END_TEST

START_TEST(test_validation_and_errors)
{
    server s;
    resp r;
    must_start_with(&s, "", "montecarlo", "textstat", "tp", NULL);
    http_call(&s, "POST", "/v1/fn/mc_pi", "{\"samples\": 0}", &r);
    must_error(&r, 400, "invalid_args", "samples");
    http_call(&s, "POST", "/v1/fn/mc_pi", "{\"seed\": -1}", &r);
    must_error(&r, 400, "invalid_args", "seed");
    http_call(&s, "POST", "/v1/fn/mc_pi", "{\"bogus\": 1}", &r);
    must_error(&r, 400, "invalid_args", "bogus");
    http_call(&s, "POST", "/v1/fn/text_stats", "{}", &r);
    must_error(&r, 400, "invalid_args", "text");
    http_call(&s, "POST", "/v1/fn/text_stats", "{\"text\": \"x\", \"case\": \"upper\"}", &r);
    must_error(&r, 400, "invalid_args", "case");
    http_call(&s, "POST", "/v1/fn/text_stats", "{\"text\": 5}", &r);
    must_error(&r, 400, "invalid_args", "text");
    http_call(&s, "POST", "/v1/fn/tp_crash", "{}", &r);
    must_error(&r, 404, "unknown_function", NULL);

    /* A plugin's errors are function errors with its message. */
    http_call(&s, "POST", "/v1/fn/tp_fail", "{\"reason\": \"because\"}", &r);
    must_error(&r, 422, "function_error", NULL);
    ck_assert_str_eq(must_str(must_get(must_json(&r), "error"), "message"),
                     "asked to fail: because");
    http_call(&s, "POST", "/v1/fn/tp_fail", "{\"how\": \"silent\"}", &r);
    must_error(&r, 422, "function_error", NULL);
    ck_assert_str_eq(must_str(must_get(must_json(&r), "error"), "message"),
                     "tp_fail failed without a message");
    http_call(&s, "POST", "/v1/fn/tp_fail", "{\"how\": \"weird\"}", &r);
    must_error(&r, 422, "function_error", NULL);
    ck_assert_str_eq(must_str(must_get(must_json(&r), "error"), "message"),
                     "tp_fail returned an unknown status 42");
    http_call(&s, "POST", "/v1/fn/tp_noresult", NULL, &r);
    must_error(&r, 422, "function_error", NULL);
    ck_assert_str_eq(must_str(must_get(must_json(&r), "error"), "message"),
                     "tp_noresult returned CRUNCHD_OK without a result");
}
END_TEST

/* ---- jobs, timeout, cancel ---------------------------------------------------- */

START_TEST(test_jobs)
{
    server s;
    resp r;
    must_start_with(&s, "", "montecarlo", "textstat", "tp", NULL);
    json_t *sync = must_call_fn(&s, "mc_pi", "{\"samples\": 100000, \"seed\": 5}", &r);
    json_int_t inside = must_int(sync, "inside");

    const char *id = must_submit_job(&s, "{\"fn\": \"mc_pi\", \"args\": {\"samples\": 100000, "
                                     "\"seed\": 5}}");
    json_t *j = must_job_state(&s, id, "final", 10000);
    must_ended(j, "succeeded", NULL);
    ck_assert_int_eq(must_int(must_get(j, "result"), "inside"), inside);
    ck_assert_int_eq(must_int(j, "attempts"), 1);

    /* Submit and wait in one request. */
    int st = http_call(&s, "POST", "/v1/jobs?wait=10",
                       "{\"fn\": \"text_stats\", \"args\": {\"text\": \"a b a\"}}", &r);
    ck_assert_msg(st == 200, "%s", resp_describe(&r));
    must_ended(must_json(&r), "succeeded", NULL);
    ck_assert_int_eq(must_int(must_get(must_json(&r), "result"), "unique_words"), 2);

    id = must_submit_job(&s, "{\"fn\": \"tp_fail\", \"args\": {\"reason\": \"in a job\"}}");
    j = must_job_state(&s, id, "final", 10000);
    must_ended(j, "failed", "function_error");
    ck_assert_str_eq(must_str(must_get(j, "error"), "message"), "asked to fail: in a job");

    /* Invalid arguments are refused before the job is accepted. */
    http_call(&s, "POST", "/v1/jobs", "{\"fn\": \"mc_pi\", \"args\": {\"samples\": -5}}", &r);
    must_error(&r, 400, "invalid_args", "samples");
}
END_TEST

START_TEST(test_timeout_and_cancel)
{
    server s;
    resp r;
    /* A short grace: a function that did not stop would cost its worker. */
    must_start_with(&s, ", \"workers\": 1, \"jobs\": {\"cancel_grace_ms\": 300}", "montecarlo",
                    "tp", NULL);
    pid_t w0 = must_worker_pid(&s, 0);

    /* A sync call past its time limit: the plugin sees the deadline. */
    int64_t t0 = now_ms();
    http_call(&s, "POST", "/v1/fn/tp_wait?timeout_ms=200", "{\"ms\": 60000}", &r);
    must_error(&r, 504, "timeout", NULL);
    ck_assert_int_lt(now_ms() - t0, 5000);
    http_call(&s, "POST", "/v1/fn/mc_pi?timeout_ms=200", "{\"samples\": 100000000000}", &r);
    must_error(&r, 504, "timeout", NULL);

    /* Running jobs cancelled: the cpu one and the io one both poll. */
    const char *cpu = must_submit_job(&s, "{\"fn\": \"mc_pi\", \"args\": {\"samples\": 100000000000}}");
    const char *io = must_submit_job(&s, "{\"fn\": \"tp_wait\", \"args\": {\"ms\": 600000}}");
    must_job_state(&s, cpu, "running", 10000);
    must_job_state(&s, io, "running", 10000);
    char path[128];
    snprintf(path, sizeof(path), "/v1/jobs/%s", cpu);
    must_status((http_call(&s, "DELETE", path, NULL, &r), &r), 200);
    snprintf(path, sizeof(path), "/v1/jobs/%s", io);
    must_status((http_call(&s, "DELETE", path, NULL, &r), &r), 200);
    must_ended(must_job_state(&s, cpu, "final", 5000), "cancelled", "cancelled");
    must_ended(must_job_state(&s, io, "final", 5000), "cancelled", "cancelled");

    /* A timed-out job. */
    const char *late = must_submit_job(&s, "{\"fn\": \"tp_wait\", \"args\": {\"ms\": 600000}, "
                                       "\"timeout_ms\": 300}");
    must_ended(must_job_state(&s, late, "final", 10000), "failed", "timeout");

    /* They all stopped by themselves: the worker was never killed. */
    sleep_ms(600);
    ck_assert_int_eq(must_worker_pid(&s, 0), w0);
    ck_assert_int_eq(must_int(must_worker_slot(&s, 0), "restarts"), 0);
}
END_TEST

/* ---- metrics, access log ------------------------------------------------------ */

START_TEST(test_metrics_and_access_log)
{
    server s;
    resp r;
    char over[600];
    snprintf(over, sizeof(over), ", \"workers\": 2, \"log\": {\"access_log\": \"access.log\"}");
    must_start_with(&s, over, "montecarlo", "tp", NULL);
    for (int i = 0; i < 3; i++)
        must_call_fn(&s, "mc_pi", "{\"samples\": 1000}", &r);
    http_call(&s, "POST", "/v1/fn/tp_fail", "{}", &r);
    const char *id = must_submit_job(&s, "{\"fn\": \"mc_pi\", \"args\": {\"samples\": 1000}}");
    must_job_state(&s, id, "succeeded", 10000);

    ck_assert_int_eq(metric(&s, "crunchd_jobs_total{fn=\"mc_pi\",state=\"succeeded\"}"), 4);
    ck_assert_int_eq(metric(&s, "crunchd_job_run_seconds_count{fn=\"mc_pi\"}"), 4);
    ck_assert_int_eq(metric(&s, "crunchd_jobs_total{fn=\"tp_fail\",state=\"failed\"}"), 1);
    ck_assert_int_eq(metric(&s, "crunchd_jobs_total{fn=\"tp_wait\",state=\"succeeded\"}"), 0);

    char path[512];
    snprintf(path, sizeof(path), "%s/access.log", s.dir);
    int64_t deadline = now_ms() + 5000;
    for (;;) {
        FILE *f = fopen(path, "re");
        char line[2048];
        int calls = 0;
        while (f && fgets(line, sizeof(line), f))
            calls += strstr(line, "\"POST /v1/fn/mc_pi HTTP/1.1\" 200") != NULL;
        if (f)
            fclose(f);
        if (calls == 3)
            break;
        ck_assert_msg(now_ms() < deadline, "%d mc_pi calls in the access log, want 3", calls);
        sleep_ms(50);
    }
}
END_TEST

/* ---- a crash ------------------------------------------------------------------ */

START_TEST(test_crash_takes_only_its_worker)
{
    server s;
    resp r;
    must_start_with(&s, ", \"workers\": 1, \"debug_functions\": true", "montecarlo", "tp", NULL);
    ck_assert_ptr_nonnull(listed(&s, "tp_crash"));
    pid_t w0 = must_worker_pid(&s, 0);

    /* A job: worker_lost, and the worker comes back. */
    const char *id = must_submit_job(&s, "{\"fn\": \"tp_crash\", \"retries\": 0}");
    json_t *j = must_job_state(&s, id, "final", LOST_MS + 5000);
    must_ended(j, "failed", "worker_lost");
    ck_assert_int_eq(must_int(j, "attempts"), 1);
    w0 = (pid_t)must_int(must_wait_respawn(&s, 0, w0, LOST_MS), "pid");

    /* With a retry it runs twice, then fails. */
    id = must_submit_job(&s, "{\"fn\": \"tp_crash\", \"retries\": 1}");
    j = must_job_state(&s, id, "final", 2 * LOST_MS + 5000);
    must_ended(j, "failed", "worker_lost");
    ck_assert_int_eq(must_int(j, "attempts"), 2);
    must_wait_workers_running(&s, LOST_MS);

    /* A sync call: its connection goes with the worker, the next call is served. */
    w0 = must_worker_pid(&s, 0);
    ck_assert_int_eq(http_call_lossy(&s, "POST", "/v1/fn/tp_crash", "{}", &r), 0);
    must_wait_respawn(&s, 0, w0, LOST_MS);
    ck_assert_int_eq(must_int(must_worker_slot(&s, 0), "restarts"), 4);
    ck_assert_int_eq(must_int(must_call_fn(&s, "mc_pi", "{\"samples\": 1000}", &r), "samples"),
                     1000);
}
END_TEST

/* ---- reload ------------------------------------------------------------------- */

/* The pids of slots 0 and 1 now. */
static void worker_pids(server *s, pid_t pids[2])
{
    pids[0] = must_worker_pid(s, 0);
    pids[1] = must_worker_pid(s, 1);
}

START_TEST(test_hup_changed_set)
{
    server s;
    resp r;
    pid_t old[2], now[2];
    must_start_with(&s, ", \"workers\": 2", "tp", NULL);
    must_call_fn(&s, "tp_where", NULL, &r);
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "tp_version", NULL, &r)), "a");
    worker_pids(&s, old);

    /* A new set: another plugin, and the test plugin's other variant. */
    char over[1200];
    snprintf(over, sizeof(over), "{\"functions\": {\"plugins\": [\"%s\", \"%s\"]}}",
             plugin_path("montecarlo"), plugin_path("tp_b"));
    must_rewrite_config(&s, over);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 1, RELOAD_MS);
    must_gone(old[0], RELOAD_MS, "old worker 0");
    must_gone(old[1], RELOAD_MS, "old worker 1");
    must_wait_workers_running(&s, RELOAD_MS);
    ck_assert_ptr_nonnull(listed(&s, "tp_b_only"));
    ck_assert_ptr_nonnull(listed(&s, "mc_pi"));
    ck_assert_ptr_null(listed(&s, "tp_where"));
    http_call(&s, "POST", "/v1/fn/tp_where", NULL, &r);
    must_error(&r, 404, "unknown_function", NULL);
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "tp_b_only", NULL, &r)), "b");
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "tp_version", NULL, &r)), "b");
    must_call_fn(&s, "mc_pi", "{\"samples\": 1000}", &r);
    /* tp_version kept its series across the reload: one call in each generation. */
    ck_assert_int_eq(metric(&s, "crunchd_jobs_total{fn=\"tp_version\",state=\"succeeded\"}"), 2);
    /* tp_where, which only the old generation ran, is still counted. */
    ck_assert_int_eq(metric(&s, "crunchd_jobs_total{fn=\"tp_where\",state=\"succeeded\"}"), 1);

    /* A bad set: the reload fails, naming the file; the workers keep serving. */
    worker_pids(&s, now);
    snprintf(over, sizeof(over), "{\"functions\": {\"plugins\": [\"%s\", \"%s\"]}}",
             plugin_path("montecarlo"), plugin_path("tp_badabi"));
    must_rewrite_config(&s, over);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload failed", 1, RELOAD_MS);
    char want[700];
    snprintf(want, sizeof(want), "functions.plugins[1]: %s: built for plugin ABI 2",
             plugin_path("tp_badabi"));
    must_log(&s, want, 1, 100);
    snprintf(over, sizeof(over), "{\"functions\": {\"plugins\": [\"%s\"]}}",
             plugin_path("tp_ctorcrash"));
    must_rewrite_config(&s, over);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload failed", 2, RELOAD_MS);
    must_log(&s, "crashed while loading (signal ", 1, 100); /* 6 under ASan */
    snprintf(over, sizeof(over), "{\"functions\": {\"plugins\": [\"%s\"]}}",
             plugin_path("tp_ctorhang"));
    must_rewrite_config(&s, over);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload failed", 3, RELOAD_MS);
    must_log(&s, "libtp_ctorhang.so: still loading after 5000 ms", 1, 100);
    sleep_ms(300);
    ck_assert_int_eq(must_worker_pid(&s, 0), now[0]);
    ck_assert_int_eq(must_worker_pid(&s, 1), now[1]);
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "tp_b_only", NULL, &r)), "b");
    ck_assert_int_eq(server_log_count(&s, "reload complete"), 1);
}
END_TEST

/* Copies the plugin src to dst as a new file (write a temp, rename over). */
static void must_install(const char *src, const char *dst)
{
    char cmd[1600];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s.tmp' && chmod 0755 '%s.tmp' && mv -f '%s.tmp' '%s'",
             src, dst, dst, dst, dst);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

START_TEST(test_hup_rebuilt_file_same_path)
{
    server s;
    resp r;
    char path[400], over[600];
    must_start(&s, "{\"workers\": 1}");
    snprintf(path, sizeof(path), "%s/libmine.so", s.dir);
    must_install(plugin_path("tp"), path);
    snprintf(over, sizeof(over), "{\"functions\": {\"plugins\": [\"%s\"]}}", path);
    must_rewrite_config(&s, over);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 1, RELOAD_MS);
    must_wait_workers_running(&s, RELOAD_MS);
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "tp_version", NULL, &r)), "a");

    /* A rebuilt plugin installed at the same path: the next reload loads it. */
    must_install(plugin_path("tp_b"), path);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 2, RELOAD_MS);
    must_wait_workers_running(&s, RELOAD_MS);
    must_log(&s, "(a new file since the last load)", 1, 100);
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "tp_version", NULL, &r)), "b");
    ck_assert_ptr_nonnull(listed(&s, "tp_b_only"));
    ck_assert_ptr_null(listed(&s, "tp_where"));

    /* Unchanged, it is the same file: loaded again without a fresh copy. */
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 3, RELOAD_MS);
    must_wait_workers_running(&s, RELOAD_MS);
    ck_assert_int_eq(server_log_count(&s, "(a new file since the last load)"), 1);
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "tp_version", NULL, &r)), "b");
}
END_TEST

static Suite *plugins_suite(void)
{
    Suite *s = suite_create("integration_plugins");
    TCase *tc = harness_tcase("plugins");
    tcase_add_test(tc, test_listed_like_builtins);
    tcase_add_test(tc, test_sync_calls);
    tcase_add_test(tc, test_validation_and_errors);
    tcase_add_test(tc, test_jobs);
    tcase_add_test(tc, test_timeout_and_cancel);
    tcase_add_test(tc, test_metrics_and_access_log);
    tcase_add_test(tc, test_crash_takes_only_its_worker);
    tcase_add_test(tc, test_hup_changed_set);
    tcase_add_test(tc, test_hup_rebuilt_file_same_path);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(plugins_suite());
}
