/*
 * master.c - see master.h. The loop and the signals, nginx style
 * (ngx_master_process_cycle): one signal table, handlers that only set a
 * flag, a loop on sigsuspend() that acts on the flags and then runs the
 * timed work of every part of the master (the tick). The parts live in
 * their own files (mstate.h lists them); the order of start-up, of the
 * tick and of the stop is here.
 */
#include "master.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "functions.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "mstate.h"
#include "nofile.h"
#include "notify.h"
#include "pidfile.h"
#include "preflight.h"
#include "reload.h"
#include "scale.h"
#include "shm.h"
#include "spawn.h"
#include "store.h"
#include "user.h"
#include "wake.h"
#include "watchdog.h"

#define MASTER_TICK_MS 100         /* SIGALRM period: drives back-off and deadlines */
#define MASTER_REAP_GIVEUP_MS 2000 /* after the SIGKILL deadline, stop waiting */

/*
 * Signals. The handler only sets the entry's flag; the master acts on it in
 * master_dispatch() after sigsuspend() returns. All of them are blocked
 * outside sigsuspend(), so reading and clearing the flags does not race.
 */
static volatile sig_atomic_t got_quit, got_term, got_int, got_hup, got_usr1, got_ttin, got_ttou,
    got_chld, got_alrm;

static const master_signal master_signals[] = {
    {SIGQUIT, "SIGQUIT", &got_quit, SIG_DFL}, {SIGTERM, "SIGTERM", &got_term, SIG_DFL},
    {SIGINT, "SIGINT", &got_int, SIG_DFL},    {SIGHUP, "SIGHUP", &got_hup, SIG_IGN},
    {SIGUSR1, "SIGUSR1", &got_usr1, SIG_IGN}, {SIGTTIN, "SIGTTIN", &got_ttin, SIG_IGN},
    {SIGTTOU, "SIGTTOU", &got_ttou, SIG_IGN}, {SIGCHLD, "SIGCHLD", &got_chld, SIG_DFL},
    {SIGALRM, "SIGALRM", &got_alrm, SIG_DFL},
};
#define MASTER_NSIGNALS (sizeof(master_signals) / sizeof(master_signals[0]))

static void master_signal_handler(int signo)
{
    int saved = errno;
    for (size_t i = 0; i < MASTER_NSIGNALS; i++) {
        if (master_signals[i].signo == signo)
            *master_signals[i].flag = 1;
    }
    errno = saved;
}

