/*
 * check_authz.c - API tokens in the routes, against the real binary: every
 * route with no token, an unknown token, a token without the route's scope
 * and the right one; jobs that only their owner sees, lists, cancels and
 * finds by Idempotency-Key; admin over every owner; a reload that revokes
 * a token and adds one; a token's max_queued and rps; the token's name in
 * the access log and /metrics, never its secret. (How the master loads the
 * tokens is check_auth.c; servers without tokens are every other suite.)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RELOAD_MS 10000 /* a reload completes well within this, even under ASan */
#define WAIT_MS 10000   /* a job starts well within this */

/* Secrets and their lines: SHA256HEX is printf %s SECRET | sha256sum. */
#define S_ALICE "crunchd_test-alice"
#define S_BOB "crunchd_test-bob"
#define S_READER "crunchd_test-reader"
#define S_CALLER "crunchd_test-caller"
#define S_ADMIN "crunchd_test-admin"
#define S_ADMINONLY "crunchd_test-adminonly"
#define S_LIMITED "crunchd_test-limited"
#define S_SLOW "crunchd_test-slow"
#define S_NEW "crunchd_test-new"
#define S_UNKNOWN "crunchd_test-nobody"

#define L_ALICE                                                                                    \
    "alice submit,read,cancel 70738cc7a92ae8f1cbe1b0d7d34710c8591ddc3decdc861748a53e482c38df14\n"
#define L_BOB                                                                                      \
    "bob submit,read,cancel d759001f49af6394813ddc13be06797e1e934f7eac394a429698302f6d17b1ce\n"
#define L_READER "reader read 92545aa930db69bba4b88e525873451ea754ac576eca5bbdf26907d3bf8f0b92\n"
#define L_CALLER "caller call d433a62851681bbc8b8bb559e28fed93961d1e0219be1a6b4242b37c37eac519\n"
#define L_ADMIN                                                                                    \
    "admin read,cancel,admin 4288bff936530cee20303bfede766d0a9590cbde8590de16ebf573b2d4e09835\n"
#define L_ADMINONLY                                                                                \
    "adminonly admin 5965a3d3b48a6fafd310197e1fb9f88745ce2725f6f360b7cb6cbae685344208\n"
#define L_LIMITED                                                                                  \
    "limited submit,read,cancel "                                                                  \
    "e89f8ae508c7f883b4d74bdeda65e55b3e14d5985a02704e35a91491f4d43520 max_queued=2\n"
#define L_SLOW                                                                                     \
    "slow read 128d96033916248e9b696859a18f047fab2a515e3ad099dc5b13449bc47ad32a rps=1 burst=2\n"
#define L_NEW "new read 9e41ef9dde669e7c61d637937463e5123c2cafd49b87b705310fc12aa989b660\n"

#define ALL_TOKENS                                                                                 \
    L_ALICE L_BOB L_READER L_CALLER L_ADMIN L_ADMINONLY L_LIMITED L_SLOW HARNESS_ADMIN_LINE

/* Starts s with tokens and more config members (",\"k\": v", or ""). */
static void start_tokens(server *s, const char *tokens, const char *more)
{
    char conf[1024];
    snprintf(conf, sizeof(conf), "{\"auth\": {\"tokens_file\": \"%s\"}%s}",
             harness_write_tokens(tokens), more);
    must_start(s, conf);
}

/* One request with "Authorization: Bearer secret" (secret NULL: none). */
static int call_as(server *s, const char *secret, const char *method, const char *path,
                   const char *body, resp *r)
{
    char hdr[256] = "";
    if (secret)
        snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", secret);
    return http_call_hdr(s, method, path, body, hdr, r);
}

