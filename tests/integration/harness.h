/*
 * harness.h - integration-test harness: starts the real crunchd binary on
 * 127.0.0.1 with an ephemeral port and talks raw HTTP/1.1 to it.
 *
 * Invariants:
 *  - Every helper named must_* fails the current test (ck_abort_msg) with a
 *    message that says what was expected and what came back; the others
 *    return an error value for the test to judge.
 *  - Every wait is bounded: sockets from must_connect() carry a receive and a
 *    send timeout (HARNESS_IO_TIMEOUT_MS), polls have deadlines, and the
 *    server is stopped (TERM, then KILL) by the fixture teardown. The server
 *    is started with PR_SET_PDEATHSIG=SIGKILL, so a test process that dies
 *    (a Check timeout) takes its server with it.
 *  - Only processes the harness started are signalled: the master pid it
 *    forked, and worker pids the test reads from /v1/workers.
 *  - Memory handed out in a resp (head, body, parsed JSON) and by
 *    must_workers() is owned by the harness and stays valid until the end of
 *    the test; harness_teardown() frees it. Tests never free it.
 *
 * Works in both Check modes: CK_FORK=yes (every test in its own process)
 * and CK_FORK=no (the valgrind setup). Cleanup happens in the
 * checked-fixture teardown; a forked test that fails or times out never
 * reaches it, so a small watcher process per server then prints the
 * server's log and removes its temp dir (see harness.c).
 *
 * Environment: CRUNCHD_BIN is the binary to run (required).
 */
#ifndef CRUNCHD_HARNESS_H
#define CRUNCHD_HARNESS_H

#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Receive/send timeout of every test socket: no read can hang a test. */
#define HARNESS_IO_TIMEOUT_MS 5000
/* Check timeout of every test case made by harness_tcase(). */
#define HARNESS_TEST_TIMEOUT_S 60

/* One crunchd master started by must_start(). Embed it (on the stack is
 * fine): the harness keeps its own record of the process for cleanup. */
typedef struct server {
    pid_t pid;          /* the master; -1 once it has been reaped */
    int port;           /* parsed from "listening on 127.0.0.1:PORT" */
    int nworkers;       /* "workers" of the merged config */
    int id;             /* harness-internal record */
    char dir[256];      /* temp dir: crunchd.json, crunchd.log, data/, crunchd.db */
    char data_dir[300]; /* dir/data, created empty */
} server;

/* One HTTP response as read off the wire. Harness-owned memory (see above). */
typedef struct resp {
    int status; /* e.g. 200; 0 when nothing was read */
    int minor;  /* HTTP/1.x of the status line */
    char *head; /* status line and header lines, NUL-terminated */
    size_t head_len;
    char *body; /* body_len bytes, NUL-terminated */
    size_t body_len;
    json_t *json; /* cache of must_json() */
} resp;

/* Flags of read_response(). */
#define RESP_NO_BODY 1u /* a reply to HEAD: Content-Length says nothing is sent */

/*
 * Tokens. A server with a tokens file (auth.tokens_file) answers
 * /v1/workers to admin tokens only; the harness's own calls (must_start,
 * must_workers, must_wait_workers_running, ...) always send this admin
 * token, so a test that writes a tokens file includes HARNESS_ADMIN_LINE
 * in it (the token is named "harness"). Without tokens the header is
 * ignored. HARNESS_ADMIN_HASH is printf %s SECRET | sha256sum.
 */
#define HARNESS_ADMIN_SECRET "crunchd_harness-admin-secret"
#define HARNESS_ADMIN_HASH "c1cc84780b75a1d168464a75c38749a29cbb20a7a950aedcea91c99227b8745d"
#define HARNESS_ADMIN_LINE "harness admin,read " HARNESS_ADMIN_HASH "\n"
#define HARNESS_ADMIN_AUTH "Authorization: Bearer " HARNESS_ADMIN_SECRET "\r\n"

/* A directory for tokens files, which must exist before a server's own
 * directory does and outlive each forked test: add harness_tokens_setup
 * and harness_tokens_teardown as the TCase's unchecked fixture. */
void harness_tokens_setup(void);
void harness_tokens_teardown(void);

/* The directory ("" when mkdtemp() failed in the fixture). */
const char *harness_tokens_dir(void);

/* Writes text to DIR/tokens, or fails the test; returns the path (static). */
const char *harness_write_tokens(const char *text);

