/*
 * http_parser.c - HTTP/1.x request heads (see http_parser.h).
 *
 * The head parser looks only at buf[0 .. min(len, max_head)) and checks the
 * lines strictly in order, reporting the first problem it meets. A head that
 * is refused for some prefix of the bytes is therefore refused with the same
 * status once more bytes arrive, and a head accepted for a prefix is the same
 * head for the whole buffer: re-running it as bytes arrive is consistent (the
 * fuzz target asserts this).
 *
 * Nothing here allocates, copies head bytes or calls through a pointer; lines
 * are found with memchr() and checked with the byte classes of http_bytes.h.
 */
#include "http_parser.h"

#include <string.h>

#include "http_bytes.h"

static inline unsigned char lower(unsigned char c)
{
    return (unsigned char)(c - 'A') < 26 ? c | 0x20 : c;
}

/*
 * a[0..n) equals the lowercase literal lit, ignoring case. Setting bit 5 folds
 * case; it also maps a control byte onto some punctuation and digits ("\r" to
 * '-'), so a must already be free of control bytes (every caller checks that).
 */
static inline bool mem_ieq(const char *a, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((a[i] | 0x20) != lit[i])
            return false;
    return true;
}

bool http_slice_eq(http_slice s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i]))
            return false;
    return true;
}

/* Slice equal to a lowercase literal, ignoring case. */
#define SLICE_IS(s, lit) ((s).n == sizeof(lit) - 1 && mem_ieq((s).p, lit, sizeof(lit) - 1))

/* ---------------------------------------------------------------- head */

enum { NEED_MORE = -2 };

/* Everything the header lines tell us that is decided after the last one. */
typedef struct head_state {
    int te_count;
    bool te_chunked; /* the (single) Transfer-Encoding is "chunked" */
    bool host_seen;
    bool conn_close;
    bool conn_keep_alive;
} head_state;

/*
 * True if any byte of p[0..n) is a control byte other than HTAB (or DEL).
 * Eight bytes at a time; a word holding a HTAB falls back to bytes.
 */
static bool has_ctl(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, p + i, 8);
        y = x ^ (ones * 0x7f);
        if (((x - ones * 0x20) & ~x & highs) | ((y - ones) & ~y & highs)) {
            for (size_t j = i; j < i + 8; j++)
                if (!HB_IS(p[j], HB_VCHAR))
                    return true;
        }
    }
    for (; i < n; i++)
        if (!HB_IS(p[i], HB_VCHAR))
            return true;
    return false;
}

static http_method method_lookup(const char *m, size_t n)
{
    switch (n) {
    case 3:
        if (!memcmp(m, "GET", 3))
            return HTTP_GET;
        if (!memcmp(m, "PUT", 3))
            return HTTP_PUT;
        break;
    case 4:
        if (!memcmp(m, "POST", 4))
            return HTTP_POST;
        if (!memcmp(m, "HEAD", 4))
            return HTTP_HEAD;
        break;
    case 5:
        if (!memcmp(m, "PATCH", 5))
            return HTTP_PATCH;
        break;
    case 6:
        if (!memcmp(m, "DELETE", 6))
            return HTTP_DELETE;
        break;
    case 7:
        if (!memcmp(m, "OPTIONS", 7))
            return HTTP_OPTIONS;
        break;
    }
    return HTTP_OTHER;
}

/*
 * Reduces an absolute-form target ("http://host/path?q") to what follows its
 * authority: "/path?q", "?q" or "". Returns false if it is not one we accept.
 */
static bool target_absolute(http_slice *t)
{
    const char *p = t->p, *end = t->p + t->n;
    size_t skip;

    if (t->n > 7 && mem_ieq(p, "http://", 7))
        skip = 7;
    else if (t->n > 8 && mem_ieq(p, "https://", 8))
        skip = 8;
    else
        return false;
    const char *host = p + skip, *q = host;
    while (q < end && *q != '/' && *q != '?') {
        if (!HB_IS(*q, HB_HOST) || *q == '@')
            return false; /* no userinfo: it only serves to mislead */
        q++;
    }
    if (q == host)
        return false;
    t->n = (size_t)(end - q);
    t->p = q;
    return true;
}

/* Splits what is left of the target at the first '?'. An absolute form
 * without a path ("http://h", "http://h?q") has the path "/" (RFC 9112 3.2.2). */
