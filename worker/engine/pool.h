/*
 * pool.h - thread pools of a worker and the way results come home.
 *
 * A pool runs tasks on its own threads (the cpu lane, the io pool). When a
 * task's run() returns, the task is pushed onto the loop's completion queue
 * (pool_done) and the loop is woken through an eventfd it owns; the loop then
 * calls the task's done(). So run() happens on a pool thread and done() on the
 * loop thread, always in that order, exactly once each (memcached's cq_push +
 * notify fd).
 *
 * Ownership: the caller owns each task (usually embedded in a bigger struct)
 * and must keep it alive until done() has been called; done() may free it.
 */
#ifndef CRUNCHD_POOL_H
#define CRUNCHD_POOL_H

struct event_base;

typedef struct pool_task pool_task;
struct pool_task {
    void (*run)(pool_task *t);  /* on a pool thread */
    void (*done)(pool_task *t); /* on the loop thread, after run() */
    pool_task *next;            /* queue link; the pool's while queued */
};

typedef struct pool_done pool_done;
typedef struct pool pool;

/* Creates the loop-side completion queue and registers its eventfd with base.
 * Loop thread only. Returns NULL on failure (errno set). */
pool_done *pool_done_new(struct event_base *base);
void pool_done_free(pool_done *d);

/* Starts nthreads threads named "<name>" that hand results to done. Returns
 * NULL on failure (errno set). */
pool *pool_new(const char *name, int nthreads, pool_done *done);

/* Queues t. Loop thread only. */
void pool_submit(pool *p, pool_task *t);

/* Tasks queued or running now (approximate; for routing decisions and stats). */
int pool_load(pool *p);

/*
 * Stops the threads once the queue is empty and joins them; tasks still queued
 * run first. Loop thread only. Not for a fast stop: a task that never ends
 * would hang it, so fast stops just exit the process.
 */
void pool_free(pool *p);

#endif
