/*
 * watch -- poll a store's change sequence for other processes' writes
 * (see watch.h).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "notify.h"
#include "store.h"
#include "watch.h"

/*
 * Lifetime: `busy` is set from submit until the job's done callback; while
 * it is set only the job touches `db` and `seen_now`.  watch_free during a
 * job sets `dying` and the done callback frees the watch.
 */
struct watch {
    pool *pool;
    char *path;
    struct event *tick;
    store *db;          /* opened by the first job; the job's alone */
    int64_t seq;        /* the last sequence number seen, -1 before the first */
    int64_t seen_now;   /* what the job read, -1 when it could not */
    char err[256];      /* why it could not, from the job */
    int busy, dying;
    int failing;        /* the last look failed: said once, not every tick */
};

static void watch_destroy(watch *w)
{
    store_close(&w->db);
    if (w->tick)
        event_free(w->tick);
    free(w->path);
    free(w);
}

static void watch_work(void *arg, unsigned worker)
{
    watch *w = arg;

    (void)worker;
    w->seen_now = -1;
    if (!w->db && store_open(w->path, 0, &w->db, w->err, sizeof w->err) != 0)
        return;
    if (store_last_seq(w->db, &w->seen_now) != 0) {
        snprintf(w->err, sizeof w->err, "cannot read the change log of %s", w->path);
        w->seen_now = -1;
        store_close(&w->db); /* open afresh next time */
    }
}

static void watch_done(void *arg)
{
    watch *w = arg;

    assert(w->busy);
    w->busy = 0;
    if (w->dying) {
        watch_destroy(w);
        return;
    }
    if (w->seen_now < 0) {
        if (!w->failing)
            log_msg(LOG_WARN, "store watch: %s", w->err);
        w->failing = 1;
        return;
    }
    w->failing = 0;
    if (w->seq >= 0 && w->seen_now != w->seq)
        notify_publish(w->path);
    w->seq = w->seen_now;
}

static void watch_tick(evutil_socket_t fd, short what, void *arg)
{
    watch *w = arg;

    (void)fd;
    (void)what;
    if (w->busy)
        return;
    w->busy = 1;
    if (pool_submit_background(w->pool, watch_work, watch_done, w) != 0)
        w->busy = 0;
}

watch *watch_new(struct event_base *base, pool *p, const char *path, int interval_ms)
{
    watch *w = calloc(1, sizeof *w);
    struct timeval every = clock_timeval(interval_ms);

    if (!w || !(w->path = strdup(path)) ||
        !(w->tick = event_new(base, -1, EV_PERSIST, watch_tick, w)) ||
        event_add(w->tick, &every) != 0) {
        if (w)
            watch_destroy(w);
        return NULL;
    }
    w->pool = p;
    w->seq = -1;
    watch_tick(-1, 0, w); /* the baseline now: a write from now on is seen */
    return w;
}

void watch_free(watch **wp)
{
    watch *w = *wp;

    if (!w)
        return;
    *wp = NULL;
    event_del(w->tick);
    if (w->busy)
        w->dying = 1;
    else
        watch_destroy(w);
}
