/*
 * log.h - the error log: stderr, one line per message, with the process's
 * role and pid. When JOURNAL_STREAM is set (stderr goes to journald) lines
 * carry sd-daemon priority prefixes ("<3>") instead of timestamps.
 *
 * Thread-safe: each message is formatted into a local buffer and written with
 * one write(2).
 */
#ifndef CRUNCHD_LOG_H
#define CRUNCHD_LOG_H

typedef enum log_level {
    LOG_LVL_ERROR = 3,
    LOG_LVL_WARN = 4,
    LOG_LVL_NOTICE = 5,
    LOG_LVL_INFO = 6,
    LOG_LVL_DEBUG = 7,
} log_level;

/* Sets the role shown in each line ("master", "worker 3") and detects journald. */
void log_set_role(const char *role);

/* Sets the threshold from a name; returns -1 for an unknown name. */
int log_set_level_name(const char *name);
void log_set_level(log_level lvl);

void log_msg(log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
