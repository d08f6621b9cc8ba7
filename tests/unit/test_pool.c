/*
 * test_pool -- the worker pool's ordering rule (pool.h): interactive work
 * before background work, at most max(1, N - 1) workers on background work
 * at once, and a background job that has waited its limit goes first.
 *
 * Each ordering check holds the one worker on a gate while it queues the
 * jobs it orders, so the order in which the worker then starts them is
 * decided by the rule alone, not by timing.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "../../src/clock.h"
#include "../../src/pool.h"
#include "tap.h"

/* What the jobs of one check share. */
typedef struct run {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int open;               /* the gate: gated jobs wait until it is set */
    int held;               /* gated jobs waiting on it */
    char order[16];         /* the names of the jobs, in the order they started */
    size_t norder;
    int bg_now, bg_max;     /* background jobs running now, and at most */
    size_t done;
} run;

typedef struct item {
    run *r;
    char name;
    int background;
    int gated;              /* hold the worker until the gate opens */
    int linger;             /* stay up to 200 ms for a second background job */
} item;

static void item_work(void *arg, unsigned worker)
{
    item *it = arg;
    run *r = it->r;
    struct timespec until;

    (void)worker;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&r->lock);
    if (it->gated) {
        r->held++;
        pthread_cond_broadcast(&r->cond);
        while (!r->open)
            pthread_cond_wait(&r->cond, &r->lock);
    } else {
        r->order[r->norder++] = it->name;
    }
    if (it->background && ++r->bg_now > r->bg_max)
        r->bg_max = r->bg_now;
    pthread_cond_broadcast(&r->cond);
    /* Were the limit broken, the second background job would start now. */
    while (it->linger && r->bg_now < 2 &&
           pthread_cond_timedwait(&r->cond, &r->lock, &until) == 0)
        ;
    r->bg_now -= it->background;
    pthread_mutex_unlock(&r->lock);
}

static void item_done(void *arg)
{
    item *it = arg;
    it->r->done++;
}

/* Queue one job named name. */
static void submit(pool *p, item *it, run *r, char name, int background, int gated, int linger)
{
    *it = (item){r, name, background, gated, linger};
    if ((background ? pool_submit_background : pool_submit)(p, item_work, item_done, it) != 0)
        abort();
}

/* Wait until n gated jobs hold their workers, so what is queued next
 * waits behind them. */
static void hold(run *r, int n)
{
    pthread_mutex_lock(&r->lock);
    while (r->held < n)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
}

static void open_gate(run *r)
{
    pthread_mutex_lock(&r->lock);
    r->open = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Run the loop until n jobs have finished. */
static void finish(struct event_base *base, run *r, size_t n)
{
    while (r->done < n)
        event_base_loop(base, EVLOOP_ONCE);
}

static void run_init(run *r)
{
    *r = (run){0};
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
}

static void run_release(run *r)
{
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
}

/* One worker, held on the gate while background a, b and interactive x, y
 * are queued in that order: x y a b, interactive first, each queue in
 * order, and background work runs on a pool of one. */
static void test_order(struct event_base *base)
{
    char err[256];
    pool *p = pool_new(base, 1, err, sizeof err);
    item it[5];
    run r;

    run_init(&r);
    submit(p, &it[0], &r, 'G', 0, 1, 0);
    hold(&r, 1);
    submit(p, &it[1], &r, 'a', 1, 0, 0);
    submit(p, &it[2], &r, 'b', 1, 0, 0);
    submit(p, &it[3], &r, 'x', 0, 0, 0);
    submit(p, &it[4], &r, 'y', 0, 0, 0);
    open_gate(&r);
    finish(base, &r, 5);
    is_str(r.order, "xyab", "interactive jobs start before background ones, each queue in order");
    pool_free(&p);
    run_release(&r);
}

/* Two workers, two background jobs, the first staying until the second
 * starts (or 200 ms): they never run at once, and both run. */
static void test_limit(struct event_base *base)
{
    char err[256];
    pool *p = pool_new(base, 2, err, sizeof err);
    item it[2];
    run r;

    run_init(&r);
    submit(p, &it[0], &r, 'a', 1, 0, 1);
    submit(p, &it[1], &r, 'b', 1, 0, 0);
    finish(base, &r, 2);
    is_str(r.order, "ab", "two workers: both background jobs ran, in order");
    is_int(r.bg_max, 1, "two workers: at most one runs background work at once");
    pool_free(&p);
    run_release(&r);
}

/* One worker held until background a has waited past its limit, then
 * interactive x queued: a goes first, so searches cannot starve a job. */
static void test_no_starvation(struct event_base *base)
{
    char err[256];
    pool *p = pool_new(base, 1, err, sizeof err);
    item it[3];
    int64_t t0;
    struct timespec ms = {0, 5000000};
    run r;

    run_init(&r);
    submit(p, &it[0], &r, 'G', 0, 1, 0);
    hold(&r, 1);
    submit(p, &it[1], &r, 'a', 1, 0, 0);
    t0 = clock_ms();
    while (clock_ms() - t0 <= POOL_BACKGROUND_MAX_WAIT_MS)
        nanosleep(&ms, NULL);
    submit(p, &it[2], &r, 'x', 0, 0, 0);
    open_gate(&r);
    finish(base, &r, 3);
    is_str(r.order, "ax", "a background job that waited its limit goes before interactive work");
    pool_free(&p);
    run_release(&r);
}

int main(void)
{
    struct event_base *base;

    if (evthread_use_pthreads() != 0 || !(base = event_base_new()))
        return 1;
    test_order(base);
    test_limit(base);
    test_no_starvation(base);
    event_base_free(base);
    return tap_done();
}
