/*
 * functions.c - see functions.h.
 */
#include "functions.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "builtin.h"
#include "fn_plugin.h"
#include "fn_registry.h"
#include "log.h"
#include "metrics.h"
#include "rt_load.h"

/* Registries built and not freed yet: the running one, and at most one or
 * two newer ones (a reload's, kept until the next load finds it unused). */
#define FUNCTIONS_MAX_BUILT 4

#define CHECK_REPORT 2048 /* what the child tells, at most */

static fn_registry *built[FUNCTIONS_MAX_BUILT];

/* ---- building ---- */

/*
 * A new registry with cfg's functions, or NULL with err: the built-ins, the
 * plugins, then (with runtimes) the language runtimes' (rt_load.h). report
 * (>= 0: a pipe to the parent of a check) is told "L<i>\n" before plugin i
 * loads and "R\n" before the runtimes start; loud logs each plugin loaded.
 */
static fn_registry *build(const config *cfg, int report, bool loud, bool runtimes, char *err,
                          size_t errlen)
{
    char why[1024];
    fn_registry *r = fn_registry_new();
    if (!r) {
        errbuf_fail(err, errlen, "functions: out of memory");
        return NULL;
    }
    if (fn_builtins_register(r, err, errlen) < 0)
        goto fail;
    for (int i = 0; i < cfg->functions.n_plugins; i++) {
        const char *path = cfg->functions.plugins[i];
        fn_plugin_info info;
        if (report >= 0)
            dprintf(report, "L%d\n", i);
        if (fn_plugin_load(r, path, &info, why, sizeof(why)) < 0) {
            errbuf_fail(err, errlen, "functions.plugins[%d]: %s", i, why);
            goto fail;
        }
        if (loud)
            log_notice("loaded plugin \"%s\" %s from %s%s: %d function%s", info.name, info.version,
                       path, info.fresh ? " (a new file since the last load)" : "", info.nfunctions,
                       info.nfunctions == 1 ? "" : "s");
    }
    if (runtimes && cfg->functions.n_runtimes > 0) {
        if (report >= 0)
            dprintf(report, "R\n");
        if (rt_load_all(r, cfg, err, errlen) < 0)
            goto fail;
    }
    return r;

fail:
    fn_registry_free(r);
    return NULL;
}

/* ---- trying a set in a child ---- */

__attribute__((noreturn)) static void check_child(const config *cfg, bool runtimes, int report)
{
    char err[1024];
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core); /* a crash is reported; a core would litter the cwd */
    fn_registry *r = build(cfg, report, false, runtimes, err, sizeof(err));
    if (!r) {
        dprintf(report, "E%s\n", err);
        _exit(1);
    }
    dprintf(report, "OK\n");
    _exit(0);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the child's report until EOF or the deadline; returns 0, or -1 at
 * the deadline. */
static int read_report(int fd, int64_t timeout_ms, char *buf, size_t len)
{
    size_t used = 0;
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - mono_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0)
            return -1;
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        ssize_t got = read(fd, buf + used, len - 1 - used);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        used += (size_t)got;
        if (used == len - 1)
            break;
    }
    buf[used] = '\0';
    return 0;
}

/* The plugin the child was loading last (its last "L<i>" line), or -1. */
static int last_loading(const char *report)
{
    int i = -1;
    for (const char *p = report; (p = strstr(p, "L")) != NULL; p++)
        if (p == report || p[-1] == '\n')
            i = atoi(p + 1);
    return i;
}

/* How long the check may take: the plugins', and each runtime's hello and stop. */
static int64_t check_timeout_ms(const config *cfg, bool runtimes)
{
    int64_t ms = FUNCTIONS_CHECK_TIMEOUT_MS;
    for (int i = 0; runtimes && i < cfg->functions.n_runtimes; i++)
        ms += cfg->functions.runtimes[i].hello_timeout_ms + RT_STOP_MS;
    return ms;
}

