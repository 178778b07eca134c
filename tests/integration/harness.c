/*
 * harness.c - see harness.h. Everything here runs in the test process (the
 * forked Check child, or the runner itself under CK_FORK=no).
 */
#define HARNESS_INTERNAL
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000
#define LOG_TAIL_BYTES 12000
#define MAX_HEAD_BYTES 65536
#define MAX_SERVERS 8
#define LISTEN_PREFIX "listening on 127.0.0.1:"

/* ---- harness-owned memory, freed by harness_teardown() ------------------ */

typedef struct owned {
    void *p;
    bool is_json;
} owned;

static owned *arena;
static size_t arena_len, arena_cap;

static void arena_add(void *p, bool is_json)
{
    if (arena_len == arena_cap) {
        size_t cap = arena_cap ? arena_cap * 2 : 64;
        owned *n = realloc(arena, cap * sizeof(*n));
        if (!n)
            abort();
        arena = n;
        arena_cap = cap;
    }
    arena[arena_len++] = (owned){p, is_json};
}

static void *arena_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        abort();
    arena_add(p, false);
    return p;
}

static char *arena_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *arena_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    if (vasprintf(&p, fmt, ap) < 0)
        abort();
    va_end(ap);
    arena_add(p, false);
    return p;
}

static char *arena_strndup(const char *s, size_t n)
{
    char *p = arena_alloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void arena_free_all(void)
{
    for (size_t i = 0; i < arena_len; i++) {
        if (arena[i].is_json)
            json_decref(arena[i].p);
        else
            free(arena[i].p);
    }
    free(arena);
    arena = NULL;
    arena_len = arena_cap = 0;
}

/* ---- failures ----------------------------------------------------------- */

static const char *at_file = "?";
static int at_line;
static bool test_failed;

/* Server records: what cleanup needs, independent of the caller's struct
 * (which may be gone by the time a teardown runs). */
typedef struct record {
    bool used;
    bool reaped;
    int status; /* wait status once reaped */
    pid_t pid;
    pid_t watcher; /* see watcher_run(); -1 if none */
    int watch_fd;  /* write end of the watcher's pipe; -1 if none */
    char dir[256];
} record;

static record records[MAX_SERVERS];

void harness_at(const char *file, int line)
{
    const char *slash = strrchr(file, '/');
    at_file = slash ? slash + 1 : file;
    at_line = line;
}

static void print_log_dir(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/crunchd.log", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "[harness] no log at %s\n", path);
        return;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > LOG_TAIL_BYTES ? size - LOG_TAIL_BYTES : 0;
    fseek(f, from, SEEK_SET);
    fprintf(stderr, "[harness] ---- %s%s ----\n", path, from ? " (tail)" : "");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stderr);
    fprintf(stderr, "[harness] ---- end of log ----\n");
    fclose(f);
}

