#include "route.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "authz.h"
#include "cors.h"
#include "http_url.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "route_admin.h"
#include "route_fn.h"
#include "route_jobs.h"
#include "utf8.h"
#include "wire.h"

/* Longest request path that is decoded: routes are far shorter, so a longer
 * one with a '%' in it is no route (404) without being decoded. */
#define PATH_DECODE_MAX 1024

enum { M_GET = 1, M_POST = 2, M_DELETE = 4 };

/* A route's scopes by method (route.scope[method_index()]); NONE: no token
 * needed, even with tokens in force (/healthz, /readyz). */
enum { M_IGET, M_IPOST, M_IDELETE, M_NINDEX };
#define NONE 0u
#define CALL AUTH_SCOPE_CALL
#define SUBMIT AUTH_SCOPE_SUBMIT
#define READ AUTH_SCOPE_READ
#define CANCEL AUTH_SCOPE_CANCEL
#define ADMIN AUTH_SCOPE_ADMIN

#define METHODS_GET "GET, HEAD, OPTIONS"
#define METHODS_FN "POST, OPTIONS"
#define METHODS_JOBS "GET, HEAD, POST, OPTIONS"
#define METHODS_JOB "GET, HEAD, DELETE, OPTIONS"
#define METHODS_ANY "GET, HEAD, POST, DELETE, OPTIONS" /* OPTIONS * */

typedef void route_handler(conn *c, const http_request *req, const svc_caller *who,
                           const char *body, size_t len);

typedef struct route {
    const char *path;
    size_t len;  /* of path */
    bool prefix; /* path is a prefix followed by exactly one segment */
    unsigned methods;
    const char *allow; /* the methods, for Allow (405, OPTIONS) and preflights */
    route_handler *handle;
    metrics_route label;      /* the "route" label of its metrics */
    unsigned scope[M_NINDEX]; /* by method: what a token needs (auth.h) */
} route;

/* A path and its length. */
#define PATH(p) p, sizeof(p) - 1

/* clang-format off */
static const route routes[] = {
    /* path, a prefix?, methods, Allow, handler, metrics label, scopes {GET and HEAD, POST, DELETE} */
    {PATH(ROUTE_HEALTHZ), false, M_GET, METHODS_GET, route_admin_healthz, METRICS_R_HEALTHZ, {NONE}},
    {PATH(ROUTE_READYZ), false, M_GET, METHODS_GET, route_admin_readyz, METRICS_R_READYZ, {NONE}},
    {PATH(ROUTE_METRICS), false, M_GET, METHODS_GET, route_admin_metrics, METRICS_R_METRICS, {ADMIN}},
    {PATH(ROUTE_FUNCTIONS), false, M_GET, METHODS_GET, route_admin_functions, METRICS_R_FUNCTIONS, {READ}},
    {PATH(ROUTE_WORKERS), false, M_GET, METHODS_GET, route_admin_workers, METRICS_R_WORKERS, {ADMIN}},
    {PATH(ROUTE_FN_PREFIX), true, M_POST, METHODS_FN, route_fn_post, METRICS_R_FN, {NONE, CALL}},
    {PATH(ROUTE_JOBS), false, M_GET | M_POST, METHODS_JOBS, route_jobs_collection, METRICS_R_JOBS, {READ, SUBMIT}},
    {PATH(ROUTE_JOBS_PREFIX), true, M_GET | M_DELETE, METHODS_JOB, route_jobs_item, METRICS_R_JOB, {READ, NONE, CANCEL}},
};
/* clang-format on */

#undef PATH
#undef NONE
#undef CALL
#undef SUBMIT
#undef READ
#undef CANCEL
#undef ADMIN
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* CORS header lines of this worker (http.cors_origins). Loop thread only. */
static cors *cors_conf;

/* The worker's tokens (cfg->auth.table), or NULL: every request is let
 * through as svc_caller_open without a look at its headers. */
static const auth_table *tokens;

/* The caller of a route that needs no token while tokens are in force: sees
 * nothing of anyone's. */
static const svc_caller nobody = {.owner = ""};

/* The route of a path; with one_segment, a prefix route takes exactly one
 * segment after its prefix (dispatch, on the decoded path); without, any
 * rest (metrics labels, on the path as sent). */
static const route *route_find(const char *p, size_t n, bool one_segment)
{
    for (size_t i = 0; i < NROUTES; i++) {
        size_t k = routes[i].len;
        if (routes[i].prefix ? (n > k && memcmp(p, routes[i].path, k) == 0 &&
                                (!one_segment || !memchr(p + k, '/', n - k)))
                             : (n == k && memcmp(p, routes[i].path, k) == 0))
            return &routes[i];
    }
    return NULL;
}

static int route_label(const char *path, size_t len)
{
    const route *r = route_find(path, len, false);
    return r ? (int)r->label : METRICS_R_OTHER;
}

/* Index of a method bit into route.scope. */
static int method_index(unsigned bit)
{
    return bit == M_GET ? M_IGET : bit == M_POST ? M_IPOST : M_IDELETE;
}

