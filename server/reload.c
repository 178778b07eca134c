/*
 * reload.c - see reload.h.
 */
#include "reload.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "listener.h"
#include "auth_master.h"
#include "functions.h"
#include "log.h"
#include "nofile.h"
#include "notify.h"
#include "pidfile.h"
#include "scale.h"
#include "shm.h"
#include "spawn.h"
#include "user.h"
#include "watchdog.h"

#define RELOAD_START_MS 10000    /* the new workers must be up within this */
#define RELOAD_FAIL_SHOW_MS 5000 /* STATUS= shows a failed reload this long */

/* The config being loaded, and the previous one while a reload is active. */
static config cfg_next, cfg_prev;

void reload_abandon(master *m)
{
    if (!m->reload.active)
        return;
    listener_set_close(m->reload.old_ls);
    m->reload.old_ls = NULL;
    m->reload.active = false;
}

static void reload_fail(master *m, const char *why)
{
    log_error("reload failed: %s; keeping the running configuration", why);
    notify_send("READY=1\nSTATUS=reload failed: %s", why);
    watchdog_status_hold(m, RELOAD_FAIL_SHOW_MS);
}

/* Loads the config file (or the defaults) into cfg_next; 0 or -1 after logging. */
static int reload_load(master *m, user_ids *u)
{
    char err[1024], why[1200];
    config_defaults(&cfg_next);
    if (m->config_path && config_load_file(&cfg_next, m->config_path, err, sizeof(err)) < 0) {
        if (strncmp(err, m->config_path, strlen(m->config_path)) == 0)
            snprintf(why, sizeof(why), "%s", err);
        else
            snprintf(why, sizeof(why), "%s: %s", m->config_path, err);
        reload_fail(m, why);
        return -1;
    }
    if (auth_master_load(&cfg_next, m->cfg, m->ls, err, sizeof(err)) < 0) {
        reload_fail(m, err);
        return -1;
    }
    if (cfg_next.workers < 1 || cfg_next.workers > CONFIG_MAX_WORKERS) {
        snprintf(why, sizeof(why), "workers: %d is outside 1..%d", cfg_next.workers,
                 CONFIG_MAX_WORKERS);
        reload_fail(m, why);
        return -1;
    }
    if (user_lookup(&cfg_next, u) < 0) {
        reload_fail(m, "the user cannot be resolved");
        return -1;
    }
    if (nofile_ensure(&cfg_next, true, err, sizeof(err)) < 0) {
        reload_fail(m, err);
        return -1;
    }
    if (functions_reload(&cfg_next, m->cfg, m->shm, err, sizeof(err)) < 0) {
        reload_fail(m, err);
        return -1;
    }
    return 0;
}

void reload_start(master *m)
{
    master_reload *r = &m->reload;
    user_ids u;
    char err[512];

    if (r->active) {
        log_notice("SIGHUP received: a reload is in progress, reloading again after it");
        r->again = true;
        return;
    }
    log_notice("SIGHUP received: reloading %s", m->config_path ? m->config_path : "the defaults");
    notify_reloading();
    if (reload_load(m, &u) < 0)
        return;
    int old_n = m->nslots, new_n = cfg_next.workers, top = old_n > new_n ? old_n : new_n;
    if (new_n > old_n && m->steer_n == 0)
        scale_steer(m, old_n); /* new sockets get nothing before commit */
    listener_set *next = listener_set_reload(m->ls, &cfg_next, new_n, err, sizeof(err));
    if (!next) {
        reload_fail(m, err);
        return;
    }
    memset(r, 0, sizeof(*r));
    r->active = true;
    r->deadline_ms = shm_mono_ms() + RELOAD_START_MS;
    r->old_nslots = old_n;
    r->old_ls = m->ls;
    for (int i = 0; i < top; i++) {
        shm_worker *w = &m->shm->w[i];
        r->saved[i] = m->slot[i];
        r->saved_incarnation[i] = atomic_load(&w->incarnation);
        r->saved_started_at[i] = atomic_load(&w->started_at_ms);
        r->saved_generation[i] = atomic_load(&w->generation);
    }
    cfg_prev = m->cur;
    m->cur = cfg_next;
    m->user = u;
    m->ls = next;
    m->generation++;
    user_own_files(m->cfg, &m->user);

    for (int i = 0; i < old_n; i++) {
        master_slot *s = &m->slot[i];
        if (s->pid != 0) {
            /* One being killed (hung) keeps its deadline and is not restored. */
            master_old *o = spawn_old_add(m, s->pid, i, s->kill_at_ms ? OLD_STOPPING : OLD_SERVING,
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
        spawn_worker(m, i);
    }
}

static void reload_commit(master *m)
{
    master_reload *r = &m->reload;
    int new_n = m->nslots;

    listener_set_commit(r->old_ls, m->ls);
    r->old_ls = NULL;
    if (m->steer_n != 0 || new_n < r->old_nslots)
        scale_steer(m, new_n);
    for (int i = 0; i < MASTER_MAX_OLD; i++) {
        master_old *o = &m->old[i];
        if (o->phase != OLD_SERVING)
            continue;
        if (o->slot < new_n) {
            spawn_old_stop(m, o, SIGQUIT);
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
    pidfile_update(&m->pid_file, m->cfg->pid_file);
    r->active = false;
    log_notice("reload complete: generation %u, %d worker%s; the old workers drain",
               m->generation, new_n, new_n == 1 ? "" : "s");
    notify_send("READY=1");
    watchdog_status(m, true);
}

/* Rollback, slot i: the old process goes back if it still lives. */
static void reload_restore_slot(master *m, int i)
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
static void reload_rollback(master *m, const char *why)
{
    master_reload *r = &m->reload;
    int new_n = m->nslots, old_n = r->old_nslots, top = old_n > new_n ? old_n : new_n;

    for (int i = 0; i < top; i++) {
        master_slot *s = &m->slot[i];
        if (s->pid != 0) {
            master_old *o = spawn_old_add(m, s->pid, i, OLD_STOPPING, 0);
            if (o)
                spawn_old_stop(m, o, SIGTERM);
        }
        *s = (master_slot){0};
    }
    listener_set_close(m->ls);
    m->ls = r->old_ls;
    r->old_ls = NULL;
    m->cur = cfg_prev;
    user_lookup(m->cfg, &m->user);
    m->generation--;
    m->nslots = old_n;
    r->active = false;
    for (int i = 0; i < top; i++)
        reload_restore_slot(m, i);
    atomic_store(&m->shm->nslots, old_n);
    reload_fail(m, why);
}

void reload_tick(master *m, int64_t now)
{
    master_reload *r = &m->reload;
    if (!r->active)
        return;
    if (r->failed) {
        reload_rollback(m, r->failed);
    } else {
        for (int i = 0; i < m->nslots; i++) {
            shm_worker *w = &m->shm->w[i];
            if (m->slot[i].pid == 0 || atomic_load(&w->pid) != m->slot[i].pid ||
                atomic_load(&w->state) != SHM_W_RUNNING) {
                if (now >= r->deadline_ms)
                    reload_rollback(m, "the new workers did not start in time");
                return;
            }
        }
        reload_commit(m);
    }
    if (r->again && !r->active && m->stop == MASTER_RUNNING) {
        r->again = false;
        reload_start(m);
    }
}
