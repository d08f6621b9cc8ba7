/*
 * serve -- the `ragd serve` command: build the loop and its services, start
 * the sources and the server, run until a signal, then tear down in the
 * order that lets every late callback land safely, and check that nothing
 * was left on the loop.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "config.h"
#include "host.h"
#include "instance.h"
#include "log.h"
#include "obs.h"
#include "registry.h"
#include "serve.h"
#include "server.h"

#define SHUTDOWN_GRACE_MS 5000

typedef struct serve_state {
    struct event_base *base;
    host_services svc;
    config *cfg;                /* the running config (owned) */
    instance_set sources;       /* the running instances (owned) */
    server srv;
    struct event *sigint, *sigterm, *sighup;
    struct event *reap;         /* destroys instances a reload retired, once free */
    int argc;                   /* what the config is read from again on SIGHUP */
    char **argv;
} serve_state;

static void serve_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    serve_state *st = arg;

    (void)fd;
    (void)what;
    if (instance_reap(0) == 0)
        event_del(st->reap);
}

/* Commit a config whose instances are built: swap them in and hand the
 * server the config.  Returns 0 (the old ones are released), or -1 with a
 * message and everything as it was. */
static int serve_commit(serve_state *st, config *next, instance_set *set, char *err,
                        size_t errlen)
{
    static const struct timeval tick = {0, 100000};
    instance_set old = st->sources;

    st->sources = *set;
    if (server_reload(&st->srv, next, err, errlen) != 0) {
        *set = st->sources;
        st->sources = old;
        return -1;
    }
    *set = old;
    instance_set_release(set);
    if (instance_reap(0) > 0)
        event_add(st->reap, &tick);
    log_set_level(next->log_level);
    httpc_set_max_response(st->svc.http, (size_t)next->max_upstream_bytes);
    config_release(st->cfg);
    free(st->cfg);
    st->cfg = next;
    return 0;
}

/* SIGHUP: read the config again (the same flags and file) and apply what
 * can change while serving.  A config that fails to load changes nothing. */
static void serve_reload(serve_state *st)
{
    config *next = calloc(1, sizeof *next);
    instance_set set = {0};
    char err[1024] = "out of memory", changed[512] = "", undo[512];
    int kept = 0;

    if (!next || config_from_args(next, st->argc, st->argv, err, sizeof err) != 0)
        goto fail;
    config_keep_fixed(next, st->cfg, changed, sizeof changed);
    kept = 1;
    if (instance_set_reload(&set, &st->sources, &st->svc, next, err, sizeof err) != 0 ||
        serve_commit(st, next, &set, err, sizeof err) != 0)
        goto fail;
    if (*changed)
        log_msg(LOG_WARN, "reload: %s changed, which needs a restart: still running with the "
                "old value", changed);
    log_msg(LOG_INFO, "reload: config loaded, %zu sources", st->sources.n);
    return;
fail:
    log_msg(LOG_ERROR, "reload: %s; still running with the previous config", err);
    instance_set_release(&set);
    if (kept) /* give the running config its strings back */
        config_keep_fixed(st->cfg, next, undo, sizeof undo);
    if (next)
        config_release(next);
    free(next);
}

static void serve_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    serve_state *st = arg;

    (void)what;
    if (sig == SIGHUP) {
        log_msg(LOG_INFO, "signal %d: reloading the config", (int)sig);
        serve_reload(st);
        return;
    }
    log_msg(LOG_INFO, "signal %d: shutting down", (int)sig);
    server_shutdown(&st->srv, SHUTDOWN_GRACE_MS);
}

