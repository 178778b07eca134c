/*
 * worker.h - one worker process: a libevent loop thread owning every
 * connection, a cpu lane and an io pool (DESIGN.md section 1).
 */
#ifndef CRUNCHD_WORKER_H
#define CRUNCHD_WORKER_H

#include "config.h"
#include "shm.h"

/*
 * Runs the worker in slot `slot` until it is told to stop; returns the exit
 * status for the process. Called in the child right after fork(); fds are the
 * listening sockets this slot serves (borrowed: the master keeps its copies for
 * the next incarnation). Signals: QUIT drains (stop accepting, finish
 * in-flight requests up to shutdown_timeout_s, close idle keep-alives),
 * TERM and INT stop at once.
 */
int worker_run(const config *cfg, shm_region *shm, int slot, const int *fds, int nfds);

#endif
