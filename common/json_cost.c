/*
 * json_cost.c - the memory a JSON text will take once parsed, from its text.
 */
#include "json_cost.h"

#include <limits.h>

bool json_cost_within(const char *p, size_t n, int max_depth, int64_t *cost)
{
    int depth = 0;
    int64_t values = 1;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            values++;
            if (++depth > max_depth)
                return false;
        } else if (ch == ']' || ch == '}') {
            depth--;
        } else if (ch == ',' || ch == ':') {
            values++;
        }
    }
    *cost = (int64_t)n + values * JSON_VALUE_COST;
    return true;
}

int64_t json_cost(const char *p, size_t n)
{
    int64_t cost = 0;
    json_cost_within(p, n, INT_MAX, &cost);
    return cost;
}
