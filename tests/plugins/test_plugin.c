/*
 * test_plugin.c - the plugin the integration tests load (check_plugins.c),
 * built several times by tests/meson.build, once per TP_* variant:
 *
 *   libtp.so            tp_where, tp_wait, tp_fail, tp_noresult, tp_version
 *                       ("a") and the debug-only tp_crash
 *   libtp_b.so          TP_B: tp_version ("b") and tp_b_only: another set
 *   libtp_clash.so      TP_CLASH: declares "fib", a built-in's name
 *   libtp_badabi.so     TP_BAD_ABI: claims the ABI after this one
 *   libtp_noentry.so    TP_NO_ENTRY: no crunchd_plugin_entry symbol
 *   libtp_baddecl.so    TP_BAD_DECL: an argument whose min is above its max
 *   libtp_ctorcrash.so  TP_CTOR_CRASH: a constructor that crashes
 *   libtp_ctorhang.so   TP_CTOR_HANG: a constructor that never returns
 *   libtp_undef.so      TP_UNDEFINED: needs a symbol nothing defines
 */
#include <crunchd/plugin.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef TP_CTOR_CRASH
__attribute__((constructor)) static void crash_at_load(void)
{
    raise(SIGSEGV);
}
#endif

#ifdef TP_CTOR_HANG
__attribute__((constructor)) static void hang_at_load(void)
{
    for (;;)
        sleep(1000);
}
#endif

#ifdef TP_UNDEFINED
extern int crunchd_tp_nothing_defines_this(void);
#endif

/* {"pid", "tid"} of the thread run() is called on. */
static int where_run(json_t *args, crunchd_call *call, json_t **result)
{
#ifdef TP_UNDEFINED
    if (crunchd_tp_nothing_defines_this())
        return CRUNCHD_FAILED;
#endif
    *result = json_pack("{s:i, s:i}", "pid", (int)getpid(), "tid", (int)syscall(SYS_gettid));
    return CRUNCHD_OK;
}

static const crunchd_arg wait_args[] = {
    {.name = "ms", .type = CRUNCHD_ARG_INT, .min = 0, .max = 600000, .def_int = 1000,
     .doc = "how long to wait"},
    {.name = "pad", .type = CRUNCHD_ARG_NUMBER_ARRAY, .max = 1000000,
     .doc = "ignored: arguments as large as a test needs (check_hostile.c)"},
};

/* Waits ms, 5 ms at a time, stopping at once on cancel or deadline. */
static int wait_run(json_t *args, crunchd_call *call, json_t **result)
{
    int64_t ms = crunchd_arg_int(args, "ms"), waited = 0;
    while (waited < ms) {
        int st = crunchd_check(call);
        if (st != CRUNCHD_OK)
            return st;
        int64_t left = crunchd_remaining_ms(call);
        if (left == 0)
            return CRUNCHD_TIMEOUT;
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
        waited += 5;
        crunchd_progress(call, waited);
    }
    *result = json_pack("{s:I}", "waited_ms", (json_int_t)waited);
    return CRUNCHD_OK;
}

static const char *const fail_kinds[] = {"plain", "silent", "weird", NULL};

static const crunchd_arg fail_args[] = {
    {.name = "how", .type = CRUNCHD_ARG_ENUM, .choices = fail_kinds, .def_str = "plain",
     .doc = "plain: crunchd_fail(); silent: CRUNCHD_FAILED without a message; weird: status 42"},
    {.name = "reason", .type = CRUNCHD_ARG_STRING, .max = 100, .def_str = "no reason",
     .doc = "goes into the message"},
};

static int fail_run(json_t *args, crunchd_call *call, json_t **result)
{
    const char *how = crunchd_arg_string(args, "how");
    *result = json_string("ignored"); /* a result with an error is released */
    if (how[0] == 's')
        return CRUNCHD_FAILED;
    if (how[0] == 'w')
        return 42;
    return crunchd_fail(call, "asked to fail: %s", crunchd_arg_string(args, "reason"));
}

static int noresult_run(json_t *args, crunchd_call *call, json_t **result)
{
    return CRUNCHD_OK;
}

static int version_run(json_t *args, crunchd_call *call, json_t **result)
{
#ifdef TP_B
    *result = json_string("b");
#else
    *result = json_string("a");
#endif
    return CRUNCHD_OK;
}

static int crash_run(json_t *args, crunchd_call *call, json_t **result)
{
    raise(SIGSEGV);
    return CRUNCHD_FAILED;
}

#ifdef TP_BAD_DECL
static const crunchd_arg bad_args[] = {
    {.name = "n", .type = CRUNCHD_ARG_INT, .required = 1, .min = 10, .max = 1},
};
#endif

static const crunchd_function functions[] = {
#if defined(TP_B)
    {.name = "tp_version", .kind = CRUNCHD_KIND_CPU, .doc = "the variant", .run = version_run},
    {.name = "tp_b_only", .kind = CRUNCHD_KIND_IO, .doc = "exists in b", .run = version_run},
#elif defined(TP_CLASH)
    {.name = "tp_clash_ok", .kind = CRUNCHD_KIND_CPU, .doc = "fine", .run = version_run},
    {.name = "fib", .kind = CRUNCHD_KIND_CPU, .doc = "clashes", .run = version_run},
#elif defined(TP_BAD_DECL)
    {.name = "tp_bad", .kind = CRUNCHD_KIND_CPU, .args = bad_args, .nargs = 1, .doc = "bad",
     .run = version_run},
#else
    {.name = "tp_where", .kind = CRUNCHD_KIND_CPU, .doc = "pid and thread id", .run = where_run},
    {.name = "tp_wait", .kind = CRUNCHD_KIND_IO, .args = wait_args,
     .nargs = CRUNCHD_COUNT(wait_args), .doc = "waits, polling cancel", .run = wait_run},
    {.name = "tp_fail", .kind = CRUNCHD_KIND_CPU, .args = fail_args,
     .nargs = CRUNCHD_COUNT(fail_args), .doc = "fails", .run = fail_run},
    {.name = "tp_noresult", .kind = CRUNCHD_KIND_CPU, .doc = "OK without a result",
     .run = noresult_run},
    {.name = "tp_version", .kind = CRUNCHD_KIND_CPU, .doc = "the variant", .run = version_run},
    {.name = "tp_crash", .kind = CRUNCHD_KIND_CPU, .flags = CRUNCHD_FN_DEBUG_ONLY,
     .doc = "kills its worker", .run = crash_run},
#endif
};

#if defined(TP_BAD_ABI)
CRUNCHD_PLUGIN_EXPORT const crunchd_plugin *crunchd_plugin_entry(void);
CRUNCHD_PLUGIN_EXPORT const crunchd_plugin *crunchd_plugin_entry(void)
{
    static const crunchd_plugin plugin = {CRUNCHD_PLUGIN_ABI + 1, "tp", "9", functions,
                                          CRUNCHD_COUNT(functions)};
    return &plugin;
}
#elif defined(TP_NO_ENTRY)
CRUNCHD_PLUGIN_EXPORT const crunchd_function *tp_functions(void);
CRUNCHD_PLUGIN_EXPORT const crunchd_function *tp_functions(void)
{
    return functions;
}
#else
CRUNCHD_PLUGIN_DEFINE("tp", "1", functions)
#endif
