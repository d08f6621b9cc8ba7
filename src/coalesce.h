/*
 * coalesce -- identical searches in flight at the same time share one
 * fan-out.
 *
 * A flight owns one fanout (fanout.h) and the members waiting for it.  A
 * search joins with a key (search.c builds it from the request; NULL means
 * "never share") and either starts a new flight or, when a flight with the
 * same key is still retrieving, follows it.  When the fan-out is done every
 * member's done callback runs, each builds and writes its own reply from
 * the shared slots, and the flight leaves the table: later requests start a
 * new one.  A member holds a reference to the flight until it leaves (the
 * fused hits of a search point into the fanout's slots); the fanout is
 * freed, and cancelled if still running, when the last member leaves, so
 * one client leaving never cancels the others' retrieval.
 *
 * Ownership: the caller owns its member struct; coalesce owns flights.
 * Loop thread only.
 */
#ifndef RAGD_COALESCE_H
#define RAGD_COALESCE_H

#include <stdint.h>

#include "fanout.h"

typedef struct coalesce_flight coalesce_flight;

typedef struct coalesce_member {
    fanout_settle_cb settled;         /* a source settled (may run inside join) */
    fanout_done_cb done;              /* retrieval is over: build the reply */
    void *arg;
    int follower;                     /* joined a flight another search started */
    coalesce_flight *fl;              /* set by join, NULL after leave */
    struct coalesce_member *prev, *next; /* the flight's waiting members */
} coalesce_member;

typedef struct coalesce_stats {
    uint64_t flights;                 /* fan-outs started */
    uint64_t followers;               /* searches answered from another's fan-out */
    uint64_t in_flight;               /* shared flights retrieving now */
} coalesce_stats;

/* Join the flight called key (copied), or start one with fanout_start's
 * arguments.  m's settled, done and arg are set by the caller; m->fl is set
 * before any callback runs.  Returns 0, or -1 when a new fan-out could not
 * start (out of memory): m is then not joined and no callback runs later. */
int coalesce_join(coalesce_member *m, const char *key, struct event_base *base,
                  instance *const *insts, size_t n, const char *query, filter *flt, int k,
                  int64_t deadline_ms);

/* The member's fanout, or NULL while it is being started or after leave. */
fanout *coalesce_fanout(const coalesce_member *m);

/* Leave the flight (no-op when not joined): the done callback will not run
 * for m; the last member out frees the fanout.  Safe from inside m's own
 * callbacks. */
void coalesce_leave(coalesce_member *m);

void coalesce_get_stats(coalesce_stats *out);

#endif /* RAGD_COALESCE_H */
