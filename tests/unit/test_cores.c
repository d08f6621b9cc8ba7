/* Unit tests for cores: confined by its CPU affinity (as taskset or a
 * container's cpuset confines it), ragd counts the cores it may run on,
 * not the machine's, and the split rule splits no further; limited by a
 * CPU quota (a container's --cpus), it counts the quota's cores, read
 * here from cgroup trees written to a temporary directory. */
#include <errno.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cores.h"
#include "par.h"
#include "split.h"
#include "tap.h"

static char top[] = "/tmp/test_cores.XXXXXX";

#define V2_MOUNT "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - cgroup2 cgroup2 rw\n"
#define V2 "/sys/fs/cgroup"

/* Write text to the file rel (its directories made) in case's tree. */
static void put(const char *tcase, const char *rel, const char *text)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s/%s", top, tcase, rel);
    for (char *p = path + strlen(top) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            printf("# mkdir %s: %s\n", path, strerror(errno));
        *p = '/';
    }
    if (!(f = fopen(path, "w")) || fputs(text, f) == EOF || fclose(f) != 0)
        printf("# cannot write %s\n", path);
}

/* The quota case's tree says, from its "cgroup" and "mountinfo" files. */
static unsigned quota(const char *tcase)
{
    char cg[1024], mi[1024], root[1024];

    snprintf(cg, sizeof cg, "%s/%s/cgroup", top, tcase);
    snprintf(mi, sizeof mi, "%s/%s/mountinfo", top, tcase);
    snprintf(root, sizeof root, "%s/%s", top, tcase);
    return cores_quota_at(cg, mi, root);
}

/* A v2 tree: the process in /a/b, with these cpu.max files (NULL: none)
 * at the mount's root, at /a and at /a/b. */
static void v2_tree(const char *tcase, const char *top_max, const char *a_max, const char *b_max)
{
    put(tcase, "cgroup", "0::/a/b\n");
    put(tcase, "mountinfo", V2_MOUNT);
    put(tcase, V2 "/a/b/cgroup.procs", "");
    if (top_max)
        put(tcase, V2 "/cpu.max", top_max);
    if (a_max)
        put(tcase, V2 "/a/cpu.max", a_max);
    if (b_max)
        put(tcase, V2 "/a/b/cpu.max", b_max);
}

static void test_v2(void)
{
    v2_tree("leaf", NULL, "max 100000\n", "200000 100000\n");
    is_int(quota("leaf"), 2, "v2: a quota at the leaf, none above: 2 cores");
    v2_tree("ancestor", NULL, "300000 100000\n", "max 100000\n");
    is_int(quota("ancestor"), 3, "v2: a quota at an ancestor only: 3 cores");
    v2_tree("tighter", "max 100000\n", "200000 100000\n", "400000 100000\n");
    is_int(quota("tighter"), 2, "v2: the ancestor's tighter quota binds: 2, not 4");
    v2_tree("leaftight", "800000 100000\n", "600000 100000\n", "100000 100000\n");
    is_int(quota("leaftight"), 1, "v2: the leaf's tighter quota binds: 1, not 6 or 8");
    v2_tree("max", "max 100000\n", "max 100000\n", "max 100000\n");
    is_int(quota("max"), 0, "v2: \"max\" everywhere: no quota");
    put("max", V2 "/cpu.max", "500000 100000\n");
    is_int(quota("max"), 5, "and the same tree with one at the mount's root: 5");
    v2_tree("fraction", NULL, NULL, "150000 100000\n");
    is_int(quota("fraction"), 2, "v2: 1.5 CPUs rounds up to 2 cores");
    v2_tree("tiny", NULL, NULL, "1000 100000\n");
    is_int(quota("tiny"), 1, "v2: 0.01 CPUs is still 1 core");
    v2_tree("period", NULL, NULL, "100001 100000\n");
    is_int(quota("period"), 2, "v2: a hair over 1 CPU is 2 cores");
}

