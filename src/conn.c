/*
 * conn -- connection cap, accept pacing, request read deadlines, input caps
 * and close notification for evhttp's client connections.
 *
 * How a connection is seen: evhttp calls our bufferevent callback for each
 * accepted socket before it wraps it in an evhttp_connection.  We create
 * the bufferevent, hold a reference to it, and adopt the connection from an
 * event activated at once -- it runs later in the same loop iteration,
 * after evhttp has finished setting the connection up and before any of
 * its sockets is read.  The evhttp_connection is then the argument of the
 * bufferevent's callbacks.  From adoption on, the connection's one close
 * callback slot is ours; searches watch a connection through conn_watch.
 *
 * Connections are found again by socket, which is unique among open ones.
 *
 * At the connection cap, the connection idle longest (waiting for a request,
 * none of it read yet) is closed to make room, as a keep-alive connection
 * may be closed at any time; only when none is idle does accepting pause.
 */
#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "access.h"
#include "clock.h"
#include "conn.h"
#include "log.h"

#define CONN_ACCEPT_RETRY_MS 250

struct conn {
    conn_table *t;
    struct bufferevent *bev;
    struct evhttp_connection *evcon;   /* NULL until adopted */
    evutil_socket_t fd;
    int serving;
    struct event *timer;               /* the read deadline, or a close ragd decided */
    struct evbuffer_cb_entry *input_cb;
    struct evbuffer_cb_entry *output_cb;  /* counts the reply's bytes */
    access_rec acc;                    /* the request being served */
    char why[128];                     /* set when ragd closes the connection */
    conn_gone_cb gone;
    void *gone_arg;
    int idle;                          /* on t's idle list */
    conn *idle_prev, *idle_next;
};

struct conn_table {
    struct event_base *base;
    struct evhttp *http;
    struct evconnlistener *listener;   /* NULL once shutting down */
    conn_limits lim;
    struct timeval idle;               /* lim.idle_timeout_ms */
    atomic_size_t count;               /* read by /metrics on any loop */
    conn **by_fd;
    size_t nfd;
    struct event *retry;               /* resumes accepting after running out of descriptors */
    int accepting;
    conn *idle_head, *idle_tail;       /* idle connections, longest idle first */
    log_limit accept_log, cap_log, close_log, evict_log;
    conn_table *next;                  /* conn_tables */
};

/* Connections open in every table of the process (any loop's). */
static atomic_size_t conn_all;

size_t conn_count_all(void)
{
    return atomic_load(&conn_all);
}

/* Every table of this loop thread, so the listener's error callback
 * (which gets evhttp's argument, not ours) can find its own. */
static _Thread_local conn_table *conn_tables;

size_t conn_default_max(void)
{
    struct rlimit rl;
    size_t nofile, reserve;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 4096;
    nofile = (size_t)rl.rlim_cur;
    /* Upstream connections, SQLite files (three per connection in WAL
     * mode, one connection per worker and source), logs, plugins. */
    reserve = 64 + nofile / 4;
    return nofile > reserve + 8 ? nofile - reserve : 8;
}

/* ------------------------------------------------------------ idle -- */

static void conn_set_idle(conn *c, int idle)
{
    conn_table *t = c->t;

    if (idle == c->idle)
        return;
    if (idle) {
        c->idle_prev = t->idle_tail;
        c->idle_next = NULL;
        *(t->idle_tail ? &t->idle_tail->idle_next : &t->idle_head) = c;
        t->idle_tail = c;
    } else {
        *(c->idle_prev ? &c->idle_prev->idle_next : &t->idle_head) = c->idle_next;
        *(c->idle_next ? &c->idle_next->idle_prev : &t->idle_tail) = c->idle_prev;
        c->idle_prev = c->idle_next = NULL;
    }
    c->idle = idle;
}

/* ------------------------------------------------------- accepting -- */

/* Accept while under the cap.  At the cap, evict (when allowed: never from
 * inside evhttp's accept) the longest-idle connection, or else pause. */
