/*
 * loop.h - which thread is the loop thread: the rule "loop thread only",
 * written in the headers, asserted at the entry of loop-only functions in
 * builds with assertions (ENGINE_ASSERT_LOOP).
 */
#ifndef CRUNCHD_LOOP_H
#define CRUNCHD_LOOP_H

#include <assert.h>
#include <stdbool.h>

/* The calling thread becomes the loop thread (engine_init). */
void loop_claim(void);

extern __thread bool loop_thread; /* loop.c; read through loop_mine() */

/* True on the thread that called loop_claim(). */
static inline bool loop_mine(void)
{
    return loop_thread;
}

#define ENGINE_ASSERT_LOOP() assert(loop_mine())

#endif
