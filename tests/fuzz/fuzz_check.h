/*
 * fuzz_check.h - what the libFuzzer targets of tests/fuzz/ share: CHECK(),
 * which turns a broken invariant into a crash that libFuzzer keeps as a
 * reproducer (__builtin_trap, so it works without assert() and under -O1),
 * after naming the invariant on stderr.
 */
#ifndef CRUNCHD_FUZZ_CHECK_H
#define CRUNCHD_FUZZ_CHECK_H

#include <stdio.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #x);                  \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

#endif
