#include "fn_catalog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "builtin.h"

static _Atomic(const fn_registry *) current;
static fn_registry *builtins;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static void builtins_init(void)
{
    char err[256];
    builtins = fn_registry_new();
    if (!builtins || fn_builtins_register(builtins, err, sizeof(err)) < 0) {
        fprintf(stderr, "crunchd: the built-in functions cannot be registered: %s\n",
                builtins ? err : "out of memory");
        abort();
    }
    fn_registry_seal(builtins);
}

void fn_catalog_use(const fn_registry *r)
{
    if (r)
        fn_registry_seal(r);
    atomic_store(&current, r);
}

const fn_registry *fn_catalog_current(void)
{
    const fn_registry *r = atomic_load_explicit(&current, memory_order_acquire);
    if (r)
        return r;
    pthread_once(&builtins_once, builtins_init);
    return builtins;
}
const fn_desc *fn_find(const char *name, size_t len, bool debug)
{
    return fn_registry_find(fn_catalog_current(), name, len, debug);
}

int fn_count(void)
{
    return fn_registry_count(fn_catalog_current());
}

const fn_desc *fn_at(int i)
{
    return fn_registry_at(fn_catalog_current(), i);
}

json_t *fn_list_json(bool debug)
{
    return fn_registry_list_json(fn_catalog_current(), debug);
}
