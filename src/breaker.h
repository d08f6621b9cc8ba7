/*
 * breaker -- a circuit breaker for one source instance: stop asking a
 * source that keeps failing, and probe it now and then until it recovers.
 *
 *   CLOSED --N consecutive failures--> OPEN --T elapsed--> HALF_OPEN
 *   HALF_OPEN --the probe succeeds--> CLOSED
 *   HALF_OPEN --the probe fails--> OPEN for 2T (doubling up to max_open_ms)
 *
 * In HALF_OPEN one request per T is let through: a probe whose answer never
 * counts (its client left and it was cancelled) does not wedge the breaker.
 * Each change of state is logged once.  The clock is passed in, so the state
 * machine is tested without waiting.  A breaker is a plain struct its
 * instance embeds; it owns nothing.  Any loop thread: a spin lock keeps
 * each call whole.
 */
#ifndef RAGD_BREAKER_H
#define RAGD_BREAKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "spin.h"

#define BREAKER_DEFAULT_OPEN_MS 30000
#define BREAKER_DEFAULT_MAX_OPEN_MS 600000
#define BREAKER_MAX_MS 86400000

typedef enum breaker_state { BREAKER_CLOSED = 0, BREAKER_OPEN, BREAKER_HALF_OPEN } breaker_state;

typedef struct breaker {
    const char *name;       /* for the log; not owned, outlives the breaker */
    int failures;           /* consecutive failures that open it; 0: never opens */
    int64_t open_ms;        /* first open period */
    int64_t max_open_ms;    /* cap of the doubling */
    /* state and run are atomic so that the common case -- closed, and
     * the source answered -- is read without the lock and writes nothing
     * that every loop's requests would pass between cores. */
    _Atomic breaker_state state;
    _Atomic int run;        /* consecutive failures so far */
    int64_t cur_open_ms;    /* the current open period */
    int64_t until_ms;       /* OPEN: when it half-opens; HALF_OPEN: next probe */
    uint64_t opened;        /* times it opened (counters for metrics) */
    uint64_t rejected;      /* requests not sent because it was open */
    spin lock;              /* guards the fields above but the settings */
} breaker;

/* Set up b, closed.  failures 0 disables it. */
void breaker_init(breaker *b, const char *name, int failures, int64_t open_ms,
                  int64_t max_open_ms);

/* Publish b's state as the ragd_source_breaker_state gauge; done again at
 * each change of state. */
void breaker_export(const breaker *b);

/* Whether a request may be sent to the source now.  Returns 1 and, when
 * half-open, counts that request as the probe; 0 when open (counted in
 * rejected). */
int breaker_allow(breaker *b, int64_t now_ms);

/* The outcome of a request that was allowed: ok nonzero for success,
 * zero for an error or timeout. */
void breaker_record(breaker *b, int ok, int64_t now_ms);

/* The state, for responses and metrics. */
breaker_state breaker_get_state(const breaker *b);
const char *breaker_state_name(breaker_state s);

#endif /* RAGD_BREAKER_H */
