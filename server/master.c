#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "functions.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "nofile.h"
#include "notify.h"
#include "preflight.h"
#include "shm.h"
#include "store.h"
#include "wake.h"
#include "worker.h"

#define MASTER_TICK_MS 100         /* SIGALRM period: drives back-off and deadlines */
#define MASTER_FAST_EXIT_MS 1000   /* a worker that lived less failed "fast" */
#define MASTER_BACKOFF_BASE_MS 100 /* first respawn delay after a fast failure */
#define MASTER_BACKOFF_MAX_MS 10000
#define MASTER_QUIT_EXTRA_MS 2000  /* QUIT: SIGKILL at shutdown_timeout_s + this */
#define MASTER_TERM_GRACE_MS 1000  /* TERM/INT: SIGKILL after this */
#define MASTER_REAP_GIVEUP_MS 2000 /* after the SIGKILL deadline, stop waiting */
#define MASTER_HUNG_KILL_MS 2000   /* a hung worker: SIGABRT, then SIGKILL after this */
#define MASTER_RELOAD_START_MS 10000 /* reload: new workers must be up within this */
#define MASTER_STEER_SETTLE_MS 500 /* retiring slot: handshakes begun before steering end */
#define MASTER_RETIRE_MAX_MS 5000  /* retiring slot: stop waiting for its queue */
#define MASTER_FRESH_MS 3000       /* watchdog: a heartbeat younger than this is fresh */
#define MASTER_STATUS_MS 1000      /* STATUS= at most this often */
#define MASTER_MAX_OLD (CONFIG_MAX_WORKERS * 4)

typedef enum master_stop {
    MASTER_RUNNING = 0,
    MASTER_STOP_GRACEFUL, /* QUIT: workers drain */
    MASTER_STOP_FAST,     /* TERM/INT: workers end now */
} master_stop;

/* The current process of a slot. */
typedef struct master_slot {
    pid_t pid;             /* 0 when no process runs in the slot */
    int64_t started_ms;    /* monotonic time pid was forked */
    int fast_fails;        /* consecutive lives shorter than MASTER_FAST_EXIT_MS */
    int64_t respawn_at_ms; /* monotonic; 0 = no respawn pending */
    int64_t kill_at_ms;    /* monotonic; 0 = no SIGKILL deadline */
    bool hung;             /* got SIGABRT for a stale heartbeat */
    unsigned incarnation;  /* of pid, for shm_jobs_record_death() */
} master_slot;

/*
 * A process that no longer is the current one of its slot: the previous
 * generation during and after a reload, a slot removed by TTOU or by a
 * reload to fewer workers, or a new worker discarded by a failed reload.
 */
typedef enum old_phase {
    OLD_FREE = 0,
    OLD_SERVING,  /* reload pending: still serving, the new generation is starting */
    OLD_RETIRING, /* its slot is steered away: waiting until the slot's queue is empty */
    OLD_STOPPING, /* asked to stop (QUIT or TERM); SIGKILL at kill_at_ms */
} old_phase;

typedef struct master_old {
    old_phase phase;
    pid_t pid;
    int slot;
    int64_t since_ms;      /* entered the phase (monotonic) */
    int64_t kill_at_ms;
    int quit_timeout_s;    /* shutdown_timeout_s of the config it runs */
    unsigned incarnation;
} master_old;

/* What a reload in progress needs to commit or roll back. */
typedef struct master_reload {
    bool active;
    bool again;            /* another HUP came while active */
    const char *failed;    /* set by a reap: roll back at the next tick */
    int64_t deadline_ms;
    int old_nslots;
    listener_set *old_ls;  /* the running set; m->ls is the new one */
    master_slot saved[CONFIG_MAX_WORKERS];
    unsigned saved_incarnation[CONFIG_MAX_WORKERS];
    int64_t saved_started_at[CONFIG_MAX_WORKERS];
    unsigned saved_generation[CONFIG_MAX_WORKERS];
} master_reload;

typedef struct master_user {
    bool switch_user;      /* user set and we run as root */
    uid_t uid;
    gid_t gid;
} master_user;

