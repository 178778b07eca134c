/*
 * fuzz_rt_proto.c - libFuzzer target for the language runtime protocol
 * (common/fn/rt_proto.c): each input is a hello line (rt_proto_hello_parse)
 * and a reply line (rt_proto_reply_parse).
 *
 * The hello. A model written from rt_proto.h (on jansson's reading of the
 * same bytes) says whether the hello must be accepted and, if so, how each
 * function must be listed (fn_desc_json(): every declared key as declared,
 * every absent one at its documented default). The parser must agree on
 * both. The descriptors are the runtime's (run, no cost_ns, no check, impl
 * naming the runtime); their listings, sent back as a hello, give the same
 * listings (a listing is a valid hello). Each descriptor then goes to
 * fn_registry_add(), which must accept exactly those whose schema a second
 * model (fn_registry.h's checks: name syntax, unique names, min <= max,
 * defaults in range and among the choices) finds sound, and refuse the
 * others with a message naming the origin. An accepted function validates
 * arguments as its schema says: its required arguments at their least
 * values (and its defaults filled in) pass, a wrong type is refused by
 * name. The same bytes parsed again give the same answer. A refusal says
 * why without control characters (it is logged). The hello is freed by the
 * registry (fn_registry_own), so a leak is LeakSanitizer's.
 *
 * The reply. Accepted exactly when it is {"id": N >= 0} plus one of
 * "result", "error" {"code": string, "message": string} or "progress"
 * (a number), with the kind, id, value, cut code and message, and truncated
 * progress that the line says; refused otherwise with a message (no
 * control characters) and no value. The same bytes parsed again give the same answer; a result's
 * value goes back out in a request line (one line, NDJSON) that reads back the same.
 *
 * Any disagreement is a crash (__builtin_trap). Build and run:
 * tests/fuzz/run_fuzz.sh [seconds per target]
 */
#include "fn.h"
#include "fn_registry.h"
#include "fuzz_check.h"
#include "rt_proto.h"
#include "utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RUNTIME 5
#define ORIGIN "runtime \"fz\""

enum { T_INT, T_STRING, T_ENUM, T_ARRAY, T_NONE };
static const char *const type_names[] = {"integer", "string", "enum", "array<number>"};

static fn_status fz_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    (void)self, (void)args, (void)ctx, (void)result;
    return FN_FAILED;
}

static bool text_max(json_t *v, size_t max)
{
    return json_is_string(v) && json_string_length(v) <= max;
}

/* A refusal goes into the log: the runtime's text in it has no control
 * characters (as rt_log.c cleans its stderr lines). */
static bool loggable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static bool is_key(const char *key, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

/* ---- the model of the hello (rt_proto.h): how each function is listed ---- */

/* Whether every key of object o is one of the n keys. */
static bool only_keys(json_t *o, const char *const *keys, size_t n)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (!is_key(key, keys, n))
            return false;
    }
    return true;
}

/* A new array of expect() of each element of a (none if a is NULL), or NULL
 * if expect() refuses one. */
static json_t *expect_each(json_t *a, json_t *(*expect)(json_t *))
{
    json_t *out = json_array();
    CHECK(out != NULL);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *e = expect(json_array_get(a, i));
        if (!e) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, e);
    }
    return out;
}

/* The value of a typed key (min, max, max_length, choices, default) is fine. */
static bool typed_value_ok(int ty, const char *key, json_t *v)
{
    if (strcmp(key, "default") == 0) {
        if (ty == T_INT)
            return json_is_integer(v);
        if (ty == T_ARRAY)
            return json_is_array(v) && json_array_size(v) == 0;
        return text_max(v, RT_TEXT_MAX);
    }
    if (strcmp(key, "max_length") == 0)
        return json_is_integer(v) && json_integer_value(v) >= 0;
    if (strcmp(key, "choices") == 0) {
        size_t n = json_array_size(v);
        bool ok = json_is_array(v) && n >= 1 && n <= RT_CHOICES_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = text_max(json_array_get(v, i), RT_TEXT_MAX);
        return ok;
    }
    return json_is_integer(v); /* min, max */
}

