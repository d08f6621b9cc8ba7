/*
 * search -- one /search request from arrival to answer.
 *
 * Two ways out, each freeing the search exactly once:
 *  - search_done: the fan-out settled; fuse, answer, free.
 *  - search_client_gone: libevent reported the client's connection closed
 *    before the answer; free the fan-out (which cancels and orphans the
 *    searches still running) and the orphaned evhttp_request.
 * The connection's close callback is cleared before answering, so it can
 * never fire for a search that is already gone.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "clock.h"
#include "fanout.h"
#include "fuse.h"
#include "log.h"
#include "search.h"
#include "sreq.h"

typedef struct search {
    server *srv;
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    sreq q;
    int64_t t0_us;
    fanout *f;
    struct search *prev, *next;  /* srv->live */
} search;

static void search_link(server *srv, search *s)
{
    s->next = srv->live;
    if (srv->live)
        srv->live->prev = s;
    srv->live = s;
    srv->nlive++;
}

static void search_free(search *s)
{
    server *srv = s->srv;

    if (s->prev)
        s->prev->next = s->next;
    else
        srv->live = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->nlive--;
    fanout_free(&s->f);
    sreq_release(&s->q);
    free(s);
}

/* Detach from the connection so its close callback cannot reach s. */
static void search_detach(search *s)
{
    if (s->conn)
        evhttp_connection_set_closecb(s->conn, NULL, NULL);
    s->conn = NULL;
}

static double search_ms(int64_t us)
{
    return (double)((us + 50) / 100) / 10.0; /* 0.1 ms resolution */
}

static json_t *search_source_json(const fanout_slot *sl)
{
    json_t *o = json_pack("{ss sf sI}", "status", fanout_state_name(sl->state),
                          "latency_ms", sl->state == FANOUT_DISABLED ? 0.0
                                        : search_ms(sl->end_us - sl->start_us),
                          "hits", (json_int_t)sl->nhits);

    if (o && sl->error)
        json_object_set_new(o, "error", json_string(sl->error));
    return o;
}

static json_t *search_context_json(size_t rank, const char *source, const ragd_hit *h, double score)
{
    return json_pack("{sI ss ss ss so ss sf}", "rank", (json_int_t)rank, "source", source,
                     "id", h->id, "title", h->title ? h->title : "",
                     "url", h->url ? json_string(h->url) : json_null(), "text", h->text,
                     "score", score);
}

/* Fuse the settled slots into contexts, best first. */
static json_t *search_contexts(fanout_slot *const *slots, size_t n, int k)
{
    fuse_list lists[SREQ_SOURCES_MAX + 8];
    const fanout_slot *owner[SREQ_SOURCES_MAX + 8];
    fuse_result *r = NULL;
    size_t nl = 0, nr = 0;
    json_t *arr = json_array();

    for (size_t i = 0; i < n && nl < sizeof lists / sizeof *lists; i++) {
        if (slots[i]->state != FANOUT_OK || slots[i]->nhits == 0)
            continue;
        lists[nl] = (fuse_list){slots[i]->hits, slots[i]->nhits, slots[i]->inst->weight};
        owner[nl++] = slots[i];
    }
    if (!arr || fuse_rrf(lists, nl, (size_t)k, &r, &nr) != 0) {
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < nr; i++) {
        const fanout_slot *sl = owner[r[i].list];
        json_array_append_new(arr, search_context_json(i + 1, sl->inst->name,
                                                       &sl->hits[r[i].index], r[i].score));
    }
    free(r);
    return arr;
}

static json_t *search_response(search *s)
{
    size_t n;
    fanout_slot *const *slots = fanout_slots(s->f, &n);
    json_t *sources = json_object(), *contexts = search_contexts(slots, n, s->q.k);
    int partial = 0;

    for (size_t i = 0; i < n && sources; i++) {
        json_object_set_new(sources, slots[i]->inst->name, search_source_json(slots[i]));
        partial |= slots[i]->state == FANOUT_ERROR || slots[i]->state == FANOUT_TIMEOUT;
    }
    if (!sources || !contexts) {
        json_decref(sources);
        json_decref(contexts);
        return NULL;
    }
    return json_pack("{ss so so sb s{sf sf}}", "query", s->q.query, "contexts", contexts,
                     "sources", sources, "partial", partial, "timing_ms",
                     "retrieval", search_ms(fanout_elapsed_us(s->f)),
                     "total", search_ms(clock_us() - s->t0_us));
}