typedef struct master {
    const config *cfg;       /* the running config: &cfg_cur */
    const char *config_path; /* for reload; NULL = built-in defaults */
    shm_region *shm;
    listener_set *ls;        /* NULL once closed at the start of a stop */
    pid_t pid;
    int nslots;              /* live slots 0 .. nslots-1 */
    unsigned generation;     /* of the workers being spawned now */
    master_stop stop;
    int64_t give_up_at_ms;   /* stopping: exit even if children remain */
    master_user user;
    char pid_file[CONFIG_PATH]; /* written by us; "" if none */
    sigset_t wait_mask;      /* for sigsuspend(): our signals unblocked */
    int steer_n;             /* slots the BPF steering sends to; 0 = no program */
    bool ready_sent;         /* READY=1 after the first start */
    int64_t next_watchdog_ms;
    int64_t next_status_ms;
    char last_status[256];
    master_reload reload;
    master_slot slot[CONFIG_MAX_WORKERS];
    master_old old[MASTER_MAX_OLD];
} master;

/* The configs: the running one, the previous one during a reload, scratch. */
static config cfg_cur, cfg_prev, cfg_next;

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

/* ---- privileges and files ------------------------------------------------ */

/* Resolves cfg->user now, so a worker only has to call set*id(). */
static int master_user_lookup(const config *cfg, master_user *u)
{
    memset(u, 0, sizeof(*u));
    if (cfg->user[0] == '\0')
        return 0;
    if (geteuid() != 0) {
        log_warn("\"user\" is ignored: the master does not run as root");
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(cfg->user);
    if (!pw) {
        log_error("getpwnam(\"%s\") failed: %s", cfg->user,
                  errno ? strerror(errno) : "no such user");
        return -1;
    }
    u->switch_user = true;
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;
    return 0;
}

/* Gives path to the workers' user if it exists and is not theirs yet. */
static void master_chown(const master *m, const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return;
    if (st.st_uid == m->user.uid && st.st_gid == m->user.gid)
        return;
    if (lchown(path, m->user.uid, m->user.gid) < 0)
        log_warn("chown() of \"%s\" to user \"%s\" failed: %s", path, m->cfg->user,
                 strerror(errno));
}

/*
 * Started as root with "user": the files the workers write must be theirs.
 * The access log is created here (as nginx does) so that a log directory
 * only root may write still works; the sqlite store and its -wal/-shm files
 * are handed over if they exist (the workers create them otherwise).
 */
static void master_own_files(const master *m)
{
    if (!m->user.switch_user)
        return;
    const char *al = m->cfg->log.access_log;
    if (al[0] != '\0' && strcmp(al, "-") != 0) {
        int fd = open(al, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
            log_warn("open() of access log \"%s\" failed: %s", al, strerror(errno));
        else
            close(fd);
        master_chown(m, al);
    }
    if (strcmp(m->cfg->store.kind, "sqlite") == 0 && m->cfg->store.path[0] != '\0') {
        char p[CONFIG_PATH + 8];
        master_chown(m, m->cfg->store.path);
        snprintf(p, sizeof(p), "%s-wal", m->cfg->store.path);
        master_chown(m, p);
        snprintf(p, sizeof(p), "%s-shm", m->cfg->store.path);
        master_chown(m, p);
        snprintf(p, sizeof(p), "%s", m->cfg->store.path);
        const char *dir = dirname(p); /* created by store_prepare() */
        if (strcmp(dir, ".") != 0 && strcmp(dir, "/") != 0)
            master_chown(m, dir);
    }
}

/* Creates the job store and takes over the jobs a previous run left
 * running, before any worker can claim. */
static int master_store_prepare(const master *m)
{
    char err[512];
    int requeued = 0, failed = 0;
    if (store_prepare(&m->cfg->store, &requeued, &failed, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -1;
    }
    if (requeued || failed)
        log_notice("jobs left running by the previous run: %d re-queued, %d failed as worker_lost",
                   requeued, failed);
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

/* After a reload: the pid file follows "pid_file". */
static void master_pid_file_update(master *m)
{
    if (strcmp(m->pid_file, m->cfg->pid_file) == 0)
        return;
    if (m->pid_file[0] != '\0')
        unlink(m->pid_file);
    m->pid_file[0] = '\0';
    if (m->cfg->pid_file[0] != '\0' && master_pid_file_write(m->cfg->pid_file) == 0)
        snprintf(m->pid_file, sizeof(m->pid_file), "%s", m->cfg->pid_file);
}

/* ---- spawning ------------------------------------------------------------ */

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
    /* The slot is ours from the first instruction (shm_worker_mine() holds
     * during setup); the master stores the same pid after fork() returns. */
    atomic_store(&m->shm->w[slot].pid, (int)getpid());

    for (size_t i = 0; i < MASTER_NSIGNALS; i++) {
        struct sigaction sa = {0};
        sa.sa_handler = master_signals[i].in_worker;
        sigemptyset(&sa.sa_mask);
        sigaction(master_signals[i].signo, &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    notify_close();

    if (m->user.switch_user) {
        if (setgroups(0, NULL) < 0 || setgid(m->user.gid) < 0 || setuid(m->user.uid) < 0) {
            log_error("switching to user \"%s\" failed: %s", m->cfg->user, strerror(errno));
            _exit(1);
        }
    }
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
        log_warn("prctl(PR_SET_PDEATHSIG) failed: %s", strerror(errno));
    if (getppid() != m->pid)
        _exit(1); /* the master died before we could ask to be told */

    listener_set_close(m->reload.old_ls); /* a reload in progress: not ours */
    m->reload.old_ls = NULL;
    int fds[CONFIG_MAX_LISTEN];
    int nfds = listener_set_slot_fds(m->ls, slot, fds, CONFIG_MAX_LISTEN);
    listener_set_close_others(m->ls, slot);
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
    s->hung = false;
    atomic_fetch_add(&w->incarnation, 1);
    atomic_store(&w->started_at_ms, shm_wall_ms());
    atomic_store(&w->generation, m->generation);
    shm_worker_set_job(w, NULL);
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
    s->incarnation = atomic_load(&w->incarnation);
    atomic_store(&w->pid, pid);
    log_info("started worker %d (pid %d, incarnation %u, generation %u)", slot, (int)pid,
             atomic_load(&w->incarnation), m->generation);
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

/* ---- processes that left their slot -------------------------------------- */

/* Moves the process of m->slot[slot] (pid) to the old list. */
static master_old *master_old_add(master *m, pid_t pid, int slot, old_phase phase,
                                  int quit_timeout_s)
{
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        master_old *o = &m->old[i];
        if (o->phase != OLD_FREE)
            continue;
        *o = (master_old){phase, pid, slot, shm_mono_ms(), 0, quit_timeout_s,
                          m->slot[slot].incarnation};
        return o;
    }
    /* Cannot happen in practice (4 old processes per slot); never lose one. */
    log_error("too many old workers: stopping worker pid %d now", (int)pid);
    kill(pid, SIGKILL);
    return NULL;
}

/* Asks an old process to stop: QUIT (drain) or TERM, and sets its deadline. */
static void master_old_stop(master *m, master_old *o, int sig)
{
    int64_t now = shm_mono_ms();
    int64_t grace = sig == SIGQUIT ? (int64_t)o->quit_timeout_s * 1000 + MASTER_QUIT_EXTRA_MS
                                   : MASTER_TERM_GRACE_MS;
    if (kill(o->pid, sig) < 0)
        log_warn("kill(%d, %s) failed: %s", (int)o->pid, strsignal(sig), strerror(errno));
    o->phase = OLD_STOPPING;
    o->since_ms = now;
    if (o->kill_at_ms == 0 || o->kill_at_ms > now + grace)
        o->kill_at_ms = now + grace;
}

/*
 * The old process of a slot writes "draining" into the slot it shares with
 * the new one (unless the worker checks shm_worker_mine()): put back what
 * the current process is, since the master only drains it on a stop.
 */
static void master_repair_state(master *m, int slot)
{
    if (m->stop != MASTER_RUNNING || slot >= m->nslots || m->slot[slot].pid == 0 ||
        m->slot[slot].kill_at_ms != 0)
        return;
    int expected = SHM_W_DRAINING;
    atomic_compare_exchange_strong(&m->shm->w[slot].state, &expected, SHM_W_RUNNING);
}

static bool master_on_old_exit(master *m, pid_t pid, int status)
{
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        master_old *o = &m->old[i];
        if (o->phase == OLD_FREE || o->pid != pid)
            continue;
        if (WIFSIGNALED(status))
            log_notice("retired worker %d (pid %d) killed by signal %d (%s)", o->slot, (int)pid,
                       WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            log_notice("retired worker %d (pid %d) exited with code %d", o->slot, (int)pid,
                       WEXITSTATUS(status));
        o->phase = OLD_FREE;
        shm_jobs_record_death(m->shm, pid, o->slot, o->incarnation);
        master_repair_state(m, o->slot);
        return true;
    }
    return false;
}

/* ---- reaping -------------------------------------------------------------- */

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
    shm_jobs_record_death(m->shm, pid, slot, s->incarnation);
    if (m->reload.active && !expected && !m->reload.failed)
        m->reload.failed = "a new worker exited while starting";
    if (!expected)
        master_schedule_respawn(m, slot, s->hung ? MASTER_FAST_EXIT_MS : lived);
    s->hung = false;
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
        wake_forget(pid);
        int slot = -1;
        for (int i = 0; i < CONFIG_MAX_WORKERS && slot < 0; i++) {
            if (m->slot[i].pid == pid)
                slot = i;
        }
        if (slot >= 0)
            master_on_exit(m, slot, status);
        else if (!master_on_old_exit(m, pid, status))
            log_info("reaped unknown child pid %d", (int)pid);
    }
}

/* ---- steering and retiring slots ------------------------------------------ */

static void master_steer(master *m, int n)
{
    char err[512];
    if (!m->ls || listener_set_activated(m->ls))
        return;
    if (listener_set_steer(m->ls, n, err, sizeof(err)) < 0) {
        log_warn("%s (connections keep going to every slot)", err);
        return;
    }
    m->steer_n = n;
}

/*
 * Turns the current process of `slot` (>= nslots now) into a retiring one:
 * it keeps accepting what already sits in its sockets' queues and gets QUIT
 * once they are empty (master_retire_tick).
 */
static void master_retire_slot(master *m, int slot, int quit_timeout_s)
{
    master_slot *s = &m->slot[slot];
    s->respawn_at_ms = 0;
    if (s->pid == 0) {
        if (m->ls)
            listener_set_release_slot(m->ls, slot);
        return;
    }
    master_old_add(m, s->pid, slot, OLD_RETIRING, quit_timeout_s);
    s->pid = 0;
    s->kill_at_ms = 0;
}

static void master_retire_tick(master *m, int64_t now)
{
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        master_old *o = &m->old[i];
        if (o->phase != OLD_RETIRING || now - o->since_ms < MASTER_STEER_SETTLE_MS)
            continue;
        int queued = m->ls ? listener_set_slot_queued(m->ls, o->slot) : 0;
        if (queued > 0 && now - o->since_ms < MASTER_RETIRE_MAX_MS)
            continue;
        if (queued > 0)
            log_warn("worker %d (pid %d) still has %d connection(s) queued after %d ms; "
                     "stopping it anyway", o->slot, (int)o->pid, queued, MASTER_RETIRE_MAX_MS);
        log_notice("stopping worker %d (pid %d): its slot is removed", o->slot, (int)o->pid);
        if (m->ls && o->slot >= m->nslots)
            listener_set_release_slot(m->ls, o->slot);
        master_old_stop(m, o, SIGQUIT);
    }
}

/* New slots get connections once their workers are up (TTIN, reload). */
static void master_steer_tick(master *m)
{
    if (m->steer_n == 0 || m->steer_n >= m->nslots || m->reload.active)
        return;
    for (int i = m->steer_n; i < m->nslots; i++) {
        if (m->slot[i].pid == 0 || atomic_load(&m->shm->w[i].state) != SHM_W_RUNNING)
            return;
    }
    master_steer(m, m->nslots);
}

/* ---- stopping -------------------------------------------------------------- */

static void master_reload_abandon(master *m)
{
    if (!m->reload.active)
        return;
    listener_set_close(m->reload.old_ls);
    m->reload.old_ls = NULL;
    m->reload.active = false;
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
    notify_send("STOPPING=1\nSTATUS=stopping (%s)", how == MASTER_STOP_GRACEFUL ? "graceful" : "fast");

    master_reload_abandon(m);
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
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        master_old *o = &m->old[i];
        if (o->phase == OLD_FREE || (o->phase == OLD_STOPPING && sig == SIGQUIT))
            continue;
        master_old_stop(m, o, sig);
    }
    m->give_up_at_ms = now + grace + MASTER_REAP_GIVEUP_MS;
}

/* ---- TTIN / TTOU ------------------------------------------------------------ */

static bool master_slot_busy(const master *m, int slot)
{
    if (m->slot[slot].pid != 0)
        return true;
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        if (m->old[i].phase != OLD_FREE && m->old[i].slot == slot)
            return true;
    }
    return false;
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
    if (master_slot_busy(m, slot)) {
        log_warn("SIGTTIN received: a worker of slot %d is still stopping, try again later", slot);
        return;
    }
    /* The new socket joins the SO_REUSEPORT group with no one accepting yet:
     * keep connections away from it until its worker runs (master_steer_tick). */
    if (m->steer_n == 0)
        master_steer(m, m->nslots);
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
 * TTOU: the highest slot stops getting new connections at once (steering),
 * and its worker drains once it has accepted what was already queued, so no
 * connection is reset.
 */
static void master_remove_worker(master *m)
{
    if (m->nslots <= 1) {
        log_notice("SIGTTOU received: keeping the last worker");
        return;
    }
    int slot = --m->nslots;
    atomic_store(&m->shm->nslots, m->nslots);
    master_steer(m, m->nslots);
    log_notice("SIGTTOU received: removing worker %d (pid %d), %d worker%s now", slot,
               (int)m->slot[slot].pid, m->nslots, m->nslots == 1 ? "" : "s");
    master_retire_slot(m, slot, m->cfg->shutdown_timeout_s);
}

/* ---- reload ------------------------------------------------------------------ */

static void master_status(master *m, bool force);

static void master_reload_fail(master *m, const char *why)
{
    log_error("reload failed: %s; keeping the running configuration", why);
    notify_send("READY=1\nSTATUS=reload failed: %s", why);
    m->next_status_ms = shm_mono_ms() + 5000; /* let the failure show for a while */
}

/* Loads the config file (or the defaults) into cfg_next; 0 or -1 after logging. */
static int master_reload_load(master *m, master_user *u)
{
    char err[1024], why[1200];
    config_defaults(&cfg_next);
    if (m->config_path && config_load_file(&cfg_next, m->config_path, err, sizeof(err)) < 0) {
        if (strncmp(err, m->config_path, strlen(m->config_path)) == 0)
            snprintf(why, sizeof(why), "%s", err);
        else
            snprintf(why, sizeof(why), "%s: %s", m->config_path, err);
        master_reload_fail(m, why);
        return -1;
    }
    if (cfg_next.workers < 1 || cfg_next.workers > CONFIG_MAX_WORKERS) {
        snprintf(why, sizeof(why), "workers: %d is outside 1..%d", cfg_next.workers,
                 CONFIG_MAX_WORKERS);
        master_reload_fail(m, why);
        return -1;
    }
    if (master_user_lookup(&cfg_next, u) < 0) {
        master_reload_fail(m, "the user cannot be resolved");
        return -1;
    }
    if (nofile_ensure(&cfg_next, true, err, sizeof(err)) < 0) {
        master_reload_fail(m, err);
        return -1;
    }
    if (functions_reload(&cfg_next, m->cfg, m->shm, err, sizeof(err)) < 0) {
        master_reload_fail(m, err);
        return -1;
    }
    return 0;
}

/*
 * HUP: check the file; if good, start a new generation of workers with it
 * on the same sockets; the old generation keeps serving until every new
 * worker runs, then drains (master_reload_commit). If a new worker fails to
 * start, everything goes back (master_reload_rollback).
 */
static void master_reload_start(master *m)
{
    master_reload *r = &m->reload;
    master_user u;
    char err[512];

    if (r->active) {
        log_notice("SIGHUP received: a reload is in progress, reloading again after it");
        r->again = true;
        return;
    }
    log_notice("SIGHUP received: reloading %s", m->config_path ? m->config_path : "the defaults");
    notify_reloading();
    if (master_reload_load(m, &u) < 0)
        return;
    int old_n = m->nslots, new_n = cfg_next.workers, top = old_n > new_n ? old_n : new_n;
    if (new_n > old_n && m->steer_n == 0)
        master_steer(m, old_n); /* new sockets get nothing before commit */
    listener_set *next = listener_set_reload(m->ls, &cfg_next, new_n, err, sizeof(err));
    if (!next) {
        master_reload_fail(m, err);
        return;
    }
    memset(r, 0, sizeof(*r));
    r->active = true;
    r->deadline_ms = shm_mono_ms() + MASTER_RELOAD_START_MS;
    r->old_nslots = old_n;
    r->old_ls = m->ls;
    for (int i = 0; i < top; i++) {
        shm_worker *w = &m->shm->w[i];
        r->saved[i] = m->slot[i];
        r->saved_incarnation[i] = atomic_load(&w->incarnation);
        r->saved_started_at[i] = atomic_load(&w->started_at_ms);
        r->saved_generation[i] = atomic_load(&w->generation);
    }
    cfg_prev = cfg_cur;
    cfg_cur = cfg_next;
    m->user = u;
    m->ls = next;
    m->generation++;
    master_own_files(m);

    for (int i = 0; i < old_n; i++) {
        master_slot *s = &m->slot[i];
        if (s->pid != 0) {
            /* One being killed (hung) keeps its deadline and is not restored. */
            master_old *o = master_old_add(m, s->pid, i, s->kill_at_ms ? OLD_STOPPING : OLD_SERVING,
                                           cfg_prev.shutdown_timeout_s);
            if (o)
                o->kill_at_ms = s->kill_at_ms;
        }
        s->pid = 0;
        s->respawn_at_ms = 0;
        s->kill_at_ms = 0;
    }
    m->nslots = new_n;
    atomic_store(&m->shm->nslots, top);
    for (int i = 0; i < new_n; i++) {
        m->slot[i].fast_fails = 0;
        master_spawn(m, i);
    }
}

static void master_reload_commit(master *m)
{
    master_reload *r = &m->reload;
    int new_n = m->nslots;

    listener_set_commit(r->old_ls, m->ls);
    r->old_ls = NULL;
    if (m->steer_n != 0 || new_n < r->old_nslots)
        master_steer(m, new_n);
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        master_old *o = &m->old[i];
        if (o->phase != OLD_SERVING)
            continue;
        if (o->slot < new_n) {
            master_old_stop(m, o, SIGQUIT);
        } else {
            o->phase = OLD_RETIRING;
            o->since_ms = shm_mono_ms();
        }
    }
    atomic_store(&m->shm->nslots, new_n);
    atomic_fetch_add(&m->shm->generation, 1);
    atomic_store(&m->shm->reloaded_at_ms, shm_wall_ms());
    if (log_set_level_name(m->cfg->log.level) < 0)
        log_warn("log.level: unknown level \"%s\", keeping the current one", m->cfg->log.level);
    master_pid_file_update(m);
    r->active = false;
    log_notice("reload complete: generation %u, %d worker%s; the old workers drain",
               m->generation, new_n, new_n == 1 ? "" : "s");
    notify_send("READY=1");
    master_status(m, true);
}

