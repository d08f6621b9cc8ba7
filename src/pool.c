/*
 * pool -- worker threads that run blocking jobs and post them back to the loop.
 *
 * Invariants: a job is on exactly one of the three lists (interactive,
 * background, finished) or held by exactly one worker; p->running_bg counts
 * the workers holding a background job; p->pending counts jobs between
 * pool_submit and their done callback and is touched only on the loop
 * thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "pool.h"

typedef struct job {
    void (*work)(void *, unsigned);
    void (*done)(void *);
    void *arg;
    int background;
    int64_t queued_ms;  /* when it was submitted (background jobs) */
    struct job *next;
} job;

typedef struct joblist {
    job *head, *tail;
} joblist;

typedef struct worker {
    pool *p;
    unsigned index;
    pthread_t thread;
} worker;

struct pool {
    struct event_base *base;
    struct event *wake;     /* activated by workers when finished is non-empty */
    pthread_mutex_t lock;   /* guards the lists, running_bg, stopping */
    pthread_cond_t cond;    /* signalled when a job may be taken, or stopping is set */
    joblist interactive, background, finished;
    int stopping;
    size_t pending;
    unsigned nworkers, started;
    unsigned max_bg, running_bg;
    size_t queued;          /* waiting for a worker (guarded by lock) */
    unsigned busy;          /* workers running a job (guarded by lock) */
    worker *workers;
};

static void pool_joblist_push(joblist *l, job *j)
{
    j->next = NULL;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static job *pool_joblist_take_all(joblist *l)
{
    job *head = l->head;
    l->head = l->tail = NULL;
    return head;
}

static job *pool_joblist_pop(joblist *l)
{
    job *j = l->head;
    if (j) {
        l->head = j->next;
        if (!l->head)
            l->tail = NULL;
    }
    return j;
}

/* The job a free worker takes now under the rule in pool.h, removed from
 * its queue, or NULL when it must wait.  Called with the lock held. */
static job *pool_take(pool *p)
{
    int bg_ok = p->background.head && p->running_bg < p->max_bg;

    if (bg_ok && (!p->interactive.head ||
                  clock_ms() - p->background.head->queued_ms >= POOL_BACKGROUND_MAX_WAIT_MS))
        return pool_joblist_pop(&p->background);
    if (p->interactive.head)
        return pool_joblist_pop(&p->interactive);
    return NULL;
}

static void *pool_worker_main(void *arg)
{
    worker *w = arg;
    pool *p = w->p;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        job *j;
        while (!(j = pool_take(p)) && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (!j)
            break; /* stopping and nothing this worker may take */
        p->running_bg += j->background;
        p->queued--;
        p->busy++;
        pthread_mutex_unlock(&p->lock);
        j->work(j->arg, w->index);
        pthread_mutex_lock(&p->lock);
        p->busy--;
        if (j->background) {
            p->running_bg--;
            if (p->background.head) /* a worker waiting on the limit may go on */
                pthread_cond_signal(&p->cond);
        }
        pool_joblist_push(&p->finished, j);
        event_active(p->wake, EV_READ, 0);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Run the done callbacks of every finished job, on the calling thread. */
static void pool_drain(pool *p)
{
    job *j;

    pthread_mutex_lock(&p->lock);
    j = pool_joblist_take_all(&p->finished);
    pthread_mutex_unlock(&p->lock);
    while (j) {
        job *next = j->next;
        p->pending--;
        j->done(j->arg);
        free(j);
        j = next;
    }
}

static void pool_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pool_drain(arg);
}

pool *pool_new(struct event_base *base, unsigned nworkers, char *err, size_t errlen)
{
    pool *p = calloc(1, sizeof *p);

    if (!p || nworkers == 0)
        goto fail;
    p->base = base;
    p->nworkers = nworkers;
    p->max_bg = nworkers > 1 ? nworkers - 1 : 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->wake = event_new(base, -1, 0, pool_wake_cb, p);
    p->workers = calloc(nworkers, sizeof *p->workers);
    if (!p->wake || !p->workers)
        goto fail;
    for (unsigned i = 0; i < nworkers; i++) {
        p->workers[i].p = p;
        p->workers[i].index = i;
        if (pthread_create(&p->workers[i].thread, NULL, pool_worker_main, &p->workers[i]) != 0)
            goto fail;
        p->started++;
    }
    return p;
fail:
    snprintf(err, errlen, "cannot start %u worker threads: %s", nworkers,
             nworkers ? strerror(errno) : "need at least one");
    pool_free(&p);
    return NULL;
}

unsigned pool_size(const pool *p)
{
    return p->nworkers;
}

size_t pool_pending(const pool *p)
{
    return p->pending;
}

void pool_load(pool *p, size_t *queued, unsigned *busy)
{
    pthread_mutex_lock(&p->lock);
    *queued = p->queued;
    *busy = p->busy;
    pthread_mutex_unlock(&p->lock);
}

static int pool_queue(pool *p, void (*work)(void *, unsigned), void (*done)(void *), void *arg,
                      int background)
{
    job *j;

    if (p->stopping || !(j = malloc(sizeof *j)))
        return -1;
    j->work = work;
    j->done = done;
    j->arg = arg;
    j->background = background;
    j->queued_ms = background ? clock_ms() : 0;
    pthread_mutex_lock(&p->lock);
    pool_joblist_push(background ? &p->background : &p->interactive, j);
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    p->pending++;
    return 0;
}

int pool_submit(pool *p, void (*work)(void *, unsigned), void (*done)(void *), void *arg)
{
    return pool_queue(p, work, done, arg, 0);
}

int pool_submit_background(pool *p, void (*work)(void *, unsigned), void (*done)(void *),
                           void *arg)
{
    return pool_queue(p, work, done, arg, 1);
}

void pool_free(pool **pp)
{
    pool *p = *pp;

    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->workers[i].thread, NULL);
    pool_drain(p);
    if (p->wake)
        event_free(p->wake);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->workers);
    free(p);
    *pp = NULL;
}