/* Fails the test with "file:line: message" (the test's location). */
static void hfail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void hfail(const char *fmt, ...)
{
    char msg[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    test_failed = true;
    fprintf(stderr, "[harness] %s:%d: %s\n", at_file, at_line, msg);
    ck_abort_msg("%s:%d: %s", at_file, at_line, msg);
    abort(); /* not reached */
}

/* ---- time ---------------------------------------------------------------- */

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- cleanup -------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

static void rm_rf(const char *dir)
{
    if (getenv("HARNESS_KEEP_DIRS"))
        return;
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Waits up to timeout_ms for rec's master; true once reaped. */
static bool record_wait(record *rec, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (!rec->reaped) {
        int st;
        pid_t r = waitpid(rec->pid, &st, WNOHANG);
        if (r == rec->pid || (r < 0 && errno == ECHILD)) {
            rec->reaped = true;
            rec->status = r == rec->pid ? st : 0;
            break;
        }
        if (now_ms() >= deadline)
            return false;
        sleep_ms(10);
    }
    return true;
}

/*
 * The watcher: a small process per server that cleans up after a test
 * process that dies without its teardown. Under CK_FORK=yes a failed check
 * ends the test process with _exit() (no teardown, no atexit) and a Check
 * timeout kills its process group; the master then dies of its
 * PR_SET_PDEATHSIG, but its log would never be shown and its temp dir would
 * stay. The watcher (in its own process group, so a timeout's killpg does
 * not take it along) waits on a pipe: a byte means "stopped cleanly, go
 * away"; EOF without it means the test died, so it waits for the master to
 * go, prints the log to stderr and removes the dir. It only reads and
 * removes files; it signals nothing.
 */
static void watcher_run(int rfd, pid_t master, const char *dir)
{
    for (int fd = 3; fd < 1024; fd++)
        if (fd != rfd)
            close(fd);
    setpgid(0, 0);
    char ch;
    ssize_t n;
    while ((n = read(rfd, &ch, 1)) < 0 && errno == EINTR)
        ;
    if (n == 1)
        _exit(0);
    for (int i = 0; i < 500 && pid_alive(master); i++)
        sleep_ms(10);
    fprintf(stderr,
            "[harness] the test process died with crunchd %d running (failed check or "
            "timeout); its log follows\n",
            (int)master);
    print_log_dir(dir);
    fflush(stderr);
    rm_rf(dir);
    sleep_ms(200); /* files a dying worker may still have created */
    rm_rf(dir);
    _exit(0);
}

static void watcher_start(record *rec)
{
    int p[2];
    rec->watcher = -1;
    rec->watch_fd = -1;
    if (pipe2(p, O_CLOEXEC) < 0)
        return; /* cleanup then relies on the teardown alone */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        watcher_run(p[0], rec->pid, rec->dir);
    }
    close(p[0]);
    if (pid < 0) {
        close(p[1]);
        return;
    }
    rec->watcher = pid;
    rec->watch_fd = p[1];
}

/* Tells the watcher all is clean and reaps it. */
static void watcher_dismiss(record *rec)
{
    if (rec->watch_fd >= 0) {
        ssize_t n = write(rec->watch_fd, "k", 1);
        (void)n;
        close(rec->watch_fd);
        rec->watch_fd = -1;
    }
    if (rec->watcher > 0) {
        int64_t deadline = now_ms() + 2000;
        while (waitpid(rec->watcher, NULL, WNOHANG) == 0) {
            if (now_ms() >= deadline) {
                kill(rec->watcher, SIGKILL); /* our own child */
                waitpid(rec->watcher, NULL, 0);
                break;
            }
            sleep_ms(1);
        }
        rec->watcher = -1;
    }
}

/* Stops rec's master (TERM, then KILL), prints the log when something went
 * wrong (or always_log), removes the temp dir and frees the record. */
static void record_stop(record *rec, bool always_log)
{
    bool bad = always_log;
    if (!rec->reaped) {
        kill(rec->pid, SIGTERM);
        if (!record_wait(rec, STOP_TIMEOUT_MS)) {
            fprintf(stderr, "[harness] master %d ignored SIGTERM for %d ms: SIGKILL\n",
                    (int)rec->pid, STOP_TIMEOUT_MS);
            kill(rec->pid, SIGKILL);
            record_wait(rec, STOP_TIMEOUT_MS);
            bad = true;
        }
    }
    if (!WIFEXITED(rec->status) || WEXITSTATUS(rec->status) != 0) {
        if (WIFSIGNALED(rec->status))
            fprintf(stderr, "[harness] master %d was killed by signal %d\n", (int)rec->pid,
                    WTERMSIG(rec->status));
        else
            fprintf(stderr, "[harness] master %d exited with %d\n", (int)rec->pid,
                    WEXITSTATUS(rec->status));
        bad = true;
    }
    if (bad)
        print_log_dir(rec->dir);
    rm_rf(rec->dir);
    watcher_dismiss(rec);
    rec->used = false;
}

static void stop_all(bool always_log)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        if (records[i].used)
            record_stop(&records[i], always_log);
}

void harness_teardown(void)
{
    stop_all(test_failed);
    arena_free_all();
    test_failed = false;
}

TCase *harness_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, HARNESS_TEST_TIMEOUT_S);
    tcase_add_checked_fixture(tc, NULL, harness_teardown);
    return tc;
}