/* Rollback, slot i: the old process goes back if it still lives. */
static void master_reload_restore_slot(master *m, int i)
{
    master_reload *r = &m->reload;
    shm_worker *w = &m->shm->w[i];
    master_slot *s = &m->slot[i];
    if (i >= r->old_nslots) {
        atomic_store(&w->pid, 0);
        atomic_store(&w->state, SHM_W_DEAD);
        return;
    }
    *s = r->saved[i];
    atomic_store(&w->incarnation, r->saved_incarnation[i]);
    atomic_store(&w->started_at_ms, r->saved_started_at[i]);
    atomic_store(&w->generation, r->saved_generation[i]);
    for (int k = 0; k < MASTER_MAX_OLD && s->pid != 0; k++) {
        master_old *o = &m->old[k];
        if (o->phase == OLD_SERVING && o->pid == s->pid) {
            o->phase = OLD_FREE;
            atomic_store(&w->pid, s->pid);
            atomic_store(&w->state, SHM_W_RUNNING);
            return;
        }
    }
    /* It died while the new generation was starting: respawn it. */
    bool was_alive = s->pid != 0;
    s->pid = 0;
    atomic_store(&w->pid, 0);
    atomic_store(&w->state, SHM_W_DEAD);
    if (was_alive)
        s->respawn_at_ms = shm_mono_ms();
}

