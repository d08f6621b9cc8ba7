/*
 * reply -- whole and streamed HTTP replies (see reply.h).
 *
 * Backpressure: a streamed reply never queues more than max_output bytes
 * the client has not read.  Past that the owner is asked to pause until the
 * output drains; if it does not drain within stall_ms, the owner is told to
 * end the reply with an error, before the connection's own write timeout
 * would end it without one.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "clock.h"
#include "jdump.h"
#include "log.h"
#include "reply.h"
#include "sse.h"

/* ------------------------------------------------------------ whole -- */

static void reply_free_dumped(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)data);
}

/* The reply when a reply cannot be built: still JSON, and built from
 * nothing that can fail. */
static void reply_internal(struct evhttp_request *req, struct evbuffer *out)
{
    static const char body[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"the reply could not be built "
        "(out of memory)\"}}\n";

    evbuffer_drain(out, evbuffer_get_length(out));
    evbuffer_add_reference(out, body, sizeof body - 1, NULL, NULL);
    evhttp_send_reply(req, 500, "Internal Server Error", out);
}

/* Send text as req's JSON reply; built is 0 when it could not be made
 * whole (a 500 then).  Empties text. */
static void reply_text(struct evhttp_request *req, int status, buf *text, int built)
{
    struct evbuffer *out = evbuffer_new();
    const char *reason = status == 200 ? "OK" : NULL;

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    if (!out) {
        buf_release(text);
        evhttp_send_error(req, 500, NULL); /* nothing left to build JSON with */
        return;
    }
    /* The evbuffer takes the text as it is; it frees it once sent. */
    if (!built || evbuffer_add_reference(out, text->p, text->len, reply_free_dumped, NULL)) {
        buf_release(text);
        reply_internal(req, out);
    } else {
        *text = (buf){0};
        evhttp_send_reply(req, status, reason, out);
    }
    evbuffer_free(out);
}

void reply_json(struct evhttp_request *req, int status, json_t *body)
{
    buf text = {0};
    int built = jdump_add(&text, body, REPLY_MAX_JSON) == 0 &&
                buf_add(&text, "\n", 1, REPLY_MAX_JSON) == 0;

    json_decref(body);
    reply_text(req, status, &text, built);
}

void reply_error(struct evhttp_request *req, int status, const char *code, const char *message)
{
    reply_json(req, status, json_pack("{s{ss ss}}", "error", "code", code, "message", message));
}

int reply_method_ok(struct evhttp_request *req, int allowed, const char *allow)
{
    char msg[128];

    if (evhttp_request_get_command(req) & allowed)
        return 1;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
    snprintf(msg, sizeof msg, "method not allowed here; use %s", allow);
    reply_error(req, 405, "method_not_allowed", msg);
    return 0;
}

/* ------------------------------------------------------- connection -- */

static void reply_client_gone(void *arg, const char *why)
{
    reply *r = arg;

    r->conn = NULL;
    /* libevent has disowned the pending request (it no longer has a
     * connection); freeing it is ours to do. */
    evhttp_request_free(r->req);
    r->req = NULL;
    r->hooks->gone(r->arg, why);
}

/* Once libevent has read a whole request it stops reading the connection,
 * so a client that leaves while its search runs would go unnoticed until the
 * reply is written.  Reading with no read callback -- what libevent itself
 * does while it writes a reply -- lets EOF reach evhttp's error path, which
 * disowns the request and runs the close callback.  Bytes a client pipelines
 * meanwhile wait in the input buffer until the reply is sent, up to conn's
 * cap.  A client that half-closes its socket after the request is taken to
 * have left. */
static void reply_watch_close(struct evhttp_request *req)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
    bufferevent_data_cb writecb;
    bufferevent_event_cb eventcb;
    void *arg;

    bufferevent_getcb(bev, NULL, &writecb, &eventcb, &arg);
    bufferevent_setcb(bev, NULL, writecb, eventcb, arg);
    bufferevent_enable(bev, EV_READ);
}