/* ---- test cases --------------------------------------------------------- */

/* A TCase with HARNESS_TEST_TIMEOUT_S and the harness teardown as checked
 * fixture. Use this for every integration TCase. */
TCase *harness_tcase(const char *name);

/* Stops every server still running, prints its log if the test failed,
 * removes its temp dir and frees all harness memory of the test. */
void harness_teardown(void);

/* Runs suite s with CK_ENV output; returns the process exit status. */
int harness_run(Suite *s);

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t now_ms(void);

/* Sleeps ms milliseconds. */
void sleep_ms(int ms);

/* ---- the server --------------------------------------------------------- */

/*
 * Writes DIR/crunchd.json: the base
 *   {"listen": ["127.0.0.1:0"], "workers": 2, "data_dir": DIR/data,
 *    "store": {"kind": "sqlite", "path": DIR/crunchd.db},
 *    "shutdown_timeout_s": 5}
 * merged (json_object_update_recursive) with overrides (JSON object text, or
 * NULL), starts `CRUNCHD_BIN -c DIR/crunchd.json` with stdout and stderr to
 * DIR/crunchd.log, and waits up to 10 s for the port in the log and for every
 * worker to be "running" in /v1/workers.
 */
void must_start(server *s, const char *overrides);

/* Stops the server if it still runs: SIGTERM to the master, up to 5 s, then
 * SIGKILL. Prints the log if the master had to be killed or exited non-zero;
 * removes the temp dir. Safe to call twice. */
void server_stop(server *s);

/* Sends sig to the master (only). */
void must_signal(server *s, int sig);

/*
 * Waits up to timeout_ms for the master to exit and reaps it. Returns its
 * wait status, or -1 if it is still running at the deadline.
 */
int server_wait_exit(server *s, int timeout_ms);

/*
 * Runs CRUNCHD_BIN [-t] -c conf to its end (not a server to talk to: a
 * check, or a start-up that must fail), with cwd dir, stdout and stderr to
 * dir/out and extra environment env (NAME=value, or NULL). With act_fd >= 0
 * the child gets it as fd 3 and LISTEN_PID/LISTEN_FDS=1, as systemd passes
 * a socket. Fails the test if it still runs after timeout_ms. Returns the
 * exit code (-1 when a signal ended it); *out (may be NULL) gets the output
 * (harness-owned, valid until the next call).
 */
int crunchd_run_once(const char *dir, bool test, const char *conf, const char *env, int act_fd,
                     int timeout_ms, const char **out);

/* Prints the last bytes of DIR/crunchd.log to stderr. */
void server_print_log(const server *s);

/* Occurrences of needle in DIR/crunchd.log. */
int server_log_count(const server *s, const char *needle);

/* Waits up to timeout_ms until DIR/crunchd.log holds needle count times;
 * fails, printing the log, if it does not. */
void must_log(server *s, const char *needle, int count, int timeout_ms);

/* Merges overrides (JSON object text, json_object_update_recursive: arrays
 * are replaced) into DIR/crunchd.json, for a reload; follows "workers". */
void must_rewrite_config(server *s, const char *overrides);

/* Writes content to DIR/data/rel (parent directories created). */
void must_write_data_file(server *s, const char *rel, const char *content);

/* Writes content to path (created or truncated). */
void must_write_file(const char *path, const char *content);


/* ---- sockets and HTTP ---------------------------------------------------- */

/* A connected TCP socket to the server with the harness timeouts. */
int must_connect(server *s);

/* Same, but returns -1 (errno set) instead of failing: for "refused". */
int try_connect(server *s);

/* Sends all n bytes (MSG_NOSIGNAL) or fails the test. */
void must_send(int fd, const void *p, size_t n);
#define must_send_str(fd, str) must_send((fd), (str), strlen(str))

/* Sends all n bytes; returns 0, or -1 with errno set (peer gone, timeout). */
int try_send(int fd, const void *p, size_t n);

/* Sets the receive timeout of fd. */
void set_recv_timeout(int fd, int ms);

/*
 * Reads one full response: status line, headers, then the body by
 * Content-Length (or chunked, or until EOF when neither is given; none for
 * 1xx/204/304 or RESP_NO_BODY). Reads nothing past the response, so
 * pipelined replies can be read one by one.
 * Returns the status code; 0 if the peer closed (EOF or reset) before the
 * first byte; -1 on a timeout, a truncated or a malformed response, with a
 * description in err (if not NULL).
 */
