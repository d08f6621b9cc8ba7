/*
 * hedge -- hedged HTTP requests for one source instance: when no answer
 * has come by the instance's observed p95 latency (never earlier than a
 * floor), send the same request a second time; the first answer wins and
 * the other transfer is cancelled.
 *
 * Three pieces, each usable alone so they can be tested without a network:
 *   - a p95 estimator over a ring of the most recent latencies;
 *   - a budget: a token bucket, empty at first, refilled by `share` per
 *     request and holding at most HEDGE_BURST tokens, so that over N
 *     requests at most share*N hedges are sent and a slow upstream is never
 *     doubled in load (the burst lets a random tail whose slow calls come
 *     close together still be hedged);
 *   - hedge_start / hedge_cancel, which wrap httpc_start / httpc_cancel and
 *     keep the callback rule of ragd/source.h: the caller's callback runs
 *     exactly once; the losing transfer's callback is swallowed.
 *
 * A request that streams its body (on_data) is never hedged: its data
 * cannot be taken back once delivered.  A hedge struct is embedded in its
 * instance and owns nothing; an operation in flight owns its copy of the
 * request and frees itself after its last transfer has called back.
 * An operation lives on the loop thread that started it; the statistics
 * are the instance's, shared by every loop, under a spin lock.
 */
#ifndef RAGD_HEDGE_H
#define RAGD_HEDGE_H

#include <stdatomic.h>
#include <stdint.h>

#include "httpc.h"
#include "spin.h"

struct event_base;

#define HEDGE_DEFAULT_FLOOR_MS 50
#define HEDGE_RING 128
#define HEDGE_BURST 10
/* Below this many answers a "p95" is only the slowest one seen: no hedging
 * until the instance has that many. */
#define HEDGE_MIN_SAMPLES 20

typedef struct hedge {
    const char *name;         /* the instance's, for metrics; not owned */
    double share;             /* bucket refill per request; 0 disables */
    int64_t floor_ms;         /* never hedge before this */
    double tokens;            /* budget left, 0..HEDGE_BURST */
    int64_t ring[HEDGE_RING]; /* recent latencies, ms */
    int64_t sorted[HEDGE_RING]; /* the same samples in order, kept at each
                                 * observation so that the p95 is one read */
    _Atomic int64_t p95;      /* hedge_p95's answer, read without the lock */
    unsigned nring;           /* samples in ring (at most HEDGE_RING) */
    unsigned next;            /* where the next sample goes */
    uint64_t sent;            /* hedges sent (for metrics) */
    uint64_t won;             /* hedges whose answer came first */
    spin lock;                /* guards tokens, the ring, the counts */
} hedge;

/* Told when a hedge won, with the tag hedge_start was given. */
typedef void (*hedge_won_fn)(uintptr_t tag);

/* Set up h for the instance called name (which must outlive h): share in
 * [0, 1], floor_ms >= 0.  The bucket starts empty, so a hedge is first
 * possible after 1/share requests. */
void hedge_init(hedge *h, const char *name, double share, int64_t floor_ms);

/* Record one answer's latency. */
void hedge_observe(hedge *h, int64_t ms);

/* The p95 of the recorded latencies, or -1 below HEDGE_MIN_SAMPLES. */
int64_t hedge_p95(const hedge *h);

/* How long to wait before hedging: the p95, at least the floor; -1 (do not
 * hedge) while there is no p95 yet. */
int64_t hedge_delay_ms(const hedge *h);

/* Count one request against the budget (adds share, up to HEDGE_BURST). */
void hedge_credit(hedge *h);

/* Take a token for a hedge: 1 when one was there, else 0. */
int hedge_take(hedge *h);

/* Start req on c, hedged under h (NULL: a plain transfer).  Same contract
 * as httpc_start: 0 and cb exactly once later, or a negative RAGD_* error
 * and never cb.  On 0, *out (if not NULL) names the operation for
 * hedge_cancel until cb has run.  won (may be NULL) is called with tag,
 * just before cb, when the hedge's answer is the one delivered.  h must
 * outlive the operation. */
int hedge_start(hedge *h, struct event_base *base, httpc *c, const ragd_http_request *req,
                ragd_http_cb cb, void *arg, hedge_won_fn won, uintptr_t tag,
                ragd_http_xfer **out);

/* Cancel an operation whose callback has not run: both transfers stop and
 * the callback runs once, later, with RAGD_ECANCELED. */
void hedge_cancel(ragd_http_xfer *x);

#endif /* RAGD_HEDGE_H */
