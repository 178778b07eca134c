/*
 * callback_receiver.c - see callback_receiver.h.
 *
 * Thread rules: the receiver thread owns the listening socket and the client
 * sockets; the records array is shared with the test thread under cr->lock,
 * and cr->cond signals each new record.
 */
#include "callback_receiver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD 16384
#define MAX_BODY (1 << 20)
#define MAX_RECORDS 64

struct callback_receiver {
    int lfd;          /* listening socket; receiver thread only after start */
    int stop_pipe[2]; /* a byte on [1] ends the thread */
    int port;
    pthread_t thread;
    bool thread_started;
    int statuses[CALLBACK_RECEIVER_MAX_STATUSES];
    int nstatuses;
    pthread_mutex_t lock; /* guards records and n */
    pthread_cond_t cond;  /* signalled after each record */
    callback_request records[MAX_RECORDS];
    int n;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- serving one connection (receiver thread) ------------------------- */

/* Reads into p[cap] until more than have bytes, or the deadline. Returns the
 * new length, or -1 on EOF/error/timeout. */
static ssize_t read_more(int fd, char *p, size_t have, size_t cap, int64_t deadline)
{
    for (;;) {
        int left = (int)(deadline - mono_ms());
        if (left <= 0)
            return -1;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = poll(&pf, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t got = recv(fd, p + have, cap - have, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        return (ssize_t)have + got;
    }
}

static size_t content_length(const char *head)
{
    const char *p = head;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            return (size_t)strtoul(p + 15, NULL, 10);
    }
    return 0;
}

/* Reads one request into rq (heap strings). Returns 0 or -1. */
static int read_request(int fd, callback_request *rq)
{
    int64_t deadline = mono_ms() + CALLBACK_RECEIVER_IO_MS;
    char *buf = malloc(MAX_HEAD + 1);
    if (!buf)
        return -1;
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        ssize_t n = read_more(fd, buf, len, MAX_HEAD, deadline);
        if (n < 0)
            goto fail;
        len = (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end && len == MAX_HEAD)
            goto fail;
    }
    size_t head_len = (size_t)(end - buf) + 4;
    *end = '\0';
    char *sp1 = strchr(buf, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    char *eol = strstr(buf, "\r\n");
    if (!sp1 || !sp2 || !eol || sp2 > eol || (size_t)(sp1 - buf) >= sizeof(rq->method))
        goto fail;
    memcpy(rq->method, buf, (size_t)(sp1 - buf));
    rq->method[sp1 - buf] = '\0';
    rq->path = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    rq->head = strdup(eol + 2);
    size_t clen = content_length(eol);
    if (!rq->path || !rq->head || clen > MAX_BODY)
        goto fail;
    rq->body = malloc(clen + 1);
    if (!rq->body)
        goto fail;
    size_t have = len - head_len;
    if (have > clen)
        have = clen; /* a pipelined extra is ignored: we close after one */
    memcpy(rq->body, buf + head_len, have);
    while (have < clen) {
        ssize_t n = read_more(fd, rq->body, have, clen, deadline);
        if (n < 0)
            goto fail;
        have = (size_t)n;
    }
    rq->body[clen] = '\0';
    rq->body_len = clen;
    rq->at_ms = mono_ms();
    free(buf);
    return 0;
fail:
    free(buf);
    free(rq->path);
    free(rq->head);
    free(rq->body);
    memset(rq, 0, sizeof(*rq));
    return -1;
}

/* Only the receiver thread writes records and n, so it may read n unlocked. */
static void serve_one(callback_receiver *cr, int fd)
{
    callback_request rq;
    memset(&rq, 0, sizeof(rq));
    if (read_request(fd, &rq) < 0)
        return;
    int i = cr->n;
    rq.replied = i < cr->nstatuses ? cr->statuses[i] : 200;
    char reply[160];
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 %d Scripted\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                     rq.replied);
    ssize_t w = send(fd, reply, (size_t)n, MSG_NOSIGNAL);
    (void)w;
    /* Recorded only after the reply went out, so a test that saw request i
     * also knows its status was sent. */
    if (i >= MAX_RECORDS) {
        free(rq.path);
        free(rq.head);
        free(rq.body);
        return;
    }
    pthread_mutex_lock(&cr->lock);
    cr->records[i] = rq;
    cr->n++;
    pthread_cond_broadcast(&cr->cond);
    pthread_mutex_unlock(&cr->lock);
}

static void *receiver_main(void *arg)
{
    callback_receiver *cr = arg;
    for (;;) {
        struct pollfd pf[2] = {{.fd = cr->lfd, .events = POLLIN},
                               {.fd = cr->stop_pipe[0], .events = POLLIN}};
        int r = poll(pf, 2, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || pf[1].revents)
            break;
        int fd = accept4(cr->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve_one(cr, fd);
        close(fd);
    }
    return NULL;
}

/* ---- the test thread's side ------------------------------------------- */

callback_receiver *callback_receiver_start(const int *statuses, int nstatuses, char *err,
                                           size_t errlen)
{
    if (nstatuses < 0 || nstatuses > CALLBACK_RECEIVER_MAX_STATUSES) {
        set_err(err, errlen, "callback receiver: %d statuses (at most %d)", nstatuses,
                CALLBACK_RECEIVER_MAX_STATUSES);
        return NULL;
    }
    callback_receiver *cr = calloc(1, sizeof(*cr));
    if (!cr) {
        set_err(err, errlen, "callback receiver: out of memory");
        return NULL;
    }
    cr->lfd = -1;
    cr->stop_pipe[0] = cr->stop_pipe[1] = -1;
    pthread_mutex_init(&cr->lock, NULL);
    pthread_cond_init(&cr->cond, NULL);
    if (nstatuses > 0)
        memcpy(cr->statuses, statuses, (size_t)nstatuses * sizeof(int));
    cr->nstatuses = nstatuses;

    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t salen = sizeof(sa);
    cr->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cr->lfd < 0) {
        set_err(err, errlen, "callback receiver: socket() failed: %s", strerror(errno));
        goto err;
    }
    if (bind(cr->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(cr->lfd, 16) < 0 ||
        getsockname(cr->lfd, (struct sockaddr *)&sa, &salen) < 0) {
        set_err(err, errlen, "callback receiver: bind/listen on 127.0.0.1:0 failed: %s",
                strerror(errno));
        goto err;
    }
    cr->port = ntohs(sa.sin_port);
    if (pipe2(cr->stop_pipe, O_CLOEXEC) < 0) {
        set_err(err, errlen, "callback receiver: pipe2() failed: %s", strerror(errno));
        goto err;
    }
    int rc = pthread_create(&cr->thread, NULL, receiver_main, cr);
    if (rc != 0) {
        set_err(err, errlen, "callback receiver: pthread_create() failed: %s", strerror(rc));
        goto err;
    }
    cr->thread_started = true;
    return cr;
err:
    callback_receiver_free(cr);
    return NULL;
}

int callback_receiver_port(const callback_receiver *cr)
{
    return cr->port;
}

int callback_receiver_wait(callback_receiver *cr, int n, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&cr->lock);
    while (cr->n < n) {
        if (pthread_cond_timedwait(&cr->cond, &cr->lock, &until) == ETIMEDOUT)
            break;
    }
    int got = cr->n;
    pthread_mutex_unlock(&cr->lock);
    return got;
}

int callback_receiver_count(callback_receiver *cr)
{
    pthread_mutex_lock(&cr->lock);
    int n = cr->n;
    pthread_mutex_unlock(&cr->lock);
    return n;
}

const callback_request *callback_receiver_get(callback_receiver *cr, int i)
{
    pthread_mutex_lock(&cr->lock);
    const callback_request *rq = i >= 0 && i < cr->n ? &cr->records[i] : NULL;
    pthread_mutex_unlock(&cr->lock);
    return rq; /* records are written once, before n counts them */
}

const char *callback_request_header(const callback_request *rq, const char *name, char *out,
                                    size_t outlen)
{
    size_t nlen = strlen(name);
    for (const char *p = rq->head; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t llen = eol ? (size_t)(eol - p) : strlen(p);
        if (llen > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1, *e = p + llen;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            snprintf(out, outlen, "%.*s", (int)(e - v), v);
            return out;
        }
        p = eol ? eol + 2 : NULL;
    }
    return NULL;
}

void callback_receiver_free(callback_receiver *cr)
{
    if (!cr)
        return;
    if (cr->thread_started) {
        ssize_t w = write(cr->stop_pipe[1], "x", 1);
        (void)w;
        pthread_join(cr->thread, NULL);
    }
    if (cr->lfd >= 0)
        close(cr->lfd);
    for (int i = 0; i < 2; i++)
        if (cr->stop_pipe[i] >= 0)
            close(cr->stop_pipe[i]);
    for (int i = 0; i < cr->n; i++) {
        free(cr->records[i].path);
        free(cr->records[i].head);
        free(cr->records[i].body);
    }
    pthread_cond_destroy(&cr->cond);
    pthread_mutex_destroy(&cr->lock);
    free(cr);
}

/* ---- SHA-256 (FIPS 180-4) and HMAC (RFC 2104) -------------------------- */

typedef struct sha256 {
    uint32_t h[8];
    uint8_t block[64];
    size_t fill;
    uint64_t total;
} sha256;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(sha256 *s, const uint8_t *p)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, s->h, sizeof(v));
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
                      ((v[4] & v[5]) ^ (~v[4] & v[6])) + K[i] + w[i];
        uint32_t t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
                      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof(uint32_t));
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        s->h[i] += v[i];
}

static void sha256_init(sha256 *s)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof(h0));
    s->fill = 0;
    s->total = 0;
}

static void sha256_update(sha256 *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    s->total += n;
    while (n > 0) {
        size_t take = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->block + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill == 64) {
            sha256_block(s, s->block);
            s->fill = 0;
        }
    }
}

static void sha256_final(sha256 *s, uint8_t out[32])
{
    uint64_t bits = s->total * 8;
    uint8_t pad = 0x80, zero = 0, len[8];
    sha256_update(s, &pad, 1);
    while (s->fill != 56)
        sha256_update(s, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen, char out[65])
{
    uint8_t k[64] = {0}, pad[64], inner[32], mac[32];
    sha256 s;
    if (keylen > 64) {
        sha256_init(&s);
        sha256_update(&s, key, keylen);
        sha256_final(&s, k);
    } else if (keylen > 0) {
        memcpy(k, key, keylen);
    }
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_init(&s);
    sha256_update(&s, pad, 64);
    sha256_update(&s, msg, msglen);
    sha256_final(&s, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_init(&s);
    sha256_update(&s, pad, 64);
    sha256_update(&s, inner, 32);
    sha256_final(&s, mac);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}
