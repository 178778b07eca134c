/*
 * config.c - loads the JSON configuration (config.h, DESIGN.md section 6).
 *
 * The schema is one table per JSON object. A row names a key, its type and
 * range, and where the value goes: an offset from the start of struct config,
 * so the nested tables (limits, jobs, ...) write through the same base. The
 * walker looks each JSON key up in its table; a key that is not there is an
 * error, and so is a value of the wrong type or range. Rules that involve two
 * keys run after the walk (config_check).
 *
 * Messages are "<path>: <what>" with a dotted path ("limits.max_body_bytes",
 * "listen[1]"), or "FILE:LINE:COL: <jansson text>" for JSON syntax errors.
 * Nothing here logs or exits.
 */
#include "config.h"
#include "callback_allow.h"
#include "errbuf.h"
#include "hostname.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define KIB (INT64_C(1) << 10)
#define MIB (INT64_C(1) << 20)
#define GIB (INT64_C(1) << 30)
#define DAY_S INT64_C(86400)
#define DAY_MS (DAY_S * 1000)

/* jansson flags: duplicate keys are an error; scalars parse so that a
 * non-object top level gets our message rather than jansson's. */
#define CONFIG_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

#define KEY_PATH 256 /* longer (unknown) key paths are cut in messages */

#define MSG_LISTEN "expected host:port, [v6]:port or unix:/path"
#define MSG_ORIGIN "expected \"*\" or an origin such as \"https://app.example.com\""

typedef enum key_type {
    KT_INT,     /* JSON integer in [min, max]; stored as int or int64_t by size */
    KT_BOOL,    /* JSON true/false into a bool */
    KT_STR,     /* string of at most size - 1 bytes, then check() if set */
    KT_ENUM,    /* string, one of choices[] */
    KT_STRLIST, /* array of [min, max] strings of size bytes each; count at count_off */
    KT_WORKERS, /* "auto" or an integer in [min, max] (the key "workers") */
    KT_OBJECT,  /* nested object, walked with sub[] */
    KT_CUSTOM,  /* a shape the rows cannot say (an array of objects): set() */
} key_type;

/* Returns NULL when s is acceptable, else what was expected (for "<path>: %s"). */
typedef const char *check_fn(const char *s);

/* KT_CUSTOM: writes v (at path) into cfg; 0, or -1 with "<path>...: ..." in err. */
typedef int custom_fn(config *cfg, json_t *v, const char *path, char *err, size_t errlen);

typedef struct key_spec {
    const char *name;
    key_type type;
    size_t off;  /* from the start of struct config */
    size_t size; /* of the field; of one element for KT_STRLIST */
    int64_t min, max;
    size_t count_off;           /* KT_STRLIST: the int holding the count */
    bool unique;                /* KT_STRLIST: entries must differ */
    const char *const *choices; /* KT_ENUM: NULL-terminated */
    check_fn *check;            /* KT_STR, KT_STRLIST: extra syntax rule */
    const struct key_spec *sub; /* KT_OBJECT */
    custom_fn *set;             /* KT_CUSTOM */
} key_spec;

#define OFF(f) offsetof(config, f)
#define SZ(f) sizeof(((config *)0)->f)
#define NELEM(f) (SZ(f) / SZ(f[0]))

#define K_INT(k, f, lo, hi)                                                                        \
    {                                                                                              \
        .name = k, .type = KT_INT, .off = OFF(f), .size = SZ(f), .min = lo, .max = hi              \
    }
#define K_BOOL(k, f)                                                                               \
    {                                                                                              \
        .name = k, .type = KT_BOOL, .off = OFF(f), .size = SZ(f)                                   \
    }
#define K_STR(k, f, chk)                                                                           \
    {                                                                                              \
        .name = k, .type = KT_STR, .off = OFF(f), .size = SZ(f), .check = chk                      \
    }
#define K_ENUM(k, f, ch)                                                                           \
    {                                                                                              \
        .name = k, .type = KT_ENUM, .off = OFF(f), .size = SZ(f), .choices = ch                    \
    }
