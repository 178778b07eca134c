/*
 * access_log.c - see access_log.h. The caller's thread formats; the writer
 * thread owns the fd and does every write(2) and open(2).
 */
#include "access_log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "log.h"

#define ACCESS_LOG_MODE 0640

struct access_log {
    bool on;
    bool json;
    bool is_stdout;
    char path[CONFIG_PATH];
    int fd; /* writer thread only (after open) */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* signalled when pending data, reopen or stop appear */
    char *pending;      /* lines not yet written */
    size_t len, cap;
    bool reopen;
    bool stop;
    uint64_t dropped;      /* total */
    uint64_t dropped_told; /* what the writer already warned about */
    pthread_t thread;
    bool thread_started;
};

/* ---- formatting (caller's thread) --------------------------------------- */

typedef struct line {
    char *p;
    size_t len, cap;
} line;

static void put(line *l, const char *s, size_t n)
{
    if (n > l->cap - l->len)
        n = l->cap - l->len;
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void puts_(line *l, const char *s)
{
    put(l, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void putf(line *l, const char *fmt, ...)
{
    size_t avail = l->cap - l->len;
    if (avail == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->p + l->len, avail, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < avail ? (size_t)n : avail - 1;
}

static const char hexd[] = "0123456789abcdef";

/* Text: printable ASCII as is, the rest (and '"', '\') as \xHH. */
static void put_text_escaped(line *l, const char *s, size_t n)
{
    for (size_t i = 0; i < n && l->len + 4 < l->cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch <= 0x7e && ch != '"' && ch != '\\') {
            l->p[l->len++] = (char)ch;
        } else {
            char esc[4] = {'\\', 'x', hexd[ch >> 4], hexd[ch & 15]};
            put(l, esc, 4);
        }
    }
}

/* JSON string body: '"', '\' and control bytes escaped, bytes >= 0x80 as
 * \u00XX so the line stays valid JSON whatever the client sent. */
static void put_json_escaped(line *l, const char *s, size_t n)
{
    for (size_t i = 0; i < n && l->len + 6 < l->cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            put(l, esc, 2);
        } else if (ch >= 0x20 && ch < 0x7f) {
            l->p[l->len++] = (char)ch;
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hexd[ch >> 4], hexd[ch & 15]};
            put(l, esc, 6);
        }
    }
}

static void put_json_str(line *l, const char *s, size_t n)
{
    puts_(l, "\"");
    put_json_escaped(l, s, n);
    puts_(l, "\"");
}

static void format_text(line *l, const access_log_entry *e, const struct timespec *ts)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    putf(l, "%s - ", e->remote ? e->remote : "-");
    if (e->user)
        put_text_escaped(l, e->user, strlen(e->user));
    else
        puts_(l, "-");
    putf(l, " [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", tm.tm_mday, mon[tm.tm_mon],
         tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (e->method) {
        put_text_escaped(l, e->method, e->method_len);
        puts_(l, " ");
        if (e->target)
            put_text_escaped(l, e->target, e->target_len);
        else
            puts_(l, "-");
        if (e->version_minor >= 0)
            putf(l, " HTTP/1.%d", e->version_minor);
    } else {
        puts_(l, "-");
    }
    int64_t us = e->duration_us < 0 ? 0 : e->duration_us;
    putf(l, "\" %d %llu %lld.%06lld job=", e->status, (unsigned long long)e->bytes,
         (long long)(us / 1000000), (long long)(us % 1000000));
    if (e->job_id && e->job_id[0])
        put_text_escaped(l, e->job_id, strlen(e->job_id));
    else
        puts_(l, "-");
}

static void format_json(line *l, const access_log_entry *e, const struct timespec *ts)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    putf(l, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"remote\":", tm.tm_year + 1900,
         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000);
    const char *remote = e->remote ? e->remote : "-";
    put_json_str(l, remote, strlen(remote));
    puts_(l, ",\"token\":");
    if (e->user)
        put_json_str(l, e->user, strlen(e->user));
    else
        puts_(l, "null");
    puts_(l, ",\"method\":");
    if (e->method)
        put_json_str(l, e->method, e->method_len);
    else
        puts_(l, "null");
    puts_(l, ",\"path\":");
    if (e->target)
        put_json_str(l, e->target, e->target_len);
    else
        puts_(l, "null");
    int64_t us = e->duration_us < 0 ? 0 : e->duration_us;
    putf(l, ",\"status\":%d,\"bytes\":%llu,\"duration_ms\":%lld.%03lld,\"job_id\":", e->status,
         (unsigned long long)e->bytes, (long long)(us / 1000), (long long)(us % 1000));
    if (e->job_id && e->job_id[0])
        put_json_str(l, e->job_id, strlen(e->job_id));
    else
        puts_(l, "null");
    puts_(l, "}");
}

