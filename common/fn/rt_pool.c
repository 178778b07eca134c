/*
 * rt_pool.c - see rt_pool.h. The runtime thread's loop: under the lock it
 * starts what is due and lists what to poll (a wake-up eventfd, and per
 * process its pidfd, its stderr, and its stdout while its hello is awaited);
 * it polls without the lock; then it logs stderr, reads hellos and reaps
 * exits, taking the lock only to change states.
 */
#include "rt_pool.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fn_registry.h"
#include "log.h"
#include "rt_log.h"
#include "rt_proto.h"
#include "rt_spawn.h"

#define NO_PIDFD_TICK_MS 100 /* without pidfds, exits are looked for this often */

typedef enum proc_state {
    P_DOWN,     /* no process: one is started at restart_at_ns */
    P_SPAWNING, /* the runtime thread is forking it, outside the lock */
    P_STARTING, /* running, its hello not read yet */
    P_IDLE,     /* ready for a call */
    P_BUSY,     /* leased to a call */
    P_DYING,    /* killed, or dead by itself: to be reaped */
} proc_state;

typedef struct rt_rt rt_rt;

struct rt_proc {
    rt_rt *rt;
    proc_state state; /* under pool.mu */
    bool exited;      /* under pool.mu: its pidfd fired while it was leased */
    bool on_purpose;  /* under pool.mu: killed by a lease (no back-off) */
    bool said_hello;
    bool err_open;     /* its stderr is still polled */
    rt_child c;        /* pid -1 while down */
    rt_line out;       /* stdout: the hello (runtime thread), replies (the lease) */
    rt_line errl;      /* stderr: runtime thread only */
    uint64_t next_id;  /* the lease's */
    char problem[560]; /* why it was killed before its hello ("" if not) */
    int64_t spawned_ns, restart_at_ns, hello_deadline_ns, backoff_ms;
};

struct rt_rt {
    const config_runtime *cfg;
    int index;
    rt_cmd cmd;
    char cmd_err[512]; /* why cmd could not be prepared ("" when it was) */
    rt_proc *procs;
    int n;
    int waiters;         /* calls waiting for an idle process */
    pthread_cond_t idle; /* signalled when one became idle, or the runtime failed */
    bool failing;        /* its last start failed (no hello), and none said hello since */
    char failure[600];
    int nexpected; /* functions registered for it (hellos are compared) */
};

/* What one poll() watches: fds[i] and what it belongs to. */
typedef struct watch {
    struct pollfd *fds;
    rt_proc **proc;
    char *what; /* 'w' wake, 'p' pidfd, 'e' stderr, 'o' stdout */
    int n, cap;
} watch;

static struct {
    pthread_mutex_t mu;
    rt_rt *rts;
    int n;
    int wake; /* eventfd: a lease killed a process */
    pthread_t thread;
    bool running;
    bool stopping; /* under mu */
    int64_t grace_ms;
    rt_run_fn *run; /* the run() of the runtimes' functions */
    watch w;        /* the runtime thread's */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = -1};

static void lock(void)
{
    pthread_mutex_lock(&pool.mu);
}
static void unlock(void)
{
    pthread_mutex_unlock(&pool.mu);
}

static void wake_thread(void)
{
    uint64_t one = 1;
    ssize_t w = write(pool.wake, &one, sizeof(one));
    (void)w; /* a full counter still wakes it */
}

static int64_t ms_to_ns(int64_t ms)
{
    return ms * 1000000;
}

/* ---- starting and ending processes (runtime thread) ---- */

/* A start that failed: down, with back-off, and the runtime failing. */
static void start_failed(rt_proc *p, const char *why)
{
    rt_rt *rt = p->rt;
    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : RT_BACKOFF_MIN_MS;
    if (p->backoff_ms > RT_BACKOFF_MAX_MS)
        p->backoff_ms = RT_BACKOFF_MAX_MS;
    p->restart_at_ns = fn_now_ns() + ms_to_ns(p->backoff_ms);
    p->state = P_DOWN;
    rt->failing = true;
    snprintf(rt->failure, sizeof(rt->failure), "%s", why);
    log_error("runtime %s: %s; starting it again in %lld ms", rt->cfg->name, why,
              (long long)p->backoff_ms);
    pthread_cond_broadcast(&rt->idle); /* waiting calls may fail now */
}

