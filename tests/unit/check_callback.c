/*
 * check_callback.c - unit tests for common/callback.c.
 *
 * Parsing and allow-list cases are tables; each row is its own Check test so a
 * failure names the row. Deliveries go to a receiver thread in this process
 * listening on 127.0.0.1 with an ephemeral port: it records the whole request
 * and answers as its mode says; the test thread checks what it recorded after
 * joining it (Check assertions belong on the test thread).
 */
#include "callback.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define RX_WAIT_MS 10000 /* a receiver gives up after this, so a bug cannot hang the test */

static const char default_allow[][CONFIG_STR] = {"127.0.0.1", "::1", "localhost"};

/* ---- parsing ---- */

typedef struct parse_ok {
    const char *url;
    const char *host;
    int port;
    const char *path;
    const char *hostport;
} parse_ok;

static const parse_ok parse_ok_cases[] = {
    {"http://127.0.0.1:8080/hook", "127.0.0.1", 8080, "/hook", "127.0.0.1:8080"},
    {"http://localhost", "localhost", 80, "/", "localhost"},
    {"http://localhost/", "localhost", 80, "/", "localhost"},
    {"http://localhost:80/x", "localhost", 80, "/x", "localhost"},
    {"HTTP://Example.ORG/a/b?x=1&y=2", "Example.ORG", 80, "/a/b?x=1&y=2", "Example.ORG"},
    {"http://host?x=1", "host", 80, "/?x=1", "host"},
    {"http://a-b.c-d.example:65535/", "a-b.c-d.example", 65535, "/", "a-b.c-d.example:65535"},
    {"http://h:1/%20x%23y", "h", 1, "/%20x%23y", "h:1"},
    {"http://h:00081/", "h", 81, "/", "h:81"},
    {"http://[::1]:9000/cb", "::1", 9000, "/cb", "[::1]:9000"},
    {"http://[::1]", "::1", 80, "/", "[::1]"},
    {"http://[2001:db8::1]:80/p?q", "2001:db8::1", 80, "/p?q", "[2001:db8::1]"},
    {"http://[::ffff:10.0.0.1]:81/", "::ffff:10.0.0.1", 81, "/", "[::ffff:10.0.0.1]:81"},
    {"http://10.0.0.1/a/../b", "10.0.0.1", 80, "/a/../b", "10.0.0.1"},
};

START_TEST(test_parse_valid)
{
    const parse_ok *c = &parse_ok_cases[_i];
    callback_url u;
    char err[256] = "";
    int rc = callback_parse(c->url, &u, err, sizeof(err));
    ck_assert_msg(rc == 0, "callback_parse(%s) failed: %s", c->url, err);
    ck_assert_str_eq(u.host, c->host);
    ck_assert_int_eq(u.port, c->port);
    ck_assert_str_eq(u.path, c->path);
    ck_assert_str_eq(u.hostport, c->hostport);
}
END_TEST

typedef struct parse_bad {
    const char *url;
    const char *want;
} parse_bad;

#define MSG_ONLY_HTTP "callback: only http:// URLs are supported"
#define MSG_HTTPS "callback: https:// is not supported (crunchd has no TLS client); use http://"
#define MSG_EMPTY_HOST "callback: URL has an empty host"
#define MSG_USERINFO "callback: URL must not contain userinfo ('user@')"
#define MSG_FRAGMENT "callback: URL must not have a fragment ('#')"
#define MSG_BYTE(off)                                                                              \
    "callback: URL has a control, space or non-ASCII byte at offset " off " (percent-encode it)"
#define MSG_QUAD(h) "callback: host \"" h "\" is not a dotted-quad IPv4 address"

