/*
 * check_routes.c - every route, every built-in function's happy path, and
 * every error status of the API with its envelope and "arg".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_E_ACUTE "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c"
#define SHA_HELLO "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"

static const char *const builtins[] = {"count",  "fib",  "primes", "sha256",
                                       "matmul", "sort", "sleep",  "file_sha256"};
#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

/* POST /v1/fn/name with body; returns the response (status not checked). */
static void post_fn(server *s, const char *name, const char *body, resp *r)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/fn/%s", name);
    http_call(s, "POST", path, body, r);
}

static void must_invalid_arg(server *s, const char *name, const char *body, const char *arg)
{
    resp r;
    post_fn(s, name, body, &r);
    ck_assert_msg(r.status == 400,
                  "POST /v1/fn/%s %s: expected 400 invalid_args (arg %s), got:\n%s", name, body,
                  arg ? arg : "-", resp_describe(&r));
    must_error(&r, 400, "invalid_args", arg);
}

static void must_bad_json(server *s, const char *name, const char *body)
{
    resp r;
    post_fn(s, name, body, &r);
    ck_assert_msg(r.status == 400, "POST /v1/fn/%s %s: expected 400 bad_json, got:\n%s", name, body,
                  resp_describe(&r));
    must_error(&r, 400, "bad_json", NULL);
}

/* ---- simple routes ------------------------------------------------------- */

START_TEST(test_healthz)
{
    server s;
    must_start(&s, NULL);
    resp r;
    http_call(&s, "GET", "/healthz", NULL, &r);
    must_status(&r, 200);
    must_json_type(&r);
    ck_assert_str_eq(must_str(must_json(&r), "status"), "ok");
    http_call(&s, "GET", "/healthz?probe=1", NULL, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "status"), "ok");
}
END_TEST

START_TEST(test_readyz)
{
    server s;
    must_start(&s, NULL);
    resp r;
    http_call(&s, "GET", "/readyz", NULL, &r);
    must_status(&r, 200);
    must_json_type(&r);
    must_json(&r);
}
END_TEST

static json_t *must_function(json_t *list, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && strcmp(n, name) == 0)
            return f;
    }
    ck_abort_msg("/v1/functions does not list \"%s\"", name);
    return NULL;
}

