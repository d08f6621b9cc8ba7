/*
 * server -- the HTTP front: one evhttp on the loop, routes (/search,
 * /healthz), JSON replies and errors, and graceful shutdown.
 *
 * The server owns the live searches (src/search.c) so it can wait for them
 * on shutdown; it borrows the config, the source instances and the services.
 */
#ifndef RAGD_SERVER_H
#define RAGD_SERVER_H

#include <stddef.h>

#include <jansson.h>

#include "config.h"
#include "conn.h"
#include "gen.h"
#include "host.h"
#include "instance.h"

struct evhttp_request;
struct search;

/* How every JSON document ragd writes prints numbers: compact, and reals
 * with 15 significant digits, the most a double always carries exactly, so
 * 9.9 prints as 9.9, not 9.9000000000000004. */
#define SERVER_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

typedef struct server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    conn_table *conns;
    const config *cfg;
    instance_set *sources;
    host_services *svc;
    const char **names;       /* instance names, for request validation */
    struct search *live;      /* searches not yet answered (search.c's list) */
    size_t nlive;
    struct event *drain;      /* polls for the end of a graceful shutdown */
    int64_t drain_deadline_ms;
    char address[300];        /* "HOST:PORT" actually bound */
    llm_config llm;           /* strings borrowed from cfg; api_key owned */
    prompt_template prompt;
    gen_env genv;             /* what generation borrows */
} server;

/* Bind cfg->listen and route requests.  Returns 0, or -1 with a message. */
int server_start(server *srv, struct event_base *base, const config *cfg, instance_set *sources,
                 host_services *svc, char *err, size_t errlen);

/* Stop accepting connections, let live searches finish (at most grace_ms),
 * then make the loop exit. */
void server_shutdown(server *srv, int grace_ms);

/* Cancel live searches, let their callbacks land, and free the server
 * (after the loop has exited; the HTTP client must still be alive). */
void server_release(server *srv);

/* Send a JSON reply and release body (a new reference is stolen).  A NULL
 * body (it could not be built) sends a JSON 500 instead. */
void server_reply_json(struct evhttp_request *req, int status, json_t *body);

/* Send {"error": {"code": code, "message": message}} with status. */
void server_reply_error(struct evhttp_request *req, int status, const char *code,
                        const char *message);

#endif /* RAGD_SERVER_H */
