/*
 * http_parser.h - a pure HTTP/1.x request parser: bytes in, results out, no IO,
 * no allocation. Fuzzed (tests/fuzz/fuzz_http_parser.c).
 *
 * The connection keeps its bytes in its own buffer; the parser returns slices
 * into that buffer, valid as long as the buffer is not moved or changed.
 *
 * Two steps per request:
 *   1. http_parse_head() on the buffered bytes until it returns > 0 (the head's
 *      length). It is re-run on the whole buffered head as bytes arrive; with
 *      max_head bounding the buffer that is cheap.
 *   2. The body: Content-Length bytes as they are, or, when req.chunked, the
 *      bytes run through http_chunked_decode() as they arrive.
 */
#ifndef CRUNCHD_HTTP_PARSER_H
#define CRUNCHD_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 64

typedef struct http_slice {
    const char *p;
    size_t n;
} http_slice;

typedef enum http_method {
    HTTP_OTHER = 0,
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_PATCH,
} http_method;

typedef struct http_header {
    http_slice name;
    http_slice value;  /* leading and trailing spaces/tabs removed */
} http_header;

typedef struct http_request {
    http_method method;
    http_slice method_name;
    http_slice target;        /* as sent: path plus "?query" */
    http_slice path;          /* target up to '?' */
    http_slice query;         /* after '?', without it; n == 0 if none */
    int version_minor;        /* 0 or 1 (HTTP/1.0 or HTTP/1.1) */
    bool keep_alive;          /* 1.1 unless "Connection: close"; 1.0 only with "Connection: keep-alive" */
    bool chunked;             /* Transfer-Encoding: chunked */
    bool expect_continue;     /* Expect: 100-continue */
    bool has_content_length;
    uint64_t content_length;  /* 0 when absent */
    http_slice content_type;  /* n == 0 if absent */
    http_header headers[HTTP_MAX_HEADERS];
    int n_headers;
} http_request;

/*
 * Parses the request head at buf[0..len).
 *
 * Returns the head's length (> 0, up to and including the blank line) when
 * it is complete and valid; *req is then filled with slices into buf.
 * Returns 0 when more bytes are needed (and len < max_head).
 * Returns -1 when the request must be refused; *status is then
 *   400 malformed request line, header, Content-Length, Host missing in 1.1,
 *       both Content-Length and Transfer-Encoding, a NUL or control byte;
 *   431 the head is longer than max_head bytes, or more than HTTP_MAX_HEADERS;
 *   501 a Transfer-Encoding other than chunked;
 *   505 a version other than HTTP/1.0 or HTTP/1.1.
 * Leading empty lines before the request line are tolerated (RFC 9112 2.2).
 * Lines may end in CRLF or a bare LF.
 */
int http_parse_head(const char *buf, size_t len, size_t max_head, http_request *req, int *status);

/* Finds a header by case-insensitive name; returns NULL if absent. */
const http_slice *http_request_header(const http_request *req, const char *name);

/* Longest chunk-size line (with its extensions) or trailer line, line end excluded. */
#define HTTP_CHUNKED_LINE_MAX 4096

/* State of an incremental chunked-body decoder. Zero it (http_chunked_init) per body. */
typedef struct http_chunked {
    int state;
    uint64_t chunk_left;   /* bytes of chunk data still to come */
    size_t line_len;       /* bytes of the current size/trailer line seen so far */
    uint64_t total;        /* decoded bytes so far */
} http_chunked;

void http_chunked_init(http_chunked *c);

/*
 * Decodes the chunked bytes in[0..len) and writes the data to out, which may
 * equal in or point before it (the decoded data is never longer than the raw
 * bytes, so decoding in place is safe).
 *
 * *consumed receives how many raw bytes were used, *produced how many data
 * bytes were written. Returns 1 when the last chunk and the trailers have been
 * read (bytes after *consumed belong to the next request), 0 when more bytes
 * are needed, -1 on a malformed body (bad size line, size overflow, a size or
 * trailer line longer than 4096 bytes, missing CRLF after chunk data).
 * Chunk extensions are ignored; trailers are skipped. After -1, *consumed and
 * *produced cover the bytes before the bad one, and every later call fails too.
 */
int http_chunked_decode(http_chunked *c, const char *in, size_t len, char *out,
                        size_t *consumed, size_t *produced);

/* Case-insensitive equality of a slice and a NUL-terminated string. */
bool http_slice_eq(http_slice s, const char *lit);

/*
 * Looks up key in an x-www-form query string ("a=1&b=2") and returns its raw
 * (not percent-decoded) value; found == false if absent.
 */
http_slice http_query_get(http_slice query, const char *key, bool *found);

#endif
