/*
 * check_config.c - unit tests for common/config.c.
 *
 * Error cases are tables of (JSON, exact message); each row is its own Check
 * test so a failure names the row. The shipped conf/crunchd*.json files are loaded
 * from the source tree: $CRUNCHD_SOURCE_ROOT, else the first of ".", "..",
 * "../.." that holds conf/crunchd.json.
 */
#include "config.h"
#include "config_test.h"

#include <check.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct err_case {
    const char *json;
    const char *want;
} err_case;

static const char *source_root(void)
{
    static const char *const tries[] = {".", "..", "../.."};
    static char found[PATH_MAX];
    const char *env = getenv("CRUNCHD_SOURCE_ROOT");
    if (env && env[0])
        return env;
    for (size_t i = 0; i < NELEM(tries); i++) {
        snprintf(found, sizeof(found), "%s/conf/crunchd.json", tries[i]);
        if (access(found, R_OK) == 0)
            return tries[i];
    }
    return ".";
}

static long cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n;
}

/* ---- defaults ---- */

static void assert_defaults(const config *c)
{
    ck_assert_int_eq(c->n_listen, 1);
    ck_assert_str_eq(c->listen[0], "127.0.0.1:8080");
    ck_assert(c->workers_auto);
    ck_assert_int_ge(c->workers, 1);
    ck_assert_int_le(c->workers, CONFIG_MAX_WORKERS);
    ck_assert_int_le(c->workers, cpus());
    ck_assert_int_eq(c->io_threads, 4);
    ck_assert_int_eq(c->cpu_threads, 1);
    ck_assert_str_eq(c->user, "");
    ck_assert_str_eq(c->pid_file, "");
    ck_assert_str_eq(c->data_dir, "./data");
    ck_assert_int_eq(c->limits.max_body_bytes, 1048576);
    ck_assert_int_eq(c->limits.max_header_bytes, 8192);
    ck_assert_int_eq(c->limits.max_connections, 4096);
    ck_assert_int_eq(c->limits.keepalive_timeout_s, 75);
    ck_assert_int_eq(c->limits.read_timeout_s, 30);
    ck_assert_int_eq(c->limits.max_queue, 10000);
    ck_assert_int_eq(c->jobs.default_timeout_ms, 300000);
    ck_assert_int_eq(c->jobs.max_timeout_ms, 3600000);
    ck_assert_int_eq(c->jobs.cancel_grace_ms, 2000);
    ck_assert_int_eq(c->jobs.result_ttl_s, 86400);
    ck_assert_str_eq(c->store.kind, "sqlite");
    ck_assert_str_eq(c->store.path, "./var/crunchd.db");
    ck_assert_str_eq(c->store.url, "");
    ck_assert_int_eq(c->callbacks.n_allow, 0); /* no callback host at all */
    ck_assert_str_eq(c->callbacks.secret, "");
    ck_assert_int_eq(c->callbacks.retries, 3);
    ck_assert_int_eq(c->callbacks.timeout_ms, 5000);
    ck_assert_int_eq(c->callbacks.threads, 2);
    ck_assert_int_eq(c->callbacks.max_pending, 1000);
    ck_assert_int_eq(c->callbacks.max_pending_bytes, 16777216);
    ck_assert_int_eq(c->http.n_cors_origins, 0);
    ck_assert_str_eq(c->auth.tokens_file, ""); /* protected mode: loopback only */
    ck_assert(!c->auth.none);
    ck_assert_ptr_null(c->auth.table);
    ck_assert_str_eq(c->log.level, "info");
    ck_assert_str_eq(c->log.access_log, "");
    ck_assert_str_eq(c->log.format, "text");
    ck_assert_int_eq(c->shutdown_timeout_s, 30);
    ck_assert_int_eq(c->heartbeat_timeout_s, 10);
    ck_assert(!c->debug_functions);
    ck_assert_int_eq(c->functions.n_plugins, 0);
    ck_assert_ptr_null(c->functions.registry);
}

START_TEST(test_defaults)
{
    static config c;
    memset(&c, 0xa5, sizeof(c));
    config_defaults(&c);
    assert_defaults(&c);
}
END_TEST

START_TEST(test_empty_object_is_defaults)
{
    static config want, got;
    config_defaults(&want);
    memset(&got, 0xa5, sizeof(got));
    must_load(&got, "{}");
    assert_defaults(&got);
    ck_assert(memcmp(&want, &got, sizeof(want)) == 0);
}
END_TEST

