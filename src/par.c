/*
 * par -- helper threads for split scans (par.h).
 *
 * Runs wait in a FIFO list under one mutex; each lives on its caller's
 * stack until par_run returns, which is only after its last part has
 * run, so no helper can touch a run that is gone.  A run leaves the list
 * when its last part is handed out.  Parts take milliseconds, so one lock
 * for hand-out and completion costs nothing measurable.  A run wakes only
 * as many helpers as are waiting and it has parts for: a helper woken for
 * nothing is a context switch taken from a busy machine.
 */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

#include "par.h"
#include "pin.h"

/* One par_run: parts [0, next) are handed out, done have returned. */
typedef struct par_task {
    par_fn fn;
    void *arg;
    unsigned nparts, next, done;
    struct par_task *link; /* the next run in the list */
} par_task;

struct par {
    pthread_mutex_t mu;
    pthread_cond_t work;  /* a run was queued, or stop */
    pthread_cond_t done;  /* some run's part returned */
    par_task *head, *tail;
    int stop;
    unsigned idle;        /* helpers waiting on work */
    unsigned nthreads;
    pthread_t *threads;
};

/* Remove t from the list, under the lock. */
static void par_unlink(par *p, par_task *t)
{
    par_task **at = &p->head, *prev = NULL;

    while (*at != t) {
        assert(*at);
        prev = *at;
        at = &(*at)->link;
    }
    *at = t->link;
    if (p->tail == t)
        p->tail = prev;
}

/* Take the next part of run t, under the lock: returns it, and dequeues t
 * when that was its last part. */
static unsigned par_take(par *p, par_task *t)
{
    unsigned part;

    assert(t->next < t->nparts);
    part = t->next++;
    if (t->next == t->nparts)
        par_unlink(p, t);
    return part;
}

/* Run part of t outside the lock, then count it, under the lock again. */
static void par_do(par *p, par_task *t, unsigned part)
{
    pthread_mutex_unlock(&p->mu);
    t->fn(t->arg, part);
    pthread_mutex_lock(&p->mu);
    if (++t->done == t->nparts)
        pthread_cond_broadcast(&p->done);
}

static void *par_main(void *arg)
{
    par *p = arg;

    /* What top -H and bench/scale show for the thread. */
    pthread_setname_np(pthread_self(), "ragd-scan");
    pin_release_self(); /* for idle CPUs, not the starting thread's one */
    pthread_mutex_lock(&p->mu);
    for (;;) {
        par_task *t;
        while (!p->head && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->work, &p->mu);
            p->idle--;
        }
        if (p->stop)
            break;
        t = p->head;
        par_do(p, t, par_take(p, t));
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

par *par_new(unsigned nhelpers)
{
    par *p = calloc(1, sizeof *p);

    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    if (nhelpers && !(p->threads = calloc(nhelpers, sizeof *p->threads)))
        goto fail;
    for (; p->nthreads < nhelpers; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, par_main, p) != 0)
            goto fail;
    return p;
fail:
    par_free(&p);
    return NULL;
}

void par_free(par **pp)
{
    par *p = pp ? *pp : NULL;

    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    assert(!p->head);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
    *pp = NULL;
}

unsigned par_idle(par *p)
{
    unsigned n;

    pthread_mutex_lock(&p->mu);
    n = p->idle;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void par_run(par *p, par_fn fn, void *arg, unsigned nparts)
{
    par_task t = {fn, arg, nparts, 0, 0, NULL};
    unsigned wake;

    if (nparts == 0)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->link = &t;
    else
        p->head = &t;
    p->tail = &t;
    /* A helper signalled here may still be waking when the next run
     * counts it idle: that run then gets fewer helpers, never a wrong
     * answer, since the caller takes whatever no helper took. */
    wake = nparts - 1 < p->idle ? nparts - 1 : p->idle;
    for (unsigned i = 0; i < wake; i++)
        pthread_cond_signal(&p->work);
    /* Take this run's own parts while any are left; a helper may hold the
     * rest, and then their completion is all there is to wait for. */
    while (t.next < t.nparts)
        par_do(p, &t, par_take(p, &t));
    while (t.done < t.nparts)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
