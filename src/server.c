/*
 * server -- evhttp setup, routing, JSON replies, graceful shutdown.
 *
 * Every handler ends in exactly one reply.  evhttp is told to accept every
 * method so that a wrong one gets our JSON 405, not libevent's HTML page.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "access.h"
#include "auth.h"
#include "batch.h"
#include "cache.h"
#include "clock.h"
#include "cors.h"
#include "info.h"
#include "log.h"
#include "metrics.h"
#include "obs.h"
#include "page.h"
#include "reply.h"
#include "search.h"
#include "server.h"

/* libevent's own hard cap on a request body, outside /documents and
 * /search/batch; bodies between the configured max_body and this get our
 * JSON 413, larger ones libevent's, refused on their Content-Length before
 * the body is read.  POST /documents may send max_documents_bytes, and
 * POST /search/batch max_batch_bytes: libevent 2.1's cap is per server, so
 * conn.c raises it per connection for a request whose line starts with
 * one of these prefixes and lowers it again once it is served.  A huge
 * body sent to /search thus costs no more than this cap, whatever the
 * other limits. */
#define SERVER_HARD_MAX_BODY (16u << 20)
#define SERVER_DOCUMENTS_PREFIX "POST /documents"
#define SERVER_BATCH_PREFIX "POST /search/batch"


/* Every route starts here: the connection leaves its read deadline, and
 * the loop that took the request is counted. */
static conn *server_take(server *srv, struct evhttp_request *req)
{
    metrics_add(obs.loop_requests, 1, srv->loop_name);
    return conn_serve(srv->conns, req);
}

/* Whether a new search may start now, or else the 503 is sent: past the
 * in-flight limit a client is told at once to come back, rather than
 * queued behind work the server cannot keep up with. */
static int server_admit(server *srv, struct evhttp_request *req)
{
    size_t live = search_live_all();
    char msg[128];

    if (srv->drain) {
        reply_error(req, 503, "shutting_down", "the server is shutting down");
        return 0;
    }
    if (live < (size_t)srv->cfg->max_inflight)
        return 1;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    snprintf(msg, sizeof msg, "%zu searches in flight, the limit; retry shortly", live);
    reply_error(req, 503, "overloaded", msg);
    return 0;
}

/* The door every search route shares: CORS (a preflight is answered
 * here), the method, the key's search scope, then admission.  Returns 1
 * with the request's connection in *c when the search may start, 0 when
 * the request has been answered. */
static int server_search_door(server *srv, struct evhttp_request *req, int allowed,
                              const char *allow, conn **c)
{
    *c = server_take(srv, req);
    return !cors_apply(srv->cfg->cors_origins, req) && reply_method_ok(req, allowed, allow) &&
           auth_check(srv->auth, req, AUTH_SEARCH) == 0 && server_admit(srv, req);
}

static void server_search_cb(struct evhttp_request *req, void *arg)
{
    server *srv = arg;
    conn *c;

    if (server_search_door(srv, req, EVHTTP_REQ_GET | EVHTTP_REQ_POST, "GET, POST", &c))
        search_handle(&srv->searches, req, c);
}

static void server_batch_cb(struct evhttp_request *req, void *arg)
{
    server *srv = arg;
    conn *c;

    if (server_search_door(srv, req, EVHTTP_REQ_POST, "POST", &c))
        batch_handle(&srv->batches, req, c);
}

static void server_chat_cb(struct evhttp_request *req, void *arg)
{
    server *srv = arg;
    conn *c;

    if (server_search_door(srv, req, EVHTTP_REQ_POST, "POST", &c))
        search_handle_chat(&srv->searches, req, c);
}

static void server_healthz_cb(struct evhttp_request *req, void *arg)
{
    server *srv = arg;
    json_t *sources = json_object();

    server_take(srv, req);
    if (cors_apply(srv->cfg->cors_origins, req) ||
        !reply_method_ok(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "GET"))
        return;
    for (size_t i = 0; i < srv->sources->n && sources; i++) {
        const instance *in = srv->sources->v[i];
        json_object_set_new(sources, in->name,
                            json_pack("{ss ss}", "type", in->type->name, "status",
                                      in->enabled ? "enabled" : "disabled"));
    }
    reply_json(req, 200, json_pack("{ss ss so sI sI}", "status", "ok", "version",
                                          PACKAGE_VERSION, "sources", sources, "live_searches",
                                          (json_int_t)search_live_all(), "connections",
                                          (json_int_t)conn_count_all()));
}