/* Each load starts from the defaults, not from what *cfg held. */
START_TEST(test_load_starts_from_defaults)
{
    static config c;
    must_load(&c, "{\"io_threads\": 9, \"log\": {\"level\": \"debug\"}}");
    ck_assert_int_eq(c.io_threads, 9);
    must_load(&c, "{\"cpu_threads\": 2}");
    ck_assert_int_eq(c.io_threads, 4);
    ck_assert_int_eq(c.cpu_threads, 2);
    ck_assert_str_eq(c.log.level, "info");
}
END_TEST

/* ---- a config with every key ---- */

static const char full_json[] =
    "{\n"
    "  \"listen\": [\"0.0.0.0:0\", \"[::1]:9000\", \"unix:/run/crunchd/crunchd.sock\"],\n"
    "  \"workers\": 7,\n"
    "  \"io_threads\": 12,\n"
    "  \"cpu_threads\": 3,\n"
    "  \"user\": \"crunchd\",\n"
    "  \"pid_file\": \"/run/crunchd/crunchd.pid\",\n"
    "  \"data_dir\": \"/srv/data\",\n"
    "  \"limits\": {\"max_body_bytes\": 1073741824, \"max_header_bytes\": 512,\n"
    "             \"max_connections\": 1000000, \"keepalive_timeout_s\": 0,\n"
    "             \"read_timeout_s\": 3600, \"max_queue\": 100000000},\n"
    "  \"jobs\": {\"default_timeout_ms\": 2592000000, \"max_timeout_ms\": 2592000000,\n"
    "           \"cancel_grace_ms\": 0, \"result_ttl_s\": 31536000},\n"
    "  \"store\": {\"kind\": \"redis\", \"path\": \"\", \"url\": \"redis://127.0.0.1:6379/0\"},\n"
    "  \"callbacks\": {\"allow\": [\"10.1.2.3:80\", \"hooks.example.com\", \"[fe80::1]:9\"],\n"
    "                \"secret\": \"s3cret\", \"retries\": 100, \"timeout_ms\": 600000,\n"
    "                \"threads\": 64, \"max_pending\": 1000000, \"max_pending_bytes\": 1073741824},\n"
    "  \"http\": {\"cors_origins\": [\"https://app.example.com\", \"http://127.0.0.1:3000\"]},\n"
    "  \"auth\": {\"tokens_file\": \"/etc/crunchd/tokens\", \"none\": false},\n"
    "  \"log\": {\"level\": \"debug\", \"access_log\": \"-\", \"format\": \"json\"},\n"
    "  \"functions\": {\"plugins\": [\"/srv/lib/libmc.so\", \"plugins/libtext.so\"]},\n"
    "  \"shutdown_timeout_s\": 0,\n"
    "  \"heartbeat_timeout_s\": 3600,\n"
    "  \"debug_functions\": true\n"
    "}\n";

START_TEST(test_full_config)
{
    static config c;
    must_load(&c, full_json);
    ck_assert_int_eq(c.n_listen, 3);
    ck_assert_str_eq(c.listen[0], "0.0.0.0:0");
    ck_assert_str_eq(c.listen[1], "[::1]:9000");
    ck_assert_str_eq(c.listen[2], "unix:/run/crunchd/crunchd.sock");
    ck_assert_int_eq(c.workers, 7);
    ck_assert(!c.workers_auto);
    ck_assert_int_eq(c.io_threads, 12);
    ck_assert_int_eq(c.cpu_threads, 3);
    ck_assert_str_eq(c.user, "crunchd");
    ck_assert_str_eq(c.pid_file, "/run/crunchd/crunchd.pid");
    ck_assert_str_eq(c.data_dir, "/srv/data");
    ck_assert_int_eq(c.limits.max_body_bytes, 1073741824);
    ck_assert_int_eq(c.limits.max_header_bytes, 512);
    ck_assert_int_eq(c.limits.max_connections, 1000000);
    ck_assert_int_eq(c.limits.keepalive_timeout_s, 0);
    ck_assert_int_eq(c.limits.read_timeout_s, 3600);
    ck_assert_int_eq(c.limits.max_queue, 100000000);
    ck_assert_int_eq(c.jobs.default_timeout_ms, 2592000000LL);
    ck_assert_int_eq(c.jobs.max_timeout_ms, 2592000000LL);
    ck_assert_int_eq(c.jobs.cancel_grace_ms, 0);
    ck_assert_int_eq(c.jobs.result_ttl_s, 31536000);
    ck_assert_str_eq(c.store.kind, "redis");
    ck_assert_str_eq(c.store.path, "");
    ck_assert_str_eq(c.store.url, "redis://127.0.0.1:6379/0");
    ck_assert_int_eq(c.callbacks.n_allow, 3);
    ck_assert_str_eq(c.callbacks.allow[0], "10.1.2.3:80");
    ck_assert_str_eq(c.callbacks.allow[1], "hooks.example.com");
    ck_assert_str_eq(c.callbacks.allow[2], "[fe80::1]:9");
    ck_assert_str_eq(c.callbacks.secret, "s3cret");
    ck_assert_int_eq(c.callbacks.retries, 100);
    ck_assert_int_eq(c.callbacks.timeout_ms, 600000);
    ck_assert_int_eq(c.callbacks.threads, 64);
    ck_assert_int_eq(c.callbacks.max_pending, 1000000);
    ck_assert_int_eq(c.callbacks.max_pending_bytes, 1073741824);
    ck_assert_int_eq(c.http.n_cors_origins, 2);
    ck_assert_str_eq(c.http.cors_origins[0], "https://app.example.com");
    ck_assert_str_eq(c.http.cors_origins[1], "http://127.0.0.1:3000");
    ck_assert_str_eq(c.auth.tokens_file, "/etc/crunchd/tokens");
    ck_assert(!c.auth.none);
    ck_assert_ptr_null(c.auth.table);
    ck_assert_str_eq(c.log.level, "debug");
    ck_assert_str_eq(c.log.access_log, "-");
    ck_assert_str_eq(c.log.format, "json");
    ck_assert_int_eq(c.functions.n_plugins, 2);
    ck_assert_str_eq(c.functions.plugins[0], "/srv/lib/libmc.so");
    ck_assert_str_eq(c.functions.plugins[1], "plugins/libtext.so");
    ck_assert_ptr_null(c.functions.registry); /* built by the master, not loaded */
    ck_assert_int_eq(c.shutdown_timeout_s, 0);
    ck_assert_int_eq(c.heartbeat_timeout_s, 3600);
    ck_assert(c.debug_functions);
}
END_TEST

