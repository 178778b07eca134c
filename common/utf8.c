/*
 * utf8.c - see utf8.h.
 */
#include "utf8.h"

#include <string.h>

size_t utf8_seq(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];
    size_t len;
    unsigned cp, min;
    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

size_t utf8_cut(const char *s, size_t n, size_t max)
{
    size_t o = 0;
    while (o < n) {
        size_t len = utf8_seq(s + o, n - o);
        size_t take = len ? len : 1;
        if (o + take > max)
            break;
        o += take;
    }
    return o;
}

size_t utf8_copy(char *dst, size_t size, const char *s, size_t n)
{
    size_t o = 0, i = 0;
    while (i < n) {
        size_t len = utf8_seq(s + i, n - i);
        size_t take = len ? len : 1;
        if (o + take > size - 1)
            break;
        if (len)
            memcpy(dst + o, s + i, len);
        else
            dst[o] = '?';
        o += take, i += take;
    }
    dst[o] = '\0';
    return o;
}

const char *utf8_echo(char dst[UTF8_ECHO_SIZE], const char *s, size_t n)
{
    size_t keep = utf8_cut(s, n, UTF8_ECHO_MAX);
    size_t o = utf8_copy(dst, UTF8_ECHO_MAX + 1, s, keep);
    if (keep < n)
        memcpy(dst + o, "...", 4);
    return dst;
}
