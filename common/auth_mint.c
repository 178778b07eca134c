/*
 * auth_mint.c - see auth_mint.h.
 */
#include "auth_mint.h"
#include "errbuf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define MINT_NAME "--mint-token" /* stands for the file in parser messages */

/* RFC 4648 section 5, no padding. out holds (n * 4 + 2) / 3 + 1 bytes. */
static void base64url(const unsigned char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t left = n - i;
        if (left > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (left > 1)
            out[o++] = alphabet[(v >> 6) & 63];
        if (left > 2)
            out[o++] = alphabet[v & 63];
    }
    out[o] = '\0';
}

/* n bytes from getrandom(), which does not return short for n <= 256. */
static int random_bytes(unsigned char *buf, size_t n, char *err, size_t errlen)
{
    ssize_t got;
    do
        got = getrandom(buf, n, 0);
    while (got < 0 && errno == EINTR);
    if (got != (ssize_t)n)
        return errbuf_fail(err, errlen, "getrandom() failed: %s",
                           got < 0 ? strerror(errno) : "short read");
    return 0;
}

/* Appends " s" (or s at the start) to line; -1 if it does not fit. */
static int append(char *line, size_t linelen, size_t *used, const char *s)
{
    int w = snprintf(line + *used, linelen - *used, "%s%s", *used ? " " : "", s);
    if (w < 0 || (size_t)w >= linelen - *used)
        return -1;
    *used += (size_t)w;
    return 0;
}

/* An argument that would not be one field of the line. */
static bool one_word(const char *s)
{
    return s[0] && !strpbrk(s, " \t\r\n");
}

int auth_mint(const char *name, const char *scopes, const char *const *limits, size_t nlimits,
              char *secret, size_t secretlen, char *line, size_t linelen, char *err, size_t errlen)
{
    unsigned char raw[AUTH_SECRET_BYTES];
    char hex[AUTH_HASH_HEX_LEN + 1], why[512];
    size_t used = 0;
    bool words = one_word(name) && one_word(scopes);
    for (size_t i = 0; i < nlimits; i++)
        words = words && one_word(limits[i]);
    if (!words)
        return errbuf_fail(err, errlen, "%s: NAME, SCOPES and each limit must be one word",
                           MINT_NAME);
    if (secretlen < AUTH_SECRET_LEN + 1 || linelen == 0)
        return errbuf_fail(err, errlen, "%s: buffer too small", MINT_NAME);
    if (random_bytes(raw, sizeof(raw), err, errlen) < 0)
        return -1;
    memcpy(secret, AUTH_SECRET_PREFIX, sizeof(AUTH_SECRET_PREFIX) - 1);
    base64url(raw, sizeof(raw), secret + sizeof(AUTH_SECRET_PREFIX) - 1);
    explicit_bzero(raw, sizeof(raw));
    if (auth_hash_hex(secret, strlen(secret), hex) < 0)
        return errbuf_fail(err, errlen, "%s: SHA-256 failed in OpenSSL", MINT_NAME);
    line[0] = '\0';
    bool fits = append(line, linelen, &used, name) == 0 &&
                append(line, linelen, &used, scopes) == 0 && append(line, linelen, &used, hex) == 0;
    for (size_t i = 0; fits && i < nlimits; i++)
        fits = append(line, linelen, &used, limits[i]) == 0;
    if (!fits || used > AUTH_LINE_MAX)
        return errbuf_fail(err, errlen, "%s: the line would be longer than %d bytes", MINT_NAME,
                           AUTH_LINE_MAX);
    /* Checked as the file will be; "--mint-token:1: what" becomes "--mint-token: what". */
    auth_table *t = auth_table_parse(line, used, MINT_NAME, why, sizeof(why));
    size_t n = auth_table_count(t);
    auth_table_free(t);
    if (!t) {
        const char *what = why, *at_line = MINT_NAME ":1: ";
        if (strncmp(why, at_line, strlen(at_line)) == 0)
            what += strlen(at_line);
        else if (strncmp(why, MINT_NAME ": ", strlen(MINT_NAME ": ")) == 0)
            what += strlen(MINT_NAME ": ");
        return errbuf_fail(err, errlen, "%s: %s", MINT_NAME, what);
    }
    if (n != 1) /* "#name" makes a comment of the line */
        return errbuf_fail(err, errlen, "%s: bad name \"%s\"", MINT_NAME, name);
    return 0;
}
