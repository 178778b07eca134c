/*
 * check_fn_registry.c - unit tests of the function registry
 * (common/fn/fn_registry.c): order and indexes, name clashes naming both
 * origins, debug-only functions, the schema checks at registration, lookup
 * by name, the limit, ownership of what plugins hand over, and the
 * process's current registry.
 */
#include "fn.h"
#include "builtin.h"
#include "fn_catalog.h"
#include "fn_registry.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static fn_status ok_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    *result = json_string(self->name);
    return FN_OK;
}

static const fn_arg one_int[] = {
    {.name = "n", .type = FN_ARG_INT, .min = 0, .max = 10, .def_int = 3, .doc = "n"},
};

/* A valid descriptor called name (static storage: the registry borrows it). */
static fn_desc desc_named(const char *name)
{
    return (fn_desc){
        .name = name, .kind = FN_CPU, .args = one_int, .nargs = 1, .doc = "test", .run = ok_run};
}

static fn_registry *must_new(void)
{
    fn_registry *r = fn_registry_new();
    ck_assert_ptr_nonnull(r);
    return r;
}

static void must_add(fn_registry *r, const fn_desc *d, const char *origin)
{
    char err[256] = "";
    ck_assert_msg(fn_registry_add(r, d, origin, err, sizeof(err)) == 0, "%s refused: %s", d->name,
                  err);
}

