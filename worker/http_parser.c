/*
 * http_parser.c - HTTP/1.x request heads and chunked bodies (see http_parser.h).
 *
 * The head parser looks only at buf[0 .. min(len, max_head)) and checks the
 * lines strictly in order, reporting the first problem it meets. A head that
 * is refused for some prefix of the bytes is therefore refused with the same
 * status once more bytes arrive, and a head accepted for a prefix is the same
 * head for the whole buffer: re-running it as bytes arrive is consistent (the
 * fuzz target asserts this).
 *
 * Nothing here allocates, copies head bytes or calls through a pointer; lines
 * are found with memchr() and checked with byte-class tables.
 */
#include "http_parser.h"

#include <string.h>

/* Byte classes, one bit each, in one table. */
enum {
    C_TCHAR = 1 << 0,  /* RFC 9110 token character */
    C_VCHAR = 1 << 1,  /* field-value byte: HTAB, SP..'~', obs-text */
    C_TARGET = 1 << 2, /* request-target byte: visible ASCII except '#' */
    C_HOST = 1 << 3,   /* Host byte: unreserved, sub-delims, ':', '[', ']', '%' */
    C_HEX = 1 << 4,
};

#define V C_VCHAR
#define VG (C_VCHAR | C_TARGET)
#define VGH (C_VCHAR | C_TARGET | C_HOST)
#define TV (C_TCHAR | C_VCHAR)
#define TVG (C_TCHAR | C_VCHAR | C_TARGET)
#define TVGH (C_TCHAR | C_VCHAR | C_TARGET | C_HOST)

/* One byte class per line; every byte not listed is 0 (control bytes, DEL). */
/* clang-format off */
static const unsigned char cls[256] = {
    ['\t'] = V,
    [' '] = V,
    ['!'] = TVGH,
    ['"'] = VG,
    ['#'] = TV,
    ['$'] = TVGH,
    ['%'] = TVGH,
    ['&'] = TVGH,
    ['\''] = TVGH,
    ['('] = VGH,
    [')'] = VGH,
    ['*'] = TVGH,
    ['+'] = TVGH,
    [','] = VGH,
    ['-'] = TVGH,
    ['.'] = TVGH,
    ['/'] = VG,
    ['0' ... '9'] = TVGH | C_HEX,
    [':'] = VGH,
    [';'] = VGH,
    ['<'] = VG,
    ['='] = VGH,
    ['>'] = VG,
    ['?'] = VG,
    ['@'] = VG,
    ['A' ... 'F'] = TVGH | C_HEX,
    ['G' ... 'Z'] = TVGH,
    ['['] = VGH,
    ['\\'] = VG,
    [']'] = VGH,
    ['^'] = TVG,
    ['_'] = TVGH,
    ['`'] = TVG,
    ['a' ... 'f'] = TVGH | C_HEX,
    ['g' ... 'z'] = TVGH,
    ['{'] = VG,
    ['|'] = TVG,
    ['}'] = VG,
    ['~'] = TVGH,
    [0x80 ... 0xff] = V,
};
/* clang-format on */

#undef V
#undef VG
#undef VGH
#undef TV
#undef TVG
#undef TVGH

#define IS(c, f) (cls[(unsigned char)(c)] & (f))

static inline unsigned char lower(unsigned char c)
{
    return (unsigned char)(c - 'A') < 26 ? c | 0x20 : c;
}

/* Value of a byte known to be C_HEX. */
static inline unsigned hexval(unsigned char c)
{
    return (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
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
                if (!IS(p[j], C_VCHAR))
                    return true;
        }
    }
    for (; i < n; i++)
        if (!IS(p[i], C_VCHAR))
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
 * Reduces an absolute-form target ("http://host/path?q") to its origin form.
 * Returns false if it is not one we accept. "http://host" alone becomes "/".
 */
