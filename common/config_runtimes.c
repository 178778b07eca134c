/*
 * config_runtimes.c - see config_runtimes.h. One function per key; each
 * writes only after its checks pass.
 */
#include "config_runtimes.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "errbuf.h"

#define RT_PATH 256 /* key paths: "functions.runtimes[7].argv[15]", cut unknown keys */

static bool is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A JSON string that fits size bytes; 0 or -1 with err. */
static int get_str(json_t *v, size_t size, const char *path, const char **out, char *err,
                   size_t errlen)
{
    if (!json_is_string(v))
        return errbuf_fail(err, errlen, "%s: expected string", path);
    const char *s = json_string_value(v); /* no NUL: the file is parsed without JSON_ALLOW_NUL */
    size_t len = json_string_length(v);
    if (len >= size)
        return errbuf_fail(err, errlen, "%s: longer than %zu bytes", path, size - 1);
    *out = s;
    return 0;
}

static int set_name(config_runtime *rt, json_t *v, const char *path, char *err, size_t errlen)
{
    const char *s;
    if (get_str(v, sizeof(rt->name), path, &s, err, errlen) < 0)
        return -1;
    bool ok = is_letter(s[0]);
    for (const char *p = s + 1; ok && *p; p++)
        ok = is_letter(*p) || is_digit(*p) || *p == '_' || *p == '-';
    if (!ok)
        return errbuf_fail(err, errlen,
                           "%s: expected a letter followed by letters, digits, "
                           "'_' or '-'",
                           path);
    snprintf(rt->name, sizeof(rt->name), "%s", s);
    return 0;
}

static int set_argv(config_runtime *rt, json_t *v, const char *path, char *err, size_t errlen)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_array(v))
        return errbuf_fail(err, errlen, "%s: expected array of strings", path);
    if (n < 1 || n > CONFIG_RT_MAX_ARGV)
        return errbuf_fail(err, errlen, "%s: must have from 1 to %d entries", path,
                           CONFIG_RT_MAX_ARGV);
    for (size_t i = 0; i < n; i++) {
        char epath[RT_PATH];
        const char *s;
        snprintf(epath, sizeof(epath), "%.120s[%zu]", path, i);
        if (get_str(json_array_get(v, i), sizeof(rt->argv[i]), epath, &s, err, errlen) < 0)
            return -1;
        if (i == 0 && s[0] == '\0')
            return errbuf_fail(err, errlen, "%s: must not be empty", epath);
        snprintf(rt->argv[i], sizeof(rt->argv[i]), "%s", s);
    }
    rt->argc = (int)n;
    return 0;
}

static bool env_name_ok(const char *s)
{
    if (!is_letter(s[0]) && s[0] != '_')
        return false;
    for (const char *p = s + 1; *p; p++)
        if (!is_letter(*p) && !is_digit(*p) && *p != '_')
            return false;
    return true;
}

static int set_env(config_runtime *rt, json_t *v, const char *path, char *err, size_t errlen)
{
    const char *key;
    json_t *val;
    if (!json_is_object(v))
        return errbuf_fail(err, errlen, "%s: expected object of strings", path);
    if (json_object_size(v) > CONFIG_RT_MAX_ENV)
        return errbuf_fail(err, errlen, "%s: more than %d entries", path, CONFIG_RT_MAX_ENV);
    rt->nenv = 0;
    json_object_foreach(v, key, val)
    {
        char epath[RT_PATH];
        const char *s;
        /* The key is the file's text: named only once it is known to be sane. */
        if (!env_name_ok(key) || strlen(key) > 64)
            return errbuf_fail(err, errlen,
                               "%s: a name is not [A-Za-z_][A-Za-z0-9_]* of at "
                               "most 64 bytes",
                               path);
        snprintf(epath, sizeof(epath), "%.120s.%.64s", path, key);
        if (get_str(val, sizeof(rt->env[0]) - strlen(key) - 1, epath, &s, err, errlen) < 0)
            return -1;
        snprintf(rt->env[rt->nenv++], sizeof(rt->env[0]), "%s=%s", key, s);
    }
    return 0;
}

