/*
 * http_media.c - media types of Content-Type (see http_media.h), checked
 * left to right against the grammar with the byte classes of http_bytes.h.
 */
#include "http_media.h"

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
    const char *p = v.p, *end = v.p + v.n;
    const char *slash = skip_token(p, end);
    if (slash == p || slash == end || *slash != '/')
        return false;
    const char *q = skip_token(slash + 1, end);
    if (q == slash + 1)
        return false;
    if (!http_slice_eq((http_slice){p, (size_t)(q - p)}, type))
        return false;
    return media_params_ok(q, end);
}
