/*
 * http_bytes.h - the byte classes of RFC 9110/9112/3986 that the HTTP
 * modules (http_parser.c, http_chunked.c, http_url.c) check input against:
 * one table, one bit per class, so every check is a load and a mask.
 *
 * Internal to the HTTP layer; pure data, no state.
 */
#ifndef CRUNCHD_HTTP_BYTES_H
#define CRUNCHD_HTTP_BYTES_H

#include <stdbool.h>

enum {
    HB_TCHAR = 1 << 0,  /* RFC 9110 token character */
    HB_VCHAR = 1 << 1,  /* field-value byte: HTAB, SP..'~', obs-text */
    HB_TARGET = 1 << 2, /* request-target byte: visible ASCII except '#' */
    HB_HOST = 1 << 3,   /* Host byte: unreserved, sub-delims, ':', '[', ']', '%' */
    HB_HEX = 1 << 4,
};

/* Every byte not in a class has 0 there (control bytes and DEL are in none). */
extern const unsigned char http_bytes[256];

#define HB_IS(c, f) (http_bytes[(unsigned char)(c)] & (f))

/* Value of a byte known to be HB_HEX. */
static inline unsigned http_hexval(unsigned char c)
{
    return (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
}

/* qdtext of a quoted-string (RFC 9110 5.6.4): a field-value byte but '"' and '\'. */
static inline bool http_qdtext(unsigned char c)
{
    return HB_IS(c, HB_VCHAR) && c != '"' && c != '\\';
}

#endif
