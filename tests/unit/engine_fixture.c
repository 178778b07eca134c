/* A real engine for unit tests: see engine_fixture.h. */
#include "engine_fixture.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fn.h"
#include "builtin.h"
#include "fn_catalog.h"
#include "fn_registry.h"
#include "metrics.h"
#include "storeq.h"
#include "wake.h"

static void on_idle(void *arg)
{
    efx *f = arg;
    f->idle_calls++;
}

void efx_prepare(efx *f)
{
    memset(f, 0, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/crunchd-unit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(f->dir) != NULL, "mkdtemp(%s): %s", f->dir, strerror(errno));
    config_defaults(&f->cfg);
    f->cfg.cpu_threads = 1;
    f->cfg.io_threads = 1;
    f->cfg.callbacks.threads = 1;
    snprintf(f->cfg.store.path, sizeof(f->cfg.store.path), "%s/jobs.db", f->dir);
    char err[512] = "";
    ck_assert_msg(store_prepare(&f->cfg.store, NULL, NULL, err, sizeof(err)) == 0,
                  "store_prepare: %s", err);
    ck_assert_msg(wake_dir_create(false, 0, 0, err, sizeof(err)) == 0, "wake_dir_create: %s", err);
    /* What the master does at start-up (functions_load and on). */
    f->registry = fn_registry_new();
    ck_assert_ptr_nonnull(f->registry);
    ck_assert_msg(fn_builtins_register(f->registry, err, sizeof(err)) == 0, "%s", err);
    f->cfg.functions.registry = f->registry;
    f->shm = shm_create(metrics_shm_bytes(f->registry));
    ck_assert_msg(f->shm != NULL, "shm_create: %s", strerror(errno));
    ck_assert_int_eq(metrics_register_fns(f->shm, f->registry), 0);
    fn_catalog_use(f->registry); /* as the worker does */
    ck_assert_msg(store_shared_init(&f->cfg.store, f->shm->jobs.store_shared, err, sizeof(err)) == 0,
                  "store_shared_init: %s", err);
    /* What the master does before it forks the worker of slot 0. */
    atomic_store(&f->shm->master_pid, (int)getppid());
    atomic_store(&f->shm->nslots, 1);
    atomic_store(&f->shm->w[0].pid, (int)getpid());
    atomic_store(&f->shm->w[0].incarnation, 1);
    atomic_store(&f->shm->w[0].state, SHM_W_STARTING);
    f->base = event_base_new();
    ck_assert_ptr_nonnull(f->base);
}

static bool store_idle(void *arg)
{
    efx *f = arg;
    return storeq_pending(f->e.sq) == 0;
}

void efx_settle(efx *f)
{
    efx_must(f, store_idle, f, "the store queue to empty");
}

void efx_start(efx *f)
{
    ck_assert_int_eq(engine_init(&f->e, &f->cfg, f->shm, 0, f->base, on_idle, f), 0);
    engine_start(&f->e);
    efx_settle(f);
}

void efx_setup(efx *f)
{
    efx_prepare(f);
    efx_start(f);
}

static bool engine_idle_cond(void *arg)
{
    efx *f = arg;
    return engine_idle_now(&f->e);
}

static void remove_store_files(const efx *f)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char path[CONFIG_PATH + 16];
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", f->cfg.store.path, suffix[i]);
        unlink(path);
    }
    ck_assert_msg(rmdir(f->dir) == 0, "rmdir(%s): %s (a test left a file)", f->dir, strerror(errno));
}

void efx_teardown(efx *f)
{
    if (f->e.base) {
        efx_must(f, engine_idle_cond, f, "the engine to be idle");
        engine_release(&f->e);
    }
    event_base_free(f->base);
    shm_destroy(f->shm);
    fn_catalog_use(NULL);
    fn_registry_free(f->registry);
    wake_dir_remove();
    remove_store_files(f);
}

typedef struct deadline {
    bool passed;
} deadline;

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    ((deadline *)arg)->passed = true;
}

bool efx_run_until(efx *f, efx_cond *cond, void *arg, int64_t timeout_ms)
{
    deadline d = {false};
    struct event *t = evtimer_new(f->base, on_deadline, &d);
    ck_assert_ptr_nonnull(t);
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    evtimer_add(t, &tv);
    bool ok;
    while (!(ok = cond(arg)) && !d.passed)
        event_base_loop(f->base, EVLOOP_ONCE);
    event_free(t);
    return ok;
}

