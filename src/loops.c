/*
 * loops -- extra event loops, one thread each (see loops.h).
 *
 * Lifetime of a loop: its thread sets everything up, says it is ready (or
 * why it failed), runs its base until its front has drained, then tears
 * down in the order serve.c uses for the main loop -- the front (its
 * searches end), the HTTP client (transfers call back, cancelled), the
 * pool port (worker jobs come home) -- and checks that nothing is left on
 * its base.  Only then does it leave the set's count of live loops.
 *
 * Every cross-thread request goes through one event per loop, the poke,
 * activated under the set's mutex; a loop clears its poke (under the same
 * mutex) before freeing it, so no one can activate a freed event.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "config.h"
#include "log.h"
#include "loops.h"
#include "metrics.h"
#include "pin.h"
#include "pool.h"

/* Every loop counts into a metrics shard of its own. */
_Static_assert(CONFIG_MAX_LOOPS <= METRICS_SHARDS, "a loop index past the metrics shards");

typedef struct loop {
    loops *set;
    unsigned index;
    pthread_t thread;
    struct event_base *base;
    httpc *http;
    pool_port *port;
    server srv;
    int serving;          /* srv was started */
    struct event *poke;   /* guarded by set->mu; NULL once the loop is ending */
    int stop;             /* asked to shut down (guarded by set->mu) */
} loop;

struct loops {
    server *main;
    const config *cfg;
    instance_set *sources;
    host_services *svc;
    unsigned n;            /* extra loops */
    unsigned nthreads;     /* threads created, to join */
    loop *v;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    unsigned ready, ended; /* loops that started serving; that finished */
    char err[512];         /* the first failure to start */
    int park;              /* loops must hold in their poke callback */
    unsigned parked;
    int grace_ms;
    size_t leftover;       /* events left on ended loops' bases */
};

/* ------------------------------------------------------------ leftover -- */

static int loops_leftover_cb(const struct event_base *base, const struct event *ev, void *arg)
{
    size_t *n = arg;
    short what = event_get_events(ev);
    void *cb = (void *)event_get_callback(ev);
    Dl_info di;

    (void)base;
    /* Not leaks, and only event_struct.h tells them apart: libevent's own
     * events, kept for the loop's life (the signal pipe, the cross-thread
     * wakeup), and the finalizers of freed bufferevents (connections freed
     * with the server), which event_base_free runs. */
    if (ev->ev_evcallback.evcb_flags & (EVLIST_INTERNAL | EVLIST_FINALIZING))
        return 0;
    (*n)++;
    /* The callback as file+offset, which addr2line resolves to a function. */
    if (!dladdr(cb, &di) || !di.dli_fname)
        di.dli_fname = "?", di.dli_fbase = NULL;
    log_msg(LOG_ERROR,
            "shutdown: an event is still on the loop: callback %p (%s+%#tx), fd %d, "
            "events%s%s%s%s%s",
            cb, di.dli_fname, (char *)cb - (char *)di.dli_fbase, (int)event_get_fd(ev),
            what & EV_TIMEOUT ? " timeout" : "", what & EV_READ ? " read" : "",
            what & EV_WRITE ? " write" : "", what & EV_SIGNAL ? " signal" : "",
            what & EV_PERSIST ? " persist" : "");
    return 0;
}

size_t loops_leftover(struct event_base *base)
{
    size_t n = 0;

    event_base_foreach_event(base, loops_leftover_cb, &n);
    return n;
}

struct event_base *loops_base_new(void)
{
    struct event_config *ec = event_config_new();
    struct event_base *base;

    if (!ec)
        return NULL;
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    base = event_base_new_with_config(ec);
    event_config_free(ec);
    return base;
}

/* ---------------------------------------------------------- one loop -- */

/* A request from another thread: hold while the set is parked, then shut
 * down if asked to. */
static void loops_poke_cb(evutil_socket_t fd, short what, void *arg)
{
    loop *lp = arg;
    loops *L = lp->set;
    int stop, grace_ms;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&L->mu);
    if (L->park) {
        L->parked++;
        pthread_cond_broadcast(&L->cond);
        while (L->park)
            pthread_cond_wait(&L->cond, &L->mu);
        L->parked--;
    }
    stop = lp->stop;
    lp->stop = 0;
    grace_ms = L->grace_ms;
    pthread_mutex_unlock(&L->mu);
    if (stop)
        server_shutdown(&lp->srv, grace_ms);
}

/* Activate lp's poke; with L->mu held. */
static void loops_poke(loop *lp)
{
    if (lp->poke)
        event_active(lp->poke, EV_READ, 0);
}

static int loops_setup(loop *lp, char *err, size_t errlen)
{
    loops *L = lp->set;

    if (!(lp->base = loops_base_new())) {
        snprintf(err, errlen, "loop %u: cannot create the event loop", lp->index);
        return -1;
    }
    if (!(lp->http = httpc_new(lp->base, err, errlen)))
        return -1;
    httpc_set_max_response(lp->http, (size_t)L->cfg->max_upstream_bytes);
    if (!(lp->port = pool_port_new(L->svc->pool, lp->base)) ||
        !(lp->poke = event_new(lp->base, -1, 0, loops_poke_cb, lp))) {
        snprintf(err, errlen, "loop %u: out of memory", lp->index);
        return -1;
    }
    pool_port_bind(lp->port);
    host_bind_loop(lp->base, lp->http);
    metrics_bind_shard(lp->index);
    if (server_start(&lp->srv, lp->base, lp->http, L->main, lp->index, L->n + 1, L->cfg,
                     L->sources, L->svc, err, errlen) != 0) {
        server_release(&lp->srv);
        return -1;
    }
    lp->serving = 1;
    return 0;
}

