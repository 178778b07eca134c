/*
 * rt_spawn.c - see rt_spawn.h.
 */
#include "rt_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errbuf.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* The child's steps, reported to the parent when one fails. */
enum { ST_SETSID, ST_USER, ST_PDEATHSIG, ST_RLIMIT, ST_DUP, ST_CHDIR, ST_EXEC };
static const char *const step_names[] = {
    [ST_SETSID] = "setsid()",   [ST_USER] = "switching user",
    [ST_PDEATHSIG] = "prctl()", [ST_RLIMIT] = "setrlimit(RLIMIT_AS)",
    [ST_DUP] = "dup2()",        [ST_CHDIR] = "chdir()",
    [ST_EXEC] = "execve()",
};

/* ---- before fork ---- */

/* The value of PATH that the child will see. */
static const char *runtime_path(const config_runtime *rt)
{
    for (int i = 0; i < rt->nenv; i++)
        if (strncmp(rt->env[i], "PATH=", 5) == 0)
            return rt->env[i] + 5;
    const char *p = getenv("PATH");
    return p && *p ? p : RT_DEFAULT_PATH;
}

static bool is_exec_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

/* argv[0] without '/': the first executable file of that name in PATH. */
static int resolve(rt_cmd *cmd, const config_runtime *rt, char *err, size_t errlen)
{
    const char *name = rt->argv[0];
    if (strchr(name, '/')) {
        snprintf(cmd->path, sizeof(cmd->path), "%s", name);
        char check[2 * CONFIG_PATH + 2];
        /* a relative path is relative to cwd, where execve() will run */
        snprintf(check, sizeof(check), "%s%s%s", name[0] != '/' && rt->cwd[0] ? rt->cwd : "",
                 name[0] != '/' && rt->cwd[0] ? "/" : "", name);
        if (!is_exec_file(check))
            return errbuf_fail(err, errlen, "argv[0] \"%s\": not an executable file", name);
        return 0;
    }
    const char *path = runtime_path(rt);
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0 &&
            (size_t)snprintf(cmd->path, sizeof(cmd->path), "%.*s/%s", (int)n, p, name) <
                sizeof(cmd->path) &&
            is_exec_file(cmd->path))
            return 0;
        p += n + (end ? 1 : 0);
    }
    return errbuf_fail(err, errlen, "argv[0] \"%s\": not found in PATH (%.200s)", name, path);
}

int rt_cmd_prepare(rt_cmd *cmd, const config_runtime *rt, const char *user, char *err,
                   size_t errlen)
{
    memset(cmd, 0, sizeof(*cmd));
    if (rt->cwd[0]) {
        struct stat sb;
        if (stat(rt->cwd, &sb) < 0)
            return errbuf_fail(err, errlen, "cwd \"%s\": %s", rt->cwd, strerror(errno));
        if (!S_ISDIR(sb.st_mode))
            return errbuf_fail(err, errlen, "cwd \"%s\": not a directory", rt->cwd);
        cmd->cwd = rt->cwd;
    }
    if (resolve(cmd, rt, err, errlen) < 0)
        return -1;
    for (int i = 0; i < rt->argc; i++)
        cmd->argv[i] = (char *)rt->argv[i];
    int n = 0;
    bool has_path = false;
    for (int i = 0; i < rt->nenv; i++) {
        has_path = has_path || strncmp(rt->env[i], "PATH=", 5) == 0;
        cmd->envp[n++] = (char *)rt->env[i];
    }
    if (!has_path) {
        snprintf(cmd->path_env, sizeof(cmd->path_env), "PATH=%s", runtime_path(rt));
        cmd->envp[n++] = cmd->path_env;
    }
    cmd->as_bytes = (rlim_t)rt->memory_mb * 1024 * 1024;
    if (user && user[0] && geteuid() == 0) {
        errno = 0;
        struct passwd *pw = getpwnam(user);
        if (!pw)
            return errbuf_fail(err, errlen, "user \"%s\": %s", user,
                               errno ? strerror(errno) : "no such user");
        cmd->switch_user = true;
        cmd->uid = pw->pw_uid;
        cmd->gid = pw->pw_gid;
    }
    struct rlimit nofile;
    cmd->maxfd = getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536
                     ? (int)nofile.rlim_cur
                     : 65536;
    return 0;
}

/* ---- the child: async-signal-safe calls only ---- */

__attribute__((noreturn)) static void child_fail(int status_fd, int step)
{
    int report[2] = {step, errno};
    ssize_t w = write(status_fd, report, sizeof(report));
    (void)w;
    _exit(127);
}

/* Moves fd to a number >= 3 (close-on-exec), so that dup2() onto 0..2
 * never meets a source already there. */