int harness_run(Suite *s)
{
    if (!getenv("CRUNCHD_BIN")) {
        fprintf(stderr, "CRUNCHD_BIN is not set: run through `meson test`\n");
        return 1;
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* ---- the server ----------------------------------------------------------- */

static json_t *base_config(const server *s)
{
    char db[400];
    snprintf(db, sizeof(db), "%s/crunchd.db", s->dir);
    return json_pack("{s:[s], s:i, s:s, s:{s:s, s:s}, s:i}", "listen", "127.0.0.1:0", "workers", 2,
                     "data_dir", s->data_dir, "store", "kind", "sqlite", "path", db,
                     "shutdown_timeout_s", 5);
}

/* Merges overrides (JSON object text) into cfg (arena-owned) and follows
 * its "workers" into s->nworkers; false when "workers" is not a number. */
static bool merge_overrides(server *s, json_t *cfg, const char *overrides)
{
    json_error_t jerr;
    json_t *over = json_loads(overrides, 0, &jerr);
    if (!over || !json_is_object(over))
        hfail("config overrides are not a JSON object (%s): %s", jerr.text, overrides);
    arena_add(over, true);
    if (json_object_update_recursive(cfg, over) < 0)
        hfail("json_object_update_recursive() failed");
    json_t *w = json_object_get(cfg, "workers");
    if (!json_is_integer(w))
        return false;
    s->nworkers = (int)json_integer_value(w);
    return true;
}

/* Writes DIR/crunchd.json and sets s->nworkers. */
static void write_config(server *s, const char *overrides, char *path, size_t pathlen)
{
    json_t *cfg = base_config(s);
    if (!cfg)
        hfail("json_pack() of the base config failed");
    arena_add(cfg, true);
    if (!merge_overrides(s, cfg, overrides ? overrides : "{}"))
        s->nworkers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(path, pathlen, "%s/crunchd.json", s->dir);
    if (json_dump_file(cfg, path, JSON_INDENT(2)) < 0)
        hfail("cannot write config %s: %s", path, strerror(errno));
}

/* In the child: never returns. */
static void exec_server(const char *bin, const char *dir, const char *cfg_path,
                        const char *log_path, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(126);
    /* Crash tests abort workers on purpose: no core files, and any that a
     * core_pattern still writes land in the temp dir. */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (chdir(dir) < 0)
        _exit(126);
    int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log < 0 || null < 0)
        _exit(126);
    dup2(null, 0);
    dup2(log, 1);
    dup2(log, 2);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    execl(bin, bin, "-c", cfg_path, (char *)NULL);
    dprintf(2, "[harness] execl(%s) failed: %s\n", bin, strerror(errno));
    _exit(127);
}

static record *record_get(const server *s)
{
    if (s->id < 0 || s->id >= MAX_SERVERS || !records[s->id].used)
        hfail("server was not started by must_start() or is already stopped");
    return &records[s->id];
}

/* Fails with the server's log printed first. */
#define hfail_log(s, ...)                                                                          \
    do {                                                                                           \
        print_log_dir((s)->dir);                                                                   \
        hfail(__VA_ARGS__);                                                                        \
    } while (0)

/* Reads the port from "listening on 127.0.0.1:PORT" in the log; 0 if not
 * there yet. */
static int log_port(const server *s)
{
    char path[512], buf[65536];
    snprintf(path, sizeof(path), "%s/crunchd.log", s->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = strstr(buf, LISTEN_PREFIX);
    if (!p)
        return 0;
    p += strlen(LISTEN_PREFIX);
    int port = 0;
    while (*p >= '0' && *p <= '9')
        port = port * 10 + (*p++ - '0');
    return (*p == '\0') ? 0 : port; /* a line still being written */
}

void must_start(server *s, const char *overrides)
{
    const char *bin = getenv("CRUNCHD_BIN");
    if (!bin || !*bin)
        hfail("CRUNCHD_BIN is not set (path of the crunchd binary)");
    if (access(bin, X_OK) < 0)
        hfail("CRUNCHD_BIN=%s is not executable: %s", bin, strerror(errno));
    int id = -1;
    for (int i = 0; i < MAX_SERVERS && id < 0; i++)
        if (!records[i].used)
            id = i;
    if (id < 0)
        hfail("more than %d servers in one test", MAX_SERVERS);

    memset(s, 0, sizeof(*s));
    s->pid = -1;
    s->id = -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof(s->dir), "%s/crunchd-it-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir))
        hfail("mkdtemp(%s) failed: %s", s->dir, strerror(errno));
    snprintf(s->data_dir, sizeof(s->data_dir), "%s/data", s->dir);
    if (mkdir(s->data_dir, 0755) < 0)
        hfail("mkdir(%s) failed: %s", s->data_dir, strerror(errno));

    char cfg_path[512], log_path[512];
    write_config(s, overrides, cfg_path, sizeof(cfg_path));
    snprintf(log_path, sizeof(log_path), "%s/crunchd.log", s->dir);

    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        hfail("fork() failed: %s", strerror(errno));
    if (pid == 0)
        exec_server(bin, s->dir, cfg_path, log_path, parent);

    record *rec = &records[id];
    memset(rec, 0, sizeof(*rec));
    rec->used = true;
    rec->pid = pid;
    snprintf(rec->dir, sizeof(rec->dir), "%s", s->dir);
    s->pid = pid;
    s->id = id;
    watcher_start(rec);

    int64_t deadline = now_ms() + START_TIMEOUT_MS;
    while ((s->port = log_port(s)) == 0) {
        if (record_wait(rec, 0)) {
            s->pid = -1;
            hfail_log(s, "crunchd exited during startup (wait status 0x%x); config: %s",
                      rec->status, overrides ? overrides : "{}");
        }
        if (now_ms() >= deadline)
            hfail_log(s, "no \"" LISTEN_PREFIX "PORT\" in the log within %d ms", START_TIMEOUT_MS);
        sleep_ms(10);
    }
    must_wait_workers_running(s, (int)(deadline - now_ms()));
}

void server_stop(server *s)
{
    if (s->id < 0 || s->id >= MAX_SERVERS || !records[s->id].used)
        return;
    record_stop(&records[s->id], false);
    s->pid = -1;
    s->id = -1;
}

void must_signal(server *s, int sig)
{
    record *rec = record_get(s);
    if (rec->reaped)
        hfail("cannot send signal %d: the master has exited", sig);
    if (kill(rec->pid, sig) < 0)
        hfail("kill(%d, %d) failed: %s", (int)rec->pid, sig, strerror(errno));
}

int crunchd_run_once(const char *dir, bool test, const char *conf, const char *env, int act_fd,
                     int timeout_ms, const char **out)
{
    static char text[16384];
    char outp[256];
    const char *bin = getenv("CRUNCHD_BIN");
    ck_assert_msg(bin && *bin, "CRUNCHD_BIN is not set");
    snprintf(outp, sizeof(outp), "%s/out", dir);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (getppid() != parent || chdir(dir) < 0 || fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        if (env)
            putenv((char *)env);
        if (act_fd >= 0) {
            char me[32];
            snprintf(me, sizeof(me), "%d", (int)getpid());
            if (dup2(act_fd, 3) < 0 || fcntl(3, F_SETFD, 0) < 0)
                _exit(126);
            setenv("LISTEN_PID", me, 1);
            setenv("LISTEN_FDS", "1", 1);
        }
        if (test)
            execl(bin, bin, "-t", "-c", conf, (char *)NULL);
        else
            execl(bin, bin, "-c", conf, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    int64_t deadline = now_ms() + timeout_ms;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            ck_abort_msg("crunchd %s-c %s still runs after %d ms", test ? "-t " : "", conf,
                         timeout_ms);
        }
        sleep_ms(10);
    }
    FILE *f = fopen(outp, "re");
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    if (out)
        *out = text;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int server_wait_exit(server *s, int timeout_ms)
{
    record *rec = record_get(s);
    if (!record_wait(rec, timeout_ms))
        return -1;
    s->pid = -1;
    return rec->status;
}

void server_print_log(const server *s)
{
    print_log_dir(s->dir);
}

const char *plugin_path(const char *name)
{
    const char *env =
        strncmp(name, "tp", 2) == 0 ? "CRUNCHD_TEST_PLUGINS" : "CRUNCHD_EXAMPLE_PLUGINS";
    const char *dir = getenv(env);
    if (!dir || !*dir)
        hfail("%s is not set", env);
    return arena_printf("%s/lib%s.so", dir, name);
}

void(must_log)(server *s, const char *needle, int count, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (server_log_count(s, needle) < count) {
        if (now_ms() >= deadline)
            hfail_log(s, "the log does not show \"%s\" %d time(s) within %d ms", needle, count,
                      timeout_ms);
        sleep_ms(20);
    }
}

void(must_rewrite_config)(server *s, const char *overrides)
{
    char path[512];
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/crunchd.json", s->dir);
    json_t *cfg = json_load_file(path, 0, &jerr);
    if (!cfg)
        hfail("cannot read %s: %s", path, jerr.text);
    arena_add(cfg, true);
    merge_overrides(s, cfg, overrides);
    if (json_dump_file(cfg, path, JSON_INDENT(2)) < 0)
        hfail("cannot write config %s: %s", path, strerror(errno));
}

static void mkdirs_for(const char *path)
{
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
}

void must_write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "we");
    if (!f)
        hfail("fopen(%s) failed: %s", path, strerror(errno));
    size_t n = strlen(content);
    if (fwrite(content, 1, n, f) != n || fclose(f) != 0)
        hfail("cannot write %s", path);
}

void must_write_data_file(server *s, const char *rel, const char *content)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", s->data_dir, rel);
    mkdirs_for(path);
    must_write_file(path, content);
}

