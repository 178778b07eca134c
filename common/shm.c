#include "shm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define SHM_ALIGN 64 /* a cache line: the metrics area shares none with the fixed part */

shm_region *shm_create(size_t metrics_bytes)
{
    size_t off = (sizeof(shm_region) + SHM_ALIGN - 1) / SHM_ALIGN * SHM_ALIGN;
    size_t bytes = off + metrics_bytes;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Anonymous mappings are zero-filled: every slot starts SHM_W_EMPTY, and
     * pages nobody touches (the metrics of slots never used) cost nothing. */
    shm_region *shm = p;
    shm->map_bytes = bytes;
    shm->metrics_off = off;
    shm->metrics_bytes = metrics_bytes;
    return shm;
}

void shm_destroy(shm_region *shm)
{
    if (shm)
        munmap(shm, shm->map_bytes);
}

void *shm_metrics_area(const shm_region *shm)
{
    return (char *)shm + shm->metrics_off;
}

size_t shm_metrics_bytes(const shm_region *shm)
{
    return shm->metrics_bytes;
}

const char *shm_state_name(int state)
{
    static const char *const names[] = {"empty", "starting", "running", "draining", "dead"};
    if (state < 0 || state > SHM_W_DEAD)
        return "unknown";
    return names[state];
}

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t shm_wall_ms(void) { return clock_ms(CLOCK_REALTIME); }
int64_t shm_mono_ms(void) { return clock_ms(CLOCK_MONOTONIC_COARSE); }

void shm_worker_set_job(shm_worker *w, const char *id)
{
    size_t n = id ? strnlen(id, SHM_JOB_ID - 1) : 0;
    /* First byte last: a reader sees "" or a whole id, except mid-change. */
    w->current_job[0] = '\0';
    atomic_thread_fence(memory_order_release);
    if (n > 1)
        memcpy(w->current_job + 1, id + 1, n - 1);
    w->current_job[n] = '\0';
    atomic_thread_fence(memory_order_release);
    if (n > 0)
        w->current_job[0] = id[0];
}

void shm_worker_get_job(const shm_worker *w, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    size_t n = 0;
    while (n + 1 < outlen && n < SHM_JOB_ID - 1 && w->current_job[n] != '\0') {
        char ch = w->current_job[n];
        out[n++] = (ch >= 0x21 && ch <= 0x7e) ? ch : '?';
    }
    out[n] = '\0';
}

void shm_jobs_record_death(shm_region *shm, pid_t pid, int slot, unsigned incarnation)
{
    uint64_t k = atomic_fetch_add(&shm->jobs.dead_seq, 1);
    shm_dead *d = &shm->jobs.dead[k % SHM_DEAD_RING];
    atomic_store(&d->seq, 0); /* readers skip the entry while it changes */
    atomic_store(&d->pid, (int)pid);
    atomic_store(&d->slot, slot);
    atomic_store(&d->incarnation, incarnation);
    atomic_store(&d->reaped, 0);
    atomic_store(&d->seq, k + 1);
}

void shm_note_write(shm_region *shm, pid_t pid, const char *id)
{
    uint64_t k = atomic_fetch_add(&shm->jobs.note_seq, 1);
    shm_note *n = &shm->jobs.note[k % SHM_NOTE_RING];
    atomic_store(&n->seq, 0);
    atomic_store(&n->pid, (int)pid);
    snprintf(n->id, sizeof(n->id), "%s", id);
    atomic_store(&n->seq, k + 1);
}

int shm_note_read(const shm_region *shm, uint64_t k, pid_t *pid, char *id)
{
    const shm_note *n = &shm->jobs.note[k % SHM_NOTE_RING];
    uint64_t before = atomic_load(&n->seq);
    if (before == 0 || before < k + 1)
        return 0;
    if (before != k + 1)
        return -1;
    *pid = atomic_load(&n->pid);
    memcpy(id, n->id, SHM_NOTE_ID);
    id[SHM_NOTE_ID - 1] = '\0';
    return atomic_load(&n->seq) == before ? 1 : -1;
}
