#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "engine.h"
#include "fn_catalog.h"
#include "http_resp.h"
#include "log.h"
#include "route.h"
#include "rt_call.h"

#define ACCEPTS_PER_WAKEUP 64
#define MAX_LISTENERS 64
#define ACCEPT_PAUSE_MS 1000      /* out of descriptors: retry accepting after this at the latest */
#define ACCEPT_LOG_EVERY_MS 60000 /* ...and say so at most this often */

/* Everything worker_run creates, torn down in one place. */
typedef struct worker {
    engine e;
    conns cs;
    access_log *al;
    struct event *listen_ev[MAX_LISTENERS];
    int listen_fd[MAX_LISTENERS];
    bool listen_tcp[MAX_LISTENERS];
    int nlisten;
    struct event *sig_quit, *sig_term, *sig_int, *sig_hup, *sig_usr1, *sweep;
    struct event *drain_timer;   /* fires at shutdown_timeout_s after QUIT */
    struct event *accept_resume; /* out of descriptors: accepting is paused until this fires */
    bool accept_paused;
    int64_t accept_logged_ms; /* when the last pause was logged */
    unsigned accept_pauses;   /* pauses since then */
} worker;

static worker *self; /* the one worker of this process; loop thread only */

/* A draining worker ends once nothing is left: no connection, no running
 * job, no store operation or callback under way. */
static bool drained(const worker *wk)
{
    return wk->cs.n == 0 && engine_idle_now(&wk->e);
}

static void accept_resume(worker *wk)
{
    if (!wk->accept_paused)
        return;
    wk->accept_paused = false;
    evtimer_del(wk->accept_resume);
    for (int i = 0; i < wk->nlisten; i++)
        if (wk->listen_ev[i])
            event_add(wk->listen_ev[i], NULL);
}

/* Something ended (engine_idle): a descriptor may be free again, and a
 * draining worker may be done. */
static void on_idle(void *arg)
{
    worker *wk = arg;
    accept_resume(wk);
    if (wk->e.draining && drained(wk))
        event_base_loopbreak(wk->e.base);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    accept_resume(arg);
}

/* Out of descriptors: the pending connection stays in the accept queue and
 * its listener stays readable, so accepting again at once would spin. Stop
 * until a connection closes or ACCEPT_PAUSE_MS pass (ENFILE may free up
 * elsewhere), and say so at most once a minute. */
static void accept_pause(worker *wk, int err)
{
    wk->accept_paused = true;
    wk->accept_pauses++;
    for (int i = 0; i < wk->nlisten; i++)
        if (wk->listen_ev[i])
            event_del(wk->listen_ev[i]);
    struct timeval tv = clock_tv_ms(ACCEPT_PAUSE_MS);
    evtimer_add(wk->accept_resume, &tv);
    int64_t now = shm_mono_ms();
    if (wk->accept_logged_ms == 0 || now - wk->accept_logged_ms >= ACCEPT_LOG_EVERY_MS) {
        log_warn("accept4() failed: %s; not accepting until a connection closes (%u pause(s) in "
                 "the last minute; %d connection(s) open)",
                 strerror(err), wk->accept_pauses, wk->cs.n);
        wk->accept_logged_ms = now;
        wk->accept_pauses = 0;
    }
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    bool is_tcp = (bool)(intptr_t)arg;
    for (int i = 0; i < ACCEPTS_PER_WAKEUP && !self->e.draining && !self->accept_paused; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_pause(self, errno);
            return; /* EAGAIN: another worker took it, or the queue is empty */
        }
        conn_accept(&self->cs, cfd, is_tcp);
    }
}

/* Stops accepting; the master keeps its copy of each socket for the next
 * incarnation, so closing ours drops nothing queued. */
static void stop_listening(worker *wk)
{
    for (int i = 0; i < wk->nlisten; i++) {
        if (wk->listen_ev[i]) {
            event_free(wk->listen_ev[i]);
            wk->listen_ev[i] = NULL;
        }
        if (wk->listen_fd[i] >= 0) {
            close(wk->listen_fd[i]);
            wk->listen_fd[i] = -1;
        }
    }
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    worker *wk = arg;
    log_warn("shutdown_timeout_s passed with %d connection(s) open; exiting", wk->cs.n);
    _exit(0);
}

static void on_quit(evutil_socket_t sig, short what, void *arg)
{
    worker *wk = arg;
    if (wk->e.draining)
        return;
    log_info("SIGQUIT: draining %d connection(s)", wk->cs.n);
    struct timeval tv = clock_tv_ms((int64_t)wk->e.cfg->shutdown_timeout_s * 1000);
    wk->drain_timer = evtimer_new(wk->e.base, on_drain_timeout, wk);
    if (wk->drain_timer)
        evtimer_add(wk->drain_timer, &tv);
    stop_listening(wk);
    engine_drain(&wk->e); /* no more claims; long-polls answered as they are */
    conns_sweep(&wk->cs); /* closes idle keep-alive connections now */
    on_idle(wk);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
    /* Fast stop: no cleanup that could wait on a busy thread. */
    _exit(0);
}

