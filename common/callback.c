/*
 * callback.c - job callbacks: URL parsing, the allow list, the HMAC signature
 * and one blocking HTTP/1.1 POST (see callback.h for the contracts).
 */
#include "callback.h"
#include "hostname.h"
#include "callback_allow.h"
#include "errbuf.h"

#include "wire.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT 80
#define HOST_NAME_MAX_LEN 253
#define HEAD_MAX (CALLBACK_URL_MAX + 1024)
#define RESP_MAX 4096
#define SHA256_LEN 32

_Static_assert(sizeof(((callback_url *)0)->hostport) >= HOST_NAME_MAX_LEN + sizeof("[]:65535"),
               "hostport too small");
_Static_assert(CALLBACK_SIG_SIZE == sizeof(CALLBACK_SIG_PREFIX) + 2 * SHA256_LEN, "signature size");


/* ---- host syntax ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- URL parsing ---- */

/* Checks the scheme and returns the offset of the authority, or -1. */
static int parse_scheme(const char *url, char *err, size_t errlen)
{
    if (strncasecmp(url, "http://", 7) == 0)
        return 7;
    if (strncasecmp(url, "https://", 8) == 0)
        return errbuf_fail(err, errlen,
                    "callback: https:// is not supported (crunchd has no TLS client); use http://");
    return errbuf_fail(err, errlen, "callback: only http:// URLs are supported");
}

/* Port text of len bytes: one to five digits, 1 .. 65535. */
static int parse_port(const char *s, size_t len, int *port, char *err, size_t errlen)
{
    int v = 0;
    bool ok = len >= 1 && len <= 5;
    for (size_t i = 0; ok && i < len; i++) {
        ok = is_digit(s[i]);
        v = v * 10 + (s[i] - '0');
    }
    if (!ok || v < 1 || v > 65535)
        return errbuf_fail(err, errlen, "callback: bad port \"%.*s\" (expected 1 to 65535)", (int)len, s);
    *port = v;
    return 0;
}

/* Validates host text (len bytes, brackets already stripped when ipv6). */
static int parse_host(const char *s, size_t len, bool ipv6, char *err, size_t errlen)
{
    char buf[INET6_ADDRSTRLEN];
    struct in6_addr a6;
    struct in_addr a4;
    if (len == 0)
        return errbuf_fail(err, errlen, "callback: URL has an empty host");
    if (ipv6) {
        if (len >= sizeof(buf))
            return errbuf_fail(err, errlen, "callback: bad IPv6 address \"[%.*s]\"", (int)len, s);
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (inet_pton(AF_INET6, buf, &a6) != 1)
            return errbuf_fail(err, errlen, "callback: bad IPv6 address \"[%s]\"", buf);
        return 0;
    }
    if (len < sizeof(buf)) {
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (inet_pton(AF_INET, buf, &a4) == 1)
            return 0;
        /* getaddrinfo() would take "127.1" or "0x7f.0.0.1" as an address:
         * accept one spelling only, so the allow list cannot be sidestepped. */
        if (inet_aton(buf, &a4) != 0)
            return errbuf_fail(err, errlen, "callback: host \"%s\" is not a dotted-quad IPv4 address",
                        buf);
    }
    if (!hostname_valid(s, len))
        return errbuf_fail(err, errlen, "callback: bad host \"%.*s\"", (int)len, s);
    return 0;
}

/* Checks that every byte is visible ASCII and there is no fragment. */
static int check_bytes(const char *url, size_t len, char *err, size_t errlen)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f)
            return errbuf_fail(err, errlen,
                        "callback: URL has a control, space or non-ASCII byte at offset %zu "
                        "(percent-encode it)",
                        i);
    }
    if (memchr(url, '#', len))
        return errbuf_fail(err, errlen, "callback: URL must not have a fragment ('#')");
    return 0;
}