void reply_init(reply *r, struct event_base *base, struct evhttp_request *req, conn *c,
                size_t max_output, long stall_ms, const reply_hooks *hooks, void *arg)
{
    *r = (reply){.req = req, .conn = c, .base = base, .max_output = max_output,
                 .stall_ms = stall_ms, .hooks = hooks, .arg = arg};
    if (c) {
        conn_watch(c, reply_client_gone, r);
        reply_watch_close(req);
    }
}

void reply_init_collect(reply *r, struct event_base *base, reply_collect_cb collect, void *arg)
{
    *r = (reply){.base = base, .collect = collect, .collect_arg = arg};
}

int reply_open(const reply *r)
{
    return r->req != NULL || r->collect != NULL;
}

void reply_detach(reply *r)
{
    if (r->conn)
        conn_unwatch(r->conn);
    r->conn = NULL;
}

void reply_release(reply *r)
{
    reply_detach(r);
    if (r->stall)
        event_free(r->stall);
    r->stall = NULL;
}

void reply_send_json(reply *r, int status, json_t *body)
{
    reply_collect_cb collect = r->collect;

    reply_detach(r);
    r->collect = NULL;
    if (collect)
        collect(r->collect_arg, status, body);
    else if (r->req)
        reply_json(r->req, status, body);
    else
        json_decref(body);
    r->req = NULL;
}

void reply_send_text(reply *r, int status, buf *text)
{
    assert(!r->collect);
    reply_detach(r);
    if (r->req)
        reply_text(r->req, status, text, 1);
    else
        buf_release(text);
    r->req = NULL;
}

void reply_send_error(reply *r, int status, const char *code, const char *message)
{
    reply_send_json(r, status, json_pack("{s{ss ss}}", "error", "code", code, "message", message));
}

/* --------------------------------------------------------- streamed -- */

/* The client read everything sent so far: let the producer go on. */
static void reply_drained(struct evhttp_connection *evcon, void *arg)
{
    reply *r = arg;

    (void)evcon;
    if (!r->paused)
        return;
    r->paused = 0;
    evtimer_del(r->stall);
    r->hooks->pause(r->arg, 0);
}

static void reply_stalled(evutil_socket_t fd, short what, void *arg)
{
    reply *r = arg;
    char msg[96];

    (void)fd;
    (void)what;
    snprintf(msg, sizeof msg, "the client read nothing of the stream for %ld ms", r->stall_ms);
    log_msg(LOG_INFO, "search: %s; ending it", msg);
    r->hooks->stalled(r->arg, msg);
}

/* Past max_output unread bytes, pause the producer until the client
 * catches up (reply_drained), for at most stall_ms (reply_stalled). */
static void reply_backpressure(reply *r)
{
    struct timeval tv = clock_timeval(r->stall_ms);

    if (r->paused || !r->conn || conn_unsent(r->conn) <= r->max_output)
        return;
    if (!r->stall && !(r->stall = evtimer_new(r->base, reply_stalled, r)))
        return;
    if (!r->hooks->pause(r->arg, 1))
        return;
    r->paused = 1;
    evtimer_add(r->stall, &tv);
}

void reply_stream_start(reply *r)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);

    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    evhttp_send_reply_start(r->req, 200, "OK");
}

/* reply_drained runs once the client has read all of it. */
void reply_stream_send(reply *r, const char *text, size_t len)
{
    struct evbuffer *buf;

    if (r->req && (buf = evbuffer_new())) {
        evbuffer_add(buf, text, len);
        evhttp_send_reply_chunk_with_cb(r->req, buf, reply_drained, r);
        evbuffer_free(buf);
        reply_backpressure(r);
    }
}

void reply_stream_event(reply *r, const char *event, json_t *data)
{
    static const char oom[] = "event: error\ndata: {\"code\":\"internal\",\"message\":"
                              "\"an event could not be built (out of memory)\"}\n\n";
    char *text = data ? json_dumps(data, REPLY_JSON_FLAGS) : NULL;
    char *frame = text ? sse_format(event, text) : NULL;

    json_decref(data);
    if (frame)
        reply_stream_send(r, frame, strlen(frame));
    else
        reply_stream_send(r, oom, sizeof oom - 1);
    free(text);
    free(frame);
}

void reply_stream_end(reply *r)
{
    reply_detach(r);
    if (r->req)
        evhttp_send_reply_end(r->req);
    r->req = NULL;
}