static bool target_absolute(http_slice *t)
{
    static const char root[] = "/";
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
        if (!IS(*q, C_HOST) || *q == '@')
            return false; /* no userinfo: it only serves to mislead */
        q++;
    }
    if (q == host)
        return false;
    if (q == end) {
        t->p = root;
        t->n = 1;
        return true;
    }
    if (*q != '/')
        return false; /* "http://host?q" has no path we could point at */
    t->n = (size_t)(end - q);
    t->p = q;
    return true;
}

/* Parses the request line p[0..n) (without its line end); 0 or an HTTP status. */
static int parse_request_line(const char *p, size_t n, http_request *req)
{
    const char *end = p + n, *q = p;

    while (q < end && IS(*q, C_TCHAR))
        q++;
    if (q == p || q == end || *q != ' ')
        return 400;
    req->method_name.p = p;
    req->method_name.n = (size_t)(q - p);
    req->method = method_lookup(p, req->method_name.n);

    const char *t = ++q;
    while (q < end && IS(*q, C_TARGET))
        q++;
    if (q == t || q == end || *q != ' ')
        return 400;
    http_slice target = {t, (size_t)(q - t)};

    q++;
    if (end - q != 8 || memcmp(q, "HTTP/", 5) || q[5] < '0' || q[5] > '9' || q[6] != '.' ||
        q[7] < '0' || q[7] > '9')
        return 400;
    if (q[5] != '1' || (q[7] != '0' && q[7] != '1'))
        return 505;
    req->version_minor = q[7] - '0';

    if (target.p[0] == '/') {
        /* origin-form */
    } else if (target.n == 1 && target.p[0] == '*') {
        if (req->method != HTTP_OPTIONS)
            return 400;
    } else if (!target_absolute(&target)) {
        return 400;
    }
    req->target = target;
    req->path = target;
    req->query.p = target.p + target.n;
    req->query.n = 0;
    const char *qm = memchr(target.p, '?', target.n);
    if (qm) {
        req->path.n = (size_t)(qm - target.p);
        req->query.p = qm + 1;
        req->query.n = target.n - req->path.n - 1;
    }
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
        if (!IS(v.p[i], C_HOST))
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
        if (SLICE_IS(name, "content-type") && !req->content_type.p)
            req->content_type = v;
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
    while (q < end && IS(*q, C_TCHAR))
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
    while (q < end && IS(*q, C_TCHAR))
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

    /* Leading empty lines (RFC 9112 2.2). */
    for (;;) {
        if (p < end && *p == '\n')
            p++;
        else if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
            p += 2;
        else
            break;
    }
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
        const char *eol = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
        size_t n = (size_t)(eol - p);
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

http_slice http_query_get(http_slice query, const char *key, bool *found)
{
    const char *p = query.p, *end = query.n ? query.p + query.n : query.p;
    size_t kn = strlen(key);

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *ke = eq ? eq : e;
        if (e > p && (size_t)(ke - p) == kn && !memcmp(p, key, kn)) {
            if (found)
                *found = true;
            if (!eq)
                return (http_slice){e, 0};
            return (http_slice){eq + 1, (size_t)(e - eq - 1)};
        }
        p = amp ? amp + 1 : end;
    }
    if (found)
        *found = false;
    return (http_slice){NULL, 0};
}

/* ------------------------------------------------------------- chunked */

enum chunked_state {
    CS_SIZE_START = 0, /* first hex digit of a size line (the zeroed state) */
    CS_SIZE,           /* more hex digits */
    CS_SIZE_WS,        /* whitespace after the size: only ';' or a line end may follow */
    CS_EXT,            /* chunk extension, skipped to the line end */
    CS_SIZE_LF,        /* CR seen on the size line, LF must follow */
    CS_DATA,           /* chunk_left data bytes to copy */
    CS_DATA_END,       /* CRLF or LF after the data */
    CS_DATA_LF,        /* CR seen after the data, LF must follow */
    CS_TRAILER_START,  /* start of a trailer line, or the final empty line */
    CS_TRAILER,        /* inside a trailer line */
    CS_TRAILER_LF,     /* CR seen in a trailer line, LF must follow */
    CS_END_LF,         /* CR of the final empty line seen, LF must follow */
    CS_DONE,
    CS_ERROR,
};