/* Blocks our signals (kept blocked outside sigsuspend) and installs the handler. */
static int master_signals_init(master *m)
{
    sigset_t set, old;
    sigemptyset(&set);
    for (size_t i = 0; i < MASTER_NSIGNALS; i++)
        sigaddset(&set, master_signals[i].signo);
    if (sigprocmask(SIG_BLOCK, &set, &old) < 0) {
        log_error("sigprocmask(SIG_BLOCK) of the master's signals failed: %s", strerror(errno));
        return -1;
    }
    m->signals = master_signals;
    m->nsignals = MASTER_NSIGNALS;
    m->wait_mask = old;
    for (size_t i = 0; i < MASTER_NSIGNALS; i++) {
        struct sigaction sa = {0};
        sa.sa_handler = master_signal_handler;
        sa.sa_mask = set;
        sa.sa_flags = SA_RESTART | (master_signals[i].signo == SIGCHLD ? SA_NOCLDSTOP : 0);
        sigdelset(&m->wait_mask, master_signals[i].signo);
        if (sigaction(master_signals[i].signo, &sa, NULL) < 0) {
            log_error("sigaction(%s) failed: %s", master_signals[i].name, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int master_timer_set(int ms)
{
    struct itimerval it = {.it_interval = clock_tv_ms(ms), .it_value = clock_tv_ms(ms)};
    if (setitimer(ITIMER_REAL, &it, NULL) < 0) {
        log_error("setitimer(ITIMER_REAL, %d ms) failed: %s", ms, strerror(errno));
        return -1;
    }
    return 0;
}

/* Creates the job store and takes over the jobs a previous run left
 * running, before any worker can claim. */
static int master_store_prepare(const master *m)
{
    char err[512];
    int requeued = 0, failed = 0;
    if (store_shared_init(&m->cfg->store, m->shm->jobs.store_shared, err, sizeof(err)) < 0 ||
        store_prepare(&m->cfg->store, &requeued, &failed, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -1;
    }
    if (requeued || failed)
        log_notice("jobs left running by the previous run: %d re-queued, %d failed as worker_lost",
                   requeued, failed);
    return 0;
}

/*
 * Starts a stop: workers get `sig` now and SIGKILL at the deadline. The
 * master's listener copies close at once, so once a worker closes its own
 * copies the socket is gone and new connections are refused, not queued.
 * A fast stop overrides a graceful one in progress, never the reverse.
 */
static void master_stop_workers(master *m, master_stop how, const char *signame)
{
    if (how <= m->stop)
        return;
    m->stop = how;
    int64_t now = shm_mono_ms();
    int64_t grace = how == MASTER_STOP_GRACEFUL
                        ? (int64_t)m->cfg->shutdown_timeout_s * 1000 + MASTER_QUIT_EXTRA_MS
                        : MASTER_TERM_GRACE_MS;
    int sig = how == MASTER_STOP_GRACEFUL ? SIGQUIT : SIGTERM;
    const char *sent = how == MASTER_STOP_GRACEFUL ? "SIGQUIT" : "SIGTERM";

    if (how == MASTER_STOP_GRACEFUL)
        log_notice("%s received: graceful stop, waiting up to %lld ms for workers", signame,
                   (long long)grace);
    else
        log_notice("%s received: fast stop", signame);
    notify_send("STOPPING=1\nSTATUS=stopping (%s)",
                how == MASTER_STOP_GRACEFUL ? "graceful" : "fast");

    reload_abandon(m);
    listener_set_close(m->ls);
    m->ls = NULL;
    for (int i = 0; i < CONFIG_MAX_WORKERS; i++) {
        master_slot *s = &m->slot[i];
        s->respawn_at_ms = 0;
        if (s->pid == 0)
            continue;
        if (kill(s->pid, sig) < 0)
            log_warn("kill(%d, %s) of worker %d failed: %s", (int)s->pid, sent, i, strerror(errno));
        if (s->kill_at_ms == 0 || s->kill_at_ms > now + grace)
            s->kill_at_ms = now + grace;
    }
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        master_old *o = &m->old[i];
        if (o->phase == OLD_FREE || (o->phase == OLD_STOPPING && sig == SIGQUIT))
            continue;
        spawn_old_stop(m, o, sig);
    }
    m->give_up_at_ms = now + grace + MASTER_REAP_GIVEUP_MS;
}

/* USR1: the master's own log is stderr (nothing to reopen); the workers
 * reopen the access log. The file is recreated for them first. */
static void master_reopen(master *m)
{
    log_notice("SIGUSR1 received: reopening log files");
    user_own_files(m->cfg, &m->user);
    for (int i = 0; i < CONFIG_MAX_WORKERS; i++) {
        if (m->slot[i].pid != 0 && kill(m->slot[i].pid, SIGUSR1) < 0)
            log_warn("kill(%d, SIGUSR1) of worker %d failed: %s", (int)m->slot[i].pid, i,
                     strerror(errno));
    }
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        const master_old *o = &m->old[i];
        if (o->phase != OLD_FREE && kill(o->pid, SIGUSR1) < 0)
            log_warn("kill(%d, SIGUSR1) of retired worker %d failed: %s", (int)o->pid, o->slot,
                     strerror(errno));
    }
}

static void master_on_signal(master *m, const master_signal *sig)
{
    switch (sig->signo) {
    case SIGCHLD: spawn_reap(m); break;
    case SIGQUIT: master_stop_workers(m, MASTER_STOP_GRACEFUL, sig->name); break;
    case SIGTERM:
    case SIGINT: master_stop_workers(m, MASTER_STOP_FAST, sig->name); break;
    case SIGHUP:
        if (m->stop == MASTER_RUNNING)
            reload_start(m);
        break;
    case SIGUSR1: master_reopen(m); break;
    case SIGTTIN:
    case SIGTTOU:
        if (m->stop != MASTER_RUNNING)
            break;
        if (m->reload.active)
            log_warn("%s received: a reload is in progress, try again later", sig->name);
        else if (sig->signo == SIGTTIN)
            scale_add_worker(m);
        else
            scale_remove_worker(m);
        break;
    default: /* SIGALRM: master_tick() runs after every wake-up anyway */ break;
    }
}

static void master_dispatch(master *m)
{
    for (size_t i = 0; i < MASTER_NSIGNALS; i++) {
        if (*master_signals[i].flag) {
            *master_signals[i].flag = 0;
            master_on_signal(m, &master_signals[i]);
        }
    }
}

/* Timed work, after every wake-up. */
static void master_tick(master *m)
{
    int64_t now = shm_mono_ms();
    spawn_tick(m, now);
    if (m->stop != MASTER_RUNNING)
        return;
    watchdog_hung_tick(m, now);
    reload_tick(m, now);
    scale_retire_tick(m, now);
    scale_steer_tick(m);
    watchdog_notify_tick(m, now);
}

/* True when a stop is complete: every worker reaped, or we gave up waiting. */
static bool master_done(master *m)
{
    if (m->stop == MASTER_RUNNING)
        return false;
    int left = 0;
    for (int i = 0; i < CONFIG_MAX_WORKERS; i++)
        left += m->slot[i].pid != 0;
    for (int i = 0; i < MASTER_MAX_OLD; i++)
        left += m->old[i].phase != OLD_FREE;
    if (left == 0)
        return true;
    if (shm_mono_ms() < m->give_up_at_ms)
        return false;
    log_error("%d worker%s still running after SIGKILL; exiting anyway", left,
              left == 1 ? " is" : "s are");
    return true;
}

int master_run(const config *cfg, const char *config_path)
{
    static master m; /* large (one entry per possible slot), and only one per process */
    char err[1200];
    int rc = 1;

    memset(&m, 0, sizeof(m));
    m.cur = *cfg;
    m.cfg = &m.cur;
    m.config_path = config_path;
    m.pid = getpid();
    m.nslots = cfg->workers;
    if (m.nslots < 1 || m.nslots > CONFIG_MAX_WORKERS) {
        log_error("workers: %d is outside 1..%d", m.nslots, CONFIG_MAX_WORKERS);
        return 1;
    }
    if (preflight_check(m.cfg, NULL, NULL, err, sizeof(err)) < 0) { /* as crunchd -t */
        log_error("%s", err);
        return 1;
    }
    if (notify_init(err, sizeof(err)) < 0)
        log_warn("%s; not notifying systemd", err);
    if (user_lookup(m.cfg, &m.user) < 0)
        return 1;
    if (nofile_ensure(m.cfg, true, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    if (functions_load(&m.cur, NULL, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    m.shm = shm_create(metrics_shm_bytes(m.cur.functions.registry));
    if (!m.shm) {
        log_error("mmap() of the shared region failed: %s", strerror(errno));
        return 1;
    }
    metrics_register_fns(m.shm, m.cur.functions.registry);
    if (master_signals_init(&m) < 0)
        goto done;
    if (wake_dir_create(m.user.switch_user, m.user.uid, m.user.gid, err, sizeof(err)) < 0) {
        log_error("%s", err);
        goto done;
    }
    log_info("wake-up sockets in %s", wake_dir_path());
    m.ls = listener_set_open(m.cfg, m.nslots, err, sizeof(err));
    if (!m.ls) {
        log_error("%s", err);
        goto done;
    }
    if (pidfile_open(&m.pid_file, m.cfg->pid_file) < 0)
        goto done;
    if (master_store_prepare(&m) < 0)
        goto done;
    user_own_files(m.cfg, &m.user);
    atomic_store(&m.shm->master_pid, m.pid);
    atomic_store(&m.shm->nslots, m.nslots);
    atomic_store(&m.shm->started_at_ms, shm_wall_ms());
    if (master_timer_set(MASTER_TICK_MS) < 0)
        goto done;

    log_notice("crunchd %s started, %d worker%s", CRUNCHD_VERSION, m.nslots,
               m.nslots == 1 ? "" : "s");
    for (int i = 0; i < m.nslots; i++)
        spawn_worker(&m, i);

    for (;;) {
        master_dispatch(&m);
        master_tick(&m);
        if (master_done(&m))
            break;
        sigsuspend(&m.wait_mask);
    }
    rc = 0;

done:
    master_timer_set(0);
    reload_abandon(&m);
    listener_set_close(m.ls);
    m.ls = NULL;
    pidfile_remove(&m.pid_file);
    wake_dir_remove();
    shm_destroy(m.shm);
    log_notice("exiting with code %d", rc);
    notify_close();
    return rc;
}
