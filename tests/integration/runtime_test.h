/*
 * runtime_test.h - helpers shared by the integration tests of the language
 * runtimes (check_runtime.c: the Python module; check_runtime_proto.c: the
 * protocol, with a runtime written without it). The runtimes run under
 * Debian's /usr/bin/python3 from tests/integration/runtimes/.
 */
#ifndef CRUNCHD_RUNTIME_TEST_H
#define CRUNCHD_RUNTIME_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define RT_PYTHON "/usr/bin/python3"
#define RT_WAIT_MS 15000 /* a marker file, a restart, a final job: well within this */

/* The source tree ($CRUNCHD_SOURCE_ROOT, set by meson). */
static inline const char *rt_root(void)
{
    const char *r = getenv("CRUNCHD_SOURCE_ROOT");
    ck_assert_msg(r && *r, "CRUNCHD_SOURCE_ROOT is not set");
    return r;
}

/*
 * Config overrides with one runtime called name running `python3 script
 * args` (args: JSON array members after the script, may be ""), with the
 * module on PYTHONPATH, and extra top-level members (may be ""), and
 * runtime members (rt_extra, may be ""). Static: one at a time.
 */
static inline const char *rt_conf(const char *name, const char *script, const char *args,
                                  const char *rt_extra, const char *extra)
{
    static char text[4096];
    snprintf(text, sizeof(text),
             "{%s%s\"functions\": {\"runtimes\": [{\"name\": \"%s\", \"argv\": [\"" RT_PYTHON
             "\", \"%s\"%s%s], \"env\": {\"PYTHONPATH\": \"%s/runtimes/python\","
             " \"PYTHONDONTWRITEBYTECODE\": \"1\"}%s%s}]}}",
             extra, extra[0] ? ", " : "", name, script, args[0] ? ", " : "", args, rt_root(),
             rt_extra[0] ? ", " : "", rt_extra);
    return text;
}

/* Path of a file of tests/integration/runtimes (static, two at a time). */
static inline const char *rt_script(const char *file)
{
    static char path[2][1024];
    static int k;
    k = !k;
    snprintf(path[k], sizeof(path[k]), "%s/tests/integration/runtimes/%s", rt_root(), file);
    return path[k];
}

/* Waits for a marker file a function writes its pid into; returns the pid. */
static inline pid_t rt_must_marker(const char *path)
{
    int64_t deadline = now_ms() + RT_WAIT_MS;
    for (;;) {
        FILE *f = fopen(path, "re");
        if (f) {
            long pid = 0;
            int n = fscanf(f, "%ld", &pid);
            fclose(f);
            ck_assert_msg(n == 1 && pid > 1, "marker %s holds no pid", path);
            return (pid_t)pid;
        }
        ck_assert_msg(now_ms() < deadline, "no marker %s within %d ms", path, RT_WAIT_MS);
        sleep_ms(10);
    }
}

/* One request on a fresh connection whose reads may take timeout_ms;
 * returns the status (fails unless a reply comes). */
static inline int rt_call(server *s, const char *method, const char *path, const char *body,
                          int timeout_ms, resp *r)
{
    int fd = must_connect(s);
    set_recv_timeout(fd, timeout_ms);
    const char *req = http_request_text(method, path, body, "Connection: close\r\n");
    must_send(fd, req, strlen(req));
    char err[512];
    int st = read_response(fd, r, 0, err, sizeof(err));
    close(fd);
    ck_assert_msg(st > 0, "%s %s: no reply (%s)", method, path, st < 0 ? err : "closed");
    return st;
}

/* Whether the server's log holds text. */
static inline bool rt_log_has(const server *s, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/crunchd.log", s->dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

/* Waits until the log holds text. */
static inline void rt_must_log(const server *s, const char *text)
{
    int64_t deadline = now_ms() + RT_WAIT_MS;
    while (!rt_log_has(s, text)) {
        if (now_ms() >= deadline) {
            server_print_log(s);
            ck_abort_msg("the log does not say \"%s\" within %d ms", text, RT_WAIT_MS);
        }
        sleep_ms(20);
    }
}

/* The pid the function "pid" returns (the runtime process of a call). */
static inline pid_t rt_call_pid(server *s)
{
    resp r;
    json_t *v = must_call_fn(s, "pid", "{}", &r);
    ck_assert_msg(json_is_integer(v), "pid: %s", resp_describe(&r));
    return (pid_t)json_integer_value(v);
}

#endif
