/*
 * fn_plugin.c - see fn_plugin.h. Three parts: the files loaded (one entry
 * per dlopen() handle, with the device and inode it was loaded from), the
 * conversion of a plugin's declaration into descriptors, and the adapter
 * through which a descriptor runs the plugin's run() with crunchd's
 * services (crunchd_host).
 */
#include "fn_plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crunchd/plugin.h"
#include "errbuf.h"
#include "builtin.h"

/* ---- the adapter: a descriptor's run() and crunchd's services ---- */

/* What a plugin's crunchd_call points to. */
typedef struct plugin_call {
    crunchd_call pub; /* first: the plugin sees this part only */
    fn_ctx *ctx;
} plugin_call;

static fn_ctx *ctx_of(crunchd_call *call)
{
    return ((plugin_call *)call)->ctx;
}

static int host_check(crunchd_call *call)
{
    switch (fn_ctx_check(ctx_of(call))) {
    case FN_CANCELLED: return CRUNCHD_CANCELLED;
    case FN_TIMEOUT: return CRUNCHD_TIMEOUT;
    default: return CRUNCHD_OK;
    }
}

static int64_t host_remaining_ms(crunchd_call *call)
{
    int64_t deadline = ctx_of(call)->deadline_ns;
    if (deadline == 0)
        return -1;
    int64_t left = deadline - fn_now_ns();
    return left > 0 ? left / 1000000 : 0;
}

static void host_progress(crunchd_call *call, int64_t done)
{
    fn_set_progress(ctx_of(call), done);
}

static int host_fail(crunchd_call *call, const char *message)
{
    fn_fail(ctx_of(call), "%s", message ? message : "");
    return CRUNCHD_FAILED;
}

static const char *host_data_dir(crunchd_call *call)
{
    return ctx_of(call)->data_dir;
}

static const crunchd_host host = {
    .check = host_check,
    .remaining_ms = host_remaining_ms,
    .progress = host_progress,
    .fail = host_fail,
    .data_dir = host_data_dir,
};

static fn_status plugin_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    const crunchd_function *f = self->impl;
    plugin_call call = {{&host}, ctx};
    json_t *res = NULL;
    int st = f->run(args, &call.pub, &res);
    *result = NULL;
    if (st == CRUNCHD_OK && res) {
        *result = res;
        return FN_OK;
    }
    json_decref(res); /* a result with an error status is ignored */
    switch (st) {
    case CRUNCHD_OK: return fn_fail(ctx, "%s returned CRUNCHD_OK without a result", self->name);
    case CRUNCHD_CANCELLED: return FN_CANCELLED;
    case CRUNCHD_TIMEOUT: return FN_TIMEOUT;
    case CRUNCHD_FAILED:
        if (ctx->message[0] == '\0')
            fn_fail(ctx, "%s failed without a message", self->name);
        return FN_FAILED;
    default: return fn_fail(ctx, "%s returned an unknown status %d", self->name, st);
    }
}

/* ---- the files loaded ---- */

typedef struct loaded {
    void *handle;
    dev_t dev; /* of the file this handle was loaded from */
    ino_t ino;
    int refs; /* registries holding it (each holds one dlopen() reference) */
    struct loaded *next;
} loaded;

static loaded *loaded_list;

static loaded *loaded_find(void *handle)
{
    for (loaded *e = loaded_list; e; e = e->next)
        if (e->handle == handle)
            return e;
    return NULL;
}

