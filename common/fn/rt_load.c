/*
 * rt_load.c - see rt_load.h.
 */
#include "rt_load.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "errbuf.h"
#include "log.h"
#include "rt_call.h"
#include "rt_line.h"
#include "rt_log.h"
#include "rt_proto.h"
#include "rt_spawn.h"

/* How reading a hello ended. */
typedef enum hello_end { H_OK, H_EOF, H_TIMEOUT, H_BAD } hello_end;

static int ms_until(int64_t deadline_ns)
{
    int64_t left = deadline_ns - fn_now_ns();
    return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

/* Reads the first line of c's stdout within the runtime's hello timeout,
 * logging its stderr meanwhile. H_OK: *h is the parsed hello; H_BAD: why. */
static hello_end read_hello(const config_runtime *rt, int index, rt_child *c, rt_line *errl,
                            rt_proto_hello **h, char *why, size_t whylen)
{
    rt_line out;
    hello_end end = H_TIMEOUT;
    int64_t deadline = fn_now_ns() + (int64_t)rt->hello_timeout_ms * 1000000;
    bool err_open = true;
    rt_line_init(&out, RT_HELLO_MAX_BYTES);
    for (;;) {
        const char *line;
        size_t len;
        int rc = rt_line_next(&out, &line, &len);
        if (rc < 0) {
            errbuf_fail(why, whylen, "hello: longer than %d bytes", RT_HELLO_MAX_BYTES);
            end = H_BAD;
            break;
        }
        if (rc == 1) {
            char perr[600];
            *h = rt_proto_hello_parse(line, len, index, rt_call_run, perr, sizeof(perr));
            if (!*h)
                errbuf_fail(why, whylen, "hello: %s", perr);
            end = *h ? H_OK : H_BAD;
            break;
        }
        struct pollfd p[2] = {{.fd = c->out, .events = POLLIN},
                              {.fd = err_open ? c->err : -1, .events = POLLIN}};
        int wait = ms_until(deadline);
        if (wait == 0)
            break;
        if (poll(p, 2, wait) < 0 && errno != EINTR) {
            errbuf_fail(why, whylen, "poll() failed: %s", strerror(errno));
            end = H_BAD;
            break;
        }
        if (p[1].revents)
            err_open = rt_log_drain(errl, c->err, rt->name, c->pid) == 1;
        if (p[0].revents) {
            ssize_t n = rt_line_fill(&out, c->out);
            if (n == 0) {
                end = H_EOF;
                break;
            }
            if (n < 0 && errno != EAGAIN && errno != EMSGSIZE) {
                errbuf_fail(why, whylen, "reading its stdout failed: %s", strerror(errno));
                end = H_BAD;
                break;
            }
        }
    }
    rt_line_release(&out);
    return end;
}

/* Closes stdin (a runtime exits at end of input), waits up to RT_STOP_MS
 * while logging its stderr, then SIGKILLs its process group; reaps it.
 * Returns its wait status. */
static int stop(const config_runtime *rt, rt_child *c, rt_line *errl)
{
    int status = 0;
    int64_t deadline = fn_now_ns() + (int64_t)RT_STOP_MS * 1000000;
    bool err_open = true, exited = false;
    close(c->in);
    c->in = -1;
    while (!exited) {
        pid_t got = waitpid(c->pid, &status, WNOHANG);
        if (got == c->pid || (got < 0 && errno != EINTR)) {
            exited = true;
            break;
        }
        int wait = ms_until(deadline);
        if (wait == 0)
            break;
        /* the pidfd wakes us at the exit; without one, look every 10 ms */
        struct pollfd p[2] = {{.fd = err_open ? c->err : -1, .events = POLLIN},
                              {.fd = c->pidfd, .events = POLLIN}};
        if (poll(p, 2, c->pidfd >= 0 ? wait : (wait < 10 ? wait : 10)) > 0 && p[0].revents)
            err_open = rt_log_drain(errl, c->err, rt->name, c->pid) == 1;
    }
    rt_child_signal(c, SIGKILL); /* it, if still there, and whatever it started */
    while (!exited && waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (err_open)
        rt_log_drain(errl, c->err, rt->name, c->pid);
    rt_log_flush(errl, rt->name, c->pid);
    rt_child_close(c);
    return status;
}

void rt_load_origin(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "runtime \"%s\"", name);
}

static int add_all(fn_registry *r, const config_runtime *rt, rt_proto_hello *h, char *err,
                   size_t errlen)
{
    char origin[CONFIG_RT_NAME + 16];
    rt_load_origin(rt->name, origin, sizeof(origin));
    /* Owned first: the registry's copies point into h, even if an add fails. */
    if (fn_registry_own(r, h, rt_proto_hello_free) < 0)
        return errbuf_fail(err, errlen, "functions: out of memory");
    for (int i = 0; i < rt_proto_hello_count(h); i++)
        if (fn_registry_add(r, rt_proto_hello_fn(h, i), origin, err, errlen) < 0)
            return -1;
    return 0;
}

static int load_one(fn_registry *r, const config *cfg, int i, char *err, size_t errlen)
{
    const config_runtime *rt = &cfg->functions.runtimes[i];
    char why[768], status_text[96];
    rt_cmd cmd;
    rt_child c;
    rt_line errl;
    rt_proto_hello *h = NULL;
    if (rt_cmd_prepare(&cmd, rt, cfg->user, why, sizeof(why)) < 0 ||
        rt_spawn(&cmd, &c, why, sizeof(why)) < 0)
        return errbuf_fail(err, errlen, "functions.runtimes[%d] \"%s\": %s", i, rt->name, why);
    rt_line_init(&errl, RT_LOG_LINE_MAX);
    pid_t pid = c.pid;
    hello_end end = read_hello(rt, i, &c, &errl, &h, why, sizeof(why));
    int status = stop(rt, &c, &errl);
    rt_line_release(&errl);
    rt_describe_status(status, status_text, sizeof(status_text));
    switch (end) {
    case H_OK: break;
    case H_EOF:
        return errbuf_fail(err, errlen,
                           "functions.runtimes[%d] \"%s\": process %d %s before its "
                           "hello (its stderr, if any, is in the log above)",
                           i, rt->name, (int)pid, status_text);
    case H_TIMEOUT:
        return errbuf_fail(err, errlen,
                           "functions.runtimes[%d] \"%s\": no hello within "
                           "hello_timeout_ms (%d ms)",
                           i, rt->name, rt->hello_timeout_ms);
    case H_BAD:
        return errbuf_fail(err, errlen, "functions.runtimes[%d] \"%s\": %s", i, rt->name, why);
    }
    int n = rt_proto_hello_count(h);
    const char *text = rt_proto_hello_runtime(h);
    if (add_all(r, rt, h, err, errlen) < 0)
        return -1;
    log_info("runtime %s: %d function%s%s%s%s", rt->name, n, n == 1 ? "" : "s", text[0] ? " (" : "",
             text, text[0] ? ")" : "");
    return 0;
}

int rt_load_all(fn_registry *r, const config *cfg, char *err, size_t errlen)
{
    for (int i = 0; i < cfg->functions.n_runtimes; i++)
        if (load_one(r, cfg, i, err, errlen) < 0)
            return -1;
    return 0;
}
