/*
 * access_log.h - the access log (DESIGN.md section 8): one line per answered
 * request, to a file or stdout, written off the loop thread.
 *
 * Invariants:
 *  - access_log_write() never blocks on IO: it formats the line on the
 *    caller's thread into a per-log memory buffer (taking a mutex for a
 *    memcpy) and a writer thread of this log flushes the buffer with write(2).
 *    If the buffer holds ACCESS_LOG_MAX_PENDING bytes (the disk is stuck),
 *    new lines are dropped and counted, and the writer warns once per batch.
 *  - One access_log per worker process, opened after fork() (threads do not
 *    survive a fork) and after the switch to the unprivileged user, so a
 *    reopened file belongs to that user.
 *  - log.access_log: a path (opened O_APPEND, created 0640), "-" for stdout,
 *    "" for off (every call is then a cheap no-op).
 *
 * log.format "text", combined-style (remote, ident, user: the API token's
 * name or -, time, request line, status, body bytes, seconds, job id or -);
 * bytes of the request line outside 0x20..0x7e, '"' and '\' are written as
 * \xHH:
 *
 *   127.0.0.1 - ci [27/Nov/2026:11:05:29 +0000] "POST /v1/fn/fib HTTP/1.1" 200 76 0.000123 job=-
 *
 * log.format "json", one object per line; bytes of the path outside ASCII
 * are written as \u00XX so the line is always valid JSON:
 *
 *   {"time":"2026-11-27T11:05:29.123Z","remote":"127.0.0.1","token":"ci","method":"POST",
 *    "path":"/v1/fn/fib","status":200,"bytes":76,"duration_ms":0.123,"job_id":null}
 *
 * The token is the name of the API token the request carried (null / -
 * without one, or when no tokens are in force); never its secret.
 */
#ifndef CRUNCHD_ACCESS_LOG_H
#define CRUNCHD_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define ACCESS_LOG_MAX_PENDING (8u << 20)
#define ACCESS_LOG_MAX_LINE 8192 /* longer request targets are cut */

typedef struct access_log access_log;

/* What one line says. Every pointer is borrowed for the call only. */
typedef struct access_log_entry {
    const char *remote; /* peer address text ("127.0.0.1", "::1", "unix"); NULL: "-" */
    const char *user;   /* the API token's name; NULL: "-" (null in JSON) */
    const char *method; /* as sent; NULL: "-" (no request line parsed) */
    size_t method_len;
    const char *target; /* as sent: path and query; NULL: "-" */
    size_t target_len;
    int version_minor;   /* HTTP/1.<n>; < 0: no version known */
    int status;          /* status code sent */
    uint64_t bytes;      /* body bytes of the reply */
    int64_t duration_us; /* first byte of the request to the reply */
    const char *job_id;  /* NULL or "": none */
} access_log_entry;

/*
 * Opens the log that cfg describes and starts its writer thread. Returns a new
 * log (free it with access_log_close()), or NULL with err set, e.g.
 * "open() of access log \"/x/a.log\" failed: Permission denied". With
 * cfg->access_log "" the log is off: a valid handle that writes nothing.
 */
access_log *access_log_open(const config_log *cfg, char *err, size_t errlen);

/* Formats one line and queues it for the writer. Any thread; never blocks on
 * IO. NULL al is ignored. */
void access_log_write(access_log *al, const access_log_entry *e);

/*
 * Asks the writer to reopen the file (log rotation, SIGUSR1): lines queued
 * before the call may still go to the old file, later ones go to the new.
 * Async-signal-unsafe but cheap; call it from the loop thread's signal event.
 * If the reopen fails the writer logs why and keeps the old file.
 */
void access_log_reopen(access_log *al);

/* True when lines are written (log.access_log is not ""). NULL: false. */
bool access_log_enabled(const access_log *al);

/* Lines dropped because the buffer was full, since the open. */
uint64_t access_log_dropped(const access_log *al);

/* Writes what is queued, stops the writer and frees the log. NULL is ignored. */
void access_log_close(access_log *al);

/*
 * Formats a peer address for entry.remote: "1.2.3.4", "::1" (no brackets,
 * no port), "unix" for AF_UNIX, "-" otherwise. out must hold 64 bytes.
 */
struct sockaddr;
void access_log_addr(const struct sockaddr *sa, char out[64]);

#endif
