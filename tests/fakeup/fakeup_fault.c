/*
 * fakeup_fault.c - what every mode does to a request, in one place: when a
 * request is held (delay, slow, hang, and the modes that must not run
 * inside the request callback), how fail, reset, drop and hang replace the
 * answer, how garbage, truncate, cut, stall and huge damage a JSON answer
 * and an SSE stream, and the seeded random draws that give ok requests a
 * fault. The endpoints build only the normal answer; they never look at
 * the mode, except to pad it (huge) or to pace a stream (split).
 */
#include "fakeup.h"

#include <stdio.h>

#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <sys/socket.h>

enum { TRUNCATE_TOKENS = 2 };   /* token events before the cut event */

/* The fault generator's state; fakeup_fault_seed restarts it. */
static uint64_t fakeup_fault_rng;

void fakeup_fault_seed(uint64_t seed)
{
	fakeup_fault_rng = seed;
}

/* splitmix64: small, fast and good enough to spread faults evenly; what
 * matters here is that a seed replays the same draws. */
static uint64_t fakeup_fault_next(void)
{
	uint64_t z = (fakeup_fault_rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int fakeup_fault_draw(const struct fakeup_behaviour *b)
{
	unsigned n = 0, k;
	int m;

	if (b->fault_rate == 0 || b->fault_mix == 0 ||
	    fakeup_fault_next() % PPM >= (uint64_t)b->fault_rate)
		return -1;
	for (m = 0; m < MODE_COUNT; m++)
		n += (b->fault_mix & MODE_BIT(m)) != 0;
	k = (unsigned)(fakeup_fault_next() % n);
	for (m = 0; m < MODE_COUNT; m++)
		if ((b->fault_mix & MODE_BIT(m)) && k-- == 0)
			break;
	return m;
}

/* How a connection is closed instead of (the rest of) an answer. */
enum close_how { CLOSE_RESET, CLOSE_DROP, CLOSE_CUT };

/* Closes p's connection and frees it: with a FIN (drop, cut), or aborted
 * with an RST (reset). SO_LINGER {1, 0} makes the final close() reset the
 * connection, but evhttp_connection_free calls shutdown(SHUT_WR) before
 * closing, which sends a FIN first and clients then see a clean EOF.
 * Dissolving the connection with connect(AF_UNSPEC) (see connect(2)) sends
 * the RST at once and leaves nothing for shutdown to send. Runs from p's
 * timer, never inside the request callback, so libevent is not in the
 * middle of using the connection. */
static void fakeup_fault_close(struct fakeup_pending *p, enum close_how how)
{
	struct evhttp_connection *evcon = p->evcon;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	evutil_socket_t fd = bufferevent_getfd(bev);
	struct linger lg = {1, 0};
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};

	if (how == CLOSE_RESET)
		fakeup.stats.resets++;
	else if (how == CLOSE_DROP)
		fakeup.stats.drops++;
	else
		fakeup_pending_count_cut(p);
	fakeup_pending_detach(p);
	if (how == CLOSE_RESET && fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		connect(fd, &unspec, sizeof unspec);
	}
	evhttp_connection_free(evcon);
}

static void fakeup_fault_cut(struct fakeup_pending *p)
{
	fakeup_fault_close(p, CLOSE_CUT);
}

/* The last bytes before a deliberate close have been written: close the
 * connection from a timer, outside libevent's write callback. */
static void fakeup_fault_on_flushed(struct evhttp_connection *evcon,
                                    void *arg)
{
	struct fakeup_pending *p = arg;

	(void)evcon;
	if (p->stage == ST_STREAM) {
		p->stage = ST_CLOSING;
		fakeup_pending_arm(p, 0, fakeup_fault_cut);
	}
}

void fakeup_fault_send_last(struct fakeup_pending *p, struct evbuffer *buf)
{
	evhttp_send_reply_chunk_with_cb(p->req, buf, fakeup_fault_on_flushed,
	                                p);
}

/* Answers req now that any delay is over; p is its pending state, or NULL
 * when answering from the request callback. */
static void fakeup_fault_respond(struct evhttp_request *req,
                                 struct fakeup_pending *p,
                                 const struct fakeup_behaviour *beh,
                                 fakeup_serve_fn *serve)
{
	const struct fakeup_behaviour b = *beh; /* beh may live in p */

	/* fakeup_fault_start gives every mode that needs one a pending
	 * state. */
	switch (b.mode) {
	case MODE_FAIL:
		fakeup_reply_error(req, p, b.status, "server_error",
		                   "fake failure");
		return;
	case MODE_RESET:
	case MODE_DROP:
		fakeup_fault_close(p, b.mode == MODE_RESET ? CLOSE_RESET
		                                           : CLOSE_DROP);
		return;
	case MODE_HANG:
		p->stage = ST_HANG;
		fakeup.hanging++;
		return;
	}
	serve(req, p, &b);
}

static void fakeup_fault_on_wait(struct fakeup_pending *p)
{
	fakeup_fault_respond(p->req, p, &p->b, p->serve);
}

void fakeup_fault_start(struct evhttp_request *req,
                        const struct fakeup_behaviour *b,
                        fakeup_serve_fn *serve)
{
	int wait = b->delay_ms + (b->mode == MODE_SLOW ? b->slow_ms : 0);
	struct fakeup_pending *p;

	if (wait == 0 && b->mode != MODE_RESET && b->mode != MODE_DROP &&
	    b->mode != MODE_HANG && b->mode != MODE_CUT &&
	    b->mode != MODE_STALL) {
		fakeup_fault_respond(req, NULL, b, serve);
		return;
	}
	if ((p = fakeup_pending_new(req, b, serve)) == NULL) {
		fakeup_reply_error(req, NULL, 500, "server_error",
		                   "out of memory");
		return;
	}
	fakeup_pending_arm(p, wait, fakeup_fault_on_wait);
}

void fakeup_fault_release(void)
{
	struct fakeup_pending *p;

	for (p = fakeup.pending; p; p = p->next) {
		if (p->stage != ST_HANG)
			continue;
		p->stage = ST_WAIT;
		p->b.mode = MODE_OK;
		fakeup.hanging--;
		fakeup_pending_arm(p, 0, fakeup_fault_on_wait);
	}
}

/* Promises fakeup.body with its Content-Length and sends the first half
 * of it; then the connection is closed once that half is out (cut), or
 * nothing more happens until the client leaves (stall). p must exist. */
static void fakeup_fault_partial(struct evhttp_request *req,
                                 struct fakeup_pending *p, bool cut)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	size_t len = evbuffer_get_length(fakeup.body);
	struct evbuffer *half = evbuffer_new();
	char clen[24];

	if (half == NULL) {
		evbuffer_drain(fakeup.body, len);
		fakeup_reply_error(req, p, 500, "server_error", "out of memory");
		return;
	}
	evbuffer_remove_buffer(fakeup.body, half, len / 2);
	evbuffer_drain(fakeup.body, evbuffer_get_length(fakeup.body));
	snprintf(clen, sizeof clen, "%zu", len);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Content-Length", clen);
	evhttp_send_reply_start(req, 200, NULL);
	if (cut) {
		p->stage = ST_STREAM;
		fakeup_fault_send_last(p, half);
	} else {
		p->stage = ST_STALL;
		fakeup.stats.stalls++;
		evhttp_send_reply_chunk(req, half);
	}
	evbuffer_free(half);
}