/* Called and returns with the lock held; forks without it. */
static void spawn(rt_proc *p)
{
    rt_rt *rt = p->rt;
    char err[600];
    rt_child c;
    p->state = P_SPAWNING;
    unlock();
    int rc = -1;
    if (rt->cmd_err[0])
        snprintf(err, sizeof(err), "%s", rt->cmd_err);
    else
        rc = rt_spawn(&rt->cmd, &c, err, sizeof(err));
    lock();
    if (rc < 0) {
        start_failed(p, err);
        return;
    }
    p->c = c;
    rt_line_release(&p->out);
    rt_line_init(&p->out, RT_HELLO_MAX_BYTES); /* the first line is the hello */
    p->state = P_STARTING;
    p->exited = p->on_purpose = p->said_hello = false;
    p->err_open = true;
    p->next_id = 0;
    p->spawned_ns = fn_now_ns();
    p->hello_deadline_ns = p->spawned_ns + ms_to_ns(rt->cfg->hello_timeout_ms);
}

/* Kills p's group; the pidfd then tells the loop to reap it. Lock held. */
static void kill_proc(rt_proc *p, const char *why, bool on_purpose)
{
    log_warn("runtime %s[%d]: %s%s", p->rt->cfg->name, (int)p->c.pid, on_purpose ? "killed: " : "",
             why);
    rt_child_signal(&p->c, SIGKILL);
    p->state = P_DYING;
    p->on_purpose = on_purpose;
}

/* Lock held: p (pid) ended as how says; plans its next start. */
static void ended(rt_proc *p, pid_t pid, const char *how)
{
    rt_rt *rt = p->rt;
    int64_t now = fn_now_ns();
    bool young = !p->on_purpose && now - p->spawned_ns < ms_to_ns(RT_YOUNG_MS);
    if (pool.stopping) {
        p->state = P_DOWN;
        log_info("runtime %s[%d] %s", rt->cfg->name, (int)pid, how);
        return;
    }
    if (!p->said_hello && !p->on_purpose) {
        char why[700];
        snprintf(why, sizeof(why), "process %d %.96s before its hello%s%.500s", (int)pid, how,
                 p->problem[0] ? ": " : "", p->problem);
        p->problem[0] = '\0';
        start_failed(p, why);
        return;
    }
    p->backoff_ms = !young ? 0 : p->backoff_ms ? p->backoff_ms * 2 : RT_BACKOFF_MIN_MS;
    if (p->backoff_ms > RT_BACKOFF_MAX_MS)
        p->backoff_ms = RT_BACKOFF_MAX_MS;
    p->restart_at_ns = now + ms_to_ns(p->backoff_ms);
    p->state = P_DOWN;
    if (p->on_purpose)
        log_info("runtime %s[%d] %s; starting a new one", rt->cfg->name, (int)pid, how);
    else
        log_warn("runtime %s[%d] %s; starting a new one in %lld ms", rt->cfg->name, (int)pid, how,
                 (long long)p->backoff_ms);
}

/* Whether the hello names the functions registered for this runtime. */
static bool hello_matches(const rt_rt *rt, const rt_proto_hello *h)
{
    if (rt_proto_hello_count(h) != rt->nexpected)
        return false;
    for (int i = 0; i < rt_proto_hello_count(h); i++) {
        const fn_desc *d = rt_proto_hello_fn(h, i);
        const fn_desc *reg = fn_find(d->name, strlen(d->name), true);
        if (!reg || reg->run != pool.run || rt_proto_runtime(reg) != rt->index)
            return false;
    }
    return true;
}

