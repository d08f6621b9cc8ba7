/*
 * server -- the HTTP front: one evhttp on the loop, its connections
 * (conn.c), routes (/search, /search/batch, /v1/chat/completions,
 * /healthz, /sources, /session, and the playground's files), admission,
 * and graceful shutdown.
 *
 * The server owns the search_env its searches share (src/search.c), so it
 * can count them and wait for them on shutdown, and the generation setup;
 * it borrows the config, the source instances and the services.  Nothing
 * below it calls back into it.
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
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    conn_table *conns;
    const config *cfg;
    instance_set *sources;
    host_services *svc;
    const char **names;       /* instance names, for request validation */
    auth *auth;               /* API keys and scopes (owned) */
    search_env searches;      /* the live searches and what they share */
    batch_env batches;        /* the live batches, whose items are searches */
    struct event *drain;      /* polls for the end of a graceful shutdown */
    int64_t drain_deadline_ms;
    char address[300];        /* "HOST:PORT" actually bound */
    gen_env genv;             /* what every generation shares */
    job_env *jobs;            /* background jobs on cfg->db; NULL without a store */
    watch *store_watch;       /* other processes' writes to cfg->db; NULL without one */
    store_listen *store_feed; /* the same for a PostgreSQL store, told by the database */
    docs_env docs;            /* the documents and jobs endpoints */
    time_t started;           /* when server_start ran: the model's "created" */
} server;

/* Bind cfg->listen and route requests.  Returns 0, or -1 with a message. */
int server_start(server *srv, struct event_base *base, const config *cfg, instance_set *sources,
                 host_services *svc, char *err, size_t errlen);

/* Apply a reloaded config: cfg (borrowed, and from now on the server's
 * config) with the instances *sources already holds (the caller swapped
 * them in).  Reloads the API keys and the access log, rebuilds the result
 * cache, and applies the limits and timeouts to what happens next.
 * Searches in flight finish with what they started with.  Returns 0, or
 * -1 with a message and the server unchanged (still on its old config). */
int server_reload(server *srv, const config *cfg, char *err, size_t errlen);

/* Stop accepting connections, let live searches finish (at most grace_ms),
 * then make the loop exit. */
void server_shutdown(server *srv, int grace_ms);

/* Cancel live searches, let their callbacks land, and free the server
 * (after the loop has exited; the HTTP client must still be alive). */
void server_release(server *srv);

#endif /* RAGD_SERVER_H */
