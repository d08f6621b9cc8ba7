/*
 * split -- the rule that decides how far a scan is split (split.h).
 *
 * The machine's runnable threads come from the fourth field of
 * /proc/loadavg ("running/total"), which the kernel counts at the moment
 * it is read, not averaged: a few microseconds to read, against the
 * millisecond scans that ask.  The cores are those this process may run
 * on (cores.h): confined to a few cores of a large machine, it splits
 * less than the machine's idle cores would suggest, never more.
 *
 * Under a CPU quota the cores are the quota's, and the runnable threads
 * are still the machine's: other containers' threads, which spend none
 * of ragd's quota, count against it too.  That errs one way only, towards
 * splitting less, as it does for a cpuset; what the rule must not do, a
 * split wider than the quota that throttling would then stall, it cannot.
 * Counting only ragd's own runnable threads would be closer, but there
 * is no read of that as cheap as /proc/loadavg's.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cores.h"
#include "split.h"

unsigned split_rule(const split_load *l, unsigned max)
{
    unsigned spare, ways;

    assert(l->cores >= 1);
    /* The asking thread holds a core already: the others are spare. */
    if (l->running == 0)
        spare = l->cores - 1;
    else
        spare = l->cores > l->running ? l->cores - l->running : 0;
    ways = 1 + (l->idle < spare ? l->idle : spare);
    if (ways > max)
        ways = max;
    return ways ? ways : 1;
}

/* Threads running or runnable on the machine now, or 0 when the kernel
 * does not say. */
static unsigned split_running(void)
{
    char text[128], *slash, *start;
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    ssize_t n;
    long running;

    if (fd < 0)
        return 0;
    n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    /* "0.41 1.43 2.19 3/96 17829": the number before the slash. */
    if (!(slash = strchr(text, '/')))
        return 0;
    for (start = slash; start > text && start[-1] >= '0' && start[-1] <= '9'; start--)
        ;
    if (start == slash)
        return 0;
    running = strtol(start, NULL, 10);
    return running < 1 ? 0 : running > 1000000 ? 1000000 : (unsigned)running;
}

void split_load_now(par *p, split_load *l)
{
    l->cores = cores_usable();
    l->idle = p ? par_idle(p) : 0;
    l->running = split_running();
}

unsigned split_ways(par *p, unsigned max)
{
    split_load l;

    if (max <= 1 || !p)
        return 1;
    split_load_now(p, &l);
    return split_rule(&l, max);
}
