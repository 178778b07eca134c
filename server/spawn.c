/*
 * spawn.c - see spawn.h. nginx's ngx_spawn_process() and
 * ngx_reap_children(), for one slot table and the list of old processes.
 */
#include "spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "notify.h"
#include "shm.h"
#include "user.h"
#include "wake.h"
#include "worker.h"

#define SPAWN_BACKOFF_BASE_MS 100 /* first respawn delay after a fast failure */
#define SPAWN_BACKOFF_MAX_MS 10000

/*
 * The child side of a spawn; never returns. Order matters: dispositions
 * before unblocking (a pending signal must not reach the master's handler),
 * set*id() before PR_SET_PDEATHSIG (a credential change clears it).
 */
__attribute__((noreturn))
static void spawn_child(master *m, int slot)
{
    char role[32];
    snprintf(role, sizeof(role), "worker %d", slot);
    log_set_role(role);
    /* The slot is ours from the first instruction (shm_worker_mine() holds
     * during setup); the master stores the same pid after fork() returns. */
    atomic_store(&m->shm->w[slot].pid, (int)getpid());

    for (size_t i = 0; i < m->nsignals; i++) {
        struct sigaction sa = {0};
        sa.sa_handler = m->signals[i].in_worker;
        sigemptyset(&sa.sa_mask);
        sigaction(m->signals[i].signo, &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    notify_close();

    if (user_become(&m->user, m->cfg->user) < 0)
        _exit(1);
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

/* The shm slot is set to STARTING before fork() so the worker's own RUNNING
 * can never be overwritten by it. */
void spawn_worker(master *m, int slot)
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
        s->respawn_at_ms = shm_mono_ms() + SPAWN_BACKOFF_MAX_MS;
        return;
    }
    if (pid == 0)
        spawn_child(m, slot);

    s->pid = pid;
    s->started_ms = shm_mono_ms();
    s->kill_at_ms = 0;
    s->incarnation = atomic_load(&w->incarnation);
    atomic_store(&w->pid, pid);
    log_info("started worker %d (pid %d, incarnation %u, generation %u)", slot, (int)pid,
             atomic_load(&w->incarnation), m->generation);
}

/* min(100 ms * 2^(n-1), 10 s) for the n-th fast failure in a row. */
static int64_t spawn_backoff_ms(int fast_fails)
{
    int64_t ms = SPAWN_BACKOFF_BASE_MS;
    for (int i = 1; i < fast_fails && ms < SPAWN_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < SPAWN_BACKOFF_MAX_MS ? ms : SPAWN_BACKOFF_MAX_MS;
}

static void spawn_schedule_respawn(master *m, int slot, int64_t lived_ms)
{
    master_slot *s = &m->slot[slot];
    int64_t now = shm_mono_ms();

    atomic_fetch_add(&m->shm->w[slot].restarts, 1);
    if (lived_ms >= SPAWN_FAST_EXIT_MS) {
        s->fast_fails = 0;
        s->respawn_at_ms = now;
        log_notice("respawning worker %d", slot);
        return;
    }
    s->fast_fails++;
    int64_t delay = spawn_backoff_ms(s->fast_fails);
    s->respawn_at_ms = now + delay;
    log_warn("worker %d failed %d time%s in a row within %d ms of starting: respawning in %lld ms",
             slot, s->fast_fails, s->fast_fails == 1 ? "" : "s", SPAWN_FAST_EXIT_MS,
             (long long)delay);
}

/* ---- processes that left their slot -------------------------------------- */

master_old *spawn_old_add(master *m, pid_t pid, int slot, old_phase phase, int quit_timeout_s)
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

void spawn_old_stop(master *m, master_old *o, int sig)
{
    int64_t now = shm_mono_ms();
    int64_t grace = sig == SIGQUIT ? (int64_t)o->quit_timeout_s * 1000 + MASTER_QUIT_EXTRA_MS
                                   : MASTER_TERM_GRACE_MS;
    if (kill(o->pid, sig) < 0)
        log_warn("kill(%d, %s) of retired worker %d failed: %s", (int)o->pid,
                 sig == SIGQUIT ? "SIGQUIT" : "SIGTERM", o->slot, strerror(errno));
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
static void spawn_repair_state(master *m, int slot)
{
    if (m->stop != MASTER_RUNNING || slot >= m->nslots || m->slot[slot].pid == 0 ||
        m->slot[slot].kill_at_ms != 0)
        return;
    int expected = SHM_W_DRAINING;
    atomic_compare_exchange_strong(&m->shm->w[slot].state, &expected, SHM_W_RUNNING);
}

static bool spawn_on_old_exit(master *m, pid_t pid, int status)
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
        spawn_repair_state(m, o->slot);
        return true;
    }
    return false;
}

/* ---- reaping -------------------------------------------------------------- */

/* Records the exit of the process in `slot` and respawns unless stopping. */
static void spawn_on_exit(master *m, int slot, int status)
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
        spawn_schedule_respawn(m, slot, s->hung ? SPAWN_FAST_EXIT_MS : lived);
    s->hung = false;
}

void spawn_reap(master *m)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0 || (pid < 0 && errno == ECHILD))
            return;
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            log_error("waitpid(-1) failed while reaping workers: %s", strerror(errno));
            return;
        }
        wake_forget(pid);
        int slot = -1;
        for (int i = 0; i < CONFIG_MAX_WORKERS && slot < 0; i++) {
            if (m->slot[i].pid == pid)
                slot = i;
        }
        if (slot >= 0)
            spawn_on_exit(m, slot, status);
        else if (!spawn_on_old_exit(m, pid, status))
            log_info("reaped unknown child pid %d", (int)pid);
    }
}

/* SIGKILL deadlines of current and old processes. */
static void spawn_kill_tick(master *m, int64_t now)
{
    for (int i = 0; i < CONFIG_MAX_WORKERS; i++) {
        master_slot *s = &m->slot[i];
        if (s->pid != 0 && s->kill_at_ms != 0 && now >= s->kill_at_ms) {
            log_warn("worker %d (pid %d) did not exit in time: sending SIGKILL", i, (int)s->pid);
            if (kill(s->pid, SIGKILL) < 0)
                log_warn("kill(%d, SIGKILL) of worker %d failed: %s", (int)s->pid, i,
                         strerror(errno));
            s->kill_at_ms = 0;
        }
    }
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        master_old *o = &m->old[i];
        if (o->phase == OLD_STOPPING && o->kill_at_ms != 0 && now >= o->kill_at_ms) {
            log_warn("retired worker %d (pid %d) did not exit in time: sending SIGKILL", o->slot,
                     (int)o->pid);
            if (kill(o->pid, SIGKILL) < 0)
                log_warn("kill(%d, SIGKILL) of retired worker %d failed: %s", (int)o->pid,
                         o->slot, strerror(errno));
            o->kill_at_ms = 0;
        }
        if (o->phase == OLD_STOPPING)
            spawn_repair_state(m, o->slot);
    }
}

void spawn_tick(master *m, int64_t now)
{
    spawn_kill_tick(m, now);
    for (int i = 0; i < m->nslots && m->stop == MASTER_RUNNING; i++) {
        master_slot *s = &m->slot[i];
        if (s->pid == 0 && s->respawn_at_ms != 0 && now >= s->respawn_at_ms)
            spawn_worker(m, i);
    }
}