static void on_ignored(evutil_socket_t sig, short what, void *arg) {}

/* USR1 (forwarded by the master): reopen the access log. */
static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
    worker *wk = arg;
    access_log_reopen(wk->al);
}

/* Once a second: heartbeat, Date header, timeouts. */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    worker *wk = arg;
    http_resp_set_date(time(NULL));
    conns_sweep(&wk->cs);
    engine_sweep(&wk->e);
    on_idle(wk);
}

static struct event_base *make_base(void)
{
    struct event_config *ec = event_config_new();
    if (!ec)
        return NULL;
    /* Pool threads never call libevent (they write an eventfd), so no locks;
     * the changelist folds add/del pairs into one epoll_ctl. */
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(ec);
    event_config_free(ec);
    return base;
}

static int add_signal(worker *wk, struct event **ev, int sig, event_callback_fn cb)
{
    *ev = evsignal_new(wk->e.base, sig, cb, wk);
    return *ev && evsignal_add(*ev, NULL) == 0 ? 0 : -1;
}

static int setup_listeners(worker *wk, const int *fds, int nfds)
{
    for (int i = 0; i < nfds && i < MAX_LISTENERS; i++) {
        int domain = AF_INET;
        socklen_t len = sizeof(domain);
        getsockopt(fds[i], SOL_SOCKET, SO_DOMAIN, &domain, &len);
        wk->listen_fd[i] = fds[i];
        wk->listen_tcp[i] = domain != AF_UNIX;
        wk->listen_ev[i] = event_new(wk->e.base, fds[i], EV_READ | EV_PERSIST, on_accept,
                                     (void *)(intptr_t)wk->listen_tcp[i]);
        wk->nlisten = i + 1;
        if (!wk->listen_ev[i] || event_add(wk->listen_ev[i], NULL) < 0)
            return -1;
    }
    return 0;
}

static int setup(worker *wk, const config *cfg, shm_region *shm, int slot, const int *fds, int nfds)
{
    struct event_base *base = make_base();
    if (!base) {
        log_error("event_base_new_with_config() failed");
        return -1;
    }
    if (engine_init(&wk->e, cfg, shm, slot, base, on_idle, wk) < 0)
        return -1;
    char err[512];
    if (!(wk->al = access_log_open(&cfg->log, err, sizeof(err))))
        log_error("%s; running without an access log", err);
    conns_init(&wk->cs, &wk->e, &route_app, wk->al);
    if (route_init(&wk->e) < 0)
        return -1;
    if (rt_call_start(cfg) < 0) /* this worker's language runtime processes */
        return -1;
    if (setup_listeners(wk, fds, nfds) < 0 || add_signal(wk, &wk->sig_quit, SIGQUIT, on_quit) < 0 ||
        add_signal(wk, &wk->sig_term, SIGTERM, on_term) < 0 ||
        add_signal(wk, &wk->sig_int, SIGINT, on_term) < 0 ||
        add_signal(wk, &wk->sig_hup, SIGHUP, on_ignored) < 0 ||
        add_signal(wk, &wk->sig_usr1, SIGUSR1, on_usr1) < 0) {
        log_error("registering events failed");
        return -1;
    }
    struct timeval one_second = {1, 0};
    if (!(wk->accept_resume = evtimer_new(base, on_accept_resume, wk)))
        return -1;
    wk->sweep = event_new(base, -1, EV_PERSIST, on_sweep, wk);
    if (!wk->sweep || event_add(wk->sweep, &one_second) < 0)
        return -1;
    return 0;
}

static void teardown(worker *wk)
{
    struct event_base *base = wk->e.base;
    stop_listening(wk);
    conns_close_all(&wk->cs);
    struct event *evs[] = {wk->sig_quit, wk->sig_term, wk->sig_int,     wk->sig_hup,
                           wk->sig_usr1, wk->sweep,    wk->drain_timer, wk->accept_resume};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    /* Joining waits for running tasks: only when none is left behind. */
    if (!engine_idle_now(&wk->e))
        _exit(0);
    engine_release(&wk->e);
    rt_call_stop(); /* no lane holds a runtime process now */
    access_log_close(wk->al);
    route_release();
    if (base)
        event_base_free(base);
}

int worker_run(const config *cfg, shm_region *shm, int slot, const int *fds, int nfds)
{
    static worker wk;
    fn_catalog_use(cfg->functions.registry); /* this generation's functions, for good */
    memset(&wk, 0, sizeof(wk));
    for (int i = 0; i < MAX_LISTENERS; i++)
        wk.listen_fd[i] = -1;
    self = &wk;
    srand((unsigned)getpid());
    signal(SIGPIPE, SIG_IGN);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    http_resp_set_date(time(NULL));
    int rc = setup(&wk, cfg, shm, slot, fds, nfds);
    if (rc == 0) {
        engine_start(&wk.e); /* our slot, free lanes; claim what waits */
        event_base_dispatch(wk.e.base);
    }
    teardown(&wk);
    return rc == 0 ? 0 : 1;
}