#define CHUNK_SIZE_BITS 60

void http_chunked_init(http_chunked *c)
{
    memset(c, 0, sizeof *c);
}

/* Counts a size or trailer line byte; false if the line is too long. */
static inline bool line_byte(http_chunked *c)
{
    return ++c->line_len <= HTTP_CHUNKED_LINE_MAX;
}

/*
 * Handles one non-data byte; returns the next state (CS_ERROR on a bad byte).
 * Data bytes are copied in bulk by the caller.
 */
static int chunked_step(http_chunked *c, unsigned char b)
{
    switch (c->state) {
    case CS_SIZE_START:
    case CS_SIZE:
        if (IS(b, C_HEX)) {
            if (c->chunk_left >> (CHUNK_SIZE_BITS - 4))
                return CS_ERROR;
            c->chunk_left = (c->chunk_left << 4) | hexval(b);
            return line_byte(c) ? CS_SIZE : CS_ERROR;
        }
        if (c->state == CS_SIZE_START)
            return CS_ERROR;
        /* fall through */
    case CS_SIZE_WS:
        if (b == ' ' || b == '\t')
            return line_byte(c) ? CS_SIZE_WS : CS_ERROR;
        if (b == ';')
            return line_byte(c) ? CS_EXT : CS_ERROR;
        /* fall through */
    case CS_EXT:
        if (b == '\r')
            return CS_SIZE_LF;
        /* fall through */
    case CS_SIZE_LF:
        if (b == '\n') {
            c->line_len = 0;
            return c->chunk_left ? CS_DATA : CS_TRAILER_START;
        }
        if (c->state != CS_EXT || !IS(b, C_VCHAR))
            return CS_ERROR;
        return line_byte(c) ? CS_EXT : CS_ERROR;
    case CS_DATA_END:
        if (b == '\r')
            return CS_DATA_LF;
        /* fall through */
    case CS_DATA_LF: return b == '\n' ? CS_SIZE_START : CS_ERROR;
    case CS_TRAILER_START:
        if (b == '\r')
            return CS_END_LF;
        if (b == '\n')
            return CS_DONE;
        /* fall through */
    case CS_TRAILER:
        if (b == '\r')
            return CS_TRAILER_LF;
        if (b == '\n') {
            c->line_len = 0;
            return CS_TRAILER_START;
        }
        if (!IS(b, C_VCHAR))
            return CS_ERROR;
        return line_byte(c) ? CS_TRAILER : CS_ERROR;
    case CS_TRAILER_LF:
        if (b != '\n')
            return CS_ERROR;
        c->line_len = 0;
        return CS_TRAILER_START;
    case CS_END_LF: return b == '\n' ? CS_DONE : CS_ERROR;
    default: return CS_ERROR;
    }
}

int http_chunked_decode(http_chunked *c, const char *in, size_t len, char *out, size_t *consumed,
                        size_t *produced)
{
    size_t i = 0, o = 0;

    while (i < len && c->state != CS_DONE && c->state != CS_ERROR) {
        if (c->state == CS_DATA) {
            size_t n = len - i;
            if (n > c->chunk_left)
                n = (size_t)c->chunk_left;
            /* o <= i always holds, so with out == in this moves data down. */
            memmove(out + o, in + i, n);
            i += n;
            o += n;
            c->chunk_left -= n;
            if (!c->chunk_left)
                c->state = CS_DATA_END;
            continue;
        }
        c->state = chunked_step(c, (unsigned char)in[i]);
        if (c->state != CS_ERROR)
            i++;
    }
    c->total += o;
    *consumed = i;
    *produced = o;
    if (c->state == CS_ERROR)
        return -1;
    return c->state == CS_DONE ? 1 : 0;
}