int server_log_count(const server *s, const char *needle)
{
    char path[512], buf[65536];
    size_t keep = 0, nlen = strlen(needle);
    int n = 0;
    snprintf(path, sizeof(path), "%s/crunchd.log", s->dir);
    FILE *f = fopen(path, "re");
    if (!f || nlen == 0 || nlen >= sizeof(buf) / 2) {
        if (f)
            fclose(f);
        return 0;
    }
    /* Chunk by chunk; the last nlen - 1 bytes carry over so no match is cut. */
    for (;;) {
        size_t got = fread(buf + keep, 1, sizeof(buf) - 1 - keep, f);
        if (got == 0)
            break;
        size_t len = keep + got;
        buf[len] = '\0';
        const char *p = buf, *end = buf + len;
        while ((p = memmem(p, (size_t)(end - p), needle, nlen)) != NULL) {
            n++;
            p += nlen;
        }
        keep = len >= nlen ? nlen - 1 : len;
        memmove(buf, end - keep, keep);
    }
    fclose(f);
    return n;
}

/* ---- sockets ---------------------------------------------------------------- */

static void set_timeout_opt(int fd, int opt, int ms)
{
    struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

void set_recv_timeout(int fd, int ms)
{
    set_timeout_opt(fd, SO_RCVTIMEO, ms);
}

int try_connect(server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    set_timeout_opt(fd, SO_SNDTIMEO, HARNESS_IO_TIMEOUT_MS);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    set_timeout_opt(fd, SO_RCVTIMEO, HARNESS_IO_TIMEOUT_MS);
    return fd;
}

int must_connect(server *s)
{
    int fd = try_connect(s);
    if (fd < 0)
        hfail("connect() to 127.0.0.1:%d failed: %s", s->port, strerror(errno));
    return fd;
}

int try_send(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

void must_send(int fd, const void *p, size_t n)
{
    if (try_send(fd, p, n) < 0)
        hfail("send() of %zu bytes failed: %s", n, strerror(errno));
}

/* ---- reading responses --------------------------------------------------- */

/* Returns 1 with a byte, 0 on EOF, -1 on error (errno set). */
static int recv_byte(int fd, char *ch)
{
    for (;;) {
        ssize_t r = recv(fd, ch, 1, 0);
        if (r == 1)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static int set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const char *errno_text(int r)
{
    if (r == 0)
        return "connection closed";
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return "timed out";
    return strerror(errno);
}

/* Reads exactly n bytes into p. Returns 0, or -1 with err set. */
static int recv_exact(int fd, char *p, size_t n, char *err, size_t errlen, const char *what)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, p + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        return set_err(err, errlen, "%s: %s after %zu of %zu bytes", what, errno_text((int)r), got,
                       n);
    }
    return 0;
}

/* Reads one CRLF-terminated line (without it) into line[cap]. */
static int recv_line(int fd, char *line, size_t cap, char *err, size_t errlen)
{
    size_t n = 0;
    for (;;) {
        char ch;
        int r = recv_byte(fd, &ch);
        if (r <= 0)
            return set_err(err, errlen, "chunked body: %s in a chunk line", errno_text(r));
        if (ch == '\n')
            break;
        if (n + 1 >= cap)
            return set_err(err, errlen, "chunked body: line longer than %zu bytes", cap);
        line[n++] = ch;
    }
    if (n > 0 && line[n - 1] == '\r')
        n--;
    line[n] = '\0';
    return 0;
}

static int read_chunked(int fd, resp *r, char *err, size_t errlen)
{
    size_t cap = 4096, len = 0;
    char *body = malloc(cap);
    char line[1024];
    if (!body)
        abort();
    for (;;) {
        if (recv_line(fd, line, sizeof(line), err, errlen) < 0)
            goto fail;
        char *end;
        unsigned long size = strtoul(line, &end, 16);
        if (end == line)
            goto bad;
        if (size == 0)
            break;
        if (len + size + 1 > cap) {
            while (len + size + 1 > cap)
                cap *= 2;
            char *n = realloc(body, cap);
            if (!n)
                abort();
            body = n;
        }
        if (recv_exact(fd, body + len, size, err, errlen, "chunk data") < 0)
            goto fail;
        len += size;
        if (recv_line(fd, line, sizeof(line), err, errlen) < 0)
            goto fail;
        if (line[0] != '\0')
            goto bad;
    }
    do { /* trailers */
        if (recv_line(fd, line, sizeof(line), err, errlen) < 0)
            goto fail;
    } while (line[0] != '\0');
    body[len] = '\0';
    arena_add(body, false);
    r->body = body;
    r->body_len = len;
    return 0;
bad:
    set_err(err, errlen, "chunked body: bad chunk line \"%s\"", line);
fail:
    free(body);
    return -1;
}

static int read_until_eof(int fd, resp *r, char *err, size_t errlen)
{
    size_t cap = 4096, len = 0;
    char *body = malloc(cap);
    if (!body)
        abort();
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            char *n = realloc(body, cap);
            if (!n)
                abort();
            body = n;
        }
        ssize_t got = recv(fd, body + len, cap - len - 1, 0);
        if (got > 0) {
            len += (size_t)got;
            continue;
        }
        if (got == 0 || errno == ECONNRESET)
            break;
        if (errno == EINTR)
            continue;
        free(body);
        return set_err(err, errlen, "body without Content-Length: %s", errno_text((int)got));
    }
    body[len] = '\0';
    arena_add(body, false);
    r->body = body;
    r->body_len = len;
    return 0;
}

