#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "shm.h"
#include "worker.h"

#define MASTER_TICK_MS 100         /* SIGALRM period: drives back-off and deadlines */
#define MASTER_FAST_EXIT_MS 1000   /* a worker that lived less failed "fast" */
#define MASTER_BACKOFF_BASE_MS 100 /* first respawn delay after a fast failure */
#define MASTER_BACKOFF_MAX_MS 10000
#define MASTER_QUIT_EXTRA_MS 2000  /* QUIT: SIGKILL at shutdown_timeout_s + this */
#define MASTER_TERM_GRACE_MS 1000  /* TERM/INT: SIGKILL after this */
#define MASTER_REAP_GIVEUP_MS 2000 /* after the SIGKILL deadline, stop waiting */

typedef enum master_stop {
    MASTER_RUNNING = 0,
    MASTER_STOP_GRACEFUL, /* QUIT: workers drain */
    MASTER_STOP_FAST,     /* TERM/INT: workers end now */
} master_stop;

typedef struct master_slot {
    pid_t pid;             /* 0 when no process runs in the slot */
    int64_t started_ms;    /* monotonic time pid was forked */
    int fast_fails;        /* consecutive lives shorter than MASTER_FAST_EXIT_MS */
    int64_t respawn_at_ms; /* monotonic; 0 = no respawn pending */
    int64_t kill_at_ms;    /* monotonic; 0 = no SIGKILL deadline */
} master_slot;

typedef struct master {
    const config *cfg;
    const char *config_path; /* for reload; NULL = built-in defaults */
    shm_region *shm;
    listener_set *ls;        /* NULL once closed at the start of a stop */
    pid_t pid;
    int nslots;              /* live slots 0 .. nslots-1; higher ones only drain */
    master_stop stop;
    int64_t give_up_at_ms;   /* stopping: exit even if children remain */
    bool switch_user;        /* cfg->user set and we run as root */
    uid_t uid;
    gid_t gid;
    sigset_t wait_mask;      /* for sigsuspend(): our signals unblocked */
    master_slot slot[CONFIG_MAX_WORKERS];
} master;

/*
 * Signals. The handler only sets the entry's flag; the master acts on it in
 * master_dispatch() after sigsuspend() returns. All of them are blocked
 * outside sigsuspend(), so reading and clearing the flags does not race.
 */
static volatile sig_atomic_t got_quit, got_term, got_int, got_hup, got_usr1, got_ttin,
    got_ttou, got_chld, got_alrm;

typedef struct master_signal {
    int signo;
    const char *name;
    volatile sig_atomic_t *flag;
    void (*in_worker)(int); /* disposition a new worker starts with */
} master_signal;

