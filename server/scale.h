/*
 * scale.h - changing the number of worker slots while serving: TTIN adds a
 * slot, TTOU removes the highest one (a reload to another "workers" count
 * goes through reload.h and uses the steering and retiring here).
 *
 * Steering: each TCP listener has one SO_REUSEPORT socket per slot, and the
 * kernel would hand connections to a new slot's socket before its worker
 * accepts, or keep queueing on a removed slot's socket. A BPF program
 * (listener_set_steer) sends new connections to slots 0 .. steer_n-1 only:
 * a new slot gets connections once its worker runs, and a removed slot gets
 * none from the moment it is removed. Its worker then gets QUIT once the
 * slot's accept queue is empty (SCALE_RETIRE_MAX_MS at most), so no
 * connection is reset. With systemd's sockets (one shared socket) there is
 * nothing to steer.
 *
 * Owns m->nslots (outside a reload), m->steer_n and the shm's nslots.
 * Master process only (mstate.h).
 */
#ifndef CRUNCHD_SCALE_H
#define CRUNCHD_SCALE_H

#include <stdint.h>

#include "mstate.h"

/* TTIN: opens the sockets of one more slot and spawns its worker; logs why
 * not (at the maximum, the slot's previous worker still stopping). */
void scale_add_worker(master *m);

/* TTOU: steers new connections away from the highest slot and retires its
 * worker (see above); the last slot is kept. */
void scale_remove_worker(master *m);

/* Sends new connections to slots 0 .. n-1 from now on; logs a warning (and
 * keeps sending to every slot) if the kernel refuses the program. */
void scale_steer(master *m, int n);

/* Retiring workers whose slot's queue is empty (or that waited too long)
 * get SIGQUIT. */
void scale_retire_tick(master *m, int64_t now);

/* Once every new slot's worker runs (and no reload is pending), the
 * steering includes them. */
void scale_steer_tick(master *m);

#endif