static unsigned method_bit(http_method m)
{
    switch (m) {
    case HTTP_GET:
    case HTTP_HEAD: return M_GET;
    case HTTP_POST: return M_POST;
    case HTTP_DELETE: return M_DELETE;
    default: return 0;
    }
}

/* 404 naming the path as the client sent it. */
static void reply_no_route(conn *c, http_slice raw_path)
{
    char echo[UTF8_ECHO_SIZE], msg[UTF8_ECHO_SIZE + 32];
    snprintf(msg, sizeof(msg), "no route for \"%s\"", utf8_echo(echo, raw_path.p, raw_path.n));
    conn_reply_error(c, 404, ERR_NOT_FOUND, msg, NULL);
}

static void reply_405(conn *c, const char *methods)
{
    char allow[128];
    snprintf(allow, sizeof(allow), HDR_ALLOW ": %s\r\n", methods);
    conn_reply_error_hdr(c, 405, ERR_METHOD_NOT_ALLOWED, "method not allowed on this route", NULL,
                         allow);
}

/* OPTIONS: 204 with Allow, and for a CORS preflight from an allowed origin
 * what the browser asks (the request's CORS lines are already set). */
static void reply_options(conn *c, const http_request *req, const char *methods, bool cors_ok)
{
    char extra[512];
    int n = snprintf(extra, sizeof(extra), HDR_ALLOW ": %s\r\n", methods);
    if (cors_ok && cors_is_preflight(req))
        cors_preflight(methods, extra + n, sizeof(extra) - (size_t)n);
    conn_reply(c, 204, NULL, "", 0, extra);
}

/*
 * Percent-decoding (only when the target has a '%'): malformed escapes
 * anywhere are 400; *req_io becomes a copy of the request whose path is the
 * decoded one in path_buf (PATH_DECODE_MAX bytes). Returns -1 after replying.
 */
static int decode_target(conn *c, const http_request **req_io, http_request *copy, char *path_buf)
{
    const http_request *req = *req_io;
    static const char bad[] = "malformed percent-encoding in the request target, or an encoded "
                              "'/' or NUL byte in a path segment";
    bool path_pct = memchr(req->path.p, '%', req->path.n) != NULL;
    size_t n;
    if (!http_url_valid(req->query) || (path_pct && !http_url_valid(req->path))) {
        conn_reply_error(c, 400, ERR_BAD_REQUEST, bad, NULL);
        return -1;
    }
    if (!path_pct)
        return 0;
    if (req->path.n > PATH_DECODE_MAX) {
        reply_no_route(c, req->path);
        return -1;
    }
    if (http_url_decode_path(req->path, path_buf, &n) < 0) {
        conn_reply_error(c, 400, ERR_BAD_REQUEST, bad, NULL);
        return -1;
    }
    *copy = *req; /* only here: a request is some 2 KiB */
    copy->path = (http_slice){path_buf, n};
    *req_io = copy;
    return 0;
}

/* Runs r's handler, after the token check when tokens are in force (so
 * that 401s, 403s and 429s count under the route's label too). */
static void route_call(conn *c, const route *r, const http_request *req, const char *body,
                       size_t len)
{
    if (!tokens) {
        r->handle(c, req, &svc_caller_open, body, len);
        return;
    }
    unsigned scope = r->scope[method_index(method_bit(req->method))];
    svc_caller who;
    if (scope == 0)
        r->handle(c, req, &nobody, body, len);
    else if (authz_check(c, req, scope, &who) == 0)
        r->handle(c, req, &who, body, len);
}

static void route_dispatch(conn *c, const http_request *req, const char *body, size_t len)
{
    const char *cors_lines = cors_headers(cors_conf, req);
    http_request decoded;
    char path_buf[PATH_DECODE_MAX];
    const http_slice raw_path = req->path;

    if (cors_lines)
        conn_set_reply_headers(c, cors_lines);
    if (raw_path.n == 1 && raw_path.p[0] == '*') { /* OPTIONS *: the parser allows no other */
        reply_options(c, req, METHODS_ANY, cors_lines != NULL);
        return;
    }
    if ((memchr(req->path.p, '%', req->path.n) ||
         (req->query.n && memchr(req->query.p, '%', req->query.n))) &&
        decode_target(c, &req, &decoded, path_buf) < 0)
        return;
    const route *r = route_find(req->path.p, req->path.n, true);
    if (!r)
        reply_no_route(c, raw_path);
    else if (req->method == HTTP_OPTIONS)
        reply_options(c, req, r->allow, cors_lines != NULL);
    else if (!(method_bit(req->method) & r->methods))
        reply_405(c, r->allow);
    else {
        conn_set_label(c, r->label);
        route_call(c, r, req, body, len);
    }
}

const conn_app route_app = {.handle = route_dispatch, .label = route_label};

int route_init(const engine *e)
{
    if (!(cors_conf = cors_new(&e->cfg->http)) || route_admin_init(e) < 0) {
        log_error("building the routes' replies failed: out of memory");
        return -1;
    }
    if (authz_init(e) < 0)
        return -1;
    tokens = e->cfg->auth.table;
    return 0;
}

void route_release(void)
{
    tokens = NULL;
    authz_release();
    route_admin_release();
    request_release();
    cors_free(cors_conf);
    cors_conf = NULL;
}
