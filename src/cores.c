/*
 * cores -- the cores this process may run on (cores.h).
 *
 * The quota comes from the cgroup files the kernel shows the process:
 * /proc/self/cgroup names its cgroup in each hierarchy, mountinfo says
 * where each hierarchy is mounted, and the cgroup's directory and those
 * above it, up to the mount, each may hold a quota (v2 cpu.max, v1
 * cpu.cfs_quota_us over cpu.cfs_period_us).  The tightest one binds.  A
 * file that cannot be read, or does not say what it should, sets no
 * quota: a wrong guess here would shrink the server, so doubt means none.
 * Every read goes through a small fixed buffer; a line that does not fit
 * is one that does not say what it should.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cores.h"

#define CORES_LINE 4096 /* a line of /proc/self/cgroup or mountinfo */
#define CORES_PATH 4096
#define CORES_MAX_PERIOD 10000000ULL /* µs; the kernel allows up to 1 s */
#define CORES_MAX_QUOTA 1000000000000000ULL /* µs; times 1,000 fits 64 bits */

/* One hierarchy that may hold CPU quotas: where it is mounted, the
 * mount's root within it, and the process's cgroup in it. */
typedef struct cores_tree {
    char mount[CORES_PATH];
    char root[CORES_PATH];
    char cgroup[CORES_PATH];
} cores_tree;

/* The next line of f into line, without its newline: 1, or 0 at the end.
 * *whole is 0 for a line longer than the buffer (its rest is skipped). */
static int cores_line(FILE *f, char *line, size_t size, int *whole)
{
    size_t n;
    int c;

    if (!fgets(line, (int)size, f))
        return 0;
    n = strlen(line);
    *whole = 1;
    if (n > 0 && line[n - 1] == '\n') {
        line[n - 1] = '\0';
        return 1;
    }
    if (n + 1 < size || feof(f))
        return 1; /* the last line, with no newline */
    *whole = 0;
    while ((c = getc(f)) != EOF && c != '\n')
        ;
    return 1;
}

/* Whether the comma-separated list holds word. */
static int cores_has_word(const char *list, const char *word)
{
    size_t len = strlen(word);

    for (const char *p = list; p; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        if (strncmp(p, word, len) == 0 && (p[len] == ',' || p[len] == '\0'))
            return 1;
    }
    return 0;
}

/* Copy a mountinfo field into out, undoing its octal escapes (\040 is a
 * space): 0, or -1 when it does not fit or is not such a field. */
