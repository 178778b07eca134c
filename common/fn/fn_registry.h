/*
 * fn_registry.h - a set of functions that the built-ins and the plugins
 * register into at start-up (the process's current one, that fn_find() &
 * co. read, is chosen with fn_catalog_use(): fn_catalog.h).
 *
 * Life of a registry (DESIGN.md sections 1 and 7):
 *   1. The master builds it before it forks: fn_registry_new(), then
 *      fn_builtins_register() (builtin.h), then each configured plugin
 *      (fn_plugin_load(), fn_plugin.h) in the order of the config; then
 *      metrics_register_fns() (metrics.h) gives every function its series.
 *   2. The config of a generation points at its registry; a worker forked
 *      with that config calls fn_catalog_use() once, before its threads
 *      start, and keeps that registry for its whole life.
 *   3. A reload (HUP) builds a new registry for the new generation the same
 *      way; the old workers keep theirs (their copy of the master's memory is
 *      theirs), and the master frees a registry once no config it may still
 *      fork with points at it (server/functions.c).
 *
 * Invariants:
 *   - Names are unique in a registry: adding a name that is there is an error
 *     naming both origins ("function \"fib\" of /srv/libx.so clashes with the
 *     built-in \"fib\""). Names are 1..FN_NAME_MAX-1 bytes of [A-Za-z0-9_.-]
 *     starting with a letter (they go into URLs, log lines and metric labels
 *     without escaping); each descriptor's schema is checked when added.
 *   - Indexes are stable: a function's index is its position in the order of
 *     registration and never changes; fn_registry_at(r, i)->index == i.
 *   - The registry keeps a copy of each descriptor (so it can fill in index
 *     and series); what the descriptor points to (names, args, docs, run) is
 *     borrowed and must outlive the registry: static data for built-ins, the
 *     plugin's mapping for plugins, which the registry keeps loaded through
 *     fn_registry_own().
 *   - At most FN_REGISTRY_MAX functions.
 *
 * Thread rules: building (new, add, own, set_series, free) is for one
 * thread (the master's, or a test's) on a registry no other thread reads;
 * a registry is never changed once a process uses it (asserted) or a worker
 * was forked with it. fn_catalog_use() is called before the threads that
 * read it start (a worker at its start; tests between single-threaded
 * phases). Reading (find, at, count, the fn.h lookups) takes no lock and is
 * safe from any thread.
 */
#ifndef CRUNCHD_FN_REGISTRY_H
#define CRUNCHD_FN_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "fn.h"

typedef struct fn_registry fn_registry;

#define FN_REGISTRY_MAX 4096         /* functions in one registry */
#define FN_ORIGIN_BUILTIN "built-in" /* origin of the built-in functions */

/* Returns a new, empty registry, or NULL when out of memory. */
fn_registry *fn_registry_new(void);

/*
 * Releases what fn_registry_own() handed over, last first, then the registry.
 * NULL is a no-op. Must not be the current registry of this process.
 */
void fn_registry_free(fn_registry *r);

/*
 * Adds a copy of desc (borrowed; see the invariants for what it points to),
 * from origin (copied: FN_ORIGIN_BUILTIN or the plugin's path). Returns 0, or
 * -1 with err naming the function, its origin and the problem: a bad name, a
 * bad schema ("function \"x\" of /p.so: argument \"n\": min 5 is above max
 * 3"), a name clash (both origins named), FN_REGISTRY_MAX reached, or out of
 * memory. On failure nothing was added.
 */
int fn_registry_add(fn_registry *r, const fn_desc *desc, const char *origin, char *err,
                    size_t errlen);

/*
 * Hands p to the registry: fn_registry_free() calls release(p) (a plugin's
 * dlopen() handle, memory the copied descriptors point to). Returns 0, or -1
 * when out of memory, having called release(p) already.
 */
int fn_registry_own(fn_registry *r, void *p, void (*release)(void *p));

/* The metrics series of function i (metrics_register_fns() only). */
void fn_registry_set_series(fn_registry *r, int i, int series);

/* Functions in r, debug-only ones included. */
int fn_registry_count(const fn_registry *r);

/* Function i of r (its index is i), or NULL outside 0 .. count - 1. */
const fn_desc *fn_registry_at(const fn_registry *r, int i);

/* Origin of function i, as given to fn_registry_add(), or NULL. */
const char *fn_registry_origin(const fn_registry *r, int i);

/* As fn_find(), in r. */
const fn_desc *fn_registry_find(const fn_registry *r, const char *name, size_t len, bool debug);

/* As fn_list_json(), of r. */
json_t *fn_registry_list_json(const fn_registry *r, bool debug);

/* Some process uses r (fn_catalog_use): no more changes (asserted). */
void fn_registry_seal(const fn_registry *r);

#endif
