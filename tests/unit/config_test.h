/*
 * config_test.h - helpers shared by the unit tests of common/config.c
 * (check_config.c, check_config_http.c). Each helper fails the current Check
 * test with the loader's message.
 */
#ifndef CRUNCHD_CONFIG_TEST_H
#define CRUNCHD_CONFIG_TEST_H

#include <check.h>
#include <string.h>

#include "config.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Loads json into *cfg and fails the test with the loader's message if it errs. */
static inline void must_load(config *cfg, const char *json)
{
    char err[512] = "";
    int rc = config_load_string(cfg, json, err, sizeof(err));
    ck_assert_msg(rc == 0, "config_load_string(%s) failed: %s", json, err);
}

/* Loads json and fails the test unless it errs with exactly want. */
static inline void must_fail(const char *json, const char *want)
{
    static config cfg;
    char err[512] = "";
    int rc = config_load_string(&cfg, json, err, sizeof(err));
    ck_assert_msg(rc == -1, "config_load_string(%s) succeeded, want \"%s\"", json, want);
    ck_assert_msg(strcmp(err, want) == 0, "config_load_string(%s):\n got \"%s\"\nwant \"%s\"",
                  json, err, want);
}

#endif