/* Submits args as job of secret's token; returns its id (static copy per call). */
static const char *must_submit_as(server *s, const char *secret, const char *job, const char *key)
{
    static char ids[8][40];
    static int next;
    char hdr[512];
    resp r;
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n%s%s%s", secret,
             key ? "Idempotency-Key: " : "", key ? key : "", key ? "\r\n" : "");
    int st = http_call_hdr(s, "POST", "/v1/jobs", job, hdr, &r);
    ck_assert_msg(st == 202 || st == 200, "submit as %s: %s", secret, resp_describe(&r));
    char *id = ids[next++ % 8];
    snprintf(id, 40, "%s", must_str(must_json(&r), "id"));
    ck_assert_ptr_null(json_object_get(must_json(&r), "owner"));
    return id;
}

/* Polls GET /v1/jobs/id as secret until its state is want. */
static void must_reach_state(server *s, const char *secret, const char *id, const char *want)
{
    char path[128];
    resp r;
    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    for (int64_t end = now_ms() + WAIT_MS; now_ms() < end; sleep_ms(20)) {
        call_as(s, secret, "GET", path, NULL, &r);
        must_status(&r, 200);
        if (strcmp(must_str(must_json(&r), "state"), want) == 0)
            return;
    }
    ck_abort_msg("job %s never reached %s: %s", id, want, resp_describe(&r));
}

/* A job that holds an io thread until it is cancelled (sleep wakes early). */
#define SLEEP_JOB "{\"fn\": \"sleep\", \"args\": {\"ms\": 60000}, \"timeout_ms\": 120000}"

/* ---- every route x no token, unknown, without the scope, with it ---- */

typedef struct case_ {
    const char *method, *path, *body;
    const char *scope;   /* what the route needs */
    const char *without; /* a token without it */
    const char *with;    /* a token with it */
    int ok;              /* the status with it */
} case_;

static void must_401(resp *r, bool sent)
{
    must_error(r, 401, "unauthorized", NULL);
    const char *h = resp_header(r, "WWW-Authenticate");
    ck_assert_msg(
        h && (sent ? strcmp(h, "Bearer error=\"invalid_token\"") == 0 : strcmp(h, "Bearer") == 0),
        "WWW-Authenticate: %s", resp_describe(r));
}