static const parse_bad parse_bad_cases[] = {
    {"", MSG_ONLY_HTTP},
    {"localhost:8080/x", MSG_ONLY_HTTP},
    {"ftp://localhost/", MSG_ONLY_HTTP},
    {"http:/localhost/", MSG_ONLY_HTTP},
    {"https://localhost/", MSG_HTTPS},
    {"HTTPS://localhost:8443/x", MSG_HTTPS},
    {"http://", MSG_EMPTY_HOST},
    {"http:///x", MSG_EMPTY_HOST},
    {"http://:80/", MSG_EMPTY_HOST},
    {"http://?x", MSG_EMPTY_HOST},
    {"http://[]/", MSG_EMPTY_HOST},
    {"http://::1/", MSG_EMPTY_HOST},
    {"http://user@localhost/", MSG_USERINFO},
    {"http://user:pw@localhost:80/", MSG_USERINFO},
    {"http://localhost@10.0.0.1/", MSG_USERINFO},
    {"http://localhost/#frag", MSG_FRAGMENT},
    {"http://localhost#", MSG_FRAGMENT},
    {"http://localhost:0/", "callback: bad port \"0\" (expected 1 to 65535)"},
    {"http://localhost:65536/", "callback: bad port \"65536\" (expected 1 to 65535)"},
    {"http://localhost:/", "callback: bad port \"\" (expected 1 to 65535)"},
    {"http://localhost:8a/", "callback: bad port \"8a\" (expected 1 to 65535)"},
    {"http://localhost:-1/", "callback: bad port \"-1\" (expected 1 to 65535)"},
    {"http://localhost:123456/", "callback: bad port \"123456\" (expected 1 to 65535)"},
    {"http://localhost:80:81/", "callback: bad port \"80:81\" (expected 1 to 65535)"},
    {"http://[::1]:/", "callback: bad port \"\" (expected 1 to 65535)"},
    {"http://localhost/a b", MSG_BYTE("18")},
    {"http://localhost/\x01", MSG_BYTE("17")},
    {"http://localhost/x\r\nHost: evil", MSG_BYTE("18")},
    {"http://local\thost/", MSG_BYTE("12")},
    {"http://localhost/\x7f", MSG_BYTE("17")},
    {"http://localhost/caf\xc3\xa9", MSG_BYTE("20")},
    {"http://[::1/", "callback: missing ']' after IPv6 address"},
    {"http://[::1]x/", "callback: unexpected text after ']'"},
    {"http://[::1]]/", "callback: unexpected text after ']'"},
    {"http://[fe80::1%25eth0]/", "callback: bad IPv6 address \"[fe80::1%25eth0]\""},
    {"http://[127.0.0.1]/", "callback: bad IPv6 address \"[127.0.0.1]\""},
    {"http://[::g]/", "callback: bad IPv6 address \"[::g]\""},
    {"http://127.1/", MSG_QUAD("127.1")},
    {"http://0x7f.0.0.1/", MSG_QUAD("0x7f.0.0.1")},
    {"http://2130706433:80/", MSG_QUAD("2130706433")},
    {"http://0177.0.0.1/", MSG_QUAD("0177.0.0.1")},
    {"http://300.1.1.1/", "callback: bad host \"300.1.1.1\""},
    {"http://-bad.example/", "callback: bad host \"-bad.example\""},
    {"http://bad-.example/", "callback: bad host \"bad-.example\""},
    {"http://a..b/", "callback: bad host \"a..b\""},
    {"http://localhost./", "callback: bad host \"localhost.\""},
    {"http://host_name/", "callback: bad host \"host_name\""},
    {"http://%6cocalhost/", "callback: bad host \"%6cocalhost\""},
};

START_TEST(test_parse_invalid)
{
    const parse_bad *c = &parse_bad_cases[_i];
    callback_url u = {.port = 4242};
    char err[256] = "";
    int rc = callback_parse(c->url, &u, err, sizeof(err));
    ck_assert_msg(rc == -1, "callback_parse(%s) succeeded, want \"%s\"", c->url, c->want);
    ck_assert_msg(strcmp(err, c->want) == 0, "callback_parse(%s):\n got \"%s\"\nwant \"%s\"",
                  c->url, err, c->want);
    ck_assert_int_eq(u.port, 4242); /* *out untouched on error */
}
END_TEST

