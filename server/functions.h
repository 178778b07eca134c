/*
 * functions.h - the master's side of the function registry (fn_registry.h):
 * one registry per generation of workers, with the built-ins and the
 * configured C plugins (functions.plugins, fn_plugin.h), built before the
 * master forks them and pointed at by the generation's config
 * (config.functions.registry).
 *
 *   -t        functions_check(): preflight_check() tries the whole set.
 *   start-up  functions_load(&cfg, NULL, ...) builds the first registry;
 *             the master then maps the shared region with room for its
 *             metrics (metrics_shm_bytes()) and calls metrics_register_fns().
 *   HUP       functions_reload(&next, running, shm, ...) builds the registry
 *             of the new config; on failure the reload fails and the running
 *             generation keeps its registry and its workers. A rollback needs
 *             nothing: the restored config points at its own registry again.
 *
 * A plugin's code runs in the process that loads it (constructors, the entry
 * point), so every set is first tried in a child process: a plugin that
 * crashes or hangs while it loads (FUNCTIONS_CHECK_TIMEOUT_MS) is an error
 * naming it, and the master goes on (at start-up: exits 1, as for any bad
 * config; at a reload: keeps the running generation). Without plugins there
 * is nothing to try and no child.
 *
 * The master frees a registry once no config it may still fork with points
 * at it: each load frees the registries built before, except the running
 * one. (A reload starts only when none is in progress, so the previous
 * config is dead by then.)
 *
 * Master thread only (or main() for -t): not thread-safe.
 */
#ifndef CRUNCHD_FUNCTIONS_H
#define CRUNCHD_FUNCTIONS_H

#include <stddef.h>

#include "config.h"
#include "shm.h"

/* How long trying a set of plugins in a child may take. The master waits for
 * it (loading a plugin takes milliseconds): at a reload, a plugin that hangs
 * while it loads holds the master's loop this long, never longer; the
 * workers serve meanwhile. */
#define FUNCTIONS_CHECK_TIMEOUT_MS 5000

/*
 * Tries to build cfg's registry (the built-ins, each plugin in order, then
 * the language runtimes, which are started, say hello and are stopped:
 * rt_load.h) in a child process and throws it away; for crunchd -t and the
 * master's start-up (preflight.c). The wait is FUNCTIONS_CHECK_TIMEOUT_MS
 * plus each runtime's hello_timeout_ms and RT_STOP_MS. Returns 0, or -1 with
 * err naming the key, the file and the problem, e.g. "functions.plugins[1]:
 * function \"fib\" of /srv/libx.so clashes with the built-in \"fib\"",
 * "functions.plugins[0]: /srv/liby.so: crashed while loading (signal 11)" or
 * "functions.runtimes[0] \"py\": no hello within hello_timeout_ms (10000 ms)".
 */
int functions_check(const config *cfg, char *err, size_t errlen);

/*
 * Checks the plugins in a child as functions_check() does (not the runtimes:
 * they run in processes of their own and cannot crash the master), then
 * builds cfg's registry in this process (the built-ins, the plugins, then the
 * functions of each language runtime) into cfg->functions.registry (logging
 * each plugin loaded), after freeing every registry built before except
 * running's (running may be NULL). Returns 0, or -1 with err as above;
 * cfg->functions.registry is then NULL.
 */
int functions_load(config *cfg, const config *running, char *err, size_t errlen);

/* functions_load(), then metrics_register_fns(shm, ...): for the reload. */
int functions_reload(config *next, const config *running, shm_region *shm, char *err,
                     size_t errlen);

#endif