START_TEST(test_route_matrix)
{
    server s;
    start_tokens(&s, ALL_TOKENS, "");
    const char *mine = must_submit_as(&s, S_ALICE, "{\"fn\": \"fib\", \"args\": {\"n\": 5}}", NULL);
    const char *other = must_submit_as(&s, S_ALICE, SLEEP_JOB, NULL);
    char job_path[80], other_path[80];
    snprintf(job_path, sizeof(job_path), "/v1/jobs/%s", mine);
    snprintf(other_path, sizeof(other_path), "/v1/jobs/%s", other);
    const case_ cases[] = {
        {"GET", "/v1/functions", NULL, "read", S_CALLER, S_READER, 200},
        {"GET", "/v1/workers", NULL, "admin", S_READER, S_ADMINONLY, 200},
        {"GET", "/metrics", NULL, "admin", S_ALICE, S_ADMINONLY, 200},
        {"POST", "/v1/fn/fib", "{\"n\": 5}", "call", S_ALICE, S_CALLER, 200},
        {"POST", "/v1/jobs", "{\"fn\": \"fib\"}", "submit", S_READER, S_BOB, 202},
        {"GET", "/v1/jobs", NULL, "read", S_CALLER, S_READER, 200},
        {"GET", job_path, NULL, "read", S_CALLER, S_ALICE, 200},
        {"DELETE", other_path, NULL, "cancel", S_READER, S_ALICE, 200},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const case_ *c = &cases[i];
        resp r;
        char want[64];
        call_as(&s, NULL, c->method, c->path, c->body, &r);
        must_401(&r, false);
        call_as(&s, S_UNKNOWN, c->method, c->path, c->body, &r);
        must_401(&r, true);
        http_call_hdr(&s, c->method, c->path, c->body, "Authorization: Basic YWxpY2U6eA==\r\n", &r);
        must_401(&r, true);
        call_as(&s, c->without, c->method, c->path, c->body, &r);
        must_error(&r, 403, "forbidden", NULL);
        snprintf(want, sizeof(want), "lacks the scope %s", c->scope);
        ck_assert_msg(strstr(r.body, want), "%s %s: %s", c->method, c->path, resp_describe(&r));
        snprintf(want, sizeof(want), "Bearer error=\"insufficient_scope\", scope=\"%s\"", c->scope);
        must_header(&r, "WWW-Authenticate", want);
        int st = call_as(&s, c->with, c->method, c->path, c->body, &r);
        ck_assert_msg(st == c->ok, "%s %s: %s", c->method, c->path, resp_describe(&r));
    }
    /* HEAD is GET's (no body to check). */
    resp r;
    ck_assert_int_eq(call_as(&s, NULL, "HEAD", "/v1/jobs", NULL, &r), 401);
    ck_assert_int_eq(call_as(&s, S_CALLER, "HEAD", "/v1/jobs", NULL, &r), 403);
    ck_assert_int_eq(call_as(&s, S_READER, "HEAD", "/v1/jobs", NULL, &r), 200);
    /* Two Authorization headers, one of them good: refused. */
    http_call_hdr(&s, "GET", "/v1/functions", NULL,
                  "Authorization: Bearer " S_READER "\r\nAuthorization: Bearer " S_READER "\r\n",
                  &r);
    must_401(&r, true);
    /* No token needed: liveness, readiness, OPTIONS (browsers send preflights
     * without one); nor to learn that a route or method does not exist. */
    ck_assert_int_eq(call_as(&s, NULL, "GET", "/healthz", NULL, &r), 200);
    ck_assert_int_eq(call_as(&s, S_UNKNOWN, "GET", "/readyz", NULL, &r), 200);
    ck_assert_int_eq(call_as(&s, NULL, "OPTIONS", "/v1/jobs", NULL, &r), 204);
    ck_assert_int_eq(call_as(&s, NULL, "GET", "/v1/nope", NULL, &r), 404);
    ck_assert_int_eq(call_as(&s, NULL, "PUT", "/v1/jobs", "{}", &r), 405);
}
END_TEST

/* ---- owners ---- */

/* The ids of the jobs of a list reply, as one comma-separated string. */
static const char *ids_of(resp *r, bool want_owner)
{
    static char out[1024];
    json_t *jobs = must_get(must_json(r), "jobs"), *j;
    size_t i;
    out[0] = '\0';
    json_array_foreach(jobs, i, j)
    {
        ck_assert_msg((json_object_get(j, "owner") != NULL) == want_owner, "owner shown: %s",
                      resp_describe(r));
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? "," : "",
                 must_str(j, "id"));
    }
    return out;
}