static const master_signal master_signals[] = {
    {SIGQUIT, "SIGQUIT", &got_quit, SIG_DFL},
    {SIGTERM, "SIGTERM", &got_term, SIG_DFL},
    {SIGINT, "SIGINT", &got_int, SIG_DFL},
    {SIGHUP, "SIGHUP", &got_hup, SIG_IGN},
    {SIGUSR1, "SIGUSR1", &got_usr1, SIG_IGN},
    {SIGTTIN, "SIGTTIN", &got_ttin, SIG_IGN},
    {SIGTTOU, "SIGTTOU", &got_ttou, SIG_IGN},
    {SIGCHLD, "SIGCHLD", &got_chld, SIG_DFL},
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
        log_error("sigprocmask() failed: %s", strerror(errno));
        return -1;
    }
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
    struct itimerval it = {0};
    it.it_interval.tv_sec = ms / 1000;
    it.it_interval.tv_usec = (ms % 1000) * 1000;
    it.it_value = it.it_interval;
    if (setitimer(ITIMER_REAL, &it, NULL) < 0) {
        log_error("setitimer() failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Resolves cfg->user now, so a worker only has to call set*id(). */
static int master_user_init(master *m)
{
    const char *user = m->cfg->user;
    if (user[0] == '\0')
        return 0;
    if (geteuid() != 0) {
        log_warn("\"user\" is ignored: the master does not run as root");
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        log_error("getpwnam(\"%s\") failed: %s", user, errno ? strerror(errno) : "no such user");
        return -1;
    }
    m->switch_user = true;
    m->uid = pw->pw_uid;
    m->gid = pw->pw_gid;
    return 0;
}

static int master_pid_file_write(const char *path)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("open() of pid file \"%s\" failed: %s", path, strerror(errno));
        return -1;
    }
    if (write(fd, buf, (size_t)n) != n) {
        log_error("write() to pid file \"%s\" failed: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

/*
 * The child side of a spawn; never returns. Order matters: dispositions
 * before unblocking (a pending signal must not reach the master's handler),
 * set*id() before PR_SET_PDEATHSIG (a credential change clears it).
 */
__attribute__((noreturn))
static void master_child(master *m, int slot)
{
    char role[32];
    snprintf(role, sizeof(role), "worker %d", slot);
    log_set_role(role);

    for (size_t i = 0; i < MASTER_NSIGNALS; i++) {
        struct sigaction sa = {0};
        sa.sa_handler = master_signals[i].in_worker;
        sigemptyset(&sa.sa_mask);
        sigaction(master_signals[i].signo, &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (m->switch_user) {
        if (setgid(m->gid) < 0 || initgroups(m->cfg->user, m->gid) < 0 || setuid(m->uid) < 0) {
            log_error("switching to user \"%s\" failed: %s", m->cfg->user, strerror(errno));
            _exit(1);
        }
    }
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
        log_warn("prctl(PR_SET_PDEATHSIG) failed: %s", strerror(errno));
    if (getppid() != m->pid)
        _exit(1); /* the master died before we could ask to be told */

    listener_set_close_others(m->ls, slot);
    int fds[CONFIG_MAX_LISTEN];
    int nfds = listener_set_slot_fds(m->ls, slot, fds, CONFIG_MAX_LISTEN);
    if (nfds < 0) {
        log_error("worker %d has no listening sockets", slot);
        _exit(1);
    }
    _exit(worker_run(m->cfg, m->shm, slot, fds, nfds));
}

/*
 * Forks the worker of `slot`. The shm slot is set to STARTING before fork()
 * so the worker's own RUNNING can never be overwritten by it.
 */
static void master_spawn(master *m, int slot)
{
    master_slot *s = &m->slot[slot];
    shm_worker *w = &m->shm->w[slot];

    s->respawn_at_ms = 0;
    atomic_fetch_add(&w->incarnation, 1);
    atomic_store(&w->started_at_ms, shm_wall_ms());
    atomic_store(&w->state, SHM_W_STARTING);

    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork() failed while spawning worker %d: %s", slot, strerror(errno));
        atomic_fetch_sub(&w->incarnation, 1);
        atomic_store(&w->state, SHM_W_DEAD);
        s->fast_fails++;
        s->respawn_at_ms = shm_mono_ms() + MASTER_BACKOFF_MAX_MS;
        return;
    }
    if (pid == 0)
        master_child(m, slot);

    s->pid = pid;
    s->started_ms = shm_mono_ms();
    s->kill_at_ms = 0;
    atomic_store(&w->pid, pid);
    log_info("started worker %d (pid %d, incarnation %u)", slot, (int)pid,
             atomic_load(&w->incarnation));
}

/* min(100 ms * 2^(n-1), 10 s) for the n-th fast failure in a row. */
static int64_t master_backoff_ms(int fast_fails)
{
    int64_t ms = MASTER_BACKOFF_BASE_MS;
    for (int i = 1; i < fast_fails && ms < MASTER_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < MASTER_BACKOFF_MAX_MS ? ms : MASTER_BACKOFF_MAX_MS;
}

static void master_schedule_respawn(master *m, int slot, int64_t lived_ms)
{
    master_slot *s = &m->slot[slot];
    int64_t now = shm_mono_ms();

    atomic_fetch_add(&m->shm->w[slot].restarts, 1);
    if (lived_ms >= MASTER_FAST_EXIT_MS) {
        s->fast_fails = 0;
        s->respawn_at_ms = now;
        log_notice("respawning worker %d", slot);
        return;
    }
    s->fast_fails++;
    int64_t delay = master_backoff_ms(s->fast_fails);
    s->respawn_at_ms = now + delay;
    log_warn("worker %d failed %d time%s in a row within %d ms of starting: respawning in %lld ms",
             slot, s->fast_fails, s->fast_fails == 1 ? "" : "s", MASTER_FAST_EXIT_MS,
             (long long)delay);
}

/* Records the exit of the process in `slot` and respawns unless stopping. */
static void master_on_exit(master *m, int slot, int status)
{
    master_slot *s = &m->slot[slot];
    shm_worker *w = &m->shm->w[slot];
    pid_t pid = s->pid;
    int64_t lived = shm_mono_ms() - s->started_ms;
    bool expected = m->stop != MASTER_RUNNING || slot >= m->nslots;
    log_level lvl = expected ? LOG_LVL_NOTICE : LOG_LVL_WARN;

    s->pid = 0;
    s->kill_at_ms = 0;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        atomic_store(&w->last_exit_code, -1);
        atomic_store(&w->last_exit_signal, sig);
        log_msg(lvl, "worker %d (pid %d) killed by signal %d (%s)%s", slot, (int)pid, sig,
                strsignal(sig), WCOREDUMP(status) ? ", core dumped" : "");
    } else {
        int code = WEXITSTATUS(status);
        atomic_store(&w->last_exit_code, code);
        atomic_store(&w->last_exit_signal, 0);
        log_msg(lvl, "worker %d (pid %d) exited with code %d", slot, (int)pid, code);
    }
    atomic_store(&w->pid, 0);
    atomic_store(&w->state, SHM_W_DEAD);
    if (!expected)
        master_schedule_respawn(m, slot, lived);
}

static void master_reap(master *m)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0 || (pid < 0 && errno == ECHILD))
            return;
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            log_error("waitpid() failed: %s", strerror(errno));
            return;
        }
        int slot = -1;
        for (int i = 0; i < CONFIG_MAX_WORKERS && slot < 0; i++) {
            if (m->slot[i].pid == pid)
                slot = i;
        }
        if (slot < 0)
            log_info("reaped unknown child pid %d", (int)pid);
        else
            master_on_exit(m, slot, status);
    }
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

    listener_set_close(m->ls);
    m->ls = NULL;
    for (int i = 0; i < CONFIG_MAX_WORKERS; i++) {
        master_slot *s = &m->slot[i];
        s->respawn_at_ms = 0;
        if (s->pid == 0)
            continue;
        if (kill(s->pid, sig) < 0)
            log_warn("kill(%d, %s) failed: %s", (int)s->pid, sent, strerror(errno));
        if (s->kill_at_ms == 0 || s->kill_at_ms > now + grace)
            s->kill_at_ms = now + grace;
    }
    m->give_up_at_ms = now + grace + MASTER_REAP_GIVEUP_MS;
}

