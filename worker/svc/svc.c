/*
 * svc.c - see svc.h.
 */
#include "svc.h"

const svc_caller svc_caller_open = {.owner = "", .all = true};