static bool has_function(json_t *list, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

START_TEST(test_functions)
{
    server s;
    must_start(&s, NULL);
    resp r;
    http_call(&s, "GET", "/v1/functions", NULL, &r);
    must_status(&r, 200);
    must_json_type(&r);
    json_t *list = must_get(must_json(&r), "functions");
    ck_assert_msg(json_is_array(list), "\"functions\" is not an array");
    ck_assert_int_eq(json_array_size(list), NBUILTINS);
    for (size_t i = 0; i < NBUILTINS; i++) {
        json_t *f = must_function(list, builtins[i]);
        const char *kind = must_str(f, "kind");
        ck_assert_msg(strcmp(kind, "cpu") == 0 || strcmp(kind, "io") == 0, "%s: kind \"%s\"",
                      builtins[i], kind);
        json_t *args = must_get(f, "args");
        ck_assert_msg(json_is_array(args), "%s: args is not an array", builtins[i]);
        size_t j;
        json_t *a;
        json_array_foreach(args, j, a) must_str(a, "name");
    }
    ck_assert_str_eq(must_str(must_function(list, "sleep"), "kind"), "io");
    ck_assert_str_eq(must_str(must_function(list, "file_sha256"), "kind"), "io");
    ck_assert_str_eq(must_str(must_function(list, "count"), "kind"), "cpu");
    ck_assert(!has_function(list, "crash"));
    ck_assert(!has_function(list, "spin"));
    /* Debug functions do not exist without debug_functions. */
    post_fn(&s, "crash", "{}", &r);
    must_error(&r, 404, "unknown_function", NULL);
    post_fn(&s, "spin", "{\"ms\":1}", &r);
    must_error(&r, 404, "unknown_function", NULL);
}
END_TEST

START_TEST(test_functions_debug)
{
    server s;
    must_start(&s, "{\"debug_functions\": true}");
    resp r;
    http_call(&s, "GET", "/v1/functions", NULL, &r);
    must_status(&r, 200);
    json_t *list = must_get(must_json(&r), "functions");
    ck_assert_int_eq(json_array_size(list), NBUILTINS + 2);
    must_function(list, "crash");
    must_function(list, "spin");
    for (size_t i = 0; i < NBUILTINS; i++)
        must_function(list, builtins[i]);
    /* spin exists now and runs. */
    must_call_fn(&s, "spin", "{\"ms\":20}", &r);
}
END_TEST

START_TEST(test_workers)
{
    server s;
    must_start(&s, NULL);
    resp r;
    http_call(&s, "GET", "/v1/workers", NULL, &r);
    must_status(&r, 200);
    must_json_type(&r);
    json_t *v = must_json(&r);
    ck_assert_int_eq(must_int(v, "master_pid"), s.pid);
    ck_assert(strlen(must_str(v, "started_at")) > 0);
    json_t *list = must_get(v, "workers");
    ck_assert_int_eq(json_array_size(list), 2);
    json_int_t pids[2];
    for (size_t i = 0; i < 2; i++) {
        json_t *w = json_array_get(list, i);
        ck_assert_int_eq(must_int(w, "slot"), (json_int_t)i);
        pids[i] = must_int(w, "pid");
        ck_assert_msg(pids[i] > 0 && pids[i] != s.pid, "slot %zu: bad pid (master %d):\n%s", i,
                      (int)s.pid, resp_describe(&r));
        ck_assert_int_eq(must_int(w, "incarnation"), 1);
        ck_assert(strlen(must_str(w, "started_at")) > 0);
        ck_assert(must_int(w, "requests") >= 0);
        ck_assert(must_int(w, "jobs") >= 0);
        ck_assert_str_eq(must_str(w, "state"), "running");
        ck_assert_int_eq(must_int(w, "restarts"), 0);
        ck_assert_msg(json_is_null(must_get(w, "last_exit")), "slot %zu: last_exit is not null", i);
        ck_assert(must_int(w, "connections") >= 0);
        ck_assert(pid_alive((pid_t)pids[i]));
    }
    ck_assert(pids[0] != pids[1]);
}
END_TEST

/* ---- functions: happy paths ----------------------------------------------- */

START_TEST(test_fn_count)
{
    server s;
    must_start(&s, NULL);
    resp r;
    ck_assert_int_eq(
        json_integer_value(must_call_fn(&s, "count", "{\"iterations\":1000,\"start\":5}", &r)),
        1005);
    ck_assert_int_eq(
        json_integer_value(must_call_fn(&s, "count", "{\"iterations\":0,\"start\":-7}", &r)), -7);
    /* Defaults: start 0, iterations 10 000 000; an empty body is {}. */
    ck_assert_int_eq(json_integer_value(must_call_fn(&s, "count", "{}", &r)), 10000000);
    ck_assert_int_eq(json_integer_value(must_call_fn(&s, "count", NULL, &r)), 10000000);
}
END_TEST

START_TEST(test_fn_fib)
{
    server s;
    must_start(&s, NULL);
    resp r;
    ck_assert_int_eq(json_integer_value(must_call_fn(&s, "fib", "{\"n\":10}", &r)), 55);
    ck_assert_int_eq(json_integer_value(must_call_fn(&s, "fib", "{\"n\":0}", &r)), 0);
    ck_assert_int_eq(json_integer_value(must_call_fn(&s, "fib", "{\"n\":1}", &r)), 1);
    json_t *big = must_call_fn(&s, "fib", "{\"n\":92}", &r);
    ck_assert_msg(json_is_integer(big) && json_integer_value(big) == 7540113804746346429LL,
                  "fib(92):\n%s", resp_describe(&r));
    /* The worker field names one of the workers. */
    pid_t w = (pid_t)must_int(must_json(&r), "worker");
    ck_assert(w == must_worker_pid(&s, 0) || w == must_worker_pid(&s, 1));
    ck_assert(must_get(must_json(&r), "run_ms") != NULL);
}
END_TEST

START_TEST(test_fn_primes)
{
    server s;
    must_start(&s, NULL);
    resp r;
    json_t *res = must_call_fn(&s, "primes", "{\"limit\":100}", &r);
    ck_assert_int_eq(must_int(res, "count"), 25);
    res = must_call_fn(&s, "primes", "{\"limit\":1000000}", &r);
    ck_assert_int_eq(must_int(res, "count"), 78498);
    res = must_call_fn(&s, "primes", "{\"limit\":1}", &r);
    ck_assert_int_eq(must_int(res, "count"), 0);
    res = must_call_fn(&s, "primes", "{\"limit\":2}", &r);
    ck_assert_int_eq(must_int(res, "count"), 1);
}
END_TEST

START_TEST(test_fn_sha256)
{
    server s;
    must_start(&s, NULL);
    resp r;
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "sha256", "{\"data\":\"abc\"}", &r)),
                     SHA_ABC);
    ck_assert_str_eq(json_string_value(must_call_fn(
                         &s, "sha256", "{\"data\":\"YWJj\",\"encoding\":\"base64\"}", &r)),
                     SHA_ABC);
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "sha256", "{\"data\":\"\"}", &r)),
                     SHA_EMPTY);
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "sha256", "{\"data\":\"\\u00e9\"}", &r)),
                     SHA_E_ACUTE);
    ck_assert_str_eq(json_string_value(must_call_fn(&s, "sha256", "{\"data\":\"\xc3\xa9\"}", &r)),
                     SHA_E_ACUTE);
    ck_assert_str_eq(
        json_string_value(must_call_fn(&s, "sha256", "{\"data\":\"abc\",\"rounds\":1}", &r)),
        SHA_ABC);
    const char *two =
        json_string_value(must_call_fn(&s, "sha256", "{\"data\":\"abc\",\"rounds\":2}", &r));
    ck_assert(two && strlen(two) == 64 && strcmp(two, SHA_ABC) != 0);
}
END_TEST