static bool typed_key(int ty, const char *key)
{
    static const char *const keys[][3] = {
        [T_INT] = {"min", "max", "default"},
        [T_STRING] = {"max_length", "default", "default"},
        [T_ENUM] = {"choices", "default", "default"},
        [T_ARRAY] = {"max_length", "default", "default"},
    };
    return is_key(key, keys[ty], 3);
}

/* A new reference: how argument a must be listed; NULL if it is refused. */
static json_t *expect_arg(json_t *a)
{
    const char *tn = json_string_value(json_object_get(a, "type")), *key;
    int ty = T_NONE;
    for (int i = 0; tn && i < T_NONE; i++)
        if (strcmp(tn, type_names[i]) == 0)
            ty = i;
    if (!json_is_object(a) || ty == T_NONE)
        return NULL;
    json_t *v, *name = json_object_get(a, "name"), *def = json_object_get(a, "default");
    json_t *req = json_object_get(a, "required"), *doc = json_object_get(a, "doc");
    json_object_foreach(a, key, v)
    {
        bool ok = strcmp(key, "type") == 0 ||
                  (strcmp(key, "name") == 0 && text_max(v, FN_NAME_MAX - 1)) ||
                  (strcmp(key, "doc") == 0 && text_max(v, RT_TEXT_MAX)) ||
                  (strcmp(key, "required") == 0 && json_is_boolean(v)) ||
                  (typed_key(ty, key) && typed_value_ok(ty, key, v));
        if (!ok)
            return NULL;
    }
    bool required = req ? json_is_true(req) : def == NULL;
    if (!name || json_string_length(name) == 0 || (ty == T_ENUM && !json_object_get(a, "choices")))
        return NULL;
    if ((required && def) || (!required && !def && (ty == T_INT || ty == T_ENUM)))
        return NULL;
    json_t *o = json_pack("{s:O, s:s, s:b, s:s}", "name", name, "type", type_names[ty], "required",
                          required, "doc", doc ? json_string_value(doc) : "");
    CHECK(o != NULL);
    json_t *min = json_object_get(a, "min"), *max = json_object_get(a, "max");
    json_t *max_len = json_object_get(a, "max_length");
    if (ty == T_INT) {
        json_object_set_new(o, "min", min ? json_copy(min) : json_integer(INT64_MIN));
        json_object_set_new(o, "max", max ? json_copy(max) : json_integer(INT64_MAX));
    } else if (ty == T_ENUM) {
        json_object_set(o, "choices", json_object_get(a, "choices"));
    } else {
        json_object_set_new(o, "max_length",
                            max_len ? json_copy(max_len) : json_integer(INT64_MAX));
    }
    if (!required) /* a string's default is "", an array's [] when not given */
        json_object_set_new(o, "default",
                            def             ? json_copy(def)
                            : ty == T_ARRAY ? json_array()
                                            : json_string(""));
    return o;
}

/* A new reference: how function f must be listed; NULL if it is refused. */
static json_t *expect_fn(json_t *f)
{
    static const char *const keys[] = {"name", "doc", "kind", "args"};
    const char *kind = json_string_value(json_object_get(f, "kind"));
    json_t *name = json_object_get(f, "name"), *doc = json_object_get(f, "doc");
    json_t *args = json_object_get(f, "args");
    if (!json_is_object(f) || !text_max(name, FN_NAME_MAX - 1) ||
        (doc && !text_max(doc, RT_TEXT_MAX)))
        return NULL;
    if (json_object_get(f, "kind") && (!kind || (strcmp(kind, "cpu") && strcmp(kind, "io"))))
        return NULL;
    if (args && (!json_is_array(args) || json_array_size(args) > RT_ARGS_MAX))
        return NULL;
    json_t *listed_args = only_keys(f, keys, 4) ? expect_each(args, expect_arg) : NULL;
    if (!listed_args)
        return NULL;
    json_t *o = json_pack("{s:O, s:s, s:s, s:o}", "name", name, "kind", kind ? kind : "cpu", "doc",
                          doc ? json_string_value(doc) : "", "args", listed_args);
    CHECK(o != NULL);
    return o;
}

