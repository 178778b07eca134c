/*
 * check_fn.c - unit tests of one function's contract (common/fn/fn.c: lookup
 * in the built-in registry, listing, validation, the run context) and the
 * built-in functions: results for known inputs, argument validation,
 * cancellation and deadlines, and file_sha256's confinement to data_dir.
 */
#include "fn.h"
#include "builtin.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- helpers ---- */

static const fn_desc *must_find(const char *name, bool debug)
{
    const fn_desc *fn = fn_find(name, strlen(name), debug);
    ck_assert_msg(fn != NULL, "function %s not found", name);
    return fn;
}

/* Returns a new reference: args_text parsed, or NULL for NULL. */
static json_t *must_parse(const char *args_text)
{
    if (args_text == NULL)
        return NULL;
    json_error_t jerr;
    json_t *v = json_loads(args_text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(v != NULL, "bad test JSON %s: %s", args_text, jerr.text);
    return v;
}

/* Returns a new reference: the validated args; fails the test on rejection. */
static json_t *must_validate(const fn_desc *fn, const char *args_text)
{
    json_t *args = must_parse(args_text);
    json_t *out = NULL;
    char bad[64], err[256];
    int rc = fn_validate(fn, args, &out, bad, sizeof(bad), err, sizeof(err));
    ck_assert_msg(rc == 0, "%s %s rejected: [%s] %s", fn->name, args_text, bad, err);
    ck_assert_ptr_nonnull(out);
    json_decref(args);
    return out;
}

/* Validates and runs; on FN_OK *result is a new reference. */
static fn_status run_with(const char *name, const char *args_text, fn_ctx *ctx, json_t **result)
{
    const fn_desc *fn = must_find(name, true);
    json_t *args = must_validate(fn, args_text);
    *result = NULL;
    fn_status st = fn_run(fn, args, ctx, result);
    json_decref(args);
    ck_assert_msg((st == FN_OK) == (*result != NULL), "%s: result and status disagree", name);
    return st;
}

/* Returns a new reference: the result of a run that must succeed. */
static json_t *must_run(const char *name, const char *args_text)
{
    fn_ctx ctx;
    json_t *result;
    fn_ctx_init(&ctx, 0, NULL);
    fn_status st = run_with(name, args_text, &ctx, &result);
    ck_assert_msg(st == FN_OK, "%s %s: status %d (%s)", name, args_text, st, ctx.message);
    return result;
}

static void must_reject_json(const char *name, json_t *args, const char *arg, const char *msg)
{
    json_t *out = (json_t *)1;
    char bad[64] = "unset", err[256] = "unset";
    int rc = fn_validate(must_find(name, true), args, &out, bad, sizeof(bad), err, sizeof(err));
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(bad, arg);
    ck_assert_msg(strstr(err, msg) != NULL, "%s: error \"%s\" lacks \"%s\"", name, err, msg);
}

/* args_text must be rejected naming arg, with msg somewhere in the error. */
static void must_reject(const char *name, const char *args_text, const char *arg, const char *msg)
{
    json_t *args = must_parse(args_text);
    must_reject_json(name, args, arg, msg);
    json_decref(args);
}

static int64_t int_of(json_t *result, const char *key)
{
    json_t *v = key ? json_object_get(result, key) : result;
    ck_assert_msg(json_is_integer(v), "%s is not an integer", key ? key : "result");
    return json_integer_value(v);
}

static int64_t must_run_int(const char *name, const char *args_text, const char *key)
{
    json_t *r = must_run(name, args_text);
    int64_t v = int_of(r, key);
    json_decref(r);
    return v;
}

static void must_run_str(const char *name, const char *args_text, const char *want)
{
    json_t *r = must_run(name, args_text);
    ck_assert_msg(json_is_string(r), "%s: result is not a string", name);
    ck_assert_str_eq(json_string_value(r), want);
    json_decref(r);
}

/* Validates args_text for name and runs it with ctx; returns the status and
 * drops any result. */
static fn_status status_of(const char *name, const char *args_text, fn_ctx *ctx)
{
    json_t *result;
    fn_status st = run_with(name, args_text, ctx, &result);
    json_decref(result);
    return st;
}

/* ---- registry ---- */

/* The registry keeps copies: the same function, found by name. */
static void must_be(const fn_desc *found, const fn_desc *builtin)
{
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(found->name, builtin->name);
    ck_assert_ptr_eq(found->run, builtin->run);
    ck_assert_ptr_eq(found->args, builtin->args);
}

START_TEST(test_find)
{
    must_be(fn_find("count", 5, false), &fn_builtin_count);
    must_be(fn_find("countdown", 5, false), &fn_builtin_count); /* not NUL-terminated */
    ck_assert_ptr_null(fn_find("coun", 4, false));
    ck_assert_ptr_null(fn_find("nope", 4, true));
    ck_assert_ptr_null(fn_find("", 0, true));
    ck_assert_ptr_null(fn_find("crash", 5, false));
    ck_assert_ptr_null(fn_find("spin", 4, false));
    must_be(fn_find("crash", 5, true), &fn_builtin_crash);
    must_be(fn_find("spin", 4, true), &fn_builtin_spin);
    must_be(fn_find("sleep", 5, false), &fn_builtin_sleep);
}
END_TEST

static bool list_has(json_t *list, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(list, "functions"), i, f)
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
            return true;
    return false;
}

START_TEST(test_list_hides_debug)
{
    json_t *plain = fn_list_json(false), *debug = fn_list_json(true);
    ck_assert_int_eq(json_array_size(json_object_get(plain, "functions")), 8);
    ck_assert_int_eq(json_array_size(json_object_get(debug, "functions")), 10);
    ck_assert(!list_has(plain, "crash") && !list_has(plain, "spin"));
    ck_assert(list_has(debug, "crash") && list_has(debug, "spin"));
    ck_assert(list_has(plain, "file_sha256") && list_has(plain, "matmul"));
    json_decref(plain);
    json_decref(debug);
}
END_TEST

