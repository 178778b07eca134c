/* Unit tests for worker/http/conn*.c: the connection state machine over a
 * socketpair, with a fake application (conn_app) in place of the routes:
 * bodies, replies, pipelining, deferred requests, orphans, read-ahead,
 * timeouts and the connection limit. */
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "conn_int.h" /* PIPELINE_READ_MAX */
#include "engine_fixture.h"
#include "metrics.h"
#include "wire.h"

#define MAX_SEEN 256
#define BIG_BODY 4000 /* pipelined requests of the read-ahead test */

static efx f;
static conns cs;

/* ---- the fake application ------------------------------------------------ */

typedef enum app_mode {
    APP_ECHO,  /* reply at once: 200, "<path> <body>" */
    APP_DEFER, /* defer; the test replies */
} app_mode;

typedef struct seen {
    char path[64];
    char body[64]; /* the first bytes */
    size_t len;
} seen;

static struct app {
    app_mode mode;
    bool use_gone;         /* defer with the gone hook */
    bool reply_in_gone;    /* the hook ends the request itself */
    int handled;
    seen req[MAX_SEEN];
    conn *deferred;        /* the request deferred last */
    bool in_handle;
    int gone_calls;
    bool gone_in_handle;   /* the hook ran inside handle() */
    int gone_fd;           /* fd of the event the hook ran from */
    bool gone_orphaned;    /* conn_orphaned() in the hook */
} app;

static void copy_slice(char *dst, size_t cap, const char *p, size_t n)
{
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(dst, p, k);
    dst[k] = '\0';
}

static void on_gone(conn *c, void *arg)
{
    ck_assert_ptr_eq(arg, &app);
    app.gone_calls++;
    app.gone_in_handle = app.in_handle;
    struct event *ev = event_base_get_running_event(f.base);
    app.gone_fd = ev ? (int)event_get_fd(ev) : -2;
    app.gone_orphaned = conn_orphaned(c);
    if (app.reply_in_gone) {
        conn_reply(c, 200, CT_JSON, "{}", 2, NULL); /* discarded: frees c */
        app.deferred = NULL;
    }
}

static void app_handle(conn *c, const http_request *req, const char *body, size_t len)
{
    ck_assert_int_lt(app.handled, MAX_SEEN);
    seen *s = &app.req[app.handled++];
    copy_slice(s->path, sizeof(s->path), req->path.p, req->path.n);
    copy_slice(s->body, sizeof(s->body), body, len);
    s->len = len;
    if (app.mode == APP_DEFER) {
        app.in_handle = true;
        conn_defer(c, app.use_gone ? on_gone : NULL, &app);
        app.in_handle = false;
        app.deferred = c;
        return;
    }
    char out[160];
    int n = snprintf(out, sizeof(out), "%s %s", s->path, s->body);
    conn_reply(c, 200, "text/plain", out, (size_t)n, NULL);
}

static int app_label(const char *path, size_t len) { return (int)metrics_route_of(path, len); }

static const conn_app test_app = {.handle = app_handle, .label = app_label};

/* ---- a client on the other end ------------------------------------------- */

typedef struct client {
    int fd;      /* ours */
    int server;  /* the connection's end (owned by it once accepted) */
    char *in;    /* bytes received */
    size_t len, cap;
    bool eof;
} client;

typedef struct resp {
    int status;
    char body[512];
    size_t body_len;
    bool close; /* Connection: close */
} resp;

static void client_open(client *cl)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    *cl = (client){.fd = sv[0], .server = sv[1]};
    conn_accept(&cs, sv[1], false);
}

static void client_close(client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    cl->fd = -1;
    free(cl->in);
    cl->in = NULL;
}

/* Writes what the socket takes now; returns the bytes written. */
static size_t client_write_some(client *cl, const char *p, size_t n)
{
    ssize_t w = send(cl->fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
        ck_assert_msg(errno == EAGAIN, "send: %s", strerror(errno));
        return 0;
    }
    return (size_t)w;
}

static void client_send(client *cl, const char *s)
{
    size_t n = strlen(s);
    ck_assert_uint_eq(client_write_some(cl, s, n), n);
}