int read_response(int fd, resp *r, unsigned flags, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->body = arena_strndup("", 0);
    char *head = arena_alloc(MAX_HEAD_BYTES + 1);
    size_t n = 0;
    for (;;) {
        char ch;
        int got = recv_byte(fd, &ch);
        if (got <= 0) {
            if (n == 0 && (got == 0 || errno == ECONNRESET))
                return 0;
            head[n] = '\0';
            return set_err(err, errlen,
                           "%s while reading the response head (got %zu bytes: \"%.300s\")",
                           errno_text(got), n, head);
        }
        if (n >= MAX_HEAD_BYTES)
            return set_err(err, errlen, "response head longer than %d bytes", MAX_HEAD_BYTES);
        head[n++] = ch;
        if ((n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0) ||
            (n >= 2 && memcmp(head + n - 2, "\n\n", 2) == 0))
            break;
    }
    head[n] = '\0';
    r->head = head;
    r->head_len = n;
    int minor, status;
    if (sscanf(head, "HTTP/1.%d %d", &minor, &status) != 2 || status < 100 || status > 999)
        return set_err(err, errlen, "malformed status line: \"%.200s\"", head);
    r->minor = minor;

    if ((flags & RESP_NO_BODY) || status < 200 || status == 204 || status == 304) {
        r->status = status;
        return status;
    }
    const char *te = resp_header(r, "Transfer-Encoding");
    const char *cl = resp_header(r, "Content-Length");
    if (te && strcasecmp(te, "chunked") == 0) {
        if (read_chunked(fd, r, err, errlen) < 0)
            return -1;
    } else if (cl) {
        char *end;
        unsigned long long len = strtoull(cl, &end, 10);
        if (end == cl || *end != '\0' || len > (1ull << 30))
            return set_err(err, errlen, "bad Content-Length \"%s\" in \"%.300s\"", cl, head);
        char *body = arena_alloc((size_t)len + 1);
        if (recv_exact(fd, body, (size_t)len, err, errlen, "response body") < 0)
            return -1;
        r->body = body;
        r->body_len = (size_t)len;
    } else if (read_until_eof(fd, r, err, errlen) < 0) {
        return -1;
    }
    r->status = status;
    return status;
}

