/*
 * rt_load.h - the master's side of the language runtimes (config.h
 * functions.runtimes; README "Writing a runtime").
 *
 * Before the master forks a generation of workers (start-up and HUP,
 * server/functions.c), and for crunchd -t (server/preflight.c), each
 * configured runtime is started once (rt_spawn.h, as the configured user
 * when crunchd runs as root), its hello line is read within
 * hello_timeout_ms, its functions are registered (rt_proto.h turns their
 * schemas into fn_arg arrays that the registry owns through
 * fn_registry_own()), and the process is stopped: stdin closed, then
 * SIGKILL after RT_STOP_MS (rt_spawn.h). What it writes on stderr meanwhile is logged
 * (rt_log.h), so a Python traceback at import shows above the error.
 *
 * Errors name the runtime: "functions.runtimes[0] \"py\": no hello within
 * hello_timeout_ms (10000 ms)", "... exited with status 1 before its
 * hello", "... hello: functions[0].args[0]: unknown key \"maximum\"",
 * "... argv[0] \"python4\": not found in PATH (...)"; a name clash names
 * both functions ("function \"fib\" of runtime \"py\" clashes with the
 * built-in \"fib\"").
 *
 * Master thread (or main for -t) only; blocks for as long as the runtimes
 * take to say hello. Every process it starts is reaped before it returns.
 */
#ifndef CRUNCHD_RT_LOAD_H
#define CRUNCHD_RT_LOAD_H

#include <stddef.h>

#include "config.h"
#include "fn_registry.h"
#include "rt_spawn.h" /* RT_STOP_MS */

/* Registers the functions of every runtime of cfg into r, in the order of
 * the config. Returns 0, or -1 with err naming the runtime (r may then hold
 * some of them: the caller frees it). */
int rt_load_all(fn_registry *r, const config *cfg, char *err, size_t errlen);

/* The origin of runtime functions in the registry: writes "runtime \"NAME\"". */
void rt_load_origin(const char *name, char *buf, size_t len);

#endif
