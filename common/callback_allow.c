/*
 * callback_allow.c - entries of callbacks.allow (see callback_allow.h).
 */
#include "callback_allow.h"

#include "hostname.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#define MSG_ENTRY "expected host:port, [v6]:port or a bare host (which allows ports 80 and 443)"
#define MSG_V6 "an IPv6 address goes in brackets: [::1]:9000, or [::1] for ports 80 and 443"
#define MSG_PORT "port must be from 1 to 65535"

#define BARE_PORT_HTTP 80
#define BARE_PORT_HTTPS 443

_Static_assert(CALLBACK_ALLOW_HOST_MAX > INET6_ADDRSTRLEN, "host buffer holds an IPv6 address");

/*
 * Writes s[0 .. len) in comparable form into out (CALLBACK_ALLOW_HOST_MAX
 * bytes): an IPv6 address (v6) in inet_ntop()'s canonical text, a dotted quad
 * or a name lowercased. Returns false when s is not a host of that kind.
 */
static bool norm_host(const char *s, size_t len, bool v6, char *out)
{
    char buf[CALLBACK_ALLOW_HOST_MAX];
    struct in6_addr a6;
    struct in_addr a4;
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (v6)
        return inet_pton(AF_INET6, buf, &a6) == 1 &&
               inet_ntop(AF_INET6, &a6, out, CALLBACK_ALLOW_HOST_MAX) != NULL;
    if (inet_pton(AF_INET, buf, &a4) != 1 && !hostname_valid(buf, len))
        return false;
    for (size_t i = 0; i <= len; i++)
        out[i] = (buf[i] >= 'A' && buf[i] <= 'Z') ? (char)(buf[i] - 'A' + 'a') : buf[i];
    return true;
}

/* "1" .. "65535" (at most five digits, leading zeros allowed); else -1. */
static int port_value(const char *s)
{
    size_t len = strlen(s);
    int v = 0;
    if (len < 1 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

const char *callback_allow_parse(const char *entry, callback_allow_entry *out)
{
    const char *host = entry, *port = NULL;
    size_t hlen;
    bool v6 = entry[0] == '[';
    if (v6) {
        const char *close = strchr(entry, ']');
        if (!close || (close[1] != '\0' && close[1] != ':'))
            return MSG_ENTRY;
        host = entry + 1;
        hlen = (size_t)(close - host);
        port = close[1] == ':' ? close + 2 : NULL;
    } else {
        const char *colon = strchr(entry, ':');
        struct in6_addr a6;
        if (colon && strchr(colon + 1, ':')) /* "::1:9000" would be ambiguous */
            return inet_pton(AF_INET6, entry, &a6) == 1 ? MSG_V6 : MSG_ENTRY;
        hlen = colon ? (size_t)(colon - entry) : strlen(entry);
        port = colon ? colon + 1 : NULL;
    }
    if (!norm_host(host, hlen, v6, out->host))
        return MSG_ENTRY;
    out->port = 0;
    if (port && (out->port = port_value(port)) < 0)
        return MSG_PORT;
    return NULL;
}

bool callback_allow_match(const callback_allow_entry *e, const char *host, int port)
{
    char have[CALLBACK_ALLOW_HOST_MAX];
    size_t len = strlen(host);
    if (!norm_host(host, len, memchr(host, ':', len) != NULL, have) || strcmp(have, e->host) != 0)
        return false;
    return e->port ? port == e->port : port == BARE_PORT_HTTP || port == BARE_PORT_HTTPS;
}
