/*
 * cores -- how many CPU cores this process may run on: its CPU affinity
 * (taskset, a container's cpuset), else every online one, lowered to its
 * CPU quota when one is set (a container's `--cpus`, a Kubernetes CPU
 * limit: cgroup v2 cpu.max or v1 cpu.cfs_quota_us, the tightest of the
 * process's cgroup and those above it), rounded up to whole cores.
 *
 * The one count behind every "one per core" default (event loops,
 * workers, split-scan threads) and behind the split rule's free cores, so
 * that a ragd confined to two cores of a large machine, or to two cores'
 * worth of its time, sizes everything for two instead of starting threads
 * that would only wait out the quota's throttling.  Not for anything
 * else: no setting overrides it (--loops, --workers and scan_threads set
 * the counts themselves).
 */
#ifndef RAGD_CORES_H
#define RAGD_CORES_H

/* The count, >= 1, read at the first call and kept: the affinity of the
 * thread that first asks, which at startup is the process's, and the
 * process's CPU quota.  Any thread. */
unsigned cores_usable(void);

/* Whether a CPU quota lowered cores_usable(): 1, with *cpus the quota
 * (2.5 for 250 ms each 100 ms period) and *affinity the count without it;
 * else 0 and both untouched.  Any thread. */
int cores_quota_lowered(double *cpus, unsigned *affinity);

/* The CPU quota, in whole cores rounded up (>= 1), that the files read as
 * /proc/self/cgroup (proc_cgroup) and /proc/self/mountinfo (mountinfo)
 * point to, with root (NULL for none) put before each mount point; 0 when
 * none is set or the files do not say.  What cores_usable() reads from
 * the real files; for tests, on a tree of their own. */
unsigned cores_quota_at(const char *proc_cgroup, const char *mountinfo, const char *root);

#endif /* RAGD_CORES_H */
