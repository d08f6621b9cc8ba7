/*
 * search -- one /search (or /v1/chat/completions) request from arrival to
 * answer: retrieval (fan-out, fusion), then generation, then the reply as
 * one JSON document or as Server-Sent Events while each stage completes.
 *
 * Ownership: a search is on its server's live list from acceptance until it
 * is freed, which happens exactly once, in search_release, when both are
 * true: the request is over (answered, or its client left) and no
 * generation is in flight (a cancelled generation still calls back, and
 * that callback needs the search).  The search stops watching its
 * connection before the reply ends, so a close can never reach a freed
 * search.
 *
 * Backpressure: a streamed reply never queues more than max_output bytes
 * the client has not read.  Past that the LLM transfer is paused until the
 * output drains; if it does not drain within half the idle timeout, the
 * stream ends with an error.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "chat.h"
#include "clock.h"
#include "fanout.h"
#include "fuse.h"
#include "gen.h"
#include "log.h"
#include "search.h"
#include "sreq.h"
#include "sse.h"

typedef enum search_mode {
    SEARCH_JSON,      /* /search, one JSON answer */
    SEARCH_EVENTS,    /* /search as Server-Sent Events */
    SEARCH_CHAT,      /* /v1/chat/completions, one JSON answer */
    SEARCH_CHAT_SSE   /* /v1/chat/completions, streamed chunks */
} search_mode;

typedef struct search {
    server *srv;
    struct evhttp_request *req;       /* NULL once the client left */
    conn *conn;                       /* watched until the reply ends; may be NULL */
    sreq q;
    search_mode mode;
    int over;                         /* answered, or the client left */
    int64_t t0_us;
    fanout *f;
    json_t *contexts, *sources;       /* after retrieval (owned) */
    int partial;
    double retrieval_ms;
    gen *g;                           /* generation in flight */
    json_t *answer, *citations, *generation;  /* after generation (owned) */
    double generation_ms;
    char *chat_model;                 /* the model name a chat client asked for */
    int paused;                       /* generation paused: the client is behind */
    struct event *stall;              /* ends a stream whose client stays behind */
    struct search *prev, *next;       /* srv->live */
} search;

static void search_complete(search *s);

/* -------------------------------------------------------- lifecycle -- */

static void search_link(server *srv, search *s)
{
    s->next = srv->live;
    if (srv->live)
        srv->live->prev = s;
    srv->live = s;
    srv->nlive++;
}

/* Free s once the request is over and nothing will call back into it. */
static void search_release(search *s)
{
    server *srv = s->srv;

    if (!s->over || s->g)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->live = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->nlive--;
    fanout_free(&s->f);
    sreq_release(&s->q);
    json_decref(s->contexts);
    json_decref(s->sources);
    json_decref(s->answer);
    json_decref(s->citations);
    json_decref(s->generation);
    free(s->chat_model);
    if (s->stall)
        event_free(s->stall);
    free(s);
}

/* Stop watching the connection so its close cannot reach s. */
static void search_detach(search *s)
{
    if (s->conn)
        conn_unwatch(s->conn);
    s->conn = NULL;
}

/* End the request: stop retrieval and generation, then free when safe. */
static void search_over(search *s)
{
    search_detach(s);
    s->over = 1;
    fanout_free(&s->f);
    if (s->g)
        gen_cancel(s->g);
    search_release(s);
}

static void search_client_gone(void *arg, const char *why)
{
    search *s = arg;

    log_msg(LOG_DEBUG, "search: %s before the answer; cancelling the search", why);
    s->conn = NULL;
    /* libevent has disowned the pending request (it no longer has a
     * connection); freeing it is ours to do. */
    evhttp_request_free(s->req);
    s->req = NULL;
    search_over(s);
}

/* Once libevent has read a whole request it stops reading the connection,
 * so a client that leaves while its search runs would go unnoticed until the
 * reply is written.  Reading with no read callback -- what libevent itself
 * does while it writes a reply -- lets EOF reach evhttp's error path, which
 * disowns the request and runs the close callback.  Bytes a client pipelines
 * meanwhile wait in the input buffer until the reply is sent, up to conn's
 * cap.  A client that half-closes its socket after the request is taken to
 * have left. */
