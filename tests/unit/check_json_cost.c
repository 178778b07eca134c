/* Unit tests for common/json_cost.c: the estimate of what JSON text costs
 * once parsed, held against it what jansson really allocates. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_cost.h"

static int64_t cost_of(const char *s)
{
    return json_cost(s, strlen(s));
}

#define V JSON_VALUE_COST

START_TEST(test_counts_values)
{
    ck_assert_int_eq(cost_of(""), V); /* never less than one value */
    ck_assert_int_eq(cost_of("1"), 1 + V);
    ck_assert_int_eq(cost_of("[1,2,3]"), 7 + 4 * V);        /* the array and 3 numbers */
    ck_assert_int_eq(cost_of("{\"a\":1,\"b\":[2,3]}"), 17 + 7 * V); /* keys count too */
    ck_assert_int_eq(cost_of("[[],{}]"), 7 + 5 * V); /* rough: the document and its opener */
}
END_TEST

/* Separators and brackets inside strings are text, escapes included. */
START_TEST(test_strings_are_text)
{
    ck_assert_int_eq(cost_of("\"a,[b]:{c}\""), 11 + V);
    ck_assert_int_eq(cost_of("\"a\\\",b\""), 7 + V);
    ck_assert_int_eq(cost_of("[\"\\\\\",1]"), 8 + 3 * V); /* an escaped backslash ends */
}
END_TEST

START_TEST(test_depth)
{
    int64_t c = -1;
    ck_assert(!json_cost_within("[[[]]]", 6, 2, &c));
    ck_assert_int_eq(c, -1); /* not set */
    ck_assert(json_cost_within("[[[]]]", 6, 3, &c));
    ck_assert_int_eq(c, cost_of("[[[]]]"));
    ck_assert(json_cost_within("\"[[[[\"", 6, 1, &c)); /* brackets in a string do not nest */
}
END_TEST

/* What jansson holds, in glibc chunks (64-bit: the request plus 8 bytes,
 * rounded up to 16, at least 32): live now, and at most. */
static int64_t live, peak;

static size_t chunk_of(size_t n)
{
    size_t chunk = (n + 8 + 15) & ~(size_t)15;
    return chunk < 32 ? 32 : chunk;
}

static void *counting_malloc(size_t n)
{
    size_t *p = malloc(n + 16); /* the size in front */
    if (!p)
        return NULL;
    *p = n;
    live += (int64_t)chunk_of(n);
    if (live > peak)
        peak = live;
    return (char *)p + 16;
}

static void counting_free(void *v)
{
    if (!v)
        return;
    size_t *p = (size_t *)((char *)v - 16);
    live -= (int64_t)chunk_of(*p);
    free(p);
}

/* What the parsed value of text holds once parsed. */
static int64_t parsed_size(const char *text)
{
    json_error_t err;
    live = peak = 0;
    json_set_alloc_funcs(counting_malloc, counting_free);
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    int64_t held = live;
    json_decref(v);
    json_set_alloc_funcs(malloc, free);
    ck_assert_msg(v != NULL, "%s", err.text);
    ck_assert_int_eq(live, 0);
    return held;
}

/* The estimate is not below what the parsed value holds (but for a few
 * hundred bytes of fixed parts), and not far above, for the shapes the
 * functions' arguments take at their largest: many small numbers, one long
 * string (json_cost.h says what it does not cover: objects in bulk). */
START_TEST(test_not_below_the_parse)
{
    size_t n = 200000;
    char *text = malloc(n * 16 + 64);
    ck_assert_ptr_nonnull(text);
    const char *shapes[] = {"{\"values\":[", "{\"data\":\""};
    for (int k = 0; k < 2; k++) {
        size_t len = (size_t)sprintf(text, "%s", shapes[k]);
        for (size_t i = 0; i < n; i++) {
            if (k == 0)
                len += (size_t)sprintf(text + len, "%s%d", i ? "," : "", (int)(i % 10));
            else
                text[len++] = 'x';
        }
        strcpy(text + len, k == 0 ? "]}" : "\"}");
        int64_t est = cost_of(text), real = parsed_size(text);
        fprintf(stderr, "shape %d: %zu bytes of text, estimate %lld, parsed %lld (%lld at most)\n",
                k, strlen(text), (long long)est, (long long)real, (long long)peak);
        /* A container's fixed part (an object's hash table) is not counted. */
        ck_assert_msg(est + 1024 >= real, "shape %d: estimate %lld below the parse %lld", k,
                      (long long)est, (long long)real);
        ck_assert_msg(est <= 2 * real + 4096, "shape %d: estimate %lld, parse %lld", k,
                      (long long)est, (long long)real);
    }
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_cost");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_counts_values);
    tcase_add_test(tc, test_strings_are_text);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_not_below_the_parse);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