void access_log_write(access_log *al, const access_log_entry *e)
{
    if (!al || !al->on)
        return;
    char text[ACCESS_LOG_MAX_LINE];
    line l = {text, 0, sizeof(text) - 1}; /* room for the newline */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (al->json)
        format_json(&l, e, &ts);
    else
        format_text(&l, e, &ts);
    text[l.len++] = '\n';

    pthread_mutex_lock(&al->mu);
    if (al->len + l.len > ACCESS_LOG_MAX_PENDING) {
        al->dropped++;
    } else {
        if (al->len + l.len > al->cap) {
            size_t cap = al->cap ? al->cap : 65536;
            while (cap < al->len + l.len)
                cap *= 2;
            char *p = realloc(al->pending, cap);
            if (!p) {
                al->dropped++;
                pthread_mutex_unlock(&al->mu);
                return;
            }
            al->pending = p;
            al->cap = cap;
        }
        bool was_empty = al->len == 0;
        memcpy(al->pending + al->len, text, l.len);
        al->len += l.len;
        if (was_empty)
            pthread_cond_signal(&al->cv);
    }
    pthread_mutex_unlock(&al->mu);
}

void access_log_addr(const struct sockaddr *sa, char out[64])
{
    snprintf(out, 64, "-");
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 64);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, 64);
    else if (sa->sa_family == AF_UNIX)
        snprintf(out, 64, "unix");
}

/* ---- the writer thread ---------------------------------------------------- */

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, ACCESS_LOG_MODE);
}

/* Writer thread: writes all of p, retrying short writes; gives up on errors. */
static void write_all(access_log *al, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(al->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_error("write() to access log \"%s\" failed: %s; %zu bytes lost",
                      al->is_stdout ? "-" : al->path, w < 0 ? strerror(errno) : "wrote nothing", n);
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void writer_reopen(access_log *al)
{
    if (al->is_stdout)
        return;
    int fd = open_file(al->path);
    if (fd < 0) {
        log_error("reopening access log \"%s\" failed: %s; still writing to the old file", al->path,
                  strerror(errno));
        return;
    }
    close(al->fd);
    al->fd = fd;
    log_info("reopened access log \"%s\"", al->path);
}

static void *writer_main(void *arg)
{
    access_log *al = arg;
    char *batch = NULL;
    size_t batch_cap = 0;

    pthread_mutex_lock(&al->mu);
    for (;;) {
        while (al->len == 0 && !al->reopen && !al->stop)
            pthread_cond_wait(&al->cv, &al->mu);
        bool reopen = al->reopen, stop = al->stop;
        al->reopen = false;
        /* Swap buffers: the writer keeps what it writes, callers get the
         * other one. Only pointers change under the lock. */
        char *p = al->pending;
        size_t n = al->len, cap = al->cap;
        al->pending = batch;
        al->cap = batch_cap;
        al->len = 0;
        batch = p;
        batch_cap = cap;
        uint64_t dropped = al->dropped - al->dropped_told;
        al->dropped_told = al->dropped;
        pthread_mutex_unlock(&al->mu);

        if (n > 0)
            write_all(al, batch, n);
        if (dropped)
            log_warn("access log: %llu line(s) dropped, the writer could not keep up",
                     (unsigned long long)dropped);
        if (reopen)
            writer_reopen(al);

        pthread_mutex_lock(&al->mu);
        if (stop && al->len == 0)
            break;
    }
    pthread_mutex_unlock(&al->mu);
    free(batch);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------- */

access_log *access_log_open(const config_log *cfg, char *err, size_t errlen)
{
    access_log *al = calloc(1, sizeof(*al));
    if (!al) {
        errbuf_fail(err, errlen, "access log: out of memory");
        return NULL;
    }
    al->fd = -1;
    pthread_mutex_init(&al->mu, NULL);
    pthread_cond_init(&al->cv, NULL);
    if (cfg->access_log[0] == '\0')
        return al; /* off */
    al->json = strcmp(cfg->format, "json") == 0;
    snprintf(al->path, sizeof(al->path), "%s", cfg->access_log);
    al->is_stdout = strcmp(cfg->access_log, "-") == 0;
    al->fd = al->is_stdout ? STDOUT_FILENO : open_file(al->path);
    if (al->fd < 0) {
        errbuf_fail(err, errlen, "open() of access log \"%s\" failed: %s", al->path,
                    strerror(errno));
        goto err;
    }
    int rc = pthread_create(&al->thread, NULL, writer_main, al);
    if (rc != 0) {
        errbuf_fail(err, errlen, "pthread_create() for access log \"%s\" failed: %s", al->path,
                    strerror(rc));
        goto err;
    }
    al->thread_started = true;
    al->on = true;
    return al;

err:
    access_log_close(al);
    return NULL;
}

void access_log_reopen(access_log *al)
{
    if (!al || !al->on)
        return;
    pthread_mutex_lock(&al->mu);
    al->reopen = true;
    pthread_cond_signal(&al->cv);
    pthread_mutex_unlock(&al->mu);
}

bool access_log_enabled(const access_log *al)
{
    return al && al->on;
}

uint64_t access_log_dropped(const access_log *al)
{
    if (!al)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&al->mu);
    uint64_t n = al->dropped;
    pthread_mutex_unlock((pthread_mutex_t *)&al->mu);
    return n;
}

void access_log_close(access_log *al)
{
    if (!al)
        return;
    if (al->thread_started) {
        pthread_mutex_lock(&al->mu);
        al->stop = true;
        pthread_cond_signal(&al->cv);
        pthread_mutex_unlock(&al->mu);
        pthread_join(al->thread, NULL);
    }
    if (al->fd >= 0 && !al->is_stdout)
        close(al->fd);
    pthread_mutex_destroy(&al->mu);
    pthread_cond_destroy(&al->cv);
    free(al->pending);
    free(al);
}
