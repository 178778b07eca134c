/*
 * http_url.c - percent-decoding (see http_url.h). Bytes are only looked at,
 * never written, in the input; a query pair is decoded on the fly while its
 * key is compared, so a lookup costs one pass over the query.
 */
#include "http_url.h"

#include <string.h>

#include "http_bytes.h"

/*
 * Decodes the byte at p (p < end): a %XX escape, a '+' when plus_is_space,
 * or the byte itself. Returns it (0..255) and its raw length in *adv, or -1
 * for a '%' without two hex digits.
 */
static int decode_byte(const char *p, const char *end, bool plus_is_space, size_t *adv)
{
    *adv = 1;
    if (*p == '+' && plus_is_space)
        return ' ';
    if (*p != '%')
        return (unsigned char)*p;
    if (end - p < 3 || !HB_IS(p[1], HB_HEX) || !HB_IS(p[2], HB_HEX))
        return -1;
    *adv = 3;
    return (int)(http_hexval((unsigned char)p[1]) << 4 | http_hexval((unsigned char)p[2]));
}

bool http_url_valid(http_slice s)
{
    const char *p = s.p, *end = s.p + s.n;
    while (p < end && (p = memchr(p, '%', (size_t)(end - p)))) {
        size_t adv;
        if (decode_byte(p, end, false, &adv) < 0)
            return false;
        p += adv;
    }
    return true;
}

int http_url_decode_path(http_slice path, char *out, size_t *len)
{
    const char *p = path.p, *end = path.p + path.n;
    size_t o = 0;
    while (p < end) {
        size_t adv;
        int b = decode_byte(p, end, false, &adv);
        if (b < 0 || (adv == 3 && (b == '/' || b == 0)))
            return -1;
        out[o++] = (char)b;
        p += adv;
    }
    *len = o;
    return 0;
}

/* Whether the raw key k[0..n) decodes to key; a malformed key matches nothing. */
static bool key_is(const char *k, size_t n, const char *key)
{
    const char *p = k, *end = k + n;
    for (; p < end; key++) {
        size_t adv;
        int b = decode_byte(p, end, true, &adv);
        if (b < 0 || b == 0 || (unsigned char)*key != b)
            return false;
        p += adv;
    }
    return *key == '\0';
}

/* Decodes a query value v into out[0..cap); -1 as http_url_query says. */
static int value_decode(http_slice v, char *out, size_t cap, http_slice *val)
{
    const char *p = v.p, *end = v.p + v.n;
    size_t o = 0;
    if (!memchr(v.p, '%', v.n) && !memchr(v.p, '+', v.n)) {
        *val = v;
        return v.n <= cap ? 1 : -1;
    }
    while (p < end) {
        size_t adv;
        int b = decode_byte(p, end, true, &adv);
        if (b <= 0 || o == cap)
            return -1;
        out[o++] = (char)b;
        p += adv;
    }
    *val = (http_slice){out, o};
    return 1;
}

int http_url_query(http_slice query, const char *key, char *out, size_t cap, http_slice *val)
{
    const char *p = query.p, *end = query.p + query.n;
    *val = (http_slice){NULL, 0};
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *ke = eq ? eq : e;
        if (e > p && key_is(p, (size_t)(ke - p), key)) {
            if (!eq) {
                *val = (http_slice){e, 0};
                return 1;
            }
            return value_decode((http_slice){eq + 1, (size_t)(e - eq - 1)}, out, cap, val);
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}
