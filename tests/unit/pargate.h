/*
 * pargate -- for the unit tests of par and split: a gate that holds the
 * parts of a par run (and so the helpers running them) until the test
 * opens it, so that "every helper is busy" is a state the test makes and
 * waits for, not a timing it hopes for.
 */
#ifndef RAGD_TEST_PARGATE_H
#define RAGD_TEST_PARGATE_H

#include <pthread.h>
#include <time.h>

#include "par.h"

/* A gate that holds the parts of a run until opened. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    unsigned held;
    par *p;
    unsigned nparts;
} gate;

static void gate_part(void *arg, unsigned part)
{
    gate *g = arg;

    (void)part;
    pthread_mutex_lock(&g->mu);
    g->held++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void *gate_run(void *arg)
{
    gate *g = arg;

    par_run(g->p, gate_part, g, g->nparts);
    return NULL;
}

/* Wait up to 10 s for the gate to hold n parts; returns whether it did. */
static int gate_wait_held(gate *g, unsigned n)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&g->mu);
    while (g->held < n && rc == 0)
        rc = pthread_cond_timedwait(&g->cv, &g->mu, &until);
    rc = g->held >= n;
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Wait up to 10 s for p to have n idle helpers. */
static int wait_idle(par *p, unsigned n)
{
    struct timespec nap = {0, 1000000};

    for (int i = 0; i < 10000; i++) {
        if (par_idle(p) == n)
            return 1;
        nanosleep(&nap, NULL);
    }
    return 0;
}

#endif /* RAGD_TEST_PARGATE_H */
