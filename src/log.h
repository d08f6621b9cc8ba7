/*
 * log -- ragd's one logger: timestamped lines on stderr.
 *
 * Not for access logs or metrics.  Messages must never contain secrets (API
 * keys are read from the environment and never passed here).
 */
#ifndef RAGD_LOG_H
#define RAGD_LOG_H

#include <stdarg.h>

enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Set the most verbose level printed (default LOG_INFO). */
void log_set_level(int level);

/* Parse "error", "warn", "info" or "debug"; returns the level or -1. */
int log_parse_level(const char *name);

/* Print one line at level, printf-style. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same with a va_list, and a prefix such as a source's name (may be NULL). */
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap);

/* A limiter for a message that a peer can make ragd repeat (accept
 * errors, refused connections, a broken source's answers): zero-initialise
 * one per kind of message. */
typedef struct log_limit {
    _Atomic long long window_ms;      /* start of the current one-second window */
    _Atomic unsigned long suppressed;
} log_limit;

/* log_msg, at most once a second per limiter; the next line printed says
 * how many were suppressed meanwhile.  Any thread: threads may share one
 * limiter. */
void log_limited(log_limit *l, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* RAGD_LOG_H */
