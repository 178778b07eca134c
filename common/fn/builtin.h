/*
 * fn_builtin.h - the built-in functions (DESIGN.md section 5) and the small
 * helpers their run() functions share. Each file registers its own
 * descriptors (fn_math.c, fn_digest.c, fn_time.c); fn_builtins_register()
 * calls them in a fixed order, so the built-ins' indexes are the same in
 * every registry. Callers outside common/fn/ use fn.h and fn_registry.h.
 */
#ifndef CRUNCHD_FN_BUILTIN_H
#define CRUNCHD_FN_BUILTIN_H

#include <stddef.h>

#include "fn.h"
#include "fn_registry.h"

/*
 * Adds every built-in function to r, debug-only ones included, with origin
 * FN_ORIGIN_BUILTIN. Returns 0, or -1 with err set (out of memory, or a name
 * r already holds).
 */
int fn_builtins_register(fn_registry *r, char *err, size_t errlen);

/* Each file's share of it. */
int fn_math_register(fn_registry *r, char *err, size_t errlen);
int fn_digest_register(fn_registry *r, char *err, size_t errlen);
int fn_time_register(fn_registry *r, char *err, size_t errlen);

/* The descriptors as they are registered (tests use them directly). */

/* fn_math.c; sort in builtin_sort.c */
extern const fn_desc fn_builtin_count;
extern const fn_desc fn_builtin_fib;
extern const fn_desc fn_builtin_primes;
extern const fn_desc fn_builtin_matmul;
extern const fn_desc fn_builtin_sort;

/* fn_digest.c */
extern const fn_desc fn_builtin_sha256;
extern const fn_desc fn_builtin_file_sha256;

/* fn_time.c; crash and spin are debug_only */
extern const fn_desc fn_builtin_sleep;
extern const fn_desc fn_builtin_crash;
extern const fn_desc fn_builtin_spin;

/*
 * For tests only: when set, file_sha256 resolves paths with its realpath()
 * fallback as if the kernel had no openat2(2). Never set by the server.
 */
extern atomic_bool fn_file_force_fallback;

/* Adds the n descriptors of table to r as built-ins; 0 or -1 with err. */
int fn_builtin_add_all(fn_registry *r, const fn_desc *const *table, size_t n, char *err,
                       size_t errlen);

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
