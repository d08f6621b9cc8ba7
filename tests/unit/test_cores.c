/* Unit tests for cores_usable: confined by its CPU affinity (as taskset
 * or a container's cpuset confines it), ragd counts the cores it may run
 * on, not the machine's, and the split rule splits no further. */
#include <sched.h>
#include <unistd.h>

#include "cores.h"
#include "par.h"
#include "split.h"
#include "tap.h"

int main(void)
{
    cpu_set_t all, one;
    int first = -1;
    par *p;

    ok(sched_getaffinity(0, sizeof all, &all) == 0, "the affinity reads");
    for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
        if (CPU_ISSET(c, &all))
            first = c;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ok(sched_setaffinity(0, sizeof one, &one) == 0, "confined to CPU %d", first);
    is_int((int)cores_usable(), 1, "one core usable (the machine has %ld online)",
           sysconf(_SC_NPROCESSORS_ONLN));
    is_int((int)cores_usable(), 1, "and so it stays");
    p = par_new(3);
    ok(p != NULL, "three helpers start");
    is_int((int)split_ways(p, 4), 1, "idle helpers, but one core: no split");
    par_free(&p);
    return tap_done();
}
