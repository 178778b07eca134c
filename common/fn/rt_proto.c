/*
 * rt_proto.c - see rt_proto.h. The hello is parsed strictly (every key known,
 * every type checked) into descriptors whose strings and arrays the hello
 * owns; fn_registry_add() then checks what spans keys (bounds, defaults).
 */
#include "rt_proto.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "fn_registry.h"

#define PATH_MAX_LEN 64 /* "functions[4095].args[63]" */

struct rt_proto_hello {
    int runtime;        /* what each descriptor's impl points to */
    char *runtime_text; /* "runtime", or "" */
    fn_desc *fns;       /* n descriptors; their strings and args are owned here */
    int n;
};

/* Argument types by their listed name (fn.c's arg_type_name()). */
static const struct {
    const char *name;
    fn_arg_type type;
} arg_types[] = {
    {"integer", FN_ARG_INT},
    {"string", FN_ARG_STRING},
    {"enum", FN_ARG_ENUM},
    {"array<number>", FN_ARG_NUMBER_ARRAY},
};

/* ---- freeing ---- */

static void free_arg(fn_arg *a)
{
    free((char *)a->name);
    free((char *)a->doc);
    free((char *)a->def_str);
    if (a->choices) {
        for (const char *const *c = a->choices; *c; c++)
            free((char *)*c);
        free((void *)a->choices);
    }
}

void rt_proto_hello_free(void *p)
{
    rt_proto_hello *h = p;
    if (!h)
        return;
    for (int i = 0; i < h->n; i++) {
        fn_desc *d = &h->fns[i];
        for (int j = 0; j < d->nargs; j++)
            free_arg((fn_arg *)&d->args[j]);
        free((void *)d->args);
        free((char *)d->name);
        free((char *)d->doc);
    }
    free(h->fns);
    free(h->runtime_text);
    free(h);
}

/* ---- small readers: each returns 0, or -1 with "PATH.key: problem" ---- */

/* A string of at most max bytes; *out a new copy. */
static int take_str(json_t *v, size_t max, const char *path, const char *key, char **out, char *err,
                    size_t errlen)
{
    if (!json_is_string(v))
        return errbuf_fail(err, errlen, "%s%s%s: expected string", path, *path ? "." : "", key);
    size_t len = json_string_length(v); /* no NUL: hellos are parsed without JSON_ALLOW_NUL */
    if (len > max)
        return errbuf_fail(err, errlen, "%s%s%s: longer than %zu bytes", path, *path ? "." : "",
                           key, max);
    *out = strdup(json_string_value(v));
    return *out ? 0 : errbuf_fail(err, errlen, "out of memory");
}

static int take_int(json_t *v, const char *path, const char *key, int64_t *out, char *err,
                    size_t errlen)
{
    if (!json_is_integer(v))
        return errbuf_fail(err, errlen, "%s.%s: expected integer", path, key);
    *out = json_integer_value(v);
    return 0;
}

static int take_bool(json_t *v, const char *path, const char *key, bool *out, char *err,
                     size_t errlen)
{
    if (!json_is_boolean(v))
        return errbuf_fail(err, errlen, "%s.%s: expected boolean", path, key);
    *out = json_is_true(v);
    return 0;
}

/* Names the file's key only after cutting it: a hello is the runtime's text. */
static int unknown_key(const char *path, const char *key, char *err, size_t errlen)
{
    char cut[40];
    snprintf(cut, sizeof(cut), "%.32s", key);
    for (char *p = cut; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '"')
            *p = '?';
    return errbuf_fail(err, errlen, "%s: unknown key \"%s\"", path, cut);
}

/* jansson's reason for a line that is not JSON, which may quote a bit of the
 * line ("invalid token near '...'"): its control characters become '?', as
 * they do wherever a message quotes the runtime (messages are logged). */