static int set_int(json_t *v, int64_t lo, int64_t hi, const char *path, int64_t *out, char *err,
                   size_t errlen)
{
    if (!json_is_integer(v))
        return errbuf_fail(err, errlen, "%s: expected integer", path);
    json_int_t n = json_integer_value(v);
    if (n < lo || n > hi)
        return errbuf_fail(err, errlen, "%s: must be from %" PRId64 " to %" PRId64, path, lo, hi);
    *out = n;
    return 0;
}

/* One key of a runtime object; 0, or -1 with err. */
static int set_key(config_runtime *rt, const char *key, json_t *v, const char *path, char *err,
                   size_t errlen)
{
    int64_t n;
    const char *s;
    if (strcmp(key, "name") == 0)
        return set_name(rt, v, path, err, errlen);
    if (strcmp(key, "argv") == 0)
        return set_argv(rt, v, path, err, errlen);
    if (strcmp(key, "env") == 0)
        return set_env(rt, v, path, err, errlen);
    if (strcmp(key, "cwd") == 0) {
        if (get_str(v, sizeof(rt->cwd), path, &s, err, errlen) < 0)
            return -1;
        snprintf(rt->cwd, sizeof(rt->cwd), "%s", s);
        return 0;
    }
    if (strcmp(key, "per_worker") == 0) {
        if (set_int(v, 1, 64, path, &n, err, errlen) < 0)
            return -1;
        rt->per_worker = (int)n;
        return 0;
    }
    if (strcmp(key, "memory_mb") == 0) {
        if (set_int(v, 0, 1048576, path, &n, err, errlen) < 0)
            return -1;
        rt->memory_mb = (int)n;
        return 0;
    }
    if (strcmp(key, "max_result_bytes") == 0)
        return set_int(v, 1024, INT64_C(1) << 30, path, &rt->max_result_bytes, err, errlen);
    if (strcmp(key, "hello_timeout_ms") == 0) {
        if (set_int(v, 100, 600000, path, &n, err, errlen) < 0)
            return -1;
        rt->hello_timeout_ms = (int)n;
        return 0;
    }
    return errbuf_fail(err, errlen, "%s: unknown key", path);
}

static int set_runtime(config_runtime *rt, json_t *v, const char *path, char *err, size_t errlen)
{
    const char *key;
    json_t *val;
    if (!json_is_object(v))
        return errbuf_fail(err, errlen, "%s: expected object", path);
    memset(rt, 0, sizeof(*rt));
    rt->per_worker = CONFIG_RT_PER_WORKER;
    rt->max_result_bytes = CONFIG_RT_MAX_RESULT_BYTES;
    rt->hello_timeout_ms = CONFIG_RT_HELLO_TIMEOUT_MS;
    json_object_foreach(v, key, val)
    {
        char kpath[RT_PATH / 2];
        /* An unknown key is named only by its length-cut text. */
        snprintf(kpath, sizeof(kpath), "%.80s.%.24s", path, key);
        for (char *p = kpath; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '?';
        if (set_key(rt, key, val, kpath, err, errlen) < 0)
            return -1;
    }
    if (rt->name[0] == '\0')
        return errbuf_fail(err, errlen, "%s.name: required", path);
    if (rt->argc == 0)
        return errbuf_fail(err, errlen, "%s.argv: required", path);
    return 0;
}

int config_runtimes_set(config_runtime *rts, int *nrts, json_t *v, const char *path, char *err,
                        size_t errlen)
{
    if (!json_is_array(v))
        return errbuf_fail(err, errlen, "%s: expected array of objects", path);
    size_t n = json_array_size(v);
    if (n > CONFIG_MAX_RUNTIMES)
        return errbuf_fail(err, errlen, "%s: must have from 0 to %d entries", path,
                           CONFIG_MAX_RUNTIMES);
    *nrts = 0;
    for (size_t i = 0; i < n; i++) {
        char epath[RT_PATH];
        snprintf(epath, sizeof(epath), "%.120s[%zu]", path, i);
        if (set_runtime(&rts[i], json_array_get(v, i), epath, err, errlen) < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(rts[i].name, rts[j].name) == 0)
                return errbuf_fail(err, errlen, "%s.name: \"%s\" is the name of %s[%zu] too", epath,
                                   rts[i].name, path, j);
        *nrts = (int)i + 1;
    }
    return 0;
}