static void search_watch_close(struct evhttp_request *req)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
    bufferevent_data_cb writecb;
    bufferevent_event_cb eventcb;
    void *arg;

    bufferevent_getcb(bev, NULL, &writecb, &eventcb, &arg);
    bufferevent_setcb(bev, NULL, writecb, eventcb, arg);
    bufferevent_enable(bev, EV_READ);
}

static double search_ms(int64_t us)
{
    return (double)((us + 50) / 100) / 10.0; /* 0.1 ms resolution */
}

static int search_streams(const search *s)
{
    return s->mode == SEARCH_EVENTS || s->mode == SEARCH_CHAT_SSE;
}

/* ----------------------------------------------------------- events -- */

static void search_fail(search *s, int status, const char *code, const char *message);

/* The client read everything sent so far: let generation go on. */
static void search_drained(struct evhttp_connection *evcon, void *arg)
{
    search *s = arg;

    (void)evcon;
    if (!s->paused)
        return;
    s->paused = 0;
    evtimer_del(s->stall);
    if (s->g)
        gen_pause(s->g, 0);
}

static void search_stalled(evutil_socket_t fd, short what, void *arg)
{
    search *s = arg;
    char msg[96];

    (void)fd;
    (void)what;
    snprintf(msg, sizeof msg, "the client read nothing of the stream for %ld ms",
             s->srv->cfg->idle_timeout_ms / 2);
    log_msg(LOG_INFO, "search: %s; ending it", msg);
    search_fail(s, 0, "client_too_slow", msg);
}

/* Past max_output unread bytes, pause generation until the client catches
 * up (search_drained), for at most half the idle timeout (search_stalled):
 * the stream then ends with an error event, before the connection's own
 * write timeout would end it without one. */
static void search_backpressure(search *s)
{
    struct timeval tv = clock_timeval(s->srv->cfg->idle_timeout_ms / 2);

    if (s->paused || !s->conn || !s->g ||
        conn_unsent(s->conn) <= (size_t)s->srv->cfg->max_output)
        return;
    if (!s->stall && !(s->stall = evtimer_new(s->srv->base, search_stalled, s)))
        return;
    s->paused = 1;
    evtimer_add(s->stall, &tv);
    gen_pause(s->g, 1);
}

/* Send len bytes of a streamed reply.  search_drained runs once the client
 * has read all of it. */
static void search_send(search *s, const char *text, size_t len)
{
    struct evbuffer *buf;

    if (s->req && (buf = evbuffer_new())) {
        evbuffer_add(buf, text, len);
        evhttp_send_reply_chunk_with_cb(s->req, buf, search_drained, s);
        evbuffer_free(buf);
        search_backpressure(s);
    }
}

/* Send one SSE event (data is stolen); event NULL sends a bare data line,
 * as OpenAI's stream format does.  An event that cannot be built becomes
 * an error event built from nothing that can fail. */
static void search_send_event(search *s, const char *event, json_t *data)
{
    static const char oom[] = "event: error\ndata: {\"code\":\"internal\",\"message\":"
                              "\"an event could not be built (out of memory)\"}\n\n";
    char *text = data ? json_dumps(data, SERVER_JSON_FLAGS) : NULL;
    char *frame = text ? sse_format(event, text) : NULL;

    json_decref(data);
    if (frame)
        search_send(s, frame, strlen(frame));
    else
        search_send(s, oom, sizeof oom - 1);
    free(text);
    free(frame);
}

static void search_send_raw(search *s, const char *text)
{
    search_send(s, text, strlen(text));
}

static void search_start_events(search *s)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(s->req);

    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    evhttp_send_reply_start(s->req, 200, "OK");
}

/* Answer an error in the request's format (a JSON error, or an error event
 * that ends the stream; status is then unused) and end the request. */
static void search_fail(search *s, int status, const char *code, const char *message)
{
    search_detach(s);
    if (search_streams(s)) {
        search_send_event(s, s->mode == SEARCH_EVENTS ? "error" : NULL,
                          json_pack("{ss ss}", "code", code, "message", message));
        if (s->req)
            evhttp_send_reply_end(s->req);
    } else if (s->req) {
        server_reply_error(s->req, status, code, message);
    }
    s->req = NULL;
    search_over(s);
}

/* ------------------------------------------------------- retrieval -- */

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

