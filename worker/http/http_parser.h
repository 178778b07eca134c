/*
 * http_parser.h - a pure HTTP/1.x request parser: bytes in, results out, no IO,
 * no allocation. Fuzzed (tests/fuzz/fuzz_http_parser.c).
 *
 * The connection keeps its bytes in its own buffer; the parser returns slices
 * into that buffer, valid as long as the buffer is not moved or changed (the
 * one exception: the path "/" of an absolute-form target without a path is a
 * static string).
 *
 * Two steps per request:
 *   1. http_parse_head() on the buffered bytes until it returns > 0 (the head's
 *      length). It is re-run on the whole buffered head as bytes arrive; with
 *      max_head bounding the buffer that is cheap.
 *   2. The body: Content-Length bytes as they are, or, when req.chunked, the
 *      bytes run through http_chunked_decode() (http_chunked.h) as they arrive.
 *
 * Strict wherever a proxy in front could read the request differently: every
 * line ends in CRLF, one Host, one Content-Type, one framing.
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
    http_slice value; /* leading and trailing spaces/tabs removed */
} http_header;

typedef struct http_request {
    http_method method;
    http_slice method_name;
    http_slice target; /* the request-target as sent (for logs) */
    http_slice path;   /* origin-form path, not decoded: "/..." or "*" */
    http_slice query;  /* after '?', without it, not decoded; n == 0 if none */
    int version_minor; /* 0 for HTTP/1.0, 1 for HTTP/1.1 .. 1.9 */
    bool keep_alive;   /* 1.1 unless "Connection: close"; 1.0 only with "Connection: keep-alive" */
    bool chunked;      /* Transfer-Encoding: chunked */
    bool expect_continue; /* Expect: 100-continue */
    bool has_content_length;
    uint64_t content_length; /* 0 when absent */
    http_slice content_type; /* p == NULL if absent (p != NULL, n == 0: present, empty) */
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
 *   400 malformed request line or header, a line that ends in a bare LF,
 *       Content-Length, Host missing in 1.1 or sent twice, Content-Type sent
 *       twice, both Content-Length and Transfer-Encoding, a NUL or control byte;
 *   431 the head is longer than max_head bytes, or more than HTTP_MAX_HEADERS;
 *   501 a Transfer-Encoding other than chunked;
 *   505 a version other than HTTP/1.x (HTTP/1.2 .. 1.9 are taken as 1.1,
 *       RFC 9110 2.5).
 * Every line ends in CRLF. Leading empty lines (CRLF) before the request line
 * are tolerated (RFC 9112 2.2). The target is origin-form, "*" (OPTIONS only)
 * or absolute-form "http[s]://host[:port][/path][?query]" without userinfo,
 * whose path and query are kept (an empty path is "/").
 */
int http_parse_head(const char *buf, size_t len, size_t max_head, http_request *req, int *status);

/* Finds a header by case-insensitive name; returns NULL if absent. */
const http_slice *http_request_header(const http_request *req, const char *name);

/* Case-insensitive equality of a slice and a NUL-terminated string. */
bool http_slice_eq(http_slice s, const char *lit);

#endif