int must_read_response_flags(int fd, resp *r, unsigned flags)
{
    char err[512];
    int st = read_response(fd, r, flags, err, sizeof(err));
    if (st < 0)
        hfail("reading a response: %s", err);
    return st;
}

int must_read_response(int fd, resp *r)
{
    return must_read_response_flags(fd, r, 0);
}

int wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - now_ms());
        if (left < 0)
            left = 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        char buf[4096];
        ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno == ECONNRESET))
            return 1;
        if (got > 0)
            return -1;
        if (errno != EAGAIN && errno != EINTR)
            return 1; /* some other error: the connection is gone */
    }
}

void must_be_closed(int fd, int timeout_ms, const char *what)
{
    int r = wait_closed(fd, timeout_ms);
    if (r == 0)
        hfail("%s: the server did not close the connection within %d ms", what, timeout_ms);
    if (r < 0)
        hfail("%s: expected the server to close the connection, but more data came", what);
}

/* ---- requests ------------------------------------------------------------- */

char *http_request_text(const char *method, const char *path, const char *body, const char *extra)
{
    if (body)
        return arena_printf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n%s",
                            method, path, strlen(body), extra ? extra : "", body);
    return arena_printf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", method, path,
                        extra ? extra : "");
}

/* One-shot; returns the status, 0 if closed without a reply, -1 with err. */
static int try_call(server *s, const char *method, const char *path, const char *body,
                    const char *extra, resp *r, char *err, size_t errlen)
{
    int fd = try_connect(s);
    if (fd < 0)
        return set_err(err, errlen, "connect() to 127.0.0.1:%d failed: %s", s->port,
                       strerror(errno));
    char *all = arena_printf("%sConnection: close\r\n", extra ? extra : "");
    char *req = http_request_text(method, path, body, all);
    int st;
    if (try_send(fd, req, strlen(req)) < 0)
        st = set_err(err, errlen, "send() failed: %s", strerror(errno));
    else
        st = read_response(fd, r, strcmp(method, "HEAD") == 0 ? RESP_NO_BODY : 0, err, errlen);
    close(fd);
    return st;
}

int http_call_hdr(server *s, const char *method, const char *path, const char *body,
                  const char *extra, resp *r)
{
    char err[512];
    int st = try_call(s, method, path, body, extra, r, err, sizeof(err));
    if (st < 0)
        hfail("%s %s: %s", method, path, err);
    if (st == 0)
        hfail("%s %s: the server closed the connection without a reply", method, path);
    return st;
}

int http_call(server *s, const char *method, const char *path, const char *body, resp *r)
{
    return http_call_hdr(s, method, path, body, NULL, r);
}

int http_call_lossy(server *s, const char *method, const char *path, const char *body, resp *r)
{
    int st = try_call(s, method, path, body, NULL, r, NULL, 0);
    return st < 0 ? 0 : st;
}

int http_call_raw(server *s, const void *raw, size_t n, resp *r)
{
    int fd = must_connect(s);
    if (try_send(fd, raw, n) < 0 && errno != EPIPE && errno != ECONNRESET) {
        int e = errno;
        close(fd);
        hfail("send() of %zu raw bytes failed: %s", n, strerror(e));
    }
    char err[512];
    int st = read_response(fd, r, 0, err, sizeof(err));
    close(fd);
    if (st < 0)
        hfail("reading the reply to raw request \"%.120s\": %s", (const char *)raw, err);
    return st;
}

/* ---- checking responses ------------------------------------------------------ */

const char *resp_describe(const resp *r)
{
    if (!r->head)
        return "(no response)";
    return arena_printf("%.1500s%.1000s%s", r->head, r->body ? r->body : "",
                        r->body_len > 1000 ? "..." : "");
}

json_t *must_json(resp *r)
{
    if (r->json)
        return r->json;
    json_error_t jerr;
    json_t *v = json_loadb(r->body ? r->body : "", r->body_len, JSON_DECODE_ANY, &jerr);
    if (!v)
        hfail("body is not JSON (%s):\n%s", jerr.text, resp_describe(r));
    arena_add(v, true);
    r->json = v;
    return v;
}