/* Reads what has arrived. */
static void client_pump(client *cl)
{
    for (;;) {
        if (cl->cap - cl->len < 4096) {
            cl->cap = cl->cap ? cl->cap * 2 : 8192;
            cl->in = realloc(cl->in, cl->cap);
            ck_assert_ptr_nonnull(cl->in);
        }
        ssize_t n = recv(cl->fd, cl->in + cl->len, cl->cap - cl->len, 0);
        if (n > 0) {
            cl->len += (size_t)n;
            continue;
        }
        if (n == 0)
            cl->eof = true;
        else
            ck_assert_msg(errno == EAGAIN, "recv: %s", strerror(errno));
        return;
    }
}

/* Parses the complete responses received, up to max into out; returns how many. */
static int client_responses(client *cl, resp *out, int max)
{
    int k = 0;
    size_t off = 0;
    while (k < max) {
        const char *p = cl->in + off;
        size_t avail = cl->len - off;
        const char *end = avail ? memmem(p, avail, "\r\n\r\n", 4) : NULL;
        if (!end)
            break;
        size_t head = (size_t)(end - p) + 4;
        resp r = {0};
        ck_assert_msg(sscanf(p, "HTTP/1.1 %d", &r.status) == 1, "not a response: %.40s", p);
        size_t body = 0;
        const char *cl_hdr = memmem(p, head, "Content-Length: ", 16);
        if (cl_hdr)
            body = strtoul(cl_hdr + 16, NULL, 10);
        r.close = memmem(p, head, "Connection: close", 17) != NULL;
        if (avail < head + body)
            break;
        r.body_len = body;
        copy_slice(r.body, sizeof(r.body), p + head, body);
        if (out)
            out[k] = r;
        k++;
        off += head + body;
    }
    return k;
}

typedef struct want {
    client *cl;
    int n;
} want;

static bool has_responses(void *arg)
{
    want *w = arg;
    client_pump(w->cl);
    return client_responses(w->cl, NULL, MAX_SEEN) >= w->n;
}

/* Turns the loop until cl has n complete responses; parses them into out. */
static void must_responses(client *cl, int n, resp *out)
{
    want w = {cl, n};
    efx_must(&f, has_responses, &w, "responses");
    ck_assert_int_eq(client_responses(cl, out, n), n);
}

static bool client_eof(void *arg)
{
    client *cl = arg;
    client_pump(cl);
    return cl->eof;
}

static bool handled(void *arg) { return app.handled >= *(int *)arg; }

static void must_handled(int n)
{
    efx_must(&f, handled, &n, "the handler");
}

static bool no_connections(void *arg) { return cs.n == 0; }

static bool gone_called_or_orphan(void *arg) { return app.gone_calls > 0 || conn_orphaned(arg); }

/* ---- fixture --------------------------------------------------------------- */

static void start(void)
{
    efx_start(&f);
    conns_init(&cs, &f.e, &test_app, NULL);
    memset(&app, 0, sizeof(app));
    app.gone_fd = -3;
}

static void setup(void)
{
    efx_prepare(&f);
    start();
}

static void teardown(void)
{
    conns_close_all(&cs);
    ck_assert_int_eq(atomic_load(&f.shm->w[0].connections), 0);
    ck_assert_int_eq(f.e.body_held, 0);
    efx_teardown(&f);
}

/* The count of route fn, code status in /metrics. */
static unsigned long long http_count(const char *route, int status)
{
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(metrics_render(f.shm, false, &text, &len), 0);
    char key[128];
    snprintf(key, sizeof(key), "crunchd_http_requests_total{route=\"%s\",code=\"%d\"} ", route,
             status);
    const char *p = strstr(text, key);
    unsigned long long n = p ? strtoull(p + strlen(key), NULL, 10) : 0;
    free(text);
    return n;
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_content_length_body_in_two_parts)
{
    client cl;
    client_open(&cl);
    ck_assert_int_eq(cs.n, 1);
    ck_assert_int_eq(atomic_load(&f.shm->w[0].connections), 1);
    client_send(&cl, "POST /v1/fn/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello");
    efx_run_for(&f, 20);
    ck_assert_int_eq(app.handled, 0); /* the body is not complete */
    client_send(&cl, " world");
    must_handled(1);
    ck_assert_str_eq(app.req[0].path, "/v1/fn/echo");
    ck_assert_str_eq(app.req[0].body, "hello world");
    ck_assert_uint_eq(app.req[0].len, 11);
    resp r;
    must_responses(&cl, 1, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "/v1/fn/echo hello world");
    ck_assert(!r.close);
    ck_assert_uint_eq(http_count("fn", 200), 1);
    ck_assert_uint_eq(atomic_load(&f.shm->w[0].requests), 1);
    client_close(&cl);
    efx_must(&f, no_connections, NULL, "the connection to close");
    ck_assert_int_eq(atomic_load(&f.shm->w[0].connections), 0);
}
END_TEST

