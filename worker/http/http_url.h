/*
 * http_url.h - percent-decoding of request paths and query strings (RFC 3986
 * 2.1; a query string is application/x-www-form-urlencoded: '+' is a space).
 *
 * Pure: no IO, no allocation, no state. Decoded bytes go to a buffer of the
 * caller's, never back into the input: the connection may parse a head again
 * from its buffer, so the raw bytes must stay as they came. Fuzzed with the
 * parser (tests/fuzz/fuzz_http_parser.c).
 */
#ifndef CRUNCHD_HTTP_URL_H
#define CRUNCHD_HTTP_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "http_parser.h"

/* Whether every '%' of s is followed by two hex digits. */
bool http_url_valid(http_slice s);

/*
 * Decodes a request path segment by segment into out, which must have room
 * for path.n bytes (decoding never makes it longer); *len receives the
 * decoded length. Only %XX is decoded ('+' is itself in a path).
 *
 * Returns 0, or -1 when a '%' is not followed by two hex digits, or a segment
 * decodes to a '/' (it would move the segment boundaries, so that a proxy
 * and we route differently) or to a NUL byte (it would cut a C string short).
 * On 0 the '/' bytes of out are exactly those of path.
 */
int http_url_decode_path(http_slice path, char *out, size_t *len);

/*
 * Looks up key in a query string ("a=1&b=2"); keys and values are decoded
 * ('+' and %XX) before they are compared or returned. The first pair whose
 * key is key counts; a key without '=' has the empty value.
 *
 * Returns 1 with the value in *val, 0 if key is absent (*val empty), or -1 if
 * the value holds a malformed '%' escape or a decoded NUL byte, or decodes to
 * more than cap bytes. *val points into query when the value has nothing to
 * decode (no '%', no '+': no copy), else into out[0..cap).
 */
int http_url_query(http_slice query, const char *key, char *out, size_t cap, http_slice *val);

#endif