/* GET /readyz: whether this replica should get traffic.  Sources load
 * before the server listens; a PostgreSQL store's replica is ready once
 * its change feed is live (caught up), and stays ready while the database
 * is unreachable, serving what it has loaded ("degraded"). */
static void server_readyz_cb(struct evhttp_request *req, void *arg)
{
    server *srv = arg;
    store_listen *feed = srv->main ? srv->main->store_feed : srv->store_feed;
    store_listen_state st = feed ? store_listen_get_state(feed) : STORE_LISTEN_LIVE;

    server_take(srv, req);
    if (cors_apply(srv->cfg->cors_origins, req) ||
        !reply_method_ok(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "GET"))
        return;
    if (st == STORE_LISTEN_STARTING)
        reply_json(req, 503, json_pack("{ss ss}", "status", "loading", "reason",
                                       "catching up with the store's change log"));
    else if (st == STORE_LISTEN_LOST)
        reply_json(req, 200, json_pack("{ss ss}", "status", "degraded", "reason",
                                       "the store is unreachable: serving what is loaded; "
                                       "writes fail"));
    else
        reply_json(req, 200, json_pack("{ss}", "status", "ready"));
}

/* GET /metrics: open on a loopback listen address, else the admin scope
 * (auth.h). */
static void server_metrics_cb(struct evhttp_request *req, void *arg)
{
    server *srv = arg;
    struct evbuffer *out;

    server_take(srv, req);
    if (cors_apply(srv->cfg->cors_origins, req) ||
        !reply_method_ok(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "GET") ||
        (!auth_listens_loopback(srv->auth) && auth_check(srv->auth, req, AUTH_ADMIN) != 0))
        return;
    if (!(out = evbuffer_new()) || metrics_render(out) != 0) {
        if (out)
            evbuffer_free(out);
        reply_error(req, 500, "internal", "out of memory rendering the metrics");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

/* ------------------------------------------------- scrape-time gauges -- */

/* The gauges read the process's counts, whichever loop serves /metrics. */
static double server_gauge_connections(void *arg)
{
    (void)arg;
    return (double)conn_count_all();
}

static double server_gauge_inflight(void *arg)
{
    (void)arg;
    return (double)(search_live_all() + batch_live_all() + docs_live_all());
}

static double server_gauge_queue(void *arg)
{
    const server *srv = arg;
    size_t queued;
    unsigned busy;

    pool_load(srv->svc->pool, &queued, &busy);
    return (double)queued;
}

static double server_gauge_busy(void *arg)
{
    const server *srv = arg;
    size_t queued;
    unsigned busy;

    pool_load(srv->svc->pool, &queued, &busy);
    return (double)busy;
}

static double server_gauge_transfers(void *arg)
{
    (void)arg;
    return (double)httpc_active_all();
}

static double server_gauge_cache_entries(void *arg)
{
    const server *srv = arg;
    return srv->searches.cache ? (double)cache_count(srv->searches.cache) : 0.0;
}

static double server_gauge_cache_bytes(void *arg)
{
    const server *srv = arg;
    return srv->searches.cache ? (double)cache_bytes(srv->searches.cache) : 0.0;
}

static int server_metrics_init(server *srv)
{
    static const struct {
        const char *name, *help;
        metrics_gauge_fn fn;
    } gauges[] = {
        {"ragd_connections", "Client connections open", server_gauge_connections},
        {"ragd_inflight_requests", "Searches, batches and document requests being served",
         server_gauge_inflight},
        {"ragd_pool_queue_depth", "Worker pool jobs waiting for a worker", server_gauge_queue},
        {"ragd_pool_busy_workers", "Worker threads running a job", server_gauge_busy},
        {"ragd_http_client_transfers", "Upstream HTTP transfers in flight",
         server_gauge_transfers},
        {"ragd_cache_entries", "Search results held by the result cache",
         server_gauge_cache_entries},
        {"ragd_cache_bytes", "Bytes held by the result cache, counted against its bound",
         server_gauge_cache_bytes},
    };

    for (size_t i = 0; i < sizeof gauges / sizeof *gauges; i++)
        if (!metrics_gauge(gauges[i].name, gauges[i].help, 0, NULL, gauges[i].fn, srv))
            return -1;
    return 0;
}

/* GET /v1/models: the one model ragd answers as, in OpenAI's list format,
 * so an OpenAI client can discover it: the LLM's when one is configured,
 * else "ragd" (the extractive generator). */
static void server_models_cb(struct evhttp_request *req, void *arg)
{
    server *srv = arg;
    const config *cfg = srv->cfg;

    server_take(srv, req);
    if (cors_apply(cfg->cors_origins, req) ||
        !reply_method_ok(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "GET") ||
        auth_check(srv->auth, req, AUTH_SEARCH) != 0)
        return;
    reply_json(req, 200, json_pack("{ss s[{ss ss sI ss}]}", "object", "list", "data",
                                   "id", cfg->llm_url ? cfg->llm_model : "ragd", "object", "model",
                                   "created", (json_int_t)srv->started, "owned_by", "ragd"));
}

/* The playground page and its files: open to all, like /healthz (page.h). */
static void server_page_cb(struct evhttp_request *req, void *arg)
{
    server *srv = arg;

    server_take(srv, req);
    if (!cors_apply(srv->cfg->cors_origins, req))
        page_serve(req);
}

/* GET /sources: what the search scope may ask (info.h). */
static void server_sources_cb(struct evhttp_request *req, void *arg)
{
    server *srv = arg;

    server_take(srv, req);
    if (cors_apply(srv->cfg->cors_origins, req) ||
        !reply_method_ok(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "GET") ||
        auth_check(srv->auth, req, AUTH_SEARCH) != 0)
        return;
    info_sources(req, srv->sources);
}

/* GET /session: the presented key's scopes; it does its own key check. */
static void server_session_cb(struct evhttp_request *req, void *arg)
{
    server *srv = arg;

    server_take(srv, req);
    if (cors_apply(srv->cfg->cors_origins, req) ||
        !reply_method_ok(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "GET"))
        return;
    info_session(req, srv->auth);
}

/* Every endpoint that writes (documents and jobs) comes through here, so
 * that one check can guard them all. */
static void server_route_write(server *srv, struct evhttp_request *req, conn *c)
{
    if (srv->drain) {
        reply_error(req, 503, "shutting_down", "the server is shutting down");
        return;
    }
    if (auth_check(srv->auth, req, AUTH_WRITE) != 0)
        return;
    docs_handle(&srv->docs, req, c);
}

static void server_notfound_cb(struct evhttp_request *req, void *arg)
{
    server *srv = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    char msg[160];
    conn *c = server_take(srv, req);

    if (cors_apply(srv->cfg->cors_origins, req))
        return;
    if (path && docs_owns(path)) {
        server_route_write(srv, req, c);
        return;
    }
    snprintf(msg, sizeof msg, "no such endpoint: %.100s (try /search or /healthz)",
             evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req))
                 ? evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req)) : "?");
    reply_error(req, 404, "not_found", msg);
}

