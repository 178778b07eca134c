/*
 * config_runtimes.h - the "functions.runtimes" key of the configuration
 * (config.h, which includes this header): an array of language runtimes, each an object
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
 * it before forking, and crunchd -t too: common/fn/rt_load.h).
 */
#ifndef CRUNCHD_CONFIG_RUNTIMES_H
#define CRUNCHD_CONFIG_RUNTIMES_H

#include <jansson.h>
#include <stddef.h>

#define CONFIG_MAX_RUNTIMES 8 /* functions.runtimes entries */
#define CONFIG_RT_MAX_ARGV 16 /* argv entries of one runtime */
#define CONFIG_RT_MAX_ENV 16  /* env entries of one runtime */
#define CONFIG_RT_NAME 32     /* runtime names: 1..31 bytes */
#define CONFIG_RT_STR 1024    /* argv, env and cwd strings: up to 1023 bytes (CONFIG_PATH) */

/* One language runtime (functions.runtimes[i]; README "Writing a runtime"):
 * a program each worker runs per_worker copies of, speaking NDJSON on its
 * stdin and stdout (common/fn/rt_proto.h). Checked by config_runtimes.c. */
typedef struct config_runtime {
    char name[CONFIG_RT_NAME];                    /* a letter, then [A-Za-z0-9_-]; unique */
    char argv[CONFIG_RT_MAX_ARGV][CONFIG_RT_STR]; /* argv[0]: a path, or a name looked up in PATH */
    int argc;                                     /* 1 .. CONFIG_RT_MAX_ARGV */
    char env[CONFIG_RT_MAX_ENV][CONFIG_RT_STR];   /* "NAME=value": the whole environment (+ PATH) */
    int nenv;
    char cwd[CONFIG_RT_STR];  /* "" = crunchd's working directory */
    int per_worker;           /* processes per worker; default 1 */
    int memory_mb;            /* RLIMIT_AS of each process; 0 = none (default) */
    int64_t max_result_bytes; /* longest reply line; default 16 MiB */
    int hello_timeout_ms;     /* to print the hello line; default 10000 */
} config_runtime;

/* Defaults of the optional keys of one runtime. */
#define CONFIG_RT_PER_WORKER 1
#define CONFIG_RT_MAX_RESULT_BYTES (16 * 1024 * 1024)
#define CONFIG_RT_HELLO_TIMEOUT_MS 10000

/*
 * Replaces rts[0..*n) (an array of CONFIG_MAX_RUNTIMES: config.h's
 * functions.runtimes) with the array v (borrowed) found at path
 * ("functions.runtimes"). Returns 0, or -1 with "<path>[i].<key>: <problem>"
 * in err; rts is then partly written (config_load_* discards it).
 */
int config_runtimes_set(config_runtime *rts, int *n, json_t *v, const char *path, char *err,
                        size_t errlen);

#endif
