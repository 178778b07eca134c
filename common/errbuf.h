/*
 * errbuf.h - the redis-style error reporting of low-level helpers: the
 * message goes into the caller's buffer, the return value says -1.
 */
#ifndef CRUNCHD_ERRBUF_H
#define CRUNCHD_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats into err (if err and errlen) and returns -1. */
__attribute__((format(printf, 3, 4))) static inline int errbuf_fail(char *err, size_t errlen,
                                                                    const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#endif
