/*
 * clock.h - time conversions shared by every layer. Header only; pure.
 */
#ifndef CRUNCHD_CLOCK_H
#define CRUNCHD_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

/* ms milliseconds (>= 0) as a struct timeval, for libevent timers. */
static inline struct timeval clock_tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

#endif
