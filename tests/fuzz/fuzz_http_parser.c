/*
 * fuzz_http_parser.c - libFuzzer target for worker/http/http_parser.c,
 * http_chunked.c, http_url.c and http_media.c (all in worker/http/).
 *
 * For a few max_head values the input is parsed in one piece and as prefixes
 * (bytes arriving in pieces). A prefix may only say "need more" (0), or give
 * exactly the answer the whole input gives: the same head length and request,
 * or the same refusal status. An accepted head has CRLF line ends only. Its
 * path and query go through the URL decoder and its Content-Type through the
 * media-type check, with their invariants. The bytes after the head (or the
 * whole input if there is no head) then go through the chunked decoder in one
 * call, in place byte by byte, and in three pieces; all must agree, and an
 * accepted body must pass a plain re-reading of its framing (CRLF everywhere,
 * hex sizes, data lengths). Any disagreement or out-of-bounds slice is a
 * crash (__builtin_trap).
 *
 * Build and run: tests/fuzz/run_fuzz.sh [seconds]
 */
#include "http_chunked.h"
#include "http_media.h"
#include "http_parser.h"
#include "http_url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static const uint8_t *g_buf;
static size_t g_len;

/* A slice is empty, inside the input, or the "/" that absolute-form "http://h" becomes. */
static void check_slice(http_slice s)
{
    if (s.n == 0)
        return;
    const char *b = (const char *)g_buf;
    if (s.p >= b && s.p <= b + g_len && s.n <= (size_t)(b + g_len - s.p))
        return;
    CHECK(s.n == 1 && s.p[0] == '/');
}

static bool slice_same(http_slice a, http_slice b)
{
    return a.n == b.n && (a.n == 0 || a.p == b.p);
}

static bool request_same(const http_request *a, const http_request *b)
{
    if (a->method != b->method || !slice_same(a->method_name, b->method_name) ||
        !slice_same(a->target, b->target) || !slice_same(a->path, b->path) ||
        !slice_same(a->query, b->query) || a->version_minor != b->version_minor ||
        a->keep_alive != b->keep_alive || a->chunked != b->chunked ||
        a->expect_continue != b->expect_continue ||
        a->has_content_length != b->has_content_length || a->content_length != b->content_length ||
        !slice_same(a->content_type, b->content_type) || a->n_headers != b->n_headers)
        return false;
    for (int i = 0; i < a->n_headers; i++)
        if (!slice_same(a->headers[i].name, b->headers[i].name) ||
            !slice_same(a->headers[i].value, b->headers[i].value))
            return false;
    return true;
}

/* Invariants of one result of http_parse_head(buf, len, max_head). */
static void check_result(int rc, int status, size_t len, size_t max_head, const http_request *r)
{
    if (rc == -1) {
        CHECK(status == 400 || status == 431 || status == 501 || status == 505);
        return;
    }
    CHECK(rc >= 0);
    if (rc == 0) {
        CHECK(len < max_head);
        return;
    }
    CHECK((size_t)rc <= len && (size_t)rc <= max_head);
    /* CRLF only: every LF of the head follows a CR, every CR precedes an LF. */
    for (size_t j = 0; j < (size_t)rc; j++) {
        if (g_buf[j] == '\n')
            CHECK(j > 0 && g_buf[j - 1] == '\r');
        if (g_buf[j] == '\r')
            CHECK(j + 1 < (size_t)rc && g_buf[j + 1] == '\n');
    }
    CHECK(rc >= 4 && !memcmp(g_buf + rc - 4, "\r\n\r\n", 4));
    CHECK(r->n_headers >= 0 && r->n_headers <= HTTP_MAX_HEADERS);
    CHECK(r->version_minor == 0 || r->version_minor == 1);
    CHECK(!(r->chunked && r->has_content_length));
    CHECK(r->has_content_length || r->content_length == 0);
    CHECK(r->content_length <= UINT64_C(0x7fffffffffffffff));
    CHECK(r->method_name.n > 0 && r->path.n > 0);
    check_slice(r->method_name);
    check_slice(r->target);
    check_slice(r->path);
    check_slice(r->query);
    check_slice(r->content_type);
    for (int i = 0; i < r->n_headers; i++) {
        http_slice nm = r->headers[i].name, v = r->headers[i].value;
        CHECK(nm.n > 0);
        CHECK((const uint8_t *)nm.p + nm.n <= g_buf + rc);
        check_slice(v);
        /* Checked byte by byte here, since the parser checks words at a time. */
        for (size_t j = 0; j < nm.n; j++)
            CHECK((unsigned char)nm.p[j] > ' ' && (unsigned char)nm.p[j] < 0x7f && nm.p[j] != ':');
        for (size_t j = 0; j < v.n; j++) {
            unsigned char b = (unsigned char)v.p[j];
            CHECK(b == '\t' || (b >= ' ' && b != 0x7f));
        }
        CHECK(v.n == 0 || (v.p[0] != ' ' && v.p[0] != '\t'));
        CHECK(v.n == 0 || (v.p[v.n - 1] != ' ' && v.p[v.n - 1] != '\t'));
    }
    for (size_t j = 0; j < r->target.n; j++)
        CHECK((unsigned char)r->target.p[j] > ' ' && (unsigned char)r->target.p[j] < 0x7f);
    CHECK(r->path.p[0] == '/' || (r->path.n == 1 && r->path.p[0] == '*'));
}

