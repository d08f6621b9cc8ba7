/*
 * pool -- a small pool of worker threads for blocking work (SQLite queries,
 * vector scans), so the event loop never waits on disk or heavy CPU.
 *
 * Jobs are queued FIFO.  A worker runs job->work, then hands the job back to
 * the loop through a queue and one libevent event activated from the worker
 * thread (which is why main() calls evthread_use_pthreads() before creating
 * the event_base).  The loop then runs job->done.  Not for work that needs
 * the loop's state: a work function must touch only its own job.
 */
#ifndef RAGD_POOL_H
#define RAGD_POOL_H

#include <stddef.h>

struct event_base;

typedef struct pool pool;

/* Start nworkers (>= 1) threads attached to base.  Returns the pool (freed
 * with pool_free), or NULL with a message in err. */
pool *pool_new(struct event_base *base, unsigned nworkers, char *err, size_t errlen);

/* Number of worker threads. */
unsigned pool_size(const pool *p);

/* Queue work.  Returns 0, after which work(arg, worker) runs once on a worker
 * thread and then done(arg) once on the loop thread; or -1 (out of memory or
 * shutting down) and neither runs.  Loop thread only. */
int pool_submit(pool *p, void (*work)(void *, unsigned), void (*done)(void *), void *arg);

/* Jobs submitted whose done has not run yet. */
size_t pool_pending(const pool *p);

/* Finish every queued job (each done still runs, on the calling thread), stop
 * the threads and free the pool; sets *pp to NULL.  Loop thread only, with
 * the loop not running. */
void pool_free(pool **pp);

#endif /* RAGD_POOL_H */