/* Splits the authority auth[0 .. len) into host and port and fills *u. */
static int parse_authority(const char *auth, size_t len, callback_url *u, char *err, size_t errlen)
{
    const char *end = auth + len, *host = auth, *colon;
    size_t hlen;
    bool ipv6 = len > 0 && auth[0] == '[';
    if (memchr(auth, '@', len))
        return errbuf_fail(err, errlen, "callback: URL must not contain userinfo ('user@')");
    if (ipv6) {
        const char *close = memchr(auth, ']', len);
        if (!close)
            return errbuf_fail(err, errlen, "callback: missing ']' after IPv6 address");
        colon = close + 1 < end ? close + 1 : NULL;
        if (colon && *colon != ':')
            return errbuf_fail(err, errlen, "callback: unexpected text after ']'");
        host = auth + 1;
        hlen = (size_t)(close - host);
    } else {
        colon = memchr(auth, ':', len);
        hlen = colon ? (size_t)(colon - auth) : len;
    }
    if (parse_host(host, hlen, ipv6, err, errlen) < 0)
        return -1;
    u->port = DEFAULT_PORT;
    if (colon && parse_port(colon + 1, (size_t)(end - colon - 1), &u->port, err, errlen) < 0)
        return -1;
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    if (u->port == DEFAULT_PORT)
        snprintf(u->hostport, sizeof(u->hostport), ipv6 ? "[%s]" : "%s", u->host);
    else
        snprintf(u->hostport, sizeof(u->hostport), ipv6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
    return 0;
}

int callback_parse(const char *url, callback_url *out, char *err, size_t errlen)
{
    callback_url u;
    const char *auth, *rest;
    size_t len;
    int off;
    if (!url)
        return errbuf_fail(err, errlen, "callback: no URL");
    len = strlen(url);
    if (len > CALLBACK_URL_MAX)
        return errbuf_fail(err, errlen, "callback: URL longer than %d bytes", CALLBACK_URL_MAX);
    if (check_bytes(url, len, err, errlen) < 0 || (off = parse_scheme(url, err, errlen)) < 0)
        return -1;
    auth = url + off;
    rest = auth + strcspn(auth, "/?");
    if (parse_authority(auth, (size_t)(rest - auth), &u, err, errlen) < 0)
        return -1;
    snprintf(u.path, sizeof(u.path), "%s%s", *rest == '/' ? "" : "/", rest);
    *out = u;
    return 0;
}

/* Returns 0 if an entry of allow lets u's host:port through, else -1 with err. */
static int allow_check(const callback_url *u, const char allow[][CONFIG_STR], int n_allow,
                       char *err, size_t errlen)
{
    callback_allow_entry e;
    if (n_allow <= 0)
        return errbuf_fail(err, errlen,
                           "callback: callbacks.allow is empty, so this server sends no callbacks");
    for (int i = 0; i < n_allow; i++)
        if (!callback_allow_parse(allow[i], &e) && callback_allow_match(&e, u->host, u->port))
            return 0;
    return errbuf_fail(err, errlen,
                       strchr(u->host, ':') ? "callback: callbacks.allow does not list [%s]:%d"
                                            : "callback: callbacks.allow does not list %s:%d",
                       u->host, u->port);
}

int callback_check(const char *url, const char allow[][CONFIG_STR], int n_allow, char *err,
                   size_t errlen)
{
    callback_url u;
    if (callback_parse(url, &u, err, errlen) < 0)
        return -1;
    return allow_check(&u, allow, n_allow, err, errlen);
}

/* ---- signature ---- */

/* HMAC-SHA256 of the n pieces under key into mac[SHA256_LEN]. Returns false on failure. */
static bool hmac_sha256(const char *key, const struct iovec *piece, int n, unsigned char *mac)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
    size_t maclen = 0;
    bool ok = ctx && EVP_MAC_init(ctx, (const unsigned char *)key, strlen(key), params);
    for (int i = 0; ok && i < n; i++)
        ok = EVP_MAC_update(ctx, piece[i].iov_base, piece[i].iov_len);
    ok = ok && EVP_MAC_final(ctx, mac, &maclen, SHA256_LEN) && maclen == SHA256_LEN;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(alg);
    return ok;
}

void callback_sign(const char *secret, int64_t timestamp, const char *body, size_t len, char *out,
                   size_t outlen)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[SHA256_LEN];
    char ts[24];
    size_t pre = strlen(CALLBACK_SIG_PREFIX);
    if (outlen == 0)
        return;
    out[0] = '\0';
    if (!secret || !secret[0] || outlen < CALLBACK_SIG_SIZE)
        return;
    int tslen = snprintf(ts, sizeof(ts), "%" PRId64 ".", timestamp);
    struct iovec piece[2] = {{.iov_base = ts, .iov_len = (size_t)tslen},
                             {.iov_base = (void *)(body ? body : ""), .iov_len = len}};
    if (!hmac_sha256(secret, piece, 2, mac))
        return;
    memcpy(out, CALLBACK_SIG_PREFIX, pre);
    for (size_t i = 0; i < SHA256_LEN; i++) {
        out[pre + 2 * i] = digits[mac[i] >> 4];
        out[pre + 2 * i + 1] = digits[mac[i] & 15];
    }
    out[pre + 2 * SHA256_LEN] = '\0';
}

/* ---- one delivery ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline. Returns 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int64_t left = deadline - now_ms();
        int rc;
        if (left <= 0)
            return 0;
        rc = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
        if (rc >= 0 || errno != EINTR)
            return rc > 0 ? 1 : rc;
    }
}

/* A header value we put on the wire: visible ASCII only, so it cannot
 * smuggle a CR/LF into the request. */