/* In the order of serve.c's teardown: searches end, transfers call back,
 * worker jobs come home; then nothing may be left on the base. */
static void loops_teardown(loop *lp)
{
    loops *L = lp->set;
    struct event *poke;
    size_t left = 0;

    pthread_mutex_lock(&L->mu);
    poke = lp->poke;
    lp->poke = NULL;
    pthread_mutex_unlock(&L->mu);
    if (lp->serving)
        server_release(&lp->srv);
    httpc_free(&lp->http);
    pool_port_free(&lp->port);
    if (poke)
        event_free(poke);
    host_bind_loop(NULL, NULL);
    if (lp->base) {
        left = loops_leftover(lp->base);
        event_base_free(lp->base);
        lp->base = NULL;
    }
    pthread_mutex_lock(&L->mu);
    L->leftover += left;
    L->ended++;
    pthread_cond_broadcast(&L->cond);
    pthread_mutex_unlock(&L->mu);
}

static void *loops_thread(void *arg)
{
    loop *lp = arg;
    loops *L = lp->set;
    char err[sizeof L->err], name[16];
    int rc;

    /* What top -H and bench/run show for the thread. */
    snprintf(name, sizeof name, "ragd-loop%u", lp->index);
    pthread_setname_np(pthread_self(), name);
    pin_self(lp->index);
    rc = loops_setup(lp, err, sizeof err);

    pthread_mutex_lock(&L->mu);
    if (rc == 0)
        L->ready++;
    else if (!*L->err)
        snprintf(L->err, sizeof L->err, "%s", err);
    pthread_cond_broadcast(&L->cond);
    pthread_mutex_unlock(&L->mu);
    if (rc == 0)
        event_base_dispatch(lp->base);
    loops_teardown(lp);
    return NULL;
}

/* ----------------------------------------------------------------- set -- */

/* Wait until every created thread has either started serving or ended. */
static void loops_wait_started(loops *L)
{
    pthread_mutex_lock(&L->mu);
    while (L->ready + L->ended < L->nthreads)
        pthread_cond_wait(&L->cond, &L->mu);
    pthread_mutex_unlock(&L->mu);
}

loops *loops_start(server *main, unsigned nloops, const config *cfg, instance_set *sources,
                   host_services *svc, char *err, size_t errlen)
{
    loops *L = calloc(1, sizeof *L);

    if (!L || !(L->v = calloc(nloops, sizeof *L->v))) {
        snprintf(err, errlen, "out of memory");
        free(L);
        return NULL;
    }
    *L = (loops){.main = main, .cfg = cfg, .sources = sources, .svc = svc, .n = nloops - 1,
                 .v = L->v};
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cond, NULL);
    for (unsigned i = 0; i < L->n; i++) {
        loop *lp = &L->v[i];
        lp->set = L;
        lp->index = i + 1;
        if (pthread_create(&lp->thread, NULL, loops_thread, lp) != 0) {
            snprintf(L->err, sizeof L->err, "cannot start the thread of loop %u", lp->index);
            break;
        }
        L->nthreads++;
    }
    loops_wait_started(L);
    if (*L->err) {
        snprintf(err, errlen, "%s", L->err);
        loops_shutdown(L, 0);
        loops_join(&L);
        return NULL;
    }
    return L;
}

void loops_shutdown(loops *L, int grace_ms)
{
    pthread_mutex_lock(&L->mu);
    L->grace_ms = grace_ms;
    for (unsigned i = 0; i < L->nthreads; i++) {
        L->v[i].stop = 1;
        loops_poke(&L->v[i]);
    }
    pthread_mutex_unlock(&L->mu);
}

void loops_park(loops *L)
{
    pthread_mutex_lock(&L->mu);
    L->park = 1;
    for (unsigned i = 0; i < L->nthreads; i++)
        loops_poke(&L->v[i]);
    /* A loop that has ended holds nothing and will not come. */
    while (L->parked < L->nthreads - L->ended)
        pthread_cond_wait(&L->cond, &L->mu);
    pthread_mutex_unlock(&L->mu);
}

void loops_resume(loops *L)
{
    pthread_mutex_lock(&L->mu);
    L->park = 0;
    pthread_cond_broadcast(&L->cond);
    pthread_mutex_unlock(&L->mu);
}

int loops_reload(loops *L, const config *cfg, char *err, size_t errlen)
{
    for (unsigned i = 0; i < L->nthreads; i++) {
        loop *lp = &L->v[i];
        if (!lp->serving)
            continue;
        if (server_reload(&lp->srv, cfg, err, errlen) != 0)
            return -1;
        httpc_set_max_response(lp->http, (size_t)cfg->max_upstream_bytes);
    }
    return 0;
}

size_t loops_join(loops **Lp)
{
    loops *L = *Lp;
    size_t left;

    if (!L)
        return 0;
    for (unsigned i = 0; i < L->nthreads; i++)
        pthread_join(L->v[i].thread, NULL);
    left = L->leftover;
    pthread_cond_destroy(&L->cond);
    pthread_mutex_destroy(&L->mu);
    free(L->v);
    free(L);
    *Lp = NULL;
    return left;
}
