#include "shm.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>

shm_region *shm_create(void)
{
    void *p = mmap(NULL, sizeof(shm_region), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Anonymous mappings are zero-filled: every slot starts SHM_W_EMPTY. */
    return p;
}

void shm_destroy(shm_region *shm)
{
    if (shm)
        munmap(shm, sizeof(*shm));
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
