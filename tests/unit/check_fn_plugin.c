/*
 * check_fn_plugin.c - unit tests of plugin loading (common/fn/fn_plugin.c)
 * with the test plugin of tests/plugins/ (CRUNCHD_TEST_PLUGINS): what a
 * load adds to a registry, the adapter between a descriptor and the
 * plugin's run() (results, errors, cancel, deadline, progress, data_dir),
 * refusals, and a file replaced at the same path loaded afresh while the
 * old copy stays usable. Plugins that crash while loading are tried by the
 * integration tests only (in a child process of crunchd).
 */
#include "fn.h"
#include "builtin.h"
#include "fn_plugin.h"
#include "fn_registry.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *plugin(const char *name)
{
    static char path[8][512];
    static int k;
    const char *d = getenv("CRUNCHD_TEST_PLUGINS");
    ck_assert_msg(d && *d, "CRUNCHD_TEST_PLUGINS is not set");
    k = (k + 1) % 8;
    snprintf(path[k], sizeof(path[k]), "%s/lib%s.so", d, name);
    return path[k];
}

static fn_registry *must_load(const char *path, fn_plugin_info *info)
{
    char err[1024];
    fn_registry *r = fn_registry_new();
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(fn_builtins_register(r, err, sizeof(err)), 0);
    ck_assert_msg(fn_plugin_load(r, path, info, err, sizeof(err)) == 0, "%s", err);
    return r;
}

/* Runs name of r with args_text (validated) and ctx; *result a new reference. */
static fn_status run_in(fn_registry *r, const char *name, const char *args_text, fn_ctx *ctx,
                        json_t **result)
{
    const fn_desc *f = fn_registry_find(r, name, strlen(name), true);
    ck_assert_msg(f != NULL, "%s not found", name);
    json_t *args = args_text ? json_loads(args_text, 0, NULL) : NULL, *valid;
    char bad[64], err[256];
    ck_assert_msg(fn_validate(f, args, &valid, bad, sizeof(bad), err, sizeof(err)) == 0, "%s", err);
    json_decref(args);
    fn_status st = fn_run(f, valid, ctx, result);
    json_decref(valid);
    return st;
}

static const char *version_of(fn_registry *r)
{
    static char v[8];
    fn_ctx ctx;
    json_t *res;
    fn_ctx_init(&ctx, 0, NULL);
    ck_assert_int_eq(run_in(r, "tp_version", NULL, &ctx, &res), FN_OK);
    snprintf(v, sizeof(v), "%s", json_string_value(res));
    json_decref(res);
    return v;
}

START_TEST(test_load_adds_functions)
{
    fn_plugin_info info;
    const char *path = plugin("tp");
    fn_registry *r = must_load(path, &info);
    ck_assert_str_eq(info.name, "tp");
    ck_assert_str_eq(info.version, "1");
    ck_assert_int_eq(info.nfunctions, 6);
    ck_assert(!info.fresh);
    ck_assert_int_eq(fn_registry_count(r), 16);
    for (int i = 10; i < 16; i++) {
        const fn_desc *d = fn_registry_at(r, i);
        ck_assert_str_eq(fn_registry_origin(r, i), path);
        ck_assert_ptr_null(d->cost_ns); /* never inline */
        ck_assert_ptr_nonnull(d->impl);
        ck_assert_int_eq(d->index, i);
    }
    ck_assert_str_eq(fn_registry_at(r, 10)->name, "tp_where");
    const fn_desc *wait = fn_registry_find(r, "tp_wait", 7, false);
    ck_assert_int_eq(wait->kind, FN_IO);
    ck_assert_int_eq(wait->nargs, 2);
    ck_assert_str_eq(wait->args[0].name, "ms");
    ck_assert_int_eq(wait->args[0].type, FN_ARG_INT);
    ck_assert_int_eq(wait->args[0].max, 600000);
    ck_assert_int_eq(wait->args[0].def_int, 1000);
    ck_assert_ptr_null(fn_registry_find(r, "tp_crash", 8, false));
    ck_assert_ptr_nonnull(fn_registry_find(r, "tp_crash", 8, true));
    const fn_desc *fail = fn_registry_find(r, "tp_fail", 7, false);
    ck_assert_int_eq(fail->args[0].type, FN_ARG_ENUM);
    ck_assert_str_eq(fail->args[0].def_str, "plain");
    ck_assert_int_eq(fail->args[1].type, FN_ARG_STRING);
    fn_registry_free(r);
}
END_TEST

