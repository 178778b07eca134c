/*
 * callback.h - delivery of job callbacks (DESIGN.md section 4).
 *
 * When a job with a "callback" URL becomes final, its job object (JSON text)
 * is POSTed to that URL, with retries and back-off. Every attempt carries
 *     X-Crunchd-Timestamp: <unix seconds when the attempt started>
 * and, with callbacks.secret set,
 *     X-Crunchd-Signature: sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 * so the receiver can check the body came from us and is recent: a captured
 * request replayed later carries an old timestamp, and changing the timestamp
 * breaks the signature. Each attempt is signed afresh (a retry has a new
 * timestamp). README.md says how a receiver verifies it.
 *
 * Only host:port pairs listed in callbacks.allow may be called
 * (callback_allow.h), so the server cannot be used to reach other services.
 * Callers check at submission (callback_check) and callback_post checks
 * again before it connects.
 *
 * Only http:// is supported: there is no TLS client; https:// URLs are
 * rejected with a message saying so.
 *
 * Nothing here logs: errors are -1 with one line in the caller's err buffer
 * (err may be NULL; the text is truncated to errlen). Every function is
 * thread-safe; callback_post blocks and must run on a pool thread, never on
 * the loop thread (worker/callback_deliver.c runs it on its own threads).
 */
#ifndef CRUNCHD_CALLBACK_H
#define CRUNCHD_CALLBACK_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

/* Wire names of the request headers the receiver sees. */
#define CALLBACK_HDR_SIGNATURE "X-Crunchd-Signature"
#define CALLBACK_HDR_TIMESTAMP "X-Crunchd-Timestamp"
#define CALLBACK_HDR_JOB "X-Crunchd-Job"
#define CALLBACK_SIG_PREFIX "sha256="

#define CALLBACK_URL_MAX 2048 /* bytes, without the NUL */
#define CALLBACK_SIG_SIZE 72  /* "sha256=" + 64 hex digits + NUL */
#define CALLBACK_JOB_ID_MAX 128
#define CALLBACK_BACKOFF_BASE_MS 500
#define CALLBACK_BACKOFF_CAP_MS 30000

/*
 * A parsed http:// URL, a plain value. host is without brackets and without
 * the port ("::1", "example.org"), as getaddrinfo() wants it; hostport is the
 * Host header value ("[::1]:8080"; the port is left out when it is 80); path
 * is the request target: the path and query, "/" when the URL has none.
 */
typedef struct callback_url {
    char host[256];
    int port; /* 1 .. 65535; 80 when the URL has none */
    char path[CALLBACK_URL_MAX + 1];
    char hostport[300];
} callback_url;

/*
 * Parses "http://host[:port][/path][?query]" where host is a name (RFC 1123
 * labels), a dotted-quad IPv4 address or a bracketed IPv6 address without a
 * zone. The scheme is case-insensitive. Rejected: other schemes (https with
 * its own message), userinfo, a fragment, an empty host, a bad or empty port,
 * a port of 0, IPv4 spellings other than the dotted quad ("127.1",
 * "0x7f.0.0.1"), bytes that must be percent-encoded (controls, space,
 * non-ASCII) and URLs longer than CALLBACK_URL_MAX. Returns 0, or -1 with a
 * message starting "callback: "; *out is written only on success.
 */
int callback_parse(const char *url, callback_url *out, char *err, size_t errlen);

/*
 * Returns 0 if url parses and callbacks.allow lets it reach its host:port
 * (allow[0 .. n_allow), config's list, borrowed), else -1 with the parse
 * error, 'callback: callbacks.allow is empty, so this server sends no
 * callbacks', or 'callback: callbacks.allow does not list 10.0.0.1:80'.
 * Entries that do not parse (callback_allow_parse) match nothing.
 */
int callback_check(const char *url, const char allow[][CONFIG_STR], int n_allow, char *err,
                   size_t errlen);

/*
 * Writes the signature header value "sha256=<64 lowercase hex>" of
 * HMAC-SHA256(secret, "<timestamp>.<body[0 .. len)>") into out, or "" when
 * secret is NULL or empty. timestamp is in decimal without padding, as in the
 * X-Crunchd-Timestamp header. outlen should be at least CALLBACK_SIG_SIZE; a
 * smaller buffer gets "" (never a truncated signature).
 */
void callback_sign(const char *secret, int64_t timestamp, const char *body, size_t len, char *out,
                   size_t outlen);

/* What one attempt sends; every pointer is borrowed for the call. */
typedef struct callback_msg {
    const char *body;   /* len bytes (may be NULL when len is 0) */
    size_t len;
    const char *secret; /* NULL or "": no X-Crunchd-Signature */
    const char *job_id; /* NULL or "": no X-Crunchd-Job */
} callback_msg;

/*
 * One delivery attempt, BLOCKING: re-checks u's host:port against allow,
 * resolves the host, connects to each address in getaddrinfo() order until
 * one accepts, then sends
 *     POST <path> HTTP/1.1, Host, Content-Type: application/json,
 *     Content-Length, User-Agent: crunchd, Connection: close,
 *     X-Crunchd-Timestamp: <now>, [X-Crunchd-Signature: <callback_sign of now>],
 *     [X-Crunchd-Job: <job_id>]
 * and the body, and reads the response's status line (interim 1xx responses
 * other than 101 are skipped). The rest of the response is not read. job_id
 * must be printable ASCII without spaces, at most CALLBACK_JOB_ID_MAX bytes,
 * else -1.
 *
 * timeout_ms (> 0) bounds connecting, sending and reading together. Name
 * resolution is NOT bounded by it (getaddrinfo() has no timeout): use IP
 * literals or /etc/hosts names in callbacks.allow when that matters.
 *
 * Returns the HTTP status (100 .. 599; 2xx means delivered), or -1 with err
 * set when the host:port is not allowed, nothing accepted the connection, the
 * time ran out, or the reply was not HTTP. Never raises SIGPIPE.
 */
int callback_post(const callback_url *u, const char allow[][CONFIG_STR], int n_allow,
                  const callback_msg *m, int timeout_ms, char *err, size_t errlen);

/*
 * The delay before retry number attempt (1 = the first retry): a base of
 * 500 ms doubling per attempt (500, 1000, 2000, 4000, ...) capped at 30 s,
 * then a uniform jitter of +-20% of that base, so the result is within
 * [0.8 * base, 1.2 * base] and never above 36 s. attempt < 1 counts as 1.
 */
int64_t callback_backoff_ms(int attempt);

#endif
