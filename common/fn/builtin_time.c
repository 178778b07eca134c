/*
 * fn_time.c - built-ins that take wall time rather than compute: sleep (io
 * kind), and the debug-only crash and spin that tests use to exercise worker
 * respawn and kill escalation (DESIGN.md section 5).
 */
#include "builtin.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#define NS_PER_MS INT64_C(1000000)
/* Longest nap between two cancel polls: how late sleep may notice a cancel. */
#define SLEEP_POLL_NS (5 * NS_PER_MS)

/* ---- sleep ---- */

static const fn_arg sleep_args[] = {
    {.name = "ms", .type = FN_ARG_INT, .min = 0, .max = 600000, .def_int = 1000,
     .doc = "milliseconds to sleep"},
};

static void nap_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    nanosleep(&ts, NULL); /* an EINTR only shortens one nap; the caller loops */
}

static fn_status sleep_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    int64_t start = fn_now_ns();
    int64_t end = start + fn_arg_int(args, "ms") * NS_PER_MS;
    int64_t now;

    while ((now = fn_now_ns()) < end) {
        fn_status st = fn_ctx_check(ctx);
        if (st != FN_OK)
            return st;
        nap_ns(end - now < SLEEP_POLL_NS ? end - now : SLEEP_POLL_NS);
        fn_set_progress(ctx, (fn_now_ns() - start) / NS_PER_MS);
    }
    *result = json_pack("{s:I}", "slept_ms", (json_int_t)((now - start) / NS_PER_MS));
    return *result ? FN_OK : fn_fail(ctx, "out of memory");
}

const fn_desc fn_builtin_sleep = {
    .name = "sleep",
    .kind = FN_IO,
    .args = sleep_args,
    .nargs = sizeof(sleep_args) / sizeof(sleep_args[0]),
    .doc = "{\"slept_ms\"}: sleeps ms milliseconds, waking within 5 ms of a cancel or deadline",
    .run = sleep_run,
};

/* ---- crash (debug only) ---- */

static const char *const crash_signals[] = {"segv", "abort", NULL};

static const fn_arg crash_args[] = {
    {.name = "signal", .type = FN_ARG_ENUM, .def_str = "abort", .choices = crash_signals,
     .doc = "segv: die of SIGSEGV; abort: die of SIGABRT"},
};

static fn_status crash_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    int sig = strcmp(fn_arg_str(args, "signal"), "segv") == 0 ? SIGSEGV : SIGABRT;
    sigset_t set;

    /* Workers block or catch signals for their event loop; a crash test wants
     * the default action, which ends the whole process. */
    signal(sig, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    (void)result;
    return fn_fail(ctx, "crash: raise(%s) returned", strsignal(sig));
}

const fn_desc fn_builtin_crash = {
    .name = "crash",
    .kind = FN_CPU,
    .debug_only = true,
    .args = crash_args,
    .nargs = sizeof(crash_args) / sizeof(crash_args[0]),
    .doc = "debug: kills the worker with the given signal (tests of worker respawn)",
    .run = crash_run,
};

/* ---- spin (debug only) ---- */

static const fn_arg spin_args[] = {
    {.name = "ms", .type = FN_ARG_INT, .min = 0, .max = 600000, .def_int = 1000,
     .doc = "milliseconds to busy-loop"},
};

static fn_status spin_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    int64_t ms = fn_arg_int(args, "ms");
    int64_t end = fn_now_ns() + ms * NS_PER_MS;
    uint64_t spins = 0;

    /* Deliberately never calls fn_ctx_check(): spin stands for a function
     * that ignores cancel, so tests can see the worker killed and respawned. */
    while (fn_now_ns() < end) {
        spins++;
        __asm__ volatile("" : "+r"(spins));
    }
    *result = json_pack("{s:I}", "spun_ms", (json_int_t)ms);
    return *result ? FN_OK : fn_fail(ctx, "out of memory");
}

const fn_desc fn_builtin_spin = {
    .name = "spin",
    .kind = FN_CPU,
    .debug_only = true,
    .args = spin_args,
    .nargs = sizeof(spin_args) / sizeof(spin_args[0]),
    .doc = "debug: busy-loops ms milliseconds ignoring cancel and deadline (tests of kill "
           "escalation)",
    .run = spin_run,
};

int fn_time_register(fn_registry *r, char *err, size_t errlen)
{
    static const fn_desc *const table[] = {&fn_builtin_sleep, &fn_builtin_crash, &fn_builtin_spin};
    return fn_builtin_add_all(r, table, sizeof(table) / sizeof(table[0]), err, errlen);
}
