/*
 * crunchd/plugin.h - write crunchd functions in C.
 *
 * A plugin is a shared object that crunchd loads at start-up
 * ("functions": {"plugins": ["/path/libx.so"]} in its config). Its functions
 * then are crunchd functions like the built-ins: listed by GET /v1/functions,
 * called by POST /v1/fn/{name} and by jobs (POST /v1/jobs), their arguments
 * validated before they run, with the same deadlines, cancel, retries,
 * metrics and access log.
 *
 * ---- A whole plugin ----------------------------------------------------------
 *
 *   #include <crunchd/plugin.h>
 *
 *   static const crunchd_arg add_args[] = {
 *       {.name = "a", .type = CRUNCHD_ARG_INT, .required = 1,
 *        .min = -1000000, .max = 1000000, .doc = "first term"},
 *       {.name = "b", .type = CRUNCHD_ARG_INT, .min = -1000000, .max = 1000000,
 *        .def_int = 1, .doc = "second term (default 1)"},
 *   };
 *
 *   static int add_run(json_t *args, crunchd_call *call, json_t **result)
 *   {
 *       *result = json_integer(crunchd_arg_int(args, "a") + crunchd_arg_int(args, "b"));
 *       return *result ? CRUNCHD_OK : crunchd_fail(call, "out of memory");
 *   }
 *
 *   static const crunchd_function functions[] = {
 *       {.name = "add", .kind = CRUNCHD_KIND_CPU, .args = add_args,
 *        .nargs = CRUNCHD_COUNT(add_args), .doc = "a + b", .run = add_run},
 *   };
 *
 *   CRUNCHD_PLUGIN_DEFINE("adder", "1.0", functions)
 *
 * Build it with the flags pkg-config gives (the .pc file requires jansson):
 *
 *   cc -shared -fPIC -O2 -o libadder.so adder.c \
 *      $(pkg-config --cflags --libs crunchd-plugin)
 *
 * and check it with `crunchd -t -c crunchd.json`, which loads it as start-up
 * would and names the file in any error.
 *
 * ---- What crunchd looks for: the entry point and the ABI --------------------
 *
 * The one symbol crunchd looks up is CRUNCHD_PLUGIN_ENTRY
 * ("crunchd_plugin_entry"), a function returning the plugin's declaration
 * (crunchd_plugin). CRUNCHD_PLUGIN_DEFINE() writes it for you. The first
 * member of that declaration is the ABI version the plugin was compiled
 * with (CRUNCHD_PLUGIN_ABI); crunchd reads that first and refuses a plugin
 * of another version with a start-up error that names the file and both
 * versions. The version changes whenever a struct or a function of this
 * header changes in a way that breaks a compiled plugin; a plugin is then
 * rebuilt against the new header. The declaration structs here are this
 * ABI's own: crunchd copies what it needs out of them when it loads the
 * plugin, so its internal structures can change without breaking plugins.
 *
 * ---- Declaring functions ----------------------------------------------------
 *
 * Each crunchd_function has a name (1 to 63 bytes of letters, digits, '_',
 * '-' and '.', starting with a letter; unique among every function crunchd
 * serves: a clash with a built-in or another plugin's function is a
 * start-up error naming both), a kind, an argument schema, a one-line doc,
 * and run(). The kind says where it runs in a worker:
 *   CRUNCHD_KIND_CPU  on the cpu lane ("cpu_threads" threads per worker):
 *                     computation;
 *   CRUNCHD_KIND_IO   on the io pool ("io_threads" threads): waiting on
 *                     files, the network, a device.
 * Plugin functions never run on a worker's event-loop thread.
 *
 * The argument schema has the types and bounds of the built-ins; arguments
 * are a JSON object, each key one crunchd_arg:
 *   CRUNCHD_ARG_INT           a JSON integer from min to max (both included);
 *   CRUNCHD_ARG_STRING        a JSON string of at most max bytes, valid
 *                             UTF-8, no NUL byte;
 *   CRUNCHD_ARG_ENUM          a JSON string, one of choices (a NULL-terminated
 *                             array);
 *   CRUNCHD_ARG_NUMBER_ARRAY  a JSON array of at most max numbers.
 * required = 0 makes an argument optional with a default: def_int for an
 * integer, def_str for a string or an enum (must be one of the choices), []
 * for an array. Unknown keys, wrong types and values out of range are
 * rejected with 400 invalid_args naming the argument, before anything runs.
 * crunchd checks the schema itself at load (min <= max, defaults within
 * bounds, choices present, no argument twice) and refuses a bad one with a
 * start-up error.
 *
 * Flags: CRUNCHD_FN_DEBUG_ONLY makes a function exist only when the config
 * sets "debug_functions": true (functions for tests: a crash, a hang).
 *
 * Everything the declaration points to (names, docs, schemas, choices) is
 * read in place while the plugin is loaded: keep it in static storage.
 *
 * ---- run(): arguments, result, errors ---------------------------------------
 *
 *   int run(json_t *args, crunchd_call *call, json_t **result);
 *
 * args: the validated arguments, every one present (defaults filled in).
 * Borrowed: read it (crunchd_arg_int() & co. or any jansson call), do not
 * change or keep it. Return one of:
 *   CRUNCHD_OK         with *result a new reference (json_integer(),
 *                      json_pack(), ...): crunchd sends it and releases it.
 *                      CRUNCHD_OK without a result is a function error;
 *   CRUNCHD_FAILED     the function could not do its work: return
 *                      crunchd_fail(call, "fmt", ...), whose message the
 *                      client gets (HTTP 422 function_error for a call; a
 *                      job ends failed with that error). Leave *result NULL;
 *   CRUNCHD_CANCELLED,
 *   CRUNCHD_TIMEOUT    what crunchd_check() returned: stop as soon as it says
 *                      so (see below).
 * Any other value is a function error. A result set with a status other than
 * CRUNCHD_OK is released and ignored.
 *
 * ---- Cancel, deadline, progress ---------------------------------------------
 *
 * Every call has a deadline (the call's timeout_ms, or the job's) and may be
 * cancelled (DELETE /v1/jobs/{id}, a client that hangs up). A function that
 * runs longer than a few milliseconds calls crunchd_check(call) every few
 * milliseconds of work and returns its value when it is not CRUNCHD_OK. It
 * is cheap (an atomic load and a clock read). A function that does not stop
 * within jobs.cancel_grace_ms of the request has its worker killed and
 * restarted, losing every other call running in that worker: poll.
 * crunchd_remaining_ms(call) tells how long is left (e.g. for a poll() or a
 * socket timeout); crunchd_progress(call, n) records a count of work done.
 *
 * ---- Threads, processes, memory ---------------------------------------------
 *
 *   - run() is called on several threads of a worker at once: it must be
 *     thread-safe (no unguarded globals; rand() is not, use a local
 *     generator).
 *   - crunchd loads the plugin in its master process before it forks the
 *     workers, so each worker has its own copy of the plugin's globals.
 *     Constructors and the entry point also run in the master (and in a
 *     short-lived child that checks the plugin first): do no work there, no
 *     threads, no open files; set things up lazily in run().
 *   - A plugin that crashes takes down its worker, as a crashing built-in
 *     would: the worker is respawned, its running jobs end worker_lost (or
 *     are retried if they have retries left), other workers keep serving.
 *   - Reload (SIGHUP) loads the configured set again for the new workers;
 *     the old workers keep the code they started with. Install a new
 *     version of a plugin as a new file (install(1), or cp then mv over the
 *     old name), never by writing into the file in place: running workers
 *     map it, and rewriting it under them crashes them.
 *
 * jansson: args and results are jansson values (json_t), so a plugin links
 * jansson (libjansson.so.4, the library crunchd itself uses: one copy in the
 * process). pkg-config --libs crunchd-plugin includes it.
 */
