/*
 * cores -- the cores this process may run on (cores.h).
 */
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "cores.h"

static unsigned cores_count(void)
{
    cpu_set_t set;
    long n;

    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

unsigned cores_usable(void)
{
    static _Atomic unsigned cores;
    unsigned n = atomic_load_explicit(&cores, memory_order_relaxed);

    if (!n) {
        n = cores_count();
        atomic_store_explicit(&cores, n, memory_order_relaxed);
    }
    return n;
}
