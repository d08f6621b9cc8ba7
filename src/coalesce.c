/*
 * coalesce -- shared fan-outs for identical searches (see coalesce.h).
 *
 * The table holds flights that are still retrieving and have a key, in a
 * fixed number of chained buckets.  A flight's references are its members
 * (waiting or done) plus one held while its done callbacks run, so a member
 * leaving from inside its own callback cannot free the flight under the
 * loop that calls the rest.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "coalesce.h"

#define COALESCE_BUCKETS 1024

struct coalesce_flight {
    char *key;                        /* owned; NULL when private */
    fanout *f;
    unsigned refs;
    int in_table;
    coalesce_member *waiting;         /* members whose done has not run */
    struct coalesce_flight *next;     /* bucket chain */
};

static _Thread_local coalesce_flight *coalesce_table[COALESCE_BUCKETS]; /* one per loop */
static _Thread_local coalesce_stats coalesce_counts;

static coalesce_flight **coalesce_bucket(const char *key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return &coalesce_table[h % COALESCE_BUCKETS];
}

static void coalesce_unlist(coalesce_flight *fl)
{
    if (!fl->in_table)
        return;
    for (coalesce_flight **pp = coalesce_bucket(fl->key); *pp; pp = &(*pp)->next)
        if (*pp == fl) {
            *pp = fl->next;
            break;
        }
    fl->in_table = 0;
    coalesce_counts.in_flight--;
}

static void coalesce_unref(coalesce_flight *fl)
{
    assert(fl->refs > 0);
    if (--fl->refs > 0)
        return;
    assert(!fl->waiting);
    coalesce_unlist(fl);
    fanout_free(&fl->f);
    free(fl->key);
    free(fl);
}

static void coalesce_unwait(coalesce_member *m)
{
    coalesce_flight *fl = m->fl;

    if (m->prev)
        m->prev->next = m->next;
    else if (fl->waiting == m)
        fl->waiting = m->next;
    else
        return; /* not waiting: its done callback already ran */
    if (m->next)
        m->next->prev = m->prev;
    m->prev = m->next = NULL;
}

static void coalesce_wait(coalesce_flight *fl, coalesce_member *m)
{
    m->fl = fl;
    m->prev = NULL;
    m->next = fl->waiting;
    if (fl->waiting)
        fl->waiting->prev = m;
    fl->waiting = m;
    fl->refs++;
}

static void coalesce_settled(void *arg, const fanout_slot *sl)
{
    coalesce_flight *fl = arg;

    for (coalesce_member *m = fl->waiting; m; m = m->next)
        if (m->settled)
            m->settled(m->arg, sl);
}

static void coalesce_done(void *arg, fanout *f)
{
    coalesce_flight *fl = arg;

    coalesce_unlist(fl); /* finished: a new request must not wait for it */
    fl->refs++;
    while (fl->waiting) {
        coalesce_member *m = fl->waiting;
        coalesce_unwait(m);
        m->done(m->arg, f);
    }
    coalesce_unref(fl);
}

static coalesce_flight *coalesce_find(const char *key)
{
    for (coalesce_flight *fl = *coalesce_bucket(key); fl; fl = fl->next)
        if (strcmp(fl->key, key) == 0)
            return fl;
    return NULL;
}

int coalesce_join(coalesce_member *m, const char *key, struct event_base *base,
                  instance *const *insts, size_t n, const char *query, filter *flt, int k,
                  int64_t deadline_ms)
{
    coalesce_flight *fl = key ? coalesce_find(key) : NULL;

    if (fl) {
        m->follower = 1;
        coalesce_wait(fl, m);
        coalesce_counts.followers++;
        return 0;
    }
    if (!(fl = calloc(1, sizeof *fl)) || (key && !(fl->key = strdup(key)))) {
        free(fl);
        return -1;
    }
    m->follower = 0;
    coalesce_wait(fl, m);
    fl->f = fanout_start(base, insts, n, query, flt, k, deadline_ms, coalesce_done,
                         coalesce_settled, fl);
    if (!fl->f) {
        coalesce_unwait(m);
        m->fl = NULL;
        coalesce_unref(fl);
        return -1;
    }
    if (fl->key) {
        coalesce_flight **b = coalesce_bucket(fl->key);
        fl->next = *b;
        *b = fl;
        fl->in_table = 1;
        coalesce_counts.in_flight++;
    }
    coalesce_counts.flights++;
    return 0;
}

fanout *coalesce_fanout(const coalesce_member *m)
{
    return m->fl ? m->fl->f : NULL;
}

void coalesce_leave(coalesce_member *m)
{
    coalesce_flight *fl = m->fl;

    if (!fl)
        return;
    coalesce_unwait(m);
    m->fl = NULL;
    coalesce_unref(fl);
}

void coalesce_get_stats(coalesce_stats *out)
{
    *out = coalesce_counts;
}
