/*
 * fanout -- ask several source instances one query at once and collect what
 * each answered by its own deadline.
 *
 * Lifetime rule (the point of this module): a source's callback may arrive
 * after the fanout is gone -- its deadline passed, or its client left and
 * the owner freed the fanout.  Each search therefore gets its own slot, and
 * a slot outlives its fanout until the source calls back: fanout_free
 * orphans the slots still waiting (slot->f = NULL) and the late callback
 * frees the orphan without touching anything else.  Sources never hold a
 * pointer to the fanout or the request.
 */
#ifndef RAGD_FANOUT_H
#define RAGD_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include <ragd/source.h>

#include "instance.h"

struct event_base;

typedef enum fanout_state {
    FANOUT_PENDING = 0,
    FANOUT_OK,
    FANOUT_ERROR,
    FANOUT_TIMEOUT,
    FANOUT_DISABLED
} fanout_state;

typedef struct fanout fanout;

/* One source's part of a fanout.  Owned by its fanout, or by itself once
 * orphaned (freed when its callback runs). */
typedef struct fanout_slot {
    fanout *f;               /* NULL when orphaned */
    instance *inst;          /* a reference, dropped when the slot is freed */
    fanout_state state;
    int called_back;         /* the source's callback has run (or never will) */
    int cancelled;           /* the source was asked to cancel */
    int64_t start_us, end_us;
    struct event *timer;     /* this source's deadline; NULL when settled */
    ragd_op *op;
    ragd_hit *hits;          /* owned copies, best first */
    size_t nhits;
    char *error;             /* owned; set for FANOUT_ERROR and FANOUT_TIMEOUT */
} fanout_slot;

/* Called once on the loop thread when every slot has settled (answered,
 * failed, timed out).  The owner reads the slots, then calls fanout_free. */
typedef void (*fanout_done_cb)(void *arg, fanout *f);

/* Called on the loop thread as each slot settles, before done (may be
 * NULL).  It must not free the fanout. */
typedef void (*fanout_settle_cb)(void *arg, const fanout_slot *slot);

/* Start searching query in each of insts[0..n) (n >= 0; disabled instances
 * are recorded as such), each until min(deadline_ms, its own timeout).
 * Returns the fanout, whose done callback runs exactly once and never from
 * inside this call; or NULL (ENOMEM) and done never runs. */
fanout *fanout_start(struct event_base *base, instance *const *insts, size_t n,
                     const char *query, int k, int64_t deadline_ms, fanout_done_cb done,
                     fanout_settle_cb on_settle, void *arg);

/* The slots, in the order the instances were given. */
fanout_slot *const *fanout_slots(const fanout *f, size_t *n);

/* Microseconds from start until every slot settled (so far, if not yet). */
int64_t fanout_elapsed_us(const fanout *f);

/* Free the fanout, at any time on the loop thread: settled slots are freed,
 * searches still running are cancelled and their slots orphaned, and done
 * will not run if it has not yet.  Sets *fp to NULL. */
void fanout_free(fanout **fp);

/* The response name of a state: "ok", "error", "timeout", "disabled". */
const char *fanout_state_name(fanout_state s);

#endif /* RAGD_FANOUT_H */
