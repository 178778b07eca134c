/*
 * config_runtimes.h - the "functions.runtimes" key of the configuration
 * (config.h): an array of language runtimes, each an object
 *
 *   {"name": "py", "argv": ["python3", "/srv/fns/handlers.py"], "per_worker": 1,
 *    "memory_mb": 512, "env": {"PYTHONPATH": "/srv/lib"}, "cwd": "/srv/fns",
 *    "max_result_bytes": 16777216, "hello_timeout_ms": 10000}
 *
 * Rules (each error names its path, "functions.runtimes[1].argv[0]: ..."):
 *   - at most CONFIG_MAX_RUNTIMES runtimes, names unique;
 *   - name: required, 1..31 bytes, a letter then letters, digits, '_', '-'
 *     (it prefixes log lines and names the runtime in errors);
 *   - argv: required, 1..CONFIG_RT_MAX_ARGV strings, argv[0] not empty;
 *   - env: an object of at most CONFIG_RT_MAX_ENV string values, names of
 *     [A-Za-z_][A-Za-z0-9_]*; kept as "NAME=value" in order;
 *   - per_worker 1..64 (default 1), memory_mb 0..1048576 (default 0: no
 *     limit), max_result_bytes 1 KiB..1 GiB (default 16 MiB),
 *     hello_timeout_ms 100..600000 (default 10000); cwd a string (default
 *     "": crunchd's working directory).
 * Unknown keys are errors, as everywhere in the file. Whether argv[0] can be
 * run and cwd exists is checked when the runtime is started (the master does
 * it before forking, and crunchd -t too: common/fn/rt_hello.h).
 */
#ifndef CRUNCHD_CONFIG_RUNTIMES_H
#define CRUNCHD_CONFIG_RUNTIMES_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"

/* Defaults of the optional keys of one runtime. */
#define CONFIG_RT_PER_WORKER 1
#define CONFIG_RT_MAX_RESULT_BYTES (16 * 1024 * 1024)
#define CONFIG_RT_HELLO_TIMEOUT_MS 10000

/*
 * Replaces cfg->functions.runtimes with the array v (borrowed) found at path
 * ("functions.runtimes"). Returns 0, or -1 with "<path>[i].<key>: <problem>"
 * in err; cfg is then partly written (config_load_* discards it).
 */
int config_runtimes_set(config *cfg, json_t *v, const char *path, char *err, size_t errlen);

#endif
