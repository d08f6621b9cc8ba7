/*
 * store_listen -- LISTEN/NOTIFY on a PostgreSQL store (store_listen.h).
 */
#include "store_listen.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "clock.h"
#include "log.h"
#include "notify.h"
#include "store_pg.h"

/* Reconnect backoff: from the first to the last, doubling. */
#define STORE_LISTEN_RETRY_MS 250
#define STORE_LISTEN_RETRY_MAX_MS 4000

/*
 * Lifetime: `busy` is set from submit until the connect job's done
 * callback; while it is set only the job touches `fresh` and `err`.
 * store_listen_free during a job sets `dying` and the done callback frees
 * the listener.
 */
struct store_listen {
    struct event_base *base;
    pool *pool;
    char *url;
    char label[512];
    PGconn *conn;          /* listening, or NULL */
    PGconn *fresh;         /* what the connect job made */
    struct event *rd;      /* conn's socket */
    struct event *retry;   /* the next connect */
    long backoff_ms;
    store_listen_state state;
    int busy, dying, failing;
    char err[512];
};

static void store_listen_destroy(store_listen *l)
{
    if (l->rd)
        event_free(l->rd);
    if (l->retry)
        event_free(l->retry);
    PQfinish(l->conn);
    PQfinish(l->fresh);
    free(l->url);
    free(l);
}

/* On a worker: connect and LISTEN, blocking. */
static void store_listen_work(void *arg, unsigned worker)
{
    store_listen *l = arg;
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {l->url, "5", "ragd-listen", NULL};
    PGresult *r;

    (void)worker;
    l->err[0] = '\0';
    l->fresh = PQconnectdbParams(keys, vals, 1);
    if (l->fresh)
        PQsetNoticeProcessor(l->fresh, store_pg_quiet, NULL);
    if (!l->fresh || PQstatus(l->fresh) != CONNECTION_OK) {
        snprintf(l->err, sizeof l->err, "%s", l->fresh ? PQerrorMessage(l->fresh) : "out of memory");
        goto fail;
    }
    r = PQexec(l->fresh, "LISTEN " STORE_PG_CHANNEL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(l->err, sizeof l->err, "%s", PQerrorMessage(l->fresh));
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    if (PQsetnonblocking(l->fresh, 1) == 0)
        return;
    snprintf(l->err, sizeof l->err, "%s", PQerrorMessage(l->fresh));
fail:
    PQfinish(l->fresh);
    l->fresh = NULL;
    store_pg_oneline(l->err);
}

static void store_listen_start(store_listen *l);

static void store_listen_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    store_listen_start(arg);
}

/* Try again after the backoff, which doubles up to its maximum. */
static void store_listen_later(store_listen *l)
{
    struct timeval tv = clock_timeval(l->backoff_ms);

    evtimer_add(l->retry, &tv);
    l->backoff_ms = l->backoff_ms * 2 > STORE_LISTEN_RETRY_MAX_MS ? STORE_LISTEN_RETRY_MAX_MS
                                                                   : l->backoff_ms * 2;
}

/* The connection is gone: say so once and reconnect. */
static void store_listen_lost(store_listen *l, const char *why)
{
    char msg[512];

    snprintf(msg, sizeof msg, "%s", why);
    store_pg_oneline(msg);
    log_msg(LOG_WARN, "store feed: lost %s (%s); serving what is loaded, reconnecting",
            l->label, msg);
    event_free(l->rd);
    l->rd = NULL;
    PQfinish(l->conn);
    l->conn = NULL;
    l->state = STORE_LISTEN_LOST;
    l->failing = 1;
    store_listen_later(l);
}

/* The socket is readable: take every notification in, publish once. */
static void store_listen_read(evutil_socket_t fd, short what, void *arg)
{
    store_listen *l = arg;
    PGnotify *n;
    int told = 0;

    (void)fd;
    (void)what;
    if (!PQconsumeInput(l->conn) || PQstatus(l->conn) != CONNECTION_OK) {
        store_listen_lost(l, PQerrorMessage(l->conn));
        return;
    }
    while ((n = PQnotifies(l->conn))) {
        told = 1;
        PQfreemem(n);
    }
    if (told)
        notify_publish(l->url);
}

static void store_listen_done(void *arg)
{
    store_listen *l = arg;

    assert(l->busy);
    l->busy = 0;
    if (l->dying) {
        store_listen_destroy(l);
        return;
    }
    if (!l->fresh) {
        if (!l->failing)
            log_msg(LOG_WARN, "store feed: cannot listen to %s: %s", l->label, l->err);
        l->failing = 1;
        store_listen_later(l);
        return;
    }
    l->conn = l->fresh;
    l->fresh = NULL;
    if (!(l->rd = event_new(l->base, PQsocket(l->conn), EV_READ | EV_PERSIST, store_listen_read,
                            l)) ||
        event_add(l->rd, NULL) != 0) {
        store_listen_lost(l, "out of memory");
        return;
    }
    if (l->failing)
        log_msg(LOG_INFO, "store feed: listening to %s again", l->label);
    l->failing = 0;
    l->backoff_ms = STORE_LISTEN_RETRY_MS;
    l->state = STORE_LISTEN_LIVE;
    /* Whatever committed while no one listened: readers catch up now. */
    notify_publish(l->url);
}

static void store_listen_start(store_listen *l)
{
    if (l->busy || l->conn)
        return;
    l->busy = 1;
    if (pool_submit_background(l->pool, store_listen_work, store_listen_done, l) != 0) {
        l->busy = 0;
        store_listen_later(l);
    }
}

store_listen *store_listen_new(struct event_base *base, pool *p, const char *url)
{
    store_listen *l = calloc(1, sizeof *l);

    if (!l || !(l->url = strdup(url)) || !(l->retry = evtimer_new(base, store_listen_retry_cb, l))) {
        if (l)
            store_listen_destroy(l);
        return NULL;
    }
    l->base = base;
    l->pool = p;
    l->backoff_ms = STORE_LISTEN_RETRY_MS;
    store_pg_label(url, l->label, sizeof l->label);
    store_listen_start(l);
    return l;
}

void store_listen_free(store_listen **lp)
{
    store_listen *l = *lp;

    if (!l)
        return;
    *lp = NULL;
    event_del(l->retry);
    if (l->rd)
        event_del(l->rd);
    if (l->busy)
        l->dying = 1;
    else
        store_listen_destroy(l);
}

store_listen_state store_listen_get_state(const store_listen *l)
{
    return l->state;
}