START_TEST(test_fn_matmul)
{
    server s;
    must_start(&s, NULL);
    resp r1, r2, r3;
    json_t *a = must_call_fn(&s, "matmul", "{\"n\":16,\"seed\":3}", &r1);
    json_t *b = must_call_fn(&s, "matmul", "{\"n\":16,\"seed\":3}", &r2);
    json_t *c = must_call_fn(&s, "matmul", "{\"n\":16,\"seed\":4}", &r3);
    ck_assert_msg(json_equal(a, b), "matmul is not deterministic:\n%s\n%s", resp_describe(&r1),
                  resp_describe(&r2));
    ck_assert_msg(!json_equal(a, c), "matmul ignores the seed:\n%s\n%s", resp_describe(&r1),
                  resp_describe(&r3));
    must_call_fn(&s, "matmul", "{\"n\":1}", &r1);
    must_call_fn(&s, "matmul", "{}", &r1);
}
END_TEST

START_TEST(test_fn_sort)
{
    server s;
    must_start(&s, NULL);
    resp r;
    json_t *res = must_call_fn(&s, "sort", "{\"values\":[3,1,2]}", &r);
    json_t *want = json_loads("[1,2,3]", 0, NULL);
    ck_assert_msg(json_equal(res, want), "sort [3,1,2]:\n%s", resp_describe(&r));
    json_decref(want);
    res = must_call_fn(&s, "sort", "{\"values\":[]}", &r);
    ck_assert(json_is_array(res) && json_array_size(res) == 0);
    res = must_call_fn(&s, "sort", "{\"values\":[2.5,-1,10,-1]}", &r);
    ck_assert_msg(json_array_size(res) == 4 && json_number_value(json_array_get(res, 0)) == -1 &&
                      json_number_value(json_array_get(res, 1)) == -1 &&
                      json_number_value(json_array_get(res, 2)) == 2.5 &&
                      json_number_value(json_array_get(res, 3)) == 10,
                  "sort [2.5,-1,10,-1]:\n%s", resp_describe(&r));
}
END_TEST