static bool token_ok(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f || n >= max)
            return false;
    return true;
}

static void addr_text(const struct addrinfo *ai, char *out, size_t outlen)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(out, outlen, "?");
    else
        snprintf(out, outlen, ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

/* Non-blocking connect to one address. Returns the socket or -1 with err. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, char *err, size_t errlen)
{
    char where[NI_MAXHOST + NI_MAXSERV + 4];
    int fd, rc, soerr = 0;
    socklen_t sl = sizeof(soerr);
    addr_text(ai, where, sizeof(where));
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return errbuf_fail(err, errlen, "callback: socket() for %s failed: %s", where, strerror(errno));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        soerr = errno;
        goto err;
    }
    rc = wait_fd(fd, POLLOUT, deadline);
    if (rc == 0) {
        errbuf_fail(err, errlen, "callback: connect() to %s timed out", where);
        close(fd);
        return -1;
    }
    if (rc < 0)
        soerr = errno;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        soerr = errno;
    if (soerr == 0)
        return fd;
err:
    errbuf_fail(err, errlen, "callback: connect() to %s failed: %s", where, strerror(soerr));
    close(fd);
    return -1;
}

/* Tries each address in order; returns a connected socket or -1 with the
 * last address's error in err. */
static int connect_any(const callback_url *u, int64_t deadline, char *err, size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    int fd = -1, rc;
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET6, u->host, &a6) == 1 || inet_pton(AF_INET, u->host, &a4) == 1)
        hints.ai_flags |= AI_NUMERICHOST;
    snprintf(port, sizeof(port), "%d", u->port);
    rc = getaddrinfo(u->host, port, &hints, &res);
    if (rc != 0)
        return errbuf_fail(err, errlen, "callback: getaddrinfo(\"%s\") failed: %s", u->host,
                    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        if (now_ms() >= deadline) {
            errbuf_fail(err, errlen, "callback: connecting to %s timed out", u->hostport);
            break;
        }
        fd = connect_one(ai, deadline, err, errlen);
    }
    freeaddrinfo(res);
    return fd;
}

/* Sends iov[0 .. n) whole, advancing it. Returns 0 or -1 with err. */
static int send_all(int fd, struct iovec *iov, int n, int64_t deadline, const char *hostport,
                    char *err, size_t errlen)
{
    while (n > 0) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc == 0)
                return errbuf_fail(err, errlen, "callback: sending to %s timed out", hostport);
            if (rc < 0)
                return errbuf_fail(err, errlen, "callback: poll() failed: %s", strerror(errno));
            continue;
        }
        if (w < 0)
            return errbuf_fail(err, errlen, "callback: send() to %s failed: %s", hostport,
                        strerror(errno));
        for (size_t done = (size_t)w; n > 0; iov++, n--) {
            if (done < iov->iov_len) {
                iov->iov_base = (char *)iov->iov_base + done;
                iov->iov_len -= done;
                break;
            }
            done -= iov->iov_len;
        }
    }
    return 0;
}

/* Parses "HTTP/d.d SSS" at line[0 .. len). Returns the status or -1. */
static int status_of(const char *line, size_t len)
{
    int st;
    if (len < 12 || memcmp(line, "HTTP/", 5) != 0 || !is_digit(line[5]) || line[6] != '.' ||
        !is_digit(line[7]) || line[8] != ' ')
        return -1;
    if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]))
        return -1;
    if (len > 12 && line[12] != ' ' && line[12] != '\r')
        return -1;
    st = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    return st >= 100 && st <= 599 ? st : -1;
}

/* End of the header block starting at s, or NULL if it is not complete. */
static const char *headers_end(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\n')
            continue;
        if (s[i + 1] == '\n')
            return s + i + 2;
        if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n')
            return s + i + 3;
    }
    return NULL;
}

/*
 * Reads until a final status line. A 1xx other than 101 is an interim
 * response: its header block is skipped. Returns the status or -1 with err.
 */
