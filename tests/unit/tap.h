/*
 * tap.h -- a minimal Test Anything Protocol emitter for ragd's unit tests.
 *
 * Each check prints one "ok N - what" or "not ok N - what" line; tap_done()
 * prints the plan and returns the exit status, so automake's TAP driver
 * counts every check, not just every program.
 */
#ifndef RAGD_TAP_H
#define RAGD_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...)                                                        \
    do {                                                                     \
        int ok_ = (cond) ? 1 : 0;                                            \
        printf("%s %d - ", ok_ ? "ok" : "not ok", ++tap_n);                 \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
        if (!ok_) {                                                          \
            tap_failed++;                                                    \
            printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                    \
    } while (0)

#define is_int(got, want, ...)                                               \
    do {                                                                     \
        long long g_ = (long long)(got), w_ = (long long)(want);             \
        ok(g_ == w_, __VA_ARGS__);                                           \
        if (g_ != w_) printf("#   got %lld, want %lld\n", g_, w_);           \
    } while (0)

#define is_str(got, want, ...)                                               \
    do {                                                                     \
        const char *g_ = (got), *w_ = (want);                                \
        int same_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;             \
        ok(same_, __VA_ARGS__);                                              \
        if (!same_) printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif /* RAGD_TAP_H */