START_TEST(test_owner_isolation)
{
    server s;
    resp r, r404;
    char a_path[80], b_path[80], want[200];
    start_tokens(&s, ALL_TOKENS, ", \"workers\": 1");
    const char *a = must_submit_as(&s, S_ALICE, SLEEP_JOB, "k1");
    char a_id[40];
    snprintf(a_id, sizeof(a_id), "%s", a);
    const char *b = must_submit_as(&s, S_BOB, SLEEP_JOB, "k1");
    ck_assert_str_ne(a_id, b); /* one key, two owners: two jobs */
    snprintf(a_path, sizeof(a_path), "/v1/jobs/%s", a_id);
    snprintf(b_path, sizeof(b_path), "/v1/jobs/%s", b);
    /* The same key again: each owner its own job. */
    ck_assert_str_eq(must_submit_as(&s, S_ALICE, SLEEP_JOB, "k1"), a_id);

    /* Bob's job is no job to Alice: the same 404 as an id nobody has. */
    call_as(&s, S_ALICE, "GET", "/v1/jobs/0123456789abcdef0123456789abcdef", NULL, &r404);
    must_error(&r404, 404, "not_found", NULL);
    call_as(&s, S_ALICE, "GET", b_path, NULL, &r);
    must_error(&r, 404, "not_found", NULL);
    ck_assert_str_eq(r.body, r404.body);
    snprintf(want, sizeof(want), "%s?wait=1", b_path);
    call_as(&s, S_ALICE, "GET", want, NULL, &r);
    must_error(&r, 404, "not_found", NULL);
    call_as(&s, S_ALICE, "DELETE", b_path, NULL, &r);
    must_error(&r, 404, "not_found", NULL);
    ck_assert_str_eq(r.body, r404.body);
    ck_assert_int_eq(call_as(&s, S_BOB, "GET", b_path, NULL, &r), 200);
    ck_assert_str_ne(must_str(must_json(&r), "state"), "cancelled");
    ck_assert_ptr_null(json_object_get(must_json(&r), "owner"));

    /* Lists: one's own jobs only, every filter. */
    call_as(&s, S_ALICE, "GET", "/v1/jobs", NULL, &r);
    must_status(&r, 200);
    ck_assert_str_eq(ids_of(&r, false), a_id);
    call_as(&s, S_BOB, "GET", "/v1/jobs?fn=sleep&limit=5", NULL, &r);
    ck_assert_str_eq(ids_of(&r, false), b);
    call_as(&s, S_READER, "GET", "/v1/jobs", NULL, &r);
    ck_assert_str_eq(ids_of(&r, false), "");

    /* Admin: every owner's jobs, with "owner"; cancels anyone's. */
    call_as(&s, S_ADMIN, "GET", "/v1/jobs", NULL, &r);
    snprintf(want, sizeof(want), "%s,%s", b, a_id);
    ck_assert_str_eq(ids_of(&r, true), want);
    ck_assert_str_eq(must_str(json_array_get(must_get(must_json(&r), "jobs"), 0), "owner"), "bob");
    call_as(&s, S_ADMIN, "GET", b_path, NULL, &r);
    must_status(&r, 200);
    ck_assert_str_eq(must_str(must_json(&r), "owner"), "bob");
    /* admin without read reads nothing. */
    call_as(&s, S_ADMINONLY, "GET", b_path, NULL, &r);
    must_error(&r, 403, "forbidden", NULL);

    /* Alice cancels her own; the admin cancels Bob's. */
    int st = call_as(&s, S_ALICE, "DELETE", a_path, NULL, &r);
    ck_assert_msg(st == 200 || st == 202, "%s", resp_describe(&r));
    ck_assert_ptr_null(json_object_get(must_json(&r), "owner"));
    st = call_as(&s, S_ADMIN, "DELETE", b_path, NULL, &r);
    ck_assert_msg(st == 200 || st == 202, "%s", resp_describe(&r));
    ck_assert_str_eq(must_str(must_json(&r), "owner"), "bob");
    must_reach_state(&s, S_BOB, b, "cancelled");
    must_reach_state(&s, S_ALICE, a_id, "cancelled");
}
END_TEST

/* A connection on the worker whose pid is want (0: any), found by a fib
 * call's "worker" (up to 64 tries: the kernel spreads connections by a
 * hash); *pid is that worker. -1 if none landed there. */
static int connect_on(server *s, pid_t want, pid_t *pid)
{
    const char *req = http_request_text("POST", "/v1/fn/fib", "{\"n\": 3}",
                                        "Authorization: Bearer " S_CALLER "\r\n");
    for (int i = 0; i < 64; i++) {
        resp r;
        int fd = must_connect(s);
        must_send_str(fd, req);
        ck_assert_int_eq(must_read_response(fd, &r), 200);
        *pid = (pid_t)must_int(must_json(&r), "worker");
        if (!want || *pid == want)
            return fd;
        close(fd);
    }
    return -1;
}

/* A sync call that goes through the job queue (its worker's cpu lane is
 * busy, the other's free) is a job of its caller's token. */
