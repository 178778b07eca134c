/*
 * watchdog.h - the master watching its workers' heartbeats, and systemd
 * watching the master.
 *
 * Hung workers: a current worker whose heartbeat_ms (or, before its first
 * beat, its start) is older than heartbeat_timeout_s is stopped or wedged:
 * it gets SIGABRT (and SIGCONT, so a stopped one acts on it) and SIGKILL
 * WATCHDOG_HUNG_KILL_MS later; the log names the job in its current_job.
 * The reap then respawns it at once (spawn.h).
 *
 * systemd (notify.h): READY=1 once every worker of the first start runs;
 * STATUS= with live counts when they change, at most once a second;
 * WATCHDOG=1 every half of WATCHDOG_USEC while every current worker beat
 * within WATCHDOG_FRESH_MS (or heartbeat_timeout_s if shorter), so a master
 * whose workers all hang is restarted by systemd.
 *
 * Owns m->slot[].hung (with kill_at_ms set alongside), m->ready_sent,
 * m->next_watchdog_ms, m->next_status_ms and m->last_status.
 * Master process only (mstate.h).
 */
#ifndef CRUNCHD_WATCHDOG_H
#define CRUNCHD_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

#include "mstate.h"

/* Sends SIGABRT to the workers that stopped beating (see above). */
void watchdog_hung_tick(master *m, int64_t now);

/* READY=1 after the first start, then STATUS= and WATCHDOG=1 when due.
 * Does nothing while stopping or without systemd. */
void watchdog_notify_tick(master *m, int64_t now);

/* STATUS= with live counts if they changed and none was sent in the last
 * second; force: now, whatever was sent before. */
void watchdog_status(master *m, bool force);

/* No STATUS= for the next ms (so a failure written into STATUS= by someone
 * else stays visible for a while). */
void watchdog_status_hold(master *m, int64_t ms);

#endif