int read_response(int fd, resp *r, unsigned flags, char *err, size_t errlen);

/* read_response() that fails the test on -1. Returns the status or 0. */
int must_read_response(int fd, resp *r);
int must_read_response_flags(int fd, resp *r, unsigned flags);

/*
 * Waits up to timeout_ms for the peer to close fd. Returns 1 if it closed
 * (EOF or reset), 0 if it is still open at the deadline, -1 if data came
 * instead (the data is consumed).
 */
int wait_closed(int fd, int timeout_ms);

/* Fails unless the peer closes fd within timeout_ms. */
void must_be_closed(int fd, int timeout_ms, const char *what);

/*
 * Formats a request: "METHOD PATH HTTP/1.1", Host, then (if body is not
 * NULL) Content-Type: application/json and Content-Length, then extra
 * (header lines each ending in CRLF, or NULL), the blank line and the body.
 * Returns harness-owned text.
 */
char *http_request_text(const char *method, const char *path, const char *body, const char *extra);

/*
 * One-shot: connects, sends the request with "Connection: close", reads one
 * response (with RESP_NO_BODY for HEAD), closes. Fails the test if no
 * response comes back. Returns the status.
 */
int http_call(server *s, const char *method, const char *path, const char *body, resp *r);

/* Same, with extra header lines (each ending in CRLF, may be NULL). */
int http_call_hdr(server *s, const char *method, const char *path, const char *body,
                  const char *extra, resp *r);

/* As http_call(), but a request that gets no reply (refused, closed, timed
 * out) returns 0 instead of failing: for requests that may reach a worker
 * that is dying. */
int http_call_lossy(server *s, const char *method, const char *path, const char *body, resp *r);

/* One-shot with raw bytes: connect, send, read one response, close.
 * Returns read_response()'s value; fails the test on -1. */
int http_call_raw(server *s, const void *raw, size_t n, resp *r);

/* ---- checking responses -------------------------------------------------- */

/* The body parsed as JSON, or the test fails. Borrowed: owned by r's harness
 * memory (valid until the end of the test). */
json_t *must_json(resp *r);

/* The value of the first header called name (case-insensitive), trimmed, as
 * harness-owned text; NULL if absent. */
const char *resp_header(const resp *r, const char *name);

/* How many header lines are called name. */
int resp_header_count(const resp *r, const char *name);

/* Fails, showing the response, unless r->status == code. */
void must_status(const resp *r, int code);

/*
 * Fails unless r is status with the error envelope
 * {"error": {"code": code, "message": <non-empty string>[, "arg": arg]}} and
 * Content-Type application/json. arg NULL: "arg" is not checked.
 */
void must_error(resp *r, int status, const char *code, const char *arg);

/* Fails unless the header is present with exactly this value
 * (case-insensitive), or, for value NULL, is absent. */
void must_header(const resp *r, const char *name, const char *value);

/* Fails unless Content-Type is application/json (parameters allowed). */
void must_json_type(const resp *r);

/* Fails unless the JSON member is an integer; returns it. */
json_int_t must_int(json_t *obj, const char *key);

/* Fails unless the member is a string; returns it (borrowed). */
const char *must_str(json_t *obj, const char *key);

/* POST /v1/jobs with body (no wait); fails unless 202; returns the id
 * (harness-owned). */
const char *must_submit_job(server *s, const char *body);

/* Fails unless the member exists; returns it (borrowed). */
json_t *must_get(json_t *obj, const char *key);

/* Describes a response for a failure message (harness-owned text). */
const char *resp_describe(const resp *r);

/* ---- functions and workers ------------------------------------------------ */

/* POST /v1/fn/NAME with args_json (NULL: empty body) over a fresh
 * connection; fails unless 200 with "result", "fn" == name, "run_ms",
 * "cpu_ms" and "worker"; returns "result" (borrowed from r). */
json_t *must_call_fn(server *s, const char *name, const char *args_json, resp *r);

/* GET /v1/workers (with HARNESS_ADMIN_AUTH); fails unless 200 with a
 * "workers" array of nworkers objects; returns the array (borrowed,
 * harness-owned). */
json_t *must_workers(server *s);

/* Worker object of slot `slot` (borrowed from the last must_workers()). */
json_t *must_worker_slot(server *s, int slot);