/* Its stdout is readable while starting: the hello, perhaps. */
static void read_hello(rt_proc *p)
{
    rt_rt *rt = p->rt;
    const char *line;
    size_t len;
    char why[600] = "", perr[560];
    ssize_t n = rt_line_fill(&p->out, p->c.out);
    int rc = rt_line_next(&p->out, &line, &len);
    if (rc == 0 && n != 0)
        return; /* more to come */
    rt_proto_hello *h = NULL;
    if (rc < 0)
        snprintf(why, sizeof(why), "hello: longer than %d bytes", RT_HELLO_MAX_BYTES);
    else if (rc == 1 &&
             !(h = rt_proto_hello_parse(line, len, rt->index, pool.run, perr, sizeof(perr))))
        snprintf(why, sizeof(why), "hello: %s", perr);
    bool ok = h != NULL;
    if (ok && !hello_matches(rt, h))
        log_warn("runtime %s[%d]: its functions are not those registered when this generation "
                 "of workers started (reload to register them)",
                 rt->cfg->name, (int)p->c.pid);
    rt_proto_hello_free(h);
    if (ok) { /* from now on the lines are replies: their bound is max_result_bytes */
        rt_line_release(&p->out);
        rt_line_init(&p->out, (size_t)rt->cfg->max_result_bytes);
    }
    lock();
    if (ok && p->state == P_STARTING) {
        p->state = P_IDLE;
        p->said_hello = true;
        rt->failing = false;
        pthread_cond_signal(&rt->idle);
    } else if (p->state == P_STARTING && rc == 0) {
        rt_child_signal(&p->c, SIGKILL); /* its end of file: how it exits says it all */
        p->state = P_DYING;
    } else if (!ok && p->state == P_STARTING) {
        kill_proc(p, why, false);
        snprintf(p->problem, sizeof(p->problem), "%.500s", why);
    }
    unlock();
}

/* p's pidfd fired (or, without pidfds, the tick came): reap it if it is
 * gone and not leased, log how it ended, and plan the next start. */
static void reap(rt_proc *p)
{
    int status;
    if (p->c.pid <= 0)
        return; /* reaped earlier in this turn: waitpid(-1) would take another child */
    lock();
    if (p->state == P_BUSY) {
        p->exited = true; /* the lease sees the end of its stdout and gives it back */
        unlock();
        return;
    }
    /* Under the lock: an idle process found dead must not be leased. */
    pid_t got = waitpid(p->c.pid, &status, WNOHANG);
    if (got == 0 || (got < 0 && errno == EINTR)) {
        unlock();
        return;
    }
    int wait_errno = errno;
    if (p->state == P_IDLE || p->state == P_STARTING)
        p->state = P_DYING;
    unlock();
    char how[96];
    if (got < 0)
        snprintf(how, sizeof(how), "is gone (waitpid: %s)", strerror(wait_errno));
    else
        rt_describe_status(status, how, sizeof(how));
    if (p->err_open)
        rt_log_drain(&p->errl, p->c.err, p->rt->cfg->name, p->c.pid);
    rt_log_flush(&p->errl, p->rt->cfg->name, p->c.pid);
    rt_child_signal(&p->c, SIGKILL); /* what it started, if anything is left */
    pid_t pid = p->c.pid;
    rt_child_close(&p->c);
    p->c.pid = -1;
    rt_line_release(&p->out);
    rt_line_release(&p->errl);
    lock();
    ended(p, pid, how);
    unlock();
}

/* ---- the runtime thread's loop ---- */

static void watch_add(watch *w, int fd, rt_proc *p, char what)
{
    assert(w->n < w->cap);
    w->fds[w->n] = (struct pollfd){.fd = fd, .events = POLLIN};
    w->proc[w->n] = p;
    w->what[w->n] = what;
    w->n++;
}

/* Lock held: starts what is due, kills late hellos, lists what to poll;
 * returns the poll timeout in ms. */
