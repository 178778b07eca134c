/*
 * scale.c - see scale.h.
 */
#include "scale.h"

#include <signal.h>
#include <stdbool.h>

#include "listener.h"
#include "log.h"
#include "shm.h"
#include "spawn.h"

#define SCALE_STEER_SETTLE_MS 500 /* retiring slot: handshakes begun before steering end */
#define SCALE_RETIRE_MAX_MS 5000  /* retiring slot: stop waiting for its queue */

void scale_steer(master *m, int n)
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
 * once they are empty (scale_retire_tick).
 */
static void scale_retire_slot(master *m, int slot, int quit_timeout_s)
{
    master_slot *s = &m->slot[slot];
    s->respawn_at_ms = 0;
    if (s->pid == 0) {
        if (m->ls)
            listener_set_release_slot(m->ls, slot);
        return;
    }
    spawn_old_add(m, s->pid, slot, OLD_RETIRING, quit_timeout_s);
    s->pid = 0;
    s->kill_at_ms = 0;
}

void scale_retire_tick(master *m, int64_t now)
{
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        master_old *o = &m->old[i];
        if (o->phase != OLD_RETIRING || now - o->since_ms < SCALE_STEER_SETTLE_MS)
            continue;
        int queued = m->ls ? listener_set_slot_queued(m->ls, o->slot) : 0;
        if (queued > 0 && now - o->since_ms < SCALE_RETIRE_MAX_MS)
            continue;
        if (queued > 0)
            log_warn("worker %d (pid %d) still has %d connection(s) queued after %d ms; "
                     "stopping it anyway", o->slot, (int)o->pid, queued, SCALE_RETIRE_MAX_MS);
        log_notice("stopping worker %d (pid %d): its slot is removed", o->slot, (int)o->pid);
        if (m->ls && o->slot >= m->nslots)
            listener_set_release_slot(m->ls, o->slot);
        spawn_old_stop(m, o, SIGQUIT);
    }
}

void scale_steer_tick(master *m)
{
    if (m->steer_n == 0 || m->steer_n >= m->nslots || m->reload.active)
        return;
    for (int i = m->steer_n; i < m->nslots; i++) {
        if (m->slot[i].pid == 0 || atomic_load(&m->shm->w[i].state) != SHM_W_RUNNING)
            return;
    }
    scale_steer(m, m->nslots);
}

/* ---- TTIN / TTOU ------------------------------------------------------------ */

static bool scale_slot_busy(const master *m, int slot)
{
    if (m->slot[slot].pid != 0)
        return true;
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        if (m->old[i].phase != OLD_FREE && m->old[i].slot == slot)
            return true;
    }
    return false;
}

void scale_add_worker(master *m)
{
    int slot = m->nslots;
    char err[512];

    if (slot >= CONFIG_MAX_WORKERS) {
        log_warn("SIGTTIN received: already at the maximum of %d workers", CONFIG_MAX_WORKERS);
        return;
    }
    if (scale_slot_busy(m, slot)) {
        log_warn("SIGTTIN received: a worker of slot %d is still stopping, try again later", slot);
        return;
    }
    /* The new socket joins the SO_REUSEPORT group with no one accepting yet:
     * keep connections away from it until its worker runs (scale_steer_tick). */
    if (m->steer_n == 0)
        scale_steer(m, m->nslots);
    if (listener_set_grow(m->ls, slot + 1, err, sizeof(err)) < 0) {
        log_error("SIGTTIN received: %s", err);
        return;
    }
    m->nslots = slot + 1;
    atomic_store(&m->shm->nslots, m->nslots);
    m->slot[slot].fast_fails = 0;
    log_notice("SIGTTIN received: adding worker %d, %d worker%s now", slot, m->nslots,
               m->nslots == 1 ? "" : "s");
    spawn_worker(m, slot);
}

/*
 * TTOU: the highest slot stops getting new connections at once (steering),
 * and its worker drains once it has accepted what was already queued, so no
 * connection is reset.
 */
void scale_remove_worker(master *m)
{
    if (m->nslots <= 1) {
        log_notice("SIGTTOU received: keeping the last worker");
        return;
    }
    int slot = --m->nslots;
    atomic_store(&m->shm->nslots, m->nslots);
    scale_steer(m, m->nslots);
    log_notice("SIGTTOU received: removing worker %d (pid %d), %d worker%s now", slot,
               (int)m->slot[slot].pid, m->nslots, m->nslots == 1 ? "" : "s");
    scale_retire_slot(m, slot, m->cfg->shutdown_timeout_s);
}
