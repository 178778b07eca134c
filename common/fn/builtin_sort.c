/*
 * builtin_sort.c - the sort built-in (DESIGN.md section 5): a stable numeric
 * sort of up to 10^6 integers and reals, in place.
 */
#include "builtin.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const fn_arg sort_args[] = {
    {.name = "values", .type = FN_ARG_NUMBER_ARRAY, .required = true, .max = 1000000,
     .doc = "the numbers to sort (integers and reals may be mixed)"},
};

/* An element of the array being sorted, copied out of its json_t so the
 * comparisons touch one contiguous array; idx makes the sort stable. 16
 * bytes: a million of them cost 16 MB, so every byte counts (values are at
 * most 10^6, so idx fits 32 bits). */
typedef struct sort_item {
    union {
        json_int_t i; /* when is_int */
        double d;     /* otherwise */
    };
    uint32_t idx;
    bool is_int;
} sort_item;

/* Compares an integer with a finite real exactly (a double cannot hold every
 * int64, so neither converts to the other without loss). */
static int cmp_int_real(json_int_t i, double d)
{
    if (isnan(d) || d >= 9223372036854775808.0) /* 2^63 */
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    double t = trunc(d);
    json_int_t ti = (json_int_t)t;
    if (i != ti)
        return i < ti ? -1 : 1;
    double frac = d - t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cmp_number(const sort_item *a, const sort_item *b)
{
    if (a->is_int && b->is_int)
        return (a->i > b->i) - (a->i < b->i);
    if (a->is_int)
        return cmp_int_real(a->i, b->d);
    if (b->is_int)
        return -cmp_int_real(b->i, a->d);
    return (a->d > b->d) - (a->d < b->d);
}

/* A total order: equal numbers are ordered by position, so any correct sort
 * gives the same, stable, result. */
static inline bool item_less(const sort_item *a, const sort_item *b)
{
    int c = cmp_number(a, b);
    return c != 0 ? c < 0 : a->idx < b->idx;
}

static inline void item_swap(sort_item *a, sort_item *b)
{
    sort_item t = *a;
    *a = *b;
    *b = t;
}

static void insertion_sort(sort_item *a, ptrdiff_t n)
{
    for (ptrdiff_t i = 1; i < n; i++) {
        sort_item x = a[i];
        ptrdiff_t j = i;
        for (; j > 0 && item_less(&x, &a[j - 1]); j--)
            a[j] = a[j - 1];
        a[j] = x;
    }
}

static void sift_down(sort_item *a, ptrdiff_t root, ptrdiff_t n)
{
    for (ptrdiff_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && item_less(&a[child], &a[child + 1]))
            child++;
        if (!item_less(&a[root], &a[child]))
            return;
        item_swap(&a[root], &a[child]);
    }
}

static void heap_sort(sort_item *a, ptrdiff_t n)
{
    for (ptrdiff_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (ptrdiff_t end = n - 1; end > 0; end--) {
        item_swap(&a[0], &a[end]);
        sift_down(a, 0, end);
    }
}

/*
 * Sorts in place: glibc's qsort() is a merge sort with a buffer as large as
 * the array (another 16 MB at the 10^6 cap, at the moment a worker's memory
 * peaks). Introsort: quicksort on a median of three, Hoare's partition,
 * heapsort past depth (so never quadratic), insertion sort for short runs;
 * recursion only into the smaller part, so the stack stays O(log n).
 */
static void intro_sort(sort_item *a, ptrdiff_t n, int depth)
{
    while (n > 16) {
        if (depth-- == 0) {
            heap_sort(a, n);
            return;
        }
        ptrdiff_t mid = n / 2;
        if (item_less(&a[mid], &a[0]))
            item_swap(&a[mid], &a[0]);
        if (item_less(&a[n - 1], &a[0]))
            item_swap(&a[n - 1], &a[0]);
        if (item_less(&a[n - 1], &a[mid]))
            item_swap(&a[n - 1], &a[mid]);
        sort_item pivot = a[mid];
        ptrdiff_t i = -1, j = n;
        for (;;) {
            do
                i++;
            while (item_less(&a[i], &pivot));
            do
                j--;
            while (item_less(&pivot, &a[j]));
            if (i >= j)
                break;
            item_swap(&a[i], &a[j]);
        }
        ptrdiff_t left = j + 1; /* a[0..j] <= pivot <= a[j+1..n-1], both non-empty */
        if (left < n - left) {
            intro_sort(a, left, depth);
            a += left;
            n -= left;
        } else {
            intro_sort(a + left, n - left, depth);
            n = left;
        }
    }
    insertion_sort(a, n);
}

/*
 * Returns a new reference, and frees items. The sorted array shares its
 * elements with the argument array: a million numbers would otherwise cost
 * another ~40 MB of jansson values. Numbers are never modified, and
 * jansson's reference counts are atomic (JSON_HAVE_ATOMIC_BUILTINS), so args
 * and result may be freed on different threads.
 *
 * Only the order is needed now: it is packed into the front of items, 4
 * bytes an element instead of 16 (the k-th index lands where item k/4 was,
 * read already), and the rest goes back before the result array grows, so
 * the two are never held at full size together.
 */
static json_t *sort_result(json_t *values, sort_item *items, size_t n)
{
    char *packed = (char *)items;
    for (size_t k = 0; k < n; k++) {
        uint32_t idx = items[k].idx;
        memcpy(packed + k * sizeof(idx), &idx, sizeof(idx));
    }
    char *order = realloc(packed, (n ? n : 1) * sizeof(uint32_t));
    if (order == NULL) /* cannot happen when shrinking; keep the old block then */
        order = packed;
    json_t *out = json_array();
    for (size_t k = 0; out != NULL && k < n; k++) {
        uint32_t idx;
        memcpy(&idx, order + k * sizeof(idx), sizeof(idx));
        if (json_array_append(out, json_array_get(values, idx)) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    free(order);
    return out;
}

static fn_status sort_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    json_t *values = json_object_get(args, "values");
    size_t n = json_array_size(values);
    sort_item *items = malloc((n ? n : 1) * sizeof(*items));
    fn_status st;

    if (items == NULL)
        return fn_fail(ctx, "out of memory");
    for (size_t k = 0; k < n; k++) {
        json_t *v = json_array_get(values, k);
        items[k] = (sort_item){.is_int = json_is_integer(v), .idx = (uint32_t)k};
        if (items[k].is_int)
            items[k].i = json_integer_value(v);
        else
            items[k].d = json_real_value(v);
    }
    /* The sort cannot be interrupted; at the 10^6 cap it takes ~0.17 s. */
    st = fn_ctx_check(ctx);
    if (st == FN_OK) {
        intro_sort(items, (ptrdiff_t)n, 2 * (int)log2((double)(n ? n : 1)) + 2);
        st = fn_ctx_check(ctx);
    }
    if (st != FN_OK) {
        free(items);
        return st;
    }
    *result = sort_result(values, items, n);
    return *result ? FN_OK : fn_fail(ctx, "out of memory");
}

static int64_t sort_cost(json_t *args)
{
    int64_t n = (int64_t)json_array_size(json_object_get(args, "values"));
    return n < 2 ? 20 : (int64_t)((double)n * log2((double)n) * 20);
}

const fn_desc fn_builtin_sort = {
    .name = "sort",
    .kind = FN_CPU,
    .args = sort_args,
    .nargs = sizeof(sort_args) / sizeof(sort_args[0]),
    .doc = "the values in ascending numeric order (stable; integers stay integers, "
           "reals stay reals)",
    .run = sort_run,
    .cost_ns = sort_cost,
};