#ifndef CRUNCHD_PLUGIN_H
#define CRUNCHD_PLUGIN_H

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version of this header (see above). */
#define CRUNCHD_PLUGIN_ABI 1

/* The symbol crunchd looks up, and the declaration of its function. */
#define CRUNCHD_PLUGIN_ENTRY "crunchd_plugin_entry"

/* What run() returns. */
enum {
    CRUNCHD_OK = 0,
    CRUNCHD_CANCELLED = 1, /* the call was cancelled */
    CRUNCHD_TIMEOUT = 2,   /* the call's deadline passed */
    CRUNCHD_FAILED = 3,    /* an error: crunchd_fail() wrote the message */
};

/* crunchd_function.kind */
enum {
    CRUNCHD_KIND_CPU = 0,
    CRUNCHD_KIND_IO = 1,
};

/* crunchd_arg.type */
enum {
    CRUNCHD_ARG_INT = 0,
    CRUNCHD_ARG_STRING = 1,
    CRUNCHD_ARG_ENUM = 2,
    CRUNCHD_ARG_NUMBER_ARRAY = 3,
};

/* crunchd_function.flags */
#define CRUNCHD_FN_DEBUG_ONLY 1u

/* One argument of a function's schema. */
typedef struct crunchd_arg {
    const char *name;
    int type;                   /* CRUNCHD_ARG_* */
    int required;               /* 0: optional, with the default below */
    int64_t min, max;           /* INT: the bounds; STRING, NUMBER_ARRAY: max length */
    int64_t def_int;            /* INT: the default */
    const char *def_str;        /* STRING, ENUM: the default (NULL: "") */
    const char *const *choices; /* ENUM: the values, NULL-terminated */
    const char *doc;            /* one line for /v1/functions */
} crunchd_arg;

