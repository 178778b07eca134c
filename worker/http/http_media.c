/*
 * http_media.c - media types of Content-Type (see http_media.h), checked
 * left to right against the grammar with the byte classes of http_bytes.h.
 */
#include "http_media.h"

#include <string.h>

#include "http_bytes.h"

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *skip_token(const char *p, const char *end)
{
    while (p < end && HB_IS(*p, HB_TCHAR))
        p++;
    return p;
}

/* p[0] is '"': the byte after the closing quote, or NULL if there is none. */
static const char *skip_quoted(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c == '\\') {
            if (++p == end || !HB_IS(*p, HB_VCHAR))
                return NULL; /* quoted-pair */
        } else if (!http_qdtext(c)) {
            return NULL;
        }
    }
    return NULL;
}

/* parameters = *( OWS ";" OWS [ token "=" ( token / quoted-string ) ] ) */
static bool media_params_ok(const char *p, const char *end)
{
    while (p < end) {
        p = skip_ows(p, end);
        if (p == end || *p != ';')
            return false;
        p = skip_ows(p + 1, end);
        if (p == end || *p == ';')
            continue; /* an empty parameter (RFC 9110 5.6.6 allows it) */
        const char *q = skip_token(p, end);
        if (q == p || q == end || *q != '=')
            return false;
        p = q + 1;
        if (p < end && *p == '"')
            q = skip_quoted(p, end);
        else
            q = skip_token(p, end);
        if (!q || q == p)
            return false;
        p = q;
    }
    return true;
}

bool http_media_type_is(http_slice v, const char *type)
{
    /* type is a valid "type/subtype" in lower case, so a v that starts with
     * it (ignoring case) starts with that media type; then the next byte
     * must begin the parameters ("application/jsonx" does not). Compared
     * first as it is sent, since clients send the lower-case name. */
    size_t tn = strlen(type);
    if (v.n < tn)
        return false;
    if (memcmp(v.p, type, tn) != 0 && !http_slice_eq((http_slice){v.p, tn}, type))
        return false;
    return media_params_ok(v.p + tn, v.p + v.n);
}
