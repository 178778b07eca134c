/*
 * callback_allow.h - the entries of callbacks.allow: the only host:port pairs
 * a job's callback may reach (DESIGN.md section 10).
 *
 * An entry is one of
 *     host:port     "127.0.0.1:9000", "localhost:9000", "example.org:8080"
 *     [v6]:port     "[::1]:9000"
 *     host          "example.org", "10.0.0.5", "[2001:db8::7]": ports 80 and 443 only
 * where host is an RFC 1123 name, a dotted-quad IPv4 address or a bracketed
 * IPv6 address without a zone, and port is 1 .. 65535. An unbracketed IPv6
 * address is refused ("::1:9000" would be ambiguous). A bare host never means
 * "every port": that is how a job could reach any local service.
 *
 * Matching is textual: names case-insensitively, IPv6 addresses in canonical
 * form ("[::1]" equals "[0:0:0:0:0:0:0:1]"), IPv4 only as the dotted quad
 * (callback_parse refuses "127.1"). A name is trusted to resolve wherever DNS
 * or /etc/hosts says.
 *
 * Pure functions: no allocation, no logging, thread-safe. The config loader
 * checks entries with callback_allow_parse; callback.c matches URLs with it.
 */
#ifndef CRUNCHD_CALLBACK_ALLOW_H
#define CRUNCHD_CALLBACK_ALLOW_H

#include <stdbool.h>

#define CALLBACK_ALLOW_HOST_MAX 254 /* a 253-byte name and its NUL */

/* One parsed entry, a plain value. */
typedef struct callback_allow_entry {
    char host[CALLBACK_ALLOW_HOST_MAX]; /* lowercased name, dotted quad or canonical IPv6 (no
                                           brackets) */
    int port;                           /* 1 .. 65535, or 0 for a bare host: 80 and 443 */
} callback_allow_entry;

/*
 * Parses entry into *out. Returns NULL on success, else a static text saying
 * what was expected (for "callbacks.allow[2]: <text>"); *out is then
 * unspecified.
 */
const char *callback_allow_parse(const char *entry, callback_allow_entry *out);

/*
 * True if e allows host:port. host is a URL's host as callback_parse leaves
 * it (no brackets, any case); port is 1 .. 65535.
 */
bool callback_allow_match(const callback_allow_entry *e, const char *host, int port);

#endif
