/*
 * fakeup_sse.c - server-sent event replies: a 200 text/event-stream sent
 * event by event from a timer, token_delay_ms apart (split mode: in 1 to 3
 * byte pieces SPLIT_GAP_MS apart), until the last event or until a mode
 * damages the stream (fakeup_fault_event). The upstream builds the events;
 * this file only sends them.
 */
#include "fakeup.h"

#include <stdlib.h>

#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

enum { SPLIT_GAP_MS = 1 };   /* gap between the pieces of a split event */

static void fakeup_sse_end(struct fakeup_pending *p)
{
	struct evhttp_request *req = p->req;

	fakeup.stats.streams_completed++;
	fakeup_pending_detach(p);
	evhttp_send_reply_end(req);
}

/* Builds the next event, damaged as the mode says. */
static void fakeup_sse_next(struct fakeup_pending *p)
{
	struct fakeup_sse *st = &p->st;
	int step = st->step++;

	st->after = st->event(st->ctx, step, st->ev,
	                      fakeup_reply_pad_size(&p->b))
	                ? AFTER_END : AFTER_NEXT;
	fakeup_fault_event(&p->b, st, step);
}

/* Sends the next piece of the stream and schedules the one after. */
static void fakeup_sse_tick(struct fakeup_pending *p)
{
	struct fakeup_sse *st = &p->st;
	size_t left, n;

	/* Before each chunk, make sure the client is still there. Our close
	 * callback normally ends p as soon as it leaves; this also covers a
	 * request libevent detached from its connection without calling it. */
	if (evhttp_request_get_connection(p->req) == NULL) {
		fakeup_pending_abandon(p);
		return;
	}
	if (evbuffer_get_length(st->ev) == 0)
		fakeup_sse_next(p);
	left = evbuffer_get_length(st->ev);
	n = p->b.mode == MODE_SPLIT ? 1 + st->split_count++ % 3 : left;
	evbuffer_remove_buffer(st->ev, fakeup.body, n < left ? n : left);
	left = evbuffer_get_length(st->ev);
	if (left == 0 && st->after == AFTER_CUT) {
		fakeup_fault_send_last(p, fakeup.body);
		return;
	}
	evhttp_send_reply_chunk(p->req, fakeup.body);
	if (left > 0) {
		fakeup_pending_arm(p, SPLIT_GAP_MS, fakeup_sse_tick);
	} else if (st->after == AFTER_END) {
		fakeup_sse_end(p);
	} else if (st->after == AFTER_STALL) {
		p->stage = ST_STALL;
		fakeup.stats.stalls++;
	} else {
		fakeup_pending_arm(p, p->b.token_delay_ms, fakeup_sse_tick);
	}
}

/* Small SSE writes must leave at once: with Nagle's algorithm they would
 * wait for the client's delayed ACKs and be merged. */
static void fakeup_sse_nodelay(struct evhttp_connection *evcon)
{
	evutil_socket_t fd =
	    bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	int one = 1;

	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void fakeup_sse_start(struct evhttp_request *req, struct fakeup_pending *p,
                      const struct fakeup_behaviour *b, fakeup_serve_fn *serve,
                      fakeup_event_fn *event, void *ctx, int tokens)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (p == NULL && (p = fakeup_pending_new(req, b, serve)) == NULL)
		goto fail;
	if ((p->st.ev = evbuffer_new()) == NULL)
		goto fail;
	p->stage = ST_STREAM;
	p->sse = true;
	p->st.event = event;
	p->st.ctx = ctx;
	p->st.tokens = tokens;
	fakeup.stats.streams_started++;
	fakeup_sse_nodelay(p->evcon);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_send_reply_start(req, 200, NULL);
	fakeup_sse_tick(p);
	return;
fail:
	free(ctx);
	fakeup_reply_error(req, p, 500, "server_error", "out of memory");
}