/* Record the address actually bound (the port may have been 0). */
static void server_bound_address(server *srv)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(srv->sock);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (!srv->main)
        auth_set_listen(srv->auth, (struct sockaddr *)&ss);
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(srv->address, sizeof srv->address, "[%s]:%d", ip, port);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(srv->address, sizeof srv->address, "%s:%d", ip, port);
    }
    srv->bind_port = port;
}

/* The connection limits cfg sets, for one of nloops fronts: each takes
 * its share of --max-connections. */
static conn_limits server_conn_limits(const config *cfg, unsigned nloops)
{
    size_t max = cfg->max_connections ? (size_t)cfg->max_connections : conn_default_max();

    return (conn_limits){
        (max + nloops - 1) / nloops,
        (int)cfg->read_timeout_ms, (int)cfg->idle_timeout_ms, (size_t)cfg->max_pending_input,
        SERVER_HARD_MAX_BODY,
        {{SERVER_DOCUMENTS_PREFIX, (size_t)cfg->max_documents_bytes},
         /* not below the hard cap: a batch over its own limit still gets
          * batch.c's JSON 413 */
         {SERVER_BATCH_PREFIX, cfg->max_batch_bytes > (long)SERVER_HARD_MAX_BODY
                                   ? (size_t)cfg->max_batch_bytes : SERVER_HARD_MAX_BODY}}};
}

