/*
 * fn.h - the contract of a function (DESIGN.md section 5), and the lookups
 * the rest of crunchd uses: fn_find(), fn_list_json(), fn_count(), fn_at().
 *
 * A function is a descriptor: name, kind, argument schema, run(). Arguments are
 * validated (and defaults filled in) by fn_validate() before anything runs, so
 * run() may assume every argument is present, of the right type and in range.
 *
 * Where descriptors come from: a registry (fn_registry.h) that the built-ins
 * (fn_builtin.h) and the C plugins (fn_plugin.h) register into at start-up,
 * and the language runtimes (rt_load.h; their run() is rt_call.h's).
 * The lookups below read the process's current registry (fn_catalog_use(), fn_catalog.h);
 * a process that never chose one sees the built-ins alone.
 *
 * Thread rules: descriptors are immutable and shared by every thread; the
 * current registry is chosen once per process before its threads start
 * (fn_registry.h), so the lookups take no lock and may run on any thread.
 * run() is called on a pool thread (cpu lane or io pool) or, for a call
 * whose estimated cost is tiny, on the loop thread itself (never a function
 * without cost_ns: plugins have none); it must not touch anything but its
 * arguments and its ctx.
 */
#ifndef CRUNCHD_FN_H
#define CRUNCHD_FN_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kinds; arrays by kind are [FN_NKINDS], never [2]. */
typedef enum fn_kind { FN_CPU = 0, FN_IO, FN_NKINDS } fn_kind;

/* Longest function name + 1. Names are 1..FN_NAME_MAX-1 bytes of letters,
 * digits, '_', '-' and '.', starting with a letter (fn_registry_add). */
#define FN_NAME_MAX 64

typedef enum fn_arg_type {
    FN_ARG_INT,          /* JSON integer in [min, max] */
    FN_ARG_STRING,       /* JSON string, valid UTF-8, no NUL, length <= max */
    FN_ARG_ENUM,         /* JSON string, one of choices */
    FN_ARG_NUMBER_ARRAY, /* JSON array of numbers, length <= max */
} fn_arg_type;

typedef struct fn_arg {
    const char *name;
    fn_arg_type type;
    bool required;
    int64_t min, max;           /* INT: bounds; STRING/ARRAY: max length */
    int64_t def_int;            /* INT default when not required */
    const char *def_str;        /* STRING/ENUM default when not required */
    const char *const *choices; /* ENUM: NULL-terminated */
    const char *doc;            /* one line for /v1/functions */
} fn_arg;

/* Outcome of run(). */
typedef enum fn_status {
    FN_OK = 0,
    FN_CANCELLED, /* the cancel flag was seen */
    FN_TIMEOUT,   /* the deadline passed */
    FN_FAILED,    /* the function could not do its work; message says why */
    FN_LOST,      /* the process that ran it (a language runtime's, rt_call.h) died
                     under it; message says which. A job is re-queued while it has
                     retries and else fails worker_lost, as when its worker dies; a
                     sync call answers 502 worker_lost */
} fn_status;

/*
 * What a running function may see. The caller owns it and keeps it alive until
 * run() returns. cancel is set (to 1) by another thread to ask the function to
 * stop; deadline_ns is CLOCK_MONOTONIC nanoseconds, 0 for none.
 */
typedef struct fn_ctx {
    atomic_int cancel;
    int64_t deadline_ns;
    const char *data_dir;         /* borrowed; for io functions touching files */
    atomic_int_fast64_t progress; /* optional: the function's own progress count */
    char message[256];            /* run() writes the reason when it returns FN_FAILED */
} fn_ctx;

typedef struct fn_desc fn_desc;