/* Puts the previous generation back in its slots and ends the new one. */
static void master_reload_rollback(master *m, const char *why)
{
    master_reload *r = &m->reload;
    int new_n = m->nslots, old_n = r->old_nslots, top = old_n > new_n ? old_n : new_n;

    for (int i = 0; i < top; i++) {
        master_slot *s = &m->slot[i];
        if (s->pid != 0) {
            master_old *o = master_old_add(m, s->pid, i, OLD_STOPPING, 0);
            if (o)
                master_old_stop(m, o, SIGTERM);
        }
        *s = (master_slot){0};
    }
    listener_set_close(m->ls);
    m->ls = r->old_ls;
    r->old_ls = NULL;
    cfg_cur = cfg_prev;
    master_user_lookup(m->cfg, &m->user);
    m->generation--;
    m->nslots = old_n;
    r->active = false;
    for (int i = 0; i < top; i++)
        master_reload_restore_slot(m, i);
    atomic_store(&m->shm->nslots, old_n);
    master_reload_fail(m, why);
}

static void master_reload_tick(master *m, int64_t now)
{
    master_reload *r = &m->reload;
    if (!r->active)
        return;
    if (r->failed) {
        master_reload_rollback(m, r->failed);
    } else {
        for (int i = 0; i < m->nslots; i++) {
            shm_worker *w = &m->shm->w[i];
            if (m->slot[i].pid == 0 || atomic_load(&w->pid) != m->slot[i].pid ||
                atomic_load(&w->state) != SHM_W_RUNNING) {
                if (now >= r->deadline_ms)
                    master_reload_rollback(m, "the new workers did not start in time");
                return;
            }
        }
        master_reload_commit(m);
    }
    if (r->again && !r->active && m->stop == MASTER_RUNNING) {
        r->again = false;
        master_reload_start(m);
    }
}

