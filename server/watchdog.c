/*
 * watchdog.c - see watchdog.h.
 */
#include "watchdog.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "shm.h"

#define WATCHDOG_HUNG_KILL_MS 2000 /* a hung worker: SIGABRT, then SIGKILL after this */
#define WATCHDOG_FRESH_MS 3000     /* a heartbeat younger than this is fresh */
#define WATCHDOG_STATUS_MS 1000    /* STATUS= at most this often */

/* Last sign of life of slot i: its heartbeat, or its start if later. */
static int64_t watchdog_last_beat(const master *m, int i)
{
    int64_t hb = atomic_load(&m->shm->w[i].heartbeat_ms);
    return hb > m->slot[i].started_ms ? hb : m->slot[i].started_ms;
}

void watchdog_hung_tick(master *m, int64_t now)
{
    int64_t limit = (int64_t)m->cfg->heartbeat_timeout_s * 1000;
    for (int i = 0; i < m->nslots; i++) {
        master_slot *s = &m->slot[i];
        if (s->pid == 0 || s->hung || s->kill_at_ms != 0)
            continue;
        int64_t age = now - watchdog_last_beat(m, i);
        if (age <= limit)
            continue;
        char job_id[SHM_JOB_ID];
        shm_worker_get_job(&m->shm->w[i], job_id, sizeof(job_id));
        log_error("worker %d (pid %d) is hung: no heartbeat for %lld ms (heartbeat_timeout_s "
                  "is %d), running job %s: sending SIGABRT",
                  i, (int)s->pid, (long long)age, m->cfg->heartbeat_timeout_s,
                  job_id[0] ? job_id : "none");
        if (kill(s->pid, SIGABRT) < 0)
            log_warn("kill(%d, SIGABRT) of hung worker %d failed: %s", (int)s->pid, i,
                     strerror(errno));
        kill(s->pid, SIGCONT); /* a stopped worker must run to act on SIGABRT */
        s->hung = true;
        s->kill_at_ms = now + WATCHDOG_HUNG_KILL_MS;
    }
}

/* ---- systemd ---------------------------------------------------------------- */

void watchdog_status_hold(master *m, int64_t ms)
{
    m->next_status_ms = shm_mono_ms() + ms;
}

static int watchdog_running_workers(const master *m)
{
    int n = 0;
    for (int i = 0; i < m->nslots; i++) {
        const shm_worker *w = &m->shm->w[i];
        n += m->slot[i].pid != 0 && atomic_load(&w->pid) == m->slot[i].pid &&
             atomic_load(&w->state) == SHM_W_RUNNING;
    }
    return n;
}

void watchdog_status(master *m, bool force)
{
    int64_t now = shm_mono_ms();
    if (!notify_enabled() || (!force && now < m->next_status_ms))
        return;
    m->next_status_ms = now + WATCHDOG_STATUS_MS;
    int conns = 0;
    for (int i = 0; i < SHM_MAX_WORKERS; i++)
        conns += atomic_load(&m->shm->w[i].connections);
    char status[256];
    snprintf(status, sizeof(status),
             "%d of %d workers, %d connections, %lld queued and %lld running jobs%s",
             watchdog_running_workers(m), m->nslots, conns < 0 ? 0 : conns,
             (long long)atomic_load(&m->shm->jobs.queued),
             (long long)atomic_load(&m->shm->jobs.running),
             m->reload.active ? ", reloading" : "");
    if (!force && strcmp(status, m->last_status) == 0)
        return;
    snprintf(m->last_status, sizeof(m->last_status), "%s", status);
    notify_send("STATUS=%s", status);
}

/* True while every live slot's worker beat within WATCHDOG_FRESH_MS. */
static bool watchdog_all_fresh(const master *m, int64_t now)
{
    int64_t fresh = (int64_t)m->cfg->heartbeat_timeout_s * 1000;
    if (fresh > WATCHDOG_FRESH_MS)
        fresh = WATCHDOG_FRESH_MS;
    for (int i = 0; i < m->nslots; i++) {
        if (now - watchdog_last_beat(m, i) > fresh)
            return false;
    }
    return true;
}

void watchdog_notify_tick(master *m, int64_t now)
{
    if (!notify_enabled() || m->stop != MASTER_RUNNING)
        return;
    if (!m->ready_sent && watchdog_running_workers(m) == m->nslots) {
        m->ready_sent = true;
        log_notice("all %d worker%s are up", m->nslots, m->nslots == 1 ? "" : "s");
        notify_send("READY=1\nMAINPID=%d", (int)m->pid);
        watchdog_status(m, true);
    }
    watchdog_status(m, false);
    uint64_t wd = notify_watchdog_usec();
    if (wd == 0 || now < m->next_watchdog_ms || !watchdog_all_fresh(m, now))
        return;
    notify_send("WATCHDOG=1");
    m->next_watchdog_ms = now + (int64_t)(wd / 2000);
}
