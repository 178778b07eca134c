/*
 * json_cost.h - what a JSON text will cost in memory once parsed, estimated
 * from the text in one pass, without parsing it.
 *
 * Parsed JSON is larger than its text: a number in an array is 2 bytes of
 * text and a jansson value of ~48 bytes (the value, its slot in the array,
 * malloc's overhead), so a 1 MiB array of small integers parses to ~25 MB.
 * The estimate is the text's length plus JSON_VALUE_COST per value, values
 * counted roughly (openers and separators outside strings). The worker holds
 * it against its args budget (worker/engine/budget.h): for a request body
 * before it is parsed, and for a claimed job's args as the store read them
 * (job.args_cost, job.h).
 *
 * The text need not be valid JSON: the estimate is then of what it would
 * cost if it were. Small objects in bulk cost more than this counts (each
 * has a hash table: jansson holds ~350 bytes for {"k":1}, counted ~150);
 * the functions' arguments are objects at the top, arrays of numbers and
 * strings below, where it holds (tests/unit/check_json_cost.c).
 *
 * Pure functions; any thread.
 */
#ifndef CRUNCHD_JSON_COST_H
#define CRUNCHD_JSON_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a parsed value costs on top of its text: a jansson value, its slot
 * in an array or object, malloc's overhead. */
#define JSON_VALUE_COST 48

/* The estimate for the n bytes of JSON text at p, however deep it nests. */
int64_t json_cost(const char *p, size_t n);

/* The same in the same pass, with a depth check: false (and *cost not set)
 * when the text nests deeper than max_depth arrays and objects. */
bool json_cost_within(const char *p, size_t n, int max_depth, int64_t *cost);

#endif
