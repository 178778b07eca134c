#include "waiters.h"
#include "loop.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "list.h"
#include "slot.h"
#include "storeq.h"

typedef enum waiter_state { W_COMMITTING, W_IDLE, W_READING, W_ANSWERED, W_NSTATES } waiter_state;

/* Legal transitions: bit `to` of legal[from] (freeing is not a state). */
#define B(s) (1u << (s))
static const unsigned legal[W_NSTATES] = {
    [W_COMMITTING] = B(W_IDLE) | B(W_READING),
    [W_IDLE] = B(W_READING),
    [W_READING] = B(W_IDLE) | B(W_READING) | B(W_ANSWERED),
    [W_ANSWERED] = 0,
};
#undef B

struct waiter {
    list_node node; /* waiters.all */
    engine *e;
    char id[JOB_ID_LEN + 1];
    waiter_state state;
    bool news;     /* COMMITTING, READING: the job may have changed since */
    bool expired;  /* time is up: the next read answers whatever it brings */
    waiter_fn *fn; /* NULL once abandoned */
    void *arg;
    struct event *timer;
    sq_op op; /* the read (SQ_GET) */
};

struct waiters {
    list all;
    int n;
};

static void waiter_set_state(waiter *w, waiter_state s)
{
    assert(legal[w->state] & (1u << s));
    w->state = s;
}

int waiters_count(const engine *e)
{
    return e->waiters ? e->waiters->n : 0;
}

static void waiter_link(waiter *w)
{
    waiters *ws = w->e->waiters;
    list_push(&ws->all, &w->node);
    ws->n++;
    slot_set_waiters(w->e, ws->n);
    slot_bin_add(w->e, w->id, 1);
}

static void waiter_unlink(waiter *w)
{
    waiters *ws = w->e->waiters;
    list_remove(&ws->all, &w->node);
    ws->n--;
    slot_set_waiters(w->e, ws->n);
    slot_bin_add(w->e, w->id, -1);
}

/* The one place a waiter ends. */
static void waiter_free(waiter *w)
{
    waiter_unlink(w);
    if (w->timer)
        event_free(w->timer);
    sq_op_release(&w->op);
    free(w);
}

/* Calls the answer (unless abandoned); the waiter must not be used after
 * this unless a read still refers to it (ANSWERED). */
static void waiter_answer(waiter *w, waiter_end how, const job *j, const job_json_text *text,
                          const char *err)
{
    waiter_fn *fn = w->fn;
    w->fn = NULL;
    if (w->timer)
        evtimer_del(w->timer);
    if (w->state == W_READING) {
        waiter_set_state(w, W_ANSWERED); /* the read's end frees it */
        if (fn)
            fn(w->arg, how, j, text, err);
        return;
    }
    if (fn)
        fn(w->arg, how, j, text, err);
    waiter_free(w);
}

static void waiter_read(waiter *w);

/* The read is back (op is w->op: waiter_free releases it). */
static void waiter_read_done(sq_op *op)
{
    waiter *w = op->arg;
    if (w->state == W_ANSWERED) {
        waiter_free(w);
        return;
    }
    waiter_set_state(w, W_IDLE);
    const job *j = &op->u.get.j;
    if (op->rc < 0) {
        waiter_answer(w, WAITER_STORE_ERROR, NULL, NULL, op->err);
    } else if (!op->u.get.found) {
        waiter_answer(w, WAITER_NOT_FOUND, NULL, NULL, NULL);
    } else if (job_state_final(j->state) || w->expired || !w->fn) {
        waiter_answer(w, WAITER_JOB, j, &op->u.get.text.view, NULL);
    } else {
        sq_op_release(op);
        if (w->news)
            waiter_read(w); /* the news may be newer than what we read */
    }
}

