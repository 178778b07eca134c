/*
 * fn_math.c - the CPU-bound built-ins: count, fib, primes, matmul (sort is
 * in builtin_sort.c)
 * (DESIGN.md section 5). Each polls fn_ctx_check() often enough to stop
 * within a few milliseconds of a cancel or a deadline.
 */
#include "builtin.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INT62 ((int64_t)1 << 62)

/* ---- count ---- */

/* Iterations between two cancel polls: ~0.5 ms at 0.5 ns an iteration. */
#define COUNT_CHUNK ((int64_t)1 << 20)

static const fn_arg count_args[] = {
    {.name = "start", .type = FN_ARG_INT, .min = -INT62, .max = INT62, .def_int = 0,
     .doc = "value to start from"},
    {.name = "iterations", .type = FN_ARG_INT, .min = 0, .max = 100000000000, .def_int = 10000000,
     .doc = "number of increments to perform, one at a time"},
};

static fn_status count_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    int64_t iterations = fn_arg_int(args, "iterations");
    uint64_t sum = (uint64_t)fn_arg_int(args, "start");

    for (int64_t done = 0; done < iterations;) {
        fn_status st = fn_ctx_check(ctx);
        if (st != FN_OK)
            return st;
        int64_t chunk = iterations - done < COUNT_CHUNK ? iterations - done : COUNT_CHUNK;
        for (int64_t i = 0; i < chunk; i++) {
            sum++;
            /* Makes sum opaque to the optimiser, so the loop cannot be folded
             * into one addition: the point of count is to burn real cycles. */
            __asm__ volatile("" : "+r"(sum));
        }
        done += chunk;
        fn_set_progress(ctx, done);
    }
    *result = json_integer((json_int_t)(int64_t)sum);
    return FN_OK;
}

static int64_t count_cost(json_t *args) { return fn_arg_int(args, "iterations") / 2; }

const fn_desc fn_builtin_count = {
    .name = "count",
    .kind = FN_CPU,
    .args = count_args,
    .nargs = sizeof(count_args) / sizeof(count_args[0]),
    .doc = "start + iterations, computed by a loop of single increments",
    .run = count_run,
    .cost_ns = count_cost,
};

/* ---- fib ---- */

static const fn_arg fib_args[] = {
    {.name = "n", .type = FN_ARG_INT, .min = 0, .max = 93, .def_int = 10,
     .doc = "index of the Fibonacci number (fib(0) = 0, fib(1) = 1)"},
};

static fn_status fib_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    int64_t n = fn_arg_int(args, "n");
    uint64_t a = 0, b = 1;

    /* b wraps on the last step for n = 93; it is never read then. */
    for (int64_t i = 0; i < n; i++) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    if (a <= INT64_MAX) {
        *result = json_integer((json_int_t)a);
    } else {
        /* fib(93) needs 64 unsigned bits; JSON integers here are signed. */
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRIu64, a);
        *result = json_string(buf);
    }
    return *result ? FN_OK : fn_fail(ctx, "out of memory");
}

static int64_t fib_cost(json_t *args)
{
    (void)args;
    return 100;
}

const fn_desc fn_builtin_fib = {
    .name = "fib",
    .kind = FN_CPU,
    .args = fib_args,
    .nargs = sizeof(fib_args) / sizeof(fib_args[0]),
    .doc = "the n-th Fibonacci number; an integer, or a decimal string for n = 93 "
           "(12200160415121876738 does not fit a signed 64-bit integer)",
    .run = fib_run,
    .cost_ns = fib_cost,
};

/* ---- primes ---- */

/* Odd numbers per segment, one byte each: 128 KiB stays in L2. */
#define SIEVE_SEGMENT (128 * 1024)

static const fn_arg primes_args[] = {
    {.name = "limit", .type = FN_ARG_INT, .min = 0, .max = 10000000000, .def_int = 1000000,
     .doc = "count the primes less than or equal to this"},
};