void fakeup_fault_answer(struct evhttp_request *req, struct fakeup_pending *p,
                         const struct fakeup_behaviour *b)
{
	switch (b->mode) {
	case MODE_GARBAGE:
		evbuffer_drain(fakeup.body, evbuffer_get_length(fakeup.body));
		ADD_LIT(fakeup.body, "<html>not json</html>");
		break;
	case MODE_CUT:
	case MODE_STALL:
		fakeup_fault_partial(req, p, b->mode == MODE_CUT);
		return;
	}
	fakeup_reply_json(req, p, 200, b->mode == MODE_TRUNCATE);
}

/* Keeps the first half of st->ev: a data line cut inside its JSON. */
static void fakeup_fault_halve(struct fakeup_sse *st)
{
	size_t half = evbuffer_get_length(st->ev) / 2;

	evbuffer_remove_buffer(st->ev, fakeup.body, half);
	evbuffer_drain(st->ev, evbuffer_get_length(st->ev));
	evbuffer_add_buffer(st->ev, fakeup.body);
}

void fakeup_fault_event(const struct fakeup_behaviour *b,
                        struct fakeup_sse *st, int step)
{
	int cut_at = st->tokens < TRUNCATE_TOKENS ? st->tokens
	                                          : TRUNCATE_TOKENS;

	switch (b->mode) {
	case MODE_STREAM_CLOSE:
		if (step == st->tokens / 2)
			st->after = AFTER_CUT;
		break;
	case MODE_TRUNCATE:
	case MODE_CUT:
		if (step == 1 + cut_at) {
			fakeup_fault_halve(st);
			st->after = AFTER_CUT;
		}
		break;
	case MODE_GARBAGE:
		if (step == 1) {
			evbuffer_drain(st->ev, evbuffer_get_length(st->ev));
			ADD_LIT(st->ev, "data: <html>not json</html>\n\n");
		}
		break;
	case MODE_STALL:
		if (step == cut_at)
			st->after = AFTER_STALL;
		break;
	}
}
