/*
 * functions.h - the master's side of the function registry (fn_registry.h):
 * one registry per generation of workers, built before the master forks
 * them, and pointed at by the generation's config (config.functions.registry).
 *
 *   start-up  functions_load(&cfg, NULL, ...) builds the first registry;
 *             the master then maps the shared region with room for its
 *             metrics (metrics_shm_bytes()) and calls metrics_register_fns().
 *   HUP       functions_reload(&next, running, shm, ...) builds the registry
 *             of the new config; on failure the reload fails and the running
 *             generation keeps its registry. A rollback needs nothing: the
 *             restored config points at its own registry again.
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

/*
 * Builds the registry of cfg's functions (the built-ins, then the functions
 * of each language runtime, rt_load.h) into
 * cfg->functions.registry, after freeing every registry built before except
 * running's (running may be NULL). Returns 0, or -1 with err naming the
 * key and the problem; cfg->functions.registry is then NULL.
 */
int functions_load(config *cfg, const config *running, char *err, size_t errlen);

/*
 * What functions_load() would build, built and freed (for crunchd -t, in
 * preflight.c): the language runtimes are started, say hello and are
 * stopped. Returns 0, or -1 with err as functions_load() says it.
 */
int functions_check(const config *cfg, char *err, size_t errlen);

/* functions_load(), then metrics_register_fns(shm, ...): for the reload. */
int functions_reload(config *next, const config *running, shm_region *shm, char *err,
                     size_t errlen);

#endif