/* The instances' names, for request validation (owned by the caller). */
static const char **server_names(const instance_set *sources)
{
    const char **names = calloc(sources->n + 1, sizeof *names);

    for (size_t i = 0; names && i < sources->n; i++)
        names[i] = sources->v[i]->name;
    return names;
}

/* The result cache cfg asks for in *out (NULL when off).  Returns 0, or -1
 * (ENOMEM). */
static int server_cache(const config *cfg, cache **out)
{
    *out = NULL;
    if (cfg->cache_ttl_ms <= 0)
        return 0;
    *out = cache_new(cfg->cache_ttl_ms, (size_t)cfg->cache_max_bytes, cfg->db);
    return *out ? 0 : -1;
}

/* Whether HOST:PORT is free: a plain bind, without SO_REUSEPORT, fails
 * on any socket listening there -- another ragd's too, which SO_REUSEPORT
 * would otherwise let this one share unnoticed.  Stores the port (chosen
 * by the kernel when port is 0) in *bound.  Returns 0, or -1 with a
 * message. */
static int server_probe(const struct evutil_addrinfo *ai, const char *listen, int *bound,
                        char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    evutil_socket_t fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    int rc = -1;

    if (fd < 0 || evutil_make_listen_socket_reuseable(fd) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        goto done;
    }
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    rc = 0;
done:
    if (fd >= 0)
        evutil_closesocket(fd);
    return rc;
}

/* Take the main front's listening socket too (a duplicate of it): for
 * a system without SO_REUSEPORT.  Every loop then waits on the one socket
 * and whichever wakes first accepts.  Returns 0, or -1 with a message. */