/* fn_registry_own()'s release: one registry lets go of the file. */
static void loaded_release(void *p)
{
    loaded *e = p;
    dlclose(e->handle);
    if (--e->refs > 0)
        return;
    for (loaded **pp = &loaded_list; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    free(e);
}

/*
 * dlopen() under a name the loader has never seen (a symlink in a private
 * directory), so that it compares the file by device and inode instead of
 * handing back the copy it holds under path.
 */
static void *dlopen_fresh(const char *path, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX], link[PATH_MAX + 64], name[PATH_MAX];
    char *target = realpath(path, NULL);
    void *h = NULL;
    snprintf(dir, sizeof(dir), "%s/crunchd-plugin.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    snprintf(name, sizeof(name), "%s", path);
    if (!target || !mkdtemp(dir)) {
        errbuf_fail(err, errlen, "%s: replaced since it was loaded, and %s failed: %s", path,
                    target ? "mkdtemp()" : "realpath()", strerror(errno));
        free(target);
        return NULL;
    }
    snprintf(link, sizeof(link), "%s/%s", dir, basename(name));
    if (symlink(target, link) < 0)
        errbuf_fail(err, errlen, "%s: replaced since it was loaded, and symlink() in %s failed: %s",
                    path, dir, strerror(errno));
    else if (!(h = dlopen(link, RTLD_NOW | RTLD_LOCAL)))
        errbuf_fail(err, errlen, "%s: dlopen() failed: %s", path, dlerror());
    unlink(link);
    rmdir(dir);
    free(target);
    return h;
}

/* Opens path (whose stat is st) and takes a reference to its entry. */
static loaded *open_file(const char *path, const struct stat *st, bool *fresh, char *err,
                         size_t errlen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        errbuf_fail(err, errlen, "%s: dlopen() failed: %s", path, dlerror());
        return NULL;
    }
    loaded *e = loaded_find(h);
    if (e && (e->dev != st->st_dev || e->ino != st->st_ino)) {
        dlclose(h); /* the old file, which the loader shares by name */
        if (!(h = dlopen_fresh(path, err, errlen)))
            return NULL;
        *fresh = true;
        e = loaded_find(h);
    }
    if (!e) {
        if (!(e = calloc(1, sizeof(*e)))) {
            dlclose(h);
            errbuf_fail(err, errlen, "%s: out of memory", path);
            return NULL;
        }
        *e = (loaded){.handle = h, .dev = st->st_dev, .ino = st->st_ino, .next = loaded_list};
        loaded_list = e;
    }
    e->refs++;
    return e;
}

/* What a plugin file must be before anything of it runs here. */
static int check_file(const char *path, struct stat *st, char *err, size_t errlen)
{
    if (stat(path, st) < 0)
        return errbuf_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st->st_mode))
        return errbuf_fail(err, errlen, "%s: not a regular file", path);
    if (geteuid() == 0 && (st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH))))
        return errbuf_fail(err, errlen,
                           "%s: refusing to load it as root: it must be owned by root and not "
                           "writable by group or others",
                           path);
    return 0;
}

/* ---- the declaration ---- */

static int arg_type_of(int t, fn_arg_type *out)
{
    switch (t) {
    case CRUNCHD_ARG_INT: *out = FN_ARG_INT; return 0;
    case CRUNCHD_ARG_STRING: *out = FN_ARG_STRING; return 0;
    case CRUNCHD_ARG_ENUM: *out = FN_ARG_ENUM; return 0;
    case CRUNCHD_ARG_NUMBER_ARRAY: *out = FN_ARG_NUMBER_ARRAY; return 0;
    }
    return -1;
}

/* Fills d (and its args, nargs entries) from f; the registry checks the rest. */
static int convert(const crunchd_function *f, const char *path, fn_desc *d, fn_arg *args, char *err,
                   size_t errlen)
{
    const char *name = f->name ? f->name : "";
    if (!f->run)
        return errbuf_fail(err, errlen, "function \"%s\" of %s: no run()", name, path);
    if (f->kind != CRUNCHD_KIND_CPU && f->kind != CRUNCHD_KIND_IO)
        return errbuf_fail(err, errlen, "function \"%s\" of %s: unknown kind %d", name, path,
                           f->kind);
    if (f->flags & ~CRUNCHD_FN_DEBUG_ONLY)
        return errbuf_fail(err, errlen, "function \"%s\" of %s: unknown flags 0x%x", name, path,
                           f->flags & ~CRUNCHD_FN_DEBUG_ONLY);
    for (int i = 0; i < f->nargs; i++) {
        const crunchd_arg *a = &f->args[i];
        args[i] = (fn_arg){.name = a->name,
                           .required = a->required != 0,
                           .min = a->min,
                           .max = a->max,
                           .def_int = a->def_int,
                           .def_str = a->def_str,
                           .choices = a->choices,
                           .doc = a->doc};
        if (arg_type_of(a->type, &args[i].type) < 0)
            return errbuf_fail(err, errlen,
                               "function \"%s\" of %s: argument \"%s\": unknown "
                               "type %d",
                               name, path, a->name ? a->name : "", a->type);
    }
    *d = (fn_desc){.name = f->name,
                   .kind = f->kind == CRUNCHD_KIND_IO ? FN_IO : FN_CPU,
                   .debug_only = (f->flags & CRUNCHD_FN_DEBUG_ONLY) != 0,
                   .args = args,
                   .nargs = f->nargs,
                   .doc = f->doc,
                   .run = plugin_run,
                   .impl = f};
    return 0;
}