static int lift(int fd)
{
    return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

__attribute__((noreturn)) static void child(const rt_cmd *cmd, pid_t parent, int in_r, int out_w,
                                            int err_w, int status_w)
{
    struct sigaction dfl;
    sigset_t none;
    status_w = lift(status_w);
    if (status_w < 0)
        _exit(127);
    if (setsid() < 0)
        child_fail(status_w, ST_SETSID);
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL); /* EINVAL for the ones libc reserves: fine */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (cmd->switch_user &&
        (setgroups(0, NULL) < 0 || setgid(cmd->gid) < 0 || setuid(cmd->uid) < 0))
        child_fail(status_w, ST_USER);
    /* after the user switch, which clears it */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        child_fail(status_w, ST_PDEATHSIG);
    if (getppid() != parent)
        _exit(127); /* the parent died before the line above */
    if (cmd->as_bytes > 0) {
        struct rlimit as = {cmd->as_bytes, cmd->as_bytes};
        if (setrlimit(RLIMIT_AS, &as) < 0)
            child_fail(status_w, ST_RLIMIT);
    }
    in_r = lift(in_r);
    out_w = lift(out_w);
    err_w = lift(err_w);
    if (in_r < 0 || out_w < 0 || err_w < 0 || dup2(in_r, 0) < 0 || dup2(out_w, 1) < 0 ||
        dup2(err_w, 2) < 0)
        child_fail(status_w, ST_DUP);
    /* Everything from 3 up goes at execve(): the lifted copies, status_w
     * (which must stay open until then) and whatever the parent had. */
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        for (int fd = 3; fd < cmd->maxfd; fd++)
            if (fd != status_w)
                close(fd);
    }
    if (cmd->cwd && chdir(cmd->cwd) < 0)
        child_fail(status_w, ST_CHDIR);
    execve(cmd->path, cmd->argv, cmd->envp);
    child_fail(status_w, ST_EXEC);
}

/* ---- the parent ---- */

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int rt_spawn(const rt_cmd *cmd, rt_child *c, char *err, size_t errlen)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, st[2] = {-1, -1};
    int report[2];
    *c = (rt_child){.pid = -1, .in = -1, .out = -1, .err = -1, .pidfd = -1};
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
        pipe2(st, O_CLOEXEC) < 0) {
        errbuf_fail(err, errlen, "pipe2() failed: %s", strerror(errno));
        goto fail;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        errbuf_fail(err, errlen, "fork() failed: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0)
        child(cmd, parent, in[0], out[1], errp[1], st[1]);
    c->pid = pid;
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&errp[1]);
    close_fd(&st[1]);
    ssize_t got;
    do
        got = read(st[0], report, sizeof(report));
    while (got < 0 && errno == EINTR);
    close_fd(&st[0]);
    if (got == (ssize_t)sizeof(report)) {
        int step = report[0] >= 0 && report[0] <= ST_EXEC ? report[0] : ST_EXEC;
        if (step == ST_EXEC)
            errbuf_fail(err, errlen, "execve(\"%s\") failed: %s", cmd->path, strerror(report[1]));
        else if (step == ST_CHDIR)
            errbuf_fail(err, errlen, "chdir(\"%s\") failed: %s", cmd->cwd, strerror(report[1]));
        else
            errbuf_fail(err, errlen, "%s failed in the new process: %s", step_names[step],
                        strerror(report[1]));
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        c->pid = -1;
        goto fail;
    }
    c->in = in[1];
    c->out = out[0];
    c->err = errp[0];
    if (nonblock(c->in) < 0 || nonblock(c->out) < 0 || nonblock(c->err) < 0) {
        errbuf_fail(err, errlen, "fcntl(O_NONBLOCK) failed: %s", strerror(errno));
        rt_child_signal(c, SIGKILL);
        rt_child_close(c);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        c->pid = -1;
        return -1;
    }
    c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (c->pidfd >= 0)
        fcntl(c->pidfd, F_SETFD, FD_CLOEXEC); /* pidfd_open sets it; be sure */
    return 0;

fail:
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&out[i]);
        close_fd(&errp[i]);
        close_fd(&st[i]);
    }
    return -1;
}

void rt_child_signal(const rt_child *c, int sig)
{
    if (c->pid <= 0)
        return;
    /* The group only: setsid() made it the child's, and a pid number stays
     * in use while a group of that id exists, so this never reaches a
     * stranger, even after the child itself was reaped. */
    kill(-c->pid, sig);
}

void rt_child_close(rt_child *c)
{
    close_fd(&c->in);
    close_fd(&c->out);
    close_fd(&c->err);
    close_fd(&c->pidfd);
}

void rt_describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "ended (wait status %#x)", (unsigned)status);
}
