/*
 * loops -- the extra event loops of `ragd serve --loops N`: loops 1..N-1,
 * one thread each, beside the main loop (serve.c's own, loop 0).
 *
 * A loop's thread makes its own event base, HTTP client, worker-pool port
 * and server front (server.c: it borrows the keys, the cache and the job
 * runner from the main front and listens on the same address), binds the
 * client and the port to itself (host_bind_loop, pool_port_bind) so that
 * whatever its searches start comes back to it, runs until its front has
 * drained, and frees all of it on the same thread.  What the process has
 * once stays on the main loop: signals, reload, jobs, the store's watch,
 * and the events sources add to host->base.
 *
 * Other threads reach a loop only through this module: loops_shutdown
 * asks every front to drain, and loops_park holds every loop inside a
 * callback (so none of its state is half changed) until loops_resume,
 * while the main loop changes what they share -- a reload swaps the
 * instance set and the fronts' settings under it (loops_reload).
 *
 * Ownership: the set owns its loops and everything they made.
 */
#ifndef RAGD_LOOPS_H
#define RAGD_LOOPS_H

#include <stddef.h>

#include "config.h"
#include "host.h"
#include "instance.h"
#include "server.h"

struct event_base;

typedef struct loops loops;

/* Start nloops - 1 loops beside main (the main front, started with
 * nloops).  Returns once each has started: the set, or NULL with a message
 * (after stopping the ones that did start). */
loops *loops_start(server *main, unsigned nloops, const config *cfg, instance_set *sources,
                   host_services *svc, char *err, size_t errlen);

/* Ask every extra loop's front to stop accepting, drain within grace_ms,
 * and exit its loop.  Any thread. */
void loops_shutdown(loops *L, int grace_ms);

/* Hold every extra loop inside a callback; returns once all are held.
 * Main loop only, not while shutting down. */
void loops_park(loops *L);

/* Let them go on. */
void loops_resume(loops *L);

/* While parked: apply cfg (now the running config) to every extra
 * front.  Fails only for lack of memory, leaving that front as it was. */
int loops_reload(loops *L, const config *cfg, char *err, size_t errlen);

/* Wait for every extra loop to finish (after loops_shutdown) and free
 * the set; *Lp becomes NULL.  Returns how many events
 * their loops still held at the end (each logged): 0 when all was clean. */
size_t loops_join(loops **Lp);

/* Events still on base, each logged with its callback: 0 when a loop was
 * torn down cleanly.  Also for the main loop (serve.c). */
size_t loops_leftover(struct event_base *base);

/* A new event base with precise timers: libevent's default times events
 * with CLOCK_MONOTONIC_COARSE, whose 4 ms ticks let a source's deadline
 * fire before it is due.  NULL when out of memory. */
struct event_base *loops_base_new(void);

#endif /* RAGD_LOOPS_H */
