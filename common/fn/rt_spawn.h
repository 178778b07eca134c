/*
 * rt_spawn.h - starting and ending one process of a language runtime
 * (functions.runtimes[i], config.h).
 *
 * rt_cmd_prepare() does everything that may allocate or fail slowly before
 * fork(): it resolves argv[0] (a name without '/' is looked up in the
 * runtime's PATH), builds argv and the environment, and looks the user up.
 * rt_spawn() then forks; the child makes only async-signal-safe calls (the
 * parent may have threads): setsid() (its own process group, so a kill
 * reaches what it started too, and a terminal's ^C does not), default signal
 * dispositions and an empty signal mask, the user (only when crunchd runs as
 * root and "user" is set: the master's hello check; workers already run as
 * that user), PR_SET_PDEATHSIG=SIGKILL (the process dies with the thread
 * that forked it, even when the worker is SIGKILLed), RLIMIT_AS from
 * memory_mb, the pipes as stdin/stdout/stderr, every other descriptor closed
 * (close_range), chdir(cwd), execve(). A step that fails is reported to the
 * parent through a close-on-exec pipe, so rt_spawn() fails with the step and
 * errno named ("execve(\"/usr/bin/python4\"): No such file or directory")
 * rather than with a process that exits 127.
 *
 * The environment is exactly the runtime's "env" entries, plus PATH (crunchd's
 * own, or /usr/local/bin:/usr/bin:/bin) when env does not set it.
 *
 * Thread rules: an rt_cmd is filled by one thread and then only read; the
 * calls on an rt_child are the owner's (rt_pool.h says who that is).
 */
#ifndef CRUNCHD_RT_SPAWN_H
#define CRUNCHD_RT_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "config.h"

#define RT_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define RT_STOP_MS 1000 /* a stopped runtime's time to exit before SIGKILL */

/* What to run, prepared before fork(); points into the config it was made
 * from, which must outlive it. */
typedef struct rt_cmd {
    char path[CONFIG_PATH];             /* the resolved executable */
    char *argv[CONFIG_RT_MAX_ARGV + 1]; /* argv[0] as configured; NULL-terminated */
    char *envp[CONFIG_RT_MAX_ENV + 2];  /* env, PATH; NULL-terminated */
    char path_env[CONFIG_PATH + 8];     /* "PATH=..." when env has none */
    const char *cwd;                    /* NULL: stay */
    rlim_t as_bytes;                    /* RLIMIT_AS; 0: unlimited */
    bool switch_user;
    uid_t uid;
    gid_t gid;
    int maxfd; /* close_range() fallback: close below this */
} rt_cmd;

/* One running process: the parent's ends of its pipes (non-blocking,
 * close-on-exec) and a pidfd (-1 where the kernel has none). */
typedef struct rt_child {
    pid_t pid; /* also its process group */
    int in;    /* its stdin: we write requests */
    int out;   /* its stdout: we read replies */
    int err;   /* its stderr: we read log lines */
    int pidfd; /* readable once it exited */
} rt_child;

/*
 * Fills cmd for rt. user: switch to this user in the child when running as
 * root (NULL or "": never). Returns 0, or -1 with err naming the key
 * ("argv[0] \"python4\": not found in PATH (/usr/bin:/bin)", "cwd
 * \"/srv/x\": No such file or directory", "user \"nobody2\": no such user").
 */
int rt_cmd_prepare(rt_cmd *cmd, const config_runtime *rt, const char *user, char *err,
                   size_t errlen);

/* Starts cmd. Returns 0 with *c filled, or -1 with err naming the step that
 * failed (nothing is left running or open then). */
int rt_spawn(const rt_cmd *cmd, rt_child *c, char *err, size_t errlen);

/* Sends sig to the child's process group: the child and what it started
 * (safe after the child was reaped: see rt_spawn.c). */
void rt_child_signal(const rt_child *c, int sig);

/* Closes every descriptor of c that is open and sets them to -1 (the pid
 * stays: reap it with waitpid()). */
void rt_child_close(rt_child *c);

/* "exited with status 3", "killed by signal 9 (Killed)" for a wait status. */
void rt_describe_status(int status, char *buf, size_t len);

#endif
