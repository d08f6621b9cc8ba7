/*
 * cores -- how many CPU cores this process may run on: its CPU affinity
 * (taskset, a container's cpuset), else every online one.
 *
 * The one count behind every "one per core" default (event loops,
 * workers, split-scan threads) and behind the split rule's free cores, so
 * that a ragd confined to two cores of a large machine sizes everything
 * for two.  A CPU quota (cgroup cpu.max) is not seen.
 */
#ifndef RAGD_CORES_H
#define RAGD_CORES_H

/* The count, >= 1, read at the first call and kept: the affinity of the
 * thread that first asks, which at startup is the process's.  Any thread. */
unsigned cores_usable(void);

#endif /* RAGD_CORES_H */
