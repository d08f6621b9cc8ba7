/*
 * fakeup_pending.c - requests fakeup answers after their request callback
 * has returned: delayed, hanging, streaming, cut or stalled ones. It keeps
 * them in one list, watches their clients leave, and runs each one's next
 * step from its timer. What a step does is its caller's business; this
 * file only guarantees that a pending state is freed exactly once.
 */
#include "fakeup.h"

#include <stdlib.h>

#include <event2/bufferevent.h>

static void fakeup_pending_on_timer(evutil_socket_t fd, short what,
                                    void *arg)
{
	struct fakeup_pending *p = arg;

	(void)fd;
	(void)what;
	p->on_timer(p);
}

static void fakeup_pending_on_close(struct evhttp_connection *evcon,
                                    void *arg)
{
	(void)evcon;
	fakeup_pending_abandon(arg);
}

/*
 * Once libevent has read a whole request it stops reading the connection,
 * so while we hold a request without having started the reply it would not
 * notice the client leaving. Reading with no read callback, exactly what
 * libevent itself does while it writes a reply, lets EOF reach evhttp's
 * error callback, which detaches the request from the connection and frees
 * the connection, calling our close callback. Bytes the client sends
 * meanwhile (a pipelined request) wait in the input buffer, where libevent
 * picks them up after the reply.
 */
static void fakeup_pending_watch_close(struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	bufferevent_data_cb writecb;
	bufferevent_event_cb eventcb;
	void *arg;

	bufferevent_getcb(bev, NULL, &writecb, &eventcb, &arg);
	bufferevent_setcb(bev, NULL, writecb, eventcb, arg);
	bufferevent_enable(bev, EV_READ);
}

struct fakeup_pending *fakeup_pending_new(struct evhttp_request *req,
                                          const struct fakeup_behaviour *b,
                                          fakeup_serve_fn *serve)
{
	struct fakeup_pending *p = calloc(1, sizeof *p);

	if (p == NULL)
		return NULL;
	p->timer = evtimer_new(fakeup.base, fakeup_pending_on_timer, p);
	if (p->timer == NULL) {
		free(p);
		return NULL;
	}
	p->req = req;
	p->evcon = evhttp_request_get_connection(req);
	p->b = *b;
	p->serve = serve;
	p->stage = ST_WAIT;
	p->next = fakeup.pending;
	if (fakeup.pending)
		fakeup.pending->prev = p;
	fakeup.pending = p;
	fakeup.active++;
	if (fakeup.active > fakeup.stats.max_active)
		fakeup.stats.max_active = fakeup.active;
	evhttp_connection_set_closecb(p->evcon, fakeup_pending_on_close, p);
	fakeup_pending_watch_close(p->evcon);
	return p;
}

void fakeup_pending_arm(struct fakeup_pending *p, int ms, fakeup_step_fn *fn)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	p->on_timer = fn;
	evtimer_add(p->timer, &tv);
}

/* Frees p and what it owns; the request and connection are not p's. */
static void fakeup_pending_free(struct fakeup_pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		fakeup.pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (p->stage == ST_HANG)
		fakeup.hanging--;
	fakeup.active--;
	event_free(p->timer);
	if (p->st.ev)
		evbuffer_free(p->st.ev);
	free(p->st.ctx);
	free(p);
}

void fakeup_pending_detach(struct fakeup_pending *p)
{
	evhttp_connection_set_closecb(p->evcon, NULL, NULL);
	fakeup_pending_free(p);
}

void fakeup_pending_count_cut(const struct fakeup_pending *p)
{
	if (p->sse)
		fakeup.stats.streams_cut++;
	else
		fakeup.stats.cuts++;
}

void fakeup_pending_abandon(struct fakeup_pending *p)
{
	if (p->stage == ST_CLOSING) {
		/* it was being cut anyway */
		fakeup_pending_count_cut(p);
	} else {
		fakeup.stats.abandoned++;
		if (p->sse)
			fakeup.stats.streams_aborted++;
	}
	/* A request evhttp detached from its dying connection is ours to free;
	 * one still attached is freed with the connection. */
	if (evhttp_request_get_connection(p->req) == NULL)
		evhttp_request_free(p->req);
	fakeup_pending_free(p);
}

void fakeup_pending_free_all(void)
{
	while (fakeup.pending)
		fakeup_pending_detach(fakeup.pending);
}
