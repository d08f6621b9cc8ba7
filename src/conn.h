/*
 * conn -- ragd's hold on the HTTP server's client connections: how many may
 * be open, a deadline for reading each whole request, a cap on what a
 * client may send while ragd works on its request, and who is told when a
 * connection closes, and why.
 *
 * libevent 2.1's evhttp has none of these: no connection cap, a timeout per
 * read rather than per request (a client trickling one header byte every
 * few seconds stays forever), a read timeout that keeps running while a
 * slow answer is being computed, and no bound on input buffered meanwhile.
 *
 * A connection is READING (evhttp reads a request: the read deadline runs
 * from its first byte) or SERVING (a route took the request: no read
 * timeout -- the request's own deadlines govern -- and input is capped);
 * it is READING again once the reply has been written.
 *
 * Ownership: the table owns one conn per open connection, freed when
 * libevent closes the connection.  A conn pointer is valid until then; a
 * watcher learns of the close through its callback, after which the
 * pointer must not be used.
 */
#ifndef RAGD_CONN_H
#define RAGD_CONN_H

#include <stddef.h>

#include "access.h"

struct event_base;
struct evhttp;
struct evhttp_request;
struct evconnlistener;

/* A route whose requests may send bodies larger than max_body: those whose
 * request line starts with prefix may send max_body bytes. */
typedef struct conn_route {
    const char *prefix;         /* NULL: an unused entry */
    size_t max_body;
} conn_route;

#define CONN_MAX_ROUTES 2

typedef struct conn_limits {
    size_t max_connections;     /* open at once; accepting pauses at the cap */
    int read_timeout_ms;        /* a whole request, headers and body */
    int idle_timeout_ms;        /* between bytes read or written */
    size_t max_pending_input;   /* bytes a client may send while served */
    /* Request bodies: at most max_body bytes, except on the requests of
     * one of routes, which may send that route's max_body.  libevent
     * refuses a larger Content-Length with 413 before reading the body. */
    size_t max_body;
    conn_route routes[CONN_MAX_ROUTES];
} conn_limits;

typedef struct conn_table conn_table;
typedef struct conn conn;

/* Called once when a watched connection closes; why says who closed it
 * ("the client closed the connection", "...sent more than N bytes..."). */
typedef void (*conn_gone_cb)(void *arg, const char *why);

/* Track every connection http accepts from now on (evhttp_set_bevcb) and
 * pace listener's accepting (may be NULL).  lim is copied.  Returns the
 * table, or NULL (ENOMEM). */
conn_table *conn_table_new(struct event_base *base, struct evhttp *http,
                           struct evconnlistener *listener, const conn_limits *lim);

/* Apply new limits (a config reload): they hold for what happens next;
 * connections already open keep the idle timeout they were given. */
void conn_table_set_limits(conn_table *t, const conn_limits *lim);

/* The listener is about to be freed (shutdown): stop pacing it. */
void conn_table_stop_accepting(conn_table *t);

/* Open connections. */
size_t conn_count(const conn_table *t);

/* Connections open in every table of the process, whichever loop's; any
 * thread. */
size_t conn_count_all(void);

/* Free the table, after evhttp_free has closed every connection. */
void conn_table_free(conn_table **tp);

/* The largest sensible connection cap for this process: the descriptor
 * limit less a reserve for upstream connections and SQLite files. */
size_t conn_default_max(void);

/* A route took req: its connection enters SERVING.  Returns the
 * connection, or NULL when it is not tracked (not an accepted one). */
conn *conn_serve(conn_table *t, struct evhttp_request *req);

/* Tell gone(arg, why) if c closes before conn_unwatch.  One watcher at a
 * time; watching again replaces it. */
void conn_watch(conn *c, conn_gone_cb gone, void *arg);
void conn_unwatch(conn *c);

/* The record of the request c is serving (access.h), or NULL when c is
 * NULL or serves none.  Valid until the request ends or c closes. */
access_rec *conn_access(conn *c);

/* Bytes of reply queued on c that the client has not taken yet. */
size_t conn_unsent(const conn *c);

#endif /* RAGD_CONN_H */