static const char *json_why(json_error_t *je)
{
    for (char *p = je->text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return je->text;
}

/* ---- one argument ---- */

static int take_choices(json_t *v, const char *path, fn_arg *a, char *err, size_t errlen)
{
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > RT_CHOICES_MAX)
        return errbuf_fail(err, errlen, "%s.choices: expected an array of 1 to %d strings", path,
                           RT_CHOICES_MAX);
    size_t n = json_array_size(v);
    char **c = calloc(n + 1, sizeof(*c));
    if (!c)
        return errbuf_fail(err, errlen, "out of memory");
    a->choices = (const char *const *)c; /* freed with the arg, also when half full */
    for (size_t i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "choices[%zu]", i);
        if (take_str(json_array_get(v, i), RT_TEXT_MAX, path, key, &c[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* The type-specific keys; *has_default is set when "default" was given. */
static int take_typed(fn_arg *a, const char *key, json_t *v, const char *path, bool *has_default,
                      char *err, size_t errlen)
{
    bool is_int = a->type == FN_ARG_INT, is_str = a->type == FN_ARG_STRING;
    bool is_enum = a->type == FN_ARG_ENUM, is_arr = a->type == FN_ARG_NUMBER_ARRAY;
    if (is_int && strcmp(key, "min") == 0)
        return take_int(v, path, key, &a->min, err, errlen);
    if (is_int && strcmp(key, "max") == 0)
        return take_int(v, path, key, &a->max, err, errlen);
    if ((is_str || is_arr) && strcmp(key, "max_length") == 0) {
        if (take_int(v, path, key, &a->max, err, errlen) < 0)
            return -1;
        return a->max >= 0 ? 0 : errbuf_fail(err, errlen, "%s.max_length: negative", path);
    }
    if (is_enum && strcmp(key, "choices") == 0)
        return take_choices(v, path, a, err, errlen);
    if (strcmp(key, "default") != 0)
        return unknown_key(path, key, err, errlen);
    *has_default = true;
    if (is_int)
        return take_int(v, path, key, &a->def_int, err, errlen);
    if (is_arr)
        return json_is_array(v) && json_array_size(v) == 0
                   ? 0
                   : errbuf_fail(err, errlen, "%s.default: only [] is supported", path);
    char *s = NULL;
    if (take_str(v, RT_TEXT_MAX, path, key, &s, err, errlen) < 0)
        return -1;
    a->def_str = s;
    return 0;
}

static int take_type(json_t *o, const char *path, fn_arg *a, char *err, size_t errlen)
{
    json_t *t = json_object_get(o, "type");
    if (!json_is_string(t))
        return errbuf_fail(err, errlen,
                           "%s.type: required, one of \"integer\", \"string\", "
                           "\"enum\", \"array<number>\"",
                           path);
    for (size_t i = 0; i < sizeof(arg_types) / sizeof(arg_types[0]); i++) {
        if (strcmp(json_string_value(t), arg_types[i].name) == 0) {
            a->type = arg_types[i].type;
            return 0;
        }
    }
    return errbuf_fail(err, errlen,
                       "%s.type: expected \"integer\", \"string\", \"enum\" or "
                       "\"array<number>\"",
                       path);
}

static int parse_arg(json_t *o, const char *path, fn_arg *a, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    bool has_default = false, has_required = false, required = true;
    char *s;
    if (!json_is_object(o))
        return errbuf_fail(err, errlen, "%s: expected object", path);
    if (take_type(o, path, a, err, errlen) < 0)
        return -1;
    a->min = INT64_MIN;
    a->max = INT64_MAX;
    json_object_foreach(o, key, v)
    {
        int rc = 0;
        if (strcmp(key, "type") == 0)
            continue;
        if (strcmp(key, "name") == 0) {
            if ((rc = take_str(v, FN_NAME_MAX - 1, path, key, &s, err, errlen)) == 0)
                a->name = s;
        } else if (strcmp(key, "doc") == 0) {
            if ((rc = take_str(v, RT_TEXT_MAX, path, key, &s, err, errlen)) == 0)
                a->doc = s;
        } else if (strcmp(key, "required") == 0) {
            has_required = true;
            rc = take_bool(v, path, key, &required, err, errlen);
        } else {
            rc = take_typed(a, key, v, path, &has_default, err, errlen);
        }
        if (rc < 0)
            return -1;
    }
    if (!a->name || !a->name[0])
        return errbuf_fail(err, errlen, "%s.name: required, 1 to %d bytes", path, FN_NAME_MAX - 1);
    if (a->type == FN_ARG_ENUM && !a->choices)
        return errbuf_fail(err, errlen, "%s.choices: required for an enum", path);
    a->required = has_required ? required : !has_default;
    if (a->required && has_default)
        return errbuf_fail(err, errlen, "%s: a required argument has no default", path);
    if (!a->required && !has_default && (a->type == FN_ARG_INT || a->type == FN_ARG_ENUM))
        return errbuf_fail(err, errlen, "%s.default: required when the argument is optional", path);
    return 0;
}

/* ---- one function ---- */

static int parse_args(json_t *v, const char *path, fn_desc *d, char *err, size_t errlen)
{
    if (!json_is_array(v) || json_array_size(v) > RT_ARGS_MAX)
        return errbuf_fail(err, errlen, "%s.args: expected an array of at most %d objects", path,
                           RT_ARGS_MAX);
    size_t n = json_array_size(v);
    fn_arg *args = calloc(n + 1, sizeof(*args));
    if (!args)
        return errbuf_fail(err, errlen, "out of memory");
    d->args = args;
    for (size_t i = 0; i < n; i++) {
        char apath[PATH_MAX_LEN + 16];
        snprintf(apath, sizeof(apath), "%.40s.args[%zu]", path, i);
        d->nargs = (int)i + 1; /* counted before parsing: freed when half made */
        if (parse_arg(json_array_get(v, i), apath, &args[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int parse_fn(json_t *o, const char *path, fn_desc *d, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    char *s;
    if (!json_is_object(o))
        return errbuf_fail(err, errlen, "%s: expected object", path);
    d->kind = FN_CPU;
    json_object_foreach(o, key, v)
    {
        int rc = 0;
        if (strcmp(key, "name") == 0) {
            if ((rc = take_str(v, FN_NAME_MAX - 1, path, key, &s, err, errlen)) == 0)
                d->name = s;
        } else if (strcmp(key, "doc") == 0) {
            if ((rc = take_str(v, RT_TEXT_MAX, path, key, &s, err, errlen)) == 0)
                d->doc = s;
        } else if (strcmp(key, "kind") == 0) {
            const char *k = json_string_value(v);
            if (k && strcmp(k, "cpu") == 0)
                d->kind = FN_CPU;
            else if (k && strcmp(k, "io") == 0)
                d->kind = FN_IO;
            else
                rc = errbuf_fail(err, errlen, "%s.kind: expected \"cpu\" or \"io\"", path);
        } else if (strcmp(key, "args") == 0) {
            rc = parse_args(v, path, d, err, errlen);
        } else {
            rc = unknown_key(path, key, err, errlen);
        }
        if (rc < 0)
            return -1;
    }
    if (!d->name)
        return errbuf_fail(err, errlen, "%s.name: required", path);
    return 0;
}

/* ---- the hello ---- */

static int parse_fns(rt_proto_hello *h, json_t *v,
                     fn_status (*run)(const fn_desc *, json_t *, fn_ctx *, json_t **), char *err,
                     size_t errlen)
{
    if (!json_is_array(v) || json_array_size(v) > FN_REGISTRY_MAX)
        return errbuf_fail(err, errlen, "functions: expected an array of at most %d objects",
                           FN_REGISTRY_MAX);
    size_t n = json_array_size(v);
    h->fns = calloc(n + 1, sizeof(*h->fns));
    if (!h->fns)
        return errbuf_fail(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof(path), "functions[%zu]", i);
        fn_desc *d = &h->fns[i];
        h->n = (int)i + 1;
        d->run = run;
        d->impl = &h->runtime;
        if (parse_fn(json_array_get(v, i), path, d, err, errlen) < 0)
            return -1;
    }
    return 0;
}

rt_proto_hello *rt_proto_hello_parse(const char *line, size_t len, int runtime, rt_run_fn *run,
                                     char *err, size_t errlen)
{
    json_error_t je;
    const char *key;
    json_t *v, *root = NULL;
    rt_proto_hello *h = calloc(1, sizeof(*h));
    if (!h) {
        errbuf_fail(err, errlen, "out of memory");
        return NULL;
    }
    h->runtime = runtime;
    if (len > RT_HELLO_MAX_BYTES) {
        errbuf_fail(err, errlen, "longer than %d bytes", RT_HELLO_MAX_BYTES);
        goto fail;
    }
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        errbuf_fail(err, errlen, "not a JSON object%s%s", root ? "" : ": ",
                    root ? "" : json_why(&je));
        goto fail;
    }
    json_t *version = json_object_get(root, RT_KEY_HELLO);
    if (!json_is_integer(version) || json_integer_value(version) != RT_PROTO_VERSION) {
        errbuf_fail(err, errlen, "\"hello\": expected %d (the protocol version)", RT_PROTO_VERSION);
        goto fail;
    }
    if (!json_object_get(root, RT_KEY_FUNCTIONS)) {
        errbuf_fail(err, errlen, "functions: required");
        goto fail;
    }
    json_object_foreach(root, key, v)
    {
        int rc = 0;
        if (strcmp(key, RT_KEY_FUNCTIONS) == 0)
            rc = parse_fns(h, v, run, err, errlen);
        else if (strcmp(key, RT_KEY_RUNTIME) == 0)
            rc = take_str(v, RT_TEXT_MAX, "", key, &h->runtime_text, err, errlen);
        else if (strcmp(key, RT_KEY_HELLO) != 0)
            rc = unknown_key("hello", key, err, errlen);
        if (rc < 0)
            goto fail;
    }
    if (!h->runtime_text && !(h->runtime_text = strdup(""))) {
        errbuf_fail(err, errlen, "out of memory");
        goto fail;
    }
    json_decref(root);
    return h;

fail:
    json_decref(root);
    rt_proto_hello_free(h);
    return NULL;
}

int rt_proto_hello_count(const rt_proto_hello *h)
{
    return h->n;
}

const fn_desc *rt_proto_hello_fn(const rt_proto_hello *h, int i)
{
    return i >= 0 && i < h->n ? &h->fns[i] : NULL;
}

const char *rt_proto_hello_runtime(const rt_proto_hello *h)
{
    return h->runtime_text;
}

int rt_proto_runtime(const fn_desc *fn)
{
    return *(const int *)fn->impl;
}

/* ---- calls ---- */

char *rt_proto_request(uint64_t id, const char *fn, json_t *args, int64_t deadline_ms, size_t *len)
{
    char *a = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!a)
        return NULL;
    size_t alen = strlen(a), cap = alen + strlen(fn) + 96;
    char *line = malloc(cap);
    if (line) {
        /* fn is a registered name: [A-Za-z0-9_.-], nothing to escape */
        int n =
            snprintf(line, cap,
                     "{\"id\":%" PRIu64 ",\"fn\":\"%s\",\"args\":%s,\"deadline_ms\":%" PRId64 "}\n",
                     id, fn, a, deadline_ms < 0 ? 0 : deadline_ms);
        *len = (size_t)n;
    }
    free(a);
    return line;
}

size_t rt_proto_cancel(uint64_t id, char *buf)
{
    return (size_t)snprintf(buf, RT_CANCEL_LINE_MAX, "{\"cancel\":%" PRIu64 "}\n", id);
}

static int reply_error(json_t *e, rt_reply *out, char *err, size_t errlen)
{
    json_t *code = json_object_get(e, RT_KEY_CODE), *msg = json_object_get(e, RT_KEY_MESSAGE);
    if (!json_is_object(e) || !json_is_string(code) || (msg && !json_is_string(msg)))
        return errbuf_fail(err, errlen, "\"error\" is not {\"code\": string, \"message\": string}");
    out->kind = RT_REPLY_ERROR;
    snprintf(out->code, sizeof(out->code), "%s", json_string_value(code));
    snprintf(out->message, sizeof(out->message), "%s", msg ? json_string_value(msg) : "");
    return 0;
}

int rt_proto_reply_parse(const char *line, size_t len, rt_reply *out, char *err, size_t errlen)
{
    json_error_t je;
    memset(out, 0, sizeof(*out));
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    int rc = -1;
    if (!root) {
        errbuf_fail(err, errlen, "not JSON: %s", json_why(&je));
        return -1;
    }
    json_t *id = json_object_get(root, RT_KEY_ID);
    json_t *res = json_object_get(root, RT_KEY_RESULT), *e = json_object_get(root, RT_KEY_ERROR);
    json_t *prog = json_object_get(root, RT_KEY_PROGRESS);
    if (!json_is_object(root)) {
        errbuf_fail(err, errlen, "not a JSON object");
    } else if (!json_is_integer(id) || json_integer_value(id) < 0) {
        errbuf_fail(err, errlen, "no integer \"id\"");
    } else if ((res != NULL) + (e != NULL) + (prog != NULL) != 1 || json_object_size(root) != 2) {
        errbuf_fail(err, errlen, "not {\"id\"} with one of \"result\", \"error\", \"progress\"");
    } else if (res) {
        out->kind = RT_REPLY_RESULT;
        out->value = json_incref(res);
        rc = 0;
    } else if (e) {
        rc = reply_error(e, out, err, errlen);
    } else if (!json_is_number(prog)) {
        errbuf_fail(err, errlen, "\"progress\" is not a number");
    } else {
        out->kind = RT_REPLY_PROGRESS;
        double r = json_is_real(prog) ? json_real_value(prog) : 0;
        out->progress = json_is_integer(prog) ? json_integer_value(prog)
                        : r >= 9.2e18         ? INT64_MAX
                        : r <= -9.2e18        ? INT64_MIN
                                              : (int64_t)r;
        rc = 0;
    }
    if (rc == 0)
        out->id = (uint64_t)json_integer_value(id);
    json_decref(root);
    return rc;
}