/* Adding d must fail with a message containing want; nothing is added. */
static void must_refuse(fn_registry *r, const fn_desc *d, const char *origin, const char *want)
{
    char err[256] = "";
    int before = fn_registry_count(r);
    ck_assert_int_eq(fn_registry_add(r, d, origin, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" does not say \"%s\"", err, want);
    ck_assert_int_eq(fn_registry_count(r), before);
}

static fn_registry *must_builtins(void)
{
    char err[256];
    fn_registry *r = must_new();
    ck_assert_int_eq(fn_builtins_register(r, err, sizeof(err)), 0);
    return r;
}

/* ---- order, index, origin ---- */

START_TEST(test_builtins_order_and_index)
{
    static const char *const order[] = {"count",  "fib",         "primes", "matmul", "sort",
                                        "sha256", "file_sha256", "sleep",  "crash",  "spin"};
    fn_registry *r = must_builtins();
    ck_assert_int_eq(fn_registry_count(r), 10);
    for (int i = 0; i < 10; i++) {
        const fn_desc *d = fn_registry_at(r, i);
        ck_assert_str_eq(d->name, order[i]);
        ck_assert_int_eq(d->index, i);
        ck_assert_int_eq(d->series, -1);
        ck_assert_str_eq(fn_registry_origin(r, i), FN_ORIGIN_BUILTIN);
        ck_assert_ptr_eq(fn_registry_find(r, d->name, strlen(d->name), true), d);
    }
    ck_assert_ptr_null(fn_registry_at(r, 10));
    ck_assert_ptr_null(fn_registry_at(r, -1));
    ck_assert_ptr_null(fn_registry_origin(r, 10));
    fn_registry_free(r);
}
END_TEST

START_TEST(test_index_is_registration_order)
{
    static const char *const names[] = {"zeta", "alpha", "mid", "alpha2", "Beta", "a"};
    fn_desc d[6];
    fn_registry *r = must_new();
    for (int i = 0; i < 6; i++) {
        d[i] = desc_named(names[i]);
        d[i].index = 99; /* ignored on input */
        d[i].series = 42;
        must_add(r, &d[i], "/p.so");
    }
    for (int i = 0; i < 6; i++) {
        const fn_desc *f = fn_registry_at(r, i);
        ck_assert_str_eq(f->name, names[i]);
        ck_assert_int_eq(f->index, i);
        ck_assert_int_eq(f->series, -1);
        ck_assert_ptr_ne(f, &d[i]); /* a copy */
    }
    fn_registry_set_series(r, 2, 7);
    ck_assert_int_eq(fn_registry_at(r, 2)->series, 7);

    /* Listed by name (byte order), whatever the registration order. */
    json_t *list = fn_registry_list_json(r, false), *f;
    const char *prev = "";
    size_t i;
    ck_assert_int_eq(json_array_size(json_object_get(list, "functions")), 6);
    json_array_foreach(json_object_get(list, "functions"), i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        ck_assert_msg(strcmp(prev, name) < 0, "%s listed after %s", name, prev);
        prev = name;
    }
    json_decref(list);
    fn_registry_free(r);
}
END_TEST

/* ---- lookup ---- */

START_TEST(test_find_by_length)
{
    static const char *const names[] = {"ab", "abc", "a", "abd", "b"};
    fn_desc d[5];
    fn_registry *r = must_new();
    for (int i = 0; i < 5; i++) {
        d[i] = desc_named(names[i]);
        must_add(r, &d[i], "/p.so");
    }
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(fn_registry_find(r, names[i], strlen(names[i]), false)->name, names[i]);
    ck_assert_str_eq(fn_registry_find(r, "abcdef", 3, false)->name, "abc");
    ck_assert_str_eq(fn_registry_find(r, "abx", 2, false)->name, "ab");
    ck_assert_ptr_null(fn_registry_find(r, "abx", 3, false));
    ck_assert_ptr_null(fn_registry_find(r, "", 0, false));
    ck_assert_ptr_null(fn_registry_find(r, "c", 1, false));
    ck_assert_ptr_null(fn_registry_find(r, "aa", 2, false));
    fn_registry_free(r);
}
END_TEST

START_TEST(test_debug_only)
{
    fn_desc hidden = desc_named("hidden"), shown = desc_named("shown");
    hidden.debug_only = true;
    fn_registry *r = must_new();
    must_add(r, &hidden, "/p.so");
    must_add(r, &shown, "/p.so");
    ck_assert_int_eq(fn_registry_count(r), 2); /* counted either way: indexes do not move */
    ck_assert_int_eq(fn_registry_at(r, 0)->index, 0);
    ck_assert_ptr_null(fn_registry_find(r, "hidden", 6, false));
    ck_assert_ptr_nonnull(fn_registry_find(r, "hidden", 6, true));
    ck_assert_ptr_nonnull(fn_registry_find(r, "shown", 5, false));
    json_t *plain = fn_registry_list_json(r, false), *debug = fn_registry_list_json(r, true);
    ck_assert_int_eq(json_array_size(json_object_get(plain, "functions")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(debug, "functions")), 2);
    json_decref(plain);
    json_decref(debug);
    /* A name clash counts debug-only functions too. */
    must_refuse(r, &hidden, "/q.so", "clashes with \"hidden\" of /p.so");
    fn_registry_free(r);
}
END_TEST

/* ---- clashes ---- */

START_TEST(test_clash_with_builtin)
{
    char err[256];
    fn_registry *r = must_builtins();
    fn_desc fib = desc_named("fib");
    ck_assert_int_eq(fn_registry_add(r, &fib, "/srv/libx.so", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "function \"fib\" of /srv/libx.so clashes with the built-in \"fib\"");
    ck_assert_int_eq(fn_registry_count(r), 10);
    ck_assert_ptr_eq(fn_registry_find(r, "fib", 3, false)->run, fn_builtin_fib.run);
    fn_registry_free(r);
}
END_TEST

START_TEST(test_clash_between_plugins)
{
    char err[256];
    fn_registry *r = must_new();
    fn_desc a = desc_named("stats"), b = desc_named("stats");
    must_add(r, &a, "/srv/liba.so");
    ck_assert_int_eq(fn_registry_add(r, &b, "/srv/libb.so", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "function \"stats\" of /srv/libb.so clashes with \"stats\" of "
                          "/srv/liba.so");
    ck_assert_int_eq(fn_registry_count(r), 1);
    fn_registry_free(r);
}
END_TEST

/* ---- checks at registration ---- */

START_TEST(test_bad_names)
{
    char long_name[FN_NAME_MAX + 1];
    fn_registry *r = must_new();
    static const char *const bad[] = {"", "1abc", "_x", "a b", "a/b", "a\"b", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fn_desc d = desc_named(bad[i]);
        must_refuse(r, &d, "/p.so", "a function of /p.so has ");
    }
    fn_desc none = desc_named(NULL);
    must_refuse(r, &none, "/p.so", "has no name");
    memset(long_name, 'a', FN_NAME_MAX);
    long_name[FN_NAME_MAX] = '\0';
    fn_desc longer = desc_named(long_name);
    must_refuse(r, &longer, "/p.so", "longer than 63 bytes");
    long_name[FN_NAME_MAX - 1] = '\0';
    fn_desc longest = desc_named(long_name);
    must_add(r, &longest, "/p.so");
    fn_desc ok = desc_named("Ab-c_d.9");
    must_add(r, &ok, "/p.so");
    fn_registry_free(r);
}
END_TEST

static const char *const no_choices[] = {NULL};
static const char *const ab[] = {"a", "b", NULL};

START_TEST(test_bad_schemas)
{
    static const struct {
        fn_arg arg;
        const char *want;
    } cases[] = {
        {{.name = "n", .type = FN_ARG_INT, .min = 5, .max = 3, .required = true},
         "argument \"n\": min 5 is above max 3"},
        {{.name = "n", .type = FN_ARG_INT, .min = 0, .max = 3, .def_int = 4},
         "argument \"n\": default 4 is outside 0 .. 3"},
        {{.name = "s", .type = FN_ARG_STRING, .max = -1, .required = true},
         "argument \"s\": a negative max length"},
        {{.name = "s", .type = FN_ARG_STRING, .max = 2, .def_str = "abc"},
         "argument \"s\": a default longer than its max length"},
        {{.name = "e", .type = FN_ARG_ENUM, .choices = no_choices, .required = true},
         "argument \"e\": an enum without choices"},
        {{.name = "e", .type = FN_ARG_ENUM, .required = true}, "an enum without choices"},
        {{.name = "e", .type = FN_ARG_ENUM, .choices = ab, .def_str = "c"},
         "argument \"e\": a default that is not one of its choices"},
        {{.name = "e", .type = FN_ARG_ENUM, .choices = ab}, "not one of its choices"},
        {{.name = "v", .type = FN_ARG_NUMBER_ARRAY, .max = -5}, "a negative max length"},
        {{.name = "x", .type = (fn_arg_type)9}, "argument \"x\": an unknown type"},
        {{.name = "", .type = FN_ARG_INT}, "argument 0 has no name"},
    };
    fn_registry *r = must_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fn_desc d = desc_named("f");
        d.args = &cases[i].arg;
        must_refuse(r, &d, "/p.so", cases[i].want);
        must_refuse(r, &d, "/p.so", "function \"f\" of /p.so: ");
    }
    fn_arg twice[] = {one_int[0], one_int[0]};
    fn_desc d = desc_named("f");
    d.args = twice;
    d.nargs = 2;
    must_refuse(r, &d, "/p.so", "argument \"n\" twice");
    d = desc_named("f");
    d.run = NULL;
    must_refuse(r, &d, "/p.so", "function \"f\" of /p.so: no run()");
    d = desc_named("f");
    d.kind = FN_NKINDS;
    must_refuse(r, &d, "/p.so", "unknown kind 2");
    d = desc_named("f");
    d.args = NULL;
    must_refuse(r, &d, "/p.so", "bad argument list");
    d.nargs = -1;
    must_refuse(r, &d, "/p.so", "bad argument list");
    d = desc_named("f");
    d.args = NULL;
    d.nargs = 0;
    must_add(r, &d, "/p.so"); /* no arguments at all is fine */
    fn_registry_free(r);
}
END_TEST

START_TEST(test_limit)
{
    static char names[FN_REGISTRY_MAX + 1][16];
    static fn_desc d[FN_REGISTRY_MAX + 1];
    fn_registry *r = must_new();
    for (int i = 0; i <= FN_REGISTRY_MAX; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d", (i * 7919) % (FN_REGISTRY_MAX + 1));
        d[i] = desc_named(names[i]);
    }
    for (int i = 0; i < FN_REGISTRY_MAX; i++)
        must_add(r, &d[i], "/p.so");
    must_refuse(r, &d[FN_REGISTRY_MAX], "/p.so", "more than 4096 functions");
    for (int i = 0; i < FN_REGISTRY_MAX; i += 97) {
        const fn_desc *f = fn_registry_find(r, names[i], strlen(names[i]), false);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(f->index, i);
    }
    fn_registry_free(r);
}
END_TEST

/* ---- ownership ---- */

static char released[8];

static void release(void *p)
{
    size_t n = strlen(released);
    released[n] = *(char *)p;
    released[n + 1] = '\0';
}

START_TEST(test_own_released_last_first)
{
    static char a = 'a', b = 'b', c = 'c';
    released[0] = '\0';
    fn_registry *r = must_new();
    ck_assert_int_eq(fn_registry_own(r, &a, release), 0);
    ck_assert_int_eq(fn_registry_own(r, &b, release), 0);
    ck_assert_int_eq(fn_registry_own(r, &c, release), 0);
    ck_assert_str_eq(released, "");
    fn_registry_free(r);
    ck_assert_str_eq(released, "cba");
    fn_registry_free(NULL);
}
END_TEST

/* ---- the current registry ---- */

START_TEST(test_current)
{
    ck_assert_int_eq(fn_count(), 10); /* none chosen: the built-ins */
    ck_assert_str_eq(fn_at(0)->name, "count");
    fn_registry *r = must_builtins();
    fn_desc mine = desc_named("mine");
    must_add(r, &mine, "/p.so");
    fn_catalog_use(r);
    ck_assert_ptr_eq(fn_catalog_current(), r);
    ck_assert_int_eq(fn_count(), 11);
    ck_assert_str_eq(fn_at(10)->name, "mine");
    ck_assert_ptr_null(fn_at(11));
    const fn_desc *f = fn_find("mine", 4, false);
    ck_assert_ptr_eq(f, fn_at(10));
    json_t *result = NULL;
    fn_ctx ctx;
    fn_ctx_init(&ctx, 0, NULL);
    ck_assert_int_eq(fn_run(f, NULL, &ctx, &result), FN_OK);
    ck_assert_str_eq(json_string_value(result), "mine"); /* run() got its descriptor */
    json_decref(result);
    json_t *list = fn_list_json(false);
    ck_assert_int_eq(json_array_size(json_object_get(list, "functions")), 9);
    json_decref(list);

    fn_catalog_use(NULL);
    ck_assert_ptr_null(fn_find("mine", 4, false));
    ck_assert_int_eq(fn_count(), 10);
    fn_registry_free(r);
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("fn_registry");
    TCase *tc = tcase_create("registry");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_builtins_order_and_index);
    tcase_add_test(tc, test_index_is_registration_order);
    tcase_add_test(tc, test_find_by_length);
    tcase_add_test(tc, test_debug_only);
    tcase_add_test(tc, test_clash_with_builtin);
    tcase_add_test(tc, test_clash_between_plugins);
    tcase_add_test(tc, test_bad_names);
    tcase_add_test(tc, test_bad_schemas);
    tcase_add_test(tc, test_limit);
    tcase_add_test(tc, test_own_released_last_first);
    tcase_add_test(tc, test_current);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(registry_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
