/*
 * clock -- the monotonic millisecond clock every deadline in ragd uses.
 */
#ifndef RAGD_CLOCK_H
#define RAGD_CLOCK_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

/* Milliseconds since an arbitrary fixed point; never goes backwards. */
static inline int64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The same in microseconds, for latencies reported with fractions. */
static inline int64_t clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A span of ms milliseconds (>= 0) as libevent's timers take it. */
static inline struct timeval clock_timeval(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* A latency of us microseconds as reported: milliseconds to 0.1 ms. */
static inline double clock_report_ms(int64_t us)
{
    return (double)((us + 50) / 100) / 10.0;
}

#endif /* RAGD_CLOCK_H */
