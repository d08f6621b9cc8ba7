/*
 * split -- how many ways to split a scan, decided when the scan starts
 * from what is free at that moment.
 *
 * A split scan (the kb's walk of a costly query, the vector source's
 * large scans) only pays when its parts run at the same time.  When
 * every core is taken, a helper that takes a part can be preempted and
 * the caller then waits for it, and the split's extra work is paid for
 * nothing.  So a scan is split only as many ways as there are both
 * helpers waiting for work (par_idle) and cores with nothing to run:
 * the machine's runnable threads, read from /proc/loadavg, count every
 * process's busy threads, this one's pool workers and other scans
 * included.  Where that count cannot be read, only idle helpers limit
 * the split, as before this rule.  A cgroup's CPU quota is not seen.
 * Not a scheduler: it never reserves a core, and a core that is free
 * when the scan starts may be taken during it (par's caller then takes
 * the parts no helper has started).
 */
#ifndef RAGD_SPLIT_H
#define RAGD_SPLIT_H

#include "par.h"

/* What is free now, as split_rule reads it. */
typedef struct split_load {
    unsigned cores;   /* the cores this process may run on (cores.h) */
    unsigned running; /* threads running or waiting for a CPU, machine-wide,
                       * the asking thread included; 0: not known */
    unsigned idle;    /* the par's helpers waiting for work */
} split_load;

/* The rule: 1 + min(idle, cores - running) ways (cores - 1 when running is
 * not known), at most max, at least 1.  1 means do not split. */
unsigned split_rule(const split_load *l, unsigned max);

/* Fill *l with what is free now: p's idle helpers (p may be NULL: none),
 * the cores this process may run on, the machine's runnable threads.
 * Any thread. */
void split_load_now(par *p, split_load *l);

/* split_rule on split_load_now: the ways a scan that may take up to max
 * should take, now. */
unsigned split_ways(par *p, unsigned max);

#endif /* RAGD_SPLIT_H */
