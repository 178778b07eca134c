#include "pool.h"

#include <assert.h>
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* A FIFO of tasks linked through task->next. */
typedef struct taskq {
    pool_task *head, *tail;
} taskq;

static void taskq_push(taskq *q, pool_task *t)
{
    t->next = NULL;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
}

static pool_task *taskq_pop(taskq *q)
{
    pool_task *t = q->head;
    if (t) {
        q->head = t->next;
        if (!q->head)
            q->tail = NULL;
    }
    return t;
}

struct pool_done {
    pthread_mutex_t lock; /* guards q */
    taskq q;
    int efd;          /* written by pool threads, read by the loop */
    struct event *ev; /* the loop's read event on efd */
};

struct pool {
    pthread_mutex_t lock; /* guards q and stopping */
    pthread_cond_t cond;
    taskq q;
    int stopping;
    atomic_int load;
    int nthreads;
    pthread_t *threads;
    pool_done *done;
    char name[16];
};

/* Loop thread: run done() of every finished task, oldest first. */
static void done_drain(evutil_socket_t fd, short what, void *arg)
{
    pool_done *d = arg;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&d->lock);
    pool_task *t = d->q.head;
    d->q.head = d->q.tail = NULL;
    pthread_mutex_unlock(&d->lock);
    while (t) {
        pool_task *next = t->next;
        t->done(t); /* may free t */
        t = next;
    }
}

pool_done *pool_done_new(struct event_base *base)
{
    pool_done *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->efd < 0)
        goto err;
    d->ev = event_new(base, d->efd, EV_READ | EV_PERSIST, done_drain, d);
    if (!d->ev || event_add(d->ev, NULL) < 0)
        goto err;
    return d;
err:
    pool_done_free(d);
    return NULL;
}

void pool_done_free(pool_done *d)
{
    if (!d)
        return;
    if (d->ev)
        event_free(d->ev);
    if (d->efd >= 0)
        close(d->efd);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* Pool thread: hand a finished task to the loop; wake it only when the queue
 * was empty (it drains everything per wake-up). */
static void done_push(pool_done *d, pool_task *t)
{
    pthread_mutex_lock(&d->lock);
    int was_empty = d->q.head == NULL;
    taskq_push(&d->q, t);
    pthread_mutex_unlock(&d->lock);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t w = write(d->efd, &one, sizeof(one));
        (void)w; /* EAGAIN means the counter is already non-zero: the loop will wake */
    }
}

static void *pool_thread(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->q.head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        pool_task *t = taskq_pop(&p->q);
        pthread_mutex_unlock(&p->lock);
        if (!t)
            return NULL; /* stopping and drained */
        t->run(t);
        atomic_fetch_sub_explicit(&p->load, 1, memory_order_relaxed);
        done_push(p->done, t);
    }
}

pool *pool_new(const char *name, int nthreads, pool_done *done)
{
    assert(nthreads > 0);
    pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->done = done;
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (!p->threads)
        goto err;
    for (; p->nthreads < nthreads; p->nthreads++) {
        int rc = pthread_create(&p->threads[p->nthreads], NULL, pool_thread, p);
        if (rc != 0) {
            errno = rc;
            goto err;
        }
        pthread_setname_np(p->threads[p->nthreads], p->name);
    }
    return p;
err:
    pool_free(p);
    return NULL;
}

void pool_submit(pool *p, pool_task *t)
{
    atomic_fetch_add_explicit(&p->load, 1, memory_order_relaxed);
    pthread_mutex_lock(&p->lock);
    taskq_push(&p->q, t);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

int pool_load(pool *p)
{
    return atomic_load_explicit(&p->load, memory_order_relaxed);
}

void pool_free(pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
