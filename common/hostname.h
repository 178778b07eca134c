/*
 * hostname.h - RFC 1123 host names, for listen addresses, callback hosts and
 * allow-list entries. Pure; any thread.
 */
#ifndef CRUNCHD_HOSTNAME_H
#define CRUNCHD_HOSTNAME_H

#include <stdbool.h>
#include <stddef.h>

/* Dot-separated labels (1-63) of letters, digits and inner '-', 253 at
 * most; not all digits ("300.1.1.1" is a bad IPv4 address, not a name). */
bool hostname_valid(const char *s, size_t len);

#endif