/* ---- hung workers ------------------------------------------------------------ */

/* Last sign of life of slot i: its heartbeat, or its start if later. */
static int64_t master_last_beat(const master *m, int i)
{
    int64_t hb = atomic_load(&m->shm->w[i].heartbeat_ms);
    return hb > m->slot[i].started_ms ? hb : m->slot[i].started_ms;
}

/*
 * A worker whose loop has not beaten for heartbeat_timeout_s is stopped or
 * wedged: SIGABRT (and SIGCONT, so a stopped one acts on it), SIGKILL after
 * MASTER_HUNG_KILL_MS, then the reap respawns it.
 */
static void master_hung_tick(master *m, int64_t now)
{
    int64_t limit = (int64_t)m->cfg->heartbeat_timeout_s * 1000;
    for (int i = 0; i < m->nslots; i++) {
        master_slot *s = &m->slot[i];
        if (s->pid == 0 || s->hung || s->kill_at_ms != 0)
            continue;
        int64_t age = now - master_last_beat(m, i);
        if (age <= limit)
            continue;
        char job_id[SHM_JOB_ID];
        shm_worker_get_job(&m->shm->w[i], job_id, sizeof(job_id));
        log_error("worker %d (pid %d) is hung: no heartbeat for %lld ms (heartbeat_timeout_s "
                  "is %d), running job %s: sending SIGABRT",
                  i, (int)s->pid, (long long)age, m->cfg->heartbeat_timeout_s,
                  job_id[0] ? job_id : "none");
        kill(s->pid, SIGABRT);
        kill(s->pid, SIGCONT);
        s->hung = true;
        s->kill_at_ms = now + MASTER_HUNG_KILL_MS;
    }
}