/* A source settled: in event mode, say so at once. */
static void search_slot_settled(void *arg, const fanout_slot *sl)
{
    search *s = arg;
    json_t *ev;

    if (s->mode != SEARCH_EVENTS)
        return;
    ev = search_source_json(sl);
    json_object_set_new(ev, "name", json_string(sl->inst->name));
    search_send_event(s, "source", ev);
}

static int search_collect(search *s)
{
    size_t n;
    fanout_slot *const *slots = fanout_slots(s->f, &n);

    s->sources = json_object();
    s->contexts = search_contexts(slots, n, s->q.k);
    for (size_t i = 0; i < n && s->sources; i++) {
        json_object_set_new(s->sources, slots[i]->inst->name, search_source_json(slots[i]));
        s->partial |= slots[i]->state == FANOUT_ERROR || slots[i]->state == FANOUT_TIMEOUT;
    }
    s->retrieval_ms = search_ms(fanout_elapsed_us(s->f));
    return s->sources && s->contexts ? 0 : -1;
}

/* ------------------------------------------------------ generation -- */

static int search_token(void *arg, const char *piece, size_t len)
{
    search *s = arg;

    if (!s->req)
        return 1;
    if (s->mode == SEARCH_EVENTS)
        search_send_event(s, "token", json_pack("{ss%}", "text", piece, len));
    else if (s->mode == SEARCH_CHAT_SSE)
        search_send_event(s, NULL, json_pack("{ss ss sI ss s[{sI s{ss%} sn}]}",
                                             "id", "chatcmpl-ragd", "object", "chat.completion.chunk",
                                             "created", (json_int_t)time(NULL), "model",
                                             s->chat_model ? s->chat_model : "ragd", "choices",
                                             "index", (json_int_t)0, "delta", "content", piece, len,
                                             "finish_reason"));
    return 0;
}

static void search_generated(void *arg, const gen_result *r)
{
    search *s = arg;
    json_t *cites = json_array();

    s->g = NULL;
    for (size_t i = 0; i < r->ncitations && cites; i++)
        json_array_append_new(cites, json_integer(r->citations[i]));
    s->answer = r->answer ? json_string(r->answer) : json_null();
    s->citations = cites;
    s->generation_ms = r->latency_ms;
    s->generation = json_pack("{ss ss sf so}", "status", gen_status_name(r),
                              "generator", r->generator, "latency_ms", r->latency_ms,
                              "model", r->model ? json_string(r->model) : json_null());
    if (s->generation && r->error)
        json_object_set_new(s->generation, "error", json_string(r->error));
    if (s->over) {
        search_release(s); /* the client left; this was the last callback */
        return;
    }
    if (r->status != RAGD_OK && s->mode == SEARCH_EVENTS)
        search_send_event(s, "error", json_pack("{ss ss ss}", "stage", "generation", "code",
                                                r->status == RAGD_ETIMEDOUT ? "timeout" : "failed",
                                                "message", r->error ? r->error : "failed"));
    search_complete(s);
}

/* The contexts as the generator sees them, borrowing s->contexts' strings. */
static ctx_source *search_ctx_sources(const search *s, size_t *n)
{
    size_t i;
    json_t *c;
    ctx_source *v = calloc(json_array_size(s->contexts) + 1, sizeof *v);

    *n = 0;
    if (!v)
        return NULL;
    json_array_foreach(s->contexts, i, c) {
        v[i].rank = (int)json_integer_value(json_object_get(c, "rank"));
        v[i].source = json_string_value(json_object_get(c, "source"));
        v[i].id = json_string_value(json_object_get(c, "id"));
        v[i].title = json_string_value(json_object_get(c, "title"));
        v[i].url = json_string_value(json_object_get(c, "url"));
        v[i].text = json_string_value(json_object_get(c, "text"));
    }
    *n = json_array_size(s->contexts);
    return v;
}

static void search_generate(search *s)
{
    static const gen_callbacks cbs = {search_token, search_generated};
    const server *srv = s->srv;
    size_t n;
    ctx_source *src = search_ctx_sources(s, &n);
    int rc = RAGD_ENOMEM;

    if (src)
        rc = gen_start(&srv->genv, s->q.query, src, n, search_streams(s),
                       clock_ms() + srv->cfg->llm_timeout_ms, &cbs, s, &s->g);
    free(src);
    if (rc != RAGD_OK) {
        gen_result r = {.status = RAGD_ERR, .generator = srv->genv.llm ? "llm" : "extractive",
                        .error = "generation could not start"};
        search_generated(s, &r);
    }
}