/* Copies a slice into a NUL-terminated string (truncated to cap - 1). */
static void slice_cstr(http_slice s, char *out, size_t cap)
{
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    memcpy(out, s.p, n);
    out[n] = 0;
}

/* The URL decoder on the request's path: decoded bytes are never more, the
 * '/' are the same, no NUL comes out, and nothing to decode is a copy. */
static void check_path_decode(http_slice path)
{
    char out[16384];
    size_t n = 0;
    if (path.n > sizeof(out))
        return;
    int rc = http_url_decode_path(path, out, &n);
    CHECK(rc == 0 || rc == -1);
    CHECK(rc == 0 || memchr(path.p, '%', path.n));
    if (rc < 0)
        return;
    CHECK(http_url_valid(path) && n <= path.n);
    CHECK(!memchr(out, 0, n));
    size_t slashes_in = 0, slashes_out = 0;
    for (size_t j = 0; j < path.n; j++)
        slashes_in += path.p[j] == '/';
    for (size_t j = 0; j < n; j++)
        slashes_out += out[j] == '/';
    CHECK(slashes_in == slashes_out);
    if (!memchr(path.p, '%', path.n))
        CHECK(n == path.n && !memcmp(out, path.p, n));
}

/* A query lookup: found values are inside the query or in out, bounded, no NUL. */
static int query_lookup(http_slice query, const char *key, http_slice *v)
{
    char out[64];
    int rc = http_url_query(query, key, out, sizeof(out), v);
    CHECK(rc >= -1 && rc <= 1);
    if (rc == 1) {
        bool in_query = v->n == 0 || (v->p >= query.p && v->p + v->n <= query.p + query.n);
        CHECK(in_query || (v->p == out && v->n <= sizeof(out)));
        CHECK(v->n <= sizeof(out) && !memchr(v->p, 0, v->n));
    }
    return rc;
}