/* ---- systemd ---------------------------------------------------------------- */

static int master_running_workers(const master *m)
{
    int n = 0;
    for (int i = 0; i < m->nslots; i++) {
        const shm_worker *w = &m->shm->w[i];
        n += m->slot[i].pid != 0 && atomic_load(&w->pid) == m->slot[i].pid &&
             atomic_load(&w->state) == SHM_W_RUNNING;
    }
    return n;
}

/* STATUS= with live counts, when they changed (force: now). */
static void master_status(master *m, bool force)
{
    int64_t now = shm_mono_ms();
    if (!notify_enabled() || (!force && now < m->next_status_ms))
        return;
    m->next_status_ms = now + MASTER_STATUS_MS;
    int conns = 0;
    for (int i = 0; i < SHM_MAX_WORKERS; i++)
        conns += atomic_load(&m->shm->w[i].connections);
    char status[256];
    snprintf(status, sizeof(status),
             "%d of %d workers, %d connections, %lld queued and %lld running jobs%s",
             master_running_workers(m), m->nslots, conns < 0 ? 0 : conns,
             (long long)atomic_load(&m->shm->jobs.queued),
             (long long)atomic_load(&m->shm->jobs.running),
             m->reload.active ? ", reloading" : "");
    if (!force && strcmp(status, m->last_status) == 0)
        return;
    snprintf(m->last_status, sizeof(m->last_status), "%s", status);
    notify_send("STATUS=%s", status);
}

