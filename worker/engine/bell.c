#include "bell.h"
#include "loop.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "slot.h"
#include "wake.h"

struct bell {
    bell_handlers h;
    int fd;
    struct event *ev;
    uint64_t notes_seen; /* notes of the ring read so far */
};

/*
 * Rings the worker in slot s (pid) after what it should look at is in
 * place (claim bits, notes). Returns false if it could not be reached.
 */
static bool ring(shm_worker *s, pid_t pid, int claim_bits)
{
    if (claim_bits)
        atomic_fetch_or(&s->claim_bits, claim_bits);
    if (atomic_exchange(&s->bell, 1) != 0)
        return true;
    if (wake_send(pid, WAKE_BELL, NULL, 0) == 0)
        return true;
    atomic_store(&s->bell, 0); /* gone or not yet listening: let a later ring try */
    return false;
}

void bell_wake_idle(engine *e, fn_kind kind)
{
    ENGINE_ASSERT_LOOP();
    int n = atomic_load(&e->shm->nslots);
    if (n <= 0)
        return;
    int start = rand() % n;
    for (int i = 0; i < n; i++) {
        shm_worker *s = &e->shm->w[(start + i) % n];
        pid_t pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
        int free_lanes =
            atomic_load_explicit(kind == FN_CPU ? &s->free_cpu : &s->free_io, memory_order_relaxed);
        if (pid > 0 && pid != e->pid && free_lanes > 0 && ring(s, pid, 1 << kind))
            return;
    }
}

void bell_job_final(engine *e, const char *id)
{
    ENGINE_ASSERT_LOOP();
    bool noted = false;
    int n = atomic_load(&e->shm->nslots);
    for (int i = 0; i < n; i++) {
        shm_worker *s = &e->shm->w[i];
        pid_t pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
        if (pid <= 0 || pid == e->pid ||
            atomic_load_explicit(&s->waiters, memory_order_relaxed) == 0 ||
            atomic_load(&s->wait_bins[shm_wait_bin(id)]) == 0)
            continue;
        if (!noted) {
            shm_note_write(e->shm, 0, id);
            noted = true;
        }
        ring(s, pid, 0);
    }
}

void bell_stop_job(engine *e, pid_t owner, const char *id)
{
    ENGINE_ASSERT_LOOP();
    shm_note_write(e->shm, owner, id);
    int n = atomic_load(&e->shm->nslots);
    for (int i = 0; i < n; i++)
        if (atomic_load_explicit(&e->shm->w[i].pid, memory_order_relaxed) == owner)
            ring(&e->shm->w[i], owner, 0);
}

/* Reads the notes other workers left since the last look. */
static void read_notes(engine *e)
{
    bell *b = e->bell;
    uint64_t end = atomic_load(&e->shm->jobs.note_seq);
    if (end - b->notes_seen > SHM_NOTE_RING) {
        b->h.notes_lost(e);
        b->notes_seen = end;
        return;
    }
    char id[SHM_NOTE_ID];
    for (; b->notes_seen < end; b->notes_seen++) {
        pid_t pid;
        int rc = shm_note_read(e->shm, b->notes_seen, &pid, id);
        if (rc == 0)
            return; /* still being written: its bell comes after */
        if (rc < 0) {
            b->h.notes_lost(e);
            b->notes_seen = end;
            return;
        }
        if (pid == 0)
            b->h.job_changed(e, id);
        else if (pid == e->pid)
            b->h.stop_job(e, id);
    }
}

/* Someone rang: clear the bell first, then look (see ring()). */
void bell_answer(engine *e)
{
    ENGINE_ASSERT_LOOP();
    if (!slot_mine(e))
        return;
    atomic_store(&e->me->bell, 0);
    int bits = atomic_exchange(&e->me->claim_bits, 0);
    for (int k = 0; k < FN_NKINDS; k++)
        if (bits & (1 << k))
            e->bell->h.claim(e, (fn_kind)k);
    read_notes(e);
}

void bell_start(engine *e)
{
    if (slot_mine(e))
        atomic_store(&e->me->bell, 0); /* a bell an earlier incarnation never answered */
    bell_answer(e);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    while (wake_recv(fd, NULL, 0) > 0)
        ;
    bell_answer(arg);
}

int bell_open(engine *e, const bell_handlers *h)
{
    bell *b = calloc(1, sizeof(*b));
    if (!b)
        return -1;
    b->h = *h;
    b->fd = -1;
    b->notes_seen = atomic_load(&e->shm->jobs.note_seq);
    e->bell = b;
    b->fd = wake_open(e->pid);
    if (b->fd < 0) {
        log_error("binding the wake-up socket in %s failed: %s", wake_dir_path(), strerror(errno));
        return -1;
    }
    b->ev = event_new(e->base, b->fd, EV_READ | EV_PERSIST, on_wake, e);
    if (!b->ev || event_add(b->ev, NULL) < 0) {
        log_error("registering the wake-up socket failed");
        return -1;
    }
    return 0;
}

void bell_close(engine *e)
{
    bell *b = e->bell;
    if (!b)
        return;
    if (b->ev)
        event_free(b->ev);
    if (b->fd >= 0)
        close(b->fd);
    free(b);
    e->bell = NULL;
}