START_TEST(test_list_sorted_and_described)
{
    json_t *list = fn_list_json(true), *f;
    const char *prev = "";
    size_t i;
    json_array_foreach(json_object_get(list, "functions"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *kind = json_string_value(json_object_get(f, "kind"));
        ck_assert_msg(strcmp(prev, name) < 0, "%s listed after %s", name, prev);
        ck_assert(strcmp(kind, "cpu") == 0 || strcmp(kind, "io") == 0);
        ck_assert(json_is_string(json_object_get(f, "doc")));
        ck_assert(json_is_array(json_object_get(f, "args")));
        ck_assert_str_eq(fn_find(name, strlen(name), true)->name, name);
        prev = name;
    }
    json_decref(list);
}
END_TEST

/* Returns a borrowed reference to function fn's argument arg in list. */
static json_t *listed_arg(json_t *list, const char *fn, const char *arg)
{
    size_t i, j;
    json_t *f, *a;
    json_array_foreach(json_object_get(list, "functions"), i, f) {
        if (strcmp(json_string_value(json_object_get(f, "name")), fn) != 0)
            continue;
        json_array_foreach(json_object_get(f, "args"), j, a)
            if (strcmp(json_string_value(json_object_get(a, "name")), arg) == 0)
                return a;
    }
    ck_abort_msg("%s.%s not listed", fn, arg);
    return NULL;
}

START_TEST(test_list_args)
{
    json_t *list = fn_list_json(false), *a;

    a = listed_arg(list, "count", "iterations");
    ck_assert_str_eq(json_string_value(json_object_get(a, "type")), "integer");
    ck_assert(json_is_false(json_object_get(a, "required")));
    ck_assert_int_eq(int_of(a, "min"), 0);
    ck_assert_int_eq(int_of(a, "max"), 100000000000);
    ck_assert_int_eq(int_of(a, "default"), 10000000);

    a = listed_arg(list, "sha256", "encoding");
    ck_assert_str_eq(json_string_value(json_object_get(a, "type")), "enum");
    ck_assert_str_eq(json_string_value(json_object_get(a, "default")), "utf8");
    ck_assert_int_eq(json_array_size(json_object_get(a, "choices")), 2);

    a = listed_arg(list, "sha256", "data");
    ck_assert_str_eq(json_string_value(json_object_get(a, "type")), "string");
    ck_assert(json_is_true(json_object_get(a, "required")));
    ck_assert_int_eq(int_of(a, "max_length"), 16 * 1024 * 1024);
    ck_assert_ptr_null(json_object_get(a, "default"));

    a = listed_arg(list, "sort", "values");
    ck_assert_str_eq(json_string_value(json_object_get(a, "type")), "array<number>");
    ck_assert_int_eq(int_of(a, "max_length"), 1000000);
    json_decref(list);
}
END_TEST

START_TEST(test_cost)
{
    json_t *small = must_validate(&fn_builtin_count, "{\"iterations\": 10000}");
    json_t *dflt = must_validate(&fn_builtin_count, "{}");
    ck_assert_int_lt(fn_builtin_count.cost_ns(small), FN_INLINE_NS);
    ck_assert_int_gt(fn_builtin_count.cost_ns(dflt), FN_INLINE_NS);
    json_decref(small);
    json_decref(dflt);

    json_t *fib = must_validate(&fn_builtin_fib, "{\"n\": 93}");
    ck_assert_int_lt(fn_builtin_fib.cost_ns(fib), FN_INLINE_NS);
    json_decref(fib);

    json_t *primes = must_validate(&fn_builtin_primes, "{\"limit\": 10000000000}");
    ck_assert_int_gt(fn_builtin_primes.cost_ns(primes), FN_INLINE_NS);
    json_decref(primes);

    /* io functions never run inline */
    ck_assert_ptr_null(fn_builtin_sleep.cost_ns);
    ck_assert_ptr_null(fn_builtin_file_sha256.cost_ns);
    ck_assert(fn_builtin_sleep.kind == FN_IO && fn_builtin_file_sha256.kind == FN_IO);
}
END_TEST

/* ---- validation ---- */

START_TEST(test_defaults_filled)
{
    json_t *out = must_validate(&fn_builtin_count, NULL);
    ck_assert_int_eq(json_object_size(out), 2);
    ck_assert_int_eq(int_of(out, "start"), 0);
    ck_assert_int_eq(int_of(out, "iterations"), 10000000);
    json_decref(out);

    out = must_validate(&fn_builtin_count, "{\"start\": -3}");
    ck_assert_int_eq(int_of(out, "start"), -3);
    ck_assert_int_eq(int_of(out, "iterations"), 10000000);
    json_decref(out);

    out = must_validate(&fn_builtin_sha256, "{\"data\": \"x\"}");
    ck_assert_str_eq(json_string_value(json_object_get(out, "encoding")), "utf8");
    ck_assert_int_eq(int_of(out, "rounds"), 1);
    json_decref(out);

    out = must_validate(must_find("crash", true), "{}");
    ck_assert_str_eq(json_string_value(json_object_get(out, "signal")), "abort");
    json_decref(out);

    const struct { const char *fn, *arg; int64_t def; } ints[] = {
        {"fib", "n", 10},      {"primes", "limit", 1000000}, {"matmul", "n", 128},
        {"matmul", "seed", 1}, {"sleep", "ms", 1000},        {"spin", "ms", 1000},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        out = must_validate(must_find(ints[i].fn, true), "{}");
        ck_assert_int_eq(int_of(out, ints[i].arg), ints[i].def);
        json_decref(out);
    }
}
END_TEST

START_TEST(test_validate_not_object)
{
    must_reject("count", "[]", "", "arguments must be a JSON object");
    must_reject("count", "5", "", "arguments must be a JSON object");
    must_reject("count", "\"x\"", "", "arguments must be a JSON object");
    must_reject("count", "null", "", "arguments must be a JSON object");
}
END_TEST

START_TEST(test_validate_unknown_and_required)
{
    must_reject("count", "{\"iterations\": 1, \"bogus\": 2}", "bogus", "bogus: unknown argument");
    must_reject("fib", "{\"N\": 2}", "N", "N: unknown argument");
    must_reject("sort", "{}", "values", "values: required");
    must_reject("sha256", NULL, "data", "data: required");
    must_reject("file_sha256", "{}", "path", "path: required");
}
END_TEST

START_TEST(test_validate_int)
{
    must_reject("fib", "{\"n\": \"5\"}", "n", "n: expected integer");
    must_reject("fib", "{\"n\": true}", "n", "n: expected integer");
    must_reject("fib", "{\"n\": false}", "n", "n: expected integer");
    must_reject("fib", "{\"n\": 5.0}", "n", "n: expected integer");
    must_reject("fib", "{\"n\": null}", "n", "n: expected integer");
    must_reject("fib", "{\"n\": [5]}", "n", "n: expected integer");
    must_reject("fib", "{\"n\": 94}", "n", "n: must be from 0 to 93");
    must_reject("fib", "{\"n\": -1}", "n", "n: must be from 0 to 93");
    must_reject("count", "{\"iterations\": 100000000001}", "iterations",
                "iterations: must be from 0 to 100000000000");
    must_reject("count", "{\"start\": 4611686018427387905}", "start", "start: must be from");
    must_reject("matmul", "{\"n\": 0}", "n", "n: must be from 1 to 1024");
    must_reject("matmul", "{\"n\": 1025}", "n", "n: must be from 1 to 1024");
    must_reject("matmul", "{\"seed\": -1}", "seed", "seed: must be from 0");
    must_reject("sha256", "{\"data\": \"\", \"rounds\": 0}", "rounds", "rounds: must be from 1");
    must_reject("sleep", "{\"ms\": 600001}", "ms", "ms: must be from 0 to 600000");
    must_reject("primes", "{\"limit\": 10000000001}", "limit", "limit: must be from 0");

    /* the bounds themselves are accepted */
    json_t *out = must_validate(&fn_builtin_count, "{\"start\": -4611686018427387904, \"iterations\": 0}");
    json_decref(out);
    out = must_validate(&fn_builtin_primes, "{\"limit\": 10000000000}");
    json_decref(out);
}
END_TEST

START_TEST(test_validate_string)
{
    must_reject("sha256", "{\"data\": 5}", "data", "data: expected string");
    must_reject("sha256", "{\"data\": null}", "data", "data: expected string");
    must_reject("sha256", "{\"data\": \"a\\u0000b\"}", "data", "data: contains a NUL byte");
    must_reject("file_sha256", "{\"path\": \"x\\u0000\"}", "path", "path: contains a NUL byte");

    /* too long: 4097 bytes for path (the limit is 4096) */
    char *p = malloc(4098);
    memset(p, 'a', 4097);
    p[4097] = '\0';
    json_t *args = json_pack("{s:s}", "path", p);
    must_reject_json("file_sha256", args, "path", "path: longer than 4096");
    json_decref(args);
    p[4096] = '\0';
    args = json_pack("{s:s}", "path", p);
    json_t *out = NULL;
    char bad[64], err[256];
    ck_assert_int_eq(fn_validate(&fn_builtin_file_sha256, args, &out, bad, sizeof(bad), err, sizeof(err)),
                     0);
    json_decref(out);
    json_decref(args);
    free(p);

    /* 16 MiB + 1 for sha256's data */
    size_t big = 16 * 1024 * 1024 + 1;
    char *d = malloc(big);
    memset(d, 'x', big);
    args = json_pack("{s:s%}", "data", d, big);
    must_reject_json("sha256", args, "data", "data: longer than 16777216");
    json_decref(args);
    free(d);
}
END_TEST

START_TEST(test_validate_enum)
{
    must_reject("sha256", "{\"data\": \"\", \"encoding\": \"hex\"}", "encoding",
                "encoding: expected one of \"utf8\", \"base64\"");
    must_reject("sha256", "{\"data\": \"\", \"encoding\": 1}", "encoding",
                "encoding: expected one of");
    must_reject("sha256", "{\"data\": \"\", \"encoding\": \"utf8\\u0000x\"}", "encoding",
                "encoding: expected one of");
    must_reject("crash", "{\"signal\": \"kill\"}", "signal", "signal: expected one of");
}
END_TEST

START_TEST(test_validate_array)
{
    must_reject("sort", "{\"values\": 5}", "values", "values: expected array of numbers");
    must_reject("sort", "{\"values\": {}}", "values", "values: expected array of numbers");
    must_reject("sort", "{\"values\": [1, \"2\"]}", "values", "values: expected array of numbers");
    must_reject("sort", "{\"values\": [1, true]}", "values", "values: expected array of numbers");
    must_reject("sort", "{\"values\": [null]}", "values", "values: expected array of numbers");
    must_reject("sort", "{\"values\": [[1]]}", "values", "values: expected array of numbers");

    json_t *values = json_array();
    for (int i = 0; i < 1000001; i++)
        json_array_append_new(values, json_integer(i));
    json_t *args = json_pack("{s:o}", "values", values);
    must_reject_json("sort", args, "values", "values: longer than 1000000");
    json_decref(args);
}
END_TEST

START_TEST(test_validate_base64)
{
    must_reject("sha256", "{\"data\": \"YW=J\", \"encoding\": \"base64\"}", "data",
                "data: invalid base64");
    must_reject("sha256", "{\"data\": \"Y\", \"encoding\": \"base64\"}", "data",
                "data: invalid base64");
    must_reject("sha256", "{\"data\": \"YWJj====\", \"encoding\": \"base64\"}", "data",
                "data: invalid base64");
    must_reject("sha256", "{\"data\": \"YW Jj\", \"encoding\": \"base64\"}", "data",
                "data: invalid base64");
    must_reject("sha256", "{\"data\": \"YQ=\", \"encoding\": \"base64\"}", "data",
                "data: invalid base64");
    /* the same text is fine as utf8 */
    json_t *out = must_validate(&fn_builtin_sha256, "{\"data\": \"YW=J\"}");
    json_decref(out);
}
END_TEST

START_TEST(test_validate_path)
{
    must_reject("file_sha256", "{\"path\": \"\"}", "path", "path: must not be empty");
    must_reject("file_sha256", "{\"path\": \"/etc/passwd\"}", "path", "path: must be relative");
    must_reject("file_sha256", "{\"path\": \"..\"}", "path", "path: must not contain a ..");
    must_reject("file_sha256", "{\"path\": \"../x\"}", "path", "path: must not contain a ..");
    must_reject("file_sha256", "{\"path\": \"a/../../x\"}", "path", "path: must not contain");
    must_reject("file_sha256", "{\"path\": \"a/..\"}", "path", "path: must not contain");
    /* names that merely contain dots are fine */
    const char *ok[] = {"..a", "a..", "a/...", "./a", "a//b", ".hidden"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_t *args = json_pack("{s:s}", "path", ok[i]), *out = NULL;
        char bad[64], err[256];
        ck_assert_msg(fn_validate(&fn_builtin_file_sha256, args, &out, bad, sizeof(bad), err,
                                  sizeof(err)) == 0,
                      "%s: %s", ok[i], err);
        json_decref(out);
        json_decref(args);
    }
}
END_TEST

/* ---- results ---- */

START_TEST(test_count)
{
    ck_assert_int_eq(must_run_int("count", "{\"start\": 5, \"iterations\": 1000}", NULL), 1005);
    ck_assert_int_eq(must_run_int("count", "{\"iterations\": 0}", NULL), 0);
    ck_assert_int_eq(must_run_int("count", "{\"start\": -10, \"iterations\": 3}", NULL), -7);
    ck_assert_int_eq(must_run_int("count", "{\"start\": -5000000, \"iterations\": 3000000}", NULL),
                     -2000000);
    ck_assert_int_eq(must_run_int("count", "{\"start\": 4611686018427387904, \"iterations\": 7}",
                                  NULL),
                     4611686018427387911);
    /* several polling chunks of 2^20 */
    ck_assert_int_eq(must_run_int("count", "{\"iterations\": 3145729}", NULL), 3145729);
}
END_TEST

START_TEST(test_fib)
{
    ck_assert_int_eq(must_run_int("fib", "{\"n\": 0}", NULL), 0);
    ck_assert_int_eq(must_run_int("fib", "{\"n\": 1}", NULL), 1);
    ck_assert_int_eq(must_run_int("fib", "{\"n\": 2}", NULL), 1);
    ck_assert_int_eq(must_run_int("fib", "{\"n\": 10}", NULL), 55);
    ck_assert_int_eq(must_run_int("fib", "{}", NULL), 55);
    ck_assert_int_eq(must_run_int("fib", "{\"n\": 92}", NULL), 7540113804746346429);
    must_run_str("fib", "{\"n\": 93}", "12200160415121876738");
}
END_TEST

START_TEST(test_primes_known)
{
    const struct { const char *args; int64_t count; } cases[] = {
        {"{\"limit\": 0}", 0},       {"{\"limit\": 1}", 0},         {"{\"limit\": 2}", 1},
        {"{\"limit\": 3}", 2},       {"{\"limit\": 4}", 2},         {"{\"limit\": 10}", 4},
        {"{\"limit\": 100}", 25},    {"{\"limit\": 1000000}", 78498}, {"{}", 78498},
        {"{\"limit\": 10000000}", 664579},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_int_eq(must_run_int("primes", cases[i].args, "count"), cases[i].count);
}
END_TEST

/* Around the segment boundaries (2^17 odd numbers a segment), against a
 * plain sieve. */
START_TEST(test_primes_boundaries)
{
    const uint32_t max = 800000;
    unsigned char *composite = calloc(max + 1, 1);
    uint32_t *pi = calloc(max + 1, sizeof(*pi));
    for (uint32_t i = 2; i <= max; i++) {
        if (!composite[i])
            for (uint64_t j = (uint64_t)i * i; j <= max; j += i)
                composite[j] = 1;
        pi[i] = pi[i - 1] + !composite[i];
    }
    const uint32_t centres[] = {262144, 262146, 524288, 524290, 786432};
    for (size_t c = 0; c < sizeof(centres) / sizeof(centres[0]); c++) {
        for (uint32_t limit = centres[c] - 4; limit <= centres[c] + 4; limit++) {
            char args[64];
            snprintf(args, sizeof(args), "{\"limit\": %u}", limit);
            ck_assert_int_eq(must_run_int("primes", args, "count"), pi[limit]);
        }
    }
    free(composite);
    free(pi);
}
END_TEST

START_TEST(test_sha256)
{
    must_run_str("sha256", "{\"data\": \"abc\"}", SHA_ABC);
    must_run_str("sha256", "{\"data\": \"\"}", SHA_EMPTY);
    must_run_str("sha256", "{\"data\": \"YWJj\", \"encoding\": \"base64\"}", SHA_ABC);
    must_run_str("sha256", "{\"data\": \"\", \"encoding\": \"base64\"}", SHA_EMPTY);
    /* "ab", unpadded and padded */
    must_run_str("sha256", "{\"data\": \"YWI\", \"encoding\": \"base64\"}",
                 "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603");
    must_run_str("sha256", "{\"data\": \"YWI=\", \"encoding\": \"base64\"}",
                 "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603");
    /* binary bytes 00 ff 01 02, which utf8 could not carry */
    must_run_str("sha256", "{\"data\": \"AP8BAg==\", \"encoding\": \"base64\"}",
                 "2f87beacb6a71f75e3243ce005faf5d99405e02b5e729c7c9c216ef2e2a0544a");
    /* sha256(sha256("abc") as 32 raw bytes) */
    must_run_str("sha256", "{\"data\": \"abc\", \"rounds\": 2}",
                 "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358");
    /* past the 4096-round poll */
    must_run_str("sha256", "{\"data\": \"abc\", \"rounds\": 5000}",
                 "4d9863351151aa67a08a6b9c4eeb28ef7b1e802b969ed2d3127dd947121b3f4f");
}
END_TEST

/* The generator matmul documents, written out again. */
static uint64_t test_xorshift64s(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(0x2545F4914F6CDD1D);
}

START_TEST(test_matmul)
{
    /* n = 2, seed = 1 by hand: A then B, row-major, each value % 1000 */
    uint64_t s = 1, a[4], b[4];
    for (int i = 0; i < 4; i++)
        a[i] = test_xorshift64s(&s) % 1000;
    for (int i = 0; i < 4; i++)
        b[i] = test_xorshift64s(&s) % 1000;
    uint64_t c00 = a[0] * b[0] + a[1] * b[2], c01 = a[0] * b[1] + a[1] * b[3];
    uint64_t c10 = a[2] * b[0] + a[3] * b[2], c11 = a[2] * b[1] + a[3] * b[3];
    int64_t want = (int64_t)(c00 + c01 + c10 + c11);
    ck_assert_int_eq(want, 1384952); /* A = 165 517 103 413, B = 928 721 353 661 */

    json_t *r = must_run("matmul", "{\"n\": 2, \"seed\": 1}");
    ck_assert_int_eq(int_of(r, "n"), 2);
    ck_assert_int_eq(int_of(r, "checksum"), want);
    json_decref(r);

    ck_assert_int_eq(must_run_int("matmul", "{\"n\": 3, \"seed\": 42}", "checksum"), 10683366);
    ck_assert_int_eq(must_run_int("matmul", "{\"n\": 16, \"seed\": 7}", "checksum"), 1045693988);
    /* seed 0 is not the generator's all-zero fixed point */
    ck_assert_int_eq(must_run_int("matmul", "{\"n\": 1, \"seed\": 0}", "checksum"), 199670);
    ck_assert_int_gt(must_run_int("matmul", "{\"n\": 64}", "checksum"), 0);
}
END_TEST

/* The result of sort on args_text must equal want_text, types included. */
static void must_sort(const char *args_text, const char *want_text)
{
    json_t *r = must_run("sort", args_text), *want = must_parse(want_text);
    ck_assert_msg(json_equal(r, want), "sort %s gave %s", args_text,
                  json_dumps(r, JSON_COMPACT)); /* leaks only on failure */
    size_t i;
    json_t *v;
    json_array_foreach(want, i, v)
        ck_assert_msg(json_typeof(v) == json_typeof(json_array_get(r, i)),
                      "sort %s: item %zu changed type", args_text, i);
    json_decref(r);
    json_decref(want);
}

START_TEST(test_sort)
{
    must_sort("{\"values\": []}", "[]");
    must_sort("{\"values\": [3, 1, 2]}", "[1, 2, 3]");
    must_sort("{\"values\": [5, -9223372036854775808, 9223372036854775807, 0]}",
              "[-9223372036854775808, 0, 5, 9223372036854775807]");
    must_sort("{\"values\": [2.5, -1, 1e3, 0.5, 2]}", "[-1, 0.5, 2, 2.5, 1000.0]");
    must_sort("{\"values\": [-0.5, -1.5, -1]}", "[-1.5, -1, -0.5]");
    /* stable: equal values keep their order */
    must_sort("{\"values\": [1.0, 1, 0]}", "[0, 1.0, 1]");
    must_sort("{\"values\": [1, 1.0, 0]}", "[0, 1, 1.0]");
    /* exact across types: 2^53 + 1 is above the real 2^53 */
    must_sort("{\"values\": [9007199254740993, 9007199254740992.0]}",
              "[9007199254740992.0, 9007199254740993]");
    must_sort("{\"values\": [9223372036854775807, 1e19, -1e19]}",
              "[-1e19, 9223372036854775807, 1e19]");

    /* larger: descending integers come back ascending */
    json_t *values = json_array();
    for (int i = 0; i < 100000; i++)
        json_array_append_new(values, json_integer(100000 - i));
    json_t *args = json_pack("{s:o}", "values", values), *r = NULL;
    fn_ctx ctx;
    fn_ctx_init(&ctx, 0, NULL);
    ck_assert_int_eq(fn_run(&fn_builtin_sort, args, &ctx, &r), FN_OK);
    ck_assert_int_eq(json_array_size(r), 100000);
    for (int i = 0; i < 100000; i++)
        ck_assert_int_eq(json_integer_value(json_array_get(r, (size_t)i)), i + 1);
    json_decref(r);
    json_decref(args);
}
END_TEST

/* The reference: positions ordered by value, then position (the values of
 * test_sort_matches_reference are exact as doubles). */
static const double *ref_values;

static int ref_cmp(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    double x = ref_values[a], y = ref_values[b];
    return x != y ? (x > y) - (x < y) : (a > b) - (a < b);
}

/* Random, sorted, reversed, constant and organ-pipe arrays of up to 5000
 * numbers, many equal (2 and 2.0 among them): the result is the stable
 * order, element for element (same json_t, so the same type). */
START_TEST(test_sort_matches_reference)
{
    unsigned seed = 7;
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(rand_r(&seed) % 5000), span = 1 + (size_t)(rand_r(&seed) % 64);
        int shape = round % 5;
        double *v = malloc((n ? n : 1) * sizeof(*v));
        size_t *order = malloc((n ? n : 1) * sizeof(*order));
        json_t *values = json_array();
        for (size_t i = 0; i < n; i++) {
            size_t k = shape == 0   ? (size_t)rand_r(&seed) % span
                       : shape == 1 ? i
                       : shape == 2 ? n - i
                       : shape == 3 ? 3
                                    : (i < n / 2 ? i : n - i);
            bool half = shape == 0 && rand_r(&seed) % 4 == 0, real = rand_r(&seed) % 3 == 0;
            v[i] = (double)k + (half ? 0.5 : 0);
            order[i] = i;
            json_array_append_new(values, half || real ? json_real(v[i])
                                                       : json_integer((json_int_t)k));
        }
        ref_values = v;
        qsort(order, n, sizeof(*order), ref_cmp);
        json_t *args = json_pack("{s:O}", "values", values), *r = NULL;
        fn_ctx ctx;
        fn_ctx_init(&ctx, 0, NULL);
        ck_assert_int_eq(fn_run(&fn_builtin_sort, args, &ctx, &r), FN_OK);
        ck_assert_int_eq(json_array_size(r), n);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(json_array_get(r, i) == json_array_get(values, order[i]),
                          "round %d (shape %d, n %zu): item %zu is not input item %zu", round,
                          shape, n, i, order[i]);
        json_decref(r);
        json_decref(args);
        json_decref(values);
        free(order);
        free(v);
    }
}
END_TEST

/* ---- cancellation and deadlines ---- */

START_TEST(test_ctx)
{
    fn_ctx ctx;
    fn_ctx_init(&ctx, 0, "/tmp");
    ck_assert_int_eq(fn_ctx_check(&ctx), FN_OK);
    ck_assert_int_eq(atomic_load(&ctx.progress), 0);
    ck_assert_str_eq(ctx.data_dir, "/tmp");
    ck_assert_str_eq(ctx.message, "");
    ctx.deadline_ns = fn_now_ns() + 60 * INT64_C(1000000000);
    ck_assert_int_eq(fn_ctx_check(&ctx), FN_OK);
    ctx.deadline_ns = fn_now_ns() - 1;
    ck_assert_int_eq(fn_ctx_check(&ctx), FN_TIMEOUT);
    atomic_store(&ctx.cancel, 1);
    ck_assert_int_eq(fn_ctx_check(&ctx), FN_CANCELLED); /* cancel wins */

    int64_t t0 = fn_now_ns(), t1 = fn_now_ns();
    ck_assert_int_gt(t0, 0);
    ck_assert_int_ge(t1, t0);
}
END_TEST

/* name with args_text must stop quickly with want when cancelled beforehand
 * (cancel) or given a deadline in the past (!cancel). */
static void must_stop(const char *name, const char *args_text, bool cancel)
{
    fn_ctx ctx;
    fn_ctx_init(&ctx, cancel ? 0 : fn_now_ns() - 1, NULL);
    if (cancel)
        atomic_store(&ctx.cancel, 1);
    int64_t t0 = fn_now_ns();
    fn_status st = status_of(name, args_text, &ctx);
    int64_t ms = (fn_now_ns() - t0) / 1000000;
    ck_assert_msg(st == (cancel ? FN_CANCELLED : FN_TIMEOUT), "%s %s: status %d", name,
                  args_text, st);
    ck_assert_msg(ms < 1000, "%s took %lld ms to stop", name, (long long)ms);
}

START_TEST(test_cancel_before_run)
{
    must_stop("count", "{\"iterations\": 100000000000}", true);
    must_stop("primes", "{\"limit\": 10000000000}", true);
    must_stop("matmul", "{\"n\": 1024}", true);
    must_stop("sha256", "{\"data\": \"x\", \"rounds\": 1000000}", true);
    must_stop("sort", "{\"values\": [2, 1]}", true);
    must_stop("sleep", "{\"ms\": 600000}", true);
}
END_TEST

START_TEST(test_deadline_passed)
{
    must_stop("count", "{\"iterations\": 100000000000}", false);
    must_stop("primes", "{\"limit\": 10000000000}", false);
    must_stop("matmul", "{\"n\": 1024}", false);
    must_stop("sha256", "{\"data\": \"x\", \"rounds\": 1000000}", false);
    must_stop("sleep", "{\"ms\": 600000}", false);
}
END_TEST

static void *cancel_later(void *arg)
{
    fn_ctx *ctx = arg;
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
    atomic_store(&ctx->cancel, 1);
    return NULL;
}

/* name runs until another thread cancels it after 50 ms. */
static void must_stop_on_cancel(const char *name, const char *args_text)
{
    fn_ctx ctx;
    pthread_t t;
    fn_ctx_init(&ctx, 0, NULL);
    ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &ctx), 0);
    int64_t t0 = fn_now_ns();
    fn_status st = status_of(name, args_text, &ctx);
    int64_t ms = (fn_now_ns() - t0) / 1000000;
    pthread_join(t, NULL);
    ck_assert_msg(st == FN_CANCELLED, "%s: status %d", name, st);
    ck_assert_msg(ms >= 45 && ms < 2000, "%s stopped after %lld ms", name, (long long)ms);
}