/* Calls fn(name, value) for each header line; stops when it returns true. */
static const char *header_find(const resp *r, const char *name, int *count)
{
    if (!r->head)
        return NULL;
    size_t nlen = strlen(name);
    const char *found = NULL;
    const char *p = strchr(r->head, '\n');
    while (p && *++p) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            break;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && (size_t)(colon - p) == nlen && strncasecmp(p, name, nlen) == 0) {
            if (count)
                (*count)++;
            if (!found) {
                const char *v = colon + 1, *e = eol;
                while (v < e && (*v == ' ' || *v == '\t'))
                    v++;
                while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                    e--;
                found = arena_strndup(v, (size_t)(e - v));
            }
        }
        p = eol;
    }
    return found;
}

const char *resp_header(const resp *r, const char *name)
{
    return header_find(r, name, NULL);
}

int resp_header_count(const resp *r, const char *name)
{
    int n = 0;
    header_find(r, name, &n);
    return n;
}

void must_status(const resp *r, int code)
{
    if (r->status != code)
        hfail("expected status %d, got %d:\n%s", code, r->status, resp_describe(r));
}

void must_header(const resp *r, const char *name, const char *value)
{
    const char *v = resp_header(r, name);
    if (!value && v)
        hfail("expected no %s header, got \"%s\":\n%s", name, v, resp_describe(r));
    if (value && (!v || strcasecmp(v, value) != 0))
        hfail("expected header %s: %s, got %s%s%s:\n%s", name, value, v ? "\"" : "", v ? v : "none",
              v ? "\"" : "", resp_describe(r));
}

void must_json_type(const resp *r)
{
    const char *ct = resp_header(r, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] && ct[16] != ';'))
        hfail("expected Content-Type: application/json:\n%s", resp_describe(r));
}

void must_error(resp *r, int status, const char *code, const char *arg)
{
    must_status(r, status);
    must_json_type(r);
    json_t *v = must_json(r);
    json_t *e = json_object_get(v, "error");
    if (!json_is_object(e))
        hfail("no {\"error\": {...}} envelope:\n%s", resp_describe(r));
    const char *c = json_string_value(json_object_get(e, "code"));
    if (!c || strcmp(c, code) != 0)
        hfail("expected error code \"%s\", got \"%s\":\n%s", code, c ? c : "(none)",
              resp_describe(r));
    const char *m = json_string_value(json_object_get(e, "message"));
    if (!m || !*m)
        hfail("error without a message:\n%s", resp_describe(r));
    if (arg) {
        const char *a = json_string_value(json_object_get(e, "arg"));
        if (!a || strcmp(a, arg) != 0)
            hfail("expected error arg \"%s\", got %s:\n%s", arg, a ? a : "none", resp_describe(r));
    }
}

json_t *must_get(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        char *dump = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
        if (dump)
            arena_add(dump, false);
        hfail("no member \"%s\" in %.1500s", key, dump ? dump : "(not JSON)");
    }
    return v;
}

json_int_t must_int(json_t *obj, const char *key)
{
    json_t *v = must_get(obj, key);
    if (!json_is_integer(v)) {
        char *dump = json_dumps(obj, JSON_COMPACT);
        if (dump)
            arena_add(dump, false);
        hfail("member \"%s\" is not an integer in %.1500s", key, dump ? dump : "?");
    }
    return json_integer_value(v);
}

const char *must_str(json_t *obj, const char *key)
{
    json_t *v = must_get(obj, key);
    if (!json_is_string(v)) {
        char *dump = json_dumps(obj, JSON_COMPACT);
        if (dump)
            arena_add(dump, false);
        hfail("member \"%s\" is not a string in %.1500s", key, dump ? dump : "?");
    }
    return json_string_value(v);
}

const char *(must_submit_job)(server *s, const char *body)
{
    resp r;
    http_call(s, "POST", "/v1/jobs", body, &r);
    must_status(&r, 202);
    return must_str(must_json(&r), "id");
}

/* ---- functions and workers --------------------------------------------------- */

json_t *must_call_fn(server *s, const char *name, const char *args_json, resp *r)
{
    char *path = arena_printf("/v1/fn/%s", name);
    http_call(s, "POST", path, args_json ? args_json : "", r);
    must_status(r, 200);
    json_t *v = must_json(r);
    const char *fn = must_str(v, "fn");
    if (strcmp(fn, name) != 0)
        hfail("POST %s: \"fn\" is \"%s\":\n%s", path, fn, resp_describe(r));
    if (!json_is_number(must_get(v, "run_ms")) || !json_is_number(must_get(v, "cpu_ms")))
        hfail("POST %s: run_ms/cpu_ms are not numbers:\n%s", path, resp_describe(r));
    if (must_int(v, "worker") <= 0)
        hfail("POST %s: bad \"worker\":\n%s", path, resp_describe(r));
    return must_get(v, "result");
}

/* ---- tokens files -------------------------------------------------------------- */

static char tokens_dir[64];

void harness_tokens_setup(void)
{
    snprintf(tokens_dir, sizeof(tokens_dir), "/tmp/crunchd-tokens-XXXXXX");
    if (!mkdtemp(tokens_dir))
        tokens_dir[0] = '\0';
}

void harness_tokens_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tokens_dir);
    if (tokens_dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tokens_dir);
}

const char *harness_tokens_dir(void)
{
    return tokens_dir;
}