static void target_split(http_slice origin, http_request *req)
{
    static const char root[] = "/";
    const char *qm = memchr(origin.p, '?', origin.n);
    size_t pn = qm ? (size_t)(qm - origin.p) : origin.n;

    req->path = pn ? (http_slice){origin.p, pn} : (http_slice){root, 1};
    if (qm)
        req->query = (http_slice){qm + 1, origin.n - pn - 1};
    else
        req->query = (http_slice){origin.p + origin.n, 0};
}

/* Parses the request line p[0..n) (without its line end); 0 or an HTTP status. */
static int parse_request_line(const char *p, size_t n, http_request *req)
{
    const char *end = p + n, *q = p;

    while (q < end && HB_IS(*q, HB_TCHAR))
        q++;
    if (q == p || q == end || *q != ' ')
        return 400;
    req->method_name.p = p;
    req->method_name.n = (size_t)(q - p);
    req->method = method_lookup(p, req->method_name.n);

    const char *t = ++q;
    while (q < end && HB_IS(*q, HB_TARGET))
        q++;
    if (q == t || q == end || *q != ' ')
        return 400;
    http_slice target = {t, (size_t)(q - t)};

    q++;
    if (end - q != 8 || memcmp(q, "HTTP/", 5) || q[5] < '0' || q[5] > '9' || q[6] != '.' ||
        q[7] < '0' || q[7] > '9')
        return 400;
    if (q[5] != '1')
        return 505;
    /* HTTP/1.2 .. 1.9 are later minor versions of 1.x: we speak 1.1 to them
     * (RFC 9110 2.5), so they get everything 1.1 requires and allows. */
    req->version_minor = q[7] == '0' ? 0 : 1;

    req->target = target;
    if (target.p[0] == '/') {
        /* origin-form */
    } else if (target.n == 1 && target.p[0] == '*') {
        if (req->method != HTTP_OPTIONS)
            return 400;
    } else if (!target_absolute(&target)) {
        return 400;
    }
    target_split(target, req);
    return 0;
}