START_TEST(test_cancel_from_thread)
{
    must_stop_on_cancel("sleep", "{\"ms\": 600000}");
    must_stop_on_cancel("count", "{\"iterations\": 100000000000}");
}
END_TEST

START_TEST(test_sleep)
{
    int64_t t0 = fn_now_ns();
    json_t *r = must_run("sleep", "{\"ms\": 30}");
    int64_t ms = (fn_now_ns() - t0) / 1000000;
    ck_assert_int_ge(int_of(r, "slept_ms"), 30);
    ck_assert_int_ge(ms, 30);
    json_decref(r);
    ck_assert_int_eq(must_run_int("sleep", "{\"ms\": 0}", "slept_ms"), 0);

    /* a deadline 40 ms out ends a long sleep with FN_TIMEOUT */
    fn_ctx ctx;
    fn_ctx_init(&ctx, fn_now_ns() + 40 * 1000000, NULL);
    t0 = fn_now_ns();
    ck_assert_int_eq(status_of("sleep", "{\"ms\": 600000}", &ctx), FN_TIMEOUT);
    ms = (fn_now_ns() - t0) / 1000000;
    ck_assert_msg(ms >= 39 && ms < 1000, "deadline sleep took %lld ms", (long long)ms);
}
END_TEST

START_TEST(test_spin_ignores_cancel)
{
    fn_ctx ctx;
    fn_ctx_init(&ctx, fn_now_ns() - 1, NULL);
    atomic_store(&ctx.cancel, 1);
    int64_t t0 = fn_now_ns();
    json_t *r;
    ck_assert_int_eq(run_with("spin", "{\"ms\": 30}", &ctx, &r), FN_OK);
    ck_assert_int_ge((fn_now_ns() - t0) / 1000000, 30);
    ck_assert_int_eq(int_of(r, "spun_ms"), 30);
    json_decref(r);
}
END_TEST

