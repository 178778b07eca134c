/*
 * cors.h - Cross-Origin Resource Sharing, so that scripts in a browser page
 * from a configured origin may call the API (http.cors_origins).
 *
 * With no origin configured nothing here adds a byte to any reply. With
 * origins, a request whose Origin header equals one of them (ignoring case),
 * or any Origin when the list is "*", gets on every reply:
 *   Access-Control-Allow-Origin: <that origin, or *>
 *   Vary: Origin
 *   Access-Control-Expose-Headers: Location, Retry-After
 * and a preflight (OPTIONS with Access-Control-Request-Method) also gets the
 * lines of cors_preflight(). A request with another Origin, or none, gets no
 * CORS header: the browser then keeps the reply from the script.
 *
 * No credentials mode (Access-Control-Allow-Credentials is never sent): the
 * API takes bearer tokens in Authorization, which a script sets itself.
 *
 * The header lines are built once per worker; a request gets a pointer to
 * them, so the hot path neither formats nor allocates. Loop thread only.
 */
#ifndef CRUNCHD_CORS_H
#define CRUNCHD_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "http_parser.h"

/* How long a browser may cache a preflight's answer. */
#define CORS_MAX_AGE_S 600

typedef struct cors cors;

/* Builds the header lines of every origin in cfg. Returns NULL when out of
 * memory. Owned by the caller: cors_free(). */
cors *cors_new(const config_http *cfg);
void cors_free(cors *co);

/*
 * The header lines (each ending in CRLF) that every reply to req carries, or
 * NULL when req gets none. Borrowed from co: valid until cors_free().
 */
const char *cors_headers(const cors *co, const http_request *req);

/* Whether req asks a preflight (an OPTIONS with Access-Control-Request-Method). */
bool cors_is_preflight(const http_request *req);

/*
 * Writes the preflight's own lines for a route that allows methods (e.g.
 * "GET, HEAD, OPTIONS") into out[0..cap): Allow-Methods, Allow-Headers,
 * Max-Age. Returns their length, or -1 if they do not fit (out is then "").
 */
int cors_preflight(const char *methods, char *out, size_t cap);

#endif
