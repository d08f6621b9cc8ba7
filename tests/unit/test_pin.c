/* Unit tests for pin: off, nothing moves; on, a thread asking for slot i
 * runs on the i-th CPU the process was given (counting round), a split
 * helper takes every one of them back, and a process confined to a few
 * CPUs (taskset) pins only within them.  Each check runs in a thread of
 * its own, so that the test's main thread keeps the whole set. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "par.h"
#include "pin.h"
#include "tap.h"

static cpu_set_t all;

typedef struct probe {
    unsigned slot;
    int release;     /* then pin_release_self */
    int cpu;         /* what pin_self returned */
    cpu_set_t after; /* the thread's CPUs after */
} probe;

static void *probe_main(void *arg)
{
    probe *p = arg;

    p->cpu = pin_self(p->slot);
    if (p->release)
        pin_release_self();
    sched_getaffinity(0, sizeof p->after, &p->after);
    return NULL;
}

static probe run_probe(unsigned slot, int release)
{
    probe p = {.slot = slot, .release = release};
    pthread_t t;

    pthread_create(&t, NULL, probe_main, &p);
    pthread_join(t, NULL);
    return p;
}

/* The i-th CPU of set (i < its count). */
static int nth_cpu(const cpu_set_t *set, unsigned i)
{
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, set) && i-- == 0)
            return c;
    return -1;
}

static void test_off(void)
{
    char err[128];
    probe p;

    ok(pin_setup(0, err, sizeof err) == 0, "off: set up");
    is_int(pin_count(), 0, "off: no CPUs remembered");
    p = run_probe(1, 0);
    is_int(p.cpu, -1, "off: asking to be pinned does nothing");
    ok(CPU_EQUAL(&p.after, &all), "off: the thread keeps every CPU");
}

static void test_on(void)
{
    unsigned n = (unsigned)CPU_COUNT(&all), wrong = 0;
    char err[128];
    probe p;

    ok(pin_setup(1, err, sizeof err) == 0, "on: set up");
    is_int(pin_count(), n, "on: every CPU the process may use is remembered");
    for (unsigned i = 0; i < 2 * n + 1; i++) {
        p = run_probe(i, 0);
        wrong += p.cpu != nth_cpu(&all, i % n) || CPU_COUNT(&p.after) != 1 ||
                 !CPU_ISSET(p.cpu, &p.after);
    }
    is_int(wrong, 0, "on: slot i runs on the i-th CPU alone, counting round past the last");
    p = run_probe(1, 1);
    ok(CPU_EQUAL(&p.after, &all), "on: a released thread runs on every CPU again");
}

/* Confined to one CPU that is not the first (as taskset -c 1 would), the
 * remembered set is that one CPU and every slot lands on it. */
static void test_confined(void)
{
    cpu_set_t one;
    int last = nth_cpu(&all, (unsigned)CPU_COUNT(&all) - 1);
    char err[128];
    probe p;

    if (CPU_COUNT(&all) < 2) {
        printf("# one CPU only: nothing to confine to; confined checks skipped\n");
        return;
    }
    CPU_ZERO(&one);
    CPU_SET(last, &one);
    sched_setaffinity(0, sizeof one, &one);
    ok(pin_setup(1, err, sizeof err) == 0 && pin_count() == 1, "confined: one CPU remembered");
    sched_setaffinity(0, sizeof all, &all);
    p = run_probe(0, 0);
    is_int(p.cpu, last, "confined: slot 0 is the CPU given, not CPU 0");
    p = run_probe(0, 1);
    ok(CPU_COUNT(&p.after) == 1 && CPU_ISSET(last, &p.after),
       "confined: released, a thread gets the confined set back, not the machine");
}

/* Whether a thread named ragd-scan runs on every CPU of all now. */
static int helper_on_all(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int found = 0;

    while (d && (e = readdir(d))) {
        char path[300], comm[32] = "";
        cpu_set_t set;
        FILE *f;

        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        if (fgets(comm, sizeof comm, f) && !strncmp(comm, "ragd-scan", 9) &&
            sched_getaffinity(atoi(e->d_name), sizeof set, &set) == 0 && CPU_EQUAL(&set, &all))
            found = 1;
        fclose(f);
    }
    if (d)
        closedir(d);
    return found;
}

/* A split helper started by a pinned thread runs on every CPU (once it
 * has started: waited for, for up to 10 s). */
static void *start_helpers(void *arg)
{
    pin_self(0);
    *(par **)arg = par_new(1);
    return NULL;
}

static void test_split_helpers(void)
{
    struct timespec pause = {0, 10 * 1000 * 1000};
    char err[128];
    par *p = NULL;
    pthread_t t;
    int on_all = 0;

    if (CPU_COUNT(&all) < 2) {
        printf("# one CPU only: a pinned thread's CPU is every CPU; helper check skipped\n");
        return;
    }
    pin_setup(1, err, sizeof err);
    pthread_create(&t, NULL, start_helpers, &p);
    pthread_join(t, NULL);
    ok(p != NULL, "helpers: started from a pinned thread");
    for (int i = 0; i < 1000 && !(on_all = helper_on_all()); i++)
        nanosleep(&pause, NULL);
    ok(on_all, "helpers: the helper runs on every CPU, not its starter's one");
    par_free(&p);
}

int main(void)
{
    sched_getaffinity(0, sizeof all, &all);
    test_off();
    test_on();
    test_confined();
    test_split_helpers();
    return tap_done();
}
