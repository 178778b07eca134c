/*
 * fn.c - one function: its description, argument validation, the run context
 * and the runner. The registry is fn_registry.c; the built-in functions live
 * in fn_math.c, fn_digest.c and fn_time.c.
 */
#include "fn.h"
#include "utf8.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- description ---- */

static const char *arg_type_name(fn_arg_type t)
{
    switch (t) {
    case FN_ARG_INT: return "integer";
    case FN_ARG_STRING: return "string";
    case FN_ARG_ENUM: return "enum";
    case FN_ARG_NUMBER_ARRAY: return "array<number>";
    }
    return "unknown";
}

/* Returns a new reference describing one argument. */
static json_t *arg_json(const fn_arg *a)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:s}", "name", a->name, "type",
                          arg_type_name(a->type), "required", a->required, "doc",
                          a->doc ? a->doc : "");
    if (o == NULL)
        return NULL;
    switch (a->type) {
    case FN_ARG_INT:
        json_object_set_new(o, "min", json_integer(a->min));
        json_object_set_new(o, "max", json_integer(a->max));
        if (!a->required)
            json_object_set_new(o, "default", json_integer(a->def_int));
        break;
    case FN_ARG_ENUM: {
        json_t *choices = json_array();
        for (const char *const *c = a->choices; *c != NULL; c++)
            json_array_append_new(choices, json_string(*c));
        json_object_set_new(o, "choices", choices);
        if (!a->required)
            json_object_set_new(o, "default", json_string(a->def_str));
        break;
    }
    case FN_ARG_STRING:
        json_object_set_new(o, "max_length", json_integer(a->max));
        if (!a->required)
            json_object_set_new(o, "default", json_string(a->def_str ? a->def_str : ""));
        break;
    case FN_ARG_NUMBER_ARRAY:
        json_object_set_new(o, "max_length", json_integer(a->max));
        if (!a->required)
            json_object_set_new(o, "default", json_array());
        break;
    }
    return o;
}

json_t *fn_desc_json(const fn_desc *fn)
{
    json_t *args = json_array();
    for (int i = 0; args && i < fn->nargs; i++) {
        if (json_array_append_new(args, arg_json(&fn->args[i])) != 0) {
            json_decref(args);
            return NULL;
        }
    }
    if (!args)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:o}", "name", fn->name, "kind",
                     fn->kind == FN_CPU ? "cpu" : "io", "doc", fn->doc ? fn->doc : "",
                     "args", args);
}

/* ---- validation ---- */

/* Where fn_validate() reports a rejection: the caller's two buffers. */
typedef struct verr {
    char *arg;
    size_t arg_len;
    char *msg;
    size_t msg_len;
} verr;

static int reject(verr *e, const char *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reject(verr *e, const char *arg, const char *fmt, ...)
{
    va_list ap;
    if (e->arg_len > 0)
        utf8_copy(e->arg, e->arg_len, arg, strlen(arg));
    va_start(ap, fmt);
    if (e->msg_len > 0)
        vsnprintf(e->msg, e->msg_len, fmt, ap);
    va_end(ap);
    return -1;
}

static const fn_arg *find_arg(const fn_desc *fn, const char *name)
{
    for (int i = 0; i < fn->nargs; i++)
        if (strcmp(fn->args[i].name, name) == 0)
            return &fn->args[i];
    return NULL;
}

/* Writes '"a", "b"' for an enum's choices into buf. */
static void choices_text(const fn_arg *a, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const char *const *c = a->choices; *c != NULL && used < len; c++) {
        int n = snprintf(buf + used, len - used, "%s\"%s\"", c == a->choices ? "" : ", ", *c);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static int check_int(const fn_arg *a, json_t *v, verr *e)
{
    /* json_is_integer() is false for true/false and for reals such as 1.0. */
    if (!json_is_integer(v))
        return reject(e, a->name, "%s: expected integer", a->name);
    json_int_t x = json_integer_value(v);
    if (x < a->min || x > a->max)
        return reject(e, a->name, "%s: must be from %" PRId64 " to %" PRId64, a->name, a->min,
                      a->max);
    return 0;
}

static int check_string(const fn_arg *a, json_t *v, verr *e)
{
    if (!json_is_string(v))
        return reject(e, a->name, "%s: expected string", a->name);
    /* jansson has already checked the UTF-8; an escaped \u0000 is the one
     * thing it lets through, and C code downstream would truncate at it. */
    size_t len = json_string_length(v);
    if (strlen(json_string_value(v)) != len)
        return reject(e, a->name, "%s: contains a NUL byte", a->name);
    if ((int64_t)len > a->max)
        return reject(e, a->name, "%s: longer than %" PRId64 " bytes", a->name, a->max);
    return 0;
}

static int check_enum(const fn_arg *a, json_t *v, verr *e)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        for (const char *const *c = a->choices; *c != NULL; c++)
            if (strcmp(s, *c) == 0 && strlen(*c) == json_string_length(v))
                return 0;
    }
    char choices[192];
    choices_text(a, choices, sizeof(choices));
    return reject(e, a->name, "%s: expected one of %s", a->name, choices);
}