#define K_LIST(k, f, n, lo, uniq, chk)                                                             \
    {                                                                                              \
        .name = k, .type = KT_STRLIST, .off = OFF(f), .size = SZ(f[0]), .min = lo,                 \
        .max = (int64_t)NELEM(f), .count_off = OFF(n), .unique = uniq, .check = chk                \
    }
#define K_OBJ(k, s)                                                                                \
    {                                                                                              \
        .name = k, .type = KT_OBJECT, .sub = s                                                     \
    }
#define K_END                                                                                      \
    {                                                                                              \
        .name = NULL                                                                               \
    }

static const char *check_listen(const char *s);
static const char *check_allow(const char *s);
static const char *check_nonempty(const char *s);
static const char *check_origin(const char *s);

static const char *const store_kinds[] = {"sqlite", "redis", NULL};
static const char *const log_levels[] = {"error", "warn", "notice", "info", "debug", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

static const key_spec limits_keys[] = {
    K_INT("max_body_bytes", limits.max_body_bytes, 1, GIB),
    K_INT("max_header_bytes", limits.max_header_bytes, 512, MIB),
    K_INT("max_connections", limits.max_connections, 1, 1000000),
    K_INT("keepalive_timeout_s", limits.keepalive_timeout_s, 0, 3600),
    K_INT("read_timeout_s", limits.read_timeout_s, 1, 3600),
    K_INT("max_queue", limits.max_queue, 1, 100000000),
    K_INT("max_worker_body_bytes", limits.max_worker_body_bytes, 0, 64 * GIB),
    K_INT("max_worker_args_bytes", limits.max_worker_args_bytes, MIB, 64 * GIB),
    K_END,
};

static const key_spec jobs_keys[] = {
    K_INT("default_timeout_ms", jobs.default_timeout_ms, 1, 30 * DAY_MS),
    K_INT("max_timeout_ms", jobs.max_timeout_ms, 1, 30 * DAY_MS),
    K_INT("cancel_grace_ms", jobs.cancel_grace_ms, 0, 600000),
    K_INT("result_ttl_s", jobs.result_ttl_s, 1, 365 * DAY_S),
    K_END,
};

static const key_spec store_keys[] = {
    K_ENUM("kind", store.kind, store_kinds),
    K_STR("path", store.path, NULL),
    K_STR("url", store.url, NULL),
    K_END,
};

static const key_spec callbacks_keys[] = {
    K_LIST("allow", callbacks.allow, callbacks.n_allow, 0, false, check_allow),
    K_STR("secret", callbacks.secret, NULL),
    K_INT("retries", callbacks.retries, 0, 100),
    K_INT("timeout_ms", callbacks.timeout_ms, 10, 600000),
    K_INT("threads", callbacks.threads, 1, 64),
    K_INT("max_pending", callbacks.max_pending, 1, 1000000),
    K_INT("max_pending_bytes", callbacks.max_pending_bytes, 1, GIB),
    K_END,
};

static const key_spec http_keys[] = {
    K_LIST("cors_origins", http.cors_origins, http.n_cors_origins, 0, true, check_origin),
    K_END,
};

static const key_spec auth_keys[] = {
    K_STR("tokens_file", auth.tokens_file, NULL),
    K_BOOL("none", auth.none),
    K_END,
};

static const key_spec log_keys[] = {
    K_ENUM("level", log.level, log_levels),
    K_STR("access_log", log.access_log, NULL),
    K_ENUM("format", log.format, log_formats),
    K_END,
};

static int set_runtimes(config *cfg, json_t *v, const char *path, char *err, size_t errlen)
{
    return config_runtimes_set(cfg->functions.runtimes, &cfg->functions.n_runtimes, v, path, err,
                               errlen);
}

static const key_spec functions_keys[] = {
    K_LIST("plugins", functions.plugins, functions.n_plugins, 0, true, check_nonempty),
    {.name = "runtimes", .type = KT_CUSTOM, .set = set_runtimes},
    K_END,
};

static const key_spec top_keys[] = {
    K_LIST("listen", listen, n_listen, 1, true, check_listen),
    {.name = "workers",
     .type = KT_WORKERS,
     .off = OFF(workers),
     .size = SZ(workers),
     .min = 1,
     .max = CONFIG_MAX_WORKERS},
    K_INT("io_threads", io_threads, 1, 256),
    K_INT("cpu_threads", cpu_threads, 1, 256),
    K_STR("user", user, NULL),
    K_STR("pid_file", pid_file, NULL),
    K_STR("data_dir", data_dir, check_nonempty),
    K_OBJ("limits", limits_keys),
    K_OBJ("jobs", jobs_keys),
    K_OBJ("store", store_keys),
    K_OBJ("callbacks", callbacks_keys),
    K_OBJ("http", http_keys),
    K_OBJ("auth", auth_keys),
    K_OBJ("log", log_keys),
    K_OBJ("functions", functions_keys),
    K_INT("shutdown_timeout_s", shutdown_timeout_s, 0, 3600),
    K_INT("heartbeat_timeout_s", heartbeat_timeout_s, 1, 3600),
    K_BOOL("debug_functions", debug_functions),
    K_END,
};

/* ---- syntax of listen addresses and hosts ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ipv4(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

/* An IPv6 literal, optionally with a zone ("fe80::1%eth0"). */
static bool is_ipv6(const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    struct in6_addr a;
    const char *zone = memchr(s, '%', len);
    size_t alen = zone ? (size_t)(zone - s) : len;
    if (alen == 0 || alen >= sizeof(buf))
        return false;
    if (zone) {
        size_t zlen = len - alen - 1;
        if (zlen == 0 || zlen >= IF_NAMESIZE)
            return false;
        for (size_t i = 1; i <= zlen; i++)
            if (!is_alnum(zone[i]) && zone[i] != '_' && zone[i] != '-' && zone[i] != '.')
                return false;
    }
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    return inet_pton(AF_INET6, buf, &a) == 1;
}

static bool is_host(const char *s, size_t len)
{
    char buf[CONFIG_STR];
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return is_ipv4(buf) || hostname_valid(s, len);
}

/* Returns 1 for a valid port, 0 for bad syntax, -1 for digits out of range. */
static int port_ok(const char *s)
{
    long v = 0;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (!is_digit(*s))
            return 0;
        v = v > 65535 ? v : v * 10 + (*s - '0');
    }
    return v <= 65535 ? 1 : -1;
}

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == 108, "message below says 107");