/* The path of a plugin built by meson, by its name without "lib" and ".so":
 * "tp*" from tests/plugins/ (CRUNCHD_TEST_PLUGINS), the others from
 * examples/plugins/ (CRUNCHD_EXAMPLE_PLUGINS). Harness-owned text. */
const char *plugin_path(const char *name);

/* Pid of the worker in slot. */
pid_t must_worker_pid(server *s, int slot);

/* Polls /v1/workers until slot has a pid other than old_pid in state
 * "running", up to timeout_ms; returns that slot object (borrowed). */
json_t *must_wait_respawn(server *s, int slot, pid_t old_pid, int timeout_ms);

/* Polls until every worker is "running", up to timeout_ms. */
void must_wait_workers_running(server *s, int timeout_ms);

/* True while pid exists and is not a zombie. */
bool pid_alive(pid_t pid);

/* Polls until pid is gone, up to timeout_ms; what names it in the failure. */
void must_gone(pid_t pid, int timeout_ms, const char *what);

/* ---- failure locations ---------------------------------------------------
 * The must_* helpers are wrapped so a failure names the test's file and line,
 * not the harness's. */
void harness_at(const char *file, int line);

#ifndef HARNESS_INTERNAL
#define HARNESS_AT_(call) (harness_at(__FILE__, __LINE__), (call))
#define must_start(...) HARNESS_AT_((must_start)(__VA_ARGS__))
#define must_signal(...) HARNESS_AT_((must_signal)(__VA_ARGS__))
#define must_write_data_file(...) HARNESS_AT_((must_write_data_file)(__VA_ARGS__))
#define must_write_file(...) HARNESS_AT_((must_write_file)(__VA_ARGS__))
#define harness_write_tokens(...) HARNESS_AT_((harness_write_tokens)(__VA_ARGS__))
#define must_rewrite_config(...) HARNESS_AT_((must_rewrite_config)(__VA_ARGS__))
#define must_log(...) HARNESS_AT_((must_log)(__VA_ARGS__))
#define must_connect(...) HARNESS_AT_((must_connect)(__VA_ARGS__))
#define must_send(...) HARNESS_AT_((must_send)(__VA_ARGS__))
#define must_read_response(...) HARNESS_AT_((must_read_response)(__VA_ARGS__))
#define must_read_response_flags(...) HARNESS_AT_((must_read_response_flags)(__VA_ARGS__))
#define must_be_closed(...) HARNESS_AT_((must_be_closed)(__VA_ARGS__))
#define http_call(...) HARNESS_AT_((http_call)(__VA_ARGS__))
#define http_call_hdr(...) HARNESS_AT_((http_call_hdr)(__VA_ARGS__))
#define http_call_raw(...) HARNESS_AT_((http_call_raw)(__VA_ARGS__))
#define must_json(...) HARNESS_AT_((must_json)(__VA_ARGS__))
#define must_status(...) HARNESS_AT_((must_status)(__VA_ARGS__))
#define must_error(...) HARNESS_AT_((must_error)(__VA_ARGS__))
#define must_header(...) HARNESS_AT_((must_header)(__VA_ARGS__))
#define must_json_type(...) HARNESS_AT_((must_json_type)(__VA_ARGS__))
#define must_int(...) HARNESS_AT_((must_int)(__VA_ARGS__))
#define must_str(...) HARNESS_AT_((must_str)(__VA_ARGS__))
#define must_submit_job(...) HARNESS_AT_((must_submit_job)(__VA_ARGS__))
#define must_get(...) HARNESS_AT_((must_get)(__VA_ARGS__))
#define must_call_fn(...) HARNESS_AT_((must_call_fn)(__VA_ARGS__))
#define must_workers(...) HARNESS_AT_((must_workers)(__VA_ARGS__))
#define must_worker_slot(...) HARNESS_AT_((must_worker_slot)(__VA_ARGS__))
#define must_worker_pid(...) HARNESS_AT_((must_worker_pid)(__VA_ARGS__))
#define must_wait_respawn(...) HARNESS_AT_((must_wait_respawn)(__VA_ARGS__))
#define must_gone(...) HARNESS_AT_((must_gone)(__VA_ARGS__))
#define must_wait_workers_running(...) HARNESS_AT_((must_wait_workers_running)(__VA_ARGS__))
#endif

#endif
