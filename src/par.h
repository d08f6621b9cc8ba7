/*
 * par -- a small fixed set of threads that run the parts of a scan
 * alongside the thread that asks for it.
 *
 * par_run hands out parts one at a time, to the helper threads and to
 * the caller itself, and returns once every part has run.  The caller
 * always takes parts too, so a run finishes even when every helper is busy
 * with other runs (or there are none): a run never waits for anything but
 * parts already being run, which is why a worker-pool thread may call it
 * without risk of deadlocking the pool.  Not a general thread pool: no
 * queue of independent jobs, no futures, no cancellation.
 */
#ifndef RAGD_PAR_H
#define RAGD_PAR_H

typedef struct par par;

/* One part of a run: part is in [0, nparts). */
typedef void (*par_fn)(void *arg, unsigned part);

/* Start nhelpers threads (0 is allowed: the caller runs every part).
 * Returns the set, or NULL when out of memory or threads. */
par *par_new(unsigned nhelpers);

/* Stop and join the threads and free *p; sets *p to NULL.  No run may be
 * in progress.  NULL or *p NULL is a no-op. */
void par_free(par **p);

/* Helpers waiting for work now (not running a part of any run): a run
 * started now gets at most this many helpers besides its caller. */
unsigned par_idle(par *p);

/* Run fn(arg, part) for every part in [0, nparts), on the helpers and the
 * calling thread, and return when all have returned.  Any thread may call
 * it, several at once.  Only idle helpers are woken, at most nparts - 1;
 * how many parts to cut is the caller's choice (split.h decides it from
 * what is free). */
void par_run(par *p, par_fn fn, void *arg, unsigned nparts);

#endif /* RAGD_PAR_H */
