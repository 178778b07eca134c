/*
 * http_media.h - media types (RFC 9110 8.3.1), as Content-Type carries them.
 * Pure: no IO, no allocation. Fuzzed with the parser
 * (tests/fuzz/fuzz_http_parser.c).
 */
#ifndef CRUNCHD_HTTP_MEDIA_H
#define CRUNCHD_HTTP_MEDIA_H

#include <stdbool.h>

#include "http_parser.h"

/*
 * Whether the field value v is the media type `type` (a valid "type/subtype"
 * in lower case; compared ignoring case) with well-formed parameters
 * (RFC 9110 8.3.1, 5.6.6):
 *   type "/" subtype *( OWS ";" OWS [ token "=" ( token / quoted-string ) ] )
 * "application/json; charset=utf-8" is application/json; "application/json x",
 * "application/jsonx" and "application/json; charset" are not.
 */
bool http_media_type_is(http_slice v, const char *type);

#endif