/* TTIN: one more slot, with its own sockets. */
static void master_add_worker(master *m)
{
    int slot = m->nslots;
    char err[512];

    if (slot >= CONFIG_MAX_WORKERS) {
        log_warn("SIGTTIN received: already at the maximum of %d workers", CONFIG_MAX_WORKERS);
        return;
    }
    if (m->slot[slot].pid != 0) {
        log_warn("SIGTTIN received: worker %d (pid %d) is still stopping, try again later", slot,
                 (int)m->slot[slot].pid);
        return;
    }
    if (listener_set_grow(m->ls, slot + 1, err, sizeof(err)) < 0) {
        log_error("SIGTTIN received: %s", err);
        return;
    }
    m->nslots = slot + 1;
    atomic_store(&m->shm->nslots, m->nslots);
    m->slot[slot].fast_fails = 0;
    log_notice("SIGTTIN received: adding worker %d, %d worker%s now", slot, m->nslots,
               m->nslots == 1 ? "" : "s");
    master_spawn(m, slot);
}

/*
 * TTOU: the highest slot drains and is not respawned. Its sockets close in
 * the master now; they leave the kernel's SO_REUSEPORT group when the worker
 * closes its copies on SIGQUIT, which resets only what sat unaccepted in
 * that slot's queue at that instant.
 */
static void master_remove_worker(master *m)
{
    if (m->nslots <= 1) {
        log_notice("SIGTTOU received: keeping the last worker");
        return;
    }
    int slot = --m->nslots;
    master_slot *s = &m->slot[slot];

    atomic_store(&m->shm->nslots, m->nslots);
    listener_set_shrink(m->ls, m->nslots);
    s->respawn_at_ms = 0;
    if (s->pid == 0) {
        log_notice("SIGTTOU received: removed worker %d, %d worker%s now", slot, m->nslots,
                   m->nslots == 1 ? "" : "s");
        return;
    }
    log_notice("SIGTTOU received: stopping worker %d (pid %d), %d worker%s now", slot,
               (int)s->pid, m->nslots, m->nslots == 1 ? "" : "s");
    kill(s->pid, SIGQUIT);
    s->kill_at_ms =
        shm_mono_ms() + (int64_t)m->cfg->shutdown_timeout_s * 1000 + MASTER_QUIT_EXTRA_MS;
}