static int plan(watch *w)
{
    int64_t now = fn_now_ns(), next = now + ms_to_ns(60000);
    bool tick = false;
    w->n = 0;
    watch_add(w, pool.wake, NULL, 'w');
    for (int r = 0; r < pool.n; r++) {
        for (int i = 0; i < pool.rts[r].n; i++) {
            rt_proc *p = &pool.rts[r].procs[i];
            if (p->state == P_DOWN && !pool.stopping && p->restart_at_ns <= now)
                spawn(p);
            if (p->state == P_STARTING && fn_now_ns() >= p->hello_deadline_ns) {
                char why[96];
                snprintf(why, sizeof(why), "no hello within hello_timeout_ms (%d ms)",
                         p->rt->cfg->hello_timeout_ms);
                kill_proc(p, why, false);
                snprintf(p->problem, sizeof(p->problem), "%.500s", why);
            }
            if (p->state == P_DOWN && !pool.stopping && p->restart_at_ns < next)
                next = p->restart_at_ns;
            if (p->state == P_STARTING && p->hello_deadline_ns < next)
                next = p->hello_deadline_ns;
            if (p->state == P_DOWN || p->state == P_SPAWNING)
                continue;
            if (p->c.pidfd >= 0 && !(p->state == P_BUSY && p->exited))
                watch_add(w, p->c.pidfd, p, 'p');
            tick = tick || (p->c.pidfd < 0 && p->state != P_BUSY);
            if (p->err_open)
                watch_add(w, p->c.err, p, 'e');
            if (p->state == P_STARTING)
                watch_add(w, p->c.out, p, 'o');
        }
    }
    int64_t ms = (next - fn_now_ns() + 999999) / 1000000;
    if (tick && ms > NO_PIDFD_TICK_MS)
        ms = NO_PIDFD_TICK_MS;
    return ms < 0 ? 0 : (int)ms;
}

/* Without the lock: acts on what poll() reported. */
static void act(watch *w)
{
    for (int i = 0; i < w->n; i++) {
        rt_proc *p = w->proc[i];
        short ev = w->fds[i].revents;
        if (w->what[i] == 'w' && ev) {
            uint64_t v;
            ssize_t r = read(pool.wake, &v, sizeof(v));
            (void)r;
        } else if (w->what[i] == 'e' && ev) {
            if (rt_log_drain(&p->errl, p->c.err, p->rt->cfg->name, p->c.pid) == 0)
                p->err_open = false;
        } else if (w->what[i] == 'o' && ev) {
            read_hello(p);
        } else if (w->what[i] == 'p' && (ev || p->c.pidfd < 0)) {
            reap(p);
        }
    }
    /* Without pidfds: every process not leased is looked at each tick. */
    for (int r = 0; r < pool.n; r++)
        for (int i = 0; i < pool.rts[r].n; i++) {
            rt_proc *p = &pool.rts[r].procs[i];
            if (p->c.pid > 0 && p->c.pidfd < 0)
                reap(p);
        }
}

/* Every process TERMed (stdin closed too), then KILLed after RT_STOP_MS. */
static void stop_all(watch *w)
{
    int64_t deadline = fn_now_ns() + ms_to_ns(RT_STOP_MS);
    lock();
    for (int r = 0; r < pool.n; r++)
        for (int i = 0; i < pool.rts[r].n; i++) {
            rt_proc *p = &pool.rts[r].procs[i];
            if (p->c.pid > 0) {
                rt_child_signal(&p->c, SIGTERM);
                if (p->c.in >= 0)
                    close(p->c.in);
                p->c.in = -1;
                p->state = P_DYING;
                p->on_purpose = true;
            }
        }
    unlock();
    for (;;) {
        lock();
        int ms = plan(w);
        unlock();
        int64_t left = (deadline - fn_now_ns()) / 1000000;
        if (w->n == 1 || left <= 0)
            break;
        if (ms > left)
            ms = (int)left;
        if (poll(w->fds, (nfds_t)w->n, ms) >= 0)
            act(w);
    }
    for (int r = 0; r < pool.n; r++)
        for (int i = 0; i < pool.rts[r].n; i++) {
            rt_proc *p = &pool.rts[r].procs[i];
            if (p->c.pid > 0) {
                rt_child_signal(&p->c, SIGKILL);
                while (waitpid(p->c.pid, NULL, 0) < 0 && errno == EINTR)
                    ;
                rt_log_flush(&p->errl, p->rt->cfg->name, p->c.pid);
                rt_child_close(&p->c);
                p->c.pid = -1;
            }
        }
}

