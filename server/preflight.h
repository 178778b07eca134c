/*
 * preflight.h - the start-up checks that change nothing: crunchd -t runs
 * them, and so does the master before it binds or creates anything, so -t
 * fails exactly when start-up would fail on one of them.
 *
 * What is checked, in start-up order (each one names its key):
 *   - user: with "user" set and running as root, the user exists;
 *   - the wake-up socket directory's base ($RUNTIME_DIRECTORY, $TMPDIR or
 *     /tmp) exists and is writable (wake_dir_check);
 *   - listen: every address (listener_check);
 *   - auth: the tokens file is well formed, and without one every listen
 *     address is loopback or unix unless auth.none (auth_master_check);
 *   - pid_file: its directory exists and is writable (or the file is);
 *   - store: kind built in, directory, file (store_check);
 *   - limits.max_connections: RLIMIT_NOFILE is or can be raised to what a
 *     worker needs (nofile_ensure without applying it);
 *   - functions.plugins: the whole set loads, in a child process
 *     (functions_check): each file exists and is a crunchd plugin of this
 *     ABI with valid declarations, and no name clashes with another.
 *   - functions.runtimes: each runtime starts and says a valid hello whose
 *     functions register without a clash (functions_check).
 * What start-up only warns about is passed to warn (may be NULL): "user"
 * without root (ignored), auth.none (nothing is checked), a tokens file
 * without a token (every request is refused), a log.access_log that cannot be written (the
 * workers run without one), a data_dir that is not a directory (file_sha256
 * fails). What only doing it can tell is not checked: a port another process
 * holds, running out of memory.
 *
 * Master thread (or main) only: not thread-safe.
 */
#ifndef CRUNCHD_PREFLIGHT_H
#define CRUNCHD_PREFLIGHT_H

#include <stddef.h>

#include "config.h"

/* Told one warning, as a sentence naming the key. */
typedef void preflight_warn_fn(const char *msg, void *arg);

/* Returns 0, or -1 with the first failure in err (naming the key). */
int preflight_check(const config *cfg, preflight_warn_fn *warn, void *arg, char *err,
                    size_t errlen);

#endif