/* A new reference: the listings of the hello's functions, NULL if refused;
 * *runtime the "runtime" text (borrowed from root). */
static json_t *expect_hello(json_t *root, const char **runtime)
{
    static const char *const keys[] = {RT_KEY_HELLO, RT_KEY_RUNTIME, RT_KEY_FUNCTIONS};
    json_t *hello = json_object_get(root, RT_KEY_HELLO);
    json_t *fns = json_object_get(root, RT_KEY_FUNCTIONS),
           *rt = json_object_get(root, RT_KEY_RUNTIME);
    if (!json_is_object(root) || !json_is_integer(hello) || json_integer_value(hello) != 1)
        return NULL;
    if (!json_is_array(fns) || json_array_size(fns) > FN_REGISTRY_MAX ||
        (rt && !text_max(rt, RT_TEXT_MAX)))
        return NULL;
    json_t *out = only_keys(root, keys, 3) ? expect_each(fns, expect_fn) : NULL;
    *runtime = rt ? json_string_value(rt) : "";
    return out;
}

/* ---- the descriptors against the model ---- */

static void check_desc(const fn_desc *d, json_t *want)
{
    CHECK(d != NULL && d->name != NULL && strlen(d->name) < FN_NAME_MAX);
    CHECK(d->run == fz_run && d->cost_ns == NULL && d->check == NULL && !d->debug_only);
    CHECK(rt_proto_runtime(d) == RUNTIME);
    CHECK(d->kind == FN_CPU || d->kind == FN_IO);
    CHECK(d->nargs >= 0 && d->nargs <= RT_ARGS_MAX && (d->nargs == 0 || d->args != NULL));
    CHECK(!d->doc || strlen(d->doc) <= RT_TEXT_MAX);
    for (int i = 0; i < d->nargs; i++) {
        const fn_arg *a = &d->args[i];
        CHECK(a->name && a->name[0] && strlen(a->name) < FN_NAME_MAX);
        CHECK(a->type >= FN_ARG_INT && a->type <= FN_ARG_NUMBER_ARRAY);
        CHECK(a->type == FN_ARG_INT || a->max >= 0);
        CHECK(!a->required || a->def_str == NULL);
        if (a->type == FN_ARG_ENUM) {
            size_t n = 0;
            CHECK(a->choices != NULL);
            for (; a->choices[n]; n++)
                CHECK(strlen(a->choices[n]) <= RT_TEXT_MAX);
            CHECK(n >= 1 && n <= RT_CHOICES_MAX);
            CHECK(a->required || a->def_str != NULL);
        } else {
            CHECK(a->choices == NULL);
        }
    }
    json_t *got = fn_desc_json(d);
    CHECK(got != NULL && json_equal(got, want));
    json_decref(got);
}

/* The listings of h, a new reference. */
static json_t *listings(const rt_proto_hello *h)
{
    json_t *out = json_array();
    for (int i = 0; i < rt_proto_hello_count(h); i++)
        CHECK(json_array_append_new(out, fn_desc_json(rt_proto_hello_fn(h, i))) == 0);
    return out;
}

/* The listings sent back as a hello are accepted and listed the same. */
static void check_relisted(const rt_proto_hello *h, json_t *want)
{
    char err[600] = "";
    json_t *hello = json_pack("{s:i, s:s, s:O}", RT_KEY_HELLO, RT_PROTO_VERSION, RT_KEY_RUNTIME,
                              rt_proto_hello_runtime(h), RT_KEY_FUNCTIONS, want);
    CHECK(hello != NULL);
    char *line = json_dumps(hello, JSON_COMPACT);
    CHECK(line != NULL && !strchr(line, '\n'));
    rt_proto_hello *again =
        rt_proto_hello_parse(line, strlen(line), RUNTIME, fz_run, err, sizeof(err));
    CHECK(again != NULL);
    CHECK(strcmp(rt_proto_hello_runtime(again), rt_proto_hello_runtime(h)) == 0);
    json_t *got = listings(again);
    CHECK(json_equal(got, want));
    json_decref(got);
    rt_proto_hello_free(again);
    free(line);
    json_decref(hello);
}

