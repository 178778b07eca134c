/*
 * http_chunked.h - an incremental decoder of the chunked transfer coding
 * (RFC 9112 section 7.1): bytes in, data out, no IO, no allocation. Fuzzed
 * with the head parser (tests/fuzz/fuzz_http_parser.c).
 *
 * Strict where a proxy in front could read the body differently (the request
 * smuggling class of CVE-2022-32214 / CVE-2022-35256):
 *   - every line (chunk size, the CRLF after chunk data, trailers, the final
 *     empty line) ends in CRLF; a bare LF or a bare CR is an error;
 *   - the size is hex digits with nothing between them and the ';' of an
 *     extension or the CRLF (no whitespace);
 *   - extensions are *( ";" name [ "=" ( token / quoted-string ) ] ) with no
 *     whitespace anywhere; a ';' without a name, an '=' without a value or an
 *     unclosed quote is an error. Extensions are otherwise ignored;
 *   - a trailer line is "name:" followed by field-value bytes (no obs-fold);
 *     trailers are skipped.
 */
#ifndef CRUNCHD_HTTP_CHUNKED_H
#define CRUNCHD_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

/* Longest chunk-size line (with its extensions) or trailer line, line end excluded. */
#define HTTP_CHUNKED_LINE_MAX 4096

/* State of an incremental chunked-body decoder. Zero it (http_chunked_init) per body. */
typedef struct http_chunked {
    int state;
    uint64_t chunk_left; /* bytes of chunk data still to come */
    size_t line_len;     /* bytes of the current size/trailer line seen so far */
    uint64_t total;      /* decoded bytes so far */
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
 * are needed, -1 on a malformed body (see above; also a size over 2^60 - 1 or
 * a size or trailer line longer than HTTP_CHUNKED_LINE_MAX). After -1,
 * *consumed and *produced cover the bytes before the bad one, and every later
 * call fails too.
 */
int http_chunked_decode(http_chunked *c, const char *in, size_t len, char *out, size_t *consumed,
                        size_t *produced);

#endif
