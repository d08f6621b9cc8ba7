/*
 * fanout -- ask several source instances one query at once and collect what
 * each answered by its own deadline.
 *
 * Lifetime rules (the point of this module), each enforced, not just hoped
 * for:
 *
 * - A source's callback may arrive after the fanout is gone -- its deadline
 *   passed, or its client left and the owner freed the fanout.  Each search
 *   therefore gets its own slot, and a slot outlives its fanout until the
 *   source calls back: fanout_free orphans the slots whose source still owes
 *   a callback (and asks those sources to cancel), and the late callback
 *   frees the orphan without touching anything else.
 * - Sources never hold a pointer to the fanout, the request or even the
 *   slot: a search's callback argument is a number that names the slot
 *   while its source owes the callback.  A callback under a number no slot
 *   answers to (a source calling back twice, or after its search() returned
 *   an error) is logged, counted (fanout_get_stats) and ignored; it cannot
 *   reach freed memory.  Numbers are never reused (on a 32-bit machine,
 *   not within 2^32 searches).
 * - A slot settles once, only while pending; it is freed once, only when
 *   both its fanout and its source are done with it; done runs at most once
 *   and never after fanout_free.  These are assert()ed: a failure is a bug in
 *   this module, never something a source or the owner can cause.
 * - The owner's callbacks are not re-entrant.  fanout_free from inside the
 *   done callback is the normal way to finish; fanout_free from inside a
 *   settle callback breaks that callback's contract: it is logged and
 *   counted, and, like a free from done, takes effect as the callback
 *   returns -- *fp is NULL at once, no callback runs after it, and the
 *   fanout is valid until the callback returns.
 *
 * Everything here runs on the loop thread.
 */
#ifndef RAGD_FANOUT_H
#define RAGD_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include <ragd/source.h>

#include "filter.h"
#include "instance.h"

struct event_base;

typedef enum fanout_state {
    FANOUT_PENDING = 0,
    FANOUT_OK,
    FANOUT_ERROR,
    FANOUT_TIMEOUT,
    FANOUT_DISABLED,
    FANOUT_SKIPPED           /* the search has a filter the source cannot apply */
} fanout_state;

typedef struct fanout fanout;

/* One source's part of a fanout, as the owner reads it.  Owned by its
 * fanout (the owner only reads it), or by itself once orphaned.  The slot's
 * lifecycle (asked, cancelled, called back, orphaned) is private to
 * fanout.c. */
typedef struct fanout_slot {
    instance *inst;          /* a reference, dropped when the slot is freed */
    fanout_state state;      /* PENDING until it settles, then final */
    int64_t start_us, end_us;
    ragd_hit *hits;          /* owned copies, best first (FANOUT_OK) */
    size_t nhits;
    char *error;             /* owned; set for FANOUT_ERROR, FANOUT_TIMEOUT and
                              * FANOUT_SKIPPED */
    int hedged;              /* a hedged HTTP request's second copy answered first */
} fanout_slot;

/* Called once on the loop thread when every slot has settled (answered,
 * failed, timed out).  The owner reads the slots, then calls fanout_free
 * (from inside this callback or later). */
typedef void (*fanout_done_cb)(void *arg, fanout *f);

/* Called on the loop thread as each slot settles, before done (may be
 * NULL; may run inside fanout_start).  It must not free the fanout (see
 * the lifetime rules above for what happens if it does). */
typedef void (*fanout_settle_cb)(void *arg, const fanout_slot *slot);

/* Start searching query in each of insts[0..n) (n >= 0; disabled instances
 * are recorded as such), each until min(deadline_ms, its own timeout).
 * flt is the search's metadata filter or NULL: an instance whose source
 * type cannot apply filters is then not asked but recorded as skipped, and
 * every instance asked holds a reference on flt until it has called back. 
 * Returns the fanout, whose done callback runs exactly once and never from
 * inside this call; or NULL (ENOMEM) and done never runs. */
fanout *fanout_start(struct event_base *base, instance *const *insts, size_t n,
                     const char *query, filter *flt, int k, int64_t deadline_ms,
                     fanout_done_cb done,
                     fanout_settle_cb on_settle, void *arg);

/* The slots, in the order the instances were given. */
fanout_slot *const *fanout_slots(const fanout *f, size_t *n);

/* Microseconds from start until every slot settled (so far, if not yet). */
int64_t fanout_elapsed_us(const fanout *f);

/* Free the fanout, at any time on the loop thread: settled slots are freed,
 * searches still running are cancelled and their slots orphaned, and done
 * will not run if it has not yet.  Sets *fp to NULL.  From inside one of
 * the fanout's own callbacks the free happens as that callback returns. */
void fanout_free(fanout **fp);

/* The response name of a state: "ok", "error", "timeout", "disabled",
 * "skipped". */
const char *fanout_state_name(fanout_state s);

/* What the fan-out has seen misbehave since the process started, and what
 * it still waits for. */
typedef struct fanout_stats {
    size_t awaiting;                /* searches whose source still owes its callback */
    unsigned long stray_callbacks;  /* ignored: a second callback, or one after
                                     * search() returned an error */
    unsigned long settle_frees;     /* fanout_free called from a settle callback */
} fanout_stats;

void fanout_get_stats(fanout_stats *out);

#endif /* RAGD_FANOUT_H */
