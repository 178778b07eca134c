/*
 * auth_master.h - the master's side of API tokens (auth.h): protected mode,
 * and the table of tokens each generation of workers inherits.
 *
 * Protected mode (as Redis calls it): without auth.tokens_file, crunchd
 * serves only where no other host can reach it -- every listen address (or
 * every socket systemd passes) loopback or a unix socket -- and refuses to
 * start otherwise, saying how to fix it. auth.none: true turns this off
 * (and every token check); it is logged as a warning at each start and
 * reload.
 *
 * The table. auth_master_load() reads cfg->auth.tokens_file into a new
 * table and points cfg->auth.table at it; workers forked with cfg find it
 * there (fork copies it) and only read it. The master calls it twice: once
 * at start-up before forking (main.c), and in each reload's config load,
 * with the running config: a bad tokens file then fails the reload and the
 * running table stays in force. The tables live in this module; each load
 * frees every table but the running config's and the new one, so at most
 * two are alive, and a rollback to the running config finds its table.
 *
 * Process rules: the master (or crunchd -t) only; single-threaded. Never
 * called in a worker. A load must not run while a config other than
 * `running` and the new one may still be used (the master loads only when
 * no reload is in progress).
 */
#ifndef CRUNCHD_AUTH_MASTER_H
#define CRUNCHD_AUTH_MASTER_H

#include <stddef.h>

#include "config.h"
#include "listener.h"

/*
 * What start-up refuses about authentication, found without changing
 * anything (preflight.h runs it, so crunchd -t refuses what start-up does):
 *   - the tokens file: readable, well formed (read here unless
 *     cfg->auth.table is already set);
 *   - protected mode: no tokens file and no auth.none, yet a listen address
 *     other hosts can reach (listener_loopback_only(cfg, ls, ...); ls is
 *     NULL before binding).
 * Returns 0, or -1 with err naming the key and the fix. A warning (auth.none
 * is on; the tokens file holds no token) goes to warn ("" when none; warn
 * may be NULL).
 */
int auth_master_check(const config *cfg, const listener_set *ls, char *warn, size_t warnlen,
                      char *err, size_t errlen);

/*
 * Checks cfg as above and loads its tokens file into a new table that
 * cfg->auth.table then points to (NULL without a tokens file). running is
 * the config in force (NULL at start-up); ls the listeners in use (NULL at
 * start-up). Logs the warning, and "tokens: N from FILE" at notice level.
 * Returns 0, or -1 with err set ("auth.tokens_file: FILE:3: unknown scope
 * ...") and cfg->auth.table NULL; running is untouched either way.
 */
int auth_master_load(config *cfg, const config *running, const listener_set *ls, char *err,
                     size_t errlen);

/* Frees every table (the master's exit). */
void auth_master_release(void);

#endif
