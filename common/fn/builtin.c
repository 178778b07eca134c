/*
 * fn_builtin.c - see fn_builtin.h: the built-ins' registration and the
 * helpers their run() functions share.
 */
#include "builtin.h"

#include <stdarg.h>
#include <stdio.h>

int fn_builtin_add_all(fn_registry *r, const fn_desc *const *table, size_t n, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (fn_registry_add(r, table[i], FN_ORIGIN_BUILTIN, err, errlen) < 0)
            return -1;
    return 0;
}

int fn_builtins_register(fn_registry *r, char *err, size_t errlen)
{
    if (fn_math_register(r, err, errlen) < 0 || fn_digest_register(r, err, errlen) < 0 ||
        fn_time_register(r, err, errlen) < 0)
        return -1;
    return 0;
}

fn_status fn_fail(fn_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof(ctx->message), fmt, ap);
    va_end(ap);
    return FN_FAILED;
}
