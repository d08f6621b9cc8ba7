/*
 * pool -- a small pool of worker threads for blocking work (SQLite queries,
 * vector scans), so the event loop never waits on disk or heavy CPU.
 *
 * Jobs wait in two FIFO queues: interactive work, which a client is waiting
 * on (source searches and the refreshes that make new documents
 * searchable), and background work, which nobody waits on request by
 * request (the steps of document jobs, the writes that queue them).  The
 * rule a free worker follows, so that searches stay fast while a job runs:
 *
 *   1. At most max(1, N - 1) of the N workers run background work at once,
 *      so with two or more workers one is always left to interactive work.
 *   2. Within that limit, a background job that has waited
 *      POOL_BACKGROUND_MAX_WAIT_MS or longer is taken first, so background
 *      work is slowed by a steady stream of searches but never starved.
 *   3. Otherwise the oldest interactive job is taken, then the oldest
 *      background job.
 *
 * A worker runs job->work, then hands the job back to the loop through a
 * queue and one libevent event activated from the worker thread (which is
 * why main() calls evthread_use_pthreads() before creating the event_base).
 * The loop then runs job->done.  Not for work that needs the loop's state:
 * a work function must touch only its own job.
 *
 * With several event loops (serve.c), each loop thread binds a port of its
 * own (pool_port_bind), and a job's done runs on the loop that submitted
 * it; the pool's main port is the loop it was made on.
 */
#ifndef RAGD_POOL_H
#define RAGD_POOL_H

#include <stddef.h>

struct event_base;

/* How long a background job may wait behind interactive work (rule 2). */
#define POOL_BACKGROUND_MAX_WAIT_MS 100

typedef struct pool pool;
typedef struct pool_port pool_port;

/* Start nworkers (>= 1) threads attached to base.  Returns the pool (freed
 * with pool_free), or NULL with a message in err. */
pool *pool_new(struct event_base *base, unsigned nworkers, char *err, size_t errlen);

/* Number of worker threads. */
unsigned pool_size(const pool *p);

/* Queue work.  Returns 0, after which work(arg, worker) runs once on a worker
 * thread and then done(arg) once on the submitting loop's thread; or -1 (out
 * of memory or shutting down) and neither runs.  A loop thread only. */
int pool_submit(pool *p, void (*work)(void *, unsigned), void (*done)(void *), void *arg);

/* pool_submit for background work: the same contract, on the background
 * queue. */
int pool_submit_background(pool *p, void (*work)(void *, unsigned), void (*done)(void *),
                           void *arg);

/* Jobs submitted whose done has not run yet, on every port; any thread. */
size_t pool_pending(const pool *p);

/* A port on another loop's base, for that loop's thread: freed with
 * pool_port_free, on that thread, before pool_free.  NULL when out of
 * memory. */
pool_port *pool_port_new(pool *p, struct event_base *base);

/* From now on, the jobs this thread submits report to port. */
void pool_port_bind(pool_port *port);

/* The port's jobs whose done has not run yet; its thread only. */
size_t pool_port_pending(const pool_port *port);

/* Wait for the port's jobs (running each done on the calling thread, the
 * port's), then free it and set *pp to NULL. */
void pool_port_free(pool_port **pp);

/* Jobs waiting for a worker, and workers running one, as the workers left
 * them a moment ago (for metrics). */
void pool_load(pool *p, size_t *queued, unsigned *busy);

/* Finish every queued job (each done still runs, on the calling thread), stop
 * the threads and free the pool; sets *pp to NULL.  Loop thread only, with
 * the loop not running. */
void pool_free(pool **pp);

#endif /* RAGD_POOL_H */
