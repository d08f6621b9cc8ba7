/*
 * breaker -- the circuit breaker state machine (see breaker.h).
 */
#include <assert.h>

#include "breaker.h"
#include "log.h"
#include "obs.h"

void breaker_init(breaker *b, const char *name, int failures, int64_t open_ms,
                  int64_t max_open_ms)
{
    assert(failures >= 0 && open_ms > 0 && max_open_ms >= open_ms);
    *b = (breaker){.name = name, .failures = failures, .open_ms = open_ms,
                   .max_open_ms = max_open_ms, .cur_open_ms = open_ms};
    atomic_init(&b->state, BREAKER_CLOSED);
    atomic_init(&b->run, 0);
}

void breaker_export(const breaker *b)
{
    metrics_set(obs.breaker_state, b->state, b->name);
}

/* The one place the state changes: logged once per change, and exported. */
static void breaker_set(breaker *b, breaker_state to)
{
    b->state = to;
    breaker_export(b);
    if (to == BREAKER_OPEN) {
        b->opened++;
        metrics_add(obs.breaker_opened, 1, b->name);
        log_msg(LOG_WARN, "source %s: circuit open for %lld ms after %d consecutive failures",
                b->name, (long long)b->cur_open_ms, b->run);
    } else if (to == BREAKER_HALF_OPEN) {
        log_msg(LOG_INFO, "source %s: circuit half-open, letting one request through",
                b->name);
    } else {
        log_msg(LOG_INFO, "source %s: circuit closed, the source answered again", b->name);
    }
}

static void breaker_open(breaker *b, int64_t now_ms)
{
    b->until_ms = now_ms + b->cur_open_ms;
    breaker_set(b, BREAKER_OPEN);
}

static int breaker_allow_locked(breaker *b, int64_t now_ms)
{
    if (b->state == BREAKER_CLOSED)
        return 1;
    if (now_ms < b->until_ms) {
        b->rejected++;
        return 0;
    }
    if (b->state == BREAKER_OPEN)
        breaker_set(b, BREAKER_HALF_OPEN);
    /* The next probe, should this one never be counted. */
    b->until_ms = now_ms + b->cur_open_ms;
    return 1;
}

int breaker_allow(breaker *b, int64_t now_ms)
{
    int ok;

    if (atomic_load_explicit(&b->state, memory_order_relaxed) == BREAKER_CLOSED)
        return 1;
    spin_lock(&b->lock);
    ok = breaker_allow_locked(b, now_ms);
    spin_unlock(&b->lock);
    return ok;
}

static void breaker_record_locked(breaker *b, int ok, int64_t now_ms)
{
    if (ok) {
        b->run = 0;
        if (b->state != BREAKER_CLOSED) {
            b->cur_open_ms = b->open_ms;
            breaker_set(b, BREAKER_CLOSED);
        }
        return;
    }
    b->run++;
    if (b->state == BREAKER_HALF_OPEN) {
        b->cur_open_ms = b->cur_open_ms * 2 > b->max_open_ms ? b->max_open_ms
                                                             : b->cur_open_ms * 2;
        breaker_open(b, now_ms);
    } else if (b->state == BREAKER_CLOSED && b->run >= b->failures) {
        breaker_open(b, now_ms);
    }
}

void breaker_record(breaker *b, int ok, int64_t now_ms)
{
    if (b->failures == 0)
        return;
    /* An answer while closed with no failure counted changes nothing. */
    if (ok && atomic_load_explicit(&b->state, memory_order_relaxed) == BREAKER_CLOSED &&
        atomic_load_explicit(&b->run, memory_order_relaxed) == 0)
        return;
    spin_lock(&b->lock);
    breaker_record_locked(b, ok, now_ms);
    spin_unlock(&b->lock);
}

breaker_state breaker_get_state(const breaker *b)
{
    return atomic_load(&((breaker *)b)->state);
}

const char *breaker_state_name(breaker_state s)
{
    static const char *const names[] = {"closed", "open", "half_open"};
    return names[s];
}