/* The declaration behind the entry point, once its ABI is ours. */
static const crunchd_plugin *declaration(void *handle, const char *path, char *err, size_t errlen)
{
    crunchd_plugin_entry_fn *entry;
    *(void **)&entry = dlsym(handle, CRUNCHD_PLUGIN_ENTRY);
    if (!entry) {
        errbuf_fail(err, errlen, "%s: no symbol %s: not a crunchd plugin (see crunchd/plugin.h)",
                    path, CRUNCHD_PLUGIN_ENTRY);
        return NULL;
    }
    const crunchd_plugin *p = entry();
    if (!p) {
        errbuf_fail(err, errlen, "%s: %s() returned NULL", path, CRUNCHD_PLUGIN_ENTRY);
        return NULL;
    }
    if (p->abi != CRUNCHD_PLUGIN_ABI) {
        errbuf_fail(err, errlen,
                    "%s: built for plugin ABI %u, this crunchd loads ABI %d: "
                    "rebuild it against this crunchd's crunchd/plugin.h",
                    path, (unsigned)p->abi, CRUNCHD_PLUGIN_ABI);
        return NULL;
    }
    if (p->nfunctions <= 0 || !p->functions) {
        errbuf_fail(err, errlen, "%s: declares no functions", path);
        return NULL;
    }
    for (int i = 0; i < p->nfunctions; i++) {
        const crunchd_function *f = &p->functions[i];
        if (f->nargs < 0 || (f->nargs > 0 && !f->args)) {
            errbuf_fail(err, errlen, "function \"%s\" of %s: bad argument list",
                        f->name ? f->name : "", path);
            return NULL;
        }
    }
    return p;
}

static int add_functions(fn_registry *r, const crunchd_plugin *p, const char *path, char *err,
                         size_t errlen)
{
    size_t total = 1;
    for (int i = 0; i < p->nfunctions; i++)
        total += (size_t)p->functions[i].nargs;
    fn_arg *args = calloc(total, sizeof(*args));
    if (!args)
        return errbuf_fail(err, errlen, "%s: out of memory", path);
    if (fn_registry_own(r, args, free) < 0)
        return errbuf_fail(err, errlen, "%s: out of memory", path);
    for (int i = 0; i < p->nfunctions; i++) {
        fn_desc d;
        if (convert(&p->functions[i], path, &d, args, err, errlen) < 0 ||
            fn_registry_add(r, &d, path, err, errlen) < 0)
            return -1;
        args += p->functions[i].nargs;
    }
    return 0;
}

int fn_plugin_load(fn_registry *r, const char *path, fn_plugin_info *info, char *err, size_t errlen)
{
    char rel[PATH_MAX];
    struct stat st;
    bool fresh = false;
    fn_plugin_info scratch;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof(*info));
    if (!strchr(path, '/')) { /* never a search of the library path */
        snprintf(rel, sizeof(rel), "./%s", path);
        path = rel;
    }
    if (check_file(path, &st, err, errlen) < 0)
        return -1;
    loaded *e = open_file(path, &st, &fresh, err, errlen);
    if (!e || fn_registry_own(r, e, loaded_release) < 0)
        return e ? errbuf_fail(err, errlen, "%s: out of memory", path) : -1;
    const crunchd_plugin *p = declaration(e->handle, path, err, errlen);
    if (!p || add_functions(r, p, path, err, errlen) < 0)
        return -1;
    snprintf(info->name, sizeof(info->name), "%s", p->name ? p->name : "");
    snprintf(info->version, sizeof(info->version), "%s", p->version ? p->version : "");
    info->nfunctions = p->nfunctions;
    info->fresh = fresh;
    return 0;
}