START_TEST(test_call_through_queue_owned)
{
    server s;
    resp r;
    pid_t busy, again;
    start_tokens(&s, ALL_TOKENS, ", \"workers\": 2, \"cpu_threads\": 1, \"debug_functions\": true");
    int fa = connect_on(&s, 0, &busy);
    int fb = connect_on(&s, busy, &again);
    ck_assert_msg(fb >= 0, "64 connections all missed worker %d", (int)busy);
    /* A job submitted there with its lane free runs there: it holds the lane. */
    must_send_str(fa, http_request_text("POST", "/v1/jobs",
                                        "{\"fn\": \"spin\", \"args\": {\"ms\": 20000}}",
                                        "Authorization: Bearer " S_ALICE "\r\n"));
    ck_assert_int_eq(must_read_response(fa, &r), 202);
    char id[40];
    snprintf(id, sizeof(id), "%s", must_str(must_json(&r), "id"));
    must_reach_state(&s, S_ALICE, id, "running");
    char path[80];
    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    call_as(&s, S_ADMIN, "GET", path, NULL, &r);
    ck_assert_int_eq(must_int(must_json(&r), "worker"), busy);
    /* matmul n=300 is estimated at 27 ms: it goes to the other worker. */
    must_send_str(fb, http_request_text("POST", "/v1/fn/matmul", "{\"n\": 300}",
                                        "Authorization: Bearer " S_CALLER "\r\n"));
    ck_assert_int_eq(must_read_response(fb, &r), 200);
    ck_assert_int_ne(must_int(must_json(&r), "worker"), busy);
    /* Its result, read back from the store as text, is the call's. */
    ck_assert_int_eq(must_int(must_get(must_json(&r), "result"), "n"), 300);
    close(fa);
    close(fb);
    call_as(&s, S_ADMIN, "GET", "/v1/jobs?fn=matmul", NULL, &r);
    json_t *jobs = must_get(must_json(&r), "jobs");
    ck_assert_msg(json_array_size(jobs) == 1, "%s", resp_describe(&r));
    ck_assert_str_eq(must_str(json_array_get(jobs, 0), "owner"), "caller");
}
END_TEST

/* ---- limits ---- */

/* A token's max_queued: 429 queue_full for it alone, with Retry-After; its
 * known key still answers; a place freed is a place again. */
START_TEST(test_max_queued)
{
    server s;
    resp r;
    start_tokens(&s, ALL_TOKENS, ", \"workers\": 1, \"io_threads\": 1");
    /* Alice's job holds the one io thread: the others stay queued. */
    const char *busy = must_submit_as(&s, S_ALICE, SLEEP_JOB, NULL);
    char busy_id[40], q1[40];
    snprintf(busy_id, sizeof(busy_id), "%s", busy);
    must_reach_state(&s, S_ALICE, busy_id, "running");
    snprintf(q1, sizeof(q1), "%s", must_submit_as(&s, S_LIMITED, SLEEP_JOB, "q1"));
    must_submit_as(&s, S_LIMITED, SLEEP_JOB, NULL);
    int st = call_as(&s, S_LIMITED, "POST", "/v1/jobs", SLEEP_JOB, &r);
    ck_assert_msg(st == 429, "%s", resp_describe(&r));
    must_error(&r, 429, "queue_full", NULL);
    ck_assert_msg(strstr(r.body, "max_queued"), "%s", resp_describe(&r));
    ck_assert_msg(resp_header(&r, "Retry-After") && atoi(resp_header(&r, "Retry-After")) >= 1, "%s",
                  resp_describe(&r));
    /* Its own key: the job it has, not a refusal. */
    ck_assert_str_eq(must_submit_as(&s, S_LIMITED, SLEEP_JOB, "q1"), q1);
    /* Others are not limited by it. */
    must_submit_as(&s, S_BOB, SLEEP_JOB, NULL);
    /* A cancelled job frees its place. */
    char path[80];
    snprintf(path, sizeof(path), "/v1/jobs/%s", q1);
    ck_assert_int_eq(call_as(&s, S_LIMITED, "DELETE", path, NULL, &r), 200);
    must_submit_as(&s, S_LIMITED, SLEEP_JOB, NULL);
    ck_assert_int_eq(call_as(&s, S_LIMITED, "POST", "/v1/jobs", SLEEP_JOB, &r), 429);
}
END_TEST