static const char *check_unix(const char *path)
{
    const size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    if (path[0] != '/' || path[1] == '\0')
        return MSG_LISTEN;
    if (strlen(path) > max)
        return "unix socket path longer than 107 bytes";
    return NULL;
}

static const char *check_listen(const char *s)
{
    const char *port;
    int p;
    if (strncmp(s, "unix:", 5) == 0)
        return check_unix(s + 5);
    if (s[0] == '[') {
        const char *close = strstr(s, "]:");
        if (!close || !is_ipv6(s + 1, (size_t)(close - s - 1)))
            return MSG_LISTEN;
        port = close + 2;
    } else {
        const char *colon = strchr(s, ':');
        if (!colon || strchr(colon + 1, ':') || !is_host(s, (size_t)(colon - s)))
            return MSG_LISTEN;
        port = colon + 1;
    }
    p = port_ok(port);
    if (p == 0)
        return MSG_LISTEN;
    return p < 0 ? "port must be from 0 to 65535" : NULL;
}

static const char *check_allow(const char *s)
{
    callback_allow_entry e;
    return callback_allow_parse(s, &e);
}

static const char *check_nonempty(const char *s)
{
    return s[0] ? NULL : "must not be empty";
}

bool config_is_origin(const char *s, size_t len)
{
    const char *end = s + len, *h, *hend;
    char port[8];
    if (len > 7 && strncmp(s, "http://", 7) == 0)
        h = s + 7;
    else if (len > 8 && strncmp(s, "https://", 8) == 0)
        h = s + 8;
    else
        return false;
    if (*h == '[') {
        const char *close = memchr(h, ']', (size_t)(end - h));
        /* no zone: a browser never sends one in an Origin */
        if (!close || memchr(h, '%', (size_t)(close - h)) ||
            !is_ipv6(h + 1, (size_t)(close - h - 1)))
            return false;
        hend = close + 1;
    } else {
        hend = memchr(h, ':', (size_t)(end - h));
        if (!hend)
            hend = end;
        if (!is_host(h, (size_t)(hend - h)))
            return false;
    }
    if (hend == end)
        return true;
    if (*hend != ':' || (size_t)(end - hend) > sizeof(port))
        return false;
    memcpy(port, hend + 1, (size_t)(end - hend - 1));
    port[end - hend - 1] = '\0';
    return port_ok(port) == 1 && strtol(port, NULL, 10) > 0;
}

