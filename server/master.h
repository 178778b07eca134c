/*
 * master.h - the master process (DESIGN.md sections 1 and 7, nginx style).
 *
 * The master binds the listeners, forks one worker per slot, reaps and
 * respawns them, and acts on signals. It never serves a request and calls no
 * worker code except worker_run() in a freshly forked child.
 *
 * Signals to the master:
 *   QUIT       graceful stop: SIGQUIT to every worker, wait for them; whoever
 *              is left at shutdown_timeout_s + 2 s gets SIGKILL; exit 0.
 *   TERM, INT  fast stop: SIGTERM to every worker, SIGKILL after 1 s; exit 0.
 *   TTIN/TTOU  one worker more / fewer.
 *   HUP, USR1  reload / reopen: not implemented yet (logged).
 *
 * What a worker can rely on:
 *   - it starts with an empty signal mask; SIGQUIT, SIGTERM, SIGINT, SIGCHLD
 *     and SIGALRM at SIG_DFL; SIGHUP, SIGUSR1, SIGTTIN and SIGTTOU at SIG_IGN
 *     (a hang-up or a signal sent to the whole process group does not kill
 *     it); SIGPIPE ignored (main() ignores it before the master starts);
 *   - PR_SET_PDEATHSIG is SIGTERM: if the master dies the worker gets TERM;
 *   - its shm slot already holds state SHM_W_STARTING, the new incarnation and
 *     started_at_ms; the master fills in pid right after fork(). The worker
 *     sets SHM_W_RUNNING itself once its loop serves;
 *   - the listening fds it gets are the only ones open in it; the master keeps
 *     its own copies, so the worker may close its copies whenever it likes.
 */
#ifndef CRUNCHD_MASTER_H
#define CRUNCHD_MASTER_H

#include "config.h"

/*
 * Runs the master in the foreground until it is stopped. cfg is borrowed and
 * must outlive the call; config_path is the file it came from (NULL for the
 * built-in defaults), kept for reload. Writes cfg->pid_file (if set) and
 * removes it at exit. Returns the process exit code: 0 after a stop by
 * signal, 1 if startup failed (the reason is logged).
 */
int master_run(const config *cfg, const char *config_path);

#endif
