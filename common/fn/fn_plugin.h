/*
 * fn_plugin.h - C plugins (include/crunchd/plugin.h, the plugin's manual):
 * loading one into a registry (fn_registry.h).
 *
 * fn_plugin_load() opens the shared object with dlopen(RTLD_NOW |
 * RTLD_LOCAL) (an unresolved symbol fails here, not in a worker), finds
 * CRUNCHD_PLUGIN_ENTRY, checks the ABI version before it reads anything
 * else, converts each declared function into a descriptor (the plugin's
 * structs are the ABI's, not crunchd's: a plugin does not break when
 * fn_desc changes) and adds it to the registry with the plugin's path as
 * origin. The descriptors run the plugin through an adapter (their run())
 * and have no cost_ns: a plugin function never runs on the loop thread.
 * The registry owns the dlopen() handle; fn_registry_free() closes it.
 *
 * A plugin file replaced since it was loaded (a new file at the same path,
 * found by its device and inode) is loaded afresh, although the dynamic
 * loader would hand back the copy it has under that name: a reload picks up
 * a rebuilt plugin while the old registry keeps the old code.
 *
 * When crunchd runs as root, a plugin must be a regular file owned by root
 * and not writable by group or others (its code runs in the master).
 *
 * Master thread only (or a test's): loading runs the plugin's constructors
 * and entry point in this process, and the table of loaded files is not
 * locked. Callers that must survive a plugin that crashes while it loads
 * try it in a child process first (server/functions.c).
 */
#ifndef CRUNCHD_FN_PLUGIN_H
#define CRUNCHD_FN_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "fn_registry.h"

/* What a load found, for the log. */
typedef struct fn_plugin_info {
    char name[64];    /* the plugin's own name and version (cut to fit) */
    char version[32];
    int nfunctions;   /* functions added */
    bool fresh;       /* a new file at a path that was loaded before */
} fn_plugin_info;

/*
 * Loads the plugin at path (a path without '/' is taken relative to the
 * working directory, never searched for) and adds its functions to r.
 * info may be NULL. Returns 0, or -1 with err naming the file and the
 * problem: cannot be read or loaded (dlerror()), not owned by root, no
 * entry point ("not a crunchd plugin"), another ABI version (both named), a
 * bad declaration, a function r refuses (a name clash names both origins).
 * On failure r may hold some of the plugin's functions: discard r.
 */
int fn_plugin_load(fn_registry *r, const char *path, fn_plugin_info *info, char *err,
                   size_t errlen);

#endif