/* Turns what the child did into 0 or -1 with err. */
static int check_verdict(const config *cfg, const char *report, int status, bool timed_out,
                         char *err, size_t errlen)
{
    const char *e = strstr(report, "\nE");
    int i = last_loading(report);
    const char *path = i >= 0 && i < cfg->functions.n_plugins ? cfg->functions.plugins[i] : "?";
    bool in_runtimes = strncmp(report, "R\n", 2) == 0 || strstr(report, "\nR\n");
    if (in_runtimes && !(e || strncmp(report, "E", 1) == 0) && (timed_out || !WIFEXITED(status)))
        return errbuf_fail(err, errlen, "functions.runtimes: the check of the runtimes %s",
                           timed_out ? "did not end in time" : "crashed");
    if (timed_out)
        return errbuf_fail(err, errlen, "functions.plugins[%d]: %s: still loading after %d ms", i,
                           path, FUNCTIONS_CHECK_TIMEOUT_MS);
    if (WIFSIGNALED(status))
        return errbuf_fail(err, errlen,
                           "functions.plugins[%d]: %s: crashed while loading "
                           "(signal %d, %s)",
                           i, path, WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(report, "OK\n"))
        return 0;
    if (e || strncmp(report, "E", 1) == 0) {
        const char *msg = e ? e + 2 : report + 1;
        size_t n = strcspn(msg, "\n");
        return errbuf_fail(err, errlen, "%.*s", (int)n, msg);
    }
    return errbuf_fail(err, errlen,
                       "functions.plugins[%d]: %s: the check of the plugins ended "
                       "without a verdict (exit status %d)",
                       i, path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Builds cfg's set in a child (with or without its runtimes) and says how it went. */
static int check_set(const config *cfg, bool runtimes, char *err, size_t errlen)
{
    char report[CHECK_REPORT];
    int fds[2], status = 0;
    if (cfg->functions.n_plugins == 0 && (!runtimes || cfg->functions.n_runtimes == 0))
        return 0; /* the built-ins alone: nothing that could crash */
    if (pipe2(fds, O_CLOEXEC) < 0)
        return errbuf_fail(err, errlen, "functions: pipe2() failed: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return errbuf_fail(err, errlen, "functions: fork() failed while checking the plugins: %s",
                           strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        check_child(cfg, runtimes, fds[1]);
    }
    close(fds[1]);
    bool timed_out =
        read_report(fds[0], check_timeout_ms(cfg, runtimes), report, sizeof(report)) < 0;
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return check_verdict(cfg, report, status, timed_out, err, errlen);
}

int functions_check(const config *cfg, char *err, size_t errlen)
{
    return check_set(cfg, true, err, errlen);
}

/* ---- the master's registries ---- */

/* Frees every built registry but keep. */
static void collect(const fn_registry *keep)
{
    for (int i = 0; i < FUNCTIONS_MAX_BUILT; i++) {
        if (built[i] && built[i] != keep) {
            fn_registry_free(built[i]);
            built[i] = NULL;
        }
    }
}

static void remember(fn_registry *r)
{
    for (int i = 0; i < FUNCTIONS_MAX_BUILT; i++) {
        if (!built[i]) {
            built[i] = r;
            return;
        }
    }
    assert(!"more registries alive than a reload can need");
}

int functions_load(config *cfg, const config *running, char *err, size_t errlen)
{
    cfg->functions.registry = NULL;
    if (check_set(cfg, false, err, errlen) < 0) /* runtimes cannot crash the master */
        return -1;
    collect(running ? running->functions.registry : NULL);
    fn_registry *r = build(cfg, -1, true, true, err, errlen);
    if (!r)
        return -1;
    remember(r);
    cfg->functions.registry = r;
    return 0;
}

int functions_reload(config *next, const config *running, shm_region *shm, char *err, size_t errlen)
{
    if (functions_load(next, running, err, errlen) < 0)
        return -1;
    metrics_register_fns(shm, next->functions.registry);
    return 0;
}
