/*
 * fn_registry.c - see fn_registry.h. Entries are kept in the order of
 * registration (their index) and, as a second array of indexes, sorted by
 * name for fn_find()'s binary search and fn_list_json()'s order.
 */
#include "fn_registry.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"

typedef struct fn_entry {
    fn_desc desc; /* the copy; desc.index == its position */
    char *origin; /* owned */
} fn_entry;

typedef struct fn_owned {
    void *p;
    void (*release)(void *p);
} fn_owned;

struct fn_registry {
    fn_entry **e; /* n entries in the order of registration; each owned */
    int *by_name; /* n indexes into e, sorted by name */
    int n, cap;
    fn_owned *owned; /* released last first by fn_registry_free() */
    int nowned, capowned;
    bool used; /* some process chose it: no more changes */
};


/* ---- building ---- */

fn_registry *fn_registry_new(void)
{
    return calloc(1, sizeof(fn_registry));
}

void fn_registry_free(fn_registry *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        free(r->e[i]->origin);
        free(r->e[i]);
    }
    free(r->e);
    free(r->by_name);
    for (int i = r->nowned - 1; i >= 0; i--)
        r->owned[i].release(r->owned[i].p);
    free(r->owned);
    free(r);
}

static bool name_char_ok(char c, bool first)
{
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (first)
        return letter;
    return letter || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static const char *name_problem(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0)
        return "has no name";
    if (len >= FN_NAME_MAX)
        return "has a name longer than 63 bytes";
    for (size_t i = 0; i < len; i++)
        if (!name_char_ok(name[i], i == 0))
            return "has a name that is not a letter followed by letters, digits, '_', '-' or '.'";
    return NULL;
}

static bool in_choices(const char *const *choices, const char *s)
{
    for (const char *const *c = choices; s && *c; c++)
        if (strcmp(*c, s) == 0)
            return true;
    return false;
}

/* The problem with one argument's schema, or NULL; why (len bytes) may
 * receive the details. */
static const char *arg_problem(const fn_arg *a, char *why, size_t len)
{
    switch (a->type) {
    case FN_ARG_INT:
        if (a->min > a->max) {
            snprintf(why, len, "min %" PRId64 " is above max %" PRId64, a->min, a->max);
            return why;
        }
        if (!a->required && (a->def_int < a->min || a->def_int > a->max)) {
            snprintf(why, len, "default %" PRId64 " is outside %" PRId64 " .. %" PRId64, a->def_int,
                     a->min, a->max);
            return why;
        }
        return NULL;
    case FN_ARG_STRING:
        if (a->max < 0)
            return "a negative max length";
        if (!a->required && a->def_str && (int64_t)strlen(a->def_str) > a->max)
            return "a default longer than its max length";
        return NULL;
    case FN_ARG_ENUM:
        if (!a->choices || !a->choices[0])
            return "an enum without choices";
        if (!a->required && !in_choices(a->choices, a->def_str))
            return "a default that is not one of its choices";
        return NULL;
    case FN_ARG_NUMBER_ARRAY: return a->max < 0 ? "a negative max length" : NULL;
    }
    return "an unknown type";
}

/* Checks what fn_validate() and the listing rely on; 0 or -1 with err. */
static int desc_check(const fn_desc *d, const char *origin, char *err, size_t errlen)
{
    const char *bad = name_problem(d->name);
    char why[160];
    if (bad)
        return errbuf_fail(err, errlen, "a function of %s %s", origin, bad);
    if (d->kind < 0 || d->kind >= FN_NKINDS)
        return errbuf_fail(err, errlen, "function \"%s\" of %s: unknown kind %d", d->name, origin,
                           (int)d->kind);
    if (!d->run)
        return errbuf_fail(err, errlen, "function \"%s\" of %s: no run()", d->name, origin);
    if (d->nargs < 0 || (d->nargs > 0 && !d->args))
        return errbuf_fail(err, errlen, "function \"%s\" of %s: bad argument list", d->name,
                           origin);
    for (int i = 0; i < d->nargs; i++) {
        const fn_arg *a = &d->args[i];
        if (!a->name || !a->name[0])
            return errbuf_fail(err, errlen, "function \"%s\" of %s: argument %d has no name",
                               d->name, origin, i);
        for (int j = 0; j < i; j++)
            if (strcmp(d->args[j].name, a->name) == 0)
                return errbuf_fail(err, errlen, "function \"%s\" of %s: argument \"%s\" twice",
                                   d->name, origin, a->name);
        if ((bad = arg_problem(a, why, sizeof(why))) != NULL)
            return errbuf_fail(err, errlen, "function \"%s\" of %s: argument \"%s\": %s", d->name,
                               origin, a->name, bad);
    }
    return 0;
}

