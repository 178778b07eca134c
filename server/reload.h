/*
 * reload.h - SIGHUP: a new generation of workers with the config file read
 * again, on the same listening sockets, without dropping a connection.
 *
 * Start: the file is loaded and checked (config, workers, user, the
 * descriptor limit); if it is bad, the reason is logged (and sent as
 * STATUS=) and nothing changes. If good, the listeners are carried over
 * (listener_set_reload: kept addresses keep their sockets), the running
 * workers move to m->old (still serving) and a new generation is forked into
 * the slots with the new config.
 * Commit (a tick once every new worker runs): the old generation gets QUIT
 * and drains, slots beyond the new count retire (scale.h), and the log level
 * and the pid file follow the new config.
 * Rollback (a new worker exited, or not all of them run within
 * RELOAD_START_MS): the new workers get TERM, the old ones go back into
 * their slots (those that died meanwhile are respawned), and the previous
 * config, user and listeners are restored.
 * A HUP during a reload is remembered and runs once it is over. systemd
 * sees RELOADING=1 at the start and READY=1 at the end (also a failed one).
 *
 * Owns m->reload, m->cur (the running config), m->user, m->generation, and
 * m->ls and m->nslots while a reload is active. Master process only
 * (mstate.h).
 */
#ifndef CRUNCHD_RELOAD_H
#define CRUNCHD_RELOAD_H

#include <stdint.h>

#include "mstate.h"

/* SIGHUP (not while stopping): starts a reload, or asks for another one
 * after the one in progress. */
void reload_start(master *m);

/* Commits or rolls back the reload in progress when it is time (see above),
 * then starts the one asked for meanwhile. */
void reload_tick(master *m, int64_t now);

/* A stop or the exit during a reload: closes the listener set the reload
 * would have replaced (m->ls is the one every worker has) and ends it. */
void reload_abandon(master *m);

#endif