void efx_turn(efx *f) { event_base_loop(f->base, EVLOOP_NONBLOCK); }

static bool never(void *arg) { return false; }

void efx_run_for(efx *f, int64_t ms) { efx_run_until(f, never, NULL, ms); }

void efx_must(efx *f, efx_cond *cond, void *arg, const char *what)
{
    ck_assert_msg(efx_run_until(f, cond, arg, EFX_DEADLINE_MS), "timed out waiting for %s", what);
}

store *efx_store(efx *f)
{
    char err[512] = "";
    store *st = store_open(&f->cfg.store, f->shm->jobs.store_shared, err, sizeof(err));
    ck_assert_msg(st != NULL, "store_open: %s", err);
    return st;
}

void efx_queue_job(efx *f, const char *fn, const char *args, int retries, char id[JOB_ID_LEN + 1])
{
    const fn_desc *d = fn_find(fn, strlen(fn), true);
    ck_assert_msg(d != NULL, "no function %s", fn);
    store *st = efx_store(f);
    job j;
    job_init(&j);
    snprintf(j.fn, sizeof(j.fn), "%s", fn);
    j.kind = d->kind;
    if (args) {
        json_error_t jerr;
        j.args = json_loads(args, 0, &jerr);
        ck_assert_msg(j.args != NULL, "args %s: %s", args, jerr.text);
    }
    j.retries = retries;
    j.timeout_ms = 60000;
    ck_assert_msg(store_submit(st, &j, NULL) == 0, "store_submit: %s", store_errmsg(st));
    ck_assert_int_eq(j.state, JOB_QUEUED);
    snprintf(id, JOB_ID_LEN + 1, "%s", j.id);
    job_release(&j);
    store_close(st);
}

struct efx_hold {
    sq_op op;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool held, released;
};

/* Store thread: the first row holds the thread. */
static int hold_row(const store_row *r, void *arg)
{
    efx_hold *h = arg;
    pthread_mutex_lock(&h->lock);
    h->held = true;
    pthread_cond_broadcast(&h->cond);
    while (!h->released)
        pthread_cond_wait(&h->cond, &h->lock);
    pthread_mutex_unlock(&h->lock);
    return STORE_ROW_STOP;
}

static void hold_done(sq_op *op)
{
    efx_hold *h = op->arg;
    ck_assert_int_eq(op->rc, 0);
    ck_assert(h->held);
    sq_op_release(op);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    free(h);
}

efx_hold *efx_hold_store(efx *f)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(f, "fib", NULL, 0, id);
    efx_hold *h = calloc(1, sizeof(*h));
    ck_assert_ptr_nonnull(h);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    sq_op_init(&h->op, SQ_LIST, hold_done, h);
    h->op.u.list.q.limit = 1;
    h->op.u.list.row = hold_row;
    h->op.u.list.row_arg = h;
    storeq_push(f->e.sq, &h->op);
    return h;
}

void efx_hold_wait(efx_hold *h)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += EFX_DEADLINE_MS / 1000;
    int rc = 0;
    pthread_mutex_lock(&h->lock);
    while (!h->held && rc == 0)
        rc = pthread_cond_timedwait(&h->cond, &h->lock, &until);
    bool held = h->held;
    pthread_mutex_unlock(&h->lock);
    ck_assert_msg(held, "timed out waiting for the store thread to be held");
}

void efx_unhold(efx_hold *h)
{
    pthread_mutex_lock(&h->lock);
    h->released = true;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

int efx_fake_worker(efx *f, int slot, pid_t fake_pid)
{
    ck_assert(slot > 0 && slot < SHM_MAX_WORKERS);
    int fd = wake_open(fake_pid);
    ck_assert_msg(fd >= 0, "wake_open(%d): %s", (int)fake_pid, strerror(errno));
    shm_worker *w = &f->shm->w[slot];
    atomic_store(&w->incarnation, 1);
    atomic_store(&w->pid, (int)fake_pid);
    atomic_store(&w->state, SHM_W_RUNNING);
    if (atomic_load(&f->shm->nslots) <= slot)
        atomic_store(&f->shm->nslots, slot + 1);
    return fd;
}

int efx_wake_count(int fd)
{
    int n = 0;
    char payload[WAKE_MSG_MAX + 1];
    int kind;
    while ((kind = wake_recv(fd, payload, sizeof(payload))) > 0) {
        ck_assert_int_eq(kind, WAKE_BELL);
        n++;
    }
    ck_assert_int_eq(kind, 0);
    return n;
}