/* A token's rps (one worker: its bucket is the token's): burst requests at
 * once, then 429 rate_limited with Retry-After; after that long, again. */
START_TEST(test_rate_limit)
{
    server s;
    resp r;
    start_tokens(&s, ALL_TOKENS, ", \"workers\": 1");
    int fd = must_connect(&s);
    const char *req =
        http_request_text("GET", "/v1/functions", NULL, "Authorization: Bearer " S_SLOW "\r\n");
    int statuses[3];
    for (int i = 0; i < 3; i++) /* one connection: well within a second */
        must_send_str(fd, req);
    for (int i = 0; i < 3; i++)
        statuses[i] = must_read_response(fd, &r);
    close(fd);
    ck_assert_int_eq(statuses[0], 200);
    ck_assert_int_eq(statuses[1], 200);
    must_error(&r, 429, "rate_limited", NULL);
    const char *ra = resp_header(&r, "Retry-After");
    ck_assert_msg(ra && atoi(ra) >= 1 && atoi(ra) <= 2, "%s", resp_describe(&r));
    /* Another token is not slowed by it. */
    ck_assert_int_eq(call_as(&s, S_READER, "GET", "/v1/functions", NULL, &r), 200);
    sleep_ms(atoi(ra) * 1000 + 100);
    ck_assert_int_eq(call_as(&s, S_SLOW, "GET", "/v1/functions", NULL, &r), 200);
}
END_TEST

/* ---- reload, logs, metrics ---- */

/* HUP with a new tokens file: a revoked token stops, a new one starts. */
START_TEST(test_reload_revokes)
{
    server s;
    resp r;
    start_tokens(&s, L_ALICE L_READER HARNESS_ADMIN_LINE, "");
    ck_assert_int_eq(call_as(&s, S_READER, "GET", "/v1/functions", NULL, &r), 200);
    ck_assert_int_eq(call_as(&s, S_NEW, "GET", "/v1/functions", NULL, &r), 401);
    pid_t old[2] = {must_worker_pid(&s, 0), must_worker_pid(&s, 1)};
    harness_write_tokens(L_ALICE L_NEW HARNESS_ADMIN_LINE);
    must_signal(&s, SIGHUP);
    must_log(&s, "reload complete", 1, RELOAD_MS);
    /* Once the old workers are gone, every connection is a new worker's. */
    must_gone(old[0], RELOAD_MS, "worker 0 of the old generation");
    must_gone(old[1], RELOAD_MS, "worker 1 of the old generation");
    for (int i = 0; i < 10; i++) {
        call_as(&s, S_READER, "GET", "/v1/functions", NULL, &r);
        must_401(&r, true);
        ck_assert_int_eq(call_as(&s, S_NEW, "GET", "/v1/functions", NULL, &r), 200);
    }
    ck_assert_int_eq(call_as(&s, S_ALICE, "GET", "/v1/jobs", NULL, &r), 200);
}
END_TEST

/* The access log's user field and /metrics name the token; no secret
 * anywhere. */
static void must_file_lacks(const char *path, const char *needle)
{
    char buf[65536];
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "open %s", path);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    ck_assert_msg(!strstr(buf, needle), "%s holds %s:\n%s", path, needle, buf);
}