START_TEST(test_parse_length)
{
    static char url[CALLBACK_URL_MAX + 2];
    callback_url u;
    char err[256] = "";
    size_t pre = strlen("http://h/");
    memcpy(url, "http://h/", pre);
    memset(url + pre, 'a', CALLBACK_URL_MAX - pre);
    url[CALLBACK_URL_MAX] = '\0';
    ck_assert_int_eq(callback_parse(url, &u, err, sizeof(err)), 0);
    ck_assert_uint_eq(strlen(u.path), CALLBACK_URL_MAX - pre + 1);
    url[CALLBACK_URL_MAX] = 'a';
    url[CALLBACK_URL_MAX + 1] = '\0';
    ck_assert_int_eq(callback_parse(url, &u, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callback: URL longer than 2048 bytes");

    /* The longest name (253 bytes) with the longest port still fits hostport. */
    memset(url, 0, sizeof(url));
    strcpy(url, "http://");
    for (int i = 0; i < 4; i++)
        strcat(url, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
    strcat(url, "a:65535/");
    ck_assert_int_eq(callback_parse(url, &u, err, sizeof(err)), 0);
    ck_assert_uint_eq(strlen(u.host), 253);
    ck_assert_uint_eq(strlen(u.hostport), 259);
}
END_TEST

START_TEST(test_parse_errors_and_small_buffers)
{
    callback_url u;
    char err[8];
    ck_assert_int_eq(callback_parse(NULL, &u, NULL, 0), -1);
    ck_assert_int_eq(callback_parse("ftp://x", &u, NULL, 0), -1);
    ck_assert_int_eq(callback_parse("ftp://x", &u, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callbac"); /* truncated, NUL-terminated */
    ck_assert_int_eq(callback_check("http://10.0.0.1/", default_allow, 3, NULL, 0), -1);
}
END_TEST

/* ---- allow list ---- */

typedef struct allow_case {
    const char *url;
    const char *want; /* NULL = allowed */
} allow_case;

static const allow_case allow_cases[] = {
    {"http://127.0.0.1:9/x", NULL},
    {"http://localhost:8080/hook", NULL},
    {"http://LOCALHOST/", NULL},
    {"http://LocalHost:1/", NULL},
    {"http://[::1]:8080/", NULL},
    {"http://[0:0:0:0:0:0:0:1]/", NULL},
    {"http://[0000::0001]/", NULL},
    {"http://10.0.0.1/", "callback: host \"10.0.0.1\" is not in callbacks.allow"},
    {"http://127.0.0.2/", "callback: host \"127.0.0.2\" is not in callbacks.allow"},
    {"http://169.254.169.254/latest/meta-data/",
     "callback: host \"169.254.169.254\" is not in callbacks.allow"},
    {"http://localhost.evil.example/",
     "callback: host \"localhost.evil.example\" is not in callbacks.allow"},
    {"http://evil-localhost/", "callback: host \"evil-localhost\" is not in callbacks.allow"},
    {"http://[::2]/", "callback: host \"::2\" is not in callbacks.allow"},
    {"http://[::ffff:127.0.0.1]/", "callback: host \"::ffff:127.0.0.1\" is not in callbacks.allow"},
    {"http://[::]/", "callback: host \"::\" is not in callbacks.allow"},
    {"http://0.0.0.0/", "callback: host \"0.0.0.0\" is not in callbacks.allow"},
    {"http://127.1/", MSG_QUAD("127.1")},
    {"http://2130706433/", MSG_QUAD("2130706433")},
    {"https://localhost/", MSG_HTTPS},
    {"https://127.0.0.1:8443/", MSG_HTTPS},
    {"http://user@localhost/", MSG_USERINFO},
};

START_TEST(test_allow_default)
{
    const allow_case *c = &allow_cases[_i];
    char err[256] = "";
    int rc = callback_check(c->url, default_allow, (int)NELEM(default_allow), err, sizeof(err));
    if (!c->want) {
        ck_assert_msg(rc == 0, "callback_check(%s) failed: %s", c->url, err);
        return;
    }
    ck_assert_msg(rc == -1, "callback_check(%s) succeeded, want \"%s\"", c->url, c->want);
    ck_assert_msg(strcmp(err, c->want) == 0, "callback_check(%s):\n got \"%s\"\nwant \"%s\"",
                  c->url, err, c->want);
}
END_TEST

START_TEST(test_allow_custom)
{
    /* The shape callers pass: config's own array, through a const config too. */
    static config cfg;
    char err[256];
    memset(&cfg, 0, sizeof(cfg));
    strcpy(cfg.callbacks.allow[0], "Hooks.Example.ORG");
    strcpy(cfg.callbacks.allow[1], "[::1]");
    strcpy(cfg.callbacks.allow[2], "2001:DB8:0:0::7");
    strcpy(cfg.callbacks.allow[3], "10.1.2.3");
    cfg.callbacks.n_allow = 4;
    const config *cc = &cfg; /* const config works as well */
#define ALLOWED(url)                                                                               \
    callback_check(url, cc->callbacks.allow, cc->callbacks.n_allow, err, sizeof(err))
    ck_assert_int_eq(ALLOWED("http://hooks.example.org/x"), 0);
    ck_assert_int_eq(ALLOWED("http://HOOKS.EXAMPLE.ORG:81/x"), 0);
    ck_assert_int_eq(ALLOWED("http://[::1]/"), 0);
    ck_assert_int_eq(ALLOWED("http://[2001:db8::7]/"), 0);
    ck_assert_int_eq(ALLOWED("http://10.1.2.3/"), 0);
    ck_assert_int_eq(ALLOWED("http://example.org/"), -1);
    ck_assert_str_eq(err, "callback: host \"example.org\" is not in callbacks.allow");
    ck_assert_int_eq(ALLOWED("http://localhost/"), -1);
    ck_assert_int_eq(ALLOWED("http://127.0.0.1/"), -1);
    ck_assert_int_eq(ALLOWED("http://10.1.2.30/"), -1);
    ck_assert_int_eq(ALLOWED("http://[2001:db8::8]/"), -1);
    /* Entries past n_allow do not count. */
    cfg.callbacks.n_allow = 1;
    ck_assert_int_eq(ALLOWED("http://10.1.2.3/"), -1);
    cfg.callbacks.n_allow = 0;
    ck_assert_int_eq(ALLOWED("http://hooks.example.org/"), -1);
#undef ALLOWED
}
END_TEST

/* ---- signature ---- */

START_TEST(test_sign_rfc4231)
{
    static const char data2[] = "what do ya want for nothing?";
    static const char data1[] = "Hi There";
    char key1[21], sig[CALLBACK_SIG_SIZE];
    callback_sign("Jefe", data2, strlen(data2), sig, sizeof(sig));
    ck_assert_str_eq(sig,
                     "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key1, 0x0b, 20);
    key1[20] = '\0';
    callback_sign(key1, data1, strlen(data1), sig, sizeof(sig));
    ck_assert_str_eq(sig,
                     "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}
END_TEST

START_TEST(test_sign_empty_and_small)
{
    char sig[CALLBACK_SIG_SIZE] = "x", small[CALLBACK_SIG_SIZE - 1] = "x";
    callback_sign("", "{}", 2, sig, sizeof(sig));
    ck_assert_str_eq(sig, "");
    strcpy(sig, "x");
    callback_sign(NULL, "{}", 2, sig, sizeof(sig));
    ck_assert_str_eq(sig, "");
    callback_sign("k", "{}", 2, small, sizeof(small));
    ck_assert_str_eq(small, "");
    callback_sign("k", "{}", 2, small, 0); /* writes nothing */
    ck_assert_str_eq(small, "");
    callback_sign("k", NULL, 0, sig, sizeof(sig)); /* empty body is fine */
    ck_assert_uint_eq(strlen(sig), CALLBACK_SIG_SIZE - 1);
    /* Binary bytes in the body are signed as they are. */
    char sig2[CALLBACK_SIG_SIZE];
    callback_sign("k", "a\0b", 3, sig, sizeof(sig));
    callback_sign("k", "a\0c", 3, sig2, sizeof(sig2));
    ck_assert_str_ne(sig, sig2);
}
END_TEST

/* ---- a receiver thread ---- */

typedef enum rx_mode {
    RX_ANSWER, /* read the request, send answer, close */
    RX_SILENT, /* read until the client gives up; never answer */
} rx_mode;

#define ANSWER_204 "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"

typedef struct receiver {
    int lfd;
    int port;
    rx_mode mode;
    const char *answer; /* RX_ANSWER: sent as is ("" = close at once); borrowed */
    pthread_t thread;
    char *req; /* the whole request as read, NUL-terminated; owned */
    size_t req_len;
    size_t head_len; /* bytes up to and including the blank line; 0 = never complete */
    int accepted;    /* connections accepted */
} receiver;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls fd for POLLIN up to RX_WAIT_MS; returns 1 when readable. */
static int rx_wait(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc;
    do
        rc = poll(&p, 1, RX_WAIT_MS);
    while (rc < 0 && errno == EINTR);
    return rc > 0;
}

/* True once the request head and its Content-Length body are in. */
static int rx_complete(receiver *r)
{
    char *end = strstr(r->req, "\r\n\r\n");
    const char *cl;
    if (!end)
        return 0;
    r->head_len = (size_t)(end + 4 - r->req);
    cl = strcasestr(r->req, "\r\nContent-Length: ");
    if (!cl || cl > end)
        return 1;
    return r->req_len >= r->head_len + strtoul(cl + 18, NULL, 10);
}

static void rx_send(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t w = send(fd, s, len, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        len -= (size_t)w;
    }
}

static void *rx_main(void *arg)
{
    receiver *r = arg;
    size_t cap = 4096;
    int fd;
    if (!rx_wait(r->lfd) || (fd = accept(r->lfd, NULL, NULL)) < 0)
        return NULL;
    r->accepted++;
    r->req = malloc(cap);
    r->req[0] = '\0';
    while (r->mode == RX_SILENT || !rx_complete(r)) {
        ssize_t n;
        if (r->req_len + 1 == cap)
            r->req = realloc(r->req, cap *= 2);
        if (!rx_wait(fd) || (n = recv(fd, r->req + r->req_len, cap - r->req_len - 1, 0)) <= 0)
            break;
        r->req_len += (size_t)n;
        r->req[r->req_len] = '\0';
    }
    if (r->mode == RX_SILENT)
        rx_complete(r);
    else
        rx_send(fd, r->answer);
    close(fd);
    return NULL;
}

/* Binds 127.0.0.1:0 (or [::1]:0) and returns the socket with its port, or -1. */
static int bind_loopback(int family, int *port)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*a);
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static void must_start_receiver(receiver *r, int family, rx_mode mode, const char *answer)
{
    *r = (receiver){.mode = mode, .answer = answer};
    r->lfd = bind_loopback(family, &r->port);
    ck_assert_msg(r->lfd >= 0, "cannot bind a loopback socket: %s", strerror(errno));
    ck_assert_msg(listen(r->lfd, 8) == 0, "listen() failed: %s", strerror(errno));
    ck_assert_msg(pthread_create(&r->thread, NULL, rx_main, r) == 0, "pthread_create() failed");
}

static void must_join_receiver(receiver *r)
{
    ck_assert_msg(pthread_join(r->thread, NULL) == 0, "pthread_join() failed");
    close(r->lfd);
}

static void receiver_release(receiver *r)
{
    free(r->req);
    r->req = NULL;
}

/* Parses url and fails the test with the parser's message if it errs. */
static void must_parse(const char *url, callback_url *u)
{
    char err[256] = "";
    ck_assert_msg(callback_parse(url, u, err, sizeof(err)) == 0, "callback_parse(%s): %s", url,
                  err);
}

/* ---- deliveries ---- */

START_TEST(test_post_delivers_signed)
{
    static const char body[] = "{\"id\":\"0123abcd\",\"state\":\"succeeded\",\"result\":42}";
    static const char secret[] = "s3cret";
    receiver r;
    callback_url u;
    char url[128], want[1024], sig[CALLBACK_SIG_SIZE], hex[65], err[256] = "";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    const char *sent_sig;
    int st;

    must_start_receiver(&r, AF_INET, RX_ANSWER, ANSWER_204);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/job?src=crunchd&x=%%20", r.port);
    must_parse(url, &u);
    callback_sign(secret, body, strlen(body), sig, sizeof(sig));
    st = callback_post(&u, default_allow, 3, body, strlen(body), sig, "0123abcd", 5000, err,
                       sizeof(err));
    must_join_receiver(&r);
    ck_assert_msg(st == 204, "callback_post returned %d: %s", st, err);
    ck_assert_ptr_nonnull(r.req);

    /* Exactly the request of callback.h, header by header. */
    snprintf(want, sizeof(want),
             "POST /hooks/job?src=crunchd&x=%%20 HTTP/1.1\r\n"
             "Host: 127.0.0.1:%d\r\n"
             "Content-Type: application/json\r\n"
             "Content-Length: %zu\r\n"
             "User-Agent: crunchd\r\n"
             "Connection: close\r\n"
             "X-Crunchd-Signature: %s\r\n"
             "X-Crunchd-Job: 0123abcd\r\n"
             "\r\n%s",
             r.port, strlen(body), sig, body);
    ck_assert_str_eq(r.req, want);

    /* The receiver's side: recompute the HMAC over the body it got. */
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), secret, (int)strlen(secret),
                               (const unsigned char *)r.req + r.head_len, r.req_len - r.head_len,
                               mac, &maclen));
    ck_assert_uint_eq(maclen, 32);
    for (unsigned int i = 0; i < maclen; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    sent_sig = strstr(r.req, "X-Crunchd-Signature: sha256=");
    ck_assert_ptr_nonnull(sent_sig);
    ck_assert_int_eq(strncmp(sent_sig + 28, hex, 64), 0);
    receiver_release(&r);
}
END_TEST

START_TEST(test_post_unsigned_no_job_header)
{
    receiver r;
    callback_url u;
    char url[128], want[512], err[256] = "";
    int st;
    must_start_receiver(&r, AF_INET, RX_ANSWER, ANSWER_204);
    snprintf(url, sizeof(url), "http://localhost:%d", r.port);
    must_parse(url, &u);
    st = callback_post(&u, default_allow, 3, "{}", 2, "", NULL, 5000, err, sizeof(err));
    must_join_receiver(&r);
    ck_assert_msg(st == 204, "callback_post returned %d: %s", st, err);
    snprintf(want, sizeof(want),
             "POST / HTTP/1.1\r\nHost: localhost:%d\r\nContent-Type: application/json\r\n"
             "Content-Length: 2\r\nUser-Agent: crunchd\r\nConnection: close\r\n\r\n{}",
             r.port);
    ck_assert_str_eq(r.req, want);
    ck_assert_ptr_null(strstr(r.req, "X-Crunchd"));
    receiver_release(&r);
}
END_TEST

START_TEST(test_post_large_body)
{
    /* Larger than the socket buffers: sendmsg() returns short counts. */
    enum { N = 8 * 1024 * 1024 };
    char *body = malloc(N);
    receiver r;
    callback_url u;
    char url[128], err[256] = "";
    int st;
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < N; i++)
        body[i] = (char)('a' + i % 26);
    must_start_receiver(&r, AF_INET, RX_ANSWER, ANSWER_204);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", r.port);
    must_parse(url, &u);
    st = callback_post(&u, default_allow, 3, body, N, NULL, "j", 20000, err, sizeof(err));
    must_join_receiver(&r);
    ck_assert_msg(st == 204, "callback_post returned %d: %s", st, err);
    ck_assert_uint_eq(r.req_len - r.head_len, N);
    ck_assert_int_eq(memcmp(r.req + r.head_len, body, N), 0);
    receiver_release(&r);
    free(body);
}
END_TEST

START_TEST(test_post_ipv6)
{
    receiver r;
    callback_url u;
    char url[128], err[256] = "";
    int st, probe_port, probe = bind_loopback(AF_INET6, &probe_port);
    if (probe < 0)
        return; /* no IPv6 loopback here: nothing to test */
    close(probe);
    must_start_receiver(&r, AF_INET6, RX_ANSWER, ANSWER_204);
    snprintf(url, sizeof(url), "http://[::1]:%d/v6", r.port);
    must_parse(url, &u);
    st = callback_post(&u, default_allow, 3, "{}", 2, NULL, NULL, 5000, err, sizeof(err));
    must_join_receiver(&r);
    ck_assert_msg(st == 204, "callback_post returned %d: %s", st, err);
    ck_assert_ptr_nonnull(strstr(r.req, "\r\nHost: [::1]:"));
    receiver_release(&r);
}
END_TEST

/* Runs one POST to a receiver; returns the status, err filled. */
static int post_to(rx_mode mode, const char *answer, int timeout_ms, char *err, size_t errlen,
                   receiver *r)
{
    callback_url u;
    char url[128];
    int st;
    must_start_receiver(r, AF_INET, mode, answer);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/h", r->port);
    must_parse(url, &u);
    st = callback_post(&u, default_allow, 3, "{\"a\":1}", 7, NULL, NULL, timeout_ms, err, errlen);
    must_join_receiver(r);
    return st;
}

typedef struct answer_case {
    const char *answer;
    int want;             /* the status, or -1 */
    const char *want_err; /* with -1: err after "callback: 127.0.0.1:PORT " */
} answer_case;

static char long_answer[5000];

static const answer_case answer_cases[] = {
    {ANSWER_204, 204, NULL},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, NULL},
    {"HTTP/1.0 202 Accepted\r\n\r\n", 202, NULL},
    {"HTTP/1.1 200\r\n\r\n", 200, NULL},
    {"HTTP/1.1 204 No Content\n\n", 204, NULL},
    {"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", 302, NULL},
    {"HTTP/1.1 404 Not Found\r\n\r\n", 404, NULL},
    {"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", 500, NULL},
    {"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\r\n", 503, NULL},
    {"HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\nHTTP/1.1 201 Created\r\n\r\n", 201, NULL},
    {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
     "HTTP/1.1 200 OK\r\n\r\n",
     200, NULL},
    {"HTTP/1.1 100 Continue\n\nHTTP/1.1 204 No Content\n\n", 204, NULL},
    {"HTTP/1.1 101 Switching Protocols\r\n\r\n", 101, NULL},
    {"HTTP/1.1 100 Continue\r\n\r\n", -1, "closed the connection before a status line"},
    {"", -1, "closed the connection before a status line"},
    {"HTTP/1.1 20", -1, "closed the connection before a status line"},
    {"SSH-2.0-OpenSSH_9.2\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/1.1 999 Weird\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/1.1 099 Low\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/1.1 20 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/1.1 2000 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/1.1 2x0 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"http/1.1 200 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"HTTP/11 200 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {"\r\nHTTP/1.1 200 OK\r\n\r\n", -1, "did not answer with an HTTP status line"},
    {long_answer, -1, "response head too long"},
};

START_TEST(test_post_answers)
{
    const answer_case *c = &answer_cases[_i];
    receiver r;
    char err[256] = "", want[256];
    int st;
    memset(long_answer, 'x', sizeof(long_answer) - 1);
    st = post_to(RX_ANSWER, c->answer, 5000, err, sizeof(err), &r);
    ck_assert_msg(st == c->want, "answer %d: got %d (%s), want %d", _i, st, err, c->want);
    ck_assert_ptr_nonnull(r.req);
    ck_assert_ptr_nonnull(strstr(r.req, "\r\n\r\n{\"a\":1}"));
    if (c->want_err) {
        if (strcmp(c->want_err, "response head too long") == 0)
            snprintf(want, sizeof(want), "callback: response head from 127.0.0.1:%d too long",
                     r.port);
        else
            snprintf(want, sizeof(want), "callback: 127.0.0.1:%d %s", r.port, c->want_err);
        ck_assert_str_eq(err, want);
    }
    receiver_release(&r);
}
END_TEST

START_TEST(test_post_timeout)
{
    receiver r;
    char err[256] = "", want[256];
    int64_t t0 = mono_ms(), took;
    ck_assert_int_eq(post_to(RX_SILENT, NULL, 300, err, sizeof(err), &r), -1);
    took = mono_ms() - t0;
    snprintf(want, sizeof(want), "callback: no response from 127.0.0.1:%d within 300 ms", r.port);
    ck_assert_str_eq(err, want);
    ck_assert_msg(took >= 290 && took < 2000, "timed out after %lld ms, want ~300",
                  (long long)took);
    ck_assert_uint_gt(r.head_len, 0); /* the request did arrive whole */
    receiver_release(&r);
}
END_TEST

START_TEST(test_post_refused)
{
    /* A bound socket that does not listen: its port refuses, and nobody else
     * can take it during the test. */
    callback_url u;
    char url[128], err[256] = "", want[256];
    int port, fd = bind_loopback(AF_INET, &port), st;
    int64_t t0;
    ck_assert_msg(fd >= 0, "cannot bind a loopback socket: %s", strerror(errno));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    must_parse(url, &u);
    t0 = mono_ms();
    st = callback_post(&u, default_allow, 3, "{}", 2, NULL, NULL, 5000, err, sizeof(err));
    ck_assert_int_eq(st, -1);
    ck_assert_msg(mono_ms() - t0 < 1000, "refusal took %lld ms", (long long)(mono_ms() - t0));
    snprintf(want, sizeof(want), "callback: connect() to 127.0.0.1:%d failed: %s", port,
             strerror(ECONNREFUSED));
    ck_assert_str_eq(err, want);
    close(fd);
}
END_TEST

START_TEST(test_post_rechecks_allow)
{
    /* Allowed at submission, but the list no longer has it: no connection. */
    static const char narrow[][CONFIG_STR] = {"hooks.example.org"};
    receiver r;
    callback_url u;
    char url[128], err[256] = "";
    struct pollfd p;
    must_start_receiver(&r, AF_INET, RX_ANSWER, ANSWER_204);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", r.port);
    must_parse(url, &u);
    ck_assert_int_eq(callback_post(&u, narrow, 1, "{}", 2, NULL, NULL, 5000, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callback: host \"127.0.0.1\" is not in callbacks.allow");
    ck_assert_int_eq(
        callback_post(&u, default_allow, 0, "{}", 2, NULL, NULL, 5000, err, sizeof(err)), -1);
    p = (struct pollfd){.fd = r.lfd, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 100), 0); /* nobody connected */
    /* Now let the receiver finish with one allowed delivery. */
    ck_assert_int_eq(
        callback_post(&u, default_allow, 3, "{}", 2, NULL, NULL, 5000, err, sizeof(err)), 204);
    must_join_receiver(&r);
    ck_assert_int_eq(r.accepted, 1);
    receiver_release(&r);
}
END_TEST

START_TEST(test_post_rejects_header_injection)
{
    callback_url u;
    char err[256] = "";
    must_parse("http://127.0.0.1:9/", &u);
    ck_assert_int_eq(callback_post(&u, default_allow, 3, "{}", 2, NULL, "a\r\nX-Evil: 1", 5000, err,
                                   sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "callback: job id is not a header-safe token");
    ck_assert_int_eq(
        callback_post(&u, default_allow, 3, "{}", 2, "sha256=ab cd", NULL, 5000, err, sizeof(err)),
        -1);
    ck_assert_str_eq(err, "callback: signature is not a header-safe token");
    ck_assert_int_eq(callback_post(&u, default_allow, 3, "{}", 2, NULL, NULL, 0, err, sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "callback: timeout must be positive");
    /* A hand-made URL cannot smuggle a header in through the path or Host. */
    strcpy(u.path, "/x HTTP/1.1\r\nX-Evil: 1\r\n");
    ck_assert_int_eq(
        callback_post(&u, default_allow, 3, "{}", 2, NULL, NULL, 5000, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callback: URL does not come from callback_parse()");
    must_parse("http://127.0.0.1:9/", &u);
    strcpy(u.hostport, "127.0.0.1\r\nX-Evil: 1");
    ck_assert_int_eq(
        callback_post(&u, default_allow, 3, "{}", 2, NULL, NULL, 5000, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "callback: URL does not come from callback_parse()");
}
END_TEST

/* ---- back-off ---- */

START_TEST(test_backoff_bounds)
{
    static const int64_t base[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    for (size_t a = 0; a < NELEM(base); a++) {
        int64_t lo = base[a] * 8 / 10, hi = base[a] * 12 / 10, min = INT64_MAX, max = 0;
        for (int k = 0; k < 2000; k++) {
            int64_t d = callback_backoff_ms((int)a + 1);
            ck_assert_msg(d >= lo && d <= hi, "attempt %zu: %lld not in [%lld, %lld]", a + 1,
                          (long long)d, (long long)lo, (long long)hi);
            min = d < min ? d : min;
            max = d > max ? d : max;
        }
        /* The jitter is spread over the range, not a constant. */
        ck_assert_msg(min < base[a] - base[a] / 10 && max > base[a] + base[a] / 10,
                      "attempt %zu: samples only in [%lld, %lld]", a + 1, (long long)min,
                      (long long)max);
    }
}
END_TEST

START_TEST(test_backoff_edges)
{
    for (int k = 0; k < 200; k++) {
        int64_t d0 = callback_backoff_ms(0), dn = callback_backoff_ms(-7);
        int64_t big = callback_backoff_ms(INT_MAX), b64 = callback_backoff_ms(64);
        ck_assert(d0 >= 400 && d0 <= 600);
        ck_assert(dn >= 400 && dn <= 600);
        ck_assert(big >= 24000 && big <= 36000);
        ck_assert(b64 >= 24000 && b64 <= 36000);
    }
}
END_TEST

static Suite *callback_suite(void)
{
    Suite *s = suite_create("callback");
    TCase *tp = tcase_create("parse");
    TCase *ts = tcase_create("sign");
    TCase *td = tcase_create("post");
    TCase *tb = tcase_create("backoff");
    tcase_add_loop_test(tp, test_parse_valid, 0, (int)NELEM(parse_ok_cases));
    tcase_add_loop_test(tp, test_parse_invalid, 0, (int)NELEM(parse_bad_cases));
    tcase_add_test(tp, test_parse_length);
    tcase_add_test(tp, test_parse_errors_and_small_buffers);
    tcase_add_loop_test(tp, test_allow_default, 0, (int)NELEM(allow_cases));
    tcase_add_test(tp, test_allow_custom);
    tcase_add_test(ts, test_sign_rfc4231);
    tcase_add_test(ts, test_sign_empty_and_small);
    tcase_set_timeout(td, 60);
    tcase_add_test(td, test_post_delivers_signed);
    tcase_add_test(td, test_post_unsigned_no_job_header);
    tcase_add_test(td, test_post_large_body);
    tcase_add_test(td, test_post_ipv6);
    tcase_add_loop_test(td, test_post_answers, 0, (int)NELEM(answer_cases));
    tcase_add_test(td, test_post_timeout);
    tcase_add_test(td, test_post_refused);
    tcase_add_test(td, test_post_rechecks_allow);
    tcase_add_test(td, test_post_rejects_header_injection);
    tcase_add_test(tb, test_backoff_bounds);
    tcase_add_test(tb, test_backoff_edges);
    suite_add_tcase(s, tp);
    suite_add_tcase(s, ts);
    suite_add_tcase(s, td);
    suite_add_tcase(s, tb);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(callback_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
