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
    long long now = clock_ms();
    char msg[900];
    va_list ap;

    if (l->window_ms && now - l->window_ms < 1000) {
        l->suppressed++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l->suppressed)
        log_msg(level, "%s (%lu more like it were not logged)", msg, l->suppressed);
    else
        log_msg(level, "%s", msg);
    l->window_ms = now;
    l->suppressed = 0;
}