/* Exercises the lookup helpers on an accepted request. */
static void check_lookups(const http_request *r)
{
    char key[128];
    http_slice v;

    const http_slice *h = http_request_header(r, "host");
    if (h)
        check_slice(*h);
    h = http_request_header(r, "Content-Length");
    CHECK(!r->has_content_length || h);
    if (r->n_headers > 0 && r->headers[0].name.n < sizeof key) {
        slice_cstr(r->headers[0].name, key, sizeof key);
        h = http_request_header(r, key);
        CHECK(h == &r->headers[0].value);
        CHECK(http_slice_eq(r->headers[0].name, key));
    }
    (void)http_slice_eq(r->method_name, "get");

    CHECK(query_lookup(r->query, "wait", &v) != 0 || v.n == 0);
    /* The first key of the query, if it has nothing to decode, must be found. */
    const char *q = r->query.p, *end = r->query.p + r->query.n;
    size_t kn = 0;
    while (q && q + kn < end && q[kn] != '=' && q[kn] != '&')
        kn++;
    if (kn > 0 && kn < sizeof key && !memchr(q, '%', kn) && !memchr(q, '+', kn)) {
        memcpy(key, q, kn);
        key[kn] = 0;
        CHECK(query_lookup(r->query, key, &v) != 0);
    }
    check_path_decode(r->path);

    /* A JSON media type starts with its type, and adding a parameter keeps it JSON. */
    if (r->content_type.p && http_media_type_is(r->content_type, "application/json")) {
        CHECK(r->content_type.n >= 16 && http_slice_eq((http_slice){r->content_type.p, 16},
                                                       "application/json"));
        char ct[16384 + 16];
        if (r->content_type.n + 8 < sizeof ct) {
            memcpy(ct, r->content_type.p, r->content_type.n);
            memcpy(ct + r->content_type.n, "; a=b", 5);
            CHECK(http_media_type_is((http_slice){ct, r->content_type.n + 5}, "application/json"));
        }
    }
}

static void fuzz_head(const uint8_t *data, size_t size, size_t max_head)
{
    const char *buf = (const char *)data;
    http_request whole, part;
    int st_whole = 0, st_part = 0;

    int rc = http_parse_head(buf, size, max_head, &whole, &st_whole);
    check_result(rc, st_whole, size, max_head, &whole);

    size_t splits[6] = {1, size / 3, size / 2, size ? size - 1 : 0, 0, 0};
    if (size > 2) {
        splits[4] = data[0] % size;
        splits[5] = ((size_t)data[size - 1] * 131 + data[size / 2]) % size;
    }
    for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
        size_t k = splits[i];
        if (k > size)
            continue;
        int r = http_parse_head(buf, k, max_head, &part, &st_part);
        check_result(r, st_part, k, max_head, &part);
        if (r > 0)
            CHECK(r == rc && request_same(&part, &whole));
        else if (r == -1)
            CHECK(rc == -1 && st_part == st_whole);
        else {
            /* Needed more: give it everything, reusing the same request. */
            r = http_parse_head(buf, size, max_head, &part, &st_part);
            CHECK(r == rc);
            if (r > 0)
                CHECK(request_same(&part, &whole));
            else if (r == -1)
                CHECK(st_part == st_whole);
        }
    }
}

/* Decodes in[0..len) in the given pieces, in place; returns the final rc. */
static int decode_pieces(char *in, size_t len, const size_t *cuts, size_t ncuts, size_t *consumed,
                         size_t *produced, uint64_t *total)
{
    http_chunked c;
    size_t i = 0, o = 0;
    int rc = 0;
    http_chunked_init(&c);
    for (size_t k = 0; k <= ncuts && rc == 0; k++) {
        size_t stop = k < ncuts ? cuts[k] : len;
        if (stop < i)
            continue;
        size_t ci, po;
        rc = http_chunked_decode(&c, in + i, stop - i, in + o, &ci, &po);
        CHECK(ci <= stop - i && po <= ci);
        CHECK(rc != 0 || ci == stop - i);
        i += ci;
        o += po;
    }
    *consumed = i;
    *produced = o;
    *total = c.total;
    return rc;
}

/*
 * Re-reads the framing of a body the decoder accepted, plainly: size lines
 * of hex digits then ';' or CRLF, data of that size then CRLF, trailer lines
 * "name:..." then CRLF, the empty line; no other LF or CR outside data.
 * data[0..dlen) must be the data.
 */
