/*
 * rt_proto.h - the protocol between crunchd and a language runtime: one JSON
 * object per line (NDJSON) on the runtime's stdin and stdout. README section
 * "Writing a runtime" is the manual for runtime authors; this header is the
 * parsing and formatting, with no IO (unit-tested in check_rt_proto.c).
 *
 *   runtime -> crunchd, once at start (the hello):
 *     {"hello": 1, "runtime": "python 3.11.2", "functions": [
 *        {"name": "pyfib", "kind": "cpu", "doc": "...",
 *         "args": [{"name": "n", "type": "integer", "min": 0, "max": 90,
 *                   "required": true, "doc": ""}]}]}
 *   crunchd -> runtime, a call:      {"id": 7, "fn": "pyfib", "args": {"n": 40}, "deadline_ms":
 * 29998} runtime -> crunchd, its end:     {"id": 7, "result": 102334155} or {"id": 7, "error":
 * {"code": "function_error", "message": "..."}} runtime -> crunchd, optional:    {"id": 7,
 * "progress": 40} crunchd -> runtime, stop asking: {"cancel": 7}
 *
 * The hello's function entries have the form GET /v1/functions lists
 * (fn_desc_json()), so a runtime declares exactly what clients will see:
 * "kind" cpu (default) or io; "args" entries with "name", "type" (integer,
 * string, enum, array<number>), "required" (default: true unless "default"
 * is given), "doc", and per type "min"/"max" (integer; default the int64
 * range), "max_length" (string and array<number>; default no bound but the
 * body's), "choices" (enum), "default". Unknown keys are refused by name (a
 * JSON-Schema "maximum" must not pass for a bound). Bounds: RT_HELLO_MAX_BYTES
 * for the line, RT_ARGS_MAX arguments, RT_CHOICES_MAX choices, RT_TEXT_MAX
 * bytes for a doc, a choice or a string default.
 *
 * Thread rules: none; every function works on its arguments only.
 */
#ifndef CRUNCHD_RT_PROTO_H
#define CRUNCHD_RT_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "fn.h"

#define RT_PROTO_VERSION 1 /* the "hello" value this crunchd speaks */

/* Keys of the lines. */
#define RT_KEY_HELLO "hello"
#define RT_KEY_RUNTIME "runtime"
#define RT_KEY_FUNCTIONS "functions"
#define RT_KEY_ID "id"
#define RT_KEY_FN "fn"
#define RT_KEY_ARGS "args"
#define RT_KEY_DEADLINE_MS "deadline_ms"
#define RT_KEY_RESULT "result"
#define RT_KEY_ERROR "error"
#define RT_KEY_CODE "code"
#define RT_KEY_MESSAGE "message"
#define RT_KEY_PROGRESS "progress"
#define RT_KEY_CANCEL "cancel"

#define RT_HELLO_MAX_BYTES (1024 * 1024) /* the hello line, newline excluded */
#define RT_ARGS_MAX 64                   /* arguments of one function */
#define RT_CHOICES_MAX 256               /* choices of one enum argument */
#define RT_TEXT_MAX 1024                 /* a doc, a choice, a string default */
#define RT_CANCEL_LINE_MAX 48            /* {"cancel":18446744073709551615}\n fits */

/* ---- the hello ---- */

/* The run() that every runtime function gets (rt_call.h's rt_call_run). */
typedef fn_status rt_run_fn(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result);

/* The functions of one hello: descriptors for fn_registry_add() and the
 * memory they point to. */
typedef struct rt_proto_hello rt_proto_hello;

/*
 * Parses a hello line (len bytes, no newline) of the runtime named rtname,
 * the runtime-th of functions.runtimes. Each descriptor gets run (the caller's
 * adapter) and impl = a pointer to an int holding runtime (rt_proto_runtime()
 * reads it back); cost_ns and check are NULL (never inline). Returns the new
 * hello, or NULL with err saying what is wrong ("functions[2].args[0]: unknown
 * key \"maximum\""; the runtime's text quoted in it has no control
 * characters, as it is logged). Semantic checks that the registry makes
 * (name syntax, min <= max, defaults in range) are left to fn_registry_add().
 */
rt_proto_hello *rt_proto_hello_parse(const char *line, size_t len, int runtime, rt_run_fn *run,
                                     char *err, size_t errlen);

/* Functions declared (0 .. count - 1 for rt_proto_hello_fn()). */
int rt_proto_hello_count(const rt_proto_hello *h);

/* Descriptor i, borrowed from h; NULL outside the range. */
const fn_desc *rt_proto_hello_fn(const rt_proto_hello *h, int i);

/* The "runtime" text of the hello ("" when absent), borrowed from h. */
const char *rt_proto_hello_runtime(const rt_proto_hello *h);

/* Frees h and everything its descriptors point to; NULL is a no-op. Takes
 * void * so that fn_registry_own() can call it. */
void rt_proto_hello_free(void *h);

/* The runtime index of a descriptor made by rt_proto_hello_parse(). */
int rt_proto_runtime(const fn_desc *fn);

/* ---- calls ---- */

/*
 * Returns a malloc'd request line, newline included, with its length in
 * *len: {"id":ID,"fn":"NAME","args":ARGS,"deadline_ms":MS}. args is
 * borrowed. NULL when out of memory.
 */
char *rt_proto_request(uint64_t id, const char *fn, json_t *args, int64_t deadline_ms, size_t *len);

/* Writes {"cancel":ID} and a newline into buf (RT_CANCEL_LINE_MAX bytes);
 * returns its length. */
size_t rt_proto_cancel(uint64_t id, char *buf);

typedef enum rt_reply_kind {
    RT_REPLY_RESULT,   /* value: the result */
    RT_REPLY_ERROR,    /* code, message */
    RT_REPLY_PROGRESS, /* progress */
} rt_reply_kind;

typedef struct rt_reply {
    rt_reply_kind kind;
    uint64_t id;
    json_t *value;     /* RESULT: new reference, the caller's; else NULL */
    int64_t progress;  /* PROGRESS: the number (a real is truncated) */
    char code[64];     /* ERROR: "function_error", ...; cut to fit */
    char message[256]; /* ERROR: the runtime's message; cut to fit */
} rt_reply;

/*
 * Parses one line the runtime wrote during a call (len bytes, no newline).
 * Returns 0 with *out filled, or -1 with err saying why the line is not a
 * reply ("not JSON: ...", "no integer \"id\"", "neither result, error nor
 * progress"; no control characters in it, as for the hello). Strings of a
 * result may hold NUL bytes (\u0000).
 */
int rt_proto_reply_parse(const char *line, size_t len, rt_reply *out, char *err, size_t errlen);

#endif