static const char *check_origin(const char *s)
{
    return strcmp(s, "*") == 0 || config_is_origin(s, strlen(s)) ? NULL : MSG_ORIGIN;
}

/* ---- setters: one per key_type; each writes only after its checks pass ---- */

static void *field(config *cfg, const key_spec *k)
{
    return (char *)cfg + k->off;
}

static int set_int(config *cfg, const key_spec *k, json_t *v, const char *path, char *err,
                   size_t errlen)
{
    json_int_t n;
    if (!json_is_integer(v))
        return errbuf_fail(err, errlen, "%s: expected integer", path);
    n = json_integer_value(v);
    if (n < k->min || n > k->max)
        return errbuf_fail(err, errlen, "%s: must be from %" PRId64 " to %" PRId64, path, k->min,
                           k->max);
    assert(k->size == sizeof(int) || k->size == sizeof(int64_t));
    if (k->size == sizeof(int))
        *(int *)field(cfg, k) = (int)n;
    else
        *(int64_t *)field(cfg, k) = (int64_t)n;
    return 0;
}

/* Copies a JSON string into a field of size bytes, with the length and
 * syntax checks shared by KT_STR and the elements of KT_STRLIST. */
static int copy_str(char *dst, size_t size, check_fn *check, json_t *v, const char *path, char *err,
                    size_t errlen)
{
    const char *s;
    size_t len;
    const char *why;
    if (!json_is_string(v))
        return errbuf_fail(err, errlen, "%s: expected string", path);
    s = json_string_value(v);
    len = json_string_length(v);
    if (len >= size)
        return errbuf_fail(err, errlen, "%s: longer than %zu bytes", path, size - 1);
    if (check && (why = check(s)) != NULL)
        return errbuf_fail(err, errlen, "%s: %s", path, why);
    memcpy(dst, s, len + 1);
    return 0;
}

static int set_enum(config *cfg, const key_spec *k, json_t *v, const char *path, char *err,
                    size_t errlen)
{
    char want[128] = "";
    size_t n = 0;
    if (!json_is_string(v))
        return errbuf_fail(err, errlen, "%s: expected string", path);
    for (size_t i = 0; k->choices[i]; i++) {
        if (strcmp(json_string_value(v), k->choices[i]) == 0)
            return copy_str(field(cfg, k), k->size, NULL, v, path, err, errlen);
        n = i + 1;
    }
    /* "expected "a", "b" or "c"" */
    for (size_t i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        size_t used = strlen(want);
        snprintf(want + used, sizeof(want) - used, "%s\"%s\"", sep, k->choices[i]);
    }
    return errbuf_fail(err, errlen, "%s: expected %s", path, want);
}

static int set_list(config *cfg, const key_spec *k, json_t *v, const char *path, char *err,
                    size_t errlen)
{
    char *dst = field(cfg, k); /* n entries of k->size bytes */
    size_t n;
    json_t *e;
    if (!json_is_array(v))
        return errbuf_fail(err, errlen, "%s: expected array of strings", path);
    n = json_array_size(v);
    if ((int64_t)n < k->min || (int64_t)n > k->max)
        return errbuf_fail(err, errlen, "%s: must have from %" PRId64 " to %" PRId64 " entries",
                           path, k->min, k->max);
    for (size_t i = 0; i < n; i++) {
        char epath[KEY_PATH + 24]; /* path is a known key: short */
        snprintf(epath, sizeof(epath), "%s[%zu]", path, i);
        e = json_array_get(v, i);
        if (copy_str(dst + i * k->size, k->size, k->check, e, epath, err, errlen) < 0)
            return -1;
        for (size_t j = 0; k->unique && j < i; j++)
            if (strcmp(dst + i * k->size, dst + j * k->size) == 0)
                return errbuf_fail(err, errlen, "%s: duplicate of %s[%zu]", epath, path, j);
    }
    *(int *)((char *)cfg + k->count_off) = (int)n;
    return 0;
}