static void check_strict_body(const char *in, size_t len, const char *data, size_t dlen)
{
    size_t i = 0, o = 0;
    for (;;) {
        const char *cr = memchr(in + i, '\r', len - i);
        CHECK(cr && (size_t)(cr - in) + 1 < len && cr[1] == '\n');
        size_t line_end = (size_t)(cr - in);
        CHECK(!memchr(in + i, '\n', line_end - i));
        uint64_t size = 0;
        size_t d = i;
        for (; d < line_end && in[d] && strchr("0123456789abcdefABCDEF", in[d]); d++)
            size = size * 16 + (uint64_t)(in[d] <= '9' ? in[d] - '0' : (in[d] | 0x20) - 'a' + 10);
        CHECK(d > i && (d == line_end || in[d] == ';'));
        i = line_end + 2;
        if (size == 0)
            break;
        CHECK(size <= len - i && size <= dlen - o && !memcmp(in + i, data + o, size));
        i += size;
        o += size;
        CHECK(i + 2 <= len && in[i] == '\r' && in[i + 1] == '\n');
        i += 2;
    }
    for (;;) { /* trailers, then the empty line */
        const char *cr = memchr(in + i, '\r', len - i);
        CHECK(cr && (size_t)(cr - in) + 1 < len && cr[1] == '\n');
        size_t line_end = (size_t)(cr - in);
        CHECK(!memchr(in + i, '\n', line_end - i));
        if (line_end == i)
            break;
        CHECK(in[i] != ' ' && in[i] != '\t' && in[i] != ':' && memchr(in + i, ':', line_end - i));
        i = line_end + 2;
    }
    CHECK(i + 2 == len && o == dlen);
}

static void fuzz_chunked(const uint8_t *body, size_t len)
{
    char *once = malloc(len + 1), *bytes = malloc(len + 1), *three = malloc(len + 1);
    char *out = malloc(len + 1);
    if (!once || !bytes || !three || !out)
        goto done;
    memcpy(once, body, len);
    memcpy(bytes, body, len);
    memcpy(three, body, len);

    /* One call, to a separate output buffer. */
    http_chunked c;
    size_t c1, p1;
    http_chunked_init(&c);
    int r1 = http_chunked_decode(&c, once, len, out, &c1, &p1);
    CHECK(r1 >= -1 && r1 <= 1 && c1 <= len && p1 <= c1);
    CHECK(r1 != 0 || c1 == len);
    CHECK(r1 == -1 || c.total == p1);
    CHECK(!memcmp(once, body, len)); /* input untouched when out is elsewhere */
    if (r1 == 1)
        check_strict_body(once, c1, out, p1);

    /* Byte by byte, in place, in a separate copy. */
    size_t c2 = 0, p2 = 0;
    int r2 = 0;
    http_chunked_init(&c);
    while (c2 < len && r2 == 0) {
        size_t ci, po;
        r2 = http_chunked_decode(&c, bytes + c2, 1, bytes + p2, &ci, &po);
        CHECK(ci <= 1 && po <= ci);
        c2 += ci;
        p2 += po;
    }
    CHECK(r2 == r1 && c2 == c1 && p2 == p1);
    CHECK(!memcmp(out, bytes, p1));

    /* Three pieces, in place. */
    size_t cuts[2] = {len / 3, len / 3 + (len ? body[0] % (len - len / 3 + 1) : 0)};
    size_t c3, p3;
    uint64_t t3;
    int r3 = decode_pieces(three, len, cuts, 2, &c3, &p3, &t3);
    CHECK(r3 == r1 && c3 == c1 && p3 == p1);
    CHECK(!memcmp(out, three, p1));
    CHECK(r3 == -1 || t3 == p3);
done:
    free(once);
    free(bytes);
    free(three);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_heads[] = {16384, 1024, 64, 17};
    http_request req;
    int status = 0;

    g_buf = data;
    g_len = size;
    for (size_t i = 0; i < sizeof max_heads / sizeof max_heads[0]; i++)
        fuzz_head(data, size, max_heads[i]);
    if (size > 0)
        fuzz_head(data, size, size); /* the whole input is exactly the limit */

    int rc = http_parse_head((const char *)data, size, 16384, &req, &status);
    if (rc > 0)
        check_lookups(&req);
    size_t off = rc > 0 ? (size_t)rc : 0;
    fuzz_chunked(data + off, size - off);
    return 0;
}