static uint64_t isqrt_u64(uint64_t x)
{
    uint64_t r = (uint64_t)sqrt((double)x);
    while (r * r > x)
        r--;
    while ((r + 1) * (r + 1) <= x)
        r++;
    return r;
}

/* Returns a malloc'd, ascending array of the odd primes <= max, their count
 * in *n; NULL when out of memory. */
static uint32_t *odd_primes_upto(uint32_t max, size_t *n)
{
    unsigned char *composite = calloc((size_t)max + 1, 1);
    uint32_t *primes = malloc(((size_t)max / 2 + 1) * sizeof(*primes));
    *n = 0;
    if (composite == NULL || primes == NULL) {
        free(composite);
        free(primes);
        return NULL;
    }
    for (uint32_t i = 3; i <= max; i += 2) {
        if (composite[i])
            continue;
        primes[(*n)++] = i;
        for (uint64_t j = (uint64_t)i * i; j <= max; j += 2 * (uint64_t)i)
            composite[j] = 1;
    }
    free(composite);
    return primes;
}

/*
 * Sieves the odd numbers of [low, low + 2 * len) in seg (seg[j] stands for
 * low + 2j) with every base prime whose square is in range, and returns how
 * many stay unmarked. next[i] is the next odd multiple of base[i] still to
 * mark; it carries over to the next segment.
 */
static size_t sieve_segment(unsigned char *seg, size_t len, uint64_t low, const uint32_t *base,
                            uint64_t *next, size_t nbase)
{
    uint64_t high = low + 2 * (uint64_t)(len - 1);
    size_t marked = 0;

    memset(seg, 0, len);
    for (size_t i = 0; i < nbase && (uint64_t)base[i] * base[i] <= high; i++) {
        size_t j = (size_t)((next[i] - low) / 2);
        for (; j < len; j += base[i])
            seg[j] = 1;
        next[i] = low + 2 * (uint64_t)j;
    }
    for (size_t j = 0; j < len; j++)
        marked += seg[j];
    return len - marked;
}

static fn_status primes_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    uint64_t limit = (uint64_t)fn_arg_int(args, "limit");
    uint32_t *base = NULL;
    uint64_t *next = NULL;
    unsigned char *seg = NULL;
    size_t nbase;
    uint64_t count = limit >= 2; /* the one even prime */
    fn_status st = FN_OK;

    base = odd_primes_upto((uint32_t)isqrt_u64(limit), &nbase);
    next = malloc((nbase + 1) * sizeof(*next));
    seg = malloc(SIEVE_SEGMENT);
    if (base == NULL || next == NULL || seg == NULL) {
        st = fn_fail(ctx, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nbase; i++)
        next[i] = (uint64_t)base[i] * base[i]; /* smaller multiples have smaller factors */

    for (uint64_t low = 3; low <= limit; low += 2 * (uint64_t)SIEVE_SEGMENT) {
        st = fn_ctx_check(ctx);
        if (st != FN_OK)
            goto done;
        uint64_t odd_left = (limit - low) / 2 + 1; /* odd numbers in [low, limit] */
        size_t len = odd_left < SIEVE_SEGMENT ? (size_t)odd_left : SIEVE_SEGMENT;
        count += sieve_segment(seg, len, low, base, next, nbase);
        fn_set_progress(ctx, (int64_t)(low + 2 * (uint64_t)(len - 1)));
    }
    *result = json_pack("{s:I}", "count", (json_int_t)count);
    if (*result == NULL)
        st = fn_fail(ctx, "out of memory");

done:
    free(base);
    free(next);
    free(seg);
    return st;
}

static int64_t primes_cost(json_t *args) { return fn_arg_int(args, "limit") * 2; }

const fn_desc fn_builtin_primes = {
    .name = "primes",
    .kind = FN_CPU,
    .args = primes_args,
    .nargs = sizeof(primes_args) / sizeof(primes_args[0]),
    .doc = "{\"count\": number of primes <= limit}, by a segmented sieve",
    .run = primes_run,
    .cost_ns = primes_cost,
};