static void conn_pace(conn_table *t, int may_evict)
{
    int want;

    if (may_evict && t->count >= t->lim.max_connections && t->idle_head) {
        log_limited(&t->evict_log, LOG_INFO, "%zu connections open, the limit: closing the "
                    "longest idle one to make room", t->count);
        evhttp_connection_free(t->idle_head->evcon); /* conn_free paces again */
        return;
    }
    want = t->listener && t->count < t->lim.max_connections && !evtimer_pending(t->retry, NULL);

    if (want == t->accepting || !t->listener)
        return;
    if (want)
        evconnlistener_enable(t->listener);
    else
        evconnlistener_disable(t->listener);
    t->accepting = want;
    if (!want && t->count >= t->lim.max_connections)
        log_limited(&t->cap_log, LOG_WARN, "%zu connections open, the limit: not accepting "
                    "more until one closes", t->count);
}

static void conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_pace(arg, 1);
}

/* accept() failed.  Out of descriptors, accepting again at once would fail
 * again at once, forever: pause, and try again on a timer. */
static void conn_accept_error_cb(struct evconnlistener *lev, void *arg)
{
    static const struct timeval retry = {0, CONN_ACCEPT_RETRY_MS * 1000};
    int err = EVUTIL_SOCKET_ERROR();
    conn_table *t = conn_tables;

    (void)arg;
    while (t && t->listener != lev)
        t = t->next;
    if (!t)
        return;
    log_limited(&t->accept_log, LOG_WARN, "accepting a connection failed: %s (%zu open)",
                evutil_socket_error_to_string(err), t->count);
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        evtimer_add(t->retry, &retry);
        conn_pace(t, 0);
    }
}

/* ------------------------------------------------------ one conn -- */

static void conn_free(conn *c)
{
    conn_table *t = c->t;

    conn_set_idle(c, 0);
    if (c->input_cb)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
    if (c->output_cb)
        evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->output_cb);
    access_end(&c->acc, 499);
    if (c->timer)
        event_free(c->timer);
    if (c->fd >= 0 && (size_t)c->fd < t->nfd && t->by_fd[c->fd] == c)
        t->by_fd[c->fd] = NULL;
    assert(t->count > 0);
    t->count--;
    atomic_fetch_sub(&conn_all, 1);
    free(c);
    conn_pace(t, 1);
}

/* libevent is closing the connection (its close callback). */
static void conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
    conn *c = arg;
    conn_gone_cb gone = c->gone;
    const char *why = c->why[0] ? c->why
                      : evbuffer_get_length(bufferevent_get_output(c->bev))
                      ? "the client stopped reading its reply" : "the client closed the connection";

    evhttp_connection_set_closecb(evcon, NULL, NULL);
    c->gone = NULL;
    if (gone)
        gone(c->gone_arg, why);
    access_end(&c->acc, 499); /* a reply that never ended: the client left */
    conn_free(c);
}

/* The read deadline passed, or ragd decided to close (c->why is set). */
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    bufferevent_event_cb eventcb;
    void *evarg;

    (void)fd;
    (void)what;
    if (!c->serving) {
        snprintf(c->why, sizeof c->why, "no whole request within %d ms",
                 c->t->lim.read_timeout_ms);
        log_limited(&c->t->close_log, LOG_INFO, "closing a connection: %s", c->why);
        evhttp_connection_free(c->evcon);
        return;
    }
    /* A request is in ragd's hands: close the way a client's EOF does, so
     * libevent disowns the request and the watcher learns of it. */
    log_limited(&c->t->close_log, LOG_INFO, "closing a connection: %s", c->why);
    bufferevent_getcb(c->bev, NULL, NULL, &eventcb, &evarg);
    if (eventcb)
        eventcb(c->bev, BEV_EVENT_READING | BEV_EVENT_EOF, evarg);
}

static void conn_arm_deadline(conn *c)
{
    struct timeval tv = clock_timeval(c->t->lim.read_timeout_ms);

    if (!evtimer_pending(c->timer, NULL))
        evtimer_add(c->timer, &tv);
}

/* Runs inside libevent's reads, so it never closes anything itself: it
 * arms the deadline, or activates the timer to close on the next turn. */