START_TEST(test_fn_sort_large)
{
    server s;
    must_start(&s, NULL);
    /* 60 000 values, descending: a body of ~350 kB and a reply as big. */
    const int n = 60000;
    char *body = malloc((size_t)n * 8 + 32);
    ck_assert(body != NULL);
    size_t len = (size_t)sprintf(body, "{\"values\":[");
    for (int i = n; i > 0; i--)
        len += (size_t)sprintf(body + len, "%d%s", i, i > 1 ? "," : "");
    strcpy(body + len, "]}");
    resp r;
    json_t *res = must_call_fn(&s, "sort", body, &r);
    free(body);
    ck_assert_int_eq(json_array_size(res), n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(json_number_value(json_array_get(res, (size_t)i)) == i + 1,
                      "sorted[%d] is not %d", i, i + 1);
}
END_TEST

START_TEST(test_fn_sleep)
{
    server s;
    must_start(&s, NULL);
    resp r;
    int64_t t0 = now_ms();
    must_call_fn(&s, "sleep", "{\"ms\":100}", &r);
    int64_t took = now_ms() - t0;
    ck_assert_msg(took >= 95, "sleep 100 ms answered after %lld ms", (long long)took);
    ck_assert_msg(json_number_value(must_get(must_json(&r), "run_ms")) >= 95, "run_ms:\n%s",
                  resp_describe(&r));
    must_call_fn(&s, "sleep", "{\"ms\":0}", &r);
}
END_TEST

/* file_sha256's result: the hex digest, or an object with "sha256" in it
 * (and "bytes", checked when present). */
static const char *file_digest(json_t *res, size_t bytes)
{
    if (json_is_string(res))
        return json_string_value(res);
    json_t *n = json_object_get(res, "bytes");
    if (n)
        ck_assert_int_eq(json_integer_value(n), bytes);
    return must_str(res, "sha256");
}

START_TEST(test_fn_file_sha256)
{
    server s;
    must_start(&s, NULL);
    resp r;
    must_write_data_file(&s, "abc.txt", "abc");
    must_write_data_file(&s, "sub/dir/hello.txt", "hello world\n");
    must_write_data_file(&s, "empty", "");
    json_t *res = must_call_fn(&s, "file_sha256", "{\"path\":\"abc.txt\"}", &r);
    ck_assert_str_eq(file_digest(res, 3), SHA_ABC);
    res = must_call_fn(&s, "file_sha256", "{\"path\":\"sub/dir/hello.txt\"}", &r);
    ck_assert_str_eq(file_digest(res, 12), SHA_HELLO);
    res = must_call_fn(&s, "file_sha256", "{\"path\":\"./empty\"}", &r);
    ck_assert_str_eq(file_digest(res, 0), SHA_EMPTY);
}
END_TEST

START_TEST(test_fn_file_sha256_errors)
{
    server s;
    must_start(&s, NULL);
    resp r;
    /* A missing file: the function fails. */
    post_fn(&s, "file_sha256", "{\"path\":\"missing.txt\"}", &r);
    must_error(&r, 422, "function_error", NULL);
    /* Escapes by "..": rejected as arguments. */
    must_invalid_arg(&s, "file_sha256", "{\"path\":\"../etc/passwd\"}", "path");
    must_invalid_arg(&s, "file_sha256", "{\"path\":\"sub/../../crunchd.json\"}", "path");
    must_invalid_arg(&s, "file_sha256", "{\"path\":\"..\"}", "path");
    must_invalid_arg(&s, "file_sha256", "{}", "path");
    must_invalid_arg(&s, "file_sha256", "{\"path\":7}", "path");
    /* An absolute path is never read from outside data_dir. */
    post_fn(&s, "file_sha256", "{\"path\":\"/etc/hostname\"}", &r);
    ck_assert_msg(r.status == 400 || r.status == 422, "absolute path:\n%s", resp_describe(&r));
    /* A symlink (file or directory) to outside data_dir. */
    char outside[600], target[600], link[600];
    snprintf(outside, sizeof(outside), "%s/outside.txt", s.dir);
    FILE *f = fopen(outside, "w");
    ck_assert(f != NULL);
    fputs("secret", f);
    fclose(f);
    snprintf(link, sizeof(link), "%s/link.txt", s.data_dir);
    ck_assert_int_eq(symlink(outside, link), 0);
    snprintf(link, sizeof(link), "%s/rel.txt", s.data_dir);
    ck_assert_int_eq(symlink("../outside.txt", link), 0);
    snprintf(target, sizeof(target), "%s", s.dir);
    snprintf(link, sizeof(link), "%s/updir", s.data_dir);
    ck_assert_int_eq(symlink(target, link), 0);
    post_fn(&s, "file_sha256", "{\"path\":\"link.txt\"}", &r);
    must_error(&r, 422, "function_error", NULL);
    post_fn(&s, "file_sha256", "{\"path\":\"rel.txt\"}", &r);
    must_error(&r, 422, "function_error", NULL);
    post_fn(&s, "file_sha256", "{\"path\":\"updir/outside.txt\"}", &r);
    must_error(&r, 422, "function_error", NULL);
    /* A directory is not a file. */
    must_write_data_file(&s, "d/x", "x");
    post_fn(&s, "file_sha256", "{\"path\":\"d\"}", &r);
    must_error(&r, 422, "function_error", NULL);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

START_TEST(test_not_found)
{
    server s;
    must_start(&s, NULL);
    resp r;
    const char *paths[] = {"/nope",         "/",       "/v1", "/v1/fn", "/healthz/extra",
                           "/v1/workers/0", "/HEALTHZ"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        http_call(&s, "GET", paths[i], NULL, &r);
        must_error(&r, 404, "not_found", NULL);
    }
    http_call(&s, "POST", "/nope", "{}", &r);
    must_error(&r, 404, "not_found", NULL);
}
END_TEST

START_TEST(test_unknown_function)
{
    server s;
    must_start(&s, NULL);
    resp r;
    post_fn(&s, "nope", "{}", &r);
    must_error(&r, 404, "unknown_function", NULL);
    post_fn(&s, "fib2", "{}", &r);
    must_error(&r, 404, "unknown_function", NULL);
    post_fn(&s, "FIB", "{}", &r);
    must_error(&r, 404, "unknown_function", NULL);
    /* An empty name after the prefix is no function either. */
    http_call(&s, "POST", "/v1/fn/", "{}", &r);
    must_status(&r, 404);
    must_json(&r);
}
END_TEST

static void must_405(server *s, const char *method, const char *path, const char *allow)
{
    resp r;
    http_call(s, method, path, strcmp(method, "POST") == 0 ? "{}" : NULL, &r);
    if (strcmp(method, "HEAD") == 0)
        must_status(&r, 405);
    else
        must_error(&r, 405, "method_not_allowed", NULL);
    must_header(&r, "Allow", allow);
}

START_TEST(test_method_not_allowed)
{
    server s;
    must_start(&s, NULL);
    must_405(&s, "POST", "/healthz", "GET, HEAD, OPTIONS");
    must_405(&s, "POST", "/readyz", "GET, HEAD, OPTIONS");
    must_405(&s, "DELETE", "/v1/workers", "GET, HEAD, OPTIONS");
    must_405(&s, "PUT", "/v1/functions", "GET, HEAD, OPTIONS");
    must_405(&s, "GET", "/v1/fn/fib", "POST, OPTIONS");
    must_405(&s, "DELETE", "/v1/fn/fib", "POST, OPTIONS");
    must_405(&s, "HEAD", "/v1/fn/fib", "POST, OPTIONS");
}
END_TEST

START_TEST(test_unsupported_media_type)
{
    server s;
    must_start(&s, NULL);
    resp r;
    const char *bad[] = {"text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                         "multipart/form-data; boundary=x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int fd = must_connect(&s);
        char req[512];
        snprintf(req, sizeof(req),
                 "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                 "Content-Length: 8\r\nConnection: close\r\n\r\n{\"n\":10}",
                 bad[i]);
        must_send_str(fd, req);
        must_read_response(fd, &r);
        must_error(&r, 415, "unsupported_media_type", NULL);
        close(fd);
    }
    const char *good[] = {"application/json; charset=utf-8", "Application/JSON", NULL};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int fd = must_connect(&s);
        char req[512];
        if (good[i])
            snprintf(req, sizeof(req),
                     "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                     "Content-Length: 8\r\nConnection: close\r\n\r\n{\"n\":10}",
                     good[i]);
        else /* no Content-Type: taken as JSON */
            snprintf(req, sizeof(req),
                     "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\n"
                     "Content-Length: 8\r\nConnection: close\r\n\r\n{\"n\":10}");
        must_send_str(fd, req);
        must_read_response(fd, &r);
        must_status(&r, 200);
        ck_assert_int_eq(must_int(must_json(&r), "result"), 55);
        close(fd);
    }
}
END_TEST

START_TEST(test_bad_json)
{
    server s;
    must_start(&s, NULL);
    const char *bodies[] = {
        "{",      "{\"n\":}", "{\"n\":10",           "[1,",          "nul",
        "{n:10}", "{'n':10}", "{\"n\":10} trailing", "{\"n\":10}{}", "{\"n\":010}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        must_bad_json(&s, "fib", bodies[i]);
}
END_TEST

START_TEST(test_bad_json_utf8)
{
    server s;
    must_start(&s, NULL);
    /* Invalid UTF-8 inside and outside strings, overlong forms, surrogates. */
    must_bad_json(&s, "sha256", "{\"data\":\"\xff\"}");
    must_bad_json(&s, "sha256", "{\"data\":\"a\xc3\"}");
    must_bad_json(&s, "sha256", "{\"data\":\"\xc0\xaf\"}");
    must_bad_json(&s, "sha256", "{\"data\":\"\xed\xa0\x80\"}");
    must_bad_json(&s, "sha256", "{\"data\":\"\\ud800\"}");
    must_bad_json(&s, "sha256", "\xff");
    must_bad_json(&s, "sha256", "{\"\xfe\":1}");
}
END_TEST

START_TEST(test_bad_json_nul)
{
    server s;
    must_start(&s, NULL);
    /* \u0000 escaped in a string. */
    must_bad_json(&s, "sha256", "{\"data\":\"a\\u0000b\"}");
    must_bad_json(&s, "fib", "{\"n\\u0000\":10}");
    /* A raw NUL byte in the body. */
    static const char raw[] = "POST /v1/fn/sha256 HTTP/1.1\r\nHost: x\r\nContent-Type: "
                              "application/json\r\nContent-Length: 14\r\nConnection: close\r\n\r\n"
                              "{\"data\":\"a\0b\"}";
    resp r;
    http_call_raw(&s, raw, sizeof(raw) - 1, &r);
    must_error(&r, 400, "bad_json", NULL);
    static const char raw2[] = "POST /v1/fn/fib HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n"
                               "Connection: close\r\n\r\n{\"n\":10}\0";
    http_call_raw(&s, raw2, sizeof(raw2) - 1, &r);
    must_error(&r, 400, "bad_json", NULL);
}
END_TEST

START_TEST(test_bad_json_duplicate_keys)
{
    server s;
    must_start(&s, NULL);
    must_bad_json(&s, "fib", "{\"n\":1,\"n\":2}");
    must_bad_json(&s, "count", "{\"start\":1,\"iterations\":5,\"start\":1}");
}
END_TEST

/* {"n": [[...]]} with `depth` levels in all (the object counts as one). */
static char *nested(int depth)
{
    size_t n = (size_t)depth * 2 + 16;
    char *p = malloc(n);
    ck_assert(p != NULL);
    strcpy(p, "{\"n\":");
    size_t len = strlen(p);
    for (int i = 1; i < depth; i++)
        p[len++] = '[';
    for (int i = 1; i < depth; i++)
        p[len++] = ']';
    p[len++] = '}';
    p[len] = '\0';
    return p;
}

START_TEST(test_deep_nesting)
{
    server s;
    must_start(&s, NULL);
    char *b64 = nested(64), *b65 = nested(65), *b100k = nested(100000);
    /* 64 levels parse (and then n is not an integer); 65 do not. */
    must_invalid_arg(&s, "fib", b64, "n");
    must_bad_json(&s, "fib", b65);
    must_bad_json(&s, "fib", b100k);
    free(b64);
    free(b65);
    free(b100k);
    /* Brackets inside strings do not count as nesting. */
    char data[300] = "{\"data\":\"";
    for (int i = 0; i < 100; i++)
        strcat(data, "[");
    strcat(data, "\"}");
    resp r;
    must_call_fn(&s, "sha256", data, &r);
    /* The server is still fine. */
    must_call_fn(&s, "fib", "{\"n\":10}", &r);
}
END_TEST

START_TEST(test_invalid_args)
{
    server s;
    must_start(&s, "{\"debug_functions\": true}");
    must_invalid_arg(&s, "fib", "{\"n\":94}", "n");
    must_invalid_arg(&s, "fib", "{\"n\":-1}", "n");
    must_invalid_arg(&s, "fib", "{\"n\":\"10\"}", "n");
    must_invalid_arg(&s, "fib", "{\"n\":10.5}", "n");
    must_invalid_arg(&s, "fib", "{\"n\":null}", "n");
    must_invalid_arg(&s, "fib", "{\"n\":true}", "n");
    must_invalid_arg(&s, "fib", "{\"n\":[10]}", "n");
    must_invalid_arg(&s, "fib", "{\"n\":10,\"x\":1}", "x");
    must_invalid_arg(&s, "fib", "{\"N\":10}", "N");
    must_invalid_arg(&s, "count", "{\"iterations\":100000000001}", "iterations");
    must_invalid_arg(&s, "count", "{\"iterations\":-1}", "iterations");
    must_invalid_arg(&s, "count", "{\"start\":\"0\"}", "start");
    must_invalid_arg(&s, "primes", "{\"limit\":10000000001}", "limit");
    must_invalid_arg(&s, "primes", "{\"limit\":-5}", "limit");
    must_invalid_arg(&s, "sort", "{\"values\":\"x\"}", "values");
    must_invalid_arg(&s, "sort", "{\"values\":[1,\"a\"]}", "values");
    must_invalid_arg(&s, "sort", "{\"values\":[1,[2]]}", "values");
    must_invalid_arg(&s, "sort", "{}", "values");
    must_invalid_arg(&s, "sha256", "{}", "data");
    must_invalid_arg(&s, "sha256", "{\"data\":5}", "data");
    must_invalid_arg(&s, "sha256", "{\"data\":\"abc\",\"encoding\":\"hex\"}", "encoding");
    must_invalid_arg(&s, "sha256", "{\"data\":\"!!!\",\"encoding\":\"base64\"}", "data");
    must_invalid_arg(&s, "sha256", "{\"data\":\"abc\",\"rounds\":0}", "rounds");
    must_invalid_arg(&s, "matmul", "{\"n\":0}", "n");
    must_invalid_arg(&s, "matmul", "{\"n\":1025}", "n");
    must_invalid_arg(&s, "sleep", "{\"ms\":600001}", "ms");
    must_invalid_arg(&s, "sleep", "{\"ms\":-1}", "ms");
    must_invalid_arg(&s, "crash", "{\"signal\":\"kill\"}", "signal");
    /* A body that is JSON but not an object. */
    must_invalid_arg(&s, "fib", "[1,2]", NULL);
    /* A JSON scalar body: 400, as bad_json or invalid_args (a parser may
     * reject a top-level scalar outright). */
    const char *scalars[] = {"10", "\"n\"", "null", "true"};
    resp r;
    for (size_t k = 0; k < sizeof(scalars) / sizeof(scalars[0]); k++) {
        post_fn(&s, "fib", scalars[k], &r);
        const char *code =
            r.status == 400 ? must_str(must_get(must_json(&r), "error"), "code") : "";
        ck_assert_msg(strcmp(code, "invalid_args") == 0 || strcmp(code, "bad_json") == 0,
                      "body %s: expected 400 invalid_args or bad_json, got:\n%s", scalars[k],
                      resp_describe(&r));
    }
    /* Nothing crashed: both workers are the first incarnation. */
    must_call_fn(&s, "fib", "{\"n\":10}", &r);
    json_t *list = must_workers(&s);
    size_t i;
    json_t *w;
    json_array_foreach(list, i, w) ck_assert_int_eq(must_int(w, "restarts"), 0);
}
END_TEST

START_TEST(test_timeout_ms_param)
{
    server s;
    must_start(&s, "{\"jobs\": {\"default_timeout_ms\": 30000, \"max_timeout_ms\": 60000}}");
    const char *bad[] = {"0", "-5", "abc", "", "60001", "1.5", "99999999999999999999", "10ms"};
    resp r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/fn/fib?timeout_ms=%s", bad[i]);
        http_call(&s, "POST", path, "{\"n\":10}", &r);
        ck_assert_msg(r.status == 400, "timeout_ms=%s: expected 400, got:\n%s", bad[i],
                      resp_describe(&r));
        must_error(&r, 400, "invalid_args", "timeout_ms");
    }
    http_call(&s, "POST", "/v1/fn/fib?timeout_ms=60000", "{\"n\":10}", &r);
    must_status(&r, 200);
    ck_assert_int_eq(must_int(must_json(&r), "result"), 55);
    http_call(&s, "POST", "/v1/fn/sleep?timeout_ms=5000", "{\"ms\":10}", &r);
    must_status(&r, 200);
    /* Other query parameters are ignored. */
    http_call(&s, "POST", "/v1/fn/fib?x=1&timeout_ms=1000&y", "{\"n\":10}", &r);
    must_status(&r, 200);
}
END_TEST

START_TEST(test_error_envelope_is_json)
{
    /* Every error so far was checked by must_error(); this one checks that
     * an error message with hostile input still is valid JSON. */
    server s;
    must_start(&s, NULL);
    resp r;
    http_call(&s, "POST", "/v1/fn/%22%5C%0A%7B", "{}", &r);
    must_status(&r, 404);
    must_json(&r);
    post_fn(&s, "fib", "{\"\\\"\\n<>\":1}", &r);
    must_error(&r, 400, "invalid_args", "\"\n<>");
}
END_TEST

static Suite *routes_suite(void)
{
    Suite *s = suite_create("integration_routes");
    TCase *tc = harness_tcase("routes");
    tcase_add_test(tc, test_healthz);
    tcase_add_test(tc, test_readyz);
    tcase_add_test(tc, test_functions);
    tcase_add_test(tc, test_functions_debug);
    tcase_add_test(tc, test_workers);
    suite_add_tcase(s, tc);

    tc = harness_tcase("functions");
    tcase_add_test(tc, test_fn_count);
    tcase_add_test(tc, test_fn_fib);
    tcase_add_test(tc, test_fn_primes);
    tcase_add_test(tc, test_fn_sha256);
    tcase_add_test(tc, test_fn_matmul);
    tcase_add_test(tc, test_fn_sort);
    tcase_add_test(tc, test_fn_sort_large);
    tcase_add_test(tc, test_fn_sleep);
    tcase_add_test(tc, test_fn_file_sha256);
    tcase_add_test(tc, test_fn_file_sha256_errors);
    suite_add_tcase(s, tc);

    tc = harness_tcase("errors");
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_unknown_function);
    tcase_add_test(tc, test_method_not_allowed);
    tcase_add_test(tc, test_unsupported_media_type);
    tcase_add_test(tc, test_bad_json);
    tcase_add_test(tc, test_bad_json_utf8);
    tcase_add_test(tc, test_bad_json_nul);
    tcase_add_test(tc, test_bad_json_duplicate_keys);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_invalid_args);
    tcase_add_test(tc, test_timeout_ms_param);
    tcase_add_test(tc, test_error_envelope_is_json);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(routes_suite());
}
