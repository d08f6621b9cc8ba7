/*
 * test_par -- par's hand-out (par.h): every part runs exactly once; with
 * no helpers, or with every helper held by another run, the caller runs
 * all of its parts itself and returns without waiting on anyone; idle
 * helpers are counted; runs from several threads at once all finish.
 *
 * Helpers are held on a gate that the test opens itself, so "busy" is a
 * state the test sets up, not a timing it hopes for.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "par.h"
#include "pargate.h"
#include "tap.h"

#define PARTS 200

/* A run's record: how often each part ran, and whether on the caller. */
typedef struct tally {
    _Atomic unsigned runs[PARTS];
    _Atomic unsigned elsewhere; /* parts run on a thread other than caller */
    pthread_t caller;
} tally;

static void tally_part(void *arg, unsigned part)
{
    tally *t = arg;

    atomic_fetch_add(&t->runs[part], 1);
    if (!pthread_equal(pthread_self(), t->caller))
        atomic_fetch_add(&t->elsewhere, 1);
}

/* Whether each of the first n parts ran exactly once. */
static int tally_once(tally *t, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (atomic_load(&t->runs[i]) != 1)
            return 0;
    return 1;
}

/* Run n parts of a fresh tally from this thread; returns the parts run
 * elsewhere, or -1 when a part did not run exactly once. */
static int run_tally(par *p, unsigned n)
{
    static tally t;

    memset(&t, 0, sizeof t);
    t.caller = pthread_self();
    par_run(p, tally_part, &t, n);
    return tally_once(&t, n) ? (int)atomic_load(&t.elsewhere) : -1;
}

/* Several threads' runs at once on one par. */
static void *stress(void *arg)
{
    par *p = arg;
    tally *t = calloc(1, sizeof *t);
    long bad = !t;

    for (int r = 0; r < 200 && t; r++) {
        memset(t, 0, sizeof *t);
        t->caller = pthread_self();
        par_run(p, tally_part, t, 1 + (unsigned)r % 17);
        bad += !tally_once(t, 1 + (unsigned)r % 17);
    }
    free(t);
    return (void *)bad;
}

int main(void)
{
    par *none = par_new(0), *two = par_new(2);
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL, 3};
    pthread_t th[4];
    long bad = 0;
    void *res;

    if (!none || !two) {
        printf("Bail out! threads\n");
        return 1;
    }
    is_int(par_idle(none), 0, "no helpers: none idle");
    is_int(run_tally(none, PARTS), 0, "no helpers: the caller runs every part, once each");
    par_run(none, tally_part, NULL, 0);
    ok(1, "a run of no parts returns at once");

    ok(wait_idle(two, 2), "two helpers wait for work");
    ok(run_tally(two, PARTS) >= 0, "with helpers: every part runs once");

    /* Hold both helpers (and the run's caller) in parts of another run. */
    g.p = two;
    ok(pthread_create(&th[0], NULL, gate_run, &g) == 0 && gate_wait_held(&g, 3),
       "another run holds both helpers and its caller");
    is_int(par_idle(two), 0, "... so none is idle");
    is_int(run_tally(two, PARTS), 0,
           "helpers busy: the caller runs all its parts and returns, waiting on no one");
    gate_open(&g);
    pthread_join(th[0], NULL);
    ok(wait_idle(two, 2), "the helpers are idle again after their run");

    for (int i = 0; i < 4; i++)
        if (pthread_create(&th[i], NULL, stress, two) != 0)
            bad++;
    for (int i = 0; i < 4; i++)
        if (pthread_join(th[i], &res) == 0)
            bad += (long)res;
    is_int(bad, 0, "four threads' runs at once: every part of each ran once");

    par_free(&none);
    par_free(&two);
    ok(!two && !none, "par_free clears the pointer");
    return tap_done();
}
