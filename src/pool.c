/*
 * pool -- worker threads that run blocking jobs and post them back to the loop.
 *
 * Invariants: a job is on exactly one list (interactive, background, or
 * its port's finished list) or held by exactly one worker; p->running_bg
 * counts the workers holding a background job; a port's pending counts its
 * jobs between pool_submit and their done callback and is touched only on
 * its loop's thread; p->pending is the sum over ports (atomic, for
 * pool_pending from any thread).
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "pin.h"
#include "pool.h"

typedef struct joblist {
    struct job *head, *tail;
} joblist;

/* Where finished jobs go back: one loop's queue and wake-up event. */
struct pool_port {
    pool *p;
    struct event *wake;     /* activated by workers when finished is non-empty */
    joblist finished;       /* guarded by p->lock */
    size_t pending;         /* this port's jobs not yet done; its loop only */
};

typedef struct job {
    pool_port *port;        /* where done runs */
    void (*work)(void *, unsigned);
    void (*done)(void *);
    void *arg;
    int background;
    int64_t queued_ms;  /* when it was submitted (background jobs) */
    struct job *next;
} job;

typedef struct worker {
    pool *p;
    unsigned index;
    pthread_t thread;
} worker;

struct pool {
    pool_port main;         /* the port of the loop the pool was made on */
    pthread_mutex_t lock;   /* guards the lists, running_bg, stopping */
    pthread_cond_t cond;    /* signalled when a job may be taken, or stopping is set */
    joblist interactive, background;
    int stopping;
    atomic_size_t pending;
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
    char name[16];

    /* What top -H and bench/scale show for the thread. */
    snprintf(name, sizeof name, "ragd-work%u", w->index);
    pthread_setname_np(pthread_self(), name);
    pin_self(w->index); /* beside loop w->index, with --pin-threads */
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
        pool_joblist_push(&j->port->finished, j);
        event_active(j->port->wake, EV_READ, 0);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The port jobs submitted on this thread report to: the loop's, once it
 * has bound one; else the pool's main port. */
static _Thread_local pool_port *pool_here;

/* Run the done callbacks of every job finished for port, on the calling
 * thread. */
static void pool_drain(pool_port *port)
{
    pool *p = port->p;
    job *j;

    pthread_mutex_lock(&p->lock);
    j = pool_joblist_take_all(&port->finished);
    pthread_mutex_unlock(&p->lock);
    while (j) {
        job *next = j->next;
        port->pending--;
        atomic_fetch_sub(&p->pending, 1);
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
    p->nworkers = nworkers;
    p->max_bg = nworkers > 1 ? nworkers - 1 : 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    atomic_init(&p->pending, 0);
    p->main.p = p;
    p->main.wake = event_new(base, -1, 0, pool_wake_cb, &p->main);
    p->workers = calloc(nworkers, sizeof *p->workers);
    if (!p->main.wake || !p->workers)
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
    return atomic_load(&((pool *)p)->pending);
}

pool_port *pool_port_new(pool *p, struct event_base *base)
{
    pool_port *port = calloc(1, sizeof *port);

    if (!port)
        return NULL;
    port->p = p;
    if (!(port->wake = event_new(base, -1, 0, pool_wake_cb, port))) {
        free(port);
        return NULL;
    }
    return port;
}

void pool_port_bind(pool_port *port)
{
    pool_here = port;
}

size_t pool_port_pending(const pool_port *port)
{
    return port->pending;
}

void pool_port_free(pool_port **pp)
{
    pool_port *port = *pp;

    if (!port)
        return;
    /* Every job of this port must come home before its queue goes. */
    while (port->pending) {
        pool_drain(port);
        if (port->pending)
            usleep(1000);
    }
    if (pool_here == port)
        pool_here = NULL;
    event_free(port->wake);
    free(port);
    *pp = NULL;
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
    pool_port *port = pool_here && pool_here->p == p ? pool_here : &p->main;
    job *j;

    if (p->stopping || !(j = malloc(sizeof *j)))
        return -1;
    j->port = port;
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
    port->pending++;
    atomic_fetch_add(&p->pending, 1);
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
    pool_drain(&p->main);
    assert(atomic_load(&p->pending) == 0); /* every other port was freed first */
    if (p->main.wake)
        event_free(p->main.wake);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->workers);
    free(p);
    *pp = NULL;
}