/* Strings exactly as long as their field allows. */
START_TEST(test_string_at_limit)
{
    static config c;
    static char json[4096];
    char user[64], dir[CONFIG_PATH];
    memset(user, 'u', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    memset(dir, 'd', sizeof(dir) - 1);
    dir[sizeof(dir) - 1] = '\0';
    snprintf(json, sizeof(json), "{\"user\": \"%s\", \"data_dir\": \"%s\"}", user, dir);
    must_load(&c, json);
    ck_assert_str_eq(c.user, user);
    ck_assert_str_eq(c.data_dir, dir);
}
END_TEST

START_TEST(test_string_too_long)
{
    static char json[4096];
    char user[65], dir[CONFIG_PATH + 1];
    memset(user, 'u', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    memset(dir, 'd', sizeof(dir) - 1);
    dir[sizeof(dir) - 1] = '\0';
    snprintf(json, sizeof(json), "{\"user\": \"%s\"}", user);
    must_fail(json, "user: longer than 63 bytes");
    snprintf(json, sizeof(json), "{\"store\": {\"path\": \"%s\"}}", dir);
    must_fail(json, "store.path: longer than 1023 bytes");
    snprintf(json, sizeof(json), "{\"callbacks\": {\"allow\": [\"localhost\", \"%.256s\"]}}", dir);
    must_fail(json, "callbacks.allow[1]: longer than 255 bytes");
}
END_TEST

/* ---- workers ---- */

START_TEST(test_workers)
{
    static config c;
    must_load(&c, "{\"workers\": 3}");
    ck_assert_int_eq(c.workers, 3);
    ck_assert(!c.workers_auto);
    must_load(&c, "{\"workers\": \"auto\"}");
    ck_assert(c.workers_auto);
    ck_assert_int_ge(c.workers, 1);
    ck_assert_int_le(c.workers, cpus());
    must_load(&c, "{\"workers\": 256}");
    ck_assert_int_eq(c.workers, 256);
    must_fail("{\"workers\": 0}", "workers: must be from 1 to 256");
    must_fail("{\"workers\": 257}", "workers: must be from 1 to 256");
    must_fail("{\"workers\": -1}", "workers: must be from 1 to 256");
    must_fail("{\"workers\": \"x\"}", "workers: expected \"auto\" or a positive integer");
    must_fail("{\"workers\": \"AUTO\"}", "workers: expected \"auto\" or a positive integer");
    must_fail("{\"workers\": 3.0}", "workers: expected \"auto\" or a positive integer");
    must_fail("{\"workers\": true}", "workers: expected \"auto\" or a positive integer");
    must_fail("{\"workers\": null}", "workers: expected \"auto\" or a positive integer");
}
END_TEST

/* ---- listen ---- */

static const char *const listen_ok[] = {
    "127.0.0.1:8080",
    "0.0.0.0:0",
    "localhost:65535",
    "my-host.example.com:1",
    "Host9:80",
    "[::1]:8080",
    "[::]:80",
    "[2001:db8::1]:443",
    "[::ffff:127.0.0.1]:80",
    "[fe80::1%eth0]:80",
    "unix:/run/crunchd.sock",
    "unix:/tmp/a b",
};

START_TEST(test_listen_valid)
{
    static config c;
    static char json[512];
    snprintf(json, sizeof(json), "{\"listen\": [\"%s\"]}", listen_ok[_i]);
    must_load(&c, json);
    ck_assert_int_eq(c.n_listen, 1);
    ck_assert_str_eq(c.listen[0], listen_ok[_i]);
}
END_TEST

#define BAD_LISTEN "listen[1]: expected host:port, [v6]:port or unix:/path"

/* The bad entry goes second so the message must carry its index. */
static const char *const listen_bad[] = {
    "127.0.0.1",
    "127.0.0.1:",
    ":8080",
    "127.0.0.1:80x",
    "127.0.0.1:-1",
    "127.0.0.1:+80",
    " 127.0.0.1:80",
    "*:80",
    "8080",
    "::1:8080",
    "::1",
    "[::1]8080",
    "[::1:8080",
    "[::1]:",
    "[zz::1]:80",
    "[127.0.0.1]:80",
    "[]:80",
    "[fe80::1%]:80",
    "256.1.1.1:80",
    "1.2.3:80",
    "host_name:80",
    "-host:80",
    "host-:80",
    "a..b:80",
    "a.:80",
    "unix:relative/path",
    "unix:",
    "unix:/",
    "",
};

START_TEST(test_listen_invalid)
{
    static char json[512];
    snprintf(json, sizeof(json), "{\"listen\": [\"127.0.0.1:1\", \"%s\"]}", listen_bad[_i]);
    must_fail(json, BAD_LISTEN);
}
END_TEST

START_TEST(test_listen_limits)
{
    static config c;
    static char json[4096];
    char path[128];
    size_t n;

    must_fail("{\"listen\": \"127.0.0.1:80\"}", "listen: expected array of strings");
    must_fail("{\"listen\": []}", "listen: must have from 1 to 16 entries");
    must_fail("{\"listen\": [\"127.0.0.1:80\", 80]}", "listen[1]: expected string");
    must_fail("{\"listen\": [\"127.0.0.1:80\", \"127.0.0.1:65536\"]}",
              "listen[1]: port must be from 0 to 65535");
    must_fail("{\"listen\": [\"[::1]:123456789012345678901234567890\"]}",
              "listen[0]: port must be from 0 to 65535");
    must_fail("{\"listen\": [\"127.0.0.1:80\", \"[::1]:80\", \"127.0.0.1:80\"]}",
              "listen[2]: duplicate of listen[0]");

    n = (size_t)snprintf(json, sizeof(json), "{\"listen\": [");
    for (int i = 0; i < CONFIG_MAX_LISTEN; i++)
        n += (size_t)snprintf(json + n, sizeof(json) - n, "%s\"127.0.0.1:%d\"", i ? "," : "",
                              1000 + i);
    snprintf(json + n, sizeof(json) - n, "]}");
    must_load(&c, json);
    ck_assert_int_eq(c.n_listen, CONFIG_MAX_LISTEN);
    ck_assert_str_eq(c.listen[CONFIG_MAX_LISTEN - 1], "127.0.0.1:1015");
    snprintf(json + n, sizeof(json) - n, ",\"127.0.0.1:2000\"]}");
    must_fail(json, "listen: must have from 1 to 16 entries");

    /* sun_path holds 107 bytes and a NUL */
    memset(path, 'p', sizeof(path));
    path[0] = '/';
    path[107] = '\0';
    snprintf(json, sizeof(json), "{\"listen\": [\"unix:%s\"]}", path);
    must_load(&c, json);
    path[107] = 'p';
    path[108] = '\0';
    snprintf(json, sizeof(json), "{\"listen\": [\"unix:%s\"]}", path);
    must_fail(json, "listen[0]: unix socket path longer than 107 bytes");
}
END_TEST

/* ---- callbacks.allow ---- */

START_TEST(test_allow)
{
    static config c;
    must_load(&c, "{\"callbacks\": {\"allow\": [\"hooks.example.com:8080\", \"10.0.0.5\", "
                  "\"[::1]:9000\", \"localhost:9000\"]}}");
    ck_assert_int_eq(c.callbacks.n_allow, 4);
    ck_assert_str_eq(c.callbacks.allow[0], "hooks.example.com:8080");
    ck_assert_str_eq(c.callbacks.allow[1], "10.0.0.5");
    ck_assert_str_eq(c.callbacks.allow[2], "[::1]:9000");
    ck_assert_str_eq(c.callbacks.allow[3], "localhost:9000");
    must_load(&c, "{\"callbacks\": {\"allow\": []}}");
    ck_assert_int_eq(c.callbacks.n_allow, 0);
    /* Bad entries name their path; callback_allow.c's tests have every message. */
    must_fail("{\"callbacks\": {\"allow\": [\"localhost:9000\", \"127.0.0.1:1\", \"a b:80\"]}}",
              "callbacks.allow[2]: expected host:port, [v6]:port or a bare host (which allows "
              "ports 80 and 443)");
    must_fail("{\"callbacks\": {\"allow\": [\"localhost:0\"]}}",
              "callbacks.allow[0]: port must be from 1 to 65535");
    must_fail("{\"callbacks\": {\"allow\": [\"::1\"]}}",
              "callbacks.allow[0]: an IPv6 address goes in brackets: [::1]:9000, or [::1] for "
              "ports 80 and 443");
    must_fail("{\"callbacks\": {\"allow\": \"localhost\"}}",
              "callbacks.allow: expected array of strings");
}
END_TEST

/*
 * {"object": {"key": [max entries]}} loads into c (entry_fmt makes entry i
 * from i); one more entry fails, naming object.key and the limit.
 */
static void must_cap_list(config *c, const char *object, const char *key, const char *entry_fmt,
                          int max)
{
    static char json[8192];
    char want[160];
    size_t n = (size_t)snprintf(json, sizeof(json), "{\"%s\": {\"%s\": [", object, key);
    for (int i = 0; i <= max; i++) {
        if (i == max) {
            snprintf(json + n, sizeof(json) - n, "]}}");
            must_load(c, json);
        }
        n += (size_t)snprintf(json + n, sizeof(json) - n, i ? ",\"" : "\"");
        n += (size_t)snprintf(json + n, sizeof(json) - n, entry_fmt, i);
        n += (size_t)snprintf(json + n, sizeof(json) - n, "\"");
    }
    snprintf(json + n, sizeof(json) - n, "]}}");
    snprintf(want, sizeof(want), "%s.%s: must have from 0 to %d entries", object, key, max);
    must_fail(json, want);
}

START_TEST(test_plugins_too_many)
{
    static config c;
    must_cap_list(&c, "functions", "plugins", "/p/lib%d.so", CONFIG_MAX_PLUGINS);
    ck_assert_int_eq(c.functions.n_plugins, CONFIG_MAX_PLUGINS);
    ck_assert_str_eq(c.functions.plugins[31], "/p/lib31.so");
}
END_TEST

START_TEST(test_allow_too_many)
{
    static config c;
    must_cap_list(&c, "callbacks", "allow", "h%d.example", CONFIG_MAX_ALLOW);
    ck_assert_int_eq(c.callbacks.n_allow, CONFIG_MAX_ALLOW);
}
END_TEST

/* ---- every kind of error, with its exact message ---- */

static const err_case errors[] = {
    /* unknown keys */
    {"{\"listn\": []}", "listn: unknown key"},
    {"{\"limits\": {\"max_bodyy_bytes\": 1}}", "limits.max_bodyy_bytes: unknown key"},
    {"{\"store\": {\"kind\": \"sqlite\", \"dsn\": \"x\"}}", "store.dsn: unknown key"},
    {"{\"log\": {\"file\": \"x\"}}", "log.file: unknown key"},
    {"{\"functions\": {\"runtime\": []}}", "functions.runtime: unknown key"},
    {"{\"functions\": []}", "functions: expected object"},
    {"{\"functions\": {\"plugins\": \"/a.so\"}}", "functions.plugins: expected array of strings"},
    {"{\"functions\": {\"plugins\": [1]}}", "functions.plugins[0]: expected string"},
    {"{\"functions\": {\"plugins\": [\"\"]}}", "functions.plugins[0]: must not be empty"},
    {"{\"functions\": {\"plugins\": [\"/a.so\", \"/a.so\"]}}",
     "functions.plugins[1]: duplicate of functions.plugins[0]"},
    {"{\"a\\nb\": 1}", "a?b: unknown key"},
    /* wrong type, top level */
    {"{\"io_threads\": \"4\"}", "io_threads: expected integer"},
    {"{\"cpu_threads\": 1.5}", "cpu_threads: expected integer"},
    {"{\"shutdown_timeout_s\": true}", "shutdown_timeout_s: expected integer"},
    {"{\"heartbeat_timeout_s\": null}", "heartbeat_timeout_s: expected integer"},
    {"{\"user\": 5}", "user: expected string"},
    {"{\"pid_file\": null}", "pid_file: expected string"},
    {"{\"debug_functions\": 1}", "debug_functions: expected boolean"},
    {"{\"debug_functions\": \"true\"}", "debug_functions: expected boolean"},
    {"{\"limits\": []}", "limits: expected object"},
    {"{\"jobs\": 5}", "jobs: expected object"},
    {"{\"store\": \"sqlite\"}", "store: expected object"},
    {"{\"callbacks\": null}", "callbacks: expected object"},
    {"{\"log\": \"info\"}", "log: expected object"},
    /* wrong type, nested */
    {"{\"limits\": {\"max_body_bytes\": \"1\"}}", "limits.max_body_bytes: expected integer"},
    {"{\"jobs\": {\"max_timeout_ms\": 1e3}}", "jobs.max_timeout_ms: expected integer"},
    {"{\"store\": {\"path\": 1}}", "store.path: expected string"},
    {"{\"store\": {\"kind\": [\"sqlite\"]}}", "store.kind: expected string"},
    {"{\"callbacks\": {\"retries\": false}}", "callbacks.retries: expected integer"},
    {"{\"callbacks\": {\"secret\": {}}}", "callbacks.secret: expected string"},
    {"{\"log\": {\"level\": 3}}", "log.level: expected string"},
    /* values out of a set */
    {"{\"store\": {\"kind\": \"mysql\"}}", "store.kind: expected \"sqlite\" or \"redis\""},
    {"{\"log\": {\"level\": \"trace\"}}",
     "log.level: expected \"error\", \"warn\", \"notice\", \"info\" or \"debug\""},
    {"{\"log\": {\"format\": \"xml\"}}", "log.format: expected \"text\" or \"json\""},
    {"{\"data_dir\": \"\"}", "data_dir: must not be empty"},
    /* ranges */
    {"{\"io_threads\": 0}", "io_threads: must be from 1 to 256"},
    {"{\"io_threads\": 257}", "io_threads: must be from 1 to 256"},
    {"{\"cpu_threads\": -3}", "cpu_threads: must be from 1 to 256"},
    {"{\"limits\": {\"max_body_bytes\": 0}}", "limits.max_body_bytes: must be from 1 to 1073741824"},
    {"{\"limits\": {\"max_body_bytes\": 1073741825}}",
     "limits.max_body_bytes: must be from 1 to 1073741824"},
    {"{\"limits\": {\"max_header_bytes\": 511}}",
     "limits.max_header_bytes: must be from 512 to 1048576"},
    {"{\"limits\": {\"max_connections\": 1000001}}",
     "limits.max_connections: must be from 1 to 1000000"},
    {"{\"limits\": {\"keepalive_timeout_s\": -1}}",
     "limits.keepalive_timeout_s: must be from 0 to 3600"},
    {"{\"limits\": {\"read_timeout_s\": 0}}", "limits.read_timeout_s: must be from 1 to 3600"},
    {"{\"limits\": {\"max_queue\": 100000001}}", "limits.max_queue: must be from 1 to 100000000"},
    {"{\"jobs\": {\"default_timeout_ms\": 0}}",
     "jobs.default_timeout_ms: must be from 1 to 2592000000"},
    {"{\"jobs\": {\"max_timeout_ms\": 2592000001}}",
     "jobs.max_timeout_ms: must be from 1 to 2592000000"},
    {"{\"jobs\": {\"cancel_grace_ms\": 600001}}", "jobs.cancel_grace_ms: must be from 0 to 600000"},
    {"{\"jobs\": {\"result_ttl_s\": 31536001}}", "jobs.result_ttl_s: must be from 1 to 31536000"},
    {"{\"callbacks\": {\"retries\": 101}}", "callbacks.retries: must be from 0 to 100"},
    {"{\"callbacks\": {\"timeout_ms\": 9}}", "callbacks.timeout_ms: must be from 10 to 600000"},
    {"{\"callbacks\": {\"threads\": 0}}", "callbacks.threads: must be from 1 to 64"},
    {"{\"callbacks\": {\"max_pending\": 0}}", "callbacks.max_pending: must be from 1 to 1000000"},
    {"{\"callbacks\": {\"max_pending_bytes\": 0}}",
     "callbacks.max_pending_bytes: must be from 1 to 1073741824"},
    {"{\"shutdown_timeout_s\": 3601}", "shutdown_timeout_s: must be from 0 to 3600"},
    {"{\"heartbeat_timeout_s\": 0}", "heartbeat_timeout_s: must be from 1 to 3600"},
    {"{\"limits\": {\"max_queue\": 9223372036854775807}}",
     "limits.max_queue: must be from 1 to 100000000"},
    /* rules across keys */
    {"{\"store\": {\"kind\": \"redis\"}}", "store.url: required for kind redis"},
    {"{\"store\": {\"kind\": \"redis\", \"url\": \"\"}}", "store.url: required for kind redis"},
    {"{\"store\": {\"path\": \"\"}}", "store.path: required for kind sqlite"},
    {"{\"jobs\": {\"default_timeout_ms\": 3600001}}",
     "jobs.default_timeout_ms: must not exceed jobs.max_timeout_ms"},
    {"{\"jobs\": {\"max_timeout_ms\": 1000}}",
     "jobs.default_timeout_ms: must not exceed jobs.max_timeout_ms"},
    /* JSON syntax and shape */
    {"{\"workers\": 2, \"workers\": 3}",
     "<string>:1:24: duplicate object key near '\"workers\"'"},
    {"{\"limits\": {\"max_queue\": 1, \"max_queue\": 2}}",
     "<string>:1:39: duplicate object key near '\"max_queue\"'"},
    {"{\n  \"workers\": 2,\n  \"user\": \n}", "<string>:4:1: unexpected token near '}'"},
    {"{\n  \"workers\": 2,\n}", "<string>:3:1: string or '}' expected near '}'"},
    {"", "<string>:1:0: unexpected token near end of file"},
    {"{} x", "<string>:1:4: end of file expected near 'x'"},
    {"{\"io_threads\": 99999999999999999999}",
     "<string>:1:35: too big integer near '99999999999999999999'"},
    {"[]", "top level: expected object"},
    {"[{\"workers\": 2}]", "top level: expected object"},
    {"3", "top level: expected object"},
    {"\"x\"", "top level: expected object"},
    {"null", "top level: expected object"},
};

START_TEST(test_error)
{
    must_fail(errors[_i].json, errors[_i].want);
}
END_TEST

/* The first bad key in file order is the one reported. */
START_TEST(test_first_error_wins)
{
    must_fail("{\"io_threads\": 2, \"zz\": 1, \"cpu_threads\": 0}", "zz: unknown key");
    must_fail("{\"cpu_threads\": 0, \"zz\": 1}", "cpu_threads: must be from 1 to 256");
}
END_TEST

START_TEST(test_timeouts_equal_ok)
{
    static config c;
    must_load(&c, "{\"jobs\": {\"default_timeout_ms\": 1000, \"max_timeout_ms\": 1000}}");
    ck_assert_int_eq(c.jobs.default_timeout_ms, 1000);
    ck_assert_int_eq(c.jobs.max_timeout_ms, 1000);
}
END_TEST

START_TEST(test_redis_with_url)
{
    static config c;
    must_load(&c, "{\"store\": {\"kind\": \"redis\", \"url\": \"redis://h:6379\"}}");
    ck_assert_str_eq(c.store.kind, "redis");
    ck_assert_str_eq(c.store.url, "redis://h:6379");
}
END_TEST

/* A small or missing err buffer is never overrun. */
START_TEST(test_err_buffer)
{
    static config c;
    char err[8];
    memset(err, 'x', sizeof(err));
    ck_assert_int_eq(config_load_string(&c, "{\"limits\": {\"nope\": 1}}", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "limits.");
    ck_assert_int_eq(config_load_string(&c, "{\"nope\": 1}", NULL, 0), -1);
    ck_assert_int_eq(config_load_string(&c, "{\"nope\": 1}", err, 0), -1);
}
END_TEST

/* An unknown key longer than the path buffer is cut, not overflowed. */
START_TEST(test_long_unknown_key)
{
    static config c;
    static char json[8192];
    char key[4000];
    char err[8192];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    snprintf(json, sizeof(json), "{\"log\": {\"%s\": 1}}", key);
    ck_assert_int_eq(config_load_string(&c, json, err, sizeof(err)), -1);
    ck_assert(strncmp(err, "log.kkkk", 8) == 0);
    ck_assert(strstr(err, ": unknown key") != NULL);
}
END_TEST

/* An unknown key of multibyte characters is cut on a character boundary:
 * the message stays valid UTF-8 (jansson refuses anything else). */
START_TEST(test_long_unknown_key_utf8)
{
    static config c;
    char key[512] = "a", json[1024], err[1024];
    for (int i = 0; i < 100; i++)
        strcat(key, "\xe2\x82\xac"); /* U+20AC, three bytes */
    snprintf(json, sizeof(json), "{\"log\": {\"%s\": 1}}", key);
    ck_assert_int_eq(config_load_string(&c, json, err, sizeof(err)), -1);
    json_t *msg = json_string(err);
    ck_assert_msg(msg != NULL, "not valid UTF-8: %s", err);
    json_decref(msg);
    ck_assert_msg(strncmp(err, "log.a\xe2\x82\xac", 8) == 0, "%s", err);
    ck_assert_msg(strstr(err, "...: unknown key") != NULL, "%s", err);
}
END_TEST

/* ---- files ---- */

START_TEST(test_file_dev)
{
    static config c;
    char path[PATH_MAX], err[512] = "";
    snprintf(path, sizeof(path), "%s/conf/crunchd.json", source_root());
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    /* The one difference from the built-in defaults: the README's callback port. */
    ck_assert_int_eq(c.callbacks.n_allow, 1);
    ck_assert_str_eq(c.callbacks.allow[0], "127.0.0.1:9000");
    memset(c.callbacks.allow, 0, sizeof(c.callbacks.allow));
    c.callbacks.n_allow = 0;
    assert_defaults(&c);
}
END_TEST

START_TEST(test_file_prod)
{
    static config c;
    char path[PATH_MAX], err[512] = "";
    snprintf(path, sizeof(path), "%s/conf/crunchd.prod.json", source_root());
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.n_listen, 1);
    ck_assert_str_eq(c.listen[0], "0.0.0.0:8080");
    ck_assert(c.workers_auto);
    ck_assert_str_eq(c.pid_file, "/run/crunchd/crunchd.pid");
    ck_assert_str_eq(c.data_dir, "/var/lib/crunchd/data");
    ck_assert_str_eq(c.store.kind, "sqlite");
    ck_assert_str_eq(c.store.path, "/var/lib/crunchd/crunchd.db");
    ck_assert_str_eq(c.log.access_log, "/var/log/crunchd/access.log");
    ck_assert_str_eq(c.log.format, "text");
    ck_assert_int_eq(c.callbacks.n_allow, 0); /* no callback host in production */
    ck_assert_str_eq(c.auth.tokens_file, "/etc/crunchd/tokens"); /* 0.0.0.0 needs tokens */
    ck_assert(!c.auth.none);
    ck_assert(!c.debug_functions);
}
END_TEST

START_TEST(test_file_errors)
{
    static config c;
    char dir[] = "/tmp/check_config.XXXXXX";
    char path[PATH_MAX], err[PATH_MAX + 64], want[PATH_MAX + 64];
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/missing.json", dir);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    ck_assert_str_eq(err, want);

    ck_assert_int_eq(config_load_file(&c, dir, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: Is a directory", dir);
    ck_assert_str_eq(err, want);

    snprintf(path, sizeof(path), "%s/bad.json", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\n  \"workers\": 2,\n  \"log\": {\"level\": \"info\",}\n}\n", f);
    fclose(f);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:3:27: string or '}' expected near '}'", path);
    ck_assert_str_eq(err, want);

    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"log\": {\"levle\": \"info\"}}\n", f);
    fclose(f);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "log.levle: unknown key");

    unlink(path);
    rmdir(dir);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_empty_object_is_defaults);
    tcase_add_test(tc, test_load_starts_from_defaults);
    tcase_add_test(tc, test_full_config);
    tcase_add_test(tc, test_string_at_limit);
    tcase_add_test(tc, test_string_too_long);
    tcase_add_test(tc, test_workers);
    tcase_add_loop_test(tc, test_listen_valid, 0, (int)NELEM(listen_ok));
    tcase_add_loop_test(tc, test_listen_invalid, 0, (int)NELEM(listen_bad));
    tcase_add_test(tc, test_listen_limits);
    tcase_add_test(tc, test_allow);
    tcase_add_test(tc, test_allow_too_many);
    tcase_add_test(tc, test_plugins_too_many);
    tcase_add_loop_test(tc, test_error, 0, (int)NELEM(errors));
    tcase_add_test(tc, test_first_error_wins);
    tcase_add_test(tc, test_timeouts_equal_ok);
    tcase_add_test(tc, test_redis_with_url);
    tcase_add_test(tc, test_err_buffer);
    tcase_add_test(tc, test_long_unknown_key);
    tcase_add_test(tc, test_long_unknown_key_utf8);
    tcase_add_test(tc, test_file_dev);
    tcase_add_test(tc, test_file_prod);
    tcase_add_test(tc, test_file_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
