#include "hostname.h"

/* ASCII only: a locale must not change what a host name is. */
static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool hostname_valid(const char *s, size_t len)
{
    bool numeric = true;
    size_t label = 0;
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? s[i] : '.';
        if (c == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if (is_alnum(c) || (c == '-' && label > 0)) {
            numeric = numeric && (c >= '0' && c <= '9');
            label++;
        } else {
            return false;
        }
    }
    return !numeric; /* "300.1.1.1" is a bad address, not a host name */
}