/* ---- matmul ---- */

static const fn_arg matmul_args[] = {
    {.name = "n", .type = FN_ARG_INT, .min = 1, .max = 1024, .def_int = 128,
     .doc = "size of the square matrices"},
    {.name = "seed", .type = FN_ARG_INT, .min = 0, .max = INT62, .def_int = 1,
     .doc = "seed of the xorshift64* generator that fills A, then B, row by row"},
};

/* xorshift64* (Vigna); state must never be 0. */
static uint64_t xorshift64s(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Seed 0 would be the generator's fixed point (all zeros); it stands for this. */
#define MATMUL_SEED0 UINT64_C(0x9E3779B97F4A7C15)

static void matmul_fill(uint32_t *m, size_t count, uint64_t *state)
{
    for (size_t i = 0; i < count; i++)
        m[i] = (uint32_t)(xorshift64s(state) % 1000);
}

/* C's row i = sum over k of A[i][k] * B's row k: the i-k-j order walks B and
 * the row of C sequentially. Entries stay below 1024 * 999 * 999 < 2^30. */
static uint64_t matmul_row(const uint32_t *a, const uint32_t *b, uint64_t *row, size_t n, size_t i)
{
    uint64_t sum = 0;
    memset(row, 0, n * sizeof(*row));
    for (size_t k = 0; k < n; k++) {
        uint64_t aik = a[i * n + k];
        const uint32_t *bk = b + k * n;
        for (size_t j = 0; j < n; j++)
            row[j] += aik * bk[j];
    }
    for (size_t j = 0; j < n; j++)
        sum += row[j];
    return sum;
}

static fn_status matmul_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    size_t n = (size_t)fn_arg_int(args, "n");
    uint64_t state = (uint64_t)fn_arg_int(args, "seed");
    uint32_t *a = malloc(n * n * sizeof(*a));
    uint32_t *b = malloc(n * n * sizeof(*b));
    uint64_t *row = malloc(n * sizeof(*row));
    uint64_t checksum = 0;
    fn_status st = FN_OK;

    if (a == NULL || b == NULL || row == NULL) {
        st = fn_fail(ctx, "out of memory");
        goto done;
    }
    if (state == 0)
        state = MATMUL_SEED0;
    matmul_fill(a, n * n, &state);
    matmul_fill(b, n * n, &state);
    for (size_t i = 0; i < n; i++) {
        st = fn_ctx_check(ctx);
        if (st != FN_OK)
            goto done;
        checksum += matmul_row(a, b, row, n, i);
        fn_set_progress(ctx, (int64_t)i + 1);
    }
    *result = json_pack("{s:I, s:I}", "n", (json_int_t)n, "checksum",
                        (json_int_t)(checksum & (uint64_t)INT64_MAX));
    if (*result == NULL)
        st = fn_fail(ctx, "out of memory");

done:
    free(a);
    free(b);
    free(row);
    return st;
}

static int64_t matmul_cost(json_t *args)
{
    int64_t n = fn_arg_int(args, "n");
    return n * n * n;
}

const fn_desc fn_builtin_matmul = {
    .name = "matmul",
    .kind = FN_CPU,
    .args = matmul_args,
    .nargs = sizeof(matmul_args) / sizeof(matmul_args[0]),
    .doc = "{\"n\", \"checksum\"}: the sum (mod 2^63) of the entries of A x B, two n x n "
           "matrices of values 0..999 from xorshift64*(seed; 0 stands for 0x9E3779B97F4A7C15)",
    .run = matmul_run,
    .cost_ns = matmul_cost,
};

int fn_math_register(fn_registry *r, char *err, size_t errlen)
{
    static const fn_desc *const table[] = {&fn_builtin_count, &fn_builtin_fib, &fn_builtin_primes,
                                           &fn_builtin_matmul, &fn_builtin_sort};
    return fn_builtin_add_all(r, table, sizeof(table) / sizeof(table[0]), err, errlen);
}
