/*
 * fn_catalog.h - the functions this process serves: the registry that
 * fn_find(), fn_count(), fn_at() and fn_list_json() of fn.h read (they are
 * implemented in fn_catalog.c). A worker chooses its generation's registry
 * once, at its start, before its threads start; until one is chosen (tools,
 * tests) it is the built-ins alone, made on first use and never freed.
 *
 * Thread rules: fn_catalog_use() before the threads that read it start
 * (tests: between single-threaded phases); the lookups take no lock and are
 * safe from any thread.
 */
#ifndef CRUNCHD_FN_CATALOG_H
#define CRUNCHD_FN_CATALOG_H

#include "fn_registry.h"

/* Makes r (borrowed: it must outlive its use) the registry the lookups read;
 * NULL goes back to the built-ins. */
void fn_catalog_use(const fn_registry *r);

/* The registry the lookups read now. */
const fn_registry *fn_catalog_current(void);

#endif
