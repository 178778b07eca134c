/*
 * functions.c - see functions.h.
 */
#include "functions.h"

#include <assert.h>

#include "errbuf.h"
#include "fn_builtin.h"
#include "fn_registry.h"
#include "metrics.h"
#include "rt_load.h"

/* Registries built and not freed yet: the running one, and at most one or
 * two newer ones (a reload's, kept until the next load finds it unused). */
#define FUNCTIONS_MAX_BUILT 4

static fn_registry *built[FUNCTIONS_MAX_BUILT];

/* Frees every built registry but keep. */
static void collect(const fn_registry *keep)
{
    for (int i = 0; i < FUNCTIONS_MAX_BUILT; i++) {
        if (built[i] && built[i] != keep) {
            fn_registry_free(built[i]);
            built[i] = NULL;
        }
    }
}

static void remember(fn_registry *r)
{
    for (int i = 0; i < FUNCTIONS_MAX_BUILT; i++) {
        if (!built[i]) {
            built[i] = r;
            return;
        }
    }
    assert(!"more registries alive than a reload can need");
}

int functions_load(config *cfg, const config *running, char *err, size_t errlen)
{
    cfg->functions.registry = NULL;
    collect(running ? running->functions.registry : NULL);
    fn_registry *r = fn_registry_new();
    if (!r)
        return errbuf_fail(err, errlen, "functions: out of memory");
    if (fn_builtins_register(r, err, errlen) < 0 || rt_load_all(r, cfg, err, errlen) < 0) {
        fn_registry_free(r);
        return -1;
    }
    remember(r);
    cfg->functions.registry = r;
    return 0;
}

int functions_reload(config *next, const config *running, shm_region *shm, char *err, size_t errlen)
{
    if (functions_load(next, running, err, errlen) < 0)
        return -1;
    metrics_register_fns(shm, next->functions.registry);
    return 0;
}

int functions_check(const config *cfg, char *err, size_t errlen)
{
    fn_registry *r = fn_registry_new();
    if (!r)
        return errbuf_fail(err, errlen, "functions: out of memory");
    int rc = fn_builtins_register(r, err, errlen) < 0 || rt_load_all(r, cfg, err, errlen) < 0;
    fn_registry_free(r);
    return rc ? -1 : 0;
}