static int cores_unescape(const char *field, char *out, size_t size)
{
    size_t n = 0;

    for (const char *p = field; *p; p++) {
        char c = *p;

        if (c == '\\') {
            if (p[1] < '0' || p[1] > '3' || p[2] < '0' || p[2] > '7' || p[3] < '0' || p[3] > '7')
                return -1;
            c = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        }
        if (n + 1 >= size)
            return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

/* Find in mountinfo where the v2 hierarchy (v1 == 0) or the v1 one with
 * the cpu controller is mounted: into t's mount (after prefix) and root.
 * 0, or -1 when none is. */
static int cores_find_mount(const char *mountinfo, const char *prefix, int v1, cores_tree *t)
{
    char line[CORES_LINE], mount[CORES_PATH];
    FILE *f = fopen(mountinfo, "re");
    int whole, found = -1;

    if (!f)
        return -1;
    while (found < 0 && cores_line(f, line, sizeof line, &whole)) {
        /* "36 25 0:31 ROOT MOUNT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS" */
        char *field[5], *dash = strstr(line, " - "), *save = NULL, *fstype, *super;
        int n = 0;

        if (!whole || !dash)
            continue;
        *dash = '\0';
        for (char *w = strtok_r(line, " ", &save); w && n < 5; w = strtok_r(NULL, " ", &save))
            field[n++] = w;
        save = NULL;
        fstype = strtok_r(dash + 3, " ", &save);
        (void)strtok_r(NULL, " ", &save); /* the source */
        super = strtok_r(NULL, " ", &save);
        if (n < 5 || !fstype || !super)
            continue;
        if (v1 ? strcmp(fstype, "cgroup") != 0 || !cores_has_word(super, "cpu")
               : strcmp(fstype, "cgroup2") != 0)
            continue;
        if (cores_unescape(field[3], t->root, sizeof t->root) != 0 ||
            cores_unescape(field[4], mount, sizeof mount) != 0 ||
            snprintf(t->mount, sizeof t->mount, "%s%s", prefix, mount) >= (int)sizeof t->mount)
            break;
        found = 0;
    }
    fclose(f);
    return found;
}

/* Find in proc_cgroup the process's cgroup in the v2 hierarchy (v1 == 0,
 * the "0::/path" line) or in the v1 one with the cpu controller, into t's
 * cgroup.  0, or -1 when there is none. */
static int cores_find_cgroup(const char *proc_cgroup, int v1, cores_tree *t)
{
    char line[CORES_LINE];
    FILE *f = fopen(proc_cgroup, "re");
    int whole, found = -1;

    if (!f)
        return -1;
    while (found < 0 && cores_line(f, line, sizeof line, &whole)) {
        /* "ID:CONTROLLERS:PATH"; the path may hold colons of its own. */
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

        if (!whole || !c2)
            continue;
        *c1 = *c2 = '\0';
        if (v1 ? !cores_has_word(c1 + 1, "cpu") : strcmp(line, "0") != 0 || c1[1] != '\0')
            continue;
        if (c2[1] != '/' || strlen(c2 + 1) >= sizeof t->cgroup)
            break;
        strcpy(t->cgroup, c2 + 1);
        found = 0;
    }
    fclose(f);
    return found;
}

/* Read the number(s) in the small file at path into text: 0, or -1 when
 * it cannot be read or does not fit. */
static int cores_read_small(const char *path, char *text, size_t size)
{
    FILE *f = fopen(path, "re");
    size_t n;

    if (!f)
        return -1;
    n = fread(text, 1, size, f);
    fclose(f);
    if (n == 0 || n >= size)
        return -1;
    text[n] = '\0';
    return 0;
}

/* Parse an unsigned decimal of at most max, then optional white space
 * from the set ends (NULL: the end of the text): the value, or 0. */
static unsigned long long cores_number(const char *text, char **end, unsigned long long max)
{
    unsigned long long v = 0;
    const char *p = text;

    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned long long)(*p - '0');
        if (v > max)
            return 0;
    }
    if (end)
        *end = (char *)p;
    else if (*p != '\0' && strcmp(p, "\n") != 0)
        return 0;
    return v;
}

/* The quota set in the cgroup directory dir, in thousandths of a CPU
 * rounded up, or 0 when it sets none. */
static unsigned long long cores_quota_dir(const char *dir, int v1)
{
    char path[CORES_PATH], text[64], *end = NULL;
    unsigned long long quota, period;

    if (v1) {
        if (snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir) >= (int)sizeof path ||
            cores_read_small(path, text, sizeof text) != 0)
            return 0;
        quota = cores_number(text, NULL, CORES_MAX_QUOTA); /* "-1" (none) is 0 too */
        if (!quota ||
            snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir) >= (int)sizeof path ||
            cores_read_small(path, text, sizeof text) != 0)
            return 0;
        period = cores_number(text, NULL, CORES_MAX_PERIOD);
    } else {
        /* "QUOTA PERIOD" or "max PERIOD" */
        if (snprintf(path, sizeof path, "%s/cpu.max", dir) >= (int)sizeof path ||
            cores_read_small(path, text, sizeof text) != 0)
            return 0;
        quota = cores_number(text, &end, CORES_MAX_QUOTA);
        if (!quota || *end != ' ')
            return 0;
        period = cores_number(end + 1, NULL, CORES_MAX_PERIOD);
    }
    if (!period)
        return 0;
    return (quota * 1000 + period - 1) / period;
}

