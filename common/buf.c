#include "buf.h"

#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_reserve(buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap - b->len < n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "crunchd: out of memory growing a buffer to %zu bytes\n", cap);
        abort();
    }
    b->p = p;
    b->cap = cap;
}

void buf_append(buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void buf_append_str(buf *b, const char *s) { buf_append(b, s, strlen(s)); }

size_t fmt_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

void buf_append_u64(buf *b, uint64_t v)
{
    buf_reserve(b, 24);
    b->len += fmt_u64(b->p + b->len, v);
}

void buf_append_i64(buf *b, int64_t v)
{
    if (v < 0) {
        buf_append(b, "-", 1);
        buf_append_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        buf_append_u64(b, (uint64_t)v);
    }
}

void buf_append_ms3(buf *b, uint64_t us)
{
    char frac[3] = {(char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10), (char)('0' + us % 10)};
    buf_append_u64(b, us / 1000);
    buf_append(b, ".", 1);
    buf_append(b, frac, 3);
}

void buf_append_json_str(buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf_reserve(b, n + 2);
    buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t len;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_append(b, esc, 2);
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(b, esc, 6);
        } else if (c < 0x80) {
            buf_append(b, &s[i], 1);
        } else if ((len = utf8_seq(s + i, n - i)) == 0) {
            buf_append(b, "?", 1);
        } else {
            buf_append(b, &s[i], len);
            i += len - 1;
        }
    }
    buf_append(b, "\"", 1);
}

void buf_consume(buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

void buf_shrink(buf *b, size_t keep)
{
    if (b->len == 0 && b->cap > keep) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
}

void buf_release(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
