/*
 * pin -- loop and worker threads on CPUs of their own (pin.h).
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "pin.h"

/* Written once by pin_setup before the threads that read it start
 * (pthread_create orders the two), then only read. */
static cpu_set_t pin_set;
static int pin_cpus[CPU_SETSIZE];
static unsigned pin_n;

int pin_setup(int on, char *err, size_t errlen)
{
    pin_n = 0;
    if (!on)
        return 0;
    if (sched_getaffinity(0, sizeof pin_set, &pin_set) != 0 || CPU_COUNT(&pin_set) == 0) {
        snprintf(err, errlen, "pin_threads: cannot read the CPUs this process may run on");
        return -1;
    }
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &pin_set))
            pin_cpus[pin_n++] = c;
    return 0;
}

int pin_self(unsigned i)
{
    cpu_set_t one;
    int cpu;

    if (!pin_n)
        return -1;
    cpu = pin_cpus[i % pin_n];
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0 ? cpu : -1;
}

void pin_release_self(void)
{
    if (pin_n)
        pthread_setaffinity_np(pthread_self(), sizeof pin_set, &pin_set);
}

unsigned pin_count(void)
{
    return pin_n;
}
