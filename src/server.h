/*
 * server -- the HTTP front of one event loop: an evhttp, its connections
 * (conn.c), routes (/search, /search/batch, /v1/chat/completions,
 * /healthz, /sources, /session, and the playground's files), admission,
 * and graceful shutdown.
 *
 * With several loops (loops.c) each has a server of its own, all
 * listening on one address (SO_REUSEPORT: the kernel spreads connections
 * over them).  The main loop's server is the *main* front: it owns what
 * the process has once (API keys, the result cache, the job runner, the
 * store's watch or change feed, the access log and the metrics gauges);
 * another loop's front borrows those from it (srv->main).  Each front owns
 * the search_env its searches share (src/search.c), so it can count them
 * and wait for them on shutdown, and its generation setup; all borrow the
 * config, the source instances and the services.  Nothing below it calls
 * back into it.
 */
#ifndef RAGD_SERVER_H
#define RAGD_SERVER_H

#include <stddef.h>
#include <time.h>

#include "auth.h"
#include "batch.h"
#include "config.h"
#include "conn.h"
#include "docs.h"
#include "gen.h"
#include "host.h"
#include "instance.h"
#include "search.h"
#include "store_listen.h"
#include "watch.h"

typedef struct server {
    struct event_base *base;
    struct server *main;      /* the main front; NULL on the main front itself */
    unsigned loop;            /* this loop's number, 0 for the main one */
    unsigned nloops;          /* how many loops serve (they share the limits) */
    char loop_name[12];       /* the same, as a metrics label */
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    conn_table *conns;
    const config *cfg;
    instance_set *sources;
    host_services *svc;
    const char **names;       /* instance names, for request validation */
    auth *auth;               /* API keys and scopes (the main front's) */
    search_env searches;      /* the live searches and what they share */
    batch_env batches;        /* the live batches, whose items are searches */
    struct event *drain;      /* polls for the end of a graceful shutdown */
    int64_t drain_deadline_ms;
    char address[300];        /* "HOST:PORT" actually bound */
    char bind_host[256];      /* what the other fronts bind too */
    int bind_port;
    int reuseport;            /* listening with SO_REUSEPORT (several loops) */
    gen_env genv;             /* what every generation shares */
    job_env *jobs;            /* background jobs on cfg->db; NULL without a store */
    watch *store_watch;       /* other processes' writes to cfg->db; NULL without one */
    store_listen *store_feed; /* the same for a PostgreSQL store, told by the database */
    docs_env docs;            /* the documents and jobs endpoints */
    time_t started;           /* when server_start ran: the model's "created" */
} server;

/* Bind cfg->listen and route requests on base, as the main front
 * (main NULL; nloops fronts will listen, so bind for sharing when above
 * 1) or as loop number loop's front, borrowing from main and binding its
 * address.  client is this loop's HTTP client.  Returns 0, or -1 with a
 * message. */
int server_start(server *srv, struct event_base *base, httpc *client, server *main,
                 unsigned loop, unsigned nloops, const config *cfg, instance_set *sources,
                 host_services *svc, char *err, size_t errlen);

/* Apply a reloaded config: cfg (borrowed, and from now on the server's
 * config) with the instances *sources already holds (the caller swapped
 * them in).  Reloads the API keys and the access log, rebuilds the result
 * cache, and applies the limits and timeouts to what happens next.
 * Searches in flight finish with what they started with.  Returns 0, or
 * -1 with a message and the server unchanged (still on its old config).
 * The main front first; then each other front, which takes the main one's
 * keys, cache and names and cannot fail.  With several loops, only while
 * they are parked (loops.h). */
int server_reload(server *srv, const config *cfg, char *err, size_t errlen);

/* Stop accepting connections, let live searches finish (at most grace_ms),
 * then make the loop exit.  On the front's own loop thread. */
void server_shutdown(server *srv, int grace_ms);

/* Cancel live searches, let their callbacks land, and free the server
 * (after the loop has exited, on its thread; the HTTP client must still be
 * alive).  The main front goes last. */
void server_release(server *srv);

#endif /* RAGD_SERVER_H */