/* True while every live slot's worker beat within MASTER_FRESH_MS. */
static bool master_all_fresh(const master *m, int64_t now)
{
    int64_t fresh = (int64_t)m->cfg->heartbeat_timeout_s * 1000;
    if (fresh > MASTER_FRESH_MS)
        fresh = MASTER_FRESH_MS;
    for (int i = 0; i < m->nslots; i++) {
        if (now - master_last_beat(m, i) > fresh)
            return false;
    }
    return true;
}

static void master_notify_tick(master *m, int64_t now)
{
    if (!notify_enabled() || m->stop != MASTER_RUNNING)
        return;
    if (!m->ready_sent && master_running_workers(m) == m->nslots) {
        m->ready_sent = true;
        log_notice("all %d worker%s are up", m->nslots, m->nslots == 1 ? "" : "s");
        notify_send("READY=1\nMAINPID=%d", (int)m->pid);
        master_status(m, true);
    }
    master_status(m, false);
    uint64_t wd = notify_watchdog_usec();
    if (wd == 0 || now < m->next_watchdog_ms || !master_all_fresh(m, now))
        return;
    notify_send("WATCHDOG=1");
    m->next_watchdog_ms = now + (int64_t)(wd / 2000);
}

/* ---- signals and the loop ------------------------------------------------------ */

