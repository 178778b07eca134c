/*
 * config.h - the one JSON configuration file (DESIGN.md section 6).
 *
 * A config is a plain value: fixed-size fields and no pointer it owns, so the
 * master can copy it, keep the old one during a reload, and hand it to a
 * forked worker without ownership questions. Two pointers are borrowed:
 * functions.registry (see config_functions) and auth.table, the immutable
 * table of tokens the master loaded for this config (server/auth_master.h
 * owns it and keeps it alive while a config of the master refers to it);
 * the loaders leave both NULL.
 *
 * Every key of DESIGN.md section 6 is known. An unknown key or a value of the
 * wrong type or range is an error naming its path, e.g.
 * "limits.max_body_bytes: expected integer".
 */
#ifndef CRUNCHD_CONFIG_H
#define CRUNCHD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config_runtimes.h"

#define CONFIG_MAX_LISTEN 16
#define CONFIG_MAX_ALLOW 32
#define CONFIG_STR 256
#define CONFIG_PATH 1024
#define CONFIG_MAX_WORKERS 256
#define CONFIG_MAX_CORS 32
#define CONFIG_MAX_PLUGINS 32

typedef struct config_limits {
    int64_t max_body_bytes;        /* default 1 MiB */
    int max_header_bytes;          /* default 8192 */
    int max_connections;           /* per worker; default 4096 */
    int keepalive_timeout_s;       /* default 75 */
    int read_timeout_s;            /* default 30 */
    int max_queue;                 /* default 10000 */
    int64_t max_worker_body_bytes; /* bodies one worker holds; default 4 x max_body_bytes */
    int64_t max_worker_args_bytes; /* parsed arguments one worker holds; default 32 MiB */
} config_limits;

typedef struct config_jobs {
    int64_t default_timeout_ms; /* default 300000 */
    int64_t max_timeout_ms;     /* default 3600000 */
    int64_t cancel_grace_ms;    /* default 2000 */
    int64_t result_ttl_s;       /* default 86400 */
} config_jobs;

typedef struct config_store {
    char kind[16];          /* "sqlite" (default) or "redis" */
    char path[CONFIG_PATH]; /* sqlite: default "./var/crunchd.db" */
    char url[CONFIG_PATH];  /* redis */
} config_store;

typedef struct config_callbacks {
    char allow[CONFIG_MAX_ALLOW][CONFIG_STR]; /* "host:port" entries (callback_allow.h) */
    int n_allow;                              /* default 0: no callback may be sent */
    char secret[CONFIG_STR];                  /* "" = unsigned */
    int retries;                              /* default 3 */
    int timeout_ms;                           /* one attempt: connect + send + read; default 5000 */
    int threads;               /* delivery threads per worker (not the io pool); default 2 */
    int max_pending;           /* deliveries per worker not yet done; default 1000 */
    int64_t max_pending_bytes; /* their bodies together; default 16 MiB */
} config_callbacks;

typedef struct config_http {
    /* Origins whose browser scripts may read our replies (CORS): "*", or
     * "http[s]://host[:port]" (no path). Default none: no CORS header ever. */
    char cors_origins[CONFIG_MAX_CORS][CONFIG_STR];
    int n_cors_origins;
} config_http;

struct auth_table; /* auth.h */

typedef struct config_auth {
    char tokens_file[CONFIG_PATH]; /* "" = no tokens: loopback only unless none */
    bool none;                     /* no authentication at all, on any address; default false */
    const struct auth_table
        *table; /* not a key: set by the master (auth_master.h); NULL without tokens */
} config_auth;

typedef struct config_log {
    char level[16];               /* debug|info|notice|warn|error; default info */
    char access_log[CONFIG_PATH]; /* path, "-" for stdout, "" for off (default) */
    char format[16];              /* "text" (default) or "json" */
} config_log;

typedef struct fn_registry fn_registry;

typedef struct config_functions {
    /* C plugins to load, in this order (include/crunchd/plugin.h); default none. */
    char plugins[CONFIG_MAX_PLUGINS][CONFIG_PATH];
    int n_plugins;
    config_runtime runtimes[CONFIG_MAX_RUNTIMES]; /* functions.runtimes */
    int n_runtimes;                               /* default 0 */
    /* Not from the file: the function registry built from this config
     * (server/functions.c) that the workers forked with it use. Borrowed, owned
     * by the master; NULL in a config that was only loaded (the built-ins). */
    fn_registry *registry;
} config_functions;

typedef struct config {
    char listen[CONFIG_MAX_LISTEN][CONFIG_STR]; /* "host:port", "[v6]:port", "unix:/path" */
    int n_listen;                               /* default 1: "127.0.0.1:8080" */
    int workers;                                /* resolved: "auto" becomes the online CPU count */
    bool workers_auto;
    int io_threads;             /* default 4 */
    int cpu_threads;            /* default 1 */
    char user[64];              /* "" = do not switch */
    char pid_file[CONFIG_PATH]; /* "" = none */
    char data_dir[CONFIG_PATH]; /* default "./data" */
    config_limits limits;
    config_jobs jobs;
    config_store store;
    config_callbacks callbacks;
    config_http http;
    config_auth auth;
    config_log log;
    config_functions functions;
    int shutdown_timeout_s;  /* default 30 */
    int heartbeat_timeout_s; /* default 10 */
    bool debug_functions;    /* default false */
} config;

/* Fills *cfg with the defaults above. */
void config_defaults(config *cfg);

/*
 * Loads the file at path over the defaults. Returns 0, or -1 with a message
 * naming the file position or key path written to err (never logs).
 *
 * Each load starts with config_defaults(cfg): a key absent from the file has
 * its default, whatever *cfg held before; "listen" and "callbacks.allow"
 * replace the default lists. On error *cfg is partly written: load into a
 * scratch config and copy it over the live one only on success.
 *
 * err (may be NULL) receives one line, truncated to errlen:
 *   "FILE: <strerror>"                 the file cannot be opened, or is a directory
 *   "FILE:LINE:COL: <jansson text>"    JSON syntax, duplicate key ("<string>" for strings)
 *   "top level: expected object"
 *   "<path>: <problem>"                path is dotted, "limits.max_body_bytes", "listen[1]"
 */
int config_load_file(config *cfg, const char *path, char *err, size_t errlen);

/* Same, from a string (tests and the embedded default). */
int config_load_string(config *cfg, const char *json, char *err, size_t errlen);

/* Whether s is an origin as http.cors_origins takes it: "scheme://host[:port]"
 * with scheme http or https, host a name, an IPv4 address or a [v6] literal,
 * port 1..65535, nothing after it (RFC 6454 serialisation). */
bool config_is_origin(const char *s, size_t len);

#endif