static int serve_setup(serve_state *st, config *cfg, char *err, size_t errlen)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned workers = cfg->workers ? cfg->workers : (unsigned)(ncpu > 0 ? ncpu : 2);

    struct event_config *ec = event_config_new();

    /* Without it libevent times events with CLOCK_MONOTONIC_COARSE, whose
     * 4 ms ticks let a source's deadline fire before it is due. */
    if (ec)
        event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    st->base = ec ? event_base_new_with_config(ec) : NULL;
    if (ec)
        event_config_free(ec);
    if (!st->base) {
        snprintf(err, errlen, "cannot create the event loop");
        return -1;
    }
    /* Before the sources start: they count their first loads and breakers. */
    if (obs_init() != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st->svc.base = st->base;
    if ((st->svc.http = httpc_new(st->base, err, errlen)))
        httpc_set_max_response(st->svc.http, (size_t)cfg->max_upstream_bytes);
    if (!st->svc.http ||
        !(st->svc.pool = pool_new(st->base, workers, err, errlen)) ||
        host_embedder_from_store(&st->svc, cfg->db, cfg->embed_url, err, errlen) != 0 ||
        instance_set_load(&st->sources, &st->svc, cfg, err, errlen) != 0 ||
        server_start(&st->srv, st->base, cfg, &st->sources, &st->svc, err, errlen) != 0)
        return -1;
    st->sigint = evsignal_new(st->base, SIGINT, serve_signal_cb, st);
    st->sigterm = evsignal_new(st->base, SIGTERM, serve_signal_cb, st);
    st->sighup = evsignal_new(st->base, SIGHUP, serve_signal_cb, st);
    st->reap = event_new(st->base, -1, EV_PERSIST, serve_reap_cb, st);
    if (!st->sigint || !st->sigterm || !st->sighup || !st->reap || evsignal_add(st->sigint, NULL) ||
        evsignal_add(st->sigterm, NULL) || evsignal_add(st->sighup, NULL)) {
        snprintf(err, errlen, "cannot install signal handlers");
        return -1;
    }
    return 0;
}

static int serve_leftover_cb(const struct event_base *base, const struct event *ev, void *arg)
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

/* Once everything is torn down the loop must be empty: an event still
 * added or active belongs to a module that forgot to free it, and its
 * callback would run on freed state were the loop run again.  Logs each
 * one and returns how many there were. */
static size_t serve_leftover_events(struct event_base *base)
{
    size_t n = 0;

    event_base_foreach_event(base, serve_leftover_cb, &n);
    return n;
}

/* Tear down so that every callback still owed is delivered before what it
 * touches is freed: searches are answered, transfers and jobs complete
 * (their sources' callbacks free orphaned slots), deferred events run, and
 * only then are the sources destroyed.  Returns how many events were still
 * on the loop at the end (each logged): 0 when the shutdown was clean. */
static size_t serve_teardown(serve_state *st)
{
    size_t leftover = 0;

    server_release(&st->srv);
    if (st->svc.http)
        httpc_free(&st->svc.http);
    for (int i = 0; i < 100 && st->base && instance_set_inflight(&st->sources); i++) {
        event_base_loop(st->base, EVLOOP_NONBLOCK);
        if (st->svc.pool && pool_pending(st->svc.pool))
            usleep(1000);
    }
    /* An instance a worker job still holds is retired, not destroyed: the
     * job's callback lands while the pool drains, and only then is the
     * instance reaped.  A plugin whose search never called back keeps its
     * instance and its code mapped. */
    instance_set_release(&st->sources);
    if (st->svc.pool)
        pool_free(&st->svc.pool);
    if (instance_reap(1) == 0)
        registry_unload_all();
    host_services_release(&st->svc);
    if (st->sigint)
        event_free(st->sigint);
    if (st->sigterm)
        event_free(st->sigterm);
    if (st->sighup)
        event_free(st->sighup);
    if (st->reap)
        event_free(st->reap);
    if (st->base) {
        leftover = serve_leftover_events(st->base);
        event_base_free(st->base);
    }
    return leftover;
}

int serve_main(int argc, char **argv)
{
    serve_state st;
    char err[1024];
    int rc;

    memset(&st, 0, sizeof st);
    st.argc = argc;
    st.argv = argv;
    if (!(st.cfg = calloc(1, sizeof *st.cfg))) {
        fprintf(stderr, "ragd serve: out of memory\n");
        return 2;
    }
    rc = config_from_args(st.cfg, argc, argv, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "ragd serve: %s\n", err);
        config_release(st.cfg);
        free(st.cfg);
        return rc < 0 ? 2 : 0;
    }
    log_set_level(st.cfg->log_level);
    signal(SIGPIPE, SIG_IGN);
    rc = 0;
    if (serve_setup(&st, st.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "ragd serve: %s\n", err);
        rc = 2;
    } else {
        printf("ragd %s listening on %s\n", PACKAGE_VERSION, st.srv.address);
        fflush(stdout);
        event_base_dispatch(st.base);
    }
    if (serve_teardown(&st) != 0 && rc == 0)
        rc = 1; /* a clean run with an unclean shutdown still fails */
    config_release(st.cfg);
    free(st.cfg);
    return rc;
}