/* Compares name (len bytes) with a NUL-terminated entry name, as strcmp. */
static int name_cmp(const char *name, size_t len, const char *entry)
{
    size_t elen = strlen(entry);
    int c = memcmp(name, entry, len < elen ? len : elen);
    if (c != 0)
        return c;
    return len < elen ? -1 : len > elen ? 1 : 0;
}

/* Position in by_name of name, or where it would go (*found false). */
static int name_pos(const fn_registry *r, const char *name, size_t len, bool *found)
{
    int lo = 0, hi = r->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = name_cmp(name, len, r->e[r->by_name[mid]]->desc.name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

static int clash(const fn_registry *r, int pos, const char *name, const char *origin, char *err,
                 size_t errlen)
{
    const char *other = r->e[r->by_name[pos]]->origin;
    if (strcmp(other, FN_ORIGIN_BUILTIN) == 0)
        return errbuf_fail(err, errlen, "function \"%s\" of %s clashes with the built-in \"%s\"",
                           name, origin, name);
    return errbuf_fail(err, errlen, "function \"%s\" of %s clashes with \"%s\" of %s", name, origin,
                       name, other);
}

static int grow(fn_registry *r)
{
    int cap = r->cap ? r->cap * 2 : 16;
    fn_entry **e = realloc(r->e, (size_t)cap * sizeof(*e));
    if (!e)
        return -1;
    r->e = e;
    int *by = realloc(r->by_name, (size_t)cap * sizeof(*by));
    if (!by)
        return -1;
    r->by_name = by;
    r->cap = cap;
    return 0;
}

int fn_registry_add(fn_registry *r, const fn_desc *desc, const char *origin, char *err,
                    size_t errlen)
{
    bool found;
    assert(r && desc && origin && !r->used);
    if (desc_check(desc, origin, err, errlen) < 0)
        return -1;
    int pos = name_pos(r, desc->name, strlen(desc->name), &found);
    if (found)
        return clash(r, pos, desc->name, origin, err, errlen);
    if (r->n >= FN_REGISTRY_MAX)
        return errbuf_fail(err, errlen, "function \"%s\" of %s: more than %d functions", desc->name,
                           origin, FN_REGISTRY_MAX);
    fn_entry *e = calloc(1, sizeof(*e));
    if (!e || !(e->origin = strdup(origin)) || (r->n == r->cap && grow(r) < 0)) {
        if (e)
            free(e->origin);
        free(e);
        return errbuf_fail(err, errlen, "function \"%s\" of %s: out of memory", desc->name, origin);
    }
    e->desc = *desc;
    e->desc.index = r->n;
    e->desc.series = -1;
    r->e[r->n] = e;
    memmove(&r->by_name[pos + 1], &r->by_name[pos], (size_t)(r->n - pos) * sizeof(int));
    r->by_name[pos] = r->n;
    r->n++;
    return 0;
}

int fn_registry_own(fn_registry *r, void *p, void (*release)(void *p))
{
    assert(r && release && !r->used);
    if (r->nowned == r->capowned) {
        int cap = r->capowned ? r->capowned * 2 : 8;
        fn_owned *o = realloc(r->owned, (size_t)cap * sizeof(*o));
        if (!o) {
            release(p);
            return -1;
        }
        r->owned = o;
        r->capowned = cap;
    }
    r->owned[r->nowned++] = (fn_owned){p, release};
    return 0;
}

void fn_registry_set_series(fn_registry *r, int i, int series)
{
    assert(r && i >= 0 && i < r->n && !r->used);
    r->e[i]->desc.series = series;
}

/* ---- reading ---- */

int fn_registry_count(const fn_registry *r)
{
    return r->n;
}

const fn_desc *fn_registry_at(const fn_registry *r, int i)
{
    return i >= 0 && i < r->n ? &r->e[i]->desc : NULL;
}

const char *fn_registry_origin(const fn_registry *r, int i)
{
    return i >= 0 && i < r->n ? r->e[i]->origin : NULL;
}

const fn_desc *fn_registry_find(const fn_registry *r, const char *name, size_t len, bool debug)
{
    bool found;
    int pos = name_pos(r, name, len, &found);
    if (!found)
        return NULL;
    const fn_desc *d = &r->e[r->by_name[pos]]->desc;
    return d->debug_only && !debug ? NULL : d;
}

json_t *fn_registry_list_json(const fn_registry *r, bool debug)
{
    json_t *list = json_array();
    for (int i = 0; list && i < r->n; i++) {
        const fn_desc *d = &r->e[r->by_name[i]]->desc;
        if (d->debug_only && !debug)
            continue;
        if (json_array_append_new(list, fn_desc_json(d)) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list ? json_pack("{s:o}", "functions", list) : NULL;
}

void fn_registry_seal(const fn_registry *r)
{
    ((fn_registry *)r)->used = true; /* the flag only: the functions never change */
}