static void search_done(void *arg, fanout *f)
{
    search *s = arg;
    json_t *body;

    (void)f;
    search_detach(s);
    body = search_response(s);
    if (body)
        server_reply_json(s->req, 200, body);
    else
        server_reply_error(s->req, 500, "internal", "out of memory building the response");
    search_free(s);
}

static void search_client_gone(struct evhttp_connection *conn, void *arg)
{
    search *s = arg;

    (void)conn;
    log_msg(LOG_DEBUG, "client left before its answer; cancelling the search");
    s->conn = NULL;
    /* libevent has disowned the pending request (it no longer has a
     * connection); freeing it is ours to do. */
    evhttp_request_free(s->req);
    search_free(s);
}

/* Once libevent has read a whole request it stops reading the connection,
 * so a client that leaves while its search runs would go unnoticed until the
 * reply is written.  Reading with no read callback -- what libevent itself
 * does while it writes a reply -- lets EOF reach evhttp's error path, which
 * disowns the request and runs our close callback.  Bytes a client pipelines
 * meanwhile wait in the input buffer until the reply is sent.  A client that
 * half-closes its socket after the request is taken to have left. */
static void search_watch_close(struct evhttp_connection *conn)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    bufferevent_data_cb writecb;
    bufferevent_event_cb eventcb;
    void *arg;

    bufferevent_getcb(bev, NULL, &writecb, &eventcb, &arg);
    bufferevent_setcb(bev, NULL, writecb, eventcb, arg);
    bufferevent_enable(bev, EV_READ);
}

/* Parse the request into q, or answer the error and return -1. */
static int search_parse(server *srv, struct evhttp_request *req, sreq *q)
{
    sreq_limits lim = {srv->cfg->max_query, CONFIG_MAX_TIMEOUT_MS, srv->names, srv->sources->n};
    sreq_error e;
    int rc;

    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        if (len > srv->cfg->max_body)
            rc = sreq_fail(&e, 413, "body_too_large", "body: %zu bytes, the limit is %zu",
                           len, srv->cfg->max_body);
        else
            rc = sreq_from_json(q, (const char *)evbuffer_pullup(in, -1), len, &lim, &e);
    } else {
        const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
        rc = sreq_from_query(q, qs, &lim, &e);
    }
    if (rc != 0)
        server_reply_error(req, e.status, e.code, e.message);
    return rc;
}

/* The instances a request asked for: all, or the named ones in order. */
static size_t search_select(server *srv, const sreq *q, instance **out)
{
    size_t n = 0;

    if (q->nsources == 0) {
        for (size_t i = 0; i < srv->sources->n; i++)
            out[n++] = &srv->sources->v[i];
        return n;
    }
    for (size_t i = 0; i < q->nsources; i++)
        out[n++] = instance_set_find(srv->sources, q->sources[i]);
    return n;
}

void search_handle(server *srv, struct evhttp_request *req)
{
    search *s = calloc(1, sizeof *s);
    instance **sel = NULL;
    size_t nsel;
    int timeout;

    if (!s || !(sel = calloc(srv->sources->n + 1, sizeof *sel))) {
        server_reply_error(req, 503, "overloaded", "out of memory");
        goto fail;
    }
    s->t0_us = clock_us();
    if (search_parse(srv, req, &s->q) != 0)
        goto fail;
    if (s->q.generate) {
        server_reply_error(req, 501, "not_implemented",
                           "generate: answer generation is not available yet; "
                           "send \"generate\": false");
        goto fail;
    }
    s->srv = srv;
    s->req = req;
    search_link(srv, s);
    nsel = search_select(srv, &s->q, sel);
    timeout = s->q.timeout_ms ? s->q.timeout_ms : srv->cfg->timeout_ms;
    s->f = fanout_start(srv->base, sel, nsel, s->q.query, s->q.k, clock_ms() + timeout,
                        search_done, s);
    free(sel);
    if (!s->f) {
        server_reply_error(req, 503, "overloaded", "out of memory starting the search");
        search_free(s);
        return;
    }
    s->conn = evhttp_request_get_connection(req);
    if (s->conn) {
        evhttp_connection_set_closecb(s->conn, search_client_gone, s);
        search_watch_close(s->conn);
    }
    return;
fail:
    free(sel);
    if (s)
        sreq_release(&s->q);
    free(s);
}

void search_cancel_all(server *srv)
{
    while (srv->live) {
        search *s = srv->live;
        search_detach(s);
        server_reply_error(s->req, 503, "shutting_down", "the server is shutting down");
        search_free(s);
    }
}