/* Content-Length: all digits, at most 2^63-1. */
static bool parse_length(http_slice v, uint64_t *out)
{
    uint64_t x = 0;
    if (v.n == 0)
        return false;
    for (size_t i = 0; i < v.n; i++) {
        unsigned d = (unsigned char)v.p[i] - '0';
        if (d > 9 || x > (UINT64_C(0x7fffffffffffffff) - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

/* The Connection value is a comma list; only close and keep-alive matter. */
static void parse_connection(http_slice v, head_state *hs)
{
    const char *p = v.p, *end = v.p + v.n;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        http_slice tok = {p, 0};
        while (tok.p < e && (*tok.p == ' ' || *tok.p == '\t'))
            tok.p++;
        const char *te = e;
        while (te > tok.p && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        tok.n = (size_t)(te - tok.p);
        if (SLICE_IS(tok, "close"))
            hs->conn_close = true;
        else if (SLICE_IS(tok, "keep-alive"))
            hs->conn_keep_alive = true;
        p = c ? c + 1 : end;
    }
}

static bool host_valid(http_slice v)
{
    for (size_t i = 0; i < v.n; i++)
        if (!HB_IS(v.p[i], HB_HOST))
            return false;
    return true;
}

/* Acts on the headers the parser cares about; 0 or an HTTP status. */
static int header_semantics(const http_header *h, http_request *req, head_state *hs)
{
    const http_slice name = h->name, v = h->value;
    uint64_t cl;

    switch (name.n) {
    case 4:
        if (SLICE_IS(name, "host")) {
            if (hs->host_seen || !host_valid(v))
                return 400;
            hs->host_seen = true;
        }
        break;
    case 6:
        if (SLICE_IS(name, "expect") && SLICE_IS(v, "100-continue"))
            req->expect_continue = true;
        break;
    case 10:
        if (SLICE_IS(name, "connection"))
            parse_connection(v, hs);
        break;
    case 12:
        if (SLICE_IS(name, "content-type")) {
            if (req->content_type.p)
                return 400; /* two media types: which one would a proxy pass on? */
            req->content_type = v;
        }
        break;
    case 14:
        if (SLICE_IS(name, "content-length")) {
            if (!parse_length(v, &cl))
                return 400;
            if (req->has_content_length && cl != req->content_length)
                return 400;
            req->has_content_length = true;
            req->content_length = cl;
        }
        break;
    case 17:
        if (SLICE_IS(name, "transfer-encoding")) {
            hs->te_count++;
            hs->te_chunked = SLICE_IS(v, "chunked");
        }
        break;
    }
    return 0;
}

/* Parses one header line p[0..n) (without its line end); 0 or an HTTP status. */
static int parse_header_line(const char *p, size_t n, http_request *req, head_state *hs)
{
    const char *end = p + n, *q = p;

    if (*p == ' ' || *p == '\t')
        return 400; /* obs-fold, or whitespace before the first header */
    while (q < end && HB_IS(*q, HB_TCHAR))
        q++;
    if (q == p || q == end || *q != ':')
        return 400; /* also whitespace before the colon */
    if (req->n_headers == HTTP_MAX_HEADERS)
        return 431;
    http_header *h = &req->headers[req->n_headers++];
    h->name.p = p;
    h->name.n = (size_t)(q - p);

    q++;
    if (has_ctl(q, (size_t)(end - q)))
        return 400;
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    while (end > q && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    h->value.p = q;
    h->value.n = (size_t)(end - q);
    return header_semantics(h, req, hs);
}

/* Decisions that need every header; 0 or an HTTP status. */
static int head_finish(http_request *req, const head_state *hs)
{
    if (hs->te_count) {
        if (req->has_content_length || req->version_minor == 0)
            return 400;
        if (hs->te_count > 1 || !hs->te_chunked)
            return 501;
        req->chunked = true;
    }
    if (req->version_minor == 1) {
        if (!hs->host_seen)
            return 400;
        req->keep_alive = !hs->conn_close;
    } else {
        req->keep_alive = hs->conn_keep_alive && !hs->conn_close;
        req->expect_continue = false;
    }
    return 0;
}

/*
 * The request line may be incomplete: refuse it early when its method already
 * cannot be valid (binary junk, a TLS hello), exactly as the full line would be.
 */
static int partial_request_line(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && HB_IS(*q, HB_TCHAR))
        q++;
    if (q < end && (q == p || *q != ' '))
        return 400;
    return NEED_MORE;
}

static void request_reset(http_request *req)
{
    req->method = HTTP_OTHER;
    req->method_name = (http_slice){NULL, 0};
    req->target = req->path = req->query = (http_slice){NULL, 0};
    req->version_minor = 0;
    req->keep_alive = req->chunked = req->expect_continue = false;
    req->has_content_length = false;
    req->content_length = 0;
    req->content_type = (http_slice){NULL, 0};
    req->n_headers = 0;
}

/* Returns the head length, NEED_MORE, or an HTTP status in *status and -1. */
static int parse_head(const char *buf, size_t len, http_request *req, int *status)
{
    const char *p = buf, *end = buf + len;
    head_state hs = {0};
    int rc;

    /* Leading empty lines (RFC 9112 2.2), CRLF only like every other line. */
    while (p + 1 < end && p[0] == '\r' && p[1] == '\n')
        p += 2;
    if (p == end || (p + 1 == end && *p == '\r'))
        return NEED_MORE;

    bool first = true;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            if (first && (rc = partial_request_line(p, end)) != NEED_MORE)
                goto refuse;
            return NEED_MORE;
        }
        if (nl == p || nl[-1] != '\r') {
            rc = 400; /* a bare LF: a proxy may not have seen a line end here */
            goto refuse;
        }
        size_t n = (size_t)(nl - 1 - p);
        if (first) {
            rc = parse_request_line(p, n, req);
            first = false;
        } else if (n == 0) {
            if ((rc = head_finish(req, &hs)))
                goto refuse;
            return (int)(nl + 1 - buf);
        } else {
            rc = parse_header_line(p, n, req, &hs);
        }
        if (rc)
            goto refuse;
        p = nl + 1;
    }
refuse:
    *status = rc;
    return -1;
}

int http_parse_head(const char *buf, size_t len, size_t max_head, http_request *req, int *status)
{
    request_reset(req);
    *status = 0;
    /* Beyond max_head nothing is looked at, so the answer for a prefix longer
     * than max_head is the answer for every longer buffer. INT_MAX bounds the
     * returned length. */
    if (max_head > 0x7fffffff)
        max_head = 0x7fffffff;
    size_t window = len < max_head ? len : max_head;
    int rc = window ? parse_head(buf, window, req, status) : NEED_MORE;
    if (rc != NEED_MORE)
        return rc;
    request_reset(req);
    if (len >= max_head) {
        *status = 431;
        return -1;
    }
    return 0;
}

const http_slice *http_request_header(const http_request *req, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < req->n_headers; i++) {
        const http_slice *s = &req->headers[i].name;
        if (s->n == n && http_slice_eq(*s, name))
            return &req->headers[i].value;
    }
    return NULL;
}