/* ---- the registry ---- */

static bool fn_name_ok(const char *s)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n < FN_NAME_MAX && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z');
    for (size_t i = 1; ok && i < n; i++)
        ok = ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
             (s[i] && strchr("_-.", s[i]));
    return ok;
}

/* Whether fn_registry_add() must take the function listed as f, given the
 * names taken so far (an object used as a set). */
static bool expect_added(json_t *f, json_t *taken)
{
    const char *name = json_string_value(json_object_get(f, "name"));
    json_t *args = json_object_get(f, "args"), *arg_names = json_object();
    bool ok = fn_name_ok(name) && !json_object_get(taken, name);
    for (size_t i = 0; ok && i < json_array_size(args); i++) {
        json_t *a = json_array_get(args, i);
        const char *an = json_string_value(json_object_get(a, "name"));
        const char *ty = json_string_value(json_object_get(a, "type"));
        json_t *def = json_object_get(a, "default");
        json_int_t min = json_integer_value(json_object_get(a, "min"));
        json_int_t max = json_integer_value(json_object_get(a, "max"));
        ok = !json_object_get(arg_names, an);
        json_object_set_new(arg_names, an, json_true());
        if (strcmp(ty, "integer") == 0)
            ok = ok && min <= max &&
                 (!def || (json_integer_value(def) >= min && json_integer_value(def) <= max));
        else if (strcmp(ty, "string") == 0)
            ok = ok && (!def || (json_int_t)json_string_length(def) <=
                                    json_integer_value(json_object_get(a, "max_length")));
        else if (strcmp(ty, "enum") == 0 && def) {
            bool in = false;
            json_t *choices = json_object_get(a, "choices");
            for (size_t c = 0; c < json_array_size(choices); c++)
                in = in || json_equal(json_array_get(choices, c), def);
            ok = ok && in;
        }
    }
    json_decref(arg_names);
    return ok;
}

/* A value each argument takes: its least integer, "", its first choice, []. */
static json_t *least_value(const fn_arg *a)
{
    switch (a->type) {
    case FN_ARG_INT: return json_integer(a->min);
    case FN_ARG_STRING: return json_string("");
    case FN_ARG_ENUM: return json_string(a->choices[0]);
    case FN_ARG_NUMBER_ARRAY: return json_array();
    }
    return NULL;
}

/* A registered function validates as its schema (listed as want) says. */
static void check_validates(const fn_desc *d, json_t *want)
{
    char bad[UTF8_ECHO_SIZE], err[256];
    json_t *args = json_object(), *out = NULL, *listed_args = json_object_get(want, "args");
    for (int i = 0; i < d->nargs; i++) {
        const fn_arg *a = &d->args[i];
        CHECK(a->type != FN_ARG_INT || a->min <= a->max);
        CHECK(a->type != FN_ARG_INT || a->required ||
              (a->def_int >= a->min && a->def_int <= a->max));
        if (a->required)
            json_object_set_new(args, a->name, least_value(a));
    }
    CHECK(fn_validate(d, args, &out, bad, sizeof(bad), err, sizeof(err)) == 0);
    CHECK(json_object_size(out) == (size_t)d->nargs);
    for (int i = 0; i < d->nargs; i++) {
        json_t *listed = json_array_get(listed_args, (size_t)i);
        json_t *v = json_object_get(out, d->args[i].name);
        CHECK(v != NULL);
        if (!d->args[i].required)
            CHECK(json_equal(v, json_object_get(listed, "default")));
    }
    json_decref(out);
    json_decref(args);
    if (d->nargs == 0)
        return;
    /* null fits no type: the first argument is named as the bad one */
    args = json_object();
    for (int i = 0; i < d->nargs; i++)
        json_object_set_new(args, d->args[i].name, json_null());
    CHECK(fn_validate(d, args, &out, bad, sizeof(bad), err, sizeof(err)) == -1 && out == NULL);
    CHECK(strcmp(bad, d->args[0].name) == 0 && err[0]);
    json_decref(args);
}

