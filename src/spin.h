/*
 * spin -- a tiny lock for state that several loop threads update a few
 * times per request (a source's breaker, its hedging statistics): held for
 * a handful of instructions, never across a call that may block.
 *
 * A zeroed spin is unlocked, so it needs no init and no destroy and can sit
 * in a struct that is set up with memset or a compound literal.  A waiter
 * that does not get it at once yields, so a holder descheduled on a busy
 * machine is not fought for a whole time slice.
 */
#ifndef RAGD_SPIN_H
#define RAGD_SPIN_H

#include <sched.h>
#include <stdatomic.h>

typedef struct spin {
    atomic_int held;
} spin;

static inline void spin_lock(spin *s)
{
    while (atomic_exchange_explicit(&s->held, 1, memory_order_acquire))
        while (atomic_load_explicit(&s->held, memory_order_relaxed))
            sched_yield();
}

static inline void spin_unlock(spin *s)
{
    atomic_store_explicit(&s->held, 0, memory_order_release);
}

#endif /* RAGD_SPIN_H */