static int read_status(int fd, int64_t deadline, const char *hostport, int timeout_ms, char *err,
                       size_t errlen)
{
    char buf[RESP_MAX];
    size_t have = 0;
    for (;;) {
        const char *nl = memchr(buf, '\n', have);
        ssize_t r;
        int rc;
        if (nl) {
            int st = status_of(buf, (size_t)(nl - buf));
            const char *end;
            if (st < 0)
                return errbuf_fail(err, errlen, "callback: %s did not answer with an HTTP status line",
                            hostport);
            if (st >= 200 || st == 101)
                return st;
            if ((end = headers_end(buf, have)) != NULL) {
                have -= (size_t)(end - buf);
                memmove(buf, end, have);
                continue;
            }
        }
        if (have == sizeof(buf))
            return errbuf_fail(err, errlen, "callback: response head from %s too long", hostport);
        r = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (r > 0) {
            have += (size_t)r;
            continue;
        }
        if (r == 0)
            return errbuf_fail(err, errlen, "callback: %s closed the connection before a status line",
                        hostport);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errbuf_fail(err, errlen, "callback: recv() from %s failed: %s", hostport,
                        strerror(errno));
        rc = wait_fd(fd, POLLIN, deadline);
        if (rc == 0)
            return errbuf_fail(err, errlen, "callback: no response from %s within %d ms", hostport,
                        timeout_ms);
        if (rc < 0)
            return errbuf_fail(err, errlen, "callback: poll() failed: %s", strerror(errno));
    }
}

/* Writes the request head of m, stamped with timestamp, into head[HEAD_MAX].
 * Returns its length or -1 with err. */
static int format_head(const callback_url *u, const callback_msg *m, int64_t timestamp, char *head,
                       char *err, size_t errlen)
{
    char sig[CALLBACK_SIG_SIZE];
    const char *job_id = m->job_id ? m->job_id : "";
    int n;
    if (!token_ok(job_id, CALLBACK_JOB_ID_MAX))
        return errbuf_fail(err, errlen, "callback: job id is not a header-safe token");
    callback_sign(m->secret, timestamp, m->body, m->len, sig, sizeof(sig));
    if (m->secret && m->secret[0] && !sig[0])
        return errbuf_fail(err, errlen, "callback: computing the HMAC-SHA256 signature failed");
    n = snprintf(head, HEAD_MAX,
                 "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: " CT_JSON
                 "\r\nContent-Length: %zu\r\nUser-Agent: " SERVER_NAME
                 "\r\nConnection: close\r\n" CALLBACK_HDR_TIMESTAMP ": %" PRId64
                 "\r\n%s%s%s%s%s%s\r\n",
                 u->path, u->hostport, m->len, timestamp, sig[0] ? CALLBACK_HDR_SIGNATURE ": " : "",
                 sig, sig[0] ? "\r\n" : "", job_id[0] ? CALLBACK_HDR_JOB ": " : "", job_id,
                 job_id[0] ? "\r\n" : "");
    if (n < 0 || n >= HEAD_MAX)
        return errbuf_fail(err, errlen, "callback: request head too long");
    return n;
}

int callback_post(const callback_url *u, const char allow[][CONFIG_STR], int n_allow,
                  const callback_msg *m, int timeout_ms, char *err, size_t errlen)
{
    char head[HEAD_MAX];
    struct iovec iov[2];
    int64_t deadline;
    int fd = -1, n, st = -1;
    assert(u && m && (m->body || m->len == 0));
    if (allow_check(u, allow, n_allow, err, errlen) < 0)
        return -1;
    if (timeout_ms <= 0)
        return errbuf_fail(err, errlen, "callback: timeout must be positive");
    if (!token_ok(u->path, CALLBACK_URL_MAX) || !token_ok(u->hostport, sizeof(u->hostport) - 1) ||
        u->path[0] != '/' || u->port < 1 || u->port > 65535)
        return errbuf_fail(err, errlen, "callback: URL does not come from callback_parse()");
    /* Stamped when the attempt starts: a retry is signed afresh. */
    if ((n = format_head(u, m, (int64_t)time(NULL), head, err, errlen)) < 0)
        return -1;

    deadline = now_ms() + timeout_ms;
    fd = connect_any(u, deadline, err, errlen);
    if (fd < 0)
        goto done;
    iov[0] = (struct iovec){.iov_base = head, .iov_len = (size_t)n};
    iov[1] = (struct iovec){.iov_base = (void *)m->body, .iov_len = m->len};
    if (send_all(fd, iov, m->len ? 2 : 1, deadline, u->hostport, err, errlen) < 0)
        goto done;
    st = read_status(fd, deadline, u->hostport, timeout_ms, err, errlen);
done:
    if (fd >= 0)
        close(fd);
    return st;
}

/* ---- back-off ---- */

int64_t callback_backoff_ms(int attempt)
{
    int64_t base = CALLBACK_BACKOFF_BASE_MS;
    int64_t span;
    for (int i = 1; i < attempt && base < CALLBACK_BACKOFF_CAP_MS; i++)
        base *= 2;
    if (base > CALLBACK_BACKOFF_CAP_MS)
        base = CALLBACK_BACKOFF_CAP_MS;
    span = base * 2 / 5; /* the width of [-20%, +20%] */
    /* arc4random is thread-safe and needs no seeding (glibc >= 2.36). */
    return base - base / 5 + (int64_t)arc4random_uniform((uint32_t)span + 1);
}