/* Registers every function of h (handed to a new registry) and checks each
 * outcome against the model. */
static void check_registry(rt_proto_hello *h, json_t *want)
{
    char err[512];
    fn_registry *r = fn_registry_new();
    json_t *taken = json_object();
    CHECK(r && taken && fn_registry_own(r, h, rt_proto_hello_free) == 0);
    for (int i = 0; i < rt_proto_hello_count(h); i++) {
        json_t *f = json_array_get(want, (size_t)i);
        const fn_desc *d = rt_proto_hello_fn(h, i);
        int before = fn_registry_count(r);
        bool ok = expect_added(f, taken);
        err[0] = '\0';
        int rc = fn_registry_add(r, d, ORIGIN, err, sizeof(err));
        CHECK(rc == (ok ? 0 : -1));
        if (rc < 0) {
            CHECK(fn_registry_count(r) == before && strstr(err, ORIGIN));
            continue;
        }
        json_object_set_new(taken, d->name, json_true());
        const fn_desc *reg = fn_registry_find(r, d->name, strlen(d->name), false);
        CHECK(reg && reg == fn_registry_at(r, before) && reg->index == before && reg->series == -1);
        CHECK(strcmp(fn_registry_origin(r, before), ORIGIN) == 0);
        check_validates(reg, f);
    }
    json_t *list = fn_registry_list_json(r, false);
    json_t *fns = json_object_get(list, "functions");
    CHECK(json_array_size(fns) == (size_t)fn_registry_count(r));
    for (size_t i = 1; i < json_array_size(fns); i++)
        CHECK(strcmp(json_string_value(json_object_get(json_array_get(fns, i - 1), "name")),
                     json_string_value(json_object_get(json_array_get(fns, i), "name"))) < 0);
    json_decref(list);
    json_decref(taken);
    fn_registry_free(r); /* frees h */
}

static void fuzz_hello(const char *line, size_t len)
{
    char err[600] = "", err2[600] = "";
    const char *runtime = NULL;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *want = root && len <= RT_HELLO_MAX_BYTES ? expect_hello(root, &runtime) : NULL;
    rt_proto_hello *h = rt_proto_hello_parse(line, len, RUNTIME, fz_run, err, sizeof(err));
    rt_proto_hello *h2 = rt_proto_hello_parse(line, len, RUNTIME, fz_run, err2, sizeof(err2));
    CHECK((h != NULL) == (want != NULL) && (h2 != NULL) == (h != NULL));
    if (!h) {
        CHECK(err[0] && strcmp(err, err2) == 0 && loggable(err));
        json_decref(root);
        return;
    }
    CHECK(strcmp(rt_proto_hello_runtime(h), runtime) == 0);
    CHECK(rt_proto_hello_count(h) == (int)json_array_size(want));
    CHECK(!rt_proto_hello_fn(h, -1) && !rt_proto_hello_fn(h, rt_proto_hello_count(h)));
    for (int i = 0; i < rt_proto_hello_count(h); i++)
        check_desc(rt_proto_hello_fn(h, i), json_array_get(want, (size_t)i));
    json_t *again = listings(h2);
    CHECK(json_equal(again, want) && strcmp(rt_proto_hello_runtime(h2), runtime) == 0);
    json_decref(again);
    rt_proto_hello_free(h2);
    check_relisted(h, want);
    check_registry(h, want);
    json_decref(want);
    json_decref(root);
}

/* ---- the reply ---- */

static bool same_reply(const rt_reply *a, const rt_reply *b)
{
    return a->kind == b->kind && a->id == b->id && a->progress == b->progress &&
           strcmp(a->code, b->code) == 0 && strcmp(a->message, b->message) == 0 &&
           (a->value == NULL) == (b->value == NULL) &&
           (!a->value || json_equal(a->value, b->value));
}

