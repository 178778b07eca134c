/*
 * nofile.h - the descriptor limit (RLIMIT_NOFILE) a configuration needs.
 *
 * A worker holds one descriptor per connection, up to
 * limits.max_connections, plus the refused ones that linger
 * (CONN_REFUSED_LINGER_MAX), its listening sockets, and a fixed allowance
 * for everything else (the store's files, pool eventfds, the wake socket,
 * the access log, callback sockets, files io functions read). A worker that
 * runs out cannot accept (it pauses accepting, worker.c), so the master
 * makes sure at start-up and at every reload that the limit its workers
 * inherit covers that, or refuses the configuration with a message saying
 * what to raise.
 *
 * Master only (it changes the process's own limit, which children inherit).
 */
#ifndef CRUNCHD_NOFILE_H
#define CRUNCHD_NOFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Descriptors beyond connections and listeners that a worker may hold. */
#define NOFILE_ALLOWANCE 256

/* What one worker of cfg needs. */
long nofile_need(const config *cfg);

/*
 * Makes the soft RLIMIT_NOFILE at least nofile_need(cfg), raising the hard
 * limit too when the process may (root). With apply false it only checks
 * (crunchd -t) and changes nothing. Returns 0, or -1 with a message in err
 * naming the numbers, limits.max_connections and how to raise the limit.
 */
int nofile_ensure(const config *cfg, bool apply, char *err, size_t errlen);

#endif