static void search_retrieved(void *arg, fanout *f)
{
    search *s = arg;

    (void)f;
    if (search_collect(s) != 0) {
        search_fail(s, 500, "internal", "out of memory building the response");
        return;
    }
    if (s->mode == SEARCH_EVENTS)
        search_send_event(s, "contexts",
                          json_pack("{sO sO sb s{sf}}", "contexts", s->contexts, "sources",
                                    s->sources, "partial", s->partial, "timing_ms", "retrieval",
                                    s->retrieval_ms));
    if (s->q.generate)
        search_generate(s);
    else
        search_complete(s);
}

/* ----------------------------------------------------------- replies -- */

static json_t *search_timing(const search *s)
{
    json_t *t = json_pack("{sf sf}", "retrieval", s->retrieval_ms, "total",
                          search_ms(clock_us() - s->t0_us));

    if (t && s->generation)
        json_object_set_new(t, "generation", json_real(s->generation_ms));
    return t;
}

static json_t *search_body(const search *s)
{
    json_t *o = json_pack("{ss sO sO sb so}", "query", s->q.query, "contexts", s->contexts,
                          "sources", s->sources, "partial", s->partial, "timing_ms",
                          search_timing(s));

    if (o && s->generation) {
        json_object_set(o, "answer", s->answer);
        json_object_set(o, "citations", s->citations);
        json_object_set(o, "generation", s->generation);
    }
    return o;
}

/* The contexts the answer cites, as chat clients get them. */
static json_t *search_chat_citations(const search *s)
{
    json_t *out = json_array(), *n;
    size_t i;

    json_array_foreach(s->citations, i, n) {
        json_t *c = json_array_get(s->contexts, (size_t)json_integer_value(n) - 1);
        json_array_append_new(out, json_pack("{sO sO sO sO sO}", "n", n, "id",
                                             json_object_get(c, "id"), "title",
                                             json_object_get(c, "title"), "url",
                                             json_object_get(c, "url"), "source",
                                             json_object_get(c, "source")));
    }
    return out;
}

static json_t *search_chat_body(const search *s)
{
    const char *status = json_string_value(json_object_get(s->generation, "status"));
    /* An empty answer is still an answer: the chat client gets "" and stop. */
    int ok = status && (strcmp(status, "ok") == 0 || strcmp(status, "empty") == 0);

    return json_pack("{ss ss sI ss s[{sI s{ss so} ss}] s{sI sI sI} so so}",
                     "id", "chatcmpl-ragd", "object", "chat.completion",
                     "created", (json_int_t)time(NULL),
                     "model", s->chat_model ? s->chat_model : "ragd",
                     "choices", "index", (json_int_t)0, "message", "role", "assistant",
                     "content", ok ? json_incref(s->answer) : json_string(""),
                     "finish_reason", ok ? "stop" : "error",
                     "usage", "prompt_tokens", (json_int_t)0, "completion_tokens", (json_int_t)0,
                     "total_tokens", (json_int_t)0,
                     "citations", search_chat_citations(s),
                     "ragd", search_body(s));
}

static void search_complete(search *s)
{
    search_detach(s);
    switch (s->mode) {
    case SEARCH_JSON:
        server_reply_json(s->req, 200, search_body(s));
        break;
    case SEARCH_CHAT:
        server_reply_json(s->req, 200, search_chat_body(s));
        break;
    case SEARCH_EVENTS:
        search_send_event(s, "done", json_pack("{so so so sb so}", "answer",
                                               s->answer ? json_incref(s->answer) : json_null(),
                                               "citations", s->citations
                                               ? json_incref(s->citations) : json_array(),
                                               "generation", s->generation
                                               ? json_incref(s->generation) : json_null(),
                                               "partial", s->partial,
                                               "timing_ms", search_timing(s)));
        evhttp_send_reply_end(s->req);
        break;
    case SEARCH_CHAT_SSE:
        search_send_event(s, NULL, json_pack("{ss ss sI ss s[{sI s{} ss}] so}", "id",
                                             "chatcmpl-ragd", "object", "chat.completion.chunk",
                                             "created", (json_int_t)time(NULL), "model",
                                             s->chat_model ? s->chat_model : "ragd", "choices",
                                             "index", (json_int_t)0, "delta", "finish_reason",
                                             "stop", "citations", search_chat_citations(s)));
        search_send_raw(s, "data: [DONE]\n\n");
        evhttp_send_reply_end(s->req);
        break;
    }
    s->req = NULL;
    search_over(s);
}