/* The online CPUs this process may run on: sysconf(_SC_NPROCESSORS_ONLN),
 * lowered to the affinity mask when that is smaller (taskset, cpusets). */
static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0 && CPU_COUNT(&set) < n)
        n = CPU_COUNT(&set);
    if (n < 1)
        return 1;
    return n > CONFIG_MAX_WORKERS ? CONFIG_MAX_WORKERS : (int)n;
}

static int set_workers(config *cfg, const key_spec *k, json_t *v, const char *path, char *err,
                       size_t errlen)
{
    if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0) {
        cfg->workers = online_cpus();
        cfg->workers_auto = true;
        return 0;
    }
    if (!json_is_integer(v))
        return errbuf_fail(err, errlen, "%s: expected \"auto\" or a positive integer", path);
    if (set_int(cfg, k, v, path, err, errlen) < 0)
        return -1;
    cfg->workers_auto = false;
    return 0;
}

static int walk(config *cfg, const key_spec *table, json_t *obj, const char *prefix, char *err,
                size_t errlen);

static int set_value(config *cfg, const key_spec *k, json_t *v, const char *path, char *err,
                     size_t errlen)
{
    switch (k->type) {
    case KT_INT: return set_int(cfg, k, v, path, err, errlen);
    case KT_BOOL:
        if (!json_is_boolean(v))
            return errbuf_fail(err, errlen, "%s: expected boolean", path);
        *(bool *)field(cfg, k) = json_is_true(v);
        return 0;
    case KT_STR: return copy_str(field(cfg, k), k->size, k->check, v, path, err, errlen);
    case KT_ENUM: return set_enum(cfg, k, v, path, err, errlen);
    case KT_STRLIST: return set_list(cfg, k, v, path, err, errlen);
    case KT_WORKERS: return set_workers(cfg, k, v, path, err, errlen);
    case KT_OBJECT:
        if (!json_is_object(v))
            return errbuf_fail(err, errlen, "%s: expected object", path);
        return walk(cfg, k->sub, v, path, err, errlen);
    case KT_CUSTOM: return k->set(cfg, v, path, err, errlen);
    }
    assert(!"unknown key_type");
    return -1;
}

/* Writes "prefix.key" (or "key" at the top) into out; the key is cut by
 * utf8_echo() (a long unknown key is the file's text, not ours), and control
 * characters become '?' so an error message stays one printable line. */