/* Reads the job (from IDLE). */
static void waiter_read(waiter *w)
{
    waiter_set_state(w, W_READING);
    w->news = false;
    sq_op_init(&w->op, SQ_GET, waiter_read_done, w);
    snprintf(w->op.u.get.id, sizeof(w->op.u.get.id), "%s", w->id);
    w->op.u.get.as_text = true;
    storeq_push(w->e->sq, &w->op);
}

/* Something happened to the job: read it (or once more). */
static void waiter_news(waiter *w)
{
    if (w->state == W_ANSWERED)
        return;
    if (w->state == W_READING || w->state == W_COMMITTING)
        w->news = true;
    else
        waiter_read(w);
}

static void waiter_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    waiter *w = arg;
    w->expired = true;
    waiter_news(w);
}

waiter *waiter_new(engine *e, const char *id, int64_t wait_ms, bool committing, waiter_fn *fn,
                   void *arg)
{
    ENGINE_ASSERT_LOOP();
    waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->e = e;
    w->fn = fn;
    w->arg = arg;
    w->state = committing ? W_COMMITTING : W_IDLE;
    snprintf(w->id, sizeof(w->id), "%s", id);
    w->timer = evtimer_new(e->base, waiter_on_timeout, w);
    struct timeval tv = clock_tv_ms(wait_ms);
    if (w->timer)
        evtimer_add(w->timer, &tv);
    waiter_link(w);
    if (!committing)
        waiter_read(w);
    return w;
}

void waiter_committed(waiter *w, const char *id, bool look)
{
    assert(w->state == W_COMMITTING);
    if (!w->fn) { /* abandoned: nothing to wait for */
        waiter_set_state(w, W_IDLE);
        waiter_free(w);
        return;
    }
    if (strcmp(id, w->id) != 0) {
        slot_bin_add(w->e, w->id, -1);
        snprintf(w->id, sizeof(w->id), "%s", id);
        slot_bin_add(w->e, w->id, 1);
    }
    bool read = look || w->news || w->expired;
    waiter_set_state(w, W_IDLE);
    if (read)
        waiter_read(w);
}

void waiter_failed(waiter *w, const char *err)
{
    waiter_set_state(w, W_IDLE); /* nothing in flight: answered and freed at once */
    waiter_answer(w, WAITER_STORE_ERROR, NULL, NULL, err);
}

void waiter_abandon(waiter *w)
{
    w->fn = NULL;
    w->expired = true;
    if (w->state == W_IDLE)
        waiter_free(w);
    /* COMMITTING, READING: the op in flight ends it; ANSWERED: likewise. */
}

void waiters_job_final(engine *e, const job *j)
{
    list_node *n, *next;
    list_for_each_safe(&e->waiters->all, n, next)
    {
        waiter *w = list_entry(n, waiter, node);
        if (strcmp(w->id, j->id) != 0 || w->state == W_ANSWERED)
            continue;
        if (w->state == W_COMMITTING)
            w->news = true; /* answered once the submission is done */
        else
            waiter_answer(w, WAITER_JOB, j, NULL, NULL);
    }
}

void waiters_job_changed(engine *e, const char *id)
{
    list_node *n, *next;
    list_for_each_safe(&e->waiters->all, n, next)
    {
        waiter *w = list_entry(n, waiter, node);
        if (strcmp(w->id, id) == 0)
            waiter_news(w);
    }
}

void waiters_refetch_all(engine *e)
{
    list_node *n, *next;
    list_for_each_safe(&e->waiters->all, n, next) waiter_news(list_entry(n, waiter, node));
}

void waiters_drain(engine *e)
{
    list_node *n, *next;
    list_for_each_safe(&e->waiters->all, n, next)
    {
        waiter *w = list_entry(n, waiter, node);
        w->expired = true;
        waiter_news(w);
    }
}

int waiters_init(engine *e)
{
    e->waiters = calloc(1, sizeof(*e->waiters));
    if (!e->waiters)
        return -1;
    list_init(&e->waiters->all);
    return 0;
}

void waiters_release(engine *e)
{
    free(e->waiters);
    e->waiters = NULL;
}