static int server_listen_shared(server *srv, const char *listen, char *err, size_t errlen)
{
    evutil_socket_t fd = fcntl(evhttp_bound_socket_get_fd(srv->main->sock), F_DUPFD_CLOEXEC, 0);
    struct evconnlistener *lev;

    if (fd < 0 || evutil_make_socket_nonblocking(fd) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* backlog 0: the socket listens already */
    if (!(lev = evconnlistener_new(srv->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE, 0, fd))) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(srv->sock = evhttp_bind_listener(srv->http, lev))) {
        evconnlistener_free(lev);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Bind ai with SO_REUSEPORT when reuse, for evhttp.  Returns 0, or -1 with
 * errno set. */
static int server_bind(server *srv, const struct evutil_addrinfo *ai, int reuse)
{
    unsigned flags = LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
    struct evconnlistener *lev = evconnlistener_new_bind(
        srv->base, NULL, NULL, flags | (reuse ? LEV_OPT_REUSEABLE_PORT : 0), -1, ai->ai_addr,
        (int)ai->ai_addrlen);

    if (!lev)
        return -1;
    if (!(srv->sock = evhttp_bind_listener(srv->http, lev))) {
        evconnlistener_free(lev);
        errno = ENOMEM;
        return -1;
    }
    srv->reuseport = reuse;
    return 0;
}

/* Listen on host:port with evhttp; with share, so that every loop's front
 * can listen on the same address: each with a socket of its own, bound
 * with SO_REUSEPORT (the kernel spreads new connections over them), or,
 * where the system refuses that option, on the main front's one socket.
 * Returns 0, or -1 with a message. */
static int server_listen(server *srv, const char *host, int port, int share, const char *listen,
                         char *err, size_t errlen)
{
    struct evutil_addrinfo hints = {0}, *ai = NULL;
    char portstr[16];
    int rc, reuse;

    if (!share) {
        if ((srv->sock = evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)port)))
            return 0;
        snprintf(err, errlen, "cannot listen on %s: %s", listen,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return -1;
    }
    if (srv->main && !srv->main->reuseport)
        return server_listen_shared(srv, listen, err, errlen);
    /* RAGD_LISTEN_SHARED=1 takes the path of a system without SO_REUSEPORT. */
    reuse = !(getenv("RAGD_LISTEN_SHARED") && !strcmp(getenv("RAGD_LISTEN_SHARED"), "1"));
    hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(portstr, sizeof portstr, "%d", port);
    if ((rc = evutil_getaddrinfo(*host ? host : NULL, portstr, &hints, &ai)) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen, evutil_gai_strerror(rc));
        return -1;
    }
    rc = -1;
    /* The main front checks that no one listens there yet, then binds the
     * port it found (the kernel's choice when port is 0) for all. */
    if (!srv->main && server_probe(ai, listen, &port, err, errlen) != 0)
        goto done;
    if (ai->ai_family == AF_INET6)
        ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)port);
    if (reuse && server_bind(srv, ai, 1) == 0) {
        rc = 0;
    } else if (srv->main) {
        rc = server_listen_shared(srv, listen, err, errlen);
    } else if (server_bind(srv, ai, 0) == 0) {
        log_msg(LOG_INFO, "%s: the loops share one listening socket",
                reuse ? "SO_REUSEPORT is not available here" : "RAGD_LISTEN_SHARED=1");
        rc = 0;
    } else {
        snprintf(err, errlen, "cannot listen on %s: %s", listen,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
done:
    evutil_freeaddrinfo(ai);
    return rc;
}

/* What the main front has once and the others borrow: keys, cache, jobs,
 * the store's watch or feed, the access log and the gauges. */
static int server_start_main(server *srv, const config *cfg, host_services *svc, char *err,
                             size_t errlen)
{
    struct event_base *base = srv->base;

    if (access_init(cfg->access_log, cfg->log_queries, err, errlen) != 0)
        return -1;
    if (server_metrics_init(srv) != 0 || server_cache(cfg, &srv->searches.cache) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (auth_load(&srv->auth, cfg->api_keys_file, err, errlen) != 0)
        return -1;
    if (cfg->db && !(srv->jobs = job_env_new(base, svc, cfg->db, cfg->job_retention_s,
                                             cfg->change_log_keep, err, errlen)))
        return -1;
    if (cfg->db && store_is_url(cfg->db) &&
        !(srv->store_feed = store_listen_new(base, svc->pool, cfg->db))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (cfg->db && !store_is_url(cfg->db) &&
        !(srv->store_watch = watch_new(base, svc->pool, cfg->db, WATCH_INTERVAL_MS))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void server_routes(server *srv, const config *cfg)
{
    struct timeval idle = clock_timeval(cfg->idle_timeout_ms);

    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                               EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(srv->http, SERVER_HARD_MAX_BODY);
    evhttp_set_max_headers_size(srv->http, (ev_ssize_t)cfg->max_headers);
    evhttp_set_timeout_tv(srv->http, &idle);
    evhttp_set_cb(srv->http, "/search", server_search_cb, srv);
    evhttp_set_cb(srv->http, "/search/batch", server_batch_cb, srv);
    evhttp_set_cb(srv->http, "/healthz", server_healthz_cb, srv);
    evhttp_set_cb(srv->http, "/readyz", server_readyz_cb, srv);
    evhttp_set_cb(srv->http, "/metrics", server_metrics_cb, srv);
    evhttp_set_cb(srv->http, "/v1/chat/completions", server_chat_cb, srv);
    evhttp_set_cb(srv->http, "/v1/models", server_models_cb, srv);
    evhttp_set_cb(srv->http, "/sources", server_sources_cb, srv);
    evhttp_set_cb(srv->http, "/session", server_session_cb, srv);
    evhttp_set_cb(srv->http, "/", server_page_cb, srv);
    evhttp_set_cb(srv->http, "/app.js", server_page_cb, srv);
    evhttp_set_cb(srv->http, "/app.css", server_page_cb, srv);
    evhttp_set_gencb(srv->http, server_notfound_cb, srv);
}

int server_start(server *srv, struct event_base *base, httpc *client, server *main,
                 unsigned loop, unsigned nloops, const config *cfg, instance_set *sources,
                 host_services *svc, char *err, size_t errlen)
{
    char host[256];
    int port;
    conn_limits lim = server_conn_limits(cfg, nloops);

    memset(srv, 0, sizeof *srv);
    srv->base = base;
    srv->main = main;
    srv->loop = loop;
    srv->nloops = nloops;
    snprintf(srv->loop_name, sizeof srv->loop_name, "%u", loop);
    srv->cfg = cfg;
    srv->sources = sources;
    srv->svc = svc;
    srv->started = main ? main->started : time(NULL);
    srv->names = main ? main->names : server_names(sources);
    if (!srv->names || !(srv->http = evhttp_new(base))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!main && server_start_main(srv, cfg, svc, err, errlen) != 0)
        return -1;
    if (main) {
        srv->auth = main->auth;
        srv->searches.cache = main->searches.cache;
    }
    if (gen_env_init(&srv->genv, base, client, cfg, err, errlen) != 0)
        return -1;
    srv->searches.base = base;
    srv->searches.cfg = cfg;
    srv->searches.sources = sources;
    srv->searches.names = srv->names;
    srv->searches.gen = &srv->genv;
    batch_env_init(&srv->batches, &srv->searches);
    srv->docs.base = base;
    srv->docs.main = main ? main->base : base;
    srv->docs.pool = svc->pool;
    srv->docs.jobs = main ? main->jobs : srv->jobs;
    srv->docs.max_body = (size_t)cfg->max_documents_bytes;
    srv->docs.max_output = (size_t)cfg->max_output;
    srv->docs.stall_ms = cfg->read_timeout_ms;
    server_routes(srv, cfg);
    if (main) {
        snprintf(host, sizeof host, "%s", main->bind_host);
        port = main->bind_port;
    } else {
        config_split_listen(cfg->listen, host, sizeof host, &port);
    }
    if (server_listen(srv, host, port, nloops > 1, cfg->listen, err, errlen) != 0)
        return -1;
    server_bound_address(srv);
    snprintf(srv->bind_host, sizeof srv->bind_host, "%s", host);
    if (!(srv->conns = conn_table_new(base, srv->http, evhttp_bound_socket_get_listener(srv->sock),
                                      &lim))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!main)
        log_msg(LOG_DEBUG, "at most %zu connections per loop and %ld searches at once",
                lim.max_connections, cfg->max_inflight);
    return 0;
}

/* Apply cfg to what every front has of its own: limits, timeouts; the
 * names, the keys and the cache are the main front's (already reloaded).
 * Cannot fail, so every front takes a reload that the main one took. */
static void server_reload_front(server *srv, const config *cfg, const char **names)
{
    struct timeval idle = clock_timeval(cfg->idle_timeout_ms);
    conn_limits lim = server_conn_limits(cfg, srv->nloops);
    const server *m = srv->main ? srv->main : srv;

    if (!srv->main)
        free(srv->names);
    srv->names = names;
    srv->cfg = cfg;
    srv->auth = m->auth;
    srv->searches.cache = m->searches.cache;
    srv->searches.cfg = cfg;
    srv->searches.names = names;
    srv->docs.max_body = (size_t)cfg->max_documents_bytes;
    srv->docs.max_output = (size_t)cfg->max_output;
    srv->docs.stall_ms = cfg->read_timeout_ms;
    conn_table_set_limits(srv->conns, &lim);
    evhttp_set_max_headers_size(srv->http, (ev_ssize_t)cfg->max_headers);
    evhttp_set_timeout_tv(srv->http, &idle);
}

int server_reload(server *srv, const config *cfg, char *err, size_t errlen)
{
    const char **names = NULL;
    auth *keys = NULL;
    cache *results = NULL;

    if (srv->main) { /* the main front has reloaded what all share */
        server_reload_front(srv, cfg, srv->main->names);
        return 0;
    }
    if (srv->drain) {
        snprintf(err, errlen, "the server is shutting down");
        goto fail;
    }
    if (!(names = server_names(srv->sources)) || server_cache(cfg, &results) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (auth_load(&keys, cfg->api_keys_file, err, errlen) != 0 ||
        access_configure(cfg->access_log, cfg->log_queries, err, errlen) != 0)
        goto fail;
    /* Nothing fails from here on. */
    auth_free(&srv->auth);
    srv->auth = keys;
    server_bound_address(srv); /* the new keys learn the loopback rule */
    /* Results of the old sources and weights must not answer new searches. */
    cache_free(&srv->searches.cache);
    srv->searches.cache = results;
    server_reload_front(srv, cfg, names);
    return 0;
fail:
    free(names);
    cache_free(&results);
    auth_free(&keys);
    return -1;
}

static void server_drain_cb(evutil_socket_t fd, short what, void *arg)
{
    server *srv = arg;
    /* The main front waits for every source call and worker job (the
     * other loops' too: they end before it tears down the sources). */
    size_t calls = srv->main ? 0 : instance_set_inflight(srv->sources);
    size_t jobs = srv->main ? 0 : pool_pending(srv->svc->pool);
    int idle = srv->searches.nlive == 0 && srv->batches.nlive == 0 && srv->docs.live == 0 &&
               calls == 0 && jobs == 0;

    (void)fd;
    (void)what;
    if (!idle && clock_ms() < srv->drain_deadline_ms)
        return;
    if (!idle)
        log_msg(LOG_WARN, "shutdown: after the grace period, still waiting for %zu searches, "
                "%zu source calls and %zu worker jobs; cancelling them",
                (size_t)srv->searches.nlive, calls, jobs);
    batch_cancel_all(&srv->batches);
    search_cancel_all(&srv->searches);
    event_del(srv->drain);
    event_base_loopexit(srv->base, NULL);
}

void server_shutdown(server *srv, int grace_ms)
{
    static const struct timeval tick = {0, 10000};

    if (srv->drain)
        return;
    if (srv->sock) {
        conn_table_stop_accepting(srv->conns);
        evhttp_del_accept_socket(srv->http, srv->sock);
        srv->sock = NULL;
    }
    if (srv->jobs)
        job_env_stop(srv->jobs);
    srv->drain_deadline_ms = clock_ms() + grace_ms;
    srv->drain = event_new(srv->base, -1, EV_PERSIST, server_drain_cb, srv);
    if (srv->drain)
        event_add(srv->drain, &tick);
    else
        event_base_loopexit(srv->base, NULL);
}

void server_release(server *srv)
{
    /* A cancelled generation still calls back into its search, so run the
     * loop until every search is freed before freeing what they use. */
    batch_cancel_all(&srv->batches);
    search_cancel_all(&srv->searches);
    if (srv->jobs)
        job_env_stop(srv->jobs);
    for (int i = 0; i < 1000 && (srv->searches.nlive || srv->docs.live ||
                                 (srv->jobs && job_env_busy(srv->jobs))); i++) {
        event_base_loop(srv->base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
        if (srv->docs.live || (srv->jobs && job_env_busy(srv->jobs)))
            usleep(1000);
    }
    if (srv->searches.nlive)
        log_msg(LOG_WARN, "shutdown: %zu searches did not finish", (size_t)srv->searches.nlive);
    if (srv->drain)
        event_free(srv->drain);
    if (srv->conns)
        conn_table_stop_accepting(srv->conns); /* evhttp_free frees the listener */
    if (srv->http)
        evhttp_free(srv->http);
    conn_table_free(&srv->conns);
    gen_env_release(&srv->genv);
    if (srv->main) { /* the rest is the main front's */
        memset(srv, 0, sizeof *srv);
        return;
    }
    free(srv->names);
    auth_free(&srv->auth);
    cache_free(&srv->searches.cache);
    watch_free(&srv->store_watch);
    store_listen_free(&srv->store_feed);
    job_env_free(&srv->jobs);
    access_shutdown();
    obs_reset();
    metrics_reset();
    memset(srv, 0, sizeof *srv);
}