START_TEST(test_log_and_metrics)
{
    server s;
    resp r;
    char path[400];
    start_tokens(&s, ALL_TOKENS, ", \"workers\": 1, \"log\": {\"access_log\": \"access.log\"}");
    ck_assert_int_eq(call_as(&s, S_READER, "GET", "/v1/functions", NULL, &r), 200);
    ck_assert_int_eq(call_as(&s, S_CALLER, "GET", "/v1/functions", NULL, &r), 403);
    ck_assert_int_eq(call_as(&s, S_UNKNOWN, "GET", "/v1/functions", NULL, &r), 401);
    snprintf(path, sizeof(path), "%s/access.log", s.dir);
    for (int64_t end = now_ms() + WAIT_MS;; sleep_ms(20)) {
        FILE *f = fopen(path, "r");
        char line[1024];
        int seen = 0;
        while (f && fgets(line, sizeof(line), f)) {
            seen += strstr(line, "127.0.0.1 - reader [") && strstr(line, "\" 200 ");
            seen += strstr(line, "127.0.0.1 - caller [") && strstr(line, "\" 403 ");
            seen += strstr(line, "127.0.0.1 - - [") && strstr(line, "\" 401 ");
        }
        if (f)
            fclose(f);
        if (seen == 3)
            break;
        ck_assert_msg(now_ms() < end, "the access log lacks the token names (%d of 3)", seen);
    }
    must_file_lacks(path, "crunchd_test-");

    call_as(&s, S_ADMIN, "GET", "/metrics", NULL, &r);
    must_status(&r, 200);
    ck_assert_msg(strstr(r.body, "crunchd_token_requests_total{token=\"reader\",code=\"2xx\"} 1\n"),
                  "%s", r.body);
    ck_assert_msg(strstr(r.body, "crunchd_token_requests_total{token=\"caller\",code=\"4xx\"} 1\n"),
                  "%s", r.body);
    ck_assert_msg(
        strstr(r.body, "crunchd_http_requests_total{route=\"functions\",code=\"401\"} 1\n"), "%s",
        r.body);
    ck_assert_msg(!strstr(r.body, "crunchd_test-"), "%s", r.body);
}
END_TEST

START_TEST(test_log_json)
{
    server s;
    resp r;
    char path[400], buf[8192];
    start_tokens(&s, ALL_TOKENS,
                 ", \"workers\": 1, \"log\": {\"access_log\": \"a.json\", \"format\": \"json\"}");
    ck_assert_int_eq(call_as(&s, S_READER, "GET", "/v1/functions", NULL, &r), 200);
    ck_assert_int_eq(call_as(&s, NULL, "GET", "/healthz", NULL, &r), 200);
    snprintf(path, sizeof(path), "%s/a.json", s.dir);
    for (int64_t end = now_ms() + WAIT_MS;; sleep_ms(20)) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        buf[n] = '\0';
        if (f)
            fclose(f);
        if (strstr(buf, "\"token\":\"reader\",\"method\":\"GET\",\"path\":\"/v1/functions\"") &&
            strstr(buf, "\"token\":null,\"method\":\"GET\",\"path\":\"/healthz\""))
            break;
        ck_assert_msg(now_ms() < end, "the JSON access log lacks the token:\n%s", buf);
    }
    must_file_lacks(path, "crunchd_test-");
}
END_TEST

static Suite *authz_suite(void)
{
    Suite *s = suite_create("integration_authz");
    TCase *tc = harness_tcase("authz");
    tcase_add_unchecked_fixture(tc, harness_tokens_setup, harness_tokens_teardown);
    tcase_add_test(tc, test_route_matrix);
    tcase_add_test(tc, test_owner_isolation);
    tcase_add_test(tc, test_call_through_queue_owned);
    tcase_add_test(tc, test_max_queued);
    tcase_add_test(tc, test_rate_limit);
    tcase_add_test(tc, test_reload_revokes);
    tcase_add_test(tc, test_log_and_metrics);
    tcase_add_test(tc, test_log_json);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run(authz_suite());
}