/* Choose the body cap of the request whose line starts the input, before
 * evhttp reads it.  libevent 2.1 has one body cap per server, so a route
 * with large bodies would otherwise let every route buffer that much; its
 * cap per connection is checked against Content-Length once the headers
 * are in, before a byte of the body is kept.  evhttp takes a request line
 * only when the whole line is in, and this callback runs as bytes are
 * added, before evhttp's read callback: a new request's line is always at
 * the start of the input here.  A request pipelined behind another in the
 * same read keeps the cap of the one before; that is at most max_body once
 * the first is served (conn_served_cb). */
static void conn_route_body(conn *c, struct evbuffer *in)
{
    char line[64];
    ev_ssize_t got;

    if (!c->evcon || !c->t->lim.routes[0].prefix)
        return;
    got = evbuffer_copyout(in, line, sizeof line);
    for (size_t i = 0; i < CONN_MAX_ROUTES && c->t->lim.routes[i].prefix; i++) {
        const conn_route *r = &c->t->lim.routes[i];
        size_t n = strlen(r->prefix);
        if (got >= 0 && n <= (size_t)got && !memcmp(line, r->prefix, n)) {
            evhttp_connection_set_max_body_size(c->evcon, (ev_ssize_t)r->max_body);
            return;
        }
    }
}

static void conn_input_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    conn *c = arg;

    if (info->n_added == 0 || c->why[0])
        return;
    if (!c->serving) {
        conn_set_idle(c, 0);
        conn_arm_deadline(c);
        conn_route_body(c, in);
    } else if (evbuffer_get_length(in) > c->t->lim.max_pending_input) {
        snprintf(c->why, sizeof c->why, "the client sent more than %zu bytes while its request "
                 "was being served", c->t->lim.max_pending_input);
        event_active(c->timer, EV_TIMEOUT, 0);
    }
}

/* Everything queued for the client while a request is served is its
 * reply: the access log's bytes. */
static void conn_output_cb(struct evbuffer *out, const struct evbuffer_cb_info *info, void *arg)
{
    conn *c = arg;

    (void)out;
    c->acc.bytes += info->n_added;
}

static int conn_index(conn_table *t, conn *c)
{
    if ((size_t)c->fd >= t->nfd) {
        size_t n = t->nfd ? t->nfd : 256;
        conn **v;
        while (n <= (size_t)c->fd)
            n *= 2;
        if (!(v = realloc(t->by_fd, n * sizeof *v)))
            return -1;
        memset(v + t->nfd, 0, (n - t->nfd) * sizeof *v);
        t->by_fd = v;
        t->nfd = n;
    }
    t->by_fd[c->fd] = c;
    return 0;
}

/* Later in the iteration that accepted the connection: evhttp has wrapped
 * it by now (or given up on it, and freed our bufferevent's callbacks). */
static void conn_adopt_cb(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    void *evcon = NULL;

    (void)fd;
    (void)what;
    bufferevent_getcb(c->bev, NULL, NULL, NULL, &evcon);
    c->fd = bufferevent_getfd(c->bev);
    if (!evcon || c->fd < 0 || !(c->timer = evtimer_new(c->t->base, conn_timer_cb, c)) ||
        conn_index(c->t, c) != 0 ||
        !(c->input_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), conn_input_cb, c)) ||
        !(c->output_cb = evbuffer_add_cb(bufferevent_get_output(c->bev), conn_output_cb, c))) {
        /* Untracked from here on: only on ENOMEM, or a connection evhttp
         * already dropped. */
        c->fd = -1;
        if (c->input_cb)
            evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
        c->input_cb = NULL;
        if (c->output_cb)
            evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->output_cb);
        c->output_cb = NULL;
        bufferevent_decref(c->bev);
        conn_free(c);
        return;
    }
    c->evcon = evcon;
    evhttp_connection_set_closecb(c->evcon, conn_closed_cb, c);
    bufferevent_decref(c->bev);
    conn_pace(c->t, 1); /* before c can be the one evicted */
    conn_route_body(c, bufferevent_get_input(c->bev));
    if (evbuffer_get_length(bufferevent_get_input(c->bev)))
        conn_arm_deadline(c);
    else
        conn_set_idle(c, 1);
}

/* evhttp's bufferevent callback: one new connection. */
static struct bufferevent *conn_bev_cb(struct event_base *base, void *arg)
{
    conn_table *t = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    conn *c;