START_TEST(test_chunked_body_is_decoded)
{
    client cl;
    client_open(&cl);
    client_send(&cl, "POST /v1/fn/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n");
    efx_run_for(&f, 20);
    ck_assert_int_eq(app.handled, 0);
    client_send(&cl, "6;ext=1\r\n world\r\n0\r\n\r\n");
    must_handled(1);
    ck_assert_str_eq(app.req[0].body, "hello world");
    ck_assert_uint_eq(app.req[0].len, 11);
    resp r;
    must_responses(&cl, 1, &r);
    ck_assert_str_eq(r.body, "/v1/fn/echo hello world");
    client_close(&cl);
}
END_TEST

START_TEST(test_pipelined_requests_are_answered_in_order)
{
    client cl;
    client_open(&cl);
    client_send(&cl, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
                     "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz"
                     "GET /c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    resp r[3];
    must_responses(&cl, 3, r);
    ck_assert_str_eq(r[0].body, "/a ");
    ck_assert_str_eq(r[1].body, "/b xyz");
    ck_assert_str_eq(r[2].body, "/c ");
    ck_assert(!r[1].close);
    ck_assert(r[2].close);
    efx_must(&f, client_eof, &cl, "the close after Connection: close");
    ck_assert_int_eq(cs.n, 0);
    client_close(&cl);
}
END_TEST

START_TEST(test_deferred_request_answered_later)
{
    app.mode = APP_DEFER;
    client cl;
    client_open(&cl);
    client_send(&cl, "GET /v1/jobs/1 HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n");
    must_handled(1);
    conn *c = app.deferred;
    ck_assert_ptr_nonnull(c);
    ck_assert(!conn_orphaned(c));
    ck_assert_ptr_eq(conn_engine(c), &f.e);
    efx_run_for(&f, 20);
    ck_assert_int_eq(app.handled, 1); /* the next request waits for this reply */
    client_pump(&cl);
    ck_assert_uint_eq(cl.len, 0);
    app.mode = APP_ECHO;
    conn_set_job_id(c, "0123456789abcdef0123456789abcdef");
    conn_reply(c, 202, CT_JSON, "{\"late\":true}", 13, "X-Test: 1\r\n");
    resp r[2];
    must_responses(&cl, 2, r);
    ck_assert_int_eq(r[0].status, 202);
    ck_assert_str_eq(r[0].body, "{\"late\":true}");
    ck_assert(memmem(cl.in, cl.len, "X-Test: 1\r\n", 11) != NULL);
    ck_assert_str_eq(r[1].body, "/next ");
    ck_assert_int_eq(app.handled, 2);
    ck_assert_uint_eq(http_count("job", 202), 1);
    client_close(&cl);
}
END_TEST

static bool gone_called(void *arg) { return app.gone_calls > 0; }

/* The client leaves while its request is deferred: the connection becomes
 * an orphan, the hook runs from an event of its own (not inside the read
 * that saw the hang-up), and the handler's later reply is dropped and
 * counted as 499. */
START_TEST(test_client_gone_while_deferred_makes_an_orphan)
{
    app.mode = APP_DEFER;
    app.use_gone = true;
    client cl;
    client_open(&cl);
    client_send(&cl, "POST /v1/fn/slow HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}");
    must_handled(1);
    conn *c = app.deferred;
    ck_assert_int_eq(f.e.body_held, 2);
    client_close(&cl); /* hangs up */
    efx_must(&f, gone_called, NULL, "the gone hook");
    ck_assert_int_eq(app.gone_calls, 1);
    ck_assert(!app.gone_in_handle);
    ck_assert_int_eq(app.gone_fd, -1); /* its own event, not the socket's */
    ck_assert(app.gone_orphaned);
    ck_assert(conn_orphaned(c));
    ck_assert_int_eq(cs.n, 1); /* the struct waits for the handler */
    efx_run_for(&f, 20);
    ck_assert_int_eq(app.gone_calls, 1); /* once */
    conn_reply(c, 200, CT_JSON, "{}", 2, NULL); /* the handler ends: dropped */
    ck_assert_int_eq(cs.n, 0);
    ck_assert_uint_eq(http_count("fn", HTTP_CLIENT_GONE), 1);
    ck_assert_uint_eq(http_count("fn", 200), 0);
    ck_assert_int_eq(f.e.body_held, 0);
    ck_assert_int_eq(atomic_load(&f.shm->w[0].connections), 0);
}
END_TEST

/* The hook may end the request itself (it frees the connection). */
START_TEST(test_gone_hook_may_reply)
{
    app.mode = APP_DEFER;
    app.use_gone = true;
    app.reply_in_gone = true;
    client cl;
    client_open(&cl);
    client_send(&cl, "GET /v1/jobs/abc HTTP/1.1\r\nHost: t\r\n\r\n");
    must_handled(1);
    shutdown(cl.fd, SHUT_WR);
    efx_must(&f, gone_called, NULL, "the gone hook");
    ck_assert_int_eq(cs.n, 0);
    ck_assert_ptr_null(app.deferred);
    ck_assert_uint_eq(http_count("job", HTTP_CLIENT_GONE), 1);
    client_pump(&cl);
    ck_assert_uint_eq(cl.len, 0); /* nothing was sent */
    client_close(&cl);
}
END_TEST

/* Without a hook the orphan waits for the handler, which drops it. */
START_TEST(test_orphan_without_hook_is_dropped_by_its_handler)
{
    app.mode = APP_DEFER;
    client cl;
    client_open(&cl);
    client_send(&cl, "GET /v1/jobs/abc HTTP/1.1\r\nHost: t\r\n\r\n");
    must_handled(1);
    conn *c = app.deferred;
    client_close(&cl);
    efx_must(&f, gone_called_or_orphan, c, "the hang-up to be seen");
    ck_assert_int_eq(app.gone_calls, 0);
    ck_assert_int_eq(cs.n, 1);
    conn_drop(c);
    ck_assert_int_eq(cs.n, 0);
    ck_assert_uint_eq(http_count("job", HTTP_CLIENT_GONE), 1);
}
END_TEST

/* Bytes the connection has read from its socket: what was written minus
 * what still waits in the socket. */
static size_t server_read(const client *cl, size_t written)
{
    int queued = 0;
    ck_assert_int_eq(ioctl(cl->server, FIONREAD, &queued), 0);
    return written - (size_t)queued;
}

/* While a request is deferred the connection reads ahead (to notice a
 * hang-up), but only so far: the rest stays in the socket. */
START_TEST(test_read_ahead_is_bounded)
{
    app.mode = APP_DEFER;
    client cl;
    client_open(&cl);
    client_send(&cl, "GET /first HTTP/1.1\r\nHost: t\r\n\r\n");
    must_handled(1);
    size_t first = strlen("GET /first HTTP/1.1\r\nHost: t\r\n\r\n");
    /* Pipelined requests, written while the socket takes them. */
    static char req[BIG_BODY + 128];
    int hl = snprintf(req, sizeof(req), "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
                      BIG_BODY);
    memset(req + hl, 'x', BIG_BODY);
    size_t reqlen = (size_t)hl + BIG_BODY;
    size_t written = first, partial = 0;
    int sent = 0, stable = 0;
    size_t last = 0;
    int64_t t0 = shm_mono_ms();
    while (stable < 3) {
        ck_assert_msg(shm_mono_ms() - t0 < EFX_DEADLINE_MS, "the connection never stopped reading");
        size_t n = client_write_some(&cl, req + partial, reqlen - partial);
        written += n;
        partial += n;
        if (partial == reqlen) {
            partial = 0;
            sent++;
        }
        efx_turn(&f);
        size_t now = server_read(&cl, written);
        stable = n == 0 && now == last ? stable + 1 : 0;
        last = now;
        ck_assert_msg(sent < 4096, "the connection reads everything");
    }
    size_t ahead = last - first;
    ck_assert_msg(ahead >= PIPELINE_READ_MAX, "read ahead %zu", ahead);
    ck_assert_msg(ahead <= 2 * PIPELINE_READ_MAX + IN_MIN_ROOM, "read ahead %zu", ahead);
    ck_assert_uint_gt(written, last); /* the rest waits in the socket */
    ck_assert_int_eq(app.handled, 1);
    /* The reply lets it go on: every request is answered, in order. */
    app.mode = APP_ECHO;
    conn_reply(app.deferred, 200, "text/plain", "first", 5, NULL);
    if (partial) { /* finish the last request */
        while (partial < reqlen) {
            partial += client_write_some(&cl, req + partial, reqlen - partial);
            efx_turn(&f);
        }
        sent++;
    }
    resp *r = calloc((size_t)sent + 1, sizeof(resp));
    ck_assert_ptr_nonnull(r);
    must_responses(&cl, sent + 1, r);
    ck_assert_str_eq(r[0].body, "first");
    for (int i = 1; i <= sent; i++) {
        ck_assert_int_eq(r[i].status, 200);
        ck_assert_str_eq(app.req[i].path, "/p");
        ck_assert_uint_eq(app.req[i].len, BIG_BODY);
    }
    ck_assert_int_eq(app.handled, sent + 1);
    free(r);
    client_close(&cl);
}
END_TEST

/* ---- limits (their own config) ------------------------------------------- */

static struct event *sweeper;

static void on_sweep(evutil_socket_t fd, short what, void *arg) { conns_sweep(&cs); }

static void setup_limits(void)
{
    efx_prepare(&f);
    f.cfg.limits.read_timeout_s = 1;
    f.cfg.limits.max_connections = 2;
    start();
    /* The worker sweeps once a second; ten times as often here. */
    sweeper = event_new(f.base, -1, EV_PERSIST, on_sweep, NULL);
    struct timeval tv = {0, 100 * 1000};
    ck_assert_ptr_nonnull(sweeper);
    event_add(sweeper, &tv);
}

static void teardown_limits(void)
{
    event_free(sweeper);
    teardown();
}

START_TEST(test_read_timeout_gives_408)
{
    client head, body, idle;
    client_open(&head);
    client_open(&body);
    client_send(&head, "GET /v1/jobs HTTP/1.1\r\nHo");
    client_send(&body, "POST /v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    resp r;
    must_responses(&head, 1, &r);
    ck_assert_int_eq(r.status, 408);
    ck_assert(strstr(r.body, ERR_REQUEST_TIMEOUT) != NULL);
    ck_assert(r.close);
    efx_must(&f, client_eof, &head, "the close after 408");
    must_responses(&body, 1, &r);
    ck_assert_int_eq(r.status, 408);
    ck_assert_int_eq(app.handled, 0);
    ck_assert_uint_eq(http_count("jobs", 408), 1);  /* its head was read */
    ck_assert_uint_eq(http_count("other", 408), 1); /* no path yet */
    client_close(&head);
    client_close(&body);
    efx_must(&f, no_connections, NULL, "the lingering connections to see the close");
    /* A connection that never sends a byte is closed without a reply. */
    client_open(&idle);
    efx_must(&f, client_eof, &idle, "the idle connection to close");
    ck_assert_uint_eq(idle.len, 0);
    client_close(&idle);
}
END_TEST

START_TEST(test_max_connections_gives_503)
{
    client a, b, c;
    client_open(&a);
    client_open(&b);
    client_open(&c); /* the third of max_connections 2 */
    ck_assert_int_eq(cs.n, 3);
    resp r;
    must_responses(&c, 1, &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert(strstr(r.body, "\"" ERR_BUSY "\"") != NULL);
    ck_assert(r.close);
    efx_must(&f, client_eof, &c, "the close after 503");
    ck_assert_int_eq(app.handled, 0);
    /* The others are served. */
    client_send(&a, "GET /v1/fn/x HTTP/1.1\r\nHost: t\r\n\r\n");
    must_responses(&a, 1, &r);
    ck_assert_int_eq(r.status, 200);
    client_close(&c);
    client_close(&b);
    client_close(&a);
}
END_TEST

static Suite *conn_suite(void)
{
    Suite *s = suite_create("conn");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_content_length_body_in_two_parts);
    tcase_add_test(tc, test_chunked_body_is_decoded);
    tcase_add_test(tc, test_pipelined_requests_are_answered_in_order);
    tcase_add_test(tc, test_deferred_request_answered_later);
    tcase_add_test(tc, test_client_gone_while_deferred_makes_an_orphan);
    tcase_add_test(tc, test_gone_hook_may_reply);
    tcase_add_test(tc, test_orphan_without_hook_is_dropped_by_its_handler);
    tcase_add_test(tc, test_read_ahead_is_bounded);
    suite_add_tcase(s, tc);
    TCase *lim = tcase_create("limits");
    tcase_set_timeout(lim, 60);
    tcase_add_checked_fixture(lim, setup_limits, teardown_limits);
    tcase_add_test(lim, test_read_timeout_gives_408);
    tcase_add_test(lim, test_max_connections_gives_503);
    suite_add_tcase(s, lim);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conn_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