const char *(harness_write_tokens)(const char *text)
{
    static char path[128];
    if (!tokens_dir[0])
        hfail("no tokens directory: harness_tokens_setup() is not the fixture, or mkdtemp() failed");
    snprintf(path, sizeof(path), "%s/tokens", tokens_dir);
    (must_write_file)(path, text);
    return path;
}

/* GET /v1/workers without failing: the array (borrowed) or NULL with err. */
static json_t *try_workers(server *s, char *err, size_t errlen)
{
    resp r;
    int st = try_call(s, "GET", "/v1/workers", NULL, HARNESS_ADMIN_AUTH, &r, err, errlen);
    if (st != 200) {
        if (st >= 0)
            set_err(err, errlen, "GET /v1/workers: %s", st ? resp_describe(&r) : "closed");
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(r.body, r.body_len, 0, &jerr);
    if (!v) {
        set_err(err, errlen, "GET /v1/workers: not JSON (%s): %.500s", jerr.text, r.body);
        return NULL;
    }
    arena_add(v, true);
    json_t *list = json_object_get(v, "workers");
    if (!json_is_array(list)) {
        set_err(err, errlen, "GET /v1/workers: no \"workers\" array: %.500s", r.body);
        return NULL;
    }
    return list;
}

static bool all_running(const server *s, json_t *list)
{
    if ((int)json_array_size(list) != s->nworkers)
        return false;
    size_t i;
    json_t *w;
    json_array_foreach(list, i, w)
    {
        const char *st = json_string_value(json_object_get(w, "state"));
        if (!st || strcmp(st, "running") != 0)
            return false;
    }
    return true;
}

void must_wait_workers_running(server *s, int timeout_ms)
{
    record *rec = record_get(s);
    int64_t deadline = now_ms() + timeout_ms;
    char err[1024] = "";
    for (;;) {
        json_t *list = try_workers(s, err, sizeof(err));
        if (list && all_running(s, list))
            return;
        if (list) {
            char *dump = json_dumps(list, JSON_COMPACT);
            snprintf(err, sizeof(err), "workers: %.900s", dump ? dump : "?");
            free(dump);
        }
        if (record_wait(rec, 0)) {
            s->pid = -1;
            hfail_log(s, "crunchd exited (wait status 0x%x) while waiting for its workers",
                      rec->status);
        }
        if (now_ms() >= deadline)
            hfail_log(s, "not all %d workers \"running\" within %d ms; last: %s", s->nworkers,
                      timeout_ms, err);
        sleep_ms(20);
    }
}

json_t *must_workers(server *s)
{
    char err[1024];
    json_t *list = try_workers(s, err, sizeof(err));
    if (!list)
        hfail("%s", err);
    if ((int)json_array_size(list) != s->nworkers)
        hfail("/v1/workers lists %zu workers, expected %d", json_array_size(list), s->nworkers);
    return list;
}

json_t *must_worker_slot(server *s, int slot)
{
    json_t *list = must_workers(s);
    size_t i;
    json_t *w;
    json_array_foreach(list, i, w)
    {
        json_t *sl = json_object_get(w, "slot");
        if (json_is_integer(sl) && json_integer_value(sl) == slot)
            return w;
    }
    hfail("/v1/workers has no slot %d", slot);
}

pid_t must_worker_pid(server *s, int slot)
{
    json_int_t pid = must_int(must_worker_slot(s, slot), "pid");
    if (pid <= 0)
        hfail("slot %d has pid %lld", slot, (long long)pid);
    return (pid_t)pid;
}

json_t *must_wait_respawn(server *s, int slot, pid_t old_pid, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    char err[1024] = "";
    for (;;) {
        json_t *list = try_workers(s, err, sizeof(err));
        size_t i;
        json_t *w;
        if (list) {
            json_array_foreach(list, i, w)
            {
                json_t *sl = json_object_get(w, "slot");
                if (!json_is_integer(sl) || json_integer_value(sl) != slot)
                    continue;
                json_int_t pid = json_integer_value(json_object_get(w, "pid"));
                const char *st = json_string_value(json_object_get(w, "state"));
                if (pid > 0 && pid != old_pid && st && strcmp(st, "running") == 0)
                    return w;
                char *dump = json_dumps(w, JSON_COMPACT);
                snprintf(err, sizeof(err), "slot %d: %.900s", slot, dump ? dump : "?");
                free(dump);
            }
        }
        if (now_ms() >= deadline)
            hfail_log(s, "slot %d was not respawned (pid != %d, running) within %d ms; last: %s",
                      slot, (int)old_pid, timeout_ms, err);
        sleep_ms(20);
    }
}

bool pid_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return true;
    return p[2] != 'Z' && p[2] != 'X';
}

void(must_gone)(pid_t pid, int timeout_ms, const char *what)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (pid_alive(pid)) {
        ck_assert_msg(now_ms() < deadline, "%s (pid %d) still alive after %d ms", what, (int)pid,
                      timeout_ms);
        sleep_ms(10);
    }
}
