/*
 * store_shared.h - the size of a store backend's process-shared area.
 *
 * A backend may keep state that every process using the store shares (the
 * SQLite backend: its write gate, a robust mutex). The master reserves the
 * area in the shared region before it forks (shm.h), has the backend set it
 * up with store_shared_init() and hands it to every store_open() (store.h).
 * This header holds only the two constants, so that the shared region can
 * reserve the area without knowing anything else of the store.
 */
#ifndef CRUNCHD_STORE_SHARED_H
#define CRUNCHD_STORE_SHARED_H

/* Bytes of the area: at least what any built-in backend needs (each checks
 * its own size against it at compile time; store_shared_size() is the
 * largest). A pthread_mutex_t is 40 bytes on x86-64 glibc. */
#define STORE_SHARED_MAX 128

/* Its alignment: a cache line, so that the gate does not share one with the
 * counters around it (it is taken on every write of every worker). */
#define STORE_SHARED_ALIGN 64

#endif
