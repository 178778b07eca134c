/*
 * callback_receiver.h - a tiny HTTP/1.1 server for integration tests of job
 * callbacks: it listens on 127.0.0.1 with an ephemeral port, records every
 * request it gets (method, path, headers, body, arrival time) and answers
 * each with a status chosen by the test, then closes the connection.
 *
 * Invariants:
 *  - It only listens on 127.0.0.1 and never connects anywhere.
 *  - One thread (started by callback_receiver_start) accepts and serves the
 *    connections one at a time; every read has a deadline
 *    (CALLBACK_RECEIVER_IO_MS), so a stuck client never blocks the others
 *    for long nor the stop.
 *  - The records are kept until callback_receiver_free(); pointers returned
 *    by callback_receiver_get() stay valid until then (borrowed).
 *
 * Also here: HMAC-SHA256 written from FIPS 180-4 and RFC 2104, so the tests
 * check the server's X-Crunchd-Signature against an implementation that
 * shares no code with it.
 */
#ifndef CRUNCHD_CALLBACK_RECEIVER_H
#define CRUNCHD_CALLBACK_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

/* Deadline of each read from a client. */
#define CALLBACK_RECEIVER_IO_MS 5000
/* Most statuses a test can script. */
#define CALLBACK_RECEIVER_MAX_STATUSES 16

typedef struct callback_receiver callback_receiver;

/* One request as received. */
typedef struct callback_request {
    char method[16];
    char *path; /* request target, e.g. "/hook?x=1" */
    char *head; /* the header lines after the request line, CRLF-separated */
    char *body; /* body_len bytes, NUL-terminated */
    size_t body_len;
    int64_t at_ms; /* CLOCK_MONOTONIC ms when the request was complete */
    int replied;   /* status sent back */
} callback_request;

/*
 * Starts a receiver. The i-th request (from 0) is answered with statuses[i]
 * for i < nstatuses, and with 200 after that (statuses may be NULL when
 * nstatuses is 0). Returns a new receiver, or NULL with a reason in err.
 */
callback_receiver *callback_receiver_start(const int *statuses, int nstatuses, char *err,
                                           size_t errlen);

/* The port it listens on (127.0.0.1). */
int callback_receiver_port(const callback_receiver *cr);

/* Waits up to timeout_ms until at least n requests were received. Returns
 * the number received (may be more or less than n). */
int callback_receiver_wait(callback_receiver *cr, int n, int timeout_ms);

/* The number of requests received so far. */
int callback_receiver_count(callback_receiver *cr);

/* Request i (from 0), or NULL if there is none (yet). Borrowed. */
const callback_request *callback_receiver_get(callback_receiver *cr, int i);

/* Value of the first header called name (case-insensitive), trimmed, copied
 * into out[outlen]; returns out, or NULL if absent. */
const char *callback_request_header(const callback_request *rq, const char *name, char *out,
                                    size_t outlen);

/* Stops the thread, closes the socket and frees everything. NULL is fine. */
void callback_receiver_free(callback_receiver *cr);

/* out = lowercase hex of HMAC-SHA256(key, msg): 64 digits and a NUL. */
void hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen, char out[65]);

#endif