struct fn_desc {
    const char *name;
    fn_kind kind;
    bool debug_only; /* exists only with "debug_functions": true */
    const fn_arg *args;
    int nargs;
    const char *doc;
    /*
     * Runs the function. self: this descriptor (adapters find their impl
     * there). args: borrowed, validated, defaults filled in. On FN_OK *result
     * is a new reference. On FN_FAILED ctx->message is set.
     */
    fn_status (*run)(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result);
    /*
     * Estimated run time in nanoseconds for these (validated) args; calls
     * estimated below FN_INLINE_NS run on the loop thread without a hand-off.
     * NULL means "never inline" (fn_may_inline()): every plugin function.
     */
    int64_t (*cost_ns)(json_t *args);
    /*
     * Optional checks that span more than the schema can say (a path that
     * must stay inside data_dir, base64 syntax). Called by fn_validate() after
     * the schema checks, with args borrowed and complete. Returns NULL when
     * the args are fine, else the offending argument's name, with err set to a
     * sentence such as "path: must not contain ..". NULL means "none".
     */
    const char *(*check)(json_t *args, char *err, size_t errlen);
    /* Adapter data, borrowed for the registry's life (a plugin's function
     * table entry); NULL for built-ins. */
    const void *impl;
    /*
     * Set by the registry on the copy it keeps (ignored when registering):
     * index is the position in its registry (0 .. fn_count() - 1, in the
     * order of registration, debug-only functions included, so it does not
     * change with debug_functions); series is the function's metrics series
     * (metrics_register_fns()), -1 when it has none.
     */
    int index;
    int series;
};

/* Calls estimated to take less than this run inline on the loop thread. */
#define FN_INLINE_NS 20000

/* ---- the current registry (fn_catalog_use(), fn_catalog.h) ---- */

/* Returns the function called name (len bytes, not NUL-terminated), or NULL
 * (also for debug-only functions when debug is false). O(log n). */
const fn_desc *fn_find(const char *name, size_t len, bool debug);

/* Functions registered, debug-only ones included; fn_at(i) for 0 <= i <
 * fn_count() is the one whose index is i (NULL outside the range). */
int fn_count(void);
const fn_desc *fn_at(int i);

/* Returns a new reference: {"functions": [{name, kind, doc, args: [...]}, ...]}
 * sorted by name; debug-only functions only when debug is true. */
json_t *fn_list_json(bool debug);

/* ---- one function ---- */

/* Returns a new reference describing fn as fn_list_json() lists it, or NULL
 * when out of memory. */
json_t *fn_desc_json(const fn_desc *fn);

/*
 * Validates args (borrowed; NULL is treated as {}) against fn's schema. On
 * success returns 0 and *out is a new reference to a fresh object with every
 * argument present (defaults filled in). On failure returns -1, *out is NULL,
 * bad_arg receives the offending argument's name ("" when the body is not an
 * object) and err a sentence such as "n: must be an integer from 0 to 93".
 * Unknown arguments are rejected by name: the name as utf8_echo() cuts it
 * (whole characters, "..." past UTF8_ECHO_MAX bytes), so give bad_arg
 * UTF8_ECHO_SIZE bytes; both buffers always end on a character boundary.
 */
int fn_validate(const fn_desc *fn, json_t *args, json_t **out, char *bad_arg, size_t bad_arg_len,
                char *err, size_t errlen);

/* Whether a call of fn with these validated args may run on the loop thread:
 * it has a cost estimate and the estimate is below FN_INLINE_NS. */
bool fn_may_inline(const fn_desc *fn, json_t *args);

/* Initialises a ctx: no cancel, no deadline (0), no progress. */
void fn_ctx_init(fn_ctx *ctx, int64_t deadline_ns, const char *data_dir);

/*
 * For use inside run(): returns FN_CANCELLED or FN_TIMEOUT if the function
 * should stop now, FN_OK to go on. Cheap: one atomic load and, at most, one
 * clock read.
 */
fn_status fn_ctx_check(fn_ctx *ctx);

/* Runs fn on the calling thread: fn->run(fn, args, ctx, result). */
fn_status fn_run(const fn_desc *fn, json_t *args, fn_ctx *ctx, json_t **result);

/*
 * Runs fn on the calling thread and measures it: *run_us the wall time,
 * *cpu_us the calling thread's CPU time (a system call each side: for calls
 * on a pool thread; the loop's tiny inline calls take run_us for both).
 */
fn_status fn_run_timed(const fn_desc *fn, json_t *args, fn_ctx *ctx, json_t **result,
                       int64_t *run_us, int64_t *cpu_us);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t fn_now_ns(void);

#endif