static void master_on_signal(master *m, const master_signal *sig)
{
    switch (sig->signo) {
    case SIGCHLD:
        master_reap(m);
        break;
    case SIGQUIT:
        master_stop_workers(m, MASTER_STOP_GRACEFUL, sig->name);
        break;
    case SIGTERM:
    case SIGINT:
        master_stop_workers(m, MASTER_STOP_FAST, sig->name);
        break;
    case SIGHUP:
        log_notice("%s received: reload is not implemented yet", sig->name);
        break;
    case SIGUSR1:
        log_notice("%s received: reopening logs is not implemented yet", sig->name);
        break;
    case SIGTTIN:
        if (m->stop == MASTER_RUNNING)
            master_add_worker(m);
        break;
    case SIGTTOU:
        if (m->stop == MASTER_RUNNING)
            master_remove_worker(m);
        break;
    default: /* SIGALRM: master_tick() runs after every wake-up anyway */
        break;
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

/* Timed work: SIGKILL deadlines and due respawns. */
static void master_tick(master *m)
{
    int64_t now = shm_mono_ms();
    for (int i = 0; i < CONFIG_MAX_WORKERS; i++) {
        master_slot *s = &m->slot[i];
        if (s->pid != 0 && s->kill_at_ms != 0 && now >= s->kill_at_ms) {
            log_warn("worker %d (pid %d) did not exit in time: sending SIGKILL", i, (int)s->pid);
            kill(s->pid, SIGKILL);
            s->kill_at_ms = 0;
        }
        if (m->stop == MASTER_RUNNING && i < m->nslots && s->pid == 0 && s->respawn_at_ms != 0 &&
            now >= s->respawn_at_ms)
            master_spawn(m, i);
    }
}

/* True when a stop is complete: every worker reaped, or we gave up waiting. */
static bool master_done(master *m)
{
    if (m->stop == MASTER_RUNNING)
        return false;
    int left = 0;
    for (int i = 0; i < CONFIG_MAX_WORKERS; i++)
        left += m->slot[i].pid != 0;
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
    char err[512];
    int rc = 1;
    bool pid_file_written = false;

    memset(&m, 0, sizeof(m));
    m.cfg = cfg;
    m.config_path = config_path;
    m.pid = getpid();
    m.nslots = cfg->workers;
    if (m.nslots < 1 || m.nslots > CONFIG_MAX_WORKERS) {
        log_error("workers: %d is outside 1..%d", m.nslots, CONFIG_MAX_WORKERS);
        return 1;
    }
    if (master_user_init(&m) < 0)
        return 1;
    m.shm = shm_create();
    if (!m.shm) {
        log_error("mmap() of the shared region failed: %s", strerror(errno));
        return 1;
    }
    if (master_signals_init(&m) < 0)
        goto done;
    m.ls = listener_set_open(cfg, m.nslots, err, sizeof(err));
    if (!m.ls) {
        log_error("%s", err);
        goto done;
    }
    if (cfg->pid_file[0] != '\0') {
        if (master_pid_file_write(cfg->pid_file) < 0)
            goto done;
        pid_file_written = true;
    }
    atomic_store(&m.shm->master_pid, m.pid);
    atomic_store(&m.shm->nslots, m.nslots);
    atomic_store(&m.shm->started_at_ms, shm_wall_ms());
    if (master_timer_set(MASTER_TICK_MS) < 0)
        goto done;

    log_notice("crunchd %s started, %d worker%s", CRUNCHD_VERSION, m.nslots,
               m.nslots == 1 ? "" : "s");
    for (int i = 0; i < m.nslots; i++)
        master_spawn(&m, i);

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
    listener_set_close(m.ls);
    m.ls = NULL;
    if (pid_file_written)
        unlink(cfg->pid_file);
    shm_destroy(m.shm);
    log_notice("exiting with code %d", rc);
    return rc;
}
