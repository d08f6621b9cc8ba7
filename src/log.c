/*
 * log -- timestamped lines on stderr, filtered by level.
 *
 * Each line is written with one fprintf on an unbuffered stream, so lines
 * from worker threads and the loop thread do not interleave mid-line.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

static atomic_int log_level = LOG_INFO; /* read by every thread, set at a reload */
static const char *const log_names[] = {"error", "warn", "info", "debug"};

void log_set_level(int level)
{
    log_level = level;
}

int log_parse_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, log_names[i]) == 0)
            return i;
    return -1;
}

void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
    char msg[1024], stamp[32];
    struct timespec ts;
    struct tm tm;

    if (level > log_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "%s.%03ldZ %s %s%s%s\n", stamp, ts.tv_nsec / 1000000,
            log_names[level], prefix ? prefix : "", prefix ? ": " : "", msg);
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, NULL, fmt, ap);
    va_end(ap);
}

void log_limited(log_limit *l, int level, const char *fmt, ...)
{
    long long now = clock_ms(), w = atomic_load(&l->window_ms);
    unsigned long skipped;
    char msg[900];
    va_list ap;

    /* One caller a second takes the window; the rest count themselves. */
    if ((w && now - w < 1000) || !atomic_compare_exchange_strong(&l->window_ms, &w, now)) {
        atomic_fetch_add(&l->suppressed, 1);
        return;
    }
    skipped = atomic_exchange(&l->suppressed, 0);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (skipped)
        log_msg(level, "%s (%lu more like it were not logged)", msg, skipped);
    else
        log_msg(level, "%s", msg);
}