/* crash with signal_name must kill a child process with sig. */
static void must_crash(const char *signal_name, int sig)
{
    char args[64];
    snprintf(args, sizeof(args), "{\"signal\": \"%s\"}", signal_name);
    json_t *a = must_validate(&fn_builtin_crash, args);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fn_ctx ctx;
        json_t *r = NULL;
        fn_ctx_init(&ctx, 0, NULL);
        fn_run(&fn_builtin_crash, a, &ctx, &r);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == sig, "crash %s: status 0x%x",
                  signal_name, status);
    json_decref(a);
}

START_TEST(test_crash)
{
    must_crash("segv", SIGSEGV);
    must_crash("abort", SIGABRT);
}
END_TEST

/* ---- file_sha256 ---- */

static char data_dir[PATH_MAX];    /* the ctx's data_dir */
static char outside_dir[PATH_MAX]; /* a sibling holding a file that must stay unreadable */

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    ck_assert_int_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void must_symlink(const char *target, const char *name)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", data_dir, name);
    ck_assert_msg(symlink(target, path) == 0, "symlink %s: %s", path, strerror(errno));
}

static void files_setup(void)
{
    char root[] = "/tmp/check_fn.XXXXXX";
    char path[PATH_MAX * 2];
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(data_dir, sizeof(data_dir), "%s/data", root);
    snprintf(outside_dir, sizeof(outside_dir), "%s/outside", root);
    ck_assert_int_eq(mkdir(data_dir, 0700), 0);
    ck_assert_int_eq(mkdir(outside_dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/sub", data_dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);

    write_file(data_dir, "abc.txt", "abc", 3);
    write_file(data_dir, "empty", "", 0);
    write_file(outside_dir, "secret", "abc", 3);

    snprintf(path, sizeof(path), "%s/secret", outside_dir);
    must_symlink(path, "abs_out");        /* absolute, pointing outside */
    must_symlink("../outside/secret", "rel_out");
    must_symlink("../../data/abc.txt", "sub/roundabout"); /* leaves data_dir, comes back */
    must_symlink("abc.txt", "link_in");   /* relative, stays inside */
    must_symlink("/proc/self/root/etc/hostname", "magic");
    must_symlink("loop", "loop");
    snprintf(path, sizeof(path), "%s/fifo", data_dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    atomic_store(&fn_file_force_fallback, false);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void files_teardown(void)
{
    char *slash = strrchr(data_dir, '/');
    *slash = '\0'; /* the mkdtemp root */
    nftw(data_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    atomic_store(&fn_file_force_fallback, false);
}

/* Runs file_sha256 on path without validation (so run()'s own checks are
 * tested too); returns the status, *result new on FN_OK, message in msg. */
static fn_status hash_file(const char *path, json_t **result, char *msg, size_t msglen)
{
    json_t *args = json_pack("{s:s}", "path", path);
    fn_ctx ctx;
    fn_ctx_init(&ctx, 0, data_dir);
    *result = NULL;
    fn_status st = fn_run(&fn_builtin_file_sha256, args, &ctx, result);
    snprintf(msg, msglen, "%s", ctx.message);
    json_decref(args);
    return st;
}

static void must_hash_file(const char *path, int64_t bytes, const char *hex)
{
    json_t *r;
    char msg[256];
    fn_status st = hash_file(path, &r, msg, sizeof(msg));
    ck_assert_msg(st == FN_OK, "file_sha256 %s: status %d: %s", path, st, msg);
    ck_assert_str_eq(json_string_value(json_object_get(r, "path")), path);
    ck_assert_int_eq(int_of(r, "bytes"), bytes);
    ck_assert_str_eq(json_string_value(json_object_get(r, "sha256")), hex);
    json_decref(r);
}

static void must_refuse_file(const char *path, const char *msg_part)
{
    json_t *r;
    char msg[256];
    fn_status st = hash_file(path, &r, msg, sizeof(msg));
    ck_assert_msg(st == FN_FAILED, "file_sha256 %s: status %d, want FN_FAILED", path, st);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(msg, msg_part) != NULL, "file_sha256 %s: \"%s\" lacks \"%s\"", path, msg,
                  msg_part);
}

static void check_good_files(void)
{
    must_hash_file("abc.txt", 3, SHA_ABC);
    must_hash_file("./abc.txt", 3, SHA_ABC);
    must_hash_file("empty", 0, SHA_EMPTY);
    must_hash_file("link_in", 3, SHA_ABC);

    /* several 64 KiB reads, checked against a one-shot digest */
    size_t len = 200001;
    unsigned char *big = malloc(len), md[32];
    for (size_t i = 0; i < len; i++)
        big[i] = (unsigned char)(i * 7 + i / 256);
    write_file(data_dir, "sub/big.bin", big, len);
    unsigned int mdlen;
    ck_assert_int_eq(EVP_Digest(big, len, md, &mdlen, EVP_sha256(), NULL), 1);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    must_hash_file("sub/big.bin", (int64_t)len, hex);
    free(big);
}

static void check_refused_files(void)
{
    must_refuse_file("missing", "path: no such file in data_dir");
    must_refuse_file("sub/missing", "path: no such file in data_dir");
    must_refuse_file("abc.txt/x", "path: no such file in data_dir");
    must_refuse_file("sub", "path: not a regular file");
    must_refuse_file("fifo", "path: not a regular file"); /* and does not hang */
    must_refuse_file("abs_out", "path: ");
    must_refuse_file("rel_out", "path: ");
    must_refuse_file("magic", "path: ");
    must_refuse_file("loop", "path: ");
    must_refuse_file("../outside/secret", "path: must not contain a ..");
    must_refuse_file("sub/../abc.txt", "path: must not contain a ..");
    must_refuse_file("", "path: must not be empty");

    char abs[PATH_MAX * 2];
    snprintf(abs, sizeof(abs), "%s/abc.txt", data_dir);
    must_refuse_file(abs, "path: must be relative");
}

/* False before Linux 5.6 and under valgrind, which does not know openat2:
 * file_sha256 then takes its realpath() fallback. */
static bool have_openat2(void)
{
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC};
    long fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how));
    if (fd >= 0)
        close((int)fd);
    return !(fd < 0 && errno == ENOSYS);
}

START_TEST(test_file_sha256)
{
    check_good_files();
    check_refused_files();
    /* openat2 refuses a detour out of data_dir even when it leads back in;
     * the fallback only sees where it ends */
    if (have_openat2())
        must_refuse_file("sub/roundabout", "path: leads outside data_dir");
    else
        must_hash_file("sub/roundabout", 3, SHA_ABC);
    must_refuse_file("rel_out", "path: leads outside data_dir");
    must_refuse_file("abs_out", "path: leads outside data_dir");
}
END_TEST

START_TEST(test_file_sha256_fallback)
{
    atomic_store(&fn_file_force_fallback, true);
    check_good_files();
    check_refused_files();
    must_refuse_file("rel_out", "path: leads outside data_dir");
    must_refuse_file("abs_out", "path: leads outside data_dir");
}
END_TEST

START_TEST(test_file_sha256_validated)
{
    /* through validation too, as the server calls it */
    fn_ctx ctx;
    json_t *r;
    fn_ctx_init(&ctx, 0, data_dir);
    ck_assert_int_eq(run_with("file_sha256", "{\"path\": \"abc.txt\"}", &ctx, &r), FN_OK);
    ck_assert_str_eq(json_string_value(json_object_get(r, "sha256")), SHA_ABC);
    json_decref(r);

    fn_ctx_init(&ctx, 0, NULL);
    ck_assert_int_eq(status_of("file_sha256", "{\"path\": \"abc.txt\"}", &ctx), FN_FAILED);
    ck_assert_str_eq(ctx.message, "no data_dir is configured");

    fn_ctx_init(&ctx, 0, outside_dir);
    atomic_store(&ctx.cancel, 1);
    ck_assert_int_eq(status_of("file_sha256", "{\"path\": \"secret\"}", &ctx), FN_CANCELLED);
}
END_TEST

/* ---- runner ---- */

static Suite *fn_suite(void)
{
    Suite *s = suite_create("fn");
    TCase *tc;

    tc = tcase_create("registry");
    tcase_add_test(tc, test_find);
    tcase_add_test(tc, test_list_hides_debug);
    tcase_add_test(tc, test_list_sorted_and_described);
    tcase_add_test(tc, test_list_args);
    tcase_add_test(tc, test_cost);
    suite_add_tcase(s, tc);

    tc = tcase_create("validate");
    tcase_add_test(tc, test_defaults_filled);
    tcase_add_test(tc, test_validate_not_object);
    tcase_add_test(tc, test_validate_unknown_and_required);
    tcase_add_test(tc, test_validate_int);
    tcase_add_test(tc, test_validate_string);
    tcase_add_test(tc, test_validate_enum);
    tcase_add_test(tc, test_validate_array);
    tcase_add_test(tc, test_validate_base64);
    tcase_add_test(tc, test_validate_path);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("results");
    tcase_add_test(tc, test_count);
    tcase_add_test(tc, test_fib);
    tcase_add_test(tc, test_primes_known);
    tcase_add_test(tc, test_primes_boundaries);
    tcase_add_test(tc, test_sha256);
    tcase_add_test(tc, test_matmul);
    tcase_add_test(tc, test_sort);
    tcase_add_test(tc, test_sort_matches_reference);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("stop");
    tcase_add_test(tc, test_ctx);
    tcase_add_test(tc, test_cancel_before_run);
    tcase_add_test(tc, test_deadline_passed);
    tcase_add_test(tc, test_crash); /* first: its children then inherit no thread stacks */
    tcase_add_test(tc, test_cancel_from_thread);
    tcase_add_test(tc, test_sleep);
    tcase_add_test(tc, test_spin_ignores_cancel);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_checked_fixture(tc, files_setup, files_teardown);
    tcase_add_test(tc, test_file_sha256);
    tcase_add_test(tc, test_file_sha256_fallback);
    tcase_add_test(tc, test_file_sha256_validated);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fn_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