/* ------------------------------------------------------------ start -- */

/* Parse a /search request into q, or answer the error and return -1. */
static int search_parse(server *srv, struct evhttp_request *req, sreq *q)
{
    sreq_limits lim = {srv->cfg->max_query, CONFIG_MAX_TIMEOUT_MS, srv->names, srv->sources->n,
                       (int)srv->cfg->max_k};
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
            out[n++] = srv->sources->v[i];
        return n;
    }
    for (size_t i = 0; i < q->nsources; i++)
        out[n++] = instance_set_find(srv->sources, q->sources[i]);
    return n;
}

/* Start retrieval for a parsed, linked search. */
static void search_begin(search *s, conn *c)
{
    server *srv = s->srv;
    instance **sel = calloc(srv->sources->n + 1, sizeof *sel);
    int timeout = s->q.timeout_ms ? s->q.timeout_ms : srv->cfg->timeout_ms;
    size_t nsel;

    if (search_streams(s))
        search_start_events(s); /* first: sources may settle inside fanout_start */
    if (sel) {
        nsel = search_select(srv, &s->q, sel);
        s->f = fanout_start(srv->base, sel, nsel, s->q.query, s->q.k, clock_ms() + timeout,
                            search_retrieved, search_slot_settled, s);
        free(sel);
    }
    if (!s->f) {
        search_fail(s, 503, "overloaded", "out of memory starting the search");
        return;
    }
    if ((s->conn = c)) {
        conn_watch(c, search_client_gone, s);
        search_watch_close(s->req);
    }
}

static search *search_new(server *srv, struct evhttp_request *req)
{
    search *s = calloc(1, sizeof *s);

    if (!s) {
        server_reply_error(req, 503, "overloaded", "out of memory");
        return NULL;
    }
    s->srv = srv;
    s->req = req;
    s->t0_us = clock_us();
    return s;
}

static int search_wants_events(struct evhttp_request *req)
{
    const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
    return accept && strstr(accept, "text/event-stream") != NULL;
}

void search_handle(server *srv, struct evhttp_request *req, conn *c)
{
    search *s = search_new(srv, req);

    if (!s)
        return;
    if (search_parse(srv, req, &s->q) != 0) {
        free(s);
        return;
    }
    s->mode = s->q.stream || search_wants_events(req) ? SEARCH_EVENTS : SEARCH_JSON;
    search_link(srv, s);
    search_begin(s, c);
}

/* Turn a chat request into a search request, or answer the error. */
static int search_parse_chat(server *srv, struct evhttp_request *req, search *s)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    sreq_limits lim = {srv->cfg->max_query, CONFIG_MAX_TIMEOUT_MS, srv->names, srv->sources->n,
                       (int)srv->cfg->max_k};
    sreq_error e;
    chat_req c;

    if (len > srv->cfg->max_body) {
        server_reply_error(req, 413, "body_too_large", "body: too large");
        return -1;
    }
    if (chat_from_json(&c, (const char *)evbuffer_pullup(in, -1), len, &lim, &e) != 0) {
        chat_release(&c);
        server_reply_error(req, e.status, e.code, e.message);
        return -1;
    }
    /* The search takes over what c owns. */
    s->q = c.q;
    s->chat_model = c.model;
    s->mode = c.stream ? SEARCH_CHAT_SSE : SEARCH_CHAT;
    return 0;
}

void search_handle_chat(server *srv, struct evhttp_request *req, conn *c)
{
    search *s = search_new(srv, req);

    if (!s)
        return;
    if (search_parse_chat(srv, req, s) != 0) {
        free(s->chat_model);
        free(s);
        return;
    }
    search_link(srv, s);
    search_begin(s, c);
}

void search_cancel_all(server *srv)
{
    for (search *s = srv->live, *next; s; s = next) {
        next = s->next;
        if (!s->over)
            search_fail(s, 503, "shutting_down", "the server is shutting down");
    }
}