static void test_v1(void)
{
    /* A hybrid host: v1 hierarchies, a v2 one with no controllers, and a
     * cpuacct-only hierarchy that must not pass for the cpu one. */
    put("v1", "cgroup", "5:memory:/a\n4:cpuacct:/decoy\n3:cpu,cpuacct:/a\n0::/a\n");
    put("v1", "mountinfo",
        "31 23 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
        "33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
    put("v1", V2 "/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    put("v1", V2 "/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    put("v1", V2 "/cpu,cpuacct/a/cpu.cfs_quota_us", "250000\n");
    put("v1", V2 "/cpu,cpuacct/a/cpu.cfs_period_us", "100000\n");
    put("v1", V2 "/cpuacct/a/cpu.cfs_quota_us", "100000\n");
    put("v1", V2 "/cpuacct/a/cpu.cfs_period_us", "100000\n");
    put("v1", V2 "/unified/a/cgroup.procs", "");
    is_int(quota("v1"), 3, "v1 cpu,cpuacct: 250 ms each 100 ms is 3 cores");
    put("v1", V2 "/cpu,cpuacct/cpu.cfs_quota_us", "200000\n");
    is_int(quota("v1"), 2, "v1: the root's tighter quota binds");
    put("v1", V2 "/unified/a/cpu.max", "100000 100000\n");
    is_int(quota("v1"), 1, "hybrid: the tighter of v1 and v2 binds");

    /* A container without a cgroup namespace: the mount shows its own
     * cgroup at the root, and /proc/self/cgroup the full path. */
    put("docker", "cgroup", "2:cpu:/docker/abc\n");
    put("docker", "mountinfo",
        "40 30 0:29 /docker/abc /sys/fs/cgroup/cpu ro - cgroup cgroup rw,cpu\n");
    put("docker", V2 "/cpu/cpu.cfs_quota_us", "400000\n");
    put("docker", V2 "/cpu/cpu.cfs_period_us", "100000\n");
    is_int(quota("docker"), 4, "v1 in a container: the mount's root is its cgroup");
}

static void test_namespace(void)
{
    put("slash", "cgroup", "0::/\n");
    put("slash", "mountinfo", V2_MOUNT);
    put("slash", V2 "/cpu.max", "200000 100000\n");
    is_int(quota("slash"), 2, "path /: the mount's root's own quota");

    put("ns", "cgroup", "0::/kubepods/burstable/pod1/c1\n");
    put("ns", "mountinfo", V2_MOUNT);
    put("ns", V2 "/cpu.max", "100000 100000\n");
    put("ns", V2 "/kubepods/cpu.max", "max 100000\n");
    is_int(quota("ns"), 1, "a path the mount does not show: the mount's root's quota");

    put("escaped", "cgroup", "0::/a b\n");
    put("escaped", "mountinfo", "30 23 0:26 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n");
    put("escaped", "sys/fs/my cgroup/a b/cpu.max", "300000 100000\n");
    is_int(quota("escaped"), 3, "a mount point with an escaped space");
}

static void test_malformed(void)
{
    /* Each bad leaf has a sound, looser quota above it: that one binds. */
    static const char *bad[] = {
        "garbage\n", "200000\n", "200000 0\n", "-5 100000\n", "200000 100000 7\n",
        " 200000 100000\n", "0 100000\n", "200000 100000000\n", "99999999999999999999 100000\n",
        "200000 100000                                                    \n", "",
    };
    char tcase[32], *cg = malloc(8192), *mi = malloc(8192);
    size_t len;
    int n;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(tcase, sizeof tcase, "bad%zu", i);
        v2_tree(tcase, NULL, "700000 100000\n", bad[i]);
        len = strcspn(bad[i], "\n");
        is_int(quota(tcase), 7, "a leaf cpu.max of \"%.*s\" sets no quota",
               len < 20 ? (int)len : 20, bad[i]);
    }

    /* An over-long line is skipped whole: its tail, which reads as a line
     * of its own, does not count. */
    n = snprintf(cg, 8192, "5:memory:/");
    memset(cg + n, 'x', 4095 - (size_t)n);
    snprintf(cg + 4095, 8192 - 4095, "0::/evil\n0::/good\n");
    put("long", "cgroup", cg);
    n = snprintf(mi, 8192, "1 1 0:1 / /long rw - tmpfs tmpfs rw,");
    memset(mi + n, 'y', 4095 - (size_t)n);
    snprintf(mi + 4095, 8192 - 4095, "9 1 0:9 / /evil rw - cgroup2 cgroup2 rw\n" V2_MOUNT);
    put("long", "mountinfo", mi);
    put("long", V2 "/evil/cpu.max", "100000 100000\n");
    put("long", "evil/evil/cpu.max", "100000 100000\n");
    put("long", "evil/good/cpu.max", "100000 100000\n");
    put("long", V2 "/good/cpu.max", "500000 100000\n");
    is_int(quota("long"), 5, "over-long lines in cgroup and mountinfo are skipped whole");
    free(cg);
    free(mi);

    v2_tree("nofile", NULL, NULL, "200000 100000\n");
    is_int(quota("nofile"), 2, "a sound tree: 2");
    ok(cores_quota_at("/nonexistent/cgroup", "/proc/self/mountinfo", NULL) == 0,
       "no cgroup file: no quota");
    put("nofile", "mountinfo", "");
    is_int(quota("nofile"), 0, "no cgroup mount: no quota");
    put("nofile", "mountinfo", V2_MOUNT);
    put("nofile", "cgroup", "1:cpu:/a/b\n");
    is_int(quota("nofile"), 0, "no v2 line and no v1 mount: no quota");
}

static int rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(void)
{
    cpu_set_t all, one;
    int first = -1;
    par *p;

    if (!mkdtemp(top)) {
        printf("Bail out! no temporary directory\n");
        return 1;
    }
    test_v2();
    test_v1();
    test_namespace();
    test_malformed();
    nftw(top, rm, 16, FTW_DEPTH | FTW_PHYS);

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
