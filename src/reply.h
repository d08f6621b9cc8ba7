/*
 * reply -- the edge where a request's answer leaves ragd: whole JSON
 * replies and errors for any handler, and the streamed reply of a search
 * with its backpressure and its watch on the client's connection.
 *
 * Nothing here knows what a search is: the owner of a streamed reply hears
 * from it through three hooks (the client left, fell behind or caught up,
 * stalled).  Every JSON document ragd writes is printed here.
 */
#ifndef RAGD_REPLY_H
#define RAGD_REPLY_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "conn.h"

struct evhttp_request;
struct event;
struct event_base;

/* How every JSON document ragd writes prints numbers: compact, and reals
 * with 15 significant digits, the most a double always carries exactly, so
 * 9.9 prints as 9.9, not 9.9000000000000004. */
#define REPLY_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* The largest JSON reply: a body that would pass it is answered with a 500.
 * Every reply is built from bounded parts; this only keeps the bound. */
#define REPLY_MAX_JSON ((size_t)1 << 30)

/* Send a JSON reply and release body (a new reference is stolen).  A NULL
 * body (it could not be built) sends a JSON 500 instead. */
void reply_json(struct evhttp_request *req, int status, json_t *body);

/* Send {"error": {"code": code, "message": message}} with status. */
void reply_error(struct evhttp_request *req, int status, const char *code, const char *message);

/* Whether req's method is one of allowed; if not, answer 405 with an Allow
 * header (allow, e.g. "GET, POST") and a JSON error saying what to use. */
int reply_method_ok(struct evhttp_request *req, int allowed, const char *allow);

/* What a reply tells its owner.  Each runs on the loop thread, never from
 * inside a reply_* call of the owner's. */
typedef struct reply_hooks {
    /* The client closed its connection before the reply ended (why says
     * how).  The reply is then over: r->req is NULL. */
    void (*gone)(void *arg, const char *why);
    /* The client is more than max_output bytes behind (paused 1): stop
     * producing; return non-zero if anything was paused.  Then it caught up
     * (paused 0), called only after a 1 that returned non-zero. */
    int (*pause)(void *arg, int paused);
    /* Paused, the client read nothing for stall_ms (msg says so): the owner
     * should end the reply with an error. */
    void (*stalled)(void *arg, const char *msg);
} reply_hooks;

/* Where a collecting reply's document goes (body is a new reference the
 * callee owns; NULL when it could not be built). */
typedef void (*reply_collect_cb)(void *arg, int status, json_t *body);

/* One request's reply.  Embedded in its owner, which calls reply_release
 * once the reply has ended or its client left.  A reply either answers an
 * HTTP request or, set up by reply_init_collect, collects the document for
 * its owner instead (a batch item): the writers cannot tell the two apart. */
typedef struct reply {
    struct evhttp_request *req;   /* NULL once the reply ended or the client left */
    conn *conn;                   /* watched until the reply ends; NULL if untracked */
    struct event_base *base;
    size_t max_output;            /* unread bytes past which the producer is paused */
    long stall_ms;                /* how long a paused client may read nothing */
    const reply_hooks *hooks;
    void *arg;
    int paused;
    struct event *stall;          /* ends a reply whose client stays behind */
    reply_collect_cb collect;     /* a collecting reply not yet ended, or NULL */
    void *collect_arg;
} reply;

/* Set up r for req, which arrived on c (NULL when untracked), and watch c
 * so that a client leaving is noticed at once. */
void reply_init(reply *r, struct event_base *base, struct evhttp_request *req, conn *c,
                size_t max_output, long stall_ms, const reply_hooks *hooks, void *arg);

/* Set up r to hand its whole reply to collect(arg, status, body), once,
 * from inside the reply_send_json or reply_send_error that ends it.  It
 * watches no connection and takes no stream. */
void reply_init_collect(reply *r, struct event_base *base, reply_collect_cb collect, void *arg);

/* Whether r can still be written: not ended, and its client still there. */
int reply_open(const reply *r);

/* Send the whole reply (body stolen) and end it. */
void reply_send_json(reply *r, int status, json_t *body);

/* Send text (JSON, ended by a newline; taken, and emptied) as the whole
 * reply and end it.  Not for a collecting reply, which wants a tree. */
void reply_send_text(reply *r, int status, buf *text);

/* Send an error as the whole reply and end it. */
void reply_send_error(reply *r, int status, const char *code, const char *message);

/* Start a streamed reply: status 200 and Server-Sent Events headers. */
void reply_stream_start(reply *r);

/* Send len bytes of a streamed reply (nothing once it is over). */
void reply_stream_send(reply *r, const char *text, size_t len);

/* Send one SSE event (data stolen); event NULL sends a bare data line, as
 * OpenAI's stream format does.  An event that cannot be built becomes an
 * error event built from nothing that can fail. */
void reply_stream_event(reply *r, const char *event, json_t *data);

/* End a streamed reply. */
void reply_stream_end(reply *r);

/* Stop watching the connection, so its close cannot reach the owner. */
void reply_detach(reply *r);

/* Free what r holds (after it ended or its client left). */
void reply_release(reply *r);

#endif /* RAGD_REPLY_H */