static void *thread_main(void *arg)
{
    watch *w = arg;
    lock();
    while (!pool.stopping) {
        int ms = plan(w);
        unlock();
        if (poll(w->fds, (nfds_t)w->n, ms) < 0 && errno != EINTR)
            log_error("runtimes: poll() failed: %s", strerror(errno));
        else
            act(w);
        lock();
    }
    unlock();
    stop_all(w);
    return NULL;
}

/* ---- the worker's side: start and stop ---- */

static void free_all(void)
{
    for (int r = 0; r < pool.n; r++) {
        rt_rt *rt = &pool.rts[r];
        for (int i = 0; i < rt->n; i++) {
            rt_line_release(&rt->procs[i].out);
            rt_line_release(&rt->procs[i].errl);
        }
        free(rt->procs);
        pthread_cond_destroy(&rt->idle);
    }
    free(pool.rts);
    pool.rts = NULL;
    pool.n = 0;
    if (pool.running) {
        free(pool.w.fds);
        free(pool.w.proc);
        free(pool.w.what);
        pool.w = (watch){0};
    }
    if (pool.wake >= 0)
        close(pool.wake);
    pool.wake = -1;
}

/* Functions of the current registry that runtime index declared. */
static int count_registered(int index)
{
    int n = 0;
    for (int i = 0; i < fn_count(); i++) {
        const fn_desc *d = fn_at(i);
        n += d->run == pool.run && rt_proto_runtime(d) == index;
    }
    return n;
}

static int init_runtime(rt_rt *rt, const config *cfg, int index, int *nfds)
{
    pthread_condattr_t ca;
    rt->cfg = &cfg->functions.runtimes[index];
    rt->index = index;
    rt->n = rt->cfg->per_worker;
    rt->nexpected = count_registered(index);
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&rt->idle, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0 || !(rt->procs = calloc((size_t)rt->n, sizeof(*rt->procs))))
        return -1;
    /* No user switch: the worker already runs as crunchd's user. A command
     * that cannot be prepared fails each start, with back-off, until a
     * reload (argv[0] was there when the master checked it). */
    if (rt_cmd_prepare(&rt->cmd, rt->cfg, NULL, rt->cmd_err, sizeof(rt->cmd_err)) == 0)
        rt->cmd_err[0] = '\0';
    for (int i = 0; i < rt->n; i++) {
        rt_proc *p = &rt->procs[i];
        p->rt = rt;
        p->state = P_DOWN;
        p->c = (rt_child){.pid = -1, .in = -1, .out = -1, .err = -1, .pidfd = -1};
        rt_line_init(&p->out, (size_t)rt->cfg->max_result_bytes);
        rt_line_init(&p->errl, RT_LOG_LINE_MAX);
    }
    *nfds += 3 * rt->n;
    return 0;
}

int rt_pool_start(const config *cfg, rt_run_fn *run)
{
    watch w = {0};
    int nfds = 1;
    assert(!pool.running);
    if (cfg->functions.n_runtimes == 0)
        return 0;
    pool.run = run;
    pool.grace_ms = cfg->jobs.cancel_grace_ms / 2;
    pool.stopping = false;
    pool.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pool.rts = calloc((size_t)cfg->functions.n_runtimes, sizeof(*pool.rts));
    if (pool.wake < 0 || !pool.rts)
        goto fail;
    for (int r = 0; r < cfg->functions.n_runtimes; r++) {
        pool.n = r + 1;
        if (init_runtime(&pool.rts[r], cfg, r, &nfds) < 0)
            goto fail;
    }
    w.cap = nfds;
    w.fds = calloc((size_t)nfds, sizeof(*w.fds));
    w.proc = calloc((size_t)nfds, sizeof(*w.proc));
    w.what = calloc((size_t)nfds, 1);
    if (!w.fds || !w.proc || !w.what)
        goto fail;
    pool.w = w;
    int rc = pthread_create(&pool.thread, NULL, thread_main, &pool.w);
    if (rc != 0) {
        errno = rc;
        goto fail;
    }
    pthread_setname_np(pool.thread, "crunchd-rt");
    pool.running = true;
    return 0;

fail:
    log_error("starting the language runtimes failed: %s", strerror(errno ? errno : ENOMEM));
    free(w.fds);
    free(w.proc);
    free(w.what);
    pool.w = (watch){0};
    free_all();
    return -1;
}

