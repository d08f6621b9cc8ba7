/*
 * metrics-updates -- how many metric updates per second THREADS threads
 * make, each bound to a metrics shard of its own as a loop thread is: the
 * updates one request makes in access.c (a labelled counter and a
 * labelled histogram), ROUNDS times per thread; and the CPU time each
 * update took (all threads', so that a busy machine's time slicing does
 * not hide contention).  Built and run by bench/metrics.
 *
 * usage: metrics-updates THREADS [ROUNDS]
 */
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "metrics.h"

static metric *requests, *latency;
static long rounds = 2000000;

static void *updates(void *arg)
{
    metrics_bind_shard((unsigned)(size_t)arg);
    for (long r = 0; r < rounds; r++) {
        metrics_add(requests, 1, "/search", "200");
        metrics_observe(latency, 0.003, "/search");
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds this process used so far, all threads. */
static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    static const char *const two[] = {"route", "code"}, *const one[] = {"route"};
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
    pthread_t t[64];
    double t0, c0, total;

    if (argc > 2)
        rounds = atol(argv[2]);
    if (n < 1 || n > 64 || rounds < 1) {
        fprintf(stderr, "usage: metrics-updates THREADS(1-64) [ROUNDS]\n");
        return 2;
    }
    requests = metrics_counter("b_requests_total", "Requests", 2, two);
    latency = metrics_histogram("b_seconds", "Latency", 1, one, metrics_latency_bounds,
                                metrics_nlatency_bounds);
    t0 = now_s();
    c0 = cpu_s();
    for (unsigned i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, updates, (void *)(size_t)i) != 0)
            return 1;
    for (unsigned i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    total = 2.0 * n * (double)rounds;
    printf("threads %u: %6.1f M updates/s  %6.1f ns CPU per update\n", n,
           total / (now_s() - t0) / 1e6, (cpu_s() - c0) / total * 1e9);
    metrics_reset();
    return 0;
}
