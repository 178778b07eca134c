/*
 * cors.c - CORS reply headers (see cors.h). One block of header lines per
 * configured origin, formatted at start-up; matching is a case-insensitive
 * compare of the Origin header with each entry.
 */
#include "cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* Longest block: the fixed lines plus an origin of CONFIG_STR bytes. */
#define CORS_LINES_MAX (CONFIG_STR + 160)

struct cors {
    int n;
    bool any;                            /* the list is "*" */
    const char *origin[CONFIG_MAX_CORS]; /* borrowed from the config */
    char lines[CONFIG_MAX_CORS][CORS_LINES_MAX];
};

/* The origin goes out in lower case: browsers serialise scheme and host so,
 * and compare Access-Control-Allow-Origin with it byte for byte. */
static void format_lines(char *out, const char *origin)
{
    char allow_origin[CONFIG_STR];
    size_t i = 0;
    for (; origin[i] && i + 1 < sizeof(allow_origin); i++)
        allow_origin[i] =
            (char)(origin[i] >= 'A' && origin[i] <= 'Z' ? origin[i] | 0x20 : origin[i]);
    allow_origin[i] = '\0';
    snprintf(out, CORS_LINES_MAX,
             HDR_AC_ALLOW_ORIGIN ": %s\r\n" HDR_VARY ": " HDR_ORIGIN "\r\n" HDR_AC_EXPOSE_HEADERS
                                 ": " HDR_LOCATION ", " HDR_RETRY_AFTER "\r\n",
             allow_origin);
}

cors *cors_new(const config_http *cfg)
{
    cors *co = calloc(1, sizeof(*co));
    if (!co)
        return NULL;
    co->n = cfg->n_cors_origins;
    for (int i = 0; i < co->n; i++) {
        co->origin[i] = cfg->cors_origins[i];
        co->any = co->any || strcmp(co->origin[i], "*") == 0;
        format_lines(co->lines[i], co->origin[i]);
    }
    return co;
}

void cors_free(cors *co)
{
    free(co);
}

const char *cors_headers(const cors *co, const http_request *req)
{
    if (!co || co->n == 0)
        return NULL; /* the default: not even a header lookup */
    const http_slice *origin = http_request_header(req, HDR_ORIGIN);
    if (!origin)
        return NULL;
    if (co->any)
        return co->lines[0];
    for (int i = 0; i < co->n; i++)
        if (http_slice_eq(*origin, co->origin[i]))
            return co->lines[i];
    return NULL;
}

bool cors_is_preflight(const http_request *req)
{
    return req->method == HTTP_OPTIONS && http_request_header(req, HDR_AC_REQUEST_METHOD) != NULL;
}

int cors_preflight(const char *methods, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     HDR_AC_ALLOW_METHODS ": %s\r\n" HDR_AC_ALLOW_HEADERS ": " HDR_CONTENT_TYPE
                                          ", " HDR_AUTHORIZATION ", " HDR_IDEMPOTENCY_KEY
                                          ", " HDR_PREFER "\r\n" HDR_AC_MAX_AGE ": %d\r\n",
                     methods, CORS_MAX_AGE_S);
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            out[0] = '\0';
        return -1;
    }
    return n;
}
