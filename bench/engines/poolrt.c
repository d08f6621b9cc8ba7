/*
 * poolrt -- what one hand-off through the worker pool costs: an event loop
 * keeps --depth jobs in flight (each done callback submits the next), every
 * job's work spins for --work-us microseconds, for --seconds.  Prints the
 * round trips per second and, per round trip, the process's CPU time (user
 * and system) less the work itself, and its context switches.  Run it
 * under taskset to compare a loop and workers sharing one core with the
 * same threads spread over several: the difference is what crossing cores
 * costs a search, which hands off twice (vector and kb).  A benchmark, not
 * a test: no asserts on speed.
 *
 * usage: poolrt [--workers N] [--depth D] [--work-us U] [--seconds S]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "clock.h"
#include "pool.h"

typedef struct rt {
    pool *p;
    struct event_base *base;
    int64_t until_us, work_us;
    unsigned long done;
} rt;

static void poolrt_work(void *arg, unsigned worker)
{
    int64_t end = clock_us() + ((rt *)arg)->work_us;

    (void)worker;
    while (clock_us() < end)
        ;
}

static void poolrt_done(void *arg)
{
    rt *r = arg;

    r->done++;
    if (clock_us() >= r->until_us || pool_submit(r->p, poolrt_work, poolrt_done, r) != 0)
        event_base_loopbreak(r->base);
}

static void poolrt_idle(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static double poolrt_cpu_s(const struct rusage *u)
{
    return (double)u->ru_utime.tv_sec + u->ru_utime.tv_usec / 1e6 + (double)u->ru_stime.tv_sec +
           u->ru_stime.tv_usec / 1e6;
}

static long poolrt_arg(int argc, char **argv, const char *name, long dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return strtol(argv[i + 1], NULL, 10);
    return dflt;
}

int main(int argc, char **argv)
{
    long workers = poolrt_arg(argc, argv, "--workers", 1), depth = poolrt_arg(argc, argv, "--depth", 1);
    long seconds = poolrt_arg(argc, argv, "--seconds", 3);
    rt r = {.work_us = poolrt_arg(argc, argv, "--work-us", 0)};
    struct rusage u0, u1;
    struct event *keep;
    char err[256];
    double cpu, wall;
    int64_t t0;

    if (workers < 1 || depth < 1 || seconds < 1 || r.work_us < 0) {
        fprintf(stderr, "usage: poolrt [--workers N] [--depth D] [--work-us U] [--seconds S]\n");
        return 2;
    }
    evthread_use_pthreads();
    if (!(r.base = event_base_new()) || !(r.p = pool_new(r.base, (unsigned)workers, err, sizeof err))) {
        fprintf(stderr, "poolrt: %s\n", r.base ? err : "no event base");
        return 1;
    }
    getrusage(RUSAGE_SELF, &u0);
    t0 = clock_us();
    r.until_us = t0 + seconds * 1000000;
    for (long i = 0; i < depth; i++)
        pool_submit(r.p, poolrt_work, poolrt_done, &r);
    /* A loop with no pending event returns at once; ragd's has its
     * listeners, this one a timer past the end. */
    keep = evtimer_new(r.base, poolrt_idle, NULL);
    evtimer_add(keep, (&(struct timeval){seconds + 60, 0}));
    event_base_dispatch(r.base);
    event_free(keep);
    wall = (double)(clock_us() - t0) / 1e6;
    getrusage(RUSAGE_SELF, &u1);
    cpu = poolrt_cpu_s(&u1) - poolrt_cpu_s(&u0);
    printf("workers %ld depth %ld work %lld us: %.0f round trips/s, %.2f us CPU each beyond the "
           "work, %.2f voluntary and %.2f involuntary context switches each\n",
           workers, depth, (long long)r.work_us, r.done / wall,
           (cpu * 1e6 - (double)r.done * (double)r.work_us) / (double)r.done,
           (double)(u1.ru_nvcsw - u0.ru_nvcsw) / (double)r.done,
           (double)(u1.ru_nivcsw - u0.ru_nivcsw) / (double)r.done);
    pool_free(&r.p);
    event_base_free(r.base);
    return 0;
}
