/*
 * fn_builtin.h - internal to the function registry: the built-in descriptors
 * (defined in fn_math.c, fn_digest.c, fn_time.c and collected by fn.c) and
 * small helpers their run() functions share. Callers outside common/fn*.c use
 * fn.h only.
 */
#ifndef CRUNCHD_FN_BUILTIN_H
#define CRUNCHD_FN_BUILTIN_H

#include "fn.h"

/* fn_math.c */
extern const fn_desc fn_count;
extern const fn_desc fn_fib;
extern const fn_desc fn_primes;
extern const fn_desc fn_matmul;
extern const fn_desc fn_sort;

/* fn_digest.c */
extern const fn_desc fn_sha256;
extern const fn_desc fn_file_sha256;

/* fn_time.c; crash and spin are debug_only */
extern const fn_desc fn_sleep;
extern const fn_desc fn_crash;
extern const fn_desc fn_spin;

/*
 * For tests only: when set, file_sha256 resolves paths with its realpath()
 * fallback as if the kernel had no openat2(2). Never set by the server.
 */
extern atomic_bool fn_file_force_fallback;

/* Writes the reason into ctx->message and returns FN_FAILED. */
fn_status fn_fail(fn_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Accessors for validated args (borrowed object; the schema guarantees the
 * key is present and of the right type). */
static inline int64_t fn_arg_int(json_t *args, const char *name)
{
    return (int64_t)json_integer_value(json_object_get(args, name));
}

static inline const char *fn_arg_str(json_t *args, const char *name)
{
    return json_string_value(json_object_get(args, name));
}

static inline void fn_set_progress(fn_ctx *ctx, int64_t done)
{
    atomic_store_explicit(&ctx->progress, done, memory_order_relaxed);
}

#endif