/* A string as a char[size] holds it: up to its first NUL, cut to fit. */
static bool cut_copy(const char *got, size_t size, json_t *s)
{
    const char *v = s ? json_string_value(s) : "";
    size_t n = strnlen(v, size - 1);
    return strlen(got) == n && memcmp(got, v, n) == 0;
}

/* The request line for a result's value is one line and reads back. */
static void check_request(uint64_t id, json_t *value)
{
    size_t len = 0;
    char cancel[RT_CANCEL_LINE_MAX];
    char *line = rt_proto_request(id, "f", value, 5, &len);
    CHECK(line && len >= 2 && line[len - 1] == '\n' && !memchr(line, '\n', len - 1));
    json_t *back = json_loadb(line, len - 1, JSON_ALLOW_NUL, NULL);
    CHECK(back && json_object_size(back) == 4);
    CHECK((uint64_t)json_integer_value(json_object_get(back, RT_KEY_ID)) == id);
    CHECK(json_equal(json_object_get(back, RT_KEY_ARGS), value));
    CHECK(json_integer_value(json_object_get(back, RT_KEY_DEADLINE_MS)) == 5);
    json_decref(back);
    free(line);
    len = rt_proto_cancel(id, cancel);
    CHECK(len < RT_CANCEL_LINE_MAX && cancel[len - 1] == '\n');
    back = json_loadb(cancel, len - 1, 0, NULL);
    CHECK(back && (uint64_t)json_integer_value(json_object_get(back, RT_KEY_CANCEL)) == id);
    json_decref(back);
}

static void fuzz_reply(const char *line, size_t len)
{
    rt_reply r, r2;
    char err[256] = "", err2[256] = "";
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    json_t *id = json_object_get(root, RT_KEY_ID), *res = json_object_get(root, RT_KEY_RESULT);
    json_t *e = json_object_get(root, RT_KEY_ERROR), *prog = json_object_get(root, RT_KEY_PROGRESS);
    json_t *code = json_object_get(e, RT_KEY_CODE), *msg = json_object_get(e, RT_KEY_MESSAGE);
    bool ok = json_is_object(root) && json_object_size(root) == 2 && json_is_integer(id) &&
              json_integer_value(id) >= 0 && (res || e || prog);
    ok = ok && (!e || (json_is_string(code) && (!msg || json_is_string(msg))));
    ok = ok && (!prog || json_is_number(prog));

    int rc = rt_proto_reply_parse(line, len, &r, err, sizeof(err));
    int rc2 = rt_proto_reply_parse(line, len, &r2, err2, sizeof(err2));
    CHECK(rc == (ok ? 0 : -1) && rc2 == rc);
    if (rc < 0) {
        CHECK(r.value == NULL && err[0] && strcmp(err, err2) == 0 && loggable(err));
        json_decref(root);
        return;
    }
    CHECK(same_reply(&r, &r2));
    CHECK(r.id == (uint64_t)json_integer_value(id));
    if (res) {
        CHECK(r.kind == RT_REPLY_RESULT && r.value && json_equal(r.value, res));
        check_request(r.id, r.value);
    } else if (e) {
        CHECK(r.kind == RT_REPLY_ERROR && !r.value);
        CHECK(cut_copy(r.code, sizeof(r.code), code) &&
              cut_copy(r.message, sizeof(r.message), msg));
    } else {
        double d = json_number_value(prog);
        int64_t want = json_is_integer(prog) ? json_integer_value(prog)
                       : d >= 9.2e18         ? INT64_MAX
                       : d <= -9.2e18        ? INT64_MIN
                                             : (int64_t)d; /* truncated */
        CHECK(r.kind == RT_REPLY_PROGRESS && !r.value && r.progress == want);
    }
    json_decref(r.value);
    json_decref(r2.value);
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = size ? (const char *)data : "";
    fuzz_hello(line, size);
    fuzz_reply(line, size);
    return 0;
}