/* A running call, as run() sees it: pass it to the crunchd_* calls below. */
typedef struct crunchd_call crunchd_call;

/* One function. */
typedef struct crunchd_function {
    const char *name;
    int kind;                 /* CRUNCHD_KIND_* */
    unsigned flags;           /* CRUNCHD_FN_* */
    const crunchd_arg *args;  /* nargs entries (NULL when nargs is 0) */
    int nargs;
    const char *doc;          /* one line for /v1/functions */
    int (*run)(json_t *args, crunchd_call *call, json_t **result);
} crunchd_function;

/* What the entry point returns. abi stays the first member in every version. */
typedef struct crunchd_plugin {
    uint32_t abi;                       /* CRUNCHD_PLUGIN_ABI */
    const char *name;                   /* for the log */
    const char *version;                /* for the log */
    const crunchd_function *functions;  /* nfunctions entries */
    int nfunctions;
} crunchd_plugin;

/* The entry point's type. */
typedef const crunchd_plugin *crunchd_plugin_entry_fn(void);

/*
 * crunchd's services to a running call. Plugins use the crunchd_* calls
 * below rather than this table; its layout is part of the ABI.
 */
typedef struct crunchd_host {
    int (*check)(crunchd_call *call);
    int64_t (*remaining_ms)(crunchd_call *call);
    void (*progress)(crunchd_call *call, int64_t done);
    int (*fail)(crunchd_call *call, const char *message);
    const char *(*data_dir)(crunchd_call *call);
} crunchd_host;

struct crunchd_call {
    const crunchd_host *host; /* crunchd's; the rest of the call is private */
};

/*
 * CRUNCHD_OK to go on, or CRUNCHD_CANCELLED / CRUNCHD_TIMEOUT: the call was
 * cancelled or its deadline passed; return that value now.
 */
static inline int crunchd_check(crunchd_call *call)
{
    return call->host->check(call);
}

/* Milliseconds left until the deadline (0 once past), -1 when there is none. */
static inline int64_t crunchd_remaining_ms(crunchd_call *call)
{
    return call->host->remaining_ms(call);
}

/* Records how much work is done (a count the function defines). */
static inline void crunchd_progress(crunchd_call *call, int64_t done)
{
    call->host->progress(call, done);
}

/* crunchd's data_dir (config "data_dir"), for functions that read files; NULL
 * when none is configured. */
static inline const char *crunchd_data_dir(crunchd_call *call)
{
    return call->host->data_dir(call);
}

/*
 * Sets the error message of this call (printf-style; cut at 255 bytes) and
 * returns CRUNCHD_FAILED, so that `return crunchd_fail(call, "...")` ends
 * run() with it.
 */
static inline int crunchd_fail(crunchd_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline int crunchd_fail(crunchd_call *call, const char *fmt, ...)
{
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    return call->host->fail(call, message);
}

/* ---- reading validated arguments (the schema guarantees presence and type) */

static inline int64_t crunchd_arg_int(json_t *args, const char *name)
{
    return (int64_t)json_integer_value(json_object_get(args, name));
}

/* A STRING or ENUM argument: NUL-terminated, borrowed from args. */
static inline const char *crunchd_arg_string(json_t *args, const char *name)
{
    return json_string_value(json_object_get(args, name));
}

static inline size_t crunchd_arg_string_length(json_t *args, const char *name)
{
    return json_string_length(json_object_get(args, name));
}

/* A NUMBER_ARRAY argument: the array (borrowed); json_array_size(),
 * json_number_value(json_array_get(a, i)). */
static inline json_t *crunchd_arg_array(json_t *args, const char *name)
{
    return json_object_get(args, name);
}

/* Entries of a static array, for nargs and nfunctions. */
#define CRUNCHD_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Visibility and linkage of the entry point (plugins may build with
 * -fvisibility=hidden, or in C++). */
#ifdef __cplusplus
#define CRUNCHD_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define CRUNCHD_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/*
 * Defines the entry point of a plugin called name (a string), version
 * version, serving the static array of crunchd_function functions.
 */
#define CRUNCHD_PLUGIN_DEFINE(name_, version_, functions_)                                  \
    CRUNCHD_PLUGIN_EXPORT const crunchd_plugin *crunchd_plugin_entry(void);                \
    CRUNCHD_PLUGIN_EXPORT const crunchd_plugin *crunchd_plugin_entry(void)                 \
    {                                                                                       \
        static const crunchd_plugin plugin = {CRUNCHD_PLUGIN_ABI, name_, version_,         \
                                              functions_, CRUNCHD_COUNT(functions_)};       \
        return &plugin;                                                                     \
    }

#ifdef __cplusplus
}
#endif

#endif