START_TEST(test_adapter)
{
    fn_registry *r = must_load(plugin("tp"), NULL);
    fn_ctx ctx;
    json_t *res;

    fn_ctx_init(&ctx, fn_now_ns() + 10 * 1000000000LL, "/srv/data");
    ck_assert_int_eq(run_in(r, "tp_wait", "{\"ms\": 20}", &ctx, &res), FN_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(res, "waited_ms")), 20);
    ck_assert_int_eq(atomic_load(&ctx.progress), 20);
    json_decref(res);

    fn_ctx_init(&ctx, 0, NULL);
    atomic_store(&ctx.cancel, 1);
    ck_assert_int_eq(run_in(r, "tp_wait", "{\"ms\": 60000}", &ctx, &res), FN_CANCELLED);
    ck_assert_ptr_null(res);

    fn_ctx_init(&ctx, fn_now_ns() + 30 * 1000000LL, NULL);
    ck_assert_int_eq(run_in(r, "tp_wait", "{\"ms\": 60000}", &ctx, &res), FN_TIMEOUT);
    ck_assert_ptr_null(res);

    fn_ctx_init(&ctx, 0, NULL);
    ck_assert_int_eq(run_in(r, "tp_fail", "{\"reason\": \"x\"}", &ctx, &res), FN_FAILED);
    ck_assert_ptr_null(res); /* the plugin's result with an error is released */
    ck_assert_str_eq(ctx.message, "asked to fail: x");
    fn_ctx_init(&ctx, 0, NULL);
    ck_assert_int_eq(run_in(r, "tp_fail", "{\"how\": \"silent\"}", &ctx, &res), FN_FAILED);
    ck_assert_str_eq(ctx.message, "tp_fail failed without a message");
    fn_ctx_init(&ctx, 0, NULL);
    ck_assert_int_eq(run_in(r, "tp_fail", "{\"how\": \"weird\"}", &ctx, &res), FN_FAILED);
    ck_assert_str_eq(ctx.message, "tp_fail returned an unknown status 42");
    fn_ctx_init(&ctx, 0, NULL);
    ck_assert_int_eq(run_in(r, "tp_noresult", NULL, &ctx, &res), FN_FAILED);
    ck_assert_str_eq(ctx.message, "tp_noresult returned CRUNCHD_OK without a result");
    fn_registry_free(r);
}
END_TEST

static void must_refuse(const char *path, const char *want)
{
    char err[1024];
    fn_registry *r = fn_registry_new();
    ck_assert_int_eq(fn_builtins_register(r, err, sizeof(err)), 0);
    ck_assert_int_eq(fn_plugin_load(r, path, NULL, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" does not say \"%s\"", err, want);
    fn_registry_free(r);
}

START_TEST(test_refusals)
{
    must_refuse("/no/such/lib.so", "/no/such/lib.so: No such file or directory");
    must_refuse("no-such-lib.so", "./no-such-lib.so: No such file or directory"); /* no search */
    must_refuse("/tmp", "/tmp: not a regular file");
    must_refuse(plugin("tp_noentry"), "no symbol crunchd_plugin_entry: not a crunchd plugin");
    must_refuse(plugin("tp_badabi"), "built for plugin ABI 2, this crunchd loads ABI 1");
    must_refuse(plugin("tp_clash"), "clashes with the built-in \"fib\"");
    must_refuse(plugin("tp_baddecl"), "argument \"n\": min 10 is above max 1");
    must_refuse(plugin("tp_undef"), "undefined symbol: crunchd_tp_nothing_defines_this");
}
END_TEST

/* Copies src to dst as a new file (a temp then rename(): a new inode). */
static void install(const char *src, const char *dst)
{
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s.tmp' && mv -f '%s.tmp' '%s'", src, dst, dst, dst);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_replaced_file_loaded_afresh)
{
    char dir[] = "/tmp/check_fn_plugin.XXXXXX", path[64];
    fn_plugin_info info;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/libmine.so", dir);
    install(plugin("tp"), path);
    fn_registry *a = must_load(path, &info);
    ck_assert(!info.fresh);
    fn_registry *a2 = must_load(path, &info); /* the same file: the same copy */
    ck_assert(!info.fresh);
    ck_assert_ptr_eq(fn_registry_find(a, "tp_version", 10, false)->impl,
                     fn_registry_find(a2, "tp_version", 10, false)->impl);

    install(plugin("tp_b"), path);
    fn_registry *b = must_load(path, &info);
    ck_assert(info.fresh);
    ck_assert_str_eq(version_of(b), "b");
    ck_assert_str_eq(version_of(a), "a"); /* the old registry keeps the old code */
    ck_assert_ptr_nonnull(fn_registry_find(b, "tp_b_only", 9, false));
    fn_registry *b2 = must_load(path, &info); /* b's file again: b's copy */
    ck_assert_ptr_eq(fn_registry_find(b, "tp_version", 10, false)->impl,
                     fn_registry_find(b2, "tp_version", 10, false)->impl);
    fn_registry_free(a);
    fn_registry_free(a2);
    fn_registry_free(b);
    ck_assert_str_eq(version_of(b2), "b");
    fn_registry_free(b2);

    /* Everything closed: a plain load again. */
    fn_registry *c = must_load(path, &info);
    ck_assert(!info.fresh);
    ck_assert_str_eq(version_of(c), "b");
    fn_registry_free(c);
    unlink(path);
    rmdir(dir);
}
END_TEST

static Suite *plugin_suite(void)
{
    Suite *s = suite_create("fn_plugin");
    TCase *tc = tcase_create("plugin");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_load_adds_functions);
    tcase_add_test(tc, test_adapter);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_replaced_file_loaded_afresh);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plugin_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