static void path_join(char *out, size_t outlen, const char *prefix, const char *key)
{
    char echo[UTF8_ECHO_SIZE];
    assert(outlen > 0);
    utf8_echo(echo, key, strlen(key));
    for (char *p = echo; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    snprintf(out, outlen, "%s%s%s", prefix, prefix[0] ? "." : "", echo);
}

static int walk(config *cfg, const key_spec *table, json_t *obj, const char *prefix, char *err,
                size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char path[KEY_PATH];
        const key_spec *k = table;
        path_join(path, sizeof(path), prefix, key);
        while (k->name && strcmp(k->name, key) != 0)
            k++;
        if (!k->name)
            return errbuf_fail(err, errlen, "%s: unknown key", path);
        if (set_value(cfg, k, v, path, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* Rules that involve more than one key; they see defaults and file values alike. */
static int config_check(config *cfg, char *err, size_t errlen)
{
    config_limits *lim = &cfg->limits;
    if (lim->max_worker_body_bytes == 0)
        lim->max_worker_body_bytes = 4 * lim->max_body_bytes;
    if (lim->max_worker_body_bytes < lim->max_body_bytes)
        return errbuf_fail(err, errlen,
                           "limits.max_worker_body_bytes: must be at least limits.max_body_bytes");
    if (cfg->jobs.default_timeout_ms > cfg->jobs.max_timeout_ms)
        return errbuf_fail(err, errlen,
                           "jobs.default_timeout_ms: must not exceed jobs.max_timeout_ms");
    if (strcmp(cfg->store.kind, "redis") == 0 && cfg->store.url[0] == '\0')
        return errbuf_fail(err, errlen, "store.url: required for kind redis");
    if (strcmp(cfg->store.kind, "sqlite") == 0 && cfg->store.path[0] == '\0')
        return errbuf_fail(err, errlen, "store.path: required for kind sqlite");
    if (cfg->auth.none && cfg->auth.tokens_file[0] != '\0')
        return errbuf_fail(err, errlen,
                           "auth.none: true turns tokens off, but auth.tokens_file is set: "
                           "remove one of them");
    for (int i = 0; cfg->http.n_cors_origins > 1 && i < cfg->http.n_cors_origins; i++)
        if (strcmp(cfg->http.cors_origins[i], "*") == 0)
            return errbuf_fail(
                err, errlen, "http.cors_origins[%d]: \"*\" allows every origin; list it alone", i);
    return 0;
}

/* Takes ownership of root (a new reference, may be NULL after a parse error). */
static int config_apply(config *cfg, json_t *root, const char *name, const json_error_t *je,
                        char *err, size_t errlen)
{
    int rc;
    config_defaults(cfg);
    cfg->limits.max_worker_body_bytes = 0; /* unless set: follows max_body_bytes */
    if (!root && je->line < 0)             /* not tied to a position, e.g. out of memory */
        return errbuf_fail(err, errlen, "%s: %s", name, je->text);
    if (!root)
        return errbuf_fail(err, errlen, "%s:%d:%d: %s", name, je->line, je->column, je->text);
    if (!json_is_object(root))
        rc = errbuf_fail(err, errlen, "top level: expected object");
    else
        rc = walk(cfg, top_keys, root, "", err, errlen);
    json_decref(root);
    return rc < 0 ? -1 : config_check(cfg, err, errlen);
}

void config_defaults(config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen[0], sizeof(cfg->listen[0]), "127.0.0.1:8080");
    cfg->n_listen = 1;
    cfg->workers = online_cpus();
    cfg->workers_auto = true;
    cfg->io_threads = 4;
    cfg->cpu_threads = 1;
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "./data");
    cfg->limits = (config_limits){
        .max_body_bytes = MIB,
        .max_header_bytes = 8 * (int)KIB,
        .max_connections = 4096,
        .keepalive_timeout_s = 75,
        .read_timeout_s = 30,
        .max_queue = 10000,
        .max_worker_body_bytes = 4 * MIB, /* 4 x max_body_bytes (config_apply) */
        .max_worker_args_bytes = 32 * MIB,
    };
    cfg->jobs = (config_jobs){
        .default_timeout_ms = 300000,
        .max_timeout_ms = 3600000,
        .cancel_grace_ms = 2000,
        .result_ttl_s = DAY_S,
    };
    snprintf(cfg->store.kind, sizeof(cfg->store.kind), "sqlite");
    snprintf(cfg->store.path, sizeof(cfg->store.path), "./var/crunchd.db");
    cfg->callbacks = (config_callbacks){
        .n_allow = 0, /* callbacks go nowhere until the operator lists host:port pairs */
        .retries = 3,
        .timeout_ms = 5000,
        .threads = 2,
        .max_pending = 1000,
        .max_pending_bytes = 16 * MIB,
    };
    snprintf(cfg->log.level, sizeof(cfg->log.level), "info");
    snprintf(cfg->log.format, sizeof(cfg->log.format), "text");
    cfg->shutdown_timeout_s = 30;
    cfg->heartbeat_timeout_s = 10;
}

int config_load_string(config *cfg, const char *json, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(json, CONFIG_JSON_FLAGS, &je);
    return config_apply(cfg, root, "<string>", &je, err, errlen);
}

/* Opens the file itself (close-on-exec, directories refused) so that an
 * unreadable path gets "PATH: <strerror>" rather than a parse error. */
int config_load_file(config *cfg, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root;
    struct stat st;
    FILE *f = fopen(path, "re");
    if (!f) {
        config_defaults(cfg);
        return errbuf_fail(err, errlen, "%s: %s", path, strerror(errno));
    }
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        config_defaults(cfg);
        return errbuf_fail(err, errlen, "%s: %s", path, strerror(EISDIR));
    }
    root = json_loadf(f, CONFIG_JSON_FLAGS, &je);
    fclose(f);
    return config_apply(cfg, root, path, &je, err, errlen);
}
