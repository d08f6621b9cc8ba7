/*
 * test_split -- the rule that decides how far a scan is split (split.h):
 * a table of loads and the ways each allows; what split_load_now reads
 * (CPUs, the machine's runnable threads, the par's idle helpers); and
 * split_ways itself, which must not split when the par's helpers are all
 * held by another run, nor when every core is kept busy by threads this
 * test starts (where /proc/loadavg can be read).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pargate.h"
#include "split.h"
#include "tap.h"

typedef struct rule_case {
    unsigned cores, running, idle, max, want;
    const char *what;
} rule_case;

static const rule_case cases[] = {
    {2, 1, 1, 2, 2, "2 cores, only the caller running, a helper idle: 2 ways"},
    {2, 2, 1, 2, 1, "2 cores, one other thread running: unsplit"},
    {2, 9, 1, 2, 1, "2 cores, oversubscribed: unsplit"},
    {2, 1, 0, 2, 1, "no helper idle: unsplit"},
    {8, 3, 7, 8, 6, "8 cores, 2 others running: 6 ways"},
    {8, 3, 2, 8, 3, "8 cores, 2 others running, 2 helpers idle: 3 ways"},
    {8, 1, 7, 4, 4, "8 cores free: no more than max"},
    {8, 1, 7, 1, 1, "max 1: unsplit"},
    {8, 1, 7, 0, 1, "max 0: still one way"},
    {1, 1, 3, 4, 1, "1 core: unsplit"},
    {4, 0, 3, 8, 4, "runnable threads not known: idle helpers, up to the cores"},
    {4, 0, 1, 8, 2, "... and no more than idle helpers + 1"},
};

/* Busy threads: each spins until stop, having said it started. */
static _Atomic int spin_stop, spin_started;

static void *spin(void *arg)
{
    (void)arg;
    atomic_fetch_add(&spin_started, 1);
    while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
        ;
    return NULL;
}

/* With a spinning thread on every core, split_ways(p, max) must be 1. */
static void check_busy_machine(par *p, unsigned cores)
{
    pthread_t *th = calloc(cores, sizeof *th);
    unsigned started = 0, ways;
    struct timespec nap = {0, 1000000};
    split_load l;

    for (; th && started < cores; started++)
        if (pthread_create(&th[started], NULL, spin, NULL) != 0)
            break;
    while ((unsigned)atomic_load(&spin_started) < started)
        nanosleep(&nap, NULL);
    split_load_now(p, &l);
    ways = split_ways(p, 2);
    atomic_store(&spin_stop, 1);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    ok(started == cores && l.running > cores, "%u spinning threads are counted running (%u)",
       started, l.running);
    is_int(ways, 1, "every core busy: unsplit");
}

int main(void)
{
    par *p = par_new(1);
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL, 2};
    split_load l;
    pthread_t th;
    unsigned ways;

    if (!p) {
        printf("Bail out! threads\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        split_load c = {cases[i].cores, cases[i].running, cases[i].idle};
        is_int(split_rule(&c, cases[i].max), cases[i].want, "%s", cases[i].what);
    }

    ok(wait_idle(p, 1), "the helper waits for work");
    split_load_now(p, &l);
    is_int(l.cores, sysconf(_SC_NPROCESSORS_ONLN), "cores are the CPUs online");
    is_int(l.idle, 1, "the idle helper is counted");
    if (access("/proc/loadavg", R_OK) == 0)
        ok(l.running >= 1, "the machine's runnable threads include this one (%u)", l.running);
    else
        ok(l.running == 0, "# SKIP no /proc/loadavg: runnable threads not known");
    ways = split_ways(p, 8);
    ok(ways >= 1 && ways <= 2, "split_ways: 1 or 2 with one helper (%u)", ways);
    is_int(split_ways(p, 1), 1, "max 1: unsplit");
    is_int(split_ways(NULL, 8), 1, "no par: unsplit");

    /* The helper held in another run's part: nothing to split onto. */
    g.p = p;
    ok(pthread_create(&th, NULL, gate_run, &g) == 0 && gate_wait_held(&g, 2),
       "another run holds the helper");
    is_int(split_ways(p, 8), 1, "helper busy: unsplit, whatever the cores");
    gate_open(&g);
    pthread_join(th, NULL);

    ok(wait_idle(p, 1), "the helper is idle again");
    if (access("/proc/loadavg", R_OK) == 0) {
        check_busy_machine(p, l.cores);
    } else {
        ok(1, "# SKIP no /proc/loadavg");
        ok(1, "# SKIP no /proc/loadavg");
    }
    par_free(&p);
    return tap_done();
}