/* USR1: the master's own log is stderr (nothing to reopen); the workers
 * reopen the access log. The file is recreated for them first. */
static void master_reopen(master *m)
{
    log_notice("SIGUSR1 received: reopening log files");
    master_own_files(m);
    for (int i = 0; i < CONFIG_MAX_WORKERS; i++) {
        if (m->slot[i].pid != 0)
            kill(m->slot[i].pid, SIGUSR1);
    }
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        if (m->old[i].phase != OLD_FREE)
            kill(m->old[i].pid, SIGUSR1);
    }
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
        if (m->stop == MASTER_RUNNING)
            master_reload_start(m);
        break;
    case SIGUSR1:
        master_reopen(m);
        break;
    case SIGTTIN:
    case SIGTTOU:
        if (m->stop != MASTER_RUNNING)
            break;
        if (m->reload.active)
            log_warn("%s received: a reload is in progress, try again later", sig->name);
        else if (sig->signo == SIGTTIN)
            master_add_worker(m);
        else
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

/* SIGKILL deadlines of current and old processes. */
static void master_kill_tick(master *m, int64_t now)
{
    for (int i = 0; i < CONFIG_MAX_WORKERS; i++) {
        master_slot *s = &m->slot[i];
        if (s->pid != 0 && s->kill_at_ms != 0 && now >= s->kill_at_ms) {
            log_warn("worker %d (pid %d) did not exit in time: sending SIGKILL", i, (int)s->pid);
            kill(s->pid, SIGKILL);
            s->kill_at_ms = 0;
        }
    }
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        master_old *o = &m->old[i];
        if (o->phase == OLD_STOPPING && o->kill_at_ms != 0 && now >= o->kill_at_ms) {
            log_warn("retired worker %d (pid %d) did not exit in time: sending SIGKILL", o->slot,
                     (int)o->pid);
            kill(o->pid, SIGKILL);
            o->kill_at_ms = 0;
        }
        if (o->phase == OLD_STOPPING)
            master_repair_state(m, o->slot);
    }
}

/* Timed work, after every wake-up. */
static void master_tick(master *m)
{
    int64_t now = shm_mono_ms();
    master_kill_tick(m, now);
    for (int i = 0; i < m->nslots && m->stop == MASTER_RUNNING; i++) {
        master_slot *s = &m->slot[i];
        if (s->pid == 0 && s->respawn_at_ms != 0 && now >= s->respawn_at_ms)
            master_spawn(m, i);
    }
    if (m->stop != MASTER_RUNNING)
        return;
    master_hung_tick(m, now);
    master_reload_tick(m, now);
    master_retire_tick(m, now);
    master_steer_tick(m);
    master_notify_tick(m, now);
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
    cfg_cur = *cfg;
    m.cfg = &cfg_cur;
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
    if (master_user_lookup(m.cfg, &m.user) < 0)
        return 1;
    if (nofile_ensure(m.cfg, true, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    if (functions_load(&cfg_cur, NULL, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    m.shm = shm_create(metrics_shm_bytes(cfg_cur.functions.registry));
    if (!m.shm) {
        log_error("mmap() of the shared region failed: %s", strerror(errno));
        return 1;
    }
    metrics_register_fns(m.shm, cfg_cur.functions.registry);
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
    if (m.cfg->pid_file[0] != '\0') {
        if (master_pid_file_write(m.cfg->pid_file) < 0)
            goto done;
        snprintf(m.pid_file, sizeof(m.pid_file), "%s", m.cfg->pid_file);
    }
    if (master_store_prepare(&m) < 0)
        goto done;
    master_own_files(&m);
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
    master_reload_abandon(&m);
    listener_set_close(m.ls);
    m.ls = NULL;
    if (m.pid_file[0] != '\0')
        unlink(m.pid_file);
    wake_dir_remove();
    shm_destroy(m.shm);
    log_notice("exiting with code %d", rc);
    notify_close();
    return rc;
}
