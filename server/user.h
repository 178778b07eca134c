/*
 * user.h - the user the workers run as ("user"), and the files they need
 * handed over to it.
 *
 * Only a master started as root switches users; without root "user" is
 * ignored (with a warning). The user is resolved in the master, at start-up
 * and for every reload's config, so that a worker only calls set*id() after
 * fork() and never reads /etc/passwd.
 *
 * Master process; user_become() in a new worker before it runs anything
 * else. Keeps no state of its own.
 */
#ifndef CRUNCHD_USER_H
#define CRUNCHD_USER_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

typedef struct user_ids {
    bool switch_user; /* cfg->user is set and the master runs as root */
    uid_t uid;
    gid_t gid;
} user_ids;

/* Resolves cfg->user into u (getpwnam()); u is zeroed (no switch) when
 * "user" is empty or the master is not root. Returns 0, or -1 after logging
 * the failed lookup. */
int user_lookup(const config *cfg, user_ids *u);

/*
 * With a user to switch to, hands it the files the workers write: the
 * access log (created here if missing, as nginx does, so a log directory
 * only root may write still works) and the sqlite store with its -wal and
 * -shm files, where they exist. Failures are logged as warnings (the worker
 * that then cannot open a file says so too).
 */
void user_own_files(const config *cfg, const user_ids *u);

/*
 * In a new worker: setgroups(0), setgid(), setuid() to u, when
 * u->switch_user. name is the user's name for the log. Returns 0, or -1
 * after logging the call that failed.
 */
int user_become(const user_ids *u, const char *name);

#endif