static int check_number_array(const fn_arg *a, json_t *v, verr *e)
{
    if (!json_is_array(v))
        return reject(e, a->name, "%s: expected array of numbers", a->name);
    size_t n = json_array_size(v);
    if ((int64_t)n > a->max)
        return reject(e, a->name, "%s: longer than %" PRId64 " items", a->name, a->max);
    for (size_t i = 0; i < n; i++)
        if (!json_is_number(json_array_get(v, i)))
            return reject(e, a->name, "%s: expected array of numbers (item %zu is not a number)",
                          a->name, i);
    return 0;
}

static int check_value(const fn_arg *a, json_t *v, verr *e)
{
    switch (a->type) {
    case FN_ARG_INT: return check_int(a, v, e);
    case FN_ARG_STRING: return check_string(a, v, e);
    case FN_ARG_ENUM: return check_enum(a, v, e);
    case FN_ARG_NUMBER_ARRAY: return check_number_array(a, v, e);
    }
    return reject(e, a->name, "%s: unsupported argument type", a->name);
}

/* Returns a new reference: the default of an optional argument. */
static json_t *default_value(const fn_arg *a)
{
    switch (a->type) {
    case FN_ARG_INT: return json_integer(a->def_int);
    case FN_ARG_STRING:
    case FN_ARG_ENUM: return json_string(a->def_str ? a->def_str : "");
    case FN_ARG_NUMBER_ARRAY: return json_array();
    }
    return NULL;
}

/* Every key of args must name an argument of fn. */
static int check_unknown(const fn_desc *fn, json_t *args, verr *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        if (find_arg(fn, key) == NULL) {
            char echo[UTF8_ECHO_SIZE];
            utf8_echo(echo, key, strlen(key));
            return reject(e, echo, "%s: unknown argument", echo);
        }
    }
    return 0;
}

/* Fills res (borrowed) with every argument of fn: the caller's value (shared,
 * not copied: validated args are never modified) or the default. */
static int fill_args(const fn_desc *fn, json_t *args, json_t *res, verr *e)
{
    for (int i = 0; i < fn->nargs; i++) {
        const fn_arg *a = &fn->args[i];
        json_t *v = args ? json_object_get(args, a->name) : NULL;
        if (v == NULL) {
            if (a->required)
                return reject(e, a->name, "%s: required", a->name);
            if (json_object_set_new(res, a->name, default_value(a)) != 0)
                return reject(e, a->name, "%s: out of memory", a->name);
            continue;
        }
        if (check_value(a, v, e) != 0)
            return -1;
        if (json_object_set(res, a->name, v) != 0)
            return reject(e, a->name, "%s: out of memory", a->name);
    }
    return 0;
}

int fn_validate(const fn_desc *fn, json_t *args, json_t **out, char *bad_arg, size_t bad_arg_len,
                char *err, size_t errlen)
{
    verr e = {bad_arg, bad_arg_len, err, errlen};
    json_t *res = NULL; /* new reference; handed to *out on success */

    assert(fn != NULL && out != NULL);
    *out = NULL;
    if (bad_arg_len > 0)
        bad_arg[0] = '\0';
    if (errlen > 0)
        err[0] = '\0';

    if (args != NULL && !json_is_object(args))
        return reject(&e, "", "arguments must be a JSON object");
    if (args != NULL && check_unknown(fn, args, &e) != 0)
        return -1;
    res = json_object();
    if (res == NULL)
        return reject(&e, "", "out of memory");
    if (fill_args(fn, args, res, &e) != 0)
        goto err;
    if (fn->check != NULL) {
        const char *bad = fn->check(res, err, errlen);
        if (bad != NULL) {
            if (bad_arg_len > 0)
                snprintf(bad_arg, bad_arg_len, "%s", bad);
            goto err;
        }
    }
    *out = res;
    return 0;

err:
    json_decref(res);
    return -1;
}

/* ---- run context ---- */

void fn_ctx_init(fn_ctx *ctx, int64_t deadline_ns, const char *data_dir)
{
    atomic_init(&ctx->cancel, 0);
    ctx->deadline_ns = deadline_ns;
    ctx->data_dir = data_dir;
    atomic_init(&ctx->progress, 0);
    ctx->message[0] = '\0';
}

fn_status fn_ctx_check(fn_ctx *ctx)
{
    if (atomic_load(&ctx->cancel) != 0)
        return FN_CANCELLED;
    if (ctx->deadline_ns != 0 && fn_now_ns() >= ctx->deadline_ns)
        return FN_TIMEOUT;
    return FN_OK;
}

int64_t fn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool fn_may_inline(const fn_desc *fn, json_t *args)
{
    return fn->cost_ns != NULL && fn->cost_ns(args) < FN_INLINE_NS;
}

fn_status fn_run(const fn_desc *fn, json_t *args, fn_ctx *ctx, json_t **result)
{
    return fn->run(fn, args, ctx, result);
}

static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

fn_status fn_run_timed(const fn_desc *fn, json_t *args, fn_ctx *ctx, json_t **result,
                       int64_t *run_us, int64_t *cpu_us)
{
    int64_t t0 = fn_now_ns(), cpu0 = thread_cpu_us();
    fn_status st = fn->run(fn, args, ctx, result);
    *run_us = (fn_now_ns() - t0) / 1000;
    *cpu_us = thread_cpu_us() - cpu0;
    return st;
}