/* The tightest quota of t's cgroup and those above it up to the mount, in
 * thousandths of a CPU, or 0 when none sets one. */
static unsigned long long cores_quota_tree(const cores_tree *t, int v1)
{
    char dir[CORES_PATH];
    const char *rel = t->cgroup;
    size_t rootlen = strlen(t->root), mountlen = strlen(t->mount), len;
    unsigned long long tightest = 0, q;
    struct stat st;

    /* Without a cgroup namespace a mount of a cgroup below the top (a
     * container's view) shows the cgroup's full path: drop the part the
     * mount's root already is. */
    if (rootlen > 1 && strncmp(rel, t->root, rootlen) == 0 &&
        (rel[rootlen] == '/' || rel[rootlen] == '\0'))
        rel += rootlen;
    if (snprintf(dir, sizeof dir, "%s%s", t->mount, rel) >= (int)sizeof dir)
        return 0;
    /* A path outside the namespace ("/.."), or one the mount does not
     * show: the mount's root is the nearest cgroup there is to read. */
    if (strstr(rel, "/..") || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        dir[mountlen] = '\0';
    for (len = strlen(dir); len > mountlen && dir[len - 1] == '/'; len--)
        dir[len - 1] = '\0';
    for (;;) {
        q = cores_quota_dir(dir, v1);
        if (q && (!tightest || q < tightest))
            tightest = q;
        if (len <= mountlen)
            break;
        while (len > mountlen && dir[len - 1] != '/')
            len--;
        while (len > mountlen && dir[len - 1] == '/')
            len--;
        dir[len] = '\0';
    }
    return tightest;
}

/* The tightest quota over both hierarchies (a hybrid host has both), in
 * thousandths of a CPU, or 0 when none is set. */
static unsigned long long cores_quota_milli(const char *proc_cgroup, const char *mountinfo,
                                            const char *prefix)
{
    cores_tree t;
    unsigned long long tightest = 0, q;

    for (int v1 = 0; v1 <= 1; v1++) {
        memset(&t, 0, sizeof t);
        if (cores_find_cgroup(proc_cgroup, v1, &t) != 0 ||
            cores_find_mount(mountinfo, prefix ? prefix : "", v1, &t) != 0)
            continue;
        q = cores_quota_tree(&t, v1);
        if (q && (!tightest || q < tightest))
            tightest = q;
    }
    return tightest;
}

/* Thousandths of a CPU as whole cores, rounded up; 0 stays 0 (no quota). */
static unsigned cores_whole(unsigned long long milli)
{
    return (unsigned)((milli + 999) / 1000);
}

unsigned cores_quota_at(const char *proc_cgroup, const char *mountinfo, const char *root)
{
    return cores_whole(cores_quota_milli(proc_cgroup, mountinfo, root));
}

static unsigned cores_affinity(void)
{
    cpu_set_t set;
    long n;

    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* What the first call saw, kept for the process's life. */
static struct {
    unsigned usable, affinity;
    unsigned long long quota_milli;
} cores_seen;
static pthread_once_t cores_once = PTHREAD_ONCE_INIT;

static void cores_look(void)
{
    unsigned long long milli = cores_quota_milli("/proc/self/cgroup", "/proc/self/mountinfo",
                                                 NULL);
    unsigned quota = cores_whole(milli);

    cores_seen.affinity = cores_affinity();
    cores_seen.quota_milli = milli;
    cores_seen.usable = quota && quota < cores_seen.affinity ? quota : cores_seen.affinity;
}

unsigned cores_usable(void)
{
    pthread_once(&cores_once, cores_look);
    return cores_seen.usable;
}

int cores_quota_lowered(double *cpus, unsigned *affinity)
{
    pthread_once(&cores_once, cores_look);
    if (cores_seen.usable >= cores_seen.affinity)
        return 0;
    *cpus = (double)cores_seen.quota_milli / 1000;
    *affinity = cores_seen.affinity;
    return 1;
}