    if (!bev)
        return NULL;
    if (!(c = calloc(1, sizeof *c)))
        return bev;
    c->t = t;
    c->bev = bev;
    c->fd = -1;
    bufferevent_incref(bev);
    if (event_base_once(base, -1, EV_TIMEOUT, conn_adopt_cb, c, NULL) != 0) {
        bufferevent_decref(bev);
        free(c);
        return bev;
    }
    t->count++;
    atomic_fetch_add(&conn_all, 1);
    conn_pace(t, 0);
    return bev;
}

/* ---------------------------------------------------------- serving -- */

static void conn_served_cb(struct evhttp_request *req, void *arg)
{
    conn *c = arg;

    access_end(&c->acc, evhttp_request_get_response_code(req));
    c->serving = 0;
    c->gone = NULL;
    if (c->t->lim.routes[0].prefix)
        evhttp_connection_set_max_body_size(c->evcon, (ev_ssize_t)c->t->lim.max_body);
    bufferevent_set_timeouts(c->bev, &c->t->idle, &c->t->idle);
    if (evbuffer_get_length(bufferevent_get_input(c->bev)))
        conn_arm_deadline(c); /* the next request has begun */
    else
        conn_set_idle(c, 1);
}

conn *conn_serve(conn_table *t, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    conn *c;

    if (fd < 0 || (size_t)fd >= t->nfd || !(c = t->by_fd[fd]) || c->evcon != evcon)
        return NULL;
    c->serving = 1;
    access_begin(&c->acc, req);
    conn_set_idle(c, 0);
    evtimer_del(c->timer);
    /* Writes still time out; reads do not: reading is done, and the
     * request's own deadlines decide how long the answer may take. */
    bufferevent_set_timeouts(bev, NULL, &t->idle);
    evhttp_request_set_on_complete_cb(req, conn_served_cb, c);
    if (evbuffer_get_length(bufferevent_get_input(bev)) > t->lim.max_pending_input) {
        snprintf(c->why, sizeof c->why, "the client sent more than %zu bytes after its request",
                 t->lim.max_pending_input);
        event_active(c->timer, EV_TIMEOUT, 0);
    }
    return c;
}

void conn_watch(conn *c, conn_gone_cb gone, void *arg)
{
    c->gone = gone;
    c->gone_arg = arg;
}

void conn_unwatch(conn *c)
{
    c->gone = NULL;
    c->gone_arg = NULL;
}

access_rec *conn_access(conn *c)
{
    return c && c->acc.active ? &c->acc : NULL;
}

size_t conn_unsent(const conn *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* ------------------------------------------------------------ table -- */

conn_table *conn_table_new(struct event_base *base, struct evhttp *http,
                           struct evconnlistener *listener, const conn_limits *lim)
{
    conn_table *t = calloc(1, sizeof *t);

    if (!t || !(t->retry = evtimer_new(base, conn_retry_cb, t))) {
        free(t);
        return NULL;
    }
    t->base = base;
    t->http = http;
    t->listener = listener;
    t->lim = *lim;
    t->idle = clock_timeval(lim->idle_timeout_ms);
    t->accepting = 1;
    t->next = conn_tables;
    conn_tables = t;
    evhttp_set_bevcb(http, conn_bev_cb, t);
    if (listener)
        evconnlistener_set_error_cb(listener, conn_accept_error_cb);
    return t;
}

void conn_table_set_limits(conn_table *t, const conn_limits *lim)
{
    t->lim = *lim;
    t->idle = clock_timeval(lim->idle_timeout_ms);
    conn_pace(t, 0);
}

void conn_table_stop_accepting(conn_table *t)
{
    t->listener = NULL;
    evtimer_del(t->retry);
}

size_t conn_count(const conn_table *t)
{
    return atomic_load(&((conn_table *)t)->count);
}

void conn_table_free(conn_table **tp)
{
    conn_table *t = *tp;

    if (!t)
        return;
    assert(t->count == 0);
    for (conn_table **pp = &conn_tables; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    event_free(t->retry);
    free(t->by_fd);
    free(t);
    *tp = NULL;
}
