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
 *   HUP        reload: the config file is loaded and checked again; if it is
 *              bad, the reason is logged and nothing changes. If good, a new
 *              generation of workers is forked with it, on the same listening
 *              sockets (listener.h: kept addresses keep their sockets); once
 *              every new worker runs, the old ones get SIGQUIT and drain. If a
 *              new worker dies or is not running within 10 s, the reload is
 *              rolled back: the old generation stays, the new one gets TERM.
 *              workers, listen, user, pid_file and log.level follow the file.
 *   USR1       reopen logs: the access log is recreated (owned by "user") and
 *              USR1 goes to every worker, which reopens its access log. The
 *              master's own log is stderr: nothing to reopen.
 *   TTIN/TTOU  one worker more / fewer. TTOU steers new connections away from
 *              the removed slot at once (listener_set_steer) and stops its
 *              worker once the slot's accept queue is empty: nothing is reset.
 *
 * Hung workers: a worker whose heartbeat_ms is older than
 * heartbeat_timeout_s gets SIGABRT (and SIGCONT), SIGKILL 2 s later; the
 * log names the job in its current_job; it is respawned at once.
 *
 * systemd (notify.h): READY=1 once every worker runs; STATUS= with live
 * counts at most once a second; RELOADING=1 + MONOTONIC_USEC, then READY=1,
 * around a reload (also a failed one); STOPPING=1 at a stop; WATCHDOG=1 at
 * half of WATCHDOG_USEC while every worker beat within 3 s (or
 * heartbeat_timeout_s if shorter).
 *
 * Reaped workers are recorded with shm_jobs_record_death() (current and
 * retired ones alike), so their jobs get reaped by a live worker.
 *
 * What a worker can rely on:
 *   - it starts with an empty signal mask; SIGQUIT, SIGTERM, SIGINT, SIGCHLD
 *     and SIGALRM at SIG_DFL; SIGHUP, SIGUSR1, SIGTTIN and SIGTTOU at SIG_IGN
 *     (a worker that wants USR1 installs its own event for it)
 *     (a hang-up or a signal sent to the whole process group does not kill
 *     it); SIGPIPE ignored (main() ignores it before the master starts);
 *   - PR_SET_PDEATHSIG is SIGTERM: if the master dies the worker gets TERM;
 *   - its shm slot already holds state SHM_W_STARTING, the new incarnation and
 *     started_at_ms; the master fills in pid right after fork(). The worker
 *     sets SHM_W_RUNNING itself once its loop serves;
 *   - the listening fds it gets are the only ones open in it; the master keeps
 *     its own copies, so the worker may close its copies whenever it likes;
 *   - runs as "user" (setgroups(0), setgid, setuid) when the master is root;
 *   - NOTIFY_SOCKET, WATCHDOG_*, LISTEN_* are not in its environment;
 *   - during a reload its slot is shared with the old process of the slot:
 *     write state, heartbeat_ms and current_job only if shm_worker_mine().
 */
#ifndef CRUNCHD_MASTER_H
#define CRUNCHD_MASTER_H

#include "config.h"

/*
 * Runs the master in the foreground until it is stopped. cfg is copied (a
 * reload replaces the copy); config_path is the file it came from (NULL for
 * the built-in defaults), borrowed for the whole call and read again on HUP.
 * Writes cfg->pid_file (if set) and removes it at exit. Returns the process
 * exit code: 0 after a stop by signal, 1 if startup failed (the reason is
 * logged).
 */
int master_run(const config *cfg, const char *config_path);

#endif
