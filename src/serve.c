/*
 * serve -- the `ragd serve` command: build the main loop and its services,
 * start the sources, the server and the other loops (loops.c), run until a
 * signal, then tear down in the order that lets every late callback land
 * safely, and check that nothing was left on any loop.
 */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "cores.h"
#include "host.h"
#include "instance.h"
#include "log.h"
#include "loops.h"
#include "metrics.h"
#include "obs.h"
#include "pin.h"
#include "registry.h"
#include "serve.h"
#include "server.h"

#define SHUTDOWN_GRACE_MS 5000

typedef struct serve_state {
    struct event_base *base;
    host_services svc;
    config *cfg;                /* the running config (owned) */
    instance_set sources;       /* the running instances (owned) */
    server srv;                 /* the main loop's front */
    unsigned nloops;            /* event loops serving, this one included */
    loops *loops;               /* the others; NULL with one */
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

/* Whether set's sources may serve on nloops loops; else a message naming
 * the first that may not. */
static int serve_loops_ok(const instance_set *set, unsigned nloops, char *err, size_t errlen)
{
    const instance *in = nloops > 1 ? instance_set_single_loop(set) : NULL;

    if (!in)
        return 0;
    snprintf(err, errlen,
             "source %s: its source type \"%s\" (source ABI version %d) does not declare "
             "RAGD_SOURCE_LOOPS, so it cannot serve on %u event loops; rebuild it against "
             "source ABI %d and declare the flag, or use --loops 1",
             in->name, in->type->name, in->type->abi_version, nloops, RAGD_SOURCE_ABI_VERSION);
    return -1;
}

/* How many loops to serve on: cfg's number, or one per core for auto.
 * With a source that may serve on one loop only, an explicit number above
 * 1 is an error, and auto (or the default) serves on one, saying why. */
static int serve_nloops(serve_state *st, char *err, size_t errlen)
{
    unsigned n = st->cfg->loops ? st->cfg->loops : cores_usable();

    if (n > CONFIG_MAX_LOOPS)
        n = CONFIG_MAX_LOOPS;
    if (serve_loops_ok(&st->sources, n, err, errlen) != 0) {
        if (st->cfg->loops_given && st->cfg->loops)
            return -1;
        log_msg(LOG_WARN, "%s; serving on one event loop", err);
        n = 1;
    }
    st->nloops = n;
    return 0;
}

/* Commit a config whose instances are built: swap them in and hand the
 * server the config.  Returns 0 (the old ones are released), or -1 with a
 * message and everything as it was. */
static int serve_commit(serve_state *st, config *next, instance_set *set, char *err,
                        size_t errlen)
{
    static const struct timeval tick = {0, 100000};
    instance_set old = st->sources;
    int rc;

    /* The other loops read the instance set and their settings: hold them
     * still while both change. */
    if (st->loops)
        loops_park(st->loops);
    st->sources = *set;
    if ((rc = server_reload(&st->srv, next, err, errlen)) != 0) {
        *set = st->sources;
        st->sources = old;
    } else {
        instance_set_commit(&st->sources);
        if (st->loops)
            rc = loops_reload(st->loops, next, err, errlen);
        assert(rc == 0); /* another front takes what the main one took */
    }
    if (st->loops)
        loops_resume(st->loops);
    if (rc != 0)
        return -1;
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
    if (st->srv.drain) {
        snprintf(err, sizeof err, "shutting down");
        goto fail;
    }
    if (instance_set_reload(&set, &st->sources, &st->svc, next, err, sizeof err) != 0 ||
        serve_loops_ok(&set, st->nloops, err, sizeof err) != 0 ||
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
    if (st->loops)
        loops_shutdown(st->loops, SHUTDOWN_GRACE_MS);
}

static int serve_setup(serve_state *st, config *cfg, char *err, size_t errlen)
{
    unsigned workers = cfg->workers ? cfg->workers : cores_usable();

    /* Before any loop, worker or split thread starts: they ask it. */
    if (pin_setup(cfg->pin_threads, err, errlen) != 0)
        return -1;
    if (!(st->base = loops_base_new())) {
        snprintf(err, errlen, "cannot create the event loop");
        return -1;
    }
    metrics_bind_shard(0); /* this thread is loop 0 */
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
        serve_nloops(st, err, errlen) != 0 ||
        server_start(&st->srv, st->base, st->svc.http, NULL, 0, st->nloops, cfg, &st->sources,
                     &st->svc, err, errlen) != 0)
        return -1;
    if (st->nloops > 1 &&
        !(st->loops = loops_start(&st->srv, st->nloops, cfg, &st->sources, &st->svc, err,
                                  errlen)))
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

/* Tear down so that every callback still owed is delivered before what it
 * touches is freed: searches are answered, transfers and jobs complete
 * (their sources' callbacks free orphaned slots), deferred events run, and
 * only then are the sources destroyed.  Returns how many events were still
 * on the loop at the end (each logged): 0 when the shutdown was clean. */
static size_t serve_teardown(serve_state *st)
{
    size_t leftover = 0;

    /* The other loops end first: their searches hold instances, and what
     * they tell the main loop (a job queued) must land on it. */
    if (st->loops) {
        loops_shutdown(st->loops, 0);
        leftover += loops_join(&st->loops);
    }
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
        leftover += loops_leftover(st->base);
        event_base_free(st->base);
    }
    return leftover;
}

int serve_main(int argc, char **argv)
{
    serve_state st;
    char err[1024];
    double quota;
    unsigned affinity;
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
        if (cores_quota_lowered(&quota, &affinity))
            log_msg(LOG_INFO, "cpu quota %g cpus: sizing for %u core%s (affinity allows %u)",
                    quota, cores_usable(), cores_usable() == 1 ? "" : "s", affinity);
        if (st.nloops > 1)
            log_msg(LOG_INFO, "serving on %u event loops", st.nloops);
        /* The main thread is loop 0; pinned last, so that no thread it
         * started took its one CPU with it. */
        if (pin_count())
            log_msg(LOG_INFO, "pinning loop i and worker i to the i-th of the %u CPUs ragd may "
                    "use (loop 0: CPU %d)", pin_count(), pin_self(0));
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