void rt_pool_stop(void)
{
    if (!pool.running)
        return;
    assert(!pthread_equal(pthread_self(), pool.thread));
    lock();
    pool.stopping = true;
    for (int r = 0; r < pool.n; r++)
        pthread_cond_broadcast(&pool.rts[r].idle);
    unlock();
    wake_thread();
    pthread_join(pool.thread, NULL);
    free_all();
    pool.running = false;
}

/* ---- leases (any thread) ---- */

/* Why a waiting call must stop now: FN_TIMEOUT, FN_CANCELLED or FN_OK. */
static fn_status stop_reason(fn_ctx *ctx, int64_t now)
{
    if (ctx->deadline_ns != 0 && now >= ctx->deadline_ns)
        return FN_TIMEOUT;
    return atomic_load(&ctx->cancel) ? FN_CANCELLED : FN_OK;
}

/* Lock held: whether no process of rt can come up without a restart. */
static bool down(const rt_rt *rt)
{
    for (int i = 0; i < rt->n; i++)
        if (rt->procs[i].state != P_DOWN && rt->procs[i].state != P_DYING)
            return false;
    return true;
}

static void lease(rt_proc *p, rt_lease *l)
{
    p->state = P_BUSY;
    *l = (rt_lease){.proc = p,
                    .name = p->rt->cfg->name,
                    .pid = p->c.pid,
                    .in = p->c.in,
                    .out = p->c.out,
                    .reader = &p->out,
                    .id = ++p->next_id,
                    .max_result = p->rt->cfg->max_result_bytes,
                    .grace_ms = pool.grace_ms};
}

fn_status rt_pool_acquire(int index, fn_ctx *ctx, rt_lease *l)
{
    fn_status st = FN_OK;
    if (!pool.running || index < 0 || index >= pool.n) {
        snprintf(ctx->message, sizeof(ctx->message),
                 "language runtimes are not running in this process");
        return FN_FAILED;
    }
    rt_rt *rt = &pool.rts[index];
    assert(!pthread_equal(pthread_self(), pool.thread)); /* it would wait for itself */
    lock();
    rt->waiters++;
    for (;;) {
        int i = 0;
        while (i < rt->n && rt->procs[i].state != P_IDLE)
            i++;
        if (i < rt->n) {
            lease(&rt->procs[i], l);
            break;
        }
        if (pool.stopping || (rt->failing && down(rt))) {
            snprintf(ctx->message, sizeof(ctx->message), "runtime \"%s\" is not running: %.180s",
                     rt->cfg->name, pool.stopping ? "the worker is stopping" : rt->failure);
            st = FN_FAILED;
            break;
        }
        int64_t now = fn_now_ns();
        if ((st = stop_reason(ctx, now)) != FN_OK)
            break;
        int64_t until = now + ms_to_ns(RT_WAIT_SLICE_MS);
        if (ctx->deadline_ns != 0 && ctx->deadline_ns < until)
            until = ctx->deadline_ns;
        struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
        pthread_cond_timedwait(&rt->idle, &pool.mu, &ts);
    }
    rt->waiters--;
    unlock();
    return st;
}

void rt_pool_release(rt_lease *l, const char *why, bool on_purpose)
{
    rt_proc *p = l->proc;
    rt_rt *rt = p->rt;
    lock();
    assert(p->state == P_BUSY);
    if (!why && p->exited) {
        why = "exited after its reply"; /* its pidfd left the poll set: reap it now */
        on_purpose = false;
    }
    if (!why) {
        p->state = P_IDLE;
        if (rt->waiters > 0)
            pthread_cond_signal(&rt->idle);
        unlock();
    } else {
        kill_proc(p, why, on_purpose);
        unlock();
        wake_thread(); /* its pidfd may have left the poll set (exited) */
    }
    l->proc = NULL;
}
